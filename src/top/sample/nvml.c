/* nvml: NVIDIA's NVML through dlopen (nvml.h of this folder). The types are
 * declared here, only those used, with the layout of NVML's public header
 * nvml.h (CUDA 12.x; unchanged since the _v3 process calls of driver 510):
 * nvmlReturn_t is an enum (an int), nvmlDevice_t an opaque pointer, and the
 * structs below member for member; the static asserts pin their x86-64 and
 * aarch64 layout. */
#include "top/sample/nvml.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/procfs.h"
#include "top/top.h"
#include "util/xalloc.h"

typedef int nvml_return;                 /* nvmlReturn_t */
typedef struct nvml_device *nvml_device; /* nvmlDevice_t */
enum {
	NVML_OK = 0,                /* NVML_SUCCESS */
	NVML_NOT_SUPPORTED = 3,     /* NVML_ERROR_NOT_SUPPORTED */
	NVML_NOT_FOUND = 6,         /* NVML_ERROR_NOT_FOUND */
	NVML_INSUFFICIENT_SIZE = 7, /* NVML_ERROR_INSUFFICIENT_SIZE */
};
#define NVML_NAME_SIZE               96      /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */
#define NVML_UUID_SIZE               96      /* NVML_DEVICE_UUID_V2_BUFFER_SIZE */
#define NVML_VALUE_NOT_AVAILABLE_ULL (~0ull) /* NVML_VALUE_NOT_AVAILABLE in usedGpuMemory */

struct nvml_memory { /* nvmlMemory_t (v1) */
	unsigned long long total, free, used;
};
struct nvml_utilization { /* nvmlUtilization_t */
	unsigned int gpu, memory;
};
struct nvml_pci_info { /* nvmlPciInfo_t */
	char bus_id_legacy[16];
	unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
	char bus_id[32];
};
struct nvml_process_info { /* nvmlProcessInfo_t (nvmlProcessInfo_v2_t) */
	unsigned int pid;
	unsigned long long used_gpu_memory;
	unsigned int gpu_instance_id, compute_instance_id;
};
struct nvml_process_sample { /* nvmlProcessUtilizationSample_t */
	unsigned int pid;
	unsigned long long timestamp; /* CPU time, microseconds */
	unsigned int sm_util, mem_util, enc_util, dec_util;
};
_Static_assert(sizeof(struct nvml_memory) == 24, "nvmlMemory_t");
_Static_assert(sizeof(struct nvml_pci_info) == 68, "nvmlPciInfo_t");
_Static_assert(offsetof(struct nvml_pci_info, bus_id) == 36, "nvmlPciInfo_t.busId");
_Static_assert(sizeof(struct nvml_process_info) == 24, "nvmlProcessInfo_t");
_Static_assert(offsetof(struct nvml_process_info, used_gpu_memory) == 8, "usedGpuMemory");
_Static_assert(sizeof(struct nvml_process_sample) == 32, "nvmlProcessUtilizationSample_t");
_Static_assert(offsetof(struct nvml_process_sample, sm_util) == 16, "smUtil");

struct nvml_api {
	nvml_return (*init)(void);
	nvml_return (*shutdown)(void);
	const char *(*error_string)(nvml_return);
	nvml_return (*count)(unsigned int *);
	nvml_return (*by_index)(unsigned int, nvml_device *);
	nvml_return (*name)(nvml_device, char *, unsigned int);
	nvml_return (*uuid)(nvml_device, char *, unsigned int);
	nvml_return (*pci)(nvml_device, struct nvml_pci_info *);
	nvml_return (*memory)(nvml_device, struct nvml_memory *);
	nvml_return (*utilization)(nvml_device, struct nvml_utilization *);
	nvml_return (*encoder)(nvml_device, unsigned int *, unsigned int *);
	nvml_return (*decoder)(nvml_device, unsigned int *, unsigned int *);
	nvml_return (*compute)(nvml_device, unsigned int *, struct nvml_process_info *);
	nvml_return (*graphics)(nvml_device, unsigned int *, struct nvml_process_info *);
	nvml_return (*process_util)(nvml_device, struct nvml_process_sample *, unsigned int *,
				    unsigned long long);
};

