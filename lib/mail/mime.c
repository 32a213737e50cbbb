/*
 * MIME: the one strict parser of stored messages, and what IMAP makes of
 * them (see mime.h).
 *
 * The structure comes from one forward pass. parse_entity() reads a
 * header block, then the body: a leaf body runs to the next line that
 * starts with "--" and an open boundary, a multipart pushes its boundary
 * and reads its parts in turn, a message/rfc822 body is parsed as a
 * message. Every line is looked at once, against at most MIME_MAX_DEPTH
 * open boundaries, so the work is linear in the message size.
 *
 * Boundaries (RFC 2046 5.1.1): a line that starts with "--" and the
 * boundary is a delimiter, whatever follows (the RFC asks for a prefix
 * match); "--" right after it makes it the close delimiter. If several
 * open boundaries match, the longest wins and, among equal ones, the
 * innermost, so that a boundary which is a prefix of another one and a
 * boundary reused in a nested part both work, as in Dovecot. The line
 * break before a delimiter belongs to the delimiter, not to the part. A
 * delimiter of an outer multipart ends every part inside it; a missing
 * close delimiter ends the multipart where its parent ends.
 *
 * Limits: beyond MIME_MAX_DEPTH or MIME_MAX_PARTS a multipart or
 * message part becomes an opaque application/octet-stream leaf; a
 * multipart without a usable boundary (none, too long, or with a CR or
 * LF in it) becomes text/plain. Header blocks
 * are read up to MIME_MAX_HEADER bytes and MIME_MAX_FIELDS fields, a
 * value up to MIME_MAX_VALUE bytes. Comments nest without recursion.
 */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "charsets.h"
#include "imapstr.h"
#include "mime.h"
#include "util.h"

#define MAX_RAW_PARAMS	(4 * MIME_MAX_PARAMS)	/* before RFC 2231 joins */
#define MAX_2231_INDEX	999
#define MAX_CHARSET	40
#define MAX_EWORD	1024	/* RFC 2047 says 75; some mailers go over */
#define MAX_MSGID	998
#define MAX_LANG_TAGS	64
#define CONV_CACHE	8	/* converters kept open */
#define CONV_BUDGET	64	/* iconv_open() calls per operation */

#define UTF8_REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD */

/* What a multipart without parts shows: one empty text/plain part. */
#define EMPTY_BODY \
	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0"

struct mime_msg {
	const char	*buf;
	size_t		 len;
	size_t		 nparts;
	struct mime_part root;
};

/*
 * Small helpers.
 */

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int
is_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int
upper(int c)
{
	return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
hex_val(int c)
{
	if (is_digit(c))
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 2045 token characters: no space, control or tspecial. */
static int
is_token(int c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* ASCII case-insensitive: s (len bytes) equals the string word. */
static int
ci_eq(const char *s, size_t len, const char *word)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (word[i] == '\0' || lower((unsigned char)s[i]) !=
		    lower((unsigned char)word[i]))
			return 0;
	return word[len] == '\0';
}

/* ASCII case-insensitive: s (len bytes) starts with word. */
static int
ci_prefix(const char *s, size_t len, const char *word)
{
	size_t	 i;

	for (i = 0; word[i] != '\0'; i++)
		if (i >= len || lower((unsigned char)s[i]) !=
		    lower((unsigned char)word[i]))
			return 0;
	return 1;
}

static char *
dupn(const char *s, size_t n)
{
	char	*p = xmalloc(n + 1);

	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *
dup_lower(const char *s, size_t n)
{
	char	*p = dupn(s, n);
	size_t	 i;

	for (i = 0; i < n; i++)
		p[i] = (char)lower((unsigned char)p[i]);
	return p;
}

/* Length of the well-formed UTF-8 sequence at s (avail bytes), or 0. */
static size_t
utf8_len(const char *s, size_t avail)
{
	unsigned char	 tmp[5];

	if ((unsigned char)s[0] < 0x80)
		return s[0] != '\0';
	memset(tmp, 0, sizeof(tmp));
	memcpy(tmp, s, avail < 4 ? avail : 4);
	return utf8_seq(tmp);
}

/* Append s as UTF-8: invalid bytes and NULs become U+FFFD. */
static int
add_utf8(struct buf *b, const char *s, size_t len)
{
	size_t	 i = 0, start = 0, n;

	while (i < len) {
		if ((n = utf8_len(s + i, len - i)) > 0) {
			i += n;
			continue;
		}
		if (buf_add(b, s + start, i - start) == -1 ||
		    buf_addstr(b, UTF8_REPLACEMENT) == -1)
			return -1;
		start = ++i;
	}
	return buf_add(b, s + start, len - start);
}

/*
 * The unfolded value of a field: line breaks dropped (the white space
 * after them stays, RFC 5322 2.2.3), leading and trailing white space
 * trimmed, a NUL sent as 0x80 (it cannot live in a C string), at most
 * MIME_MAX_VALUE bytes.
 */
static char *
unfold(const char *v, size_t len)
{
	char	*out;
	size_t	 i, n = 0;

	out = xmalloc((len < MIME_MAX_VALUE ? len : MIME_MAX_VALUE) + 1);
	for (i = 0; i < len && n < MIME_MAX_VALUE; i++) {
		if (v[i] == '\n' || (v[i] == '\r' && i + 1 < len &&
		    v[i + 1] == '\n'))
			continue;
		if (n == 0 && is_wsp(v[i]))
			continue;
		out[n++] = v[i] != '\0' ? v[i] : (char)0x80;
	}
	while (n > 0 && is_wsp(out[n - 1]))
		n--;
	out[n] = '\0';
	return out;
}

/*
 * Charsets: converted to UTF-8, never trusted. UTF-8 and US-ASCII are
 * only checked (8-bit text that claims to be ASCII is usually UTF-8);
 * single-byte charsets come from compiled-in tables (the IMAP session
 * is chrooted where iconv finds no modules), ISO-8859-1 read as its
 * superset Windows-1252, as mail readers do; the rest goes to iconv,
 * which may not have it. iconv_open() is slow (a module may be loaded each
 * time), so converters are cached and their number is budgeted: past
 * CONV_BUDGET opens in one operation, a new charset counts as unknown.
 */

#define CONV_NONE	0	/* nothing opened yet */
#define CONV_UTF8	1
#define CONV_ICONV	2
#define CONV_BAD	3	/* unknown to iconv */
#define CONV_SB		4	/* a compiled-in single-byte table */

struct conv {
	char			 name[MAX_CHARSET + 1];
	int			 kind;
	iconv_t			 cd;
	const unsigned short	*hi;	/* CONV_SB: bytes 0x80-0xff */
};

static const struct {
	const char	*name;
	const char	*use;		/* NULL: UTF-8 checks only */
} charset_alias[] = {
	{ "utf-8", NULL },
	{ "utf8", NULL },
	{ "us-ascii", NULL },
	{ "ascii", NULL },
	{ "ansi_x3.4-1968", NULL },
	{ "gb2312", "GB18030" },
	{ "gbk", "GB18030" },
	{ "ks_c_5601-1987", "CP949" },
	{ "euc-kr", "CP949" },		/* its superset */
};

static void
conv_close(struct conv *cv)
{
	if (cv->kind == CONV_ICONV)
		(void)iconv_close(cv->cd);
	cv->kind = CONV_NONE;
	cv->name[0] = '\0';
}

static int
charset_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct charset_sb *)elem)->name);
}

/* Use charset name (len bytes): 0, or -1 if it is unknown. */
static int
conv_set(struct conv *cv, const char *name, size_t len, size_t *budget)
{
	const struct charset_sb	*sb;
	const char		*use;
	size_t			 i;

	if (cv->kind != CONV_NONE && ci_eq(name, len, cv->name))
		return cv->kind == CONV_BAD ? -1 : 0;
	conv_close(cv);
	cv->kind = CONV_BAD;
	if (len == 0 || len > MAX_CHARSET)
		return -1;
	for (i = 0; i < len; i++)
		/* Only what charset names hold: no path, no "//" suffix. */
		if (!is_alpha((unsigned char)name[i]) &&
		    !is_digit((unsigned char)name[i]) &&
		    strchr("-_.:+()", name[i]) == NULL)
			return -1;
	for (i = 0; i < len; i++)
		cv->name[i] = (char)lower((unsigned char)name[i]);
	cv->name[len] = '\0';
	if ((sb = bsearch(cv->name, charsets_sb, charsets_nsb,
	    sizeof(*charsets_sb), charset_cmp)) != NULL) {
		cv->hi = sb->hi;
		cv->kind = CONV_SB;
		return 0;
	}
	use = cv->name;
	for (i = 0; i < nitems(charset_alias); i++)
		if (strcmp(cv->name, charset_alias[i].name) == 0) {
			if ((use = charset_alias[i].use) == NULL) {
				cv->kind = CONV_UTF8;
				return 0;
			}
			break;
		}
	if (*budget == 0)
		return -1;
	(*budget)--;
	if ((cv->cd = iconv_open("UTF-8", use)) == (iconv_t)-1)
		return -1;
	cv->kind = CONV_ICONV;
	return 0;
}

/*
 * iconv loads a module per charset on first use, by path: in a chroot
 * it finds none. A converter opened before and never closed keeps its
 * module loaded, and later opens of that charset work anywhere.
 */
static const char *const preload_charsets[] = {
	/* What East Asian mail mostly uses; about 16 KB of memory each. */
	"ISO-2022-JP", "SHIFT_JIS", "GB18030", "BIG5", "CP949",
};

void
mime_charsets_preload(void)
{
	static iconv_t	 kept[nitems(preload_charsets)];
	size_t		 i;

	for (i = 0; i < nitems(preload_charsets); i++)
		if (kept[i] == NULL || kept[i] == (iconv_t)-1)
			kept[i] = iconv_open("UTF-8", preload_charsets[i]);
}

struct convs {
	struct conv	 c[CONV_CACHE];
	unsigned	 last[CONV_CACHE];	/* when last used */
	unsigned	 clock;
	size_t		 budget;
};

static void
convs_init(struct convs *cs)
{
	memset(cs, 0, sizeof(*cs));
	cs->budget = CONV_BUDGET;
}

static void
convs_free(struct convs *cs)
{
	size_t	 i;

	for (i = 0; i < CONV_CACHE; i++)
		conv_close(&cs->c[i]);
}

/* The converter for a charset: cached, or set up in the oldest slot. */
static struct conv *
convs_get(struct convs *cs, const char *name, size_t len)
{
	size_t	 i, lru = 0;

	for (i = 0; i < CONV_CACHE; i++) {
		if (cs->c[i].kind != CONV_NONE && ci_eq(name, len,
		    cs->c[i].name)) {
			cs->last[i] = ++cs->clock;
			return &cs->c[i];
		}
		if (cs->last[i] < cs->last[lru])
			lru = i;
	}
	(void)conv_set(&cs->c[lru], name, len, &cs->budget);
	cs->last[lru] = ++cs->clock;
	return &cs->c[lru];
}

