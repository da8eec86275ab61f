/* Quarantine. A file, directory or symlink that a non-writer puts into
 * a protected directory (new_files = quarantine) is taken out of it
 * and kept for forensics in <state>/quarantine/ (root, 0700):
 *   <id>        the object itself, root:root, mode 0600 (a directory
 *               0700, what is inside it as it was);
 *   <id>.json   the `quarantined` event: where it was, what it was
 *               (type, owner, mode, SHA-256, link target), who made it.
 * <id> is the UTC time and 8 random hex digits, so a listing is in
 * time order.
 *
 * How it is taken out, without ever following a link or opening a
 * FIFO or device:
 *  - on the same filesystem, renameat2(RENAME_NOREPLACE) into the
 *    quarantine: atomic, and it is the very inode (a writer that still
 *    holds it open writes into the quarantined copy); only then is it
 *    looked at, in a directory nobody else can enter;
 *  - across filesystems (EXDEV: /etc and /var/lib apart), copied
 *    through fds: a regular file is checked through an O_PATH fd and
 *    opened through that fd's /proc link (the inode checked, never one
 *    swapped in since), a symlink is read with readlinkat, a directory
 *    is copied entry by entry (at most QUARANTINE_MAX_ENTRIES, 64
 *    levels), and the original is then removed if its name still
 *    leads to what was copied;
 *  - a FIFO, socket or device node, and a regular file with other
 *    links (a hard link to a file elsewhere, perhaps a protected one:
 *    it must not be chmodded, and its content is not the creator's),
 *    is removed and recorded, never read; the same inside a
 *    quarantined directory.
 * A copy that cannot be completed (a full disk) still takes the entry
 * out of the protected directory; the record says what was not kept.
 *
 * `fimguard approve PATH` puts a quarantined entry back (the newest
 * for that path) with its original owner and mode, through verified
 * directory fds. So that the running monitor does not take it again,
 * approve first writes release.json (its pid, the time, the paths): a
 * creation by that process of one of those paths within
 * QUARANTINE_RELEASE_MS is accepted. Only root writes in this
 * directory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/entry.h"
#include "core/event.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/util.h"
#include "monitor/quarantine.h"

#define QUARANTINE_RELEASE	"release.json"
#define QUARANTINE_MAX_ENTRIES	10000	/* in one directory tree */
#define QUARANTINE_MAX_DEPTH	64
#define QUARANTINE_RELEASE_MS	(10 * 60 * 1000)
#define QUARANTINE_JSON_MAX	(1 << 20)
#define QUARANTINE_ID_TRIES	8

struct quarantine_job {
	const struct state *s;
	int		 qfd;		/* <state>/quarantine */
	char		 id[48];
	struct entry	 what;		/* as taken; path: where it was */
	const char	*method;	/* moved, copied, removed */
	size_t		 entries;	/* a directory's, counted */
	size_t		 dropped;	/* FIFOs, devices, links not kept */
	int		 lost;		/* errno: content not kept whole */
	json_object	*ev;		/* the event: becomes the record */
};

static int
quarantine_open(const struct state *s, int create)
{
	char *dir = state_path(s, QUARANTINE_DIR);
	int fd;

	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		free(dir);
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(dir);
	return fd;
}

/* At the monitor's start (as root, before privileges are cut). */
int
quarantine_init(const struct state *s)
{
	int fd = quarantine_open(s, 1);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int
quarantine_new_id(char *id, size_t n)
{
	uint8_t r[4];
	char hex[9], ts[32];
	time_t now = time(NULL);
	struct tm tm;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	util_hex(r, sizeof(r), hex);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(id, n, "%s-%s", ts, hex);
	return 0;
}

/* Not kept, only recorded: what is not a file, directory or symlink,
 * and a regular file with other links. */
static int
quarantine_dropped_kind(const struct stat *st)
{
	return !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) ||
	    S_ISLNK(st->st_mode)) || (S_ISREG(st->st_mode) &&
	    st->st_nlink > 1);
}

