/* Writer identity for changes seen after the fact.
 *
 * Renames, unlinks, attribute changes and truncate(2) raise no
 * permission event: the worker reads them from notification queues,
 * later, and must decide whether the process that made the change was
 * an allowed writer then. /proc/<pid>/exe read when the event is
 * handled says what the process runs now: it can change a protected
 * file and exec an allowed writer before the worker gets to the event,
 * and the pid can belong to another process by then. What the kernel
 * gives instead:
 *
 *  - each event carries a pidfd made, when the event is read, from the
 *    struct pid the event holds (FAN_REPORT_PIDFD): a process that is
 *    gone reads as FAN_NOPIDFD, and the pidfd's inode number (pidfs)
 *    names the process, never reused;
 *  - each allowed writer's executable has a FAN_OPEN_EXEC mark in the
 *    directory group: exec opens the binary before the image changes,
 *    so the exec event is queued before /proc/<pid>/exe can show it;
 *  - a queue keeps order, and the monitor can put an event of its own
 *    into it (a fence) at a moment it chooses.
 *
 * A process is taken for an allowed writer for a change E read from
 * queue Q only when all of these hold:
 *  1. an exec event of a writer by the process was read, and after the
 *     last one its executable was seen to be a writer (observation O,
 *     made while its pidfd showed it alive);
 *  2. a fence sent to Q after O was read from Q before E: E came after O;
 *  3. after E was read, its executable is the one seen at O, read before
 *     its pidfd is checked alive (so the pid was not reused meanwhile);
 *  4. then, with the directory queue read to its end, no exec event of a
 *     writer by the process waits there.
 * Why no interleaving fools it: the executable is the same at O and at
 * step 3. Leaving it and coming back takes an exec of that writer, whose
 * event is queued before the image changes, so before step 3: either it
 * was read before E and reset the process (1 fails), or it still waits
 * (4 fails), perhaps merged into an older unread event of the same
 * process and binary, which then sits before E and reset it too
 * (fanotify merges only into events not read yet). An exec that began
 * before O and ends after it (another thread changing the file
 * meanwhile, or an exec that fails after the open) is no O: an exec in
 * progress or failed does not show the writer's executable. A process
 * whose writer exec was not seen (its executable was not in the policy
 * yet) is not trusted, nor is one whose pid or exec event could not be
 * kept (FAN_EPIDFD, a full table). A writer already running when the
 * monitor starts (dpkg restarting fimguard from a postinst, then going
 * on with other packages) is adopted once, at start (writer_adopt):
 * the exec marks are in place before /proc is read, so the start stands
 * in for the exec event, and everything after it is as above.
 * Not covered: a writer running code an attacker chose (LD_PRELOAD,
 * ptrace), and an executable link changed without exec (prctl
 * PR_SET_MM_EXE_FILE: CAP_SYS_RESOURCE, or checkpoint/restore rights in
 * the caller's user namespace).
 *
 * Fences: the directory queue gets a rename in <state>/fence whose new
 * name carries a sequence number (distinct names never merge); the
 * close-write queue gets the close of <state>/fence/data opened for
 * writing, one at a time (two of the same file's would merge).
 * Only the worker calls this file, one worker at a time (worker.c); the
 * table outlives reloads, as the groups do. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "monitor/who.h"
#include "monitor/writer.h"

#define WRITER_MAX	1024	/* processes followed at once */
#define WRITER_RETRY_MS	1000	/* longest wait between observations */
#define WRITER_DATA	"data"

struct writer_proc {
	int		 pidfd;		/* -1: free slot */
	pid_t		 pid;
	uint64_t	 key;		/* pidfs inode of pidfd */
	int		 seen;		/* observation O made */
	uint64_t	 dev, ino;	/* the executable at O */
	uint64_t	 fence[WRITER_NQ];	/* first fence after O, 0: none */
	uint64_t	 due_ms;	/* next observation */
	unsigned	 tries;
};

