/* Events for a person. On a terminal: one line per event in local time
 * with the writer, rule and severity, the diff indented below, the
 * action coloured by severity (never with NO_COLOR). Elsewhere: the
 * JSON line unchanged. Either way each event is written and flushed at
 * once, so a pipe (`| logger`, `| tee`) sees it when it happens, not
 * when stdio's buffer fills.
 *
 * Everything shown comes from the event, which names files an attacker
 * may have created: every control byte (C0, DEL and C1) is replaced
 * before it reaches the terminal, so a file name cannot move the cursor
 * or retitle the window. */
#define _GNU_SOURCE
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/render.h"
#include "core/util.h"

#define RENDER_ARGS_MAX		60	/* command line shown, in bytes */
#define RENDER_DIFF_LINES	200	/* diff lines shown under an event */

#define C_RESET		"\033[0m"
#define C_DIM		"\033[2m"
#define C_ADD		"\033[32m"
#define C_DEL		"\033[31m"

static struct render render_out;	/* stdout: set before threads */

/* "text", "json" or "auto"; -1 for anything else. */
int
render_format(const char *s)
{
	if (s == NULL || strcmp(s, "auto") == 0)
		return RENDER_AUTO;
	if (strcmp(s, "text") == 0)
		return RENDER_TEXT;
	if (strcmp(s, "json") == 0)
		return RENDER_JSON;
	return -1;
}

/* Text for a terminal unless told; colours only on a terminal and when
 * NO_COLOR is unset or empty (no-color.org). */
void
render_init(struct render *r, int format, int fd)
{
	const char *nc = getenv("NO_COLOR");
	int tty = isatty(fd);

	r->text = format == RENDER_TEXT || (format == RENDER_AUTO && tty);
	r->color = r->text && tty && (nc == NULL || *nc == '\0');
}

static const char *
render_get(json_object *o, const char *a, const char *b)
{
	json_object *x;

	if (!json_object_object_get_ex(o, a, &x))
		return NULL;
	if (b != NULL && !json_object_object_get_ex(x, b, &x))
		return NULL;
	return json_object_is_type(x, json_type_string) ||
	    json_object_is_type(x, json_type_int) ?
	    json_object_get_string(x) : NULL;
}

static json_object *
render_sub(json_object *o, const char *a)
{
	json_object *x;

	return json_object_object_get_ex(o, a, &x) &&
	    json_object_is_type(x, json_type_object) ? x : NULL;
}

/* Copy s to fp with every control byte as '?': C0 and DEL, and C1
 * (U+0080..U+009F, UTF-8 C2 80..C2 9F), which some terminals obey. */
static void
render_put(FILE *fp, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	for (; *p != '\0' && n < max; p++, n++) {
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', fp);
			p++;
		} else if (*p < 0x20 || *p == 0x7f)
			fputc('?', fp);
		else
			fputc(*p, fp);
	}
	if (*p != '\0')
		fputs("...", fp);
}

/* @timestamp (UTC) as local time: 2026-12-02 05:17:40. */
static void
render_time(FILE *fp, const char *ts)
{
	struct tm tm;
	time_t t;
	char buf[32];

	memset(&tm, 0, sizeof(tm));
	if (ts == NULL || strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) == NULL) {
		render_put(fp, ts ? ts : "-", 40);
		return;
	}
	t = timegm(&tm);
	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	fputs(buf, fp);
}

/* Bold red for critical down to cyan for low. */
static const char *
render_sev_color(const char *sev)
{
	if (sev == NULL)
		return "";
	if (strcmp(sev, "critical") == 0)
		return "\033[1;31m";
	if (strcmp(sev, "high") == 0)
		return "\033[31m";
	if (strcmp(sev, "medium") == 0)
		return "\033[33m";
	return "\033[36m";
}

static void
render_args(FILE *fp, json_object *proc)
{
	json_object *args;
	size_t len = json_object_object_get_ex(proc, "args", &args) &&
	    json_object_is_type(args, json_type_array) ?
	    json_object_array_length(args) : 0;
	char *line = NULL;
	size_t sz = 0;
	FILE *m;

	if (len == 0 || (m = open_memstream(&line, &sz)) == NULL)
		return;
	for (size_t i = 0; i < len && sz < RENDER_ARGS_MAX; i++) {
		const char *a = json_object_get_string(
		    json_object_array_get_idx(args, i));

		fprintf(m, "%s%s", i ? " " : "", a ? a : "");
		fflush(m);
	}
	fclose(m);
	fputs(" (", fp);
	render_put(fp, line, RENDER_ARGS_MAX);
	fputc(')', fp);
	free(line);
}

