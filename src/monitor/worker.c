/* The monitor's worker thread: turns the permission thread's records
 * into write-allowed / write-denied events, and confirms changes on
 * close-after-write: the event's fd (which carries FMODE_NONOTIFY, so
 * reading it raises no event) is read once for both keyed XXH3, which
 * decides whether the content differs from the baseline, and SHA-256,
 * which the event cites (one read costs less than a second one by path,
 * which could also see newer bytes). It may block (disk, stdout): the
 * permission thread never waits for it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/compare.h"
#include "core/fdpath.h"
#include "core/log.h"
#include "core/report.h"
#include "core/util.h"
#include "core/walk.h"
#include "monitor/args.h"
#include "monitor/hold.h"
#include "monitor/intent.h"
#include "monitor/monitor.h"
#include "monitor/restore.h"
#include "monitor/self.h"
#include "monitor/tree.h"
#include "monitor/who.h"
#include "monitor/worker.h"
#include "monitor/writer.h"

#define WORKER_DATASET	"fimguard.monitor"
/* How long a MODIFY waits for the close-write that usually follows
 * (open with O_TRUNC, then write): a truncate(2) has no close and must
 * be restored within a second. A file open for write (audit mode, an
 * allowed writer: nothing to restore) waits up to 2 s for its close, so
 * a writer slowed by load is not reported half-written. */
#define WORKER_SETTLE_MS	100

#define WORKER_SETTLE_MAX_MS	2000

/* How often a file held for writing since before the start is looked
 * at (worker_held). */
#define WORKER_HELD_MS		1000

static void	worker_drain_ring(struct monitor *);

static const struct mon_file *
worker_file(const struct monitor *m, uint64_t dev, uint64_t ino,
    const struct watch **wp)
{
	/* the worker's own copy (watch_get is the permission thread's) */
	static __thread struct watch found;
	const struct watch *w = watch_find(m->tab, dev, ino, &found) ?
	    &found : NULL;

	*wp = w;
	if (w == NULL || w->entry == WATCH_NO_ENTRY || w->entry >= m->nfiles ||
	    m->files[w->entry].path == NULL)
		return NULL;
	return &m->files[w->entry];
}

/* fimguard's own command (approve, init) writing its state files:
 * allowed because the writer is fimguard's executable, and on record as
 * the approval itself (history.jsonl, baseline-approved events), so no
 * alert about fimguard's own file. */
static int
worker_own_write(const struct mon_file *f, const struct perm_record *r)
{
	return f != NULL && f->rule < 0 && r != NULL &&
	    r->decision == PERM_ALLOW_WRITER;
}

/* fimguard.repeat of a summary: how many identical denials it stands
 * for, and when the first and the last of them were. */
static void
worker_repeat_fields(json_object *ev, const struct repeat_slot *rs)
{
	json_object *rp = event_obj(event_obj(ev, "fimguard"), "repeat");
	char t[40];

	json_object_object_add(rp, "count", json_object_new_uint64(rs->count));
	repeat_time(rs->first_ms, t, sizeof(t));
	event_set_str(rp, "first", t);
	repeat_time(rs->last_ms, t, sizeof(t));
	event_set_str(rp, "last", t);
}

/* A record standing for several denials that no interval could take
 * (every repeat slot in use): its own summary, so the count is said. */
static const struct repeat_slot *
worker_folded(const struct perm_record *r, struct repeat_slot *s)
{
	memset(s, 0, sizeof(*s));
	s->count = r->more;
	s->first_ms = s->last_ms = repeat_now_ms();
	return s;
}

/* rs: NULL for a record from the ring, else the summary of the
 * identical denials an interval folded (r is their latest). */
static void
worker_perm_event(struct monitor *m, const struct perm_record *r,
    const struct repeat_slot *rs)
{
	const struct watch *w;
	const struct mon_file *f = worker_file(m, r->dev, r->ino, &w);
	int denied = perm_decision_denies(r->decision);
	struct repeat_slot alone;
	json_object *ev, *fg, *op;
	char flags[32];

	if (w == NULL)
		return;		/* unwatched since (reload) */
	if (rs == NULL && denied && repeat_fold(&m->repeat, r, util_now_ms()))
		return;		/* counted in its interval's summary */
	if (rs == NULL && r->more > 0 && !repeat_followed(&m->repeat, r))
		rs = worker_folded(r, &alone);	/* no slot: say the count */
	if (f != NULL && !denied) {	/* its close-write confirms */
		struct mon_file *mf = (struct mon_file *)f;

		mf->open_writes++;
		if (mf->writer == NULL)
			mf->writer = xmalloc(sizeof(*mf->writer));
		*mf->writer = *r;
	}
	if (worker_own_write(f, r))
		return;
	ev = event_new(WORKER_DATASET, denied ? "write-denied" :
	    "write-allowed", denied ? "failure" : "success");
	if (f != NULL)
		event_put_path(event_obj(ev, "file"), "path", f->path);
	monitor_event_rule(m, ev, f != NULL ? f->rule : -1);
	who_to_event(ev, r);
	fg = event_obj(ev, "fimguard");
	event_set_str(fg, "decision", perm_decision_name(r->decision));
	event_set_str(fg, "intent", intent_name(r->intent));
	event_set_str(fg, "intent_source", intent_source_name(r->intent_source));
	op = event_obj(fg, "open");
	if (r->syscall != NULL)
		event_set_str(op, "syscall", r->syscall);
	if (r->has_flags) {
		snprintf(flags, sizeof(flags), "0x%llx",
		    (unsigned long long)r->flags);
		event_set_str(op, "flags", flags);
	}
	if (r->io_uring)
		json_object_object_add(op, "io_uring",
		    json_object_new_boolean(1));
	if (rs != NULL)
		worker_repeat_fields(ev, rs);
	event_emit(&m->sink, ev);
}

