/* The monitor's control socket: `fimguard status` asks, the monitor
 * answers with one JSON object. */
#ifndef FIMGUARD_CTL_H
#define FIMGUARD_CTL_H

#include "monitor/monitor.h"

#define CTL_SOCKET	"monitor.sock"

/* Counters since the process started: what the instances a reload
 * stopped counted, added up (ctl_account), plus the current one's. */
struct ctl_totals {
	uint64_t	 started_ms;
	unsigned	 reloads;
	uint64_t	 events, writes, denied, errors;
	uint64_t	 modified, restores, quarantined, dropped;
	uint64_t	 fd_shortages;
};

int	 ctl_listen(const char *);
void	 ctl_account(struct ctl_totals *, const struct monitor *);
void	 ctl_serve(int, const struct monitor *, uint64_t,
	    const struct ctl_totals *);
char	*ctl_fetch(const char *);
void	 ctl_notify_reload(const char *);
uint64_t ctl_fd_shortages(const struct monitor *);

#endif
