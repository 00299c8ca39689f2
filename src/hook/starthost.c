/* hook/starthost: lxc.hook.start-host, for a node-independent selection
 * (model=, any, map:): the node where the container starts gives it its own
 * GPU's exact rules and nodes for this very start, whichever node's lines the
 * config carries (a migration or HA moved it; sync on this node writes them
 * into the config for the next start).
 *
 * Why start-host: LXC reads the device rules with the config, before
 * lxc.hook.pre-start runs, and turns them into the cgroup's BPF program
 * before lxc.hook.start-host; a pre-start hook cannot change them. LXC's
 * command socket can (LXC_CMD_ADD_BPF_DEVICE_CGROUP, what lxc-device add
 * sends): it rebuilds the program with one rule more, allowed or denied. The
 * monitor serves that socket only from its main loop, which starts after
 * start-host, once the container's init runs; the hook therefore queues its
 * requests from a process of its own and returns, and the monitor applies
 * them as its loop starts, before the init's first fork returns (commands.c
 * and start.c of LXC 5.0 and 6.0; tests/lxc/cluster.sh shows it).
 *
 * The nodes it binds now, synchronously: the container's mount namespace is
 * set up (rootfs pivoted, /dev made) and its init waits for the monitor, so
 * a node bound into it (open_tree of the host's node, move_mount in the
 * container's namespace: LXC's own mount injection) is there when init
 * starts; a node of the config's lines that this node's plan does not pass is
 * unmounted, so that the rule revoked a moment later never had a node. A
 * selection that does not resolve here fails the hook, and with it the
 * start, with the reason. */
#include "hook/hook.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "cluster/mapping.h"
#include "config/config.h"
#include "config/devlines.h"
#include "config/idmap.h"
#include "config/record.h"
#include "inventory/inventory.h"
#include "plan/plan.h"
#include "plan/sync.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/xalloc.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

/* LXC's command protocol (src/lxc/commands.h and conf.h, identical in 5.0
 * and 6.0): a request, then its data; a response. */
#define LXC_CMD_ADD_BPF_DEVICE_CGROUP 14
struct lxc_cmd_req {
	int cmd;
	int datalen;
	const void *data;
};
struct lxc_cmd_rsp {
	int ret;
	int datalen;
	void *data;
};
struct lxc_device_item {
	char type;
	int major, minor;
	char access[4];
	int allow;
	void *list_next, *list_prev; /* struct list_head */
};

/* What this node gives the container, against what its config gives. */
struct delta {
	char **add_rules, **drop_rules; /* "c 195:1" */
	size_t nadd_rules, ndrop_rules;
	char **add_nodes, **drop_nodes; /* "/dev/nvidia1" */
	size_t nadd_nodes, ndrop_nodes;
};

static void push(char ***list, size_t *n, const char *s)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(char *));
	(*list)[(*n)++] = xstrdup(s);
}

static void delta_free(struct delta *d)
{
	char **lists[] = { d->add_rules, d->drop_rules, d->add_nodes, d->drop_nodes };
	size_t ns[] = { d->nadd_rules, d->ndrop_rules, d->nadd_nodes, d->ndrop_nodes };
	for (size_t l = 0; l < 4; l++) {
		for (size_t i = 0; i < ns[l]; i++)
			free(lists[l][i]);
		free(lists[l]);
	}
	memset(d, 0, sizeof(*d));
}

