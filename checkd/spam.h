/*
 * Spam scoring by rspamd (its HTTP protocol), on a worker thread: one
 * connection per message, every step within a deadline.
 */
#ifndef OSMS_CHECKD_SPAM_H
#define OSMS_CHECKD_SPAM_H

#include <stddef.h>

#include "rspamd.h"

/*
 * Ask rspamd at addr ("127.0.0.1:11333", "[::1]:11333") about the
 * message (head, then msg) within timeout seconds: 0 and res, or -1
 * and why.
 */
int	 spam_score(const char *addr, const struct rspamd_request *,
	    const char *msg, size_t len, int timeout, struct rspamd_result *,
	    char *why, size_t whysize);

#endif
