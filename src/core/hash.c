/* Hashing with libxxhash (XXH3-128 keyed by a per-install secret) and
 * OpenSSL EVP (SHA-256, HMAC-SHA256). */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/pkg.h"
#include "core/util.h"

/* Fetched once: implicit fetches inside EVP_DigestInit cost a lock and
 * a lookup per file. */
static EVP_MD *hash_sha256;
static EVP_MAC *hash_hmac;
/* the package databases' digests, by enum pkg_algo (NULL: not
 * available, e.g. MD5 under a FIPS provider) */
static EVP_MD *hash_pkg_md[PKG_NALGOS];
static const char *hash_pkg_names[PKG_NALGOS] = {
	NULL, "MD5", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512"
};

void
hash_global_init(void)
{
	if (hash_sha256 == NULL &&
	    (hash_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		fatalx("OpenSSL: SHA256 not available");
	if (hash_hmac == NULL &&
	    (hash_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		fatalx("OpenSSL: HMAC not available");
	for (int a = 1; a < PKG_NALGOS; a++)
		if (hash_pkg_md[a] == NULL)
			hash_pkg_md[a] = EVP_MD_fetch(NULL, hash_pkg_names[a],
			    NULL);
}

void
hash_global_free(void)
{
	EVP_MD_free(hash_sha256);
	EVP_MAC_free(hash_hmac);
	hash_sha256 = NULL;
	hash_hmac = NULL;
	for (int a = 1; a < PKG_NALGOS; a++) {
		EVP_MD_free(hash_pkg_md[a]);
		hash_pkg_md[a] = NULL;
	}
}

static int
hash_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct hash_ctx {
	XXH3_state_t	*xxh;
	EVP_MD_CTX	*sha;
	EVP_MD_CTX	*pkg;
};

static void
hash_ctx_pkg(struct hash_ctx *h, int algo)
{
	if (algo <= 0 || algo >= PKG_NALGOS || hash_pkg_md[algo] == NULL)
		return;		/* pkg_len stays 0: not available */
	if ((h->pkg = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(h->pkg, hash_pkg_md[algo], NULL))
		fatalx("OpenSSL: %s init failed", hash_pkg_names[algo]);
}

static void
hash_ctx_init(struct hash_ctx *h, const uint8_t *secret, int what,
    int pkg_algo)
{
	memset(h, 0, sizeof(*h));
	if (what & HASH_XXH) {
		if ((h->xxh = XXH3_createState()) == NULL)
			fatalx("out of memory");
		XXH3_128bits_reset_withSecret(h->xxh, secret, HASH_SECRET_LEN);
	}
	if (what & HASH_SHA) {
		if ((h->sha = EVP_MD_CTX_new()) == NULL ||
		    !EVP_DigestInit_ex(h->sha, hash_sha256, NULL))
			fatalx("OpenSSL: SHA-256 init failed");
	}
	if (what & HASH_PKG)
		hash_ctx_pkg(h, pkg_algo);
}

static void
hash_ctx_update(struct hash_ctx *h, const void *p, size_t n)
{
	if (h->xxh)
		XXH3_128bits_update(h->xxh, p, n);
	if (h->sha && !EVP_DigestUpdate(h->sha, p, n))
		fatalx("OpenSSL: SHA-256 update failed");
	if (h->pkg && !EVP_DigestUpdate(h->pkg, p, n))
		fatalx("OpenSSL: digest update failed");
}

static void
hash_ctx_final(struct hash_ctx *h, struct hash_result *r)
{
	if (h->xxh) {
		XXH128_canonical_t c;

		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h->xxh));
		memcpy(r->xxh, c.digest, sizeof(r->xxh));
		XXH3_freeState(h->xxh);
	}
	if (h->sha) {
		unsigned len = 0;

		if (!EVP_DigestFinal_ex(h->sha, r->sha, &len) || len != 32)
			fatalx("OpenSSL: SHA-256 final failed");
		EVP_MD_CTX_free(h->sha);
	}
	r->pkg_len = 0;
	if (h->pkg) {
		unsigned len = 0;

		if (!EVP_DigestFinal_ex(h->pkg, r->pkg, &len) ||
		    len > sizeof(r->pkg))
			fatalx("OpenSSL: digest final failed");
		r->pkg_len = len;
		EVP_MD_CTX_free(h->pkg);
	}
}

static int
hash_zero(const uint8_t *p, size_t n)
{
	return n > 0 && p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/* Copy p to fd; with sparse, whole zero blocks become holes (the caller
 * sets the final size, so a trailing hole counts). Runs of data blocks
 * go down in one write. */
static int
hash_copy(int fd, const uint8_t *p, size_t n, int sparse)
{
	size_t off = 0;

	if (!sparse)
		return hash_write_all(fd, p, n);
	while (off < n) {
		size_t run = 0, len;

		while (off + run < n) {
			len = n - off - run < HASH_BLOCK ? n - off - run :
			    HASH_BLOCK;
			if (hash_zero(p + off + run, len))
				break;
			run += len;
		}
		if (run > 0 && hash_write_all(fd, p + off, run) < 0)
			return -1;
		off += run;
		if (off < n) {	/* a zero block: skip it */
			len = n - off < HASH_BLOCK ? n - off : HASH_BLOCK;
			if (lseek(fd, (off_t)len, SEEK_CUR) < 0)
				return -1;
			off += len;
		}
	}
	return 0;
}

/* A failed copy: the end of the hash (-1), or with HASH_COPY_SOFT only
 * of the copy (returns 0, the error kept in r->copy_errno). */
static int
hash_copy_failed(int what, struct hash_result *r, int *copyfd)
{
	if (!(what & HASH_COPY_SOFT))
		return -1;
	r->copy_errno = errno ? errno : EIO;
	*copyfd = -1;
	return 0;
}

/* Hash everything readable from fd (from its current offset), and copy
 * it to copyfd when copyfd >= 0 (the vault), in one pass so the copy is
 * exactly the bytes that were hashed. A short read that reaches the
 * expected size ends the loop without the extra read(2) for EOF: the
 * caller's fstat afterwards catches a file that grew meanwhile. Returns
 * 0, or -1 with errno. */
int
hash_fd(int fd, const uint8_t *secret, int what, int copyfd,
    uint64_t expect, struct hash_result *r)
{
	static __thread uint8_t buf[HASH_CHUNK];
	int sparse = (what & HASH_SPARSE) != 0, saved;
	struct hash_ctx h;

	hash_ctx_init(&h, secret, what, what & HASH_PKG ? r->pkg_algo : 0);
	r->bytes = 0;
	r->copy_errno = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		hash_ctx_update(&h, buf, (size_t)n);
		if (copyfd >= 0 && hash_copy(copyfd, buf, (size_t)n,
		    sparse) < 0 && hash_copy_failed(what, r, &copyfd) < 0)
			goto fail;
		r->bytes += (uint64_t)n;
		if ((size_t)n < sizeof(buf) && r->bytes == expect)
			break;
	}
	/* the copy's size, holes at the end included */
	if (copyfd >= 0 && sparse && ftruncate(copyfd, (off_t)r->bytes) < 0 &&
	    hash_copy_failed(what, r, &copyfd) < 0)
		goto fail;
	hash_ctx_final(&h, r);
	return 0;
fail:
	saved = errno;
	hash_ctx_final(&h, r);
	errno = saved;
	return -1;
}

void
hash_buf(const void *p, size_t n, const uint8_t *secret, struct hash_result *r)
{
	struct hash_ctx h;

	hash_ctx_init(&h, secret, secret ? HASH_XXH | HASH_SHA : HASH_SHA, 0);
	hash_ctx_update(&h, p, n);
	hash_ctx_final(&h, r);
	r->bytes = n;
}

struct hmac_stream {
	EVP_MAC_CTX	*ctx;
};

struct hmac_stream *
hmac_stream_new(const uint8_t *key, size_t keylen)
{
	struct hmac_stream *s = xcalloc(1, sizeof(*s));
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};

	if ((s->ctx = EVP_MAC_CTX_new(hash_hmac)) == NULL ||
	    !EVP_MAC_init(s->ctx, key, keylen, params))
		fatalx("OpenSSL: HMAC init failed");
	return s;
}

void
hmac_stream_update(struct hmac_stream *s, const void *p, size_t n)
{
	if (!EVP_MAC_update(s->ctx, p, n))
		fatalx("OpenSSL: HMAC update failed");
}

void
hmac_stream_final(struct hmac_stream *s, uint8_t out[32])
{
	size_t len = 0;

	if (!EVP_MAC_final(s->ctx, out, &len, 32) || len != 32)
		fatalx("OpenSSL: HMAC final failed");
	EVP_MAC_CTX_free(s->ctx);
	free(s);
}

int
hmac_sha256(const uint8_t *key, size_t keylen, const void *p, size_t n,
    uint8_t out[32])
{
	struct hmac_stream *s = hmac_stream_new(key, keylen);

	hmac_stream_update(s, p, n);
	hmac_stream_final(s, out);
	return 0;
}
