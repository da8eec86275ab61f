/* fimguard status: what the monitor running on this state directory is
 * doing, asked over its control socket (monitor/ctl.c). Only the
 * config is read (for state_dir), not the policy, so a broken policy
 * cannot hide a running monitor. */
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "cli/commands.h"
#include "core/cmd.h"
#include "core/log.h"
#include "monitor/ctl.h"

static void
status_print_alerts(json_object *o)
{
	static const char *keys[] = { "sinks", "pid", "worker", "spooled",
	    "delivered", "failed", "spool_errors" };
	json_object *al, *v;

	if (!json_object_object_get_ex(o, "alerts", &al))
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_object_get_ex(al, keys[i], &v))
			printf("alerts.%-12s %s\n", keys[i],
			    json_object_is_type(v, json_type_array) ?
			    json_object_to_json_string_ext(v,
			    JSON_C_TO_STRING_PLAIN) : json_object_get_string(v));
}

static void
status_print(json_object *o)
{
	static const char *keys[] = { "pid", "mode", "rules", "files",
	    "directories", "events", "writes", "denied", "modified",
	    "restores", "queue", "dropped", "errors", "fd_limit",
	    "fd_shortages", "uptime_s", "reloads" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_object *v;

		if (json_object_object_get_ex(o, keys[i], &v))
			printf("%-12s %s\n", keys[i], json_object_get_string(v));
	}
	status_print_alerts(o);
}

/* fimguard status: exit 0 with the monitor's counters, 2 if none runs
 * for this state directory. */
int
cmd_status(const struct cmd_opts *o)
{
	struct conf c;
	json_object *j;
	char *reply;

	conf_init(&c);
	if (conf_load_config(&c, o->config, o->config_given) != 0) {
		for (size_t i = 0; i < c.errors.n; i++)
			fprintf(stderr, "%s\n", c.errors.v[i]);
		conf_free(&c);
		return EXIT_USAGE;
	}
	reply = ctl_fetch(cmd_state_dir(o, &c));
	if (reply == NULL || (j = json_tokener_parse(reply)) == NULL) {
		log_warnx("no monitor is running for %s",
		    cmd_state_dir(o, &c));
		free(reply);
		conf_free(&c);
		return EXIT_USAGE;
	}
	if (o->json)
		printf("%s\n", json_object_to_json_string_ext(j,
		    JSON_C_TO_STRING_PLAIN));
	else
		status_print(j);
	json_object_put(j);
	free(reply);
	conf_free(&c);
	return EXIT_OK;
}
