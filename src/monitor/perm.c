/* The permission thread. It reads a batch of FAN_OPEN_PERM events,
 * decides each one, answers the whole batch with one writev(2), and
 * only then hands records of write attempts to the worker. It must
 * never wait for anything that can itself wait on a permission event,
 * nor on another process: it opens nothing but /proc files (and reads
 * none that touches the opener's memory: who.c and intent.c say why
 * each is safe), takes a lease on an event's fd for an instant, never
 * logs, never allocates, never takes a lock another thread may hold
 * while blocked, and answers the monitor's own threads at once. A
 * stalled answer freezes every opener of a protected file, so a
 * watchdog thread (below) watches busy_since_ms and exits the process
 * (the kernel then allows all pending opens) if a batch takes too
 * long. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/conf.h"
#include "monitor/args.h"
#include "monitor/intent.h"
#include "monitor/perm.h"
#include "monitor/who.h"

/* How long one batch may wait for openers still on a CPU (normally
 * microseconds); past it their intent is the write count's (intent.c),
 * so a busy machine delays reads by at most this, and never denies
 * them. Far below the stall watchdog. */
#define PERM_BATCH_BUDGET_MS	20
#define PERM_PRE_ACCESS	0x00100000	/* FAN_PRE_ACCESS, Linux 6.14 */
/* The longest event either group sends: metadata, and a range record
 * on pre-content events. A read needs room for one at least. */
#define PERM_EVENT_MAX	64

static const char *perm_names[] = {
	"allow", "writer", "audit", "unknown-allowed", "deny",
	"unknown-denied", "self-protection"
};

const char *
perm_decision_name(int d)
{
	return d >= 0 && d <= PERM_DENY_SELF ? perm_names[d] : "?";
}

int
perm_decision_denies(int d)
{
	return d == PERM_DENY || d == PERM_DENY_UNKNOWN || d == PERM_DENY_SELF;
}

/* One of our own threads? tgkill(2) with signal 0 succeeds only for a
 * thread of our thread group: one cheap syscall, no /proc read. */
static int
perm_own_thread(const struct perm_ctx *p, pid_t tid)
{
	return tid == p->self ||
	    syscall(SYS_tgkill, p->self, tid, 0) == 0;
}

/* exe: the opener's executable (0, 0 if unknown), for folding. */
static int
perm_writer(const struct watch_tab *t, const struct watch *w, pid_t tid,
    uint64_t exe[2])
{
	if (who_exe_id(tid, &exe[0], &exe[1]) < 0) {
		exe[0] = exe[1] = 0;
		return 0;
	}
	return watch_writer_ok(t, w->rule, exe[0], exe[1]);
}

static int
perm_judge(const struct perm_ctx *p, const struct watch_tab *t,
    const struct watch *w, pid_t tid, int intent, uint64_t exe[2])
{
	if (w->rule == WATCH_SELF) {
		uint64_t dev, ino;

		/* fimguard itself (approve, init) may write its state. */
		exe[0] = exe[1] = 0;
		if (who_exe_id(tid, &dev, &ino) == 0 &&
		    dev == p->self_dev && ino == p->self_ino)
			return PERM_ALLOW_WRITER;
		return PERM_DENY_SELF;
	}
	if (perm_writer(t, w, tid, exe))
		return PERM_ALLOW_WRITER;
	if (w->mode != CONF_MODE_ENFORCE)
		return PERM_ALLOW_AUDIT;
	if (intent == INTENT_WRITE)
		return PERM_DENY;
	return p->unknown_deny ? PERM_DENY_UNKNOWN : PERM_ALLOW_UNKNOWN;
}

/* Fill a ring record of a write attempt while the opener is frozen,
 * and ask for its command line (read later, off this thread). */
static void
perm_fill_record(struct perm_ctx *p, struct perm_record *r, size_t k,
    const struct stat *st, const struct intent_info *in, int intent, int d,
    pid_t tid, size_t *nargs)
{
	unsigned short_fds;

	memset(r, 0, offsetof(struct perm_record, comm));
	r->seq = p->ring->head + k;
	r->time_ms = util_now_ms();
	r->dev = st->st_dev;
	r->ino = st->st_ino;
	r->syscall_nr = in->nr;
	r->syscall = in->syscall;
	r->flags = in->flags;
	r->has_flags = in->has_flags;
	r->intent = intent;
	r->intent_source = in->source;
	r->io_uring = in->io_uring;
	r->decision = d;
	if ((short_fds = who_snapshot(tid, r)) > 0)
		__atomic_add_fetch(&p->fd_shortages, short_fds,
		    __ATOMIC_RELAXED);
	if (p->args != NULL && args_request(p->args, r->seq, tid,
	    r->start_time) == 0) {
		r->args_wanted = 1;
		(*nargs)++;
	}
}

/* A denial identical to the last record's (same thread, file, decision
 * and executable) is counted in that record while the worker has not
 * taken it: a thread that opens a protected file for writing in a loop
 * fills one ring slot, not the ring, so no report of it is dropped
 * however far behind the worker is (the worker folds further, per
 * interval: repeat.c). Allowed writes are never folded: each open is a
 * writer the worker binds to its close. */
