/* A unified diff (3 lines of context) between two small texts. The
 * common head and tail are trimmed first; what is left is compared
 * line by line with a longest-common-subsequence table when it fits
 * DIFF_MAX_CELLS, else shown as one replaced block: still a correct
 * diff, only not minimal, and configuration files never get there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diff.h"
#include "core/util.h"

#define DIFF_CONTEXT	3
#define DIFF_MAX_CELLS	(4u * 1024 * 1024)

struct diff_lines {
	const char	**s;
	size_t		 *len;
	size_t		  n;
};

/* Text: no NUL byte, valid UTF-8 (what a person can read in an alert). */
int
diff_is_text(const char *p, size_t n)
{
	return n <= DIFF_MAX_INPUT && memchr(p, '\0', n) == NULL &&
	    util_utf8_valid(p, n);
}

static void
diff_split(const char *p, size_t n, struct diff_lines *l)
{
	size_t cap = 16;

	l->n = 0;
	l->s = xcalloc(cap, sizeof(*l->s));
	l->len = xcalloc(cap, sizeof(*l->len));
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) + 1 : n;

		if (l->n == cap) {
			cap *= 2;
			l->s = xreallocarray(l->s, cap, sizeof(*l->s));
			l->len = xreallocarray(l->len, cap, sizeof(*l->len));
		}
		l->s[l->n] = p + i;
		l->len[l->n++] = end - i;
		i = end;
	}
}

static int
diff_eq(const struct diff_lines *a, size_t i, const struct diff_lines *b,
    size_t j)
{
	return a->len[i] == b->len[j] &&
	    memcmp(a->s[i], b->s[j], a->len[i]) == 0;
}

/* ops: '=' keep, '-' old only, '+' new only, in order. */
struct diff_ops {
	char	*op;
	size_t	 n;
};

static void
diff_push(struct diff_ops *o, char c)
{
	o->op[o->n++] = c;
}

static void
diff_middle(const struct diff_lines *a, size_t a0, size_t an,
    const struct diff_lines *b, size_t b0, size_t bn, struct diff_ops *o)
{
	size_t n = an - a0, m = bn - b0, i, j;
	uint32_t *t;

	if (n == 0 || m == 0 || (n + 1) * (m + 1) > DIFF_MAX_CELLS) {
		for (i = 0; i < n; i++)
			diff_push(o, '-');
		for (j = 0; j < m; j++)
			diff_push(o, '+');
		return;
	}
	/* t[i][j]: LCS length of a[a0+i..] and b[b0+j..] */
	t = xcalloc((n + 1) * (m + 1), sizeof(*t));
	for (i = n; i-- > 0;)
		for (j = m; j-- > 0;)
			t[i * (m + 1) + j] = diff_eq(a, a0 + i, b, b0 + j) ?
			    t[(i + 1) * (m + 1) + j + 1] + 1 :
			    (t[(i + 1) * (m + 1) + j] > t[i * (m + 1) + j + 1] ?
			    t[(i + 1) * (m + 1) + j] : t[i * (m + 1) + j + 1]);
	for (i = 0, j = 0; i < n || j < m;) {
		if (i < n && j < m && diff_eq(a, a0 + i, b, b0 + j)) {
			diff_push(o, '=');
			i++, j++;
		} else if (i < n && (j == m || t[(i + 1) * (m + 1) + j] >=
		    t[i * (m + 1) + j + 1])) {
			diff_push(o, '-');	/* deletions first, like diff -u */
			i++;
		} else {
			diff_push(o, '+');
			j++;
		}
	}
	free(t);
}

struct diff_out {
	char	*buf;
	size_t	 len;
	int	 cut;
};

static void
diff_emit(struct diff_out *d, const char *p, size_t n)
{
	if (d->cut || d->len + n > DIFF_MAX_OUTPUT) {
		d->cut = 1;
		return;
	}
	memcpy(d->buf + d->len, p, n);
	d->len += n;
}

static void
diff_line(struct diff_out *d, char c, const char *s, size_t n)
{
	diff_emit(d, &c, 1);
	diff_emit(d, s, n);
	if (n == 0 || s[n - 1] != '\n')
		diff_emit(d, "\n\\ No newline at end of file\n",
		    strlen("\n\\ No newline at end of file\n"));
}

