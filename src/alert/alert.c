/* The monitor's side of alerting. At start (root, no threads yet) it
 * reads each sink's config, its secret and CA file, creates the spool,
 * and forks the alerter (alerter.c). While running, every event that
 * should alert is written durably to the spool, once per sink, and the
 * alerter is told; delivery outcomes come back over the socketpair. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alert/alert.h"
#include "alert/alerter.h"
#include "alert/msg.h"
#include "alert/spool.h"
#include "core/conf.h"
#include "core/event.h"
#include "core/log.h"
#include "core/priv.h"
#include "core/util.h"

#define ALERT_SECRET_MAX	65536

/* What alerts when a sink sets no `actions`: every change and every
 * denial, one alert per change: not write-allowed (in audit mode the
 * modified event that follows carries the writer), nor approvals. */
static const char *alert_default_actions[] = { "modified", "created",
	"deleted", "renamed", "attributes-changed", "write-denied",
	"restored", "restore-failed", "quarantined", "preexisting-writer",
	"scan-failed", "policy-changed" };

static void
alert_split(const char *v, struct strlist *out)
{
	char *s = xstrdup(v ? v : ""), *save = NULL;

	for (char *w = strtok_r(s, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save))
		strlist_push(out, w);
	free(s);
}

static char *
alert_read_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	char *buf;
	ssize_t n;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	buf = xmalloc(max + 1);
	while (got < max && (n = read(fd, buf + got, max - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	if (len != NULL)
		*len = got;
	return buf;
}

/* A secret from <kind>_env, <kind>_file or <kind>_credential (a file
 * in systemd's $CREDENTIALS_DIRECTORY). The environment copy is wiped
 * in place: /proc/<pid>/environ shows the original block. */
static int
alert_secret(const struct conf *c, const char *sec, const char *kind,
    char **out)
{
	char key[64], *path = NULL, *v;
	const char *name;
	size_t len = 0, cut;

	*out = NULL;
	snprintf(key, sizeof(key), "%s_env", kind);
	if ((name = conf_section_get(c, sec, key)) != NULL) {
		if ((v = getenv(name)) == NULL || *v == '\0') {
			log_warnx("[%s] %s: environment variable %s is not "
			    "set", sec, key, name);
			return -1;
		}
		*out = xstrdup(v);
		explicit_bzero(v, strlen(v));
		unsetenv(name);
		return 0;
	}
	snprintf(key, sizeof(key), "%s_file", kind);
	if ((name = conf_section_get(c, sec, key)) != NULL)
		path = xstrdup(name);
	snprintf(key, sizeof(key), "%s_credential", kind);
	if (path == NULL && (name = conf_section_get(c, sec, key)) != NULL) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		if (dir == NULL || strchr(name, '/') != NULL) {
			log_warnx("[%s] %s = %s: no $CREDENTIALS_DIRECTORY "
			    "(set LoadCredential= in the unit)", sec, key,
			    name);
			return -1;
		}
		path = xasprintf("%s/%s", dir, name);
	}
	if (path == NULL)
		return 0;	/* no secret configured */
	if ((*out = alert_read_file(path, ALERT_SECRET_MAX, &len)) == NULL) {
		log_warn("[%s] %s", sec, path);
		free(path);
		return -1;
	}
	free(path);
	/* one line; what follows it is wiped, not just cut off */
	cut = strcspn(*out, "\r\n");
	explicit_bzero(*out + cut, len - cut);
	return 0;
}

static int
alert_severity(const char *v)
{
	static const char *names[] = { "low", "medium", "high", "critical" };

	for (int i = 0; v != NULL && i < 4; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return 0;
}

/* [syslog]: facility (default authpriv: the events name secret files)
 * and the largest message the receiver takes (rsyslog's default
 * maxMessageSize, 8096). */
static void
alert_load_syslog(struct sink_conf *sc, const struct conf *c)
{
	static const char *fac[] = { "kern", "user", "mail", "daemon", "auth",
	    "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
	    "local0", "local1", "local2", "local3", "local4", "local5",
	    "local6", "local7" };
	const char *v = conf_section_get(c, "syslog", "facility");

	sc->facility = 10;
	for (int i = 0; v != NULL && i < 20; i++)
		if (strcmp(v, fac[i]) == 0)
			sc->facility = i < 12 ? i : 16 + (i - 12);
	v = conf_section_get(c, "syslog", "max_size");
	sc->max_size = v ? (size_t)atol(v) : 8096;
}

static int
alert_load_sink(struct alert_sink *s, int kind, const struct conf *c)
{
	static const char *prio_keys[4] = { "priority_low", "priority_medium",
	    "priority_high", "priority_critical" };
	static const char *prio_default[4] = { "Low", "Medium", "High",
	    "Highest" };
	const char *sec = sink_name(kind), *v;
	struct sink_conf *sc = &s->c;

	sc->kind = kind;
	if ((v = conf_section_get(c, sec, "url")) != NULL)
		sc->url = xstrdup(v);
	else if (alert_secret(c, sec, "url", &sc->url) < 0)
		return -1;
	if (sc->url == NULL || (strncmp(sc->url, "https://", 8) != 0 &&
	    strncmp(sc->url, "http://", 7) != 0 && kind == SINK_WEBHOOK)) {
		log_warnx("[%s] the secret url is not an http(s) URL", sec);
		return -1;
	}
	if ((v = conf_section_get(c, sec, "ca_file")) != NULL &&
	    (sc->ca_blob = alert_read_file(v, 4 << 20, &sc->ca_len)) == NULL) {
		log_warn("[%s] ca_file %s", sec, v);
		return -1;
	}
	if (alert_secret(c, sec, kind == SINK_SMTP ? "password" : "token",
	    &sc->secret) < 0)
		return -1;
	v = conf_section_get(c, sec, "timeout");
	sc->timeout_s = v ? atol(v) : 30;
	v = conf_section_get(c, sec, "rate");
	/* a log stream wants every event: no digest unless asked */
	sc->rate = v ? atoi(v) : kind == SINK_SYSLOG ? 100000 : 30;
	alert_load_syslog(sc, c);
	alert_split(conf_section_get(c, sec, "actions"), &s->actions);
	s->min_sev = alert_severity(conf_section_get(c, sec, "min_severity"));
	v = conf_section_get(c, sec, "args");
	s->args = v != NULL && strcmp(v, "yes") == 0;
	v = conf_section_get(c, sec, "send_verified");
	s->send_verified = v != NULL && strcmp(v, "yes") == 0;
	v = conf_section_get(c, sec, "spool_max");
	s->spool_max = v ? atol(v) : ALERT_SPOOL_MAX;
	v = conf_section_get(c, sec, "api");
	sc->api = v ? atoi(v) : 3;
	if ((v = conf_section_get(c, sec, "project")) != NULL)
		sc->project = xstrdup(v);
	if ((v = conf_section_get(c, sec, "issue_type")) != NULL)
		sc->issue_type = xstrdup(v);
	if ((v = conf_section_get(c, sec, "user")) != NULL)
		sc->user = xstrdup(v);
	if ((v = conf_section_get(c, sec, "from")) != NULL)
		sc->from = xstrdup(v);
	alert_split(conf_section_get(c, sec, "to"), &sc->to);
	alert_split(conf_section_get(c, sec, "labels"), &sc->labels);
	v = conf_section_get(c, sec, "starttls");
	sc->starttls = v == NULL || strcmp(v, "required") == 0;
	for (int i = 0; kind == SINK_JIRA && i < 4; i++)
		sc->priority[i] = xstrdup((v = conf_section_get(c, sec,
		    prio_keys[i])) != NULL ? v : prio_default[i]);
	s->on = 1;
	return 0;
}

static int
alert_configured(const struct conf *c, const char *sec)
{
	for (size_t i = 0; i < c->nsections; i++)
		if (strcmp(c->sections[i].name, sec) == 0)
			return 1;
	return 0;
}

/* ---- the spool's bound: spool_max ready entries a sink, then one
 * digest. The alerter drains the spool, the monitor only adds to it, so
 * what was counted plus what was pushed since is an upper bound; it is
 * counted again (at most once a second) only when it says full. */

static void
alert_kick(struct alerter *a)
{
	struct msg_kick k;

	k.seq = __atomic_fetch_add(&a->seq, 1, __ATOMIC_RELAXED);
	if (!__atomic_load_n(&a->dead, __ATOMIC_ACQUIRE))
		(void)msg_send(a->sock, MSG_KICK, &k, sizeof(k));
}

static long
alert_room(struct alerter *a, int k)
{
	struct alert_sink *s = &a->sinks[k];
	uint64_t now = util_now_ms();
	long n;

	if (s->pending >= s->spool_max && now - s->counted_ms >= 1000 &&
	    (n = spool_count(a->spool_fd, sink_name(k))) >= 0) {
		s->pending = n;
		s->counted_ms = now;
	}
	return s->pending < s->spool_max ? s->spool_max - s->pending : 0;
}

/* How many occurrences an alert stands for: its fimguard.repeat.count
 * (a summary of repeated denials), else 1. */
static int64_t
alert_weight(json_object *ev)
{
	json_object *o;

	if (json_object_object_get_ex(ev, "fimguard", &o) &&
	    json_object_object_get_ex(o, "repeat", &o) &&
	    json_object_object_get_ex(o, "count", &o))
		return json_object_get_int64(o);
	return 1;
}

/* One digest item per action, path and rule. */
static json_object *
alert_item(json_object *items, json_object *ev)
{
	static const char *keys[] = { "event.action", "file.path",
	    "rule.name" };

	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		size_t k = 0;

		for (; k < 3; k++) {
			const char *x = sink_field(it, keys[k]);
			const char *y = sink_field(ev, keys[k]);

			if ((x == NULL) != (y == NULL) ||
			    (x != NULL && strcmp(x, y) != 0))
				break;
		}
		if (k == 3)
			return it;
	}
	return NULL;
}

/* When an alert's occurrences began or ended (first, last): those of
 * its repeated denials, else its own time. */
static const char *
alert_when(json_object *ev, const char *which)
{
	char key[32];
	const char *t;

	snprintf(key, sizeof(key), "fimguard.repeat.%s", which);
	t = sink_field(ev, key);
	return t != NULL ? t : sink_field(ev, "@timestamp");
}

/* A new item: the alert without its diff (a digest lists; the alerter's
 * digests drop diffs too), standing for its weight so far. */
static json_object *
alert_new_item(json_object *ev)
{
	json_object *it = NULL, *fg, *rp;
	const char *t;

	if (json_object_deep_copy(ev, &it, NULL) != 0)
		fatalx("out of memory");
	fg = event_obj(it, "fimguard");
	json_object_object_del(fg, "diff");
	rp = event_obj(fg, "repeat");
	json_object_object_add(rp, "count",
	    json_object_new_int64(alert_weight(ev)));
	if ((t = alert_when(ev, "first")) != NULL)
		event_set_str(rp, "first", t);
	if ((t = alert_when(ev, "last")) != NULL)
		event_set_str(rp, "last", t);
	return it;
}

/* No room for ev: counted into the sink's overflow, and listed once
 * per action, path and rule with how many it stands for. */
static void
alert_fold(struct alerter *a, struct alert_sink *s, json_object *ev)
{
	struct alert_overflow *o = &s->over;
	json_object *it, *rp;
	const char *t;

	if (o->items == NULL)
		o->items = json_object_new_array();
	o->count++;
	o->dirty = 1;
	__atomic_fetch_add(&a->folded, 1, __ATOMIC_RELAXED);
	if ((it = alert_item(o->items, ev)) == NULL) {
		if (json_object_array_length(o->items) < ALERT_DIGEST_MAX)
			json_object_array_add(o->items, alert_new_item(ev));
		else
			o->unlisted++;	/* counted, not listed */
		return;
	}
	rp = event_obj(event_obj(it, "fimguard"), "repeat");
	json_object_object_add(rp, "count", json_object_new_int64(
	    alert_weight(it) + alert_weight(ev)));
	if ((t = alert_when(ev, "last")) != NULL)
		event_set_str(rp, "last", t);
}

/* The overflow on disk, under a name the alerter skips (at most once a
 * second while it grows, unless force): a crash loses a second of it at
 * most, and the events file has every event anyway. 0: what is on disk
 * is all of it. */
static int
alert_hold(struct alerter *a, int k, int force)
{
	struct alert_overflow *o = &a->sinks[k].over;
	json_object *d;
	uint64_t t = util_now_ms();
	int r;

	if (!o->dirty || (!force && t - o->held_ms < 1000))
		return o->dirty ? -1 : 0;
	o->held_ms = t;
	d = json_object_new_object();
	json_object_object_add(d, "count", json_object_new_uint64(o->count));
	json_object_object_add(d, "unlisted",
	    json_object_new_uint64(o->unlisted));
	json_object_object_add(d, "items", json_object_get(o->items));
	r = spool_hold(a->spool_fd, sink_name(k),
	    json_object_array_get_idx(o->items, 0), d);
	json_object_put(d);
	if (r < 0) {
		__atomic_fetch_add(&a->spool_errors, 1, __ATOMIC_RELAXED);
		log_warn("cannot write the %s digest of %llu alerts",
		    sink_name(k), (unsigned long long)o->count);
		return -1;
	}
	o->dirty = 0;
	return 0;
}

/* The overflow becomes a ready entry: one digest alert. */
static int
alert_release(struct alerter *a, int k)
{
	struct alert_sink *s = &a->sinks[k];
	char name[96];

	if (alert_hold(a, k, 1) < 0)
		return -1;
	if (spool_release(a->spool_fd, sink_name(k), name, sizeof(name)) < 0) {
		__atomic_fetch_add(&a->spool_errors, 1, __ATOMIC_RELAXED);
		log_warn("cannot release the %s digest", sink_name(k));
		return -1;
	}
	log_info("%s: %llu alerts past spool_max in one digest", name,
	    (unsigned long long)s->over.count);
	json_object_put(s->over.items);
	memset(&s->over, 0, sizeof(s->over));
	s->pending++;
	__atomic_fetch_add(&a->spooled, 1, __ATOMIC_RELAXED);
	alert_kick(a);
	return 0;
}

/* At start: the spool as it is, and a digest a crash left unreleased. */
static void
alert_recover(struct alerter *a, int k)
{
	struct alert_sink *s = &a->sinks[k];
	char name[96];

	s->pending = spool_count(a->spool_fd, sink_name(k));
	if (s->pending < 0)
		s->pending = 0;		/* counted again when it says full */
	s->counted_ms = util_now_ms();
	if (spool_release(a->spool_fd, sink_name(k), name, sizeof(name)) == 0) {
		log_warnx("%s: a digest left by the last run, queued", name);
		s->pending++;
	}
}

/* Read every sink's settings and secrets and create the spool. Root,
 * before any thread and before the first mark. 0: no sink configured,
 * 1: ready to start, -1: a sink cannot work (said why). */
int
alert_prepare(struct alerter *a, const struct conf *c, const char *state)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	a->spool_fd = a->sock = -1;
	gethostname(a->host, sizeof(a->host) - 1);
	for (int k = 0; k < SINK_NKINDS; k++) {
		if (!alert_configured(c, sink_name(k)))
			continue;
		if (alert_load_sink(&a->sinks[k], k, c) < 0)
			return -1;
		a->nsinks++;
	}
	if (a->nsinks == 0)
		return 0;
	if (priv_alerter_ids(&a->uid, &a->gid) < 0)
		return -1;
	if ((a->spool_fd = spool_open(state, a->gid)) < 0) {
		log_warn("%s/%s", state, SPOOL_DIR);
		return -1;
	}
	for (int k = 0; k < SINK_NKINDS; k++)
		if (a->sinks[k].on)
			alert_recover(a, k);
	return 1;
}

