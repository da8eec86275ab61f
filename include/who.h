/* Who-data: the process behind an event, from /proc. */
#ifndef FIMGUARD_WHO_H
#define FIMGUARD_WHO_H

#include <json-c/json.h>
#include <sys/types.h>

#include "ring.h"

void	 who_snapshot(pid_t, struct perm_record *);
void	 who_to_event(json_object *, const struct perm_record *);

#endif
