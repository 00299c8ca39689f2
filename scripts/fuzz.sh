#!/bin/bash
# fuzz.sh [SECONDS] [TARGET...]: build the libFuzzer targets (clang, ASan +
# UBSan) and run each for SECONDS (default 5) on a corpus seeded from the fake
# host specs. scripts/test.sh runs it for a few seconds; run it for long by hand:
#   scripts/fuzz.sh 600 procfs; scripts/fuzz.sh 600 config; scripts/fuzz.sh 600 owner
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-5}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(procfs config guest owner top)

build=$here/build-fuzz
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$here" -Dfuzz=true -Dtests=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false >&2
fi
meson compile -C "$build" >&2

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in "${targets[@]}"; do
	corpus=$build/corpus-$t
	mkdir -p "$corpus"
	"$here/tests/fuzz/seed-corpus.sh" "$t" "$corpus" >&2
	log=$build/fuzz-$t.log
	if ! "$build/tests/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
		-timeout=10 -artifact_prefix="$build/" "$corpus" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		echo "fuzz $t: FAILED (crash or leak; reproducer in $build)" >&2
		exit 1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	echo "fuzz $t: ${execs:-?} executions in ${seconds}s, no crash"
done
