/* The compact baseline view used by check. Loading goes through the
 * same verified reader as the full baseline (baseline_read); each
 * record is parsed once, reduced to what bindex_same needs, and its
 * offset kept. The file stays open: a record that may have changed is
 * read again from the same open file that was verified, not by path. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bindex.h"
#include "core/log.h"
#include "core/record.h"

#define BINDEX_LINE_MAX	(1024 * 1024)

static const char *
bindex_dup(struct bindex *x, const char *s)
{
	return s == NULL ? NULL : arena_strdup(&x->arena, s);
}

static int
bindex_sink(void *arg, json_object *rec, uint64_t off)
{
	struct bindex *x = arg;
	struct strlist rules = { 0 };
	struct entry e = { 0 };
	struct bindex_ent *b;
	int r = record_from_json(rec, &e, &rules, &x->owners);

	if (r == 0) {
		if (x->n == x->cap) {
			x->cap = x->cap ? x->cap * 2 : 1024;
			x->v = xreallocarray(x->v, x->cap, sizeof(*x->v));
		}
		b = &x->v[x->n++];
		memset(b, 0, sizeof(*b));
		b->path = bindex_dup(x, e.path);
		b->target = bindex_dup(x, e.target);
		b->xattrs = bindex_dup(x, e.xattrs);
		b->pkgsum = e.pkg_ok ? bindex_dup(x, e.pkgsum) : NULL;
		b->owner = e.owner;
		b->size = e.size;
		b->off = off;
		b->mode = e.mode;
		b->uid = e.uid;
		b->gid = e.gid;
		b->nlink = (uint32_t)e.nlink;
		b->type = (uint8_t)e.type;
		b->has_xxh = e.has_xxh;
		b->error = e.error != NULL;
		memcpy(b->xxh, e.xxh, sizeof(b->xxh));
	}
	entry_free(&e);
	strlist_free(&rules);
	return r;
}

static int
bindex_cmp(const void *a, const void *b)
{
	return strcmp(((const struct bindex_ent *)a)->path,
	    ((const struct bindex_ent *)b)->path);
}

/* Returns a baseline_status, like baseline_load. */
int
bindex_load(struct bindex *x, const struct state *s, char **why)
{
	struct baseline_sink sink;
	struct baseline hdr = { 0 };
	int st;

	memset(x, 0, sizeof(*x));
	sink = (struct baseline_sink){ bindex_sink, x };
	st = baseline_read(&hdr, s, &sink, why, &x->fp);
	free(hdr.created);
	if (st != BASELINE_OK) {
		bindex_free(x);
		return st;
	}
	for (size_t i = 1; i < x->n; i++)
		if (strcmp(x->v[i - 1].path, x->v[i].path) > 0) {
			qsort(x->v, x->n, sizeof(*x->v), bindex_cmp);
			break;
		}
	return BASELINE_OK;
}

void
bindex_free(struct bindex *x)
{
	if (x->fp != NULL)
		fclose(x->fp);
	free(x->v);
	arena_free(&x->arena);
	pkg_owners_free(&x->owners);
	memset(x, 0, sizeof(*x));
}

/* Binary search: the baseline is sorted by path (bytewise). */
int
bindex_find(const struct bindex *x, const char *path, size_t *idx)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(x->v[mid].path, path);

		if (c == 0) {
			*idx = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
bindex_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* 1 only when compare_entry(now, base) would find nothing: the same
 * rules, decided on the compact fields. Anything uncertain (no XXH3 on
 * either side, a recorded error) is 0 and gets the full comparison. */
int
bindex_same(const struct bindex_ent *b, const struct entry *e)
{
	if (b->error || e->error != NULL || b->type != e->type ||
	    b->mode != e->mode || b->uid != e->uid || b->gid != e->gid ||
	    !bindex_streq(b->target, e->target) ||
	    !bindex_streq(b->xattrs, e->xattrs))
		return 0;
	if (e->type != ENTRY_DIR && b->nlink != e->nlink)
		return 0;
	if ((e->type == ENTRY_CHARDEV || e->type == ENTRY_BLOCKDEV) &&
	    b->size != e->size)
		return 0;
	if (e->type == ENTRY_FILE && (!b->has_xxh || !e->has_xxh ||
	    memcmp(b->xxh, e->xxh, sizeof(b->xxh)) != 0))
		return 0;
	return 1;
}

/* The line at off, up to and including its newline (malloc'd), or
 * NULL. Reads in growing steps: records are short, a few are long. */
static char *
bindex_line(FILE *fp, uint64_t off, size_t *len)
{
	size_t cap = 4096, have = 0;
	char *buf = NULL, *nl;

	for (;;) {
		ssize_t n;

		buf = xreallocarray(buf, cap, 1);
		n = pread(fileno(fp), buf + have, cap - have,
		    (off_t)(off + have));
		if (n <= 0)
			break;
		if ((nl = memchr(buf + have, '\n', (size_t)n)) != NULL) {
			*len = (size_t)(nl - buf) + 1;
			return buf;
		}
		have += (size_t)n;
		if (cap >= BINDEX_LINE_MAX)
			break;
		cap *= 2;
	}
	free(buf);
	return NULL;
}

/* Read record idx again, in full, from the verified open file. */
int
bindex_entry(const struct bindex *x, size_t idx, struct entry *e,
    struct strlist *rules, struct pkg_owners *owners)
{
	json_tokener *tok;
	json_object *o;
	size_t len = 0;
	char *line = bindex_line(x->fp, x->v[idx].off, &len);
	int r = -1;

	memset(e, 0, sizeof(*e));
	if (line == NULL)
		return -1;
	if ((tok = json_tokener_new()) == NULL)
		fatalx("out of memory");
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success)
		r = record_from_json(o, e, rules, owners);
	/* Same file, same offset: anything else means it was rewritten
	 * in place since it was verified. */
	if (r == 0 && strcmp(e->path, x->v[idx].path) != 0)
		r = -1;
	json_object_put(o);
	json_tokener_free(tok);
	free(line);
	return r;
}
