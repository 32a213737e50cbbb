/*
 * DKIM signing (RFC 6376), relaxed/relaxed, with rsa-sha256 or
 * ed25519-sha256 (RFC 8463). The signer holds the key: in osms that is
 * cryptod, never a network-facing role.
 *
 * The message is hostile in the sense that a local user wrote it: its
 * header block is read with limits, bare LFs count as line ends, and
 * whatever it holds, the result is one well-formed header field.
 *
 * The names keep clear of libopendkim's (checkd links both): it has a
 * dkim_sign of its own.
 */
#ifndef OSMS_DKIM_H
#define OSMS_DKIM_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "buf.h"

#define DKIM_MAX_HEADER		(1 << 20)	/* bytes of the header block */
#define DKIM_MAX_FIELDS		1000		/* fields of the header block */
#define DKIM_MAX_SELECTOR	63		/* one DNS label */
#define DKIM_MAX_DOMAIN		253

enum dkim_alg { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };

/* The algorithm of a key (RSA of 1024 bits or more, or Ed25519), or -1. */
int	 dkim_key_alg(EVP_PKEY *);

/*
 * Sign msg (len bytes: header, blank line, body; CRLF or LF line ends)
 * for domain and selector at time now. Appends "DKIM-Signature: ...\r\n",
 * folded, to out. 0, or -1 and errstr (a bad key, domain or selector,
 * a header past the limits, a message without a From field).
 */
int	 dkim_signature(const char *msg, size_t len, const char *domain,
	    const char *selector, EVP_PKEY *key, time_t now, struct buf *out,
	    const char **errstr);

/*
 * The domain of the message's (first) From field, lower case, into out:
 * the domain a signature aligns with (RFC 7489 3.1). 0, or -1 if there
 * is none that is a valid name.
 */
int	 dkim_from_domain(const char *msg, size_t len, char *out,
	    size_t size);

/* How many From fields the header has (RFC 5322 wants one; RFC 7489
 * 6.6.1: a check must not pick one of several), or -1 if it is past
 * the limits. */
int	 dkim_from_count(const char *msg, size_t len);

/*
 * The DNS TXT record that publishes key's public half for verifiers:
 * "v=DKIM1; k=rsa; p=..." appended to out. 0, or -1.
 */
int	 dkim_txt_record(EVP_PKEY *key, struct buf *out);

#endif
