/*
 * RFC 5321 addresses (lib/mail/addr.c): hostile input first, then the
 * grammar, then printing and round trips.
 *
 * Every input is copied to a buffer of its exact size, so that a read
 * past the NUL is an ASan error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "test.h"

#define U	ADDR_UTF8
#define N	ADDR_NULL_OK
#define P	ADDR_POSTMASTER

struct path_case {
	const char	*in;
	int		 flags;
	int		 ok;
	const char	*local;		/* if ok */
	const char	*domain;	/* if ok */
	const char	*rest;		/* if ok: what follows '>' */
	const char	*why;		/* if !ok and set: part of errstr */
};

/* Print s with C escapes, for the "# ..." diagnostics. */
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

static int
check_path(const struct path_case *c, int mailbox)
{
	struct mailaddr	 a;
	const char	*end = NULL, *why = NULL;
	char		*in = test_dup_exact(c->in);
	int		 r, good;

	if (mailbox)
		r = addr_parse_mailbox(in, c->flags, &a, &why);
	else
		r = addr_parse_path(in, c->flags, &a, &end, &why);
	if (c->ok)
		good = r == 0 && strcmp(a.local, c->local) == 0 &&
		    strcmp(a.domain, c->domain) == 0 &&
		    (mailbox || strcmp(end, c->rest) == 0);
	else
		good = r == -1 && why != NULL && *why != '\0' &&
		    a.local[0] == '\0' && a.domain[0] == '\0' &&
		    (c->why == NULL || strstr(why, c->why) != NULL);
	if (!good) {
		(void)printf("# input \"");
		print_escaped(c->in);
		(void)printf("\" flags %d: r=%d local \"", c->flags, r);
		print_escaped(a.local);
		(void)printf("\" domain \"");
		print_escaped(a.domain);
		(void)printf("\" why \"%s\"\n", why ? why : "(null)");
	}
	free(in);
	return good;
}

static void
run_paths(const char *name, const struct path_case *cases, size_t n,
    int mailbox)
{
	size_t	 i;

	test_begin(name);
	for (i = 0; i < n; i++)
		test_assert(check_path(&cases[i], mailbox));
	test_end();
}

#define RUN(name, t, mb)	run_paths(name, t, sizeof(t) / sizeof(t[0]), mb)

static const struct path_case ctl_cases[] = {
	/* An embedded NUL ends the string: the parser must stop there. */
	{ "<a\0@b.example>", 0, 0, NULL, NULL, NULL, "missing @domain" },
	{ "<a@b.example\0>", 0, 0, NULL, NULL, NULL, "missing '>'" },
	{ "<\"a\0\"@b.example>", 0, 0, NULL, NULL, NULL, "unterminated" },
	{ "<a@[1.2\0.3.4]>", 0, 0, NULL, NULL, NULL, "unterminated" },
	{ "<@a.example\0:u@b>", 0, 0, NULL, NULL, NULL, NULL },
	{ "<a\r@b.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<a\n@b.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<a@b.example\r\n>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<a@b.ex\rample>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<a\t@b.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<a\x7f@b.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<a@b\x01.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<\"a\r\nRCPT TO:<x@y>\"@b.example>", 0, 0, NULL, NULL, NULL,
	    "control" },
	{ "<\"a\\\r\"@b.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<\"a\\\n\"@b.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<\"a\\\x7f\"@b.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<\"a\x1b\"@b.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<\"a\t\"@b.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<a@[1.2.3.4\r]>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<@a\r.example:u@b.example>", 0, 0, NULL, NULL, NULL, "control" },
	{ "<a\r@b.example>", U, 0, NULL, NULL, NULL, "control" },
};

