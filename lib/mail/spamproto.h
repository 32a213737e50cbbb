/*
 * The protocols of the spam engines osms asks for a message's score:
 * rspamd's HTTP protocol (its /checkv2 endpoint, rspamd.c) and
 * SpamAssassin's spamc protocol (spamd, spamc.c). Each has the request
 * that asks and the parse of the answer. The engines are servers the
 * admin runs, but their answers are still read as if hostile: bounded,
 * without recursion past a fixed depth.
 */
#ifndef OSMS_SPAMPROTO_H
#define OSMS_SPAMPROTO_H

#include <stddef.h>

#include "buf.h"

#define SPAM_MAX_REPLY		(256 * 1024)	/* bytes of an answer */
#define SPAM_MAX_SYMBOLS	400		/* bytes of the symbol list */

struct spam_result {
	double		 score;
	double		 required;		/* the engine's own threshold */
	char		 action[32];		/* rspamd: "no action",
						   "reject" ...; spamd: "" */
	char		 symbols[SPAM_MAX_SYMBOLS];	/* "A,B,C" */
};

struct spam_request {
	const char	*ip, *helo, *sender, *hostname, *queue_id;
	const char	*const *rcpts;
	size_t		 nrcpts;
	size_t		 length;		/* of the message that follows */
};

/* The request's head (up to the message), appended to out: 0, or -1 if
 * a value holds a control byte or out is full. */
int	 rspamd_request_head(const struct spam_request *, struct buf *out);
int	 spamc_request_head(const struct spam_request *, struct buf *out);

/*
 * An answer of len bytes: rspamd's HTTP (status line, header, JSON
 * body), spamd's SPAMD/1.x (status line, header with "Spam: ... ; S /
 * T", the symbols as the body). 0 and res, or -1 and *err (not a
 * success, malformed, no score).
 */
int	 rspamd_parse_reply(const char *reply, size_t len,
	    struct spam_result *res, const char **err);
int	 spamc_parse_reply(const char *reply, size_t len,
	    struct spam_result *res, const char **err);

#endif
