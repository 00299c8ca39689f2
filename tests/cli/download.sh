#!/bin/bash
# driver --mode install's download of NVIDIA's installer (src/host/download.c),
# against tests/cli/httpd.py on 127.0.0.1 through LXGPU_NVIDIA_URL: a plain
# download, cuts resumed within a run and across runs, wrong checksums, 404s, a
# server that ignores Range, and the cache's reuse and repair. The container is
# a stopped plain-LXC one, so a good download ends in lxgpu's "is stopped ...
# the installer is cached" (exit 1) and nothing runs. After every case: the
# cache never holds a partial or wrong file under the final name.
. "$(dirname "$0")/lib.sh"
need_root
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || skip_all "needs python3 (tests/cli/httpd.py)"
command -v jq >/dev/null || skip_all "needs jq"
ldconfig -p | grep -q 'libcurl\.so\.4 ' || skip_all "needs libcurl.so.4 (apt install libcurl4)"

# Assertions made while KNOWN_BUG is set are TAP TODO: reported, not failing.
# Clear it once the bug is fixed (meson then reports an unexpected pass).
KNOWN_BUG=
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*${KNOWN_BUG:+ # TODO $KNOWN_BUG}"; }
not_ok() {
	tap_n=$((tap_n + 1))
	[ -n "$KNOWN_BUG" ] || tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $*${KNOWN_BUG:+ # TODO $KNOWN_BUG}"
}

V=580.159.04
NAME=NVIDIA-Linux-x86_64-$V.run
SRV=$TMP/srv
FILE=$SRV/$V/$NAME # what the server serves
CTL=$SRV/.ctl/$V   # httpd.py's control files for $V/...
mkdir -p "$SRV/$V" "$CTL"
# a few MB, not a multiple of anything the cuts use
head -c $((3 * 1048576 + 12345)) /dev/urandom >"$FILE"
SIZE=$(stat -c %s "$FILE")
SUM=$(sha "$FILE")
write_sums() { printf '%s  %s\n' "$1" "$NAME" >"$FILE.sha256sum"; }
write_sums "$SUM"

"$PYTHON" "$(dirname "$0")/httpd.py" "$SRV" --port-file "$TMP/port" --parent $$ --timeout 300 \
	>/dev/null &
srv_pid=$!
trap 'kill "$srv_pid" 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { echo "Bail out! httpd.py did not start"; exit 1; }
BASE=http://127.0.0.1:$(cat "$TMP/port")
export LXGPU_NVIDIA_URL=$BASE
URL=$BASE/$V/$NAME

fetch() {
	if command -v curl >/dev/null; then curl -sf "$1"; else
		"$PYTHON" -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1]).read().decode())' "$1"
	fi
}
# GETs of $V/FILE since the case began: their Range headers ("-" for none), comma-separated
ranges() { fetch "$BASE/_log?path=/$V/$1" | jq -r '[.requests[] | select(.method == "GET") | .range // "-"] | join(",")'; }
statuses() { fetch "$BASE/_log?path=/$V/$1" | jq -r '[.requests[] | select(.method == "GET") | .status] | join(",")'; }
# mode FILE WORDS...: httpd.py's behaviour for $V/FILE
mode() { local f=$1; shift; printf '%s\n' "$*" >"$CTL/$f"; }

h=$(host lxc h100-580.159.04.spec)
mkdir -p "$h/var/lib/lxc/ct/rootfs"
printf 'lxc.net.0.type = empty\nlxc.rootfs.path = dir:/var/lib/lxc/ct/rootfs\n' >"$h/var/lib/lxc/ct/config"
CACHE=$h/var/cache/lxgpu
FINAL=$CACHE/$NAME
PART=$FINAL.part

# fresh: an empty cache, normal behaviours, an empty request log
fresh() {
	rm -rf "$CACHE" "$CTL"
	mkdir -p "$CTL"
	write_sums "$SUM"
	fetch "$BASE/_reset" >/dev/null
}
install() { run --sysroot "$h" driver ct --mode install "$@"; }
# downloaded CASE: the run got the installer and stopped at the stopped container
downloaded() {
	local said=$err
	case $err in *"container ct is stopped"*"the installer is cached"*) said=stopped ;; esac
	eq "$1: exit 1 saying the container is stopped and the installer cached" "$rc $said" "1 stopped"
	check "$1: the cached installer is the served file, byte for byte" cmp "$FILE" "$FINAL"
	check "$1: no .part left" test ! -e "$PART"
}
# failed CASE NEEDLE: exit 1, one line naming NEEDLE
failed() {
	eq "$1: exit 1" "$rc" 1
	check "$1: a one-line error" one_line_error
	contains "$1: the error says why" "$err" "$2"
}
# sound CASE: the invariant, after every case: nothing but the installer (whole
# and right) and its .part in the cache
sound() {
	local bad='' f
	if [ -e "$FINAL" ] && ! cmp -s "$FILE" "$FINAL"; then bad="$NAME differs from the served file"; fi
	if [ -d "$CACHE" ]; then
		for f in "$CACHE"/* "$CACHE"/.[!.]*; do
			[ -e "$f" ] || continue
			case ${f##*/} in "$NAME" | "$NAME.part") ;; *) bad="$bad stray ${f##*/}" ;; esac
		done
	fi
	eq "$1: the cache holds no half or wrong file under its final name" "${bad:-sound}" sound
}

