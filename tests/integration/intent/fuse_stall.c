/* Stalling the permission thread on the opener's memory through FUSE
 * (issue 8, case 2): what an unprivileged user can do where FUSE
 * mounts are allowed, without the root-only userfaultfd of
 * uffd_stall.c. We serve a one-file FUSE file system ourselves (raw
 * /dev/fuse protocol, no libfuse) and map its file over the two places
 * a monitor could read from us while we wait in openat2(2):
 *   - the first page of our command line (/proc/<pid>/cmdline);
 *   - the page of our struct open_how, mapped over by a second thread
 *     as soon as we sit in the syscall (after the kernel's copy).
 * Our server holds back every READ another process causes (answering
 * our own at once) until the opens are done, then answers them all
 * with the original bytes, so that nobody stays blocked.
 *   fuse_stall MOUNTDIR PATH TRIES PAD...
 * (the thousand PAD arguments put the argv pointer array, and every
 * stack frame below it, more than a page under the command line, as
 * in uffd_stall.c)
 * TRIES openat2(O_RDWR), a pause of a second for anyone to read us,
 * TRIES more; prints "tries T denied D write W read R other O maxms M
 * stalled S control C" (T: 2 x TRIES; S: READs held back while the
 * opens ran, that is reads of our memory by someone else that would
 * have waited; C: the same for a child of ours that reads the command
 * line page with process_vm_readv at the end, the proof that the page
 * does hold a foreign reader) and exits 0; 3 when no FUSE file system
 * can be mounted here. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stall.h"

#define FILE_INO	2
#define FILE_SIZE	(1 << 20)
#define HOW_OFF		(FILE_SIZE / 2)	/* the open_how page's bytes */
#define MAX_HELD	256

static int devfd, donefd, ffd;
static long pagesz;
static char *args_page, *args_copy, *how_page;
static size_t args_len;
static pid_t opener_tid, dropper_tid;
static int opener_in, opener_out;
static uint64_t held[MAX_HELD];	/* READs not answered yet */
static uint64_t held_off[MAX_HELD];
static uint32_t held_size[MAX_HELD];
static int nheld, stalled, released;

static void
fuse_reply(uint64_t unique, int error, const void *body, size_t len)
{
	struct fuse_out_header h = { (uint32_t)(sizeof(h) + len), error,
	    unique };
	char buf[sizeof(h) + 4096 * 4];

	if (len > sizeof(buf) - sizeof(h))
		len = sizeof(buf) - sizeof(h);
	memcpy(buf, &h, sizeof(h));
	if (len > 0)
		memcpy(buf + sizeof(h), body, len);
	if (write(devfd, buf, sizeof(h) + len) < 0 && errno != ENOENT)
		perror("fuse reply");
}

static void
fuse_attr(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0644;
	a->nlink = ino == FUSE_ROOT_ID ? 2 : 1;
	a->size = ino == FUSE_ROOT_ID ? 0 : FILE_SIZE;
	a->blksize = 4096;
}

/* A READ: the command line's bytes where they were, an O_RDWR
 * open_how at HOW_OFF, zeros elsewhere. */
static void
fuse_read_reply(uint64_t unique, uint64_t off, uint32_t size)
{
	struct open_how how = { .flags = O_RDWR };
	char *b = calloc(1, size);

	for (uint64_t i = 0; i < size; i++)
		if (off + i < args_len)
			b[i] = args_copy[off + i];
		else if (off + i >= HOW_OFF && off + i < HOW_OFF + sizeof(how))
			b[i] = ((char *)&how)[off + i - HOW_OFF];
	fuse_reply(unique, 0, b, size);
	free(b);
}

static void
fuse_release_held(void)
{
	for (int i = 0; i < nheld; i++)
		fuse_read_reply(held[i], held_off[i], held_size[i]);
	nheld = 0;
}

