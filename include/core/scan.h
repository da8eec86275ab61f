/* Read and hash the content of regular-file entries on every core. */
#ifndef FIMGUARD_SCAN_H
#define FIMGUARD_SCAN_H

#include "core/entry.h"

/* What happened to the vault copies (counted by every scan thread). */
struct scan_stats {
	size_t		 vault_failed;	/* copy could not be written */
	size_t		 hash_only;	/* above vault_max: hash only */
};

struct scan_opts {
	const uint8_t	*secret;	/* XXH3 secret */
	int		 sha;		/* SHA-256 for every file */
	int		 pkg;		/* and the package digest of files
					   that have entry.pkg_algo */
	const char	*vault;		/* vault dir for entries with .vault */
	uint64_t	 vault_max;	/* larger files get no vault copy */
	struct scan_stats *stats;	/* may be NULL */
	int		 progress;	/* show progress on stderr */
};

void	scan_entries(struct entryvec *, const struct scan_opts *);
int	scan_file(struct entry *, const struct scan_opts *);

#endif
