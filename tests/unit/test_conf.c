/* Unit tests for the config/policy parser (src/conf.c): exact
 * "FILE:LINE: message" errors for bad snippets, parsed fields of good
 * ones, defaults applied by conf_load, and conf_section_get. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/util.h"

#define MAX_ERRS	16

/* Parse one in-memory stream; len 0 means strlen(text). */
static int
parse_mem(struct conf *c, const char *text, size_t len, const char *fname,
    enum conf_kind kind)
{
	FILE *fp;
	int n;

	if (len == 0)
		len = strlen(text);
	fp = fmemopen((void *)(uintptr_t)text, len, "r");
	assert_non_null(fp);
	n = conf_parse(c, fp, fname, kind);
	fclose(fp);
	return n;
}

/* Compare c->errors with want (NULL-terminated); print the difference
 * and return 0 on mismatch. */
static int
errors_match(const struct conf *c, const char *const *want, const char *name)
{
	size_t nwant = 0;
	int ok;

	while (nwant < MAX_ERRS && want[nwant] != NULL)
		nwant++;
	ok = c->errors.n == nwant;
	for (size_t i = 0; ok && i < nwant; i++)
		ok = strcmp(c->errors.v[i], want[i]) == 0;
	if (!ok) {
		print_error("case '%s':\n", name);
		for (size_t i = 0; i < c->errors.n; i++)
			print_error("  got:  %s\n", c->errors.v[i]);
		for (size_t i = 0; i < nwant; i++)
			print_error("  want: %s\n", want[i]);
	}
	return ok;
}

static void
assert_errors(const struct conf *c, const char *const *want, const char *name)
{
	if (!errors_match(c, want, name))
		fail();
}

struct bad_case {
	const char	*name;
	enum conf_kind	 kind;
	const char	*text;
	size_t		 len;		/* 0: strlen(text) */
	const char	*errs[MAX_ERRS];
};

#define P	CONF_KIND_POLICY
#define C	CONF_KIND_CONFIG
#define EXPECTED "expected 'key = value', '[section]' or '[rule NAME]'"
/* What a sink needs besides the lines a case is about, appended after
 * them so that the line numbers in the expected errors stay put. */
#define JIRA_REST_NOTOK	"project = OPS\nissue_type = Task\nuser = a@b.c\n" \
			"token_credential = jira\n"
#define JIRA_REST	"project = OPS\nissue_type = Task\nuser = a@b.c\n" \
			"token_env = T\n"
#define SMTP_REST_NOTO	"from = f@b.c\n"
#define SMTP_REST	"from = f@b.c\nto = t@b.c\n"

