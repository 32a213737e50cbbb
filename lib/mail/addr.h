/*
 * Mail addresses: one strict RFC 5321 parser (with RFC 6531 SMTPUTF8)
 * for every address osms reads, from the network, the config or a table.
 */
#ifndef OSMS_ADDR_H
#define OSMS_ADDR_H

#include <stddef.h>

/*
 * RFC 5321 sets 64 and 255 octets; longer local parts exist in the wild
 * (VERP) and RFC 5321 4.5.3.1 asks servers to accept what they can.
 */
#define ADDR_MAX_LOCAL		128
#define ADDR_MAX_DOMAIN		255
/* Printed form with its NUL: every local byte escaped, two quotes, '@'. */
#define ADDR_MAX_TEXT		(2 * ADDR_MAX_LOCAL + 2 + 1 + ADDR_MAX_DOMAIN + 1)

#define ADDR_UTF8	0x01	/* SMTPUTF8: UTF-8 in local part and domain */
#define ADDR_NULL_OK	0x02	/* "<>" is allowed (MAIL FROM) */
#define ADDR_POSTMASTER	0x04	/* "<Postmaster>" without a domain (RCPT) */

struct mailaddr {
	/*
	 * The local part's value: without quotes and backslashes, so
	 * "a\ b" and "a b" are the same. Never holds a control byte.
	 * Case is kept (RFC 5321 2.4: local parts are case-sensitive).
	 */
	char	 local[ADDR_MAX_LOCAL + 1];
	/*
	 * Lower case for ASCII letters; U-labels kept as valid UTF-8 (only
	 * with ADDR_UTF8); an address literal kept as "[...]". Empty only
	 * for the null path and for a bare "Postmaster".
	 */
	char	 domain[ADDR_MAX_DOMAIN + 1];
};

/*
 * Parse an RFC 5321 Path "<...>" (a Reverse-path or Forward-path) at the
 * start of s. A source route "<@a,@b:x@y>" is accepted and dropped
 * (RFC 5321 4.1.1.3 and C). On success returns 0 and sets *end to the
 * first byte after '>'. On failure returns -1 and *errstr says why, in
 * words fit for an SMTP reply.
 */
int	 addr_parse_path(const char *s, int flags, struct mailaddr *,
	    const char **end, const char **errstr);

/* Parse a whole string that is a bare Mailbox "local@domain". */
int	 addr_parse_mailbox(const char *s, int flags, struct mailaddr *,
	    const char **errstr);

/*
 * Print "local@domain", quoting the local part when it is not a
 * dot-string (RFC 5321 4.1.2). "" for the null path. Parsing the output
 * with addr_parse_mailbox() gives back an equal address. Returns the
 * length, or -1 if it does not fit.
 */
int	 addr_format(const struct mailaddr *, char *, size_t);

int	 addr_is_null(const struct mailaddr *);
/* 1 if the address has a byte >= 0x80 (needs SMTPUTF8 to relay). */
int	 addr_is_utf8(const struct mailaddr *);
/* Domain comparison as stored (lower case): 1 if equal. */
int	 addr_domain_eq(const struct mailaddr *, const char *);

/* 1 if s is a valid domain (ASCII LDH, or UTF-8 U-labels with utf8). */
int	 addr_domain_valid(const char *s, int utf8);

#endif
