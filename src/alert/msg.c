/* The alerter protocol: fixed-size messages, checked exactly. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "alert/msg.h"
#include "core/log.h"

static const size_t msg_sizes[MSG_NTYPES] = {
	[MSG_HELLO] = sizeof(struct msg_hello),
	[MSG_KICK] = sizeof(struct msg_kick),
	[MSG_RESULT] = sizeof(struct msg_result),
};

/* 0 sent, 1 would block (the peer is busy or restarting: the spool
 * keeps the alert), -1 the peer is gone. */
int
msg_send(int fd, uint32_t type, const void *payload, size_t len)
{
	struct msg m = { .type = type, .len = (uint32_t)len };

	if (type == 0 || type >= MSG_NTYPES || len != msg_sizes[type])
		fatalx("msg_send: bad message %u/%zu", type, len);
	memcpy(&m.u, payload, len);
	if (send(fd, &m, offsetof(struct msg, u) + len, MSG_DONTWAIT |
	    MSG_NOSIGNAL) >= 0)
		return 0;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ?
	    1 : -1;
}

/* 1 a message, 0 nothing waiting, -1 the peer closed, -2 a message of
 * an unknown type or a wrong size: the peer is not ours any more, and
 * the caller ends the conversation (the alerter exits; the monitor
 * stops alerting but never stops answering permission events). */
int
msg_recv(int fd, struct msg *m)
{
	ssize_t n;

	memset(m, 0, sizeof(*m));
	n = recv(fd, m, sizeof(*m), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	if ((size_t)n < offsetof(struct msg, u) || m->type == 0 ||
	    m->type >= MSG_NTYPES || m->len != msg_sizes[m->type] ||
	    (size_t)n != offsetof(struct msg, u) + m->len) {
		log_warnx("malformed message from the other process (type "
		    "%u, %zd bytes)", m->type, n);
		return -2;
	}
	if (m->type == MSG_RESULT &&	/* strings must end inside */
	    (memchr(m->u.result.name, '\0', MSG_NAME_MAX) == NULL ||
	    memchr(m->u.result.detail, '\0', MSG_DETAIL_MAX) == NULL)) {
		log_warnx("unterminated string from the other process");
		return -2;
	}
	return 1;
}
