/* Unit tests for src/hash.c: SHA-256 and HMAC-SHA256 known answers,
 * keyed XXH3-128 against libxxhash's one-shot function, streaming from
 * files and pipes across chunk boundaries, the vault copy. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/hash.h"
#include "core/util.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

static uint8_t secret[HASH_SECRET_LEN];

static void
hex_of(const uint8_t *p, size_t n, char *out)
{
	util_hex(p, n, out);
}

static void
assert_hex(const uint8_t *p, size_t n, const char *want)
{
	char hex[129];

	assert_true(n * 2 < sizeof(hex));
	hex_of(p, n, hex);
	assert_string_equal(hex, want);
}

/* Deterministic filler so a failure is reproducible. */
static uint8_t *
make_data(size_t n, uint32_t seed)
{
	uint8_t *p = xmalloc(n + 1);
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

/* An unlinked temporary file holding p[0..n), positioned at 0. */
static int
temp_fd(const void *p, size_t n)
{
	char path[] = "/tmp/fimguard-test-hash-XXXXXX";
	int fd = mkstemp(path);
	const uint8_t *q = p;

	assert_true(fd >= 0);
	unlink(path);
	while (n > 0) {
		ssize_t w = write(fd, q, n);

		assert_true(w > 0);
		q += w;
		n -= (size_t)w;
	}
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* A pipe fed by a child process with p[0..n), then closed. */
static int
pipe_fd(const void *p, size_t n, pid_t *pid)
{
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		const uint8_t *q = p;

		close(fds[0]);
		while (n > 0) {
			/* odd write sizes: reads see odd boundaries */
			size_t k = n < 4093 ? n : 4093;
			ssize_t w = write(fds[1], q, k);

			if (w <= 0)
				_exit(1);
			q += w;
			n -= (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	return fds[0];
}

static void
pipe_wait(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
ref_sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned len = 0;

	assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, 32);
}

static void
ref_xxh3(const void *p, size_t n, const uint8_t *sec, uint8_t out[16])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits_withSecret(p, n, sec,
	    HASH_SECRET_LEN));
	memcpy(out, c.digest, 16);
}

static int
setup(void **state)
{
	(void)state;
	hash_global_init();
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 37 + 11);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	hash_global_free();
	return 0;
}

/* ---- SHA-256 ---- */

static const struct { const char *msg, *sha; } sha_vectors[] = {
	{ "",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
};

static void
test_sha256_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(sha_vectors); i++) {
		const char *m = sha_vectors[i].msg;
		struct hash_result r;
		int fd;

		memset(&r, 0xee, sizeof(r));
		hash_buf(m, strlen(m), NULL, &r);
		assert_hex(r.sha, 32, sha_vectors[i].sha);
		assert_int_equal(r.bytes, strlen(m));

		fd = temp_fd(m, strlen(m));
		memset(&r, 0xee, sizeof(r));
		assert_int_equal(hash_fd(fd, secret, HASH_SHA, -1, strlen(m),
		    &r), 0);
		assert_hex(r.sha, 32, sha_vectors[i].sha);
		assert_int_equal(r.bytes, strlen(m));
		close(fd);
	}
}

#define MILLION_A_SHA \
	"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void
test_sha256_million_a(void **state)
{
	size_t n = 1000000;
	char *a = xmalloc(n);
	struct hash_result r;
	pid_t pid;
	int fd;

	(void)state;
	memset(a, 'a', n);
	fd = temp_fd(a, n);
	assert_int_equal(hash_fd(fd, secret, HASH_SHA | HASH_XXH, -1, n, &r),
	    0);
	assert_hex(r.sha, 32, MILLION_A_SHA);
	assert_int_equal(r.bytes, n);
	close(fd);

	fd = pipe_fd(a, n, &pid);
	memset(&r, 0, sizeof(r));
	assert_int_equal(hash_fd(fd, secret, HASH_SHA, -1, UINT64_MAX, &r), 0);
	assert_hex(r.sha, 32, MILLION_A_SHA);
	assert_int_equal(r.bytes, n);
	close(fd);
	pipe_wait(pid);
	free(a);
}

