/* fimguard's own files (keys, baseline, history, config, policy, the
 * events file): opened without waiting on whatever sits at the path,
 * appended to whole or not at all, replaced atomically. A full disk or
 * a FIFO swapped in must give a clear error, never a hang, a torn line
 * or a half-written key. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "core/util.h"

static const char *
file_type_name(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a plain file";
}

static int
file_not_regular(const char *path, mode_t m, int fd, char **why)
{
	if (fd >= 0)
		close(fd);
	*why = xasprintf("%s: not a regular file (%s)", path,
	    file_type_name(m));
	errno = EINVAL;
	return -1;
}

/* O_NONBLOCK: opening a FIFO for reading does not wait for a writer,
 * and for writing fails (ENXIO) instead of waiting for a reader; a
 * device is not opened for long enough to matter. Then anything but a
 * regular file is refused. flags may hold O_NOFOLLOW where a symlink is
 * not expected. Returns the fd, or -1 with errno and *why (allocated,
 * naming the path). */
int
file_open(const char *path, int flags, mode_t mode, char **why)
{
	int fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
	struct stat st;
	int err;

	*why = NULL;
	if (fd < 0) {
		err = errno;
		if ((err == ENXIO || err == ELOOP || err == EISDIR) &&
		    lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
			return file_not_regular(path, st.st_mode, -1, why);
		*why = xasprintf("%s: %s", path, strerror(err));
		errno = err;
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		*why = xasprintf("%s: %s", path, strerror(err));
		errno = err;
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		return file_not_regular(path, st.st_mode, fd, why);
	return fd;
}

/* Take back the last n bytes this fd appended, if nothing came after
 * them (the caller holds the file's lock, so no fimguard writer did). */
static void
file_take_back(int fd, size_t n)
{
	off_t end = lseek(fd, 0, SEEK_CUR);
	struct stat st;

	if (end >= (off_t)n && fstat(fd, &st) == 0 && st.st_size == end &&
	    ftruncate(fd, end - (off_t)n) < 0)
		return;		/* nothing more can be done on this disk */
}

static ssize_t
file_write(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* Append buf to an O_APPEND fd whole or not at all: a disk that fills
 * up mid-write leaves a short write, which is taken back, so the file
 * never holds half a line joined to the next. The write is tried twice
 * (the second tells the real errno: a short write sets none). Every
 * fimguard writer holds flock(2) meanwhile, so nobody appends between
 * our piece and its removal. Returns 0, or -1 with errno. */
int
file_append(int fd, const void *buf, size_t len)
{
	int locked = flock(fd, LOCK_EX) == 0, err = ENOSPC;

	for (int i = 0; i < 2; i++) {
		ssize_t n = file_write(fd, buf, len);

		if (n == (ssize_t)len) {
			if (locked)
				flock(fd, LOCK_UN);
			return 0;
		}
		if (n < 0) {
			err = errno;
			break;
		}
		file_take_back(fd, (size_t)n);
	}
	if (locked)
		flock(fd, LOCK_UN);
	errno = err;
	return -1;
}

int
file_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

static int
file_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = file_write(fd, p, n);

		if (w < 0)
			return -1;
		if (w == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* dir/name holds exactly buf afterwards, or is as it was: written to
 * dir/.tmp.name.XXXXXX, fsynced, renamed over, and the directory
 * fsynced (a crash leaves the old file or the new, and a stray
 * temporary that the next locked command removes). Returns 0, or -1
 * with errno and *why. */
static int
file_write_tmp(int fd, const void *buf, size_t len, mode_t mode)
{
	int r = fchmod(fd, mode) < 0 || file_write_all(fd, buf, len) < 0 ||
	    fsync(fd) < 0 ? -1 : 0, err = errno;

	if (close(fd) < 0 && r == 0)
		return -1;
	errno = err;
	return r;
}

int
file_replace(const char *dir, const char *name, const void *buf,
    size_t len, mode_t mode, char **why)
{
	char *tmp = xasprintf("%s/" FILE_TMP_PREFIX "%s.XXXXXX", dir, name);
	char *dst = xasprintf("%s/%s", dir, name);
	int fd = mkostemp(tmp, O_CLOEXEC), r = -1;

	*why = NULL;
	if (fd >= 0 && file_write_tmp(fd, buf, len, mode) == 0 &&
	    rename(tmp, dst) == 0)
		r = 0;
	if (r < 0) {
		int err = errno;

		*why = xasprintf("%s: %s", dst, strerror(err));
		if (fd >= 0)
			unlink(tmp);
		errno = err;
	} else if (file_sync_dir(dir) < 0) {
		*why = xasprintf("%s: fsync: %s", dir, strerror(errno));
		r = -1;
	}
	free(tmp);
	free(dst);
	return r;
}
