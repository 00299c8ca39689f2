#!/bin/bash
# seed-corpus.sh OUTDIR: the fuzz corpus for fuzz_procfs, made from the fake
# host specs (tests/hosts/*.spec): every file body, prefixed with a byte whose
# value modulo 10 selects the parser for its path (see fuzz_procfs.c).
set -euo pipefail
here=$(cd "$(dirname "$0")/../hosts" && pwd)
out=$1
mkdir -p "$out"
n=0
for spec in "$here"/*.spec; do
	awk -v out="$out" -v base="$(basename "$spec" .spec)" '
	function sel(p) {
		if (p ~ /information$/) return 0
		if (p ~ /nvidia\/version$/) return 1
		if (p ~ /\/proc\/devices$/) return 2
		if (p ~ /capabilities\//) return 3
		if (p ~ /mig-minors$/) return 4
		if (p ~ /modprobe|cmdline/) return 5
		if (p ~ /\/dev$|\/vendor$|\/class$|\/device$/) return 6
		return 8
	}
	/^file / && /<</ { path = $2; tag = $NF; sub(/^<</, "", tag); body = ""; inbody = 1; next }
	inbody && $0 == tag {
		inbody = 0; f = sprintf("%s/%s-%d", out, base, NR)
		printf "%c%s", sel(path) + 50, body > f; close(f); next
	}
	inbody { body = body $0 "\n"; next }
	/^line / { p = $2; $1 = ""; $2 = ""; sub(/^  /, ""); f = sprintf("%s/%s-%d", out, base, NR)
		printf "%c%s\n", sel(p) + 50, $0 > f; close(f) }
	' "$spec"
	n=$((n + 1))
done
echo "seed-corpus: $(ls "$out" | wc -l) inputs from $n specs"
