/* ECS events as JSON lines, built with json-c only. */
#ifndef FIMGUARD_EVENT_H
#define FIMGUARD_EVENT_H

#include <json-c/json.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/entry.h"

/* Events that could not be written (a full disk): counted, and told
 * by one events-lost event when writing works again. The monitor's
 * instances share one, so a reload loses neither count nor notice. */
struct event_loss {
	pthread_mutex_t	 mu;
	uint64_t	 pending;	/* lost, not yet told */
	uint64_t	 total;		/* lost since the process started */
	char		 first[32];	/* @timestamp of the first pending */
	char		 last[32];	/* and of the last */
	int		 err;		/* errno of the last loss */
};
#define EVENT_LOSS_INIT	{ PTHREAD_MUTEX_INITIALIZER, 0, 0, "", "", 0 }

struct event_sink {
	int	 fd;		/* events file, -1 if none */
	char	*path;
	int	 to_stdout;
	uint64_t reopen_ms;	/* last try to open a missing file */
	int	 open_failed;	/* said so once */
	struct event_loss own;
	struct event_loss *loss;	/* &own, or shared */
	/* alerts: called with each event before it is freed */
	void	(*hook)(void *, json_object *);
	void	*hook_arg;
};

/* event_sink_open */
#define EVENT_SINK_FAILED	(-1)	/* cannot open (warned) */
#define EVENT_SINK_NOT_FILE	(-2)	/* not a regular file (warned) */

void	 event_timestamp(char *, size_t);
json_object *event_new(const char *, const char *, const char *);
json_object *event_obj(json_object *, const char *);
void	 event_set_str(json_object *, const char *, const char *);
void	 event_file(json_object *, const struct entry *);
void	 event_baseline(json_object *, const struct entry *);
void	 event_rule(json_object *, const char *, int, int);
void	 event_put_path(json_object *, const char *, const char *);
int	 event_sink_open(struct event_sink *, const char *, int);
int	 event_emit(struct event_sink *, json_object *);
char	*event_line(json_object *, size_t *);
uint64_t event_lost(const struct event_sink *);
void	 event_sink_close(struct event_sink *);
char	*event_mode_str(uint32_t);

#endif
