/* churn DIR N K: creates DIR/c0 .. DIR/c<N-1>, each removed again K
 * creations later (so that about K exist at any moment, long enough
 * for the monitor to watch them), then removes what is left. Fast, so
 * that a test can make 100,000 of them in a few seconds. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	long n, k, i;
	char name[64];
	int dfd, fd;

	if (argc != 4 || (dfd = open(argv[1], O_RDONLY | O_DIRECTORY)) < 0)
		return 2;
	n = atol(argv[2]);
	k = atol(argv[3]);
	for (i = 0; i < n + k; i++) {
		if (i < n) {
			snprintf(name, sizeof(name), "c%ld", i);
			if ((fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL,
			    0644)) < 0)
				return 1;
			close(fd);
		}
		if (i >= k) {
			snprintf(name, sizeof(name), "c%ld", i - k);
			if (unlinkat(dfd, name, 0) < 0)
				return 1;
		}
	}
	return 0;
}
