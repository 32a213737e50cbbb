/*
 * Delivery status notifications (RFC 3464, RFC 3462 multipart/report).
 *
 * Everything put into the report comes from the envelope, whose strings
 * hold no control bytes (envelope.c refuses them), so no header can be
 * split by an address or an error text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "util.h"

struct out {
	int		 fd;
	uint64_t	 size;
	int		 error;
	char		 buf[8192];
	size_t		 len;
};

static void
out_flush(struct out *o)
{
	if (!o->error && write_all(o->fd, o->buf, o->len) == -1)
		o->error = errno;
	o->len = 0;
}

static void
out_write(struct out *o, const void *p, size_t len)
{
	while (len > 0 && !o->error) {
		size_t n = sizeof(o->buf) - o->len;

		if (n > len)
			n = len;
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		o->size += n;
		p = (const char *)p + n;
		len -= n;
		if (o->len == sizeof(o->buf))
			out_flush(o);
	}
}

static void
out_printf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
out_printf(struct out *o, const char *fmt, ...)
{
	char	 line[2048];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	out_write(o, line, (size_t)n);
}

static int
has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* 1 if the error is a remote server's reply: "550 5.1.1 ...". */
static int
is_smtp_reply(const char *e)
{
	return e[0] >= '2' && e[0] <= '5' && e[1] >= '0' && e[1] <= '9' &&
	    e[2] >= '0' && e[2] <= '9' && e[3] == ' ';
}

/*
 * Status code: the detail of the error text's own "4.x.y" or "5.x.y"
 * if it starts with one (after the reply code of a remote server's
 * reply), under the class of the report (5 failed, 4 delayed: a
 * temporary error that ran out of time is a failure now).
 */
static void
status_of(const char *error, char class, char *buf, size_t size)
{
	const char	*p = is_smtp_reply(error) ? error + 4 : error;
	size_t		 n;

	if ((p[0] == '5' || p[0] == '4') && p[1] == '.' &&
	    (n = 2 + strspn(p + 2, "0123456789.")) >= 5 && n < size) {
		memcpy(buf, p, n);
		buf[0] = class;
		buf[n] = '\0';
		return;
	}
	(void)osms_strlcpy(buf, class == '4' ? "4.0.0" : "5.0.0", size);
}

static void
rfc5322_date(time_t t, char *buf, size_t size)
{
	struct tm	 tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		(void)osms_strlcpy(buf, "Thu, 01 Jan 1970 00:00:00 +0000",
		    size);
}

/* Copy the original: whole, or up to the blank line after the headers. */
static int
copy_original(struct out *o, int fd, int headers_only)
{
	char	 buf[8192];
	off_t	 off = 0;
	ssize_t	 n, i;
	int	 nl = 0;

	for (;;) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		off += n;
		if (!headers_only) {
			out_write(o, buf, (size_t)n);
			continue;
		}
		for (i = 0; i < n; i++) {
			/* "\r\n\r\n" ends the header. */
			if (buf[i] == '\n' && nl == 1) {
				out_write(o, buf, (size_t)i + 1);
				return 0;
			}
			if (buf[i] == '\n')
				nl = 1;
			else if (buf[i] != '\r')
				nl = 0;
		}
		out_write(o, buf, (size_t)n);
	}
	return 0;
}

