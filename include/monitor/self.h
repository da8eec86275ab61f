/* Events in fimguard's own directories (state, policy): see self.c. */
#ifndef FIMGUARD_SELF_H
#define FIMGUARD_SELF_H

#include "monitor/notify.h"

struct monitor;

int	 self_notify(struct monitor *, const struct notify_event *);

#endif
