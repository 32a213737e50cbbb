/*
 * MIME: the one strict parser of stored messages (RFC 5322, RFC 2045-2049,
 * RFC 2231), for IMAP FETCH (ENVELOPE, BODYSTRUCTURE, BODY[section],
 * BINARY[section]) and SEARCH, SORT and THREAD.
 *
 * The message is a buffer the caller keeps (an mmap of a Maildir file),
 * not NUL-terminated. Parts are described by offsets into it. Input is
 * hostile: every limit below is enforced, ugly input still parses (a
 * malformed part becomes text/plain, what lies beyond a limit becomes an
 * opaque body), and the work is linear in the size of the message.
 */
#ifndef OSMS_MIME_H
#define OSMS_MIME_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

#define MIME_MAX_DEPTH		32	/* nesting of multiparts and messages */
#define MIME_MAX_PARTS		10000	/* parts in one message */
#define MIME_MAX_HEADER		(1 << 20) /* bytes of a header block read */
#define MIME_MAX_FIELDS		1000	/* fields of a header block read */
#define MIME_MAX_VALUE		(64 * 1024) /* bytes of one field value */
#define MIME_MAX_PARAMS		64	/* parameters of one Content-* field */
#define MIME_MAX_BOUNDARY	256	/* longer boundaries are not used */
#define MIME_MAX_ADDRS		4096	/* addresses of one field */
#define MIME_MAX_MSGIDS		1000	/* message-ids of one field */
#define MIME_MAX_TEXT		(16 * 1024 * 1024) /* mime_text() output */

struct mime_param {
	char		*name;		/* lower-cased, without RFC 2231 '*' */
	char		*value;		/* continuations joined, UTF-8 if ext */
	int		 extended;	/* came as charset'lang'value */
};

struct mime_part {
	/* Offsets into the message buffer. */
	size_t		 hdr_off, hdr_len;	/* with the blank line */
	size_t		 body_off, body_len;
	size_t		 body_octets;	/* body_len with bare LF as CRLF */
	size_t		 body_lines;	/* text/ and message/ parts */

	char		*type, *subtype;	/* lower case */
	struct mime_param *params;
	size_t		 nparams;
	char		*id, *description, *md5;	/* NULL if absent */
	char		*encoding;	/* upper case, "7BIT" by default */
	char		*disposition;	/* lower case, NULL if absent */
	struct mime_param *disp_params;
	size_t		 ndisp_params;
	char		*language, *location;	/* NULL if absent */

	struct mime_part *children;	/* type "multipart" */
	size_t		 nchildren;
	struct mime_part *message;	/* message/rfc822, message/global */
};

struct mime_msg;

/*
 * Parse len bytes at msg. NULL only for msg NULL with len > 0. The
 * result points into msg, which must outlive it.
 */
struct mime_msg	*mime_parse(const char *msg, size_t len, const char **errstr);
void		 mime_free(struct mime_msg *);
const struct mime_part *mime_root(const struct mime_msg *);
/* The value of a part's Content-Type parameter (any case), NULL if
 * absent. */
const char	*mime_param(const struct mime_part *, const char *name);
size_t		 mime_nparts(const struct mime_msg *);

/*
 * IMAP rendering (RFC 9051 7.5.2) appended to b. utf8: the client
 * enabled UTF8=ACCEPT or IMAP4rev2, so quoted strings may hold UTF-8.
 * msgpart is the root or a part's ->message (NULL: the root). 0, or -1
 * if b overflowed.
 */
int	 mime_envelope(const struct mime_msg *, const struct mime_part *msgpart,
	    struct buf *, int utf8);
int	 mime_bodystructure(const struct mime_msg *, const struct mime_part *,
	    int extended, struct buf *, int utf8);

/* Sections (RFC 9051 6.4.5). */
enum mime_section_kind {
	MS_ALL,			/* [] */
	MS_HEADER,		/* [HEADER], [1.HEADER] */
	MS_HEADER_FIELDS,	/* [HEADER.FIELDS (a b)] */
	MS_HEADER_FIELDS_NOT,	/* [HEADER.FIELDS.NOT (a b)] */
	MS_TEXT,		/* [TEXT] */
	MS_MIME,		/* [1.MIME] */
	MS_PART			/* [1.2]: the body of a part */
};

