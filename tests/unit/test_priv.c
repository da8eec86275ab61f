/* Unit tests for the two seccomp filters: each runs in a forked child
 * (a filter cannot be unloaded), which tries what the filter must allow
 * and what it must refuse, and reports through its exit status. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/priv.h"

/* One expectation: the call's result and errno, as the child saw them. */
#define EXPECT(cond)	do { if (!(cond)) _exit(__LINE__ % 200 + 1); } while (0)

static int
child_status(void (*fn)(void))
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(250);
		fn();
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static int
try_clone_newuser(void)
{
	long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL,
	    0);

	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r < 0 ? errno : 0;
}

static void
monitor_child(void)
{
	int fd;
	char *argv[] = { "/bin/true", NULL };

	priv_seccomp_monitor();
	EXPECT(socket(AF_INET, SOCK_STREAM, 0) < 0 && errno == EAFNOSUPPORT);
	EXPECT(socket(AF_INET6, SOCK_DGRAM, 0) < 0 && errno == EAFNOSUPPORT);
	EXPECT(socket(AF_NETLINK, SOCK_RAW, 0) < 0);
	EXPECT((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
	close(fd);
	EXPECT(ptrace(PTRACE_PEEKDATA, getppid(), NULL, NULL) == -1 &&
	    errno == EPERM);
	EXPECT(try_clone_newuser() == EPERM);
	EXPECT(unshare(CLONE_NEWNS) < 0 && errno == EPERM);
	/* around the socket rule: io_uring's IORING_OP_SOCKET, and an
	 * AF_INET socket taken from another process */
	EXPECT(syscall(SYS_io_uring_setup, 8, calloc(1, 120)) < 0 &&
	    errno == EPERM);
	EXPECT(syscall(SYS_pidfd_open, getppid(), 0) < 0 && errno == EPERM);
	EXPECT(syscall(SYS_pidfd_getfd, 0, 0, 0) < 0 && errno == EPERM);
	/* it never reads another process's memory (issue 8) */
	EXPECT(syscall(SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0,
	    0) < 0 && errno == EPERM);
	execv(argv[0], argv);
	EXPECT(errno == EPERM);
}

static void
test_monitor_filter(void **state)
{
	int st;

	(void)state;
	st = child_status(monitor_child);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);	/* else: the failing line */
}

static void
alerter_child(void)
{
	int fd;

	priv_seccomp_alerter();
	EXPECT((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);	/* curl */
	close(fd);
	EXPECT(ioctl(0, TIOCSTI, "x") < 0 && errno == EPERM);
	EXPECT(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0 && errno == EPERM);
	EXPECT(syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS);
	EXPECT(try_clone_newuser() == EPERM);
	EXPECT(fork() != 0 || (_exit(0), 0));	/* threads and fork: yes */
	EXPECT(unshare(CLONE_NEWNET) < 0 && errno == EPERM);
}

static void
test_alerter_filter(void **state)
{
	int st;

	(void)state;
	st = child_status(alerter_child);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
alerter_exec_child(void)
{
	char *argv[] = { "/bin/true", NULL };

	priv_seccomp_alerter();
	execv(argv[0], argv);
	_exit(99);		/* not reached: the filter kills */
}

static void
test_alerter_exec_is_fatal(void **state)
{
	int st;

	(void)state;
	st = child_status(alerter_exec_child);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_monitor_filter),
		cmocka_unit_test(test_alerter_filter),
		cmocka_unit_test(test_alerter_exec_is_fatal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
