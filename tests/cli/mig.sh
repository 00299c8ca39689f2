#!/bin/bash
# MIG instance selection (attach --gpu GPU/GI/CI) on the fake host
# two-h100-mig.spec + pve.spec. The expected majors and minors are read here
# from the fake host's own files, as NVIDIA's driver lays them out
# (NVIDIA/open-gpu-kernel-modules kernel-open/nvidia/nv-caps.c and
# nv-procfs.c; tests/hosts/SOURCES.md §5.1): /proc/devices for the nvidia-caps and nvidia-uvm
# majors, each GPU's information file for its Device Minor, and for instance
# GI/CI of GPU minor M the DeviceFileMinor of
# /proc/driver/nvidia/capabilities/gpuM/mig/giG[/ciC]/access, or when that
# file has none, /proc/driver/nvidia-caps/mig-minors. Never from lxgpu's
# output. Behaviours lxgpu gets wrong today are TAP "# TODO" tests.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
command -v jq >/dev/null || skip_all "jq not installed"

fake() { # DIR: bails out unless DIR is a fake host root below $TMP
	case $1 in "$TMP"/?*) ;; *) bail "not a fake host: '$1'" ;; esac
	[ -f "$1/proc/devices" ] || bail "fake host $1 has no /proc/devices"
}

h=$(host mig two-h100-mig.spec pve.spec) || bail "mkhost two-h100-mig + pve failed"
fake "$h"
conf=$h/etc/pve/lxc/101.conf
MAIN="arch: amd64
cores: 8
hostname: mig
memory: 16384
ostype: debian
rootfs: local-lvm:vm-101-disk-0,size=32G"
fresh() { printf '%s\n' "$MAIN" >"$1"; }
fresh "$conf"
orig=$(sha "$conf")

# --- what the host's files say
major_of() { awk -v n="$1" '/^Block devices:/ { exit } $2 == n { print $1 }' "$h/proc/devices"; }
CAPS=$(major_of nvidia-caps)
UVM=$(major_of nvidia-uvm)
if [ -z "$CAPS" ] || [ -z "$UVM" ]; then bail "no nvidia-caps or nvidia-uvm major in the fake host"; fi
info() { # BDF FIELD
	sed -n "s/^$2:[[:space:]]*//p" "$h/proc/driver/nvidia/gpus/$1/information"
}
# the GPUs in PCI order: index -> bdf, minor, uuid
BDF=("$h"/proc/driver/nvidia/gpus/*) # a glob is sorted: PCI order
BDF=("${BDF[@]##*/}")
[ "${#BDF[@]}" = 2 ] || bail "want two GPUs in the fake host"
M0=$(info "${BDF[0]}" "Device Minor") U0=$(info "${BDF[0]}" "GPU UUID")
M1=$(info "${BDF[1]}" "Device Minor") U1=$(info "${BDF[1]}" "GPU UUID")
# capminor GPU_MINOR GI [CI]: the capability's device minor
capminor() {
	local rel=gpu$1/mig/gi$2${3:+/ci$3}/access m
	m=$(sed -n 's/^DeviceFileMinor:[[:space:]]*//p' "$h/proc/driver/nvidia/capabilities/$rel" 2>/dev/null)
	[ -n "$m" ] || m=$(awk -v k="gpu$1/gi$2${3:+/ci$3}/access" '$1 == k { print $2 }' "$h/proc/driver/nvidia-caps/mig-minors")
	echo "$m"
}
# the instances of GPU minor M: "GI/CI" from the capabilities tree
instances() {
	(cd "$h/proc/driver/nvidia/capabilities/gpu$1/mig" 2>/dev/null &&
		find . -path './gi*/ci*/access' | sed 's|^\./gi\([0-9]*\)/ci\([0-9]*\)/access$|\1/\2|' | sort -t/ -n -k1,1 -k2,2)
}
mapfile -t INST0 < <(instances "$M0")
eq "the fake host: GPU 0 has the instances of its capability files" "${INST0[*]}" "2/0 3/0 3/1 9/0"
eq "the fake host: GPU 1 is not in MIG mode" "$(instances "$M1")" ""