static bool has(char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

int hook_resolve(int hostroot, const char *name, const struct conf *c,
		 const struct lxgpu_inventory *inv, struct lxgpu_plan *plan, bool *floating,
		 struct lxgpu_err *err)
{
	struct dl_scan s;
	struct lxgpu_record rec;
	int r;

	memset(plan, 0, sizeof(*plan));
	*floating = false;
	dl_scan(c, &s);
	if ((r = record_read(c, &s, &rec, err)) < 0) {
		dl_free(&s);
		return lxgpu_wrap(err, "lxgpu's record");
	}
	for (size_t i = 0; i < rec.ndevices; i++)
		*floating |= plan_selector_floating(rec.devices[i]);
	if (!*floating) {
		dl_free(&s);
		record_free(&rec);
		return 0;
	}
	struct cluster_where where;
	struct lxgpu_err maps_err = { 0 };
	cluster_where_load(hostroot, &where, &maps_err);
	/* the nodes as the config passes them; a node needing the container's
	 * group is made by the pre-start hook: hook_cmd only marks them */
	struct sync_facts f = { .hook_cmd = "lxgpu hook", .where = &where.where };
	struct plan_request req;
	sync_request(&rec, c, &s, name, &f, &req);
	dl_free(&s);
	req.format = CONF_LXC;
	req.style = LXGPU_STYLE_RAW;
	r = plan_build(inv, &req, plan, err);
	if (r < 0 && maps_err.code && strstr(err->msg, "mappings cannot be read"))
		lxgpu_wrap(err, "%s", maps_err.msg);
	cluster_where_free(&where);
	record_free(&rec);
	return r;
}

/* The rules and nodes lxgpu's lines of the config give now. */
static void config_gives(const struct conf *c, char ***rules, size_t *nrules, char ***nodes,
			 size_t *nnodes)
{
	struct dl_scan s;
	struct lxgpu_record rec;
	struct lxgpu_err err = { 0 };
	dl_scan(c, &s);
	if (record_read(c, &s, &rec, &err) == 0) {
		for (size_t i = 0; i < s.n; i++) {
			const struct dl_entry *e = &s.entries[i];
			if (!record_owns(&rec, c, e))
				continue;
			if (e->kind == DL_RULE && !e->deny && e->type == 'c' && e->minor >= 0) {
				char rule[32];
				snprintf(rule, sizeof(rule), "c %d:%d", e->major, e->minor);
				push(rules, nrules, rule);
			} else if (e->kind == DL_MOUNT && !e->dir && !e->via_hook) {
				push(nodes, nnodes, e->path);
			}
		}
		record_free(&rec);
	}
	dl_free(&s);
}

static int plan_delta(const struct conf *c, const struct lxgpu_plan *plan, struct delta *d,
		      struct lxgpu_err *err)
{
	char **rules = NULL, **nodes = NULL, **want = NULL;
	size_t nrules = 0, nnodes = 0, nwant = 0;

	memset(d, 0, sizeof(*d));
	config_gives(c, &rules, &nrules, &nodes, &nnodes);
	for (size_t i = 0; i < plan->nrules; i++) {
		char rule[32];
		/* "c 195:1 rwm" -> "c 195:1" */
		snprintf(rule, sizeof(rule), "%.*s", (int)strcspn(plan->rules[i] + 2, " ") + 2,
			 plan->rules[i]);
		push(&want, &nwant, rule);
		if (!has(rules, nrules, rule))
			push(&d->add_rules, &d->nadd_rules, rule);
	}
	for (size_t i = 0; i < nrules; i++)
		if (!has(want, nwant, rules[i]))
			push(&d->drop_rules, &d->ndrop_rules, rules[i]);
	int r = 0;
	for (size_t i = 0; i < plan->nnodes && r == 0; i++) {
		const char *path = plan->nodes[i].node->path;
		if (has(nodes, nnodes, path))
			continue;
		if (plan->nodes[i].via_hook)
			r = lxgpu_failx(err, ENOTSUP,
					"%s needs the container's own group, which only a synced "
					"config gives",
					path);
		else
			push(&d->add_nodes, &d->nadd_nodes, path);
	}
	for (size_t i = 0; i < nnodes; i++) {
		bool planned = false;
		for (size_t k = 0; k < plan->nnodes; k++)
			planned |= strcmp(plan->nodes[k].node->path, nodes[i]) == 0;
		if (!planned)
			push(&d->drop_nodes, &d->ndrop_nodes, nodes[i]);
	}
	char **lists[] = { rules, nodes, want };
	size_t ns[] = { nrules, nnodes, nwant };
	for (size_t l = 0; l < 3; l++) {
		for (size_t i = 0; i < ns[l]; i++)
			free(lists[l][i]);
		free(lists[l]);
	}
	return r;
}

/* --- the nodes: into the container's mount namespace ---------------------- */

static int open_tree_fd(int dirfd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

static int move_mount_fd(int from, const char *from_path, int to, const char *to_path,
			 unsigned flags)
{
	return (int)syscall(SYS_move_mount, from, from_path, to, to_path, flags);
}

/* In a child: into the namespace of the container's init, then each node
 * bound (trees cloned from the host beforehand) or unmounted. The child's
 * exit status is the errno of the first failure; *what names it. */
static int inject(const char *pid, const int *trees, char *const *add, size_t nadd,
		  char *const *drop, size_t ndrop, char *what, size_t size)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "/proc/%s/ns/mnt", pid);
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return -e;
	}
	if (child == 0) {
		struct lxgpu_err err = { 0 };
		char msg[256] = "";
		int code = 0;
		close(pipefd[0]);
		int nsfd = open(ns, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0 || setns(nsfd, CLONE_NEWNS) < 0) {
			code = errno;
			snprintf(msg, sizeof(msg), "enter %s", ns);
		}
		int root = code ? -1 : open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		for (size_t i = 0; !code && i < ndrop; i++) {
			struct stat st;
			/* nothing of the container has run yet: its /dev is LXC's */
			if (lstat(drop[i], &st) < 0)
				continue; /* not there: nothing to take away */
			/* the bind LXC made of the config's line, and its placeholder */
			if (umount2(drop[i], MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL) {
				code = errno;
				snprintf(msg, sizeof(msg), "unmount %s in the container", drop[i]);
			} else {
				(void)unlink(drop[i]);
			}
		}
		for (size_t i = 0; !code && i < nadd; i++) {
			char dir[256];
			struct stat owner;
			snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(add[i], '/') - add[i]),
				 add[i]);
			_cleanup_close_ int target = -EBADF;
			/* an unprivileged container's /dev belongs to its user namespace,
			 * where the host's root has no id: create as its /dev's owner */
			if (fstatat(root, "dev", &owner, AT_SYMLINK_NOFOLLOW) == 0) {
				setfsgid(owner.st_gid);
				setfsuid(owner.st_uid);
			}
			if (fs_mkdirs_in(root, dir + (dir[0] == '/'), 0755, &err) == 0)
				target = fs_open_in(root, add[i], O_WRONLY | O_CREAT | O_NOFOLLOW,
						    0, &err);
			setfsuid(0);
			setfsgid(0);
			if (target < 0 ||
			    move_mount_fd(trees[i], "", target, "",
					  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
				code = target < 0 ? (err.code ? err.code : EIO) : errno;
				snprintf(msg, sizeof(msg), "bind %s into the container", add[i]);
			}
		}
		if (code)
			(void)!write(pipefd[1], msg, strlen(msg));
		_exit(code > 255 ? 255 : code);
	}
	close(pipefd[1]);
	ssize_t n = read(pipefd[0], what, size - 1);
	what[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	int status;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status))
		return -EIO;
	return -WEXITSTATUS(status);
}