static const struct bad_case bad_cases[] = {
	/* ---- policy files ("p.rules") ---- */
	{ "garbage line", P, "garbage\n", 0,
	    { "p.rules:1: " EXPECTED } },
	{ "key without =", P, "[rule a]\npaths = /x\nseverity high\n", 0,
	    { "p.rules:3: " EXPECTED } },
	{ "empty key", P, "[rule a]\npaths = /x\n = /y\n", 0,
	    { "p.rules:3: " EXPECTED } },
	{ "unclosed header", P, "[rule a\npaths = /x\n", 0,
	    { "p.rules:1: " EXPECTED } },
	{ "lone bracket", P, "[\n", 0,
	    { "p.rules:1: " EXPECTED } },
	{ "unknown section", P, "[foo]\n", 0,
	    { "p.rules:1: unknown section '[foo]'" } },
	{ "empty section", P, "[]\n", 0,
	    { "p.rules:1: unknown section '[]'" } },
	{ "rulex is not rule", P, "[rulex]\n", 0,
	    { "p.rules:1: unknown section '[rulex]'" } },
	{ "rule without name", P, "[rule]\npaths = /x\n", 0,
	    { "p.rules:1: rule header needs a name: '[rule NAME]'" } },
	{ "rule blank name", P, "[ rule   ]\n", 0,
	    { "p.rules:1: rule header needs a name: '[rule NAME]'" } },
	{ "bad rule name", P, "[rule a b]\npaths = /x\n", 0,
	    { "p.rules:1: invalid rule name 'a b' (use letters, digits, "
	      "'_', '.', '-')" } },
	{ "duplicate rule", P,
	    "[rule a]\npaths = /x\n\n[rule a]\npaths = /y\n", 0,
	    { "p.rules:4: duplicate rule 'a' (first defined at "
	      "p.rules:1)" } },
	{ "unknown rule key", P, "[rule a]\npaths = /x\nfoo = 1\n", 0,
	    { "p.rules:3: unknown key 'foo' in [rule a]" } },
	{ "global key is unknown in rule", P,
	    "[rule a]\npaths = /x\nevents = /e\n", 0,
	    { "p.rules:3: unknown key 'events' in [rule a]" } },
	{ "duplicate key", P, "[rule a]\npaths = /x\npaths = /y\n", 0,
	    { "p.rules:3: duplicate key 'paths'" } },
	{ "duplicate bad key still duplicate", P,
	    "[rule a]\npaths = /x\nseverity = huge\nseverity = low\n", 0,
	    { "p.rules:3: invalid value 'huge' for 'severity' (expected "
	      "low | medium | high | critical)",
	      "p.rules:4: duplicate key 'severity'" } },
	{ "key outside rule", P, "paths = /x\n[rule a]\npaths = /x\n", 0,
	    { "p.rules:1: key 'paths' outside of a rule" } },
	{ "unknown key outside rule", P, "foo = bar\n", 0,
	    { "p.rules:1: key 'foo' outside of a rule" } },
	{ "empty value", P, "[rule a]\npaths = /x\nseverity =\n", 0,
	    { "p.rules:3: empty value for 'severity'" } },
	{ "empty value only comment", P,
	    "[rule a]\npaths = /x\nexclude = # nothing\n", 0,
	    { "p.rules:3: empty value for 'exclude'" } },
	{ "bad severity", P, "[rule a]\npaths = /x\nseverity = huge\n", 0,
	    { "p.rules:3: invalid value 'huge' for 'severity' (expected "
	      "low | medium | high | critical)" } },
	{ "severity is case sensitive", P,
	    "[rule a]\npaths = /x\nseverity = High\n", 0,
	    { "p.rules:3: invalid value 'High' for 'severity' (expected "
	      "low | medium | high | critical)" } },
	{ "bad rule mode", P, "[rule a]\npaths = /x\nmode = strict\n", 0,
	    { "p.rules:3: invalid value 'strict' for 'mode' (expected "
	      "audit | enforce)" } },
	{ "bad recursive", P, "[rule a]\npaths = /x\nrecursive = maybe\n", 0,
	    { "p.rules:3: invalid value 'maybe' for 'recursive' (expected "
	      "yes | no)" } },
	{ "bad diff", P, "[rule a]\npaths = /x\ndiff = 1\n", 0,
	    { "p.rules:3: invalid value '1' for 'diff' (expected yes | no)" } },
	{ "bad restore", P, "[rule a]\npaths = /x\nrestore = true\n", 0,
	    { "p.rules:3: invalid value 'true' for 'restore' (expected "
	      "yes | no)" } },
	{ "bad new_files", P, "[rule a]\npaths = /x\nnew_files = delete\n",
	    0, { "p.rules:3: invalid value 'delete' for 'new_files' (expected "
	      "report | quarantine)" } },
	{ "one value only", P,
	    "[rule a]\npaths = /x\nseverity = high low\n", 0,
	    { "p.rules:3: 'severity' takes one value, got 2" } },
	{ "relative path, no extra has-no-paths", P,
	    "[rule a]\npaths = etc/x\n", 0,
	    { "p.rules:2: path 'etc/x' is not absolute" } },
	{ "first bad path is reported", P,
	    "[rule a]\npaths = /ok rel1 rel2\n", 0,
	    { "p.rules:2: path 'rel1' is not absolute" } },
	{ "quoted relative path", P, "[rule a]\npaths = \"x y\"\n", 0,
	    { "p.rules:2: path 'x y' is not absolute" } },
	{ "empty quoted path", P, "[rule a]\npaths = \"\"\n", 0,
	    { "p.rules:2: path '' is not absolute" } },
	{ "relative writer", P,
	    "[rule a]\npaths = /x\nwriters = /usr/bin/a bin/b\n", 0,
	    { "p.rules:3: path 'bin/b' is not absolute" } },
	{ "rule without paths", P, "[rule a]\nrecursive = yes\n", 0,
	    { "p.rules:1: rule 'a' has no paths" } },
	{ "empty rule", P, "\n\n[rule empty]\n", 0,
	    { "p.rules:3: rule 'empty' has no paths" } },
	{ "unterminated quote", P, "[rule a]\npaths = \"/x\n", 0,
	    { "p.rules:2: unterminated quote" } },
	{ "unterminated after escape", P, "[rule a]\npaths = \"/x\\\"\n", 0,
	    { "p.rules:2: unterminated quote" } },
	{ "sink section in policy", P, "[jira]\nurl = https://j\n", 0,
	    { "p.rules:1: section '[jira]' is not allowed in a policy "
	      "file" } },
	{ "smtp section in policy", P, "[smtp]\n", 0,
	    { "p.rules:1: section '[smtp]' is not allowed in a policy "
	      "file" } },
	{ "keys under a bad header are not reported again", P,
	    "[rule]\npaths = relative\nfoo = 1\n[bogus]\nbar = 2\n", 0,
	    { "p.rules:1: rule header needs a name: '[rule NAME]'",
	      "p.rules:4: unknown section '[bogus]'" } },
#define NUL_TEXT "[rule a]\npaths = /x\nfoo\0 = 1\nbar = 2\n"
	{ "NUL byte", P, NUL_TEXT, sizeof(NUL_TEXT) - 1,
	    { "p.rules:3: NUL byte in line",
	      "p.rules:4: unknown key 'bar' in [rule a]" } },
	{ "all errors in one pass", P,
	    "severity = high\n"			/* 1 */
	    "[rule ok]\n"			/* 2 */
	    "paths = /etc /usr\n"		/* 3 */
	    "severity = urgent\n"		/* 4 */
	    "colour = blue\n"			/* 5 */
	    "[rule]\n"				/* 6 */
	    "[rule ok]\n"			/* 7 */
	    "[rule nopaths]\n"			/* 8 */
	    "recursive = perhaps\n"		/* 9 */
	    "exclude = \"unterminated\n"	/* 10 */
	    "nonsense\n"			/* 11 */
	    "[rule rel]\n"			/* 12 */
	    "paths = relative\n"		/* 13 */
	    "paths = /again\n", 0,		/* 14 */
	    { "p.rules:1: key 'severity' outside of a rule",
	      "p.rules:4: invalid value 'urgent' for 'severity' (expected "
	      "low | medium | high | critical)",
	      "p.rules:5: unknown key 'colour' in [rule ok]",
	      "p.rules:6: rule header needs a name: '[rule NAME]'",
	      "p.rules:7: duplicate rule 'ok' (first defined at p.rules:2)",
	      "p.rules:9: invalid value 'perhaps' for 'recursive' (expected "
	      "yes | no)",
	      "p.rules:10: unterminated quote",
	      "p.rules:11: " EXPECTED,
	      "p.rules:13: path 'relative' is not absolute",
	      "p.rules:14: duplicate key 'paths'",
	      "p.rules:8: rule 'nopaths' has no paths" } },

	/* ---- config file ("f.conf") ---- */
	{ "rule in config", C, "[rule a]\npaths = /x\n", 0,
	    { "f.conf:1: section '[rule a]' is not allowed in the config "
	      "file" } },
	{ "rule without name in config", C, "[rule]\n", 0,
	    { "f.conf:1: rule header needs a name: '[rule NAME]'" } },
	{ "unknown global key", C, "foo = 1\n", 0,
	    { "f.conf:1: unknown key 'foo' in global settings" } },
	{ "rule key in global settings", C, "paths = /x\n", 0,
	    { "f.conf:1: unknown key 'paths' in global settings" } },
	{ "bad mode", C, "mode = strict\n", 0,
	    { "f.conf:1: invalid value 'strict' for 'mode' (expected audit | "
	      "enforce)" } },
	{ "bad repeat_interval", C, "repeat_interval = 0\n", 0,
	    { "f.conf:1: invalid value '0' for 'repeat_interval' (expected a "
	      "whole number from 1 to 100000)" } },
	{ "repeat_interval with a unit", C, "repeat_interval = 1m\n", 0,
	    { "f.conf:1: invalid value '1m' for 'repeat_interval' (expected a "
	      "whole number from 1 to 100000)" } },
	{ "bad args", C, "[webhook]\nurl = https://w\nargs = all\n", 0,
	    { "f.conf:3: invalid value 'all' for 'args' (expected yes | no)" } },
	{ "bad spool_max", C, "[webhook]\nurl = https://w\nspool_max = 0\n"
	    "[jira]\nspool_max = 1e6\n" JIRA_REST, 0,
	    { "f.conf:3: invalid value '0' for 'spool_max' (expected a whole "
	      "number from 1 to 100000)",
	      "f.conf:5: invalid value '1e6' for 'spool_max' (expected a "
	      "whole number from 1 to 100000)",
	      "f.conf:4: section '[jira]' has no url" } },
	{ "bad unknown_intent", C, "unknown_intent = maybe\n", 0,
	    { "f.conf:1: invalid value 'maybe' for 'unknown_intent' "
	      "(expected deny | allow)" } },
	{ "vault cap of 0", C, "vault_max_size = 0\n", 0,
	    { "f.conf:1: invalid value '0' for 'vault_max_size' (expected a "
	      "size above 0 such as 64M (K, M, G, T: powers of 1024), or "
	      "none)" } },
	{ "vault cap with a bad unit", C, "vault_max_size = 5MB\n", 0,
	    { "f.conf:1: invalid value '5MB' for 'vault_max_size' (expected "
	      "a size above 0 such as 64M (K, M, G, T: powers of 1024), or "
	      "none)" } },
	{ "vault cap too large", C, "vault_max_size = 99999999999T\n", 0,
	    { "f.conf:1: invalid value '99999999999T' for 'vault_max_size' "
	      "(expected a size above 0 such as 64M (K, M, G, T: powers of "
	      "1024), or none)" } },
	{ "relative events", C, "events = var/log/x.json\n", 0,
	    { "f.conf:1: path 'var/log/x.json' is not absolute" } },
	{ "two state dirs", C, "state_dir = /a /b\n", 0,
	    { "f.conf:1: 'state_dir' takes one value, got 2" } },
	{ "duplicate global key", C, "mode = audit\nmode = enforce\n", 0,
	    { "f.conf:2: duplicate key 'mode'" } },
	{ "unknown sink key", C, "[jira]\nurl = https://j\nfoo = 1\n" JIRA_REST, 0,
	    { "f.conf:3: unknown key 'foo' in [jira]" } },
	{ "smtp key in webhook", C, "[webhook]\nurl = https://w\nto = a@b\n",
	    0, { "f.conf:3: unknown key 'to' in [webhook]" } },
	{ "sink without url", C, "\n[jira]\nproject = OPS\n", 0,
	    { "f.conf:2: section '[jira]' has no url",
	      "f.conf:2: section '[jira]' has no issue_type",
	      "f.conf:2: section '[jira]' has no token_env, token_file or "
	      "token_credential",
	      "f.conf:2: [jira] with api = 3 (Jira Cloud) needs user (the "
	      "account's email)" } },
	{ "smtp user without password", C, "[smtp]\nurl = smtp://m\n"
	    "user = u\n" SMTP_REST, 0,
	    { "f.conf:1: [smtp] user needs password_env, password_file or "
	      "password_credential" } },
	{ "url with credentials", C, "[webhook]\nurl = https://u:p@h/x\n", 0,
	    { "f.conf:2: invalid value for 'url' (not shown: a URL must not "
	      "hold user:password@)",
	      "f.conf:1: section '[webhook]' has no url, url_env, url_file "
	      "or url_credential" } },
	{ "credentials in a url with a bad scheme", C, "[smtp]\n"
	    "url = ftp://user:hunter2@m\n" SMTP_REST, 0,
	    { "f.conf:2: invalid value for 'url' (not shown: a URL must not "
	      "hold user:password@)",
	      "f.conf:1: section '[smtp]' has no url" } },
	{ "mail address with a bracket", C, "[smtp]\nurl = smtp://m\n"
	    "from = <a@b>\nto = t@b.c x\n", 0,
	    { "f.conf:3: invalid value '<a@b>' for 'from' (expected a mail "
	      "address)",
	      "f.conf:4: invalid value 'x' for 'to' (expected a mail "
	      "address)",
	      "f.conf:1: section '[smtp]' has no from",
	      "f.conf:1: section '[smtp]' has no to" } },
	{ "control byte in an address", C, "[smtp]\nurl = smtp://m\n"
	    "from = a\x01@b.c\nto = t@b.c\n", 0,
	    { "f.conf:3: invalid value 'a\x01@b.c' for 'from' (expected a mail "
	      "address)",
	      "f.conf:1: section '[smtp]' has no from" } },
	{ "bad rate", C, "[webhook]\nurl = https://w\nrate = 0\n"
	    "timeout = 1.5\nmin_severity = huge\n", 0,
	    { "f.conf:3: invalid value '0' for 'rate' (expected a whole number "
	      "from 1 to 100000)",
	      "f.conf:4: invalid value '1.5' for 'timeout' (expected a whole "
	      "number from 1 to 100000)",
	      "f.conf:5: invalid value 'huge' for 'min_severity' (expected "
	      "low | medium | high | critical)" } },
	{ "sink with bad url has no url", C, "[webhook]\nurl = ftp://x\n", 0,
	    { "f.conf:2: invalid value 'ftp://x' for 'url' (expected a "
	      "https | http URL)",
	      "f.conf:1: section '[webhook]' has no url, url_env, url_file "
	      "or url_credential" } },
	{ "smtp url scheme", C, "[smtp]\nurl = https://m\n", 0,
	    { "f.conf:2: invalid value 'https://m' for 'url' (expected a "
	      "smtp | smtps URL)",
	      "f.conf:1: section '[smtp]' has no url",
	      "f.conf:1: section '[smtp]' has no from",
	      "f.conf:1: section '[smtp]' has no to" } },
	{ "url without host", C, "[jira]\nurl = https://\n" JIRA_REST, 0,
	    { "f.conf:2: invalid value 'https://' for 'url' (expected a "
	      "https | http URL)",
	      "f.conf:1: section '[jira]' has no url" } },
	{ "bad starttls", C, "[smtp]\nurl = smtp://m\nstarttls = maybe\n" SMTP_REST, 0,
	    { "f.conf:3: invalid value 'maybe' for 'starttls' (expected "
	      "required | no)" } },
	{ "bad jira api", C, "[jira]\nurl = https://j\napi = 4\n" JIRA_REST, 0,
	    { "f.conf:3: invalid value '4' for 'api' (expected 2 | 3)" } },
	{ "bad env name", C, "[jira]\nurl = https://j\ntoken_env = lower\n" JIRA_REST_NOTOK, 0,
	    { "f.conf:3: invalid value 'lower' for 'token_env' (expected an "
	      "environment variable name)" } },
	{ "env name starting with digit", C,
	    "[smtp]\nurl = smtp://m\npassword_env = 1PASS\n" SMTP_REST, 0,
	    { "f.conf:3: invalid value '1PASS' for 'password_env' (expected "
	      "an environment variable name)" } },
	{ "relative token file", C,
	    "[jira]\nurl = https://j\ntoken_file = tok\n" JIRA_REST_NOTOK, 0,
	    { "f.conf:3: path 'tok' is not absolute" } },
	{ "empty smtp to", C, "[smtp]\nurl = smtp://m\nto =\n" SMTP_REST_NOTO, 0,
	    { "f.conf:3: empty value for 'to'",
	      "f.conf:1: section '[smtp]' has no to" } },
	{ "duplicate section", C,
	    "[webhook]\nurl = https://w\n[webhook]\nurl = https://v\n", 0,
	    { "f.conf:3: duplicate section '[webhook]' (first defined at "
	      "f.conf:1)" } },
	{ "duplicate key in section", C,
	    "[smtp]\nurl = smtp://m\nurl = smtp://n\n" SMTP_REST, 0,
	    { "f.conf:3: duplicate key 'url'" } },
	{ "same key in two sections is fine, bad one is not", C,
	    "[jira]\nurl = https://j\nca_file = /ca\n" JIRA_REST
	    "[webhook]\nurl = https://w\nca_file = ca\n", 0,
	    { "f.conf:10: path 'ca' is not absolute" } },
	{ "config errors in one pass", C,
	    "mode = on\n"			/* 1 */
	    "events = rel\n"			/* 2 */
	    "[rule x]\n"			/* 3 */
	    "paths = /x\n"			/* 4: ignored */
	    "[jira]\n"				/* 5 */
	    "api = 1\n"				/* 6 */
	    "[nope]\n", 0,			/* 7 */
	    { "f.conf:1: invalid value 'on' for 'mode' (expected audit | "
	      "enforce)",
	      "f.conf:2: path 'rel' is not absolute",
	      "f.conf:3: section '[rule x]' is not allowed in the config "
	      "file",
	      "f.conf:6: invalid value '1' for 'api' (expected 2 | 3)",
	      "f.conf:7: unknown section '[nope]'",
	      "f.conf:5: section '[jira]' has no url",
	      "f.conf:5: section '[jira]' has no project",
	      "f.conf:5: section '[jira]' has no issue_type",
	      "f.conf:5: section '[jira]' has no token_env, token_file or "
	      "token_credential",
	      "f.conf:5: [jira] with api = 3 (Jira Cloud) needs user (the "
	      "account's email)" } },
};

