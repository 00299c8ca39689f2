#!/bin/bash
# tests/gpu/discover.sh [LXGPU]: on a real NVIDIA host, `lxgpu discover --json`
# must agree with nvidia-smi (index, name, UUID, PCI bus id, driver version,
# and the CUDA version of its header). Reads the live facts: the machine
# differs from run to run. Prints both sides and one TAP line per fact.
set -euo pipefail
lxgpu=${1:-build/lxgpu}
command -v nvidia-smi >/dev/null || { echo "1..0 # SKIP no nvidia-smi"; exit 0; }

smi_csv=$(nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,driver_version --format=csv,noheader)
smi_cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' | head -n 1)
json=$("$lxgpu" discover --json)

echo "# nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,driver_version --format=csv,noheader:"
printf '%s\n' "$smi_csv" | sed 's/^/#   /'
echo "# nvidia-smi header: CUDA Version: $smi_cuda"

python3 - "$json" "$smi_csv" "$smi_cuda" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
rows = [[f.strip() for f in line.split(",")] for line in sys.argv[2].splitlines() if line.strip()]
cuda = sys.argv[3]
n = 0
failed = 0
def check(desc, got, want):
    global n, failed
    n += 1
    if got == want:
        print(f"ok {n} - {desc}: {got}")
    else:
        failed += 1
        print(f"not ok {n} - {desc}: lxgpu {got!r}, nvidia-smi {want!r}")
def norm_pci(bus):
    dom, rest = bus.split(":", 1)
    return "%04x:%s" % (int(dom, 16), rest.lower())
nv = [g for g in doc["gpus"] if g["vendor"] == "nvidia" and g["uuid"]]
print("# lxgpu discover --json:")
for g in nv:
    print(f"#   {g['index']}, {g['model']}, {g['uuid']}, {g['pci']}, minor {g['minor']}, nodes {g['nodes']}")
for d in doc["drivers"]:
    print(f"#   driver {d['name']} {d['version']} ({d['kind']}), CUDA {d['cuda']}")
for f in doc["findings"]:
    print(f"#   finding {f['id']} ({f['severity']}): {f['message']}")
check("number of GPUs", len(nv), len(rows))
by_uuid = {g["uuid"]: g for g in nv}
for index, name, uuid, bus, driver in rows:
    g = by_uuid.get(uuid)
    check(f"GPU {uuid} found", g is not None, True)
    if not g:
        continue
    check(f"GPU {uuid} index", str(g["index"]), index)
    check(f"GPU {uuid} name", g["model"], name)
    check(f"GPU {uuid} pci", g["pci"], norm_pci(bus))
    check(f"GPU {uuid} has its node", f"/dev/nvidia{g['minor']}" in g["nodes"], True)
    check("driver version", doc["drivers"][0]["version"], driver)
check("CUDA version", doc["drivers"][0]["cuda"], cuda)
print(f"1..{n}")
sys.exit(1 if failed else 0)
PY
