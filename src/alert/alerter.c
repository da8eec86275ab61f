/* The alerter process: the only part of fimguard that talks to the
 * network. Forked by `fimguard run` before anything else exists, it
 * becomes the unprivileged alerter user with no capabilities, sets
 * no_new_privs and loads its seccomp filter, then supervises a worker:
 * if the worker dies (a crash in a TLS or HTTP library), a new one is
 * forked with backoff. The monitor cannot do that itself once its own
 * filter refuses network sockets: a filter is inherited by every child.
 *
 * The worker delivers the spool, oldest first, one sink at a time:
 * removed after the sink confirmed (2xx, SMTP 250), kept and retried
 * with exponential backoff and jitter (Retry-After honoured) on
 * temporary errors, moved to spool/failed on permanent ones. Past a
 * sink's rate (alerts a minute), one digest summarises the rest. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "alert/alerter.h"
#include "alert/msg.h"
#include "alert/sink_send.h"
#include "alert/spool.h"
#include "core/log.h"
#include "core/priv.h"

#define ALERTER_RESCAN_MS	30000	/* even without a kick */
#define ALERTER_BACKOFF_MAX_MS	3600000ULL
#define ALERTER_WINDOW_MS	60000ULL /* the rate is per minute */

static void
alerter_report(struct alerter *a, int sink, const char *name,
    const struct sink_result *r, unsigned count)
{
	struct msg_result m;

	memset(&m, 0, sizeof(m));
	m.sink = (uint32_t)sink;
	m.outcome = (uint32_t)r->outcome;
	m.status = r->status;
	m.count = count;
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.detail, sizeof(m.detail), "%s", r->detail);
	if (msg_send(a->sock, MSG_RESULT, &m, sizeof(m)) < 0)
		_exit(0);	/* the monitor is gone */
}

/* Exponential backoff from 1 s, +-25% jitter so that many hosts do not
 * retry in step; Retry-After from the server wins. */
static void
alerter_backoff(struct alert_sink *s, const struct sink_result *r)
{
	uint64_t d = 1000ULL << (s->failures < 22 ? s->failures : 22);
	uint32_t rnd = 0;

	if (d > ALERTER_BACKOFF_MAX_MS)
		d = ALERTER_BACKOFF_MAX_MS;
	if (getrandom(&rnd, sizeof(rnd), 0) == sizeof(rnd))
		d = d * 3 / 4 + (d / 2) * (rnd % 1000) / 1000;
	if (r->retry_after_s >= 0)
		d = (uint64_t)r->retry_after_s * 1000 < ALERTER_BACKOFF_MAX_MS ?
		    (uint64_t)r->retry_after_s * 1000 : ALERTER_BACKOFF_MAX_MS;
	s->failures++;
	s->next_ms = util_now_ms() + d;
}

/* Sends left in the current minute. */
static size_t
alerter_room(const struct alert_sink *s, uint64_t now)
{
	size_t used = 0;

	for (size_t i = 0; i < s->nsent; i++)
		if (now - s->sent_ms[i] < ALERTER_WINDOW_MS)
			used++;
	return used >= (size_t)s->c.rate ? 0 : (size_t)s->c.rate - used;
}

static void
alerter_sent(struct alert_sink *s, uint64_t now)
{
	size_t oldest = 0;

	if (s->nsent < (size_t)s->c.rate) {
		s->sent_ms[s->nsent++] = now;
		return;
	}
	for (size_t i = 1; i < s->nsent; i++)
		if (s->sent_ms[i] < s->sent_ms[oldest])
			oldest = i;
	s->sent_ms[oldest] = now;
}

static void
alerter_prepare_alert(struct alerter *a, struct alert *al, const char *id,
    json_object *ev)
{
	memset(al, 0, sizeof(*al));
	al->id = id;
	al->event = ev;
	al->host = a->host;
	sink_dedup_label(a->host, ev, al->dedup, sizeof(al->dedup));
}

/* A digest the monitor made of what did not fit the spool: sent as
 * one, through the fields the rate's digests fill. */
static void
alerter_overflow(struct alerter *a, struct alert *al, json_object *d)
{
	json_object *v = NULL;
	int64_t n;

	if (!json_object_object_get_ex(d, "items", &al->items) ||
	    !json_object_is_type(al->items, json_type_array)) {
		al->items = NULL;
		return;
	}
	json_object_object_get_ex(d, "count", &v);
	n = json_object_get_int64(v);
	al->ndigest = n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
	json_object_object_get_ex(d, "unlisted", &v);
	al->unlisted = (long)json_object_get_int64(v);
	al->overflow = 1;
	/* every digest of this host shares a label: later ones comment */
	sink_dedup_label(a->host, al->items, al->dedup, sizeof(al->dedup));
}

/* Deliver one spooled entry. 0 done (sent or kept), -1 the sink must
 * wait (temporary failure). */
