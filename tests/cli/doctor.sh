#!/bin/bash
# shellcheck disable=SC2016 # jq and awk programs: their $ is theirs
# doctor on fake hosts and fake container roots: each host check in its good
# state and in its bad ones, with the fix it names (GPU bound to nvidia,
# vfio-pci, nouveau or nothing; nouveau blacklisted; DKMS; kernel headers;
# nvidia-persistenced; the uvm nodes; lxgpu-sync.service: the lines of
# `lxgpu host status`, same ids, info shown as ok), the container part
# (what check reports, plus Docker inside and its no-cgroups setting), exit
# codes (0 when nothing is ✗, 3 otherwise; README.md) and --json; then
# doctor --explain for the messages users report (sources at section 4). The good
# and bad states are written here from how the pieces are installed (DKMS's
# tree, modprobe.d, systemd's wants links, /proc/<pid>/comm), not from
# lxgpu's output. Behaviours lxgpu gets wrong today are TAP "# TODO" tests.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
command -v jq >/dev/null || skip_all "jq not installed"

jqa() { jq -r "$@" <<<"$out"; }
fake() { # DIR: bails out unless DIR is a fake host root below $TMP
	case $1 in "$TMP"/?*) ;; *) bail "not a fake host: '$1'" ;; esac
	[ -f "$1/proc/devices" ] || bail "fake host $1 has no /proc/devices"
}
clone() { # NAME BASE: a copy of a fake host
	cp -a "$2" "$TMP/$1" || bail "cp -a $2 $TMP/$1 failed"
	fake "$TMP/$1"
	echo "$TMP/$1"
}
# item ID: "status|fix" of the doctor --json host item ID (several: joined by ;)
item() { jqa --arg id "$1" '[.host[] | select(.id == $id) | "\(.status)|\(.fix)"] | join(";")'; }
msg() { jqa --arg id "$1" '[.host[] | select(.id == $id) | .message] | join(";")'; }

V=580.159.04
K=6.8.12-4-pve
# good HOST: every host check in its good state, as a Proxmox host keeps them
good() {
	local h=$1
	mkdir -p "$h/proc/sys/kernel" "$h/etc/modprobe.d" "$h/var/lib/dkms/nvidia/$V/$K/x86_64/module" \
		"$h/usr/src/linux-headers-$K" "$h/lib/modules/$K" "$h/run/nvidia-persistenced" "$h/proc/2187" \
		"$h/etc/systemd/system/multi-user.target.wants"
	echo "$K" >"$h/proc/sys/kernel/osrelease"
	printf 'blacklist nouveau\noptions nouveau modeset=0\n' >"$h/etc/modprobe.d/blacklist-nouveau.conf"
	touch "$h/var/lib/dkms/nvidia/$V/$K/x86_64/module/nvidia.ko"
	ln -sfn "/usr/src/linux-headers-$K" "$h/lib/modules/$K/build"
	echo 2187 >"$h/run/nvidia-persistenced/nvidia-persistenced.pid"
	echo nvidia-persiste >"$h/proc/2187/comm" # comm is cut to 15 characters
	printf '[Unit]\nDescription=lxgpu\n' >"$h/etc/systemd/system/lxgpu-sync.service"
	ln -sfn /etc/systemd/system/lxgpu-sync.service "$h/etc/systemd/system/multi-user.target.wants/lxgpu-sync.service"
}

base=$(host doctor h100-580.159.04.spec pve.spec) || bail "mkhost h100 + pve failed"
fake "$base"
good "$base"

######## 1. the good host: every check ✓, exit 0
run --sysroot "$base" doctor --json
eq "good host: exit 0" "$rc" 0
eq "good host: JSON document (schema 1, host[], containers[], drift)" \
	"$(jqr '"\(.schema) \(.host | type) \(.containers | type) \(.drift)"')" "1 array array false"
eq "good host: every item has id, status, message, fix" "$(jqr '[.host[] | keys | join(",")] | unique | join(" ")')" \
	"fix,id,message,status"
eq "good host: every check ✓" "$(jqr '[.host[] | "\(.id)=\(.status)"] | join(" ")')" \
	"kernel=ok gpu=ok nouveau=ok nvidia-module=ok dkms=ok headers=ok persistenced=ok boot-unit=ok nodes=ok"
