/* Unit tests for the state directory (src/state.c), the baseline file
 * (src/baseline.c) and its records (src/record.c): keys, an exact
 * round trip of hostile names and extreme numbers, and every way a
 * modified file must be refused. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/baseline.h"
#include "core/hash.h"
#include "core/record.h"
#include "core/state.h"
#include "core/util.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

struct fixture {
	char		*tmp;		/* mkdtemp directory */
	char		*dir;		/* state dir inside it */
	char		*file;		/* dir/baseline.json */
	struct state	 s;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *why = NULL;

	f->tmp = xstrdup("/tmp/fimguard-test-baseline-XXXXXX");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	f->dir = xasprintf("%s/var/lib/state", f->tmp);
	if (state_open(&f->s, f->dir, 1) < 0 ||
	    state_keys(&f->s, 1, &why) != STATE_KEYS_OK)
		return -1;
	free(why);
	f->file = state_path(&f->s, BASELINE_FILE);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->tmp);
	int r = system(cmd);

	free(cmd);
	state_close(&f->s);
	free(f->file);
	free(f->dir);
	free(f->tmp);
	free(f);
	return r == 0 ? 0 : -1;
}

static int
group_setup(void **state)
{
	(void)state;
	hash_global_init();
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	hash_global_free();
	return 0;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void
spit(const char *path, const char *buf, size_t len)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Writes body followed by a valid trailer: content that passes the
 * HMAC check, to reach the record parser's own verdict. */
static void
write_signed(const struct fixture *f, const char *body)
{
	uint8_t mac[32];
	char hex[65], *all;

	assert_int_equal(hmac_sha256(f->s.hmac_key, STATE_HMAC_KEY_LEN, body,
	    strlen(body), mac), 0);
	util_hex(mac, 32, hex);
	all = xasprintf("%s{\"hmac\":\"%s\"}\n", body, hex);
	spit(f->file, all, strlen(all));
	free(all);
}

static int
load(const struct fixture *f, struct baseline *b, char **why)
{
	*why = NULL;
	return baseline_load(b, &f->s, why);
}

/* Load, expect status st (and, when given, exactly that *why). */
static void
expect_status(const struct fixture *f, int st, const char *why_want)
{
	struct baseline b;
	char *why;
	int r = load(f, &b, &why);

	if (r != st)
		fail_msg("baseline_load: %d (%s), expected %d (%s): %s", r,
		    baseline_status_name(r), st, baseline_status_name(st),
		    why ? why : "");
	if (st == BASELINE_OK) {
		assert_null(why);
		baseline_free(&b);
	} else {
		assert_non_null(why);
		if (why_want != NULL)
			assert_string_equal(why, why_want);
		/* nothing of a refused file is kept */
		assert_int_equal(b.ev.n, 0);
		assert_null(b.ev.v);
		assert_null(b.created);
	}
	free(why);
}

static void
assert_str_or_null(const char *a, const char *b, const char *what,
    const char *path)
{
	if (a == NULL || b == NULL) {
		if (a != b)
			fail_msg("%s of %s: one side NULL", what, path);
		return;
	}
	if (strcmp(a, b) != 0)
		fail_msg("%s of %s differs", what, path);
}

static void
assert_entry_equal(const struct entry *got, const struct entry *want)
{
	assert_string_equal(got->path, want->path);
	assert_non_null(got->rule);
	assert_string_equal(got->rule, want->rule);
	assert_int_equal(got->type, want->type);
	assert_int_equal(got->mode, want->mode);
	assert_int_equal(got->uid, want->uid);
	assert_int_equal(got->gid, want->gid);
	assert_true(got->size == want->size);
	assert_true(got->nlink == want->nlink);
	assert_true(got->ino == want->ino);
	assert_true(got->dev == want->dev);
	assert_true(got->mtime_ns == want->mtime_ns);
	assert_true(got->ctime_ns == want->ctime_ns);
	assert_str_or_null(got->target, want->target, "target", want->path);
	assert_str_or_null(got->xattrs, want->xattrs, "xattrs", want->path);
	assert_str_or_null(got->error, want->error, "error", want->path);
	assert_int_equal(got->has_xxh, want->has_xxh);
	assert_int_equal(got->has_sha, want->has_sha);
	assert_int_equal(got->vault, want->vault);
	if (want->has_xxh)
		assert_memory_equal(got->xxh, want->xxh, ENTRY_XXH_LEN);
	if (want->has_sha)
		assert_memory_equal(got->sha, want->sha, ENTRY_SHA_LEN);
}

static struct entry *
add(struct entryvec *ev, const char *path, const char *rule, int type)
{
	struct entry *e = entryvec_add(ev);

	e->path = xstrdup(path);
	e->rule = rule;
	e->type = type;
	e->mode = 0644;
	e->nlink = 1;
	return e;
}

static void
set_hashes(struct entry *e, uint8_t seed)
{
	for (int i = 0; i < ENTRY_XXH_LEN; i++)
		e->xxh[i] = (uint8_t)(seed + i);
	for (int i = 0; i < ENTRY_SHA_LEN; i++)
		e->sha[i] = (uint8_t)(seed * 3 + i);
	e->has_xxh = e->has_sha = 1;
}

/* Entries chosen to break a careless writer or reader. */
static void
hostile_entries(struct entryvec *ev)
{
	struct entry *e;

	e = add(ev, "/tmp/new\nline", "names", ENTRY_FILE);
	set_hashes(e, 1);
	e = add(ev, "/tmp/tab\there", "names", ENTRY_FILE);
	set_hashes(e, 2);
	e = add(ev, "/tmp/bad\xff\xfe", "names", ENTRY_FILE);
	set_hashes(e, 3);
	e = add(ev, "/tmp/q\"uote\\back\\\\slash", "names", ENTRY_FILE);
	set_hashes(e, 4);
	e = add(ev, "/tmp/esc\x1b[2J\x7f\x01", "names", ENTRY_FILE);
	set_hashes(e, 5);
	e = add(ev, "/tmp/caf\xc3\xa9 \xf0\x9f\x98\x80", "names", ENTRY_FILE);
	set_hashes(e, 6);
	e = add(ev, "/tmp/overlong\xc0\x80 and surrogate \xed\xa0\x80",
	    "names", ENTRY_FILE);
	set_hashes(e, 7);
	e = add(ev, "/tmp/{\"b64\":\"Lw==\"}", "names", ENTRY_FILE);
	set_hashes(e, 8);

	/* symlinks: invalid UTF-8 target, UTF-8 target, relative target */
	e = add(ev, "/tmp/link-bad", "links", ENTRY_SYMLINK);
	e->mode = 0777;
	e->target = xstrdup("/x/\xff\xfetarget\n");
	e = add(ev, "/tmp/link-utf8", "links", ENTRY_SYMLINK);
	e->mode = 0777;
	e->target = xstrdup("../caf\xc3\xa9");
	e = add(ev, "/tmp/link-\xff", "links", ENTRY_SYMLINK);
	e->mode = 0777;
	e->target = xstrdup("\xfe");

	/* extreme numbers */
	e = add(ev, "/tmp/extreme", "numbers", ENTRY_FILE);
	e->mode = 07777;
	e->uid = 4294967294u;
	e->gid = UINT32_MAX;
	e->size = (uint64_t)1 << 63;
	e->mtime_ns = -1234567890123456789LL;
	e->ctime_ns = INT64_MIN;
	e->ino = UINT64_MAX;
	e->dev = UINT64_MAX - 1;
	e->nlink = UINT32_MAX;
	set_hashes(e, 9);
	e = add(ev, "/tmp/extreme2", "numbers", ENTRY_FILE);
	e->mode = 0;
	e->size = UINT64_MAX;
	e->mtime_ns = INT64_MAX;
	e->ctime_ns = -1;
	e->nlink = 0;
	set_hashes(e, 10);

	/* xattrs, vault flag, read errors, every type */
	e = add(ev, "/tmp/xattrs", "attrs", ENTRY_FILE);
	e->xattrs = xstrdup("security.capability\tAQAAAgAgAAAAAAAAAAAAAAAAAAA=\n"
	    "security.selinux\tc3lzdGVtX3U6b2JqZWN0X3I6ZXRjX3Q6czAA\n"
	    "system.posix_acl_access\tAgAAAAEABgD/////BAAEAP////8gAAQA/////w==\n");
	e->vault = 1;
	set_hashes(e, 11);
	e = add(ev, "/tmp/dir", "attrs", ENTRY_DIR);
	e->mode = 01777;
	e->nlink = 42;
	e->size = 4096;
	e->xattrs = xstrdup("system.posix_acl_default\tAgAAAA==\n");
	e = add(ev, "/tmp/unreadable", "attrs", ENTRY_FILE);
	e->mode = 0;
	e->error = xstrdup("open: Permission denied");
	e = add(ev, "/tmp/half", "attrs", ENTRY_FILE);
	e->has_sha = 1;			/* sha only (no xxh) */
	memset(e->sha, 0xab, sizeof(e->sha));
	e = add(ev, "/tmp/fifo", "special", ENTRY_FIFO);
	e = add(ev, "/tmp/sock", "special", ENTRY_SOCKET);
	e = add(ev, "/dev/null-ish", "special", ENTRY_CHARDEV);
	e->size = 0x103;		/* rdev */
	e = add(ev, "/dev/sda-ish", "special", ENTRY_BLOCKDEV);
	e->size = 0x800;
	e = add(ev, "/tmp/unknown", "special", ENTRY_UNKNOWN);
	e = add(ev, "/", "special", ENTRY_DIR);
}

/* ---- state directory and keys ---- */

static void
test_state_keys(void **state)
{
	struct fixture *f = *state;
	const char *names[] = { "xxh.key", "hmac.key" };
	const off_t sizes[] = { HASH_SECRET_LEN, STATE_HMAC_KEY_LEN };
	struct state s2;
	struct stat st;
	char *why = NULL, *parent;
	mode_t um = umask(0);

	umask(um);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700 & ~um);
	parent = xasprintf("%s/var/lib", f->tmp);	/* parents: 0755 */
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755 & ~um);
	free(parent);
	for (size_t i = 0; i < N(names); i++) {
		char *p = state_path(&f->s, names[i]);

		assert_int_equal(lstat(p, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0600 & ~um);
		assert_int_equal(st.st_size, sizes[i]);
		free(p);
	}

	/* Reopened without create: the same keys. */
	assert_int_equal(state_open(&s2, f->dir, 0), 0);
	assert_int_equal(state_keys(&s2, 0, &why), STATE_KEYS_OK);
	assert_null(why);
	assert_memory_equal(s2.xxh_secret, f->s.xxh_secret, HASH_SECRET_LEN);
	assert_memory_equal(s2.hmac_key, f->s.hmac_key, STATE_HMAC_KEY_LEN);
	/* create on existing keys keeps them */
	assert_int_equal(state_keys(&s2, 1, &why), STATE_KEYS_OK);
	assert_memory_equal(s2.hmac_key, f->s.hmac_key, STATE_HMAC_KEY_LEN);
	state_close(&s2);
	assert_null(s2.dir);

	/* two installs get different keys */
	{
		char *d2 = xasprintf("%s/other", f->tmp);

		assert_int_equal(state_open(&s2, d2, 1), 0);
		assert_int_equal(state_keys(&s2, 1, &why), STATE_KEYS_OK);
		assert_memory_not_equal(s2.hmac_key, f->s.hmac_key,
		    STATE_HMAC_KEY_LEN);
		assert_memory_not_equal(s2.xxh_secret, f->s.xxh_secret,
		    HASH_SECRET_LEN);
		state_close(&s2);
		free(d2);
	}
}

