/* Unified diffs of small text files, for alerts on rules with diff. */
#ifndef FIMGUARD_DIFF_H
#define FIMGUARD_DIFF_H

#include <stddef.h>

#define DIFF_MAX_INPUT	(1024 * 1024)	/* larger files get no diff */
#define DIFF_MAX_OUTPUT	(64 * 1024)	/* longer diffs are cut */

int	 diff_is_text(const char *, size_t);
char	*diff_unified(const char *, size_t, const char *, size_t,
	    const char *, const char *);

#endif
