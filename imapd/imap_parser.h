/*
 * IMAP client commands, from bytes to structures the server executes
 * (RFC 9051 IMAP4rev2, what RFC 3501 IMAP4rev1 clients still send, and
 * the extensions osms offers). Pure: no I/O, no global state, so the
 * whole of it can be fuzzed.
 *
 * Three layers:
 *
 * 1. struct imap_reader assembles one command from the lines and the
 *    literals the session reads off the network, and checks the limits
 *    before anything is read, let alone allocated.
 * 2. imap_parse() hands the command over as a tag, a name and a tree of
 *    arguments (atoms, strings, NIL, lists).
 * 3. Typed parsers turn the arguments of one command into what it
 *    means: sequence sets, FETCH items, a SEARCH program, LIST options...
 *
 * Input is hostile. Every count, length and depth is bounded (below),
 * nothing recurses deeper than IMAP_MAX_DEPTH, and every failure comes
 * back as a value with a short text for the BAD or NO reply.
 *
 * The session advertises LITERAL+ (RFC 7888): a non-synchronizing
 * literal "{n+}" is taken up to the same limits as "{n}".
 */
#ifndef OSMS_IMAP_PARSER_H
#define OSMS_IMAP_PARSER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imapstr.h"	/* mailbox names: imap_mutf7_to_utf8() */

#define IMAP_MAX_LINE		(64 * 1024)	/* one line, without CRLF */
#define IMAP_MAX_COMMAND	(16 * 1024 * 1024) /* lines + other literals */
#define IMAP_MAX_LITERALS	1000		/* in one command */
#define IMAP_MAX_DEPTH		64		/* nested lists, SEARCH keys */
#define IMAP_MAX_ARGS		100000		/* arguments in one command */
#define IMAP_MAX_TAG		64		/* bytes of a tag */
#define IMAP_MAX_RANGES		100000		/* in one sequence set */
#define IMAP_MAILBOX_MAX	1024		/* bytes of a name, either form */

/*
 * Layer 1: assembling a command.
 *
 * The session reads a line (without its CRLF) and gives it to
 * imap_reader_line():
 *
 *	IMAP_FEED_COMPLETE	a whole command is there: call imap_parse().
 *	IMAP_FEED_LITERAL	the line ends in a literal: read *need bytes
 *				raw (if *sync, send "+ ..." first) and give
 *				them to imap_reader_literal(), in one piece or
 *				several (for {0}, one call with 0 bytes); then
 *				read the next line (a literal is always
 *				followed by one, maybe empty).
 *	IMAP_FEED_ERROR		a syntax error: send "<tag> BAD <errstr>", or
 *				"* BAD <errstr>" if imap_reader_tag() is NULL.
 *	IMAP_FEED_TOOBIG	over a limit: send "<tag> BAD <errstr>" (or
 *				NO for an APPEND message, RFC 7889: see
 *				imap_reader_literal_info()) at once, before
 *				reading any literal: a {4294967296} is
 *				refused here, never allocated. errstr
 *				starts with the "[TOOBIG]" response code.
 *
 * After ERROR or TOOBIG the reader is ready for a new command, unless
 * imap_reader_must_close() says otherwise: the client has started a
 * non-synchronizing literal that will not be read (too big), so the
 * rest of the stream cannot be framed; answer and close.
 *
 * An error in a line that ends in a non-synchronizing literal of a sane
 * size (a syntax error, a line too long) is not reported at once: the
 * reader asks for the literal (LITERAL, sync 0, not a message) and the
 * lines after it, drops them, and reports the error when the command
 * ends, so the client's bytes are never taken for commands. The same
 * holds for a NUL found in a literal. A synchronizing literal after
 * such an error is never asked for: the error comes instead.
 *
 * A line after COMPLETE without imap_parse() drops that command. A line
 * while literal bytes are due, more bytes than due, or an external id
 * for what is not an APPEND message are the caller's bugs: fatalx().
 *
 * NUL is refused in lines and in literals, except in literal8 "~{n}"
 * (RFC 3516), which only APPEND takes.
 */
struct imap_reader;

