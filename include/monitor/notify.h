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
	NOTIFY_ATTRIB, NOTIFY_MODIFY, NOTIFY_MOVED /* a watched dir itself */ };

struct notify_event {
	int		 kind;
	int		 is_dir;
	pid_t		 pid;
	int		 pidfd;		/* of the process, -1: gone or none */
	const char	*path;		/* full path (old path for rename) */
	const char	*newpath;	/* rename only */
	int		 dir;		/* index of path's directory */
	int		 newdir;	/* rename only */
	/* the object itself, from its own mark (FAN_REPORT_FID): what
	 * changed, whichever path (a hard link elsewhere) was used */
	int		 has_obj;
	uint64_t	 obj_dev, obj_ino;
};

struct notify {
	int		 fd;
	struct htab	 dirs;		/* handle key -> index */
	struct strlist	 keys;
	struct strlist	 paths;		/* directory paths */
	int		*rule;		/* children covered by rule, or -1 */
	struct notify_id {
		uint64_t dev, ino;	/* the directory when marked */
		uint32_t uid, gid;	/* its owner and mode then: what it */
		uint16_t mode;		/* is made again with (restore) */
		uint8_t	 gone;		/* moved or removed: its events no
					   longer describe its path */
	}		*id;
	struct htab	 bypath;	/* path -> newest index */
	int		 fence;		/* index of writer.c's fence dir, or -1 */
	/* one fd on each filesystem marked: open_by_handle_at's mount */
	struct notify_fs {
		uint8_t	 fsid[8];
		int	 fd;
	}		*fs;
	size_t		 nfs;
};

int	 notify_init(struct notify *, int);
void	 notify_free(struct notify *);
int	 notify_mark_dir(struct notify *, const char *, int);
int	 notify_mark_fd(struct notify *, int, const char *, int);
int	 notify_mark_link(struct notify *, int, const char *);
int	 notify_dir_id(void *, const char *, uint64_t *, uint64_t *);
int	 notify_dir_at(const struct notify *, const char *);
int	 notify_dir_was(const struct notify *, const char *, uint64_t,
	    uint64_t);
void	 notify_forget(struct notify *, const char *);
void	 notify_unmark_dir(struct notify *, const char *, const char *);
int	 notify_mark_fence(struct notify *, const char *);
typedef void (*notify_fn)(void *, const struct notify_event *);
void	 notify_read(struct notify *, notify_fn, void *);
int	 notify_pending(void);
int	 notify_exec_ahead(struct notify *, pid_t);

#endif
