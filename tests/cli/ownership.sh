#!/bin/bash
# Which lines are lxgpu's (docs/ownership.md), on fake hosts: each of the five
# ways earlier versions took or gave what they should not, as an admin meets
# them, and the record's versions. Expected lines come from docs/ownership.md
# and the specs' numbers (two-fake-gpus: GPU 0 195:0, GPU 1 195:1, uvm 238;
# intel-nvidia-laptop: iGPU card1 226:1 renderD128 226:128, NVIDIA at
# 0000:01:00.0 with uvm 508; h100: no kfd, 234 registered by no driver), never
# from lxgpu's output.
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"
need_root
command -v jq >/dev/null || skip_all "jq not installed"

U0=GPU-fa4e0000-0000-4000-8000-000000000000
two=$(host two two-fake-gpus.spec pve.spec) || bail "mkhost two-fake-gpus failed"
conf=$two/etc/pve/lxc/101.conf
MAIN="arch: amd64
hostname: gpu
memory: 4096
ostype: debian
rootfs: local-lvm:vm-101-disk-0,size=8G"
# The guide's block, as pasted (the minors 254/255 and by-path's size 60 taken
# for majors, the uvm majors of the guide author's host)
GUIDE="lxc.cgroup2.devices.allow: c 60:* rwm
lxc.cgroup2.devices.allow: c 195:* rwm
lxc.cgroup2.devices.allow: c 226:* rwm
lxc.cgroup2.devices.allow: c 254:* rwm
lxc.cgroup2.devices.allow: c 255:* rwm
lxc.cgroup2.devices.allow: c 508:* rwm
lxc.cgroup2.devices.allow: c 511:* rwm
lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file
lxc.mount.entry: /dev/nvidiactl dev/nvidiactl none bind,optional,create=file
lxc.mount.entry: /dev/nvidia-modeset dev/nvidia-modeset none bind,optional,create=file
lxc.mount.entry: /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file
lxc.mount.entry: /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file
lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir"
rules() { grep -E '^lxc.cgroup2.devices.allow' "$1" | sort; }

######## 1. sync never widens: the guide's block, attach --gpu 0, sync
printf '%s\n%s\n' "$MAIN" "$GUIDE" >"$conf"
run --sysroot "$two" attach 101 --gpu 0 --quiet
eq "guide + attach --gpu 0: exit 0" "$rc" 0
# kept: what reaches other devices (60, 226, 254, 255 are not NVIDIA's; 508 and
# 511 are registered by no driver here: only --prune takes them)
want="lxc.cgroup2.devices.allow: c 195:0 rwm
lxc.cgroup2.devices.allow: c 195:255 rwm
lxc.cgroup2.devices.allow: c 226:* rwm
lxc.cgroup2.devices.allow: c 238:0 rwm
lxc.cgroup2.devices.allow: c 238:1 rwm
lxc.cgroup2.devices.allow: c 254:* rwm
lxc.cgroup2.devices.allow: c 255:* rwm
lxc.cgroup2.devices.allow: c 508:* rwm
lxc.cgroup2.devices.allow: c 511:* rwm
lxc.cgroup2.devices.allow: c 60:* rwm"
eq "guide + attach: exact NVIDIA rules, every other rule kept" "$(rules "$conf")" "$want"
attached=$(sha "$conf")
run --sysroot "$two" sync 101
eq "sync right after attach: exit 0" "$rc" 0
contains "sync right after attach: in line" "$out" "101 in-line"
unchanged "sync right after attach: no byte changed (no c 195:*, no c 238:*)" "$conf" "$attached"
run --sysroot "$two" sync --all --dry-run
eq "sync --all --dry-run: exit 0 (the kept 508/511 are check's business)" "$rc" 0
run --sysroot "$two" check 101 --json
eq "check: exit 0 (warnings only)" "$rc" 0
eq "check: names --prune for 508 and 511" \
	"$(jqr '[.checks[] | select(.fix == "lxgpu sync 101 --prune") | .message | capture("allow: (?<r>c [0-9]+:[*] rwm)").r] | join(",")')" \
	"c 508:* rwm,c 511:* rwm"
