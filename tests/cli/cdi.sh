#!/bin/bash
# lxgpu cdi on fake hosts: the CDI spec's required fields and patterns (SPEC.md
# and pkg/parser/parser.go of cncf-tags/container-device-interface), the
# upstream JSON schema (tests/cdi, when python3-jsonschema is there), and the
# numbers, names and files of the host specs in tests/hosts, read from the
# spec files here, never from lxgpu.
. "$(dirname "$0")/lib.sh"
need_root
command -v jq >/dev/null || skip_all "needs jq"

SCHEMA=$(cd "$(dirname "$0")/../cdi" && pwd)
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }

# spec_text SPEC: a host spec with its includes in place, as mkhost reads it
spec_text() {
	local line
	while IFS= read -r line; do
		case $line in
		"include "*) spec_text "${line#include }" ;;
		*) printf '%s\n' "$line" ;;
		esac
	done <"$HOSTS/$1"
}
# spec_node SPEC PATH: "MAJOR:MINOR" of the last node line of PATH in a host spec
spec_node() { spec_text "$1" | awk -v p="$2" '$1 == "node" && $2 == p { n = $4 ":" $5 } END { print n }'; }
# spec_major SPEC NAME: the major /proc/devices gives driver NAME in a host spec
spec_major() { spec_text "$1" | awk -v n="$2" 'NF == 2 && $2 == n && $1 ~ /^[0-9]+$/ { print $1; exit }'; }
# spec_uuid SPEC PCI: the GPU UUID of /proc/driver/nvidia/gpus/PCI/information
spec_uuid() {
	spec_text "$1" | awk -v f="/proc/driver/nvidia/gpus/$2/information" '
		$1 == "file" && $2 == f { on = 1; next }
		on && $1 == "END" { exit }
		on && /^GPU UUID:/ { print $3; exit }'
}

# schema_valid DESC: $out passes the upstream schema
schema_valid() {
	local msg rc
	msg=$(python3 -W ignore "$SCHEMA/validate.py" "$SCHEMA" <<<"$out" 2>&1)
	rc=$?
	case $rc in
	0) ok "$1" ;;
	77) skip "$1" "python3-jsonschema is not installed" ;;
	*) not_ok "$1"; printf '%s\n' "$msg" | diag ;;
	esac
}

# spec_shape TAG: the checks every spec must pass, on $out
KIND_RE='^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$'
NAME_RE='^[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?$'
spec_shape() {
	local t=$1 v
	v=$(jqr .cdiVersion)
	eq "$t: cdiVersion is semver, 0.6.0 or later" \
		"$([[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] && printf '0.6.0\n%s\n' "$v" | sort -V | head -1)" 0.6.0
	eq "$t: kind is vendor/class" "$(jq -r --arg re "$KIND_RE" '.kind | test($re)' <<<"$out")" true
	eq "$t: at least one device" "$(jqr '.devices | length > 0')" true
	eq "$t: every device has a valid name and containerEdits" \
		"$(jq -r --arg re "$NAME_RE" '(.devices | length) as $n | [.devices[] | select((.name | type == "string" and test($re)) and (.containerEdits | type == "object"))] | length == $n' <<<"$out")" true
	eq "$t: device names are unique" "$(jqr '[.devices[].name] | length == (unique | length)')" true
	eq "$t: every deviceNode has a path, type c, major and minor" \
		"$(jqr '[.. | objects | .deviceNodes? // empty | .[] | select((.path | startswith("/dev/")) and .type == "c" and (.major | type == "number") and (.minor | type == "number") | not)] | length')" 0
	eq "$t: every mount has hostPath and containerPath" \
		"$(jqr '[.. | objects | .mounts? // empty | .[] | select((.hostPath | type == "string") and (.containerPath | type == "string") | not)] | length')" 0
	eq "$t: every hook has hookName and path" \
		"$(jqr '[.. | objects | .hooks? // empty | .[] | select((.hookName | type == "string") and (.path | type == "string") | not)] | length')" 0
	eq "$t: no lxgpu \"schema\" key in a CDI document" "$(jqr 'has("schema")')" false
	schema_valid "$t: valid against the upstream CDI schema"
}
# nodes_of NAME: "path major:minor" of a device's nodes, one a line
nodes_of() { jq -r --arg n "$1" '.devices[] | select(.name == $n) | .containerEdits.deviceNodes[]? | "\(.path) \(.major):\(.minor)"' <<<"$out"; }

