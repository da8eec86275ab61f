/* Baseline records:
 *   [path, rule, type, mode, uid, gid, size, mtime_ns, ctime_ns, inode,
 *    dev, nlink, target, xattrs, xxh3, sha256, flags, error, package]
 * path and target are JSON strings when they are UTF-8 and
 * {"b64": "..."} when they are not, so every name survives exactly;
 * absent values are null; xattrs is {name: base64 value}; flags bit 0
 * means the content is in the vault. ctime, inode and device are kept
 * for forensics (a replaced file shows a new inode) but are not
 * compared: they change with identical rewrites and across reboots.
 * package (format version 2) is null for a file no package owns, else
 * [manager, name, version, digest]: digest is the package database's
 * own ("md5:<hex>") when the content matched it as it was recorded,
 * null when it did not (or the database has none). Version 1 records
 * have no package field: they read as unowned. */
#include <stdlib.h>
#include <string.h>

#include "core/pkg.h"
#include "core/record.h"

static const char *record_names[] = {
	"path", "rule", "type", "mode", "uid", "gid", "size", "mtime_ns",
	"ctime_ns", "inode", "dev", "nlink", "target", "xattrs", "xxh3",
	"sha256", "flags", "error", "package"
};

enum { R_PATH, R_RULE, R_TYPE, R_MODE, R_UID, R_GID, R_SIZE, R_MTIME,
	R_CTIME, R_INODE, R_DEV, R_NLINK, R_TARGET, R_XATTRS, R_XXH, R_SHA,
	R_FLAGS, R_ERROR, R_PACKAGE, R_COUNT };

#define R_COUNT_V1	R_PACKAGE	/* format version 1: no package */

#define RECORD_VAULT	1

json_object *
record_fields(void)
{
	json_object *a = json_object_new_array_ext(R_COUNT);

	for (int i = 0; i < R_COUNT; i++)
		json_object_array_add(a, json_object_new_string(
		    record_names[i]));
	return a;
}

static json_object *
record_bytes(const char *s)
{
	json_object *o;
	char *b;

	if (s == NULL)
		return NULL;
	if (util_utf8_valid(s, strlen(s)))
		return json_object_new_string(s);
	o = json_object_new_object();
	b = util_b64_encode((const uint8_t *)s, strlen(s));
	json_object_object_add(o, "b64", json_object_new_string(b));
	free(b);
	return o;
}

