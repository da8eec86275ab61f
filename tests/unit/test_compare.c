/* Unit tests for src/compare.c: which field changes count (and as
 * which bit), and how compare_run classifies a whole scan against a
 * baseline: modified, attributes-changed, created, deleted, renamed
 * (one-to-one by SHA-256) and scan-failed. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/baseline.h"
#include "core/compare.h"
#include "core/util.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

static void
set_content(struct entry *e, uint8_t c)
{
	memset(e->xxh, c, sizeof(e->xxh));
	memset(e->sha, c, sizeof(e->sha));
	e->has_xxh = e->has_sha = 1;
}

static struct entry *
mk(struct entryvec *ev, const char *path, int type, uint8_t content)
{
	struct entry *e = entryvec_add(ev);

	e->path = xstrdup(path);
	e->rule = "r";
	e->type = type;
	e->mode = type == ENTRY_DIR ? 0755 : 0644;
	e->uid = 1;
	e->gid = 2;
	e->nlink = type == ENTRY_DIR ? 2 : 1;
	e->size = 10;
	e->ino = 5;
	e->dev = 7;
	e->mtime_ns = 100;
	e->ctime_ns = 100;
	if (type == ENTRY_FILE)
		set_content(e, content);
	if (type == ENTRY_SYMLINK)
		e->target = xstrdup("/target");
	return e;
}

/* A copy with its own strings. */
static void
copy_entry(struct entry *dst, const struct entry *src)
{
	*dst = *src;
	dst->path = xstrdup(src->path);
	dst->target = src->target ? xstrdup(src->target) : NULL;
	dst->xattrs = src->xattrs ? xstrdup(src->xattrs) : NULL;
	dst->error = src->error ? xstrdup(src->error) : NULL;
}

static void
replace_str(char **p, const char *s)
{
	free(*p);
	*p = s ? xstrdup(s) : NULL;
}

/* ---- compare_entry ---- */

enum op {
	OP_NONE, OP_MTIME, OP_CTIME, OP_INODE, OP_DEV, OP_TIMES_INODE,
	OP_XXH, OP_SHA_ONLY, OP_XXH_ONLY, OP_NOXXH_SHA, OP_NOXXH_SAME, OP_BASE_NOHASH,
	OP_NOW_NOHASH, OP_NEITHER_HASH, OP_NOW_SHAONLY_SAME,
	OP_NOW_SHAONLY_DIFF, OP_MODE, OP_SUID, OP_UID, OP_GID, OP_TO_DIR,
	OP_TO_SYMLINK, OP_TARGET, OP_TARGET_NULL, OP_XATTR, OP_XATTR_ADD,
	OP_XATTR_DEL, OP_NLINK, OP_SIZE, OP_MODE_UID_GID, OP_CONTENT_MODE,
	OP_TYPE_AND_MODE, OP_ALL_ATTRS
};

struct cmp_case {
	const char	*name;
	int		 type;		/* of both entries */
	enum op		 op;
	unsigned	 want;
};

