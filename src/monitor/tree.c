/* The protected tree beyond its regular files' content. The worker
 * (worker.c:worker_notify) hands over each directory event that is not
 * about a watched regular file:
 *  - a new entry in a directory a rule covers: reported `created`;
 *    under new_files = quarantine, one a non-writer made is taken out
 *    (quarantine.c: `quarantined`), else it is protected from then on;
 *  - directories and symlinks of the baseline are entries of their
 *    own: removing, renaming, replacing them or changing their owner,
 *    mode, xattrs or target is reported and, under restore = yes in
 *    enforce mode (unless an allowed writer did it), undone: what is in
 *    the way is quarantined, the directory made again with its owner
 *    and mode and everything the baseline has below it restored (files
 *    from the vault), a symlink made again with its target;
 *  - the directories above a rule's root, watched since start: a rename
 *    of the root's parent is the same as one of the root.
 * What is expected where: a baseline directory or symlink is what its
 * entry records ((device, inode) updated here when it is made again or
 * accepted), a directory above the baseline's is what the monitor
 * watched there (notify.c). Every step goes through directory fds
 * verified against those (monitor.c:monitor_restore_dir). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/compare.h"
#include "core/log.h"
#include "core/report.h"
#include "core/walk.h"
#include "monitor/quarantine.h"
#include "monitor/remade.h"
#include "monitor/restore.h"
#include "monitor/tree.h"
#include "monitor/who.h"

#define TREE_DATASET	"fimguard.monitor"
/* attributes of a directory or symlink that are its protection */
#define TREE_ATTRS	(CMP_MODE | CMP_UID | CMP_GID | CMP_XATTRS | CMP_TARGET)
/* directories made again above one entry, at most */
#define TREE_MAX_LEVELS	256
/* entries of one directory looked at by a sweep, at most */
#define TREE_SWEEP_MAX	10000

/* What a restore of a subtree did. */
struct tree_job {
	int		 rule;
	const struct notify_event *nev;	/* the change being undone */
	const char	*cause;
	size_t		 done, failed;
	/* directories made again, or back after being away: what else is
	 * in them slipped in unseen (tree_sweep) */
	struct strlist	 sweep;
};

static int
tree_rule_index(const struct monitor *m, const char *name)
{
	for (size_t r = 0; name != NULL && r < m->conf.nrules; r++)
		if (strcmp(m->conf.rules[r].name, name) == 0)
			return (int)r;
	return -1;
}

/* The baseline's entry at path, if a rule in force has it. */
static struct entry *
tree_base(const struct monitor *m, const char *path, int *rule)
{
	struct entry *e;

	if (path == NULL || !baseline_find(&m->base, path, &e) ||
	    (*rule = tree_rule_index(m, e->rule)) < 0)
		return NULL;
	return e;
}

/* The baseline entries strictly below path: [*lo, *hi). The baseline is
 * sorted by path (strcmp), so those starting with "path/" are
 * together. */
static void
tree_below(const struct monitor *m, const char *path, size_t *lo,
    size_t *hi)
{
	const struct entryvec *ev = &m->base.ev;
	char *prefix = strcmp(path, "/") == 0 ? xstrdup("/") :
	    xasprintf("%s/", path);
	size_t a = 0, b = ev->n, n = strlen(prefix);

	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (strcmp(ev->v[mid].path, prefix) < 0)
			a = mid + 1;
		else
			b = mid;
	}
	for (b = a; b < ev->n && strncmp(ev->v[b].path, prefix, n) == 0; b++)
		continue;
	*lo = a;
	*hi = b;
	free(prefix);
}

static int
tree_restorable(const struct monitor *m, int rule)
{
	return rule >= 0 && m->conf.rules[rule].restore &&
	    monitor_rule_mode(m, rule) == CONF_MODE_ENFORCE;
}

/* Who made the change nev reports: all that /proc says of the process
 * while its pidfd shows it alive (so the pid was not reused meanwhile:
 * read first, checked after), else its pid. */
