/* The policy walk. Semantics, in the order they apply:
 *  - every rule path (glob patterns expanded) is a root;
 *  - a root that lies inside another rule's tree belongs to its own
 *    rule, which then owns that whole subtree (the more specific rule
 *    wins, so a secrets rule can sit inside a broad one);
 *  - a directory root records itself and its children; recursive = yes
 *    descends further, never into another filesystem;
 *  - excludes drop an entry (and, for a directory, its subtree);
 *  - symlinks are recorded with their target and never followed.
 * Only lstat-level work happens here; content is read by scan.c.
 * Everything goes through directory descriptors (openat, fstatat), so
 * depth is no limit but WALK_MAX_DEPTH, and a directory that cannot be
 * read is an error on its entry, which check reports (scan-failed). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fdpath.h"
#include "core/htab.h"
#include "core/log.h"
#include "core/walk.h"

/* Each level below keeps one fd (not a directory stream) open. */
#define WALK_MAX_DEPTH	4096

struct walk {
	const struct conf *conf;
	struct entryvec	*out;
	struct strlist	 roots;		/* expanded root paths */
	int		*root_rule;	/* rule index per root */
	struct htab	 root_tab;	/* root path -> root index */
	int		 errors;
	walk_dir_fn	 dir_fn;	/* before a directory is listed */
	void		*dir_arg;
};

static int
walk_has_glob(const char *p)
{
	return strpbrk(p, "*?[") != NULL;
}

static void
walk_add_root(struct walk *w, char *path, int rule)
{
	size_t idx = w->roots.n;

	if (!htab_put(&w->root_tab, path, idx)) {
		free(path);	/* an earlier rule already owns it */
		return;
	}
	strlist_push_owned(&w->roots, path);
	w->root_rule = xreallocarray(w->root_rule, w->roots.n, sizeof(int));
	w->root_rule[idx] = rule;
	/* The table borrowed the string; it stays in w->roots. */
}

static void
walk_collect_roots(struct walk *w)
{
	htab_init(&w->root_tab, 64);
	for (size_t r = 0; r < w->conf->nrules; r++) {
		const struct conf_rule *rule = &w->conf->rules[r];

		for (size_t i = 0; i < rule->paths.n; i++) {
			const char *p = rule->paths.v[i];
			glob_t g;

			if (!walk_has_glob(p)) {
				walk_add_root(w, util_clean_path(p), (int)r);
				continue;
			}
			if (glob(p, 0, NULL, &g) == 0)
				for (size_t k = 0; k < g.gl_pathc; k++)
					walk_add_root(w,
					    util_clean_path(g.gl_pathv[k]),
					    (int)r);
			globfree(&g);
		}
	}
}

/* Excluded by the rule? Globs without '/' match the name, others the
 * full path. Also used by the monitor for files created later. */
int
walk_excluded(const struct conf_rule *r, const char *path, const char *name)
{
	for (size_t i = 0; i < r->exclude.n; i++) {
		const char *pat = r->exclude.v[i];

		if (strchr(pat, '/') != NULL) {
			if (fnmatch(pat, path, FNM_PATHNAME) == 0)
				return 1;
		} else if (fnmatch(pat, name, 0) == 0)
			return 1;
	}
	return 0;
}

static char *
walk_join(const char *dir, const char *name)
{
	if (strcmp(dir, "/") == 0)
		return xasprintf("/%s", name);
	return xasprintf("%s/%s", dir, name);
}

/* Record one object. st NULL: a regular file by its directory entry,
 * whose metadata scan.c takes with fstat on the fd it hashes through
 * (one stat instead of two, and on every core instead of this one).
 * meta 0: a directory about to be descended into, whose xattrs are read
 * through the fd that lists it. */
static struct entry *
walk_record(struct walk *w, char *path, const struct stat *st, int rule,
    int dirfd, const char *name, int meta)
{
	struct entry *e = entryvec_add(w->out);

	e->path = path;
	e->rule = w->conf->rules[rule].name;
	e->vault = w->conf->rules[rule].diff || w->conf->rules[rule].restore;
	if (st == NULL) {
		e->type = ENTRY_FILE;
		e->unstat = 1;
		return e;
	}
	entry_from_stat(e, st);
	if (meta && entry_read_meta(e, dirfd, name) < 0 && errno != ENOENT)
		log_warn("%s: cannot read metadata", path);
	return e;
}

/* Subdirectories of one directory, descended into once it is listed:
 * a single directory stream is open at a time whatever the depth. */
struct walk_subs {
	size_t		*v;		/* entry indexes */
	size_t		 n, cap;
};

static void
walk_subs_push(struct walk_subs *s, size_t idx)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = idx;
}

static void walk_dir(struct walk *, int, const char *, int, int, dev_t);

/* Name of an entry in its directory ("." for the root directory). */
static const char *
walk_name(const char *path)
{
	const char *name = strrchr(path, '/') + 1;

	return *name != '\0' ? name : ".";
}

/* A directory that is not read: said (its path cut if long, so the
 * reason fits in the line), and recorded as an error on its entry:
 * "opendir: " and the reason when a system call said why. */
static void
walk_dir_error(struct walk *w, size_t ei, int dirfd, int sys,
    const char *reason)
{
	struct entry *e = &w->out->v[ei];
	char *shown = fdpath_show(e->path);

	log_warnx("%s: cannot open directory: %s", shown, reason);
	free(shown);
	free(e->error);
	e->error = sys ? xasprintf("opendir: %s", reason) : xstrdup(reason);
	entry_read_meta(e, dirfd, walk_name(e->path));
}