/* Forget the secrets on this side once the alerter has its copy. */
static void
alert_forget(struct alerter *a)
{
	for (int k = 0; k < SINK_NKINDS; k++) {
		char *s = a->sinks[k].c.secret;

		if (s != NULL)
			explicit_bzero(s, strlen(s));
		free(s);
		a->sinks[k].c.secret = NULL;
	}
}

/* Fork the alerter. Called before any thread exists and before the
 * fanotify groups are made, so the child inherits neither. */
int
alert_start(struct alerter *a)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		a->sock = sv[1];
		alerter_main(a);
	}
	close(sv[1]);
	a->sock = sv[0];
	a->pid = pid;
	alert_forget(a);
	return 0;
}

/* A change the package database vouches for (fimguard.package.verified
 * true): an upgrade, on record as its approval; no alert by default. */
static int
alert_verified(json_object *ev)
{
	json_object *fg, *p, *v;

	return json_object_object_get_ex(ev, "fimguard", &fg) &&
	    json_object_object_get_ex(fg, "package", &p) &&
	    json_object_object_get_ex(p, "verified", &v) &&
	    json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v);
}

static int
alert_wanted(const struct alert_sink *s, json_object *ev)
{
	json_object *e, *v;
	const char *action;
	struct alert probe = { .event = ev };

	if (!json_object_object_get_ex(ev, "event", &e) ||
	    !json_object_object_get_ex(e, "action", &v) ||
	    (action = json_object_get_string(v)) == NULL)
		return 0;
	if (!s->send_verified && alert_verified(ev))
		return 0;
	if (sink_severity(&probe) < s->min_sev)
		return 0;
	if (s->actions.n > 0) {
		for (size_t i = 0; i < s->actions.n; i++)
			if (strcmp(s->actions.v[i], action) == 0)
				return 1;
		return 0;
	}
	if (s->c.kind == SINK_SYSLOG)
		return 1;	/* the whole stream, approvals included */
	for (size_t i = 0; i < sizeof(alert_default_actions) /
	    sizeof(alert_default_actions[0]); i++)
		if (strcmp(alert_default_actions[i], action) == 0)
			return 1;
	return 0;
}

