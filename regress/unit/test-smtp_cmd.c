/*
 * SMTP command lines and ESMTP parameters (lib/mail/smtp_cmd.c):
 * hostile input first. Every input is copied to a buffer of its exact
 * size, so that a read past the NUL is an ASan error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_cmd.h"
#include "test.h"

#define nelem(a)	(sizeof(a) / sizeof((a)[0]))

static void
print_escaped(const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '\\')
			(void)printf("\\x%02x", *p);
		else
			(void)putchar(*p);
}

static void
report(const char *in, int r, const struct smtp_err *err)
{
	(void)printf("# input \"");
	print_escaped(in);
	if (r == -1)
		(void)printf("\": %d %s %s\n", err->code, err->status,
		    err->text);
	else
		(void)printf("\": ok\n");
}

/* Every error is a 5xx reply with a 5.x.x status and some text. */
static int
err_sane(const struct smtp_err *err)
{
	return err->code >= 500 && err->code <= 555 && err->status != NULL &&
	    err->status[0] == '5' && err->status[1] == '.' &&
	    err->text != NULL && err->text[0] != '\0' &&
	    strpbrk(err->text, "\r\n") == NULL;
}

static int
err_is(int r, const struct smtp_err *err, int code, const char *status)
{
	return r == -1 && err_sane(err) && err->code == code &&
	    strcmp(err->status, status) == 0;
}

/* Command lines */

