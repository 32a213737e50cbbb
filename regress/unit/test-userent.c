/*
 * Users table entries (lib/mail/userent.c).
 */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "userent.h"

static void
test_user_parse(void)
{
	struct userent	 u;

	test_begin("userent: hashes holding '=', attributes, refusals");
	test_assert(userent_parse("Frank", "example.test",
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA quota=1M"
	    " scram=SCRAM-SHA-256$4096:c2E=$a2V5:a2V5 services=smtp,imap",
	    &u) == 0);
	test_assert(strncmp(u.password, "{ARGON2ID}$argon2id$v=19$", 25) == 0);
	test_assert(u.quota_bytes == 1024 * 1024);
	test_assert(strcmp(u.scram, "SCRAM-SHA-256$4096:c2E=$a2V5:a2V5") == 0);
	test_assert(u.services == (AUTH_SERVICE_SMTP | AUTH_SERVICE_IMAP));
	test_assert(strcmp(u.address, "frank@example.test") == 0);
	test_assert(strcmp(u.maildir, "example.test/frank") == 0);
	test_assert(userent_parse("g", "example.test", "{SSHA512}YWJj==",
	    &u) == 0 && strcmp(u.password, "{SSHA512}YWJj==") == 0);
	test_assert(userent_parse("g", "example.test", "- maildir=x/y/",
	    &u) == 0 && u.password[0] == '\0' &&
	    strcmp(u.maildir, "x/y") == 0);
	test_assert(userent_parse("g", "example.test", "maildir=x/z", &u) ==
	    0 && u.password[0] == '\0' && strcmp(u.maildir, "x/z") == 0);
	test_assert(userent_parse("g", "example.test", "- services=none", &u)
	    == 0 && u.services == 0);
	test_assert(userent_parse("g", "example.test", "{X}y colour=blue",
	    &u) == -1);
	test_assert(userent_parse("g", "example.test", "{X}y quota=lots",
	    &u) == -1);
	test_assert(userent_parse("g", "example.test",
	    "{X}y maildir=/etc", &u) == -1);
	test_assert(userent_parse("g", "example.test",
	    "{X}y maildir=a/../../b", &u) == -1);
	test_assert(userent_parse("g", "example.test",
	    "{X}y services=smtp,telnet", &u) == -1);
	test_end();
}

static void
test_limits(void)
{
	struct userent	 u;
	char		 big[USERENT_MAX + 10];

	test_begin("userent: lengths, sizes and defaults");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	test_assert(userent_parse("g", "example.test", big, &u) == -1);
	(void)snprintf(big, sizeof(big), "{X}%0600d", 0);
	test_assert(userent_parse("g", "example.test", big, &u) == -1);
	test_assert(userent_parse("g", "example.test", "- quota=17179869184",
	    &u) == 0 && u.quota_bytes == 17179869184ULL);
	test_assert(userent_parse("g", "example.test", "- quota=2G", &u) == 0
	    && u.quota_bytes == 2ULL << 30);
	test_assert(userent_parse("g", "example.test", "- quota=-1", &u) ==
	    -1);
	test_assert(userent_parse("g", "example.test", "- quota=", &u) == -1);
	test_assert(userent_parse("g", "example.test",
	    "- quota=99999999999999999999", &u) == -1);
	test_assert(userent_parse("g", "example.test", "", &u) == 0 &&
	    u.password[0] == '\0' && u.services == AUTH_SERVICE_ALL &&
	    u.quota_bytes == 0);
	test_end();
}

int
main(void)
{
	test_user_parse();
	test_limits();
	return test_exit();
}
