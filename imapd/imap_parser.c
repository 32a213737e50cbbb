/*
 * IMAP client commands: see imap_parser.h.
 *
 * Grammar: RFC 9051 9 (and RFC 3501 9 where IMAP4rev1 clients differ),
 * with RFC 7888 literals, RFC 3516 literal8 and the argument syntax of
 * the extensions in the header.
 *
 * The reader lexes each line as it comes: the tree of arguments grows
 * level by level (one growable array per open list, copied into the
 * command's memory when the list closes), and a literal at the end of a
 * line becomes the next argument once its bytes are in. So the reader
 * knows at once whether a literal is the message of an APPEND, and a
 * bad line is refused before the client sends its literal.
 *
 * Memory: the command's strings and lists live in blocks of
 * struct imap_mem, freed as one. A literal grows as its bytes arrive,
 * never to more than its checked size; nothing is sized by a number the
 * client merely announced.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "imap_parser.h"

#define BLOCK_SIZE	(16 * 1024)
#define BIG_ALLOC	(BLOCK_SIZE / 4)	/* gets a block of its own */
#define LEVEL_KEEP	1024	/* list capacity kept between commands */

#define MODSEQ_MAX	INT64_MAX	/* RFC 7162: 63 bits */

struct block {
	struct block	*next;
	size_t		 size;		/* bytes of data */
	size_t		 used;
	max_align_t	 data[];
};

struct imap_mem {
	struct block	*head;		/* the block being filled first */
	size_t		 total;
};

struct level {
	struct imap_arg	*v;
	size_t		 n;
	size_t		 cap;
};

enum rstate {
	RS_IDLE,		/* between commands */
	RS_LINE,		/* the next line continues the command */
	RS_LITERAL,		/* literal bytes are due */
	RS_DONE,		/* complete, for imap_parse() */
};

struct imap_reader {
	size_t		 append_limit;
	enum rstate	 state;
	int		 has_tag;
	char		 tag[IMAP_MAX_TAG + 1];
	char		 name[32];
	enum imap_command cmd;
	int		 cflags;	/* CF_* of the command */
	int		 uid;
	struct imap_mem	 mem;
	struct level	 lv[IMAP_MAX_DEPTH + 1];
	size_t		 depth;
	size_t		 nargs;		/* nested ones too */
	size_t		 cmd_bytes;	/* lines and non-APPEND literals */
	size_t		 append_bytes;	/* APPEND messages kept here */
	size_t		 nliterals;
	/* The pending literal. */
	struct imap_literal_info lit;
	struct block	*lit_buf;
	size_t		 lit_got;
	long		 lit_ext;
	int		 lit_keep;	/* store the bytes */
	int		 lit_check;	/* refuse NUL */
	/* A failed command whose literals are still coming (LITERAL+). */
	const char	*deferred;
	int		 deferred_toobig;
	size_t		 discard_left;
	int		 must_close;
};

#define CF_UID		0x01	/* UID form exists */
#define CF_NOARGS	0x02

static const struct {
	const char		*name;
	enum imap_command	 cmd;
	int			 flags;
} commands[] = {
	{ "CAPABILITY",		IMAP_CMD_CAPABILITY,	CF_NOARGS },
	{ "NOOP",		IMAP_CMD_NOOP,		CF_NOARGS },
	{ "LOGOUT",		IMAP_CMD_LOGOUT,	CF_NOARGS },
	{ "STARTTLS",		IMAP_CMD_STARTTLS,	CF_NOARGS },
	{ "AUTHENTICATE",	IMAP_CMD_AUTHENTICATE,	0 },
	{ "LOGIN",		IMAP_CMD_LOGIN,		0 },
	{ "ENABLE",		IMAP_CMD_ENABLE,	0 },
	{ "SELECT",		IMAP_CMD_SELECT,	0 },
	{ "EXAMINE",		IMAP_CMD_EXAMINE,	0 },
	{ "CREATE",		IMAP_CMD_CREATE,	0 },
	{ "DELETE",		IMAP_CMD_DELETE,	0 },
	{ "RENAME",		IMAP_CMD_RENAME,	0 },
	{ "SUBSCRIBE",		IMAP_CMD_SUBSCRIBE,	0 },
	{ "UNSUBSCRIBE",	IMAP_CMD_UNSUBSCRIBE,	0 },
	{ "LIST",		IMAP_CMD_LIST,		0 },
	{ "LSUB",		IMAP_CMD_LSUB,		0 },
	{ "NAMESPACE",		IMAP_CMD_NAMESPACE,	CF_NOARGS },
	{ "STATUS",		IMAP_CMD_STATUS,	0 },
	{ "APPEND",		IMAP_CMD_APPEND,	0 },
	{ "IDLE",		IMAP_CMD_IDLE,		CF_NOARGS },
	{ "CHECK",		IMAP_CMD_CHECK,		CF_NOARGS },
	{ "CLOSE",		IMAP_CMD_CLOSE,		CF_NOARGS },
	{ "UNSELECT",		IMAP_CMD_UNSELECT,	CF_NOARGS },
	{ "EXPUNGE",		IMAP_CMD_EXPUNGE,	CF_UID },
	{ "SEARCH",		IMAP_CMD_SEARCH,	CF_UID },
	{ "FETCH",		IMAP_CMD_FETCH,		CF_UID },
	{ "STORE",		IMAP_CMD_STORE,		CF_UID },
	{ "COPY",		IMAP_CMD_COPY,		CF_UID },
	{ "MOVE",		IMAP_CMD_MOVE,		CF_UID },
	{ "SORT",		IMAP_CMD_SORT,		CF_UID },
	{ "THREAD",		IMAP_CMD_THREAD,	CF_UID },
	{ "ID",			IMAP_CMD_ID,		0 },
	{ "GETQUOTA",		IMAP_CMD_GETQUOTA,	0 },
	{ "GETQUOTAROOT",	IMAP_CMD_GETQUOTAROOT,	0 },
	{ "SETQUOTA",		IMAP_CMD_SETQUOTA,	0 },
	{ "COMPRESS",		IMAP_CMD_COMPRESS,	0 },
};

static const char E_NUL[] = "NUL byte in command line";
static const char E_SPACE[] = "expected a space";
static const char E_MISSING[] = "missing argument after space";
static const char E_CHAR[] = "invalid character in command";
static const char E_8BIT[] = "8-bit data outside a quoted string or literal";
static const char E_LONGLINE[] = "[TOOBIG] command line too long";
static const char E_LONGCMD[] = "[TOOBIG] command too long";
static const char E_NARGS[] = "[TOOBIG] too many arguments";
static const char E_NLIT[] = "[TOOBIG] too many literals";

static struct block *block_new(size_t);
static void	*mem_alloc(struct imap_mem *, size_t, size_t);
static void	 mem_adopt(struct imap_mem *, struct block *);
static void	 mem_free(struct imap_mem *);
static char	*mem_strndup(struct imap_mem *, const char *, size_t);
static int	 atom_char(int);
static int	 astring_char(int);
static int	 list_char(int);
static int	 token_char(int);
static int	 tag_char(int);
static unsigned char upper(unsigned char);
static int	 ascii_caseeq(const char *, const char *);
static int	 ascii_ncaseeq(const char *, size_t, const char *);
static uint64_t	 digits_value(const char *, size_t);
static int	 line_literal(const char *, size_t, uint64_t *, int *, int *);
static void	 cmd_reset(struct imap_reader *);
static enum imap_feed defer(struct imap_reader *, const char *, int,
		    uint64_t, int, size_t *, int *);
static enum imap_feed fail_line(struct imap_reader *, const char *, size_t,
		    enum imap_feed, const char *, size_t *, int *,
		    const char **);
static enum imap_feed skip_line(struct imap_reader *, const char *, size_t,
		    size_t *, int *, const char **);
static int	 parse_tag(struct imap_reader *, const char **, const char *,
		    const char **);
static int	 parse_name(struct imap_reader *, const char **, const char *,
		    const char **);
static struct imap_arg *add_arg(struct imap_reader *, enum imap_arg_type);
static void	 close_level(struct imap_reader *);
static int	 section_prefix(const char *, size_t);
static int	 lex_quoted(struct imap_reader *, const char **, const char *,
		    const char **, enum imap_feed *);
static int	 lex_atom(struct imap_reader *, const char **, const char *,
		    const char **, enum imap_feed *);
static enum imap_feed literal_begin(struct imap_reader *, uint64_t, int, int,
		    size_t *, int *, const char **);
static enum imap_feed lex(struct imap_reader *, const char *, size_t,
		    const char *, size_t *, int *, const char **);

/*
 * Memory of one command.
 */

