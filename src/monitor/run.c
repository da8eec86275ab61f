/* fimguard run: the process around the monitor instance. The main
 * thread only handles signals (signalfd), answers the control socket,
 * speaks systemd's notify protocol. A watchdog thread (perm.c) watches
 * every permission thread: a batch that takes longer than 5 s ends the
 * process, because the kernel then allows every pending open instead of
 * leaving the openers frozen (fail-open; systemd restarts us, and the
 * directory events and `check` catch what slipped through).
 *
 * Setup order (DESIGN.md §3): config; the alerter is forked (it reads
 * its secrets here, as root, then drops to its own user); fanotify
 * groups, marks, keys and baseline; then capabilities are dropped and
 * the seccomp filter loaded; only then do threads start, so that none
 * keeps a capability.
 *
 * SIGHUP reloads: a new instance (config, policy, baseline, marks,
 * threads) on the same fanotify groups is started while the old one
 * still answers; only then is the old one stopped. A bad policy keeps
 * the old instance running and says why. Alert sinks and capabilities
 * are set at start; changing them needs a restart. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "core/cmd.h"
#include "core/log.h"
#include "core/priv.h"
#include "core/render.h"
#include "core/util.h"
#include "monitor/args.h"
#include "monitor/ctl.h"
#include "monitor/monitor.h"
#include "monitor/perm.h"
#include "monitor/reload.h"
#include "monitor/run.h"
#include "monitor/worker.h"

#define RUN_LOCK	"monitor.lock"	/* one monitor per state directory */


/* systemd's notify protocol, without libsystemd: one datagram. */
static void
run_sd_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path))) < 0)
		log_debug("sd_notify: %s", strerror(errno));
	close(fd);
}

/* The start-up line: the global mode, and the rules whose own mode
 * overrides it (a rule in enforce under a global audit is the one that
 * denies). */
static void
run_say_modes(const struct monitor *m)
{
	const char *other = conf_mode_name(m->conf.mode == CONF_MODE_ENFORCE ?
	    CONF_MODE_AUDIT : CONF_MODE_ENFORCE);
	char names[512] = "";
	size_t n = 0, len = 0;

	for (size_t r = 0; r < m->conf.nrules; r++) {
		const struct conf_rule *rule = &m->conf.rules[r];
		int w;

		if (conf_rule_mode(&m->conf, rule) == m->conf.mode)
			continue;
		w = snprintf(names + len, sizeof(names) - len, "%s%s",
		    n++ > 0 ? ", " : "", rule->name);
		if (w > 0)
			len = len + (size_t)w < sizeof(names) ? len + (size_t)w :
			    sizeof(names) - 1;
	}
	if (n == 0)
		log_warnx("monitoring %zu files in %s mode (%zu rules)",
		    monitor_nfiles(m), conf_mode_name(m->conf.mode),
		    m->conf.nrules);
	else
		log_warnx("monitoring %zu files in %s mode (%zu rules); "
		    "in %s mode by their own setting: %s", monitor_nfiles(m),
		    conf_mode_name(m->conf.mode), m->conf.nrules, other,
		    names);
}

/* Threads start after the privilege drop: they inherit the dropped
 * capabilities and the seccomp filter of the thread that makes them. */
static void
run_threads(struct monitor *m)
{
	if (args_start(m->args) == 0)
		log_warnx("no command line reader: events will lack "
		    "process.args");
	if (pthread_create(&m->worker_tid, NULL, worker_main, m) != 0 ||
	    pthread_create(&m->perm_tid, NULL, perm_main, &m->perm) != 0)
		fatalx("cannot start threads");
	m->started_ms = util_now_ms();
	perm_watch(&m->perm, 1);
	run_say_modes(m);
}

/* What a run holds across reloads. */
struct run {
	struct monitor_groups groups;
	struct alerter	 alerter;
	int		 alerting;
	int		 restore_caps;	/* kept CAP_CHOWN & co. */
	struct ctl_totals totals;	/* since the process started */
	int		 fd_warned;	/* descriptor shortage logged */
};

/* Say once (the permission thread cannot log) that descriptors ran
 * short, or that the limit made us hold fewer at a time. */
static void
run_fd_check(const struct monitor *m, struct run *rn)
{
	uint64_t n = rn->totals.fd_shortages + ctl_fd_shortages(m);

	if (rn->fd_warned || (n == 0 && !m->fd_low))
		return;
	rn->fd_warned = 1;
	log_warnx("low on file descriptors (limit %zu, %llu shortages so "
	    "far): %zu events answered at a time; reads are never denied "
	    "for it (see status)", m->fd_limit, (unsigned long long)n,
	    m->perm_batch);
}

