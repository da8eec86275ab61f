/* The vault. Files are written under a temporary name, fsynced and
 * renamed to their SHA-256, so a name always matches its content;
 * content already present is not written twice. Temporary names start
 * with FILE_TMP_PREFIX: a killed run's are removed by the next command
 * that takes the lock (state_clean). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"
#include "core/vault.h"

char *
vault_path(const char *vault, const uint8_t sha[32])
{
	char hex[65];

	util_hex(sha, 32, hex);
	return xasprintf("%s/%.2s/%s", vault, hex, hex);
}

int
vault_has(const char *vault, const uint8_t sha[32])
{
	char *p = vault_path(vault, sha);
	struct stat st;
	int r = lstat(p, &st) == 0 && S_ISREG(st.st_mode);

	free(p);
	return r;
}

/* Returns an fd open for writing, and the temp path in *tmp. */
int
vault_tmp_open(const char *vault, char **tmp)
{
	int fd;

	if (mkdir(vault, 0700) < 0 && errno != EEXIST)
		return -1;
	*tmp = xasprintf("%s/" FILE_TMP_PREFIX "XXXXXX", vault);
	fd = mkostemp(*tmp, O_CLOEXEC);
	if (fd < 0) {
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
}

void
vault_abort(char *tmp, int fd)
{
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
}

/* Durable before the baseline that names it: fsync the file, rename,
 * fsync the directory. Frees tmp and closes fd in every case. Returns
 * 0, or -1 with errno (the caller says which file it was for). */
int
vault_commit(const char *vault, char *tmp, int fd, const uint8_t sha[32])
{
	char *dst = vault_path(vault, sha), *sub;
	int r = -1, made, err = 0;

	sub = xstrndup(dst, strlen(vault) + 3);
	if (vault_has(vault, sha)) {
		r = 0;
		goto out;
	}
	made = mkdir(sub, 0700) == 0;
	if ((!made && errno != EEXIST) || fsync(fd) < 0 ||
	    rename(tmp, dst) < 0) {
		err = errno;
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if (state_fsync_dir(sub) < 0 || (made && state_fsync_dir(vault) < 0))
		log_warn("%s: fsync", sub);
	r = 0;
out:
	vault_abort(tmp, fd);
	free(sub);
	free(dst);
	errno = err;
	return r;
}
