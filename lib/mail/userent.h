/*
 * A users table entry, as a line of a file table has it after the key
 * and as the PostgreSQL backend writes a row:
 *
 *	HASH [maildir=PATH] [quota=SIZE] [quota_messages=N] [scram=SECRET]
 *	    [services=smtp,imap,pop3|none]
 *
 * HASH is a pwhash.h value, or "-" (or nothing) for a user who cannot
 * log in. SIZE takes K, M or G. PATH is relative to the mail directory,
 * without "..". SECRET is an RFC 5803 SCRAM-SHA-256 secret.
 */
#ifndef OSMS_USERENT_H
#define OSMS_USERENT_H

#include <stdint.h>

#include "addr.h"
#include "maildir.h"
#include "osms_imsg.h"
#include "pwhash.h"

#define USERENT_MAX	4096		/* the longest entry */

struct userent {
	char		 address[ADDR_MAX_TEXT];	/* lower case */
	char		 password[PWHASH_MAX];		/* "" if none */
	char		 scram[PWHASH_MAX];		/* "" if none */
	char		 maildir[MAILDIR_MAX_PATH];
	uint64_t	 quota_bytes;			/* 0: no quota */
	uint64_t	 quota_messages;
	unsigned	 services;			/* AUTH_SERVICE_* */
};

/*
 * Read value, the entry of local@domain, into u: -1 if an attribute is
 * unknown or malformed, a field too long, or the Maildir path unsafe.
 */
int	 userent_parse(const char *local, const char *domain,
	    const char *value, struct userent *u);
/* A size: digits and an optional K, M or G; at most 1 PiB. -1 if not. */
int	 userent_size(const char *, uint64_t *);
/* 1 if word starts with an attribute name ("quota="...), not a hash. */
int	 userent_attribute(const char *word);

#endif
