#!/bin/bash
# attach, detach, undo and show on fake Proxmox and LXC hosts. The expected
# lines are written here from the H100 capture's numbers (nvidia 195, GPU minor
# 0, nvidiactl 255, nvidia-uvm 238 with minors 0 and 1: h100 capture l.24-35)
# and from Proxmox's grammar (pve-container's src/PVE/LXC/Config.pm,
# parse_pct_config and write_pct_config; tests/golden/README.md), not from the
# program's output.
. "$(dirname "$0")/lib.sh"
need_root

UUID=$H100_UUID
h=$(host pve h100-580.159.04.spec pve.spec)
conf=$h/etc/pve/lxc/101.conf
BLOCK=$H100_BLOCK

MAIN=$PVE_MAIN
SNAP="[before_gpu]
arch: amd64
hostname: cuda
snaptime: 1718000000
lxc.apparmor.profile: generated"
printf '%s\n\n%s\n' "$MAIN" "$SNAP" >"$conf"
orig=$(sha "$conf")

# --- attach: the block goes after the main section's last line, the snapshot is untouched
run --sysroot "$h" attach 101
eq "attach: exit 0" "$rc" 0
eq "attach: the whole file" "$(cat "$conf")" "$MAIN
$BLOCK

$SNAP"
contains "attach: says what it added" "$out" "+ lxc.cgroup2.devices.allow: c 238:1 rwm"
eq "attach: no temp or backup file in /etc/pve/lxc" "$(ls "$h/etc/pve/lxc")" 101.conf
eq "attach: previous config kept outside /etc/pve" "$(undo_sha "$h/var/lib/lxgpu/backup/pve-101.undo" before)" \
	"$(printf '%s\n\n%s\n' "$MAIN" "$SNAP" | sha256sum | cut -d' ' -f1)"
eq "attach: and the config it wrote" "$(undo_sha "$h/var/lib/lxgpu/backup/pve-101.undo" after)" "$(sha "$conf")"
check "attach: lock file is pct's" test -f "$h/run/lock/lxc/pve-config-101.lock"
check "attach: lock released" flock -n "$h/run/lock/lxc/pve-config-101.lock" true
after=$(sha "$conf")

run --sysroot "$h" attach 101 --json
eq "attach twice: changed false" "$(jqr .changed)" false
unchanged "attach twice: file unchanged" "$conf" "$after"
run --sysroot "$h" attach 101 --gpu 0 --gpu "$UUID" --gpu 0000:00:06.0
unchanged "attach by index, UUID and PCI address: the same GPU, no change" "$conf" "$after"

run --sysroot "$h" show 101 --json
eq "show: records the GPU" "$(jqr '.devices | join(",")')" "$UUID"
eq "show: healthy" "$(jqr .health)" ok
eq "show: lines" "$(jqr '[.lines[] | .kind] | join(",")')" "record,record,record,rule,rule,rule,rule,mount,mount,mount,mount"
eq "show: every line lxgpu's" "$(jqr '[.lines[] | .owner] | unique | join(",")')" "lxgpu"

run --sysroot "$h" detach 101
eq "detach: exit 0" "$rc" 0
unchanged "attach then detach: byte-identical" "$conf" "$orig"

