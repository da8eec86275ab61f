/* fimguard check: the scheduled scan. Exit 0 nothing changed, 1
 * changes, 2 usage or configuration, 3 baseline missing or untrusted.
 *
 * Shape, for speed and memory on large trees:
 *  1. a thread loads the baseline as a compact index (bindex) while
 *     the tree is walked and hashed with keyed XXH3 on every core;
 *  2. core/delta.c (shared with the monitor's start-up reconciliation):
 *     every current entry the index shows unchanged is dropped; the
 *     rest, and every baseline record no longer seen, are read in full
 *     and handed to compare_run, which names the changes (pairing
 *     renames), after SHA-256 of the files whose content differs. */
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
#include "core/report.h"
#include "core/util.h"
#include "core/walk.h"

#define CHECK_DEFAULT_EVENTS	"/var/log/fimguard/events.json"

struct check_loader {
	const struct state	*s;
	struct bindex		*x;
	int			 r;
	double			 secs;
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
	l->secs = (double)(util_now_ms() - t) / 1000;
	return NULL;
}

static int
check_load_and_scan(const struct conf *c, struct state *s, struct bindex *x,
    struct entryvec *now)
{
	struct check_loader l = { s, x, 0, 0 };
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
check_report(const struct cmd_opts *o, const struct conf *c,
    const struct state *s, struct event_sink *sink,
    const struct changes *ch, size_t nentries)
{
	if (!o->json)
		report_human(stdout, c, ch, nentries);
	for (size_t i = 0; i < ch->n; i++) {
		json_object *ev = report_event(c, &ch->v[i],
		    "fimguard.check", NULL);

		report_change_diff(ev, c, s, &ch->v[i]);
		event_emit(sink, ev);
	}
}

int
cmd_check(const struct cmd_opts *o)
{
	struct entryvec now = { 0 };
	struct delta_base db;
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
	if ((r = check_load_and_scan(&c, &s, &x, &now)) != 0)
		goto out;
	delta_from_bindex(&db, &x);
	if (delta_run(&db, &now, &s, &d) < 0) {
		log_warnx("baseline changed on disk while being read");
		r = EXIT_BASELINE;
		goto out;
	}
	check_report(o, &c, &s, &sink, &d.ch, now.n);
	r = d.ch.n > 0 ? EXIT_CHANGES : EXIT_OK;
out:
	event_sink_close(&sink);
	delta_free(&d);
	entryvec_free(&now);
	bindex_free(&x);
	state_close(&s);
	conf_free(&c);
	return r;
}
