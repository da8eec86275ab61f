/* Restores, through directory descriptors only. The directory of the
 * path is opened one directory at a time (core/fdpath.c), and every
 * directory that the baseline records (or, above those, that the
 * monitor watches) must still be that (device, inode), opened without
 * following a link: a user who owns the parent of a protected
 * directory (a home, a web root) and swaps that directory for a link
 * to someone else's gets a refusal with the reason, and nothing is
 * written there. Every later step is relative to that one directory
 * fd, so a swap after the check changes nothing either.
 *
 * Content comes from the vault, copied to a temporary file created in
 * that directory (O_EXCL, no link followed) while being hashed: only
 * if the copy's SHA-256 is the baseline's is it given the trusted
 * owner, mode and security xattrs through its own fd, fsynced and
 * renamed over the target within the directory fd (atomic: no reader
 * sees a half-written file), then the directory is fsynced. Attributes
 * are put back through an fd of the file itself, opened in the
 * verified directory without following a link and checked to be a
 * regular file. Runs on the worker: its opens of protected files are
 * answered at once by the permission thread (same thread group). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/util.h"
#include "core/vault.h"
#include "monitor/restore.h"

#define RESTORE_TMP_TRIES	16

/* Apply the canonical "name\tbase64\n" list with fsetxattr. */
static int
restore_xattrs(int fd, const char *canon)
{
	char *copy, *save = NULL;
	int r = 0;

	if (canon == NULL)
		return 0;
	copy = xstrdup(canon);
	for (char *l = strtok_r(copy, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(l, '\t');
		uint8_t *val;
		size_t n;

		if (tab == NULL)
			continue;
		*tab = '\0';
		if (util_b64_decode(tab + 1, &val, &n) < 0)
			continue;
		if (fsetxattr(fd, l, val, n, 0) < 0)
			r = -1;
		free(val);
	}
	free(copy);
	return r;
}

/* Owner, mode and xattrs of the copy just written: fd must be that
 * copy (a regular file with one link, which O_EXCL made ours). */
static int
restore_meta(int fd, const struct entry *b)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		errno = EBADF;
		return -1;
	}
	if (fchown(fd, b->uid, b->gid) < 0 || fchmod(fd, b->mode) < 0)
		return -1;
	/* Best effort: a label this kernel's LSM does not know (a
	 * baseline from an SELinux host on one without) must not keep the
	 * trusted content from coming back. */
	restore_xattrs(fd, b->xattrs);
	return 0;
}

struct restore_job {
	int		 in, out, dfd;
	char		 tmp[40];	/* temporary name in dfd, or "" */
};

static int
restore_fail(struct restore_job *j, char **why, const char *what, int err)
{
	if (why != NULL && *why == NULL)
		*why = xasprintf("%s: %s", what, strerror(err));
	if (j->out >= 0)
		close(j->out);
	if (j->in >= 0)
		close(j->in);
	if (j->tmp[0] != '\0')
		unlinkat(j->dfd, j->tmp, 0);
	if (j->dfd >= 0)
		close(j->dfd);
	return -1;
}

