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
#include <stdlib.h>
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
		/* the kernel opens these read-only (issue 8, case 5) */
		{ O_RDONLY | O_APPEND, 0 },
		{ O_RDONLY | O_CREAT, 0 },
		{ O_RDONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0 },
		{ O_WRONLY | O_APPEND, 1 },
		{ O_ACCMODE, 1 },	/* 3: needs write permission */
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
		const char *name; int source;
	} cases[] = {
		/* openat(AT_FDCWD, path, O_WRONLY|O_CREAT|O_TRUNC, 0666) */
		{ "257 0xffffff9c 0x7ffd1 0x241 0x1b6 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 257, 0x241, "openat", INTENT_SRC_SYSCALL },
		{ "257 0xffffff9c 0x7ffd1 0x80000 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_READ, 257, 0x80000, "openat", INTENT_SRC_SYSCALL },
		/* O_RDONLY|O_APPEND: a read */
		{ "257 0xffffff9c 0x7ffd1 0x400 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_READ, 257, 0x400, "openat", INTENT_SRC_SYSCALL },
		/* open(path, O_RDWR) */
		{ "2 0x55 0x2 0x0 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 2, 2, "open", INTENT_SRC_SYSCALL },
		{ "2 0x55 0x0 0x0 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_READ, 2, 0, "open", INTENT_SRC_SYSCALL },
		/* creat(path, mode): always a write */
		{ "85 0x55 0x1a4 0x0 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 85, O_CREAT | O_WRONLY | O_TRUNC, "creat",
		  INTENT_SRC_SYSCALL },
		/* open_by_handle_at(mount_fd, handle, flags) */
		{ "304 0x3 0x55 0x1 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 304, 1, "open_by_handle_at",
		  INTENT_SRC_SYSCALL },
		/* execve opens the binary: a read */
		{ "59 0x55 0x56 0x57 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_READ, 59, 0, NULL, INTENT_SRC_SYSCALL },
		/* openat2: its flags are in the opener's memory, never read:
		 * the write count decides (intent_decode) */
		{ "437 0xffffff9c 0x55 0x7ffd0 0x18 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_UNKNOWN, 437, 0, "openat2", INTENT_SRC_NONE },
		/* io_uring: cannot be decoded */
		{ "426 0x3 0x1 0x0 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_UNKNOWN, 426, 0, "io_uring_enter", INTENT_SRC_NONE },
		/* 32-bit programs: i386 open(5), openat(295), creat(8) */
		{ "5 0x8048000 0x1 0x0 0x0 0x0 0x0 0xffd0 0xf7f0\n",
		  INTENT_WRITE, 5, 1, "open", INTENT_SRC_SYSCALL },
		{ "295 0xffffff9c 0x8048000 0x0 0x0 0x0 0x0 0xffd0 0xf7f0\n",
		  INTENT_READ, 295, 0, "openat", INTENT_SRC_SYSCALL },
		{ "8 0x8048000 0x1a4 0x0 0x0 0x0 0x0 0xffd0 0xf7f0\n",
		  INTENT_WRITE, 8, O_CREAT | O_WRONLY | O_TRUNC, "creat",
		  INTENT_SRC_SYSCALL },
		/* truncates, x86-64 and i386 (pre-content events only) */
		{ "76 0x55 0x0 0x0 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 76, 0, "truncate", INTENT_SRC_SYSCALL },
		{ "92 0x8048000 0x1 0x0 0x0 0x0 0x0 0xffd0 0xf7f0\n",
		  INTENT_WRITE, 92, 0, "truncate", INTENT_SRC_SYSCALL },
		{ "93 0x4 0x1 0x0 0x0 0x0 0x0 0xffd0 0xf7f0\n",
		  INTENT_WRITE, 93, 0, "ftruncate", INTENT_SRC_SYSCALL },
		{ "193 0x8048000 0x1 0x0 0x0 0x0 0x0 0xffd0 0xf7f0\n",
		  INTENT_WRITE, 193, 0, "truncate64", INTENT_SRC_SYSCALL },
		{ "194 0x4 0x1 0x0 0x0 0x0 0x0 0xffd0 0xf7f0\n",
		  INTENT_WRITE, 194, 0, "ftruncate64", INTENT_SRC_SYSCALL },
		/* x32: the x86-64 number with bit 30 set */
		{ "1073742081 0xffffff9c 0x55 0x241 0x1b6 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_WRITE, 257, 0x241, "openat", INTENT_SRC_SYSCALL },
		/* an io-wq worker: its parent's registers, sp = pc = 0 */
		{ "257 0xffffff9c 0x55 0x0 0x0 0x0 0x0 0x0 0x0\n",
		  INTENT_UNKNOWN, 257, 0, NULL, INTENT_SRC_NONE },
		/* not in a syscall, or an unknown one */
		{ "running\n", INTENT_UNKNOWN, -1, 0, NULL, INTENT_SRC_NONE },
		{ "-1 0x7ffd 0x7f\n", INTENT_UNKNOWN, -1, 0, NULL,
		  INTENT_SRC_NONE },
		{ "0 0x3 0x55 0x10 0x0 0x0 0x0 0x7ffd 0x7f\n",
		  INTENT_UNKNOWN, 0, 0, NULL, INTENT_SRC_NONE },
		{ "", INTENT_UNKNOWN, -1, 0, NULL, INTENT_SRC_NONE },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct intent_info in = { 0 };

		assert_int_equal(intent_from_syscall(cases[i].line, &in),
		    cases[i].intent);
		assert_int_equal(in.nr, cases[i].nr);
		assert_int_equal(in.flags, cases[i].flags);
		assert_int_equal(in.source, cases[i].source);
		if (cases[i].name == NULL)
			assert_null(in.syscall);
		else
			assert_string_equal(in.syscall, cases[i].name);
	}
}

/* The write count: a read lease on a file is refused exactly while
 * someone has it open for writing. */
static void
test_write_count(void **state)
{
	char path[] = "/tmp/fimguard-intent-XXXXXX";
	int fd = mkstemp(path), rd, wr;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	rd = open(path, O_RDONLY);
	assert_true(rd >= 0);
	assert_int_equal(intent_write_count(rd), INTENT_READ);
	wr = open(path, O_WRONLY | O_APPEND);
	assert_true(wr >= 0);
	assert_int_equal(intent_write_count(rd), INTENT_WRITE);
	close(wr);
	assert_int_equal(intent_write_count(rd), INTENT_READ);
	/* the lease was dropped: a writer can open without waiting */
	wr = open(path, O_WRONLY | O_NONBLOCK);
	assert_true(wr >= 0);
	close(wr);
	close(rd);
	unlink(path);
}

/* Each permission thread its own cache: closing one leaves the other's
 * descriptors alone (a reload runs two). */
static void
test_cache_per_thread(void **state)
{
	struct intent_ctx a, b;
	struct intent_info in;

	(void)state;
	intent_ctx_init(&a, 8);
	intent_ctx_init(&b, 8);
	/* our own thread: its line shows the pread that reads it, which
	 * opens nothing: unknown, and each context caches its own fd */
	assert_int_equal(intent_decode(&a, gettid(), -1, &in, 0),
	    INTENT_UNKNOWN);
	assert_int_equal(intent_decode(&b, gettid(), -1, &in, 0),
	    INTENT_UNKNOWN);
	assert_true(a.slot[gettid() % 8].fd >= 0);
	assert_true(b.slot[gettid() % 8].fd >= 0);
	assert_int_not_equal(a.slot[gettid() % 8].fd, b.slot[gettid() % 8].fd);
	intent_ctx_close(&a);
	assert_true(fcntl(b.slot[gettid() % 8].fd, F_GETFD) >= 0);
	intent_ctx_free(&a);
	intent_ctx_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_write_count),
		cmocka_unit_test(test_cache_per_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