contains "good host: the GPU bound to nvidia" "$(msg gpu)" "0000:00:06.0"
contains "good host: the GPU's model (the spec's information file)" "$(msg gpu)" "NVIDIA H100 80GB HBM3"
contains "good host: the Proxmox kernel" "$(msg kernel)" "$K (Proxmox VE)"
contains "good host: the module's version" "$(msg nvidia-module)" "$V"
contains "good host: DKMS built for the running kernel" "$(msg dkms)" "$K"
contains "good host: persistenced's pid" "$(msg persistenced)" 2187
contains "good host: uvm nodes with their numbers (238, h100 capture)" "$(msg nodes)" \
	"/dev/nvidia-uvm 238:0, /dev/nvidia-uvm-tools 238:1"
run --sysroot "$base" doctor
eq "good host text: exit 0" "$rc" 0
eq "good host text: only ✓ lines" "$(grep -c '^  ✓ ' <<<"$out") $(grep -cE '^  (✗|!) ' <<<"$out")" "9 0"
eq "good host text: last line" "$(tail -1 <<<"$out")" "no problem found"

######## 2. each host check turned bad, one at a time
# bad NAME DESC ID STATUS FIX_PART SETUP...: a copy of the good host, SETUP run
# in it, then doctor's item ID has STATUS and a fix containing FIX_PART, and
# the exit code follows (3 when an item is an error)
bad() {
	local name=$1 desc=$2 id=$3 status=$4 fix=$5 h
	shift 5
	h=$(clone "$name" "$base")
	(cd "$h" && eval "$*") || bail "$desc: setup failed"
	run --sysroot "$h" doctor --json
	local got
	got=$(item "$id")
	eq "$desc: $id is $status" "${got%%|*}" "$status"
	contains "$desc: the fix" "${got#*|}" "$fix"
	eq "$desc: exit $([ "$status" = error ] && echo 3 || echo 0), drift" "$rc $(jqr .drift)" \
		"$([ "$status" = error ] && echo "3 true" || echo "0 false")"
}
# host prepare writes the blacklist file (and the initramfs)
NB_FIX="lxgpu host prepare"
bad nb1 "no blacklist" nouveau warning "$NB_FIX" 'rm etc/modprobe.d/blacklist-nouveau.conf'
bad nb2 "blacklist commented out" nouveau warning "$NB_FIX" \
	'echo "# blacklist nouveau" >etc/modprobe.d/blacklist-nouveau.conf'
bad nb3 "blacklist in a file without .conf (modprobe reads *.conf only)" nouveau warning "$NB_FIX" \
	'mv etc/modprobe.d/blacklist-nouveau.conf etc/modprobe.d/blacklist-nouveau'
bad nb4 "blacklist of another module" nouveau warning "$NB_FIX" \
	'echo "blacklist nouveaufb" >etc/modprobe.d/blacklist-nouveau.conf'
h=$(clone nb5 "$base")
rm "$h/etc/modprobe.d/blacklist-nouveau.conf"
mkdir -p "$h/usr/lib/modprobe.d"
printf '  blacklist\tnouveau  \n' >"$h/usr/lib/modprobe.d/nvidia-graphics-drivers.conf"
run --sysroot "$h" doctor --json
eq "blacklist in /usr/lib/modprobe.d, odd spacing: ok" "$(item nouveau)" "ok|null"
contains "blacklist in /usr/lib/modprobe.d: names the file" "$(msg nouveau)" \
	/usr/lib/modprobe.d/nvidia-graphics-drivers.conf

bad dk1 "DKMS built only for an older kernel" dkms warning "dkms autoinstall" \
	"mv var/lib/dkms/nvidia/$V/$K var/lib/dkms/nvidia/$V/6.8.12-2-pve"
# install-driver runs NVIDIA's installer with --dkms
bad dk2 "no DKMS: installed from the .run without --dkms" dkms warning "lxgpu host install-driver --version $V" 'rm -r var/lib/dkms'
bad dk3 "DKMS only for the previous driver" dkms warning "lxgpu host install-driver --version $V" \
	"mv var/lib/dkms/nvidia/$V var/lib/dkms/nvidia/570.86.10"
