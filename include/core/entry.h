/* One filesystem object as recorded in (or compared with) a baseline. */
#ifndef FIMGUARD_ENTRY_H
#define FIMGUARD_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

enum entry_type {
	ENTRY_FILE, ENTRY_DIR, ENTRY_SYMLINK, ENTRY_FIFO, ENTRY_SOCKET,
	ENTRY_CHARDEV, ENTRY_BLOCKDEV, ENTRY_UNKNOWN
};

#define ENTRY_XXH_LEN	16
#define ENTRY_SHA_LEN	32

struct pkg_owner;

/* Packed to 160 bytes: check holds one per file of the tree. */
struct entry {
	char		*path;
	const char	*rule;		/* interned rule name */
	uint8_t		 type;		/* enum entry_type */
	uint8_t		 has_xxh:1, has_sha:1, vault:1;
	uint8_t		 unstat:1;	/* metadata not read yet */
	/* pkg_ok: pkgsum is what the package database records (in a
	 * baseline: it was when recorded); pkg_algo: hash the content
	 * with it (enum pkg_algo, set from the database for a scan) */
	uint8_t		 pkg_ok:1, pkg_algo:3;
	uint16_t	 mode;		/* permission bits incl. suid etc. */
	uint32_t	 uid, gid;
	uint32_t	 nlink;
	uint64_t	 size, ino, dev;
	int64_t		 mtime_ns, ctime_ns;
	char		*target;	/* symlink target */
	char		*xattrs;	/* canonical "name\tbase64\n"... */
	char		*error;		/* why content could not be read */
	const struct pkg_owner *owner;	/* owning package, or NULL */
	char		*pkgsum;	/* "md5:<hex>": the package's kind of
					   digest of the content, or NULL */
	uint8_t		 xxh[ENTRY_XXH_LEN];
	uint8_t		 sha[ENTRY_SHA_LEN];
};

struct entryvec {
	struct entry	*v;
	size_t		 n, cap;
};

struct entry	*entryvec_add(struct entryvec *);
void		 entryvec_sort(struct entryvec *);
void		 entryvec_free(struct entryvec *);
void		 entry_free(struct entry *);
void		 entry_from_stat(struct entry *, const struct stat *);
const char	*entry_type_name(int);
int		 entry_type_parse(const char *);
int		 entry_read_meta(struct entry *, int, const char *);
void		 entry_read_xattrs_fd(struct entry *, int);
void		 entry_read_xattrs_at(struct entry *, int, const char *);

#endif
