/* The Jira sink: one issue per distinct change, found again by a dedup
 * label and commented on when the change is seen again. Jira Cloud
 * (REST v3, ADF rich text, Basic email:token) and Data Center / Server
 * (REST v2, wiki markup, Bearer token). Runs only in the alerter. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert/sink.h"
#include "alert/sink_jira.h"

#define JIRA_LABEL_MAX	255		/* Jira refuses longer labels */
#define JIRA_ID_PREFIX	"fimguard-id-"
#define JIRA_KEY_MAX	64		/* "PROJECT-123"; longer is not a key */
#define JIRA_TEXT_LIMIT	32767		/* Jira's rich text field limit */
#define JIRA_PLAIN_MAX	30000		/* v2: bytes >= characters, so safe */
#define JIRA_CODE_MAX	8000		/* v3: the alert text block */
#define JIRA_DIFF_MAX	20000		/* v3: the diff block */
#define JIRA_LEAD_PATH	512		/* path bytes in the lead sentence */
#define JIRA_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | \
	JSON_C_TO_STRING_NOSLASHESCAPE)

/* One delivery: what every step needs. */
struct jira {
	const struct sink_conf	*c;
	const struct alert	*a;
	CURL			*h;
	struct curl_slist	*hdrs;
	char			*base;		/* c->url without a final '/' */
	char			 idlabel[JIRA_LABEL_MAX + 1];
	char			 key[JIRA_KEY_MAX];	/* found or created */
};

/* ---- secrets ---- */

static char *
jira_auth(const struct sink_conf *c)
{
	char *pair, *b64, *hdr;

	if (c->api == 2)
		return sink_concat("Authorization: Bearer ", c->secret, "");
	pair = sink_concat(c->user, ":", c->secret);
	b64 = util_b64_encode((const uint8_t *)pair, strlen(pair));
	hdr = sink_concat("Authorization: Basic ", b64, "");
	sink_wipe(pair);
	sink_wipe(b64);
	return hdr;
}

static struct curl_slist *
jira_headers(const struct sink_conf *c)
{
	static const char *fixed[] = { "Content-Type: application/json",
	    "Accept: application/json",
	    "Expect:" };	/* no 100-continue round trip on big bodies */
	struct curl_slist *l = NULL, *n;
	char *auth = jira_auth(c);

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if ((n = curl_slist_append(l, fixed[i])) == NULL)
			goto fail;
		l = n;
	}
	if ((n = curl_slist_append(l, auth)) == NULL)
		goto fail;
	sink_wipe(auth);
	return n;
fail:
	sink_wipe(auth);
	sink_headers_free(l);
	return NULL;
}

/* ---- configuration and setup ---- */

/* What no retry can fix is refused before anything is sent. A CR or LF
 * in the token would smuggle a header; a ':' in the user would shift
 * the Basic split. */
static const char *
jira_conf_error(const struct sink_conf *c, const struct alert *a)
{
	if (c->api != 2 && c->api != 3)
		return "api must be 2 or 3";
	if (c->url == NULL || c->project == NULL || c->issue_type == NULL)
		return "url, project and issue_type are required";
	if (c->secret == NULL || *c->secret == '\0' ||
	    !sink_clean_header(c->secret))
		return "the token is missing or holds a control character";
	if (!sink_url_private(c->url))
		return "refusing to send the token without TLS (use https://)";
	if (c->api == 3 && (c->user == NULL || !sink_clean_header(c->user) ||
	    strchr(c->user, ':') != NULL))
		return "api 3 needs a user without ':' or control characters";
	if (a->id == NULL || *a->id == '\0' || a->dedup[0] == '\0')
		return "alert without an id or dedup label";
	return NULL;
}

/* "fimguard-id-" + the spool name with everything but [A-Za-z0-9_.-]
 * made '_': labels cannot hold spaces, and this one marks the issue as
 * made by this very alert. */