static void
tree_who(json_object *ev, const struct notify_event *nev)
{
	struct pollfd p = { nev != NULL ? nev->pidfd : -1, POLLIN, 0 };
	struct perm_record r;

	if (nev == NULL || nev->pid <= 0)
		return;
	if (nev->pidfd >= 0) {
		memset(&r, 0, sizeof(r));
		who_snapshot(nev->pid, &r);
		if (r.exe[0] != '\0' && poll(&p, 1, 0) == 0) {
			r.pid = nev->pid;
			who_to_event(ev, &r);
			return;
		}
	}
	who_pid_to_event(ev, nev->pid);
}

static json_object *
tree_event(struct monitor *m, const char *action, const char *outcome,
    const char *path, int rule, const struct notify_event *nev,
    const char *cause)
{
	json_object *ev = event_new(TREE_DATASET, action, outcome);

	event_put_path(event_obj(ev, "file"), "path", path);
	monitor_event_rule(m, ev, rule);
	if (cause != NULL)
		event_set_str(event_obj(ev, "fimguard"), "cause", cause);
	tree_who(ev, nev);
	return ev;
}

static void
tree_failed(struct monitor *m, const char *path, int rule,
    const struct notify_event *nev,
    const char *cause, const char *why)
{
	json_object *ev = tree_event(m, "restore-failed", "failure", path,
	    rule, nev, cause);
	char *shown = fdpath_show(path);

	log_warnx("%s: restore failed: %s", shown, why ? why : "?");
	free(shown);
	event_set_str(event_obj(ev, "fimguard"), "error", why ? why : "?");
	event_emit(&m->sink, ev);
}

/* What is at path now (not followed), through the watched directories. */
static int
tree_stat(const struct monitor *m, const char *path, struct stat *st)
{
	const char *name;
	int dfd = monitor_open_parent(m, path, &name, NULL), r;

	if (dfd < 0)
		return -1;
	r = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW);
	close(dfd);
	return r;
}

static const char *
tree_type(const struct stat *st)
{
	struct entry e = { 0 };

	entry_from_stat(&e, st);
	return e.type == ENTRY_FILE ? "file" : entry_type_name(e.type);
}

/* Take name (in dfd, at path) out into the quarantine: `quarantined`,
 * or restore-failed. Returns 0 (also when it is gone), -1. */
static int
tree_quarantine_at(struct monitor *m, int dfd, const char *name,
    const char *path, int rule, const struct notify_event *nev,
    const char *cause)
{
	json_object *ev = tree_event(m, "quarantined", "success", path, rule,
	    nev, cause);
	char *why = NULL;
	int r = quarantine_take(&m->state, dfd, name, path, ev, &why);

	if (r == 0) {
		m->quarantined++;
		event_emit(&m->sink, ev);
	} else {
		json_object_put(ev);
		if (r < 0)
			tree_failed(m, path, rule, nev, cause, why);
	}
	free(why);
	return r < 0 ? -1 : 0;
}

/* The same for an entry named by an event in the watched directory
 * index dir: only in that very directory. */
static int
tree_quarantine(struct monitor *m, const char *path, int dir, int rule,
    const struct notify_event *nev, const char *cause)
{
	const struct notify_id *id = &m->notify.id[dir];
	const char *name;
	char *why = NULL;
	struct stat st;
	int dfd = monitor_open_parent(m, path, &name, &why), r;

	if (dfd >= 0 && (fstat(dfd, &st) < 0 || (uint64_t)st.st_dev !=
	    id->dev || (uint64_t)st.st_ino != id->ino)) {
		close(dfd);
		dfd = -1;
		why = xstrdup("its directory is not the one watched");
	}
	if (dfd < 0) {
		tree_failed(m, path, rule, nev, cause, why);
		free(why);
		return -1;
	}
	r = tree_quarantine_at(m, dfd, name, path, rule, nev, cause);
	close(dfd);
	return r;
}

