/* An approval as a journaled transaction: the baseline changes only
 * after who approved what is durable in history.jsonl and the events
 * file, and a run killed at any point is rolled forward or back by the
 * next command that takes the lock (and by the monitor at its start and
 * reloads, when the lock is free: cmd.c). The steps, with the file that says
 * how far an approval got (all in the state directory):
 *   1. the new baseline, fsynced, as baseline.json.XXXXXX (baseline.c)
 *   2. approve.journal: its id, that file, its SHA-256, the history
 *      line and the event lines (written atomically)
 *   3. the history line appended and fsynced
 *   4. the event lines appended (one write: all or none) and fsynced
 *   5. approve.journal renamed to approve.logged
 *   6. the new baseline renamed over baseline.json, directory fsynced
 *   7. approve.logged removed
 * Recovery: approve.journal whose id is not in the history: nothing was
 * recorded, drop it (back). In the history: write the events (a kill
 * between 4 and 5 makes them appear twice, with the same approval id)
 * and go on (forward). approve.logged: finish 6 and 7 (forward), unless
 * the new baseline is gone: then record the rollback. A failure at 4 or
 * 6 renames the journal to approve.rollback and appends a rolled_back
 * line for the id to the history; recovery finishes that if the history
 * could not take it then. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/baseline.h"
#include "core/event.h"
#include "core/file.h"
#include "core/journal.h"
#include "core/log.h"
#include "core/util.h"

#define JOURNAL_FILE	"approve.journal"
#define JOURNAL_LOGGED	"approve.logged"
#define JOURNAL_ROLLBACK "approve.rollback"
#define JOURNAL_HISTORY	"history.jsonl"
/* A journal holds an approval's event lines; refuse to load more. */
#define JOURNAL_MAX	((off_t)1 << 30)

void
journal_new_id(char id[JOURNAL_ID_LEN + 1])
{
	uint8_t raw[JOURNAL_ID_LEN / 2];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		fatal("getrandom");
	util_hex(raw, sizeof(raw), id);
}

void
journal_free(struct journal *j)
{
	free(j->next);
	free(j->history);
	free(j->events);
	free(j->events_path);
	memset(j, 0, sizeof(*j));
}

static char *
journal_serialize(const struct journal *j, size_t *len)
{
	json_object *o = json_object_new_object();
	char hex[65], *s;
	const char *js;

	util_hex(j->next_sha, sizeof(j->next_sha), hex);
	event_set_str(o, "id", j->id);
	event_set_str(o, "next", j->next);
	event_set_str(o, "next_sha256", hex);
	event_set_str(o, "history", j->history);
	event_set_str(o, "events", j->events ? j->events : "");
	if (j->events_path != NULL)
		event_set_str(o, "events_path", j->events_path);
	js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, len);
	s = xstrndup(js, *len);
	json_object_put(o);
	return s;
}

static const char *
journal_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The new baseline must be a temporary of ours beside baseline.json:
 * a journal names nothing else to rename. */
static int
journal_parse(json_object *o, struct journal *j)
{
	const char *id = journal_str(o, "id"), *next = journal_str(o, "next");
	const char *sha = journal_str(o, "next_sha256");
	const char *hist = journal_str(o, "history");
	const char *evs = journal_str(o, "events");
	const char *ep = journal_str(o, "events_path");
	size_t bl = strlen(BASELINE_FILE);

	if (id == NULL || strlen(id) != JOURNAL_ID_LEN || next == NULL ||
	    strchr(next, '/') != NULL || strncmp(next, BASELINE_FILE, bl) != 0 ||
	    next[bl] != '.' || sha == NULL || hist == NULL || evs == NULL ||
	    util_unhex(sha, j->next_sha, sizeof(j->next_sha)) < 0)
		return -1;
	memcpy(j->id, id, JOURNAL_ID_LEN + 1);
	j->next = xstrdup(next);
	j->history = xstrdup(hist);
	j->events = xstrdup(evs);
	j->events_len = strlen(evs);
	j->events_path = ep ? xstrdup(ep) : NULL;
	return 0;
}

static char *
journal_slurp(const char *path, size_t *n, char **why)
{
	int fd = file_open(path, O_RDONLY | O_NOFOLLOW, 0, why);
	struct stat st;
	char *buf;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size > JOURNAL_MAX) {
		*why = xasprintf("%s: too large or unreadable", path);
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	*n = 0;
	while (*n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + *n, (size_t)st.st_size - *n);

		if (r <= 0)
			break;
		*n += (size_t)r;
	}
	close(fd);
	buf[*n] = '\0';
	return buf;
}

/* Load name; 1 if it exists and was read, 0 if it does not exist,
 * -1 with *why. */
static int
journal_load(const struct state *s, const char *name, struct journal *j,
    char **why)
{
	char *path = state_path(s, name), *buf;
	json_object *o;
	size_t n;

	memset(j, 0, sizeof(*j));
	*why = NULL;
	if ((buf = journal_slurp(path, &n, why)) == NULL) {
		int missing = errno == ENOENT;

		if (missing) {
			free(*why);
			*why = NULL;
		}
		free(path);
		return missing ? 0 : -1;
	}
	o = json_tokener_parse(buf);
	free(buf);
	if (o == NULL || journal_parse(o, j) < 0) {
		*why = xasprintf("%s: not a journal fimguard wrote", path);
		json_object_put(o);
		journal_free(j);
		free(path);
		return -1;
	}
	json_object_put(o);
	free(path);
	return 1;
}

