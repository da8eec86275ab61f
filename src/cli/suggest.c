/* fimguard suggest: before a rule moves from audit to enforce, which
 * executables wrote its files while it was in audit mode (write-allowed
 * opens and the modified events that carry the writer), how often and
 * when last, and a `writers =` line to paste into the rule.
 *
 * Interpreters and shells are never put on that line: allowing
 * /usr/bin/python3 allows every script it runs. They are listed with a
 * warning instead, as are writers outside /usr (a package-managed
 * executable lives under /usr; one elsewhere deserves a look). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/events.h"
#include "core/cmd.h"
#include "core/log.h"
#include "core/util.h"

#define SUGGEST_RULES_MAX	4096
#define SUGGEST_EXES_MAX	4096	/* per rule; the rest is counted */

struct suggest_exe {
	char		*exe;
	unsigned long	 opens, changes;
	int64_t		 last_ms;
	int		 odd;	/* a control byte (shown as '?') */
};

struct suggest_rule {
	char		*name;
	struct suggest_exe *exes;
	size_t		 n;
	unsigned long	 dropped;	/* past SUGGEST_EXES_MAX */
};

struct suggest {
	const char	*only;		/* --rule */
	int64_t		 since_ms;
	struct suggest_rule *rules;
	size_t		 n;
	unsigned long	 used;
};

/* Names (the executable's, after /proc/<pid>/exe resolved links) of
 * programs that run whatever they are given: shells, language
 * interpreters, and launchers that exec an argument. A name matches
 * exactly or followed by a version (python3.11, perl5.36.0, lua5.4). */
static const char *suggest_interpreters[] = { "sh", "bash", "dash", "zsh",
	"ksh", "ksh93", "mksh", "csh", "tcsh", "fish", "ash", "busybox",
	"python", "pypy", "perl", "ruby", "php", "node", "nodejs", "lua",
	"luajit", "tclsh", "wish", "awk", "gawk", "mawk", "nawk", "env",
	"xargs", "sudo", "su", "doas", "run-parts", "osascript", "expect",
	"guile", "R", "Rscript", "java", "bun", "deno" };

static int
suggest_is_interpreter(const char *exe)
{
	const char *b = strrchr(exe, '/');

	b = b ? b + 1 : exe;
	for (size_t i = 0; i < sizeof(suggest_interpreters) /
	    sizeof(suggest_interpreters[0]); i++) {
		size_t n = strlen(suggest_interpreters[i]);

		if (strncmp(b, suggest_interpreters[i], n) == 0 &&
		    strspn(b + n, "0123456789.") == strlen(b + n))
			return 1;
	}
	return 0;
}

/* What can go on the writers line: no interpreter, no blank (the
 * grammar splits a list on blanks), no control byte. */
static int
suggest_proposable(const struct suggest_exe *e)
{
	return !e->odd && !suggest_is_interpreter(e->exe) &&
	    strpbrk(e->exe, " \t") == NULL;
}

static const char *
suggest_str(json_object *ev, const char *a, const char *b)
{
	json_object *x;

	if (!json_object_object_get_ex(ev, a, &x) ||
	    !json_object_object_get_ex(x, b, &x))
		return NULL;
	return json_object_get_string(x);
}

static struct suggest_rule *
suggest_rule(struct suggest *s, const char *name)
{
	struct suggest_rule *r;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->rules[i].name, name) == 0)
			return &s->rules[i];
	if (s->n >= SUGGEST_RULES_MAX)
		return NULL;
	s->rules = xreallocarray(s->rules, s->n + 1, sizeof(*s->rules));
	r = &s->rules[s->n++];
	memset(r, 0, sizeof(*r));
	r->name = xstrdup(name);
	return r;
}

static struct suggest_exe *
suggest_exe(struct suggest_rule *r, const char *exe)
{
	struct suggest_exe *e;

	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->exes[i].exe, exe) == 0)
			return &r->exes[i];
	if (r->n >= SUGGEST_EXES_MAX) {
		r->dropped++;
		return NULL;
	}
	r->exes = xreallocarray(r->exes, r->n + 1, sizeof(*r->exes));
	e = &r->exes[r->n++];
	memset(e, 0, sizeof(*e));
	e->exe = xstrdup(exe);
	/* never a control byte on the terminal, nor on the writers line */
	if ((e->odd = util_has_control(exe)))
		util_flatten_controls(e->exe);
	return e;
}