h=$(clone dk4 "$base")
rm -r "$h/var/lib/dkms"
printf '\nPackage: nvidia-kernel-dkms\nStatus: install ok installed\nVersion: %s-1\n' "$V" >>"$h/var/lib/dpkg/status"
run --sysroot "$h" doctor --json
eq "DKMS from Debian's package (nvidia-kernel-dkms): ok" "$(item dkms)" "ok|null"
contains "DKMS from Debian's package: names it and its version" "$(msg dkms)" "nvidia-kernel-dkms $V-1"
rm -r "$h/usr/src/linux-headers-$K"
run --sysroot "$h" doctor --json
eq "DKMS from Debian's package, no headers: an error (it cannot build)" "$(item headers | cut -d'|' -f1)" error
printf '\nPackage: nvidia-open-kernel-dkms\nStatus: deinstall ok config-files\nVersion: %s-1\n' "$V" >"$TMP/removed"
h=$(clone dk5 "$base")
rm -r "$h/var/lib/dkms"
cat "$TMP/removed" >>"$h/var/lib/dpkg/status"
run --sysroot "$h" doctor --json
eq "a removed DKMS package (config-files only) is not DKMS" "$(item dkms | cut -d'|' -f1)" warning

bad hd1 "headers removed (dangling build link) while DKMS builds nvidia" headers error \
	"lxgpu host prepare (apt-get install proxmox-headers-$K)" "rm -r usr/src/linux-headers-$K"
bad hd2 "no headers, no DKMS" headers warning "apt-get install proxmox-headers-$K" \
	"rm -r usr/src/linux-headers-$K var/lib/dkms"
bad hd3 "a Debian kernel without headers" headers warning "apt-get install linux-headers-6.1.0-28-amd64" \
	'echo 6.1.0-28-amd64 >proc/sys/kernel/osrelease; rm -r var/lib/dkms'

PD_FIX="systemctl enable --now nvidia-persistenced"
bad pd1 "persistenced not running (no pid file)" persistenced warning "$PD_FIX" 'rm -r run/nvidia-persistenced'
bad pd2 "persistenced pid file left, process gone" persistenced warning "$PD_FIX" 'rm -r proc/2187'
bad pd3 "persistenced pid reused by another program" persistenced warning "$PD_FIX" 'echo bash >proc/2187/comm'

BU_FIX="lxgpu host prepare" # it enables the unit
bad bu1 "lxgpu-sync.service not enabled" boot-unit warning "$BU_FIX" \
	'rm etc/systemd/system/multi-user.target.wants/lxgpu-sync.service'
h=$(clone bu2 "$base")
rm "$h/etc/systemd/system/multi-user.target.wants/lxgpu-sync.service"
mkdir -p "$h/etc/systemd/system/sysinit.target.wants"
ln -s /etc/systemd/system/lxgpu-sync.service "$h/etc/systemd/system/sysinit.target.wants/lxgpu-sync.service"
run --sysroot "$h" doctor --json
eq "lxgpu-sync.service enabled by sysinit.target: ok" "$(item boot-unit)" "ok|null"

# uvm: after boot (no module, no nodes), and nodes of an old major
for spec in h100-after-boot h100-stale-uvm; do
	h=$(host "doctor-$spec" "$spec.spec" pve.spec) || bail "mkhost $spec failed"
	fake "$h"
	good "$h"
	run --sysroot "$h" doctor --json
	case $spec in
	h100-after-boot)
		eq "after boot: exit 0 (a warning)" "$rc" 0
		eq "after boot: ! for the uvm nodes, fixed by sync" "$(item nodes)" \
			"warning|lxgpu sync --all (and lxgpu host prepare for each boot)"
		contains "after boot: both uvm nodes missing" "$(msg nodes)" "missing: /dev/nvidia-uvm /dev/nvidia-uvm-tools;"
		eq "after boot: ! with nvidia-modprobe -u" \
			"$(jqr '[.host[] | select(.fix != null and (.fix | contains("nvidia-modprobe -u"))) | .status] | join(",")')" warning
		;;
	h100-stale-uvm)
		eq "uvm nodes of another major (511, /proc/devices 238): exit 3" "$rc" 3
		eq "stale uvm: ✗ for both nodes, each with the fix" \
			"$(jqr '[.host[] | select(.status == "error") | .fix] | join("|")')" \
			"rm -f /dev/nvidia-uvm /dev/nvidia-uvm-tools && nvidia-modprobe -u -c 0|rm -f /dev/nvidia-uvm /dev/nvidia-uvm-tools && nvidia-modprobe -u -c 0"
		eq "stale uvm: ! for the uvm nodes (511 is not nvidia-uvm's major), fixed by sync" \
			"$(item nodes)" "warning|lxgpu sync --all"
		contains "stale uvm: names the major and both nodes" "$(msg nodes)" \
			"not nvidia-uvm's major 238 (/proc/devices): /dev/nvidia-uvm /dev/nvidia-uvm-tools;"
		;;
	esac
