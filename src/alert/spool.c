/* The spool directory <state>/spool, root:<alerter group> 02770: the
 * monitor (root) writes entries, the alerter (its group, set-gid
 * directory) reads and removes them. Names sort by time:
 *   <13-digit ms>-<seq>-<sink>.json
 * Entries being written start with '.', which the alerter skips. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alert/sink.h"
#include "alert/spool.h"
#include "core/log.h"

#define SPOOL_ENTRY_MAX	(8 << 20)	/* an event with a diff */

static int
spool_mkdir(int at, const char *name, gid_t gid)
{
	int fd;

	if (mkdirat(at, name, 02770) < 0 && errno != EEXIST)
		return -1;
	if ((fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return -1;
	/* set-gid: entries the monitor writes belong to the alerter's
	 * group without a chown per file */
	if (fchown(fd, 0, gid) < 0 || fchmod(fd, 02770) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Creates spool/ and spool/failed/ for group gid; the spool's fd. */
int
spool_open(const char *state_dir, gid_t gid)
{
	int sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, ffd;

	if (sfd < 0)
		return -1;
	fd = spool_mkdir(sfd, SPOOL_DIR, gid);
	close(sfd);
	if (fd < 0 || (ffd = spool_mkdir(fd, SPOOL_FAILED, gid)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(ffd);
	return fd;
}

/* Write one entry durably: temp file, fsync, rename, fsync of the
 * directory. The name goes to name (for the log). */
int
spool_push(int dfd, const char *sink, uint64_t seq, json_object *ev,
    char *name, size_t namelen)
{
	json_object *o = json_object_new_object();
	const char *js;
	char tmp[96];
	size_t len;
	int fd, r = -1;

	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "sink", json_object_new_string(sink));
	json_object_object_add(o, "event", json_object_get(ev));
	js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN,
	    &len);
	struct timespec ts;

	/* wall clock: the spool outlives a reboot and must stay in order */
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, namelen, "%013llu-%06llu-%s.json",
	    (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)
	    ts.tv_nsec / 1000000, (unsigned long long)seq % 1000000, sink);
	snprintf(tmp, sizeof(tmp), ".%s", name);
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0640)) < 0)
		goto out;
	/* fchmod: the service's UMask=0077 would hide it from the group */
	if (fchmod(fd, 0640) == 0 && write(fd, js, len) == (ssize_t)len &&
	    fsync(fd) == 0 &&
	    renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == 0 &&
	    fsync(dfd) == 0)
		r = 0;
	close(fd);
	if (r < 0)
		unlinkat(dfd, tmp, 0);
out:
	json_object_put(o);
	return r;
}

static int
spool_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Ready entries, oldest first. */
int
spool_list(int dfd, struct strlist *out)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && de->d_type == DT_REG &&
		    strlen(de->d_name) < 64 && spool_sink(de->d_name) != NULL)
			strlist_push(out, de->d_name);
	closedir(d);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), spool_cmp);
	return 0;
}

/* The sink an entry is for, from its name ("jira", ...), or NULL. */
const char *
spool_sink(const char *name)
{
	const char *dash = strrchr(name, '-');

	for (int k = 0; dash != NULL && k < SINK_NKINDS; k++) {
		const char *sink = sink_name(k);
		size_t n = strlen(sink);

		if (strncmp(dash + 1, sink, n) == 0 &&
		    strcmp(dash + 1 + n, ".json") == 0)
			return sink;
	}
	return NULL;
}

/* The entry's event (a new reference), or NULL: errno ENOENT (gone),
 * EACCES, EMFILE... (cannot read it now), or EINVAL (not one of ours:
 * the caller moves it to failed/ for the operator). */
json_object *
spool_load(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	char *buf = NULL;
	json_object *o = NULL, *ev = NULL, *v;
	struct stat st;

	if (fd < 0)
		return NULL;
	errno = EINVAL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size <= SPOOL_ENTRY_MAX) {
		buf = xmalloc((size_t)st.st_size + 1);
		if (read(fd, buf, (size_t)st.st_size) == st.st_size) {
			buf[st.st_size] = '\0';
			o = json_tokener_parse(buf);
		}
	}
	close(fd);
	free(buf);
	if (o != NULL && json_object_object_get_ex(o, "v", &v) &&
	    json_object_get_int(v) == 1 &&
	    json_object_object_get_ex(o, "event", &ev) &&
	    json_object_is_type(ev, json_type_object))
		json_object_get(ev);
	else
		ev = NULL;
	json_object_put(o);
	if (ev == NULL)
		errno = EINVAL;
	return ev;
}

int
spool_done(int dfd, const char *name)
{
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return -1;
	return fsync(dfd);
}

int
spool_keep(int dfd, const char *name)
{
	char dst[128];

	snprintf(dst, sizeof(dst), SPOOL_FAILED "/%s", name);
	if (renameat(dfd, name, dfd, dst) < 0)
		return -1;
	return fsync(dfd);
}
