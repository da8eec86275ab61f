/* The syslog sink's RFC 5424 formatter, as a table: an event in, the
 * exact message out (PRI from facility and severity, header fields that
 * must be printable ASCII without blanks or "-", SD-PARAM values with
 * '"', '\' and ']' escaped, the ECS JSON as the message, the diff
 * dropped first when the message is too long for the receiver). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/sink_syslog.h"

#define TS	"\"@timestamp\":\"2026-12-02T05:17:40.123Z\""
#define HOSTJ	"\"host\":{\"hostname\":\"web1\"}"
#define HDR(pri, msgid) "<" pri ">1 2026-12-02T05:17:40.123Z web1 fimguard - " \
	msgid " "

struct row {
	const char	*what;
	const char	*event;		/* JSON */
	int		 facility;
	size_t		 max;
	const char	*want;		/* NULL: refused (too long) */
};

static const struct row rows[] = {
	{ "critical modified, authpriv: PRI 10*8+2",
	  "{" TS ",\"event\":{\"action\":\"modified\"}," HOSTJ ","
	  "\"file\":{\"path\":\"/etc/shadow\"},\"rule\":{\"name\":\"acct\"},"
	  "\"fimguard\":{\"severity\":\"critical\",\"mode\":\"audit\"}}",
	  10, 0,
	  HDR("82", "modified") "[fimguard@32473 action=\"modified\" "
	  "path=\"/etc/shadow\" rule=\"acct\" severity=\"critical\" "
	  "mode=\"audit\"] {" TS ",\"event\":{\"action\":\"modified\"},"
	  HOSTJ ",\"file\":{\"path\":\"/etc/shadow\"},\"rule\":{\"name\":"
	  "\"acct\"},\"fimguard\":{\"severity\":\"critical\",\"mode\":"
	  "\"audit\"}}" },
	{ "low, local3: 19*8+5; no host in the event: the alerter's",
	  "{" TS ",\"event\":{\"action\":\"created\"},\"fimguard\":"
	  "{\"severity\":\"low\"}}", 19, 0,
	  "<157>1 2026-12-02T05:17:40.123Z alerthost fimguard - created "
	  "[fimguard@32473 action=\"created\" severity=\"low\"] {" TS
	  ",\"event\":{\"action\":\"created\"},\"fimguard\":{\"severity\":"
	  "\"low\"}}" },
	{ "no severity: info (6)",
	  "{" TS ",\"event\":{\"action\":\"baseline-approved\"}," HOSTJ "}",
	  10, 0,
	  HDR("86", "baseline-approved") "[fimguard@32473 "
	  "action=\"baseline-approved\"] {" TS ",\"event\":{\"action\":"
	  "\"baseline-approved\"}," HOSTJ "}" },
	{ "SD values: '\"', '\\' and ']' escaped, a newline a blank",
	  "{" TS ",\"event\":{\"action\":\"modified\"}," HOSTJ ","
	  "\"file\":{\"path\":\"/etc/a\\\"b\\\\c]d\\ne\"}}", 10, 0,
	  HDR("86", "modified") "[fimguard@32473 action=\"modified\" "
	  "path=\"/etc/a\\\"b\\\\c\\]d e\"] {" TS ",\"event\":{\"action\":"
	  "\"modified\"}," HOSTJ ",\"file\":{\"path\":\"/etc/a\\\"b\\\\c]d"
	  "\\ne\"}}" },
	{ "header fields with a blank or too long: the nil value",
	  "{\"@timestamp\":\"not a time\",\"event\":{\"action\":"
	  "\"an-action-name-longer-than-32-bytes\"},\"host\":{\"hostname\":"
	  "\"a b\"}}", 10, 0,
	  "<86>1 - - fimguard - - [fimguard@32473 action=\"an-action-name-"
	  "longer-than-32-bytes\"] {\"@timestamp\":\"not a time\",\"event\":"
	  "{\"action\":\"an-action-name-longer-than-32-bytes\"},\"host\":"
	  "{\"hostname\":\"a b\"}}" },
	{ "writer fields, numbers as text",
	  "{" TS ",\"event\":{\"action\":\"write-allowed\"}," HOSTJ ","
	  "\"process\":{\"executable\":\"/usr/bin/dash\",\"pid\":4242},"
	  "\"user\":{\"id\":\"0\",\"audit\":{\"id\":\"1000\"}}}", 10, 0,
	  HDR("86", "write-allowed") "[fimguard@32473 action=\"write-allowed\""
	  " exe=\"/usr/bin/dash\" pid=\"4242\" uid=\"0\" auid=\"1000\"] {" TS
	  ",\"event\":{\"action\":\"write-allowed\"}," HOSTJ ",\"process\":"
	  "{\"executable\":\"/usr/bin/dash\",\"pid\":4242},\"user\":{\"id\":"
	  "\"0\",\"audit\":{\"id\":\"1000\"}}}" },
	{ "too long: the diff goes, the rest stays",
	  "{" TS ",\"event\":{\"action\":\"modified\"}," HOSTJ ",\"fimguard\":"
	  "{\"diff\":\"+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\n\"}}", 10, 260,
	  HDR("86", "modified") "[fimguard@32473 action=\"modified\"] {" TS
	  ",\"event\":{\"action\":\"modified\"}," HOSTJ ",\"fimguard\":{}}" },
	{ "too long even without a diff: refused",
	  "{" TS ",\"event\":{\"action\":\"modified\"}," HOSTJ ","
	  "\"file\":{\"path\":\"/a/very/long/path/that/does/not/fit/in/the/"
	  "receiver/limit/of/one/hundred/bytes\"}}", 10, 100, NULL },
};

static void
test_format_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_object *ev = json_tokener_parse(rows[i].event);
		char *got;

		assert_non_null(ev);
		got = sink_syslog_format(ev, "alerthost", rows[i].facility,
		    rows[i].max);
		if (rows[i].want == NULL) {
			if (got != NULL)
				fail_msg("%s: want refusal, got %s",
				    rows[i].what, got);
		} else if (got == NULL || strcmp(got, rows[i].want) != 0)
			fail_msg("%s:\n got  %s\n want %s", rows[i].what,
			    got ? got : "(null)", rows[i].want);
		free(got);
		json_object_put(ev);
	}
}

/* The event itself is not changed by dropping the diff. */
static void
test_format_leaves_the_event_alone(void **state)
{
	json_object *ev = json_tokener_parse("{\"fimguard\":{\"diff\":"
	    "\"+0123456789012345678901234567890123456789\\n\"}}"), *fg;
	char *got;

	(void)state;
	got = sink_syslog_format(ev, "h", 10, 90);
	assert_non_null(got);
	assert_null(strstr(got, "diff"));
	assert_true(json_object_object_get_ex(ev, "fimguard", &fg));
	assert_true(json_object_object_get_ex(fg, "diff", NULL));
	free(got);
	json_object_put(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_format_leaves_the_event_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
