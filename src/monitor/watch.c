/* Open addressing on (dev, ino); the permission thread does one lookup
 * per event, so this stays small and branch-light. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "monitor/watch.h"

static size_t
watch_slot(const struct watch_tab *t, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ULL) ^ (dev * 0xc2b2ae3d27d4eb4fULL);

	return (size_t)(h ^ (h >> 29)) & (t->cap - 1);
}

struct watch_tab *
watch_tab_new(size_t hint, size_t nrules)
{
	struct watch_tab *t = xcalloc(1, sizeof(*t));
	size_t cap = 64;

	while (cap < hint * 2)
		cap *= 2;
	t->v = xcalloc(cap, sizeof(*t->v));
	t->cap = cap;
	t->nrules = nrules;
	t->writers = xcalloc(nrules + 1, sizeof(*t->writers));
	t->nwriters = xcalloc(nrules + 1, sizeof(*t->nwriters));
	return t;
}

/* A private copy to change while the permission thread reads the old
 * one; the caller publishes it with an atomic store. */
struct watch_tab *
watch_tab_clone(const struct watch_tab *t)
{
	struct watch_tab *c = xcalloc(1, sizeof(*c));

	c->cap = t->cap;
	c->n = t->n;
	c->v = xcalloc(t->cap, sizeof(*c->v));
	memcpy(c->v, t->v, t->cap * sizeof(*c->v));
	c->nrules = t->nrules;
	c->writers = xcalloc(t->nrules + 1, sizeof(*c->writers));
	c->nwriters = xcalloc(t->nrules + 1, sizeof(*c->nwriters));
	for (size_t r = 0; r < t->nrules; r++) {
		c->nwriters[r] = t->nwriters[r];
		c->writers[r] = xcalloc(t->nwriters[r] + 1,
		    sizeof(**c->writers));
		if (t->nwriters[r] > 0)	/* writers[r] is NULL when none */
			memcpy(c->writers[r], t->writers[r],
			    t->nwriters[r] * sizeof(**c->writers));
	}
	return c;
}

void
watch_tab_free(struct watch_tab *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrules; i++)
		free(t->writers[i]);
	free(t->writers);
	free(t->nwriters);
	free(t->v);
	free(t);
}

static void
watch_grow(struct watch_tab *t)
{
	struct watch *old = t->v;
	size_t oldcap = t->cap;

	t->cap *= 2;
	t->v = xcalloc(t->cap, sizeof(*t->v));
	t->n = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used)
			*watch_put(t, old[i].dev, old[i].ino) = old[i];
	free(old);
}

/* The slot for (dev, ino), created if new (fields to be filled). */
struct watch *
watch_put(struct watch_tab *t, uint64_t dev, uint64_t ino)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap)
		watch_grow(t);
	for (i = watch_slot(t, dev, ino); t->v[i].used;
	    i = (i + 1) & (t->cap - 1))
		if (t->v[i].dev == dev && t->v[i].ino == ino)
			return &t->v[i];
	t->v[i].used = 1;
	t->v[i].dev = dev;
	t->v[i].ino = ino;
	t->v[i].entry = WATCH_NO_ENTRY;
	t->n++;
	return &t->v[i];
}

const struct watch *
watch_get(const struct watch_tab *t, uint64_t dev, uint64_t ino)
{
	for (size_t i = watch_slot(t, dev, ino); t->v[i].used;
	    i = (i + 1) & (t->cap - 1))
		if (t->v[i].dev == dev && t->v[i].ino == ino)
			return &t->v[i];
	return NULL;
}

void
watch_add_writer(struct watch_tab *t, size_t rule, uint64_t dev,
    uint64_t ino)
{
	size_t n = t->nwriters[rule];

	t->writers[rule] = xreallocarray(t->writers[rule], n + 1,
	    sizeof(**t->writers));
	t->writers[rule][n] = (struct watch_writer){ dev, ino };
	t->nwriters[rule] = n + 1;
}

/* Is the executable (dev, ino) an allowed writer of rule? Identity is
 * the inode recorded at start: a binary replaced since no longer
 * matches (reload to accept the new one). */
int
watch_writer_ok(const struct watch_tab *t, size_t rule, uint64_t dev,
    uint64_t ino)
{
	if (rule >= t->nrules)
		return 0;
	for (size_t i = 0; i < t->nwriters[rule]; i++)
		if (t->writers[rule][i].dev == dev &&
		    t->writers[rule][i].ino == ino)
			return 1;
	return 0;
}

/* Is (dev, ino) an allowed writer of any rule? */
int
watch_writer_any(const struct watch_tab *t, uint64_t dev, uint64_t ino)
{
	for (size_t r = 0; r < t->nrules; r++)
		if (watch_writer_ok(t, r, dev, ino))
			return 1;
	return 0;
}