/* The summaries of intervals that ended (all: every open one, when the
 * worker stops); returns the poll timeout until the next one ends. */
static int
worker_repeats(struct monitor *m, int all)
{
	struct repeat_slot s;

	while (repeat_take(&m->repeat, util_now_ms(), all, &s))
		worker_perm_event(m, &s.rec, &s);
	return repeat_wait_ms(&m->repeat, util_now_ms());
}

/* Did an allowed writer of rule make the change that (pidfd, pid) read
 * from queue q reports? Not what the process runs now, but what it ran
 * when it made the change (writer.c): its executable is read first,
 * then the directory queue is read to its end for an exec of a writer
 * by the same process, in that order. Unknown counts as no. */
static int
worker_writer(struct monitor *m, int rule, enum writer_queue q, int pidfd,
    pid_t pid)
{
	uint64_t dev, ino;

	return rule >= 0 && writer_identity(q, pidfd, pid, &dev, &ino) == 0 &&
	    watch_writer_ok(m->tab, (size_t)rule, dev, ino) &&
	    !notify_exec_ahead(&m->notify, pid);
}

/* Would a change of f be undone: enforce, restore = yes, a baseline? */
static int
worker_restorable(const struct monitor *m, const struct mon_file *f)
{
	return f->base != NULL && f->rule >= 0 &&
	    m->conf.rules[f->rule].restore &&
	    monitor_rule_mode(m, f->rule) == CONF_MODE_ENFORCE;
}

static void
worker_log_failed(const char *path, const char *why)
{
	char *shown = fdpath_show(path);

	log_warnx("%s: restore failed: %s", shown, why);
	free(shown);
}

/* An attribute restore that did not happen (the directory is not the
 * recorded one any more...): restore-failed, with the reason, in the
 * events and the log. */
static void
worker_restore_failed(struct monitor *m, const char *path, int rule,
    pid_t pid, const char *cause, const char *why)
{
	json_object *ev = event_new(WORKER_DATASET, "restore-failed",
	    "failure");

	worker_log_failed(path, why);
	event_put_path(event_obj(ev, "file"), "path", path);
	monitor_event_rule(m, ev, rule);
	event_set_str(event_obj(ev, "fimguard"), "error", why);
	event_set_str(event_obj(ev, "fimguard"), "cause", cause);
	who_pid_to_event(ev, pid);
	event_emit(&m->sink, ev);
}

/* Put f back from the vault (enforce, restore = yes), watch the new
 * inode, and report (restored, or restore-failed with the reason).
 * Returns 1 if a restore was due (done or failed). */
static int
worker_restore(struct monitor *m, const struct mon_file *f, pid_t pid,
    const char *cause)
{
	char *why = NULL, *path;
	int rule = f->rule;
	json_object *ev;

	if (!worker_restorable(m, f))
		return 0;
	path = xstrdup(f->path);
	if (monitor_restore_live(m, f->base, rule, &why) < 0) {
		ev = event_new(WORKER_DATASET, "restore-failed", "failure");
		event_set_str(event_obj(ev, "fimguard"), "error", why);
		worker_log_failed(path, why);
	} else {
		m->restores++;
		ev = event_new(WORKER_DATASET, "restored", "success");
		event_file(ev, f->base);
	}
	event_put_path(event_obj(ev, "file"), "path", path);
	monitor_event_rule(m, ev, rule);	/* enforce: checked above */
	event_set_str(event_obj(ev, "fimguard"), "cause", cause);
	who_pid_to_event(ev, pid);
	event_emit(&m->sink, ev);
	free(why);
	free(path);
	return 1;
}

/* Hash fd from its start with the size and times that go with those
 * bytes: a file still being written is read again (up to 3 times), so
 * an event never pairs a fresh hash with stale metadata. st is the
 * state the hash belongs to. */