# the lines an instance (or whole GPUs) must give: rules and mounts, sorted
# want_nodes "GPU_MINOR[/GI/CI]"...: "path major:minor" of every node
want_nodes() {
	local sel gm gi ci
	for sel in "$@"; do
		IFS=/ read -r gm gi ci <<<"$sel"
		echo "/dev/nvidia$gm 195:$gm"
		if [ -n "$gi" ]; then
			echo "/dev/nvidia-caps/nvidia-cap$(capminor "$gm" "$gi") $CAPS:$(capminor "$gm" "$gi")"
			echo "/dev/nvidia-caps/nvidia-cap$(capminor "$gm" "$gi" "$ci") $CAPS:$(capminor "$gm" "$gi" "$ci")"
		else # the whole GPU: every instance's
			local i
			for i in $(instances "$gm"); do
				IFS=/ read -r gi ci <<<"$i"
				echo "/dev/nvidia-caps/nvidia-cap$(capminor "$gm" "$gi") $CAPS:$(capminor "$gm" "$gi")"
				echo "/dev/nvidia-caps/nvidia-cap$(capminor "$gm" "$gi" "$ci") $CAPS:$(capminor "$gm" "$gi" "$ci")"
			done
		fi
	done
	echo "/dev/nvidiactl 195:255"
	echo "/dev/nvidia-uvm $UVM:0"
	echo "/dev/nvidia-uvm-tools $UVM:1"
}
want_rules() { want_nodes "$@" | awk '{ print "lxc.cgroup2.devices.allow: c " $2 " rwm" }' | sort -u; }
want_mounts() { want_nodes "$@" | awk '{ print "lxc.mount.entry: " $1 " " substr($1, 2) " none bind,optional,create=file" }' | sort -u; }
want_record() { want_nodes "$@" | awk '{ print $2 }' | sort -u | paste -sd, -; }
rules() { grep '^lxc.cgroup2.devices.allow: ' "$1" | sort; }
mounts() { grep '^lxc.mount.entry: ' "$1" | sort; }
# the rules LXGPU_WROTE lists ("c195:0"; the node paths follow them)
record() { sed -n 's/^lxc.environment: LXGPU_WROTE=//p' "$1" | tr , '\n' | sed -n 's/^c//p' | sort | paste -sd, -; }
devices() { sed -n 's/^lxc.environment: LXGPU_DEVICES=//p' "$1"; }
# attached DESC SEL...: the config holds exactly the nodes of SEL... ("GPU_MINOR[/GI/CI]")
attached() {
	local desc=$1; shift
	eq "$desc: rules, exactly" "$(rules "$conf")" "$(want_rules "$@")"
	eq "$desc: mounts, exactly" "$(mounts "$conf")" "$(want_mounts "$@")"
	eq "$desc: the rules LXGPU_WROTE records" "$(record "$conf")" "$(want_record "$@")"
}

