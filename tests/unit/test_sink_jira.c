/* Unit tests for the Jira sink (src/sink_jira.c) against a scripted
 * HTTP server on a loopback socket: the exact requests sent (paths,
 * auth header, JSON bodies), the outcome and detail of each answer, and
 * the config errors refused before anything is sent. The strict Jira
 * double (tests/integration/jira_double.py) covers the dialects. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alert/sink.h"
#include "alert/sink_send.h"
#include "core/util.h"

#define MAXREQ	4

/* One scripted exchange per connection ("Connection: close"). */
struct srv {
	int		 fd;
	int		 port;
	int		 n;			/* scripted answers */
	const char	*answer[MAXREQ];	/* status line + headers + body */
	int		 got;			/* requests served */
	char		*req[MAXREQ];		/* head and body as received */
	pthread_t	 t;
};

static char *
srv_read(int c)
{
	size_t cap = 1 << 16, n = 0, len = 0;
	char *b = xmalloc(cap + 1), *end, *cl;
	ssize_t k;

	while (n < cap && (k = read(c, b + n, cap - n)) > 0) {
		n += (size_t)k;
		b[n] = '\0';
		if ((end = strstr(b, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(b, "\r\nContent-Length:");
		len = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		if (n >= (size_t)(end + 4 - b) + len)
			break;
	}
	b[n] = '\0';
	return b;
}

static void *
srv_run(void *arg)
{
	struct srv *s = arg;

	for (int i = 0; i < s->n; i++) {
		int c = accept(s->fd, NULL, NULL);
		char *out;

		if (c < 0)
			break;
		s->req[i] = srv_read(c);
		out = xasprintf("%sConnection: close\r\n", s->answer[i]);
		if (write(c, out, strlen(out)) < 0)
			s->got = -100;
		free(out);
		close(c);
		s->got++;
	}
	return NULL;
}

static void
srv_start(struct srv *s, int n, ...)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	va_list ap;

	memset(s, 0, sizeof(*s));
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	getsockname(s->fd, (struct sockaddr *)&a, &al);
	s->port = ntohs(a.sin_port);
	s->n = n;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		s->answer[i] = va_arg(ap, const char *);
	va_end(ap);
	pthread_create(&s->t, NULL, srv_run, s);
}

static void
srv_stop(struct srv *s)
{
	shutdown(s->fd, SHUT_RDWR);	/* wakes accept() if unused */
	pthread_join(s->t, NULL);
	close(s->fd);
}

static void
srv_free(struct srv *s)
{
	for (int i = 0; i < MAXREQ; i++)
		free(s->req[i]);
}

/* The JSON body of request i. */
static json_object *
srv_json(const struct srv *s, int i)
{
	const char *b = strstr(s->req[i], "\r\n\r\n");

	return b ? json_tokener_parse(b + 4) : NULL;
}

static char *
answer(const char *status, const char *hdrs, const char *body)
{
	return xasprintf("HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
	    "%sContent-Length: %zu\r\n\r\n%s", status, hdrs, strlen(body),
	    body);
}

struct fixture {
	struct sink_conf	 c;
	struct alert		 a;
	struct sink_result	 r;
	json_object		*ev;
	char			 url[64];
};

static void
fixture_init(struct fixture *f, int api, int port)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/", port);
	f->c.kind = SINK_JIRA;
	f->c.api = api;
	f->c.url = f->url;
	f->c.user = api == 3 ? "u@example.com" : NULL;
	f->c.secret = "s3cret";
	f->c.project = "SEC";
	f->c.issue_type = "Task";
	f->c.timeout_s = 5;
	f->c.priority[3] = "Highest";
	f->ev = json_tokener_parse("{\"event\":{\"action\":\"modified\","
	    "\"severity\":99},\"file\":{\"path\":\"/etc/shadow\"},"
	    "\"rule\":{\"name\":\"etc\"},\"fimguard\":{\"diff\":"
	    "\"-a\\n+b\\n\"}}");
	f->a.id = "17 x/y";
	f->a.host = "web1";
	f->a.event = f->ev;
	sink_dedup_label(f->a.host, f->ev, f->a.dedup, sizeof(f->a.dedup));
}

static const char *
jstr(json_object *o, const char *path)
{
	return sink_field(o, path);
}

/* ---- tests ---- */

static void
test_create_v3(void **state)
{
	struct fixture f;
	struct srv s;
	char *a1 = answer("200 OK", "", "{\"issues\":[],\"isLast\":true}"),
	    *a2 = answer("201 Created", "",
	    "{\"id\":\"1\",\"key\":\"SEC-7\",\"self\":\"x\"}");
	json_object *b, *labels, *content;

	(void)state;
	srv_start(&s, 2, a1, a2);
	fixture_init(&f, 3, s.port);
	sink_send(&f.c, &f.a, &f.r);
	srv_stop(&s);
	assert_int_equal(f.r.outcome, SINK_OK);
	assert_int_equal(f.r.status, 201);
	assert_string_equal(f.r.detail, "jira: created SEC-7");
	/* "u@example.com:s3cret", no trailing slash doubled */
	assert_non_null(strstr(s.req[0], "POST /rest/api/3/search/jql "));
	assert_non_null(strstr(s.req[0], "\r\nAuthorization: Basic "
	    "dUBleGFtcGxlLmNvbTpzM2NyZXQ=\r\n"));
	assert_non_null(strstr(s.req[1], "POST /rest/api/3/issue "));
	b = srv_json(&s, 0);
	assert_non_null(strstr(jstr(b, "jql"), "project = \"SEC\" AND labels "
	    "= \"fimguard-"));
	assert_false(json_object_object_get_ex(b, "startAt", NULL));
	json_object_put(b);
	b = srv_json(&s, 1);
	assert_string_equal(jstr(b, "fields.priority.name"), "Highest");
	assert_string_equal(jstr(b, "fields.description.type"), "doc");
	json_object_object_get_ex(json_object_object_get(b, "fields"),
	    "labels", &labels);
	assert_int_equal(json_object_array_length(labels), 3);
	assert_string_equal(json_object_get_string(
	    json_object_array_get_idx(labels, 2)), "fimguard-id-17_x_y");
	content = json_object_object_get(json_object_object_get(
	    json_object_object_get(b, "fields"), "description"), "content");
	/* lead, text, "Diff from the baseline:", diff */
	assert_int_equal(json_object_array_length(content), 4);
	assert_string_equal(jstr(json_object_array_get_idx(content, 3),
	    "attrs.language"), "diff");
	json_object_put(b);
	json_object_put(f.ev);
	srv_free(&s);
	free(a1);
	free(a2);
}

static void
test_comment_v2(void **state)
{
	struct fixture f;
	struct srv s;
	char *a1 = answer("200 OK", "", "{\"startAt\":0,\"total\":1,\"issues\":"
	    "[{\"key\":\"SEC-3\",\"fields\":{\"labels\":[\"fimguard\"]}}]}"),
	    *a2 = answer("201 Created", "", "{\"id\":\"9\"}");
	/* wiki markup: the lead escaped, the text kept verbatim */
	const char *want = "Seen again: \\[fimguard\\]\\[CRITICAL\\] "
	    "modified /etc/shadow on web1\n{noformat}\nfimguard saw a change";
	json_object *b;

	(void)state;
	srv_start(&s, 2, a1, a2);
	fixture_init(&f, 2, s.port);
	sink_send(&f.c, &f.a, &f.r);
	srv_stop(&s);
	assert_int_equal(f.r.outcome, SINK_OK);
	assert_string_equal(f.r.detail, "jira: commented on SEC-3");
	assert_non_null(strstr(s.req[0], "POST /rest/api/2/search "));
	assert_non_null(strstr(s.req[0], "\r\nAuthorization: Bearer "
	    "s3cret\r\n"));
	assert_non_null(strstr(s.req[1], "POST /rest/api/2/issue/SEC-3/"
	    "comment "));
	b = srv_json(&s, 1);
	assert_true(json_object_is_type(json_object_object_get(b, "body"),
	    json_type_string));
	assert_memory_equal(jstr(b, "body"), want, strlen(want));
	json_object_put(b);
	json_object_put(f.ev);
	srv_free(&s);
	free(a1);
	free(a2);
}

/* The issue carries this alert's own label: an earlier try made it. */
static void
test_already_mine(void **state)
{
	struct fixture f;
	struct srv s;
	char *a1 = answer("200 OK", "", "{\"issues\":[{\"key\":\"SEC-4\","
	    "\"fields\":{\"labels\":[\"fimguard-id-17_x_y\"]}}]}");

	(void)state;
	srv_start(&s, 1, a1);
	fixture_init(&f, 3, s.port);
	sink_send(&f.c, &f.a, &f.r);
	srv_stop(&s);
	assert_int_equal(s.got, 1);
	assert_int_equal(f.r.outcome, SINK_OK);
	assert_string_equal(f.r.detail,
	    "jira: SEC-4 already created by this alert");
	json_object_put(f.ev);
	srv_free(&s);
	free(a1);
}

/* A failed search never leads to a create. */
static const struct {
	const char	*status, *hdrs, *body;
	int		 outcome;
	long		 retry;
	const char	*detail_start, *detail_has;
} search_fail[] = {
	{ "429 Too Many", "Retry-After: 7\r\n", "{}", SINK_RETRY, 7,
	  "jira search: POST http://", "HTTP 429" },
	{ "503 Unavailable", "", "", SINK_RETRY, -1,
	  "jira search: POST http://", "HTTP 503" },
	{ "401 Unauthorized", "", "{\"errorMessages\":[\"not you\"],"
	  "\"errors\":{}}", SINK_PERMANENT, -1, "jira search: POST http://",
	  "not you" },
	{ "200 OK", "", "<html>login</html>", SINK_PERMANENT, -1,
	  "jira search: HTTP 200 without an issues list", "" },
	{ "200 OK", "", "{\"issues\":[{\"key\":\"../x\"}]}", SINK_PERMANENT,
	  -1, "jira search: HTTP 200: an issue without a usable key", "" },
};

static void
test_search_fail(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(search_fail) / sizeof(search_fail[0]);
	    i++) {
		struct fixture f;
		struct srv s;
		char *a1 = answer(search_fail[i].status, search_fail[i].hdrs,
		    search_fail[i].body);

		srv_start(&s, 1, a1);
		fixture_init(&f, 3, s.port);
		sink_send(&f.c, &f.a, &f.r);
		srv_stop(&s);
		assert_int_equal(s.got, 1);
		assert_int_equal(f.r.outcome, search_fail[i].outcome);
		assert_int_equal(f.r.retry_after_s, search_fail[i].retry);
		assert_memory_equal(f.r.detail, search_fail[i].detail_start,
		    strlen(search_fail[i].detail_start));
		assert_non_null(strstr(f.r.detail, search_fail[i].detail_has));
		assert_null(strstr(f.r.detail, "s3cret"));
		json_object_put(f.ev);
		srv_free(&s);
		free(a1);
	}
}