static int
worker_hash_stable(struct monitor *m, int fd, struct stat *st,
    struct hash_result *hr)
{
	struct stat after;

	for (int i = 0; i < 3; i++) {
		if (lseek(fd, 0, SEEK_SET) < 0 ||
		    hash_fd(fd, m->state.xxh_secret, HASH_XXH | HASH_SHA, -1,
		    (uint64_t)st->st_size, hr) < 0 || fstat(fd, &after) < 0)
			return -1;
		if (after.st_size == st->st_size &&
		    after.st_mtim.tv_sec == st->st_mtim.tv_sec &&
		    after.st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
		    hr->bytes == (uint64_t)st->st_size)
			return 0;
		*st = after;
	}
	return 0;	/* still moving: the next close-write reports again */
}

/* Is the process behind an event gone (or unknown: FAN_NOPIDFD)? */
static int
worker_gone(int pidfd)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	return pidfd < 0 || poll(&p, 1, 0) > 0;
}

/* Did one of the rule's writers open f for the write that pid closed?
 * The permission thread decided it at the open, while the opener was
 * frozen (PERM_ALLOW_WRITER). */
static int
worker_opened_by_writer(struct monitor *m, const struct mon_file *f,
    pid_t pid)
{
	if (f->writer == NULL || f->writer->pid != pid)
		worker_drain_ring(m);	/* the open's record, if not read */
	return f->writer != NULL && f->writer->pid == pid &&
	    f->writer->decision == PERM_ALLOW_WRITER;
}

/* The label of a change of a file its package owned at the baseline
 * (fimguard.package: verified only once the package hook's approval
 * says so, hold.c). Returns 1 when the event is to be held: written by
 * one of the rule's writers (dpkg, rpm) while the hook is on. writer:
 * 1 or 0 when the caller knows (a rename over the file), -1 for a
 * close-write (the open's decision says). */
static int
worker_label(struct monitor *m, const struct mon_file *f, struct change *ch,
    int closed, pid_t pid, int writer)
{
	const struct pkg_owner *o = f->base != NULL ? f->base->owner : NULL;

	if (o == NULL || m->conf.packages == CONF_PKG_NONE)
		return 0;
	ch->pkg.manager = o->manager;
	ch->pkg.name = o->name;
	ch->pkg.version = o->version;
	if (!conf_package_hook(&m->conf)) {
		ch->pkg.why = "package_hook = no: not verified by the monitor";
		return 0;
	}
	if (writer < 0)
		writer = closed && worker_opened_by_writer(m, f, pid);
	ch->pkg.why = writer ? "held for 'fimguard approve --packages'" :
	    "not written by one of the rule's writers";
	return writer;
}

/* Held (hold.c), or sent now. */
static void
worker_send(struct monitor *m, const struct mon_file *f, const uint8_t *sha,
    json_object *ev, int held)
{
	if (held && hold_push(&m->hold, f->path, sha, ev, util_now_ms()) == 0)
		return;
	if (held)
		event_set_str(event_obj(event_obj(ev, "fimguard"), "package"),
		    "reason", "too many package changes held");
	event_emit(&m->sink, ev);
}

static void	worker_confirm_as(struct monitor *, int, pid_t, int, int, int);

/* Hash what was just written, through the notification's fd;
 * closed = this is the writer's close-write (pidfd: of the closer). */
static void
worker_confirm(struct monitor *m, int fd, pid_t pid, int pidfd, int closed)
{
	worker_confirm_as(m, fd, pid, pidfd, closed, -1);
}

/* writer: 1 or 0 when the caller knows whether one of the rule's
 * writers made the change, -1 to work it out here. */
