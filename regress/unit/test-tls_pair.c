/*
 * tls_pair.c: which certificate and key pairs keyd and the parent's
 * check accept, the reasons given for the rest, and a check that cannot
 * block on a file that is not one.
 */
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls_pair.h"
#include "test.h"

static char	 dir[] = "/tmp/test-tls_pair.XXXXXX";

/* dir/name, written with the certificate or the key. */
static const char *
put(const char *name, X509 *cert, EVP_PKEY *key)
{
	static char	 paths[8][128];
	static int	 n;
	char		*path = paths[n++ % 8];
	FILE		*f;

	(void)snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	if (cert != NULL)
		PEM_write_X509(f, cert);
	else if (key != NULL)
		PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	else
		fputs("-----BEGIN GARBAGE-----\nxx\n", f);
	if (fclose(f) != 0)
		abort();
	return path;
}

static void
cleanup(void)
{
	static const char *const names[] = { "ec.crt", "ec.key", "rsa.crt",
	    "rsa.key", "other.key", "ed.crt", "ed.key", "bad.crt", "bad.key",
	    "fifo.crt" };
	char	 path[128];
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

static int
check(const char *cert, const char *key, const char *want)
{
	char	 err[512] = "";
	int	 rc = tls_pair_check(cert, key, err, sizeof(err));

	if (want == NULL)
		return rc == 0;
	if (rc == 0 || strstr(err, want) == NULL) {
		printf("# expected \"%s\", got %d \"%s\"\n", want, rc, err);
		return 0;
	}
	return 1;
}

int
main(void)
{
	EVP_PKEY	*ec = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	EVP_PKEY	*rsa = EVP_RSA_gen(2048);
	EVP_PKEY	*ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509		*eccert, *rsacert, *edcert;
	const char	*fifo;
	double		 t0;

	if (ec == NULL || other == NULL || rsa == NULL || ed == NULL ||
	    mkdtemp(dir) == NULL)
		return 2;
	eccert = test_self_signed(ec);
	rsacert = test_self_signed(rsa);
	edcert = test_self_signed(ed);

	test_begin("tls_pair: RSA and ECDSA pairs that match pass");
	test_assert(check(put("ec.crt", eccert, NULL), put("ec.key", NULL, ec),
	    NULL));
	test_assert(check(put("rsa.crt", rsacert, NULL),
	    put("rsa.key", NULL, rsa), NULL));
	test_end();

	test_begin("tls_pair: a key of another pair, an Ed25519 key, garbage"
	    " and a missing file are refused with the reason");
	test_assert(check(put("ec.crt", eccert, NULL),
	    put("other.key", NULL, other),
	    "key does not match the certificate"));
	test_assert(check(put("ed.crt", edcert, NULL), put("ed.key", NULL, ed),
	    "ED25519 keys are not supported; use RSA or ECDSA"));
	test_assert(check(put("bad.crt", NULL, NULL), put("ec.key", NULL, ec),
	    "certificate"));
	test_assert(check(put("ec.crt", eccert, NULL),
	    put("bad.key", NULL, NULL), "private key"));
	test_assert(check("/nonexistent/c.crt", put("ec.key", NULL, ec),
	    "certificate"));
	test_end();

	test_begin("tls_pair: a FIFO for a certificate cannot block the"
	    " check");
	tls_pair_timeout_ms = 500;
	fifo = put("fifo.crt", eccert, NULL);
	test_assert(unlink(fifo) == 0 && mkfifo(fifo, 0600) == 0);
	t0 = test_now();
	test_assert(check(fifo, put("ec.key", NULL, ec), "took too long"));
	test_assert(test_now() - t0 < 5);
	test_end();

	cleanup();
	X509_free(eccert);
	X509_free(rsacert);
	X509_free(edcert);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(other);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	return test_exit();
}
