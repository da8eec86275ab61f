/* Start-up reconciliation. The monitor sees changes as they happen; what
 * happened while it was stopped (a crash, a watchdog exit, a package
 * upgrade's restart, an administrator's maintenance window) it sees
 * here, at every start and every reload, before it reports ready:
 *
 *   1. the policy is walked once, each directory marked before it is
 *      listed (the caller's hook), so anything that changes in it from
 *      then on is an event the worker gets;
 *   2. check's engine: XXH3 of every file on every core, then
 *      core/delta.c against the baseline the monitor holds (SHA-256
 *      only where content differs, renames paired);
 *   3. each difference is an event like the live ones, with
 *      fimguard.phase: startup and no process (nobody is known), and a
 *      diff where the rule asks for one;
 *   4. under an enforce rule with restore = yes, content, attributes
 *      and deleted files are put back from the vault (restore.c), and
 *      deleted directories made again before what was in them, as
 *      the worker does for live changes; entries that are not in the
 *      baseline are reported as created and, where the rule quarantines
 *      new entries (new_files), taken out like live ones
 *      (quarantine.c).
 * The caller then marks the files (monitor.c); a file that changes
 * between its scan here and its marks is confirmed again by the worker.
 * Nothing here calls back into monitor.c (which calls this): restores go
 * through the directories the caller's expect fn vouches for, and the
 * files put back are handed to the caller to mark.
 * Runs on the main thread before the instance's threads: at the first
 * start nothing is marked yet; during a reload the previous instance's
 * permission thread answers this process's opens at once. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cmd.h"
#include "core/fdpath.h"
#include "core/log.h"
#include "core/report.h"
#include "core/util.h"
#include "monitor/monitor.h"
#include "monitor/quarantine.h"
#include "monitor/reconcile.h"
#include "monitor/remade.h"
#include "monitor/restore.h"

#define RECONCILE_DATASET	"fimguard.monitor"
#define RECONCILE_PHASE		"startup"

static void
reconcile_phase(json_object *ev)
{
	event_set_str(event_obj(ev, "fimguard"), "phase", RECONCILE_PHASE);
}

static int
reconcile_rule(const struct monitor *m, const char *name)
{
	for (size_t r = 0; name != NULL && r < m->conf.nrules; r++)
		if (strcmp(m->conf.rules[r].name, name) == 0)
			return (int)r;
	return -1;
}

static int
reconcile_mode(const struct monitor *m, int rule)
{
	return conf_rule_mode(&m->conf, &m->conf.rules[rule]);
}

/* Would the rule undo a change: enforce, restore = yes? */
static int
reconcile_restores(const struct monitor *m, int rule)
{
	return rule >= 0 && m->conf.rules[rule].restore &&
	    reconcile_mode(m, rule) == CONF_MODE_ENFORCE;
}

/* restored, or restore-failed with the reason; cause: what was undone. */
static void
reconcile_restored(struct monitor *m, const struct entry *b, int rule,
    const char *cause, const char *why)
{
	json_object *ev = event_new(RECONCILE_DATASET, why == NULL ?
	    "restored" : "restore-failed", why == NULL ? "success" :
	    "failure");

	if (why == NULL) {
		m->restores++;
		event_file(ev, b);
	} else {
		char *shown = fdpath_show(b->path);

		log_warnx("%s: restore failed: %s", shown, why);
		free(shown);
		event_set_str(event_obj(ev, "fimguard"), "error", why);
	}
	event_put_path(event_obj(ev, "file"), "path", b->path);
	event_rule(ev, m->conf.rules[rule].name, m->conf.rules[rule].severity,
	    reconcile_mode(m, rule));
	event_set_str(event_obj(ev, "fimguard"), "cause", cause);
	reconcile_phase(ev);
	event_emit(&m->sink, ev);
}

/* What a restored entry is now: the caller marks it, and compares its
 * stat after the marks with this one. */
