/* hosts: the test hosts of the property tests (see host.h). Numbers follow
 * tests/hosts/h100-580.159.04.spec, two-fake-gpus.spec,
 * intel-nvidia-laptop.spec and amd-mi300x.spec; the twins move what a kernel
 * or driver update moves: nvidia-uvm, nvidia-caps and kfd get new dynamic
 * majors, NVIDIA minors and DRI card numbers follow probe order. */
#include "host.h"

#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define H100_UUID "GPU-14d254be-3087-0aa8-a7aa-03759525cf2f"
#define GPU_A     "GPU-fa4e0000-0000-4000-8000-000000000000"
#define GPU_B     "GPU-fa4e0000-0000-4000-8000-000000000001"
#define RTX_UUID  "GPU-5f2e7c1a-9b3d-4e8f-a6c2-1d0b9e8f7a65"

/* What every host has besides GPUs: the devices admins pass next to one. */
static const struct host_node common_nodes[] = {
	{ "/dev/net/tun", 'c', 10, 200, 0666, 0, -1, NULL },
	{ "/dev/fuse", 'c', 10, 229, 0666, 0, -1, NULL },
	{ "/dev/ttyS0", 'c', 4, 64, 0660, 20, -1, NULL },
	{ "/dev/ttyUSB0", 'c', 188, 0, 0660, 20, -1, NULL },
	{ "/dev/bus/usb/001/001", 'c', 189, 0, 0664, 0, -1, NULL },
	{ "/dev/bus/usb/002/003", 'c', 189, 130, 0664, 0, -1, NULL },
	{ "/dev/apex_0", 'c', 120, 0, 0660, 0, -1, NULL },         /* Coral TPU */
	{ "/dev/accel/accel0", 'c', 261, 0, 0660, 104, -1, NULL }, /* an NPU */
};

static const struct host_major common_majors[] = {
	{ 1, "mem" },         { 4, "/dev/vc/0" },    { 4, "tty" },        { 4, "ttyS" },
	{ 5, "/dev/tty" },    { 5, "/dev/console" }, { 5, "/dev/ptmx" },  { 7, "vcs" },
	{ 10, "misc" },       { 13, "input" },       { 120, "apex" },     { 128, "ptm" },
	{ 136, "pts" },       { 180, "usb" },        { 188, "ttyUSB" },   { 189, "usb_device" },
	{ 203, "cpu/cpuid" }, { 248, "bsg" },        { 249, "watchdog" }, { 250, "ptp" },
	{ 251, "pps" },       { 252, "dax" },        { 253, "dimmctl" },  { 254, "ndctl" },
	{ 261, "accel" },
};

/* == one H100 (the capture): no DRM driver, MIG capability nodes 241:1/2 */
static const struct host_gpu h100_gpus[] = {
	{ HOST_NVIDIA, H100_UUID, "0000:00:06.0", 0, NULL, NULL },
};
static const struct host_node h100_nodes[] = {
	{ "/dev/nvidia0", 'c', 195, 0, 0666, 0, 0, NULL },
	{ "/dev/nvidiactl", 'c', 195, 255, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm", 'c', 238, 0, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm-tools", 'c', 238, 1, 0666, 0, -1, NULL },
	{ "/dev/nvidia-caps/nvidia-cap1", 'c', 241, 1, 0400, 0, -1, NULL },
	{ "/dev/nvidia-caps/nvidia-cap2", 'c', 241, 2, 0444, 0, -1, NULL },
};
static const struct host_major h100_majors[] = {
	{ 195, "nvidia" },
	{ 195, "nvidiactl" },
	{ 238, "nvidia-uvm" },
	{ 239, "nvidia-nvswitch" },
	{ 240, "nvidia-nvlink" },
	{ 241, "nvidia-caps" },
	{ 242, "nvidia-caps-imex-channels" },
};
/* after an update: nvidia-uvm on 509, nvidia-caps on 508 (the guide's) */
static const struct host_node h100_after_nodes[] = {
	{ "/dev/nvidia0", 'c', 195, 0, 0666, 0, 0, NULL },
	{ "/dev/nvidiactl", 'c', 195, 255, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm", 'c', 509, 0, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm-tools", 'c', 509, 1, 0666, 0, -1, NULL },
	{ "/dev/nvidia-caps/nvidia-cap1", 'c', 508, 1, 0400, 0, -1, NULL },
	{ "/dev/nvidia-caps/nvidia-cap2", 'c', 508, 2, 0444, 0, -1, NULL },
};
static const struct host_major h100_after_majors[] = {
	{ 195, "nvidia" },
	{ 195, "nvidiactl" },
	{ 239, "nvidia-nvswitch" },
	{ 240, "nvidia-nvlink" },
	{ 242, "nvidia-caps-imex-channels" },
	{ 508, "nvidia-caps" },
	{ 509, "nvidia-uvm" },
};

