/* Content scanning. Every regular file is opened relative to its
 * directory (core/fdpath.c: any depth, and the directories the walk
 * recorded must still be those), with O_NOFOLLOW | O_NONBLOCK |
 * O_NOCTTY, and checked with fstat before a byte is read:
 * if the walk saw a regular file but something else now sits there (a
 * FIFO or device swapped in), it is recorded, never read. A file whose
 * size or times change while it is read is read again, up to three
 * times, then reported as unstable. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fdpath.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/pkg.h"
#include "core/scan.h"
#include "core/util.h"
#include "core/vault.h"

#define SCAN_TRIES	3
#define SCAN_MAX_THREADS 8
#define SCAN_BATCH	8	/* entries a thread takes at once */

static int
scan_same(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The vault copy could not be made: the entry is recorded without one,
 * and the caller (init, approve) refuses to write such a baseline.
 * Content the vault already holds needs no new copy. */
static void
scan_vault_failed(struct entry *e, const struct scan_opts *o, int err)
{
	if (vault_has(o->vault, e->sha))
		return;
	log_warnx("%s: cannot keep a copy in the vault %s: %s", e->path,
	    o->vault, strerror(err));
	e->vault = 0;
	if (o->stats != NULL)
		__atomic_fetch_add(&o->stats->vault_failed, 1,
		    __ATOMIC_RELAXED);
}

/* A temporary vault file for e, or -1 with *err: 0 when none is wanted
 * or e is above the cap (then kept as a hash only, and said so), else
 * why it could not be made. */
static int
scan_vault_open(struct entry *e, const struct stat *st, int what,
    const struct scan_opts *o, char **tmp, int *err)
{
	int vfd;

	*err = 0;
	if (!(what & HASH_SHA) || !e->vault || o->vault == NULL)
		return -1;
	if ((uint64_t)st->st_size > o->vault_max) {
		log_warnx("%s: %jd bytes, above vault_max_size: kept as a "
		    "hash only (no diff, no restore)", e->path,
		    (intmax_t)st->st_size);
		e->vault = 0;
		if (o->stats != NULL)
			__atomic_fetch_add(&o->stats->hash_only, 1,
			    __ATOMIC_RELAXED);
		return -1;
	}
	if ((vfd = vault_tmp_open(o->vault, tmp)) < 0)
		*err = errno;
	return vfd;
}

/* After a stable pass: keep the copy, or say why there is none. */
static void
scan_vault_done(struct entry *e, const struct scan_opts *o, char *tmp,
    int vfd, int err)
{
	if (vfd < 0) {
		if (err != 0)
			scan_vault_failed(e, o, err);
	} else if (err != 0) {
		vault_abort(tmp, vfd);
		scan_vault_failed(e, o, err);
	} else if (vault_commit(o->vault, tmp, vfd, e->sha) < 0)
		scan_vault_failed(e, o, errno);
}

/* One pass over the open file: hashes what is asked (and fills the
 * vault). Returns 0 stable, 1 changed while read, -1 read error. A
 * failed vault write stops the copy, never the hash. */
static int
scan_pass(struct entry *e, int fd, const struct stat *before, int what,
    const struct scan_opts *o)
{
	struct hash_result r;
	char *tmp = NULL;
	int vfd, verr, saved;
	struct stat after;

	vfd = scan_vault_open(e, before, what, o, &tmp, &verr);
	r.pkg_algo = e->pkg_algo;
	if (hash_fd(fd, o->secret, what | HASH_SPARSE | HASH_COPY_SOFT, vfd,
	    (uint64_t)before->st_size, &r) < 0) {
		saved = errno;
		vault_abort(tmp, vfd);
		errno = saved;
		return -1;
	}
	if (fstat(fd, &after) < 0 || !scan_same(before, &after) ||
	    r.bytes != (uint64_t)before->st_size) {
		vault_abort(tmp, vfd);
		return 1;
	}
	if (what & HASH_XXH) {
		memcpy(e->xxh, r.xxh, sizeof(e->xxh));
		e->has_xxh = 1;
	}
	free(e->pkgsum);
	e->pkgsum = (what & HASH_PKG) && r.pkg_len > 0 ?
	    pkg_sum_format(e->pkg_algo, r.pkg, r.pkg_len) : NULL;
	if (what & HASH_SHA) {
		memcpy(e->sha, r.sha, sizeof(e->sha));
		e->has_sha = 1;
		scan_vault_done(e, o, tmp, vfd, verr ? verr : r.copy_errno);
	}
	return 0;
}

static int
scan_hash_open(struct entry *e, int fd, const struct stat *st,
    const struct scan_opts *o)
{
	int what = HASH_XXH | (o->sha ? HASH_SHA : 0) |
	    (o->pkg && e->pkg_algo ? HASH_PKG : 0);

	if (st->st_size > (off_t)(4 * HASH_CHUNK))
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return scan_pass(e, fd, st, what, o);
}

static void
scan_set_error(struct entry *e, const char *what, int err)
{
	free(e->error);
	e->error = xasprintf("%s: %s", what, strerror(err));
}

/* open() failed: still record what is there (fstatat, no link
 * followed), and an error only if it is a regular file we could not
 * read. Returns -1 if nothing is there any more. */
static int
scan_open_failed(struct entry *e, int dirfd, const char *name, int err)
{
	struct stat st;

	if (err == ENOENT || err == ENOTDIR)
		return -1;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return -1;
		scan_set_error(e, "open", err);
		return 0;
	}
	entry_from_stat(e, &st);
	e->unstat = 0;
	if (!S_ISREG(st.st_mode)) {	/* a symlink or FIFO took its place */
		entry_read_meta(e, dirfd, name);
		return 0;
	}
	scan_set_error(e, "open", err);
	return 0;
}

