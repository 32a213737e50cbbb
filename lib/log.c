/*
 * Logging to syslog or, in the foreground, to stderr.
 *
 * Roles open syslog with LOG_NDELAY before they chroot, so the socket to
 * /dev/log stays usable afterwards.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int	 log_foreground = 1;
static int	 log_verbose;
static char	 log_role[32] = "osmsd";

void
log_init(int foreground, int facility)
{
	log_foreground = foreground;
	if (!foreground)
		openlog("osmsd", LOG_PID | LOG_NDELAY, facility);
	tzset();
}

void
log_procinit(const char *role)
{
	(void)osms_strlcpy(log_role, role, sizeof(log_role));
}

const char *
log_procname(void)
{
	return log_role;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
log_line(int pri, char *msg)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 stamp[32] = "";
	size_t		 i;

	/* A log entry is one line: control bytes from peers are masked. */
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	if (!log_foreground) {
		syslog(pri, "%s: %s", log_role, msg);
		return;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0 &&
	    localtime_r(&ts.tv_sec, &tm) != NULL)
		(void)strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	(void)fprintf(stderr, "%s %s[%d]: %s\n", stamp, log_role,
	    (int)getpid(), msg);
	(void)fflush(stderr);
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 msg[2048];
	int	 saved = errno;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	log_line(pri, msg);
	errno = saved;
}

/* Log "fmt: strerror(err)". */
static void
vlog_err(int pri, int err, const char *fmt, va_list ap)
{
	char	 msg[2048];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	(void)osms_strlcat(msg, ": ", sizeof(msg));
	(void)osms_strlcat(msg, strerror(err), sizeof(msg));
	log_line(pri, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog_err(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
log_trace(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < LOG_TRACE)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog_err(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
