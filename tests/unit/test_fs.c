/* The MUST rules of src/fs.h, one test each, on a scratch root. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/fs.h"

#include "scratch.h"

static void ln(const char *target, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
	(void)state;
	if (scratch_make("fs") < 0)
		return -1;
	mk("etc");
	put("etc/hostname", "inside\n");
	mk("a");
	mk("a/b");
	ln("/etc/hostname", "abs-link");
	ln("../../../../../../etc/hostname", "a/b/dotdot-link");
	return scratch_open();
}

static void read_expect(const char *path, const char *want)
{
	struct lxgpu_err err = { 0 };
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(fs_read_in(rootfd, path, 4096, &text, &len, &err), 0);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	free(text);
}

/* MUST: no symlink or ".." leaves the root. */
static void test_symlinks_stay_in_root(void **state)
{
	(void)state;
	read_expect("abs-link", "inside\n");        /* "/etc/hostname" means root/etc/hostname */
	read_expect("a/b/dotdot-link", "inside\n"); /* ".." stops at the root */
	read_expect("../../../etc/hostname", "inside\n");
	read_expect("/etc/hostname", "inside\n");
}

/* MUST: magic links (/proc/self/fd/N) are refused. */
static void test_magic_links_refused(void **state)
{
	(void)state;
	struct lxgpu_err err = { 0 };
	char path[64];
	struct lxgpu_err e2 = { 0 };
	int realroot = fs_open_root("/", &e2);
	assert_true(realroot >= 0);
	snprintf(path, sizeof(path), "proc/self/fd/%d", rootfd);
	int fd = fs_open_in(realroot, path, O_PATH, 0, &err);
	assert_int_equal(fd, -ELOOP);
	close(realroot);
}

/* MUST: reads accept regular files only, without blocking on a FIFO. */
static void test_reads_regular_files_only(void **state)
{
	(void)state;
	char path[512];
	char *text = NULL;
	struct lxgpu_err err = { 0 };

	snprintf(path, sizeof(path), "%s/fifo", root);
	assert_int_equal(mkfifo(path, 0644), 0);
	time_t start = time(NULL);
	assert_int_equal(fs_read_in(rootfd, "fifo", 4096, &text, NULL, &err), -EINVAL);
	assert_true(time(NULL) - start < 2);
	assert_string_equal(err.msg, "/fifo: not a regular file");

	lxgpu_err_clear(&err);
	assert_int_equal(fs_read_in(rootfd, "a", 4096, &text, NULL, &err), -EINVAL);

	if (geteuid() == 0) {
		snprintf(path, sizeof(path), "%s/null", root);
		assert_int_equal(mknod(path, S_IFCHR | 0666, makedev(1, 3)), 0);
		lxgpu_err_clear(&err);
		assert_int_equal(fs_read_in(rootfd, "null", 4096, &text, NULL, &err), -EINVAL);
	}
}

/* fs_pread_whole: the file again from its start through an fd already read
 * to its end, the offset left alone; an edit in place shows, longer or
 * shorter (sync's read under the lock, container.h). */
static void test_pread_whole_reads_again(void **state)
{
	(void)state;
	struct lxgpu_err err = { 0 };
	struct stat st;
	char *text = NULL;
	size_t len = 0;

	put("again", "first\n");
	int fd = fs_open_child(rootfd, "again", O_RDONLY, &err);
	assert_true(fd >= 0);
	assert_int_equal(fs_read_fd_stat(fd, "/again", 4096, &text, &len, &st, &err), 0);
	assert_string_equal(text, "first\n");
	assert_int_equal(st.st_size, 6);
	free(text);

	const char *const edits[] = { "second, longer than the first\n", "3\n", "" };
	for (size_t i = 0; i < 3; i++) {
		put("again", edits[i]); /* the same file, rewritten in place */
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(fs_pread_whole(fd, &st, "/again", 4096, &text, &len, &err), 0);
		assert_string_equal(text, edits[i]);
		assert_int_equal(len, strlen(edits[i]));
		free(text);
	}
	/* a stat that says less than is there: read to the end all the same */
	put("again", "0123456789\n");
	st.st_size = 3;
	assert_int_equal(fs_pread_whole(fd, &st, "/again", 4096, &text, &len, &err), 0);
	assert_string_equal(text, "0123456789\n");
	free(text);
	/* and the limit holds */
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(fs_pread_whole(fd, &st, "/again", 4, &text, &len, &err), -EFBIG);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 6); /* the offset stays */
	close(fd);
}

static void test_size_limit(void **state)
{
	(void)state;
	char *text = NULL;
	struct lxgpu_err err = { 0 };
	put("big", "0123456789");
	assert_int_equal(fs_read_in(rootfd, "big", 9, &text, NULL, &err), -EFBIG);
	lxgpu_err_clear(&err);
	assert_int_equal(fs_read_in(rootfd, "big", 10, &text, NULL, &err), 0);
	assert_string_equal(text, "0123456789");
	free(text);
}

/* MUST: a listed name is one component and never followed. */
static void test_open_child_one_component(void **state)
{
	(void)state;
	struct lxgpu_err err = { 0 };
	assert_int_equal(fs_open_child(rootfd, "etc/hostname", O_RDONLY, &err), -EINVAL);
	lxgpu_err_clear(&err);
	assert_int_equal(fs_open_child(rootfd, "..", O_RDONLY, &err), -EINVAL);
	lxgpu_err_clear(&err);
	assert_int_equal(fs_open_child(rootfd, "", O_RDONLY, &err), -EINVAL);
	lxgpu_err_clear(&err);
	assert_int_equal(fs_open_child(rootfd, "abs-link", O_RDONLY, &err), -ELOOP);
	lxgpu_err_clear(&err);
	int fd = fs_open_child(rootfd, "etc", O_RDONLY | O_DIRECTORY, &err);
	assert_true(fd >= 0);
	close(fd);
}

/* MUST: every fd is O_CLOEXEC. */
static void test_cloexec(void **state)
{
	(void)state;
	struct lxgpu_err err = { 0 };
	int fds[3];
	fds[0] = fs_open_root(root, &err);
	fds[1] = fs_open_in(rootfd, "etc/hostname", O_RDONLY, 0, &err);
	fds[2] = fs_open_child(rootfd, "etc", O_RDONLY | O_DIRECTORY, &err);
	for (int i = 0; i < 3; i++) {
		assert_true(fds[i] >= 0);
		assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
		close(fds[i]);
	}
}

static void test_messages_name_host_paths(void **state)
{
	(void)state;
	struct lxgpu_err err = { 0 };
	char *text = NULL;
	assert_int_equal(fs_read_in(rootfd, "proc/nothing", 10, &text, NULL, &err), -ENOENT);
	assert_string_equal(err.msg, "/proc/nothing: No such file or directory");
	lxgpu_wrap(&err, "discover");
	assert_string_equal(err.msg, "discover: /proc/nothing: No such file or directory");
	/* set once: a later failure does not replace the cause */
	lxgpu_fail(&err, EIO, "later");
	assert_int_equal(err.code, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symlinks_stay_in_root),
		cmocka_unit_test(test_magic_links_refused),
		cmocka_unit_test(test_reads_regular_files_only),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_pread_whole_reads_again),
		cmocka_unit_test(test_open_child_one_component),
		cmocka_unit_test(test_cloexec),
		cmocka_unit_test(test_messages_name_host_paths),
	};
	return cmocka_run_group_tests(tests, setup, scratch_remove);
}
