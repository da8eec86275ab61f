/* Event construction and output. Field names follow the Elastic Common
 * Schema; what ECS has no name for lives under "fimguard". Each event
 * is appended whole or not at all (core/file.c:file_append), so lines
 * from concurrent writers (check from cron, the monitor) never mix and
 * a full disk never leaves half a line. Events that cannot be written
 * are counted; the first one written after them is an events-lost
 * event that says how many and when. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/event.h"
#include "core/file.h"
#include "core/log.h"
#include "core/render.h"
#include "core/state.h"
#include "core/util.h"

#define EVENT_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define ECS_VERSION	"8.11.0"

/* UTC with milliseconds: 2026-11-22T19:30:00.123Z */
void
event_timestamp(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

/* Get or create the nested object "name" of o. */
json_object *
event_obj(json_object *o, const char *name)
{
	json_object *x;

	if (json_object_object_get_ex(o, name, &x))
		return x;
	x = json_object_new_object();
	json_object_object_add(o, name, x);
	return x;
}

void
event_set_str(json_object *o, const char *key, const char *val)
{
	json_object_object_add(o, key, json_object_new_string(val));
}

static const char *
event_type_for(const char *action)
{
	if (strcmp(action, "created") == 0)
		return "creation";
	/* taken out of its directory (quarantined): gone from there */
	if (strcmp(action, "deleted") == 0 ||
	    strcmp(action, "quarantined") == 0)
		return "deletion";
	if (strcmp(action, "scan-failed") == 0 ||
	    strcmp(action, "events-lost") == 0 ||
	    strcmp(action, "package-mismatch") == 0)
		return "info";
	return "change";
}

json_object *
event_new(const char *dataset, const char *action, const char *outcome)
{
	json_object *o = json_object_new_object(), *ev, *arr;
	char ts[64], host[256] = "";

	event_timestamp(ts, sizeof(ts));
	gethostname(host, sizeof(host) - 1);
	event_set_str(o, "@timestamp", ts);
	event_set_str(event_obj(o, "ecs"), "version", ECS_VERSION);
	ev = event_obj(o, "event");
	event_set_str(ev, "kind", strcmp(action, "baseline-approved") == 0 ?
	    "event" : "alert");
	event_set_str(ev, "module", "fimguard");
	event_set_str(ev, "dataset", dataset);
	arr = json_object_new_array();
	json_object_array_add(arr, json_object_new_string("file"));
	json_object_object_add(ev, "category", arr);
	arr = json_object_new_array();
	json_object_array_add(arr,
	    json_object_new_string(event_type_for(action)));
	json_object_object_add(ev, "type", arr);
	event_set_str(ev, "action", action);
	event_set_str(ev, "outcome", outcome);
	event_set_str(event_obj(o, "host"), "hostname", host);
	return o;
}

/* file.path must be valid UTF-8 for every JSON consumer; when the name
 * is not, the field shows it with U+FFFD and b64key (in b64dst) holds
 * the exact bytes. */
static void
event_path_into(json_object *dst, const char *key, json_object *b64dst,
    const char *b64key, const char *path)
{
	char *lossy, *b64;

	if (util_utf8_valid(path, strlen(path))) {
		event_set_str(dst, key, path);
		return;
	}
	lossy = util_utf8_lossy(path);
	b64 = util_b64_encode((const uint8_t *)path, strlen(path));
	event_set_str(dst, key, lossy);
	event_set_str(b64dst, b64key, b64);
	free(lossy);
	free(b64);
}

void
event_put_path(json_object *o, const char *key, const char *path)
{
	char *k = xasprintf("%s_base64", key);

	event_path_into(o, key, o, k, path);
	free(k);
}

char *
event_mode_str(uint32_t mode)
{
	return xasprintf("%04o", (unsigned)mode);
}

static void
event_meta(json_object *f, const struct entry *e)
{
	char *mode = event_mode_str(e->mode), num[32];

	event_set_str(f, "type", e->type == ENTRY_FILE ? "file" :
	    entry_type_name(e->type));
	event_set_str(f, "mode", mode);
	snprintf(num, sizeof(num), "%" PRIu32, e->uid);
	event_set_str(f, "uid", num);
	snprintf(num, sizeof(num), "%" PRIu32, e->gid);
	event_set_str(f, "gid", num);
	if (e->type == ENTRY_FILE)
		json_object_object_add(f, "size",
		    json_object_new_uint64(e->size));
	if (e->type == ENTRY_SYMLINK && e->target != NULL)
		event_put_path(f, "target_path", e->target);
	free(mode);
}

static void
event_sha(json_object *o, const struct entry *e)
{
	char hex[65];

	if (!e->has_sha)
		return;
	util_hex(e->sha, sizeof(e->sha), hex);
	event_set_str(event_obj(o, "hash"), "sha256", hex);
}

/* file.*: the object as it is now. */
void
event_file(json_object *ev, const struct entry *e)
{
	json_object *f = event_obj(ev, "file");
	char num[32];

	event_path_into(f, "path", event_obj(ev, "fimguard"), "path_base64",
	    e->path);
	event_meta(f, e);
	snprintf(num, sizeof(num), "%" PRIu64, e->ino);
	event_set_str(f, "inode", num);
	event_sha(f, e);
}

/* fimguard.baseline.*: the trusted state, flattened so that
 * fimguard.baseline.sha256 is what reports cite. */
void
event_baseline(json_object *ev, const struct entry *b)
{
	json_object *f = event_obj(event_obj(ev, "fimguard"), "baseline");
	char hex[65];

	event_meta(f, b);
	if (b->has_sha) {
		util_hex(b->sha, sizeof(b->sha), hex);
		event_set_str(f, "sha256", hex);
	}
}

void
event_rule(json_object *ev, const char *rule, int severity, int mode)
{
	json_object *fg = event_obj(ev, "fimguard");

	event_set_str(event_obj(ev, "rule"), "name", rule);
	json_object_object_add(event_obj(ev, "event"), "severity",
	    json_object_new_int(conf_severity_ecs(severity)));
	event_set_str(fg, "severity", conf_severity_name(severity));
	event_set_str(fg, "mode", conf_mode_name(mode));
}

/* How often a sink whose file could not be opened tries again. */
#define EVENT_REOPEN_MS	1000

static int
event_sink_try_open(struct event_sink *s)
{
	char *why = NULL, *dir;
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW;

	s->reopen_ms = util_now_ms();
	s->fd = file_open(s->path, flags, 0640, &why);
	if (s->fd < 0 && errno == ENOENT) {
		dir = xstrdup(s->path);
		*strrchr(dir, '/') = '\0';
		if (*dir != '\0' && state_mkdirs(dir, 0750) == 0) {
			free(why);
			s->fd = file_open(s->path, flags, 0640, &why);
		}
		free(dir);
	}
	if (s->fd >= 0) {
		if (s->open_failed)
			log_warnx("%s: events file open again", s->path);
		s->open_failed = 0;
		return 0;
	}
	s->loss->err = errno;
	if (!s->open_failed)	/* once, not at every retry */
		log_warnx("cannot open events file %s", why);
	s->open_failed = 1;
	free(why);
	return s->loss->err == EINVAL ? EVENT_SINK_NOT_FILE :
	    EVENT_SINK_FAILED;
}

/* The file the sink holds was removed (rm, a rotation by a tool that
 * does not copy): what is written to it now would be lost with it. */
static int
event_sink_removed(const struct event_sink *s)
{
	struct stat st;

	return fstat(s->fd, &st) == 0 && st.st_nlink == 0;
}

/* path NULL: no events file. The file is created 0640 (events name
 * paths of secrets, so not world-readable). A FIFO, device or symlink
 * there is refused (EVENT_SINK_NOT_FILE): writing to one would hang or
 * go elsewhere. */
int
event_sink_open(struct event_sink *s, const char *path, int to_stdout)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->to_stdout = to_stdout;
	pthread_mutex_init(&s->own.mu, NULL);
	s->loss = &s->own;
	if (path == NULL)
		return 0;
	s->path = xstrdup(path);
	return event_sink_try_open(s);
}