/* A single-byte charset to UTF-8. -1 if out overflowed. */
static int
sb_run(const unsigned short *hi, const char *in, size_t len, struct buf *out)
{
	const unsigned char	*p = (const unsigned char *)in;
	const unsigned char	*end = p + len, *run;
	unsigned char		 u[3];
	unsigned		 c;

	while (p < end) {
		for (run = p; p < end && *p < 0x80 && *p != '\0'; p++)
			;
		if (p > run && buf_add(out, run, (size_t)(p - run)) == -1)
			return -1;
		if (p == end)
			break;
		/* A NUL becomes U+FFFD, as in add_utf8. */
		c = *p == '\0' ? 0xfffd : hi[*p - 0x80];
		p++;
		if (c < 0x800) {
			u[0] = (unsigned char)(0xc0 | c >> 6);
			u[1] = (unsigned char)(0x80 | (c & 0x3f));
			if (buf_add(out, u, 2) == -1)
				return -1;
		} else {
			u[0] = (unsigned char)(0xe0 | c >> 12);
			u[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
			u[2] = (unsigned char)(0x80 | (c & 0x3f));
			if (buf_add(out, u, 3) == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * Append in (len bytes) converted to UTF-8: a byte iconv refuses
 * becomes U+FFFD and conversion goes on. Unknown charsets are read as
 * UTF-8. -1 if out overflowed.
 */
static int
conv_run(struct conv *cv, const char *in, size_t len, struct buf *out)
{
	char	 tmp[4096];
	char	*ip = (char *)(uintptr_t)in, *op;
	size_t	 il = len, ol, r;
	int	 e;

	if (cv->kind == CONV_SB)
		return sb_run(cv->hi, in, len, out);
	if (cv->kind != CONV_ICONV)
		return add_utf8(out, in, len);
	while (il > 0) {
		op = tmp;
		ol = sizeof(tmp);
		r = iconv(cv->cd, &ip, &il, &op, &ol);
		e = errno;
		if (add_utf8(out, tmp, (size_t)(op - tmp)) == -1)
			return -1;
		if (r != (size_t)-1 || e == E2BIG)
			continue;
		if (buf_addstr(out, UTF8_REPLACEMENT) == -1)
			return -1;
		if (e != EILSEQ)
			break;		/* EINVAL: cut at the end */
		ip++;
		il--;
	}
	/* Back to the initial shift state for the next run. */
	op = tmp;
	ol = sizeof(tmp);
	(void)iconv(cv->cd, NULL, NULL, &op, &ol);
	return add_utf8(out, tmp, (size_t)(op - tmp));
}

/*
 * Content-Transfer-Encodings, undone leniently: base64 skips what is
 * not in its alphabet (RFC 2045 6.8), quoted-printable keeps a bad "="
 * as it is and drops trailing white space (RFC 2045 6.7).
 */

static int
b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
b64_decode(const char *s, size_t len, struct buf *out)
{
	unsigned char	 tmp[1024];
	unsigned	 acc = 0;
	size_t		 i, n = 0;
	int		 v, bits = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			/* The end of a block: a new one may follow. */
			bits = 0;
			continue;
		}
		if ((v = b64_val((unsigned char)s[i])) < 0)
			continue;
		acc = ((acc << 6) | (unsigned)v) & 0xffffff;
		if ((bits += 6) < 8)
			continue;
		bits -= 8;
		tmp[n++] = (unsigned char)(acc >> bits);
		if (n == sizeof(tmp)) {
			if (buf_add(out, tmp, n) == -1)
				return -1;
			n = 0;
		}
	}
	return buf_add(out, tmp, n);
}

static int
qp_decode(const char *s, size_t len, struct buf *out)
{
	const char	*nl;
	size_t		 i = 0, end, eol, next, start;
	int		 hi, lo, soft;

	while (i < len) {
		nl = memchr(s + i, '\n', len - i);
		next = nl != NULL ? (size_t)(nl - s) + 1 : len;
		end = nl != NULL ? (size_t)(nl - s) : len;
		if (nl != NULL && end > i && s[end - 1] == '\r')
			end--;
		eol = end;		/* the line break is [eol, next) */
		while (end > i && is_wsp(s[end - 1]))
			end--;
		soft = 0;
		for (start = i; i < end; i++) {
			if (s[i] != '=')
				continue;
			if (i + 1 == end) {
				/* "=" ends the line: a soft line break. */
				soft = 1;
				break;
			}
			if (i + 2 < end &&
			    (hi = hex_val((unsigned char)s[i + 1])) >= 0 &&
			    (lo = hex_val((unsigned char)s[i + 2])) >= 0) {
				if (buf_add(out, s + start, i - start) == -1 ||
				    buf_addc(out, hi << 4 | lo) == -1)
					return -1;
				i += 2;
				start = i + 1;
			}
			/* Otherwise a lone "=" stays as it is. */
		}
		if (buf_add(out, s + start, i - start) == -1)
			return -1;
		if (!soft && buf_add(out, s + eol, next - eol) == -1)
			return -1;
		i = next;
	}
	return 0;
}

/* 0, or -1 if enc is not an encoding this undoes. */
static int
cte_decode(const char *enc, const char *s, size_t len, struct buf *out)
{
	if (strcmp(enc, "BASE64") == 0)
		(void)b64_decode(s, len, out);
	else if (strcmp(enc, "QUOTED-PRINTABLE") == 0)
		(void)qp_decode(s, len, out);
	else if (strcmp(enc, "7BIT") == 0 || strcmp(enc, "8BIT") == 0 ||
	    strcmp(enc, "BINARY") == 0)
		(void)buf_add(out, s, len);
	else
		return -1;
	return 0;
}

/*
 * Header fields. A field is a line "name: value" and the lines after
 * it that start with white space; the obsolete white space before the
 * colon is allowed. Lines that are not fields are skipped. A blank line
 * ends the block.
 */

struct hfield {
	const char	*name;
	size_t		 namelen;
	const char	*value;		/* raw, without the last line break */
	size_t		 valuelen;
	const char	*raw;		/* the whole field, line breaks in */
	size_t		 rawlen;
};

struct hiter {
	const char	*start;
	const char	*p;
	const char	*end;
	size_t		 n;
	int		 bounded;	/* stop at the MIME_MAX_* limits */
};

static void
hiter_init(struct hiter *it, const char *hdr, size_t len, int bounded)
{
	it->start = it->p = hdr;
	it->end = hdr + len;
	it->n = 0;
	it->bounded = bounded;
}

static const char *
line_next(const char *p, const char *end)
{
	const char	*nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl + 1 : end;
}

static int
is_blank_line(const char *p, const char *end)
{
	if (p < end && *p == '\n')
		return 1;
	return p < end && *p == '\r' && (p + 1 == end || p[1] == '\n');
}

/* RFC 5322 ftext. */
static int
is_ftext(int c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static int
hiter_next(struct hiter *it, struct hfield *f)
{
	const char	*p, *q, *next, *nameend, *e;

	for (;;) {
		p = it->p;
		if (p >= it->end || is_blank_line(p, it->end))
			return 0;
		if (it->bounded && ((size_t)(p - it->start) >=
		    MIME_MAX_HEADER || it->n >= MIME_MAX_FIELDS))
			return 0;
		next = line_next(p, it->end);
		while (next < it->end && is_wsp(*next))
			next = line_next(next, it->end);
		it->p = next;
		for (q = p; q < next && is_ftext((unsigned char)*q); q++)
			;
		nameend = q;
		while (q < next && is_wsp(*q))
			q++;
		if (nameend == p || q >= next || *q != ':')
			continue;
		it->n++;
		e = next;
		if (e > q + 1 && e[-1] == '\n')
			e--;
		if (e > q + 1 && e[-1] == '\r')
			e--;
		f->name = p;
		f->namelen = (size_t)(nameend - p);
		f->value = q + 1;
		f->valuelen = (size_t)(e - (q + 1));
		f->raw = p;
		f->rawlen = (size_t)(next - p);
		return 1;
	}
}

/* The line break a header block uses: that of its first line. */
static const char *
header_eol(const char *hdr, size_t len)
{
	const char	*nl = memchr(hdr, '\n', len);

	if (nl != NULL && (nl == hdr || nl[-1] != '\r'))
		return "\n";
	return "\r\n";
}

/*
 * Structured values (Content-*): tokens, quoted strings, comments.
 */

struct lex {
	const char	*p;
	const char	*end;
};

static void
lex_init(struct lex *lx, const char *s)
{
	lx->p = s;
	lx->end = s + strlen(s);
}

/* White space and comments; comments nest (counted, not recursed). */
static void
skip_cfws(struct lex *lx)
{
	size_t	 depth;

	while (lx->p < lx->end) {
		if (is_fws(*lx->p)) {
			lx->p++;
			continue;
		}
		if (*lx->p != '(')
			return;
		for (depth = 0; lx->p < lx->end; lx->p++) {
			if (*lx->p == '\\') {
				if (lx->p + 1 < lx->end)
					lx->p++;
			} else if (*lx->p == '(')
				depth++;
			else if (*lx->p == ')' && --depth == 0) {
				lx->p++;
				break;
			}
		}
	}
}

static size_t
lex_token(struct lex *lx, const char **tok)
{
	*tok = lx->p;
	while (lx->p < lx->end && is_token((unsigned char)*lx->p))
		lx->p++;
	return (size_t)(lx->p - *tok);
}

/* The quoted string at lx->p, unescaped; unterminated ones end at the end. */
static char *
lex_quoted(struct lex *lx)
{
	struct buf	 b = BUF_INIT(SIZE_MAX);
	const char	*s;

	for (s = ++lx->p; lx->p < lx->end && *lx->p != '"'; lx->p++) {
		if (*lx->p == '\\' && lx->p + 1 < lx->end) {
			(void)buf_add(&b, s, (size_t)(lx->p - s));
			s = ++lx->p;
		}
	}
	(void)buf_add(&b, s, (size_t)(lx->p - s));
	if (lx->p < lx->end)
		lx->p++;
	return buf_release(&b, NULL);
}

/*
 * Parameters (RFC 2045 5.1, RFC 2231). Values are tokens or quoted
 * strings; an unquoted value may hold what a token may not (such as
 * '=' in "boundary==_x"), up to white space, ';', '"' or '('.
 */

struct rawparam {
	char	*name;		/* lower case, as written */
	char	*value;
};

static int
is_loose_value(int c)
{
	return c > 0x20 && c != 0x7f && c != ';' && c != '"' && c != '(';
}

static size_t
lex_params(struct lex *lx, struct rawparam *rp, size_t max)
{
	const char	*tok, *s;
	char		*value;
	size_t		 n = 0, len;

	for (;;) {
		skip_cfws(lx);
		if (lx->p >= lx->end)
			break;
		if (*lx->p != ';') {
			/* Junk: up to the next ';'. */
			while (lx->p < lx->end && *lx->p != ';')
				lx->p++;
			continue;
		}
		lx->p++;
		skip_cfws(lx);
		if ((len = lex_token(lx, &tok)) == 0)
			continue;
		skip_cfws(lx);
		if (lx->p >= lx->end || *lx->p != '=')
			continue;
		lx->p++;
		skip_cfws(lx);
		if (lx->p < lx->end && *lx->p == '"')
			value = lex_quoted(lx);
		else {
			for (s = lx->p; lx->p < lx->end &&
			    is_loose_value((unsigned char)*lx->p); lx->p++)
				;
			value = dupn(s, (size_t)(lx->p - s));
		}
		if (n == max) {
			free(value);
			continue;
		}
		rp[n].name = dup_lower(tok, len);
		rp[n].value = value;
		n++;
	}
	return n;
}

/*
 * Split an RFC 2231 name: "name*" (one extended value), "name*N" or
 * "name*N*" (section N). 0 for a plain name.
 */
static int
split_2231(const char *name, size_t *baselen, unsigned *idx, int *ext)
{
	const char	*star = strchr(name, '*'), *p;
	unsigned	 n = 0;

	if (star == NULL || star == name)
		return 0;
	*baselen = (size_t)(star - name);
	p = star + 1;
	if (*p == '\0') {
		*idx = 0;
		*ext = 1;
		return 1;
	}
	if (!is_digit((unsigned char)*p) || (p[0] == '0' && is_digit(
	    (unsigned char)p[1])))
		return 0;
	for (; is_digit((unsigned char)*p); p++)
		if ((n = n * 10 + (unsigned)(*p - '0')) > MAX_2231_INDEX)
			return 0;
	if (*p == '*') {
		*ext = 1;
		p++;
	} else
		*ext = 0;
	if (*p != '\0')
		return 0;
	*idx = n;
	return 2;
}

static void
pct_decode(const char *s, struct buf *b)
{
	int	 hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '%' && (hi = hex_val((unsigned char)s[1])) >= 0 &&
		    (lo = hex_val((unsigned char)s[2])) >= 0) {
			(void)buf_addc(b, hi << 4 | lo);
			s += 2;
		} else
			(void)buf_addc(b, *s);
	}
}

/* A raw parameter's name, taken apart, for sorting. */
struct pmeta {
	const char	*name;
	size_t		 i;		/* place in the field */
	size_t		 baselen;
	unsigned	 idx;		/* RFC 2231 section */
	int		 form;		/* 0 plain, 1 "name*", 2 "name*N" */
	int		 ext;		/* charset'lang' or %XX encoded */
};

static int
pmeta_cmp(const void *a, const void *b)
{
	const struct pmeta	*x = a, *y = b;
	int			 c;

	if ((x->form != 0) != (y->form != 0))
		return (x->form != 0) - (y->form != 0);
	if (x->baselen != y->baselen)
		return x->baselen < y->baselen ? -1 : 1;
	if ((c = memcmp(x->name, y->name, x->baselen)) != 0)
		return c;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int
pmeta_group(const struct pmeta *x, const struct pmeta *y)
{
	return (x->form != 0) == (y->form != 0) && x->baselen == y->baselen &&
	    memcmp(x->name, y->name, x->baselen) == 0;
}

/* 1 if a plain parameter of that name is in pm[0..n) (sorted). */
static int
pmeta_has_plain(const struct pmeta *pm, size_t n, const struct pmeta *key)
{
	struct pmeta	 k = *key;
	size_t		 lo = 0, hi = n, mid;
	int		 c;

	k.form = 0;
	k.idx = 0;
	k.i = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (pm[mid].form == 0 && pmeta_group(&pm[mid], &k))
			return 1;
		c = pmeta_cmp(&k, &pm[mid]);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/*
 * The value of an RFC 2231 group (sorted by section): sections 0, 1,
 * 2... joined, %XX decoded in extended ones and the whole converted from
 * the charset section 0 names. NULL if there is no section 0.
 */
static char *
join_2231(const struct rawparam *rp, const struct pmeta *g, size_t n,
    struct convs *convs, int *extended)
{
	struct buf	 raw = BUF_INIT(SIZE_MAX), out = BUF_INIT(SIZE_MAX);
	const char	*v, *q1, *q2, *cs = NULL;
	size_t		 k, cslen = 0;
	unsigned	 want = 0;
	int		 any_ext = 0;

	for (k = 0; k < n; k++) {
		if (g[k].idx < want)
			continue;	/* the same section again */
		if (g[k].idx > want)
			break;		/* a gap ends it */
		v = rp[g[k].i].value;
		if (g[k].ext) {
			if (want == 0 && (q1 = strchr(v, '\'')) != NULL &&
			    (q2 = strchr(q1 + 1, '\'')) != NULL) {
				cs = v;
				cslen = (size_t)(q1 - v);
				v = q2 + 1;
			}
			any_ext = 1;
			pct_decode(v, &raw);
		} else
			(void)buf_addstr(&raw, v);
		want++;
		if (g[k].form == 1)
			break;
	}
	*extended = any_ext;
	if (want == 0) {
		buf_free(&raw);
		return NULL;
	}
	if (!any_ext)
		return buf_release(&raw, NULL);
	if (cs == NULL)
		(void)add_utf8(&out, raw.data != NULL ? raw.data : "", raw.len);
	else
		(void)conv_run(convs_get(convs, cs, cslen), raw.data != NULL ?
		    raw.data : "", raw.len, &out);
	buf_free(&raw);
	return buf_release(&out, NULL);
}

struct pout {
	size_t			 first;	/* place of its first piece */
	struct mime_param	 p;
};

static int
pout_cmp(const void *a, const void *b)
{
	const struct pout	*x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/*
 * Raw parameters to mime_params, in the order of the field: RFC 2231
 * sections joined, the first of equal names kept, at most
 * MIME_MAX_PARAMS. Sorting keeps it O(n log n).
 */
static void
params_build(const struct rawparam *rp, size_t n, struct convs *convs,
    struct mime_param **out, size_t *nout)
{
	struct pmeta	*pm;
	struct pout	*po;
	size_t		 i, j, k, np = 0, nplain;
	char		*value;
	int		 extended;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return;
	pm = xcalloc(n, sizeof(*pm));
	for (i = 0; i < n; i++) {
		pm[i].name = rp[i].name;
		pm[i].i = i;
		pm[i].form = split_2231(rp[i].name, &pm[i].baselen,
		    &pm[i].idx, &pm[i].ext);
		if (pm[i].form == 0) {
			pm[i].baselen = strlen(rp[i].name);
			pm[i].ext = 0;
		}
	}
	qsort(pm, n, sizeof(*pm), pmeta_cmp);
	for (nplain = 0; nplain < n && pm[nplain].form == 0; nplain++)
		;
	po = xcalloc(n, sizeof(*po));
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && pmeta_group(&pm[i], &pm[j]); j++)
			;
		extended = 0;
		if (pm[i].form == 0)
			value = xstrdup(rp[pm[i].i].value);
		else if ((value = join_2231(rp, pm + i, j - i, convs,
		    &extended)) == NULL)
			continue;
		/* "name*0" and "name*1" make a "name": the plain one wins. */
		if (!extended && pm[i].form != 0 &&
		    pmeta_has_plain(pm, nplain, &pm[i])) {
			free(value);
			continue;
		}
		po[np].first = pm[i].i;
		for (k = i + 1; k < j; k++)
			if (pm[k].i < po[np].first)
				po[np].first = pm[k].i;
		po[np].p.name = dupn(pm[i].name, pm[i].baselen);
		po[np].p.value = value;
		po[np].p.extended = extended;
		np++;
	}
	free(pm);
	qsort(po, np, sizeof(*po), pout_cmp);
	if (np > 0) {
		*out = xcalloc(np < MIME_MAX_PARAMS ? np : MIME_MAX_PARAMS,
		    sizeof(**out));
		for (i = 0; i < np; i++) {
			if (i < MIME_MAX_PARAMS) {
				(*out)[i] = po[i].p;
				continue;
			}
			free(po[i].p.name);
			free(po[i].p.value);
		}
		*nout = np < MIME_MAX_PARAMS ? np : MIME_MAX_PARAMS;
	}
	free(po);
}

static void
free_params(struct mime_param *pa, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(pa[i].name);
		free(pa[i].value);
	}
	free(pa);
}

static const char *
param_get(const struct mime_param *pa, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(pa[i].name, name) == 0)
			return pa[i].value;
	return NULL;
}

/* "type/subtype" or "disposition", then the parameters. */
static void
parse_typed(const char *v, size_t vlen, int slash, struct convs *convs,
    char **type, char **subtype, struct mime_param **params,
    size_t *nparams)
{
	struct rawparam	 rp[MAX_RAW_PARAMS];
	struct lex	 lx;
	const char	*t, *s = NULL;
	char		*u = unfold(v, vlen);
	size_t		 tlen, slen = 0, n, i;

	lex_init(&lx, u);
	skip_cfws(&lx);
	tlen = lex_token(&lx, &t);
	if (slash) {
		skip_cfws(&lx);
		if (lx.p < lx.end && *lx.p == '/') {
			lx.p++;
			skip_cfws(&lx);
			slen = lex_token(&lx, &s);
		}
	}
	if (tlen > 0 && (!slash || slen > 0)) {
		*type = dup_lower(t, tlen);
		if (slash)
			*subtype = dup_lower(s, slen);
	} else if (!slash) {
		/* No disposition type: the field is not used. */
		free(u);
		return;
	}
	n = lex_params(&lx, rp, nitems(rp));
	params_build(rp, n, convs, params, nparams);
	for (i = 0; i < n; i++) {
		free(rp[i].name);
		free(rp[i].value);
	}
	free(u);
}

static void
set_type(struct mime_part *p, const char *type, const char *subtype)
{
	free(p->type);
	free(p->subtype);
	p->type = xstrdup(type);
	p->subtype = xstrdup(subtype);
}

/* RFC 2046 4.1.2: text defaults to US-ASCII (if there is room). */
static void
default_charset(struct mime_part *p)
{
	if (strcmp(p->type, "text") != 0 || p->nparams >= MIME_MAX_PARAMS ||
	    param_get(p->params, p->nparams, "charset") != NULL)
		return;
	p->params = xreallocarray(p->params, p->nparams + 1,
	    sizeof(*p->params));
	p->params[p->nparams].name = xstrdup("charset");
	p->params[p->nparams].value = xstrdup("us-ascii");
	p->params[p->nparams].extended = 0;
	p->nparams++;
}

/* The Content-* fields of a header block; the first of each counts. */
static void
parse_content(struct mime_part *p, const char *hdr, size_t len,
    int in_digest, struct convs *convs)
{
	struct hiter	 it;
	struct hfield	 f;
	const char	*n, *tok;
	struct lex	 lx;
	char		*u, **slot;
	size_t		 nl, tlen, i;
	int		 seen_type = 0, seen_disp = 0, seen_cte = 0;

	hiter_init(&it, hdr, len, 1);
	while (hiter_next(&it, &f)) {
		if (f.namelen <= 8 || !ci_prefix(f.name, f.namelen,
		    "content-"))
			continue;
		n = f.name + 8;
		nl = f.namelen - 8;
		slot = NULL;
		if (ci_eq(n, nl, "type")) {
			if (!seen_type)
				parse_typed(f.value, f.valuelen, 1, convs,
				    &p->type, &p->subtype, &p->params,
				    &p->nparams);
			seen_type = 1;
		} else if (ci_eq(n, nl, "disposition")) {
			if (!seen_disp)
				parse_typed(f.value, f.valuelen, 0, convs,
				    &p->disposition, NULL, &p->disp_params,
				    &p->ndisp_params);
			seen_disp = 1;
		} else if (ci_eq(n, nl, "transfer-encoding")) {
			if (seen_cte++)
				continue;
			u = unfold(f.value, f.valuelen);
			lex_init(&lx, u);
			skip_cfws(&lx);
			if ((tlen = lex_token(&lx, &tok)) > 0) {
				p->encoding = dupn(tok, tlen);
				for (i = 0; i < tlen; i++)
					p->encoding[i] = (char)upper(
					    (unsigned char)p->encoding[i]);
			}
			free(u);
		} else if (ci_eq(n, nl, "id"))
			slot = &p->id;
		else if (ci_eq(n, nl, "description"))
			slot = &p->description;
		else if (ci_eq(n, nl, "md5"))
			slot = &p->md5;
		else if (ci_eq(n, nl, "language"))
			slot = &p->language;
		else if (ci_eq(n, nl, "location"))
			slot = &p->location;
		if (slot != NULL && *slot == NULL)
			*slot = unfold(f.value, f.valuelen);
	}
	if (p->type == NULL) {
		/* RFC 2046 5.1.5: in a digest, parts are messages. */
		if (in_digest && !seen_type)
			set_type(p, "message", "rfc822");
		else
			set_type(p, "text", "plain");
	}
	if (p->encoding == NULL)
		p->encoding = xstrdup("7BIT");
	default_charset(p);
}

/*
 * The structure.
 */

struct bnd {
	const char	*s;
	size_t		 len;
};

struct pctx {
	const char	*buf;
	size_t		 len;
	size_t		 nparts;
	struct bnd	 stack[MIME_MAX_DEPTH];	/* open boundaries */
	size_t		 nstack;
	struct convs	 convs;		/* for RFC 2231 charsets */
};

/* A delimiter line. */
struct bline {
	int		 found;
	int		 close;		/* "--boundary--" */
	size_t		 level;		/* whose: index in the stack */
	size_t		 line;		/* offset of its "--" */
	size_t		 next;		/* offset of the line after it */
};

#define K_LEAF		0
#define K_MULTIPART	1
#define K_MESSAGE	2

static void	 parse_entity(struct pctx *, struct mime_part *, size_t, size_t,
		    int, struct bline *);

static void
no_boundary(const struct pctx *ctx, struct bline *bl)
{
	bl->found = bl->close = 0;
	bl->level = 0;
	bl->line = bl->next = ctx->len;
}

/* 1 if the line at p delimits an open multipart. */
static int
boundary_at(const struct pctx *ctx, size_t p, struct bline *bl)
{
	const char	*s = ctx->buf + p, *nl;
	size_t		 avail = ctx->len - p, i, best = 0, blen = 0;
	int		 found = 0;

	if (p >= ctx->len || avail < 2 || s[0] != '-' || s[1] != '-')
		return 0;
	s += 2;
	avail -= 2;
	for (i = ctx->nstack; i-- > 0;) {
		if (ctx->stack[i].len > avail || (found &&
		    ctx->stack[i].len <= blen) ||
		    memcmp(ctx->stack[i].s, s, ctx->stack[i].len) != 0)
			continue;
		found = 1;
		best = i;
		blen = ctx->stack[i].len;
	}
	if (!found)
		return 0;
	bl->found = 1;
	bl->level = best;
	bl->line = p;
	bl->close = avail >= blen + 2 && s[blen] == '-' && s[blen + 1] == '-';
	nl = memchr(s + blen, '\n', avail - blen);
	bl->next = nl != NULL ? (size_t)(nl - ctx->buf) + 1 : ctx->len;
	return 1;
}

/* The next delimiter line at or after p (p starts a line). */
static void
find_boundary(const struct pctx *ctx, size_t p, struct bline *bl)
{
	const char	*nl;

	if (ctx->nstack > 0) {
		while (p < ctx->len) {
			if (boundary_at(ctx, p, bl))
				return;
			if ((nl = memchr(ctx->buf + p, '\n', ctx->len - p)) ==
			    NULL)
				break;
			p = (size_t)(nl - ctx->buf) + 1;
		}
	}
	no_boundary(ctx, bl);
}

/* Where the content before a delimiter ends: its line break is not in. */
static size_t
content_end(const struct pctx *ctx, size_t start, const struct bline *bl)
{
	size_t	 e = bl->line;

	if (!bl->found)
		return ctx->len;
	if (e > start && ctx->buf[e - 1] == '\n') {
		e--;
		if (e > start && ctx->buf[e - 1] == '\r')
			e--;
	}
	return e;
}

/*
 * The header block at off: sets where it ends (after its blank line)
 * and where its blank line is (SIZE_MAX if none). 1 if a delimiter cut
 * it (bl set; the body is then empty).
 */
static int
scan_header(const struct pctx *ctx, size_t off, size_t *hdr_end,
    size_t *body_off, size_t *blank, struct bline *bl)
{
	const char	*buf = ctx->buf, *end = ctx->buf + ctx->len;
	size_t		 p = off, next;

	*blank = SIZE_MAX;
	while (p < ctx->len) {
		next = (size_t)(line_next(buf + p, end) - buf);
		if (is_blank_line(buf + p, end)) {
			*blank = p;
			*hdr_end = *body_off = next;
			return 0;
		}
		if (ctx->nstack > 0 && boundary_at(ctx, p, bl)) {
			*hdr_end = *body_off = content_end(ctx, off, bl);
			return 1;
		}
		p = next;
	}
	*hdr_end = *body_off = ctx->len;
	no_boundary(ctx, bl);
	return 0;
}

static size_t
count_lines(const char *s, size_t len, size_t *octets)
{
	const char	*p = s, *end = s + len, *nl;
	size_t		 n = 0, bare = 0;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		if (nl == s || nl[-1] != '\r')
			bare++;
		p = nl + 1;
	}
	/* IMAP counts octets as they go out, with CRLF line ends. */
	*octets = len + bare;
	return p < end ? n + 1 : n;
}