/* A writer's command line can hold a secret (usermod -p HASH, curl -u
 * user:password): what leaves the host gets the executable and the
 * argument count, process.args_count, unless the sink says args = yes.
 * The one place for every sink; the events file keeps the arguments.
 * Returns a new reference: ev itself when it has no arguments. */
static json_object *
alert_without_args(json_object *ev)
{
	json_object *copy = NULL, *proc, *args;
	size_t n;

	if (!json_object_object_get_ex(ev, "process", &proc) ||
	    !json_object_object_get_ex(proc, "args", &args))
		return json_object_get(ev);
	n = json_object_array_length(args);
	if (json_object_deep_copy(ev, &copy, NULL) != 0)
		fatalx("out of memory");
	json_object_object_get_ex(copy, "process", &proc);
	json_object_object_del(proc, "args");
	json_object_object_add(proc, "args_count",
	    json_object_new_int64((int64_t)n));
	return copy;
}

/* The event sink's hook (worker thread, or the main thread): spool the
 * event for each sink that wants it, durably, then wake the alerter.
 * If the alerter is busy or restarting, the spool keeps the alert. */
void
alert_event(void *arg, json_object *ev)
{
	struct alerter *a = arg;
	json_object *bare = NULL;
	struct msg_kick k;
	char name[96];

	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < SINK_NKINDS; i++) {
		struct alert_sink *s = &a->sinks[i];
		json_object *out = ev;
		long room;

		if (!s->on || !alert_wanted(s, ev))
			continue;
		if (!s->args)
			out = bare != NULL ? bare :
			    (bare = alert_without_args(ev));
		/* what waits for room goes first, as one digest */
		room = alert_room(a, i);
		if (s->over.count > 0 && room > 0 && alert_release(a, i) == 0)
			room--;
		if (room == 0 || s->over.count > 0) {
			alert_fold(a, s, out);
			continue;
		}
		k.seq = __atomic_fetch_add(&a->seq, 1, __ATOMIC_RELAXED);
		if (spool_push(a->spool_fd, sink_name(i), k.seq, out, name,
		    sizeof(name)) < 0) {
			__atomic_fetch_add(&a->spool_errors, 1,
			    __ATOMIC_RELAXED);
			log_warn("cannot spool an alert for %s",
			    sink_name(i));
			continue;
		}
		s->pending++;
		__atomic_fetch_add(&a->spooled, 1, __ATOMIC_RELAXED);
		if (!__atomic_load_n(&a->dead, __ATOMIC_ACQUIRE) &&
		    msg_send(a->sock, MSG_KICK, &k, sizeof(k)) < 0)
			log_debug("alerter gone: %s stays spooled", name);
	}
	pthread_mutex_unlock(&a->lock);
	json_object_put(bare);
}