/* The JSON line of an event, newline included (allocated). */
char *
event_line(json_object *ev, size_t *n)
{
	size_t len;
	const char *js = json_object_to_json_string_length(ev,
	    EVENT_JSON_FLAGS, &len);
	char *line = xmalloc(len + 2);

	memcpy(line, js, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	*n = len + 1;
	return line;
}

static void
event_count_lost(struct event_sink *s, int err)
{
	struct event_loss *l = s->loss;

	if (l->pending == 0) {
		event_timestamp(l->first, sizeof(l->first));
		log_warnx("%s: cannot write events: %s; they are counted "
		    "until writing works again", s->path, strerror(err));
	}
	event_timestamp(l->last, sizeof(l->last));
	l->err = err;
	l->pending++;
	l->total++;
}

/* Write the events-lost event before anything newer. Returns it (for
 * the hook), or NULL when it could not be written either. */
static json_object *
event_tell_lost(struct event_sink *s)
{
	struct event_loss *l = s->loss;
	json_object *ev = event_new("fimguard.events", "events-lost",
	    "failure"), *fg;
	size_t len;
	char *line;

	event_put_path(event_obj(ev, "file"), "path", s->path);
	event_rule(ev, "fimguard-self", CONF_SEV_HIGH, CONF_MODE_ENFORCE);
	fg = event_obj(ev, "fimguard");
	json_object_object_add(fg, "events_lost",
	    json_object_new_uint64(l->pending));
	event_set_str(fg, "lost_first", l->first);
	event_set_str(fg, "lost_last", l->last);
	event_set_str(fg, "error", strerror(l->err));
	line = event_line(ev, &len);
	if (file_append(s->fd, line, len) < 0) {
		int err = errno;

		free(line);
		json_object_put(ev);
		errno = err;
		return NULL;
	}
	log_warnx("%s: writing events again; %ju could not be written "
	    "from %s to %s", s->path, (uintmax_t)l->pending, l->first,
	    l->last);
	if (s->to_stdout)	/* flushed per event: a pipe sees it now */
		render_stdout(ev, line, len);
	free(line);
	l->pending = 0;
	return ev;
}

/* Append one line to the events file, or count it lost. *told: the
 * events-lost event written first, if any. */
static int
event_write(struct event_sink *s, const char *line, size_t len,
    json_object **told)
{
	struct event_loss *l = s->loss;
	int r = -1, err;

	*told = NULL;
	if (s->path == NULL)
		return 0;
	pthread_mutex_lock(&l->mu);
	if (s->fd >= 0 && event_sink_removed(s)) {
		close(s->fd);
		s->fd = -1;
		if (event_sink_try_open(s) == 0)
			log_warnx("%s: the events file was removed: made "
			    "again", s->path);
	}
	if (s->fd < 0 && util_now_ms() - s->reopen_ms >= EVENT_REOPEN_MS)
		event_sink_try_open(s);
	err = l->err;	/* why the file is not open */
	if (s->fd >= 0 && l->pending > 0 &&
	    (*told = event_tell_lost(s)) == NULL)
		err = errno;
	if (s->fd >= 0 && l->pending == 0 &&
	    (r = file_append(s->fd, line, len)) < 0)
		err = errno;
	if (r < 0)
		event_count_lost(s, err);
	pthread_mutex_unlock(&l->mu);
	return r;
}

/* Writes and frees the event. Returns -1 when it could not be written
 * to the events file (it is counted). */
int
event_emit(struct event_sink *s, json_object *ev)
{
	json_object *told;
	size_t len;
	char *line = event_line(ev, &len);
	int r = event_write(s, line, len, &told);

	if (s->to_stdout)	/* flushed per event: a pipe sees it now */
		render_stdout(ev, line, len);
	free(line);
	if (told != NULL && s->hook != NULL)
		s->hook(s->hook_arg, told);
	json_object_put(told);
	if (s->hook != NULL)
		s->hook(s->hook_arg, ev);
	json_object_put(ev);
	return r;
}

/* Events this sink (or the monitor, when shared) could not write. */
uint64_t
event_lost(const struct event_sink *s)
{
	uint64_t n;

	if (s->loss == NULL)
		return 0;
	pthread_mutex_lock(&s->loss->mu);
	n = s->loss->total;
	pthread_mutex_unlock(&s->loss->mu);
	return n;
}

void
event_sink_close(struct event_sink *s)
{
	if (s->fd >= 0) {
		if (fsync(s->fd) < 0 && errno != EINVAL)
			log_warn("%s: fsync", s->path);
		close(s->fd);
	}
	if (s->loss == &s->own && s->own.total > 0)
		log_warnx("%s: %ju event%s could not be written (%s)",
		    s->path, (uintmax_t)s->own.total,
		    s->own.total == 1 ? "" : "s", strerror(s->own.err));
	free(s->path);
	s->fd = -1;
	s->path = NULL;
}
