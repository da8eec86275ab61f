/* The config and policy parser. Both files share one line grammar:
 *   # comment            (whole line, or '#' after white space)
 *   [section] / [rule NAME]
 *   key = value          (values are word lists; "quotes" keep spaces)
 * Every error is collected as "FILE:LINE: message" so that one run of
 * `fimguard policy check` shows all of them; nothing is ignored. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "core/file.h"
#include "core/log.h"

#define CONF_LINE_MAX	65536

enum conf_vtype {
	V_ENUM,		/* one word from a fixed list */
	V_BOOL,		/* yes | no */
	V_PATH,		/* one absolute path */
	V_PATHS,	/* absolute paths, globs allowed */
	V_GLOBS,	/* glob patterns */
	V_WORD,		/* one word */
	V_WORDS,	/* one or more words */
	V_URL,		/* one URL with a scheme from the enum list */
	V_ENVNAME,	/* an environment variable name */
	V_UINT,		/* a whole number from 1 to 100000 */
	V_HEADER,	/* one mail address (From:) */
	V_ADDRS,	/* mail addresses (To:) */
	V_SIZE,		/* bytes, with K, M, G or T (powers of 1024), or none */
};

enum conf_scope { SC_GLOBAL, SC_RULE, SC_JIRA, SC_SMTP, SC_WEBHOOK,
	SC_SYSLOG, SC_NONE, SC_SINKS /* any of the sink sections */ };

struct conf_key {
	int		 scope;
	const char	*key;
	int		 type;
	const char	*choices;	/* "a|b": V_ENUM values, V_URL schemes */
	size_t		 off;		/* into conf or conf_rule; 0 = section */
};

#define R(f)	offsetof(struct conf_rule, f)
#define G(f)	offsetof(struct conf, f)