static void
worker_confirm_as(struct monitor *m, int fd, pid_t pid, int pidfd,
    int closed, int writer)
{
	const struct mon_file *f;
	const struct watch *w;
	struct entry now = { 0 };
	struct stat st;
	struct hash_result hr;
	struct change ch;
	json_object *ev;
	int settled_by_writer, held;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (f = worker_file(m, st.st_dev, st.st_ino, &w)) == NULL)
		return;
	/* who made the modifications seen without a close (still pending
	 * when the close comes first) */
	settled_by_writer = writer >= 0 ? writer : closed ?
	    f->settle_due_ms == 0 || f->settle_writer : f->settle_writer;
	if (closed) {
		/* The count can go below zero when the close is read
		 * before the open's record: the sum still comes right. */
		((struct mon_file *)f)->open_writes--;
		((struct mon_file *)f)->settle_due_ms = 0;
	}
	now.path = f->path;
	now.rule = f->rule >= 0 ? m->conf.rules[f->rule].name :
	    "fimguard-self";
	entry_read_xattrs_fd(&now, fd);
	if (worker_hash_stable(m, fd, &st, &hr) < 0) {
		log_warn("%s: cannot read after write", f->path);
		goto out;
	}
	entry_from_stat(&now, &st);
	memcpy(now.xxh, hr.xxh, sizeof(now.xxh));
	memcpy(now.sha, hr.sha, sizeof(now.sha));
	now.has_xxh = now.has_sha = 1;
	ch = (struct change){ .action = CMP_MODIFIED, .what = CMP_CONTENT,
	    .now = &now, .base = f->base };
	if (f->base != NULL) {
		ch.what = compare_entry(&now, f->base);
		if (ch.what == 0) {
			m->confirmed_same++;	/* identical rewrite: silent */
			/* back to the baseline: the next change away from it
			 * is news again, even to content reported before */
			((struct mon_file *)f)->has_last = 0;
			goto out;
		}
		if (!(ch.what & (CMP_CONTENT | CMP_TYPE)))
			ch.action = CMP_ATTRS;
	}
	/* MODIFY and CLOSE_WRITE both come for one write: report each
	 * new content once. */
	if (f->has_last && memcmp(f->last_sha, now.sha, 32) == 0)
		goto out;
	if (f->rule < 0 && (f->writer == NULL || f->writer->pid != pid))
		worker_drain_ring(m);	/* who opened it, if not read yet */
	if (f->writer != NULL && f->writer->pid == pid &&
	    worker_own_write(f, f->writer))
		goto out;
	memcpy(((struct mon_file *)f)->last_sha, now.sha, 32);
	((struct mon_file *)f)->has_last = 1;
	m->modified++;
	held = worker_label(m, f, &ch, closed, pid, writer);
	ev = report_event(&m->conf, &ch, WORKER_DATASET, NULL);
	if (f->base == NULL)
		event_set_str(event_obj(ev, "fimguard"), "note",
		    "not in the baseline");
	if (f->rule >= 0 && m->conf.rules[f->rule].diff) {
		char *vault = state_path(&m->state, "vault");

		report_add_diff(ev, vault, f->base, fd);
		free(vault);
	}
	if (f->writer == NULL || f->writer->pid != pid)
		worker_drain_ring(m);	/* published, not yet read */
	if (f->writer != NULL && f->writer->pid == pid)
		who_to_event(ev, f->writer);	/* the whole who-data */
	else
		who_pid_to_event(ev, pid);
	worker_send(m, f, now.sha, ev, held);
	/* In enforce mode a change that got past the permission check
	 * (truncate(2), a writer that opened the file before the monitor
	 * started) is undone, unless an allowed writer made it: the one
	 * that closed the file, as it was when it closed it, and every one
	 * that modified it without a close, as each was then. */
	if (worker_restorable(m, f) && !(settled_by_writer && (!closed ||
	    worker_writer(m, f->rule, WRITER_Q_DATA, pidfd, pid))) &&
	    worker_restore(m, f, pid, "modified"))
		((struct mon_file *)f)->has_last = 0;
out:
	free(now.xattrs);
}

/* The pidfd record of a close-write event, or -1. */
static int
worker_pidfd(const struct fanotify_event_metadata *e)
{
	const char *p = (const char *)e + e->metadata_len;
	const char *end = (const char *)e + e->event_len;

	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *h = (const void *)p;

		if (h->len < sizeof(*h) || h->len > (size_t)(end - p))
			break;
		if (h->info_type == FAN_EVENT_INFO_TYPE_PIDFD &&
		    h->len >= sizeof(struct fanotify_event_info_pidfd))
			return ((const struct fanotify_event_info_pidfd *)
			    (const void *)p)->pidfd;
		p += h->len;
	}
	return -1;
}

static void
worker_data(struct monitor *m)
{
	char buf[MONITOR_DATA_BATCH * FAN_EVENT_METADATA_LEN]
	    __attribute__((aligned(8)));
	const struct fanotify_event_metadata *e;
	/* each event holds a descriptor: no more than monitor.c allows */
	ssize_t len = read(m->data_fd, buf, m->data_batch *
	    FAN_EVENT_METADATA_LEN);

	if (len < 0 && (errno == EMFILE || errno == ENFILE))
		__atomic_add_fetch(&m->data_shortages, 1,
		    __ATOMIC_RELAXED);	/* the kernel dropped the event */

	/* the open's record first: it says who wrote (published before
	 * the open returned, but its wake-up may not have come yet) */
	worker_drain_ring(m);

	/* in queue order: a fence counts for what follows it (writer.c) */
	for (e = (const void *)buf; len > 0 && FAN_EVENT_OK(e, len);
	    e = FAN_EVENT_NEXT(e, len)) {
		int pidfd = worker_pidfd(e);

		if (e->fd >= 0 && !writer_data_fence(e->fd, e->pid) &&
		    (e->mask & FAN_CLOSE_WRITE) && e->pid != getpid())
			worker_confirm(m, e->fd, e->pid, pidfd, 1);
		if (e->fd >= 0)
			close(e->fd);
		if (pidfd >= 0)
			close(pidfd);
	}
}

