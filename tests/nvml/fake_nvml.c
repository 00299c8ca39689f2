/* A stand-in for NVIDIA's libnvidia-ml.so.1, built by the tests (never
 * installed): the functions lxgpu top and metrics call, answering from a
 * text file, so that the CLI tests and the bench run lxgpu's real NVML code
 * (dlopen by soname, found through LD_LIBRARY_PATH) on a machine without a
 * GPU. Types as NVML's public nvml.h lays them out, written here again: the
 * test does not trust lxgpu's own declarations.
 *
 * FAKE_NVML=FILE, one directive a line ('#' starts a comment), GPU lines
 * applying to the last "gpu":
 *   gpu UUID BUSID TOTAL USED UTIL ENC DEC    (-1: NVML_ERROR_NOT_SUPPORTED)
 *   name MODEL NAME...
 *   compute PID BYTES | graphics PID BYTES   (BYTES "na": NVML_VALUE_NOT_AVAILABLE)
 *   util PID SM MEM ENC DEC                   (a nvmlProcessUtilizationSample_t, now)
 * FAKE_NVML_INIT=N: nvmlInit_v2 returns N. FAKE_NVML_LOG=FILE: "load" is
 * appended when the library is loaded, "init" at nvmlInit_v2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t;
typedef struct fake_gpu *nvmlDevice_t;
typedef struct {
	unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
	unsigned int gpu, memory;
} nvmlUtilization_t;
typedef struct {
	char busIdLegacy[16];
	unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
	char busId[32];
} nvmlPciInfo_t;
typedef struct {
	unsigned int pid;
	unsigned long long usedGpuMemory;
	unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;
typedef struct {
	unsigned int pid;
	unsigned long long timeStamp;
	unsigned int smUtil, memUtil, encUtil, decUtil;
} nvmlProcessUtilizationSample_t;

#define NVML_SUCCESS                 0
#define NVML_ERROR_UNINITIALIZED     1
#define NVML_ERROR_INVALID_ARGUMENT  2
#define NVML_ERROR_NOT_SUPPORTED     3
#define NVML_ERROR_NOT_FOUND         6
#define NVML_ERROR_INSUFFICIENT_SIZE 7

/* nvml.h's prototypes of what is implemented here */
nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlShutdown(void);
const char *nvmlErrorString(nvmlReturn_t r);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device);
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length);
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length);
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci);
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory);
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization);
nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *utilization,
					     unsigned int *samplingPeriodUs);
nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *utilization,
					     unsigned int *samplingPeriodUs);
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
						     nvmlProcessInfo_t *infos);
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
						      nvmlProcessInfo_t *infos);
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
					     nvmlProcessUtilizationSample_t *utilization,
					     unsigned int *processSamplesCount,
					     unsigned long long lastSeenTimeStamp);

#define MAX_PROCS 4096

struct fake_gpu {
	char uuid[96], bus[32], name[96];
	unsigned long long total, used;
	int util, enc, dec;
	nvmlProcessInfo_t compute[MAX_PROCS], graphics[MAX_PROCS];
	unsigned ncompute, ngraphics;
	nvmlProcessUtilizationSample_t samples[MAX_PROCS];
	unsigned nsamples;
};

static struct fake_gpu *gpus;
static unsigned ngpus;
static int initialised;

static void note(const char *what)
{
	const char *log = getenv("FAKE_NVML_LOG");
	FILE *f = log ? fopen(log, "a") : NULL;
	if (f) {
		fprintf(f, "%s\n", what);
		fclose(f);
	}
}

__attribute__((constructor)) static void loaded(void)
{
	note("load");
}

static unsigned long long memory(const char *s)
{
	return strcmp(s, "na") == 0 ? ~0ull : strtoull(s, NULL, 10);
}