G3=$(capminor "$M0" 3) C31=$(capminor "$M0" 3 1)
######## 1. one instance, by UUID, index and PCI address
run --sysroot "$h" attach 101 --gpu "$U0/3/1"
eq "attach $U0/3/1: exit 0" "$rc" 0
attached "attach UUID/3/1" "$M0/3/1"
eq "attach UUID/3/1: LXGPU_DEVICES records GPU-uuid/G/C" "$(devices "$conf")" "$U0/3/1"
contains "attach UUID/3/1: the GI access node (cap$G3)" "$(mounts "$conf")" "/dev/nvidia-caps/nvidia-cap$G3 "
contains "attach UUID/3/1: the CI access node (cap$C31)" "$(mounts "$conf")" "/dev/nvidia-caps/nvidia-cap$C31 "
lacks "attach UUID/3/1: not mig/config (cap1)" "$(rules "$conf")" "c $CAPS:1 "
lacks "attach UUID/3/1: not mig/monitor (cap2)" "$(rules "$conf")" "c $CAPS:2 "
lacks "attach UUID/3/1: not GI 3's other CI (ci0)" "$(rules "$conf")" "c $CAPS:$(capminor "$M0" 3 0) "
lacks "attach UUID/3/1: not GPU 1's node" "$(mounts "$conf")" "/dev/nvidia$M1 "
lacks "attach UUID/3/1: no wildcard" "$(rules "$conf")" ":*"
by_uuid=$(cat "$conf")
run --sysroot "$h" attach 101 --gpu "$U0/3/1" --json
eq "attach UUID/3/1 again: no change" "$rc $(jqr .changed)" "0 false"
for sel in 0/3/1 "${BDF[0]}/3/1" 0/03/01; do
	fresh "$conf"
	run --sysroot "$h" attach 101 --gpu "$sel"
	eq "attach --gpu $sel: exit 0, the same config as by UUID" "$rc $(cat "$conf")" "0 $by_uuid"
done

G9=$(capminor "$M0" 9)
eq "the fake host: gi9's access file has no DeviceFileMinor, mig-minors says $G9" \
	"$(grep -c DeviceFileMinor "$h/proc/driver/nvidia/capabilities/gpu$M0/mig/gi9/access") $G9" "0 84"
fresh "$conf"
run --sysroot "$h" attach 101 --gpu 0/9/0
eq "attach 0/9/0: exit 0" "$rc" 0
attached "attach 0/9/0 (GI minor from mig-minors)" "$M0/9/0"

fresh "$conf"
run --sysroot "$h" attach 101 --gpu 0/3/1 --style dev
eq "attach 0/3/1 --style dev: exit 0" "$rc" 0
eq "attach 0/3/1 --style dev: devN for exactly the instance's nodes" \
	"$(sed -n 's/^dev[0-9]*: \([^,]*\),.*/\1/p' "$conf" | sort)" "$(want_nodes "$M0/3/1" | cut -d' ' -f1 | sort)"
eq "attach 0/3/1 --style dev: no raw rules" "$(rules "$conf")" ""

######## 2. selectors that are wrong: exit code, one line, config untouched
fresh "$conf"
refused() { # DESC RC ARGS...
	local desc=$1 want=$2; shift 2
	run --sysroot "$h" attach 101 "$@"
	eq "$desc: exit $want" "$rc" "$want"
	check "$desc: one line" one_line_error
	unchanged "$desc: config untouched" "$conf" "$orig"
}
refused "a missing instance (0/3/2)" 1 --gpu 0/3/2
contains "a missing instance: lists the GPU's instances" "$err" "3/0"
refused "a GPU not in MIG mode (1/0/0)" 1 --gpu 1/0/0
refused "a GPU not in MIG mode, by UUID ($U1/0/0)" 1 --gpu "$U1/0/0"
refused "a GPU that does not exist (7/3/1)" 1 --gpu 7/3/1
refused "a MIG-... UUID" 2 --gpu "MIG-${U0#GPU-}"
contains "a MIG-... UUID: says to name GPU/GI/CI" "$err" "GPU/GI/CI"
refused "a MIG-GPU-.../G/C UUID" 2 --gpu "MIG-$U0/3/1"
for sel in 0/3 0/3/ 0//1 0/a/1 0/3/1/2 all/3/1 0/-1/0 0/3/1x /3/1 0/ 0/3/0,0/3/1 0/1000/0 "$U0/3" "GPU-14d254be/3/1"; do
	refused "malformed --gpu '$sel'" 2 --gpu "$sel"
