/* Privileges: what the monitor keeps after setup, what the alerter
 * becomes, and the seccomp filters of both.
 *
 * Order matters (DESIGN.md §3): everything privileged is acquired first
 * (fanotify groups, marks, keys, baseline, secrets), then ids and
 * capabilities are dropped, then seccomp, and only then are threads
 * started: capabilities are per thread on Linux, so a thread started
 * before the drop would keep them. */
#define _GNU_SOURCE
#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/priv.h"

#define PRIV_USER	"fimguard"
#define PRIV_FALLBACK	"nobody"
#define PRIV_NS_FLAGS	((uint64_t)(CLONE_NEWNS | CLONE_NEWCGROUP | \
	CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
	CLONE_NEWNET))

static int priv_dropped;

#ifdef __SANITIZE_ADDRESS__
/* LeakSanitizer stops the world with ptrace at exit, which a dropped
 * process refuses (seccomp, not dumpable): skip that check there only;
 * init, check and approve keep theirs. */
int	 __lsan_is_turned_off(void);

int
__lsan_is_turned_off(void)
{
	return priv_dropped;
}
#endif

/* The alerter's user and group, looked up while NSS is still safe to
 * call (no marks yet, no threads). */
int
priv_alerter_ids(uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(PRIV_USER);

	if (pw == NULL) {
		log_warnx("no user '%s' (the packages create it): the alerter "
		    "runs as '%s'", PRIV_USER, PRIV_FALLBACK);
		pw = getpwnam(PRIV_FALLBACK);
	}
	if (pw == NULL || pw->pw_uid == 0) {
		log_warnx("no unprivileged user for the alerter");
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* Secrets live in both processes' memory: no core dumps, no ptrace by
 * same-uid processes, /proc/<pid>/mem and environ root-only. */
static void
priv_nodump(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("PR_SET_DUMPABLE");
}

/* capng_apply can leave the bounding set alone without CAP_SETPCAP
 * (a unit's CapabilityBoundingSet=): check what the kernel says. */
static void
priv_check_bounding(void)
{
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_BOUNDS) != CAPNG_NONE)
		fatalx("the capability bounding set is not empty");
}

static void
priv_no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS");
}

/* The monitor keeps (effective and permitted, nothing else):
 *   CAP_DAC_READ_SEARCH  read any protected file and mark new ones
 *                        (fanotify_mark checks read access);
 *   CAP_SYS_PTRACE       /proc/<tid>/syscall (openers' flags),
 *                        /proc/<pid>/exe, cmdline, fd and fdinfo
 *                        (who-data, writers open before the start);
 *   CAP_LEASE            the read lease that asks the kernel whether a
 *                        file is open for writing (openat2's intent), on
 *                        files not owned by uid 0;
 * and only when a rule has restore = yes:
 *   CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE  put owner, mode, ACLs and
 *                        content back in directories we do not own;
 *   CAP_FSETID           keep a set-gid bit when the group is not ours;
 *   CAP_SETFCAP          put file capabilities back (security.capability).
 * The bounding set is emptied, so nothing can come back, not even
 * through a set-uid or file-capability executable (execve is refused
 * by seccomp anyway). */
void
priv_drop_monitor(int restore)
{
	static const int keep[] = { CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE,
	    CAP_LEASE };
	static const int restore_keep[] = { CAP_CHOWN, CAP_FOWNER,
	    CAP_DAC_OVERRIDE, CAP_FSETID, CAP_SETFCAP };

	priv_dropped = 1;
	priv_nodump();
	capng_clear(CAPNG_SELECT_BOTH);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
		    keep[i]);
	for (size_t i = 0; restore && i < sizeof(restore_keep) /
	    sizeof(restore_keep[0]); i++)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
		    restore_keep[i]);
	if (capng_apply(CAPNG_SELECT_BOTH) < 0)
		fatalx("cannot drop capabilities (libcap-ng; the bounding set "
		    "needs CAP_SETPCAP)");
	priv_check_bounding();
	priv_no_new_privs();
	priv_seccomp_monitor();
}

