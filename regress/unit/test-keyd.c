/*
 * Keys held elsewhere: keyd's key set (keyd/keys.c) signing for a
 * server context that has only the certificate (lib/tls_remote.c).
 * Full handshakes in memory, RSA with PKCS #1 and PSS, ECDSA, TLS 1.2
 * and 1.3; the client checks every signature. Then the requests keyd
 * must refuse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "keys.h"
#include "tls.h"
#include "test.h"

static int	 nsigned;

static int
counting_signer(const unsigned char *id, int op, int padding,
    const unsigned char *in, size_t inlen, unsigned char *out,
    size_t *outlen)
{
	int	 rc = keys_sign(id, op, padding, in, inlen, out, outlen);

	if (rc == 0)
		nsigned++;
	return rc;
}

/* A descriptor reading a certificate (key NULL) or a key as PEM. */
static int
pem_fd(X509 *cert, EVP_PKEY *key)
{
	FILE	*f = tmpfile();
	int	 fd;

	if (f == NULL)
		abort();
	if (key == NULL)
		PEM_write_X509(f, cert);
	else
		PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/*
 * One handshake in memory between a client limited to proto and sigalgs
 * and a server on ctx; 1 if it completes and application data flows.
 */
static int
handshake(SSL_CTX *sctx, int proto, const char *sigalgs)
{
	SSL_CTX	*cctx = SSL_CTX_new(TLS_client_method());
	SSL	*c, *s;
	BIO	*cb, *sb;
	char	 buf[8];
	int	 i, cdone = 0, sdone = 0, ok;

	if (cctx == NULL)
		abort();
	SSL_CTX_set_min_proto_version(cctx, proto);
	SSL_CTX_set_max_proto_version(cctx, proto);
	if (sigalgs != NULL && SSL_CTX_set1_sigalgs_list(cctx, sigalgs) != 1)
		abort();
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	if (c == NULL || s == NULL || BIO_new_bio_pair(&cb, 0, &sb, 0) != 1)
		abort();
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (i = 0; i < 20 && !(cdone && sdone); i++) {
		if (!cdone)
			cdone = SSL_do_handshake(c) == 1;
		if (!sdone)
			sdone = SSL_do_handshake(s) == 1;
	}
	ok = cdone && sdone && SSL_write(c, "ping", 4) == 4 &&
	    SSL_read(s, buf, sizeof(buf)) == 4 && memcmp(buf, "ping", 4) == 0;
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	return ok;
}

struct kind {
	const char	*name;
	EVP_PKEY	*key;
	X509		*cert;
	SSL_CTX		*ctx;
};

static void
setup(struct kind *k, EVP_PKEY *key)
{
	char	 err[256];

	k->key = key;
	k->cert = test_self_signed(key);
	if (keys_add(k->name, pem_fd(k->cert, NULL), pem_fd(NULL, key), err,
	    sizeof(err)) == -1) {
		(void)printf("# keys_add %s: %s\n", k->name, err);
		abort();
	}
	k->ctx = tls_server_ctx_remote(pem_fd(k->cert, NULL), err,
	    sizeof(err));
	if (k->ctx == NULL) {
		(void)printf("# remote ctx %s: %s\n", k->name, err);
		abort();
	}
}

static struct kind	 rsa = { "rsa", NULL, NULL, NULL };
static struct kind	 ec256 = { "p256", NULL, NULL, NULL };
static struct kind	 ec384 = { "p384", NULL, NULL, NULL };

static void
expect_handshake(struct kind *k, int proto, const char *sigalgs)
{
	int	 before = nsigned, ok;

	ok = handshake(k->ctx, proto, sigalgs);
	if (!ok || nsigned != before + 1)
		(void)printf("# %s, %s, %s: handshake %s, %d signatures\n",
		    k->name, proto == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2",
		    sigalgs ? sigalgs : "any", ok ? "ok" : "failed",
		    nsigned - before);
	test_assert(ok);
	test_assert(nsigned == before + 1);
}

static void
test_handshakes(void)
{
	test_begin("keyd: handshakes signed by the key set, RSA and ECDSA");
	expect_handshake(&rsa, TLS1_3_VERSION, NULL);
	expect_handshake(&rsa, TLS1_2_VERSION, "RSA+SHA256");
	expect_handshake(&rsa, TLS1_2_VERSION, "RSA+SHA512");
	expect_handshake(&rsa, TLS1_2_VERSION, "rsa_pss_rsae_sha256");
	expect_handshake(&ec256, TLS1_3_VERSION, NULL);
	expect_handshake(&ec256, TLS1_2_VERSION, "ECDSA+SHA256");
	expect_handshake(&ec384, TLS1_3_VERSION, NULL);
	expect_handshake(&ec384, TLS1_2_VERSION, "ECDSA+SHA384");
	test_end();
}

/* Without the signer's help there is no handshake: the key is not here. */
static int
refusing_signer(const unsigned char *id, int op, int padding,
    const unsigned char *in, size_t inlen, unsigned char *out,
    size_t *outlen)
{
	(void)id;
	(void)op;
	(void)padding;
	(void)in;
	(void)inlen;
	(void)out;
	(void)outlen;
	return -1;
}

static void
test_no_key_here(void)
{
	test_begin("keyd: a context without its signer cannot handshake");
	tls_set_signer(refusing_signer);
	test_assert(!handshake(rsa.ctx, TLS1_3_VERSION, NULL));
	test_assert(!handshake(rsa.ctx, TLS1_2_VERSION, "RSA+SHA256"));
	test_assert(!handshake(ec256.ctx, TLS1_3_VERSION, NULL));
	tls_set_signer(counting_signer);
	test_end();
}

static void
test_refusals(void)
{
	unsigned char	 rid[TLS_KEYID_LEN], eid[TLS_KEYID_LEN];
	unsigned char	 unknown[TLS_KEYID_LEN], in[512], out[TLS_SIGN_MAX];
	size_t		 outlen, size;

	test_begin("keyd: requests a handshake never makes are refused");
	test_assert(tls_key_id(rsa.key, rid) == 0);
	test_assert(tls_key_id(ec256.key, eid) == 0);
	memset(unknown, 0x5a, sizeof(unknown));
	memset(in, 1, sizeof(in));
	size = (size_t)EVP_PKEY_get_size(rsa.key);
	outlen = sizeof(out);
	test_assert(keys_sign(rid, TLS_SIGN_RSA, RSA_PKCS1_PADDING, in, 51,
	    out, &outlen) == 0 && outlen == size);
#define REFUSED(id, op, pad, len) do {					\
	outlen = sizeof(out);						\
	test_assert(keys_sign(id, op, pad, in, len, out, &outlen) == -1); \
} while (0)
	REFUSED(unknown, TLS_SIGN_RSA, RSA_PKCS1_PADDING, 51);
	REFUSED(rid, TLS_SIGN_RSA, RSA_PKCS1_OAEP_PADDING, 51);
	REFUSED(rid, TLS_SIGN_RSA, RSA_NO_PADDING, size - 1);
	REFUSED(rid, TLS_SIGN_RSA, RSA_PKCS1_PADDING, size);
	REFUSED(rid, TLS_SIGN_RSA, RSA_PKCS1_PADDING, 0);
	REFUSED(rid, TLS_SIGN_ECDSA, 0, 32);
	REFUSED(eid, TLS_SIGN_RSA, RSA_NO_PADDING, 32);
	REFUSED(eid, TLS_SIGN_ECDSA, 0, 65);
	REFUSED(eid, 3, 0, 32);
#undef REFUSED
	/* Too small an output buffer is refused, not overrun. */
	outlen = size - 1;
	test_assert(keys_sign(rid, TLS_SIGN_RSA, RSA_PKCS1_PADDING, in, 51,
	    out, &outlen) == -1);
	test_end();
}

