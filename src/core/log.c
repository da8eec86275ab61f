/* Logging to stderr. Kept deliberately simple: one line per message,
 * no allocation, so it is usable from signal-free worker threads too.
 * Messages name files, and a file name may hold a newline or a
 * terminal escape: every line is escaped here, once for all callers,
 * so no name can forge a log line or drive the reader's terminal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"

static const char *log_tag = "fimguard";
static int log_verbose;

void
log_init(const char *tag, int verbose)
{
	log_tag = tag;
	log_verbose = verbose;
}

/* Format into one buffer and write it with a single call, so lines from
 * the two hashing threads do not interleave. */
static void
log_emit(const char *prefix, int errnum, const char *fmt, va_list ap)
{
	char buf[2048], out[4 * sizeof(buf)];
	int n;

	n = snprintf(buf, sizeof(buf), "%s: %s", log_tag, prefix);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (errnum != 0) {
		size_t len = strlen(buf);
		snprintf(buf + len, sizeof(buf) - len, ": %s",
		    strerror(errnum));
	}
	util_escape_to(buf, out, sizeof(out));
	fprintf(stderr, "%s\n", out);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit("", saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("", 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_emit("", 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	log_emit("debug: ", 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal: ", saved, fmt, ap);
	va_end(ap);
	exit(2);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(2);
}
