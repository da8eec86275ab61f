/* Walk the policy's paths and collect entries (metadata only). */
#ifndef FIMGUARD_WALK_H
#define FIMGUARD_WALK_H

#include "core/conf.h"
#include "core/entry.h"

/* Called with each directory before its entries are read: fd open on
 * it, its path, and the index of the rule whose entries it holds (-1:
 * the directory above a rule's root). The monitor marks it there, so
 * that what changes in it after it was listed is an event. */
typedef void (*walk_dir_fn)(void *, int, const char *, int);

int	walk_policy(const struct conf *, struct entryvec *);
int	walk_policy_dirs(const struct conf *, struct entryvec *, walk_dir_fn,
	    void *);
int	walk_excluded(const struct conf_rule *, const char *, const char *);

#endif
