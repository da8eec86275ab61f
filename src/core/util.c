/* Helpers with no policy of their own. Out-of-memory is fatal: a
 * half-built baseline is worse than a clear failure. The log is built
 * on this file (it escapes every line), so nothing here calls it. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

static void __attribute__((noreturn))
util_oom(void)
{
	static const char msg[] = "fimguard: fatal: out of memory\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	exit(2);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		util_oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		util_oom();
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size ? size : 1);

	if (q == NULL)
		util_oom();
	return q;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		util_oom();
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		util_oom();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		util_oom();
	return s;
}

#define ARENA_CHUNK	(256 * 1024)

struct arena_chunk {
	struct arena_chunk	*next;
	size_t			 used, size;
	char			 data[];
};

char *
arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	struct arena_chunk *c = a->head;
	char *p;

	if (c == NULL || c->size - c->used < n) {
		size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->used;
	memcpy(p, s, n);
	c->used += n;
	return p;
}

void
arena_free(struct arena *a)
{
	while (a->head != NULL) {
		struct arena_chunk *c = a->head;

		a->head = c->next;
		free(c);
	}
}

void
strlist_push_owned(struct strlist *l, char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

void
strlist_push(struct strlist *l, const char *s)
{
	strlist_push_owned(l, xstrdup(s));
}

void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

void
util_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
util_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Strict: exactly 2*n lowercase hex digits, as util_hex writes them. */
int
util_unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = util_hexval(s[2 * i]), lo = util_hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
util_b64_encode(const uint8_t *in, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1), *o = out;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*o++ = b64chars[v >> 18 & 63];
		*o++ = b64chars[v >> 12 & 63];
		*o++ = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? b64chars[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int
util_b64val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

/* Decodes canonical padded base64 only; the result is NUL-terminated
 * for convenience, *outlen excludes the NUL. */
int
util_b64_decode(const char *s, uint8_t **out, size_t *outlen)
{
	size_t len = strlen(s), n = 0;
	uint8_t *buf;

	if (len % 4 != 0)
		return -1;
	buf = xmalloc(len / 4 * 3 + 1);
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;

		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad || (v[k] = util_b64val(s[i + k])) < 0) {
				free(buf);
				return -1;
			}
		}
		uint32_t w = (uint32_t)(v[0] << 18 | v[1] << 12 | v[2] << 6 |
		    v[3]);
		if ((pad == 2 && (w & 0xffff)) || (pad == 1 && (w & 0xff))) {
			free(buf);	/* not canonical: "Zh==" */
			return -1;
		}
		buf[n++] = (uint8_t)(w >> 16);
		if (pad < 2)
			buf[n++] = (uint8_t)(w >> 8);
		if (pad < 1)
			buf[n++] = (uint8_t)w;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (max bytes left), 0 if not
 * valid. Rejects overlongs, surrogates and code points past U+10FFFF,
 * exactly what a strict JSON consumer rejects. */