/* Descend into the directory recorded as entry ei, in dirfd. What
 * cannot be read is an error on that entry (check reports it). */
static void
walk_subdir(struct walk *w, int dirfd, size_t ei, int rule, int depth,
    dev_t rootdev)
{
	const char *name = walk_name(w->out->v[ei].path);
	struct stat st;
	char *path, *what;
	int fd;

	if (depth >= WALK_MAX_DEPTH) {
		what = xasprintf("deeper than %d levels: not read",
		    WALK_MAX_DEPTH);
		walk_dir_error(w, ei, dirfd, 0, what);
		free(what);
		return;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (errno != ENOENT)
			walk_dir_error(w, ei, dirfd, 1, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if ((uint64_t)st.st_ino != w->out->v[ei].ino ||
	    (uint64_t)st.st_dev != w->out->v[ei].dev) {
		close(fd);
		walk_dir_error(w, ei, dirfd, 0, "replaced while being read");
		return;
	}
	entry_read_xattrs_fd(&w->out->v[ei], fd);
	/* The vector may move while the subtree is added: copy the path. */
	path = xstrdup(w->out->v[ei].path);
	if (w->dir_fn != NULL)
		w->dir_fn(w->dir_arg, fd, path, rule);
	walk_dir(w, fd, path, rule, depth + 1, rootdev);
	free(path);
}

static void
walk_child(struct walk *w, int dirfd, const char *dirpath,
    const struct dirent *de, int rule, dev_t rootdev, struct walk_subs *subs)
{
	const struct conf_rule *r = &w->conf->rules[rule];
	char *path = walk_join(dirpath, de->d_name);
	struct stat st;
	size_t idx;
	int descend;

	if (htab_get(&w->root_tab, path, &idx) ||
	    walk_excluded(r, path, de->d_name)) {
		free(path);	/* another rule's root, or excluded */
		return;
	}
	if (de->d_type == DT_REG) {
		walk_record(w, path, NULL, rule, dirfd, de->d_name, 1);
		return;
	}
	if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		free(path);	/* vanished */
		return;
	}
	descend = S_ISDIR(st.st_mode) && r->recursive && st.st_dev == rootdev;
	walk_record(w, path, &st, rule, dirfd, de->d_name, !descend);
	if (descend)
		walk_subs_push(subs, w->out->n - 1);
}

/* Takes ownership of fd. Lists the directory, then descends into its
 * subdirectories through a duplicate of fd (the stream is closed). */
static void
walk_dir(struct walk *w, int fd, const char *dirpath, int rule, int depth,
    dev_t rootdev)
{
	int keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = keep < 0 ? NULL : fdopendir(fd);
	struct walk_subs subs = { 0 };
	struct dirent *de;

	if (d == NULL) {
		log_warn("%s: cannot list", dirpath);
		close(fd);
		if (keep >= 0)
			close(keep);
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		walk_child(w, keep, dirpath, de, rule, rootdev, &subs);
	}
	if (errno != 0)
		log_warn("%s: readdir", dirpath);
	closedir(d);
	for (size_t i = 0; i < subs.n; i++)
		walk_subdir(w, keep, subs.v[i], rule, depth, rootdev);
	free(subs.v);
	close(keep);
}

/* The directory above a root, before the root is looked at: a rename
 * or removal of the root itself is an entry event there. */
static void
walk_root_parent(struct walk *w, int pfd, const char *path, const char *name)
{
	char *dir = name - 1 == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(name - 1 - path));

	w->dir_fn(w->dir_arg, pfd, dir, -1);
	free(dir);
}

/* A root is opened through its parent (a path of any length; symlinks
 * above the root are followed, the root itself never is). */
static void
walk_root(struct walk *w, struct fdpath *c, size_t idx)
{
	const char *path = w->roots.v[idx], *name;
	int rule = w->root_rule[idx], pfd;
	char *why = NULL;
	struct stat st;

	if (strcmp(path, "/") == 0) {
		pfd = fdpath_dir(c, path, 1, &why);
		name = ".";
	} else
		pfd = fdpath_parent(c, path, &name, &why);
	if (pfd >= 0 && w->dir_fn != NULL && strcmp(path, "/") != 0)
		walk_root_parent(w, pfd, path, name);
	if (pfd < 0 ||
	    fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT && errno != ENOTDIR) {
			if (why != NULL)
				log_warnx("%s", why);
			else
				log_warn("%s", path);
			w->errors++;
		}
		free(why);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		walk_record(w, xstrdup(path), &st, rule, pfd, name, 1);
		return;
	}
	walk_record(w, xstrdup(path), &st, rule, pfd, name, 0);
	walk_subdir(w, pfd, w->out->n - 1, rule, 0, st.st_dev);
}

/* Collect every entry the policy covers, in walk order (sort before
 * writing a baseline). */
int
walk_policy(const struct conf *c, struct entryvec *out)
{
	return walk_policy_dirs(c, out, NULL, NULL);
}

/* The same, telling fn about each directory before it is listed. */
int
walk_policy_dirs(const struct conf *c, struct entryvec *out, walk_dir_fn fn,
    void *arg)
{
	struct walk w = { .conf = c, .out = out, .dir_fn = fn, .dir_arg = arg };
	struct fdpath chain;

	walk_collect_roots(&w);
	fdpath_init(&chain, NULL, NULL);
	for (size_t i = 0; i < w.roots.n; i++)
		walk_root(&w, &chain, i);
	fdpath_close(&chain);
	htab_free(&w.root_tab);
	strlist_free(&w.roots);
	free(w.root_rule);
	return w.errors;
}
