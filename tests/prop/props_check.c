/* props_check: the invariants checked themselves, on outputs written by hand
 * from docs/ownership.md instead of lxgpu's: they must hold on what the
 * contract asks for, and fail on issue 14's bugs. A property that cannot
 * fail, or that fails on a correct output, shows here. */
#include "props_check.h"

#include <stdio.h>
#include <string.h>

#include "props_run.h"

#define AS_INPUT NULL
static const char as_attach[] = "(the attach output)";

#define RTX      "GPU-5f2e7c1a-9b3d-4e8f-a6c2-1d0b9e8f7a65"
#define H100     "GPU-14d254be-3087-0aa8-a7aa-03759525cf2f"
#define RULE     "lxc.cgroup2.devices.allow: "
#define MOUNT(n) "lxc.mount.entry: /dev/" n " dev/" n " none bind,optional,create=file\n"
#define NVIDIA_MOUNTS                                                                              \
	MOUNT("nvidia0") MOUNT("nvidiactl") MOUNT("nvidia-uvm") MOUNT("nvidia-uvm-tools")
#define RAW_RECORD(id, uvm)                                                                        \
	"lxc.environment: LXGPU_DEVICES=" id "\n"                                                  \
	"lxc.environment: LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no\n"                       \
	"lxc.environment: LXGPU_WROTE=c195:0,c195:255,c" uvm ":0,c" uvm ":1,/dev/nvidia0,"         \
	"/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-uvm-tools\n" RULE "c 195:0 rwm\n" RULE         \
	"c 195:255 rwm\n" RULE "c " uvm ":0 rwm\n" RULE "c " uvm ":1 rwm\n"
#define GUIDE_KEPT                                                                                 \
	RULE "c 60:* rwm\n" RULE "c 226:* rwm\n" RULE "c 254:* rwm\n" RULE "c 255:* rwm\n"

struct judged {
	const char *name, *host;
	struct model_request req;
	const char *input;
	const char *out[NSTEPS]; /* AS_INPUT, as_attach, or the text */
};

static const struct judged judged[] = {
	{ "NVIDIA beside a hand-written c 226:*",
	  "intel-nvidia",
	  { .selectors = { "1" }, .nselectors = 1, .render_gid = -1, .video_gid = -1 },
	  RULE "c 226:* rwm\n",
	  {
		  [ATTACH] = RULE "c 226:* rwm\n" RAW_RECORD(RTX, "238") NVIDIA_MOUNTS,
		  [ATTACH_AGAIN] = as_attach,
		  [SYNC] = as_attach,
		  [SYNC_AFTER] = RULE "c 226:* rwm\n" RAW_RECORD(RTX, "237") NVIDIA_MOUNTS,
		  [REATTACH_AFTER] = RULE "c 226:* rwm\n" RAW_RECORD(RTX, "237") NVIDIA_MOUNTS,
	  } },
	{ "Jellyfin's iGPU lines beside NVIDIA devN",
	  "intel-nvidia",
	  { .selectors = { RTX },
	    .nselectors = 1,
	    .dev_style = true,
	    .render_gid = 104,
	    .video_gid = 44 },
	  "unprivileged: 1\n"
	  "dev0: /dev/dri/renderD128,gid=104\n" RULE "c 226:* rwm\n"
	  "lxc.mount.entry: /dev/dri/by-path dev/dri/by-path none bind,optional,create=dir\n",
	  {
		  [ATTACH] = "unprivileged: 1\n"
			     "dev0: /dev/dri/renderD128,gid=104\n" RULE "c 226:* rwm\n"
			     "lxc.mount.entry: /dev/dri/by-path dev/dri/by-path none "
			     "bind,optional,create=dir\n"
			     "lxc.environment: LXGPU_DEVICES=" RTX "\n"
			     "lxc.environment: LXGPU_REQUEST=v2,style=dev,rules=exact,guard=no,"
			     "render=104,video=44\n"
			     "lxc.environment: LXGPU_WROTE=/dev/nvidia0,/dev/nvidiactl,"
			     "/dev/nvidia-uvm,/dev/nvidia-uvm-tools\n"
			     "dev1: /dev/nvidia0,mode=0666\n"
			     "dev2: /dev/nvidiactl,mode=0666\n"
			     "dev3: /dev/nvidia-uvm,mode=0666\n"
			     "dev4: /dev/nvidia-uvm-tools,mode=0666\n",
		  [ATTACH_AGAIN] = as_attach,
		  [SYNC] = as_attach,
		  [SYNC_AFTER] = as_attach,
		  [REATTACH_AFTER] = as_attach,
	  } },
	{ "the guide's block, on a host where 508 becomes nvidia-caps",
	  "h100",
	  { .selectors = { "0" }, .nselectors = 1, .render_gid = -1, .video_gid = -1 },
	  RULE "c 60:* rwm\n" RULE "c 195:* rwm\n" RULE "c 226:* rwm\n" RULE "c 254:* rwm\n" RULE
	       "c 255:* rwm\n" RULE "c 508:* rwm\n" RULE "c 511:* rwm\n" NVIDIA_MOUNTS MOUNT(
		       "nvidia-modeset") "lxc.mount.entry: /dev/dri dev/dri none "
					 "bind,optional,create=dir\n",
	  {
		  [ATTACH] = GUIDE_KEPT RULE
		  "c 508:* rwm\n" RULE "c 511:* rwm\n" NVIDIA_MOUNTS
		  "lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n" RAW_RECORD(
			  H100, "238"),
		  [ATTACH_AGAIN] = as_attach,
		  [SYNC] = as_attach,
		  [DETACH] = GUIDE_KEPT RULE
		  "c 508:* rwm\n" RULE "c 511:* rwm\n"
		  "lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n",
		  [SYNC_AFTER] = GUIDE_KEPT RULE
		  "c 511:* rwm\n" NVIDIA_MOUNTS
		  "lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n" RAW_RECORD(
			  H100, "509"),
		  [DETACH_AFTER] = GUIDE_KEPT RULE
		  "c 508:* rwm\n" RULE "c 511:* rwm\n"
		  "lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n",
		  [REATTACH_AFTER] = GUIDE_KEPT RULE
		  "c 511:* rwm\n"
		  "lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n" RAW_RECORD(
			  H100, "509") NVIDIA_MOUNTS,
	  } },
};