static const struct mon_file *
worker_byname(const struct monitor *m, const char *path)
{
	size_t i;

	if (path == NULL || !htab_get(&m->byname, path, &i))
		return NULL;
	return &m->files[i];
}

/* The watched file an attribute or modify event is about: the inode
 * its own mark reported (whatever path was used: a hard link in a
 * directory nobody watches too), else the path. */
static const struct mon_file *
worker_subject(const struct monitor *m, const struct notify_event *ev)
{
	const struct mon_file *f;
	const struct watch *w;

	if (ev->has_obj && (f = worker_file(m, ev->obj_dev, ev->obj_ino,
	    &w)) != NULL)
		return f;
	return worker_byname(m, ev->path);
}

static void
worker_path_event(struct monitor *m, const char *action, const char *path,
    int rule, pid_t pid, const char *previous)
{
	json_object *ev = event_new(WORKER_DATASET, action, "success");

	event_put_path(event_obj(ev, "file"), "path", path);
	monitor_event_rule(m, ev, rule);
	if (previous != NULL)
		event_put_path(event_obj(event_obj(ev, "fimguard"),
		    "previous"), "path", previous);
	who_pid_to_event(ev, pid);
	event_emit(&m->sink, ev);
}

/* Would the attribute change nev reports be undone (restorable, and
 * not an allowed writer's)? */
static int
worker_undoes(struct monitor *m, const struct mon_file *f,
    const struct notify_event *nev)
{
	return worker_restorable(m, f) && !worker_writer(m, f->rule,
	    WRITER_Q_NOTIFY, nev->pidfd, nev->pid);
}

/* Owner, mode and security xattrs of f back; restored only when they
 * read back as the baseline's (an added security.* xattr that cannot
 * be removed in place takes a fresh copy from the vault: a new inode,
 * watched from now on). */
static void
worker_restore_attrs(struct monitor *m, const struct mon_file *f, pid_t pid)
{
	char *why = NULL, *path = xstrdup(f->path);
	const struct entry *b = f->base;
	int rule = f->rule, r = restore_attrs(&m->state, b,
	    monitor_restore_dir, m, &why);

	/* 1: replaced by a copy (files[] may move: f is not used after),
	 * which another process may have caught before it was watched */
	if (r == 1 && !monitor_keep_restored(m, b, rule))
		r = monitor_restore_live(m, b, rule, &why);
	if (r < 0)
		worker_restore_failed(m, path, rule, pid,
		    "attributes-changed", why);
	else {
		m->restores++;
		worker_path_event(m, "restored", path, rule, pid, NULL);
	}
	free(why);
	free(path);
}

static void
worker_attrib(struct monitor *m, const struct mon_file *f,
    const struct notify_event *nev)
{
	struct entry now = { 0 };
	struct change ch;
	struct stat st;
	json_object *ev;
	const char *name;
	char *why = NULL;
	int dfd;

	if (f->base == NULL)
		return;
	/* Read through the watched directories: with one swapped for a
	 * link, another directory's file must not pass for this one. */
	if ((dfd = monitor_open_parent(m, f->path, &name, &why)) < 0) {
		if (worker_undoes(m, f, nev))
			worker_restore_failed(m, f->path, f->rule, nev->pid,
			    "attributes-changed", why);
		free(why);
		return;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		close(dfd);
		return;
	}
	entry_from_stat(&now, &st);
	now.path = f->path;
	now.rule = f->base->rule;
	now.has_xxh = f->base->has_xxh;	/* content is not the question */
	memcpy(now.xxh, f->base->xxh, sizeof(now.xxh));
	now.has_sha = f->base->has_sha;
	memcpy(now.sha, f->base->sha, sizeof(now.sha));
	entry_read_xattrs_at(&now, dfd, name);
	close(dfd);
	ch = (struct change){ .action = CMP_ATTRS,
	    .what = compare_entry(&now, f->base), .now = &now,
	    .base = f->base };
	if (ch.what == 0) {
		free(now.xattrs);
		return;
	}
	worker_label(m, f, &ch, 0, nev->pid, 0);
	ev = report_event(&m->conf, &ch, WORKER_DATASET, NULL);
	who_pid_to_event(ev, nev->pid);
	event_emit(&m->sink, ev);
	if ((ch.what & (CMP_MODE | CMP_UID | CMP_GID | CMP_XATTRS)) &&
	    worker_undoes(m, f, nev))
		worker_restore_attrs(m, f, nev->pid);
	free(now.xattrs);
}