static void
test_bad_snippets(void **state)
{
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct conf c;
		int np, nv;

		conf_init(&c);
		np = parse_mem(&c, bc->text, bc->len,
		    bc->kind == P ? "p.rules" : "f.conf", bc->kind);
		nv = conf_validate(&c);
		if (!errors_match(&c, bc->errs, bc->name))
			failed++;
		else if ((size_t)(np + nv) != c.errors.n) {
			print_error("case '%s': parse %d + validate %d != %zu\n",
			    bc->name, np, nv, c.errors.n);
			failed++;
		}
		conf_free(&c);
	}
	assert_int_equal(failed, 0);
}

/* A line longer than CONF_LINE_MAX (65536 bytes with its newline) is
 * one error; parsing goes on with the right line numbers. */
static void
test_long_line(void **state)
{
	char *buf = malloc(3 * 65536), *p = buf;
	struct conf c;
	const char *want[] = {
		"p.rules:3: line longer than 65536 bytes",
		"p.rules:4: unknown key 'foo' in [rule a]", NULL
	};

	(void)state;
	assert_non_null(buf);
	p += sprintf(p, "[rule a]\npaths = /x\n");
	memset(p, '#', 65536);			/* 65537 bytes with '\n' */
	p[65536] = '\n';
	p += 65537;
	p += sprintf(p, "foo = 1\n");
	memset(p, '#', 65535);			/* exactly the limit: ok */
	p[65535] = '\n';
	p += 65536;
	conf_init(&c);
	assert_int_equal(parse_mem(&c, buf, (size_t)(p - buf), "p.rules",
	    CONF_KIND_POLICY), 2);
	assert_errors(&c, want, "long line");
	assert_int_equal(c.nrules, 1);
	conf_free(&c);
	free(buf);
}

