/* fimguard init: walk the policy, hash everything, fill the vault and
 * write a signed baseline. Refuses to replace a baseline unless asked
 * (--force), because that silently accepts whatever changed since.
 * Every file a package owns is checked against the package database
 * in the same read: a mismatch (a trojaned /usr/bin/ssh) is flagged as
 * package-mismatch and recorded without the package's blessing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define INIT_DEFAULT_EVENTS	"/var/log/fimguard/events.json"

#include "cli/commands.h"
#include "core/cmd.h"
#include "core/event.h"
#include "core/fdpath.h"
#include "core/log.h"
#include "core/report.h"
#include "core/walk.h"
#include "monitor/ctl.h"

static size_t
init_count_errors(const struct entryvec *ev)
{
	size_t n = 0;

	for (size_t i = 0; i < ev->n; i++)
		if (ev->v[i].error != NULL) {
			/* a path beyond PATH_MAX is cut in the middle, so the
			 * reason still fits in the log line */
			char *shown = fdpath_show(ev->v[i].path);

			log_warnx("%s: recorded without content: %s", shown,
			    ev->v[i].error);
			free(shown);
			n++;
		}
	return n;
}

/* Each owned entry against its package: verified ones keep the
 * package's digest in the baseline, mismatches are reported (stderr and
 * a package-mismatch event) and keep none. Returns how many. */
static size_t
init_packages(const struct conf *c, const struct pkg_db *db,
    struct entryvec *ev)
{
	struct event_sink sink = { .fd = -1 };
	size_t n = 0;

	for (size_t i = 0; i < ev->n; i++) {
		struct entry *e = &ev->v[i];
		struct pkg_label l;
		int v = e->owner ? pkg_entry_label(db, e, NULL, &l) :
		    PKG_UNOWNED;

		e->pkg_ok = v == PKG_VERIFIED && e->pkgsum != NULL;
		if (v != PKG_MISMATCH)
			continue;
		if (n++ == 0)
			event_sink_open(&sink, c->events ? c->events :
			    INIT_DEFAULT_EVENTS, 0);
		report_mismatch_human(stderr, c, e, &l);
		event_emit(&sink, report_mismatch(c, e, &l,
		    pkg_digest_of(db, e->path), "fimguard.init"));
	}
	event_sink_close(&sink);
	return n;
}

/* Keys are made on the first init, and a partial one (a crash while an
 * older version wrote it) is made again, but only while no baseline
 * depends on it. */
static int
init_keys(struct state *s, int have_baseline)
{
	char *why = NULL;
	int how = STATE_KEYS_CREATE | (have_baseline ? 0 : STATE_KEYS_REPAIR);

	if (state_keys(s, how, &why) == STATE_KEYS_OK)
		return 0;
	log_warnx("%s%s", why, have_baseline ? "; the baseline depends on "
	    "it: to start afresh, move the baseline and the keys away" : "");
	free(why);
	return -1;
}

/* Signs that this state directory had a baseline: its history, its
 * keys, its vault. The first of them present, or NULL. */
static const char *
init_had_baseline(const struct state *s)
{
	static const char *signs[] = { "history.jsonl", "hmac.key",
	    "xxh.key", "vault" };
	const char *found = NULL;

	for (size_t i = 0; found == NULL &&
	    i < sizeof(signs) / sizeof(signs[0]); i++) {
		char *p = state_path(s, signs[i]);

		if (access(p, F_OK) == 0 || errno != ENOENT)
			found = signs[i];
		free(p);
	}
	return found;
}

/* --if-missing is the service's first start: it builds the first
 * baseline. A state directory whose baseline is gone but that shows it
 * had one (removed by an intruder, lost with a disk) must not get a new
 * one silently: that would accept whatever changed since. Returns 0 to
 * go on, or EXIT_BASELINE (said why). */
static int
init_if_missing(const struct state *s, const char *path)
{
	const char *sign = init_had_baseline(s);

	if (sign == NULL)
		return 0;
	log_warnx("%s is missing, but %s/%s shows that this state directory "
	    "had a baseline: no new one is built over it unasked (it would "
	    "accept whatever changed since). Put baseline.json back, or run "
	    "'fimguard init' to baseline the files as they are now", path,
	    s->dir, sign);
	return EXIT_BASELINE;
}

int
cmd_init(const struct cmd_opts *o)
{
	struct entryvec ev = { 0 };
	struct pkg_db db = { 0 };
	struct state s;
	struct conf c;
	char *path;
	size_t mismatch;
	int r = EXIT_USAGE, have;

	if (cmd_load_conf(o, &c) != 0)
		return EXIT_USAGE;
	if (state_open(&s, cmd_state_dir(o, &c), 1) < 0 || cmd_lock(&s) != 0)
		goto out;
	path = state_path(&s, BASELINE_FILE);
	have = access(path, F_OK) == 0;
	if (o->if_missing && have) {
		/* first start of the service: keep the trusted baseline */
		printf("fimguard init: %s exists, kept\n", path);
		free(path);
		r = EXIT_OK;
		goto out;
	}
	if (o->if_missing && (r = init_if_missing(&s, path)) != 0) {
		free(path);
		goto out;
	}
	r = EXIT_USAGE;
	if (!o->force && have) {
		log_warnx("%s exists; use 'fimguard init --force' to replace "
		    "it, or 'fimguard approve' to accept changes", path);
		free(path);
		goto out;
	}
	free(path);
	if (init_keys(&s, have) < 0)
		goto out;
	walk_policy(&c, &ev);
	if (cmd_packages(&c, &db) < 0)
		goto out;
	pkg_assign(&db, &ev);
	if (cmd_scan(&ev, &s, &c, 1) > 0) {
		log_warnx("baseline not written: make room for the vault (or "
		    "lower vault_max_size) and run init again");
		goto out;
	}
	init_count_errors(&ev);
	mismatch = init_packages(&c, &db, &ev);
	entryvec_sort(&ev);
	if (baseline_save(&ev, &s) < 0)
		goto out;
	printf("fimguard init: baseline of %zu entries written to %s/%s\n",
	    ev.n, s.dir, BASELINE_FILE);
	if (mismatch > 0)
		printf("fimguard init: %zu file%s not what %s package "
		    "installed (package-mismatch, above): recorded, not "
		    "verified\n", mismatch, mismatch == 1 ? "" : "s",
		    mismatch == 1 ? "its" : "their");
	ctl_notify_reload(s.dir);
	r = EXIT_OK;
out:
	entryvec_free(&ev);
	pkg_db_free(&db);
	state_close(&s);
	conf_free(&c);
	return r;
}