/* tree.c's question: did an allowed writer of rule make this change? */
static int
worker_by_writer(struct monitor *m, int rule, const struct notify_event *ev)
{
	return worker_writer(m, rule, WRITER_Q_NOTIFY, ev->pidfd, ev->pid);
}

/* A name appeared in a watched directory: a watched file's new inode
 * is watched; anything else is tree.c's (a new entry: reported, and
 * quarantined or protected). */
static void
worker_created(struct monitor *m, const struct notify_event *ev,
    const char *path, int dir)
{
	const struct mon_file *known = worker_byname(m, path);

	if (known != NULL) {	/* deleted and made again: a new inode */
		if (!ev->is_dir)
			monitor_watch_created(m, known->path, known->rule,
			    ev->pid);
		return;
	}
	tree_created(m, ev, path, dir, worker_by_writer);
}

/* f's content now, opened through the watched directories (never a
 * path-based open of a protected path: depth, and directories swapped
 * for links). -1 if it cannot be opened. */
static int
worker_open_file(struct monitor *m, const struct mon_file *f)
{
	const char *name;
	int dfd = monitor_open_parent(m, f->path, &name, NULL), fd;

	if (dfd < 0)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	close(dfd);
	return fd;
}

/* Content changed without a close (truncate(2), a writer still holding
 * the file open): read it by path, through the watched directories.
 * The worker's own open of a watched file is answered at once by the
 * permission thread. */
static void
worker_modified(struct monitor *m, const struct mon_file *f, pid_t pid)
{
	int fd = worker_open_file(m, f);

	if (fd < 0)
		return;
	worker_confirm(m, fd, pid, -1, 0);
	close(fd);
}

/* A package manager replaces a file by renaming a new one over it
 * (dpkg's .dpkg-new, rpm's ;<id>): the new content of a file its
 * package owned is confirmed like a write (a modified event, held when
 * one of the rule's writers did it). Not restored here: the caller
 * restored, or decided not to. */
static void
worker_replaced(struct monitor *m, const struct mon_file *f,
    const struct notify_event *ev)
{
	int fd, writer;

	if (f->base == NULL || f->base->owner == NULL ||
	    m->conf.packages == CONF_PKG_NONE)
		return;
	writer = worker_writer(m, f->rule, WRITER_Q_NOTIFY, ev->pidfd,
	    ev->pid);
	if (!writer && worker_restorable(m, f))
		return;		/* the caller put it back (or tried) */
	/* A rename has no open to judge by, and writer.c names a process
	 * only while it lives: one gone before its rename was read (a short
	 * dpkg run) is held too. Holding only delays the modified event
	 * (the renamed one is sent at once), and only the package
	 * database, through the hook's approval, can make it verified. */
	writer = writer || worker_gone(ev->pidfd);
	if ((fd = worker_open_file(m, f)) < 0)
		return;
	((struct mon_file *)f)->has_last = 0;	/* a new inode */
	worker_confirm_as(m, fd, ev->pid, -1, 0, writer);
	close(fd);
}

/* A MODIFY: confirm a little later, unless the close-write does. Who
 * made it is decided now, while this event is the latest read. */
static void
worker_settle_later(struct monitor *m, const struct mon_file *f,
    const struct notify_event *ev)
{
	struct mon_file *mf = (struct mon_file *)f;
	uint64_t now = util_now_ms();
	int by_writer = !worker_restorable(m, f) || worker_writer(m, f->rule,
	    WRITER_Q_NOTIFY, ev->pidfd, ev->pid);

	mf->settle_pid = ev->pid;
	if (mf->settle_due_ms != 0) {
		mf->settle_writer &= by_writer;
		return;
	}
	mf->settle_writer = by_writer;
	mf->settle_first_ms = now;
	mf->settle_due_ms = now + WORKER_SETTLE_MS;
	m->settling = xreallocarray(m->settling, m->nsettling + 1,
	    sizeof(*m->settling));
	m->settling[m->nsettling++] = (size_t)(f - m->files);
}

/* Confirm the MODIFYs whose time has come; returns the poll timeout
 * until the next one (-1: none pending). */
static int
worker_settle(struct monitor *m)
{
	uint64_t now = util_now_ms(), next = UINT64_MAX;
	size_t i = 0;

	while (i < m->nsettling) {
		struct mon_file *f = &m->files[m->settling[i]];

		if (f->settle_due_ms != 0 && f->settle_due_ms > now) {
			next = f->settle_due_ms < next ? f->settle_due_ms : next;
			i++;
			continue;
		}
		if (f->settle_due_ms != 0 && f->open_writes > 0 &&
		    now - f->settle_first_ms < WORKER_SETTLE_MAX_MS) {
			f->settle_due_ms = now + WORKER_SETTLE_MS;
			continue;	/* still open for write: wait */
		}
		m->settling[i] = m->settling[--m->nsettling];
		if (f->settle_due_ms != 0) {	/* else: confirmed on close */
			f->settle_due_ms = 0;
			worker_modified(m, f, f->settle_pid);
		}
	}
	return next == UINT64_MAX ? -1 : (int)(next - now);
}

