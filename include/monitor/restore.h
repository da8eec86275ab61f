/* Put trusted content and metadata back from the vault, through
 * directory descriptors verified against what was recorded. */
#ifndef FIMGUARD_RESTORE_H
#define FIMGUARD_RESTORE_H

#include "core/entry.h"
#include "core/fdpath.h"
#include "core/state.h"

/* The temporary names restores write under, in the target's directory:
 * a monitor killed before the rename leaves one (reconcile.c). */
#define RESTORE_TMP_PREFIX	".fimguard-restore."

int	 restore_file(const struct state *, const struct entry *,
	    fdpath_expect_fn, void *, char **);
int	 restore_attrs(const struct state *, const struct entry *,
	    fdpath_expect_fn, void *, char **);
int	 restore_symlink(const struct entry *, fdpath_expect_fn, void *,
	    char **);
int	 restore_dir(const struct entry *, unsigned, fdpath_expect_fn, void *,
	    uint64_t *, uint64_t *, char **);

#endif