static int
perm_fold(struct perm_ctx *p, pid_t tid, const struct stat *st, int d,
    const uint64_t exe[2])
{
	const struct perm_fold_key *k = &p->fold;

	return k->rec != NULL && perm_decision_denies(d) && k->tid == tid &&
	    k->dev == (uint64_t)st->st_dev && k->ino == (uint64_t)st->st_ino &&
	    k->decision == d && k->exe[0] == exe[0] && k->exe[1] == exe[1] &&
	    exe[0] != 0 && ring_fold(k->rec);
}

static void
perm_fold_key(struct perm_ctx *p, struct perm_record *r, pid_t tid,
    const struct stat *st, int d, const uint64_t exe[2])
{
	p->fold = (struct perm_fold_key){ r, tid, st->st_dev, st->st_ino, d,
	    { exe[0], exe[1] } };
}

/* Decide one event; for a write attempt fill a ring record (*nrec
 * counts them). Returns FAN_ALLOW or FAN_DENY. A pre-content event
 * (FAN_PRE_ACCESS, truncate = deny) fires for reads and writes too:
 * only the truncate calls are judged there, anything else passes. */
static uint32_t
perm_decide(struct perm_ctx *p, const struct watch_tab *t,
    const struct fanotify_event_metadata *m, size_t *nrec, size_t *nargs)
{
	int pre = (m->mask & PERM_PRE_ACCESS) != 0;
	struct intent_info in;
	struct perm_record *r;
	const struct watch *w;
	uint64_t exe[2];
	struct stat st;
	int intent, d;

	/* Reads first, and on the shortest path: they are nearly all the
	 * events and are allowed whoever opens whatever is marked. */
	if (!(m->mask & (FAN_OPEN_PERM | PERM_PRE_ACCESS)) || m->fd < 0)
		return FAN_ALLOW;
	intent = intent_decode(&p->intent, m->pid, pre ? -1 : m->fd, &in,
	    p->batch_deadline_ms);
	if (intent == INTENT_READ || (pre && !in.truncate))
		return FAN_ALLOW;
	if (perm_own_thread(p, m->pid) || fstat(m->fd, &st) < 0 ||
	    (w = watch_get(t, st.st_dev, st.st_ino)) == NULL)
		return FAN_ALLOW;
	d = perm_judge(p, t, w, m->pid, intent, exe);
	__atomic_add_fetch(&p->writes, 1, __ATOMIC_RELAXED);
	if (!perm_fold(p, m->pid, &st, d, exe) &&
	    (r = ring_reserve(p->ring, *nrec)) != NULL) {
		perm_fill_record(p, r, *nrec, &st, &in, intent, d, m->pid,
		    nargs);
		perm_fold_key(p, r, m->pid, &st, d, exe);
		(*nrec)++;
	}
	if (perm_decision_denies(d)) {
		__atomic_add_fetch(&p->denied, 1, __ATOMIC_RELAXED);
		return FAN_DENY;
	}
	return FAN_ALLOW;
}

/* Answer the batch. writev(2) on a fanotify fd calls its write once
 * per iovec; a short result means one response failed (ENOENT: the
 * opener died meanwhile): send the rest one by one. */
static void
perm_answer(struct perm_ctx *p, int fd, struct fanotify_response *resp,
    size_t n)
{
	struct iovec iov[PERM_BATCH];
	ssize_t w;
	size_t done;

	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec){ &resp[i], sizeof(resp[i]) };
	w = writev(fd, iov, (int)n);
	done = w > 0 ? (size_t)w / sizeof(resp[0]) : 0;
	for (size_t i = done; i < n; i++)
		if (write(fd, &resp[i], sizeof(resp[i])) < 0 &&
		    errno != ENOENT)
			__atomic_add_fetch(&p->errors, 1, __ATOMIC_RELAXED);
}

static void
perm_batch(struct perm_ctx *p, int fd, const char *buf, ssize_t len)
{
	struct fanotify_response resp[PERM_BATCH];
	const struct fanotify_event_metadata *m;
	const struct watch_tab *t = __atomic_load_n(&p->tab, __ATOMIC_ACQUIRE);
	size_t n = 0, nrec = 0, nargs = 0;

	for (m = (const void *)buf; FAN_EVENT_OK(m, len) && n < PERM_BATCH;
	    m = FAN_EVENT_NEXT(m, len)) {
		if (m->vers != FANOTIFY_METADATA_VERSION) {
			__atomic_add_fetch(&p->errors, 1, __ATOMIC_RELAXED);
			continue;
		}
		__atomic_add_fetch(&p->events, 1, __ATOMIC_RELAXED);
		if (m->fd < 0)
			continue;
		resp[n].fd = m->fd;
		resp[n].response = perm_decide(p, t, m, &nrec, &nargs);
		n++;
	}
	/* records visible before the openers run on: a writer's close
	 * then always finds who opened (a memory store; the wake-up, a
	 * syscall, still comes after the answers); the command line
	 * readers start before the openers run on, too */
	ring_publish(p->ring, nrec);
	if (nargs > 0)
		args_kick(p->args, nargs);
	perm_answer(p, fd, resp, n);
	for (size_t i = 0; i < n; i++)
		close(resp[i].fd);
	ring_wake(p->ring, nrec);
}

