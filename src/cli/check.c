/* fimguard check: the scheduled scan. Exit 0 nothing changed, 1
 * changes, 2 usage or configuration, 3 baseline missing or untrusted.
 *
 * Shape, for speed and memory on large trees:
 *  1. a thread loads the baseline as a compact index (bindex) while
 *     the tree is walked and hashed with keyed XXH3 on every core;
 *  2. core/delta.c (shared with the monitor's start-up reconciliation):
 *     every current entry the index shows unchanged is dropped;
 *  3. the rest, and every baseline record no longer seen, are read in
 *     full and handed to compare_run, which names the changes (pairing
 *     renames), after SHA-256 of the files whose content differs;
 *  4. the changes of files a package owns (then or now) are labelled:
 *     does the package database vouch for the new state? It is read
 *     only when there are changes, or for --verify-packages, which
 *     also checks every unchanged owned file: by the baseline's
 *     verified digest when the database still records it (the keyed
 *     XXH3 says the content is the baseline's), else by hashing. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/bindex.h"
#include "core/cmd.h"
#include "core/compare.h"
#include "core/delta.h"
#include "core/event.h"
#include "core/fdpath.h"
#include "core/log.h"
#include "core/pkg.h"
#include "core/report.h"
#include "core/scan.h"
#include "core/util.h"
#include "core/walk.h"

#define CHECK_DEFAULT_EVENTS	"/var/log/fimguard/events.json"

struct check_loader {
	const struct state	*s;
	struct bindex		*x;
	const struct conf	*c;
	struct pkg_db		*db;	/* read here too, or NULL */
	int			 r;
	double			 secs;
};

/* One owned file that is not what its package installed. */
struct check_mismatch {
	const struct entry	*e;
	struct pkg_label	 l;
};

struct check_mismatches {
	struct check_mismatch	*v;
	size_t			 n;
	size_t			 checked;	/* unchanged owned entries */
};

static void *
check_load(void *arg)
{
	struct check_loader *l = arg;
	uint64_t t = util_now_ms();
	char *why = NULL;
	int st = bindex_load(l->x, l->s, &why);

	l->r = 0;
	if (st != BASELINE_OK) {
		log_warnx("baseline %s: %s%s", baseline_status_name(st), why,
		    st == BASELINE_MISSING ? " (run 'fimguard init')" : "");
		l->r = EXIT_BASELINE;
	}
	free(why);
	if (l->r == 0 && l->db != NULL && cmd_packages(l->c, l->db) < 0)
		l->r = EXIT_USAGE;
	l->secs = (double)(util_now_ms() - t) / 1000;
	return NULL;
}

static int
check_load_and_scan(const struct conf *c, struct state *s, struct bindex *x,
    struct entryvec *now, struct pkg_db *db)
{
	struct check_loader l = { s, x, c, db, 0, 0 };
	uint64_t t0 = util_now_ms(), t1;
	pthread_t t;
	int threaded = pthread_create(&t, NULL, check_load, &l) == 0;

	if (!threaded)
		check_load(&l);
	walk_policy(c, now);
	t1 = util_now_ms();
	cmd_scan(now, s, c, 0);
	log_info("walk %.3fs, scan %.3fs", (double)(t1 - t0) / 1000,
	    (double)(util_now_ms() - t1) / 1000);
	if (threaded)
		pthread_join(t, NULL);
	log_info("baseline load %.3fs", l.secs);
	return l.r;
}

static void
check_mismatch_add(struct check_mismatches *mm, const struct entry *e,
    const struct pkg_label *l)
{
	mm->v = xreallocarray(mm->v, mm->n + 1, sizeof(*mm->v));
	mm->v[mm->n++] = (struct check_mismatch){ e, *l };
}

/* --verify-packages, for the owned files the baseline shows unchanged
 * (left in now): the baseline's verified digest decides where the
 * database records that digest still; the rest are hashed again. */
static void
check_verify(const struct bindex *x, struct entryvec *now,
    const struct pkg_db *db, struct state *s, struct entryvec *again,
    struct check_mismatches *mm)
{
	struct scan_opts so = { .secret = s->xxh_secret, .pkg = 1 };
	struct pkg_label l;
	size_t idx;