static int bind_nodes(int hostroot, const struct hook_call *call, const struct delta *d,
		      struct lxgpu_err *err)
{
	if (d->nadd_nodes == 0 && d->ndrop_nodes == 0)
		return 0;
	if (!call->pid || !call->pid[0] || strspn(call->pid, "0123456789") != strlen(call->pid))
		return lxgpu_failx(err, EINVAL, "LXC_PID is %s, not a process id",
				   call->pid ? call->pid : "unset");
	int *trees = xcalloc(d->nadd_nodes + 1, sizeof(int));
	int r = 0;
	for (size_t i = 0; i < d->nadd_nodes; i++)
		trees[i] = -EBADF;
	for (size_t i = 0; i < d->nadd_nodes && r == 0; i++) {
		_cleanup_close_ int node =
			fs_open_in(hostroot, d->add_nodes[i], O_PATH | O_NOFOLLOW, 0, err);
		struct stat st;
		if (node < 0)
			r = node;
		else if (fstat(node, &st) < 0 || !S_ISCHR(st.st_mode))
			r = lxgpu_failx(err, EINVAL, "%s is not a character device",
					d->add_nodes[i]);
		else if ((trees[i] = open_tree_fd(node, "",
						  OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH)) < 0)
			r = lxgpu_fail(err, errno, "open_tree %s", d->add_nodes[i]);
	}
	char what[256] = "";
	if (r == 0 && (r = inject(call->pid, trees, d->add_nodes, d->nadd_nodes, d->drop_nodes,
				  d->ndrop_nodes, what, sizeof(what))) < 0)
		lxgpu_fail(err, -r, "%s", what[0] ? what : "the container's mount namespace");
	for (size_t i = 0; i < d->nadd_nodes; i++)
		if (trees[i] >= 0)
			close(trees[i]);
	free(trees);
	return r;
}

/* --- the rules: through LXC's command socket ------------------------------ */

/* "@LXCPATH/NAME/command" (LXC's lxc_make_abstract_socket_name; a hashed
 * name when it does not fit, which lxgpu does not make: it fails then). */
static int connect_monitor(const char *lxcpath, const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 2, "%s/%s/command", lxcpath,
			 name);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path) - 2)
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* One rule: the request with our credentials (LXC checks them) and its data,
 * on a connection of its own; the fd to read LXC's answer from. */
static int send_rule(const char *lxcpath, const char *name, const char *rule, bool allow)
{
	struct lxc_device_item item = { .access = "rwm", .allow = allow };
	if (sscanf(rule, "%c %d:%d", &item.type, &item.major, &item.minor) != 3)
		return -EINVAL;
	_cleanup_close_ int fd = connect_monitor(lxcpath, name);
	if (fd < 0)
		return fd;
	struct lxc_cmd_req req = { .cmd = LXC_CMD_ADD_BPF_DEVICE_CGROUP,
				   .datalen = (int)sizeof(item) };
	struct ucred cred = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
	char control[CMSG_SPACE(sizeof(cred))] = { 0 };
	struct iovec iov = { &req, sizeof(req) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_CREDENTIALS;
	cm->cmsg_len = CMSG_LEN(sizeof(cred));
	memcpy(CMSG_DATA(cm), &cred, sizeof(cred));
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(req) ||
	    send(fd, &item, sizeof(item), MSG_NOSIGNAL) != (ssize_t)sizeof(item))
		return -errno;
	return TAKE_FD(fd);
}

