/* What the package manager's own database says about the files it
 * installed: owner, version, content digest and (rpm) metadata. Read
 * once per run, directly (pkg_dpkg.c: /var/lib/dpkg; pkg_rpm.c: the
 * rpmdb through librpm, read-only), indexed by path. pkg.c holds what
 * both readers share and the verdicts built on it. */
#ifndef FIMGUARD_PKG_H
#define FIMGUARD_PKG_H

#include <stddef.h>
#include <stdint.h>

#include "core/entry.h"
#include "core/htab.h"
#include "core/util.h"

enum pkg_manager { PKG_NONE = 0, PKG_DPKG, PKG_RPM };

/* Content digests the databases use (dpkg: MD5; rpm: per package). */
enum pkg_algo {
	PKG_ALGO_NONE = 0, PKG_MD5, PKG_SHA1, PKG_SHA224, PKG_SHA256,
	PKG_SHA384, PKG_SHA512, PKG_NALGOS
};
#define PKG_DIGEST_MAX	64

/* pkg_file.flags */
#define PKG_F_CONFFILE	0x01	/* dpkg conffile, rpm %config */
#define PKG_F_MODE	0x02	/* mode (type and permissions) recorded */
#define PKG_F_UID	0x04	/* owner recorded (and resolved) */
#define PKG_F_GID	0x08
#define PKG_F_TARGET	0x10	/* link target recorded */
#define PKG_F_CAPS	0x20	/* file capabilities recorded (maybe none) */
#define PKG_F_DIGEST	0x40	/* content digest to be checked */

#define PKG_NO_NEXT	UINT32_MAX

/* An owner as the baseline records it: interned, compared by pointer. */
struct pkg_owner {
	const char	*manager;	/* "dpkg" | "rpm" */
	const char	*name;		/* dpkg: name[:arch] as dpkg -S */
	const char	*version;	/* dpkg: Version; rpm: [E:]V-R */
};

struct pkg_owners {
	struct pkg_owner **v;
	size_t		 n, cap;
	struct htab	 idx;		/* "manager\tname\tversion" -> v[] */
	struct strlist	 keys;
};

/* One path of one package. */
struct pkg_file {
	const char	*path;		/* as the database names it */
	const char	*digest;	/* "algo:hex", or NULL */
	const char	*target;	/* link target, or NULL */
	const char	*caps;		/* cap_to_text form, or NULL */
	uint32_t	 pkg;		/* index into pkg_db.pkgs */
	uint32_t	 next;		/* another package's record, or
					   PKG_NO_NEXT */
	uint32_t	 uid, gid;
	uint16_t	 mode;		/* S_IFMT and permission bits */
	uint8_t		 algo, dlen, flags;
};

struct pkg_db {
	int		 manager;	/* enum pkg_manager */
	char		*root;		/* package_root, no trailing '/' ("" for /) */
	char		*dbdir;		/* the database's own files, as the
					   walk names them */
	const struct pkg_owner **pkgs;	/* interned in owners */
	size_t		 npkgs;
	struct pkg_file	*files;
	size_t		 nfiles, cap;
	struct htab	 idx;		/* path -> first record */
	struct pkg_owners owners;
	struct arena	 arena;
	struct strlist	 prefixes;	/* only paths under these are kept */
	struct strlist	 alias_from, alias_to;	/* /bin -> /usr/bin ... */
};

/* What the database says about an entry. */
enum pkg_verdict {
	PKG_UNOWNED = 0,	/* no package lists the path */
	PKG_VERIFIED,		/* everything recorded matches */
	PKG_MISMATCH,		/* something recorded does not */
};

/* The label a change carries (fimguard.package.*). */
struct pkg_label {
	const char	*manager;	/* NULL: not owned, no label */
	const char	*name;
	const char	*version;	/* installed now, or NULL (removed) */
	const char	*previous;	/* the baseline's, or NULL */
	const char	*why;		/* unverified: what does not match */
	const char	*database;	/* a file of the database itself (its
					   directory); name is then NULL */
	int		 verified;
	int		 conffile;
};

const char *pkg_manager_name(int);
int	 pkg_algo_parse(const char *);
const char *pkg_algo_name(int);
size_t	 pkg_algo_len(int);
char	*pkg_sum_format(int, const uint8_t *, size_t);

void	 pkg_owners_free(struct pkg_owners *);
const struct pkg_owner *pkg_owners_intern(struct pkg_owners *,
	    const char *, const char *, const char *);

void	 pkg_db_init(struct pkg_db *, int, const char *,
	    const struct strlist *);
void	 pkg_db_free(struct pkg_db *);
uint32_t pkg_add_package(struct pkg_db *, const char *, const char *);
char	*pkg_db_path(const struct pkg_db *, const char *);
int	 pkg_wanted(const struct pkg_db *, const char *);
struct pkg_file *pkg_add_file(struct pkg_db *, uint32_t, const char *);
struct pkg_file *pkg_find_own(struct pkg_db *, uint32_t, const char *);
void	 pkg_set_digest(struct pkg_db *, struct pkg_file *, int,
	    const uint8_t *, size_t);
void	 pkg_set_str(struct pkg_db *, const char **, const char *);
void	 pkg_add_alias(struct pkg_db *, const char *, const char *);
void	 pkg_find_aliases(struct pkg_db *);
void	 pkg_set_dbdir(struct pkg_db *, const char *);

const struct pkg_file *pkg_find(const struct pkg_db *, const char *);
void	 pkg_assign(const struct pkg_db *, struct entryvec *);
int	 pkg_verify(const struct pkg_db *, const struct entry *,
	    const char *, unsigned, const char **);
const char *pkg_version_of(const struct pkg_db *, const char *);
const struct pkg_file *pkg_next(const struct pkg_db *,
	    const struct pkg_file *);
int	 pkg_sum_matches(const struct pkg_db *, const struct entry *,
	    const char *);
const struct pkg_owner *pkg_owner_of(const struct pkg_db *,
	    const struct pkg_file *);
int	 pkg_caps_equal(const char *, const char *);

struct change;
void	 pkg_label(const struct pkg_db *, struct change *);
int	 pkg_entry_label(const struct pkg_db *, const struct entry *,
	    const char *, struct pkg_label *);
const char *pkg_digest_of(const struct pkg_db *, const char *);

#endif
