/*
 * The certificate store (certstore.c) in a directory made here: checks
 * at use (address, purpose for RSA and EC keys, validity, chain), the
 * parsed-file cache that must never serve a replaced file, harvesting
 * that keeps an unchanged certificate, and the internal CA.
 */
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certstore.h"
#include "smime.h"
#include "test.h"

static char	 dir[64];
static EVP_PKEY	*cakey;
static X509	*ca;

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL ||
	    X509_add_ext(x, e, -1) != 1)
		abort();
	X509_EXTENSION_free(e);
}

/* A certificate for key from the CA (itself when email is NULL), with
 * key usage ku, valid from secs_from to secs_to (from now). */
static X509 *
make_cert_secs(EVP_PKEY *key, const char *email, const char *ku,
    long secs_from, long secs_to)
{
	static long	 serial = 1;
	X509		*x = X509_new();
	char		 san[128];

	if (x == NULL)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), secs_from);
	X509_gmtime_adj(X509_getm_notAfter(x), secs_to);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)(email ? email : "Store CA"),
	    -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(email ? ca : x));
	if (email == NULL) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		(void)snprintf(san, sizeof(san), "email:%s", email);
		add_ext(x, ca, NID_subject_alt_name, san);
		add_ext(x, ca, NID_key_usage, ku);
		add_ext(x, ca, NID_ext_key_usage, "emailProtection");
	}
	if (X509_sign(x, email ? cakey : key, EVP_sha256()) == 0)
		abort();
	return x;
}

/* The same, valid from days_from to days_to. */
static X509 *
make_cert(EVP_PKEY *key, const char *email, const char *ku, long days_from,
    long days_to)
{
	return make_cert_secs(key, email, ku, days_from * 86400 - 60,
	    days_to * 86400);
}

static EVP_PKEY *
rsa(void)
{
	EVP_PKEY	*k = EVP_RSA_gen(2048);

	if (k == NULL)
		abort();
	return k;
}

static EVP_PKEY *
ec(void)
{
	EVP_PKEY	*k = EVP_EC_gen("P-256");

	if (k == NULL)
		abort();
	return k;
}

/* name.pem in the store: a new certificate for a new key k. */
static void
put(const char *name, EVP_PKEY *k, const char *email, const char *ku,
    long days_from, long days_to)
{
	X509	*x = make_cert(k, email, ku, days_from, days_to);

	if (store_put(name, x, NULL) == -1)
		abort();
	X509_free(x);
	EVP_PKEY_free(k);
}

static int
same_cert(X509 *a, X509 *b)
{
	return a != NULL && b != NULL && X509_cmp(a, b) == 0;
}

static int
check(const char *name, int use, const char *want)
{
	X509		*x = store_cert(name);
	const char	*why = NULL;
	int		 rc, ok;

	if (x == NULL)
		return 0;
	rc = store_check(x, name, use, &why);
	X509_free(x);
	ok = want == NULL ? rc == 0 : rc == -1 && why != NULL &&
	    strcmp(why, want) == 0;
	if (!ok)
		printf("# %s: %s\n", name, why ? why : "usable");
	return ok;
}