done

# the GPU: bound to nvidia (above), vfio-pci, nouveau, nothing; no GPU at all
gpu_host() { # NAME SPEC...: a fake host, bailing out if not made
	local h
	h=$(host "$@") || bail "mkhost ${*:2} failed"
	fake "$h"
	echo "$h"
}
nv=$(gpu_host doctor-nouveau nouveau-optiplex.spec)
run --sysroot "$nv" doctor --json
eq "nouveau: exit 3, drift" "$rc $(jqr .drift)" "3 true"
eq "nouveau: the GT 710 is ✗, bound to nouveau" \
	"$(jqr '[.host[] | select(.id == "gpu" and .status == "error") | .message | contains("0000:01:00.0") and contains("nouveau")] | join(",")')" true
contains "nouveau: a ✗ with the blacklist fix" "$(jqr '[.host[] | select(.status == "error") | .fix] | join("|")')" \
	"blacklist nouveau"
eq "nouveau: the Intel GPU beside it is ✓ (i915)" \
	"$(jqr '[.host[] | select(.id == "gpu" and .status == "ok") | .message | contains("i915")] | join(",")')" true
vf=$(gpu_host doctor-vfio vfio.spec)
run --sysroot "$vf" doctor --json
eq "vfio-pci: exit 3" "$rc" 3
eq "vfio-pci: both GPUs ✗, given to a VM" \
	"$(jqr '[.host[] | select(.id == "gpu") | "\(.status) \(.message | contains("vfio-pci"))"] | join(",")')" \
	"error true,error true"
eq "vfio-pci: the ✗ line says its fix (unbind from vfio-pci)" \
	"$(jqr '[.host[] | select(.status == "error") | .fix // "" | contains("vfio-pci/unbind")] | any')" true
# one GPU given to a VM beside the H100 left for containers: a choice, not a fault
h=$(clone vfio-beside "$base")
d=$h/sys/devices/pci0000:00/0000:00:07.0
mkdir -p "$d"
echo 0x10de >"$d/vendor"
echo 0x2504 >"$d/device"
echo 0x030000 >"$d/class"
ln -s ../../../../bus/pci/drivers/vfio-pci "$d/driver"
ln -s ../../../devices/pci0000:00/0000:00:07.0 "$h/sys/bus/pci/devices/0000:00:07.0"
run --sysroot "$h" doctor --json
eq "vfio-pci beside a GPU for containers: exit 0" "$rc" 0
eq "vfio-pci beside a GPU for containers: both GPUs ✓ (the VM's is information)" \
	"$(jqr '[.host[] | select(.id == "gpu") | "\(.status) \(.message | contains("vfio-pci"))"] | join(",")')" \
	"ok false,ok true"
rm "$vf/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver"
run --sysroot "$vf" doctor --json
eq "no driver bound: exit 3" "$rc" 3
eq "no driver bound: GPU 0 ✗" "$(jqr '[.host[] | select(.id == "gpu" and (.message | contains("0000:01:00.0"))) | .status] | join(",")')" error
contains "no driver bound: a ✗ whose fix loads nvidia" "$(jqr '[.host[] | select(.status == "error") | .fix] | join("|")')" \
	"modprobe nvidia"
