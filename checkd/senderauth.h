/*
 * Sender authentication of one message from outside: SPF (RFC 7208) of
 * the MAIL FROM and HELO identities through libspf2, every DKIM
 * signature (RFC 6376) through libopendkim, and DMARC (RFC 7489)
 * through libopendmarc. Runs on a worker thread: all it touches is its
 * arguments, the libraries' shared handles (made once by sa_init) and
 * the resolver.
 */
#ifndef OSMS_SENDERAUTH_H
#define OSMS_SENDERAUTH_H

#include <stddef.h>

#include "authres.h"

struct ub_ctx;

struct sa_input {
	const char	*ip;		/* the client's address, as text */
	const char	*helo;
	const char	*sender;	/* MAIL FROM, "" for <> */
	const char	*hostname;	/* ours */
	const char	*msg;		/* the message as received */
	size_t		 len;
	int		 from_fields;	/* how many From fields it has */
	const char	*from_domain;	/* the From domain, "" if none */
	int		 spf, dkim, dmarc;	/* which checks to make */
};

/* Load the public suffix list (for DMARC's organizational domains) and
 * set up libopendkim; before the sandbox. -1 and err on failure. */
int	 sa_init(const char *public_suffix_list, char *err, size_t errsize);

/* Check one message; what was found goes into res. */
void	 sa_check(struct ub_ctx *, const struct sa_input *,
	    struct authres *res);

#endif
