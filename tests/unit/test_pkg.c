/* Unit tests for core/pkg.c and core/pkg_dpkg.c: dpkg's database read
 * from a synthetic root (multi-arch names, diversions, conffiles and
 * obsolete ones, md5sums, the merged-/usr alias, the policy's prefixes),
 * and the verdicts: what a record vouches for, and why not. The real
 * dpkg and rpm are exercised by tests/integration/test_packages.py. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/compare.h"
#include "core/pkg.h"
#include "core/pkg_dpkg.h"
#include "core/util.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

#define MD5_A	"0123456789abcdef0123456789abcdef"
#define MD5_B	"fedcba9876543210fedcba9876543210"
#define MD5_C	"00000000000000000000000000000001"

static void
spit(const char *root, const char *rel, const char *text)
{
	char *path = xasprintf("%s/%s", root, rel), *dir = util_dirname(path);
	char *cmd = xasprintf("mkdir -p '%s'", dir);
	FILE *fp;

	assert_int_equal(system(cmd), 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	free(cmd);
	free(dir);
	free(path);
}

/* A root with: libx:amd64 (Multi-Arch: same) owning /bin/x (through
 * the /bin -> usr/bin alias) and a conffile; tool, whose /usr/bin/t is
 * diverted by div to /usr/bin/t.real; div itself owning /usr/bin/t;
 * gone, not installed; a package with an obsolete conffile. */
static char *
make_root(void)
{
	char *root = xstrdup("/tmp/fimguard-test-pkg-XXXXXX");
	char *link;

	assert_non_null(mkdtemp(root));
	spit(root, "var/lib/dpkg/status",
	    "Package: libx\nStatus: install ok installed\n"
	    "Multi-Arch: same\nArchitecture: amd64\nVersion: 1:2.0-1\n"
	    "Conffiles:\n /etc/x.conf " MD5_C "\n"
	    " /etc/x.old " MD5_C " obsolete\n"
	    " /etc/x y.conf " MD5_A " remove-on-upgrade\n"
	    "Description: x\n continued line\n\n"
	    "Package: tool\nStatus: install ok installed\n"
	    "Architecture: all\nVersion: 3\n\n"
	    "Package: div\nStatus: install ok unpacked\n"
	    "Architecture: all\nVersion: 1\n\n"
	    "Package: gone\nStatus: deinstall ok not-installed\n"
	    "Architecture: all\nVersion: 9\n");
	spit(root, "var/lib/dpkg/diversions",
	    "/usr/bin/t\n/usr/bin/t.real\ndiv\n");
	spit(root, "var/lib/dpkg/info/libx:amd64.list",
	    "/.\n/bin\n/bin/x\n/etc/x.conf\n/etc/x.old\n/etc/x y.conf\n"
	    "/srv/out\n");
	spit(root, "var/lib/dpkg/info/libx:amd64.md5sums",
	    MD5_A "  bin/x\n" MD5_B "  srv/out\nnot a line\n");
	spit(root, "var/lib/dpkg/info/tool.list", "/usr/bin/t\n");
	spit(root, "var/lib/dpkg/info/tool.md5sums", MD5_B "  usr/bin/t\n");
	spit(root, "var/lib/dpkg/info/div.list", "/usr/bin/t\n");
	spit(root, "var/lib/dpkg/info/gone.list", "/usr/bin/gone\n");
	spit(root, "usr/bin/.keep", "");
	link = xasprintf("%s/bin", root);
	assert_int_equal(symlink("usr/bin", link), 0);
	free(link);
	return root;
}

static void
rm_root(char *root)
{
	char *cmd = xasprintf("rm -rf '%s'", root);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(root);
}

static void
load(struct pkg_db *db, const char *root, const char **prefixes, size_t n)
{
	struct strlist p = { 0 };
	char *why = NULL;

	for (size_t i = 0; i < n; i++)
		strlist_push(&p, prefixes[i]);
	pkg_db_init(db, PKG_DPKG, root, &p);
	pkg_find_aliases(db);
	assert_int_equal(pkg_dpkg_load(db, &why), 0);
	assert_null(why);
	strlist_free(&p);
}

static const struct pkg_file *
find(const struct pkg_db *db, const char *root, const char *path)
{
	char *full = xasprintf("%s%s", root, path);
	const struct pkg_file *f = pkg_find(db, full);

	free(full);
	return f;
}