static int
alerter_one(struct alerter *a, int k, const char *name)
{
	struct alert_sink *s = &a->sinks[k];
	json_object *digest = NULL;
	json_object *ev = spool_load_entry(a->spool_fd, name, &digest);
	struct sink_result r;
	struct alert al;

	if (ev == NULL && errno == ENOENT)
		return 0;	/* gone meanwhile */
	if (ev == NULL && errno == EACCES) {
		/* not readable by us (written by hand?): leave it for the
		 * operator and go on with the rest, saying so once */
		if (strcmp(a->skipped, name) != 0)
			log_warn("%s: skipped", name);
		snprintf(a->skipped, sizeof(a->skipped), "%s", name);
		return 0;
	}
	if (ev == NULL && (errno == EMFILE || errno == ENFILE ||
	    errno == ENOMEM)) {
		log_warn("%s", name);	/* out of something: later */
		return -1;
	}
	if (ev == NULL) {
		log_warnx("%s: not a spool entry, moved to failed/", name);
		spool_keep(a->spool_fd, name);
		return 0;
	}
	alerter_prepare_alert(a, &al, name, ev);
	if (digest != NULL)
		alerter_overflow(a, &al, digest);
	sink_send(&s->c, &al, &r);
	json_object_put(digest);
	json_object_put(ev);
	if (r.outcome == SINK_RETRY) {
		if (s->failures == 0)	/* once per outage */
			alerter_report(a, k, name, &r, 1);
		alerter_backoff(s, &r);
		return -1;
	}
	s->failures = 0;
	if (r.outcome == SINK_OK) {
		alerter_sent(s, util_now_ms());
		if (spool_done(a->spool_fd, name) < 0)
			log_warn("%s: cannot remove from the spool", name);
	} else if (spool_keep(a->spool_fd, name) < 0)
		log_warn("%s: cannot move to failed/", name);
	alerter_report(a, k, name, &r, 1);
	return 0;
}

/* Past the rate: one alert that lists the rest; they leave the spool
 * together once it is confirmed. */
static int
alerter_digest(struct alerter *a, int k, char **names, size_t n)
{
	struct alert_sink *s = &a->sinks[k];
	json_object *items = json_object_new_array(), *ev;
	struct sink_result r;
	struct alert al;
	size_t used = 0;
	char id[64];

	/* the monitor's digests are not listed in another: each goes
	 * alone, in a later pass */
	for (size_t i = 0; i < n && used < ALERT_DIGEST_MAX; i++)
		if (!spool_is_digest(names[i]) &&
		    (ev = spool_load(a->spool_fd, names[i])) != NULL) {
			json_object *fg;

			/* a digest lists; diffs would make it too big to
			 * be accepted (413, 552) */
			if (json_object_object_get_ex(ev, "fimguard", &fg))
				json_object_object_del(fg, "diff");
			json_object_array_add(items, ev);
			names[used++] = names[i];
		}
	if (used == 0) {
		json_object_put(items);
		return 0;
	}
	/* the id names exactly this set: a retry with more items in it is
	 * a new alert (a comment), not "already created" */
	snprintf(id, sizeof(id), "digest-%.13s-%zu", names[0], used);
	alerter_prepare_alert(a, &al, id,
	    json_object_array_get_idx(items, used - 1));
	al.ndigest = (int)used;
	al.items = items;
	/* every digest of this host shares a label: later ones comment */
	sink_dedup_label(a->host, items, al.dedup, sizeof(al.dedup));
	sink_send(&s->c, &al, &r);
	json_object_put(items);
	if (r.outcome == SINK_RETRY) {
		if (s->failures == 0)
			alerter_report(a, k, names[0], &r, (unsigned)used);
		alerter_backoff(s, &r);
		return -1;
	}
	s->failures = 0;
	alerter_sent(s, util_now_ms());
	for (size_t i = 0; i < used; i++)
		if ((r.outcome == SINK_OK ? spool_done(a->spool_fd, names[i]) :
		    spool_keep(a->spool_fd, names[i])) < 0)
			log_warn("%s: spool", names[i]);
	alerter_report(a, k, names[0], &r, (unsigned)used);
	return 0;
}

/* One sink's ready entries, in order: as many single alerts as the
 * minute allows, and when more wait than that, the last slot goes to a
 * digest of the rest. */
static void
alerter_sink_pass(struct alerter *a, int k, struct strlist *l)
{
	struct alert_sink *s = &a->sinks[k];
	uint64_t now = util_now_ms();
	size_t room = alerter_room(s, now), single;

	if (now < s->next_ms || room == 0 || l->n == 0)
		return;
	single = l->n <= room ? l->n : room - 1;
	for (size_t i = 0; i < single; i++)
		if (alerter_one(a, k, l->v[i]) < 0)
			return;
	if (single < l->n)
		alerter_digest(a, k, l->v + single, l->n - single);
}

