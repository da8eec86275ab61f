/* ECS events as JSON lines, built with json-c only. */
#ifndef FIMGUARD_EVENT_H
#define FIMGUARD_EVENT_H

#include <json-c/json.h>
#include <stddef.h>

#include "core/entry.h"

struct event_sink {
	int	 fd;		/* events file, -1 if none */
	char	*path;
	int	 to_stdout;
	int	 failed;
	/* alerts: called with each event before it is freed */
	void	(*hook)(void *, json_object *);
	void	*hook_arg;
};

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
void	 event_sink_close(struct event_sink *);
char	*event_mode_str(uint32_t);

#endif
