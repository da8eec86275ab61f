/* A reload reads the config and the policy again: whoever can write the
 * policy directory can put any path into audit mode, drop a rule or
 * allow a writer at the next SIGHUP. So the reload says what the new
 * policy changes, before the new instance answers: one policy-changed
 * event (critical) per rule added, removed, or whose effective mode,
 * paths, writers or restore changed, with what was and what is
 * (fimguard.policy). Rules are matched by name. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "monitor/reload.h"

#define RELOAD_DATASET	"fimguard.monitor"

static const struct conf_rule *
reload_find(const struct conf *c, const char *name)
{
	for (size_t r = 0; r < c->nrules; r++)
		if (strcmp(c->rules[r].name, name) == 0)
			return &c->rules[r];
	return NULL;
}

static int
reload_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static json_object *
reload_string(const char *s)
{
	char *lossy;
	json_object *o;

	if (util_utf8_valid(s, strlen(s)))
		return json_object_new_string(s);
	lossy = util_utf8_lossy(s);
	o = json_object_new_string(lossy);
	free(lossy);
	return o;
}

/* The words of a that are not in b (b NULL: all of a), or NULL. */
static json_object *
reload_minus(const struct strlist *a, const struct strlist *b)
{
	json_object *arr = NULL;

	for (size_t i = 0; i < a->n; i++) {
		if (b != NULL && reload_has(b, a->v[i]))
			continue;
		if (arr == NULL)
			arr = json_object_new_array();
		json_object_array_add(arr, reload_string(a->v[i]));
	}
	return arr;
}

/* fimguard.policy.<key>: {"added": [...], "removed": [...]}, or nothing
 * when the two lists hold the same words. Returns 1 if added. */
static int
reload_list(json_object *pol, const char *key, const struct strlist *was,
    const struct strlist *now)
{
	json_object *add = now ? reload_minus(now, was) : NULL;
	json_object *del = was ? reload_minus(was, now) : NULL;
	json_object *o;

	if (add == NULL && del == NULL)
		return 0;
	o = event_obj(pol, key);
	if (add != NULL)
		json_object_object_add(o, "added", add);
	if (del != NULL)
		json_object_object_add(o, "removed", del);
	return 1;
}

/* fimguard.policy.<key>: {"previous": ..., "now": ...} where they
 * differ (either may be absent: a rule added or removed). */
static int
reload_value(json_object *pol, const char *key, json_object *was,
    json_object *now)
{
	json_object *o;

	if (was != NULL && now != NULL &&
	    strcmp(json_object_to_json_string(was),
	    json_object_to_json_string(now)) == 0) {
		json_object_put(was);
		json_object_put(now);
		return 0;
	}
	o = event_obj(pol, key);
	if (was != NULL)
		json_object_object_add(o, "previous", was);
	if (now != NULL)
		json_object_object_add(o, "now", now);
	return 1;
}

static json_object *
reload_mode(const struct conf *c, const struct conf_rule *r)
{
	return r == NULL ? NULL :
	    json_object_new_string(conf_mode_name(conf_rule_mode(c, r)));
}

static json_object *
reload_restore(const struct conf_rule *r)
{
	return r == NULL ? NULL : json_object_new_boolean(r->restore);
}

/* The event for one rule (was NULL: added; now NULL: removed), or NULL
 * when nothing this event speaks of changed. */
static json_object *
reload_rule(const struct conf *oc, const struct conf_rule *was,
    const struct conf *nc, const struct conf_rule *now)
{
	const struct conf_rule *r = now ? now : was;
	const char *change = was == NULL ? "added" : now == NULL ?
	    "removed" : "changed";
	json_object *ev = event_new(RELOAD_DATASET, "policy-changed",
	    "success"), *pol, *type;
	int n = 0;

	pol = event_obj(event_obj(ev, "fimguard"), "policy");
	n += reload_value(pol, "mode", reload_mode(oc, was),
	    reload_mode(nc, now));
	n += reload_value(pol, "restore", reload_restore(was),
	    reload_restore(now));
	n += reload_list(pol, "paths", was ? &was->paths : NULL,
	    now ? &now->paths : NULL);
	n += reload_list(pol, "writers", was ? &was->writers : NULL,
	    now ? &now->writers : NULL);
	if (n == 0 && was != NULL && now != NULL) {
		json_object_put(ev);
		return NULL;
	}
	event_set_str(pol, "change", change);
	/* ECS: a change of configuration, not of a file */
	type = json_object_new_array();
	json_object_array_add(type, json_object_new_string("configuration"));
	json_object_object_add(event_obj(ev, "event"), "category", type);
	type = json_object_new_array();
	json_object_array_add(type, json_object_new_string(was == NULL ?
	    "creation" : now == NULL ? "deletion" : "change"));
	json_object_object_add(event_obj(ev, "event"), "type", type);
	event_put_path(event_obj(ev, "file"), "path", r->file ? r->file : "");
	event_rule(ev, r->name, CONF_SEV_CRITICAL, conf_rule_mode(now ? nc : oc,
	    r));
	return ev;
}

/* Emit what changed from the policy old to the policy now into sink.
 * Returns the number of events. */
size_t
reload_report(struct event_sink *sink, const struct conf *old,
    const struct conf *now)
{
	size_t n = 0;

	for (size_t i = 0; i < now->nrules; i++) {
		const struct conf_rule *r = &now->rules[i];
		json_object *ev = reload_rule(old, reload_find(old, r->name),
		    now, r);

		if (ev != NULL) {
			event_emit(sink, ev);
			n++;
		}
	}
	for (size_t i = 0; i < old->nrules; i++) {
		const struct conf_rule *r = &old->rules[i];

		if (reload_find(now, r->name) == NULL) {
			event_emit(sink, reload_rule(old, r, now, NULL));
			n++;
		}
	}
	return n;
}