/* Main thread, about once a second: a waiting digest goes out as soon
 * as its sink has room, and is kept on disk while it waits. */
void
alert_tick(struct alerter *a)
{
	if (a->nsinks == 0)
		return;
	pthread_mutex_lock(&a->lock);
	for (int k = 0; k < SINK_NKINDS; k++) {
		if (!a->sinks[k].on || a->sinks[k].over.count == 0)
			continue;
		if (alert_room(a, k) > 0)
			alert_release(a, k);
		else
			alert_hold(a, k, 0);
	}
	pthread_mutex_unlock(&a->lock);
}

static const char *alert_outcomes[] = { "delivered", "will retry",
	"failed permanently" };

static void
alert_result(struct alerter *a, struct msg_result *r)
{
	/* printable: the alerter is not trusted with our stderr */
	util_flatten_controls(r->name);
	util_flatten_controls(r->detail);
	if (r->outcome == SINK_OK)
		a->delivered += r->count;
	else if (r->outcome == SINK_PERMANENT)
		a->failed += r->count;
	(r->outcome == SINK_OK ? log_info : log_warnx)("alert %s to %s %s: "
	    "%s%s", r->name, sink_name((int)r->sink),
	    alert_outcomes[r->outcome], r->detail,
	    r->outcome == SINK_PERMANENT ? " (kept in spool/failed)" : "");
}

