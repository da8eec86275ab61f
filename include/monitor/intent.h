/* Why is this thread opening the file? Decided from what the kernel
 * holds: the blocked thread's registers (/proc/<tid>/syscall) or the
 * inode's write count (a read lease on the event's fd). */
#ifndef FIMGUARD_INTENT_H
#define FIMGUARD_INTENT_H

#include <stdint.h>
#include <sys/types.h>

enum intent { INTENT_READ, INTENT_WRITE, INTENT_UNKNOWN };

/* What decided (fimguard.intent_source in events). */
enum intent_source {
	INTENT_SRC_NONE,	/* nothing could: unknown intent */
	INTENT_SRC_SYSCALL,	/* the syscall's arguments, from registers */
	INTENT_SRC_WRITE_COUNT,	/* whether the inode is open for writing */
};

/* What was seen, for the report ("openat flags 0x241"). */
struct intent_info {
	long		 nr;		/* syscall number, -1 if none */
	const char	*syscall;	/* its name, NULL if not an open */
	uint64_t	 flags;		/* open flags, when has_flags */
	int		 has_flags;
	int		 io_uring;	/* issued through io_uring */
	int		 truncate;	/* truncate(2) and kin (pre-content) */
	int		 source;	/* enum intent_source */
};

/* One permission thread's /proc/<tid>/syscall descriptors, by thread
 * id (a reload runs two permission threads side by side: each has its
 * own). nslots 0: open and close one each time. */
struct intent_slot {
	pid_t		 tid;
	int		 fd;
};

struct intent_ctx {
	struct intent_slot *slot;
	unsigned	 nslots;
	uint64_t	 shortages;	/* no descriptor for /proc (EMFILE) */
};

void	 intent_ctx_init(struct intent_ctx *, unsigned);
void	 intent_ctx_close(struct intent_ctx *);
void	 intent_ctx_free(struct intent_ctx *);
int	 intent_decode(struct intent_ctx *, pid_t, int, struct intent_info *,
	    uint64_t);
int	 intent_from_syscall(const char *, struct intent_info *);
int	 intent_write_count(int);
int	 intent_flags_write(uint64_t);
const char *intent_name(int);
const char *intent_source_name(int);

#endif
