#!/bin/bash
# lxgpu host status | prepare [--undo] | install-driver on fake hosts. apt-get,
# update-initramfs, systemctl and NVIDIA's installer are fakes (first in PATH)
# that append their arguments to $CALLS; the installer is served by httpd.py on
# 127.0.0.1 like download.sh does. No driver can really be installed here: the
# fake installer only records its arguments and makes the DKMS tree that a
# real one would (/var/lib/dkms/nvidia/<V>).
. "$(dirname "$0")/lib.sh"
need_root
command -v jq >/dev/null || skip_all "needs jq"
PYTHON=${PYTHON:-python3}

# --- the fakes
FAKE=$TMP/bin
CALLS=$TMP/calls
mkdir -p "$FAKE"
for tool in apt-get update-initramfs systemctl; do
	cat >"$FAKE/$tool" <<EOF
#!/bin/sh
echo "$tool \$*" >>"$CALLS"
# FAIL=<tool> makes this one fail
[ "\${FAIL:-}" = "$tool" ] && { echo "$tool: failing on purpose" >&2; exit 100; }
exit 0
EOF
	chmod 755 "$FAKE/$tool"
done
export PATH=$FAKE:$PATH
calls() { if [ -f "$CALLS" ]; then tr '\n' ';' <"$CALLS"; fi; }

# a host with what status checks: kernel release, headers, DKMS tree, daemon, unit
K=6.8.12-4-pve
V=580.159.04
full_host() {
	local h=$1
	echo "$K" >"$h/proc/sys/kernel/osrelease" 2>/dev/null ||
		{ mkdir -p "$h/proc/sys/kernel" && echo "$K" >"$h/proc/sys/kernel/osrelease"; }
	mkdir -p "$h/lib/modules/$K/build" "$h/var/lib/dkms/nvidia/$V/$K" \
		"$h/run/nvidia-persistenced" "$h/proc/4242" "$h/etc/modprobe.d" \
		"$h/etc/systemd/system/multi-user.target.wants"
	echo 4242 >"$h/run/nvidia-persistenced/nvidia-persistenced.pid"
	echo nvidia-persistenced >"$h/proc/4242/comm"
	printf 'blacklist nouveau\n' >"$h/etc/modprobe.d/blacklist-nouveau.conf"
	ln -s /lib/systemd/system/lxgpu-sync.service \
		"$h/etc/systemd/system/multi-user.target.wants/lxgpu-sync.service"
}
# line ID: the text lines of status with that JSON id, as "status message|fix"
line() { jq -r --arg id "$1" '[.lines[] | select(.id == $id) | "\(.status) \(.message)|\(.fix // "")"] | join(" / ")' <<<"$out"; }

# === status: a healthy Proxmox H100 host, line by line
h=$(host full h100-580.159.04.spec pve.spec) || bail "fake host"
full_host "$h"
run --sysroot "$h" host status --json
eq "status ok: exit 0" "$rc" 0
eq "status ok: schema 1" "$(jqr .schema)" 1
eq "status ok: kernel" "$(line kernel)" "ok kernel $K (Proxmox VE)|"
# the model from the spec's /proc/driver/nvidia/gpus/0000:00:06.0/information
eq "status ok: GPU bound to nvidia" "$(line gpu)" "ok GPU 0 (0000:00:06.0, NVIDIA H100 80GB HBM3) is bound to nvidia|"
eq "status ok: nouveau blacklisted, by which file" "$(line nouveau)" \
	"ok nouveau is blacklisted (/etc/modprobe.d/blacklist-nouveau.conf)|"
eq "status ok: module and its kind" "$(line nvidia-module)" "ok nvidia $V (open kernel module) is loaded|"
contains "status ok: DKMS built for the running kernel" "$(line dkms)" "ok nvidia $V was built by DKMS for the running kernel $K"
eq "status ok: headers" "$(line headers)" "ok headers for the running kernel $K|"
eq "status ok: persistence daemon" "$(line persistenced)" "ok nvidia-persistenced runs (pid 4242)|"
contains "status ok: boot unit" "$(line boot-unit)" "ok lxgpu-sync.service is enabled"
eq "status ok: device nodes with their numbers" "$(line nodes)" \
	"ok /dev/nvidia0 195:0, /dev/nvidiactl 195:255, /dev/nvidia-uvm 238:0, /dev/nvidia-uvm-tools 238:1|"