/* The alerter is gone or broke the protocol: stop talking to it. The
 * socket stays open until alert_stop (the worker threads may still
 * send on it; its number must not be reused meanwhile). */
static void
alert_lost(struct alerter *a, const char *why)
{
	log_warnx("%s: alerts stay spooled until fimguard restarts", why);
	__atomic_store_n(&a->dead, 1, __ATOMIC_RELEASE);
	shutdown(a->sock, SHUT_RDWR);
}

/* Main thread: the alerter's reports, a bounded number at a time so
 * that a flood cannot starve signals and the watchdog ping. */
void
alert_read(struct alerter *a)
{
	struct msg m;
	int r = 0;

	for (int n = 0; n < 64 && !a->dead &&
	    (r = msg_recv(a->sock, &m)) > 0; n++) {
		if (m.type == MSG_HELLO && m.u.hello.version == MSG_VERSION) {
			a->worker = m.u.hello.pid;
			a->hellos++;
			log_info("alerter %d running as uid %u, %u alerts "
			    "spooled", (int)a->worker, m.u.hello.uid,
			    m.u.hello.pending);
		} else if (m.type == MSG_RESULT &&
		    m.u.result.outcome <= SINK_PERMANENT &&
		    m.u.result.sink < SINK_NKINDS)
			alert_result(a, &m.u.result);
		else
			r = -2;
		if (r == -2)
			break;
	}
	if (r == -2)
		alert_lost(a, "the alerter broke the protocol");
	else if (r < 0 && !a->dead)
		alert_lost(a, "the alerter is gone");
}

