/* Alerts: the monitor spools each alerting event for every configured
 * sink; the alerter process delivers them. */
#ifndef FIMGUARD_ALERT_H
#define FIMGUARD_ALERT_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "alert/sink.h"

#define ALERT_DIGEST_MAX	100	/* alerts listed in one digest */
#define ALERT_SPOOL_MAX		1000	/* spool_max's default */

struct conf;

/* A sink's alerts past its spool_max, folded while they wait for room:
 * one digest entry, never a file each. The monitor's, under its lock. */
struct alert_overflow {
	json_object	*items;		/* distinct (action, path, rule), each
					 * with fimguard.repeat.count */
	uint64_t	 count;		/* alerts folded in */
	uint64_t	 unlisted;	/* of them, past ALERT_DIGEST_MAX items */
	int		 dirty;		/* changed since spool_hold */
	uint64_t	 held_ms;	/* last spool_hold */
};

struct alert_sink {
	int		 on;
	struct sink_conf c;
	struct strlist	 actions;	/* empty: the default set */
	int		 min_sev;	/* 0 low .. 3 critical */
	int		 args;		/* args = yes: process.args as is */
	int		 send_verified;	/* verified package changes too */
	/* monitor only */
	long		 spool_max;	/* ready entries at most, then a digest */
	long		 pending;	/* ready entries: last count + pushed */
	uint64_t	 counted_ms;	/* when last counted */
	struct alert_overflow over;
	/* alerter only */
	uint64_t	 next_ms;	/* backing off until */
	unsigned	 failures;	/* in a row */
	uint64_t	*sent_ms;	/* ring of the last `rate` sends */
	size_t		 nsent;
};

struct alerter {
	struct alert_sink sinks[SINK_NKINDS];
	int		 nsinks;
	int		 spool_fd;	/* <state>/spool */
	int		 sock;		/* our end of the socketpair */
	int		 dead;		/* the alerter is gone (atomic) */
	pid_t		 pid;		/* the alerter (supervisor) */
	pid_t		 worker;	/* its worker, from MSG_HELLO */
	uid_t		 uid;
	gid_t		 gid;
	uint64_t	 seq;
	uint64_t	 spooled, delivered, failed, spool_errors;
	uint64_t	 folded;	/* alerts that went into a digest */
	pthread_mutex_t	 lock;		/* monitor: spool counts, overflow */
	unsigned	 hellos;	/* workers started (restarts + 1) */
	char		 host[256];
	char		 skipped[64];	/* alerter: last unreadable entry */
};

int	 alert_prepare(struct alerter *, const struct conf *, const char *);
int	 alert_start(struct alerter *);
void	 alert_event(void *, json_object *);
void	 alert_read(struct alerter *);
void	 alert_tick(struct alerter *);
void	 alert_status(const struct alerter *, json_object *);
void	 alert_stop(struct alerter *);

#endif
