/* The entry point of each command: cmd_NAME in src/cli/NAME.c (policy
 * check: cmd_policy_check in policy.c). `run` is the monitor process
 * itself: cmd_run in monitor/run.h. */
#ifndef FIMGUARD_COMMANDS_H
#define FIMGUARD_COMMANDS_H

struct cmd_opts;

int	 cmd_init(const struct cmd_opts *);
int	 cmd_check(const struct cmd_opts *);
int	 cmd_approve(const struct cmd_opts *);
int	 cmd_policy_check(const struct cmd_opts *);
int	 cmd_status(const struct cmd_opts *);
int	 cmd_events(const struct cmd_opts *);
int	 cmd_suggest(const struct cmd_opts *);

#endif
