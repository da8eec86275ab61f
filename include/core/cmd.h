/* What every command does first: options, loading config, state and
 * baseline. The commands themselves are in cli/ (and `run`, the
 * monitor's process, in monitor/run.c). */
#ifndef FIMGUARD_CMD_H
#define FIMGUARD_CMD_H

#include "core/baseline.h"
#include "core/conf.h"
#include "core/pkg.h"
#include "core/state.h"

/* Exit statuses (DESIGN.md section 4). */
#define EXIT_OK		0
#define EXIT_CHANGES	1
#define EXIT_USAGE	2
#define EXIT_BASELINE	3

/* --format prometheus (status only); the other formats are
 * enum render_format's. */
#define CMD_FORMAT_PROMETHEUS	100

struct cmd_opts {
	const char	*config;
	int		 config_given;
	const char	*policy_dir;
	const char	*state_dir;
	int		 force;
	int		 if_missing;
	int		 json;
	int		 all;
	const char	*reason;
	const char	*mode;
	int		 foreground;
	int		 format;	/* enum render_format, or
					   CMD_FORMAT_PROMETHEUS */
	int		 format_given;
	int		 follow;	/* events --follow */
	const char	*since;		/* events, suggest: --since */
	const char	*action;	/* events: --action */
	const char	*path_glob;	/* events: --path */
	const char	*rule;		/* events, suggest: --rule */
	int		 verbose;
	int		 packages;	/* approve --packages */
	int		 dry_run;	/* approve --dry-run */
	int		 hook;		/* approve --hook: as the package
					   hooks run it */
	int		 verify_packages;	/* check --verify-packages */
	char		**args;
	int		 nargs;
};

void	 cmd_conf_errors(const struct conf *);
int	 cmd_load_conf(const struct cmd_opts *, struct conf *);
const char *cmd_state_dir(const struct cmd_opts *, const struct conf *);
const char *cmd_policy_dir(const struct cmd_opts *, const struct conf *);
#define CMD_STATE_RECOVER	2	/* cmd_open_state: the monitor's */
int	 cmd_open_state(const struct cmd_opts *, const struct conf *,
	    struct state *, int);
int	 cmd_load_baseline(const struct state *, struct baseline *);
int	 cmd_lock(struct state *);
size_t	 cmd_scan(struct entryvec *, struct state *, const struct conf *,
	    int);
int	 cmd_packages(const struct conf *, struct pkg_db *);

#endif
