/* fimguard status: what the monitor running on this state directory is
 * doing, asked over its control socket (monitor/ctl.c). Only the
 * config is read (for state_dir), not the policy, so a broken policy
 * cannot hide a running monitor. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "alert/sink.h"
#include "alert/spool.h"
#include "cli/commands.h"
#include "core/cmd.h"
#include "core/log.h"
#include "core/render.h"
#include "core/util.h"
#include "monitor/ctl.h"

static void
status_print_alerts(json_object *o)
{
	static const char *keys[] = { "sinks", "pid", "worker", "restarts",
	    "spooled", "delivered", "failed", "spool_errors", "folded" };
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

/* "reconciled   2026-12-02T05:17:40Z, 3 changes, 0.120 s" */
static void
status_print_reconcile(json_object *o)
{
	json_object *at, *secs, *n;
	char when[32];
	time_t t;

	if (!json_object_object_get_ex(o, "last_reconciliation", &at) ||
	    !json_object_object_get_ex(o, "last_reconciliation_s", &secs) ||
	    !json_object_object_get_ex(o, "last_reconciliation_changes", &n))
		return;
	t = (time_t)json_object_get_int64(at);
	if (strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
	    gmtime(&t)) == 0)
		return;
	printf("%-12s %s, %lld change%s, %.3f s\n", "reconciled", when,
	    (long long)json_object_get_int64(n),
	    json_object_get_int64(n) == 1 ? "" : "s",
	    json_object_get_double(secs));
}

static void
status_print(json_object *o)
{
	static const char *keys[] = { "pid", "mode", "rules", "files",
	    "directories", "events", "writes", "denied", "modified",
	    "restores", "quarantined", "held", "queue", "dropped", "errors",
	    "events_lost", "vault_hash_only", "fd_limit", "fd_shortages",
	    "uptime_s", "reloads" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_object *v;

		if (json_object_object_get_ex(o, keys[i], &v))
			printf("%-12s %s\n", keys[i], json_object_get_string(v));
	}
	status_print_reconcile(o);
	status_print_alerts(o);
}

/* --format prometheus: node_exporter's textfile format, so that a
 * monitoring system sees a stalled queue, a growing spool or a crashing
 * alerter without parsing our text. */
struct status_metric {
	const char	*key;		/* in the monitor's reply */
	const char	*name;		/* after "fimguard_" */
	const char	*type;
	const char	*help;
};

static const struct status_metric status_metrics[] = {
	{ "events", "permission_events_total", "counter",
	    "Permission events answered." },
	{ "writes", "write_attempts_total", "counter",
	    "Opens of protected files for writing." },
	{ "denied", "denied_total", "counter", "Opens denied." },
	{ "modified", "modified_total", "counter",
	    "Changes confirmed by hash." },
	{ "restores", "restores_total", "counter",
	    "Files put back from the vault." },
	{ "quarantined", "quarantined_total", "counter",
	    "New entries taken out of protected directories." },
	{ "held", "package_changes_held", "gauge",
	    "Package changes held until the package hook or package_quiet." },
	{ "queue", "queue_depth", "gauge",
	    "Write records waiting for the worker." },
	{ "dropped", "dropped_total", "counter",
	    "Write records dropped on a full queue." },
	{ "errors", "errors_total", "counter",
	    "Errors while answering permission events." },
	{ "events_lost", "events_lost_total", "counter",
	    "Events that could not be written to the events file." },
	{ "vault_hash_only", "vault_hash_only_files", "gauge",
	    "Baseline files above vault_max_size: no diff, no restore." },
	{ "files", "protected_files", "gauge", "Files marked." },
	{ "uptime_s", "uptime_seconds", "gauge",
	    "Seconds since the monitor started." },
	{ "reloads", "reloads_total", "counter", "Reloads." },
	{ "last_reconciliation", "last_reconciliation_timestamp_seconds",
	    "gauge", "When the start-up reconciliation with the baseline "
	    "last ended (start or reload), Unix time." },
	{ "last_reconciliation_s", "last_reconciliation_duration_seconds",
	    "gauge", "How long it took." },
	{ "last_reconciliation_changes", "last_reconciliation_changes",
	    "gauge", "Differences from the baseline it found." },
	{ "alerts.delivered", "alerts_delivered_total", "counter",
	    "Alerts confirmed by their sink." },
	{ "alerts.failed", "alerts_failed_total", "counter",
	    "Alerts a sink refused for good (spool/failed)." },
	{ "alerts.spool_errors", "spool_errors_total", "counter",
	    "Alerts that could not be spooled." },
	{ "alerts.restarts", "alerter_restarts_total", "counter",
	    "Alerter workers started again after the first." },
	{ "alerts.folded", "alerts_folded_total", "counter",
	    "Alerts folded into a digest past a sink's spool_max." },
};