/* ---- HMAC-SHA256 (RFC 4231) ---- */

struct hmac_vec {
	uint8_t		 key[131];
	size_t		 keylen;
	const char	*data;
	const char	*mac;
};

static struct hmac_vec hmac_vecs[4];

static void
hmac_vectors_init(void)
{
	/* Test case 1 */
	memset(hmac_vecs[0].key, 0x0b, 20);
	hmac_vecs[0].keylen = 20;
	hmac_vecs[0].data = "Hi There";
	hmac_vecs[0].mac = "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7";
	/* Test case 2 */
	memcpy(hmac_vecs[1].key, "Jefe", 4);
	hmac_vecs[1].keylen = 4;
	hmac_vecs[1].data = "what do ya want for nothing?";
	hmac_vecs[1].mac = "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843";
	/* Test case 6: key longer than the block size */
	memset(hmac_vecs[2].key, 0xaa, 131);
	hmac_vecs[2].keylen = 131;
	hmac_vecs[2].data = "Test Using Larger Than Block-Size Key - Hash Key "
	    "First";
	hmac_vecs[2].mac = "60e431591ee0b67f0d8a26aacbf5b77f"
	    "8e0bc6213728c5140546040f0ee37f54";
	/* Test case 7: long key and long data */
	memset(hmac_vecs[3].key, 0xaa, 131);
	hmac_vecs[3].keylen = 131;
	hmac_vecs[3].data = "This is a test using a larger than block-size key "
	    "and a larger than block-size data. The key needs to be hashed "
	    "before being used by the HMAC algorithm.";
	hmac_vecs[3].mac = "9b09ffa71b942fcb27635fbcd5b0e944"
	    "bfdc63644f0713938a7f51535c3a35e2";
}

static void
test_hmac_oneshot(void **state)
{
	uint8_t mac[32];

	(void)state;
	hmac_vectors_init();
	for (size_t i = 0; i < N(hmac_vecs); i++) {
		const struct hmac_vec *v = &hmac_vecs[i];

		memset(mac, 0, sizeof(mac));
		assert_int_equal(hmac_sha256(v->key, v->keylen, v->data,
		    strlen(v->data), mac), 0);
		assert_hex(mac, 32, v->mac);
	}
	/* Empty key and message (well-known value). */
	assert_int_equal(hmac_sha256((const uint8_t *)"", 0, "", 0, mac), 0);
	assert_hex(mac, 32, "b613679a0814d9ec772f95d778c35fc5"
	    "ff1697c493715653c6c712144292c5ad");
}

/* The streaming API gives the same MAC whatever the split. */
static void
test_hmac_streaming(void **state)
{
	static const size_t steps[] = { 1, 3, 5, 7, 11, 13, 64, 65 };

	(void)state;
	hmac_vectors_init();
	for (size_t i = 0; i < N(hmac_vecs); i++) {
		const struct hmac_vec *v = &hmac_vecs[i];
		size_t len = strlen(v->data);
		uint8_t mac[32];

		/* every two-way split, empty pieces included */
		for (size_t cut = 0; cut <= len; cut++) {
			struct hmac_stream *s = hmac_stream_new(v->key,
			    v->keylen);

			hmac_stream_update(s, v->data, cut);
			hmac_stream_update(s, v->data + cut, len - cut);
			hmac_stream_final(s, mac);
			assert_hex(mac, 32, v->mac);
		}
		/* pieces of a fixed odd size */
		for (size_t k = 0; k < N(steps); k++) {
			struct hmac_stream *s = hmac_stream_new(v->key,
			    v->keylen);

			for (size_t off = 0; off < len; off += steps[k])
				hmac_stream_update(s, v->data + off,
				    len - off < steps[k] ? len - off :
				    steps[k]);
			hmac_stream_final(s, mac);
			assert_hex(mac, 32, v->mac);
		}
	}
}

