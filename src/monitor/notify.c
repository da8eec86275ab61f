/* Directory events. Renames, unlinks, chmod and chown raise no
 * permission event, so they are seen after the fact here and, in
 * enforce mode with restore = yes, undone by the worker. FAN_RENAME
 * reports both names in one event, so a rename over a protected file
 * is never mistaken for a deletion and an unrelated creation.
 * The same group carries the exec events of the allowed writers'
 * executables and the monitor's fences, and each event a pidfd of the
 * process behind it: writer.c binds a change to the writer that made
 * it from their order, so that order is kept here (one queue for the
 * process, handed over in the order read). */
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
#include "monitor/writer.h"

/* No FAN_EVENT_ON_CHILD: it would send every open and close of any
 * file in the directory through the parent's mark. Entry events
 * (create, delete, rename) come to the directory anyway; a protected
 * file's attribute and modify events come from its own mark, a
 * directory's from its own (name "."). FAN_MOVE_SELF: a directory
 * renamed where nothing is watched (the parent of a rule's root). */
#define NOTIFY_DIR_MASK	(FAN_CREATE | FAN_DELETE | FAN_RENAME | \
	FAN_ATTRIB | FAN_MOVE_SELF | FAN_ONDIR)

/* Events read from the group and not handed over yet: read ahead by
 * notify_exec_ahead, or left by a worker that stopped. Kept for the
 * process, like the group; capped, because each holds a pidfd. */
#define NOTIFY_QUEUE	(64 * 1024)
#define NOTIFY_ROOM	4096	/* more than the largest event */

static struct {
	char	*buf;
	size_t	 off, len;	/* [off, len): not handed over */
} notify_q;

/* fd >= 0: a group made before (a reload keeps its groups). Before
 * Linux 5.15 (no FAN_REPORT_PIDFD) events carry no pidfd, and no
 * change seen here is taken for an allowed writer's. */
int
notify_init(struct notify *n, int fd)
{
	/* FAN_REPORT_FID: an event on a file's own mark also names the
	 * file itself, so a chmod or truncate(2) through a hard link in a
	 * directory nobody watches is still known for what it changed */
	unsigned flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
	    FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_UNLIMITED_QUEUE |
	    FAN_UNLIMITED_MARKS;

	memset(n, 0, sizeof(*n));
	htab_init(&n->dirs, 64);
	htab_init(&n->bypath, 64);
	n->fence = -1;
	n->fd = fd;
	if (fd < 0 && (n->fd = fanotify_init(flags | FAN_REPORT_PIDFD,
	    O_RDONLY | O_CLOEXEC)) < 0 && errno == EINVAL &&
	    (n->fd = fanotify_init(flags, O_RDONLY | O_CLOEXEC)) >= 0)
		log_warnx("no FAN_REPORT_PIDFD (Linux 5.15): renames, "
		    "deletions and attribute changes are never taken for an "
		    "allowed writer's");
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
	for (size_t i = 0; i < n->nfs; i++)
		close(n->fs[i].fd);
	free(n->fs);
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
	/* a directory forgotten (moved away) and watched again: the
	 * newest entry is the one its events name */
	htab_set(&n->dirs, key, idx);
	n->rule = xreallocarray(n->rule, idx + 1, sizeof(int));
	n->rule[idx] = rule;
	n->id = xreallocarray(n->id, idx + 1, sizeof(*n->id));
	n->id[idx] = (struct notify_id){ .dev = (uint64_t)st->st_dev,
	    .ino = (uint64_t)st->st_ino, .uid = st->st_uid,
	    .gid = st->st_gid, .mode = (uint16_t)(st->st_mode & 07777) };
	strlist_push(&n->paths, path);
	/* the newest directory at a path is the one expected there */
	htab_set(&n->bypath, n->paths.v[idx], idx);
}

/* The handle key of the directory open as fd (what its events carry),
 * or NULL; its stat in *st, its filesystem's id in fsid (may be NULL). */
