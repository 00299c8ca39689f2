# shellcheck shell=bash
# Helpers for the GPU-machine scenarios (tests/gpu/*.sh): TAP lines, and real
# LXC containers through tests/gpu/lxc.sh.
# Every scenario runs as root inside one private mount namespace:
#   unshare -m --propagation private bash tests/gpu/run.sh
set -u
LXGPU=${LXGPU:-.carry/build/lxgpu}
GPULXC=${GPULXC:-tests/gpu/lxc.sh}
PY=${PY:-/opt/torch/.venv/bin/python3}
# shellcheck source=../tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
expect() { # DESC CMD...: passes when CMD succeeds; shows its output
	local desc=$1 out; shift
	if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc"; fi
	printf '%s\n' "$out" | sed 's/^/#   /'
}
refuse() { # DESC CMD...: passes when CMD fails; shows its output
	local desc=$1 out; shift
	if out=$("$@" 2>&1); then not_ok "$desc"; else ok "$desc"; fi
	printf '%s\n' "$out" | sed 's/^/#   /'
}
say() { echo "# $*"; }
# The CUDA proof: a 4096x4096 matrix product on the GPU, checked against the CPU.
MATMUL='import torch
a = torch.randn(4096, 4096, device="cuda")
b = torch.randn(4096, 4096, device="cuda")
c = a @ b
torch.cuda.synchronize()
err = (c.cpu() - a.cpu() @ b.cpu()).abs().max().item()
print(f"matmul 4096x4096 on {torch.cuda.get_device_name(0)}: max error vs CPU {err:.2e}")
assert err < 1e-1'
matmul() { "$GPULXC" exec "$1" -- "$PY" -c "$MATMUL"; }
smi() { "$GPULXC" exec "$1" -- nvidia-smi -L; }
