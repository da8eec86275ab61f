/* Restores. Content comes from the vault, copied to a temporary file
 * in the target's directory while being hashed: only if the copy's
 * SHA-256 is the baseline's is it given the trusted owner, mode and
 * security xattrs, fsynced and renamed over the target (atomic: no
 * reader sees a half-written file), then the directory is fsynced.
 * Runs on the worker: its opens of protected files are answered at once
 * by the permission thread (same thread group). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/util.h"
#include "core/vault.h"
#include "monitor/restore.h"

/* Apply the canonical "name\tbase64\n" list with f/lsetxattr. */
static int
restore_xattrs(int fd, const char *path, const char *canon)
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
		if ((fd >= 0 ? fsetxattr(fd, l, val, n, 0) :
		    lsetxattr(path, l, val, n, 0)) < 0)
			r = -1;
		free(val);
	}
	free(copy);
	return r;
}

static int
restore_meta(int fd, const struct entry *b)
{
	if (fchown(fd, b->uid, b->gid) < 0 || fchmod(fd, b->mode) < 0)
		return -1;
	/* Best effort: a label this kernel's LSM does not know (a
	 * baseline from an SELinux host on one without) must not keep the
	 * trusted content from coming back. */
	restore_xattrs(fd, NULL, b->xattrs);
	return 0;
}

static int
restore_fail(char **why, const char *what, int fd, int in, char *tmp)
{
	*why = xasprintf("%s: %s", what, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (in >= 0)
		close(in);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	return -1;
}

int
restore_file(const struct state *s, const struct entry *b, char **why)
{
	char *vault = state_path(s, "vault"), *src, *dir, *tmp;
	struct hash_result hr;
	int in, out, dfd;

	if (!b->has_sha || !b->vault) {
		free(vault);
		*why = xstrdup("no trusted copy in the vault");
		return -1;
	}
	src = vault_path(vault, b->sha);
	free(vault);
	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(src);
	if (in < 0)
		return restore_fail(why, "vault", -1, -1, NULL);
	dir = util_dirname(b->path);
	tmp = xasprintf("%s/.fimguard-restore.XXXXXX", dir);
	if ((out = mkostemp(tmp, O_CLOEXEC)) < 0) {
		free(dir);
		free(tmp);
		return restore_fail(why, "temporary file", -1, in, NULL);
	}
	if (hash_fd(in, s->xxh_secret, HASH_SHA, out, b->size, &hr) < 0 ||
	    memcmp(hr.sha, b->sha, sizeof(hr.sha)) != 0) {
		free(dir);
		errno = EBADMSG;
		return restore_fail(why, "vault copy does not match the "
		    "baseline", out, in, tmp);
	}
	close(in);
	if (restore_meta(out, b) < 0 || fsync(out) < 0 ||
	    rename(tmp, b->path) < 0) {
		free(dir);
		return restore_fail(why, "restore", out, -1, tmp);
	}
	close(out);
	free(tmp);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(dir);
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
restore_drop_xattrs(const struct entry *b)
{
	char list[8192];
	ssize_t len = llistxattr(b->path, list, sizeof(list));

	for (char *p = list; len > 0 && p < list + len; p += strlen(p) + 1)
		if ((strncmp(p, "security.", 9) == 0 ||
		    strncmp(p, "system.posix_acl_", 17) == 0) &&
		    !restore_has_xattr(b->xattrs, p))
			lremovexattr(b->path, p);
}

/* Owner, mode and security xattrs back, by path (no open, no follow). */
int
restore_attrs(const struct entry *b, char **why)
{
	restore_drop_xattrs(b);
	if (lchown(b->path, b->uid, b->gid) < 0 ||
	    (b->type != ENTRY_SYMLINK &&
	    fchmodat(AT_FDCWD, b->path, b->mode, 0) < 0) ||
	    restore_xattrs(-1, b->path, b->xattrs) < 0) {
		*why = xasprintf("restore attributes: %s", strerror(errno));
		return -1;
	}
	return 0;
}