static void
test_state_key_errors(void **state)
{
	struct fixture *f = *state;
	char *d = xasprintf("%s/k", f->tmp), *p, *want, *why = NULL;
	struct state s2;

	/* no state dir, no create */
	assert_int_equal(state_open(&s2, d, 0), -1);
	state_close(&s2);

	assert_int_equal(state_open(&s2, d, 1), 0);
	/* missing keys without create */
	p = state_path(&s2, "xxh.key");
	want = xasprintf("%s: No such file or directory", p);
	assert_int_equal(state_keys(&s2, 0, &why), STATE_KEYS_MISSING);
	assert_string_equal(why, want);
	free(why);
	free(want);

	/* a short key is refused, never padded */
	spit(p, "short", 5);
	want = xasprintf("%s: not a 192-byte key file", p);
	assert_int_equal(state_keys(&s2, 1, &why), STATE_KEYS_BAD);
	assert_string_equal(why, want);
	free(why);
	free(want);
	unlink(p);

	/* a symlinked key is refused (O_NOFOLLOW) */
	assert_int_equal(symlink(f->file, p), 0);
	assert_int_equal(state_keys(&s2, 1, &why), STATE_KEYS_BAD);
	assert_non_null(why);
	free(why);
	unlink(p);

	/* a directory in place of the key */
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(state_keys(&s2, 1, &why), STATE_KEYS_BAD);
	assert_non_null(why);
	free(why);
	rmdir(p);
	free(p);

	/* xxh.key fine, hmac.key missing without create */
	assert_int_equal(state_keys(&s2, 1, &why), STATE_KEYS_OK);
	p = state_path(&s2, "hmac.key");
	unlink(p);
	assert_int_equal(state_keys(&s2, 0, &why), STATE_KEYS_MISSING);
	assert_non_null(strstr(why, "hmac.key"));
	free(why);
	free(p);

	/* a file where the state dir should be */
	p = xasprintf("%s/afile", f->tmp);
	spit(p, "x", 1);
	state_close(&s2);
	assert_int_equal(state_open(&s2, p, 1), -1);
	state_close(&s2);
	assert_int_equal(state_open(&s2, p, 0), -1);
	state_close(&s2);
	free(p);
	free(d);
}

