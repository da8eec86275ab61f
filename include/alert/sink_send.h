/* Deliver one alert to the sink its configuration names (sink_send.c). */
#ifndef FIMGUARD_SINK_SEND_H
#define FIMGUARD_SINK_SEND_H

#include "alert/sink.h"

void	 sink_send(const struct sink_conf *, const struct alert *,
	    struct sink_result *);

#endif
