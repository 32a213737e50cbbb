/*
 * The client side of SMTP that does not touch a socket: replies read
 * from a server (RFC 5321 4.2, with RFC 2034 enhanced status codes),
 * the extensions an EHLO reply names, and message content encoded for
 * DATA (CRLF line ends, dot-stuffing, the final dot). For the mta role.
 *
 * Servers are hostile: lines and replies are bounded, a reply whose
 * lines disagree on their code is malformed, and nothing is trusted
 * past its limits.
 */
#ifndef OSMS_SMTP_REPLY_H
#define OSMS_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SMTP_REPLY_MAX_LINE	2048	/* bytes of one line, without CRLF */
#define SMTP_REPLY_MAX_LINES	100	/* lines of one reply */
#define SMTP_REPLY_MAX_TEXT	4096	/* text kept, lines joined by LF */

struct smtp_reply {
	int		 code;			/* 220, 250, 421, 550, ... */
	char		 status[16];		/* "2.1.0", "" if none */
	char		 text[SMTP_REPLY_MAX_TEXT]; /* after code and status */
	size_t		 nlines;
	/* reading state */
	int		 done;
	int		 cut;			/* text was longer: cut */
};

/* Ready for a new reply. */
void	 smtp_reply_init(struct smtp_reply *);
/*
 * One line from the server (without CRLF): 1 when the reply is
 * complete, 0 when more lines follow, -1 and errstr if it is malformed
 * (the connection should end).
 */
int	 smtp_reply_line(struct smtp_reply *, const char *line, size_t len,
	    const char **errstr);

/* What an EHLO reply offers. */
#define SMTP_EXT_PIPELINING	0x0001
#define SMTP_EXT_8BITMIME	0x0002
#define SMTP_EXT_SMTPUTF8	0x0004
#define SMTP_EXT_STARTTLS	0x0008
#define SMTP_EXT_CHUNKING	0x0010
#define SMTP_EXT_DSN		0x0020
#define SMTP_EXT_SIZE		0x0040
#define SMTP_EXT_ENHANCED	0x0080	/* ENHANCEDSTATUSCODES */
#define SMTP_EXT_AUTH		0x0100
#define SMTP_EXT_REQUIRETLS	0x0200

struct smtp_ehlo {
	unsigned	 ext;			/* SMTP_EXT_* */
	uint64_t	 size;			/* SIZE's limit, 0: none given */
	char		 auth[256];		/* AUTH's mechanisms, upper case */
};

/* The extensions of a complete 250 reply to EHLO. */
void	 smtp_ehlo_parse(const struct smtp_reply *, struct smtp_ehlo *);

/*
 * Message content for DATA, fed in any pieces: every line end becomes
 * CRLF (a lone CR stays as it is), a line that starts with "." gets
 * another, and smtp_data_end adds the last CRLF if missing and ".".
 */
struct smtp_data {
	int	 bol;		/* at the beginning of a line */
	int	 cr;		/* the last byte was a CR */
};

void	 smtp_data_init(struct smtp_data *);
int	 smtp_data_add(struct smtp_data *, const char *, size_t,
	    struct buf *);
int	 smtp_data_end(struct smtp_data *, struct buf *);

#endif
