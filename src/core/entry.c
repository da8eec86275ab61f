/* Entries: metadata from lstat, symlink targets and security xattrs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/entry.h"
#include "core/log.h"
#include "core/util.h"

#define ENTRY_XATTR_LIST_MAX	65536
#define ENTRY_XATTR_VALUE_MAX	65536

static const char *entry_type_names[] = {
	"file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev",
	"unknown"
};

struct entry *
entryvec_add(struct entryvec *ev)
{
	if (ev->n == ev->cap) {
		ev->cap = ev->cap ? ev->cap * 2 : 256;
		ev->v = xreallocarray(ev->v, ev->cap, sizeof(*ev->v));
	}
	memset(&ev->v[ev->n], 0, sizeof(ev->v[0]));
	return &ev->v[ev->n++];
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path,
	    ((const struct entry *)b)->path);
}

void
entryvec_sort(struct entryvec *ev)
{
	if (ev->n > 1)
		qsort(ev->v, ev->n, sizeof(*ev->v), entry_cmp);
}

void
entry_free(struct entry *e)
{
	free(e->path);
	free(e->target);
	free(e->xattrs);
	free(e->error);
	free(e->pkgsum);
}

void
entryvec_free(struct entryvec *ev)
{
	for (size_t i = 0; i < ev->n; i++)
		entry_free(&ev->v[i]);
	free(ev->v);
	memset(ev, 0, sizeof(*ev));
}

const char *
entry_type_name(int t)
{
	return t >= 0 && t <= ENTRY_UNKNOWN ? entry_type_names[t] : "unknown";
}

int
entry_type_parse(const char *s)
{
	for (int t = 0; t <= ENTRY_UNKNOWN; t++)
		if (strcmp(s, entry_type_names[t]) == 0)
			return t;
	return -1;
}

static int
entry_type_of(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return ENTRY_FILE;
	case S_IFDIR: return ENTRY_DIR;
	case S_IFLNK: return ENTRY_SYMLINK;
	case S_IFIFO: return ENTRY_FIFO;
	case S_IFSOCK: return ENTRY_SOCKET;
	case S_IFCHR: return ENTRY_CHARDEV;
	case S_IFBLK: return ENTRY_BLOCKDEV;
	default: return ENTRY_UNKNOWN;
	}
}

void
entry_from_stat(struct entry *e, const struct stat *st)
{
	e->type = (uint8_t)entry_type_of(st->st_mode);
	e->mode = (uint16_t)(st->st_mode & 07777);
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->size = (uint64_t)st->st_size;
	/* More than 2^32 links cannot exist on any Linux filesystem. */
	e->nlink = (uint32_t)st->st_nlink;
	e->ino = st->st_ino;
	e->dev = st->st_dev;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 +
	    st->st_ctim.tv_nsec;
	/* Device numbers are content for device nodes. */
	if (e->type == ENTRY_CHARDEV || e->type == ENTRY_BLOCKDEV)
		e->size = st->st_rdev;
}

/* Only xattrs that carry security meaning: SELinux/SMACK/IMA labels,
 * file capabilities and POSIX ACLs. user.* is free-form data. */
static int
entry_xattr_wanted(const char *name)
{
	return strncmp(name, "security.", 9) == 0 ||
	    strncmp(name, "system.posix_acl_", 17) == 0;
}

static int
entry_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* path: read by name without following a link, unless follow (a
 * /proc/self/fd link, followed to the object it stands for). */
static ssize_t
entry_listxattr(int fd, const char *path, int follow, char *buf, size_t n)
{
	if (fd >= 0)
		return flistxattr(fd, buf, n);
	return follow ? listxattr(path, buf, n) : llistxattr(path, buf, n);
}

static ssize_t
entry_getxattr(int fd, const char *path, int follow, const char *name,
    void *buf, size_t n)
{
	if (fd >= 0)
		return fgetxattr(fd, name, buf, n);
	return follow ? getxattr(path, name, buf, n) :
	    lgetxattr(path, name, buf, n);
}

/* Canonical form, sorted by name so that two reads compare equal.
 * Through fd when there is one (no second path lookup, and the same
 * object that was hashed), else by path. */
static char *
entry_xattrs_read(int fd, const char *path, int follow)
{
	static __thread char list[ENTRY_XATTR_LIST_MAX];
	char *out = NULL;
	const char *names[512];
	size_t nn = 0, outlen = 0;
	/* The kernel allocates as much as the buffer we offer: ask small
	 * first (most files have no xattrs) and large only on ERANGE. */
	ssize_t len = entry_listxattr(fd, path, follow, list, 1024);

	if (len < 0 && errno == ERANGE)
		len = entry_listxattr(fd, path, follow, list, sizeof(list));
	if (len <= 0)
		return NULL;
	for (char *p = list; p < list + len && nn < 512; p += strlen(p) + 1)
		if (entry_xattr_wanted(p))
			names[nn++] = p;
	qsort(names, nn, sizeof(names[0]), entry_name_cmp);
	for (size_t i = 0; i < nn; i++) {
		static __thread uint8_t val[ENTRY_XATTR_VALUE_MAX];
		ssize_t vl = entry_getxattr(fd, path, follow, names[i], val,
		    sizeof(val));
		char *b64, *line;

		if (vl < 0)
			continue;
		b64 = util_b64_encode(val, (size_t)vl);
		line = xasprintf("%s\t%s\n", names[i], b64);
		out = xreallocarray(out, outlen + strlen(line) + 1, 1);
		memcpy(out + outlen, line, strlen(line) + 1);
		outlen += strlen(line);
		free(b64);
		free(line);
	}
	return out;
}

/* Is /proc there (asked once)? */
static int
entry_have_proc(void)
{
	static int have = -1;
	int h = __atomic_load_n(&have, __ATOMIC_RELAXED);

	if (h < 0) {
		h = access("/proc/self/fd", X_OK) == 0;
		__atomic_store_n(&have, h, __ATOMIC_RELAXED);
	}
	return h;
}

/* Security xattrs of name in dirfd without following a link and
 * without opening the object for reading (a FIFO, a device, a
 * directory that may not be listed): through an O_PATH fd, whose
 * /proc/self/fd link leads to exactly that object (a symlink
 * included). Without /proc, by path, if it fits in one. */
void
entry_read_xattrs_at(struct entry *e, int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	char proc[64];

	free(e->xattrs);
	e->xattrs = NULL;
	if (fd < 0)
		return;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (entry_have_proc())
		e->xattrs = entry_xattrs_read(-1, proc, 1);
	else if (strlen(e->path) < PATH_MAX)
		e->xattrs = entry_xattrs_read(-1, e->path, 0);
	close(fd);
}

/* Security xattrs of an open regular file (scan.c, while hashing). */
void
entry_read_xattrs_fd(struct entry *e, int fd)
{
	free(e->xattrs);
	e->xattrs = entry_xattrs_read(fd, e->path, 0);
}

/* The parts lstat does not give: symlink target and security xattrs.
 * dirfd/name locate the object without following links. Regular
 * files get their xattrs later, from the fd they are hashed through. */
int
entry_read_meta(struct entry *e, int dirfd, const char *name)
{
	if (e->type == ENTRY_SYMLINK) {
		char buf[4097];
		ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);

		if (n < 0)
			return -1;
		buf[n] = '\0';
		e->target = xstrdup(buf);
	}
	if (e->type != ENTRY_FILE)
		entry_read_xattrs_at(e, dirfd, name);
	return 0;
}
