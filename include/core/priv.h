/* Dropping privileges: the monitor's capabilities, the alerter's user,
 * and both seccomp filters. */
#ifndef FIMGUARD_PRIV_H
#define FIMGUARD_PRIV_H

#include <sys/types.h>

int	 priv_alerter_ids(uid_t *, gid_t *);
void	 priv_drop_monitor(int);
void	 priv_drop_alerter(uid_t, gid_t);
void	 priv_seccomp_monitor(void);
void	 priv_seccomp_alerter(void);

#endif
