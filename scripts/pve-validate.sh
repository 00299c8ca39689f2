#!/bin/bash
# pve-validate.sh [PVE_PARSE [LXGPU]]: runs lxgpu attach (raw style and
# --style dev) and detach on every Proxmox config test input and checks each
# result with Proxmox VE's own parser/writer (../shared/pve-validate, set up
# as a command that prints JSON). A developer tool: it needs that command, root
# (fake hosts have device nodes) and jq, so it cannot run in CI.
#
#   PVE_PARSE  the parser command (default /work/pve-oracle/pve-parse)
#   LXGPU      the binary (default build/lxgpu)
#   SHARED     the shared directory (default ../shared beside the repository)
#   JOBS       parallel parser runs (default: the number of CPUs)
#
# Inputs: tests/golden/pve/*.conf, ../shared/ref/pve-samples/*.conf (line 1
# stripped) and ../shared/ref/pve-upstream-samples/*.conf. Operations on each,
# on a fresh H100 Proxmox fake host: raw (attach), dev (attach --style dev),
# detach (detach of the input), raw+detach (detach after raw). For each result
# Proxmox's parser must give:
#   - no warning that the input did not already give;
#   - roundtrip_stable true and no parse error;
#   - snapshots, their lxc lines, and [pve:pending] (keys, lxc, devN) as in the
#     input: GPU lines never go there;
#   - raw: each of the 10 lines of lxgpu's block (LXGPU_DEVICES, LXGPU_RULES,
#     4 rules, 4 mounts) once in main_lxc; dev: the LXGPU_DEVICES record in
#     main_lxc, none of the block's other lines, and a devN (main section) for
#     each of /dev/nvidia0, nvidiactl, nvidia-uvm, nvidia-uvm-tools; detach:
#     none of them, and no LXGPU_* record;
#   - every devN parses (no error that the input did not already have).
# An operation that lxgpu refuses (exit 1) is reported as refused, not checked.
# Prints one line per input file and a summary; exits 1 when a check failed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PVE_PARSE=${1:-${PVE_PARSE:-/work/pve-oracle/pve-parse}}
LXGPU=${2:-${LXGPU:-$ROOT/build/lxgpu}}
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

if [ ! -x "$PVE_PARSE" ] && ! command -v "$PVE_PARSE" >/dev/null 2>&1; then
	echo "pve-validate: SKIP: Proxmox parser $PVE_PARSE not found (set PVE_PARSE; see ../shared/pve-validate/README.md)"
	exit 0
fi
[ -x "$LXGPU" ] || { echo "pve-validate: $LXGPU is not an executable (pass LXGPU)" >&2; exit 2; }
command -v jq >/dev/null || { echo "pve-validate: needs jq" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "pve-validate: needs root (mknod for the fake host)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/pve-validate.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$ROOT/scripts/mkhost" "$ROOT/tests/hosts/h100-580.159.04.spec" "$ROOT/tests/hosts/pve.spec" \
	"$WORK/template" >/dev/null || exit 2

UUID=GPU-14d254be-3087-0aa8-a7aa-03759525cf2f
NODES='["/dev/nvidia0","/dev/nvidiactl","/dev/nvidia-uvm","/dev/nvidia-uvm-tools"]'
BLOCK=$(jq -nc --arg u "$UUID" '[
	["lxc.environment", "LXGPU_DEVICES=\($u)"],
	["lxc.environment", "LXGPU_RULES=195:0,195:255,238:0,238:1"],
	["lxc.cgroup2.devices.allow", "c 195:0 rwm"],
	["lxc.cgroup2.devices.allow", "c 195:255 rwm"],
	["lxc.cgroup2.devices.allow", "c 238:0 rwm"],
	["lxc.cgroup2.devices.allow", "c 238:1 rwm"],
	["lxc.mount.entry", "/dev/nvidia0 dev/nvidia0 none bind,optional,create=file"],
	["lxc.mount.entry", "/dev/nvidiactl dev/nvidiactl none bind,optional,create=file"],
	["lxc.mount.entry", "/dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file"],
	["lxc.mount.entry", "/dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file"]]')

echo "pve-validate: [$(date +%T)] 1. lxgpu on every input, each operation on a fresh copy of the host" >&2
# --- 1. lxgpu on every input, each operation on a fresh copy of the host
n=0
add_input() { # LABEL FILE [strip]
	n=$((n + 1))
	local d=$WORK/in/$(printf %04d $n)
	mkdir -p "$d"
	echo "$1" >"$d/label"
	if [ "${3:-}" = strip ]; then sed 1d "$2" >"$d/input.conf"; else cat "$2" >"$d/input.conf"; fi
}
for f in "$ROOT"/tests/golden/pve/*.conf; do add_input "golden/${f##*/}" "$f"; done
if [ -d "$SHARED/ref" ]; then
	for f in "$SHARED"/ref/pve-samples/*.conf; do add_input "pve-samples/${f##*/}" "$f" strip; done
	for f in "$SHARED"/ref/pve-upstream-samples/*.conf; do add_input "upstream/${f##*/}" "$f"; done
else
	echo "pve-validate: $SHARED/ref not found: golden inputs only"
fi

