#!/bin/bash
# Golden tests: attach and detach on Proxmox configs, compared byte for byte
# with expectations that do not come from lxgpu:
#   1. tests/golden/pve/NAME.conf -> NAME.attached, written by hand from the
#      rules in tests/golden/README.md;
#   2. tests/golden/pve-refused/NAME.conf: exit 1, one line naming NAME.why,
#      no control character on stderr, bytes unchanged;
#   3. every config in tests/fixtures/pve (its README.md: public configs from
#      issue trackers, and configs written for Proxmox's grammar corners),
#      against the same rules written below as an awk model.
# Host: the H100 capture (nvidia 195:0 and 195:255, nvidia-uvm 238:0 and 238:1,
# nvidia-caps 241:1 and 241:2; 508 and 511 are registered by no driver) as a
# Proxmox VE 8 node. It is made once; each case puts its config on it and
# clears what lxgpu wrote there before (its backups and lock).
. "$(dirname "$0")/lib.sh"
need_root
# the shell's own comparisons byte for byte (not exported: lxgpu runs as it would)
LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GOLDEN=$ROOT/tests/golden
UUID=$H100_UUID
BLOCK=$H100_BLOCK

tmpl=$(host template h100-580.159.04.spec pve.spec) || exit 1
# The majors the host's drivers registered, from its /proc/devices.
MAJORS=$(awk '/^Character devices:/ { c = 1; next } /^$/ { c = 0 } c { print $1 }' \
	"$tmpl/proc/devices" | tr '\n' ' ')
H=$TMP/ct
CONF=$H/etc/pve/lxc/101.conf
cp -a "$tmpl" "$H"
touch "$TMP/made"

# Most checks read files into variables and compare them in bash: a process
# per check made this test take minutes.
# slurp FILE VAR: the bytes of FILE (no NUL in it) into VAR
slurp() { local -n _v=$2; _v=; IFS= read -r -d '' _v <"$1" || true; }
# ends_nl TEXT: TEXT is empty or ends in "\n"
ends_nl() { [[ -z $1 || $1 == *$'\n' ]]; }
# lx ARGS...: runs lxgpu; sets $rc, $out and $err (stderr without its final "\n"s)
lx() {
	"$LXGPU" "$@" >"$TMP/.stdout" 2>"$TMP/.stderr"
	rc=$?
	slurp "$TMP/.stdout" out
	slurp "$TMP/.stderr" err
	while [[ $err == *$'\n' ]]; do err=${err%$'\n'}; done
}

# fresh FILE [strip]: FILE as CT 101's config on the host as it was made
# (lxgpu writes only the config, /var/lib/lxgpu and /run/lock there; the
# last check below makes sure); $input is the file, $in_text its bytes
fresh() {
	rm -rf "$H/var/lib/lxgpu" "$H/run"
	input=$1
	if [ "${2:-}" = strip ]; then sed 1d "$1" >"$TMP/input"; input=$TMP/input; fi
	cat "$input" >"$CONF"
	slurp "$input" in_text
}

