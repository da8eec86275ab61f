/* fimguard run: the real-time monitor. Setup order matters and is
 * fixed:
 *   1. config, policy, keys and the verified baseline;
 *   2. walk the policy for what exists now;
 *   3. fanotify groups (permission: FAN_CLASS_CONTENT, thread ids,
 *      unlimited queue and marks, close-on-exec; notification:
 *      close-after-write with fds) and inode marks, through O_PATH
 *      descriptors so that the inode marked is the inode recorded;
 *   4. allowed writers' executables by (device, inode);
 *   5. fimguard's own files (state, config, policy) as self-protected;
 *   6. run.c drops privileges and only then starts the threads
 *      (worker, then the permission thread); the watchdog thread of
 *      perm.c ends the process when a batch takes longer than
 *      PERM_STALL_MS, because the kernel then allows every pending open
 *      instead of leaving the openers frozen.
 * Inode marks never cross mount namespaces wrongly and need no
 * CAP_SYS_ADMIN after setup (unlike mount or filesystem marks). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "alert/spool.h"
#include "core/cmd.h"
#include "core/compare.h"
#include "core/entry.h"
#include "core/fdpath.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/util.h"
#include "core/walk.h"
#include "monitor/args.h"
#include "monitor/intent.h"
#include "monitor/monitor.h"
#include "monitor/quarantine.h"
#include "monitor/reconcile.h"
#include "monitor/remade.h"
#include "monitor/restore.h"
#include "monitor/who.h"
#include "monitor/writer.h"

#define MONITOR_EVENTS		"/var/log/fimguard/events.json"

/* Events lost to a full disk, counted since the process started: every
 * instance (a reload makes a new one) writes through it. */
static struct event_loss monitor_loss = EVENT_LOSS_INIT;

/* Every permission event the kernel hands us carries a descriptor
 * until it is answered, and when the kernel cannot make one (EMFILE) it
 * denies the event itself: a shortage of ours would become denied
 * reads. So: as many descriptors as we may have (the hard limit too
 * while CAP_SYS_RESOURCE is there: the first start, before the drop),
 * and what we hold at once sized from what we got (monitor_fd_budget). */
#define MONITOR_NOFILE	65536
/* restores in a row whose copy another process caught (monitor_restore_live) */
#define MONITOR_RESTORE_TRIES	3
/* how long a new file's mark waits for its creator's open to be
 * decided (monitor_watch_created) */
#define MONITOR_CREATE_WAIT_MS	20

static void
monitor_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_max < MONITOR_NOFILE) {
		struct rlimit up = { MONITOR_NOFILE, MONITOR_NOFILE };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static size_t
monitor_fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	if (d == NULL)
		return 64;	/* a guess on the safe side */
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n > 3 ? n - 3 : 0;	/* ".", ".." and d's own */
}