static void read_data(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024], a[128], b[128];
	struct fake_gpu *g = NULL;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "gpu ", 4) == 0) {
			gpus = realloc(gpus, (ngpus + 1) * sizeof(*gpus));
			g = &gpus[ngpus++];
			memset(g, 0, sizeof(*g));
			sscanf(line, "gpu %95s %31s %llu %llu %d %d %d", g->uuid, g->bus, &g->total,
			       &g->used, &g->util, &g->enc, &g->dec);
			snprintf(g->name, sizeof(g->name), "Fake GPU");
		} else if (g && strncmp(line, "name ", 5) == 0) {
			snprintf(g->name, sizeof(g->name), "%.95s", line + 5);
		} else if (g && sscanf(line, "compute %127s %127s", a, b) == 2 &&
			   g->ncompute < MAX_PROCS) {
			g->compute[g->ncompute++] =
				(nvmlProcessInfo_t){ (unsigned)atoi(a), memory(b), ~0u, ~0u };
		} else if (g && sscanf(line, "graphics %127s %127s", a, b) == 2 &&
			   g->ngraphics < MAX_PROCS) {
			g->graphics[g->ngraphics++] =
				(nvmlProcessInfo_t){ (unsigned)atoi(a), memory(b), ~0u, ~0u };
		} else if (g && strncmp(line, "util ", 5) == 0 && g->nsamples < MAX_PROCS) {
			nvmlProcessUtilizationSample_t *s = &g->samples[g->nsamples++];
			memset(s, 0, sizeof(*s));
			sscanf(line, "util %u %u %u %u %u", &s->pid, &s->smUtil, &s->memUtil,
			       &s->encUtil, &s->decUtil);
		}
	}
	fclose(f);
}

nvmlReturn_t nvmlInit_v2(void)
{
	const char *code = getenv("FAKE_NVML_INIT"), *data = getenv("FAKE_NVML");
	note("init");
	if (code && atoi(code) != 0)
		return atoi(code);
	if (!initialised && data)
		read_data(data);
	initialised = 1;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void)
{
	free(gpus);
	gpus = NULL;
	ngpus = 0;
	initialised = 0;
	return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t r)
{
	return r == 9    ? "Driver Not Loaded"
	       : r == 18 ? "RM has detected an NVML/RM version mismatch."
			 : "Unknown Error";
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n)
{
	if (!initialised)
		return NVML_ERROR_UNINITIALIZED;
	*n = ngpus;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d)
{
	if (!initialised || i >= ngpus)
		return NVML_ERROR_INVALID_ARGUMENT;
	*d = &gpus[i];
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int n)
{
	snprintf(name, n, "%s", d->name);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int n)
{
	snprintf(uuid, n, "%s", d->uuid);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *pci)
{
	memset(pci, 0, sizeof(*pci));
	snprintf(pci->busId, sizeof(pci->busId), "%s", d->bus);
	snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "%.15s", d->bus + 4);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
	m->total = d->total;
	m->used = d->used;
	m->free = d->total - d->used;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
	if (d->util < 0)
		return NVML_ERROR_NOT_SUPPORTED;
	u->gpu = (unsigned)d->util;
	u->memory = 0;
	return NVML_SUCCESS;
}

static nvmlReturn_t percent(int v, unsigned int *u, unsigned int *period)
{
	if (v < 0)
		return NVML_ERROR_NOT_SUPPORTED;
	*u = (unsigned)v;
	*period = 167000;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t d, unsigned int *u, unsigned int *p)
{
	return percent(d->enc, u, p);
}

nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t d, unsigned int *u, unsigned int *p)
{
	return percent(d->dec, u, p);
}

/* NVML's contract: a count too small gets INSUFFICIENT_SIZE and the count. */
static nvmlReturn_t list(const nvmlProcessInfo_t *src, unsigned n, unsigned int *count,
			 nvmlProcessInfo_t *out)
{
	if (*count < n) {
		*count = n;
		return n ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
	}
	if (n && !out)
		return NVML_ERROR_INVALID_ARGUMENT;
	memcpy(out, src, n * sizeof(*src));
	*count = n;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
						     nvmlProcessInfo_t *infos)
{
	return list(d->compute, d->ncompute, count, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
						      nvmlProcessInfo_t *infos)
{
	return list(d->graphics, d->ngraphics, count, infos);
}

/* Every sample is taken "now": newer than any lastSeenTimeStamp of before. */
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t d, nvmlProcessUtilizationSample_t *u,
					     unsigned int *count, unsigned long long last_seen)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long long now =
		(unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
	if (d->nsamples == 0 || now <= last_seen)
		return NVML_ERROR_NOT_FOUND;
	if (!u || *count < d->nsamples) {
		*count = d->nsamples;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	for (unsigned i = 0; i < d->nsamples; i++) {
		u[i] = d->samples[i];
		u[i].timeStamp = now;
	}
	*count = d->nsamples;
	return NVML_SUCCESS;
}
