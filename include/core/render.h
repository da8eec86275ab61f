/* How an event looks to a person: one line per event (local time,
 * action, path, the writer, rule and severity) with its diff indented
 * below, or the JSON line as it is. Used by `run --foreground` and
 * `fimguard events`. */
#ifndef FIMGUARD_RENDER_H
#define FIMGUARD_RENDER_H

#include <json-c/json.h>
#include <stdio.h>

enum render_format { RENDER_AUTO = 0, RENDER_TEXT, RENDER_JSON };

struct render {
	int	 text;		/* 1: human lines, 0: JSON lines */
	int	 color;		/* severity colours (a terminal, no NO_COLOR) */
};

int	 render_format(const char *);
void	 render_init(struct render *, int, int);
char	*render_text(const struct render *, json_object *);
int	 render_event(const struct render *, FILE *, json_object *,
	    const char *, size_t);
void	 render_stdout_setup(int);
void	 render_stdout(json_object *, const char *, size_t);

#endif
