/* Unit tests for src/monitor/repeat.c: which denials are reported at
 * once, which are folded, and that every folded one comes back in a
 * summary. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "monitor/perm.h"
#include "monitor/repeat.h"

static struct perm_record
rec(pid_t pid, uint64_t ino, int decision, const char *exe)
{
	struct perm_record r;

	memset(&r, 0, sizeof(r));
	r.pid = r.tid = pid;
	r.dev = 8;
	r.ino = ino;
	r.decision = decision;
	snprintf(r.exe, sizeof(r.exe), "%s", exe);
	return r;
}

static void
test_first_reported_rest_folded(void **state)
{
	struct repeat rp;
	struct repeat_slot s;
	struct perm_record r = rec(100, 5, PERM_DENY, "/bin/sh");

	(void)state;
	repeat_init(&rp, 60);
	assert_int_equal(repeat_fold(&rp, &r, 1000), 0);	/* news */
	for (int i = 0; i < 5000; i++)
		assert_int_equal(repeat_fold(&rp, &r, 1000 + (uint64_t)i), 1);
	/* nothing due before the interval ends */
	assert_int_equal(repeat_take(&rp, 60999, 0, &s), 0);
	assert_int_equal(repeat_wait_ms(&rp, 60000), 1000);
	assert_int_equal(repeat_take(&rp, 61000, 0, &s), 1);
	assert_int_equal(s.count, 5000);
	assert_true(s.first_ms <= s.last_ms);
	assert_int_equal(repeat_take(&rp, 61000, 0, &s), 0);
	/* still going: folded into the next interval */
	assert_int_equal(repeat_fold(&rp, &r, 62000), 1);
	assert_int_equal(repeat_take(&rp, 121000, 0, &s), 1);
	assert_int_equal(s.count, 1);
	/* a quiet interval frees the slot: the next one is news again */
	assert_int_equal(repeat_take(&rp, 181000, 0, &s), 0);
	assert_int_equal(repeat_wait_ms(&rp, 181000), -1);
	assert_int_equal(repeat_fold(&rp, &r, 181001), 0);
	repeat_free(&rp);
}

static void
test_what_counts_as_identical(void **state)
{
	struct repeat rp;
	struct repeat_slot s;
	struct perm_record a = rec(100, 5, PERM_DENY, "/bin/sh");
	struct perm_record other[] = {
		rec(101, 5, PERM_DENY, "/bin/sh"),	/* another process */
		rec(100, 6, PERM_DENY, "/bin/sh"),	/* another file */
		rec(100, 5, PERM_DENY_UNKNOWN, "/bin/sh"), /* decision */
		rec(100, 5, PERM_DENY, "/usr/bin/x"),	/* after an exec */
	};
	struct perm_record thread = a;
	uint64_t total = 0;

	(void)state;
	repeat_init(&rp, 1);
	assert_int_equal(repeat_fold(&rp, &a, 0), 0);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		assert_int_equal(repeat_fold(&rp, &other[i], 0), 0);
	thread.tid = 102;		/* another thread of the same process */
	assert_int_equal(repeat_fold(&rp, &thread, 0), 1);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		assert_int_equal(repeat_fold(&rp, &other[i], 0), 1);
	/* at stop every open interval is summarised */
	while (repeat_take(&rp, 0, 1, &s))
		total += s.count;
	assert_int_equal(total, 5);
	assert_int_equal(rp.n, 0);
	repeat_free(&rp);
}

static void
test_full_table_reports_each(void **state)
{
	struct repeat rp;
	struct perm_record r;

	(void)state;
	repeat_init(&rp, 60);
	for (int i = 0; i < REPEAT_SLOTS; i++) {
		r = rec(1000 + i, 5, PERM_DENY, "/bin/sh");
		assert_int_equal(repeat_fold(&rp, &r, 0), 0);
	}
	r = rec(9999, 5, PERM_DENY, "/bin/sh");
	assert_int_equal(repeat_fold(&rp, &r, 0), 0);	/* not followed */
	assert_int_equal(repeat_fold(&rp, &r, 0), 0);	/* so never folded */
	repeat_free(&rp);
}

static void
test_time_format(void **state)
{
	char t[40];

	(void)state;
	repeat_time(1700000000123ULL, t, sizeof(t));
	assert_string_equal(t, "2023-11-14T22:13:20.123Z");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_reported_rest_folded),
		cmocka_unit_test(test_what_counts_as_identical),
		cmocka_unit_test(test_full_table_reports_each),
		cmocka_unit_test(test_time_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