void
alert_status(const struct alerter *a, json_object *o)
{
	json_object *al, *sinks;

	if (a == NULL || a->nsinks == 0)
		return;
	al = json_object_new_object();
	sinks = json_object_new_array();
	for (int k = 0; k < SINK_NKINDS; k++)
		if (a->sinks[k].on)
			json_object_array_add(sinks,
			    json_object_new_string(sink_name(k)));
	json_object_object_add(al, "sinks", sinks);
	json_object_object_add(al, "pid", json_object_new_int(a->pid));
	json_object_object_add(al, "worker", json_object_new_int(a->worker));
	json_object_object_add(al, "restarts", json_object_new_int(
	    a->hellos > 0 ? (int)a->hellos - 1 : 0));
	json_object_object_add(al, "spooled", json_object_new_uint64(
	    __atomic_load_n(&a->spooled, __ATOMIC_RELAXED)));
	json_object_object_add(al, "delivered",
	    json_object_new_uint64(a->delivered));
	json_object_object_add(al, "failed", json_object_new_uint64(a->failed));
	json_object_object_add(al, "spool_errors", json_object_new_uint64(
	    __atomic_load_n(&a->spool_errors, __ATOMIC_RELAXED)));
	json_object_object_add(al, "folded", json_object_new_uint64(
	    __atomic_load_n(&a->folded, __ATOMIC_RELAXED)));
	json_object_object_add(o, "alerts", al);
}

/* Closing our end tells the alerter to finish; it exits on EOF once
 * the send in flight is done. If that takes longer than a second, the
 * parent-death signal ends it when we exit (we hold no CAP_KILL to
 * signal another user's process). */
void
alert_stop(struct alerter *a)
{
	/* nothing may stay only in memory: past the bound by one digest */
	pthread_mutex_lock(&a->lock);
	for (int k = 0; a->spool_fd >= 0 && k < SINK_NKINDS; k++)
		if (a->sinks[k].on && a->sinks[k].over.count > 0)
			alert_release(a, k);
	pthread_mutex_unlock(&a->lock);
	if (a->sock >= 0)
		close(a->sock);
	a->sock = -1;
	for (int i = 0; a->pid > 0 && i < 100; i++) {
		if (waitpid(a->pid, NULL, WNOHANG) != 0)
			break;
		usleep(10000);
	}
	if (a->spool_fd >= 0)
		close(a->spool_fd);
	a->spool_fd = -1;
}