/* Work through the spool. Returns when the next try is due (ms). */
static uint64_t
alerter_pass(struct alerter *a)
{
	struct strlist all = { 0 }, per[SINK_NKINDS];
	uint64_t next = util_now_ms() + ALERTER_RESCAN_MS;

	memset(per, 0, sizeof(per));
	if (spool_list(a->spool_fd, &all) < 0)
		log_warn("spool");
	for (size_t i = 0; i < all.n; i++)
		for (int k = 0; k < SINK_NKINDS; k++)
			if (a->sinks[k].on && strcmp(spool_sink(all.v[i]),
			    sink_name(k)) == 0)
				strlist_push(&per[k], all.v[i]);
	for (int k = 0; k < SINK_NKINDS; k++) {
		struct alert_sink *s = &a->sinks[k];

		alerter_sink_pass(a, k, &per[k]);
		strlist_free(&per[k]);
		per[k] = (struct strlist){ 0 };
		if (s->on && s->next_ms > util_now_ms() && s->next_ms < next)
			next = s->next_ms;
	}
	/* entries left because the minute is used up: try again when the
	 * oldest send leaves the window */
	for (int k = 0; k < SINK_NKINDS; k++)
		for (size_t i = 0; a->sinks[k].on && i < a->sinks[k].nsent;
		    i++) {
			uint64_t t = a->sinks[k].sent_ms[i] + ALERTER_WINDOW_MS;

			if (t > util_now_ms() && t < next)
				next = t;
		}
	strlist_free(&all);
	return next;
}

static void
alerter_hello(struct alerter *a)
{
	struct strlist l = { 0 };
	struct msg_hello h = { MSG_VERSION, (int32_t)getpid(),
	    (uint32_t)getuid(), 0 };

	if (spool_list(a->spool_fd, &l) == 0)
		h.pending = (uint32_t)l.n;
	strlist_free(&l);
	if (msg_send(a->sock, MSG_HELLO, &h, sizeof(h)) < 0)
		_exit(0);
}

static void __attribute__((noreturn))
alerter_worker(struct alerter *a)
{
	struct pollfd p = { a->sock, POLLIN, 0 };
	uint64_t next;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	log_init("alerter", 0);
	for (int k = 0; k < SINK_NKINDS; k++)
		a->sinks[k].sent_ms = xcalloc((size_t)a->sinks[k].c.rate + 1,
		    sizeof(uint64_t));
	alerter_hello(a);
	for (;;) {
		struct msg m;
		uint64_t now;
		int r;

		next = alerter_pass(a);
		now = util_now_ms();
		if (poll(&p, 1, next > now ? (int)(next - now) : 0) < 0 &&
		    errno != EINTR)
			fatal("poll");
		while ((r = msg_recv(a->sock, &m)) > 0)
			if (m.type != MSG_KICK)
				fatalx("monitor sent message type %u", m.type);
		if (r == -2)
			fatalx("malformed message from the monitor");
		if (r < 0)
			_exit(0);	/* the monitor stopped */
	}
}

/* Keep everything but the socket, the spool and stdio closed: the
 * alerter must hold no fanotify group, lock or key. */
static void
alerter_fds(struct alerter *a)
{
	/* out of the way first: either may already sit on 3 or 4 (when
	 * fimguard was started with a standard fd closed) */
	int sock = fcntl(a->sock, F_DUPFD, 10), spool = fcntl(a->spool_fd,
	    F_DUPFD, 10), null = open("/dev/null", O_RDWR);

	if (sock < 0 || spool < 0 || null < 0 || dup2(null, 0) < 0 ||
	    dup2(sock, 3) < 0 || dup2(spool, 4) < 0)
		fatal("alerter fds");
	a->sock = 3;
	a->spool_fd = 4;
	if (close_range(5, ~0U, 0) < 0)
		fatal("close_range");
	/* no controlling terminal: TIOCSTI could type into root's shell
	 * when the monitor runs in the foreground */
	setsid();
}

void
alerter_main(struct alerter *a)
{
	unsigned delay = 1;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);	/* the monitor blocks them */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* a reload is the monitor's */
	alerter_fds(a);
	log_init("alerter", 0);
	priv_drop_alerter(a->uid, a->gid);
	prctl(PR_SET_PDEATHSIG, SIGTERM);	/* after the uid change */
	if (getppid() == 1)
		_exit(0);
	/* reads the CA bundle and OpenSSL's config while it still can */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init");
	priv_seccomp_alerter();
	for (;;) {
		uint64_t started = util_now_ms();
		int st = 0;
		pid_t pid = fork();

		if (pid < 0)
			fatal("fork");
		if (pid == 0)
			alerter_worker(a);
		if (waitpid(pid, &st, 0) < 0)
			fatal("waitpid");
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			_exit(0);	/* the monitor stopped */
		if (util_now_ms() - started > 60000)
			delay = 1;
		log_warnx("alerter worker %d %s %d; a new one in %u s",
		    (int)pid, WIFSIGNALED(st) ? "killed by signal" :
		    "exited with", WIFSIGNALED(st) ? WTERMSIG(st) :
		    WEXITSTATUS(st), delay);
		sleep(delay);
		delay = delay < 32 ? delay * 2 : 60;
	}
}