/* Its directory could not be opened: gone (-1), or an error that says
 * which directory and why (a link in a recorded directory's place). */
static int
scan_dir_failed(struct entry *e, char *why)
{
	int err = errno;

	if (err == ENOENT || err == ENOTDIR) {
		free(why);
		return -1;
	}
	free(e->error);
	e->error = why != NULL ? why : xasprintf("open: %s", strerror(err));
	return 0;
}

/* Hash one regular file, opened through its directory (chain c).
 * Returns 0 normally, -1 if it vanished (the caller treats the entry
 * as gone). */
static int
scan_file_in(struct entry *e, const struct scan_opts *o, struct fdpath *c)
{
	for (int attempt = 0; attempt < SCAN_TRIES; attempt++) {
		const char *name;
		char *why = NULL;
		struct stat st;
		int dfd, fd, r;

		if ((dfd = fdpath_parent(c, e->path, &name, &why)) < 0)
			return scan_dir_failed(e, why);
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY |
		    O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return scan_open_failed(e, dfd, name, errno);
		if (fstat(fd, &st) < 0) {
			scan_set_error(e, "fstat", errno);
			close(fd);
			return 0;
		}
		entry_from_stat(e, &st);
		e->unstat = 0;
		if (!S_ISREG(st.st_mode)) {
			close(fd);	/* swapped for a FIFO or device */
			return 0;
		}
		entry_read_xattrs_fd(e, fd);
		r = scan_hash_open(e, fd, &st, o);
		if (r < 0)
			scan_set_error(e, "read", errno);
		close(fd);
		if (r <= 0) {
			if (r == 0) {
				free(e->error);
				e->error = NULL;
			}
			return 0;
		}
	}
	free(e->error);
	e->error = xstrdup("file kept changing while being read");
	return 0;
}

/* One file on its own (check's SHA-256 confirmation): no directory is
 * recorded here, so links above it are followed as in any lookup. */
int
scan_file(struct entry *e, const struct scan_opts *o)
{
	struct fdpath c;
	int r;

	fdpath_init(&c, NULL, NULL);
	r = scan_file_in(e, o, &c);
	fdpath_close(&c);
	return r;
}

struct scan_pool {
	struct entryvec		*ev;
	const struct scan_opts	*o;
	struct fdpath_known	 known;	/* the walk's directories */
	size_t			 next;
	size_t			 done;
	unsigned char		*gone;
};

static void
scan_progress(struct scan_pool *p, time_t *last)
{
	time_t now = time(NULL);

	if (now == *last)
		return;
	*last = now;
	fprintf(stderr, "\rfimguard: scanning %zu/%zu entries",
	    __atomic_load_n(&p->done, __ATOMIC_RELAXED), p->ev->n);
}

static void
scan_run(struct scan_pool *p, int shows)
{
	time_t last = time(NULL);
	struct fdpath c;

	/* Files are opened through the directories the walk recorded,
	 * each checked to be what the walk saw; the chain reuses them. */
	fdpath_init(&c, fdpath_known_fn, &p->known);
	for (;;) {
		/* a few neighbours at a time: they share a directory */
		size_t i = __atomic_fetch_add(&p->next, SCAN_BATCH,
		    __ATOMIC_RELAXED), end = i + SCAN_BATCH, n;

		if (i >= p->ev->n)
			break;
		end = end < p->ev->n ? end : p->ev->n;
		for (n = end - i; i < end; i++) {
			struct entry *e = &p->ev->v[i];

			if (e->type == ENTRY_FILE &&
			    scan_file_in(e, p->o, &c) < 0)
				p->gone[i] = 1;
		}
		__atomic_fetch_add(&p->done, n, __ATOMIC_RELAXED);
		if (shows)
			scan_progress(p, &last);
	}
	fdpath_close(&c);
}

static void *
scan_worker(void *arg)
{
	scan_run(arg, 0);
	return NULL;
}

static int
scan_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > SCAN_MAX_THREADS ? SCAN_MAX_THREADS : (int)n;
}

/* Drop entries that vanished between the walk and the read. */
static void
scan_compact(struct entryvec *ev, const unsigned char *gone)
{
	size_t w = 0;

	for (size_t i = 0; i < ev->n; i++) {
		if (gone[i]) {
			entry_free(&ev->v[i]);
			continue;
		}
		ev->v[w++] = ev->v[i];
	}
	ev->n = w;
}

/* The calling thread works too, and is the one that shows progress. */
void
scan_entries(struct entryvec *ev, const struct scan_opts *o)
{
	struct scan_pool p = { .ev = ev, .o = o };
	pthread_t tids[SCAN_MAX_THREADS];
	int n = scan_threads(), started = 0;

	p.gone = xcalloc(ev->n + 1, 1);
	fdpath_known_init(&p.known, ev);
	for (int i = 1; i < n; i++) {
		if (pthread_create(&tids[started], NULL, scan_worker, &p) != 0)
			break;
		started++;
	}
	scan_run(&p, o->progress);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (o->progress)
		fprintf(stderr, "\rfimguard: scanned %zu entries%20s\n",
		    ev->n, "");
	fdpath_known_free(&p.known);
	scan_compact(ev, p.gone);
	free(p.gone);
}