/* by /usr/bin/dash (sh -c ...), pid 13845, uid 0 root */
static void
render_writer(FILE *fp, json_object *ev)
{
	json_object *proc = render_sub(ev, "process");
	const char *exe, *pid, *uid;
	struct passwd pw, *pp = NULL;
	char buf[1024];

	if (proc == NULL)
		return;
	exe = render_get(proc, "executable", NULL);
	pid = render_get(proc, "pid", NULL);
	uid = render_get(ev, "user", "id");
	fputs(" by ", fp);
	render_put(fp, exe ? exe : "?", 256);
	render_args(fp, proc);
	if (pid != NULL)
		fprintf(fp, ", pid %s", pid);
	if (uid == NULL)
		return;
	fputs(", uid ", fp);
	render_put(fp, uid, 16);
	if (getpwuid_r((uid_t)strtoul(uid, NULL, 10), &pw, buf, sizeof(buf),
	    &pp) == 0 && pp != NULL) {
		fputc(' ', fp);
		render_put(fp, pp->pw_name, 64);
	}
}

static void
render_diff(FILE *fp, const struct render *r, const char *diff)
{
	const char *p = diff;
	int n = 0;

	while (p != NULL && *p != '\0' && n++ < RENDER_DIFF_LINES) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, len);
		const char *c = !r->color ? "" : *line == '+' ? C_ADD :
		    *line == '-' ? C_DEL : *line == '@' ? C_DIM : "";

		fprintf(fp, "    %s", c);
		render_put(fp, line, 4096);
		fprintf(fp, "%s\n", *c != '\0' ? C_RESET : "");
		free(line);
		p = nl ? nl + 1 : NULL;
	}
	if (p != NULL && *p != '\0')
		fputs("    ...\n", fp);
}

/* " [pkg NAME VERSION verified]" for a change of a package's file. */
static void
render_package(FILE *m, json_object *fg)
{
	json_object *p = fg ? render_sub(fg, "package") : NULL, *v;
	const char *name = p ? render_get(p, "name", NULL) : NULL,
	    *ver = p ? render_get(p, "version", NULL) : NULL;

	if (p == NULL)
		return;
	fputs(" [pkg ", m);
	render_put(m, name ? name : "database", 128);
	if (ver != NULL) {
		fputc(' ', m);
		render_put(m, ver, 128);
	}
	fputs(json_object_object_get_ex(p, "verified", &v) &&
	    json_object_get_boolean(v) ? " verified]" : " not verified]", m);
}

/* One line (and the diff below it), '\n'-terminated; the caller frees. */
char *
render_text(const struct render *r, json_object *ev)
{
	json_object *fg = render_sub(ev, "fimguard");
	const char *action = render_get(ev, "event", "action"),
	    *sev = fg ? render_get(fg, "severity", NULL) : NULL,
	    *rule = render_get(ev, "rule", "name"),
	    *path = render_get(ev, "file", "path"),
	    *prev = fg ? render_get(fg, "previous", "path") : NULL,
	    *err = fg ? render_get(fg, "error", NULL) : NULL,
	    *diff = fg ? render_get(fg, "diff", NULL) : NULL,
	    *times = fg ? render_get(fg, "repeat", "count") : NULL;
	char *out = NULL;
	size_t sz = 0;
	FILE *m = open_memstream(&out, &sz);

	if (m == NULL)
		return xstrdup("?\n");
	render_time(m, render_get(ev, "@timestamp", NULL));
	fprintf(m, " %s", r->color ? render_sev_color(sev) : "");
	render_put(m, action ? action : "event", 40);
	fputs(r->color ? C_RESET " " : " ", m);
	if (prev != NULL) {
		render_put(m, prev, 4096);
		fputs(" -> ", m);
	}
	render_put(m, path ? path : "-", 4096);
	render_writer(m, ev);
	if (times != NULL) {	/* one line for many denials */
		fputs(", ", m);
		render_put(m, times, 24);
		fputs(" times", m);
	}
	render_package(m, fg);
	if (rule != NULL || sev != NULL) {
		fputs(" [rule ", m);
		render_put(m, rule ? rule : "-", 128);
		fputs(", ", m);
		render_put(m, sev ? sev : "-", 16);
		fputc(']', m);
	}
	if (err != NULL) {
		fputs(": ", m);
		render_put(m, err, 256);
	}
	fputc('\n', m);
	render_diff(m, r, diff);
	fclose(m);
	return out;
}

/* One event to fp: the text, or json (len bytes, its newline included),
 * then a flush. -1 if the reader is gone or the write failed. */
int
render_event(const struct render *r, FILE *fp, json_object *ev,
    const char *json, size_t len)
{
	int ok;

	if (r->text) {
		char *t = render_text(r, ev);

		ok = fputs(t, fp) >= 0;
		free(t);
	} else
		ok = fwrite(json, 1, len, fp) == len;
	return fflush(fp) == 0 && ok ? 0 : -1;
}

/* `run --foreground`: decided once, before any thread starts. */
void
render_stdout_setup(int format)
{
	render_init(&render_out, format, STDOUT_FILENO);
}

void
render_stdout(json_object *ev, const char *json, size_t len)
{
	render_event(&render_out, stdout, ev, json, len);
}