static size_t
monitor_clamp(size_t v, size_t lo, size_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Split the descriptors left after setup: an eighth each for the
 * events one permission thread holds (a reload runs two for a moment)
 * and for its /proc/<tid>/syscall cache, a sixteenth for the worker's
 * close-write batch; the rest stays free for the worker's files, the
 * command line readers and the /proc reads that are not cached. Below
 * what a full-size monitor wants, say it once (run.c, with status). */
static void
monitor_fd_budget(struct monitor *m)
{
	struct rlimit rl;
	size_t limit, used = monitor_fds_open(), left, share;

	limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (1 << 24) ?
	    (size_t)rl.rlim_cur : 1 << 24;
	left = limit > used ? limit - used : 0;
	share = left / 8;
	m->fd_limit = limit;
	m->fd_low = share < PERM_BATCH;
	m->perm_batch = monitor_clamp(share, 2, PERM_BATCH);
	m->intent_cache = monitor_clamp(share, 0, PERM_BATCH);
	m->data_batch = monitor_clamp(left / 16, 1, MONITOR_DATA_BATCH);
}

static int
monitor_make_groups(struct monitor_groups *g, const struct conf *c)
{
	g->pre = -1;
	/* FAN_NONBLOCK: a reload has two permission threads polling one
	 * group for a moment; the one that loses a race must not block */
	g->perm = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC |
	    FAN_NONBLOCK | FAN_REPORT_TID | FAN_UNLIMITED_QUEUE |
	    FAN_UNLIMITED_MARKS,
	    O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (g->perm < 0) {
		log_warn("fanotify_init (permission group; needs "
		    "CAP_SYS_ADMIN and a kernel with permission events)");
		return -1;
	}
	for (size_t r = 0; r < c->nrules; r++)
		if (c->rules[r].truncate == CONF_TRUNC_DENY && g->pre < 0 &&
		    (g->pre = fanotify_init(FAN_CLASS_PRE_CONTENT |
		    FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID |
		    FAN_UNLIMITED_QUEUE |
		    FAN_UNLIMITED_MARKS, O_RDONLY | O_LARGEFILE |
		    O_CLOEXEC)) < 0)
			log_warn("fanotify_init (pre-content group for "
			    "truncate = deny; needs Linux 6.14): truncation "
			    "will be restored, not denied");
	/* a pidfd with each close-write: writer.c binds the writer */
	g->data = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC |
	    FAN_NONBLOCK | FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS |
	    FAN_REPORT_PIDFD, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (g->data < 0 && errno == EINVAL)
		g->data = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC |
		    FAN_NONBLOCK | FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
		    O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (g->data < 0) {
		log_warn("fanotify_init (notification group)");
		return -1;
	}
	g->notify = -1;
	g->made = 1;
	return 0;
}

void
monitor_groups_close(struct monitor_groups *g)
{
	int *fds[] = { &g->perm, &g->pre, &g->notify, &g->data };

	for (size_t i = 0; g->made && i < 4; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	g->made = 0;
}

/* writer.c's fences: made once per run (a reload keeps the groups and
 * the fence files), watched by each instance's directory table. */
static void
monitor_fences(struct monitor *m, int data_fd)
{
	char *dir = state_path(&m->state, WRITER_DIR);

	if (writer_init(m->state.dir, data_fd) == 0 &&
	    notify_mark_fence(&m->notify, dir) < 0)
		log_warn("%s: cannot watch", dir);
	free(dir);
}

static int
monitor_groups(struct monitor *m, struct monitor_groups *g)
{
	if (!g->made && monitor_make_groups(g, &m->conf) < 0)
		return -1;
	for (size_t r = 0; r < m->conf.nrules; r++)
		if (m->conf.rules[r].truncate == CONF_TRUNC_DENY && g->pre < 0)
			log_warnx("rule %s: truncate = deny needs a restart "
			    "(a pre-content group cannot be made after "
			    "capabilities are dropped)", m->conf.rules[r].name);
	if (notify_init(&m->notify, g->notify) < 0) {
		log_warn("fanotify_init (directory notification group)");
		return -1;
	}
	g->notify = m->notify.fd;
	monitor_fences(m, g->data);
	m->perm_fd = g->perm;
	m->pre_fd = g->pre;
	m->data_fd = g->data;
	return 0;
}

/* Restoring needs CAP_CHOWN, CAP_FOWNER and CAP_DAC_OVERRIDE; so does
 * taking a new entry out of someone else's directory (quarantine). */
int
monitor_needs_restore(const struct monitor *m)
{
	for (size_t r = 0; r < m->conf.nrules; r++)
		if (m->conf.rules[r].restore || conf_rule_new_files(&m->conf,
		    &m->conf.rules[r]) == CONF_NEW_QUARANTINE)
			return 1;
	return 0;
}

/* truncate = deny: FAN_PRE_ACCESS sees truncate(2) before it happens
 * (and every read, which then round-trips through us: the cost of the
 * option). Filesystems without pre-content events (tmpfs) refuse the
 * mark; truncation there is restored after the fact instead. */
static void
monitor_pre_mark(struct monitor *m, const char *path, const char *proc)
{
	if (m->pre_fd < 0 || fanotify_mark(m->pre_fd, FAN_MARK_ADD,
	    0x00100000 /* FAN_PRE_ACCESS */, AT_FDCWD, proc) == 0)
		return;
	if (!m->pre_unsupported)
		log_warn("%s: truncate = deny not possible here", path);
	m->pre_unsupported = 1;
}

/* Does the slot's path still name the slot's inode? Inode numbers of
 * deleted files are reused: a slot left by a file that was deleted or
 * replaced must not capture an unrelated new file. */
static int
monitor_slot_live(const struct monitor *m, const struct watch *w)
{
	const char *name;
	struct stat st;
	int dfd, live;

	if (w->entry >= m->nfiles || m->files[w->entry].path == NULL ||
	    (dfd = monitor_open_parent(m, m->files[w->entry].path, &name,
	    NULL)) < 0)
		return 0;
	live = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (uint64_t)st.st_dev == w->dev && (uint64_t)st.st_ino == w->ino;
	close(dfd);
	return live;
}

/* The index in files[] of path: the one it has, or a new one (a slot
 * a forgotten file left, else at the end). */
static size_t
monitor_file_index(struct monitor *m, const char *path, int rule)
{
	struct mon_file *f;
	size_t idx;

	if (htab_get(&m->byname, path, &idx))
		return idx;
	if (m->nfree > 0)
		idx = m->free_files[--m->nfree];
	else {
		m->files = xreallocarray(m->files, m->nfiles + 1,
		    sizeof(*m->files));
		idx = m->nfiles++;
	}
	f = &m->files[idx];
	memset(f, 0, sizeof(*f));
	f->rule = rule;
	/* the baseline's copy of the path when it has one: it lives as
	 * long as the instance (a large policy's memory is paths) */
	if (rule >= 0 && baseline_find(&m->base, path, &f->base))
		f->path = f->base->path;
	else
		f->path = xstrdup(path);
	/* the table borrows the path; files[] may move, the string does
	 * not */
	htab_put(&m->byname, f->path, idx);
	return idx;
}

/* Files watched now (files[] less the slots forgotten files left). */
size_t
monitor_nfiles(const struct monitor *m)
{
	return m->nfiles - m->nfree;
}

/* A file that is in neither the tree nor the baseline any more (made
 * after the start, then deleted or moved away): its slot, its name and
 * its place in files[] go, so that files that come and go hold no
 * memory for good. Worker only; f is not to be used after. Files the
 * baseline or fimguard itself knows stay: their path is what is
 * protected, whatever is there. */
void
monitor_forget(struct monitor *m, const struct mon_file *cf)
{
	struct mon_file *f = (struct mon_file *)cf;
	size_t idx;

	if (f == NULL || f->path == NULL || f->base != NULL || f->rule < 0)
		return;
	idx = (size_t)(f - m->files);
	watch_del(m->tab, f->dev, f->ino, (uint32_t)idx);
	htab_del(&m->byname, f->path);
	for (size_t i = 0; i < m->nsettling; i++)
		if (m->settling[i] == idx)
			m->settling[i--] = m->settling[--m->nsettling];
	free(f->path);		/* not the baseline's: f->base is NULL */
	free(f->writer);
	memset(f, 0, sizeof(*f));
	m->free_files = xreallocarray(m->free_files, m->nfree + 1,
	    sizeof(*m->free_files));
	m->free_files[m->nfree++] = idx;
}

/* Set when the last instance closes its permission groups at exit. */
static int monitor_closing;

/* A path that cannot be watched, with the reason: every one is said
 * (escaped, long ones cut in the middle). Returns -1. */
static int
monitor_unwatched(const char *path, const char *why)
{
	char *shown;

	/* the last instance closed its groups to stop: a worker finishing a
	 * restore can no longer mark what it made, and nothing needs to */
	if (__atomic_load_n(&monitor_closing, __ATOMIC_ACQUIRE))
		return -1;
	shown = fdpath_show(path);

	log_warnx("%s: cannot be watched: %s", shown, why ? why : "?");
	free(shown);
	return -1;
}

/* Remember one of fimguard's own directories or files (key: a path
 * that lives as long as the instance), with its owner and mode. */
static void
monitor_self_note(struct monitor *m, const char *key, int kind,
    const struct stat *st)
{
	size_t at;

	if (!htab_get(&m->self_paths, key, &at)) {
		m->self = xreallocarray(m->self, m->nself + 1,
		    sizeof(*m->self));
		at = m->nself++;
		htab_set(&m->self_paths, key, at);
	}
	m->self[at] = (struct monitor_self){ kind, { st->st_mode & 07777,
	    st->st_uid, st->st_gid } };
}

/* Mark the regular file name in the directory dfd and record it in tab
 * as path. rule -1: fimguard's own files. Returns 0 (also when it is
 * gone or not a regular file), or -1 with the reason in *why. marked,
 * if not NULL, gets the file's stat taken once its marks are in place
 * (st_ino 0: nothing was marked). */
static int
monitor_watch_at(struct monitor *m, struct watch_tab *tab, int dfd,
    const char *name, const char *path, int rule, int mode, char **why,
    struct stat *marked)
{
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct mon_file *f;
	struct watch w;
	struct stat st;
	char proc[64];
	size_t idx;

	if (marked != NULL)
		marked->st_ino = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*why = xasprintf("open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	/* fanotify_mark() refuses an O_PATH fd as its object, but follows
	 * the fd's /proc link to exactly the inode we opened and checked. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	/* FAN_MODIFY goes to the directory group: truncate(2) raises it
	 * without a path, and groups that report fds never see such. */
	if (fanotify_mark(m->perm_fd, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD,
	    proc) < 0 || fanotify_mark(m->data_fd, FAN_MARK_ADD,
	    FAN_CLOSE_WRITE, AT_FDCWD, proc) < 0 ||
	    fanotify_mark(m->notify.fd, FAN_MARK_ADD, FAN_MODIFY | FAN_ATTRIB,
	    AT_FDCWD, proc) < 0) {
		*why = xasprintf("fanotify_mark: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (rule >= 0 && m->conf.rules[rule].truncate == CONF_TRUNC_DENY)
		monitor_pre_mark(m, path, proc);
	if (marked != NULL && fstat(fd, marked) < 0)
		marked->st_ino = 0;
	close(fd);
	if (watch_find(tab, st.st_dev, st.st_ino, &w) &&
	    w.entry != WATCH_NO_ENTRY && monitor_slot_live(m, &w))
		return 0;	/* a hard link already watched */
	idx = monitor_file_index(m, path, rule);
	f = &m->files[idx];
	/* a new inode at a known path: the one it replaced is not what
	 * the path protects any more (unless another path has it now) */
	if (f->ino != 0 && (f->dev != (uint64_t)st.st_dev ||
	    f->ino != (uint64_t)st.st_ino))
		watch_del(tab, f->dev, f->ino, (uint32_t)idx);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	if (rule < 0)
		monitor_self_note(m, f->path, SELF_FILE, &st);
	watch_set(tab, st.st_dev, st.st_ino, (uint32_t)idx,
	    rule >= 0 ? (uint16_t)rule : WATCH_SELF, (uint8_t)mode);
	return 0;
}

/* Mark one regular file by path (any length: through the watched
 * directories above it) and record it in tab. Called at setup for
 * fimguard's own files, and by the worker for files created or
 * restored later (on a clone of the table, then published). A failure
 * is logged with the path and the reason. */
int
monitor_watch(struct monitor *m, struct watch_tab *tab, const char *path,
    int rule, int mode)
{
	const char *name;
	char *why = NULL;
	int dfd = monitor_open_parent(m, path, &name, &why), r;

	if (dfd < 0) {
		r = errno == ENOENT ? 0 : monitor_unwatched(path, why);
		free(why);
		return r;
	}
	if ((r = monitor_watch_at(m, tab, dfd, name, path, rule, mode,
	    &why, NULL)) < 0)
		monitor_unwatched(path, why);
	close(dfd);
	free(why);
	return r;
}

/* One allowed writer's executable: recorded by (device, inode), and
 * its execs reported to the directory group (writer.c), on exactly the
 * inode recorded (the mark follows the inode through any path: hard
 * links, /proc/<pid>/fd, fexecve). */
static void
monitor_writer(struct monitor *m, size_t rule, const char *path)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	struct stat st;
	char proc[64];

	if (fd < 0 || fstat(fd, &st) < 0) {
		log_info("%s: writer not found (rule %s)", path,
		    m->conf.rules[rule].name);
		if (fd >= 0)
			close(fd);
		return;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (fanotify_mark(m->notify.fd, FAN_MARK_ADD, FAN_OPEN_EXEC, AT_FDCWD,
	    proc) < 0)
		log_warn("%s: fanotify_mark (its renames and deletions will "
		    "count as a non-writer's)", path);
	close(fd);
	watch_add_writer(m->tab, rule, st.st_dev, st.st_ino);
}

static void
monitor_writers(struct monitor *m)
{
	for (size_t r = 0; r < m->conf.nrules; r++) {
		const struct conf_rule *rule = &m->conf.rules[r];

		for (size_t i = 0; i < rule->writers.n; i++) {
			glob_t g;

			/* globs allowed, like in paths (/usr/bin/python3*) */
			if (glob(rule->writers.v[i], GLOB_NOCHECK, NULL,
			    &g) != 0)
				continue;
			for (size_t k = 0; k < g.gl_pathc; k++)
				monitor_writer(m, r, g.gl_pathv[k]);
			globfree(&g);
		}
	}
}

/* Watch the entries of fimguard's own directory dir (kind: enum
 * monitor_self_kind): marked before it is listed, like the walk's, and
 * remembered for self.c, which judges what happens in it. */
int
monitor_self_mark(struct monitor *m, const char *dir, int kind)
{
	const char *name;
	struct stat st;
	size_t idx;
	int dfd;

	if (notify_mark_dir(&m->notify, dir, -1) < 0 ||
	    !htab_get(&m->notify.bypath, dir, &idx) ||
	    (dfd = monitor_open_parent(m, dir, &name, NULL)) < 0) {
		log_warn("%s: cannot watch fimguard's own directory", dir);
		return -1;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		memset(&st, 0, sizeof(st));
	close(dfd);
	/* the key is notify's copy of the path, kept as long as notify */
	monitor_self_note(m, m->notify.paths.v[idx], kind, &st);
	return 0;
}

/* The directory above dir: a rename or removal of dir is an entry
 * event there (its other entries are not ours: rule -1). */
static void
monitor_self_parent(struct monitor *m, const char *dir)
{
	char *up = xstrdup(dir), *slash = strrchr(up, '/');

	if (slash != NULL) {
		slash[slash == up] = '\0';
		if (notify_mark_dir(&m->notify, up, -1) < 0)
			log_warn("%s: cannot watch", up);
	}
	free(up);
}

/* fimguard's own directory dir and what is in it, to depth 4. */
void
monitor_self_dir(struct monitor *m, const char *dir, int depth, int kind)
{
	DIR *d;
	struct dirent *de;

	if (depth > 4 || monitor_self_mark(m, dir, kind) < 0 ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		/* spool entries come and go (the alerter removes them):
		 * the directory's mode (root:alerter 02770) guards them;
		 * writer.c's fences are renamed and opened for writing by
		 * the worker, in a directory of mode 0700; so is what the
		 * worker quarantines (and approve puts back) */
		if (depth == 0 && kind == SELF_STATE &&
		    (strcmp(de->d_name, SPOOL_DIR) == 0 ||
		    strcmp(de->d_name, WRITER_DIR) == 0 ||
		    strcmp(de->d_name, QUARANTINE_DIR) == 0))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR)
			monitor_self_dir(m, p, depth + 1, kind);
		else
			monitor_watch(m, m->tab, p, -1, CONF_MODE_ENFORCE);
		free(p);
	}
	closedir(d);
}

/* One of fimguard's own files, by its real path (what the events of
 * its directory name). */
static void
monitor_self_file(struct monitor *m, const char *path)
{
	char *real = realpath(path, NULL);

	monitor_watch(m, m->tab, real ? real : path, -1, CONF_MODE_ENFORCE);
	free(real);
}

/* fimguard's own files are protected in every mode: the state
 * directory (baseline, keys, vault, history), the config and the
 * policy. Only the fimguard executable may write them (approve). The
 * state and policy directories are watched like a rule's (self.c: what
 * is made, removed or renamed there is reported, critical, but
 * fimguard's own bookkeeping), and so are the config's directory (for
 * the config itself) and the directories above them. */
static void
monitor_self(struct monitor *m, const struct cmd_opts *o)
{
	char *state = realpath(m->state.dir, NULL);
	char *policy = realpath(cmd_policy_dir(o, &m->conf), NULL);
	char *config = realpath(o->config, NULL);
	struct stat st;

	if (stat("/proc/self/exe", &st) == 0) {
		m->self_dev = st.st_dev;
		m->self_ino = st.st_ino;
	}
	m->self_state = state;
	m->self_policy = policy;
	if (config != NULL)
		monitor_self_parent(m, config);
	if (state != NULL) {
		monitor_self_parent(m, state);
		monitor_self_dir(m, state, 0, SELF_STATE);
	}
	if (policy != NULL) {
		monitor_self_parent(m, policy);
		monitor_self_dir(m, policy, 0, SELF_POLICY);
	}
	monitor_self_file(m, o->config);
	for (size_t i = 0; i < m->conf.files.n; i++)
		monitor_self_file(m, m->conf.files.v[i]);
	free(config);
}

/* The directory of path, opened through the directories the monitor
 * watches (each still the one marked, no link followed below the
 * first): an O_PATH fd the caller closes, and the last component in
 * *name. Any depth. */
int
monitor_open_parent(const struct monitor *m, const char *path,
    const char **name, char **why)
{
	return fdpath_open_parent(path, name, notify_dir_id,
	    (void *)&m->notify, why);
}

/* What a restore may write through (an fdpath_expect_fn over the
 * monitor): each directory the baseline records must still be that
 * (device, inode); above those (the directory of a file a rule names,
 * and its parents), the one the monitor marked at start. */
int
monitor_restore_dir(void *arg, const char *path, uint64_t *dev,
    uint64_t *ino)
{
	struct monitor *m = arg;
	struct entry *e;

	if (baseline_find(&m->base, path, &e)) {
		/* recorded as something else: no directory will do */
		*dev = e->type == ENTRY_DIR ? e->dev : 0;
		*ino = e->type == ENTRY_DIR ? e->ino : 0;
		return 1;
	}
	return notify_dir_id(&m->notify, path, dev, ino);
}

/* rule.name, severity and mode of an event; rule -1: fimguard's own
 * files, protected in every mode. */
void
monitor_event_rule(const struct monitor *m, json_object *ev, int rule)
{
	if (rule >= 0)
		event_rule(ev, m->conf.rules[rule].name,
		    m->conf.rules[rule].severity, monitor_rule_mode(m, rule));
	else
		event_rule(ev, "fimguard-self", CONF_SEV_CRITICAL,
		    CONF_MODE_ENFORCE);
}

int
monitor_rule_mode(const struct monitor *m, int rule)
{
	if (rule < 0)
		return CONF_MODE_ENFORCE;
	return conf_rule_mode(&m->conf, &m->conf.rules[rule]);
}

/* Watch the entries of the directory dir, open as dfd: deletions,
 * renames and attribute changes of its files are seen there; rule >= 0
 * makes its new entries the rule's. Returns -1 (said) on failure. */
static int
monitor_mark_dir(struct monitor *m, int dfd, const char *dir, int rule)
{
	char *why;

	if (notify_mark_fd(&m->notify, dfd, dir, rule) == 0)
		return 0;
	why = xasprintf("directory mark: %s", strerror(errno));
	monitor_unwatched(dir, why);
	free(why);
	return -1;
}

/* The walk's hook (walk_policy_dirs): each directory is marked before
 * it is listed, so that an entry made, removed or renamed in it after
 * the walk read it is an event the worker gets. */
struct monitor_walk {
	struct monitor	*m;
	int		 errors;
};

static void
monitor_walk_dir(void *arg, int fd, const char *path, int rule)
{
	struct monitor_walk *mw = arg;

	if (monitor_mark_dir(mw->m, fd, path, rule) < 0)
		mw->errors++;
}

/* Did the file stay as it was hashed (scan.c's stat) until its marks
 * were in place? Any write or attribute change moves ctime. */
static int
monitor_as_scanned(const struct entry *e, const struct stat *st)
{
	struct entry now = { 0 };

	entry_from_stat(&now, st);
	return now.ino == e->ino && now.dev == e->dev &&
	    now.size == e->size && now.mtime_ns == e->mtime_ns &&
	    now.ctime_ns == e->ctime_ns;
}

/* Confirm f again as soon as the worker runs, as after a MODIFY. */
static void
monitor_recheck(struct monitor *m, const char *path)
{
	struct mon_file *f;
	size_t idx;

	if (!htab_get(&m->byname, path, &idx) ||
	    (f = &m->files[idx])->settle_due_ms != 0)
		return;
	f->settle_first_ms = f->settle_due_ms = util_now_ms();
	m->settling = xreallocarray(m->settling, m->nsettling + 1,
	    sizeof(*m->settling));
	m->settling[m->nsettling++] = idx;
}

/* The marks of one walked regular file, through the chain c (any
 * depth). It is known by its path even if it is gone by now (its
 * directory's events name it). If it changed between its scan and its
 * marks, the worker confirms it first thing. Each failure is said with
 * its reason; returns -1 if any. */
static int
monitor_mark_file(struct monitor *m, struct fdpath *c, const struct entry *e,
    int rule)
{
	const char *name;
	char *why = NULL;
	struct stat st;
	int dfd, r = 0;

	(void)monitor_file_index(m, e->path, rule);
	if ((dfd = fdpath_parent(c, e->path, &name, &why)) < 0) {
		r = errno == ENOENT ? 0 : monitor_unwatched(e->path, why);
		free(why);
		return r;
	}
	if (monitor_watch_at(m, m->tab, dfd, name, e->path, rule,
	    monitor_rule_mode(m, rule), &why, &st) < 0)
		r = monitor_unwatched(e->path, why);
	else if (e->error == NULL && (st.st_ino == 0 ||
	    !monitor_as_scanned(e, &st)))
		monitor_recheck(m, e->path);
	free(why);
	return r;
}

/* A walked symlink: its own owner and xattr changes (tree.c). */
static int
monitor_mark_link(struct monitor *m, struct fdpath *c, const struct entry *e)
{
	const char *name;
	char *why = NULL;
	int dfd, r = 0;

	if ((dfd = fdpath_parent(c, e->path, &name, &why)) < 0 ||
	    notify_mark_link(&m->notify, dfd, name) < 0)
		r = errno == ENOENT ? 0 : monitor_unwatched(e->path, why ? why :
		    strerror(errno));
	free(why);
	return r;
}

/* The rule index of a walked entry (its rule name is interned). */
static int
monitor_entry_rule(const struct monitor *m, const struct entry *e)
{
	for (size_t r = 0; r < m->conf.nrules; r++)
		if (e->rule == m->conf.rules[r].name)
			return (int)r;
	return -1;
}

/* Mark the walked regular files of ev, through one chain that expects
 * the directories marked during the walk. */
static int
monitor_mark_files(struct monitor *m, const struct entryvec *ev)
{
	struct fdpath chain;
	int errors = 0;

	fdpath_init(&chain, notify_dir_id, &m->notify);
	for (size_t i = 0; i < ev->n; i++) {
		const struct entry *e = &ev->v[i];
		int rule;

		if (e->path == NULL || (rule = monitor_entry_rule(m, e)) < 0)
			continue;
		if (e->type == ENTRY_SYMLINK && monitor_mark_link(m, &chain,
		    e) < 0)
			errors++;
		if (e->type == ENTRY_FILE && monitor_mark_file(m, &chain, e,
		    rule) < 0)
			errors++;
	}
	fdpath_close(&chain);
	return errors;
}

/* After setup: watch a file that appeared (or was restored). The table
 * changes in place under the permission thread (watch.c says how). */
void
monitor_watch_live(struct monitor *m, const char *path, int rule)
{
	monitor_watch(m, m->tab, path, rule, monitor_rule_mode(m, rule));
}

/* May a thread of process pid be inside an open(2)-family call? What
 * /proc/<tid>/syscall says of a thread off its CPU; one on a CPU
 * ("running") may be anywhere, so it may be there too. */
static int
monitor_in_open(pid_t pid)
{
	static const long opens[] = { SYS_open, SYS_openat, SYS_creat,
	    SYS_openat2, SYS_open_by_handle_at };
	char path[64], buf[64];
	struct dirent *d;
	int found = 0, n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while (!found && n++ < 64 && (d = readdir(dir)) != NULL) {
		ssize_t len;
		int fd;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/syscall",
		    (int)pid, d->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (strncmp(buf, "running", 7) == 0) {
			found = 1;
			break;
		}
		for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++)
			found |= strtol(buf, NULL, 10) == opens[i];
	}
	closedir(dir);
	return found;
}

/* Watch a file that pid just created. Its creating open makes the inode
 * first and asks for permission after; the creation event wakes the
 * worker, which on a busy CPU preempts the creator right there (seen
 * here in one start in eight): marked in between, the creator's own
 * open would be judged as a write to a protected file and, in enforce
 * or in fimguard's own directories, fail although the file now exists.
 * So while the creator may be in an open call, wait a little
 * (MONITOR_CREATE_WAIT_MS at most) before marking. */
void
monitor_watch_created(struct monitor *m, const char *path, int rule,
    pid_t pid)
{
	for (int waited = 0; pid > 0 && pid != getpid() &&
	    waited < MONITOR_CREATE_WAIT_MS && monitor_in_open(pid); waited++)
		usleep(1000);
	monitor_watch_live(m, path, rule);
}

/* Whether the copy open on fd differs from b in content or attributes
 * (its inode, times and link count are new anyway). */
static int
monitor_copy_differs(struct monitor *m, int fd, const struct entry *b)
{
	struct entry now = { 0 };
	struct hash_result hr;
	struct stat st;
	unsigned w;

	if (fstat(fd, &st) < 0 || hash_fd(fd, m->state.xxh_secret, HASH_XXH |
	    HASH_SHA, -1, (uint64_t)st.st_size, &hr) < 0)
		return 1;
	now.path = b->path;
	entry_from_stat(&now, &st);
	entry_read_xattrs_fd(&now, fd);
	memcpy(now.xxh, hr.xxh, sizeof(now.xxh));
	memcpy(now.sha, hr.sha, sizeof(now.sha));
	now.has_xxh = now.has_sha = 1;
	w = compare_entry(&now, b);
	free(now.xattrs);
	return (w & (CMP_CONTENT | CMP_TYPE | CMP_MODE | CMP_UID | CMP_GID |
	    CMP_XATTRS)) != 0;
}

/* The restored copy at path, now watched: 0 if nobody else holds it
 * open for writing (a read lease is refused exactly then: intent.c)
 * and it is still the baseline's, else 1. */
static int
monitor_copy_caught(struct monitor *m, const struct entry *b)
{
	const char *name;
	int dfd = monitor_open_parent(m, b->path, &name, NULL), fd, caught;

	if (dfd < 0)
		return 0;	/* gone again: the next event says so */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return 0;
	caught = intent_write_count(fd) == INTENT_WRITE ||
	    monitor_copy_differs(m, fd, b);
	close(fd);
	return caught;
}

/* Put b back from the vault and watch the new copy. Until it is
 * watched the copy is a new file like any other: its owner (once the
 * restore gave it to them) or root can open it for writing, write it
 * at once, or later through a shared mapping, which raises no event at
 * all. Once it is watched no new write open gets through: so a copy
 * that is then still held for writing, or no longer the baseline's, is
 * not kept but made again, and after a few tries the restore fails
 * (restore-failed says why). */
int
monitor_restore_live(struct monitor *m, const struct entry *b, int rule,
    char **why)
{
	for (int i = 0; i < MONITOR_RESTORE_TRIES; i++) {
		if (restore_file(&m->state, b, monitor_restore_dir, m, why) < 0)
			return -1;
		if (monitor_keep_restored(m, b, rule))
			return 0;
	}
	*why = xstrdup("each restored copy was opened for writing by "
	    "another process before it was watched");
	return -1;
}

/* Watch the copy just put in place for b: 1 if it can be kept, else 0
 * (said in the log; the caller makes it again). */
int
monitor_keep_restored(struct monitor *m, const struct entry *b, int rule)
{
	monitor_watch_live(m, b->path, rule);
	if (!monitor_copy_caught(m, b))
		return 1;
	log_warnx("%s: the restored copy was opened for writing before it "
	    "was watched; restoring again", b->path);
	return 0;
}

/* The baseline is loaded (and its HMAC checked) on a thread of its own
 * while the tree is walked and hashed, as check does. */
struct monitor_loader {
	struct monitor	*m;
	pthread_t	 t;
	int		 threaded, r;
	uint64_t	 ms;
};

static void *
monitor_load(void *arg)
{
	struct monitor_loader *l = arg;
	uint64_t t = util_now_ms();

	l->r = cmd_load_baseline(&l->m->state, &l->m->base);
	l->ms = util_now_ms() - t;
	return NULL;
}

/* reconcile.c's baseline hook: wait for the loader. */
static int
monitor_loaded(void *arg)
{
	struct monitor_loader *l = arg;

	if (l->threaded)
		pthread_join(l->t, NULL);
	l->threaded = 0;
	if (l->r == 0)	/* what tree.c made again: expected from now on */
		remade_apply(&l->m->state, &l->m->base);
	log_info("baseline load %.3fs", (double)l->ms / 1000);
	return l->r;
}

/* Walk the policy marking each directory before it is listed, compare
 * the tree with the baseline (reconcile.c: report, restore), then mark
 * the files. What changes after a directory's mark is an event; a file
 * changed after its scan and before its marks is confirmed again.
 * Returns 0 (*errors: what could not be watched) or an exit status. */
static int
monitor_marks(struct monitor *m, const struct cmd_opts *o, int *errors)
{
	struct monitor_walk mw = { m, 0 };
	struct monitor_loader l = { .m = m };
	struct reconcile_hooks h = { monitor_walk_dir, &mw, monitor_loaded,
	    &l, monitor_restore_dir };
	struct reconcile rc;
	uint64_t t;
	int r;

	if (!(l.threaded = pthread_create(&l.t, NULL, monitor_load, &l) == 0))
		monitor_load(&l);
	if ((r = reconcile_run(m, &h, &rc)) != 0) {
		reconcile_free(&rc);
		return r;
	}
	t = util_now_ms();
	m->tab = watch_tab_new(m->base.ev.n + 64, m->conf.nrules);
	htab_init(&m->byname, m->base.ev.n + 64);
	htab_init(&m->self_paths, 64);
	*errors = mw.errors + monitor_mark_files(m, &rc.now) +
	    monitor_mark_files(m, &rc.d.cand) +
	    monitor_mark_files(m, &rc.restored);
	reconcile_free(&rc);
	log_info("marks %.3fs", (double)(util_now_ms() - t) / 1000);
	monitor_writers(m);
	writer_adopt(m->tab);	/* after the exec marks; first start only */
	monitor_self(m, o);
	return 0;
}

static int
monitor_setup(struct monitor *m, const struct cmd_opts *o,
    struct monitor_groups *g)
{
	uint64_t one = 1;
	int r, errors = 0;

	if ((r = cmd_open_state(o, &m->conf, &m->state,
	    CMD_STATE_RECOVER)) != 0)
		return r;
	if (quarantine_init(&m->state) < 0)
		log_warn("%s/%s: cannot create", m->state.dir, QUARANTINE_DIR);
	monitor_raise_nofile();
	/* Everything setup opens is opened before the first mark: once a
	 * file is marked, opening it waits for a permission thread that
	 * does not run yet (the events file may be a protected file). */
	if (ring_init(&m->ring) < 0 ||
	    (m->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0)
		fatal("eventfd");
	repeat_init(&m->repeat, (unsigned)m->conf.repeat_interval);
	/* a FIFO or device there is a configuration error (a reload keeps
	 * the running instance); a file that cannot be opened now is
	 * tried again, and what cannot be written is counted */
	if (event_sink_open(&m->sink, m->conf.events ? m->conf.events :
	    MONITOR_EVENTS, m->foreground) == EVENT_SINK_NOT_FILE)
		return EXIT_USAGE;
	m->sink.loss = &monitor_loss;
	if (m->alerter != NULL) {
		m->sink.hook = alert_event;
		m->sink.hook_arg = m->alerter;
	}
	if (monitor_groups(m, g) < 0)
		return EXIT_USAGE;
	if ((r = monitor_marks(m, o, &errors)) != 0)
		return r;
	if ((r = errors) > 0)
		log_warnx("%d file%s or director%s could not be watched (each "
		    "is named above, with the reason)", r, r == 1 ? "" : "s",
		    r == 1 ? "y" : "ies");
	/* the walk and the comparison are freed: give their pages back
	 * (glibc keeps freed small blocks in the heap otherwise) */
	malloc_trim(0);
	/* files that changed while they were being marked: the worker
	 * confirms them as soon as it runs */
	if (m->nsettling > 0 && write(m->ring.efd, &one, sizeof(one)) < 0)
		log_warn("cannot wake the worker");
	monitor_fd_budget(m);
	m->args = args_new();
	m->perm = (struct perm_ctx){ .fd = m->perm_fd, .pre_fd = m->pre_fd,
	    .stop_fd = m->stop_fd,
	    .tab = m->tab, .ring = &m->ring, .args = m->args,
	    .batch = m->perm_batch, .self = getpid(),
	    .unknown_deny = conf_unknown_deny(&m->conf),
	    .self_dev = m->self_dev, .self_ino = m->self_ino };
	intent_ctx_init(&m->perm.intent, (unsigned)m->intent_cache);
	return 0;
}

/* ---- reload: the marks outlive the instance that made them (they are
 * on the groups, which the next instance gets); the next one's worker
 * removes those of files and directories it does not cover, or a file
 * dropped from the policy would still send every open through us. */

struct monitor_gone {
	struct monitor_gone_file {
		uint64_t dev, ino;
		char	*path;
	}		*files;
	size_t		 nfiles;
	struct strlist	 dirs, keys;	/* directory marks: path, handle */
};

static void
monitor_gone_free(struct monitor_gone *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->nfiles; i++)
		free(g->files[i].path);
	free(g->files);
	strlist_free(&g->dirs);
	strlist_free(&g->keys);
	free(g);
}

static void
monitor_gone_add(struct monitor_gone *g, uint64_t dev, uint64_t ino,
    const char *path)
{
	g->files = xreallocarray(g->files, g->nfiles + 1, sizeof(*g->files));
	g->files[g->nfiles++] = (struct monitor_gone_file){ dev, ino,
	    xstrdup(path) };
}

/* old's threads have stopped: what it marked (and what it was handed
 * and had not got to, after two reloads in a row) goes to next. */
static void
monitor_hand_over(struct monitor *old, struct monitor *next)
{
	struct monitor_gone *g = xcalloc(1, sizeof(*g)), *left;
	const struct watch_tab *t = old->tab;
	struct watch w;
	uint64_t one = 1;

	if ((left = __atomic_exchange_n(&old->gone, NULL,
	    __ATOMIC_ACQ_REL)) != NULL) {
		for (size_t i = 0; i < left->nfiles; i++)
			monitor_gone_add(g, left->files[i].dev,
			    left->files[i].ino, left->files[i].path);
		for (size_t i = 0; i < left->dirs.n; i++) {
			strlist_push(&g->dirs, left->dirs.v[i]);
			strlist_push(&g->keys, left->keys.v[i]);
		}
		monitor_gone_free(left);
	}
	for (size_t it = 0; t != NULL && watch_next(t, &it, &w);)
		if (w.entry < old->nfiles && old->files[w.entry].path != NULL)
			monitor_gone_add(g, w.dev, w.ino,
			    old->files[w.entry].path);
	for (size_t i = 0; i < old->notify.paths.n; i++) {
		strlist_push(&g->dirs, old->notify.paths.v[i]);
		strlist_push(&g->keys, old->notify.keys.v[i]);
	}
	monitor_gone_free(__atomic_exchange_n(&next->gone, g,
	    __ATOMIC_ACQ_REL));
	hold_hand_over(&old->hold, &next->hold);
	if (write(next->ring.efd, &one, sizeof(one)) < 0)
		log_warn("cannot wake the worker");
}

/* One file the previous policy covered and this one does not: its
 * marks go, if its path still leads to the inode marked (else that
 * inode was replaced or moved, and is not what the path protects). */
static void
monitor_unmark(struct monitor *m, const struct monitor_gone_file *f)
{
	/* through its directory's fd (any depth); the inode is checked */
	int fd = fdpath_openat(f->path, O_PATH | O_NOFOLLOW, NULL, NULL,
	    NULL);
	char proc[64];
	struct stat st;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_dev == f->dev &&
	    (uint64_t)st.st_ino == f->ino) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		/* ENOENT: that group had no mark on it */
		fanotify_mark(m->perm_fd, FAN_MARK_REMOVE, FAN_OPEN_PERM,
		    AT_FDCWD, proc);
		fanotify_mark(m->data_fd, FAN_MARK_REMOVE, FAN_CLOSE_WRITE,
		    AT_FDCWD, proc);
		fanotify_mark(m->notify.fd, FAN_MARK_REMOVE, FAN_MODIFY |
		    FAN_ATTRIB, AT_FDCWD, proc);
		if (m->pre_fd >= 0)
			fanotify_mark(m->pre_fd, FAN_MARK_REMOVE,
			    0x00100000 /* FAN_PRE_ACCESS */, AT_FDCWD, proc);
	}
	close(fd);
}

/* The worker, after a reload: unmark what the previous instance marked
 * and this one does not cover. The worker is the one thread that
 * changes this instance's tables, so they cannot change meanwhile. */
void
monitor_unmark_gone(struct monitor *m)
{
	struct monitor_gone *g = __atomic_exchange_n(&m->gone, NULL,
	    __ATOMIC_ACQ_REL);
	struct watch w;

	if (g == NULL)
		return;
	for (size_t i = 0; i < g->nfiles; i++)
		if (!watch_find(m->tab, g->files[i].dev, g->files[i].ino, &w))
			monitor_unmark(m, &g->files[i]);
	for (size_t i = 0; i < g->dirs.n; i++)
		notify_unmark_dir(&m->notify, g->dirs.v[i], g->keys.v[i]);
	monitor_gone_free(g);
}

/* The groups' fds belong to struct monitor_groups, not to us. */
static void
monitor_close(struct monitor *m)
{
	m->notify.fd = -1;
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	for (size_t i = 0; i < m->nfiles; i++) {
		if (m->files[i].base == NULL)
			free(m->files[i].path);
		free(m->files[i].writer);
	}
	free(m->files);
	free(m->settling);
	free(m->held);
	free(m->free_files);
	watch_tab_free(m->tab);
	monitor_gone_free(m->gone);
	htab_free(&m->byname);
	htab_free(&m->self_paths);
	free(m->self);
	free(m->self_state);
	free(m->self_policy);
	notify_free(&m->notify);
	intent_ctx_free(&m->perm.intent);
	if (m->args != NULL)
		args_stop(m->args);
	ring_free(&m->ring);
	repeat_free(&m->repeat);
	hold_free(&m->hold);
	event_sink_close(&m->sink);
	baseline_free(&m->base);
	state_close(&m->state);
	conf_free(&m->conf);
	free(m);
}

static int
monitor_mode(const struct cmd_opts *o, struct conf *c)
{
	if (o->mode == NULL)
		return 0;
	if (strcmp(o->mode, "audit") == 0)
		c->mode = CONF_MODE_AUDIT;
	else if (strcmp(o->mode, "enforce") == 0)
		c->mode = CONF_MODE_ENFORCE;
	else {
		log_warnx("--mode: expected audit or enforce, not '%s'",
		    o->mode);
		return -1;
	}

	return 0;
}

/* Open flags of /proc/<pid>/fdinfo/<fd>, or -1. */
static long
monitor_fd_flags(const char *pid, const char *fd)
{
	char path[600], buf[512], *p;
	FILE *fp;
	long flags = -1;

	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, fd);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), fp) != NULL)
		if ((p = strstr(buf, "flags:")) == buf)
			flags = strtol(p + 6, NULL, 8);
	fclose(fp);
	return flags;
}

