/*
 * SMTP command lines, parsed without side effects: the session code in
 * smtpd/ decides what to do with them. Every function takes one line
 * without its CRLF and never reads past its NUL.
 */
#ifndef OSMS_SMTP_CMD_H
#define OSMS_SMTP_CMD_H

#include <stdint.h>

#include "addr.h"

enum smtp_verb {
	SMTP_CMD_UNKNOWN,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
};

/*
 * A parse failure carries the reply to give: code (500, 501, 504, 553,
 * 555 ...), the enhanced status ("5.5.4") and a short text. The text may
 * live in a buffer of the parser, valid until its next call.
 */
struct smtp_err {
	int		 code;
	const char	*status;
	const char	*text;
};

struct smtp_cmd {
	enum smtp_verb	 verb;
	const char	*arg;		/* after the verb and one space; "" */
};

/*
 * Split a command line into verb (case-insensitive) and argument. Fails
 * (500 5.5.2) on a NUL or control byte other than TAB in the line, or on
 * a verb not followed by a space or the end; an unknown verb fails too
 * (500 5.5.1), so SMTP_CMD_UNKNOWN is never a success.
 */
int	 smtp_cmd_parse(const char *line, struct smtp_cmd *,
	    struct smtp_err *);

/* HELO/EHLO argument: a domain or an address literal; stored as given
 * (at most 255 bytes of printable ASCII). */
int	 smtp_parse_helo(const char *arg, char *, size_t, struct smtp_err *);

#define SMTP_BODY_7BIT		0
#define SMTP_BODY_8BITMIME	1
#define SMTP_BODY_BINARYMIME	2

#define SMTP_RET_NONE		0
#define SMTP_RET_FULL		1
#define SMTP_RET_HDRS		2

#define SMTP_ENVID_MAX		100	/* RFC 3461 4.4, decoded */
#define SMTP_ORCPT_MAX		500	/* RFC 3461 4.2, as received */
#define SMTP_AUTH_MAX		500	/* RFC 4954 5 AUTH= value, as received */

struct smtp_mail_params {
	uint64_t	 size;		/* SIZE=, 0 if absent */
	int		 body;		/* BODY= */
	int		 smtputf8;	/* SMTPUTF8 */
	int		 requiretls;	/* REQUIRETLS (RFC 8689) */
	int		 ret;		/* RET= (RFC 3461) */
	char		 envid[SMTP_ENVID_MAX + 1];	/* ENVID=, xtext-decoded */
	char		 auth[SMTP_AUTH_MAX + 1];	/* AUTH=, as received */
};

#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

struct smtp_rcpt_params {
	int		 notify;	/* 0 if absent */
	char		 orcpt[SMTP_ORCPT_MAX + 1];	/* "rfc822;" ..., as received */
};

/*
 * MAIL: "FROM:<path> [params]". Parameters are accepted only after EHLO
 * (ehlo set). Unknown or repeated parameters fail with 555 5.5.4; a bad
 * address with 553 5.1.7; syntax with 501 5.5.4. SMTPUTF8 on the line
 * allows UTF-8 in the address. FROM: is case-insensitive; one space
 * before '<' is tolerated as many clients send it.
 */
int	 smtp_parse_mail(const char *arg, int ehlo, struct mailaddr *,
	    struct smtp_mail_params *, struct smtp_err *);

/* RCPT: "TO:<path> [params]"; utf8 as given by the transaction's MAIL.
 * A bad address fails with 553 5.1.3. */
int	 smtp_parse_rcpt(const char *arg, int ehlo, int utf8,
	    struct mailaddr *, struct smtp_rcpt_params *, struct smtp_err *);

/* BDAT: "<size> [LAST]"; size at most max (else 552 5.3.4, with *size
 * still set, UINT64_MAX on overflow, so the chunk can be skipped). */
int	 smtp_parse_bdat(const char *arg, uint64_t max, uint64_t *size,
	    int *last, struct smtp_err *);

/* AUTH: "<mechanism> [initial-response]"; both point into buf. */
int	 smtp_parse_auth(const char *arg, char *buf, size_t size,
	    const char **mech, const char **initial, struct smtp_err *);

/* RFC 3461 xtext: decode into buf; -1 on bad syntax or overflow. */
int	 xtext_decode(const char *, char *, size_t);
/* Encode; -1 on overflow. */
int	 xtext_encode(const char *, char *, size_t);

#endif