static void
test_create_without_key(void **state)
{
	struct fixture f;
	struct srv s;
	char *a1 = answer("200 OK", "", "{\"issues\":[]}"),
	    *a2 = answer("201 Created", "", "{\"id\":\"1\"}");

	(void)state;
	srv_start(&s, 2, a1, a2);
	fixture_init(&f, 3, s.port);
	sink_send(&f.c, &f.a, &f.r);
	srv_stop(&s);
	assert_int_equal(f.r.outcome, SINK_PERMANENT);
	assert_string_equal(f.r.detail,
	    "jira create: HTTP 201 without an issue key in the answer");
	json_object_put(f.ev);
	srv_free(&s);
	free(a1);
	free(a2);
}

/* Refused before any connection: the server sees nothing. */
static void
test_conf_errors(void **state)
{
	static const struct {
		int		 api;
		const char	*user, *secret, *id, *detail;
	} t[] = {
		{ 4, "u", "t", "1", "jira: api must be 2 or 3" },
		{ 3, NULL, "t", "1", "jira: api 3 needs a user without ':' "
		  "or control characters" },
		{ 3, "a:b", "t", "1", "jira: api 3 needs a user without ':' "
		  "or control characters" },
		{ 2, NULL, "t\r\nX: y", "1", "jira: the token is missing or "
		  "holds a control character" },
		{ 2, NULL, "", "1", "jira: the token is missing or holds a "
		  "control character" },
		{ 2, NULL, "t", "", "jira: alert without an id or dedup "
		  "label" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct fixture f;
		struct srv s;

		srv_start(&s, 1, "unused");
		fixture_init(&f, t[i].api, s.port);
		f.c.user = (char *)t[i].user;
		f.c.secret = (char *)t[i].secret;
		f.a.id = t[i].id;
		sink_send(&f.c, &f.a, &f.r);
		srv_stop(&s);
		assert_int_equal(s.got, 0);
		assert_int_equal(f.r.outcome, SINK_PERMANENT);
		assert_string_equal(f.r.detail, t[i].detail);
		json_object_put(f.ev);
		srv_free(&s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_v3),
		cmocka_unit_test(test_comment_v2),
		cmocka_unit_test(test_already_mine),
		cmocka_unit_test(test_search_fail),
		cmocka_unit_test(test_create_without_key),
		cmocka_unit_test(test_conf_errors),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("sink_jira", tests, NULL, NULL);
}