lxgpu_op() { # DIR OP FROM ARGS...
	local d=$1 op=$2 from=$3 h=$WORK/host
	shift 3
	rm -rf "$h"
	cp -a "$WORK/template" "$h"
	cp "$d/$from" "$h/etc/pve/lxc/101.conf"
	"$LXGPU" --sysroot "$h" "$@" 101 >/dev/null 2>"$d/$op.err"
	echo $? >"$d/$op.rc"
	cp "$h/etc/pve/lxc/101.conf" "$d/$op.conf"
}
for d in "$WORK"/in/*; do
	lxgpu_op "$d" raw input.conf attach
	lxgpu_op "$d" dev input.conf attach --style dev
	lxgpu_op "$d" detach input.conf detach
	lxgpu_op "$d" raw+detach raw.conf detach
done

echo "pve-validate: [$(date +%T)] 2. Proxmox's parser on every input and result" >&2
# --- 2. Proxmox's parser on every input and result
find "$WORK/in" -name '*.conf' -print0 |
	xargs -0 -P "$JOBS" -I{} sh -c '"$1" --vmid 101 "$2" >"$2.json" 2>"$2.stderr"; echo $? >"$2.prc"' \
		sh "$PVE_PARSE" {}

echo "pve-validate: [$(date +%T)] 3. checks" >&2
# --- 3. checks
# problems INPUT.json OUTPUT.json OP: prints one problem a line, nothing when all is well
problems() {
	jq -r -n --slurpfile i "$1" --slurpfile o "$2" --arg op "$3" \
		--argjson block "$BLOCK" --argjson nodes "$NODES" '
	$i[0] as $I | $o[0] as $O |
	def devpaths: [($O.dev // {})[] | .parsed.path? // empty];
	def count($p): [($O.main_lxc // [])[] | select(. == $p)] | length;
	(if $O.parse_error then "parse error: \($O.parse_error)" else empty end),
	(($O.warnings - $I.warnings)[] | "new warning: \(gsub("\n"; " "))"),
	(if $O.roundtrip_stable == true then empty else "roundtrip not stable" end),
	(if ($I.snapshots // []) == ($O.snapshots // []) then empty else "snapshots changed" end),
	(if ($I.snapshot_lxc // {}) == ($O.snapshot_lxc // {}) then empty else "snapshot lxc lines changed" end),
	(if [$I.pending, $I.pending_keys, $I.pending_lxc, $I.pending_dev] ==
	    [$O.pending, $O.pending_keys, $O.pending_lxc, $O.pending_dev]
	 then empty else "[pve:pending] changed" end),
	(([($O.dev // {})[] | select(.error) | .value] - [($I.dev // {})[] | select(.error) | .value])[]
	 | "devN does not parse: \(.)"),
	(if $op == "raw" then
		($block[] | select(count(.) != 1) | "main_lxc has \(tostring) \(count(.)) times, want 1")
	 elif $op == "dev" then
		(if count($block[0]) == 1 then empty else "main_lxc lacks the LXGPU_DEVICES record" end),
		($block[1:][] | select(count(.) > 0) | "raw line \(tostring) with --style dev"),
		($nodes[] as $p | select([devpaths[] | select(. == $p)] | length != 1)
		 | "\($p): \([devpaths[] | select(. == $p)] | length) devN in the main section, want 1")
	 else
		($block[] | select(count(.) > 0) | "main_lxc still has \(tostring)"),
		(($O.main_lxc // [])[] | select(.[1] | startswith("LXGPU_")) | "main_lxc still has \(tostring)"),
		($nodes[] as $p | select(devpaths | index([$p])) | "devN for \($p) left")
	 end)'
}

files=0 passed=0 failed=0 refused_ops=0 checked_ops=0
for d in "$WORK"/in/*; do
	files=$((files + 1))
	label=$(cat "$d/label")
	bad=() refused=() why=
	if [ "$(cat "$d/input.conf.prc")" != 0 ] && [ "$(cat "$d/input.conf.prc")" != 2 ]; then
		bad+=("input: parser exit $(cat "$d/input.conf.prc"): $(head -c 200 "$d/input.conf.stderr")")
	fi
	for op in raw dev detach raw+detach; do
		[ "$op" = raw+detach ] && [ "$(cat "$d/raw.rc")" != 0 ] && continue
		if [ "$(cat "$d/$op.rc")" != 0 ]; then
			refused_ops=$((refused_ops + 1))
			refused+=("$op")
			[ -n "$why" ] || why=$(head -n1 "$d/$op.err" | sed 's/^lxgpu: //; s/: wait for it.*//')
			continue
		fi
		checked_ops=$((checked_ops + 1))
		if [ ! -s "$d/$op.conf.json" ]; then
			bad+=("$op: no parser output: $(head -c 200 "$d/$op.conf.stderr")")
			continue
		fi
		while IFS= read -r p; do
			[ -n "$p" ] && bad+=("$op: $p")
		done < <(problems "$d/input.conf.json" "$d/$op.conf.json" "$op")
	done
	if [ ${#bad[@]} -gt 0 ]; then
		failed=$((failed + 1))
		line="FAIL $label: $(printf '%s; ' "${bad[@]}")"
	else
		passed=$((passed + 1))
		line="ok   $label"
	fi
	line=${line%; }
	if [ ${#refused[@]} -gt 0 ]; then
		line="$line  [refused by lxgpu: ${refused[*]}: $why"
		jq -e '(.warnings | length) == 0 and .main_keys.lock == null' "$d/input.conf.json" >/dev/null 2>&1 &&
			line="$line; Proxmox reads the input without a warning or lock"
		line="$line]"
	fi
	echo "$line"
done
echo "pve-validate: $files files, $passed passed, $failed failed; $checked_ops results checked with $PVE_PARSE, $refused_ops operations refused by lxgpu"
[ "$failed" -eq 0 ]