/* Whether the file changed since the worker last looked (its first
 * look counts as a change: it may have changed before). */
static int
worker_held_changed(struct mon_held *h, const struct stat *st)
{
	int changed = !h->seen || h->dev != st->st_dev ||
	    h->ino != st->st_ino || h->size != (uint64_t)st->st_size ||
	    h->mtime.tv_sec != st->st_mtim.tv_sec ||
	    h->mtime.tv_nsec != st->st_mtim.tv_nsec ||
	    h->ctime.tv_sec != st->st_ctim.tv_sec ||
	    h->ctime.tv_nsec != st->st_ctim.tv_nsec;

	h->seen = 1;
	h->dev = st->st_dev;
	h->ino = st->st_ino;
	h->size = (uint64_t)st->st_size;
	h->mtime = st->st_mtim;
	h->ctime = st->st_ctim;
	return changed;
}

/* Files another process held for writing at start: a write through a
 * shared mapping raises no event (no MODIFY, and the close-write only
 * with munmap), but it moves the file's times. So look at them every
 * second (a stat in the watched directory: no open, no event) and
 * confirm on a change. Returns the poll timeout until the next look. */
static int
worker_held(struct monitor *m)
{
	uint64_t now = util_now_ms();

	if (m->nheld == 0)
		return -1;
	if (now < m->held_due_ms)
		return (int)(m->held_due_ms - now);
	m->held_due_ms = now + WORKER_HELD_MS;
	for (size_t i = 0; i < m->nheld; i++) {
		struct mon_held *h = &m->held[i];
		const struct mon_file *f = &m->files[h->idx];
		const char *name;
		struct stat st;
		int dfd;

		if (f->path == NULL ||
		    (dfd = monitor_open_parent(m, f->path, &name, NULL)) < 0)
			continue;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    worker_held_changed(h, &st))
			worker_modified(m, f, h->pid);
		close(dfd);
	}
	return WORKER_HELD_MS;
}

/* The rest of a rename, for tree.c: a protected directory or symlink
 * moved away or renamed over; the new name, when it is not a protected
 * one, is a new entry of its directory (a protected file renamed
 * within the tree too: its name is restored, the moved one is new). */
static void
worker_renamed_tree(struct monitor *m, const struct notify_event *ev,
    int from_file, int from_new, int to_file)
{
	int over = 0;

	if (!from_file)
		tree_gone(m, ev, ev->path, "renamed away", worker_by_writer);
	if (!to_file)
		over = tree_gone(m, ev, ev->newpath, "renamed over",
		    worker_by_writer);
	/* a file no baseline knows goes on under its new name
	 * (worker_moved) */
	if (!to_file && !over && !from_new && ev->newpath != NULL)
		worker_created(m, ev, ev->newpath, ev->newdir);
}

/* A file no baseline knows was renamed: it is watched under its new
 * name if that is in a rule's directory, and forgotten at the old one
 * (what a rename over a protected path leaves is handled above). */
static void
worker_moved(struct monitor *m, const struct mon_file *f,
    const struct notify_event *ev)
{
	int rule = ev->newpath != NULL && ev->newdir >= 0 ?
	    m->notify.rule[ev->newdir] : -1;

	if (f == NULL || f->base != NULL || f->rule < 0)
		return;
	monitor_forget(m, f);
	if (rule >= 0 && worker_byname(m, ev->newpath) == NULL)
		monitor_watch_live(m, ev->newpath, rule);
}

/* A rename: of a watched file (f), onto one (t), of a directory or
 * symlink (tree.c), or into a watched directory (a new entry). What f
 * and t are is taken before any restore (files[] may move). */
static void
worker_renamed(struct monitor *m, const struct notify_event *ev,
    const struct mon_file *f, const struct mon_file *t)
{
	int from_file = f != NULL, from_new = f != NULL && f->base == NULL;

	if (f != NULL || t != NULL)
		worker_path_event(m, "renamed", ev->newpath ?
		    ev->newpath : ev->path, f ? f->rule : t->rule,
		    ev->pid, ev->path);
	/* An allowed writer (dpkg, rpm) replaces files by renaming a new
	 * one over them: that is reported and watched, not undone;
	 * anyone else's rename is. Whatever now sits at a protected path
	 * is watched: restored, or (allowed writer, audit, restore = no)
	 * the new inode. */
	if (t != NULL && (!worker_restorable(m, t) ||
	    worker_writer(m, t->rule, WRITER_Q_NOTIFY, ev->pidfd,
	    ev->pid) || !worker_restore(m, t, ev->pid, "renamed over"))) {
		monitor_watch_live(m, t->path, t->rule);
		worker_replaced(m, t, ev);
	}
	if (f != NULL && worker_restorable(m, f) && !worker_writer(m,
	    f->rule, WRITER_Q_NOTIFY, ev->pidfd, ev->pid))
		worker_restore(m, f, ev->pid, "renamed away");
	worker_renamed_tree(m, ev, from_file, from_new, t != NULL);
	worker_moved(m, worker_byname(m, ev->path), ev);
}

