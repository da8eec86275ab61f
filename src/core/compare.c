/* The comparison behind check and approve. What counts as a change is
 * what changes the file's meaning or its protection: content, type,
 * permissions, owner, symlink target, security xattrs, and (for
 * non-directories) the link count, which betrays a hard link planted
 * elsewhere. Times and inode numbers alone are not changes: an editor
 * or package manager that rewrites identical bytes changes them, and
 * reporting that would train people to ignore the report. */
#include <stdlib.h>
#include <string.h>

#include "core/compare.h"
#include "core/util.h"

static const char *compare_action_names[CMP_NACTIONS] = {
	"modified", "created", "deleted", "renamed", "attributes-changed",
	"scan-failed"
};

static const char *compare_what_names[] = {
	"content", "type", "mode", "uid", "gid", "target", "xattrs", "nlink"
};

const char *
compare_action_name(int a)
{
	return a >= 0 && a < CMP_NACTIONS ? compare_action_names[a] : "?";
}

const char *
compare_what_name(unsigned bit)
{
	for (unsigned i = 0; i < 8; i++)
		if (bit == 1u << i)
			return compare_what_names[i];
	return "?";
}

static int
compare_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Content differs? Equal XXH3 under the same key says no; otherwise
 * SHA-256 decides where both sides have it (compare_need_sha asked for
 * it): an xxh.key that no longer matches the baseline's (damaged, or
 * replaced) makes every XXH3 differ, and that is no change of content.
 * Without SHA-256 on one side, a differing XXH3 is a change; and where
 * only one side has XXH3 (e.g. read error at init), that is one too. */
static int
compare_content(const struct entry *now, const struct entry *base)
{
	if (now->has_xxh && base->has_xxh &&
	    memcmp(now->xxh, base->xxh, sizeof(now->xxh)) == 0)
		return 0;
	if (now->has_sha && base->has_sha)
		return memcmp(now->sha, base->sha, sizeof(now->sha)) != 0;
	if (now->has_xxh && base->has_xxh)
		return 1;
	return now->has_xxh != base->has_xxh;
}

unsigned
compare_entry(const struct entry *now, const struct entry *base)
{
	unsigned w = 0;

	if (now->type != base->type)
		return CMP_TYPE;
	if (now->type == ENTRY_FILE && compare_content(now, base))
		w |= CMP_CONTENT;
	if ((now->type == ENTRY_CHARDEV || now->type == ENTRY_BLOCKDEV) &&
	    now->size != base->size)
		w |= CMP_CONTENT;	/* device number */
	if (now->mode != base->mode)
		w |= CMP_MODE;
	if (now->uid != base->uid)
		w |= CMP_UID;
	if (now->gid != base->gid)
		w |= CMP_GID;
	if (compare_str(now->target, base->target))
		w |= CMP_TARGET;
	if (compare_str(now->xattrs, base->xattrs))
		w |= CMP_XATTRS;
	if (now->type != ENTRY_DIR && now->nlink != base->nlink)
		w |= CMP_NLINK;
	return w;
}

/* After the XXH3 scan: SHA-256 is computed only where the content
 * differs from the baseline or the file is new (a new file's SHA-256
 * pairs it with a deleted one as a rename). */
int
compare_need_sha(const struct baseline *b, const struct entry *e)
{
	struct entry *old;

	if (!baseline_find(b, e->path, &old))
		return 1;
	return old->type != ENTRY_FILE || !old->has_xxh ||
	    memcmp(old->xxh, e->xxh, sizeof(e->xxh)) != 0;
}

static void
changes_add(struct changes *c, int action, unsigned what,
    const struct entry *now, const struct entry *base)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	c->v[c->n++] = (struct change){ .action = action, .what = what,
	    .now = now, .base = base };
	c->count[action]++;
}