# --- the schema check itself fails on a spec without a required field
if python3 -c 'import jsonschema' 2>/dev/null; then
	bad=$(python3 -W ignore "$SCHEMA/validate.py" "$SCHEMA" <<<'{"cdiVersion": "0.6.0", "kind": "a.com/b"}' 2>&1)
	eq "validator: rejects a spec without devices" "$?:$bad" "1:: 'devices' is a required property"
else
	skip "validator: rejects a spec without devices" "python3-jsonschema is not installed"
fi

# --- the H100 capture: one GPU, driver 580.159.04 in /usr/local/nvidia
S=h100-580.159.04.spec
V=$(awk '$1 == "line" && $2 == "/sys/module/nvidia/version" { print $3 }' "$HOSTS/$S")
UUID=$(spec_uuid $S 0000:00:06.0)
h=$(host h100 $S) || bail "fake host"
run --sysroot "$h" cdi
eq "h100: exit 0" "$rc" 0
eq "h100: nothing on stderr" "$err" ""
spec_shape h100
eq "h100: kind nvidia.com/gpu" "$(jqr .kind)" nvidia.com/gpu
eq "h100: devices by index, by UUID, and all" "$(jqr '[.devices[].name] | join(" ")')" "0 $UUID all"
for d in 0 "$UUID" all; do
	eq "h100: device $d is /dev/nvidia0 at the spec's numbers" "$(nodes_of "$d")" \
		"/dev/nvidia0 $(spec_node $S /dev/nvidia0)"
done
eq "h100: nvidia0's major is /proc/devices' nvidia" "$(spec_node $S /dev/nvidia0 | cut -d: -f1)" \
	"$(spec_major $S nvidia)"
eq "h100: the control nodes are shared, with the spec's numbers" \
	"$(jqr '.containerEdits.deviceNodes[] | "\(.path) \(.major):\(.minor)"')" \
	"/dev/nvidiactl $(spec_node $S /dev/nvidiactl)
/dev/nvidia-uvm $(spec_node $S /dev/nvidia-uvm)
/dev/nvidia-uvm-tools $(spec_node $S /dev/nvidia-uvm-tools)"
eq "h100: nvidia-uvm's major is /proc/devices' nvidia-uvm (dynamic, not 195)" \
	"$(jqr '.containerEdits.deviceNodes[] | select(.path == "/dev/nvidia-uvm") | .major')" \
	"$(spec_major $S nvidia-uvm)"
eq "h100: the driver version is the module's" "$(jqr '.annotations["lxgpu/driver-version"]')" "$V"
eq "h100: NVIDIA_VISIBLE_DEVICES=void, as nvidia-ctk's specs" "$(jqr '.containerEdits.env | join(" ")')" \
	NVIDIA_VISIBLE_DEVICES=void
eq "h100: mounts are read-only binds, the LXC container's path on both sides" \
	"$(jqr '[.containerEdits.mounts[] | select(.hostPath != .containerPath or .options != ["ro", "nosuid", "nodev", "bind"])] | length')" 0
# the compute, utility and video libraries of the spec's driver-files section
# (libnvidia-container's lists), as tests/cli/driver.sh expects them copied
eq "h100: the libraries of driver $V, no graphics ones, in the multiarch directory" \
	"$(jq -r --arg v ".so.$V" '.containerEdits.mounts[].containerPath | select(endswith($v))' <<<"$out" | sed "s|^/usr/lib/x86_64-linux-gnu/||; s|.so.$V\$||" | sort | tr '\n' ' ')" \
	"libcuda libcudadebugger libnvcuvid libnvidia-allocator libnvidia-cfg libnvidia-encode libnvidia-gpucomp libnvidia-ml libnvidia-nvvm libnvidia-opencl libnvidia-opticalflow libnvidia-pkcs11-openssl3 libnvidia-ptxjitcompiler libvdpau_nvidia "