static const struct cmp_case cmp_cases[] = {
	{ "identical file", ENTRY_FILE, OP_NONE, 0 },
	{ "identical dir", ENTRY_DIR, OP_NONE, 0 },
	{ "identical symlink", ENTRY_SYMLINK, OP_NONE, 0 },
	{ "mtime only", ENTRY_FILE, OP_MTIME, 0 },
	{ "ctime only", ENTRY_FILE, OP_CTIME, 0 },
	{ "inode only", ENTRY_FILE, OP_INODE, 0 },
	{ "dev only", ENTRY_FILE, OP_DEV, 0 },
	{ "times and inode", ENTRY_FILE, OP_TIMES_INODE, 0 },
	{ "dir times and inode", ENTRY_DIR, OP_TIMES_INODE, 0 },
	{ "symlink times and inode", ENTRY_SYMLINK, OP_TIMES_INODE, 0 },
	{ "content (xxh3)", ENTRY_FILE, OP_XXH, CMP_CONTENT },
	{ "xxh3 decides over sha", ENTRY_FILE, OP_SHA_ONLY, 0 },
	{ "xxh3 differs, sha same (another key)", ENTRY_FILE, OP_XXH_ONLY, 0 },
	{ "no xxh3: sha differs", ENTRY_FILE, OP_NOXXH_SHA, CMP_CONTENT },
	{ "no xxh3: sha same", ENTRY_FILE, OP_NOXXH_SAME, 0 },
	{ "base had no hash", ENTRY_FILE, OP_BASE_NOHASH, CMP_CONTENT },
	{ "now has no hash", ENTRY_FILE, OP_NOW_NOHASH, CMP_CONTENT },
	{ "neither has a hash", ENTRY_FILE, OP_NEITHER_HASH, 0 },
	{ "now sha only, same", ENTRY_FILE, OP_NOW_SHAONLY_SAME, 0 },
	{ "now sha only, differs", ENTRY_FILE, OP_NOW_SHAONLY_DIFF,
	  CMP_CONTENT },
	{ "mode", ENTRY_FILE, OP_MODE, CMP_MODE },
	{ "setuid bit", ENTRY_FILE, OP_SUID, CMP_MODE },
	{ "dir mode", ENTRY_DIR, OP_MODE, CMP_MODE },
	{ "symlink mode", ENTRY_SYMLINK, OP_MODE, CMP_MODE },
	{ "uid", ENTRY_FILE, OP_UID, CMP_UID },
	{ "gid", ENTRY_FILE, OP_GID, CMP_GID },
	{ "dir uid", ENTRY_DIR, OP_UID, CMP_UID },
	{ "file -> dir", ENTRY_FILE, OP_TO_DIR, CMP_TYPE },
	{ "file -> symlink", ENTRY_FILE, OP_TO_SYMLINK, CMP_TYPE },
	{ "type change hides the rest", ENTRY_FILE, OP_TYPE_AND_MODE,
	  CMP_TYPE },
	{ "symlink target", ENTRY_SYMLINK, OP_TARGET, CMP_TARGET },
	{ "symlink target gone", ENTRY_SYMLINK, OP_TARGET_NULL, CMP_TARGET },
	{ "xattr value", ENTRY_FILE, OP_XATTR, CMP_XATTRS },
	{ "xattr added", ENTRY_FILE, OP_XATTR_ADD, CMP_XATTRS },
	{ "xattr removed", ENTRY_FILE, OP_XATTR_DEL, CMP_XATTRS },
	{ "dir xattr added", ENTRY_DIR, OP_XATTR_ADD, CMP_XATTRS },
	{ "file nlink", ENTRY_FILE, OP_NLINK, CMP_NLINK },
	{ "dir nlink ignored", ENTRY_DIR, OP_NLINK, 0 },
	{ "symlink nlink", ENTRY_SYMLINK, OP_NLINK, CMP_NLINK },
	{ "fifo nlink", ENTRY_FIFO, OP_NLINK, CMP_NLINK },
	{ "dir size ignored", ENTRY_DIR, OP_SIZE, 0 },
	{ "fifo size ignored", ENTRY_FIFO, OP_SIZE, 0 },
	{ "chardev number", ENTRY_CHARDEV, OP_SIZE, CMP_CONTENT },
	{ "blockdev number", ENTRY_BLOCKDEV, OP_SIZE, CMP_CONTENT },
	{ "dir hash ignored", ENTRY_DIR, OP_XXH, 0 },
	{ "mode uid gid", ENTRY_FILE, OP_MODE_UID_GID,
	  CMP_MODE | CMP_UID | CMP_GID },
	{ "content and mode", ENTRY_FILE, OP_CONTENT_MODE,
	  CMP_CONTENT | CMP_MODE },
	{ "every attribute of a symlink", ENTRY_SYMLINK, OP_ALL_ATTRS,
	  CMP_MODE | CMP_UID | CMP_GID | CMP_TARGET | CMP_XATTRS | CMP_NLINK },
};

