/* Reports. The human report leads with one summary line (what cron
 * mails and people skim), then a block per change; every name is
 * escaped so a hostile file name cannot forge report lines. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "core/diff.h"
#include "core/fdpath.h"
#include "core/file.h"
#include "core/report.h"
#include "core/util.h"
#include "core/vault.h"

void
report_rule_info(const struct conf *c, const char *rule, int *sev, int *mode)
{
	*sev = CONF_SEV_MEDIUM;
	*mode = c->mode;
	for (size_t i = 0; i < c->nrules; i++)
		if (strcmp(c->rules[i].name, rule) == 0) {
			*sev = c->rules[i].severity;
			*mode = conf_rule_mode(c, &c->rules[i]);
			return;
		}
}

static void
report_hex_line(FILE *fp, const char *label, const struct entry *a,
    const struct entry *b)
{
	char ha[65] = "(none)", hb[65] = "(none)";

	if (a != NULL && a->has_sha)
		util_hex(a->sha, 32, ha);
	if (b != NULL && b->has_sha)
		util_hex(b->sha, 32, hb);
	fprintf(fp, "    %s %s -> %s\n", label, ha, hb);
}

static void
report_details(FILE *fp, const struct change *ch)
{
	const struct entry *o = ch->base, *n = ch->now;

	if (ch->what & CMP_TYPE)
		fprintf(fp, "    type %s -> %s\n", entry_type_name(o->type),
		    entry_type_name(n->type));
	if (ch->what & CMP_CONTENT) {
		report_hex_line(fp, "sha256", o, n);
		fprintf(fp, "    size %" PRIu64 " -> %" PRIu64 "\n", o->size,
		    n->size);
	}
	if (ch->what & CMP_MODE)
		fprintf(fp, "    mode %04o -> %04o\n", (unsigned)o->mode,
		    (unsigned)n->mode);
	if (ch->what & CMP_UID)
		fprintf(fp, "    uid %" PRIu32 " -> %" PRIu32 "\n", o->uid,
		    n->uid);
	if (ch->what & CMP_GID)
		fprintf(fp, "    gid %" PRIu32 " -> %" PRIu32 "\n", o->gid,
		    n->gid);
	if (ch->what & CMP_TARGET) {
		char *a = util_escape(o->target ? o->target : "");
		char *b = util_escape(n->target ? n->target : "");

		fprintf(fp, "    target %s -> %s\n", a, b);
		free(a);
		free(b);
	}
	if (ch->what & CMP_XATTRS)
		fprintf(fp, "    security xattrs changed\n");
	if (ch->what & CMP_NLINK)
		fprintf(fp, "    links %" PRIu32 " -> %" PRIu32 "\n", o->nlink,
		    n->nlink);
}

/* "openssh-server 1:9.2p1-2 -> 1:9.2p1-3 (dpkg)", escaped. */
static void
report_versions(FILE *fp, const struct pkg_label *l)
{
	char *n;

	if (l->name == NULL) {
		n = util_escape(l->database ? l->database : "?");
		fprintf(fp, "database %s (%s)", n, l->manager);
		free(n);
		return;
	}
	n = util_escape(l->name);
	char *a = util_escape(l->previous ? l->previous : "(new)");
	char *b = util_escape(l->version ? l->version : "(removed)");

	if (l->previous != NULL && l->version != NULL &&
	    strcmp(l->previous, l->version) == 0)
		fprintf(fp, "%s %s (%s)", n, b, l->manager);
	else
		fprintf(fp, "%s %s -> %s (%s)", n, a, b, l->manager);
	free(n);
	free(a);
	free(b);
}

static void
report_unverified(FILE *fp, const struct pkg_label *l)
{
	char *why = util_escape(l->why ? l->why : "not vouched for");
	struct pkg_label one = *l;

	fprintf(fp, "    package ");
	if (one.previous == NULL)	/* no baseline version: just this */
		one.previous = one.version;
	report_versions(fp, &one);
	fprintf(fp, ": not verified: %s%s\n", why, l->conffile ?
	    " (a conffile)" : "");
	free(why);
}

static int
report_grouped(const struct change *c)
{
	return c->pkg.manager != NULL && c->pkg.verified;
}

