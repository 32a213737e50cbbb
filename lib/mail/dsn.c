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

/* Status code: the error text's own "5.x.y" if it starts with one. */
static void
status_of(const char *error, char *buf, size_t size)
{
	const char	*p = error;

	if ((p[0] == '5' || p[0] == '4') && p[1] == '.' &&
	    strspn(p + 2, "0123456789.") >= 3) {
		size_t n = 2 + strspn(p + 2, "0123456789.");

		if (n < size) {
			memcpy(buf, p, n);
			buf[n] = '\0';
			return;
		}
	}
	(void)osms_strlcpy(buf, "5.0.0", size);
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
dsn_write(int fd, const struct envelope *env, size_t dest, int contentfd,
    const char *hostname, uint64_t *size, const char **errstr)
{
	const struct env_dest	*d;
	const struct env_rcpt	*r;
	struct out		 o;
	struct tm		 tm;
	time_t			 now = time(NULL), created;
	char			 date[64], arrival[64], boundary[64];
	char			 status[16];
	int			 headers_only;

	if (dest >= env->ndests || env->dests[dest].rcpt >= env->nrcpts) {
		*errstr = "no such destination";
		return -1;
	}
	d = &env->dests[dest];
	r = &env->rcpts[d->rcpt];
	memset(&o, 0, sizeof(o));
	o.fd = fd;
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		(void)osms_strlcpy(date, "Thu, 01 Jan 1970 00:00:00 +0000",
		    sizeof(date));
	created = (time_t)env->created;
	if (localtime_r(&created, &tm) == NULL ||
	    strftime(arrival, sizeof(arrival), "%a, %d %b %Y %H:%M:%S %z",
	    &tm) == 0)
		(void)osms_strlcpy(arrival, date, sizeof(arrival));
	(void)snprintf(boundary, sizeof(boundary), "%s.%lld/%s", env->id,
	    (long long)now, hostname);
	status_of(d->error, status, sizeof(status));
	headers_only = env->ret == SMTP_RET_HDRS || env->size > DSN_MAX_RETURN;

	out_printf(&o, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    hostname);
	out_printf(&o, "To: <%s>\r\n", env->sender);
	out_printf(&o, "Subject: Undelivered Mail Returned to Sender\r\n");
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
	out_printf(&o, "Your message could not be delivered to one of its"
	    " recipients.\r\n\r\n");
	out_printf(&o, "<%s>: %s\r\n\r\n", d->address,
	    d->error[0] ? d->error : "delivery failed");

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
	out_printf(&o, "Action: failed\r\n");
	out_printf(&o, "Status: %s\r\n", status);
	if (d->error[0] != '\0')
		out_printf(&o, "Diagnostic-Code: x-osms; %s\r\n", d->error);
	out_printf(&o, "Last-Attempt-Date: %s\r\n\r\n", date);

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