static void
jira_idlabel(const char *id, char *out, size_t len)
{
	size_t n = strlen(JIRA_ID_PREFIX);

	memcpy(out, JIRA_ID_PREFIX, n);
	for (; *id != '\0' && n + 1 < len; id++, n++)
		out[n] = (*id >= 'A' && *id <= 'Z') || (*id >= 'a' &&
		    *id <= 'z') || (*id >= '0' && *id <= '9') ||
		    strchr("_.-", *id) != NULL ? *id : '_';
	out[n] = '\0';
}

static int
jira_open(struct jira *j, const struct sink_conf *c, const struct alert *a,
    struct sink_result *r)
{
	const char *err = jira_conf_error(c, a);
	size_t n;

	memset(j, 0, sizeof(*j));
	j->c = c;
	j->a = a;
	if (err != NULL) {
		sink_fail(r, SINK_PERMANENT, 0, "jira: %s", err);
		return -1;
	}
	j->base = xstrdup(c->url);
	if ((n = strlen(j->base)) > 0 && j->base[n - 1] == '/')
		j->base[n - 1] = '\0';
	jira_idlabel(a->id, j->idlabel, sizeof(j->idlabel));
	if ((j->h = sink_curl(c)) == NULL ||
	    (j->hdrs = jira_headers(c)) == NULL) {
		sink_fail(r, SINK_RETRY, 0, "jira: cannot set up libcurl");
		return -1;
	}
	return 0;
}

static void
jira_close(struct jira *j)
{
	if (j->h != NULL)
		curl_easy_cleanup(j->h);
	sink_headers_free(j->hdrs);
	free(j->base);
}

/* ---- one request ---- */

/* sink_http says what went wrong; this says at which step, cutting
 * the end of Jira's message if the two do not fit. */
static void
jira_step_fail(struct sink_result *r, const char *step)
{
	char pre[32];
	size_t k = (size_t)snprintf(pre, sizeof(pre), "jira %.20s: ", step),
	    n = strnlen(r->detail, sizeof(r->detail) - 1);

	if (k + n >= sizeof(r->detail))
		n = sizeof(r->detail) - 1 - k;
	memmove(r->detail + k, r->detail, n);
	memcpy(r->detail, pre, k);
	r->detail[k + n] = '\0';
}

/* POST body (consumed) to base + path; 0 on a 2xx. */
static int
jira_post(struct jira *j, const char *step, const char *path,
    json_object *body, json_object **resp, struct sink_result *r)
{
	char *url = xasprintf("%s/rest/api/%d/%s", j->base, j->c->api, path);
	int rc = sink_http(j->h, "POST", url, j->hdrs,
	    json_object_to_json_string_ext(body, JIRA_JSON_FLAGS), resp, r);

	if (rc != 0)
		jira_step_fail(r, step);
	json_object_put(body);
	free(url);
	return rc;
}

/* A key goes into a URL path: only what Jira keys are made of. */
static int
jira_key_ok(const char *k)
{
	size_t n = k ? strlen(k) : 0;

	return n > 0 && n < JIRA_KEY_MAX &&
	    strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-") == n;
}

/* ---- JSON pieces ---- */

/* Jira's parser rejects invalid UTF-8; a byte json-c would pass through
 * becomes U+FFFD instead. */
static json_object *
jira_string(const char *s)
{
	char *t = util_utf8_lossy(s);
	json_object *o = json_object_new_string(t);

	free(t);
	return o;
}

static void
jira_add(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static void
jira_add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, jira_string(v));
}

/* At most max bytes of s, cut on a UTF-8 boundary, saying so: Jira
 * refuses the whole issue when one field is too long. */
static char *
jira_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return xstrdup(s);
	for (n = max; n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; n--)
		;
	return xasprintf("%.*s\n[... %zu more bytes cut; the event log "
	    "has all of it]", (int)n, s, strlen(s) - n);
}

/* ---- rich text ---- */

/* ADF refuses an empty text node: NULL then, and the caller skips it. */
static json_object *
jira_adf_text(const char *s)
{
	json_object *t;

	if (s == NULL || *s == '\0')
		return NULL;
	t = json_object_new_object();
	jira_add_str(t, "type", "text");
	jira_add_str(t, "text", s);
	return t;
}