/* A new temporary file in dfd: random name, O_EXCL, never a link. */
static int
restore_tmp(struct restore_job *j)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (int i = 0; i < RESTORE_TMP_TRIES; i++) {
		unsigned char r[8];
		char suffix[sizeof(r) + 1];

		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return -1;
		for (size_t k = 0; k < sizeof(r); k++)
			suffix[k] = abc[r[k] % (sizeof(abc) - 1)];
		suffix[sizeof(r)] = '\0';
		snprintf(j->tmp, sizeof(j->tmp), ".fimguard-restore.%s",
		    suffix);
		j->out = openat(j->dfd, j->tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (j->out >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	j->tmp[0] = '\0';
	return -1;
}

static int
restore_vault_open(const struct state *s, const struct entry *b)
{
	char *vault = state_path(s, "vault"), *src = vault_path(vault, b->sha);
	int fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	free(src);
	free(vault);
	return fd;
}

/* The copy is in place under name: still the file we wrote? */
static int
restore_landed(const struct restore_job *j, const char *name)
{
	struct stat a, b;

	if (fstat(j->out, &a) < 0 ||
	    fstatat(j->dfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Put b back from the vault. fn/arg say what each directory on the
 * way must be; *why says why not (restore-failed). */
int
restore_file(const struct state *s, const struct entry *b,
    fdpath_expect_fn fn, void *arg, char **why)
{
	struct restore_job j = { .in = -1, .out = -1, .dfd = -1 };
	struct hash_result hr;
	const char *name;
	int dirfd;

	if (!b->has_sha || !b->vault) {
		*why = xstrdup("no trusted copy in the vault");
		return -1;
	}
	if ((j.in = restore_vault_open(s, b)) < 0)
		return restore_fail(&j, why, "vault", errno);
	if ((j.dfd = fdpath_open_parent(b->path, &name, fn, arg, why)) < 0)
		return restore_fail(&j, why, "directory", errno);
	if (restore_tmp(&j) < 0)
		return restore_fail(&j, why, "temporary file", errno);
	if (hash_fd(j.in, s->xxh_secret, HASH_SHA, j.out, b->size, &hr) < 0 ||
	    memcmp(hr.sha, b->sha, sizeof(hr.sha)) != 0)
		return restore_fail(&j, why, "vault copy does not match the "
		    "baseline", EBADMSG);
	if (restore_meta(j.out, b) < 0 || fsync(j.out) < 0 ||
	    renameat(j.dfd, j.tmp, j.dfd, name) < 0)
		return restore_fail(&j, why, "restore", errno);
	j.tmp[0] = '\0';	/* renamed: nothing to remove */
	if (!restore_landed(&j, name))
		return restore_fail(&j, why, "restore", ESTALE);
	if ((dirfd = openat(j.dfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) >= 0) {
		fsync(dirfd);
		close(dirfd);
	}
	close(j.out);
	close(j.in);
	close(j.dfd);
	return 0;
}

/* Does the canonical list ("name\tvalue\n"...) hold name? */
static int
restore_has_xattr(const char *canon, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = canon; l != NULL && *l != '\0';) {
		const char *nl = strchr(l, '\n');

		if (strncmp(l, name, n) == 0 && l[n] == '\t')
			return 1;
		l = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* Remove security xattrs the baseline does not have (an ACL added). */
static void
restore_drop_xattrs(int fd, const struct entry *b)
{
	char list[8192];
	ssize_t len = flistxattr(fd, list, sizeof(list));

	for (char *p = list; len > 0 && p < list + len; p += strlen(p) + 1)
		if ((strncmp(p, "security.", 9) == 0 ||
		    strncmp(p, "system.posix_acl_", 17) == 0) &&
		    !restore_has_xattr(b->xattrs, p))
			fremovexattr(fd, p);
}

/* The regular file at b's path, opened in its verified directory
 * without following a link (O_NONBLOCK: a FIFO put there cannot hold
 * the worker), or -1 with *why. */
static int
restore_open_file(const struct entry *b, fdpath_expect_fn fn, void *arg,
    char **why)
{
	const char *name;
	struct stat st;
	int dfd = fdpath_open_parent(b->path, &name, fn, arg, why), fd;

	if (dfd < 0)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	close(dfd);
	if (fd < 0) {
		*why = xasprintf("open: %s", errno == ELOOP ?
		    "a symbolic link now" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why = xstrdup("not a regular file now");
		close(fd);
		return -1;
	}
	return fd;
}

/* Owner, mode and security xattrs back, through the file's own fd. */
int
restore_attrs(const struct entry *b, fdpath_expect_fn fn, void *arg,
    char **why)
{
	int fd, r = 0;

	if (b->type != ENTRY_FILE) {
		*why = xstrdup("not a regular file in the baseline");
		return -1;
	}
	if ((fd = restore_open_file(b, fn, arg, why)) < 0)
		return -1;
	restore_drop_xattrs(fd, b);
	if (fchown(fd, b->uid, b->gid) < 0 || fchmod(fd, b->mode) < 0 ||
	    restore_xattrs(fd, b->xattrs) < 0) {
		*why = xasprintf("restore attributes: %s", strerror(errno));
		r = -1;
	}
	close(fd);
	return r;
}
