/* fimguard run: the monitor process (setup order, signals, reloads,
 * systemd's notify protocol). */
#ifndef FIMGUARD_RUN_H
#define FIMGUARD_RUN_H

struct cmd_opts;

int	 cmd_run(const struct cmd_opts *);

#endif
