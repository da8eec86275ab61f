/* Unit tests for src/monitor/ring.c: the permission thread folds
 * identical denials into the last record it filled, and the worker's
 * pop closes the count, so each denial is counted exactly once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/ring.h"

static struct perm_record *
fill(struct ring *r)
{
	struct perm_record *rec = ring_reserve(r, 0);

	assert_non_null(rec);
	memset(rec, 0, offsetof(struct perm_record, comm));
	rec->ino = 42;
	ring_publish(r, 1);
	return rec;
}

static void
test_fold_until_taken(void **state)
{
	struct ring r;
	struct perm_record out, *rec;

	(void)state;
	assert_int_equal(ring_init(&r), 0);
	rec = fill(&r);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ring_fold(rec), 1);
	assert_int_equal(ring_pop(&r, &out), 1);
	assert_int_equal(out.more, 3);
	assert_int_equal(out.ino, 42);
	/* taken: a fold now fails, and the caller fills a new record */
	assert_int_equal(ring_fold(rec), 0);
	assert_int_equal(ring_pop(&r, &out), 0);
	ring_free(&r);
}

static void
test_full_ring_still_folds(void **state)
{
	struct ring r;
	struct perm_record out, *last = NULL;
	uint64_t total = 0;

	(void)state;
	assert_int_equal(ring_init(&r), 0);
	for (int i = 0; i < RING_SLOTS; i++)
		last = fill(&r);
	assert_null(ring_reserve(&r, 0));	/* full */
	for (int i = 0; i < 10000; i++)
		assert_int_equal(ring_fold(last), 1);
	while (ring_pop(&r, &out))
		total += 1 + out.more;
	assert_int_equal(total, RING_SLOTS + 10000);
	ring_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_until_taken),
		cmocka_unit_test(test_full_ring_still_folds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
