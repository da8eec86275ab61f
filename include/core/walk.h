/* Walk the policy's paths and collect entries (metadata only). */
#ifndef FIMGUARD_WALK_H
#define FIMGUARD_WALK_H

#include "core/conf.h"
#include "core/entry.h"

int	walk_policy(const struct conf *, struct entryvec *);
int	walk_excluded(const struct conf_rule *, const char *, const char *);

#endif