static void
jira_adf_block(json_object *content, const char *type, const char *lang,
    const char *s)
{
	json_object *b, *inner, *t = jira_adf_text(s), *attrs;

	if (t == NULL)
		return;
	b = json_object_new_object();
	inner = json_object_new_array();
	jira_add_str(b, "type", type);
	if (lang != NULL) {
		attrs = json_object_new_object();
		jira_add_str(attrs, "language", lang);
		jira_add(b, "attrs", attrs);
	}
	json_object_array_add(inner, t);
	jira_add(b, "content", inner);
	json_object_array_add(content, b);
}

static void
jira_adf_code(json_object *content, const char *lang, const char *s,
    size_t max)
{
	char *t = jira_cut(s, max);

	jira_adf_block(content, "codeBlock", lang, t);
	free(t);
}

/* lead, the alert as a code block, and the diff when the rule asked for
 * one; budgets divided by 2^shift. */
static json_object *
jira_adf_doc(const struct alert *a, const char *lead, int shift)
{
	json_object *doc = json_object_new_object(),
	    *content = json_object_new_array();
	const char *diff = sink_field(a->event, "fimguard.diff");
	char *text = sink_text(a, 0);

	jira_add_str(doc, "type", "doc");
	jira_add(doc, "version", json_object_new_int(1));
	jira_adf_block(content, "paragraph", NULL, lead);
	jira_adf_code(content, NULL, text, JIRA_CODE_MAX >> shift);
	if (a->ndigest == 0 && diff != NULL && *diff != '\0') {
		jira_adf_block(content, "paragraph", NULL,
		    "Diff from the baseline:");
		jira_adf_code(content, "diff", diff, JIRA_DIFF_MAX >> shift);
	}
	jira_add(doc, "content", content);
	free(text);
	return doc;
}

/* Whether Jira counts the text or the stored ADF, a document whose
 * whole JSON fits is safe; escaping can grow it, so shrink until so. */
static json_object *
jira_adf(const struct alert *a, const char *lead)
{
	json_object *doc;
	size_t len;

	for (int shift = 0;; shift++) {
		doc = jira_adf_doc(a, lead, shift);
		json_object_to_json_string_length(doc, JIRA_JSON_FLAGS, &len);
		if (shift == 4 || len <= JIRA_TEXT_LIMIT)
			return doc;
		json_object_put(doc);
	}
}

/* v2 descriptions are rendered as wiki markup: the lead with markup
 * characters escaped, the text in a {noformat} block that nothing in
 * it (a diff, a file name) can close. */
static char *
jira_wiki(const char *lead, const char *text)
{
	char *out = NULL, *body;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	if (f == NULL)
		return xstrdup(text);
	for (const char *p = lead; *p != '\0'; p++) {
		if (strchr("*_[]{}|!+^~?-#\\", *p) != NULL)
			fputc('\\', f);
		fputc(*p, f);
	}
	fputs("\n{noformat}\n", f);
	for (body = (char *)text; *body != '\0'; body++) {
		if (strncasecmp(body, "{noformat}", 10) == 0) {
			fputs("(noformat)", f);
			body += 9;
			continue;
		}
		fputc(*body, f);
	}
	fputs("\n{noformat}\n", f);
	fclose(f);
	return out;
}

/* v3: ADF with lead as its first paragraph. v2: wiki markup (the
 * renderer Data Center uses for descriptions and comments). */
static json_object *
jira_rich(const struct jira *j, const char *lead, int comment)
{
	char *text, *all, *cut;
	json_object *o;

	(void)comment;
	if (j->c->api == 3)
		return jira_adf(j->a, lead);
	text = sink_text(j->a, 1);
	cut = jira_cut(text, JIRA_PLAIN_MAX);
	all = jira_wiki(lead, cut);
	o = jira_string(all);
	free(cut);
	free(all);
	free(text);
	return o;
}

/* The description's first sentence: what, where, which rule, how bad.
 * A path cut mid-character is mended by jira_string. */
