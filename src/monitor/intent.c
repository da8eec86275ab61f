/* Write intent of a blocked opener. FAN_OPEN_PERM does not say whether
 * the file is opened for writing; the opener's thread is frozen inside
 * its open syscall while we decide, so /proc/<tid>/syscall shows the
 * syscall and its arguments (x86-64 numbering):
 *   open(2)               flags = 2nd argument
 *   openat(257)           flags = 3rd argument
 *   creat(85)             always a write
 *   openat2(437)          flags in the struct open_how the 3rd argument
 *                         points to: read with process_vm_readv
 *   open_by_handle_at(304) flags = 3rd argument
 *   execve/execveat       a read (the kernel opens the binary)
 * io_uring opens (io_uring_enter, or an iou-wrk-* worker thread, whose
 * line is a copy of its parent's registers with stack and instruction
 * pointers 0, which no user thread in a syscall can have) and anything
 * else cannot be decoded: INTENT_UNKNOWN, and policy decides.
 * Runs on the permission thread: only /proc reads into stack buffers,
 * no allocation, no logging. Needs ptrace-level access to the opener. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "monitor/intent.h"

#define NR_OPEN			2
#define NR_CREAT		85
#define NR_EXECVE		59
#define NR_OPENAT		257
#define NR_OPEN_BY_HANDLE_AT	304
#define NR_EXECVEAT		322
#define NR_IO_URING_ENTER	426
#define NR_OPENAT2		437
#define NR_TRUNCATE		76
#define NR_FTRUNCATE		77
/* 32-bit (i386) programs show their own numbers. No x86-64 syscall
 * with these numbers opens a file (5 fstat, 8 lseek, 11 munmap, 295
 * preadv, 342 unused), so a blocked open showing one is a 32-bit call. */
#define NR32_OPEN		5
#define NR32_CREAT		8
#define NR32_EXECVE		11
#define NR32_OPENAT		295
#define NR32_OPEN_BY_HANDLE_AT	342
#define X32_SYSCALL_BIT		0x40000000L

const char *
intent_name(int i)
{
	return i == INTENT_READ ? "read" : i == INTENT_WRITE ? "write" :
	    "unknown";
}

/* O_TRUNC truncates even with O_RDONLY; O_APPEND and O_CREAT are
 * counted as writes too (they only make sense with one). */
int
intent_flags_write(uint64_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY ||
	    (flags & (O_TRUNC | O_APPEND | O_CREAT)) != 0;
}

/* /proc/<tid>/syscall descriptors, kept open per thread id: pread()
 * from offset 0 gives fresh content each time, and saves an open and a
 * close per event. A descriptor of a thread that has exited fails to
 * read (ESRCH) and is replaced, so a reused thread id is no risk. Only
 * the permission thread calls this: no locking. */
#define INTENT_CACHE	256

static struct {
	pid_t	tid;
	int	fd;
} intent_cache[INTENT_CACHE];

static ssize_t
intent_pread(int fd, char *buf, size_t n)
{
	ssize_t r = pread(fd, buf, n - 1, 0);

	if (r >= 0)
		buf[r] = '\0';
	return r;
}

