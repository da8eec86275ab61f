/* dpkg's database, read directly and once (no dpkg-query, nothing per
 * file), under package_root:
 *   var/lib/dpkg/status        packages, versions, and the MD5 of the
 *                              package's version of each conffile
 *   var/lib/dpkg/diversions    whose file lives under which name
 *   var/lib/dpkg/info/P.list   the paths package P installed
 *   var/lib/dpkg/info/P.md5sums  MD5 of P's other files
 * P is the package name, with ":arch" for a Multi-Arch: same package
 * (libc6:amd64), as dpkg -S names it. dpkg records no mode, owner or
 * link target: only content can be vouched for. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/pkg.h"
#include "core/pkg_dpkg.h"

/* One list or md5sums file: read whole, refused above this. */
#define DPKG_FILE_MAX	((off_t)256 << 20)

struct dpkg_reader {
	struct pkg_db	*db;
	struct htab	 byname;	/* "name" / "name:arch" -> package */
	struct strlist	 names;		/* keys of byname */
	struct strlist	 bare;		/* per package: name without arch */
	struct htab	 div;		/* diverted path -> index */
	struct strlist	 div_from, div_to, div_by;
	unsigned char	*wanted;	/* per package: owns a kept path */
	int		 div_wanted;	/* a diversion leads into the prefixes */
};

/* One status paragraph, as far as we need it. */
struct dpkg_para {
	char	*package, *status, *arch, *multiarch, *version;
	struct strlist conffiles;	/* " /path md5 [flag]" lines */
	int	 in_conffiles;
};

static char *
dpkg_path(const struct pkg_db *db, const char *rel)
{
	return xasprintf("%s/var/lib/dpkg/%s", db->root, rel);
}

int
pkg_dpkg_present(const char *root)
{
	char *p = xasprintf("%s/var/lib/dpkg/status",
	    strcmp(root, "/") == 0 ? "" : root);
	struct stat st;
	int r = stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;

	free(p);
	return r;
}

static char	*dpkg_where(struct dpkg_reader *, uint32_t, const char *);

/* ---- status -------------------------------------------------------- */

static void
dpkg_para_free(struct dpkg_para *p)
{
	free(p->package);
	free(p->status);
	free(p->arch);
	free(p->multiarch);
	free(p->version);
	strlist_free(&p->conffiles);
	memset(p, 0, sizeof(*p));
}

static void
dpkg_field(struct dpkg_para *p, const char *name, char **dst,
    const char *line)
{
	size_t n = strlen(name);

	if (strncmp(line, name, n) == 0 && line[n] == ':') {
		free(*dst);
		line += n + 1;
		*dst = xstrdup(line + strspn(line, " \t"));
		p->in_conffiles = 0;
	}
}

static void
dpkg_para_line(struct dpkg_para *p, char *line)
{
	line[strcspn(line, "\n")] = '\0';
	if (line[0] == ' ' && p->in_conffiles) {
		strlist_push(&p->conffiles, line);
		return;
	}
	p->in_conffiles = strncmp(line, "Conffiles:", 10) == 0;
	dpkg_field(p, "Package", &p->package, line);
	dpkg_field(p, "Status", &p->status, line);
	dpkg_field(p, "Architecture", &p->arch, line);
	dpkg_field(p, "Multi-Arch", &p->multiarch, line);
	dpkg_field(p, "Version", &p->version, line);
}

/* " /etc/a b.conf <md5> [obsolete|remove-on-upgrade]": split from the
 * end (a path may hold spaces). Returns 1 if obsolete, 0, or -1. */
static int
dpkg_conffile_split(char *l, char **path, char **sum)
{
	char *sp = strrchr(l, ' ');
	int obsolete = 0;

	if (sp != NULL && (strcmp(sp + 1, "obsolete") == 0 ||
	    strcmp(sp + 1, "remove-on-upgrade") == 0)) {
		obsolete = strcmp(sp + 1, "obsolete") == 0;
		*sp = '\0';
		sp = strrchr(l, ' ');
	}
	if (sp == NULL)
		return -1;
	*sp = '\0';
	*sum = sp + 1;
	*path = l + strspn(l, " ");
	return **path == '/' ? obsolete : -1;
}

/* The package's conffiles: MD5 of the version it ships. Obsolete ones
 * belong to no version installed now; "newconffile" has no sum yet. */