static void
reconcile_restat(struct monitor *m, struct entry *now)
{
	const char *name;
	struct stat st;
	int dfd;

	if (now == NULL || (dfd = fdpath_open_parent(now->path, &name,
	    notify_dir_id, &m->notify, NULL)) < 0)
		return;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		entry_from_stat(now, &st);
	/* Not watched until the caller marks it, and by then perhaps
	 * written by its owner (the restore gave it to them): never taken
	 * as scanned, so the worker confirms it once it is marked. */
	now->ctime_ns = 0;
	close(dfd);
}

/* A file put back where none was: not in the walk, so the caller is
 * given it to mark (as it is now). */
static void
reconcile_put_back(struct monitor *m, const struct entry *b, int rule,
    struct reconcile *rc)
{
	struct entry *e = entryvec_add(&rc->restored);

	e->path = xstrdup(b->path);
	e->rule = m->conf.rules[rule].name;
	e->type = ENTRY_FILE;
	reconcile_restat(m, e);
}

/* A directory of the baseline removed while no monitor ran (rm -r):
 * made again, empty, with its owner and mode (restore.c), noted as
 * made again (remade.c: the baseline keeps the old inode) and watched
 * like the walk's directories; the files and directories below it come
 * after it in the changes (sorted by path) and are put back into it. */
static void
reconcile_remake_dir(struct monitor *m, struct entry *b, int rule,
    struct reconcile *rc)
{
	uint64_t dev = 0, ino = 0;
	char *why = NULL;
	int r = restore_dir(b, CMP_MODE | CMP_UID | CMP_GID | CMP_XATTRS,
	    rc->expect, m, &dev, &ino, &why);

	if (dev != 0 || ino != 0) {
		if (dev != b->dev || ino != b->ino)
			remade_note(&m->state, b->path, b->dev, b->ino, dev,
			    ino);
		b->dev = dev;
		b->ino = ino;
		if (m->conf.rules[rule].recursive &&
		    notify_mark_dir(&m->notify, b->path, rule) < 0)
			log_warn("%s: cannot watch", b->path);
	}
	reconcile_restored(m, b, rule, "deleted", r < 0 ? (why ? why : "?") :
	    NULL);
	free(why);
}

/* Undo one change of an enforced rule with restore = yes: the trusted
 * content (modified, deleted, renamed away) or attributes back, through
 * the directories the caller's expect fn vouches for. */
static void
reconcile_undo(struct monitor *m, const struct change *ch, int rule,
    struct reconcile *rc)
{
	const char *cause = compare_action_name(ch->action);
	struct entry *b = NULL;
	char *why = NULL;
	int r;

	if (!reconcile_restores(m, rule) || ch->base == NULL ||
	    !baseline_find(&m->base, ch->base->path, &b))
		return;
	if (b->type == ENTRY_DIR && ch->action == CMP_DELETED) {
		reconcile_remake_dir(m, b, rule, rc);
		return;
	}
	if (b->type != ENTRY_FILE)
		return;
	switch (ch->action) {
	case CMP_ATTRS:
		/* 1: the file was replaced from the vault (an added
		 * security.* xattr): a new inode, restat below */
		r = restore_attrs(&m->state, b, rc->expect, m, &why);
		break;
	case CMP_MODIFIED:
	case CMP_DELETED:
	case CMP_RENAMED:
		if (ch->action == CMP_RENAMED)
			cause = "renamed away";
		r = restore_file(&m->state, b, rc->expect, m, &why);
		break;
	default:
		return;
	}
	reconcile_restored(m, b, rule, cause, r < 0 ? (why ? why : "?") :
	    NULL);
	free(why);
	if (r < 0)
		return;
	if (ch->action == CMP_DELETED || ch->action == CMP_RENAMED)
		reconcile_put_back(m, b, rule, rc);
	else
		reconcile_restat(m, (struct entry *)ch->now);
}