static struct {
	int		 tried;		/* writer_init ran */
	int		 adopted;	/* writer_adopt ran */
	int		 ok;		/* else nothing is trusted */
	int		 dirfd;
	uint64_t	 data_dev, data_ino;
	uint64_t	 sent[WRITER_NQ];	/* last fence sent */
	uint64_t	 read[WRITER_NQ];	/* last fence read */
	size_t		 n;		/* slots used so far (high-water) */
	int		 warned;
	struct writer_proc p[WRITER_MAX];
} writer = { .dirfd = -1 };

static void	writer_fences(void);

/* The pidfs inode of a pidfd: the process, never reused. 0: none. */
static uint64_t
writer_key(int pidfd)
{
	struct stat st;

	return pidfd >= 0 && fstat(pidfd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Has not exited (a zombie has: its pid is about to be free). */
static int
writer_alive(int pidfd)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	return poll(&p, 1, 0) == 0;
}

/* Before pidfs (Linux 6.9) every pidfd has the same inode and names
 * no process: then nothing can be bound and nothing is trusted. */
static int
writer_pidfs(void)
{
	int a = (int)syscall(SYS_pidfd_open, getpid(), 0);
	int b = (int)syscall(SYS_pidfd_open, getppid(), 0);
	int ok = a >= 0 && b >= 0 && writer_key(a) != writer_key(b);

	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return ok;
}

/* An empty fence directory with the two fence files. */
static int
writer_fence_files(int data_fd)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char proc[64];
	int fd, dup_fd = dup(writer.dirfd);

	if (dup_fd < 0 || (d = fdopendir(dup_fd)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(writer.dirfd, de->d_name, 0);
	closedir(d);
	if ((fd = openat(writer.dirfd, "n0", O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return -1;
	close(fd);
	if ((fd = openat(writer.dirfd, WRITER_DATA, O_WRONLY | O_CREAT |
	    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return -1;
	close(fd);
	if ((fd = openat(writer.dirfd, WRITER_DATA, O_PATH | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (fstat(fd, &st) < 0 || fanotify_mark(data_fd, FAN_MARK_ADD,
	    FAN_CLOSE_WRITE, AT_FDCWD, proc) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	writer.data_dev = st.st_dev;
	writer.data_ino = st.st_ino;
	return 0;
}

/* Once per run, as root before the capability drop: the fence
 * directory in the state directory (a reload keeps it). Returns -1 if
 * writers cannot be recognised for changes seen after the fact (then
 * such changes count as a non-writer's). */
int
writer_init(const char *statedir, int data_fd)
{
	char *dir;
	struct stat st;

	if (writer.tried)
		return writer.ok ? 0 : -1;
	writer.tried = 1;
	dir = xasprintf("%s/%s", statedir, WRITER_DIR);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("%s", dir);
	writer.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	/* ours alone: a fence nobody else can fake or move */
	writer.ok = writer.dirfd >= 0 && fstat(writer.dirfd, &st) == 0 &&
	    st.st_uid == geteuid() && fchmod(writer.dirfd, 0700) == 0 &&
	    writer_fence_files(data_fd) == 0 && writer_pidfs();
	if (!writer.ok)
		log_warnx("%s: cannot set up fences (or no pidfs): renames, "
		    "deletions and attribute changes are never taken for an "
		    "allowed writer's", dir);
	free(dir);
	return writer.ok ? 0 : -1;
}

static void
writer_free(struct writer_proc *p)
{
	close(p->pidfd);
	memset(p, 0, sizeof(*p));
	p->pidfd = -1;
}

static void
writer_reset(struct writer_proc *p)
{
	p->seen = 0;
	memset(p->fence, 0, sizeof(p->fence));
	p->due_ms = util_now_ms();
	p->tries = 0;
}

/* A free slot, after dropping processes that are gone if need be. */
static struct writer_proc *
writer_slot(void)
{
	for (size_t i = 0; i < writer.n; i++)
		if (writer.p[i].pidfd < 0)
			return &writer.p[i];
	if (writer.n < WRITER_MAX) {
		writer.p[writer.n].pidfd = -1;
		return &writer.p[writer.n++];
	}
	for (size_t i = 0; i < writer.n; i++)
		if (!writer_alive(writer.p[i].pidfd))
			writer_free(&writer.p[i]);
	for (size_t i = 0; i < writer.n; i++)
		if (writer.p[i].pidfd < 0)
			return &writer.p[i];
	return NULL;
}

/* Follow one process from now on as if its exec event had just been
 * read: observed, then fenced, by the worker. pidfd is taken. Returns
 * its slot, or NULL if the table is full. */
static struct writer_proc *
writer_follow(int pidfd, pid_t pid)
{
	struct writer_proc *p = writer_slot();

	if (p == NULL) {
		close(pidfd);
		if (!writer.warned++)
			log_warnx("too many writer processes to follow: the "
			    "changes of those left out count as a non-writer's");
		return NULL;
	}
	p->pidfd = pidfd;
	p->pid = pid;
	p->key = writer_key(pidfd);
	writer_reset(p);
	return p;
}

/* Observation O made: the executable is a writer's, seen while the
 * process lived. Its fences are still to be sent. */
static void
writer_seen(struct writer_proc *p, uint64_t dev, uint64_t ino)
{
	if (p == NULL)
		return;
	p->seen = 1;
	p->dev = dev;
	p->ino = ino;
	memset(p->fence, 0, sizeof(p->fence));
}

/* Once, at the first start, before any thread runs (writer.p is the
 * worker's) and before the seccomp filter (pidfd_open): processes that
 * already run an allowed writer. Called after the writers' exec marks
 * are placed, so an exec that races this scan is queued and read after
 * it, and resets the process as any exec does. pidfd first, then the
 * executable, then the pidfd alive: the executable read was this
 * process's. */
void
writer_adopt(const struct watch_tab *t)
{
	DIR *d;
	struct dirent *de;

	if (!writer.ok || writer.adopted)
		return;
	writer.adopted = 1;
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		uint64_t dev, ino;
		int pidfd;

		if (*end != '\0' || pid <= 0 || pid == getpid())
			continue;
		if ((pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0)) < 0)
			continue;
		if (who_exe_id((pid_t)pid, &dev, &ino) == 0 &&
		    watch_writer_any(t, dev, ino) && writer_alive(pidfd))
			writer_seen(writer_follow(pidfd, (pid_t)pid), dev, ino);
		else
			close(pidfd);
	}
	closedir(d);
	/* the fences go into the queues now, before the monitor reports
	 * ready: a writer going on at once is already vouched for */
	writer_fences();
}

/* An exec of an allowed writer's executable, read from the directory
 * queue in order (pidfd < 0: the process is gone, or its pidfd could
 * not be made). The process starts over: observed again, fenced again. */
void
writer_exec(int pidfd, pid_t pid)
{
	uint64_t key = writer_key(pidfd);
	struct writer_proc *p = NULL;

	for (size_t i = 0; i < writer.n; i++) {
		struct writer_proc *q = &writer.p[i];

		if (q->pidfd >= 0 && (key != 0 ? q->key == key : q->pid == pid)) {
			writer_reset(q);
			p = q;
		}
	}
	if (p != NULL || key == 0 || !writer.ok)
		return;
	if ((pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3)) >= 0)
		(void)writer_follow(pidfd, pid);
}

void
writer_fence_seen(enum writer_queue q, uint64_t seq)
{
	if (seq > writer.read[q] && seq <= writer.sent[q])
		writer.read[q] = seq;
}

/* Is this close-write event (fd, pid) the data fence? */
int
writer_data_fence(int fd, pid_t pid)
{
	struct stat st;

	if (pid != getpid() || !writer.ok || fstat(fd, &st) < 0 ||
	    (uint64_t)st.st_dev != writer.data_dev ||
	    (uint64_t)st.st_ino != writer.data_ino)
		return 0;
	writer_fence_seen(WRITER_Q_DATA, writer.sent[WRITER_Q_DATA]);
	return 1;
}

/* Observation O: the executable is a writer's while the process lives. */
static void
writer_observe(struct writer_proc *p, const struct watch_tab *t,
    uint64_t now)
{
	uint64_t dev, ino;

	if (who_exe_id(p->pid, &dev, &ino) == 0 &&
	    watch_writer_any(t, dev, ino) && writer_alive(p->pidfd)) {
		writer_seen(p, dev, ino);
		return;
	}
	if (!writer_alive(p->pidfd)) {
		writer_free(p);
		return;
	}
	/* the exec is still running, or failed: look again later */
	p->tries = p->tries < 16 ? p->tries + 1 : p->tries;
	p->due_ms = now + ((1ULL << p->tries) < WRITER_RETRY_MS ?
	    (1ULL << p->tries) : WRITER_RETRY_MS);
}

static int
writer_send(enum writer_queue q)
{
	char from[32], to[32];
	int fd;

	if (q == WRITER_Q_DATA) {
		if (writer.read[q] != writer.sent[q])
			return -1;	/* one at a time */
		fd = openat(writer.dirfd, WRITER_DATA, O_WRONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -1;
		close(fd);
	} else {
		snprintf(from, sizeof(from), "n%" PRIu64, writer.sent[q]);
		snprintf(to, sizeof(to), "n%" PRIu64, writer.sent[q] + 1);
		if (renameat(writer.dirfd, from, writer.dirfd, to) < 0)
			return -1;
	}
	writer.sent[q]++;
	return 0;
}

/* Send a fence where an observation waits for one. */
static void
writer_fences(void)
{
	for (int q = 0; q < WRITER_NQ; q++) {
		int want = 0;

		for (size_t i = 0; i < writer.n; i++)
			want |= writer.p[i].pidfd >= 0 && writer.p[i].seen &&
			    writer.p[i].fence[q] == 0;
		if (!want || writer_send((enum writer_queue)q) < 0)
			continue;
		for (size_t i = 0; i < writer.n; i++)
			if (writer.p[i].pidfd >= 0 && writer.p[i].seen &&
			    writer.p[i].fence[q] == 0)
				writer.p[i].fence[q] = writer.sent[q];
	}
}

/* Observe the processes that exec'd a writer and send fences; returns
 * the milliseconds until the next observation is due, -1 for none. */
int
writer_tick(const struct watch_tab *t)
{
	uint64_t now = util_now_ms(), next = UINT64_MAX;

	if (!writer.ok)
		return -1;
	for (size_t i = 0; i < writer.n; i++) {
		struct writer_proc *p = &writer.p[i];

		if (p->pidfd >= 0 && !p->seen && p->due_ms <= now)
			writer_observe(p, t, now);
		if (p->pidfd >= 0 && !p->seen && p->due_ms < next)
			next = p->due_ms;
	}
	writer_fences();
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

/* Steps 1 to 3 for a change read from queue q by (pidfd, pid): 0 and
 * the executable the process had when it made the change, or -1. The
 * caller does step 4 (notify.c:notify_exec_ahead) after this. */
int
writer_identity(enum writer_queue q, int pidfd, pid_t pid, uint64_t *dev,
    uint64_t *ino)
{
	uint64_t key = writer_key(pidfd);
	const struct writer_proc *p = NULL;

	if (!writer.ok || key == 0 || pid <= 0)
		return -1;
	for (size_t i = 0; i < writer.n && p == NULL; i++)
		if (writer.p[i].pidfd >= 0 && writer.p[i].key == key)
			p = &writer.p[i];
	if (p == NULL || !p->seen || p->fence[q] == 0 ||
	    p->fence[q] > writer.read[q])
		return -1;
	/* exe first, then alive: the pid was still this process's */
	if (who_exe_id(pid, dev, ino) < 0 || !writer_alive(pidfd) ||
	    *dev != p->dev || *ino != p->ino)
		return -1;
	return 0;
}
