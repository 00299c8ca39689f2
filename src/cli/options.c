/* The options of every command, for the command table (main.c), help, the
 * man page and completion: data and lookups, calling nothing. */
#include <getopt.h>
#include <stddef.h>

#include "cli/cli.h"

const struct cli_option cli_options[] = {
	{ "sysroot", required_argument, KEY_SYSROOT, "DIR",
	  "read and write every host path below DIR (env LXGPU_SYSROOT)" },
	{ "lxcpath", required_argument, KEY_LXCPATH, "DIR",
	  "plain LXC containers live in DIR (default /var/lib/lxc)" },
	{ "json", no_argument, KEY_JSON, NULL, "print JSON (\"schema\": 1) instead of text" },
	{ "no-color", no_argument, KEY_NO_COLOR, NULL, "no colour, also on a terminal" },
	{ "quiet", no_argument, KEY_QUIET, NULL, "print errors only" },
	{ "verbose", no_argument, KEY_VERBOSE, NULL, "say more" },
	{ "gpu", required_argument, KEY_GPU, "SEL",
	  "a GPU: its index, UUID (GPU-...), PCI address, or all (default); SEL/GI/CI for one MIG "
	  "instance; or one resolved on the node where the container starts: model=NAME, any, "
	  "map:NAME; repeatable" },
	{ "style", required_argument, KEY_STYLE, "STYLE",
	  "Proxmox lines: raw (lxc.* lines), dev (devN) or auto (default)" },
	{ "wildcard", no_argument, KEY_WILDCARD, NULL,
	  "allow every minor of the majors (the guide's c 195:* rwm)" },
	{ "dry-run", no_argument, KEY_DRY_RUN, NULL, "print the diff, change nothing" },
	{ "gid", required_argument, KEY_GID, "GID",
	  "the container's render/video gid: N, or render=N,video=M" },
	{ "mode", required_argument, KEY_MODE, "MODE",
	  "bind (the host's driver at every start; default), copy, or install (NVIDIA's .run)" },
	{ "installer", required_argument, KEY_INSTALLER, "FILE",
	  "the NVIDIA .run installer to use instead of downloading it" },
	{ "docker", no_argument, KEY_DOCKER, NULL,
	  "set up Docker (nvidia-container-toolkit) or podman (a CDI spec) inside the container" },
	{ "all", no_argument, KEY_ALL, NULL, "every container of this node" },
	{ "guard", no_argument, KEY_GUARD, NULL,
	  "check the container against the host at every start, refuse a start that would fail" },
	{ "cuda", required_argument, KEY_CUDA, "X.Y", "the driver a CUDA toolkit release needs" },
	{ "ct", required_argument, KEY_CT, "CT",
	  "the CUDA toolkits and cuDNN installed in container CT, and whether the host runs them" },
	{ "apply", no_argument, KEY_APPLY, NULL,
	  "write the kernel-header apt source and pinning into the container" },
	{ "explain", required_argument, KEY_EXPLAIN, "MESSAGE",
	  "what an error message means for a GPU container, and the fix" },
	{ "undo", no_argument, KEY_UNDO, NULL, "take back what an earlier host prepare did" },
	{ "prune", no_argument, KEY_PRUNE, NULL,
	  "also remove rules of majors that no driver registers now (a kernel or driver long "
	  "gone)" },
	{ "cluster", no_argument, KEY_CLUSTER, NULL,
	  "every node of the Proxmox cluster: its published GPUs and its GPU containers" },
	{ "node", required_argument, KEY_NODE, "NODE",
	  "whether cluster node NODE can run the container (from its published facts)" },
	{ "wait", no_argument, KEY_WAIT, NULL,
	  "while /etc/pve is read-only (no quorum), wait until it is writable, then sync" },
	{ "cdi-version", required_argument, KEY_CDI_VERSION, "V",
	  "the CDI spec's cdiVersion (default: the lowest its fields need; 0.6.0 or later adds "
	  "annotations, which podman 4 cannot read)" },
	{ "once", no_argument, KEY_ONCE, NULL,
	  "print one table and exit, as when not on a terminal" },
	{ "interval", required_argument, KEY_INTERVAL, "S",
	  "seconds between two samples, and between two refreshes (default 1)" },
	/* host's own --version V: a command's options come before the global ones,
	 * and getopt_long takes the first match; lxgpu --version still works */
	{ "version", required_argument, KEY_DRIVER_VERSION, "V",
	  "host install-driver: the NVIDIA driver to install (default: the newest of the loaded "
	  "module's branch, else NVIDIA's newest)" },
	{ "help", no_argument, KEY_HELP, NULL, "show help and exit" },
	{ "version", no_argument, KEY_VERSION, NULL, "show the version and exit" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct cli_option *cli_option_by_key(int key)
{
	for (const struct cli_option *o = cli_options; o->name; o++)
		if (o->key == key)
			return o;
	return NULL;
}

bool cli_option_is_global(int key)
{
	return key == KEY_SYSROOT || key == KEY_LXCPATH || key == KEY_JSON || key == KEY_NO_COLOR ||
	       key == KEY_QUIET || key == KEY_VERBOSE || key == KEY_HELP || key == KEY_VERSION;
}
