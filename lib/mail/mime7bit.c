/*
 * The 8BITMIME downgrade (see mime7bit.h).
 *
 * The structure comes from mime_parse(), the one MIME parser: it gives
 * every part's header block and body as offsets into the message, with
 * boundaries found as IMAP sees them (RFC 2046 5.1: quoted boundaries,
 * RFC 2231 continuations, a missing close delimiter, malformed types
 * read as text/plain), in one linear pass. The output is written in
 * one more pass over the tree: what lies between parts (preambles,
 * delimiter lines, epilogues) and the header blocks are copied with
 * their line ends made CRLF, and each body is copied or re-encoded.
 * Each input byte is looked at a bounded number of times, and the walk
 * is as deep as the nesting, which is bounded.
 *
 * mime.c keeps its header field iterator to itself, and exporting it
 * for this one use would widen mime.h; what is needed here is only
 * which lines make one field and whether its name is
 * Content-Transfer-Encoding or MIME-Version, done with mime.c's rules
 * (a name of ftext, white space allowed before the colon, continuation
 * lines start with white space) so that both read a block alike.
 *
 * The output must parse into the same parts: a line of a re-encoded
 * body never starts with "--", where it could be taken for a boundary,
 * and preamble lines that do are left alone.
 */
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "mime7bit.h"
#include "util.h"

_Static_assert(MIME7BIT_MAX_DEPTH <= MIME_MAX_DEPTH,
    "mime.c must not cut off what is converted");

#define QP_MAX_LINE	76	/* RFC 2045 6.7 (5), without CRLF */
#define B64_LINE_IN	57	/* bytes in a base64 line of 76 */

/* How copy_range() treats 8-bit bytes and NULs. */
#define RAW_KEEP	0	/* as they are */
#define RAW_MASK	1	/* as '?' (a preamble or epilogue) */
#define RAW_ESCAPE	2	/* as "=XX" (a quoted-printable body) */
#define RAW_DROP	3	/* left out, with '-' (a base64 body) */

/* How a body is written. */
#define BODY_PARTS	0	/* a multipart or message: walked into */
#define BODY_COPY	1	/* copied, RAW_KEEP */
#define BODY_ESCAPE	2	/* copied, RAW_ESCAPE */
#define BODY_DROP	3	/* copied, RAW_DROP */
#define BODY_QP		4	/* encoded as quoted-printable */
#define BODY_B64	5	/* encoded as base64, line ends made CRLF */
#define BODY_B64_RAW	6	/* encoded as base64, as it is (binary) */

/* Header fields this module looks at. */
#define FIELD_NONE	0	/* not a field */
#define FIELD_OTHER	1
#define FIELD_CTE	2
#define FIELD_VERSION	3

struct conv {
	const char	*msg;
	size_t		 pos;		/* the input is written up to here */
	struct buf	*out;
	int		 last;		/* the last byte written */
	const char	*errstr;
};

static const char hexdig[] = "0123456789ABCDEF";

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int
is_8bit(int c)
{
	return c >= 0x80 || c == '\0';
}

static int
has_8bit(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (is_8bit((unsigned char)s[i]))
			return 1;
	return 0;
}

/* A blank line at i (mime.c's rule: a lone CR at the end counts). */
static int
blank_at(const char *m, size_t i, size_t end)
{
	return i < end && (m[i] == '\n' || (m[i] == '\r' &&
	    (i + 1 == end || m[i + 1] == '\n')));
}

static size_t
line_next(const char *m, size_t i, size_t end)
{
	const char	*nl = memchr(m + i, '\n', end - i);

	return nl != NULL ? (size_t)(nl - m) + 1 : end;
}

int
mime7bit_needed(const char *msg, size_t len)
{
	size_t	 i = 0;

	while (i < len && !blank_at(msg, i, len))
		i = line_next(msg, i, len);
	if (i >= len)
		return 0;
	i = line_next(msg, i, len);
	return has_8bit(msg + i, len - i);
}

/*
 * Output.
 */

static int
fail(struct conv *c, const char *why)
{
	c->errstr = why;
	return -1;
}

static int
put(struct conv *c, const void *s, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_add(c->out, s, n) == -1)
		return fail(c, "output too large");
	c->last = ((const unsigned char *)s)[n - 1];
	return 0;
}

