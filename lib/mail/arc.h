/*
 * ARC (RFC 8617) verification: the chain of ARC sets that forwarders
 * (mailing lists, forwarding services) added to a message, each sealing
 * what it received. The newest ARC-Message-Signature must verify over
 * the message as it is, and every ARC-Seal over the sets up to its own;
 * the sets must be complete and numbered 1 to N, the first saying
 * cv=none and the others cv=pass.
 *
 * Signatures are rsa-sha256 or ed25519-sha256 with relaxed
 * canonicalization (simple is not taken: the message is judged fail).
 * Keys come from the caller (a DNS TXT record at SELECTOR._domainkey.
 * DOMAIN). The message is hostile: read with dkimcanon.c's limits.
 */
#ifndef OSMS_ARC_H
#define OSMS_ARC_H

#include <stddef.h>

#define ARC_MAX_SETS	50		/* RFC 8617 4.2.1 */

enum arc_result { ARC_NONE, ARC_PASS, ARC_FAIL };

struct arc_verdict {
	enum arc_result	 result;
	int		 sets;		/* ARC sets found */
	int		 temp;		/* a key could not be had now */
	char		 sealer[254];	/* d= of the newest ARC-Seal */
	char		 why[96];	/* what failed */
};

/*
 * The key record (a TXT record's text) of selector and domain into out:
 * 0, -1 if there is none, -2 if there is no answer now.
 */
typedef int	(*arc_key_fn)(const char *selector, const char *domain,
		    char *out, size_t size, void *arg);

void	 arc_verify(const char *msg, size_t len, arc_key_fn, void *arg,
	    struct arc_verdict *);

#endif
