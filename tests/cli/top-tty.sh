#!/bin/bash
# lxgpu top's live view in a real terminal (a detached tmux pane), on the
# fake NVIDIA host of tests/fixtures/top: the alternate screen, redrawn in
# place (one clear at the start, then cursor home and each line over the
# last: no flicker), the cells under their headers, no line wider than the
# pane (also after a resize, and in a narrow or short pane), q quits with 0,
# SIGINT and SIGTERM end it too, and every time the terminal is given back
# as it was: the normal screen, the cursor shown, the same stty settings.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/toplib.sh"
need_root
command -v tmux >/dev/null || skip_all "needs tmux"
export LC_ALL=C.UTF-8
unset NO_COLOR

SOCK=$TMP/tmux.sock
trap 'tmux -S "$SOCK" kill-server 2>/dev/null; rm -rf "$TMP"' EXIT
ESC=$'\033'

h=$(nvidia_host tty) || bail "fake NVIDIA host"
NV=$TOPFIX/nvidia

# start NAME WIDTH HEIGHT CMD...: a shell in a fresh pane, every byte of it
# recorded in $TMP/NAME.raw, and CMD typed into it as a person would, after
# a line "before-NAME" and between two stty -g
start() {
	local name=$1 w=$2 rows=$3 cmd
	shift 3
	printf -v cmd '%q ' "$@"
	tmux -S "$SOCK" new-session -d -x "$w" -y "$rows" -s "$name" "env PS1='\$ ' bash --norc --noprofile"
	tmux -S "$SOCK" pipe-pane -t "$name" "cat >$TMP/$name.raw"
	tmux -S "$SOCK" send-keys -t "$name" "printf 'b%s\\n' efore-$name; stty -g >$TMP/$name.stty0; $cmd; echo \$? >$TMP/$name.rc; stty -g >$TMP/$name.stty1; tmux -S $SOCK wait-for -S done-$name" Enter
}
# screen NAME [-e]: the pane now (-J: a wrapped line shows whole, as one)
screen() { tmux -S "$SOCK" capture-pane -t "$1" -p -J ${2:+"$2"}; }
# shown NAME TEXT: waits (10 s at most) until TEXT is on the screen
shown() { for _ in $(seq 100); do screen "$1" | grep -qF -- "$2" && return 0; sleep 0.1; done; return 1; }
# finish NAME: waits (20 s at most) for the end; the screen after it in
# $TMP/NAME.after, the exit status in $tty_rc
finish() {
	timeout 20 tmux -S "$SOCK" wait-for "done-$1" || echo "# $1: no end within 20 s"
	screen "$1" >"$TMP/$1.after"
	tmux -S "$SOCK" kill-session -t "$1"
	tty_rc=$(cat "$TMP/$1.rc" 2>/dev/null || echo none)
}
widest() { local l m=0; while IFS= read -r l; do [ ${#l} -le $m ] || m=${#l}; done; echo $m; }
count() { grep -oF -- "$2" "$1" | wc -l; }
# restored NAME: the terminal as it was before lxgpu top
restored() {
	local name=$1 raw=$TMP/$1.raw tail
	eq "$name: the same stty settings after" "$(cat "$TMP/$name.stty1")" "$(cat "$TMP/$name.stty0")"
	tail=${ESC}[?25h${ESC}[?1049l
	contains "$name: the cursor shown and the alternate screen left" "$(cat "$raw")" "$tail"
	after=$(cat "$raw")
	after=${after##*"$tail"}
	lacks "$name: ... last: nothing drawn after it" "$after" "$ESC[H"
	contains "$name: the normal screen is back" "$(cat "$TMP/$name.after")" "before-$name"
	lacks "$name: no table left on it" "$(cat "$TMP/$name.after")" "COMMAND"
}

# === 100x30: frames, alignment, q
W=100
start live $W 30 "$LXGPU" --sysroot "$h" top --interval 0.3
shown live "lxgpu top" || not_ok "live: the view appears"
sleep 1.2 # a few frames, the shares known
screen live >"$TMP/live.txt"
screen live -e >"$TMP/live.esc"
eq "live: no line wider than the pane" "$(($(widest <"$TMP/live.txt") <= W))" 1
contains "live: the title, on the first line" "$(head -1 "$TMP/live.txt")" "lxgpu top"
contains "live: q is said to quit" "$(head -1 "$TMP/live.txt")" "q quits"
contains "live: bold headers on a terminal" "$(cat "$TMP/live.esc")" "$ESC[1mPID"
# the process table: every cell starts under its header, after a blank
header=$(grep -m1 '^PID  ' "$TMP/live.txt")
cols=(PID CT "CT PID" GPU MEMORY SM ENC DEC COMMAND)
bad=
while IFS= read -r row; do
	for c in "${cols[@]}"; do
		p=${header%%"$c"*}
		p=${#p}
		[ "${row:p:1}" != " " ] && { [ "$p" = 0 ] || [ "${row:p-1:1}" = " " ]; } ||
			bad+=" ${row%% *}:$c@$p"
	done
done < <(sed -n '/^PID  /,/^$/p' "$TMP/live.txt" | sed '1d;/^$/d')
eq "live: each process's cells under their headers" "${bad:-aligned}" aligned
# process 1201 on GPU 0, from the fixtures: 3.0 GiB, 40% (its sample)
cell() { local p=${header%%"$2"*} q=${header%%"$3"*}; p=${#p} q=${#q}; echo "${1:p:q-p}" | sed 's/ *$//'; }
row=$(grep -E '^1201 ' "$TMP/live.txt" | while IFS= read -r r; do [ "$(cell "$r" GPU MEMORY)" = 0 ] && echo "$r"; done)
mem=$(awk '$1 == "compute" && $2 == 1201 { printf "%.1f GiB\n", $3 / 1073741824; exit }' "$NV/nvml.txt")
sm=$(awk '$1 == "util" && $2 == 1201 { print $3 "%"; exit }' "$NV/nvml.txt")
eq "live: 1201 on GPU 0: CT, CT PID, memory, SM share" \
	"$(cell "$row" CT "CT PID")|$(cell "$row" "CT PID" GPU)|$(cell "$row" MEMORY SM)|$(cell "$row" SM ENC)" \
	"101|45|$mem|$sm"
tmux -S "$SOCK" send-keys -t live q
finish live
eq "live: q exits 0" "$tty_rc" 0
raw=$TMP/live.raw
contains "live: the alternate screen" "$(cat "$raw")" "$ESC[?1049h"
contains "live: the cursor hidden" "$(cat "$raw")" "$ESC[?25l"
eq "live: the screen cleared once, at the start (no flicker)" "$(count "$raw" "$ESC[2J")" 1
frames=$(count "$raw" "$ESC[H")
eq "live: redrawn in place, cursor home each time ($frames frames)" "$((frames >= 4))" 1
eq "live: each line erased to its end as it is drawn over" "$(($(count "$raw" "$ESC[K") >= frames * 10))" 1
restored live

# === a resize redraws at once, to the new width; a narrow pane
start resize 100 30 "$LXGPU" --sysroot "$h" top --interval 5
shown resize "lxgpu top" || not_ok "resize: the view appears"
tmux -S "$SOCK" resize-window -t resize -x 56 -y 30
sleep 0.5 # well within the 5 s interval: the redraw comes from the resize
screen resize >"$TMP/resize.txt"
eq "resize to 56 columns: no line wider" "$(($(widest <"$TMP/resize.txt") <= 56))" 1
contains "resize: commands cut with …" "$(grep -E '^1201 ' "$TMP/resize.txt" | head -1)" "…"
contains "resize: the process table still there" "$(cat "$TMP/resize.txt")" "PID  "
tmux -S "$SOCK" send-keys -t resize q
finish resize
eq "resize: q exits 0" "$tty_rc" 0

# === a short pane: the title stays on the first line (nothing scrolled)
start short 100 8 "$LXGPU" --sysroot "$h" top --interval 0.3
shown short "lxgpu top" || not_ok "short: the view appears"
sleep 1
screen short >"$TMP/short.txt"
contains "short (8 rows): the title on the first line" "$(head -1 "$TMP/short.txt")" "lxgpu top"
contains "short: the lines it has no room for are counted" "$(cat "$TMP/short.txt")" "more lines"
tmux -S "$SOCK" send-keys -t short q
finish short
eq "short: q exits 0" "$tty_rc" 0

# === SIGINT (^C, from the terminal) and SIGTERM end it and give the terminal back
for sig in INT TERM; do
	name=sig${sig,,}
	start "$name" 100 30 "$LXGPU" --sysroot "$h" top --interval 0.3
	shown "$name" "lxgpu top" || not_ok "$name: the view appears"
	if [ $sig = INT ]; then
		tmux -S "$SOCK" send-keys -t "$name" C-c
	else
		pid=$(pgrep -P "$(tmux -S "$SOCK" display-message -p -t "$name" '#{pane_pid}')" -x lxgpu)
		[ -n "$pid" ] && kill -TERM "$pid"
	fi
	finish "$name"
	eq "$name: exit 128 + SIG$sig" "$tty_rc" "$((128 + $(kill -l $sig)))"
	restored "$name"
done

# === --once on a terminal: one table that fits, no alternate screen
start once 70 30 "$LXGPU" --sysroot "$h" top --once --interval 0.2
finish once
eq "once: exit 0" "$tty_rc" 0
eq "once: no line wider than the pane (what the shell echoed aside)" \
	"$(($(sed -n '/^before-once$/,$p' "$TMP/once.after" | grep -v '^\$ ' | widest) <= 70))" 1
eq "once: no alternate screen" "$(count "$TMP/once.raw" "$ESC[?1049h")" 0
contains "once: the table on the normal screen" "$(cat "$TMP/once.after")" "COMMAND"
done_testing