eq "status ok: no line with a fix" "$(jqr '[.lines[] | select(.fix != null)] | length')" 0
run --sysroot "$h" host status
eq "status text: one ✓ line per JSON line, no fix" "$(grep -c '^✓ ' <<<"$out") $(grep -c 'fix:' <<<"$out")" "9 0"

# each line going wrong, with its fix
rm -rf "$h/var/lib/dkms/nvidia/$V/$K" "$h/lib/modules/$K/build" "$h/proc/4242" \
	"$h/etc/modprobe.d/blacklist-nouveau.conf" "$h/etc/systemd/system/multi-user.target.wants" \
	"$h/dev/nvidia-uvm"
run --sysroot "$h" host status --json
eq "status: not built for this kernel -> dkms autoinstall" "$(line dkms)" \
	"warning nvidia $V is a DKMS module, but not built for the running kernel $K|dkms autoinstall"
eq "status: no headers on Proxmox -> proxmox-headers through prepare" "$(line headers)" \
	"error no headers for the running kernel $K (/lib/modules/$K/build): DKMS cannot build nvidia for the next kernel|lxgpu host prepare (apt-get install proxmox-headers-$K)"
eq "status: stale pid file -> daemon not running" "$(line persistenced | cut -d'|' -f2)" \
	"systemctl enable --now nvidia-persistenced"
eq "status: nouveau not blacklisted -> prepare" "$(line nouveau)" \
	"warning nouveau is not blacklisted: it can take the GPU before nvidia loads|lxgpu host prepare"
eq "status: boot unit off -> prepare" "$(line boot-unit | cut -d'|' -f2)" "lxgpu host prepare"
contains "status: /dev/nvidia-uvm missing" "$(line nodes)" "warning missing: /dev/nvidia-uvm; present:"
rm -rf "$h/var/lib/dkms"
run --sysroot "$h" host status --json
eq "status: no DKMS tree -> install-driver of the same version" "$(line dkms | cut -d'|' -f2)" \
	"lxgpu host install-driver --version $V"

# nouveau bound, no NVIDIA module, a plain (non-Proxmox) kernel
h=$(host nouveau nouveau-optiplex.spec) || bail "fake host"
run --sysroot "$h" host status --json
eq "nouveau: the NVIDIA GPU on nouveau is an error" "$(line gpu | sed 's/.* \/ //')" \
	"error GPU 1 (0000:01:00.0, nvidia [10de:128b]) is bound to nouveau, which CUDA cannot use|lxgpu host prepare, then reboot"
eq "nouveau: module not loaded -> install-driver" "$(line nvidia-module)" \
	"error the nvidia kernel module is not loaded|lxgpu host install-driver"
contains "nouveau: linux-headers off Proxmox" "$(line headers)" "apt-get install linux-headers-5.14.0-362.8.1.el9_3.x86_64"
eq "nouveau: no DKMS line without a module" "$(line dkms)" ""

# Intel and AMD: the kernel's driver and its firmware; nothing NVIDIA
h=$(host intel intel-n100.spec) || bail "fake host"
run --sysroot "$h" host status --json
contains "intel: i915, nothing to install" "$(line gpu)" "ok GPU 0 (0000:00:02.0, intel [8086:46d1]) is bound to i915, the kernel's own driver: nothing to install"
eq "intel: no firmware -> firmware-misc-nonfree" "$(line firmware)" \
	"warning no firmware for i915 (/lib/firmware/i915): the GPU may run without acceleration|apt-get install firmware-misc-nonfree, then reboot"
eq "intel: DRM nodes" "$(line nodes)" "ok GPU 0: /dev/dri/card0, /dev/dri/renderD128|"
eq "intel: no NVIDIA lines" "$(line nouveau)$(line nvidia-module)$(line headers)" ""
mkdir -p "$h/lib/firmware/i915"
run --sysroot "$h" host status --json
eq "intel: firmware present" "$(line firmware)" "ok firmware for i915: /lib/firmware/i915|"
h=$(host amd amd-mi300x.spec) || bail "fake host"
run --sysroot "$h" host status --json
contains "amd: amdgpu, nothing to install" "$(line gpu)" "is bound to amdgpu, the kernel's own driver: nothing to install"
contains "amd: firmware checked for amdgpu" "$(line firmware)" "/lib/firmware/amdgpu"
h=$(host vfio vfio.spec) || bail "fake host"
run --sysroot "$h" host status --json
# both GPUs on vfio-pci (no nvidia loaded: no model, the ids): none left for a container
contains "vfio: every GPU given to a VM is an error" "$(line gpu)" \
	"error GPU 0 (0000:01:00.0, nvidia [10de:1fbb]) is bound to vfio-pci: it is given to a VM, and no GPU is left for containers|"
