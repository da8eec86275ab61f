/* Folding repeated denials (the worker's alone: no locking). Identical
 * means the same process, file, decision and executable: an exec to
 * another program, another file or another decision is news and is
 * reported at once. A slot lives while its (process, file) pair keeps
 * being denied: each interval that saw repeats ends in one summary; an
 * interval without any frees the slot, and the next denial is reported
 * at once again. With every slot taken, denials are reported one by
 * one: nothing is lost, only not folded. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "monitor/repeat.h"

void
repeat_init(struct repeat *rp, unsigned interval_s)
{
	rp->v = xcalloc(REPEAT_SLOTS, sizeof(*rp->v));
	rp->n = 0;
	rp->interval_ms = (uint64_t)interval_s * 1000;
}

void
repeat_free(struct repeat *rp)
{
	free(rp->v);
	rp->v = NULL;
	rp->n = 0;
}

static pid_t
repeat_pid(const struct perm_record *r)
{
	return r->pid > 0 ? r->pid : r->tid;
}

static int
repeat_same(const struct perm_record *a, const struct perm_record *b)
{
	return repeat_pid(a) == repeat_pid(b) && a->dev == b->dev &&
	    a->ino == b->ino && a->decision == b->decision &&
	    strcmp(a->exe, b->exe) == 0;
}

uint64_t
repeat_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* n more repeats in s's interval, r the latest. */
static void
repeat_count(struct repeat_slot *s, const struct perm_record *r, uint64_t n)
{
	s->last_ms = repeat_now_ms();
	if (s->count == 0)
		s->first_ms = s->last_ms;
	s->count += n;
	s->rec = *r;
}

/* 1: r repeats a denial reported in this interval and is counted in
 * its summary; 0: report r now (it opens an interval if a slot is
 * free). r stands for 1 + r->more identical denials (the permission
 * thread folds a loop into one record): past the first, they are
 * repeats of this interval. */
int
repeat_fold(struct repeat *rp, const struct perm_record *r, uint64_t now)
{
	uint64_t n = 1 + (uint64_t)r->more;
	struct repeat_slot *s;

	for (size_t i = 0; i < rp->n; i++) {
		s = &rp->v[i];
		if (!repeat_same(&s->rec, r))
			continue;
		repeat_count(s, r, n);
		return 1;
	}
	if (rp->n == REPEAT_SLOTS)
		return 0;
	s = &rp->v[rp->n++];
	memset(s, 0, sizeof(*s));
	s->rec = *r;
	s->due_ms = now + rp->interval_ms;
	if (n > 1)
		repeat_count(s, r, n - 1);
	return 0;
}

/* Is an interval open for r's (process, file, decision, executable)? */
int
repeat_followed(const struct repeat *rp, const struct perm_record *r)
{
	for (size_t i = 0; i < rp->n; i++)
		if (repeat_same(&rp->v[i].rec, r))
			return 1;
	return 0;
}

/* A summary whose interval ended by now (every one with repeats when
 * all is set, at stop), into out: 1, or 0 when none is due. Slots whose
 * interval saw no repeat are freed on the way. */
int
repeat_take(struct repeat *rp, uint64_t now, int all, struct repeat_slot *out)
{
	size_t i = 0;

	while (i < rp->n) {
		struct repeat_slot *s = &rp->v[i];

		if (!all && s->due_ms > now) {
			i++;
			continue;
		}
		if (s->count == 0 || all) {
			int have = s->count > 0;

			if (have)
				*out = *s;
			*s = rp->v[--rp->n];
			if (have)
				return 1;
			continue;
		}
		*out = *s;
		s->count = 0;
		s->due_ms = now + rp->interval_ms;
		return 1;
	}
	return 0;
}

/* Milliseconds until the next interval ends, -1 if none is open. */
int
repeat_wait_ms(const struct repeat *rp, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < rp->n; i++)
		if (rp->v[i].due_ms < next)
			next = rp->v[i].due_ms;
	if (next == UINT64_MAX)
		return -1;
	return next > now ? (int)(next - now) : 0;
}

/* Wall-clock milliseconds as @timestamp writes them. */
void
repeat_time(uint64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%03uZ", base, (unsigned)(ms % 1000));
}
