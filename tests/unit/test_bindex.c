/* Unit tests for src/bindex.c, the compact baseline view check uses:
 * it must never call "unchanged" what compare_entry would report
 * (soundness), should call unchanged what is (or check gets slow), and
 * must read records back exactly, from the verified file. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bindex.h"
#include "core/compare.h"
#include "core/hash.h"
#include "core/util.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

struct fixture {
	char		*tmp;
	struct state	 s;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *why = NULL, *dir;

	hash_global_init();
	f->tmp = xstrdup("/tmp/fimguard-test-bindex-XXXXXX");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	dir = xasprintf("%s/state", f->tmp);
	if (state_open(&f->s, dir, 1) < 0 ||
	    state_keys(&f->s, 1, &why) != STATE_KEYS_OK)
		return -1;
	free(dir);
	free(why);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->tmp);

	if (system(cmd) != 0)
		return -1;
	free(cmd);
	state_close(&f->s);
	free(f->tmp);
	free(f);
	return 0;
}

static struct entry *
mk(struct entryvec *ev, const char *path, int type)
{
	struct entry *e = entryvec_add(ev);

	e->path = xstrdup(path);
	e->rule = "r";
	e->type = (uint8_t)type;
	e->mode = 0644;
	e->uid = 1;
	e->gid = 2;
	e->nlink = 1;
	e->size = 3;
	if (type == ENTRY_FILE) {
		memset(e->xxh, 7, sizeof(e->xxh));
		memset(e->sha, 9, sizeof(e->sha));
		e->has_xxh = e->has_sha = 1;
	}
	if (type == ENTRY_SYMLINK)
		e->target = xstrdup("/t");
	return e;
}

static void
dup_entry(struct entry *d, const struct entry *s)
{
	*d = *s;
	d->path = xstrdup(s->path);
	d->target = s->target ? xstrdup(s->target) : NULL;
	d->xattrs = s->xattrs ? xstrdup(s->xattrs) : NULL;
	d->error = s->error ? xstrdup(s->error) : NULL;
}

enum op { OP_NONE, OP_TIMES, OP_XXH, OP_MODE, OP_UID, OP_GID, OP_TYPE,
	OP_TARGET, OP_XATTR, OP_NLINK, OP_DEVNO, OP_NOW_NOXXH, OP_BASE_ERROR,
	OP_NOW_ERROR };

static const struct {
	const char	*name;
	int		 type;
	enum op		 op;
	int		 same;	/* expected bindex_same */
} cases[] = {
	{ "identical file", ENTRY_FILE, OP_NONE, 1 },
	{ "identical dir", ENTRY_DIR, OP_NONE, 1 },
	{ "identical symlink", ENTRY_SYMLINK, OP_NONE, 1 },
	{ "times and inode", ENTRY_FILE, OP_TIMES, 1 },
	{ "content", ENTRY_FILE, OP_XXH, 0 },
	{ "mode", ENTRY_FILE, OP_MODE, 0 },
	{ "uid", ENTRY_DIR, OP_UID, 0 },
	{ "gid", ENTRY_FILE, OP_GID, 0 },
	{ "type", ENTRY_FILE, OP_TYPE, 0 },
	{ "target", ENTRY_SYMLINK, OP_TARGET, 0 },
	{ "xattr", ENTRY_FILE, OP_XATTR, 0 },
	{ "file nlink", ENTRY_FILE, OP_NLINK, 0 },
	{ "dir nlink", ENTRY_DIR, OP_NLINK, 1 },
	{ "device number", ENTRY_CHARDEV, OP_DEVNO, 0 },
	{ "now without xxh3 is uncertain", ENTRY_FILE, OP_NOW_NOXXH, 0 },
	{ "baseline error is uncertain", ENTRY_FILE, OP_BASE_ERROR, 0 },
	{ "now error", ENTRY_FILE, OP_NOW_ERROR, 0 },
};

