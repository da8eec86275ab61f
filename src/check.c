/* fimguard check: the scheduled scan. Exit 0 nothing changed, 1
 * changes, 2 usage or configuration, 3 baseline missing or untrusted. */
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "compare.h"
#include "event.h"
#include "log.h"
#include "report.h"
#include "scan.h"
#include "util.h"
#include "walk.h"

#define CHECK_DEFAULT_EVENTS	"/var/log/fimguard/events.json"

struct check_loader {
	const struct state	*s;
	struct baseline		*b;
	int			 r;
	double			 secs;
};

static double
check_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
check_load(void *arg)
{
	struct check_loader *l = arg;
	double t = check_now();

	l->r = cmd_load_baseline(l->s, l->b);
	l->secs = check_now() - t;
	return NULL;
}

/* Only where XXH3 differs from the baseline (or the file is new) is
 * SHA-256 computed: it is what the report cites, and what pairs a
 * deletion with a creation as a rename. */
static void
check_confirm(struct entryvec *now, struct state *s, struct baseline *b)
{
	struct scan_opts so = { .secret = s->xxh_secret, .sha = 1 };

	for (size_t i = 0; i < now->n; i++) {
		struct entry *e = &now->v[i];

		if (e->type != ENTRY_FILE || e->error != NULL ||
		    !compare_need_sha(b, e))
			continue;
		if (scan_file(e, &so) < 0 && e->error == NULL)
			e->error = xstrdup("vanished while being checked");
	}
}

/* Loading the baseline (JSON parsing, one core) runs while the tree is
 * walked and hashed with keyed XXH3 (every core); the baseline is
 * needed only to compare. */
static int
check_load_and_scan(const struct conf *c, struct state *s,
    struct baseline *b, struct entryvec *now)
{
	struct check_loader l = { s, b, 0, 0 };
	double t0 = check_now(), t1;
	pthread_t t;
	int threaded = pthread_create(&t, NULL, check_load, &l) == 0;

	if (!threaded)
		check_load(&l);
	walk_policy(c, now);
	t1 = check_now();
	cmd_scan(now, s, 0);
	log_info("walk %.3fs, scan %.3fs", t1 - t0, check_now() - t1);
	if (threaded)
		pthread_join(t, NULL);
	log_info("baseline load %.3fs", l.secs);
	if (l.r == 0)
		check_confirm(now, s, b);
	return l.r;
}

int
cmd_check(const struct cmd_opts *o)
{
	struct entryvec now = { 0 };
	struct changes ch = { 0 };
	struct event_sink sink;
	struct baseline b = { 0 };
	struct state s = { .lockfd = -1 };
	struct conf c;
	int r;

	if (cmd_load_conf(o, &c) != 0)
		return EXIT_USAGE;
	if ((r = cmd_open_state(o, &c, &s, 0)) != 0 ||
	    (r = check_load_and_scan(&c, &s, &b, &now)) != 0)
		goto out;
	compare_run(&b, &now, &ch);
	event_sink_open(&sink, c.events ? c.events : CHECK_DEFAULT_EVENTS,
	    o->json);
	if (!o->json)
		report_human(stdout, &c, &ch, now.n);
	for (size_t i = 0; i < ch.n; i++)
		event_emit(&sink, report_event(&c, &ch.v[i], "fimguard.check",
		    NULL));
	event_sink_close(&sink);
	r = ch.n > 0 ? EXIT_CHANGES : EXIT_OK;
out:
	changes_free(&ch);
	entryvec_free(&now);
	baseline_free(&b);
	state_close(&s);
	conf_free(&c);
	return r;
}
