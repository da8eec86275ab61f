/* Which allowed writer made a change that no permission event shows
 * (rename, unlink, chmod, truncate(2), a write through an fd from
 * before the monitor): bound to the process as it was when it made
 * the change, from exec events of the writers' executables, fences
 * and the order of each fanotify queue. See writer.c. */
#ifndef FIMGUARD_WRITER_H
#define FIMGUARD_WRITER_H

#include <stdint.h>
#include <sys/types.h>

#include "monitor/watch.h"

#define WRITER_DIR	"fence"		/* in the state directory */

/* The two queues a change can be read from. */
enum writer_queue { WRITER_Q_NOTIFY, WRITER_Q_DATA, WRITER_NQ };

int	 writer_init(const char *, int);
void	 writer_adopt(const struct watch_tab *);
void	 writer_exec(int, pid_t);
void	 writer_fence_seen(enum writer_queue, uint64_t);
int	 writer_data_fence(int, pid_t);
int	 writer_tick(const struct watch_tab *);
int	 writer_identity(enum writer_queue, int, pid_t, uint64_t *,
	    uint64_t *);

#endif