contains "vfio: the fix unbinds it from vfio-pci" "$(line gpu)" \
	"echo 0000:01:00.0 > /sys/bus/pci/drivers/vfio-pci/unbind"
h=$(host nogpu no-gpu.spec) || bail "fake host"
run --sysroot "$h" host status --json
eq "no GPU: exit 0 (status reports, it does not judge)" "$rc" 0
contains "no GPU: an error whose fix lists the PCI display devices" "$(line gpu)" \
	"error no GPU on this host: no NVIDIA, AMD or Intel display or 3D controller on the PCI bus|lspci -nnk"

# the nodes: uvm nodes left under another major (511; /proc/devices: 238)
h=$(host stale h100-stale-uvm.spec pve.spec) || bail "fake host"
full_host "$h"
run --sysroot "$h" host status --json
eq "stale uvm nodes: a warning, fixed by sync" "$(line nodes)" \
	"warning not nvidia-uvm's major 238 (/proc/devices): /dev/nvidia-uvm /dev/nvidia-uvm-tools; present: /dev/nvidia0 195:0, /dev/nvidiactl 195:255, /dev/nvidia-uvm 511:0, /dev/nvidia-uvm-tools 511:1|lxgpu sync --all"
# Debian's DKMS package builds nvidia under another name (no /var/lib/dkms/nvidia)
rm -r "$h/var/lib/dkms"
printf '\nPackage: nvidia-open-kernel-dkms\nStatus: install ok installed\nVersion: %s-1\n' "$V" >>"$h/var/lib/dpkg/status"
run --sysroot "$h" host status --json
eq "Debian's nvidia-open-kernel-dkms: DKMS" "$(line dkms)" \
	"ok nvidia $V comes with DKMS (nvidia-open-kernel-dkms $V-1): rebuilt for each new kernel|"

# === prepare on the nouveau host (NVIDIA GPU, nothing prepared)
h=$(host prep nouveau-optiplex.spec) || bail "fake host"
mkdir -p "$h/lib/systemd/system"
echo '[Unit]' >"$h/lib/systemd/system/lxgpu-sync.service"
KH=5.14.0-362.8.1.el9_3.x86_64
BL=$h/etc/modprobe.d/lxgpu-blacklist-nouveau.conf
REC=$h/var/lib/lxgpu/host/prepared
before=$(cd "$h" && find . | sort | sha256sum)

rm -f "$CALLS"
run --sysroot "$h" host prepare --dry-run
eq "prepare --dry-run: exit 0" "$rc" 0
eq "prepare --dry-run: nothing run" "$(calls)" ""
eq "prepare --dry-run: nothing written" "$(cd "$h" && find . | sort | sha256sum)" "$before"
contains "prepare --dry-run: shows apt-get" "$out" "would run: apt-get install -y --no-install-recommends linux-headers-$KH"
contains "prepare --dry-run: shows the file as a diff" "$out" \
	"--- /dev/null
+++ b/etc/modprobe.d/lxgpu-blacklist-nouveau.conf
@@ -0,0 +1,3 @@"
contains "prepare --dry-run: the blacklist line" "$out" "+blacklist nouveau"
run --sysroot "$h" host prepare --dry-run --json
eq "prepare --dry-run --json: changed false, 4 steps" "$(jqr '"\(.changed) \(.steps | length)"')" "false 4"

# apt fails: nothing else happens, nothing stays
FAIL=apt-get run --sysroot "$h" host prepare
eq "prepare, apt-get fails: exit 1" "$rc" 1
check "prepare, apt-get fails: one-line error" one_line_error
contains "prepare, apt-get fails: says which command" "$err" "host prepare: apt-get install -y --no-install-recommends linux-headers-$KH failed (exit 100)"
eq "prepare, apt-get fails: nothing after it ran" "$(calls)" "apt-get install -y --no-install-recommends linux-headers-$KH;"
check "prepare, apt-get fails: no blacklist file" test ! -e "$BL"
check "prepare, apt-get fails: no record" test ! -e "$REC"

