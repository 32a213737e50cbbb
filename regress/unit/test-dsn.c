/*
 * Bounces (dsn.c): structure of the RFC 3464 report, the returned
 * content, RET=HDRS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsn.h"
#include "test.h"

static const char original[] =
    "From: <alice@example.test>\r\nSubject: hello\r\n"
    "Message-ID: <m1@example.test>\r\n\r\nthe body line\r\n";

static int
content_fd(void)
{
	FILE	*f = tmpfile();
	int	 fd;

	if (f == NULL)
		abort();
	fputs(original, f);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	return fd;
}

/* The report written for dest 0 of env, NUL-terminated (static). */
static char *
report_as(struct envelope *env, enum dsn_action action, uint64_t *size)
{
	static char	 buf[65536];
	FILE		*out = tmpfile();
	const char	*err = NULL;
	size_t		 n;
	int		 cfd = content_fd();

	if (out == NULL || dsn_write(fileno(out), env, 0, action,
	    env->created + 5 * 86400, cfd, "mail.example.test", size,
	    &err) == -1) {
		printf("# dsn_write: %s\n", err ? err : "?");
		return NULL;
	}
	close(cfd);
	rewind(out);
	n = fread(buf, 1, sizeof(buf) - 1, out);
	buf[n] = '\0';
	fclose(out);
	return buf;
}

static char *
report(struct envelope *env, uint64_t *size)
{
	return report_as(env, DSN_FAILED, size);
}

static void
make_env(struct envelope *env, uint32_t ret)
{
	struct env_rcpt	 r;
	struct env_dest	 d;

	envelope_init(env);
	snprintf(env->id, sizeof(env->id), "0123456789abcdef");
	snprintf(env->sender, sizeof(env->sender), "alice@example.test");
	snprintf(env->envid, sizeof(env->envid), "ENV42");
	env->created = 1700000000;
	env->ret = ret;
	env->size = sizeof(original) - 1;
	memset(&r, 0, sizeof(r));
	snprintf(r.address, sizeof(r.address), "bob@example.test");
	snprintf(r.orcpt, sizeof(r.orcpt), "rfc822;bob@example.test");
	envelope_add_rcpt(env, &r);
	memset(&d, 0, sizeof(d));
	d.kind = DEST_MAILBOX;
	snprintf(d.address, sizeof(d.address), "bob@example.test");
	snprintf(d.error, sizeof(d.error), "5.2.2 mailbox full");
	envelope_add_dest(env, &d);
}

static void
test_report(void)
{
	struct envelope	 env;
	uint64_t	 size = 0;
	char		*b, boundary[128], *p;

	test_begin("dsn: a multipart/report with status and the message");
	make_env(&env, SMTP_RET_NONE);
	b = report(&env, &size);
	test_assert(b != NULL && size == strlen(b));
	if (b == NULL) {
		test_end();
		return;
	}
	test_assert(strstr(b, "From: Mail Delivery System"
	    " <MAILER-DAEMON@mail.example.test>\r\n") == b);
	test_assert(strstr(b, "\r\nTo: <alice@example.test>\r\n") != NULL);
	test_assert(strstr(b, "Auto-Submitted: auto-replied\r\n") != NULL);
	test_assert(strstr(b, "Content-Type: multipart/report;"
	    " report-type=delivery-status;") != NULL);
	test_assert((p = strstr(b, "boundary=\"")) != NULL);
	if (p != NULL && sscanf(p + 10, "%127[^\"]", boundary) == 1) {
		char	 delim[140];
		int	 parts = 0;

		/* three parts, then the closing delimiter */
		snprintf(delim, sizeof(delim), "\r\n--%s\r\n", boundary);
		for (p = b; (p = strstr(p, delim)) != NULL; p++)
			parts++;
		test_assert(parts == 3);
		snprintf(delim, sizeof(delim), "\r\n--%s--\r\n", boundary);
		test_assert(strstr(b, delim) != NULL);
	}
	test_assert(strstr(b, "Reporting-MTA: dns; mail.example.test\r\n"));
	test_assert(strstr(b, "Original-Envelope-Id: ENV42\r\n"));
	test_assert(strstr(b, "Final-Recipient: rfc822; bob@example.test\r\n"));
	test_assert(strstr(b, "Original-Recipient: rfc822;bob@example.test"));
	test_assert(strstr(b, "Action: failed\r\n"));
	test_assert(strstr(b, "Status: 5.2.2\r\n"));
	test_assert(strstr(b, "Content-Type: message/rfc822\r\n"));
	test_assert(strstr(b, "the body line\r\n") != NULL);
	test_assert(strstr(b, "\r\n\r\n") != NULL);
	/* every line ends in CRLF */
	for (p = b; (p = strchr(p, '\n')) != NULL; p++)
		if (p == b || p[-1] != '\r') {
			test_assert(!"bare LF");
			break;
		}
	envelope_clear(&env);
	test_end();
}

