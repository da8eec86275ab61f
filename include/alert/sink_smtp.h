/* One plain-text mail per alert over SMTP with STARTTLS or smtps. */
#ifndef FIMGUARD_SINK_SMTP_H
#define FIMGUARD_SINK_SMTP_H

#include "alert/sink.h"

void	 sink_smtp_send(const struct sink_conf *, const struct alert *,
	    struct sink_result *);

#endif
