/* LD_PRELOAD fault injection for the integration tests: makes real
 * races and failures happen at the worst moment, deterministically.
 *   FAULT_VANISH=PATH     unlink PATH just before fimguard opens it
 *                         (it vanished between the walk and the read)
 *   FAULT_GROW=PATH       append a byte to PATH after each read(2) of it,
 *   FAULT_GROW_TIMES=N    N times in all (the file changes mid-hash)
 *   FAULT_ENOSPC=SUBSTR   write(2) to a file whose path contains SUBSTR
 *   FAULT_ENOSPC_AFTER=N  fails with ENOSPC once N bytes (default 0) have
 *                         gone to such files in all; the write that
 *                         crosses N is cut short, as a full disk does
 *   FAULT_KILL=WHEN-OP:SUBSTR   SIGKILL the process at a named point:
 *                         WHEN is before or after, OP is write (a file
 *                         whose path contains SUBSTR), rename (the new
 *                         name ends with SUBSTR) or fsync (the file)
 *                         or unlink (the path contains SUBSTR)
 *   FAULT_KILL_SKIP=N     ... but only at the (N+1)th such point
 *   FAULT_KILL_UID=N      ... and only in a process of that uid (the
 *                         alerter's, not the monitor's)
 *   FAULT_MARK=PATH       fanotify_mark() of PATH fails with EOPNOTSUPP
 *                         (as on a filesystem without permission events)
 *   FAULT_WRITE_MARK=PATH append "+" to PATH just before its first
 *                         fanotify_mark() (a change made after the
 *                         monitor's start-up scan, before its marks)
 * VANISH and GROW touch only the content-reading opens
 * (O_RDONLY|O_NOFOLLOW), by path or relative to a directory fd (openat).
 * Calls glibc makes internally (stdio's buffered
 * writes, mkostemp's open) cannot be interposed: the points above are
 * the ones fimguard reaches through its own calls. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int grow_fd = -1;
static int grown;
static int written;	/* FAULT_WRITE_MARK done */
static long kill_seen;	/* FAULT_KILL points met (FAULT_KILL_SKIP) */
static unsigned long long enospc_used;

static int
faults_target(const char *env, const char *path)
{
	const char *t = getenv(env);

	return t != NULL && strcmp(t, path) == 0;
}

/* The path an fd refers to, from /proc (empty if unknown). */
static void
faults_fd_path(int fd, char *buf, size_t n)
{
	char link[64];
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = (ssize_t)syscall(SYS_readlinkat, AT_FDCWD, link, buf, n - 1);
	buf[len > 0 ? len : 0] = '\0';
}

/* Does FAULT_KILL=WHEN-OP:PATTERN name this point? A rename's new name
 * must end with PATTERN (baseline.json, not baseline.json.XXXXXX); any
 * other path must contain it. */
static void
faults_kill_point(const char *when, const char *op, const char *path)
{
	const char *spec = getenv("FAULT_KILL"), *colon, *pat;
	size_t wl = strlen(when), ol = strlen(op), pl, n;

	if (spec == NULL || path == NULL || (colon = strchr(spec, ':')) == NULL)
		return;
	pat = colon + 1;
	pl = strlen(pat);
	n = strlen(path);
	if ((size_t)(colon - spec) != wl + 1 + ol ||
	    strncmp(spec, when, wl) != 0 || spec[wl] != '-' ||
	    strncmp(spec + wl + 1, op, ol) != 0)
		return;
	if (strcmp(op, "rename") == 0 ? n < pl ||
	    strcmp(path + n - pl, pat) != 0 : strstr(path, pat) == NULL)
		return;
	if (getenv("FAULT_KILL_UID") != NULL &&
	    getuid() != (uid_t)strtoul(getenv("FAULT_KILL_UID"), NULL, 10))
		return;
	if (getenv("FAULT_KILL_SKIP") != NULL &&
	    __atomic_fetch_add(&kill_seen, 1, __ATOMIC_RELAXED) <
	    strtol(getenv("FAULT_KILL_SKIP"), NULL, 10))
		return;
	syscall(SYS_kill, getpid(), SIGKILL);
}

