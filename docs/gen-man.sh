#!/bin/sh
# gen-man.sh LXGPU IN OUT VERSION: lxgpu(1) from the hand-written IN, with
# the COMMANDS and OPTIONS sections that lxgpu prints from its command table.
set -eu
lxgpu=$1 in=$2 out=$3 version=$4
generated=$(mktemp)
trap 'rm -f "$generated"' EXIT
"$lxgpu" __man >"$generated"
# the placeholder line becomes the generated sections; @VERSION@ the version
awk -v gen="$generated" -v version="$version" '
	$0 == "@COMMANDS_AND_OPTIONS@" { while ((getline l < gen) > 0) print l; next }
	{ gsub(/@VERSION@/, version); print }
' "$in" >"$out.tmp"
mv "$out.tmp" "$out"
