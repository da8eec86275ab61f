/* Quarantine: an entry that a non-writer put into a protected directory
 * is taken out of it and kept, for forensics, in <state>/quarantine/;
 * `fimguard approve PATH` puts it back. */
#ifndef FIMGUARD_QUARANTINE_H
#define FIMGUARD_QUARANTINE_H

#include <json-c/json.h>
#include <sys/types.h>

#include "core/fdpath.h"
#include "core/state.h"
#include "core/util.h"

#define QUARANTINE_DIR		"quarantine"	/* in the state directory */

int	 quarantine_init(const struct state *);
int	 quarantine_take(const struct state *, int, const char *, const char *,
	    json_object *, char **);
int	 quarantine_released(const struct state *, const char *, pid_t);
int	 quarantine_release(const struct state *, const struct strlist *,
	    char **);
int	 quarantine_find(const struct state *, const char *, char **,
	    json_object **);
json_object *quarantine_json(const struct state *, const char *);
int	 quarantine_put_back(const struct state *, const char *, json_object *,
	    fdpath_expect_fn, void *, char **);

#endif
