/*
 * FETCH rendering (RFC 9051 6.4.5 and 7.5.2, RFC 3516 BINARY, RFC 7162
 * MODSEQ, RFC 8970 PREVIEW): the untagged "* n FETCH (...)" response of
 * one message, from its bytes and its index entry. Pure: no I/O, no
 * session, no store; cmd_fetch.c feeds it and writes what it produces.
 *
 * A plan is made once per command: the items in the order the client
 * gave them (UID first for UID FETCH) and the parsed sections. Then, per
 * message, fetch_render_begin() renders everything small (ENVELOPE,
 * BODYSTRUCTURE, HEADER.FIELDS, BINARY) and describes the response as
 * segments; fetch_render_step() produces it in chunks of a given size,
 * turning each LF of the stored message into CRLF on the way, so a
 * message of any size goes out with bounded memory.
 *
 * Sizes and partial offsets count the CRLF form, as the client sees the
 * message. A CR already before an LF stays one CR. NUL, which a literal
 * may not hold, goes out as 0x80 in BODY data; BINARY data with a NUL
 * goes out as literal8 "~{n}".
 */
#ifndef IMAPD_FETCH_H
#define IMAPD_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap_parser.h"
#include "mime.h"
#include "mstore.h"

#define FETCH_BINARY_MAX	(64 * 1024 * 1024)	/* decoded part */
#define FETCH_PREVIEW_CHARS	200
#define FETCH_CHUNK		(256 * 1024)	/* a good step size */

/* One item of the response; attr 0 is plan->sects[sect]. */
struct fetch_item {
	unsigned	 attr;		/* one IMAP_FETCH_* bit, or 0 */
	size_t		 sect;
};

struct fetch_sect {
	const struct imap_fetch_section *fs;
	struct mime_section ms;
	char		*name;		/* "BODY[HEADER]", upper case */
};

struct fetch_plan {
	struct fetch_item *items;
	size_t		 nitems;
	struct fetch_sect *sects;
	size_t		 nsects;
	unsigned	 attrs;		/* every IMAP_FETCH_* bit asked for */
	int		 uid_first;	/* UID FETCH: items[0] is UID */
	int		 sets_seen;	/* an item that sets \Seen */
	int		 data;		/* needs the message bytes */
	int		 mime;		/* ... parsed */
};

/*
 * f was parsed from cmd by imap_fetch_parse(); the plan points into
 * both, which must outlive it. 0, or -1 and errstr for a BAD (a section
 * that does not parse).
 */
int	 fetch_plan_init(struct fetch_plan *, const struct imap_cmd *,
	    const struct imap_fetch *, const char **errstr);
void	 fetch_plan_free(struct fetch_plan *);

/* The renderings kept in the store's cache (MBOX_CACHE_*). */
enum fetch_cached {
	FETCH_C_ENVELOPE,
	FETCH_C_BODY,
	FETCH_C_BODYSTRUCTURE,
	FETCH_C_COUNT,
};

/* The message to render. */
struct fetch_msg {
	uint32_t	 seq;
	const struct mbox_msg *m;
	const char	*flags;		/* the list "(\Seen ...)" */
	int		 add_flags;	/* FLAGS first though not asked (\Seen
					 * set), as Dovecot does */
	int		 add_modseq;	/* MODSEQ last though not asked */
	int		 utf8;		/* quoted strings may carry UTF-8 */
	int		 tzoff;		/* INTERNALDATE zone, minutes east */
	const char	*data;		/* the message file (LF line ends), */
	size_t		 len;		/* or NULL if fetch_needs_data() is 0 */
	/* cache entries as fetch_render_cached() made them, or NULL */
	const void	*cache[FETCH_C_COUNT];
	size_t		 cachelen[FETCH_C_COUNT];
};

/* The cache field of each enum fetch_cached. */
int	 fetch_cache_field(enum fetch_cached);
/* 1 if m needs data and len filled in (else the cache is enough). */
int	 fetch_needs_data(const struct fetch_plan *, const struct fetch_msg *);

enum fetch_seg_src {
	FETCH_SRC_TEXT,		/* r->text, from off */
	FETCH_SRC_PTR,		/* p: the message or an owned buffer */
};

struct fetch_seg {
	enum fetch_seg_src src;
	const char	*p;
	size_t		 off;
	size_t		 plen;		/* raw bytes */
	int		 crlf;		/* LF -> CRLF */
	int		 nul80;		/* NUL -> 0x80 */
	uint64_t	 skip;		/* output bytes to skip first */
	uint64_t	 len;		/* output bytes to send */
};

struct fetch_render {
	struct buf	 text;
	struct fetch_seg *segs;
	size_t		 nsegs;
	char		**own;		/* buffers the segments point into */
	size_t		 nown;
	struct mime_msg	*mime;
	/* fresh renderings to keep in the cache (NULL if none) */
	struct buf	 put[FETCH_C_COUNT];
	/* where fetch_render_step() is */
	size_t		 cur;		/* segment */
	uint64_t	 done;		/* output bytes of it sent or skipped */
	size_t		 rpos;		/* raw bytes of it consumed */
	int		 half;		/* the CR of a CRLF out, LF to come */
	size_t		 textstart;	/* the text not in a segment yet */
	const char	*code;		/* response code of a failure */
};

/*
 * Render the response of one message. 0, or -1 with errstr and r->code
 * the response code for the NO ("UNKNOWN-CTE": BINARY of an encoding
 * it cannot undo; "LIMIT": a decoded part too large; "SERVERBUG").
 * fetch_render_free() in either case.
 */
int	 fetch_render_begin(struct fetch_render *, const struct fetch_plan *,
	    const struct fetch_msg *, const char **errstr);
/*
 * Append at most max (> 0) bytes of the response to b. 1 while more is
 * to come, 0 when the response is whole, -1 if b refused the bytes.
 */
int	 fetch_render_step(struct fetch_render *, struct buf *b, size_t max);
/*
 * The next raw byte the current segment will read (in the message or
 * an owned buffer), NULL between segments: what is before it in a
 * sequential read need not stay in memory.
 */
const char *fetch_render_pos(const struct fetch_render *);
/* The number of bytes of the whole response. */
uint64_t fetch_render_size(const struct fetch_render *);
/*
 * A cache entry rendered by this message's fetch_render_begin(), to
 * keep with mbox_cache_put(): 0 and the bytes, -1 if there is none.
 */
int	 fetch_render_cached(const struct fetch_render *, enum fetch_cached,
	    const void **data, size_t *len);
void	 fetch_render_free(struct fetch_render *);

/*
 * The output bytes of len raw bytes at p with every LF not after a CR
 * made CRLF.
 */
uint64_t fetch_crlf_size(const char *p, size_t len);
/* "dd-Mon-yyyy hh:mm:ss +zzzz" into buf (27 bytes at least). */
void	 fetch_datetime(char *buf, size_t size, int64_t t, int tzoff);
/*
 * A set of numbers in the given order as IMAP ranges ("3:5,7,9:10"):
 * only ascending runs of consecutive numbers are joined, so that two
 * sets written from paired lists stay paired (COPYUID, MODIFIED).
 */
int	 fetch_set_out(struct buf *, const uint32_t *, size_t);

#endif
