/* Command lines of writers, read off the permission thread. */
#ifndef FIMGUARD_ARGS_H
#define FIMGUARD_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/ring.h"

struct args;

struct args *args_new(void);
int	 args_start(struct args *);
void	 args_stop(struct args *);
int	 args_request(struct args *, uint64_t, pid_t, uint64_t);
void	 args_kick(struct args *, size_t);
void	 args_fetch(struct args *, struct perm_record *);

#endif
