/*
 * Password hashes: verify the "{SCHEME}"-prefixed values that Dovecot
 * and PostfixAdmin store, and make new ones. authd verifies, osmsctl
 * creates. Plaintext schemes are refused. Every function is
 * thread-safe and keeps no copy of a password (pwhash_verify() keeps
 * one of the last stored value it checked, for pwhash_dummy()).
 *
 * Schemes verified (scheme names are matched without regard to case,
 * as Dovecot does):
 *	{ARGON2ID} {ARGON2I}	libargon2 encoded form, "$argon2id$v=19$..."
 *	{BLF-CRYPT}		bcrypt "$2y$", "$2b$", "$2a$"
 *	{SHA512-CRYPT}		"$6$", {SHA256-CRYPT} "$5$", {MD5-CRYPT} "$1$"
 *	{CRYPT}			any of the crypt methods here and yescrypt "$y$"
 *	(no prefix)		a bare crypt string, "$1$", "$5$", "$6$",
 *				"$2a$", "$2b$", "$2y$" or "$y$" (PostfixAdmin)
 *	{SSHA512} {SSHA256}	base64(H(password || salt) || salt), salt >= 1
 *	{SHA512} {SHA256}	base64(H(password)), or the digest in hex
 *				(either case) when the length is exactly that
 *				of the hex digest
 *
 * Refused as "not a hash we know": plaintext and unlisted schemes
 * ({PLAIN}, {CLEARTEXT}, {PLAIN-MD5}, {SHA}, {SCRAM-SHA-256}...),
 * traditional and extended DES crypt (13 characters or "_...": 56-bit
 * keys, 8-character passwords, broken in hours), and stored values whose
 * cost would let a hostile database stall authd (SECURITY.md H5):
 * "$5$"/"$6$" rounds above 1,000,000, bcrypt cost above 15, yescrypt
 * above 256 MiB or with extended parameters, argon2 m above 256 MiB, t above
 * 100 or p above 16.
 *
 * crypt(3) (libxcrypt) refuses passwords of CRYPT_MAX_PASSPHRASE_SIZE
 * (512) bytes or more: against a crypt scheme those never match.
 * bcrypt only uses the first 72 bytes of a password.
 */
#ifndef OSMS_PWHASH_H
#define OSMS_PWHASH_H

#include <stddef.h>

#define PWHASH_MAX		512	/* longest stored hash, with its NUL */
#define PWHASH_MAX_PASSWORD	1024	/* longer passwords are refused */

/*
 * Check password (pwlen bytes, no NUL among them, need not be
 * terminated) against a stored value. 1: the password matches; 0: it
 * does not; -1: the stored value is not a hash we know (unknown or
 * refused scheme, malformed, cost out of bounds, PWHASH_MAX bytes or
 * longer), or the password is refused (a NUL byte, longer than
 * PWHASH_MAX_PASSWORD), or memory ran out. The final digests are
 * compared in constant time. Refusals are decided before any hashing,
 * from the stored value and the password's length only.
 */
int	 pwhash_verify(const char *stored, const char *password, size_t pwlen);

/*
 * A new hash in the default scheme: {ARGON2ID}, argon2id v=19,
 * m=65536 KiB, t=3, p=1, a 16-byte salt from getrandom(2) and a 32-byte
 * tag, in the encoded form Dovecot writes:
 * "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>" (unpadded
 * base64). Returns 0, or -1 (password refused as by pwhash_verify,
 * outsize too small, no randomness, out of memory) with out wiped.
 * PWHASH_MAX bytes are always enough.
 */
int	 pwhash_create(const char *password, size_t pwlen, char *out,
	    size_t outsize);

/*
 * Spend the time of pwhash_verify() and fail: call it for a user that
 * does not exist, so that a failed lookup takes as long as a wrong
 * password (SECURITY.md H3). It verifies against the stored value
 * pwhash_verify() last checked (answered 0 or 1), so it costs what the
 * directory's own hashes cost; before any, against a default-scheme
 * hash made once, at first use, from a random password nobody knows.
 * Refusals (NUL byte, too long) are as fast as in pwhash_verify().
 */
void	 pwhash_dummy(const char *password, size_t pwlen);

/*
 * A SCRAM-SHA-256 secret for storage (RFC 5802, RFC 7677), in the
 * RFC 5803 form Cyrus SASL reads from the authPassword property:
 * "SCRAM-SHA-256$4096:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>",
 * 4096 iterations, a 16-byte random salt. The password bytes are used as
 * given: SASLprep, if wanted, is the caller's. Returns 0, or -1 as
 * pwhash_create(). pwhash_verify() does not read this form.
 */
int	 pwhash_scram(const char *password, size_t pwlen, char *out,
	    size_t outsize);

/*
 * The scheme of a stored value, for logs and osmsctl: "ARGON2ID",
 * "ARGON2I", "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT",
 * "CRYPT" ({CRYPT} or a bare crypt string), "SSHA512", "SSHA256",
 * "SHA512", "SHA256". NULL for a scheme pwhash_verify() refuses; a
 * non-NULL answer looks only at the prefix and the crypt method or
 * argon2 type, so pwhash_verify() may still find the value malformed.
 */
const char *pwhash_scheme(const char *stored);

#endif