static void
test_state_lock(void **state)
{
	struct fixture *f = *state;
	char *p = state_path(&f->s, "lock");
	struct stat st;

	assert_int_equal(state_lock(&f->s), 0);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(p);
}

/* ---- round trip ---- */

static void
test_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct entryvec ev = { 0 };
	struct baseline b;
	struct stat st;
	char *why, *buf;
	size_t len;

	hostile_entries(&ev);
	entryvec_sort(&ev);
	assert_int_equal(baseline_save(&ev, &f->s), 0);
	assert_int_equal(stat(f->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* The file itself is valid UTF-8: raw bytes go out as base64. */
	buf = slurp(f->file, &len);
	assert_int_equal(util_utf8_valid(buf, len), 1);
	assert_null(strstr(buf, "\xff"));
	assert_non_null(strstr(buf, "{\"b64\":\""));
	free(buf);

	assert_int_equal(load(f, &b, &why), BASELINE_OK);
	assert_null(why);
	assert_non_null(b.created);
	assert_int_equal(strlen(b.created), strlen("2026-11-22T19:30:00.123Z"));
	assert_int_equal(b.ev.n, ev.n);
	for (size_t i = 0; i < ev.n; i++) {
		struct entry *got;

		if (!baseline_find(&b, ev.v[i].path, &got))
			fail_msg("entry %zu (%s) not found", i, ev.v[i].path);
		assert_entry_equal(got, &ev.v[i]);
		assert_entry_equal(&b.ev.v[i], &ev.v[i]);	/* sorted */
	}
	/* rule names are interned: one copy per name */
	assert_int_equal(b.rules.n, 5);
	{
		struct entry *a, *c;

		assert_true(baseline_find(&b, "/tmp/fifo", &a));
		assert_true(baseline_find(&b, "/tmp/sock", &c));
		assert_ptr_equal(a->rule, c->rule);
	}
	{
		struct entry *x;

		assert_false(baseline_find(&b, "/tmp/bad", &x));
		assert_false(baseline_find(&b, "/tmp/new", &x));
	}
	baseline_free(&b);
	assert_int_equal(b.ev.n, 0);

	/* Saving what was loaded gives the same entries again. */
	assert_int_equal(load(f, &b, &why), BASELINE_OK);
	assert_int_equal(baseline_save(&b.ev, &f->s), 0);
	{
		struct baseline b2;

		assert_int_equal(load(f, &b2, &why), BASELINE_OK);
		assert_int_equal(b2.ev.n, ev.n);
		for (size_t i = 0; i < ev.n; i++)
			assert_entry_equal(&b2.ev.v[i], &ev.v[i]);
		baseline_free(&b2);
	}
	baseline_free(&b);
	entryvec_free(&ev);
}

/* The file's layout: header with the field names, one array per entry,
 * the trailer is the HMAC of every byte before it. */
static void
test_file_format(void **state)
{
	static const char *fields[] = { "path", "rule", "type", "mode", "uid",
	    "gid", "size", "mtime_ns", "ctime_ns", "inode", "dev", "nlink",
	    "target", "xattrs", "xxh3", "sha256", "flags", "error", "package" };
	struct fixture *f = *state;
	struct entryvec ev = { 0 };
	json_object *o, *x;
	char *buf, *nl, *last, hex[65];
	uint8_t mac[32];
	size_t len, lines = 0;

	add(&ev, "/a", "r", ENTRY_FILE);
	add(&ev, "/b\xff", "r", ENTRY_SYMLINK)->target = xstrdup("t");
	assert_int_equal(baseline_save(&ev, &f->s), 0);
	buf = slurp(f->file, &len);
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	assert_int_equal(lines, 4);
	assert_int_equal(buf[len - 1], '\n');

	nl = strchr(buf, '\n');
	*nl = '\0';
	o = json_tokener_parse(buf);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "format", &x));
	assert_string_equal(json_object_get_string(x), "fimguard-baseline");
	assert_true(json_object_object_get_ex(o, "version", &x));
	assert_int_equal(json_object_get_int(x), BASELINE_VERSION);
	assert_true(json_object_object_get_ex(o, "created", &x));
	assert_true(json_object_object_get_ex(o, "host", &x));
	assert_true(json_object_object_get_ex(o, "fields", &x));
	assert_int_equal(json_object_array_length(x), N(fields));
	for (size_t i = 0; i < N(fields); i++)
		assert_string_equal(json_object_get_string(
		    json_object_array_get_idx(x, i)), fields[i]);
	json_object_put(o);
	*nl = '\n';

	o = json_tokener_parse(nl + 1);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_array));
	assert_int_equal(json_object_array_length(o), N(fields));
	assert_string_equal(json_object_get_string(
	    json_object_array_get_idx(o, 0)), "/a");
	json_object_put(o);

	buf[len - 1] = '\0';
	last = strrchr(buf, '\n') + 1;
	assert_int_equal(hmac_sha256(f->s.hmac_key, STATE_HMAC_KEY_LEN, buf,
	    (size_t)(last - buf), mac), 0);
	util_hex(mac, 32, hex);
	{
		char *want = xasprintf("{\"hmac\":\"%s\"}", hex);

		assert_string_equal(last, want);
		free(want);
	}
	free(buf);
	entryvec_free(&ev);
}