lacks "check: never suggests a wildcard" "$out" "195:*"
# GPU 1's node: nothing in the config allows or mounts it
lacks "no line gives GPU 1 (195:1)" "$(cat "$conf")" "195:1 "
lacks "no line mounts /dev/nvidia1" "$(cat "$conf")" "/dev/nvidia1 "

######## 4. attach is idempotent and labels truthfully
printf '%s\nlxc.cgroup2.devices.allow: c 226:* rwm\nlxc.cgroup2.devices.allow: c 195:1 rwm\n' "$MAIN" >"$conf"
run --sysroot "$two" attach 101 --gpu 0 --json
eq "hand-written c 195:1 (GPU 1): adopted and removed, so labelled" \
	"$(jqr '[.removed[] | "\(.why): \(.line)"] | join("|")')" \
	"adopted: lxc.cgroup2.devices.allow: c 195:1 rwm"
eq "hand-written c 226:* kept, named as wider" "$(jqr '[.left_alone[] | "\(.why): \(.line)"] | join("|")')" \
	"wider: lxc.cgroup2.devices.allow: c 226:* rwm"
first=$(sha "$conf")
run --sysroot "$two" attach 101 --gpu 0 --json
eq "second identical attach: changed false" "$(jqr .changed)" false
eq "second identical attach: removes nothing" "$(jqr '.removed | length')" 0
unchanged "second identical attach: no byte changed" "$conf" "$first"
contains "c 226:* still there" "$(cat "$conf")" "lxc.cgroup2.devices.allow: c 226:* rwm"

######## 5. one mount per node, whatever the source path
printf '%s\nlxc.mount.entry: /srv/ct-devices/nvidia0 dev/nvidia0 none bind,optional,create=file\nlxc.mount.entry: /dev/nvidia0 /dev/nvidia0 none bind,optional,create=file\n' \
	"$MAIN" >"$conf"
run --sysroot "$two" attach 101 --gpu 0 --quiet
eq "other source path: exit 0" "$rc" 0
eq "other source path: one mount entry with target dev/nvidia0" \
	"$(awk '$1 == "lxc.mount.entry:" { t = $3; sub(/^\/+/, "", t); if (t == "dev/nvidia0") n++ } END { print n + 0 }' "$conf")" 1
contains "other source path: lxgpu's mount of the host node" "$(cat "$conf")" \
	"lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file"

######## 2. detach leaves other devices: a Jellyfin-style CT with an Intel iGPU
laptop=$(host laptop intel-nvidia-laptop.spec pve.spec) || bail "mkhost intel-nvidia-laptop failed"
lconf=$laptop/etc/pve/lxc/102.conf
printf '%s\nunprivileged: 1\n%s\n' "$MAIN" "dev0: /dev/dri/renderD128,gid=104
lxc.cgroup2.devices.allow: c 226:* rwm
lxc.mount.entry: /dev/dri/by-path dev/dri/by-path none bind,optional,create=dir" >"$lconf"
orig=$(sha "$lconf")
run --sysroot "$laptop" attach 102 --gpu 0000:01:00.0 --quiet
eq "iGPU CT + NVIDIA attach: exit 0" "$rc" 0
eq "iGPU CT + NVIDIA attach: the iGPU's lines kept" \
	"$(grep -cxF -e 'dev0: /dev/dri/renderD128,gid=104' -e 'lxc.cgroup2.devices.allow: c 226:* rwm' \
		-e 'lxc.mount.entry: /dev/dri/by-path dev/dri/by-path none bind,optional,create=dir' "$lconf")" 3
run --sysroot "$laptop" detach 102 --quiet
eq "iGPU CT: detach exit 0" "$rc" 0
unchanged "iGPU CT: attach then detach gives the original bytes (transcoding kept)" "$lconf" "$orig"
# attaching the iGPU itself adopts its own devN; NVIDIA's DRI node (renderD129) stays out
printf '%s\nunprivileged: 1\n%s\n' "$MAIN" "dev0: /dev/dri/renderD128,gid=104
dev1: /dev/dri/renderD129,gid=104" >"$lconf"
run --sysroot "$laptop" attach 102 --gpu 0000:00:02.0 --gid 104 --style dev --json
eq "iGPU attach: its own devN adopted (replaced by lxgpu's with mode=), NVIDIA's renderD129 kept" \
	"$(jqr '[.removed[] | "\(.why) \(.line)"] | join("|")')" \
	"adopted dev0: /dev/dri/renderD128,gid=104"
