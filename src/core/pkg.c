/* What both package database readers share: the table of records
 * indexed by path, interned owners, digests as "algo:hex" strings, and
 * the verdicts built on them (is this entry what its package
 * installed?). The readers are pkg_dpkg.c and pkg_rpm.c; cmd.c picks
 * one (packages = auto | dpkg | rpm | none).
 *
 * Paths: the databases name files as installed under package_root;
 * the walk names them as they are on this machine. A path is looked up
 * with package_root cut off, and the database's paths are read through
 * the root's top-level symlinks (/bin -> usr/bin on a merged-/usr
 * system), so that /usr/bin/bash finds dpkg's "/bin/bash". */
#define _GNU_SOURCE
#include <cap-ng.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/compare.h"
#include "core/log.h"
#include "core/pkg.h"

static const struct {
	const char	*name;
	size_t		 len;
} pkg_algos[PKG_NALGOS] = {
	{ "none", 0 }, { "md5", 16 }, { "sha1", 20 }, { "sha224", 28 },
	{ "sha256", 32 }, { "sha384", 48 }, { "sha512", 64 }
};

const char *
pkg_manager_name(int m)
{
	return m == PKG_DPKG ? "dpkg" : m == PKG_RPM ? "rpm" : "none";
}

const char *
pkg_algo_name(int a)
{
	return a > 0 && a < PKG_NALGOS ? pkg_algos[a].name : "none";
}

size_t
pkg_algo_len(int a)
{
	return a > 0 && a < PKG_NALGOS ? pkg_algos[a].len : 0;
}

int
pkg_algo_parse(const char *s)
{
	for (int a = 1; a < PKG_NALGOS; a++)
		if (strcmp(s, pkg_algos[a].name) == 0)
			return a;
	return PKG_ALGO_NONE;
}

/* "md5:<hex>", the form baselines, events and pkg_file.digest use. */
char *
pkg_sum_format(int algo, const uint8_t *d, size_t n)
{
	char hex[2 * PKG_DIGEST_MAX + 1];

	if (n > PKG_DIGEST_MAX)
		n = PKG_DIGEST_MAX;
	util_hex(d, n, hex);
	return xasprintf("%s:%s", pkg_algo_name(algo), hex);
}

/* ---- owners: one copy of each (manager, name, version) ------------ */

void
pkg_owners_free(struct pkg_owners *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free((char *)o->v[i]->manager);	/* one buffer for all three */
		free(o->v[i]);
	}
	free(o->v);
	htab_free(&o->idx);
	strlist_free(&o->keys);
	memset(o, 0, sizeof(*o));
}

const struct pkg_owner *
pkg_owners_intern(struct pkg_owners *o, const char *manager,
    const char *name, const char *version)
{
	char stack[512], *key = stack, *buf;
	struct pkg_owner *w;
	size_t i;
	int n;

	/* once per baseline record: no allocation for the usual case */
	n = snprintf(stack, sizeof(stack), "%s\t%s\t%s", manager, name,
	    version);
	if (n < 0 || (size_t)n >= sizeof(stack))
		key = xasprintf("%s\t%s\t%s", manager, name, version);
	if (o->idx.cap == 0)
		htab_init(&o->idx, 64);
	if (htab_get(&o->idx, key, &i)) {
		if (key != stack)
			free(key);
		return o->v[i];
	}
	if (key == stack)
		key = xstrdup(stack);
	buf = xstrdup(key);
	w = xmalloc(sizeof(*w));
	w->manager = buf;
	w->name = strchr(buf, '\t') + 1;
	w->version = strchr(w->name, '\t') + 1;
	buf[w->name - buf - 1] = '\0';
	buf[w->version - buf - 1] = '\0';
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 64;
		o->v = xreallocarray(o->v, o->cap, sizeof(*o->v));
	}
	o->v[o->n] = w;
	strlist_push_owned(&o->keys, key);
	htab_put(&o->idx, key, o->n);
	return o->v[o->n++];
}

/* ---- the table ----------------------------------------------------- */

/* prefixes: the policy's roots (paths on this machine); only records
 * under them are kept, so that a policy of /etc does not hold all of
 * /usr in memory. NULL or empty: everything. */
