/* The directory notification group (FAN_REPORT_DFID_NAME): creations,
 * deletions, renames and attribute changes that no permission event
 * exists for. Directory file handles map back to paths. */
#ifndef FIMGUARD_NOTIFY_H
#define FIMGUARD_NOTIFY_H

#include <stdint.h>
#include <sys/types.h>

#include "core/htab.h"
#include "core/util.h"

enum notify_kind { NOTIFY_CREATE, NOTIFY_DELETE, NOTIFY_RENAME,
	NOTIFY_ATTRIB, NOTIFY_MODIFY };

struct notify_event {
	int		 kind;
	int		 is_dir;
	pid_t		 pid;
	int		 pidfd;		/* of the process, -1: gone or none */
	const char	*path;		/* full path (old path for rename) */
	const char	*newpath;	/* rename only */
	int		 dir;		/* index of path's directory */
	int		 newdir;	/* rename only */
};

struct notify {
	int		 fd;
	struct htab	 dirs;		/* handle key -> index */
	struct strlist	 keys;
	struct strlist	 paths;		/* directory paths */
	int		*rule;		/* children covered by rule, or -1 */
	struct notify_id {
		uint64_t dev, ino;	/* the directory when marked */
	}		*id;
	struct htab	 bypath;	/* path -> newest index */
	int		 fence;		/* index of writer.c's fence dir, or -1 */
};

int	 notify_init(struct notify *, int);
void	 notify_free(struct notify *);
int	 notify_mark_dir(struct notify *, const char *, int);
int	 notify_mark_fd(struct notify *, int, const char *, int);
int	 notify_dir_id(void *, const char *, uint64_t *, uint64_t *);
void	 notify_unmark_dir(struct notify *, const char *, const char *);
int	 notify_mark_fence(struct notify *, const char *);
typedef void (*notify_fn)(void *, const struct notify_event *);
void	 notify_read(struct notify *, notify_fn, void *);
int	 notify_pending(void);
int	 notify_exec_ahead(struct notify *, pid_t);

#endif
