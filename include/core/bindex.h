/* A compact, read-only view of the baseline for check: just what
 * decides "unchanged", plus where each record is in the file. Records
 * that may have changed are read again in full (bindex_entry). This
 * keeps check's memory at about half of what the full entries take. */
#ifndef FIMGUARD_BINDEX_H
#define FIMGUARD_BINDEX_H

#include <stdio.h>

#include "core/baseline.h"
#include "core/entry.h"
#include "core/state.h"
#include "core/util.h"

struct bindex_ent {
	const char	*path;		/* in the arena */
	const char	*target;	/* in the arena, or NULL */
	const char	*xattrs;	/* in the arena, or NULL */
	const char	*pkgsum;	/* in the arena: verified package
					   digest, or NULL */
	const struct pkg_owner *owner;	/* in owners, or NULL */
	uint64_t	 size;
	uint64_t	 off;		/* byte offset of the record */
	uint32_t	 mode, uid, gid;
	uint32_t	 nlink;
	uint8_t		 type;
	uint8_t		 has_xxh;
	uint8_t		 error;		/* recorded without content */
	uint8_t		 xxh[ENTRY_XXH_LEN];
};

struct bindex {
	struct bindex_ent *v;
	size_t		 n, cap;
	struct arena	 arena;
	struct pkg_owners owners;
	FILE		*fp;		/* the verified file, kept open */
};

int	 bindex_load(struct bindex *, const struct state *, char **);
void	 bindex_free(struct bindex *);
int	 bindex_find(const struct bindex *, const char *, size_t *);
int	 bindex_same(const struct bindex_ent *, const struct entry *);
int	 bindex_entry(const struct bindex *, size_t, struct entry *,
	    struct strlist *, struct pkg_owners *);

#endif
