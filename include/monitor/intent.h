/* Why is this thread opening the file? Decoded from the blocked
 * thread's /proc/<tid>/syscall while it waits for our answer. */
#ifndef FIMGUARD_INTENT_H
#define FIMGUARD_INTENT_H

#include <stdint.h>
#include <sys/types.h>

enum intent { INTENT_READ, INTENT_WRITE, INTENT_UNKNOWN };

/* What was seen, for the report ("openat flags 0x241"). */
struct intent_info {
	long		 nr;		/* syscall number, -1 if none */
	uint64_t	 flags;		/* open flags when decoded */
	int		 io_uring;	/* issued through io_uring */
};

int	 intent_decode(pid_t, struct intent_info *, uint64_t);
int	 intent_from_syscall(const char *, pid_t, struct intent_info *);
int	 intent_flags_write(uint64_t);
void	 intent_cache_clear(void);
const char *intent_name(int);

#endif
