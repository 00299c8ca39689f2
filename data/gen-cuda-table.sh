#!/bin/sh
# gen-cuda-table.sh TSV OUT.c: the C table of data/cuda-drivers.tsv (see src/util/version.h).
set -eu
awk -F '\t' '
BEGIN {
	print "/* Generated from data/cuda-drivers.tsv by data/gen-cuda-table.sh: do not edit. */"
	print "#include \"util/version.h\""
	print ""
	print "const struct cuda_row cuda_rows[] = {"
}
/^#/ || NF == 0 { next }
NF != 4 { printf "gen-cuda-table: line %d: want 4 tab-separated fields\n", NR > "/dev/stderr"; bad = 1; exit 1 }
{
	nt = split($1, t, ".")
	nd = split($3, d, ".")
	if (nt < 2 || nd < 2 || t[1] !~ /^[0-9]+$/ || t[2] !~ /^[0-9]+$/) {
		printf "gen-cuda-table: line %d: bad version\n", NR > "/dev/stderr"; bad = 1; exit 1
	}
	rel = ($2 == "-") ? "" : $2
	printf "\t{ %d, %d, \"%s\", \"%s\", \"%s\", { { %d, %d, %d }, %d } },\n", \
		t[1], t[2], $1, rel, $3, d[1], d[2], (nd > 2 ? d[3] : 0), nd
	n++
}
END {
	if (bad) exit 1
	print "};"
	printf "const size_t cuda_nrows = %d;\n", n
}' "$1" > "$2"
