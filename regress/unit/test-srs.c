/*
 * The Sender Rewriting Scheme (srs.c): forward and back, SRS1 for a
 * second forwarder, and every way a bounce address can be forged.
 */
#include <stdio.h>
#include <string.h>

#include "srs.h"
#include "test.h"

#define DAY	86400

static const struct srs	 fwd = {
	(const unsigned char *)"0123456789abcdef0123", 20, "fwd.example"
};
static const struct srs	 fwd2 = {
	(const unsigned char *)"another secret, longer", 22, "fwd2.example"
};

static void
test_round_trip(void)
{
	char		 a[512], b[512], c[512];
	const char	*err;
	time_t		 t = 1700000000;

	test_begin("srs: forward and back, case and time");
	test_assert(srs_forward(&fwd, "user@orig.example", t, a, sizeof(a),
	    &err) == 0);
	test_assert(strncmp(a, "SRS0=", 5) == 0 && strlen(a) == 5 + 4 + 1 +
	    2 + 1 + strlen("orig.example=user@fwd.example"));
	test_assert(strstr(a, "=orig.example=user@fwd.example") != NULL);
	test_assert(srs_reverse(&fwd, a, t, b, sizeof(b), &err) == 1 &&
	    strcmp(b, "user@orig.example") == 0);
	/* Within 21 days, in any case; not after, not with another key. */
	test_assert(srs_reverse(&fwd, a, t + 21 * DAY, b, sizeof(b), &err) ==
	    1);
	test_assert(srs_reverse(&fwd, a, t + 22 * DAY, b, sizeof(b), &err) ==
	    -1 && strcmp(err, "SRS address too old") == 0);
	(void)snprintf(c, sizeof(c), "%s", a);
	for (size_t i = 0; c[i] != '\0'; i++)
		if (c[i] >= 'a' && c[i] <= 'z')
			c[i] -= 32;
	test_assert(srs_reverse(&fwd, c, t, b, sizeof(b), &err) == 1 &&
	    strcmp(b, "USER@ORIG.EXAMPLE") == 0);
	test_assert(srs_reverse(&fwd2, a, t, b, sizeof(b), &err) == 0);
	/* Empty senders and our own addresses are left alone. */
	test_assert(srs_forward(&fwd, "", t, a, sizeof(a), &err) == 0 &&
	    a[0] == '\0');
	test_assert(srs_forward(&fwd, "x@FWD.example", t, a, sizeof(a),
	    &err) == 0 && strcmp(a, "x@FWD.example") == 0);
	test_assert(srs_reverse(&fwd, "postmaster@fwd.example", t, b,
	    sizeof(b), &err) == 0);
	test_end();
}

static void
test_srs1(void)
{
	char		 a[512], b[512], c[512], d[512];
	const char	*err;
	time_t		 t = 1700000000;

	test_begin("srs: a second forwarder makes SRS1; bounces go back");
	test_assert(srs_forward(&fwd, "user@orig.example", t, a, sizeof(a),
	    &err) == 0);
	test_assert(srs_forward(&fwd2, a, t, b, sizeof(b), &err) == 0);
	test_assert(strncmp(b, "SRS1=", 5) == 0 &&
	    strstr(b, "=fwd.example==") != NULL &&
	    strstr(b, "@fwd2.example") != NULL);
	/* A third forwarder keeps the first one's host. */
	test_assert(srs_forward(&fwd, b, t, c, sizeof(c), &err) == 0 &&
	    strncmp(c, "SRS1=", 5) == 0 &&
	    strstr(c, "=fwd.example==") != NULL);
	/* The bounce: fwd2 sends it to fwd, fwd to the original sender. */
	test_assert(srs_reverse(&fwd2, b, t, c, sizeof(c), &err) == 1 &&
	    strcmp(c, a) == 0);
	test_assert(srs_reverse(&fwd, c, t + DAY, d, sizeof(d), &err) == 1 &&
	    strcmp(d, "user@orig.example") == 0);
	test_end();
}