static char *
notify_fd_key(int fd, struct stat *st, uint8_t *fsid)
{
	struct {
		struct file_handle fh;
		unsigned char buf[128];
	} h;
	struct statfs sf;
	int mnt;

	h.fh.handle_bytes = sizeof(h.buf);
	if (fstatfs(fd, &sf) < 0 || fstat(fd, st) < 0 ||
	    name_to_handle_at(fd, "", &h.fh, &mnt, AT_EMPTY_PATH) < 0)
		return NULL;
	if (fsid != NULL)
		memcpy(fsid, &sf.f_fsid, 8);
	return notify_key(&sf.f_fsid, h.fh.handle_type, h.fh.f_handle,
	    h.fh.handle_bytes);
}

/* Keep one fd on the filesystem of fd (the first seen): the events'
 * file handles are opened relative to it. */
static void
notify_keep_fs(struct notify *n, int fd, const uint8_t *fsid)
{
	char proc[64];
	int keep;

	for (size_t i = 0; i < n->nfs; i++)
		if (memcmp(n->fs[i].fsid, fsid, 8) == 0)
			return;
	/* open_by_handle_at refuses an O_PATH fd as the mount: the same
	 * directory again, for reading (nothing marks directory opens) */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((keep = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	n->fs = xreallocarray(n->fs, n->nfs + 1, sizeof(*n->fs));
	memcpy(n->fs[n->nfs].fsid, fsid, 8);
	n->fs[n->nfs++].fd = keep;
}

/* (device, inode) of the object an FID record names, opened by its
 * handle (CAP_DAC_READ_SEARCH; O_PATH: no open event, nothing read).
 * 0, or -1 when it is gone or on a filesystem never marked. */
static int
notify_object(const struct notify *n, const struct fanotify_event_info_fid
    *fid, uint64_t *dev, uint64_t *ino)
{
	struct file_handle *fh = (struct file_handle *)(void *)fid->handle;
	struct stat st;
	int fd = -1;

	for (size_t i = 0; fd < 0 && i < n->nfs; i++)
		if (memcmp(n->fs[i].fsid, &fid->fsid, 8) == 0)
			fd = open_by_handle_at(n->fs[i].fd, fh, O_PATH |
			    O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	return 0;
}

/* The directory at path (and every watched one below it) was moved or
 * removed: what its marks report from now on happens elsewhere, not at
 * these paths. Its identity stays what a path through it must lead to
 * until another directory is watched there. */
void
notify_forget(struct notify *n, const char *path)
{
	for (size_t i = 0; i < n->paths.n; i++)
		if ((int)i != n->fence && util_path_under(n->paths.v[i], path))
			n->id[i].gone = 1;
}

/* Watch the entries of the directory open as fd (O_PATH) at path.
 * rule >= 0: its children belong to that rule (new files are
 * protected); -1: only named files matter. */
int
notify_mark_fd(struct notify *n, int fd, const char *path, int rule)
{
	struct stat st;
	size_t idx;
	uint8_t fsid[8];
	char *key = notify_fd_key(fd, &st, fsid), proc[64];

	if (key == NULL)
		return -1;
	notify_keep_fs(n, fd, fsid);
	if (htab_get(&n->dirs, key, &idx) && !n->id[idx].gone &&
	    strcmp(n->paths.v[idx], path) != 0)
		notify_forget(n, n->paths.v[idx]);	/* moved: watched anew */
	if (htab_get(&n->dirs, key, &idx) && !n->id[idx].gone) {
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

/* A protected symlink, name in the directory dfd: its own attribute
 * changes (owner, xattrs). Its removal or replacement is seen in the
 * directory. */
int
notify_mark_link(struct notify *n, int dfd, const char *name)
{
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), r = -1;
	struct stat st;
	char proc[64];

	if (fd < 0)
		return -1;
	/* the /proc link of an O_PATH fd leads to the symlink itself */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode))
		r = fanotify_mark(n->fd, FAN_MARK_ADD, FAN_ATTRIB, AT_FDCWD,
		    proc);
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

/* Was (dev, ino) watched at path, now or before it was moved away? */
int
notify_dir_was(const struct notify *n, const char *path, uint64_t dev,
    uint64_t ino)
{
	for (size_t i = 0; i < n->paths.n; i++)
		if (n->id[i].dev == dev && n->id[i].ino == ino &&
		    strcmp(n->paths.v[i], path) == 0)
			return 1;
	return 0;
}

/* The newest watched directory at path, or -1. */
int
notify_dir_at(const struct notify *n, const char *path)
{
	size_t idx;

	return htab_get(&n->bypath, path, &idx) ? (int)idx : -1;
}

/* A reload: stop watching a directory the previous policy needed and
 * this one does not (key: its handle when it was marked). Only if the
 * path still leads to that directory: another one renamed there may be
 * one we watch. */
void
notify_unmark_dir(struct notify *n, const char *path, const char *key)
{
	struct stat st;
	size_t idx;
	char *now, proc[64];
	int fd, same;

	if (htab_get(&n->dirs, key, &idx))
		return;		/* still ours */
	/* through its directory's fd: any depth */
	fd = strcmp(path, "/") == 0 ? open("/", O_PATH | O_DIRECTORY |
	    O_CLOEXEC) : fdpath_openat(path, O_PATH | O_DIRECTORY |
	    O_NOFOLLOW, NULL, NULL, NULL);
	if (fd < 0)
		return;		/* gone: so is its mark */
	now = notify_fd_key(fd, &st, NULL);
	same = now != NULL && strcmp(now, key) == 0;
	free(now);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (same && fanotify_mark(n->fd, FAN_MARK_REMOVE | FAN_MARK_ONLYDIR,
	    NOTIFY_DIR_MASK, AT_FDCWD, proc) < 0 && errno != ENOENT)
		log_warn("%s: cannot stop watching", path);
	close(fd);
}

/* The fence directory (writer.c): its events are the monitor's own. */
int
notify_mark_fence(struct notify *n, const char *path)
{
	size_t idx = n->paths.n;

	if (notify_mark_dir(n, path, -1) < 0)
		return -1;
	if (n->paths.n == idx + 1)
		n->fence = (int)idx;
	return 0;
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
	int found = htab_get(&n->dirs, key, &idx) && !n->id[idx].gone;

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
	if (mask & FAN_MOVE_SELF) {
		ev->kind = NOTIFY_MOVED;
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

/* The monitor's fence: a rename in the fence directory to n<seq>. */
static int
notify_fence(const struct notify *n, const struct fanotify_event_metadata *m,
    int dir, const char *newname)
{
	if (n->fence < 0 || dir != n->fence)
		return 0;
	if (m->pid == getpid() && (m->mask & FAN_RENAME) && newname != NULL &&
	    newname[0] == 'n')
		writer_fence_seen(WRITER_Q_NOTIFY, strtoull(newname + 1, NULL,
		    10));
	return 1;
}

static void
notify_one(struct notify *n, const struct fanotify_event_metadata *m,
    int pidfd, notify_fn fn, void *arg)
{
	const char *p = (const char *)(m + 1), *end = (const char *)m +
	    m->event_len, *name, *oldname = NULL, *newname = NULL;
	int dir = -1, olddir = -1, newdir = -1;
	struct notify_event ev = { .pid = m->pid, .pidfd = pidfd,
	    .is_dir = (m->mask & FAN_ONDIR) != 0 };
	char *path = NULL, *npath = NULL;

	/* an allowed writer's executable (nothing else has this mark) */
	if (m->mask & FAN_OPEN_EXEC)
		writer_exec(pidfd, m->pid);
	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_fid *fid = (const void *)p;
		int d;

		if (fid->hdr.len == 0)
			break;
		if (fid->hdr.info_type == FAN_EVENT_INFO_TYPE_PIDFD) {
			p += fid->hdr.len;
			continue;
		}
		if (fid->hdr.info_type == FAN_EVENT_INFO_TYPE_FID) {
			/* the file's own mark: which file, by inode */
			if ((m->mask & (FAN_ATTRIB | FAN_MODIFY)) &&
			    !(m->mask & FAN_ONDIR))
				ev.has_obj = notify_object(n, fid, &ev.obj_dev,
				    &ev.obj_ino) == 0;
			p += fid->hdr.len;
			continue;
		}
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
	if (m->mask & FAN_RENAME)
		dir = olddir;
	if (notify_fence(n, m, dir, newname))
		return;
	if ((m->mask & FAN_RENAME) && newdir >= 0 && newname != NULL)
		npath = notify_join(n, newdir, newname);
	if (dir >= 0 && oldname != NULL)
		path = notify_join(n, dir, oldname);
	ev.path = path;
	ev.newpath = npath;
	ev.dir = dir;
	ev.newdir = newdir;
	if (path != NULL || npath != NULL || ev.has_obj)
		notify_dispatch(n, m->mask, &ev, fn, arg);
	free(path);
	free(npath);
}

/* The pidfd record of an event still in the queue (unaligned), or -1. */
static int
notify_pidfd(const char *ev, uint32_t elen)
{
	struct fanotify_event_info_header h;
	struct fanotify_event_info_pidfd pi;
	uint32_t off = FAN_EVENT_METADATA_LEN;

	while (off + sizeof(h) <= elen) {
		memcpy(&h, ev + off, sizeof(h));
		if (h.len < sizeof(h) || h.len > elen - off)
			break;
		if (h.info_type == FAN_EVENT_INFO_TYPE_PIDFD &&
		    h.len >= sizeof(pi)) {
			memcpy(&pi, ev + off, sizeof(pi));
			return pi.pidfd;
		}
		off += h.len;
	}
	return -1;
}

/* Read what the group holds into the queue: 1 read some, 0 nothing
 * waits, -1 no room left. */
static int
notify_fill(int fd)
{
	size_t left = notify_q.len - notify_q.off;
	ssize_t r;

	if (notify_q.buf == NULL)
		notify_q.buf = xmalloc(NOTIFY_QUEUE);
	if (notify_q.off > 0 && NOTIFY_QUEUE - notify_q.len < NOTIFY_ROOM) {
		memmove(notify_q.buf, notify_q.buf + notify_q.off, left);
		notify_q.off = 0;
		notify_q.len = left;
	}
	if (NOTIFY_QUEUE - notify_q.len < NOTIFY_ROOM)
		return -1;
	r = read(fd, notify_q.buf + notify_q.len, NOTIFY_QUEUE - notify_q.len);
	if (r <= 0)
		return 0;
	notify_q.len += (size_t)r;
	return 1;
}

/* Events of a FID group are padded to 4 bytes, not 8: an event after
 * one with a name can sit at an address its 64-bit mask may not be
 * read from. Each is copied to an aligned buffer before it is used,
 * and taken off the queue before it is handed over (a handler may read
 * ahead: notify_exec_ahead). */
void
notify_read(struct notify *n, notify_fn fn, void *arg)
{
	union {
		struct fanotify_event_metadata m;
		char b[NOTIFY_ROOM];
	} ev;
	const char *raw;
	uint32_t elen;
	int pidfd;

	for (;;) {
		if (notify_q.off == notify_q.len) {
			notify_q.off = notify_q.len = 0;
			if (notify_fill(n->fd) <= 0)
				return;
		}
		raw = notify_q.buf + notify_q.off;
		memcpy(&elen, raw, sizeof(elen));	/* event_len */
		if (elen < FAN_EVENT_METADATA_LEN ||
		    elen > notify_q.len - notify_q.off) {
			notify_q.off = notify_q.len;	/* the kernel writes
							   whole events */
			continue;
		}
		pidfd = notify_pidfd(raw, elen);
		notify_q.off += elen;
		if (elen <= sizeof(ev)) {
			memcpy(&ev, raw, elen);
			if (ev.m.vers == FANOTIFY_METADATA_VERSION &&
			    !(ev.m.mask & FAN_Q_OVERFLOW))
				notify_one(n, &ev.m, pidfd, fn, arg);
		}
		if (pidfd >= 0)
			close(pidfd);
	}
}

int
notify_pending(void)
{
	return notify_q.off < notify_q.len;
}

/* Step 4 of writer.c: after reading everything the group holds now,
 * does an exec of an allowed writer by pid wait among the events not
 * handed over yet? 1 also when the queue has no room to tell. */
int
notify_exec_ahead(struct notify *n, pid_t pid)
{
	struct fanotify_event_metadata m;
	int r;

	while ((r = notify_fill(n->fd)) > 0)
		continue;
	if (r < 0)
		return 1;
	for (size_t off = notify_q.off;
	    off + FAN_EVENT_METADATA_LEN <= notify_q.len; off += m.event_len) {
		memcpy(&m, notify_q.buf + off, sizeof(m));
		if (m.event_len < FAN_EVENT_METADATA_LEN)
			return 1;
		if ((m.mask & FAN_OPEN_EXEC) && m.pid == pid)
			return 1;
	}
	return 0;
}