/* == two NVIDIA GPUs; after the update they swap minors, keeping UUIDs */
static const struct host_gpu two_gpus[] = {
	{ HOST_NVIDIA, GPU_A, "0000:00:06.0", 0, NULL, NULL },
	{ HOST_NVIDIA, GPU_B, "0000:00:07.0", 1, NULL, NULL },
};
static const struct host_gpu two_after_gpus[] = {
	{ HOST_NVIDIA, GPU_A, "0000:00:06.0", 1, NULL, NULL },
	{ HOST_NVIDIA, GPU_B, "0000:00:07.0", 0, NULL, NULL },
};
static const struct host_node two_nodes[] = {
	{ "/dev/nvidia0", 'c', 195, 0, 0666, 0, 0, NULL },
	{ "/dev/nvidia1", 'c', 195, 1, 0666, 0, 1, NULL },
	{ "/dev/nvidiactl", 'c', 195, 255, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm", 'c', 238, 0, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm-tools", 'c', 238, 1, 0666, 0, -1, NULL },
	{ "/dev/nvidia-caps/nvidia-cap1", 'c', 241, 1, 0400, 0, -1, NULL },
	{ "/dev/nvidia-caps/nvidia-cap2", 'c', 241, 2, 0444, 0, -1, NULL },
};
static const struct host_major two_majors[] = {
	{ 195, "nvidia" },
	{ 195, "nvidiactl" },
	{ 238, "nvidia-uvm" },
	{ 241, "nvidia-caps" },
};
static const struct host_node two_after_nodes[] = {
	{ "/dev/nvidia0", 'c', 195, 0, 0666, 0, 1, NULL },
	{ "/dev/nvidia1", 'c', 195, 1, 0666, 0, 0, NULL },
	{ "/dev/nvidiactl", 'c', 195, 255, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm", 'c', 237, 0, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm-tools", 'c', 237, 1, 0666, 0, -1, NULL },
	{ "/dev/nvidia-caps/nvidia-cap1", 'c', 236, 1, 0400, 0, -1, NULL },
	{ "/dev/nvidia-caps/nvidia-cap2", 'c', 236, 2, 0444, 0, -1, NULL },
};
static const struct host_major two_after_majors[] = {
	{ 195, "nvidia" },
	{ 195, "nvidiactl" },
	{ 236, "nvidia-caps" },
	{ 237, "nvidia-uvm" },
};

/* == Intel iGPU (00:02.0) + NVIDIA (01:00.0) with nvidia-drm: the iGPU is
 * card0/renderD128, NVIDIA card1/renderD129 and nvidia-modeset; after the
 * update the cards come up the other way round and nvidia-uvm is on 511. */