ng=$(gpu_host doctor-nogpu no-gpu.spec)
run --sysroot "$ng" doctor --json
eq "no GPU: exit 3" "$rc" 3
eq "no GPU: a ✗ gpu item" "$(item gpu | cut -d'|' -f1)" error
contains "no GPU: the fix lists the PCI display devices" "$(item gpu)" "lspci -nnk"
eq "no GPU: said once (discover's no-gpu finding is the gpu line)" \
	"$(jqr '[.host[] | select(.status == "error")] | length')" 1
# every ✗ says its fix: the text ends with "problems found: each ✗ line says its fix"
without=""
for h in "$nv" "$vf" "$ng"; do
	run --sysroot "$h" doctor --json
	without+=$(jqr '.host[] | select(.status == "error" and .fix == null) | "[\(.message)] "')
done
eq "every ✗ on the nouveau, vfio and no-GPU hosts has a fix" "$without" ""
run --sysroot "$nv" doctor
eq "nouveau text: exit 3" "$rc" 3
contains "nouveau text: a ✗ line" "$out" "  ✗ "
eq "nouveau text: last line" "$(tail -1 <<<"$out")" "problems found: each ✗ line says its fix"

######## 3. containers: what check reports, and Docker inside
h=$(clone ct "$base")
mkct() { # NAME: a plain LXC container on $h
	mkdir -p "$h/var/lib/lxc/$1/rootfs/etc"
	echo 12.8 >"$h/var/lib/lxc/$1/rootfs/etc/debian_version"
	printf 'lxc.rootfs.path = dir:/var/lib/lxc/%s/rootfs\nlxc.net.0.type = empty\n' "$1" >"$h/var/lib/lxc/$1/config"
}
mkct c1
mkct c2
run --sysroot "$h" attach c1 --quiet
[ "$rc" = 0 ] || bail "attach c1 failed: $err"
run --sysroot "$h" driver c1 --mode copy --quiet
[ "$rc" = 0 ] || bail "driver c1 --mode copy failed: $err"
r=$h/var/lib/lxc/c1/rootfs
lib=$r/usr/lib/x86_64-linux-gnu

same_as_check() { # DESC: doctor's checks of c1 are check's, in order
	run --sysroot "$h" check c1 --json
	local want
	want=$(jqr '[.checks[] | "\(.id) \(.status) \(.fix)"] | join("|")')
	run --sysroot "$h" doctor c1 --json
	eq "$1: doctor c1 reports what check c1 reports" \
		"$(jqr '[.containers[0].checks[] | select(.id | startswith("docker") | not) | "\(.id) \(.status) \(.fix)"] | join("|")')" "$want"
}
same_as_check "driver copied"
eq "driver copied: exit 0, containers[0]" "$rc $(jqr '.containers | map("\(.ct) \(.running)") | join(",")')" "0 c1 false"
eq "driver copied: every container check ✓" "$(jqr '[.containers[0].checks[].status] | unique | join(",")')" ok
run --sysroot "$h" doctor --json
eq "doctor without CT: c1 (GPU lines), not c2 (none)" "$(jqr '[.containers[].ct] | join(",")')" c1
run --sysroot "$h" doctor c2 --json
eq "doctor c2 (no GPU lines, named): exit 3" "$rc" 3
eq "doctor c2: a ✗ that says to attach" "$(jqr '[.containers[0].checks[] | select(.status == "error") | .message | contains("lxgpu attach c2")] | join(",")')" true
run --sysroot "$h" doctor nosuch
eq "doctor of no container: exit 1" "$rc" 1
check "doctor of no container: one line" one_line_error
run --sysroot "$h" doctor ../c1
eq "doctor of a path: exit 2" "$rc" 2
check "doctor of a path: one line" one_line_error

# the host's driver moves on: the container keeps its old copy
ln -sfn libnvidia-ml.so.570.86.10 "$lib/libnvidia-ml.so.1"
touch "$lib/libnvidia-ml.so.570.86.10"
same_as_check "driver mismatch"
eq "driver mismatch: exit 3, drift" "$rc $(jqr .drift)" "3 true"
eq "driver mismatch: ✗ with the fix naming c1" \
	"$(jqr '.containers[0].checks[] | select(.id == "driver-mismatch") | "\(.status) \(.fix)"')" \
	"error lxgpu driver c1 --mode bind (or --mode copy again)"