void
pkg_db_init(struct pkg_db *db, int manager, const char *root,
    const struct strlist *prefixes)
{
	size_t rl;

	memset(db, 0, sizeof(*db));
	db->manager = manager;
	db->root = xstrdup(strcmp(root, "/") == 0 ? "" : root);
	rl = strlen(db->root);
	while (rl > 0 && db->root[rl - 1] == '/')
		db->root[--rl] = '\0';
	htab_init(&db->idx, 4096);
	for (size_t i = 0; prefixes != NULL && i < prefixes->n; i++) {
		const char *p = prefixes->v[i];

		if (rl == 0)
			strlist_push(&db->prefixes, p);
		else if (util_path_under(p, db->root))
			strlist_push(&db->prefixes, p[rl] ? p + rl : "/");
		else if (util_path_under(db->root, p))
			strlist_push(&db->prefixes, "/");
	}
	/* a policy that covers nothing under the root keeps nothing */
	if (prefixes != NULL && prefixes->n > 0 && db->prefixes.n == 0)
		strlist_push(&db->prefixes, "/nonexistent/\n");
}

/* dir: where the database lives under the root ("/var/lib/dpkg"). */
void
pkg_set_dbdir(struct pkg_db *db, const char *dir)
{
	free(db->dbdir);
	db->dbdir = xasprintf("%s%s", db->root, dir);
}

void
pkg_db_free(struct pkg_db *db)
{
	free(db->root);
	free(db->dbdir);
	free(db->pkgs);
	free(db->files);
	htab_free(&db->idx);
	pkg_owners_free(&db->owners);
	arena_free(&db->arena);
	strlist_free(&db->prefixes);
	strlist_free(&db->alias_from);
	strlist_free(&db->alias_to);
	memset(db, 0, sizeof(*db));
}

uint32_t
pkg_add_package(struct pkg_db *db, const char *name, const char *version)
{
	db->pkgs = xreallocarray(db->pkgs, db->npkgs + 1, sizeof(*db->pkgs));
	db->pkgs[db->npkgs] = pkg_owners_intern(&db->owners,
	    pkg_manager_name(db->manager), name, version);
	return (uint32_t)db->npkgs++;
}

/* A top-level directory of the root that is a symlink to another one:
 * the database's "/bin/x" is the walk's "/usr/bin/x". */
void
pkg_add_alias(struct pkg_db *db, const char *from, const char *to)
{
	strlist_push(&db->alias_from, from);
	strlist_push(&db->alias_to, to);
}

/* The root's top-level symlinks to directories of the root (merged
 * /usr: /bin -> usr/bin), each an alias the database may use. */
void
pkg_find_aliases(struct pkg_db *db)
{
	char *top = xasprintf("%s/", db->root);
	DIR *d = opendir(top);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		char target[256], *full;
		struct stat st;
		ssize_t n;

		if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
			continue;
		n = readlinkat(dirfd(d), de->d_name, target,
		    sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "..") != NULL)
			continue;
		full = xasprintf("%s/%s", db->root, target + (target[0] ==
		    '/'));
		if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			char *from = xasprintf("/%s", de->d_name);
			char *raw = xasprintf("/%s", target + (target[0] ==
			    '/'));
			char *to = util_clean_path(raw);

			if (strcmp(from, to) != 0)
				pkg_add_alias(db, from, to);
			free(from);
			free(raw);
			free(to);
		}
		free(full);
	}
	if (d != NULL)
		closedir(d);
	free(top);
}

/* The database's name for a listed path, through the aliases
 * (malloc'd). */
char *
pkg_db_path(const struct pkg_db *db, const char *listed)
{
	for (size_t i = 0; i < db->alias_from.n; i++) {
		size_t n = strlen(db->alias_from.v[i]);

		if (strncmp(listed, db->alias_from.v[i], n) == 0 &&
		    listed[n] == '/')
			return xasprintf("%s%s", db->alias_to.v[i], listed + n);
	}
	return xstrdup(listed);
}

int
pkg_wanted(const struct pkg_db *db, const char *path)
{
	if (db->prefixes.n == 0)
		return 1;
	for (size_t i = 0; i < db->prefixes.n; i++)
		if (util_path_under(path, db->prefixes.v[i]))
			return 1;
	return 0;
}

/* A record of path (the database's name, through pkg_db_path) for
 * package pkg, or NULL when the path is outside the prefixes. Several
 * packages may list one path: they are chained. */
