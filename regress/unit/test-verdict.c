/*
 * The gateway's verdict fields (verdict.c): Authentication-Results in
 * our name are found however the sender dresses them, others' stay; the
 * Subject tags are the gateway's alone.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "test.h"
#include "verdict.h"

#define ID	"mail.example.test"

static int
ours(const char *field)
{
	return verdict_authres_ours(field, strlen(field), ID);
}

static void
test_authres(void)
{
	test_begin("verdict: Authentication-Results in our name, and not");
	test_assert(ours("Authentication-Results: mail.example.test; "
	    "smime=pass\r\n"));
	test_assert(ours("AUTHENTICATION-RESULTS:MAIL.Example.TEST;none"));
	test_assert(ours("Authentication-Results: mail.example.test 1; "
	    "none\r\n"));
	test_assert(ours("Authentication-Results:\r\n\tmail.example.test;"
	    " none\r\n"));
	test_assert(ours("Authentication-Results: (a (nested) comment)"
	    " mail.example.test; none\r\n"));
	test_assert(ours("Authentication-Results: (a \\) trick)\r\n "
	    "mail.example.test; none\r\n"));
	test_assert(ours("Authentication-Results: mail.example.test"));
	test_assert(!ours("Authentication-Results: mail.example.test.evil;"
	    " none\r\n"));
	test_assert(!ours("Authentication-Results: evil.mail.example.test;"
	    " none\r\n"));
	test_assert(!ours("Authentication-Results: other.example; "
	    "smime=pass\r\n"));
	test_assert(!ours("Authentication-Results: (unterminated "
	    "mail.example.test; none\r\n"));
	test_assert(!ours("X-Authentication-Results: mail.example.test;"
	    " none\r\n"));
	test_assert(!ours("Authentication-Results"));
	test_assert(verdict_authres_ours("Authentication-Results: "
	    "mail.example.test", 30, ID) == 0);	/* cut short */
	test_assert(verdict_authres_ours("Authentication-Results: x", 25,
	    "") == 0);
	test_end();
}

static void
test_strip(void)
{
	static const char msg[] =
	    "Received: by mx\r\n"
	    "Authentication-Results: mail.example.test; smime=pass\r\n"
	    "X-Osms-SMIME: verified signer=ceo@example.test\r\n"
	    "Authentication-Results: other.example;\r\n spf=pass\r\n"
	    "Authentication-Results: (x)\r\n\tmail.example.test 1;\r\n"
	    " dkim=pass\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "Authentication-Results: mail.example.test; in the body\r\n";
	static const char want[] =
	    "Received: by mx\r\n"
	    "Authentication-Results: other.example;\r\n spf=pass\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "Authentication-Results: mail.example.test; in the body\r\n";
	struct buf	 out = BUF_INIT(1 << 20), tiny = BUF_INIT(10);

	test_begin("verdict: strip our fields from the header only");
	test_assert(verdict_strip(msg, sizeof(msg) - 1, ID, "X-Osms-SMIME:",
	    &out) == 1);
	test_assert(out.len == sizeof(want) - 1 &&
	    memcmp(out.data, want, out.len) == 0);
	buf_reset(&out);
	test_assert(verdict_strip(want, sizeof(want) - 1, ID, "X-Osms-SMIME:",
	    &out) == 0 && out.len == sizeof(want) - 1);
	buf_reset(&out);
	/* LF line ends, no body, no empty line */
	{
		static const char lf[] = "A: 1\nAuthentication-Results: "
		    "mail.example.test;\n x\nB: 2";

		test_assert(verdict_strip(lf, sizeof(lf) - 1, ID, NULL,
		    &out) == 1);
		test_assert(out.len == 9 && memcmp(out.data, "A: 1\nB: 2",
		    9) == 0);
	}
	test_assert(verdict_strip(msg, sizeof(msg) - 1, ID, NULL, &tiny) ==
	    -1);
	buf_free(&out);
	buf_free(&tiny);
	test_end();
}

