#!/bin/bash
# bench/run.sh [--short] [--json FILE] [--only GROUP,...] [BUILDDIR]: every
# benchmark of lxgpu, each against a reference measured in the same run, and
# one table of the figures (figure, value, reference, ratio, target, pass) on
# stdout; what each benchmark measured along the way goes to stderr. The same
# table is written as JSON to FILE, by default BUILDDIR/bench/run.json
# (BUILDDIR/bench/run-short.json in the short mode). Needs root (fake hosts
# with device nodes, tmpfs, mount namespaces); BUILDDIR (default build/)
# holds lxgpu and bench/'s helpers.
#
# Groups (--only) and their figures; targets from issue 15 unless said:
#   discover  discover / floor <= 1.3 (bench/discover-floor reads only what any
#             discover must; binding on the GPU machine), with `lxgpu
#             --version` (lxgpu's start alone) as a second reference; discover /
#             `nvidia-smi -L` <= 0.1 where the NVIDIA driver and nvidia-smi
#             are; peak RSS of discover.
#   sync      `sync --all` over generated Proxmox configs (bench/pve-configs.awk)
#             against `cp -r` of the same tree: 10k configs all changed (the
#             state after a kernel update moved nvidia-uvm's major) <= 3, and
#             every changed config written through a temp file, an fsync and a
#             rename (strace, when there) and left exactly as sync must leave
#             it; a second reference there, bench/sync-floor: the writes alone
#             (lock, undo file, temp, fsync, rename per config; no parsing),
#             for how much of the time they take; 10k configs 2.5% changed <= 1.5, and the time per config at
#             1k, 10k and 100k, flat: 100k/1k <= 1.5; peak RSS of sync (the
#             largest of its runs; the figure names which).
#   hook      the start hook as LXC runs it, the process alone, each run in a
#             fresh private mount namespace (made before the clock starts, so
#             its bind mounts go away): bind mode (`hook NAME lxc mount`,
#             the driver's files bound) <= 2 ms median, the guard (`hook
#             --guard` as lxc.hook.pre-start) <= 1 ms; against bench-null
#             (fork+exec+wait of a static no-op) and discover-floor; peak RSS.
#   attach    attach on a 200-line config with 5 snapshots <= 2 ms (issue 4),
#             against discover-floor; peak RSS of attach and of check.
#   doctor    doctor over 50 GPU containers, all stopped, <= 100 ms (issue 7),
#             against discover.
# Peak RSS targets: <= 4 MiB (4096 KiB) each, against discover-floor's.
#
# Hosts. With an NVIDIA driver loaded (/proc/driver/nvidia/version) discover
# and the hooks read this machine (the hooks bind into, and read their config
# from, a throwaway container on tmpfs); elsewhere, and with BENCH_HOST=sample,
# they read the sample host (scripts/mkhost tests/hosts/h100-580.159.04.spec),
# and the table's header and the JSON say so. sync, attach and doctor always
# write to a fake Proxmox host (the sample host + tests/hosts/pve.spec). Every
# host and tree lives on a tmpfs mounted in a private mount namespace (the
# script re-runs itself under `unshare -m`): /etc/pve is pmxcfs on Proxmox,
# which ignores fsync (pve-cluster's src/pmxcfs/pmxcfs.c has no fsync
# operation, https://github.com/proxmox/pve-cluster), and an fsync on tmpfs
# costs nothing as well. BENCH_DIR=DIR measures on DIR's filesystem instead.
#
# Modes. The full mode judges the targets: "yes"/"no" where judged,
# "(yes)"/"(no)" where a target binds only on the GPU machine and this is not
# it. --short (or BENCH_SHORT=1; CI runs it through `meson test`, suite bench)
# checks that the harness works: few runs, small sizes (sync at 200 and 1000
# configs), nothing judged on time, so that it passes on a loaded machine.
# Both modes fail when a benchmark errs: a command that fails, a sync that
# refuses or leaves a config other than it must, a hook that fails, a figure
# missing from the table.
#
# Exit: 0 every benchmark ran (and, in the full mode, every judged target was
# met); 1 a benchmark erred or a figure is missing; 2 usage; 3 (full mode)
# every benchmark ran but a judged target was missed; 77 not root (meson's skip).
#
# Environment: RUNS (runs of each command bench-harness times; 300, doctor 50;
# short 5), SIZES (sync's sizes, 2.5% changed; "1000 10000 100000", short
# "200 1000"), ALL_SIZE (all changed; 10000, short 1000), SYNC_RUNS (timed
# syncs per size; 15 at 1k, 9 at 10k, 5 above; short 2), BUDGET (seconds of
# sync per size, 120: fewer runs where a sync is slower, one where one takes
# longer), CTS (doctor's GPU containers; 50, short 5), BENCH_DIR, BENCH_HOST.
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	echo "usage: bench/run.sh [--short] [--json FILE] [--only discover,sync,hook,attach,doctor] [BUILDDIR]" >&2
	exit 2
}
all_groups="discover sync hook attach doctor"
short=${BENCH_SHORT:-}
json='' groups=$all_groups build_arg=''
args=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--short) short=1 ;;
	--json) [ $# -ge 2 ] || usage; json=$2; shift ;;
	--only)
		[ $# -ge 2 ] || usage
		groups=${2//,/ }
		for g in $groups; do
			case " $all_groups " in *" $g "*) ;; *) usage ;; esac
		done
		shift
		;;
	-*) usage ;;
	*) [ -z "$build_arg" ] || usage; build_arg=$1 ;;
	esac
	shift
