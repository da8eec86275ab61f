/* Unit tests for src/util.c and src/htab.c: base64, hex, UTF-8 checks,
 * terminal escaping, path containment, string lists, the hash table. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/htab.h"
#include "core/util.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- base64 ---- */

static const struct { const char *plain, *b64; } b64_vectors[] = {
	/* RFC 4648 section 10 */
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
	/* both extra alphabet characters */
	{ "\xfb\xff\xbf", "+/+/" },
	{ "\x00\x00\x00", "AAAA" },
};

static void
test_b64_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(b64_vectors); i++) {
		const char *p = b64_vectors[i].plain;
		size_t n = i == N(b64_vectors) - 1 ? 3 : strlen(p);
		char *enc = util_b64_encode((const uint8_t *)p, n);
		uint8_t *dec = NULL;
		size_t dlen = 99;

		assert_string_equal(enc, b64_vectors[i].b64);
		assert_int_equal(util_b64_decode(b64_vectors[i].b64, &dec,
		    &dlen), 0);
		assert_int_equal(dlen, n);
		assert_memory_equal(dec, p, n);
		assert_int_equal(dec[dlen], 0);		/* NUL-terminated */
		free(dec);
		free(enc);
	}
}

static void
test_b64_all_bytes(void **state)
{
	uint8_t in[256], *dec;
	size_t dlen;

	(void)state;
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	for (size_t n = 0; n <= sizeof(in); n++) {
		char *enc = util_b64_encode(in + sizeof(in) - n, n);

		assert_int_equal(strlen(enc), 4 * ((n + 2) / 3));
		assert_int_equal(util_b64_decode(enc, &dec, &dlen), 0);
		assert_int_equal(dlen, n);
		assert_memory_equal(dec, in + sizeof(in) - n, n);
		free(dec);
		free(enc);
	}
}

static void
test_b64_rejects(void **state)
{
	static const char *bad[] = {
		"Zg",		/* unpadded */
		"Zg=",		/* short padding */
		"Zm9vY",	/* length not a multiple of 4 */
		"Z===",		/* too much padding */
		"====",
		"=Zg=",
		"Zg=a",		/* data after padding */
		"Zg==Zg==",	/* padding before the last group */
		"Zm9v====",
		"Zm-v",		/* URL-safe alphabet is not accepted */
		"Zm_v",
		"Zm9v\n",
		"Zm 9",
		"Zm9\xff",
		"Zm.v",
		"Zg==\n",
		"Zh==",		/* non-zero bits under the padding */
		"QR==",
		"Zm9=",
	};
	uint8_t *dec = (uint8_t *)"untouched";
	size_t dlen = 7;

	(void)state;
	for (size_t i = 0; i < N(bad); i++) {
		if (util_b64_decode(bad[i], &dec, &dlen) != -1)
			fail_msg("accepted bad base64 '%s'", bad[i]);
		assert_string_equal((char *)dec, "untouched");
		assert_int_equal(dlen, 7);
	}
}

/* ---- hex ---- */

static void
test_hex(void **state)
{
	static const uint8_t in[] = { 0x00, 0xff, 0x1a, 0xa1, 0x09, 0x90 };
	char out[2 * sizeof(in) + 1];
	uint8_t back[sizeof(in)];
	static const char *bad[] = {
		"00FF1AA10990",		/* uppercase is refused */
		"00ff1aa1099",		/* too short */
		"00ff1aa109900",	/* too long */
		"00ff1aa1099g",
		"00ff1aa1 990",
		"0xff1aa10990",
		"",
	};

	(void)state;
	memset(out, 'X', sizeof(out));
	util_hex(in, sizeof(in), out);
	assert_string_equal(out, "00ff1aa10990");
	util_hex(in, 0, out);
	assert_string_equal(out, "");

	assert_int_equal(util_unhex("00ff1aa10990", back, sizeof(back)), 0);
	assert_memory_equal(back, in, sizeof(in));
	assert_int_equal(util_unhex("", back, 0), 0);
	for (size_t i = 0; i < N(bad); i++)
		if (util_unhex(bad[i], back, sizeof(back)) != -1)
			fail_msg("accepted bad hex '%s'", bad[i]);
}