run --sysroot "$h" undo 101
eq "undo after detach: exit 0" "$rc" 0
unchanged "undo: the attached config is back" "$conf" "$after"
run --sysroot "$h" undo 101
eq "undo twice: exit 1" "$rc" 1
contains "undo twice: nothing to undo" "$err" "nothing to undo"
run --sysroot "$h" detach 101 --quiet
echo "memory: 4096" >>"$conf"
edited=$(sha "$conf")
run --sysroot "$h" undo 101
eq "undo after a hand edit: exit 1" "$rc" 1
check "undo after a hand edit: one line" one_line_error
unchanged "undo after a hand edit: file unchanged" "$conf" "$edited"
printf '%s\n\n%s\n' "$MAIN" "$SNAP" >"$conf"
# a torn undo file (a crash while it was written): refused, never restored
ufile=$h/var/lib/lxgpu/backup/pve-101.undo
run --sysroot "$h" attach 101 --quiet
attached=$(sha "$conf")
truncate -s -5 "$ufile"
run --sysroot "$h" undo 101
eq "undo, torn undo file: exit 1" "$rc" 1
check "undo, torn undo file: one line" one_line_error
contains "undo, torn undo file: says it is damaged" "$err" "pve-101.undo is damaged"
unchanged "undo, torn undo file: config unchanged" "$conf" "$attached"
# a byte of its "before" changed, the sizes right: the hash refuses it
run --sysroot "$h" detach 101 --quiet
detached=$(sha "$conf")
printf 'X' | dd of="$ufile" bs=1 seek=$(($(head -n 1 "$ufile" | wc -c) + 3)) conv=notrunc status=none
run --sysroot "$h" undo 101
eq "undo, a byte of the undo file changed: exit 1" "$rc" 1
contains "undo, a byte of the undo file changed: says it is damaged" "$err" "pve-101.undo is damaged"
unchanged "undo, a byte of the undo file changed: config unchanged" "$conf" "$detached"
# the hash as docs/lxgpu.1.in gives it, computed here; and a version 1 file
# (FNV-1a 64 a byte at a time, what lxgpu wrote before) still undoes
# undo_file FILE [1]: FILE's two configs with the header recomputed: by
# version 2's rule, or rewritten as version 1
undo_file() {
	python3 - "$@" <<'PY'
import struct, sys
path = sys.argv[1]
data = open(path, "rb").read()
head, body = data.split(b"\n", 1)
b, a = int(head.split()[2]), int(head.split()[3])
M, P = (1 << 64) - 1, 0x100000001b3
def bytewise(h, s):
    for c in s:
        h = ((h ^ c) * P) & M
    return h
def words(h, s):
    n = len(s) // 8 * 8
    for i in range(0, n, 8):
        h = ((h ^ struct.unpack("<Q", s[i:i + 8])[0]) * P) & M
        h ^= h >> 32
    return bytewise(h, s[n:])
f = bytewise if len(sys.argv) > 2 else words
h = f(f(0xcbf29ce484222325, body[:b]), body[b:b + a])
version = 1 if len(sys.argv) > 2 else 2
sys.stdout.buffer.write(b"lxgpu-undo %d %d %d %016x\n" % (version, b, a, h) + body)
PY
}
run --sysroot "$h" attach 101 --quiet
attached=$(sha "$conf")
eq "undo file: version 2, its hash as the man page says" "$(undo_file "$ufile" | sha256sum)" \
	"$(sha256sum <"$ufile")"
undo_file "$ufile" 1 >"$TMP/v1.undo" && cp "$TMP/v1.undo" "$ufile"
check "undo file rewritten as version 1" grep -q '^lxgpu-undo 1 ' "$ufile"
run --sysroot "$h" undo 101
eq "undo from a version 1 undo file: exit 0" "$rc" 0
unchanged "undo from a version 1 undo file: the config before attach is back" "$conf" "$detached"
# lxgpu 0.2's .before/.after pair still undoes
rm -f "$ufile"
printf '%s\n' "$MAIN" >"$h/var/lib/lxgpu/backup/pve-101.before"
cp "$conf" "$h/var/lib/lxgpu/backup/pve-101.after"
run --sysroot "$h" undo 101
eq "undo from a 0.2 .before/.after pair: exit 0" "$rc" 0
eq "undo from a 0.2 pair: the .before config is back" "$(cat "$conf")" "$MAIN"
check "undo from a 0.2 pair: the pair is gone" test ! -e "$h/var/lib/lxgpu/backup/pve-101.before"
printf '%s\n\n%s\n' "$MAIN" "$SNAP" >"$conf"

# --- dry run and JSON
run --sysroot "$h" attach 101 --dry-run
eq "dry-run: exit 0" "$rc" 0
unchanged "dry-run: file unchanged" "$conf" "$orig"
contains "dry-run: unified diff header" "$out" "--- a/etc/pve/lxc/101.conf
+++ b/etc/pve/lxc/101.conf"
contains "dry-run: diff adds the rule" "$out" "+lxc.cgroup2.devices.allow: c 195:0 rwm"
run --sysroot "$h" attach 101 --dry-run --json
eq "dry-run json: changed, schema" "$(jqr '"\(.schema) \(.changed) \(.dry_run)"')" "1 true true"
eq "dry-run json: plan" "$(jqr '.plan | "\(.style) \(.rules | join(",")) \(.gpus | join(","))"')" \
	"raw c 195:0 rwm,c 195:255 rwm,c 238:0 rwm,c 238:1 rwm $UUID"