static void
monitor_report_writer(struct monitor *m, const char *pid, const char *path,
    size_t idx)
{
	const struct mon_file *f = &m->files[idx];
	json_object *ev = event_new("fimguard.monitor", "preexisting-writer",
	    "unknown");

	event_put_path(event_obj(ev, "file"), "path", path);
	monitor_event_rule(m, ev, f->rule);
	who_pid_to_event(ev, atoi(pid));
	event_emit(&m->sink, ev);
}

/* Keep an eye on a file another process held for writing at start:
 * the worker looks at it every second (worker.c:worker_held), since
 * writes through a shared mapping raise no event at all. Returns 0 if
 * this process was already seen holding it (listed once). */
static int
monitor_hold(struct monitor *m, size_t idx, pid_t pid)
{
	for (size_t i = 0; i < m->nheld; i++)
		if (m->held[i].idx == idx)
			return m->held[i].pid != pid;
	m->held = xreallocarray(m->held, m->nheld + 1, sizeof(*m->held));
	m->held[m->nheld++] = (struct mon_held){ .idx = idx, .pid = pid };
	return 1;
}

/* Whether the mapping at start may be made writable (mprotect): the
 * "mw" flag of its VmFlags in /proc/<pid>/smaps. */
static int
monitor_map_may_write(const char *pid, unsigned long long start)
{
	char path[300], line[512], want[40];
	int in = 0, mw = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%s/smaps", pid);
	snprintf(want, sizeof(want), "%08llx-", start);
	if ((fp = fopen(path, "re")) == NULL)
		return 1;	/* cannot tell: watch it */
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (!in)
			in = strncmp(line, want, strlen(want)) == 0;
		else if (strncmp(line, "VmFlags:", 8) == 0) {
			mw = strstr(line, " mw") != NULL;
			break;
		}
	}
	fclose(fp);
	return mw;
}

