/* Alerts: the monitor spools each alerting event for every configured
 * sink; the alerter process delivers them. */
#ifndef FIMGUARD_ALERT_H
#define FIMGUARD_ALERT_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "alert/sink.h"

struct conf;

struct alert_sink {
	int		 on;
	struct sink_conf c;
	struct strlist	 actions;	/* empty: the default set */
	int		 min_sev;	/* 0 low .. 3 critical */
	int		 args;		/* args = yes: process.args as is */
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
	char		 host[256];
	char		 skipped[64];	/* alerter: last unreadable entry */
};

int	 alert_prepare(struct alerter *, const struct conf *, const char *);
int	 alert_start(struct alerter *);
void	 alert_event(void *, json_object *);
void	 alert_read(struct alerter *);
void	 alert_status(const struct alerter *, json_object *);
void	 alert_stop(struct alerter *);

#endif
