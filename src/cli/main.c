/* fimguard: command line. Global options may appear anywhere; the
 * first operand is the command. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/cmd.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/render.h"
#include "monitor/run.h"

#define DEFAULT_CONFIG	"/etc/fimguard/fimguard.conf"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: fimguard [-c FILE] [-p DIR] [-s DIR] [-v] COMMAND ...\n"
	    "  init [--force | --if-missing]     build the baseline\n"
	    "  check [--json] [--verify-packages] compare with the baseline\n"
	    "  approve [--reason TEXT] [--json] (--all | PATH...)\n"
	    "                                    accept current state\n"
	    "  approve --packages [--dry-run] [--hook] [--reason TEXT] [--json]\n"
	    "                                    accept what the package\n"
	    "                                    database vouches for\n"
	    "  policy check                      validate config and policy\n"
	    "  run [--mode audit|enforce] [--foreground] [--format text|json]\n"
	    "                                    the real-time monitor\n"
	    "  status [--json | --format text|json|prometheus]\n"
	    "                                    what the monitor is doing\n"
	    "  events [--follow] [--since TIME] [--action A] [--path GLOB]\n"
	    "         [--rule R] [--format text|json]\n"
	    "                                    show the events file\n"
	    "  suggest [--rule R] [--since TIME] writers seen in audit mode\n"
	    "options:\n"
	    "  -c FILE  config (default " DEFAULT_CONFIG ")\n"
	    "  -p DIR   policy directory (default /etc/fimguard/policy.d)\n"
	    "  -s DIR   state directory (default /var/lib/fimguard)\n"
	    "  -v       more detail on stderr (-vv: debug)\n");
}

enum { OPT_FORCE = 256, OPT_JSON, OPT_ALL, OPT_REASON, OPT_MODE,
	OPT_FOREGROUND, OPT_IF_MISSING, OPT_FORMAT, OPT_FOLLOW, OPT_SINCE,
	OPT_ACTION, OPT_PATH, OPT_RULE, OPT_PACKAGES, OPT_DRY_RUN, OPT_HOOK,
	OPT_VERIFY_PACKAGES };

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "policy", required_argument, NULL, 'p' },
	{ "state", required_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "if-missing", no_argument, NULL, OPT_IF_MISSING },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "follow", no_argument, NULL, OPT_FOLLOW },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "action", required_argument, NULL, OPT_ACTION },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "rule", required_argument, NULL, OPT_RULE },
	{ "packages", no_argument, NULL, OPT_PACKAGES },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "hook", no_argument, NULL, OPT_HOOK },
	{ "verify-packages", no_argument, NULL, OPT_VERIFY_PACKAGES },
	{ NULL, 0, NULL, 0 }
};

/* Returns -1 on a usage error. */
static int
parse_args(int argc, char **argv, struct cmd_opts *o)
{
	int ch;

	o->config = DEFAULT_CONFIG;
	while ((ch = getopt_long(argc, argv, "c:p:s:vh", long_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; o->config_given = 1; break;
		case 'p': o->policy_dir = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'v': o->verbose++; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case OPT_FORCE: o->force = 1; break;
		case OPT_IF_MISSING: o->if_missing = 1; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_ALL: o->all = 1; break;
		case OPT_REASON: o->reason = optarg; break;
		case OPT_MODE: o->mode = optarg; break;
		case OPT_FOREGROUND: o->foreground = 1; break;
		case OPT_FORMAT:
			if (strcmp(optarg, "prometheus") == 0)
				o->format = CMD_FORMAT_PROMETHEUS;
			else if ((o->format = render_format(optarg)) < 0) {
				log_warnx("--format: text, json or prometheus, "
				    "not '%s'", optarg);
				return -1;
			}
			o->format_given = 1;
			break;
		case OPT_FOLLOW: o->follow = 1; break;
		case OPT_SINCE: o->since = optarg; break;
		case OPT_ACTION: o->action = optarg; break;
		case OPT_PATH: o->path_glob = optarg; break;
		case OPT_RULE: o->rule = optarg; break;
		case OPT_PACKAGES: o->packages = 1; break;
		case OPT_DRY_RUN: o->dry_run = 1; break;
		case OPT_HOOK: o->hook = 1; break;
		case OPT_VERIFY_PACKAGES: o->verify_packages = 1; break;
		default: return -1;
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return 0;
}

/* Options that belong to one command are refused elsewhere, so a
 * misplaced --force never silently does nothing. */
static int
check_scope(const char *cmd, const struct cmd_opts *o)
{
	if ((o->force || o->if_missing) && strcmp(cmd, "init") != 0)
		return -1;
	if (o->force && o->if_missing)
		return -1;
	if (o->json && strcmp(cmd, "check") != 0 &&
	    strcmp(cmd, "approve") != 0 && strcmp(cmd, "status") != 0)
		return -1;
	if ((o->all || o->reason || o->packages) &&
	    strcmp(cmd, "approve") != 0)
		return -1;
	if ((o->dry_run || o->hook) && !o->packages)
		return -1;
	if (o->verify_packages && strcmp(cmd, "check") != 0)
		return -1;
	if ((o->mode || o->foreground) && strcmp(cmd, "run") != 0)
		return -1;
	if (o->format_given && strcmp(cmd, "run") != 0 &&
	    strcmp(cmd, "events") != 0 && strcmp(cmd, "status") != 0)
		return -1;
	if (o->format == CMD_FORMAT_PROMETHEUS && strcmp(cmd, "status") != 0)
		return -1;
	if ((o->follow || o->action || o->path_glob) &&
	    strcmp(cmd, "events") != 0)
		return -1;
	if ((o->since || o->rule) && strcmp(cmd, "events") != 0 &&
	    strcmp(cmd, "suggest") != 0)
		return -1;
	return 0;
}

static int
dispatch(const char *cmd, struct cmd_opts *o)
{
	if (check_scope(cmd, o) < 0) {
		log_warnx("option not valid for '%s'", cmd);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "approve") == 0)
		return cmd_approve(o);
	if (o->nargs > 0) {
		log_warnx("%s: unexpected argument '%s'", cmd, o->args[0]);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "init") == 0)
		return cmd_init(o);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(o);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(o);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(o);
	if (strcmp(cmd, "events") == 0)
		return cmd_events(o);
	if (strcmp(cmd, "suggest") == 0)
		return cmd_suggest(o);
	log_warnx("unknown command '%s'", cmd);
	usage(stderr);
	return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	struct cmd_opts o = { 0 };
	const char *cmd;
	int r;

	log_init("fimguard", 0);
	if (parse_args(argc, argv, &o) < 0 || o.nargs == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	log_init("fimguard", o.verbose);
	cmd = o.args[0];
	o.args++;
	o.nargs--;
	hash_global_init();
	if (strcmp(cmd, "policy") == 0) {
		if (o.nargs != 1 || strcmp(o.args[0], "check") != 0 ||
		    check_scope(cmd, &o) < 0) {
			usage(stderr);
			r = EXIT_USAGE;
		} else {
			o.nargs = 0;
			r = cmd_policy_check(&o);
		}
	} else
		r = dispatch(cmd, &o);
	hash_global_free();
	fflush(stdout);
	return r;
}
