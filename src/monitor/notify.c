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

/* Watch a directory's entries. rule >= 0: its children belong to that
 * rule (new files are protected); -1: only named files matter. */
int
notify_mark_dir(struct notify *n, const char *path, int rule)
{
	struct {
		struct file_handle fh;
		unsigned char buf[128];
	} h;
	struct statfs sf;
	int mnt;
	size_t idx;
	char *key;

	h.fh.handle_bytes = sizeof(h.buf);
	if (statfs(path, &sf) < 0 ||
	    name_to_handle_at(AT_FDCWD, path, &h.fh, &mnt, 0) < 0)
		return -1;
	key = notify_key(&sf.f_fsid, h.fh.handle_type, h.fh.f_handle,
	    h.fh.handle_bytes);
	if (htab_get(&n->dirs, key, &idx)) {
		if (rule >= 0 && n->rule[idx] < 0)
			n->rule[idx] = rule;
		free(key);
		return 0;
	}
	if (fanotify_mark(n->fd, FAN_MARK_ADD | FAN_MARK_DONT_FOLLOW |
	    FAN_MARK_ONLYDIR, NOTIFY_DIR_MASK, AT_FDCWD, path) < 0) {
		free(key);
		return -1;
	}
	strlist_push_owned(&n->keys, key);
	htab_put(&n->dirs, key, n->paths.n);
	n->rule = xreallocarray(n->rule, n->paths.n + 1, sizeof(int));
	n->rule[n->paths.n] = rule;
	strlist_push(&n->paths, path);
	return 0;
}

/* A reload: stop watching a directory the previous policy needed and
 * this one does not (key: its handle when it was marked). Only if the
 * path still leads to that directory: another one renamed there may be
 * one we watch. */
void
notify_unmark_dir(struct notify *n, const char *path, const char *key)
{
	struct {
		struct file_handle fh;
		unsigned char buf[128];
	} h;
	struct statfs sf;
	int mnt, same;
	size_t idx;
	char *now;

	if (htab_get(&n->dirs, key, &idx))
		return;		/* still ours */
	h.fh.handle_bytes = sizeof(h.buf);
	if (statfs(path, &sf) < 0 ||
	    name_to_handle_at(AT_FDCWD, path, &h.fh, &mnt, 0) < 0)
		return;		/* gone: so is its mark */
	now = notify_key(&sf.f_fsid, h.fh.handle_type, h.fh.f_handle,
	    h.fh.handle_bytes);
	same = strcmp(now, key) == 0;
	free(now);
	if (same && fanotify_mark(n->fd, FAN_MARK_REMOVE |
	    FAN_MARK_DONT_FOLLOW | FAN_MARK_ONLYDIR, NOTIFY_DIR_MASK,
	    AT_FDCWD, path) < 0 && errno != ENOENT)
		log_warn("%s: cannot stop watching", path);
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

/* fanotify merges queued events on the same name into one mask (a
 * delete and a create of the same name become FAN_DELETE|FAN_CREATE):
 * hand each kind over, in the order that ends in what is there now. */
static void
notify_dispatch(uint64_t mask, struct notify_event *ev, notify_fn fn,
    void *arg)
{
	static const struct { uint64_t bit; int kind; } gone[] = {
		{ FAN_CREATE, NOTIFY_CREATE }, { FAN_ATTRIB, NOTIFY_ATTRIB },
		{ FAN_MODIFY, NOTIFY_MODIFY }, { FAN_DELETE, NOTIFY_DELETE },
	}, there[] = {
		{ FAN_DELETE, NOTIFY_DELETE }, { FAN_CREATE, NOTIFY_CREATE },
		{ FAN_ATTRIB, NOTIFY_ATTRIB }, { FAN_MODIFY, NOTIFY_MODIFY },
	};
	struct stat st;
	int exists = ev->path != NULL && lstat(ev->path, &st) == 0;

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
		notify_dispatch(m->mask, &ev, fn, arg);
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
