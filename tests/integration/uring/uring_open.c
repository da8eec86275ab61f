/* Opens a file through io_uring (IORING_OP_OPENAT) for writing, the
 * way the monitor cannot decode: exit 0 opened, 13 EPERM, 2 other.
 * With a second argument "async" the open is punted to an io-wq
 * worker thread (iou-wrk-*) instead of being tried inline. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int r;

	if (argc < 2 || argc > 3 || io_uring_queue_init(4, &ring, 0) < 0)
		return 2;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_openat(sqe, AT_FDCWD, argv[1], O_WRONLY | O_APPEND, 0);
	if (argc > 2)
		sqe->flags |= IOSQE_ASYNC;
	io_uring_submit(&ring);
	if (io_uring_wait_cqe(&ring, &cqe) < 0)
		return 2;
	r = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	if (r == -EPERM)
		return 13;
	if (r < 0) {
		fprintf(stderr, "openat: %s\n", strerror(-r));
		return 2;
	}
	return 0;
}