ln -sfn "libnvidia-ml.so.$V" "$lib/libnvidia-ml.so.1"
# a config line for a node the host no longer has
echo 'lxc.cgroup2.devices.allow = c 238:7 rwm' >>"$h/var/lib/lxc/c1/config"
echo 'lxc.mount.entry = /dev/nvidia7 dev/nvidia7 none bind,optional,create=file' >>"$h/var/lib/lxc/c1/config"
same_as_check "a line for a missing node"
sed -i '/238:7\|nvidia7/d' "$h/var/lib/lxc/c1/config"
run --sysroot "$h" doctor c1 --json
eq "lines removed again: exit 0" "$rc" 0

# Docker inside
docker_items() { # doctor c1: its Docker checks in $dk ("ID STATUS FIX|...")
	run --sysroot "$h" doctor c1 --json
	dk=$(jqr '[.containers[0].checks[] | select(.id | startswith("docker")) | "\(.id) \(.status) \(.fix)"] | join("|")')
}
docker_items
eq "no dockerd: no Docker check" "$dk" ""
mkdir -p "$r/usr/bin" "$r/etc/nvidia-container-runtime"
printf '\177ELF dockerd\n' >"$r/usr/bin/dockerd"
chmod 755 "$r/usr/bin/dockerd"
docker_items
eq "dockerd without nvidia-container-toolkit: !" "$(cut -d' ' -f1,2 <<<"$dk")" "docker-toolkit warning"
eq "dockerd without the toolkit: exit 0" "$rc" 0
eq "dockerd without the toolkit: the fix names c1" \
	"$(jqr '.containers[0].checks[] | select(.id == "docker-toolkit") | .fix | test("\\bCT\\b")')" false
# nvidia-container-toolkit's shipped config.toml: no-cgroups commented out
TOML='#accept-nvidia-visible-devices-as-volume-mounts = false
disable-require = false
supported-driver-capabilities = "compat32,compute,display,graphics,ngx,utility,video"

[nvidia-container-cli]
#debug = "/var/log/nvidia-container-toolkit.log"
environment = []
ldconfig = "@/sbin/ldconfig.real"
load-kmods = true
#no-cgroups = false
#path = "/usr/bin/nvidia-container-cli"
#root = "/run/nvidia/driver"

[nvidia-container-runtime]
log-level = "info"
mode = "auto"
runtimes = ["docker-runc", "runc", "crun"]

[nvidia-container-runtime.modes.cdi]
default-kind = "nvidia.com/gpu"
spec-dirs = ["/etc/cdi", "/var/run/cdi"]'
toml() { printf '%s\n' "$1" >"$r/etc/nvidia-container-runtime/config.toml"; }
toml "$TOML"
docker_items
eq "the toolkit's shipped config (no-cgroups commented out): ✗ with the fix" "$dk" \
	"docker-no-cgroups error lxgpu driver c1 --docker"
eq "no-cgroups commented out: exit 3" "$rc" 3
toml "${TOML/\#no-cgroups = false/no-cgroups = true}"
docker_items
eq "no-cgroups = true under [nvidia-container-cli]: ✓" "$dk" "docker-no-cgroups ok null"
eq "no-cgroups = true: exit 0" "$rc" 0
toml "${TOML/\#no-cgroups = false/no-cgroups=true}"
docker_items
eq "no-cgroups=true (no spaces, valid TOML): ✓" "$dk" "docker-no-cgroups ok null"
toml "${TOML/\#no-cgroups = false/no-cgroups = false}"
docker_items
eq "no-cgroups = false: ✗" "$(cut -d' ' -f1,2 <<<"$dk")" "docker-no-cgroups error"
toml "${TOML/log-level = \"info\"/no-cgroups = true}"
docker_items
eq "no-cgroups = true under [nvidia-container-runtime] only: ✗" "$(cut -d' ' -f1,2 <<<"$dk")" "docker-no-cgroups error"
mv "$r/usr/bin/dockerd" "$r/usr/sbin-dockerd"
mkdir -p "$r/usr/sbin"
mv "$r/usr/sbin-dockerd" "$r/usr/sbin/dockerd"
docker_items
eq "dockerd in /usr/sbin: found too" "$(cut -d' ' -f1,2 <<<"$dk")" "docker-no-cgroups error"
# the fix doctor names must make the check pass
toml "$TOML"
run --sysroot "$h" driver c1 --docker
docker_items
eq "lxgpu driver c1 --docker (the fix): then doctor's check is ✓" \
	"$dk" "docker-no-cgroups ok null"