static void
test_checks(void)
{
	test_begin("checks at use: address, purpose for RSA and EC keys,"
	    " validity");
	put("alice@example.test", rsa(), "alice@example.test",
	    "digitalSignature,keyEncipherment", 0, 30);
	put("erin@example.test", ec(), "erin@example.test", "keyAgreement",
	    0, 30);
	put("ella@example.test", ec(), "ella@example.test",
	    "digitalSignature,keyAgreement", 0, 30);
	put("sam@example.test", rsa(), "sam@example.test", "digitalSignature",
	    0, 30);
	put("old@example.test", rsa(), "old@example.test",
	    "digitalSignature,keyEncipherment", -60, -30);
	put("bob@example.test", rsa(), "mallory@example.test",
	    "digitalSignature,keyEncipherment", 0, 30);
	test_assert(check("alice@example.test", STORE_ENCRYPT, NULL));
	test_assert(check("alice@example.test", STORE_SIGN, NULL));
	/* An EC key agrees on the content key (RFC 5753). */
	test_assert(check("erin@example.test", STORE_ENCRYPT, NULL));
	test_assert(check("erin@example.test", STORE_SIGN,
	    "not for this use (key usage)"));
	test_assert(check("ella@example.test", STORE_ENCRYPT, NULL));
	test_assert(check("ella@example.test", STORE_SIGN, NULL));
	test_assert(check("sam@example.test", STORE_ENCRYPT,
	    "not for this use (key usage)"));
	test_assert(check("sam@example.test", STORE_SIGN, NULL));
	test_assert(check("old@example.test", STORE_ENCRYPT, "expired"));
	test_assert(check("bob@example.test", STORE_ENCRYPT,
	    "does not name the address"));
	test_end();

	test_begin("a certificate of no trusted CA is not used");
	{
		EVP_PKEY	*k = rsa();
		X509		*self = make_cert(k, NULL, NULL, 0, 30);
		const char	*why = NULL;

		test_assert(store_check(self, "example.test", STORE_ENCRYPT,
		    &why) == -1 && why != NULL);
		X509_free(self);
		EVP_PKEY_free(k);
	}
	test_end();
}

static void
test_cache(void)
{
	X509		*x1, *x2, *x3, *fresh;
	EVP_PKEY	*k1, *k2, *nk = rsa();
	enum store_origin o;
	char		 why[200];
	unsigned	 caps;

	test_begin("the cache: the same objects while the file is the same,"
	    " a replaced file read again");
	fresh = make_cert(nk, "dora@example.test",
	    "digitalSignature,keyEncipherment", 0, 30);
	if (store_put("dora@example.test", fresh, nk) == -1)
		abort();
	x1 = store_cert("dora@example.test");
	k1 = store_key("dora@example.test");
	x2 = store_cert("dora@example.test");
	k2 = store_key("dora@example.test");
	test_assert(x1 != NULL && x1 == x2);	/* one parse */
	test_assert(k1 != NULL && k1 == k2 && EVP_PKEY_eq(k1, nk) == 1);
	X509_free(x2);
	EVP_PKEY_free(k2);
	X509_free(fresh);
	EVP_PKEY_free(nk);
	/* Renewed: osmsctl cert issue writes aside and renames. */
	nk = rsa();
	fresh = make_cert(nk, "dora@example.test",
	    "digitalSignature,keyEncipherment", 0, 60);
	if (store_put("dora@example.test", fresh, nk) == -1)
		abort();
	x3 = store_cert("dora@example.test");
	k2 = store_key("dora@example.test");
	test_assert(same_cert(x3, fresh) && !same_cert(x3, x1));
	test_assert(k2 != NULL && EVP_PKEY_eq(k2, nk) == 1);
	X509_free(x1);
	X509_free(x3);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	/* Removed: gone at once. */
	{
		char	 path[300];

		(void)snprintf(path, sizeof(path), "%s/dora@example.test.key",
		    dir);
		test_assert(unlink(path) == 0);
		test_assert(store_key("dora@example.test") == NULL);
	}
	x1 = store_recipient("dora@example.test", &o, &caps, why,
	    sizeof(why));
	test_assert(same_cert(x1, fresh) && o == ORIGIN_IMPORTED && caps == 0);
	X509_free(x1);
	X509_free(fresh);
	EVP_PKEY_free(nk);
	test_end();
}

