/* A single-producer single-consumer ring from the permission thread to
 * the worker. The producer never blocks and never allocates: when the
 * ring is full the record is dropped and counted. */
#ifndef FIMGUARD_RING_H
#define FIMGUARD_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RING_SLOTS	1024	/* power of two */
#define RING_EXE_MAX	1024
#define RING_ARGS_MAX	1024	/* command line, NUL-separated, cut */
#define RING_CLOSED	UINT32_MAX	/* more: taken by the consumer */

/* What the permission thread saw of one write-intent open. Everything
 * before exe is zeroed for each record. */
struct perm_record {
	uint64_t	 seq;		/* position in the ring */
	uint64_t	 time_ms;	/* decided at (util_now_ms) */
	uint64_t	 dev, ino;	/* the file */
	pid_t		 tid;
	pid_t		 pid;		/* thread group, 0 if unknown */
	pid_t		 ppid;
	uint32_t	 uid, euid, gid, auid, sessionid;
	uint64_t	 start_time;	/* of tid, against pid reuse */
	long		 syscall_nr;
	const char	*syscall;	/* its name (static), or NULL */
	uint64_t	 flags;		/* open flags, when has_flags */
	int		 has_flags;
	int		 intent;	/* enum intent */
	int		 intent_source;	/* enum intent_source */
	int		 decision;	/* enum perm_decision */
	int		 io_uring;
	int		 args_wanted;	/* a command line reader was asked */
	uint32_t	 args_len;
	/* identical denials folded into this record after it was filled
	 * (perm.c, atomically, until the worker takes the record and
	 * closes the count with RING_CLOSED): a loop of denied opens
	 * fills one slot, not the ring */
	uint32_t	 more;
	char		 comm[16];
	char		 exe[RING_EXE_MAX];
	/* the command line: read off the permission thread (args.c), so
	 * a writer gone before it was read has none */
	char		 args[RING_ARGS_MAX];
};

struct ring {
	struct perm_record *slots;
	uint64_t	 head;		/* written by the producer */
	uint64_t	 tail;		/* written by the consumer */
	uint64_t	 dropped;
	int		 efd;		/* eventfd: "records waiting" */
};

int	 ring_init(struct ring *);
void	 ring_free(struct ring *);
struct perm_record *ring_reserve(struct ring *, size_t);
void	 ring_publish(struct ring *, size_t);
void	 ring_wake(struct ring *, size_t);
int	 ring_pop(struct ring *, struct perm_record *);
int	 ring_fold(struct perm_record *);

#endif