# systemctl fails last: everything before it is taken back, last first
rm -f "$CALLS"
FAIL=systemctl run --sysroot "$h" host prepare
eq "prepare, systemctl fails: exit 1" "$rc" 1
check "prepare, systemctl fails: one-line error" one_line_error
contains "prepare, systemctl fails: says the steps were taken back" "$err" "the steps done were taken back"
eq "prepare, systemctl fails: done, then undone in reverse" "$(calls)" \
	"apt-get install -y --no-install-recommends linux-headers-$KH;update-initramfs -u -k all;systemctl enable lxgpu-sync.service;update-initramfs -u -k all;apt-get remove -y linux-headers-$KH;"
check "prepare, systemctl fails: blacklist file removed again" test ! -e "$BL"
check "prepare, systemctl fails: no record" test ! -e "$REC"

# the real run
rm -f "$CALLS"
run --sysroot "$h" host prepare
eq "prepare: exit 0" "$rc" 0
eq "prepare: headers, blacklist + initramfs, unit, in that order" "$(calls)" \
	"apt-get install -y --no-install-recommends linux-headers-$KH;update-initramfs -u -k all;systemctl enable lxgpu-sync.service;"
eq "prepare: the blacklist file" "$(cat "$BL" 2>&1 | grep -v '^#')" "blacklist nouveau
options nouveau modeset=0"
eq "prepare: the record of what it did" "$(cat "$REC" 2>&1)" "package linux-headers-$KH
file /etc/modprobe.d/lxgpu-blacklist-nouveau.conf
unit lxgpu-sync.service"
contains "prepare: says to reboot" "$out" "reboot"
check "prepare: the commands' output in the log" grep -q "^--- lxgpu: apt-get install" "$h/var/log/lxgpu/host-prepare.log"
run --sysroot "$h" host status --json
contains "after prepare: status sees the blacklist" "$(line nouveau)" "ok nouveau is blacklisted (/etc/modprobe.d/lxgpu-blacklist-nouveau.conf)"

# --undo, dry first
rm -f "$CALLS"
rec=$(sha "$REC")
run --sysroot "$h" host prepare --undo --dry-run
eq "undo --dry-run: exit 0, nothing run" "$rc $(calls)" "0 "
unchanged "undo --dry-run: record untouched" "$REC" "$rec"
contains "undo --dry-run: shows the file's removal" "$out" "-blacklist nouveau"
run --sysroot "$h" host prepare --undo
eq "undo: exit 0" "$rc" 0
eq "undo: last first" "$(calls)" \
	"systemctl disable lxgpu-sync.service;update-initramfs -u -k all;apt-get remove -y linux-headers-$KH;"
check "undo: blacklist file gone" test ! -e "$BL"
check "undo: record gone" test ! -e "$REC"
run --sysroot "$h" host prepare --undo
eq "undo again: nothing to undo, exit 0" "$rc $out" "0 nothing to undo: no /var/lib/lxgpu/host/prepared"

# a prepared host has nothing to do; Intel has nothing to prepare; no unit, no start
h=$(host prepared h100-580.159.04.spec pve.spec) || bail "fake host"
full_host "$h"
rm -f "$CALLS"
run --sysroot "$h" host prepare
eq "prepared host: nothing to do" "$rc $(calls)" "0 "
contains "prepared host: says so" "$out" "the host is prepared"
h=$(host intel2 intel-n100.spec) || bail "fake host"
run --sysroot "$h" host prepare
eq "intel: nothing to prepare" "$rc $out" "0 no NVIDIA GPU: the kernel's own drivers need nothing prepared"
h=$(host nounit nouveau-optiplex.spec) || bail "fake host"
rm -f "$CALLS"
run --sysroot "$h" host prepare
eq "no unit installed: exit 1, nothing run" "$rc $(calls)" "1 "
contains "no unit installed: says so" "$err" "lxgpu-sync.service is not installed"

# === usage
run host
eq "host without subcommand: exit 2" "$rc" 2
run host frobnicate
eq "unknown subcommand: exit 2" "$rc" 2
check "unknown subcommand: one-line error" one_line_error
run host status --undo
eq "--undo outside prepare: exit 2" "$rc" 2
run host prepare --version 580.95.05
eq "--version outside install-driver: exit 2" "$rc" 2
run host install-driver --version 'latest; rm'
eq "--version not a version: exit 2" "$rc" 2
run --version
contains "global --version still works" "$out" "lxgpu "