/* A message with nothing in it, at off. */
static void
empty_part(struct mime_part *p, size_t off)
{
	p->hdr_off = p->body_off = off;
	set_type(p, "text", "plain");
	p->encoding = xstrdup("7BIT");
	default_charset(p);
}

/* How a part is read, given the limits; types it cannot be are changed. */
static int
part_kind(const struct pctx *ctx, struct mime_part *p, size_t depth)
{
	const char	*b;

	if (strcmp(p->type, "multipart") == 0) {
		b = param_get(p->params, p->nparams, "boundary");
		/* A CR or LF in it (a quoted string may hold one) matches
		 * as the line breaks around it fall, which a relay may
		 * change: such a message would change its parts. */
		if (b == NULL || *b == '\0' || strlen(b) > MIME_MAX_BOUNDARY ||
		    strpbrk(b, "\r\n") != NULL) {
			set_type(p, "text", "plain");
			default_charset(p);
			return K_LEAF;
		}
		if (depth < MIME_MAX_DEPTH && ctx->nstack < MIME_MAX_DEPTH)
			return K_MULTIPART;
	} else if (strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 ||
	    strcmp(p->subtype, "global") == 0)) {
		if (depth < MIME_MAX_DEPTH && ctx->nparts < MIME_MAX_PARTS)
			return K_MESSAGE;
	} else
		return K_LEAF;
	set_type(p, "application", "octet-stream");
	return K_LEAF;
}

