/* The mail sink: one RFC 5322 message per alert, handed to libcurl's
 * SMTP client over TLS (STARTTLS or smtps). Everything that becomes a
 * header or an envelope address is checked here, at the sink's edge,
 * before a connection is opened: a CR or LF in any of them would let
 * an event forge headers or recipients (curl's smtp.c habit). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "alert/sink.h"
#include "alert/sink_smtp.h"

#define SMTP_LINE_MAX	998	/* RFC 5322 2.1.1, without CRLF */
#define SMTP_FOLD_AT	78	/* RFC 5322 "SHOULD" line length */
#define SMTP_WORD_BYTES	45	/* 60 base64 chars: a 72-char word */
#define SMTP_BODY_MAX	(1 << 20) /* a diff is capped; this too */
#define SMTP_ID_MAX	64	/* of the alert id in Message-ID */
#define SMTP_REPLY_MAX	120	/* of a server reply in the log */

/* The message as libcurl reads it. */
struct smtp_src {
	const char	*p;
	size_t		 n;
	size_t		 off;
};

/* Fixed English names: strftime's %a and %b follow the locale, and RFC
 * 5322 wants these exact words. */
static const char *smtp_days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	"Fri", "Sat" };
static const char *smtp_months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* NULL if the address is a plain addr-spec we can put both in the
 * envelope and in a header unquoted; else why not. Non-ASCII is
 * refused too: it would need SMTPUTF8, which the server may lack. */
static const char *
smtp_addr_problem(const char *s)
{
	const char *at;

	if (s == NULL || *s == '\0')
		return "is empty";
	if (!sink_clean_header(s))
		return "contains a control character";
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80 || strchr("<>,;:\"()\\ \t",
		    *p) != NULL)
			return "contains a character not allowed in an "
			    "address";
	at = strrchr(s, '@');
	if (at == NULL || at == s || at[1] == '\0')
		return "is not of the form user@domain";
	return NULL;
}

/* Everything that reaches a header or the envelope, checked before any
 * connection: a bad value is a configuration error, not worth retrying. */
static int
smtp_check(const struct sink_conf *c, const struct alert *a,
    struct sink_result *r)
{
	const char *why;

	if ((why = smtp_addr_problem(c->from)) != NULL) {
		sink_fail(r, SINK_PERMANENT, 0, "smtp: from address %s", why);
		return -1;
	}
	if (c->to.n == 0) {
		sink_fail(r, SINK_PERMANENT, 0, "smtp: no recipient");
		return -1;
	}
	for (size_t i = 0; i < c->to.n; i++)
		if ((why = smtp_addr_problem(c->to.v[i])) != NULL) {
			sink_fail(r, SINK_PERMANENT, 0, "smtp: recipient %zu "
			    "%s", i + 1, why);
			return -1;
		}
	if (!sink_clean_header(a->dedup) || !sink_clean_header(a->id)) {
		sink_fail(r, SINK_PERMANENT, 0, "smtp: alert id or dedup "
		    "label contains a control character");
		return -1;
	}
	if (c->user != NULL && (c->secret == NULL ||
	    !sink_clean_header(c->user))) {
		sink_fail(r, SINK_PERMANENT, 0, "smtp: user is set but the "
		    "password is missing or the user name is not clean");
		return -1;
	}
	return 0;
}

/* The URL names only where to connect: credentials in it would end up
 * in our log lines, so they are refused (they go in USERNAME and
 * PASSWORD). Returns 1 for smtps, 0 for smtp, -1 on error. */
static int
smtp_check_url(const char *url, struct sink_result *r)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *user = NULL, *pass = NULL;
	int ret = -1;

	if (u == NULL || url == NULL || curl_url_set(u, CURLUPART_URL, url,
	    0) != CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &scheme,
	    0) != CURLUE_OK)
		sink_fail(r, SINK_PERMANENT, 0, "smtp: malformed url");
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)
		sink_fail(r, SINK_PERMANENT, 0, "smtp: credentials in the url "
		    "(use user and password_env or password_file)");
	else if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0)
		sink_fail(r, SINK_PERMANENT, 0, "smtp: url scheme must be "
		    "smtp or smtps");
	else
		ret = strcmp(scheme, "smtps") == 0;
	curl_free(scheme);
	curl_free(user);
	curl_free(pass);
	curl_url_cleanup(u);
	return ret;
}