# --- a plain download
fresh
install
downloaded "plain download"
eq "plain download: the checksum, then the installer, once, without Range" \
	"$(ranges "$NAME.sha256sum") $(ranges "$NAME")" "- -"
sound "plain download"

# --- --dry-run downloads nothing
fresh
install --dry-run
eq "dry run: exit 0" "$rc" 0
eq "dry run: no request" "$(fetch "$BASE/_log" | jq '.requests | length')" 0
check "dry run: no cache made" test ! -e "$CACHE"
sound "dry run"

# --- a cut within the run is resumed from the cut
fresh
CUT=1000000
mode "$NAME" cut $CUT
install
downloaded "cut once"
eq "cut once: retried with Range from the cut offset" "$(ranges "$NAME")" "-,bytes=$CUT-"
eq "cut once: 200 cut, then 206" "$(statuses "$NAME")" "200,206"
sound "cut once"

# --- cut on every try: 3 tries, each further; the .part stays for the next run
fresh
CUT=524288
mode "$NAME" cut-always $CUT
install
failed "cut every try" "run again to resume"
contains "cut every try: names the URL and the offset" "$err" "$URL: cut off at $((3 * CUT)) bytes"
eq "cut every try: 3 tries, each from where the last stopped" "$(ranges "$NAME")" \
	"-,bytes=$CUT-,bytes=$((2 * CUT))-"
check "cut every try: no final file" test ! -e "$FINAL"
eq "cut every try: the .part is kept, with 3 cuts' bytes" "$(stat -c %s "$PART" 2>&1)" $((3 * CUT))
check "cut every try: the .part is the file's beginning" cmp -n $((3 * CUT)) "$FILE" "$PART"
sound "cut every try"

# the next run resumes the .part
fetch "$BASE/_reset" >/dev/null
mode "$NAME" normal
install
downloaded "next run"
eq "next run: one GET, from the .part's size" "$(ranges "$NAME")" "bytes=$((3 * CUT))-"
sound "next run"

# --- a try that gets no further ends the retries at once
fresh
mode "$NAME" cut-always 0
install
failed "cut with no bytes" "run again to resume"
eq "cut with no bytes: one try only" "$(ranges "$NAME")" "-"
check "cut with no bytes: no final file" test ! -e "$FINAL"
sound "cut with no bytes"

# --- a wrong checksum: both sums named, nothing kept
fresh
WRONG=$(printf '%s' "$SUM" | tr 0-9a-f 1-9a-f0)
write_sums "$WRONG"
install
failed "wrong checksum" "checksum $SUM"
contains "wrong checksum: names the published sum" "$err" "publishes $WRONG"
check "wrong checksum: no final file" test ! -e "$FINAL"
check "wrong checksum: no .part" test ! -e "$PART"
sound "wrong checksum"

# a wrong .part from an earlier run is resumed once, found wrong, and
# fetched again whole in the same run
fresh
mkdir -p "$CACHE"
head -c 100000 /dev/urandom >"$PART"
install
downloaded "wrong .part resumed"
eq "wrong .part resumed: resumed from its size, then fetched whole" "$(ranges "$NAME")" "bytes=100000-,-"
sound "wrong .part resumed"

# --- 404s
fresh
mode "$NAME" status 404
install
failed "installer 404" "HTTP 404"
contains "installer 404: names the URL" "$err" "$URL: HTTP 404"
check "installer 404: no final file" test ! -e "$FINAL"
sound "installer 404"

fresh
mode "$NAME.sha256sum" status 404
install
failed "checksum 404" "HTTP 404"
contains "checksum 404: names the checksum's URL" "$err" "$URL.sha256sum: HTTP 404"
eq "checksum 404: the installer is not fetched" "$(ranges "$NAME")" ""
check "checksum 404: no final file" test ! -e "$FINAL"
check "checksum 404: no .part" test ! -e "$PART"
sound "checksum 404"

