#!/bin/bash
# The status view and the progress bars in a real terminal: each run happens
# in a detached tmux pane of 100x30, whose screen (with and without escapes)
# and raw output are then read back. On a terminal: colour, aligned columns,
# no line wider than the pane, bars that end at 100%. With --no-color,
# NO_COLOR or piped: no escape; piped or --quiet: no bar and no \r.
# The host's driver is the H100 capture's 580.159.04 (h100 spec).
. "$(dirname "$0")/lib.sh"
need_root
command -v tmux >/dev/null || skip_all "needs tmux"
# character positions, not bytes: the view has ✓, ✗ and …
export LC_ALL=C.UTF-8
unset NO_COLOR

W=100 H=30
SOCK=$TMP/tmux.sock
srv_pid=
trap 'tmux -S "$SOCK" kill-server 2>/dev/null; [ -z "$srv_pid" ] || kill "$srv_pid" 2>/dev/null; rm -rf "$TMP"' EXIT
ESC=$'\033' CR=$'\r'

# tty NAME CMD...: CMD in a fresh WxH terminal, started only once its output
# is being recorded; waits for its end (60 s at most). Leaves the screen with
# escapes in $TMP/NAME.esc, plain with wrapped lines joined in $TMP/NAME.txt,
# every byte it wrote in $TMP/NAME.raw, its exit status in $tty_rc.
tty() {
	local name=$1 cmd
	shift
	printf -v cmd '%q ' "$@"
	cat >"$TMP/$name.sh" <<-EOF
		tmux -S '$SOCK' wait-for 'go-$name'
		$cmd
		echo \$? >'$TMP/$name.rc'
		tmux -S '$SOCK' wait-for -S 'done-$name'
		exec sleep 300
	EOF
	tmux -S "$SOCK" new-session -d -x "$W" -y "$H" -s "$name" "bash $TMP/$name.sh"
	tmux -S "$SOCK" pipe-pane -t "$name" "cat >$TMP/$name.raw"
	tmux -S "$SOCK" wait-for -S "go-$name"
	timeout 60 tmux -S "$SOCK" wait-for "done-$name" || echo "# $name: no end within 60 s"
	tmux -S "$SOCK" capture-pane -t "$name" -p -e -J >"$TMP/$name.esc"
	tmux -S "$SOCK" capture-pane -t "$name" -p -J >"$TMP/$name.txt"
	pane=$(tmux -S "$SOCK" display-message -p -t "$name" '#{pane_width}x#{pane_height}')
	tmux -S "$SOCK" kill-session -t "$name"
	tty_rc=$(cat "$TMP/$name.rc" 2>/dev/null || echo none)
}
# widest FILE: the most characters on one of its lines
widest() { local l m=0; while IFS= read -r l; do [ ${#l} -le $m ] || m=${#l}; done <"$1"; echo $m; }

h=$(host tty h100-580.159.04.spec) || bail "fake host"
V=580.159.04
# new_ct NAME: a stopped plain-LXC container with a Debian root, attached
new_ct() {
	mkdir -p "$h/var/lib/lxc/$1/rootfs/etc"
	echo 12.4 >"$h/var/lib/lxc/$1/rootfs/etc/debian_version"
	printf 'lxc.rootfs.path = dir:/var/lib/lxc/%s/rootfs\nlxc.net.0.type = empty\n' "$1" \
		>"$h/var/lib/lxc/$1/config"
	run --sysroot "$h" attach "$1" --quiet
	[ "$rc" = 0 ] || bail "attach $1: $err"
}
# c1: the host's driver copied in; web-frontend: a copy of another version
new_ct c1
new_ct web-frontend
run --sysroot "$h" driver c1 --mode copy --quiet
run --sysroot "$h" driver web-frontend --mode copy --quiet
lib=$h/var/lib/lxc/web-frontend/rootfs/usr/lib/x86_64-linux-gnu
ln -sfn libnvidia-ml.so.570.86.10 "$lib/libnvidia-ml.so.1"
touch "$lib/libnvidia-ml.so.570.86.10"
sum=$(find "$h/var/lib/lxc" -type f -name config -exec cat {} + | sha256sum)

# === the status view
tty status "$LXGPU" --sysroot "$h"
eq "status: the pane is ${W}x$H" "$pane" "${W}x$H"
eq "status: exit 0" "$tty_rc" 0
contains "status, terminal: colour (the bold header)" "$(cat "$TMP/status.esc")" "$ESC[1mCT"
contains "status, terminal: colour (the red problem line)" "$(cat "$TMP/status.esc")" "$ESC[31mcontainer web-frontend"
eq "status, terminal: no line wider than the pane" "$(($(widest "$TMP/status.txt") <= W))" 1

# the table: every cell of a row starts where its header starts
header=$(grep -m1 '^CT  ' "$TMP/status.txt")
cols=(CT STATE GPU STYLE DRIVER HEALTH)
aligned() { # DESC ROW CELLS...
	local desc=$1 row=$2 i p bad=''
	shift 2
	for i in "${!cols[@]}"; do
		p=${header%%"${cols[i]}"*}
		p=${#p}
		case ${row:p} in "$1"*) ;; *) bad="$bad ${cols[i]}@$p:'${row:p:12}'" ;; esac
		[ "$p" = 0 ] || [ "${row:p-1:1}" = " " ] || bad="$bad ${cols[i]}:no-space-before"
		shift
	done
	eq "$desc" "${bad:-aligned}" aligned
}
aligned "status: c1's cells under their headers" "$(grep -m1 '^c1 ' "$TMP/status.txt")" \
	c1 stopped 0 raw "✓ copy $V" "✓ ok"
aligned "status: web-frontend's cells under their headers" \
	"$(grep -m1 '^web-frontend ' "$TMP/status.txt")" \
	web-frontend stopped 0 raw "✗ copy 570.86.10" "✗ error"
fix="lxgpu driver web-frontend --mode bind (or --mode copy again)"
problem=$(grep -m1 '^container web-frontend: ' "$TMP/status.txt")
eq "status, terminal: the problem line, cut to the pane's width with …" "${#problem} ${problem: -1}" "$W …"
contains "status, terminal: ... from its start" "$problem" \
	"container web-frontend: the container's driver is 570.86.10 (/usr/lib/x86_64-linux-gnu)"
eq "status: its fix on the line after it" \
	"$(grep -A1 '^container web-frontend: ' "$TMP/status.txt" | tail -1)" "    fix: $fix"
eq "status: the last line is the next command" "$(grep -v '^$' "$TMP/status.txt" | tail -1)" "next: $fix"

tty nocolor "$LXGPU" --sysroot "$h" --no-color
eq "status --no-color: no escape on the terminal" "$(grep -c "$ESC" "$TMP/nocolor.esc")" 0
eq "status --no-color: the same text" "$(cat "$TMP/nocolor.txt")" "$(cat "$TMP/status.txt")"
tty nocolorenv env NO_COLOR=1 "$LXGPU" --sysroot "$h"
eq "status with NO_COLOR: no escape on the terminal" "$(grep -c "$ESC" "$TMP/nocolorenv.esc")" 0

"$LXGPU" --sysroot "$h" >"$TMP/piped.txt" 2>"$TMP/piped.err"
eq "status, piped: exit 0" "$?" 0
eq "status, piped: no escape" "$(grep -c "$ESC" "$TMP/piped.txt")" 0
contains "status, piped: the whole problem, not cut" "$(cat "$TMP/piped.txt")" \
	"but the host's module is $V: NVML says \"Driver/library version mismatch\""
eq "status, piped: the same table" "$(grep -A2 '^CT  ' "$TMP/piped.txt")" "$(grep -A2 '^CT  ' "$TMP/status.txt")"
eq "status: no config changed" "$(find "$h/var/lib/lxc" -type f -name config -exec cat {} + | sha256sum)" "$sum"

# === the driver copy's bar
new_ct c3
new_ct c4
tty copy "$LXGPU" --sysroot "$h" driver c3 --mode copy
eq "copy, terminal: exit 0" "$tty_rc" 0
bar=$(grep -m1 "^copying driver $V \[" "$TMP/copy.txt")
case $bar in
"copying driver $V ["*"] 100% "*" MiB") ok "copy, terminal: the last bar is at 100%, with its label" ;;
*) not_ok "copy, terminal: the last bar is at 100%, with its label"; printf '%s\n' "$bar" | diag ;;
esac
cells=${bar#*[}
cells=${cells%%]*}
eq "copy, terminal: the bar is full" "${cells//#/}" ""
eq "copy, terminal: the bar fits the pane" "$(( ${#bar} < W && ${#bar} > 60 ))" 1
eq "copy, terminal: the result on the line after the bar" \
	"$(grep -A1 "^copying driver $V \[" "$TMP/copy.txt" | tail -1 | cut -d: -f1)" \
	"copied driver $V into container c3"
contains "copy, terminal: drawn in place (\\r, erase to the end)" "$(cat "$TMP/copy.raw")" "${CR}copying driver $V ["
contains "copy, terminal: each drawing erases the rest of the line" "$(cat "$TMP/copy.raw")" "MiB$ESC[K"

"$LXGPU" --sysroot "$h" driver c4 --mode copy >"$TMP/copy-piped.out" 2>"$TMP/copy-piped.err"
eq "copy, piped: exit 0" "$?" 0
eq "copy, piped: nothing on stderr (no bar, no \\r)" "$(wc -c <"$TMP/copy-piped.err")" 0
eq "copy, piped: no \\r on stdout either" "$(grep -c "$CR" "$TMP/copy-piped.out")" 0
tty quiet "$LXGPU" --sysroot "$h" driver c4 --mode copy --quiet
eq "copy --quiet, terminal: no bar" "$(grep -c 'copying driver' "$TMP/quiet.txt")$(grep -c "$CR" "$TMP/quiet.raw")" 00

# === the download's bar: tests/cli/httpd.py on 127.0.0.1, slowed down to
# ~1 MiB/s for a 2 MiB installer, so the bar is drawn many times
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null || ! ldconfig -p | grep -q 'libcurl\.so\.4 '; then
	echo "# no python3 or libcurl.so.4: the download bar is not tested"
	done_testing
	exit
fi
NAME=NVIDIA-Linux-x86_64-$V.run
SRV=$TMP/srv
mkdir -p "$SRV/$V" "$SRV/.ctl/$V"
head -c $((2 * 1048576)) /dev/urandom >"$SRV/$V/$NAME"
printf '%s  %s\n' "$(sha "$SRV/$V/$NAME")" "$NAME" >"$SRV/$V/$NAME.sha256sum"
echo "slow 1048576" >"$SRV/.ctl/$V/$NAME"
"$PYTHON" "$(dirname "$0")/httpd.py" "$SRV" --port-file "$TMP/port" --parent $$ --timeout 300 \
	>/dev/null &
srv_pid=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || bail "httpd.py did not start"
URL=http://127.0.0.1:$(cat "$TMP/port")
new_ct dl
CACHE=$h/var/cache/lxgpu

start=$(date +%s%N)
tty download env LXGPU_NVIDIA_URL="$URL" "$LXGPU" --sysroot "$h" driver dl --mode install
took_ms=$((($(date +%s%N) - start) / 1000000))
# the container is stopped: the run ends after the download, exit 1
eq "download, terminal: exit 1 at the stopped container" "$tty_rc" 1
check "download, terminal: the installer is cached" cmp "$SRV/$V/$NAME" "$CACHE/$NAME"
bar=$(grep -m1 "^$NAME \[" "$TMP/download.txt")
eq "download, terminal: the last bar, full, at 100% of 2 MiB" \
	"$(sed 's/\[#*\]/[full]/' <<<"$bar")" "$NAME [full] 100% 2.0/2.0 MiB"
eq "download, terminal: the bar fits the pane" "$(( ${#bar} < W ))" 1
contains "download, terminal: the error on the line after the bar" \
	"$(grep -A1 "^$NAME \[" "$TMP/download.txt" | tail -1)" "lxgpu: "
draws=$(grep -o "$CR$NAME \[" "$TMP/download.raw" | wc -l)
# ~10 drawings a second: at least 2 over a 2 s transfer, at most 10 a
# second of the whole run and the final one
eq "download, terminal: drawn several times ($draws), at most ~10/s (run: $took_ms ms)" \
	"$((draws >= 2 && draws <= took_ms / 100 + 2))" 1

rm -rf "$CACHE"
echo normal >"$SRV/.ctl/$V/$NAME"
LXGPU_NVIDIA_URL=$URL run --sysroot "$h" driver dl --mode install
eq "download, piped: exit 1 at the stopped container" "$rc" 1
check "download, piped: the installer is cached" cmp "$SRV/$V/$NAME" "$CACHE/$NAME"
check "download, piped: one line on stderr, the error" one_line_error
lacks "download, piped: no \\r" "$err" "$CR"
lacks "download, piped: no bar" "$err" "$NAME ["

done_testing