static void
apply(struct entry *now, struct entry *base, enum op op)
{
	switch (op) {
	case OP_NONE:
		break;
	case OP_MTIME:
		now->mtime_ns += 1;
		break;
	case OP_CTIME:
		now->ctime_ns = -5;
		break;
	case OP_INODE:
		now->ino = 999;
		break;
	case OP_DEV:
		now->dev = 8;
		break;
	case OP_TIMES_INODE:
		now->mtime_ns = 1;
		now->ctime_ns = 2;
		now->ino = 3;
		break;
	case OP_XXH:
		now->xxh[15] ^= 1;
		now->sha[0] ^= 1;
		break;
	case OP_SHA_ONLY:
		now->sha[0] ^= 1;
		break;
	case OP_XXH_ONLY:
		now->xxh[3] ^= 1;
		break;
	case OP_NOXXH_SHA:
		now->has_xxh = base->has_xxh = 0;
		now->sha[31] ^= 1;
		break;
	case OP_NOXXH_SAME:
		now->has_xxh = base->has_xxh = 0;
		now->xxh[0] ^= 1;	/* ignored: not present */
		break;
	case OP_BASE_NOHASH:
		base->has_xxh = base->has_sha = 0;
		break;
	case OP_NOW_NOHASH:
		now->has_xxh = now->has_sha = 0;
		break;
	case OP_NEITHER_HASH:
		now->has_xxh = now->has_sha = 0;
		base->has_xxh = base->has_sha = 0;
		now->xxh[0] ^= 1;
		break;
	case OP_NOW_SHAONLY_SAME:
		now->has_xxh = 0;
		now->xxh[0] ^= 1;
		break;
	case OP_NOW_SHAONLY_DIFF:
		now->has_xxh = 0;
		now->sha[5] ^= 1;
		break;
	case OP_MODE:
		now->mode = 0600;
		break;
	case OP_SUID:
		now->mode |= 04000;
		break;
	case OP_UID:
		now->uid = 0;
		break;
	case OP_GID:
		now->gid = 0;
		break;
	case OP_TO_DIR:
		now->type = ENTRY_DIR;
		break;
	case OP_TO_SYMLINK:
		now->type = ENTRY_SYMLINK;
		replace_str(&now->target, "/x");
		break;
	case OP_TYPE_AND_MODE:
		now->type = ENTRY_DIR;
		now->mode = 0777;
		now->uid = 99;
		break;
	case OP_TARGET:
		replace_str(&now->target, "/elsewhere");
		break;
	case OP_TARGET_NULL:
		replace_str(&now->target, NULL);
		break;
	case OP_XATTR:
		replace_str(&base->xattrs, "security.selinux\tYQ==\n");
		replace_str(&now->xattrs, "security.selinux\tYg==\n");
		break;
	case OP_XATTR_ADD:
		replace_str(&now->xattrs, "system.posix_acl_access\tAgAAAA==\n");
		break;
	case OP_XATTR_DEL:
		replace_str(&base->xattrs, "security.ima\tAQ==\n");
		break;
	case OP_NLINK:
		now->nlink += 1;
		break;
	case OP_SIZE:
		now->size += 1;
		break;
	case OP_MODE_UID_GID:
		now->mode = 0666;
		now->uid = 3;
		now->gid = 4;
		break;
	case OP_CONTENT_MODE:
		now->xxh[0] ^= 0xff;
		now->sha[0] ^= 0xff;
		now->mode = 0755;
		break;
	case OP_ALL_ATTRS:
		now->mode = 0700;
		now->uid = 0;
		now->gid = 0;
		replace_str(&now->target, "/t2");
		replace_str(&now->xattrs, "security.selinux\tYQ==\n");
		now->nlink = 2;
		now->mtime_ns = 5;
		break;
	}
}

static void
test_compare_entry(void **state)
{
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < N(cmp_cases); i++) {
		const struct cmp_case *c = &cmp_cases[i];
		struct entryvec ev = { 0 };
		struct entry *base = mk(&ev, "/x", c->type, 0x11), now;
		unsigned got;

		copy_entry(&now, base);
		apply(&now, base, c->op);
		got = compare_entry(&now, base);
		if (got != c->want) {
			print_error("%s: got 0x%x, want 0x%x\n", c->name, got,
			    c->want);
			failed++;
		}
		entry_free(&now);
		entryvec_free(&ev);
	}
	assert_int_equal(failed, 0);
}

static void
test_names(void **state)
{
	static const struct { unsigned bit; const char *name; } what[] = {
		{ CMP_CONTENT, "content" }, { CMP_TYPE, "type" },
		{ CMP_MODE, "mode" }, { CMP_UID, "uid" }, { CMP_GID, "gid" },
		{ CMP_TARGET, "target" }, { CMP_XATTRS, "xattrs" },
		{ CMP_NLINK, "nlink" }, { 0, "?" }, { CMP_MODE | CMP_UID, "?" },
		{ 1u << 8, "?" }, { 1u << 31, "?" },
	};
	static const struct { int a; const char *name; } act[] = {
		{ CMP_MODIFIED, "modified" }, { CMP_CREATED, "created" },
		{ CMP_DELETED, "deleted" }, { CMP_RENAMED, "renamed" },
		{ CMP_ATTRS, "attributes-changed" },
		{ CMP_SCAN_FAILED, "scan-failed" }, { CMP_NACTIONS, "?" },
		{ -1, "?" },
	};

	(void)state;
	for (size_t i = 0; i < N(what); i++)
		assert_string_equal(compare_what_name(what[i].bit),
		    what[i].name);
	for (size_t i = 0; i < N(act); i++)
		assert_string_equal(compare_action_name(act[i].a), act[i].name);
}

