/*
 * The TLS private keys, in keyd only: loaded from the parent's
 * descriptors, named by their public key, used to sign handshakes.
 */
#ifndef OSMS_KEYD_KEYS_H
#define OSMS_KEYD_KEYS_H

#include <stddef.h>

/*
 * A pki's key, checked against its certificate (the first in the chain),
 * into the set being built. Both descriptors are closed. 0, or -1 and a
 * reason in err.
 */
int	 keys_add(const char *name, int certfd, int keyfd, char *err,
	    size_t errsize);
/*
 * The set being built becomes current. The set before stays usable for
 * one more reload: a network role may still offer its certificates.
 */
void	 keys_apply(void);
size_t	 keys_count(void);

/* A tls_signer (tls.h): one signature with a known key. */
int	 keys_sign(const unsigned char *keyid, int op, int padding,
	    const unsigned char *in, size_t inlen, unsigned char *out,
	    size_t *outlen);

#endif
