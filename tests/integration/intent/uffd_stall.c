/* Stalling the permission thread on the opener's memory (issue 8,
 * case 2). userfaultfd (as root) makes two of our pages fault forever
 * for anyone who reads them from outside, since nobody serves them:
 *   - the first page of our command line (what /proc/<pid>/cmdline
 *     reads, and who-data used to read on the permission thread);
 *   - the struct open_how of each openat2(2) O_RDWR, dropped by a
 *     second thread as soon as the opener sits in the syscall (after
 *     the kernel's copy; the monitor used to re-read it from there).
 *   uffd_stall PATH TRIES PAD...
 * (a thousand PAD arguments put the argv pointer array, and every
 * stack frame below it, more than a page under the command line, so
 * that dropping the command line's page leaves our own stack alone)
 * prints "tries T denied D write W read R other O maxms M" (W: opens
 * that came back with write access; M: the slowest open) and exits 0;
 * 3 when userfaultfd is not available. Both pages are put back before
 * exit, which also releases anyone still blocked on them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "stall.h"

static long pagesz;
static int uffd;
static char *args_page, *args_copy, *how_page;
static size_t args_len;
static char *path;
static long tries, done, denied, wrote, rd, other;
static double slowest;
static pid_t opener_tid;
static int opener_in, opener_out;

static int
stall_register(void *addr, size_t len)
{
	struct uffdio_register r = {
		.range = { (unsigned long)addr, len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &r);
}

static void
stall_fill(char *addr, const char *from)
{
	struct uffdio_copy c = { (unsigned long)addr, (unsigned long)from,
	    (unsigned long)args_len, 0, 0 };
	struct uffdio_zeropage z = { { (unsigned long)addr,
	    (unsigned long)pagesz }, 0, 0 };

	if (from != NULL)
		ioctl(uffd, UFFDIO_COPY, &c);
	else
		ioctl(uffd, UFFDIO_ZEROPAGE, &z);
}

/* Drops the open_how page once the opener is inside openat2. */
static void *
stall_dropper(void *arg)
{
	char p[64], buf[64];

	(void)arg;
	snprintf(p, sizeof(p), "/proc/self/task/%d/syscall", (int)opener_tid);
	for (;;) {
		int in;

		while ((in = __atomic_load_n(&opener_in, __ATOMIC_ACQUIRE)) ==
		    0)
			;
		if (in < 0)
			return NULL;
		for (;;) {
			int fd = open(p, O_RDONLY);
			ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) :
			    -1;

			if (fd >= 0)
				close(fd);
			if (n > 4 && strncmp(buf, "437 ", 4) == 0) {
				madvise(how_page, (size_t)pagesz,
				    MADV_DONTNEED);
				break;
			}
			if (__atomic_load_n(&opener_out, __ATOMIC_ACQUIRE))
				break;
		}
		__atomic_store_n(&opener_in, 0, __ATOMIC_RELEASE);
	}
}

static void
stall_one(void)
{
	struct open_how *how = (struct open_how *)how_page;
	double t0;
	int fd;

	stall_fill(how_page, NULL);	/* EEXIST if still there: fine */
	memset(how, 0, sizeof(*how));
	how->flags = O_RDWR;
	__atomic_store_n(&opener_out, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&opener_in, 1, __ATOMIC_RELEASE);
	t0 = stall_now();
	fd = (int)syscall(SYS_openat2, AT_FDCWD, path, how, sizeof(*how));
	if (stall_now() - t0 > slowest)
		slowest = stall_now() - t0;
	__atomic_store_n(&opener_out, 1, __ATOMIC_RELEASE);
	if (fd >= 0) {
		if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
			wrote++;
		else
			rd++;
		close(fd);
	} else if (errno == EPERM)
		denied++;
	else
		other++;
	while (__atomic_load_n(&opener_in, __ATOMIC_ACQUIRE) != 0)
		;
}

/* The opener: its own stack, so that nothing it does touches the
 * page of the main stack that holds the command line. */
static void *
stall_opener(void *arg)
{
	pthread_t drop;

	(void)arg;
	opener_tid = gettid();
	if (pthread_create(&drop, NULL, stall_dropper, NULL) != 0)
		return NULL;
	madvise(args_page, args_len, MADV_DONTNEED);
	for (done = 0; done < tries; done++)
		stall_one();
	__atomic_store_n(&opener_in, -1, __ATOMIC_RELEASE);
	pthread_join(drop, NULL);
	stall_fill(args_page, args_copy);	/* wakes blocked readers */
	return NULL;
}

int
main(int argc, char **argv)
{
	struct uffdio_api api = { .api = UFFD_API };
	unsigned long start;
	pthread_t t;

	if (argc < 3)
		return 2;
	pagesz = sysconf(_SC_PAGESIZE);
	path = strdup(argv[1]);
	tries = atol(argv[2]);
	start = stall_arg_start();
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (start == 0 || uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0) {
		perror("userfaultfd");
		return 3;
	}
	/* the pages holding the first KB of the command line */
	args_page = (char *)(start & ~((unsigned long)pagesz - 1));
	args_len = (size_t)(((start + 1024 + (unsigned long)pagesz - 1) &
	    ~((unsigned long)pagesz - 1)) - (unsigned long)args_page);
	if ((char *)argv >= args_page) {
		fprintf(stderr, "too few PAD arguments\n");
		return 2;
	}
	args_copy = malloc(args_len);
	memcpy(args_copy, args_page, args_len);
	how_page = mmap(NULL, (size_t)pagesz, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (how_page == MAP_FAILED ||
	    stall_register(args_page, args_len) < 0 ||
	    stall_register(how_page, (size_t)pagesz) < 0) {
		perror("UFFDIO_REGISTER");
		return 3;
	}
	if (pthread_create(&t, NULL, stall_opener, NULL) != 0)
		return 2;
	pthread_join(t, NULL);
	printf("tries %ld denied %ld write %ld read %ld other %ld maxms %.1f\n",
	    done, denied, wrote, rd, other, slowest * 1000);
	return 0;
}
