#!/bin/bash
# pve-validate.sh ORACLE TREES [LXGPU]: runs lxgpu attach (raw style and
# --style dev) and detach on every Proxmox config test input and checks each
# result with Proxmox VE's own parser and writer. A developer tool: it needs
# the oracle, Proxmox's source trees, root (fake hosts have device nodes) and
# jq, so it does not run in CI.
#
#   ORACLE  (or env PVE_PARSE) a program that runs pve-container's
#           PVE::LXC::Config::parse_pct_config and write_pct_config, unmodified,
#           on a config file and prints JSON: `ORACLE --vmid 101 FILE`, with the
#           fields warnings, parse_error, roundtrip_stable, snapshots,
#           snapshot_lxc, pending, pending_keys, pending_lxc, pending_dev,
#           main_lxc ([key, value] pairs) and dev (devN -> value and parsed.path
#           or error). A .pl file runs with perl. It is not part of lxgpu (the
#           team keeps one, pve-parse.pl, with stubs for PVE::Cluster and
#           PVE::Storage that let the real modules load without pmxcfs).
#   TREES   (or env PVE_TREES) a directory with work trees of Proxmox's
#           repositories pve-container, pve-guest-common, pve-common,
#           pve-cluster and pve-storage; exported to the oracle as
#           PVE_CONTAINER_SRC, PVE_GUEST_COMMON_SRC, PVE_COMMON_SRC,
#           PVE_CLUSTER_SRC and PVE_STORAGE_SRC. Get them with
#             for r in pve-container pve-guest-common pve-common pve-cluster pve-storage; do
#                 git clone https://github.com/proxmox/$r "$TREES/$r"; done
#           master is Proxmox VE 9 (pve-container 6.1.x); for Proxmox VE 8
#           check out pve-container and pve-common at branch stable-bookworm
#           (5.3.5, 8.3.8), pve-cluster at stable-bookworm, pve-storage at
#           stable-8 and pve-guest-common at its 5.2.2 release ("bump version
#           to 5.2.2"). The Perl modules they use are Debian packages
#           (libpve-common-perl's dependencies: libjson-perl, libanyevent-perl,
#           libnet-ip-perl, libuuid-perl and the like).
#   LXGPU   (or env LXGPU) the binary (default build/lxgpu)
#   JOBS    (env) parallel parser runs (default: the number of CPUs)
#
# Inputs: tests/golden/pve/*.conf and tests/fixtures/pve/*.conf.
# Operations on each, on a fresh H100 Proxmox fake host: raw (attach), dev
# (attach --style dev), detach (detach of the input), raw+detach (detach
# after raw). For each result Proxmox's parser must give:
#   - no warning that the input did not already give;
#   - no parse error, and roundtrip_stable true where the input's is (Proxmox
#     itself does not round-trip a `description:` line or empty `#` lines);
#   - snapshots, their lxc lines, and [pve:pending] (keys, lxc, devN) as in the
#     input: GPU lines never go there;
#   - raw: each of the 11 lines of lxgpu's block (LXGPU_DEVICES, _REQUEST,
#     _WROTE, 4 rules, 4 mounts) once in main_lxc; dev: the LXGPU_DEVICES record in
#     main_lxc, none of the block's other lines, and a devN (main section) for
#     each of /dev/nvidia0, nvidiactl, nvidia-uvm, nvidia-uvm-tools; detach
#     (of the input): the main lxc lines as they were but the LXGPU_* records
#     (lxgpu removes only its own lines); raw+detach: none of the block's
#     lines and no LXGPU_* record;
#   - every devN parses (no error that the input did not already have).
# An operation that lxgpu refuses (exit 1) is reported as refused, not checked.
# Prints one line per input file and a summary; exits 1 when a check failed,
# 2 when it could not run.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PVE_PARSE=${1:-${PVE_PARSE:-}}
PVE_TREES=${2:-${PVE_TREES:-}}
LXGPU=${3:-${LXGPU:-$ROOT/build/lxgpu}}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

usage() { echo "pve-validate: $* (usage: $0 ORACLE TREES [LXGPU]; see its header)" >&2; exit 2; }
[ -f "$PVE_PARSE" ] || usage "ORACLE: no parser program given or found (${PVE_PARSE:-none})"
[ -n "$PVE_TREES" ] || usage "TREES: no directory of Proxmox work trees given"
for r in pve-container pve-guest-common pve-common pve-cluster pve-storage; do
	[ -d "$PVE_TREES/$r/src/PVE" ] || usage "$PVE_TREES/$r is no work tree of proxmox/$r (no src/PVE)"