struct nvml {
	void *lib;
	struct nvml_api api;
	bool initialised;
	size_t n;
	nvml_device *devs;
	struct nvml_gpu *info;
	unsigned long long *last_seen; /* per GPU: the newest utilisation sample read */
	struct nvml_process_info *pbuf;
	struct nvml_process_sample *sbuf;
	unsigned pcap, scap;
};

/* The functions lxgpu calls; the optional ones may be missing (older
 * drivers): their figure is then unknown. */
static const struct {
	const char *name;
	size_t offset;
	bool required;
} symbols[] = {
	{ "nvmlInit_v2", offsetof(struct nvml_api, init), true },
	{ "nvmlShutdown", offsetof(struct nvml_api, shutdown), true },
	{ "nvmlErrorString", offsetof(struct nvml_api, error_string), false },
	{ "nvmlDeviceGetCount_v2", offsetof(struct nvml_api, count), true },
	{ "nvmlDeviceGetHandleByIndex_v2", offsetof(struct nvml_api, by_index), true },
	{ "nvmlDeviceGetName", offsetof(struct nvml_api, name), true },
	{ "nvmlDeviceGetUUID", offsetof(struct nvml_api, uuid), true },
	{ "nvmlDeviceGetPciInfo_v3", offsetof(struct nvml_api, pci), true },
	{ "nvmlDeviceGetMemoryInfo", offsetof(struct nvml_api, memory), true },
	{ "nvmlDeviceGetUtilizationRates", offsetof(struct nvml_api, utilization), false },
	{ "nvmlDeviceGetEncoderUtilization", offsetof(struct nvml_api, encoder), false },
	{ "nvmlDeviceGetDecoderUtilization", offsetof(struct nvml_api, decoder), false },
	{ "nvmlDeviceGetComputeRunningProcesses_v3", offsetof(struct nvml_api, compute), true },
	{ "nvmlDeviceGetGraphicsRunningProcesses_v3", offsetof(struct nvml_api, graphics), false },
	{ "nvmlDeviceGetProcessUtilization", offsetof(struct nvml_api, process_util), false },
};

static const char *why(const struct nvml *n, nvml_return r)
{
	static char buf[32];
	const char *s = n->api.error_string ? n->api.error_string(r) : NULL;
	if (s)
		return s;
	snprintf(buf, sizeof(buf), "error %d", r);
	return buf;
}

void nvml_close(struct nvml *n)
{
	if (!n)
		return;
	if (n->initialised)
		n->api.shutdown();
	if (n->lib)
		dlclose(n->lib);
	free(n->devs);
	free(n->info);
	free(n->last_seen);
	free(n->pbuf);
	free(n->sbuf);
	free(n);
}

static void identify(struct nvml *n, size_t i)
{
	struct nvml_gpu *g = &n->info[i];
	struct nvml_pci_info pci = { 0 };
	if (n->api.name(n->devs[i], g->name, sizeof(g->name)) != NVML_OK)
		snprintf(g->name, sizeof(g->name), "NVIDIA GPU %zu", i);
	if (n->api.uuid(n->devs[i], g->uuid, sizeof(g->uuid)) != NVML_OK)
		g->uuid[0] = '\0';
	if (n->api.pci(n->devs[i], &pci) != NVML_OK ||
	    !pci_addr_parse(pci.bus_id, strnlen(pci.bus_id, sizeof(pci.bus_id)), g->pci))
		g->pci[0] = '\0';
}

