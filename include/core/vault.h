/* Content-addressed store of trusted file content: vault/ab/abcdef...
 * (SHA-256 hex). Written for rules with diff or restore. */
#ifndef FIMGUARD_VAULT_H
#define FIMGUARD_VAULT_H

#include <stdint.h>

char	*vault_path(const char *, const uint8_t [32]);
int	 vault_tmp_open(const char *, char **);
int	 vault_commit(const char *, char *, int, const uint8_t [32]);
void	 vault_abort(char *, int);
int	 vault_has(const char *, const uint8_t [32]);

#endif