static int
report_streq(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static int
report_same_pkg(const struct pkg_label *a, const struct pkg_label *b)
{
	return report_streq(a->name, b->name) &&
	    report_streq(a->version, b->version) &&
	    report_streq(a->previous, b->previous);
}

/* The changes the package database vouches for, one block per package
 * and versions: "pkg 1.0-1 -> 1.0-2 (dpkg): 4 files, verified". */
static void
report_packages(FILE *fp, const struct changes *ch)
{
	unsigned char *done = xcalloc(ch->n + 1, 1);

	for (size_t i = 0; i < ch->n; i++) {
		size_t n = 0;

		if (done[i] || !report_grouped(&ch->v[i]))
			continue;
		for (size_t j = i; j < ch->n; j++)
			n += report_grouped(&ch->v[j]) &&
			    report_same_pkg(&ch->v[i].pkg, &ch->v[j].pkg);
		fprintf(fp, "package ");
		report_versions(fp, &ch->v[i].pkg);
		fprintf(fp, ": %zu file%s, verified\n", n, n == 1 ? "" : "s");
		for (size_t j = i; j < ch->n; j++) {
			const struct change *c = &ch->v[j];
			char *path;

			if (!report_grouped(c) ||
			    !report_same_pkg(&ch->v[i].pkg, &c->pkg))
				continue;
			done[j] = 1;
			path = util_escape(c->now ? c->now->path :
			    c->base->path);
			fprintf(fp, "    %s %s\n", compare_action_name(c->action),
			    path);
			free(path);
		}
	}
	free(done);
}

static void
report_change(FILE *fp, const struct conf *c, const struct change *ch)
{
	const struct entry *e = ch->now ? ch->now : ch->base;
	char *path = util_escape(e->path);
	int sev, mode;

	report_rule_info(c, e->rule, &sev, &mode);
	fprintf(fp, "%s %s [rule %s, %s]\n",
	    compare_action_name(ch->action), path, e->rule,
	    conf_severity_name(sev));
	free(path);
	if (ch->action == CMP_RENAMED) {
		path = util_escape(ch->base->path);
		fprintf(fp, "    renamed from %s\n", path);
		free(path);
	}
	if (ch->action == CMP_SCAN_FAILED)
		fprintf(fp, "    cannot verify: %s\n", ch->now->error);
	else if (ch->action == CMP_CREATED)
		report_hex_line(fp, "sha256", NULL, ch->now);
	if (ch->base != NULL && ch->now != NULL)
		report_details(fp, ch);
	if (ch->pkg.manager != NULL)
		report_unverified(fp, &ch->pkg);
}

void
report_human(FILE *fp, const struct conf *c, const struct changes *ch,
    size_t nentries)
{
	size_t verified = 0;

	if (ch->n == 0) {
		fprintf(fp, "fimguard check: no changes (%zu entries)\n",
		    nentries);
		return;
	}
	fprintf(fp, "fimguard check: %zu change%s (%zu entries):", ch->n,
	    ch->n == 1 ? "" : "s", nentries);
	for (int a = 0, first = 1; a < CMP_NACTIONS; a++) {
		if (ch->count[a] == 0 && a == CMP_SCAN_FAILED)
			continue;
		fprintf(fp, "%s %zu %s", first ? "" : ",", ch->count[a],
		    compare_action_name(a));
		first = 0;
	}
	for (size_t i = 0; i < ch->n; i++)
		verified += report_grouped(&ch->v[i]);
	if (verified > 0)
		fprintf(fp, "; %zu verified by the package database "
		    "('fimguard approve --packages' accepts them)", verified);
	fputc('\n', fp);
	report_packages(fp, ch);
	for (size_t i = 0; i < ch->n; i++)
		if (!report_grouped(&ch->v[i]))
			report_change(fp, c, &ch->v[i]);
}

static void
report_what(json_object *fg, unsigned what)
{
	json_object *arr = json_object_new_array();

	for (unsigned bit = 1; bit <= CMP_NLINK; bit <<= 1)
		if (what & bit)
			json_object_array_add(arr,
			    json_object_new_string(compare_what_name(bit)));
	json_object_object_add(fg, "changes", arr);
}

/* action NULL: the change's own action. */
json_object *
report_event(const struct conf *c, const struct change *ch,
    const char *dataset, const char *action)
{
	const struct entry *e = ch->now ? ch->now : ch->base;
	const char *act = action ? action : compare_action_name(ch->action);
	json_object *ev = event_new(dataset, act,
	    ch->action == CMP_SCAN_FAILED ? "failure" : "success"), *fg;
	int sev, mode;

	report_rule_info(c, e->rule, &sev, &mode);
	event_file(ev, e);
	event_rule(ev, e->rule, sev, mode);
	fg = event_obj(ev, "fimguard");
	if (action != NULL)
		event_set_str(fg, "change", compare_action_name(ch->action));
	if (ch->base != NULL)
		event_baseline(ev, ch->base);
	if (ch->now == NULL)	/* deleted: no content now */
		json_object_object_del(event_obj(ev, "file"), "hash");
	report_what(fg, ch->what);
	if (ch->action == CMP_RENAMED)
		event_put_path(event_obj(fg, "previous"), "path",
		    ch->base->path);
	if (ch->action == CMP_SCAN_FAILED && ch->now->error)
		event_set_str(fg, "error", ch->now->error);
	if (ch->pkg.manager != NULL)
		report_package(fg, &ch->pkg);
	return ev;
}

/* A string from a package database: valid UTF-8 in every event. */
static void
report_pkg_str(json_object *o, const char *key, const char *val)
{
	char *v;

	if (val == NULL)
		return;
	v = util_utf8_lossy(val);
	event_set_str(o, key, v);
	free(v);
}

/* fimguard.package: manager, name, version, previous_version,
 * verified (and conffile, and why not verified). */
void
report_package(json_object *fg, const struct pkg_label *l)
{
	json_object *p = event_obj(fg, "package");

	report_pkg_str(p, "manager", l->manager);
	report_pkg_str(p, "name", l->name);
	report_pkg_str(p, "version", l->version);
	report_pkg_str(p, "previous_version", l->previous);
	report_pkg_str(p, "database", l->database);
	json_object_object_add(p, "verified",
	    json_object_new_boolean(l->verified));
	if (l->conffile)
		json_object_object_add(p, "conffile",
		    json_object_new_boolean(1));
	if (!l->verified)
		report_pkg_str(p, "reason", l->why);
}

/* An owned file that is not what its package installed (init, check
 * --verify-packages): package-mismatch, with the package's digest and
 * the content's (file.hash.<algo>). */
json_object *
report_mismatch(const struct conf *c, const struct entry *e,
    const struct pkg_label *l, const char *expected, const char *dataset)
{
	json_object *ev = event_new(dataset, "package-mismatch", "failure");
	json_object *fg = event_obj(ev, "fimguard"), *p;
	const char *colon;
	int sev, mode;

	report_rule_info(c, e->rule, &sev, &mode);
	event_file(ev, e);
	event_rule(ev, e->rule, sev, mode);
	report_package(fg, l);
	p = event_obj(fg, "package");
	report_pkg_str(p, "digest", expected);
	if (e->pkgsum != NULL && (colon = strchr(e->pkgsum, ':')) != NULL) {
		char *algo = xstrndup(e->pkgsum, (size_t)(colon - e->pkgsum));

		event_set_str(event_obj(event_obj(ev, "file"), "hash"), algo,
		    colon + 1);
		free(algo);
	}
	return ev;
}

/* Its line in a human report. */
void
report_mismatch_human(FILE *fp, const struct conf *c, const struct entry *e,
    const struct pkg_label *l)
{
	char *path = util_escape(e->path);
	int sev, mode;

	report_rule_info(c, e->rule, &sev, &mode);
	fprintf(fp, "package-mismatch %s [rule %s, %s]\n", path, e->rule,
	    conf_severity_name(sev));
	report_unverified(fp, l);
	free(path);
}

/* Up to DIFF_MAX_INPUT bytes of fd from offset 0 (malloc'd), or NULL
 * if larger or unreadable. */
static char *
report_slurp(int fd, size_t *n)
{
	char *buf = xmalloc(DIFF_MAX_INPUT + 1);
	ssize_t r;

	*n = 0;
	while (*n <= DIFF_MAX_INPUT &&
	    (r = pread(fd, buf + *n, DIFF_MAX_INPUT + 1 - *n,
	    (off_t)*n)) > 0)
		*n += (size_t)r;
	if (*n > DIFF_MAX_INPUT) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* fimguard.diff: the unified diff from the trusted content (vault) to
 * what fd holds now, for rules with diff = yes, when both are text. */
void
report_add_diff(json_object *ev, const char *vault, const struct entry *b,
    int fd)
{
	char *vp, *old = NULL, *new = NULL, *d = NULL, *why = NULL;
	size_t on = 0, nn = 0;
	int vfd;

	if (b == NULL || !b->vault || !b->has_sha || vault == NULL)
		return;
	vp = vault_path(vault, b->sha);
	vfd = file_open(vp, O_RDONLY | O_NOFOLLOW, 0, &why);
	free(why);
	free(vp);
	if (vfd < 0)
		return;
	old = report_slurp(vfd, &on);
	close(vfd);
	new = report_slurp(fd, &nn);
	if (old != NULL && new != NULL && diff_is_text(old, on) &&
	    diff_is_text(new, nn) &&
	    (d = diff_unified(old, on, new, nn, "baseline", "now")) != NULL)
		event_set_str(event_obj(ev, "fimguard"), "diff", d);
	free(d);
	free(old);
	free(new);
}

/* For a modified file whose rule asks for it (check, and the monitor's
 * start-up reconciliation): the diff, read through a fresh descriptor
 * (never following a link; any depth). */
void
report_change_diff(json_object *ev, const struct conf *c,
    const struct state *s, const struct change *ch)
{
	char *vault;
	int fd;

	if (ch->action != CMP_MODIFIED || ch->now->type != ENTRY_FILE)
		return;
	for (size_t r = 0; r < c->nrules; r++)
		if (strcmp(c->rules[r].name, ch->now->rule) == 0 &&
		    !c->rules[r].diff)
			return;
	fd = fdpath_openat(ch->now->path, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY, NULL, NULL, NULL);
	if (fd < 0)
		return;
	vault = state_path(s, "vault");
	report_add_diff(ev, vault, ch->base, fd);
	free(vault);
	close(fd);
}
