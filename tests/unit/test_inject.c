/* inject_blocked, on a scratch container root: which files to bind onto and
 * which links a bind needs made, when the one who would make them may not
 * write a directory. The expectations are inject_driver's names: each file,
 * its SONAME links, and libcuda.so beside libcuda. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest/inject.h"

#define V "580.159.04"

static char root[256];
static int rootfd = -1;

/* a shell command; $R is the scratch root */
static void sh(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/lxgpu-test-inject.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	setenv("R", root, 1);
	sh("mkdir -p $R/etc $R/usr/lib/x86_64-linux-gnu $R/usr/bin && echo 12 "
	   ">$R/etc/debian_version");
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	close(rootfd);
	sh("rm -rf \"$R\"");
	return 0;
}

/* libcuda (SONAME link libcuda.so.1), libnvidia-ml (.so.1) and nvidia-smi */
static char *cuda_links[] = { "libcuda.so.1" }, *ml_links[] = { "libnvidia-ml.so.1" };
static struct driver_file files[] = {
	{ "/h/libcuda.so." V, "libcuda.so." V, true, cuda_links, 1 },
	{ "/h/libnvidia-ml.so." V, "libnvidia-ml.so." V, true, ml_links, 1 },
	{ "/h/nvidia-smi", "nvidia-smi", false, NULL, 0 },
};
static const struct driver_files driver = { V, files, 3 };

/* "no" for the directory whose inode is *arg, "yes" elsewhere */
static bool not_this(int dirfd, const void *arg)
{
	struct stat st;
	return fstat(dirfd, &st) == 0 && st.st_ino != *(const ino_t *)arg;
}
static bool never(int dirfd, const void *arg)
{
	(void)dirfd;
	(void)arg;
	return false;
}
static bool always(int dirfd, const void *arg)
{
	(void)dirfd;
	(void)arg;
	return true;
}
static ino_t ino(const char *rel)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static void test_blocked(void **state)
{
	(void)state;
	char first[256];

	assert_int_equal(inject_blocked(rootfd, &driver, always, NULL, first, sizeof(first)), 0);
	assert_string_equal(first, "");
	assert_true(inject_may_dirs(rootfd, always, NULL));
	assert_false(inject_may_dirs(rootfd, never, NULL));

	/* 2 files, 2 SONAME links, libcuda.so, nvidia-smi */
	assert_int_equal(inject_blocked(rootfd, &driver, never, NULL, first, sizeof(first)), 6);
	assert_string_equal(first, "/usr/lib/x86_64-linux-gnu/libcuda.so." V);

	/* what is there already needs nothing */
	sh("cd $R/usr/lib/x86_64-linux-gnu && touch libcuda.so." V " libnvidia-ml.so." V
	   " && ln -s libcuda.so." V " libcuda.so.1 && ln -s libcuda.so." V " libcuda.so"
	   " && ln -s libnvidia-ml.so." V " libnvidia-ml.so.1");
	assert_int_equal(inject_blocked(rootfd, &driver, never, NULL, first, sizeof(first)), 1);
	assert_string_equal(first, "/usr/bin/nvidia-smi");
	ino_t bin = ino("usr/bin");
	assert_int_equal(inject_blocked(rootfd, &driver, not_this, &bin, first, sizeof(first)), 1);
	assert_false(inject_may_dirs(rootfd, not_this, &bin));
	ino_t lib = ino("usr/lib/x86_64-linux-gnu");
	assert_int_equal(inject_blocked(rootfd, &driver, not_this, &lib, first, sizeof(first)), 0);

	/* a link to another version, or a symlink where a file should be */
	sh("cd $R/usr/lib/x86_64-linux-gnu && ln -sfn libnvidia-ml.so.570.86.10 libnvidia-ml.so.1"
	   " && rm libcuda.so." V " && ln -s /etc/passwd libcuda.so." V);
	assert_int_equal(inject_blocked(rootfd, &driver, not_this, &lib, first, sizeof(first)), 2);
	assert_string_equal(first, "/usr/lib/x86_64-linux-gnu/libcuda.so." V);

	/* no library directory: its names are all missing; its parent decides */
	sh("rm -rf $R/usr/lib/x86_64-linux-gnu");
	ino_t usrlib = ino("usr/lib");
	assert_int_equal(inject_blocked(rootfd, &driver, not_this, &usrlib, first, sizeof(first)),
			 5);
	assert_false(inject_may_dirs(rootfd, not_this, &usrlib));
	assert_int_equal(inject_blocked(rootfd, &driver, not_this, &lib, first, sizeof(first)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocked),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
