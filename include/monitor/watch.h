/* The inodes the monitor watches: (device, inode) -> what protects it.
 * Built before the threads start and read by the permission thread
 * without locks; a reload builds a new table and swaps the pointer. */
#ifndef FIMGUARD_WATCH_H
#define FIMGUARD_WATCH_H

#include <stddef.h>
#include <stdint.h>

#define WATCH_NO_ENTRY	UINT32_MAX
#define WATCH_SELF	UINT16_MAX	/* fimguard's own files */

struct watch {
	uint64_t	 dev, ino;
	uint32_t	 entry;		/* index in the monitor's entries */
	uint16_t	 rule;		/* index in conf rules, or WATCH_SELF */
	uint8_t		 mode;		/* enum conf_mode, effective */
	uint8_t		 used;
};

struct watch_writer {
	uint64_t	 dev, ino;	/* of the executable at start */
};

struct watch_tab {
	struct watch	*v;
	size_t		 cap, n;
	/* allowed writers per rule: writers[r][0..nwriters[r]) */
	struct watch_writer **writers;
	size_t		*nwriters;
	size_t		 nrules;
};

struct watch_tab *watch_tab_new(size_t, size_t);
void	 watch_tab_free(struct watch_tab *);
struct watch_tab *watch_tab_clone(const struct watch_tab *);
struct watch *watch_put(struct watch_tab *, uint64_t, uint64_t);
const struct watch *watch_get(const struct watch_tab *, uint64_t, uint64_t);
void	 watch_add_writer(struct watch_tab *, size_t, uint64_t, uint64_t);
int	 watch_writer_ok(const struct watch_tab *, size_t, uint64_t,
	    uint64_t);
int	 watch_writer_any(const struct watch_tab *, uint64_t, uint64_t);

#endif
