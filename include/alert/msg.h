/* The monitor <-> alerter protocol over a SOCK_SEQPACKET socketpair:
 * one enum of message types, each with one exact size. Either side
 * treats anything else as an attack and stops (OpenBSD imsg habit). */
#ifndef FIMGUARD_MSG_H
#define FIMGUARD_MSG_H

#include <stddef.h>
#include <stdint.h>

#define MSG_VERSION	1
#define MSG_NAME_MAX	64	/* spool entry name, NUL-padded */
#define MSG_DETAIL_MAX	256

enum msg_type {
	MSG_HELLO = 1,		/* alerter -> monitor: worker started */
	MSG_KICK,		/* monitor -> alerter: a new spool entry */
	MSG_RESULT,		/* alerter -> monitor: a delivery outcome */
	MSG_NTYPES
};

struct msg_hello {
	uint32_t	 version;
	int32_t		 pid;		/* the alerter worker */
	uint32_t	 uid;
	uint32_t	 pending;	/* spool entries found at start */
};

struct msg_kick {
	uint64_t	 seq;
};

struct msg_result {
	uint32_t	 sink;		/* enum sink_kind */
	uint32_t	 outcome;	/* enum sink_outcome */
	int64_t		 status;	/* HTTP or SMTP code */
	uint32_t	 count;		/* alerts it covered (digest) */
	char		 name[MSG_NAME_MAX];
	char		 detail[MSG_DETAIL_MAX];
};

struct msg {
	uint32_t	 type;
	uint32_t	 len;		/* of the payload */
	union {
		struct msg_hello  hello;
		struct msg_kick	  kick;
		struct msg_result result;
	} u;
};

int	 msg_send(int, uint32_t, const void *, size_t);
int	 msg_recv(int, struct msg *);

#endif
