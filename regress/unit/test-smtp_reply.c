/*
 * The SMTP client's pieces (smtp_reply.c): replies of one and many
 * lines with enhanced status codes, the refusals, EHLO extensions, and
 * DATA encoding fed whole or a byte at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_reply.h"
#include "test.h"

/* Feed lines separated by "\r\n"; the last feed's result. */
static int
feed(struct smtp_reply *r, const char *lines, const char **err)
{
	const char	*p = lines, *e;
	int		 rc = 0;

	smtp_reply_init(r);
	while (*p != '\0') {
		e = strstr(p, "\r\n");
		if (e == NULL)
			e = p + strlen(p);
		rc = smtp_reply_line(r, p, (size_t)(e - p), err);
		if (rc != 0)
			return rc;
		p = *e != '\0' ? e + 2 : e;
	}
	return rc;
}

static void
test_replies(void)
{
	struct smtp_reply	 r;
	const char		*err;
	char			 big[SMTP_REPLY_MAX_LINE + 8];
	int			 i;

	test_begin("smtp_reply: one and many lines, status codes");
	test_assert(feed(&r, "250 2.1.0 Ok", &err) == 1 && r.code == 250 &&
	    strcmp(r.status, "2.1.0") == 0 && strcmp(r.text, "Ok") == 0);
	test_assert(feed(&r, "220 mx.example.org ESMTP", &err) == 1 &&
	    r.status[0] == '\0' && strcmp(r.text, "mx.example.org ESMTP") == 0);
	test_assert(feed(&r, "354", &err) == 1 && r.code == 354 &&
	    r.text[0] == '\0');
	/* Gmail's style: the status on every line, kept once. */
	test_assert(feed(&r, "550-5.1.1 The account\r\n550-5.1.1 does not\r\n"
	    "550 5.1.1 exist. x - gsmtp", &err) == 1 && r.nlines == 3 &&
	    strcmp(r.status, "5.1.1") == 0 &&
	    strcmp(r.text, "The account\ndoes not\nexist. x - gsmtp") == 0);
	/* A status of another class is text; controls become '?'. */
	test_assert(feed(&r, "451 5.0.0 odd\x01", &err) == 1 &&
	    r.status[0] == '\0' && strcmp(r.text, "5.0.0 odd?") == 0);
	test_assert(feed(&r, "250-first", &err) == 0 && !r.done);
	/* Refusals. */
	test_assert(feed(&r, "250-a\r\n251 b", &err) == -1 &&
	    strcmp(err, "reply lines with different codes") == 0);
	test_assert(feed(&r, "25 short", &err) == -1);
	test_assert(feed(&r, "650 six", &err) == -1);
	test_assert(feed(&r, "260 x", &err) == -1);
	test_assert(feed(&r, "250_x", &err) == -1);
	test_assert(feed(&r, "hello", &err) == -1);
	memset(big, 'a', sizeof(big));
	memcpy(big, "250 ", 4);
	smtp_reply_init(&r);
	test_assert(smtp_reply_line(&r, big, SMTP_REPLY_MAX_LINE + 1, &err) ==
	    -1 && strcmp(err, "reply line too long") == 0);
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		test_assert(smtp_reply_line(&r, "250-x", 5, &err) == 0);
	test_assert(smtp_reply_line(&r, "250 x", 5, &err) == -1);
	/* The text is bounded, and says so. */
	smtp_reply_init(&r);
	big[3] = '-';
	for (i = 0; i < 10; i++)
		test_assert(smtp_reply_line(&r, big, SMTP_REPLY_MAX_LINE,
		    &err) == 0);
	test_assert(r.cut && strlen(r.text) == SMTP_REPLY_MAX_TEXT - 1);
	/* After a whole reply, the next line starts another. */
	test_assert(feed(&r, "250 a", &err) == 1 &&
	    smtp_reply_line(&r, "221 bye", 7, &err) == 1 && r.code == 221 &&
	    r.nlines == 1 && strcmp(r.text, "bye") == 0);
	test_end();
}

static void
test_ehlo(void)
{
	struct smtp_reply	 r;
	struct smtp_ehlo	 e;
	const char		*err;

	test_begin("smtp_reply: the extensions of an EHLO reply");
	test_assert(feed(&r, "250-mx.example.org Hello\r\n250-PIPELINING\r\n"
	    "250-SIZE 10240000\r\n250-8bitmime\r\n250-STARTTLS\r\n"
	    "250-AUTH plain LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250-X-UNKNOWN 1\r\n250-SMTPUTF8\r\n250-DSN\r\n250 CHUNKING",
	    &err) == 1);
	smtp_ehlo_parse(&r, &e);
	test_assert(e.ext == (SMTP_EXT_PIPELINING | SMTP_EXT_SIZE |
	    SMTP_EXT_8BITMIME | SMTP_EXT_STARTTLS | SMTP_EXT_AUTH |
	    SMTP_EXT_ENHANCED | SMTP_EXT_SMTPUTF8 | SMTP_EXT_DSN |
	    SMTP_EXT_CHUNKING));
	test_assert(e.size == 10240000 && strcmp(e.auth, "PLAIN LOGIN") == 0);
	/* The greeting line names nothing; HELO-only servers offer none. */
	test_assert(feed(&r, "250 STARTTLS", &err) == 1);
	smtp_ehlo_parse(&r, &e);
	test_assert(e.ext == 0);
	test_assert(feed(&r, "250-x\r\n250 SIZE 99999999999999999999999",
	    &err) == 1);
	smtp_ehlo_parse(&r, &e);
	test_assert(e.ext == SMTP_EXT_SIZE && e.size == 0);
	test_end();
}

static const char *
encode(const char *in, size_t len, int bytewise)
{
	static struct buf	 out = BUF_INIT(1 << 20);
	struct smtp_data	 d;
	size_t			 i;

	buf_reset(&out);
	smtp_data_init(&d);
	if (bytewise)
		for (i = 0; i < len; i++)
			(void)smtp_data_add(&d, in + i, 1, &out);
	else
		(void)smtp_data_add(&d, in, len, &out);
	(void)smtp_data_end(&d, &out);
	return out.data;
}

static void
test_data(void)
{
	static const struct {
		const char	*in, *out;
	} c[] = {
		{ "a\nb\n", "a\r\nb\r\n.\r\n" },
		{ "a\r\nb\r\n", "a\r\nb\r\n.\r\n" },
		{ ".\n..x\nend", "..\r\n...x\r\nend\r\n.\r\n" },
		{ "x\r\n.\r\n", "x\r\n..\r\n.\r\n" },
		{ "", ".\r\n" },
		{ "no end\r", "no end\r\n.\r\n" },
		{ "a.b\n .c\n", "a.b\r\n .c\r\n.\r\n" },
	};
	size_t	 i;
	int	 b;

	test_begin("smtp_reply: DATA: CRLF, dot-stuffing, the end, any pieces");
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		for (b = 0; b < 2; b++) {
			const char *got = encode(c[i].in, strlen(c[i].in), b);

			test_assert(strcmp(got, c[i].out) == 0);
		}
	test_end();
}

int
main(void)
{
	test_replies();
	test_ehlo();
	test_data();
	return test_exit();
}