static void
parse_multipart(struct pctx *ctx, struct mime_part *part, size_t depth,
    struct bline *bl)
{
	struct mime_part	*child;
	struct bline		 b;
	const char		*bs;
	size_t			 level, cap = 0;
	int			 digest;

	bs = param_get(part->params, part->nparams, "boundary");
	digest = strcmp(part->subtype, "digest") == 0;
	level = ctx->nstack++;
	ctx->stack[level].s = bs;
	ctx->stack[level].len = strlen(bs);

	/* The preamble runs to the first delimiter. */
	find_boundary(ctx, part->body_off, &b);
	for (;;) {
		if (!b.found || b.level < level) {
			/* No close delimiter: it ends with its parent. */
			*bl = b;
			break;
		}
		if (b.close) {
			/* The epilogue runs to the parent's next delimiter. */
			ctx->nstack = level;
			find_boundary(ctx, b.next, bl);
			break;
		}
		if (ctx->nparts >= MIME_MAX_PARTS) {
			find_boundary(ctx, b.next, &b);
			continue;
		}
		if (part->nchildren == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			part->children = xreallocarray(part->children, cap,
			    sizeof(*part->children));
		}
		child = &part->children[part->nchildren++];
		memset(child, 0, sizeof(*child));
		ctx->nparts++;
		parse_entity(ctx, child, b.next, depth + 1, digest, &b);
	}
	ctx->nstack = level;
}

static void
parse_entity(struct pctx *ctx, struct mime_part *part, size_t off,
    size_t depth, int in_digest, struct bline *bl)
{
	struct bline	 b;
	const struct mime_part *last = NULL;
	const char	*own;
	size_t		 hdr_end, blank, end;
	int		 cut, kind;

	part->hdr_off = off;
	cut = scan_header(ctx, off, &hdr_end, &part->body_off, &blank, bl);
	part->hdr_len = hdr_end - off;
	parse_content(part, ctx->buf + off, part->hdr_len, in_digest,
	    &ctx->convs);
	kind = part_kind(ctx, part, depth);
	/*
	 * A delimiter right after the blank line takes the blank line's
	 * line break (RFC 2046 5.1.1), unless it is the part's own first
	 * delimiter: its own boundary, if it matches as long, wins.
	 */
	if (!cut && blank != SIZE_MAX && boundary_at(ctx, part->body_off, &b)) {
		own = kind == K_MULTIPART ? param_get(part->params,
		    part->nparams, "boundary") : NULL;
		if (own == NULL || strlen(own) < ctx->stack[b.level].len ||
		    ctx->len - part->body_off < strlen(own) + 2 ||
		    memcmp(ctx->buf + part->body_off + 2, own,
		    strlen(own)) != 0) {
			part->hdr_len = blank - off;
			part->body_off = blank;
			*bl = b;
			cut = 1;
		}
	}
	if (kind == K_MESSAGE) {
		part->message = xcalloc(1, sizeof(*part->message));
		ctx->nparts++;
	}
	if (cut) {
		/* A delimiter right after the header: an empty body. */
		if (kind == K_MESSAGE)
			empty_part(part->message, part->body_off);
		return;
	}
	if (kind == K_MULTIPART)
		parse_multipart(ctx, part, depth, bl);
	else if (kind == K_MESSAGE)
		parse_entity(ctx, part->message, part->body_off, depth + 1, 0,
		    bl);
	else
		find_boundary(ctx, part->body_off, bl);
	end = content_end(ctx, part->body_off, bl);
	/*
	 * In broken input ("--a\r\n--outer") the last part may start
	 * after the line break the parent would leave to the delimiter:
	 * the parent keeps it then, so that parts stay inside it.
	 */
	if (kind == K_MULTIPART && part->nchildren > 0)
		last = &part->children[part->nchildren - 1];
	else if (kind == K_MESSAGE)
		last = part->message;
	if (last != NULL && end < last->body_off + last->body_len)
		end = last->body_off + last->body_len;
	part->body_len = end - part->body_off;
	part->body_lines = count_lines(ctx->buf + part->body_off,
	    part->body_len, &part->body_octets);
	if (kind != K_MESSAGE && strcmp(part->type, "text") != 0)
		part->body_lines = 0;
}

static void
free_part(struct mime_part *p)
{
	size_t	 i;

	free(p->type);
	free(p->subtype);
	free_params(p->params, p->nparams);
	free(p->id);
	free(p->description);
	free(p->encoding);
	free(p->md5);
	free(p->disposition);
	free_params(p->disp_params, p->ndisp_params);
	free(p->language);
	free(p->location);
	for (i = 0; i < p->nchildren; i++)
		free_part(&p->children[i]);
	free(p->children);
	if (p->message != NULL) {
		free_part(p->message);
		free(p->message);
	}
}

