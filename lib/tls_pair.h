/*
 * A pki's certificate and private key as keyd can use them: PEM, the key
 * matching the certificate, and RSA or ECDSA, the kinds keyd signs with.
 */
#ifndef OSMS_TLS_PAIR_H
#define OSMS_TLS_PAIR_H

#include <stddef.h>
#include <openssl/bio.h>
#include <openssl/evp.h>

/* The reason of OpenSSL's last error after what, in err. */
void		 tls_reason(char *err, size_t errsize, const char *what);

/* The key, or NULL and the reason in err. */
EVP_PKEY	*tls_pair_load(BIO *cert, BIO *key, char *err, size_t errsize);

/*
 * The same check on two files, made in a child process so that the key
 * never enters the caller's memory (the parent's, which must not hold
 * one). 0, or -1 and the reason in err.
 */
int		 tls_pair_check(const char *certpath, const char *keypath,
		    char *err, size_t errsize);
/* How long tls_pair_check() waits for its child (a test shortens it). */
extern int	 tls_pair_timeout_ms;

#endif