static char *
jira_lead(const struct alert *a)
{
	const char *sev = sink_severity_name(sink_severity(a));
	const char *host = a->host ? a->host : "?";
	char *s;

	if (a->ndigest > 0)
		s = xasprintf("%d alerts on host %s %s (worst severity %s).",
		    a->ndigest, host, a->overflow ? "did not fit the alert "
		    "spool (spool_max)" : "came faster than the configured "
		    "rate", sev);
	else
		s = xasprintf("File %.*s: %s (rule %s, severity %s) on host "
		    "%s.", JIRA_LEAD_PATH,
		    sink_field(a->event, "file.path") ?: "?",
		    sink_field(a->event, "event.action") ?: "changed",
		    sink_field(a->event, "rule.name") ?: "?", sev, host);
	util_flatten_controls(s);	/* a path may hold a newline */
	return s;
}

/* ---- search ---- */

/* A JQL string literal: '"' and '\' escaped, although labels and keys
 * never hold them. */
static char *
jira_jql_quote(const char *s)
{
	char *q = xmalloc(2 * strlen(s) + 3), *p = q;

	*p++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '"';
	*p = '\0';
	return q;
}

static json_object *
jira_search_body(const struct jira *j)
{
	char *proj = jira_jql_quote(j->c->project),
	    *label = jira_jql_quote(j->a->dedup);
	char *jql = xasprintf("project = %s AND labels = %s AND "
	    "statusCategory != Done ORDER BY created DESC", proj, label);
	json_object *b = json_object_new_object(),
	    *f = json_object_new_array();

	jira_add_str(b, "jql", jql);
	json_object_array_add(f, json_object_new_string("summary"));
	json_object_array_add(f, json_object_new_string("labels"));
	jira_add(b, "fields", f);
	jira_add(b, "maxResults", json_object_new_int(1));
	if (j->c->api == 2)	/* /search/jql pages by token, not startAt */
		jira_add(b, "startAt", json_object_new_int(0));
	free(jql);
	free(label);
	free(proj);
	return b;
}

static int
jira_has_label(json_object *issue, const char *label)
{
	json_object *l;

	if (!json_object_object_get_ex(issue, "fields", &l) ||
	    !json_object_object_get_ex(l, "labels", &l) ||
	    !json_object_is_type(l, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(l); i++) {
		const char *s = json_object_get_string(
		    json_object_array_get_idx(l, i));

		if (s != NULL && strcmp(s, label) == 0)
			return 1;
	}
	return 0;
}

/* j->key set if an open issue has the label, *mine if this very alert
 * made it. A 2xx Jira would never send means a wrong URL or a proxy:
 * not something to create blindly after. */
static int
jira_search_parse(struct jira *j, json_object *resp, int *mine,
    struct sink_result *r)
{
	json_object *issues, *issue, *key;

	if (resp == NULL || !json_object_object_get_ex(resp, "issues",
	    &issues) || !json_object_is_type(issues, json_type_array)) {
		sink_fail(r, SINK_PERMANENT, r->status, "jira search: HTTP "
		    "%ld without an issues list (is the url right?)",
		    r->status);
		return -1;
	}
	if (json_object_array_length(issues) == 0)
		return 0;
	issue = json_object_array_get_idx(issues, 0);
	if (!json_object_object_get_ex(issue, "key", &key) ||
	    !json_object_is_type(key, json_type_string) ||
	    !jira_key_ok(json_object_get_string(key))) {
		sink_fail(r, SINK_PERMANENT, r->status, "jira search: HTTP "
		    "%ld: an issue without a usable key", r->status);
		return -1;
	}
	snprintf(j->key, sizeof(j->key), "%s", json_object_get_string(key));
	*mine = jira_has_label(issue, j->idlabel);
	return 0;
}

static int
jira_search(struct jira *j, int *mine, struct sink_result *r)
{
	json_object *resp = NULL;
	int rc;

	*mine = 0;
	j->key[0] = '\0';
	rc = jira_post(j, "search", j->c->api == 3 ? "search/jql" : "search",
	    jira_search_body(j), &resp, r);
	if (rc == 0)
		rc = jira_search_parse(j, resp, mine, r);
	json_object_put(resp);
	return rc;
}

/* ---- comment and create ---- */

static int
jira_comment(struct jira *j, struct sink_result *r)
{
	char *sum = sink_summary(j->a), *lead = xasprintf("Seen again: %s",
	    sum), *path = xasprintf("issue/%s/comment", j->key);
	json_object *b = json_object_new_object();
	int rc;

	jira_add(b, "body", jira_rich(j, lead, 1));
	rc = jira_post(j, "comment", path, b, NULL, r);
	if (rc == 0)
		sink_fail(r, SINK_OK, r->status, "jira: commented on %s",
		    j->key);
	free(path);
	free(lead);
	free(sum);
	return rc;
}

static void
jira_label_add(json_object *arr, const char *label)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (strcmp(json_object_get_string(
		    json_object_array_get_idx(arr, i)), label) == 0)
			return;
	json_object_array_add(arr, jira_string(label));
}