static void
test_dpkg_reader(void **state)
{
	char *root = make_root();
	const char *all[] = { "/" };
	const struct pkg_file *f;
	struct pkg_db db;

	(void)state;
	assert_true(pkg_dpkg_present(root));
	load(&db, root, all, N(all));
	/* gone is not installed: not a package, its list not read */
	assert_int_equal(db.npkgs, 3);
	assert_null(find(&db, root, "/usr/bin/gone"));
	/* /bin/x is listed, /usr/bin/x is what the walk sees */
	f = find(&db, root, "/usr/bin/x");
	assert_non_null(f);
	assert_string_equal(db.pkgs[f->pkg]->name, "libx:amd64");
	assert_string_equal(db.pkgs[f->pkg]->version, "1:2.0-1");
	assert_string_equal(f->digest, "md5:" MD5_A);
	assert_null(find(&db, root, "/bin/x"));
	/* conffiles: status's MD5; obsolete ones are not the package's */
	f = find(&db, root, "/etc/x.conf");
	assert_non_null(f);
	assert_true(f->flags & PKG_F_CONFFILE);
	assert_string_equal(f->digest, "md5:" MD5_C);
	f = find(&db, root, "/etc/x.old");
	assert_non_null(f);		/* still listed */
	assert_null(f->digest);
	f = find(&db, root, "/etc/x y.conf");	/* split from the end */
	assert_non_null(f);
	assert_string_equal(f->digest, "md5:" MD5_A);
	/* tool's /usr/bin/t lives at t.real; div owns /usr/bin/t */
	f = find(&db, root, "/usr/bin/t.real");
	assert_non_null(f);
	assert_string_equal(db.pkgs[f->pkg]->name, "tool");
	assert_string_equal(f->digest, "md5:" MD5_B);
	f = find(&db, root, "/usr/bin/t");
	assert_non_null(f);
	assert_string_equal(db.pkgs[f->pkg]->name, "div");
	assert_null(f->digest);
	assert_int_equal(f->next, PKG_NO_NEXT);
	/* the database's own directory, as the walk names it */
	{
		char *d = xasprintf("%s/var/lib/dpkg", root);

		assert_string_equal(db.dbdir, d);
		free(d);
	}
	pkg_db_free(&db);
	rm_root(root);
}

/* Only what lies under the policy's roots is kept; md5sums are read
 * only for packages that own something kept. */
static void
test_dpkg_prefixes(void **state)
{
	char *root = make_root();
	const char *some[2];
	struct pkg_db db;

	(void)state;
	some[0] = xasprintf("%s/srv", root);
	some[1] = xasprintf("%s/usr/bin/t.real", root);
	load(&db, root, some, N(some));
	assert_int_equal(db.nfiles, 2);
	assert_string_equal(find(&db, root, "/srv/out")->digest, "md5:" MD5_B);
	assert_non_null(find(&db, root, "/usr/bin/t.real"));
	assert_null(find(&db, root, "/usr/bin/x"));
	pkg_db_free(&db);
	free((char *)some[0]);
	free((char *)some[1]);
	rm_root(root);
}

/* A record as rpm would give it. */
static struct pkg_file *
rec(struct pkg_db *db, const char *path, uint16_t mode, const char *sum)
{
	uint32_t pkg = pkg_add_package(db, "p", "1-1");
	struct pkg_file *f = pkg_add_file(db, pkg, path);
	uint8_t d[32];

	f->mode = mode;
	f->flags |= PKG_F_MODE | PKG_F_UID | PKG_F_GID;
	if (sum != NULL) {
		assert_int_equal(util_unhex(sum, d, 32), 0);
		pkg_set_digest(db, f, PKG_SHA256, d, 32);
	}
	return f;
}

#define S1 "1111111111111111111111111111111111111111111111111111111111111111"
#define S2 "2222222222222222222222222222222222222222222222222222222222222222"