# === install-driver against httpd.py
"$PYTHON" -c 1 2>/dev/null || { done_testing; exit; }
ldconfig -p | grep -q 'libcurl\.so\.4 ' || { done_testing; exit; }
# the fake host's module is $V (branch 580); NVIDIA's server has a newer 580
# ($NV), and its newest overall is of branch 590 (latest.txt)
NV=580.172.08
NEWEST=590.48.01
NAME=NVIDIA-Linux-x86_64-$NV.run
SRV=$TMP/srv
mkdir -p "$SRV/$NV"
# the fake installer: lists NVIDIA's options, records its arguments, makes the DKMS tree
cat >"$SRV/$NV/$NAME" <<EOF
#!/bin/sh
case "\$1" in --advanced-options)
	printf '  -s, --silent\n  --dkms\n  -q, --no-questions\n  --ui=UI\n  --log-file-name=LOG-FILE-NAME\n'
	exit 0 ;;
esac
echo "installer \$*" >>"$CALLS"
[ "\${FAIL:-}" = installer ] && exit 3
mkdir -p "\$HOST_ROOT/var/lib/dkms/nvidia/$NV/$K"
EOF
printf '%s  %s\n' "$(sha "$SRV/$NV/$NAME")" "$NAME" >"$SRV/$NV/$NAME.sha256sum"
printf '%s %s/NVIDIA-Linux-x86_64-%s.run\n' "$NEWEST" "$NEWEST" "$NEWEST" >"$SRV/latest.txt"
# the index page of NVIDIA's folder of drivers, as its server lists them
index() { # VERSION...: the links of the index page
	printf '<html><body><pre><a href="../">../</a>\n<a href="latest.txt">latest.txt</a>\n'
	for v in "$@"; do printf '<a href="%s/">%s/</a>  01-Jan-2026 00:00  -\n' "$v" "$v"; done
	printf '</pre></body></html>\n'
}
index 570.195.03 580.95.05 "$NV" 580.65.06 "$NEWEST" >"$SRV/index.html"
"$PYTHON" "$(dirname "$0")/httpd.py" "$SRV" --port-file "$TMP/port" --parent $$ --timeout 300 >/dev/null &
srv_pid=$!
trap 'kill "$srv_pid" 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || bail "httpd.py did not start"
BASE=http://127.0.0.1:$(cat "$TMP/port")
export LXGPU_NVIDIA_URL=$BASE
requests() { "$PYTHON" -c 'import sys, urllib.request as u; print(u.urlopen(sys.argv[1]).read().decode())' "$BASE/_log" | jq -r '[.requests[] | select(.method == "GET") | .path] | join(",")'; }
reset() { "$PYTHON" -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1]).read()' "$BASE/_reset"; rm -f "$CALLS"; }

h=$(host inst h100-580.159.04.spec pve.spec) || bail "fake host"
full_host "$h"
export HOST_ROOT=$h
# a plain LXC container with a copied driver of the running version
ct=$h/var/lib/lxc/ct
mkdir -p "$ct/rootfs/usr/lib/x86_64-linux-gnu"
printf 'lxc.net.0.type = empty\nlxc.rootfs.path = dir:/var/lib/lxc/ct/rootfs\n' >"$ct/config"
: >"$ct/rootfs/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.$V"
ln -s "libnvidia-ml.so.$V" "$ct/rootfs/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"

reset
run --sysroot "$h" host install-driver --dry-run
eq "install --dry-run: exit 0" "$rc" 0
contains "install --dry-run: the newest of the loaded module's branch, not latest.txt's" "$out" \
	"would install NVIDIA's driver $NV (the newest of branch 580, the loaded module's) with DKMS"
contains "install --dry-run: names the container to sync" "$out" "lxgpu sync after the reboot: ct"
eq "install --dry-run: only the index fetched, nothing run" "$(requests)|$(calls)" "/|"

# a running container with a copied driver: refused
mkdir -p "$h/proc/net"
printf 'Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 41229 @/var/lib/lxc/ct/command\n' >"$h/proc/net/unix"
reset
run --sysroot "$h" host install-driver
eq "install, copied driver running: exit 1" "$rc" 1
check "install, copied driver running: one-line error" one_line_error
contains "install, copied driver running: names it" "$err" "containers with a copied driver are running: ct ($V)"
eq "install, copied driver running: nothing fetched or run" "$(requests)|$(calls)" "|"
rm "$h/proc/net/unix"

