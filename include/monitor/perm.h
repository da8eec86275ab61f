/* The permission thread: answers every FAN_OPEN_PERM event. */
#ifndef FIMGUARD_PERM_H
#define FIMGUARD_PERM_H

#include <stdint.h>
#include <sys/types.h>

#include "monitor/intent.h"
#include "monitor/ring.h"
#include "monitor/watch.h"

enum perm_decision {
	PERM_ALLOW,		/* read, or not ours to judge */
	PERM_ALLOW_WRITER,	/* write by an allowed writer */
	PERM_ALLOW_AUDIT,	/* write allowed because the mode is audit */
	PERM_ALLOW_UNKNOWN,	/* intent unknown, unknown_intent = allow */
	PERM_DENY,		/* write denied (enforce) */
	PERM_DENY_UNKNOWN,	/* intent unknown, denied (enforce) */
	PERM_DENY_SELF,		/* write to fimguard's own files */
};

struct args;

/* The most events read (and so descriptors held) at once. */
#define PERM_BATCH	256

/* The last record filled, for folding identical denials into it. */
struct perm_fold_key {
	struct perm_record *rec;	/* NULL: none */
	pid_t		 tid;
	uint64_t	 dev, ino;
	int		 decision;
	uint64_t	 exe[2];	/* dev, ino of the executable */
};

struct perm_ctx {
	int		 fd;		/* the permission group */
	int		 pre_fd;	/* pre-content group (truncate = deny) */
	int		 stop_fd;	/* eventfd: stop */
	struct watch_tab *tab;		/* read with __atomic_load_n */
	int		 unknown_deny;
	struct ring	*ring;
	struct args	*args;		/* command line readers */
	struct intent_ctx intent;	/* this thread's /proc fd cache */
	size_t		 batch;		/* events per read, <= PERM_BATCH */
	pid_t		 self;
	uint64_t	 self_dev, self_ino;	/* fimguard's executable */
	/* counters, read by the status command */
	uint64_t	 events, writes, denied, errors;
	uint64_t	 fd_shortages;	/* besides intent.shortages */
	/* watchdog: when the current batch started (0: idle) */
	uint64_t	 busy_since_ms;
	uint64_t	 batch_deadline_ms;	/* for waits inside a batch */
	pid_t		 tid;
	struct perm_fold_key fold;
};

void	*perm_main(void *);
void	 perm_watch(struct perm_ctx *, int);
int	 perm_watchdog_start(void);
const char *perm_decision_name(int);
int	 perm_decision_denies(int);

#endif