/* Audit mode only: an enforce rule's writes are already decided. */
static int
suggest_one(void *arg, json_object *ev, const char *line, size_t len)
{
	struct suggest *s = arg;
	const char *action = suggest_str(ev, "event", "action"),
	    *mode = suggest_str(ev, "fimguard", "mode"),
	    *rule = suggest_str(ev, "rule", "name"),
	    *exe = suggest_str(ev, "process", "executable");
	int64_t t = events_time_ms(ev);
	struct suggest_rule *r;
	struct suggest_exe *e;

	(void)line;
	(void)len;
	if (action == NULL || mode == NULL || rule == NULL || exe == NULL ||
	    *exe != '/' || strcmp(mode, "audit") != 0 || t < s->since_ms ||
	    (s->only != NULL && strcmp(s->only, rule) != 0) ||
	    (strcmp(action, "write-allowed") != 0 &&
	    strcmp(action, "modified") != 0))
		return 0;
	if ((r = suggest_rule(s, rule)) == NULL || (e = suggest_exe(r,
	    exe)) == NULL)
		return 0;
	if (strcmp(action, "write-allowed") == 0)
		e->opens++;
	else
		e->changes++;
	if (t > e->last_ms)
		e->last_ms = t;
	s->used++;
	return 0;
}

static int
suggest_cmp(const void *a, const void *b)
{
	const struct suggest_exe *x = a, *y = b;
	unsigned long nx = x->opens + x->changes, ny = y->opens + y->changes;

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(x->exe, y->exe);
}

static void
suggest_time(int64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static void
suggest_print_rule(struct suggest_rule *r)
{
	char when[32];
	size_t ok = 0;

	qsort(r->exes, r->n, sizeof(*r->exes), suggest_cmp);
	printf("[rule %s]\n  %7s %7s  %-19s  %s\n", r->name, "opens",
	    "changes", "last seen", "executable");
	for (size_t i = 0; i < r->n; i++) {
		struct suggest_exe *e = &r->exes[i];

		suggest_time(e->last_ms, when, sizeof(when));
		printf("  %7lu %7lu  %-19s  %s\n", e->opens, e->changes, when,
		    e->exe);
		ok += suggest_proposable(e);
	}
	if (r->dropped > 0)
		printf("  (%lu more events from other executables not "
		    "listed)\n", r->dropped);
	for (size_t i = 0; i < r->n; i++)
		if (suggest_is_interpreter(r->exes[i].exe))
			printf("  warning: %s is an interpreter or shell: "
			    "allowing it allows anything it runs; not "
			    "proposed (find the script in the events' "
			    "process.args)\n", r->exes[i].exe);
	for (size_t i = 0; i < r->n; i++)
		if (strncmp(r->exes[i].exe, "/usr/", 5) != 0)
			printf("  note: %s is outside /usr (not installed by "
			    "a package?): %lu writes\n", r->exes[i].exe,
			    r->exes[i].opens + r->exes[i].changes);
	if (ok == 0) {
		printf("  no writer to propose\n\n");
		return;
	}
	printf("writers =");
	for (size_t i = 0; i < r->n; i++)
		if (suggest_proposable(&r->exes[i]))
			printf(" %s", r->exes[i].exe);
	printf("\n\n");
}

int
cmd_suggest(const struct cmd_opts *o)
{
	struct suggest s = { .only = o->rule };
	char *path;

	if ((path = events_begin(o, &s.since_ms)) == NULL)
		return EXIT_USAGE;
	events_read(path, 0, suggest_one, &s);
	if (s.n == 0)
		printf("no audit-mode writes%s%s in %s%s\n", o->rule ?
		    " for rule " : "", o->rule ? o->rule : "", path,
		    o->since ? " in that time" : "");
	for (size_t i = 0; i < s.n; i++) {
		suggest_print_rule(&s.rules[i]);
		for (size_t j = 0; j < s.rules[i].n; j++)
			free(s.rules[i].exes[j].exe);
		free(s.rules[i].exes);
		free(s.rules[i].name);
	}
	free(s.rules);
	free(path);
	return EXIT_OK;
}