static void
test_empty_and_large(void **state)
{
	struct fixture *f = *state;
	struct entryvec ev = { 0 };
	struct baseline b;
	char *why;

	assert_int_equal(baseline_save(&ev, &f->s), 0);
	assert_int_equal(load(f, &b, &why), BASELINE_OK);
	assert_int_equal(b.ev.n, 0);
	baseline_free(&b);

	for (int i = 0; i < 5000; i++) {
		char p[64];
		struct entry *e;

		snprintf(p, sizeof(p), "/data/%05d/file", i);
		e = add(&ev, p, i % 2 ? "odd" : "even", ENTRY_FILE);
		e->size = (uint64_t)i * 1000003;
		set_hashes(e, (uint8_t)i);
	}
	assert_int_equal(baseline_save(&ev, &f->s), 0);
	assert_int_equal(load(f, &b, &why), BASELINE_OK);
	assert_int_equal(b.ev.n, 5000);
	assert_int_equal(b.rules.n, 2);
	for (size_t i = 0; i < ev.n; i++) {
		struct entry *got;

		assert_true(baseline_find(&b, ev.v[i].path, &got));
		assert_entry_equal(got, &ev.v[i]);
	}
	baseline_free(&b);
	entryvec_free(&ev);
}

/* ---- refusals ---- */

/* A baseline of a few entries; returns the file's bytes. */
static char *
save_small(struct fixture *f, size_t *len)
{
	struct entryvec ev = { 0 };
	struct entry *e;

	e = add(&ev, "/etc/group", "accounts", ENTRY_FILE);
	set_hashes(e, 20);
	e = add(&ev, "/etc/passwd", "accounts", ENTRY_FILE);
	set_hashes(e, 21);
	e->uid = 0;
	e = add(&ev, "/etc/shadow", "accounts", ENTRY_FILE);
	e->mode = 0640;
	set_hashes(e, 22);
	assert_int_equal(baseline_save(&ev, &f->s), 0);
	entryvec_free(&ev);
	return slurp(f->file, len);
}

/* Offset of the start of line n (1-based) in buf. */
static size_t
line_off(const char *buf, int n)
{
	const char *p = buf;

	while (--n > 0) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	return (size_t)(p - buf);
}

static void
test_tamper_flip_bytes(void **state)
{
	struct fixture *f = *state;
	size_t len, l2, l5;
	char *orig = save_small(f, &len), *buf = xmalloc(len);
	char *want = xasprintf("%s: failed HMAC verification: it was modified "
	    "outside fimguard (tampered?)", f->file);

	expect_status(f, BASELINE_OK, NULL);
	l2 = line_off(orig, 2);
	l5 = line_off(orig, 5);
	/* Flip each byte of every line before the trailer, one at a time
	 * and in several ways: never accepted. Flips that keep a JSON array
	 * (or destroy the JSON) must be TAMPERED; a flip that breaks a
	 * newline may merge lines (still TAMPERED) or, on the line before
	 * the trailer, hide the trailer (TRUNCATED). */
	for (size_t i = 0; i < l5; i++) {
		static const unsigned char masks[] = { 0x01, 0x20 };

		for (size_t m = 0; m < N(masks); m++) {
			struct baseline b;
			char *why;
			int st;

			memcpy(buf, orig, len);
			buf[i] = (char)(buf[i] ^ masks[m]);
			/* Keep the experiment inside the record grammar:
			 * a line turned into a JSON object or scalar is
			 * covered separately (test_non_array_line). */
			if (i >= l2 && (buf[i] == '{' || orig[i] == '['))
				continue;
			spit(f->file, buf, len);
			st = load(f, &b, &why);
			if (st != BASELINE_TAMPERED &&
			    !(st == BASELINE_TRUNCATED && orig[i] == '\n'))
				fail_msg("flip 0x%02x at %zu ('%c'): %s", masks[m],
				    i, orig[i], baseline_status_name(st));
			if (st == BASELINE_TAMPERED)
				assert_string_equal(why, want);
			if (st == BASELINE_OK)
				baseline_free(&b);
			free(why);
		}
	}
	free(want);
	free(buf);
	free(orig);
}

