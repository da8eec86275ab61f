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
 * answered at once by the permission thread (same thread group).
 *
 * Every restore ends by reading back what it made and comparing it with
 * the baseline (owner, mode, security xattrs, a link's target): only an
 * equal result is a success. A security xattr that was added cannot
 * always be removed in place (security.* needs CAP_SYS_ADMIN, which the
 * monitor does not keep): then a file is replaced by a fresh copy from
 * the vault, which has exactly the baseline's attributes, and a symlink
 * by a new one. Directories and symlinks are made again the same way as
 * files: under a temporary name or, for a directory, in place with
 * mode 0700 until its owner and mode are set. */
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

#include "core/compare.h"
#include "core/hash.h"
#include "core/util.h"
#include "core/vault.h"
#include "monitor/restore.h"

#define RESTORE_TMP_TRIES	16
/* What a restore must bring back besides content */
#define RESTORE_ATTRS	(CMP_MODE | CMP_UID | CMP_GID | CMP_XATTRS | \
	CMP_TARGET)

/* The first reason a step failed, kept (later ones add nothing). */
static void
restore_why(char **why, const char *what, const char *name, int err)
{
	if (why != NULL && *why == NULL)
		*why = name != NULL ? xasprintf("%s %s: %s", what, name,
		    strerror(err)) : xasprintf("%s: %s", what, strerror(err));
}

/* An xattr set on fd, or through its /proc link for an O_PATH fd (a
 * symlink: the link leads to the symlink itself). */
static int
restore_setx(int fd, int opath, const char *name, const void *v, size_t n)
{
	char proc[64];

	if (!opath)
		return fsetxattr(fd, name, v, n, 0);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return setxattr(proc, name, v, n, 0);
}

static ssize_t
restore_listx(int fd, int opath, char *buf, size_t n)
{
	char proc[64];

	if (!opath)
		return flistxattr(fd, buf, n);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return listxattr(proc, buf, n);
}

static int
restore_removex(int fd, int opath, const char *name)
{
	char proc[64];

	if (!opath)
		return fremovexattr(fd, name);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return removexattr(proc, name);
}

/* Apply the canonical "name\tbase64\n" list; the first failure is in
 * *why. */
static int
restore_xattrs(int fd, int opath, const char *canon, char **why)
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
		if (restore_setx(fd, opath, l, val, n) < 0) {
			restore_why(why, "set", l, errno);
			r = -1;
		}
		free(val);
	}
	free(copy);
	return r;
}

/* What of b's attributes (owner, mode, security xattrs, and for a
 * symlink its target) the object name in dfd does not have now, as
 * compare bits; the type differing is CMP_TYPE. */
static unsigned
restore_differs(int dfd, const char *name, const struct entry *b,
    unsigned care)
{
	struct entry now = { .path = b->path };
	struct stat st;
	char target[4097];
	ssize_t n;
	unsigned w;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return CMP_TYPE;
	entry_from_stat(&now, &st);
	if (now.type != b->type)
		return CMP_TYPE;
	if (now.type == ENTRY_SYMLINK &&
	    (n = readlinkat(dfd, name, target, sizeof(target) - 1)) >= 0) {
		target[n] = '\0';
		now.target = target;
	}
	entry_read_xattrs_at(&now, dfd, name);
	w = compare_entry(&now, b) & care;
	free(now.xattrs);
	return w;
}

/* Compare the result with the baseline: 0, or -1 with what differs. */
static int
restore_verify(int dfd, const char *name, const struct entry *b,
    unsigned care, char **why)
{
	unsigned w = restore_differs(dfd, name, b, care);
	char list[128] = "";

	if (w == 0)
		return 0;
	for (unsigned bit = 1; bit <= CMP_NLINK; bit <<= 1)
		if (w & bit)
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), "%s%s", list[0] ? ", " : "",
			    compare_what_name(bit));
	if (why != NULL && *why != NULL) {
		char *more = xasprintf("still not the baseline's: %s (%s)",
		    list, *why);

		free(*why);
		*why = more;
	} else if (why != NULL)
		*why = xasprintf("still not the baseline's: %s", list);
	return -1;
}

/* Owner, mode and xattrs of the copy just written: fd must be that
 * copy (a regular file with one link, which O_EXCL made ours). */
static int
restore_meta(int fd, const struct entry *b, char **why)
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
	/* Not fatal here: a label this kernel's LSM does not know (a
	 * baseline from an SELinux host on one without) must not keep the
	 * trusted content from coming back; the check after the rename
	 * says restore-failed, with this reason. */
	restore_xattrs(fd, 0, b->xattrs, why);
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

/* A random temporary name for dfd (40 bytes). */
static int
restore_tmp_name(char *tmp, size_t len)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[8];
	char suffix[sizeof(r) + 1];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (size_t k = 0; k < sizeof(r); k++)
		suffix[k] = abc[r[k] % (sizeof(abc) - 1)];
	suffix[sizeof(r)] = '\0';
	snprintf(tmp, len, RESTORE_TMP_PREFIX "%s", suffix);
	return 0;
}

