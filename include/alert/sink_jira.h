/* Jira Cloud (REST v3, ADF) and Data Center (v2, wiki markup): search for
 * the dedup label, then create an issue or comment on the open one. */
#ifndef FIMGUARD_SINK_JIRA_H
#define FIMGUARD_SINK_JIRA_H

#include "alert/sink.h"

void	 sink_jira_send(const struct sink_conf *, const struct alert *,
	    struct sink_result *);

#endif