enum imap_feed {
	IMAP_FEED_COMPLETE,
	IMAP_FEED_LITERAL,
	IMAP_FEED_LINE,		/* imap_reader_literal(): now the next line */
	IMAP_FEED_ERROR,
	IMAP_FEED_TOOBIG,
};

/* The literal the reader waits for, after IMAP_FEED_LITERAL. */
struct imap_literal_info {
	uint64_t	 size;
	int		 sync;		/* send a continuation request first */
	int		 binary;	/* literal8: may hold NUL */
	int		 message;	/* the message of an APPEND */
};

/*
 * append_limit: the most bytes of one APPEND message (the APPENDLIMIT
 * the session advertises). Other literals count, with the lines, against
 * IMAP_MAX_COMMAND. APPEND messages kept in the reader's memory count,
 * together, against the larger of append_limit and IMAP_MAX_COMMAND;
 * a session that keeps them itself (imap_reader_literal_external())
 * has no such bound from the reader.
 */
struct imap_reader *imap_reader_new(size_t append_limit);
void	 imap_reader_free(struct imap_reader *);
/* Drop a partly read command (a connection state change, a timeout). */
void	 imap_reader_reset(struct imap_reader *);

enum imap_feed imap_reader_line(struct imap_reader *, const char *line,
	    size_t len, size_t *need, int *sync, const char **errstr);
/*
 * Bytes of the pending literal; len at most what is still missing.
 * Returns IMAP_FEED_LITERAL while bytes are missing, IMAP_FEED_LINE when
 * the literal is whole.
 */
enum imap_feed imap_reader_literal(struct imap_reader *, const char *data,
	    size_t len);
void	 imap_reader_literal_info(const struct imap_reader *,
	    struct imap_literal_info *);
/*
 * For an APPEND message (info.message), before its first byte: the
 * session keeps the bytes itself (a temporary file) under its own id
 * (> 0). It still passes them through imap_reader_literal(), which
 * checks and counts them but does not store them; the argument then
 * has ext = id, len = the size and s = "".
 */
void	 imap_reader_literal_external(struct imap_reader *, long id);
/* The tag of the command being read or just refused, or NULL. */
const char *imap_reader_tag(const struct imap_reader *);
/* After ERROR or TOOBIG: 1 if the connection must be closed. */
int	 imap_reader_must_close(const struct imap_reader *);
/* Bytes the reader holds for the command being read. */
size_t	 imap_reader_memory(const struct imap_reader *);
/* 1 if the line ends an IDLE (RFC 2177: "DONE", any case). */
int	 imap_is_done(const char *line, size_t len);

/*
 * Layer 2: a complete command.
 *
 * Atoms keep the bytes as sent; '[' ... ']' after BODY, BODY.PEEK,
 * BINARY, BINARY.PEEK and BINARY.SIZE in FETCH may hold spaces and
 * parentheses (section text; no ']' and no literal inside). "NIL" in
 * any case is IMAP_ARG_NIL, with s still "NIL" as sent (a mailbox may
 * be called NIL). Strings are unescaped; quoted strings are valid UTF-8.
 * Every s is NUL-terminated in the command's memory; only a literal8
 * may hold NUL bytes before len.
 */
enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_STRING,	/* quoted or literal */
	IMAP_ARG_LITERAL8,
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	int		 literal;	/* a string sent as a literal */
	const char	*s;		/* NULL for a list */
	size_t		 len;
	struct imap_arg	*list;		/* IMAP_ARG_LIST */
	size_t		 nlist;
	long		 ext;		/* imap_reader_literal_external() id */
};

