/* Scope-bound ownership: every owned resource is declared with one of these
 * and an initialised sentinel, and leaves a function only through TAKE_PTR or
 * TAKE_FD. Each cleaner accepts the sentinel and keeps errno. */
#ifndef LXGPU_CLEANUP_H
#define LXGPU_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -EBADF;
}

static inline void fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;
		fclose(*f);
		errno = saved;
	}
	*f = NULL;
}

static inline void closedirp(DIR **d)
{
	if (*d) {
		int saved = errno;
		closedir(*d);
		errno = saved;
	}
	*d = NULL;
}

#define _cleanup_(f)       __attribute__((cleanup(f)))
#define _cleanup_free_     _cleanup_(freep)
#define _cleanup_close_    _cleanup_(closep)
#define _cleanup_fclose_   _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _taken_ = (p);                                                       \
		(p) = NULL;                                                                        \
		_taken_;                                                                           \
	})

#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _taken_fd_ = (fd);                                                             \
		(fd) = -EBADF;                                                                     \
		_taken_fd_;                                                                        \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
