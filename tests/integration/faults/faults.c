/* LD_PRELOAD fault injection for the integration tests: makes real
 * races happen at the worst moment, deterministically.
 *   FAULT_VANISH=PATH     unlink PATH just before fimguard opens it
 *                         (it vanished between the walk and the read)
 *   FAULT_GROW=PATH       append a byte to PATH after each read(2) of it,
 *   FAULT_GROW_TIMES=N    N times in all (the file changes mid-hash)
 *   FAULT_MARK=PATH       fanotify_mark() of PATH fails with EOPNOTSUPP
 *                         (as on a filesystem without permission events)
 * Only the content-reading opens (O_RDONLY|O_NOFOLLOW) are touched, by
 * path or relative to a directory fd (openat). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
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

/* The path meant by (dirfd, name): fimguard opens files relative to
 * their directory's fd. */
static const char *
faults_path(int dirfd, const char *name, char *buf, size_t n)
{
	char link[64];
	ssize_t len;

	if (dirfd == AT_FDCWD || name[0] == '/')
		return name;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	if ((len = readlink(link, buf, n - 1)) < 0)
		return name;
	buf[len] = '\0';
	snprintf(buf + len, n - (size_t)len, "%s%s",
	    strcmp(buf, "/") != 0 ? "/" : "", name);
	return buf;
}

static int
faults_open(int dirfd, const char *name, int flags, mode_t mode)
{
	char buf[8192];
	const char *path = faults_path(dirfd, name, buf, sizeof(buf));
	int fd;

	if ((flags & O_NOFOLLOW) && faults_target("FAULT_VANISH", path))
		unlinkat(dirfd, name, 0);
	fd = (int)syscall(SYS_openat, dirfd, name, flags, mode);
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
	return faults_open(AT_FDCWD, path, flags, mode);
}

int open64(const char *, int, ...) __attribute__((alias("open")));

int
openat(int dirfd, const char *name, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return faults_open(dirfd, name, flags, mode);
}

int openat64(int, const char *, int, ...) __attribute__((alias("openat")));

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

/* The monitor marks through /proc/self/fd links: resolved here. */
int
fanotify_mark(int fd, unsigned int flags, uint64_t mask, int dirfd,
    const char *path)
{
	char buf[8192];
	const char *p = path;
	ssize_t n;

	if (path != NULL && strncmp(path, "/proc/self/fd/", 14) == 0 &&
	    (n = readlink(path, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		p = buf;
	}
	if (p != NULL && faults_target("FAULT_MARK", p)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return (int)syscall(SYS_fanotify_mark, fd, flags, mask, dirfd, path);
}