	for (size_t i = 0; i < now->n; i++) {
		struct entry *e = &now->v[i];
		const char *sum;

		if (e->path == NULL || e->owner == NULL ||
		    !bindex_find(x, e->path, &idx))
			continue;
		mm->checked++;
		sum = x->v[idx].pkgsum;
		if (e->type == ENTRY_FILE && pkg_digest_of(db, e->path) &&
		    (sum == NULL || !pkg_sum_matches(db, e, sum))) {
			*entryvec_add(again) = *e;
			memset(e, 0, sizeof(*e));	/* moved */
			continue;
		}
		if (pkg_entry_label(db, e, sum, &l) == PKG_MISMATCH)
			check_mismatch_add(mm, e, &l);
	}
	scan_entries(again, &so);
	for (size_t i = 0; i < again->n; i++)
		if (pkg_entry_label(db, &again->v[i], NULL, &l) ==
		    PKG_MISMATCH)
			check_mismatch_add(mm, &again->v[i], &l);
}

/* Owners of what changed, the SHA-256 (and package digests) of new
 * content, the changes, and their labels. A package database that
 * cannot be read leaves the changes unlabelled, not unreported. */
static void
check_changes(const struct conf *c, struct state *s, struct pkg_db *db,
    int have_db, struct delta *d)
{
	if (!have_db && (d->cand.n > 0 || d->b.ev.n > 0) &&
	    cmd_packages(c, db) < 0)
		log_warnx("changes reported without package labels");
	pkg_assign(db, &d->cand);
	delta_confirm(d, s);
	delta_compare(d);
	for (size_t i = 0; i < d->ch.n; i++)
		pkg_label(db, &d->ch.v[i]);
}

static void
check_report(const struct cmd_opts *o, const struct conf *c,
    const struct state *s, struct event_sink *sink,
    const struct changes *ch, size_t nentries,
    const struct check_mismatches *mm, const struct pkg_db *db)
{
	if (!o->json)
		report_human(stdout, c, ch, nentries);
	for (size_t i = 0; !o->json && i < mm->n; i++)
		report_mismatch_human(stdout, c, mm->v[i].e, &mm->v[i].l);
	if (!o->json && o->verify_packages)
		printf("fimguard check --verify-packages: %zu unchanged file%s "
		    "owned by packages checked against the %s database: %zu "
		    "package-mismatch\n", mm->checked, mm->checked == 1 ? "" :
		    "s", pkg_manager_name(db->manager), mm->n);
	for (size_t i = 0; i < ch->n; i++) {
		json_object *ev = report_event(c, &ch->v[i],
		    "fimguard.check", NULL);

		report_change_diff(ev, c, s, &ch->v[i]);
		event_emit(sink, ev);
	}
	for (size_t i = 0; i < mm->n; i++)
		event_emit(sink, report_mismatch(c, mm->v[i].e, &mm->v[i].l,
		    pkg_digest_of(db, mm->v[i].e->path), "fimguard.check"));
}

int
cmd_check(const struct cmd_opts *o)
{
	struct entryvec now = { 0 }, again = { 0 };
	struct check_mismatches mm = { 0 };
	struct pkg_db db = { 0 };
	struct delta_base view;
	struct delta d = { 0 };
	struct bindex x = { 0 };
	struct state s = { .lockfd = -1 };
	struct event_sink sink = { .fd = -1 };
	struct conf c;
	int r;

	if (cmd_load_conf(o, &c) != 0)
		return EXIT_USAGE;
	if ((r = cmd_open_state(o, &c, &s, 0)) != 0)
		goto out;
	/* before the scan: a FIFO there is a configuration error */
	if (event_sink_open(&sink, c.events ? c.events : CHECK_DEFAULT_EVENTS,
	    o->json) == EVENT_SINK_NOT_FILE) {
		r = EXIT_USAGE;
		goto out;
	}
	if ((r = check_load_and_scan(&c, &s, &x, &now, o->verify_packages ?
	    &db : NULL)) != 0)
		goto out;
	if (o->verify_packages)
		pkg_assign(&db, &now);
	delta_from_bindex(&view, &x);
	if (delta_split(&view, &now, &d) < 0) {
		log_warnx("baseline changed on disk while being read");
		r = EXIT_BASELINE;
		goto out;
	}
	if (o->verify_packages)
		check_verify(&x, &now, &db, &s, &again, &mm);
	check_changes(&c, &s, &db, o->verify_packages, &d);
	check_report(o, &c, &s, &sink, &d.ch, now.n, &mm, &db);
	r = d.ch.n > 0 || mm.n > 0 ? EXIT_CHANGES : EXIT_OK;
out:
	event_sink_close(&sink);
	free(mm.v);
	entryvec_free(&again);
	delta_free(&d);
	entryvec_free(&now);
	pkg_db_free(&db);
	bindex_free(&x);
	state_close(&s);
	conf_free(&c);
	return r;
}
