/*
 * The S/MIME certificate store, a directory of PEM files that the parent
 * makes readable by cryptod alone (and root, for osmsctl):
 *
 *	ADDRESS.pem, ADDRESS.key	a local user's certificate and key, or
 *					(no key) an outside correspondent's
 *	DOMAIN.pem, DOMAIN.key		a local domain's gateway certificate,
 *					or (no key) a partner gateway's
 *	trust.pem			trust anchors (CA certificates)
 *	ca.pem, ca.key			the internal CA (osmsctl cert ca),
 *					trusted as well
 *	crl.pem				revocation lists of those CAs
 *	harvested/ADDRESS.pem		signers' certificates, kept by cryptod
 *
 * With a master key (cryptod { master-key }) the private keys are kept
 * encrypted (PKCS#8, AES-256); the master key reaches cryptod as an open
 * descriptor from the parent, so the store alone gives no key away.
 *
 * A certificate is checked each time it is about to be used, not when
 * it was stored: it must chain to a trust anchor, be in its validity
 * period, allow the use (key usage, extended key usage), name the
 * address, and not be revoked by a CRL of its issuer.
 */
#ifndef OSMS_CERTSTORE_H
#define OSMS_CERTSTORE_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define STORE_MAX_MASTER	1024

enum store_use { STORE_SIGN, STORE_ENCRYPT };
enum store_origin { ORIGIN_IMPORTED, ORIGIN_HARVESTED, ORIGIN_DOMAIN };

void		 store_set(const char *dir);
/* The master key (the first line of what fd reads; fd is not closed):
 * private keys in the store may be PKCS#8-encrypted with it. */
int		 store_set_master_fd(int fd);
const char	*store_master(void);
const char	*store_dir(void);
int		 store_enabled(void);
/* Read trust.pem and crl.pem again. */
void		 store_reload(void);
X509_STORE	*store_trust(void);
int		 store_name_ok(const char *);
X509		*store_cert(const char *name);
X509		*store_harvested(const char *name);
EVP_PKEY	*store_key(const char *name);
/* 0 if x may be used (enum store_use) for name (an address or a
 * domain) now, else -1 and why. */
int		 store_check(X509 *x, const char *name, int use,
		    const char **why);
/* 1 if a CRL in crl.pem of x's issuer lists x: a signer whose
 * signature verified may still have been revoked (smime_verify() checks
 * no CRL). */
int		 store_revoked(X509 *x);
/* The certificate to encrypt to an outside address: its own (imported,
 * else harvested), else its domain's gateway certificate, each checked;
 * NULL and why (if one was refused) when there is none. *caps: what its
 * owner takes, SMIME_CAP_* (NAME.aead and NAME.oaep files beside the
 * certificate, which harvesting writes as the signer announced them). */
X509		*store_recipient(const char *address, enum store_origin *,
		    unsigned *caps, char *why, size_t size);
const char	*store_origin_name(enum store_origin);
/* SHA-256 of the certificate, lower-case hex. */
void		 store_fingerprint(X509 *, char *out, size_t size);
/* Keep a verified signer's certificate (harvested/), and what it takes
 * (SMIME_CAP_*). */
void		 store_harvest(X509 *, const char *email, unsigned caps);

/*
 * Writing: a certificate (and key, encrypted with the master key when
 * there is one) as name, atomically, owned like the store. The internal
 * CA: made once (P-256, ca.pem and ca.key), and issuing RSA-2048 S/MIME
 * certificates to local users for days.
 */
int		 store_put(const char *name, X509 *, EVP_PKEY *);
int		 store_make_ca(long days, const char *hostname,
		    const char **why);
int		 store_has_ca(void);
int		 store_issued_by_ca(X509 *);
int		 store_issue(const char *address, long days, const char **why);

#endif
