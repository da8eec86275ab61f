/* Directories and symlinks the monitor made again keep being expected
 * after a reload or a restart, until approve records them. */
#ifndef FIMGUARD_REMADE_H
#define FIMGUARD_REMADE_H

#include <stdint.h>

#include "core/baseline.h"
#include "core/state.h"

int	 remade_note(const struct state *, const char *, uint64_t, uint64_t,
	    uint64_t, uint64_t);
void	 remade_apply(const struct state *, struct baseline *);

#endif
