/*
 * Recipient lookups: is an address ours, and where does its mail go?
 */
#ifndef AUTHD_LOOKUP_H
#define AUTHD_LOOKUP_H

#include <sys/queue.h>
#include <stdint.h>

#include "addr.h"
#include "maildir.h"
#include "osms_imsg.h"
#include "table.h"

#define LOOKUP_MAX_DEPTH	8	/* aliases within aliases */
#define LOOKUP_MAX_DESTS	1000	/* destinations of one recipient */

struct domain {
	TAILQ_ENTRY(domain)	 entry;
	char			 name[ADDR_MAX_DOMAIN + 1];
	struct table		*users;		/* NULL: none */
	struct table		*aliases;	/* NULL: none */
};
TAILQ_HEAD(domain_list, domain);

/* What a recipient comes to: a Maildir, or another server. */
struct lookup_dest {
	int		 kind;		/* DEST_MAILBOX or DEST_RELAY */
	char		 address[ADDR_MAX_TEXT];
	char		 mailbox[MAILDIR_MAX_PATH];
	uint64_t	 quota_bytes;
	uint64_t	 quota_messages;
};

struct lookup {
	struct lookup_dest	*dests;		/* LOOKUP_MAX_DESTS */
	size_t			 ndests;
	const char		*error;		/* for the log and reply */
};

/* Expand address over the domains: LOOKUP_OK with l->ndests > 0, or why
 * not. */
enum lookup_result lookup_rcpt(const struct domain_list *, const char *,
		    struct lookup *);

#endif