# The rules of tests/golden/README.md as a model, for the H100 host only.
# It writes $out{attach,detach,info,tail}: the expected file after attach,
# after attach and detach, "refusal reason\ngpu lines yes|no\n", and the
# sections after the main one as attach leaves them.
MODEL='
BEGIN {
	VT = sprintf("%c", 11)
	WS = "[ \t\r\f" VT "]"
	n = split(majors, a, " ")
	for (i = 1; i <= n; i++) reg[a[i]] = 1
	nb = split(block, B, "\n")
	# The host (h100-580.159.04.spec): the nodes attach passes (rule 1) ...
	planned["/dev/nvidia0"]; planned["/dev/nvidiactl"]; planned["/dev/nvidia-uvm"]; planned["/dev/nvidia-uvm-tools"]
	# ... and every GPU node it has (the rest are nvidia-caps, passed by no block)
	for (p in planned) inv[p]
	inv["/dev/nvidia-caps/nvidia-cap1"]; inv["/dev/nvidia-caps/nvidia-cap2"]
	# GPU majors: 195 and 226 (fixed), and those of the GPU drivers of the host and
	# nodes: nvidia-uvm 238, nvidia-caps 241 (src/passthrough.c is_gpu_major)
	gpumaj[195]; gpumaj[226]; gpumaj[238]; gpumaj[241]
}
{ L[NR] = $0 }
function rtrim(s) { sub(WS "+$", "", s); return s }
function ltrim(s) { sub("^" WS "+", "", s); return s }
function blank(s) { return s ~ ("^" WS "*$") }
function is_pending(s) { s = rtrim(s); return s ~ /^\[[Pp][Vv][Ee]:[Pp][Ee][Nn][Dd][Ii][Nn][Gg]\]$/ }
function header(s) { return is_pending(s) || rtrim(s) ~ /^\[[A-Za-z][A-Za-z0-9_-]+\]$/ }
# Sets K and V for "lxc.KEY: V", "lxc.KEY = V" and "key: V" lines.
function kv(s,    rest) {
	K = ""; V = ""
	if (match(s, /^lxc\.[a-z0-9_.-]+/)) {
		K = substr(s, 1, RLENGTH); rest = substr(s, RLENGTH + 1)
		if (substr(rest, 1, 1) == ":") rest = substr(rest, 2)
		else if (match(rest, "^" WS "*=")) rest = substr(rest, RLENGTH + 1)
		else return 0
	} else if (match(s, /^[a-z][a-z_]*[0-9]*:/)) {
		K = substr(s, 1, RLENGTH - 1); rest = substr(s, RLENGTH + 1)
	} else return 0
	V = rtrim(ltrim(rest))
	return 1
}
# The path a devN value passes ("/dev/x,..." or "path=/dev/x,..."; the last wins).
function dev_path(v,    f, n, i, t, p) {
	n = split(v, f, ",")
	p = ""
	for (i = 1; i <= n; i++) {
		t = f[i]
		if (t !~ /=/) p = t
		else if (sub(/^path=/, "", t)) p = t
	}
	return p
}
# GPU paths, and the directories that hold them (DIR is set for those).
function gpu_path(p) {
	DIR = p == "/dev/dri" || p == "/dev/dri/" || p == "/dev/nvidia-caps" ||
	      p == "/dev/nvidia-caps/" || p == "/dev/dri/by-path"
	return DIR || p ~ /^\/dev\/nvidia/ || p ~ /^\/dev\/dri\// || p == "/dev/kfd"
}
# Sets T, MAJ and MIN for "c|b MAJ:MIN ..."; 0 for any other value.
function rule(v,    t, f) {
	if (!match(v, "^[cb]" WS "+(\\*|[0-9]+):(\\*|[0-9]+)(" WS "|$)")) return 0
	T = substr(v, 1, 1)
	t = substr(v, 2); sub("^" WS "+", "", t); split(t, f, "[:" substr(WS, 2))
	MAJ = f[1]; MIN = f[2]
	return MAJ == "*" || MAJ + 0 <= 4095
}
function allow_key(k) { return k == "lxc.cgroup2.devices.allow" || k == "lxc.cgroup.devices.allow" }
function env_key(k) { return k == "lxc.environment" || k == "lxc.environment.runtime" }
# Whether the line at i gives the container a planned node.
function planned_at(i, p) {
	if (KIND[i] == "rule")
		return T_[i] == "c" && ((MAJ_[i] == "195" && (MIN_[i] == "0" || MIN_[i] == "255" || MIN_[i] == "*")) ||
		                        (MAJ_[i] == "238" && (MIN_[i] == "0" || MIN_[i] == "1" || MIN_[i] == "*")))
	if (PATH_[i] in planned) return 1
	if (DIR_[i]) for (p in planned) if (index(p, PATH_[i] "/") == 1) return 1
	return 0
}
# Whether a mount or devN at i passes a node that this host has.
function exists_at(i, p) {
	if (PATH_[i] in inv) return 1
	if (DIR_[i]) return 1 # a directory: never stale (src/edit.c concerns_nothing)
	return 0
}
# The shape lxgpu writes (src/edit.c canonical): only then is a line its own.
function canonical(i,    v) {
	v = V_[i]
	if (KIND[i] == "rule")
		return !LEGACY[i] && v ~ ("^c" WS "*[0-9]+:([0-9]+|\\*)" WS "*rwm$")
	if (KIND[i] == "mount")
		return !DIR_[i] && v == PATH_[i] " " substr(PATH_[i], 2) " none bind,optional,create=file"
	if (KIND[i] == "dev") return index(v, ",mode=0") > 0 && v !~ /^path=/
	return 0
}
END {
	mend = NR
	for (i = 1; i <= NR; i++) if (header(L[i])) { mend = i - 1; break }
	# the record and the rules lxgpu recorded (LXGPU_RULES)
	record = 0
	for (i = 1; i <= mend; i++) {
		if (!kv(L[i]) || !env_key(K)) continue
		if (index(V, "LXGPU_DEVICES=") == 1 && V ~ /^LXGPU_DEVICES=.*[^,]/) record = 1
		if (K == "lxc.environment" && index(V, "LXGPU_RULES=") == 1) {
			n = split(substr(V, 13), a, ",")
			for (k = 1; k <= n; k++) rec_rule[a[k]]
		}
	}
	# the GPU lines of the main section (src/passthrough.c pt_scan)
	nodes = 0
	for (i = 1; i <= mend; i++) {
		KIND[i] = ""
		if (!kv(L[i])) continue
		V_[i] = V
		if (allow_key(K)) {
			if (!rule(V)) continue
			num = MAJ != "*"
			gpu = num && ((MAJ + 0) in gpumaj)
			dead = num && !gpu && !((MAJ + 0) in reg)
			recd = T == "c" && K == "lxc.cgroup2.devices.allow" && ((MAJ ":" MIN) in rec_rule)
			if (!gpu && !dead && !recd) continue
			KIND[i] = "rule"; T_[i] = T; MAJ_[i] = MAJ; MIN_[i] = MIN
			LEGACY[i] = K == "lxc.cgroup.devices.allow"
			DEAD[i] = dead || (recd && !gpu); RECD[i] = recd
		} else if (K == "lxc.mount.entry") {
			split(V, f, WS "+"); p = f[1]
			if (match(p, /^\/run\/lxgpu\/[^\/]+\//)) p = substr(p, RLENGTH)
			if (!gpu_path(p)) continue
			if (length(p) > 1) sub(/\/$/, "", p)
			KIND[i] = "mount"; PATH_[i] = p; DIR_[i] = DIR; nodes = 1
		} else if (K ~ /^dev[0-9]/) {
			p = dev_path(V)
			if (p == "" || !gpu_path(p)) continue
			KIND[i] = "dev"; PATH_[i] = p; DIR_[i] = DIR; nodes = 1
		} else if (env_key(K) && V ~ /^LXGPU_(DEVICES|RULES|GIDS)=/) {
			KIND[i] = "env"
		} else if (K ~ /^lxc\.hook\./ && index(V, "lxgpu")) {
			KIND[i] = "hook"; PRESTART[i] = K == "lxc.hook.pre-start" || K == "lxc.hook.post-stop"
		}
	}
	# rule 3: a rule for a major nobody registered goes only beside
	# hand-written node lines (mounts or devN, and no record)
	for (i = 1; i <= mend; i++)
		if (KIND[i] == "rule" && DEAD[i] && !RECD[i] && !(nodes && !record)) KIND[i] = ""
	gpu_lines = 0
	for (i = 1; i <= mend; i++) {
		DET[i] = KIND[i] != ""
		gpu_lines += DET[i]
		if (KIND[i] == "env") ATT[i] = 1
		else if (KIND[i] == "hook") ATT[i] = PRESTART[i]
		else if (KIND[i] == "") ATT[i] = 0
		else if (DEAD[i] || (KIND[i] != "rule" && !exists_at(i))) ATT[i] = 1 # stale (rule 3)
		else ATT[i] = planned_at(i) || (record && canonical(i))              # rule 2
	}
	# rule 2: a line with the key and value of a block line stays (the first of duplicates)
	for (k = 1; k <= nb; k++) { kv(B[k]); BK[k] = K; BV[k] = V }
	for (i = 1; i <= mend; i++) {
		if (!ATT[i] || !kv(L[i])) continue
		for (k = 1; k <= nb; k++)
			if (!used[k] && K == BK[k] && V == BV[k]) { used[k] = 1; ATT[i] = 0; break }
	}
	# refusals
	why = ""
	for (i = 1; i <= mend && why == ""; i++)
		if (kv(L[i]) && K == "lock") why = "CT 101 is locked (" V ")"
	inp = 0
	for (i = mend + 1; i <= NR && why == ""; i++) {
		if (header(L[i])) { inp = is_pending(L[i]); continue }
		if (inp && kv(L[i]) && K ~ /^dev[0-9]+$/) {
			split(V, f, ",")
			if (f[1] in planned) why = K " in [pve:pending] already passes " f[1]
		}
	}
	printf "%s\n%s\n", why, gpu_lines ? "yes" : "no" > (out "info")
	emit(out "attach", ATT, 1)
	att_changed = changed
	emit(out "detach", DET, 0)
	# the sections after attach: as they were, with a "\n" at the end (rule 5)
	printf "" > (out "tail")
	for (i = mend + 1; i <= NR; i++) printf "%s%s", L[i], (i < NR || eol || att_changed) ? "\n" : "" > (out "tail")
}
# emit FILE DROP WITH_BLOCK: the input without the DROP lines; the missing lines of
# the block after the last kept non-blank main line (rule 2). When
# something changes, every line ends in "\n" (rule 5); else the bytes stay.
function emit(file, drop, with_block,    i, k, last) {
	changed = 0
	for (i = 1; i <= mend; i++) if (drop[i]) changed = 1
	if (with_block) for (k = 1; k <= nb; k++) if (!used[k]) changed = 1
	if (!changed) {
		for (i = 1; i <= NR; i++) printf "%s%s", L[i], (i < NR || eol) ? "\n" : "" > file
		return
	}
	last = 0
	for (i = 1; i <= mend; i++) if (!drop[i] && !blank(L[i])) last = i
	for (i = 1; i <= last; i++) if (!drop[i]) printf "%s\n", L[i] > file
	if (with_block) for (k = 1; k <= nb; k++) if (!used[k]) printf "%s\n", B[k] > file
	for (i = last + 1; i <= NR; i++) if (i > mend || !drop[i]) printf "%s\n", L[i] > file
	close(file)
}'

# model: runs the model on $input, into $TMP/m.*; sets $m_why and $m_gpu
model() {
	local eol=0
	ends_nl "$in_text" && eol=1
	LC_ALL=C awk -v out="$TMP/m." -v eol=$eol -v majors="$MAJORS" -v block="$BLOCK" "$MODEL" "$input"
	{ read -r m_why; read -r m_gpu; } <"$TMP/m.info"
}

# same DESC GOT EXPECTED: the two texts are the same bytes
same() {
	if [[ $2 == "$3" ]]; then ok "$1"; else
		not_ok "$1"
		printf '%s' "$2" >"$TMP/got"
		printf '%s' "$3" >"$TMP/expected"
		diff <(cat -A "$TMP/expected") <(cat -A "$TMP/got") | head -30 | diag
		[ -z "${err:-}" ] || printf 'stderr: %s\n' "$err" | diag
	fi
}

# the checks for one config that attach must accept, given the expected text
# ($TMP/m.* must be the model's files for the input)
accepts() { # NAME EXPECTED
	local name=$1 expected=$2 got first tail
	lx --sysroot "$H" attach 101
	eq "$name: attach exit 0" "$rc" 0
	slurp "$CONF" got
	same "$name: attach result" "$got" "$expected"
	[[ $expected != "$in_text" ]] || contains "$name: nothing to change: says no change" "$out" "no change"
	# attach changes the main section only: what follows it ends the file
	slurp "$TMP/m.tail" tail
	if [[ $got == *"$tail" ]]; then ok "$name: sections after the main one as they were"; else
		not_ok "$name: sections after the main one as they were"
		printf '%s' "$tail" | cat -A | diag
	fi
	first=$got
	lx --sysroot "$H" attach 101
	eq "$name: attach again: exit 0" "$rc" 0
	contains "$name: attach again: says no change" "$out" "no change"
	slurp "$CONF" got
	same "$name: attach again: no change" "$got" "$first"
	lx --sysroot "$H" detach 101
	eq "$name: detach exit 0" "$rc" 0
	slurp "$CONF" got
	if [ "$m_gpu" = no ]; then
		ends_nl "$in_text" && expected=$in_text || expected=$in_text$'\n'
		same "$name: no GPU lines: attach then detach gives the input back" "$got" "$expected"
	else
		slurp "$TMP/m.detach" expected
		same "$name: detach removes every GPU line, nothing else" "$got" "$expected"
	fi
}

# no_control: stderr holds no control character (rule 7)
no_control() { case $err in *[[:cntrl:]]*) printf '%q\n' "$err"; false ;; esac; }

# the checks for one config that lxgpu must refuse
refuses() { # NAME WHY [attach-only]
	local name=$1 why=$2 before
	before=$(sha "$CONF")
	lx --sysroot "$H" attach 101
	eq "$name: attach refused, exit 1" "$rc" 1
	check "$name: one line on stderr" one_line_error
	check "$name: no control character on stderr" no_control
	contains "$name: says why" "$err" "$why"
	unchanged "$name: bytes unchanged" "$CONF" "$before"
	if [ "${3:-}" != attach-only ]; then
		lx --sysroot "$H" detach 101
		eq "$name: detach refused, exit 1" "$rc" 1
		unchanged "$name: detach: bytes unchanged" "$CONF" "$before"
	fi
}

# --- 1. hand-written expectations
for conf in "$GOLDEN"/pve/*.conf; do
	name=${conf##*/}
	name=golden/${name%.conf}
	fresh "$conf"
	model
	slurp "${conf%.conf}.attached" hand
	slurp "$TMP/m.attach" modelled
	same "$name: the rules' model agrees with the hand-written expectation" "$modelled" "$hand"
	accepts "$name" "$hand"