/* "fimguard", the dedup label, this alert's label, then the configured
 * ones (an empty or repeated label would fail the create). */
static json_object *
jira_labels(const struct jira *j)
{
	json_object *l = json_object_new_array();

	jira_label_add(l, "fimguard");
	jira_label_add(l, j->a->dedup);
	jira_label_add(l, j->idlabel);
	for (size_t i = 0; i < j->c->labels.n; i++)
		if (j->c->labels.v[i] != NULL && *j->c->labels.v[i] != '\0')
			jira_label_add(l, j->c->labels.v[i]);
	return l;
}

static json_object *
jira_named(const char *k, const char *v)
{
	json_object *o = json_object_new_object();

	jira_add_str(o, k, v);
	return o;
}

static json_object *
jira_create_body(const struct jira *j)
{
	json_object *b = json_object_new_object(),
	    *f = json_object_new_object();
	const char *prio = j->c->priority[sink_severity(j->a)];
	char *sum = sink_summary(j->a), *lead = jira_lead(j->a);

	jira_add(f, "project", jira_named("key", j->c->project));
	jira_add(f, "issuetype", jira_named("name", j->c->issue_type));
	jira_add_str(f, "summary", sum);
	jira_add(f, "description", jira_rich(j, lead, 0));
	jira_add(f, "labels", jira_labels(j));
	if (prio != NULL)
		jira_add(f, "priority", jira_named("name", prio));
	jira_add(b, "fields", f);
	free(lead);
	free(sum);
	return b;
}

/* 201 {"id","key","self"}; a 2xx without a key is not a confirmation
 * (and a key goes into the log: only key characters). */
static int
jira_create(struct jira *j, struct sink_result *r)
{
	json_object *resp = NULL, *key;
	int rc = jira_post(j, "create", "issue", jira_create_body(j), &resp,
	    r);

	if (rc == 0 && (resp == NULL || !json_object_object_get_ex(resp,
	    "key", &key) || !json_object_is_type(key, json_type_string) ||
	    !jira_key_ok(json_object_get_string(key)))) {
		sink_fail(r, SINK_PERMANENT, r->status, "jira create: HTTP %ld "
		    "without an issue key in the answer", r->status);
		rc = -1;
	} else if (rc == 0)
		sink_fail(r, SINK_OK, r->status, "jira: created %s",
		    json_object_get_string(key));
	json_object_put(resp);
	return rc;
}

/* Search first, so a retry after a lost answer does not open a second
 * issue; when the search cannot be done, nothing is created. */
void
sink_jira_send(const struct sink_conf *c, const struct alert *a,
    struct sink_result *r)
{
	struct jira j;
	int mine;

	if (jira_open(&j, c, a, r) == 0 && jira_search(&j, &mine, r) == 0) {
		if (j.key[0] == '\0')
			jira_create(&j, r);
		else if (mine)
			sink_fail(r, SINK_OK, r->status, "jira: %s already "
			    "created by this alert", j.key);
		else
			jira_comment(&j, r);
	}
	jira_close(&j);
}