static const struct conf_key conf_keys[] = {
	{ SC_GLOBAL, "mode", V_ENUM, "audit|enforce", G(mode) },
	{ SC_GLOBAL, "events", V_PATH, NULL, G(events) },
	{ SC_GLOBAL, "unknown_intent", V_ENUM, "deny|allow", G(unknown_intent) },
	{ SC_GLOBAL, "state_dir", V_PATH, NULL, G(state_dir) },
	{ SC_GLOBAL, "policy_dir", V_PATH, NULL, G(policy_dir) },
	{ SC_GLOBAL, "vault_max_size", V_SIZE, NULL, G(vault_max) },
	{ SC_GLOBAL, "repeat_interval", V_UINT, NULL, G(repeat_interval) },
	/* the package database changes are checked against */
	{ SC_GLOBAL, "packages", V_ENUM, "auto|dpkg|rpm|none", G(packages) },
	{ SC_GLOBAL, "package_root", V_PATH, NULL, G(package_root) },
	{ SC_GLOBAL, "package_hook", V_ENUM, "yes|no", G(package_hook) },
	{ SC_GLOBAL, "package_quiet", V_UINT, NULL, G(package_quiet) },
	{ SC_RULE, "paths", V_PATHS, NULL, R(paths) },
	{ SC_RULE, "recursive", V_BOOL, NULL, R(recursive) },
	{ SC_RULE, "exclude", V_GLOBS, NULL, R(exclude) },
	{ SC_RULE, "mode", V_ENUM, "audit|enforce", R(mode) },
	{ SC_RULE, "severity", V_ENUM, "low|medium|high|critical", R(severity) },
	{ SC_RULE, "writers", V_PATHS, NULL, R(writers) },
	{ SC_RULE, "diff", V_BOOL, NULL, R(diff) },
	{ SC_RULE, "restore", V_BOOL, NULL, R(restore) },
	{ SC_RULE, "truncate", V_ENUM, "allow|deny", R(truncate) },
	{ SC_RULE, "new_files", V_ENUM, "report|quarantine", R(new_files) },
	{ SC_JIRA, "url", V_URL, "https|http", 0 },
	{ SC_JIRA, "api", V_ENUM, "2|3", 0 },
	{ SC_JIRA, "project", V_WORD, NULL, 0 },
	{ SC_JIRA, "issue_type", V_WORD, NULL, 0 },
	{ SC_JIRA, "user", V_WORD, NULL, 0 },
	{ SC_JIRA, "token_env", V_ENVNAME, NULL, 0 },
	{ SC_JIRA, "token_file", V_PATH, NULL, 0 },
	{ SC_JIRA, "token_credential", V_WORD, NULL, 0 },
	{ SC_JIRA, "ca_file", V_PATH, NULL, 0 },
	{ SC_JIRA, "labels", V_WORDS, NULL, 0 },
	{ SC_JIRA, "priority_low", V_WORD, NULL, 0 },
	{ SC_JIRA, "priority_medium", V_WORD, NULL, 0 },
	{ SC_JIRA, "priority_high", V_WORD, NULL, 0 },
	{ SC_JIRA, "priority_critical", V_WORD, NULL, 0 },
	{ SC_SMTP, "url", V_URL, "smtp|smtps", 0 },
	{ SC_SMTP, "starttls", V_ENUM, "required|no", 0 },
	{ SC_SMTP, "from", V_HEADER, NULL, 0 },
	{ SC_SMTP, "to", V_ADDRS, NULL, 0 },
	{ SC_SMTP, "user", V_WORD, NULL, 0 },
	{ SC_SMTP, "password_env", V_ENVNAME, NULL, 0 },
	{ SC_SMTP, "password_file", V_PATH, NULL, 0 },
	{ SC_SMTP, "password_credential", V_WORD, NULL, 0 },
	{ SC_SMTP, "ca_file", V_PATH, NULL, 0 },
	{ SC_WEBHOOK, "url", V_URL, "https|http", 0 },
	/* a Slack or Teams webhook URL is itself the secret */
	{ SC_WEBHOOK, "url_env", V_ENVNAME, NULL, 0 },
	{ SC_WEBHOOK, "url_file", V_PATH, NULL, 0 },
	{ SC_WEBHOOK, "url_credential", V_WORD, NULL, 0 },
	{ SC_WEBHOOK, "token_env", V_ENVNAME, NULL, 0 },
	{ SC_WEBHOOK, "token_file", V_PATH, NULL, 0 },
	{ SC_WEBHOOK, "token_credential", V_WORD, NULL, 0 },
	{ SC_WEBHOOK, "ca_file", V_PATH, NULL, 0 },
	{ SC_SYSLOG, "url", V_URL, "relp|tcp|tls|unix", 0 },
	{ SC_SYSLOG, "ca_file", V_PATH, NULL, 0 },
	{ SC_SYSLOG, "facility", V_ENUM, "kern|user|mail|daemon|auth|syslog|"
	    "lpr|news|uucp|cron|authpriv|ftp|local0|local1|local2|local3|"
	    "local4|local5|local6|local7", 0 },
	{ SC_SYSLOG, "max_size", V_UINT, NULL, 0 },
	/* every sink: which events alert, how many a minute, how long */
	{ SC_SINKS, "actions", V_WORDS, NULL, 0 },
	{ SC_SINKS, "min_severity", V_ENUM, "low|medium|high|critical", 0 },
	{ SC_SINKS, "rate", V_UINT, NULL, 0 },
	{ SC_SINKS, "timeout", V_UINT, NULL, 0 },
	/* command lines can hold secrets: sent only when asked for */
	{ SC_SINKS, "args", V_BOOL, NULL, 0 },
	/* ready entries a sink may have in the spool; past it, a digest */
	{ SC_SINKS, "spool_max", V_UINT, NULL, 0 },
	/* package changes the package database vouches for: sent too */
	{ SC_SINKS, "send_verified", V_BOOL, NULL, 0 },
};

static const char *conf_scope_names[] = {
	"global settings", "rule", "[jira]", "[smtp]", "[webhook]", "[syslog]",
	""
};

/* Parser state for one stream. */
struct conf_pstate {
	struct conf	*conf;
	const char	*fname;
	int		 kind;
	int		 lineno;
	int		 scope;
	struct conf_rule *rule;		/* current rule, SC_RULE only */
	struct conf_section *section;	/* current sink, SC_JIRA.. */
	struct strlist	 seen;		/* keys seen in this section */
};

void
conf_init(struct conf *c)
{
	memset(c, 0, sizeof(*c));
}

static void
conf_rule_free(struct conf_rule *r)
{
	free(r->name);
	free(r->file);
	strlist_free(&r->paths);
	strlist_free(&r->exclude);
	strlist_free(&r->writers);
}

