/* Paths opened through directory descriptors, one component at a time
 * from "/", each directory with openat() relative to the one before.
 * Why:
 *  - no length limit: PATH_MAX bounds the string of one system call,
 *    and each call here gets a single name, so a file 250 directories
 *    deep is read, marked and restored like any other (its path is
 *    kept as a string for reports only);
 *  - no detour: a directory whose identity is recorded (the baseline,
 *    the walk that just ran, the monitor's marks) is opened without
 *    following a symbolic link and must still be that (device, inode);
 *    from the first recorded directory on, no link is followed at all.
 *    Above it (the ancestors of a policy root, such as /lib on
 *    merged-/usr systems) links are followed like in any lookup: only
 *    what is recorded can be verified, and a swap above is caught by
 *    the recorded directory below it.
 * A chain keeps the directories of the last path open, so walking a
 * tree in order costs one openat() per new directory; it keeps at most
 * FDPATH_KEEP of them, and opens the others again (verified against
 * what they were) when it climbs back. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fdpath.h"
#include "core/util.h"

#define FDPATH_KEEP	32
/* A path in a reason is cut in the middle past this many bytes: a log
 * line holds 2 KiB, and the reason must still fit after it. */
#define FDPATH_SHOW_MAX	400
#define FDPATH_SHOW_HEAD 120

void
fdpath_init(struct fdpath *c, fdpath_expect_fn fn, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->expect = fn;
	c->arg = arg;
}

static void
fdpath_truncate(struct fdpath *c, size_t n)
{
	while (c->n > n) {
		struct fdpath_level *l = &c->lv[--c->n];

		if (l->fd >= 0)
			close(l->fd);
	}
}

void
fdpath_close(struct fdpath *c)
{
	int saved = errno;

	fdpath_truncate(c, 0);
	free(c->lv);
	free(c->path);
	memset(c, 0, sizeof(*c));
	errno = saved;
}

/* A path for a message: cut in the middle (on a character boundary)
 * when long, so that what follows it still fits in a log line. Not
 * escaped: log.c escapes every line, and json-c every string. */
char *
fdpath_show(const char *path)
{
	size_t n = strlen(path), head = FDPATH_SHOW_HEAD, tail;

	if (n <= FDPATH_SHOW_MAX)
		return xstrdup(path);
	tail = n - (FDPATH_SHOW_MAX - FDPATH_SHOW_HEAD - 3);
	while (head > 0 && ((unsigned char)path[head] & 0xc0) == 0x80)
		head--;
	while (tail < n && ((unsigned char)path[tail] & 0xc0) == 0x80)
		tail++;
	return xasprintf("%.*s...%s", (int)head, path, path + tail);
}

/* A reason naming path: valid UTF-8 (it goes into JSON events too; an
 * invalid byte shows as U+FFFD), cut when long. */
static char *
fdpath_reason(const char *path, const char *what)
{
	char *shown = fdpath_show(path), *lossy = util_utf8_lossy(shown),
	    *r = xasprintf("%s: %s", lossy, what);

	free(lossy);
	free(shown);
	return r;
}

/* Fail with err; the reason names the directory path[0..end). */
static int
fdpath_fail(struct fdpath *c, size_t end, int err, char **why,
    const char *what)
{
	if (why != NULL) {
		char saved = c->path[end];

		c->path[end] = '\0';
		free(*why);
		*why = fdpath_reason(end > 0 ? c->path : ".", what ? what :
		    strerror(err));
		c->path[end] = saved;
	}
	errno = err;
	return -1;
}

/* Recorded identity of path[0..end), if the chain has a source. */
static int
fdpath_expected(struct fdpath *c, size_t end, uint64_t *dev, uint64_t *ino)
{
	char saved;
	int have;

	if (c->expect == NULL)
		return 0;
	saved = c->path[end];
	c->path[end] = '\0';
	have = c->expect(c->arg, c->path, dev, ino);
	c->path[end] = saved;
	return have;
}

static void
fdpath_push(struct fdpath *c, const struct fdpath_level *l)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->lv = xreallocarray(c->lv, c->cap, sizeof(*c->lv));
	}
	c->lv[c->n++] = *l;
	/* Bound the fds: "/" and the deepest FDPATH_KEEP stay open. */
	for (size_t i = 1; i + FDPATH_KEEP < c->n; i++)
		if (c->lv[i].fd >= 0) {
			close(c->lv[i].fd);
			c->lv[i].fd = -1;
		}
}

/* openat() refused a directory: say why, and name a link for what it
 * is when one took a recorded directory's place. */
