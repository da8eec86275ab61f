/* The permission-thread -> worker ring. Acquire/release on head and
 * tail is all the synchronisation: one producer, one consumer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/util.h"
#include "monitor/ring.h"

int
ring_init(struct ring *r)
{
	memset(r, 0, sizeof(*r));
	r->slots = xcalloc(RING_SLOTS, sizeof(*r->slots));
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return r->efd < 0 ? -1 : 0;
}

void
ring_free(struct ring *r)
{
	if (r->efd >= 0)
		close(r->efd);
	free(r->slots);
	memset(r, 0, sizeof(*r));
	r->efd = -1;
}

/* The k-th free slot after head, to fill before ring_publish, or NULL
 * (full: the caller drops the record). */
struct perm_record *
ring_reserve(struct ring *r, size_t k)
{
	uint64_t head = r->head + k;
	uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);

	if (head - tail >= RING_SLOTS) {
		__atomic_add_fetch(&r->dropped, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	return &r->slots[head & (RING_SLOTS - 1)];
}

/* Publish the n slots reserved (0..n-1): the consumer may take them
 * from now on. */
void
ring_publish(struct ring *r, size_t n)
{
	if (n > 0)
		__atomic_store_n(&r->head, r->head + n, __ATOMIC_RELEASE);
}

/* Wake the consumer after publishing n records. */
void
ring_wake(struct ring *r, size_t n)
{
	uint64_t one = 1;

	/* Non-blocking: a full counter already means "wake up". */
	if (n > 0 && write(r->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}


/* Producer: count one more identical denial in rec, a record it filled
 * and may already have published. 0 once the consumer has taken rec
 * (the caller then fills a new one); a compare-and-swap loop, so each
 * denial is counted exactly once, here or in a new record. */
int
ring_fold(struct perm_record *rec)
{
	uint32_t v = __atomic_load_n(&rec->more, __ATOMIC_ACQUIRE);

	while (v < RING_CLOSED - 1)
		if (__atomic_compare_exchange_n(&rec->more, &v, v + 1, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return 1;
	return 0;
}

/* Copy the oldest record out; 0 if the ring is empty. Its fold count
 * is closed first, so the producer folds nothing into it from now on
 * and out->more is final. */
int
ring_pop(struct ring *r, struct perm_record *out)
{
	uint64_t tail = r->tail;
	uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	struct perm_record *slot = &r->slots[tail & (RING_SLOTS - 1)];
	uint32_t more;

	if (tail == head)
		return 0;
	more = __atomic_exchange_n(&slot->more, RING_CLOSED, __ATOMIC_ACQ_REL);
	memcpy(out, slot, sizeof(*out));
	out->more = more;
	__atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
	return 1;
}
