/* Directory events. Renames, unlinks, chmod and chown raise no
 * permission event, so they are seen after the fact here and, in
 * enforce mode with restore = yes, undone by the worker. FAN_RENAME
 * reports both names in one event, so a rename over a protected file
 * is never mistaken for a deletion and an unrelated creation. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "core/fdpath.h"
#include "core/log.h"
#include "monitor/notify.h"

/* No FAN_EVENT_ON_CHILD: it would send every open and close of any
 * file in the directory through the parent's mark. Entry events
 * (create, delete, rename) come to the directory anyway; a protected
 * file's attribute and modify events come from its own mark. */
#define NOTIFY_DIR_MASK	(FAN_CREATE | FAN_DELETE | FAN_RENAME | \
	FAN_ATTRIB | FAN_ONDIR)

/* fd >= 0: a group made before (a reload keeps its groups). */
int
notify_init(struct notify *n, int fd)
{
	memset(n, 0, sizeof(*n));
	htab_init(&n->dirs, 64);
	htab_init(&n->bypath, 64);
	n->fd = fd >= 0 ? fd : fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
	    FAN_REPORT_DFID_NAME | FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
	    O_RDONLY | O_CLOEXEC);
	return n->fd < 0 ? -1 : 0;
}

void
notify_free(struct notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	htab_free(&n->dirs);
	htab_free(&n->bypath);
	free(n->id);
	strlist_free(&n->keys);
	strlist_free(&n->paths);
	free(n->rule);
	memset(n, 0, sizeof(*n));
	n->fd = -1;
}

/* "fsid:type:handle" in hex: what fanotify reports for a directory. */
static char *
notify_key(const void *fsid, int type, const unsigned char *h, size_t len)
{
	char *k = xmalloc(2 * (8 + len) + 16), hex[2 * 128 + 1];

	util_hex(fsid, 8, hex);
	sprintf(k, "%s:%x:", hex, type);
	util_hex(h, len > 128 ? 128 : len, hex);
	strcat(k, hex);
	return k;
}

static void
notify_add(struct notify *n, char *key, const char *path, int rule,
    const struct stat *st)
{
	size_t idx = n->paths.n;

	strlist_push_owned(&n->keys, key);
	htab_put(&n->dirs, key, idx);
	n->rule = xreallocarray(n->rule, idx + 1, sizeof(int));
	n->rule[idx] = rule;
	n->id = xreallocarray(n->id, idx + 1, sizeof(*n->id));
	n->id[idx].dev = (uint64_t)st->st_dev;
	n->id[idx].ino = (uint64_t)st->st_ino;
	strlist_push(&n->paths, path);
	/* the newest directory at a path is the one expected there */
	htab_set(&n->bypath, n->paths.v[idx], idx);
}

/* Watch the entries of the directory open as fd (O_PATH) at path.
 * rule >= 0: its children belong to that rule (new files are
 * protected); -1: only named files matter. */
int
notify_mark_fd(struct notify *n, int fd, const char *path, int rule)
{
	struct {
		struct file_handle fh;
		unsigned char buf[128];
	} h;
	struct statfs sf;
	struct stat st;
	int mnt;
	size_t idx;
	char *key, proc[64];

	h.fh.handle_bytes = sizeof(h.buf);
	if (fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0 ||
	    name_to_handle_at(fd, "", &h.fh, &mnt, AT_EMPTY_PATH) < 0)
		return -1;
	key = notify_key(&sf.f_fsid, h.fh.handle_type, h.fh.f_handle,
	    h.fh.handle_bytes);
	if (htab_get(&n->dirs, key, &idx)) {
		if (rule >= 0 && n->rule[idx] < 0)
			n->rule[idx] = rule;
		free(key);
		return 0;
	}
	/* fanotify_mark() refuses an O_PATH fd as its object, but follows
	 * its /proc link to exactly the directory opened (at any depth). */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (fanotify_mark(n->fd, FAN_MARK_ADD | FAN_MARK_ONLYDIR,
	    NOTIFY_DIR_MASK, AT_FDCWD, proc) < 0) {
		free(key);
		return -1;
	}
	notify_add(n, key, path, rule, &st);
	return 0;
}

/* The same by path (a directory created later): opened through the
 * watched directories above it, never through a link. */
int
notify_mark_dir(struct notify *n, const char *path, int rule)
{
	const char *name = ".";
	int pfd, fd, r;

	if (strcmp(path, "/") == 0)
		pfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	else
		pfd = fdpath_open_parent(path, &name, notify_dir_id, n, NULL);
	if (pfd < 0)
		return -1;
	fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(pfd);
	if (fd < 0)
		return -1;
	r = notify_mark_fd(n, fd, path, rule);
	close(fd);
	return r;
}

/* What a watched directory at path was when it was marked: what a path
 * through it must lead to (an fdpath_expect_fn). */
int
notify_dir_id(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	const struct notify *n = arg;
	size_t idx;

	if (!htab_get(&n->bypath, path, &idx))
		return 0;
	*dev = n->id[idx].dev;
	*ino = n->id[idx].ino;
	return 1;
}

/* Directory index and entry name of one DFID_NAME record, or -1. */
static int
notify_record(struct notify *n, const struct fanotify_event_info_fid *fid,
    const char **name)
{
	const struct file_handle *fh = (const void *)fid->handle;
	char *key = notify_key(&fid->fsid, fh->handle_type, fh->f_handle,
	    fh->handle_bytes);
	size_t idx;
	int found = htab_get(&n->dirs, key, &idx);

	free(key);
	*name = (const char *)fh->f_handle + fh->handle_bytes;
	return found ? (int)idx : -1;
}