/* The alerter: another user, no capability in any set, no way back. */
void
priv_drop_alerter(uid_t uid, gid_t gid)
{
	priv_dropped = 1;
	priv_nodump();
	capng_clear(CAPNG_SELECT_ALL);
	/* changes ids, empties every set and the bounding set */
	if (capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP |
	    CAPNG_CLEAR_BOUNDING) < 0)
		fatalx("cannot change to uid %u (libcap-ng)", (unsigned)uid);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		log_warn("PR_CAP_AMBIENT_CLEAR_ALL");
	if (getuid() == 0 || geteuid() == 0 || setuid(0) == 0)
		fatalx("still root after dropping privileges");
	priv_check_bounding();
	priv_nodump();		/* a uid change resets it */
	priv_no_new_privs();
}

static void
priv_rule(scmp_filter_ctx ctx, uint32_t action, int nr)
{
	if (seccomp_rule_add(ctx, action, nr, 0) < 0)
		fatalx("seccomp rule for syscall %d", nr);
}

/* Threads yes, namespaces no: clone(2) with a CLONE_NEW* flag fails;
 * clone3 hides its flags in memory a filter cannot read, so it answers
 * ENOSYS and glibc falls back to clone. In a default-allow filter each
 * flag gets a refusing rule. */
static void
priv_refuse_namespaces(scmp_filter_ctx ctx)
{
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
	    0) < 0)
		fatalx("seccomp clone3 rule");
	for (int bit = 0; bit < 64; bit++) {
		uint64_t f = 1ULL << bit;

		if ((PRIV_NS_FLAGS & f) && seccomp_rule_add(ctx,
		    SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, f, f)) < 0)
			fatalx("seccomp clone rule");
	}
}

/* In the alerter's allow-list: only what these calls are used for. */
static void
priv_allow_narrow(scmp_filter_ctx ctx)
{
	static const unsigned long ioctls[] = { FIONREAD, FIONBIO, TCGETS,
	    TIOCGWINSZ, FIOCLEX, FIONCLEX };
	static const int prctls[] = { PR_SET_PDEATHSIG, PR_GET_DUMPABLE,
	    PR_SET_NAME, PR_GET_NAME, PR_CAPBSET_READ, PR_SET_VMA,
	    PR_GET_SECUREBITS, PR_GET_NO_NEW_PRIVS };
	int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
	    SCMP_SYS(clone3), 0);

	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, PRIV_NS_FLAGS, 0));
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, ioctls[i]));
	for (size_t i = 0; i < sizeof(prctls) / sizeof(prctls[0]); i++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		    SCMP_A0(SCMP_CMP_EQ, (uint64_t)prctls[i]));
	if (r < 0)
		fatalx("seccomp rules (alerter)");
}

/* The monitor: everything it does is allowed, what it never needs is
 * refused with EPERM: ptrace and process_vm_readv/writev (it decides
 * from /proc and the kernel's write count, never from another process's
 * memory), running programs, network sockets (only AF_UNIX:
 * the control socket, systemd's notify socket, the alerter's pair) and
 * the ways around that rule, and changing the system under it. Writing
 * /proc/<pid>/mem is an open and a write, which no filter can tell
 * apart: CAP_SYS_PTRACE allows it (README says so). */
void
priv_seccomp_monitor(void)
{
	static const int refuse[] = {
		SCMP_SYS(ptrace), SCMP_SYS(execve), SCMP_SYS(execveat),
		SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
		SCMP_SYS(mount),
		SCMP_SYS(umount2), SCMP_SYS(pivot_root), SCMP_SYS(chroot),
		SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load),
		SCMP_SYS(init_module), SCMP_SYS(finit_module),
		SCMP_SYS(delete_module), SCMP_SYS(bpf), SCMP_SYS(setns),
		SCMP_SYS(unshare), SCMP_SYS(reboot), SCMP_SYS(swapon),
		SCMP_SYS(swapoff), SCMP_SYS(keyctl), SCMP_SYS(add_key),
		SCMP_SYS(request_key), SCMP_SYS(perf_event_open),
		/* ways around the socket rule: io_uring's own socket and
		 * connect operations, and taking another process's fd */
		SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter),
		SCMP_SYS(io_uring_register), SCMP_SYS(pidfd_getfd),
		SCMP_SYS(pidfd_open),
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	if (ctx == NULL)
		fatalx("seccomp_init");
	for (size_t i = 0; i < sizeof(refuse) / sizeof(refuse[0]); i++)
		priv_rule(ctx, SCMP_ACT_ERRNO(EPERM), refuse[i]);
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
	    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
	    SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX)) < 0)
		fatalx("seccomp socket rule");
	priv_refuse_namespaces(ctx);
	if (seccomp_load(ctx) < 0)
		fatalx("seccomp_load (monitor)");
	seccomp_release(ctx);
}

