/* Config and policy: one line grammar, one stream parser, one
 * validation entry point (conf_load) used by every command and test. */
#ifndef FIMGUARD_CONF_H
#define FIMGUARD_CONF_H

#include <stdint.h>
#include <stdio.h>

#include "core/util.h"

/* vault_max_size when unset: files above it are kept as hashes only */
#define CONF_VAULT_MAX_DEFAULT	((uint64_t)64 << 20)

enum conf_mode { CONF_MODE_UNSET = 0, CONF_MODE_AUDIT, CONF_MODE_ENFORCE };
enum conf_severity {
	CONF_SEV_UNSET = 0, CONF_SEV_LOW, CONF_SEV_MEDIUM, CONF_SEV_HIGH,
	CONF_SEV_CRITICAL
};
enum conf_intent { CONF_INTENT_UNSET = 0, CONF_INTENT_DENY, CONF_INTENT_ALLOW };
enum conf_kind { CONF_KIND_CONFIG, CONF_KIND_POLICY };
enum conf_truncate { CONF_TRUNC_UNSET = 0, CONF_TRUNC_ALLOW, CONF_TRUNC_DENY };
/* new_files: what the monitor does with an entry a non-writer creates */
enum conf_new_files { CONF_NEW_UNSET = 0, CONF_NEW_REPORT,
	CONF_NEW_QUARANTINE };

#define CONF_POLICY_DIR	"/etc/fimguard/policy.d"	/* the default */
#define CONF_REPEAT_INTERVAL	60	/* repeat_interval's default, seconds */
#define CONF_PACKAGE_QUIET	60	/* package_quiet's default, seconds */

/* packages = auto | dpkg | rpm | none (unset: auto) */
enum conf_packages { CONF_PKG_UNSET = 0, CONF_PKG_AUTO, CONF_PKG_DPKG,
	CONF_PKG_RPM, CONF_PKG_NONE };

struct conf_rule {
	char		*name;
	char		*file;
	int		 line;
	struct strlist	 paths;
	struct strlist	 exclude;
	struct strlist	 writers;
	int		 paths_given;	/* a paths line, even a bad one */
	int		 recursive;
	int		 diff;
	int		 restore;
	int		 truncate;	/* enum conf_truncate */
	int		 new_files;	/* enum conf_new_files */
	int		 mode;		/* enum conf_mode; UNSET = global */
	int		 severity;	/* enum conf_severity */
};

/* An alert sink section ([jira], [smtp], [webhook]): validated key and
 * value pairs, interpreted by the alerter. */
struct conf_section {
	char		*name;
	char		*file;
	int		 line;
	struct strlist	 keys;
	struct strlist	 values;
};

struct conf {
	int		 mode;		/* enum conf_mode */
	int		 unknown_intent; /* enum conf_intent */
	int		 repeat_interval; /* seconds; identical denials folded */
	char		*events;
	char		*state_dir;
	char		*policy_dir;
	uint64_t	 vault_max;	/* vault_max_size; 0: unset */
	int		 packages;	/* enum conf_packages */
	char		*package_root;	/* NULL: / */
	int		 package_hook;	/* 0 unset (yes), 1 yes, 2 no */
	int		 package_quiet;	/* seconds a held change waits */
	struct conf_rule *rules;
	size_t		 nrules;
	struct conf_section *sections;
	size_t		 nsections;
	struct strlist	 errors;	/* "FILE:LINE: message" */
	struct strlist	 files;		/* policy files read, in order */
};

void	 conf_init(struct conf *);
void	 conf_free(struct conf *);
int	 conf_parse(struct conf *, FILE *, const char *, enum conf_kind);
int	 conf_validate(struct conf *);
int	 conf_load(struct conf *, const char *, int, const char *);
int	 conf_load_config(struct conf *, const char *, int);
const char *conf_section_get(const struct conf *, const char *, const char *);
int	 conf_rule_mode(const struct conf *, const struct conf_rule *);
int	 conf_rule_new_files(const struct conf *, const struct conf_rule *);
int	 conf_unknown_deny(const struct conf *);
int	 conf_package_hook(const struct conf *);
uint64_t conf_vault_max(const struct conf *);
const char *conf_mode_name(int);
const char *conf_severity_name(int);
int	 conf_severity_ecs(int);

#endif