static void
test_load(void)
{
	EVP_PKEY	*other = EVP_EC_gen("P-256");
	EVP_PKEY	*ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509		*edcert;
	char		 err[256];

	test_begin("keyd: a key must match its certificate and be RSA or EC");
	test_assert(other != NULL && ed != NULL);
	test_assert(keys_add("bad", pem_fd(ec256.cert, NULL),
	    pem_fd(NULL, other), err, sizeof(err)) == -1);
	test_assert(strstr(err, "does not match") != NULL);
	edcert = test_self_signed(ed);
	test_assert(keys_add("ed", pem_fd(edcert, NULL), pem_fd(NULL, ed),
	    err, sizeof(err)) == -1);
	test_assert(strstr(err, "not supported") != NULL);
	test_assert(tls_server_ctx_remote(pem_fd(edcert, NULL), err,
	    sizeof(err)) == NULL && strstr(err, "not supported") != NULL);
	X509_free(edcert);
	EVP_PKEY_free(other);
	EVP_PKEY_free(ed);
	test_end();
}

static void
test_reload(void)
{
	test_begin("keyd: the keys before a reload serve one more reload");
	keys_apply();			/* nothing new: the keys are "before" */
	test_assert(keys_count() == 0);
	expect_handshake(&ec256, TLS1_3_VERSION, NULL);
	keys_apply();			/* and now they are gone */
	test_assert(!handshake(ec256.ctx, TLS1_3_VERSION, NULL));
	test_end();
}

int
main(void)
{
	tls_set_signer(counting_signer);
	setup(&rsa, EVP_RSA_gen(2048));
	setup(&ec256, EVP_EC_gen("P-256"));
	setup(&ec384, EVP_EC_gen("P-384"));
	keys_apply();
	test_handshakes();
	test_no_key_here();
	test_refusals();
	test_load();
	test_reload();
	return test_exit();
}