void
conf_free(struct conf *c)
{
	for (size_t i = 0; i < c->nrules; i++)
		conf_rule_free(&c->rules[i]);
	for (size_t i = 0; i < c->nsections; i++) {
		free(c->sections[i].name);
		free(c->sections[i].file);
		strlist_free(&c->sections[i].keys);
		strlist_free(&c->sections[i].values);
	}
	free(c->rules);
	free(c->sections);
	free(c->events);
	free(c->state_dir);
	free(c->policy_dir);
	free(c->package_root);
	strlist_free(&c->errors);
	strlist_free(&c->files);
	memset(c, 0, sizeof(*c));
}

static void __attribute__((format(printf, 2, 3)))
conf_error(struct conf_pstate *ps, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatalx("out of memory");
	va_end(ap);
	strlist_push_owned(&ps->conf->errors,
	    xasprintf("%s:%d: %s", ps->fname, ps->lineno, msg));
	free(msg);
}

/* Cut a trailing comment: '#' outside quotes, at the start of the line
 * or after white space (so "a#b" stays a value). */
static void
conf_strip_comment(char *line)
{
	int quoted = 0;

	for (char *p = line; *p; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '#' &&
		    (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

static char *
conf_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Split a value into words. Returns 0, or -1 on an unterminated quote. */
static int
conf_split(const char *val, struct strlist *out)
{
	const char *p = val;

	for (;;) {
		char *w, *o;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			return 0;
		w = o = xmalloc(strlen(p) + 1);
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0') {
					free(w);
					return -1;
				}
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				*o++ = *p;
			}
			p++;
		} else {
			while (*p && !isspace((unsigned char)*p))
				*o++ = *p++;
		}
		*o = '\0';
		strlist_push_owned(out, w);
	}
}

static int
conf_choice(const char *choices, const char *word)
{
	size_t n = strlen(word);
	int idx = 1;

	for (const char *p = choices; *p; idx++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, word, n) == 0)
			return idx;
		p += len + (bar != NULL);
	}
	return 0;
}

