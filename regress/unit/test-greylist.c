/*
 * checkd's greylisting (greylist.c): the delay, the retry, the
 * auto-whitelist, expiry, and the journal read again after a restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "greylist.h"
#include "test.h"

#define T0	1800000000

static char	 dir[] = "/tmp/osms-grey-XXXXXX";
static char	 path[256];

static struct greylist *
open_it(void)
{
	struct greylist	*g;
	char		 err[256];

	if ((g = greylist_open(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "greylist_open: %s\n", err);
		exit(2);
	}
	return g;
}

static void
test_delay(void)
{
	struct greylist	*g = open_it();
	const char	*n = "192.0.2.0/24";

	test_begin("greylist: deferred, then passed after the delay");
	test_assert(greylist_check(g, n, "a@x.test", "b@y.test", 300, T0) ==
	    300);
	test_assert(greylist_check(g, n, "a@x.test", "b@y.test", 300, T0 +
	    100) == 200);
	test_assert(greylist_check(g, n, "a@x.test", "b@y.test", 300, T0 +
	    300) == 0);
	test_assert(greylist_check(g, n, "a@x.test", "b@y.test", 300, T0 +
	    5000) == 0);
	/* Another recipient, sender or network is another triplet. */
	test_assert(greylist_check(g, n, "a@x.test", "c@y.test", 300, T0 +
	    5000) > 0);
	test_assert(greylist_check(g, n, "", "b@y.test", 300, T0 + 5000) > 0);
	test_assert(greylist_check(g, "198.51.100.0/24", "a@x.test",
	    "b@y.test", 300, T0 + 5000) > 0);
	/* A first attempt past the retry window starts again. */
	test_assert(greylist_check(g, n, "late@x.test", "b@y.test", 300, T0) >
	    0);
	test_assert(greylist_check(g, n, "late@x.test", "b@y.test", 300, T0 +
	    GREY_RETRY_WINDOW + 1) == 300);
	greylist_close(g);
	test_end();
}

static void
test_restart(void)
{
	struct greylist	*g = open_it();
	const char	*n = "192.0.2.0/24";
	size_t		 before = greylist_size(g);
	FILE		*f;
	char		 buf[4096];
	size_t		 len;

	test_begin("greylist: the journal keeps it over a restart");
	test_assert(before > 0);
	test_assert(greylist_check(g, n, "a@x.test", "b@y.test", 300, T0 +
	    6000) == 0);
	test_assert(greylist_check(g, n, "a@x.test", "c@y.test", 300, T0 +
	    6000) == 0);
	greylist_close(g);
	/* No address in the file. */
	test_assert((f = fopen(path, "r")) != NULL);
	len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[len] = '\0';
	fclose(f);
	test_assert(strncmp(buf, "osms-greylist 1 ", 16) == 0);
	test_assert(strstr(buf, "x.test") == NULL && strstr(buf, "192.0.2") ==
	    NULL);
	test_end();
}

static void
test_awl(void)
{
	struct greylist	*g = open_it();
	const char	*n = "203.0.113.0/24";
	char		 rcpt[64];
	int		 i;

	test_begin("greylist: a client whose retries pass is whitelisted");
	for (i = 0; i < GREY_AWL_PASSES; i++) {
		(void)snprintf(rcpt, sizeof(rcpt), "u%d@y.test", i);
		test_assert(greylist_check(g, n, "s@x.test", rcpt, 60, T0) > 0);
		test_assert(greylist_check(g, n, "s@x.test", rcpt, 60, T0 +
		    61) == 0);
	}
	test_assert(greylist_check(g, n, "new@x.test", "new@y.test", 60, T0 +
	    62) == 0);
	/* Not another network. */
	test_assert(greylist_check(g, "203.0.114.0/24", "new@x.test",
	    "new@y.test", 60, T0 + 62) > 0);
	greylist_close(g);
	g = open_it();
	test_assert(greylist_check(g, n, "other@x.test", "new@y.test", 60,
	    T0 + 63) == 0);
	greylist_close(g);
	test_end();
}

static void
test_garbage(void)
{
	struct greylist	*g;
	FILE		*f;
	char		 net[64];

	test_begin("greylist: a broken journal, networks");
	test_assert((f = fopen(path, "w")) != NULL);
	fputs("osms-greylist 1 00112233445566778899aabbccddeeff\nzz 1 2 3\n"
	    "00112233445566778899aabbccddeeff x y z\n\n", f);
	fclose(f);
	g = open_it();
	test_assert(greylist_size(g) == 0);
	greylist_close(g);
	test_assert((f = fopen(path, "w")) != NULL);
	fputs("not a greylist\n", f);
	fclose(f);
	g = open_it();
	test_assert(greylist_size(g) == 0);
	test_assert(greylist_check(g, "n", "a", "b", 10, T0) == 10);
	greylist_close(g);
	greylist_net("192.0.2.77", net, sizeof(net));
	test_assert(strcmp(net, "192.0.2.0/24") == 0);
	greylist_net("2001:db8:1:2:3:4:5:6", net, sizeof(net));
	test_assert(strcmp(net, "2001:db8:1:2::/64") == 0);
	test_end();
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 2;
	(void)snprintf(path, sizeof(path), "%s/greylist", dir);
	test_delay();
	test_restart();
	test_awl();
	test_garbage();
	(void)unlink(path);
	(void)rmdir(dir);
	return test_exit();
}
