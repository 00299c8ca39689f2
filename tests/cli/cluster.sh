#!/bin/bash
# A three-node Proxmox cluster of fake hosts: each node's published GPUs,
# status --cluster, GPU mappings, model= and any, check --node before a move,
# the move itself (a config renamed from nodes/A/lxc to nodes/B/lxc, as pct
# migrate and HA do), sync and the guard on the new node, stale facts, and a
# node without quorum.
#
# The nodes (expected values from their specs in tests/hosts, never from
# lxgpu's output):
#   pve1  h100-580.159.04.spec: one NVIDIA H100 80GB HBM3 at 0000:00:06.0,
#         GPU-14d254be-3087-0aa8-a7aa-03759525cf2f, /dev/nvidia0 (c 195:0),
#         nvidiactl 195:255, nvidia-uvm 238:0/238:1; driver 580.159.04
#   pve2  two-fake-gpus.spec: two NVIDIA H100 80GB HBM3, 0000:00:06.0
#         GPU-fa4e0000-0000-4000-8000-000000000000 (195:0) and 0000:00:07.0
#         GPU-fa4e0000-0000-4000-8000-000000000001 (195:1); nvidia-uvm on 238;
#         driver 580.159.04
#   pve3  intel-nvidia-laptop.spec: Intel UHD 620 at 0000:00:02.0 (GPU 0) and
#         NVIDIA GeForce MX150 at 0000:01:00.0 (GPU 1,
#         GPU-3f1e5c2a-7b0d-4e61-9c8a-2d4b6f0e1a93, 195:0); nvidia-uvm on
#         508; driver 535.183.01
# all with pve.spec. The cluster filesystem: one directory SHARED/nodes with
# nodes/pve{1,2,3}/lxc, bound on each node's etc/pve/nodes, and SHARED/lxgpu
# (the mappings) on each etc/pve/lxgpu; each node's etc/pve/lxc and
# etc/pve/local link to its own nodes/<node>[/lxc], as pmxcfs makes them.
# Each node has its boot id and btime, and the cluster's .rrd (pvestatd's
# "pve2-node/NODE:UPTIME:SUBLEVEL:CTIME:...") says when each booted.
#
# Needs root (device nodes, bind mounts); runs in a private mount namespace.
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"
need_root
command -v jq >/dev/null || skip_all "jq not installed"
command -v unshare >/dev/null || skip_all "unshare not installed"
if [ -z "${LXGPU_CLUSTER_TEST_NS:-}" ]; then
	LXGPU_CLUSTER_TEST_NS=1 exec unshare -m --propagation private -- "$BASH" "$0" "$@"
fi

H100=GPU-14d254be-3087-0aa8-a7aa-03759525cf2f
U0=GPU-fa4e0000-0000-4000-8000-000000000000
U1=GPU-fa4e0000-0000-4000-8000-000000000001
MX=GPU-3f1e5c2a-7b0d-4e61-9c8a-2d4b6f0e1a93
MODEL="NVIDIA H100 80GB HBM3"
NOW=$(date +%s)

SHARED=$TMP/shared
mkdir -p "$SHARED/nodes/pve1/lxc" "$SHARED/nodes/pve2/lxc" "$SHARED/nodes/pve3/lxc" "$SHARED/lxgpu"
declare -A ROOT
n=0
for spec in h100-580.159.04.spec two-fake-gpus.spec intel-nvidia-laptop.spec; do
	n=$((n + 1))
	r=$(host "pve$n" "$spec" pve.spec) && [ -f "$r/proc/devices" ] || bail "mkhost $spec"
	ROOT[pve$n]=$r
	rm -rf "$r/etc/pve/lxc" "$r/etc/pve/nodes"
	mkdir -p "$r/etc/pve/nodes" "$r/etc/pve/lxgpu" "$r/proc/sys/kernel/random"
	mount --bind "$SHARED/nodes" "$r/etc/pve/nodes" || bail "bind nodes on pve$n"
	mount --bind "$SHARED/lxgpu" "$r/etc/pve/lxgpu" || bail "bind lxgpu on pve$n"
	ln -s "nodes/pve$n/lxc" "$r/etc/pve/lxc"
	ln -s "nodes/pve$n" "$r/etc/pve/local"
	echo "00000000-0000-4000-8000-00000000000$n" >"$r/proc/sys/kernel/random/boot_id"
	printf 'cpu  1 2 3 4\nbtime %s\n' $((NOW - 3600 * n)) >>"$r/proc/stat"