contains "iGPU attach: dev1 (NVIDIA's node) kept" "$(cat "$lconf")" "dev1: /dev/dri/renderD129,gid=104"

######## 3. attach leaves other devices: AMD, an NPU, a renumbered card
h100=$(host h100 h100-580.159.04.spec pve.spec) || bail "mkhost h100 failed"
hconf=$h100/etc/pve/lxc/103.conf
OTHERS="dev0: /dev/dri/card0
dev1: /dev/kfd
lxc.cgroup2.devices.allow: c 234:* rwm
lxc.cgroup2.devices.allow: c 261:0 rwm"
printf '%s\n%s\n' "$MAIN" "$OTHERS" >"$hconf"
run --sysroot "$h100" attach 103 --json
eq "NVIDIA attach beside AMD/NPU lines: exit 0" "$rc" 0
eq "NVIDIA attach: removes nothing" "$(jqr '.removed | length')" 0
eq "NVIDIA attach: kfd, 234, the NPU's 261:0 and card0 kept, in order" \
	"$(grep -xF -f <(printf '%s\n' "$OTHERS") "$hconf")" "$OTHERS"
eq "NVIDIA attach: 234 (dynamic, no driver now) named, not removed" \
	"$(jqr '[.left_alone[] | "\(.why): \(.line)"] | join("|")')" \
	"dead-major: lxc.cgroup2.devices.allow: c 234:* rwm"
run --sysroot "$h100" detach 103 --quiet
eq "NVIDIA detach: the other devices' lines as they were" "$(sed -n '6,$p' "$hconf")" "$OTHERS"

######## the record's versions
# lxgpu 0.1 wrote wildcards after a sync widened them: upgraded, exact
printf '%s\n%s\n' "$MAIN" "lxc.environment: LXGPU_DEVICES=$U0
lxc.environment: LXGPU_RULES=195:*,238:*
lxc.cgroup2.devices.allow: c 195:* rwm
lxc.cgroup2.devices.allow: c 238:* rwm
lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file
lxc.mount.entry: /dev/nvidiactl dev/nvidiactl none bind,optional,create=file
lxc.mount.entry: /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file
lxc.mount.entry: /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file" >"$conf"
run --sysroot "$two" sync 101 --quiet
eq "0.1 record: sync exit 0" "$rc" 0
eq "0.1 record: upgraded to exact rules, never wider" "$(rules "$conf")" \
	"lxc.cgroup2.devices.allow: c 195:0 rwm
lxc.cgroup2.devices.allow: c 195:255 rwm
lxc.cgroup2.devices.allow: c 238:0 rwm
lxc.cgroup2.devices.allow: c 238:1 rwm"
eq "0.1 record: version 2 record, the same GPU" \
	"$(grep -E 'LXGPU_(DEVICES|REQUEST|RULES)' "$conf")" \
	"lxc.environment: LXGPU_DEVICES=$U0
lxc.environment: LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no"
run --sysroot "$two" sync 101 --dry-run
eq "0.1 record, upgraded: sync --dry-run exit 0" "$rc" 0

# "238:00" in a 0.1 record is no item lxgpu wrote (it never writes a leading
# zero): a hand-written c 238:0 stays at detach (found by fuzz_owner)
printf '%s\n%s\n' "$MAIN" "lxc.environment: LXGPU_DEVICES=$U0
lxc.environment: LXGPU_RULES=195:0,238:00
lxc.cgroup2.devices.allow: c 195:0 rwm
lxc.cgroup2.devices.allow: c 238:0 rwm" >"$conf"
run --sysroot "$two" detach 101 --quiet
eq "0.1 record with 238:00: detach exit 0" "$rc" 0
eq "0.1 record with 238:00: its 195:0 gone, the hand-written 238:0 kept" "$(rules "$conf")" \
	"lxc.cgroup2.devices.allow: c 238:0 rwm"