static int load(struct nvml *n, const char *driver, struct lxgpu_err *err)
{
	n->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!n->lib)
		return lxgpu_failx(
			err, ENOENT,
			"libnvidia-ml.so.1 (NVIDIA's NVML) cannot be loaded: install the "
			"NVML library of the host's driver%s%s (Debian: libnvidia-ml1, "
			"Ubuntu: libnvidia-compute-BRANCH, or NVIDIA's .run installer)",
			driver ? " " : "", driver ? driver : "");
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		void *f = dlsym(n->lib, symbols[i].name);
		if (!f && symbols[i].required)
			return lxgpu_failx(err, ENOENT,
					   "libnvidia-ml.so.1 has no %s: NVML of driver 510 or "
					   "newer is needed",
					   symbols[i].name);
		memcpy((char *)&n->api + symbols[i].offset, &f, sizeof(f));
	}
	return 0;
}

int nvml_open(struct nvml **out, const char *driver, struct lxgpu_err *err)
{
	struct nvml *n = xcalloc(1, sizeof(*n));
	unsigned int count = 0;
	nvml_return r;

	*out = NULL;
	if (load(n, driver, err) < 0) {
		nvml_close(n);
		return -ENOENT;
	}
	if ((r = n->api.init()) != NVML_OK) {
		lxgpu_failx(err, EIO, "NVML: nvmlInit_v2: %s", why(n, r));
		nvml_close(n);
		return -EIO;
	}
	n->initialised = true;
	if ((r = n->api.count(&count)) != NVML_OK) {
		lxgpu_failx(err, EIO, "NVML: nvmlDeviceGetCount_v2: %s", why(n, r));
		nvml_close(n);
		return -EIO;
	}
	n->devs = xcalloc(count + 1, sizeof(*n->devs));
	n->info = xcalloc(count + 1, sizeof(*n->info));
	n->last_seen = xcalloc(count + 1, sizeof(*n->last_seen));
	for (unsigned int i = 0; i < count; i++) {
		if ((r = n->api.by_index(i, &n->devs[n->n])) != NVML_OK)
			continue; /* a GPU NVML cannot open (lost, no permission): left out */
		identify(n, n->n++);
	}
	*out = n;
	return 0;
}

size_t nvml_count(const struct nvml *n)
{
	return n->n;
}

const struct nvml_gpu *nvml_info(const struct nvml *n, size_t i)
{
	return &n->info[i];
}

/* A process list call into n->pbuf, grown until it fits: how many, or -1. */
static int processes(struct nvml *n, nvml_device dev,
		     nvml_return (*fn)(nvml_device, unsigned int *, struct nvml_process_info *))
{
	for (int tries = 0; fn && tries < 4; tries++) {
		unsigned int count = n->pcap;
		nvml_return r = fn(dev, &count, n->pbuf);
		if (r == NVML_OK)
			return (int)count;
		if (r != NVML_INSUFFICIENT_SIZE)
			return -1;
		n->pcap = count + 16;
		n->pbuf = xrealloc(n->pbuf, n->pcap * sizeof(*n->pbuf));
	}
	return -1;
}

static struct nvml_proc *proc_of(struct nvml_proc **procs, size_t from, size_t *nprocs, size_t *cap,
				 int pid)
{
	for (size_t i = from; i < *nprocs; i++)
		if ((*procs)[i].pid == pid)
			return &(*procs)[i];
	xgrow(procs, cap, *nprocs + 1, sizeof(**procs));
	struct nvml_proc *p = &(*procs)[(*nprocs)++];
	*p = (struct nvml_proc){ .pid = pid, .mem = TOP_UNKNOWN, .sm = -1, .enc = -1, .dec = -1 };
	return p;
}

static int percent_of(nvml_return (*fn)(nvml_device, unsigned int *, unsigned int *),
		      nvml_device dev)
{
	unsigned int v = 0, period = 0;
	return fn && fn(dev, &v, &period) == NVML_OK && v <= 100 ? (int)v : -1;
}

/* The newest utilisation sample of each process since the last call: -1
 * when NVML cannot tell, 0 for a process without a sample (NVML returns
 * only those that were busy). */