/* Has the baseline any entry of this rule? A rule added to the policy
 * and loaded (reload, restart) before approve or init has none: all
 * of its tree is "not in the baseline", and taking that out would move
 * the rule's root itself (an /etc/ssh) into the quarantine. Its
 * entries are reported until approve makes them its baseline. */
static int
reconcile_rule_baselined(const struct monitor *m, int rule)
{
	const struct strlist *known = &m->base.rules;

	for (size_t i = 0; i < known->n; i++)
		if (strcmp(known->v[i], m->conf.rules[rule].name) == 0)
			return 1;
	return 0;
}

/* A new entry found at start under a rule that quarantines new entries
 * (new_files, in enforce mode): taken out like a live one
 * (quarantine.c), with no process known, and not marked (its path is
 * dropped from what the caller marks). Returns 1 if the rule
 * quarantines, whatever came of it. */
static int
reconcile_quarantine(struct monitor *m, const struct change *ch, int rule,
    struct reconcile *rc)
{
	struct entry *e = (struct entry *)ch->now;
	const char *name;
	json_object *ev;
	char *why = NULL;
	int dfd, r = -1;

	if (ch->action != CMP_CREATED || e == NULL || e->path == NULL ||
	    rule < 0 || conf_rule_new_files(&m->conf, &m->conf.rules[rule]) !=
	    CONF_NEW_QUARANTINE || !reconcile_rule_baselined(m, rule))
		return 0;
	ev = event_new(RECONCILE_DATASET, "quarantined", "success");
	event_put_path(event_obj(ev, "file"), "path", e->path);
	event_rule(ev, m->conf.rules[rule].name, m->conf.rules[rule].severity,
	    reconcile_mode(m, rule));
	event_set_str(event_obj(ev, "fimguard"), "cause", "created");
	reconcile_phase(ev);
	if ((dfd = fdpath_open_parent(e->path, &name, rc->expect, m,
	    &why)) >= 0) {
		r = quarantine_take(&m->state, dfd, name, e->path, ev, &why);
		close(dfd);
	}
	if (r == 0) {
		m->quarantined++;
		notify_forget(&m->notify, e->path);	/* a directory's marks */
		event_emit(&m->sink, ev);
	} else {
		json_object_put(ev);
		if (r < 0)
			reconcile_restored(m, e, rule, "created", why ? why :
			    "?");
	}
	free(why);
	if (r >= 0) {		/* gone from the tree: nothing to mark */
		free(e->path);
		e->path = NULL;
	}
	return 1;
}

/* A restore's temporary file or link that a monitor killed before the
 * rename left (root's, one link, under a rule that restores): not a
 * new entry by anyone, so removed without an event; the restore it
 * belonged to is done again from the baseline (a whole copy of a
 * deleted file pairs with it as a rename: the caller makes that a
 * deletion again). Returns 1 if so. */
static int
reconcile_leftover(struct monitor *m, const struct change *ch, int rule,
    struct reconcile *rc)
{
	struct entry *e = (struct entry *)ch->now;
	const char *name, *base;
	char *why = NULL, *shown;
	int dfd, r = -1;

	if ((ch->action != CMP_CREATED && ch->action != CMP_RENAMED) ||
	    e == NULL || e->path == NULL || !reconcile_restores(m, rule) ||
	    (e->type != ENTRY_FILE && e->type != ENTRY_SYMLINK) ||
	    e->uid != 0 || e->nlink != 1 ||
	    (base = strrchr(e->path, '/')) == NULL ||
	    strncmp(base + 1, RESTORE_TMP_PREFIX,
	    strlen(RESTORE_TMP_PREFIX)) != 0)
		return 0;
	if ((dfd = fdpath_open_parent(e->path, &name, rc->expect, m,
	    &why)) >= 0) {
		r = unlinkat(dfd, name, 0);
		close(dfd);
	}
	shown = fdpath_show(e->path);
	if (r == 0)
		log_warnx("%s: a restore's temporary file, left by a monitor "
		    "that was stopped in the middle: removed", shown);
	free(shown);
	free(why);
	if (r < 0)
		return 0;	/* reported as a new entry, like any other */
	free(e->path);		/* gone: nothing to mark */
	e->path = NULL;
	return 1;
}

