/*
 * rspamd's HTTP protocol (its /checkv2 endpoint): the request that
 * asks for a message's score, and the JSON answer read back with
 * limits. rspamd is a server the admin runs, but its answer is still
 * parsed as if hostile: bounded, without recursion past a fixed depth.
 */
#ifndef OSMS_RSPAMD_H
#define OSMS_RSPAMD_H

#include <stddef.h>

#include "buf.h"

#define RSPAMD_MAX_REPLY	(256 * 1024)	/* bytes of an answer */
#define RSPAMD_MAX_SYMBOLS	400		/* bytes of the symbol list */

struct rspamd_result {
	double		 score;
	double		 required;		/* rspamd's reject score */
	char		 action[32];		/* "no action", "reject" ... */
	char		 symbols[RSPAMD_MAX_SYMBOLS];	/* "A,B,C" */
};

struct rspamd_request {
	const char	*ip, *helo, *sender, *hostname, *queue_id;
	const char	*const *rcpts;
	size_t		 nrcpts;
	size_t		 length;		/* of the message that follows */
};

/* The request's head (up to the message), appended to out: 0, or -1 if
 * a value holds a control byte or out is full. */
int	 rspamd_request_head(const struct rspamd_request *, struct buf *out);

/*
 * An HTTP answer (status line, header, JSON body) of len bytes: 0 and
 * res, or -1 and *err (not a 200, no body, malformed JSON, no score).
 */
int	 rspamd_parse_reply(const char *reply, size_t len,
	    struct rspamd_result *res, const char **err);

#endif
