/* known: issue 14's cases (see known.h), from its "What was seen". */
#include "known.h"

#define ONE_GPU(sel)                                                                               \
	{                                                                                          \
		.selectors = { sel }, .nselectors = 1, .render_gid = 104, .video_gid = 44          \
	}

const struct known_case known_cases[] = {
	/* 1. any hand-written wildcard rule turns lxgpu's exact rules into
	 * wildcards at the next sync (and the user's 226:* goes) */
	{ "issue 14 case 1: sync widens", "intel-nvidia", MODEL_PVE,
	  "lxc.cgroup2.devices.allow: c 226:* rwm\n", ONE_GPU("1") },
	/* 2. Jellyfin's iGPU lines go with the NVIDIA GPU's */
	{ "issue 14 case 2: detach takes the iGPU", "intel-nvidia", MODEL_PVE,
	  "unprivileged: 1\n"
	  "dev0: /dev/dri/renderD128,gid=104\n",
	  ONE_GPU("1") },
	/* 3. ROCm's lines are "stale" while amdgpu is not loaded */
	{ "issue 14 case 3: attach takes /dev/kfd", "h100", MODEL_PVE, "dev1: /dev/kfd\n",
	  ONE_GPU("0") },
	/* 4. the second attach takes what the first kept */
	{ "issue 14 case 4: attach is not idempotent", "h100", MODEL_PVE,
	  "lxc.cgroup2.devices.allow: c 226:* rwm\n", ONE_GPU("0") },
	/* 5. a per-container device directory binds nvidia0 too */
	{ "issue 14 case 5: two mounts on one node", "h100", MODEL_PVE,
	  "lxc.mount.entry: /somewhere/nvidia0 dev/nvidia0 none bind,optional,create=file\n",
	  ONE_GPU("0") },
};
const size_t nknown_cases = sizeof(known_cases) / sizeof(*known_cases);
