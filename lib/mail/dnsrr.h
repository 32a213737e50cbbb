/*
 * The record data (rdata) of the DNS answers the mta and checkd use, as
 * libunbound hands it over: MX (RFC 1035 3.3.9), PTR (3.3.12), TLSA (RFC
 * 6698 2.1) and TXT (RFC 1035 3.3.14). Answers come from the network:
 * every length is checked, and a name is accepted only if a host could
 * have it.
 */
#ifndef OSMS_DNSRR_H
#define OSMS_DNSRR_H

#include <stddef.h>
#include <stdint.h>

#define DNSRR_MAX_NAME		254	/* a name as text, with its NUL */
#define DNSRR_TLSA_MAX_DATA	64	/* a SHA-512 hash */

struct tlsa_rec {
	uint8_t		 usage, selector, mtype;
	uint8_t		 data[DNSRR_TLSA_MAX_DATA];
	size_t		 len;
};

/*
 * MX: the preference and the exchange, as text ("" for the root, a null
 * MX). 0, or -1 if the data is malformed or the name is no host name.
 */
int	 dnsrr_mx(const unsigned char *, size_t, uint16_t *pref, char *name,
	    size_t size);

/*
 * TLSA: 1 and the record if SMTP's DANE can use it (RFC 7672 3.1:
 * DANE-TA(2) or DANE-EE(3), a SHA-256 or SHA-512 hash of the certificate
 * or its key), 0 if it is well-formed but not usable, -1 if malformed.
 */
int	 dnsrr_tlsa(const unsigned char *, size_t, struct tlsa_rec *);

/* PTR: the name, as text. 0, or -1 if malformed or no host name. */
int	 dnsrr_ptr(const unsigned char *, size_t, char *name, size_t size);

/* TXT: the character-strings joined, NUL-terminated, into out. 0, or -1
 * if malformed, too long, or with a NUL byte. */
int	 dnsrr_txt(const unsigned char *, size_t, char *out, size_t size);

#endif