done
P1=${ROOT[pve1]} P2=${ROOT[pve2]} P3=${ROOT[pve3]}
# the cluster's view of each node's boot: CTIME - UPTIME = the btime above
for r in "$P1" "$P2" "$P3"; do
	{
		echo "pve2-node/pve1:3600:0:$NOW:0.1:8:0.01:0:1:2:0:0:1:2:3:4"
		echo "pve2-node/pve2:7200:0:$NOW:0.1:8:0.01:0:1:2:0:0:1:2:3:4"
		echo "pve2-node/pve3:10800:0:$NOW:0.1:8:0.01:0:1:2:0:0:1:2:3:4"
	} >"$r/etc/pve/.rrd"
done
lx() { # NODE ARGS...: lxgpu on that node
	local node=$1
	shift
	run --sysroot "${ROOT[$node]}" "$@"
}
conf() { echo "$SHARED/nodes/$1/lxc/$2.conf"; } # NODE VMID
# the GPU lines of a config, sorted (sync keeps a line it writes again in
# place and adds the others at the end)
rules() { grep -E '^lxc\.cgroup2\.devices\.allow: |^lxc\.mount\.entry: /dev/' "$1" | sort | paste -sd ';'; }

######## 1. every node publishes its GPUs (sync, as the boot unit runs it)
for node in pve1 pve2 pve3; do
	lx $node sync --all --json
	eq "$node: sync --all exit 0" "$rc" 0
	eq "$node: sync says it published" "$(jqr .published)" true
done
f=$SHARED/nodes/pve2/lxgpu.json
eq "pve2's facts: its own file in nodes/pve2, mode 0640 (pmxcfs allows no other)" \
	"$(stat -c %a "$f")" 640
eq "pve2's facts: node, GPUs by UUID, PCI, minor and model (two-fake-gpus.spec)" \
	"$(jq -r '[.node] + [.gpus[] | "\(.index) \(.uuid) \(.pci) \(.minor) \(.model)"] | join(";")' "$f")" \
	"pve2;0 $U0 0000:00:06.0 0 $MODEL;1 $U1 0000:00:07.0 1 $MODEL"
eq "pve2's facts: driver, kind, CUDA (580.159.04, open: 13.0 in data/cuda-drivers.tsv)" \
	"$(jq -r '.drivers[] | "\(.name) \(.version) \(.kind) \(.cuda)"' "$f")" "nvidia 580.159.04 open 13.0"
eq "pve2's facts: nvidia majors (/proc/devices of the spec)" \
	"$(jq -r '[.majors[] | "\(.major) \(.name)"] | join(",")' "$f")" "195 nvidia,195 nvidiactl,238 nvidia-uvm"
eq "pve2's facts: boot id and time as the node's /proc says" \
	"$(jq -r '"\(.boot_id) \(.boot_time)"' "$f")" "00000000-0000-4000-8000-000000000002 $((NOW - 7200))"
eq "pve2's facts: MIG off, memory unknown (no NVML)" "$(jq -r '[.gpus[] | "\(.mig) \(.memory_mib)"] | join(",")' "$f")" \
	"disabled null,disabled null"
eq "pve3's facts: the Intel iGPU and the MX150, 535.183.01" \
	"$(jq -r '[.gpus[] | "\(.vendor) \(.pci) \(.uuid)"] + [.drivers[] | select(.vendor == "nvidia") | .version] | join(";")' "$SHARED/nodes/pve3/lxgpu.json")" \
	"intel 0000:00:02.0 null;nvidia 0000:01:00.0 $MX;535.183.01"