/* One difference: its event, then its undoing. */
static void
reconcile_change(struct monitor *m, const struct change *ch,
    struct reconcile *rc)
{
	const struct entry *e = ch->now ? ch->now : ch->base;
	struct change gone;
	json_object *ev;
	int rule = reconcile_rule(m, e->rule);

	if (reconcile_leftover(m, ch, rule, rc)) {
		if (ch->action != CMP_RENAMED)
			return;
		gone = (struct change){ .action = CMP_DELETED,
		    .base = ch->base };
		ch = &gone;
	}
	ev = report_event(&m->conf, ch, RECONCILE_DATASET, NULL);
	if (ch->base == NULL && ch->action == CMP_CREATED)
		event_set_str(event_obj(ev, "fimguard"), "note", rule >= 0 &&
		    !reconcile_rule_baselined(m, rule) ? "not in the baseline: "
		    "its rule has no baseline yet (fimguard approve --all)" :
		    "not in the baseline");
	reconcile_phase(ev);
	report_change_diff(ev, &m->conf, &m->state, ch);
	event_emit(&m->sink, ev);
	if (!reconcile_quarantine(m, ch, rule, rc))
		reconcile_undo(m, ch, rule, rc);
}

static uint64_t
reconcile_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Walk (h->dir marks each directory before it is listed), scan, and
 * once the baseline is there (h->baseline), compare, report and restore
 * (through the directories h->expect vouches for). rc keeps what the
 * caller is to mark: the walked entries (rc->now), those that differed
 * (rc->d.cand), the files put back (rc->restored). Returns 0, or the
 * baseline hook's exit status (rc holds the walk only). */
int
reconcile_run(struct monitor *m, const struct reconcile_hooks *h,
    struct reconcile *rc)
{
	uint64_t t0 = util_now_ms(), t1, t2, t3;
	struct delta_base db;
	int r;

	memset(rc, 0, sizeof(*rc));
	rc->expect = h->expect;
	walk_policy_dirs(&m->conf, &rc->now, h->dir, h->dir_arg);
	t1 = util_now_ms();
	cmd_scan(&rc->now, &m->state, &m->conf, 0);
	t2 = util_now_ms();
	if ((r = h->baseline(h->baseline_arg)) != 0)
		return r;
	t3 = util_now_ms();	/* the wait is the baseline's, not ours */
	delta_from_baseline(&db, &m->base);
	(void)delta_run(&db, &rc->now, &m->state, &rc->d); /* in memory */
	for (size_t i = 0; i < rc->d.ch.n; i++)
		reconcile_change(m, &rc->d.ch.v[i], rc);
	m->reconciled_ms = reconcile_wall_ms();
	m->reconcile_ms = util_now_ms() - t0 - (t3 - t2);
	m->reconcile_changes = rc->d.ch.n;
	log_info("reconciliation: walk %.3fs, scan %.3fs, compare and "
	    "report %.3fs", (double)(t1 - t0) / 1000,
	    (double)(t2 - t1) / 1000, (double)(util_now_ms() - t3) / 1000);
	if (rc->d.ch.n > 0)
		log_warnx("start-up reconciliation: %zu change%s since the "
		    "baseline (events with fimguard.phase startup), %.3f s",
		    rc->d.ch.n, rc->d.ch.n == 1 ? "" : "s",
		    (double)m->reconcile_ms / 1000);
	return 0;
}

void
reconcile_free(struct reconcile *rc)
{
	delta_free(&rc->d);
	entryvec_free(&rc->now);
	entryvec_free(&rc->restored);
}
