/*
 * Spam scoring by rspamd (its HTTP protocol) or SpamAssassin's spamd
 * (the spamc protocol), on a worker thread: one connection per message,
 * every step within a deadline.
 */
#ifndef OSMS_CHECKD_SPAM_H
#define OSMS_CHECKD_SPAM_H

#include <stddef.h>

#include "osms_imsg.h"
#include "spamproto.h"

/*
 * Ask the engine at addr ("127.0.0.1:11333", "[::1]:783") about the
 * message (the request's head, then msg) within timeout seconds: 0 and
 * res, or -1 and why.
 */
int	 spam_score(enum spam_engine_kind, const char *addr,
	    const struct spam_request *, const char *msg, size_t len,
	    int timeout, struct spam_result *, char *why, size_t whysize);

#endif
