/* Holding package changes (the worker's; handed from one instance to
 * the next on a reload). A dpkg or rpm transaction writes many files;
 * each `modified` of a file a package owns, made by one of the rule's
 * writers, waits here instead of alerting. The package hook then runs
 * `fimguard approve --packages`, which accepts what the package
 * database vouches for and makes the monitor reload: the new instance
 * gets the held events and sends each one the new baseline accepted
 * (same SHA-256, owned, verified digest) as verified (fimguard.package
 * .verified: true, which sinks skip unless send_verified = yes). The
 * rest wait on, and package_quiet seconds after the last change held
 * they go out unverified, and alert. So does everything when the
 * monitor stops. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "monitor/hold.h"

/* Returns 0 if held, -1 if full (the caller sends it now). */
int
hold_push(struct hold *h, const char *path, const uint8_t *sha,
    json_object *ev, uint64_t now)
{
	size_t len = 0;

	/* an event with a large diff weighs what its text does */
	json_object_to_json_string_length(ev, JSON_C_TO_STRING_PLAIN, &len);
	if (h->n >= HOLD_MAX || h->bytes + len > HOLD_MAX_BYTES)
		return -1;
	h->v = xreallocarray(h->v, h->n + 1, sizeof(*h->v));
	h->v[h->n].path = xstrdup(path);
	memcpy(h->v[h->n].sha, sha, 32);
	h->v[h->n].ev = ev;
	h->v[h->n].bytes = len;
	h->n++;
	h->bytes += len;
	h->last_ms = now;
	return 0;
}

/* from's worker has stopped; to's runs: it takes them at its next turn
 * (hold_release). What from was handed and had not taken goes too. */
void
hold_hand_over(struct hold *from, struct hold *to)
{
	struct hold *g = xcalloc(1, sizeof(*g)), *left;

	if ((left = __atomic_exchange_n(&from->incoming, NULL,
	    __ATOMIC_ACQ_REL)) != NULL) {
		*g = *left;
		g->incoming = NULL;
		free(left);
	}
	for (size_t i = 0; i < from->n; i++) {
		g->v = xreallocarray(g->v, g->n + 1, sizeof(*g->v));
		g->v[g->n++] = from->v[i];
		g->bytes += from->v[i].bytes;
	}
	if (from->last_ms > g->last_ms)
		g->last_ms = from->last_ms;
	free(from->v);
	from->v = NULL;
	from->n = 0;
	from->bytes = 0;
	if ((left = __atomic_exchange_n(&to->incoming, g,
	    __ATOMIC_ACQ_REL)) != NULL)
		hold_free(left);	/* cannot happen: one reload at a time */
}

static json_object *
hold_pkg(json_object *ev)
{
	return event_obj(event_obj(ev, "fimguard"), "package");
}

/* Did this baseline accept the held content as its package's? */
static const struct entry *
hold_accepted(const struct baseline *b, const struct hold_item *it)
{
	struct entry *e;

	if (b == NULL || !baseline_find(b, it->path, &e) || !e->has_sha ||
	    memcmp(e->sha, it->sha, 32) != 0 || e->owner == NULL ||
	    !e->pkg_ok)
		return NULL;
	return e;
}

static void
hold_send(struct event_sink *sink, struct hold_item *it,
    const struct entry *e, const char *why)
{
	json_object *p = hold_pkg(it->ev), *v;

	if (e != NULL) {
		if (json_object_object_get_ex(p, "version", &v))
			event_set_str(p, "previous_version",
			    json_object_get_string(v));
		event_set_str(p, "version", e->owner->version);
		json_object_object_del(p, "reason");
	} else
		event_set_str(p, "reason", why);
	json_object_object_add(p, "verified", json_object_new_boolean(e !=
	    NULL));
	event_emit(sink, it->ev);
	it->ev = NULL;
	free(it->path);
}

/* Handed over by the previous instance: what this baseline accepted
 * goes out verified, the rest waits on with ours. */
static void
hold_take(struct hold *h, const struct baseline *b, struct event_sink *sink)
{
	struct hold *in = __atomic_exchange_n(&h->incoming, NULL,
	    __ATOMIC_ACQ_REL);
	const struct entry *e;

	if (in == NULL)
		return;
	for (size_t i = 0; i < in->n; i++) {
		if ((e = hold_accepted(b, &in->v[i])) != NULL)
			hold_send(sink, &in->v[i], e, NULL);
		else {
			h->v = xreallocarray(h->v, h->n + 1, sizeof(*h->v));
			h->v[h->n++] = in->v[i];
			h->bytes += in->v[i].bytes;
		}
	}
	if (in->last_ms > h->last_ms)
		h->last_ms = in->last_ms;
	free(in->v);
	free(in);
}

/* Each worker turn: take what was handed over; once package_quiet
 * seconds passed since the last change held (or all: stopping), send
 * the rest as not verified. */
void
hold_release(struct hold *h, const struct baseline *b,
    struct event_sink *sink, uint64_t now, unsigned quiet_s, int all)
{
	hold_take(h, b, sink);
	if (h->n == 0 || (!all && now - h->last_ms < (uint64_t)quiet_s * 1000))
		return;
	for (size_t i = 0; i < h->n; i++)
		hold_send(sink, &h->v[i], NULL, all ? "the monitor stopped "
		    "before 'fimguard approve --packages' accepted it" :
		    "'fimguard approve --packages' did not accept it within "
		    "package_quiet");
	free(h->v);
	h->v = NULL;
	h->n = 0;
	h->bytes = 0;
}

/* How long the worker may sleep before hold_release has work: -1 for
 * ever (nothing held). */
int
hold_wait_ms(const struct hold *h, uint64_t now, unsigned quiet_s)
{
	uint64_t due = h->last_ms + (uint64_t)quiet_s * 1000;

	if (h->n == 0)
		return -1;
	return due <= now ? 0 : (int)(due - now);
}

static void
hold_items_free(struct hold *h)
{
	for (size_t i = 0; i < h->n; i++) {
		json_object_put(h->v[i].ev);
		free(h->v[i].path);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
	h->bytes = 0;
}

/* What is left (nothing, after a final hold_release) is dropped. */
void
hold_free(struct hold *h)
{
	struct hold *in = __atomic_exchange_n(&h->incoming, NULL,
	    __ATOMIC_ACQ_REL);

	hold_items_free(h);
	if (in != NULL) {
		hold_items_free(in);
		free(in);
	}
}
