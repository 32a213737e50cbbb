/*
 * Recipient lookups: is an address ours, and where does its mail go?
 */
#ifndef AUTHD_LOOKUP_H
#define AUTHD_LOOKUP_H

#include <sys/queue.h>
#include <stdint.h>

#include "addr.h"
#include "dir.h"
#include "envelope.h"
#include "maildir.h"
#include "osms_imsg.h"

#define LOOKUP_MAX_DEPTH	8	/* aliases within aliases */
#define LOOKUP_MAX_DESTS	1000	/* destinations of one recipient */

/* What a recipient comes to: a Maildir, or another server. */
struct lookup_dest {
	int		 kind;		/* DEST_MAILBOX or DEST_RELAY */
	char		 address[ADDR_MAX_TEXT];
	char		 mailbox[MAILDIR_MAX_PATH];
	uint64_t	 quota_bytes;
	uint64_t	 quota_messages;
};

struct lookup {
	struct lookup_dest	*dests;		/* grown as needed; free it */
	size_t			 ndests;
	size_t			 cap;
	const char		*error;		/* for the log and reply */
};

/*
 * Expand address over the directory: LOOKUP_OK with l->ndests > 0, or
 * why not. May query a database: call it on a worker thread.
 */
enum lookup_result lookup_rcpt(struct directory *, const char *,
		    struct lookup *);

#endif
