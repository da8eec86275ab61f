/* Baseline storage. The file is written to a temporary name in the
 * state directory, fsynced, renamed over the old one and the directory
 * fsynced: a crash leaves the old or the new baseline, never a mix.
 * The HMAC key lives beside it with mode 0600; whoever can rewrite the
 * baseline without the key is caught on the next load. approve writes
 * it and puts it in place in two steps (baseline_write, then
 * baseline_install once the approval is on record: core/journal.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/baseline.h"
#include "core/event.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/record.h"
#include "core/util.h"

#define BASELINE_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define BASELINE_LINE_MAX	(1024 * 1024)
#define BASELINE_TRAILER_LEN	(9 + 64 + 3)	/* {"hmac":"<hex>"}\n */

const char *
baseline_status_name(int s)
{
	switch (s) {
	case BASELINE_OK: return "ok";
	case BASELINE_MISSING: return "missing";
	case BASELINE_UNREADABLE: return "unreadable";
	case BASELINE_TRUNCATED: return "truncated";
	case BASELINE_TAMPERED: return "failed HMAC verification";
	default: return "corrupt";
	}
}

static int
baseline_write_line(FILE *fp, struct hmac_stream *h, json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o,
	    BASELINE_JSON_FLAGS, &len);

	hmac_stream_update(h, s, len);
	hmac_stream_update(h, "\n", 1);
	if (fwrite(s, 1, len, fp) != len || fputc('\n', fp) == EOF)
		return -1;
	return 0;
}

static json_object *
baseline_header(void)
{
	json_object *o = json_object_new_object();
	char ts[64], host[256] = "";

	event_timestamp(ts, sizeof(ts));
	gethostname(host, sizeof(host) - 1);
	json_object_object_add(o, "format",
	    json_object_new_string("fimguard-baseline"));
	json_object_object_add(o, "version",
	    json_object_new_int(BASELINE_VERSION));
	json_object_object_add(o, "created", json_object_new_string(ts));
	json_object_object_add(o, "host", json_object_new_string(host));
	json_object_object_add(o, "fields", record_fields());
	return o;
}

static int
baseline_write_all(FILE *fp, const uint8_t *key, const struct entryvec *ev)
{
	struct hmac_stream *h = hmac_stream_new(key, STATE_HMAC_KEY_LEN);
	json_object *o = baseline_header(), *t;
	uint8_t mac[32];
	char hex[65];
	int r = baseline_write_line(fp, h, o);

	json_object_put(o);
	for (size_t i = 0; r == 0 && i < ev->n; i++) {
		o = record_to_json(&ev->v[i]);
		r = baseline_write_line(fp, h, o);
		json_object_put(o);
	}
	hmac_stream_final(h, mac);
	util_hex(mac, sizeof(mac), hex);
	t = json_object_new_object();
	json_object_object_add(t, "hmac", json_object_new_string(hex));
	if (r == 0 && fprintf(fp, "%s\n", json_object_to_json_string_ext(t,
	    BASELINE_JSON_FLAGS)) < 0)
		r = -1;
	json_object_put(t);
	return r;
}

/* SHA-256 of a whole file (what an approval's journal names). */
int
baseline_file_sha(const char *path, uint8_t sha[32])
{
	char *why = NULL;
	int fd = file_open(path, O_RDONLY | O_NOFOLLOW, 0, &why), r;
	struct hash_result hr;

	free(why);
	if (fd < 0)
		return -1;
	r = hash_fd(fd, NULL, HASH_SHA, -1, UINT64_MAX, &hr);
	close(fd);
	if (r == 0)
		memcpy(sha, hr.sha, 32);
	return r;
}

/* Write the baseline to a temporary file beside baseline.json, fsynced
 * but not yet in place. Returns its path (and, with sha, the SHA-256
 * of its bytes), or NULL after saying why. */
