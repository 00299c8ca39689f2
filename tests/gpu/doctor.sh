#!/bin/bash
# tests/gpu/doctor.sh: on the GPU machine, `lxgpu doctor CT` on a healthy real
# container reports no ✗ and its CUDA call inside succeeds; with the
# container's device rules removed it reports the failure and the fix; after
# the fix it is healthy again.
. "$(dirname "$0")/lib.sh"

ct=lxgpu-doctor
"$GPULXC" destroy "$ct" >/dev/null 2>&1
conf=$("$GPULXC" create "$ct" hostro)
expect "lxgpu attach" "$LXGPU" attach "$ct"
expect "container starts" "$GPULXC" start "$ct"
expect "healthy: lxgpu doctor $ct exits 0 (no ✗)" "$LXGPU" doctor "$ct"
out=$("$LXGPU" doctor "$ct" --json)
if jq -e '.containers[0].checks[] | select(.id == "cuda" and .status == "ok")' <<<"$out" >/dev/null; then
	ok "healthy: the CUDA call inside succeeds"
else
	not_ok "healthy: the CUDA call inside succeeds"
fi
"$GPULXC" stop "$ct" >/dev/null

# the container without its device rules: what people get from a half-copied guide
sed -i '/^lxc.cgroup2.devices.allow = c \(195\|[0-9]*\):[0-9]* rwm$/{/c 1:\|c 5:\|c 136:/!d}' "$conf"
say "rules left: $(grep -c 'devices.allow' "$conf") (the container's own: 1:3 1:5 ...)"
expect "no rules: container starts" "$GPULXC" start "$ct"
out=$("$LXGPU" doctor "$ct" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
if [ "$rc" = 3 ]; then ok "no rules: doctor exits 3"; else not_ok "no rules: doctor exits $rc, want 3"; fi
case $out in *"✗"*"EPERM"*"fix: lxgpu sync $ct"*) ok "no rules: names the failure and the fix" ;; *) not_ok "no rules: names the failure and the fix" ;; esac
case $out in *"✗ inside:"*) ok "no rules: the probe inside fails" ;; *) not_ok "no rules: the probe inside fails" ;; esac
"$GPULXC" stop "$ct" >/dev/null

expect "the fix: lxgpu sync $ct" "$LXGPU" sync "$ct"
expect "fixed: container starts" "$GPULXC" start "$ct"
expect "fixed: lxgpu doctor $ct exits 0" "$LXGPU" doctor "$ct"
expect "fixed: CUDA matmul runs" matmul "$ct"
"$GPULXC" stop "$ct" >/dev/null
"$GPULXC" destroy "$ct" >/dev/null
done_testing