static const struct path_case relay_cases[] = {
	/* SECURITY.md H1: valid local parts, split at the right '@'. */
	{ "<u%ext.test@example.test>", 0, 1, "u%ext.test", "example.test",
	    "", NULL },
	{ "<ext.test!u@example.test>", 0, 1, "ext.test!u", "example.test",
	    "", NULL },
	{ "<\"u@ext.test\"@example.test>", 0, 1, "u@ext.test",
	    "example.test", "", NULL },
	{ "<\"u@ext.test\"@example.test>", U, 1, "u@ext.test",
	    "example.test", "", NULL },
	{ "<u\\@ext.test@example.test>", 0, 0, NULL, NULL, NULL, NULL },
	{ "<@example.test:u@ext.test>", 0, 1, "u", "ext.test", "", NULL },
	{ "<u@ext.test@example.test>", 0, 0, NULL, NULL, NULL,
	    "more than one @" },
	{ "<u@[192.0.2.1]>", 0, 1, "u", "[192.0.2.1]", "", NULL },
	{ "<u@192.0.2.1>", 0, 0, NULL, NULL, NULL, "all-numeric" },
	{ "<@192.0.2.1:u@example.test>", 0, 0, NULL, NULL, NULL,
	    "all-numeric" },
	{ "<u@ext.test.>", 0, 0, NULL, NULL, NULL, "trailing dot" },
	{ "<u@ext.test:u@example.test>", 0, 0, NULL, NULL, NULL, NULL },
	{ "<u@example.test,@ext.test:v@x.test>", 0, 0, NULL, NULL, NULL,
	    NULL },
	{ "<\"u\"@ext.test\"@example.test>", 0, 0, NULL, NULL, NULL, NULL },
};

static const struct path_case route_cases[] = {
	{ "<@a.example,@b.example:user@c.example>", 0, 1, "user",
	    "c.example", "", NULL },
	{ "<@A.EXAMPLE:user@C.Example>", 0, 1, "user", "c.example", "",
	    NULL },
	{ "<@a.example,b.example:u@c.example>", 0, 0, NULL, NULL, NULL,
	    "source route" },
	{ "<@a..example:u@c.example>", 0, 0, NULL, NULL, NULL,
	    "empty label" },
	{ "<@a.example.:u@c.example>", 0, 0, NULL, NULL, NULL,
	    "trailing dot" },
	{ "<@-a.example:u@c.example>", 0, 0, NULL, NULL, NULL, "hyphen" },
	{ "<@:u@c.example>", 0, 0, NULL, NULL, NULL, "missing domain" },
	{ "<@a.example:>", 0, 0, NULL, NULL, NULL, "empty local part" },
	{ "<@a.example>", 0, 0, NULL, NULL, NULL, "empty local part" },
	{ "<@example.com>", 0, 0, NULL, NULL, NULL, "empty local part" },
	{ "<@a.example,@b.example>", 0, 0, NULL, NULL, NULL,
	    "empty local part" },
	{ "<@a.example", 0, 0, NULL, NULL, NULL, "unterminated" },
	{ "<@a.example,", 0, 0, NULL, NULL, NULL, "source route" },
	{ "<@[192.0.2.1]:u@c.example>", 0, 0, NULL, NULL, NULL,
	    "literal not allowed" },
	{ "<@a.example:@b.example:u@c.example>", 0, 0, NULL, NULL, NULL,
	    NULL },
	{ "<@a.example:Postmaster>", P, 0, NULL, NULL, NULL,
	    "missing @domain" },
	{ "<@a.example:u@[192.0.2.1]>", 0, 1, "u", "[192.0.2.1]", "",
	    NULL },
	{ "<@a_b.example:u@c.example>", 0, 0, NULL, NULL, NULL,
	    "invalid character in domain" },
	{ "<@\xc3\xa4.example:u@c.example>", 0, 0, NULL, NULL, NULL,
	    "SMTPUTF8" },
	{ "<@\xc3\xa4.example:u@c.example>", U, 1, "u", "c.example", "",
	    NULL },
};

