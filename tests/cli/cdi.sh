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

# min_version: the lowest cdiVersion $out's fields need, by the rules of the
# CDI reference library (specs-go/version.go: requiresV060 annotations or a
# class with a dot, requiresV050 a device name starting with a digit or a
# device node's hostPath, requiresV040 a mount's type; else 0.3.0)
min_version() {
	jq -r '
		if ([.annotations, .devices[].annotations] | map(select(. != null and length > 0)) | length > 0)
			or (.kind | split("/")[1] | contains(".")) then "0.6.0"
		elif ([.devices[].name | select(test("^[0-9]"))] | length > 0)
			or ([.. | objects | .deviceNodes? // empty | .[] | select((.hostPath // "") != "")] | length > 0) then "0.5.0"
		elif ([.. | objects | .mounts? // empty | .[] | select((.type // "") != "")] | length > 0) then "0.4.0"
		else "0.3.0" end' <<<"$out"
}

# spec_shape TAG: the checks every spec must pass, on $out
KIND_RE='^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$'
NAME_RE='^[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?$'
spec_shape() {
	local t=$1 v
	eq "$t: cdiVersion is the lowest its fields need" "$(jqr .cdiVersion)" "$(min_version)"
	eq "$t: no field newer than 0.6.0 (intelRdt, additionalGids, netDevices)" \
		"$(jqr '[.. | objects | select(has("intelRdt") or has("additionalGids") or has("netDevices"))] | length')" 0
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
eq "h100: no annotations (podman 4.3's CDI library refuses the field)" "$(jqr 'has("annotations")')" false
eq "h100: 0.5.0, for the device named 0" "$(jqr .cdiVersion)" 0.5.0
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
nodefault=$out
run --sysroot "$h" cdi --cdi-version 0.6.0
eq "--cdi-version 0.6.0: exit 0" "$rc" 0
eq "--cdi-version 0.6.0: that version" "$(jqr .cdiVersion)" 0.6.0
eq "--cdi-version 0.6.0: the driver version is the module's, in annotations" \
	"$(jqr '.annotations["lxgpu/driver-version"]')" "$V"
eq "--cdi-version 0.6.0: otherwise the default spec" "$(jq -S 'del(.cdiVersion, .annotations)' <<<"$out")" \
	"$(jq -S 'del(.cdiVersion)' <<<"$nodefault")"
schema_valid "--cdi-version 0.6.0: valid against the upstream CDI schema"
run --sysroot "$h" cdi --cdi-version v1.1.0
eq "--cdi-version v1.1.0: exit 0, written 1.1.0" "$rc $(jqr .cdiVersion)" "0 1.1.0"
run --sysroot "$h" cdi --cdi-version 0.4.0
eq "--cdi-version 0.4.0: exit 1" "$rc" 1
eq "--cdi-version 0.4.0: one line, the field that needs more" "$err" \
	"lxgpu: cdi: cdiVersion 0.4.0 is too old for this spec: it has device names that start with a digit (0.5.0)"
eq "--cdi-version 0.4.0: nothing on stdout" "$out" ""
run --sysroot "$h" cdi --cdi-version 0.9.0
eq "--cdi-version 0.9.0: exit 1, one line" "$rc $(wc -l <<<"$err")" "1 1"
contains "--cdi-version 0.9.0: names it" "$err" "cdiVersion 0.9.0"

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
# a container's spec without --gpu: the GPUs its record selects
ctr=$h2/var/lib/lxc/one
mkdir -p "$ctr/rootfs/etc"
echo 12.4 >"$ctr/rootfs/etc/debian_version"
printf 'lxc.rootfs.path = dir:/var/lib/lxc/one/rootfs\n' >"$ctr/config"
run --sysroot "$h2" attach one --gpu 1 --quiet
eq "CT attached to GPU 1: attach exit 0" "$rc" 0
run --sysroot "$h2" cdi one --quiet
out=$(cat "$ctr/rootfs/etc/cdi/lxgpu-nvidia.json")
eq "CT attached to GPU 1: its spec has GPU 1 alone" "$(jqr '[.devices[].name] | join(" ")')" "1 $UUID1 all"
eq "CT attached to GPU 1: all is its node" "$(nodes_of all)" "/dev/nvidia5 $(spec_node $S2 /dev/nvidia5)"
run --sysroot "$h2" cdi one --gpu all --dry-run
contains "CT, --gpu all: --gpu wins over the record" "$out" "+      \"name\": \"0\","

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

# driver --docker: the routes of the runtimes installed in the container
rm -rf "$ct/rootfs/etc/cdi"
run --sysroot "$h" driver c1 --docker
eq "driver --docker, no runtime there: exit 1" "$rc" 1
eq "driver --docker, no runtime there: one line naming both" "$err" \
	"lxgpu: driver c1 --docker: neither nvidia-container-toolkit (/etc/nvidia-container-runtime/config.toml) nor podman is installed in it: install one there first"
eq "driver --docker, no runtime there: nothing written" "$(ls -A "$ct/rootfs/etc")" debian_version
mkdir -p "$ct/rootfs/usr/local/bin"
printf '#!/bin/sh\n' >"$ct/rootfs/usr/local/bin/podman"
run --sysroot "$h" driver c1 --docker --dry-run
eq "driver --docker --dry-run, podman there: exit 0" "$rc" 0
contains "driver --docker --dry-run: the spec's diff" "$out" "+++ b/etc/cdi/lxgpu-nvidia.json"
eq "driver --docker --dry-run: nothing written" "$(ls -A "$ct/rootfs/etc")" debian_version
run --sysroot "$h" driver c1 --docker
eq "driver --docker, podman there: exit 0" "$rc" 0
eq "driver --docker, podman there: says what" "$out" "container c1: wrote /etc/cdi/lxgpu-nvidia.json"
eq "driver --docker: the spec lxgpu cdi writes" "$(jq -S . "$f")" "$(jq -S . <<<"$stdout_spec")"
run --sysroot "$h" driver c1 --docker --json
eq "driver --docker --json, again: nothing changed, no toolkit, the spec's path" \
	"$(jqr '"\(.changed) \(.no_cgroups) \(.cdi.changed) \(.cdi.path)"')" "false null false /etc/cdi/lxgpu-nvidia.json"
mkdir -p "$ct/rootfs/etc/nvidia-container-runtime"
printf '[nvidia-container-cli]\nload-kmods = true\n' >"$ct/rootfs/etc/nvidia-container-runtime/config.toml"
run --sysroot "$h" driver c1 --docker --cdi-version 0.6.0 --json
eq "driver --docker, toolkit and podman, --cdi-version 0.6.0: both changed" \
	"$(jqr '"\(.changed) \(.no_cgroups) \(.cdi.changed) \(.cdi.cdi.cdiVersion)"')" "true true true 0.6.0"
eq "driver --docker: no-cgroups set in its section" \
	"$(cat "$ct/rootfs/etc/nvidia-container-runtime/config.toml")" "[nvidia-container-cli]
load-kmods = true
no-cgroups = true"
run --sysroot "$h" driver c1 --docker --cdi-version 0.3.0
eq "driver --docker --cdi-version 0.3.0: exit 1, one line" "$rc $(wc -l <<<"$err")" "1 1"
eq "driver --docker --cdi-version 0.3.0: the spec left as it was" "$(jq -r .cdiVersion "$f")" 0.6.0
rm -rf "$ct/rootfs/usr/local/bin/podman" "$ct/rootfs/etc/nvidia-container-runtime"
run --sysroot "$h" cdi c1 --quiet

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

# --- podman (4.3 on Debian 12, 5 on Debian 13) reads the spec and resolves
# every device name: the OCI spec it makes for the container has the nodes
# at the spec's numbers and the driver's files; that spec's run itself fails
# or not (no GPU here), which is not judged. In a mount namespace of its own,
# on a tmpfs /etc/cdi, with its storage in $TMP.
PODMAN_TRY='spec=$1 dir=$2 device=$3
mount -t tmpfs lxgpu-cdi /etc/cdi 2>/dev/null || { mkdir -p /etc/cdi && mount -t tmpfs lxgpu-cdi /etc/cdi; } || exit 1
cp "$spec" /etc/cdi/lxgpu-nvidia.json || exit 1
p() { podman --root "$dir/store" --runroot "$dir/run" --storage-driver vfs "$@"; }
p image exists localhost/lxgpu-cdi || p import "$dir/img.tar" localhost/lxgpu-cdi >/dev/null || exit 1
name=c$RANDOM$RANDOM
p --log-level=debug run --network=none --name "$name" --device "$device" localhost/lxgpu-cdi true >"$dir/run.log" 2>&1
id=$(p inspect "$name" --format "{{.ID}}" 2>/dev/null) || exit 0
cp "$dir/store/vfs-containers/$id/userdata/config.json" "$dir/oci.json"'
# podman_devices SPECFILE DEVICE: $pod_err (podman's CDI error, if any), and
# $pod_devs: "path major:minor" of the /dev/nvidia* nodes in the OCI spec
# podman made, one a line
podman_devices() {
	local d=$TMP/podman
	rm -f "$d/oci.json" "$d/run.log"
	pod_setup=ok
	unshare -m --propagation private bash -c "$PODMAN_TRY" podman-try "$1" "$d" "$2" >"$d/setup.log" 2>&1 ||
		pod_setup=$(tail -n 1 "$d/setup.log")
	pod_err=$(grep -oE 'unresolvable CDI devices[^"]*|failed to load CDI Spec[^"]*' "$d/run.log" 2>/dev/null)
	pod_devs="no OCI spec"
	[ -f "$d/oci.json" ] || return 0
	pod_devs=$(jq -r '.linux.devices[] | select(.path | startswith("/dev/nvidia")) | "\(.path) \(.major):\(.minor)"' "$d/oci.json" | sort)
}
if ! command -v podman >/dev/null; then
	skip "podman: resolves the spec's devices" "podman is not installed"
else
	pdir=$TMP/podman
	mkdir -p "$pdir/img/bin"
	cp "$(command -v busybox)" "$pdir/img/bin/busybox"
	ln -s busybox "$pdir/img/bin/true"
	tar -C "$pdir/img" -cf "$pdir/img.tar" .
	pv=$(podman --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+')
	run --sysroot "$h" cdi
	printf '%s\n' "$out" >"$pdir/h100.json"
	ctl="/dev/nvidia-uvm $(spec_node $S /dev/nvidia-uvm)
/dev/nvidia-uvm-tools $(spec_node $S /dev/nvidia-uvm-tools)
/dev/nvidiactl $(spec_node $S /dev/nvidiactl)"
	# podman itself must work here (an image, a tmpfs /etc/cdi): else say so
	podman_devices "$pdir/h100.json" nvidia.com/gpu=all
fi
if command -v podman >/dev/null && [ "$pod_setup" != ok ]; then
	skip "podman $pv: resolves the spec's devices" "podman cannot run here: $pod_setup"
elif command -v podman >/dev/null; then
	for d in all 0 "$UUID"; do
		podman_devices "$pdir/h100.json" "nvidia.com/gpu=$d"
		eq "podman $pv: nvidia.com/gpu=$d resolves" "$pod_err" ""
		eq "podman $pv: nvidia.com/gpu=$d gives nvidia0 and the control nodes, at the spec's numbers" \
			"$pod_devs" "$(printf '%s\n' "/dev/nvidia0 $(spec_node $S /dev/nvidia0)" "$ctl" | sort)"
	done
	eq "podman $pv: the driver's files mounted read-only" \
		"$(jq -r '.mounts[] | select(.destination == "/usr/bin/nvidia-smi" or (.destination | endswith("/libcuda.so.1"))) | "\(.destination) \(.options | join(","))"' "$pdir/oci.json" | sort)" \
		"/usr/bin/nvidia-smi ro,nosuid,nodev,bind
/usr/lib/x86_64-linux-gnu/libcuda.so.1 ro,nosuid,nodev,bind"
	podman_devices "$pdir/h100.json" "nvidia.com/gpu=7"
	contains "podman $pv: a name the spec lacks is unresolvable (the check can fail)" "$pod_err" \
		"unresolvable CDI devices nvidia.com/gpu=7"
	run --sysroot "$h2" cdi --gpu 1
	printf '%s\n' "$out" >"$pdir/two.json"
	podman_devices "$pdir/two.json" "nvidia.com/gpu=$UUID1"
	eq "podman $pv: GPU 1 of two by its UUID: nvidia5 alone" "$(grep -v -e ctl -e uvm <<<"$pod_devs")" \
		"/dev/nvidia5 $(spec_node $S2 /dev/nvidia5)"
	# annotations (0.6.0): podman 4's CDI library refuses the whole spec
	run --sysroot "$h" cdi --cdi-version 0.6.0
	printf '%s\n' "$out" >"$pdir/v060.json"
	podman_devices "$pdir/v060.json" nvidia.com/gpu=all
	case $pv in
	4.*) contains "podman $pv: the 0.6.0 spec with annotations is refused, as the default is not" \
		"$pod_err" "unresolvable CDI devices nvidia.com/gpu=all" ;;
	*) eq "podman $pv: the 0.6.0 spec resolves too" "$pod_err" "" ;;
	esac
fi

done_testing