rm -f "$r/usr/sbin/dockerd"

# podman inside: it finds the GPU through a CDI spec in /etc/cdi
podman_items() { # doctor c1: its podman check in $pm ("ID STATUS FIX")
	run --sysroot "$h" doctor c1 --json
	pm=$(jqr '[.containers[0].checks[] | select(.id | startswith("podman")) | "\(.id) \(.status) \(.fix)"] | join("|")')
}
podman_items
eq "no podman: no podman check" "$pm" ""
printf '\177ELF podman\n' >"$r/usr/bin/podman"
chmod 755 "$r/usr/bin/podman"
podman_items
eq "podman without a CDI spec: ! with the fix" "$pm" "podman-cdi warning lxgpu driver c1 --docker"
eq "podman without a spec: exit 0 (a warning)" "$rc" 0
run --sysroot "$h" driver c1 --docker
eq "driver c1 --docker (the fix): exit 0" "$rc" 0
podman_items
eq "then doctor's podman check is ✓" "$pm" "podman-cdi ok null"
rm -f "$r/usr/bin/podman" "$r/etc/cdi/lxgpu-nvidia.json"

######## 4. doctor --explain: the messages users report
# MESSAGE|KEYWORD: the message as people paste it, and a word the cause or fix
# must hold, from the fix their threads arrived at. Sources (GitHub
# owner/repo#issue): version mismatch nvidiavgpuarchive/index#1,
# psalias2006/gpu-hot#48, canonical/lxd#3642; "Unknown Error" and "No CUDA
# GPUs" with the nodes bound but no cgroup rule (tests/gpu/attach.sh shows both
# on a real GPU); "Device ... does not exist" at start pve-container's
# src/PVE/LXC/Tools.pm get_device_mode_and_rdev, community-scripts/ProxmoxVE#6270;
# nvidia-modeset remz1337/Proxmox#8; bpf_prog_query NVIDIA/libnvidia-container#154;
# libnvidia-ml.so.1 AbdBarho/stable-diffusion-webui-docker#48; nvidia-uvm
# already loaded canonical/lxd#5415; CUDA error 999 NVIDIA/nvidia-container-toolkit#1934;
# renderD128 permission tteck/Proxmox#2523; driver rpc timeout
# NVIDIA/nvidia-container-toolkit#202.
EXPLAIN=(
	"Failed to initialize NVML: Driver/library version mismatch|--mode bind"
	"NVRM: API mismatch: the client has the version 570.148.08, but this kernel module has the version 570.148.06.  Please make sure that this kernel module and all NVIDIA driver components have the same version.|--mode bind"
	"running error - initialization error: nvml error: driver/library version mismatch|--mode bind"
	"Failed to initialize NVML: Unknown Error|cgroup"
	"RuntimeError: No CUDA GPUs are available|/dev/nvidia"
	"TASK ERROR: Device /dev/nvidia-uvm does not exist|lxgpu-sync.service"
	"TASK ERROR: Device /dev/dri/card0 does not exist|lxgpu-sync.service"
	'lxc-start 101 20240510 conf.c: mount_entry: 2251 No such file or directory - Failed to mount "/dev/nvidia-modeset" onto "/usr/lib/x86_64-linux-gnu/lxc/rootfs/dev/nvidia-modeset"|optional'
	"lxc-start 101 20240510 start.c: lxc_init: 844 Failed to run autodev hooks|optional"
	"nvidia-container-cli: mount error: failed to add device rules: unable to find any existing device filters attached to the cgroup: bpf_prog_query(BPF_CGROUP_DEVICE) failed: operation not permitted: unknown|no-cgroups"
	"nvidia-container-cli: initialization error: load library failed: libnvidia-ml.so.1: cannot open shared object file: no such file or directory: unknown|lxgpu driver"
	"CUDA error: CUDA driver version is insufficient for CUDA runtime version|compat"
	"ERROR: An NVIDIA kernel module 'nvidia-uvm' appears to already be loaded in your kernel.|--no-kernel-module"
	"CUDA error 999: unknown error (cuInit)|nvidia-uvm"
	"open /dev/dri/renderD128: Permission denied|render"
)
declare -A IDS
for e in "${EXPLAIN[@]}"; do
	m=${e%|*} kw=${e##*|}
	short=${m:0:60}
	run --sysroot "$base" doctor --explain "$m" --json
	eq "explain '$short': exit 0, known" "$rc $(jqr '"\(.schema) \(.known)"')" "0 1 true"
	contains "explain '$short': cause and fix say '$kw'" "$(jqr '"\(.cause) \(.fix)"')" "$kw"
	IDS[$m]=$(jqr .id)
	run --sysroot "$base" doctor 101 --explain "$m" --json
	fix=$(jqr .fix)
	if [ "$m" = "TASK ERROR: Device /dev/nvidia-uvm does not exist" ] || [ "$m" = "TASK ERROR: Device /dev/dri/card0 does not exist" ]; then
		eq "explain '$short' for CT 101: the fix names 101" \
			"$(grep -c '\b101\b' <<<"$fix")" 1
	else
		contains "explain '$short' for CT 101: the fix names 101" "$fix" 101
	fi
	lacks "explain '$short' for CT 101: no placeholder CT left" "$fix" " CT "
done
eq "explain: the three version-mismatch messages are one problem" \
	"$(printf '%s\n' "${IDS[Failed to initialize NVML: Driver/library version mismatch]}" \
		"${IDS[running error - initialization error: nvml error: driver/library version mismatch]}" | sort -u | wc -l)" 1
eq \
	"explain 'Device /dev/dri/card0 does not exist': names DRM renumbering or by-path" \
	"$(run --sysroot "$base" doctor --explain "TASK ERROR: Device /dev/dri/card0 does not exist" --json
		jqr '"\(.cause) \(.fix)" | test("by-path|renumber|numbering|/dev/dri")')" true