eq "the facts are small" "$(($(stat -c %s "$f") < 4096))" 1
eq "no temp file left in nodes/" "$(find "$SHARED" -name '*.lxgpu-tmp' | wc -l)" 0
sum=$(sha "$f")
lx pve2 sync --all
unchanged "pve2: a second sync rewrites nothing (pmxcfs sends every write to every node)" "$f" "$sum"

######## 2. status --cluster, from any node
lx pve3 status --cluster --json
eq "status --cluster: exit 0" "$rc" 0
eq "status --cluster: the three nodes, with facts, current" \
	"$(jqr '[.nodes[] | "\(.node) \(.facts) \(.stale)"] | join(",")')" "pve1 true false,pve2 true false,pve3 true false"
eq "status --cluster: every node's GPUs" \
	"$(jqr '[.nodes[] | .node as $n | .gpus[] | "\($n)/\(.index)/\(.uuid)"] | join(",")')" \
	"pve1/0/$H100,pve2/0/$U0,pve2/1/$U1,pve3/0/null,pve3/1/$MX"
eq "status --cluster: this node" "$(jqr .node)" pve3

######## 3. a mapping, and containers on pve1
lx pve1 map add ml "node=pve1,gpu=$H100" "node=pve2,gpu=$U1"
eq "map add ml: exit 0" "$rc" 0
eq "the mappings file, cluster-wide" "$(grep -v '^#' "$SHARED/lxgpu/mappings.cfg")" \
	"ml node=pve1,gpu=$H100 node=pve2,gpu=$U1"
lx pve3 map list --json
eq "map list (from pve3): the entries with the models their nodes publish" \
	"$(jqr '[.mappings[] | .name as $m | .entries[] | "\($m) \(.node) \(.gpu) \(.model)"] | join(";")')" \
	"ml pve1 $H100 $MODEL;ml pve2 $U1 $MODEL"
eq "completion: --gpu map: offers the cluster's mappings" \
	"$("$LXGPU" __complete -- 5 lxgpu --sysroot="$P1" attach 101 --gpu map: | paste -sd ' ')" "map:ml"
eq "completion: --node offers the cluster's nodes" \
	"$("$LXGPU" __complete -- 5 lxgpu --sysroot="$P1" check 101 --node "" | paste -sd ' ')" "pve1 pve2 pve3"
lx pve1 map add typo "node=pve2,gpu=$H100"
eq "map add: a GPU its node does not publish: exit 1" "$rc" 1
contains "map add: says which" "$err" "node pve2 has no GPU $H100"
lx pve1 map add ml "node=pve3,gpu=$MX"
eq "map add: an existing name: exit 1" "$rc" 1
lx pve1 map add bad node=pve2
eq "map add: an entry without gpu=: exit 2" "$rc" 2

MAIN='arch: amd64
cores: 4
memory: 8192
ostype: debian
rootfs: local-lvm:vm-%s-disk-0,size=8G'
for id in 101 102 103 104; do
	# shellcheck disable=SC2059
	printf "$MAIN\n" "$id" >"$(conf pve1 $id)"
done
lx pve1 attach 101 --gpu map:ml
eq "attach 101 --gpu map:ml: exit 0" "$rc" 0
lx pve1 attach 102 --gpu "model=NVIDIA H100"
eq "attach 102 --gpu model=NVIDIA H100 (a prefix at a word's end): exit 0" "$rc" 0
lx pve1 attach 103 --gpu 0 --guard
eq "attach 103 --gpu 0 --guard (bound by UUID): exit 0" "$rc" 0
lx pve1 attach 104 --gpu any
eq "attach 104 --gpu any: exit 0" "$rc" 0
lx pve1 attach 104 --gpu "model=NVIDIA H1" --dry-run
eq "model=NVIDIA H1 is no word's end: exit 1" "$rc" 1
contains "model=: says there is none, with the models" "$err" "no GPU of that model on node pve1 (GPUs: 0 $MODEL)"
lx pve1 attach 104 --gpu any --style dev --dry-run
eq "any with --style dev: refused (Proxmox turns devN into rules before lxgpu's hook)" "$rc" 1
# what attach gives for an H100 at minor 0 (uvm on 238), sorted
nv_lines() { # MINOR
	printf '%s\n' "lxc.cgroup2.devices.allow: c 195:$1 rwm" "lxc.cgroup2.devices.allow: c 195:255 rwm" \
		"lxc.cgroup2.devices.allow: c 238:0 rwm" "lxc.cgroup2.devices.allow: c 238:1 rwm" \
		"lxc.mount.entry: /dev/nvidia$1 dev/nvidia$1 none bind,optional,create=file" \
		"lxc.mount.entry: /dev/nvidiactl dev/nvidiactl none bind,optional,create=file" \
		"lxc.mount.entry: /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file" \
		"lxc.mount.entry: /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file" |
		sort | paste -sd ';'
}
PVE1_LINES=$(nv_lines 0)
for id in 101 102 103 104; do
	eq "CT $id on pve1: the H100's exact rules and nodes" "$(rules "$(conf pve1 $id)")" "$PVE1_LINES"
