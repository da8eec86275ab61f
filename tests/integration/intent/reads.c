/* Reads a file over and over, the way busy programs do.
 *   reads PATH N      opens PATH N times with openat(2) and N times with
 *                     openat2(2), all O_RDONLY; prints "ok <opens> fail
 *                     <failures> errno <first errno> maxms <slowest open>"
 *                     and exits 0 when every open succeeded, 1 otherwise
 *   reads spin SECS   burns one CPU for that long */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double
reads_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
reads_spin(double seconds)
{
	double end = reads_now() + seconds;
	volatile unsigned long x = 0;

	while (reads_now() < end)
		for (int i = 0; i < 100000; i++)
			x++;
	return 0;
}

int
main(int argc, char **argv)
{
	struct open_how how = { .flags = O_RDONLY };
	long n, ok = 0, fail = 0;
	double slowest = 0;
	int first = 0;

	if (argc != 3)
		return 2;
	if (strcmp(argv[1], "spin") == 0)
		return reads_spin(atof(argv[2]));
	n = atol(argv[2]);
	for (long i = 0; i < 2 * n; i++) {
		double t0 = reads_now();
		int fd = i % 2 ? (int)syscall(SYS_openat2, AT_FDCWD, argv[1],
		    &how, sizeof(how)) : openat(AT_FDCWD, argv[1], O_RDONLY);

		if (reads_now() - t0 > slowest)
			slowest = reads_now() - t0;
		if (fd < 0) {
			if (fail++ == 0)
				first = errno;
			continue;
		}
		ok++;
		close(fd);
	}
	printf("ok %ld fail %ld errno %d maxms %.1f\n", ok, fail, first,
	    slowest * 1000);
	return fail == 0 ? 0 : 1;
}
