/* Command lines of writers, read off the permission thread.
 *
 * /proc/<pid>/cmdline is a read of the process's own memory
 * (access_remote_vm: its mmap lock, then page faults). A page parked on
 * userfaultfd blocks that read for as long as the attacker likes, and
 * only a fatal signal ends it (a FUSE file's page does not: the kernel
 * reads the command line from anonymous memory only, FOLL_ANON). So the permission thread only queues a request (thread, start
 * time, record) before it answers, a few reader threads read, and the
 * worker waits for a command line at most ARGS_WAIT_MS after the
 * decision, then goes on without it. A reader stuck on such a page stays
 * stuck until the page is served or the process exits; the others carry
 * on, and with every reader stuck events simply have no process.args.
 * A writer that is gone before a reader gets to it (a short-lived
 * command after its denial) has no process.args either: the price of
 * never touching its memory while it waits for our answer.
 *
 * Locking: the permission thread takes no lock: it fills req[head] and
 * publishes head (release); readers take requests under `lock`, which
 * also guards the results and what the worker reads of them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "monitor/args.h"
#include "monitor/who.h"

#define ARGS_READERS	4
#define ARGS_QUEUE	256	/* power of two */
#define ARGS_RESULTS	256
#define ARGS_WAIT_MS	50

struct args_req {
	uint64_t	 seq;		/* the record's ring position */
	uint64_t	 start_time;
	pid_t		 tid;
};

struct args_res {
	uint64_t	 seq;		/* seq + 1 when filled; 0 empty */
	uint32_t	 len;
	char		 buf[RING_ARGS_MAX];
};

struct args {
	pthread_mutex_t	 lock;
	pthread_cond_t	 done;
	struct args_req	 req[ARGS_QUEUE];
	uint64_t	 head;		/* the permission thread's */
	uint64_t	 tail;		/* under lock (read atomically) */
	uint64_t	 floor;		/* under lock: older ones unwanted */
	struct args_res	*res;		/* under lock; NULL once stopped */
	int		 efd;		/* semaphore: one count a request */
	int		 refs;		/* the monitor + each reader */
	int		 stop;
};

struct args *
args_new(void)
{
	struct args *a = xcalloc(1, sizeof(*a));
	pthread_condattr_t ca;

	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->done, &ca);
	pthread_condattr_destroy(&ca);
	a->res = xcalloc(ARGS_RESULTS, sizeof(*a->res));
	a->refs = 1;
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
	return a;
}

