/* The comparison behind `check` and the monitor's start-up
 * reconciliation, after the walk and the XXH3 scan:
 *  1. every current entry the baseline view shows unchanged stays in
 *     place; the others are moved out (cand);
 *  2. the records they pair with, and every record no longer seen, are
 *     read in full (b);
 *  3. SHA-256 of the files whose content differs or that are new: it
 *     is what the report cites, and what pairs a deletion with a
 *     creation as a rename;
 *  4. compare_run names the changes. */
#include <stdlib.h>
#include <string.h>

#include "core/delta.h"
#include "core/scan.h"
#include "core/util.h"

static int
delta_bindex_find(const void *arg, const char *path, size_t *i)
{
	return bindex_find(arg, path, i);
}

static int
delta_bindex_same(const void *arg, size_t i, const struct entry *e)
{
	return bindex_same(&((const struct bindex *)arg)->v[i], e);
}

static int
delta_bindex_entry(const void *arg, size_t i, struct entry *e,
    struct strlist *rules, struct pkg_owners *owners)
{
	return bindex_entry(arg, i, e, rules, owners);
}

void
delta_from_bindex(struct delta_base *d, const struct bindex *x)
{
	*d = (struct delta_base){ x->n, delta_bindex_find, delta_bindex_same,
	    delta_bindex_entry, x };
}

static int
delta_baseline_find(const void *arg, const char *path, size_t *i)
{
	return htab_get(&((const struct baseline *)arg)->idx, path, i);
}

static int
delta_baseline_same(const void *arg, size_t i, const struct entry *e)
{
	const struct entry *b = &((const struct baseline *)arg)->ev.v[i];

	return b->error == NULL && e->error == NULL &&
	    compare_entry(e, b) == 0;
}

/* A copy the delta owns (its rule name and package owner stay the
 * baseline's, which outlives it). */
static int
delta_baseline_entry(const void *arg, size_t i, struct entry *e,
    struct strlist *rules, struct pkg_owners *owners)
{
	const struct entry *b = &((const struct baseline *)arg)->ev.v[i];

	(void)rules;
	(void)owners;
	*e = *b;
	e->path = xstrdup(b->path);
	e->target = b->target ? xstrdup(b->target) : NULL;
	e->xattrs = b->xattrs ? xstrdup(b->xattrs) : NULL;
	e->error = b->error ? xstrdup(b->error) : NULL;
	e->pkgsum = b->pkgsum ? xstrdup(b->pkgsum) : NULL;
	return 0;
}

void
delta_from_baseline(struct delta_base *d, const struct baseline *b)
{
	*d = (struct delta_base){ b->ev.n, delta_baseline_find,
	    delta_baseline_same, delta_baseline_entry, b };
}

/* Steps 1 and 2, into d (delta_free it). Entries moved into d->cand
 * are left zeroed in now. Returns -1 if a record could not be read
 * again (a compact index reads records again from the file). */
int
delta_split(const struct delta_base *x, struct entryvec *now,
    struct delta *d)
{
	unsigned char *seen = xcalloc(x->n + 1, 1);
	size_t idx;
	int r = 0;

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < now->n; i++) {
		struct entry *e = &now->v[i];
		int found = e->path != NULL && x->find(x->arg, e->path, &idx);

		if (e->path == NULL)
			continue;
		if (found)
			seen[idx] = 1;
		if (found && x->same(x->arg, idx, e))
			continue;
		*entryvec_add(&d->cand) = *e;
		memset(e, 0, sizeof(*e));	/* moved */
		if (found)
			seen[idx] = 2;
	}
	for (size_t i = 0; r == 0 && i < x->n; i++)
		if (seen[i] != 1 && x->entry(x->arg, i,
		    entryvec_add(&d->b.ev), &d->b.rules, &d->b.owners) < 0)
			r = -1;
	free(seen);
	baseline_index(&d->b);
	return r;
}

/* Step 3 (and the package digest of files given a pkg_algo). */
void
delta_confirm(struct delta *d, const struct state *s)
{
	struct scan_opts so = { .secret = s->xxh_secret, .sha = 1,
	    .pkg = 1 };

	for (size_t i = 0; i < d->cand.n; i++) {
		struct entry *e = &d->cand.v[i];

		if (e->type != ENTRY_FILE || e->error != NULL ||
		    !compare_need_sha(&d->b, e))
			continue;
		if (scan_file(e, &so) < 0 && e->error == NULL)
			e->error = xstrdup("vanished while being checked");
	}
}

/* Step 4. */
void
delta_compare(struct delta *d)
{
	compare_run(&d->b, &d->cand, &d->ch);
}

/* All four: the changes between the scanned tree now and the baseline
 * view x, in d. Returns 0, or -1 as delta_split. */
int
delta_run(const struct delta_base *x, struct entryvec *now,
    const struct state *s, struct delta *d)
{
	if (delta_split(x, now, d) < 0)
		return -1;
	delta_confirm(d, s);
	delta_compare(d);
	return 0;
}

void
delta_free(struct delta *d)
{
	changes_free(&d->ch);
	entryvec_free(&d->cand);
	baseline_free(&d->b);
}
