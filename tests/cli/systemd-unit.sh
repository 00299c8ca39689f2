#!/bin/bash
# lxgpu-sync.service: systemd accepts it, and it is ordered as the boot needs:
# after the NVIDIA modules and pmxcfs, before Proxmox and LXC start containers.
. "$(dirname "$0")/lib.sh"
UNIT=${UNIT:?set UNIT to the configured lxgpu-sync.service}
command -v systemd-analyze >/dev/null || skip_all "no systemd-analyze"

# the unit as installed, with ExecStart pointing at the binary under test
sed "s|^ExecStart=[^ ]*/lxgpu |ExecStart=$LXGPU |" "$UNIT" >"$TMP/lxgpu-sync.service"
out=$(systemd-analyze verify --man=no "$TMP/lxgpu-sync.service" 2>&1)
eq "systemd-analyze verify: no complaint" "$?-$out" "0-"

# Documentation=man:lxgpu(1) resolves: verify runs man(1) on it, here with
# the built page in a temporary MANPATH
eq "Documentation= is lxgpu(1)" "$(sed -n 's/^Documentation=//p' "$UNIT")" "man:lxgpu(1)"
if [ -n "${MAN:-}" ] && command -v man >/dev/null; then
	mkdir -p "$TMP/man/man1" "$TMP/noman"
	cp "$MAN" "$TMP/man/man1/lxgpu.1"
	out=$(MANPATH=$TMP/man systemd-analyze verify "$TMP/lxgpu-sync.service" 2>&1)
	eq "systemd-analyze verify with the man page: no complaint" "$?-$out" "0-"
	# and without the page, verify says so: the check above can fail
	out=$(MANPATH=$TMP/noman systemd-analyze verify "$TMP/lxgpu-sync.service" 2>&1)
	contains "without the page, verify complains" "$out" "man lxgpu(1)"
fi

# a unit systemd cannot run is caught: the check above can fail
mkdir "$TMP/bad"
sed 's/^Type=oneshot/Type=oneshoot/' "$TMP/lxgpu-sync.service" >"$TMP/bad/lxgpu-sync.service"
bad=$(systemd-analyze verify --man=no "$TMP/bad/lxgpu-sync.service" 2>&1)
contains "a broken copy is refused" "$bad" "oneshoot"

prop() { sed -n "s/^$1=//p" "$UNIT" | tr '\n' ' '; }
contains "after the modules are loaded" "$(prop After)" "systemd-modules-load.service"
contains "after pmxcfs (pve-cluster)" "$(prop After)" "pve-cluster.service"
contains "before Proxmox starts its guests" "$(prop Before)" "pve-guests.service"
contains "before LXC starts its containers" "$(prop Before)" "lxc.service"
eq "runs sync --all once" "$(prop ExecStart)" "$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$UNIT") sync --all "
eq "a oneshot that stays active (later units see it done)" "$(prop Type)$(prop RemainAfterExit)" "oneshot yes "
# lxgpu itself checks this link to know the nodes are made at boot (src/nodes/nodes.c)
eq "installed into multi-user.target" "$(prop WantedBy)" "multi-user.target "

# lxgpu-sync-quorum.service: after the boot's sync and pmxcfs, it waits for
# /etc/pve to be writable without holding the boot (Type=simple), then syncs
# and publishes this node's GPUs (sync --wait: tests/cli/cluster.sh waits)
QUORUM=${QUORUM_UNIT:?set QUORUM_UNIT to the configured lxgpu-sync-quorum.service}
sed "s|^ExecStart=[^ ]*/lxgpu |ExecStart=$LXGPU |" "$QUORUM" >"$TMP/lxgpu-sync-quorum.service"
out=$(systemd-analyze verify --man=no "$TMP/lxgpu-sync-quorum.service" "$TMP/lxgpu-sync.service" 2>&1)
eq "quorum unit: systemd-analyze verify, beside lxgpu-sync.service: no complaint" "$?-$out" "0-"
UNIT=$QUORUM
eq "quorum unit: Documentation= is lxgpu(1)" "$(prop Documentation)" "man:lxgpu(1) "
contains "quorum unit: after the boot's sync" "$(prop After)" "lxgpu-sync.service"
contains "quorum unit: after pmxcfs (pve-cluster)" "$(prop After)" "pve-cluster.service"
eq "quorum unit: ordered before nothing, Type=simple: the boot does not wait for quorum" \
	"$(prop Before)/$(prop Type)" "/simple "
eq "quorum unit: runs sync --all --wait" "$(prop ExecStart)" \
	"$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$UNIT") sync --all --wait --quiet "
eq "quorum unit: only on a Proxmox node" "$(prop ConditionPathIsDirectory)" "/etc/pve/nodes "
eq "quorum unit: installed into multi-user.target" "$(prop WantedBy)" "multi-user.target "
done_testing
