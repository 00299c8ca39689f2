# bash completion for lxgpu: the candidates come from `lxgpu __complete`,
# which reads the same command table as --help, the containers' configs and
# the host's GPUs (beneath the --sysroot and --lxcpath on the line).
_lxgpu() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		# ':' stays in the word: PCI addresses are 0000:01:00.0
		_init_completion -n : || return
	else
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
	fi
	case $prev in
	--sysroot | --lxcpath)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return
		;;
	--installer)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	esac
	local lxgpu=${words[0]}
	# the program being completed, also ./build/lxgpu; else the installed one
	[[ $lxgpu == */* && -x $lxgpu ]] || lxgpu=lxgpu
	mapfile -t COMPREPLY < <("$lxgpu" __complete -- "$cword" "${words[@]}" 2>/dev/null)
	if declare -F __ltrim_colon_completions >/dev/null; then
		__ltrim_colon_completions "$cur"
	fi
}
complete -F _lxgpu lxgpu
