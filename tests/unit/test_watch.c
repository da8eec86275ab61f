/* Unit tests for src/monitor/watch.c: the table the permission thread
 * reads while the worker changes it. Lookups, updates, deletions and
 * rebuilds; memory that stays bounded however many inodes come and go;
 * and a reader thread that must find every inode that stays watched
 * while another thread adds and removes others (run under ASan, a read
 * of a freed array is an error). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "monitor/watch.h"

static void
test_set_find_update_del(void **state)
{
	struct watch_tab *t = watch_tab_new(0, 2);
	const struct watch *g;
	struct watch w;

	(void)state;
	assert_int_equal(watch_find(t, 8, 1, &w), 0);
	assert_null(watch_get(t, 8, 1));
	watch_set(t, 8, 1, 7, 1, 2);
	assert_int_equal(watch_find(t, 8, 1, &w), 1);
	assert_int_equal(w.entry, 7);
	assert_int_equal(w.rule, 1);
	assert_int_equal(w.mode, 2);
	watch_set(t, 8, 1, 9, WATCH_SELF, 1);	/* the same inode again */
	assert_int_equal(watch_count(t), 1);
	g = watch_get(t, 8, 1);
	assert_non_null(g);
	assert_int_equal(g->entry, 9);
	assert_int_equal(g->rule, WATCH_SELF);
	/* only the owner's slot goes */
	assert_int_equal(watch_del(t, 8, 1, 3), 0);
	assert_int_equal(watch_del(t, 8, 1, 9), 1);
	assert_int_equal(watch_find(t, 8, 1, &w), 0);
	assert_int_equal(watch_count(t), 0);
	/* back again after its deletion */
	watch_set(t, 8, 1, 4, 0, 1);
	assert_int_equal(watch_find(t, 8, 1, &w), 1);
	assert_int_equal(w.entry, 4);
	watch_tab_free(t);
}

static void
test_grows_and_iterates(void **state)
{
	struct watch_tab *t = watch_tab_new(0, 1);
	struct watch w;
	size_t it = 0, n = 0;
	uint64_t sum = 0;

	(void)state;
	for (uint64_t i = 1; i <= 10000; i++)
		watch_set(t, 3, i, (uint32_t)i, 0, 1);
	assert_int_equal(watch_count(t), 10000);
	for (uint64_t i = 1; i <= 10000; i++) {
		assert_int_equal(watch_find(t, 3, i, &w), 1);
		assert_int_equal(w.entry, i);
	}
	while (watch_next(t, &it, &w)) {
		n++;
		sum += w.ino;
	}
	assert_int_equal(n, 10000);
	assert_int_equal(sum, 10000ULL * 10001 / 2);
	watch_tab_free(t);
}

/* Inodes that come and go (files created and deleted) take no memory
 * for good: deleted slots are dropped at the next rebuild. */
static void
test_churn_is_bounded(void **state)
{
	struct watch_tab *t = watch_tab_new(100, 1);
	size_t after_warmup = 0;
	struct watch w;

	(void)state;
	for (uint64_t i = 1; i <= 100; i++)
		watch_set(t, 1, i, (uint32_t)i, 0, 1);
	for (uint64_t i = 1000; i < 201000; i++) {
		watch_set(t, 2, i, 5, 0, 1);
		assert_int_equal(watch_del(t, 2, i, 5), 1);
		if (i == 2000)
			after_warmup = watch_bytes(t);
	}
	assert_true(watch_bytes(t) <= after_warmup);
	assert_int_equal(watch_count(t), 100);
	for (uint64_t i = 1; i <= 100; i++)
		assert_int_equal(watch_find(t, 1, i, &w), 1);
	watch_tab_free(t);
}

struct reader {
	struct watch_tab *t;
	int		 stop;
	uint64_t	 lookups, missed;
};

/* The permission thread's part: the inodes 1..100 of device 1 are
 * watched all along and must always be found, with their entry. */
static void *
reader_main(void *arg)
{
	struct reader *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
		for (uint64_t i = 1; i <= 100; i++) {
			const struct watch *w = watch_get(r->t, 1, i);

			r->lookups++;
			if (w == NULL || w->entry != i || w->rule != 0)
				r->missed++;
		}
	return NULL;
}

static void
test_reader_while_writer_changes(void **state)
{
	struct reader r = { .t = watch_tab_new(0, 1) };
	pthread_t th;

	(void)state;
	for (uint64_t i = 1; i <= 100; i++)
		watch_set(r.t, 1, i, (uint32_t)i, 0, 1);
	assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
	/* many rebuilds, growing and shrinking, under the reader */
	for (uint64_t round = 0; round < 20; round++) {
		for (uint64_t i = 0; i < 5000; i++)
			watch_set(r.t, 2, round * 5000 + i, 1, 0, 2);
		for (uint64_t i = 0; i < 5000; i++)
			watch_del(r.t, 2, round * 5000 + i, WATCH_NO_ENTRY);
		/* the same inodes with a new rule: one store each */
		for (uint64_t i = 1; i <= 100; i++)
			watch_set(r.t, 1, i, (uint32_t)i, 0, 1);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_true(r.lookups > 0);
	assert_int_equal(r.missed, 0);
	watch_reclaim(r.t);
	watch_tab_free(r.t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_find_update_del),
		cmocka_unit_test(test_grows_and_iterates),
		cmocka_unit_test(test_churn_is_bounded),
		cmocka_unit_test(test_reader_while_writer_changes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