static void
test_harvest(void)
{
	char		 path[300];
	struct stat	 st1, st2;
	EVP_PKEY	*k1 = rsa(), *k2 = rsa();
	X509		*a = make_cert(k1, "hank@remote.test",
			    "digitalSignature,keyEncipherment", 0, 30);
	X509		*b = make_cert(k2, "hank@remote.test",
			    "digitalSignature,keyEncipherment", 0, 30);
	X509		*x;

	test_begin("harvest: a certificate seen again is kept as it is, a"
	    " new one replaces it");
	(void)snprintf(path, sizeof(path), "%s/harvested", dir);
	test_assert(mkdir(path, 0700) == 0);
	(void)snprintf(path, sizeof(path), "%s/harvested/hank@remote.test.pem",
	    dir);
	store_harvest(a, "hank@remote.test", 0);
	test_assert(stat(path, &st1) == 0);
	store_harvest(a, "hank@remote.test", 0);
	test_assert(stat(path, &st2) == 0 && st1.st_ino == st2.st_ino);
	store_harvest(b, "hank@remote.test", SMIME_CAP_GCM | SMIME_CAP_OAEP);
	test_assert(stat(path, &st2) == 0 && st1.st_ino != st2.st_ino);
	x = store_harvested("hank@remote.test");
	test_assert(same_cert(x, b));
	X509_free(x);
	(void)snprintf(path, sizeof(path), "%s/harvested/hank@remote.test.aead",
	    dir);
	test_assert(access(path, F_OK) == 0);
	{
		enum store_origin	 o;
		unsigned		 caps = 0;
		char			 why[200];

		x = store_recipient("hank@remote.test", &o, &caps, why,
		    sizeof(why));
		test_assert(same_cert(x, b) && o == ORIGIN_HARVESTED &&
		    caps == (SMIME_CAP_GCM | SMIME_CAP_OAEP));
		X509_free(x);
		/* A later signature without them: they are gone. */
		store_harvest(b, "hank@remote.test", SMIME_CAP_GCM);
		x = store_recipient("hank@remote.test", &o, &caps, why,
		    sizeof(why));
		test_assert(x != NULL && caps == SMIME_CAP_GCM);
		X509_free(x);
	}
	X509_free(a);
	X509_free(b);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	test_end();
}

/* crl.pem: the CA revokes x (NULL: an empty CRL); then reloaded. */
static void
put_crl(X509 *x)
{
	X509_CRL	*crl = X509_CRL_new();
	X509_REVOKED	*r;
	ASN1_TIME	*t = ASN1_TIME_new();
	FILE		*fp;
	char		 path[300];

	if (crl == NULL || t == NULL || X509_CRL_set_version(crl, 1) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
	    X509_gmtime_adj(t, -60) == NULL ||
	    X509_CRL_set1_lastUpdate(crl, t) != 1 ||
	    X509_gmtime_adj(t, 86400) == NULL ||
	    X509_CRL_set1_nextUpdate(crl, t) != 1)
		abort();
	if (x != NULL) {
		if ((r = X509_REVOKED_new()) == NULL ||
		    X509_REVOKED_set_serialNumber(r,
		    X509_get_serialNumber(x)) != 1 ||
		    X509_gmtime_adj(t, -30) == NULL ||
		    X509_REVOKED_set_revocationDate(r, t) != 1 ||
		    X509_CRL_add0_revoked(crl, r) != 1)
			abort();
	}
	(void)snprintf(path, sizeof(path), "%s/crl.pem", dir);
	if (X509_CRL_sort(crl) != 1 ||
	    X509_CRL_sign(crl, cakey, EVP_sha256()) == 0 ||
	    (fp = fopen(path, "w")) == NULL ||
	    PEM_write_X509_CRL(fp, crl) != 1 || fclose(fp) != 0)
		abort();
	X509_CRL_free(crl);
	ASN1_TIME_free(t);
	store_reload();
}

