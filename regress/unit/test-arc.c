/*
 * ARC verification (arc.c) of a message sealed by two forwarders with
 * dkimpy (regress/data/arc/, made by scripts/gen-arc-fixture.py): it
 * passes as it is, and fails once anything sealed is changed, a set is
 * missing or doubled; no sets is none, a key not there now is temporary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc.h"
#include "test.h"

#define DATA	"regress/data/arc/"

static char	*msg, *keys;
static size_t	 msglen;
static int	 key_temp;

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*f = fopen(path, "rb");
	char	*buf = malloc(1 << 20);
	size_t	 n;

	if (f == NULL || buf == NULL)
		exit(2);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (lenp != NULL)
		*lenp = n;
	return buf;
}

/* keys.txt: "SELECTOR._domainkey.DOMAIN. RECORD" lines. */
static int
key(const char *sel, const char *dom, char *out, size_t size, void *arg)
{
	char	 name[300];
	char	*p, *nl;
	size_t	 n;

	(void)arg;
	if (key_temp)
		return -2;
	n = (size_t)snprintf(name, sizeof(name), "%s._domainkey.%s. ", sel,
	    dom);
	for (p = keys; p != NULL && *p != '\0'; p = nl != NULL ? nl + 1 :
	    NULL) {
		nl = strchr(p, '\n');
		if (strncmp(p, name, n) == 0) {
			(void)snprintf(out, size, "%.*s", (int)(nl != NULL ?
			    (size_t)(nl - p) - n : strlen(p + n)), p + n);
			return 0;
		}
	}
	return -1;
}

static enum arc_result
verify(const char *m, struct arc_verdict *v)
{
	arc_verify(m, strlen(m), key, NULL, v);
	return v->result;
}

/* A copy of the message with the first from replaced by to. */
static char *
changed(const char *from, const char *to)
{
	char	*p = strstr(msg, from), *out;
	size_t	 a, fl = strlen(from), tl = strlen(to);

	if (p == NULL)
		exit(2);
	a = (size_t)(p - msg);
	out = malloc(msglen - fl + tl + 1);
	memcpy(out, msg, a);
	memcpy(out + a, to, tl);
	memcpy(out + a + tl, p + fl, msglen - a - fl + 1);
	return out;
}

static void
test_pass(void)
{
	struct arc_verdict	 v;

	test_begin("arc: the two seals verify");
	test_assert(verify(msg, &v) == ARC_PASS);
	test_assert(v.sets == 2 && strcmp(v.sealer, "fwd.test") == 0);
	test_assert(v.why[0] == '\0' && !v.temp);
	test_end();
}

static void
test_fail(void)
{
	static const char *const changes[][2] = {
		{ "Hello, list.", "Hello, lust." },		/* body */
		{ "[list] hello", "[list] hallo" },		/* signed field */
		{ "i=1; list.test;", "i=1; evil.test;" },	/* old AAR */
		{ "cv=pass", "cv=fail" },
		{ "cv=none", "cv=pass" },
		{ "ARC-Seal: i=1;", "ARC-Seal: i=2;" },	/* doubled */
		{ "ARC-Seal: i=1;", "X-Old-Seal: i=1;" },	/* incomplete */
		{ "ARC-Seal: i=2;", "ARC-Seal: i=0;" },
		{ "a=rsa-sha256; d=fwd.test", "a=rsa-sha1; d=fwd.test" },
	};
	struct arc_verdict	 v;
	char			*m;
	size_t			 i;

	test_begin("arc: what was sealed cannot change");
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		m = changed(changes[i][0], changes[i][1]);
		if (verify(m, &v) != ARC_FAIL || v.why[0] == '\0')
			printf("# change %zu: result %d\n", i, v.result);
		test_assert(v.result == ARC_FAIL && v.why[0] != '\0');
		free(m);
	}
	/* Unsealed fields may change: the seals cover what they name. */
	m = changed("Authentication-Results: fwd.test; arc=pass",
	    "Authentication-Results: fwd.test; arc=none");
	test_assert(verify(m, &v) == ARC_PASS);
	free(m);
	test_end();
}

static void
test_other(void)
{
	struct arc_verdict	 v;
	const char		*plain = "From: a@b.test\r\nSubject: x\r\n\r\n"
				    "body\r\n";

	test_begin("arc: none, a key not there now");
	test_assert(verify(plain, &v) == ARC_NONE && v.sets == 0);
	key_temp = 1;
	test_assert(verify(msg, &v) == ARC_FAIL && v.temp);
	key_temp = 0;
	test_assert(verify("ARC-Seal: i=1; cv=none\r\n\r\n", &v) == ARC_FAIL);
	test_assert(verify("ARC-Seal: garbage\r\n\r\n", &v) == ARC_FAIL);
	test_end();
}

/* SECURITY A8: the body hash is checked for its length before it is
 * compared; a short, empty, bad or 4 KB one fails, nothing overruns. */
static void
test_bh(void)
{
	static const char	 old[] =
	    "bh=McVeUp1IHsWeETZ8LUPMXPUlwfzuhDYS6gxfSRW+P0c=;";
	const char		*bad[] = { "bh=QUFB;", "bh=;", "bh=!!!!;",
	    "bh=McVeUp1IHsWeETZ8LUPMXPUlwfzuhDYS6gxfSRW+P0c;",
	    "bh=McVeUp1IHsWeETZ8LUPMXPUlwfzuhDYS6gxfSRW+P0cQUFB;", NULL };
	struct arc_verdict	 v;
	char			 big[4200], *m;
	size_t			 i;

	test_begin("arc: a short, empty, bad or 4 KB bh= fails");
	for (i = 0; bad[i] != NULL; i++) {
		m = changed(old, bad[i]);
		if (verify(m, &v) != ARC_FAIL || v.why[0] == '\0')
			printf("# %s: result %d\n", bad[i], v.result);
		test_assert(v.result == ARC_FAIL && v.why[0] != '\0');
		free(m);
	}
	memcpy(big, "bh=", 3);
	for (i = 0; i < 1024; i++)
		memcpy(big + 3 + 4 * i, "QUFB", 4);
	memcpy(big + 3 + 4 * i, ";", 2);
	m = changed(old, big);
	test_assert(verify(m, &v) == ARC_FAIL && v.why[0] != '\0');
	free(m);
	test_end();
}

int
main(void)
{
	msg = slurp(DATA "two-hops.eml", &msglen);
	keys = slurp(DATA "keys.txt", NULL);
	test_pass();
	test_fail();
	test_other();
	test_bh();
	free(msg);
	free(keys);
	return test_exit();
}
