/*
 * OpenPGP for the gateway through GPGME: PGP/MIME (RFC 3156) sign,
 * encrypt, decrypt and verify of whole messages, as smime.h does for
 * S/MIME. The keys are those of one GnuPG home (the gateway's, never a
 * user's ~/.gnupg), used offline: no keyserver, no WKD, no pinentry
 * but the loopback one (the gateway's keys have no passphrase of
 * their own; the store keeps them).
 *
 * What is signed or encrypted is the message's MIME content (its
 * Content-* fields and body, made 7bit first when signed); the other
 * header fields stay outside. Messages to decrypt or verify come from
 * anywhere: mime.c's limits apply, an encrypted message without
 * integrity protection (no MDC, no AEAD) is refused, and a verdict is
 * "verified" only for a good signature over the whole content by a
 * key of the home.
 */
#ifndef OSMS_PGP_H
#define OSMS_PGP_H

#include <stddef.h>

#include "buf.h"

#define PGP_MAX_MESSAGE		(64 * 1024 * 1024)
#define PGP_MAX_FPR		64	/* hex fingerprint, with room */
#define PGP_MAX_KEY		(64 * 1024)	/* a key attached to mail */

enum pgp_result {
	PGP_NOT_SIGNED,		/* no OpenPGP signature at the top */
	PGP_VERIFIED,		/* good, by a key of the home */
	PGP_FAILED,		/* bad, or by a key we do not have */
};

struct pgp_verdict {
	enum pgp_result	 result;
	char		 fpr[PGP_MAX_FPR + 1];	/* the signing key's */
	char		 signer[256];	/* its first e-mail address, "" */
	char		 reason[160];	/* for FAILED */
	int		 unknown_signer;	/* FAILED: a key not here */
	/* Decryption of a message signed inside by a key not here: its
	 * session key, for pgp_verify_with() (wipe it after); else "". */
	char		 session[128];
};

/* Use the GnuPG home dir (created 0700 if missing): 0, or -1 and
 * errstr. Every other call fails until it succeeded. */
int	 pgp_init(const char *home, const char **errstr);
void	 pgp_done(void);
/* Stop the GnuPG agent of the home (GnuPG starts it when a secret key
 * is first used): at the end of the process that used it. */
void	 pgp_stop_agent(void);

/*
 * The fingerprint of the key of address (an e-mail address of one of its
 * user IDs, or a domain: a gateway's key, user ID <domain>; secret: a
 * key we can sign or decrypt with), usable now (not expired, revoked or
 * disabled, able to sign resp. encrypt): 0, or -1.
 */
int	 pgp_key_for(const char *address, int secret, char *fpr,
	    size_t size);

/* Does the key fpr (or the key of the subkey fpr) have a valid user ID
 * for address (an address, or a domain)? */
int	 pgp_key_names(const char *fpr, const char *address);

/*
 * Keys of the home, for osmsctl pgp: a new key pair for address (no
 * passphrase, as the store keeps it; signing and an encryption subkey;
 * its fingerprint into fpr); keys imported from ASCII armor or binary
 * (how many, their fingerprints each to line, which may be NULL);
 * export (ASCII armor, with secret the secret keys too) of the keys
 * pattern names (a fingerprint or an address) to out; delete one by
 * fingerprint, secret part and all. 0 (or a count), or -1 and errstr.
 */
int	 pgp_keygen(const char *address, char *fpr, size_t size,
	    const char **errstr);
int	 pgp_import(const void *data, size_t len,
	    void (*line)(const char *fpr, void *), void *arg,
	    const char **errstr);
int	 pgp_export(const char *pattern, int secret, struct buf *out,
	    const char **errstr);
/* A key from mail for address: imported with only the user IDs that
 * name address (another one, say <domain>, would let its sender speak
 * for others). 0, or -1 and errstr. */
int	 pgp_import_for(const void *data, size_t len, const char *address,
	    const char **errstr);
int	 pgp_delete(const char *fpr, const char **errstr);
/* Each key whose user IDs match pattern ("" for all), as a line:
 * "FPR sec|pub usable|revoked|expired|disabled  uid, uid ...". */
int	 pgp_list(const char *pattern, void (*line)(const char *, void *),
	    void *arg);

