/* The alert spool: one file per alert and sink, written durably by the
 * monitor before anything is sent, removed by the alerter only after
 * the sink confirmed it; permanent failures move to failed/. */
#ifndef FIMGUARD_SPOOL_H
#define FIMGUARD_SPOOL_H

#include <json-c/json.h>
#include <sys/types.h>

#include "core/util.h"

#define SPOOL_DIR	"spool"
#define SPOOL_FAILED	"failed"

int	 spool_open(const char *, gid_t);
int	 spool_push(int, const char *, uint64_t, json_object *, char *,
	    size_t);
int	 spool_hold(int, const char *, json_object *, json_object *);
int	 spool_release(int, const char *, char *, size_t);
long	 spool_count(int, const char *);
int	 spool_is_digest(const char *);
int	 spool_list(int, struct strlist *);
json_object *spool_load(int, const char *);
json_object *spool_load_entry(int, const char *, json_object **);
int	 spool_done(int, const char *);
int	 spool_keep(int, const char *);
const char *spool_sink(const char *);

#endif