struct pkg_file *
pkg_add_file(struct pkg_db *db, uint32_t pkg, const char *path)
{
	struct pkg_file *f;
	size_t first;

	if (!pkg_wanted(db, path))
		return NULL;
	if (db->nfiles == db->cap) {
		db->cap = db->cap ? db->cap * 2 : 4096;
		db->files = xreallocarray(db->files, db->cap,
		    sizeof(*db->files));
	}
	f = &db->files[db->nfiles];
	memset(f, 0, sizeof(*f));
	f->path = arena_strdup(&db->arena, path);
	f->pkg = pkg;
	f->next = PKG_NO_NEXT;
	if (htab_get(&db->idx, f->path, &first)) {
		f->next = db->files[first].next;
		db->files[first].next = (uint32_t)db->nfiles;
	} else
		htab_put(&db->idx, f->path, db->nfiles);
	db->nfiles++;
	return f;
}

/* pkg's record of path (the database's name), or NULL. */
struct pkg_file *
pkg_find_own(struct pkg_db *db, uint32_t pkg, const char *path)
{
	size_t i;

	if (!htab_get(&db->idx, path, &i))
		return NULL;
	for (uint32_t k = (uint32_t)i; k != PKG_NO_NEXT;
	    k = db->files[k].next)
		if (db->files[k].pkg == pkg)
			return &db->files[k];
	return NULL;
}

/* hex must be the algorithm's length, else the record gets none. */
void
pkg_set_digest(struct pkg_db *db, struct pkg_file *f, int algo,
    const uint8_t *d, size_t n)
{
	char *s;

	if (n != pkg_algo_len(algo))
		return;
	s = pkg_sum_format(algo, d, n);
	f->digest = arena_strdup(&db->arena, s);
	f->algo = (uint8_t)algo;
	f->flags |= PKG_F_DIGEST;
	free(s);
}

void
pkg_set_str(struct pkg_db *db, const char **dst, const char *s)
{
	*dst = s != NULL ? arena_strdup(&db->arena, s) : NULL;
}

/* ---- lookups and verdicts ------------------------------------------ */

const struct pkg_file *
pkg_find(const struct pkg_db *db, const char *path)
{
	size_t rl = strlen(db->root), i;

	if (db->manager == PKG_NONE)
		return NULL;
	if (rl > 0) {
		if (strncmp(path, db->root, rl) != 0 || path[rl] != '/')
			return NULL;
		path += rl;
	}
	return htab_get(&db->idx, path, &i) ? &db->files[i] : NULL;
}

const struct pkg_owner *
pkg_owner_of(const struct pkg_db *db, const struct pkg_file *f)
{
	return f != NULL ? db->pkgs[f->pkg] : NULL;
}

/* Owner (and, for a regular file with a recorded digest, the algorithm
 * to hash it with) of each walked entry. */
void
pkg_assign(const struct pkg_db *db, struct entryvec *ev)
{
	for (size_t i = 0; db->manager != PKG_NONE && i < ev->n; i++) {
		struct entry *e = &ev->v[i];
		const struct pkg_file *f = pkg_find(db, e->path);

		e->owner = pkg_owner_of(db, f);
		e->pkg_algo = 0;
		for (; f != NULL && e->type == ENTRY_FILE; f = f->next ==
		    PKG_NO_NEXT ? NULL : &db->files[f->next])
			if (f->flags & PKG_F_DIGEST) {
				e->pkg_algo = f->algo;
				break;
			}
	}
}

/* Does the baseline's verified digest sum still match a record of
 * e's path? (check --verify-packages: no need to read the file again
 * when its content is the baseline's.) */
int
pkg_sum_matches(const struct pkg_db *db, const struct entry *e,
    const char *sum)
{
	for (const struct pkg_file *f = pkg_find(db, e->path); f != NULL;
	    f = f->next == PKG_NO_NEXT ? NULL : &db->files[f->next])
		if (f->digest != NULL && sum != NULL &&
		    strcmp(f->digest, sum) == 0)
			return 1;
	return 0;
}

/* ---- file capabilities: rpm records cap_to_text, the baseline the
 * raw security.capability value ----------------------------------- */

struct pkg_caps {
	uint64_t	 permitted, inheritable;
	int		 effective;
};

/* One clause of cap_to_text: "cap_a,cap_b=eip" or "=ep" (all), with
 * '+' and '-' as further operators. Returns -1 when not understood. */