contains "dry-run json: diff" "$(jqr .diff)" "+lxc.environment: LXGPU_DEVICES=$UUID"
unchanged "dry-run json: file unchanged" "$conf" "$orig"

# --- the guide's lines (docs/ownership.md): the NVIDIA ones adopted, the
# mounts that say what lxgpu says kept in place, the dead majors and the
# /dev/dri directory mount (another device too) left alone
sample 01-raw-nvidia-privileged.conf >"$conf"
run --sysroot "$h" attach 101 --json
eq "guide lines: c 195:* and the /dev/nvidia-caps directory adopted (replaced)" \
	"$(jqr '[.removed[] | "\(.why): \(.line)"] | join("|")')" \
	"adopted: lxc.cgroup2.devices.allow: c 195:* rwm|adopted: lxc.mount.entry: /dev/nvidia-caps dev/nvidia-caps none bind,optional,create=dir"
eq "guide lines: the four mounts lxgpu would write, adopted where they are" \
	"$(jqr '.adopted | join("|")')" \
	"lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file|lxc.mount.entry: /dev/nvidiactl dev/nvidiactl none bind,optional,create=file|lxc.mount.entry: /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file|lxc.mount.entry: /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file"
eq "guide lines: only the record and the exact rules are added" "$(jqr '.added | join("|")')" \
	"lxc.environment: LXGPU_DEVICES=$UUID|lxc.environment: LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no|lxc.environment: LXGPU_WROTE=c195:0,c195:255,c238:0,c238:1,/dev/nvidia0,/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-uvm-tools|lxc.cgroup2.devices.allow: c 195:0 rwm|lxc.cgroup2.devices.allow: c 195:255 rwm|lxc.cgroup2.devices.allow: c 238:0 rwm|lxc.cgroup2.devices.allow: c 238:1 rwm"
eq "guide lines: majors 508 and 511, registered by no driver, kept and named" \
	"$(jqr '[.left_alone[] | "\(.why): \(.line)"] | join("|")')" \
	"dead-major: lxc.cgroup2.devices.allow: c 508:* rwm|dead-major: lxc.cgroup2.devices.allow: c 511:* rwm"
eq "guide lines: one mount per node" "$(grep -c 'lxc.mount.entry: /dev/nvidia0 ' "$conf")" 1
lacks "guide lines: no wildcard left" "$(cat "$conf")" "195:*"
contains "guide lines: other lines kept (the /dev/dri directory mount)" "$(cat "$conf")" \
	"lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir"
run --sysroot "$h" attach 101
contains "guide lines, attach again: no change" "$out" "CT 101: no change"
contains "guide lines, attach again: names --prune for the dead majors" "$out" \
	"kept lxc.cgroup2.devices.allow: c 508:* rwm: its major is registered by no driver (lxgpu sync 101 --prune removes it)"
run --sysroot "$h" sync 101 --prune --dry-run
eq "guide lines: sync --prune --dry-run: exit 3" "$rc" 3
contains "guide lines: sync --prune --dry-run: would remove 508" "$out" "-lxc.cgroup2.devices.allow: c 508:* rwm"
run --sysroot "$h" sync 101 --prune --json
eq "guide lines: sync --prune: exit 0" "$rc" 0
eq "guide lines: sync --prune: removes the two dead rules, nothing else" \
	"$(jqr '.results[0].removed | join("|")')" \
	"lxc.cgroup2.devices.allow: c 508:* rwm|lxc.cgroup2.devices.allow: c 511:* rwm"
eq "guide lines: sync --prune: adds nothing" "$(jqr '.results[0].added | length')" 0

