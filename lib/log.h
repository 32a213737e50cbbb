/*
 * Logging to syslog or, in the foreground, to stderr.
 * Every line carries the role; events are "<what> key=value ...".
 */
#ifndef OSMS_LOG_H
#define OSMS_LOG_H

#include <stdarg.h>

#define LOG_BRIEF	0
#define LOG_VERBOSE	1	/* log_debug() lines */
#define LOG_TRACE	2	/* protocol traces */

void	 log_init(int foreground, int facility);
void	 log_procinit(const char *role);
const char *log_procname(void);
void	 log_setverbose(int);
int	 log_getverbose(void);

void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_trace(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 vlog(int priority, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

/* For what cannot happen, for start-up failures, and for malformed
 * messages between roles. Never for anything a client sends. */
_Noreturn void fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
_Noreturn void fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