static const struct {
	const char	*line;
	int		 code;		/* 0: parses */
	const char	*status;
	enum smtp_verb	 verb;
	const char	*arg;
} cmd_cases[] = {
	{ "RSET\r", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "DATA\n", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "DATA\r\nRSET", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "MAIL FROM:<a\x01@b>", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "NOOP \x7f", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "\x1b[A", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	/* An embedded NUL ends the line. */
	{ "QUIT\0RSET", 0, NULL, SMTP_CMD_QUIT, "" },
	{ "MAIL\tFROM:<>", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "MAIL:FROM:<>", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "MAILFROM:<>", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "QUIT1", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ " MAIL FROM:<>", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "\xc3\xa4", 500, "5.5.2", SMTP_CMD_UNKNOWN, NULL },
	{ "XYZZY", 500, "5.5.1", SMTP_CMD_UNKNOWN, NULL },
	{ "GET / HTTP/1.1", 500, "5.5.1", SMTP_CMD_UNKNOWN, NULL },
	{ "POST / HTTP/1.1", 500, "5.5.1", SMTP_CMD_UNKNOWN, NULL },
	{ "MAILS FROM:<>", 500, "5.5.1", SMTP_CMD_UNKNOWN, NULL },
	{ "STARTTLSX", 500, "5.5.1", SMTP_CMD_UNKNOWN, NULL },
	{ "MAIL FROM:<a@b.example>", 0, NULL, SMTP_CMD_MAIL,
	    "FROM:<a@b.example>" },
	{ "mail from:<>", 0, NULL, SMTP_CMD_MAIL, "from:<>" },
	{ "MaIl  FROM:<>", 0, NULL, SMTP_CMD_MAIL, " FROM:<>" },
	{ "rcpt TO:<x@y>", 0, NULL, SMTP_CMD_RCPT, "TO:<x@y>" },
	{ "HELO client.example", 0, NULL, SMTP_CMD_HELO, "client.example" },
	{ "ehlo client.example", 0, NULL, SMTP_CMD_EHLO, "client.example" },
	{ "HELO a\tb", 0, NULL, SMTP_CMD_HELO, "a\tb" },
	{ "DATA", 0, NULL, SMTP_CMD_DATA, "" },
	{ "BDAT 10 LAST", 0, NULL, SMTP_CMD_BDAT, "10 LAST" },
	{ "rset", 0, NULL, SMTP_CMD_RSET, "" },
	{ "NOOP anything at all", 0, NULL, SMTP_CMD_NOOP,
	    "anything at all" },
	{ "quit ", 0, NULL, SMTP_CMD_QUIT, "" },
	{ "VRFY u", 0, NULL, SMTP_CMD_VRFY, "u" },
	{ "EXPN list", 0, NULL, SMTP_CMD_EXPN, "list" },
	{ "HELP", 0, NULL, SMTP_CMD_HELP, "" },
	{ "StartTLS", 0, NULL, SMTP_CMD_STARTTLS, "" },
	{ "AUTH PLAIN", 0, NULL, SMTP_CMD_AUTH, "PLAIN" },
	{ "DATA \xc3\xa4", 0, NULL, SMTP_CMD_DATA, "\xc3\xa4" },
};

static void
test_cmd(void)
{
	struct smtp_cmd	 cmd;
	struct smtp_err	 err;
	size_t		 i;
	char		*in;
	int		 r, good;

	test_begin("smtp_cmd: control bytes, separators, verbs");
	for (i = 0; i < nelem(cmd_cases); i++) {
		in = test_dup_exact(cmd_cases[i].line);
		r = smtp_cmd_parse(in, &cmd, &err);
		if (cmd_cases[i].code == 0)
			good = r == 0 && cmd.verb == cmd_cases[i].verb &&
			    strcmp(cmd.arg, cmd_cases[i].arg) == 0;
		else
			good = err_is(r, &err, cmd_cases[i].code,
			    cmd_cases[i].status) &&
			    cmd.verb == SMTP_CMD_UNKNOWN && cmd.arg != NULL;
		if (!good)
			report(cmd_cases[i].line, r, &err);
		test_assert(good);
		free(in);
	}
	test_end();
}

/* HELO/EHLO */

#define L63	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L255	L63 "." L63 "." L63 "." L63

static const struct {
	const char	*arg;
	size_t		 size;
	int		 code;
} helo_cases[] = {
	{ "", 256, 501 },
	{ "a b", 256, 501 },
	{ "a ", 256, 501 },
	{ " a", 256, 501 },
	{ "a\tb", 256, 501 },
	{ "a\rb", 256, 501 },
	{ "a\nMAIL FROM:<x@y>", 256, 501 },
	{ "a\x7f", 256, 501 },
	{ "b\xc3\xbc" "cher.example", 256, 501 },
	{ L255 "a", 512, 501 },
	{ L255, 255, 501 },
	{ L255, 256, 0 },
	{ "client.example", 256, 0 },
	{ "[192.0.2.1]", 256, 0 },
	{ "[IPv6:2001:db8::1]", 256, 0 },
	{ "localhost", 256, 0 },
	{ "my_host", 256, 0 },
};

static void
test_helo(void)
{
	struct smtp_err	 err;
	char		 buf[512];
	size_t		 i;
	char		*in;
	int		 r, good;

	test_begin("smtp_cmd: HELO/EHLO argument");
	for (i = 0; i < nelem(helo_cases); i++) {
		in = test_dup_exact(helo_cases[i].arg);
		memset(buf, 'Z', sizeof(buf));
		r = smtp_parse_helo(in, buf, helo_cases[i].size, &err);
		if (helo_cases[i].code == 0)
			good = r == 0 && strcmp(buf, in) == 0;
		else
			good = err_is(r, &err, helo_cases[i].code,
			    err.status) && buf[0] == '\0';
		if (!good)
			report(helo_cases[i].arg, r, &err);
		test_assert(good);
		free(in);
	}
	test_end();
}

/* MAIL */

#define A100 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A500 A100 A100 A100 A100 A100
#define A10 "aaaaaaaaaa"
#define A490 A100 A100 A100 A100 A10 A10 A10 A10 A10 A10 A10 A10 A10

struct mail_case {
	const char	*arg;
	int		 ehlo;
	int		 code;		/* 0: parses */
	const char	*status;
	const char	*local;
	const char	*domain;
	uint64_t	 size;
	int		 body;
	int		 smtputf8;
	int		 requiretls;
	int		 ret;
	const char	*envid;
	const char	*auth;
};

#define MAIL_ERR(a, e, c, s)	{ a, e, c, s, NULL, NULL, 0, 0, 0, 0, 0, \
				    NULL, NULL }
#define MAIL_OK(a, e, l, d)	{ a, e, 0, NULL, l, d, 0, 0, 0, 0, 0, "", "" }

