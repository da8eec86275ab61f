/* Paths opened one directory at a time, through directory descriptors:
 * no length limit, and recorded directories verified on the way. */
#ifndef FIMGUARD_FDPATH_H
#define FIMGUARD_FDPATH_H

#include <stddef.h>
#include <stdint.h>

#include "core/entry.h"
#include "core/htab.h"

/* The recorded identity of directory path: 1 and *dev, *ino set, or 0
 * when nothing is recorded for it. */
typedef int (*fdpath_expect_fn)(void *, const char *, uint64_t *,
	    uint64_t *);

struct fdpath_level {
	size_t		 end;		/* path[0..end) names it */
	int		 fd;		/* O_PATH; -1 once closed to save fds */
	int		 strict;	/* opened without following a link */
	uint64_t	 dev, ino;	/* what it was when first opened */
};

/* A chain of open directories leading to the last one asked for: the
 * next directory in the same subtree costs one openat(). Not shared
 * between threads. */
struct fdpath {
	char			*path;	/* the chain's directory */
	size_t			 len, size;
	struct fdpath_level	*lv;
	size_t			 n, cap;
	fdpath_expect_fn	 expect;
	void			*arg;
	int			 rel;	/* from the current directory */
};

/* Directory entries of a walk, by path: what fdpath_known_fn expects. */
struct fdpath_known {
	struct htab		 tab;
	const struct entryvec	*ev;
};

void	 fdpath_init(struct fdpath *, fdpath_expect_fn, void *);
void	 fdpath_close(struct fdpath *);
int	 fdpath_dir(struct fdpath *, const char *, size_t, char **);
int	 fdpath_parent(struct fdpath *, const char *, const char **, char **);
int	 fdpath_open_parent(const char *, const char **, fdpath_expect_fn,
	    void *, char **);
int	 fdpath_openat(const char *, int, fdpath_expect_fn, void *, char **);
char	*fdpath_show(const char *);

void	 fdpath_known_init(struct fdpath_known *, const struct entryvec *);
void	 fdpath_known_free(struct fdpath_known *);
int	 fdpath_known_fn(void *, const char *, uint64_t *, uint64_t *);

#endif