static void
assert_list(const struct strlist *l, const char *const *want)
{
	size_t n = 0;

	while (want[n] != NULL)
		n++;
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->v[i], want[i]);
}

static const char good_policy[] =
    "# whole-line comment\n"					/* 1 */
    "   # indented comment\n"					/* 2 */
    "\n"							/* 3 */
    "[rule ssh]\n"						/* 4 */
    "paths = /etc/ssh \"/etc/with space/x\" \"/etc/q\\\"uote\" "
    "\"/etc/back\\\\slash\" # trailing comment\n"		/* 5 */
    "recursive = yes\n"						/* 6 */
    "exclude = *.bak a#b \"*.tmp file\" /etc/ssh/moduli \"x # y\"\n"
    "severity = high\t# tab, then a comment\n"			/* 8 */
    "writers=/usr/sbin/sshd   /usr/bin/ssh-keygen\n"	/* 9 */
    "  diff   =   yes  \n"					/* 10 */
    "restore = no\n"						/* 11 */
    "mode = enforce\n"						/* 12 */
    "\n"
    "[  rule\taccounts ]\r\n"					/* 14 */
    "paths = /etc/passwd /etc/shadow#notacomment\r\n"		/* 15 */
    "[rule x.y-z_1]\n"						/* 16 */
    "paths = \"/a\\nb\" \"/c\\\\\" /d\"e\n";			/* 17 */

