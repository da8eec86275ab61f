/* The 32-bit truncate calls (built with -m32): i386 truncate (92),
 * ftruncate (93), truncate64 (193), ftruncate64 (194). It opens PATH
 * for writing first (before the monitor starts: a writer that was
 * already there), says "ready", waits for a line on stdin, then tries
 * each call and prints "<name> <0 or errno>" for each. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static void
trunc_report(const char *name, long r)
{
	printf("%s %d\n", name, r == 0 ? 0 : errno);
}

int
main(int argc, char **argv)
{
	char line[16];
	int fd;

	if (argc != 2 || (fd = open(argv[1], O_WRONLY)) < 0)
		return 2;
	printf("ready\n");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 2;
	/* the raw numbers: libc would pick the 64-bit variants itself */
	trunc_report("truncate", syscall(92, argv[1], 1L));
	trunc_report("ftruncate", syscall(93, fd, 1L));
	trunc_report("truncate64", syscall(193, argv[1], 1L, 0L));
	trunc_report("ftruncate64", syscall(194, fd, 1L, 0L));
	return 0;
}
