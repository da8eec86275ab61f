/* State directory handling. Keys are created once per install, mode
 * 0600, written like the baseline (a temporary file, fsync, rename,
 * fsync of the directory) so that a crash never leaves half a key, and
 * refused on load unless they are regular files of the exact size: a
 * truncated or swapped key must not silently become a weaker one. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"

char *
state_path(const struct state *s, const char *name)
{
	return xasprintf("%s/%s", s->dir, name);
}

int
state_fsync_dir(const char *dir)
{
	return file_sync_dir(dir);
}

/* mkdir -p; only the last component gets mode, parents get 0755. */
int
state_mkdirs(const char *path, mode_t mode)
{
	char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* create: make the directory (0700) if it does not exist. */
int
state_open(struct state *s, const char *dir, int create)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->lockfd = -1;
	s->dir = xstrdup(dir);
	if (create && state_mkdirs(dir, 0700) < 0) {
		log_warn("%s: cannot create state directory", dir);
		return -1;
	}
	if (stat(dir, &st) < 0) {
		if (create)
			log_warn("%s", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (create)
			log_warnx("%s: not a directory", dir);
		return -1;
	}
	return 0;
}

void
state_close(struct state *s)
{
	if (s->lockfd >= 0)
		close(s->lockfd);
	explicit_bzero(s->xxh_secret, sizeof(s->xxh_secret));
	explicit_bzero(s->hmac_key, sizeof(s->hmac_key));
	free(s->dir);
	s->dir = NULL;
}

/* The lock file, opened read-only (flock needs no more): a write open
 * of fimguard's own file would be one more event for a running
 * monitor. -1 after saying why. */
static int
state_lock_open(struct state *s)
{
	char *path = state_path(s, "lock"), *why = NULL;

	s->lockfd = file_open(path, O_RDONLY | O_NOFOLLOW, 0, &why);
	if (s->lockfd < 0 && errno == ENOENT) {
		free(why);
		s->lockfd = file_open(path, O_RDONLY | O_CREAT | O_NOFOLLOW,
		    0600, &why);
	}
	free(path);
	if (s->lockfd < 0) {
		log_warnx("%s", why);
		free(why);
		return -1;
	}
	return 0;
}

/* One writer at a time (init, approve); readers need no lock because
 * the baseline is replaced atomically. */
int
state_lock(struct state *s)
{
	if (state_lock_open(s) < 0)
		return -1;
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			log_warnx("%s: another fimguard command is changing "
			    "the baseline; waiting", s->dir);
		if (flock(s->lockfd, LOCK_EX) < 0) {
			log_warn("%s: lock", s->dir);
			return -1;
		}
	}
	return 0;
}

/* The writer lock if it is free now: 1 (held: state_unlock), 0 (a
 * command holds it), -1 (said why). For the monitor, which must not
 * wait for an approve that may be waiting for it. */
int
state_trylock(struct state *s)
{
	if (state_lock_open(s) < 0)
		return -1;
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) == 0)
		return 1;
	close(s->lockfd);
	s->lockfd = -1;
	return 0;
}

void
state_unlock(struct state *s)
{
	if (s->lockfd >= 0)
		close(s->lockfd);	/* the flock goes with it */
	s->lockfd = -1;
}

/* Is name a temporary file of a killed run? Ours start with
 * FILE_TMP_PREFIX; "baseline.json.XXXXXX" is the baseline's (and
 * older versions'). Only called with the lock held: no live writer
 * makes these without it. */
static int
state_is_tmp(const char *name, const char *base)
{
	size_t n = strlen(base);

	if (strncmp(name, FILE_TMP_PREFIX, strlen(FILE_TMP_PREFIX)) == 0)
		return 1;
	return base[0] != '\0' && strncmp(name, base, n) == 0 &&
	    name[n] == '.' && strlen(name + n + 1) == 6;
}

static size_t
state_clean_dir(const char *dir, const char *base)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_REG || !state_is_tmp(de->d_name, base))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
		else
			log_warn("%s/%s: cannot remove", dir, de->d_name);
	}
	closedir(d);
	return n;
}

/* Remove what killed runs left: temporary copies of the baseline, of
 * keys and journals, and of vault files, up to a whole baseline each,
 * which would otherwise pile up until the filesystem is full. base is
 * the baseline's file name. Caller holds the lock. */
void
state_clean(struct state *s, const char *base)
{
	char *vault = state_path(s, "vault");
	size_t n = state_clean_dir(s->dir, base) + state_clean_dir(vault, "");

	if (n > 0)
		log_info("%s: removed %zu temporary file%s left by an "
		    "interrupted run", s->dir, n, n == 1 ? "" : "s");
	free(vault);
}

static int
state_key_create(struct state *s, const char *name, uint8_t *key,
    size_t len, char **why)
{
	if (getrandom(key, len, 0) != (ssize_t)len) {
		*why = xasprintf("%s/%s: getrandom: %s", s->dir, name,
		    strerror(errno));
		return -1;
	}
	return file_replace(s->dir, name, key, len, 0600, why);
}

/* Returns a state_key_status; *partial is set when the key is a
 * regular file shorter than a key (a crash while an older version wrote
 * it in place). */
static int
state_key_read(const char *path, uint8_t *key, size_t len, char **why,
    int *partial)
{
	int fd = file_open(path, O_RDONLY | O_NOFOLLOW, 0, why);
	struct stat st;
	ssize_t n;

	*partial = 0;
	if (fd < 0)
		return errno == ENOENT ? STATE_KEYS_MISSING : STATE_KEYS_BAD;
	if (fstat(fd, &st) < 0)
		st.st_size = -1;
	if (st.st_size != (off_t)len) {
		*partial = st.st_size >= 0 && st.st_size < (off_t)len;
		close(fd);
		*why = xasprintf("%s: not a %zu-byte key file", path, len);
		return STATE_KEYS_BAD;
	}
	n = read(fd, key, len);
	close(fd);
	if (n != (ssize_t)len) {
		*why = xasprintf("%s: short read", path);
		return STATE_KEYS_BAD;
	}
	if (st.st_mode & 077)
		log_warnx("%s: key readable by group or others (mode %04o)",
		    path, (unsigned)(st.st_mode & 07777));
	return STATE_KEYS_OK;
}

/* how: STATE_KEYS_CREATE makes a missing key; STATE_KEYS_REPAIR also
 * replaces a partial one (only when no baseline depends on it). */
static int
state_key(struct state *s, const char *name, uint8_t *key, size_t len,
    int how, char **why)
{
	char *path = state_path(s, name);
	int partial, r = state_key_read(path, key, len, why, &partial);

	if ((r == STATE_KEYS_MISSING && (how & STATE_KEYS_CREATE)) ||
	    (r == STATE_KEYS_BAD && partial && (how & STATE_KEYS_REPAIR))) {
		if (r == STATE_KEYS_BAD)
			log_warnx("%s; no baseline uses it: made again", *why);
		free(*why);
		*why = NULL;
		r = state_key_create(s, name, key, len, why) < 0 ?
		    STATE_KEYS_BAD : STATE_KEYS_OK;
	}
	free(path);
	return r;
}

/* Load both keys (creating or repairing them as how says). On failure
 * *why says which key and what is wrong. */
int
state_keys(struct state *s, int how, char **why)
{
	int r;

	*why = NULL;
	r = state_key(s, "xxh.key", s->xxh_secret, sizeof(s->xxh_secret),
	    how, why);
	if (r != STATE_KEYS_OK)
		return r;
	return state_key(s, "hmac.key", s->hmac_key, sizeof(s->hmac_key),
	    how, why);
}