/* Append and fsync; the file is made 0600 if new. */
static int
journal_append(const char *path, mode_t mode, const char *buf, size_t len,
    char **why)
{
	int fd = file_open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW,
	    mode, why), err;

	if (fd < 0)
		return -1;
	if (file_append(fd, buf, len) < 0 || fsync(fd) < 0) {
		err = errno;
		*why = xasprintf("%s: %s", path, strerror(err));
		close(fd);
		errno = err;
		return -1;
	}
	close(fd);
	return 0;
}

static int
journal_history(const struct state *s, const char *line, char **why)
{
	char *path = state_path(s, JOURNAL_HISTORY);
	int r = journal_append(path, 0600, line, strlen(line), why);

	free(path);
	return r;
}

/* The approval's events, through an event sink so that the file (and
 * its directory) are made as every command makes them. */
static int
journal_events(const struct journal *j, char **why)
{
	struct event_sink sink;
	int r;

	if (j->events_path == NULL || j->events_len == 0)
		return 0;
	if (event_sink_open(&sink, j->events_path, 0) < 0) {
		*why = xasprintf("%s: cannot open the events file",
		    j->events_path);
		event_sink_close(&sink);
		return -1;
	}
	r = file_append(sink.fd, j->events, j->events_len);
	if (r < 0 || fsync(sink.fd) < 0) {
		*why = xasprintf("%s: %s", j->events_path, strerror(errno));
		r = -1;
	}
	event_sink_close(&sink);
	return r;
}

/* Does the history hold id: as an approval (*approved) and as rolled
 * back (*rolled)? */
static int
journal_in_history(const struct state *s, const char *id, int *approved,
    int *rolled, char **why)
{
	char *path = state_path(s, JOURNAL_HISTORY), *line = NULL;
	int fd = file_open(path, O_RDONLY | O_NOFOLLOW, 0, why);
	size_t cap = 0;
	FILE *fp;

	free(path);
	*approved = *rolled = 0;
	if (fd < 0) {
		if (errno != ENOENT)
			return -1;
		free(*why);
		*why = NULL;
		return 0;
	}
	if ((fp = fdopen(fd, "r")) == NULL)
		fatal("fdopen");
	while (getline(&line, &cap, fp) > 0) {
		json_object *o = json_tokener_parse(line), *rb;
		const char *lid = o ? journal_str(o, "id") : NULL;

		if (lid != NULL && strcmp(lid, id) == 0) {
			if (json_object_object_get_ex(o, "rolled_back", &rb))
				*rolled = 1;
			else
				*approved = 1;
		}
		json_object_put(o);
	}
	free(line);
	fclose(fp);
	return 0;
}

static void
journal_unlink(const struct state *s, const char *name)
{
	char *path = state_path(s, name);

	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("%s: cannot remove", path);
	free(path);
}

static int
journal_rename(const struct state *s, const char *from, const char *to)
{
	char *a = state_path(s, from), *b = state_path(s, to);
	int r = rename(a, b);

	if (r == 0 && state_fsync_dir(s->dir) < 0)
		log_warn("%s: fsync", s->dir);
	free(a);
	free(b);
	return r;
}

/* The approval did not take effect: say so in the history, then drop
 * the journal (named name) and the new baseline. */
static int
journal_roll_back(const struct state *s, const struct journal *j,
    const char *name, const char *cause, char **why)
{
	json_object *o = json_object_new_object();
	char ts[64], *line;
	int r;

	if (strcmp(name, JOURNAL_ROLLBACK) != 0 &&
	    journal_rename(s, name, JOURNAL_ROLLBACK) == 0)
		name = JOURNAL_ROLLBACK;
	event_timestamp(ts, sizeof(ts));
	event_set_str(o, "@timestamp", ts);
	event_set_str(o, "id", j->id);
	json_object_object_add(o, "rolled_back", json_object_new_boolean(1));
	event_set_str(o, "cause", cause);
	line = xasprintf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	r = journal_history(s, line, why);
	free(line);
	if (r < 0)
		return -1;	/* the rollback file stays: tried again */
	journal_unlink(s, j->next);
	journal_unlink(s, name);
	return 0;
}

/* Steps 6 and 7: put the new baseline in place (unless it already
 * is). Returns 0, 1 if it was gone and the approval rolled back, or -1
 * with *why. */