static int
pkg_caps_clause(char *clause, struct pkg_caps *c)
{
	char *op = strpbrk(clause, "=+-"), *names;
	uint64_t set = 0;

	if (op == NULL)
		return -1;
	names = xstrndup(clause, (size_t)(op - clause));
	if (*names == '\0' || strcmp(names, "all") == 0)
		set = ~(uint64_t)0 >> (63 - CAP_LAST_CAP);
	for (char *s, *n = strtok_r(names, ",", &s); n != NULL;
	    n = strtok_r(NULL, ",", &s)) {
		int v = capng_name_to_capability(strncmp(n, "cap_", 4) == 0 ?
		    n + 4 : n);

		if (strcmp(n, "all") == 0)
			continue;
		if (v < 0 || v > 63) {
			free(names);
			return -1;
		}
		set |= (uint64_t)1 << v;
	}
	free(names);
	for (char o = 0; *op != '\0';) {
		if (strchr("=+-", *op) != NULL) {
			o = *op++;
			if (o == '=') {
				c->permitted &= ~set;
				c->inheritable &= ~set;
			}
			continue;
		}
		if (*op == 'p')
			c->permitted = o == '-' ? c->permitted & ~set :
			    c->permitted | set;
		else if (*op == 'i')
			c->inheritable = o == '-' ? c->inheritable & ~set :
			    c->inheritable | set;
		else if (*op == 'e')
			c->effective = o != '-';
		else
			return -1;
		op++;
	}
	return 0;
}

static int
pkg_caps_text(const char *text, struct pkg_caps *c)
{
	char *copy = xstrdup(text), *s;
	int r = 0;

	memset(c, 0, sizeof(*c));
	for (char *cl = strtok_r(copy, " ", &s); r == 0 && cl != NULL;
	    cl = strtok_r(NULL, " ", &s))
		r = pkg_caps_clause(cl, c);
	free(copy);
	if (c->permitted == 0 && c->inheritable == 0)
		c->effective = 0;
	return r;
}

static uint32_t
pkg_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* From the canonical xattrs ("name\tbase64\n"...): the file's
 * security.capability, decoded; none is all zero. */
static int
pkg_caps_xattr(const char *xattrs, struct pkg_caps *c)
{
	const char *p = xattrs ? strstr(xattrs, "security.capability\t") :
	    NULL;
	uint8_t *raw = NULL;
	size_t n = 0;
	char *b64;
	int r = -1;

	memset(c, 0, sizeof(*c));
	if (p == NULL)
		return 0;
	p += strlen("security.capability\t");
	b64 = xstrndup(p, strcspn(p, "\n"));
	if (util_b64_decode(b64, &raw, &n) == 0 && n >= 20) {
		c->effective = (pkg_le32(raw) & 1) != 0;
		c->permitted = pkg_le32(raw + 4) |
		    (uint64_t)pkg_le32(raw + 12) << 32;
		c->inheritable = pkg_le32(raw + 8) |
		    (uint64_t)pkg_le32(raw + 16) << 32;
		r = 0;
	}
	free(raw);
	free(b64);
	return r;
}

/* 1 equal, 0 different, -1 not understood. */
int
pkg_caps_equal(const char *text, const char *xattrs)
{
	struct pkg_caps a, b;

	if (pkg_caps_text(text ? text : "", &a) < 0 ||
	    pkg_caps_xattr(xattrs, &b) < 0)
		return -1;
	return a.permitted == b.permitted &&
	    a.inheritable == b.inheritable && a.effective == b.effective;
}

/* Security xattrs other than file capabilities (SELinux labels, ACLs):
 * no package database vouches for them. */
static int
pkg_other_xattrs(const char *xattrs)
{
	for (const char *p = xattrs; p != NULL && *p != '\0';
	    p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, "security.capability\t", 20) != 0)
			return 1;
	return 0;
}

static int
pkg_type_of(uint16_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return ENTRY_FILE;
	case S_IFDIR: return ENTRY_DIR;
	case S_IFLNK: return ENTRY_SYMLINK;
	case S_IFIFO: return ENTRY_FIFO;
	case S_IFCHR: return ENTRY_CHARDEV;
	case S_IFBLK: return ENTRY_BLOCKDEV;
	default: return ENTRY_UNKNOWN;
	}
}

