/*
 * MTA-STS (mtasts.c): the TXT record, the policy file, and MX matching,
 * with the examples of RFC 8461 and the ways a policy can be wrong.
 */
#include <string.h>

#include "mtasts.h"
#include "test.h"

static int
txt(const char *s, char *id, size_t size)
{
	return sts_txt_id(s, strlen(s), id, size);
}

static void
test_txt(void)
{
	char	 id[STS_MAX_ID + 1];

	test_begin("mta-sts: TXT record");
	test_assert(txt("v=STSv1; id=20160831085700Z;", id, sizeof(id)) == 0 &&
	    strcmp(id, "20160831085700Z") == 0);
	test_assert(txt("v=STSv1;id=abc", id, sizeof(id)) == 0 &&
	    strcmp(id, "abc") == 0);
	test_assert(txt("v=STSv1; ext=1; id=x9 ", id, sizeof(id)) == 0 &&
	    strcmp(id, "x9") == 0);
	/* Version first, exactly one id of at most 32 letters and digits. */
	test_assert(txt("id=abc; v=STSv1", id, sizeof(id)) == -1);
	test_assert(txt("v=STSv1", id, sizeof(id)) == -1);
	test_assert(txt("v=STSv1; id=a-b", id, sizeof(id)) == -1);
	test_assert(txt("v=STSv1; id=a; id=b", id, sizeof(id)) == -1);
	test_assert(txt("v=STSv1; id=", id, sizeof(id)) == -1);
	test_assert(txt("v=STSv1; id=123456789012345678901234567890123", id,
	    sizeof(id)) == -1);
	test_assert(txt("v=STSv1; junk", id, sizeof(id)) == -1);
	test_assert(txt("v=spf1 -all", id, sizeof(id)) == -1);
	test_assert(txt("v=STSv1 id=a", id, sizeof(id)) == -1);
	test_end();
}

static int
parse(const char *s, struct sts_policy *p)
{
	const char	*err;

	return sts_parse(s, strlen(s), p, &err);
}

static void
test_policy(void)
{
	struct sts_policy	 p;
	const char		*err;
	static char		 big[STS_MAX_POLICY + 2];

	test_begin("mta-sts: policy file");
	test_assert(parse("version: STSv1\r\nmode: enforce\r\n"
	    "mx: mail.example.com\r\nmx: *.example.net\r\n"
	    "mx: backupmx.example.com\r\nmax_age: 604800\r\n", &p) == 0);
	test_assert(p.mode == STS_MODE_ENFORCE && p.max_age == 604800 &&
	    p.nmx == 3 && strcmp(p.mx[1], "*.example.net") == 0);
	/* LF line ends, spaces around values, unknown keys, MX case. */
	test_assert(parse("version:STSv1\nmode:  testing \nmx: MX.Example.ORG"
	    "\nfoo: bar\nmax_age:86400\n", &p) == 0 &&
	    p.mode == STS_MODE_TESTING && strcmp(p.mx[0],
	    "mx.example.org") == 0);
	test_assert(parse("version: STSv1\nmode: none\nmax_age: 1\n", &p) ==
	    0 && p.mode == STS_MODE_NONE && p.nmx == 0);
	/* max_age is capped at a year. */
	test_assert(parse("version: STSv1\nmode: none\nmax_age: 9999999999\n",
	    &p) == 0 && p.max_age == STS_MAX_AGE);
	test_assert(parse("version: STSv2\nmode: enforce\nmx: a.b\n"
	    "max_age: 1\n", &p) == -1);
	test_assert(parse("mode: enforce\nmx: a.b\nmax_age: 1\n", &p) == -1);
	test_assert(parse("version: STSv1\nmode: always\nmx: a.b\n"
	    "max_age: 1\n", &p) == -1);
	test_assert(parse("version: STSv1\nmode: enforce\nmax_age: 1\n",
	    &p) == -1);		/* enforce without mx */
	test_assert(parse("version: STSv1\nmode: enforce\nmx: a.b\n"
	    "max_age: -1\n", &p) == -1);
	test_assert(parse("version: STSv1\nmode: enforce\nmx: a..b\n"
	    "max_age: 1\n", &p) == -1);
	test_assert(parse("version: STSv1\nmode: enforce\nmx: *.*.b\n"
	    "max_age: 1\n", &p) == -1);
	test_assert(parse("version: STSv1\nmode: enforce\nmx a.b\n"
	    "max_age: 1\n", &p) == -1);
	test_assert(parse("version: STSv1\nmode: enforce\nmode: none\n"
	    "mx: a.b\nmax_age: 1\n", &p) == -1);
	memset(big, '\n', sizeof(big) - 1);
	test_assert(sts_parse(big, sizeof(big) - 1, &p, &err) == -1 &&
	    strcmp(err, "policy too large") == 0);
	test_end();
}

static void
test_match(void)
{
	struct sts_policy	 p;

	test_begin("mta-sts: MX patterns");
	test_assert(parse("version: STSv1\nmode: enforce\nmx: mail.example.com"
	    "\nmx: *.example.net\nmax_age: 1\n", &p) == 0);
	test_assert(sts_mx_match(&p, "mail.example.com"));
	test_assert(sts_mx_match(&p, "MAIL.example.COM"));
	test_assert(sts_mx_match(&p, "mx1.example.net"));
	/* A wildcard covers one label only, and not the bare domain. */
	test_assert(!sts_mx_match(&p, "a.b.example.net"));
	test_assert(!sts_mx_match(&p, "example.net"));
	test_assert(!sts_mx_match(&p, "mail.example.com.evil.test"));
	test_assert(!sts_mx_match(&p, "xmail.example.com"));
	test_end();
}

int
main(void)
{
	test_txt();
	test_policy();
	test_match();
	return test_exit();
}
