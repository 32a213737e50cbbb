/*
 * Login tokens. After an IMAP or POP3 login imapd gets a token, not a
 * promise: the parent redeems it, once and within TOKEN_TTL seconds, to
 * learn who logged in and where their mail is. The mail session so never
 * takes a user name from the network-facing process. Event loop only.
 */
#ifndef AUTHD_TOKEN_H
#define AUTHD_TOKEN_H

#include <stddef.h>

#include "userent.h"

#define TOKEN_TTL	30		/* seconds */
#define TOKEN_MAX	10000		/* outstanding; then the oldest go */
#define TOKEN_LEN	32		/* hex digits */

/* A token for u and service into out (TOKEN_LEN + 1 bytes). */
void	 token_issue(const struct userent *u, unsigned service, char *out);
/* The login of token, forgotten at once: 0, or -1 if none or expired. */
int	 token_redeem(const char *token, struct userent *u,
	    unsigned *service);

#endif
