/* tests/bench/reflistener.c - the least a FAN_OPEN_PERM monitor can do,
 * the reference fimguard's permission thread is compared with in
 * tests/bench/monitor.sh.
 *
 *   reflistener [-t SECONDS] PATH
 *
 * One permission group set up as fimguard sets up its own
 * (FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_REPORT_TID | FAN_UNLIMITED_QUEUE
 * | FAN_UNLIMITED_MARKS, event fds O_RDONLY | O_LARGEFILE | O_CLOEXEC),
 * an inode mark with FAN_OPEN_PERM on PATH. Per event it reads the
 * opener's /proc/<tid>/syscall and decodes the open flags (the result is
 * not used: every open is allowed), like fimguard's intent decoding;
 * each read(2) batch is answered FAN_ALLOW with one writev(2), then the
 * event fds are closed.
 *
 * Prints "ready" on stderr once the mark is in place, and on exit the
 * number of events answered and of those whose opener was not yet asleep
 * when its syscall file was read ("running": fimguard then yields and
 * reads again; the reference does not, so it is a lower bound). Exits on SIGTERM/SIGINT, and by itself after
 * SECONDS (default 600) as a failsafe: a listener that stops answering
 * freezes every opener of PATH, and closing the group (exit) makes the
 * kernel allow whatever is pending. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BATCH	256

static volatile sig_atomic_t stop;
static unsigned long long running;	/* opener not yet asleep */

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Open flags of the blocked opener, from /proc/<tid>/syscall (x86-64:
 * open = 2, openat = 257, open_by_handle_at = 304); 0 if unknown. */
static unsigned long long
opener_flags(pid_t tid)
{
	unsigned long long a[6] = { 0 };
	char path[64], buf[512];
	ssize_t r;
	long nr;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	/* The opener queues the event before it sleeps: until then the
	 * kernel shows "running". Counted, not retried (fimguard retries). */
	if (strncmp(buf, "running", 7) == 0) {
		running++;
		return 0;
	}
	if (sscanf(buf, "%ld %llx %llx %llx %llx %llx %llx", &nr, &a[0],
	    &a[1], &a[2], &a[3], &a[4], &a[5]) < 1)
		return 0;
	switch (nr) {
	case 2:
		return a[1];
	case 257:
	case 304:
		return a[2];
	default:
		return 0;
	}
}

int
main(int argc, char **argv)
{
	char buf[BATCH * sizeof(struct fanotify_event_metadata)]
	    __attribute__((aligned(8)));
	struct fanotify_response resp[BATCH];
	struct iovec iov[BATCH];
	struct sigaction sa;
	unsigned long long events = 0, sink = 0;
	unsigned lifetime = 600;
	time_t end;
	int fd, c;

	while ((c = getopt(argc, argv, "t:")) != -1) {
		if (c != 't')
			goto usage;
		lifetime = (unsigned)strtoul(optarg, NULL, 10);
	}
	if (optind != argc - 1 || lifetime < 1) {
usage:
		fprintf(stderr, "usage: reflistener [-t SECONDS] PATH\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	end = time(NULL) + lifetime;

	fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_REPORT_TID |
	    FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
	    O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (fd < 0) {
		perror("reflistener: fanotify_init");
		return 1;
	}
	if (fanotify_mark(fd, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD,
	    argv[optind]) < 0) {
		perror("reflistener: fanotify_mark");
		return 1;
	}
	fprintf(stderr, "reflistener: ready\n");
	while (!stop && time(NULL) < end) {
		const struct fanotify_event_metadata *m;
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t len;
		size_t n = 0;

		if (poll(&p, 1, 200) <= 0)
			continue;	/* timeout, or EINTR from a signal */
		len = read(fd, buf, sizeof(buf));
		if (len < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			perror("reflistener: read");
			break;
		}
		for (m = (const void *)buf; FAN_EVENT_OK(m, len) && n < BATCH;
		    m = FAN_EVENT_NEXT(m, len)) {
			if (m->vers != FANOTIFY_METADATA_VERSION ||
			    m->fd < 0)
				continue;
			events++;
			sink += opener_flags(m->pid);
			resp[n] = (struct fanotify_response){ m->fd,
			    FAN_ALLOW };
			iov[n] = (struct iovec){ &resp[n], sizeof(resp[n]) };
			n++;
		}
		if (n > 0 && writev(fd, iov, (int)n) != (ssize_t)(n *
		    sizeof(resp[0]))) {
			/* an opener died meanwhile: answer one by one */
			for (size_t i = 0; i < n; i++)
				(void)!write(fd, &resp[i], sizeof(resp[i]));
		}
		for (size_t i = 0; i < n; i++)
			close(resp[i].fd);
	}
	close(fd);	/* the kernel allows anything still pending */
	fprintf(stderr, "reflistener: %llu events answered, %llu openers "
	    "still running when read (flags sum %llx)\n", events, running,
	    sink);
	return 0;
}
