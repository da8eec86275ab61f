/* The policy walk. Semantics, in the order they apply:
 *  - every rule path (glob patterns expanded) is a root;
 *  - a root that lies inside another rule's tree belongs to its own
 *    rule, which then owns that whole subtree (the more specific rule
 *    wins, so a secrets rule can sit inside a broad one);
 *  - a directory root records itself and its children; recursive = yes
 *    descends further, never into another filesystem;
 *  - excludes drop an entry (and, for a directory, its subtree);
 *  - symlinks are recorded with their target and never followed.
 * Only lstat-level work happens here; content is read by scan.c. */
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

#include "core/htab.h"
#include "core/log.h"
#include "core/walk.h"

#define WALK_MAX_DEPTH	512

struct walk {
	const struct conf *conf;
	struct entryvec	*out;
	struct strlist	 roots;		/* expanded root paths */
	int		*root_rule;	/* rule index per root */
	struct htab	 root_tab;	/* root path -> root index */
	int		 errors;
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
 * (one stat instead of two, and on every core instead of this one). */
static struct entry *
walk_record(struct walk *w, char *path, const struct stat *st, int rule,
    int dirfd, const char *name)
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
	if (entry_read_meta(e, dirfd, name) < 0 && errno != ENOENT)
		log_warn("%s: cannot read metadata", path);
	return e;
}

static void walk_dir(struct walk *, int, const char *, int, int, dev_t);

static void
walk_subdir(struct walk *w, int dirfd, const char *name, size_t ei, int rule,
    int depth, dev_t rootdev)
{
	char *path;
	int fd;

	if (depth >= WALK_MAX_DEPTH) {
		log_warnx("%s: deeper than %d levels, not descended",
		    w->out->v[ei].path, WALK_MAX_DEPTH);
		return;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) {
			log_warn("%s: cannot open directory",
			    w->out->v[ei].path);
			w->out->v[ei].error = xasprintf("opendir: %s",
			    strerror(errno));
		}
		return;
	}
	/* The vector may move while the subtree is added: copy the path. */
	path = xstrdup(w->out->v[ei].path);
	walk_dir(w, fd, path, rule, depth + 1, rootdev);
	free(path);
}

static void
walk_child(struct walk *w, int dirfd, const char *dirpath,
    const struct dirent *de, int rule, int depth, dev_t rootdev)
{
	const struct conf_rule *r = &w->conf->rules[rule];
	char *path = walk_join(dirpath, de->d_name);
	struct stat st;
	size_t idx;

	if (htab_get(&w->root_tab, path, &idx) ||
	    walk_excluded(r, path, de->d_name)) {
		free(path);	/* another rule's root, or excluded */
		return;
	}
	if (de->d_type == DT_REG) {
		walk_record(w, path, NULL, rule, dirfd, de->d_name);
		return;
	}
	if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		free(path);	/* vanished */
		return;
	}
	walk_record(w, path, &st, rule, dirfd, de->d_name);
	if (S_ISDIR(st.st_mode) && r->recursive && st.st_dev == rootdev)
		walk_subdir(w, dirfd, de->d_name, w->out->n - 1, rule, depth,
		    rootdev);
}

/* Takes ownership of fd. */
static void
walk_dir(struct walk *w, int fd, const char *dirpath, int rule, int depth,
    dev_t rootdev)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (d == NULL) {
		close(fd);
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		walk_child(w, dirfd(d), dirpath, de, rule, depth, rootdev);
	}
	if (errno != 0)
		log_warn("%s: readdir", dirpath);
	closedir(d);
}

static void
walk_root(struct walk *w, size_t idx)
{
	const char *path = w->roots.v[idx];
	int rule = w->root_rule[idx], fd;
	struct stat st;
	struct entry *e;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR) {
			log_warn("%s", path);
			w->errors++;
		}
		return;
	}
	e = walk_record(w, xstrdup(path), &st, rule, AT_FDCWD, path);
	if (!S_ISDIR(st.st_mode))
		return;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_warn("%s: cannot open directory", path);
		e->error = xasprintf("opendir: %s", strerror(errno));
		return;
	}
	walk_dir(w, fd, path, rule, 1, st.st_dev);
}

/* Collect every entry the policy covers, in walk order (sort before
 * writing a baseline). */
int
walk_policy(const struct conf *c, struct entryvec *out)
{
	struct walk w = { .conf = c, .out = out };

	walk_collect_roots(&w);
	for (size_t i = 0; i < w.roots.n; i++)
		walk_root(&w, i);
	htab_free(&w.root_tab);
	strlist_free(&w.roots);
	free(w.root_rule);
	return w.errors;
}