static void
test_good_policy(void **state)
{
	const char *paths[] = { "/etc/ssh", "/etc/with space/x",
	    "/etc/q\"uote", "/etc/back\\slash", NULL };
	const char *excl[] = { "*.bak", "a#b", "*.tmp file", "/etc/ssh/moduli",
	    "x # y", NULL };
	const char *writers[] = { "/usr/sbin/sshd", "/usr/bin/ssh-keygen",
	    NULL };
	const char *acc[] = { "/etc/passwd", "/etc/shadow#notacomment", NULL };
	/* Only \" and \\ are escapes; other backslashes are literal. */
	const char *xyz[] = { "/a\\nb", "/c\\", "/d\"e", NULL };
	const struct conf_rule *r;
	struct conf c;

	(void)state;
	conf_init(&c);
	assert_int_equal(parse_mem(&c, good_policy, 0, "p.rules",
	    CONF_KIND_POLICY), 0);
	assert_int_equal(conf_validate(&c), 0);
	assert_int_equal(c.errors.n, 0);
	assert_int_equal(c.nrules, 3);
	assert_int_equal(c.nsections, 0);

	r = &c.rules[0];
	assert_string_equal(r->name, "ssh");
	assert_string_equal(r->file, "p.rules");
	assert_int_equal(r->line, 4);
	assert_list(&r->paths, paths);
	assert_list(&r->exclude, excl);
	assert_list(&r->writers, writers);
	assert_int_equal(r->recursive, 1);
	assert_int_equal(r->severity, CONF_SEV_HIGH);
	assert_int_equal(r->diff, 1);
	assert_int_equal(r->restore, 0);
	assert_int_equal(r->mode, CONF_MODE_ENFORCE);

	r = &c.rules[1];
	assert_string_equal(r->name, "accounts");
	assert_int_equal(r->line, 14);
	assert_list(&r->paths, acc);
	assert_int_equal(r->exclude.n, 0);
	assert_int_equal(r->writers.n, 0);
	assert_int_equal(r->recursive, 0);
	assert_int_equal(r->diff, 0);
	assert_int_equal(r->restore, 0);
	assert_int_equal(r->mode, CONF_MODE_UNSET);
	assert_int_equal(r->severity, CONF_SEV_UNSET);	/* until conf_load */

	r = &c.rules[2];
	assert_string_equal(r->name, "x.y-z_1");
	assert_list(&r->paths, xyz);
	conf_free(&c);
}

static const char good_config[] =
    "mode = enforce # global\n"
    "events = /var/log/fimguard/events.json\n"
    "unknown_intent = allow\n"
    "state_dir = \"/var/lib/fim guard\"\n"
    "policy_dir = /etc/fimguard/policy.d\n"
    "repeat_interval = 5\n"
    "[jira]\n"
    "url = https://jira.example.com/x#frag\n"
    "api = 3\n"
    "project = OPS\n"
    "issue_type = Task\n"
    "user = secops@example.com\n"
    "token_env = JIRA_TOKEN_2\n"
    "priority_critical = P1\n"
    "labels = fim security\n"
    "[smtp]\n"
    "url = smtps://mail.example.com:465\n"
    "from = fimguard@host.example.com\n"
    "user = fimguard\n"
    "rate = 10\n"
    "min_severity = high\n"
    "to = a@example.com b@example.com   # two people\n"
    "starttls = required\n"
    "password_env = _PW\n"
    "[webhook]\n"
    "url = http://127.0.0.1:8080/hook\n"
    "args = yes\n"
    "spool_max = 200\n";

