/* Unit tests for src/core/fdpath.c: paths opened one directory at a
 * time. Paths longer than PATH_MAX, recorded directories verified and
 * never reached through a link (from the first recorded one on), the
 * chain's fd bound and its verified reopening, reasons that name the
 * directory. Runs in a scratch directory under /tmp. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fdpath.h"
#include "core/util.h"

static char base[64];

/* mkdir -p of n levels named like fmt%d below dir; returns the path. */
static char *
mkdeep(const char *dir, int n, const char *prefix)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	char *path = xstrdup(dir);

	assert_true(fd >= 0);
	for (int i = 0; i < n; i++) {
		char name[NAME_MAX + 1], *p;
		int nfd;

		snprintf(name, sizeof(name), "%s%03d", prefix, i);
		assert_int_equal(mkdirat(fd, name, 0755), 0);
		nfd = openat(fd, name, O_RDONLY | O_DIRECTORY);
		assert_true(nfd >= 0);
		close(fd);
		fd = nfd;
		p = xasprintf("%s/%s", path, name);
		free(path);
		path = p;
	}
	close(fd);
	return path;
}

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
same_as_path(int fd, const char *path)
{
	struct stat a, b;

	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(path, &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

/* One recorded directory, for the expect callback. */
struct rec {
	const char	*path;
	uint64_t	 dev, ino;
};

static int
rec_fn(void *arg, const char *dir, uint64_t *dev, uint64_t *ino)
{
	const struct rec *r = arg;

	if (strcmp(dir, r->path) != 0)
		return 0;
	*dev = r->dev;
	*ino = r->ino;
	return 1;
}

static struct rec
record(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (struct rec){ path, st.st_dev, st.st_ino };
}

static int
setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/fimguard-fdpath-XXXXXX");
	assert_non_null(mkdtemp(base));
	return 0;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", base);

	(void)state;
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static void
test_beyond_path_max(void **state)
{
	char *deep = mkdeep(base, 130, "level-directory-name-of-forty-chars-"),
	    *file = xasprintf("%s/f", deep), *why = NULL;
	const char *name;
	struct fdpath c;
	int fd, dfd;

	(void)state;
	assert_true(strlen(file) > PATH_MAX);
	fdpath_init(&c, NULL, NULL);
	dfd = fdpath_parent(&c, file, &name, &why);
	assert_true(dfd >= 0);
	assert_string_equal(name, "f");
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	fdpath_close(&c);
	/* one-shot, for a file */
	fd = fdpath_openat(file, O_RDONLY | O_NOFOLLOW, NULL, NULL, &why);
	assert_true(fd >= 0);
	assert_null(why);
	close(fd);
	free(file);
	free(deep);
}

static void
test_chain_bounds_fds_and_climbs_back(void **state)
{
	char *deep = mkdeep(base, 70, "c"), *mid, *why = NULL;
	int before = open_fds(), fd;
	struct fdpath c;

	(void)state;
	fdpath_init(&c, NULL, NULL);
	fd = fdpath_dir(&c, deep, strlen(deep), &why);
	assert_true(fd >= 0);
	same_as_path(fd, deep);
	assert_true(open_fds() - before <= 34);	/* "/" + FDPATH_KEEP */
	/* back up to a level whose fd was closed: opened again */
	mid = xasprintf("%s/c000/c001/c002", base);
	fd = fdpath_dir(&c, mid, strlen(mid), &why);
	assert_true(fd >= 0);
	same_as_path(fd, mid);
	/* a sibling subtree shares the prefix */
	assert_int_equal(mkdirat(fd, "side", 0755), 0);
	free(mid);
	mid = xasprintf("%s/c000/c001/c002/side", base);
	fd = fdpath_dir(&c, mid, strlen(mid), &why);
	assert_true(fd >= 0);
	same_as_path(fd, mid);
	assert_null(why);
	fdpath_close(&c);
	assert_int_equal(open_fds(), before);
	free(mid);
	free(deep);
}

static void
test_reopen_verifies(void **state)
{
	char *deep = mkdeep(base, 70, "r"), *lvl = xasprintf("%s/r000/r001",
	    base), *moved = xasprintf("%s/moved", base), *up, *why = NULL;
	struct fdpath c;

	(void)state;
	fdpath_init(&c, NULL, NULL);
	assert_true(fdpath_dir(&c, deep, strlen(deep), &why) >= 0);
	/* a closed level is replaced by another directory of that name */
	assert_int_equal(rename(lvl, moved), 0);
	assert_int_equal(mkdir(lvl, 0755), 0);
	up = xasprintf("%s/r000/r001/r002", base);
	assert_int_equal(mkdir(up, 0755), 0);
	assert_int_equal(fdpath_dir(&c, up, strlen(up), &why), -1);
	assert_int_equal(errno, ESTALE);
	assert_non_null(strstr(why, "r000/r001: not the recorded directory"));
	fdpath_close(&c);
	free(why);
	free(up);
	free(moved);
	free(lvl);
	free(deep);
}

static void
test_recorded_directory_swapped_for_a_link(void **state)
{
	char *home = xasprintf("%s/home", base), *ssh = xasprintf("%s/.ssh",
	    home), *other = xasprintf("%s/rootssh", base),
	    *file = xasprintf("%s/key", ssh), *old = xasprintf("%s/.ssh.old",
	    home), *why = NULL;
	const char *name;
	struct rec r;
	int fd;

	(void)state;
	assert_int_equal(mkdir(home, 0755), 0);
	assert_int_equal(mkdir(ssh, 0700), 0);
	assert_int_equal(mkdir(other, 0700), 0);
	r = record(ssh);
	fd = fdpath_open_parent(file, &name, rec_fn, &r, &why);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(rename(ssh, old), 0);
	assert_int_equal(symlink(other, ssh), 0);
	/* without a record, a link is followed like in any lookup */
	fd = fdpath_open_parent(file, &name, NULL, NULL, &why);
	assert_true(fd >= 0);
	same_as_path(fd, other);
	close(fd);
	/* recorded: refused, and the reason says what is there now */
	assert_int_equal(fdpath_open_parent(file, &name, rec_fn, &r, &why), -1);
	assert_int_equal(errno, ELOOP);
	assert_non_null(strstr(why, "/home/.ssh: a symbolic link now"));
	free(why);
	why = NULL;
	/* another real directory in its place: not the recorded one */
	assert_int_equal(unlink(ssh), 0);
	assert_int_equal(mkdir(ssh, 0700), 0);
	assert_int_equal(fdpath_open_parent(file, &name, rec_fn, &r, &why), -1);
	assert_int_equal(errno, ESTALE);
	assert_non_null(strstr(why, "not the recorded directory"));
	free(why);
	free(old);
	free(file);
	free(other);
	free(ssh);
	free(home);
}

static void
test_no_link_below_the_first_recorded(void **state)
{
	char *top = xasprintf("%s/top", base), *real = xasprintf("%s/real",
	    top), *link = xasprintf("%s/link", top), *why = NULL;
	struct rec r;
	struct fdpath c;

	(void)state;
	assert_int_equal(mkdir(top, 0755), 0);
	assert_int_equal(mkdir(real, 0755), 0);
	assert_int_equal(symlink("real", link), 0);
	r = record(top);
	fdpath_init(&c, rec_fn, &r);
	assert_true(fdpath_dir(&c, real, strlen(real), &why) >= 0);
	/* link has no record of its own, but lies below a recorded one */
	assert_int_equal(fdpath_dir(&c, link, strlen(link), &why), -1);
	assert_int_equal(errno, ELOOP);
	fdpath_close(&c);
	free(why);
	free(link);
	free(real);
	free(top);
}

static void
test_bad_paths(void **state)
{
	const char *bad[] = { "/a/./b", "/a/../b", "/a//b", "a/../b", "./a",
	    "a//b" };
	char *why = NULL;
	const char *name;
	struct fdpath c;

	(void)state;
	fdpath_init(&c, NULL, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(fdpath_dir(&c, bad[i], strlen(bad[i]), &why),
		    -1);
		assert_int_equal(errno, EINVAL);
		free(why);
		why = NULL;
	}
	assert_int_equal(fdpath_parent(&c, "/a/", &name, &why), -1);
	free(why);
	fdpath_close(&c);
}

/* fimguard's own files may be named relative to the current directory
 * (-c, -p, -s): the chain then starts there. */
static void
test_relative(void **state)
{
	char *sub = xasprintf("%s/sub", base), *why = NULL, cwd[PATH_MAX];
	const char *name;
	struct fdpath c;
	int fd;

	(void)state;
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(base), 0);
	fdpath_init(&c, NULL, NULL);
	fd = fdpath_parent(&c, "sub/file", &name, &why);
	assert_true(fd >= 0);
	assert_string_equal(name, "file");
	same_as_path(fd, sub);
	fd = fdpath_parent(&c, "file", &name, &why);
	assert_true(fd >= 0);
	same_as_path(fd, base);
	/* and an absolute path after a relative one */
	fd = fdpath_dir(&c, sub, strlen(sub), &why);
	assert_true(fd >= 0);
	same_as_path(fd, sub);
	assert_null(why);
	fdpath_close(&c);
	assert_int_equal(chdir(cwd), 0);
	free(sub);
}

static void
test_show(void **state)
{
	char long_path[2000], *s;

	(void)state;
	s = fdpath_show("/a\nb");	/* the log and json-c escape */
	assert_string_equal(s, "/a\nb");
	free(s);
	memset(long_path, 'x', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	memcpy(long_path + sizeof(long_path) - 6, "/tail", 5);
	s = fdpath_show(long_path);
	assert_true(strlen(s) <= 400);
	assert_non_null(strstr(s, "..."));
	assert_int_equal(strcmp(s + strlen(s) - 5, "/tail"), 0);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_beyond_path_max, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_chain_bounds_fds_and_climbs_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_verifies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_recorded_directory_swapped_for_a_link, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_no_link_below_the_first_recorded, setup, teardown),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test_setup_teardown(test_relative, setup, teardown),
		cmocka_unit_test(test_show),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