/* The rule a watched directory's new entries belong to: the baseline
 * directory's own rule if it is the rule's root or the rule recurses;
 * -1 above the baseline. */
static int
tree_dir_rule(const struct monitor *m, const char *path, int rule)
{
	char *parent;
	int prule = -1, own;

	if (rule < 0)
		return -1;
	if (m->conf.rules[rule].recursive)
		return rule;
	parent = util_dirname(path);
	own = tree_base(m, parent, &prule) == NULL || prule != rule;
	free(parent);
	return own ? rule : -1;
}

/* The baseline entry b is (dev, ino) now, here and for the instances
 * after this one (remade.c). */
static void
tree_remade(struct monitor *m, struct entry *b, uint64_t dev, uint64_t ino)
{
	if (b->dev == dev && b->ino == ino)
		return;
	remade_note(&m->state, b->path, b->dev, b->ino, dev, ino);
	b->dev = dev;
	b->ino = ino;
}

/* A directory now at path is the one expected there: recorded as such
 * and watched (rule: its entries' rule, or -1). */
static void
tree_adopt_dir(struct monitor *m, struct entry *b, const char *path,
    int rule, uint64_t dev, uint64_t ino)
{
	if (b != NULL)
		tree_remade(m, b, dev, ino);
	if (notify_mark_dir(&m->notify, path, rule) < 0)
		log_warn("%s: cannot watch", path);
}

/* What a directory above the baseline's entries was when the monitor
 * watched it, as an entry to make it again from. */
static int
tree_ancestor_entry(const struct monitor *m, const char *path,
    struct entry *e)
{
	int d = notify_dir_at(&m->notify, path);

	if (d < 0)
		return -1;
	*e = (struct entry){ .path = (char *)path, .type = ENTRY_DIR,
	    .mode = m->notify.id[d].mode, .uid = m->notify.id[d].uid,
	    .gid = m->notify.id[d].gid };
	return 0;
}

/* Is the object st a directory that belongs at path: the baseline's,
 * or one the monitor watched there (the original moved away and back,
 * one it made again)? Anything else there is an intruder. */
static int
tree_expected_dir(struct monitor *m, const char *path, const struct stat *st)
{
	uint64_t dev = (uint64_t)st->st_dev, ino = (uint64_t)st->st_ino, bd, bi;

	if (!S_ISDIR(st->st_mode))
		return 0;
	if (notify_dir_was(&m->notify, path, dev, ino))
		return 1;
	if (monitor_restore_dir(m, path, &bd, &bi))
		return bd == dev && bi == ino;
	return notify_dir_at(&m->notify, path) < 0;	/* nothing recorded */
}

/* The directory st, which belongs at path, is the one there now: what
 * paths through it expect, and watched (when it was moved away and
 * back, or came back while the monitor made another). */
static void
tree_readopt(struct monitor *m, const char *path, const struct stat *st,
    struct tree_job *j)
{
	int rule = -1, d = notify_dir_at(&m->notify, path);
	struct entry *b = tree_base(m, path, &rule);

	if (b != NULL && b->type != ENTRY_DIR)
		return;
	if (b != NULL && (b->dev != (uint64_t)st->st_dev ||
	    b->ino != (uint64_t)st->st_ino))
		tree_remade(m, b, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
	if (d < 0 || m->notify.id[d].gone || m->notify.id[d].dev !=
	    (uint64_t)st->st_dev || m->notify.id[d].ino != (uint64_t)st->st_ino) {
		tree_adopt_dir(m, NULL, path, tree_dir_rule(m, path, rule),
		    (uint64_t)st->st_dev, (uint64_t)st->st_ino);
		strlist_push(&j->sweep, path);	/* it was away */
	}
}

/* Is the directory expected at path there (0)? Else what is in its
 * way is taken out into the quarantine: 1, the name is free now; -1
 * (*why) when it cannot be. */
static int
tree_clear_dir(struct monitor *m, const char *path, struct tree_job *j,
    char **why)
{
	const char *name;
	struct stat st;
	int dfd, r = 1;

	if ((dfd = fdpath_open_parent(path, &name, monitor_restore_dir, m,
	    why)) < 0)
		return -1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (tree_expected_dir(m, path, &st)) {
			tree_readopt(m, path, &st, j);
			r = 0;
		} else if (tree_quarantine_at(m, dfd, name, path, j->rule,
		    j->nev, "replaced") < 0) {
			*why = xstrdup("what is in its place could not be "
			    "taken out");
			r = -1;
		}
	}
	close(dfd);
	return r;
}

