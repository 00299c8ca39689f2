/* procs: the process cache of procs.h, an open-addressing table by PID,
 * rebuilt at each sweep. */
#include "top/sample/procs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "top/parse.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/xalloc.h"

struct procs {
	int procfd;
	struct proc_info **slots; /* NULL: empty */
	size_t cap, n;            /* cap: a power of two */
};

int procs_open(int rootfd, struct procs **out, struct lxgpu_err *err)
{
	int fd = fs_open_in(rootfd, "proc", O_RDONLY | O_DIRECTORY, 0, err);
	if (fd < 0)
		return fd;
	struct procs *c = xcalloc(1, sizeof(*c));
	c->procfd = fd;
	c->cap = 64;
	c->slots = xcalloc(c->cap, sizeof(*c->slots));
	*out = c;
	return 0;
}

int procs_dirfd(const struct procs *c)
{
	return c->procfd;
}

static size_t slot_of(const struct procs *c, int pid)
{
	size_t i = ((size_t)pid * 2654435761u) & (c->cap - 1);
	while (c->slots[i] && c->slots[i]->pid != pid)
		i = (i + 1) & (c->cap - 1);
	return i;
}

static void insert(struct procs *c, struct proc_info *p)
{
	if ((c->n + 1) * 2 > c->cap) {
		struct proc_info **old = c->slots;
		size_t oldcap = c->cap;
		c->cap *= 2;
		c->slots = xcalloc(c->cap, sizeof(*c->slots));
		for (size_t i = 0; i < oldcap; i++)
			if (old[i])
				c->slots[slot_of(c, old[i]->pid)] = old[i];
		free(old);
	}
	c->slots[slot_of(c, p->pid)] = p;
	c->n++;
}

ssize_t procs_read_small(int dirfd, const char *name, char *buf, size_t size)
{
	struct lxgpu_err err = { 0 };
	struct stat st;
	_cleanup_close_ int fd = fs_open_child(dirfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK, &err);
	size_t n = 0;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

static struct proc_info *read_proc(int procfd, int pid)
{
	struct lxgpu_err err = { 0 };
	char name[16], buf[8192];
	struct top_cgroup cg;
	int nspid[8];
	ssize_t n;

	snprintf(name, sizeof(name), "%d", pid);
	_cleanup_close_ int dir = fs_open_child(procfd, name, O_PATH | O_DIRECTORY, &err);
	if (dir < 0 || (n = procs_read_small(dir, "cgroup", buf, sizeof(buf))) < 0)
		return NULL;
	struct proc_info *p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->ct_pid = -1;
	if (top_cgroup_parse(buf, (size_t)n, &cg)) {
		memcpy(p->ct, cg.ct, sizeof(p->ct));
		memcpy(p->nested, cg.nested, sizeof(p->nested));
		p->ct[sizeof(p->ct) - 1] = p->nested[sizeof(p->nested) - 1] = '\0';
		if ((n = procs_read_small(dir, "status", buf, sizeof(buf))) >= 0 &&
		    top_nspid_parse(buf, (size_t)n, nspid, 8) >= 2)
			p->ct_pid = nspid[1];
	}
	if ((n = procs_read_small(dir, "cmdline", buf, sizeof(buf))) > 0)
		top_cmdline_text(buf, (size_t)n, p->command, sizeof(p->command));
	if (!p->command[0] && (n = procs_read_small(dir, "comm", buf, sizeof(buf))) > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		char comm[64];
		top_cmdline_text(buf, strlen(buf), comm, sizeof(comm));
		snprintf(p->command, sizeof(p->command), "[%s]", comm);
	}
	return p;
}

const struct proc_info *procs_get(struct procs *c, int pid)
{
	struct proc_info *p = c->slots[slot_of(c, pid)];
	if (!p) {
		p = read_proc(c->procfd, pid);
		if (!p)
			return NULL;
		insert(c, p);
	}
	p->seen = true;
	return p;
}

void procs_sweep(struct procs *c)
{
	struct proc_info **old = c->slots;
	size_t oldcap = c->cap;
	c->slots = xcalloc(c->cap, sizeof(*c->slots));
	c->n = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i])
			continue;
		if (old[i]->seen) {
			old[i]->seen = false;
			c->slots[slot_of(c, old[i]->pid)] = old[i];
			c->n++;
		} else {
			free(old[i]);
		}
	}
	free(old);
}

void procs_close(struct procs *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		free(c->slots[i]);
	free(c->slots);
	close(c->procfd);
	free(c);
}