static size_t
util_utf8_seq(const unsigned char *s, size_t left)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2; cp = c & 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3; cp = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4; cp = c & 0x07; min = 0x10000;
	} else
		return 0;
	if (left < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int
util_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	while (n > 0) {
		size_t k = util_utf8_seq(p, n);

		if (k == 0)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

/* Invalid bytes become U+FFFD, for display fields next to an exact
 * base64 copy. */
char *
util_utf8_lossy(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	char *out = xmalloc(3 * n + 1), *o = out;

	while (n > 0) {
		size_t k = util_utf8_seq(p, n);

		if (k == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			k = 1;
		} else {
			memcpy(o, p, k);
			o += k;
		}
		p += k;
		n -= k;
	}
	*o = '\0';
	return out;
}

/* Code points that reorder or control a terminal even as valid UTF-8:
 * C1 controls (U+0080-U+009F, e.g. the 8-bit CSI) and the bidi
 * overrides and isolates (U+202A-U+202E, U+2066-U+2069). */
static int
util_unsafe_cp(const unsigned char *p, size_t k)
{
	unsigned cp;

	if (k == 2)
		cp = (unsigned)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
	else if (k == 3)
		cp = (unsigned)(p[0] & 0x0f) << 12 |
		    (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
	else
		return 0;
	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

/* The escape of the UTF-8 sequence (or the byte) at p into e (at most
 * 13 bytes with the NUL); returns how many bytes of p it stands for. */
static size_t
util_escape_one(const unsigned char *p, size_t n, char *e)
{
	size_t k = util_utf8_seq(p, n), len = 0;

	if (k > 1 && util_unsafe_cp(p, k)) {
		for (size_t i = 0; i < k; i++)
			len += (size_t)sprintf(e + len, "\\x%02x", p[i]);
	} else if (k > 1) {
		memcpy(e, p, k);
		e[k] = '\0';
	} else if (k == 1 && *p >= 0x20 && *p != 0x7f && *p != '\\') {
		e[0] = (char)*p;
		e[1] = '\0';
	} else if (*p == '\n' || *p == '\t' || *p == '\\') {
		k = 1;
		e[0] = '\\';
		e[1] = *p == '\n' ? 'n' : *p == '\t' ? 't' : '\\';
		e[2] = '\0';
	} else {
		k = 1;
		sprintf(e, "\\x%02x", *p);
	}
	return k;
}

/* For terminals and logs: a hostile file name must not move the
 * cursor, flip the text direction or fake a report or log line, so
 * control characters, backslash and invalid UTF-8 are shown as C
 * escapes. Into out (size n > 0), cut before an escape that does not
 * fit; returns the length written. No allocation: the log uses it. */
size_t
util_escape_to(const char *s, char *out, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), len = 0;
	char e[16];

	while (left > 0) {
		size_t k = util_escape_one(p, left, e), el = strlen(e);

		if (len + el >= n)
			break;
		memcpy(out + len, e, el);
		len += el;
		p += k;
		left -= k;
	}
	out[len] = '\0';
	return len;
}

char *
util_escape(const char *s)
{
	size_t n = 4 * strlen(s) + 1;
	char *out = xmalloc(n);

	util_escape_to(s, out, n);
	return out;
}

/* True when path equals dir or lies below it ("/etc/ssh" is under
 * "/etc/ssh/" and "/etc", but "/etc/sshd" is not under "/etc/ssh"). */
int
util_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

/* The spelling the walk produces: "/etc//ssh/./x/" -> "/etc/ssh/x",
 * and "a/../b" -> "b" (lexically: baseline paths are never resolved
 * through symlinks). Used for policy roots and approve arguments. */
char *
util_clean_path(const char *p)
{
	char *out = xmalloc(strlen(p) + 2);
	size_t o = 0;

	while (*p != '\0') {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[--o] != '/')
				;
			p += n;
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

/* The directory part of an absolute path ("/etc/x" -> "/etc",
 * "/x" -> "/"), malloc'd. */
char *
util_dirname(const char *path)
{
	char *d = xstrdup(path), *slash = strrchr(d, '/');

	if (slash == d)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	return d;
}

/* getline(3) that stops at max bytes: a file with no newline (a sparse
 * file, a log put in the wrong place) is never read into memory whole.
 * Returns the line's length (NUL bytes included), max + 1 when the
 * line is longer (the rest stays unread: the caller stops there), or
 * -1 at the end or on a read error. */
ssize_t
util_getline(char **line, size_t *cap, FILE *fp, size_t max)
{
	size_t n = 0;
	int c = 0;

	while (c != '\n' && n <= max && (c = getc_unlocked(fp)) != EOF) {
		if (n + 2 > *cap) {
			*cap = *cap < 128 ? 128 : *cap * 2;
			if (*cap > max + 2)
				*cap = max + 2;
			*line = xreallocarray(*line, *cap, 1);
		}
		(*line)[n++] = (char)c;
	}
	if (n == 0)
		return -1;
	(*line)[n] = '\0';
	return (ssize_t)n;
}

/* Monotonic milliseconds, for timeouts and the stall watchdog. */
uint64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A C0 control byte or DEL: what can split a header or forge a line
 * (a file name may hold a newline). */
static int
util_is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int
util_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if (util_is_control((unsigned char)*s))
			return 1;
	return 0;
}

/* Every control byte becomes '?', for single-line fields and logs. */
void
util_flatten_controls(char *s)
{
	for (; *s != '\0'; s++)
		if (util_is_control((unsigned char)*s))
			*s = '?';
}
