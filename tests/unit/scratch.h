/* A scratch root for unit tests that need files: a directory under /tmp,
 * opened as lxgpu opens a host root, removed afterwards. Include after
 * <cmocka.h>. */
#ifndef LXGPU_TEST_SCRATCH_H
#define LXGPU_TEST_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

static char root[256];
static int rootfd = -1;

static void put(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void mk(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

/* name: a word for the directory ("/tmp/lxgpu-test-NAME.XXXXXX") */
static int scratch_make(const char *name)
{
	snprintf(root, sizeof(root), "/tmp/lxgpu-test-%s.XXXXXX", name);
	return mkdtemp(root) ? 0 : -1;
}

static int scratch_open(void)
{
	struct lxgpu_err err = { 0 };
	rootfd = fs_open_root(root, &err);
	return rootfd < 0 ? -1 : 0;
}

static int scratch_remove(void **state)
{
	(void)state;
	char cmd[512];
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
