/* One log API for every process (OpenBSD style): messages go to stderr,
 * tagged with the program and process role. Never call from the
 * fanotify permission thread: stderr may be a journald pipe. */
#ifndef FIMGUARD_LOG_H
#define FIMGUARD_LOG_H

#include <stdarg.h>

void log_init(const char *tag, int verbose);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
