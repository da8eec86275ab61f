/* Content hashing: keyed XXH3-128 ("did the bytes change at all?") and
 * SHA-256 (the hash every report cites), streamed from one fd. */
#ifndef FIMGUARD_HASH_H
#define FIMGUARD_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_SECRET_LEN	192	/* XXH3 wants >= 136 random bytes */
#define HASH_XXH	1
#define HASH_SHA	2
/* hash_fd's copy: leave holes where whole blocks are zero */
#define HASH_SPARSE	4
/* hash_fd's copy: a failed write stops the copy, not the hash; the
 * error is in hash_result.copy_errno */
#define HASH_COPY_SOFT	8
/* also the package database's digest: hash_result.pkg_algo (enum
 * pkg_algo) says which; pkg_len is 0 when it is not available */
#define HASH_PKG	16
#define HASH_BLOCK	4096
#define HASH_CHUNK	(256 * 1024)

struct hash_result {
	uint8_t		xxh[16];
	uint8_t		sha[32];
	uint64_t	bytes;
	int		copy_errno;	/* HASH_COPY_SOFT: why the copy failed */
	int		pkg_algo;	/* in: HASH_PKG's algorithm */
	uint8_t		pkg[64];	/* out: its digest */
	size_t		pkg_len;
};

void	hash_global_init(void);
void	hash_global_free(void);
int	hash_fd(int, const uint8_t *, int, int, uint64_t,
	    struct hash_result *);
void	hash_buf(const void *, size_t, const uint8_t *, struct hash_result *);
int	hmac_sha256(const uint8_t *, size_t, const void *, size_t,
	    uint8_t [32]);

struct hmac_stream;
struct hmac_stream *hmac_stream_new(const uint8_t *, size_t);
void	hmac_stream_update(struct hmac_stream *, const void *, size_t);
void	hmac_stream_final(struct hmac_stream *, uint8_t [32]);

#endif
