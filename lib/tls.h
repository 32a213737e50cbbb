/*
 * TLS server contexts with safe defaults: TLS 1.2 and later, forward-
 * secret AEAD suites, no compression, no renegotiation.
 */
#ifndef OSMS_TLS_H
#define OSMS_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

/*
 * A server context from a PEM certificate chain and a PEM private key,
 * read from descriptors the parent opened (closed here). NULL and a
 * reason in err if they do not load or do not match. The key's bytes
 * are wiped from memory after use.
 */
SSL_CTX	*tls_server_ctx(int certfd, int keyfd, char *err, size_t errsize);

/*
 * The same from the certificate chain alone: the private key stays in
 * keyd, which makes each handshake's signature (tls_remote.c).
 */
SSL_CTX	*tls_server_ctx_remote(int certfd, char *err, size_t errsize);

/*
 * The pkis of a network role, as its config slice brings them: each
 * IMSG_CONF_PKI_CERT goes to tls_pki_conf(); at the end of the slice
 * tls_pki_apply() makes the new set current (sessions keep a reference
 * to the context they use). A pki whose certificate does not load is
 * logged and has no context: its listeners offer no TLS.
 */
struct imsg;
void	 tls_pki_conf(struct imsg *);
void	 tls_pki_apply(void);
/* The TLS context of a pki, NULL if it has none. */
SSL_CTX	*tls_pki_ctx(const char *name);

/*
 * Keys held by keyd. A key is named by the SHA-256 of its public key
 * (DER); the operations are RSA's private operation on a block padded
 * already, and ECDSA's signature of a digest (DER).
 */
#define TLS_KEYID_LEN	32
#define TLS_SIGN_RSA	1
#define TLS_SIGN_ECDSA	2
#define TLS_SIGN_MAX	1024	/* input or output bytes: RSA-8192 */

/* 0 and *outlen bytes in out (at most *outlen on entry), or -1. */
typedef int (*tls_signer)(const unsigned char *keyid, int op, int padding,
	    const unsigned char *in, size_t inlen, unsigned char *out,
	    size_t *outlen);

int	 tls_key_id(EVP_PKEY *, unsigned char id[TLS_KEYID_LEN]);
/* The certificate's public key, with private operations by keyd. */
EVP_PKEY *tls_remote_key(X509 *, char *err, size_t errsize);
/* Who signs for tls_remote_key()'s keys: keyd, or a test's signer. */
void	 tls_set_signer(tls_signer);

/* "TLSv1.3" and the cipher name of an established connection. */
const char *tls_version(const SSL *);
const char *tls_cipher(const SSL *);

#endif