fresh
mode "$NAME.sha256sum" cut 10
install
failed "checksum cut" "cut off"
eq "checksum cut: the installer is not fetched" "$(ranges "$NAME")" ""
sound "checksum cut"

fresh
printf 'not a checksum  %s\n' "$NAME" >"$FILE.sha256sum"
install
failed "checksum file without a checksum" "not a SHA-256 checksum file"
check "checksum file without a checksum: no final file" test ! -e "$FINAL"
sound "checksum file without a checksum"

# --- a .part that is already whole (a run that stopped before the rename): 416, kept
fresh
mkdir -p "$CACHE"
cp "$FILE" "$PART"
install
downloaded "whole .part"
eq "whole .part: asked past the end, got 416" "$(ranges "$NAME") $(statuses "$NAME")" "bytes=$SIZE- 416"
sound "whole .part"

# --- a server that ignores Range
fresh
mode "$NAME" norange
install
downloaded "no Range support, no .part"
sound "no Range support, no .part"

fresh
mode "$NAME" cut-always $CUT
install # leaves a .part of 3 cuts (checked above)
fetch "$BASE/_reset" >/dev/null
mode "$NAME" norange
install
eq "no Range support, with a .part: asked for the rest, got the whole file" \
	"$(ranges "$NAME") $(statuses "$NAME")" "bytes=$((3 * CUT))- 200"
# found by this test: asked with CURLOPT_RESUME_FROM, libcurl failed a 200 before
# lxgpu saw a byte; a plain Range request lets it start the part over
downloaded "no Range support, with a .part: the .part restarted, not appended to"
sound "no Range support, with a .part"

# --- two runs at once (two containers, one cache): the second must not append
# to the first one's .part
fresh
mkdir -p "$h/var/lib/lxc/ct2/rootfs"
printf 'lxc.net.0.type = empty\nlxc.rootfs.path = dir:/var/lib/lxc/ct2/rootfs\n' \
	>"$h/var/lib/lxc/ct2/config"
mode "$NAME" slow 1500000
"$LXGPU" --sysroot "$h" driver ct --mode install 2>"$TMP/a.err" &
a=$!
for _ in $(seq 100); do [ -s "$PART" ] && break; sleep 0.05; done
"$LXGPU" --sysroot "$h" driver ct2 --mode install 2>"$TMP/b.err" &
b=$!
wait $a
rc_a=$?
wait $b
rc_b=$?
both="$rc_a $(cat "$TMP/a.err") | $rc_b $(cat "$TMP/b.err")"
# found by this test: both appended to one .part; the cache is locked now
contains "two runs at once: the first one stops at its stopped container" "$both" \
	"1 lxgpu: driver ct: container ct is stopped"
contains "two runs at once: the second one too" "$both" "1 lxgpu: driver ct2: container ct2 is stopped"
check "two runs at once: the cached installer is the served file" cmp "$FILE" "$FINAL"
sound "two runs at once"

# --- the cache
fresh
install
ino=$(stat -c %i:%Y "$FINAL")
fetch "$BASE/_reset" >/dev/null
install
downloaded "cached and right"
eq "cached and right: only the checksum is fetched" \
	"$(ranges "$NAME.sha256sum")|$(ranges "$NAME")" "-|"
eq "cached and right: the same file, untouched" "$(stat -c %i:%Y "$FINAL")" "$ino"
sound "cached and right"

fresh
mkdir -p "$CACHE"
cp "$FILE" "$FINAL"
printf 'XXXX' | dd of="$FINAL" bs=1 seek=2000000 conv=notrunc status=none
install
downloaded "cached and corrupt (same size)"
eq "cached and corrupt: downloaded again, whole" "$(ranges "$NAME")" "-"
sound "cached and corrupt (same size)"

fresh
mkdir -p "$CACHE"
head -c 1000 "$FILE" >"$FINAL"
install
downloaded "cached and truncated"
eq "cached and truncated: downloaded again, whole" "$(ranges "$NAME")" "-"
sound "cached and truncated"

# a corrupt cached file and a wrong checksum: the corrupt file goes too
fresh
mkdir -p "$CACHE"
head -c 1000 "$FILE" >"$FINAL"
write_sums "$WRONG"
install
failed "cached and corrupt, checksum wrong" "publishes $WRONG"
check "cached and corrupt, checksum wrong: no final file" test ! -e "$FINAL"
sound "cached and corrupt, checksum wrong"

done_testing