static void utilisation(struct nvml *n, size_t i, bool first, const struct nvml_gpu *g,
			struct nvml_proc *procs, size_t nprocs)
{
	unsigned int count = 0;
	nvml_return r = NVML_NOT_SUPPORTED;
	if (n->api.process_util) {
		r = n->api.process_util(n->devs[i], NULL, &count, n->last_seen[i]);
		if (r == NVML_OK || r == NVML_INSUFFICIENT_SIZE) {
			if (count + 8 > n->scap) {
				n->scap = count + 8;
				n->sbuf = xrealloc(n->sbuf, n->scap * sizeof(*n->sbuf));
			}
			count = n->scap;
			r = n->api.process_util(n->devs[i], n->sbuf, &count, n->last_seen[i]);
		}
	}
	if (r != NVML_OK)
		count = 0;
	unsigned long long newest = n->last_seen[i];
	for (size_t k = 0; k < nprocs; k++) {
		bool known = !first && (r == NVML_OK || r == NVML_NOT_FOUND);
		unsigned long long at = 0;
		procs[k].sm = known ? 0 : -1;
		procs[k].enc = known && g->enc >= 0 ? 0 : -1;
		procs[k].dec = known && g->dec >= 0 ? 0 : -1;
		for (unsigned int s = 0; known && s < count; s++) {
			const struct nvml_process_sample *x = &n->sbuf[s];
			if ((int)x->pid != procs[k].pid || x->timestamp < at)
				continue;
			at = x->timestamp;
			procs[k].sm = x->sm_util <= 100 ? (int)x->sm_util : 100;
			if (g->enc >= 0)
				procs[k].enc = x->enc_util <= 100 ? (int)x->enc_util : 100;
			if (g->dec >= 0)
				procs[k].dec = x->dec_util <= 100 ? (int)x->dec_util : 100;
		}
	}
	for (unsigned int s = 0; s < count; s++)
		if (n->sbuf[s].timestamp > newest)
			newest = n->sbuf[s].timestamp;
	n->last_seen[i] = newest;
}

int nvml_sample(struct nvml *n, size_t i, bool first, struct nvml_gpu *g, struct nvml_proc **procs,
		size_t *nprocs, size_t *cap, struct lxgpu_err *err)
{
	struct nvml_memory mem = { 0 };
	struct nvml_utilization util = { 0 };
	nvml_device dev = n->devs[i];
	nvml_return r;
	size_t from = *nprocs;

	*g = n->info[i];
	if ((r = n->api.memory(dev, &mem)) != NVML_OK)
		return lxgpu_failx(err, EIO, "NVML: GPU %s: nvmlDeviceGetMemoryInfo: %s", g->uuid,
				   why(n, r));
	g->mem_used = mem.used;
	g->mem_total = mem.total;
	g->util = n->api.utilization && n->api.utilization(dev, &util) == NVML_OK && util.gpu <= 100
			  ? (int)util.gpu
			  : -1;
	g->enc = percent_of(n->api.encoder, dev);
	g->dec = percent_of(n->api.decoder, dev);

	/* compute first, then graphics: a PID in both is one process */
	for (int kind = 0; kind < 2; kind++) {
		int np = processes(n, dev, kind == 0 ? n->api.compute : n->api.graphics);
		for (int k = 0; k < np; k++) {
			const struct nvml_process_info *x = &n->pbuf[k];
			if (x->pid == 0 || x->pid > 0x7fffffff)
				continue;
			struct nvml_proc *p = proc_of(procs, from, nprocs, cap, (int)x->pid);
			if (x->used_gpu_memory != NVML_VALUE_NOT_AVAILABLE_ULL &&
			    (p->mem == TOP_UNKNOWN || x->used_gpu_memory > p->mem))
				p->mem = x->used_gpu_memory;
		}
	}
	utilisation(n, i, first, g, *procs + from, *nprocs - from);
	return 0;
}
