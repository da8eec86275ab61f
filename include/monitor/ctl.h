/* The monitor's control socket: `fimguard status` asks, the monitor
 * answers with one JSON object. */
#ifndef FIMGUARD_CTL_H
#define FIMGUARD_CTL_H

#include "monitor/monitor.h"

#define CTL_SOCKET	"monitor.sock"

int	 ctl_listen(const char *);
void	 ctl_serve(int, const struct monitor *, uint64_t, unsigned);
char	*ctl_fetch(const char *);
void	 ctl_notify_reload(const char *);
uint64_t ctl_fd_shortages(const struct monitor *);

#endif
