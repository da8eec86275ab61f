/* Unit tests for what alerts rest on: the monitor <-> alerter protocol
 * (exact sizes, nothing else accepted), the spool (durable entries,
 * names in time order, foreign files told apart from unreadable ones),
 * and the words every sink uses (summary, dedup label, header check,
 * how an HTTP status is classified). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert/msg.h"
#include "alert/sink.h"
#include "alert/spool.h"
#include "core/util.h"

/* ---- protocol ---------------------------------------------------------- */

static void
test_msg_round_trip(void **state)
{
	int sv[2];
	struct msg_result r = { .sink = SINK_JIRA, .outcome = SINK_OK,
	    .status = 201, .count = 1 };
	struct msg m;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	snprintf(r.name, sizeof(r.name), "1-000001-jira.json");
	snprintf(r.detail, sizeof(r.detail), "jira: created SEC-1");
	assert_int_equal(msg_send(sv[0], MSG_RESULT, &r, sizeof(r)), 0);
	assert_int_equal(msg_recv(sv[1], &m), 1);
	assert_int_equal(m.type, MSG_RESULT);
	assert_int_equal(m.u.result.status, 201);
	assert_string_equal(m.u.result.detail, "jira: created SEC-1");
	assert_int_equal(msg_recv(sv[1], &m), 0);	/* nothing waiting */
	close(sv[0]);
	assert_int_equal(msg_recv(sv[1], &m), -1);	/* peer gone */
	close(sv[1]);
}

/* What a hostile peer might send, each refused as malformed (-2). */
static void
test_msg_malformed(void **state)
{
	struct { uint32_t type, len; char pad[400]; } raw;
	static const struct { uint32_t type, len; size_t total; } bad[] = {
		{ 0, 8, 16 },				/* no such type */
		{ MSG_NTYPES, 8, 16 },			/* past the enum */
		{ MSG_KICK, 4, 12 },			/* short payload */
		{ MSG_KICK, 8, 12 },			/* len lies */
		{ MSG_KICK, 8, 24 },			/* trailing bytes */
		{ MSG_HELLO, 8, 16 },			/* kick-sized hello */
		{ MSG_RESULT, sizeof(struct msg_result), 8 +
		    sizeof(struct msg_result) },	/* unterminated */
	};
	struct msg m;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&raw, 'x', sizeof(raw));
		raw.type = bad[i].type;
		raw.len = bad[i].len;
		assert_int_equal(send(sv[0], &raw, bad[i].total, 0),
		    (ssize_t)bad[i].total);
		assert_int_equal(msg_recv(sv[1], &m), -2);
	}
	/* a datagram bigger than any message: truncated, still refused */
	assert_true(sizeof(raw) > sizeof(struct msg));
	raw.type = MSG_KICK;
	raw.len = sizeof(struct msg_kick);
	assert_int_equal(send(sv[0], &raw, sizeof(raw), 0),
	    (ssize_t)sizeof(raw));
	assert_int_equal(msg_recv(sv[1], &m), -2);
	close(sv[0]);
	close(sv[1]);
}

/* ---- spool ------------------------------------------------------------- */

static char spool_tmp[64];

static int
spool_setup(void **state)
{
	snprintf(spool_tmp, sizeof(spool_tmp), "/tmp/fg-spool.XXXXXX");
	*state = mkdtemp(spool_tmp);
	return *state == NULL;
}

static int
spool_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", (char *)*state);
	return system(cmd) != 0;
}

static json_object *
spool_event(const char *path)
{
	json_object *ev = json_object_new_object(), *f;

	f = json_object_new_object();
	json_object_object_add(f, "path", json_object_new_string(path));
	json_object_object_add(ev, "file", f);
	return ev;
}