/*
 * Addresses written by another implementation (Debian's python3-srs
 * 1.0.4, hash length 4, at the same time): the same bytes, both ways.
 */
static void
test_vectors(void)
{
	static const struct {
		const struct srs	*srs;
		const char		*in, *out;
	} v[] = {
		{ &fwd, "user@orig.example",
		    "SRS0=BVPN=G3=orig.example=user@fwd.example" },
		{ &fwd2, "SRS0=BVPN=G3=orig.example=user@fwd.example",
		    "SRS1=reNy=fwd.example==BVPN=G3=orig.example=user"
		    "@fwd2.example" },
		{ &fwd, "SRS1=reNy=fwd.example==BVPN=G3=orig.example=user"
		    "@fwd2.example",
		    "SRS1=i9Bc=fwd.example==BVPN=G3=orig.example=user"
		    "@fwd.example" },
		{ &fwd, "First.Last@Orig.Example",
		    "SRS0=QbF+=G3=Orig.Example=First.Last@fwd.example" },
	};
	char		 a[512];
	const char	*err;
	size_t		 i;

	test_begin("srs: the addresses another implementation writes");
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		test_assert(srs_forward(v[i].srs, v[i].in, 1700000000, a,
		    sizeof(a), &err) == 0 && strcmp(a, v[i].out) == 0);
		if (strcmp(a, v[i].out) != 0)
			(void)printf("# got %s\n# want %s\n", a, v[i].out);
	}
	test_assert(srs_reverse(&fwd2, v[1].out, 1700000000, a, sizeof(a),
	    &err) == 1 && strcmp(a, v[1].in) == 0);
	test_assert(srs_reverse(&fwd, v[3].out, 1700000000, a, sizeof(a),
	    &err) == 1 && strcmp(a, v[3].in) == 0);
	test_end();
}

static void
test_forged(void)
{
	static const char *const bad[] = {
		"SRS0=AAAA=AA=orig.example=user@fwd.example",	/* hash */
		"SRS0=@@@@=AA=orig.example=user@fwd.example",
		"SRS0=AAAA=A=orig.example=user@fwd.example",
		"SRS0=AAAA=1A=orig.example=user@fwd.example",	/* base32 */
		"SRS0=AAAA=AA==user@fwd.example",		/* no host */
		"SRS0=AAAA=AA=orig.example=@fwd.example",	/* no user */
		"SRS0=AAAA=AA=orig.example@fwd.example",
		"SRS0=AAA@fwd.example",
		"SRS0=@fwd.example",
		"SRS1=AAAA=fwd.example==HHHH=TT=a=b@fwd.example",
		"SRS1=AAAA=fwd.example=x@fwd.example",
		"SRS1=AAAA==@fwd.example",
	};
	char		 a[512], b[32];
	const char	*err;
	size_t		 i;
	time_t		 t = 1700000000;

	test_begin("srs: forged, malformed and too long addresses are refused");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (srs_reverse(&fwd, bad[i], t, a, sizeof(a), &err) != -1 ||
		    err == NULL) {
			(void)printf("# accepted: %s\n", bad[i]);
			test_assert(0);
		}
	}
	/* Not SRS at all: a normal address of ours. */
	test_assert(srs_reverse(&fwd, "SRS2=x@fwd.example", t, a, sizeof(a),
	    &err) == 0);
	test_assert(srs_reverse(&fwd, "srs0x@fwd.example", t, a, sizeof(a),
	    &err) == 0);
	/* Output that does not fit is refused, never cut. */
	test_assert(srs_forward(&fwd, "a-rather-long-local-part@orig.example",
	    t, b, sizeof(b), &err) == -1 && b[0] == '\0');
	test_assert(srs_forward(&fwd, "no-at-sign", t, a, sizeof(a), &err) ==
	    -1);
	test_end();
}

int
main(void)
{
	test_round_trip();
	test_srs1();
	test_vectors();
	test_forged();
	return test_exit();
}