/* The directory path (a baseline directory, or one above them that the
 * monitor watched) is there, and the one expected: else what is in the
 * way goes to the quarantine and it is made again. 1 made, 0 was
 * there, -1 failed (*why). */
static int
tree_ensure_dir(struct monitor *m, const char *path, struct tree_job *j,
    char **why)
{
	struct entry anc, *b;
	uint64_t dev = 0, ino = 0;
	int rule = -1, r = -1;

	b = tree_base(m, path, &rule);
	if ((b == NULL || b->type != ENTRY_DIR) &&
	    (b != NULL || tree_ancestor_entry(m, path, &anc) < 0))
		return 0;	/* nothing recorded: nothing to make */
	/* someone may make something there between our look and our
	 * mkdir: then that is taken out too, a few times at most */
	for (int tries = 0; tries < 3 && dev == 0 && ino == 0; tries++) {
		if ((r = tree_clear_dir(m, path, j, why)) <= 0)
			return r;
		free(*why);
		*why = NULL;
		r = restore_dir(b != NULL ? b : &anc, b != NULL ? TREE_ATTRS :
		    (CMP_MODE | CMP_UID | CMP_GID), monitor_restore_dir, m,
		    &dev, &ino, why);
	}
	if (dev != 0 || ino != 0) {
		tree_adopt_dir(m, b, path, tree_dir_rule(m, path, b != NULL ?
		    rule : -1), dev, ino);
		strlist_push(&j->sweep, path);	/* before it was watched */
	}
	return r < 0 ? -1 : 1;
}

/* The recorded directories above path, from the top: each there and
 * the one expected, or made again. */
static int
tree_ensure_above(struct monitor *m, const char *path, struct tree_job *j,
    char **why)
{
	size_t len = strlen(path);
	char *p = xstrdup(path);
	int levels = 0, r = 0;

	for (size_t i = 1; i < len && r >= 0; i++) {
		if (p[i] != '/')
			continue;
		p[i] = '\0';
		if ((r = tree_ensure_dir(m, p, j, why)) > 0 &&
		    ++levels > TREE_MAX_LEVELS)
			r = -1;
		if (r > 0)
			j->done++;
		p[i] = '/';
	}
	free(p);
	return r < 0 ? -1 : 0;
}

/* A regular file of the baseline below a directory made again (or one
 * whose name holds something else): from the vault, watched. */
static int
tree_ensure_file(struct monitor *m, struct entry *e, int rule, int dfd,
    const char *name, struct tree_job *j, char **why)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* there and watched: its own marks guard it; an unwatched
		 * one came while its directory was away or being made */
		if ((S_ISREG(st.st_mode) && watch_get(m->tab, st.st_dev,
		    st.st_ino) != NULL) || !tree_restorable(m, rule))
			return 0;
		if (tree_quarantine_at(m, dfd, name, e->path, rule, j->nev,
		    "replaced") < 0)
			return -1;
	}
	if (!tree_restorable(m, rule)) {
		*why = xstrdup("its rule does not restore");
		return -1;
	}
	if (monitor_restore_live(m, e, rule, why) < 0)
		return -1;
	m->restores++;
	return 1;
}

