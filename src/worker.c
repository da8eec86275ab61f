/* The monitor's worker thread: turns the permission thread's records
 * into write-allowed / write-denied events, and confirms changes on
 * close-after-write: keyed XXH3 through the event's fd (which carries
 * FMODE_NONOTIFY, so reading it raises no event), SHA-256 only when the
 * content differs from the baseline. It may block (disk, stdout): the
 * permission thread never waits for it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compare.h"
#include "intent.h"
#include "log.h"
#include "monitor.h"
#include "report.h"
#include "util.h"
#include "who.h"

#define WORKER_DATASET	"fimguard.monitor"

static const struct mon_file *
worker_file(const struct monitor *m, uint64_t dev, uint64_t ino,
    const struct watch **wp)
{
	const struct watch_tab *t = __atomic_load_n(&m->tab, __ATOMIC_ACQUIRE);
	const struct watch *w = watch_get(t, dev, ino);

	*wp = w;
	if (w == NULL || w->entry == WATCH_NO_ENTRY || w->entry >= m->nfiles)
		return NULL;
	return &m->files[w->entry];
}

static const char *
worker_syscall_name(long nr)
{
	switch (nr) {
	case 2: return "open";
	case 85: return "creat";
	case 257: return "openat";
	case 304: return "open_by_handle_at";
	case 426: return "io_uring_enter";
	case 437: return "openat2";
	default: return NULL;
	}
}

static void
worker_rule(const struct monitor *m, json_object *ev, const struct mon_file *f,
    const struct watch *w)
{
	if (f != NULL && f->rule >= 0) {
		const struct conf_rule *r = &m->conf.rules[f->rule];

		event_rule(ev, r->name, r->severity, w->mode);
	} else
		event_rule(ev, "fimguard-self", CONF_SEV_CRITICAL,
		    CONF_MODE_ENFORCE);
}

static void
worker_perm_event(struct monitor *m, const struct perm_record *r)
{
	const struct watch *w;
	const struct mon_file *f = worker_file(m, r->dev, r->ino, &w);
	int denied = perm_decision_denies(r->decision);
	json_object *ev, *fg, *op;
	const char *sc = worker_syscall_name(r->syscall_nr);
	char flags[32];

	if (w == NULL)
		return;		/* unwatched since (reload) */
	ev = event_new(WORKER_DATASET, denied ? "write-denied" :
	    "write-allowed", denied ? "failure" : "success");
	if (f != NULL)
		event_put_path(event_obj(ev, "file"), "path", f->path);
	worker_rule(m, ev, f, w);
	who_to_event(ev, r);
	fg = event_obj(ev, "fimguard");
	event_set_str(fg, "decision", perm_decision_name(r->decision));
	event_set_str(fg, "intent", intent_name(r->intent));
	op = event_obj(fg, "open");
	if (sc != NULL)
		event_set_str(op, "syscall", sc);
	if (r->intent == INTENT_WRITE || r->flags != 0) {
		snprintf(flags, sizeof(flags), "0x%llx",
		    (unsigned long long)r->flags);
		event_set_str(op, "flags", flags);
	}
	if (r->io_uring)
		json_object_object_add(op, "io_uring",
		    json_object_new_boolean(1));
	event_emit(&m->sink, ev);
}

/* Hash what was just written, through the notification's fd. */
static void
worker_confirm(struct monitor *m, int fd, pid_t pid)
{
	const struct mon_file *f;
	const struct watch *w;
	struct entry now = { 0 };
	struct stat st;
	struct hash_result hr;
	struct change ch;
	json_object *ev;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (f = worker_file(m, st.st_dev, st.st_ino, &w)) == NULL)
		return;
	entry_from_stat(&now, &st);
	now.path = f->path;
	now.rule = f->rule >= 0 ? m->conf.rules[f->rule].name :
	    "fimguard-self";
	entry_read_xattrs_fd(&now, fd);
	if (hash_fd(fd, m->state.xxh_secret, HASH_XXH | HASH_SHA, -1,
	    (uint64_t)st.st_size, &hr) < 0) {
		log_warn("%s: cannot read after write", f->path);
		goto out;
	}
	memcpy(now.xxh, hr.xxh, sizeof(now.xxh));
	memcpy(now.sha, hr.sha, sizeof(now.sha));
	now.has_xxh = now.has_sha = 1;
	ch = (struct change){ CMP_MODIFIED, CMP_CONTENT, &now, f->base };
	if (f->base != NULL) {
		ch.what = compare_entry(&now, f->base);
		if (ch.what == 0) {
			m->confirmed_same++;	/* identical rewrite: silent */
			goto out;
		}
		if (!(ch.what & (CMP_CONTENT | CMP_TYPE)))
			ch.action = CMP_ATTRS;
	}
	m->modified++;
	ev = report_event(&m->conf, &ch, WORKER_DATASET, NULL);
	if (f->base == NULL)
		event_set_str(event_obj(ev, "fimguard"), "note",
		    "not in the baseline");
	if (pid > 0)
		json_object_object_add(event_obj(ev, "process"), "pid",
		    json_object_new_int(pid));
	event_emit(&m->sink, ev);
out:
	free(now.xattrs);
}

static void
worker_data(struct monitor *m)
{
	char buf[4096] __attribute__((aligned(8)));
	const struct fanotify_event_metadata *e;
	ssize_t len = read(m->data_fd, buf, sizeof(buf));

	for (e = (const void *)buf; len > 0 && FAN_EVENT_OK(e, len);
	    e = FAN_EVENT_NEXT(e, len)) {
		if (e->fd < 0)
			continue;
		if ((e->mask & FAN_CLOSE_WRITE) && e->pid != getpid())
			worker_confirm(m, e->fd, e->pid);
		close(e->fd);
	}
}

static void
worker_drain_ring(struct monitor *m)
{
	struct perm_record r;
	uint64_t n;

	if (read(m->ring.efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("ring eventfd");
	while (ring_pop(&m->ring, &r))
		worker_perm_event(m, &r);
}

void *
worker_main(void *arg)
{
	struct monitor *m = arg;
	struct pollfd pfd[3] = { { m->ring.efd, POLLIN, 0 },
	    { m->data_fd, POLLIN, 0 }, { m->stop_fd, POLLIN, 0 } };
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		if (poll(pfd, 3, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			worker_drain_ring(m);
		if (pfd[1].revents & POLLIN)
			worker_data(m);
		if (pfd[2].revents)
			break;
	}
	worker_drain_ring(m);	/* report what was answered before stop */
	return NULL;
}