static void
fuse_one(const char *req)
{
	const struct fuse_in_header *in = (const void *)req;
	const char *arg = req + sizeof(*in);

	switch (in->opcode) {
	case FUSE_INIT: {
		const struct fuse_init_in *i = (const void *)arg;
		struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION,
		    .minor = i->minor < FUSE_KERNEL_MINOR_VERSION ? i->minor :
		    FUSE_KERNEL_MINOR_VERSION, .max_readahead = 4096,
		    .max_write = 65536, .time_gran = 1, .max_background = 16,
		    .congestion_threshold = 12 };

		fuse_reply(in->unique, 0, &o, sizeof(o));
		break;
	}
	case FUSE_LOOKUP: {
		struct fuse_entry_out e = { 0 };

		if (in->nodeid != FUSE_ROOT_ID || strcmp(arg, "page") != 0) {
			fuse_reply(in->unique, -ENOENT, NULL, 0);
			break;
		}
		e.nodeid = FILE_INO;
		e.entry_valid = e.attr_valid = 3600;
		fuse_attr(&e.attr, FILE_INO);
		fuse_reply(in->unique, 0, &e, sizeof(e));
		break;
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out a = { .attr_valid = 3600 };

		fuse_attr(&a.attr, in->nodeid);
		fuse_reply(in->unique, 0, &a, sizeof(a));
		break;
	}
	case FUSE_OPEN: {
		struct fuse_open_out o = { .fh = 1 };	/* page cache: mmap */

		fuse_reply(in->unique, 0, &o, sizeof(o));
		break;
	}
	case FUSE_READ: {
		const struct fuse_read_in *r = (const void *)arg;

		/* ours (the opener's copy_from_user, were it to fault) at
		 * once; anyone else's held */
		if (released || nheld == MAX_HELD ||
		    (pid_t)in->pid == opener_tid ||
		    (pid_t)in->pid == dropper_tid) {
			fuse_read_reply(in->unique, r->offset, r->size);
			break;
		}
		held[nheld] = in->unique;
		held_off[nheld] = r->offset;
		held_size[nheld++] = r->size;
		__atomic_add_fetch(&stalled, 1, __ATOMIC_RELAXED);
		break;
	}
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:	/* the READ it names stays held */
		break;
	case FUSE_FLUSH:
	case FUSE_RELEASE:
		fuse_reply(in->unique, 0, NULL, 0);
		break;
	default:
		fuse_reply(in->unique, -ENOSYS, NULL, 0);
	}
}

/* The server: a thread of ours that touches none of the pages it
 * serves. On donefd it answers every held READ and from then on
 * answers at once. */
static void *
fuse_server(void *arg)
{
	static char req[FUSE_MIN_READ_BUFFER + 65536];
	struct pollfd p[2] = { { devfd, POLLIN, 0 }, { donefd, POLLIN, 0 } };

	(void)arg;
	for (;;) {
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if ((p[1].revents & POLLIN) && !released) {
			released = 1;
			fuse_release_held();
		}
		if (!(p[0].revents & POLLIN))
			continue;
		if ((n = read(devfd, req, sizeof(req))) < 0) {
			if (errno == ENODEV)	/* unmounted */
				return NULL;
			continue;
		}
		if ((size_t)n >= sizeof(struct fuse_in_header))
			fuse_one(req);
	}
}

static int
fuse_mount(const char *dir)
{
	char opts[128];

	if ((devfd = open("/dev/fuse", O_RDWR | O_CLOEXEC)) < 0)
		return -1;
	snprintf(opts, sizeof(opts),
	    "fd=%d,rootmode=40000,user_id=%d,group_id=%d,allow_other", devfd,
	    (int)getuid(), (int)getgid());
	return mount("fimguard-stall", dir, "fuse.fimguard-stall",
	    MS_NOSUID | MS_NODEV, opts);
}

/* Maps the FUSE file over the open_how page once the opener is inside
 * openat2 (the kernel has its copy by then). */
static void *
fuse_dropper(void *arg)
{
	char p[64], buf[64];

	(void)arg;
	dropper_tid = gettid();
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
				mmap(how_page, (size_t)pagesz, PROT_READ |
				    PROT_WRITE, MAP_PRIVATE | MAP_FIXED, ffd,
				    HOW_OFF);
				break;
			}
			if (__atomic_load_n(&opener_out, __ATOMIC_ACQUIRE))
				break;
		}
		__atomic_store_n(&opener_in, 0, __ATOMIC_RELEASE);
	}
}

struct fuse_tally {
	long	 done, denied, wrote, rd, other;
	double	 slowest;
};

