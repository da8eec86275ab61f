/* The rpm database, read through librpm (read-only, nothing spawned),
 * under package_root: for every installed file its owner, [E:]V-R,
 * digest and algorithm, mode, user, group, link target, file
 * capabilities and %config flag, minus what the package's %verify
 * excludes, %ghost files' content and files not installed (excluded
 * docs, other colours, replaced). The database's location is rpm's own
 * %_dbpath on this host, as `rpm --root` uses it. User and group names
 * are resolved in the root's /etc/passwd and /etc/group (no NSS: the
 * root may be another system's). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmfi.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmmacro.h>
#include <rpm/rpmpgp.h>
#include <rpm/rpmts.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/pkg.h"
#include "core/pkg_rpm.h"

struct rpm_ids {
	struct htab	 tab;
	struct strlist	 names;
	uint32_t	*ids;
};

static int
rpm_config(void)
{
	static int done, ok;

	if (!done) {
		done = 1;
		ok = rpmReadConfigFiles(NULL, NULL) == 0;
	}
	return ok;
}

/* Where rpm keeps its database under root (malloc'd), or NULL. */
static char *
rpm_dbpath(const char *root)
{
	char *db, *p;

	if (!rpm_config())
		return NULL;
	db = rpmExpand("%{_dbpath}", NULL);
	p = db != NULL && db[0] == '/' ? xasprintf("%s%s",
	    strcmp(root, "/") == 0 ? "" : root, db) : NULL;
	free(db);
	return p;
}

int
pkg_rpm_present(const char *root)
{
	char *p = rpm_dbpath(root), *f;
	struct stat st;
	int r = 0;

	if (p == NULL)
		return 0;
	f = xasprintf("%s/rpmdb.sqlite", p);
	r = stat(f, &st) == 0;
	free(f);
	f = xasprintf("%s/Packages", p);	/* Berkeley DB (RHEL 8) */
	r = r || stat(f, &st) == 0;
	free(f);
	free(p);
	return r;
}

/* name:x:id:... lines of the root's passwd or group file. */
static void
rpm_ids_load(struct rpm_ids *ids, const char *root, const char *file)
{
	char *path = xasprintf("%s/etc/%s", root, file), *line = NULL;
	FILE *fp = fopen(path, "re");
	size_t cap = 0;

	htab_init(&ids->tab, 64);
	free(path);
	while (fp != NULL && getline(&line, &cap, fp) > 0) {
		char *s = NULL, *name = strtok_r(line, ":", &s);
		char *x = strtok_r(NULL, ":", &s), *id = strtok_r(NULL, ":", &s);

		if (name == NULL || x == NULL || id == NULL ||
		    id[strspn(id, "0123456789")] != '\0')
			continue;
		ids->ids = xreallocarray(ids->ids, ids->names.n + 1,
		    sizeof(*ids->ids));
		ids->ids[ids->names.n] = (uint32_t)strtoul(id, NULL, 10);
		strlist_push(&ids->names, name);
		htab_put(&ids->tab, ids->names.v[ids->names.n - 1],
		    ids->names.n - 1);
	}
	free(line);
	if (fp != NULL)
		fclose(fp);
}

static void
rpm_ids_free(struct rpm_ids *ids)
{
	htab_free(&ids->tab);
	strlist_free(&ids->names);
	free(ids->ids);
}

/* rpm itself maps root to 0 when the root has no passwd file yet. */
static int
rpm_id(const struct rpm_ids *ids, const char *name, uint32_t *id)
{
	size_t i;

	if (name == NULL)
		return 0;
	if (htab_get(&ids->tab, name, &i)) {
		*id = ids->ids[i];
		return 1;
	}
	if (strcmp(name, "root") == 0) {
		*id = 0;
		return 1;
	}
	return 0;
}

static int
rpm_algo(int pgp)
{
	switch (pgp) {
	case PGPHASHALGO_MD5: return PKG_MD5;
	case PGPHASHALGO_SHA1: return PKG_SHA1;
	case PGPHASHALGO_SHA224: return PKG_SHA224;
	case PGPHASHALGO_SHA256: return PKG_SHA256;
	case PGPHASHALGO_SHA384: return PKG_SHA384;
	case PGPHASHALGO_SHA512: return PKG_SHA512;
	default: return PKG_ALGO_NONE;
	}
}