static void
apply(struct entry *now, struct entry *base, enum op op)
{
	switch (op) {
	case OP_NONE: break;
	case OP_TIMES: now->mtime_ns = 5; now->ctime_ns = 6; now->ino = 9;
		break;
	case OP_XXH: now->xxh[3] ^= 1; break;
	case OP_MODE: now->mode = 04755; break;
	case OP_UID: now->uid = 0; break;
	case OP_GID: now->gid = 0; break;
	case OP_TYPE: now->type = ENTRY_FIFO; now->has_xxh = 0; break;
	case OP_TARGET: free(now->target); now->target = xstrdup("/u"); break;
	case OP_XATTR: now->xattrs = xstrdup("security.x\tAA==\n"); break;
	case OP_NLINK: now->nlink = 2; base->nlink = 3; break;
	case OP_DEVNO: now->size = 0x801; break;
	case OP_NOW_NOXXH: now->has_xxh = 0; break;
	case OP_BASE_ERROR: base->error = xstrdup("open: EACCES");
		base->has_xxh = base->has_sha = 0; break;
	case OP_NOW_ERROR: now->error = xstrdup("open: EACCES"); break;
	}
}

/* The table, through a real signed baseline file. */
static void
test_same_table(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < N(cases); i++) {
		struct entryvec ev = { 0 };
		struct entry now;
		struct bindex x;
		char *why = NULL;
		struct entry *base = mk(&ev, "/p", cases[i].type);

		dup_entry(&now, base);
		apply(&now, base, cases[i].op);
		assert_int_equal(baseline_save(&ev, &f->s), 0);
		assert_int_equal(bindex_load(&x, &f->s, &why), BASELINE_OK);
		assert_int_equal(x.n, 1);
		if (bindex_same(&x.v[0], &now) != cases[i].same)
			fail_msg("%s: bindex_same != %d", cases[i].name,
			    cases[i].same);
		/* soundness: "same" is never said of a reported change */
		if (cases[i].same)
			assert_int_equal(compare_entry(&now, base), 0);
		bindex_free(&x);
		entry_free(&now);
		entryvec_free(&ev);
	}
}

/* Find by binary search, and read back every record in full. */
static void
test_find_and_entry(void **state)
{
	static const char *paths[] = { "/a", "/a/b", "/a b", "/a\nnl",
	    "/\xff\xfe", "/z", "/a-b" };
	struct fixture *f = *state;
	struct strlist rules = { 0 };
	struct entryvec ev = { 0 };
	struct bindex x;
	char *why = NULL;
	size_t idx;

	for (size_t i = 0; i < N(paths); i++)
		mk(&ev, paths[i], i % 2 ? ENTRY_FILE : ENTRY_SYMLINK);
	entryvec_sort(&ev);
	assert_int_equal(baseline_save(&ev, &f->s), 0);
	assert_int_equal(bindex_load(&x, &f->s, &why), BASELINE_OK);
	assert_int_equal(x.n, N(paths));
	for (size_t i = 0; i < ev.n; i++) {
		struct entry e;

		assert_true(bindex_find(&x, ev.v[i].path, &idx));
		assert_string_equal(x.v[idx].path, ev.v[i].path);
		assert_int_equal(bindex_entry(&x, idx, &e, &rules, &x.owners),
		    0);
		assert_string_equal(e.path, ev.v[i].path);
		assert_int_equal(e.type, ev.v[i].type);
		assert_memory_equal(e.sha, ev.v[i].sha, sizeof(e.sha));
		entry_free(&e);
	}
	assert_false(bindex_find(&x, "/a/c", &idx));
	assert_false(bindex_find(&x, "", &idx));
	assert_false(bindex_find(&x, "/zz", &idx));
	bindex_free(&x);
	strlist_free(&rules);
	entryvec_free(&ev);
}

/* A tampered file is refused as a whole, exactly like baseline_load. */
static void
test_tampered(void **state)
{
	struct fixture *f = *state;
	struct entryvec ev = { 0 };
	struct bindex x;
	char *why = NULL, *path = state_path(&f->s, BASELINE_FILE), *cmd;

	mk(&ev, "/etc/passwd", ENTRY_FILE);
	assert_int_equal(baseline_save(&ev, &f->s), 0);
	cmd = xasprintf("sed -i 's/passwd/passwe/' '%s'", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(bindex_load(&x, &f->s, &why), BASELINE_TAMPERED);
	assert_null(x.v);
	assert_null(x.fp);
	free(why);
	free(cmd);
	free(path);
	entryvec_free(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_table, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_find_and_entry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tampered, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
