/* The one place that knows every sink: an alert goes to the sink its
 * spool entry names. The sinks use sink.c's helpers and never each
 * other, so the dependency runs one way (sink_send -> sink_* -> sink). */
#include <string.h>

#include "alert/sink_jira.h"
#include "alert/sink_send.h"
#include "alert/sink_smtp.h"
#include "alert/sink_syslog.h"
#include "alert/sink_webhook.h"

void
sink_send(const struct sink_conf *c, const struct alert *a,
    struct sink_result *r)
{
	memset(r, 0, sizeof(*r));
	r->retry_after_s = -1;
	switch (c->kind) {
	case SINK_JIRA:
		sink_jira_send(c, a, r);
		break;
	case SINK_SMTP:
		sink_smtp_send(c, a, r);
		break;
	case SINK_SYSLOG:
		sink_syslog_send(c, a, r);
		break;
	default:
		sink_webhook_send(c, a, r);
		break;
	}
}