enum imap_command {
	IMAP_CMD_CAPABILITY,
	IMAP_CMD_NOOP,
	IMAP_CMD_LOGOUT,
	IMAP_CMD_STARTTLS,
	IMAP_CMD_AUTHENTICATE,
	IMAP_CMD_LOGIN,
	IMAP_CMD_ENABLE,
	IMAP_CMD_SELECT,
	IMAP_CMD_EXAMINE,
	IMAP_CMD_CREATE,
	IMAP_CMD_DELETE,
	IMAP_CMD_RENAME,
	IMAP_CMD_SUBSCRIBE,
	IMAP_CMD_UNSUBSCRIBE,
	IMAP_CMD_LIST,
	IMAP_CMD_LSUB,
	IMAP_CMD_NAMESPACE,
	IMAP_CMD_STATUS,
	IMAP_CMD_APPEND,
	IMAP_CMD_IDLE,
	IMAP_CMD_CHECK,
	IMAP_CMD_CLOSE,
	IMAP_CMD_UNSELECT,
	IMAP_CMD_EXPUNGE,
	IMAP_CMD_SEARCH,
	IMAP_CMD_FETCH,
	IMAP_CMD_STORE,
	IMAP_CMD_COPY,
	IMAP_CMD_MOVE,
	IMAP_CMD_SORT,
	IMAP_CMD_THREAD,
	IMAP_CMD_ID,
	IMAP_CMD_GETQUOTA,
	IMAP_CMD_GETQUOTAROOT,
	IMAP_CMD_SETQUOTA,
	IMAP_CMD_COMPRESS,
};

struct imap_mem;

struct imap_cmd {
	char		 tag[IMAP_MAX_TAG + 1];
	char		 name[32];	/* upper case, "FETCH" for UID FETCH */
	enum imap_command cmd;
	int		 uid;		/* UID COPY/MOVE/FETCH/SEARCH/STORE/
					 * EXPUNGE/SORT/THREAD */
	struct imap_arg	*args;
	size_t		 nargs;
	struct imap_mem	*mem;		/* owns all of the above */
};

/*
 * After IMAP_FEED_COMPLETE: move the command out of the reader, which is
 * then ready for the next one. The command owns its memory and may
 * outlive the reader's next lines (pipelining); free it with
 * imap_cmd_free(). Unknown commands and tag errors were refused by the
 * reader already; this fails (for a tagged BAD, the tag is set) on
 * arguments to a command that takes none.
 */
int	 imap_parse(struct imap_reader *, struct imap_cmd *,
	    const char **errstr);
void	 imap_cmd_free(struct imap_cmd *);

/*
 * Layer 3: typed arguments. Each parser takes a whole command and fills
 * a structure; strings in it may point into the command's memory, so it
 * must not outlive the command. Every _parse clears its output first,
 * so its _free is safe after a failure too. utf8: the client sends
 * UTF-8 mailbox names (IMAP4rev2 or UTF8=ACCEPT enabled); otherwise
 * modified UTF-7 (RFC 3501 5.1.3).
 */

/* astring (atom with ']' allowed, NIL as its text, or string) or NULL. */
const char *imap_arg_astring(const struct imap_arg *);
/* string (quoted or literal) or NULL. */
const char *imap_arg_string(const struct imap_arg *);
/* number64 (RFC 9051: 0 .. 2^63-1): 0 or -1. */
int	 imap_arg_number(const struct imap_arg *, uint64_t *);


/*
 * A mailbox argument (astring, no wildcards) in the store's form:
 * modified UTF-7 at most IMAP_MAILBOX_MAX bytes, not empty; "INBOX" in
 * any case becomes "INBOX". buf holds IMAP_MAILBOX_MAX + 1.
 */
int	 imap_mailbox(const struct imap_arg *, int utf8, char *buf,
	    const char **);

/*
 * Sequence sets (RFC 9051 9 sequence-set, RFC 5182 "$"): sorted,
 * merged, disjoint and non-adjacent ranges of concrete numbers. '*' is
 * kept aside until imap_seqset_resolve(): every "n:*" spans n .. max,
 * so together they are one range from the smallest n (or max) to the
 * largest n (or max). "$" (the saved result) stands alone.
 */
struct imap_range {
	uint32_t	 lo;
	uint32_t	 hi;
};

struct imap_seqset {
	struct imap_range *r;
	size_t		 n;
	int		 dollar;	/* "$" */
	int		 star;		/* some '*' to resolve */
	uint32_t	 star_lo;	/* the n of "n:*", if star_n */
	uint32_t	 star_hi;
	int		 star_n;	/* some "n:*" (not only a lone '*') */
};

int	 imap_seqset_parse(const char *, struct imap_seqset *,
	    const char **);
