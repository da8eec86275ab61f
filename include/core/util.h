/* Small helpers shared by every module: allocation that cannot return
 * NULL, growable string lists, hex and base64, UTF-8 checks, escaping. */
#ifndef FIMGUARD_UTIL_H
#define FIMGUARD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct strlist {
	char	**v;
	size_t	  n;
	size_t	  cap;
};

/* Bump allocator for many small strings freed together: no per-string
 * malloc header or rounding (a large baseline holds ~100k paths). */
struct arena {
	struct arena_chunk *head;
};

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

void	 strlist_push(struct strlist *, const char *);
void	 strlist_push_owned(struct strlist *, char *);
void	 strlist_free(struct strlist *);

char	*arena_strdup(struct arena *, const char *);
void	 arena_free(struct arena *);

void	 util_hex(const uint8_t *, size_t, char *);
int	 util_unhex(const char *, uint8_t *, size_t);
char	*util_b64_encode(const uint8_t *, size_t);
int	 util_b64_decode(const char *, uint8_t **, size_t *);
int	 util_utf8_valid(const char *, size_t);
char	*util_utf8_lossy(const char *);
int	 util_has_control(const char *);
void	 util_flatten_controls(char *);
char	*util_escape(const char *);
size_t	 util_escape_to(const char *, char *, size_t);
int	 util_path_under(const char *, const char *);
char	*util_clean_path(const char *);
char	*util_dirname(const char *);
uint64_t util_now_ms(void);
ssize_t	 util_getline(char **, size_t *, FILE *, size_t);

#endif
