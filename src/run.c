/* fimguard run: the process around the monitor instance. The main
 * thread only handles signals (signalfd), answers the control socket,
 * speaks systemd's notify protocol. A watchdog thread (perm.c) watches
 * every permission thread: a batch that takes longer than 5 s ends the
 * process, because the kernel then allows every pending open instead of
 * leaving the openers frozen (fail-open; systemd restarts us, and the
 * directory events and `check` catch what slipped through).
 *
 * SIGHUP reloads: a complete new instance (config, policy, baseline,
 * groups, marks, threads) is started while the old one still answers;
 * only then is the old one stopped. A bad policy keeps the old instance
 * running and says why. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "ctl.h"
#include "log.h"
#include "monitor.h"


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

static struct monitor *
run_reload(const struct cmd_opts *o, struct monitor *m, unsigned *reloads)
{
	struct monitor *next;
	int err;

	run_sd_notify("RELOADING=1");
	log_warnx("SIGHUP: reloading config, policy and baseline");
	if ((next = monitor_start(o, &err)) == NULL) {
		log_warnx("reload failed; the running monitor keeps its "
		    "previous policy");
		run_sd_notify("READY=1");
		return m;
	}
	monitor_stop(m);	/* only after the new one answers */
	(*reloads)++;
	run_sd_notify("READY=1");
	return next;
}

/* Until SIGTERM or SIGINT. Returns the exit status. */
static int
run_loop(const struct cmd_opts *o, struct monitor **mp, int sfd, int lfd)
{
	struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { lfd, POLLIN, 0 } };
	unsigned reloads = 0;

	for (;;) {
		struct signalfd_siginfo si;

		if (poll(pfd, lfd >= 0 ? 2 : 1, 1000) < 0 && errno != EINTR)
			fatal("poll");
		if ((pfd[0].revents & POLLIN) &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGHUP)
				return 0;
			*mp = run_reload(o, *mp, &reloads);
		}
		if (lfd >= 0 && (pfd[1].revents & POLLIN))
			ctl_serve(lfd, *mp, util_now_ms(), reloads);
		run_sd_notify("WATCHDOG=1");
	}
}

int
cmd_run(const struct cmd_opts *o)
{
	struct monitor *m;
	sigset_t set;
	int sfd, lfd, r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (perm_watchdog_start() < 0)
		fatalx("cannot start the stall watchdog");
	if ((m = monitor_start(o, &r)) == NULL)
		return r;
	sigdelset(&set, SIGPIPE);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		fatal("signalfd");
	lfd = ctl_listen(m->state.dir);
	run_sd_notify("READY=1");
	r = run_loop(o, &m, sfd, lfd);
	run_sd_notify("STOPPING=1");
	if (lfd >= 0) {
		char *sock = state_path(&m->state, CTL_SOCKET);

		close(lfd);
		unlink(sock);
		free(sock);
	}
	close(sfd);
	monitor_stop(m);
	return 0;
}