/* A warning: "delayed", 4.x.y, until when, and only the header. */
static void
test_delayed(void)
{
	struct envelope	 env;
	uint64_t	 size;
	char		*b;

	test_begin("dsn: a delay warning says delayed, 4.x.y and until when");
	make_env(&env, SMTP_RET_FULL);
	(void)snprintf(env.dests[0].error, sizeof(env.dests[0].error),
	    "4.2.2 mailbox is over its quota");
	b = report_as(&env, DSN_DELAYED, &size);
	test_assert(b != NULL);
	if (b != NULL) {
		test_assert(strstr(b, "Subject: Delayed Mail (still being"
		    " retried)\r\n") != NULL);
		test_assert(strstr(b, "Action: delayed\r\n") != NULL);
		test_assert(strstr(b, "Status: 4.2.2\r\n") != NULL);
		test_assert(strstr(b, "Will-Retry-Until: ") != NULL);
		test_assert(strstr(b, "will keep trying until") != NULL);
		test_assert(strstr(b, "text/rfc822-headers") != NULL);
		test_assert(strstr(b, "the body line") == NULL);
	}
	/* The same error once the time ran out: a failure, 5.2.2. */
	b = report_as(&env, DSN_FAILED, &size);
	test_assert(b != NULL && strstr(b, "Action: failed\r\n") != NULL &&
	    strstr(b, "Status: 5.2.2\r\n") != NULL &&
	    strstr(b, "Will-Retry-Until") == NULL &&
	    strstr(b, "the body line") != NULL);
	envelope_clear(&env);
	test_end();
}

static void
test_headers_only(void)
{
	struct envelope	 env;
	uint64_t	 size;
	char		*b;

	test_begin("dsn: RET=HDRS returns only the header");
	make_env(&env, SMTP_RET_HDRS);
	b = report(&env, &size);
	test_assert(b != NULL);
	if (b != NULL) {
		test_assert(strstr(b, "text/rfc822-headers") != NULL);
		test_assert(strstr(b, "Subject: hello\r\n") != NULL);
		test_assert(strstr(b, "the body line") == NULL);
	}
	envelope_clear(&env);
	test_end();
}

static void
test_remote_reply(void)
{
	struct envelope	 env;
	uint64_t	 size;
	char		*b;

	test_begin("dsn: a remote server's reply is an smtp diagnostic");
	make_env(&env, 0);
	(void)snprintf(env.dests[0].error, sizeof(env.dests[0].error),
	    "550 5.1.1 <bob@example.org>: no such user");
	b = report(&env, &size);
	test_assert(b != NULL && strstr(b, "Status: 5.1.1\r\n") != NULL &&
	    strstr(b, "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: "
	    "no such user\r\n") != NULL);
	/* Without an enhanced code: the class of the report. */
	(void)snprintf(env.dests[0].error, sizeof(env.dests[0].error),
	    "554 transaction failed");
	b = report(&env, &size);
	test_assert(b != NULL && strstr(b, "Status: 5.0.0\r\n") != NULL &&
	    strstr(b, "Diagnostic-Code: smtp; 554 transaction") != NULL);
	/* Our own text stays x-osms. */
	(void)snprintf(env.dests[0].error, sizeof(env.dests[0].error),
	    "5.1.10 the domain accepts no mail (null MX)");
	b = report(&env, &size);
	test_assert(b != NULL && strstr(b, "Status: 5.1.10\r\n") != NULL &&
	    strstr(b, "Diagnostic-Code: x-osms; 5.1.10") != NULL);
	envelope_clear(&env);
	test_end();
}

static void
test_bad_dest(void)
{
	struct envelope	 env;
	const char	*err = NULL;
	uint64_t	 size;

	test_begin("dsn: a destination that does not exist is refused");
	make_env(&env, 0);
	test_assert(dsn_write(1, &env, 5, DSN_FAILED, 0, -1, "h", &size,
	    &err) == -1);
	test_assert(err != NULL);
	envelope_clear(&env);
	test_end();
}

int
main(void)
{
	test_report();
	test_headers_only();
	test_delayed();
	test_remote_reply();
	test_bad_dest();
	return test_exit();
}
