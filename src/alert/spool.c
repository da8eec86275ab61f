/* The spool directory <state>/spool, root:<alerter group> 02770: the
 * monitor (root) writes entries, the alerter (its group, set-gid
 * directory) reads and removes them. Names sort by time:
 *   <13-digit ms>-<seq>-<sink>.json      one alert
 *   <13-digit ms>-digest-<sink>.json     the alerts past spool_max
 * Entries being written start with '.', which the alerter skips; so
 * does the digest the monitor is still adding to,
 * .overflow-<sink>.json, until the monitor releases it. */
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

/* {"v":1,"sink":...,"event":...[,"digest":...]} as one string (owned
 * by the returned object). */
static json_object *
spool_doc(const char *sink, json_object *ev, json_object *digest)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "sink", json_object_new_string(sink));
	json_object_object_add(o, "event", json_object_get(ev));
	if (digest != NULL)
		json_object_object_add(o, "digest", json_object_get(digest));
	return o;
}

/* doc into tmp, fsync, rename to name (flags: renameat2's), fsync of
 * the directory: a name never shows a half-written entry. */
static int
spool_write(int dfd, json_object *doc, const char *tmp, const char *name,
    unsigned flags)
{
	size_t len;
	const char *js = json_object_to_json_string_length(doc,
	    JSON_C_TO_STRING_PLAIN, &len);
	int fd, r = -1;

	unlinkat(dfd, tmp, 0);	/* a leftover of a crash */
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0640)) < 0)
		return -1;
	/* fchmod: the service's UMask=0077 would hide it from the group */
	if (fchmod(fd, 0640) == 0 && write(fd, js, len) == (ssize_t)len &&
	    fsync(fd) == 0 &&
	    renameat2(dfd, tmp, dfd, name, flags) == 0 && fsync(dfd) == 0)
		r = 0;
	close(fd);
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

/* <13-digit ms>-<what>-<sink>.json. Wall clock: the spool outlives a
 * reboot and must stay in order. */
static void
spool_name(char *name, size_t namelen, const char *what, const char *sink,
    uint64_t later_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, namelen, "%013llu-%s-%s.json",
	    (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)
	    ts.tv_nsec / 1000000 + later_ms, what, sink);
}

/* Write one entry durably. The name goes to name (for the log). */
int
spool_push(int dfd, const char *sink, uint64_t seq, json_object *ev,
    char *name, size_t namelen)
{
	json_object *o = spool_doc(sink, ev, NULL);
	char tmp[96], num[16];
	int r;

	snprintf(num, sizeof(num), "%06llu", (unsigned long long)seq % 1000000);
	spool_name(name, namelen, num, sink, 0);
	snprintf(tmp, sizeof(tmp), ".%s", name);
	r = spool_write(dfd, o, tmp, name, RENAME_NOREPLACE);
	json_object_put(o);
	return r;
}

/* The digest of what did not fit, written durably under a name the
 * alerter skips: replaced each time it grows, until released. */
int
spool_hold(int dfd, const char *sink, json_object *ev, json_object *digest)
{
	json_object *o = spool_doc(sink, ev, digest);
	char tmp[64], name[64];
	int r;

	snprintf(tmp, sizeof(tmp), ".overflow-%s.tmp", sink);
	snprintf(name, sizeof(name), ".overflow-%s.json", sink);
	r = spool_write(dfd, o, tmp, name, 0);
	json_object_put(o);
	return r;
}

/* Hand the held digest to the alerter: renamed to a ready name. 0, or
 * -1 (ENOENT: none held). */
int
spool_release(int dfd, const char *sink, char *name, size_t namelen)
{
	char held[64];

	snprintf(held, sizeof(held), ".overflow-%s.json", sink);
	for (uint64_t later = 0; later < 100; later++) {
		spool_name(name, namelen, "digest", sink, later);
		if (renameat2(dfd, held, dfd, name, RENAME_NOREPLACE) == 0)
			return fsync(dfd);
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* The ready entries of one sink, or -1. */
long
spool_count(int dfd, const char *sink)
{
	struct strlist l = { 0 };
	long n = 0;

	if (spool_list(dfd, &l) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++)
		n += strcmp(spool_sink(l.v[i]), sink) == 0;
	strlist_free(&l);
	return n;
}

/* A digest made by the monitor (spool_release), not a single alert. */
int
spool_is_digest(const char *name)
{
	return strstr(name, "-digest-") != NULL;
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
	return spool_load_entry(dfd, name, NULL);
}

/* The same, and in *digest (when asked) the entry's digest part: a new
 * reference, or NULL for a single alert. */
json_object *
spool_load_entry(int dfd, const char *name, json_object **digest)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	char *buf = NULL;
	json_object *o = NULL, *ev = NULL, *v;
	struct stat st;

	if (digest != NULL)
		*digest = NULL;
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
	if (digest != NULL)
		*digest = ev != NULL && json_object_object_get_ex(o, "digest",
		    &v) && json_object_is_type(v, json_type_object) ?
		    json_object_get(v) : NULL;
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