static void
test_tamper_edits(void **state)
{
	struct fixture *f = *state;
	size_t len, l2, l3, l4, l5;
	char *orig = save_small(f, &len), *buf;
	char *tampered = xasprintf("%s: failed HMAC verification: it was "
	    "modified outside fimguard (tampered?)", f->file);
	char *trunc;

	l2 = line_off(orig, 2);
	l3 = line_off(orig, 3);
	l4 = line_off(orig, 4);
	l5 = line_off(orig, 5);
	assert_int_equal(len, strlen(orig));

	/* drop the trailer */
	spit(f->file, orig, l5);
	trunc = xasprintf("%s: truncated (no HMAC trailer after line 4)",
	    f->file);
	expect_status(f, BASELINE_TRUNCATED, trunc);
	free(trunc);

	/* cut in the middle of an entry line */
	spit(f->file, orig, l3 + 10);
	trunc = xasprintf("%s: truncated (no HMAC trailer after line 3)",
	    f->file);
	expect_status(f, BASELINE_TRUNCATED, trunc);
	free(trunc);

	/* cut inside the trailer, or just its final newline */
	spit(f->file, orig, l5 + 12);
	expect_status(f, BASELINE_TRUNCATED, NULL);
	spit(f->file, orig, len - 1);
	expect_status(f, BASELINE_TRUNCATED, NULL);

	/* empty file */
	spit(f->file, "", 0);
	trunc = xasprintf("%s: truncated (no HMAC trailer after line 0)",
	    f->file);
	expect_status(f, BASELINE_TRUNCATED, trunc);
	free(trunc);

	/* a line, or just a newline, after the trailer */
	buf = xasprintf("%s%s", orig, orig + l2);
	spit(f->file, buf, strlen(buf));
	expect_status(f, BASELINE_TAMPERED, tampered);
	free(buf);
	buf = xasprintf("%s\n", orig);
	spit(f->file, buf, strlen(buf));
	expect_status(f, BASELINE_TAMPERED, tampered);
	free(buf);
	buf = xasprintf("%sgarbage", orig);
	spit(f->file, buf, strlen(buf));
	expect_status(f, BASELINE_TAMPERED, tampered);
	free(buf);
	/* a second trailer */
	buf = xasprintf("%s%s", orig, orig + l5);
	spit(f->file, buf, strlen(buf));
	expect_status(f, BASELINE_TAMPERED, tampered);
	free(buf);

	/* drop an entry line */
	buf = xasprintf("%.*s%s", (int)l3, orig, orig + l4);
	spit(f->file, buf, strlen(buf));
	expect_status(f, BASELINE_TAMPERED, tampered);
	free(buf);

	/* swap two entry lines */
	buf = xasprintf("%.*s%.*s%.*s%s", (int)l2, orig, (int)(l4 - l3),
	    orig + l3, (int)(l3 - l2), orig + l2, orig + l4);
	assert_int_equal(strlen(buf), len);
	spit(f->file, buf, len);
	expect_status(f, BASELINE_TAMPERED, tampered);
	free(buf);

	/* duplicate an entry line */
	buf = xasprintf("%.*s%.*s%s", (int)l3, orig, (int)(l3 - l2),
	    orig + l2, orig + l3);
	spit(f->file, buf, strlen(buf));
	expect_status(f, BASELINE_TAMPERED, tampered);
	free(buf);

	/* only the trailer left */
	spit(f->file, orig + l5, len - l5);
	expect_status(f, BASELINE_TAMPERED, tampered);

	/* trailer hex: uppercase, short, not hex */
	{
		char mac[65], *up, *line;

		memcpy(mac, orig + l5 + 9, 64);
		mac[64] = '\0';
		up = xstrdup(mac);
		for (char *p = up; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		if (strcmp(up, mac) != 0) {
			line = xasprintf("%.*s{\"hmac\":\"%s\"}\n", (int)l5,
			    orig, up);
			spit(f->file, line, strlen(line));
			expect_status(f, BASELINE_TAMPERED, tampered);
			free(line);
		}
		free(up);
		line = xasprintf("%.*s{\"hmac\":\"%.62s\"}\n", (int)l5, orig,
		    mac);
		spit(f->file, line, strlen(line));
		expect_status(f, BASELINE_TAMPERED, tampered);
		free(line);
		line = xasprintf("%.*s{\"hmac\":\"%.63sz\"}\n", (int)l5, orig,
		    mac);
		spit(f->file, line, strlen(line));
		expect_status(f, BASELINE_TAMPERED, tampered);
		free(line);
	}

	/* NUL byte inside an entry line */
	buf = xmalloc(len);
	memcpy(buf, orig, len);
	buf[l3 + 3] = '\0';
	spit(f->file, buf, len);
	expect_status(f, BASELINE_TAMPERED, tampered);
	free(buf);

	/* the original again: still fine */
	spit(f->file, orig, len);
	expect_status(f, BASELINE_OK, NULL);
	free(tampered);
	free(orig);
}

static void
test_wrong_key(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *orig = save_small(f, &len), *why = NULL;
	struct state s2;
	uint8_t key[STATE_HMAC_KEY_LEN];
	char *kp;

	free(orig);
	expect_status(f, BASELINE_OK, NULL);
	memcpy(key, f->s.hmac_key, sizeof(key));
	f->s.hmac_key[31] ^= 0x80;
	expect_status(f, BASELINE_TAMPERED, NULL);
	memcpy(f->s.hmac_key, key, sizeof(key));

	/* a replaced hmac.key on disk, loaded by state_keys */
	kp = state_path(&f->s, "hmac.key");
	key[0] ^= 1;
	spit(kp, (const char *)key, sizeof(key));
	assert_int_equal(state_open(&s2, f->dir, 0), 0);
	assert_int_equal(state_keys(&s2, 0, &why), STATE_KEYS_OK);
	{
		struct baseline b;

		assert_int_equal(baseline_load(&b, &s2, &why),
		    BASELINE_TAMPERED);
		free(why);
	}
	state_close(&s2);
	free(kp);
}

static void
test_missing_unreadable(void **state)
{
	struct fixture *f = *state;
	char *want = xasprintf("%s: No such file or directory", f->file);
	char *why = NULL;
	struct baseline b;

	expect_status(f, BASELINE_MISSING, want);
	free(want);
	assert_string_equal(baseline_status_name(BASELINE_MISSING), "missing");

	/* a directory in its place: opens, but cannot be read */
	assert_int_equal(mkdir(f->file, 0700), 0);
	assert_int_equal(load(f, &b, &why), BASELINE_UNREADABLE);
	assert_non_null(why);
	free(why);
	rmdir(f->file);

	/* saving into a state dir that is gone fails cleanly */
	{
		struct state s2;
		struct entryvec ev = { 0 };
		char *gone = xasprintf("%s/gone", f->tmp);

		assert_int_equal(state_open(&s2, gone, 1), 0);
		memcpy(s2.hmac_key, f->s.hmac_key, STATE_HMAC_KEY_LEN);
		assert_int_equal(rmdir(gone), 0);
		assert_int_equal(baseline_save(&ev, &s2), -1);
		state_close(&s2);
		free(gone);
	}
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(baseline_status_name(BASELINE_OK), "ok");
	assert_string_equal(baseline_status_name(BASELINE_MISSING),
	    "missing");
	assert_string_equal(baseline_status_name(BASELINE_UNREADABLE),
	    "unreadable");
	assert_string_equal(baseline_status_name(BASELINE_TRUNCATED),
	    "truncated");
	assert_string_equal(baseline_status_name(BASELINE_TAMPERED),
	    "failed HMAC verification");
	assert_string_equal(baseline_status_name(BASELINE_CORRUPT),
	    "corrupt");
}

/* ---- authentic but not understood: CORRUPT ---- */

#define HDR	"{\"format\":\"fimguard-baseline\",\"version\":1}\n"
#define REC(p)	"[" p ",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null," \
		"null,null,0,null]\n"
#define HDR2	"{\"format\":\"fimguard-baseline\",\"version\":2}\n"
#define REC2(p, pkg) "[" p ",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null," \
		"null,null,null,0,null," pkg "]\n"

static void
test_corrupt_signed(void **state)
{
	static const struct { const char *body; int line; } cases[] = {
		{ "{\"format\":\"fimguard-baseline\",\"version\":3}\n", 1 },
		{ "{\"format\":\"fimguard-baseline\",\"version\":0}\n", 1 },
		{ "{\"format\":\"other\",\"version\":1}\n", 1 },
		{ "{\"version\":1}\n", 1 },
		{ "{\"format\":\"fimguard-baseline\",\"version\":\"1\"}\n", 1 },
		{ "[1,2]\n", 1 },
		{ "not json\n", 1 },
		{ HDR REC("\"/ok\"") "[\"/short\"]\n", 3 },
		{ HDR REC("\"relative\"") REC("\"/ok\""), 2 },
		{ HDR REC("\"/ok\"") "not json\n" REC("\"/ok2\""), 3 },
		{ HDR "[]\n", 2 },
		{ HDR "\n", 2 },
		/* each record has exactly its version's fields */
		{ HDR REC2("\"/ok\"", "null"), 2 },
		{ HDR2 REC("\"/ok\""), 2 },
		{ HDR2 REC2("\"/ok\"", "null") REC("\"/ok2\""), 3 },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < N(cases); i++) {
		char *want = xasprintf("%s:%d: corrupt entry", f->file,
		    cases[i].line);

		write_signed(f, cases[i].body);
		expect_status(f, BASELINE_CORRUPT, want);
		free(want);
	}

	/* Signed, unsorted: accepted, sorted on load. */
	write_signed(f, HDR REC("\"/c\"") REC("\"/a\"") REC("\"/b\""));
	{
		struct baseline b;
		struct entry *e;
		char *why;

		assert_int_equal(load(f, &b, &why), BASELINE_OK);
		assert_int_equal(b.ev.n, 3);
		assert_string_equal(b.ev.v[0].path, "/a");
		assert_string_equal(b.ev.v[1].path, "/b");
		assert_string_equal(b.ev.v[2].path, "/c");
		assert_true(baseline_find(&b, "/c", &e));
		assert_ptr_equal(e, &b.ev.v[2]);
		baseline_free(&b);
	}
	/* header only */
	write_signed(f, HDR);
	expect_status(f, BASELINE_OK, NULL);
}

/* ---- record_from_json ---- */

/* 18 fields (format version 1): path rule type mode uid gid size mtime
 * ctime inode dev nlink target xattrs xxh3 sha256 flags error; version 2
 * adds package: null or [manager, name, version, digest|null] */
#define XXH	"\"000102030405060708090a0b0c0d0e0f\""
#define SHA	"\"000102030405060708090a0b0c0d0e0f" \
		"101112131415161718191a1b1c1d1e1f\""

static const char *record_bad[] = {
	"[]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null,null,null]",
	/* package */
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null,5]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null,[\"dpkg\",\"bash\",\"5.2\"]]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null,[\"dpkg\",\"bash\",null,null]]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null,[\"dpkg\",\"bash\",\"5.2\",7]]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null,[\"dpkg\",\"bash\",\"5.2\",\"nocolon\"]]",
	/* path */
	"[\"x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,null]",
	"[\"\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,null]",
	"[null,\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,null]",
	"[47,\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,null]",
	"[[\"/x\"],\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[{\"b64\":\"!!!!\"},\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,"
	    "null,0,null]",
	"[{\"b64\":\"eA==\"},\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,"
	    "null,0,null]",				/* "x": relative */
	"[{\"b64\":\"LwB4\"},\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,"
	    "null,0,null]",				/* "/\0x": NUL */
	"[{\"b64\":\"Lw\"},\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,"
	    "null,0,null]",				/* unpadded */
	"[{\"b64\":47},\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,"
	    "0,null]",
	"[{\"raw\":\"Lw==\"},\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,"
	    "null,0,null]",
	/* rule, type */
	"[\"/x\",null,\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,null]",
	"[\"/x\",7,\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,null]",
	"[\"/x\",\"r\",\"regular\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"File\",420,0,0,0,0,0,1,2,1,null,null,null,null,0,null]",
	"[\"/x\",\"r\",null,420,0,0,0,0,0,1,2,1,null,null,null,null,0,null]",
	"[\"/x\",\"r\",0,420,0,0,0,0,0,1,2,1,null,null,null,null,0,null]",
	/* numbers */
	"[\"/x\",\"r\",\"file\",4096,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",-1,0,0,0,0,0,1,2,1,null,null,null,null,0,null]",
	"[\"/x\",\"r\",\"file\",\"420\",0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420.0,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",null,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,4294967296,0,0,0,0,1,2,1,null,null,null,"
	    "null,0,null]",
	"[\"/x\",\"r\",\"file\",420,-1,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,4294967296,0,0,0,1,2,1,null,null,null,"
	    "null,0,null]",
	"[\"/x\",\"r\",\"file\",420,0,-5,0,0,0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,-1,0,0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,1e3,0,0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,\"0\",0,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,null,1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,-1,2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,-2,1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,-1,null,null,null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,true,null,null,null,null,0,"
	    "null]",
	/* target */
	"[\"/x\",\"r\",\"symlink\",511,0,0,0,0,0,1,2,1,null,null,null,null,0,"
	    "null]",				/* symlink without target */
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,\"/t\",null,null,null,0,"
	    "null]",				/* target on a file */
	"[\"/x\",\"r\",\"symlink\",511,0,0,0,0,0,1,2,1,{\"b64\":\"*\"},null,null,"
	    "null,0,null]",
	"[\"/x\",\"r\",\"symlink\",511,0,0,0,0,0,1,2,1,5,null,null,null,0,"
	    "null]",
	/* xattrs */
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,[],null,null,0,null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,\"a\",null,null,0,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,{\"security.x\":5},"
	    "null,null,0,null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,{\"a\":\"b\",\"c\":"
	    "null},null,null,0,null]",
	/* hashes: length, case, digits, type */
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,"
	    "\"000102030405060708090a0b0c0d0e\",null,0,null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,"
	    "\"000102030405060708090a0b0c0d0e0f10\",null,0,null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,"
	    "\"000102030405060708090A0B0C0D0E0F\",null,0,null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,"
	    "\"g00102030405060708090a0b0c0d0e0f\",null,0,null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,12,null,0,null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null," XXH ","
	    "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e\","
	    "0,null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null," XXH ","
	    "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	    "20\",0,null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null," XXH ",0,"
	    "null]",				/* xxh3 length in sha slot */
	/* flags */
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,2,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,-1,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,true,"
	    "null]",
	"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,null,null,"
	    "null]",
};

