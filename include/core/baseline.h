/* The baseline file: versioned JSON lines with an HMAC-SHA256 trailer.
 *   {"format":"fimguard-baseline","version":2,...}     header
 *   ["/etc/passwd","accounts","file",420,...]          one per entry
 *   {"hmac":"<hex>"}                                   over all above */
#ifndef FIMGUARD_BASELINE_H
#define FIMGUARD_BASELINE_H

#include <json-c/json.h>
#include <stdio.h>

#include "core/entry.h"
#include "core/htab.h"
#include "core/pkg.h"
#include "core/state.h"
#include "core/util.h"

#define BASELINE_FILE		"baseline.json"
#define BASELINE_VERSION	2	/* 1 (no package field) is read too */

enum baseline_status {
	BASELINE_OK = 0,
	BASELINE_MISSING,	/* no file, or no key to check it with */
	BASELINE_UNREADABLE,
	BASELINE_TRUNCATED,	/* no HMAC trailer */
	BASELINE_TAMPERED,	/* HMAC does not match */
	BASELINE_CORRUPT,	/* HMAC matches, content not understood */
};

struct baseline {
	struct entryvec	 ev;
	struct htab	 idx;		/* path -> index in ev */
	struct strlist	 rules;		/* interned rule names */
	struct pkg_owners owners;	/* interned package owners */
	char		*created;
	int		 version;	/* the file's format version */
};

/* Receives each verified-so-far record; the verdict comes at the end. */
struct baseline_sink {
	int	(*record)(void *, json_object *, uint64_t);
	void	*arg;
};

int	 baseline_read(struct baseline *, const struct state *,
	    const struct baseline_sink *, char **, FILE **);
int	 baseline_load(struct baseline *, const struct state *, char **);
int	 baseline_save(const struct entryvec *, const struct state *);
char	*baseline_write(const struct entryvec *, const struct state *,
	    uint8_t *);
int	 baseline_install(const struct state *, const char *);
int	 baseline_file_sha(const char *, uint8_t [32]);
void	 baseline_free(struct baseline *);
int	 baseline_find(const struct baseline *, const char *,
	    struct entry **);
void	 baseline_index(struct baseline *);
const char *baseline_status_name(int);

#endif