static void
dpkg_conffiles(struct dpkg_reader *rd, uint32_t pkg,
    const struct dpkg_para *p)
{
	for (size_t i = 0; i < p->conffiles.n; i++) {
		char *l = xstrdup(p->conffiles.v[i]), *path, *sum, *dbp;
		struct pkg_file *f;
		uint8_t md5[16];
		int obsolete = dpkg_conffile_split(l, &path, &sum);

		if (obsolete >= 0 && !obsolete) {
			dbp = dpkg_where(rd, pkg, path);
			f = dbp ? pkg_find_own(rd->db, pkg, dbp) : NULL;
			if (f == NULL && dbp != NULL)
				f = pkg_add_file(rd->db, pkg, dbp);
			if (f != NULL) {
				f->flags |= PKG_F_CONFFILE;
				if (util_unhex(sum, md5, sizeof(md5)) == 0)
					pkg_set_digest(rd->db, f, PKG_MD5, md5,
					    sizeof(md5));
				rd->wanted[pkg] = 1;
			}
			free(dbp);
		}
		free(l);
	}
}

/* Installed in some form (files may be on disk): everything but
 * not-installed. */
static int
dpkg_installed(const char *status)
{
	const char *state = status ? strrchr(status, ' ') : NULL;

	return state != NULL && strcmp(state + 1, "not-installed") != 0;
}

static void
dpkg_para_done(struct dpkg_reader *rd, struct dpkg_para *p)
{
	char *name;
	uint32_t pkg;

	if (p->package == NULL || p->version == NULL ||
	    !dpkg_installed(p->status)) {
		dpkg_para_free(p);
		return;
	}
	name = p->multiarch != NULL && strcmp(p->multiarch, "same") == 0 &&
	    p->arch != NULL ? xasprintf("%s:%s", p->package, p->arch) :
	    xstrdup(p->package);
	pkg = pkg_add_package(rd->db, name, p->version);
	rd->wanted = xreallocarray(rd->wanted, pkg + 1, 1);
	rd->wanted[pkg] = 0;
	strlist_push(&rd->bare, p->package);
	strlist_push_owned(&rd->names, name);
	htab_put(&rd->byname, name, pkg);
	dpkg_conffiles(rd, pkg, p);
	dpkg_para_free(p);
}

