/* Write intent of a blocked opener. FAN_OPEN_PERM does not say whether
 * the file is opened for writing, so it is decided from what the kernel
 * holds, never from what the opener can still change:
 *
 * 1. The registers. The opener's thread is frozen inside its open
 *    syscall while we decide; /proc/<tid>/syscall shows the syscall
 *    number and its arguments as the kernel saved them at entry (no
 *    other thread can change them; x86-64 numbering):
 *      open(2)                flags = 2nd argument
 *      openat(257)            flags = 3rd argument
 *      creat(85)              always a write
 *      open_by_handle_at(304) flags = 3rd argument
 *      execve/execveat        a read (the kernel opens the binary)
 *    and the i386 numbers of the same calls (a 32-bit program's line
 *    holds its own numbers and its ebx, ecx, edx... arguments).
 *
 * 2. The inode's write count, for openat2(437) (its flags live in a
 *    struct open_how in the opener's memory: another thread can
 *    rewrite them after the kernel's copy, and reading that memory can
 *    block on a page nobody serves) and whenever the registers cannot
 *    be read in time (no descriptor left, the opener still on a CPU
 *    when the batch's time is up). For an open with write access the
 *    kernel takes the inode's write count (do_dentry_open) *before* it
 *    raises FAN_OPEN_PERM, and a read lease is refused (EAGAIN) exactly
 *    while that count is up (check_conflicting_open): a lease granted
 *    on the event's fd means nobody holds the file open for writing,
 *    so this open has no write access. The lease is dropped at once.
 *    Two limits, documented in fimguard(8): an O_RDONLY|O_TRUNC open
 *    truncates without write access (the truncate(2) class: restored
 *    after the fact); and while any process has the file open for
 *    writing, a read decided this way counts as a write.
 *
 * io_uring opens (io_uring_enter, or an iou-wrk-* worker thread, whose
 * line is a copy of its parent's registers with stack and instruction
 * pointers 0, which no user thread in a syscall can have) stay
 * INTENT_UNKNOWN, and policy decides: their flags are in shared memory
 * too, and an O_TRUNC among them is invisible to the write count.
 *
 * Runs on the permission thread: /proc reads into stack buffers and
 * fcntl on the event's fd, no allocation, no logging. Reading
 * /proc/<tid>/syscall takes the opener's exec_update_lock for reading
 * (held for writing only briefly inside execve) and waits for the
 * opener to be off its CPU (wait_task_inactive): neither touches the
 * opener's memory or waits on a filesystem. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "monitor/intent.h"

#define NR_OPEN			2
#define NR_CREAT		85
#define NR_EXECVE		59
#define NR_TRUNCATE		76
#define NR_FTRUNCATE		77
#define NR_OPENAT		257
#define NR_OPEN_BY_HANDLE_AT	304
#define NR_EXECVEAT		322
#define NR_IO_URING_ENTER	426
#define NR_OPENAT2		437
/* 32-bit (i386) programs show their own numbers. No x86-64 syscall
 * with these numbers opens a file (5 fstat, 8 lseek, 11 munmap, 295
 * preadv, 342 unused), so a blocked open showing one is a 32-bit call.
 * The truncates (92 chown, 93 fchown, 193 fgetxattr, 194 listxattr
 * there) are looked at only for pre-content events, which those x86-64
 * calls raise only by faulting on a mapping of a protected file. */
#define NR32_OPEN		5
#define NR32_CREAT		8
#define NR32_EXECVE		11
#define NR32_TRUNCATE		92
#define NR32_FTRUNCATE		93
#define NR32_TRUNCATE64		193
#define NR32_FTRUNCATE64	194
#define NR32_OPENAT		295
#define NR32_OPEN_BY_HANDLE_AT	342
#define X32_SYSCALL_BIT		0x40000000L

const char *
intent_name(int i)
{
	return i == INTENT_READ ? "read" : i == INTENT_WRITE ? "write" :
	    "unknown";
}

const char *
intent_source_name(int s)
{
	return s == INTENT_SRC_SYSCALL ? "syscall" :
	    s == INTENT_SRC_WRITE_COUNT ? "write-count" : "none";
}

/* What the kernel grants: write access unless the access mode is
 * O_RDONLY; O_TRUNC truncates even then. O_APPEND and O_CREAT with
 * O_RDONLY open an existing file read-only: reads. */
