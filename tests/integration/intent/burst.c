/* A burst of concurrent writers: `burst N PATH...` forks N children;
 * each waits for the others, opens PATH[i % count] O_WRONLY|O_APPEND,
 * keeps it open until every child has tried, then closes it. Prints
 * "opened O denied D other X" and exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	int go[2], tried[2], rel[2], n, opened = 0, denied = 0, other = 0;
	char c, line;

	if (argc < 3 || pipe(go) < 0 || pipe(tried) < 0 || pipe(rel) < 0)
		return 2;
	n = atoi(argv[1]);
	for (int i = 0; i < n; i++) {
		pid_t p = fork();

		if (p < 0)
			return 2;
		if (p == 0) {
			int fd;

			close(go[1]);
			close(tried[0]);
			close(rel[1]);
			if (read(go[0], &c, 1) != 0)	/* EOF: all forked */
				_exit(2);
			fd = open(argv[2 + i % (argc - 2)], O_WRONLY | O_APPEND);
			c = fd >= 0 ? 0 : errno == EPERM ? 13 : 2;
			if (write(tried[1], &c, 1) != 1)
				_exit(2);
			close(tried[1]);
			/* hold the fd until every child has tried */
			while (read(rel[0], &line, 1) > 0)
				;
			_exit(c);
		}
	}
	close(go[0]);
	close(tried[1]);
	close(rel[0]);
	close(go[1]);		/* all forked: go */
	for (int i = 0; i < n && read(tried[0], &c, 1) == 1; i++) {
		if (c == 0)
			opened++;
		else if (c == 13)
			denied++;
		else
			other++;
	}
	close(rel[1]);		/* every child tried: let them close */
	while (wait(NULL) > 0)
		;
	printf("opened %d denied %d other %d\n", opened, denied, other);
	return 0;
}