struct mime_msg *
mime_parse(const char *msg, size_t len, const char **errstr)
{
	struct mime_msg	*m;
	struct pctx	 ctx;
	struct bline	 bl;

	if (msg == NULL && len > 0) {
		if (errstr != NULL)
			*errstr = "no message";
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->buf = msg != NULL ? msg : "";
	m->len = len;
	memset(&ctx, 0, sizeof(ctx));
	ctx.buf = m->buf;
	ctx.len = len;
	ctx.nparts = 1;
	convs_init(&ctx.convs);
	parse_entity(&ctx, &m->root, 0, 0, 0, &bl);
	convs_free(&ctx.convs);
	m->nparts = ctx.nparts;
	return m;
}

void
mime_free(struct mime_msg *m)
{
	if (m == NULL)
		return;
	free_part(&m->root);
	free(m);
}

const struct mime_part *
mime_root(const struct mime_msg *m)
{
	return &m->root;
}

const char *
mime_param(const struct mime_part *p, const char *name)
{
	size_t	 i;

	for (i = 0; i < p->nparams; i++)
		if (strcasecmp(p->params[i].name, name) == 0)
			return p->params[i].value;
	return NULL;
}

size_t
mime_nparts(const struct mime_msg *m)
{
	return m->nparts;
}

/*
 * Addresses (RFC 5322 3.4), read the way IMAP shows them: display names
 * unquoted with their words joined by one space, RFC 2047 words left
 * alone; the local part unquoted; groups as start and end markers.
 * Whatever does not parse still gives something, never an error.
 */

#define A_MAILBOX	0
#define A_GROUP		1	/* mailbox holds the group name */
#define A_END		2

struct addr {
	char	*name;
	char	*adl;
	char	*mailbox;
	char	*host;
	int	 kind;
};

struct addrlist {
	struct addr	*v;
	size_t		 n, cap;
};

#define AT_END		0
#define AT_ATOM		1
#define AT_QUOTED	2	/* s: inside the quotes, still escaped */
#define AT_DLIT		3	/* s: with its brackets */
#define AT_SPECIAL	4

struct atok {
	int		 type;
	const char	*s;
	size_t		 len;
	int		 c;		/* AT_SPECIAL */
	int		 ws;		/* white space or a comment before it */
};

struct alex {
	const char	*p;
	const char	*end;
	const char	*comment;	/* the last comment seen */
	size_t		 commentlen;
};

static int
is_aspecial(int c)
{
	return c != '\0' && strchr("()<>[]:;@\\,.\"", c) != NULL;
}

static void
alex_next(struct alex *lx, struct atok *t)
{
	const char	*s;
	size_t		 depth;

	t->ws = 0;
	for (;;) {
		if (lx->p >= lx->end) {
			t->type = AT_END;
			return;
		}
		if (is_fws(*lx->p)) {
			lx->p++;
			t->ws = 1;
			continue;
		}
		if (*lx->p != '(')
			break;
		s = lx->p + 1;
		for (depth = 0; lx->p < lx->end; lx->p++) {
			if (*lx->p == '\\') {
				if (lx->p + 1 < lx->end)
					lx->p++;
			} else if (*lx->p == '(')
				depth++;
			else if (*lx->p == ')' && --depth == 0)
				break;
		}
		lx->comment = s;
		lx->commentlen = (size_t)(lx->p - s);
		if (lx->p < lx->end)
			lx->p++;
		t->ws = 1;
	}
	s = lx->p;
	if (*s == '"') {
		for (lx->p++; lx->p < lx->end && *lx->p != '"'; lx->p++)
			if (*lx->p == '\\' && lx->p + 1 < lx->end)
				lx->p++;
		t->type = AT_QUOTED;
		t->s = s + 1;
		t->len = (size_t)(lx->p - t->s);
		if (lx->p < lx->end)
			lx->p++;
	} else if (*s == '[') {
		for (lx->p++; lx->p < lx->end && *lx->p != ']'; lx->p++)
			if (*lx->p == '\\' && lx->p + 1 < lx->end)
				lx->p++;
		if (lx->p < lx->end)
			lx->p++;
		t->type = AT_DLIT;
		t->s = s;
		t->len = (size_t)(lx->p - s);
	} else if (is_aspecial((unsigned char)*s)) {
		t->type = AT_SPECIAL;
		t->c = (unsigned char)*s;
		lx->p++;
	} else {
		while (lx->p < lx->end && !is_fws(*lx->p) &&
		    !is_aspecial((unsigned char)*lx->p))
			lx->p++;
		t->type = AT_ATOM;
		t->s = s;
		t->len = (size_t)(lx->p - s);
	}
}

static int
is_special(const struct atok *t, int c)
{
	return t->type == AT_SPECIAL && t->c == c;
}

/* The text of a token: quoted strings unescaped. */
static void
tok_add(struct buf *b, const struct atok *t)
{
	size_t	 i, start;

	switch (t->type) {
	case AT_SPECIAL:
		(void)buf_addc(b, t->c);
		break;
	case AT_QUOTED:
		for (i = start = 0; i < t->len; i++) {
			if (t->s[i] != '\\' || i + 1 == t->len)
				continue;
			(void)buf_add(b, t->s + start, i - start);
			start = ++i;
		}
		(void)buf_add(b, t->s + start, t->len - start);
		break;
	default:
		(void)buf_add(b, t->s, t->len);
		break;
	}
}

/* The buffer as a string, NULL if empty; the buffer is emptied. */
static char *
buf_take(struct buf *b)
{
	char	*s;

	if (b->len == 0)
		return NULL;
	s = dupn(b->data, b->len);
	buf_reset(b);
	return s;
}

static struct addr *
addr_add(struct addrlist *al, int kind)
{
	struct addr	*a;

	if (al->n == al->cap) {
		al->cap = al->cap == 0 ? 4 : al->cap * 2;
		al->v = xreallocarray(al->v, al->cap, sizeof(*al->v));
	}
	a = &al->v[al->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

static void
addrs_free(struct addrlist *al)
{
	size_t	 i;

	for (i = 0; i < al->n; i++) {
		free(al->v[i].name);
		free(al->v[i].adl);
		free(al->v[i].mailbox);
		free(al->v[i].host);
	}
	free(al->v);
	memset(al, 0, sizeof(*al));
}

/* Tokens up to the next ',' or ';' are junk. */
static void
skip_to_sep(struct alex *lx, struct atok *t)
{
	while (t->type != AT_END && !is_special(t, ',') && !is_special(t, ';'))
		alex_next(lx, t);
}

/* domain = dot-atom / domain-literal / obs-domain, joined. */
static char *
parse_domain(struct alex *lx, struct atok *t, struct buf *b)
{
	while (t->type == AT_ATOM || t->type == AT_DLIT || is_special(t, '.')) {
		tok_add(b, t);
		alex_next(lx, t);
	}
	return buf_take(b);
}

/* angle-addr after its '<': [obs-route ":"] addr-spec ">". */
static void
parse_angle(struct alex *lx, struct atok *t, struct addr *a, struct buf *b)
{
	if (is_special(t, '@')) {
		while (t->type != AT_END && !is_special(t, ':') &&
		    !is_special(t, '>')) {
			tok_add(b, t);
			alex_next(lx, t);
		}
		if (is_special(t, ':')) {
			a->adl = buf_take(b);
			alex_next(lx, t);
		} else
			buf_reset(b);
	}
	while (t->type == AT_ATOM || t->type == AT_QUOTED ||
	    is_special(t, '.')) {
		tok_add(b, t);
		alex_next(lx, t);
	}
	a->mailbox = buf_take(b);
	if (is_special(t, '@')) {
		alex_next(lx, t);
		a->host = parse_domain(lx, t, b);
	}
	while (t->type != AT_END && !is_special(t, '>') &&
	    !is_special(t, ',') && !is_special(t, ';'))
		alex_next(lx, t);
	if (is_special(t, '>'))
		alex_next(lx, t);
}

static void
addrs_parse(const char *v, struct addrlist *al)
{
	struct buf	 phrase = BUF_INIT(SIZE_MAX);
	struct buf	 local = BUF_INIT(SIZE_MAX);
	struct alex	 lx;
	struct atok	 t;
	struct addr	*a;
	int		 in_group = 0;

	memset(al, 0, sizeof(*al));
	if (v == NULL)
		return;
	memset(&lx, 0, sizeof(lx));
	lx.p = v;
	lx.end = v + strlen(v);
	alex_next(&lx, &t);
	while (t.type != AT_END && al->n < MIME_MAX_ADDRS) {
		if (is_special(&t, ',')) {
			alex_next(&lx, &t);
			continue;
		}
		if (is_special(&t, ';')) {
			if (in_group) {
				(void)addr_add(al, A_END);
				in_group = 0;
			}
			alex_next(&lx, &t);
			continue;
		}
		/* Words: a display name, or a local part if '@' follows. */
		buf_reset(&phrase);
		buf_reset(&local);
		lx.comment = NULL;
		while (t.type != AT_END && !is_special(&t, '<') &&
		    !is_special(&t, ':') && !is_special(&t, '@') &&
		    !is_special(&t, ',') && !is_special(&t, ';')) {
			if (phrase.len > 0 && t.ws)
				(void)buf_addc(&phrase, ' ');
			tok_add(&phrase, &t);
			tok_add(&local, &t);
			alex_next(&lx, &t);
		}
		if (is_special(&t, ':')) {
			alex_next(&lx, &t);
			if (in_group)
				continue;	/* groups do not nest */
			a = addr_add(al, A_GROUP);
			a->mailbox = phrase.len > 0 ? buf_take(&phrase) :
			    xstrdup("");
			in_group = 1;
		} else if (is_special(&t, '<')) {
			alex_next(&lx, &t);
			a = addr_add(al, A_MAILBOX);
			a->name = buf_take(&phrase);
			buf_reset(&local);
			parse_angle(&lx, &t, a, &local);
			skip_to_sep(&lx, &t);
		} else if (is_special(&t, '@')) {
			alex_next(&lx, &t);
			a = addr_add(al, A_MAILBOX);
			a->mailbox = buf_take(&local);
			a->host = parse_domain(&lx, &t, &local);
			/* "user@host (Name)": the comment names it. */
			if (lx.comment != NULL) {
				a->name = unfold(lx.comment, lx.commentlen);
				if (*a->name == '\0') {
					free(a->name);
					a->name = NULL;
				}
			}
			skip_to_sep(&lx, &t);
		} else if (local.len > 0) {
			/* A bare word: a mailbox without a domain. */
			a = addr_add(al, A_MAILBOX);
			a->mailbox = buf_take(&local);
		}
	}
	if (in_group)
		(void)addr_add(al, A_END);
	buf_free(&phrase);
	buf_free(&local);
}

/*
 * IMAP rendering.
 */

static void
add_str(struct buf *b, const char *s, int utf8)
{
	(void)imap_add_string(b, s, strlen(s), utf8);
}

static void
add_nstr(struct buf *b, const char *s, int utf8)
{
	if (s == NULL)
		(void)buf_addstr(b, "NIL");
	else
		add_str(b, s, utf8);
}

static void
add_addrs(struct buf *b, const struct addrlist *al, int utf8)
{
	const struct addr	*a;
	size_t			 i;

	if (al->n == 0) {
		(void)buf_addstr(b, "NIL");
		return;
	}
	(void)buf_addc(b, '(');
	for (i = 0; i < al->n; i++) {
		a = &al->v[i];
		if (a->kind == A_END) {
			(void)buf_addstr(b, "(NIL NIL NIL NIL)");
			continue;
		}
		if (a->kind == A_GROUP) {
			(void)buf_addstr(b, "(NIL NIL ");
			add_str(b, a->mailbox, utf8);
			(void)buf_addstr(b, " NIL)");
			continue;
		}
		/* As Dovecot does: never a NIL host, which means a group. */
		(void)buf_addc(b, '(');
		add_nstr(b, a->name, utf8);
		(void)buf_addc(b, ' ');
		add_nstr(b, a->adl, utf8);
		(void)buf_addc(b, ' ');
		add_str(b, a->mailbox != NULL ? a->mailbox : "MISSING_MAILBOX",
		    utf8);
		(void)buf_addc(b, ' ');
		add_str(b, a->host != NULL ? a->host : "MISSING_DOMAIN", utf8);
		(void)buf_addc(b, ')');
	}
	(void)buf_addc(b, ')');
}

#define E_DATE		0
#define E_SUBJECT	1
#define E_FROM		2
#define E_SENDER	3
#define E_REPLY_TO	4
#define E_TO		5
#define E_CC		6
#define E_BCC		7
#define E_IN_REPLY_TO	8
#define E_MESSAGE_ID	9
#define E_N		10

static const char *const env_fields[E_N] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id"
};

static void
render_envelope(const struct mime_msg *m, const struct mime_part *mp,
    struct buf *b, int utf8)
{
	struct addrlist	 al[E_N];
	struct hiter	 it;
	struct hfield	 f;
	char		*v[E_N];
	size_t		 i;

	memset(v, 0, sizeof(v));
	hiter_init(&it, m->buf + mp->hdr_off, mp->hdr_len, 1);
	while (hiter_next(&it, &f))
		for (i = 0; i < E_N; i++)
			if (v[i] == NULL && ci_eq(f.name, f.namelen,
			    env_fields[i])) {
				v[i] = unfold(f.value, f.valuelen);
				break;
			}
	for (i = E_FROM; i <= E_BCC; i++)
		addrs_parse(v[i], &al[i]);
	(void)buf_addc(b, '(');
	add_nstr(b, v[E_DATE], utf8);
	(void)buf_addc(b, ' ');
	add_nstr(b, v[E_SUBJECT], utf8);
	for (i = E_FROM; i <= E_BCC; i++) {
		(void)buf_addc(b, ' ');
		/* RFC 9051 7.5.2: sender and reply-to default to from. */
		if ((i == E_SENDER || i == E_REPLY_TO) && al[i].n == 0)
			add_addrs(b, &al[E_FROM], utf8);
		else
			add_addrs(b, &al[i], utf8);
	}
	(void)buf_addc(b, ' ');
	add_nstr(b, v[E_IN_REPLY_TO], utf8);
	(void)buf_addc(b, ' ');
	add_nstr(b, v[E_MESSAGE_ID], utf8);
	(void)buf_addc(b, ')');
	for (i = E_FROM; i <= E_BCC; i++)
		addrs_free(&al[i]);
	for (i = 0; i < E_N; i++)
		free(v[i]);
}

int
mime_envelope(const struct mime_msg *m, const struct mime_part *msgpart,
    struct buf *b, int utf8)
{
	render_envelope(m, msgpart != NULL ? msgpart : &m->root, b, utf8);
	return b->over ? -1 : 0;
}

/* RFC 2231 attribute-char. */
static int
is_attr_char(int c)
{
	return is_token(c) && c != '*' && c != '\'' && c != '%';
}

/*
 * Parameters (RFC 9051 7.5.2): a value that came in RFC 2231 form goes
 * out as "name*", in UTF-8 to a UTF-8 client, else re-encoded as
 * utf-8''%XX so that the client still gets the right characters.
 */
static void
add_params(struct buf *b, const struct mime_param *pa, size_t n, int utf8)
{
	struct buf	 t = BUF_INIT(SIZE_MAX);
	const char	*s;
	size_t		 i;

	if (n == 0) {
		(void)buf_addstr(b, "NIL");
		return;
	}
	(void)buf_addc(b, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			(void)buf_addc(b, ' ');
		if (!pa[i].extended) {
			add_str(b, pa[i].name, utf8);
			(void)buf_addc(b, ' ');
			add_str(b, pa[i].value, utf8);
			continue;
		}
		buf_reset(&t);
		(void)buf_printf(&t, "%s*", pa[i].name);
		(void)imap_add_string(b, t.data, t.len, utf8);
		(void)buf_addc(b, ' ');
		if (utf8) {
			add_str(b, pa[i].value, utf8);
			continue;
		}
		buf_reset(&t);
		(void)buf_addstr(&t, "utf-8''");
		for (s = pa[i].value; *s != '\0'; s++)
			if (is_attr_char((unsigned char)*s))
				(void)buf_addc(&t, *s);
			else
				(void)buf_printf(&t, "%%%02X",
				    (unsigned char)*s);
		(void)imap_add_string(b, t.data, t.len, 0);
	}
	(void)buf_addc(b, ')');
	buf_free(&t);
}

static void
add_disposition(struct buf *b, const struct mime_part *p, int utf8)
{
	if (p->disposition == NULL) {
		(void)buf_addstr(b, "NIL");
		return;
	}
	(void)buf_addc(b, '(');
	add_str(b, p->disposition, utf8);
	(void)buf_addc(b, ' ');
	add_params(b, p->disp_params, p->ndisp_params, utf8);
	(void)buf_addc(b, ')');
}

/* Content-Language: a list of tags, always as a list (as Dovecot). */
static void
add_language(struct buf *b, const char *lang, int utf8)
{
	struct lex	 lx;
	const char	*tok;
	size_t		 len, n = 0;

	if (lang != NULL) {
		lex_init(&lx, lang);
		for (;;) {
			skip_cfws(&lx);
			if (lx.p >= lx.end || n == MAX_LANG_TAGS)
				break;
			if ((len = lex_token(&lx, &tok)) == 0) {
				lx.p++;		/* ',' or junk */
				continue;
			}
			(void)buf_addc(b, n++ == 0 ? '(' : ' ');
			(void)imap_add_string(b, tok, len, utf8);
		}
	}
	(void)buf_addstr(b, n > 0 ? ")" : "NIL");
}

static void
render_body(const struct mime_msg *m, const struct mime_part *p, int ext,
    struct buf *b, int utf8)
{
	size_t	 i;

	(void)buf_addc(b, '(');
	if (strcmp(p->type, "multipart") == 0) {
		/* body-type-mpart needs a part: as Dovecot, an empty one. */
		if (p->nchildren == 0)
			(void)buf_addstr(b, ext ?
			    EMPTY_BODY " NIL NIL NIL NIL)" : EMPTY_BODY ")");
		for (i = 0; i < p->nchildren; i++)
			render_body(m, &p->children[i], ext, b, utf8);
		(void)buf_addc(b, ' ');
		add_str(b, p->subtype, utf8);
		if (ext) {
			(void)buf_addc(b, ' ');
			add_params(b, p->params, p->nparams, utf8);
			(void)buf_addc(b, ' ');
			add_disposition(b, p, utf8);
			(void)buf_addc(b, ' ');
			add_language(b, p->language, utf8);
			(void)buf_addc(b, ' ');
			add_nstr(b, p->location, utf8);
		}
		(void)buf_addc(b, ')');
		return;
	}
	add_str(b, p->type, utf8);
	(void)buf_addc(b, ' ');
	add_str(b, p->subtype, utf8);
	(void)buf_addc(b, ' ');
	add_params(b, p->params, p->nparams, utf8);
	(void)buf_addc(b, ' ');
	add_nstr(b, p->id, utf8);
	(void)buf_addc(b, ' ');
	add_nstr(b, p->description, utf8);
	(void)buf_addc(b, ' ');
	add_str(b, p->encoding, utf8);
	(void)buf_printf(b, " %zu", p->body_octets);
	if (p->message != NULL) {
		(void)buf_addc(b, ' ');
		render_envelope(m, p->message, b, utf8);
		(void)buf_addc(b, ' ');
		render_body(m, p->message, ext, b, utf8);
		(void)buf_printf(b, " %zu", p->body_lines);
	} else if (strcmp(p->type, "text") == 0)
		(void)buf_printf(b, " %zu", p->body_lines);
	if (ext) {
		(void)buf_addc(b, ' ');
		add_nstr(b, p->md5, utf8);
		(void)buf_addc(b, ' ');
		add_disposition(b, p, utf8);
		(void)buf_addc(b, ' ');
		add_language(b, p->language, utf8);
		(void)buf_addc(b, ' ');
		add_nstr(b, p->location, utf8);
	}
	(void)buf_addc(b, ')');
}

int
mime_bodystructure(const struct mime_msg *m, const struct mime_part *p,
    int extended, struct buf *b, int utf8)
{
	render_body(m, p != NULL ? p : &m->root, extended, b, utf8);
	return b->over ? -1 : 0;
}

/*
 * Sections.
 */

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An astring (RFC 9051: atom, quoted string or literal) at *pp. */
static char *
section_astring(const char **pp, const char *end)
{
	struct buf	 b = BUF_INIT(SIZE_MAX);
	const char	*p = *pp, *s;
	size_t		 n = 0;

	if (p < end && *p == '"') {
		for (s = ++p; p < end && *p != '"'; p++) {
			if (*p == '\r' || *p == '\n')
				goto bad;
			if (*p == '\\') {
				if (p + 1 == end || (p[1] != '"' &&
				    p[1] != '\\'))
					goto bad;
				(void)buf_add(&b, s, (size_t)(p - s));
				s = ++p;
			}
		}
		if (p == end)
			goto bad;
		(void)buf_add(&b, s, (size_t)(p - s));
		*pp = p + 1;
		return buf_release(&b, NULL);
	}
	if (p < end && *p == '{') {
		if (++p == end || !is_digit((unsigned char)*p))
			goto bad;
		for (; p < end && is_digit((unsigned char)*p); p++)
			if ((n = n * 10 + (size_t)(*p - '0')) > MIME_MAX_VALUE)
				goto bad;
		if (p < end && *p == '+')
			p++;
		if (end - p < 3 || p[0] != '}' || p[1] != '\r' ||
		    p[2] != '\n' || (size_t)(end - p - 3) < n)
			goto bad;
		*pp = p + 3 + n;
		return dupn(p + 3, n);
	}
	for (s = p; p < end && (imap_atom_char((unsigned char)*p) ||
	    *p == ']'); p++)
		;
	if (p == s)
		goto bad;
	*pp = p;
	return dupn(s, (size_t)(p - s));
 bad:
	buf_free(&b);
	return NULL;
}

static int
section_fields(const char *p, const char *end, struct mime_section *sec,
    const char **errstr)
{
	char	*name;
	size_t	 i, j;

	if (p == end || *p != '(') {
		*errstr = "header list expected";
		return -1;
	}
	p++;
	for (;;) {
		if ((name = section_astring(&p, end)) == NULL) {
			*errstr = "invalid header field name";
			return -1;
		}
		if (sec->nfields == MIME_SECTION_MAX_FIELDS) {
			free(name);
			*errstr = "too many header field names";
			return -1;
		}
		for (i = 0; name[i] != '\0'; i++)
			name[i] = (char)lower((unsigned char)name[i]);
		sec->fields = xreallocarray(sec->fields, sec->nfields + 1,
		    sizeof(*sec->fields));
		sec->fields[sec->nfields++] = name;
		if (p < end && *p == ' ') {
			p++;
			continue;
		}
		if (p < end && *p == ')') {
			p++;
			break;
		}
		*errstr = "invalid header list";
		return -1;
	}
	if (p != end) {
		*errstr = "junk after the header list";
		return -1;
	}
	qsort(sec->fields, sec->nfields, sizeof(*sec->fields), strp_cmp);
	for (i = j = 0; i < sec->nfields; i++) {
		if (j > 0 && strcmp(sec->fields[j - 1], sec->fields[i]) == 0) {
			free(sec->fields[i]);
			continue;
		}
		sec->fields[j++] = sec->fields[i];
	}
	sec->nfields = j;
	return 0;
}

int
mime_section_parse(const char *spec, size_t len, struct mime_section *sec,
    const char **errstr)
{
	const char	*p = spec, *end = spec + len, *w;
	unsigned long	 n;

	memset(sec, 0, sizeof(*sec));
	sec->kind = MS_ALL;
	while (p < end && is_digit((unsigned char)*p)) {
		if (*p == '0') {
			*errstr = "invalid part number";
			return -1;
		}
		for (n = 0; p < end && is_digit((unsigned char)*p); p++)
			if ((n = n * 10 + (unsigned long)(*p - '0')) >
			    UINT32_MAX) {
				*errstr = "part number too large";
				return -1;
			}
		if (sec->npath == MIME_SECTION_MAX_PATH) {
			*errstr = "section path too deep";
			return -1;
		}
		sec->path[sec->npath++] = (unsigned)n;
		if (p == end) {
			sec->kind = MS_PART;
			return 0;
		}
		if (*p != '.' || ++p == end) {
			*errstr = "invalid section";
			return -1;
		}
	}
	if (p == end)
		return 0;	/* [] */
	for (w = p; p < end && *p != ' '; p++)
		;
	if (ci_eq(w, (size_t)(p - w), "header"))
		sec->kind = MS_HEADER;
	else if (ci_eq(w, (size_t)(p - w), "text"))
		sec->kind = MS_TEXT;
	else if (ci_eq(w, (size_t)(p - w), "mime") && sec->npath > 0)
		sec->kind = MS_MIME;
	else if (ci_eq(w, (size_t)(p - w), "header.fields"))
		sec->kind = MS_HEADER_FIELDS;
	else if (ci_eq(w, (size_t)(p - w), "header.fields.not"))
		sec->kind = MS_HEADER_FIELDS_NOT;
	else {
		*errstr = "invalid section";
		return -1;
	}
	if (sec->kind == MS_HEADER_FIELDS ||
	    sec->kind == MS_HEADER_FIELDS_NOT) {
		if (p == end || section_fields(p + 1, end, sec, errstr) == -1) {
			if (p == end)
				*errstr = "header list expected";
			mime_section_free(sec);
			return -1;
		}
	} else if (p != end) {
		*errstr = "junk after the section";
		return -1;
	}
	return 0;
}

void
mime_section_free(struct mime_section *sec)
{
	size_t	 i;

	for (i = 0; i < sec->nfields; i++)
		free(sec->fields[i]);
	free(sec->fields);
	sec->fields = NULL;
	sec->nfields = 0;
}

/*
 * The part a path names (RFC 9051 6.4.5), NULL if none (or no path).
 * The numbers of a message/rfc822 part go on in the enclosed message;
 * a message that is not multipart has one part, 1: its body.
 */
static const struct mime_part *
section_part(const struct mime_msg *m, const struct mime_section *sec)
{
	const struct mime_part	*p = NULL, *c;
	size_t			 i;
	unsigned		 n;

	for (i = 0; i < sec->npath; i++) {
		n = sec->path[i];
		c = p == NULL ? &m->root : p->message != NULL ? p->message : p;
		if (strcmp(c->type, "multipart") == 0) {
			if (n == 0 || n > c->nchildren)
				return NULL;
			p = &c->children[n - 1];
		} else if (n == 1 && (p == NULL || p->message != NULL))
			p = c;
		else
			return NULL;
	}
	return p;
}

/* 1 if name (len bytes) is in the sorted lower-case list. */
static int
field_listed(const struct mime_section *sec, const char *name, size_t len)
{
	const char	*s;
	size_t		 lo = 0, hi = sec->nfields, mid, i;
	int		 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		s = sec->fields[mid];
		c = 0;
		for (i = 0; i < len && c == 0; i++) {
			if (s[i] == '\0')
				c = 1;
			else
				c = lower((unsigned char)name[i]) -
				    (unsigned char)s[i];
		}
		if (c == 0 && s[len] != '\0')
			c = -1;
		if (c == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

static void
slice(const struct mime_msg *m, size_t off, size_t len, const char **out,
    size_t *outlen)
{
	*out = m->buf + off;
	*outlen = len;
}

int
mime_section_get(const struct mime_msg *m, const struct mime_section *sec,
    const char **out, size_t *outlen, struct buf *b)
{
	const struct mime_part	*p, *mp;
	struct hiter		 it;
	struct hfield		 f;
	const char		*eol;
	size_t			 start;
	int			 want;

	*out = NULL;
	*outlen = 0;
	if (sec->kind == MS_ALL) {
		if (sec->npath > 0)
			return -1;
		slice(m, 0, m->len, out, outlen);
		return 0;
	}
	p = section_part(m, sec);
	if (sec->kind == MS_PART || sec->kind == MS_MIME) {
		if (p == NULL)
			return -1;
		if (sec->kind == MS_PART)
			slice(m, p->body_off, p->body_len, out, outlen);
		else
			slice(m, p->hdr_off, p->hdr_len, out, outlen);
		return 0;
	}
	/* HEADER, HEADER.FIELDS and TEXT are of a message. */
	if (sec->npath == 0)
		mp = &m->root;
	else if (p != NULL && p->message != NULL)
		mp = p->message;
	else
		return -1;
	if (sec->kind == MS_HEADER) {
		slice(m, mp->hdr_off, mp->hdr_len, out, outlen);
		return 0;
	}
	if (sec->kind == MS_TEXT) {
		slice(m, mp->body_off, mp->body_len, out, outlen);
		return 0;
	}
	want = sec->kind == MS_HEADER_FIELDS;
	start = b->len;
	eol = header_eol(m->buf + mp->hdr_off, mp->hdr_len);
	hiter_init(&it, m->buf + mp->hdr_off, mp->hdr_len, 0);
	while (hiter_next(&it, &f)) {
		if (field_listed(sec, f.name, f.namelen) != want)
			continue;
		(void)buf_add(b, f.raw, f.rawlen);
		if (f.raw[f.rawlen - 1] != '\n')
			(void)buf_addstr(b, eol);
	}
	(void)buf_addstr(b, eol);
	if (b->over)
		return -1;
	*out = b->data + start;
	*outlen = b->len - start;
	return 0;
}

int
mime_section_binary(const struct mime_msg *m, const struct mime_section *sec,
    struct buf *b, const char **errstr)
{
	const struct mime_part	*p;

	if (sec->kind == MS_ALL && sec->npath == 0) {
		(void)buf_add(b, m->buf, m->len);
	} else if (sec->kind != MS_PART) {
		*errstr = "bad section";
		return -1;
	} else if ((p = section_part(m, sec)) == NULL) {
		*errstr = "no such part";
		return -1;
	} else if (cte_decode(p->encoding, m->buf + p->body_off, p->body_len,
	    b) == -1) {
		*errstr = "unknown-cte";
		return -1;
	}
	if (b->over) {
		*errstr = "too large";
		return -1;
	}
	return 0;
}

int
mime_part_decode(const struct mime_msg *m, const struct mime_part *p,
    struct buf *b)
{
	if (cte_decode(p->encoding, m->buf + p->body_off, p->body_len,
	    b) == -1 || b->over)
		return -1;
	return 0;
}

/*
 * Header access.
 */

char *
mime_header(const struct mime_msg *m, const struct mime_part *p,
    const char *name, int all)
{
	struct buf	 b = BUF_INIT(MIME_MAX_HEADER);
	struct hiter	 it;
	struct hfield	 f;
	char		*v;
	int		 found = 0;

	if (p == NULL)
		p = &m->root;
	hiter_init(&it, m->buf + p->hdr_off, p->hdr_len, 1);
	while (hiter_next(&it, &f)) {
		if (!ci_eq(f.name, f.namelen, name))
			continue;
		v = unfold(f.value, f.valuelen);
		if (!all)
			return v;
		if (found)
			(void)buf_addc(&b, '\n');
		(void)buf_addstr(&b, v);
		free(v);
		found = 1;
	}
	if (!found)
		return NULL;
	return buf_release(&b, NULL);
}

/*
 * RFC 2047 encoded-words: "=?charset[*lang]?B|Q?text?=", no white space
 * inside. White space between two of them goes; adjacent words in one
 * charset are converted together, so that a character split between
 * them survives.
 */

struct eword {
	const char	*cs;
	size_t		 cslen;
	int		 enc;		/* 'B' or 'Q' */
	const char	*text;
	size_t		 textlen;
	const char	*end;		/* after "?=" */
};

static int
eword_parse(const char *s, struct eword *w)
{
	const char	*p = s + 2, *star;

	w->cs = p;
	while (is_token((unsigned char)*p))
		p++;
	if (*p != '?' || p == w->cs)
		return 0;
	w->cslen = (size_t)(p - w->cs);
	if ((star = memchr(w->cs, '*', w->cslen)) != NULL)
		w->cslen = (size_t)(star - w->cs);	/* RFC 2231 5 */
	if (w->cslen == 0 || w->cslen > MAX_CHARSET)
		return 0;
	p++;
	if (*p == 'B' || *p == 'b')
		w->enc = 'B';
	else if (*p == 'Q' || *p == 'q')
		w->enc = 'Q';
	else
		return 0;
	if (*++p != '?')
		return 0;
	w->text = ++p;
	for (;; p++) {
		if (*p < 0x21 || *p > 0x7e || p - s >= MAX_EWORD)
			return 0;
		if (*p == '?')
			break;
	}
	if (p[1] != '=')
		return 0;
	w->textlen = (size_t)(p - w->text);
	w->end = p + 2;
	return 1;
}

static void
eword_decode(const struct eword *w, struct buf *b)
{
	size_t	 i;
	int	 hi, lo;

	if (w->enc == 'B') {
		(void)b64_decode(w->text, w->textlen, b);
		return;
	}
	for (i = 0; i < w->textlen; i++) {
		if (w->text[i] == '_')
			(void)buf_addc(b, ' ');
		else if (w->text[i] == '=' && i + 2 < w->textlen &&
		    (hi = hex_val((unsigned char)w->text[i + 1])) >= 0 &&
		    (lo = hex_val((unsigned char)w->text[i + 2])) >= 0) {
			(void)buf_addc(b, hi << 4 | lo);
			i += 2;
		} else
			(void)buf_addc(b, w->text[i]);
	}
}

struct dctx {
	struct buf	 out;
	struct buf	 pend;		/* decoded bytes in cur's charset */
	struct convs	*convs;
	struct conv	*cur;
};

/* Bytes are pending only after dctx_word() has chosen cur. */
static void
dctx_flush(struct dctx *d)
{
	if (d->pend.len == 0 || d->cur == NULL)
		return;
	(void)conv_run(d->cur, d->pend.data, d->pend.len, &d->out);
	buf_reset(&d->pend);
}

/* 1 if an encoded-word in a known charset starts at p. */
static int
dctx_word(struct dctx *d, const char *p, struct eword *w)
{
	if (p[0] != '=' || p[1] != '?' || !eword_parse(p, w))
		return 0;
	if (d->cur != NULL && ci_eq(w->cs, w->cslen, d->cur->name))
		return d->cur->kind != CONV_BAD;
	dctx_flush(d);
	d->cur = convs_get(d->convs, w->cs, w->cslen);
	return d->cur->kind != CONV_BAD;
}

static char *
decode_header(const char *value, struct convs *convs)
{
	struct dctx	 d;
	struct eword	 w;
	const char	*p = value, *q;
	size_t		 n;
	int		 after = 0;

	memset(&d, 0, sizeof(d));
	buf_init(&d.out, SIZE_MAX);
	buf_init(&d.pend, SIZE_MAX);
	d.convs = convs;
	while (*p != '\0') {
		if (dctx_word(&d, p, &w)) {
			eword_decode(&w, &d.pend);
			p = w.end;
			after = 1;
			continue;
		}
		if (after && is_fws(*p)) {
			for (q = p; is_fws(*q); q++)
				;
			if (dctx_word(&d, q, &w)) {
				p = q;
				continue;
			}
		}
		dctx_flush(&d);
		after = 0;
		if ((unsigned char)*p < 0x80) {
			for (q = p + 1; *q != '\0' && *q != '=' &&
			    (unsigned char)*q < 0x80; q++)
				;
			(void)buf_add(&d.out, p, (size_t)(q - p));
			p = q;
		} else if ((n = utf8_len(p, strlen(p))) > 0) {
			(void)buf_add(&d.out, p, n);
			p += n;
		} else {
			(void)buf_addstr(&d.out, UTF8_REPLACEMENT);
			p++;
		}
	}
	dctx_flush(&d);
	buf_free(&d.pend);
	return buf_release(&d.out, NULL);
}

char *
mime_decode_header(const char *value)
{
	struct convs	 convs;
	char		*s;

	convs_init(&convs);
	s = decode_header(value, &convs);
	convs_free(&convs);
	return s;
}

/*
 * Text for SEARCH.
 */

struct tctx {
	int		(*cb)(void *, const char *, size_t);
	void		*arg;
	size_t		 left;		/* of MIME_MAX_TEXT */
	int		 rc;
	int		 headers;
	int		 bodies;
	struct convs	 convs;
};

static void
text_emit(struct tctx *t, struct buf *b)
{
	if (b->over)
		t->left = 0;	/* cut: nothing more after this */
	else
		t->left -= b->len;
	if (b->len > 0)
		t->rc = t->cb(t->arg, b->data, b->len);
}

static void
text_header(const struct mime_msg *m, const struct mime_part *p,
    struct tctx *t)
{
	struct buf	 b = BUF_INIT(t->left);
	struct hiter	 it;
	struct hfield	 f;
	char		*u, *d;

	hiter_init(&it, m->buf + p->hdr_off, p->hdr_len, 1);
	while (!b.over && hiter_next(&it, &f)) {
		u = unfold(f.value, f.valuelen);
		d = decode_header(u, &t->convs);
		(void)buf_add(&b, f.name, f.namelen);
		(void)buf_addstr(&b, ": ");
		(void)buf_addstr(&b, d);
		(void)buf_addc(&b, '\n');
		free(d);
		free(u);
	}
	text_emit(t, &b);
	buf_free(&b);
}

static void
text_body(const struct mime_msg *m, const struct mime_part *p,
    struct tctx *t)
{
	struct buf	 raw = BUF_INIT(t->left), out = BUF_INIT(t->left);
	const char	*body = m->buf + p->body_off, *cs;

	if (cte_decode(p->encoding, body, p->body_len, &raw) == -1)
		(void)buf_add(&raw, body, p->body_len);
	cs = param_get(p->params, p->nparams, "charset");
	if (cs == NULL)
		cs = "us-ascii";
	(void)conv_run(convs_get(&t->convs, cs, strlen(cs)), raw.data !=
	    NULL ? raw.data : "", raw.len, &out);
	if (raw.over)
		out.over = 1;
	text_emit(t, &out);
	buf_free(&raw);
	buf_free(&out);
}

static void
text_walk(const struct mime_msg *m, const struct mime_part *p,
    struct tctx *t)
{
	size_t	 i;

	if (t->headers && t->rc == 0 && t->left > 0)
		text_header(m, p, t);
	if (strcmp(p->type, "multipart") == 0) {
		for (i = 0; i < p->nchildren; i++)
			text_walk(m, &p->children[i], t);
	} else if (p->message != NULL)
		text_walk(m, p->message, t);
	else if (t->bodies && t->rc == 0 && t->left > 0 &&
	    strcmp(p->type, "text") == 0)
		text_body(m, p, t);
}

int
mime_text(const struct mime_msg *m, int headers, int bodies,
    int (*cb)(void *, const char *, size_t), void *arg)
{
	struct tctx	 t;

	memset(&t, 0, sizeof(t));
	t.cb = cb;
	t.arg = arg;
	t.left = MIME_MAX_TEXT;
	t.headers = headers;
	t.bodies = bodies;
	convs_init(&t.convs);
	text_walk(m, &m->root, &t);
	convs_free(&t.convs);
	return t.rc;
}

/*
 * Dates (RFC 5322 3.3 and 4.3): day names are skipped, two- and
 * three-digit years widened, seconds optional, zone names and a missing
 * zone read as the RFC says (military letters as -0000).
 */

static void
date_skip(const char **pp)
{
	struct lex	 lx;

	lex_init(&lx, *pp);
	skip_cfws(&lx);
	*pp = lx.p;
}

static int
date_num(const char **pp, int maxdigits, int *v)
{
	const char	*p = *pp;
	int		 n = 0;

	for (*v = 0; is_digit((unsigned char)*p) && n < maxdigits; p++, n++)
		*v = *v * 10 + (*p - '0');
	if (n == 0 || is_digit((unsigned char)*p))
		return 0;
	*pp = p;
	return n;
}

static size_t
date_word(const char **pp, const char **w)
{
	const char	*p = *pp;

	*w = p;
	while (is_alpha((unsigned char)*p))
		p++;
	*pp = p;
	return (size_t)(p - *w);
}

static const struct {
	const char	*name;
	int		 minutes;
} date_zones[] = {
	{ "ut", 0 }, { "gmt", 0 }, { "z", 0 },
	{ "est", -5 * 60 }, { "edt", -4 * 60 },
	{ "cst", -6 * 60 }, { "cdt", -5 * 60 },
	{ "mst", -7 * 60 }, { "mdt", -6 * 60 },
	{ "pst", -8 * 60 }, { "pdt", -7 * 60 },
};

int
mime_parse_date(const char *value, time_t *out, int *tzoff)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
			    30, 31 };
	const char	*p = value, *w;
	size_t		 wl, i;
	int		 day, mon = -1, year, nd, hh, mm, ss = 0, zone = 0;
	int		 zh, sign;

	date_skip(&p);
	if (is_alpha((unsigned char)*p)) {
		(void)date_word(&p, &w);	/* day-of-week */
		date_skip(&p);
		if (*p == ',')
			p++;
		date_skip(&p);
	}
	if (date_num(&p, 2, &day) == 0)
		return -1;
	date_skip(&p);
	if (date_word(&p, &w) < 3)
		return -1;
	for (i = 0; i < 12; i++)
		if (lower((unsigned char)w[0]) == months[i * 3] &&
		    lower((unsigned char)w[1]) == months[i * 3 + 1] &&
		    lower((unsigned char)w[2]) == months[i * 3 + 2])
			mon = (int)i;
	if (mon < 0)
		return -1;
	date_skip(&p);
	if ((nd = date_num(&p, 4, &year)) == 0)
		return -1;
	if (nd == 2)
		year += year < 50 ? 2000 : 1900;
	else if (nd == 3)
		year += 1900;
	date_skip(&p);
	if (date_num(&p, 2, &hh) == 0)
		return -1;
	date_skip(&p);
	if (*p++ != ':')
		return -1;
	date_skip(&p);
	if (date_num(&p, 2, &mm) == 0)
		return -1;
	date_skip(&p);
	if (*p == ':') {
		p++;
		date_skip(&p);
		if (date_num(&p, 2, &ss) == 0)
			return -1;
		date_skip(&p);
	}
	if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (date_num(&p, 4, &zh) != 4 || zh % 100 > 59)
			return -1;
		zone = sign * (zh / 100 * 60 + zh % 100);
	} else if ((wl = date_word(&p, &w)) > 0) {
		for (i = 0; i < nitems(date_zones); i++)
			if (ci_eq(w, wl, date_zones[i].name))
				zone = date_zones[i].minutes;
	}
	if (day < 1 || day > mdays[mon] || (mon == 1 && day == 29 &&
	    (year % 4 != 0 || (year % 100 == 0 && year % 400 != 0))) ||
	    year < 1 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	*out = (time_t)(days_from_civil(year, mon + 1, day) * 86400 +
	    hh * 3600 + mm * 60 + ss - zone * 60);
	if (tzoff != NULL)
		*tzoff = zone;
	return 0;
}

/* osms_strlcpy that does not cut a UTF-8 sequence in two. */
static void
copy_chars(char *dst, const char *src, size_t size)
{
	size_t	 n;

	if (osms_strlcpy(dst, src, size) < size)
		return;
	for (n = size - 1; n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80;
	    n--)
		;
	dst[n] = '\0';
}

int
mime_first_address(const char *value, char *mailbox, size_t msize,
    char *display, size_t dsize)
{
	struct addrlist	 al;
	char		*d;
	size_t		 i;
	int		 rc = -1;

	if (msize > 0)
		mailbox[0] = '\0';
	if (dsize > 0)
		display[0] = '\0';
	addrs_parse(value, &al);
	for (i = 0; i < al.n; i++) {
		if (al.v[i].kind != A_MAILBOX)
			continue;
		if (msize > 0 && al.v[i].mailbox != NULL)
			copy_chars(mailbox, al.v[i].mailbox, msize);
		if (dsize > 0 && al.v[i].name != NULL) {
			d = mime_decode_header(al.v[i].name);
			copy_chars(display, d, dsize);
			free(d);
		}
		rc = 0;
		break;
	}
	addrs_free(&al);
	return rc;
}

/*
 * RFC 5256 2.1 base subject. Every step only moves the ends inwards;
 * where a run of [blobs] was already found not to lead to "Re:", it is
 * not walked again, so the whole is linear.
 */

/* subj-blob = "[" *BLOBCHAR "]" *WSP: its end, or 0. */
static size_t
subj_blob(const char *s, size_t i, size_t end)
{
	if (i >= end || s[i] != '[')
		return 0;
	for (i++; i < end && s[i] != '[' && s[i] != ']'; i++)
		;
	if (i >= end || s[i] != ']')
		return 0;
	for (i++; i < end && s[i] == ' '; i++)
		;
	return i;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":": its end, or 0. */
static size_t
subj_refwd(const char *s, size_t i, size_t end)
{
	size_t	 j;

	if (ci_prefix(s + i, end - i, "re"))
		i += 2;
	else if (ci_prefix(s + i, end - i, "fwd"))
		i += 3;
	else if (ci_prefix(s + i, end - i, "fw"))
		i += 2;
	else
		return 0;
	while (i < end && s[i] == ' ')
		i++;
	if ((j = subj_blob(s, i, end)) > 0)
		i = j;
	return i < end && s[i] == ':' ? i + 1 : 0;
}

char *
mime_base_subject(const char *raw)
{
	char	*s = mime_decode_header(raw);
	size_t	 i, n, start, end, q, r, stale = 0;
	int	 again;

	/* (1) Tabs and line breaks are spaces, runs of spaces one. */
	for (i = n = 0; s[i] != '\0'; i++) {
		if (s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
			s[i] = ' ';
		if (s[i] == ' ' && n > 0 && s[n - 1] == ' ')
			continue;
		s[n++] = s[i];
	}
	s[n] = '\0';
	start = 0;
	end = n;
	for (;;) {
		/* (2) subj-trailer: "(fwd)" and white space at the end. */
		for (;;) {
			if (end > start && s[end - 1] == ' ')
				end--;
			else if (end - start >= 5 &&
			    ci_prefix(s + end - 5, 5, "(fwd)"))
				end -= 5;
			else
				break;
		}
		/* (3)-(5) subj-leader and subj-blob at the start. */
		for (again = 1; again;) {
			again = 0;
			if (start < end && s[start] == ' ') {
				start++;
				again = 1;
				continue;
			}
			if (start >= stale) {
				for (q = start; (r = subj_blob(s, q, end)) > 0;)
					q = r;
				if ((r = subj_refwd(s, q, end)) > 0) {
					start = r;
					again = 1;
					continue;
				}
				stale = q;
			}
			if ((r = subj_blob(s, start, end)) > 0 && r < end) {
				start = r;
				again = 1;
			}
		}
		/* (6) "[fwd:" ... "]" around it all. */
		if (end - start >= 6 && ci_prefix(s + start, end - start,
		    "[fwd:") && s[end - 1] == ']') {
			start += 5;
			end--;
			stale = 0;
			continue;
		}
		break;
	}
	memmove(s, s + start, end - start);
	s[end - start] = '\0';
	return s;
}

size_t
mime_msgids(const char *value, char ***ids)
{
	struct buf	 b = BUF_INIT(MAX_MSGID + 2);
	struct lex	 lx;
	const char	*p;
	size_t		 n = 0;
	int		 ok;

	*ids = NULL;
	lex_init(&lx, value);
	while (n < MIME_MAX_MSGIDS) {
		skip_cfws(&lx);
		if (lx.p >= lx.end)
			break;
		if (*lx.p == '"') {
			free(lex_quoted(&lx));
			continue;
		}
		if (*lx.p != '<') {
			lx.p++;
			continue;
		}
		/* "<" up to ">", white space dropped; a new "<" restarts. */
		buf_reset(&b);
		(void)buf_addc(&b, '<');
		ok = 0;
		for (p = lx.p + 1; p < lx.end && *p != '<'; p++) {
			if (*p == '>') {
				ok = 1;
				p++;
				break;
			}
			if (!is_fws(*p))
				(void)buf_addc(&b, *p);
		}
		lx.p = p;
		if (!ok || b.len < 2 || buf_addc(&b, '>') == -1)
			continue;
		*ids = xreallocarray(*ids, n + 1, sizeof(**ids));
		(*ids)[n++] = dupn(b.data, b.len);
	}
	buf_free(&b);
	return n;
}