static char *
notify_join(const struct notify *n, int dir, const char *name)
{
	const char *d = n->paths.v[dir];

	if (strcmp(name, ".") == 0 || *name == '\0')
		return xstrdup(d);	/* the directory itself (attrib) */
	return strcmp(d, "/") == 0 ? xasprintf("/%s", name) :
	    xasprintf("%s/%s", d, name);
}

/* Does path exist now? Looked up through the watched directories. */
static int
notify_exists(struct notify *n, const char *path)
{
	const char *name;
	struct stat st;
	int pfd, r;

	if (path == NULL || (pfd = fdpath_open_parent(path, &name,
	    notify_dir_id, n, NULL)) < 0)
		return 0;
	r = fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	close(pfd);
	return r;
}

/* fanotify merges queued events on the same name into one mask (a
 * delete and a create of the same name become FAN_DELETE|FAN_CREATE):
 * hand each kind over, in the order that ends in what is there now. */
static void
notify_dispatch(struct notify *n, uint64_t mask, struct notify_event *ev,
    notify_fn fn, void *arg)
{
	static const struct { uint64_t bit; int kind; } gone[] = {
		{ FAN_CREATE, NOTIFY_CREATE }, { FAN_ATTRIB, NOTIFY_ATTRIB },
		{ FAN_MODIFY, NOTIFY_MODIFY }, { FAN_DELETE, NOTIFY_DELETE },
	}, there[] = {
		{ FAN_DELETE, NOTIFY_DELETE }, { FAN_CREATE, NOTIFY_CREATE },
		{ FAN_ATTRIB, NOTIFY_ATTRIB }, { FAN_MODIFY, NOTIFY_MODIFY },
	};
	uint64_t kinds = mask & (FAN_CREATE | FAN_ATTRIB | FAN_MODIFY |
	    FAN_DELETE);
	/* the order matters only when several kinds were merged */
	int exists = (kinds & (kinds - 1)) != 0 && notify_exists(n, ev->path);

	if (mask & FAN_RENAME) {
		ev->kind = NOTIFY_RENAME;
		fn(arg, ev);
		return;
	}
	for (size_t i = 0; i < 4; i++) {
		uint64_t bit = exists ? there[i].bit : gone[i].bit;

		if (!(mask & bit))
			continue;
		ev->kind = exists ? there[i].kind : gone[i].kind;
		fn(arg, ev);
	}
}

static void
notify_one(struct notify *n, const struct fanotify_event_metadata *m,
    notify_fn fn, void *arg)
{
	const char *p = (const char *)(m + 1), *end = (const char *)m +
	    m->event_len, *name, *oldname = NULL, *newname = NULL;
	int dir = -1, olddir = -1, newdir = -1;
	struct notify_event ev = { .pid = m->pid,
	    .is_dir = (m->mask & FAN_ONDIR) != 0 };
	char *path = NULL, *npath = NULL;

	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_fid *fid = (const void *)p;
		int d;

		if (fid->hdr.len == 0)
			break;
		d = notify_record(n, fid, &name);
		if (fid->hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
			dir = d;
			oldname = name;
		} else if (fid->hdr.info_type == 10) {	/* OLD_DFID_NAME */
			olddir = d;
			oldname = name;
		} else if (fid->hdr.info_type == 12) {	/* NEW_DFID_NAME */
			newdir = d;
			newname = name;
		}
		p += fid->hdr.len;
	}
	if (m->mask & FAN_RENAME) {
		dir = olddir;
		if (newdir >= 0 && newname != NULL)
			npath = notify_join(n, newdir, newname);
	}
	if (dir >= 0 && oldname != NULL)
		path = notify_join(n, dir, oldname);
	ev.path = path;
	ev.newpath = npath;
	ev.dir = dir;
	ev.newdir = newdir;
	if (path != NULL || npath != NULL)
		notify_dispatch(n, m->mask, &ev, fn, arg);
	free(path);
	free(npath);
}

/* Events of a FID group are padded to 4 bytes, not 8: an event after
 * one with a name can sit at an address its 64-bit mask may not be
 * read from. Each is copied to an aligned buffer before it is used. */
void
notify_read(struct notify *n, notify_fn fn, void *arg)
{
	char buf[8192] __attribute__((aligned(8)));
	union {
		struct fanotify_event_metadata m;
		char b[4096];
	} ev;
	ssize_t len;

	while ((len = read(n->fd, buf, sizeof(buf))) > 0) {
		size_t off = 0, left = (size_t)len;
		uint32_t elen;

		while (left >= FAN_EVENT_METADATA_LEN) {
			memcpy(&elen, buf + off, sizeof(elen));	/* event_len */
			if (elen < FAN_EVENT_METADATA_LEN || elen > left)
				break;
			if (elen <= sizeof(ev)) {
				memcpy(&ev, buf + off, elen);
				if (ev.m.vers == FANOTIFY_METADATA_VERSION &&
				    !(ev.m.mask & FAN_Q_OVERFLOW))
					notify_one(n, &ev.m, fn, arg);
			}
			off += elen;
			left -= elen;
		}
	}
}