eq "h100: the SONAME names too (no hook makes links in the nested container)" \
	"$(jqr '.containerEdits.mounts[].containerPath | select(test("/libcuda.so.1$|/libnvidia-nvvm.so.4$|/libcuda.so$"))' | sort | tr '\n' ' ')" \
	"/usr/lib/x86_64-linux-gnu/libcuda.so /usr/lib/x86_64-linux-gnu/libcuda.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-nvvm.so.4 "
eq "h100: nvidia-smi in /usr/bin" "$(jqr '[.containerEdits.mounts[].containerPath | select(. == "/usr/bin/nvidia-smi")] | length')" 1
eq "h100: no hooks" "$(jqr '[.. | objects | .hooks? // empty] | length')" 0
run --sysroot "$h" cdi --json
eq "h100: --json: the same CDI document" "$(jqr 'has("schema")'):$(jqr .kind)" false:nvidia.com/gpu

# --- two H100s (tests/hosts/two-h100-mig.spec): GPU 1 is minor 5, GPU 0 in MIG mode
S2=two-h100-mig.spec
h2=$(host two $S2) || bail "fake host"
UUID1=$(spec_uuid $S2 0000:62:00.0)
run --sysroot "$h2" cdi --gpu 1
eq "--gpu 1: exit 0" "$rc" 0
spec_shape "--gpu 1"
eq "--gpu 1: devices 1, its UUID, all" "$(jqr '[.devices[].name] | join(" ")')" "1 $UUID1 all"
eq "--gpu 1: only /dev/nvidia5, at the spec's numbers" "$(nodes_of 1)" "/dev/nvidia5 $(spec_node $S2 /dev/nvidia5)"
eq "--gpu 1: all is the same node" "$(nodes_of all)" "/dev/nvidia5 $(spec_node $S2 /dev/nvidia5)"
lacks "--gpu 1: GPU 0's node nowhere" "$out" '"/dev/nvidia0"'
run --sysroot "$h2" cdi --gpu "$UUID1"
eq "--gpu UUID: the same devices" "$(jqr '[.devices[].name] | join(" ")')" "1 $UUID1 all"
run --sysroot "$h2" cdi
eq "both GPUs: by index and UUID, then all" "$(jqr '[.devices[].name] | join(" ")')" \
	"0 $(spec_uuid $S2 0000:00:06.0) 1 $UUID1 all"
eq "both GPUs: all has both GPU nodes" "$(nodes_of all | grep -c '^/dev/nvidia[05] ')" 2
# the spec's header: gi2's access node is cap21, its ci0's cap22
run --sysroot "$h2" cdi --gpu 0/2/0
eq "--gpu 0/2/0: exit 0" "$rc" 0
spec_shape "--gpu 0/2/0"
eq "--gpu 0/2/0: named 0:2:0 (no '/' in CDI names)" "$(jqr '.devices[0].name')" 0:2:0
eq "--gpu 0/2/0: the GPU and the instance's two capability nodes" "$(nodes_of 0:2:0)" \
	"/dev/nvidia0 $(spec_node $S2 /dev/nvidia0)
/dev/nvidia-caps/nvidia-cap21 $(spec_node $S2 /dev/nvidia-caps/nvidia-cap21)
/dev/nvidia-caps/nvidia-cap22 $(spec_node $S2 /dev/nvidia-caps/nvidia-cap22)"

