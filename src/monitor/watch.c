/* Open addressing on (dev, ino), changed in place while the permission
 * thread reads it. The rules that make that safe without a lock:
 *
 *  - a slot's state, rule, mode and entry are one 64-bit word (meta),
 *    stored and loaded atomically; its key (dev, ino) is written before
 *    the slot is published and never changes in that array;
 *  - a slot goes from empty to used, from used to used (a new rule or
 *    entry for the same inode) or to gone; never back to empty, and a
 *    gone slot is never reused, so a probe that reaches an empty slot
 *    has seen every slot its key could be in;
 *  - at most three quarters of an array is ever filled: a probe always
 *    ends. When an insert would pass that, the live slots are copied
 *    to a new array sized for them (larger, or smaller after many
 *    deletions), which is published with one pointer store;
 *  - the old array is freed only when the reader cannot hold it: the
 *    reader makes its sequence number odd for the length of a lookup
 *    (sequentially consistent store, then load of the array pointer);
 *    the writer, after publishing, loads that number: even means no
 *    lookup can still use the old array, odd means the lookup running
 *    may, until the number changes (watch_reclaim).
 * A lookup returns a copy in the reader's own buffer, so nothing the
 * caller keeps points into an array. One reader per table: the
 * permission thread of the instance that owns it (the writer, the
 * worker, looks up with watch_find). The reader allocates nothing. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "monitor/watch.h"

#define WATCH_MIN_CAP	64

enum { WATCH_EMPTY = 0, WATCH_USED = 1, WATCH_GONE = 2 };

struct watch_slot {
	uint64_t	 dev, ino;
	uint64_t	 meta;	/* state | mode << 8 | rule << 16 | entry << 32 */
};

struct watch_slots {
	size_t		 cap;
	size_t		 fill;		/* used and gone */
	struct watch_slot v[];
};

/* The reader's side: its own cache line, written only by the reader. */
struct watch_reader {
	uint64_t	 seq;		/* odd during a lookup */
	struct watch	 hit;		/* what the last lookup found */
} __attribute__((aligned(64)));

struct watch_retired {
	struct watch_slots *a;
	uint64_t	 seq;		/* the reader's number when retired */
};

struct watch_writer {
	uint64_t	 dev, ino;	/* of the executable at start */
};

struct watch_tab {
	struct watch_slots *cur;	/* published with an atomic store */
	size_t		 used;
	struct watch_reader *rd;
	struct watch_retired *retired;
	size_t		 nretired;
	/* allowed writers per rule: writers[r][0..nwriters[r]), set up
	 * before the reader starts and not changed after */
	struct watch_writer **writers;
	size_t		*nwriters;
	size_t		 nrules;
};

static uint64_t
watch_meta(int state, uint32_t entry, uint16_t rule, uint8_t mode)
{
	return (uint64_t)state | (uint64_t)mode << 8 | (uint64_t)rule << 16 |
	    (uint64_t)entry << 32;
}

static int
watch_state(uint64_t meta)
{
	return (int)(meta & 0xff);
}

static void
watch_decode(const struct watch_slot *s, uint64_t meta, struct watch *w)
{
	w->dev = __atomic_load_n(&s->dev, __ATOMIC_RELAXED);
	w->ino = __atomic_load_n(&s->ino, __ATOMIC_RELAXED);
	w->mode = (uint8_t)(meta >> 8);
	w->rule = (uint16_t)(meta >> 16);
	w->entry = (uint32_t)(meta >> 32);
	w->used = 1;
}

static size_t
watch_slot(size_t cap, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ULL) ^ (dev * 0xc2b2ae3d27d4eb4fULL);

	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* An array for n live slots: at most half full when made. */
static struct watch_slots *
watch_slots_new(size_t n)
{
	size_t cap = WATCH_MIN_CAP;
	struct watch_slots *a;

	while (cap < (n + 1) * 2)
		cap *= 2;
	a = xcalloc(1, sizeof(*a) + cap * sizeof(a->v[0]));
	a->cap = cap;
	return a;
}

