/* State directory handling. Keys are created once per install with
 * O_EXCL and mode 0600, and refused on load unless they are regular
 * files of the exact size: a truncated or swapped key must not silently
 * become a weaker one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

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
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
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

/* One writer at a time (init, approve); readers need no lock because
 * the baseline is replaced atomically. */
int
state_lock(struct state *s)
{
	char *path = state_path(s, "lock");

	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	free(path);
	if (s->lockfd < 0)
		return -1;
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			log_warnx("%s: another fimguard command is changing "
			    "the baseline; waiting", s->dir);
		if (flock(s->lockfd, LOCK_EX) < 0)
			return -1;
	}
	return 0;
}

static int
state_key_create(const char *path, uint8_t *key, size_t len)
{
	int fd;

	if (getrandom(key, len, 0) != (ssize_t)len)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return -1;
	if (write(fd, key, len) != (ssize_t)len || fsync(fd) < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd);
}

static int
state_key_read(const char *path, uint8_t *key, size_t len, char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	ssize_t n;

	if (fd < 0) {
		*why = xasprintf("%s: %s", path, strerror(errno));
		return errno == ENOENT ? STATE_KEYS_MISSING : STATE_KEYS_BAD;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != (off_t)len) {
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

static int
state_key(struct state *s, const char *name, uint8_t *key, size_t len,
    int create, char **why)
{
	char *path = state_path(s, name);
	int r = state_key_read(path, key, len, why);

	if (r == STATE_KEYS_MISSING && create) {
		free(*why);
		*why = NULL;
		if (state_key_create(path, key, len) < 0) {
			*why = xasprintf("%s: cannot create: %s", path,
			    strerror(errno));
			r = STATE_KEYS_BAD;
		} else
			r = STATE_KEYS_OK;
	}
	free(path);
	return r;
}

/* Load both keys (creating them when create is set). On failure *why
 * says which key and what is wrong. */
int
state_keys(struct state *s, int create, char **why)
{
	int r;

	*why = NULL;
	r = state_key(s, "xxh.key", s->xxh_secret, sizeof(s->xxh_secret),
	    create, why);
	if (r != STATE_KEYS_OK)
		return r;
	r = state_key(s, "hmac.key", s->hmac_key, sizeof(s->hmac_key),
	    create, why);
	if (r == STATE_KEYS_OK && create && state_fsync_dir(s->dir) < 0)
		log_warn("%s: fsync", s->dir);
	return r;
}