# --- selections that match nothing, bad arguments
run --sysroot "$h2" cdi --gpu 7
eq "--gpu 7: exit 1" "$rc" 1
check "--gpu 7: one line" one_line_error
contains "--gpu 7: says so" "$err" "--gpu 7: no such GPU"
eq "--gpu 7: nothing on stdout" "$out" ""
run --sysroot "$h2" cdi --gpu nope
eq "--gpu nope: usage error" "$rc" 2
check "--gpu nope: one line" one_line_error
run --sysroot "$h2" cdi --dry-run
eq "--dry-run without a container: usage error" "$rc" 2
check "--dry-run without a container: one line" one_line_error
run --sysroot "$h2" cdi a b
eq "two containers: usage error" "$rc" 2
run --sysroot "$h2" cdi nosuchct
eq "unknown container: exit 1" "$rc" 1
check "unknown container: one line" one_line_error

# --- other vendors, and a host with two (intel-nvidia-laptop: Intel 0, NVIDIA 1)
h3=$(host laptop intel-nvidia-laptop.spec) || bail "fake host"
run --sysroot "$h3" cdi
eq "Intel + NVIDIA, no --gpu: exit 1 (a spec has one kind)" "$rc" 1
check "Intel + NVIDIA: one line" one_line_error
contains "Intel + NVIDIA: says to pick" "$err" "pick the GPUs of one with --gpu"
run --sysroot "$h3" cdi --gpu 0
eq "Intel GPU: exit 0" "$rc" 0
spec_shape "Intel GPU"
eq "Intel GPU: kind intel.com/gpu" "$(jqr .kind)" intel.com/gpu
eq "Intel GPU: names 0, its PCI address, all" "$(jqr '[.devices[].name] | join(" ")')" "0 0000:00:02.0 all"
eq "Intel GPU: its card and render nodes, at the spec's numbers" "$(nodes_of 0)" \
	"/dev/dri/card1 $(spec_node intel-nvidia-laptop.spec /dev/dri/card1)
/dev/dri/renderD128 $(spec_node intel-nvidia-laptop.spec /dev/dri/renderD128)"
eq "Intel GPU: no driver mounts" "$(jqr '.containerEdits.mounts | length')" 0
h4=$(host mi300x amd-mi300x.spec) || bail "fake host"
run --sysroot "$h4" cdi
eq "AMD: exit 0" "$rc" 0
spec_shape AMD
eq "AMD: kind amd.com/gpu" "$(jqr .kind)" amd.com/gpu
eq "AMD: /dev/kfd shared, at the spec's numbers" "$(jqr '.containerEdits.deviceNodes[] | "\(.path) \(.major):\(.minor)"')" \
	"/dev/kfd $(spec_node amd-mi300x.spec /dev/kfd)"
eq "AMD: kfd's major is /proc/devices' kfd" "$(spec_node amd-mi300x.spec /dev/kfd | cut -d: -f1)" \
	"$(spec_major amd-mi300x.spec kfd)"