/* A line break: CRLF, or LF after a CR already written. */
static int
put_eol(struct conv *c)
{
	if (c->last == '\r')
		return put(c, "\n", 1);
	return put(c, "\r\n", 2);
}

static int
put_escaped(struct conv *c, int ch)
{
	char	 e[3];

	e[0] = '=';
	e[1] = hexdig[(ch >> 4) & 0xf];
	e[2] = hexdig[ch & 0xf];
	return put(c, e, sizeof(e));
}

/* One line, [i, end) without its LF, with 8-bit bytes as mode says. */
static int
copy_line(struct conv *c, size_t i, size_t end, int mode)
{
	const char	*m = c->msg;
	size_t		 start = i;
	int		 ch;

	if (mode == RAW_KEEP)
		return put(c, m + i, end - i);
	for (; i < end; i++) {
		ch = (unsigned char)m[i];
		if (!is_8bit(ch) && !(mode == RAW_DROP && ch == '-'))
			continue;
		if (put(c, m + start, i - start) == -1)
			return -1;
		start = i + 1;
		if (mode == RAW_MASK && put(c, "?", 1) == -1)
			return -1;
		if (mode == RAW_ESCAPE && put_escaped(c, ch) == -1)
			return -1;
	}
	return put(c, m + start, end - start);
}

/*
 * Copy [from, to) with line ends made CRLF. A line that starts with
 * "--" may be a delimiter: masked nowhere, and its first '-' escaped in
 * a quoted-printable body, where escaping may make it one otherwise.
 */
static int
copy_range(struct conv *c, size_t from, size_t to, int mode)
{
	const char	*m = c->msg;
	size_t		 i, end, next;
	int		 lmode;

	for (i = from; i < to; i = next) {
		next = line_next(m, i, to);
		end = next > i && m[next - 1] == '\n' ? next - 1 : next;
		lmode = mode;
		if (end - i >= 2 && m[i] == '-' && m[i + 1] == '-') {
			if (mode == RAW_MASK)
				lmode = RAW_KEEP;
			else if (mode == RAW_ESCAPE) {
				if (put_escaped(c, '-') == -1)
					return -1;
				i++;
			}
		}
		if (copy_line(c, i, end, lmode) == -1 ||
		    (end < next && put_eol(c) == -1))
			return -1;
	}
	return 0;
}

/* What lies between parts, up to to. */
static int
gap(struct conv *c, size_t to)
{
	if (to <= c->pos)
		return 0;
	if (copy_range(c, c->pos, to, RAW_MASK) == -1)
		return -1;
	c->pos = to;
	return 0;
}

/*
 * Quoted-printable (RFC 2045 6.7): '=', controls and bytes >= 0x7f
 * escaped, white space too at the end of a line, lines of at most 76
 * with "=" for a soft break. Line breaks are hard breaks, CRLF; a CR
 * alone is data.
 */

static int
qp_escape(int ch)
{
	return ch == '=' || ch >= 0x7f || (ch < 0x20 && ch != '\t');
}

/* One line of the body, [i, end) without its line break. */
static int
qp_line(struct conv *c, size_t i, size_t end)
{
	const unsigned char	*m = (const unsigned char *)c->msg;
	char			 o[QP_MAX_LINE + 3];
	size_t			 col = 0, w;
	int			 esc, last;

	for (; i < end; i++) {
		last = i + 1 == end;
		esc = qp_escape(m[i]) || (last && is_wsp(m[i]));
		w = esc ? 3 : 1;
		/* Room for the "=" of a soft break, unless this ends it. */
		if (col + w > QP_MAX_LINE - 1 &&
		    !(last && col + w <= QP_MAX_LINE)) {
			o[col++] = '=';
			o[col++] = '\r';
			o[col++] = '\n';
			if (put(c, o, col) == -1)
				return -1;
			col = 0;
		}
		if (col == 0 && m[i] == '-' && !last && m[i + 1] == '-')
			esc = 1;
		if (esc) {
			o[col++] = '=';
			o[col++] = hexdig[m[i] >> 4];
			o[col++] = hexdig[m[i] & 0xf];
		} else
			o[col++] = (char)m[i];
	}
	return put(c, o, col);
}