/* The slot holding (dev, ino) in a, or NULL. Either thread. */
static struct watch_slot *
watch_probe(const struct watch_slots *a, uint64_t dev, uint64_t ino,
    uint64_t *meta)
{
	for (size_t i = watch_slot(a->cap, dev, ino);; i = (i + 1) &
	    (a->cap - 1)) {
		const struct watch_slot *s = &a->v[i];
		uint64_t m = __atomic_load_n(&s->meta, __ATOMIC_ACQUIRE);

		if (watch_state(m) == WATCH_EMPTY)
			return NULL;
		if (watch_state(m) == WATCH_USED &&
		    __atomic_load_n(&s->dev, __ATOMIC_RELAXED) == dev &&
		    __atomic_load_n(&s->ino, __ATOMIC_RELAXED) == ino) {
			*meta = m;
			return (struct watch_slot *)s;
		}
	}
}

/* Writer only: a new slot in a (the key is not there), published last. */
static void
watch_insert(struct watch_slots *a, uint64_t dev, uint64_t ino,
    uint64_t meta)
{
	size_t i = watch_slot(a->cap, dev, ino);

	while (watch_state(a->v[i].meta) != WATCH_EMPTY)
		i = (i + 1) & (a->cap - 1);
	__atomic_store_n(&a->v[i].dev, dev, __ATOMIC_RELAXED);
	__atomic_store_n(&a->v[i].ino, ino, __ATOMIC_RELAXED);
	__atomic_store_n(&a->v[i].meta, meta, __ATOMIC_RELEASE);
	a->fill++;
}

struct watch_tab *
watch_tab_new(size_t hint, size_t nrules)
{
	struct watch_tab *t = xcalloc(1, sizeof(*t));

	if (posix_memalign((void **)&t->rd, 64, sizeof(*t->rd)) != 0)
		fatalx("out of memory");
	memset(t->rd, 0, sizeof(*t->rd));
	t->cur = watch_slots_new(hint);
	t->nrules = nrules;
	t->writers = xcalloc(nrules + 1, sizeof(*t->writers));
	t->nwriters = xcalloc(nrules + 1, sizeof(*t->nwriters));
	return t;
}

void
watch_tab_free(struct watch_tab *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nretired; i++)
		free(t->retired[i].a);
	free(t->retired);
	for (size_t i = 0; i < t->nrules; i++)
		free(t->writers[i]);
	free(t->writers);
	free(t->nwriters);
	free(t->cur);
	free(t->rd);
	free(t);
}

/* Free the retired arrays no lookup can still be reading. */
void
watch_reclaim(struct watch_tab *t)
{
	uint64_t now = __atomic_load_n(&t->rd->seq, __ATOMIC_ACQUIRE);
	size_t k = 0;

	for (size_t i = 0; i < t->nretired; i++) {
		if ((t->retired[i].seq & 1) == 0 || t->retired[i].seq != now)
			free(t->retired[i].a);
		else
			t->retired[k++] = t->retired[i];
	}
	t->nretired = k;
	if (k == 0) {
		free(t->retired);
		t->retired = NULL;
	}
}

/* Copy the live slots into a new array and publish it; the old one
 * waits for the reader (see the top of this file). */
static void
watch_rebuild(struct watch_tab *t)
{
	struct watch_slots *old = t->cur, *a = watch_slots_new(t->used);
	uint64_t seq;

	for (size_t i = 0; i < old->cap; i++)
		if (watch_state(old->v[i].meta) == WATCH_USED)
			watch_insert(a, old->v[i].dev, old->v[i].ino,
			    old->v[i].meta);
	__atomic_store_n(&t->cur, a, __ATOMIC_SEQ_CST);
	seq = __atomic_load_n(&t->rd->seq, __ATOMIC_SEQ_CST);
	t->retired = xreallocarray(t->retired, t->nretired + 1,
	    sizeof(*t->retired));
	t->retired[t->nretired++] = (struct watch_retired){ old, seq };
	watch_reclaim(t);
}