/* ---- compare_run ---- */

static void
baseline_ready(struct baseline *b)
{
	entryvec_sort(&b->ev);
	baseline_index(b);
}

struct want_change {
	const char	*path;		/* now's path, else base's */
	int		 action;
	unsigned	 what;
	const char	*base_path;	/* NULL: no base (created) */
	int		 has_now;
};

static void
assert_changes(const struct changes *c, const struct want_change *w,
    size_t n)
{
	size_t count[CMP_NACTIONS] = { 0 };

	if (c->n != n) {
		for (size_t i = 0; i < c->n; i++)
			print_error("  got %s %s\n",
			    compare_action_name(c->v[i].action),
			    c->v[i].now ? c->v[i].now->path :
			    c->v[i].base->path);
		fail_msg("%zu changes, expected %zu", c->n, n);
	}
	for (size_t i = 0; i < n; i++) {
		const struct change *ch = &c->v[i];
		const char *p = ch->now ? ch->now->path : ch->base->path;

		if (strcmp(p, w[i].path) != 0 || ch->action != w[i].action ||
		    ch->what != w[i].what)
			fail_msg("change %zu: %s %s 0x%x, expected %s %s 0x%x",
			    i, compare_action_name(ch->action), p, ch->what,
			    compare_action_name(w[i].action), w[i].path,
			    w[i].what);
		if (w[i].has_now)
			assert_non_null(ch->now);
		else
			assert_null(ch->now);
		if (w[i].base_path == NULL)
			assert_null(ch->base);
		else {
			assert_non_null(ch->base);
			assert_string_equal(ch->base->path, w[i].base_path);
		}
		count[w[i].action]++;
	}
	for (int a = 0; a < CMP_NACTIONS; a++)
		if (c->count[a] != count[a])
			fail_msg("count[%s] = %zu, expected %zu",
			    compare_action_name(a), c->count[a], count[a]);
}

