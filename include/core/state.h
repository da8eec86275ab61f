/* The state directory: keys, lock, and durable file replacement. */
#ifndef FIMGUARD_STATE_H
#define FIMGUARD_STATE_H

#include <stdint.h>
#include <sys/types.h>

#include "core/hash.h"

#define STATE_HMAC_KEY_LEN	32

struct state {
	char	*dir;
	uint8_t	 xxh_secret[HASH_SECRET_LEN];
	uint8_t	 hmac_key[STATE_HMAC_KEY_LEN];
	int	 lockfd;
};

enum state_key_status { STATE_KEYS_OK = 0, STATE_KEYS_MISSING = -1,
	STATE_KEYS_BAD = -2 };
/* state_keys: what may be written */
#define STATE_KEYS_CREATE	1	/* a missing key */
#define STATE_KEYS_REPAIR	2	/* a partial key no baseline uses */

int	 state_open(struct state *, const char *, int);
void	 state_close(struct state *);
int	 state_keys(struct state *, int, char **);
int	 state_lock(struct state *);
int	 state_trylock(struct state *);
void	 state_unlock(struct state *);
void	 state_clean(struct state *, const char *);
char	*state_path(const struct state *, const char *);
int	 state_fsync_dir(const char *);
int	 state_mkdirs(const char *, mode_t);

#endif