/* ---- UTF-8 ---- */

struct utf8_case {
	const char	*s;
	size_t		 n;		/* 0: strlen */
	int		 valid;
	const char	*what;
};

static const struct utf8_case utf8_cases[] = {
	{ "", 0, 1, "empty" },
	{ "plain ascii /etc/passwd", 0, 1, "ascii" },
	{ "\x01\x1f\x7f", 0, 1, "controls are valid UTF-8" },
	{ "\xc2\x80", 0, 1, "U+0080" },
	{ "caf\xc3\xa9", 0, 1, "U+00E9" },
	{ "\xdf\xbf", 0, 1, "U+07FF" },
	{ "\xe0\xa0\x80", 0, 1, "U+0800" },
	{ "\xe2\x82\xac", 0, 1, "euro" },
	{ "\xed\x9f\xbf", 0, 1, "U+D7FF" },
	{ "\xee\x80\x80", 0, 1, "U+E000" },
	{ "\xef\xbf\xbd", 0, 1, "U+FFFD" },
	{ "\xef\xbf\xbf", 0, 1, "U+FFFF" },
	{ "\xf0\x90\x80\x80", 0, 1, "U+10000" },
	{ "\xf0\x9f\x98\x80", 0, 1, "emoji" },
	{ "\xf4\x8f\xbf\xbf", 0, 1, "U+10FFFF" },
	{ "a\0b", 3, 1, "NUL within n" },
	{ "\xc0\x80", 0, 0, "overlong NUL C0 80" },
	{ "\xc1\xbf", 0, 0, "overlong C1 BF" },
	{ "\xe0\x80\x80", 0, 0, "overlong 3-byte" },
	{ "\xe0\x9f\xbf", 0, 0, "overlong U+07FF in 3 bytes" },
	{ "\xf0\x80\x80\x80", 0, 0, "overlong 4-byte" },
	{ "\xf0\x8f\xbf\xbf", 0, 0, "overlong U+FFFF in 4 bytes" },
	{ "\xed\xa0\x80", 0, 0, "surrogate D800" },
	{ "\xed\xbf\xbf", 0, 0, "surrogate DFFF" },
	{ "\xed\xa0\xbd\xed\xb8\x80", 0, 0, "CESU-8 pair" },
	{ "\xf4\x90\x80\x80", 0, 0, "U+110000" },
	{ "\xf5\x80\x80\x80", 0, 0, "lead F5" },
	{ "\xf8\x88\x80\x80\x80", 0, 0, "5-byte form" },
	{ "\xff", 0, 0, "FF" },
	{ "\xfe", 0, 0, "FE" },
	{ "\x80", 0, 0, "lone continuation" },
	{ "a\xbf", 0, 0, "continuation after ascii" },
	{ "\xc3", 0, 0, "truncated 2-byte" },
	{ "\xe2\x82", 0, 0, "truncated 3-byte" },
	{ "\xf0\x9f\x98", 0, 0, "truncated 4-byte" },
	{ "x\xe2\x82", 0, 0, "truncated at end" },
	{ "\xc3\xa9", 1, 0, "truncated by n" },
	{ "\xc3\x28", 0, 0, "bad continuation" },
	{ "\xe2\x28\xa1", 0, 0, "bad 2nd byte of 3" },
	{ "\xe2\x82\x28", 0, 0, "bad 3rd byte of 3" },
	{ "\xf0\x9f\x98\x28", 0, 0, "bad 4th byte of 4" },
	{ "ok\xc3\xa9" "\xff" "ok", 0, 0, "invalid after valid" },
};

static void
test_utf8_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(utf8_cases); i++) {
		const struct utf8_case *c = &utf8_cases[i];
		size_t n = c->n ? c->n : strlen(c->s);

		if (util_utf8_valid(c->s, n) != c->valid)
			fail_msg("utf8_valid(%s) != %d", c->what, c->valid);
	}
}

#define FFFD	"\xef\xbf\xbd"