static void
args_unref(struct args *a)
{
	int last;

	pthread_mutex_lock(&a->lock);
	last = --a->refs == 0;
	pthread_mutex_unlock(&a->lock);
	if (!last)
		return;
	if (a->efd >= 0)
		close(a->efd);
	free(a->res);
	pthread_cond_destroy(&a->done);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* The command line of tid if it is still the thread that opened (its
 * start time): through one /proc/<tid> directory fd, so both reads see
 * the same process even if the number is reused meanwhile. May block
 * on the process's memory. */
static ssize_t
args_cmdline(const struct args_req *q, char *buf, size_t n)
{
	char path[64];
	uint64_t start;
	ssize_t r = -1;
	int dfd, fd;

	snprintf(path, sizeof(path), "/proc/%d", (int)q->tid);
	if ((dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (who_start_time_at(dfd, &start) == 0 && start == q->start_time &&
	    (fd = openat(dfd, "cmdline", O_RDONLY | O_CLOEXEC)) >= 0) {
		r = read(fd, buf, n);
		close(fd);
	}
	close(dfd);
	return r;
}

/* Store a result (empty if the process is gone: the worker need not
 * wait for it), unless the worker has moved past it. */
static void
args_store(struct args *a, uint64_t seq, const char *buf, ssize_t n)
{
	struct args_res *res;

	pthread_mutex_lock(&a->lock);
	if (a->res != NULL && seq >= a->floor) {
		res = &a->res[seq % ARGS_RESULTS];
		res->len = n > 0 ? (uint32_t)n : 0;
		if (n > 0)
			memcpy(res->buf, buf, (size_t)n);
		res->seq = seq + 1;
		pthread_cond_broadcast(&a->done);
	}
	pthread_mutex_unlock(&a->lock);
}

/* Next request still wanted, or 0 if none (or stopping). */
static int
args_take(struct args *a, struct args_req *q)
{
	int got = 0;

	pthread_mutex_lock(&a->lock);
	if (!a->stop && a->tail != __atomic_load_n(&a->head,
	    __ATOMIC_ACQUIRE)) {
		*q = a->req[a->tail % ARGS_QUEUE];
		__atomic_store_n(&a->tail, a->tail + 1, __ATOMIC_RELEASE);
		got = q->seq >= a->floor;
	}
	pthread_mutex_unlock(&a->lock);
	return got;
}

static void *
args_reader(void *arg)
{
	struct args *a = arg;
	char buf[RING_ARGS_MAX];
	struct args_req q;
	sigset_t all;
	uint64_t one;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		if (read(a->efd, &one, sizeof(one)) < 0 && errno != EINTR)
			break;
		if (__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE))
			break;
		if (args_take(a, &q))	/* cut at 1023 bytes, as documented */
			args_store(a, q.seq, buf, args_cmdline(&q, buf,
			    sizeof(buf) - 1));
	}
	args_unref(a);
	return NULL;
}

/* After the privilege drop, like every other thread. Returns the
 * number of readers started. */
int
args_start(struct args *a)
{
	int n = 0;

	if (a->efd < 0)
		return 0;
	for (; n < ARGS_READERS; n++) {
		pthread_t t;

		pthread_mutex_lock(&a->lock);
		a->refs++;
		pthread_mutex_unlock(&a->lock);
		if (pthread_create(&t, NULL, args_reader, a) != 0) {
			args_unref(a);
			break;
		}
		pthread_detach(t);
	}
	return n;
}

/* After the permission thread and the worker have stopped. Readers
 * still blocked on someone's memory keep the rest alive until they
 * return; the results go now. */
void
args_stop(struct args *a)
{
	uint64_t wake = 2 * ARGS_READERS;

	pthread_mutex_lock(&a->lock);
	__atomic_store_n(&a->stop, 1, __ATOMIC_RELEASE);
	free(a->res);
	a->res = NULL;
	pthread_mutex_unlock(&a->lock);
	if (a->efd >= 0 && write(a->efd, &wake, sizeof(wake)) < 0)
		wake = 0;	/* full counter: they are awake anyway */
	args_unref(a);
}

/* Permission thread: no lock, no allocation. 0 if queued. */
int
args_request(struct args *a, uint64_t seq, pid_t tid, uint64_t start_time)
{
	uint64_t tail = __atomic_load_n(&a->tail, __ATOMIC_ACQUIRE);

	if (a->efd < 0 || a->head - tail >= ARGS_QUEUE)
		return -1;	/* no readers, or all stuck: no args */
	a->req[a->head % ARGS_QUEUE] = (struct args_req){ seq, start_time,
	    tid };
	__atomic_store_n(&a->head, a->head + 1, __ATOMIC_RELEASE);
	return 0;
}

/* Permission thread: wake a reader for each of the n requests. */
void
args_kick(struct args *a, size_t n)
{
	uint64_t v = n;

	if (n > 0 && a->efd >= 0 && write(a->efd, &v, sizeof(v)) < 0)
		return;		/* full counter: readers have plenty */
}

static void
args_deadline(struct timespec *ts, uint64_t ms)
{
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

/* Worker: the command line of record r into r->args, waiting at most
 * until ARGS_WAIT_MS after the decision (a worker that is behind does
 * not wait at all). */
void
args_fetch(struct args *a, struct perm_record *r)
{
	uint64_t until = r->time_ms + ARGS_WAIT_MS;
	struct timespec ts;

	r->args_len = 0;
	if (!r->args_wanted)
		return;
	args_deadline(&ts, until);
	pthread_mutex_lock(&a->lock);
	while (a->res != NULL) {
		const struct args_res *res = &a->res[r->seq % ARGS_RESULTS];

		if (res->seq == r->seq + 1) {
			r->args_len = res->len;
			memcpy(r->args, res->buf, res->len);
			break;
		}
		if (util_now_ms() >= until) {
			break;
		}
		(void)pthread_cond_timedwait(&a->done, &a->lock, &ts);
	}
	a->floor = r->seq + 1;
	pthread_mutex_unlock(&a->lock);
}
