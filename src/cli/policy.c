/* fimguard policy check: the same loader every command uses, run for
 * its errors alone. */
#include <stdio.h>

#include "cli/commands.h"
#include "core/cmd.h"

int
cmd_policy_check(const struct cmd_opts *o)
{
	struct conf c;
	size_t npaths = 0;

	if (cmd_load_conf(o, &c) != 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < c.nrules; i++)
		npaths += c.rules[i].paths.n;
	printf("fimguard policy check: ok (%zu file%s, %zu rule%s, %zu "
	    "path%s, mode %s)\n", c.files.n, c.files.n == 1 ? "" : "s",
	    c.nrules, c.nrules == 1 ? "" : "s", npaths,
	    npaths == 1 ? "" : "s", conf_mode_name(c.mode));
	conf_free(&c);
	return EXIT_OK;
}
