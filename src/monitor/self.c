/* What happens in fimguard's own directories: the state directory
 * (baseline, keys, vault, history) and the policy directory. They are
 * watched like a rule's directories (monitor.c:monitor_self): an entry
 * made, removed or renamed there, or an attribute change of one of
 * fimguard's files or of one of these directories, is reported with
 * rule fimguard-self (critical), with who did it where known; what is
 * new is watched from then on (writes to it denied in every mode).
 * The directories themselves are watched from the directory above:
 * renaming or removing one is reported too.
 *
 * Not reported: fimguard's own bookkeeping in the state directory, as
 * init and approve do it (core/journal.c, core/vault.c, core/file.c):
 * temporary files, the approval journal, the lock, a new history, the
 * vault's subdirectories, a vault file whose content has the SHA-256
 * its name says, and a baseline.json put in place that verifies under
 * the installation's key and is no older than the one in force (an
 * older one would roll approvals back). Each is judged by what it is,
 * not by who made it: a command that finished before the worker read
 * its events leaves no process to ask. In the policy directory nothing
 * is fimguard's doing: every change is reported (the reload that reads
 * it then says what it changes: reload.c). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/baseline.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/util.h"
#include "monitor/monitor.h"
#include "monitor/self.h"
#include "monitor/who.h"

#define SELF_DATASET	"fimguard.monitor"
#define SELF_DEPTH	4	/* as deep as monitor_self_dir looks */

/* The kind of the directory with notify index dir, or SELF_NONE. */
static int
self_kind(const struct monitor *m, int dir)
{
	size_t i;

	if (dir < 0 || (size_t)dir >= m->notify.paths.n ||
	    !htab_get(&m->self_paths, m->notify.paths.v[dir], &i) ||
	    m->self[i].kind == SELF_FILE)
		return SELF_NONE;
	return m->self[i].kind;
}

/* Is path the state or the policy directory itself? */
static int
self_top(const struct monitor *m, const char *path)
{
	return path != NULL && ((m->self_state != NULL &&
	    strcmp(path, m->self_state) == 0) || (m->self_policy != NULL &&
	    strcmp(path, m->self_policy) == 0));
}

/* path relative to the state directory, or NULL if not below it. */
static const char *
self_in_state(const struct monitor *m, const char *path)
{
	size_t n = m->self_state ? strlen(m->self_state) : 0;

	if (n == 0 || strncmp(path, m->self_state, n) != 0 || path[n] != '/')
		return NULL;
	return path + n + 1;
}

/* A temporary file of init, approve or the vault (state.c says which
 * are removed after a killed run). */
static int
self_tmp(const char *name)
{
	size_t n = strlen(BASELINE_FILE);

	return strncmp(name, FILE_TMP_PREFIX, strlen(FILE_TMP_PREFIX)) == 0 ||
	    (strncmp(name, BASELINE_FILE, n) == 0 && name[n] == '.' &&
	    strlen(name + n + 1) == 6);
}