static int
tagged(const char *msg, const char *tag, const char *want)
{
	struct buf	 out = BUF_INIT(1 << 20);
	int		 rc, ok;

	rc = verdict_tag_subject(msg, strlen(msg), tag, &out);
	ok = want == NULL ? rc == 0 && out.len == 0 : rc == 1 &&
	    out.len == strlen(want) && memcmp(out.data, want, out.len) == 0;
	if (!ok)
		printf("# got %d: %.*s\n", rc, (int)out.len,
		    out.data ? out.data : "");
	buf_free(&out);
	return ok;
}

static void
test_subject(void)
{
	test_begin("verdict: the Subject's tags are the gateway's alone");
	test_assert(tagged("From: a\r\nSubject: hi\r\n\r\nbody", "[signed]",
	    "From: a\r\nSubject: [signed] hi\r\n\r\nbody"));
	test_assert(tagged("From: a\r\nsubject:hi\r\n\r\n", "[encrypted]",
	    "From: a\r\nsubject: [encrypted] hi\r\n\r\n"));
	/* the sender's own tags go, in any case, however many */
	test_assert(tagged("Subject: [Signed]  [encrypted] hi\r\n\r\n", "",
	    "Subject: hi\r\n\r\n"));
	test_assert(tagged("Subject: [signed] hi\r\n\r\n", "[signed]",
	    "Subject: [signed] hi\r\n\r\n"));
	test_assert(tagged("Subject: [signature invalid][signed]\r\n\r\n",
	    "[encrypted]", "Subject: [encrypted]\r\n\r\n"));
	/* nothing to do */
	test_assert(tagged("Subject: hi [signed]\r\n\r\n", "", NULL));
	test_assert(tagged("From: a\r\n\r\nSubject: [signed] body\r\n", "",
	    NULL));
	/* none: one is made */
	test_assert(tagged("From: a\r\n\r\nbody", "[signed]",
	    "Subject: [signed]\r\nFrom: a\r\n\r\nbody"));
	test_assert(tagged("Subject:", "[signed]", "Subject: [signed]"));
	test_end();
}

/* RFC 5322 4.5.3 lets white space stand before the colon; readers
 * (mime.c too) take such a field for the one of that name. */
static void
test_obsolete(void)
{
	static const char msg[] =
	    "X-Osms-SMIME : verified signer=ceo@example.test\r\n"
	    "Authentication-Results\t: mail.example.test; smime=pass\r\n"
	    "X-Osms-SMIMEx: kept\r\n"
	    "\r\nbody\r\n";
	struct buf	 out = BUF_INIT(1 << 20);

	test_begin("verdict: white space before the colon is the same field");
	test_assert(verdict_field_name("From : a", 8, "From:") == 6);
	test_assert(verdict_field_name("FROM:a", 6, "From:") == 5);
	test_assert(verdict_field_name("From \t :", 8, "From:") == 8);
	test_assert(verdict_field_name("Fromage: a", 10, "From:") == 0);
	test_assert(verdict_field_name("From a:", 7, "From:") == 0);
	test_assert(verdict_field_name("From  ", 6, "From:") == 0);
	test_assert(verdict_field_name("From", 4, "From:") == 0);
	test_assert(ours("Authentication-Results : mail.example.test; "
	    "smime=pass\r\n"));
	test_assert(verdict_strip(msg, sizeof(msg) - 1, ID, "X-Osms-SMIME:",
	    &out) == 1);
	test_assert(out.len == 29 && memcmp(out.data,
	    "X-Osms-SMIMEx: kept\r\n\r\nbody\r\n", 29) == 0);
	buf_free(&out);
	test_assert(tagged("Subject : [signed] hi\r\n\r\n", "",
	    "Subject : hi\r\n\r\n"));
	test_assert(tagged("Subject\t:x\r\n\r\n", "[signed]",
	    "Subject\t: [signed] x\r\n\r\n"));
	test_end();
}

int
main(void)
{
	test_authres();
	test_strip();
	test_subject();
	test_obsolete();
	return test_exit();
}