/* Watch (dev, ino) for entry under rule and mode: a new slot, or the
 * existing one changed in one store. Writer only. */
void
watch_set(struct watch_tab *t, uint64_t dev, uint64_t ino, uint32_t entry,
    uint16_t rule, uint8_t mode)
{
	uint64_t meta = watch_meta(WATCH_USED, entry, rule, mode), old;
	struct watch_slot *s = watch_probe(t->cur, dev, ino, &old);

	if (t->nretired > 0)
		watch_reclaim(t);
	if (s != NULL) {
		__atomic_store_n(&s->meta, meta, __ATOMIC_RELEASE);
		return;
	}
	if ((t->cur->fill + 1) * 4 > t->cur->cap * 3)
		watch_rebuild(t);
	watch_insert(t->cur, dev, ino, meta);
	t->used++;
}

/* Stop watching (dev, ino), if its slot is entry's (WATCH_NO_ENTRY:
 * whoever's). Returns 1 if a slot went. Writer only. */
int
watch_del(struct watch_tab *t, uint64_t dev, uint64_t ino, uint32_t entry)
{
	uint64_t meta;
	struct watch_slot *s = watch_probe(t->cur, dev, ino, &meta);

	if (s == NULL || (entry != WATCH_NO_ENTRY &&
	    (uint32_t)(meta >> 32) != entry))
		return 0;
	__atomic_store_n(&s->meta, (meta & ~(uint64_t)0xff) | WATCH_GONE,
	    __ATOMIC_RELEASE);
	t->used--;
	return 1;
}

/* The writer's lookup: 1 and a copy in *w, or 0. */
int
watch_find(const struct watch_tab *t, uint64_t dev, uint64_t ino,
    struct watch *w)
{
	uint64_t meta;
	const struct watch_slot *s = watch_probe(t->cur, dev, ino, &meta);

	if (s == NULL)
		return 0;
	watch_decode(s, meta, w);
	return 1;
}

/* Each watched inode in turn: start with *it = 0. Writer only (or
 * once the reader has stopped). */
int
watch_next(const struct watch_tab *t, size_t *it, struct watch *w)
{
	const struct watch_slots *a = t->cur;

	for (; *it < a->cap; (*it)++)
		if (watch_state(a->v[*it].meta) == WATCH_USED) {
			watch_decode(&a->v[*it], a->v[*it].meta, w);
			(*it)++;
			return 1;
		}
	return 0;
}

size_t
watch_count(const struct watch_tab *t)
{
	return t->used;
}

/* Memory held by the slot arrays (status, tests). */
size_t
watch_bytes(const struct watch_tab *t)
{
	size_t n = sizeof(*t->cur) + t->cur->cap * sizeof(t->cur->v[0]);

	for (size_t i = 0; i < t->nretired; i++)
		n += sizeof(*t->cur) + t->retired[i].a->cap *
		    sizeof(t->cur->v[0]);
	return n;
}

/* The permission thread's lookup: lock-free, allocation-free. The
 * result is the reader's copy, good until its next lookup. */
const struct watch *
watch_get(const struct watch_tab *t, uint64_t dev, uint64_t ino)
{
	struct watch_reader *r = t->rd;
	uint64_t seq = __atomic_load_n(&r->seq, __ATOMIC_RELAXED), meta;
	const struct watch_slot *s;
	const struct watch_slots *a;

	__atomic_store_n(&r->seq, seq + 1, __ATOMIC_SEQ_CST);
	a = __atomic_load_n(&t->cur, __ATOMIC_SEQ_CST);
	if ((s = watch_probe(a, dev, ino, &meta)) != NULL)
		watch_decode(s, meta, &r->hit);
	__atomic_store_n(&r->seq, seq + 2, __ATOMIC_RELEASE);
	return s != NULL ? &r->hit : NULL;
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
