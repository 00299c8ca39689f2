#!/bin/bash
# driver and check on fake hosts, and the start hook run by hand in a private
# mount namespace, as LXC runs it. The host's driver is the H100 capture's
# 580.159.04 (h100 spec, driver-files section); expectations come from it.
. "$(dirname "$0")/lib.sh"
need_root

V=580.159.04
h=$(host drv h100-580.159.04.spec)
ct=$h/var/lib/lxc/c1
mkdir -p "$ct/rootfs/etc"
echo 12.4 >"$ct/rootfs/etc/debian_version"
printf 'lxc.rootfs.path = dir:/var/lib/lxc/c1/rootfs\nlxc.net.0.type = empty\n' >"$ct/config"
run --sysroot "$h" attach c1 --quiet
lib=$ct/rootfs/usr/lib/x86_64-linux-gnu

# --- copy
run --sysroot "$h" driver c1 --mode copy
eq "copy: exit 0" "$rc" 0
contains "copy: says what" "$out" "copied driver $V into container c1"
eq "copy: libcuda copied" "$(cat "$lib/libcuda.so.$V")" "stand-in for libcuda.so.$V"
eq "copy: SONAME link" "$(readlink "$lib/libcuda.so.1")" "libcuda.so.$V"
eq "copy: dev link for dlopen(\"libcuda.so\")" "$(readlink "$lib/libcuda.so")" "libcuda.so.$V"
eq "copy: libnvidia-ml.so.1" "$(readlink "$lib/libnvidia-ml.so.1")" "libnvidia-ml.so.$V"
eq "copy: nvvm's own SONAME (.so.4, capture)" "$(readlink "$lib/libnvidia-nvvm.so.4")" "libnvidia-nvvm.so.$V"
eq "copy: nvidia-smi (the ELF stand-in)" "$(tail -c +6 "$ct/rootfs/usr/bin/nvidia-smi")" "stand-in for nvidia-smi $V"
eq "copy: compute, utility and video libraries, no graphics" \
	"$(cd "$lib" && ls *.so.$V | sed "s/.so.$V//" | tr '\n' ' ')" \
	"libcuda libcudadebugger libnvcuvid libnvidia-allocator libnvidia-cfg libnvidia-encode libnvidia-gpucomp libnvidia-ml libnvidia-nvvm libnvidia-opencl libnvidia-opticalflow libnvidia-pkcs11-openssl3 libnvidia-ptxjitcompiler libvdpau_nvidia "
run --sysroot "$h" check c1
eq "check after copy: exit 0" "$rc" 0
contains "check after copy: version" "$out" "the container's driver is $V (/usr/lib/x86_64-linux-gnu), as the host's"

# the host module moves on (an update without touching the container)
ln -sfn libnvidia-ml.so.570.86.10 "$lib/libnvidia-ml.so.1"
touch "$lib/libnvidia-ml.so.570.86.10"
run --sysroot "$h" check c1 --json
eq "check, other version: exit 3 (drift)" "$rc" 3
eq "check, other version: finding" "$(jqr '.checks[] | select(.id == "driver-mismatch") | .status')" error
contains "check, other version: both versions" "$(jqr '.checks[] | select(.id == "driver-mismatch") | .message')" \
	"the container's driver is 570.86.10 (/usr/lib/x86_64-linux-gnu) but the host's module is $V"
contains "check, other version: the fix" "$(jqr '.checks[] | select(.id == "driver-mismatch") | .fix')" \
	"lxgpu driver c1 --mode bind"
run --sysroot "$h" driver c1 --mode copy --quiet
run --sysroot "$h" check c1
eq "copy again repairs it" "$rc" 0

# --- bind: the hook line, then the hook as LXC runs it
run --sysroot "$h" driver c1 --mode bind --json
eq "bind: changed" "$(jqr .changed)" true
eq "bind: one hook line" "$(grep -c '^lxc.hook.mount = ' "$ct/config")" 1
contains "bind: the hook runs lxgpu with this sysroot" "$(grep '^lxc.hook.mount' "$ct/config")" \
	"$LXGPU --sysroot $h hook"
