/* Reading the events file and the copies logrotate left, oldest first:
 * shared by `fimguard events` and `fimguard suggest`. */
#ifndef FIMGUARD_CLI_EVENTS_H
#define FIMGUARD_CLI_EVENTS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

struct cmd_opts;

/* Called with each well-formed event (and its line, newline included);
 * a nonzero return stops the reading. */
typedef int (*events_fn)(void *, json_object *, const char *, size_t);

int64_t	 events_time_ms(json_object *);
char	*events_begin(const struct cmd_opts *, int64_t *);
int	 events_read(const char *, int, events_fn, void *);

#endif
