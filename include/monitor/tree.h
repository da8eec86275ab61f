/* The protected tree beyond its regular files' content: new entries,
 * directories and symlinks, the directories above a rule's root. The
 * worker hands over each directory event that is not about a watched
 * regular file. */
#ifndef FIMGUARD_TREE_H
#define FIMGUARD_TREE_H

#include "monitor/monitor.h"
#include "monitor/notify.h"

/* Did an allowed writer of the rule make the change ev reports? (the
 * worker's judgement: monitor/writer.c) */
typedef int (*tree_writer_fn)(struct monitor *, int,
	    const struct notify_event *);

void	 tree_created(struct monitor *, const struct notify_event *,
	    const char *, int, tree_writer_fn);
int	 tree_gone(struct monitor *, const struct notify_event *, const char *,
	    const char *, tree_writer_fn);
int	 tree_attrib(struct monitor *, const struct notify_event *,
	    tree_writer_fn);
void	 tree_moved(struct monitor *, const struct notify_event *,
	    tree_writer_fn);

#endif
