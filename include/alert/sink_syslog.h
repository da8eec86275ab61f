/* The syslog sink: RFC 5424 messages carrying the ECS event, to a
 * syslog daemon over RELP (acknowledged), TCP or TLS (RFC 6587 octet
 * counting, RFC 5425) or a local datagram socket. */
#ifndef FIMGUARD_SINK_SYSLOG_H
#define FIMGUARD_SINK_SYSLOG_H

#include "alert/sink.h"

char	*sink_syslog_format(json_object *, const char *, int, size_t);
void	 sink_syslog_send(const struct sink_conf *, const struct alert *,
	    struct sink_result *);

#endif
