/*
 * The Sender Rewriting Scheme (as libsrs2 and postsrsd write it), for
 * mail an alias forwards to another domain: the envelope sender becomes
 * an address of ours, so SPF passes at the next hop, and a bounce to it
 * finds its way back.
 *
 *	user@example.org  ->  SRS0=HHHH=TT=example.org=user@ours
 *	SRS0=HHHH=TT=host=user@other  ->  SRS1=HHHH=other==HHHH=TT=host=user@ours
 *
 * HHHH is the first four base64 characters of HMAC-SHA1(secret, the
 * lower-cased rest), TT the day (base32, modulo 1024). Addresses coming
 * back in bounces are hostile: srs_reverse checks the hash and the age
 * before it trusts any of them.
 */
#ifndef OSMS_SRS_H
#define OSMS_SRS_H

#include <stddef.h>
#include <time.h>

#define SRS_MAX_AGE_DAYS	21	/* a bounce later than this is refused */
#define SRS_SECRET_MIN		16	/* bytes */

struct srs {
	const unsigned char	*secret;
	size_t			 secretlen;
	const char		*domain;	/* ours, the rewritten domain */
};

/*
 * Rewrite sender (local@domain) into out. An empty sender (a bounce)
 * and one already in our domain are copied as they are. 0, or -1 and
 * errstr.
 */
int	 srs_forward(const struct srs *, const char *sender, time_t now,
	    char *out, size_t outsize, const char **errstr);

/*
 * If addr (a recipient of ours) is an SRS address with a good hash and
 * age, the address it stands for into out and 1; 0 if it is no SRS
 * address; -1 and errstr if it is one that must be refused (forged,
 * expired, malformed).
 */
int	 srs_reverse(const struct srs *, const char *addr, time_t now,
	    char *out, size_t outsize, const char **errstr);

#endif