done
PVE_TREES=$(cd "$PVE_TREES" && pwd)
export PVE_CONTAINER_SRC=$PVE_TREES/pve-container PVE_GUEST_COMMON_SRC=$PVE_TREES/pve-guest-common \
	PVE_COMMON_SRC=$PVE_TREES/pve-common PVE_CLUSTER_SRC=$PVE_TREES/pve-cluster \
	PVE_STORAGE_SRC=$PVE_TREES/pve-storage
case $PVE_PARSE in
*.pl) ORACLE=(perl "$PVE_PARSE") ;;
*) ORACLE=("$PVE_PARSE") ;;
esac
[ -x "$LXGPU" ] || { echo "pve-validate: $LXGPU is not an executable (pass LXGPU)" >&2; exit 2; }
command -v jq >/dev/null || { echo "pve-validate: needs jq" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "pve-validate: needs root (mknod for the fake host)" >&2; exit 2; }
echo "pve-validate: pve-container $(sed -n '1s/.*(\([^)]*\)).*/\1/p' "$PVE_CONTAINER_SRC/debian/changelog") from $PVE_TREES, oracle $PVE_PARSE"

WORK=$(mktemp -d /tmp/pve-validate.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$ROOT/scripts/mkhost" "$ROOT/tests/hosts/h100-580.159.04.spec" "$ROOT/tests/hosts/pve.spec" \
	"$WORK/template" >/dev/null || exit 2

UUID=GPU-14d254be-3087-0aa8-a7aa-03759525cf2f
NODES='["/dev/nvidia0","/dev/nvidiactl","/dev/nvidia-uvm","/dev/nvidia-uvm-tools"]'
BLOCK=$(jq -nc --arg u "$UUID" '[
	["lxc.environment", "LXGPU_DEVICES=\($u)"],
	["lxc.environment", "LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no"],
	["lxc.environment", "LXGPU_WROTE=c195:0,c195:255,c238:0,c238:1,/dev/nvidia0,/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-uvm-tools"],
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
add_input() { # LABEL FILE
	n=$((n + 1))
	local d
	d=$WORK/in/$(printf %04d $n)
	mkdir -p "$d"
	echo "$1" >"$d/label"
	cat "$2" >"$d/input.conf"
}
for f in "$ROOT"/tests/golden/pve/*.conf; do add_input "golden/${f##*/}" "$f"; done
for f in "$ROOT"/tests/fixtures/pve/*.conf; do
	add_input "fixtures/${f#"$ROOT"/tests/fixtures/pve/}" "$f"
done

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
# shellcheck disable=SC2016 # sh -c's own arguments
find "$WORK/in" -name '*.conf' -print0 |
	xargs -0 -P "$JOBS" -I{} sh -c 'f=$1; shift; "$@" --vmid 101 "$f" >"$f.json" 2>"$f.stderr"; echo $? >"$f.prc"' \
		sh {} "${ORACLE[@]}"

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
	(if $O.roundtrip_stable == true or $I.roundtrip_stable != true then empty else "roundtrip not stable" end),
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
	 elif $op == "detach" then
		# detach of the input removes only the lines of lxgpu (docs/ownership.md):
		# without a record, the main lxc lines but LXGPU_* ones stay as they were
		# (with one, which are its own is tests/cli/golden.sh to check)
		(if ([($I.main_lxc // [])[] | select(.[1] | startswith("LXGPU_DEVICES="))] | length) > 0 or
		    [($O.main_lxc // [])[] | select(.[1] | startswith("LXGPU_") | not)] ==
		    [($I.main_lxc // [])[] | select(.[1] | startswith("LXGPU_") | not)]
		 then empty else "detach changed lines lxgpu did not write" end),
		(($O.main_lxc // [])[] | select(.[1] | startswith("LXGPU_")) | "main_lxc still has \(tostring)")
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
echo "pve-validate: $files files, $passed passed, $failed failed; $checked_ops results checked with Proxmox's parser (pve-container $(sed -n '1s/.*(\([^)]*\)).*/\1/p' "$PVE_CONTAINER_SRC/debian/changelog")), $refused_ops operations refused by lxgpu"
[ "$failed" -eq 0 ]