/* What one record vouches for (CMP_* bits), or -1 with *why when a
 * recorded part does not match e. */
static int
pkg_match(const struct pkg_file *f, const struct entry *e, const char *sum,
    const char **why)
{
	int v = 0;

	if (f->flags & PKG_F_MODE) {
		if (pkg_type_of(f->mode) != e->type)
			return *why = "not the type the package installed", -1;
		v |= CMP_TYPE;
		if (e->type != ENTRY_SYMLINK &&
		    (f->mode & 07777) != (e->mode & 07777))
			return *why = "mode differs from the package", -1;
		v |= CMP_MODE;
	}
	if (f->flags & PKG_F_DIGEST) {
		if (e->type != ENTRY_FILE)
			return *why = "not the regular file the package "
			    "installed", -1;
		if (sum == NULL)
			return *why = "content not read", -1;
		if (strcmp(sum, f->digest) != 0)
			return *why = "content differs from the package", -1;
		v |= CMP_CONTENT | CMP_TYPE;
	}
	if ((f->flags & PKG_F_UID) && f->uid != e->uid)
		return *why = "owner differs from the package", -1;
	if ((f->flags & PKG_F_GID) && f->gid != e->gid)
		return *why = "group differs from the package", -1;
	v |= (f->flags & PKG_F_UID ? CMP_UID : 0) |
	    (f->flags & PKG_F_GID ? CMP_GID : 0);
	if (f->flags & PKG_F_TARGET) {
		if (e->target == NULL || f->target == NULL ||
		    strcmp(e->target, f->target) != 0)
			return *why = "link target differs from the package",
			    -1;
		v |= CMP_TARGET;
	}
	if (f->flags & PKG_F_CAPS) {
		int eq = pkg_caps_equal(f->caps, e->xattrs);

		if (eq == 0)
			return *why = "file capabilities differ from the "
			    "package", -1;
		if (eq == 1 && !pkg_other_xattrs(e->xattrs))
			v |= CMP_XATTRS;
	}
	return v;
}

/* Why a change is not vouched for: the first part no record holds. */
static const char *
pkg_unvouched(unsigned missing)
{
	if (missing & CMP_CONTENT)
		return "the package database records no digest for it";
	if (missing & (CMP_MODE | CMP_UID | CMP_GID | CMP_TYPE))
		return "the package database records no mode or owner";
	if (missing & CMP_TARGET)
		return "the package database records no link target";
	if (missing & CMP_XATTRS)
		return "security attributes no package records";
	return "link count changed (a hard link elsewhere?)";
}

/* Is e what its package installed? sum: the content's digest when
 * e->pkgsum is not set (the baseline's, for content it vouched for).
 * changed: the parts that differ from
 * the baseline, each of which a record must vouch for; (unsigned)-1 to
 * check only what the database records (init, --verify-packages). A
 * record that matches wins: several packages may list one path. */
const struct pkg_file *
pkg_next(const struct pkg_db *db, const struct pkg_file *f)
{
	return f->next == PKG_NO_NEXT ? NULL : &db->files[f->next];
}

/* The installed version of package name, or NULL. */
const char *
pkg_version_of(const struct pkg_db *db, const char *name)
{
	for (size_t i = 0; i < db->npkgs; i++)
		if (strcmp(db->pkgs[i]->name, name) == 0)
			return db->pkgs[i]->version;
	return NULL;
}

int
pkg_verify(const struct pkg_db *db, const struct entry *e, const char *sum,
    unsigned changed, const char **why)
{
	const struct pkg_file *f = pkg_find(db, e->path);
	const char *first = NULL, *w = NULL;

	if (f == NULL)
		return PKG_UNOWNED;
	if (sum == NULL)
		sum = e->pkgsum;
	for (; f != NULL; f = pkg_next(db, f)) {
		int v = pkg_match(f, e, sum, &w);

		if (v >= 0 && (changed == (unsigned)-1 ||
		    (changed & ~(unsigned)v) == 0))
			return PKG_VERIFIED;
		if (v >= 0)
			w = pkg_unvouched(changed & ~(unsigned)v);
		if (first == NULL)
			first = w;
	}
	*why = first;
	return PKG_MISMATCH;
}

/* What a change needs vouched for: the parts that changed, and for
 * what is new at a path, what it is (content, link target). */