# --- a rule for a major no driver has registered yet, with no GPU lines: not lxgpu's business
printf '%s\nlxc.cgroup2.devices.allow: c 188:* rwm\n' "$MAIN" >"$conf"
before=$(sha "$conf")
run --sysroot "$h" attach 101
contains "unrelated rule (ttyUSB, driver not loaded): kept" "$(cat "$conf")" "c 188:* rwm"
run --sysroot "$h" attach 101
eq "unrelated rule: attach twice, no change" "$out" "CT 101: no change (/etc/pve/lxc/101.conf)"
run --sysroot "$h" detach 101
unchanged "unrelated rule: attach then detach byte-identical (found by fuzz_config)" "$conf" "$before"

# --- --wildcard
printf '%s\n' "$MAIN" >"$conf"
run --sysroot "$h" attach 101 --wildcard --json
eq "wildcard: the guide's rules" "$(grep 'devices.allow' "$conf")" \
	"lxc.cgroup2.devices.allow: c 195:* rwm
lxc.cgroup2.devices.allow: c 238:* rwm"

# --- style dev (pve-container 5.2.6 >= 5.0.7)
printf '%s\ndev0: /dev/ttyUSB0\n\n[pve:pending]\ndelete: dev1\ndev2: /dev/ttyUSB1\n' "$MAIN" >"$conf"
run --sysroot "$h" attach 101 --style dev
eq "dev: exit 0" "$rc" 0
eq "dev: lowest free indices, pending and delete: counted (a devN in [pve:pending] or its delete: is taken)" \
	"$(grep -E '^dev[0-9]+:' "$conf" | head -5)" \
	"dev0: /dev/ttyUSB0
dev3: /dev/nvidia0,mode=0666
dev4: /dev/nvidiactl,mode=0666
dev5: /dev/nvidia-uvm,mode=0666
dev6: /dev/nvidia-uvm-tools,mode=0666"
eq "dev: no raw rules" "$(grep -c devices.allow "$conf")" 0
contains "dev: pending section untouched" "$(cat "$conf")" "[pve:pending]
delete: dev1
dev2: /dev/ttyUSB1"
run --sysroot "$h" attach 101 --style dev
eq "dev twice: no change" "$out" "CT 101: no change (/etc/pve/lxc/101.conf)"
run --sysroot "$h" attach 101 --style raw --json
eq "dev -> raw: devN lines replaced" "$(grep -cE '^dev[3-6]:' "$conf")" 0
eq "dev -> raw: dev0 of another device kept" "$(grep -c '^dev0: /dev/ttyUSB0' "$conf")" 1

# a devN already as lxgpu writes it, under another index than the plan's:
# it stays, and no new line takes its index (Proxmox keeps only the last of
# two dev3 keys: /dev/nvidia0 would be lost)
printf '%s\ndev3: /dev/nvidia0,mode=0666\n' "$MAIN" >"$conf"
run --sysroot "$h" attach 101 --style dev
eq "dev kept under its own index: exit 0" "$rc" 0
eq "dev kept under its own index: every devN key once" "$(grep -oE '^dev[0-9]+' "$conf" | sort | uniq -d)" ""
eq "dev kept under its own index: nvidia0 once, as dev3" "$(grep -E '^dev[0-9]+: /dev/nvidia0,' "$conf")" \
	"dev3: /dev/nvidia0,mode=0666"
eq "dev kept under its own index: four devN lines" "$(grep -cE '^dev[0-9]+: /dev/nvidia' "$conf")" 4

printf '%s\n\n[pve:pending]\ndev0: /dev/nvidia0,gid=44,mode=0666\n' "$MAIN" >"$conf"
before=$(sha "$conf")
run --sysroot "$h" attach 101
eq "pending devN for the same node: exit 1" "$rc" 1
contains "pending devN: says which and how to fix" "$err" "dev0 in [pve:pending] already passes /dev/nvidia0"
unchanged "pending devN: unchanged" "$conf" "$before"

old=$(host pveold h100-580.159.04.spec pve.spec)
sed -i 's/^Version: 5.2.6$/Version: 5.0.4/' "$old/var/lib/dpkg/status"
printf '%s\n' "$MAIN" >"$old/etc/pve/lxc/101.conf"
run --sysroot "$old" attach 101 --style dev
eq "dev on pve-container 5.0.4: exit 1" "$rc" 1
contains "dev on pve-container 5.0.4: says why" "$err" "needs pve-container 5.0.7"
run --sysroot "$old" attach 101 --json
eq "auto on pve-container 5.0.4: raw" "$(jqr .plan.style)" raw