# FFmpeg's line when the render node cannot be opened (jellyfin/jellyfin#6505,
# linuxserver/docker-plex#359: unprivileged containers); "Device /dev/" matches it case-insensitively
run --sysroot "$base" doctor --explain "[AVHWDeviceContext @ 0x55d0c8a1e2c0] No VA display found for device /dev/dri/renderD128." --json
eq \
	"explain FFmpeg's 'No VA display found for device /dev/dri/renderD128': not a Proxmox start failure" \
	"$(jqr '.cause // "" | contains("refused to start")')" false
eq \
	"explain 'driver rpc error: timed out': known, fix starts nvidia-persistenced" \
	"$(run --sysroot "$base" doctor --explain "nvidia-container-cli: initialization error: driver rpc error: timed out: unknown" --json
		jqr '"\(.known) \(.fix // "" | contains("nvidia-persistenced"))"')" "true true"
run --sysroot "$base" doctor --explain "Failed to initialize NVML: Driver/library version mismatch"
eq "explain text: exit 0" "$rc" 0
eq "explain text: id, cause, fix" "$(cut -d: -f1 <<<"$out" | sed -n '2,3p' | paste -sd' ' -)" "cause fix"
run --sysroot "$base" doctor --explain "Segmentation fault (core dumped)"
eq "explain an unknown message: exit 1" "$rc" 1
check "explain an unknown message: one line" one_line_error
eq "explain an unknown message: nothing on stdout" "$out" ""
run --sysroot "$base" doctor 101 --explain "Segmentation fault (core dumped)"
contains "explain an unknown message with CT: points to lxgpu doctor 101" "$err" "lxgpu doctor 101"
run --sysroot "$base" doctor --explain "Segmentation fault (core dumped)" --json
eq "explain an unknown message --json: known false, exit 1" "$rc $(jqr '"\(.schema) \(.known)"')" "1 1 false"
run --sysroot "$base" doctor ../x --explain "No CUDA GPUs are available"
eq "explain with a bad CT: exit 2" "$rc" 2

done_testing