done
refused "two instances of one GPU (0/3/0 and 0/3/1)" 1 --gpu 0/3/0 --gpu 0/3/1
contains "two instances of one GPU: says one per GPU" "$err" "one MIG instance per GPU"
refused "two instances of one GPU, by UUID and index" 1 --gpu "$U0/2/0" --gpu 0/3/1
# the missing node of an instance: the container would get an instance it cannot open
cp -a "$h" "$TMP/nocap" || bail "cp -a failed"
fake "$TMP/nocap"
rm "$TMP/nocap/dev/nvidia-caps/nvidia-cap$C31"
run --sysroot "$TMP/nocap" attach 101 --gpu 0/3/1
eq "an instance whose CI node is missing: refused (exit 1) or its rule written" \
	"$([ "$rc" = 1 ] || grep -q "c $CAPS:$C31 rwm" "$TMP/nocap/etc/pve/lxc/101.conf"; echo $?)" 0

######## 3. combinations
fresh "$conf"
run --sysroot "$h" attach 101 --gpu 0/3/1 --gpu "$U0/3/1"
eq "the same instance twice (index and UUID): exit 0" "$rc" 0
attached "the same instance twice" "$M0/3/1"
fresh "$conf"
run --sysroot "$h" attach 101 --gpu 0
whole=$(cat "$conf")
attached "the whole GPU 0 (MIG mode): every instance's nodes" "$M0"
for args in "--gpu 0 --gpu 0/3/1" "--gpu 0/3/1 --gpu 0" "--gpu $U0/2/0 --gpu ${BDF[0]}"; do
	fresh "$conf"
	# shellcheck disable=SC2086
	run --sysroot "$h" attach 101 $args
	eq "whole GPU and one of its instances ($args): exit 0, the whole GPU" "$rc $(cat "$conf")" "0 $whole"
	eq "whole GPU and an instance ($args): recorded as the GPU" "$(devices "$conf")" "$U0"
done
fresh "$conf"
run --sysroot "$h" attach 101 --gpu 0/3/1 --gpu 1
eq "an instance of GPU 0 and the whole GPU 1: exit 0" "$rc" 0
attached "an instance of GPU 0 and the whole GPU 1" "$M0/3/1" "$M1"
eq "an instance of GPU 0 and GPU 1: both recorded" "$(devices "$conf")" "$U0/3/1,$U1"
# the point of MIG: two containers, one instance each
conf2=$h/etc/pve/lxc/102.conf
fresh "$conf"
fresh "$conf2"
run --sysroot "$h" attach 101 --gpu 0/3/0
run --sysroot "$h" attach 102 --gpu 0/3/1
eq "two containers, 3/0 and 3/1: CT 101's rules" "$(rules "$conf")" "$(want_rules "$M0/3/0")"
eq "two containers: CT 102's rules" "$(rules "$conf2")" "$(want_rules "$M0/3/1")"
lacks "two containers: CT 101 cannot open 3/1's CI" "$(rules "$conf")" "c $CAPS:$C31 "
run --sysroot "$h" detach 101
unchanged "two containers: detach 101 gives its config back" "$conf" "$orig"
eq "two containers: CT 102 untouched by 101's detach" "$(rules "$conf2")" "$(want_rules "$M0/3/1")"