/* vault_max_size: units are powers of 1024; unset is the default. */
static void
test_vault_max_size(void **state)
{
	static const struct { const char *text; uint64_t want; } cases[] = {
		{ "", CONF_VAULT_MAX_DEFAULT },
		{ "vault_max_size = 4096\n", 4096 },
		{ "vault_max_size = 8K\n", 8192 },
		{ "vault_max_size = 64M\n", (uint64_t)64 << 20 },
		{ "vault_max_size = 2G\n", (uint64_t)2 << 30 },
		{ "vault_max_size = 1T\n", (uint64_t)1 << 40 },
		{ "vault_max_size = none\n", UINT64_MAX },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf c;

		conf_init(&c);
		assert_int_equal(parse_mem(&c, cases[i].text, 0, "f.conf",
		    CONF_KIND_CONFIG), 0);
		assert_true(conf_vault_max(&c) == cases[i].want);
		conf_free(&c);
	}
}

/* new_files: quarantine by default only where the rule restores, and
 * never in audit mode. */
static void
test_new_files(void **state)
{
	static const struct {
		const char *rule;
		int mode;		/* global */
		int want;
	} cases[] = {
		{ "", CONF_MODE_ENFORCE, CONF_NEW_REPORT },
		{ "restore = yes\n", CONF_MODE_ENFORCE, CONF_NEW_QUARANTINE },
		{ "restore = yes\n", CONF_MODE_AUDIT, CONF_NEW_REPORT },
		{ "restore = yes\nmode = enforce\n", CONF_MODE_AUDIT,
		    CONF_NEW_QUARANTINE },
		{ "restore = yes\nnew_files = report\n", CONF_MODE_ENFORCE,
		    CONF_NEW_REPORT },
		{ "new_files = quarantine\n", CONF_MODE_ENFORCE,
		    CONF_NEW_QUARANTINE },
		{ "new_files = quarantine\nmode = audit\n", CONF_MODE_ENFORCE,
		    CONF_NEW_REPORT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = xasprintf("[rule a]\npaths = /x\n%s",
		    cases[i].rule);
		struct conf c;

		conf_init(&c);
		assert_int_equal(parse_mem(&c, text, 0, "p.rules",
		    CONF_KIND_POLICY), 0);
		c.mode = cases[i].mode;
		assert_int_equal(conf_rule_new_files(&c, &c.rules[0]),
		    cases[i].want);
		conf_free(&c);
		free(text);
	}
}

static void
test_good_config(void **state)
{
	struct conf c;

	(void)state;
	conf_init(&c);
	assert_int_equal(parse_mem(&c, good_config, 0, "f.conf",
	    CONF_KIND_CONFIG), 0);
	assert_int_equal(conf_validate(&c), 0);
	assert_int_equal(c.mode, CONF_MODE_ENFORCE);
	assert_int_equal(c.unknown_intent, CONF_INTENT_ALLOW);
	assert_string_equal(c.events, "/var/log/fimguard/events.json");
	assert_string_equal(c.state_dir, "/var/lib/fim guard");
	assert_string_equal(c.policy_dir, "/etc/fimguard/policy.d");
	assert_int_equal(c.nrules, 0);
	assert_int_equal(c.nsections, 3);
	assert_string_equal(c.sections[0].name, "jira");
	assert_string_equal(c.sections[0].file, "f.conf");
	assert_int_equal(c.sections[0].line, 7);
	assert_string_equal(c.sections[1].name, "smtp");
	assert_int_equal(c.sections[1].line, 16);
	assert_string_equal(c.sections[2].name, "webhook");
	assert_int_equal(c.sections[2].line, 25);
	assert_int_equal(c.repeat_interval, 5);
	assert_string_equal(conf_section_get(&c, "webhook", "args"), "yes");
	assert_string_equal(conf_section_get(&c, "webhook", "spool_max"),
	    "200");

	/* '#' not after white space is part of the value. */
	assert_string_equal(conf_section_get(&c, "jira", "url"),
	    "https://jira.example.com/x#frag");
	assert_string_equal(conf_section_get(&c, "jira", "api"), "3");
	assert_string_equal(conf_section_get(&c, "jira", "project"), "OPS");
	assert_string_equal(conf_section_get(&c, "jira", "token_env"),
	    "JIRA_TOKEN_2");
	assert_string_equal(conf_section_get(&c, "smtp", "url"),
	    "smtps://mail.example.com:465");
	assert_string_equal(conf_section_get(&c, "smtp", "to"),
	    "a@example.com b@example.com");
	assert_string_equal(conf_section_get(&c, "smtp", "starttls"),
	    "required");
	assert_string_equal(conf_section_get(&c, "smtp", "rate"), "10");
	assert_string_equal(conf_section_get(&c, "smtp", "min_severity"),
	    "high");
	assert_string_equal(conf_section_get(&c, "jira", "labels"),
	    "fim security");
	assert_string_equal(conf_section_get(&c, "webhook", "url"),
	    "http://127.0.0.1:8080/hook");
	assert_null(conf_section_get(&c, "jira", "ca_file"));
	assert_null(conf_section_get(&c, "webhook", "to"));
	assert_null(conf_section_get(&c, "nosuch", "url"));
	assert_null(conf_section_get(&c, "", ""));
	conf_free(&c);
}

/* A later global value of the same key in another stream replaces it. */
static void
test_two_config_streams(void **state)
{
	struct conf c;

	(void)state;
	conf_init(&c);
	assert_int_equal(parse_mem(&c, "events = /a\n", 0, "1.conf",
	    CONF_KIND_CONFIG), 0);
	assert_int_equal(parse_mem(&c, "events = /b\n", 0, "2.conf",
	    CONF_KIND_CONFIG), 0);
	assert_string_equal(c.events, "/b");
	conf_free(&c);
}

static void
test_duplicate_rule_two_streams(void **state)
{
	struct conf c;
	const char *want[] = {
		"b.rules:3: duplicate rule 'x' (first defined at a.rules:2)",
		NULL
	};

	(void)state;
	conf_init(&c);
	assert_int_equal(parse_mem(&c, "# a\n[rule x]\npaths = /a\n", 0,
	    "a.rules", CONF_KIND_POLICY), 0);
	assert_int_equal(parse_mem(&c, "[rule y]\npaths = /b\n[rule x]\n"
	    "paths = /c\n", 0, "b.rules", CONF_KIND_POLICY), 1);
	assert_int_equal(conf_validate(&c), 0);
	assert_errors(&c, want, "dup across streams");
	assert_int_equal(c.nrules, 2);
	assert_string_equal(c.rules[0].name, "x");
	assert_string_equal(c.rules[0].paths.v[0], "/a");	/* not /c */
	assert_string_equal(c.rules[1].name, "y");
	assert_string_equal(c.rules[1].file, "b.rules");
	assert_int_equal(c.rules[1].line, 1);
	conf_free(&c);
}

/* Every stream starts in global scope with its own line numbers. */
static void
test_streams_reset_scope(void **state)
{
	struct conf c;
	const char *want[] = {
		"b.rules:1: key 'severity' outside of a rule", NULL
	};

	(void)state;
	conf_init(&c);
	parse_mem(&c, "[rule x]\npaths = /a\n", 0, "a.rules",
	    CONF_KIND_POLICY);
	parse_mem(&c, "severity = low\n", 0, "b.rules", CONF_KIND_POLICY);
	assert_errors(&c, want, "scope reset");
	assert_int_equal(c.rules[0].severity, CONF_SEV_UNSET);
	conf_free(&c);
}

static void
test_section_get(void **state)
{
	struct conf c;

	(void)state;
	conf_init(&c);
	assert_int_equal(parse_mem(&c,
	    "[smtp]\nurl = smtp://mx:25\nfrom = fim@example.com\n"
	    "to = a@x b@y c@z\nuser = mailer\n"
	    "password_file = /etc/fimguard/smtp.pw\n"
	    "[webhook]\nurl = https://hook.example/path?a=1&b=2\n", 0,
	    "f.conf", CONF_KIND_CONFIG), 0);
	assert_int_equal(conf_validate(&c), 0);
	assert_string_equal(conf_section_get(&c, "smtp", "url"),
	    "smtp://mx:25");
	assert_string_equal(conf_section_get(&c, "smtp", "from"),
	    "fim@example.com");
	assert_string_equal(conf_section_get(&c, "smtp", "to"),
	    "a@x b@y c@z");
	assert_string_equal(conf_section_get(&c, "smtp", "user"), "mailer");
	assert_string_equal(conf_section_get(&c, "smtp", "password_file"),
	    "/etc/fimguard/smtp.pw");
	assert_string_equal(conf_section_get(&c, "webhook", "url"),
	    "https://hook.example/path?a=1&b=2");
	assert_null(conf_section_get(&c, "smtp", "URL"));
	assert_null(conf_section_get(&c, "jira", "url"));
	assert_null(conf_section_get(&c, "webhook", "from"));
	conf_free(&c);

	/* A rejected value is not stored. */
	conf_init(&c);
	parse_mem(&c, "[jira]\nurl = https://j\napi = 9\n", 0, "f.conf",
	    CONF_KIND_CONFIG);
	assert_string_equal(conf_section_get(&c, "jira", "url"),
	    "https://j");
	assert_null(conf_section_get(&c, "jira", "api"));
	conf_free(&c);
}

/* ---- conf_load: files on disk, defaults ---- */

static char *
mk_tmpdir(void)
{
	char *d = strdup("/tmp/fimguard-test-conf-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	free(path);
}

static void
rm_rf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void
test_load_defaults(void **state)
{
	char *dir = mk_tmpdir(), *pol = xasprintf("%s/policy.d", dir);
	char *conf = xasprintf("%s/none.conf", dir), *f1, *f2;
	struct conf c;

	(void)state;
	assert_int_equal(mkdir(pol, 0700), 0);
	write_file(pol, "20-b.rules", "[rule b]\npaths = /b\n");
	write_file(pol, "10-a.rules", "[rule a]\npaths = /a\n"
	    "severity = critical\n[rule a2]\npaths = /a2\nmode = enforce\n");
	write_file(pol, ".hidden.rules", "[rule hidden]\npaths = /h\n");
	write_file(pol, "notes.txt", "garbage\n");
	write_file(pol, "30-c.rules.bak", "garbage\n");

	conf_init(&c);
	assert_int_equal(conf_load(&c, conf, 0, pol), 0);
	assert_int_equal(c.mode, CONF_MODE_AUDIT);
	/* unset: only enforce-mode rules ask, and for them unset = deny */
	assert_int_equal(c.unknown_intent, CONF_INTENT_UNSET);
	assert_true(conf_unknown_deny(&c));
	assert_null(c.events);
	assert_int_equal(c.repeat_interval, CONF_REPEAT_INTERVAL);
	f1 = xasprintf("%s/10-a.rules", pol);
	f2 = xasprintf("%s/20-b.rules", pol);
	assert_int_equal(c.files.n, 2);
	assert_string_equal(c.files.v[0], f1);
	assert_string_equal(c.files.v[1], f2);
	assert_int_equal(c.nrules, 3);
	assert_string_equal(c.rules[0].name, "a");
	assert_string_equal(c.rules[0].file, f1);
	assert_int_equal(c.rules[0].severity, CONF_SEV_CRITICAL);
	assert_string_equal(c.rules[1].name, "a2");
	assert_int_equal(c.rules[1].severity, CONF_SEV_MEDIUM);
	assert_string_equal(c.rules[2].name, "b");
	assert_int_equal(c.rules[2].severity, CONF_SEV_MEDIUM);
	assert_int_equal(conf_rule_mode(&c, &c.rules[0]), CONF_MODE_AUDIT);
	assert_int_equal(conf_rule_mode(&c, &c.rules[1]), CONF_MODE_ENFORCE);
	conf_free(&c);

	/* enforce: unknown intent is denied by default; rules inherit. */
	write_file(dir, "f.conf", "mode = enforce\n");
	free(conf);
	conf = xasprintf("%s/f.conf", dir);
	conf_init(&c);
	assert_int_equal(conf_load(&c, conf, 1, pol), 0);
	assert_int_equal(c.mode, CONF_MODE_ENFORCE);
	assert_true(conf_unknown_deny(&c));
	assert_int_equal(conf_rule_mode(&c, &c.rules[0]), CONF_MODE_ENFORCE);
	conf_free(&c);

	/* policy_dir from the config when none is given. */
	free(conf);
	conf = xasprintf("%s/g.conf", dir);
	{
		char *text = xasprintf("policy_dir = %s\nunknown_intent = "
		    "deny\n", pol);

		write_file(dir, "g.conf", text);
		free(text);
	}
	conf_init(&c);
	assert_int_equal(conf_load(&c, conf, 1, NULL), 0);
	assert_int_equal(c.nrules, 3);
	assert_int_equal(c.mode, CONF_MODE_AUDIT);
	assert_int_equal(c.unknown_intent, CONF_INTENT_DENY);
	conf_free(&c);

	free(f1);
	free(f2);
	free(conf);
	free(pol);
	rm_rf(dir);
	free(dir);
}

static void
test_load_errors(void **state)
{
	char *dir = mk_tmpdir(), *pol = xasprintf("%s/p", dir);
	char *empty = xasprintf("%s/empty", dir);
	char *missing = xasprintf("%s/missing", dir);
	char *conf = xasprintf("%s/none.conf", dir);
	char *e[4];
	struct conf c;

	(void)state;
	assert_int_equal(mkdir(pol, 0700), 0);
	assert_int_equal(mkdir(empty, 0700), 0);
	write_file(pol, "a.rules", "[rule x]\npaths = /a\n[rule nop]\n");
	write_file(pol, "b.rules", "\n[rule x]\npaths = /b\n");

	/* Required config missing; errors from every file; validation. */
	conf_init(&c);
	e[0] = xasprintf("%s: cannot open: No such file or directory", conf);
	e[1] = xasprintf("%s/b.rules:2: duplicate rule 'x' (first defined "
	    "at %s/a.rules:1)", pol, pol);
	e[2] = xasprintf("%s/a.rules:3: rule 'nop' has no paths", pol);
	e[3] = NULL;
	assert_int_equal(conf_load(&c, conf, 1, pol), 3);
	assert_errors(&c, (const char *const *)e, "load errors");
	assert_int_equal(c.rules[1].severity, CONF_SEV_MEDIUM);
	for (int i = 0; i < 3; i++)
		free(e[i]);
	conf_free(&c);

	conf_init(&c);
	e[0] = xasprintf("%s: no *.rules files in policy directory", empty);
	e[1] = NULL;
	assert_int_equal(conf_load(&c, conf, 0, empty), 1);
	assert_errors(&c, (const char *const *)e, "empty policy dir");
	free(e[0]);
	conf_free(&c);

	conf_init(&c);
	e[0] = xasprintf("%s: cannot read policy directory: No such file or "
	    "directory", missing);
	e[1] = NULL;
	assert_int_equal(conf_load(&c, conf, 0, missing), 1);
	assert_errors(&c, (const char *const *)e, "missing policy dir");
	free(e[0]);
	conf_free(&c);

	free(conf);
	free(missing);
	free(empty);
	free(pol);
	rm_rf(dir);
	free(dir);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(conf_mode_name(CONF_MODE_AUDIT), "audit");
	assert_string_equal(conf_mode_name(CONF_MODE_ENFORCE), "enforce");
	assert_string_equal(conf_mode_name(CONF_MODE_UNSET), "audit");
	assert_string_equal(conf_severity_name(CONF_SEV_LOW), "low");
	assert_string_equal(conf_severity_name(CONF_SEV_MEDIUM), "medium");
	assert_string_equal(conf_severity_name(CONF_SEV_HIGH), "high");
	assert_string_equal(conf_severity_name(CONF_SEV_CRITICAL),
	    "critical");
	assert_string_equal(conf_severity_name(CONF_SEV_UNSET), "medium");
	assert_string_equal(conf_severity_name(-1), "medium");
	assert_string_equal(conf_severity_name(99), "medium");
	assert_int_equal(conf_severity_ecs(CONF_SEV_LOW), 21);
	assert_int_equal(conf_severity_ecs(CONF_SEV_MEDIUM), 47);
	assert_int_equal(conf_severity_ecs(CONF_SEV_HIGH), 73);
	assert_int_equal(conf_severity_ecs(CONF_SEV_CRITICAL), 99);
	assert_int_equal(conf_severity_ecs(CONF_SEV_UNSET), 47);
	assert_int_equal(conf_severity_ecs(42), 47);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_snippets),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_good_policy),
		cmocka_unit_test(test_good_config),
		cmocka_unit_test(test_vault_max_size),
		cmocka_unit_test(test_new_files),
		cmocka_unit_test(test_two_config_streams),
		cmocka_unit_test(test_duplicate_rule_two_streams),
		cmocka_unit_test(test_streams_reset_scope),
		cmocka_unit_test(test_section_get),
		cmocka_unit_test(test_load_defaults),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