/* One of the judged outputs replaced by what a bug of issue 14 gives. */
struct mutant {
	const char *name;
	size_t judged;
	enum step step;
	const char *out;
	int fails; /* the invariant that must catch it */
};

static const struct mutant mutants[] = {
	{ "sync widens to c 195:*", 0, SYNC,
	  RULE "c 226:* rwm\n" RAW_RECORD(RTX, "238") RULE "c 195:* rwm\n" NVIDIA_MOUNTS, 3 },
	{ "sync rewrites", 0, SYNC, RAW_RECORD(RTX, "238") NVIDIA_MOUNTS, 2 },
	{ "the second attach takes c 226:*", 0, ATTACH_AGAIN, RAW_RECORD(RTX, "238") NVIDIA_MOUNTS,
	  1 },
	{ "detach takes the iGPU", 1, DETACH,
	  "unprivileged: 1\n" RULE "c 226:* rwm\n"
	  "lxc.mount.entry: /dev/dri/by-path dev/dri/by-path none bind,optional,create=dir\n",
	  6 },
	{ "attach takes a dead major's rule without --prune", 2, ATTACH,
	  GUIDE_KEPT RULE
	  "c 508:* rwm\n" NVIDIA_MOUNTS
	  "lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n" RAW_RECORD(H100,
											 "238"),
	  4 },
	{ "two entries on dev/nvidia0", 0, ATTACH,
	  RULE "c 226:* rwm\n" RAW_RECORD(RTX, "238") NVIDIA_MOUNTS "dev9: /dev/nvidia0\n", 5 },
	{ "sync after the update keeps the old uvm rules", 2, SYNC_AFTER,
	  GUIDE_KEPT RULE
	  "c 511:* rwm\n" NVIDIA_MOUNTS
	  "lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n" RAW_RECORD(
		  H100, "509") RULE "c 238:0 rwm\n",
	  7 },
};

static struct prop_run *judged_run(const struct judged *j, const struct mutant *m)
{
	struct prop_input in = {
		j->name, 0, host_named(j->host), MODEL_PVE, { (char *)j->input, strlen(j->input) },
		&j->req
	};
	struct prop_run *run = prop_run_new(&in);
	for (int s = 0; s < NSTEPS; s++) {
		const char *out = m && m->step == (enum step)s ? m->out : j->out[s];
		if (out == as_attach)
			out = j->out[ATTACH];
		if (out == AS_INPUT)
			out = j->input;
		struct text t = { (char *)out, strlen(out) };
		prop_run_preset(run, (enum step)s, &t);
	}
	return run;
}

int props_check(void)
{
	int wrong = 0;
	for (size_t i = 0; i < sizeof(judged) / sizeof(*judged); i++)
		for (int which = 1; which <= NPROPS; which++) {
			struct prop_run *run = judged_run(&judged[i], NULL);
			struct prop_failure f;
			if (prop_check(which, run, &f) == PROP_FAILS) {
				printf("# invariant %d fails on a correct output (%s): %s\n", which,
				       judged[i].name, f.why);
				wrong++;
			}
			prop_failure_free(&f);
			prop_run_free(run);
		}
	for (size_t i = 0; i < sizeof(mutants) / sizeof(*mutants); i++) {
		const struct mutant *m = &mutants[i];
		struct prop_run *run = judged_run(&judged[m->judged], m);
		struct prop_failure f;
		if (prop_check(m->fails, run, &f) != PROP_FAILS) {
			printf("# invariant %d does not catch \"%s\"\n", m->fails, m->name);
			wrong++;
		}
		prop_failure_free(&f);
		prop_run_free(run);
	}
	return wrong;
}
