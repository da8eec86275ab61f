/* Who-data: the process behind an event, from /proc. */
#ifndef FIMGUARD_WHO_H
#define FIMGUARD_WHO_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/ring.h"

unsigned who_snapshot(pid_t, struct perm_record *);
int	 who_start_time_at(int, uint64_t *);
void	 who_to_event(json_object *, const struct perm_record *);
int	 who_exe_id(pid_t, uint64_t *, uint64_t *);
void	 who_pid_to_event(json_object *, pid_t);

#endif