done
eq "CT 101 records the mapping, not a GPU" "$(grep LXGPU_DEVICES "$(conf pve1 101)")" "lxc.environment: LXGPU_DEVICES=map:ml"
eq "CT 102 records the model" "$(grep LXGPU_DEVICES "$(conf pve1 102)")" "lxc.environment: LXGPU_DEVICES=model=NVIDIA H100"
eq "CT 103 records the UUID" "$(grep LXGPU_DEVICES "$(conf pve1 103)")" "lxc.environment: LXGPU_DEVICES=$H100"
eq "CT 104 records any" "$(grep LXGPU_DEVICES "$(conf pve1 104)")" "lxc.environment: LXGPU_DEVICES=any"
eq "CT 101: the start-host hook, through lxc.include (Proxmox drops lxc.hook.start-host)" \
	"$(grep -c '^lxc.include: /.*/lxgpu/start-host.conf$' "$(conf pve1 101)")" 1
eq "CT 103: no start-host hook (its GPU is one GPU)" "$(grep -c 'lxc.include' "$(conf pve1 103)")" 0
sum=$(sha "$(conf pve1 101)")
lx pve1 attach 101 --gpu map:ml
unchanged "attach 101 again: no byte changes" "$(conf pve1 101)" "$sum"
lx pve1 sync 101 102 103 104
eq "sync on pve1: all in line" "$rc-$(grep -c . <<<"$out")" "0-5"

lx pve1 status --cluster --json
eq "status --cluster: the four CTs on pve1, resolved there, ok" \
	"$(jqr '[.containers[] | "\(.ct) \(.node) \(.health) \(.resolved)"] | join(";")')" \
	"101 pve1 ok 0 $MODEL ($H100);102 pve1 ok 0 $MODEL ($H100);103 pve1 ok 0 $MODEL ($H100);104 pve1 ok 0 $MODEL ($H100)"

######## 4. check --node: predicted before the move
check_node() { # CT NODE: sets $out (JSON), $rc
	lx pve1 check "$1" --node "$2" --json
}
check_node 101 pve2
eq "check 101 --node pve2: can run (exit 0)" "$rc $(jqr .can_run)" "0 true"
contains "check 101 --node pve2: the mapping's pve2 GPU" "$(jqr '.checks[] | select(.id == "selection") | .message')" \
	"1 $MODEL ($U1)"
check_node 102 pve2
eq "check 102 --node pve2: can run" "$rc $(jqr .can_run)" "0 true"
contains "check 102 --node pve2: the first H100 there" "$(jqr '.checks[] | select(.id == "selection") | .message')" \
	"0 $MODEL ($U0)"
check_node 103 pve2
eq "check 103 --node pve2: cannot run (exit 3)" "$rc $(jqr .can_run)" "3 false"
eq "check 103 --node pve2: the fix is a model= selection pve2 resolves" \
	"$(jqr '.checks[] | select(.id == "selection") | .fix')" \
	"lxgpu attach 103 --gpu \"model=$MODEL\" (a selection every node resolves)"
