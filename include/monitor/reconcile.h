/* fimguard run: what changed while no monitor was watching. At every
 * start and every reload, before the monitor reports ready, the tree is
 * compared with the baseline by check's engine (core/delta.c) and each
 * difference reported (fimguard.phase: startup), and undone where the
 * rule enforces with restore = yes. */
#ifndef FIMGUARD_RECONCILE_H
#define FIMGUARD_RECONCILE_H

#include "core/delta.h"
#include "core/fdpath.h"
#include "core/walk.h"

struct monitor;

struct reconcile {
	struct entryvec	 now;	/* the walk; changed entries moved to d */
	struct delta	 d;
	struct entryvec	 restored;	/* deleted files put back */
	fdpath_expect_fn expect;	/* what restores may write through */
};

void	 reconcile_run(struct monitor *, walk_dir_fn, void *,
	    fdpath_expect_fn, struct reconcile *);
void	 reconcile_free(struct reconcile *);

#endif
