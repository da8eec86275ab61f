/* fimguard approve: accept the current state of some paths (or all)
 * into the baseline. It is, with init --force, the only way the
 * baseline changes, so it records who (uid, user name, login uid),
 * when and why, in history.jsonl and as baseline-approved events, and
 * only then puts the new baseline in place: it fails, keeping the old
 * one, when it cannot record (core/journal.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/cmd.h"
#include "core/compare.h"
#include "core/event.h"
#include "core/journal.h"
#include "core/log.h"
#include "core/report.h"
#include "core/util.h"
#include "core/walk.h"
#include "monitor/ctl.h"

#define APPROVE_DEFAULT_EVENTS	"/var/log/fimguard/events.json"

struct approver {
	char	 uid[32];
	char	 auid[32];
	char	*user;
};

static void
approve_who(struct approver *w)
{
	struct passwd *pw = getpwuid(getuid());
	FILE *fp = fopen("/proc/self/loginuid", "re");

	snprintf(w->uid, sizeof(w->uid), "%u", (unsigned)getuid());
	snprintf(w->auid, sizeof(w->auid), "4294967295");
	if (fp != NULL) {
		if (fgets(w->auid, sizeof(w->auid), fp) == NULL)
			snprintf(w->auid, sizeof(w->auid), "4294967295");
		w->auid[strcspn(w->auid, "\n")] = '\0';
		fclose(fp);
	}
	w->user = xstrdup(pw ? pw->pw_name : w->uid);
}

static int
approve_selected(const struct cmd_opts *o, const char *path)
{
	if (o->all)
		return 1;
	for (int i = 0; i < o->nargs; i++)
		if (util_path_under(path, o->args[i]))
			return 1;
	return 0;
}

/* Move the entries of src that the command names into dst (deep, by
 * ownership transfer); the rest stay in src. */
static void
approve_split(const struct cmd_opts *o, struct entryvec *src,
    struct entryvec *dst)
{
	size_t keep = 0;

	for (size_t i = 0; i < src->n; i++) {
		if (approve_selected(o, src->v[i].path))
			*entryvec_add(dst) = src->v[i];
		else
			src->v[keep++] = src->v[i];
	}
	src->n = keep;
}

/* Every named path must be something the policy covers now or the
 * baseline knew; anything else is a typo we must not "approve". */
static int
approve_check_args(const struct cmd_opts *o, const struct entryvec *now,
    const struct entryvec *old)
{
	int bad = 0;

	for (int i = 0; i < o->nargs; i++) {
		int found = 0;

		for (size_t k = 0; !found && k < now->n; k++)
			found = util_path_under(now->v[k].path, o->args[i]);
		for (size_t k = 0; !found && k < old->n; k++)
			found = util_path_under(old->v[k].path, o->args[i]);
		if (!found) {
			log_warnx("%s: not covered by the policy or the "
			    "baseline", o->args[i]);
			bad = 1;
		}
	}
	return bad;
}

static json_object *
approve_paths(char *const *paths, size_t n)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		char *p = util_utf8_lossy(paths[i]);

		json_object_array_add(arr, json_object_new_string(p));
		free(p);
	}
	return arr;
}

/* Exact bytes of the approved paths, when any is not UTF-8. */
static void
approve_history_b64(json_object *h, char *const *paths, size_t n)
{
	json_object *arr = NULL;

	for (size_t i = 0; i < n; i++)
		if (!util_utf8_valid(paths[i], strlen(paths[i])))
			arr = json_object_new_array();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		char *b = util_b64_encode((const uint8_t *)paths[i],
		    strlen(paths[i]));

		json_object_array_add(arr, json_object_new_string(b));
		free(b);
	}
	if (arr != NULL)
		json_object_object_add(h, "paths_base64", arr);
}