static const struct mail_case mail_cases[] = {
	/* every parameter twice, in any case */
	MAIL_ERR("FROM:<a@b.example> SIZE=1 SIZE=2", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> size=1 SIZE=1", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> BODY=7BIT BODY=8BITMIME", 1, 555,
	    "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SMTPUTF8 smtputf8", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> REQUIRETLS REQUIRETLS", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> RET=FULL RET=HDRS", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=a ENVID=a", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> AUTH=<> AUTH=<>", 1, 555, "5.5.4"),
	/* parameters after HELO */
	MAIL_ERR("FROM:<a@b.example> SIZE=100", 0, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> BODY=8BITMIME", 0, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SMTPUTF8", 0, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> FOO", 0, 555, "5.5.4"),
	/* unknown parameters, RCPT ones included */
	MAIL_ERR("FROM:<a@b.example> FOO=bar", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> X-FOO", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> NOTIFY=NEVER", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ORCPT=rfc822;a@b", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZEX=1", 1, 555, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> "
	    "AVERYLONGKEYWORDTHATGOESONANDONANDONANDONANDON=1", 1, 555,
	    "5.5.4"),
	/* parameter syntax */
	MAIL_ERR("FROM:<a@b.example> =x", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> -X", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE==1", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE:1", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=1\tBODY=7BIT", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=1\r", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=a\nRCPT", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=\xc3\xa9", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=\xc3\xa9 SMTPUTF8", 1, 501,
	    "5.5.4"),
	MAIL_ERR("FROM:<a@b.example>SIZE=1", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example>\tSIZE=1", 1, 501, "5.5.4"),
	/* SIZE (RFC 1870) */
	MAIL_ERR("FROM:<a@b.example> SIZE", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=abc", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=-1", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=+1", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=1k", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=18446744073709551616", 1, 552,
	    "5.3.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=99999999999999999999", 1, 552,
	    "5.3.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=000000000000000000001", 1, 501,
	    "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SIZE=1 2", 1, 555, "5.5.4"),
	{ "FROM:<a@b.example> SIZE=18446744073709551615", 1, 0, NULL, "a",
	    "b.example", UINT64_MAX, 0, 0, 0, 0, "", "" },
	{ "FROM:<a@b.example> SIZE=00000000000000000001", 1, 0, NULL, "a",
	    "b.example", 1, 0, 0, 0, 0, "", "" },
	{ "FROM:<a@b.example> SIZE=0", 1, 0, NULL, "a", "b.example", 0, 0,
	    0, 0, 0, "", "" },
	/* BODY (RFC 6152, RFC 3030) */
	MAIL_ERR("FROM:<a@b.example> BODY=8BIT", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> BODY", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> BODY=7BITX", 1, 501, "5.5.4"),
	{ "FROM:<a@b.example> BODY=7bit", 1, 0, NULL, "a", "b.example", 0,
	    SMTP_BODY_7BIT, 0, 0, 0, "", "" },
	{ "FROM:<a@b.example> body=8bitmime", 1, 0, NULL, "a", "b.example", 0,
	    SMTP_BODY_8BITMIME, 0, 0, 0, "", "" },
	{ "FROM:<a@b.example> BODY=BINARYMIME", 1, 0, NULL, "a", "b.example",
	    0, SMTP_BODY_BINARYMIME, 0, 0, 0, "", "" },
	/* SMTPUTF8 (RFC 6531), REQUIRETLS (RFC 8689) */
	MAIL_ERR("FROM:<a@b.example> SMTPUTF8=yes", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> SMTPUTF8=", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> REQUIRETLS=1", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<\xce\xb4@b.example>", 1, 553, "5.6.7"),
	MAIL_ERR("FROM:<a@\xce\xb4.example> BODY=8BITMIME", 1, 553, "5.6.7"),
	MAIL_ERR("FROM:<\xce\xb4@b.example> SMTPUTF8", 0, 555, "5.5.4"),
	MAIL_ERR("FROM:<\xc0\xaf@b.example> SMTPUTF8", 1, 553, "5.1.7"),
	{ "FROM:<\xce\xb4@B.example> SMTPUTF8", 1, 0, NULL, "\xce\xb4",
	    "b.example", 0, 0, 1, 0, 0, "", "" },
	{ "FROM:<a@b.example> REQUIRETLS smtputf8", 1, 0, NULL, "a",
	    "b.example", 0, 0, 1, 1, 0, "", "" },
	/* RET, ENVID (RFC 3461) */
	MAIL_ERR("FROM:<a@b.example> RET=ALL", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> RET", 1, 501, "5.5.4"),
	{ "FROM:<a@b.example> RET=hdrs", 1, 0, NULL, "a", "b.example", 0, 0,
	    0, 0, SMTP_RET_HDRS, "", "" },
	{ "FROM:<a@b.example> RET=FULL", 1, 0, NULL, "a", "b.example", 0, 0,
	    0, 0, SMTP_RET_FULL, "", "" },
	MAIL_ERR("FROM:<a@b.example> ENVID=", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=a+0D+0Ab", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=a+0Ab", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=+00", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=+7F", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=+E9", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=+4", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=+", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=+G1", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=" A100 "a", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> ENVID=" A100 "+20", 1, 501, "5.5.4"),
	{ "FROM:<a@b.example> ENVID=" A100, 1, 0, NULL, "a", "b.example", 0,
	    0, 0, 0, 0, A100, "" },
	{ "FROM:<a@b.example> ENVID=abc+2Bdef+3D+20x", 1, 0, NULL, "a",
	    "b.example", 0, 0, 0, 0, 0, "abc+def= x", "" },
	{ "FROM:<a@b.example> ENVID=+2b+41", 1, 0, NULL, "a", "b.example", 0,
	    0, 0, 0, 0, "+A", "" },
	/* AUTH= (RFC 4954 5) */
	MAIL_ERR("FROM:<a@b.example> AUTH=", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> AUTH=a+0Db", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> AUTH=a+00b", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> AUTH=a+ZZ", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example> AUTH=" A500 "a", 1, 501, "5.5.4"),
	{ "FROM:<a@b.example> AUTH=<>", 1, 0, NULL, "a", "b.example", 0, 0,
	    0, 0, 0, "", "<>" },
	{ "FROM:<a@b.example> AUTH=<a@b>", 1, 0, NULL, "a", "b.example", 0,
	    0, 0, 0, 0, "", "<a@b>" },
	{ "FROM:<a@b.example> AUTH=e+2Bmc2@example.com", 1, 0, NULL, "a",
	    "b.example", 0, 0, 0, 0, 0, "", "e+2Bmc2@example.com" },
	{ "FROM:<a@b.example> AUTH=" A500, 1, 0, NULL, "a", "b.example", 0,
	    0, 0, 0, 0, "", A500 },
	/* FROM: and the path */
	MAIL_ERR("", 1, 501, "5.5.4"),
	MAIL_ERR("FROM", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:", 1, 501, "5.5.4"),
	MAIL_ERR("FROM<a@b.example>", 1, 501, "5.5.4"),
	MAIL_ERR("FROM :<a@b.example>", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:  <a@b.example>", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:\t<a@b.example>", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:a@b.example", 1, 501, "5.5.4"),
	MAIL_ERR("TO:<a@b.example>", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example>x", 1, 501, "5.5.4"),
	MAIL_ERR("FROM:<a@b.example", 1, 553, "5.1.7"),
	MAIL_ERR("FROM:<a\r@b.example>", 1, 553, "5.1.7"),
	MAIL_ERR("FROM:<a@b.example.>", 1, 553, "5.1.7"),
	MAIL_ERR("FROM:<@b.example>", 1, 553, "5.1.7"),
	MAIL_ERR("FROM:<\"\"@b.example>", 1, 553, "5.1.7"),
	MAIL_ERR("FROM:<Postmaster>", 1, 553, "5.1.7"),
	MAIL_ERR("FROM:<u@ext.test@example.test>", 1, 553, "5.1.7"),
	MAIL_OK("FROM:<a@B.Example>", 0, "a", "b.example"),
	MAIL_OK("from:<a@b.example>", 0, "a", "b.example"),
	MAIL_OK("From: <a@b.example>", 0, "a", "b.example"),
	MAIL_OK("FROM:<>", 0, "", ""),
	MAIL_OK("FROM:<a@b.example> ", 0, "a", "b.example"),
	MAIL_OK("FROM:<a@b.example>    ", 1, "a", "b.example"),
	MAIL_OK("FROM:<@r.example:a@b.example>", 0, "a", "b.example"),
	MAIL_OK("FROM:<\"a b\"@b.example>", 0, "a b", "b.example"),
	{ "FROM:<> SIZE=100  BODY=8BITMIME   RET=HDRS ENVID=x AUTH=<> "
	  "SMTPUTF8 REQUIRETLS ", 1, 0, NULL, "", "", 100, SMTP_BODY_8BITMIME,
	  1, 1, SMTP_RET_HDRS, "x", "<>" },
};

static void
test_mail(void)
{
	const struct mail_case	*c;
	struct smtp_mail_params	 mp;
	struct mailaddr		 a;
	struct smtp_err		 err;
	size_t			 i;
	char			*in;
	int			 r, good;

	test_begin("smtp_cmd: MAIL FROM and its parameters");
	for (i = 0; i < nelem(mail_cases); i++) {
		c = &mail_cases[i];
		in = test_dup_exact(c->arg);
		r = smtp_parse_mail(in, c->ehlo, &a, &mp, &err);
		if (c->code == 0)
			good = r == 0 && strcmp(a.local, c->local) == 0 &&
			    strcmp(a.domain, c->domain) == 0 &&
			    mp.size == c->size && mp.body == c->body &&
			    mp.smtputf8 == c->smtputf8 &&
			    mp.requiretls == c->requiretls &&
			    mp.ret == c->ret &&
			    strcmp(mp.envid, c->envid) == 0 &&
			    strcmp(mp.auth, c->auth) == 0;
		else
			good = err_is(r, &err, c->code, c->status) &&
			    a.local[0] == '\0' && mp.size == 0;
		if (!good)
			report(c->arg, r, &err);
		test_assert(good);
		free(in);
	}
	test_end();
}

static void
test_mail_texts(void)
{
	struct smtp_mail_params	 mp;
	struct smtp_rcpt_params	 rp;
	struct mailaddr		 a;
	struct smtp_err		 err;

	test_begin("smtp_cmd: reply texts say what is wrong");
	test_assert(smtp_parse_mail("FROM:<a@b.example.>", 1, &a, &mp,
	    &err) == -1);
	test_assert(strcmp(err.text,
	    "Bad sender address syntax: trailing dot in domain") == 0);
	test_assert(smtp_parse_rcpt("TO:<a\r@b>", 1, 0, &a, &rp, &err) == -1);
	test_assert(strcmp(err.text,
	    "Bad recipient address syntax: control character in address") ==
	    0);
	test_assert(smtp_parse_mail("FROM:<a@b> SIZE=1 SIZE=1", 1, &a, &mp,
	    &err) == -1);
	test_assert(strcmp(err.text, "SIZE given twice") == 0);
	test_assert(smtp_parse_mail("FROM:<a@b> X=1", 1, &a, &mp, &err) ==
	    -1);
	test_assert(strcmp(err.text, "Unknown MAIL parameter") == 0);
	test_assert(smtp_parse_rcpt("TO:<a@b> X=1", 1, 0, &a, &rp, &err) ==
	    -1);
	test_assert(strcmp(err.text, "Unknown RCPT parameter") == 0);
	test_assert(smtp_parse_mail("FROM:<a@b> SMTPUTF8=1", 1, &a, &mp,
	    &err) == -1);
	test_assert(strcmp(err.text, "SMTPUTF8 takes no value") == 0);
	test_end();
}

/* RCPT */

struct rcpt_case {
	const char	*arg;
	int		 ehlo;
	int		 utf8;
	int		 code;
	const char	*status;
	const char	*local;
	const char	*domain;
	int		 notify;
	const char	*orcpt;
};

#define RCPT_ERR(a, e, u, c, s)	{ a, e, u, c, s, NULL, NULL, 0, NULL }

static const struct rcpt_case rcpt_cases[] = {
	RCPT_ERR("TO:<u@x.example> NOTIFY=NEVER NOTIFY=NEVER", 1, 0, 555,
	    "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", 1, 0,
	    555, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> NOTIFY=NEVER", 0, 0, 555, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> SIZE=10", 1, 0, 555, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> BODY=8BITMIME", 1, 0, 555, "5.5.4"),
	/* the address */
	RCPT_ERR("TO:<>", 1, 0, 553, "5.1.3"),
	RCPT_ERR("TO:<u\n@x.example>", 1, 0, 553, "5.1.3"),
	RCPT_ERR("TO:<u@x.example.>", 1, 0, 553, "5.1.3"),
	RCPT_ERR("TO:<u@ext.test@example.test>", 1, 0, 553, "5.1.3"),
	RCPT_ERR("TO:<@example.com>", 1, 0, 553, "5.1.3"),
	RCPT_ERR("TO:<u@[tag:x]>", 1, 0, 553, "5.1.3"),
	RCPT_ERR("TO:<\xce\xb4@x.example>", 1, 0, 553, "5.6.7"),
	RCPT_ERR("TO:<\xed\xa0\x80@x.example>", 1, 1, 553, "5.1.3"),
	RCPT_ERR("TO:", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:u@x.example", 1, 0, 501, "5.5.4"),
	RCPT_ERR("FROM:<u@x.example>", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:  <u@x.example>", 1, 0, 501, "5.5.4"),
	{ "TO:<u@X.example>", 0, 0, 0, NULL, "u", "x.example", 0, "" },
	{ "to: <u@x.example>", 0, 0, 0, NULL, "u", "x.example", 0, "" },
	{ "TO:<Postmaster>", 0, 0, 0, NULL, "Postmaster", "", 0, "" },
	{ "TO:<@a.example,@b.example:u@x.example>", 0, 0, 0, NULL, "u",
	    "x.example", 0, "" },
	{ "TO:<\xce\xb4@x.example>", 1, 1, 0, NULL, "\xce\xb4", "x.example",
	    0, "" },
	{ "TO:<u%ext.test@example.test>", 1, 0, 0, NULL, "u%ext.test",
	    "example.test", 0, "" },
	/* NOTIFY */
	RCPT_ERR("TO:<u@x.example> NOTIFY", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> NOTIFY=", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> NOTIFY=NEVER,SUCCESS", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> NOTIFY=DELAY,NEVER", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> NOTIFY=SUCCESS,SUCCESS", 1, 0, 501,
	    "5.5.4"),
	RCPT_ERR("TO:<u@x.example> NOTIFY=,SUCCESS", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> NOTIFY=SUCCESS,", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> NOTIFY=SUCCESS,,DELAY", 1, 0, 501,
	    "5.5.4"),
	RCPT_ERR("TO:<u@x.example> NOTIFY=FOO", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> NOTIFY=SUCCESSX", 1, 0, 501, "5.5.4"),
	{ "TO:<u@x.example> NOTIFY=NEVER", 1, 0, 0, NULL, "u", "x.example",
	    SMTP_NOTIFY_NEVER, "" },
	{ "TO:<u@x.example> notify=success,Failure,DELAY", 1, 0, 0, NULL, "u",
	    "x.example", SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
	    SMTP_NOTIFY_DELAY, "" },
	/* ORCPT */
	RCPT_ERR("TO:<u@x.example> ORCPT", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822;", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=;u@x.example", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=x400;u", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822x;u", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822;a+0D+0Ab", 1, 0, 501,
	    "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822;a+00", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822;a+zz", 1, 0, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822;a+C3+A4", 1, 0, 501,
	    "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822;\xc3\xa4", 1, 0, 501,
	    "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822;\xc3\xa4", 1, 1, 501,
	    "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=utf-8;\xc3\xa4@x", 1, 0, 501,
	    "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=utf-8;\xc3@x", 1, 1, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=utf-8;+C3@x", 1, 1, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=utf-8;+0A@x", 1, 1, 501, "5.5.4"),
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822;" A500, 1, 0, 501, "5.5.4"),
	{ "TO:<u@x.example> ORCPT=rfc822;u+2Bx@x.example", 1, 0, 0, NULL,
	    "u", "x.example", 0, "rfc822;u+2Bx@x.example" },
	{ "TO:<u@x.example> ORCPT=RFC822;u@x.example NOTIFY=FAILURE", 1, 0,
	    0, NULL, "u", "x.example", SMTP_NOTIFY_FAILURE,
	    "RFC822;u@x.example" },
	{ "TO:<u@x.example> ORCPT=utf-8;u\\x{E4}@x.example", 1, 0, 0, NULL,
	    "u", "x.example", 0, "utf-8;u\\x{E4}@x.example" },
	{ "TO:<u@x.example> ORCPT=UTF-8;\xc3\xa4@x.example", 1, 1, 0, NULL,
	    "u", "x.example", 0, "UTF-8;\xc3\xa4@x.example" },
	{ "TO:<u@x.example> ORCPT=utf-8;+C3+A4@x.example", 1, 1, 0, NULL,
	    "u", "x.example", 0, "utf-8;+C3+A4@x.example" },
	/* 500 bytes as received: the most. */
	{ "TO:<u@x.example> ORCPT=rfc822;" A490 "aaa", 1, 0, 0, NULL, "u",
	    "x.example", 0, "rfc822;" A490 "aaa" },
	RCPT_ERR("TO:<u@x.example> ORCPT=rfc822;" A490 "aaaa", 1, 0, 501,
	    "5.5.4"),
};

static void
test_rcpt(void)
{
	const struct rcpt_case	*c;
	struct smtp_rcpt_params	 rp;
	struct mailaddr		 a;
	struct smtp_err		 err;
	size_t			 i;
	char			*in;
	int			 r, good;

	test_begin("smtp_cmd: RCPT TO and its parameters");
	for (i = 0; i < nelem(rcpt_cases); i++) {
		c = &rcpt_cases[i];
		in = test_dup_exact(c->arg);
		r = smtp_parse_rcpt(in, c->ehlo, c->utf8, &a, &rp, &err);
		if (c->code == 0)
			good = r == 0 && strcmp(a.local, c->local) == 0 &&
			    strcmp(a.domain, c->domain) == 0 &&
			    rp.notify == c->notify &&
			    strcmp(rp.orcpt, c->orcpt) == 0;
		else
			good = err_is(r, &err, c->code, c->status) &&
			    a.local[0] == '\0' && rp.orcpt[0] == '\0';
		if (!good)
			report(c->arg, r, &err);
		test_assert(good);
		free(in);
	}
	test_end();
}

/* BDAT */

static const struct {
	const char	*arg;
	uint64_t	 max;
	int		 code;
	uint64_t	 size;
	int		 last;
} bdat_cases[] = {
	{ "", 1000, 501, 0, 0 },
	{ "abc", 1000, 501, 0, 0 },
	{ "-1", 1000, 501, 0, 0 },
	{ "+1", 1000, 501, 0, 0 },
	{ " 100", 1000, 501, 0, 0 },
	{ "100LAST", 1000, 501, 0, 0 },
	{ "100 LASTX", 1000, 501, 0, 0 },
	{ "100 FIRST", 1000, 501, 0, 0 },
	{ "100 LAST x", 1000, 501, 0, 0 },
	{ "100\tLAST", 1000, 501, 0, 0 },
	{ "100 LAS", 1000, 501, 0, 0 },
	{ "0x10", 1000, 501, 0, 0 },
	{ "000000000000000000001", UINT64_MAX, 501, 0, 0 },
	{ "18446744073709551616", UINT64_MAX, 552, UINT64_MAX, 0 },
	{ "99999999999999999999 LAST", UINT64_MAX, 552, UINT64_MAX, 1 },
	{ "1001", 1000, 552, 1001, 0 },
	{ "1001 LAST", 1000, 552, 1001, 1 },
	{ "1000", 1000, 0, 1000, 0 },
	{ "100", 1000, 0, 100, 0 },
	{ "0 LAST", 1000, 0, 0, 1 },
	{ "100 last", 1000, 0, 100, 1 },
	{ "100  LAST", 1000, 0, 100, 1 },
	{ "100 LAST ", 1000, 0, 100, 1 },
	{ "100 ", 1000, 0, 100, 0 },
	{ "00000000000000000100", 1000, 0, 100, 0 },
	{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX, 0 },
};

static void
test_bdat(void)
{
	struct smtp_err	 err;
	uint64_t	 size;
	size_t		 i;
	char		*in;
	int		 r, last, good;

	test_begin("smtp_cmd: BDAT size and LAST");
	for (i = 0; i < nelem(bdat_cases); i++) {
		in = test_dup_exact(bdat_cases[i].arg);
		r = smtp_parse_bdat(in, bdat_cases[i].max, &size, &last, &err);
		if (bdat_cases[i].code == 0)
			good = r == 0;
		else
			good = err_is(r, &err, bdat_cases[i].code,
			    bdat_cases[i].code == 552 ? "5.3.4" : "5.5.4");
		good = good && size == bdat_cases[i].size &&
		    last == bdat_cases[i].last;
		if (!good)
			report(bdat_cases[i].arg, r, &err);
		test_assert(good);
		free(in);
	}
	test_end();
}

/* AUTH */

static const struct {
	const char	*arg;
	size_t		 size;
	int		 code;
	const char	*status;
	const char	*mech;
	const char	*initial;	/* NULL: none */
} auth_cases[] = {
	{ "", 64, 501, "5.5.4", NULL, NULL },
	{ " PLAIN", 64, 501, "5.5.4", NULL, NULL },
	{ "PLAIN ", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN  dGVzdA==", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN dGVzdA== ", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN dGVz dA==", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN dGVzdA==\r", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN\tdGVzdA==", 64, 501, "5.5.4", NULL, NULL },
	{ "PLA!N", 64, 501, "5.5.4", NULL, NULL },
	{ "PL\xc3\xa4IN", 64, 501, "5.5.4", NULL, NULL },
	{ "ABCDEFGHIJKLMNOPQRSTU", 64, 501, "5.5.4", NULL, NULL },
	{ "PLAIN abc", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN ab=c", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN a===", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN ====", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN ==", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN dGVz*A==", 64, 501, "5.5.2", NULL, NULL },
	{ "PLAIN dGVzdA==", 14, 500, "5.5.6", NULL, NULL },
	{ "PLAIN", 5, 500, "5.5.6", NULL, NULL },
	{ "PLAIN", 6, 0, NULL, "PLAIN", NULL },
	{ "plain", 64, 0, NULL, "PLAIN", NULL },
	{ "PLAIN dGVzdA==", 15, 0, NULL, "PLAIN", "dGVzdA==" },
	{ "plain AGFsaWNlAHNlY3JldA==", 64, 0, NULL, "PLAIN",
	    "AGFsaWNlAHNlY3JldA==" },
	{ "LOGIN =", 64, 0, NULL, "LOGIN", "=" },
	{ "LOGIN dXNlcg==", 64, 0, NULL, "LOGIN", "dXNlcg==" },
	{ "XOAUTH2 abc=", 64, 0, NULL, "XOAUTH2", "abc=" },
	{ "scram-sha-256 biws", 64, 0, NULL, "SCRAM-SHA-256", "biws" },
	{ "X_Y+/", 64, 501, "5.5.4", NULL, NULL },
	{ "X_Y a+/b", 64, 0, NULL, "X_Y", "a+/b" },
	{ "ABCDEFGHIJKLMNOPQRST", 64, 0, NULL, "ABCDEFGHIJKLMNOPQRST", NULL },
};

static void
test_auth(void)
{
	struct smtp_err	 err;
	const char	*mech, *initial;
	char		 buf[64];
	size_t		 i, j;
	char		*in;
	int		 r, good, clean;

	test_begin("smtp_cmd: AUTH mechanism and initial response");
	for (i = 0; i < nelem(auth_cases); i++) {
		in = test_dup_exact(auth_cases[i].arg);
		memset(buf, 'Z', sizeof(buf));
		r = smtp_parse_auth(in, buf, auth_cases[i].size, &mech,
		    &initial, &err);
		if (auth_cases[i].code == 0)
			good = r == 0 && mech == buf &&
			    strcmp(mech, auth_cases[i].mech) == 0 &&
			    (auth_cases[i].initial == NULL ? initial == NULL :
			    initial != NULL &&
			    strcmp(initial, auth_cases[i].initial) == 0);
		else {
			/* A refused line leaves nothing in buf. */
			for (clean = 1, j = 0; j < sizeof(buf); j++)
				if (buf[j] != 'Z')
					clean = 0;
			good = err_is(r, &err, auth_cases[i].code,
			    auth_cases[i].status) && mech == NULL &&
			    initial == NULL && clean;
		}
		if (!good)
			report(auth_cases[i].arg, r, &err);
		test_assert(good);
		free(in);
	}
	test_end();
}

/* xtext */

static const struct {
	const char	*in;
	size_t		 size;
	const char	*out;		/* NULL: -1 */
} xdec_cases[] = {
	{ "+", 64, NULL },
	{ "a+", 64, NULL },
	{ "+2", 64, NULL },
	{ "+GG", 64, NULL },
	{ "+2G", 64, NULL },
	{ "+00", 64, NULL },
	{ "a+00b", 64, NULL },
	{ "a=b", 64, NULL },
	{ "a b", 64, NULL },
	{ "a\rb", 64, NULL },
	{ "a\nb", 64, NULL },
	{ "a\x7f", 64, NULL },
	{ "\xc3\xa4", 64, NULL },
	{ "abcd", 4, NULL },
	{ "a+2B", 2, NULL },
	{ "x", 0, NULL },
	{ "", 64, "" },
	{ "", 1, "" },
	{ "abcd", 5, "abcd" },
	{ "a+2B", 3, "a+" },
	{ "a+2Bb", 64, "a+b" },
	{ "+3D", 64, "=" },
	{ "+2b+3d", 64, "+=" },
	{ "+0D+0A", 64, "\r\n" },
	{ "+C3+A4", 64, "\xc3\xa4" },
	{ "!~\\\"", 64, "!~\\\"" },
};

static const struct {
	const char	*in;
	size_t		 size;
	const char	*out;
} xenc_cases[] = {
	{ "a+b=c", 64, "a+2Bb+3Dc" },
	{ " ", 64, "+20" },
	{ "\r\n", 64, "+0D+0A" },
	{ "\xc3\xa4", 64, "+C3+A4" },
	{ "~!\"\\", 64, "~!\"\\" },
	{ "", 64, "" },
	{ "", 0, NULL },
	{ "abc", 3, NULL },
	{ "abc", 4, "abc" },
	{ "a+", 4, NULL },
	{ "a+", 5, "a+2B" },
};

static void
test_xtext(void)
{
	char	 buf[64], in[256], enc[3 * 256 + 1], dec[256];
	size_t	 i;
	int	 r;

	test_begin("smtp_cmd: xtext decode and encode");
	for (i = 0; i < nelem(xdec_cases); i++) {
		memset(buf, 'Z', sizeof(buf));
		r = xtext_decode(xdec_cases[i].in, buf, xdec_cases[i].size);
		if (xdec_cases[i].out == NULL)
			test_assert(r == -1 &&
			    (xdec_cases[i].size == 0 || buf[0] == '\0'));
		else
			test_assert(r == (int)strlen(xdec_cases[i].out) &&
			    strcmp(buf, xdec_cases[i].out) == 0);
	}
	for (i = 0; i < nelem(xenc_cases); i++) {
		memset(buf, 'Z', sizeof(buf));
		r = xtext_encode(xenc_cases[i].in, buf, xenc_cases[i].size);
		if (xenc_cases[i].out == NULL)
			test_assert(r == -1 &&
			    (xenc_cases[i].size == 0 || buf[0] == '\0'));
		else
			test_assert(r == (int)strlen(xenc_cases[i].out) &&
			    strcmp(buf, xenc_cases[i].out) == 0);
	}

	/* Every byte survives encode then decode. */
	for (i = 0; i < 255; i++)
		in[i] = (char)(i + 1);
	in[255] = '\0';
	r = xtext_encode(in, enc, sizeof(enc));
	test_assert(r > 0 && strspn(enc, "!\"#$%&'()*+,-./0123456789:;<>?@"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz"
	    "{|}~") == (size_t)r);
	test_assert(xtext_decode(enc, dec, sizeof(dec)) == 255);
	test_assert(strcmp(in, dec) == 0);
	test_end();
}

int
main(void)
{
	test_cmd();
	test_helo();
	test_mail();
	test_mail_texts();
	test_rcpt();
	test_bdat();
	test_auth();
	test_xtext();
	return test_exit();
}