static void
test_utf8_lossy(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", "" },
		{ "/etc/caf\xc3\xa9", "/etc/caf\xc3\xa9" },
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "a\xff" "b", "a" FFFD "b" },
		{ "\xff\xfe", FFFD FFFD },
		{ "\xc0\x80", FFFD FFFD },
		{ "\xed\xa0\x80", FFFD FFFD FFFD },
		{ "\xe2\x82", FFFD FFFD },
		{ "\xe2\x82" "a", FFFD FFFD "a" },
		{ "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },
		{ "\n\t\x1b", "\n\t\x1b" },	/* lossy is not escaping */
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		char *s = util_utf8_lossy(cases[i].in);

		assert_string_equal(s, cases[i].out);
		assert_int_equal(util_utf8_valid(s, strlen(s)), 1);
		free(s);
	}
}

static void
test_escape(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", "" },
		{ "/etc/passwd", "/etc/passwd" },
		{ "a b", "a b" },
		{ "new\nline", "new\\nline" },
		{ "tab\there", "tab\\there" },
		{ "\x1b[31mred", "\\x1b[31mred" },
		{ "cr\r", "cr\\x0d" },
		{ "\x01\x1f", "\\x01\\x1f" },
		{ "del\x7f", "del\\x7f" },
		{ "back\\slash", "back\\\\slash" },
		{ "\\n", "\\\\n" },		/* a literal backslash-n */
		{ "q\"uote'", "q\"uote'" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "bad\xff\xfe", "bad\\xff\\xfe" },
		{ "\xc0\x80", "\\xc0\\x80" },
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },
		{ "\xe2\x82", "\\xe2\\x82" },
		{ "x\xe2\x82\xacy", "x\xe2\x82\xacy" },
		/* C1 controls (8-bit CSI) and bidi overrides are escaped */
		{ "a\xc2\x9b[2J", "a\\xc2\\x9b[2J" },
		{ "\xc2\x80\xc2\x9f\xc2\xa0", "\\xc2\\x80\\xc2\\x9f\xc2\xa0" },
		{ "evil\xe2\x80\xaetxt.sh", "evil\\xe2\\x80\\xaetxt.sh" },
		{ "\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\xa9",
		  "\\xe2\\x81\\xa6\\xe2\\x81\\xa9\xe2\x80\xa9" },
		/* a fake report line cannot be injected */
		{ "/tmp/a\nmodified /etc/shadow",
		  "/tmp/a\\nmodified /etc/shadow" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		char *s = util_escape(cases[i].in);

		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

/* Worst case expansion: every byte becomes \xNN. */
static void
test_escape_worst_case(void **state)
{
	char in[257], *s;

	(void)state;
	for (int i = 0; i < 256; i++)
		in[i] = (char)(i == 0 ? 0x80 : (i < 0x20 ? i : 0x80 | i));
	in[256] = '\0';
	s = util_escape(in);
	for (const char *p = s; *p; p++)
		assert_true((unsigned char)*p >= 0x20 &&
		    (unsigned char)*p < 0x7f);
	free(s);
	memset(in, '\xff', 256);
	s = util_escape(in);
	assert_int_equal(strlen(s), 4 * 256);
	free(s);
}

/* Into a fixed buffer (the log's): never past it, never half an
 * escape, always terminated. */
static void
test_escape_to_cuts_whole_escapes(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(util_escape_to("ab\ncd", out, sizeof(out)), 6);
	assert_string_equal(out, "ab\\ncd");
	/* "\x1b" (4 bytes) does not fit after "abc" + NUL in 6 */
	assert_int_equal(util_escape_to("abc\x1b" "def", out, 6), 3);
	assert_string_equal(out, "abc");
	/* a UTF-8 sequence is not split either */
	assert_int_equal(util_escape_to("ab\xc3\xa9", out, 4), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(util_escape_to("anything", out, 1), 0);
	assert_string_equal(out, "");
}

/* ---- util_path_under ---- */

static void
test_path_under(void **state)
{
	static const struct { const char *path, *dir; int want; } cases[] = {
		{ "/etc/ssh", "/etc/ssh", 1 },
		{ "/etc/ssh/sshd_config", "/etc/ssh", 1 },
		{ "/etc/ssh/a/b/c", "/etc/ssh", 1 },
		{ "/etc/ssh", "/etc/ssh/", 1 },
		{ "/etc/ssh", "/etc/ssh///", 1 },
		{ "/etc/ssh/", "/etc/ssh", 1 },
		{ "/etc/ssh", "/etc", 1 },
		{ "/etc/sshd", "/etc/ssh", 0 },
		{ "/etc/ssh-old/x", "/etc/ssh", 0 },
		{ "/etc", "/etc/ssh", 0 },
		{ "/etcx", "/etc", 0 },
		{ "/", "/etc", 0 },
		{ "/anything", "/", 1 },
		{ "/", "/", 1 },
		{ "/x", "//", 1 },
		{ "relative", "/", 0 },
		{ "etc/ssh", "/etc", 0 },
		{ "/usr/lib", "/usr/lib64", 0 },
		{ "/usr/lib64", "/usr/lib", 0 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		if (util_path_under(cases[i].path, cases[i].dir) !=
		    cases[i].want)
			fail_msg("path_under(%s, %s) != %d", cases[i].path,
			    cases[i].dir, cases[i].want);
}

/* ---- strlist ---- */

static void
test_strlist(void **state)
{
	struct strlist l = { 0 };
	char buf[32];

	(void)state;
	strlist_free(&l);			/* empty: harmless */
	assert_int_equal(l.n, 0);
	strcpy(buf, "copied");
	strlist_push(&l, buf);
	buf[0] = 'X';				/* push copies */
	assert_string_equal(l.v[0], "copied");
	strlist_push_owned(&l, xstrdup("owned"));
	strlist_push(&l, "");
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[1], "owned");
	assert_string_equal(l.v[2], "");
	for (int i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "item%d", i);
		strlist_push(&l, buf);
	}
	assert_int_equal(l.n, 1003);
	assert_true(l.cap >= l.n);
	for (int i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "item%d", i);
		assert_string_equal(l.v[3 + i], buf);
	}
	strlist_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	assert_int_equal(l.cap, 0);
	strlist_push(&l, "again");		/* usable after free */
	assert_int_equal(l.n, 1);
	strlist_free(&l);
}

static void
test_xalloc(void **state)
{
	char *s;
	int *v;

	(void)state;
	s = xasprintf("%s-%d-%05.1f", "a", 42, 3.14159);
	assert_string_equal(s, "a-42-003.1");
	free(s);
	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = xstrndup("ab", 10);
	assert_string_equal(s, "ab");
	free(s);
	free(xmalloc(0));			/* never NULL */
	v = xcalloc(4, sizeof(int));
	for (int i = 0; i < 4; i++)
		assert_int_equal(v[i], 0);
	v = xreallocarray(v, 1000, sizeof(int));
	v[999] = 7;
	free(v);
}

/* ---- htab ---- */

static void
test_htab_basic(void **state)
{
	struct htab t;
	size_t v = 12345;

	(void)state;
	htab_init(&t, 0);
	assert_int_equal(t.cap, 16);
	assert_int_equal(htab_get(&t, "a", &v), 0);
	assert_int_equal(v, 12345);			/* untouched */
	assert_int_equal(htab_put(&t, "a", 1), 1);
	assert_int_equal(htab_put(&t, "b", 2), 1);
	assert_int_equal(htab_put(&t, "", 3), 1);	/* empty key */
	assert_int_equal(htab_put(&t, "a", 99), 0);	/* duplicate */
	assert_int_equal(t.n, 3);
	assert_int_equal(htab_get(&t, "a", &v), 1);
	assert_int_equal(v, 1);				/* unchanged */
	assert_int_equal(htab_get(&t, "b", &v), 1);
	assert_int_equal(v, 2);
	assert_int_equal(htab_get(&t, "", &v), 1);
	assert_int_equal(v, 3);
	assert_int_equal(htab_get(&t, "c", &v), 0);
	assert_int_equal(htab_get(&t, "ab", &v), 0);
	htab_free(&t);
	assert_null(t.keys);
	assert_int_equal(t.cap, 0);
	assert_int_equal(htab_get(&t, "a", &v), 0);	/* freed: empty */

	/* A zeroed table works without htab_init. */
	memset(&t, 0, sizeof(t));
	assert_int_equal(htab_get(&t, "x", &v), 0);
	assert_int_equal(htab_put(&t, "x", 5), 1);
	assert_int_equal(htab_get(&t, "x", &v), 1);
	assert_int_equal(v, 5);
	htab_free(&t);

	/* hint sizes the table to at least twice the hint */
	htab_init(&t, 100);
	assert_int_equal(t.cap, 256);
	htab_free(&t);
}

static void
test_htab_grow(void **state)
{
	enum { NKEYS = 10000 };
	char **keys = xcalloc(NKEYS, sizeof(*keys));
	struct htab t;
	size_t v, lastcap = 0;
	int grew = 0;

	(void)state;
	htab_init(&t, 4);
	for (size_t i = 0; i < NKEYS; i++) {
		keys[i] = xasprintf("/etc/file-%zu", i);
		assert_int_equal(htab_put(&t, keys[i], i), 1);
		assert_int_equal(t.n, i + 1);
		/* power of two, never more than half full */
		assert_int_equal(t.cap & (t.cap - 1), 0);
		assert_true(t.n * 2 <= t.cap);
		if (t.cap != lastcap) {
			grew++;
			lastcap = t.cap;
		}
	}
	assert_true(grew > 5);
	for (size_t i = 0; i < NKEYS; i++) {
		assert_int_equal(htab_get(&t, keys[i], &v), 1);
		assert_int_equal(v, i);
		/* a different pointer with the same text is found too */
		char *copy = xstrdup(keys[i]);
		assert_int_equal(htab_put(&t, copy, 0), 0);
		assert_int_equal(htab_get(&t, copy, &v), 1);
		assert_int_equal(v, i);
		free(copy);
	}
	assert_int_equal(t.n, NKEYS);
	assert_int_equal(htab_get(&t, "/etc/file-10000", &v), 0);
	assert_int_equal(htab_get(&t, "/etc/file-", &v), 0);
	htab_free(&t);
	for (size_t i = 0; i < NKEYS; i++)
		free(keys[i]);
	free(keys);
}

/* Deleting keeps every other key findable (a probe run closes up
 * behind the deleted key), and a table of keys that come and go does
 * not grow. */
static void
test_htab_del(void **state)
{
	struct htab t;
	char keys[2000][16];
	size_t v;

	(void)state;
	htab_init(&t, 0);
	for (int i = 0; i < 2000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		assert_int_equal(htab_put(&t, keys[i], (size_t)i), 1);
	}
	for (int i = 0; i < 2000; i += 3)
		assert_int_equal(htab_del(&t, keys[i]), 1);
	assert_int_equal(htab_del(&t, "k0"), 0);
	assert_int_equal(htab_del(&t, "absent"), 0);
	for (int i = 0; i < 2000; i++) {
		int found = htab_get(&t, keys[i], &v);

		assert_int_equal(found, i % 3 != 0);
		if (found)
			assert_int_equal(v, (size_t)i);
	}
	htab_free(&t);
	htab_init(&t, 0);
	for (int round = 0; round < 100; round++)
		for (int i = 0; i < 2000; i++) {
			assert_int_equal(htab_put(&t, keys[i], (size_t)i), 1);
			assert_int_equal(htab_del(&t, keys[i]), 1);
		}
	assert_int_equal(t.n, 0);
	assert_int_equal(t.cap, 16);
	htab_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_all_bytes),
		cmocka_unit_test(test_b64_rejects),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_lossy),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_worst_case),
		cmocka_unit_test(test_escape_to_cuts_whole_escapes),
		cmocka_unit_test(test_path_under),
		cmocka_unit_test(test_strlist),
		cmocka_unit_test(test_xalloc),
		cmocka_unit_test(test_htab_basic),
		cmocka_unit_test(test_htab_grow),
		cmocka_unit_test(test_htab_del),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