/* The alerter: an allow-list of what libcurl (OpenSSL, the threaded
 * resolver, NSS for hosts), json-c and the spool need. Anything else
 * fails with EPERM; running programs and ptrace kill the process. */
void
priv_seccomp_alerter(void)
{
	static const int allow[] = {
		SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv),
		SCMP_SYS(writev), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
		SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
		SCMP_SYS(statx), SCMP_SYS(stat), SCMP_SYS(lstat),
		SCMP_SYS(lseek), SCMP_SYS(openat), SCMP_SYS(open),
		SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
		SCMP_SYS(readlink), SCMP_SYS(readlinkat),
		SCMP_SYS(getdents64), SCMP_SYS(unlinkat), SCMP_SYS(renameat),
		SCMP_SYS(renameat2), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
		SCMP_SYS(fcntl), SCMP_SYS(dup),
		SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(pipe2),
		SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect),
		SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
		SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
		SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
		SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
		SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid),
		SCMP_SYS(getrandom), SCMP_SYS(clock_gettime),
		SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep),
		SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(time),
		SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select),
		SCMP_SYS(pselect6), SCMP_SYS(epoll_create1),
		SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
		SCMP_SYS(epoll_pwait), SCMP_SYS(eventfd2), SCMP_SYS(socket),
		SCMP_SYS(connect), SCMP_SYS(sendto), SCMP_SYS(recvfrom),
		SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(sendmmsg),
		SCMP_SYS(recvmmsg), SCMP_SYS(getsockopt),
		SCMP_SYS(setsockopt), SCMP_SYS(getsockname),
		SCMP_SYS(getpeername), SCMP_SYS(shutdown), SCMP_SYS(bind),
		SCMP_SYS(futex), SCMP_SYS(set_robust_list),
		SCMP_SYS(get_robust_list), SCMP_SYS(rseq),
		SCMP_SYS(exit), SCMP_SYS(exit_group),
		SCMP_SYS(wait4), SCMP_SYS(kill), SCMP_SYS(tgkill),
		SCMP_SYS(uname), SCMP_SYS(sysinfo),
		SCMP_SYS(sched_getaffinity), SCMP_SYS(sched_yield),
		SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
		SCMP_SYS(set_tid_address), SCMP_SYS(restart_syscall),
		SCMP_SYS(membarrier), SCMP_SYS(getcwd), SCMP_SYS(umask),
		SCMP_SYS(capget), SCMP_SYS(arch_prctl), SCMP_SYS(alarm),
		SCMP_SYS(setitimer), SCMP_SYS(getitimer),
		SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime),
		SCMP_SYS(fadvise64), SCMP_SYS(getpgrp), SCMP_SYS(getsid),
		SCMP_SYS(sendfile), SCMP_SYS(socketpair),
	};
	static const int kill[] = { SCMP_SYS(execve), SCMP_SYS(execveat),
	    SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
	    SCMP_SYS(process_vm_writev) };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));

	if (ctx == NULL)
		fatalx("seccomp_init");
	for (size_t i = 0; i < sizeof(allow) / sizeof(allow[0]); i++)
		priv_rule(ctx, SCMP_ACT_ALLOW, allow[i]);
	for (size_t i = 0; i < sizeof(kill) / sizeof(kill[0]); i++)
		priv_rule(ctx, SCMP_ACT_KILL_PROCESS, kill[i]);
	priv_allow_narrow(ctx);
	if (seccomp_load(ctx) < 0)
		fatalx("seccomp_load (alerter)");
	seccomp_release(ctx);
}