/*
 * Give '*' the value max (the last sequence number or UID in use): a
 * set of concrete ranges after it. With max 0 (an empty mailbox) '*'
 * matches nothing. Numbers above max stay: refuse them for sequence
 * numbers, ignore them for UIDs.
 */
void	 imap_seqset_resolve(struct imap_seqset *, uint32_t max);
int	 imap_seqset_contains(const struct imap_seqset *, uint32_t);
/* The largest concrete number in the set, 0 if none. */
uint32_t imap_seqset_last(const struct imap_seqset *);
void	 imap_seqset_free(struct imap_seqset *);

/* System flags. */
#define IMAP_FLAG_ANSWERED	0x01
#define IMAP_FLAG_FLAGGED	0x02
#define IMAP_FLAG_DELETED	0x04
#define IMAP_FLAG_SEEN		0x08
#define IMAP_FLAG_DRAFT		0x10
#define IMAP_FLAG_RECENT	0x20	/* SEARCH only: nobody sets it */

#define IMAP_MAX_KEYWORDS	64	/* in one flag list */
#define IMAP_MAX_KEYWORD_LEN	100

/* A flag list: system flags and keywords (atoms, unique ignoring case). */
struct imap_flags {
	unsigned	 sys;
	const char	*kw[IMAP_MAX_KEYWORDS];
	size_t		 nkw;
};

/* FETCH (RFC 9051 6.4.5, RFC 3516 BINARY, RFC 7162, RFC 8970). */
#define IMAP_FETCH_FLAGS	0x0001
#define IMAP_FETCH_INTERNALDATE	0x0002
#define IMAP_FETCH_RFC822_SIZE	0x0004
#define IMAP_FETCH_ENVELOPE	0x0008
#define IMAP_FETCH_BODY		0x0010	/* BODY: structure, no extensions */
#define IMAP_FETCH_BODYSTRUCTURE 0x0020
#define IMAP_FETCH_UID		0x0040
#define IMAP_FETCH_MODSEQ	0x0080
#define IMAP_FETCH_RFC822	0x0100	/* RFC822: BODY[] answered as RFC822 */
#define IMAP_FETCH_RFC822_HEADER 0x0200
#define IMAP_FETCH_RFC822_TEXT	0x0400
#define IMAP_FETCH_PREVIEW	0x0800
#define IMAP_FETCH_NATTRS	12	/* the bits above */

/* The IMAP_FETCH_* bit of a fetch-att name (any case), or 0. */
unsigned	 imap_fetch_att(const char *);

#define IMAP_MAX_FETCH_ITEMS	256

enum imap_section_kind {
	IMAP_SECTION_BODY,		/* BODY[...], BODY.PEEK[...] */
	IMAP_SECTION_BINARY,		/* BINARY[...], BINARY.PEEK[...] */
	IMAP_SECTION_BINARY_SIZE,	/* BINARY.SIZE[...] */
};

struct imap_fetch_section {
	enum imap_section_kind kind;
	int		 peek;
	char		*section;	/* bytes between '[' and ']', for
					 * mime_section_parse(); BINARY: only
					 * digits and dots */
	int		 partial;	/* <offset.count> given */
	uint64_t	 offset;
	uint64_t	 count;		/* > 0 */
};

struct imap_fetch {
	struct imap_seqset set;
	unsigned	 attrs;		/* IMAP_FETCH_*; UID set for UID FETCH,
					 * MODSEQ with CHANGEDSINCE */
	struct imap_fetch_section *sections;
	size_t		 nsections;
	int		 preview_lazy;	/* PREVIEW (LAZY) */
	int		 changedsince_set;
	uint64_t	 changedsince;
	int		 vanished;	/* UID FETCH, with CHANGEDSINCE */
};

int	 imap_fetch_parse(const struct imap_cmd *, struct imap_fetch *,
	    const char **);
void	 imap_fetch_free(struct imap_fetch *);

/* STORE (RFC 9051 6.4.6, RFC 7162 UNCHANGEDSINCE). */
enum imap_store_op {
	IMAP_STORE_REPLACE,
	IMAP_STORE_ADD,
	IMAP_STORE_REMOVE,
};

