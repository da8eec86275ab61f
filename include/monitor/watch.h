/* The inodes the monitor watches: (device, inode) -> what protects it.
 * One thread changes a table (setup, then the instance's worker); one
 * thread reads it concurrently (the instance's permission thread,
 * through watch_get only), without locks and without allocating: the
 * table is changed in place, and an array outgrown or worn out by
 * deletions is freed only once that reader is done with it. */
#ifndef FIMGUARD_WATCH_H
#define FIMGUARD_WATCH_H

#include <stddef.h>
#include <stdint.h>

#define WATCH_NO_ENTRY	UINT32_MAX
#define WATCH_SELF	UINT16_MAX	/* fimguard's own files */

/* One watched inode, as a lookup returns it (a copy). */
struct watch {
	uint64_t	 dev, ino;
	uint32_t	 entry;		/* index in the monitor's entries */
	uint16_t	 rule;		/* index in conf rules, or WATCH_SELF */
	uint8_t		 mode;		/* enum conf_mode, effective */
	uint8_t		 used;
};

struct watch_tab;

struct watch_tab *watch_tab_new(size_t, size_t);
void	 watch_tab_free(struct watch_tab *);
void	 watch_set(struct watch_tab *, uint64_t, uint64_t, uint32_t,
	    uint16_t, uint8_t);
int	 watch_del(struct watch_tab *, uint64_t, uint64_t, uint32_t);
int	 watch_find(const struct watch_tab *, uint64_t, uint64_t,
	    struct watch *);
int	 watch_next(const struct watch_tab *, size_t *, struct watch *);
size_t	 watch_count(const struct watch_tab *);
size_t	 watch_bytes(const struct watch_tab *);
void	 watch_reclaim(struct watch_tab *);
const struct watch *watch_get(const struct watch_tab *, uint64_t, uint64_t);
void	 watch_add_writer(struct watch_tab *, size_t, uint64_t, uint64_t);
int	 watch_writer_ok(const struct watch_tab *, size_t, uint64_t,
	    uint64_t);
int	 watch_writer_any(const struct watch_tab *, uint64_t, uint64_t);

#endif