/* LXC's answer to a request, which comes once its main loop runs. */
static int answer(int fd)
{
	struct lxc_cmd_rsp rsp;
	ssize_t n;
	while ((n = recv(fd, &rsp, sizeof(rsp), MSG_WAITALL)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(rsp))
		return n < 0 ? -errno : -ECONNRESET;
	return rsp.ret < 0 ? rsp.ret : 0;
}

/* A process of its own, out of LXC's way (LXC reads the hook's output until
 * it closes): revokes the config's rules this node does not give, then adds
 * this node's, and logs what failed. Gives up after a minute. */
static int queue_rules(const struct hook_call *call, const struct delta *d, struct lxgpu_err *err)
{
	if (d->nadd_rules == 0 && d->ndrop_rules == 0)
		return 0;
	_cleanup_free_ char *dir = xstrdup(call->config);
	/* LXC_CONFIG_FILE is LXCPATH/NAME/config (lxc-start -P LXCPATH -n NAME) */
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	slash = strrchr(dir, '/');
	if (!slash || strcmp(slash + 1, call->name) != 0)
		return lxgpu_failx(err, EINVAL,
				   "%s is not LXCPATH/%s/config: cannot find the container's "
				   "command socket",
				   call->config, call->name);
	*slash = '\0';
	pid_t child = fork();
	if (child < 0)
		return lxgpu_fail(err, errno, "fork");
	if (child > 0) {
		int status;
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
		return 0;
	}
	/* the middle child: a new session, and gone at once */
	setsid();
	if (fork() != 0)
		_exit(0);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && null >= 0; fd++)
		dup2(null, fd);
	alarm(60);
	openlog("lxgpu", LOG_PID, LOG_USER);
	/* every request queued at once, so that LXC's loop takes them one after
	 * the other as it starts; then the answers */
	int failed = 0;
	size_t n = d->ndrop_rules + d->nadd_rules;
	int *fds = xcalloc(n + 1, sizeof(int));
	for (size_t i = 0; i < n; i++) {
		bool allow = i >= d->ndrop_rules;
		const char *rule = allow ? d->add_rules[i - d->ndrop_rules] : d->drop_rules[i];
		fds[i] = send_rule(dir, call->name, rule, allow);
	}
	for (size_t i = 0; i < n; i++) {
		bool allow = i >= d->ndrop_rules;
		const char *rule = allow ? d->add_rules[i - d->ndrop_rules] : d->drop_rules[i];
		int r = fds[i] < 0 ? fds[i] : answer(fds[i]);
		if (fds[i] >= 0)
			close(fds[i]);
		if (r < 0) {
			failed++;
			syslog(LOG_ERR, "hook %s: start-host: %s rule %s: %s", call->name,
			       allow ? "allow" : "revoke", rule, strerror(-r));
		}
	}
	if (!failed)
		syslog(LOG_INFO,
		       "hook %s: start-host: %zu rules of this node's GPU allowed, %zu "
		       "of the config's revoked",
		       call->name, d->nadd_rules, d->ndrop_rules);
	_exit(failed ? 1 : 0);
}

int hook_start_host(int hostroot, const struct hook_call *call, struct hook_result *res,
		    struct lxgpu_err *err)
{
	_cleanup_free_ char *text = NULL;
	struct conf c = { 0 };
	struct lxgpu_inventory inv;
	struct lxgpu_plan plan;
	struct delta d = { 0 };
	bool floating;
	size_t len;
	int r;

	if ((r = fs_read_in(hostroot, call->config, CONF_MAX, &text, &len, err)) < 0 ||
	    (r = conf_parse(text, len, CONF_LXC, &c, err)) < 0)
		return lxgpu_wrap(err, "hook %s: %s", call->name, call->config);
	lxgpu_inventory_scan(hostroot, &inv);
	r = hook_resolve(hostroot, call->name, &c, &inv, &plan, &floating, err);
	if (r == 0 && floating)
		r = plan_delta(&c, &plan, &d, err);
	if (r == 0 && floating && (r = bind_nodes(hostroot, call, &d, err)) == 0)
		r = queue_rules(call, &d, err);
	res->nodes = d.nadd_nodes;
	delta_free(&d);
	plan_free(&plan);
	lxgpu_inventory_free(&inv);
	conf_free(&c);
	return r < 0 ? lxgpu_wrap(err, "hook %s: refused", call->name) : 0;
}