static void
test_run_mixed(void **state)
{
	struct baseline b;
	struct entryvec now = { 0 };
	struct changes c;
	struct entry *e;
	const struct want_change want[] = {
		{ "/b", CMP_MODIFIED, CMP_CONTENT, "/b", 1 },
		{ "/c2", CMP_RENAMED, 0, "/c", 1 },
		{ "/d", CMP_ATTRS, CMP_MODE, "/d", 1 },
		{ "/e", CMP_ATTRS, CMP_MODE | CMP_UID, "/e", 1 },
		{ "/f", CMP_SCAN_FAILED, 0, "/f", 1 },
		{ "/g", CMP_DELETED, 0, "/g", 0 },
		{ "/h", CMP_CREATED, 0, NULL, 1 },
		{ "/i", CMP_SCAN_FAILED, 0, NULL, 1 },
		{ "/j", CMP_MODIFIED, CMP_TYPE, "/j", 1 },
		{ "/k", CMP_ATTRS, CMP_NLINK, "/k", 1 },
		{ "/l", CMP_MODIFIED, CMP_CONTENT | CMP_GID, "/l", 1 },
	};

	(void)state;
	memset(&b, 0, sizeof(b));
	mk(&b.ev, "/a", ENTRY_FILE, 1);
	mk(&b.ev, "/b", ENTRY_FILE, 2);
	mk(&b.ev, "/c", ENTRY_FILE, 3);
	mk(&b.ev, "/d", ENTRY_DIR, 0);
	mk(&b.ev, "/e", ENTRY_FILE, 5);
	mk(&b.ev, "/f", ENTRY_FILE, 6);
	mk(&b.ev, "/g", ENTRY_FILE, 7);
	mk(&b.ev, "/j", ENTRY_FILE, 8);
	mk(&b.ev, "/k", ENTRY_FILE, 9);
	mk(&b.ev, "/l", ENTRY_FILE, 10);
	mk(&b.ev, "/m", ENTRY_SYMLINK, 0);
	baseline_ready(&b);

	/* now, deliberately not sorted */
	mk(&now, "/m", ENTRY_SYMLINK, 0)->mtime_ns = 555;	/* silent */
	mk(&now, "/i", ENTRY_FILE, 0);
	now.v[now.n - 1].has_xxh = now.v[now.n - 1].has_sha = 0;
	now.v[now.n - 1].error = xstrdup("open: Permission denied");
	mk(&now, "/a", ENTRY_FILE, 1)->ino = 77;		/* silent */
	mk(&now, "/b", ENTRY_FILE, 0x22);
	mk(&now, "/c2", ENTRY_FILE, 3);
	e = mk(&now, "/d", ENTRY_DIR, 0);
	e->mode = 0700;
	e->nlink = 9;					/* dirs: ignored */
	e = mk(&now, "/e", ENTRY_FILE, 5);
	e->mode = 0666;
	e->uid = 0;
	e = mk(&now, "/f", ENTRY_FILE, 0x66);
	e->error = xstrdup("read: Input/output error");
	mk(&now, "/h", ENTRY_FILE, 0x88);
	mk(&now, "/j", ENTRY_DIR, 0);
	mk(&now, "/k", ENTRY_FILE, 9)->nlink = 2;
	e = mk(&now, "/l", ENTRY_FILE, 0x10);
	e->gid = 1000;

	compare_run(&b, &now, &c);
	assert_changes(&c, want, N(want));
	assert_int_equal(c.count[CMP_MODIFIED], 3);
	assert_int_equal(c.count[CMP_CREATED], 1);
	assert_int_equal(c.count[CMP_DELETED], 1);
	assert_int_equal(c.count[CMP_RENAMED], 1);
	assert_int_equal(c.count[CMP_ATTRS], 3);
	assert_int_equal(c.count[CMP_SCAN_FAILED], 2);
	changes_free(&c);
	assert_int_equal(c.n, 0);
	assert_null(c.v);
	entryvec_free(&now);
	baseline_free(&b);
}

static void
test_run_nothing(void **state)
{
	struct baseline b;
	struct entryvec now = { 0 };
	struct changes c;

	(void)state;
	memset(&b, 0, sizeof(b));
	baseline_ready(&b);
	compare_run(&b, &now, &c);
	assert_int_equal(c.n, 0);
	for (int a = 0; a < CMP_NACTIONS; a++)
		assert_int_equal(c.count[a], 0);
	changes_free(&c);

	/* everything new */
	mk(&now, "/z", ENTRY_FILE, 1);
	mk(&now, "/y", ENTRY_DIR, 0);
	mk(&now, "/x", ENTRY_SYMLINK, 0);
	compare_run(&b, &now, &c);
	{
		const struct want_change want[] = {
			{ "/x", CMP_CREATED, 0, NULL, 1 },
			{ "/y", CMP_CREATED, 0, NULL, 1 },
			{ "/z", CMP_CREATED, 0, NULL, 1 },
		};

		assert_changes(&c, want, N(want));
	}
	changes_free(&c);

	/* everything gone */
	baseline_free(&b);
	memset(&b, 0, sizeof(b));
	for (size_t i = 0; i < now.n; i++)
		copy_entry(entryvec_add(&b.ev), &now.v[i]);
	baseline_ready(&b);
	entryvec_free(&now);
	compare_run(&b, &now, &c);
	{
		const struct want_change want[] = {
			{ "/x", CMP_DELETED, 0, "/x", 0 },
			{ "/y", CMP_DELETED, 0, "/y", 0 },
			{ "/z", CMP_DELETED, 0, "/z", 0 },
		};

		assert_changes(&c, want, N(want));
	}
	changes_free(&c);

	/* identical: many entries, nothing to say */
	for (int i = 0; i < 3000; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/many/%04d", i);
		mk(&now, p, i % 3 ? ENTRY_FILE : ENTRY_DIR, (uint8_t)i);
	}
	baseline_free(&b);
	memset(&b, 0, sizeof(b));
	for (size_t i = 0; i < now.n; i++) {
		copy_entry(entryvec_add(&b.ev), &now.v[i]);
		now.v[i].mtime_ns = 12345;		/* touched */
		now.v[i].ctime_ns = 12345;
	}
	baseline_ready(&b);
	compare_run(&b, &now, &c);
	assert_int_equal(c.n, 0);
	changes_free(&c);
	entryvec_free(&now);
	baseline_free(&b);
}