/*
 * A key offered in mail (Autocrypt keydata, binary): 0 and its
 * fingerprint if it is one public key (no secret key packet anywhere)
 * with a user ID for address; -1 and errstr otherwise. Nothing is
 * imported.
 */
int	 pgp_offered(const void *data, size_t len, const char *address,
	    char *fpr, size_t size, const char **errstr);
/* The public key fpr, minimal (binary, as Autocrypt carries it), to
 * out: 0 or -1. */
int	 pgp_export_minimal(const char *fpr, struct buf *out);

/* msg signed by the key fpr: multipart/signed, detached, ASCII armor,
 * appended to out. 0, or -1 and errstr. */
int	 pgp_sign(const char *msg, size_t len, const char *fpr,
	    struct buf *out, const char **errstr);
/* msg encrypted to the keys fprs (and signed by signer, in the same
 * OpenPGP message, unless NULL): multipart/encrypted, appended to out.
 * 0, or -1 and errstr. */
int	 pgp_encrypt(const char *msg, size_t len, const char *const *fprs,
	    size_t nfprs, const char *signer, struct buf *out,
	    const char **errstr);

/* Is the message PGP/MIME encrypted (multipart/encrypted with
 * protocol application/pgp-encrypted) at the top? */
int	 pgp_is_encrypted(const char *msg, size_t len);
/*
 * Decrypt a PGP/MIME message with a key of the home that belongs to
 * one of the addresses for[] (nfor 0: any key of the home; the address
 * whose key it was into who), if every address of for[] is among its
 * recipients by its own key or by its domain's (a domain of for[]):
 * the message with the decrypted entity as
 * its content, appended to out; a signature inside the OpenPGP message
 * (RFC 3156 6.2) in v (else NOT_SIGNED). 0, or -1 and errstr (not for a
 * key of theirs, damaged, or PGP_NO_MDC: without integrity protection).
 */
int	 pgp_decrypt(const char *msg, size_t len, const char *const *for_,
	    size_t nfor, char *who, size_t whosize, struct buf *out,
	    struct pgp_verdict *v, const char **errstr);
extern const char PGP_NO_MDC[];
/*
 * Inline PGP (legacy): a text/plain message whose body is one armored
 * PGP MESSAGE, nothing else in it (no text around it to be joined to the
 * plaintext): pgp_decrypt() for it, the decrypted text as the body.
 * pgp_is_inline() says whether a message is that.
 */
int	 pgp_is_inline(const char *msg, size_t len);
/*
 * Is there an OpenPGP message below the top of the message (a PGP/MIME
 * part among others, an armored message in a text part)? Such a part is
 * not decrypted: joined to the parts around it, its plaintext could be
 * sent away by them (EFAIL).
 */
int	 pgp_has_nested(const char *msg, size_t len);
int	 pgp_decrypt_inline(const char *msg, size_t len,
	    const char *const *for_, size_t nfor, char *who, size_t whosize,
	    struct buf *out, struct pgp_verdict *v, const char **errstr);

/* The verdict on a PGP/MIME multipart/signed message: 0 (v says), or
 * -1 and errstr when it cannot be looked at (too large, no memory). */
int	 pgp_verify(const char *msg, size_t len, struct pgp_verdict *v,
	    const char **errstr);
/*
 * pgp_verify() against key (binary, one public key) alone, in a GnuPG
 * home made for it under the directory scratch and removed after:
 * whether a key that came with a message signed that message. With
 * session (a decryption's, see struct pgp_verdict), msg is the PGP/MIME
 * encrypted message and the signature checked is the one inside. 0 (v
 * says), or -1 and errstr (the key does not import, ...).
 */
int	 pgp_verify_with(const char *msg, size_t len, const char *session,
	    const void *key, size_t keylen, const char *scratch,
	    struct pgp_verdict *v, const char **errstr);
/*
 * A key attached to a message: the first application/pgp-keys part (not
 * inside a forwarded message), its transfer encoding undone and its
 * ASCII armor (RFC 4880 6.2, checksum checked) removed, appended to key
 * (binary): 1, 0 if there is none, -1 if the one there is malformed or
 * larger than PGP_MAX_KEY.
 */
int	 pgp_attached_key(const char *msg, size_t len, struct buf *key);

#endif
