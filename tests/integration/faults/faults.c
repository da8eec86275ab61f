/* LD_PRELOAD fault injection for the integration tests: makes real
 * races happen at the worst moment, deterministically.
 *   FAULT_VANISH=PATH     unlink PATH just before fimguard opens it
 *                         (it vanished between the walk and the read)
 *   FAULT_GROW=PATH       append a byte to PATH after each read(2) of it,
 *   FAULT_GROW_TIMES=N    N times in all (the file changes mid-hash)
 * Only the content-reading opens (O_RDONLY|O_NOFOLLOW) are touched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int grow_fd = -1;
static int grown;

static int
faults_target(const char *env, const char *path)
{
	const char *t = getenv(env);

	return t != NULL && strcmp(t, path) == 0;
}

static int
faults_open(const char *path, int flags, mode_t mode)
{
	int fd;

	if ((flags & O_NOFOLLOW) && faults_target("FAULT_VANISH", path))
		unlink(path);
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
	if (fd >= 0 && (flags & O_NOFOLLOW) && faults_target("FAULT_GROW", path))
		grow_fd = fd;
	return fd;
}

int
open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return faults_open(path, flags, mode);
}

int open64(const char *, int, ...) __attribute__((alias("open")));

ssize_t
read(int fd, void *buf, size_t n)
{
	ssize_t r = syscall(SYS_read, fd, buf, n);
	const char *times = getenv("FAULT_GROW_TIMES");

	if (fd == grow_fd && r > 0 && grown < (times ? atoi(times) : 1)) {
		int w = (int)syscall(SYS_openat, AT_FDCWD,
		    getenv("FAULT_GROW"), O_WRONLY | O_APPEND, 0);

		if (w >= 0) {
			if (syscall(SYS_write, w, "+", 1) == 1)
				grown++;
			syscall(SYS_close, w);
		}
	}
	return r;
}