/* Renames pair a deleted and a created regular file with the same
 * SHA-256, each at most once; what else changed is kept, except the
 * link count. */
static void
test_run_renames(void **state)
{
	struct baseline b;
	struct entryvec now = { 0 };
	struct changes c;
	struct entry *e;

	(void)state;
	memset(&b, 0, sizeof(b));
	mk(&b.ev, "/old1", ENTRY_FILE, 1);
	mk(&b.ev, "/oldlink", ENTRY_SYMLINK, 0);
	mk(&b.ev, "/olddir", ENTRY_DIR, 0);
	mk(&b.ev, "/oldnosha", ENTRY_FILE, 4)->has_sha = 0;
	mk(&b.ev, "/oldmode", ENTRY_FILE, 5);
	mk(&b.ev, "/oldfifo", ENTRY_FIFO, 0);
	baseline_ready(&b);

	/* two new files with /old1's content: only one is the rename */
	mk(&now, "/new1a", ENTRY_FILE, 1);
	mk(&now, "/new1b", ENTRY_FILE, 1);
	mk(&now, "/newlink", ENTRY_SYMLINK, 0);		/* same target */
	mk(&now, "/newdir", ENTRY_DIR, 0);
	mk(&now, "/newnosha", ENTRY_FILE, 4);
	e = mk(&now, "/newmode", ENTRY_FILE, 5);
	e->mode = 04755;
	e->nlink = 3;				/* not reported on renames */
	mk(&now, "/newfifo", ENTRY_FIFO, 0);
	compare_run(&b, &now, &c);
	{
		const struct want_change want[] = {
			{ "/new1a", CMP_RENAMED, 0, "/old1", 1 },
			{ "/new1b", CMP_CREATED, 0, NULL, 1 },
			{ "/newdir", CMP_CREATED, 0, NULL, 1 },
			{ "/newfifo", CMP_CREATED, 0, NULL, 1 },
			{ "/newlink", CMP_CREATED, 0, NULL, 1 },
			{ "/newmode", CMP_RENAMED, CMP_MODE, "/oldmode", 1 },
			{ "/newnosha", CMP_CREATED, 0, NULL, 1 },
			{ "/olddir", CMP_DELETED, 0, "/olddir", 0 },
			{ "/oldfifo", CMP_DELETED, 0, "/oldfifo", 0 },
			{ "/oldlink", CMP_DELETED, 0, "/oldlink", 0 },
			{ "/oldnosha", CMP_DELETED, 0, "/oldnosha", 0 },
		};

		assert_changes(&c, want, N(want));
	}
	changes_free(&c);
	entryvec_free(&now);
	baseline_free(&b);

	/* two deleted, one created with that content: one rename, and the
	 * other is deleted; a created file whose content matches nothing
	 * deleted stays created */
	memset(&b, 0, sizeof(b));
	mk(&b.ev, "/a1", ENTRY_FILE, 9);
	mk(&b.ev, "/a2", ENTRY_FILE, 9);
	mk(&b.ev, "/keep", ENTRY_FILE, 7);
	baseline_ready(&b);
	mk(&now, "/keep", ENTRY_FILE, 7);
	mk(&now, "/b1", ENTRY_FILE, 9);
	mk(&now, "/copy-of-keep", ENTRY_FILE, 7);
	compare_run(&b, &now, &c);
	{
		const struct want_change want[] = {
			{ "/a2", CMP_DELETED, 0, "/a2", 0 },
			{ "/b1", CMP_RENAMED, 0, "/a1", 1 },
			{ "/copy-of-keep", CMP_CREATED, 0, NULL, 1 },
		};

		assert_changes(&c, want, N(want));
	}
	changes_free(&c);
	entryvec_free(&now);
	baseline_free(&b);

	/* a created file that could not be read is scan-failed, never a
	 * rename target */
	memset(&b, 0, sizeof(b));
	mk(&b.ev, "/gone", ENTRY_FILE, 3);
	baseline_ready(&b);
	e = mk(&now, "/unreadable", ENTRY_FILE, 3);
	e->has_sha = e->has_xxh = 0;
	e->error = xstrdup("open: Permission denied");
	compare_run(&b, &now, &c);
	{
		const struct want_change want[] = {
			{ "/gone", CMP_DELETED, 0, "/gone", 0 },
			{ "/unreadable", CMP_SCAN_FAILED, 0, NULL, 1 },
		};

		assert_changes(&c, want, N(want));
	}
	changes_free(&c);
	entryvec_free(&now);
	baseline_free(&b);
}