/* Emit the hunk of ops [h0, h1) starting at old line ai, new line bj. */
static void
diff_hunk(struct diff_out *d, const struct diff_ops *o, size_t h0, size_t h1,
    const struct diff_lines *a, size_t ai, const struct diff_lines *b,
    size_t bj)
{
	size_t na = 0, nb = 0;
	char head[80];

	for (size_t k = h0; k < h1; k++) {
		na += o->op[k] != '+';
		nb += o->op[k] != '-';
	}
	snprintf(head, sizeof(head), "@@ -%zu,%zu +%zu,%zu @@\n",
	    na ? ai + 1 : ai, na, nb ? bj + 1 : bj, nb);
	diff_emit(d, head, strlen(head));
	for (size_t k = h0; k < h1; k++) {
		if (o->op[k] == '+') {
			diff_line(d, '+', b->s[bj], b->len[bj]);
			bj++;
		} else if (o->op[k] == '-') {
			diff_line(d, '-', a->s[ai], a->len[ai]);
			ai++;
		} else {
			diff_line(d, ' ', a->s[ai], a->len[ai]);
			ai++, bj++;
		}
	}
}

static void
diff_hunks(struct diff_out *d, const struct diff_ops *o,
    const struct diff_lines *a, const struct diff_lines *b)
{
	size_t k = 0, ai = 0, bj = 0;

	while (k < o->n) {
		size_t start, end, cai, cbj, eq;

		while (k < o->n && o->op[k] == '=') {
			k++, ai++, bj++;
		}
		if (k == o->n)
			break;
		/* back up to three lines of context */
		start = k;
		cai = ai;
		cbj = bj;
		for (int c = 0; c < DIFF_CONTEXT && start > 0 &&
		    o->op[start - 1] == '='; c++) {
			start--, cai--, cbj--;
		}
		/* extend while changes are within 2*context of each other */
		end = k;
		for (;;) {
			while (end < o->n && o->op[end] != '=') {
				ai += o->op[end] != '+';
				bj += o->op[end] != '-';
				end++;
			}
			for (eq = 0; end + eq < o->n && o->op[end + eq] == '=';)
				eq++;
			if (end + eq == o->n || eq > 2 * DIFF_CONTEXT) {
				size_t ctx = eq < DIFF_CONTEXT ? eq :
				    DIFF_CONTEXT;

				diff_hunk(d, o, start, end + ctx, a, cai, b,
				    cbj);
				k = end;
				break;
			}
			end += eq;
			ai += eq;
			bj += eq;
		}
	}
}

/* The diff from old to new, NUL-terminated, or NULL if identical. */
char *
diff_unified(const char *old, size_t on, const char *new, size_t nn,
    const char *oldname, const char *newname)
{
	struct diff_lines a, b;
	struct diff_ops o;
	struct diff_out d = { xmalloc(DIFF_MAX_OUTPUT + 64), 0, 0 };
	size_t pre = 0, suf = 0;

	diff_split(old, on, &a);
	diff_split(new, nn, &b);
	while (pre < a.n && pre < b.n && diff_eq(&a, pre, &b, pre))
		pre++;
	while (suf < a.n - pre && suf < b.n - pre &&
	    diff_eq(&a, a.n - 1 - suf, &b, b.n - 1 - suf))
		suf++;
	o.op = xmalloc(a.n + b.n + 1);
	o.n = 0;
	for (size_t i = 0; i < pre; i++)
		diff_push(&o, '=');
	diff_middle(&a, pre, a.n - suf, &b, pre, b.n - suf, &o);
	for (size_t i = 0; i < suf; i++)
		diff_push(&o, '=');
	if (pre + suf < a.n || pre + suf < b.n) {
		char *h = xasprintf("--- %s\n+++ %s\n", oldname, newname);

		diff_emit(&d, h, strlen(h));
		free(h);
		diff_hunks(&d, &o, &a, &b);
	}
	if (d.cut)
		memcpy(d.buf + d.len, "[diff cut]\n", 12), d.len += 11;
	d.buf[d.len] = '\0';
	free(o.op);
	free(a.s);
	free(a.len);
	free(b.s);
	free(b.len);
	if (d.len == 0) {
		free(d.buf);
		return NULL;
	}
	return d.buf;
}
