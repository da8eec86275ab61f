/* fimguard run: the real-time monitor's shared state. */
#ifndef FIMGUARD_MONITOR_H
#define FIMGUARD_MONITOR_H

#include <pthread.h>

#include "core/baseline.h"
#include "core/conf.h"
#include "core/event.h"
#include "core/htab.h"
#include "core/state.h"
#include "monitor/hold.h"
#include "monitor/notify.h"
#include "monitor/perm.h"
#include "monitor/repeat.h"
#include "monitor/ring.h"
#include "monitor/watch.h"

/* The fanotify groups outlive a monitor instance: made once, as root,
 * before capabilities are dropped; a reload re-marks them (adding inode
 * marks needs only read access, creating a group needs CAP_SYS_ADMIN). */
struct monitor_groups {
	int		 perm;		/* permission group */
	int		 pre;		/* pre-content group, or -1 */
	int		 notify;	/* directory notification group */
	int		 data;		/* close-write notifications */
	int		 made;		/* groups exist */
};

struct alerter;
struct monitor_gone;	/* what a previous instance marked (reload) */
struct args;

/* The most close-write events the worker reads at once (each holds a
 * descriptor until it is hashed). */
#define MONITOR_DATA_BATCH	170

/* One of fimguard's own directories and what its entries are, or one
 * of fimguard's own files (self.c). */
enum monitor_self_kind { SELF_NONE = 0, SELF_STATE, SELF_POLICY,
	SELF_FILE };

/* Owner and mode as last seen: an attribute event of one of
 * fimguard's own files or directories that changes neither says
 * nothing (self.c). */
struct monitor_attrs {
	uint32_t	 mode, uid, gid;
};

struct monitor_self {
	int		 kind;
	struct monitor_attrs attrs;
};

/* One watched file: watch.entry indexes these. */
struct mon_file {
	char		*path;		/* NULL: a free slot; base->path
					   when in the baseline */
	int		 rule;		/* conf rule index, -1 for self */
	struct entry	*base;		/* in the baseline, or NULL */
	uint64_t	 dev, ino;	/* the inode watched for it */
	uint8_t		 last_sha[32];	/* last content reported */
	int		 has_last;
	/* A MODIFY waits for the writer's close: O_TRUNC then write(2)
	 * raise it before the new content is there. */
	int		 open_writes;	/* write opens seen minus closes */
	uint64_t	 settle_due_ms;	/* 0: no MODIFY pending */
	uint64_t	 settle_first_ms;
	pid_t		 settle_pid;
	int		 settle_writer;	/* each MODIFY since: a writer's */
	/* who opened it for writing last: the modified event (and the
	 * alert) says who, not only which pid closed it */
	struct perm_record *writer;
};

/* A file another process held for writing when the monitor started
 * (monitor_scan_writers): what the worker last saw of it. */
struct mon_held {
	size_t		 idx;		/* in files */
	pid_t		 pid;		/* the first holder seen */
	int		 seen;		/* the fields below are set */
	uint64_t	 dev, ino, size;
	struct timespec	 mtime, ctime;
};

struct monitor {
	struct conf	 conf;
	struct state	 state;
	struct baseline	 base;
	struct mon_file	*files;
	size_t		 nfiles;
	size_t		*free_files;	/* slots of forgotten files */
	size_t		 nfree;
	struct watch_tab *tab;		/* the same for the instance's life */
	struct htab	 byname;	/* path -> index in files */
	/* fimguard's own directories and files: path -> index in self[];
	 * the state and policy directories (real paths) */
	struct htab	 self_paths;
	struct monitor_self *self;
	size_t		 nself;
	char		*self_state, *self_policy;
	size_t		*settling;	/* files with a pending MODIFY */
	size_t		 nsettling;
	struct mon_held	*held;		/* held for writing at start */
	size_t		 nheld;
	uint64_t	 held_due_ms;	/* the worker's next look */
	struct notify	 notify;
	struct perm_ctx	 perm;
	struct ring	 ring;
	struct args	*args;		/* command line readers */
	struct repeat	 repeat;	/* the worker's: denials folded */
	struct hold	 hold;		/* the worker's: package changes */
	struct event_sink sink;
	int		 perm_fd;	/* permission group */
	int		 pre_fd;	/* pre-content group, or -1 */
	int		 pre_unsupported; /* warned once */
	int		 data_fd;	/* close-write notifications */
	int		 stop_fd;	/* eventfd: worker and perm stop */
	int		 mode;		/* global mode in force */
	int		 foreground;
	uint64_t	 self_dev, self_ino;	/* our executable */
	uint64_t	 started_ms;
	/* the start-up reconciliation (reconcile.c): when it ended (wall
	 * clock), how long it took, what it found */
	uint64_t	 reconciled_ms, reconcile_ms;
	size_t		 reconcile_changes;
	/* descriptors: the limit, and what is held at once within it */
	size_t		 fd_limit, perm_batch, intent_cache, data_batch;
	int		 fd_low;	/* below a full-size monitor's needs */
	uint64_t	 modified, confirmed_same, restores, quarantined;
	uint64_t	 data_shortages;	/* close-writes lost: no fd */
	pthread_t	 perm_tid, worker_tid;
	struct alerter	*alerter;	/* NULL: no alert sink */
	/* handed over by the instance this one replaced, for the worker
	 * to unmark what this one does not cover (atomic exchange) */
	struct monitor_gone *gone;
};

struct cmd_opts;
struct monitor *monitor_start(const struct cmd_opts *, int *,
	    struct monitor_groups *, struct alerter *);
void	 monitor_stop(struct monitor *, struct monitor_groups *);
void	 monitor_halt(struct monitor *, struct monitor_groups *,
	    struct monitor *);
void	 monitor_free(struct monitor *);
void	 monitor_unmark_gone(struct monitor *);
int	 monitor_needs_restore(const struct monitor *);
void	 monitor_groups_close(struct monitor_groups *);

int	 monitor_watch(struct monitor *, struct watch_tab *, const char *,
	    int, int);
void	 monitor_watch_live(struct monitor *, const char *, int);
void	 monitor_watch_created(struct monitor *, const char *, int, pid_t);
void	 monitor_forget(struct monitor *, const struct mon_file *);
int	 monitor_self_mark(struct monitor *, const char *, int);
void	 monitor_self_dir(struct monitor *, const char *, int, int);
size_t	 monitor_nfiles(const struct monitor *);
int	 monitor_open_parent(const struct monitor *, const char *,
	    const char **, char **);
int	 monitor_restore_dir(void *, const char *, uint64_t *, uint64_t *);
void	 monitor_scan_writers(struct monitor *);
int	 monitor_restore_live(struct monitor *, const struct entry *, int,
	    char **);
int	 monitor_keep_restored(struct monitor *, const struct entry *, int);
int	 monitor_rule_mode(const struct monitor *, int);
void	 monitor_event_rule(const struct monitor *, json_object *, int);

#endif