/* UTC, so that neither the locale nor a time zone file (which the
 * sandboxed alerter may not be able to open) changes the header. */
static void
smtp_date(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    smtp_days[tm.tm_wday % 7], tm.tm_mday, smtp_months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Uniqueness only, not secrecy: getrandom, else /dev/urandom, else the
 * clock and pid (a Message-ID must still be produced). */
static void
smtp_random_hex(char out[17])
{
	uint8_t b[8];
	int fd;

	if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b)) {
		uint64_t v = util_now_ms() ^ ((uint64_t)getpid() << 40);

		memcpy(b, &v, sizeof(b));
		if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) >= 0) {
			if (read(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
				memcpy(b, &v, sizeof(b));
			close(fd);
		}
	}
	util_hex(b, sizeof(b), out);
}

/* Only [A-Za-z0-9.-], no leading, trailing or doubled dot, so that the
 * Message-ID halves stay dot-atoms whatever the spool name or host. */
static void
smtp_atom(const char *in, char *out, size_t len, const char *dflt)
{
	size_t n = 0;

	for (; in != NULL && *in != '\0' && n + 1 < len; in++) {
		char ch = *in;

		if (ch == '.' && (n == 0 || out[n - 1] == '.' || in[1] == '\0'))
			ch = '-';
		else if (ch != '.' && ch != '-' && !((ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
			ch = '-';
		out[n++] = ch;
	}
	if (n > 0 && out[n - 1] == '.')
		out[n - 1] = '-';	/* cut right after a dot */
	out[n] = '\0';
	if (n == 0)
		snprintf(out, len, "%s", dflt);
}

/* "To:" folded after a comma before a line grows past 78. */
static void
smtp_to_header(FILE *f, const struct strlist *to)
{
	size_t col = 3;

	fputs("To:", f);
	for (size_t i = 0; i < to->n; i++) {
		size_t w = strlen(to->v[i]) + (i + 1 < to->n);

		if (i > 0 && col + 1 + w > SMTP_FOLD_AT) {
			fputs("\r\n", f);
			col = 0;
		}
		fprintf(f, " %s%s", to->v[i], i + 1 < to->n ? "," : "");
		col += 1 + w;
	}
	fputs("\r\n", f);
}

/* RFC 2047 B words of whole UTF-8 characters (45 bytes: 60 base64
 * chars, 72 with the wrapper, under the 75 limit), one per line. */
static void
smtp_subject(FILE *f, const char *summary)
{
	char *s = util_utf8_lossy(summary);
	size_t n = strlen(s), off = 0;
	int ascii = 1;

	for (size_t i = 0; i < n; i++)
		ascii &= (unsigned char)s[i] < 0x80;
	if (ascii) {
		fprintf(f, "Subject: %s\r\n", s);
		free(s);
		return;
	}
	fputs("Subject:", f);
	while (off < n) {
		size_t k = n - off;
		char *b64;

		if (k > SMTP_WORD_BYTES)
			k = SMTP_WORD_BYTES;
		/* never split a character between two words */
		while (off + k < n && ((unsigned char)s[off + k] & 0xc0) ==
		    0x80)
			k--;
		b64 = util_b64_encode((const uint8_t *)s + off, k);
		fprintf(f, "%s=?UTF-8?B?%s?=", off > 0 ? "\r\n " : " ", b64);
		free(b64);
		off += k;
	}
	fputs("\r\n", f);
	free(s);
}

/* Length of the UTF-8 sequence a lead byte starts (the text is valid
 * UTF-8 by now). */
static size_t
smtp_seqlen(unsigned char ch)
{
	return ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc0 ? 2 : 1;
}

/* Every line end (LF, CR, CRLF) becomes CRLF and lines are cut before
 * 998 octets, on a character boundary. No dot-stuffing: libcurl does it
 * for uploads (CRLF "." becomes CRLF ".."), doing it here would double
 * every leading dot. */
static void
smtp_body(FILE *f, const char *text)
{
	char *s = util_utf8_lossy(text);
	size_t col = 0, out = 0;

	for (const char *p = s; *p != '\0' && out < SMTP_BODY_MAX; p++) {
		if (*p == '\r' || *p == '\n') {
			if (*p == '\r' && p[1] == '\n')
				p++;
			fputs("\r\n", f);
			col = 0;
			out += 2;
			continue;
		}
		if (((unsigned char)*p & 0xc0) != 0x80 &&
		    col + smtp_seqlen((unsigned char)*p) > SMTP_LINE_MAX) {
			fputs("\r\n", f);
			col = 0;
		}
		fputc(*p, f);
		col++;
		out++;
	}
	if (out >= SMTP_BODY_MAX)
		fputs("\r\n[alert text truncated]\r\n", f);
	else if (col > 0)
		fputs("\r\n", f);
	free(s);
}

static void
smtp_headers(FILE *f, const struct sink_conf *c, const struct alert *a)
{
	char date[64], id[SMTP_ID_MAX + 1], host[256], rnd[17], *subj;

	smtp_date(date, sizeof(date));
	smtp_atom(a->id, id, sizeof(id), "alert");
	smtp_atom(a->host, host, sizeof(host), "localhost");
	smtp_random_hex(rnd);
	subj = sink_summary(a);
	fprintf(f, "Date: %s\r\nFrom: %s\r\n", date, c->from);
	smtp_to_header(f, &c->to);
	smtp_subject(f, subj);
	fprintf(f, "Message-ID: <fimguard.%s.%s@%s>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "X-Fimguard-Dedup: %s\r\n\r\n", id, rnd, host, a->dedup);
	free(subj);
}

/* The whole message, CRLF line ends, ready for DATA. */
static char *
smtp_message(const struct sink_conf *c, const struct alert *a, size_t *len)
{
	char *m = NULL, *text;
	FILE *f = open_memstream(&m, len);

	if (f == NULL)
		return NULL;
	smtp_headers(f, c, a);
	text = sink_text(a, 1);
	smtp_body(f, text);
	free(text);
	if (fclose(f) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

static size_t
smtp_read_cb(char *buf, size_t sz, size_t nm, void *arg)
{
	struct smtp_src *s = arg;
	size_t n = sz * nm;

	if (n > s->n - s->off)
		n = s->n - s->off;
	memcpy(buf, s->p + s->off, n);
	s->off += n;
	return n;
}

/* Keeps the server's last 4xx/5xx reply line ("550 5.1.1 no such
 * user") for the log; libcurl's own message has only the code, and the
 * QUIT that follows a failure answers 221. Only what the server sent:
 * our own lines carry AUTH. */
static int
smtp_debug_cb(CURL *h, curl_infotype type, char *d, size_t n, void *arg)
{
	char *last = arg;
	size_t k = 0;

	(void)h;
	if (type != CURLINFO_HEADER_IN || n == 0 || (d[0] != '4' &&
	    d[0] != '5'))
		return 0;
	for (size_t i = 0; i < n && k < SMTP_REPLY_MAX; i++)
		if (d[i] == '\r' || d[i] == '\n')
			break;
		else
			last[k++] = (unsigned char)d[i] < 0x20 ||
			    (unsigned char)d[i] >= 0x7f ? '?' : d[i];
	last[k] = '\0';
	return 0;
}

static struct curl_slist *
smtp_rcpts(const struct strlist *to)
{
	struct curl_slist *l = NULL, *t;

	for (size_t i = 0; i < to->n; i++) {
		char *s = xasprintf("<%s>", to->v[i]);

		t = curl_slist_append(l, s);
		free(s);
		if (t == NULL) {
			curl_slist_free_all(l);
			return NULL;
		}
		l = t;
	}
	return l;
}

static int
smtp_tls_verify_failed(CURLcode rc)
{
	return rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM ||
	    rc == CURLE_SSL_ISSUER_ERROR ||
	    rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	    rc == CURLE_SSL_INVALIDCERTSTATUS;
}

/* The SMTP code decides when there is one: 4xx try later, 5xx keep
 * (454 to STARTTLS is "TLS not available now"). Without one, TLS policy
 * and verification failures are kept (retrying will not change them),
 * everything else (connect, timeout, reset) is retried. */
static void
smtp_classify(CURLcode rc, long code, const char *err, const char *reply,
    struct sink_result *r)
{
	const char *what = err[0] != '\0' ? err : curl_easy_strerror(rc);

	if (rc == CURLE_OK)
		sink_fail(r, SINK_OK, code, "smtp: accepted (%ld)", code);
	else if (rc == CURLE_USE_SSL_FAILED && code >= 400)
		sink_fail(r, code >= 500 ? SINK_PERMANENT : SINK_RETRY, code,
		    "smtp: server refused STARTTLS: %s", reply);
	else if (rc == CURLE_USE_SSL_FAILED)
		sink_fail(r, SINK_PERMANENT, code, "smtp: server does not "
		    "offer STARTTLS");
	else if (smtp_tls_verify_failed(rc))
		sink_fail(r, SINK_PERMANENT, code, "smtp: TLS verification "
		    "failed: %s", what);
	else if (code >= 400 && code < 600)
		sink_fail(r, code >= 500 ? SINK_PERMANENT : SINK_RETRY, code,
		    "smtp: %s (server: %s)", what, reply);
	else
		sink_fail(r, rc == CURLE_LOGIN_DENIED ||
		    rc == CURLE_UNSUPPORTED_PROTOCOL ||
		    rc == CURLE_URL_MALFORMAT ? SINK_PERMANENT : SINK_RETRY,
		    code, "smtp: %s", what);
}

/* Envelope, TLS policy and credentials on a handle from sink_curl. A
 * password never crosses the network in clear: with a user set, TLS is
 * required even when starttls = no (CURLUSESSL_TRY would fall back to
 * sending AUTH unencrypted to a server that does not offer STARTTLS). */
static void
smtp_setup(CURL *h, const struct sink_conf *c, int smtps,
    struct curl_slist *rcpt, char *mail_from)
{
	long tls = smtps || c->starttls == 1 || c->user != NULL ?
	    (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY;

	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_USE_SSL, tls);
	if (c->user != NULL) {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret);
	}
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
}

static void
smtp_perform(CURL *h, struct smtp_src *src, struct sink_result *r)
{
	char err[CURL_ERROR_SIZE] = "", reply[SMTP_REPLY_MAX + 1] = "";
	long code = 0;
	CURLcode rc;

	curl_easy_setopt(h, CURLOPT_READFUNCTION, smtp_read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, src);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)src->n);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	/* VERBOSE only feeds the callback; nothing goes to stderr */
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, smtp_debug_cb);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, reply);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	smtp_classify(rc, code, err, reply, r);
	/* the callback's buffers die with this frame */
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, NULL);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
}

void
sink_smtp_send(const struct sink_conf *c, const struct alert *a,
    struct sink_result *r)
{
	struct smtp_src src = { NULL, 0, 0 };
	struct curl_slist *rcpt = NULL;
	char *msg, *from = NULL;
	CURL *h = NULL;
	int smtps;

	if ((smtps = smtp_check_url(c->url, r)) < 0 || smtp_check(c, a, r) < 0)
		return;
	if ((msg = smtp_message(c, a, &src.n)) == NULL) {
		sink_fail(r, SINK_RETRY, 0, "smtp: cannot build the message");
		return;
	}
	src.p = msg;
	from = xasprintf("<%s>", c->from);
	if ((rcpt = smtp_rcpts(&c->to)) == NULL || (h = sink_curl(c)) == NULL)
		sink_fail(r, SINK_RETRY, 0, "smtp: cannot set up libcurl");
	else {
		smtp_setup(h, c, smtps, rcpt, from);
		smtp_perform(h, &src, r);
		curl_easy_cleanup(h);	/* QUIT, after the code was read */
	}
	curl_slist_free_all(rcpt);
	free(from);
	free(msg);
}
