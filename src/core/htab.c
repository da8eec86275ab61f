/* Open-addressing hash table with linear probing; FNV-1a keys. Enough
 * for a few million paths and read-only sharing between threads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/htab.h"
#include "core/util.h"

static uint64_t
htab_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void
htab_init(struct htab *t, size_t hint)
{
	size_t cap = 16;

	while (cap < hint * 2)
		cap *= 2;
	t->keys = xcalloc(cap, sizeof(*t->keys));
	t->vals = xcalloc(cap, sizeof(*t->vals));
	t->cap = cap;
	t->n = 0;
}

void
htab_free(struct htab *t)
{
	free(t->keys);
	free(t->vals);
	memset(t, 0, sizeof(*t));
}

static void
htab_grow(struct htab *t)
{
	struct htab bigger;

	htab_init(&bigger, t->cap);
	for (size_t i = 0; i < t->cap; i++)
		if (t->keys[i] != NULL)
			htab_put(&bigger, t->keys[i], t->vals[i]);
	htab_free(t);
	*t = bigger;
}

/* Returns 1 if inserted, 0 if the key was present (value unchanged). */
int
htab_put(struct htab *t, const char *key, size_t val)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap)
		htab_grow(t);
	for (i = htab_hash(key) & (t->cap - 1); t->keys[i] != NULL;
	    i = (i + 1) & (t->cap - 1))
		if (strcmp(t->keys[i], key) == 0)
			return 0;
	t->keys[i] = key;
	t->vals[i] = val;
	t->n++;
	return 1;
}

/* Insert, or replace the value of a present key (the key kept is the
 * new one: the caller may free the old string). */
void
htab_set(struct htab *t, const char *key, size_t val)
{
	if (t->cap > 0)
		for (size_t i = htab_hash(key) & (t->cap - 1);
		    t->keys[i] != NULL; i = (i + 1) & (t->cap - 1))
			if (strcmp(t->keys[i], key) == 0) {
				t->keys[i] = key;
				t->vals[i] = val;
				return;
			}
	htab_put(t, key, val);
}

int
htab_get(const struct htab *t, const char *key, size_t *val)
{
	if (t->cap == 0)
		return 0;
	for (size_t i = htab_hash(key) & (t->cap - 1); t->keys[i] != NULL;
	    i = (i + 1) & (t->cap - 1))
		if (strcmp(t->keys[i], key) == 0) {
			*val = t->vals[i];
			return 1;
		}
	return 0;
}

/* Remove key (1 if it was there). Linear probing: the entries after it
 * in its run move back where their own probe still finds them, so no
 * tombstone is left behind. Not for tables shared with readers. */
int
htab_del(struct htab *t, const char *key)
{
	size_t i, j, home, mask = t->cap - 1;

	if (t->cap == 0)
		return 0;
	for (i = htab_hash(key) & mask; t->keys[i] != NULL; i = (i + 1) & mask)
		if (strcmp(t->keys[i], key) == 0)
			break;
	if (t->keys[i] == NULL)
		return 0;
	for (j = (i + 1) & mask; t->keys[j] != NULL; j = (j + 1) & mask) {
		home = htab_hash(t->keys[j]) & mask;
		/* j stays if its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->keys[i] = t->keys[j];
		t->vals[i] = t->vals[j];
		i = j;
	}
	t->keys[i] = NULL;
	t->vals[i] = 0;
	t->n--;
	return 1;
}
