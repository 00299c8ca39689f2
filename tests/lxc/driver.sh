#!/bin/bash
# lxgpu driver (bind, copy, install) and check against real LXC containers (TAP).
#
#   bind:    a fake host with driver A (580.159.04: the stand-ins of
#            tests/hosts/h100-580.159.04.spec, section driver-files, and its
#            ld.so.cache) and two fake GPUs (two-fake-gpus.spec). `driver
#            --mode bind` adds lxgpu's lxc.hook.mount line; LXC runs it at
#            start and the container sees A's files, read-only, at their
#            SONAMEs. The fake host then moves to B (590.48.01: A's files
#            removed, B's written, a new ld.so.cache, /proc/driver/nvidia/version
#            says B); `check` sees the running container drift; a restart, with
#            no lxgpu run, shows B. An unprivileged container (the hook runs as
#            host uid 100000) gets B in usr/lib64 (no /etc/debian_version).
#   copy:    into the running bind-mode container: the hook line goes, the
#            copies replace the bound files at once (the kernel detaches binds
#            on a file renamed over); into the stopped unprivileged one: files
#            owned by its root; into a running plain container: `check` exit 0,
#            then its libnvidia-ml.so.1 made another version: exit 3, both
#            versions and the fix named; copy again repairs it.
#   install: a fake NVIDIA-Linux-x86_64-A.run (a sh script that prints an
#            option list for --advanced-options, else records its arguments in
#            /tmp/installer-args, writes A's libnvidia-ml and libcuda and
#            /var/log/nvidia-installer.log, and exits with /tmp/installer-exit)
#            run by `driver --mode install` in that running container: the
#            arguments, the host's log, the pushed file gone; then a failing
#            installer, the spelling --no-kernel-modules, neither spelling, the
#            wrong version installed, a stopped container.
#
# How lxgpu sees the testbed. Containers come from testbed.sh (beside this
# file) in WORKDIR/lxc. For attach, bind, copy and check lxgpu runs as
# `lxgpu --sysroot FAKE --lxcpath WORKDIR/lxc` in a private mount namespace in
# which WORKDIR/lxc is bind-mounted at FAKE/WORKDIR/lxc: the configs LXC starts
# and their lxc.rootfs.path are where a real host has them, and a copy of
# /proc/net/unix written to FAKE/proc/net/unix before each run holds LXC's
# command socket "@WORKDIR/lxc/NAME/command", so lxgpu sees which containers
# run. (attach.sh binds WORKDIR/lxc at FAKE/var/lib/lxc instead; lxc.rootfs.path
# and the socket name would not match there.) install runs lxc-attach -P
# LXCPATH, so it runs without --sysroot (--lxcpath WORKDIR/lxc) in a private
# mount namespace where a temp dir holding nvidia/version (driver A) is bound on
# /proc/driver and temp dirs on /var/log and /var/lib (its log and config
# backup land there, not on this machine). Commands run in the containers by
# lxc-attach -P WORKDIR/lxc directly (it works outside the testbed's namespace,
# as testbed.sh says, and spares a bash for each call), several
# facts a call.
#
# Needs root, lxc, busybox-static, uidmap and python3 (mkhost's ldcache);
# skips (1..0 # SKIP) without them, when a driver owns major 195 or 238 here,
# or when /dev/nvidia* exists already. Shares lib.sh's lock and node list
# in /run. Removes its containers, device nodes and temp dirs on exit.
# shellcheck disable=SC2016 # single-quoted scripts expand inside the container or sh -c
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SPEC=$HOSTS/two-fake-gpus.spec
DRIVER_SPEC=$HOSTS/h100-580.159.04.spec
NODES="nvidia0 nvidia1 nvidiactl nvidia-uvm nvidia-uvm-tools" # as in $SPEC
A=580.159.04 # the spec's driver
B=590.48.01  # the fake host's driver after its update
C=570.86.10  # a third version: "another driver in the container"
PRIV=lxgpu-drv-priv
UNPRIV=lxgpu-drv-unpriv
COPY=lxgpu-drv-copy
DEB=/usr/lib/x86_64-linux-gnu

# same_file DESC EXPECTED ACTUAL: the two files are byte-identical
same_file() {
	if cmp -s "$2" "$3"; then ok "$1"; else
		not_ok "$1"
		diff "$2" "$3" | diag
	fi
}