# a record from a newer lxgpu: refused, nothing changed
printf '%s\nlxc.environment: LXGPU_DEVICES=%s\nlxc.environment: LXGPU_REQUEST=v3,style=raw\n' "$MAIN" "$U0" >"$conf"
before=$(sha "$conf")
for cmd in attach detach sync; do
	run --sysroot "$two" "$cmd" 101
	eq "v3 record: $cmd exit 1" "$rc" 1
	check "v3 record: $cmd: one line" one_line_error
	contains "v3 record: $cmd: says why" "$err" "written by a newer lxgpu"
	unchanged "v3 record: $cmd: config unchanged" "$conf" "$before"
done
# a hand-edited request lxgpu cannot read
printf '%s\nlxc.environment: LXGPU_DEVICES=%s\nlxc.environment: LXGPU_REQUEST=v2,style=fast\n' "$MAIN" "$U0" >"$conf"
before=$(sha "$conf")
run --sysroot "$two" attach 101
eq "unreadable request: attach exit 1" "$rc" 1
contains "unreadable request: names the field" "$err" "LXGPU_REQUEST: cannot read 'style=fast'"
unchanged "unreadable request: config unchanged" "$conf" "$before"
# a version lxgpu never writes ("v02", found by fuzz_owner): no record lxgpu
# trusts, so detach takes nothing
printf '%s\nlxc.environment: LXGPU_DEVICES=%s\nlxc.environment: LXGPU_REQUEST=v02,style=raw\nlxc.environment: LXGPU_WROTE=c195:0\nlxc.cgroup2.devices.allow: c 195:0 rwm\n' \
	"$MAIN" "$U0" >"$conf"
before=$(sha "$conf")
run --sysroot "$two" detach 101
eq "request v02: detach exit 1, one line" "$rc $(wc -l <<<"$err")" "1 1"
contains "request v02: says why" "$err" "LXGPU_REQUEST: no version (v2) at its start"
unchanged "request v02: config unchanged" "$conf" "$before"
# ",v2,..." (found by fuzz_owner: strtok skipped the empty first item) and a
# key given twice: no record lxgpu trusts either
for bad in ',v2,style=raw' 'v2,rules=wildcard,rules=exact'; do
	printf '%s\nlxc.environment: LXGPU_DEVICES=%s\nlxc.environment: LXGPU_REQUEST=%s\nlxc.environment: LXGPU_WROTE=c195:0\nlxc.cgroup2.devices.allow: c 195:0 rwm\n' \
		"$MAIN" "$U0" "$bad" >"$conf"
	before=$(sha "$conf")
	run --sysroot "$two" detach 101
	eq "request $bad: detach exit 1, one line" "$rc $(wc -l <<<"$err")" "1 1"
	contains "request $bad: says why" "$err" "LXGPU_REQUEST: "
	unchanged "request $bad: config unchanged" "$conf" "$before"
done

######## detach of hand-written lines only: nothing lxgpu did not write
printf '%s\n%s\n' "$MAIN" "$GUIDE" >"$conf"
before=$(sha "$conf")
run --sysroot "$two" detach 101
eq "guide only: detach exit 0" "$rc" 0
contains "guide only: detach says no change" "$out" "no change"
unchanged "guide only: detach leaves every hand-written line" "$conf" "$before"
run --sysroot "$two" sync 101 --json
eq "guide only: sync leaves it, not-attached" "$(jqr '.results[0].result')" "not-attached"
unchanged "guide only: sync changed nothing" "$conf" "$before"

######## a hand-written line added after attach: drift, adopted by sync
printf '%s\n' "$MAIN" >"$conf"
run --sysroot "$two" attach 101 --gpu 0 --quiet
echo "lxc.cgroup2.devices.allow: c 195:* rwm" >>"$conf"
run --sysroot "$two" check 101
eq "a c 195:* added by hand: check exit 3 (drift)" "$rc" 3
contains "check: says sync adopts it" "$out" "sync replaces it with lxgpu's exact lines"
run --sysroot "$two" sync 101 --quiet
lacks "sync: the wildcard adopted, gone" "$(cat "$conf")" "195:*"
run --sysroot "$two" check 101
eq "after sync: check exit 0" "$rc" 0