# --- unprivileged Proxmox CT with an Intel iGPU: devN with the container's gids
intel=$(host pveintel intel-n100.spec pve.spec)
printf '%s\nunprivileged: 1\n' "$MAIN" >"$intel/etc/pve/lxc/102.conf"
run --sysroot "$intel" attach 102
eq "unprivileged DRI without gids: exit 1" "$rc" 1
contains "unprivileged DRI without gids: asks for --gid" "$err" "pass --gid"
run --sysroot "$intel" attach 102 --gid render=993,video=44
eq "unprivileged DRI: exit 0" "$rc" 0
eq "unprivileged DRI: devN with the container's render and video gids (auto = dev)" \
	"$(grep -E '^dev' "$intel/etc/pve/lxc/102.conf")" \
	"dev0: /dev/dri/card0,gid=44,mode=0660
dev1: /dev/dri/renderD128,gid=993,mode=0660"
eq "unprivileged DRI: record is the PCI address" \
	"$(grep LXGPU_DEVICES "$intel/etc/pve/lxc/102.conf")" "lxc.environment: LXGPU_DEVICES=0000:00:02.0"
run --sysroot "$intel" show 102
contains "show: render group note" "$out" "usermod -aG render,video"
printf '%s\n' "$MAIN" >"$intel/etc/pve/lxc/103.conf"
run --sysroot "$intel" attach 103 --style raw
eq "privileged DRI raw: host gids kept, exact rules" \
	"$(grep -E 'allow|mount' "$intel/etc/pve/lxc/103.conf")" \
	"lxc.cgroup2.devices.allow: c 226:0 rwm
lxc.cgroup2.devices.allow: c 226:128 rwm
lxc.mount.entry: /dev/dri/card0 dev/dri/card0 none bind,optional,create=file
lxc.mount.entry: /dev/dri/renderD128 dev/dri/renderD128 none bind,optional,create=file"
printf '%s\nunprivileged: 1\n' "$MAIN" >"$intel/etc/pve/lxc/104.conf"
run --sysroot "$intel" attach 104 --style raw --gid 993
eq "unprivileged DRI raw: exit 0" "$rc" 0
# the nodes come from the pre-start hook, made on the host and owned by the
# container's group (README.md, "Unprivileged containers and DRI nodes")
eq "unprivileged DRI raw: nodes from the hook's directory, the hook, the container's gids" \
	"$(grep -E 'allow|mount|REQUEST|hook' "$intel/etc/pve/lxc/104.conf")" \
	"lxc.environment: LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no,render=993,video=993
lxc.cgroup2.devices.allow: c 226:0 rwm
lxc.cgroup2.devices.allow: c 226:128 rwm
lxc.mount.entry: /run/lxgpu/104/dev/dri/card0 dev/dri/card0 none bind,optional,create=file
lxc.mount.entry: /run/lxgpu/104/dev/dri/renderD128 dev/dri/renderD128 none bind,optional,create=file
lxc.hook.pre-start: $LXGPU --sysroot $intel hook
lxc.hook.post-stop: $LXGPU --sysroot $intel hook"

# --- Proxmox VE 9: an application container (entrypoint) with its runtime
# environment (pve-container 6.1 reads lxc.environment.runtime lines as its
# `env` option): the same lines as a system container; env kept byte for byte
APP="arch: amd64
entrypoint: /usr/bin/python3 -m http.server 8080
hostname: app
memory: 2048
ostype: unmanaged
rootfs: local-lvm:vm-101-disk-0,size=8G
lxc.environment.runtime: PATH=/usr/local/bin:/usr/bin
lxc.environment.runtime: MODEL_DIR=/srv/models"
printf '%s\n' "$APP" >"$conf"
run --sysroot "$h" attach 101
eq "app container: exit 0" "$rc" 0
eq "app container: its lines as they were, then the same block as a system container's" \
	"$(cat "$conf")" "$APP
