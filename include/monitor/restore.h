/* Put trusted content and metadata back from the vault. */
#ifndef FIMGUARD_RESTORE_H
#define FIMGUARD_RESTORE_H

#include "core/entry.h"
#include "core/state.h"

int	 restore_file(const struct state *, const struct entry *, char **);
int	 restore_attrs(const struct entry *, char **);

#endif
