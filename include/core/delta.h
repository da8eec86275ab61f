/* What `check` and the monitor's start-up reconciliation share: from a
 * tree walked and hashed with keyed XXH3, and a view of the baseline
 * (the compact index check loads, or the full baseline the monitor
 * holds), the list of changes. Entries the view shows unchanged stay
 * where they are; the others are moved out and compared in full. */
#ifndef FIMGUARD_DELTA_H
#define FIMGUARD_DELTA_H

#include "core/baseline.h"
#include "core/bindex.h"
#include "core/compare.h"
#include "core/state.h"

/* A view of the baseline: n records, found by path. */
struct delta_base {
	size_t		 n;
	int		(*find)(const void *, const char *, size_t *);
	/* 1 only when compare_entry would find no difference */
	int		(*same)(const void *, size_t, const struct entry *);
	/* record i in full, into e (names interned in the lists); -1 if
	 * it cannot be read again */
	int		(*entry)(const void *, size_t, struct entry *,
			    struct strlist *, struct pkg_owners *);
	const void	*arg;
};

struct delta {
	struct entryvec	 cand;	/* current entries that differ or are new */
	struct baseline	 b;	/* their records, and those not seen */
	struct changes	 ch;	/* pointing into cand and b */
};

void	 delta_from_bindex(struct delta_base *, const struct bindex *);
void	 delta_from_baseline(struct delta_base *, const struct baseline *);
int	 delta_split(const struct delta_base *, struct entryvec *,
	    struct delta *);
void	 delta_confirm(struct delta *, const struct state *);
void	 delta_compare(struct delta *);
int	 delta_run(const struct delta_base *, struct entryvec *,
	    const struct state *, struct delta *);
void	 delta_free(struct delta *);

#endif