static void
test_spool_round_trip(void **state)
{
	int dfd = spool_open(*state, getgid());
	char name[96], name2[96], path[256];
	json_object *ev = spool_event("/etc/a\nb"), *back;
	struct strlist l = { 0 };
	struct stat st;

	assert_true(dfd >= 0);
	snprintf(path, sizeof(path), "%s/spool", (char *)*state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02770);
	assert_int_equal(spool_push(dfd, "jira", 1, ev, name, sizeof(name)),
	    0);
	assert_int_equal(spool_push(dfd, "smtp", 2, ev, name2, sizeof(name2)),
	    0);
	assert_string_equal(spool_sink(name), "jira");
	assert_string_equal(spool_sink(name2), "smtp");
	assert_int_equal(fstatat(dfd, name, &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(spool_list(dfd, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], name);	/* oldest first */
	back = spool_load(dfd, name);
	assert_non_null(back);
	assert_string_equal(sink_field(back, "file.path"), "/etc/a\nb");
	json_object_put(back);
	assert_int_equal(spool_keep(dfd, name2), 0);	/* to failed/ */
	assert_int_equal(spool_done(dfd, name), 0);
	strlist_free(&l);
	l = (struct strlist){ 0 };
	assert_int_equal(spool_list(dfd, &l), 0);
	assert_int_equal(l.n, 0);
	snprintf(path, sizeof(path), "%s/spool/failed/%s", (char *)*state,
	    name2);
	assert_int_equal(access(path, R_OK), 0);
	strlist_free(&l);
	json_object_put(ev);
	close(dfd);
}

/* Not ours (EINVAL: moved aside) versus gone (ENOENT: skipped). */
static void
test_spool_foreign_entries(void **state)
{
	static const char *junk[] = { "", "{}", "[1]", "{\"v\":2,\"event\":{}}",
	    "{\"v\":1,\"event\":[]}", "{\"v\":1,\"event\":{}", "\xff\xfe" };
	int dfd = spool_open(*state, getgid());
	struct strlist l = { 0 };

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		int fd = openat(dfd, "x.json", O_WRONLY | O_CREAT | O_TRUNC,
		    0640);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, junk[i], strlen(junk[i])),
		    (ssize_t)strlen(junk[i]));
		close(fd);
		errno = 0;
		assert_null(spool_load(dfd, "x.json"));
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_null(spool_load(dfd, "gone.json"));
	assert_int_equal(errno, ENOENT);
	/* names without a known sink, and temporary entries, are not
	 * listed */
	close(openat(dfd, ".1-000001-jira.json", O_WRONLY | O_CREAT, 0640));
	close(openat(dfd, "1-000001-ftp.json", O_WRONLY | O_CREAT, 0640));
	assert_int_equal(spool_list(dfd, &l), 0);
	assert_int_equal(l.n, 0);
	assert_null(spool_sink("1-000001-jira.json.bak"));
	strlist_free(&l);
	close(dfd);
}

/* The digest of what did not fit: held aside (not listed, not
 * counted), rewritten as it grows, then released as one ready entry
 * whose digest part comes back with it. */
static void
test_spool_hold_and_release(void **state)
{
	int dfd = spool_open(*state, getgid());
	json_object *ev = spool_event("/etc/a"), *d = json_object_new_object();
	json_object *back, *dig = NULL, *v;
	struct strlist l = { 0 };
	char name[96], one[96];

	assert_int_equal(spool_push(dfd, "webhook", 1, ev, one, sizeof(one)),
	    0);
	/* nothing held: nothing to release */
	assert_int_equal(spool_release(dfd, "webhook", name, sizeof(name)),
	    -1);
	assert_int_equal(errno, ENOENT);
	json_object_object_add(d, "count", json_object_new_int(1));
	assert_int_equal(spool_hold(dfd, "webhook", ev, d), 0);
	json_object_object_add(d, "count", json_object_new_int(2));
	assert_int_equal(spool_hold(dfd, "webhook", ev, d), 0);
	assert_int_equal(spool_count(dfd, "webhook"), 1);	/* held aside */
	assert_int_equal(spool_count(dfd, "jira"), 0);
	assert_int_equal(spool_release(dfd, "webhook", name, sizeof(name)),
	    0);
	assert_true(spool_is_digest(name));
	assert_false(spool_is_digest(one));
	assert_string_equal(spool_sink(name), "webhook");
	assert_int_equal(spool_count(dfd, "webhook"), 2);
	assert_int_equal(spool_list(dfd, &l), 0);
	assert_int_equal(l.n, 2);
	back = spool_load_entry(dfd, name, &dig);
	assert_non_null(back);
	assert_non_null(dig);
	assert_true(json_object_object_get_ex(dig, "count", &v));
	assert_int_equal(json_object_get_int(v), 2);	/* the last hold */
	json_object_put(back);
	json_object_put(dig);
	back = spool_load_entry(dfd, one, &dig);	/* a single alert */
	assert_non_null(back);
	assert_null(dig);
	json_object_put(back);
	strlist_free(&l);
	json_object_put(d);
	json_object_put(ev);
	close(dfd);
}

/* ---- words ------------------------------------------------------------- */

static json_object *
word_event(const char *action, const char *path, int severity)
{
	json_object *ev = spool_event(path), *e = json_object_new_object();

	json_object_object_add(e, "action", json_object_new_string(action));
	json_object_object_add(e, "severity", json_object_new_int(severity));
	json_object_object_add(ev, "event", e);
	return ev;
}