######## --prune never opens every device
# LXC keeps its device settings as one list: an empty value drops what its key
# set before (common.conf's allows too), and a list left with no rule attaches
# no device program at all (lxc's cgfsng_devices_activate). Here the dead 234
# rule is the only rule left after the empty line: removing it would open
# every device, so it stays; without the empty line it goes. The
# hand-written mount makes it a GPU container (sync prunes only those).
NV0="lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file"
for priv in "" "unprivileged: 1"; do
	what=${priv:+unprivileged}; what=${what:-privileged}
	printf '%s\n%s%s\n' "$MAIN" "${priv:+$priv
}" "lxc.cgroup2.devices.allow:
lxc.cgroup2.devices.allow: c 234:* rwm
$NV0" >"$hconf"
	before=$(sha "$hconf")
	run --sysroot "$h100" sync 103 --prune --json
	eq "$what, emptied list + dead 234: sync --prune exit 0" "$rc" 0
	unchanged "$what, emptied list + dead 234: the rule stays (the only fence)" "$hconf" "$before"
done
# a rule LXC cannot parse ("C", upper case) is no fence: fixed, it would
# leave the list empty; nor is a devN: its rule exists only while its node
# does (Proxmox refuses the start otherwise), and it comes before the lxc.*
# lines (found by fuzz_owner: a devN of a node the host lacks was taken as a
# fence)
for extra in "lxc.cgroup2.devices.allow: C 238:0 rwm|an unparsable rule" \
	"dev0: /dev/nvidia7|a devN of no node"; do
	printf '%s\n%s\n' "$MAIN" "lxc.cgroup2.devices.allow:
${extra%%|*}
lxc.cgroup2.devices.allow: c 234:* rwm
$NV0" >"$hconf"
	before=$(sha "$hconf")
	run --sysroot "$h100" sync 103 --prune --quiet
	eq "emptied list + ${extra#*|} + dead 234: sync --prune exit 0" "$rc" 0
	unchanged "emptied list + ${extra#*|} + dead 234: the rule stays" "$hconf" "$before"
done
printf '%s\n%s\n%s\n' "$MAIN" "lxc.cgroup2.devices.allow: c 234:* rwm" "$NV0" >"$hconf"
run --sysroot "$h100" sync 103 --prune --quiet
eq "common.conf's list + dead 234: sync --prune exit 0" "$rc" 0
eq "common.conf's list + dead 234: the rule removed" "$(sed -n '6,$p' "$hconf")" "$NV0"

######## a mount entry's fields end at a space or a tab (glibc's getmntent_r,
# which LXC reads them with): "/<VT>dev/x dev/nvidia0" mounts onto dev/nvidia0,
# so attach takes it as that node's entry (found by fuzz_owner)
printf '%s\n%s\n' "$MAIN" "lxc.mount.entry: /$(printf '\v')dev/x dev/nvidia0 none bind,optional,create=file" >"$conf"
run --sysroot "$two" attach 101 --gpu 0 --quiet
eq "source with a VT: attach exit 0" "$rc" 0
eq "source with a VT: one entry on dev/nvidia0, lxgpu's" \
	"$(grep -a 'dev/nvidia0 none' "$conf")" \
	"lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file"

######## "dev05" is no devN to Proxmox (its keys are dev0 to dev255, pct.conf(5))
printf '%s\n%s\n' "$MAIN" "dev05: /dev/nvidia0
dev256: /dev/nvidia0" >"$conf"
run --sysroot "$two" attach 101 --gpu 0 --style dev --quiet
eq "dev05/dev256 + attach --style dev: exit 0" "$rc" 0
eq "dev05 and dev256 kept, not adopted" "$(grep -cxF -e 'dev05: /dev/nvidia0' -e 'dev256: /dev/nvidia0' "$conf")" 2
contains "lxgpu's own dev0 passes /dev/nvidia0" "$(cat "$conf")" "dev0: /dev/nvidia0,"

done_testing
