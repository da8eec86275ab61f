/* modified events of package-owned files written by an allowed writer
 * (dpkg, rpm), held until the package hook's approve --packages has
 * made the monitor reload, or package_quiet seconds passed. */
#ifndef FIMGUARD_HOLD_H
#define FIMGUARD_HOLD_H

#include <json-c/json.h>
#include <stdint.h>

#include "core/baseline.h"
#include "core/event.h"

/* past either, the next is sent at once (unverified) */
#define HOLD_MAX	10000
#define HOLD_MAX_BYTES	((size_t)64 << 20)	/* events with their diffs */

struct hold_item {
	char		*path;
	uint8_t		 sha[32];	/* the content the event reports */
	json_object	*ev;		/* the event, not yet emitted */
	size_t		 bytes;		/* its JSON text */
};

struct hold {
	struct hold_item *v;
	size_t		 n;
	size_t		 bytes;		/* of all held events */
	uint64_t	 last_ms;	/* when the latest was held */
	struct hold	*incoming;	/* from the instance this one
					   replaced (atomic) */
};

int	 hold_push(struct hold *, const char *, const uint8_t *,
	    json_object *, uint64_t);
void	 hold_hand_over(struct hold *, struct hold *);
void	 hold_release(struct hold *, const struct baseline *,
	    struct event_sink *, uint64_t, unsigned, int);
int	 hold_wait_ms(const struct hold *, uint64_t, unsigned);
void	 hold_free(struct hold *);

#endif
