/* What the three alert sinks share: a libcurl handle with verification
 * always on, one HTTP exchange with a capped response, how a status maps
 * to "done, retry, keep", and the words a person reads (summary, text).
 * Runs only in the alerter process. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/sink.h"

#define SINK_RESPONSE_MAX	(1 << 20)	/* Jira answers are small */
#define SINK_SUMMARY_MAX	255		/* Jira's summary limit */
#define SINK_RETRY_AFTER_MAX	3600		/* a server cannot stall us */

struct sink_buf {
	char	*p;
	size_t	 n;
	int	 overflow;
	long	 retry_after;
};

void
sink_fail(struct sink_result *r, int outcome, long status, const char *fmt,
    ...)
{
	va_list ap;

	r->outcome = outcome;
	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* Verification cannot be turned off: there is no key for it. A CA file
 * is handed over as bytes (the alerter cannot read root's files). */
CURL *
sink_curl(const struct sink_conf *c)
{
	CURL *h = curl_easy_init();

	if (h == NULL)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s > 0 ?
	    c->timeout_s : 30L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "fimguard");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->kind == SINK_SMTP ?
	    "smtp,smtps" : "http,https");
	if (c->ca_blob != NULL) {
		struct curl_blob b = { c->ca_blob, c->ca_len,
		    CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	}
	return h;
}

static size_t
sink_body_cb(char *d, size_t sz, size_t nm, void *arg)
{
	struct sink_buf *b = arg;
	size_t n = sz * nm;

	if (b->n + n > SINK_RESPONSE_MAX) {
		b->overflow = 1;
		return n;	/* drop the rest, keep the status */
	}
	b->p = xreallocarray(b->p, b->n + n + 1, 1);
	memcpy(b->p + b->n, d, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

/* Retry-After: seconds, or an HTTP date. */
static size_t
sink_header_cb(char *d, size_t sz, size_t nm, void *arg)
{
	struct sink_buf *b = arg;
	size_t n = sz * nm;
	char line[128];

	if (n < 12 || n >= sizeof(line) || strncasecmp(d, "Retry-After:",
	    12) != 0)
		return n;
	memcpy(line, d + 12, n - 12);
	line[n - 12] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (line[strspn(line, " \t")] == '\0')
		return n;	/* empty: as if absent */
	if (line[strspn(line, " \t0123456789")] == '\0')
		b->retry_after = strtol(line, NULL, 10);
	else {
		time_t t = curl_getdate(line, NULL);

		if (t > 0)
			b->retry_after = t > time(NULL) ? t - time(NULL) : 0;
	}
	if (b->retry_after > SINK_RETRY_AFTER_MAX)
		b->retry_after = SINK_RETRY_AFTER_MAX;
	return n;
}

void
sink_classify_http(long status, struct sink_result *r)
{
	r->status = status;
	if (status >= 200 && status < 300)
		r->outcome = SINK_OK;
	else if (status == 408 || status == 425 || status == 429 ||
	    status >= 500)
		r->outcome = SINK_RETRY;
	else
		r->outcome = SINK_PERMANENT;	/* 3xx (no redirects), 4xx */
}

static void
sink_detail_add(struct sink_result *r, json_object *v)
{
	size_t n = strlen(r->detail);

	if (v == NULL || (json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) == 0) ||
	    (json_object_is_type(v, json_type_object) &&
	    json_object_object_length(v) == 0) || n >= sizeof(r->detail) - 1)
		return;
	snprintf(r->detail + n, sizeof(r->detail) - n, " %s",
	    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Jira's "errorMessages" and "errors", for the operator's log. */
static void
sink_error_detail(const char *body, struct sink_result *r)
{
	json_object *o = body ? json_tokener_parse(body) : NULL, *v;

	if (o == NULL)
		return;
	if (json_object_object_get_ex(o, "errorMessages", &v))
		sink_detail_add(r, v);
	if (json_object_object_get_ex(o, "errors", &v))
		sink_detail_add(r, v);
	json_object_put(o);
}

/* "scheme://host[:port]/..." for the log: a webhook URL's path is
 * often its secret (Slack, Teams), and a URL from a secret may even hold
 * user:password, so logs never show more than this. */
void
sink_url_origin(const char *url, char *out, size_t len)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;

	snprintf(out, len, "(url)");
	if (u != NULL && url != NULL && curl_url_set(u, CURLUPART_URL, url,
	    0) == CURLUE_OK && curl_url_get(u, CURLUPART_SCHEME, &scheme,
	    0) == CURLUE_OK && curl_url_get(u, CURLUPART_HOST, &host,
	    0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		snprintf(out, len, "%s://%s%s%s/...", scheme, host,
		    port ? ":" : "", port ? port : "");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

/* 127.0.0.0/8 as an address literal, [::1], or localhost. */
static int
sink_loopback(const char *host)
{
	struct in_addr a;

	if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a) == 1 &&
	    (ntohl(a.s_addr) >> 24) == 127;
}

/* May a credential travel to url? Over TLS, or over plain http to this
 * machine's loopback (a local relay or test server) only. */
int
sink_url_private(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok = 0;

	if (u != NULL && url != NULL && curl_url_set(u, CURLUPART_URL, url,
	    0) == CURLUE_OK && curl_url_get(u, CURLUPART_SCHEME, &scheme,
	    0) == CURLUE_OK && curl_url_get(u, CURLUPART_HOST, &host,
	    0) == CURLUE_OK)
		ok = strcmp(scheme, "https") == 0 || (strcmp(scheme,
		    "http") == 0 && sink_loopback(host));
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* One request; body NULL: GET. Returns 0 on a 2xx (with *resp parsed
 * when asked and JSON), -1 with r filled in otherwise. */
int
sink_http(CURL *h, const char *method, const char *url,
    struct curl_slist *hdrs, const char *body, json_object **resp,
    struct sink_result *r)
{
	struct sink_buf b = { NULL, 0, 0, -1 };
	long status = 0;
	CURLcode rc;
	char origin[200], err[CURL_ERROR_SIZE] = "";

	if (resp != NULL)
		*resp = NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (body != NULL)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, body != NULL &&
	    strcmp(method, "POST") != 0 ? method : NULL);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_body_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, sink_header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);	/* says more */
	rc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);	/* err goes away */
	r->retry_after_s = b.retry_after;
	sink_url_origin(url, origin, sizeof(origin));
	if (rc != CURLE_OK) {
		/* what no retry can fix is kept for the operator */
		sink_fail(r, rc == CURLE_PEER_FAILED_VERIFICATION ||
		    rc == CURLE_SSL_CACERT_BADFILE ||
		    rc == CURLE_UNSUPPORTED_PROTOCOL ||
		    rc == CURLE_URL_MALFORMAT ? SINK_PERMANENT : SINK_RETRY, 0,
		    "%s %s: %s", method, origin, err[0] != '\0' ? err :
		    curl_easy_strerror(rc));
		free(b.p);
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	sink_classify_http(status, r);
	snprintf(r->detail, sizeof(r->detail), "%s %s: HTTP %ld", method,
	    origin, status);
	if (r->outcome != SINK_OK) {
		sink_error_detail(b.p, r);
		free(b.p);
		return -1;
	}
	if (resp != NULL && b.p != NULL && !b.overflow)
		*resp = json_tokener_parse(b.p);
	free(b.p);
	return 0;
}

/* A string at a dotted path of the event ("file.path"), or NULL. */
const char *
sink_field(json_object *ev, const char *dotted)
{
	char key[64];
	const char *p = dotted, *dot;
	json_object *o = ev;

	while (o != NULL && (dot = strchr(p, '.')) != NULL) {
		if ((size_t)(dot - p) >= sizeof(key))
			return NULL;
		memcpy(key, p, (size_t)(dot - p));
		key[dot - p] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		p = dot + 1;
	}
	if (o == NULL || !json_object_object_get_ex(o, p, &o) ||
	    json_object_is_type(o, json_type_object) ||
	    json_object_is_type(o, json_type_array))
		return NULL;
	return json_object_get_string(o);
}

static const char *sink_names[SINK_NKINDS] = { "jira", "smtp",
	"webhook", "syslog" };

/* A sink's name: its config section and its spool entries' suffix. */
const char *
sink_name(int kind)
{
	return kind >= 0 && kind < SINK_NKINDS ? sink_names[kind] : "?";
}

static const char *sink_sev_names[] = { "low", "medium", "high",
	"critical" };

/* 0 low .. 3 critical, from the numeric ECS severity (21/47/73/99);
 * a digest takes its worst item. */
static int
sink_event_severity(json_object *ev)
{
	const char *s = sink_field(ev, "event.severity");
	long v = s ? strtol(s, NULL, 10) : 0;

	return v >= 99 ? 3 : v >= 73 ? 2 : v >= 47 ? 1 : 0;
}

int
sink_severity(const struct alert *a)
{
	int worst = 0;

	if (a->ndigest == 0 || a->items == NULL)
		return sink_event_severity(a->event);
	for (size_t i = 0; i < json_object_array_length(a->items); i++) {
		int s = sink_event_severity(json_object_array_get_idx(a->items,
		    i));

		worst = s > worst ? s : worst;
	}
	return worst;
}

const char *
sink_severity_name(int s)
{
	return sink_sev_names[s < 0 || s > 3 ? 0 : s];
}

/* "[fimguard][CRITICAL] modified /etc/shadow on host", at most 255
 * bytes, cut on a UTF-8 boundary. */
char *
sink_summary(const struct alert *a)
{
	char sev[16], *s;
	const char *name = sink_severity_name(sink_severity(a));
	size_t n;

	for (n = 0; n < sizeof(sev) - 1 && name[n] != '\0'; n++)
		sev[n] = (char)(name[n] - 32 * (name[n] >= 'a' &&
		    name[n] <= 'z'));
	sev[n] = '\0';
	if (a->ndigest > 0)
		s = xasprintf("[fimguard][%s] digest: %d alerts on %s", sev,
		    a->ndigest, a->host ? a->host : "?");
	else
		s = xasprintf("[fimguard][%s] %s %s on %s", sev,
		    sink_field(a->event, "event.action") ?: "alert",
		    sink_field(a->event, "file.path") ?: "?",
		    a->host ? a->host : "?");
	if (!util_utf8_valid(s, strlen(s))) {	/* a name's raw bytes */
		char *u = util_utf8_lossy(s);

		free(s);
		s = u;
	}
	util_flatten_controls(s);	/* mail headers, Jira summary */
	if ((n = strlen(s)) > SINK_SUMMARY_MAX) {
		n = SINK_SUMMARY_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		s[n] = '\0';
	}
	return s;
}

/* One "Label: value" line; a value (a file name, a command line) can
 * hold newlines that would forge lines of their own: flattened. */
static void
sink_line(FILE *f, const char *label, const char *value)
{
	char *v;

	if (value == NULL)
		return;
	v = xstrdup(value);
	util_flatten_controls(v);
	fprintf(f, "%-18s %s\n", label, v);
	free(v);
}

static void
sink_event_text(FILE *f, json_object *ev, int with_diff)
{
	static const char *rows[][2] = {
		{ "Action:", "event.action" }, { "Outcome:", "event.outcome" },
		{ "Path:", "file.path" }, { "Rule:", "rule.name" },
		{ "Severity:", "fimguard.severity" },
		{ "Mode:", "fimguard.mode" },
		{ "Decision:", "fimguard.decision" },
		{ "Intent:", "fimguard.intent" }, { "Time:", "@timestamp" },
		{ "Process id:", "process.pid" },
		{ "Executable:", "process.executable" },
		{ "Process name:", "process.title" },
		{ "Argument count:", "process.args_count" },
		{ "Parent id:", "process.parent.pid" },
		{ "Parent exe:", "process.parent.executable" },
		{ "User id:", "user.id" }, { "Effective uid:",
		"user.effective.id" }, { "Group id:", "group.id" },
		{ "Login uid:", "user.audit.id" },
		{ "Session:", "fimguard.process.session_id" },
		{ "SHA-256 now:", "file.hash.sha256" },
		{ "SHA-256 baseline:", "fimguard.baseline.sha256" },
		{ "Note:", "fimguard.note" },
		{ "Package:", "fimguard.package.name" },
		{ "Package version:", "fimguard.package.version" },
		{ "Previous version:", "fimguard.package.previous_version" },
		{ "Package verified:", "fimguard.package.verified" },
		{ "Not verified:", "fimguard.package.reason" },
	};
	json_object *args, *d;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		sink_line(f, rows[i][0], sink_field(ev, rows[i][1]));
	if (json_object_object_get_ex(ev, "process", &args) &&
	    json_object_object_get_ex(args, "args", &args)) {
		char *cl = NULL;
		size_t cn = 0;
		FILE *c = open_memstream(&cl, &cn);

		for (size_t i = 0; c != NULL &&
		    i < json_object_array_length(args); i++)
			fprintf(c, "%s%s", i ? " " : "", json_object_get_string(
			    json_object_array_get_idx(args, i)));
		if (c != NULL)
			fclose(c);
		sink_line(f, "Command line:", cl);
		free(cl);
	}
	if (with_diff && json_object_object_get_ex(ev, "fimguard", &d) &&
	    json_object_object_get_ex(d, "diff", &d))
		fprintf(f, "\nDiff from the baseline:\n%s\n",
		    json_object_get_string(d));
}

/* A digest: why, then one line per item; an item that stands for
 * more than one occurrence (repeated denials, or alerts folded past
 * spool_max) says how many. */
static void
sink_digest_text(FILE *f, const struct alert *a)
{
	if (a->overflow)
		fprintf(f, "%d alerts on %s did not fit the alert spool "
		    "(spool_max) while this sink was not taking them; they "
		    "are summarised here.\n\n", a->ndigest, a->host);
	else
		fprintf(f, "%d alerts on %s came faster than the configured "
		    "rate; they are summarised here.\n\n", a->ndigest,
		    a->host);
	for (size_t i = 0; a->items != NULL &&
	    i < json_object_array_length(a->items); i++) {
		json_object *ev = json_object_array_get_idx(a->items, i);
		const char *n = sink_field(ev, "fimguard.repeat.count");
		char *line = xasprintf("%s %s %s (rule %s, pid %s%s%s%s)",
		    sink_field(ev, "@timestamp") ?: "?",
		    sink_field(ev, "event.action") ?: "?",
		    sink_field(ev, "file.path") ?: "?",
		    sink_field(ev, "rule.name") ?: "?",
		    sink_field(ev, "process.pid") ?: "?",
		    n != NULL ? ", " : "", n != NULL ? n : "",
		    n != NULL ? " times" : "");

		sink_line(f, "-", line);
		free(line);
	}
	if (a->unlisted > 0)
		fprintf(f, "... and %ld more, not listed.\n", a->unlisted);
}

/* The body a person reads: what happened, who did it, the hashes, and
 * what to do next. */
char *
sink_text(const struct alert *a, int with_diff)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (f == NULL)
		return xstrdup("");
	if (a->ndigest > 0) {
		sink_digest_text(f, a);
	} else {
		fprintf(f, "fimguard saw a change to a protected file on "
		    "%s.\n\n", a->host);
		sink_event_text(f, a->event, with_diff);
	}
	fprintf(f, "\nIf the change was expected, accept it into the "
	    "baseline:\n  fimguard approve --reason \"...\" PATH\n"
	    "Otherwise treat the host as compromised: check the process "
	    "and login above, and compare with `fimguard check`.\n"
	    "Alert id: %s\n", a->id);
	fclose(f);
	if (!util_utf8_valid(s, n)) {
		char *u = util_utf8_lossy(s);

		free(s);
		s = u;
	}
	return s;
}

/* A mail header value or address: no CR, LF or other control byte. */
int
sink_clean_header(const char *s)
{
	return s != NULL && !util_has_control(s);
}

/* "fimguard-" + 24 hex digits of SHA-256(host, path, new content hash,
 * action): the same change on the same host always gets the same label,
 * so a retried create finds the first one. */
void
sink_dedup_label(const char *host, json_object *ev, char *out, size_t len)
{
	const char *parts[4] = { host, sink_field(ev, "file.path"),
	    sink_field(ev, "file.hash.sha256"),
	    sink_field(ev, "event.action") };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	char hex[65];

	if (c == NULL)
		abort();	/* out of memory, as xmalloc would */
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (int i = 0; i < 4; i++) {
		const char *p = parts[i] ? parts[i] : "";

		EVP_DigestUpdate(c, p, strlen(p) + 1);	/* with the NUL */
	}
	EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	util_hex(md, 12, hex);
	snprintf(out, len, "fimguard-%s", hex);
}

/* Wipe a string that held a secret, then free it. */
void
sink_wipe(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* a b c in one new string. memcpy rather than xasprintf: vasprintf may
 * leave copies of a secret in buffers it grew and freed. */
char *
sink_concat(const char *a, const char *b, const char *c)
{
	size_t na = strlen(a), nb = strlen(b), nc = strlen(c);
	char *s = xmalloc(na + nb + nc + 1);

	memcpy(s, a, na);
	memcpy(s + na, b, nb);
	memcpy(s + na + nb, c, nc + 1);
	return s;
}

/* curl_slist_append copies: an Authorization line lives in the list
 * too, so every node is wiped before it is freed. */
void
sink_headers_free(struct curl_slist *l)
{
	for (struct curl_slist *s = l; s != NULL; s = s->next)
		explicit_bzero(s->data, strlen(s->data));
	curl_slist_free_all(l);
}