$BLOCK"
lacks "app container: no cgroup v1 key written" "$(cat "$conf")" "lxc.cgroup.devices"
run --sysroot "$h" driver 101 --mode bind
eq "app container: driver --mode bind: exit 0" "$rc" 0
contains "app container: the bind hook like a system container's" "$(cat "$conf")" \
	"lxc.hook.mount: $(readlink -f "$LXGPU") --sysroot $(readlink -f "$h") hook"
run --sysroot "$h" detach 101
eq "app container: detach gives its config back" "$(cat "$conf")" "$APP"

# --- plain LXC: "key = value", no sections
lxc=$(host lxc h100-580.159.04.spec)
mkdir -p "$lxc/var/lib/lxc/web" "$lxc/srv/lxc/db"
printf 'lxc.include = /usr/share/lxc/config/common.conf\nlxc.net.0.type = empty\nlxc.rootfs.path = dir:/var/lib/lxc/web/rootfs\n' \
	>"$lxc/var/lib/lxc/web/config"
lorig=$(sha "$lxc/var/lib/lxc/web/config")
run --sysroot "$lxc" attach web --gpu 0
eq "lxc: exit 0" "$rc" 0
eq "lxc: key = value lines" "$(sed -n '4,7p' "$lxc/var/lib/lxc/web/config")" \
	"lxc.environment = LXGPU_DEVICES=$UUID
lxc.environment = LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no
lxc.environment = LXGPU_WROTE=c195:0,c195:255,c238:0,c238:1,/dev/nvidia0,/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-uvm-tools
lxc.cgroup2.devices.allow = c 195:0 rwm"
run --sysroot "$lxc" detach web
unchanged "lxc: attach then detach byte-identical" "$lxc/var/lib/lxc/web/config" "$lorig"
printf 'lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n' >"$lxc/srv/lxc/db/config"
run --sysroot "$lxc" --lxcpath /srv/lxc attach db
eq "lxc: --lxcpath, unprivileged with NVIDIA's 0666 nodes: exit 0" "$rc" 0
run --sysroot "$lxc" attach web --style dev
eq "lxc: --style dev refused" "$rc" 1

# --- running container, system log
mkdir -p "$h/proc/net"
printf 'Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 41229 @/var/lib/lxc/101/command\n' \
	>"$h/proc/net/unix"
printf '%s\n' "$MAIN" >"$conf"
rm -f "$h/dev/log"
python3 - "$h/dev/log" "$TMP/syslog" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
open(sys.argv[2], "wb").write(s.recv(2048))
PY
for _ in $(seq 50); do [ -S "$h/dev/log" ] && break; sleep 0.1; done
run --sysroot "$h" attach 101
wait
contains "running CT: applies at next start" "$out" \
	"CT 101 is running: the change applies at its next start (pct reboot 101)"
contains "system log: one line from lxgpu" "$(cat "$TMP/syslog")" "lxgpu["
contains "system log: what changed" "$(cat "$TMP/syslog")" "attached to CT 101: 11 lines added, 0 removed, GPUs $UUID"
rm -f "$h/dev/log" "$h/proc/net/unix"

# --- MIG: a GPU's instances come with it
mig=$(host pvemig two-h100-mig.spec pve.spec)
printf '%s\n' "$MAIN" >"$mig/etc/pve/lxc/101.conf"
run --sysroot "$mig" attach 101 --gpu 0 --json
eq "mig: GPU 0 with its instances' caps (tests/hosts/SOURCES.md §5.2 minors)" "$(jqr '.plan.rules | join(",")')" \
	"c 195:0 rwm,c 241:21 rwm,c 241:22 rwm,c 241:30 rwm,c 241:31 rwm,c 241:32 rwm,c 241:84 rwm,c 241:85 rwm,c 195:255 rwm,c 238:0 rwm,c 238:1 rwm"
run --sysroot "$mig" attach 101 --gpu 1 --json
eq "mig: the other GPU by index: its own minor 5, no caps" "$(jqr '.plan.rules | join(",")')" \
	"c 195:5 rwm,c 195:255 rwm,c 238:0 rwm,c 238:1 rwm"
eq "mig: switching GPUs replaces lxgpu's lines" "$(jqr '[.removed[] | .why] | unique | join(",")')" lxgpu
lacks "mig: GPU 0 gone from the config" "$(cat "$mig/etc/pve/lxc/101.conf")" "/dev/nvidia0 "

