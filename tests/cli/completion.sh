#!/bin/bash
# data/lxgpu.bash: sourced in bash (with bash-completion's helpers, as an
# interactive shell has them), its function called as bash calls it, with
# COMP_WORDS split the way bash splits a line (':' and '=' are words).
. "$(dirname "$0")/lib.sh"
COMPLETION=${COMPLETION:?set COMPLETION to data/lxgpu.bash}
need_root
[ -r /usr/share/bash-completion/bash_completion ] || skip_all "no bash-completion"
# shellcheck disable=SC1091
. /usr/share/bash-completion/bash_completion
# shellcheck disable=SC1090
. "$COMPLETION"

h=$(host sample sample-host.spec) || bail "sample host"
two=$(host two two-fake-gpus.spec) || bail "two-GPU host"
mkdir -p "$h/srv/lxc/web" "$h/srv/lxc/db"
echo "lxc.uts.name = web" >"$h/srv/lxc/web/config"
echo "lxc.uts.name = db" >"$h/srv/lxc/db/config"

# complete WORD...: the candidates for the last word, sorted, on one line
complete_line() {
	COMP_WORDS=("$LXGPU" "$@")
	COMP_CWORD=$#
	# the line as typed: no blank around the ':' and '=' that bash split at
	local w prev=x
	COMP_LINE=
	for w in "${COMP_WORDS[@]}"; do
		case $w$prev in
		:* | =* | *: | *=) COMP_LINE+=$w ;;
		*) COMP_LINE+=${COMP_LINE:+ }$w ;;
		esac
		prev=$w
	done
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_lxgpu
	[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}

eq "registered for lxgpu" "$(complete -p lxgpu)" "complete -F _lxgpu lxgpu"

cmds=$("$LXGPU" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z-]*\) .*/\1/p' | sort | tr '\n' ' ')
eq "commands: those --help lists" "$(complete_line "")" "$cmds"
eq "commands by prefix" "$(complete_line d)" "detach discover doctor driver "
lacks "not the hidden hook" "$(complete_line h)" "hook"
eq "not the build's __man / __complete" "$(complete_line _)" ""

# CTs: Proxmox VMIDs of the sample host (101, 102, 103 in sample-host.spec)
eq "attach CT: the VMIDs" "$(complete_line --sysroot "$h" attach "")" "101 102 103 "
eq "by prefix" "$(complete_line --sysroot "$h" show 10)" "101 102 103 "
eq "--sysroot=DIR (bash splits at =)" "$(complete_line --sysroot = "$h" check "")" "101 102 103 "
eq "options before the CT are skipped" "$(complete_line --sysroot "$h" attach --gpu 0 "")" "101 102 103 "
eq "attach takes one CT" "$(complete_line --sysroot "$h" attach 101 "")" ""
eq "sync takes many" "$(complete_line --sysroot "$h" sync 101 "")" "101 102 103 "
eq "top takes many" "$(complete_line --sysroot "$h" top 101 "")" "101 102 103 "
eq "top's options" "$(complete_line top --)" "$(printf '%s\n' --help --interval --json --lxcpath --no-color --once --quiet --sysroot --verbose --version | tr '\n' ' ')"
eq "metrics takes no CT" "$(complete_line --sysroot "$h" metrics "")" ""
eq "--lxcpath on the line: its containers too" \
	"$(complete_line --sysroot "$h" --lxcpath /srv/lxc detach "")" "101 102 103 db web "
eq "--lxcpath after the command" "$(complete_line --sysroot "$h" doctor --lxcpath /srv/lxc w)" "web "
eq "compat --ct CT" "$(complete_line --sysroot "$h" compat --ct "")" "101 102 103 "
eq "no host: no CT, no error" "$(complete_line --sysroot "$TMP/none" attach "")" ""

# GPU selectors: sample host's H100 (h100-580.159.04.spec): index, UUID, PCI
eq "--gpu: index, UUID, PCI address, all, any" "$(complete_line --sysroot "$h" attach 101 --gpu "")" \
	"0 0000:00:06.0 GPU-14d254be-3087-0aa8-a7aa-03759525cf2f all any "
eq "--gpu GPU-" "$(complete_line --sysroot "$h" attach 101 --gpu GPU-)" \
	"GPU-14d254be-3087-0aa8-a7aa-03759525cf2f "
# "0000:00" is three words for bash, which replaces the last ("00"): the
# reply is the address after the typed "0000:"
eq "--gpu with a ':' in the word" "$(complete_line --sysroot "$h" attach 101 --gpu 0000 : 00)" "00:06.0 "
eq "two GPUs (two-fake-gpus.spec)" "$(complete_line --sysroot "$two" cdi --gpu "")" \
	"$("$LXGPU" --sysroot "$two" --json discover | jq -r '.gpus[] | .index, .pci, (.uuid // empty)' | sort | tr '\n' ' ')all any "
eq "two GPUs: indices 0 and 1" "$(complete_line --sysroot "$two" cdi --gpu "" | grep -oE '(^| )[0-9]( |$)' | tr -d ' ' | tr '\n' ' ')" "0 1 "

# option values and options
eq "--style" "$(complete_line attach 101 --style "")" "auto dev raw "
eq "--style=" "$(complete_line attach 101 --style = "")" "auto dev raw "
eq "--mode b" "$(complete_line driver 101 --mode b)" "bind "
eq "attach's options by prefix" "$(complete_line attach --d)" "--dry-run "
eq "driver's" "$(complete_line driver 101 --d)" "--docker --dry-run "
eq "global options before the command" "$(complete_line --s)" "--sysroot "
eq "unhook's" "$(complete_line unhook --a)" "--all "
mkdir -p "$TMP/dirs/sample-a" "$TMP/dirs/sample-b"
eq "--sysroot: directories" "$(complete_line --sysroot "$TMP/dirs/sam")" "$TMP/dirs/sample-a $TMP/dirs/sample-b "
eq "host: its subcommands (README.md)" "$(complete_line host "")" "install-driver prepare status "
done_testing