/* Changes are sorted by path bytes, whatever their kind. */
static void
test_run_sorted(void **state)
{
	struct baseline b;
	struct entryvec now = { 0 };
	struct changes c;

	(void)state;
	memset(&b, 0, sizeof(b));
	mk(&b.ev, "/m", ENTRY_FILE, 1);
	mk(&b.ev, "/\xff", ENTRY_FILE, 2);
	mk(&b.ev, "/b", ENTRY_FILE, 3);
	baseline_ready(&b);
	mk(&now, "/z", ENTRY_FILE, 4);
	mk(&now, "/a", ENTRY_FILE, 5);
	mk(&now, "/m", ENTRY_FILE, 6);
	mk(&now, "/b", ENTRY_FILE, 3)->mode = 0;
	compare_run(&b, &now, &c);
	assert_int_equal(c.n, 5);
	for (size_t i = 1; i < c.n; i++) {
		const char *p = c.v[i - 1].now ? c.v[i - 1].now->path :
		    c.v[i - 1].base->path;
		const char *q = c.v[i].now ? c.v[i].now->path :
		    c.v[i].base->path;

		assert_true(strcmp(p, q) < 0);
	}
	changes_free(&c);
	entryvec_free(&now);
	baseline_free(&b);
}

static void
test_need_sha(void **state)
{
	struct baseline b;
	struct entryvec now = { 0 };
	struct entry *e;

	(void)state;
	memset(&b, 0, sizeof(b));
	mk(&b.ev, "/same", ENTRY_FILE, 1);
	mk(&b.ev, "/changed", ENTRY_FILE, 2);
	mk(&b.ev, "/noxxh", ENTRY_FILE, 3)->has_xxh = 0;
	mk(&b.ev, "/wasdir", ENTRY_DIR, 0);
	baseline_ready(&b);

	e = mk(&now, "/same", ENTRY_FILE, 1);
	e->has_sha = 0;
	assert_int_equal(compare_need_sha(&b, e), 0);
	e = mk(&now, "/changed", ENTRY_FILE, 0x20);
	assert_int_equal(compare_need_sha(&b, e), 1);
	e = mk(&now, "/noxxh", ENTRY_FILE, 3);
	assert_int_equal(compare_need_sha(&b, e), 1);
	e = mk(&now, "/wasdir", ENTRY_FILE, 4);
	assert_int_equal(compare_need_sha(&b, e), 1);
	e = mk(&now, "/new", ENTRY_FILE, 5);
	assert_int_equal(compare_need_sha(&b, e), 1);
	entryvec_free(&now);
	baseline_free(&b);
}

/* Moving a directory of identical files (empty files all share one
 * SHA-256) should give one rename per file, not one rename plus
 * created/deleted pairs: the pairing stops at the first created file
 * with that hash. */
static void
test_run_renames_many_same_sha(void **state)
{
	struct baseline b;
	struct entryvec now = { 0 };
	struct changes c;

	(void)state;
	memset(&b, 0, sizeof(b));
	mk(&b.ev, "/old/a", ENTRY_FILE, 0);
	mk(&b.ev, "/old/b", ENTRY_FILE, 0);
	mk(&b.ev, "/old/c", ENTRY_FILE, 0);
	baseline_ready(&b);
	mk(&now, "/new/a", ENTRY_FILE, 0);
	mk(&now, "/new/b", ENTRY_FILE, 0);
	mk(&now, "/new/c", ENTRY_FILE, 0);
	compare_run(&b, &now, &c);
	assert_int_equal(c.count[CMP_RENAMED], 3);
	assert_int_equal(c.count[CMP_CREATED], 0);
	assert_int_equal(c.count[CMP_DELETED], 0);
	changes_free(&c);
	entryvec_free(&now);
	baseline_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compare_entry),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_run_mixed),
		cmocka_unit_test(test_run_nothing),
		cmocka_unit_test(test_run_renames),
		cmocka_unit_test(test_run_sorted),
		cmocka_unit_test(test_need_sha),
		cmocka_unit_test(test_run_renames_many_same_sha),
	};

	return cmocka_run_group_tests_name("compare", tests, NULL, NULL);
}
