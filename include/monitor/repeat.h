/* Repeated identical denials, folded: a process that opens a protected
 * file for writing in a loop gets its first denial reported at once and
 * the rest counted and reported once per interval, so the events file
 * and the alert spool grow with time, not with the attacker's loop. */
#ifndef FIMGUARD_REPEAT_H
#define FIMGUARD_REPEAT_H

#include <stddef.h>
#include <stdint.h>

#include "monitor/ring.h"

#define REPEAT_SLOTS	256	/* (process, file) pairs followed at once */

struct repeat_slot {
	struct perm_record rec;		/* the latest repeat: its who-data */
	uint64_t	 due_ms;	/* end of its interval (monotonic) */
	uint64_t	 first_ms;	/* wall clock of the interval's repeats */
	uint64_t	 last_ms;
	uint64_t	 count;		/* repeats in the interval */
};

struct repeat {
	struct repeat_slot *v;		/* REPEAT_SLOTS, allocated at init */
	size_t		 n;
	uint64_t	 interval_ms;
};

void	 repeat_init(struct repeat *, unsigned);
void	 repeat_free(struct repeat *);
int	 repeat_fold(struct repeat *, const struct perm_record *, uint64_t);
int	 repeat_followed(const struct repeat *, const struct perm_record *);
uint64_t repeat_now_ms(void);
int	 repeat_take(struct repeat *, uint64_t, int, struct repeat_slot *);
int	 repeat_wait_ms(const struct repeat *, uint64_t);
void	 repeat_time(uint64_t, char *, size_t);

#endif
