/* What uffd_stall.c and fuse_stall.c share: a monotonic clock in
 * seconds, and where our command line starts. Included by each (they
 * are built one file at a time, test_intent.py:build). */
#ifndef STALL_H
#define STALL_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
stall_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* arg_start, field 48 of /proc/self/stat */
static unsigned long
stall_arg_start(void)
{
	char buf[4096], *p;
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')') + 2;	/* field 3 */
	for (int f = 3; f < 48 && p != NULL; f++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	return p != NULL ? strtoul(p, NULL, 10) : 0;
}

#endif
