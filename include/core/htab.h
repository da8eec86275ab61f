/* A string -> index hash table (open addressing). Keys are borrowed:
 * the caller keeps them alive as long as the table. */
#ifndef FIMGUARD_HTAB_H
#define FIMGUARD_HTAB_H

#include <stddef.h>

struct htab {
	const char	**keys;
	size_t		 *vals;
	size_t		  cap, n;
};

void	htab_init(struct htab *, size_t);
void	htab_free(struct htab *);
int	htab_put(struct htab *, const char *, size_t);
void	htab_set(struct htab *, const char *, size_t);
int	htab_get(const struct htab *, const char *, size_t *);
int	htab_del(struct htab *, const char *);

#endif