# the installer fails
reset
FAIL=installer run --sysroot "$h" host install-driver
eq "installer fails: exit 1" "$rc" 1
contains "installer fails: exit code and log" "$err" "$NAME failed (exit 3): see /var/log/lxgpu/host-install-$NV.log"
check "installer fails: no DKMS tree claimed" test ! -e "$h/var/lib/dkms/nvidia/$NV"
eq "installer fails: index, checksum, installer downloaded" "$(requests)" "/,/$NV/$NAME.sha256sum,/$NV/$NAME"

# the real run
reset
run --sysroot "$h" host install-driver
eq "install: exit 0" "$rc" 0
eq "install: the cached installer reused, after its checksum" "$(requests)" "/,/$NV/$NAME.sha256sum"
eq "install: silent, DKMS, no questions, no UI, its log kept" "$(calls)" \
	"installer --silent --dkms --no-questions --ui=none --log-file-name=$h/var/log/lxgpu/nvidia-installer-$NV.log;"
check "install: the installer cached" cmp "$SRV/$NV/$NAME" "$h/var/cache/lxgpu/$NAME"
check "install: lxgpu's log of it" test -s "$h/var/log/lxgpu/host-install-$NV.log"
contains "install: the old module runs until a reboot" "$out" "the running module is $V until the host reboots"
contains "install: the container to sync" "$out" "run lxgpu sync for their copied driver: ct"

# --version, --installer, latest.txt missing, Intel
reset
run --sysroot "$h" host install-driver --version 1.2.3 --json
eq "--version of a missing release: exit 1" "$rc" 1
contains "--version of a missing release: HTTP 404" "$err" "HTTP 404"
mv "$SRV/index.html" "$SRV/index.off"
run --sysroot "$h" host install-driver --dry-run
eq "no index page: exit 1" "$rc" 1
contains "no index page: asks for --version" "$err" "NVIDIA's 580 drivers are unknown; pass --version V"
index 570.195.03 580.95.05 "$NEWEST" >"$SRV/index.html"
run --sysroot "$h" host install-driver --dry-run
eq "no 580 newer than the loaded one: exit 0" "$rc" 0
contains "no 580 newer than the loaded one: the loaded release again, with DKMS" "$out" \
	"would install NVIDIA's driver $V (the loaded module's; $BASE/ lists no newer 580 driver) with DKMS"
mv "$SRV/index.off" "$SRV/index.html"
# no module loaded (nouveau has the GPU): NVIDIA's newest, latest.txt
hn=$(host nomod nouveau-optiplex.spec) || bail "fake host"
mkdir -p "$hn/proc/sys/kernel" "$hn/lib/modules/$K/build"
echo "$K" >"$hn/proc/sys/kernel/osrelease"
reset
run --sysroot "$hn" host install-driver --dry-run --json
eq "no module loaded: NVIDIA's newest from latest.txt" "$rc $(jqr '"\(.version) \(.version_from)"')" \
	"0 $NEWEST NVIDIA's newest (latest.txt); GPUs before Turing need --version of branch 580 or older"
eq "no module loaded: only latest.txt fetched" "$(requests)" "/latest.txt"
mv "$SRV/latest.txt" "$SRV/latest.off"
run --sysroot "$hn" host install-driver --dry-run
eq "no latest.txt: exit 1" "$rc" 1
contains "no latest.txt: asks for --version" "$err" "NVIDIA's newest driver is unknown; pass --version V"
mv "$SRV/latest.off" "$SRV/latest.txt"
mkdir -p "$h/root"
cp "$SRV/$NV/$NAME" "$h/root/$NAME"
reset
rm -rf "$h/var/lib/dkms/nvidia/$NV"
run --sysroot "$h" host install-driver --installer "/root/$NAME" --json
eq "--installer: exit 0, no download" "$rc $(requests)" "0 "
eq "--installer: version from its name, ct to sync" "$(jqr '"\(.changed) \(.version) \(.sync | join(","))"')" "true $NV ct"
h=$(host intel3 intel-n100.spec) || bail "fake host"
run --sysroot "$h" host install-driver --version $NV
eq "intel: nothing to install, exit 1" "$rc" 1
contains "intel: says why" "$err" "no NVIDIA GPU on this host: nothing to install"

done_testing