static void
test_verdicts(void **state)
{
	struct pkg_db db;
	struct pkg_file *l;
	struct entry e = { 0 };
	const char *why = NULL;

	(void)state;
	pkg_db_init(&db, PKG_RPM, "/", NULL);
	rec(&db, "/f", S_IFREG | 0755, S1);
	l = rec(&db, "/l", S_IFLNK | 0777, NULL);
	pkg_set_str(&db, &l->target, "f");
	l->flags |= PKG_F_TARGET;

	e.path = "/f";
	e.type = ENTRY_FILE;
	e.mode = 0755;
	e.pkgsum = (char *)"sha256:" S1;
	assert_int_equal(pkg_verify(&db, &e, NULL, (unsigned)-1, &why),
	    PKG_VERIFIED);
	assert_int_equal(pkg_verify(&db, &e, NULL, CMP_CONTENT | CMP_MODE,
	    &why), PKG_VERIFIED);
	/* nlink is nobody's to vouch for */
	assert_int_equal(pkg_verify(&db, &e, NULL, CMP_NLINK, &why),
	    PKG_MISMATCH);
	assert_string_equal(why, "link count changed (a hard link "
	    "elsewhere?)");
	e.mode = 04755;
	assert_int_equal(pkg_verify(&db, &e, NULL, (unsigned)-1, &why),
	    PKG_MISMATCH);
	assert_string_equal(why, "mode differs from the package");
	e.mode = 0755;
	e.uid = 1000;
	assert_int_equal(pkg_verify(&db, &e, NULL, CMP_UID, &why),
	    PKG_MISMATCH);
	assert_string_equal(why, "owner differs from the package");
	e.uid = 0;
	e.pkgsum = (char *)"sha256:" S2;
	assert_int_equal(pkg_verify(&db, &e, NULL, CMP_CONTENT, &why),
	    PKG_MISMATCH);
	assert_string_equal(why, "content differs from the package");
	/* the baseline's verified digest stands in for unread content */
	e.pkgsum = NULL;
	assert_int_equal(pkg_verify(&db, &e, "sha256:" S1, CMP_MODE, &why),
	    PKG_VERIFIED);
	e.type = ENTRY_SYMLINK;
	assert_int_equal(pkg_verify(&db, &e, NULL, (unsigned)-1, &why),
	    PKG_MISMATCH);
	assert_string_equal(why, "not the type the package installed");

	e.path = "/l";
	e.target = (char *)"f";
	assert_int_equal(pkg_verify(&db, &e, NULL, CMP_TARGET, &why),
	    PKG_VERIFIED);
	e.target = (char *)"/etc/shadow";
	assert_int_equal(pkg_verify(&db, &e, NULL, CMP_TARGET, &why),
	    PKG_MISMATCH);
	assert_string_equal(why, "link target differs from the package");
	e.path = "/nobody";
	assert_int_equal(pkg_verify(&db, &e, NULL, CMP_TARGET, &why),
	    PKG_UNOWNED);
	pkg_db_free(&db);
}

/* dpkg records content only: a mode change is not vouched for. */
static void
test_dpkg_vouches_for_content_only(void **state)
{
	struct pkg_db db;
	struct pkg_file *f;
	struct entry e = { 0 };
	const char *why = NULL;
	uint8_t d[16];

	(void)state;
	pkg_db_init(&db, PKG_DPKG, "/", NULL);
	f = pkg_add_file(&db, pkg_add_package(&db, "p", "1"), "/f");
	assert_int_equal(util_unhex(MD5_A, d, 16), 0);
	pkg_set_digest(&db, f, PKG_MD5, d, 16);
	e.path = "/f";
	e.type = ENTRY_FILE;
	e.mode = 0644;
	e.pkgsum = (char *)"md5:" MD5_A;
	assert_int_equal(pkg_verify(&db, &e, NULL, CMP_CONTENT, &why),
	    PKG_VERIFIED);
	assert_int_equal(pkg_verify(&db, &e, NULL, CMP_CONTENT | CMP_MODE,
	    &why), PKG_MISMATCH);
	assert_string_equal(why, "the package database records no mode or "
	    "owner");
	/* a wrong-length digest is no digest */
	pkg_set_digest(&db, f, PKG_SHA256, d, 16);
	assert_string_equal(f->digest, "md5:" MD5_A);
	pkg_db_free(&db);
}

/* rpm's cap_to_text against the raw security.capability xattr. */
static void
test_caps(void **state)
{
	/* v2 vfs_cap_data: magic|effective, permitted lo, inheritable lo,
	 * permitted hi, inheritable hi; cap_net_raw is 13 */
	static const uint8_t raw_ep[20] = { 1, 0, 0, 2, 0, 0x20, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t raw_p[20] = { 0, 0, 0, 2, 0, 0x20, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	char *b64 = util_b64_encode(raw_ep, sizeof(raw_ep));
	char *x_ep = xasprintf("security.capability\t%s\n", b64);
	char *b64p = util_b64_encode(raw_p, sizeof(raw_p));
	char *x_p = xasprintf("security.capability\t%s\n", b64p);

	(void)state;
	assert_int_equal(pkg_caps_equal("cap_net_raw=ep", x_ep), 1);
	assert_int_equal(pkg_caps_equal("cap_net_raw+ep", x_ep), 1);
	assert_int_equal(pkg_caps_equal("cap_net_raw=p", x_p), 1);
	assert_int_equal(pkg_caps_equal("cap_net_raw=ep", x_p), 0);
	assert_int_equal(pkg_caps_equal("cap_net_admin=ep", x_ep), 0);
	assert_int_equal(pkg_caps_equal("", x_ep), 0);
	assert_int_equal(pkg_caps_equal("", NULL), 1);
	assert_int_equal(pkg_caps_equal("", "security.selinux\teA==\n"), 1);
	assert_int_equal(pkg_caps_equal("cap_no_such=ep", x_ep), -1);
	free(b64);
	free(x_ep);
	free(b64p);
	free(x_p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dpkg_reader),
		cmocka_unit_test(test_dpkg_prefixes),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_dpkg_vouches_for_content_only),
		cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