void *
perm_main(void *arg)
{
	struct perm_ctx *p = arg;
	/* Sized so one read never returns more than PERM_BATCH events. */
	char buf[PERM_BATCH * sizeof(struct fanotify_event_metadata)]
	    __attribute__((aligned(8)));
	struct pollfd pfd[3] = { { p->stop_fd, POLLIN, 0 },
	    { p->fd, POLLIN, 0 }, { p->pre_fd, POLLIN, 0 } };
	nfds_t nfds = p->pre_fd >= 0 ? 3 : 2;
	/* each event read carries a descriptor: read no more than the
	 * descriptors we may hold (monitor.c sizes p->batch) */
	size_t want = p->batch * sizeof(struct fanotify_event_metadata);
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	p->tid = gettid();
	for (;;) {
		if (poll(pfd, nfds, -1) < 0) {
			if (errno != EINTR)
				__atomic_add_fetch(&p->errors, 1,
				    __ATOMIC_RELAXED);
			continue;
		}
		if (pfd[0].revents)
			break;
		for (nfds_t i = 1; i < nfds; i++) {
			uint64_t now;
			ssize_t len;

			if (!(pfd[i].revents & POLLIN))
				continue;
			/* non-blocking: during a reload the old and the new
			 * thread poll the same group, and only one of them
			 * gets a given event; the clock starts once we do */
			len = read(pfd[i].fd, buf, want < PERM_EVENT_MAX ?
			    PERM_EVENT_MAX : want < sizeof(buf) ? want :
			    sizeof(buf));
			if (len > 0) {
				now = util_now_ms();
				__atomic_store_n(&p->busy_since_ms, now,
				    __ATOMIC_RELEASE);
				p->batch_deadline_ms = now +
				    PERM_BATCH_BUDGET_MS;
				perm_batch(p, pfd[i].fd, buf, len);
				__atomic_store_n(&p->busy_since_ms, 0,
				    __ATOMIC_RELEASE);
			}
			/* The kernel could not make an event's fd (EMFILE,
			 * ENFILE, an LSM...): it denied that event itself.
			 * Count it and go on: leaving would freeze every
			 * later opener of a protected file. */
			if (len < 0 && (errno == EMFILE || errno == ENFILE))
				__atomic_add_fetch(&p->fd_shortages, 1,
				    __ATOMIC_RELAXED);
			if (len < 0 && errno != EAGAIN && errno != EINTR)
				__atomic_add_fetch(&p->errors, 1,
				    __ATOMIC_RELAXED);
		}
	}
	intent_ctx_close(&p->intent);
	return NULL;
}

/* The stall watchdog: its own thread, so that it keeps watching while
 * the main thread sets up a reload or joins a stopping instance. It
 * checks every permission thread registered (the old and the new one
 * during a reload); a batch older than PERM_STALL_MS ends the process,
 * and the kernel then allows every pending open (fail-open). */
#define PERM_STALL_MS		5000
#define PERM_WATCH_MAX		4

static pthread_mutex_t perm_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct perm_ctx *perm_watched[PERM_WATCH_MAX];

void
perm_watch(struct perm_ctx *p, int on)
{
	pthread_mutex_lock(&perm_watch_lock);
	for (int i = 0; i < PERM_WATCH_MAX; i++) {
		if (on && perm_watched[i] == NULL) {
			perm_watched[i] = p;
			break;
		}
		if (!on && perm_watched[i] == p)
			perm_watched[i] = NULL;
	}
	pthread_mutex_unlock(&perm_watch_lock);
}

static void *
perm_watchdog(void *arg)
{
	static const char msg[] = "fimguard: permission thread stalled: "
	    "exiting so the kernel releases blocked opens\n";
	struct timespec tick = { 0, 250 * 1000000L };
	sigset_t all;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		uint64_t now;

		nanosleep(&tick, NULL);
		now = util_now_ms();
		pthread_mutex_lock(&perm_watch_lock);
		for (int i = 0; i < PERM_WATCH_MAX; i++) {
			uint64_t busy;

			if (perm_watched[i] == NULL)
				continue;
			busy = __atomic_load_n(&perm_watched[i]->busy_since_ms,
			    __ATOMIC_ACQUIRE);
			if (busy != 0 && now > busy + PERM_STALL_MS) {
				/* raw write, no stdio lock, then out */
				ssize_t w = write(STDERR_FILENO, msg,
				    sizeof(msg) - 1);

				(void)w;
				_exit(3);
			}
		}
		pthread_mutex_unlock(&perm_watch_lock);
	}
	return NULL;
}

int
perm_watchdog_start(void)
{
	pthread_t t;

	return pthread_create(&t, NULL, perm_watchdog, NULL) == 0 ?
	    pthread_detach(t) : -1;
}