/* A symlink of the baseline: made again unless it is there with its
 * target (a directory in its way is quarantined; anything else is
 * replaced by the rename). */
static int
tree_ensure_link(struct monitor *m, struct entry *e, int rule, int dfd,
    const char *name, struct tree_job *j, char **why)
{
	char target[4097];
	struct stat st;
	ssize_t n;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode) && (n = readlinkat(dfd, name, target,
		    sizeof(target) - 1)) >= 0 && (target[n] = '\0',
		    e->target != NULL && strcmp(target, e->target) == 0))
			return 0;
		if (S_ISDIR(st.st_mode) && tree_quarantine_at(m, dfd, name,
		    e->path, rule, j->nev, "replaced") < 0)
			return -1;
	}
	if (restore_symlink(e, monitor_restore_dir, m, why) < 0)
		return -1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		tree_remade(m, e, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	notify_mark_link(&m->notify, dfd, name);
	return 1;
}

/* One baseline entry, at or below what is being restored. */
static int
tree_ensure(struct monitor *m, struct entry *e, int rule, struct tree_job *j,
    char **why)
{
	const char *name;
	int dfd, r;

	if (e->type == ENTRY_DIR)
		return tree_ensure_dir(m, e->path, j, why);
	if (e->type != ENTRY_FILE && e->type != ENTRY_SYMLINK) {
		*why = xasprintf("a %s is not made again",
		    entry_type_name(e->type));
		return -1;
	}
	if ((dfd = fdpath_open_parent(e->path, &name, monitor_restore_dir, m,
	    why)) < 0)
		return -1;
	r = e->type == ENTRY_FILE ? tree_ensure_file(m, e, rule, dfd, name, j,
	    why) : tree_ensure_link(m, e, rule, dfd, name, j, why);
	close(dfd);
	return r;
}

/* One entry below what is restored, tried again once when it fails:
 * its directory may have changed under the restore (the original came
 * back over the one being made, an intruder took its place), so the
 * directories above it are looked at again first. */
static int
tree_ensure_again(struct monitor *m, struct entry *e, int rule,
    struct tree_job *j, char **why)
{
	int r = tree_ensure(m, e, rule, j, why);

	if (r >= 0)
		return r;
	free(*why);
	*why = NULL;
	if (tree_ensure_above(m, e->path, j, why) < 0)
		return -1;
	return tree_ensure(m, e, rule, j, why);
}

/* A new entry's `created` event (its type, when it is still there). */
static void
tree_created_event(struct monitor *m, const char *path, int rule,
    const struct notify_event *nev)
{
	json_object *ev = tree_event(m, "created", "success", path, rule, nev,
	    NULL);
	struct stat st;

	if (tree_stat(m, path, &st) == 0)
		event_set_str(event_obj(ev, "file"), "type", tree_type(&st));
	event_emit(&m->sink, ev);
}

/* An entry a sweep found: reported, then quarantined (new_files) or
 * protected. */
static void
tree_swept(struct monitor *m, int dfd, const char *name, const char *path,
    int rule, struct tree_job *j)
{
	struct stat st;

	tree_created_event(m, path, rule, j->nev);
	if (conf_rule_new_files(&m->conf, &m->conf.rules[rule]) ==
	    CONF_NEW_QUARANTINE) {
		tree_quarantine_at(m, dfd, name, path, rule, j->nev, "created");
		return;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode)) {
		if (m->conf.rules[rule].recursive)
			notify_mark_dir(&m->notify, path, rule);
	} else
		monitor_watch_live(m, path, rule);
}

/* Is path an entry the monitor knows: the baseline's, a file it
 * watches, a directory it watches? */
static int
tree_known(struct monitor *m, const char *path)
{
	struct entry *e;
	size_t i;
	int d = notify_dir_at(&m->notify, path);

	return baseline_find(&m->base, path, &e) || htab_get(&m->byname,
	    path, &i) || (d >= 0 && !m->notify.id[d].gone);
}

