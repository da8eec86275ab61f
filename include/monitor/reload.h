/* What a reload changes in the policy (policy-changed events). */
#ifndef FIMGUARD_RELOAD_H
#define FIMGUARD_RELOAD_H

#include "core/conf.h"
#include "core/event.h"

size_t	 reload_report(struct event_sink *, const struct conf *,
	    const struct conf *);

#endif