static ssize_t
intent_read_syscall(pid_t tid, char *buf, size_t n)
{
	unsigned slot = (unsigned)tid % INTENT_CACHE;
	char path[64];
	ssize_t r;

	if (intent_cache[slot].tid == tid && intent_cache[slot].fd > 0 &&
	    (r = intent_pread(intent_cache[slot].fd, buf, n)) > 0)
		return r;
	if (intent_cache[slot].fd > 0)
		close(intent_cache[slot].fd);
	intent_cache[slot].fd = 0;
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	if ((intent_cache[slot].fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		intent_cache[slot].fd = 0;
		return -1;
	}
	intent_cache[slot].tid = tid;
	return intent_pread(intent_cache[slot].fd, buf, n);
}

void
intent_cache_clear(void)
{
	for (unsigned i = 0; i < INTENT_CACHE; i++) {
		if (intent_cache[i].fd > 0)
			close(intent_cache[i].fd);
		intent_cache[i].fd = 0;
		intent_cache[i].tid = 0;
	}
}

static int
intent_openat2_flags(pid_t tid, uint64_t how, uint64_t *flags)
{
	struct iovec local = { flags, sizeof(*flags) };
	struct iovec remote = { (void *)(uintptr_t)how, sizeof(*flags) };

	return process_vm_readv(tid, &local, 1, &remote, 1, 0) ==
	    (ssize_t)sizeof(*flags) ? 0 : -1;
}

static enum intent
intent_of_flags(struct intent_info *in, uint64_t flags)
{
	in->flags = flags;
	return intent_flags_write(flags) ? INTENT_WRITE : INTENT_READ;
}

/* Decode one /proc/<tid>/syscall line (tid is needed for openat2). */
int
intent_from_syscall(const char *line, pid_t tid, struct intent_info *in)
{
	unsigned long long a[6] = { 0 }, sp = 1, pc = 1;
	uint64_t flags;
	long nr;
	int got;

	in->nr = -1;
	in->flags = 0;
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
	switch (nr) {
	case NR32_OPEN:
		/* i386 O_* values are the x86-64 ones */
		return intent_of_flags(in, a[1]);
	case NR32_OPENAT:
	case NR32_OPEN_BY_HANDLE_AT:
		return intent_of_flags(in, a[2]);
	case NR32_CREAT:
		return intent_of_flags(in, O_CREAT | O_WRONLY | O_TRUNC);
	case NR32_EXECVE:
		return INTENT_READ;
	case NR_OPEN:
		return intent_of_flags(in, a[1]);
	case NR_OPENAT:
	case NR_OPEN_BY_HANDLE_AT:
		return intent_of_flags(in, a[2]);
	case NR_CREAT:
		return intent_of_flags(in, O_CREAT | O_WRONLY | O_TRUNC);
	case NR_OPENAT2:
		if (intent_openat2_flags(tid, a[2], &flags) < 0)
			return INTENT_UNKNOWN;
		return intent_of_flags(in, flags);
	case NR_EXECVE:
	case NR_EXECVEAT:
		return INTENT_READ;
	case NR_TRUNCATE:
	case NR_FTRUNCATE:
		/* only seen through FAN_PRE_ACCESS (truncate = deny) */
		return INTENT_WRITE;
	case NR_IO_URING_ENTER:
		in->io_uring = 1;
		return INTENT_UNKNOWN;
	default:
		return INTENT_UNKNOWN;
	}
}

/* The opener queues the event before it goes to sleep waiting for our
 * answer; until it is off the CPU the kernel shows "running" instead of
 * its syscall. It cannot get past the open without our answer, so it
 * will sleep: wait for that, yielding at first, then in 20 us naps, for
 * at most INTENT_WAIT_NS (a machine so loaded that the opener gets no
 * CPU for that long gets "unknown"; the stall watchdog is far longer). */
#define INTENT_YIELDS	200
#define INTENT_WAIT_NS	1000000000LL

/* deadline_ms (util_now_ms clock): stop waiting for a "running" opener
 * then, so that one batch cannot wait for long on many of them. */
int
intent_decode(pid_t tid, struct intent_info *in, uint64_t deadline_ms)
{
	char buf[512];

	memset(in, 0, sizeof(*in));
	in->nr = -1;
	for (long long waited = 0, i = 0; waited < INTENT_WAIT_NS; i++) {
		struct timespec nap = { 0, 20000 };

		if (intent_read_syscall(tid, buf, sizeof(buf)) <= 0)
			return INTENT_UNKNOWN;	/* exited, or no access */
		if (strncmp(buf, "running", 7) != 0)
			return intent_from_syscall(buf, tid, in);
		if (i >= INTENT_YIELDS && util_now_ms() > deadline_ms)
			break;
		if (i < INTENT_YIELDS) {
			sched_yield();
			waited += 1000;
		} else {
			nanosleep(&nap, NULL);
			waited += nap.tv_nsec;
		}
	}
	return INTENT_UNKNOWN;
}