check_node 101 pve3
eq "check 101 --node pve3: the mapping has no pve3 GPU" "$rc $(jqr .can_run)" "3 false"
contains "check 101 --node pve3: says so" "$(jqr '.checks[] | select(.id == "selection") | .message')" \
	"the mapping has no GPU of node pve3 (its nodes: pve1, pve2)"
check_node 102 pve3
eq "check 102 --node pve3: no H100 there" "$rc" 3
check_node 104 pve3
eq "check 104 --node pve3: any GPU will do" "$rc $(jqr .can_run)" "0 true"
check_node 101 pve9
eq "check --node of a node without facts: exit 3" "$rc" 3
contains "check --node pve9: says it published nothing, and the fix" "$(jqr '.checks[0] | "\(.message) / \(.fix)"')" \
	"node pve9: it has published no GPUs (lxgpu sync there) / lxgpu sync --all (on pve9)"
lx pve1 check 101 --node "bad/name"
eq "check --node: a bad name is a usage error" "$rc" 2

# the driver and CUDA in a container, against another node's driver: a plain
# LXC container on pve1 with a copied 580.159.04 and CUDA 13.0 (needs 580.65.06)
mkdir -p "$P1/var/lib/lxc/web/rootfs/usr/lib/x86_64-linux-gnu" "$P1/var/lib/lxc/web/rootfs/usr/local/cuda-13.0" \
	"$P1/var/lib/lxc/web/rootfs/etc"
echo 12.4 >"$P1/var/lib/lxc/web/rootfs/etc/debian_version"
: >"$P1/var/lib/lxc/web/rootfs/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.159.04"
ln -s libnvidia-ml.so.580.159.04 "$P1/var/lib/lxc/web/rootfs/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"
echo '{ "cuda" : { "name" : "CUDA SDK", "version" : "13.0.48" } }' >"$P1/var/lib/lxc/web/rootfs/usr/local/cuda-13.0/version.json"
printf 'lxc.rootfs.path = dir:/var/lib/lxc/web/rootfs\nlxc.uts.name = web\n' >"$P1/var/lib/lxc/web/config"
lx pve1 attach web --gpu "model=NVIDIA"
eq "attach web (plain LXC) --gpu model=NVIDIA: exit 0" "$rc" 0
eq "web: the start-host hook line, plain LXC's own key" "$(grep -c '^lxc.hook.start-host = .* hook$' "$P1/var/lib/lxc/web/config")" 1
check_node web pve2
eq "check web --node pve2 (580.159.04): driver and CUDA 13.0 run" \
	"$rc $(jqr '[.checks[] | "\(.id)=\(.status)"] | join(",")')" "0 selection=ok,start-host=ok,driver=ok,cuda=ok"
check_node web pve3
eq "check web --node pve3 (535.183.01): the copied driver and CUDA 13.0 do not" \
	"$rc $(jqr '[.checks[] | "\(.id)=\(.status)"] | join(",")')" "3 selection=ok,start-host=ok,driver=error,cuda=error"
contains "check web --node pve3: the driver's fix" "$(jqr '.checks[] | select(.id == "driver") | .fix')" \
	"lxgpu driver web --mode bind"
contains "check web --node pve3: why CUDA 13.0 does not run" "$(jqr '.checks[] | select(.id == "cuda") | .message')" \
	"CUDA 13.0"
lx pve1 check web --node pve3
contains "check --node, text: the verdict" "$out" "it cannot run there as it is"

######## 5. the move: configs renamed into nodes/pve2/lxc, as migration does
for id in 101 102 103; do
	mv "$(conf pve1 $id)" "$(conf pve2 $id)"
done
mv "$(conf pve1 104)" "$(conf pve3 104)"
lx pve2 sync 101 102 103
eq "sync on pve2: 103 (bound by UUID) fails, the others change: exit 1" "$rc" 1
contains "sync on pve2: 103's reason" "$err" "sync 103: GPU $H100 is not on this host (moved to another node, or removed?)"
eq "CT 101 on pve2: the mapping's GPU there, 195:1 and /dev/nvidia1" "$(rules "$(conf pve2 101)")" \
	"$(nv_lines 1)"
