/*
 * S/MIME 4.0 (RFC 8551) over OpenSSL's CMS (RFC 5652): sign, verify,
 * encrypt and decrypt whole messages, as the gateway (cryptod) does.
 *
 * A message's MIME content (its Content-* fields and body) is what is
 * signed or encrypted; the other header fields (From, To, Subject ...)
 * stay outside, as mail clients expect. Messages to verify or decrypt
 * come from anywhere: they are parsed with mime.c's limits, and a
 * verdict is "verified" only for a signature that covers the whole
 * content and chains to a trusted certificate.
 */
#ifndef OSMS_SMIME_H
#define OSMS_SMIME_H

#include <stddef.h>

#include <openssl/x509.h>

#include "buf.h"

#define SMIME_MAX_MESSAGE	(64 * 1024 * 1024)

/* What a correspondent takes, as its SMIMECapabilities say. */
#define SMIME_CAP_GCM		0x1	/* AES-GCM: AuthEnvelopedData */
#define SMIME_CAP_OAEP		0x2	/* RSAES-OAEP key transport */

enum smime_result {
	SMIME_NOT_SIGNED,	/* no S/MIME signature at the top */
	SMIME_VERIFIED,
	SMIME_FAILED,		/* a signature that does not verify */
};

struct smime_verdict {
	enum smime_result	 result;
	char			 signer[256];	/* the signer's e-mail, "" */
	char			 reason[160];	/* for FAILED */
	unsigned		 caps;	/* VERIFIED: SMIME_CAP_* announced */
};

/*
 * Sign msg (multipart/signed, detached, SHA-256; the content made 7bit
 * first, as signed content must survive transport; SMIMECapabilities
 * that put AES-GCM first and name RSAES-OAEP): the signed message
 * appended to out. chain may be NULL. 0, or -1 and errstr.
 */
int	 smime_sign(const char *msg, size_t len, X509 *cert, EVP_PKEY *key,
	    STACK_OF(X509) *chain, struct buf *out, const char **errstr);

/*
 * Encrypt msg for the certificates: AES-256-CBC enveloped-data, or with
 * SMIME_CAP_GCM in caps AES-256-GCM authenticated-enveloped-data (RFC
 * 5083/5084); the content key for an RSA certificate with PKCS #1 v1.5,
 * or with SMIME_CAP_OAEP RSAES-OAEP (RFC 3560, default parameters). caps:
 * what all the recipients are known to take.
 */
int	 smime_encrypt(const char *msg, size_t len, STACK_OF(X509) *recips,
	    unsigned caps, struct buf *out, const char **errstr);

/*
 * Decrypt an application/pkcs7-mime enveloped (or authenticated
 * enveloped) message with cert and key: the message with its content
 * decrypted appended to out. 0, or -1 and errstr (not encrypted, not
 * for this key, malformed).
 */
int	 smime_decrypt(const char *msg, size_t len, X509 *cert, EVP_PKEY *key,
	    struct buf *out, const char **errstr);

/* 1 if the message's top is S/MIME encrypted. */
int	 smime_is_encrypted(const char *msg, size_t len);

/*
 * The EFAIL shape: an encrypted part among unencrypted ones, which a
 * client could render as one document with the plaintext inside an
 * attacker's HTML. smime_has_nested() says whether msg has one;
 * smime_decrypt_nested() decrypts the first such part and never joins it
 * to the others: out is the message with the decrypted entity as its
 * first part and the original, ciphertext and all, as an attached
 * message/rfc822. 0, or -1 and errstr.
 */
int	 smime_has_nested(const char *msg, size_t len);
/*
 * msg (its fields, then multipart/mixed: its content entity first) with
 * orig attached as message/rfc822, described by why (a header field's
 * value): the evidence of what came, kept beside what is delivered.
 */
int	 smime_attach_original(const char *msg, size_t len, const char *orig,
	    size_t origlen, const char *why, struct buf *out);
int	 smime_decrypt_nested(const char *msg, size_t len, X509 *cert,
	    EVP_PKEY *key, struct buf *out, const char **errstr);

/*
 * Verify a multipart/signed or opaque signed-data message against the
 * trust anchors in store: the verdict, and (when content is not NULL)
 * the message with its signed content unwrapped appended to content.
 * The signer's certificate, when it verified, goes to *signer (the
 * caller frees it) if signer is not NULL. 0, or -1 and errstr when the
 * message cannot be read at all.
 */
int	 smime_verify(const char *msg, size_t len, X509_STORE *store,
	    struct smime_verdict *, struct buf *content, X509 **signer,
	    const char **errstr);
/*
 * smime_verify() keeps certificates as parsed, and for up to a minute
 * (never past a notAfter) the signer chains it found valid for a store:
 * a caller that changes a store it verified with (adds anchors or CRLs,
 * sets flags) calls smime_forget() first.
 */
void	 smime_forget(void);

#endif