/* The directory dir was made again, or is back after being away: what
 * is in it that the monitor does not know came in unseen, and is a new
 * entry like any other (reported; quarantined or protected). */
static void
tree_sweep(struct monitor *m, const char *dir, struct tree_job *j)
{
	int brule = -1, rule, fd, dup;
	struct entry *b = tree_base(m, dir, &brule);
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	rule = b != NULL ? tree_dir_rule(m, dir, brule) : -1;
	if (rule < 0 || (fd = fdpath_openat(dir, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW, monitor_restore_dir, m, NULL)) < 0)
		return;
	if ((dup = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0 ||
	    (d = fdopendir(dup)) == NULL) {
		if (dup >= 0)
			close(dup);
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL && n++ < TREE_SWEEP_MAX) {
		char *path;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		path = strcmp(dir, "/") == 0 ? xasprintf("/%s", de->d_name) :
		    xasprintf("%s/%s", dir, de->d_name);
		if (!tree_known(m, path) && !walk_excluded(&m->conf.rules[rule],
		    path, de->d_name))
			tree_swept(m, fd, de->d_name, path, rule, j);
		free(path);
	}
	closedir(d);
	close(fd);
}

/* path (a baseline entry, or a watched directory above them) is gone
 * or replaced: everything recorded from the top down to it and below
 * it is put back. One `restored` event for path when all is back;
 * restore-failed for each entry that is not. */
static void
tree_restore(struct monitor *m, const char *path, int rule,
    const struct notify_event *nev, const char *cause)
{
	struct tree_job j = { .rule = rule, .nev = nev, .cause = cause };
	size_t lo, hi;
	char *why = NULL;
	struct entry *b;
	json_object *ev;
	int brule = -1, r;

	if (tree_ensure_above(m, path, &j, &why) < 0) {
		tree_failed(m, path, rule, nev, cause, why);
		free(why);
		strlist_free(&j.sweep);
		return;
	}
	b = tree_base(m, path, &brule);
	if ((r = b != NULL ? tree_ensure(m, b, brule, &j, &why) :
	    tree_ensure_dir(m, path, &j, &why)) < 0) {
		tree_failed(m, path, rule, nev, cause, why);
		free(why);
		strlist_free(&j.sweep);
		return;
	}
	j.done += (size_t)r;
	tree_below(m, path, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		struct entry *e = &m->base.ev.v[i];
		int erule = tree_rule_index(m, e->rule);

		if (erule < 0)
			continue;
		why = NULL;
		if ((r = tree_ensure_again(m, e, erule, &j, &why)) < 0) {
			j.failed++;
			tree_failed(m, e->path, erule, nev, cause, why);
		} else
			j.done += (size_t)r;
		free(why);
	}
	for (size_t i = 0; i < j.sweep.n; i++)
		tree_sweep(m, j.sweep.v[i], &j);
	strlist_free(&j.sweep);
	if (j.done == 0 && j.failed == 0)
		return;		/* all there: made again already */
	m->restores++;
	ev = tree_event(m, j.failed ? "restore-failed" : "restored",
	    j.failed ? "failure" : "success", path, rule, nev, cause);
	json_object_object_add(event_obj(ev, "fimguard"), "restored_entries",
	    json_object_new_uint64(j.done));
	if (j.failed)
		event_set_str(event_obj(ev, "fimguard"), "error",
		    "some entries below it could not be put back");
	event_emit(&m->sink, ev);
}

/* A symlink made again by an attribute restore: watched like the one
 * it replaces. */
static void
tree_mark_link(struct monitor *m, const char *path)
{
	const char *name;
	int dfd = monitor_open_parent(m, path, &name, NULL);

	if (dfd < 0)
		return;
	notify_mark_link(&m->notify, dfd, name);
	close(dfd);
}

/* Something new has the name of a baseline directory or symlink: what
 * the monitor made again (nothing to do), an intruder (quarantined and
 * the entry restored), or a replacement that stays (watched). */
static void
tree_came_back(struct monitor *m, const struct notify_event *ev,
    struct entry *b, int rule, tree_writer_fn wf)
{
	struct stat st;

	if (tree_stat(m, b->path, &st) < 0 || ((uint64_t)st.st_dev == b->dev &&
	    (uint64_t)st.st_ino == b->ino))
		return;
	tree_created_event(m, b->path, rule, ev);
	if (tree_restorable(m, rule) && !wf(m, rule, ev)) {
		tree_restore(m, b->path, rule, ev, "replaced");
		return;
	}
	if (b->type == ENTRY_DIR && S_ISDIR(st.st_mode))
		tree_adopt_dir(m, b, b->path, tree_dir_rule(m, b->path, rule),
		    (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	else if (b->type == ENTRY_FILE)
		monitor_watch_created(m, b->path, rule, ev->pid);
}

/* A name appeared (created, or renamed in) in the watched directory
 * index dir. A known watched file's new inode is the worker's. */
void
tree_created(struct monitor *m, const struct notify_event *ev,
    const char *path, int dir, tree_writer_fn wf)
{
	int rule = dir >= 0 ? m->notify.rule[dir] : -1, brule = -1;
	struct entry *b = tree_base(m, path, &brule);

	if (b != NULL) {
		tree_came_back(m, ev, b, brule, wf);
		return;
	}
	if (rule < 0 || walk_excluded(&m->conf.rules[rule], path,
	    strrchr(path, '/') + 1))
		return;		/* not covered, or excluded (editor swap files) */
	tree_created_event(m, path, rule, ev);
	if (conf_rule_new_files(&m->conf, &m->conf.rules[rule]) ==
	    CONF_NEW_QUARANTINE && !wf(m, rule, ev) &&
	    !quarantine_released(&m->state, path, ev->pid)) {
		tree_quarantine(m, path, dir, rule, ev, "created");
		return;
	}
	/* an allowed writer's (or reported only): protected from now on */
	if (ev->is_dir) {
		if (m->conf.rules[rule].recursive)
			notify_mark_dir(&m->notify, path, rule);
	} else
		monitor_watch_created(m, path, rule, ev->pid);
}

/* Nothing is undone: the directories now at path and below it that the
 * baseline records (or, for path, that the monitor watched) are watched
 * again, whatever they are (a directory moved away and back, or one
 * that took its place): their entries' changes are still reported. */
static void
tree_keep(struct monitor *m, const char *path)
{
	struct entry *b;
	struct stat st;
	size_t lo, hi;
	int rule = -1;

	if (tree_stat(m, path, &st) == 0 && S_ISDIR(st.st_mode)) {
		b = tree_base(m, path, &rule);
		if (b == NULL || b->type == ENTRY_DIR)
			tree_adopt_dir(m, b, path, tree_dir_rule(m, path, rule),
			    (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	}
	tree_below(m, path, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		b = &m->base.ev.v[i];
		if (b->type == ENTRY_DIR && (rule = tree_rule_index(m,
		    b->rule)) >= 0 && tree_stat(m, b->path, &st) == 0 &&
		    S_ISDIR(st.st_mode))
			tree_adopt_dir(m, b, b->path, tree_dir_rule(m, b->path,
			    rule), (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	}
}

/* path, a baseline directory or symlink or a watched directory above
 * the baseline's entries, was removed or renamed (ev: DELETE, RENAME
 * or MOVED). Returns 0 when path is none of these (the worker's). */
int
tree_gone(struct monitor *m, const struct notify_event *ev, const char *path,
    const char *cause, tree_writer_fn wf)
{
	int rule = -1, d;
	struct entry *b;
	json_object *out;
	size_t lo, hi;

	if (path == NULL)
		return 0;
	d = notify_dir_at(&m->notify, path);
	if ((b = tree_base(m, path, &rule)) == NULL) {
		if (d < 0 || d == m->notify.fence || m->notify.id[d].gone)
			return 0;
		tree_below(m, path, &lo, &hi);
		if (lo == hi || (rule = tree_rule_index(m,
		    m->base.ev.v[lo].rule)) < 0)
			return 0;
	} else if (b->type == ENTRY_FILE)
		return 0;
	if (d >= 0)
		notify_forget(&m->notify, path);
	out = tree_event(m, ev->kind == NOTIFY_DELETE ? "deleted" : "renamed",
	    "success", ev->kind == NOTIFY_RENAME && ev->newpath != NULL ?
	    ev->newpath : path, rule, ev, NULL);
	if (ev->kind == NOTIFY_RENAME && ev->path != NULL)
		event_put_path(event_obj(event_obj(out, "fimguard"),
		    "previous"), "path", ev->path);
	event_emit(&m->sink, out);
	if (tree_restorable(m, rule) && !wf(m, rule, ev))
		tree_restore(m, path, rule, ev, cause);
	else
		tree_keep(m, path);
	return 1;
}

/* A watched directory itself was renamed (FAN_MOVE_SELF): only news
 * where its parent is not watched (the parent of a rule's root);
 * elsewhere the parent's rename event said it. */
void
tree_moved(struct monitor *m, const struct notify_event *ev,
    tree_writer_fn wf)
{
	char *parent;
	int watched;

	if (ev->path == NULL || ev->dir < 0 || strcmp(ev->path, "/") == 0)
		return;
	parent = util_dirname(ev->path);
	watched = notify_dir_at(&m->notify, parent) >= 0;
	free(parent);
	if (!watched)
		tree_gone(m, ev, ev->path, "renamed away", wf);
}

/* Owner, mode, xattrs (or a symlink's owner) of a baseline directory or
 * symlink changed: reported, and undone. Returns 0 when path is none. */
int
tree_attrib(struct monitor *m, const struct notify_event *ev,
    tree_writer_fn wf)
{
	struct entry now = { 0 }, *b;
	struct change ch;
	const char *name;
	char *why = NULL;
	json_object *out;
	struct stat st;
	int rule = -1, dfd, r;

	if (ev->path == NULL || (b = tree_base(m, ev->path, &rule)) == NULL ||
	    b->type == ENTRY_FILE)
		return 0;
	if ((dfd = monitor_open_parent(m, b->path, &name, NULL)) < 0)
		return 1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (uint64_t)st.st_dev != b->dev || (uint64_t)st.st_ino != b->ino) {
		close(dfd);
		return 1;	/* another object now: its own events say */
	}
	now.path = b->path;
	now.rule = b->rule;
	entry_from_stat(&now, &st);
	entry_read_meta(&now, dfd, name);
	close(dfd);
	ch = (struct change){ .action = CMP_ATTRS, .what = compare_entry(&now,
	    b) & TREE_ATTRS, .now = &now, .base = b };
	if (ch.what != 0) {
		out = report_event(&m->conf, &ch, TREE_DATASET, NULL);
		tree_who(out, ev);
		event_emit(&m->sink, out);
	}
	if (ch.what != 0 && tree_restorable(m, rule) && !wf(m, rule, ev)) {
		if ((r = restore_attrs(&m->state, b, monitor_restore_dir, m,
		    &why)) < 0)
			tree_failed(m, b->path, rule, ev,
			    "attributes-changed", why);
		else {
			if (r == 1 && tree_stat(m, b->path, &st) == 0) {
				tree_remade(m, b, (uint64_t)st.st_dev,
				    (uint64_t)st.st_ino);
				tree_mark_link(m, b->path);
			}
			m->restores++;
			event_emit(&m->sink, tree_event(m, "restored",
			    "success", b->path, rule, ev,
			    "attributes-changed"));
		}
	}
	free(why);
	free(now.target);
	free(now.xattrs);
	return 1;
}
