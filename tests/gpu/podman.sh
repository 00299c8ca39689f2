#!/bin/bash
# tests/gpu/podman.sh: podman inside an LXC container, with the GPU through
# the CDI spec `lxgpu driver CT --docker` (`lxgpu cdi CT`) writes. The LXC container (tests/gpu/lxc.sh
# "overlay": no NVIDIA user-space inside) gets the GPU (attach) and the host's
# driver (--mode bind); podman 4.3 (Debian 12's, carried as .debs and
# unpacked into /opt/podman inside) runs an image built there from a
# directory (no registry is reachable), with --device nvidia.com/gpu=all,
# =<uuid> and =0: nvidia-smi -L and a CUDA call (memory set and read back on
# the GPU) inside the nested container; without --device, no GPU.
#
# The .debs (about 12 MB), fetched where Debian's registry is reachable:
#   apt-get download podman conmon crun golang-github-containers-common \
#     golang-github-containers-image libgpgme11 libassuan0 \
#     libdevmapper1.02.1 libsubid4 libyajl2 libglib2.0-0 libffi8 \
#     libpcre2-8-0 libseccomp2
# (conmon needs GLib, which a GPU host's root need not have)
# into $PODMAN_DEBS (default .carry/podman-debs).
. "$(dirname "$0")/lib.sh"

debs=${PODMAN_DEBS:-.carry/podman-debs}
ls "$debs"/podman_*.deb >/dev/null 2>&1 || { echo "1..0 # SKIP no podman .debs in $debs"; exit 0; }
ct=lxgpu-podman
root=/var/lib/lxc/$ct/rootfs
uuid=$(nvidia-smi --query-gpu=uuid --format=csv,noheader | head -n 1)

# what podman inside LXC needs: a /dev/shm, mknod rights (crun makes the
# nodes CDI names), and cgroup2 mounted writable for the nested container
frag=$(mktemp)
cat >"$frag" <<'CFG'
lxc.mount.entry = tmpfs dev/shm tmpfs rw,nosuid,nodev,create=dir 0 0
lxc.mount.auto = cgroup:rw:force
lxc.cgroup2.devices.allow = c *:* m
lxc.cgroup2.devices.allow = b *:* m
lxc.cgroup2.devices.allow = c 10:200 rwm
CFG
"$GPULXC" destroy "$ct" >/dev/null 2>&1
"$GPULXC" create "$ct" overlay "$frag" >/dev/null
rm -f "$frag"
expect "attach" "$LXGPU" attach "$ct" --quiet
expect "driver --mode bind" "$LXGPU" driver "$ct" --mode bind --quiet

# podman and what it needs, unpacked into /opt/podman of the container's
# rootfs; wrappers find the carried libraries; configs in /etc/containers
mkdir -p "$root/opt/podman/bin" "$root/etc/containers"
for d in "$debs"/*.deb; do dpkg -x "$d" "$root/opt/podman" || not_ok "unpack $d"; done
libs=/opt/podman/usr/lib/x86_64-linux-gnu:/opt/podman/lib/x86_64-linux-gnu
for b in podman conmon crun; do
	printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec /opt/podman/usr/bin/%s "$@"\n' "$libs" "$b" >"$root/opt/podman/bin/$b"
	chmod 755 "$root/opt/podman/bin/$b"
done
mkdir -p "$root/usr/local/bin"
ln -sf /opt/podman/bin/podman "$root/usr/local/bin/podman"
cat >"$root/etc/containers/containers.conf" <<'CONF'
[containers]
netns = "none"
[engine]
conmon_path = ["/opt/podman/bin/conmon"]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
[engine.runtimes]
crun = ["/opt/podman/bin/crun"]
CONF
printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
	>"$root/etc/containers/storage.conf"
echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$root/etc/containers/policy.json"

expect "container starts (the hook binds the driver)" "$GPULXC" start "$ct"
missing=$("$GPULXC" exec "$ct" -- sh -c "for b in podman conmon crun; do LD_LIBRARY_PATH=$libs ldd /opt/podman/usr/bin/\$b | sed -n \"s|^|\$b: |; /not found/p\"; done")
eq "podman, conmon and crun find every library they need" "$missing" ""
expect "lxgpu driver CT --docker (podman there) writes /etc/cdi/lxgpu-nvidia.json" "$LXGPU" driver "$ct" --docker
expect "lxgpu cdi CT: the same spec, no change" sh -c "'$LXGPU' cdi '$ct' | grep -F 'no change'"
say "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("spec:", d["cdiVersion"], d["kind"], [x["name"] for x in d["devices"]], "annotations" in d)' \
	"$root/etc/cdi/lxgpu-nvidia.json")"
expect "podman runs inside" "$GPULXC" exec "$ct" -- /opt/podman/bin/podman --version

# the image: python3 and the libraries of the container, from a directory,
# without NVIDIA's files (CDI brings those)
expect "image built from a directory (podman import)" "$GPULXC" exec "$ct" -- sh -c '
	set -e
	rm -rf /tmp/img && mkdir -p /tmp/img/tmp /tmp/img/dev /tmp/img/proc /tmp/img/sys
	cd / && tar -c --exclude="*nvidia*" --exclude="libcuda*" --exclude="*/python3*/test" \
		usr/bin/python3* usr/bin/sh usr/bin/dash usr/bin/ls usr/bin/true usr/lib/python3* \
		usr/lib/x86_64-linux-gnu usr/lib64 lib lib64 bin etc/ld.so.cache 2>/dev/null |
		tar -C /tmp/img -x
	tar -C /tmp/img -c . | /opt/podman/bin/podman import - localhost/cudapy:test >/dev/null
	/opt/podman/bin/podman images --format "{{.Repository}}:{{.Tag}} {{.Size}}"'

