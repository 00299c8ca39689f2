#!/bin/bash
# lxgpu-sync-quorum.service: systemd accepts it; it comes after the boot's
# lxgpu-sync.service and pmxcfs, waits for /etc/pve to be writable without
# holding the boot (Type=simple), then syncs and publishes this node's GPUs
# (sync --all --wait: tests/cli/cluster.sh shows the waiting).
. "$(dirname "$0")/lib.sh"
UNIT=${UNIT:?set UNIT to the configured lxgpu-sync-quorum.service}
command -v systemd-analyze >/dev/null || skip_all "no systemd-analyze"

sed "s|^ExecStart=[^ ]*/lxgpu |ExecStart=$LXGPU |" "$UNIT" >"$TMP/lxgpu-sync-quorum.service"
# the unit it is ordered after, as it is installed beside it
sed "s|^ExecStart=[^ ]*/lxgpu |ExecStart=$LXGPU |" "$SYNC_UNIT" >"$TMP/lxgpu-sync.service"
out=$(cd "$TMP" && systemd-analyze verify --man=no "$TMP/lxgpu-sync-quorum.service" 2>&1)
eq "systemd-analyze verify: no complaint" "$?-$out" "0-"
mkdir "$TMP/bad"
sed 's/^Type=simple/Type=simpel/' "$TMP/lxgpu-sync-quorum.service" >"$TMP/bad/lxgpu-sync-quorum.service"
bad=$(systemd-analyze verify --man=no "$TMP/bad/lxgpu-sync-quorum.service" 2>&1)
contains "a broken copy is refused" "$bad" "simpel"

prop() { sed -n "s/^$1=//p" "$UNIT" | tr '\n' ' '; }
eq "Documentation= is lxgpu(1)" "$(prop Documentation)" "man:lxgpu(1) "
contains "after the boot's sync" "$(prop After)" "lxgpu-sync.service"
contains "after pmxcfs (pve-cluster)" "$(prop After)" "pve-cluster.service"
eq "ordered before nothing: the boot does not wait for quorum" "$(prop Before)" ""
eq "Type=simple: started, not waited for" "$(prop Type)" "simple "
eq "runs sync --all --wait" "$(prop ExecStart)" "$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$UNIT") sync --all --wait --quiet "
eq "only on a Proxmox node" "$(prop ConditionPathIsDirectory)" "/etc/pve/nodes "
eq "installed into multi-user.target" "$(prop WantedBy)" "multi-user.target "
# the options it runs with are lxgpu's
run sync --help
contains "sync has --wait" "$out" "--wait"
done_testing
