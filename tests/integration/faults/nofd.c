/* LD_PRELOAD for the monitor: FAULT_NOFD_SYSCALL=1 makes every open of
 * /proc/<tid>/syscall fail with EMFILE, as when the monitor is out of
 * descriptors, to prove that such a shortage never becomes a denied
 * read (the write count decides instead) and that it is counted. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

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
	if (getenv("FAULT_NOFD_SYSCALL") != NULL &&
	    fnmatch("/proc/*/syscall", path, FNM_PATHNAME) == 0) {
		errno = EMFILE;
		return -1;
	}
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int open64(const char *, int, ...) __attribute__((alias("open")));