/* n lowercase hex digits, then the end of s or a '/'. */
static int
self_hex(const char *s, size_t n)
{
	if (strnlen(s, n + 1) < n || (s[n] != '\0' && s[n] != '/'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return 1;
}

static int
self_skip_record(void *arg, json_object *rec, uint64_t off)
{
	(void)arg;
	(void)rec;
	(void)off;
	return 0;
}

/* baseline.json as it is now: verified under the key, and no older
 * than the baseline in force? */
static int
self_baseline_ok(struct monitor *m)
{
	struct baseline_sink sink = { self_skip_record, NULL };
	struct baseline hdr = { 0 };
	char *why = NULL;
	int ok = baseline_read(&hdr, &m->state, &sink, &why, NULL) ==
	    BASELINE_OK && hdr.created != NULL && m->base.created != NULL &&
	    strcmp(hdr.created, m->base.created) >= 0;

	free(hdr.created);
	free(why);
	return ok;
}

/* A vault file (vault/xx/<64 hex>) whose content has that SHA-256. */
static int
self_vault_ok(struct monitor *m, const char *path, const char *rel)
{
	struct hash_result hr;
	const char *name;
	char hex[65];
	struct stat st;
	int dfd, fd, ok = 0;

	if (strncmp(rel, "vault/", 6) != 0 || !self_hex(rel + 6, 2) ||
	    rel[8] != '/' || !self_hex(rel + 9, 64) || rel[73] != '\0' ||
	    strncmp(rel + 6, rel + 9, 2) != 0 ||
	    (dfd = monitor_open_parent(m, path, &name, NULL)) < 0)
		return 0;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    hash_fd(fd, m->state.xxh_secret, HASH_SHA, -1,
	    (uint64_t)st.st_size, &hr) == 0) {
		util_hex(hr.sha, 32, hex);
		ok = strcmp(hex, rel + 9) == 0;
	}
	close(fd);
	return ok;
}

/* Is what appeared at path (in a state directory) fimguard's doing? */
static int
self_own_new(struct monitor *m, const char *path, int is_dir)
{
	static const char *files[] = { "approve.journal", "approve.logged",
	    "approve.rollback", "lock", "history.jsonl" };
	const char *rel = self_in_state(m, path), *name;

	if (rel == NULL)
		return 0;
	name = strrchr(path, '/') + 1;
	if (strchr(rel, '/') == NULL) {		/* the state directory's */
		if (is_dir)
			return strcmp(name, "vault") == 0;
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			if (strcmp(name, files[i]) == 0)
				return 1;
		if (strcmp(name, BASELINE_FILE) == 0)
			return self_baseline_ok(m);
		return self_tmp(name);
	}
	if (strncmp(rel, "vault/", 6) == 0 && strchr(rel + 6, '/') == NULL)
		return is_dir ? self_hex(rel + 6, 2) && rel[8] == '\0' :
		    self_tmp(name);
	return !is_dir && self_vault_ok(m, path, rel);
}

/* Is what left path (in a state directory) fimguard's doing? Only its
 * temporary files and journal go away. */
static int
self_own_gone(const struct monitor *m, const char *path)
{
	const char *rel = self_in_state(m, path), *name;

	if (rel == NULL)
		return 0;
	name = strrchr(path, '/') + 1;
	if (strchr(rel, '/') == NULL && strncmp(name, "approve.", 8) == 0)
		return 1;
	return self_tmp(name) && (strchr(rel, '/') == NULL ||
	    (strncmp(rel, "vault/", 6) == 0 && strchr(rel + 6, '/') == NULL));
}

static void
self_report(struct monitor *m, const char *action, const char *path,
    const char *previous, pid_t pid)
{
	json_object *ev = event_new(SELF_DATASET, action, "success");

	event_put_path(event_obj(ev, "file"), "path", path);
	monitor_event_rule(m, ev, -1);
	if (previous != NULL)
		event_put_path(event_obj(event_obj(ev, "fimguard"),
		    "previous"), "path", previous);
	who_pid_to_event(ev, pid);
	event_emit(&m->sink, ev);
}

static void	self_appeared(struct monitor *, const char *, int, int,
		    pid_t, int);

/* A directory of ours that is new: watched, and what it already holds
 * judged as new too (it may have been filled before its mark). */
static void
self_new_dir(struct monitor *m, const char *path, int kind, pid_t pid,
    int depth)
{
	struct dirent **ents;
	int n;

	if (depth > SELF_DEPTH || monitor_self_mark(m, path, kind) < 0 ||
	    (n = scandir(path, &ents, NULL, alphasort)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		const char *e = ents[i]->d_name;

		if (strcmp(e, ".") != 0 && strcmp(e, "..") != 0) {
			char *p = xasprintf("%s/%s", path, e);

			self_appeared(m, p, ents[i]->d_type == DT_DIR, kind,
			    pid, depth + 1);
			free(p);
		}
		free(ents[i]);
	}
	free(ents);
}

/* path appeared in one of our directories of this kind: reported and
 * watched at once unless it is fimguard's own bookkeeping. That is
 * watched from the reload init and approve ask for when they are done
 * (watched earlier, their own close of it would be a change no open
 * shows them making). A new directory is watched either way. */
static void
self_appeared(struct monitor *m, const char *path, int is_dir, int kind,
    pid_t pid, int depth)
{
	int own = kind == SELF_STATE && self_own_new(m, path, is_dir);

	if (!own)
		self_report(m, "created", path, NULL, pid);
	if (is_dir)
		self_new_dir(m, path, kind, pid, depth);
	else if (!own)
		monitor_watch_created(m, path, -1, pid);
}

/* A rename from or into one of our directories (or of one of them). */
static int
self_rename_said(struct monitor *m, const struct notify_event *ev, int from,
    int to)
{
	if (self_top(m, ev->path) || self_top(m, ev->newpath) ||
	    from == SELF_POLICY || to == SELF_POLICY)
		return 1;
	if (from == SELF_STATE && !self_own_gone(m, ev->path))
		return 1;
	/* where it lands (unknown: out of what is watched, as only the
	 * vault's temporary files go, to a new vault directory) */
	return to == SELF_STATE && ev->newpath != NULL &&
	    !self_own_new(m, ev->newpath, ev->is_dir);
}

static void
self_renamed(struct monitor *m, const struct notify_event *ev, int from,
    int to)
{
	int said = self_rename_said(m, ev, from, to);

	if (said)
		self_report(m, "renamed", ev->newpath ? ev->newpath : ev->path,
		    ev->path, ev->pid);
	if (to == SELF_NONE || ev->newpath == NULL || (!said && !ev->is_dir))
		return;		/* own bookkeeping: see self_appeared */
	if (ev->is_dir)
		self_new_dir(m, ev->newpath, to, ev->pid, 1);
	else
		monitor_watch_live(m, ev->newpath, -1);
}

/* Owner and mode of path now (no link followed); 0 if it is gone. */
static int
self_stat(struct monitor *m, const char *path, struct monitor_attrs *a)
{
	const char *name;
	struct stat st;
	int dfd = monitor_open_parent(m, path, &name, NULL), r;

	if (dfd < 0)
		return 0;
	r = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	close(dfd);
	if (r)
		*a = (struct monitor_attrs){ st.st_mode & 07777, st.st_uid,
		    st.st_gid };
	return r;
}

/* An attribute event of one of fimguard's files or directories: said
 * when its owner or mode is no longer what it was (a link count that
 * dropped, when approve renames a new baseline over the old, is not). */
static void
self_attrib(struct monitor *m, const struct notify_event *ev)
{
	struct monitor_attrs *was, now;
	size_t i;

	/* no path: a file's own mark, reached through a hard link in a
	 * directory nobody watches (notify.c: by its handle) */
	if (ev->path == NULL || !htab_get(&m->self_paths, ev->path, &i))
		return;
	was = &m->self[i].attrs;
	if (!self_stat(m, ev->path, &now) || (now.mode == was->mode &&
	    now.uid == was->uid && now.gid == was->gid))
		return;
	*was = now;
	self_report(m, "attributes-changed", ev->path, NULL, ev->pid);
}

/* The worker's directory events, before anything else looks at them:
 * 1 if it was about fimguard's own files or directories (handled). */
int
self_notify(struct monitor *m, const struct notify_event *ev)
{
	int from = self_kind(m, ev->dir), to = ev->kind == NOTIFY_RENAME ?
	    self_kind(m, ev->newdir) : SELF_NONE;
	int top = self_top(m, ev->path) || self_top(m, ev->newpath);
	size_t idx;

	if (ev->kind == NOTIFY_ATTRIB) {
		self_attrib(m, ev);
		return 0;	/* a rule's file too, perhaps: go on */
	}
	if (from == SELF_NONE && to == SELF_NONE && !top)
		return 0;
	switch (ev->kind) {
	case NOTIFY_CREATE:
		if (from != SELF_NONE)
			self_appeared(m, ev->path, ev->is_dir, from, ev->pid, 1);
		return 1;
	case NOTIFY_DELETE:
		if (top || (from == SELF_POLICY || !self_own_gone(m, ev->path)))
			self_report(m, "deleted", ev->path, NULL, ev->pid);
		if (ev->is_dir && htab_get(&m->self_paths, ev->path, &idx))
			htab_del(&m->self_paths, ev->path);
		return 1;
	case NOTIFY_RENAME:
		self_renamed(m, ev, from, to);
		return 1;
	default:
		return 0;
	}
}