/* A new temporary file in dfd: random name, O_EXCL, never a link. */
static int
restore_tmp(struct restore_job *j)
{
	for (int i = 0; i < RESTORE_TMP_TRIES; i++) {
		if (restore_tmp_name(j->tmp, sizeof(j->tmp)) < 0)
			return -1;
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
	/* non-blocking, and a regular file only: a FIFO swapped into the
	 * vault must never hang the worker */
	int fd = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	struct stat st;

	free(src);
	free(vault);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	/* of the baseline's size, or it is not the copy: never copied
	 * (a huge file there would fill the protected directory's
	 * filesystem while every other restore waits) */
	if (fd >= 0 && (uint64_t)st.st_size != b->size) {
		close(fd);
		errno = EBADMSG;
		return -1;
	}
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
	char *xwhy = NULL;
	int dirfd, r;

	if (!b->has_sha || !b->vault) {
		*why = xstrdup("no trusted copy in the vault");
		return -1;
	}
	if ((j.in = restore_vault_open(s, b)) < 0)
		return restore_fail(&j, why, errno == EBADMSG ? "vault copy "
		    "does not match the baseline" : "vault", errno);
	if ((j.dfd = fdpath_open_parent(b->path, &name, fn, arg, why)) < 0)
		return restore_fail(&j, why, "directory", errno);
	if (restore_tmp(&j) < 0)
		return restore_fail(&j, why, "temporary file", errno);
	if (hash_fd(j.in, s->xxh_secret, HASH_SHA, j.out, b->size, &hr) < 0 ||
	    memcmp(hr.sha, b->sha, sizeof(hr.sha)) != 0)
		return restore_fail(&j, why, "vault copy does not match the "
		    "baseline", EBADMSG);
	if (restore_meta(j.out, b, &xwhy) < 0 || fsync(j.out) < 0 ||
	    renameat(j.dfd, j.tmp, j.dfd, name) < 0) {
		free(xwhy);
		return restore_fail(&j, why, "restore", errno);
	}
	j.tmp[0] = '\0';	/* renamed: nothing to remove */
	if (!restore_landed(&j, name)) {
		free(xwhy);
		return restore_fail(&j, why, "restore", ESTALE);
	}
	if ((dirfd = openat(j.dfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) >= 0) {
		fsync(dirfd);
		close(dirfd);
	}
	r = restore_verify(j.dfd, name, b, RESTORE_ATTRS, &xwhy);
	if (r < 0 && *why == NULL)
		*why = xwhy;
	else
		free(xwhy);
	close(j.out);
	close(j.in);
	close(j.dfd);
	return r;
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

/* Remove security xattrs and ACLs the baseline does not have (an ACL,
 * a security.* name added); the first failure is in *why. */
static void
restore_drop_xattrs(int fd, int opath, const struct entry *b, char **why)
{
	static __thread char list[65536];
	ssize_t len = restore_listx(fd, opath, list, sizeof(list));

	if (len < 0)
		restore_why(why, "list xattrs", NULL, errno);
	for (char *p = list; len > 0 && p < list + len; p += strlen(p) + 1)
		if ((strncmp(p, "security.", 9) == 0 ||
		    strncmp(p, "system.posix_acl_", 17) == 0) &&
		    !restore_has_xattr(b->xattrs, p) &&
		    restore_removex(fd, opath, p) < 0)
			restore_why(why, "remove", p, errno);
}

/* The object at b's path, opened in its verified directory (*dfd, the
 * caller closes it) without following a link: a regular file or a
 * directory for reading (O_NONBLOCK: a FIFO put there cannot hold the
 * worker), a symlink as O_PATH. -1 with *why if it is not of b's type. */
static int
restore_open_obj(const struct entry *b, fdpath_expect_fn fn, void *arg,
    int *dfd, const char **name, char **why)
{
	int flags = b->type == ENTRY_SYMLINK ? O_PATH | O_NOFOLLOW :
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    (b->type == ENTRY_DIR ? O_DIRECTORY : 0), fd;
	struct stat st;
	struct entry now = { 0 };

	if ((*dfd = fdpath_open_parent(b->path, name, fn, arg, why)) < 0)
		return -1;
	/* a FIFO or device is never opened: its type is looked at first */
	if (fstatat(*dfd, *name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		entry_from_stat(&now, &st);
		if (now.type != b->type) {
			*why = xasprintf("a %s now, not the recorded %s",
			    entry_type_name(now.type), entry_type_name(b->type));
			close(*dfd);
			return -1;
		}
	}
	if ((fd = openat(*dfd, *name, flags | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) < 0) {
		*why = xasprintf("open: %s", errno == ELOOP ?
		    "a symbolic link now" : strerror(errno));
		if (fd >= 0)
			close(fd);
		close(*dfd);
		return -1;
	}
	entry_from_stat(&now, &st);
	if (now.type != b->type) {
		*why = xasprintf("a %s now, not the recorded %s",
		    entry_type_name(now.type), entry_type_name(b->type));
		close(fd);
		close(*dfd);
		return -1;
	}
	return fd;
}

/* Owner, mode and (xattrs) security xattrs of fd (an object of b's
 * type) set to b's; the first failure in *why. */
static void
restore_set_attrs(int fd, const struct entry *b, int xattrs, char **why)
{
	int opath = b->type == ENTRY_SYMLINK;

	if (xattrs)
		restore_drop_xattrs(fd, opath, b, why);
	/* on the fd's own object: for a symlink, the link itself */
	if (fchownat(fd, "", b->uid, b->gid, AT_EMPTY_PATH |
	    AT_SYMLINK_NOFOLLOW) < 0)
		restore_why(why, "chown", NULL, errno);
	if (!opath && fchmod(fd, b->mode) < 0)
		restore_why(why, "chmod", NULL, errno);
	if (xattrs)
		restore_xattrs(fd, opath, b->xattrs, why);
}

/* Owner, mode and security xattrs back, through the object's own fd,
 * then read back. What cannot be undone in place (a security.* xattr
 * added: removing it needs CAP_SYS_ADMIN) is undone by replacing the
 * object: a regular file by a copy from the vault, a symlink by a new
 * one. Returns 0 (restored in place), 1 (replaced: a new inode), or -1
 * with *why. */
int
restore_attrs(const struct state *s, const struct entry *b,
    fdpath_expect_fn fn, void *arg, char **why)
{
	const char *name;
	char *inplace = NULL, *other = NULL;
	int dfd, fd, r;

	if (b->type != ENTRY_FILE && b->type != ENTRY_DIR &&
	    b->type != ENTRY_SYMLINK) {
		*why = xasprintf("a %s: attributes are not restored",
		    entry_type_name(b->type));
		return -1;
	}
	if ((fd = restore_open_obj(b, fn, arg, &dfd, &name, why)) < 0)
		return -1;
	restore_set_attrs(fd, b, 1, &inplace);
	close(fd);
	r = restore_verify(dfd, name, b, RESTORE_ATTRS, &inplace);
	close(dfd);
	if (r == 0) {
		free(inplace);
		return 0;
	}
	if (b->type == ENTRY_FILE)
		r = restore_file(s, b, fn, arg, &other);
	else if (b->type == ENTRY_SYMLINK)
		r = restore_symlink(b, fn, arg, &other);
	if (r == 0) {
		free(inplace);
		return 1;
	}
	*why = other == NULL ? inplace : xasprintf("%s; and no replacement: "
	    "%s", inplace, other);
	if (other != NULL)
		free(inplace);
	free(other);
	return -1;
}

/* Make the symlink b again: created under a temporary name in its
 * verified directory, given its owner (and security xattrs), renamed
 * over whatever has its name (not a directory), then read back. */
int
restore_symlink(const struct entry *b, fdpath_expect_fn fn, void *arg,
    char **why)
{
	const char *name;
	char tmp[40];
	int dfd, fd, r = -1;

	if (b->type != ENTRY_SYMLINK || b->target == NULL) {
		*why = xstrdup("no recorded link target");
		return -1;
	}
	if ((dfd = fdpath_open_parent(b->path, &name, fn, arg, why)) < 0)
		return -1;
	for (int i = 0; r < 0 && i < RESTORE_TMP_TRIES; i++)
		if (restore_tmp_name(tmp, sizeof(tmp)) < 0 ||
		    ((r = symlinkat(b->target, dfd, tmp)) < 0 &&
		    errno != EEXIST))
			break;
	if (r < 0) {
		restore_why(why, "symlink", NULL, errno);
		close(dfd);
		return -1;
	}
	if ((fd = openat(dfd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		restore_set_attrs(fd, b, 1, NULL);
		close(fd);
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		restore_why(why, "rename", NULL, errno);
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return -1;
	}
	r = restore_verify(dfd, name, b, RESTORE_ATTRS, why);
	close(dfd);
	return r;
}

/* Make the directory b again, empty, where nothing has its name: made
 * 0700 (nobody else can enter it before it is ready), then given its
 * owner, mode and xattrs through its own fd, then read back. care: the
 * attributes that must match (a directory above the baseline's has no
 * recorded xattrs). Its (device, inode) in *dev, *ino. */
int
restore_dir(const struct entry *b, unsigned care, fdpath_expect_fn fn,
    void *arg, uint64_t *dev, uint64_t *ino, char **why)
{
	const char *name;
	struct stat st;
	int dfd, fd, r;

	if ((dfd = fdpath_open_parent(b->path, &name, fn, arg, why)) < 0)
		return -1;
	if (mkdirat(dfd, name, 0700) < 0) {
		restore_why(why, "mkdir", NULL, errno);
		close(dfd);
		return -1;
	}
	/* still the one just made: ours, 0700, nobody could swap it */
	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 ||
	    st.st_uid != geteuid() || (st.st_mode & 07777) != 0700) {
		restore_why(why, "mkdir", NULL, fd < 0 ? errno : ESTALE);
		if (fd >= 0)
			close(fd);
		close(dfd);
		return -1;
	}
	restore_set_attrs(fd, b, (care & CMP_XATTRS) != 0, why);
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	close(fd);
	r = restore_verify(dfd, name, b, care, why);
	close(dfd);
	return r;
}
