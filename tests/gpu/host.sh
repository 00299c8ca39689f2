#!/bin/bash
# tests/gpu/host.sh: `lxgpu host status` on the real host agrees with
# nvidia-smi, uname and /proc/devices, and `host prepare --dry-run` and
# `host install-driver --dry-run` change nothing. (No driver is installed
# here: the GPU machine's driver is a read-only image, and tests/cli/host.sh
# runs prepare and install-driver against fake apt-get, update-initramfs and
# installer instead.)
. "$(dirname "$0")/lib.sh"

json=$("$LXGPU" host status --json)
rc=$?
[ $rc = 0 ] && ok "host status: exit 0" || not_ok "host status: exit $rc"
"$LXGPU" --no-color host status | sed 's/^/#   /'
smi=$(nvidia-smi --query-gpu=pci.bus_id,driver_version --format=csv,noheader | head -n 1)
bus=${smi%%,*} version=${smi##*, }
addr=$(printf '%04x:%s' "$((16#${bus%%:*}))" "${bus#*:}" | tr 'A-F' 'a-f')
field() { python3 -c 'import json,sys
d = json.loads(sys.argv[1])
print("\n".join(l["message"] for l in d["lines"] if l["id"] == sys.argv[2]))' "$json" "$1"; }
kernel_json=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["kernel"])' "$json")
[ "$kernel_json" = "$(uname -r)" ] && ok "kernel: $kernel_json (uname -r)" ||
	not_ok "kernel: $kernel_json, uname -r $(uname -r)"
case $(field gpu) in *"$addr"*"bound to nvidia"*) ok "GPU $addr bound to nvidia" ;;
*) not_ok "GPU $addr bound to nvidia: $(field gpu)" ;; esac
case $(field nvidia-module) in *"$version"*) ok "nvidia module $version (nvidia-smi)" ;;
*) not_ok "nvidia module $version: $(field nvidia-module)" ;; esac
uvm=$(awk '$2 == "nvidia-uvm" { print $1 }' /proc/devices)
case $(field nodes) in *"/dev/nvidia-uvm $uvm:0"*) ok "nodes: nvidia-uvm $uvm:0 (/proc/devices)" ;;
*) not_ok "nodes: nvidia-uvm $uvm:0: $(field nodes)" ;; esac

sum() { find /etc/modprobe.d /var/lib/lxgpu /var/log/lxgpu -type f -exec sha256sum {} + 2>/dev/null | sort; }
s0=$(sum)
# prepare enables lxgpu-sync.service: refused where lxgpu is not installed with it
if [ -e /etc/systemd/system/lxgpu-sync.service ] || [ -e /lib/systemd/system/lxgpu-sync.service ]; then
	expect "host prepare --dry-run" "$LXGPU" host prepare --dry-run
else
	out=$("$LXGPU" host prepare --dry-run 2>&1)
	rc=$?
	case "$rc $out" in
	"1 "*"lxgpu-sync.service is not installed"*) ok "no lxgpu-sync.service here: prepare refused, exit 1" ;;
	*) not_ok "prepare without the unit: exit $rc" ;;
	esac
	say "$out"
fi
# DKMS builds against the running kernel's headers: without them the install is refused
if [ -d "/lib/modules/$(uname -r)/build" ]; then
	expect "host install-driver --dry-run --version $version" \
		"$LXGPU" host install-driver --dry-run --version "$version"
else
	out=$("$LXGPU" host install-driver --dry-run --version "$version" 2>&1)
	rc=$?
	case "$rc $out" in
	"1 "*"no headers for the running kernel $(uname -r)"*)
		ok "no headers for $(uname -r) here: install-driver refused, exit 1" ;;
	*) not_ok "install-driver without headers: exit $rc" ;;
	esac
	say "$out"
fi
[ "$(sum)" = "$s0" ] && ok "dry runs: /etc/modprobe.d, /var/lib/lxgpu, /var/log/lxgpu unchanged" ||
	not_ok "dry runs changed files"
done_testing
