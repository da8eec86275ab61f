/* fimguard check: the scheduled scan. Exit 0 nothing changed, 1
 * changes, 2 usage or configuration, 3 baseline missing or untrusted. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "compare.h"
#include "event.h"
#include "log.h"
#include "report.h"
#include "walk.h"

#define CHECK_DEFAULT_EVENTS	"/var/log/fimguard/events.json"

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
	if ((r = cmd_open_baseline(o, &c, &s, &b, 0)) != 0)
		goto out;
	walk_policy(&c, &now);
	cmd_scan(&now, &s, &b, 0);
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