/* What rpm -V would check of this file, into f. */
static void
rpm_file_meta(struct pkg_db *db, struct pkg_file *f, rpmfi fi,
    const struct rpm_ids ids[2])
{
	rpmVerifyAttrs v = rpmfiVFlags(fi);
	rpm_mode_t mode = rpmfiFMode(fi);
	const unsigned char *d;
	const char *caps;
	size_t len = 0;
	int algo = 0;

	f->mode = (uint16_t)mode;
	if (v & RPMVERIFY_MODE)
		f->flags |= PKG_F_MODE;
	if (rpmfiFFlags(fi) & RPMFILE_CONFIG)
		f->flags |= PKG_F_CONFFILE;
	if (rpmfiFFlags(fi) & RPMFILE_GHOST)
		return;		/* made at run time: only the owner counts */
	if (S_ISREG(mode) && (v & RPMVERIFY_FILEDIGEST) &&
	    (d = rpmfiFDigest(fi, &algo, &len)) != NULL)
		pkg_set_digest(db, f, rpm_algo(algo), d, len);
	if (S_ISLNK(mode) && (v & RPMVERIFY_LINKTO)) {
		pkg_set_str(db, &f->target, rpmfiFLink(fi));
		f->flags |= PKG_F_TARGET;
	}
	if ((v & RPMVERIFY_USER) && rpm_id(&ids[0], rpmfiFUser(fi), &f->uid))
		f->flags |= PKG_F_UID;
	if ((v & RPMVERIFY_GROUP) && rpm_id(&ids[1], rpmfiFGroup(fi),
	    &f->gid))
		f->flags |= PKG_F_GID;
	if (S_ISREG(mode) && (v & RPMVERIFY_CAPS)) {
		caps = rpmfiFCaps(fi);
		pkg_set_str(db, &f->caps, caps != NULL ? caps : "");
		f->flags |= PKG_F_CAPS;
	}
}

static void
rpm_header(struct pkg_db *db, Header h, const struct rpm_ids ids[2])
{
	const char *name = headerGetString(h, RPMTAG_NAME);
	char *evr = headerGetAsString(h, RPMTAG_EVR);
	rpmfi fi;
	uint32_t pkg;

	if (name == NULL || evr == NULL) {
		free(evr);
		return;
	}
	pkg = pkg_add_package(db, name, evr);
	free(evr);
	fi = rpmfiNew(NULL, h, RPMTAG_BASENAMES, RPMFI_FLAGS_VERIFY);
	if (fi == NULL)
		return;
	rpmfiInit(fi, 0);
	while (rpmfiNext(fi) >= 0) {
		struct pkg_file *f;
		char *p;

		if (!RPMFILE_IS_INSTALLED(rpmfiFState(fi)))
			continue;
		p = pkg_db_path(db, rpmfiFN(fi));
		if ((f = pkg_find_own(db, pkg, p)) == NULL &&
		    (f = pkg_add_file(db, pkg, p)) != NULL)
			rpm_file_meta(db, f, fi, ids);
		free(p);
	}
	rpmfiFree(fi);
}

int
pkg_rpm_load(struct pkg_db *db, char **why)
{
	const char *root = db->root[0] ? db->root : "/";
	struct rpm_ids ids[2];
	rpmdbMatchIterator mi;
	char *dbdir;
	rpmts ts;
	Header h;

	memset(ids, 0, sizeof(ids));
	if (!rpm_config()) {
		*why = xstrdup("librpm: cannot read rpm's configuration");
		return -1;
	}
	if (!pkg_rpm_present(root)) {	/* opening it would make one */
		dbdir = rpm_dbpath(root);
		*why = xasprintf("no rpm database in %s", dbdir ? dbdir :
		    "(no %_dbpath)");
		free(dbdir);
		return -1;
	}
	ts = rpmtsCreate();
	if (rpmtsSetRootDir(ts, root) != 0 ||
	    rpmtsOpenDB(ts, O_RDONLY) != 0) {
		*why = xasprintf("%s: cannot open the rpm database",
		    root);
		rpmtsFree(ts);
		return -1;
	}
	if ((dbdir = rpmExpand("%{_dbpath}", NULL)) != NULL &&
	    dbdir[0] == '/')
		pkg_set_dbdir(db, dbdir);
	free(dbdir);
	rpm_ids_load(&ids[0], db->root, "passwd");
	rpm_ids_load(&ids[1], db->root, "group");
	mi = rpmtsInitIterator(ts, RPMDBI_PACKAGES, NULL, 0);
	while ((h = rpmdbNextIterator(mi)) != NULL)
		rpm_header(db, h, ids);
	rpmdbFreeIterator(mi);
	rpmtsFree(ts);
	rpm_ids_free(&ids[0]);
	rpm_ids_free(&ids[1]);
	return 0;
}
