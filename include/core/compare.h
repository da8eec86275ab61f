/* Compare the current state with a baseline: what changed, and how. */
#ifndef FIMGUARD_COMPARE_H
#define FIMGUARD_COMPARE_H

#include "core/baseline.h"
#include "core/entry.h"
#include "core/pkg.h"

enum compare_action {
	CMP_MODIFIED, CMP_CREATED, CMP_DELETED, CMP_RENAMED, CMP_ATTRS,
	CMP_SCAN_FAILED, CMP_NACTIONS
};

enum compare_what {
	CMP_CONTENT = 1 << 0, CMP_TYPE = 1 << 1, CMP_MODE = 1 << 2,
	CMP_UID = 1 << 3, CMP_GID = 1 << 4, CMP_TARGET = 1 << 5,
	CMP_XATTRS = 1 << 6, CMP_NLINK = 1 << 7
};

struct change {
	int			 action;
	unsigned		 what;		/* enum compare_what bits */
	const struct entry	*now;		/* NULL when deleted */
	const struct entry	*base;		/* NULL when created */
	struct pkg_label	 pkg;		/* owned: pkg_label() */
};

struct changes {
	struct change	*v;
	size_t		 n, cap;
	size_t		 count[CMP_NACTIONS];
};

void	 compare_run(const struct baseline *, const struct entryvec *,
	    struct changes *);
unsigned compare_entry(const struct entry *, const struct entry *);
int	 compare_need_sha(const struct baseline *, const struct entry *);
const char *compare_action_name(int);
const char *compare_what_name(unsigned);
void	 changes_free(struct changes *);

#endif
