/*
 * TLS private keys held by another process. A network role builds its
 * contexts from the certificates alone: the key it gives OpenSSL is the
 * certificate's public key with an RSA or EC method whose private
 * operation asks keyd, which holds the real key, over imsg. A process
 * taken over through its TLS library finds no key to steal.
 *
 * OpenSSL 3 keeps such keys, whose methods are not its own, on its
 * older code path, which pads RSA itself (PKCS #1 or PSS) and asks the
 * method only for the raw private operation; ECDSA asks for a signature
 * of the digest. Those method interfaces are deprecated in OpenSSL 3
 * but are the only way short of a provider, hence the define.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "channel.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "tls.h"
#include "util.h"

/* How long a handshake may wait for keyd's signature. */
#define KEYD_TIMEOUT_MS	5000

static RSA_METHOD	*rsa_remote;
static EC_KEY_METHOD	*ec_remote;
static int		 rsa_idx = -1, ec_idx = -1;

static int	 keyd_sign(const unsigned char *, int, int,
		    const unsigned char *, size_t, unsigned char *, size_t *);
static tls_signer signer = keyd_sign;

void
tls_set_signer(tls_signer s)
{
	signer = s;
}

int
tls_key_id(EVP_PKEY *pub, unsigned char id[TLS_KEYID_LEN])
{
	unsigned char	*der = NULL;
	unsigned int	 len = TLS_KEYID_LEN;
	int		 n;

	if ((n = i2d_PUBKEY(pub, &der)) <= 0)
		return -1;
	n = EVP_Digest(der, (size_t)n, id, &len, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return n == 1 && len == TLS_KEYID_LEN ? 0 : -1;
}

/* keyd, through the role's channel to it. */
static int
keyd_sign(const unsigned char *id, int op, int padding,
    const unsigned char *in, size_t inlen, unsigned char *out,
    size_t *outlen)
{
	static uint64_t	 seq;
	struct channel	*ch = proc_peer(ROLE_KEYD);
	struct msg	 m;
	struct imsg	 reply;
	struct msg_reader r;
	const void	*sig;
	size_t		 siglen = 0;
	int		 rc = -1;

	if (ch == NULL || !channel_is_open(ch)) {
		log_warnx("tls: keyd is not there to sign");
		return -1;
	}
	msg_init(&m, IMSG_KEY_SIGN, ++seq);
	msg_add_data(&m, id, TLS_KEYID_LEN);
	msg_add_u32(&m, (uint32_t)op);
	msg_add_u32(&m, (uint32_t)padding);
	msg_add_data(&m, in, inlen);
	if (channel_call(ch, &m, IMSG_KEY_SIGNED, &reply,
	    KEYD_TIMEOUT_MS) == -1)
		return -1;
	msg_reader_init(&r, &reply);
	(void)msg_get_data(&r, &sig, &siglen);
	if (msg_end(&r) == 0 && siglen > 0 && siglen <= *outlen) {
		memcpy(out, sig, siglen);
		*outlen = siglen;
		rc = 0;
	}
	imsg_free(&reply);
	return rc;
}

static void
free_id(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

/* The private operation on a block that OpenSSL has padded already. */
static int
rsa_remote_enc(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	const unsigned char	*id = RSA_get_ex_data(rsa, rsa_idx);
	size_t			 len = (size_t)RSA_size(rsa);

	if (id == NULL || flen < 0 || signer(id, TLS_SIGN_RSA, padding, from,
	    (size_t)flen, to, &len) == -1 || len != (size_t)RSA_size(rsa))
		return -1;
	return (int)len;
}

/* Decryption is for RSA key exchange, which no suite of ours uses. */
static int
rsa_remote_dec(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	(void)flen;
	(void)from;
	(void)to;
	(void)rsa;
	(void)padding;
	return -1;
}

static ECDSA_SIG *
ec_remote_sign(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
    const BIGNUM *r, EC_KEY *ec)
{
	const unsigned char	*id = EC_KEY_get_ex_data(ec, ec_idx);
	unsigned char		 der[TLS_SIGN_MAX];
	const unsigned char	*p = der;
	size_t			 len = sizeof(der);

	(void)kinv;
	(void)r;
	if (id == NULL || dlen < 0 || signer(id, TLS_SIGN_ECDSA, 0, dgst,
	    (size_t)dlen, der, &len) == -1)
		return NULL;
	return d2i_ECDSA_SIG(NULL, &p, (long)len);
}

static void
methods_init(void)
{
	int	(*sign)(int, const unsigned char *, int, unsigned char *,
		    unsigned int *, const BIGNUM *, const BIGNUM *, EC_KEY *);

	if (rsa_remote != NULL)
		return;
	rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL, free_id);
	ec_idx = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, free_id);
	if (rsa_idx == -1 || ec_idx == -1 ||
	    (rsa_remote = RSA_meth_dup(RSA_get_default_method())) == NULL ||
	    RSA_meth_set1_name(rsa_remote, "osms keyd") != 1 ||
	    RSA_meth_set_priv_enc(rsa_remote, rsa_remote_enc) != 1 ||
	    RSA_meth_set_priv_dec(rsa_remote, rsa_remote_dec) != 1 ||
	    (ec_remote = EC_KEY_METHOD_new(EC_KEY_get_default_method())) ==
	    NULL)
		fatalx("tls: cannot make the keyd key methods");
	/* ECDSA_sign() of the default method ends in our sign_sig. */
	EC_KEY_METHOD_get_sign(EC_KEY_get_default_method(), &sign, NULL,
	    NULL);
	EC_KEY_METHOD_set_sign(ec_remote, sign, NULL, ec_remote_sign);
}