/* Shared mappings of protected files (/proc/<pid>/maps, by device and
 * inode): one that is or may become writable holds the file open for
 * writing, with or without a descriptor left in /proc/<pid>/fd. */
static void
monitor_scan_maps(struct monitor *m, const char *pid)
{
	char path[300], line[600];
	unsigned long long start, ino;
	unsigned int maj, min;
	char perms[5];
	struct watch w;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	if ((fp = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%llx-%*x %4s %*x %x:%x %llu", &start, perms,
		    &maj, &min, &ino) != 5 || perms[3] != 's' || ino == 0 ||
		    !watch_find(m->tab, makedev(maj, min), ino, &w) ||
		    w.entry >= m->nfiles || m->files[w.entry].path == NULL)
			continue;
		if ((perms[1] == 'w' || monitor_map_may_write(pid, start)) &&
		    monitor_hold(m, w.entry, atoi(pid)))
			monitor_report_writer(m, pid, m->files[w.entry].path,
			    w.entry);
	}
	fclose(fp);
}

/* Writers that opened a protected file before we started are beyond
 * any permission event: list them (every process's fds and shared
 * mappings, from /proc), and keep an eye on what they hold. */
void
monitor_scan_writers(struct monitor *m)
{
	DIR *procs = opendir("/proc"), *fds;
	struct dirent *p, *d;

	if (procs == NULL)
		return;
	while ((p = readdir(procs)) != NULL) {
		char dir[300];

		if (p->d_name[0] < '1' || p->d_name[0] > '9' ||
		    atoi(p->d_name) == getpid())
			continue;
		snprintf(dir, sizeof(dir), "/proc/%s/fd", p->d_name);
		if ((fds = opendir(dir)) == NULL)
			continue;
		while ((d = readdir(fds)) != NULL) {
			char link[600], target[4096];
			ssize_t n;
			size_t idx;
			long fl;

			snprintf(link, sizeof(link), "%s/%s", dir, d->d_name);
			if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
				continue;
			target[n] = '\0';
			if (!htab_get(&m->byname, target, &idx) ||
			    (fl = monitor_fd_flags(p->d_name, d->d_name)) < 0 ||
			    !intent_flags_write((uint64_t)fl & ~(uint64_t)O_CREAT))
				continue;
			monitor_hold(m, idx, atoi(p->d_name));
			monitor_report_writer(m, p->d_name, target, idx);
		}
		closedir(fds);
		monitor_scan_maps(m, p->d_name);
	}
	closedir(procs);
}