eq "CT 101 on pve2: still records map:ml" "$(grep LXGPU_DEVICES "$(conf pve2 101)")" "lxc.environment: LXGPU_DEVICES=map:ml"
eq "CT 102 on pve2: the first H100 there, 195:0" "$(rules "$(conf pve2 102)")" "$PVE1_LINES"
eq "CT 103 on pve2: untouched" "$(rules "$(conf pve2 103)")" "$PVE1_LINES"
lx pve3 sync 104
eq "sync 104 on pve3: exit 0" "$rc" 0
eq "CT 104 on pve3: any = GPU 0 there, the Intel iGPU: card1 (226:1) and renderD128 (226:128)" \
	"$(rules "$(conf pve3 104)")" \
	"lxc.cgroup2.devices.allow: c 226:1 rwm;lxc.cgroup2.devices.allow: c 226:128 rwm;lxc.mount.entry: /dev/dri/card1 dev/dri/card1 none bind,optional,create=file;lxc.mount.entry: /dev/dri/renderD128 dev/dri/renderD128 none bind,optional,create=file"
# the guard on pve2 (LXC runs it with the config it generates, LXC's syntax)
mkdir -p "$P2/var/lib/lxc/103"
sed 's/^\(lxc\.[a-z0-9.]*\): /\1 = /' "$(conf pve2 103)" >"$P2/var/lib/lxc/103/config"
out=$(LXC_CONFIG_FILE=/var/lib/lxc/103/config "$LXGPU" --sysroot "$P2" hook --guard 103 lxc pre-start 2>&1)
eq "guard on pve2: CT 103 refused, with the reason" "$?: $out" \
	"1: lxgpu: hook 103: refused: GPU $H100 is not on this node: start the container on the node that has it, or give it one of this node's with lxgpu attach 103"
sed 's/^\(lxc\.[a-z0-9.]*\): /\1 = /' "$(conf pve2 101)" >"$P2/var/lib/lxc/103/config"
out=$(LXC_CONFIG_FILE=/var/lib/lxc/103/config "$LXGPU" --sysroot "$P2" hook --guard 103 lxc pre-start 2>&1)
eq "guard on pve2: a map:ml config passes (the mapping resolves there)" "$?: $out" "0: "
sed 's/^\(lxc\.[a-z0-9.]*\): /\1 = /' "$(conf pve2 101)" | sed 's/map:ml/map:gone/' >"$P2/var/lib/lxc/103/config"
out=$(LXC_CONFIG_FILE=/var/lib/lxc/103/config "$LXGPU" --sysroot "$P2" hook --guard 103 lxc pre-start 2>&1)
eq "guard on pve2: map:gone refused, with the reason" "$?: $out" \
	"1: lxgpu: hook 103: refused: --gpu map:gone: no such mapping (lxgpu map list)"

lx pve1 status --cluster --json
eq "status --cluster after the move: each CT on its node, judged from that node's facts" \
	"$(jqr '[.containers[] | "\(.ct) \(.node) \(.health)"] | join(";")')" \
	"101 pve2 ok;102 pve2 ok;103 pve2 error;104 pve3 ok"
eq "status --cluster: 103's problem" "$(jqr '.containers[] | select(.ct == "103") | .problem')" \
	"on node pve2: --gpu $H100: no such GPU (GPUs: 0 0000:00:06.0, 1 0000:00:07.0)"
lx pve1 map rm ml
eq "map rm ml while CT 101 records it: exit 1" "$rc" 1
contains "map rm: names the container" "$err" "CT 101 (pve2) records map:ml"

######## 6. stale facts: pve2 booted again since it published
for r in "$P1" "$P2" "$P3"; do
	sed -i "s|^pve2-node/pve2:7200:|pve2-node/pve2:60:|" "$r/etc/pve/.rrd"
done
lx pve1 status --cluster --json
eq "status --cluster: pve2's facts are from before its last boot" \
	"$(jqr '[.nodes[] | "\(.node) \(.stale)"] | join(",")')" "pve1 false,pve2 true,pve3 false"