static void
test_record_rejects(void **state)
{
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < N(record_bad); i++) {
		json_object *o = json_tokener_parse(record_bad[i]);
		struct strlist rules = { 0 };
		struct pkg_owners owners = { 0 };
		struct entry e;

		if (o == NULL)
			fail_msg("case %zu is not JSON: %s", i, record_bad[i]);
		memset(&e, 0, sizeof(e));
		if (record_from_json(o, &e, &rules, &owners) != -1) {
			print_error("accepted: %s\n", record_bad[i]);
			failed++;
		}
		entry_free(&e);
		strlist_free(&rules);
		pkg_owners_free(&owners);
		json_object_put(o);
	}
	assert_int_equal(failed, 0);
}

static void
test_record_accepts(void **state)
{
	static const struct {
		const char	*json;
		const char	*path, *target, *xattrs, *error;
		int		 type, vault, has_xxh, has_sha;
		uint32_t	 mode, uid, gid;
		uint64_t	 size, ino, dev, nlink;
		int64_t		 mtime, ctime;
	} cases[] = {
		{ "[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,"
		  "null,0,null]", "/x", NULL, NULL, NULL, ENTRY_FILE, 0, 0, 0,
		  0644, 0, 0, 0, 1, 2, 1, 0, 0 },
		{ "[\"/x\",\"r\",\"file\",4095,4294967295,4294967294,"
		  "18446744073709551615,-9223372036854775808,"
		  "9223372036854775807,18446744073709551615,9223372036854775808,"
		  "0,null,{},null,null,1,\"open: Permission denied\"]",
		  "/x", NULL, NULL, "open: Permission denied", ENTRY_FILE, 1, 0,
		  0, 07777, UINT32_MAX, UINT32_MAX - 1, UINT64_MAX, UINT64_MAX,
		  (uint64_t)1 << 63, 0, INT64_MIN, INT64_MAX },
		{ "[{\"b64\":\"L3RtcC9h/w==\"},\"r\",\"symlink\",511,0,0,0,-1,-2,"
		  "1,2,1,{\"b64\":\"/w==\"},{\"security.selinux\":\"eA==\","
		  "\"system.posix_acl_access\":\"AgAAAA==\"}," XXH "," SHA
		  ",0,null]",
		  "/tmp/a\xff", "\xff", "security.selinux\teA==\n"
		  "system.posix_acl_access\tAgAAAA==\n", NULL, ENTRY_SYMLINK, 0,
		  1, 1, 0777, 0, 0, 0, 1, 2, 1, -1, -2 },
		{ "[\"/d\",\"r\",\"dir\",1023,0,0,4096,0,0,1,2,7,null,null,null,"
		  "null,0,null]", "/d", NULL, NULL, NULL, ENTRY_DIR, 0, 0, 0,
		  01777, 0, 0, 4096, 1, 2, 7, 0, 0 },
		{ "[\"/b\",\"r\",\"blockdev\",432,0,6,2049,0,0,1,2,1,null,null,"
		  "null,null,0,null]", "/b", NULL, NULL, NULL, ENTRY_BLOCKDEV, 0,
		  0, 0, 0660, 0, 6, 2049, 1, 2, 1, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		json_object *o = json_tokener_parse(cases[i].json), *back;
		struct strlist rules = { 0 };
		struct pkg_owners owners = { 0 };
		struct entry e, e2;

		assert_non_null(o);
		memset(&e, 0, sizeof(e));
		if (record_from_json(o, &e, &rules, &owners) != 0)
			fail_msg("rejected: %s", cases[i].json);
		assert_string_equal(e.path, cases[i].path);
		assert_string_equal(e.rule, "r");
		assert_ptr_equal(e.rule, rules.v[0]);
		assert_int_equal(e.type, cases[i].type);
		assert_int_equal(e.mode, cases[i].mode);
		assert_int_equal(e.uid, cases[i].uid);
		assert_int_equal(e.gid, cases[i].gid);
		assert_true(e.size == cases[i].size);
		assert_true(e.ino == cases[i].ino);
		assert_true(e.dev == cases[i].dev);
		assert_true(e.nlink == cases[i].nlink);
		assert_true(e.mtime_ns == cases[i].mtime);
		assert_true(e.ctime_ns == cases[i].ctime);
		assert_str_or_null(e.target, cases[i].target, "target", e.path);
		assert_str_or_null(e.xattrs, cases[i].xattrs, "xattrs", e.path);
		assert_str_or_null(e.error, cases[i].error, "error", e.path);
		assert_int_equal(e.vault, cases[i].vault);
		assert_int_equal(e.has_xxh, cases[i].has_xxh);
		assert_int_equal(e.has_sha, cases[i].has_sha);
		if (e.has_xxh)
			for (int k = 0; k < ENTRY_XXH_LEN; k++)
				assert_int_equal(e.xxh[k], k);
		if (e.has_sha)
			for (int k = 0; k < ENTRY_SHA_LEN; k++)
				assert_int_equal(e.sha[k], k);

		/* and back: the same record */
		back = record_to_json(&e);
		memset(&e2, 0, sizeof(e2));
		assert_int_equal(record_from_json(back, &e2, &rules, &owners),
		    0);
		assert_entry_equal(&e2, &e);
		assert_null(e.owner);		/* version 1: unowned */
		entry_free(&e2);
		json_object_put(back);

		entry_free(&e);
		strlist_free(&rules);
		pkg_owners_free(&owners);
		json_object_put(o);
	}
}

/* Format version 2's package field: the owner interned (one copy per
 * manager, name and version), the verified digest kept, and both
 * written back as they were read. */
static void
test_record_package(void **state)
{
	static const char *rec[] = {
		"[\"/x\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,"
		"null,0,null,[\"dpkg\",\"libc6:amd64\",\"2.36-9\","
		"\"md5:00112233445566778899aabbccddeeff\"]]",
		"[\"/y\",\"r\",\"file\",420,0,0,0,0,0,1,2,1,null,null,null,"
		"null,0,null,[\"dpkg\",\"libc6:amd64\",\"2.36-9\",null]]",
	};
	struct strlist rules = { 0 };
	struct pkg_owners owners = { 0 };
	struct entry e[2], back;

	(void)state;
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 2; i++) {
		json_object *o = json_tokener_parse(rec[i]), *j;

		assert_int_equal(record_from_json(o, &e[i], &rules, &owners),
		    0);
		j = record_to_json(&e[i]);
		assert_string_equal(json_object_to_json_string_ext(j,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		    rec[i]);
		memset(&back, 0, sizeof(back));
		assert_int_equal(record_from_json(j, &back, &rules, &owners),
		    0);
		assert_ptr_equal(back.owner, e[i].owner);
		entry_free(&back);
		json_object_put(j);
		json_object_put(o);
	}
	assert_ptr_equal(e[0].owner, e[1].owner);
	assert_int_equal(owners.n, 1);
	assert_string_equal(e[0].owner->name, "libc6:amd64");
	assert_string_equal(e[0].owner->version, "2.36-9");
	assert_string_equal(e[0].pkgsum, "md5:00112233445566778899aabbccddeeff");
	assert_int_equal(e[0].pkg_ok, 1);
	assert_null(e[1].pkgsum);
	assert_int_equal(e[1].pkg_ok, 0);
	entry_free(&e[0]);
	entry_free(&e[1]);
	strlist_free(&rules);
	pkg_owners_free(&owners);
}

/* record_to_json: names as strings when UTF-8, {"b64": ...} if not;
 * absent values are null. */
static void
test_record_to_json(void **state)
{
	struct entry e;
	json_object *a, *x, *b;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.path = xstrdup("/tmp/\xff\xfe");
	e.rule = "r";
	e.type = ENTRY_SYMLINK;
	e.target = xstrdup("caf\xc3\xa9");
	a = record_to_json(&e);
	assert_int_equal(json_object_array_length(a), 19);
	x = json_object_array_get_idx(a, 0);
	assert_true(json_object_is_type(x, json_type_object));
	assert_true(json_object_object_get_ex(x, "b64", &b));
	assert_string_equal(json_object_get_string(b), "L3RtcC///g==");
	x = json_object_array_get_idx(a, 12);
	assert_string_equal(json_object_get_string(x), "caf\xc3\xa9");
	for (size_t i = 13; i <= 15; i++)
		assert_null(json_object_array_get_idx(a, i));
	assert_int_equal(json_object_get_int(json_object_array_get_idx(a, 16)),
	    0);
	assert_null(json_object_array_get_idx(a, 17));
	json_object_put(a);
	entry_free(&e);
}

/* A JSON value that is not an array, on an entry line, must be a
 * corrupt or tampered baseline, not an abort in json-c (record_from_json
 * calls json_object_array_get_idx before checking the type). */
static void
test_non_array_line(void **state)
{
	static const char *lines[] = { "{}", "{\"a\":1}", "\"s\"", "1",
	    "true", "1.5", "{\"hmac\":7}", "{\"hmac\":\"00\",\"x\":1}" };
	struct fixture *f = *state;

	for (size_t i = 0; i < N(lines); i++) {
		char *body = xasprintf(HDR "%s\n", lines[i]);

		spit(f->file, body, strlen(body));
		expect_status(f, BASELINE_TRUNCATED, NULL);	/* unsigned */
		write_signed(f, body);
		expect_status(f, BASELINE_CORRUPT, NULL);	/* signed */
		free(body);
	}
}

/* Bytes after the trailer object on its line are a modification. */
static void
test_trailer_suffix(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *orig = save_small(f, &len);
	char *buf = xasprintf("%.*s junk\n", (int)(len - 1), orig);

	spit(f->file, buf, strlen(buf));
	expect_status(f, BASELINE_TAMPERED, NULL);
	free(buf);
	free(orig);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_state_key_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_state_lock, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_large, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tamper_flip_bytes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tamper_edits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_unreadable, setup,
		    teardown),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test_setup_teardown(test_corrupt_signed, setup,
		    teardown),
		cmocka_unit_test(test_record_rejects),
		cmocka_unit_test(test_record_accepts),
		cmocka_unit_test(test_record_package),
		cmocka_unit_test(test_record_to_json),
		cmocka_unit_test_setup_teardown(test_non_array_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_trailer_suffix, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("baseline", tests, group_setup,
	    group_teardown);
}