int
intent_flags_write(uint64_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0;
}

void
intent_ctx_init(struct intent_ctx *c, unsigned nslots)
{
	memset(c, 0, sizeof(*c));
	c->nslots = nslots;
	c->slot = nslots > 0 ? xcalloc(nslots, sizeof(*c->slot)) : NULL;
	for (unsigned i = 0; i < nslots; i++)
		c->slot[i].fd = -1;
}

/* By the thread that used it, once it stops. */
void
intent_ctx_close(struct intent_ctx *c)
{
	for (unsigned i = 0; i < c->nslots; i++) {
		if (c->slot[i].fd >= 0)
			close(c->slot[i].fd);
		c->slot[i].fd = -1;
		c->slot[i].tid = 0;
	}
}

void
intent_ctx_free(struct intent_ctx *c)
{
	intent_ctx_close(c);
	free(c->slot);
	memset(c, 0, sizeof(*c));
}

static ssize_t
intent_pread(int fd, char *buf, size_t n)
{
	ssize_t r = pread(fd, buf, n - 1, 0);

	if (r >= 0)
		buf[r] = '\0';
	return r;
}

static int
intent_open(struct intent_ctx *c, pid_t tid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 &&
	    (errno == EMFILE || errno == ENFILE))
		__atomic_add_fetch(&c->shortages, 1, __ATOMIC_RELAXED);
	return fd;
}

/* /proc/<tid>/syscall descriptors are kept open per thread id: pread()
 * from offset 0 gives fresh content each time, and saves an open and a
 * close per event. A descriptor of a thread that has exited fails to
 * read (ESRCH) and is replaced, so a reused thread id is no risk. */
static ssize_t
intent_read_syscall(struct intent_ctx *c, pid_t tid, char *buf, size_t n)
{
	struct intent_slot *s;
	ssize_t r;
	int fd;

	if (c->nslots == 0) {
		if ((fd = intent_open(c, tid)) < 0)
			return -1;
		r = intent_pread(fd, buf, n);
		close(fd);
		return r;
	}
	s = &c->slot[(unsigned)tid % c->nslots];
	if (s->tid == tid && s->fd >= 0 && (r = intent_pread(s->fd, buf, n)) > 0)
		return r;
	if (s->fd >= 0)
		close(s->fd);
	s->tid = tid;
	if ((s->fd = intent_open(c, tid)) < 0)
		return -1;
	return intent_pread(s->fd, buf, n);
}

/* Is the inode open for writing by anyone (this opener included)? */
int
intent_write_count(int fd)
{
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
		/* at once: a writer's open would wait for its release
		 * (and the kernel would send us SIGIO, which run.c
		 * ignores); closing the fd after the answer drops it too */
		(void)fcntl(fd, F_SETLEASE, F_UNLCK);
		return INTENT_READ;
	}
	/* EACCES: a file we do not own without CAP_LEASE; EINVAL:
	 * leases off (fs.leases-enable) or a filesystem without them */
	return errno == EAGAIN ? INTENT_WRITE : INTENT_UNKNOWN;
}

static int
intent_of_flags(struct intent_info *in, const char *name, uint64_t flags)
{
	in->syscall = name;
	in->flags = flags;
	in->has_flags = 1;
	in->source = INTENT_SRC_SYSCALL;
	return intent_flags_write(flags) ? INTENT_WRITE : INTENT_READ;
}

static int
intent_truncate(struct intent_info *in, const char *name)
{
	in->syscall = name;
	in->truncate = 1;
	in->source = INTENT_SRC_SYSCALL;
	return INTENT_WRITE;
}

static int
intent_read_call(struct intent_info *in)
{
	in->source = INTENT_SRC_SYSCALL;
	return INTENT_READ;
}