eq "status --cluster: its CTs say so" "$(jqr '[.containers[] | select(.node == "pve2") | "\(.ct) \(.stale) \(.health)"] | join(",")')" \
	"101 true warning,102 true warning,103 true error"
echo "00000000-0000-4000-8000-0000000000ff" >"$P1/proc/sys/kernel/random/boot_id"
lx pve1 status --cluster --json
eq "this node: facts of another boot id are stale" "$(jqr '.nodes[0] | "\(.node) \(.stale)"')" "pve1 true"
lx pve1 status --cluster
contains "status --cluster text: the stale mark" "$out" "from before its last boot"

######## 7. no quorum on pve3: writes say so in one line and change nothing
maps=$(sha "$SHARED/lxgpu/mappings.cfg")
facts3=$(sha "$SHARED/nodes/pve3/lxgpu.json")
# pmxcfs shows every directory 0555 without quorum (cfs-plug-memdb.c)
chmod 0555 "$P3/etc/pve" "$SHARED/nodes/pve3/lxc"
lx pve3 map add other "node=pve3,gpu=$MX"
eq "read-only: map add exit 1" "$rc" 1
eq "read-only: map add says so in one line" "$err" \
	"lxgpu: map add: /etc/pve is read-only (this node has no quorum): nothing changed"
unchanged "read-only: mappings unchanged" "$SHARED/lxgpu/mappings.cfg" "$maps"
lx pve3 map rm ml
eq "read-only: map rm says so" "$rc: $err" \
	"1: lxgpu: map rm: /etc/pve is read-only (this node has no quorum): nothing changed"
c104=$(sha "$(conf pve3 104)")
lx pve3 attach 104 --gpu "model=NVIDIA GeForce"
eq "read-only: attach says so in one line" "$rc: $err" \
	"1: lxgpu: attach 104: /etc/pve is read-only (this node has no quorum): nothing changed"
lx pve3 detach 104
eq "read-only: detach too" "$rc: $err" \
	"1: lxgpu: detach 104: /etc/pve is read-only (this node has no quorum): nothing changed"
unchanged "read-only: CT 104's config unchanged" "$(conf pve3 104)" "$c104"
lx pve3 check 104
eq "read-only: check still reads" "$rc" 0
echo "00000000-0000-4000-8000-0000000000ee" >"$P3/proc/sys/kernel/random/boot_id"
lx pve3 sync --all --json
eq "read-only: sync does not publish" "$(jqr '"\(.pve_readonly) \(.published)"')" "true false"
unchanged "read-only: pve3's facts unchanged" "$SHARED/nodes/pve3/lxgpu.json" "$facts3"
lx pve3 status --cluster --json
eq "read-only: reads still work" "$rc $(jqr .readonly) $(jqr '.nodes | length')" "0 true 3"
lx pve3 map list
eq "read-only: map list works" "$rc" 0
# sync --wait: waits for quorum, then syncs and publishes
("$LXGPU" --sysroot "$P3" sync --all --wait --json >"$TMP/wait.out" 2>"$TMP/wait.err"; echo $? >"$TMP/wait.rc") &
sleep 2
eq "sync --wait: still waiting while read-only" "$(cat "$TMP/wait.rc" 2>/dev/null)" ""
chmod 0755 "$SHARED/nodes/pve3/lxc" "$P3/etc/pve"
wait
eq "sync --wait: done once writable" "$(cat "$TMP/wait.rc") $(jq -r .published "$TMP/wait.out")" "0 true"
eq "sync --wait: published the new boot" "$(jq -r .boot_id "$SHARED/nodes/pve3/lxgpu.json")" \
	"00000000-0000-4000-8000-0000000000ee"
eq "sync --wait: --json says nothing on stderr" "$(cat "$TMP/wait.err")" ""

umount "$P1/etc/pve/nodes" "$P2/etc/pve/nodes" "$P3/etc/pve/nodes" "$P1/etc/pve/lxgpu" "$P2/etc/pve/lxgpu" "$P3/etc/pve/lxgpu"
done_testing