CUDA='import ctypes, sys
cu = ctypes.CDLL("libcuda.so.1")
u64, sz = ctypes.c_uint64, ctypes.c_size_t
cu.cuMemAlloc_v2.argtypes = [ctypes.POINTER(u64), sz]
cu.cuMemsetD32_v2.argtypes = [u64, ctypes.c_uint, sz]
cu.cuMemcpyDtoH_v2.argtypes = [ctypes.c_void_p, u64, sz]
def ck(r, what):
    if r != 0:
        sys.exit(f"{what}: CUDA error {r}")
ck(cu.cuInit(0), "cuInit")
n, dev = ctypes.c_int(), ctypes.c_int()
ck(cu.cuDeviceGetCount(ctypes.byref(n)), "cuDeviceGetCount")
ck(cu.cuDeviceGet(ctypes.byref(dev), 0), "cuDeviceGet")
name = ctypes.create_string_buffer(128)
ck(cu.cuDeviceGetName(name, 128, dev), "cuDeviceGetName")
ctx = ctypes.c_void_p()
ck(cu.cuCtxCreate_v2(ctypes.byref(ctx), 0, dev), "cuCtxCreate")
N = 1 << 20
p = u64()
ck(cu.cuMemAlloc_v2(ctypes.byref(p), 4 * N), "cuMemAlloc")
ck(cu.cuMemsetD32_v2(p, 0x2A2A2A2A, N), "cuMemsetD32")
buf = (ctypes.c_uint32 * N)()
ck(cu.cuMemcpyDtoH_v2(buf, p, 4 * N), "cuMemcpyDtoH")
assert all(x == 0x2A2A2A2A for x in buf), "the bytes read back differ"
print(f"CUDA: {n.value} device(s), {name.value.decode()}: 4 MiB set on the GPU and read back")'

# prun ARGS...: podman run in the LXC container; PODMAN_CGROUPS=disabled when
# the nested container cannot have a cgroup of its own there
cg=()
prun() { "$GPULXC" exec "$ct" -- /opt/podman/bin/podman run --rm "${cg[@]}" "$@"; }
if ! prun --device nvidia.com/gpu=all localhost/cudapy:test true >/dev/null 2>&1; then
	cg=(--cgroups=disabled)
	say "podman run needs --cgroups=disabled here: $(prun --device nvidia.com/gpu=all localhost/cudapy:test true 2>&1 | grep -v "^$" | tail -n 2 | tr "\n" " ")"
fi
expect "podman --device nvidia.com/gpu=all: nvidia-smi -L in the nested container" \
	prun --device nvidia.com/gpu=all localhost/cudapy:test nvidia-smi -L
expect "podman --device nvidia.com/gpu=$uuid: nvidia-smi -L" \
	prun --device "nvidia.com/gpu=$uuid" localhost/cudapy:test nvidia-smi -L
expect "podman --device nvidia.com/gpu=0: nvidia-smi -L" \
	prun --device nvidia.com/gpu=0 localhost/cudapy:test nvidia-smi -L
expect "podman --device nvidia.com/gpu=all: a CUDA call in the nested container" \
	prun --device nvidia.com/gpu=all localhost/cudapy:test python3 -c "$CUDA"
refuse "podman without --device: no GPU in the nested container" \
	prun localhost/cudapy:test sh -c 'ls /dev/nvidia0 && nvidia-smi -L'
refuse "podman --device nvidia.com/gpu=GPU-00000000-0000-0000-0000-000000000000: unresolvable" \
	prun --device nvidia.com/gpu=GPU-00000000-0000-0000-0000-000000000000 localhost/cudapy:test true
"$GPULXC" stop "$ct" >/dev/null
"$GPULXC" destroy "$ct" >/dev/null
done_testing