static char *
conf_expected(const char *choices)
{
	char *s = xmalloc(3 * strlen(choices) + 1), *o = s;

	for (const char *p = choices; *p; p++) {
		if (*p == '|') {
			memcpy(o, " | ", 3);
			o += 3;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return s;
}

static void
conf_bad_value(struct conf_pstate *ps, const char *key, const char *val,
    const char *expect)
{
	conf_error(ps, "invalid value '%s' for '%s' (expected %s)", val, key,
	    expect);
}

static int
conf_check_url(const struct conf_key *k, const char *w)
{
	const char *colon = strstr(w, "://");
	char *scheme;
	int ok;

	if (colon == NULL || colon[3] == '\0')
		return 0;
	/* user:password@host would put a secret where logs show URLs */
	if (memchr(colon + 3, '@', strcspn(colon + 3, "/?#")) != NULL)
		return 0;
	scheme = xstrndup(w, (size_t)(colon - w));
	ok = conf_choice(k->choices, scheme) != 0;
	free(scheme);
	return ok;
}

static int
conf_check_envname(const char *w)
{
	if (!(isupper((unsigned char)*w) || *w == '_'))
		return 0;
	for (; *w; w++)
		if (!(isupper((unsigned char)*w) || isdigit((unsigned char)*w)
		    || *w == '_'))
			return 0;
	return 1;
}

/* "64M" -> 67108864; "none" -> UINT64_MAX. Returns -1 if malformed or
 * 0 (a rule that wants no vault copy says diff = no, restore = no). */
static int
conf_size(const char *w, uint64_t *out)
{
	static const char units[] = "KMGT";
	size_t digits = strspn(w, "0123456789");
	const char *u = NULL;
	uint64_t v = 0;
	int shift = 0;

	if (strcmp(w, "none") == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	if (digits == 0 || digits > 15 || (w[digits] != '\0' &&
	    (w[digits + 1] != '\0' || (u = strchr(units, w[digits])) == NULL)))
		return -1;
	if (w[digits] != '\0')
		shift = 10 * (int)(u - units + 1);
	for (size_t i = 0; i < digits; i++)
		v = v * 10 + (uint64_t)(w[i] - '0');
	if (v == 0 || v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

/* Validate every word of a value against its type; report the first
 * bad word. Returns 0 when the value is acceptable. */
static int
conf_check_words(struct conf_pstate *ps, const struct conf_key *k,
    struct strlist *w)
{
	int single = k->type != V_PATHS && k->type != V_GLOBS &&
	    k->type != V_WORDS && k->type != V_ADDRS;
	char *exp, *msg;

	if (single && w->n > 1) {
		conf_error(ps, "'%s' takes one value, got %zu", k->key, w->n);
		return -1;
	}
	for (size_t i = 0; i < w->n; i++) {
		const char *v = w->v[i];

		switch (k->type) {
		case V_ENUM:
			if (conf_choice(k->choices, v))
				break;
			exp = conf_expected(k->choices);
			conf_bad_value(ps, k->key, v, exp);
			free(exp);
			return -1;
		case V_BOOL:
			if (conf_choice("yes|no", v))
				break;
			conf_bad_value(ps, k->key, v, "yes | no");
			return -1;
		case V_PATH:
		case V_PATHS:
			if (v[0] == '/')
				break;
			conf_error(ps, "path '%s' is not absolute", v);
			return -1;
		case V_URL:
			if (conf_check_url(k, v))
				break;
			/* user:password@ (or anything that may be one) is
			 * a secret: the message must not repeat it */
			if (strchr(v, '@') != NULL) {
				conf_error(ps, "invalid value for '%s' (not "
				    "shown: a URL must not hold "
				    "user:password@)", k->key);
				return -1;
			}
			exp = conf_expected(k->choices);
			msg = xasprintf("a %s URL", exp);
			conf_bad_value(ps, k->key, v, msg);
			free(msg);
			free(exp);
			return -1;
		case V_ENVNAME:
			if (conf_check_envname(v))
				break;
			conf_bad_value(ps, k->key, v,
			    "an environment variable name");
			return -1;
		case V_UINT:
			if (v[strspn(v, "0123456789")] == '\0' &&
			    strlen(v) <= 6 && atol(v) >= 1 &&
			    atol(v) <= 100000)
				break;
			conf_bad_value(ps, k->key, v,
			    "a whole number from 1 to 100000");
			return -1;
		case V_SIZE:
			if (conf_size(v, &(uint64_t){ 0 }) == 0)
				break;
			conf_bad_value(ps, k->key, v, "a size above 0 such "
			    "as 64M (K, M, G, T: powers of 1024), or none");
			return -1;
		case V_HEADER:
		case V_ADDRS:
			/* a mail address goes into From: and MAIL FROM */
			if (strchr(v, '@') != NULL && strpbrk(v, "<>,\"") ==
			    NULL && !util_has_control(v))
				break;
			conf_bad_value(ps, k->key, v, "a mail address");
			return -1;
		default:
			break;
		}
	}
	return 0;
}

static const struct conf_key *
conf_find_key(int scope, const char *key)
{
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if ((conf_keys[i].scope == scope ||
		    (conf_keys[i].scope == SC_SINKS && (scope == SC_JIRA ||
		    scope == SC_SMTP || scope == SC_WEBHOOK ||
		    scope == SC_SYSLOG))) &&
		    strcmp(conf_keys[i].key, key) == 0)
			return &conf_keys[i];
	return NULL;
}

static void
conf_store(struct conf_pstate *ps, const struct conf_key *k,
    struct strlist *w, const char *raw)
{
	char *base = ps->scope == SC_RULE ? (char *)ps->rule :
	    (char *)ps->conf;

	if (ps->section != NULL) {
		strlist_push(&ps->section->keys, k->key);
		strlist_push(&ps->section->values, raw);
		return;
	}
	switch (k->type) {
	case V_ENUM:
		*(int *)(base + k->off) = conf_choice(k->choices, w->v[0]);
		break;
	case V_BOOL:
		*(int *)(base + k->off) = strcmp(w->v[0], "yes") == 0;
		break;
	case V_PATH:
		free(*(char **)(base + k->off));
		*(char **)(base + k->off) = xstrdup(w->v[0]);
		break;
	case V_SIZE:
		conf_size(w->v[0], (uint64_t *)(base + k->off));
		break;
	case V_UINT:	/* checked: 1 to 100000 */
		*(int *)(base + k->off) = atoi(w->v[0]);
		break;
	default:	/* lists: take ownership of the words */
		*(struct strlist *)(base + k->off) = *w;
		memset(w, 0, sizeof(*w));
		break;
	}
}

static void
conf_key_line(struct conf_pstate *ps, char *line, char *eq)
{
	struct strlist words = { 0 };
	const struct conf_key *k;
	char *key, *val;

	*eq = '\0';
	key = conf_trim(line);
	val = conf_trim(eq + 1);
	if (*key == '\0') {
		conf_error(ps, "expected 'key = value', '[section]' or "
		    "'[rule NAME]'");
		return;
	}
	if (ps->scope == SC_NONE)
		return;		/* inside a bad header: already reported */
	if (ps->scope == SC_GLOBAL && ps->kind == CONF_KIND_POLICY) {
		conf_error(ps, "key '%s' outside of a rule", key);
		return;
	}
	k = conf_find_key(ps->scope, key);
	if (k == NULL) {
		if (ps->scope == SC_RULE)
			conf_error(ps, "unknown key '%s' in [rule %s]", key,
			    ps->rule->name);
		else
			conf_error(ps, "unknown key '%s' in %s", key,
			    conf_scope_names[ps->scope]);
		return;
	}
	for (size_t i = 0; i < ps->seen.n; i++)
		if (strcmp(ps->seen.v[i], key) == 0) {
			conf_error(ps, "duplicate key '%s'", key);
			return;
		}
	strlist_push(&ps->seen, key);
	if (ps->rule != NULL && strcmp(key, "paths") == 0)
		ps->rule->paths_given = 1;	/* no second error later */
	if (conf_split(val, &words) < 0)
		conf_error(ps, "unterminated quote");
	else if (words.n == 0)
		conf_error(ps, "empty value for '%s'", key);
	else if (conf_check_words(ps, k, &words) == 0)
		conf_store(ps, k, &words, val);
	strlist_free(&words);
}

static int
conf_valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return 0;
	return 1;
}

static void
conf_rule_header(struct conf_pstate *ps, const char *name)
{
	struct conf *c = ps->conf;
	struct conf_rule *r;

	ps->scope = SC_NONE;
	if (ps->kind != CONF_KIND_POLICY) {
		conf_error(ps, "section '[rule %s]' is not allowed in the "
		    "config file", name);
		return;
	}
	if (!conf_valid_name(name)) {
		conf_error(ps, "invalid rule name '%s' (use letters, digits, "
		    "'_', '.', '-')", name);
		return;
	}
	for (size_t i = 0; i < c->nrules; i++)
		if (strcmp(c->rules[i].name, name) == 0) {
			conf_error(ps, "duplicate rule '%s' (first defined at "
			    "%s:%d)", name, c->rules[i].file,
			    c->rules[i].line);
			return;
		}
	c->rules = xreallocarray(c->rules, c->nrules + 1, sizeof(*c->rules));
	r = &c->rules[c->nrules++];
	memset(r, 0, sizeof(*r));
	r->name = xstrdup(name);
	r->file = xstrdup(ps->fname);
	r->line = ps->lineno;
	ps->rule = r;
	ps->scope = SC_RULE;
}

static void
conf_sink_header(struct conf_pstate *ps, const char *name, int scope)
{
	struct conf *c = ps->conf;
	struct conf_section *s;

	ps->scope = SC_NONE;
	if (ps->kind != CONF_KIND_CONFIG) {
		conf_error(ps, "section '[%s]' is not allowed in a policy "
		    "file", name);
		return;
	}
	for (size_t i = 0; i < c->nsections; i++)
		if (strcmp(c->sections[i].name, name) == 0) {
			conf_error(ps, "duplicate section '[%s]' (first "
			    "defined at %s:%d)", name, c->sections[i].file,
			    c->sections[i].line);
			return;
		}
	c->sections = xreallocarray(c->sections, c->nsections + 1,
	    sizeof(*c->sections));
	s = &c->sections[c->nsections++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	s->file = xstrdup(ps->fname);
	s->line = ps->lineno;
	ps->section = s;
	ps->scope = scope;
}

static void
conf_header_line(struct conf_pstate *ps, char *line)
{
	size_t n = strlen(line);
	char *inner;

	strlist_free(&ps->seen);
	ps->rule = NULL;
	ps->section = NULL;
	if (line[n - 1] != ']') {
		ps->scope = SC_NONE;
		conf_error(ps, "expected 'key = value', '[section]' or "
		    "'[rule NAME]'");
		return;
	}
	line[n - 1] = '\0';
	inner = conf_trim(line + 1);
	if (strcmp(inner, "rule") == 0) {
		ps->scope = SC_NONE;
		conf_error(ps, "rule header needs a name: '[rule NAME]'");
	} else if (strncmp(inner, "rule", 4) == 0 &&
	    isspace((unsigned char)inner[4]))
		conf_rule_header(ps, conf_trim(inner + 5));
	else if (strcmp(inner, "jira") == 0)
		conf_sink_header(ps, inner, SC_JIRA);
	else if (strcmp(inner, "smtp") == 0)
		conf_sink_header(ps, inner, SC_SMTP);
	else if (strcmp(inner, "webhook") == 0)
		conf_sink_header(ps, inner, SC_WEBHOOK);
	else if (strcmp(inner, "syslog") == 0)
		conf_sink_header(ps, inner, SC_SYSLOG);
	else {
		ps->scope = SC_NONE;
		conf_error(ps, "unknown section '[%s]'", inner);
	}
}

static void
conf_line(struct conf_pstate *ps, char *raw)
{
	char *line, *eq;

	conf_strip_comment(raw);
	line = conf_trim(raw);
	if (*line == '\0')
		return;
	if (*line == '[') {
		conf_header_line(ps, line);
		return;
	}
	eq = strchr(line, '=');
	if (eq == NULL) {
		conf_error(ps, "expected 'key = value', '[section]' or "
		    "'[rule NAME]'");
		return;
	}
	conf_key_line(ps, line, eq);
}

/* The rest of a line too long to keep: read through, not stored. */
static void
conf_skip_line(FILE *fp)
{
	int ch;

	while ((ch = getc_unlocked(fp)) != EOF && ch != '\n')
		;
}

/* Parse one stream (a config or one policy file). Returns the number
 * of errors it added. */
int
conf_parse(struct conf *c, FILE *fp, const char *fname, enum conf_kind kind)
{
	struct conf_pstate ps = { .conf = c, .fname = fname, .kind = (int)kind,
	    .scope = SC_GLOBAL };
	size_t before = c->errors.n, cap = 0;
	char *buf = NULL;
	ssize_t len;

	while ((len = util_getline(&buf, &cap, fp, CONF_LINE_MAX)) != -1) {
		ps.lineno++;
		if (len > CONF_LINE_MAX) {
			conf_error(&ps, "line longer than %d bytes",
			    CONF_LINE_MAX);
			if (buf[len - 1] != '\n')
				conf_skip_line(fp);
			continue;
		}
		if ((size_t)len != strlen(buf)) {
			conf_error(&ps, "NUL byte in line");
			continue;
		}
		conf_line(&ps, buf);
	}
	if (ferror(fp))
		conf_error(&ps, "read error: %s", strerror(errno));
	free(buf);
	strlist_free(&ps.seen);
	return (int)(c->errors.n - before);
}

/* relp, tcp and tls need host:port; unix an absolute socket path. */
static void
conf_validate_syslog(struct conf *c, const struct conf_section *s)
{
	const char *u = conf_section_get(c, s->name, "url"), *port, *host;

	if (strcmp(s->name, "syslog") != 0 || u == NULL ||
	    (host = strstr(u, "://")) == NULL)
		return;
	port = strrchr(u, ':');
	if (strncmp(u, "unix://", 7) == 0 ? u[7] == '/' : port > host + 3 &&
	    port[1] != '\0' &&
	    port[1 + strspn(port + 1, "0123456789")] == '\0')
		return;
	strlist_push_owned(&c->errors, xasprintf("%s:%d: [syslog] url '%s': "
	    "expected relp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT or "
	    "unix:///PATH", s->file, s->line, u));
}

/* The keys a sink cannot work without. */
static void
conf_validate_sink(struct conf *c, const struct conf_section *s)
{
	static const char *need[][3] = {
		{ "jira", "url", NULL }, { "jira", "project", NULL },
		{ "jira", "issue_type", NULL },
		{ "jira", "token_env", "token_file|token_credential" },
		{ "smtp", "url", NULL }, { "smtp", "from", NULL },
		{ "smtp", "to", NULL }, { "syslog", "url", NULL },
	};
	const char *api;

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (strcmp(need[i][0], s->name) != 0 ||
		    conf_section_get(c, s->name, need[i][1]) != NULL ||
		    (need[i][2] != NULL && (conf_section_get(c, s->name,
		    "token_file") || conf_section_get(c, s->name,
		    "token_credential"))))
			continue;
		strlist_push_owned(&c->errors, xasprintf("%s:%d: section "
		    "'[%s]' has no %s%s%s", s->file, s->line, s->name,
		    need[i][1], need[i][2] ? ", " : "",
		    need[i][2] ? "token_file or token_credential" : ""));
	}
	if (strcmp(s->name, "webhook") == 0 && conf_section_get(c, s->name,
	    "url") == NULL && conf_section_get(c, s->name, "url_env") == NULL &&
	    conf_section_get(c, s->name, "url_file") == NULL &&
	    conf_section_get(c, s->name, "url_credential") == NULL)
		strlist_push_owned(&c->errors, xasprintf("%s:%d: section "
		    "'[webhook]' has no url, url_env, url_file or "
		    "url_credential", s->file, s->line));
	conf_validate_syslog(c, s);
	api = conf_section_get(c, s->name, "api");
	if (strcmp(s->name, "jira") == 0 && (api == NULL ||
	    strcmp(api, "3") == 0) && conf_section_get(c, s->name, "user") ==
	    NULL)
		strlist_push_owned(&c->errors, xasprintf("%s:%d: [jira] with "
		    "api = 3 (Jira Cloud) needs user (the account's email)",
		    s->file, s->line));
	if (strcmp(s->name, "smtp") == 0 && conf_section_get(c, s->name,
	    "user") != NULL && conf_section_get(c, s->name, "password_env") ==
	    NULL && conf_section_get(c, s->name, "password_file") == NULL &&
	    conf_section_get(c, s->name, "password_credential") == NULL)
		strlist_push_owned(&c->errors, xasprintf("%s:%d: [smtp] user "
		    "needs password_env, password_file or password_credential",
		    s->file, s->line));
}

/* Checks that need a whole rule or section, after parsing. */
int
conf_validate(struct conf *c)
{
	size_t before = c->errors.n;

	for (size_t i = 0; i < c->nrules; i++) {
		struct conf_rule *r = &c->rules[i];

		if (r->paths.n == 0 && !r->paths_given)
			strlist_push_owned(&c->errors, xasprintf("%s:%d: rule "
			    "'%s' has no paths", r->file, r->line, r->name));
	}
	for (size_t i = 0; i < c->nsections; i++) {
		struct conf_section *s = &c->sections[i];

		conf_validate_sink(c, s);
	}
	return (int)(c->errors.n - before);
}

/* A symlink is allowed (configuration management links files into
 * /etc), a FIFO or device is not: reading one would hang or never end. */
static int
conf_parse_file(struct conf *c, const char *path, enum conf_kind kind,
    int required)
{
	char *why = NULL;
	int fd = file_open(path, O_RDONLY, 0, &why), n;
	FILE *fp;

	if (fd < 0) {
		if (!required && errno == ENOENT) {
			free(why);
			return 0;
		}
		/* EINVAL: file_open's "not a regular file" */
		if (errno != EINVAL) {
			char *msg = xasprintf("%s: cannot open: %s", path,
			    strerror(errno));

			free(why);
			why = msg;
		}
		strlist_push_owned(&c->errors, why);
		return 1;
	}
	if ((fp = fdopen(fd, "r")) == NULL)
		fatal("fdopen");
	n = conf_parse(c, fp, path, kind);
	fclose(fp);
	return n;
}

static int
conf_rules_filter(const struct dirent *d)
{
	return d->d_name[0] != '.' && fnmatch("*.rules", d->d_name, 0) == 0;
}

static void
conf_parse_policy_dir(struct conf *c, const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, conf_rules_filter, alphasort);

	if (n < 0) {
		strlist_push_owned(&c->errors, xasprintf("%s: cannot read "
		    "policy directory: %s", dir, strerror(errno)));
		return;
	}
	for (int i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, ents[i]->d_name);

		strlist_push(&c->files, path);
		conf_parse_file(c, path, CONF_KIND_POLICY, 1);
		free(path);
		free(ents[i]);
	}
	free(ents);
	if (n == 0)
		strlist_push_owned(&c->errors, xasprintf("%s: no *.rules "
		    "files in policy directory", dir));
}

/* Only the config file (status needs no policy: a broken policy must
 * not hide a running monitor). Returns the number of errors. */
int
conf_load_config(struct conf *c, const char *config, int config_required)
{
	conf_parse_file(c, config, CONF_KIND_CONFIG, config_required);
	return (int)c->errors.n;
}

/* The one entry point: config (optional when it is the default path),
 * then every *.rules file of the policy directory, then validation.
 * policy_dir NULL means "from the config, else the default". Returns
 * the number of errors (listed in c->errors). */
int
conf_load(struct conf *c, const char *config, int config_required,
    const char *policy_dir)
{
	conf_parse_file(c, config, CONF_KIND_CONFIG, config_required);
	if (policy_dir == NULL)
		policy_dir = c->policy_dir ? c->policy_dir : CONF_POLICY_DIR;
	conf_parse_policy_dir(c, policy_dir);
	conf_validate(c);
	if (c->mode == CONF_MODE_UNSET)
		c->mode = CONF_MODE_AUDIT;
	if (c->repeat_interval == 0)
		c->repeat_interval = CONF_REPEAT_INTERVAL;
	if (c->package_quiet == 0)
		c->package_quiet = CONF_PACKAGE_QUIET;
	if (c->packages == CONF_PKG_UNSET)
		c->packages = CONF_PKG_AUTO;
	/* unknown_intent stays unset when not given: it only matters for
	 * enforce-mode rules, where unset means deny (conf_unknown_deny). */
	for (size_t i = 0; i < c->nrules; i++)
		if (c->rules[i].severity == CONF_SEV_UNSET)
			c->rules[i].severity = CONF_SEV_MEDIUM;
	return (int)c->errors.n;
}

const char *
conf_section_get(const struct conf *c, const char *section, const char *key)
{
	for (size_t i = 0; i < c->nsections; i++) {
		const struct conf_section *s = &c->sections[i];

		if (strcmp(s->name, section) != 0)
			continue;
		for (size_t k = 0; k < s->keys.n; k++)
			if (strcmp(s->keys.v[k], key) == 0)
				return s->values.v[k];
	}
	return NULL;
}

/* Deny opens whose intent cannot be decoded, in enforce mode? Yes
 * unless the config says unknown_intent = allow. */
int
conf_unknown_deny(const struct conf *c)
{
	return c->unknown_intent != CONF_INTENT_ALLOW;
}

/* Do the package hooks run approve --packages? Yes unless
 * package_hook = no (or packages = none: nothing to verify with). */
int
conf_package_hook(const struct conf *c)
{
	return c->package_hook != 2 && c->packages != CONF_PKG_NONE;
}

/* Files larger than this get no vault copy (hash only). */
uint64_t
conf_vault_max(const struct conf *c)
{
	return c->vault_max != 0 ? c->vault_max : CONF_VAULT_MAX_DEFAULT;
}

int
conf_rule_mode(const struct conf *c, const struct conf_rule *r)
{
	return r->mode != CONF_MODE_UNSET ? r->mode : c->mode;
}

/* What happens to an entry a non-writer creates under the rule: quarantined
 * by default where the rule puts things back (enforce, restore = yes);
 * in audit mode nothing is ever moved, whatever the rule says. */
int
conf_rule_new_files(const struct conf *c, const struct conf_rule *r)
{
	if (conf_rule_mode(c, r) != CONF_MODE_ENFORCE)
		return CONF_NEW_REPORT;
	if (r->new_files != CONF_NEW_UNSET)
		return r->new_files;
	return r->restore ? CONF_NEW_QUARANTINE : CONF_NEW_REPORT;
}

const char *
conf_mode_name(int mode)
{
	return mode == CONF_MODE_ENFORCE ? "enforce" : "audit";
}

const char *
conf_severity_name(int sev)
{
	static const char *names[] = { "medium", "low", "medium", "high",
	    "critical" };

	return sev >= 0 && sev <= CONF_SEV_CRITICAL ? names[sev] : "medium";
}

/* ECS event.severity is numeric; these are the values Elastic's own
 * detection rules use for low, medium, high and critical. */
int
conf_severity_ecs(int sev)
{
	static const int ecs[] = { 47, 21, 47, 73, 99 };

	return sev >= 0 && sev <= CONF_SEV_CRITICAL ? ecs[sev] : 47;
}
