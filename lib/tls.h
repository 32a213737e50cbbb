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
 * The pkis of a network role, as its config slice brings them: each
 * IMSG_CONF_PKI_CERT and _KEY goes to tls_pki_conf(); at the end of the
 * slice tls_pki_apply() makes the new set current (sessions keep a
 * reference to the context they use). A pki whose files do not load is
 * logged and has no context: its listeners offer no TLS.
 */
struct imsg;
void	 tls_pki_conf(struct imsg *);
void	 tls_pki_apply(void);
/* The TLS context of a pki, NULL if it has none. */
SSL_CTX	*tls_pki_ctx(const char *name);

/* "TLSv1.3" and the cipher name of an established connection. */
const char *tls_version(const SSL *);
const char *tls_cipher(const SSL *);

#endif