done

# --- 2. configs to refuse
for conf in "$GOLDEN"/pve-refused/*.conf; do
	name=${conf##*/}
	name=refused/${name%.conf}
	fresh "$conf"
	refuses "$name" "$(sed -n 1p "${conf%.conf}.why")" "$(sed -n 2p "${conf%.conf}.why")"
done
# mkbig SIZE FILE: a valid config of exactly SIZE bytes (two keys, then "#" lines)
mkbig() {
	{
		printf 'arch: amd64\nhostname: big\n'
		yes '#0123456789012345678901234567890123456789012345678901234567890123456789' |
			head -c $(($1 - 27))
		echo
	} >"$2"
}
mkbig 1048577 "$TMP/big.conf"
fresh "$TMP/big.conf"
refuses "refused/1 MiB + 1 byte (generated)" "larger than 1048576 bytes"
mkbig 1048576 "$TMP/big.conf"
fresh "$TMP/big.conf"
refuses "refused/exactly 1 MiB, attach would grow it past (generated)" "would grow past 1048576 bytes" attach-only
lx --sysroot "$H" detach 101
eq "exactly 1 MiB (generated): detach accepts it, exit 0" "$rc" 0
check "exactly 1 MiB (generated): detach leaves it as it is" cmp -s "$CONF" "$TMP/big.conf"

# --- 3. the fixtures, against the model
fixtures=("$ROOT"/tests/fixtures/pve/*.conf)
[ -f "${fixtures[0]}" ] || bail "no configs in $ROOT/tests/fixtures/pve"
for f in "${fixtures[@]}"; do
	name=fixtures/${f##*/}
	fresh "$f"
	model
	case $m_why in
	'') slurp "$TMP/m.attach" expected
		accepts "$name" "$expected" ;;
	*locked*) refuses "$name" "$m_why" ;;
	*) refuses "$name" "$m_why" attach-only ;;
	esac
done

# The host is shared by the cases: lxgpu must have written nothing on it but
# what fresh clears and the config.
changed=$(cd "$H" && find . -newer "$TMP/made" ! -path ./etc/pve/lxc ! -path ./etc/pve/lxc/101.conf \
	! -path ./var/lib ! -path './var/lib/lxgpu*' ! -path './run*' ! -path . | sort)
eq "the shared host: lxgpu wrote nothing else on it" "$changed" ""

done_testing