static int
journal_finish(const struct state *s, const struct journal *j,
    const char *name, char **why)
{
	char *cur = state_path(s, BASELINE_FILE), *next = state_path(s, j->next);
	uint8_t sha[32];
	int r = 0;

	if (baseline_file_sha(cur, sha) == 0 &&
	    memcmp(sha, j->next_sha, sizeof(sha)) == 0)
		journal_unlink(s, j->next);	/* already in place */
	else if (baseline_file_sha(next, sha) < 0 ||
	    memcmp(sha, j->next_sha, sizeof(sha)) != 0)
		r = journal_roll_back(s, j, name, "the new baseline was lost "
		    "before it was put in place", why) < 0 ? -1 : 1;
	else if (baseline_install(s, next) < 0) {
		*why = xasprintf("%s: cannot replace the baseline", cur);
		r = -1;
	}
	if (r == 0)
		journal_unlink(s, name);
	free(cur);
	free(next);
	return r;
}

/* Run the approval j (its new baseline written and fsynced). Returns 0,
 * or -1 with *why: then the old baseline is still in force, and the
 * history says nothing, or that this approval was rolled back. */
int
journal_approve(const struct state *s, struct journal *j, char **why)
{
	const char *name = JOURNAL_LOGGED;
	char *buf, *ignored = NULL;
	size_t len;
	int r;

	buf = journal_serialize(j, &len);
	r = file_replace(s->dir, JOURNAL_FILE, buf, len, 0600, why);
	free(buf);
	if (r < 0) {
		journal_unlink(s, j->next);
		return -1;
	}
	if (journal_history(s, j->history, why) < 0) {
		journal_unlink(s, j->next);
		journal_unlink(s, JOURNAL_FILE);
		return -1;
	}
	if (journal_events(j, why) < 0) {
		if (journal_roll_back(s, j, JOURNAL_FILE, *why, &ignored) < 0)
			log_warnx("%s (the next init or approve records the "
			    "rollback)", ignored);
		free(ignored);
		return -1;
	}
	if (journal_rename(s, JOURNAL_FILE, JOURNAL_LOGGED) < 0) {
		log_warn("%s: cannot mark the approval logged", s->dir);
		name = JOURNAL_FILE;
	}
	if ((r = journal_finish(s, j, name, why)) == 0)
		return 0;
	if (r < 0 && journal_roll_back(s, j, name, *why, &ignored) < 0)
		log_warnx("%s (the next init or approve records the "
		    "rollback)", ignored);
	if (r > 0)
		*why = xstrdup("the new baseline was lost before it was put "
		    "in place");
	free(ignored);
	return -1;
}

static int
journal_recover_rollback(const struct state *s, struct journal *j,
    char **why)
{
	int approved, rolled;

	if (journal_in_history(s, j->id, &approved, &rolled, why) < 0)
		return -1;
	if (!rolled)
		return journal_roll_back(s, j, JOURNAL_ROLLBACK,
		    "interrupted", why);
	journal_unlink(s, j->next);
	journal_unlink(s, JOURNAL_ROLLBACK);
	return 0;
}

/* Killed after step 2: forward if the history has it, else back. */
static int
journal_recover_started(const struct state *s, struct journal *j,
    char **why)
{
	int approved, rolled;

	if (journal_in_history(s, j->id, &approved, &rolled, why) < 0)
		return -1;
	if (!approved || rolled) {
		log_warnx("dropping approval %s: interrupted before it was "
		    "recorded", j->id);
		journal_unlink(s, j->next);
		journal_unlink(s, JOURNAL_FILE);
		return 0;
	}
	log_warnx("completing approval %s, recorded but interrupted", j->id);
	if (journal_events(j, why) < 0)
		return -1;
	if (journal_rename(s, JOURNAL_FILE, JOURNAL_LOGGED) < 0) {
		*why = xasprintf("%s: cannot rename the journal", s->dir);
		return -1;
	}
	return journal_finish(s, j, JOURNAL_LOGGED, why) < 0 ? -1 : 0;
}

typedef int (*journal_step)(const struct state *, struct journal *,
    char **);

static int
journal_recover_logged(const struct state *s, struct journal *j,
    char **why)
{
	log_warnx("completing approval %s, recorded and logged but "
	    "interrupted", j->id);
	return journal_finish(s, j, JOURNAL_LOGGED, why) < 0 ? -1 : 0;
}

/* Did a killed approve leave anything to finish or undo? */
int
journal_pending(const struct state *s)
{
	static const char *names[] = { JOURNAL_ROLLBACK, JOURNAL_FILE,
	    JOURNAL_LOGGED };
	struct stat st;
	int found = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *path = state_path(s, names[i]);

		found |= lstat(path, &st) == 0;
		free(path);
	}
	return found;
}

/* Under the lock, before anything else: finish or undo whatever a
 * killed approve left. Returns 0, or -1 with *why (the command stops:
 * nothing may change the baseline while an approval hangs). */
int
journal_recover(const struct state *s, char **why)
{
	static const struct {
		const char	*name;
		journal_step	 step;
	} steps[] = {
		{ JOURNAL_ROLLBACK, journal_recover_rollback },
		{ JOURNAL_FILE, journal_recover_started },
		{ JOURNAL_LOGGED, journal_recover_logged },
	};
	struct journal j;

	*why = NULL;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int r = journal_load(s, steps[i].name, &j, why);

		if (r > 0)
			r = steps[i].step(s, &j, why);
		journal_free(&j);
		if (r < 0)
			return -1;
	}
	return 0;
}
