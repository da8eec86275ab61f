/* Control socket. A Unix stream socket in the state directory (mode
 * 0600, in a 0700 directory: root only). The monitor writes one JSON
 * status object per connection and closes; nothing is read from the
 * client, so there is nothing to parse on the privileged side. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "core/cmd.h"
#include "core/log.h"
#include "core/util.h"
#include "monitor/ctl.h"

#define CTL_MAX_REPLY	65536

static int
ctl_addr(const char *dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir,
	    CTL_SOCKET) >= sizeof(sa->sun_path)) {
		log_warnx("%s: path too long for a control socket", dir);
		return -1;
	}
	return 0;
}

int
ctl_listen(const char *dir)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd;

	if (ctl_addr(dir, &sa) < 0)
		return -1;
	unlink(sa.sun_path);	/* a stale socket from a crash */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return -1;
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 8) < 0) {
		umask(old);
		log_warn("%s: control socket", sa.sun_path);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

static void
ctl_u64(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* Descriptor shortages of this instance: the permission thread's
 * (/proc, and events the kernel denied for want of an fd) and the
 * worker's (close-write events it could not be handed). */
uint64_t
ctl_fd_shortages(const struct monitor *m)
{
	return __atomic_load_n(&m->perm.fd_shortages, __ATOMIC_RELAXED) +
	    __atomic_load_n(&m->perm.intent.shortages, __ATOMIC_RELAXED) +
	    __atomic_load_n(&m->data_shortages, __ATOMIC_RELAXED);
}

/* Add a stopped instance's counters (its threads are joined). */
void
ctl_account(struct ctl_totals *t, const struct monitor *m)
{
	const struct perm_ctx *p = &m->perm;

	t->events += p->events;
	t->writes += p->writes;
	t->denied += p->denied;
	t->errors += p->errors;
	t->modified += m->modified;
	t->restores += m->restores;
	t->quarantined += m->quarantined;
	t->dropped += m->ring.dropped;
	t->fd_shortages += ctl_fd_shortages(m);
}

/* Baseline files whose rule wants a vault copy (diff, restore) but that
 * have none: above vault_max_size, so no diff and no restore. */
static uint64_t
ctl_hash_only(const struct monitor *m)
{
	uint64_t n = 0;

	for (size_t i = 0; i < m->base.ev.n; i++) {
		const struct entry *e = &m->base.ev.v[i];

		if (e->type != ENTRY_FILE || e->vault || !e->has_sha)
			continue;
		for (size_t r = 0; r < m->conf.nrules; r++)
			if (strcmp(m->conf.rules[r].name, e->rule) == 0) {
				n += m->conf.rules[r].diff ||
				    m->conf.rules[r].restore;
				break;
			}
	}
	return n;
}

static json_object *
ctl_status(const struct monitor *m, uint64_t now_ms,
    const struct ctl_totals *t)
{
	json_object *o = json_object_new_object();
	const struct perm_ctx *p = &m->perm;
	uint64_t head = __atomic_load_n(&m->ring.head, __ATOMIC_ACQUIRE);
	uint64_t tail = __atomic_load_n(&m->ring.tail, __ATOMIC_ACQUIRE);

	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "mode",
	    json_object_new_string(conf_mode_name(m->conf.mode)));
	ctl_u64(o, "rules", m->conf.nrules);
	ctl_u64(o, "files", monitor_nfiles(m));
	ctl_u64(o, "directories", m->notify.paths.n);
	ctl_u64(o, "events", t->events +
	    __atomic_load_n(&p->events, __ATOMIC_RELAXED));
	ctl_u64(o, "writes", t->writes +
	    __atomic_load_n(&p->writes, __ATOMIC_RELAXED));
	ctl_u64(o, "denied", t->denied +
	    __atomic_load_n(&p->denied, __ATOMIC_RELAXED));
	ctl_u64(o, "modified", t->modified + m->modified);
	ctl_u64(o, "restores", t->restores + m->restores);
	ctl_u64(o, "quarantined", t->quarantined + m->quarantined);
	/* package changes the worker holds until the package hook's
	 * approval or package_quiet (hold.c); one handed over by a
	 * reload is counted once the new worker took it */
	ctl_u64(o, "held", __atomic_load_n(&m->hold.n, __ATOMIC_RELAXED));
	ctl_u64(o, "queue", head - tail);
	ctl_u64(o, "dropped", t->dropped + __atomic_load_n(&m->ring.dropped,
	    __ATOMIC_RELAXED));
	ctl_u64(o, "errors", t->errors +
	    __atomic_load_n(&p->errors, __ATOMIC_RELAXED));
	ctl_u64(o, "events_lost", event_lost(&m->sink));
	ctl_u64(o, "vault_hash_only", ctl_hash_only(m));
	ctl_u64(o, "fd_limit", m->fd_limit);
	ctl_u64(o, "fd_shortages", t->fd_shortages + ctl_fd_shortages(m));
	ctl_u64(o, "uptime_s", (now_ms - t->started_ms) / 1000);
	/* this instance's start-up reconciliation (reconcile.c) */
	ctl_u64(o, "last_reconciliation", m->reconciled_ms / 1000);
	json_object_object_add(o, "last_reconciliation_s",
	    json_object_new_double((double)m->reconcile_ms / 1000));
	ctl_u64(o, "last_reconciliation_changes", m->reconcile_changes);
	ctl_u64(o, "reloads", t->reloads);
	alert_status(m->alerter, o);
	return o;
}

/* Answer every waiting client; never blocks the main thread long (a
 * client that does not read gets a truncated reply). */
void
ctl_serve(int lfd, const struct monitor *m, uint64_t now_ms,
    const struct ctl_totals *t)
{
	int c;

	while ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		json_object *o = ctl_status(m, now_ms, t);
		const char *s = json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN);
		struct timeval tv = { 1, 0 };

		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (send(c, s, strlen(s), MSG_NOSIGNAL) < 0 ||
		    send(c, "\n", 1, MSG_NOSIGNAL) < 0)
			log_debug("status client: %s", strerror(errno));
		close(c);
		json_object_put(o);
	}
}

/* The monitor's status reply, or NULL when none listens on dir. */
char *
ctl_fetch(const char *dir)
{
	struct sockaddr_un sa;
	char *buf = xmalloc(CTL_MAX_REPLY + 1);
	size_t len = 0;
	ssize_t n;
	int fd;

	if (ctl_addr(dir, &sa) < 0 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		free(buf);
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		free(buf);
		return NULL;
	}
	while (len < CTL_MAX_REPLY &&
	    (n = read(fd, buf + len, CTL_MAX_REPLY - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* After approve or init: a monitor running on this state directory
 * reloads, so its marks and decisions follow the new baseline. */
void
ctl_notify_reload(const char *dir)
{
	char *reply = ctl_fetch(dir);
	json_object *j, *pid;

	if (reply == NULL)
		return;		/* no monitor: nothing to tell */
	if ((j = json_tokener_parse(reply)) != NULL &&
	    json_object_object_get_ex(j, "pid", &pid) &&
	    json_object_get_int(pid) > 1) {
		if (kill(json_object_get_int(pid), SIGHUP) == 0)
			log_warnx("the running monitor (pid %d) reloads the "
			    "new baseline", json_object_get_int(pid));
		else
			log_warn("cannot signal the monitor (pid %d)",
			    json_object_get_int(pid));
	}
	json_object_put(j);
	free(reply);
}