static struct block *
block_new(size_t size)
{
	struct block	*b;

	if (size > SIZE_MAX - sizeof(*b))
		fatalx("imap block of %zu bytes", size);
	b = xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

static void *
mem_alloc(struct imap_mem *m, size_t size, size_t align)
{
	struct block	*b = m->head;
	size_t		 off;

	if (b != NULL) {
		off = (b->used + align - 1) & ~(align - 1);
		if (off <= b->size && size <= b->size - off) {
			b->used = off + size;
			return (char *)b->data + off;
		}
	}
	if (size > BIG_ALLOC) {
		b = block_new(size);
		b->used = size;
		mem_adopt(m, b);
		return b->data;
	}
	b = block_new(BLOCK_SIZE);
	b->used = size;
	b->next = m->head;
	m->head = b;
	m->total += sizeof(*b) + b->size;
	return b->data;
}

/* Keep b, full, behind the block being filled. */
static void
mem_adopt(struct imap_mem *m, struct block *b)
{
	if (m->head == NULL)
		m->head = b;
	else {
		b->next = m->head->next;
		m->head->next = b;
	}
	m->total += sizeof(*b) + b->size;
}

static void
mem_free(struct imap_mem *m)
{
	struct block	*b, *next;

	for (b = m->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	m->head = NULL;
	m->total = 0;
}

static char *
mem_strndup(struct imap_mem *m, const char *s, size_t len)
{
	char	*p;

	p = mem_alloc(m, len + 1, 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/*
 * Characters (RFC 9051 9).
 */

/* ATOM-CHAR: any CHAR except atom-specials ( ) { SP CTL % * " \ ] */
static int
atom_char(int c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* ASTRING-CHAR = ATOM-CHAR / resp-specials */
static int
astring_char(int c)
{
	return atom_char(c) || c == ']';
}

/* list-char = ATOM-CHAR / list-wildcards / resp-specials */
static int
list_char(int c)
{
	return astring_char(c) || c == '%' || c == '*';
}

/*
 * What the lexer takes into a bare token: list-char, and '\' for flags.
 * The typed parsers hold each argument to its own grammar.
 */
static int
token_char(int c)
{
	return c > 0x20 && c < 0x7f && strchr("(){\"", c) == NULL;
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static int
tag_char(int c)
{
	return astring_char(c) && c != '+';
}

static unsigned char
upper(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

/* a equals the upper-case w, ignoring ASCII case. */
static int
ascii_caseeq(const char *a, const char *w)
{
	for (; *a != '\0' && *w != '\0'; a++, w++)
		if (upper((unsigned char)*a) != (unsigned char)*w)
			return 0;
	return *a == *w;
}

/* The n bytes at a equal the upper-case w. */
static int
ascii_ncaseeq(const char *a, size_t n, const char *w)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (w[i] == '\0' ||
		    upper((unsigned char)a[i]) != (unsigned char)w[i])
			return 0;
	return w[n] == '\0';
}

/* Decimal digits, saturating at UINT64_MAX. */
static uint64_t
digits_value(const char *s, size_t n)
{
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return UINT64_MAX;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

/*
 * 1 if the line ends in a literal announcement: "{n}", "{n+}", "~{n}"
 * or "~{n+}" (RFC 7888 8). Used where the line is not lexed, to know
 * whether the client will send bytes the reader must not take for a
 * command.
 */
static int
line_literal(const char *line, size_t len, uint64_t *n, int *sync,
    int *binary)
{
	size_t	 i, j;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	i = len - 1;
	*sync = 1;
	if (line[i - 1] == '+') {
		*sync = 0;
		i--;
	}
	for (j = i; j > 0 && line[j - 1] >= '0' && line[j - 1] <= '9'; j--)
		;
	if (j == i || j == 0 || line[j - 1] != '{')
		return 0;
	*n = digits_value(line + j, i - j);
	*binary = j >= 2 && line[j - 2] == '~';
	return 1;
}

/*
 * Layer 1: the reader.
 */

struct imap_reader *
imap_reader_new(size_t append_limit)
{
	struct imap_reader	*r;

	r = xcalloc(1, sizeof(*r));
	r->append_limit = append_limit;
	r->state = RS_IDLE;
	return r;
}

void
imap_reader_free(struct imap_reader *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	cmd_reset(r);
	for (i = 0; i < nitems(r->lv); i++)
		free(r->lv[i].v);
	free(r);
}

/* Forget the command being read; the tag and must_close stay. */
static void
cmd_reset(struct imap_reader *r)
{
	size_t	 i;

	mem_free(&r->mem);
	free(r->lit_buf);
	r->lit_buf = NULL;
	for (i = 0; i < nitems(r->lv); i++) {
		r->lv[i].n = 0;
		if (r->lv[i].cap > LEVEL_KEEP) {
			free(r->lv[i].v);
			r->lv[i].v = NULL;
			r->lv[i].cap = 0;
		}
	}
	r->depth = 0;
	r->nargs = 0;
	r->cmd_bytes = 0;
	r->append_bytes = 0;
	r->nliterals = 0;
	r->lit_got = 0;
	r->lit_ext = 0;
	r->lit_keep = 0;
	r->lit_check = 0;
	r->deferred = NULL;
	r->deferred_toobig = 0;
	r->discard_left = 0;
	r->state = RS_IDLE;
}

void
imap_reader_reset(struct imap_reader *r)
{
	cmd_reset(r);
	r->has_tag = 0;
	r->must_close = 0;
}

const char *
imap_reader_tag(const struct imap_reader *r)
{
	return r->has_tag ? r->tag : NULL;
}

int
imap_reader_must_close(const struct imap_reader *r)
{
	return r->must_close;
}

void
imap_reader_literal_info(const struct imap_reader *r,
    struct imap_literal_info *info)
{
	*info = r->lit;
}

size_t
imap_reader_memory(const struct imap_reader *r)
{
	size_t	 total, i;

	total = r->mem.total;
	if (r->lit_buf != NULL)
		total += sizeof(*r->lit_buf) + r->lit_buf->size;
	for (i = 0; i < nitems(r->lv); i++)
		total += r->lv[i].cap * sizeof(struct imap_arg);
	return total;
}

int
imap_is_done(const char *line, size_t len)
{
	return len == 4 && ascii_ncaseeq(line, 4, "DONE");
}

/*
 * The command failed, but the client sends a non-synchronizing literal
 * anyway: take it (and what follows) without keeping it, and report the
 * failure when the command ends.
 */
static enum imap_feed
defer(struct imap_reader *r, const char *msg, int toobig, uint64_t n,
    int binary, size_t *need, int *sync)
{
	cmd_reset(r);
	r->deferred = msg;
	r->deferred_toobig = toobig;
	r->discard_left = IMAP_MAX_COMMAND - (size_t)n;
	r->nliterals = 1;
	r->lit.size = n;
	r->lit.sync = 0;
	r->lit.binary = binary;
	r->lit.message = 0;
	r->state = RS_LITERAL;
	*need = (size_t)n;
	*sync = 0;
	return IMAP_FEED_LITERAL;
}

static enum imap_feed
fail_line(struct imap_reader *r, const char *line, size_t len,
    enum imap_feed kind, const char *msg, size_t *need, int *sync,
    const char **errstr)
{
	uint64_t	 n;
	int		 s, binary;

	if (line_literal(line, len, &n, &s, &binary) && !s) {
		if (n <= IMAP_MAX_COMMAND)
			return defer(r, msg, kind == IMAP_FEED_TOOBIG, n,
			    binary, need, sync);
		r->must_close = 1;
	}
	cmd_reset(r);
	*errstr = msg;
	return kind;
}

/* A line of a command that failed already. */
static enum imap_feed
skip_line(struct imap_reader *r, const char *line, size_t len, size_t *need,
    int *sync, const char **errstr)
{
	const char	*msg;
	uint64_t	 n;
	int		 s, binary, toobig;

	if (line_literal(line, len, &n, &s, &binary) && !s) {
		if (n <= r->discard_left &&
		    r->nliterals < IMAP_MAX_LITERALS) {
			r->discard_left -= (size_t)n;
			r->nliterals++;
			r->lit.size = n;
			r->lit.sync = 0;
			r->lit.binary = binary;
			r->lit.message = 0;
			r->lit_got = 0;
			r->state = RS_LITERAL;
			*need = (size_t)n;
			*sync = 0;
			return IMAP_FEED_LITERAL;
		}
		r->must_close = 1;
	}
	/* A synchronizing literal is never sent: the client sees the BAD. */
	msg = r->deferred;
	toobig = r->deferred_toobig;
	cmd_reset(r);
	*errstr = msg;
	return toobig ? IMAP_FEED_TOOBIG : IMAP_FEED_ERROR;
}

static int
parse_tag(struct imap_reader *r, const char **pp, const char *end,
    const char **errstr)
{
	const char	*p = *pp;
	size_t		 len;

	while (p < end && tag_char((unsigned char)*p))
		p++;
	len = (size_t)(p - *pp);
	if (len == 0 || (p < end && *p != ' ')) {
		*errstr = p < end && *p == '\0' ? E_NUL : "invalid tag";
		return -1;
	}
	if (len > IMAP_MAX_TAG) {
		*errstr = "tag too long";
		return -1;
	}
	memcpy(r->tag, *pp, len);
	r->tag[len] = '\0';
	r->has_tag = 1;
	if (p == end) {
		*errstr = "missing command";
		return -1;
	}
	*pp = p + 1;
	return 0;
}

static int
parse_name(struct imap_reader *r, const char **pp, const char *end,
    const char **errstr)
{
	const char	*p = *pp, *start;
	size_t		 i, len;
	int		 uid = 0;

 again:
	start = p;
	while (p < end && atom_char((unsigned char)*p))
		p++;
	len = (size_t)(p - start);
	if (len == 0) {
		*errstr = "missing command";
		return -1;
	}
	if (p < end && *p != ' ') {
		*errstr = *p == '\0' ? E_NUL : "invalid command name";
		return -1;
	}
	if (!uid && ascii_ncaseeq(start, len, "UID")) {
		if (p == end) {
			*errstr = "UID needs a command";
			return -1;
		}
		uid = 1;
		p++;
		goto again;
	}
	for (i = 0; i < nitems(commands); i++)
		if (ascii_ncaseeq(start, len, commands[i].name))
			break;
	if (i == nitems(commands)) {
		*errstr = uid ? "unknown UID command" : "unknown command";
		return -1;
	}
	if (uid && !(commands[i].flags & CF_UID)) {
		*errstr = "command has no UID form";
		return -1;
	}
	(void)osms_strlcpy(r->name, commands[i].name, sizeof(r->name));
	r->cmd = commands[i].cmd;
	r->cflags = commands[i].flags;
	r->uid = uid;
	*pp = p;
	return 0;
}

/* A new argument at the current level, or NULL past IMAP_MAX_ARGS. */
static struct imap_arg *
add_arg(struct imap_reader *r, enum imap_arg_type type)
{
	struct level	*l = &r->lv[r->depth];
	struct imap_arg	*a;
	size_t		 cap;

	if (r->nargs >= IMAP_MAX_ARGS)
		return NULL;
	if (l->n == l->cap) {
		cap = l->cap == 0 ? 16 : l->cap * 2;
		l->v = xreallocarray(l->v, cap, sizeof(*l->v));
		l->cap = cap;
	}
	r->nargs++;
	a = &l->v[l->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

/* ')': the list at the current level becomes its parent's last argument. */
static void
close_level(struct imap_reader *r)
{
	struct level	*l = &r->lv[r->depth];
	struct level	*parent = &r->lv[r->depth - 1];
	struct imap_arg	*a = &parent->v[parent->n - 1];

	if (l->n > 0) {
		a->list = mem_alloc(&r->mem, l->n * sizeof(*l->v),
		    alignof(struct imap_arg));
		memcpy(a->list, l->v, l->n * sizeof(*l->v));
	}
	a->nlist = l->n;
	l->n = 0;
	r->depth--;
}

/* FETCH items whose '[' opens section text (RFC 9051, RFC 3516). */
static int
section_prefix(const char *s, size_t len)
{
	static const char *const names[] = {
		"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
	};
	size_t	 i;

	for (i = 0; i < nitems(names); i++)
		if (ascii_ncaseeq(s, len, names[i]))
			return 1;
	return 0;
}

/*
 * quoted = DQUOTE *QUOTED-CHAR DQUOTE, with UTF-8 (RFC 9051): only '"'
 * and '\' may follow a backslash; 8-bit bytes must be well-formed UTF-8.
 */
static int
lex_quoted(struct imap_reader *r, const char **pp, const char *end,
    const char **errstr, enum imap_feed *kind)
{
	const char	*p = *pp + 1, *start = p;
	unsigned char	 seq[5];
	struct imap_arg	*a;
	size_t		 olen = 0, n, i;
	char		*out;

	for (;;) {
		if (p == end) {
			*errstr = "unterminated quoted string";
			return -1;
		}
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (end - p < 2 || (p[1] != '"' && p[1] != '\\')) {
				*errstr = "invalid escape in quoted string";
				return -1;
			}
			p += 2;
			olen++;
			continue;
		}
		if (*p == '\r' || *p == '\n') {
			*errstr = "CR or LF in quoted string";
			return -1;
		}
		if ((unsigned char)*p < 0x80) {
			p++;
			olen++;
			continue;
		}
		/* utf8_seq() may look 4 bytes ahead: give it a copy. */
		memset(seq, 0, sizeof(seq));
		n = (size_t)(end - p) < 4 ? (size_t)(end - p) : 4;
		memcpy(seq, p, n);
		if ((n = utf8_seq(seq)) == 0) {
			*errstr = "invalid UTF-8 in quoted string";
			return -1;
		}
		p += n;
		olen += n;
	}
	if ((a = add_arg(r, IMAP_ARG_STRING)) == NULL) {
		*errstr = E_NARGS;
		*kind = IMAP_FEED_TOOBIG;
		return -1;
	}
	out = mem_alloc(&r->mem, olen + 1, 1);
	for (i = 0; start < p; start++) {
		if (*start == '\\')
			start++;
		out[i++] = *start;
	}
	out[i] = '\0';
	a->s = out;
	a->len = olen;
	*pp = p + 1;
	return 0;
}

static int
lex_atom(struct imap_reader *r, const char **pp, const char *end,
    const char **errstr, enum imap_feed *kind)
{
	const char	*p = *pp, *q;
	struct imap_arg	*a;
	size_t		 len;
	int		 bracket = 0;

	while (p < end) {
		if (*p == '[' && r->cmd == IMAP_CMD_FETCH && !bracket &&
		    section_prefix(*pp, (size_t)(p - *pp))) {
			for (q = p + 1; q < end && *q != ']'; q++)
				if (*q < 0x20 || *q >= 0x7f || *q == '[' ||
				    *q == '{') {
					*errstr = "invalid character in section";
					return -1;
				}
			if (q == end) {
				*errstr = "missing ] after section";
				return -1;
			}
			p = q + 1;
			bracket = 1;
			continue;
		}
		if (!token_char((unsigned char)*p))
			break;
		p++;
	}
	if (p == *pp) {
		*errstr = (unsigned char)*p >= 0x80 ? E_8BIT : E_CHAR;
		return -1;
	}
	len = (size_t)(p - *pp);
	a = add_arg(r, len == 3 && ascii_ncaseeq(*pp, 3, "NIL") ?
	    IMAP_ARG_NIL : IMAP_ARG_ATOM);
	if (a == NULL) {
		*errstr = E_NARGS;
		*kind = IMAP_FEED_TOOBIG;
		return -1;
	}
	a->s = mem_strndup(&r->mem, *pp, len);
	a->len = len;
	*pp = p;
	return 0;
}

/* The line ends in a literal of n bytes: check the limits, ask for it. */
static enum imap_feed
literal_begin(struct imap_reader *r, uint64_t n, int sync, int binary,
    size_t *need, int *syncp, const char **errstr)
{
	const char	*msg = NULL;
	uint64_t	 total_max;
	int		 message;

	/* In APPEND every literal after the mailbox is a message. */
	message = r->cmd == IMAP_CMD_APPEND &&
	    !(r->depth == 0 && r->lv[0].n == 0);
	r->lit.size = n;
	r->lit.sync = sync;
	r->lit.binary = binary;
	r->lit.message = message;
	total_max = r->append_limit > IMAP_MAX_COMMAND ? r->append_limit :
	    IMAP_MAX_COMMAND;
	if (r->nliterals >= IMAP_MAX_LITERALS)
		msg = E_NLIT;
	else if (r->nargs >= IMAP_MAX_ARGS)
		msg = E_NARGS;
	else if (message && n > r->append_limit)
		msg = "[TOOBIG] message too big";
	else if (message && n > total_max - r->append_bytes)
		msg = "[TOOBIG] messages too big together";
	else if (!message && n > IMAP_MAX_COMMAND - r->cmd_bytes)
		msg = E_LONGCMD;
	if (msg != NULL) {
		/* The client sends a {n+} literal anyway. */
		if (!sync)
			r->must_close = 1;
		cmd_reset(r);
		*errstr = msg;
		return IMAP_FEED_TOOBIG;
	}
	if (!message)
		r->cmd_bytes += (size_t)n;
	r->lit_got = 0;
	r->lit_ext = 0;
	r->lit_keep = 1;
	r->lit_check = !binary;
	r->state = RS_LITERAL;
	*need = (size_t)n;
	*syncp = sync;
	return IMAP_FEED_LITERAL;
}

/*
 * Lex the arguments in [p, end) of line. Right after the command name
 * or a literal, an argument has just ended.
 */
static enum imap_feed
lex(struct imap_reader *r, const char *line, size_t len, const char *p,
    size_t *need, int *sync, const char **errstr)
{
	const char	*end = line + len, *q, *d;
	enum imap_feed	 kind = IMAP_FEED_ERROR;
	uint64_t	 n;
	int		 after_arg = 1, after_space = 0, binary, lsync;

	for (;;) {
		if (p == end) {
			if (after_space) {
				*errstr = E_MISSING;
				goto fail;
			}
			if (r->depth > 0) {
				*errstr = "missing )";
				goto fail;
			}
			r->state = RS_DONE;
			return IMAP_FEED_COMPLETE;
		}
		if (*p == ')' && !after_space) {
			if (r->depth == 0) {
				*errstr = "unbalanced )";
				goto fail;
			}
			close_level(r);
			p++;
			after_arg = 1;
			continue;
		}
		if (after_arg) {
			if (*p != ' ') {
				*errstr = E_SPACE;
				goto fail;
			}
			p++;
			after_arg = 0;
			after_space = 1;
			continue;
		}
		after_space = 0;
		if (*p == '(') {
			if (r->depth == IMAP_MAX_DEPTH) {
				*errstr = "lists nested too deeply";
				goto fail;
			}
			if (add_arg(r, IMAP_ARG_LIST) == NULL) {
				*errstr = E_NARGS;
				kind = IMAP_FEED_TOOBIG;
				goto fail;
			}
			r->depth++;
			p++;
			continue;
		}
		if (*p == '"') {
			if (lex_quoted(r, &p, end, errstr, &kind) == -1)
				goto fail;
			after_arg = 1;
			continue;
		}
		if (*p == '{' || (*p == '~' && end - p > 1 && p[1] == '{')) {
			binary = *p == '~';
			q = p + 1 + binary;
			for (d = q; q < end && *q >= '0' && *q <= '9'; q++)
				;
			n = digits_value(d, (size_t)(q - d));
			lsync = 1;
			if (q < end && *q == '+') {
				lsync = 0;
				q++;
			}
			if (q == d || q == end || *q != '}' || q + 1 != end) {
				*errstr = "invalid literal";
				goto fail;
			}
			if (binary && r->cmd != IMAP_CMD_APPEND) {
				*errstr = "literal8 only in APPEND";
				goto fail;
			}
			return literal_begin(r, n, lsync, binary, need, sync,
			    errstr);
		}
		if (lex_atom(r, &p, end, errstr, &kind) == -1)
			goto fail;
		after_arg = 1;
	}
 fail:
	return fail_line(r, line, len, kind, *errstr, need, sync, errstr);
}

enum imap_feed
imap_reader_line(struct imap_reader *r, const char *line, size_t len,
    size_t *need, int *sync, const char **errstr)
{
	const char	*p = line, *end = line + len;
	int		 first = 0;

	*need = 0;
	*sync = 0;
	*errstr = NULL;
	switch (r->state) {
	case RS_LITERAL:
		fatalx("imap_reader_line: literal bytes are due");
	case RS_DONE:
		/* imap_parse() was not called: the command is dropped. */
		cmd_reset(r);
		/* FALLTHROUGH */
	case RS_IDLE:
		r->has_tag = 0;
		r->must_close = 0;
		r->cmd = IMAP_CMD_NOOP;
		r->cflags = 0;
		r->uid = 0;
		r->name[0] = '\0';
		memset(&r->lit, 0, sizeof(r->lit));
		first = 1;
		break;
	case RS_LINE:
		if (r->deferred != NULL)
			return skip_line(r, line, len, need, sync, errstr);
		break;
	}
	if (first) {
		/* The tag first, so that even a long line gets a tagged BAD. */
		if (len == 0)
			return fail_line(r, line, len, IMAP_FEED_ERROR,
			    "empty command line", need, sync, errstr);
		if (parse_tag(r, &p, end, errstr) == -1)
			return fail_line(r, line, len, IMAP_FEED_ERROR,
			    *errstr, need, sync, errstr);
	}
	if (len > IMAP_MAX_LINE)
		return fail_line(r, line, len, IMAP_FEED_TOOBIG, E_LONGLINE,
		    need, sync, errstr);
	if (len > IMAP_MAX_COMMAND - r->cmd_bytes)
		return fail_line(r, line, len, IMAP_FEED_TOOBIG, E_LONGCMD,
		    need, sync, errstr);
	r->cmd_bytes += len;
	if (memchr(line, '\0', len) != NULL)
		return fail_line(r, line, len, IMAP_FEED_ERROR, E_NUL, need,
		    sync, errstr);
	if (first && parse_name(r, &p, end, errstr) == -1)
		return fail_line(r, line, len, IMAP_FEED_ERROR, *errstr, need,
		    sync, errstr);
	return lex(r, line, len, p, need, sync, errstr);
}

enum imap_feed
imap_reader_literal(struct imap_reader *r, const char *data, size_t len)
{
	struct imap_arg	*a;
	struct block	*b;
	size_t		 size, cap;

	if (r->state != RS_LITERAL || len > r->lit.size - r->lit_got)
		fatalx("imap_reader_literal: %zu bytes not expected", len);
	size = (size_t)r->lit.size;
	if (r->lit_check && len > 0 && memchr(data, '\0', len) != NULL) {
		/* Take the rest, refuse the command when it ends. */
		free(r->lit_buf);
		r->lit_buf = NULL;
		r->lit_keep = 0;
		r->lit_check = 0;
		r->deferred = "NUL byte in literal";
		r->deferred_toobig = 0;
		r->discard_left = IMAP_MAX_COMMAND;
	}
	if (r->lit_keep && r->deferred == NULL) {
		b = r->lit_buf;
		if (b == NULL || b->size - b->used < len + 1) {
			/* Grow with the bytes that came, up to size + 1. */
			cap = b == NULL ? 4096 : b->size * 2;
			if (cap < r->lit_got + len + 1)
				cap = r->lit_got + len + 1;
			if (cap > size + 1)
				cap = size + 1;
			b = xreallocarray(b, 1, sizeof(*b) + cap);
			if (r->lit_buf == NULL)
				b->used = 0;
			b->size = cap;
			b->next = NULL;
			r->lit_buf = b;
		}
		if (len > 0)
			memcpy((char *)b->data + b->used, data, len);
		b->used += len;
	}
	r->lit_got += len;
	if (r->lit_got < size)
		return IMAP_FEED_LITERAL;

	r->state = RS_LINE;
	if (r->deferred != NULL)
		return IMAP_FEED_LINE;
	r->nliterals++;
	a = add_arg(r, r->lit.binary ? IMAP_ARG_LITERAL8 : IMAP_ARG_STRING);
	if (a == NULL)
		fatalx("imap_reader_literal: no room");	/* checked before */
	a->literal = 1;
	a->len = size;
	if (r->lit_keep) {
		if ((b = r->lit_buf) == NULL) {
			b = block_new(1);
			b->used = 0;
		}
		((char *)b->data)[b->used] = '\0';
		a->s = (char *)b->data;
		r->lit_buf = NULL;
		mem_adopt(&r->mem, b);
		if (r->lit.message)
			r->append_bytes += size;
	} else {
		a->s = "";
		a->ext = r->lit_ext;
	}
	return IMAP_FEED_LINE;
}

void
imap_reader_literal_external(struct imap_reader *r, long id)
{
	if (r->state != RS_LITERAL || r->lit_got != 0 || !r->lit.message ||
	    r->deferred != NULL || id <= 0)
		fatalx("imap_reader_literal_external: not an APPEND message");
	r->lit_keep = 0;
	r->lit_ext = id;
}

/*
 * Layer 2.
 */

int
imap_parse(struct imap_reader *r, struct imap_cmd *cmd, const char **errstr)
{
	struct level	*l = &r->lv[0];
	int		 cflags = r->cflags;

	memset(cmd, 0, sizeof(*cmd));
	if (r->state != RS_DONE) {
		*errstr = "no complete command";
		return -1;
	}
	(void)osms_strlcpy(cmd->tag, r->tag, sizeof(cmd->tag));
	(void)osms_strlcpy(cmd->name, r->name, sizeof(cmd->name));
	cmd->cmd = r->cmd;
	cmd->uid = r->uid;
	if (l->n > 0) {
		cmd->args = mem_alloc(&r->mem, l->n * sizeof(*l->v),
		    alignof(struct imap_arg));
		memcpy(cmd->args, l->v, l->n * sizeof(*l->v));
		cmd->nargs = l->n;
	}
	cmd->mem = xmalloc(sizeof(*cmd->mem));
	*cmd->mem = r->mem;
	memset(&r->mem, 0, sizeof(r->mem));
	cmd_reset(r);
	r->has_tag = 0;

	if (cmd->nargs > 0 && ((cflags & CF_NOARGS) ||
	    (cmd->cmd == IMAP_CMD_EXPUNGE && !cmd->uid))) {
		*errstr = "unexpected arguments";
		mem_free(cmd->mem);
		cmd->args = NULL;
		cmd->nargs = 0;
		return -1;
	}
	return 0;
}

void
imap_cmd_free(struct imap_cmd *cmd)
{
	if (cmd->mem != NULL) {
		mem_free(cmd->mem);
		free(cmd->mem);
	}
	cmd->mem = NULL;
	cmd->args = NULL;
	cmd->nargs = 0;
}

/*
 * Layer 3: typed arguments.
 */

static const char E_NAMELONG[] = "mailbox name too long";
#define B64_CHARS \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
static const char E_SEQSET[] = "invalid sequence set";
static const char E_EXTRA[] = "unexpected arguments";

static int	 parse_num(const char *, size_t, uint64_t, int, uint64_t *);
static int	 arg_is(const struct imap_arg *, const char *);
static int	 str_caseeq(const char *, const char *);
static int	 range_cmp(const void *, const void *);
static void	 seqset_normalize(struct imap_seqset *);
static int	 seq_number(const char **, uint32_t *, int *);
static int	 seqset_arg(const struct imap_arg *, int, struct imap_seqset *,
		    const char **);
static int	 keyword_ok(const struct imap_arg *);
static int	 flags_add(struct imap_flags *, const struct imap_arg *,
		    const char **);
static int	 flags_list(struct imap_flags *, const struct imap_arg *,
		    const char **);
static int	 month_index(const char *);
static int	 days_in_month(int, int);
static int	 digits_n(const char *, size_t);

/*
 * A decimal number of len bytes at most max; nz: nz-number (no leading
 * zero, so not 0 either).
 */
static int
parse_num(const char *s, size_t len, uint64_t max, int nz, uint64_t *out)
{
	uint64_t	 v = 0, d;
	size_t		 i;

	if (len == 0 || len > 20 || (nz && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (uint64_t)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* An atom spelling word (upper case), ignoring case. */
static int
arg_is(const struct imap_arg *a, const char *word)
{
	return a->type == IMAP_ARG_ATOM && ascii_caseeq(a->s, word);
}

/* ASCII case-insensitive equality of two arbitrary strings. */
static int
str_caseeq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (upper((unsigned char)*a) != upper((unsigned char)*b))
			return 0;
	return *a == *b;
}

int
imap_arg_number(const struct imap_arg *a, uint64_t *v)
{
	if (a->type != IMAP_ARG_ATOM)
		return -1;
	return parse_num(a->s, a->len, INT64_MAX, 0, v);
}

const char *
imap_arg_string(const struct imap_arg *a)
{
	if (a->type != IMAP_ARG_STRING || a->ext != 0)
		return NULL;
	return a->s;
}

const char *
imap_arg_astring(const struct imap_arg *a)
{
	size_t	 i;

	switch (a->type) {
	case IMAP_ARG_ATOM:
		for (i = 0; i < a->len; i++)
			if (!astring_char((unsigned char)a->s[i]))
				return NULL;
		return a->s;
	case IMAP_ARG_NIL:
		return a->s;
	case IMAP_ARG_STRING:
		return imap_arg_string(a);
	default:
		return NULL;
	}
}

/*
 * Modified UTF-7 (RFC 3501 5.1.3): printable ASCII stands for itself,
 * '&' is "&-", anything else is UTF-16 in modified BASE64 between '&'
 * and '-'.
 */

int
imap_mailbox(const struct imap_arg *a, int utf8, char *buf,
    const char **errstr)
{
	/* Decoding grows a name by 9/8 at most. */
	char		 tmp[2 * IMAP_MAILBOX_MAX + 2];
	const char	*s;
	size_t		 len;

	buf[0] = '\0';
	if ((s = imap_arg_astring(a)) == NULL) {
		*errstr = "mailbox name expected";
		return -1;
	}
	if ((len = strlen(s)) != a->len) {
		*errstr = "NUL byte in mailbox name";
		return -1;
	}
	if (len == 0) {
		*errstr = "empty mailbox name";
		return -1;
	}
	if (strpbrk(s, "%*") != NULL) {
		*errstr = "wildcard in mailbox name";
		return -1;
	}
	if (ascii_caseeq(s, "INBOX")) {
		(void)osms_strlcpy(buf, "INBOX", IMAP_MAILBOX_MAX + 1);
		return 0;
	}
	if (utf8)
		return imap_utf8_to_mutf7(s, buf, IMAP_MAILBOX_MAX + 1,
		    errstr) == -1 ? -1 : 0;
	if (len > IMAP_MAILBOX_MAX) {
		*errstr = E_NAMELONG;
		return -1;
	}
	if (imap_mutf7_to_utf8(s, tmp, sizeof(tmp), errstr) == -1)
		return -1;
	memcpy(buf, s, len + 1);
	return 0;
}

/*
 * Sequence sets.
 */

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_range	*x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

/* Sort and merge overlapping or adjacent ranges: O(n log n). */
static void
seqset_normalize(struct imap_seqset *set)
{
	struct imap_range	*r = set->r;
	size_t			 i, j;

	if (set->n < 2)
		return;
	qsort(r, set->n, sizeof(*r), range_cmp);
	for (i = 1, j = 0; i < set->n; i++) {
		if (r[i].lo <= r[j].hi ||
		    (r[j].hi != UINT32_MAX && r[i].lo == r[j].hi + 1)) {
			if (r[i].hi > r[j].hi)
				r[j].hi = r[i].hi;
		} else
			r[++j] = r[i];
	}
	set->n = j + 1;
}

/* seq-number = nz-number / "*" */
static int
seq_number(const char **pp, uint32_t *v, int *star)
{
	const char	*p = *pp, *q;
	uint64_t	 n;

	*v = 0;
	*star = 0;
	if (*p == '*') {
		*star = 1;
		*pp = p + 1;
		return 0;
	}
	for (q = p; *q >= '0' && *q <= '9'; q++)
		;
	if (parse_num(p, (size_t)(q - p), UINT32_MAX, 1, &n) == -1)
		return -1;
	*v = (uint32_t)n;
	*pp = q;
	return 0;
}

int
imap_seqset_parse(const char *s, struct imap_seqset *set,
    const char **errstr)
{
	const char	*p = s;
	uint32_t	 a, b, n;
	size_t		 count = 0, cap = 0;
	int		 sa, sb;

	memset(set, 0, sizeof(*set));
	if (strcmp(s, "$") == 0) {
		set->dollar = 1;
		return 0;
	}
	for (;;) {
		if (++count > IMAP_MAX_RANGES) {
			*errstr = "too many ranges in sequence set";
			goto fail;
		}
		if (seq_number(&p, &a, &sa) == -1)
			goto bad;
		b = a;
		sb = sa;
		if (*p == ':') {
			p++;
			if (seq_number(&p, &b, &sb) == -1)
				goto bad;
		}
		if (sa && sb)
			set->star = 1;
		else if (sa || sb) {
			n = sa ? b : a;
			if (!set->star_n || n < set->star_lo)
				set->star_lo = n;
			if (!set->star_n || n > set->star_hi)
				set->star_hi = n;
			set->star = set->star_n = 1;
		} else {
			if (set->n == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				if (cap > IMAP_MAX_RANGES)
					cap = IMAP_MAX_RANGES;
				set->r = xreallocarray(set->r, cap,
				    sizeof(*set->r));
			}
			set->r[set->n].lo = a < b ? a : b;
			set->r[set->n].hi = a < b ? b : a;
			set->n++;
		}
		if (*p == '\0')
			break;
		if (*p++ != ',')
			goto bad;
	}
	seqset_normalize(set);
	return 0;
 bad:
	*errstr = E_SEQSET;
 fail:
	imap_seqset_free(set);
	return -1;
}

void
imap_seqset_resolve(struct imap_seqset *set, uint32_t max)
{
	struct imap_range	 r;

	if (!set->star)
		return;
	if (max > 0) {
		r.lo = r.hi = max;
		if (set->star_n) {
			if (set->star_lo < r.lo)
				r.lo = set->star_lo;
			if (set->star_hi > r.hi)
				r.hi = set->star_hi;
		}
		set->r = xreallocarray(set->r, set->n + 1, sizeof(*set->r));
		set->r[set->n++] = r;
		seqset_normalize(set);
	}
	set->star = set->star_n = 0;
	set->star_lo = set->star_hi = 0;
}

int
imap_seqset_contains(const struct imap_seqset *set, uint32_t v)
{
	size_t	 lo = 0, hi = set->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v < set->r[mid].lo)
			hi = mid;
		else if (v > set->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

uint32_t
imap_seqset_last(const struct imap_seqset *set)
{
	return set->n > 0 ? set->r[set->n - 1].hi : 0;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	memset(set, 0, sizeof(*set));
}

/* An atom argument as a sequence set; plain: no '*' and no '$'. */
static int
seqset_arg(const struct imap_arg *a, int plain, struct imap_seqset *set,
    const char **errstr)
{
	memset(set, 0, sizeof(*set));
	if (a->type != IMAP_ARG_ATOM) {
		*errstr = "sequence set expected";
		return -1;
	}
	if (imap_seqset_parse(a->s, set, errstr) == -1)
		return -1;
	if (plain && (set->star || set->dollar)) {
		imap_seqset_free(set);
		*errstr = "'*' or '$' not allowed here";
		return -1;
	}
	return 0;
}

/*
 * Flags.
 */

static const struct {
	const char	*name;
	unsigned	 bit;
} sysflags[] = {
	{ "\\ANSWERED",	IMAP_FLAG_ANSWERED },
	{ "\\FLAGGED",	IMAP_FLAG_FLAGGED },
	{ "\\DELETED",	IMAP_FLAG_DELETED },
	{ "\\SEEN",	IMAP_FLAG_SEEN },
	{ "\\DRAFT",	IMAP_FLAG_DRAFT },
	{ "\\RECENT",	IMAP_FLAG_RECENT },
};

/* flag-keyword = atom */
static int
keyword_ok(const struct imap_arg *a)
{
	size_t	 i;

	if (a->type != IMAP_ARG_ATOM || a->len > IMAP_MAX_KEYWORD_LEN)
		return 0;
	for (i = 0; i < a->len; i++)
		if (!atom_char((unsigned char)a->s[i]))
			return 0;
	return 1;
}

static int
flags_add(struct imap_flags *f, const struct imap_arg *a, const char **errstr)
{
	size_t	 i;

	if (a->type == IMAP_ARG_ATOM && a->s[0] == '\\') {
		for (i = 0; i < nitems(sysflags); i++)
			if (ascii_caseeq(a->s, sysflags[i].name))
				break;
		if (i == nitems(sysflags)) {
			*errstr = "unknown system flag";
			return -1;
		}
		if (sysflags[i].bit == IMAP_FLAG_RECENT) {
			*errstr = "\\Recent cannot be set";
			return -1;
		}
		f->sys |= sysflags[i].bit;
		return 0;
	}
	if (!keyword_ok(a)) {
		*errstr = "invalid flag";
		return -1;
	}
	for (i = 0; i < f->nkw; i++)
		if (str_caseeq(f->kw[i], a->s))
			return 0;
	if (f->nkw == IMAP_MAX_KEYWORDS) {
		*errstr = "too many keywords";
		return -1;
	}
	f->kw[f->nkw++] = a->s;
	return 0;
}

/* flag-list = "(" [flag *(SP flag)] ")" */
static int
flags_list(struct imap_flags *f, const struct imap_arg *a, const char **errstr)
{
	size_t	 i;

	for (i = 0; i < a->nlist; i++)
		if (flags_add(f, &a->list[i], errstr) == -1)
			return -1;
	return 0;
}

/*
 * Dates (RFC 9051 9: date, date-time).
 */

static int
month_index(const char *s)
{
	static const char *const months[] = {
		"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
		"JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
	};
	size_t	 i;

	for (i = 0; i < nitems(months); i++)
		if (ascii_ncaseeq(s, 3, months[i]))
			return (int)i + 1;
	return -1;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* n decimal digits, or -1. */
static int
digits_n(const char *s, size_t n)
{
	size_t	 i;
	int	 v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* date-text = date-day "-" date-month "-" date-year; date-day = 1*2DIGIT */
int
imap_date_parse(const char *s, struct imap_date *d)
{
	size_t	 len = strlen(s), dl;
	int	 day, mon, year;

	memset(d, 0, sizeof(*d));
	if (len != 10 && len != 11)
		return -1;
	dl = len - 9;
	if ((day = digits_n(s, dl)) == -1 || s[dl] != '-' ||
	    (mon = month_index(s + dl + 1)) == -1 || s[dl + 4] != '-' ||
	    (year = digits_n(s + dl + 5, 4)) == -1)
		return -1;
	if (day < 1 || day > days_in_month(year, mon))
		return -1;
	d->year = year;
	d->month = mon;
	d->day = day;
	return 0;
}

/*
 * date-time = DQUOTE date-day-fixed "-" date-month "-" date-year
 *             SP time SP zone DQUOTE, without the quotes here.
 */
int
imap_datetime_parse(const char *s, time_t *t, int *tzoff)
{
	int	 day, mon, year, hh, mm, ss, zh, zm, off;

	*t = 0;
	*tzoff = 0;
	if (strlen(s) != 26)
		return -1;
	day = s[0] == ' ' ? digits_n(s + 1, 1) : digits_n(s, 2);
	if (day == -1 || s[2] != '-' || (mon = month_index(s + 3)) == -1 ||
	    s[6] != '-' || (year = digits_n(s + 7, 4)) == -1 ||
	    s[11] != ' ' || (hh = digits_n(s + 12, 2)) == -1 ||
	    s[14] != ':' || (mm = digits_n(s + 15, 2)) == -1 ||
	    s[17] != ':' || (ss = digits_n(s + 18, 2)) == -1 ||
	    s[20] != ' ' || (s[21] != '+' && s[21] != '-') ||
	    (zh = digits_n(s + 22, 2)) == -1 ||
	    (zm = digits_n(s + 24, 2)) == -1)
		return -1;
	if (day < 1 || day > days_in_month(year, mon) || hh > 23 ||
	    mm > 59 || ss > 60 || zh > 23 || zm > 59)
		return -1;
	off = (zh * 60 + zm) * (s[21] == '-' ? -1 : 1);
	*t = (time_t)(days_from_civil(year, mon, day) * 86400 +
	    hh * 3600 + mm * 60 + ss - (int64_t)off * 60);
	*tzoff = off;
	return 0;
}

/*
 * FETCH.
 */

static const struct {
	const char	*name;
	unsigned	 attrs;
} fetch_atts[] = {
	{ "FLAGS",		IMAP_FETCH_FLAGS },
	{ "INTERNALDATE",	IMAP_FETCH_INTERNALDATE },
	{ "RFC822.SIZE",	IMAP_FETCH_RFC822_SIZE },
	{ "ENVELOPE",		IMAP_FETCH_ENVELOPE },
	{ "BODY",		IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE",	IMAP_FETCH_BODYSTRUCTURE },
	{ "UID",		IMAP_FETCH_UID },
	{ "MODSEQ",		IMAP_FETCH_MODSEQ },
	{ "RFC822",		IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER",	IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.TEXT",	IMAP_FETCH_RFC822_TEXT },
	{ "PREVIEW",		IMAP_FETCH_PREVIEW },
};

static const struct {
	const char		*name;
	enum imap_section_kind	 kind;
	int			 peek;
} fetch_sections[] = {
	{ "BODY",	 IMAP_SECTION_BODY,		0 },
	{ "BODY.PEEK",	 IMAP_SECTION_BODY,		1 },
	{ "BINARY",	 IMAP_SECTION_BINARY,		0 },
	{ "BINARY.PEEK", IMAP_SECTION_BINARY,		1 },
	{ "BINARY.SIZE", IMAP_SECTION_BINARY_SIZE,	0 },
};

#define FETCH_FAST	(IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | \
			 IMAP_FETCH_RFC822_SIZE)
#define FETCH_ALL	(FETCH_FAST | IMAP_FETCH_ENVELOPE)
#define FETCH_FULL	(FETCH_ALL | IMAP_FETCH_BODY)

static int	 binary_section_ok(const char *, size_t);
static int	 fetch_section(struct imap_fetch *, const struct imap_arg *,
		    const char **);
static int	 fetch_item(struct imap_fetch *, const struct imap_arg *,
		    size_t *, const char **);
static int	 fetch_modifiers(const struct imap_cmd *, struct imap_fetch *,
		    const struct imap_arg *, const char **);

/* section-binary = "[" [section-part] "]"; nz-number *("." nz-number) */
static int
binary_section_ok(const char *s, size_t len)
{
	size_t		 i = 0, start;
	uint64_t	 v;

	if (len == 0)
		return 1;
	for (;;) {
		for (start = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (parse_num(s + start, i - start, UINT32_MAX, 1, &v) == -1)
			return 0;
		if (i == len)
			return 1;
		if (s[i++] != '.' || i == len)
			return 0;
	}
}

/* BODY[...]<o.n> and the like: the lexer saw to the one '[' ... ']'. */
static int
fetch_section(struct imap_fetch *f, const struct imap_arg *a,
    const char **errstr)
{
	struct imap_fetch_section	 fs;
	const char			*open, *close, *rest, *dot;
	size_t				 i, seclen, restlen;

	memset(&fs, 0, sizeof(fs));
	if ((open = memchr(a->s, '[', a->len)) == NULL ||
	    (close = memchr(open, ']', a->len - (size_t)(open - a->s))) ==
	    NULL)
		goto unknown;
	for (i = 0; i < nitems(fetch_sections); i++)
		if (ascii_ncaseeq(a->s, (size_t)(open - a->s),
		    fetch_sections[i].name))
			break;
	if (i == nitems(fetch_sections))
		goto unknown;
	fs.kind = fetch_sections[i].kind;
	fs.peek = fetch_sections[i].peek;
	seclen = (size_t)(close - open - 1);
	if (fs.kind != IMAP_SECTION_BODY &&
	    !binary_section_ok(open + 1, seclen)) {
		*errstr = "invalid BINARY section";
		return -1;
	}
	rest = close + 1;
	restlen = a->len - (size_t)(rest - a->s);
	if (restlen > 0) {
		/* partial = "<" number64 "." nz-number64 ">" */
		if (fs.kind == IMAP_SECTION_BINARY_SIZE || rest[0] != '<' ||
		    rest[restlen - 1] != '>' ||
		    (dot = memchr(rest, '.', restlen)) == NULL ||
		    parse_num(rest + 1, (size_t)(dot - rest - 1), INT64_MAX, 0,
		    &fs.offset) == -1 ||
		    parse_num(dot + 1, restlen - (size_t)(dot - rest) - 2,
		    INT64_MAX, 1, &fs.count) == -1) {
			*errstr = "invalid partial fetch";
			return -1;
		}
		fs.partial = 1;
	}
	fs.section = xmalloc(seclen + 1);
	memcpy(fs.section, open + 1, seclen);
	fs.section[seclen] = '\0';
	f->sections = xreallocarray(f->sections, f->nsections + 1,
	    sizeof(*f->sections));
	f->sections[f->nsections++] = fs;
	return 0;
 unknown:
	*errstr = "unknown FETCH item";
	return -1;
}

unsigned
imap_fetch_att(const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(fetch_atts); i++)
		if (ascii_caseeq(name, fetch_atts[i].name))
			return fetch_atts[i].attrs;
	return 0;
}

static int
fetch_item(struct imap_fetch *f, const struct imap_arg *a, size_t *count,
    const char **errstr)
{
	unsigned	 attr;

	if (++*count > IMAP_MAX_FETCH_ITEMS) {
		*errstr = "too many FETCH items";
		return -1;
	}
	if (a->type != IMAP_ARG_ATOM) {
		*errstr = "FETCH item expected";
		return -1;
	}
	if ((attr = imap_fetch_att(a->s)) != 0) {
		f->attrs |= attr;
		return 0;
	}
	return fetch_section(f, a, errstr);
}

/* fetch-modifiers (RFC 7162 3.1.4.1, RFC 7162 3.2.6). */
static int
fetch_modifiers(const struct imap_cmd *cmd, struct imap_fetch *f,
    const struct imap_arg *a, const char **errstr)
{
	size_t	 i;

	if (a->type != IMAP_ARG_LIST || a->nlist == 0)
		goto bad;
	for (i = 0; i < a->nlist; i++) {
		if (arg_is(&a->list[i], "CHANGEDSINCE")) {
			if (f->changedsince_set || i + 1 == a->nlist ||
			    imap_arg_number(&a->list[i + 1],
			    &f->changedsince) == -1 || f->changedsince == 0)
				goto bad;
			f->changedsince_set = 1;
			i++;
		} else if (arg_is(&a->list[i], "VANISHED")) {
			if (f->vanished)
				goto bad;
			f->vanished = 1;
		} else
			goto bad;
	}
	if (f->vanished && (!cmd->uid || !f->changedsince_set)) {
		*errstr = "VANISHED needs UID FETCH and CHANGEDSINCE";
		return -1;
	}
	return 0;
 bad:
	*errstr = "invalid FETCH modifiers";
	return -1;
}

int
imap_fetch_parse(const struct imap_cmd *cmd, struct imap_fetch *f,
    const char **errstr)
{
	const struct imap_arg	*a;
	size_t			 i, count = 0;

	memset(f, 0, sizeof(*f));
	if (cmd->nargs < 2 || cmd->nargs > 3) {
		*errstr = "FETCH needs a sequence set and items";
		return -1;
	}
	if (seqset_arg(&cmd->args[0], 0, &f->set, errstr) == -1)
		return -1;
	a = &cmd->args[1];
	if (arg_is(a, "ALL"))
		f->attrs = FETCH_ALL;
	else if (arg_is(a, "FAST"))
		f->attrs = FETCH_FAST;
	else if (arg_is(a, "FULL"))
		f->attrs = FETCH_FULL;
	else if (a->type == IMAP_ARG_LIST) {
		if (a->nlist == 0) {
			*errstr = "empty FETCH list";
			goto fail;
		}
		for (i = 0; i < a->nlist; i++) {
			if (fetch_item(f, &a->list[i], &count, errstr) == -1)
				goto fail;
			/* RFC 8970: PREVIEW (LAZY) */
			if (arg_is(&a->list[i], "PREVIEW") &&
			    i + 1 < a->nlist &&
			    a->list[i + 1].type == IMAP_ARG_LIST) {
				i++;
				if (a->list[i].nlist != 1 ||
				    !arg_is(&a->list[i].list[0], "LAZY")) {
					*errstr = "invalid PREVIEW modifier";
					goto fail;
				}
				f->preview_lazy = 1;
			}
		}
	} else if (fetch_item(f, a, &count, errstr) == -1)
		goto fail;
	if (cmd->nargs == 3 &&
	    fetch_modifiers(cmd, f, &cmd->args[2], errstr) == -1)
		goto fail;
	if (cmd->uid)
		f->attrs |= IMAP_FETCH_UID;
	if (f->changedsince_set)
		f->attrs |= IMAP_FETCH_MODSEQ;
	return 0;
 fail:
	imap_fetch_free(f);
	return -1;
}

void
imap_fetch_free(struct imap_fetch *f)
{
	size_t	 i;

	imap_seqset_free(&f->set);
	for (i = 0; i < f->nsections; i++)
		free(f->sections[i].section);
	free(f->sections);
	memset(f, 0, sizeof(*f));
}

/*
 * STORE sequence-set [store-modifiers] SP store-att-flags
 */
int
imap_store_parse(const struct imap_cmd *cmd, struct imap_store *st,
    const char **errstr)
{
	const struct imap_arg	*a;
	const char		*s;
	size_t			 i = 1, j;

	memset(st, 0, sizeof(*st));
	if (cmd->nargs < 3) {
		*errstr = "STORE needs a sequence set, an item and flags";
		return -1;
	}
	if (seqset_arg(&cmd->args[0], 0, &st->set, errstr) == -1)
		return -1;
	a = &cmd->args[1];
	if (a->type == IMAP_ARG_LIST) {
		for (j = 0; j < a->nlist; j += 2) {
			if (!arg_is(&a->list[j], "UNCHANGEDSINCE") ||
			    st->unchangedsince_set || j + 1 == a->nlist ||
			    imap_arg_number(&a->list[j + 1],
			    &st->unchangedsince) == -1) {
				*errstr = "invalid STORE modifiers";
				goto fail;
			}
			st->unchangedsince_set = 1;
		}
		if (a->nlist == 0) {
			*errstr = "invalid STORE modifiers";
			goto fail;
		}
		i = 2;
	}
	if (cmd->nargs < i + 2 || cmd->args[i].type != IMAP_ARG_ATOM) {
		*errstr = "STORE needs an item and flags";
		goto fail;
	}
	s = cmd->args[i].s;
	st->op = IMAP_STORE_REPLACE;
	if (*s == '+' || *s == '-') {
		st->op = *s == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		s++;
	}
	if (ascii_caseeq(s, "FLAGS.SILENT"))
		st->silent = 1;
	else if (!ascii_caseeq(s, "FLAGS")) {
		*errstr = "unknown STORE item";
		goto fail;
	}
	i++;
	if (cmd->args[i].type == IMAP_ARG_LIST) {
		if (i + 1 != cmd->nargs) {
			*errstr = E_EXTRA;
			goto fail;
		}
		if (flags_list(&st->flags, &cmd->args[i], errstr) == -1)
			goto fail;
	} else
		for (; i < cmd->nargs; i++)
			if (flags_add(&st->flags, &cmd->args[i], errstr) == -1)
				goto fail;
	return 0;
 fail:
	imap_store_free(st);
	return -1;
}

void
imap_store_free(struct imap_store *st)
{
	imap_seqset_free(&st->set);
	memset(st, 0, sizeof(*st));
}

/*
 * SEARCH programs.
 */

enum sarg {
	SA_NONE,
	SA_NEW,
	SA_STRING,
	SA_HEADER,
	SA_DATE,
	SA_NUMBER,
	SA_KEYWORD,
	SA_UID,
	SA_NOT,
	SA_OR,
	SA_MODSEQ,
};

static const struct skey_def {
	const char	*name;
	enum imap_skey	 key;
	enum sarg	 arg;
	unsigned	 flag;
	int		 neg;		/* the UN- form: NOT around it */
} skeys[] = {
	{ "ALL",	IMAP_SK_ALL,	SA_NONE,	0,	0 },
	{ "ANSWERED",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_ANSWERED, 0 },
	{ "BCC",	IMAP_SK_BCC,	SA_STRING,	0,	0 },
	{ "BEFORE",	IMAP_SK_BEFORE,	SA_DATE,	0,	0 },
	{ "BODY",	IMAP_SK_BODY,	SA_STRING,	0,	0 },
	{ "CC",		IMAP_SK_CC,	SA_STRING,	0,	0 },
	{ "DELETED",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_DELETED, 0 },
	{ "DRAFT",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_DRAFT, 0 },
	{ "FLAGGED",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_FLAGGED, 0 },
	{ "FROM",	IMAP_SK_FROM,	SA_STRING,	0,	0 },
	{ "HEADER",	IMAP_SK_HEADER,	SA_HEADER,	0,	0 },
	{ "KEYWORD",	IMAP_SK_KEYWORD, SA_KEYWORD,	0,	0 },
	{ "LARGER",	IMAP_SK_LARGER,	SA_NUMBER,	0,	0 },
	{ "MODSEQ",	IMAP_SK_MODSEQ,	SA_MODSEQ,	0,	0 },
	{ "NEW",	IMAP_SK_AND,	SA_NEW,		0,	0 },
	{ "NOT",	IMAP_SK_NOT,	SA_NOT,		0,	0 },
	{ "OLD",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_RECENT, 1 },
	{ "ON",		IMAP_SK_ON,	SA_DATE,	0,	0 },
	{ "OR",		IMAP_SK_OR,	SA_OR,		0,	0 },
	{ "RECENT",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_RECENT, 0 },
	{ "SEEN",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_SEEN,	0 },
	{ "SENTBEFORE",	IMAP_SK_SENTBEFORE, SA_DATE,	0,	0 },
	{ "SENTON",	IMAP_SK_SENTON,	SA_DATE,	0,	0 },
	{ "SENTSINCE",	IMAP_SK_SENTSINCE, SA_DATE,	0,	0 },
	{ "SINCE",	IMAP_SK_SINCE,	SA_DATE,	0,	0 },
	{ "SMALLER",	IMAP_SK_SMALLER, SA_NUMBER,	0,	0 },
	{ "SUBJECT",	IMAP_SK_SUBJECT, SA_STRING,	0,	0 },
	{ "TEXT",	IMAP_SK_TEXT,	SA_STRING,	0,	0 },
	{ "TO",		IMAP_SK_TO,	SA_STRING,	0,	0 },
	{ "UID",	IMAP_SK_UID,	SA_UID,		0,	0 },
	{ "UNANSWERED",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_ANSWERED, 1 },
	{ "UNDELETED",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_DELETED, 1 },
	{ "UNDRAFT",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_DRAFT, 1 },
	{ "UNFLAGGED",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_FLAGGED, 1 },
	{ "UNKEYWORD",	IMAP_SK_KEYWORD, SA_KEYWORD,	0,	1 },
	{ "UNSEEN",	IMAP_SK_FLAG,	SA_NONE,	IMAP_FLAG_SEEN,	1 },
};

struct sctx {
	const struct imap_arg	*args;
	size_t			 n;
	size_t			 i;
	int			 ascii;
	const char		*err;
};

static struct imap_search *kids_new(struct imap_search *, enum imap_skey,
		    size_t);
static const struct imap_arg *next_arg(struct sctx *);
static int	 search_string(struct sctx *, const char **);
static int	 search_date(struct sctx *, struct imap_date *);
static int	 search_modseq(struct sctx *, struct imap_search *);
static int	 search_list(struct sctx *, const struct imap_arg *, size_t,
		    struct imap_search *, int);
static int	 search_key(struct sctx *, struct imap_search *, int);
static void	 search_node_free(struct imap_search *);
static int	 search_charset(const struct imap_arg *, int *, const char **);
static int	 search_program(const struct imap_cmd *, size_t, int,
		    struct imap_search_prog *, const char **);

static struct imap_search *
kids_new(struct imap_search *node, enum imap_skey key, size_t n)
{
	node->key = key;
	node->kids = xcalloc(n, sizeof(*node->kids));
	node->nkids = n;
	return node->kids;
}

static const struct imap_arg *
next_arg(struct sctx *c)
{
	if (c->i >= c->n) {
		c->err = "missing search argument";
		return NULL;
	}
	return &c->args[c->i++];
}

/* An astring in the program's charset. */
static int
search_string(struct sctx *c, const char **out)
{
	const struct imap_arg	*a;
	const char		*s, *p;

	if ((a = next_arg(c)) == NULL)
		return -1;
	if ((s = imap_arg_astring(a)) == NULL) {
		c->err = "string expected";
		return -1;
	}
	if (c->ascii) {
		for (p = s; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80) {
				c->err = "8-bit string with CHARSET US-ASCII";
				return -1;
			}
	} else if (!utf8_valid(s)) {
		c->err = "invalid UTF-8 in search string";
		return -1;
	}
	*out = s;
	return 0;
}

/* date = date-text / DQUOTE date-text DQUOTE */
static int
search_date(struct sctx *c, struct imap_date *d)
{
	const struct imap_arg	*a;

	if ((a = next_arg(c)) == NULL)
		return -1;
	if ((a->type != IMAP_ARG_ATOM && (a->type != IMAP_ARG_STRING ||
	    a->literal)) || imap_date_parse(a->s, d) == -1) {
		c->err = "invalid date";
		return -1;
	}
	return 0;
}

/*
 * "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
 * (RFC 7162 3.1.5); entry-name is a quoted "/flags/<flag>".
 */
static int
search_modseq(struct sctx *c, struct imap_search *node)
{
	const struct imap_arg	*a;

	if ((a = next_arg(c)) == NULL)
		return -1;
	if (a->type == IMAP_ARG_STRING && !a->literal) {
		if (strncmp(a->s, "/flags/", 7) != 0 || a->s[7] == '\0' ||
		    str_has_ctl(a->s)) {
			c->err = "invalid MODSEQ entry name";
			return -1;
		}
		node->entry = a->s;
		if ((a = next_arg(c)) == NULL)
			return -1;
		if (arg_is(a, "PRIV"))
			node->entry_type = IMAP_ENTRY_PRIV;
		else if (arg_is(a, "SHARED"))
			node->entry_type = IMAP_ENTRY_SHARED;
		else if (arg_is(a, "ALL"))
			node->entry_type = IMAP_ENTRY_ALL;
		else {
			c->err = "invalid MODSEQ entry type";
			return -1;
		}
		if ((a = next_arg(c)) == NULL)
			return -1;
	}
	if (imap_arg_number(a, &node->num) == -1) {
		c->err = "invalid MODSEQ value";
		return -1;
	}
	return 0;
}

/* An AND of the keys in args[0 .. n). */
static int
search_list(struct sctx *c, const struct imap_arg *args, size_t n,
    struct imap_search *node, int depth)
{
	struct sctx	 sub = *c;
	size_t		 cap = 0;

	node->key = IMAP_SK_AND;
	if (n == 0) {
		c->err = "empty search key list";
		return -1;
	}
	sub.args = args;
	sub.n = n;
	sub.i = 0;
	while (sub.i < sub.n) {
		if (node->nkids == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			node->kids = xreallocarray(node->kids, cap,
			    sizeof(*node->kids));
		}
		memset(&node->kids[node->nkids], 0, sizeof(*node->kids));
		node->nkids++;
		if (search_key(&sub, &node->kids[node->nkids - 1],
		    depth + 1) == -1) {
			c->err = sub.err;
			return -1;
		}
	}
	return 0;
}

static int
search_key(struct sctx *c, struct imap_search *node, int depth)
{
	const struct skey_def	*def;
	const struct imap_arg	*a;
	struct imap_search	*k;
	size_t			 i;

	if (depth > IMAP_MAX_DEPTH) {
		c->err = "search program nested too deeply";
		return -1;
	}
	if ((a = next_arg(c)) == NULL)
		return -1;
	if (a->type == IMAP_ARG_LIST)
		return search_list(c, a->list, a->nlist, node, depth);
	if (a->type != IMAP_ARG_ATOM) {
		c->err = "search key expected";
		return -1;
	}
	if ((a->s[0] >= '0' && a->s[0] <= '9') || a->s[0] == '*' ||
	    a->s[0] == '$') {
		node->key = IMAP_SK_SEQSET;
		return imap_seqset_parse(a->s, &node->set, &c->err);
	}
	for (i = 0; i < nitems(skeys); i++)
		if (ascii_caseeq(a->s, skeys[i].name))
			break;
	if (i == nitems(skeys)) {
		c->err = "unknown search key";
		return -1;
	}
	def = &skeys[i];
	if (def->neg)
		node = kids_new(node, IMAP_SK_NOT, 1);
	node->key = def->key;
	node->flag = def->flag;
	switch (def->arg) {
	case SA_NONE:
		return 0;
	case SA_NEW:
		k = kids_new(node, IMAP_SK_AND, 2);
		k[0].key = IMAP_SK_FLAG;
		k[0].flag = IMAP_FLAG_RECENT;
		k = kids_new(&k[1], IMAP_SK_NOT, 1);
		k->key = IMAP_SK_FLAG;
		k->flag = IMAP_FLAG_SEEN;
		return 0;
	case SA_STRING:
		return search_string(c, &node->str);
	case SA_HEADER:
		if (search_string(c, &node->field) == -1)
			return -1;
		/* RFC 5322 field-name: printable ASCII but ':' */
		for (i = 0; node->field[i] != '\0'; i++)
			if (node->field[i] <= 0x20 || node->field[i] >= 0x7f ||
			    node->field[i] == ':')
				break;
		if (i == 0 || node->field[i] != '\0') {
			c->err = "invalid header field name";
			return -1;
		}
		return search_string(c, &node->str);
	case SA_DATE:
		return search_date(c, &node->date);
	case SA_NUMBER:
		if ((a = next_arg(c)) == NULL)
			return -1;
		if (imap_arg_number(a, &node->num) == -1) {
			c->err = "number expected";
			return -1;
		}
		return 0;
	case SA_KEYWORD:
		if ((a = next_arg(c)) == NULL)
			return -1;
		if (!keyword_ok(a)) {
			c->err = "invalid keyword";
			return -1;
		}
		node->str = a->s;
		return 0;
	case SA_UID:
		if ((a = next_arg(c)) == NULL)
			return -1;
		return seqset_arg(a, 0, &node->set, &c->err);
	case SA_NOT:
		k = kids_new(node, IMAP_SK_NOT, 1);
		return search_key(c, k, depth + 1);
	case SA_OR:
		k = kids_new(node, IMAP_SK_OR, 2);
		if (search_key(c, &k[0], depth + 1) == -1)
			return -1;
		return search_key(c, &k[1], depth + 1);
	case SA_MODSEQ:
		return search_modseq(c, node);
	}
	c->err = "unknown search key";
	return -1;
}

/* Depth is bounded by search_key(). */
static void
search_node_free(struct imap_search *s)
{
	size_t	 i;

	imap_seqset_free(&s->set);
	for (i = 0; i < s->nkids; i++)
		search_node_free(&s->kids[i]);
	free(s->kids);
	memset(s, 0, sizeof(*s));
}

/* charset = atom / quoted; RFC 9051 requires UTF-8 and US-ASCII. */
static int
search_charset(const struct imap_arg *a, int *ascii, const char **errstr)
{
	if ((a->type != IMAP_ARG_ATOM && (a->type != IMAP_ARG_STRING ||
	    a->literal))) {
		*errstr = "charset expected";
		return -1;
	}
	if (str_caseeq(a->s, "UTF-8"))
		*ascii = 0;
	else if (str_caseeq(a->s, "US-ASCII"))
		*ascii = 1;
	else {
		*errstr = "unsupported charset";
		return IMAP_BADCHARSET;
	}
	return 0;
}

/*
 * The search keys from args[i]. sort: SORT and THREAD, where the charset
 * comes first, without "CHARSET".
 */
static int
search_program(const struct imap_cmd *cmd, size_t i, int sort,
    struct imap_search_prog *prog, const char **errstr)
{
	struct sctx	 c;
	int		 rc;

	if (sort) {
		if (i >= cmd->nargs) {
			*errstr = "charset expected";
			return -1;
		}
		if ((rc = search_charset(&cmd->args[i++], &prog->ascii,
		    errstr)) != 0)
			return rc;
	} else if (i + 1 < cmd->nargs && arg_is(&cmd->args[i], "CHARSET")) {
		if ((rc = search_charset(&cmd->args[i + 1], &prog->ascii,
		    errstr)) != 0)
			return rc;
		i += 2;
	}
	if (i >= cmd->nargs) {
		*errstr = "missing search key";
		return -1;
	}
	memset(&c, 0, sizeof(c));
	c.ascii = prog->ascii;
	if (search_list(&c, cmd->args + i, cmd->nargs - i, &prog->root,
	    0) == -1) {
		*errstr = c.err;
		return -1;
	}
	return 0;
}

int
imap_search_parse(const struct imap_cmd *cmd, struct imap_search_prog *prog,
    const char **errstr)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} rets[] = {
		{ "MIN",	IMAP_SEARCH_RET_MIN },
		{ "MAX",	IMAP_SEARCH_RET_MAX },
		{ "ALL",	IMAP_SEARCH_RET_ALL },
		{ "COUNT",	IMAP_SEARCH_RET_COUNT },
		{ "SAVE",	IMAP_SEARCH_RET_SAVE },
	};
	const struct imap_arg	*a;
	size_t			 i = 0, j, k;
	int			 rc;

	memset(prog, 0, sizeof(*prog));
	if (cmd->nargs >= 2 && arg_is(&cmd->args[0], "RETURN") &&
	    cmd->args[1].type == IMAP_ARG_LIST) {
		a = &cmd->args[1];
		prog->esearch = 1;
		for (j = 0; j < a->nlist; j++) {
			for (k = 0; k < nitems(rets); k++)
				if (arg_is(&a->list[j], rets[k].name))
					break;
			if (k == nitems(rets)) {
				*errstr = "unknown RETURN option";
				return -1;
			}
			prog->ret |= rets[k].bit;
		}
		if (prog->ret == 0)
			prog->ret = IMAP_SEARCH_RET_ALL;
		i = 2;
	}
	if ((rc = search_program(cmd, i, 0, prog, errstr)) != 0)
		imap_search_free(prog);
	return rc;
}

void
imap_search_free(struct imap_search_prog *prog)
{
	search_node_free(&prog->root);
	memset(prog, 0, sizeof(*prog));
}

/*
 * SORT (sort-criteria) charset search-key...
 */
int
imap_sort_parse(const struct imap_cmd *cmd, struct imap_sort *so,
    const char **errstr)
{
	static const struct {
		const char		*name;
		enum imap_sort_key	 key;
	} keys[] = {
		{ "ARRIVAL",	 IMAP_SORT_ARRIVAL },
		{ "CC",		 IMAP_SORT_CC },
		{ "DATE",	 IMAP_SORT_DATE },
		{ "FROM",	 IMAP_SORT_FROM },
		{ "SIZE",	 IMAP_SORT_SIZE },
		{ "SUBJECT",	 IMAP_SORT_SUBJECT },
		{ "TO",		 IMAP_SORT_TO },
		{ "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
		{ "DISPLAYTO",	 IMAP_SORT_DISPLAYTO },
	};
	const struct imap_arg	*a;
	size_t			 i, k;
	int			 reverse = 0, rc;

	memset(so, 0, sizeof(*so));
	if (cmd->nargs < 3 || cmd->args[0].type != IMAP_ARG_LIST ||
	    cmd->args[0].nlist == 0) {
		*errstr = "SORT needs criteria, a charset and search keys";
		return -1;
	}
	a = &cmd->args[0];
	for (i = 0; i < a->nlist; i++) {
		if (arg_is(&a->list[i], "REVERSE") && !reverse) {
			reverse = 1;
			continue;
		}
		for (k = 0; k < nitems(keys); k++)
			if (arg_is(&a->list[i], keys[k].name))
				break;
		if (k == nitems(keys) || so->nkeys == IMAP_MAX_SORT_KEYS) {
			*errstr = k == nitems(keys) ? "invalid sort criterion" :
			    "too many sort criteria";
			return -1;
		}
		so->keys[so->nkeys].key = keys[k].key;
		so->keys[so->nkeys].reverse = reverse;
		so->nkeys++;
		reverse = 0;
	}
	if (reverse) {
		*errstr = "REVERSE needs a sort key";
		return -1;
	}
	if ((rc = search_program(cmd, 1, 1, &so->prog, errstr)) != 0)
		imap_sort_free(so);
	return rc;
}

void
imap_sort_free(struct imap_sort *so)
{
	imap_search_free(&so->prog);
	memset(so, 0, sizeof(*so));
}

/*
 * THREAD algorithm charset search-key...
 */
int
imap_thread_parse(const struct imap_cmd *cmd, struct imap_thread *th,
    const char **errstr)
{
	int	 rc;

	memset(th, 0, sizeof(*th));
	if (cmd->nargs < 3) {
		*errstr = "THREAD needs an algorithm, a charset and search keys";
		return -1;
	}
	if (arg_is(&cmd->args[0], "ORDEREDSUBJECT"))
		th->alg = IMAP_THREAD_ORDEREDSUBJECT;
	else if (arg_is(&cmd->args[0], "REFERENCES"))
		th->alg = IMAP_THREAD_REFERENCES;
	else {
		*errstr = "unknown thread algorithm";
		return -1;
	}
	if ((rc = search_program(cmd, 1, 1, &th->prog, errstr)) != 0)
		imap_thread_free(th);
	return rc;
}

void
imap_thread_free(struct imap_thread *th)
{
	imap_search_free(&th->prog);
	memset(th, 0, sizeof(*th));
}

/*
 * STATUS mailbox (items)
 */

static int	 status_items(const struct imap_arg *, unsigned *,
		    const char **);

static int
status_items(const struct imap_arg *a, unsigned *items, const char **errstr)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} atts[] = {
		{ "MESSAGES",		IMAP_STATUS_MESSAGES },
		{ "UIDNEXT",		IMAP_STATUS_UIDNEXT },
		{ "UIDVALIDITY",	IMAP_STATUS_UIDVALIDITY },
		{ "UNSEEN",		IMAP_STATUS_UNSEEN },
		{ "DELETED",		IMAP_STATUS_DELETED },
		{ "SIZE",		IMAP_STATUS_SIZE },
		{ "RECENT",		IMAP_STATUS_RECENT },
		{ "HIGHESTMODSEQ",	IMAP_STATUS_HIGHESTMODSEQ },
		{ "APPENDLIMIT",	IMAP_STATUS_APPENDLIMIT },
	};
	size_t	 i, k;

	*items = 0;
	if (a->type != IMAP_ARG_LIST || a->nlist == 0) {
		*errstr = "status items expected";
		return -1;
	}
	for (i = 0; i < a->nlist; i++) {
		for (k = 0; k < nitems(atts); k++)
			if (arg_is(&a->list[i], atts[k].name))
				break;
		if (k == nitems(atts)) {
			*errstr = "unknown status item";
			return -1;
		}
		*items |= atts[k].bit;
	}
	return 0;
}

int
imap_status_parse(const struct imap_cmd *cmd, int utf8,
    struct imap_status *st, const char **errstr)
{
	memset(st, 0, sizeof(*st));
	if (cmd->nargs != 2) {
		*errstr = "STATUS needs a mailbox and items";
		return -1;
	}
	if (imap_mailbox(&cmd->args[0], utf8, st->mailbox, errstr) == -1 ||
	    status_items(&cmd->args[1], &st->items, errstr) == -1) {
		memset(st, 0, sizeof(*st));
		return -1;
	}
	return 0;
}

/*
 * LIST [(selection)] reference patterns [RETURN (options)], and LSUB.
 */

static int	 list_name(const struct imap_arg *, int, int, char *,
		    const char **);

/* A reference (pattern 0) or a pattern, into UTF-8 (buf: MAX + 1). */
static int
list_name(const struct imap_arg *a, int utf8, int pattern, char *buf,
    const char **errstr)
{
	const char	*s = NULL;
	size_t		 i, len;

	buf[0] = '\0';
	if (pattern && (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL)) {
		for (i = 0; i < a->len; i++)
			if (!list_char((unsigned char)a->s[i]))
				break;
		if (i == a->len)
			s = a->s;
	} else if (!pattern)
		s = imap_arg_astring(a);
	else
		s = imap_arg_string(a);
	if (s == NULL || (len = strlen(s)) != a->len) {
		*errstr = pattern ? "mailbox pattern expected" :
		    "mailbox reference expected";
		return -1;
	}
	if (!utf8)
		return imap_mutf7_to_utf8(s, buf, IMAP_MAILBOX_MAX + 1,
		    errstr) == -1 ? -1 : 0;
	if (!utf8_valid(s) || str_has_ctl(s)) {
		*errstr = "invalid mailbox pattern";
		return -1;
	}
	if (len > IMAP_MAILBOX_MAX) {
		*errstr = E_NAMELONG;
		return -1;
	}
	memcpy(buf, s, len + 1);
	return 0;
}

int
imap_list_parse(const struct imap_cmd *cmd, int utf8, struct imap_list *l,
    const char **errstr)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} sel[] = {
		{ "SUBSCRIBED",		IMAP_LIST_SEL_SUBSCRIBED },
		{ "REMOTE",		IMAP_LIST_SEL_REMOTE },
		{ "RECURSIVEMATCH",	IMAP_LIST_SEL_RECURSIVEMATCH },
		{ "SPECIAL-USE",	IMAP_LIST_SEL_SPECIAL_USE },
	}, ret[] = {
		{ "SUBSCRIBED",		IMAP_LIST_RET_SUBSCRIBED },
		{ "CHILDREN",		IMAP_LIST_RET_CHILDREN },
		{ "SPECIAL-USE",	IMAP_LIST_RET_SPECIAL_USE },
		{ "STATUS",		IMAP_LIST_RET_STATUS },
	};
	const struct imap_arg	*a, *pats;
	char			 buf[IMAP_MAILBOX_MAX + 1];
	size_t			 i = 0, j, k, npats;
	int			 lsub = cmd->cmd == IMAP_CMD_LSUB;

	memset(l, 0, sizeof(*l));
	if (!lsub && cmd->nargs > 0 && cmd->args[0].type == IMAP_ARG_LIST) {
		a = &cmd->args[i++];
		l->extended = 1;
		for (j = 0; j < a->nlist; j++) {
			for (k = 0; k < nitems(sel); k++)
				if (arg_is(&a->list[j], sel[k].name))
					break;
			if (k == nitems(sel)) {
				*errstr = "unknown LIST selection option";
				goto fail;
			}
			l->select |= sel[k].bit;
		}
		/* RFC 5258 3.1: never alone. */
		if (l->select == IMAP_LIST_SEL_RECURSIVEMATCH) {
			*errstr = "RECURSIVEMATCH needs another option";
			goto fail;
		}
	}
	if (cmd->nargs < i + 2) {
		*errstr = "LIST needs a reference and a pattern";
		goto fail;
	}
	if (list_name(&cmd->args[i++], utf8, 0, l->ref, errstr) == -1)
		goto fail;
	a = &cmd->args[i++];
	pats = a;
	npats = 1;
	if (!lsub && a->type == IMAP_ARG_LIST) {
		l->extended = 1;
		pats = a->list;
		npats = a->nlist;
		if (npats == 0 || npats > IMAP_MAX_PATTERNS) {
			*errstr = "invalid pattern list";
			goto fail;
		}
	}
	for (j = 0; j < npats; j++) {
		if (list_name(&pats[j], utf8, 1, buf, errstr) == -1)
			goto fail;
		l->patterns[l->npatterns++] = xstrdup(buf);
	}
	if (i < cmd->nargs) {
		if (lsub || i + 2 != cmd->nargs ||
		    !arg_is(&cmd->args[i], "RETURN") ||
		    cmd->args[i + 1].type != IMAP_ARG_LIST) {
			*errstr = E_EXTRA;
			goto fail;
		}
		l->extended = 1;
		a = &cmd->args[i + 1];
		for (j = 0; j < a->nlist; j++) {
			for (k = 0; k < nitems(ret); k++)
				if (arg_is(&a->list[j], ret[k].name))
					break;
			if (k == nitems(ret)) {
				*errstr = "unknown LIST return option";
				goto fail;
			}
			l->ret |= ret[k].bit;
			if (ret[k].bit == IMAP_LIST_RET_STATUS) {
				if (j + 1 == a->nlist || status_items(
				    &a->list[j + 1], &l->status, errstr) == -1)
					goto fail;
				j++;
			}
		}
	}
	return 0;
 fail:
	imap_list_free(l);
	return -1;
}

void
imap_list_free(struct imap_list *l)
{
	size_t	 i;

	for (i = 0; i < l->npatterns; i++)
		free(l->patterns[i]);
	memset(l, 0, sizeof(*l));
}

/*
 * SELECT / EXAMINE mailbox [(CONDSTORE / QRESYNC (...))]
 */

static int	 qresync_params(const struct imap_arg *, struct imap_select *,
		    const char **);

/*
 * "(" uidvalidity SP mod-sequence-value [SP known-uids]
 *     [SP seq-match-data] ")"
 */
static int
qresync_params(const struct imap_arg *a, struct imap_select *sel,
    const char **errstr)
{
	const struct imap_arg	*q = a->list, *m;
	uint64_t		 v;
	size_t			 k = 2;

	if (a->type != IMAP_ARG_LIST || a->nlist < 2 || a->nlist > 4 ||
	    q[0].type != IMAP_ARG_ATOM ||
	    parse_num(q[0].s, q[0].len, UINT32_MAX, 1, &v) == -1 ||
	    q[1].type != IMAP_ARG_ATOM ||
	    parse_num(q[1].s, q[1].len, MODSEQ_MAX, 1, &sel->modseq) == -1) {
		*errstr = "invalid QRESYNC parameters";
		return -1;
	}
	sel->uidvalidity = (uint32_t)v;
	if (k < a->nlist && q[k].type == IMAP_ARG_ATOM) {
		if (seqset_arg(&q[k], 1, &sel->known_uids, errstr) == -1)
			return -1;
		sel->known_uids_set = 1;
		k++;
	}
	if (k < a->nlist && q[k].type == IMAP_ARG_LIST) {
		m = &q[k];
		if (m->nlist != 2 ||
		    seqset_arg(&m->list[0], 1, &sel->known_seqs,
		    errstr) == -1 ||
		    seqset_arg(&m->list[1], 1, &sel->known_seq_uids,
		    errstr) == -1) {
			if (m->nlist != 2)
				*errstr = "invalid QRESYNC sequence match data";
			return -1;
		}
		sel->seq_match_set = 1;
		k++;
	}
	if (k != a->nlist) {
		*errstr = "invalid QRESYNC parameters";
		return -1;
	}
	return 0;
}

int
imap_select_parse(const struct imap_cmd *cmd, int utf8,
    struct imap_select *sel, const char **errstr)
{
	const struct imap_arg	*a;
	size_t			 j;

	memset(sel, 0, sizeof(*sel));
	if (cmd->nargs < 1 || cmd->nargs > 2) {
		*errstr = "SELECT needs a mailbox";
		return -1;
	}
	if (imap_mailbox(&cmd->args[0], utf8, sel->mailbox, errstr) == -1)
		goto fail;
	if (cmd->nargs == 1)
		return 0;
	a = &cmd->args[1];
	if (a->type != IMAP_ARG_LIST || a->nlist == 0) {
		*errstr = "invalid SELECT parameters";
		goto fail;
	}
	for (j = 0; j < a->nlist; j++) {
		if (arg_is(&a->list[j], "CONDSTORE") && !sel->condstore)
			sel->condstore = 1;
		else if (arg_is(&a->list[j], "QRESYNC") && !sel->qresync &&
		    j + 1 < a->nlist) {
			sel->qresync = 1;
			if (qresync_params(&a->list[++j], sel, errstr) == -1)
				goto fail;
		} else {
			*errstr = "invalid SELECT parameters";
			goto fail;
		}
	}
	return 0;
 fail:
	imap_select_free(sel);
	return -1;
}

void
imap_select_free(struct imap_select *sel)
{
	imap_seqset_free(&sel->known_uids);
	imap_seqset_free(&sel->known_seqs);
	imap_seqset_free(&sel->known_seq_uids);
	memset(sel, 0, sizeof(*sel));
}

/*
 * APPEND mailbox 1*([flag-list] [date-time] literal)
 */
int
imap_append_parse(const struct imap_cmd *cmd, int utf8,
    struct imap_append *ap, const char **errstr)
{
	const struct imap_arg	*a, *args = cmd->args;
	struct imap_append_msg	*m;
	size_t			 i = 1, cap = 0;

	memset(ap, 0, sizeof(*ap));
	if (cmd->nargs < 2) {
		*errstr = "APPEND needs a mailbox and a message";
		return -1;
	}
	if (imap_mailbox(&args[0], utf8, ap->mailbox, errstr) == -1)
		goto fail;
	while (i < cmd->nargs) {
		if (ap->nmsgs == cap) {
			cap = cap == 0 ? 1 : cap * 2;
			ap->msgs = xreallocarray(ap->msgs, cap,
			    sizeof(*ap->msgs));
		}
		m = &ap->msgs[ap->nmsgs++];
		memset(m, 0, sizeof(*m));
		if (args[i].type == IMAP_ARG_LIST) {
			if (flags_list(&m->flags, &args[i], errstr) == -1)
				goto fail;
			i++;
		}
		if (i < cmd->nargs && args[i].type == IMAP_ARG_STRING &&
		    !args[i].literal) {
			if (imap_datetime_parse(args[i].s, &m->date,
			    &m->tzoff) == -1) {
				*errstr = "invalid date-time";
				goto fail;
			}
			m->has_date = 1;
			i++;
		}
		if (i == cmd->nargs) {
			*errstr = "missing message literal";
			goto fail;
		}
		a = &args[i];
		if ((a->type == IMAP_ARG_STRING && a->literal) ||
		    a->type == IMAP_ARG_LITERAL8) {
			m->data = a;
			i++;
		} else if (arg_is(a, "UTF8") && i + 1 < cmd->nargs &&
		    args[i + 1].type == IMAP_ARG_LIST &&
		    args[i + 1].nlist == 1 &&
		    args[i + 1].list[0].type == IMAP_ARG_LITERAL8) {
			/* RFC 6855 4 */
			m->utf8 = 1;
			m->data = &args[i + 1].list[0];
			i += 2;
		} else {
			*errstr = "message literal expected";
			goto fail;
		}
	}
	return 0;
 fail:
	imap_append_free(ap);
	return -1;
}

void
imap_append_free(struct imap_append *ap)
{
	free(ap->msgs);
	memset(ap, 0, sizeof(*ap));
}

/*
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT.
 */

static int	 create_params(const struct imap_arg *, unsigned *,
		    const char **);

/* RFC 6154 3: "(" "USE" SP "(" [use-attr *(SP use-attr)] ")" ")" */
static int
create_params(const struct imap_arg *a, unsigned *use, const char **errstr)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} attrs[] = {
		{ "\\ALL",	IMAP_USE_ALL },
		{ "\\ARCHIVE",	IMAP_USE_ARCHIVE },
		{ "\\DRAFTS",	IMAP_USE_DRAFTS },
		{ "\\FLAGGED",	IMAP_USE_FLAGGED },
		{ "\\JUNK",	IMAP_USE_JUNK },
		{ "\\SENT",	IMAP_USE_SENT },
		{ "\\TRASH",	IMAP_USE_TRASH },
	};
	const struct imap_arg	*u;
	size_t			 i, k;

	if (a->type != IMAP_ARG_LIST || a->nlist != 2 ||
	    !arg_is(&a->list[0], "USE") || a->list[1].type != IMAP_ARG_LIST) {
		*errstr = "invalid CREATE parameters";
		return -1;
	}
	u = &a->list[1];
	for (i = 0; i < u->nlist; i++) {
		for (k = 0; k < nitems(attrs); k++)
			if (arg_is(&u->list[i], attrs[k].name))
				break;
		if (k == nitems(attrs)) {
			*errstr = "unknown special-use attribute";
			return -1;
		}
		*use |= attrs[k].bit;
	}
	return 0;
}

int
imap_mailboxes_parse(const struct imap_cmd *cmd, int utf8,
    struct imap_mailboxes *mb, const char **errstr)
{
	size_t	 want = 1, i;

	memset(mb, 0, sizeof(*mb));
	switch (cmd->cmd) {
	case IMAP_CMD_RENAME:
		want = 2;
		break;
	case IMAP_CMD_CREATE:
	case IMAP_CMD_DELETE:
	case IMAP_CMD_SUBSCRIBE:
	case IMAP_CMD_UNSUBSCRIBE:
	case IMAP_CMD_GETQUOTAROOT:
		break;
	default:
		*errstr = "not a mailbox command";
		return -1;
	}
	if (cmd->nargs < want || (cmd->nargs > want &&
	    (cmd->cmd != IMAP_CMD_CREATE || cmd->nargs > want + 1))) {
		*errstr = want == 2 ? "two mailbox names expected" :
		    "one mailbox name expected";
		return -1;
	}
	for (i = 0; i < want; i++)
		if (imap_mailbox(&cmd->args[i], utf8, mb->name[i],
		    errstr) == -1)
			goto fail;
	mb->n = want;
	if (cmd->nargs > want &&
	    create_params(&cmd->args[want], &mb->use, errstr) == -1)
		goto fail;
	return 0;
 fail:
	memset(mb, 0, sizeof(*mb));
	return -1;
}

/*
 * COPY, MOVE, EXPUNGE.
 */
int
imap_copy_parse(const struct imap_cmd *cmd, int utf8, struct imap_copy *cp,
    const char **errstr)
{
	memset(cp, 0, sizeof(*cp));
	if (cmd->nargs != 2) {
		*errstr = "a sequence set and a mailbox expected";
		return -1;
	}
	if (seqset_arg(&cmd->args[0], 0, &cp->set, errstr) == -1)
		return -1;
	if (imap_mailbox(&cmd->args[1], utf8, cp->mailbox, errstr) == -1) {
		imap_copy_free(cp);
		return -1;
	}
	return 0;
}

void
imap_copy_free(struct imap_copy *cp)
{
	imap_seqset_free(&cp->set);
	memset(cp, 0, sizeof(*cp));
}

int
imap_expunge_parse(const struct imap_cmd *cmd, struct imap_seqset *set,
    const char **errstr)
{
	memset(set, 0, sizeof(*set));
	if (cmd->nargs != (cmd->uid ? 1U : 0U)) {
		*errstr = cmd->uid ? "UID EXPUNGE needs a sequence set" :
		    E_EXTRA;
		return -1;
	}
	if (cmd->uid)
		return seqset_arg(&cmd->args[0], 0, set, errstr);
	return 0;
}

/*
 * LOGIN, AUTHENTICATE, ENABLE, ID, quotas, COMPRESS.
 */
int
imap_login_parse(const struct imap_cmd *cmd, const char **user,
    const char **pass, const char **errstr)
{
	*user = *pass = NULL;
	if (cmd->nargs != 2 || imap_arg_astring(&cmd->args[0]) == NULL ||
	    imap_arg_astring(&cmd->args[1]) == NULL) {
		*errstr = "LOGIN needs a user name and a password";
		return -1;
	}
	*user = cmd->args[0].s;
	*pass = cmd->args[1].s;
	return 0;
}

int
imap_authenticate_parse(const struct imap_cmd *cmd, const char **mech,
    const char **ir, const char **errstr)
{
	const char	*s;
	size_t		 i;

	*mech = *ir = NULL;
	if (cmd->nargs < 1 || cmd->nargs > 2 ||
	    cmd->args[0].type != IMAP_ARG_ATOM ||
	    cmd->args[0].len > 20) {
		*errstr = "AUTHENTICATE needs a mechanism";
		return -1;
	}
	/* RFC 4422 3.1: sasl-mech = 1*20mech-char */
	for (s = cmd->args[0].s; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_')) {
			*errstr = "invalid SASL mechanism name";
			return -1;
		}
	if (cmd->nargs == 2) {
		/* RFC 4959: base64 or "=" */
		s = cmd->args[1].s;
		if (cmd->args[1].type != IMAP_ARG_ATOM)
			goto bad;
		for (i = 0; s[i] != '\0'; i++)
			if (strchr(B64_CHARS "=", s[i]) == NULL)
				goto bad;
		*ir = s;
	}
	*mech = cmd->args[0].s;
	return 0;
 bad:
	*errstr = "invalid initial response";
	return -1;
}

int
imap_enable_parse(const struct imap_cmd *cmd, struct imap_enable *en,
    const char **errstr)
{
	size_t	 i, j;

	memset(en, 0, sizeof(*en));
	if (cmd->nargs == 0 || cmd->nargs > IMAP_MAX_ENABLE) {
		*errstr = "ENABLE needs capability names";
		return -1;
	}
	for (i = 0; i < cmd->nargs; i++) {
		for (j = 0; j < cmd->args[i].len; j++)
			if (cmd->args[i].type != IMAP_ARG_ATOM ||
			    !atom_char((unsigned char)cmd->args[i].s[j]))
				break;
		if (cmd->args[i].type != IMAP_ARG_ATOM ||
		    j != cmd->args[i].len) {
			memset(en, 0, sizeof(*en));
			*errstr = "invalid capability name";
			return -1;
		}
		en->caps[en->ncaps++] = cmd->args[i].s;
	}
	return 0;
}

int
imap_id_parse(const struct imap_cmd *cmd, struct imap_id *id,
    const char **errstr)
{
	const struct imap_arg	*a;
	const char		*f, *v;
	size_t			 i, j;

	memset(id, 0, sizeof(*id));
	if (cmd->nargs != 1)
		goto bad;
	a = &cmd->args[0];
	if (a->type == IMAP_ARG_NIL)
		return 0;
	if (a->type != IMAP_ARG_LIST || a->nlist % 2 != 0 ||
	    a->nlist > 2 * IMAP_ID_MAX_PAIRS)
		goto bad;
	for (i = 0; i < a->nlist; i += 2) {
		if ((f = imap_arg_astring(&a->list[i])) == NULL ||
		    a->list[i].type == IMAP_ARG_NIL ||
		    a->list[i].len > IMAP_ID_MAX_FIELD ||
		    !utf8_valid(f) || str_has_ctl(f))
			goto bad;
		v = NULL;
		if (a->list[i + 1].type != IMAP_ARG_NIL &&
		    ((v = imap_arg_astring(&a->list[i + 1])) == NULL ||
		    a->list[i + 1].len > IMAP_ID_MAX_VALUE ||
		    strlen(v) != a->list[i + 1].len ||
		    !utf8_valid(v) || str_has_ctl(v)))
			goto bad;
		for (j = 0; j < id->n; j++)
			if (str_caseeq(id->field[j], f))
				goto bad;
		id->field[id->n] = f;
		id->value[id->n] = v;
		id->n++;
	}
	return 0;
 bad:
	memset(id, 0, sizeof(*id));
	*errstr = "invalid ID parameters";
	return -1;
}

int
imap_quota_parse(const struct imap_cmd *cmd, struct imap_quota *q,
    const char **errstr)
{
	const struct imap_arg	*a;
	size_t			 i;

	memset(q, 0, sizeof(*q));
	if (cmd->nargs < 1 || (q->root = imap_arg_astring(&cmd->args[0])) ==
	    NULL || strlen(q->root) != cmd->args[0].len)
		goto bad;
	if (cmd->cmd != IMAP_CMD_SETQUOTA) {
		if (cmd->nargs != 1)
			goto bad;
		return 0;
	}
	if (cmd->nargs != 2)
		goto bad;
	a = &cmd->args[1];
	if (a->type != IMAP_ARG_LIST || a->nlist % 2 != 0 ||
	    a->nlist > 2 * IMAP_MAX_QUOTA_RES)
		goto bad;
	for (i = 0; i < a->nlist; i += 2) {
		if (!keyword_ok(&a->list[i]) ||
		    imap_arg_number(&a->list[i + 1],
		    &q->res[q->nres].limit) == -1)
			goto bad;
		q->res[q->nres++].name = a->list[i].s;
	}
	return 0;
 bad:
	memset(q, 0, sizeof(*q));
	*errstr = "invalid quota arguments";
	return -1;
}

int
imap_compress_parse(const struct imap_cmd *cmd, const char **errstr)
{
	if (cmd->nargs != 1 || !arg_is(&cmd->args[0], "DEFLATE")) {
		*errstr = "only COMPRESS DEFLATE is supported";
		return -1;
	}
	return 0;
}