static const struct path_case length_cases[] = {
	/* 128-byte local part: accepted; 129: refused. */
	{ "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "@x.example>", 0, 1,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "x.example", "", NULL },
	{ "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "a@x.example>", 0, 0, NULL, NULL, NULL,
	  "local part longer than 128" },
	{ "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	  "a@x.example>", 0, 0, NULL, NULL, NULL,
	  "local part longer than 128" },
	/* Quoted: the limit is on the value, not on the wire form. */
	{ "<\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
	  "\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"@x.example>", 0, 1,
	  "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\""
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x.example", "", NULL },
	{ "<\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
	  "\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"@x.example>", 0, 0, NULL, NULL,
	  NULL, "local part longer than 128" },
	/* A label of 63 bytes: accepted; 64: refused. */
	{ "<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".example>", 0, 1, "u",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".example", "", NULL },
	{ "<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".example>", 0, 0, NULL, NULL, NULL, "label longer than 63" },
	/* Four labels of 63 and three dots: 255, the most. */
	{ "<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa>",
	  0, 1, "u",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "", NULL },
	{ "<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "a>", 0, 0, NULL, NULL, NULL, "domain longer than 255" },
	{ "<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".a>", 0, 0, NULL, NULL, NULL, "domain longer than 255" },
	/* U-labels count bytes: 21 three-byte characters fit, 22 do not. */
	{ "<u@\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac.example>", U, 1, "u",
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac.example", "", NULL },
	{ "<u@\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac.example>", U, 0, NULL, NULL, NULL,
	  "label longer than 63" },
	{ "<u@[IPv6:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0"
	  "000:0000:0000:0]>", 0, 0, NULL, NULL, NULL, "literal too long" },
};

static const struct path_case utf8_cases[] = {
	/* UTF-8 without SMTPUTF8 */
	{ "<\xce\xb4@example.com>", 0, 0, NULL, NULL, NULL, "SMTPUTF8" },
	{ "<u@\xce\xb4.example>", 0, 0, NULL, NULL, NULL, "SMTPUTF8" },
	{ "<\"\xce\xb4\"@example.com>", 0, 0, NULL, NULL, NULL, "SMTPUTF8" },
	{ "<u@[\xce\xb4]>", 0, 0, NULL, NULL, NULL, "literal" },
	/* with it */
	{ "<\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae@\xcf\x80\xce\xb1"
	  "\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3\xce\xbc\xce\xb1."
	  "\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae>", U, 1,
	  "\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae",
	  "\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3"
	  "\xce\xbc\xce\xb1.\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae",
	  "", NULL },
	{ "<User@EXAMPLE.\xc3\x84\xc3\x96>", U, 1, "User",
	    "example.\xc3\x84\xc3\x96", "", NULL },
	{ "<\"\xe6\x97\xa5 \xe6\x9c\xac\"@example.com>", U, 1,
	    "\xe6\x97\xa5 \xe6\x9c\xac", "example.com", "", NULL },
	{ "<\xf0\x9f\x98\x80@example.com>", U, 1, "\xf0\x9f\x98\x80",
	    "example.com", "", NULL },
	{ "<\xf4\x8f\xbf\xbf@example.com>", U, 1, "\xf4\x8f\xbf\xbf",
	    "example.com", "", NULL },
	{ "<\xed\x9f\xbf@example.com>", U, 1, "\xed\x9f\xbf",
	    "example.com", "", NULL },
	/* broken UTF-8 */
	{ "<\xc0\xaf@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\xc1\xbf@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\xe0\x80\xaf@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\xe0\x9f\xbf@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\xf0\x80\x80\xaf@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\xf0\x8f\xbf\xbf@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\xed\xa0\x80@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\xed\xbf\xbf@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\xf4\x90\x80\x80@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\xf5\x80\x80\x80@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\xff@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\x80@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<a\xc3@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<a\xe2\x82@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<a@example.\xe2\x82", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<a@example.\xf0\x9f\x98", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\"a\xc3\"@example.com>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<\"\\\xc3\xa4\"@example.com>", U, 0, NULL, NULL, NULL,
	    "quoted pair" },
	{ "<u@\xc3\xa4\xc3-.example>", U, 0, NULL, NULL, NULL, "UTF-8" },
	{ "<u@[IPv6:\xc3\xa4::1]>", U, 0, NULL, NULL, NULL, "literal" },
};

static const struct path_case literal_cases[] = {
	{ "<u@[1.2.3.4]>", 0, 1, "u", "[1.2.3.4]", "", NULL },
	{ "<u@[IPv6:2001:db8::1]>", 0, 1, "u", "[ipv6:2001:db8::1]", "",
	    NULL },
	{ "<u@[IPv6:2001:DB8::A]>", 0, 1, "u", "[ipv6:2001:db8::a]", "",
	    NULL },
	{ "<u@[ipv6:::1]>", 0, 1, "u", "[ipv6:::1]", "", NULL },
	{ "<u@[IPv6:::ffff:192.0.2.1]>", 0, 1, "u",
	    "[ipv6:::ffff:192.0.2.1]", "", NULL },
	{ "<u@[IPv6:1:2:3:4:5:6:7:8]>", 0, 1, "u", "[ipv6:1:2:3:4:5:6:7:8]",
	    "", NULL },
	{ "<u@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, 0, NULL, NULL, NULL, "IPv6" },
	{ "<u@[IPv6:1.2.3.4]>", 0, 0, NULL, NULL, NULL, "IPv6" },
	{ "<u@[IPv6:fe80::1%eth0]>", 0, 0, NULL, NULL, NULL, "IPv6" },
	{ "<u@[IPv6:2001:db8:::1]>", 0, 0, NULL, NULL, NULL, "IPv6" },
	{ "<u@[IPv6:]>", 0, 0, NULL, NULL, NULL, "IPv6" },
	{ "<u@[2001:db8::1]>", 0, 0, NULL, NULL, NULL, "general" },
	{ "<u@[x-tag:foo]>", 0, 0, NULL, NULL, NULL, "general" },
	{ "<u@[1.2.3]>", 0, 0, NULL, NULL, NULL, "IPv4" },
	{ "<u@[256.1.1.1]>", 0, 0, NULL, NULL, NULL, "IPv4" },
	{ "<u@[1.2.3.4.5]>", 0, 0, NULL, NULL, NULL, "IPv4" },
	{ "<u@[example.com]>", 0, 0, NULL, NULL, NULL, "IPv4" },
	{ "<u@[]>", 0, 0, NULL, NULL, NULL, "empty address literal" },
	{ "<u@[1.2.3.4>", 0, 0, NULL, NULL, NULL, "unterminated" },
	{ "<u@[1.2.3.4", 0, 0, NULL, NULL, NULL, "unterminated" },
	{ "<u@[1.2.3.4]x>", 0, 0, NULL, NULL, NULL, "invalid character" },
	{ "<u@[1.2.3.4].example>", 0, 0, NULL, NULL, NULL,
	    "invalid character" },
	{ "<u@[ 1.2.3.4]>", 0, 0, NULL, NULL, NULL, "invalid character" },
	{ "<u@[1.2.3.4\\]>", 0, 0, NULL, NULL, NULL, "invalid character" },
	{ "<u@[[1.2.3.4]]>", 0, 0, NULL, NULL, NULL, "invalid character" },
	{ "<u@example.[1.2.3.4]>", 0, 0, NULL, NULL, NULL, NULL },
};

static const struct path_case syntax_cases[] = {
	/* dots, hyphens, empty parts */
	{ "<u@example.com.>", 0, 0, NULL, NULL, NULL, "trailing dot" },
	{ "<u.@example.com>", 0, 0, NULL, NULL, NULL, "ends with a dot" },
	{ "<.u@example.com>", 0, 0, NULL, NULL, NULL, "starts with a dot" },
	{ "<u..v@example.com>", 0, 0, NULL, NULL, NULL, "two dots" },
	{ "<u@.example.com>", 0, 0, NULL, NULL, NULL, "starts with a dot" },
	{ "<u@example..com>", 0, 0, NULL, NULL, NULL, "empty label" },
	{ "<u@.>", 0, 0, NULL, NULL, NULL, "starts with a dot" },
	{ "<u@-example.com>", 0, 0, NULL, NULL, NULL, "starts with a hyphen" },
	{ "<u@example-.com>", 0, 0, NULL, NULL, NULL, "ends with a hyphen" },
	{ "<u@example.com->", 0, 0, NULL, NULL, NULL, "ends with a hyphen" },
	{ "<u@ex_ample.com>", 0, 0, NULL, NULL, NULL, "invalid character" },
	{ "<u@exa mple.com>", 0, 0, NULL, NULL, NULL, "invalid character" },
	{ "<u@>", 0, 0, NULL, NULL, NULL, "missing domain" },
	{ "<u>", 0, 0, NULL, NULL, NULL, "missing @domain" },
	{ "<@>", 0, 0, NULL, NULL, NULL, NULL },
	{ "<\"\"@example.com>", 0, 0, NULL, NULL, NULL, "empty quoted" },
	{ "<\"\"@example.com>", U | N | P, 0, NULL, NULL, NULL,
	    "empty quoted" },
	/* brackets */
	{ "u@example.com", 0, 0, NULL, NULL, NULL, "missing '<'" },
	{ "", 0, 0, NULL, NULL, NULL, "missing address" },
	{ "<u@example.com", 0, 0, NULL, NULL, NULL, "missing '>'" },
	{ "< u@example.com>", 0, 0, NULL, NULL, NULL, "invalid character" },
	{ "<u@example.com >", 0, 0, NULL, NULL, NULL, "invalid character" },
	{ "<u@example.com>>", 0, 1, "u", "example.com", ">", NULL },
	{ "<<u@example.com>", 0, 0, NULL, NULL, NULL, "invalid character" },
	{ "<a b@example.com>", 0, 0, NULL, NULL, NULL, "invalid character" },
	{ "<a(b)@example.com>", 0, 0, NULL, NULL, NULL, NULL },
	{ "<a,b@example.com>", 0, 0, NULL, NULL, NULL, NULL },
	{ "<a;b@example.com>", 0, 0, NULL, NULL, NULL, NULL },
	{ "<a[b]@example.com>", 0, 0, NULL, NULL, NULL, NULL },
	{ "<a:b@example.com>", 0, 0, NULL, NULL, NULL, NULL },
	{ "<a\\b@example.com>", 0, 0, NULL, NULL, NULL, NULL },
	/* null path and Postmaster */
	{ "<>", 0, 0, NULL, NULL, NULL, "not allowed" },
	{ "<>", N, 1, "", "", "", NULL },
	{ "<> SIZE=10", N, 1, "", "", " SIZE=10", NULL },
	{ "<Postmaster>", 0, 0, NULL, NULL, NULL, "missing @domain" },
	{ "<Postmaster>", P, 1, "Postmaster", "", "", NULL },
	{ "<postMASTER>", P, 1, "postMASTER", "", "", NULL },
	{ "<\"Postmaster\">", P, 0, NULL, NULL, NULL, "missing @domain" },
	{ "<Postmaster.x>", P, 0, NULL, NULL, NULL, "missing @domain" },
	{ "<Postmaster@Example.COM>", 0, 1, "Postmaster", "example.com", "",
	    NULL },
	/* valid ones, end pointer */
	{ "<User@EXAMPLE.Com>", 0, 1, "User", "example.com", "", NULL },
	{ "<a@b.example> SIZE=10", 0, 1, "a", "b.example", " SIZE=10",
	    NULL },
	{ "<a.b.c@x-y.example>", 0, 1, "a.b.c", "x-y.example", "", NULL },
	{ "<!#$%&'*+-/=?^_`{|}~@x>", 0, 1, "!#$%&'*+-/=?^_`{|}~", "x", "",
	    NULL },
	{ "<u@123.example>", 0, 1, "u", "123.example", "", NULL },
	{ "<u@1example.com>", 0, 1, "u", "1example.com", "", NULL },
	{ "<u@example.1a>", 0, 1, "u", "example.1a", "", NULL },
	{ "<u@example.123>", 0, 0, NULL, NULL, NULL, "all-numeric" },
	{ "<u@123>", 0, 0, NULL, NULL, NULL, "all-numeric" },
	{ "<u@xn--bcher-kva.example>", 0, 1, "u", "xn--bcher-kva.example",
	    "", NULL },
	{ "<u@localhost>", 0, 1, "u", "localhost", "", NULL },
	{ "<\"a b\"@example.com>", 0, 1, "a b", "example.com", "", NULL },
	{ "<\"a\\ b\"@example.com>", 0, 1, "a b", "example.com", "", NULL },
	{ "<\"a\\\"b\"@example.com>", 0, 1, "a\"b", "example.com", "", NULL },
	{ "<\"a\\\\b\"@example.com>", 0, 1, "a\\b", "example.com", "",
	    NULL },
	{ "<\"abc\"@example.com>", 0, 1, "abc", "example.com", "", NULL },
	{ "<\"a>b\"@example.com>", 0, 1, "a>b", "example.com", "", NULL },
	{ "<\"a\"b@example.com>", 0, 0, NULL, NULL, NULL,
	    "after quoted local part" },
	{ "<\"a@example.com>", 0, 0, NULL, NULL, NULL, "unterminated" },
	{ "<\"a\\", 0, 0, NULL, NULL, NULL, "unterminated" },
	{ "<\"a\\\"@example.com>", 0, 0, NULL, NULL, NULL, "unterminated" },
	{ "<a\"b\"@example.com>", 0, 0, NULL, NULL, NULL, NULL },
};

static const struct path_case mailbox_cases[] = {
	{ "u@example.com", 0, 1, "u", "example.com", NULL, NULL },
	{ "U@Example.COM", 0, 1, "U", "example.com", NULL, NULL },
	{ "\"a b\"@example.com", 0, 1, "a b", "example.com", NULL, NULL },
	{ "u@[192.0.2.1]", 0, 1, "u", "[192.0.2.1]", NULL, NULL },
	{ "", N, 1, "", "", NULL, NULL },
	{ "", 0, 0, NULL, NULL, NULL, "missing address" },
	{ "Postmaster", P, 1, "Postmaster", "", NULL, NULL },
	{ "Postmaster", 0, 0, NULL, NULL, NULL, "missing @domain" },
	{ "<u@example.com>", 0, 0, NULL, NULL, NULL, NULL },
	{ "u@example.com>", 0, 0, NULL, NULL, NULL, NULL },
	{ "u@example.com ", 0, 0, NULL, NULL, NULL, NULL },
	{ "u@example.com\n", 0, 0, NULL, NULL, NULL, "control" },
	{ "@a:u@example.com", 0, 0, NULL, NULL, NULL, NULL },
	{ "u@example.com.", 0, 0, NULL, NULL, NULL, "trailing dot" },
	{ "u@ext.test@example.test", 0, 0, NULL, NULL, NULL,
	    "more than one @" },
	{ "\xc3\xa4@example.com", 0, 0, NULL, NULL, NULL, "SMTPUTF8" },
	{ "\xc3\xa4@example.com", U, 1, "\xc3\xa4", "example.com", NULL,
	    NULL },
};

struct fmt_case {
	const char	*local;
	const char	*domain;
	const char	*out;		/* NULL: -1 */
};

static const struct fmt_case fmt_cases[] = {
	{ "u", "example.com", "u@example.com" },
	{ "a.b", "example.com", "a.b@example.com" },
	{ "a b", "example.com", "\"a b\"@example.com" },
	{ "a\"b\\c", "x.example", "\"a\\\"b\\\\c\"@x.example" },
	{ ".a", "x.example", "\".a\"@x.example" },
	{ "a.", "x.example", "\"a.\"@x.example" },
	{ "a..b", "x.example", "\"a..b\"@x.example" },
	{ "u@ext.test", "example.test", "\"u@ext.test\"@example.test" },
	{ "u%ext.test", "example.test", "u%ext.test@example.test" },
	{ "\xc3\xa4", "example.com", "\xc3\xa4@example.com" },
	{ "\xc3\xa4 x", "example.com", "\"\xc3\xa4 x\"@example.com" },
	{ "", "", "" },
	{ "Postmaster", "", "Postmaster" },
	{ "u", "[ipv6:::1]", "u@[ipv6:::1]" },
	/* Not made by the parser: refused. */
	{ "", "example.com", NULL },
	{ "a\rb", "example.com", NULL },
	{ "a", "exa\nmple.com", NULL },
};

static void
test_control(void)
{
	RUN("addr: NUL, CR, LF and other control bytes refused", ctl_cases,
	    0);
}

static void
test_relay(void)
{
	RUN("addr: %, !, quoted @ and double @ (H1) split right", relay_cases,
	    0);
}

static void
test_route(void)
{
	RUN("addr: source routes checked and dropped", route_cases, 0);
}

static void
test_length(void)
{
	RUN("addr: local, label, domain and literal length limits",
	    length_cases, 0);
}

static void
test_utf8(void)
{
	RUN("addr: UTF-8 only with SMTPUTF8, and only well-formed",
	    utf8_cases, 0);
}

static void
test_literal(void)
{
	RUN("addr: IPv4 and IPv6 literals, general literals refused",
	    literal_cases, 0);
}

static void
test_syntax(void)
{
	RUN("addr: dots, hyphens, quotes, brackets, <> and Postmaster",
	    syntax_cases, 0);
}

static void
test_mailbox(void)
{
	RUN("addr: bare mailboxes", mailbox_cases, 1);
}

static void
test_format(void)
{
	struct mailaddr	 a;
	char		 buf[ADDR_MAX_TEXT + 2];
	size_t		 i;
	int		 r;

	test_begin("addr: addr_format quotes only when needed");
	for (i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		memset(&a, 0, sizeof(a));
		memcpy(a.local, fmt_cases[i].local,
		    strlen(fmt_cases[i].local) + 1);
		memcpy(a.domain, fmt_cases[i].domain,
		    strlen(fmt_cases[i].domain) + 1);
		r = addr_format(&a, buf, sizeof(buf));
		if (fmt_cases[i].out == NULL)
			test_assert(r == -1 && buf[0] == '\0');
		else
			test_assert(r == (int)strlen(fmt_cases[i].out) &&
			    strcmp(buf, fmt_cases[i].out) == 0);
	}

	/* Buffer sizes: exact fit, one short, zero. */
	memset(&a, 0, sizeof(a));
	memcpy(a.local, "a b", 4);
	memcpy(a.domain, "x.example", 10);
	test_assert(addr_format(&a, buf, 16) == 15);	/* "a b"@x.example */
	test_assert(addr_format(&a, buf, 15) == -1 && buf[0] == '\0');
	test_assert(addr_format(&a, buf, 4) == -1 && buf[0] == '\0');
	test_assert(addr_format(&a, buf, 0) == -1);
	memcpy(a.local, "a\"", 3);
	test_assert(addr_format(&a, buf, 16) == 15);	/* "a\""@x.example */
	test_assert(addr_format(&a, buf, 15) == -1);
	memcpy(a.local, "ab", 3);
	test_assert(addr_format(&a, buf, 13) == 12);
	test_assert(addr_format(&a, buf, 12) == -1);

	/* Unterminated fields are refused, not read past. */
	memset(a.local, 'a', sizeof(a.local));
	test_assert(addr_format(&a, buf, sizeof(buf)) == -1);
	test_end();
}

static const struct {
	const char	*in;
	int		 flags;
} rt_cases[] = {
	{ "<u@example.com>", 0 },
	{ "<\"a b\"@example.com>", 0 },
	{ "<\"a\\\"b\"@example.com>", 0 },
	{ "<\"a\\\\b\"@example.com>", 0 },
	{ "<\"a\\b\"@example.com>", 0 },
	{ "<\".a\"@example.com>", 0 },
	{ "<\"a..b\"@example.com>", 0 },
	{ "<\"u@ext.test\"@example.test>", 0 },
	{ "<\"\\ \"@example.com>", 0 },
	{ "<\"abc\"@example.com>", 0 },
	{ "<@a.example,@b.example:user@c.example>", 0 },
	{ "<u@[IPv6:2001:DB8::1]>", 0 },
	{ "<u@[192.0.2.1]>", 0 },
	{ "<>", N },
	{ "<Postmaster>", P },
	{ "<\xc3\xa4@\xc3\xb6.example>", U },
	{ "<\"\xc3\xa4 \\\"\"@EXAMPLE.com>", U },
};

static void
test_roundtrip(void)
{
	struct mailaddr	 a, b;
	const char	*end, *why;
	char		 buf[ADDR_MAX_TEXT + 1];
	size_t		 i;
	int		 r;

	test_begin("addr: parse -> format -> parse gives the same address");
	for (i = 0; i < sizeof(rt_cases) / sizeof(rt_cases[0]); i++) {
		r = addr_parse_path(rt_cases[i].in, rt_cases[i].flags, &a,
		    &end, &why);
		test_assert(r == 0);
		test_assert(addr_format(&a, buf, sizeof(buf)) >= 0);
		test_assert(addr_parse_mailbox(buf, rt_cases[i].flags, &b,
		    &why) == 0);
		test_assert(strcmp(a.local, b.local) == 0 &&
		    strcmp(a.domain, b.domain) == 0);
	}

	/*
	 * The longest printed form: a 128-byte local part of '"' (each
	 * escaped) and a 255-byte domain. It fits in ADDR_MAX_TEXT bytes
	 * plus the NUL.
	 */
	memset(&a, 0, sizeof(a));
	memset(a.local, '"', ADDR_MAX_LOCAL);
	memset(a.domain, 'a', ADDR_MAX_DOMAIN);
	for (i = 63; i < ADDR_MAX_DOMAIN; i += 64)
		a.domain[i] = '.';
	r = addr_format(&a, buf, sizeof(buf));
	test_assert(r > 0 && r <= ADDR_MAX_TEXT);
	test_assert(addr_parse_mailbox(buf, 0, &b, &why) == 0);
	test_assert(memcmp(&a, &b, sizeof(a)) == 0);
	test_end();
}

static void
test_helpers(void)
{
	struct mailaddr	 a;
	const char	*why;

	test_begin("addr: is_null, is_utf8, domain_eq, domain_valid");
	test_assert(addr_parse_mailbox("", N, &a, &why) == 0);
	test_assert(addr_is_null(&a) && !addr_is_utf8(&a));
	test_assert(addr_parse_mailbox("Postmaster", P, &a, &why) == 0);
	test_assert(!addr_is_null(&a));
	test_assert(addr_parse_mailbox("u@Example.COM", 0, &a, &why) == 0);
	test_assert(!addr_is_null(&a) && !addr_is_utf8(&a));
	test_assert(addr_domain_eq(&a, "example.com"));
	test_assert(addr_domain_eq(&a, "EXAMPLE.com"));
	test_assert(!addr_domain_eq(&a, "example.co"));
	test_assert(!addr_domain_eq(&a, "example.com."));
	test_assert(!addr_domain_eq(&a, NULL));
	test_assert(addr_parse_mailbox("\xc3\xa4@x.example", U, &a,
	    &why) == 0);
	test_assert(addr_is_utf8(&a));
	test_assert(addr_parse_mailbox("u@\xc3\xa4.example", U, &a,
	    &why) == 0);
	test_assert(addr_is_utf8(&a));

	test_assert(addr_domain_valid("example.com", 0));
	test_assert(addr_domain_valid("EXAMPLE.com", 0));
	test_assert(addr_domain_valid("a", 0));
	test_assert(addr_domain_valid("xn--bcher-kva.example", 0));
	test_assert(!addr_domain_valid("", 0));
	test_assert(!addr_domain_valid(NULL, 0));
	test_assert(!addr_domain_valid("example.com.", 0));
	test_assert(!addr_domain_valid(".example.com", 0));
	test_assert(!addr_domain_valid("a..b", 0));
	test_assert(!addr_domain_valid("-a.b", 0));
	test_assert(!addr_domain_valid("a-.b", 0));
	test_assert(!addr_domain_valid("a_b.c", 0));
	test_assert(!addr_domain_valid("a b", 0));
	test_assert(!addr_domain_valid("a\r\n", 0));
	test_assert(!addr_domain_valid("[192.0.2.1]", 0));
	test_assert(!addr_domain_valid("192.0.2.1", 0));
	test_assert(addr_domain_valid("0.example", 0));
	test_assert(!addr_domain_valid("u@example.com", 0));
	test_assert(!addr_domain_valid("b\xc3\xbc" "cher.example", 0));
	test_assert(addr_domain_valid("b\xc3\xbc" "cher.example", 1));
	test_assert(!addr_domain_valid("b\xc3" "cher.example", 1));
	test_assert(!addr_domain_valid("b\xed\xa0\x80.example", 1));
	test_end();
}

int
main(void)
{
	test_control();
	test_relay();
	test_route();
	test_length();
	test_utf8();
	test_literal();
	test_syntax();
	test_mailbox();
	test_format();
	test_roundtrip();
	test_helpers();
	return test_exit();
}