run --sysroot "$h" driver c1 --mode bind
eq "bind twice: no change" "$out" "container c1: no change (/var/lib/lxc/c1/config)"
run --sysroot "$h" check c1
eq "check, bind mode, stopped: exit 0" "$rc" 0
contains "check, bind mode: says so" "$out" "driver bound at every start: the host's $V"

rm -rf "$lib" "$ct/rootfs/usr/bin"
hook_out=$(unshare -m --propagation private bash -c '
	LXC_ROOTFS_MOUNT=$1/rootfs "$2" --sysroot "$3" hook c1 lxc mount || exit
	cat "$1/rootfs/usr/lib/x86_64-linux-gnu/libcuda.so.1"
	readlink "$1/rootfs/usr/lib/x86_64-linux-gnu/libcuda.so.1"
	echo x 2>/dev/null >"$1/rootfs/usr/lib/x86_64-linux-gnu/libcuda.so.'"$V"'" || echo read-only
	grep -c " $1/rootfs/usr/" /proc/self/mountinfo' _ "$ct" "$LXGPU" "$h" 2>&1)
eq "hook: binds the host's files read-only, one mount each" "$hook_out" \
	"stand-in for libcuda.so.$V
libcuda.so.$V
read-only
19"
eq "hook: outside its namespace, only empty placeholders remain" "$(stat -c %s "$lib/libcuda.so.$V")" 0

bad_hook() { # DESC ENV ARGS...
	local desc=$1 env=$2; shift 2
	out=$(env $env "$LXGPU" --sysroot "$h" hook "$@" 2>"$TMP/.stderr")
	rc=$?
	err=$(cat "$TMP/.stderr")
	eq "$desc: exit 1" "$rc" 1
	check "$desc: one line" one_line_error
}
bad_hook "hook as a start hook" "LXC_ROOTFS_MOUNT=$ct/rootfs" c1 lxc start
contains "hook as a start hook: says which type" "$err" "must run as lxc.hook.mount, lxc.hook.pre-start or lxc.hook.post-stop (got start)"
bad_hook "hook in another section" "LXC_ROOTFS_MOUNT=$ct/rootfs" c1 net mount
bad_hook "hook with a relative rootfs" "LXC_ROOTFS_MOUNT=rootfs" c1 lxc mount
bad_hook "hook without LXC" "LXC_ROOTFS_MOUNT=" c1
h2=$(host drv2 h100-580.159.04.spec)
mv "$h2/usr/local/nvidia/lib64/libcuda.so.$V" "$h2/usr/local/nvidia/lib64/libcuda.so.570.86.10"
out=$(unshare -m --propagation private env LXC_ROOTFS_MOUNT="$ct/rootfs" "$LXGPU" --sysroot "$h2" hook c1 lxc mount 2>&1)
contains "hook, host libraries of another version: refuses, says to reboot" "$out" \
	"the host's driver libraries are 570.86.10 but its kernel module is $V: reboot the host"
run --sysroot "$h2" driver c1 --mode bind
eq "driver bind, host libraries of another version: exit 1" "$rc" 1

# --- hostile container roots: nothing read or written outside the rootfs
hostile() { # NAME: a container whose rootfs $r is made hostile by the caller
	local name=$1
	mkdir -p "$h/var/lib/lxc/$name"
	printf 'lxc.rootfs.path = dir:/var/lib/lxc/%s/rootfs\n' "$name" >"$h/var/lib/lxc/$name/config"
}
outside=$TMP/outside
mkdir -p "$outside"
hostile evil1
r=$h/var/lib/lxc/evil1/rootfs
mkdir -p "$r/etc" "$r/usr/lib"
echo 12 >"$r/etc/debian_version"
ln -s "$outside" "$r/usr/lib/x86_64-linux-gnu"
run --sysroot "$h" driver evil1 --mode copy
eq "library dir is a symlink to a host dir: exit 1" "$rc" 1
contains "library dir is a symlink: says why" "$err" "a symlink on the path, refused"
eq "library dir is a symlink: nothing written there" "$(ls -A "$outside")" ""

hostile evil2
r=$h/var/lib/lxc/evil2/rootfs
mkdir -p "$r/etc"
echo 12 >"$r/etc/debian_version"
ln -s ../../../../../../../../../.. "$r/usr"
run --sysroot "$h" driver evil2 --mode copy
eq "usr is a '..' chain: exit 1" "$rc" 1
contains "usr is a '..' chain: says why" "$err" "a symlink on the path, refused"

hostile evil3
r=$h/var/lib/lxc/evil3/rootfs
mkdir -p "$r/etc" "$r/usr" "$r/real-lib/x86_64-linux-gnu"
echo 12 >"$r/etc/debian_version"
ln -s /real-lib "$r/usr/lib"
run --sysroot "$h" driver evil3 --mode copy
eq "usr/lib is a symlink (even inside the root): exit 1" "$rc" 1
eq "usr/lib is a symlink: nothing written behind it" "$(ls -A "$r/real-lib/x86_64-linux-gnu")" ""

hostile evil4
r=$h/var/lib/lxc/evil4/rootfs
mkdir -p "$r/etc" "$r/usr/lib/x86_64-linux-gnu"
echo 12 >"$r/etc/debian_version"
mkfifo "$r/usr/lib/x86_64-linux-gnu/libcuda.so.$V"
out=$(timeout 20 "$LXGPU" --sysroot "$h" driver evil4 --mode copy 2>"$TMP/.stderr")
rc=$?
err=$(cat "$TMP/.stderr")
eq "a FIFO where a library should go: exit 1, no hang" "$rc" 1
contains "a FIFO: says what it is" "$err" "/usr/lib/x86_64-linux-gnu/libcuda.so.$V in the container is a FIFO"
out=$(timeout 20 unshare -m --propagation private env LXC_ROOTFS_MOUNT="$r" "$LXGPU" --sysroot "$h" hook evil4 lxc mount 2>&1)
contains "a FIFO, hook: refused too" "$out" "is a FIFO, not a regular file"

hostile evil5
r=$h/var/lib/lxc/evil5/rootfs
mkdir -p "$r/etc" "$r/usr/lib/x86_64-linux-gnu"
echo 12 >"$r/etc/debian_version"
echo secret >"$outside/shadow"
ln -s "$outside/shadow" "$r/usr/lib/x86_64-linux-gnu/libcuda.so.1"
run --sysroot "$h" driver evil5 --mode copy
eq "a SONAME link pointing out of the root: replaced, exit 0" "$rc" 0
eq "a SONAME link pointing out: the host file untouched" "$(cat "$outside/shadow")" secret
eq "a SONAME link pointing out: now the driver's link" "$(readlink "$r/usr/lib/x86_64-linux-gnu/libcuda.so.1")" \
	"libcuda.so.$V"
ln -s "$outside/etc-group" "$r/etc/group"
echo "render:x:5:" >"$outside/etc-group"
run --sysroot "$h" check evil5 --json
eq "check on a hostile root: still answers" "$(jqr .schema)" 1

# --- a distribution's wrapper script in /usr/bin is not the driver's binary (seen on the GPU machine)
w=$(host wrap h100-580.159.04.spec)
mkdir -p "$w/usr/bin" "$w/var/lib/lxc/c1/rootfs/etc"
printf '#!/bin/sh\nexec /usr/local/nvidia/bin/nvidia-smi "$@"\n' >"$w/usr/bin/nvidia-smi"
echo 12 >"$w/var/lib/lxc/c1/rootfs/etc/debian_version"
printf 'lxc.rootfs.path = dir:/var/lib/lxc/c1/rootfs\n' >"$w/var/lib/lxc/c1/config"
run --sysroot "$w" driver c1 --mode copy
eq "wrapper script on the host: the driver's own nvidia-smi is copied" \
	"$(tail -c +6 "$w/var/lib/lxc/c1/rootfs/usr/bin/nvidia-smi")" "stand-in for nvidia-smi $V"

done_testing