static void
faults_kill_fd(const char *when, const char *op, int fd)
{
	char path[4096];

	if (getenv("FAULT_KILL") == NULL)
		return;
	faults_fd_path(fd, path, sizeof(path));
	faults_kill_point(when, op, path);
}

/* How many of n bytes a write to fd may put down (*match: fd is one
 * FAULT_ENOSPC names); 0 with errno ENOSPC when none. */
static size_t
faults_enospc(int fd, size_t n, int *match)
{
	const char *pat = getenv("FAULT_ENOSPC"), *after;
	unsigned long long cap, used, room;
	char path[4096];

	*match = 0;
	if (pat == NULL || n == 0)
		return n;
	faults_fd_path(fd, path, sizeof(path));
	if (strstr(path, pat) == NULL)
		return n;
	*match = 1;
	after = getenv("FAULT_ENOSPC_AFTER");
	cap = after ? strtoull(after, NULL, 10) : 0;
	used = __atomic_load_n(&enospc_used, __ATOMIC_RELAXED);
	room = used < cap ? cap - used : 0;
	if (room == 0)
		errno = ENOSPC;
	return room < n ? (size_t)room : n;
}

/* The path meant by (dirfd, name): fimguard opens files relative to
 * their directory's fd. */
static const char *
faults_path(int dirfd, const char *name, char *buf, size_t n)
{
	size_t len;

	if (dirfd == AT_FDCWD || name[0] == '/')
		return name;
	faults_fd_path(dirfd, buf, n);
	if ((len = strlen(buf)) == 0)
		return name;
	snprintf(buf + len, n - len, "%s%s", strcmp(buf, "/") != 0 ? "/" : "",
	    name);
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
unlinkat(int dirfd, const char *name, int flags)
{
	char buf[8192];

	faults_kill_point("before", "unlink", faults_path(dirfd, name, buf,
	    sizeof(buf)));
	return (int)syscall(SYS_unlinkat, dirfd, name, flags);
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

ssize_t
write(int fd, const void *buf, size_t n)
{
	size_t allowed;
	ssize_t r;
	int match;

	faults_kill_fd("before", "write", fd);
	if ((allowed = faults_enospc(fd, n, &match)) == 0 && n > 0)
		return -1;
	r = syscall(SYS_write, fd, buf, allowed);
	if (match && r > 0)
		__atomic_fetch_add(&enospc_used, (unsigned long long)r,
		    __ATOMIC_RELAXED);
	faults_kill_fd("after", "write", fd);
	return r;
}

int
fsync(int fd)
{
	int r;

	faults_kill_fd("before", "fsync", fd);
	r = (int)syscall(SYS_fsync, fd);
	faults_kill_fd("after", "fsync", fd);
	return r;
}

int
renameat2(int ofd, const char *from, int nfd, const char *to,
    unsigned int flags)
{
	int r;

	faults_kill_point("before", "rename", to);
	r = (int)syscall(SYS_renameat2, ofd, from, nfd, to, flags);
	if (r == 0)
		faults_kill_point("after", "rename", to);
	return r;
}

int
renameat(int ofd, const char *from, int nfd, const char *to)
{
	return renameat2(ofd, from, nfd, to, 0);
}

int
rename(const char *from, const char *to)
{
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, 0);
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
	if (p != NULL && faults_target("FAULT_WRITE_MARK", p) && !written) {
		int w = (int)syscall(SYS_openat, AT_FDCWD, p,
		    O_WRONLY | O_APPEND, 0);

		written = 1;
		if (w >= 0) {
			if (syscall(SYS_write, w, "+", 1) != 1)
				written = 2;
			syscall(SYS_close, w);
		}
	}
	return (int)syscall(SYS_fanotify_mark, fd, flags, mask, dirfd, path);
}