static int
qp_body(struct conv *c, size_t from, size_t to)
{
	const char	*m = c->msg;
	size_t		 i, end, next;

	for (i = from; i < to; i = next) {
		next = line_next(m, i, to);
		end = next;
		if (end > i && m[end - 1] == '\n') {
			end--;
			if (end > i && m[end - 1] == '\r')
				end--;
		}
		if (qp_line(c, i, end) == -1 ||
		    (end < next && put(c, "\r\n", 2) == -1))
			return -1;
	}
	return 0;
}

/* Base64 in lines of 76, each with its CRLF; crlf: bare LFs made CRLF. */

static int
b64_flush(struct conv *c, const unsigned char *in, size_t n)
{
	char	 o[(B64_LINE_IN / 3) * 4 + 3];
	int	 w;

	if ((w = base64_encode(in, n, o, sizeof(o))) < 0)
		return fail(c, "base64 line too long");
	memcpy(o + w, "\r\n", 2);
	return put(c, o, (size_t)w + 2);
}

/* One more byte of input; a full line goes out. */
static int
b64_add(struct conv *c, unsigned char *in, size_t *n, int ch)
{
	in[(*n)++] = (unsigned char)ch;
	if (*n < B64_LINE_IN)
		return 0;
	*n = 0;
	return b64_flush(c, in, B64_LINE_IN);
}

static int
b64_body(struct conv *c, size_t from, size_t to, int crlf)
{
	const char	*m = c->msg;
	unsigned char	 in[B64_LINE_IN];
	size_t		 i, n = 0;

	for (i = from; i < to; i++) {
		if (crlf && m[i] == '\n' && (i == from || m[i - 1] != '\r') &&
		    b64_add(c, in, &n, '\r') == -1)
			return -1;
		if (b64_add(c, in, &n, (unsigned char)m[i]) == -1)
			return -1;
	}
	return n > 0 ? b64_flush(c, in, n) : 0;
}

/*
 * Header blocks.
 */

/* The field at [i, end) (continuation lines in), by its name. */
static int
field_kind(const char *s, size_t len)
{
	size_t	 n, q;

	for (n = 0; n < len && (unsigned char)s[n] > 32 &&
	    (unsigned char)s[n] < 127 && s[n] != ':'; n++)
		;
	for (q = n; q < len && is_wsp(s[q]); q++)
		;
	if (n == 0 || q >= len || s[q] != ':')
		return FIELD_NONE;
	if (n == 25 && strncasecmp(s, "content-transfer-encoding", n) == 0)
		return FIELD_CTE;
	if (n == 12 && strncasecmp(s, "mime-version", n) == 0)
		return FIELD_VERSION;
	return FIELD_OTHER;
}

/*
 * The header block of p, checked against the limits. cte: its
 * Content-Transfer-Encoding fields are left out and one naming cte is
 * added where the fields end, with MIME-Version if msgroot (the header
 * of a message) and it has none. Fields are otherwise copied as they
 * are, 8-bit bytes too: RFC 6152 has no downgrade for them.
 */
static int
header_write(struct conv *c, const struct mime_part *p, const char *cte,
    int msgroot)
{
	const char	*m = c->msg;
	size_t		 i = p->hdr_off, end = p->hdr_off + p->hdr_len, next;
	size_t		 nfields = 0;
	int		 kind, version = 0;

	if (p->hdr_len > MIME7BIT_MAX_HEADER)
		return fail(c, "header block too large");
	for (; i < end && !blank_at(m, i, end); i = next) {
		next = line_next(m, i, end);
		while (next < end && is_wsp(m[next]))
			next = line_next(m, next, end);
		kind = field_kind(m + i, next - i);
		if (kind != FIELD_NONE && ++nfields > MIME7BIT_MAX_FIELDS)
			return fail(c, "too many header fields");
		if (kind == FIELD_VERSION)
			version = 1;
		if ((cte == NULL || kind != FIELD_CTE) &&
		    copy_range(c, i, next, RAW_KEEP) == -1)
			return -1;
	}
	if (cte != NULL) {
		/* Only a part with a body gets here: its fields end in LF. */
		if (put(c, "Content-Transfer-Encoding: ", 27) == -1 ||
		    put(c, cte, strlen(cte)) == -1 || put(c, "\r\n", 2) == -1)
			return -1;
		if (msgroot && !version &&
		    put(c, "MIME-Version: 1.0\r\n", 19) == -1)
			return -1;
	}
	if (copy_range(c, i, end, RAW_KEEP) == -1)
		return -1;
	c->pos = end;
	return 0;
}

