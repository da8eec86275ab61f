/* The syslog sink, for fleets that collect logs with rsyslog: each
 * alert becomes one RFC 5424 message (app-name fimguard, msgid the
 * event's action, the key fields as structured data, the ECS JSON as
 * the message) sent to
 *
 *   relp://host:port   RELP, rsyslog's acknowledged protocol: an entry
 *                      leaves the spool only after the receiver's
 *                      "200 OK" for exactly that frame;
 *   tcp://host:port    RFC 6587 octet counting;
 *   tls://host:port    the same inside TLS (RFC 5425), the server's
 *                      certificate and name always verified;
 *   unix:///dev/log    the local daemon, one datagram per message.
 *
 * RELP is spoken here rather than through librelp: librelp's client
 * confirms no single message (relpCltSendSyslog returns once the frame
 * is queued, and unacknowledged frames live only in its memory), so the
 * spool could not know which events the receiver has. The protocol is
 * small: "TXNR COMMAND LEN DATA\n" frames, one "rsp" per frame, in
 * order.
 *
 * One connection is kept open between alerts (the alerter worker is a
 * single thread); any error closes it and the alert is retried with
 * the spool's backoff. Runs in the alerter: no capabilities, its
 * seccomp filter; the CA file was read at start as root. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "alert/sink.h"
#include "alert/sink_syslog.h"

#define SYSLOG_SDID	"fimguard@32473"	/* RFC 5612's example PEN */
#define SYSLOG_RSP_MAX	4096			/* a RELP answer we read */
#define SYSLOG_DEVLOG	"/dev/log"

enum { T_RELP, T_TCP, T_TLS, T_UNIX };

/* The connection kept between alerts. */
static struct syslog_conn {
	int	 fd;
	int	 open;
	char	*url;		/* what it is connected to */
	SSL_CTX	*ctx;
	SSL	*ssl;
	unsigned long txnr;	/* RELP: last frame number used */
} conn = { .fd = -1 };

struct syslog_url {
	int	 t;
	char	 host[256];
	char	 port[8];
	char	 path[108];	/* unix: sun_path */
};

/* ---------------------------------------------------------------- */
/* RFC 5424 */

/* critical 2 (crit), high 3 (err), medium 4 (warning), low 5 (notice);
 * events without a severity (approvals) 6 (info). */
static int
syslog_severity(json_object *ev)
{
	static const char *names[] = { "critical", "high", "medium", "low" };
	const char *s = sink_field(ev, "fimguard.severity");

	for (int i = 0; s != NULL && i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return 2 + i;
	return 6;
}

/* A header field: printable US-ASCII without blanks, at most max
 * bytes (RFC 5424 section 6.2), else the nil value "-". */
static void
syslog_put_token(FILE *m, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	for (size_t i = 0; i < n; i++)
		if (s[i] < 33 || s[i] > 126)
			n = 0;
	if (n == 0 || n > max)
		fputc('-', m);
	else
		fputs(s, m);
	fputc(' ', m);
}

/* An SD-PARAM value: '"', '\' and ']' escaped with '\' (section
 * 6.3.3); control bytes become blanks so that no receiver that splits
 * on newlines cuts the message. */
static void
syslog_put_param(FILE *m, const char *name, const char *v)
{
	if (v == NULL)
		return;
	fprintf(m, " %s=\"", name);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\' || *v == ']')
			fputc('\\', m);
		fputc((unsigned char)*v < 0x20 || *v == 0x7f ? ' ' : *v, m);
	}
	fputc('"', m);
}

static void
syslog_put_sd(FILE *m, json_object *ev)
{
	static const char *keys[][2] = {
		{ "action", "event.action" }, { "outcome", "event.outcome" },
		{ "path", "file.path" }, { "rule", "rule.name" },
		{ "severity", "fimguard.severity" }, { "mode", "fimguard.mode" },
		{ "decision", "fimguard.decision" },
		{ "sha256", "file.hash.sha256" },
		{ "baseline_sha256", "fimguard.baseline.sha256" },
		{ "exe", "process.executable" }, { "pid", "process.pid" },
		{ "uid", "user.id" }, { "auid", "user.audit.id" },
		/* one message for many occurrences (a digest's item, or
		 * repeated denials): how many */
		{ "count", "fimguard.repeat.count" },
	};

	fputs("[" SYSLOG_SDID, m);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		syslog_put_param(m, keys[i][0], sink_field(ev, keys[i][1]));
	fputc(']', m);
}

/* "<PRI>1 TIMESTAMP HOST fimguard - MSGID [SD] JSON". The event's diff
 * goes first when the message would be longer than max (a receiver
 * cuts or refuses longer ones: rsyslog's default is 8 KiB); NULL if it
 * is too long even then. The caller frees. */
