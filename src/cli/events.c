/* fimguard events: what happened, from the events file, for a person.
 * Reads the copies logrotate leaves (events.json.12.gz ... .2.gz, .1,
 * see packaging/logrotate/fimguard) oldest first, then the file itself;
 * with --follow keeps reading it across a rotation, whether logrotate
 * truncated it in place (copytruncate) or moved it away and a new one
 * was created. A line that is not an event is reported with its file
 * and line number and skipped: a torn or edited line never hides the
 * rest. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cli/commands.h"
#include "cli/events.h"
#include "core/cmd.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/render.h"
#include "core/util.h"

#define EVENTS_DEFAULT	"/var/log/fimguard/events.json"
#define EVENTS_LINE_MAX	(16u << 20)	/* one event line, at most */
#define EVENTS_ROTATED_MAX 10000	/* .1 ... .N */
#define EVENTS_POLL_NS	200000000L	/* --follow: 0.2 s between looks */

/* The lines of one file as they arrive. */
struct events_lines {
	const char	*name;		/* for messages */
	unsigned long	 lineno;
	char		*buf;
	size_t		 len, cap;
	int		 skipping;	/* inside an overlong line */
	events_fn	 fn;
	void		*arg;
	int		 stop;
};

/* "2026-12-02T05:17:40.123Z" -> ms since the epoch; -1 if absent. */
int64_t
events_time_ms(json_object *ev)
{
	json_object *ts;
	struct tm tm;
	const char *s, *rest;
	int64_t ms = 0;

	if (!json_object_object_get_ex(ev, "@timestamp", &ts) ||
	    (s = json_object_get_string(ts)) == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if ((rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (rest[0] == '.' && isdigit((unsigned char)rest[1]))
		ms = strtol(rest + 1, NULL, 10) % 1000;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* 90s, 30m, 2h, 7d, 1w: that long ago. */
static int
events_since_relative(const char *s, int64_t *out)
{
	static const char units[] = "smhdw";
	static const int64_t secs[] = { 1, 60, 3600, 86400, 604800 };
	char *end;
	long long n;
	const char *u;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || errno != 0 || n < 0 || n > 100000000 ||
	    end[0] == '\0' || end[1] != '\0' ||
	    (u = strchr(units, end[0])) == NULL)
		return -1;
	*out = (int64_t)time(NULL) * 1000 - n * secs[u - units] * 1000;
	return 0;
}

/* An ISO time: 2026-12-02, 2026-12-02T05:17[:40], a space for the T;
 * local time, or UTC with a trailing Z. */
static int
events_since(const char *s, int64_t *out)
{
	static const char *forms[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
	    "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d" };
	struct tm tm;
	const char *rest;

	if (events_since_relative(s, out) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_isdst = -1;
		if ((rest = strptime(s, forms[i], &tm)) == NULL)
			continue;
		if (strcmp(rest, "Z") == 0) {
			*out = (int64_t)timegm(&tm) * 1000;
			return 0;
		}
		if (*rest == '\0') {
			*out = (int64_t)mktime(&tm) * 1000;
			return 0;
		}
	}
	return -1;
}

/* The events file the config names (the default if it names none). */
static char *
events_file(const struct cmd_opts *o)
{
	struct conf c;
	char *path;

	conf_init(&c);
	if (conf_load_config(&c, o->config, o->config_given) != 0) {
		for (size_t i = 0; i < c.errors.n; i++)
			fprintf(stderr, "%s\n", c.errors.v[i]);
		conf_free(&c);
		return NULL;
	}
	path = xstrdup(c.events ? c.events : EVENTS_DEFAULT);
	conf_free(&c);
	return path;
}

static void
events_line(struct events_lines *l, char *line, size_t len)
{
	json_object *ev;
	enum json_tokener_error err = json_tokener_success;

	l->lineno++;
	if (len == 0 || (len == 1 && line[0] == '\n'))
		return;
	ev = json_tokener_parse_verbose(line, &err);
	if (ev == NULL || !json_object_is_type(ev, json_type_object) ||
	    events_time_ms(ev) < 0) {
		log_warnx("%s:%lu: not an event (%s), skipped", l->name,
		    l->lineno, ev == NULL ? json_tokener_error_desc(err) :
		    "no @timestamp");
		json_object_put(ev);
		return;
	}
	if (l->fn(l->arg, ev, line, len) != 0)
		l->stop = 1;
	json_object_put(ev);
}

/* Append n bytes and hand over every complete line. */
static void
events_feed(struct events_lines *l, const char *data, size_t n)
{
	while (n > 0 && !l->stop) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) + 1 : n;

		if (!l->skipping && l->len + take > EVENTS_LINE_MAX) {
			log_warnx("%s:%lu: line longer than %u bytes, skipped",
			    l->name, l->lineno + 1, EVENTS_LINE_MAX);
			l->skipping = 1;
			l->len = 0;
		}
		if (!l->skipping) {
			if (l->len + take + 1 > l->cap) {
				l->cap = (l->len + take + 1) * 2;
				l->buf = xreallocarray(l->buf, 1, l->cap);
			}
			memcpy(l->buf + l->len, data, take);
			l->len += take;
		}
		if (nl != NULL) {
			if (l->skipping)
				l->lineno++;
			else {
				l->buf[l->len] = '\0';
				events_line(l, l->buf, l->len);
			}
			l->len = 0;
			l->skipping = 0;
		}
		data += take;
		n -= take;
	}
}

/* A last line without its newline (a file cut short). */
static void
events_finish(struct events_lines *l)
{
	if (l->len > 0 && !l->skipping && !l->stop) {
		l->buf[l->len] = '\0';
		events_line(l, l->buf, l->len);
	}
	l->len = 0;
	l->skipping = 0;
}

/* A whole file, compressed or not (zlib reads plain files as they are). */
static void
events_read_file(struct events_lines *l, const char *path)
{
	gzFile gz = gzopen(path, "rb");
	char buf[65536];
	int n = 0;

	l->name = path;
	l->lineno = 0;
	if (gz == NULL) {
		log_warn("%s", path);
		return;
	}
	while (!l->stop && (n = gzread(gz, buf, sizeof(buf))) > 0)
		events_feed(l, buf, (size_t)n);
	if (n < 0) {
		int e;

		log_warnx("%s: %s", path, gzerror(gz, &e));
	}
	events_finish(l);
	gzclose(gz);
}

/* The rotated copies, oldest (highest number) first. */
static void
events_rotated(struct events_lines *l, const char *path)
{
	struct strlist found = { 0 };
	struct stat st;

	for (int n = 1; n <= EVENTS_ROTATED_MAX; n++) {
		char *p = xasprintf("%s.%d", path, n),
		    *gz = xasprintf("%s.%d.gz", path, n);

		if (stat(p, &st) == 0)
			strlist_push(&found, p);
		else if (stat(gz, &st) == 0)
			strlist_push(&found, gz);
		free(p);
		free(gz);
		if (found.n < (size_t)n)
			break;
	}
	for (size_t i = found.n; i > 0 && !l->stop; i--)
		events_read_file(l, found.v[i - 1]);
	strlist_free(&found);
}

static int
events_drain(struct events_lines *l, int fd, off_t *off)
{
	char buf[65536];
	ssize_t n;

	while (!l->stop && (n = read(fd, buf, sizeof(buf))) > 0) {
		events_feed(l, buf, (size_t)n);
		*off += n;
	}
	return 0;
}

/* --follow: read what is there, then what comes. A shorter file than
 * what was read means copytruncate (start again at 0); another inode
 * under the name means it was moved away (read the old one to its end,
 * then the new one from its start). */
static void
events_follow(struct events_lines *l, const char *path)
{
	struct timespec pause = { 0, EVENTS_POLL_NS };
	struct stat st, now;
	off_t off = 0;
	int fd = -1;

	l->name = path;
	l->lineno = 0;
	while (!l->stop) {
		if (fd < 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			off = 0;
			l->lineno = 0;
		}
		if (fd < 0 || fstat(fd, &st) < 0) {
			nanosleep(&pause, NULL);
			continue;
		}
		if (st.st_size < off) {
			lseek(fd, 0, SEEK_SET);
			off = 0;
			l->lineno = 0;
			l->len = 0;
		}
		events_drain(l, fd, &off);
		if (stat(path, &now) == 0 && (now.st_ino != st.st_ino ||
		    now.st_dev != st.st_dev)) {
			events_drain(l, fd, &off);
			events_finish(l);
			close(fd);
			fd = -1;
			continue;
		}
		nanosleep(&pause, NULL);
	}
	if (fd >= 0)
		close(fd);
}

/* Every event, oldest first; follow: then wait for more, forever. */
int
events_read(const char *path, int follow, events_fn fn, void *arg)
{
	struct events_lines l = { .fn = fn, .arg = arg };
	struct stat st;

	events_rotated(&l, path);
	if (follow)
		events_follow(&l, path);
	else if (!l.stop && stat(path, &st) == 0)
		events_read_file(&l, path);
	else if (!l.stop && errno != ENOENT)
		log_warn("%s", path);
	free(l.buf);
	return 0;
}

struct events_show {
	struct render	 r;
	int64_t		 since_ms;
	const char	*action, *path_glob, *rule;
	unsigned long	 shown;
};

static int
events_str_is(json_object *ev, const char *a, const char *b,
    const char *want)
{
	json_object *x;

	return json_object_object_get_ex(ev, a, &x) &&
	    json_object_object_get_ex(x, b, &x) &&
	    json_object_get_string(x) != NULL &&
	    strcmp(json_object_get_string(x), want) == 0;
}

static int
events_wanted(const struct events_show *s, json_object *ev)
{
	json_object *f, *p;

	if (s->since_ms > 0 && events_time_ms(ev) < s->since_ms)
		return 0;
	if (s->action != NULL && !events_str_is(ev, "event", "action",
	    s->action))
		return 0;
	if (s->rule != NULL && !events_str_is(ev, "rule", "name", s->rule))
		return 0;
	if (s->path_glob != NULL && (!json_object_object_get_ex(ev, "file",
	    &f) || !json_object_object_get_ex(f, "path", &p) ||
	    fnmatch(s->path_glob, json_object_get_string(p), 0) != 0))
		return 0;
	return 1;
}

static int
events_show_one(void *arg, json_object *ev, const char *line, size_t len)
{
	struct events_show *s = arg;

	if (!events_wanted(s, ev))
		return 0;
	s->shown++;
	/* the reader is gone (a closed pipe): stop quietly */
	return render_event(&s->r, stdout, ev, line, len) < 0 ? 1 : 0;
}

/* What events and suggest start with: --since, and the events file.
 * Returns the file's path, or NULL after saying why. */
char *
events_begin(const struct cmd_opts *o, int64_t *since_ms)
{
	if (o->since != NULL && events_since(o->since, since_ms) < 0) {
		log_warnx("--since: '%s' is neither a time (2026-12-02, "
		    "2026-12-02T05:17:40[Z]) nor an age (30m, 2h, 7d)",
		    o->since);
		return NULL;
	}
	return events_file(o);
}

int
cmd_events(const struct cmd_opts *o)
{
	struct events_show s = { .action = o->action, .path_glob = o->path_glob,
	    .rule = o->rule };
	char *path;

	if ((path = events_begin(o, &s.since_ms)) == NULL)
		return EXIT_USAGE;
	render_init(&s.r, o->format, STDOUT_FILENO);
	events_read(path, o->follow, events_show_one, &s);
	free(path);
	return EXIT_OK;
}
