#!/bin/bash
# lxgpu unhook [CT...|--all] [--dry-run]: the package's prerm. Removes exactly
# the lxc.hook.* lines that run lxgpu (attach --guard writes lxc.hook.pre-start,
# driver --mode bind lxc.hook.mount), through the config writer (lock, temp,
# rename, backup for undo), and lists each container it changed.
. "$(dirname "$0")/lib.sh"
need_root

h=$(host sample sample-host.spec) || bail "sample host"
pve=$h/etc/pve/lxc
pre='lxc.hook.pre-start: /usr/bin/lxgpu hook --guard'
mnt='lxc.hook.mount: /usr/bin/lxgpu hook'
nvidia='lxc.hook.mount: /usr/share/lxc/hooks/nvidia'
cp "$pve/102.conf" "$TMP/102.want"
cp "$pve/103.conf" "$TMP/103.want"
echo "$mnt" >>"$pve/102.conf"
# another tool's hook stays, and so does a snapshot's line (not what starts)
{ echo "$nvidia"; echo "$pre"; } >>"$pve/103.conf"
{ cat "$TMP/103.want"; echo "$nvidia"; } >"$TMP/103.after"
{ cat "$pve/103.conf"; echo "[snap1]"; echo "hostname: old"; echo "$pre"; } >"$TMP/103.full"
cp "$TMP/103.full" "$pve/103.conf"
{ cat "$TMP/103.after"; echo "[snap1]"; echo "hostname: old"; echo "$pre"; } >"$TMP/103.want"
# a plain LXC container with both hooks, LXC's "key = value" form
mkdir -p "$h/var/lib/lxc/web"
printf 'lxc.uts.name = web\nlxc.hook.pre-start = /usr/bin/lxgpu hook\nlxc.hook.mount = /usr/bin/lxgpu hook\n' \
	>"$h/var/lib/lxc/web/config"
s101=$(sha "$pve/101.conf") s102=$(sha "$pve/102.conf") s103=$(sha "$pve/103.conf")
sweb=$(sha "$h/var/lib/lxc/web/config")

run --sysroot "$h" unhook
eq "no CT and no --all: usage" "$rc-$(one_line_error && echo 1)" "2-1"
run --sysroot "$h" unhook 102 --all
eq "CT and --all: usage" "$rc" "2"
run --sysroot "$h" unhook ../etc
eq "a CT that is a path: usage" "$rc-$(one_line_error && echo 1)" "2-1"

run --sysroot "$h" unhook --all --dry-run
eq "dry run: exit 0" "$rc" "0"
contains "dry run: the diff of 102" "$out" "-$mnt"
contains "dry run: the diff of 103" "$out" "-$pre"
contains "dry run: web's pre-start" "$out" "-lxc.hook.pre-start = /usr/bin/lxgpu hook"
lacks "dry run: other tools' hooks stay" "$out" "-$nvidia"
eq "dry run: nothing written" "$(sha "$pve/101.conf")$(sha "$pve/102.conf")$(sha "$pve/103.conf")$(sha "$h/var/lib/lxc/web/config")" \
	"$s101$s102$s103$sweb"

run --sysroot "$h" unhook --all
eq "unhook --all: exit 0" "$rc-$err" "0-"
contains "lists 102" "$out" "unhooked 102 (/etc/pve/lxc/102.conf):"
contains "shows the line" "$out" "  - $mnt"
contains "lists 103" "$out" "unhooked 103 (/etc/pve/lxc/103.conf):"
contains "lists web" "$out" "unhooked web (/var/lib/lxc/web/config):"
lacks "101 has no hook: not listed" "$out" "101"
eq "102: exactly its hook line gone" "$(sha "$pve/102.conf")" "$(sha "$TMP/102.want")"
eq "103: the pre-start hook gone, the nvidia hook and the snapshot kept" "$(cat "$pve/103.conf")" "$(cat "$TMP/103.want")"
eq "web: both lxgpu hooks gone" "$(cat "$h/var/lib/lxc/web/config")" "lxc.uts.name = web"
unchanged "101 untouched" "$pve/101.conf" "$s101"
eq "no temp file left" "$(ls -A "$pve" | grep -v '\.conf$')" ""

run --sysroot "$h" unhook --all
eq "again: nothing to do" "$rc-$out" "0-no container has an lxgpu hook"
run --sysroot "$h" undo 102
eq "the old config is kept for undo" "$rc-$(tail -n1 "$pve/102.conf")" "0-$mnt"

# --json, named CTs; a locked CT fails alone and says so
# (the main section: before 103's [snap1])
sed -i "1i lock: backup\n$pre" "$pve/103.conf"
s103=$(sha "$pve/103.conf")
run --sysroot "$h" --json unhook 101 102 103
eq "a failed CT: exit 1" "$rc" "1"
eq "results per CT" "$(jqr '[.results[] | .ct + "=" + .result] | join(" ")')" "101=no-hook 102=unhooked 103=failed"
eq "102's removed line" "$(jqr '.results[1].removed | join("|")')" "$mnt"
contains "103: why" "$(jqr '.results[2].message')" "locked"
eq "changed, not a dry run" "$(jqr '"\(.schema) \(.changed) \(.dry_run)"')" "1 true false"
unchanged "the locked CT is untouched" "$pve/103.conf" "$s103"
run --sysroot "$h" unhook 103
eq "text: one error line for the locked CT" "$rc-$(one_line_error && echo 1)" "1-1"
contains "it names the CT" "$err" "lxgpu: unhook 103: "
done_testing
