/* Fuzz target: the baseline reader (baseline_load, record_from_json).
 *
 * Input modes, chosen by the first byte:
 *   'S'  the rest is the body of a baseline: the target appends a
 *        newline if missing and a valid HMAC trailer (fixed key), so
 *        the record parser's verdict (OK / CORRUPT) is reached;
 *   else the bytes are the whole baseline.json, verbatim.
 * The state directory is a temporary one with a fixed HMAC key
 * (FUZZ_KEY below; the seeds in corpus_baseline/ that are whole files
 * are signed with it).
 *
 * Beyond what the sanitizers catch: a loaded baseline is sorted, every
 * path is absolute and found by baseline_find, and saving it and
 * loading it again gives the same entries. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/baseline.h"
#include "core/hash.h"
#include "core/state.h"
#include "core/util.h"
#include "fuzz.h"

#define FUZZ_KEY	"fimguard-fuzz-fixed-hmac-key-32b"

static char		*fz_root;
static struct state	 fz_st, fz_st2;
static char		*fz_file, *fz_file2;

static void
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_baseline: %s: %s\n", what, detail ? detail : "");
	abort();
}

static void
fuzz_cleanup(void)
{
	unlink(fz_file);
	unlink(fz_file2);
	rmdir(fz_st.dir);
	rmdir(fz_st2.dir);
	rmdir(fz_root);
}

static void
fuzz_init(void)
{
	char *d;

	hash_global_init();
	fz_root = xstrdup("/tmp/fimguard-fuzz-XXXXXX");
	if (mkdtemp(fz_root) == NULL)
		fuzz_fail("mkdtemp", fz_root);
	d = xasprintf("%s/a", fz_root);
	if (state_open(&fz_st, d, 1) < 0)
		fuzz_fail("state_open", d);
	free(d);
	d = xasprintf("%s/b", fz_root);
	if (state_open(&fz_st2, d, 1) < 0)
		fuzz_fail("state_open", d);
	free(d);
	memcpy(fz_st.hmac_key, FUZZ_KEY, STATE_HMAC_KEY_LEN);
	memcpy(fz_st2.hmac_key, FUZZ_KEY, STATE_HMAC_KEY_LEN);
	fz_file = state_path(&fz_st, BASELINE_FILE);
	fz_file2 = state_path(&fz_st2, BASELINE_FILE);
	atexit(fuzz_cleanup);
}

static void
write_all(int fd, const void *p, size_t n)
{
	const char *q = p;

	while (n > 0) {
		ssize_t w = write(fd, q, n);

		if (w <= 0)
			fuzz_fail("write", fz_file);
		q += w;
		n -= (size_t)w;
	}
}

static void
write_input(const uint8_t *data, size_t size)
{
	int fd = open(fz_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		fuzz_fail("open", fz_file);
	if (size > 0 && data[0] == 'S') {
		struct hmac_stream *h = hmac_stream_new(fz_st.hmac_key,
		    STATE_HMAC_KEY_LEN);
		uint8_t mac[32];
		char hex[65], *trailer;

		data++;
		size--;
		hmac_stream_update(h, data, size);
		write_all(fd, data, size);
		if (size > 0 && data[size - 1] != '\n') {
			hmac_stream_update(h, "\n", 1);
			write_all(fd, "\n", 1);
		}
		hmac_stream_final(h, mac);
		util_hex(mac, sizeof(mac), hex);
		trailer = xasprintf("{\"hmac\":\"%s\"}\n", hex);
		write_all(fd, trailer, strlen(trailer));
		free(trailer);
	} else
		write_all(fd, data, size);
	close(fd);
}

static int
same_str(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* xattrs in the canonical "name\tvalue\n" form, one tab a line. A
 * signed file can hold names or values with a newline, which the
 * canonical form cannot carry (see README.md); skip those. */
static int
xattrs_canonical(const char *s)
{
	int tabs = 0;

	if (s == NULL)
		return 1;
	for (; *s; s++) {
		if (*s == '\t')
			tabs++;
		else if (*s == '\n') {
			if (tabs != 1)
				return 0;
			tabs = 0;
		}
	}
	return 1;
}

static void
check_same(const struct entry *a, const struct entry *b)
{
	if (strcmp(a->path, b->path) != 0 || strcmp(a->rule, b->rule) != 0 ||
	    a->type != b->type || a->mode != b->mode || a->uid != b->uid ||
	    a->gid != b->gid || a->size != b->size || a->nlink != b->nlink ||
	    a->ino != b->ino || a->dev != b->dev ||
	    a->mtime_ns != b->mtime_ns || a->ctime_ns != b->ctime_ns ||
	    !same_str(a->target, b->target) || !same_str(a->error, b->error) ||
	    a->has_xxh != b->has_xxh || a->has_sha != b->has_sha ||
	    a->vault != b->vault ||
	    (a->has_xxh && memcmp(a->xxh, b->xxh, sizeof(a->xxh)) != 0) ||
	    (a->has_sha && memcmp(a->sha, b->sha, sizeof(a->sha)) != 0))
		fuzz_fail("round trip changed an entry", a->path);
	if (xattrs_canonical(a->xattrs) && !same_str(a->xattrs, b->xattrs))
		fuzz_fail("round trip changed xattrs", a->path);
}

static void
check_loaded(struct baseline *b)
{
	struct baseline b2;
	char *why = NULL;
	int st;

	for (size_t i = 0; i < b->ev.n; i++) {
		struct entry *e;

		if (b->ev.v[i].path[0] != '/')
			fuzz_fail("relative path loaded", b->ev.v[i].path);
		if (i > 0 && strcmp(b->ev.v[i - 1].path, b->ev.v[i].path) > 0)
			fuzz_fail("not sorted", b->ev.v[i].path);
		if (!baseline_find(b, b->ev.v[i].path, &e) ||
		    strcmp(e->path, b->ev.v[i].path) != 0)
			fuzz_fail("baseline_find", b->ev.v[i].path);
	}
	if (baseline_save(&b->ev, &fz_st2) < 0)
		fuzz_fail("baseline_save", fz_file2);
	st = baseline_load(&b2, &fz_st2, &why);
	if (st != BASELINE_OK)
		fuzz_fail("reload of a saved baseline", why);
	if (b2.ev.n != b->ev.n)
		fuzz_fail("reload: entry count", NULL);
	for (size_t i = 0; i < b->ev.n; i++)
		check_same(&b->ev.v[i], &b2.ev.v[i]);
	baseline_free(&b2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct baseline b;
	char *why = NULL;
	int st;

	if (fz_root == NULL)
		fuzz_init();
	write_input(data, size);
	st = baseline_load(&b, &fz_st, &why);
	if (st == BASELINE_OK) {
		if (why != NULL)
			fuzz_fail("OK with a reason", why);
		check_loaded(&b);
		baseline_free(&b);
	} else {
		if (why == NULL)
			fuzz_fail("refused without a reason",
			    baseline_status_name(st));
		if (b.ev.n != 0 || b.ev.v != NULL)
			fuzz_fail("refused baseline kept entries", why);
	}
	free(why);
	return 0;
}
