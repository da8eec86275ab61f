/* fimguard approve: accept the current state of some paths (or all)
 * into the baseline. It is, with init --force, the only way the
 * baseline changes, so it records who (uid, user name, login uid),
 * when and why, in history.jsonl and as baseline-approved events, and
 * only then puts the new baseline in place: it fails, keeping the old
 * one, when it cannot record (core/journal.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/cmd.h"
#include "core/compare.h"
#include "core/event.h"
#include "core/fdpath.h"
#include "core/journal.h"
#include "core/log.h"
#include "core/pkg.h"
#include "core/report.h"
#include "core/scan.h"
#include "core/util.h"
#include "core/walk.h"
#include "monitor/ctl.h"
#include "monitor/quarantine.h"

#define APPROVE_DEFAULT_EVENTS	"/var/log/fimguard/events.json"
/* The package hooks' bound: dpkg and rpm wait for them. */
#define APPROVE_HOOK_SECONDS	300

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

/* What every history record starts with: when, which approval, who,
 * why. */
static void
approve_history_head(json_object *h, const char *ts, const char *id,
    const struct approver *w, const char *reason, int all)
{
	event_set_str(h, "@timestamp", ts);
	event_set_str(h, "id", id);
	event_set_str(h, "uid", w->uid);
	event_set_str(h, "user", w->user);
	event_set_str(h, "auid", w->auid);
	event_set_str(h, "reason", reason ? reason : "");
	json_object_object_add(h, "all", json_object_new_boolean(all));
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
	approve_history_head(h, ts, id, w, o->reason, o->all);
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

/* ---- approve --packages: what the package database vouches for --- */

struct approve_pkgs;
static int	approve_commit(const struct cmd_opts *, const struct conf *,
		    const struct state *, const struct entryvec *,
		    const struct changes *, const struct approve_pkgs *);

/* One package's accepted changes: a history line each. */
struct approve_pkg {
	struct pkg_label l;		/* name, versions */
	struct strlist	 paths;		/* changed files */
	size_t		 unchanged;	/* files whose version moved only */
};

struct approve_pkgs {
	struct approve_pkg *v;
	size_t		 n;
};

static struct approve_pkg *
approve_pkg_get(struct approve_pkgs *pk, const struct pkg_label *l)
{
	for (size_t i = 0; i < pk->n; i++) {
		const struct pkg_label *k = &pk->v[i].l;

		if ((k->name == NULL ? l->name == NULL : l->name != NULL &&
		    strcmp(k->name, l->name) == 0) &&
		    (k->version == NULL ? l->version == NULL :
		    l->version != NULL && strcmp(k->version, l->version) == 0) &&
		    (k->previous == NULL ? l->previous == NULL :
		    l->previous != NULL && strcmp(k->previous, l->previous) == 0))
			return &pk->v[i];
	}
	pk->v = xreallocarray(pk->v, pk->n + 1, sizeof(*pk->v));
	memset(&pk->v[pk->n], 0, sizeof(pk->v[0]));
	pk->v[pk->n].l = *l;
	return &pk->v[pk->n++];
}

static void
approve_pkgs_free(struct approve_pkgs *pk)
{
	for (size_t i = 0; i < pk->n; i++)
		strlist_free(&pk->v[i].paths);
	free(pk->v);
	memset(pk, 0, sizeof(*pk));
}

/* The history lines (newline included): one per package and versions,
 * with who, when, why and the files. */
static char *
approve_pkg_history(const struct cmd_opts *o, const struct approver *w,
    const struct approve_pkgs *pk, const char *id)
{
	char *out = xstrdup(""), ts[64];

	event_timestamp(ts, sizeof(ts));
	for (size_t i = 0; i < pk->n; i++) {
		const struct approve_pkg *p = &pk->v[i];
		json_object *h = json_object_new_object(), *pj;
		char *line, *joined;

		approve_history_head(h, ts, id, w, o->reason, 0);
		json_object_object_add(h, "packages",
		    json_object_new_boolean(1));
		json_object_object_add(h, "requested", json_object_new_array());
		pj = event_obj(h, "package");
		report_package(h, &p->l);
		json_object_object_del(pj, "verified");
		json_object_object_add(pj, "unchanged_files",
		    json_object_new_uint64(p->unchanged));
		json_object_object_add(h, "paths", approve_paths(p->paths.v,
		    p->paths.n));
		approve_history_b64(h, p->paths.v, p->paths.n);
		json_object_object_add(h, "changes",
		    json_object_new_uint64(p->paths.n));
		line = xasprintf("%s\n", json_object_to_json_string_ext(h,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		joined = xasprintf("%s%s", out, line);
		free(out);
		free(line);
		out = joined;
		json_object_put(h);
	}
	return out;
}

/* What approve --packages works on. */
struct approve_run {
	struct baseline	 b;		/* the trusted baseline */
	struct pkg_db	 db;
	struct entryvec	 now;		/* walked; unchanged ones stay */
	struct entryvec	 cand;		/* changed: hashed in full */
	struct entryvec	 again;		/* unchanged, to hash for the
					   package digest */
	struct baseline	 sel;		/* borrowed records cand pairs
					   with, and those gone */
	struct changes	 ch;		/* all changes */
	struct changes	 acc;		/* the accepted ones */
	struct approve_pkgs pk;
	size_t		 left;		/* changes left for a human */
};

static void
approve_run_free(struct approve_run *a)
{
	changes_free(&a->ch);
	changes_free(&a->acc);
	/* sel borrows b's records: only its arrays go */
	free(a->sel.ev.v);
	htab_free(&a->sel.idx);
	entryvec_free(&a->cand);
	entryvec_free(&a->again);
	entryvec_free(&a->now);
	baseline_free(&a->b);
	pkg_db_free(&a->db);
	approve_pkgs_free(&a->pk);
}

static int
approve_same_owner(const struct pkg_owner *a, const struct pkg_owner *b)
{
	return a != NULL && b != NULL && strcmp(a->manager, b->manager) ==
	    0 && strcmp(a->name, b->name) == 0 &&
	    strcmp(a->version, b->version) == 0;
}

/* An unchanged file whose package moved to a new version that ships
 * the same content: the baseline's owner follows, when the database
 * vouches for the file (it was, or is now, hashed for it). */
static void
approve_refresh(struct approve_run *a, struct entry *base,
    const struct entry *e, const char *sum)
{
	struct pkg_label l;

	if (pkg_entry_label(&a->db, e, sum, &l) != PKG_VERIFIED)
		return;
	if (base->owner != NULL && strcmp(base->owner->name, l.name) == 0)
		l.previous = base->owner->version;
	base->owner = pkg_owners_intern(&a->b.owners, e->owner->manager,
	    e->owner->name, e->owner->version);
	if (sum != NULL && sum != base->pkgsum) {
		free(base->pkgsum);
		base->pkgsum = xstrdup(sum);
	}
	base->pkg_ok = base->pkgsum != NULL;
	approve_pkg_get(&a->pk, &l)->unchanged++;
}

/* Walked entries against the baseline: changed ones go to cand (their
 * baseline records, and those gone, to sel); unchanged ones whose
 * owner's version moved are refreshed, hashed first when the baseline
 * has no verified digest the database still records. */
static void
approve_split_pkgs(struct approve_run *a)
{
	unsigned char *seen = xcalloc(a->b.ev.n + 1, 1);
	size_t bi;

	for (size_t i = 0; i < a->now.n; i++) {
		struct entry *e = &a->now.v[i], *base;

		if (!htab_get(&a->b.idx, e->path, &bi) ||
		    compare_entry(e, &a->b.ev.v[bi]) != 0 ||
		    a->b.ev.v[bi].error != NULL || e->error != NULL) {
			if (htab_get(&a->b.idx, e->path, &bi)) {
				seen[bi] = 1;
				*entryvec_add(&a->sel.ev) = a->b.ev.v[bi];
			}
			*entryvec_add(&a->cand) = *e;
			memset(e, 0, sizeof(*e));
			continue;
		}
		seen[bi] = 1;
		base = &a->b.ev.v[bi];
		if (e->owner == NULL || approve_same_owner(e->owner,
		    base->owner))
			continue;
		if (e->type == ENTRY_FILE && pkg_digest_of(&a->db, e->path) &&
		    !(base->pkg_ok && pkg_sum_matches(&a->db, e,
		    base->pkgsum))) {
			*entryvec_add(&a->again) = *e;
			memset(e, 0, sizeof(*e));
			continue;
		}
		approve_refresh(a, base, e, base->pkg_ok ? base->pkgsum :
		    NULL);
	}
	for (size_t i = 0; i < a->b.ev.n; i++)
		if (!seen[i])
			*entryvec_add(&a->sel.ev) = a->b.ev.v[i];
	free(seen);
	baseline_index(&a->sel);
}

static void
approve_hash_again(struct approve_run *a, struct state *s)
{
	struct scan_opts so = { .secret = s->xxh_secret, .pkg = 1 };
	size_t bi;

	scan_entries(&a->again, &so);
	for (size_t i = 0; i < a->again.n; i++) {
		struct entry *e = &a->again.v[i];

		if (htab_get(&a->b.idx, e->path, &bi) &&
		    compare_entry(e, &a->b.ev.v[bi]) == 0)
			approve_refresh(a, &a->b.ev.v[bi], e, e->pkgsum);
	}
}

/* Keep the verified changes (and mark their new state as the
 * package's), count the rest. */
static void
approve_accept(struct approve_run *a)
{
	for (size_t i = 0; i < a->ch.n; i++) {
		struct change *c = &a->ch.v[i];
		struct approve_pkg *p;

		/* the database's own files come with the transaction */
		if (c->pkg.manager == NULL || (!c->pkg.verified &&
		    c->pkg.database == NULL)) {
			a->left++;
			continue;
		}
		if (c->now != NULL)
			((struct entry *)c->now)->pkg_ok =
			    c->now->pkgsum != NULL;
		p = approve_pkg_get(&a->pk, &c->pkg);
		strlist_push(&p->paths, c->now ? c->now->path : c->base->path);
		if (a->acc.n == a->acc.cap) {
			a->acc.cap = a->acc.cap ? a->acc.cap * 2 : 16;
			a->acc.v = xreallocarray(a->acc.v, a->acc.cap,
			    sizeof(*a->acc.v));
		}
		a->acc.v[a->acc.n++] = *c;
		a->acc.count[c->action]++;
	}
}

/* The new baseline: every record but those an accepted change
 * replaces or removes, plus the accepted new states. Borrowed
 * records: free only the array. */
static void
approve_next(const struct approve_run *a, struct entryvec *next)
{
	struct htab gone;

	htab_init(&gone, a->acc.n + 1);
	for (size_t i = 0; i < a->acc.n; i++) {
		const struct change *c = &a->acc.v[i];

		if (c->base != NULL)
			htab_put(&gone, c->base->path, i);
		if (c->now != NULL)
			htab_put(&gone, c->now->path, i);
	}
	for (size_t i = 0; i < a->b.ev.n; i++) {
		size_t k;

		if (!htab_get(&gone, a->b.ev.v[i].path, &k))
			*entryvec_add(next) = a->b.ev.v[i];
	}
	for (size_t i = 0; i < a->acc.n; i++)
		if (a->acc.v[i].now != NULL)
			*entryvec_add(next) = *a->acc.v[i].now;
	htab_free(&gone);
	entryvec_sort(next);
}

static void
approve_pkg_print(const struct cmd_opts *o, const struct approve_run *a)
{
	const char *verb = o->dry_run ? "would accept" : "accepted";

	for (size_t i = 0; i < a->pk.n; i++) {
		const struct approve_pkg *p = &a->pk.v[i];
		char *n = util_escape(p->l.name ? p->l.name : "database");
		char *v0 = util_escape(p->l.previous ? p->l.previous : "(new)");
		char *v1 = util_escape(p->l.version ? p->l.version :
		    "(removed)");

		if (p->l.name == NULL)
			printf("fimguard approve --packages: %s %zu change%s "
			    "of the %s database in %s\n", verb, p->paths.n,
			    p->paths.n == 1 ? "" : "s", p->l.manager,
			    p->l.database);
		else
			printf("fimguard approve --packages: %s %s %s -> %s "
			    "(%s): %zu changed file%s, %zu unchanged\n", verb,
			    n, v0, v1, p->l.manager, p->paths.n,
			    p->paths.n == 1 ? "" : "s", p->unchanged);
		for (size_t k = 0; o->verbose && k < p->paths.n; k++) {
			char *e = util_escape(p->paths.v[k]);

			printf("    %s\n", e);
			free(e);
		}
		free(n);
		free(v0);
		free(v1);
	}
	if (a->left > 0)
		printf("fimguard approve --packages: %zu change%s not verified "
		    "by the package database, left for a human ('fimguard "
		    "check' lists them)\n", a->left, a->left == 1 ? "" : "s");
	if (a->pk.n == 0 && a->left == 0)
		printf("fimguard approve --packages: nothing to approve\n");
}

struct approve_loader {
	const struct state	*s;
	struct baseline		*b;
	int			 r;
};

static void *
approve_load(void *arg)
{
	struct approve_loader *l = arg;

	l->r = cmd_load_baseline(l->s, l->b);
	return NULL;
}

/* The baseline loads on a thread of its own while the package
 * database is read and the tree walked and hashed (XXH3: what is
 * unchanged needs no more), as check does. */
static int
approve_pkg_scan(const struct conf *c, struct state *s,
    struct approve_run *a)
{
	struct approve_loader l = { s, &a->b, 0 };
	pthread_t t;
	int threaded = pthread_create(&t, NULL, approve_load, &l) == 0, r;

	if (!threaded)
		approve_load(&l);
	r = cmd_packages(c, &a->db) < 0 ? EXIT_USAGE : 0;
	if (r == 0 && a->db.manager == PKG_NONE) {
		log_warnx("no package database found under %s (packages = "
		    "auto): nothing to verify against", c->package_root ?
		    c->package_root : "/");
		r = EXIT_USAGE;
	}
	if (r == 0) {
		walk_policy(c, &a->now);
		pkg_assign(&a->db, &a->now);
		cmd_scan(&a->now, s, c, 0);
	}
	if (threaded)
		pthread_join(t, NULL);
	return l.r != 0 ? l.r : r;
}

/* Load, walk, scan, compare, label, accept. Returns 0 or an exit. */
static int
approve_pkg_collect(const struct cmd_opts *o, const struct conf *c,
    struct state *s, struct approve_run *a)
{
	int r;

	if (approve_events_ok(c) < 0)
		return EXIT_USAGE;
	if ((r = approve_pkg_scan(c, s, a)) != 0)
		return r;
	approve_split_pkgs(a);
	approve_hash_again(a, s);
	if (cmd_scan(&a->cand, s, c, 1) > 0) {
		log_warnx("nothing approved: make room for the vault (or "
		    "lower vault_max_size) and approve again");
		return EXIT_USAGE;
	}
	compare_run(&a->sel, &a->cand, &a->ch);
	for (size_t i = 0; i < a->ch.n; i++)
		pkg_label(&a->db, &a->ch.v[i]);
	approve_accept(a);
	(void)o;
	return 0;
}

/* approve --packages [--dry-run]: exactly the changes the package
 * database vouches for (content, and where it records them mode,
 * owner, link target), one history line per package. */
static int
approve_packages(const struct cmd_opts *o, const struct conf *c,
    struct state *s)
{
	struct approve_run a = { 0 };
	struct entryvec next = { 0 };
	int r = approve_pkg_collect(o, c, s, &a);

	if (r == 0 && !o->json)
		approve_pkg_print(o, &a);
	if (r == 0 && !o->dry_run && a.pk.n > 0) {
		approve_next(&a, &next);
		r = approve_commit(o, c, s, &next, &a.acc, &a.pk);
		free(next.v);	/* borrowed records */
		if (r == 0)
			ctl_notify_reload(s->dir);
	}
	approve_run_free(&a);
	return r;
}

/* Record and apply: the new baseline is written, then put in place only
 * once the history and the events hold who approved what
 * (core/journal.c). Returns EXIT_OK, or EXIT_USAGE with the old
 * baseline still in force. */
static int
approve_commit(const struct cmd_opts *o, const struct conf *c,
    const struct state *s, const struct entryvec *ev,
    const struct changes *ch, const struct approve_pkgs *pk)
{
	struct approver w = { 0 };
	struct journal j = { 0 };
	char *next, *why = NULL;
	int r = EXIT_USAGE;

	approve_who(&w);
	journal_new_id(j.id);
	j.history = pk != NULL ? approve_pkg_history(o, &w, pk, j.id) :
	    approve_history_line(o, &w, ch, j.id);
	j.events = approve_event_lines(c, ch, o, &w, j.id, &j.events_len);
	j.events_path = xstrdup(c->events ? c->events :
	    APPROVE_DEFAULT_EVENTS);
	if ((next = baseline_write(ev, s, j.next_sha)) == NULL)
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
    struct baseline *oldsel, struct entryvec *nowsel, struct pkg_db *db)
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
	/* owners stay recorded; a state the package does not vouch for is
	 * accepted by a human, not by the package (no verified digest) */
	if (cmd_packages(c, db) < 0)
		log_warnx("approved without package owners");
	pkg_assign(db, nowsel);
	failed = cmd_scan(nowsel, s, c, 1);
	for (size_t i = 0; i < nowsel->n; i++) {
		struct pkg_label l;

		nowsel->v[i].pkg_ok = nowsel->v[i].owner != NULL &&
		    nowsel->v[i].pkgsum != NULL && pkg_entry_label(db,
		    &nowsel->v[i], NULL, &l) == PKG_VERIFIED;
	}
	approve_split(o, &b->ev, &oldsel->ev);
	baseline_index(oldsel);
	compare_run(oldsel, nowsel, ch);
	for (size_t i = 0; i < ch->n; i++)
		pkg_label(db, &ch->v[i]);
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

/* ---- entries quarantined by the monitor (monitor/quarantine.c) ---- */

/* What a put-back may go through: each directory the baseline records
 * must still be that (device, inode), reached without a link. */
static int
approve_dir_id(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	const struct baseline *b = arg;
	struct entry *e;

	if (!baseline_find(b, path, &e))
		return 0;
	*dev = e->type == ENTRY_DIR ? e->dev : 0;
	*ino = e->type == ENTRY_DIR ? e->ino : 0;
	return 1;
}

/* Is nothing at path now (looked up through the recorded directories)? */
static int
approve_absent(const struct baseline *b, const char *path)
{
	const char *name;
	struct stat st;
	int dfd = fdpath_open_parent(path, &name, approve_dir_id, (void *)b,
	    NULL), absent;

	if (dfd < 0)
		return 0;
	absent = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT;
	close(dfd);
	return absent;
}

/* A named path that is not there but was quarantined is put back (the
 * newest entry taken from it), with its owner and mode, before the
 * walk: then it is approved like any new file. The running monitor is
 * told first (release.json) that these creations are ours. Returns 0,
 * or EXIT_USAGE with nothing approved. */
static int
approve_unquarantine(const struct cmd_opts *o, const struct state *s,
    const struct baseline *b)
{
	struct strlist paths = { 0 }, ids = { 0 };
	json_object **sides = xcalloc((size_t)o->nargs + 1, sizeof(*sides));
	char *id, *why = NULL;
	int r = 0;

	for (int i = 0; i < o->nargs; i++)
		if (approve_absent(b, o->args[i]) && quarantine_find(s,
		    o->args[i], &id, &sides[paths.n]) == 0) {
			strlist_push(&paths, o->args[i]);
			strlist_push_owned(&ids, id);
		}
	if (paths.n > 0 && quarantine_release(s, &paths, &why) < 0) {
		log_warnx("cannot tell the monitor: %s", why);
		r = EXIT_USAGE;
	}
	for (size_t i = 0; r == 0 && i < paths.n; i++) {
		free(why);
		why = NULL;
		if (quarantine_put_back(s, ids.v[i], sides[i], approve_dir_id,
		    (void *)b, &why) < 0) {
			log_warnx("%s: cannot put back from the quarantine: %s; "
			    "nothing approved", paths.v[i], why);
			r = EXIT_USAGE;
		} else if (!o->json)
			printf("fimguard approve: put back from the quarantine "
			    "(%s): %s\n", ids.v[i], paths.v[i]);
	}
	for (size_t i = 0; i < paths.n; i++)
		json_object_put(sides[i]);
	free(sides);
	free(why);
	strlist_free(&paths);
	strlist_free(&ids);
	return r;
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

/* As the package hooks run it (--hook): bounded in time, and never a
 * failure for dpkg or rpm: it says why it did nothing and exits 0.
 * package_hook = no makes it do nothing, quietly. */
static int
approve_hook_start(const struct cmd_opts *o, const struct conf *c)
{
	sigset_t alrm;
	char *path;
	int have;

	if (!conf_package_hook(c))
		return -1;
	signal(SIGALRM, SIG_DFL);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	alarm(APPROVE_HOOK_SECONDS);
	path = xasprintf("%s/%s", cmd_state_dir(o, c), BASELINE_FILE);
	have = access(path, F_OK) == 0;
	if (!have)
		log_warnx("package hook: no baseline %s yet ('fimguard init' "
		    "makes it): nothing approved", path);
	free(path);
	return have ? 0 : -1;
}

static int
approve_packages_cmd(const struct cmd_opts *co)
{
	struct cmd_opts opts = *co, *o = &opts;
	struct state s = { .lockfd = -1 };
	struct conf c;
	int r;

	if (o->all || o->nargs > 0) {
		log_warnx("approve --packages takes no paths and no --all");
		return EXIT_USAGE;
	}
	if (cmd_load_conf(o, &c) != 0)
		return o->hook ? EXIT_OK : EXIT_USAGE;
	if (o->hook && approve_hook_start(o, &c) < 0) {
		conf_free(&c);
		return EXIT_OK;
	}
	if (o->reason == NULL)
		o->reason = o->hook ? "package hook: verified by the package "
		    "database" : "verified by the package database";
	if (c.packages == CONF_PKG_NONE) {
		log_warnx("packages = none: no package database to verify "
		    "against");
		r = EXIT_USAGE;
	} else if ((r = cmd_open_state(o, &c, &s, 1)) == 0)
		r = approve_packages(o, &c, &s);
	if (r != 0 && o->hook)
		log_warnx("package hook: nothing approved (exit %d)", r);
	state_close(&s);
	conf_free(&c);
	return o->hook ? EXIT_OK : r;
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
	struct pkg_db db = { 0 };
	struct conf c;
	int r;

	if (o->packages)
		return approve_packages_cmd(o);
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
	if ((r = approve_unquarantine(o, &s, &b)) != 0)
		goto out;
	r = approve_apply(o, &c, &s, &b, &ch, &oldsel, &nowsel, &db);
	if (r == 0)
		r = approve_commit(o, &c, &s, &b.ev, &ch, NULL);
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
	pkg_db_free(&db);
	state_close(&s);
	conf_free(&c);
	strlist_free(&args);
	return r;
}
