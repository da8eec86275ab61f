/* LD_PRELOAD for the monitor: FAULT_STALL_ANSWERS=1 makes every
 * answer to a fanotify group hang (the permission thread stalls in its
 * writev), to prove the watchdog ends the process and the kernel then
 * releases the blocked openers. Other writev calls pass. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	char path[64], target[64];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	len = readlink(path, target, sizeof(target) - 1);
	if (len > 0 && getenv("FAULT_STALL_ANSWERS") != NULL) {
		target[len] = '\0';
		if (strstr(target, "fanotify") != NULL)
			for (;;)
				pause();
	}
	return syscall(SYS_writev, fd, iov, n);
}
