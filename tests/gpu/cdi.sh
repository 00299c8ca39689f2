#!/bin/bash
# tests/gpu/cdi.sh: `lxgpu cdi CT` on the real host, for a container that has
# the GPU (attach) and the host's driver (--mode bind): inside the running
# container, every device node of the spec is there with the spec's major and
# minor, and every file it mounts exists. No CDI runtime (podman) is on the GPU
# machine: what one would read is checked against the live container instead.
. "$(dirname "$0")/lib.sh"

ct=lxgpu-cdi
spec=/var/lib/lxc/$ct/rootfs/etc/cdi/lxgpu-nvidia.json
"$GPULXC" destroy "$ct" >/dev/null 2>&1
"$GPULXC" create "$ct" overlay >/dev/null
expect "attach" "$LXGPU" attach "$ct" --quiet
expect "driver --mode bind" "$LXGPU" driver "$ct" --mode bind --quiet
expect "container starts" "$GPULXC" start "$ct"
expect "lxgpu cdi CT writes /etc/cdi/lxgpu-nvidia.json" "$LXGPU" cdi "$ct"
say "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["cdiVersion"], d["kind"], [x["name"] for x in d["devices"]], len(d["containerEdits"]["mounts"]), "mounts")' "$spec")"

# the nodes: "path major minor" of the spec, and of stat inside (hex there)
want=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
nodes = d["containerEdits"].get("deviceNodes", []) + [n for x in d["devices"] for n in x["containerEdits"].get("deviceNodes", [])]
for n in sorted({(n["path"], n["major"], n["minor"]) for n in nodes}): print(*n)' "$spec")
have=$(printf '%s\n' "$want" | while read -r p _ _; do
	"$GPULXC" exec "$ct" -- stat -c '%n %t %T' "$p" 2>&1
done | while read -r p ma mi; do echo "$p $((16#$ma)) $((16#$mi))"; done)
if [ -n "$want" ] && [ "$want" = "$have" ]; then ok "every device node of the spec is inside, same numbers"
else not_ok "every device node of the spec is inside, same numbers"; say "spec: $want"; say "inside: $have"; fi
printf '%s\n' "$want" | sed 's/^/#   /'

missing=$(python3 -c 'import json,sys
for m in json.load(open(sys.argv[1]))["containerEdits"]["mounts"]: print(m["hostPath"])' "$spec" |
	while read -r p; do "$GPULXC" exec "$ct" -- test -e "$p" || echo "$p"; done)
if [ -z "$missing" ]; then ok "every file the spec mounts exists inside"
else not_ok "every file the spec mounts exists inside"; say "missing: $missing"; fi
expect "with the nodes and files of the spec: nvidia-smi -L inside" smi "$ct"
say "lxgpu (status view) on the real host:"
"$LXGPU" --no-color | sed 's/^/#   /'
"$GPULXC" stop "$ct" >/dev/null
"$GPULXC" destroy "$ct" >/dev/null
done_testing