/*
 * The certificate's public key with our method; id becomes the key's
 * (freed with it), or is freed here on failure.
 */
static EVP_PKEY *
remote_rsa(EVP_PKEY *pub, unsigned char *id)
{
	const RSA	*src = EVP_PKEY_get0_RSA(pub);
	const BIGNUM	*n, *e;
	RSA		*rsa;
	EVP_PKEY	*pkey;
	BIGNUM		*n2, *e2;

	if (src == NULL || (rsa = RSA_new()) == NULL) {
		free(id);
		return NULL;
	}
	RSA_get0_key(src, &n, &e, NULL);
	n2 = BN_dup(n);
	e2 = BN_dup(e);
	if (n2 == NULL || e2 == NULL || RSA_set0_key(rsa, n2, e2, NULL) != 1) {
		BN_free(n2);
		BN_free(e2);
		RSA_free(rsa);
		free(id);
		return NULL;
	}
	/* The method before the assignment: OpenSSL looks at it then. */
	if (RSA_set_method(rsa, rsa_remote) != 1 ||
	    RSA_set_ex_data(rsa, rsa_idx, id) != 1) {
		RSA_free(rsa);
		free(id);
		return NULL;
	}
	if ((pkey = EVP_PKEY_new()) == NULL ||
	    EVP_PKEY_assign_RSA(pkey, rsa) != 1) {
		EVP_PKEY_free(pkey);
		RSA_free(rsa);			/* and id with it */
		return NULL;
	}
	return pkey;
}

static EVP_PKEY *
remote_ec(EVP_PKEY *pub, unsigned char *id)
{
	const EC_KEY	*src = EVP_PKEY_get0_EC_KEY(pub);
	EC_KEY		*ec;
	EVP_PKEY	*pkey;

	if (src == NULL || (ec = EC_KEY_dup(src)) == NULL) {
		free(id);
		return NULL;
	}
	if (EC_KEY_set_method(ec, ec_remote) != 1 ||
	    EC_KEY_set_ex_data(ec, ec_idx, id) != 1) {
		EC_KEY_free(ec);
		free(id);
		return NULL;
	}
	if ((pkey = EVP_PKEY_new()) == NULL ||
	    EVP_PKEY_assign_EC_KEY(pkey, ec) != 1) {
		EVP_PKEY_free(pkey);
		EC_KEY_free(ec);		/* and id with it */
		return NULL;
	}
	return pkey;
}

EVP_PKEY *
tls_remote_key(X509 *cert, char *err, size_t errsize)
{
	EVP_PKEY	*pub, *pkey = NULL;
	unsigned char	*id;

	methods_init();
	if ((pub = X509_get0_pubkey(cert)) == NULL) {
		(void)snprintf(err, errsize, "certificate has no public key");
		return NULL;
	}
	id = xmalloc(TLS_KEYID_LEN);
	if (tls_key_id(pub, id) == -1) {
		free(id);
		(void)snprintf(err, errsize, "cannot hash the public key");
		return NULL;
	}
	switch (EVP_PKEY_get_base_id(pub)) {
	case EVP_PKEY_RSA:
		pkey = remote_rsa(pub, id);
		break;
	case EVP_PKEY_EC:
		pkey = remote_ec(pub, id);
		break;
	default:
		free(id);
		(void)snprintf(err, errsize, "%s keys are not supported; "
		    "use RSA or ECDSA", OBJ_nid2sn(EVP_PKEY_get_base_id(pub)));
		return NULL;
	}
	if (pkey == NULL) {
		ERR_clear_error();
		(void)snprintf(err, errsize, "cannot make the keyd key");
	}
	return pkey;
}
