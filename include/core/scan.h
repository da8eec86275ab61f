/* Read and hash the content of regular-file entries on every core. */
#ifndef FIMGUARD_SCAN_H
#define FIMGUARD_SCAN_H

#include "core/entry.h"

struct scan_opts {
	const uint8_t	*secret;	/* XXH3 secret */
	int		 sha;		/* SHA-256 for every file */
	const char	*vault;		/* vault dir for entries with .vault */
	int		 progress;	/* show progress on stderr */
};

void	scan_entries(struct entryvec *, const struct scan_opts *);
int	scan_file(struct entry *, const struct scan_opts *);

#endif