static json_object *
record_xattrs(const char *canon)
{
	json_object *o;
	char *copy, *save = NULL;

	if (canon == NULL)
		return NULL;
	o = json_object_new_object();
	copy = xstrdup(canon);
	for (char *l = strtok_r(copy, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(l, '\t');

		if (tab == NULL)
			continue;
		*tab = '\0';
		json_object_object_add(o, l, json_object_new_string(tab + 1));
	}
	free(copy);
	return o;
}

static json_object *
record_package(const struct entry *e)
{
	json_object *a;

	if (e->owner == NULL)
		return NULL;
	a = json_object_new_array_ext(4);
	json_object_array_add(a, json_object_new_string(e->owner->manager));
	json_object_array_add(a, json_object_new_string(e->owner->name));
	json_object_array_add(a, json_object_new_string(e->owner->version));
	json_object_array_add(a, e->pkg_ok && e->pkgsum != NULL ?
	    json_object_new_string(e->pkgsum) : NULL);
	return a;
}

static json_object *
record_hex(const uint8_t *p, size_t n, int present)
{
	char hex[65];

	if (!present)
		return NULL;
	util_hex(p, n, hex);
	return json_object_new_string(hex);
}

json_object *
record_to_json(const struct entry *e)
{
	json_object *a = json_object_new_array_ext(R_COUNT);

	json_object_array_add(a, record_bytes(e->path));
	json_object_array_add(a, json_object_new_string(e->rule));
	json_object_array_add(a,
	    json_object_new_string(entry_type_name(e->type)));
	json_object_array_add(a, json_object_new_int((int)e->mode));
	json_object_array_add(a, json_object_new_uint64(e->uid));
	json_object_array_add(a, json_object_new_uint64(e->gid));
	json_object_array_add(a, json_object_new_uint64(e->size));
	json_object_array_add(a, json_object_new_int64(e->mtime_ns));
	json_object_array_add(a, json_object_new_int64(e->ctime_ns));
	json_object_array_add(a, json_object_new_uint64(e->ino));
	json_object_array_add(a, json_object_new_uint64(e->dev));
	json_object_array_add(a, json_object_new_uint64(e->nlink));
	json_object_array_add(a, record_bytes(e->target));
	json_object_array_add(a, record_xattrs(e->xattrs));
	json_object_array_add(a, record_hex(e->xxh, sizeof(e->xxh),
	    e->has_xxh));
	json_object_array_add(a, record_hex(e->sha, sizeof(e->sha),
	    e->has_sha));
	json_object_array_add(a, json_object_new_int(e->vault ?
	    RECORD_VAULT : 0));
	json_object_array_add(a, e->error ?
	    json_object_new_string(e->error) : NULL);
	json_object_array_add(a, record_package(e));
	return a;
}

/* Fields a record of this format version has, or 0 for none. */
size_t
record_count(int version)
{
	return version == 1 ? R_COUNT_V1 : version == 2 ? R_COUNT : 0;
}

static const char *
record_intern(struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return l->v[i];
	strlist_push(l, s);
	return l->v[l->n - 1];
}

static const char *
record_str(json_object *a, int i)
{
	json_object *x = json_object_array_get_idx(a, (size_t)i);

	return json_object_is_type(x, json_type_string) ?
	    json_object_get_string(x) : NULL;
}

/* Unsigned integer field; -1 if absent, negative or not an integer. */
static int
record_u64(json_object *a, int i, uint64_t max, uint64_t *v)
{
	json_object *x = json_object_array_get_idx(a, (size_t)i);

	/* json-c clamps values above INT64_MAX to it in get_int64, so a
	 * negative result really is a negative number. */
	if (!json_object_is_type(x, json_type_int) ||
	    json_object_get_int64(x) < 0)
		return -1;
	*v = json_object_get_uint64(x);
	return *v <= max ? 0 : -1;
}

/* A name: string, or {"b64": ...} with no NUL inside. NULL if bad. */
static char *
record_get_bytes(json_object *x)
{
	json_object *b;
	uint8_t *out;
	size_t n;

	if (json_object_is_type(x, json_type_string))
		return xstrdup(json_object_get_string(x));
	if (!json_object_is_type(x, json_type_object) ||
	    !json_object_object_get_ex(x, "b64", &b) ||
	    !json_object_is_type(b, json_type_string) ||
	    util_b64_decode(json_object_get_string(b), &out, &n) < 0)
		return NULL;
	if (strlen((char *)out) != n) {
		free(out);
		return NULL;
	}
	return (char *)out;
}

static int
record_get_xattrs(json_object *o, char **canon)
{
	size_t len = 0;
	char *out = NULL;

	if (o == NULL)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return -1;
	json_object_object_foreach(o, k, v) {
		char *line;

		if (!json_object_is_type(v, json_type_string)) {
			free(out);
			return -1;
		}
		line = xasprintf("%s\t%s\n", k, json_object_get_string(v));
		out = xreallocarray(out, len + strlen(line) + 1, 1);
		memcpy(out + len, line, strlen(line) + 1);
		len += strlen(line);
		free(line);
	}
	*canon = out;
	return 0;
}

/* 1 present and valid, 0 null, -1 malformed. */
static int
record_get_hex(json_object *a, int i, uint8_t *out, size_t n)
{
	json_object *x = json_object_array_get_idx(a, (size_t)i);

	if (x == NULL)
		return 0;
	if (!json_object_is_type(x, json_type_string))
		return -1;
	return util_unhex(json_object_get_string(x), out, n) == 0 ? 1 : -1;
}

/* Times may be negative (before 1970). */
static int
record_i64(json_object *a, int i, int64_t *v)
{
	json_object *x = json_object_array_get_idx(a, (size_t)i);

	if (!json_object_is_type(x, json_type_int))
		return -1;
	*v = json_object_get_int64(x);
	return 0;
}

static int
record_numbers(json_object *a, struct entry *e)
{
	uint64_t mode, uid, gid, nlink, flags;

	if (record_u64(a, R_MODE, 07777, &mode) < 0 ||
	    record_u64(a, R_UID, UINT32_MAX, &uid) < 0 ||
	    record_u64(a, R_GID, UINT32_MAX, &gid) < 0 ||
	    record_u64(a, R_SIZE, UINT64_MAX, &e->size) < 0 ||
	    record_i64(a, R_MTIME, &e->mtime_ns) < 0 ||
	    record_i64(a, R_CTIME, &e->ctime_ns) < 0 ||
	    record_u64(a, R_INODE, UINT64_MAX, &e->ino) < 0 ||
	    record_u64(a, R_DEV, UINT64_MAX, &e->dev) < 0 ||
	    record_u64(a, R_NLINK, UINT32_MAX, &nlink) < 0 ||
	    record_u64(a, R_FLAGS, RECORD_VAULT, &flags) < 0)
		return -1;
	e->mode = (uint16_t)mode;
	e->nlink = (uint32_t)nlink;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	e->vault = (flags & RECORD_VAULT) != 0;
	return 0;
}

static int
record_str_or_null(json_object *x, const char **s)
{
	if (x == NULL) {
		*s = NULL;
		return 0;
	}
	if (!json_object_is_type(x, json_type_string))
		return -1;
	*s = json_object_get_string(x);
	return 0;
}

/* The package field: null, or [manager, name, version, digest|null]. */
static int
record_get_package(json_object *a, struct entry *e,
    struct pkg_owners *owners)
{
	json_object *p = json_object_array_length(a) > R_PACKAGE ?
	    json_object_array_get_idx(a, R_PACKAGE) : NULL;
	const char *m, *n, *v, *sum;

	if (p == NULL)
		return 0;
	if (!json_object_is_type(p, json_type_array) ||
	    json_object_array_length(p) != 4 ||
	    (m = record_str(p, 0)) == NULL || (n = record_str(p, 1)) ==
	    NULL || (v = record_str(p, 2)) == NULL ||
	    record_str_or_null(json_object_array_get_idx(p, 3), &sum) < 0 ||
	    (sum != NULL && strchr(sum, ':') == NULL))
		return -1;
	e->owner = pkg_owners_intern(owners, m, n, v);
	if (sum != NULL) {
		e->pkgsum = xstrdup(sum);
		e->pkg_ok = 1;
	}
	return 0;
}

/* Fill e from one record (of either format version: the reader checks
 * that its length is the header's). Returns 0, or -1 if malformed (e
 * may then hold partial data for entry_free). */
int
record_from_json(json_object *a, struct entry *e, struct strlist *rules,
    struct pkg_owners *owners)
{
	const char *type, *rule, *err;
	json_object *t;
	int hx, hs, t_type;

	/* Before any array access: json-c asserts on a non-array. */
	if (!json_object_is_type(a, json_type_array) ||
	    (json_object_array_length(a) != R_COUNT &&
	    json_object_array_length(a) != R_COUNT_V1))
		return -1;
	type = record_str(a, R_TYPE);
	rule = record_str(a, R_RULE);
	err = record_str(a, R_ERROR);
	if ((e->path = record_get_bytes(json_object_array_get_idx(a,
	    R_PATH))) == NULL || e->path[0] != '/' || type == NULL ||
	    rule == NULL || (t_type = entry_type_parse(type)) < 0 ||
	    record_numbers(a, e) < 0)
		return -1;
	e->type = (uint8_t)t_type;
	e->rule = record_intern(rules, rule);
	t = json_object_array_get_idx(a, R_TARGET);
	if (t != NULL && (e->target = record_get_bytes(t)) == NULL)
		return -1;
	if ((e->type == ENTRY_SYMLINK) != (e->target != NULL) ||
	    record_get_xattrs(json_object_array_get_idx(a, R_XATTRS),
	    &e->xattrs) < 0)
		return -1;
	if ((hx = record_get_hex(a, R_XXH, e->xxh, sizeof(e->xxh))) < 0 ||
	    (hs = record_get_hex(a, R_SHA, e->sha, sizeof(e->sha))) < 0)
		return -1;
	e->has_xxh = hx == 1;
	e->has_sha = hs == 1;
	if (err != NULL)
		e->error = xstrdup(err);
	return record_get_package(a, e, owners);
}
