/* Unit tests for src/intent.c: /proc/<tid>/syscall lines and the open
 * flags that count as a write. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "monitor/intent.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

static void
test_flags(void **state)
{
	static const struct { uint64_t flags; int write; } cases[] = {
		{ O_RDONLY, 0 },
		{ O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0 },
		{ O_WRONLY, 1 },
		{ O_RDWR, 1 },
		{ O_RDONLY | O_TRUNC, 1 },	/* truncates on Linux */
		{ O_RDONLY | O_APPEND, 1 },
		{ O_RDONLY | O_CREAT, 1 },
		{ O_WRONLY | O_CREAT | O_TRUNC, 1 },
		{ O_PATH, 0 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		assert_int_equal(intent_flags_write(cases[i].flags),
		    cases[i].write);
}

static void
test_lines(void **state)
{
	static const struct {
		const char *line; int intent; long nr; uint64_t flags;
	} cases[] = {
		/* openat(AT_FDCWD, path, O_WRONLY|O_CREAT|O_TRUNC, 0666) */
		{ "257 0xffffff9c 0x7ffd1 0x241 0x1b6 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 257, 0x241 },
		{ "257 0xffffff9c 0x7ffd1 0x80000 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_READ, 257, 0x80000 },
		/* open(path, O_RDWR) */
		{ "2 0x55 0x2 0x0 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 2, 2 },
		{ "2 0x55 0x0 0x0 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_READ, 2, 0 },
		/* creat(path, mode): always a write */
		{ "85 0x55 0x1a4 0x0 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 85, O_CREAT | O_WRONLY | O_TRUNC },
		/* open_by_handle_at(mount_fd, handle, flags) */
		{ "304 0x3 0x55 0x1 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 304, 1 },
		/* execve opens the binary: a read */
		{ "59 0x55 0x56 0x57 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_READ, 59, 0 },
		/* io_uring: cannot be decoded */
		{ "426 0x3 0x1 0x0 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_UNKNOWN, 426, 0 },
		/* 32-bit programs: i386 open(5), openat(295), creat(8) */
		{ "5 0x8048000 0x1 0x0 0x0 0x0 0x0 0xffd0 0xf7f0\n",
		  INTENT_WRITE, 5, 1 },
		{ "295 0xffffff9c 0x8048000 0x0 0x0 0x0 0x0 0xffd0 0xf7f0\n",
		  INTENT_READ, 295, 0 },
		{ "8 0x8048000 0x1a4 0x0 0x0 0x0 0x0 0xffd0 0xf7f0\n",
		  INTENT_WRITE, 8, O_CREAT | O_WRONLY | O_TRUNC },
		/* x32: the x86-64 number with bit 30 set */
		{ "1073742081 0xffffff9c 0x55 0x241 0x1b6 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 257, 0x241 },
		/* an io-wq worker: its parent's registers, sp = pc = 0 */
		{ "257 0xffffff9c 0x55 0x0 0x0 0x0 0x0 0x0 0x0\n",
		  INTENT_UNKNOWN, 257, 0 },
		/* not in a syscall, or an unknown one */
		{ "running\n", INTENT_UNKNOWN, -1, 0 },
		{ "-1 0x7ffd 0x7f\n", INTENT_UNKNOWN, -1, 0 },
		{ "0 0x3 0x55 0x10 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_UNKNOWN, 0, 0 },
		{ "", INTENT_UNKNOWN, -1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct intent_info in = { 0 };

		assert_int_equal(intent_from_syscall(cases[i].line, getpid(),
		    &in), cases[i].intent);
		assert_int_equal(in.nr, cases[i].nr);
		assert_int_equal(in.flags, cases[i].flags);
	}
}

/* openat2's flags live in the caller's memory: read them with
 * process_vm_readv, here from ourselves. */
static void
test_openat2(void **state)
{
	uint64_t how[3] = { O_WRONLY | O_CREAT, 0644, 0 };
	uint64_t ro[3] = { O_RDONLY, 0, 0 };
	struct intent_info in = { 0 };
	char line[256];

	(void)state;
	snprintf(line, sizeof(line), "437 0xffffff9c 0x55 0x%lx 0x18 0x0 "
	    "0x0 0x7ffd 0x7f\n", (unsigned long)(uintptr_t)how);
	assert_int_equal(intent_from_syscall(line, getpid(), &in),
	    INTENT_WRITE);
	assert_int_equal(in.flags, O_WRONLY | O_CREAT);
	snprintf(line, sizeof(line), "437 0xffffff9c 0x55 0x%lx 0x18 0x0 "
	    "0x0 0x7ffd 0x7f\n", (unsigned long)(uintptr_t)ro);
	assert_int_equal(intent_from_syscall(line, getpid(), &in),
	    INTENT_READ);
	/* an unreadable pointer: unknown, never "read" */
	assert_int_equal(intent_from_syscall("437 0xffffff9c 0x55 0x10 0x18 "
	    "0x0 0x0 0x7ffd 0x7f\n", getpid(), &in), INTENT_UNKNOWN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_openat2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