/* A running monitor instance, or NULL with *err set (the reason was
 * logged). Signals must already be blocked: the threads inherit the
 * mask, and only the main thread takes them (signalfd). */
struct monitor *
monitor_start(const struct cmd_opts *o, int *err, struct monitor_groups *g,
    struct alerter *a)
{
	struct monitor *m = xcalloc(1, sizeof(*m));

	m->perm_fd = m->data_fd = m->stop_fd = m->notify.fd = m->pre_fd = -1;
	m->sink.fd = -1;	/* closed on a setup failure before it opened */
	m->state.lockfd = -1;
	m->foreground = o->foreground;
	m->alerter = a;
	if (cmd_load_conf(o, &m->conf) != 0) {
		free(m);
		*err = EXIT_USAGE;
		return NULL;
	}
	if (monitor_mode(o, &m->conf) < 0)
		*err = EXIT_USAGE;
	else
		*err = monitor_setup(m, o, g);
	if (*err != 0) {
		monitor_close(m);
		return NULL;
	}
	return m;
}

/* Stop the threads (monitor_halt) and release everything but the
 * groups (monitor_free): a reload hands them, and what was marked on
 * them, to the next instance (last NULL, next the new instance); at exit
 * (last: the groups), the permission groups close as soon as their
 * thread is gone, and the kernel allows whatever is still pending.
 * Between the two the instance's counters are final. */
void
monitor_stop(struct monitor *m, struct monitor_groups *last)
{
	monitor_halt(m, last, NULL);
	monitor_free(m);
}

void
monitor_free(struct monitor *m)
{
	monitor_close(m);
}

void
monitor_halt(struct monitor *m, struct monitor_groups *last,
    struct monitor *next)
{
	uint64_t one = 1;

	if (write(m->stop_fd, &one, sizeof(one)) < 0)
		fatal("stop");
	pthread_join(m->perm_tid, NULL);
	perm_watch(&m->perm, 0);
	/* the last instance: nobody answers from now on, so let the
	 * kernel allow what is pending rather than wait for the worker */
	if (last != NULL)
		__atomic_store_n(&monitor_closing, 1, __ATOMIC_RELEASE);
	if (last != NULL && last->perm >= 0) {
		close(last->perm);
		last->perm = -1;
	}
	if (last != NULL && last->pre >= 0) {
		close(last->pre);
		last->pre = -1;
	}
	pthread_join(m->worker_tid, NULL);
	if (next != NULL)
		monitor_hand_over(m, next);
	else	/* stopping: held package changes go out unverified */
		hold_release(&m->hold, &m->base, &m->sink, util_now_ms(), 0,
		    1);
}