/*
 * What becomes of a part: the encoding its header is to name (NULL: the
 * one it has) and how its body is written.
 */
static int
part_plan(struct conv *c, const struct mime_part *p, const char **cte,
    int *how)
{
	const char	*enc = p->encoding;
	int		 ident;

	*cte = NULL;
	*how = BODY_COPY;
	ident = strcmp(enc, "7BIT") == 0 || strcmp(enc, "8BIT") == 0 ||
	    strcmp(enc, "BINARY") == 0;
	if (p->nchildren > 0 || p->message != NULL ||
	    strcmp(p->type, "multipart") == 0) {
		/* RFC 2045 6.4: only the identities; its parts are 7-bit. */
		*how = BODY_PARTS;
		if (ident && strcmp(enc, "7BIT") != 0 && p->body_len > 0)
			*cte = "7bit";
		return 0;
	}
	if (!has_8bit(c->msg + p->body_off, p->body_len))
		return 0;
	if (ident && (strcmp(p->type, "text") == 0 ||
	    strcmp(p->type, "message") == 0)) {
		*cte = "quoted-printable";
		*how = BODY_QP;
	} else if (ident) {
		*cte = "base64";
		*how = strcmp(enc, "BINARY") == 0 ? BODY_B64_RAW : BODY_B64;
	} else if (strcmp(enc, "QUOTED-PRINTABLE") == 0)
		*how = BODY_ESCAPE;
	else if (strcmp(enc, "BASE64") == 0)
		*how = BODY_DROP;
	else
		return fail(c, "8-bit data under an unknown encoding");
	return 0;
}

static int
body_write(struct conv *c, const struct mime_part *p, int how)
{
	size_t	 from = p->body_off, to = p->body_off + p->body_len;

	switch (how) {
	case BODY_COPY:
		return copy_range(c, from, to, RAW_KEEP);
	case BODY_ESCAPE:
		return copy_range(c, from, to, RAW_ESCAPE);
	case BODY_DROP:
		return copy_range(c, from, to, RAW_DROP);
	case BODY_QP:
		return qp_body(c, from, to);
	case BODY_B64:
		return b64_body(c, from, to, 1);
	default:
		return b64_body(c, from, to, 0);
	}
}

/* p, at depth (the root at 0); msgroot: it is a message's root. */
static int
walk(struct conv *c, const struct mime_part *p, size_t depth, int msgroot)
{
	const char	*cte;
	size_t		 i;
	int		 how;

	if (depth >= MIME7BIT_MAX_DEPTH)
		return fail(c, "parts nested too deeply");
	/* mime.c gives parts in order, each inside its parent. */
	if (p->hdr_off < c->pos || p->body_off != p->hdr_off + p->hdr_len)
		return fail(c, "parts out of order");
	if (gap(c, p->hdr_off) == -1 || part_plan(c, p, &cte, &how) == -1 ||
	    header_write(c, p, cte, msgroot) == -1)
		return -1;
	if (how != BODY_PARTS) {
		if (body_write(c, p, how) == -1)
			return -1;
		c->pos = p->body_off + p->body_len;
		return 0;
	}
	for (i = 0; i < p->nchildren; i++)
		if (walk(c, &p->children[i], depth + 1, 0) == -1)
			return -1;
	if (p->message != NULL && walk(c, p->message, depth + 1, 1) == -1)
		return -1;
	return gap(c, p->body_off + p->body_len);
}

int
mime7bit_convert(const char *msg, size_t len, struct buf *out,
    const char **errstr)
{
	struct mime_msg	*m;
	struct conv	 c;
	int		 rc = -1;

	if (len > MIME7BIT_MAX_SIZE) {
		*errstr = "message too large";
		return -1;
	}
	if ((m = mime_parse(msg, len, errstr)) == NULL)
		return -1;
	memset(&c, 0, sizeof(c));
	c.msg = msg != NULL ? msg : "";
	c.out = out;
	/* Past MIME_MAX_PARTS, mime.c may have left parts out. */
	if (mime_nparts(m) >= MIME_MAX_PARTS)
		(void)fail(&c, "too many parts");
	else if (walk(&c, mime_root(m), 0, 1) == 0 && gap(&c, len) == 0)
		rc = 0;
	mime_free(m);
	if (rc == -1)
		*errstr = c.errstr;
	return rc;
}