struct imap_store {
	struct imap_seqset set;
	enum imap_store_op op;
	int		 silent;
	struct imap_flags flags;	/* \Recent refused */
	int		 unchangedsince_set;
	uint64_t	 unchangedsince;
};

int	 imap_store_parse(const struct imap_cmd *, struct imap_store *,
	    const char **);
void	 imap_store_free(struct imap_store *);

/*
 * SEARCH programs (RFC 9051 6.4.4, RFC 3501 NEW OLD RECENT, RFC 7162
 * MODSEQ, RFC 4731 and 5182 RETURN). Keys are normalised for the
 * executor: ANSWERED ... SEEN, RECENT become FLAG, their UN- forms
 * NOT FLAG; NEW is (RECENT NOT SEEN) and OLD NOT RECENT; UNKEYWORD is
 * NOT KEYWORD. The whole program is one AND node.
 */
enum imap_skey {
	IMAP_SK_ALL,
	IMAP_SK_AND,		/* kids */
	IMAP_SK_OR,		/* two kids */
	IMAP_SK_NOT,		/* one kid */
	IMAP_SK_SEQSET,		/* set: message sequence numbers */
	IMAP_SK_UID,		/* set: UIDs */
	IMAP_SK_FLAG,		/* flag: one IMAP_FLAG_* */
	IMAP_SK_KEYWORD,	/* str */
	IMAP_SK_BCC,		/* str, and the same for the next ones */
	IMAP_SK_BODY,
	IMAP_SK_CC,
	IMAP_SK_FROM,
	IMAP_SK_SUBJECT,
	IMAP_SK_TEXT,
	IMAP_SK_TO,
	IMAP_SK_HEADER,		/* field, str */
	IMAP_SK_BEFORE,		/* date: internal date */
	IMAP_SK_ON,
	IMAP_SK_SINCE,
	IMAP_SK_SENTBEFORE,	/* date: Date: header */
	IMAP_SK_SENTON,
	IMAP_SK_SENTSINCE,
	IMAP_SK_LARGER,		/* num */
	IMAP_SK_SMALLER,
	IMAP_SK_MODSEQ,		/* num, entry and entry_type optional */
};

struct imap_date {
	int		 year;
	int		 month;		/* 1 .. 12 */
	int		 day;		/* 1 .. 31 */
};

enum imap_entry_type {
	IMAP_ENTRY_NONE,
	IMAP_ENTRY_PRIV,
	IMAP_ENTRY_SHARED,
	IMAP_ENTRY_ALL,
};

struct imap_search {
	enum imap_skey	 key;
	unsigned	 flag;
	const char	*str;		/* valid UTF-8 */
	const char	*field;
	struct imap_date date;
	uint64_t	 num;
	struct imap_seqset set;
	const char	*entry;		/* MODSEQ "/flags/..." */
	enum imap_entry_type entry_type;
	struct imap_search *kids;
	size_t		 nkids;
};

/* RETURN options (RFC 4731, RFC 5182). */
#define IMAP_SEARCH_RET_MIN	0x01
#define IMAP_SEARCH_RET_MAX	0x02
#define IMAP_SEARCH_RET_ALL	0x04
#define IMAP_SEARCH_RET_COUNT	0x08
#define IMAP_SEARCH_RET_SAVE	0x10

struct imap_search_prog {
	int		 esearch;	/* RETURN given: answer ESEARCH */
	unsigned	 ret;		/* "RETURN ()" is ALL */
	int		 ascii;		/* CHARSET US-ASCII: no 8-bit strings */
	struct imap_search root;	/* IMAP_SK_AND */
};

/* imap_search_parse() and friends: -1 is BAD, this is NO [BADCHARSET]. */
#define IMAP_BADCHARSET		(-2)

int	 imap_search_parse(const struct imap_cmd *, struct imap_search_prog *,
	    const char **);
void	 imap_search_free(struct imap_search_prog *);

/* SORT (RFC 5256, RFC 5957 DISPLAYFROM DISPLAYTO). */
enum imap_sort_key {
	IMAP_SORT_ARRIVAL,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,
	IMAP_SORT_DISPLAYTO,
};