# ---------------------------------------------------------------- skips ----
lxc_need_root
lxc_skips unshare setpriv
command -v python3 >/dev/null || skip_all "python3 not installed (mkhost writes the ld.so.cache with it)"
command -v jq >/dev/null || skip_all "jq not installed"
lxc_skip_if_majors 195 238
[ -d /proc/driver ] || skip_all "no /proc/driver to cover with the fake driver version (install)"
lxc_lock
lxc_skip_if_nvidia_nodes

# -------------------------------------------------------------- cleanup ----
t0=$(date +%s%N)
lxc_tmp lxgpu-lxc-drv
lxc_traps lxc_cleanup

# ---------------------------------------------------------------- setup ----
# the spec's driver section is driver A; B: the same files renamed, A's removed
driver_host "$A" "$B"

lxgpu_for_ct_root
LXGPU_ABS=$(readlink -f "$LXGPU")
FAKE_ABS=$(cd "$FAKE" && pwd -P)
eq "uid 100000 reads the fake host's driver files and ld.so.cache" \
	"$(setpriv --reuid 100000 --regid 100000 --clear-groups -- \
		cat "$FAKE/usr/local/nvidia/lib64/libcuda.so.$A" "$FAKE/etc/ld.so.cache" 2>&1 | head -n 1)" \
	"stand-in for libcuda.so.$A"

# shellcheck disable=SC2086 # NODES: a list of names
lxc_make_nodes "$FAKE" $NODES