/*
 * A part is reached with at most MIME_MAX_DEPTH + 1 numbers: longer
 * paths name no part; past MIME_SECTION_MAX_PATH they are bad syntax.
 */
#define MIME_SECTION_MAX_PATH	(2 * MIME_MAX_DEPTH)
#define MIME_SECTION_MAX_FIELDS	1024

struct mime_section {
	unsigned	 path[MIME_SECTION_MAX_PATH];
	size_t		 npath;
	enum mime_section_kind kind;
	char		**fields;	/* lower case, sorted, unique */
	size_t		 nfields;
};

/*
 * Parse what stands between "BODY[" and "]", e.g. "1.2.HEADER.FIELDS
 * (From To)". 0, or -1 and errstr (the server answers BAD).
 */
int	 mime_section_parse(const char *spec, size_t len, struct mime_section *,
	    const char **errstr);
void	 mime_section_free(struct mime_section *);
/*
 * The bytes of a section: a slice of the message (*out points into it)
 * or, for HEADER.FIELDS (.NOT), a copy built in b (the fields as they
 * are, then the blank line). -1 if the part does not exist (the server
 * sends an empty string) or b overflowed (b->over is set).
 */
int	 mime_section_get(const struct mime_msg *, const struct mime_section *,
	    const char **out, size_t *outlen, struct buf *b);
/*
 * BINARY[section] (RFC 3516): the part body with its
 * Content-Transfer-Encoding undone, appended to b. -1 with errstr
 * "unknown-cte" for an encoding it cannot undo (NO [UNKNOWN-CTE]),
 * "no such part", "bad section" (not a part number) or "too large".
 */
int	 mime_section_binary(const struct mime_msg *,
	    const struct mime_section *, struct buf *, const char **errstr);

/* A part's body with its Content-Transfer-Encoding undone, appended to
 * b: 0, or -1 for an encoding it cannot undo or when b is full. */
int	 mime_part_decode(const struct mime_msg *, const struct mime_part *,
	    struct buf *);

/*
 * The unfolded value of the first field called name (or of all of them,
 * joined with "\n") in the header of part (NULL: the root); NULL if
 * there is none. Raw, not decoded. The caller frees it.
 */
char	*mime_header(const struct mime_msg *, const struct mime_part *,
	    const char *name, int all);
/*
 * RFC 2047 decoding into UTF-8: adjacent encoded-words joined, invalid
 * bytes replaced by U+FFFD, encoded-words in unknown charsets and
 * malformed ones left as they are. The caller frees it.
 */
char	*mime_decode_header(const char *value);
/*
 * Call cb with every header block (fields "Name: decoded value\n") if
 * headers and every text/ body (transfer encoding undone, converted to
 * UTF-8) if bodies, for SEARCH. At most MIME_MAX_TEXT bytes in all. 0,
 * or the first non-zero value cb returned (which stops the walk).
 */
int	 mime_text(const struct mime_msg *, int headers, int bodies,
	    int (*cb)(void *, const char *utf8, size_t len), void *arg);

/*
 * Load iconv's multi-byte charset modules now, before a chroot where
 * iconv could not find them (the single-byte ones are compiled in).
 */
void	 mime_charsets_preload(void);

/*
 * RFC 5322 date-time (obsolete forms tolerated): 0 and the time and the
 * zone offset in minutes, or -1.
 */
int	 mime_parse_date(const char *value, time_t *out, int *tzoff_minutes);
/*
 * The first mailbox of an address field: its local part (RFC 5256 SORT)
 * and its display name, RFC 2047-decoded ("" if none), truncated to the
 * sizes. 0, or -1 if the field holds no mailbox.
 */
int	 mime_first_address(const char *value, char *mailbox, size_t,
	    char *display, size_t);
/* The RFC 5256 base subject, decoded to UTF-8. The caller frees it. */
char	*mime_base_subject(const char *raw_subject);
/*
 * The message-ids ("<...>", brackets kept, white space dropped) of a
 * References, In-Reply-To or Message-ID value, at most MIME_MAX_MSGIDS.
 * The caller frees each and the array (NULL if there is none).
 */
size_t	 mime_msgids(const char *value, char ***ids);

#endif
