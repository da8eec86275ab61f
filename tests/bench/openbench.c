/* tests/bench/openbench.c - open(2)/close(2) cost and write-to-event
 * latency, for tests/bench/monitor.sh.
 *
 *   openbench [-n N] PATH
 *       open(PATH, O_RDONLY) + close N times in one process (after a
 *       short untimed warm-up); prints
 *           ns_per_op=<ns> ops=<N> wall_s=<s>
 *   openbench -k K [-n N] PATH
 *       K forked processes, N/K opens each, released together; prints
 *           ops_per_s=<total ops / wall> ops=<total> procs=<K> wall_s=<s>
 *       (wall = from the release until the last child exits).
 *   openbench --write-latency EVENTS [-m M] PATH
 *       M times: append a unique marker line to PATH (open
 *       O_WRONLY|O_APPEND, write, close), take the time, then wait for a
 *       new line in EVENTS with "action":"modified" and the SHA-256 of
 *       PATH's content after that write (computed here, incrementally,
 *       from one read of PATH at the start), so a late event of an
 *       earlier sample is never taken for this one. At most 5 s per
 *       sample; a sample that runs out counts as a timeout and enters the
 *       percentiles as 5000 ms (a lower bound). An event with the right
 *       hash but another "size" than PATH had after the write is counted
 *       in size_mismatch (its latency still counts). Prints
 *           p50_ms=<ms> p99_ms=<ms> max_ms=<ms> samples=<ok> timeouts=<n>
 *           size_mismatch=<n>
 *       Links with -lcrypto (OpenSSL, a build dependency of fimguard).
 *
 * Every process has an alarm() failsafe (-t, default 300 s) and the
 * children die with the parent (PR_SET_PDEATHSIG). Exit status: 0 ok,
 * 1 an open/write failed, 2 usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define SAMPLE_TIMEOUT_NS	(5ull * 1000000000ull)
#define WARMUP			1000

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: openbench [-n N] [-k K] [-t SECONDS] PATH\n"
	    "       openbench --write-latency EVENTS [-m M] [-t SECONDS] PATH\n");
	exit(2);
}

/* n opens + closes of path; -1 on the first failure. */
static int
open_loop(const char *path, long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY);

		if (fd < 0) {
			fprintf(stderr, "openbench: %s: %s\n", path,
			    strerror(errno));
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int
run_single(const char *path, long n)
{
	uint64_t t0, t1;

	if (open_loop(path, WARMUP) < 0)
		return 1;
	t0 = now_ns();
	if (open_loop(path, n) < 0)
		return 1;
	t1 = now_ns();
	printf("ns_per_op=%.1f ops=%ld wall_s=%.3f\n",
	    (double)(t1 - t0) / (double)n, n, (double)(t1 - t0) / 1e9);
	return 0;
}

static int
run_parallel(const char *path, long n, int k, unsigned lifetime)
{
	int go[2], ready[2], failed = 0;
	long per = n / k;
	pid_t *kids = calloc((size_t)k, sizeof(*kids));
	uint64_t t0, t1;
	char c;

	if (kids == NULL || per < 1 || pipe(go) < 0 || pipe(ready) < 0) {
		perror("openbench");
		return 1;
	}
	for (int i = 0; i < k; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("openbench: fork");
			for (int j = 0; j < i; j++)
				kill(kids[j], SIGKILL);
			return 1;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			alarm(lifetime);
			close(go[1]);
			close(ready[0]);
			if (open_loop(path, WARMUP / k + 1) < 0)
				_exit(1);
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			/* released when the parent closes go[1] */
			if (read(go[0], &c, 1) < 0)
				_exit(1);
			_exit(open_loop(path, per) < 0 ? 1 : 0);
		}
		kids[i] = pid;
	}
	close(go[0]);
	close(ready[1]);
	for (int i = 0; i < k; i++)
		if (read(ready[0], &c, 1) != 1) {
			failed = 1;	/* a child died during warm-up */
			break;
		}
	t0 = now_ns();
	close(go[1]);
	for (int i = 0; i < k; i++) {
		int st;

		if (waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failed = 1;
	}
	t1 = now_ns();
	free(kids);
	if (failed) {
		fprintf(stderr, "openbench: a child failed\n");
		return 1;
	}
	printf("ops_per_s=%.0f ops=%ld procs=%d wall_s=%.3f\n",
	    (double)(per * k) / ((double)(t1 - t0) / 1e9), per * k, k,
	    (double)(t1 - t0) / 1e9);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n-1]. */
static uint64_t
pct(const uint64_t *v, size_t n, double p)
{
	size_t r = (size_t)(p / 100.0 * (double)n + 0.999999);

	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return v[r - 1];
}

/* The events file, read incrementally, split into lines. */
struct tail {
	int	 fd;
	char	*buf;
	size_t	 len, cap;
	int	 skipping;	/* inside an over-long line: drop to '\n' */
};

#define MODIFIED	"\"action\":\"modified\""

/* Read what is new. With hash == NULL just consume it (returns 0).
 * Otherwise return 1 if a complete new line is a "modified" event with
 * that hash and size, 2 if one has the hash but another size, 0 if none
 * (yet); -1 on a read error. */
static int
tail_scan(struct tail *t, const char *hash, const char *size)
{
	int found = 0;

	for (;;) {
		ssize_t r;
		char *start, *nl;

		if (t->len == t->cap) {	/* a line longer than the buffer */
			t->len = 0;
			t->skipping = 1;
		}
		r = read(t->fd, t->buf + t->len, t->cap - t->len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return found;
		t->len += (size_t)r;
		start = t->buf;
		while ((nl = memchr(start, '\n', t->len - (size_t)(start -
		    t->buf))) != NULL) {
			*nl = '\0';
			if (!t->skipping && hash != NULL && found != 1 &&
			    strstr(start, MODIFIED) != NULL &&
			    strstr(start, hash) != NULL)
				found = strstr(start, size) != NULL ? 1 : 2;
			t->skipping = 0;
			start = nl + 1;
		}
		t->len -= (size_t)(start - t->buf);
		memmove(t->buf, start, t->len);
	}
}

/* ctx: SHA-256 of path's content so far (read once, at the start). */
static int
hash_file(const char *path, EVP_MD_CTX *ctx, long long *size)
{
	char buf[65536];
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		return -1;
	*size = 0;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		*size += r;
	}
	close(fd);
	return r < 0 ? -1 : 0;
}

/* "sha256":"<hex of ctx + more>" in out; ctx itself is left as it was. */
static int
hash_needle(const EVP_MD_CTX *ctx, const char *more, size_t n, char *out,
    size_t outsz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int len;

	if (c == NULL || EVP_MD_CTX_copy_ex(c, ctx) != 1 ||
	    EVP_DigestUpdate(c, more, n) != 1 ||
	    EVP_DigestFinal_ex(c, md, &mdlen) != 1) {
		EVP_MD_CTX_free(c);
		return -1;
	}
	EVP_MD_CTX_free(c);
	len = snprintf(out, outsz, "\"sha256\":\"");
	for (unsigned i = 0; i < mdlen && (size_t)len + 3 < outsz; i++)
		len += snprintf(out + len, outsz - (size_t)len, "%02x", md[i]);
	snprintf(out + len, outsz - (size_t)len, "\"");
	return 0;
}

static int
run_write_latency(const char *path, const char *events, long m)
{
	uint64_t *lat = calloc((size_t)m, sizeof(*lat)), maxv;
	struct tail t = { .cap = 1 << 20 };
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	long ok = 0, timeouts = 0, badsize = 0;
	long long size;
	char marker[160], hneedle[96], sneedle[64], ibuf[4096];
	int in, wd;

	t.buf = malloc(t.cap);
	if (lat == NULL || t.buf == NULL || ctx == NULL) {
		perror("openbench");
		return 1;
	}
	if ((t.fd = open(events, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "openbench: %s: %s\n", events,
		    strerror(errno));
		return 1;
	}
	if ((in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0 ||
	    (wd = inotify_add_watch(in, events, IN_MODIFY)) < 0) {
		perror("openbench: inotify");
		return 1;
	}
	(void)wd;
	if (hash_file(path, ctx, &size) < 0) {
		fprintf(stderr, "openbench: cannot hash %s\n", path);
		return 1;
	}
	/* Only what is written from now on counts. */
	if (lseek(t.fd, 0, SEEK_END) < 0) {
		perror("openbench: lseek");
		return 1;
	}
	for (long i = 0; i < m; i++) {
		struct stat st;
		uint64_t t0, deadline;
		int fd, len, hit = 0;

		/* Drop what came in since the last sample (late events). */
		while (read(in, ibuf, sizeof(ibuf)) > 0)
			;
		if (tail_scan(&t, NULL, NULL) < 0) {
			perror("openbench: read events");
			return 1;
		}
		len = snprintf(marker, sizeof(marker),
		    "openbench %d sample %ld t=%llu\n", (int)getpid(), i,
		    (unsigned long long)now_ns());
		/* The event for this write: the content hash and size the
		 * file has after it. */
		if (hash_needle(ctx, marker, (size_t)len, hneedle,
		    sizeof(hneedle)) < 0 ||
		    EVP_DigestUpdate(ctx, marker, (size_t)len) != 1) {
			fprintf(stderr, "openbench: sha256 failed\n");
			return 1;
		}
		size += len;
		snprintf(sneedle, sizeof(sneedle), "\"size\":%lld,", size);
		if ((fd = open(path, O_WRONLY | O_APPEND)) < 0 ||
		    write(fd, marker, (size_t)len) != len ||
		    fstat(fd, &st) < 0) {
			fprintf(stderr, "openbench: write %s: %s\n", path,
			    strerror(errno));
			return 1;
		}
		close(fd);
		t0 = now_ns();
		if (st.st_size != size)
			fprintf(stderr, "openbench: %s is %lld bytes, not %lld: "
			    "someone else writes it\n", path,
			    (long long)st.st_size, size);
		deadline = t0 + SAMPLE_TIMEOUT_NS;
		for (;;) {
			uint64_t now;
			struct pollfd p = { in, POLLIN, 0 };
			int r = tail_scan(&t, hneedle, sneedle);

			if (r < 0) {
				perror("openbench: read events");
				return 1;
			}
			now = now_ns();
			if (r > 0) {
				if (r == 2 && ++badsize <= 3)
					fprintf(stderr, "openbench: sample %ld: "
					    "\"modified\" event with this "
					    "write's hash but not %s\n", i,
					    sneedle);
				lat[i] = now - t0;
				ok++;
				hit = 1;
				break;
			}
			if (now >= deadline)
				break;
			/* inotify wakes us; the 10 ms cap covers a missed
			 * wake-up (events file replaced, say). */
			r = (int)((deadline - now) / 1000000) + 1;
			if (poll(&p, 1, r < 10 ? r : 10) > 0)
				while (read(in, ibuf, sizeof(ibuf)) > 0)
					;
		}
		if (!hit) {	/* counted as 5 s: a lower bound */
			if (++timeouts <= 3)
				fprintf(stderr, "openbench: sample %ld: no "
				    "\"modified\" event with this write's "
				    "hash within 5 s\n", i);
			lat[i] = SAMPLE_TIMEOUT_NS;
		}
	}
	qsort(lat, (size_t)m, sizeof(*lat), cmp_u64);
	maxv = lat[m - 1];
	printf("p50_ms=%.3f p99_ms=%.3f max_ms=%.3f samples=%ld timeouts=%ld "
	    "size_mismatch=%ld\n", (double)pct(lat, (size_t)m, 50) / 1e6,
	    (double)pct(lat, (size_t)m, 99) / 1e6, (double)maxv / 1e6, ok,
	    timeouts, badsize);
	EVP_MD_CTX_free(ctx);
	free(lat);
	free(t.buf);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "write-latency", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	const char *events = NULL;
	long n = 200000, m = 200;
	int k = 1, c;
	unsigned lifetime = 300;

	while ((c = getopt_long(argc, argv, "n:k:m:t:w:", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'k':
			k = (int)strtol(optarg, NULL, 10);
			break;
		case 'm':
			m = strtol(optarg, NULL, 10);
			break;
		case 't':
			lifetime = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			events = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || n < 1 || k < 1 || k > 256 || m < 1 ||
	    lifetime < 1)
		usage();
	alarm(lifetime);	/* failsafe: SIGALRM ends us */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (events != NULL)
		return run_write_latency(argv[optind], events, m);
	if (k > 1)
		return run_parallel(argv[optind], n, k, lifetime);
	return run_single(argv[optind], n);
}
