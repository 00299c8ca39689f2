#!/bin/bash
# seed-corpus.sh TARGET OUTDIR: a fuzz corpus from the project's fixtures.
# procfs: every file body of the fake host specs (tests/hosts/*.spec), prefixed
# with a byte whose value modulo 10 selects the parser for its path (see
# fuzz_procfs.c). owner: the golden and fixture configs with host and request
# bytes (fuzz_owner.c). config: the container configs of tests/golden and
# tests/fixtures/pve, prefixed with the byte that selects format and style.
set -euo pipefail
here=$(cd "$(dirname "$0")/../hosts" && pwd)
target=$1
out=$2
mkdir -p "$out"
if [ "$target" = guest ]; then
	# the formats of src/guest/cuda.c and src/check/doctor.c, as their owners write them
	printf '\000Package: cuda-toolkit-12-4\nStatus: install ok installed\nVersion: 12.4.1-1\n\nPackage: libcudnn8\nStatus: install ok installed\nVersion: 8.9.7.29-1+cuda12.2\n' >"$out/dpkg"
	printf '\001{ "cuda" : { "name" : "CUDA SDK", "version" : "12.4.1" }, "cuda_cccl" : { "version" : "12.4.127" } }' >"$out/version-json"
	printf '\001CUDA Version 10.2.89\n' >"$out/version-txt"
	printf '\002#define CUDNN_MAJOR 9\n#define CUDNN_MINOR 1\n#define CUDNN_PATCHLEVEL 0\n' >"$out/cudnn-h"
	printf '\003libcudnn9-cuda-12\t9.1.0.70-1' >"$out/pkg-cudnn"
	printf '\003cuda-cudart-12-4\t12.4.127-1' >"$out/pkg-cudart"
	printf '\004torch-2.5.1+cu124.dist-info' >"$out/wheel-torch"
	printf '\004nvidia_cudnn_cu12-9.1.0.70.dist-info' >"$out/wheel-cudnn"
	printf '\005[nvidia-container-cli]\nno-cgroups = true\nldconfig = "@/sbin/ldconfig"\n' >"$out/toml"
	printf '\005Failed to initialize NVML: Driver/library version mismatch' >"$out/explain"
	echo "seed-corpus: 10 inputs"
	exit 0
fi
if [ "$target" = top ]; then
	# lxgpu top's fixtures (tests/fixtures/top): cgroup lines, status, cmdline, fdinfo
	top=$here/../fixtures/top
	n=0
	while IFS=$'\t' read -r pid _ _ _ cg nspid cmd _; do
		printf '\000%b\n' "$cg" >"$out/cgroup-$pid"
		printf '\001Name:\tx\nNSpid:\t%s\n' "${nspid// /$'\t'}" >"$out/status-$pid"
		printf '\002%s' "${cmd//|/ }" | tr ' ' '\0' >"$out/cmdline-$pid"
		n=$((n + 3))
	done < <(cat "$top"/*/procs.tsv | grep -v '^#')
	for f in "$top"/*/fdinfo/*; do
		{ printf '\003'; cat "$f"; } >"$out/fdinfo-$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"
		n=$((n + 1))
	done
	echo "seed-corpus: $n inputs"
	exit 0
fi
if [ "$target" = owner ]; then
	# the configs of tests/golden on every test host (byte 0: host * 2, +1 for
	# plain LXC), each with two request seeds (bytes 1 to 3; fuzz_owner.c)
	n=0
	for f in "$here"/../golden/pve/*.conf "$here"/../golden/pve/*.attached \
		"$here"/../fixtures/pve/*.conf; do
		[ -f "$f" ] || continue
		for host in 0 2 4 6 8; do
			for seed in 1 2; do
				{ printf "\\$(printf %o "$host")\\000\\000\\$(printf %o "$seed")"; cat "$f"; } \
					>"$out/$n-$(basename "$f")-$host-$seed"
			done
		done
		n=$((n + 1))
	done
	printf '\001\000\000\001lxc.include = /usr/share/lxc/config/common.conf\nlxc.cgroup2.devices.allow = c 226:* rwm\n' >"$out/lxc-min"
	echo "seed-corpus: $n configs"
	exit 0
fi
if [ "$target" = config ]; then
	n=0
	for f in "$here"/../golden/*/*.conf "$here"/../fixtures/pve/*.conf; do
		[ -f "$f" ] || continue
		for sel in 0 2; do
			# numbered: golden and the fixtures share some names
			{ printf "\\$(printf %o $((48 + sel)))"; cat "$f"; } >"$out/$n-$(basename "$f")-$sel"
		done
		n=$((n + 1))
	done
	printf '\061lxc.net.0.type = empty\nlxc.rootfs.path = dir:/x\n' >"$out/lxc-min"
	echo "seed-corpus: $n configs"
	exit 0
fi
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