static struct monitor *
run_reload(const struct cmd_opts *o, struct monitor *m, struct run *rn)
{
	struct monitor *next;
	int err;

	run_sd_notify("RELOADING=1");
	log_warnx("SIGHUP: reloading config, policy and baseline");
	next = monitor_start(o, &err, &rn->groups, rn->alerting ?
	    &rn->alerter : NULL);
	if (next != NULL && !rn->restore_caps && monitor_needs_restore(next))
		log_warnx("restore = yes needs a restart: the capabilities "
		    "restoring needs were dropped at start");
	if (next != NULL && reload_report(&next->sink, &m->conf,
	    &next->conf) > 0)
		log_warnx("the policy changed: policy-changed events say how");
	if (next != NULL)
		run_threads(next);
	if (next == NULL) {
		log_warnx("reload failed; the running monitor keeps its "
		    "previous policy");
		run_sd_notify("READY=1");
		return m;
	}
	monitor_halt(m, NULL, next);	/* only after the new one answers */
	ctl_account(&rn->totals, m);
	monitor_free(m);
	rn->totals.reloads++;
	run_sd_notify("READY=1");
	return next;
}

/* Until SIGTERM or SIGINT. Returns the exit status. */
static int
run_loop(const struct cmd_opts *o, struct monitor **mp, int sfd, int lfd,
    struct run *rn)
{
	struct pollfd pfd[3] = { { sfd, POLLIN, 0 }, { lfd, POLLIN, 0 },
	    { -1, POLLIN, 0 } };

	for (;;) {
		struct signalfd_siginfo si;

		pfd[2].fd = rn->alerting && !rn->alerter.dead ?
		    rn->alerter.sock : -1;
		if (poll(pfd, 3, 1000) < 0 && errno != EINTR)
			fatal("poll");
		if ((pfd[0].revents & POLLIN) &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGHUP)
				return 0;
			*mp = run_reload(o, *mp, rn);
		}
		if (lfd >= 0 && (pfd[1].revents & POLLIN))
			ctl_serve(lfd, *mp, util_now_ms(), &rn->totals);
		if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))
			alert_read(&rn->alerter);
		if (rn->alerting)
			alert_tick(&rn->alerter);
		run_fd_check(*mp, rn);
		run_sd_notify("WATCHDOG=1");
	}
}

/* One monitor per state directory: two would each see the other's
 * restores as renames over the files and restore again, without end.
 * The lock (<state>/monitor.lock, flock) lasts as long as the process;
 * a state directory that does not exist yet is said later. */
static int
run_single(const struct cmd_opts *o)
{
	struct conf c;
	char *path;
	int fd;

	if (cmd_load_conf(o, &c) != 0)
		return EXIT_USAGE;
	path = xasprintf("%s/%s", cmd_state_dir(o, &c), RUN_LOCK);
	conf_free(&c);
	fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0 && fd < 10) {	/* above what the alerter keeps */
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);

		close(fd);
		fd = high;
	}
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_warnx("%s: another monitor runs on this state directory",
		    path);
		close(fd);
		free(path);
		return EXIT_USAGE;
	}
	free(path);
	return 0;	/* fd stays open: the lock goes with the process */
}

/* The alerter is forked first: no thread, no fanotify group and no
 * mark exists yet for it to inherit. */
static int
run_alerter(const struct cmd_opts *o, struct run *rn)
{
	struct conf c;
	int r;

	if (cmd_load_conf(o, &c) != 0)
		return EXIT_USAGE;
	r = alert_prepare(&rn->alerter, &c, cmd_state_dir(o, &c));
	conf_free(&c);
	if (r < 0)
		return EXIT_USAGE;
	if (r > 0 && alert_start(&rn->alerter) < 0) {
		log_warn("cannot start the alerter");
		return EXIT_USAGE;
	}
	rn->alerting = r > 0;
	return 0;
}

int
cmd_run(const struct cmd_opts *o)
{
	static struct run rn;	/* its address goes to the ctl code */
	struct monitor *m;
	sigset_t set;
	int sfd, lfd, r;

	/* The permission thread takes a read lease on an event's fd for
	 * an instant (intent.c); a write open of that file meanwhile makes
	 * the kernel send SIGIO to the lease holder, whose default action
	 * ends the process (and the kernel would then allow every pending
	 * open). Ignored process-wide, before any thread exists. */
	signal(SIGIO, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rn.totals.started_ms = util_now_ms();
	render_stdout_setup(o->format);
	if ((r = run_single(o)) != 0 || (r = run_alerter(o, &rn)) != 0)
		return r;
	if ((m = monitor_start(o, &r, &rn.groups, rn.alerting ? &rn.alerter :
	    NULL)) == NULL) {
		alert_stop(&rn.alerter);
		return r;
	}
	sigdelset(&set, SIGPIPE);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		fatal("signalfd");
	lfd = ctl_listen(m->state.dir);
	rn.restore_caps = monitor_needs_restore(m);
	priv_drop_monitor(rn.restore_caps);
	if (perm_watchdog_start() < 0)
		fatalx("cannot start the stall watchdog");
	run_threads(m);
	run_sd_notify("READY=1");
	r = run_loop(o, &m, sfd, lfd, &rn);
	run_sd_notify("STOPPING=1");
	if (lfd >= 0) {
		char *sock = state_path(&m->state, CTL_SOCKET);

		close(lfd);
		unlink(sock);
		free(sock);
	}
	close(sfd);
	monitor_stop(m, &rn.groups);
	monitor_groups_close(&rn.groups);
	alert_stop(&rn.alerter);
	return r;
}