int
dsn_write(int fd, const struct envelope *env, size_t dest,
    enum dsn_action action, int64_t retry_until, int contentfd,
    const char *hostname, uint64_t *size, const char **errstr)
{
	const struct env_dest	*d;
	const struct env_rcpt	*r;
	struct out		 o;
	time_t			 now = time(NULL);
	char			 date[64], arrival[64], until[64];
	char			 boundary[64], status[16];
	int			 headers_only, delayed = action == DSN_DELAYED;

	if (dest >= env->ndests || env->dests[dest].rcpt >= env->nrcpts) {
		*errstr = "no such destination";
		return -1;
	}
	d = &env->dests[dest];
	r = &env->rcpts[d->rcpt];
	memset(&o, 0, sizeof(o));
	o.fd = fd;
	rfc5322_date(now, date, sizeof(date));
	rfc5322_date((time_t)env->created, arrival, sizeof(arrival));
	rfc5322_date((time_t)retry_until, until, sizeof(until));
	(void)snprintf(boundary, sizeof(boundary), "%s.%lld/%s", env->id,
	    (long long)now, hostname);
	status_of(d->error, delayed ? '4' : '5', status, sizeof(status));
	/* A warning needs no second copy of the message (RFC 3461 4.3). */
	headers_only = delayed || env->ret == SMTP_RET_HDRS ||
	    env->size > DSN_MAX_RETURN;

	out_printf(&o, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    hostname);
	out_printf(&o, "To: <%s>\r\n", env->sender);
	out_printf(&o, "Subject: %s\r\n", delayed ? "Delayed Mail (still"
	    " being retried)" : "Undelivered Mail Returned to Sender");
	out_printf(&o, "Date: %s\r\n", date);
	out_printf(&o, "Message-ID: <%s.dsn.%lld@%s>\r\n", env->id,
	    (long long)now, hostname);
	out_printf(&o, "Auto-Submitted: auto-replied\r\n");
	out_printf(&o, "MIME-Version: 1.0\r\n");
	out_printf(&o, "Content-Type: multipart/report;"
	    " report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", boundary);
	out_printf(&o, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	out_printf(&o, "--%s\r\n", boundary);
	out_printf(&o, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	out_printf(&o, "This is the mail system at %s.\r\n\r\n", hostname);
	if (delayed)
		out_printf(&o, "Your message has not been delivered yet to one"
		    " of its recipients.\r\nThe mail system will keep trying"
		    " until %s;\r\nyou need not send it again.\r\n\r\n",
		    until);
	else
		out_printf(&o, "Your message could not be delivered to one of"
		    " its recipients.\r\n\r\n");
	out_printf(&o, "<%s>: %s\r\n\r\n", d->address,
	    d->error[0] ? d->error : delayed ? "not delivered yet" :
	    "delivery failed");

	out_printf(&o, "--%s\r\n", boundary);
	out_printf(&o, "Content-Type: message/delivery-status\r\n\r\n");
	out_printf(&o, "Reporting-MTA: dns; %s\r\n", hostname);
	out_printf(&o, "X-Osms-Queue-ID: %s\r\n", env->id);
	if (env->envid[0] != '\0')
		out_printf(&o, "Original-Envelope-Id: %s\r\n", env->envid);
	out_printf(&o, "Arrival-Date: %s\r\n\r\n", arrival);
	out_printf(&o, "Final-Recipient: %s; %s\r\n",
	    has_8bit(d->address) ? "utf-8" : "rfc822", d->address);
	if (r->orcpt[0] != '\0')
		out_printf(&o, "Original-Recipient: %s\r\n", r->orcpt);
	out_printf(&o, "Action: %s\r\n", delayed ? "delayed" : "failed");
	out_printf(&o, "Status: %s\r\n", status);
	if (d->error[0] != '\0')
		out_printf(&o, "Diagnostic-Code: %s; %s\r\n",
		    is_smtp_reply(d->error) ? "smtp" : "x-osms", d->error);
	out_printf(&o, "Last-Attempt-Date: %s\r\n", date);
	if (delayed)
		out_printf(&o, "Will-Retry-Until: %s\r\n", until);
	out_printf(&o, "\r\n");

	out_printf(&o, "--%s\r\n", boundary);
	out_printf(&o, "Content-Type: %s\r\n\r\n", headers_only ?
	    "text/rfc822-headers" : env->smtputf8 ? "message/global" :
	    "message/rfc822");
	if (copy_original(&o, contentfd, headers_only) == -1) {
		*errstr = "cannot read the original message";
		return -1;
	}
	out_printf(&o, "\r\n--%s--\r\n", boundary);
	out_flush(&o);
	if (o.error) {
		*errstr = o.error == ENOSPC ? "no space left" :
		    "write error";
		return -1;
	}
	*size = o.size;		/* spool_commit() makes it durable */
	return 0;
}