static const struct host_gpu idrm_gpus[] = {
	{ HOST_INTEL, NULL, "0000:00:02.0", -1, "/dev/dri/card0", "/dev/dri/renderD128" },
	{ HOST_NVIDIA, RTX_UUID, "0000:01:00.0", 0, "/dev/dri/card1", "/dev/dri/renderD129" },
};
static const struct host_gpu idrm_after_gpus[] = {
	{ HOST_INTEL, NULL, "0000:00:02.0", -1, "/dev/dri/card1", "/dev/dri/renderD129" },
	{ HOST_NVIDIA, RTX_UUID, "0000:01:00.0", 0, "/dev/dri/card0", "/dev/dri/renderD128" },
};
static const struct host_node idrm_nodes[] = {
	{ "/dev/dri/card0", 'c', 226, 0, 0660, 44, 0, NULL },
	{ "/dev/dri/renderD128", 'c', 226, 128, 0660, 104, 0, NULL },
	{ "/dev/dri/card1", 'c', 226, 1, 0660, 44, 1, NULL },
	{ "/dev/dri/renderD129", 'c', 226, 129, 0660, 104, 1, NULL },
	{ "/dev/dri/by-path/pci-0000:00:02.0-card", 'l', 0, 0, 0, 0, 0, "/dev/dri/card0" },
	{ "/dev/dri/by-path/pci-0000:00:02.0-render", 'l', 0, 0, 0, 0, 0, "/dev/dri/renderD128" },
	{ "/dev/dri/by-path/pci-0000:01:00.0-card", 'l', 0, 0, 0, 0, 1, "/dev/dri/card1" },
	{ "/dev/dri/by-path/pci-0000:01:00.0-render", 'l', 0, 0, 0, 0, 1, "/dev/dri/renderD129" },
	{ "/dev/nvidia0", 'c', 195, 0, 0666, 0, 1, NULL },
	{ "/dev/nvidiactl", 'c', 195, 255, 0666, 0, -1, NULL },
	{ "/dev/nvidia-modeset", 'c', 195, 254, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm", 'c', 508, 0, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm-tools", 'c', 508, 1, 0666, 0, -1, NULL },
};
static const struct host_major idrm_majors[] = {
	{ 195, "nvidia" },     { 195, "nvidiactl" },   { 226, "drm" },
	{ 508, "nvidia-uvm" }, { 509, "nvidia-caps" },
};
static const struct host_node idrm_after_nodes[] = {
	{ "/dev/dri/card0", 'c', 226, 0, 0660, 44, 1, NULL },
	{ "/dev/dri/renderD128", 'c', 226, 128, 0660, 104, 1, NULL },
	{ "/dev/dri/card1", 'c', 226, 1, 0660, 44, 0, NULL },
	{ "/dev/dri/renderD129", 'c', 226, 129, 0660, 104, 0, NULL },
	{ "/dev/dri/by-path/pci-0000:00:02.0-card", 'l', 0, 0, 0, 0, 0, "/dev/dri/card1" },
	{ "/dev/dri/by-path/pci-0000:00:02.0-render", 'l', 0, 0, 0, 0, 0, "/dev/dri/renderD129" },
	{ "/dev/dri/by-path/pci-0000:01:00.0-card", 'l', 0, 0, 0, 0, 1, "/dev/dri/card0" },
	{ "/dev/dri/by-path/pci-0000:01:00.0-render", 'l', 0, 0, 0, 0, 1, "/dev/dri/renderD128" },
	{ "/dev/nvidia0", 'c', 195, 0, 0666, 0, 1, NULL },
	{ "/dev/nvidiactl", 'c', 195, 255, 0666, 0, -1, NULL },
	{ "/dev/nvidia-modeset", 'c', 195, 254, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm", 'c', 511, 0, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm-tools", 'c', 511, 1, 0666, 0, -1, NULL },
};
static const struct host_major idrm_after_majors[] = {
	{ 195, "nvidia" },      { 195, "nvidiactl" },  { 226, "drm" },
	{ 510, "nvidia-caps" }, { 511, "nvidia-uvm" },
};

/* == the same without nvidia-drm: NVIDIA has no DRI node; after the update
 * simpledrm takes card0 and the iGPU becomes card1 */