done
[ "$short" != 0 ] || short=''
build=$(cd "${build_arg:-$here/build}" && pwd)
lxgpu=$build/lxgpu
harness=$build/bench/bench-harness
floor=$build/bench/discover-floor
null=$build/bench/bench-null
sync_floor=$build/bench/sync-floor
if [ "$(id -u)" != 0 ]; then
	echo "bench/run.sh: needs root (fake hosts with device nodes, tmpfs, mount namespaces)" >&2
	exit 77
fi
for f in "$lxgpu" "$harness" "$floor" "$null" "$sync_floor"; do
	[ -x "$f" ] || { echo "bench/run.sh: no $f: build $build first" >&2; exit 1; }
done
if [ -z "$json" ]; then
	json=$build/bench/run${short:+-short}.json
	[ "$groups" = "$all_groups" ] || json=$build/bench/run${short:+-short}-${groups// /-}.json
	mkdir -p "$build/bench"
fi
json=$(cd "$(dirname "$json")" && pwd)/$(basename "$json")

# A private mount namespace: the tmpfs, and whatever a hook mounts, go away with it.
if [ -z "${LXGPU_BENCH_UNSHARED:-}" ]; then
	LXGPU_BENCH_UNSHARED=1 exec unshare -m --propagation private "$0" "${args[@]}"
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if [ -n "${BENCH_DIR:-}" ]; then
	dir=$(mktemp -d "$BENCH_DIR/lxgpu-bench.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
else
	dir=$(mktemp -d /tmp/lxgpu-bench.XXXXXX)
	mount -t tmpfs -o size=8g tmpfs "$dir"
	trap 'umount -l "$dir"; rmdir "$dir"' EXIT
fi

if [ -n "$short" ]; then
	runs=${RUNS:-5} doctor_runs=${RUNS:-3} cts=${CTS:-5}
	sizes=${SIZES:-200 1000} all_size=${ALL_SIZE:-1000} durable_size=200
else
	runs=${RUNS:-300} doctor_runs=${RUNS:-50} cts=${CTS:-50}
	sizes=${SIZES:-1000 10000 100000} all_size=${ALL_SIZE:-10000} durable_size=1000
fi
budget=${BUDGET:-120}

# --- results: rows of the table, errors, the figures each group owes ------------

rows=$dir/rows.tsv errors=$dir/errors expected=$dir/expected
: >"$rows"
: >"$errors"
: >"$expected"
log() { echo "$*" >&2; }
# die MESSAGE: the benchmark erred; ends its group (each runs in a subshell)
die() {
	echo "bench/run.sh: $*" >&2
	local one_line=$*
	echo "${one_line//$'\n'/ }" >>"$errors"
	exit 1
}
# owes ID...: the figures a group must put in the table (or skip, saying why)
owes() { printf '%s\n' "$@" >>"$expected"; }
# figure ID LABEL VALUE UNIT REFS TARGET SCOPE: a row. REFS: "NAME=VALUE;..."
# in VALUE's unit; the ratios are VALUE over each. TARGET: "ratio<=X" or
# "ratio>=X" (on the first ratio), "value<=X", or "" (no target). SCOPE: any
# (judged in the full mode), gpu (judged in the full mode where the NVIDIA
# driver is), check (judged in every mode: not a time).
figure() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n' "$@" >>"$rows"; }
# skipped ID LABEL WHY: a figure that cannot be measured here
skipped() { printf '%s\t%s\t\t\t\t\tskipped\t%s\n' "$1" "$2" "$3" >>"$rows"; }

# measure [--mountns] RUNS NAME 'CMD...'...: bench-harness's medians into
# $results (TSV: name, median, p10, p90 ms, peak RSS KiB, failed runs), its
# table to stderr; dies when any run of any command failed
measure() {
	results=$("$harness" --tsv "$@") || die "bench-harness $* failed"
	awk -F'\t' '{ printf "  %-14s median %8.3f ms  p10 %8.3f  p90 %8.3f  peak RSS %6d KiB  failed %d\n",
		$1, $2, $3, $4, $5, $6 }' <<<"$results" >&2
	local failed
	failed=$(awk -F'\t' '$6 > 0 { printf "%s%s (%d runs)", sep, $1, $6; sep = ", " }' <<<"$results")
	[ -z "$failed" ] || die "failed: $failed"
}
median() { awk -F'\t' -v n="$1" '$1 == n { print $2 }' <<<"$results"; }
peak_rss() { awk -F'\t' -v n="$1" '$1 == n { print $5 }' <<<"$results"; }

# stats VALUE...: "median p10 p90"
stats() {
	printf '%s\n' "$@" | sort -g | awk '
		function at(p) { return v[int(p * (NR - 1) + 0.5) + 1] }
		{ v[NR] = $1 } END { printf "%.4f %.4f %.4f\n", at(0.5), at(0.1), at(0.9) }'
}

# --- hosts --------------------------------------------------------------------

# The sample host, built once (mkhost takes a second); copies keep its nodes.
sample=$dir/sample
"$here/scripts/mkhost" "$here/tests/hosts/h100-580.159.04.spec" "$sample" >/dev/null
"$here/scripts/mkhost" "$here/tests/hosts/h100-580.159.04.spec" "$here/tests/hosts/pve.spec" \
	"$dir/sample-pve" >/dev/null
# pve_host DIR: a fresh fake Proxmox host at DIR
pve_host() { cp -a "$dir/sample-pve" "$1"; }

if [ -e /proc/driver/nvidia/version ] && [ "${BENCH_HOST:-}" != sample ]; then
	host_kind=real
	host_root=/
	host_desc="this machine: NVIDIA driver $(awk '/^NVRM/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9.]+$/) { print $i; exit } }' /proc/driver/nvidia/version)"
	host_desc+=" (discover, hooks); sync, attach, doctor: a fake Proxmox host (sample host + pve.spec) on tmpfs"
else
	host_kind=sample
	host_root=$sample
	why="no NVIDIA driver here"
	[ ! -e /proc/driver/nvidia/version ] || why="BENCH_HOST=sample"
	host_desc="the sample host (tests/hosts/h100-580.159.04.spec): $why; sync, attach, doctor: it + pve.spec"
fi
# lxgpu's arguments for the host, and where a throwaway container's lxcpath is
# (below the host's root, as lxgpu sees it) and lies (as this script sees it)
if [ $host_kind = real ]; then
	host_args=() ct_lxcpath=$dir/lxc ct_path=$dir/lxc
else
	host_args=(--sysroot "$host_root") ct_lxcpath=/var/lib/lxc ct_path=$host_root/var/lib/lxc
fi
if ldd "$null" >/dev/null 2>&1; then null_kind=dynamic; else null_kind=static; fi

# --- discover -----------------------------------------------------------------

group_discover() {
	owes discover.floor discover.nvidia-smi rss.discover
	log "== discover: lxgpu discover --json, discover-floor, lxgpu --version, nvidia-smi -L; $runs runs each, alternating"
	# lxgpu --version: lxgpu's start and exit alone (it reads nothing), to
	# tell what discover adds to the floor by starting a larger program from
	# what it adds by its reads, parsing and output
	local cmds=(discover "$lxgpu ${host_args[*]} discover --json" floor "$floor $host_root"
		start "$lxgpu --version") smi=''
	if [ $host_kind = real ] && smi=$(command -v nvidia-smi) && "$smi" -L >/dev/null 2>&1; then
		cmds+=(nvidia-smi-L "$smi -L")
	fi
	measure "$runs" "${cmds[@]}"
	local d f
	d=$(median discover) f=$(median floor)
	figure discover.floor "discover / floor (binding: GPU machine)" "$d" ms \
		"floor=$f;lxgpu --version=$(median start)" "ratio<=1.3" gpu
	if [ -n "$(median nvidia-smi-L)" ]; then
		figure discover.nvidia-smi "discover / nvidia-smi -L" "$d" ms "nvidia-smi -L=$(median nvidia-smi-L)" \
			"ratio<=0.1" gpu
	elif [ $host_kind = real ]; then
		skipped discover.nvidia-smi "discover / nvidia-smi -L" "nvidia-smi -L fails here"
	else
		skipped discover.nvidia-smi "discover / nvidia-smi -L" "no NVIDIA driver here"
	fi
	figure rss.discover "peak RSS: discover --json" "$(peak_rss discover)" KiB "floor=$(peak_rss floor)" \
		"value<=4096" any
}

# --- sync -----------------------------------------------------------------------

group_sync() {
	owes sync.all sync.durable sync.mixed sync.flat rss.sync
	for n in $sizes; do owes "sync.per-config.$n"; done
	local root=$dir/pve tmpl=$dir/tmpl
	pve_host "$root"
	mkdir -p "$root/var/lib/lxc-empty" "$tmpl"
	lxc_args=(--sysroot "$root" --lxcpath /var/lib/lxc-empty)
	local uvm
	uvm=$(awk '$2 == "nvidia-uvm" { print $1 }' "$root/proc/devices")
	[ -n "$uvm" ] || die "sync: the host has no nvidia-uvm major"

	# GPU lines as lxgpu attach writes them on this host; stale ones with
	# nvidia-uvm's major of another boot, in the rules and the record; and
	# what sync makes of a stale one (see pve-configs.awk)
	local base='arch: amd64\nhostname: tmpl\nmemory: 512\nrootfs: local-lvm:vm-100-disk-0,size=8G\nunprivileged: 1\n'
	local conf=$root/etc/pve/lxc/100.conf
	gpu_lines() { # STYLE [--guard]
		printf '%b' "$base" >"$conf"
		"$lxgpu" "${lxc_args[@]}" attach 100 --quiet --style "$@" >/dev/null || die "sync: attach --style $*"
		tail -n +6 "$conf"
	}
	gpu_lines raw >"$tmpl/raw"
	gpu_lines dev --guard >"$tmpl/dev"
	grep -q "c $uvm:" "$tmpl/raw" || die "sync: attach wrote no nvidia-uvm rule to make stale"
	for m in 508 511; do
		sed "s/c $uvm:/c $m:/g; s/c$uvm:/c$m:/g" "$tmpl/raw" >"$tmpl/stale$m"
		{ printf '%b' "$base"; cat "$tmpl/stale$m"; } >"$conf"
		"$lxgpu" "${lxc_args[@]}" sync 100 --quiet || die "sync: sync of one stale config"
		tail -n +6 "$conf" >"$tmpl/synced$m"
	done
	rm -rf "$conf" "$root/var/lib/lxgpu" "$root/run/lock/lxc"
	sync_rss=0 sync_rss_at=''

	# gen N DIR all|mixed [WANT]: generated configs, and in WANT each as sync
	# must leave it; prints "GPU STALE"
	gen() {
		mkdir -p "$2" ${4:+"$4"}
		awk -v n="$1" -v out="$2" -v t="$tmpl" -v all="$([ "$3" = all ] && echo 1 || echo 0)" \
			-v want="${4:-}" -f "$here/bench/pve-configs.awk"
	}
	# reset PRISTINE: the host's configs as generated, no backups or locks
	reset() {
		rm -rf "$root/etc/pve/lxc" "$root/var/lib/lxgpu" "$root/run/lock/lxc" "$dir/cp"
		cp -r "$1" "$root/etc/pve/lxc"
	}
	# sync_vs_cp all|mixed N RUNS: times sync --all and cp -r of the same tree,
	# alternately, every sync from a fresh copy (made before the clock
	# starts); sets sync_ms and cp_ms (medians, ms)
	sync_vs_cp() {
		local kind=$1 n=$2 runs=$3 pristine=$dir/pristine want=$dir/want counts gpus stale
		rm -rf "$pristine" "$want"
		counts=$(gen "$n" "$pristine" "$kind" "$want") || die "sync: generating $n configs"
		read -r gpus stale <<<"$counts"
		local summary="$((gpus - stale)) in line, $stale changed, 0 failed"
		local ts=() tc=() tf=() note='' r ms kib rc rss=0
		for ((r = 0; r <= runs; r++)); do
			# all changed: the writes alone too (bench/sync_floor.c), first,
			# so that what the checks below read is sync's
			if [ "$kind" = all ]; then
				reset "$pristine"
				"$harness" --once "$dir/m" "$sync_floor" "$root" >/dev/null || die "sync: sync-floor failed"
				[ $r -eq 0 ] || tf+=("$(cut -d' ' -f1 "$dir/m")")
			fi
			reset "$pristine"
			rc=0
			"$harness" --once "$dir/m" "$lxgpu" "${lxc_args[@]}" sync --all >"$dir/out" 2>&1 || rc=$?
			[ $rc = 0 ] || die "sync: $n configs ($kind): sync --all exited $rc: $(tail -n 3 "$dir/out")"
			read -r ms kib <"$dir/m"
			[ "$kib" -le "$rss" ] || rss=$kib
			[ "$(tail -n 1 "$dir/out")" = "$summary" ] ||
				die "sync: $n configs ($kind): sync said '$(tail -n 1 "$dir/out")', want '$summary'"
			"$harness" --once "$dir/m" cp -r "$pristine" "$dir/cp" || die "sync: cp -r"
			# the warm-up run is the only sample where one sync takes more
			# than BUDGET seconds; fewer runs where RUNS of them would
			if [ $r -eq 0 ]; then
				if awk -v ms="$ms" -v b="$budget" 'BEGIN { exit !(ms > b * 1000) }'; then
					ts=("$ms") tc=("$(cut -d' ' -f1 "$dir/m")") runs=0 note=" (1 run, no warm-up: one sync > ${budget}s)"
				elif awk -v ms="$ms" -v b="$budget" -v r="$runs" 'BEGIN { exit !(ms * r > b * 1000) }'; then
					runs=$(awk -v ms="$ms" -v b="$budget" 'BEGIN { r = int(b * 1000 / ms); print r < 1 ? 1 : r }')
					note=" (runs capped: ${budget}s of sync per size)"
				fi
			else
				ts+=("$ms")
				tc+=("$(cut -d' ' -f1 "$dir/m")")
			fi
		done
		# what the last sync left: every config as sync must leave it
		# (the stale lines rewritten, the rest byte for byte, no temp
		# file), none with the old major in its main section's rules or
		# record, and a second sync with nothing to do
		local lxcdir=$root/etc/pve/lxc old
		old=$(find "$lxcdir" -name '*.conf' -exec awk '/^\[/ { nextfile } /c ?(508|511):/ { print FILENAME; nextfile }' {} + | wc -l)
		[ "$old" = 0 ] || die "sync: $n configs ($kind): $old configs still name the old major in their main section"
		if ! diff -rq "$want" "$lxcdir" >"$dir/diff"; then
			local first
			first=$(awk '$1 == "Files" { print $2; exit }' "$dir/diff")
			[ -z "$first" ] || diff -u "$first" "$lxcdir/${first##*/}" | head -n 40 >&2 || true
			die "sync: $n configs ($kind): $(wc -l <"$dir/diff") configs not as sync must leave them," \
				"or files that should not be there: $(head -n 3 "$dir/diff" | sed "s|$dir/||g" | tr '\n' ' ')"
		fi
		local again
		again=$("$lxgpu" "${lxc_args[@]}" sync --all | tail -n 1)
		[ "$again" = "$gpus in line, 0 changed, 0 failed" ] ||
			die "sync: $n configs ($kind): the second sync said '$again'"
		read -r sync_ms s10 s90 < <(stats "${ts[@]}")
		read -r cp_ms c10 c90 < <(stats "${tc[@]}")
		log "  $n configs, $gpus GPU, $stale changed; ${#ts[@]} runs$note:" \
			"sync $sync_ms ms (p10 $s10, p90 $s90, peak RSS $rss KiB), cp -r $cp_ms ms (p10 $c10, p90 $c90)"
		floor_ms=''
		if [ ${#tf[@]} -gt 0 ]; then
			read -r floor_ms f10 f90 < <(stats "${tf[@]}")
			log "  the writes alone (sync-floor): $floor_ms ms (p10 $f10, p90 $f90)"
		fi
		if [ "$rss" -gt "$sync_rss" ]; then
			sync_rss=$rss sync_rss_at="$n configs, $([ "$kind" = all ] && echo all || echo 2.5%) changed"
		fi
		rm -rf "$pristine" "$want" "$dir/cp"
	}
	sync_runs_for() { # N: the default number of timed syncs at N configs
		if [ -n "${SYNC_RUNS:-}" ]; then echo "$SYNC_RUNS"; elif [ -n "$short" ]; then echo 2;
		elif [ "$1" -le 1000 ]; then echo 15; elif [ "$1" -le 10000 ]; then echo 9; else echo 5; fi
	}

	log "== sync --all vs cp -r ($(stat -fc %T "$root")): sync and cp alternate, one warm-up round, medians"
	sync_vs_cp all "$all_size" "$(sync_runs_for "$all_size")"
	figure sync.all "sync --all, $all_size configs all changed / cp -r" "$sync_ms" ms \
		"cp -r=$cp_ms;sync-floor=$floor_ms" "ratio<=3" any

	# every changed config written durably: renamed into place from a temp
	# file that was fsync'ed (or fdatasync'ed, or after a syncfs) before
	local label="sync --all, $durable_size configs all changed: fsync'ed renames"
	if command -v strace >/dev/null; then
		local counts stale renamed synced
		rm -rf "$dir/durable"
		counts=$(gen "$durable_size" "$dir/durable" all) || die "sync: generating $durable_size configs"
		read -r _ stale <<<"$counts"
		reset "$dir/durable"
		# (LeakSanitizer cannot run under ptrace: an ASan build leaves it out here)
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
			strace -f -y -qq -e trace=fsync,fdatasync,syncfs,rename,renameat,renameat2 -o "$dir/strace" \
			"$lxgpu" "${lxc_args[@]}" sync --all >"$dir/out" 2>&1 ||
			die "sync: sync --all under strace: $(tail -n 3 "$dir/out")"
		# strace -y: "fsync(7</path>) = 0", "renameat(4</dir>, "old",
		# 4</dir>, "new") = 0", "rename("/old", "/new") = 0"; each line
		# starts with the thread's id, and a call another thread interrupts
		# is split: "ID call(args <unfinished ...>", later "ID <... call
		# resumed>) = 0" (sync writes on several threads): joined first
		read -r renamed synced < <(awk '
			function fdpath(s) { sub(/^[^<]*</, "", s); sub(/>.*/, "", s); return s }
			/ <unfinished \.\.\.>$/ { sub(/ <unfinished \.\.\.>$/, ""); split_call[$1] = $0; next }
			/ <\.\.\. [a-z0-9_]+ resumed>/ {
				id = $1
				sub(/^.*<\.\.\. [a-z0-9_]+ resumed>/, "")
				$0 = split_call[id] $0
				delete split_call[id]
			}
			!/ = 0$/ { next }
			/ (fsync|fdatasync)\(/ { done[fdpath($0)] = 1 }
			/ syncfs\(/ { all = 1 }
			/ rename(at2?)?\(/ {
				split($0, f, "\"")
				from = f[2]; to = f[4]
				if (/ renameat/) { from = fdpath(f[1]) "/" from; to = fdpath(f[3]) "/" to }
				if (to !~ /\/etc\/pve\/lxc\/[0-9]+\.conf$/) next
				renamed++
				if (from != to && (done[from] || all)) synced++
			}
			END { print renamed + 0, synced + 0 }' "$dir/strace")
		log "  strace: $stale configs changed; $renamed renamed into place, $synced of them from a temp file fsync'ed before"
		[ "$renamed" = "$stale" ] || die "sync: $stale configs changed but $renamed were renamed into place"
		figure sync.durable "$label" "$synced" configs "changed=$stale" "ratio>=1" check
		[ "$synced" = "$stale" ] || die "sync: $((stale - synced)) configs renamed into place from a file never fsync'ed"
		rm -rf "$dir/durable"
	else
		skipped sync.durable "$label" "no strace here"
	fi

	local first='' last='' at_ratio=''
	for n in $sizes; do
		sync_vs_cp mixed "$n" "$(sync_runs_for "$n")"
		local per cp_per
		per=$(awk -v s="$sync_ms" -v n="$n" 'BEGIN { printf "%.3f", s * 1000 / n }')
		cp_per=$(awk -v s="$cp_ms" -v n="$n" 'BEGIN { printf "%.3f", s * 1000 / n }')
		figure "sync.per-config.$n" "sync --all per config, $n configs (2.5% changed)" "$per" us \
			"cp -r=$cp_per" "" any
		[ -n "$first" ] || first="$n $per $cp_per"
		last="$n $per $cp_per"
		# the ratio at 10k configs, or at the largest size below it
		if [ "$n" -le 10000 ]; then at_ratio="$n $sync_ms $cp_ms"; fi
	done
	if [ -n "$at_ratio" ]; then
		read -r n s c <<<"$at_ratio"
		figure sync.mixed "sync --all, $n configs 2.5% changed / cp -r" "$s" ms "cp -r=$c" "ratio<=1.5" any
	fi
	# flat: the time per config at the largest size over the smallest, against
	# the same for cp -r (what the filesystem itself does with more files)
	read -r n1 p1 c1 <<<"$first"
	read -r n2 p2 c2 <<<"$last"
	figure sync.flat "sync per config, $n2 / $n1 configs (flat)" \
		"$(awk -v a="$p2" -v b="$p1" 'BEGIN { printf "%.3f", a / b }')" x \
		"cp -r=$(awk -v a="$c2" -v b="$c1" 'BEGIN { printf "%.3f", a / b }')" "value<=1.5" any
	figure rss.sync "peak RSS: sync --all ($sync_rss_at)" "$sync_rss" KiB \
		"floor=$floor_rss" "value<=4096" any
}

# --- hooks ----------------------------------------------------------------------

group_hook() {
	owes hook.bind hook.guard rss.hook
	# bind mode: the mount hook binds the host's driver files into the
	# container's root (here an empty directory on tmpfs); it reads no config
	local rootfs=$ct_path/c1/rootfs count
	mkdir -p "$rootfs"
	# shellcheck disable=SC2016 # expanded by the inner shell
	count=$(LXC_ROOTFS_MOUNT=$rootfs unshare -m --propagation private bash -c \
		'"$@" >/dev/null || exit; grep -c " $LXC_ROOTFS_MOUNT/" /proc/self/mountinfo' _ \
		"$lxgpu" "${host_args[@]}" hook c1 lxc mount) || die "hook: the mount hook failed"
	[ "$count" -gt 0 ] || die "hook: the mount hook bound nothing"
	log "== hook c1 lxc mount (bind mode: $count files bound), $runs runs each, alternating, each in a fresh mount namespace; bench-null is $null_kind"
	measure --mountns "$runs" \
		hook "LXC_ROOTFS_MOUNT=$rootfs $lxgpu ${host_args[*]} hook c1 lxc mount" \
		bench-null "$null" \
		floor "$floor $host_root"
	local refs rss
	refs="bench-null=$(median bench-null);floor=$(median floor)"
	figure hook.bind "start hook, bind mode ($count files), median" "$(median hook)" ms "$refs" "value<=2" any
	rss=$(peak_rss hook)

	# the guard: CT 101 as Proxmox generates LXC's config for an unprivileged
	# CT with lxgpu's raw lines and --guard (from attach --dry-run: nothing
	# written), an empty directory rootfs so that the driver check runs
	local ct=$ct_path/101
	mkdir -p "$ct/rootfs"
	printf 'lxc.rootfs.path = dir:%s/101/rootfs\nlxc.net.0.type = empty\n' "$ct_lxcpath" >"$ct/config"
	local lines
	lines=$("$lxgpu" "${host_args[@]}" --lxcpath "$ct_lxcpath" attach 101 --style raw --guard --dry-run) ||
		die "hook: attach --dry-run for the guard's config"
	{
		cat <<-EOF
			lxc.arch = amd64
			lxc.include = /usr/share/lxc/config/debian.common.conf
			lxc.include = /usr/share/lxc/config/debian.userns.conf
			lxc.seccomp.profile = $ct_lxcpath/101/rules.seccomp
			lxc.apparmor.profile = generated
			lxc.apparmor.allow_nesting = 1
			lxc.apparmor.raw = deny mount -> /proc/,
			lxc.monitor.hook = /usr/share/lxc/lxcnetaddbr
			lxc.hook.pre-start = /usr/share/lxc/hooks/lxc-pve-prestart-hook
			lxc.hook.post-stop = /usr/share/lxc/hooks/lxc-pve-poststop-hook
			lxc.mount.auto = sys:mixed
			lxc.monitor.unshare = 1
			lxc.tty.max = 2
			lxc.environment = TERM=linux
			lxc.uts.name = gpu-101
			lxc.cgroup2.memory.max = 17179869184
			lxc.cgroup2.memory.swap.max = 536870912
			lxc.rootfs.path = $ct_lxcpath/101/rootfs
			lxc.net.0.type = veth
			lxc.net.0.veth.pair = veth101i0
			lxc.net.0.hwaddr = BC:24:11:10:01:01
			lxc.net.0.name = eth0
			lxc.net.0.mtu = 1500
			lxc.net.0.script.up = /usr/share/lxc/lxcnetaddbr
			lxc.cgroup2.cpuset.cpus = 0-7
			lxc.idmap = u 0 100000 65536
			lxc.idmap = g 0 100000 65536
		EOF
		sed -n 's/^+\(lxc\.\)/\1/p' <<<"$lines"
	} >"$ct/config.pve"
	mv "$ct/config.pve" "$ct/config"
	local env="LXC_NAME=101 LXC_HOOK_SECTION=lxc LXC_HOOK_TYPE=pre-start"
	env+=" LXC_CONFIG_FILE=$ct_lxcpath/101/config LXC_ROOTFS_PATH=$ct_lxcpath/101/rootfs"
	local out
	# shellcheck disable=SC2086 # $env: words
	out=$(unshare -m --propagation private env $env "$lxgpu" "${host_args[@]}" hook --guard 2>&1) ||
		die "hook: the guard refused the start: $out"
	log "== hook --guard as lxc.hook.pre-start (CT 101: $(wc -l <"$ct/config") config lines," \
		"$(grep -c lxc.cgroup2.devices.allow "$ct/config") device rules), $runs runs each, alternating, each in a fresh mount namespace"
	measure --mountns "$runs" \
		guard "$env $lxgpu ${host_args[*]} hook --guard" \
		bench-null "$null" \
		floor "$floor $host_root"
	refs="bench-null=$(median bench-null);floor=$(median floor)"
	figure hook.guard "start hook --guard (pre-start), median" "$(median guard)" ms "$refs" "value<=1" any
	[ "$(peak_rss guard)" -le "$rss" ] || rss=$(peak_rss guard)
	figure rss.hook "peak RSS: the hook (bind mode, guard)" "$rss" KiB "floor=$floor_rss" "value<=4096" any
}

# --- attach, check --------------------------------------------------------------

group_attach() {
	owes attach rss.attach rss.check
	local root=$dir/attach
	pve_host "$root"
	local conf=$root/etc/pve/lxc/200.conf i s
	{
		printf 'arch: amd64\ncores: 8\nhostname: bench\nmemory: 16384\nostype: debian\n'
		printf 'rootfs: local-lvm:vm-200-disk-0,size=64G\nswap: 512\n'
		for i in $(seq 1 8); do printf 'mp%d: /srv/data%d,mp=/data%d\n' "$i" "$i" "$i"; done
		for i in $(seq 1 18); do printf 'lxc.mount.entry: /srv/share%d srv/share%d none bind,create=dir\n' "$i" "$i"; done
		for s in 1 2 3 4 5; do
			printf '\n[snap%d]\narch: amd64\ncores: 8\nhostname: bench\nmemory: 16384\n' "$s"
			printf 'ostype: debian\nrootfs: local-lvm:vm-200-disk-0,size=64G\nsnaptime: 17180000%02d\nswap: 512\n' "$s"
			for i in $(seq 1 7); do printf 'mp%d: /srv/data%d,mp=/data%d\n' "$i" "$i" "$i"; done
			for i in $(seq 1 17); do printf 'lxc.mount.entry: /srv/share%d srv/share%d none bind,create=dir\n' "$i" "$i"; done
		done
	} >"$conf"
	log "== attach: CT 200, $(wc -l <"$conf") lines, $(grep -c '^\[' "$conf") snapshots; each run a real write (attach and detach alternate); $runs runs each"
	measure "$runs" \
		attach "$lxgpu --sysroot $root attach 200 --quiet" \
		detach "$lxgpu --sysroot $root detach 200 --quiet" \
		floor "$floor $root"
	figure attach "attach, 200-line config + 5 snapshots, median (issue 4)" "$(median attach)" ms \
		"floor=$(median floor)" "value<=2" any
	figure rss.attach "peak RSS: attach" "$(peak_rss attach)" KiB "floor=$floor_rss" "value<=4096" any
	"$lxgpu" --sysroot "$root" attach 200 --quiet || die "attach: attach 200"
	log "== check: CT 200, attached; $runs runs"
	measure "$runs" check "$lxgpu --sysroot $root check 200 --quiet"
	figure rss.check "peak RSS: check" "$(peak_rss check)" KiB "floor=$floor_rss" "value<=4096" any
}

# --- doctor ---------------------------------------------------------------------

group_doctor() {
	owes doctor
	local root=$dir/doctor i n
	pve_host "$root"
	printf 'arch: amd64\ncores: 4\nhostname: gpu\nmemory: 8192\nostype: debian\nrootfs: local-lvm:vm-100-disk-0,size=32G\n' \
		>"$root/etc/pve/lxc/100.conf"
	"$lxgpu" --sysroot "$root" attach 100 --quiet || die "doctor: attach 100"
	for i in $(seq 101 $((100 + cts - 1))); do
		sed "s/vm-100-/vm-$i-/" "$root/etc/pve/lxc/100.conf" >"$root/etc/pve/lxc/$i.conf"
	done
	# and as many containers without a GPU, which doctor skips
	for i in $(seq 301 $((300 + cts))); do
		printf 'arch: amd64\nhostname: web%d\nmemory: 1024\n' "$i" >"$root/etc/pve/lxc/$i.conf"
	done
	n=$("$lxgpu" --sysroot "$root" doctor --json | grep -c '"ct": ' || true)
	[ "$n" = "$cts" ] || die "doctor: checked $n containers, want $cts"
	log "== doctor: $cts GPU containers (stopped: no in-container probe), $cts without; $doctor_runs runs each"
	measure "$doctor_runs" \
		doctor "$lxgpu --sysroot $root doctor --quiet" \
		discover "$lxgpu --sysroot $root discover --quiet"
	figure doctor "doctor, $cts GPU containers, median (issue 7)" "$(median doctor)" ms \
		"discover=$(median discover)" "value<=100" any
}

# --- run, then the table ------------------------------------------------------

describe=$(cd "$here" && git describe --always --dirty 2>/dev/null || echo '?')
# the build's type and sanitizers, from meson's record of its options (a
# build directory carried to another machine may have none)
buildopt() {
	grep -o "{\"name\": \"$1\", \"value\": \"[^\"]*\"" "$build/meson-info/intro-buildoptions.json" 2>/dev/null |
		sed 's/.*"value": "//; s/"$//' || echo '?'
}
build_desc="$(buildopt buildtype), sanitizers $(buildopt b_sanitize)"
log "lxgpu: $lxgpu ($describe; $build_desc); $(nproc) CPUs; $(uname -r); load average $load_before"
log "host: $host_desc; files on $(stat -fc %T "$dir")"
# the reference of every peak RSS figure: a C program that reads the host's GPU files
measure 3 floor "$floor $host_root" 2>/dev/null
floor_rss=$(peak_rss floor)

for g in $groups; do
	set +e
	(
		set -e
		"group_$g"
	)
	set -e
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# the figures owed and not in the table
while read -r id; do
	cut -f1 "$rows" | grep -qxF "$id" || echo "figure $id missing from the table" >>"$errors"
done <"$expected"

mode=full
[ -z "$short" ] || mode=short
header=(
	"mode: $mode$([ -z "$short" ] || echo ': few runs, small sizes, nothing judged on time')"
	"lxgpu: $describe, $build_desc"
	"machine: $(nproc) CPUs, $(uname -r), load average before $load_before, after $load_after"
	"host: $host_desc"
	"files: $(stat -fc %T "$dir") (as pmxcfs, which ignores fsync)"
)
# The table and the JSON from the rows: ratios, verdicts, the result.
awk -F'\t' -v mode="$mode" -v host="$host_kind" -v json="$json" -v errfile="$errors" \
	-v header="$(printf '%s\n' "${header[@]}")" -v desc="$describe" -v buildtype="$build_desc" \
	-v cpus="$(nproc)" -v kernel="$(uname -r)" -v lb="$load_before" -v la="$load_after" \
	-v host_desc="$host_desc" -v fs="$(stat -fc %T "$dir")" '
	function fmt(v, unit) {
		if (unit == "ms") return sprintf("%.3f ms", v)
		if (unit == "us") return sprintf("%.1f us/config", v)
		if (unit == "KiB") return sprintf("%d KiB", v)
		if (unit == "x") return sprintf("%.2f", v)
		return sprintf("%d %s", v, unit)
	}
	function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
	function num(v) { return v == "" ? "null" : v + 0 }
	{
		n++
		id[n] = $1; label[n] = $2; value[n] = $3; unit[n] = $4; target[n] = $6; scope[n] = $7; note[n] = $8
		refs = ""; ratios = ""; jrefs = ""; ratio[n] = ""
		k = split($5, rs, ";")
		for (i = 1; i <= k; i++) {
			split(rs[i], nv, "=")
			r = nv[2] > 0 ? $3 / nv[2] : 0
			if (i == 1) ratio[n] = r
			refs = refs (i > 1 ? "; " : "") nv[1] " " fmt(nv[2], $4)
			ratios = ratios (i > 1 ? "; " : "") sprintf("%.2f", r)
			jrefs = jrefs (i > 1 ? ", " : "") "{\"name\": " q(nv[1]) ", \"value\": " num(nv[2]) ", \"ratio\": " sprintf("%.4f", r) "}"
		}
		reftext[n] = refs; ratiotext[n] = ratios; jref[n] = jrefs
		pass[n] = ""; judged[n] = 0; ttext[n] = ""
		if ($6 != "" && $7 != "skipped") {
			subj = ($6 ~ /^ratio/) ? ratio[n] : $3
			lim = $6; sub(/^[a-z]+(<=|>=)/, "", lim)
			pass[n] = ($6 ~ />=/) ? (subj >= lim + 0) : (subj <= lim + 0)
			judged[n] = ($7 == "check") || (mode == "full" && ($7 == "any" || ($7 == "gpu" && host == "real")))
			ttext[n] = ($6 ~ /^ratio/ ? "ratio " : "") ($6 ~ />=/ ? ">= " : "<= ") lim ($6 ~ /^value/ && $4 != "x" ? " " $4 : "")
			if (judged[n] && !pass[n]) missed++
			if ($7 == "check" && !pass[n]) failed_check++
		}
	}
	END {
		print header
		printf "%-58s %16s  %-40s %-12s %-14s %s\n", "figure", "value", "reference", "ratio", "target", "pass"
		for (i = 1; i <= n; i++) {
			if (scope[i] == "skipped") {
				printf "%-58s %16s  %-40s %-12s %-14s %s\n", label[i], "-", "not measured: " note[i], "-", "-", "-"
				continue
			}
			p = ttext[i] == "" ? "-" : pass[i] ? "yes" : "no"
			if (ttext[i] != "" && !judged[i]) p = "(" p ")"
			printf "%-58s %16s  %-40s %-12s %-14s %s\n", label[i], fmt(value[i], unit[i]),
				reftext[i] == "" ? "-" : reftext[i], ratiotext[i] == "" ? "-" : ratiotext[i],
				ttext[i] == "" ? "-" : ttext[i], p
		}
		nerr = 0
		while ((getline line < errfile) > 0) err[++nerr] = line
		result = nerr > 0 || failed_check ? "error" : missed ? "missed" : "pass"
		if (nerr) { print "errors:"; for (i = 1; i <= nerr; i++) print "  " err[i] }
		print "result: " result (result == "missed" ? " (" missed " judged targets missed)" : "") "; JSON: " json
		printf "{\n  \"schema\": 1,\n  \"mode\": %s,\n  \"result\": %s,\n", q(mode), q(result) > json
		printf "  \"lxgpu\": {\"version\": %s, \"build\": %s},\n", q(desc), q(buildtype) > json
		printf "  \"machine\": {\"cpus\": %d, \"kernel\": %s, \"load_before\": %s, \"load_after\": %s},\n", cpus, q(kernel), q(lb), q(la) > json
		printf "  \"host\": {\"kind\": %s, \"sample\": %s, \"description\": %s},\n", q(host), (host == "sample" ? "true" : "false"), q(host_desc) > json
		printf "  \"filesystem\": %s,\n  \"figures\": [\n", q(fs) > json
		for (i = 1; i <= n; i++) {
			printf "    {\"id\": %s, \"figure\": %s, ", q(id[i]), q(label[i]) > json
			if (scope[i] == "skipped") {
				printf "\"skipped\": %s}%s\n", q(note[i]), (i < n ? "," : "") > json
				continue
			}
			printf "\"value\": %s, \"unit\": %s, \"reference\": [%s], \"ratio\": %s, ", num(value[i]), q(unit[i]), jref[i], (ratio[i] == "" ? "null" : sprintf("%.4f", ratio[i])) > json
			printf "\"target\": %s, \"scope\": %s, \"judged\": %s, \"pass\": %s}%s\n", (ttext[i] == "" ? "null" : q(ttext[i])), q(scope[i]),
				(judged[i] ? "true" : "false"), (ttext[i] == "" ? "null" : pass[i] ? "true" : "false"), (i < n ? "," : "") > json
		}
		printf "  ],\n  \"errors\": [" > json
		for (i = 1; i <= nerr; i++) printf "%s%s", (i > 1 ? ", " : ""), q(err[i]) > json
		printf "]\n}\n" > json
		exit result == "error" ? 1 : result == "missed" ? 3 : 0
	}' "$rows"
