/* A JSON POST: Slack/Mattermost/Teams text plus the ECS event. */
#ifndef FIMGUARD_SINK_WEBHOOK_H
#define FIMGUARD_SINK_WEBHOOK_H

#include "alert/sink.h"

void	 sink_webhook_send(const struct sink_conf *, const struct alert *,
	    struct sink_result *);

#endif