static const struct host_gpu iplain_gpus[] = {
	{ HOST_INTEL, NULL, "0000:00:02.0", -1, "/dev/dri/card0", "/dev/dri/renderD128" },
	{ HOST_NVIDIA, RTX_UUID, "0000:01:00.0", 0, NULL, NULL },
};
static const struct host_gpu iplain_after_gpus[] = {
	{ HOST_INTEL, NULL, "0000:00:02.0", -1, "/dev/dri/card1", "/dev/dri/renderD128" },
	{ HOST_NVIDIA, RTX_UUID, "0000:01:00.0", 0, NULL, NULL },
};
static const struct host_node iplain_nodes[] = {
	{ "/dev/dri/card0", 'c', 226, 0, 0660, 44, 0, NULL },
	{ "/dev/dri/renderD128", 'c', 226, 128, 0660, 104, 0, NULL },
	{ "/dev/dri/by-path/pci-0000:00:02.0-card", 'l', 0, 0, 0, 0, 0, "/dev/dri/card0" },
	{ "/dev/dri/by-path/pci-0000:00:02.0-render", 'l', 0, 0, 0, 0, 0, "/dev/dri/renderD128" },
	{ "/dev/nvidia0", 'c', 195, 0, 0666, 0, 1, NULL },
	{ "/dev/nvidiactl", 'c', 195, 255, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm", 'c', 238, 0, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm-tools", 'c', 238, 1, 0666, 0, -1, NULL },
};
static const struct host_major iplain_majors[] = {
	{ 195, "nvidia" },     { 195, "nvidiactl" },   { 226, "drm" },
	{ 238, "nvidia-uvm" }, { 241, "nvidia-caps" },
};
static const struct host_node iplain_after_nodes[] = {
	{ "/dev/dri/card0", 'c', 226, 0, 0660, 44, -1, NULL }, /* simpledrm */
	{ "/dev/dri/card1", 'c', 226, 1, 0660, 44, 0, NULL },
	{ "/dev/dri/renderD128", 'c', 226, 128, 0660, 104, 0, NULL },
	{ "/dev/dri/by-path/pci-0000:00:02.0-card", 'l', 0, 0, 0, 0, 0, "/dev/dri/card1" },
	{ "/dev/dri/by-path/pci-0000:00:02.0-render", 'l', 0, 0, 0, 0, 0, "/dev/dri/renderD128" },
	{ "/dev/nvidia0", 'c', 195, 0, 0666, 0, 1, NULL },
	{ "/dev/nvidiactl", 'c', 195, 255, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm", 'c', 237, 0, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm-tools", 'c', 237, 1, 0666, 0, -1, NULL },
};
static const struct host_major iplain_after_majors[] = {
	{ 195, "nvidia" },      { 195, "nvidiactl" },  { 226, "drm" },
	{ 236, "nvidia-caps" }, { 237, "nvidia-uvm" },
};