/* Two streams at once do not share state. */
static void
test_hmac_interleaved(void **state)
{
	struct hmac_stream *a, *b;
	uint8_t ma[32], mb[32];

	(void)state;
	hmac_vectors_init();
	a = hmac_stream_new(hmac_vecs[0].key, hmac_vecs[0].keylen);
	b = hmac_stream_new(hmac_vecs[1].key, hmac_vecs[1].keylen);
	hmac_stream_update(a, "Hi ", 3);
	hmac_stream_update(b, "what do ya want ", 16);
	hmac_stream_update(a, "There", 5);
	hmac_stream_update(b, "for nothing?", 12);
	hmac_stream_final(b, mb);
	hmac_stream_final(a, ma);
	assert_hex(ma, 32, hmac_vecs[0].mac);
	assert_hex(mb, 32, hmac_vecs[1].mac);
}

/* ---- keyed XXH3-128 ---- */

static const size_t xxh_sizes[] = {
	0, 1, 3, 16, 17, 128, 129, 240, 241, 1024, 4096,
	HASH_CHUNK - 1, HASH_CHUNK, HASH_CHUNK + 1, 2 * HASH_CHUNK + 7,
	(1 << 20) + 3,
};

static void
test_xxh3_matches_libxxhash(void **state)
{
	size_t max = (1 << 20) + 3;
	uint8_t *data = make_data(max, 0x9e3779b9);

	(void)state;
	for (size_t i = 0; i < N(xxh_sizes); i++) {
		size_t n = xxh_sizes[i];
		uint8_t want_x[16], want_s[32];
		struct hash_result r;
		int fd;

		ref_xxh3(data, n, secret, want_x);
		ref_sha256(data, n, want_s);

		fd = temp_fd(data, n);
		memset(&r, 0xee, sizeof(r));
		assert_int_equal(hash_fd(fd, secret, HASH_XXH | HASH_SHA, -1,
		    i % 2 ? n : UINT64_MAX, &r), 0);
		if (memcmp(r.xxh, want_x, 16) != 0)
			fail_msg("XXH3 mismatch at size %zu (file)", n);
		assert_memory_equal(r.sha, want_s, 32);
		assert_int_equal(r.bytes, n);
		close(fd);

		memset(&r, 0xee, sizeof(r));
		hash_buf(data, n, secret, &r);
		if (memcmp(r.xxh, want_x, 16) != 0)
			fail_msg("XXH3 mismatch at size %zu (buf)", n);
		assert_memory_equal(r.sha, want_s, 32);
		assert_int_equal(r.bytes, n);
	}
	free(data);
}

/* Through a pipe, reads return odd-sized pieces. */
static void
test_xxh3_pipe(void **state)
{
	static const size_t sizes[] = { 0, 241, HASH_CHUNK + 1,
	    (1 << 20) + 3 };
	size_t max = (1 << 20) + 3;
	uint8_t *data = make_data(max, 12345);

	(void)state;
	for (size_t i = 0; i < N(sizes); i++) {
		uint8_t want_x[16], want_s[32];
		struct hash_result r;
		pid_t pid;
		int fd;

		ref_xxh3(data, sizes[i], secret, want_x);
		ref_sha256(data, sizes[i], want_s);
		fd = pipe_fd(data, sizes[i], &pid);
		assert_int_equal(hash_fd(fd, secret, HASH_XXH | HASH_SHA, -1,
		    sizes[i], &r), 0);
		close(fd);
		pipe_wait(pid);
		assert_memory_equal(r.xxh, want_x, 16);
		assert_memory_equal(r.sha, want_s, 32);
		assert_int_equal(r.bytes, sizes[i]);
	}
	free(data);
}

/* Another secret gives another digest. (XXH3 reads only part of the
 * secret for short inputs: the last byte matters only once the input
 * spans a full 1024-byte block, so byte 5 is the one flipped for the
 * short sizes.) */