static void
status_prom_head(const char *name, const char *type, const char *help)
{
	printf("# HELP fimguard_%s %s\n# TYPE fimguard_%s %s\n", name, help,
	    name, type);
}

/* A value by its dotted key ("alerts.failed"), or NULL. */
static json_object *
status_get(json_object *o, const char *key)
{
	const char *dot = strchr(key, '.');
	json_object *v;
	char head[32];

	if (dot == NULL)
		return json_object_object_get_ex(o, key, &v) ? v : NULL;
	snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
	return json_object_object_get_ex(o, head, &v) ?
	    status_get(v, dot + 1) : NULL;
}

struct status_spool {
	size_t		 depth[SINK_NKINDS];
	uint64_t	 oldest_ms;	/* 0: empty */
	int		 ok;
};

/* Entries are named <ms>-<seq>-<sink>.json: their age is in the name,
 * so nothing is opened. The spool is root's (mode 2770): run as
 * another user, it is not counted. */
static void
status_spool(const char *state, struct status_spool *sp)
{
	char *path = xasprintf("%s/%s", state, SPOOL_DIR);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct strlist l = { 0 };

	memset(sp, 0, sizeof(*sp));
	free(path);
	if (dfd < 0)
		return;
	if (spool_list(dfd, &l) == 0) {
		sp->ok = 1;
		for (size_t i = 0; i < l.n; i++) {
			uint64_t ms = strtoull(l.v[i], NULL, 10);
			const char *sink = spool_sink(l.v[i]);

			for (int k = 0; k < SINK_NKINDS; k++)
				if (strcmp(sink, sink_name(k)) == 0)
					sp->depth[k]++;
			if (ms != 0 && (sp->oldest_ms == 0 || ms < sp->oldest_ms))
				sp->oldest_ms = ms;
		}
	}
	strlist_free(&l);
	close(dfd);
}

static void
status_prom_spool(json_object *o, const char *state)
{
	json_object *sinks = status_get(o, "alerts.sinks");
	struct status_spool sp;

	if (sinks == NULL)
		return;
	status_spool(state, &sp);
	if (!sp.ok)
		return;
	status_prom_head("spool_depth", "gauge",
	    "Alerts waiting in the spool, by sink.");
	for (size_t i = 0; i < json_object_array_length(sinks); i++) {
		const char *name = json_object_get_string(
		    json_object_array_get_idx(sinks, i));

		for (int k = 0; k < SINK_NKINDS; k++)
			if (name != NULL && strcmp(name, sink_name(k)) == 0)
				printf("fimguard_spool_depth{sink=\"%s\"} %zu\n",
				    name, sp.depth[k]);
	}
	status_prom_head("spool_oldest_age_seconds", "gauge",
	    "Age of the oldest alert waiting in the spool (0: none).");
	printf("fimguard_spool_oldest_age_seconds %llu\n",
	    (unsigned long long)(sp.oldest_ms == 0 ? 0 :
	    (util_now_ms() - sp.oldest_ms) / 1000));
}

static void
status_prometheus(json_object *o, const char *state)
{
	status_prom_head("up", "gauge", "1 if a monitor answered.");
	printf("fimguard_up %d\n", o != NULL);
	if (o == NULL)
		return;
	for (size_t i = 0; i < sizeof(status_metrics) /
	    sizeof(status_metrics[0]); i++) {
		const struct status_metric *m = &status_metrics[i];
		json_object *v = status_get(o, m->key);

		if (v == NULL)
			continue;
		status_prom_head(m->name, m->type, m->help);
		if (json_object_is_type(v, json_type_double))
			printf("fimguard_%s %.3f\n", m->name,
			    json_object_get_double(v));
		else
			printf("fimguard_%s %lld\n", m->name,
			    (long long)json_object_get_int64(v));
	}
	status_prom_spool(o, state);
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
		cmd_conf_errors(&c);
		conf_free(&c);
		return EXIT_USAGE;
	}
	reply = ctl_fetch(cmd_state_dir(o, &c));
	if (reply == NULL || (j = json_tokener_parse(reply)) == NULL) {
		if (o->format == CMD_FORMAT_PROMETHEUS)
			status_prometheus(NULL, NULL);	/* fimguard_up 0 */
		log_warnx("no monitor is running for %s",
		    cmd_state_dir(o, &c));
		free(reply);
		conf_free(&c);
		return EXIT_USAGE;
	}
	if (o->format == CMD_FORMAT_PROMETHEUS)
		status_prometheus(j, cmd_state_dir(o, &c));
	else if (o->json || o->format == RENDER_JSON)
		printf("%s\n", json_object_to_json_string_ext(j,
		    JSON_C_TO_STRING_PLAIN));
	else
		status_print(j);
	json_object_put(j);
	free(reply);
	conf_free(&c);
	return EXIT_OK;
}