static int
fdpath_open_failed(struct fdpath *c, int pfd, const char *name, size_t end,
    int strict, char **why)
{
	int err = errno;
	struct stat st;

	if (strict && (err == ENOTDIR || err == ELOOP) &&
	    fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return fdpath_fail(c, end, ELOOP, why, "a symbolic link now, "
		    "not the recorded directory");
	return fdpath_fail(c, end, err, why, NULL);
}

/* Open one directory, path[start..end), below the chain's last level
 * (open), and check it against expect (dev, ino) when have. */
static int
fdpath_open_one(struct fdpath *c, size_t start, size_t end, int strict,
    int have, uint64_t dev, uint64_t ino, char **why,
    struct fdpath_level *l)
{
	int pfd = c->lv[c->n - 1].fd;
	char name[NAME_MAX + 1];
	struct stat st;

	if (end - start > NAME_MAX)
		return fdpath_fail(c, end, ENAMETOOLONG, why, NULL);
	memcpy(name, c->path + start, end - start);
	name[end - start] = '\0';
	*l = (struct fdpath_level){ .end = end, .strict = strict };
	l->fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC |
	    (strict ? O_NOFOLLOW : 0));
	if (l->fd < 0)
		return fdpath_open_failed(c, pfd, name, end, strict, why);
	if (fstat(l->fd, &st) < 0) {
		int err = errno;

		close(l->fd);
		return fdpath_fail(c, end, err, why, NULL);
	}
	if (have && ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)) {
		close(l->fd);
		return fdpath_fail(c, end, ESTALE, why, "not the recorded "
		    "directory (another device or inode)");
	}
	l->dev = (uint64_t)st.st_dev;
	l->ino = (uint64_t)st.st_ino;
	return 0;
}

/* Start of the name of the level after level k. */
static size_t
fdpath_next_start(const struct fdpath *c, size_t k)
{
	if (k == 0)
		return c->rel ? 0 : 1;
	return c->lv[k].end + 1;
}

/* Levels from the deepest open one down to level i were closed to save
 * fds: open them again, each checked against what it was. */
static int
fdpath_reopen(struct fdpath *c, size_t i, char **why)
{
	size_t j = i, n = c->n;

	while (c->lv[j].fd < 0)
		j--;		/* level 0 ("/") is never closed */
	c->n = j + 1;		/* open each level below the last open one */
	for (size_t k = j + 1; k <= i; k++) {
		struct fdpath_level old = c->lv[k], l;

		if (fdpath_open_one(c, fdpath_next_start(c, k - 1),
		    old.end, old.strict, 1, old.dev, old.ino, why, &l) < 0) {
			int err = errno;

			c->n = n;
			fdpath_truncate(c, k);
			errno = err;
			return -1;
		}
		c->lv[k] = l;
		c->n = k + 1;
	}
	c->n = n;
	return 0;
}

/* The chain's first level: "/", or for a relative path the current
 * directory (fimguard's own files named on the command line). */