static void
fuse_open_one(const char *path, struct fuse_tally *t)
{
	struct open_how *how;
	double t0;
	int fd;

	/* a fresh anonymous page for the struct, the FUSE one gone */
	how = mmap(how_page, (size_t)pagesz, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
	if (how == MAP_FAILED)
		exit(2);
	how->flags = O_RDWR | O_CLOEXEC;
	__atomic_store_n(&opener_out, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&opener_in, 1, __ATOMIC_RELEASE);
	t0 = stall_now();
	fd = (int)syscall(SYS_openat2, AT_FDCWD, path, how, sizeof(*how));
	if (stall_now() - t0 > t->slowest)
		t->slowest = stall_now() - t0;
	__atomic_store_n(&opener_out, 1, __ATOMIC_RELEASE);
	if (fd >= 0) {
		if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
			t->wrote++;
		else
			t->rd++;
		close(fd);
	} else if (errno == EPERM)
		t->denied++;
	else
		t->other++;
	while (__atomic_load_n(&opener_in, __ATOMIC_ACQUIRE) != 0)
		;
}

/* The control: a child of ours reads our command line page with
 * process_vm_readv (what a monitor that reads opener memory directly
 * would do) and is held, which shows the page does stall a foreign
 * reader. Waits up to 2 s for its READ to be held. */
struct fuse_control {
	pid_t	 pid;
	int	 held;
};

static struct fuse_control
fuse_control(void)
{
	struct fuse_control c = { -1, 0 };
	int before = __atomic_load_n(&stalled, __ATOMIC_RELAXED);
	pid_t parent = getpid();

	if ((c.pid = fork()) == 0) {
		char buf[64];
		struct iovec l = { buf, sizeof(buf) }, r = { args_page,
		    sizeof(buf) };

		_exit(process_vm_readv(parent, &l, 1, &r, 1, 0) < 0);
	}
	for (int i = 0; c.pid > 0 && i < 200 && c.held == 0; i++) {
		c.held = __atomic_load_n(&stalled, __ATOMIC_RELAXED) - before;
		usleep(10000);
	}
	return c;
}

int
main(int argc, char **argv)
{
	struct fuse_tally t = { 0 };
	unsigned long start;
	pthread_t srv, drop;
	const char *mnt;
	char *file, *path;
	struct fuse_control control;
	uint64_t one = 1;
	long tries;
	int held_reads;

	if (argc < 4)
		return 2;
	pagesz = sysconf(_SC_PAGESIZE);
	tries = atol(argv[3]);
	start = stall_arg_start();
	args_page = (char *)(start & ~((unsigned long)pagesz - 1));
	args_len = (size_t)(((start + 1024 + (unsigned long)pagesz - 1) &
	    ~((unsigned long)pagesz - 1)) - (unsigned long)args_page);
	if (start == 0 || (char *)argv >= args_page) {
		fprintf(stderr, "too few PAD arguments\n");
		return 2;
	}
	/* argv[1] and argv[2] lie in the command line: copied first */
	mnt = strdup(argv[1]);
	path = strdup(argv[2]);
	args_copy = malloc(args_len);
	memcpy(args_copy, args_page, args_len);
	how_page = mmap(NULL, (size_t)pagesz, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	opener_tid = gettid();
	if (asprintf(&file, "%s/page", mnt) < 0 || how_page == MAP_FAILED ||
	    (donefd = eventfd(0, EFD_CLOEXEC)) < 0)
		return 2;
	if (fuse_mount(mnt) < 0) {
		perror("FUSE mount");
		return 3;
	}
	if (pthread_create(&srv, NULL, fuse_server, NULL) != 0 ||
	    (ffd = open(file, O_RDONLY | O_CLOEXEC)) < 0 ||
	    pthread_create(&drop, NULL, fuse_dropper, NULL) != 0) {
		perror("FUSE file");
		umount2(mnt, MNT_DETACH);
		return 3;
	}
	/* from here on nothing of ours reads the command line */
	if (mmap(args_page, args_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_FIXED, ffd, 0) == MAP_FAILED) {
		perror("mmap");
		umount2(mnt, MNT_DETACH);
		return 3;
	}
	for (t.done = 0; t.done < 2 * tries; t.done++) {
		fuse_open_one(path, &t);
		if (t.done == tries - 1)
			sleep(1);	/* time for anyone to read us */
	}
	__atomic_store_n(&opener_in, -1, __ATOMIC_RELEASE);
	pthread_join(drop, NULL);
	held_reads = __atomic_load_n(&stalled, __ATOMIC_RELAXED);
	control = fuse_control();
	/* let every reader go, then give our stack its bytes back (an
	 * mmap waits for a reader's hold on our memory) */
	if (write(donefd, &one, sizeof(one)) < 0 ||
	    mmap(args_page, args_len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_FIXED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
		return 2;
	memcpy(args_page, args_copy, args_len);
	close(ffd);
	if (control.pid > 0)
		waitpid(control.pid, NULL, 0);
	umount2(mnt, MNT_DETACH);
	printf("tries %ld denied %ld write %ld read %ld other %ld maxms %.1f "
	    "stalled %d control %d\n", t.done, t.denied, t.wrote, t.rd,
	    t.other, t.slowest * 1000, held_reads, control.held);
	return 0;
}