/* The history line (newline included): who, when, why, what. */
static char *
approve_history_line(const struct cmd_opts *o, const struct approver *w,
    const struct changes *ch, const char *id)
{
	char **changed = xcalloc(ch->n + 1, sizeof(char *));
	json_object *h = json_object_new_object(), *paths;
	char ts[64], *line;

	for (size_t i = 0; i < ch->n; i++)
		changed[i] = ch->v[i].now ? ch->v[i].now->path :
		    ch->v[i].base->path;
	event_timestamp(ts, sizeof(ts));
	event_set_str(h, "@timestamp", ts);
	event_set_str(h, "id", id);
	event_set_str(h, "uid", w->uid);
	event_set_str(h, "user", w->user);
	event_set_str(h, "auid", w->auid);
	event_set_str(h, "reason", o->reason ? o->reason : "");
	json_object_object_add(h, "all", json_object_new_boolean(o->all));
	json_object_object_add(h, "requested", approve_paths(o->args,
	    (size_t)o->nargs));
	paths = approve_paths(changed, ch->n);
	approve_history_b64(h, changed, ch->n);
	json_object_object_add(h, "paths", paths);
	json_object_object_add(h, "changes", json_object_new_uint64(ch->n));
	line = xasprintf("%s\n", json_object_to_json_string_ext(h,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(h);
	free(changed);
	return line;
}

/* The baseline-approved events, as the lines the events file gets (in
 * one write: all of them or none). */
static char *
approve_event_lines(const struct conf *c, const struct changes *ch,
    const struct cmd_opts *o, const struct approver *w, const char *id,
    size_t *len)
{
	char *buf = xmalloc(1);
	size_t n = 0;

	for (size_t i = 0; i < ch->n; i++) {
		json_object *ev = report_event(c, &ch->v[i],
		    "fimguard.approve", "baseline-approved");
		json_object *u = event_obj(ev, "user"), *fg;
		size_t ln;
		char *line;

		event_set_str(u, "id", w->uid);
		event_set_str(u, "name", w->user);
		event_set_str(event_obj(u, "audit"), "id", w->auid);
		fg = event_obj(ev, "fimguard");
		event_set_str(fg, "reason", o->reason ? o->reason : "");
		event_set_str(fg, "approval_id", id);
		line = event_line(ev, &ln);
		json_object_put(ev);
		buf = xreallocarray(buf, n + ln + 1, 1);
		memcpy(buf + n, line, ln);
		n += ln;
		free(line);
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The events file must take the record before anything changes: a
 * FIFO or an unopenable path stops approve here. */
static int
approve_events_ok(const struct conf *c)
{
	struct event_sink sink;
	int r = event_sink_open(&sink, c->events ? c->events :
	    APPROVE_DEFAULT_EVENTS, 0);

	event_sink_close(&sink);
	return r;
}

/* Record and apply: the new baseline is written, then put in place only
 * once the history and the events hold who approved what
 * (core/journal.c). Returns EXIT_OK, or EXIT_USAGE with the old
 * baseline still in force. */
static int
approve_commit(const struct cmd_opts *o, const struct conf *c,
    const struct state *s, const struct baseline *b,
    const struct changes *ch)
{
	struct approver w = { 0 };
	struct journal j = { 0 };
	char *next, *why = NULL;
	int r = EXIT_USAGE;

	approve_who(&w);
	journal_new_id(j.id);
	j.history = approve_history_line(o, &w, ch, j.id);
	j.events = approve_event_lines(c, ch, o, &w, j.id, &j.events_len);
	j.events_path = xstrdup(c->events ? c->events :
	    APPROVE_DEFAULT_EVENTS);
	if ((next = baseline_write(&b->ev, s, j.next_sha)) == NULL)
		goto out;
	j.next = xstrdup(strrchr(next, '/') + 1);
	free(next);
	if (journal_approve(s, &j, &why) < 0) {
		log_warnx("approval not recorded, the baseline is unchanged: "
		    "%s", why);
		goto out;
	}
	if (o->json)
		fwrite(j.events, 1, j.events_len, stdout);
	r = EXIT_OK;
out:
	free(why);
	free(w.user);
	journal_free(&j);
	return r;
}

/* Build the new baseline in b: the old entries outside the named paths
 * plus the current state inside them. */
static int
approve_apply(const struct cmd_opts *o, const struct conf *c,
    struct state *s, struct baseline *b, struct changes *ch,
    struct baseline *oldsel, struct entryvec *nowsel)
{
	struct entryvec now = { 0 };
	size_t failed;

	walk_policy(c, &now);
	if (approve_check_args(o, &now, &b->ev)) {
		entryvec_free(&now);
		return EXIT_USAGE;
	}
	approve_split(o, &now, nowsel);
	entryvec_free(&now);
	failed = cmd_scan(nowsel, s, c, 1);
	approve_split(o, &b->ev, &oldsel->ev);
	baseline_index(oldsel);
	compare_run(oldsel, nowsel, ch);
	for (size_t i = 0; i < nowsel->n; i++) {
		struct entry *e = entryvec_add(&b->ev);

		*e = nowsel->v[i];
	}
	nowsel->n = 0;	/* ownership moved to b */
	entryvec_sort(&b->ev);
	if (failed > 0) {
		log_warnx("nothing approved: make room for the vault (or "
		    "lower vault_max_size) and approve again");
		return EXIT_USAGE;
	}
	return 0;
}

/* Arguments as the baseline spells paths: absolute (relative ones are
 * taken from the current directory, like any command-line path) and
 * without "//", "." or "..". */
static void
approve_normalize(struct cmd_opts *o, struct strlist *keep)
{
	char cwd[4096];

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		snprintf(cwd, sizeof(cwd), "/");
	for (int i = 0; i < o->nargs; i++) {
		char *abs = o->args[i][0] == '/' ? xstrdup(o->args[i]) :
		    xasprintf("%s/%s", cwd, o->args[i]);

		strlist_push_owned(keep, util_clean_path(abs));
		free(abs);
		o->args[i] = keep->v[keep->n - 1];
	}
}

int
cmd_approve(const struct cmd_opts *co)
{
	struct cmd_opts opts = *co, *o = &opts;
	struct strlist args = { 0 };
	struct baseline b = { 0 }, oldsel = { 0 };
	struct state s = { .lockfd = -1 };
	struct entryvec nowsel = { 0 };
	struct changes ch = { 0 };
	struct conf c;
	int r;

	if (o->all == (o->nargs > 0)) {
		log_warnx("approve: name the paths to approve, or --all");
		return EXIT_USAGE;
	}
	if (cmd_load_conf(o, &c) != 0)
		return EXIT_USAGE;
	approve_normalize(o, &args);
	if ((r = cmd_open_state(o, &c, &s, 1)) != 0 ||
	    (r = cmd_load_baseline(&s, &b)) != 0)
		goto out;
	if (approve_events_ok(&c) < 0) {
		r = EXIT_USAGE;
		goto out;
	}
	r = approve_apply(o, &c, &s, &b, &ch, &oldsel, &nowsel);
	if (r == 0)
		r = approve_commit(o, &c, &s, &b, &ch);
	if (r == 0) {
		if (!o->json)
			printf("fimguard approve: %zu change%s accepted into "
			    "the baseline\n", ch.n, ch.n == 1 ? "" : "s");
		ctl_notify_reload(s.dir);
	}
out:
	/* ch points into oldsel and b: free it first. */
	changes_free(&ch);
	baseline_free(&oldsel);
	entryvec_free(&nowsel);
	baseline_free(&b);
	state_close(&s);
	conf_free(&c);
	strlist_free(&args);
	return r;
}