static void
test_summary(void **state)
{
	static const struct { const char *action, *path; int sev;
	    const char *want; } cases[] = {
		{ "modified", "/etc/shadow", 99,
		  "[fimguard][CRITICAL] modified /etc/shadow on h" },
		{ "deleted", "/etc/x", 73, "[fimguard][HIGH] deleted /etc/x on h" },
		{ "created", "/etc/a\nb\r", 47,
		  "[fimguard][MEDIUM] created /etc/a?b? on h" },
		{ "renamed", "/etc/\xff", 21,
		  "[fimguard][LOW] renamed /etc/\xef\xbf\xbd on h" },
	};
	char *s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct alert a = { .id = "x", .host = "h",
		    .event = word_event(cases[i].action, cases[i].path,
		    cases[i].sev) };

		s = sink_summary(&a);
		assert_string_equal(s, cases[i].want);
		free(s);
		json_object_put(a.event);
	}
}

static void
test_summary_is_cut_at_255_on_a_character(void **state)
{
	char path[600] = "/";
	struct alert a = { .id = "x", .host = "h" };
	char *s;

	(void)state;
	for (int i = 0; i < 150; i++)
		strcat(path, "\xc3\xa9");	/* two bytes each */
	a.event = word_event("modified", path, 99);
	s = sink_summary(&a);
	assert_true(strlen(s) <= 255);
	assert_true(util_utf8_valid(s, strlen(s)));
	free(s);
	json_object_put(a.event);
}

static void
test_dedup_label(void **state)
{
	json_object *a = word_event("modified", "/etc/x", 99);
	json_object *b = word_event("modified", "/etc/x", 47);
	json_object *c = word_event("modified", "/etc/y", 99);
	char la[40], lb[40], lc[40], lh[40];

	(void)state;
	sink_dedup_label("h", a, la, sizeof(la));
	sink_dedup_label("h", b, lb, sizeof(lb));
	sink_dedup_label("h", c, lc, sizeof(lc));
	sink_dedup_label("other", a, lh, sizeof(lh));
	assert_int_equal(strlen(la), strlen("fimguard-") + 24);
	assert_string_equal(la, lb);		/* severity is not the change */
	assert_string_not_equal(la, lc);	/* another path */
	assert_string_not_equal(la, lh);	/* another host */
	json_object_put(a);
	json_object_put(b);
	json_object_put(c);
}

static void
test_clean_header(void **state)
{
	(void)state;
	assert_true(sink_clean_header("fimguard@host.example.com"));
	assert_false(sink_clean_header("a@b\r\nBcc: x@y"));
	assert_false(sink_clean_header("a@b\n"));
	assert_false(sink_clean_header("a\tb@c"));
	assert_false(sink_clean_header("a\x7f@b"));
	assert_false(sink_clean_header(NULL));
}

static void
test_classify_http(void **state)
{
	static const struct { long status; int outcome; } cases[] = {
		{ 200, SINK_OK }, { 201, SINK_OK }, { 204, SINK_OK },
		{ 301, SINK_PERMANENT }, { 400, SINK_PERMANENT },
		{ 401, SINK_PERMANENT }, { 403, SINK_PERMANENT },
		{ 404, SINK_PERMANENT }, { 408, SINK_RETRY },
		{ 429, SINK_RETRY }, { 500, SINK_RETRY }, { 503, SINK_RETRY },
	};
	struct sink_result r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sink_classify_http(cases[i].status, &r);
		assert_int_equal(r.outcome, cases[i].outcome);
		assert_int_equal(r.status, cases[i].status);
	}
}

/* Where a credential may go: TLS, or plain http to loopback only. */
static void
test_url_private(void **state)
{
	static const struct { const char *url; int ok; } cases[] = {
		{ "https://example.atlassian.net", 1 },
		{ "https://10.0.0.1:8443/x", 1 },
		{ "http://127.0.0.1:8080", 1 },
		{ "http://127.1.2.3/hook", 1 },
		{ "http://localhost:9/", 1 },
		{ "http://[::1]:80/", 1 },
		{ "http://jira.example.com", 0 },
		{ "http://127.0.0.1.evil.example/", 0 },
		{ "http://localhost.evil.example/", 0 },
		{ "http://10.0.0.1/", 0 },
		{ "ftp://127.0.0.1/", 0 },
		{ "not a url", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (sink_url_private(cases[i].url) != cases[i].ok)
			fail_msg("%s: want %d", cases[i].url, cases[i].ok);
	assert_false(sink_url_private(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_round_trip),
		cmocka_unit_test(test_msg_malformed),
		cmocka_unit_test_setup_teardown(test_spool_round_trip,
		    spool_setup, spool_teardown),
		cmocka_unit_test_setup_teardown(test_spool_foreign_entries,
		    spool_setup, spool_teardown),
		cmocka_unit_test_setup_teardown(test_spool_hold_and_release,
		    spool_setup, spool_teardown),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_is_cut_at_255_on_a_character),
		cmocka_unit_test(test_dedup_label),
		cmocka_unit_test(test_clean_header),
		cmocka_unit_test(test_classify_http),
		cmocka_unit_test(test_url_private),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
