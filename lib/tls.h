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

/* "TLSv1.3" and the cipher name of an established connection. */
const char *tls_version(const SSL *);
const char *tls_cipher(const SSL *);

#endif