void
changes_free(struct changes *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static const char *
compare_path(const struct change *c)
{
	return c->now ? c->now->path : c->base->path;
}

static int
compare_change_cmp(const void *a, const void *b)
{
	return strcmp(compare_path(a), compare_path(b));
}

/* Created regular files with a SHA-256, sorted by it, so each deleted
 * file finds its candidates with a binary search. */
struct compare_cand {
	const uint8_t	*sha;
	size_t		 slot;		/* index into created[] */
};

static int
compare_cand_cmp(const void *a, const void *b)
{
	const struct compare_cand *x = a, *y = b;
	int c = memcmp(x->sha, y->sha, 32);

	if (c != 0)
		return c;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* First candidate with this SHA-256 not paired yet, or SIZE_MAX. */
static size_t
compare_find_cand(const struct compare_cand *c, size_t n, const uint8_t *sha,
    const size_t *created)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(c[mid].sha, sha, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && memcmp(c[lo].sha, sha, 32) == 0; lo++)
		if (created[c[lo].slot] != SIZE_MAX)
			return c[lo].slot;
	return SIZE_MAX;
}

/* Pair deleted and created regular files with the same SHA-256, one to
 * one (several files may share content: all empty files do), as
 * renames. created/gone index into now/b; paired ones are cleared. */
static void
compare_renames(const struct baseline *b, const struct entryvec *now,
    size_t *created, size_t nc, unsigned char *gone, struct changes *out)
{
	struct compare_cand *cand = xcalloc(nc + 1, sizeof(*cand));
	size_t ncand = 0;

	for (size_t i = 0; i < nc; i++) {
		const struct entry *e = &now->v[created[i]];

		if (e->type == ENTRY_FILE && e->has_sha)
			cand[ncand++] = (struct compare_cand){ e->sha, i };
	}
	qsort(cand, ncand, sizeof(*cand), compare_cand_cmp);
	for (size_t i = 0; ncand > 0 && i < b->ev.n; i++) {
		const struct entry *old = &b->ev.v[i];
		size_t k;

		if (!gone[i] || old->type != ENTRY_FILE || !old->has_sha ||
		    (k = compare_find_cand(cand, ncand, old->sha, created)) ==
		    SIZE_MAX)
			continue;
		changes_add(out, CMP_RENAMED, compare_entry(&now->v[created[k]],
		    old) & ~(unsigned)CMP_NLINK, &now->v[created[k]], old);
		created[k] = SIZE_MAX;
		gone[i] = 0;
	}
	free(cand);
}

static void
compare_present(const struct baseline *b, const struct entry *e,
    unsigned char *gone, size_t *created, size_t *nc, size_t idx,
    struct changes *out)
{
	struct entry *old;
	size_t bi;
	unsigned w;

	if (!htab_get(&b->idx, e->path, &bi)) {
		created[(*nc)++] = idx;
		return;
	}
	old = &b->ev.v[bi];
	gone[bi] = 0;
	if (e->error != NULL) {
		/* Content is unknown, but metadata read before the failure
		 * (a chmod 000 is what made it unreadable) is still said. */
		changes_add(out, CMP_SCAN_FAILED, e->unstat ? 0 :
		    compare_entry(e, old) & ~(unsigned)CMP_CONTENT, e, old);
		return;
	}
	w = compare_entry(e, old);
	if (w & (CMP_CONTENT | CMP_TYPE))
		changes_add(out, CMP_MODIFIED, w, e, old);
	else if (w != 0)
		changes_add(out, CMP_ATTRS, w, e, old);
}

/* Fill out with every difference between b and now, sorted by path.
 * The changes point into b and now, which must outlive them. */
void
compare_run(const struct baseline *b, const struct entryvec *now,
    struct changes *out)
{
	unsigned char *gone = xmalloc(b->ev.n + 1);
	size_t *created = xmalloc((now->n + 1) * sizeof(size_t)), nc = 0;

	memset(out, 0, sizeof(*out));
	memset(gone, 1, b->ev.n + 1);
	for (size_t i = 0; i < now->n; i++)
		compare_present(b, &now->v[i], gone, created, &nc, i, out);
	compare_renames(b, now, created, nc, gone, out);
	for (size_t i = 0; i < nc; i++)
		if (created[i] != SIZE_MAX)
			changes_add(out, now->v[created[i]].error ?
			    CMP_SCAN_FAILED : CMP_CREATED, 0,
			    &now->v[created[i]], NULL);
	for (size_t i = 0; i < b->ev.n; i++)
		if (gone[i])
			changes_add(out, CMP_DELETED, 0, NULL, &b->ev.v[i]);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), compare_change_cmp);
	free(created);
	free(gone);
}
