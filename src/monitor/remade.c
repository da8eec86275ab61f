/* Directories and symlinks that tree.c made again have a new (device,
 * inode), and the baseline keeps the old one until approve records the
 * new: what a restore through such a directory expects
 * (monitor.c:monitor_restore_dir) would refuse it after the next reload
 * or restart. So each one made again is noted in
 * <state>/quarantine/remade.json (the monitor's own directory there):
 * its path, the identity the baseline has (was) and the one made (now).
 * At setup a note whose `was` is still what the baseline says is
 * applied to the baseline in memory; any other (the baseline has
 * changed since: approve, init) is dropped. Read and written under one
 * lock: during a reload two instances share the file. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/log.h"
#include "core/util.h"
#include "monitor/quarantine.h"
#include "monitor/remade.h"

#define REMADE_FILE	"remade.json"
#define REMADE_MAX	4096	/* notes kept; the oldest go first */

static pthread_mutex_t remade_lock = PTHREAD_MUTEX_INITIALIZER;

static json_object *
remade_read(const struct state *s)
{
	json_object *o = quarantine_json(s, REMADE_FILE), *arr;

	if (o != NULL && json_object_object_get_ex(o, "remade", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		json_object_get(arr);
		json_object_put(o);
		return arr;
	}
	json_object_put(o);
	return json_object_new_array();
}

static int
remade_write(const struct state *s, json_object *arr)
{
	json_object *o = json_object_new_object();
	char *dir = state_path(s, QUARANTINE_DIR), *why = NULL;
	const char *line;
	int r;

	json_object_object_add(o, "remade", json_object_get(arr));
	line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if ((r = file_replace(dir, REMADE_FILE, line, strlen(line), 0600,
	    &why)) < 0)
		log_warnx("%s", why);
	free(why);
	free(dir);
	json_object_put(o);
	return r;
}

static uint64_t
remade_u64(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	    json_object_get_uint64(v) : 0;
}

/* The note's path, exact bytes (the caller frees it), or NULL. */
static char *
remade_path(json_object *note)
{
	json_object *v;
	uint8_t *raw;
	size_t n;

	if (!json_object_object_get_ex(note, "path_base64", &v) ||
	    util_b64_decode(json_object_get_string(v), &raw, &n) < 0)
		return NULL;
	raw = xreallocarray(raw, n + 1, 1);
	raw[n] = '\0';
	return (char *)raw;
}

/* Index of path's note in arr, or -1. */
static int
remade_find(json_object *arr, const char *path)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		char *p = remade_path(json_object_array_get_idx(arr, i));
		int same = p != NULL && strcmp(p, path) == 0;

		free(p);
		if (same)
			return (int)i;
	}
	return -1;
}

/* path, recorded in the baseline (in memory) as (dev, ino), was made
 * again as (ndev, nino). A note already there keeps its `was`: the
 * baseline's own, applied at setup. */
int
remade_note(const struct state *s, const char *path, uint64_t dev,
    uint64_t ino, uint64_t ndev, uint64_t nino)
{
	json_object *arr, *note;
	char *b64;
	int i, r;

	pthread_mutex_lock(&remade_lock);
	arr = remade_read(s);
	if ((i = remade_find(arr, path)) >= 0) {
		note = json_object_array_get_idx(arr, (size_t)i);
		dev = remade_u64(note, "was_dev");
		ino = remade_u64(note, "was_ino");
		json_object_array_del_idx(arr, (size_t)i, 1);
	}
	if (json_object_array_length(arr) >= REMADE_MAX)
		json_object_array_del_idx(arr, 0, 1);
	note = json_object_new_object();
	b64 = util_b64_encode((const uint8_t *)path, strlen(path));
	json_object_object_add(note, "path_base64", json_object_new_string(b64));
	json_object_object_add(note, "was_dev", json_object_new_uint64(dev));
	json_object_object_add(note, "was_ino", json_object_new_uint64(ino));
	json_object_object_add(note, "dev", json_object_new_uint64(ndev));
	json_object_object_add(note, "ino", json_object_new_uint64(nino));
	json_object_array_add(arr, note);
	r = remade_write(s, arr);
	json_object_put(arr);
	free(b64);
	pthread_mutex_unlock(&remade_lock);
	return r;
}

/* At setup: the notes that still apply to the baseline b, applied;
 * the others dropped. */
void
remade_apply(const struct state *s, struct baseline *b)
{
	json_object *arr, *keep;
	size_t n, dropped = 0;

	pthread_mutex_lock(&remade_lock);
	arr = remade_read(s);
	keep = json_object_new_array();
	n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *note = json_object_array_get_idx(arr, i);
		char *path = remade_path(note);
		struct entry *e;

		if (path != NULL && baseline_find(b, path, &e) &&
		    e->dev == remade_u64(note, "was_dev") &&
		    e->ino == remade_u64(note, "was_ino")) {
			e->dev = remade_u64(note, "dev");
			e->ino = remade_u64(note, "ino");
			json_object_array_add(keep, json_object_get(note));
		} else
			dropped++;
		free(path);
	}
	if (dropped > 0)
		remade_write(s, keep);
	json_object_put(keep);
	json_object_put(arr);
	pthread_mutex_unlock(&remade_lock);
}
