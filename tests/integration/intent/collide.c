/* Openers whose thread ids share a slot of a 256-entry cache keyed by
 * tid: `collide READ_PATH WRITE_PATH SECONDS K` forks until it has K
 * readers and K writers whose pids are equal modulo 256 (the others
 * exit at once), says "ready", and after a line on stdin, for SECONDS,
 * each reader opens READ_PATH O_RDONLY and each writer WRITE_PATH
 * O_WRONLY|O_APPEND, over and over. Prints "reads R readfail F writes W
 * writefail D" (F: reads refused, W: writes that got an fd) and exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct tally {
	long	 reads, readfail, writes, writefail;
};

static double
collide_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
collide_run(const char *path, int write, double secs, struct tally *t)
{
	double end = collide_now() + secs;

	while (collide_now() < end) {
		int fd = open(path, write ? O_WRONLY | O_APPEND : O_RDONLY);

		if (fd >= 0)
			close(fd);
		if (write)
			__atomic_add_fetch(fd >= 0 ? &t->writes : &t->writefail,
			    1, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(fd >= 0 ? &t->reads : &t->readfail,
			    1, __ATOMIC_RELAXED);
	}
}

int
main(int argc, char **argv)
{
	struct tally *t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int go[2], k, have = 0, slot = -1;

	if (argc != 5 || t == MAP_FAILED || pipe(go) < 0)
		return 2;
	k = atoi(argv[4]);
	for (int tries = 0; have < 2 * k && tries < 200000; tries++) {
		pid_t p = fork();

		if (p < 0)
			return 2;
		if (p == 0) {
			int mine;

			close(go[1]);
			if (read(go[0], &mine, sizeof(mine)) != sizeof(mine))
				_exit(0);	/* not in the slot */
			collide_run(argv[mine % 2 ? 2 : 1], mine % 2,
			    atof(argv[3]), t);
			_exit(0);
		}
		if (slot < 0)
			slot = p % 256;
		if (p % 256 == slot) {
			/* one pipe, one word each: a child reads its role
			 * only after every role is written */
			have++;
			continue;
		}
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
	}
	printf("ready\n");
	fflush(stdout);
	if (getchar() == EOF)
		return 2;
	for (int i = 0; i < have; i++)
		if (write(go[1], &i, sizeof(i)) != sizeof(i))
			return 2;
	close(go[1]);
	while (wait(NULL) > 0)
		;
	printf("reads %ld readfail %ld writes %ld writefail %ld\n", t->reads,
	    t->readfail, t->writes, t->writefail);
	return 0;
}