/* What name in dfd is, without following or opening it. */
static int
quarantine_describe(struct entry *e, int dfd, const char *name,
    struct stat *st)
{
	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	free(e->target);
	free(e->xattrs);
	e->target = e->xattrs = NULL;
	entry_from_stat(e, st);
	if (entry_read_meta(e, dfd, name) < 0)
		return -1;
	if (e->type == ENTRY_FILE)
		entry_read_xattrs_at(e, dfd, name);
	return 0;
}

/* Does name in dfd still lead to the object st describes? */
static int
quarantine_same(int dfd, const char *name, const struct stat *st)
{
	struct stat now;

	return fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

/* Copy the regular file sname in sdfd to dname in ddfd (O_EXCL). The
 * source is checked through an O_PATH fd and opened through its /proc
 * link: that inode, never a FIFO swapped in. keep: give the copy the
 * source's owner and mode (else root's 0600). Its SHA-256 in *sha. */
static int
quarantine_copy_file(struct quarantine_job *j, int sdfd, const char *sname,
    int ddfd, const char *dname, int keep, uint8_t *sha)
{
	int p = openat(sdfd, sname, O_PATH | O_NOFOLLOW | O_CLOEXEC), in = -1,
	    out = -1, r = -1, err;
	struct hash_result hr;
	struct stat st;
	char proc[64];

	if (p < 0 || fstat(p, &st) < 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p);
	if ((in = open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) < 0 || (out = openat(ddfd, dname, O_WRONLY |
	    O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		goto out;
	/* a full disk stops the copy, not the hash: the record keeps it */
	if (hash_fd(in, j->s->xxh_secret, HASH_SHA | HASH_COPY_SOFT, out,
	    (uint64_t)st.st_size, &hr) < 0)
		goto out;
	if (hr.copy_errno != 0)
		j->lost = hr.copy_errno;
	if (sha != NULL)
		memcpy(sha, hr.sha, sizeof(hr.sha));
	if (keep && (fchown(out, st.st_uid, st.st_gid) < 0 ||
	    fchmod(out, st.st_mode & 07777) < 0))
		j->lost = errno;
	r = fsync(out);
out:
	err = errno;
	if (p >= 0)
		close(p);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	errno = err;
	return r;
}

static int	quarantine_copy_tree(struct quarantine_job *, int, int, int);

/* One entry of a directory being copied (owners and modes kept). */
static int
quarantine_copy_one(struct quarantine_job *j, int sfd, int dfd,
    const char *name, int depth)
{
	char target[4097];
	struct stat st;
	ssize_t n;
	int s2, d2, r;

	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;	/* gone meanwhile */
	if (S_ISREG(st.st_mode) && st.st_nlink == 1)
		return quarantine_copy_file(j, sfd, name, dfd, name, 1, NULL);
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlinkat(sfd, name, target, sizeof(target) - 1)) < 0)
			return -1;
		target[n] = '\0';
		return symlinkat(target, dfd, name) < 0 ||
		    fchownat(dfd, name, st.st_uid, st.st_gid,
		    AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		j->dropped++;
		return 0;
	}
	if (mkdirat(dfd, name, 0700) < 0)
		return -1;
	s2 = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d2 = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = s2 < 0 || d2 < 0 ? -1 : quarantine_copy_tree(j, s2, d2, depth + 1);
	if (d2 >= 0 && (fchown(d2, st.st_uid, st.st_gid) < 0 ||
	    fchmod(d2, st.st_mode & 07777) < 0))
		r = -1;
	if (s2 >= 0)
		close(s2);
	if (d2 >= 0)
		close(d2);
	return r;
}

/* Copy the entries of the directory sfd into dfd, bounded. The first
 * failure is kept in j->lost; the copy goes on. */
static int
quarantine_copy_tree(struct quarantine_job *j, int sfd, int dfd, int depth)
{
	int dup = fcntl(sfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup < 0 ? NULL : fdopendir(dup);
	struct dirent *de;

	if (d == NULL) {
		if (dup >= 0)
			close(dup);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (++j->entries > QUARANTINE_MAX_ENTRIES ||
		    depth >= QUARANTINE_MAX_DEPTH) {
			j->lost = E2BIG;
			break;
		}
		if (quarantine_copy_one(j, sfd, dfd, de->d_name, depth) < 0 &&
		    j->lost == 0)
			j->lost = errno;
	}
	closedir(d);
	return 0;
}

/* Remove the tree name in pfd (a directory, not followed if a link),
 * bounded like a copy. */
static int
quarantine_remove_tree(int pfd, const char *name, int depth)
{
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC), dup;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return unlinkat(pfd, name, 0);
	if (depth >= QUARANTINE_MAX_DEPTH || (dup = fcntl(fd, F_DUPFD_CLOEXEC,
	    0)) < 0 || (d = fdopendir(dup)) == NULL) {
		close(fd);
		errno = depth >= QUARANTINE_MAX_DEPTH ? E2BIG : errno;
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			quarantine_remove_tree(fd, de->d_name, depth + 1);
	closedir(d);
	close(fd);
	return unlinkat(pfd, name, AT_REMOVEDIR);
}

/* Inside a directory moved into the quarantine: FIFOs, devices and
 * hard links are removed (recorded as a count), entries counted. */
static void
quarantine_prune(struct quarantine_job *j, int fd, int depth)
{
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup < 0 ? NULL : fdopendir(dup);
	struct dirent *de;
	struct stat st;

	if (d == NULL) {
		if (dup >= 0)
			close(dup);
		return;
	}
	while ((de = readdir(d)) != NULL && j->entries <
	    QUARANTINE_MAX_ENTRIES) {
		int sub;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		j->entries++;
		if (quarantine_dropped_kind(&st)) {
			if (unlinkat(fd, de->d_name, 0) == 0)
				j->dropped++;
		} else if (S_ISDIR(st.st_mode) &&
		    depth + 1 < QUARANTINE_MAX_DEPTH &&
		    (sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			quarantine_prune(j, sub, depth + 1);
			close(sub);
		}
	}
	closedir(d);
}

/* What is held as <id>: owned by root, mode 0600 (0700 a directory),
 * so that its creator can no longer change it even through an fd. */
static void
quarantine_harden(struct quarantine_job *j)
{
	int fd;

	if (fchownat(j->qfd, j->id, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
		log_warn("quarantine %s: chown", j->id);
	if (j->what.type == ENTRY_SYMLINK)
		return;
	if (fchmodat(j->qfd, j->id, j->what.type == ENTRY_DIR ? 0700 : 0600,
	    0) < 0)
		log_warn("quarantine %s: chmod", j->id);
	if (j->what.type == ENTRY_DIR && (fd = openat(j->qfd, j->id,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		quarantine_prune(j, fd, 0);
		close(fd);
	}
}

/* SHA-256 of the regular file held as <id> (in a directory only root
 * enters: it cannot be swapped for a FIFO now). */
static void
quarantine_hash(struct quarantine_job *j)
{
	int fd = openat(j->qfd, j->id, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	struct hash_result hr;

	if (fd < 0)
		return;
	if (hash_fd(fd, j->s->xxh_secret, HASH_SHA, -1, j->what.size,
	    &hr) == 0) {
		memcpy(j->what.sha, hr.sha, sizeof(hr.sha));
		j->what.has_sha = 1;
	}
	close(fd);
}

/* Remove name from dfd and record it: what is never kept. */
static int
quarantine_drop(struct quarantine_job *j, int dfd, const char *name)
{
	struct stat st;

	if (quarantine_describe(&j->what, dfd, name, &st) < 0 ||
	    quarantine_new_id(j->id, sizeof(j->id)) < 0)
		return -1;
	if (unlinkat(dfd, name, 0) < 0)
		return -1;
	j->method = "removed";
	return 0;
}

/* Across filesystems: copy into the quarantine, then remove the
 * original if its name still leads to what was copied. */
static int
quarantine_copy(struct quarantine_job *j, int dfd, const char *name,
    const struct stat *st0)
{
	struct stat st;
	int r, s = -1, d = -1;

	if (quarantine_describe(&j->what, dfd, name, &st) < 0)
		return -1;
	if (st.st_dev != st0->st_dev || st.st_ino != st0->st_ino) {
		errno = ESTALE;
		return -1;
	}
	if (quarantine_dropped_kind(&st))
		return quarantine_drop(j, dfd, name);
	j->method = "copied";
	if (S_ISREG(st.st_mode)) {
		if ((r = quarantine_copy_file(j, dfd, name, j->qfd, j->id, 0,
		    j->what.sha)) == 0)
			j->what.has_sha = 1;
	} else if (S_ISLNK(st.st_mode))
		r = symlinkat(j->what.target, j->qfd, j->id);
	else if ((r = mkdirat(j->qfd, j->id, 0700)) == 0) {
		s = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		d = openat(j->qfd, j->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		r = s < 0 || d < 0 || !quarantine_same(dfd, name, st0) ? -1 :
		    quarantine_copy_tree(j, s, d, 0);
	}
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	if (r < 0 && j->lost == 0)
		j->lost = errno;
	if (!quarantine_same(dfd, name, st0)) {
		errno = ESTALE;
		return -1;
	}
	return S_ISDIR(st.st_mode) ? quarantine_remove_tree(dfd, name, 0) :
	    unlinkat(dfd, name, 0);
}

/* <id>.json before anything is moved to <id>: where it was, its
 * owner and mode as they were (what `approve PATH` needs to put it
 * back), so that a monitor killed between the move and the full
 * record (quarantine_record, which replaces it durably) leaves no
 * entry without one. Written in place, O_EXCL, not synced: it only
 * has to outlive this process, and costs one small write per entry.
 * -1 with errno (EEXIST: the id is taken). */
static int
quarantine_pending(struct quarantine_job *j, int dfd, const char *name)
{
	char side[64];
	json_object *ev = NULL;
	const char *line;
	struct stat st;
	int fd = -1, r = -1, err;

	snprintf(side, sizeof(side), "%s.json", j->id);
	if (quarantine_describe(&j->what, dfd, name, &st) == 0 &&
	    json_object_deep_copy(j->ev, &ev, NULL) == 0 &&
	    (fd = openat(j->qfd, side, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) >= 0) {
		event_file(ev, &j->what);
		event_set_str(event_obj(event_obj(ev, "fimguard"),
		    "quarantine"), "id", j->id);
		event_set_str(event_obj(event_obj(ev, "fimguard"),
		    "quarantine"), "method", "moving");
		line = json_object_to_json_string_ext(ev,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		r = file_append(fd, line, strlen(line));
	}
	err = errno;
	if (fd >= 0)
		close(fd);
	if (fd >= 0 && r < 0)
		unlinkat(j->qfd, side, 0);	/* ours, and cut short */
	json_object_put(ev);
	errno = err;
	return r;
}

/* Is the id held already (an entry or a record)? */
static int
quarantine_taken(const struct quarantine_job *j)
{
	char side[64];
	struct stat st;

	snprintf(side, sizeof(side), "%s.json", j->id);
	return fstatat(j->qfd, j->id, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    fstatat(j->qfd, side, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void
quarantine_unpend(struct quarantine_job *j)
{
	char side[64];

	snprintf(side, sizeof(side), "%s.json", j->id);
	unlinkat(j->qfd, side, 0);
}

/* Take name out of dfd: renamed into the quarantine (its record
 * written first), or copied. */
static int
quarantine_move(struct quarantine_job *j, int dfd, const char *name,
    const struct stat *st0)
{
	struct stat st;
	int r = -1, err;

	for (int i = 0; r < 0 && i < QUARANTINE_ID_TRIES; i++) {
		if (quarantine_new_id(j->id, sizeof(j->id)) < 0)
			return -1;
		if (quarantine_taken(j)) {	/* never another's record */
			errno = EEXIST;
			continue;
		}
		/* a full disk must not keep the entry in place: moved
		 * without its record then, as the record may fail too */
		if (quarantine_pending(j, dfd, name) < 0) {
			if (errno == EEXIST)
				continue;
			log_warn("quarantine %s: record before the move",
			    j->id);
		}
		if ((r = renameat2(dfd, name, j->qfd, j->id,
		    RENAME_NOREPLACE)) < 0) {
			err = errno;
			quarantine_unpend(j);
			errno = err;
			if (errno != EEXIST)
				break;
		}
	}
	if (r < 0)
		return errno == EXDEV ? quarantine_copy(j, dfd, name, st0) : -1;
	j->method = "moved";
	/* what is held now is what counts (the name may have been
	 * swapped just before the rename) */
	if (quarantine_describe(&j->what, j->qfd, j->id, &st) < 0)
		return -1;
	if (quarantine_dropped_kind(&st)) {
		unlinkat(j->qfd, j->id, 0);
		j->method = "removed";
		return 0;
	}
	if (S_ISREG(st.st_mode))
		quarantine_hash(j);
	quarantine_harden(j);
	return 0;
}

/* The event gets what was taken and where it is; <id>.json gets the
 * event. */
static void
quarantine_record(struct quarantine_job *j, json_object *ev)
{
	json_object *q = event_obj(event_obj(ev, "fimguard"), "quarantine");
	char *dir = state_path(j->s, QUARANTINE_DIR), *side, *why = NULL;
	const char *line;

	event_file(ev, &j->what);
	event_set_str(q, "id", j->id);
	event_set_str(q, "method", j->method);
	if (strcmp(j->method, "removed") != 0) {
		char *where = xasprintf("%s/%s", dir, j->id);

		event_put_path(q, "path", where);
		free(where);
	}
	if (j->what.type == ENTRY_DIR)
		json_object_object_add(q, "entries",
		    json_object_new_uint64(j->entries));
	if (j->dropped > 0)
		json_object_object_add(q, "not_kept",
		    json_object_new_uint64(j->dropped));
	if (j->lost != 0)
		event_set_str(q, "error", strerror(j->lost));
	line = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	side = xasprintf("%s.json", j->id);
	if (file_replace(dir, side, line, strlen(line), 0600, &why) < 0)
		log_warnx("quarantine record %s", why);
	free(why);
	free(side);
	free(dir);
}

/* Take the entry name of the directory dfd (path: its full path, for
 * the record) out into the quarantine; ev (the `quarantined` event,
 * with rule and who-data) gets what was done and is written as the
 * record. Returns 0, 1 when nothing is there any more, or -1 with
 * *why. */
int
quarantine_take(const struct state *s, int dfd, const char *name,
    const char *path, json_object *ev, char **why)
{
	struct quarantine_job j = { .s = s };
	struct stat st;
	int r;

	j.what.path = (char *)path;
	j.ev = ev;
	if ((j.qfd = quarantine_open(s, 1)) < 0) {
		*why = xasprintf("quarantine directory: %s", strerror(errno));
		return -1;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = errno == ENOENT ? 1 : -1;
		if (r < 0)
			*why = xasprintf("stat: %s", strerror(errno));
		close(j.qfd);
		return r;
	}
	r = quarantine_dropped_kind(&st) ? quarantine_drop(&j, dfd, name) :
	    quarantine_move(&j, dfd, name, &st);
	if (r < 0)
		*why = xasprintf("quarantine: %s", errno == ESTALE ?
		    "replaced while it was being taken" : strerror(errno));
	else
		quarantine_record(&j, ev);
	free(j.what.target);
	free(j.what.xattrs);
	close(j.qfd);
	return r;
}

/* ---- approve: the record, and putting an entry back ---- */

static json_object *
quarantine_read_json(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	json_object *o = NULL;
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size <= QUARANTINE_JSON_MAX) {
		buf = xmalloc((size_t)st.st_size + 1);
		if ((n = read(fd, buf, (size_t)st.st_size)) >= 0) {
			buf[n] = '\0';
			o = json_tokener_parse(buf);
		}
		free(buf);
	}
	close(fd);
	return o;
}

/* A JSON file of the quarantine directory (release.json, remade.json),
 * or NULL. */
json_object *
quarantine_json(const struct state *s, const char *name)
{
	int qfd = quarantine_open(s, 0);
	json_object *o;

	if (qfd < 0)
		return NULL;
	o = quarantine_read_json(qfd, name);
	close(qfd);
	return o;
}

static const char *
quarantine_str(json_object *o, const char *a, const char *b)
{
	json_object *x, *y;

	if (!json_object_object_get_ex(o, a, &x) ||
	    !json_object_object_get_ex(x, b, &y) ||
	    !json_object_is_type(y, json_type_string))
		return NULL;
	return json_object_get_string(y);
}

/* The original path a record names (exact bytes), or NULL. */
static char *
quarantine_orig_path(json_object *side)
{
	const char *b64 = quarantine_str(side, "fimguard", "path_base64"),
	    *p = quarantine_str(side, "file", "path");
	uint8_t *raw;
	size_t n;

	if (b64 == NULL)
		return p != NULL ? xstrdup(p) : NULL;
	if (util_b64_decode(b64, &raw, &n) < 0)
		return NULL;
	raw = xreallocarray(raw, n + 1, 1);
	raw[n] = '\0';
	return (char *)raw;
}

/* The newest record of an entry quarantined from path: its id in *id
 * and the record in *side (the caller frees both). 0, or -1 if none. */
int
quarantine_find(const struct state *s, const char *path, char **id,
    json_object **side)
{
	int qfd = quarantine_open(s, 0), dup;
	DIR *d = NULL;
	struct dirent *de;

	*id = NULL;
	*side = NULL;
	if (qfd < 0 || (dup = fcntl(qfd, F_DUPFD_CLOEXEC, 0)) < 0 ||
	    (d = fdopendir(dup)) == NULL) {
		if (qfd >= 0)
			close(qfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		json_object *o;
		char *orig;

		if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name +
		    n - 5, ".json") != 0 || strcmp(de->d_name,
		    QUARANTINE_RELEASE) == 0 || (*id != NULL &&
		    strncmp(de->d_name, *id, n - 5) < 0) ||
		    (o = quarantine_read_json(qfd, de->d_name)) == NULL)
			continue;
		orig = quarantine_orig_path(o);
		if (orig != NULL && strcmp(orig, path) == 0) {
			free(*id);
			json_object_put(*side);
			*id = xstrndup(de->d_name, n - 5);
			*side = o;
		} else
			json_object_put(o);
		free(orig);
	}
	closedir(d);
	close(qfd);
	return *id != NULL ? 0 : -1;
}

/* release.json: the entries this process (approve) puts back are its
 * own creations, not to be taken again by the monitor. */
int
quarantine_release(const struct state *s, const struct strlist *paths,
    char **why)
{
	json_object *o = json_object_new_object(), *arr =
	    json_object_new_array();
	char *dir = state_path(s, QUARANTINE_DIR);
	const char *line;
	int r;

	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "time_ms",
	    json_object_new_uint64(util_now_ms()));
	for (size_t i = 0; i < paths->n; i++) {
		char *b = util_b64_encode((const uint8_t *)paths->v[i],
		    strlen(paths->v[i]));

		json_object_array_add(arr, json_object_new_string(b));
		free(b);
	}
	json_object_object_add(o, "paths_base64", arr);
	line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	r = file_replace(dir, QUARANTINE_RELEASE, line, strlen(line), 0600,
	    why);
	json_object_put(o);
	free(dir);
	return r;
}

static int
quarantine_release_has(json_object *arr, const char *path)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		uint8_t *raw;
		size_t n;
		int hit;

		if (!json_object_is_type(e, json_type_string) ||
		    util_b64_decode(json_object_get_string(e), &raw, &n) < 0)
			continue;
		raw = xreallocarray(raw, n + 1, 1);
		raw[n] = '\0';
		hit = util_path_under(path, (const char *)raw);
		free(raw);
		if (hit)
			return 1;
	}
	return 0;
}

/* Was path (or a directory above it) put back by approve, process pid,
 * within the last QUARANTINE_RELEASE_MS? */
int
quarantine_released(const struct state *s, const char *path, pid_t pid)
{
	json_object *o = quarantine_json(s, QUARANTINE_RELEASE), *p, *t, *arr;
	int hit = 0;

	if (o != NULL && json_object_object_get_ex(o, "pid", &p) &&
	    json_object_object_get_ex(o, "time_ms", &t) &&
	    json_object_object_get_ex(o, "paths_base64", &arr) &&
	    json_object_is_type(arr, json_type_array) &&
	    json_object_get_int(p) == pid &&
	    util_now_ms() - json_object_get_uint64(t) <= QUARANTINE_RELEASE_MS)
		hit = quarantine_release_has(arr, path);
	json_object_put(o);
	return hit;
}

/* The record's owner and mode, for putting the entry back. */
static int
quarantine_orig_attrs(json_object *side, uid_t *uid, gid_t *gid,
    mode_t *mode)
{
	const char *u = quarantine_str(side, "file", "uid"),
	    *g = quarantine_str(side, "file", "gid"),
	    *m = quarantine_str(side, "file", "mode");

	if (u == NULL || g == NULL || m == NULL)
		return -1;
	*uid = (uid_t)strtoul(u, NULL, 10);
	*gid = (gid_t)strtoul(g, NULL, 10);
	*mode = (mode_t)strtoul(m, NULL, 8) & 07777;
	return 0;
}

/* Across filesystems: copy <id> to name in dfd, then remove <id>. */
static int
quarantine_copy_back(struct quarantine_job *j, int dfd, const char *name,
    const struct stat *st)
{
	char target[4097];
	ssize_t n;
	int r, s, d;

	if (S_ISREG(st->st_mode))
		r = quarantine_copy_file(j, j->qfd, j->id, dfd, name, 1, NULL);
	else if (S_ISLNK(st->st_mode)) {
		if ((n = readlinkat(j->qfd, j->id, target,
		    sizeof(target) - 1)) < 0)
			return -1;
		target[n] = '\0';
		r = symlinkat(target, dfd, name) < 0 || fchownat(dfd, name,
		    st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
	} else {
		if (mkdirat(dfd, name, 0700) < 0)
			return -1;
		s = openat(j->qfd, j->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		r = s < 0 || d < 0 ? -1 : quarantine_copy_tree(j, s, d, 0);
		if (d >= 0 && (fchown(d, st->st_uid, st->st_gid) < 0 ||
		    fchmod(d, st->st_mode & 07777) < 0))
			r = -1;
		if (s >= 0)
			close(s);
		if (d >= 0)
			close(d);
	}
	if (r < 0 || j->lost != 0)
		return -1;
	return S_ISDIR(st->st_mode) ? quarantine_remove_tree(j->qfd, j->id, 0) :
	    unlinkat(j->qfd, j->id, 0);
}

/* Put the entry quarantined as id (record side) back where it was,
 * with its original owner and mode, through a directory opened with
 * fn/arg's expectations; nothing is replaced. Its record goes. */
int
quarantine_put_back(const struct state *s, const char *id, json_object *side,
    fdpath_expect_fn fn, void *arg, char **why)
{
	struct quarantine_job j = { .s = s };
	char *path = quarantine_orig_path(side), *rec;
	const char *name;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	struct stat st;
	int dfd = -1, r = -1;

	snprintf(j.id, sizeof(j.id), "%s", id);
	if ((j.qfd = quarantine_open(s, 0)) < 0 || path == NULL ||
	    quarantine_orig_attrs(side, &uid, &gid, &mode) < 0) {
		*why = xstrdup("unreadable quarantine record");
		goto out;
	}
	if (fstatat(j.qfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		*why = xstrdup("not kept (a FIFO, device or hard link is only "
		    "recorded): nothing to put back");
		goto out;
	}
	/* its own owner and mode again, while only root can reach it */
	if (fchownat(j.qfd, id, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (!S_ISLNK(st.st_mode) && fchmodat(j.qfd, id, mode, 0) < 0) ||
	    fstatat(j.qfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		*why = xasprintf("owner and mode: %s", strerror(errno));
		goto out;
	}
	if ((dfd = fdpath_open_parent(path, &name, fn, arg, why)) < 0)
		goto out;
	if ((r = renameat2(j.qfd, id, dfd, name, RENAME_NOREPLACE)) < 0 &&
	    errno == EXDEV)
		r = quarantine_copy_back(&j, dfd, name, &st);
	if (r < 0) {
		*why = xstrdup(errno == EEXIST ? "something else has its name "
		    "now" : strerror(j.lost != 0 ? j.lost : errno));
		goto out;
	}
	rec = xasprintf("%s.json", id);
	unlinkat(j.qfd, rec, 0);
	free(rec);
out:
	if (dfd >= 0)
		close(dfd);
	if (j.qfd >= 0)
		close(j.qfd);
	free(path);
	return r;
}