static int
intent_from_nr(long nr, const unsigned long long *a, struct intent_info *in)
{
	switch (nr) {
	case NR32_OPEN:
		/* i386 O_* values are the x86-64 ones */
		return intent_of_flags(in, "open", a[1]);
	case NR32_OPENAT:
		return intent_of_flags(in, "openat", a[2]);
	case NR32_OPEN_BY_HANDLE_AT:
		return intent_of_flags(in, "open_by_handle_at", a[2]);
	case NR32_CREAT:
	case NR_CREAT:
		return intent_of_flags(in, "creat", O_CREAT | O_WRONLY | O_TRUNC);
	case NR_OPEN:
		return intent_of_flags(in, "open", a[1]);
	case NR_OPENAT:
		return intent_of_flags(in, "openat", a[2]);
	case NR_OPEN_BY_HANDLE_AT:
		return intent_of_flags(in, "open_by_handle_at", a[2]);
	case NR32_EXECVE:
	case NR_EXECVE:
	case NR_EXECVEAT:
		return intent_read_call(in);
	case NR_TRUNCATE:
	case NR32_TRUNCATE:
		return intent_truncate(in, "truncate");
	case NR_FTRUNCATE:
	case NR32_FTRUNCATE:
		return intent_truncate(in, "ftruncate");
	case NR32_TRUNCATE64:
		return intent_truncate(in, "truncate64");
	case NR32_FTRUNCATE64:
		return intent_truncate(in, "ftruncate64");
	case NR_OPENAT2:
		in->syscall = "openat2";	/* the write count decides */
		return INTENT_UNKNOWN;
	case NR_IO_URING_ENTER:
		in->syscall = "io_uring_enter";
		in->io_uring = 1;
		return INTENT_UNKNOWN;
	default:
		return INTENT_UNKNOWN;
	}
}

/* Decode one /proc/<tid>/syscall line. */
int
intent_from_syscall(const char *line, struct intent_info *in)
{
	unsigned long long a[6] = { 0 }, sp = 1, pc = 1;
	long nr;
	int got;

	memset(in, 0, sizeof(*in));
	in->nr = -1;
	got = sscanf(line, "%ld %llx %llx %llx %llx %llx %llx %llx %llx", &nr,
	    &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &sp, &pc);
	if (got < 1 || nr < 0)
		return INTENT_UNKNOWN;	/* "running", or "-1 sp pc" */
	nr &= ~X32_SYSCALL_BIT;		/* x32 calls: x86-64 numbers */
	in->nr = nr;
	if (got == 9 && sp == 0 && pc == 0) {
		in->io_uring = 1;	/* an io-wq worker (iou-wrk-*) */
		return INTENT_UNKNOWN;
	}
	return intent_from_nr(nr, a, in);
}

/* The opener queues the event before it goes to sleep waiting for our
 * answer; until it is off its CPU the kernel shows "running" instead of
 * its syscall. That is normally a few microseconds. Yield at first: an
 * opener waiting for our CPU gets it at once (a busy re-read would keep
 * it off; measured: a writer whose process was gone by the time the
 * worker read its next event); then nap, so that under higher-priority
 * load, where a yield can cost a whole time slice, a few naps still fit
 * in the batch's budget. Every turn checks that budget (intent_decode). */
#define INTENT_YIELDS	64
#define INTENT_NAP_NS	20000L

static void
intent_wait(unsigned i)
{
	struct timespec nap = { 0, INTENT_NAP_NS };

	if (i < INTENT_YIELDS)
		sched_yield();
	else
		nanosleep(&nap, NULL);
}

/* Intent of thread tid's blocked open. fd: the event's fd, for the
 * write count (-1: do without, as for pre-content events, where only
 * the registers can tell a truncate from a read). deadline_ms
 * (util_now_ms clock): when the batch's time is up, an opener still
 * on a CPU is decided by the write count at once. */
int
intent_decode(struct intent_ctx *c, pid_t tid, int fd, struct intent_info *in,
    uint64_t deadline_ms)
{
	char buf[512];
	int d;

	memset(in, 0, sizeof(*in));
	in->nr = -1;
	for (unsigned i = 0;; i++) {
		if (intent_read_syscall(c, tid, buf, sizeof(buf)) <= 0)
			break;	/* no descriptor, gone, or no access */
		if (strncmp(buf, "running", 7) != 0) {
			d = intent_from_syscall(buf, in);
			if (in->nr != NR_OPENAT2 || in->io_uring)
				return d;
			break;
		}
		if (util_now_ms() > deadline_ms)
			break;
		intent_wait(i);
	}
	if (fd < 0 || (d = intent_write_count(fd)) == INTENT_UNKNOWN)
		return INTENT_UNKNOWN;
	in->source = INTENT_SRC_WRITE_COUNT;
	return d;
}