/* == NVIDIA (01:00.0) + AMD (03:00.0) next to a BMC's card0; kfd on 234 */
static const struct host_gpu amd_gpus[] = {
	{ HOST_NVIDIA, RTX_UUID, "0000:01:00.0", 0, NULL, NULL },
	{ HOST_AMD, NULL, "0000:03:00.0", -1, "/dev/dri/card1", "/dev/dri/renderD128" },
};
static const struct host_gpu amd_after_gpus[] = {
	{ HOST_NVIDIA, RTX_UUID, "0000:01:00.0", 0, NULL, NULL },
	{ HOST_AMD, NULL, "0000:03:00.0", -1, "/dev/dri/card2", "/dev/dri/renderD129" },
};
static const struct host_node amd_nodes[] = {
	{ "/dev/dri/card0", 'c', 226, 0, 0660, 44, -1, NULL }, /* the BMC's display */
	{ "/dev/dri/card1", 'c', 226, 1, 0660, 44, 1, NULL },
	{ "/dev/dri/renderD128", 'c', 226, 128, 0660, 104, 1, NULL },
	{ "/dev/dri/by-path/pci-0000:03:00.0-card", 'l', 0, 0, 0, 0, 1, "/dev/dri/card1" },
	{ "/dev/dri/by-path/pci-0000:03:00.0-render", 'l', 0, 0, 0, 0, 1, "/dev/dri/renderD128" },
	{ "/dev/kfd", 'c', 234, 0, 0660, 104, -1, NULL },
	{ "/dev/nvidia0", 'c', 195, 0, 0666, 0, 0, NULL },
	{ "/dev/nvidiactl", 'c', 195, 255, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm", 'c', 238, 0, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm-tools", 'c', 238, 1, 0666, 0, -1, NULL },
};
static const struct host_major amd_majors[] = {
	{ 195, "nvidia" }, { 195, "nvidiactl" },  { 226, "drm" },
	{ 234, "kfd" },    { 238, "nvidia-uvm" }, { 241, "nvidia-caps" },
};
static const struct host_node amd_after_nodes[] = {
	{ "/dev/dri/card0", 'c', 226, 0, 0660, 44, -1, NULL },
	{ "/dev/dri/card2", 'c', 226, 2, 0660, 44, 1, NULL },
	{ "/dev/dri/renderD129", 'c', 226, 129, 0660, 104, 1, NULL },
	{ "/dev/dri/by-path/pci-0000:03:00.0-card", 'l', 0, 0, 0, 0, 1, "/dev/dri/card2" },
	{ "/dev/dri/by-path/pci-0000:03:00.0-render", 'l', 0, 0, 0, 0, 1, "/dev/dri/renderD129" },
	{ "/dev/kfd", 'c', 235, 0, 0660, 104, -1, NULL },
	{ "/dev/nvidia0", 'c', 195, 0, 0666, 0, 0, NULL },
	{ "/dev/nvidiactl", 'c', 195, 255, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm", 'c', 509, 0, 0666, 0, -1, NULL },
	{ "/dev/nvidia-uvm-tools", 'c', 509, 1, 0666, 0, -1, NULL },
};
static const struct host_major amd_after_majors[] = {
	{ 195, "nvidia" }, { 195, "nvidiactl" },   { 226, "drm" },
	{ 235, "kfd" },    { 508, "nvidia-caps" }, { 509, "nvidia-uvm" },
};

#define HOST(var, label, g, n, m, tw)                                                              \
	static const struct test_host var = { label, g, N(g), n, N(n), m, N(m), tw }

HOST(h100_after, "h100-after", h100_gpus, h100_after_nodes, h100_after_majors, NULL);
HOST(h100, "h100", h100_gpus, h100_nodes, h100_majors, &h100_after);
HOST(two_after, "two-nvidia-after", two_after_gpus, two_after_nodes, two_after_majors, NULL);
HOST(two, "two-nvidia", two_gpus, two_nodes, two_majors, &two_after);
HOST(idrm_after, "intel-nvidia-drm-after", idrm_after_gpus, idrm_after_nodes, idrm_after_majors,
     NULL);
HOST(idrm, "intel-nvidia-drm", idrm_gpus, idrm_nodes, idrm_majors, &idrm_after);
HOST(iplain_after, "intel-nvidia-after", iplain_after_gpus, iplain_after_nodes, iplain_after_majors,
     NULL);
HOST(iplain, "intel-nvidia", iplain_gpus, iplain_nodes, iplain_majors, &iplain_after);
HOST(amd_after, "nvidia-amd-after", amd_after_gpus, amd_after_nodes, amd_after_majors, NULL);
HOST(amd, "nvidia-amd", amd_gpus, amd_nodes, amd_majors, &amd_after);

const struct test_host *const test_hosts[] = { &h100, &two, &idrm, &iplain, &amd };
const size_t ntest_hosts = N(test_hosts);

const struct test_host *host_named(const char *name)
{
	for (size_t i = 0; i < ntest_hosts; i++) {
		if (strcmp(test_hosts[i]->name, name) == 0)
			return test_hosts[i];
		if (strcmp(test_hosts[i]->twin->name, name) == 0)
			return test_hosts[i]->twin;
	}
	return NULL;
}

size_t host_nnodes(const struct test_host *h)
{
	return h->nnodes + N(common_nodes);
}

const struct host_node *host_node(const struct test_host *h, size_t i)
{
	return i < h->nnodes ? &h->nodes[i] : &common_nodes[i - h->nnodes];
}

const struct host_node *host_node_at(const struct test_host *h, const char *path)
{
	/* a link to a link is not in any host: one step is enough */
	for (int hops = 0; hops < 2; hops++) {
		const struct host_node *found = NULL;
		for (size_t i = 0; i < host_nnodes(h) && !found; i++)
			if (strcmp(host_node(h, i)->path, path) == 0)
				found = host_node(h, i);
		if (!found || found->type == 'c')
			return found;
		path = found->link;
	}
	return NULL;
}

size_t host_nmajors(const struct test_host *h)
{
	return N(common_majors) + h->nmajors;
}

const struct host_major *host_major(const struct test_host *h, size_t i)
{
	return i < N(common_majors) ? &common_majors[i] : &h->majors[i - N(common_majors)];
}

const char *host_major_name(const struct test_host *h, unsigned major)
{
	for (size_t i = 0; i < host_nmajors(h); i++)
		if (host_major(h, i)->major == major)
			return host_major(h, i)->name;
	return NULL;
}
