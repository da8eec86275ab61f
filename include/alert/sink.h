/* Alert sinks: Jira, SMTP, webhook. They run only in the alerter
 * process (no capabilities, unprivileged user, seccomp), all network
 * I/O through libcurl, every JSON body through json-c. */
#ifndef FIMGUARD_SINK_H
#define FIMGUARD_SINK_H

#include <curl/curl.h>
#include <json-c/json.h>
#include <stddef.h>

#include "core/util.h"

enum sink_kind { SINK_JIRA, SINK_SMTP, SINK_WEBHOOK, SINK_SYSLOG,
	SINK_NKINDS };

enum sink_outcome {
	SINK_OK,		/* confirmed: 2xx, SMTP 250 */
	SINK_RETRY,		/* network, 429, 5xx, SMTP 4xx: try later */
	SINK_PERMANENT,		/* 400, 401, 403, 404, SMTP 5xx: kept */
};

/* One configured sink as the alerter holds it. */
struct sink_conf {
	int		 kind;
	char		*url;
	char		*secret;	/* token or password; never logged */
	char		*ca_blob;	/* CA file content, or NULL */
	size_t		 ca_len;
	long		 timeout_s;	/* whole transfer */
	int		 rate;		/* alerts a minute, then a digest */
	/* jira */
	int		 api;		/* 3: Cloud, 2: Data Center */
	char		*project, *issue_type, *user;
	char		*priority[4];	/* by severity: low..critical */
	struct strlist	 labels;	/* extra labels */
	/* smtp */
	char		*from;
	struct strlist	 to;
	int		 starttls;	/* 1: required */
	/* syslog */
	int		 facility;	/* RFC 5424 facility number */
	size_t		 max_size;	/* the receiver's largest message */
};

/* One alert: a spooled ECS event, or a digest of several. */
struct alert {
	const char	*id;		/* spool name: stable across retries */
	json_object	*event;		/* ECS event (digest: see below) */
	const char	*host;
	char		 dedup[40];	/* "fimguard-" + 24 hex digits */
	int		 ndigest;	/* > 0: a digest of that many alerts */
	json_object	*items;		/* digest: array of their events */
	int		 overflow;	/* digest: past spool_max, not rate */
	long		 unlisted;	/* digest: alerts not in items */
};

struct sink_result {
	int		 outcome;	/* enum sink_outcome */
	long		 status;	/* HTTP status or SMTP code, 0 if none */
	long		 retry_after_s;	/* Retry-After, -1 if absent */
	char		 detail[256];	/* for the log; never a secret */
};

/* sink.c: shared by the three sinks */
const char *sink_name(int);
CURL	*sink_curl(const struct sink_conf *);
int	 sink_http(CURL *, const char *, const char *, struct curl_slist *,
	    const char *, json_object **, struct sink_result *);
void	 sink_classify_http(long, struct sink_result *);
void	 sink_fail(struct sink_result *, int, long, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
const char *sink_field(json_object *, const char *);
int	 sink_severity(const struct alert *);
const char *sink_severity_name(int);
char	*sink_summary(const struct alert *);
char	*sink_text(const struct alert *, int);
int	 sink_clean_header(const char *);
int	 sink_url_private(const char *);
void	 sink_url_origin(const char *, char *, size_t);
void	 sink_wipe(char *);
char	*sink_concat(const char *, const char *, const char *);
void	 sink_headers_free(struct curl_slist *);
void	 sink_dedup_label(const char *, json_object *, char *, size_t);
#endif
