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
# NVIDIA's majors on the host: 195, and those its /proc/devices names nvidia*.
NVMAJORS="195 $(awk '/^Character devices:/ { c = 1; next } /^$/ { c = 0 } c && $2 ~ /^nvidia/ { print $1 }' \
	"$tmpl/proc/devices" | sort -u | tr '\n' ' ')"
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
# after attach and detach, "refusal reason\nlines attach removes yes|no\n",
# and the sections after the main one as attach leaves them.
MODEL='
BEGIN {
	VT = sprintf("%c", 11)
	WS = "[ \t\r\f" VT "]"
	nb = split(block, B, "\n")
	# the NVIDIA majors on the host (rule 2: 195 and those /proc/devices names nvidia*)
	n = split(nvmajors, a, " ")
	for (i = 1; i <= n; i++) nvmaj[a[i]] = 1
	# the paths the block passes (rule 2: a version 2 record lists them)
	BLOCKPATH["/dev/nvidia0"]; BLOCKPATH["/dev/nvidiactl"]; BLOCKPATH["/dev/nvidia-uvm"]; BLOCKPATH["/dev/nvidia-uvm-tools"]
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
function gpu_path(p) { return p ~ /^\/dev\/nvidia/ || p ~ /^\/dev\/dri\// || p == "/dev/kfd" }
# Sets T, MAJ and MIN for "c|b MAJ:MIN ACCESS" as LXC reads a rule (one
# blank each side of the numbers, up to three of r, w, m); 0 for any other.
function rule(v,    t, f) {
	if (!match(v, "^[cb]" WS "(\\*|[0-9]+):(\\*|[0-9]+)" WS "([rwm]([rwm]([rwm]|$)|$)|$)")) return 0
	T = substr(v, 1, 1)
	t = substr(v, 3); split(t, f, "[:" substr(WS, 2))
	MAJ = f[1]; MIN = f[2]
	return MAJ == "*" || MAJ + 0 <= 4095
}
function env_key(k) { return k == "lxc.environment" || k == "lxc.environment.runtime" }
# The variable of a record line ("LXGPU_WROTE"), "" for none.
function record_var(v) { return match(v, /^LXGPU_(DEVICES|REQUEST|WROTE|RULES|GIDS)=/) ? substr(v, 1, RLENGTH - 1) : "" }
END {
	mend = NR
	for (i = 1; i <= NR; i++) if (header(L[i])) { mend = i - 1; break }
	# the record (rule 2): version 2 with an LXGPU_REQUEST, else 0.1 with LXGPU_DEVICES or _RULES
	v2 = 0; v1 = 0
	for (i = 1; i <= mend; i++) {
		if (!kv(L[i]) || !env_key(K)) continue
		var = record_var(V)
		if (var == "LXGPU_REQUEST") v2 = 1
		if (var == "LXGPU_DEVICES" || var == "LXGPU_RULES") v1 = 1
		if (var == "LXGPU_WROTE") last_wrote = substr(V, 13)
		if (var == "LXGPU_RULES") last_rules = substr(V, 13)
	}
	if (v2) {
		n = split(last_wrote, a, ",")
		for (k = 1; k <= n; k++) if (a[k] ~ /^\//) OWNPATH[a[k]]; else OWNRULE[a[k]]
	} else if (v1) {
		n = split(last_rules, a, ",")
		for (k = 1; k <= n; k++) OWNRULE["c" a[k]]
	}
	nothing = 1 # no line that attach removes (rule 10)
	for (i = 1; i <= mend; i++) {
		ATT[i] = 0
		if (!kv(L[i])) continue
		if (env_key(K) && record_var(V) != "") ATT[i] = 1
		else if ((K == "lxc.hook.pre-start" || K == "lxc.hook.post-stop") && index(V, "lxgpu")) ATT[i] = 1
		else if (K == "lxc.cgroup2.devices.allow" || K == "lxc.cgroup.devices.allow") {
			if (!rule(V) || MAJ == "*") continue
			if (T == "c" && K == "lxc.cgroup2.devices.allow" && (("c" MAJ ":" MIN) in OWNRULE)) ATT[i] = 1
			if (T == "c" && ((MAJ + 0) in nvmaj)) ATT[i] = 1
		} else if (K == "lxc.mount.entry") {
			split(V, f, WS "+"); p = f[1]; t = f[2]
			sub(/^\/+/, "", t)
			if (length(p) > 1) sub(/\/$/, "", p)
			if (v2 && (p in OWNPATH)) ATT[i] = 1
			if (!v2 && v1 && gpu_path(p) && V == p " " substr(p, 2) " none bind,optional,create=file") ATT[i] = 1
			if (p ~ /^\/dev\/nvidia/ || t ~ /^dev\/nvidia/) ATT[i] = 1
		} else if (K ~ /^dev[0-9]+$/) {
			p = dev_path(V)
			if (p == "") continue
			if (v2 && (p in OWNPATH)) ATT[i] = 1
			if (!v2 && v1 && gpu_path(p) && index(V, ",mode=0") && V !~ /^path=/) ATT[i] = 1
			if (p ~ /^\/dev\/nvidia/) ATT[i] = 1
		}
		if (ATT[i]) nothing = 0
	}
	# rule 3: a removed line with the key and value of a block line stays (the first of duplicates)
	for (k = 1; k <= nb; k++) { kv(B[k]); BK[k] = K; BV[k] = V }
	for (i = 1; i <= mend; i++) {
		if (!ATT[i] || !kv(L[i])) continue
		for (k = 1; k <= nb; k++)
			if (!used[k] && (K == BK[k] || (K ~ /^dev[0-9]+$/ && BK[k] ~ /^dev[0-9]+$/)) && V == BV[k]) {
				used[k] = 1; ATT[i] = 0; break
			}
	}
	# rule 4: a removed record line takes the block line of its variable, in place
	for (i = 1; i <= mend; i++) {
		if (!ATT[i] || !kv(L[i]) || !env_key(K) || (var = record_var(V)) == "") continue
		for (k = 1; k <= nb; k++) {
			kv(B[k])
			if (!used[k] && record_var(V) == var) { used[k] = 1; REPL[i] = B[k]; break }
		}
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
			if (f[1] in BLOCKPATH) why = K " in [pve:pending] already passes " f[1]
		}
	}
	printf "%s\n%s\n", why, nothing ? "no" : "yes" > (out "info")
	emit_attach(out "attach")
	emit_detach(out "detach")
	# the sections after attach: as they were, with a "\n" at the end (rule 7)
	printf "" > (out "tail")
	for (i = mend + 1; i <= NR; i++) printf "%s%s", L[i], (i < NR || eol || changed) ? "\n" : "" > (out "tail")
}
# Whether line s of the attach result is lxgpu (rule 10: rule 2 first item, with the block as record).
function ours(s,    p) {
	if (!kv(s)) return 0
	if (env_key(K) && record_var(V) != "") return 1
	if ((K == "lxc.hook.pre-start" || K == "lxc.hook.post-stop") && index(V, "lxgpu")) return 1
	if (K == "lxc.cgroup2.devices.allow")
		return rule(V) && T == "c" && (("c" MAJ ":" MIN) == "c195:0" || ("c" MAJ ":" MIN) == "c195:255" || ("c" MAJ ":" MIN) == "c238:0" || ("c" MAJ ":" MIN) == "c238:1")
	if (K == "lxc.mount.entry") { split(V, f, WS "+"); p = f[1]; if (length(p) > 1) sub(/\/$/, "", p); return p in BLOCKPATH }
	if (K ~ /^dev[0-9]+$/) return dev_path(V) in BLOCKPATH
	return 0
}
# The attach result (rules 2 to 7), into file and R[1..nr] with main-section end rmend.
function emit_attach(file,    i, k, last, any) {
	changed = 0
	for (i = 1; i <= mend; i++) if (ATT[i]) changed = 1
	for (k = 1; k <= nb; k++) if (!used[k]) changed = 1
	nr = 0
	if (!changed) {
		for (i = 1; i <= NR; i++) { printf "%s%s", L[i], (i < NR || eol) ? "\n" : "" > file; R[++nr] = L[i] }
		rmend = mend; reol = eol
		close(file)
		return
	}
	last = 0
	for (i = 1; i <= mend; i++) if ((!ATT[i] || (i in REPL)) && !blank(L[i])) last = i
	for (i = 1; i <= last; i++) {
		if (!ATT[i]) R[++nr] = L[i]
		else if (i in REPL) R[++nr] = REPL[i]
	}
	for (k = 1; k <= nb; k++) if (!used[k]) R[++nr] = B[k]
	for (i = last + 1; i <= mend; i++) if (!ATT[i]) R[++nr] = L[i]
	rmend = nr
	for (i = mend + 1; i <= NR; i++) R[++nr] = L[i]
	reol = 1
	for (i = 1; i <= nr; i++) printf "%s\n", R[i] > file
	close(file)
}
# detach of the attach result (rule 10), with rule 7.
function emit_detach(file,    i, drop, any) {
	any = 0
	for (i = 1; i <= rmend; i++) if (ours(R[i])) { drop[i] = 1; any = 1 }
	for (i = 1; i <= nr; i++) {
		if (drop[i]) continue
		printf "%s%s", R[i], (i < nr || reol || any) ? "\n" : "" > file
	}
	close(file)
}'

# model: runs the model on $input, into $TMP/m.*; sets $m_why and $m_gpu
model() {
	local eol=0
	ends_nl "$in_text" && eol=1
	LC_ALL=C awk -v out="$TMP/m." -v eol=$eol -v nvmajors="$NVMAJORS" -v block="$BLOCK" "$MODEL" "$input"
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
		same "$name: nothing for attach to remove: attach then detach gives the input back" "$got" "$expected"
	else
		slurp "$TMP/m.detach" expected
		same "$name: detach removes lxgpu's lines, nothing else" "$got" "$expected"
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
