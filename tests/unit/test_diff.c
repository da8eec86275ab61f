/* Unit tests for src/diff.c. The property that matters: GNU patch,
 * applied to the old text with our diff, gives exactly the new text,
 * for hundreds of random edits (insertions, deletions, changes, at the
 * ends, with and without a final newline). */
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

#include "core/diff.h"
#include "core/util.h"

static char *
slurp(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *buf = xmalloc(1 << 20);

	assert_non_null(fp);
	*n = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	return buf;
}

static void
spit(const char *path, const char *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

/* Random text of lines from a small alphabet (so lines repeat). */
static size_t
gen(char *buf, unsigned *seed, int lines, int final_nl)
{
	size_t n = 0;

	for (int i = 0; i < lines; i++) {
		n += (size_t)sprintf(buf + n, "line %d", rand_r(seed) % 7);
		if (i < lines - 1 || final_nl)
			buf[n++] = '\n';
	}
	buf[n] = '\0';
	return n;
}

static void
check_patch(const char *old, size_t on, const char *new, size_t nn)
{
	char dir[] = "/tmp/fimguard-test-diff-XXXXXX", path[128], cmd[512];
	char *d = diff_unified(old, on, new, nn, "a/f", "b/f"), *out;
	size_t outn;

	if (on == nn && memcmp(old, new, on) == 0) {
		assert_null(d);
		return;
	}
	assert_non_null(d);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/old", dir);
	spit(path, old, on);
	snprintf(path, sizeof(path), "%s/diff", dir);
	spit(path, d, strlen(d));
	snprintf(cmd, sizeof(cmd), "cd %s && patch -s -o out old diff "
	    ">/dev/null 2>&1", dir);
	if (system(cmd) != 0)
		fail_msg("patch rejected:\n%s\nold:\n%s\nnew:\n%s", d, old, new);
	snprintf(path, sizeof(path), "%s/out", dir);
	out = slurp(path, &outn);
	if (outn != nn || memcmp(out, new, nn) != 0)
		fail_msg("patched result differs:\n%s", d);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(out);
	free(d);
}

static void
test_random_edits(void **state)
{
	static char old[8192], new[8192];
	unsigned seed = 42;

	(void)state;
	for (int round = 0; round < 300; round++) {
		size_t on = gen(old, &seed, rand_r(&seed) % 40,
		    rand_r(&seed) % 5 != 0);
		size_t nn = gen(new, &seed, rand_r(&seed) % 40,
		    rand_r(&seed) % 5 != 0);

		/* half the time, new is old with a few edits */
		if (round % 2 == 0 && on > 0) {
			memcpy(new, old, on + 1);
			nn = on;
			for (int e = rand_r(&seed) % 4; e >= 0; e--) {
				size_t at = (size_t)rand_r(&seed) % (nn + 1);

				memmove(new + at + 6, new + at, nn - at + 1);
				memcpy(new + at, "EDIT\nX", 6);
				nn += 6;
			}
		}
		check_patch(old, on, new, nn);
	}
}

static void
test_shape(void **state)
{
	const char *old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
	const char *new = "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\n";
	char *d = diff_unified(old, strlen(old), new, strlen(new), "a/x",
	    "b/x");

	(void)state;
	assert_string_equal(d, "--- a/x\n+++ b/x\n@@ -2,7 +2,7 @@\n"
	    " b\n c\n d\n-e\n+E\n f\n g\n h\n");
	free(d);
	assert_null(diff_unified(old, strlen(old), old, strlen(old), "a",
	    "b"));
	check_patch("x", 1, "x\n", 2);		/* final newline added */
	check_patch("", 0, "new\n", 4);
	check_patch("gone\n", 5, "", 0);
}

static void
test_is_text(void **state)
{
	(void)state;
	assert_true(diff_is_text("PermitRootLogin no\n", 19));
	assert_true(diff_is_text("caf\xc3\xa9\n", 6));
	assert_false(diff_is_text("bin\0ary", 7));
	assert_false(diff_is_text("\xff\xfe", 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_is_text),
		cmocka_unit_test(test_random_edits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