#define IMAP_MAX_SORT_KEYS	16

struct imap_sort {
	struct {
		enum imap_sort_key key;
		int		 reverse;
	}		 keys[IMAP_MAX_SORT_KEYS];
	size_t		 nkeys;
	struct imap_search_prog prog;
};

int	 imap_sort_parse(const struct imap_cmd *, struct imap_sort *,
	    const char **);
void	 imap_sort_free(struct imap_sort *);

/* THREAD (RFC 5256). */
enum imap_thread_alg {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

struct imap_thread {
	enum imap_thread_alg alg;
	struct imap_search_prog prog;
};

int	 imap_thread_parse(const struct imap_cmd *, struct imap_thread *,
	    const char **);
void	 imap_thread_free(struct imap_thread *);

/* STATUS items (RFC 9051 6.3.11, RFC 7162, RFC 7889). */
#define IMAP_STATUS_MESSAGES	0x001
#define IMAP_STATUS_UIDNEXT	0x002
#define IMAP_STATUS_UIDVALIDITY	0x004
#define IMAP_STATUS_UNSEEN	0x008
#define IMAP_STATUS_DELETED	0x010
#define IMAP_STATUS_SIZE	0x020
#define IMAP_STATUS_RECENT	0x040
#define IMAP_STATUS_HIGHESTMODSEQ 0x080
#define IMAP_STATUS_APPENDLIMIT	0x100

struct imap_status {
	char		 mailbox[IMAP_MAILBOX_MAX + 1];
	unsigned	 items;
};

int	 imap_status_parse(const struct imap_cmd *, int utf8,
	    struct imap_status *, const char **);

/*
 * LIST (RFC 9051 6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS,
 * RFC 6154 SPECIAL-USE) and LSUB. The reference and the patterns come
 * out in UTF-8 whatever the client sent: a pattern must be matched
 * against names decoded from the store's form, as a run of modified
 * UTF-7 cannot be matched piecewise.
 */
#define IMAP_LIST_SEL_SUBSCRIBED	0x01
#define IMAP_LIST_SEL_REMOTE		0x02
#define IMAP_LIST_SEL_RECURSIVEMATCH	0x04
#define IMAP_LIST_SEL_SPECIAL_USE	0x08

#define IMAP_LIST_RET_SUBSCRIBED	0x01
#define IMAP_LIST_RET_CHILDREN		0x02
#define IMAP_LIST_RET_SPECIAL_USE	0x04
#define IMAP_LIST_RET_STATUS		0x08

#define IMAP_MAX_PATTERNS	32

struct imap_list {
	int		 extended;	/* selection or return options given */
	unsigned	 select;
	unsigned	 ret;
	unsigned	 status;	/* RETURN (STATUS (...)) items */
	char		 ref[IMAP_MAILBOX_MAX + 1];
	char		*patterns[IMAP_MAX_PATTERNS];
	size_t		 npatterns;
};

int	 imap_list_parse(const struct imap_cmd *, int utf8, struct imap_list *,
	    const char **);
void	 imap_list_free(struct imap_list *);

/* SELECT and EXAMINE (RFC 9051 6.3.2, RFC 7162 CONDSTORE and QRESYNC). */
struct imap_select {
	char		 mailbox[IMAP_MAILBOX_MAX + 1];
	int		 condstore;
	int		 qresync;
	uint32_t	 uidvalidity;
	uint64_t	 modseq;
	int		 known_uids_set;
	struct imap_seqset known_uids;
	int		 seq_match_set;
	struct imap_seqset known_seqs;	/* seq-match-data */
	struct imap_seqset known_seq_uids;
};

int	 imap_select_parse(const struct imap_cmd *, int utf8,
	    struct imap_select *, const char **);
void	 imap_select_free(struct imap_select *);

/*
 * APPEND (RFC 9051 6.3.12, RFC 3502 MULTIAPPEND, RFC 3516 literal8,
 * RFC 6855 "UTF8 (~{n})"). data is the literal (or literal8) argument.
 */
struct imap_append_msg {
	struct imap_flags flags;	/* \Recent refused */
	int		 has_date;
	time_t		 date;		/* UTC */
	int		 tzoff;		/* minutes east of UTC, as sent */
	int		 utf8;		/* "UTF8 (...)" */
	const struct imap_arg *data;
};

struct imap_append {
	char		 mailbox[IMAP_MAILBOX_MAX + 1];
	struct imap_append_msg *msgs;
	size_t		 nmsgs;
};

int	 imap_append_parse(const struct imap_cmd *, int utf8,
	    struct imap_append *, const char **);
void	 imap_append_free(struct imap_append *);
/* "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d"): 0 or -1. */
int	 imap_datetime_parse(const char *, time_t *, int *tzoff);
/* "d-Mon-yyyy" (day one or two digits): 0 or -1. */
int	 imap_date_parse(const char *, struct imap_date *);

/*
 * Commands that take mailbox names only: CREATE (with RFC 6154 USE),
 * DELETE, RENAME (two), SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT.
 */
#define IMAP_USE_ALL		0x01
#define IMAP_USE_ARCHIVE	0x02
#define IMAP_USE_DRAFTS		0x04
#define IMAP_USE_FLAGGED	0x08
#define IMAP_USE_JUNK		0x10
#define IMAP_USE_SENT		0x20
#define IMAP_USE_TRASH		0x40

struct imap_mailboxes {
	char		 name[2][IMAP_MAILBOX_MAX + 1];
	size_t		 n;
	unsigned	 use;		/* CREATE (USE (...)) */
};

int	 imap_mailboxes_parse(const struct imap_cmd *, int utf8,
	    struct imap_mailboxes *, const char **);

/* COPY and MOVE (RFC 6851). */
struct imap_copy {
	struct imap_seqset set;
	char		 mailbox[IMAP_MAILBOX_MAX + 1];
};

int	 imap_copy_parse(const struct imap_cmd *, int utf8, struct imap_copy *,
	    const char **);
void	 imap_copy_free(struct imap_copy *);

/* EXPUNGE and UID EXPUNGE (RFC 4315): set empty for the former. */
int	 imap_expunge_parse(const struct imap_cmd *, struct imap_seqset *,
	    const char **);

/* LOGIN: user name and password (astrings, no NUL). */
int	 imap_login_parse(const struct imap_cmd *, const char **user,
	    const char **pass, const char **);
/* AUTHENTICATE mechanism [initial-response] (RFC 4959): *ir NULL if
 * absent, "=" for an empty one. */
int	 imap_authenticate_parse(const struct imap_cmd *, const char **mech,
	    const char **ir, const char **);

/* ENABLE (RFC 5161): capability names as sent. */
#define IMAP_MAX_ENABLE		32

struct imap_enable {
	const char	*caps[IMAP_MAX_ENABLE];
	size_t		 ncaps;
};

int	 imap_enable_parse(const struct imap_cmd *, struct imap_enable *,
	    const char **);

/* ID (RFC 2971): NIL or at most 30 pairs; value NULL for NIL. */
#define IMAP_ID_MAX_PAIRS	30
#define IMAP_ID_MAX_FIELD	30
#define IMAP_ID_MAX_VALUE	1024

struct imap_id {
	const char	*field[IMAP_ID_MAX_PAIRS];
	const char	*value[IMAP_ID_MAX_PAIRS];
	size_t		 n;
};

int	 imap_id_parse(const struct imap_cmd *, struct imap_id *,
	    const char **);

/* GETQUOTA root and SETQUOTA root (resource limit ...) (RFC 9208). */
#define IMAP_MAX_QUOTA_RES	8

struct imap_quota {
	const char	*root;
	struct {
		const char	*name;	/* an atom as sent: STORAGE ... */
		uint64_t	 limit;
	}		 res[IMAP_MAX_QUOTA_RES];
	size_t		 nres;
};

int	 imap_quota_parse(const struct imap_cmd *, struct imap_quota *,
	    const char **);

/* COMPRESS DEFLATE (RFC 4978): 0, or -1 for another mechanism. */
int	 imap_compress_parse(const struct imap_cmd *, const char **);

#endif