char *
baseline_write(const struct entryvec *ev, const struct state *s,
    uint8_t *sha)
{
	char *dst = state_path(s, BASELINE_FILE);
	char *tmp = xasprintf("%s.XXXXXX", dst);
	int fd = mkostemp(tmp, O_CLOEXEC), ok = 0;
	FILE *fp;

	free(dst);
	if (fd < 0 || fchmod(fd, 0600) < 0 ||
	    (fp = fdopen(fd, "w")) == NULL) {
		log_warn("%s", tmp);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (baseline_write_all(fp, s->hmac_key, ev) < 0 ||
	    fflush(fp) == EOF || fsync(fileno(fp)) < 0) {
		log_warn("%s: write", tmp);
		fclose(fp);
		goto out;
	}
	if (fclose(fp) == EOF) {
		log_warn("%s: write", tmp);
		goto out;
	}
	ok = sha == NULL || baseline_file_sha(tmp, sha) == 0;
	if (!ok)
		log_warn("%s: read back", tmp);
out:
	if (!ok) {
		if (fd >= 0)
			unlink(tmp);
		free(tmp);
		return NULL;
	}
	return tmp;
}

/* Put a written baseline in place: rename, then fsync the directory. */
int
baseline_install(const struct state *s, const char *tmp)
{
	char *dst = state_path(s, BASELINE_FILE);
	int r = rename(tmp, dst);

	if (r < 0)
		log_warn("%s: cannot replace", dst);
	else if (state_fsync_dir(s->dir) < 0)
		log_warn("%s: fsync", s->dir);
	free(dst);
	return r;
}

int
baseline_save(const struct entryvec *ev, const struct state *s)
{
	char *tmp = baseline_write(ev, s, NULL);
	int r;

	if (tmp == NULL)
		return -1;
	if ((r = baseline_install(s, tmp)) < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

static const char *
baseline_get_str(json_object *o, const char *key)
{
	json_object *x;

	if (!json_object_object_get_ex(o, key, &x) ||
	    json_object_get_type(x) != json_type_string)
		return NULL;
	return json_object_get_string(x);
}

static int
baseline_check_header(json_object *o, struct baseline *b)
{
	const char *fmt = baseline_get_str(o, "format");
	const char *created = baseline_get_str(o, "created");
	json_object *v;

	if (fmt == NULL || strcmp(fmt, "fimguard-baseline") != 0 ||
	    !json_object_object_get_ex(o, "version", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 1 ||
	    json_object_get_int64(v) > BASELINE_VERSION)
		return -1;
	b->version = (int)json_object_get_int64(v);
	b->created = xstrdup(created ? created : "");
	return 0;
}

struct baseline_reader {
	struct baseline		*b;		/* header fields */
	const struct baseline_sink *sink;
	uint64_t		 off;		/* offset of the current line */
	struct hmac_stream	*h;
	json_tokener		*tok;
	int			 lineno;
	int			 bad_line;	/* first unparsable line */
	int			 long_line;	/* one too long: not read on */
	int			 have_trailer;
	int			 after_trailer;
	uint8_t			 mac[32];
	int			 mac_ok;
};

/* A record has exactly the fields of the header's format version. */
static int
baseline_record(struct baseline_reader *r, json_object *o, uint64_t off)
{
	if (!json_object_is_type(o, json_type_array) ||
	    json_object_array_length(o) != record_count(r->b->version))
		return -1;
	return r->sink->record(r->sink->arg, o, off);
}

static void
baseline_read_line(struct baseline_reader *r, const char *line, size_t len)
{
	json_object *o;
	const char *mac;

	r->lineno++;
	r->off += len;
	if (r->have_trailer) {
		r->after_trailer = 1;
		return;
	}
	/* One tokener for the whole file: creating one per line costs
	 * more than parsing the line. */
	json_tokener_reset(r->tok);
	o = len > 0 && line[len - 1] == '\n' ?
	    json_tokener_parse_ex(r->tok, line, (int)len) : NULL;
	if (o != NULL && json_tokener_get_error(r->tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	if (o != NULL && (mac = baseline_get_str(o, "hmac")) != NULL &&
	    json_object_object_length(o) == 1) {
		r->have_trailer = 1;
		/* The trailer is outside the HMAC: accept only the exact
		 * bytes the writer produces, nothing before or after. */
		r->mac_ok = util_unhex(mac, r->mac, sizeof(r->mac)) == 0 &&
		    len == BASELINE_TRAILER_LEN &&
		    memcmp(line, "{\"hmac\":\"", 9) == 0 &&
		    memcmp(line + 9 + 64, "\"}\n", 3) == 0;
		json_object_put(o);
		return;
	}
	hmac_stream_update(r->h, line, len);
	if (o == NULL || (r->lineno == 1 ?
	    baseline_check_header(o, r->b) :
	    baseline_record(r, o, r->off - len)) < 0) {
		if (r->bad_line == 0)
			r->bad_line = r->lineno;
	}
	json_object_put(o);
}

static int
baseline_verdict(struct baseline_reader *r, char **why, const char *path)
{
	uint8_t mac[32];

	hmac_stream_final(r->h, mac);
	if (r->long_line != 0) {
		*why = xasprintf("%s:%d: corrupt entry (line longer than %d "
		    "bytes)", path, r->long_line, BASELINE_LINE_MAX);
		return BASELINE_CORRUPT;
	}
	if (!r->have_trailer) {
		*why = xasprintf("%s: truncated (no HMAC trailer after line "
		    "%d)", path, r->lineno);
		return BASELINE_TRUNCATED;
	}
	if (!r->mac_ok || r->after_trailer ||
	    CRYPTO_memcmp(mac, r->mac, sizeof(mac)) != 0) {
		*why = xasprintf("%s: failed HMAC verification: it was "
		    "modified outside fimguard (tampered?)", path);
		return BASELINE_TAMPERED;
	}
	if (r->bad_line != 0) {
		*why = xasprintf("%s:%d: corrupt entry", path, r->bad_line);
		return BASELINE_CORRUPT;
	}
	return BASELINE_OK;
}

void
baseline_index(struct baseline *b)
{
	htab_free(&b->idx);
	htab_init(&b->idx, b->ev.n);
	for (size_t i = 0; i < b->ev.n; i++)
		htab_put(&b->idx, b->ev.v[i].path, i);
}

/* Read and verify the baseline, handing every record (and its byte
 * offset) to sink; header fields go to b. Returns a baseline_status;
 * on error *why explains, and the caller must drop whatever the sink
 * collected: nothing of the file is trusted. With keep, the stream
 * stays open there (for bindex_entry to re-read records by offset). */
int
baseline_read(struct baseline *b, const struct state *s,
    const struct baseline_sink *sink, char **why, FILE **keep)
{
	char *path = state_path(s, BASELINE_FILE), *line = NULL;
	struct baseline_reader r = { .b = b, .sink = sink };
	size_t cap = 0;
	ssize_t len;
	FILE *fp;
	int st, fd;

	if ((fd = file_open(path, O_RDONLY | O_NOFOLLOW, 0, why)) < 0) {
		st = errno == ENOENT ? BASELINE_MISSING : BASELINE_UNREADABLE;
		free(path);
		return st;
	}
	if ((fp = fdopen(fd, "r")) == NULL)
		fatal("fdopen");
	r.h = hmac_stream_new(s->hmac_key, STATE_HMAC_KEY_LEN);
	if ((r.tok = json_tokener_new()) == NULL)
		fatalx("out of memory");
	while ((len = util_getline(&line, &cap, fp, BASELINE_LINE_MAX)) != -1) {
		if (len > BASELINE_LINE_MAX) {	/* the rest is not read */
			r.long_line = r.lineno + 1;
			break;
		}
		if ((size_t)len != strlen(line))
			r.bad_line = r.bad_line ? r.bad_line : r.lineno + 1;
		baseline_read_line(&r, line, (size_t)len);
	}
	free(line);
	json_tokener_free(r.tok);
	st = ferror(fp) ? BASELINE_UNREADABLE : BASELINE_OK;
	if (st == BASELINE_OK)
		st = baseline_verdict(&r, why, path);
	else {
		hmac_stream_final(r.h, (uint8_t[32]){ 0 });
		*why = xasprintf("%s: read error", path);
	}
	free(path);
	if (st == BASELINE_OK && keep != NULL)
		*keep = fp;
	else
		fclose(fp);
	return st;
}

static int
baseline_sink_full(void *arg, json_object *rec, uint64_t off)
{
	struct baseline *b = arg;

	(void)off;
	return record_from_json(rec, entryvec_add(&b->ev), &b->rules,
	    &b->owners);
}

/* Load and verify the whole baseline into memory (init, approve). */
int
baseline_load(struct baseline *b, const struct state *s, char **why)
{
	struct baseline_sink sink;
	int st;

	memset(b, 0, sizeof(*b));
	sink = (struct baseline_sink){ baseline_sink_full, b };
	if ((st = baseline_read(b, s, &sink, why, NULL)) != BASELINE_OK) {
		baseline_free(b);
		return st;
	}
	/* Written sorted; sort only what was not (an old or edited file). */
	for (size_t i = 1; i < b->ev.n; i++)
		if (strcmp(b->ev.v[i - 1].path, b->ev.v[i].path) > 0) {
			entryvec_sort(&b->ev);
			break;
		}
	baseline_index(b);
	return BASELINE_OK;
}

void
baseline_free(struct baseline *b)
{
	entryvec_free(&b->ev);
	htab_free(&b->idx);
	strlist_free(&b->rules);
	pkg_owners_free(&b->owners);
	free(b->created);
	memset(b, 0, sizeof(*b));
}

int
baseline_find(const struct baseline *b, const char *path, struct entry **e)
{
	size_t i;

	if (!htab_get(&b->idx, path, &i))
		return 0;
	*e = &b->ev.v[i];
	return 1;
}