lx() { lx_fake "$@"; }
# lx_host ARGS...: lxgpu on this machine (no --sysroot), --lxcpath W/lxc, with
# $TMP/proc-driver on /proc/driver and $TMP/var-log, $TMP/var-lib on /var/log, /var/lib
lx_host() {
	out=$(unshare -m --propagation private -- sh -c \
		'mount --bind "$1" /proc/driver && mount --bind "$2" /var/log && mount --bind "$3" /var/lib ||
			exit 99; shift 3; exec "$@"' \
		sh "$TMP/proc-driver" "$TMP/var-log" "$TMP/var-lib" "$LXGPU" --lxcpath "$W/lxc" "$@" 2>"$TMP/stderr")
	rc=$?
	err=$(cat "$TMP/stderr")
}
one_line_error() { # DESC: stderr is one line "lxgpu: ..."
	if [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [ "${err#lxgpu: }" != "$err" ]; then ok "$1"; else
		not_ok "$1"
		printf '%s\n' "$err" | diag
	fi
}
# create NAME priv|unpriv [debian]: a busybox container with library dirs of
# its own (the busybox template binds this machine's /lib, /usr/lib, /lib64
# and /usr/lib64 read-only over them; busybox is static, so those lines go);
# debian: with /etc/debian_version
create() {
	tb create "$W" "$1" "$2" >/dev/null || { tail -n 20 "$TMP/testbed.log" | diag; bail "lxc-create $1 failed"; }
	sed -i -E '\|^lxc\.mount\.entry = /(usr/)?lib(64)? |d' "$W/lxc/$1/config"
	! grep -E '^lxc\.mount\.entry = /(usr/)?lib' "$W/lxc/$1/config" || bail "$1: this machine's library dirs still bound"
	if [ "${3:-}" = debian ]; then
		echo 12.9 >"$W/lxc/$1/rootfs/etc/debian_version"
		[ "$2" = priv ] || chown 100000:100000 "$W/lxc/$1/rootfs/etc/debian_version"
	fi
}
# inside NAME SCRIPT: sh -c SCRIPT in the container, its stderr with its stdout
inside() { lxc-attach -P "$W/lxc" -n "$1" -- /bin/sh -c "exec 2>&1; $2"; }
# snap NAME LIBDIR VERSION: what a process in the container finds, a line each:
# libcuda.so.1, libnvidia-ml.so.1 and /usr/bin/nvidia-smi as "NAME -> LINK:
# TEXT; W" (W: "writable", else why opening it to append fails: that writes
# nothing), the libcuda.so link, and "binds: N, M": N mounts on files in
# LIBDIR, M of them read-only with VERSION at the end of their name
snap() {
	lxc-attach -P "$W/lxc" -n "$1" -- /bin/sh -s "$2" "$3" 2>&1 <<'SH'
d=$1 v=$2
for p in "$d/libcuda.so.1" "$d/libnvidia-ml.so.1" /usr/bin/nvidia-smi; do
	w=$( (: >>"$p") 2>&1) && w=writable
	printf '%s -> %s: %s; %s\n' "${p##*/}" "$(readlink "$p")" "$(cat "$p" 2>&1)" "${w##*: }"
done
echo "libcuda.so -> $(readlink "$d/libcuda.so")"
awk -v d="$d/" -v v="$v" 'index($5, d) == 1 {
		n++
		if (substr($5, length($5) - length(v)) == "." v && $6 ~ /^ro(,|$)/) m++
	}
	END { printf "binds: %d, %d\n", n, m }' /proc/self/mountinfo
SH
}
# binds_ok DESC LINE: "binds: N, N" with N >= 2
binds_ok() {
	if [[ $2 =~ ^binds:\ ([0-9]+),\ ([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 2 ] &&
		[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
		ok "$1 ($2)"
	else
		not_ok "$1"
		echo "$2" | diag
	fi
}

# ------------------------------------------------- bind, privileged ----
echo "# bind mode, privileged container $PRIV, fake host driver $A"
SMI_A=$(cat "$FAKE/usr/local/nvidia/bin/nvidia-smi")
contains "fake host: nvidia-smi is $A's stand-in" "$SMI_A" "stand-in for nvidia-smi $A"
create "$PRIV" priv debian
# with_driver MODE FILE: FILE with driver=MODE in lxgpu's request
with_driver() { sed -E "s/^(lxc.environment = LXGPU_REQUEST=[^,]*(,style=[a-z]+)(,rules=[a-z]+)(,guard=[a-z]+)).*/\1,driver=$1/" "$2"; }
cfg=$W/lxc/$PRIV/config
lx attach "$PRIV" --gpu 0
ran "attach $PRIV --gpu 0: exit 0" 0
cp "$cfg" "$TMP/priv.before-bind"
lx driver "$PRIV" --mode bind
ran "driver $PRIV --mode bind: exit 0" 0
# the request records the mode where it is (docs/ownership.md), the hook line comes
eq "bind: the hook line, lxgpu with this --sysroot, and driver=bind in the request" \
	"$(change "$TMP/priv.before-bind" "$cfg")" \
	"-lxc.environment = LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no
lxc.environment = LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no,driver=bind
lxc.hook.mount = $LXGPU_ABS --sysroot $FAKE_ABS hook"
cp "$cfg" "$TMP/priv.bind"
lx driver "$PRIV" --mode bind
ran "bind again: exit 0" 0
same_file "bind again: config unchanged" "$TMP/priv.bind" "$cfg"

start "$PRIV"
snap_a=$(snap "$PRIV" $DEB $A)
eq "priv, $A: libcuda.so.1 is the host's $A file, read-only" "$(line 1 <<<"$snap_a")" \
	"libcuda.so.1 -> libcuda.so.$A: stand-in for libcuda.so.$A; Read-only file system"
eq "priv, $A: libnvidia-ml.so.1 likewise" "$(line 2 <<<"$snap_a")" \
	"libnvidia-ml.so.1 -> libnvidia-ml.so.$A: stand-in for libnvidia-ml.so.$A; Read-only file system"
eq "priv, $A: /usr/bin/nvidia-smi is the host's, read-only" "$(line 3 <<<"$snap_a")" \
	"nvidia-smi -> : $SMI_A; Read-only file system"
eq "priv, $A: libcuda.so (for dlopen) -> libcuda.so.$A" "$(line 4 <<<"$snap_a")" "libcuda.so -> libcuda.so.$A"
binds=$(line 5 <<<"$snap_a")
binds_ok "priv, $A: every bind in $DEB is a read-only $A file" "$binds"
eq "priv, $A: outside the container only an empty placeholder" \
	"$(stat -c %s "$W/lxc/$PRIV/rootfs$DEB/libcuda.so.$A")" 0
lx check "$PRIV"
ran "check $PRIV (running, $A bound): exit 0" 0
contains "check: sees it running" "$out" "container $PRIV ($W/lxc/$PRIV/config): privileged, running"
contains "check: the bound driver" "$out" "the running container has the host's $A bound ($DEB)"

echo "# the fake host's driver becomes $B (A's files gone); no lxgpu run"
if ! "$MKHOST" "$TMP/driver-$B.spec" "$FAKE" >"$TMP/mkhost.log" 2>&1; then
	diag <"$TMP/mkhost.log"
	bail "mkhost driver $B failed"
fi
SMI_B=${SMI_A//$A/$B}
eq "fake host: $B's files, none of $A's" \
	"$(cd "$FAKE/usr/local/nvidia/lib64" && echo libcuda.so.* libnvidia-ml.so.*)" \
	"libcuda.so.1 libcuda.so.$B libnvidia-ml.so.1 libnvidia-ml.so.$B"
eq "fake host: libnvidia-ml.so.1 resolves to $B" \
	"$(readlink -f "$FAKE/usr/local/nvidia/lib64/libnvidia-ml.so.1" | sed "s|^$FAKE_ABS||")" \
	"/usr/local/nvidia/lib64/libnvidia-ml.so.$B"
eq "fake host: nvidia-smi is $B's" "$(cat "$FAKE/usr/local/nvidia/bin/nvidia-smi")" "$SMI_B"
eq "priv, still running: keeps $A until it restarts" "$(snap "$PRIV" $DEB $A)" "$snap_a"
lx check "$PRIV"
ran "check $PRIV (running $A, host $B): exit 3 (drift)" 3
contains "check: both versions" "$out" "the container's driver is $A ($DEB) but the host's module is $B"
contains "check: the fix is a restart" "$out" "fix: restart the container: the hook binds the host's driver at start"

stop "$PRIV"
start "$PRIV"
same_file "restart: config as bind left it (no lxgpu run)" "$TMP/priv.bind" "$cfg"
s=$(snap "$PRIV" $DEB $B)
eq "priv after restart: libcuda.so.1 is $B's file, read-only" "$(line 1 <<<"$s")" \
	"libcuda.so.1 -> libcuda.so.$B: stand-in for libcuda.so.$B; Read-only file system"
eq "priv after restart: libnvidia-ml.so.1 is $B's" "$(line 2 <<<"$s")" \
	"libnvidia-ml.so.1 -> libnvidia-ml.so.$B: stand-in for libnvidia-ml.so.$B; Read-only file system"
eq "priv after restart: nvidia-smi is $B's" "$(line 3 <<<"$s")" "nvidia-smi -> : $SMI_B; Read-only file system"
eq "priv after restart: libcuda.so -> libcuda.so.$B" "$(line 4 <<<"$s")" "libcuda.so -> libcuda.so.$B"
eq "priv after restart: every bind is a read-only $B file, as many as with $A" "$(line 5 <<<"$s")" "$binds"
eq "priv after restart: no file of $A is left in $DEB" \
	"$(inside "$PRIV" "ls $DEB | grep -c '\\.so\\.$A\$'")" 0
lx check "$PRIV"
ran "check $PRIV after restart: exit 0" 0
contains "check after restart: $B bound" "$out" "the running container has the host's $B bound ($DEB)"
# copy replaces bind, here while the container runs: lxgpu renames its copies
# over the hook's placeholders, and the kernel detaches the binds on them
lx driver "$PRIV" --mode copy
ran "driver $PRIV --mode copy (running, bound): exit 0" 0
contains "copy (running, bound): says what" "$out" "copied driver $B into container $PRIV"
with_driver copy "$TMP/priv.before-bind" >"$TMP/priv.copied"
same_file "copy: hook line removed, config as before bind but driver=copy" "$TMP/priv.copied" "$cfg"
s=$(snap "$PRIV" $DEB $B)
eq "priv, copied while running: libcuda.so.1 is a copy of $B's file, writable" "$(line 1 <<<"$s")" \
	"libcuda.so.1 -> libcuda.so.$B: stand-in for libcuda.so.$B; writable"
eq "priv, copied while running: nvidia-smi is a copy" "$(line 3 <<<"$s")" "nvidia-smi -> : $SMI_B; writable"
eq "priv, copied while running: the hook's binds are gone" "$(line 5 <<<"$s")" "binds: 0, 0"
lx check "$PRIV"
ran "check $PRIV after copy: exit 0" 0
contains "check after copy: the copied driver" "$out" "the container's driver is $B ($DEB), as the host's"
stop "$PRIV"
start "$PRIV"
eq "priv, copied, restarted: the same (no hook any more)" "$(snap "$PRIV" $DEB $B)" "$s"
stop "$PRIV"

# ------------------------------------------------ bind, unprivileged ----
echo "# bind mode, unprivileged container $UNPRIV (hook as uid 100000), no /etc/debian_version"
create "$UNPRIV" unpriv
lx attach "$UNPRIV" --gpu 0
ran "attach $UNPRIV --gpu 0: exit 0" 0
lx driver "$UNPRIV" --mode bind
ran "driver $UNPRIV --mode bind: exit 0" 0
start "$UNPRIV"
s=$(snap "$UNPRIV" /usr/lib64 $B)
# host root's files: unmapped, so DAC refuses the write (EACCES) before the ro mount would
eq "unpriv: /usr/lib64/libcuda.so.1 is $B's file, not writable" "$(line 1 <<<"$s")" \
	"libcuda.so.1 -> libcuda.so.$B: stand-in for libcuda.so.$B; Permission denied"
eq "unpriv: libnvidia-ml.so.1" "$(line 2 <<<"$s")" \
	"libnvidia-ml.so.1 -> libnvidia-ml.so.$B: stand-in for libnvidia-ml.so.$B; Permission denied"
eq "unpriv: nvidia-smi" "$(line 3 <<<"$s")" "nvidia-smi -> : $SMI_B; Permission denied"
eq "unpriv: libcuda.so -> libcuda.so.$B" "$(line 4 <<<"$s")" "libcuda.so -> libcuda.so.$B"
eq "unpriv: every bind in /usr/lib64 is a read-only $B file" "$(line 5 <<<"$s")" "$binds"
eq "unpriv: the hook made its placeholders as the container's root (host uid 100000)" \
	"$(stat -c %u:%g "$W/lxc/$UNPRIV/rootfs/usr/lib64/libcuda.so.$B")" 100000:100000
eq "unpriv: nothing in the Debian dir" "$(inside "$UNPRIV" "ls -A $DEB 2>/dev/null | wc -l")" 0
lx check "$UNPRIV"
ran "check $UNPRIV: exit 0" 0
contains "check $UNPRIV: unprivileged, running" "$out" "unprivileged, running"
contains "check $UNPRIV: $B bound" "$out" "the running container has the host's $B bound (/usr/lib64)"
stop "$UNPRIV"
lx driver "$UNPRIV" --mode copy
ran "driver $UNPRIV --mode copy (stopped): exit 0" 0
eq "unpriv, copy: no hook line left" "$(grep -c '^lxc.hook.mount' "$W/lxc/$UNPRIV/config")" 0
eq "unpriv, copy: the copies belong to the container's root" \
	"$(stat -c %u:%g "$W/lxc/$UNPRIV/rootfs/usr/lib64/libcuda.so.$B" "$W/lxc/$UNPRIV/rootfs/usr/lib64/libcuda.so.1" | sort -u)" \
	100000:100000
start "$UNPRIV"
s=$(snap "$UNPRIV" /usr/lib64 $B)
eq "unpriv, copied: libcuda.so.1 is a copy of $B's file, writable" "$(line 1 <<<"$s")" \
	"libcuda.so.1 -> libcuda.so.$B: stand-in for libcuda.so.$B; writable"
eq "unpriv, copied: no binds" "$(line 5 <<<"$s")" "binds: 0, 0"
stop "$UNPRIV"

# ------------------------------------------------ copy on a running CT ----
echo "# copy mode and check, running container $COPY"
create "$COPY" priv debian
cfg=$W/lxc/$COPY/config
lx attach "$COPY" --gpu 0
ran "attach $COPY --gpu 0: exit 0" 0
cp "$cfg" "$TMP/copy.before"
start "$COPY"
lx driver "$COPY" --mode copy
ran "driver $COPY --mode copy (running): exit 0" 0
contains "copy: says what" "$out" "copied driver $B into container $COPY: "
contains "copy: where" "$out" " links in $DEB and /usr/bin"
with_driver copy "$TMP/copy.before" >"$TMP/copy.copied"
same_file "copy: config unchanged (no hook) but driver=copy" "$TMP/copy.copied" "$cfg"
s=$(snap "$COPY" $DEB $B)
eq "copy, inside: libcuda.so.1" "$(line 1 <<<"$s")" \
	"libcuda.so.1 -> libcuda.so.$B: stand-in for libcuda.so.$B; writable"
eq "copy, inside: libnvidia-ml.so.1" "$(line 2 <<<"$s")" \
	"libnvidia-ml.so.1 -> libnvidia-ml.so.$B: stand-in for libnvidia-ml.so.$B; writable"
eq "copy, inside: nvidia-smi" "$(line 3 <<<"$s")" "nvidia-smi -> : $SMI_B; writable"
eq "copy, inside: libcuda.so" "$(line 4 <<<"$s")" "libcuda.so -> libcuda.so.$B"
lx check "$COPY"
ran "check $COPY after copy: exit 0" 0
contains "check after copy: running" "$out" "container $COPY ($W/lxc/$COPY/config): privileged, running"
contains "check after copy: same version" "$out" "the container's driver is $B ($DEB), as the host's"

# someone installs another driver in the container
inside "$COPY" "cd $DEB && mv libnvidia-ml.so.$B libnvidia-ml.so.$C && ln -sf libnvidia-ml.so.$C libnvidia-ml.so.1"
lx check "$COPY"
ran "check, container has $C: exit 3 (drift)" 3
contains "check, $C: both versions" "$out" "the container's driver is $C ($DEB) but the host's module is $B"
contains "check, $C: the fix" "$out" "fix: lxgpu driver $COPY --mode bind (or --mode copy again)"
lx check "$COPY" --json
ran "check --json, $C: exit 3" 3
eq "check --json: running, drift, host driver, driver-mismatch" \
	"$(jq -r '[.running, .drift, .host_driver, (.checks[] | select(.id == "driver-mismatch") | .status)] | join(" ")' <<<"$out" 2>&1)" \
	"true true $B error"
lx driver "$COPY" --mode copy --quiet
ran "copy again: exit 0" 0
lx check "$COPY"
ran "check after copying again: exit 0" 0
eq "copy again, inside: libnvidia-ml.so.1 -> $B" "$(inside "$COPY" "readlink $DEB/libnvidia-ml.so.1")" "libnvidia-ml.so.$B"

# -------------------------------------------------------------- install ----
echo "# install mode, running container $COPY, host module $A (no --sysroot)"
mkdir -p "$TMP/proc-driver/nvidia" "$TMP/var-log" "$TMP/var-lib"
printf 'NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  %s  Release Build  (nixbld@)  \nGCC version:  gcc version 15.3.0 (GCC) \n' \
	"$A" >"$TMP/proc-driver/nvidia/version"
RUN=$TMP/NVIDIA-Linux-x86_64-$A.run
PUSHED=/tmp/lxgpu-NVIDIA-Linux-x86_64-$A.run
HOSTLOG=$TMP/var-log/lxgpu/install-$COPY-$A.log
# The fake installer, told what to do by files in the container's /tmp:
# installer-help (modules: lists only --no-kernel-modules; none: neither
# spelling), installer-version (what it installs; A), installer-exit (0).
cat >"$RUN" <<EOF
#!/bin/sh
# fake NVIDIA-Linux-x86_64-$A.run (tests/lxc/driver.sh)
help=\$(cat /tmp/installer-help 2>/dev/null)
if [ "\$1" = --advanced-options ]; then
	echo "nvidia-installer command line options:"
	echo "  --silent"
	echo "      Run silently; no questions are asked and no output is printed."
	case \$help in
	modules) echo "  --no-kernel-modules"
		echo "      Install everything but the kernel modules." ;;
	none) ;;
	*) echo "  --no-kernel-module"
		echo "      Install everything but the kernel module." ;;
	esac
	echo "  --no-kernel-module-source"
	echo "      Skip installation of the kernel module source."
	echo "  --no-systemd"
	echo "      Do not install the systemd units."
	echo "  --install-compat32-libs"
	echo "      Install the 32-bit compatibility libraries."
	exit 0
fi
echo "\$*" >>/tmp/installer-args
v=\$(cat /tmp/installer-version 2>/dev/null || echo $A)
d=$DEB
mkdir -p \$d /var/log
for l in libnvidia-ml libcuda; do
	echo "installed \$l.so.\$v" >\$d/\$l.so.\$v
	ln -sf \$l.so.\$v \$d/\$l.so.1
done
echo "nvidia-installer log: driver \$v installed with \$*" >/var/log/nvidia-installer.log
echo "fake installer: installed driver \$v"
exit \$(cat /tmp/installer-exit 2>/dev/null || echo 0)
EOF
chmod 644 "$RUN"
# what the installer left: its arguments, the pushed file, libnvidia-ml.so.1
left() {
	inside "$COPY" "cat /tmp/installer-args 2>/dev/null || echo no arguments
		[ -e $PUSHED ] && echo $PUSHED is there || echo pushed file gone
		readlink $DEB/libnvidia-ml.so.1"
}

# a bind hook line written while it runs: an install replaces it
lx driver "$COPY" --mode bind
ran "driver $COPY --mode bind (config only, it runs): exit 0" 0
lx_host driver "$COPY" --mode install --installer "$RUN"
ran "install: exit 0" 0
contains "install: says what and where the log is" "$out" \
	"running NVIDIA-Linux-x86_64-$A.run in container $COPY (log: /var/log/lxgpu/install-$COPY-$A.log)"
eq "install: the installer's arguments; the pushed file gone; libnvidia-ml.so.1 -> $A" "$(left)" \
	"--silent --no-kernel-module --no-systemd
pushed file gone
libnvidia-ml.so.$A"
if [ -f "$HOSTLOG" ]; then ok "install: host log /var/log/lxgpu/install-$COPY-$A.log"; else
	not_ok "install: host log /var/log/lxgpu/install-$COPY-$A.log"
	find "$TMP/var-log" | diag
fi
log=$(cat "$HOSTLOG" 2>/dev/null)
contains "install log: the option list" "$log" "  --no-kernel-module-source"
contains "install log: the installer's output" "$log" "fake installer: installed driver $A"
contains "install log: the container's nvidia-installer.log" "$log" \
	"--- /var/log/nvidia-installer.log in the container ---
nvidia-installer log: driver $A installed with --silent --no-kernel-module --no-systemd"
with_driver install "$TMP/copy.before" >"$TMP/copy.installed"
same_file "install: no hook line, driver=install in the request" "$TMP/copy.installed" "$cfg"
eq "install: its log and config backup not on this machine" \
	"$(find "/var/log/lxgpu/install-$COPY-$A.log" "/var/lib/lxgpu/backup/lxc-$COPY.undo" 2>/dev/null | wc -l)" 0

inside "$COPY" "rm -f /tmp/installer-args; echo 1 >/tmp/installer-exit"
lx_host driver "$COPY" --mode install --installer "$RUN"
ran "installer exits 1: exit 1" 1
one_line_error "installer exits 1: one line on stderr"
contains "installer exits 1: names the log" "$err" \
	"NVIDIA-Linux-x86_64-$A.run failed in container $COPY (exit 1): see /var/log/lxgpu/install-$COPY-$A.log"
eq "installer exits 1: it ran once, silently; the pushed file gone" "$(left)" \
	"--silent --no-kernel-module --no-systemd
pushed file gone
libnvidia-ml.so.$A"

inside "$COPY" "rm -f /tmp/installer-args /tmp/installer-exit; echo modules >/tmp/installer-help"
lx_host driver "$COPY" --mode install --installer "$RUN"
ran "installer lists --no-kernel-modules only: exit 0" 0
eq "installer lists --no-kernel-modules only: that spelling" "$(left | line 1)" \
	"--silent --no-kernel-modules --no-systemd"

inside "$COPY" "rm -f /tmp/installer-args; echo none >/tmp/installer-help"
lx_host driver "$COPY" --mode install --installer "$RUN"
ran "installer lists neither spelling (only --no-kernel-module-source): exit 1" 1
one_line_error "neither spelling: one line on stderr"
contains "neither spelling: says so" "$err" "lists neither --no-kernel-module nor --no-kernel-modules"
eq "neither spelling: the installer did not run; the pushed file gone" "$(left | sed 2q)" \
	"no arguments
pushed file gone"

inside "$COPY" "rm -f /tmp/installer-help; echo $C >/tmp/installer-version"
lx_host driver "$COPY" --mode install --installer "$RUN"
ran "installer exits 0 but installs $C: exit 1" 1
one_line_error "installs $C: one line on stderr"
contains "installs $C: says which" "$err" "ran, but the container's driver is $C, not $A"

stop "$COPY"
rm -f "$W/lxc/$COPY/rootfs/tmp/installer-"*
lx_host driver "$COPY" --mode install --installer "$RUN"
ran "install into a stopped container: exit 1" 1
one_line_error "stopped: one line on stderr"
contains "stopped: says so" "$err" "container $COPY is stopped"
eq "stopped: nothing pushed into its root" "$(find "$W/lxc/$COPY/rootfs/tmp" -name 'lxgpu-*' | wc -l)" 0

echo "# run time $((($(date +%s%N) - t0) / 1000000)) ms"
done_testing