# --- AMD: kfd, card and render, privileged LXC
amd=$(host amdlxc amd-strix-halo.spec)
mkdir -p "$amd/var/lib/lxc/rocm"
printf 'lxc.net.0.type = empty\n' >"$amd/var/lib/lxc/rocm/config"
run --sysroot "$amd" attach rocm --json
eq "amd: card, render and kfd (majors 226 and 234)" "$(jqr '.plan.rules | join(",")')" \
	"c 226:0 rwm,c 226:128 rwm,c 234:0 rwm"

# --- bad input: one line on stderr, exit 1 or 2, the file unchanged
printf '%s\n' "$MAIN" >"$conf"
before=$(sha "$conf")
bad() { # DESC WANT_RC ARGS...
	local desc=$1 want=$2; shift 2
	run "$@"
	eq "$desc: exit $want" "$rc" "$want"
	check "$desc: one line" one_line_error
	unchanged "$desc: file unchanged" "$conf" "$before"
}
bad "unknown CT" 1 --sysroot "$h" attach 555
bad "VMID out of range" 2 --sysroot "$h" attach 99
bad "VMID with a leading zero" 2 --sysroot "$h" attach 0101
bad "name with a slash" 2 --sysroot "$h" attach ../../etc
bad "selection matching nothing" 1 --sysroot "$h" attach 101 --gpu 3
bad "selection that is not a selector" 2 --sysroot "$h" attach 101 --gpu GPU-xyz
bad "unknown style" 2 --sysroot "$h" attach 101 --style fancy
bad "missing CT" 2 --sysroot "$h" attach
bad "bad --gid" 2 --sysroot "$h" attach 101 --gid render=x
contains "unknown CT: names it" "$(run --sysroot "$h" attach 555; echo "$err")" "no container 555"
mkdir -p "$h/etc/pve/nodes/pve2/lxc" "$h/etc/pve/nodes/pve2/qemu-server"
touch "$h/etc/pve/nodes/pve2/lxc/150.conf" "$h/etc/pve/nodes/pve2/qemu-server/160.conf"
run --sysroot "$h" attach 150
contains "CT on another node: says where" "$err" "CT 150 is on cluster node pve2"
run --sysroot "$h" attach 160
contains "a VM: says so" "$err" "160 is a virtual machine"

printf '%s\nlock: backup\n' "$MAIN" >"$conf"
before=$(sha "$conf")
bad "locked CT" 1 --sysroot "$h" attach 101
contains "locked CT: says why" "$err" "CT 101 is locked (backup)"
head -c 4096 /dev/urandom >"$conf"
before=$(sha "$conf")
bad "not a config" 1 --sysroot "$h" attach 101
{ printf '%s\n' "$MAIN"; head -c 1100000 /dev/zero | tr '\0' '#'; echo; } >"$conf"
before=$(sha "$conf")
bad "over 1 MiB" 1 --sysroot "$h" attach 101
contains "over 1 MiB: says so" "$err" "larger than"
printf '%s\nthis is not a config line\n' "$MAIN" >"$conf"
before=$(sha "$conf")
bad "invalid line" 1 --sysroot "$h" attach 101
contains "invalid line: file:line" "$err" "/etc/pve/lxc/101.conf:8: not a Proxmox config line"
boot=$(host pveboot h100-after-boot.spec pve.spec)
printf '%s\n' "$MAIN" >"$boot/etc/pve/lxc/101.conf"
conf=$boot/etc/pve/lxc/101.conf
before=$(sha "$conf")
bad "node missing (after boot)" 1 --sysroot "$boot" attach 101
contains "node missing: the fix" "$err" "nvidia-modprobe -u -c 0"
flock "$h/run/lock/lxc/pve-config-101.lock" sleep 30 &
holder=$!
sleep 0.2
conf=$h/etc/pve/lxc/101.conf
printf '%s\n' "$MAIN" >"$conf"
before=$(sha "$conf")
start=$(date +%s)
bad "held lock" 1 --sysroot "$h" attach 101
contains "held lock: says who might hold it" "$err" "locked by another process"
check "held lock: gave up after about 10 s" test $(($(date +%s) - start)) -ge 9
kill $holder 2>/dev/null

done_testing