# --- into a container: /etc/cdi/lxgpu-nvidia.json through its root
ct=$h/var/lib/lxc/c1
mkdir -p "$ct/rootfs/etc"
echo 12.4 >"$ct/rootfs/etc/debian_version"
printf 'lxc.rootfs.path = dir:/var/lib/lxc/c1/rootfs\nlxc.net.0.type = empty\n' >"$ct/config"
conf_sha=$(sha "$ct/config")
f=$ct/rootfs/etc/cdi/lxgpu-nvidia.json
run --sysroot "$h" cdi
stdout_spec=$out
run --sysroot "$h" cdi c1 --dry-run
eq "CT --dry-run: exit 0" "$rc" 0
contains "CT --dry-run: a diff from nothing" "$out" "--- /dev/null
+++ b/etc/cdi/lxgpu-nvidia.json"
contains "CT --dry-run: the spec in it" "$out" '+  "kind": "nvidia.com/gpu",'
eq "CT --dry-run: nothing written (no /etc/cdi)" "$(ls -A "$ct/rootfs/etc")" debian_version
contains "CT without GPU lines: warns to attach" "$err" "does not pass /dev/nvidia0"
contains "CT without a driver: warns to bind it" "$err" "run lxgpu driver c1 --mode bind"
run --sysroot "$h" cdi c1
eq "CT: exit 0" "$rc" 0
eq "CT: says what" "$out" "container c1: wrote /etc/cdi/lxgpu-nvidia.json"
eq "CT: the file, 0644" "$(stat -c %a "$f" 2>&1)" 644
out=$(cat "$f")
spec_shape "CT file"
eq "CT: the same spec as on stdout (a Debian container)" "$(jq -S . "$f")" "$(jq -S . <<<"$stdout_spec")"
unchanged "CT: its config untouched" "$ct/config" "$conf_sha"
run --sysroot "$h" cdi c1 --json
eq "CT again: not changed" "$(jqr .changed):$(jqr .path)" false:/etc/cdi/lxgpu-nvidia.json
run --sysroot "$h" cdi c1 --gpu all
eq "CT again, text: no change" "$out" "container c1: /etc/cdi/lxgpu-nvidia.json: no change"
# every file the spec mounts is where the driver command puts it
run --sysroot "$h" attach c1 --quiet
run --sysroot "$h" driver c1 --mode copy --quiet
missing=$(jq -r '.containerEdits.mounts[].hostPath' "$f" | while read -r p; do [ -e "$ct/rootfs$p" ] || echo "$p"; done)
eq "CT: every hostPath exists in the container after lxgpu driver" "$missing" ""
run --sysroot "$h" cdi c1
eq "CT with GPU and driver: no warning" "$err" ""

# a container that is not Debian: the libraries in /usr/lib64 (inject's choice)
ct2=$h/var/lib/lxc/c2
mkdir -p "$ct2/rootfs/etc"
printf 'lxc.rootfs.path = dir:/var/lib/lxc/c2/rootfs\n' >"$ct2/config"
run --sysroot "$h" cdi c2 --quiet
eq "non-Debian CT: exit 0" "$rc" 0
eq "non-Debian CT: libcuda from /usr/lib64" \
	"$(jq -r '.containerEdits.mounts[].hostPath | select(endswith("/libcuda.so.1"))' "$ct2/rootfs/etc/cdi/lxgpu-nvidia.json")" \
	/usr/lib64/libcuda.so.1

# an unprivileged container: the file is its root's (the idmap below)
ct3=$h/var/lib/lxc/c3
mkdir -p "$ct3/rootfs/etc"
printf 'lxc.rootfs.path = dir:/var/lib/lxc/c3/rootfs\nlxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n' >"$ct3/config"
run --sysroot "$h" cdi c3 --quiet
eq "unprivileged CT: exit 0" "$rc" 0
eq "unprivileged CT: /etc/cdi and the file owned by its root, 100000" \
	"$(stat -c %u:%g "$ct3/rootfs/etc/cdi" "$ct3/rootfs/etc/cdi/lxgpu-nvidia.json" | tr '\n' ' ')" \
	"100000:100000 100000:100000 "

# hostile roots: nothing written outside the container
outside=$TMP/outside
mkdir -p "$outside"
ct4=$h/var/lib/lxc/evil
mkdir -p "$ct4/rootfs/etc"
ln -s "$outside" "$ct4/rootfs/etc/cdi"
printf 'lxc.rootfs.path = dir:/var/lib/lxc/evil/rootfs\n' >"$ct4/config"
run --sysroot "$h" cdi evil --quiet
eq "/etc/cdi a symlink to a host dir: exit 1" "$rc" 1
check "/etc/cdi a symlink: one line" one_line_error
eq "/etc/cdi a symlink: nothing written there" "$(ls -A "$outside")" ""
rm "$ct4/rootfs/etc/cdi"
mkdir "$ct4/rootfs/etc/cdi"
ln -s "$outside/x.json" "$ct4/rootfs/etc/cdi/lxgpu-nvidia.json"
run --sysroot "$h" cdi evil --quiet
eq "the file a symlink: exit 1 (guest writes onto regular files only)" "$rc" 1
eq "the file a symlink: nothing written outside" "$(ls -A "$outside")" ""

done_testing
