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

/* What the caller lends: nothing here calls back into monitor.c. */
struct reconcile_hooks {
	walk_dir_fn	 dir;		/* each directory, before it is listed */
	void		*dir_arg;
	/* after the scan: 0 once the monitor's baseline is loaded (it
	 * loads while the tree is walked and hashed), else an exit status */
	int		(*baseline)(void *);
	void		*baseline_arg;
	fdpath_expect_fn expect;	/* what restores may write through */
};

struct reconcile {
	struct entryvec	 now;	/* the walk; changed entries moved to d */
	struct delta	 d;
	struct entryvec	 restored;	/* deleted files put back */
	fdpath_expect_fn expect;
};

int	 reconcile_run(struct monitor *, const struct reconcile_hooks *,
	    struct reconcile *);
void	 reconcile_free(struct reconcile *);

#endif