static int
dpkg_read_status(struct dpkg_reader *rd, char **why)
{
	char *path = dpkg_path(rd->db, "status"), *line = NULL;
	struct dpkg_para p = { 0 };
	size_t cap = 0;
	FILE *fp = fopen(path, "re");

	if (fp == NULL) {
		*why = xasprintf("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	while (getline(&line, &cap, fp) > 0) {
		if (line[0] == '\n')
			dpkg_para_done(rd, &p);
		else
			dpkg_para_line(&p, line);
	}
	dpkg_para_done(rd, &p);
	if (ferror(fp))
		*why = xasprintf("%s: read error", path);
	free(line);
	fclose(fp);
	free(path);
	return *why != NULL ? -1 : 0;
}

/* ---- diversions: three lines each: from, to, by (":" = local) ------ */

static void
dpkg_read_diversions(struct dpkg_reader *rd)
{
	char *path = dpkg_path(rd->db, "diversions"), *l[3] = { 0 };
	size_t cap[3] = { 0 };
	FILE *fp = fopen(path, "re");

	htab_init(&rd->div, 64);
	free(path);
	if (fp == NULL)
		return;
	while (getline(&l[0], &cap[0], fp) > 0 &&
	    getline(&l[1], &cap[1], fp) > 0 &&
	    getline(&l[2], &cap[2], fp) > 0) {
		for (int i = 0; i < 3; i++)
			l[i][strcspn(l[i], "\n")] = '\0';
		strlist_push_owned(&rd->div_from, pkg_db_path(rd->db, l[0]));
		strlist_push_owned(&rd->div_to, pkg_db_path(rd->db, l[1]));
		strlist_push(&rd->div_by, l[2]);
	}
	for (size_t i = 0; i < rd->div_from.n; i++) {
		htab_put(&rd->div, rd->div_from.v[i], i);
		rd->div_wanted |= pkg_wanted(rd->db, rd->div_to.v[i]);
	}
	for (int i = 0; i < 3; i++)
		free(l[i]);
	fclose(fp);
}

/* Where package pkg's file listed as path really is (malloc'd): under
 * the diverted name, unless pkg is the one that diverted it. NULL when
 * that is outside the prefixes (most of a large database, cheaply). */
static char *
dpkg_where(struct dpkg_reader *rd, uint32_t pkg, const char *listed)
{
	char *p = pkg_db_path(rd->db, listed);
	size_t i;

	if (!rd->div_wanted && !pkg_wanted(rd->db, p)) {
		free(p);
		return NULL;
	}
	if (!htab_get(&rd->div, p, &i) ||
	    strcmp(rd->div_by.v[i], rd->bare.v[pkg]) == 0)
		return p;
	free(p);
	return xstrdup(rd->div_to.v[i]);
}

/* ---- info/ files ----------------------------------------------------- */

/* The whole file (NUL-terminated, malloc'd), or NULL. */
static char *
dpkg_slurp(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t have = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > DPKG_FILE_MAX) {
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);

		if (n <= 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	close(fd);
	return buf;
}

static void
dpkg_list(struct dpkg_reader *rd, int dirfd, const char *name, uint32_t pkg)
{
	char *buf = dpkg_slurp(dirfd, name), *s = NULL;

	if (buf == NULL) {
		log_warn("%s/var/lib/dpkg/info/%s", rd->db->root, name);
		return;
	}
	for (char *l = strtok_r(buf, "\n", &s); l != NULL;
	    l = strtok_r(NULL, "\n", &s)) {
		char *p;

		if (l[0] != '/' || strcmp(l, "/.") == 0)
			continue;
		if ((p = dpkg_where(rd, pkg, l)) != NULL &&
		    pkg_find_own(rd->db, pkg, p) == NULL &&
		    pkg_add_file(rd->db, pkg, p) != NULL)
			rd->wanted[pkg] = 1;
		free(p);
	}
	free(buf);
}

/* "<md5>  <path without the leading />" lines: the digest of each
 * file that is not a conffile. */
static void
dpkg_md5sums(struct dpkg_reader *rd, int dirfd, const char *name,
    uint32_t pkg)
{
	char *buf = dpkg_slurp(dirfd, name), *s = NULL;

	for (char *l = buf ? strtok_r(buf, "\n", &s) : NULL; l != NULL;
	    l = strtok_r(NULL, "\n", &s)) {
		uint8_t md5[16];
		struct pkg_file *f;
		char *abs, *p;

		if (strlen(l) < 35 || l[32] != ' ' || l[33] != ' ')
			continue;
		l[32] = '\0';
		abs = xasprintf("/%s", l + 34 + (l[34] == '/'));
		p = dpkg_where(rd, pkg, abs);
		f = p != NULL ? pkg_find_own(rd->db, pkg, p) : NULL;
		if (f != NULL && f->digest == NULL &&
		    util_unhex(l, md5, sizeof(md5)) == 0)
			pkg_set_digest(rd->db, f, PKG_MD5, md5, sizeof(md5));
		free(abs);
		free(p);
	}
	free(buf);
}

/* Each package's .list, then, for those that own a path we keep, its
 * .md5sums. */
static int
dpkg_read_info(struct dpkg_reader *rd, char **why)
{
	char *path = dpkg_path(rd->db, "info");
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		*why = xasprintf("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name), pkg;
		char *key;

		if (n <= 5 || strcmp(de->d_name + n - 5, ".list") != 0)
			continue;
		key = xstrndup(de->d_name, n - 5);
		if (htab_get(&rd->byname, key, &pkg))
			dpkg_list(rd, dirfd(d), de->d_name, (uint32_t)pkg);
		free(key);
	}
	for (size_t pkg = 0; pkg < rd->db->npkgs; pkg++) {
		char *name;

		if (!rd->wanted[pkg])
			continue;
		name = xasprintf("%s.md5sums", rd->names.v[pkg]);
		dpkg_md5sums(rd, dirfd(d), name, (uint32_t)pkg);
		free(name);
	}
	closedir(d);
	return 0;
}

int
pkg_dpkg_load(struct pkg_db *db, char **why)
{
	struct dpkg_reader rd = { .db = db };
	int r;

	htab_init(&rd.byname, 4096);
	pkg_set_dbdir(db, "/var/lib/dpkg");
	dpkg_read_diversions(&rd);
	r = dpkg_read_status(&rd, why);
	if (r == 0)
		r = dpkg_read_info(&rd, why);
	htab_free(&rd.byname);
	htab_free(&rd.div);
	strlist_free(&rd.names);
	strlist_free(&rd.bare);
	strlist_free(&rd.div_from);
	strlist_free(&rd.div_to);
	strlist_free(&rd.div_by);
	free(rd.wanted);
	return r;
}
