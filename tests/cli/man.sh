#!/bin/bash
# lxgpu(1): renders without a warning, and names every command of --help,
# every long option of the command table and every JSON field the program
# can print (the keys of json_object_set* in src/cli/*.c).
. "$(dirname "$0")/lib.sh"
MAN=${MAN:?set MAN to the built lxgpu.1}
SRC=${SRC:?set SRC to the source tree}
command -v groff >/dev/null || skip_all "no groff"

groff_err=$(groff -ww -man -Tutf8 "$MAN" 2>&1 >/dev/null)
eq "groff -ww -man: no warning" "$groff_err" ""
if command -v man >/dev/null; then
	man_err=$(MANWIDTH=80 man --warnings -l "$MAN" 2>&1 >/dev/null)
	eq "man -l --warnings: no warning" "$?-$man_err" "0-"
fi
# the warning check can fail: an undefined macro is reported
sed '$a .BOGUS' "$MAN" >"$TMP/bad.1"
contains "a broken page is warned about" "$(groff -ww -man -Tutf8 "$TMP/bad.1" 2>&1 >/dev/null)" "BOGUS"

# the page as a person reads it: no hyphenation, one long line a paragraph
text=$(MANWIDTH=1000 man -l "$MAN" 2>/dev/null || groff -man -Tutf8 -P-cbou "$MAN")
contains "the header names the version" "$(head -c 300 <<<"$(groff -man -Tutf8 -P-cbou "$MAN")" | tail -c 200)$text" "lxgpu $("$LXGPU" --version | cut -d' ' -f2)"

# every command --help lists, and hook (LXC runs it: the hook lines attach writes name it)
cmds=$("$LXGPU" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z-]*\) .*/\1/p')
[ "$(wc -w <<<"$cmds")" -ge 12 ] || bail "--help lists its commands (got: $cmds)"
missing=
for c in $cmds hook; do
	grep -q "^\.SS \"$c\"" "$MAN" || missing+=" $c"
done
eq "a section for every command" "$missing" ""
# the generated sections are not the build's own commands
lacks "no __man or __complete in the page" "$text" "__"

# every long option of the table: from each command's --help
opts=$(for c in "" $cmds; do "$LXGPU" $c --help; done | grep -o -- '^  --[a-z-]*' | sort -u)
[ "$(wc -w <<<"$opts")" -ge 20 ] || bail "--help lists the options (got: $opts)"
missing=
for o in $opts; do
	grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" <<<"$text" || missing+=" $o"
done
eq "every long option is in the page" "$missing" ""
for o in -q -v -h -V; do
	contains "short option $o is in the page" "$text" "$o, --"
done

# every JSON key the program can print
keys=$(grep -ohE 'json_object_set(_new)?\([^,]+, *"[a-z_0-9]+"' "$SRC"/src/cli/*.c |
	sed -E 's/.*"([a-z_0-9]+)"$/\1/' | sort -u)
[ "$(wc -w <<<"$keys")" -ge 50 ] || bail "keys found in src/cli/*.c (got: $keys)"
json=$(sed -n '/^JSON OUTPUT/,/^FILES/p' <<<"$text")
missing=
for k in $keys; do
	grep -qE "(^|[^a-z_])$k([^a-z_]|$)" <<<"$json" || missing+=" $k"
done
eq "every JSON key is in JSON OUTPUT" "$missing" ""
# the key check can fail: a key the page does not have is found missing
grep -qE "(^|[^a-z_])no_such_key([^a-z_]|$)" <<<"$json" && not_ok "a made-up key is missing" || ok "a made-up key is missing"

for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "EXIT STATUS" "JSON OUTPUT" FILES ENVIRONMENT EXAMPLES "SEE ALSO"; do
	grep -q "^$s\$" <<<"$text" && ok "section $s" || not_ok "section $s"
done
# the exit codes of README.md
exits=$(sed -n '/^EXIT STATUS/,/^JSON OUTPUT/p' <<<"$text" | grep -oE '^ +[0-9] ' | tr -d ' ' | tr '\n' ' ')
eq "exit statuses 0 1 2 3" "$exits" "0 1 2 3 "
for f in /etc/pve/lxc/ /run/lock/lxc/pve-config- /var/lib/lxgpu/backup/ /var/cache/lxgpu/ \
	lxgpu-sync.service LXGPU_SYSROOT NO_COLOR; do
	contains "names $f" "$text" "$f"
done
done_testing
