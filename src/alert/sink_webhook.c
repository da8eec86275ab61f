/* The webhook sink: one JSON POST per alert. Slack, Mattermost and Teams
 * incoming webhooks show "text"; other receivers get the alert's ids and
 * the whole ECS event next to it. The body is built with json-c only. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/sink.h"
#include "alert/sink_webhook.h"

#define WEBHOOK_BEARER	"Authorization: Bearer "

/* Slack reads "<...>" as a link or mention and wants &, <, > escaped;
 * Markdown renderers (Mattermost, Teams) decode these entities back, so
 * a file named "<https://evil|approve>" shows as text everywhere. */
static char *
webhook_escape(const char *s)
{
	char *out = xmalloc(5 * strlen(s) + 1), *o = out;

	for (; *s != '\0'; s++) {
		const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" :
		    *s == '>' ? "&gt;" : NULL;

		if (e != NULL)
			o = stpcpy(o, e);
		else
			*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* The summary line, then the short text (no diff: chat messages are
 * read on phones), as valid UTF-8. */
static json_object *
webhook_text(const struct alert *a)
{
	char *sum = sink_summary(a), *txt = sink_text(a, 0), *both, *clean,
	    *esc;
	json_object *o;

	both = xasprintf("%s\n%s", sum, txt);
	clean = util_utf8_lossy(both);
	esc = webhook_escape(clean);
	o = json_object_new_string(esc);
	free(esc);
	free(clean);
	free(both);
	free(txt);
	free(sum);
	return o;
}

/* The event, or for a digest its count and items. Shared with the
 * caller, hence the extra references. */
static json_object *
webhook_event(const struct alert *a)
{
	json_object *o;

	if (a->ndigest == 0)
		return a->event != NULL ? json_object_get(a->event) :
		    json_object_new_object();
	o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int(a->ndigest));
	json_object_object_add(o, "reason", json_object_new_string(
	    a->overflow ? "spool_max" : "rate"));
	json_object_object_add(o, "unlisted",
	    json_object_new_int64(a->unlisted));
	json_object_object_add(o, "items", a->items != NULL ?
	    json_object_get(a->items) : json_object_new_array());
	return o;
}

static char *
webhook_body(const struct alert *a)
{
	json_object *o = json_object_new_object();
	json_object *f = json_object_new_object();
	char *s;

	json_object_object_add(f, "id", json_object_new_string(a->id));
	json_object_object_add(f, "dedup", json_object_new_string(a->dedup));
	json_object_object_add(f, "digest", json_object_new_int(a->ndigest));
	json_object_object_add(o, "text", webhook_text(a));
	json_object_object_add(o, "fimguard", f);
	json_object_object_add(o, "event", webhook_event(a));
	s = xstrdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

/* Bearer token, or NULL on error. The header line is composed in a
 * buffer wiped right after libcurl has copied it. */
static struct curl_slist *
webhook_headers(const struct sink_conf *c)
{
	struct curl_slist *l = curl_slist_append(NULL,
	    "Content-Type: application/json"), *t;
	char *auth;

	if (l == NULL || c->secret == NULL)
		return l;
	auth = sink_concat(WEBHOOK_BEARER, c->secret, "");
	t = curl_slist_append(l, auth);
	sink_wipe(auth);
	if (t == NULL)
		curl_slist_free_all(l);
	return t;
}

/* A token with a control byte would split the header; over plain http
 * to another machine it would be readable on the wire. Either way:
 * refuse, keep. */
static int
webhook_check(const struct sink_conf *c, struct sink_result *r)
{
	char origin[200];

	if (c->secret == NULL)
		return 0;
	if (!sink_clean_header(c->secret)) {
		sink_fail(r, SINK_PERMANENT, 0, "webhook: the token contains "
		    "a control character");
		return -1;
	}
	if (!sink_url_private(c->url)) {
		sink_url_origin(c->url, origin, sizeof(origin));
		sink_fail(r, SINK_PERMANENT, 0, "webhook: refusing to send the "
		    "token to %s without TLS", origin);
		return -1;
	}
	return 0;
}

void
sink_webhook_send(const struct sink_conf *c, const struct alert *a,
    struct sink_result *r)
{
	struct curl_slist *hdrs;
	char *body;
	CURL *h;

	if (webhook_check(c, r) < 0)
		return;
	if ((hdrs = webhook_headers(c)) == NULL || (h = sink_curl(c)) ==
	    NULL) {
		sink_headers_free(hdrs);
		sink_fail(r, SINK_RETRY, 0, "webhook: cannot set up libcurl");
		return;
	}
	body = webhook_body(a);
	/* its detail shows the URL's origin only: the path is a secret */
	sink_http(h, "POST", c->url, hdrs, body, NULL, r);
	curl_easy_cleanup(h);
	sink_headers_free(hdrs);
	free(body);
}