static void
test_xxh3_secret_matters(void **state)
{
	static const size_t sizes[] = { 1, 17, 1000, (1 << 20) + 3 };
	uint8_t other[HASH_SECRET_LEN], *data = make_data((1 << 20) + 3, 7);
	struct hash_result a, b, c;

	(void)state;
	for (size_t i = 0; i < N(sizes); i++) {
		size_t n = sizes[i];

		memcpy(other, secret, sizeof(other));
		other[5] ^= 1;
		hash_buf(data, n, secret, &a);
		hash_buf(data, n, other, &b);
		hash_buf(data, n, secret, &c);
		assert_memory_not_equal(a.xxh, b.xxh, 16);
		assert_memory_equal(a.xxh, c.xxh, 16);	/* deterministic */
		assert_memory_equal(a.sha, b.sha, 32);	/* SHA is unkeyed */
		data[n - 1] ^= 1;
		hash_buf(data, n, secret, &c);
		data[n - 1] ^= 1;
		assert_memory_not_equal(a.xxh, c.xxh, 16);
	}
	memcpy(other, secret, sizeof(other));
	other[HASH_SECRET_LEN - 1] ^= 1;
	hash_buf(data, (1 << 20) + 3, secret, &a);
	hash_buf(data, (1 << 20) + 3, other, &b);
	assert_memory_not_equal(a.xxh, b.xxh, 16);
	free(data);
}

/* Only what is asked for is computed. */
static void
test_hash_what(void **state)
{
	uint8_t *data = make_data(5000, 99), want_x[16], want_s[32];
	uint8_t ee[32];
	struct hash_result r;
	int fd = temp_fd(data, 5000);

	(void)state;
	memset(ee, 0xee, sizeof(ee));
	ref_xxh3(data, 5000, secret, want_x);
	ref_sha256(data, 5000, want_s);

	memset(&r, 0xee, sizeof(r));
	assert_int_equal(hash_fd(fd, secret, HASH_XXH, -1, 5000, &r), 0);
	assert_memory_equal(r.xxh, want_x, 16);
	assert_memory_equal(r.sha, ee, 32);
	assert_int_equal(r.bytes, 5000);

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	memset(&r, 0xee, sizeof(r));
	assert_int_equal(hash_fd(fd, NULL, HASH_SHA, -1, 5000, &r), 0);
	assert_memory_equal(r.sha, want_s, 32);
	assert_memory_equal(r.xxh, ee, 16);

	/* from the current offset, not from 0 */
	assert_int_equal(lseek(fd, 1000, SEEK_SET), 1000);
	assert_int_equal(hash_fd(fd, secret, HASH_XXH | HASH_SHA, -1, 4000,
	    &r), 0);
	ref_xxh3(data + 1000, 4000, secret, want_x);
	ref_sha256(data + 1000, 4000, want_s);
	assert_memory_equal(r.xxh, want_x, 16);
	assert_memory_equal(r.sha, want_s, 32);
	assert_int_equal(r.bytes, 4000);

	/* at EOF: the hash of nothing */
	assert_int_equal(hash_fd(fd, secret, HASH_SHA, -1, 0, &r), 0);
	assert_int_equal(r.bytes, 0);
	assert_hex(r.sha, 32, sha_vectors[0].sha);
	close(fd);
	free(data);
}

static void
read_all(int fd, uint8_t **out, size_t *outlen)
{
	size_t cap = 4096, n = 0;
	uint8_t *buf = xmalloc(cap);
	ssize_t k;

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	while ((k = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)k;
		if (n == cap)
			buf = xreallocarray(buf, cap *= 2, 1);
	}
	assert_int_equal(k, 0);
	*out = buf;
	*outlen = n;
}

