# TAP helpers for the CLI tests: each test script sources this, makes fake
# hosts with mkhost and runs the real lxgpu binary against them.
set -u
: "${LXGPU:?set LXGPU to the lxgpu binary}" "${MKHOST:?}" "${HOSTS:?}"

# shellcheck source=../tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
TMP=$(mktemp -d /tmp/lxgpu-test.XXXXXX)
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT

# check DESC CMD...: passes when CMD succeeds
check() {
	local desc=$1 output; shift
	if output=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc"; printf '%s\n' "$output" | diag; fi
}

# todo WHY DESC ACTUAL EXPECTED: eq for a known lxgpu bug, a TAP TODO (meson
# counts its failure as expected, its pass as unexpected: then the fix is in
# and the test becomes an eq); an empty WHY is a plain eq
todo() {
	local why=$1 desc=$2
	if [ -z "$why" ]; then eq "$desc" "$3" "$4"; return; fi
	tap_n=$((tap_n + 1))
	if [ "$3" = "$4" ]; then
		echo "ok $tap_n - $desc # TODO $why"
	else
		echo "not ok $tap_n - $desc # TODO $why"
		printf 'got:      %s\nexpected: %s\n' "$3" "$4" | diag
	fi
}
# bail DESC: stop at once (a fake host that was not made must never become "")
bail() { not_ok "$1"; done_testing; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || skip_all "needs root (mknod for fake device nodes)"; }

# host NAME SPEC...: a fake host from specs in tests/hosts, prints its root.
# mkhost takes seconds; each spec list is built once into a cache keyed by
# the specs, mkhost and its helpers, and copied (cp -a keeps the nodes).
HOST_CACHE=${LXGPU_HOST_CACHE:-/tmp/lxgpu-host-cache}
host() {
	local name=$1 dir key cached; shift
	dir=$TMP/$name
	local specs=()
	for s in "$@"; do specs+=("$HOSTS/$s"); done
	key=$({ printf '%s\n' "$@"; cat "$HOSTS"/*.spec "$MKHOST" "$(dirname "$MKHOST")"/mk*; } |
		sha256sum | cut -c1-24)
	cached=$HOST_CACHE/$key
	if [ ! -d "$cached" ]; then
		mkdir -p "$HOST_CACHE"
		"$MKHOST" "${specs[@]}" "$cached.$$" >&2 || { rm -rf "$cached.$$"; echo "mkhost failed: $*" >&2; return 1; }
		# another test may have built it meanwhile: the first rename wins
		mv -T "$cached.$$" "$cached" 2>/dev/null || rm -rf "$cached.$$"
	fi
	cp -a "$cached" "$dir" || return 1
	echo "$dir"
}

# run ARGS...: runs lxgpu; sets $out, $err, $rc
run() {
	out=$("$LXGPU" "$@" 2>"$TMP/.stderr")
	rc=$?
	err=$(cat "$TMP/.stderr")
}
# jqr FILTER: jq -r over the last $out
jqr() { jq -r "$1" <<<"$out"; }
# one_line: stderr is exactly one line starting "lxgpu: "
one_line_error() {
	[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && case $err in "lxgpu: "*) true ;; *) false ;; esac
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
# undo_sha FILE before|after: the sha256 of one of the two configs in lxgpu's
# undo file (docs/lxgpu.1.in, FILES: a line "lxgpu-undo 2 B A HASH", then B
# bytes before, A bytes after); "torn" when the sizes do not add up
undo_sha() {
	local head b a _x size
	head=$(head -n 1 "$1" 2>/dev/null) || { echo missing; return; }
	read -r _x _x b a _x <<<"$head"
	size=$(stat -c %s "$1")
	case $head in "lxgpu-undo 2 "*) ;; *) echo torn; return ;; esac
	[ $((${#head} + 1 + b + a)) = "$size" ] || { echo torn; return; }
	if [ "$2" = before ]; then
		tail -c +$((${#head} + 2)) "$1" | head -c "$b" | sha256sum | cut -d' ' -f1
	else
		tail -c +$((${#head} + 2 + b)) "$1" | head -c "$a" | sha256sum | cut -d' ' -f1
	fi
}
# unchanged DESC FILE SHA: the file's bytes are what they were
unchanged() { eq "$1" "$(sha "$2")" "$3"; }
# sample NAME: a Proxmox config of tests/fixtures/pve (provenance in its README.md)
sample() { cat "$(dirname "${BASH_SOURCE[0]}")/../fixtures/pve/$1"; }

# The H100 capture (tests/hosts/h100-580.159.04.spec) as lxgpu attach gives it
# to a Proxmox CT in raw style, written by hand from tests/golden/README.md
# (rule 1), and a CT's main section without GPU lines: shared by attach.sh,
# attach-safety.sh and golden.sh.
H100_UUID=GPU-14d254be-3087-0aa8-a7aa-03759525cf2f
H100_BLOCK="lxc.environment: LXGPU_DEVICES=$H100_UUID
lxc.environment: LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no
lxc.environment: LXGPU_WROTE=c195:0,c195:255,c238:0,c238:1,/dev/nvidia0,/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-uvm-tools
lxc.cgroup2.devices.allow: c 195:0 rwm
lxc.cgroup2.devices.allow: c 195:255 rwm
lxc.cgroup2.devices.allow: c 238:0 rwm
lxc.cgroup2.devices.allow: c 238:1 rwm
lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file
lxc.mount.entry: /dev/nvidiactl dev/nvidiactl none bind,optional,create=file
lxc.mount.entry: /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file
lxc.mount.entry: /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file"
PVE_MAIN="arch: amd64
cores: 4
hostname: cuda
memory: 8192
ostype: debian
rootfs: local-lvm:vm-101-disk-0,size=32G
lxc.apparmor.profile: generated"