static void
test_check_cache(void)
{
	EVP_PKEY	*k = rsa();
	X509		*x, *brief;
	const char	*why;
	char		 path[300];

	test_begin("a check that passed is used again, for that certificate,"
	    " use and name only");
	put("ivy@example.test", rsa(), "ivy@example.test", "digitalSignature",
	    0, 30);
	test_assert(check("ivy@example.test", STORE_SIGN, NULL));
	test_assert(check("ivy@example.test", STORE_SIGN, NULL));
	test_assert(check("ivy@example.test", STORE_ENCRYPT,
	    "not for this use (key usage)"));
	x = store_cert("ivy@example.test");
	test_assert(x != NULL && store_check(x, "eve@example.test",
	    STORE_SIGN, &why) == -1 && strcmp(why,
	    "does not name the address") == 0);
	test_end();

	test_begin("a CRL or trust anchors read again: every check made"
	    " again");
	put_crl(x);
	test_assert(check("ivy@example.test", STORE_SIGN, "revoked"));
	put_crl(NULL);
	test_assert(check("ivy@example.test", STORE_SIGN, NULL));
	(void)snprintf(path, sizeof(path), "%s/crl.pem", dir);
	test_assert(unlink(path) == 0);
	(void)snprintf(path, sizeof(path), "%s/trust.pem", dir);
	test_assert(rename(path, "/tmp/osms-certstore-trust.pem") == 0);
	store_reload();
	test_assert(store_check(x, "ivy@example.test", STORE_SIGN,
	    &why) == -1 && why != NULL);
	test_assert(rename("/tmp/osms-certstore-trust.pem", path) == 0);
	store_reload();
	X509_free(x);
	test_end();

	test_begin("a check kept is not used past the certificate's end");
	brief = make_cert_secs(k, "jo@example.test", "digitalSignature", -60,
	    2);
	why = NULL;
	test_assert(store_check(brief, "jo@example.test", STORE_SIGN,
	    &why) == 0);
	test_assert(store_check(brief, "jo@example.test", STORE_SIGN,
	    &why) == 0);
	(void)sleep(3);
	test_assert(store_check(brief, "jo@example.test", STORE_SIGN,
	    &why) == -1 && why != NULL && strcmp(why, "expired") == 0);
	X509_free(brief);
	EVP_PKEY_free(k);
	test_end();
}

static void
test_ca(void)
{
	const char	*why = NULL;
	X509		*x, *imported;
	EVP_PKEY	*k;

	test_begin("the internal CA: made once, issues usable certificates");
	test_assert(!store_has_ca());
	test_assert(store_make_ca(30, "mail.example.test", &why) == 0);
	test_assert(store_has_ca());
	test_assert(store_make_ca(30, "mail.example.test", &why) == -1 &&
	    strcmp(why, "ca.pem exists already") == 0);
	store_reload();		/* ca.pem is trusted from now on */
	test_assert(store_issue("carl@example.test", 10, &why) == 0);
	test_assert(store_issue("not an address", 10, &why) == -1);
	x = store_cert("carl@example.test");
	k = store_key("carl@example.test");
	test_assert(x != NULL && k != NULL && store_issued_by_ca(x));
	test_assert(X509_check_private_key(x, k) == 1);
	test_assert(check("carl@example.test", STORE_SIGN, NULL));
	test_assert(check("carl@example.test", STORE_ENCRYPT, NULL));
	imported = store_cert("alice@example.test");
	test_assert(imported != NULL && !store_issued_by_ca(imported));
	X509_free(imported);
	X509_free(x);
	EVP_PKEY_free(k);
	test_end();
}

int
main(void)
{
	FILE	*fp;
	char	 path[300];

	(void)snprintf(dir, sizeof(dir), "/tmp/osms-certstore.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	cakey = rsa();
	ca = make_cert(cakey, NULL, NULL, 0, 30);
	(void)snprintf(path, sizeof(path), "%s/trust.pem", dir);
	if ((fp = fopen(path, "w")) == NULL || PEM_write_X509(fp, ca) != 1 ||
	    fclose(fp) != 0)
		abort();
	store_set(dir);
	store_reload();
	test_checks();
	test_cache();
	test_harvest();
	test_check_cache();
	test_ca();
	X509_free(ca);
	EVP_PKEY_free(cakey);
	store_set("");
	store_reload();
	(void)snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		return 2;
	return test_exit();
}
