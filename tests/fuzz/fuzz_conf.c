/* Fuzz target: the config/policy parser. The input is parsed as a
 * config file and as a policy file (through fmemopen, as conf_load
 * reads files), then validated; and twice into one conf, as two policy
 * files with the same rules would be. Beyond what the sanitizers
 * catch, the parsed result is checked against the grammar's promises:
 * every error is "FILE:LINE: ...", stored paths are absolute, rule and
 * section names are valid, no section holds a key twice. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "fuzz.h"

#define FNAME	"fuzz.conf"

static void
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_conf: %s: %s\n", what, detail ? detail : "");
	abort();
}

static void
check_error(const char *err, int maxline)
{
	const char *p = err;
	long line;
	char *end;

	/* the second stream of the double parse is named FNAME too */
	if (strncmp(p, FNAME ":", strlen(FNAME ":")) != 0)
		fuzz_fail("error without file name", err);
	p += strlen(FNAME ":");
	if (!isdigit((unsigned char)*p))
		fuzz_fail("error without line number", err);
	line = strtol(p, &end, 10);
	if (line < 1 || line > maxline || strncmp(end, ": ", 2) != 0 ||
	    end[2] == '\0')
		fuzz_fail("bad error location", err);
}

static void
check_paths(const struct strlist *l, const char *what)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i][0] != '/')
			fuzz_fail(what, l->v[i]);
}

static void
check_conf(const struct conf *c, int kind, int maxline)
{
	for (size_t i = 0; i < c->errors.n; i++)
		check_error(c->errors.v[i], maxline);
	if (kind == CONF_KIND_POLICY && c->nsections != 0)
		fuzz_fail("section in a policy file", c->sections[0].name);
	if (kind == CONF_KIND_CONFIG && c->nrules != 0)
		fuzz_fail("rule in a config file", c->rules[0].name);
	if (c->mode < CONF_MODE_UNSET || c->mode > CONF_MODE_ENFORCE)
		fuzz_fail("bad global mode", NULL);
	if (c->events && c->events[0] != '/')
		fuzz_fail("relative events", c->events);
	if (c->state_dir && c->state_dir[0] != '/')
		fuzz_fail("relative state_dir", c->state_dir);
	if (c->policy_dir && c->policy_dir[0] != '/')
		fuzz_fail("relative policy_dir", c->policy_dir);
	for (size_t i = 0; i < c->nrules; i++) {
		const struct conf_rule *r = &c->rules[i];

		if (r->name[0] == '\0')
			fuzz_fail("empty rule name", NULL);
		for (const char *p = r->name; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
				fuzz_fail("bad rule name", r->name);
		for (size_t k = 0; k < i; k++)
			if (strcmp(c->rules[k].name, r->name) == 0)
				fuzz_fail("duplicate rule kept", r->name);
		check_paths(&r->paths, "relative path in rule");
		check_paths(&r->writers, "relative writer in rule");
		if (r->severity < CONF_SEV_UNSET ||
		    r->severity > CONF_SEV_CRITICAL ||
		    r->mode < CONF_MODE_UNSET || r->mode > CONF_MODE_ENFORCE ||
		    (r->recursive | r->diff | r->restore) > 1)
			fuzz_fail("rule field out of range", r->name);
		if (r->line < 1 || r->line > maxline)
			fuzz_fail("rule line out of range", r->name);
		(void)conf_rule_mode(c, r);
	}
	for (size_t i = 0; i < c->nsections; i++) {
		const struct conf_section *s = &c->sections[i];

		if (strcmp(s->name, "jira") != 0 &&
		    strcmp(s->name, "smtp") != 0 &&
		    strcmp(s->name, "webhook") != 0 &&
		    strcmp(s->name, "syslog") != 0)
			fuzz_fail("unknown section kept", s->name);
		if (s->keys.n != s->values.n)
			fuzz_fail("keys and values differ", s->name);
		for (size_t k = 0; k < s->keys.n; k++) {
			if (s->values.v[k][0] == '\0')
				fuzz_fail("empty value kept", s->keys.v[k]);
			for (size_t j = 0; j < k; j++)
				if (strcmp(s->keys.v[j], s->keys.v[k]) == 0)
					fuzz_fail("duplicate key kept",
					    s->keys.v[k]);
			if (conf_section_get(c, s->name, s->keys.v[k]) !=
			    s->values.v[k])
				fuzz_fail("conf_section_get", s->keys.v[k]);
		}
	}
}

static int
parse(struct conf *c, const uint8_t *data, size_t size, int kind)
{
	FILE *fp = fmemopen((void *)(uintptr_t)data, size, "r");
	int n;

	if (fp == NULL)
		return -1;
	n = conf_parse(c, fp, FNAME, (enum conf_kind)kind);
	fclose(fp);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int kinds[] = { CONF_KIND_CONFIG, CONF_KIND_POLICY };
	int maxline = 1;

	for (size_t i = 0; i < size; i++)
		maxline += data[i] == '\n';
	for (size_t k = 0; k < 2; k++) {
		struct conf c;
		size_t before;
		int n;

		conf_init(&c);
		if ((n = parse(&c, data, size, kinds[k])) < 0)
			return 0;
		if ((size_t)n != c.errors.n)
			fuzz_fail("conf_parse count", NULL);
		before = c.errors.n;
		if ((size_t)conf_validate(&c) != c.errors.n - before)
			fuzz_fail("conf_validate count", NULL);
		check_conf(&c, kinds[k], maxline);

		/* the same text again: every rule is now a duplicate */
		if (kinds[k] == CONF_KIND_POLICY) {
			size_t nrules = c.nrules;

			parse(&c, data, size, kinds[k]);
			if (c.nrules != nrules)
				fuzz_fail("duplicate rules added", NULL);
			check_conf(&c, kinds[k], maxline);
		}
		conf_free(&c);
	}
	return 0;
}