static int
fdpath_root(struct fdpath *c, char **why)
{
	struct fdpath_level l = { .end = c->rel ? 0 : 1 };
	uint64_t dev, ino;
	struct stat st;
	int have = !c->rel && fdpath_expected(c, 1, &dev, &ino);

	if ((l.fd = open(c->rel ? "." : "/", O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || fstat(l.fd, &st) < 0) {
		if (l.fd >= 0)
			close(l.fd);
		return fdpath_fail(c, l.end, errno, why, NULL);
	}
	if (have && ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)) {
		close(l.fd);
		return fdpath_fail(c, 1, ESTALE, why, "not the recorded "
		    "directory (another device or inode)");
	}
	l.strict = have;
	l.dev = (uint64_t)st.st_dev;
	l.ino = (uint64_t)st.st_ino;
	fdpath_push(c, &l);
	return 0;
}

/* How many levels the chain shares with dir[0..len). */
static size_t
fdpath_common(const struct fdpath *c, const char *dir, size_t len, int rel)
{
	size_t same = 0, max = c->len < len ? c->len : len, k = 1;

	if (c->n == 0 || c->rel != rel)
		return 0;
	while (same < max && c->path[same] == dir[same])
		same++;
	while (k < c->n && c->lv[k].end <= same &&
	    (c->lv[k].end == len || dir[c->lv[k].end] == '/'))
		k++;
	return k;
}

static void
fdpath_set_path(struct fdpath *c, const char *dir, size_t len)
{
	if (c->size < len + 1) {
		c->size = len + 1;
		c->path = xreallocarray(c->path, c->size, 1);
	}
	memcpy(c->path, dir, len);
	c->path[len] = '\0';
	c->len = len;
}

/* No empty, "." or ".." component: what the policy walk makes, and
 * what leaves no room for a lookup to go elsewhere. Relative paths
 * (len 0: the current directory) start at the current directory. */
static int
fdpath_clean(const char *p, size_t len)
{
	size_t start = len > 0 && p[0] == '/' ? 1 : 0;

	if (len <= start)
		return 1;	/* "/" or "" */
	for (size_t i = start; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		if (i == start || (i - start == 1 && p[start] == '.') ||
		    (i - start == 2 && p[start] == '.' && p[start + 1] == '.'))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* One more directory below the chain's last one: path[start..end). */
static int
fdpath_step(struct fdpath *c, size_t start, size_t end, char **why)
{
	struct fdpath_level l;
	uint64_t dev = 0, ino = 0;
	int have = fdpath_expected(c, end, &dev, &ino);

	if (fdpath_open_one(c, start, end, c->lv[c->n - 1].strict || have,
	    have, dev, ino, why, &l) < 0)
		return -1;
	fdpath_push(c, &l);
	return 0;
}

/* The directory dir[0..len) (without "." or ".."; relative to the
 * current directory unless absolute), as an O_PATH fd that the chain
 * owns, or -1 with errno and the reason in *why (if why is not NULL). */
int
fdpath_dir(struct fdpath *c, const char *dir, size_t len, char **why)
{
	int rel = len == 0 || dir[0] != '/';

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (!fdpath_clean(dir, len)) {
		if (why != NULL) {
			free(*why);
			*why = xstrdup("not a clean path");
		}
		errno = EINVAL;
		return -1;
	}
	fdpath_truncate(c, fdpath_common(c, dir, len, rel));
	fdpath_set_path(c, dir, len);
	c->rel = rel;
	if (c->n == 0 && fdpath_root(c, why) < 0)
		return -1;
	if (c->lv[c->n - 1].fd < 0 && fdpath_reopen(c, c->n - 1, why) < 0)
		return -1;
	while (c->lv[c->n - 1].end < len) {
		size_t start = fdpath_next_start(c, c->n - 1);
		const char *slash = memchr(c->path + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - c->path) : len;

		if (fdpath_step(c, start, end, why) < 0)
			return -1;
	}
	return c->lv[c->n - 1].fd;
}

/* The directory holding path, and in *name the last component. */
int
fdpath_parent(struct fdpath *c, const char *path, const char **name,
    char **why)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash == NULL ? 0 : slash == path ? 1 :
	    (size_t)(slash - path);

	*name = slash == NULL ? path : slash + 1;
	if (**name == '\0' || !fdpath_clean(path, strlen(path))) {
		if (why != NULL) {
			free(*why);
			*why = xstrdup("not a clean path to a file");
		}
		errno = EINVAL;
		return -1;
	}
	return fdpath_dir(c, path, dlen, why);
}

/* One-shot: the parent of path as an O_PATH fd the caller closes. */
int
fdpath_open_parent(const char *path, const char **name, fdpath_expect_fn fn,
    void *arg, char **why)
{
	struct fdpath c;
	int fd;

	fdpath_init(&c, fn, arg);
	if ((fd = fdpath_parent(&c, path, name, why)) >= 0)
		c.lv[c.n - 1].fd = -1;	/* now the caller's */
	fdpath_close(&c);
	return fd;
}

/* One-shot: open path itself with flags (add O_NOFOLLOW to refuse a
 * link in its place) through its verified parent. */
int
fdpath_openat(const char *path, int flags, fdpath_expect_fn fn, void *arg,
    char **why)
{
	const char *name;
	int pfd = fdpath_open_parent(path, &name, fn, arg, why), fd, err;

	if (pfd < 0)
		return -1;
	if ((fd = openat(pfd, name, flags | O_CLOEXEC)) < 0 && why != NULL) {
		err = errno;
		free(*why);
		*why = fdpath_reason(path, strerror(err));
		errno = err;
	}
	err = errno;
	close(pfd);
	errno = err;
	return fd;
}

/* The directories of a walk, as what a chain expects. The table
 * borrows the paths: ev must not change while it is used. */
void
fdpath_known_init(struct fdpath_known *k, const struct entryvec *ev)
{
	size_t ndirs = 0;

	for (size_t i = 0; i < ev->n; i++)
		ndirs += ev->v[i].type == ENTRY_DIR;
	htab_init(&k->tab, ndirs + 1);
	k->ev = ev;
	for (size_t i = 0; i < ev->n; i++)
		if (ev->v[i].type == ENTRY_DIR)
			htab_put(&k->tab, ev->v[i].path, i);
}

void
fdpath_known_free(struct fdpath_known *k)
{
	htab_free(&k->tab);
}

int
fdpath_known_fn(void *arg, const char *dir, uint64_t *dev, uint64_t *ino)
{
	const struct fdpath_known *k = arg;
	size_t i;

	if (!htab_get(&k->tab, dir, &i))
		return 0;
	*dev = k->ev->v[i].dev;
	*ino = k->ev->v[i].ino;
	return 1;
}