char *
sink_syslog_format(json_object *event, const char *host, int facility,
    size_t max)
{
	json_object *ev = NULL, *fg;
	char *out = NULL;
	size_t len = 0;
	FILE *m;

	if (json_object_deep_copy(event, &ev, NULL) != 0)
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		free(out);
		out = NULL;
		if ((m = open_memstream(&out, &len)) == NULL)
			break;
		fprintf(m, "<%d>1 ", facility * 8 + syslog_severity(ev));
		syslog_put_token(m, sink_field(ev, "@timestamp"), 32);
		syslog_put_token(m, sink_field(ev, "host.hostname") ?: host,
		    255);
		fputs("fimguard - ", m);
		syslog_put_token(m, sink_field(ev, "event.action"), 32);
		syslog_put_sd(m, ev);
		fprintf(m, " %s", json_object_to_json_string_ext(ev,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		fclose(m);
		if (max == 0 || len <= max || !json_object_object_get_ex(ev,
		    "fimguard", &fg) || !json_object_object_get_ex(fg, "diff",
		    NULL))
			break;
		json_object_object_del(fg, "diff");
	}
	json_object_put(ev);
	if (out != NULL && max > 0 && len > max) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---------------------------------------------------------------- */
/* connections */

/* scheme://host:port, [v6]:port, unix:///path (unix:// alone is
 * /dev/log). The config check allowed only these schemes. */
static int
syslog_parse(const char *url, struct syslog_url *u)
{
	static const char *schemes[] = { "relp://", "tcp://", "tls://",
	    "unix://" };
	const char *p = NULL, *colon;
	size_t hl;

	memset(u, 0, sizeof(*u));
	for (u->t = 0; u->t < 4; u->t++)
		if (strncmp(url, schemes[u->t], strlen(schemes[u->t])) == 0) {
			p = url + strlen(schemes[u->t]);
			break;
		}
	if (p == NULL)
		return -1;
	if (u->t == T_UNIX) {
		snprintf(u->path, sizeof(u->path), "%s", *p ? p : SYSLOG_DEVLOG);
		return *u->path == '/' && strlen(p) < sizeof(u->path) ? 0 : -1;
	}
	if (*p == '[') {
		colon = strchr(p, ']');
		if (colon == NULL || colon[1] != ':')
			return -1;
		hl = (size_t)(colon - p - 1);
		p++;
		colon++;
	} else {
		colon = strrchr(p, ':');
		hl = colon ? (size_t)(colon - p) : 0;
	}
	if (colon == NULL || hl == 0 || hl >= sizeof(u->host) ||
	    strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(u->port) ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	memcpy(u->host, p, hl);
	snprintf(u->port, sizeof(u->port), "%s", colon + 1);
	return 0;
}

static void
syslog_close(void)
{
	if (conn.ssl != NULL) {
		SSL_shutdown(conn.ssl);
		SSL_free(conn.ssl);
	}
	if (conn.ctx != NULL)
		SSL_CTX_free(conn.ctx);
	if (conn.fd >= 0)
		close(conn.fd);
	free(conn.url);
	memset(&conn, 0, sizeof(conn));
	conn.fd = -1;
}

static void
syslog_timeouts(int fd, long secs)
{
	struct timeval tv = { secs > 0 ? secs : 30, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* connect(2) within the timeout: a black-holed address must not hold
 * the alerter for the kernel's two minutes. */
static int
syslog_connect_one(const struct addrinfo *ai, long secs)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol), err = 0;
	struct pollfd p = { fd, POLLOUT, 0 };
	socklen_t el = sizeof(err);

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    (errno != EINPROGRESS || poll(&p, 1, (int)(secs > 0 ? secs : 30) *
	    1000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
	    &el) < 0 || err != 0)) {
		close(fd);
		if (err != 0)
			errno = err;
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	syslog_timeouts(fd, secs);
	return fd;
}

static int
syslog_connect_inet(const struct syslog_url *u, long secs,
    struct sink_result *r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int e, fd = -1;

	if ((e = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
		sink_fail(r, SINK_RETRY, 0, "syslog: %s: %s", u->host,
		    gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = syslog_connect_one(ai, secs);
	freeaddrinfo(res);
	if (fd < 0)
		sink_fail(r, SINK_RETRY, 0, "syslog: connect to %s port %s: %s",
		    u->host, u->port, strerror(errno));
	return fd;
}

static int
syslog_connect_unix(const struct syslog_url *u, struct sink_result *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", u->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		sink_fail(r, SINK_RETRY, 0, "syslog: %s: %s", u->path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	syslog_timeouts(fd, 5);
	return fd;
}

/* The CA file's certificates, or the system's when none is given. */
static int
syslog_tls_ca(SSL_CTX *ctx, const struct sink_conf *c)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	BIO *b;
	X509 *x;
	int n = 0;

	if (c->ca_blob == NULL)
		return SSL_CTX_set_default_verify_paths(ctx) == 1 ? 0 : -1;
	if ((b = BIO_new_mem_buf(c->ca_blob, (int)c->ca_len)) == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		n += X509_STORE_add_cert(st, x) == 1;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(b);
	return n > 0 ? 0 : -1;
}

/* The name the certificate must carry: an IP address (SAN IP) for an
 * address, else a DNS name, which also goes out as SNI. */
static int
syslog_tls_name(const struct syslog_url *u)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, u->host, a) == 1 ||
	    inet_pton(AF_INET6, u->host, a) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(conn.ssl),
		    u->host) == 1 ? 0 : -1;
	return SSL_set1_host(conn.ssl, u->host) == 1 &&
	    SSL_set_tlsext_host_name(conn.ssl, u->host) == 1 ? 0 : -1;
}

/* TLS 1.2 or later; the certificate must chain to the CA and name the
 * host (SAN DNS name or IP address). There is no way to turn it off. */
static int
syslog_tls(const struct sink_conf *c, const struct syslog_url *u,
    struct sink_result *r)
{
	char why[160];
	long v;

	if ((conn.ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(conn.ctx, TLS1_2_VERSION) != 1 ||
	    syslog_tls_ca(conn.ctx, c) < 0) {
		sink_fail(r, SINK_PERMANENT, 0, "syslog: no usable CA "
		    "certificate");
		return -1;
	}
	SSL_CTX_set_verify(conn.ctx, SSL_VERIFY_PEER, NULL);
	if ((conn.ssl = SSL_new(conn.ctx)) == NULL ||
	    SSL_set_fd(conn.ssl, conn.fd) != 1 || syslog_tls_name(u) < 0) {
		sink_fail(r, SINK_RETRY, 0, "syslog: cannot set up TLS");
		return -1;
	}
	if (SSL_connect(conn.ssl) == 1)
		return 0;
	if ((v = SSL_get_verify_result(conn.ssl)) != X509_V_OK) {
		sink_fail(r, SINK_PERMANENT, 0, "syslog: %s port %s: "
		    "certificate not trusted: %s", u->host, u->port,
		    X509_verify_cert_error_string(v));
		return -1;
	}
	ERR_error_string_n(ERR_get_error(), why, sizeof(why));
	sink_fail(r, SINK_RETRY, 0, "syslog: TLS with %s port %s: %s",
	    u->host, u->port, why);
	return -1;
}

/* ---------------------------------------------------------------- */
/* I/O on the connection */

static int
syslog_write(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = conn.ssl ? SSL_write(conn.ssl, p, (int)n) :
		    send(conn.fd, p, n, MSG_NOSIGNAL);

		if (w <= 0) {
			if (w < 0 && errno == EINTR && conn.ssl == NULL)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t
syslog_read(char *p, size_t n)
{
	ssize_t r;

	do
		r = read(conn.fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

/* A TLS 1.3 server sends session tickets after the handshake: records
 * with no data for us. Read them without waiting; 1 if the connection
 * is still good (nothing but such records), 0 if it was closed. */
static int
syslog_tls_pending(void)
{
	int fl = fcntl(conn.fd, F_GETFL), alive, n;
	char c;

	fcntl(conn.fd, F_SETFL, fl | O_NONBLOCK);
	n = SSL_read(conn.ssl, &c, 1);
	alive = n <= 0 && SSL_get_error(conn.ssl, n) == SSL_ERROR_WANT_READ;
	fcntl(conn.fd, F_SETFL, fl);
	ERR_clear_error();
	return alive;
}

/* Before reuse: a receiver that restarted left us a closed connection
 * (plain TCP and TLS receivers never send; RELP's may say
 * "serverclose"). Anything readable means: start over. */
static int
syslog_alive(void)
{
	struct pollfd p = { conn.fd, POLLIN | POLLRDHUP, 0 };

	if (poll(&p, 1, 0) == 0)
		return 1;
	return conn.ssl != NULL && !(p.revents & (POLLRDHUP | POLLHUP)) &&
	    syslog_tls_pending();
}

/* One RELP answer, "TXNR rsp LEN CODE TEXT[\n...]\n". Returns its
 * code, or -1 (broken, timed out, serverclose, another frame). */
static int
syslog_relp_rsp(unsigned long want)
{
	char buf[SYSLOG_RSP_MAX + 1];
	size_t have = 0;
	unsigned long txnr, dlen;
	int used = 0, code;

	for (;;) {
		ssize_t n = syslog_read(buf + have, SYSLOG_RSP_MAX - have);
		char cmd[16];

		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if (sscanf(buf, "%lu %15s %lu %n", &txnr, cmd, &dlen,
		    &used) < 3 || (used == 0 && dlen > 0))
			continue;	/* header incomplete */
		if (strcmp(cmd, "rsp") != 0 || txnr != want ||
		    dlen > SYSLOG_RSP_MAX)
			return -1;
		if (have < (size_t)used + dlen + (dlen ? 1 : 0))
			continue;
		return sscanf(buf + used, "%3d", &code) == 1 ? code : -1;
	}
}

static int
syslog_relp_frame(const char *cmd, const char *data, size_t len)
{
	char head[64];
	int hl;

	conn.txnr = conn.txnr >= 999999999 ? 1 : conn.txnr + 1;
	hl = snprintf(head, sizeof(head), "%lu %s %zu%s", conn.txnr, cmd, len,
	    len ? " " : "");
	if (syslog_write(head, (size_t)hl) < 0 ||
	    (len && syslog_write(data, len) < 0) || syslog_write("\n", 1) < 0)
		return -1;
	return syslog_relp_rsp(conn.txnr);
}

static int
syslog_relp_open(struct sink_result *r)
{
	static const char offers[] = "relp_version=0\nrelp_software=fimguard"
	    "\ncommands=syslog";

	conn.txnr = 0;
	if (syslog_relp_frame("open", offers, sizeof(offers) - 1) != 200) {
		sink_fail(r, SINK_RETRY, 0, "syslog: the RELP server did not "
		    "accept the session");
		return -1;
	}
	return 0;
}

static int
syslog_open(const struct sink_conf *c, struct sink_result *r)
{
	struct syslog_url u;

	if (conn.open && strcmp(conn.url, c->url) == 0 && syslog_alive())
		return 0;
	syslog_close();
	if (syslog_parse(c->url, &u) < 0) {
		sink_fail(r, SINK_PERMANENT, 0, "syslog: bad url");
		return -1;
	}
	conn.fd = u.t == T_UNIX ? syslog_connect_unix(&u, r) :
	    syslog_connect_inet(&u, c->timeout_s, r);
	if (conn.fd < 0 || (u.t == T_TLS && syslog_tls(c, &u, r) < 0) ||
	    (u.t == T_RELP && syslog_relp_open(r) < 0)) {
		syslog_close();
		return -1;
	}
	conn.url = xstrdup(c->url);
	conn.open = 1;
	return 0;
}

/* One message over the open connection: 0 when the receiver has it
 * (RELP: acknowledged; others: written). */
static int
syslog_send_one(const struct sink_conf *c, const char *msg,
    struct sink_result *r)
{
	struct syslog_url u;
	char head[32];
	int code;

	syslog_parse(c->url, &u);
	if (u.t == T_UNIX) {
		if (send(conn.fd, msg, strlen(msg), MSG_NOSIGNAL) >= 0)
			return 0;
		sink_fail(r, SINK_RETRY, 0, "syslog: %s: %s", u.path,
		    strerror(errno));
		return -1;
	}
	if (u.t == T_RELP) {
		if ((code = syslog_relp_frame("syslog", msg, strlen(msg))) ==
		    200)
			return 0;
		if (code > 0)
			sink_fail(r, SINK_RETRY, code, "syslog: the RELP "
			    "receiver answered %d", code);
		else
			sink_fail(r, SINK_RETRY, 0, "syslog: no RELP "
			    "acknowledgement from %s port %s", u.host, u.port);
		return -1;
	}
	snprintf(head, sizeof(head), "%zu ", strlen(msg));
	if (syslog_write(head, strlen(head)) == 0 &&
	    syslog_write(msg, strlen(msg)) == 0)
		return 0;
	sink_fail(r, SINK_RETRY, 0, "syslog: connection to %s port %s broken",
	    u.host, u.port);
	return -1;
}

static int
syslog_one(const struct sink_conf *c, const struct alert *a, json_object *ev,
    struct sink_result *r)
{
	char *msg = sink_syslog_format(ev, a->host, c->facility, c->max_size);
	int ret;

	if (msg == NULL) {
		sink_fail(r, SINK_PERMANENT, 0, "syslog: event longer than "
		    "max_size = %zu even without its diff", c->max_size);
		return -1;
	}
	if (syslog_open(c, r) < 0) {
		free(msg);
		return -1;
	}
	if ((ret = syslog_send_one(c, msg, r)) < 0)
		syslog_close();
	free(msg);
	return ret;
}

/* A digest (more alerts than the rate lets through) is sent as its
 * events, one message each: a log stream wants every event. */
void
sink_syslog_send(const struct sink_conf *c, const struct alert *a,
    struct sink_result *r)
{
	if (a->ndigest == 0 || a->items == NULL) {
		syslog_one(c, a, a->event, r);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(a->items); i++)
		if (syslog_one(c, a, json_object_array_get_idx(a->items, i),
		    r) < 0)
			return;
}