/* The copy fd receives exactly the hashed bytes. */
static void
test_hash_copy(void **state)
{
	static const size_t sizes[] = { 0, 1, 241, HASH_CHUNK,
	    HASH_CHUNK + 1, (1 << 20) + 3 };
	uint8_t *data = make_data((1 << 20) + 3, 4242);

	(void)state;
	for (size_t i = 0; i < N(sizes); i++) {
		size_t n = sizes[i], got;
		int in = temp_fd(data, n), out = temp_fd("", 0);
		struct hash_result r, ref;
		uint8_t *copy;

		assert_int_equal(hash_fd(in, secret, HASH_XXH | HASH_SHA, out,
		    n, &r), 0);
		assert_int_equal(r.bytes, n);
		read_all(out, &copy, &got);
		assert_int_equal(got, n);
		assert_memory_equal(copy, data, n);
		hash_buf(data, n, secret, &ref);
		assert_memory_equal(r.xxh, ref.xxh, 16);
		assert_memory_equal(r.sha, ref.sha, 32);
		free(copy);
		close(in);
		close(out);
	}

	/* through a pipe as well */
	{
		size_t n = (1 << 20) + 3, got;
		pid_t pid;
		int in = pipe_fd(data, n, &pid), out = temp_fd("", 0);
		struct hash_result r;
		uint8_t *copy;

		assert_int_equal(hash_fd(in, secret, HASH_SHA, out, UINT64_MAX,
		    &r), 0);
		pipe_wait(pid);
		read_all(out, &copy, &got);
		assert_int_equal(got, n);
		assert_memory_equal(copy, data, n);
		free(copy);
		close(in);
		close(out);
	}
	free(data);
}

/* expect: a short read that reaches the expected size ends the loop
 * without waiting for EOF; any other value reads up to EOF. */
static void
test_hash_expect(void **state)
{
	uint8_t *data = make_data(10000, 31337), want[32];
	struct hash_result r;
	int fds[2], fd;

	(void)state;
	/* The writer stays open: without the early stop this would block
	 * (the alarm turns a hang into a failure). */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], data, 100), 100);
	alarm(20);
	assert_int_equal(hash_fd(fds[0], secret, HASH_SHA, -1, 100, &r), 0);
	alarm(0);
	assert_int_equal(r.bytes, 100);
	ref_sha256(data, 100, want);
	assert_memory_equal(r.sha, want, 32);
	close(fds[0]);
	close(fds[1]);

	/* A file larger than expected is still read to its end. */
	fd = temp_fd(data, 10000);
	assert_int_equal(hash_fd(fd, secret, HASH_SHA, -1, 500, &r), 0);
	assert_int_equal(r.bytes, 10000);
	ref_sha256(data, 10000, want);
	assert_memory_equal(r.sha, want, 32);

	/* A file smaller than expected: EOF ends it. */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(hash_fd(fd, secret, HASH_SHA, -1, 20000, &r), 0);
	assert_int_equal(r.bytes, 10000);
	assert_memory_equal(r.sha, want, 32);
	close(fd);
	free(data);
}

static void
test_hash_fd_errors(void **state)
{
	struct hash_result r;
	int fd, dfd, ro;
	char path[] = "/tmp/fimguard-test-hash-XXXXXX";

	(void)state;
	/* reading a directory fails with EISDIR */
	dfd = open("/", O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	errno = 0;
	assert_int_equal(hash_fd(dfd, secret, HASH_XXH | HASH_SHA, -1, 0,
	    &r), -1);
	assert_int_equal(errno, EISDIR);
	close(dfd);

	/* a closed fd */
	errno = 0;
	assert_int_equal(hash_fd(-1, secret, HASH_SHA, -1, 0, &r), -1);
	assert_int_equal(errno, EBADF);

	/* the copy cannot be written */
	fd = temp_fd("some bytes", 10);
	ro = mkstemp(path);
	assert_true(ro >= 0);
	close(ro);
	ro = open(path, O_RDONLY);
	unlink(path);
	assert_true(ro >= 0);
	errno = 0;
	assert_int_equal(hash_fd(fd, secret, HASH_SHA, ro, 10, &r), -1);
	assert_int_equal(errno, EBADF);
	close(ro);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_million_a),
		cmocka_unit_test(test_hmac_oneshot),
		cmocka_unit_test(test_hmac_streaming),
		cmocka_unit_test(test_hmac_interleaved),
		cmocka_unit_test(test_xxh3_matches_libxxhash),
		cmocka_unit_test(test_xxh3_pipe),
		cmocka_unit_test(test_xxh3_secret_matters),
		cmocka_unit_test(test_hash_what),
		cmocka_unit_test(test_hash_copy),
		cmocka_unit_test(test_hash_expect),
		cmocka_unit_test(test_hash_fd_errors),
	};

	return cmocka_run_group_tests_name("hash", tests, setup, teardown);
}