# an instance on GPU 1, whose Device Minor (5) is not its index: its
# capabilities are gpu5's (nv-caps.c names them by minor), minors from mig-minors
h5=$TMP/gpu5
cp -a "$h" "$h5" || bail "cp -a failed"
fake "$h5"
mkdir -p "$h5/proc/driver/nvidia/capabilities/gpu$M1/mig/gi1/ci0"
printf 'DeviceFileMode: 292\nDeviceFileModify: 1\n' >"$h5/proc/driver/nvidia/capabilities/gpu$M1/mig/gi1/access"
printf 'DeviceFileMode: 292\nDeviceFileModify: 1\n' >"$h5/proc/driver/nvidia/capabilities/gpu$M1/mig/gi1/ci0/access"
hh=$h h=$h5 # capminor reads $h
G51=$(capminor "$M1" 1) C510=$(capminor "$M1" 1 0)
if [ -z "$G51" ] || [ -z "$C510" ]; then bail "no mig-minors entries for gpu$M1/gi1"; fi
mknod -m 0444 "$h5/dev/nvidia-caps/nvidia-cap$G51" c "$CAPS" "$G51"
mknod -m 0444 "$h5/dev/nvidia-caps/nvidia-cap$C510" c "$CAPS" "$C510"
fresh "$h5/etc/pve/lxc/101.conf"
run --sysroot "$h5" attach 101 --gpu 1/1/0
eq "GPU 1 (minor $M1) instance 1/0: exit 0" "$rc" 0
conf=$h5/etc/pve/lxc/101.conf
attached "GPU 1 (minor $M1) instance 1/0: gpu$M1's caps $G51 and $C510" "$M1/1/0"
eq "GPU 1 instance 1/0: recorded by UUID" "$(devices "$conf")" "$U1/1/0"
h=$hh conf=$h/etc/pve/lxc/101.conf

######## 4. sync after the nvidia-caps major moves, detach
fresh "$conf"
run --sysroot "$h" attach 101 --gpu "$U0/3/1"
before=$(cat "$conf")
NEW=509 # another dynamic major (tests/hosts/SOURCES.md, last part)
sed -i "s/^$CAPS nvidia-caps\$/$NEW nvidia-caps/" "$h/proc/devices"
[ "$(major_of nvidia-caps)" = $NEW ] || bail "could not move the nvidia-caps major"
run --sysroot "$h" sync 101 --dry-run
eq "caps major $CAPS -> $NEW: sync --dry-run exit 3 (drift)" "$rc" 3
eq "sync --dry-run: config untouched" "$(cat "$conf")" "$before"
run --sysroot "$h" sync 101
eq "sync: exit 0" "$rc" 0
OLDCAPS=$CAPS CAPS=$NEW
attached "after sync: the same instance under the new major" "$M0/3/1"
eq "after sync: LXGPU_DEVICES unchanged" "$(devices "$conf")" "$U0/3/1"
lacks "after sync: no rule of the old major" "$(rules "$conf")" "c $OLDCAPS:"
eq "after sync: the instance's nodes remade under $NEW" \
	"$(stat -c '%Hr:%Lr' "$h/dev/nvidia-caps/nvidia-cap$G3" "$h/dev/nvidia-caps/nvidia-cap$C31" | paste -sd' ' -)" \
	"$NEW:$G3 $NEW:$C31"
run --sysroot "$h" sync 101 --dry-run
eq "sync again: nothing to do (exit 0)" "$rc" 0
run --sysroot "$h" detach 101
eq "detach: exit 0" "$rc" 0
unchanged "detach: the config as before attach, byte for byte" "$conf" "$orig"
for w in nvidia LXGPU "$NEW:"; do lacks "detach: nothing of '$w' left" "$(cat "$conf")" "$w"; done

######## 5. discover lists the instances with their selectors
run --sysroot "$h" discover
eq "discover: exit 0" "$rc" 0
eq "discover: every instance of GPU 0 with its --gpu selector" \
	"$(grep -o -- '--gpu [^)]*' <<<"$out" | sort | paste -sd' ' -)" \
	"$(for i in "${INST0[@]}"; do echo "--gpu 0/$i"; done | sort | paste -sd' ' -)"
eq "discover: the instance lines name GPU 0 only" "$(grep -c 'MIG' <<<"$out") $(grep -c '^GPU 1 MIG' <<<"$out")" \
	"$(printf '%s\n' "${INST0[@]}" | cut -d/ -f1 | sort -u | wc -l) 0"
for i in "${INST0[@]}"; do
	sel=0/$i
	fresh "$conf"
	run --sysroot "$h" attach 101 --gpu "$sel"
	eq "discover's selector --gpu $sel attaches: exit 0" "$rc" 0
done

done_testing