static unsigned
pkg_needed(const struct change *ch)
{
	unsigned w = ch->what & ~(unsigned)CMP_NLINK;

	if (ch->action == CMP_CREATED || ch->action == CMP_RENAMED)
		w |= ch->now->type == ENTRY_FILE ? CMP_CONTENT :
		    ch->now->type == ENTRY_SYMLINK ? CMP_TARGET : 0;
	return w | (ch->what & CMP_NLINK);
}

static int
pkg_conffile(const struct pkg_db *db, const char *path)
{
	for (const struct pkg_file *f = pkg_find(db, path); f != NULL;
	    f = pkg_next(db, f))
		if (f->flags & PKG_F_CONFFILE)
			return 1;
	return 0;
}

/* A change of a path a package owns now or owned at the baseline gets
 * its label: package, versions, and whether the database vouches for
 * the new state (a deletion: whether no package lists the path any
 * more). ch->now->owner must have been set (pkg_assign). */
void
pkg_label(const struct pkg_db *db, struct change *ch)
{
	const struct pkg_owner *cur = ch->now ? ch->now->owner : NULL;
	const struct pkg_owner *old = ch->base ? ch->base->owner : NULL;
	const struct pkg_owner *o = cur ? cur : old;
	struct pkg_label *l = &ch->pkg;
	const char *sum = NULL;

	memset(l, 0, sizeof(*l));
	if (db->manager == PKG_NONE)
		return;		/* no database to ask */
	if (o == NULL && db->dbdir != NULL && util_path_under(ch->now ?
	    ch->now->path : ch->base->path, db->dbdir)) {
		/* the package manager's own record: it changes with every
		 * transaction, and nothing records what it should be */
		l->manager = pkg_manager_name(db->manager);
		l->database = db->dbdir;
		l->why = "a file of the package database itself";
		return;
	}
	if (o == NULL)
		return;
	l->manager = o->manager;
	l->name = o->name;
	l->version = cur ? cur->version : pkg_version_of(db, o->name);
	if (old != NULL && strcmp(old->name, o->name) == 0)
		l->previous = old->version;
	if (ch->action == CMP_DELETED) {
		l->verified = pkg_find(db, ch->base->path) == NULL;
		l->why = l->verified ? NULL : "the package still lists it";
		return;
	}
	l->conffile = pkg_conffile(db, ch->now->path);
	if (ch->action == CMP_SCAN_FAILED) {
		l->why = "cannot be read";
		return;
	}
	if (cur == NULL) {
		l->why = "no package lists it now";
		return;
	}
	/* content unchanged: the baseline's verified digest still holds */
	if (ch->base != NULL && ch->base->pkg_ok &&
	    !(ch->what & CMP_CONTENT) && ch->action != CMP_RENAMED)
		sum = ch->now->pkgsum ? ch->now->pkgsum : ch->base->pkgsum;
	l->verified = pkg_verify(db, ch->now, sum, pkg_needed(ch),
	    &l->why) == PKG_VERIFIED;
	/* a rename also removes the old path: the package must agree */
	if (l->verified && ch->action == CMP_RENAMED &&
	    pkg_find(db, ch->base->path) != NULL) {
		l->verified = 0;
		l->why = "the package still lists the old name";
	}
	if (l->verified)
		l->why = NULL;
}

/* The state of an owned entry against its package (init, check
 * --verify-packages), as a label; sum as for pkg_verify. Returns the
 * verdict. */
int
pkg_entry_label(const struct pkg_db *db, const struct entry *e,
    const char *sum, struct pkg_label *l)
{
	const struct pkg_owner *o = pkg_owner_of(db, pkg_find(db, e->path));
	int v;

	memset(l, 0, sizeof(*l));
	if (o == NULL)
		return PKG_UNOWNED;
	l->manager = o->manager;
	l->name = o->name;
	l->version = o->version;
	l->conffile = pkg_conffile(db, e->path);
	v = pkg_verify(db, e, sum, (unsigned)-1, &l->why);
	l->verified = v == PKG_VERIFIED;
	if (l->verified)
		l->why = NULL;
	return v;
}

/* The digest the (first) package records for path, or NULL. */
const char *
pkg_digest_of(const struct pkg_db *db, const char *path)
{
	for (const struct pkg_file *f = pkg_find(db, path); f != NULL;
	    f = pkg_next(db, f))
		if (f->digest != NULL)
			return f->digest;
	return NULL;
}