static void
worker_notify(void *arg, const struct notify_event *ev)
{
	struct monitor *m = arg;
	const struct mon_file *f = worker_byname(m, ev->path);
	const struct mon_file *t = worker_byname(m, ev->newpath);

	if (ev->pid == getpid())
		return;		/* our own restore */
	if (self_notify(m, ev))
		return;		/* fimguard's own directories */
	switch (ev->kind) {
	case NOTIFY_CREATE:
		worker_created(m, ev, ev->path, ev->dir);
		break;
	case NOTIFY_DELETE:
		if (f == NULL) {	/* a directory or symlink? */
			tree_gone(m, ev, ev->path, "deleted", worker_by_writer);
			break;
		}
		worker_path_event(m, "deleted", f->path, f->rule, ev->pid,
		    NULL);
		if (worker_restorable(m, f) && !worker_writer(m, f->rule,
		    WRITER_Q_NOTIFY, ev->pidfd, ev->pid))
			worker_restore(m, f, ev->pid, "deleted");
		monitor_forget(m, f);	/* if no baseline keeps its path */
		break;
	case NOTIFY_RENAME:
		worker_renamed(m, ev, f, t);
		break;
	case NOTIFY_ATTRIB:
		if ((f = worker_subject(m, ev)) != NULL)
			worker_attrib(m, f, ev);
		else
			tree_attrib(m, ev, worker_by_writer);
		break;
	case NOTIFY_MOVED:
		tree_moved(m, ev, worker_by_writer);
		break;
	case NOTIFY_MODIFY:
		if ((f = worker_subject(m, ev)) != NULL)
			worker_settle_later(m, f, ev);
		break;
	}
}

static void
worker_drain_ring(struct monitor *m)
{
	struct perm_record r;
	uint64_t n;

	if (read(m->ring.efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("ring eventfd");
	while (ring_pop(&m->ring, &r)) {
		args_fetch(m->args, &r);	/* waits a little, at most */
		worker_perm_event(m, &r, NULL);
	}
}

/* One worker at a time: during a reload the old and the new one read
 * the same queues, and writer.c relies on each being handled in the
 * order it was read. */
static pthread_mutex_t worker_lock = PTHREAD_MUTEX_INITIALIZER;

/* The shorter of two poll timeouts, -1 meaning none. */
static int
worker_min(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* How long poll may wait: for a MODIFY to settle, for writer.c's next
 * look at a process, for the end of a repeat interval, not at all for
 * directory events read ahead. */
static int
worker_timeout(struct monitor *m)
{
	int a = worker_settle(m), b = writer_tick(m->tab),
	    c = worker_repeats(m, 0), d = hold_wait_ms(&m->hold,
	    util_now_ms(), (unsigned)m->conf.package_quiet),
	    e = worker_held(m);

	if (notify_pending())
		return 0;
	return worker_min(worker_min(worker_min(worker_min(a, b), c), d), e);
}

void *
worker_main(void *arg)
{
	struct monitor *m = arg;
	struct pollfd pfd[4] = { { m->ring.efd, POLLIN, 0 },
	    { m->data_fd, POLLIN, 0 }, { m->stop_fd, POLLIN, 0 },
	    { m->notify.fd, POLLIN, 0 } };
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* Here, not on the main thread: it reads the tables this thread
	 * changes (new files, restores). */
	monitor_scan_writers(m);
	for (int timeout = -1;;) {
		if (poll(pfd, 4, timeout) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&worker_lock);
		monitor_unmark_gone(m);	/* after a reload, once */
		hold_release(&m->hold, &m->base, &m->sink, util_now_ms(),
		    (unsigned)m->conf.package_quiet, 0);
		if ((pfd[3].revents & POLLIN) || notify_pending())
			notify_read(&m->notify, worker_notify, m);
		if (pfd[0].revents & POLLIN)
			worker_drain_ring(m);
		if (pfd[1].revents & POLLIN)
			worker_data(m);
		timeout = worker_timeout(m);
		pthread_mutex_unlock(&worker_lock);
		if (pfd[2].revents)
			break;
	}
	worker_drain_ring(m);	/* report what was answered before stop */
	worker_repeats(m, 1);
	return NULL;
}
