/*
 * libFuzzer target for the MIME parser (lib/mail/mime.c).
 *
 * The input is a message, in a buffer of exactly its size (no NUL), so
 * that ASan sees any read past its end. Oracles:
 *  - the tree: offsets inside the message, children inside their
 *    parent's body, depth, part and parameter limits;
 *  - ENVELOPE and BODYSTRUCTURE/BODY of the root and of every enclosed
 *    message are read back with the RFC 9051 7.5.2 grammar: nothing but
 *    NIL, numbers, strings and parentheses, quoted strings 7-bit (or
 *    valid UTF-8 for a UTF-8 client), literals as long as announced,
 *    body-fld-octets equal to the part's size;
 *  - every section that exists is found where the tree says, a few that
 *    do not are not; HEADER.FIELDS output ends with its blank line;
 *  - BINARY output is no longer than the encoding allows;
 *  - text for SEARCH and decoded headers are valid UTF-8;
 *  - a parsed date prints and parses back to the same time.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mime.h"
#include "util.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {						\
	(void)fprintf(stderr, __VA_ARGS__);			\
	(void)fprintf(stderr, "\n");				\
	abort();						\
} while (0)

static const char	*msgbuf;
static size_t		 msglen;

/*
 * A reader for what mime.c renders.
 */
struct rd {
	const char	*p;
	const char	*end;
	int		 utf8;
};

static void
rd_expect(struct rd *r, const char *s)
{
	size_t	 n = strlen(s);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, s, n) != 0)
		FAIL("expected \"%s\" at \"%.40s\"", s, r->p);
	r->p += n;
}

static int
rd_peek(const struct rd *r, const char *s)
{
	size_t	 n = strlen(s);

	return (size_t)(r->end - r->p) >= n && memcmp(r->p, s, n) == 0;
}

static void
valid_utf8(const char *s, size_t len, const char *what)
{
	unsigned char	 tmp[5];
	size_t		 i, n;

	for (i = 0; i < len; i += n) {
		if ((unsigned char)s[i] < 0x80) {
			if (s[i] == '\0')
				FAIL("NUL in %s", what);
			n = 1;
			continue;
		}
		memset(tmp, 0, sizeof(tmp));
		memcpy(tmp, s + i, len - i < 4 ? len - i : 4);
		if ((n = utf8_seq(tmp)) == 0)
			FAIL("invalid UTF-8 in %s", what);
	}
}

/* string = quoted / literal */
static void
rd_string(struct rd *r)
{
	const char	*s;
	size_t		 n = 0;

	if (rd_peek(r, "\"")) {
		for (s = ++r->p; r->p < r->end && *r->p != '"'; r->p++) {
			if (*r->p == '\r' || *r->p == '\n' || *r->p == '\0')
				FAIL("CR, LF or NUL in a quoted string");
			if (*r->p == '\\') {
				if (++r->p == r->end || (*r->p != '"' &&
				    *r->p != '\\'))
					FAIL("bad quoted pair");
			} else if ((unsigned char)*r->p >= 0x80 && !r->utf8)
				FAIL("8-bit quoted string without UTF-8");
		}
		if (r->p == r->end)
			FAIL("unterminated quoted string");
		valid_utf8(s, (size_t)(r->p - s), "a quoted string");
		r->p++;
		return;
	}
	rd_expect(r, "{");
	if (r->p == r->end || *r->p < '0' || *r->p > '9')
		FAIL("bad literal");
	for (; r->p < r->end && *r->p >= '0' && *r->p <= '9'; r->p++)
		n = n * 10 + (size_t)(*r->p - '0');
	rd_expect(r, "}\r\n");
	if ((size_t)(r->end - r->p) < n)
		FAIL("short literal");
	if (memchr(r->p, '\0', n) != NULL)
		FAIL("NUL in a literal");
	r->p += n;
}

static void
rd_nstring(struct rd *r)
{
	if (rd_peek(r, "NIL"))
		r->p += 3;
	else
		rd_string(r);
}

static size_t
rd_number(struct rd *r)
{
	size_t	 n = 0;

	if (r->p == r->end || *r->p < '0' || *r->p > '9')
		FAIL("number expected at \"%.40s\"", r->p);
	for (; r->p < r->end && *r->p >= '0' && *r->p <= '9'; r->p++)
		n = n * 10 + (size_t)(*r->p - '0');
	return n;
}

/* body-fld-param: NIL / "(" string SP string *(SP string SP string) ")" */
static void
rd_params(struct rd *r)
{
	if (rd_peek(r, "NIL")) {
		r->p += 3;
		return;
	}
	rd_expect(r, "(");
	for (;;) {
		rd_string(r);
		rd_expect(r, " ");
		rd_string(r);
		if (rd_peek(r, ")"))
			break;
		rd_expect(r, " ");
	}
	rd_expect(r, ")");
}

static void
rd_dsp(struct rd *r)
{
	if (rd_peek(r, "NIL")) {
		r->p += 3;
		return;
	}
	rd_expect(r, "(");
	rd_string(r);
	rd_expect(r, " ");
	rd_params(r);
	rd_expect(r, ")");
}

static void
rd_lang(struct rd *r)
{
	if (!rd_peek(r, "(")) {
		rd_nstring(r);
		return;
	}
	rd_expect(r, "(");
	for (;;) {
		rd_string(r);
		if (rd_peek(r, ")"))
			break;
		rd_expect(r, " ");
	}
	rd_expect(r, ")");
}

static void
rd_addresses(struct rd *r)
{
	int	 i;

	if (rd_peek(r, "NIL")) {
		r->p += 3;
		return;
	}
	rd_expect(r, "(");
	do {
		rd_expect(r, "(");
		for (i = 0; i < 4; i++) {
			if (i > 0)
				rd_expect(r, " ");
			rd_nstring(r);
		}
		rd_expect(r, ")");
	} while (!rd_peek(r, ")"));
	rd_expect(r, ")");
}

static void
rd_envelope(struct rd *r)
{
	int	 i;

	rd_expect(r, "(");
	rd_nstring(r);
	rd_expect(r, " ");
	rd_nstring(r);
	for (i = 0; i < 6; i++) {
		rd_expect(r, " ");
		rd_addresses(r);
	}
	rd_expect(r, " ");
	rd_nstring(r);
	rd_expect(r, " ");
	rd_nstring(r);
	rd_expect(r, ")");
}

static void
rd_ext(struct rd *r, int multipart)
{
	rd_expect(r, " ");
	if (multipart)
		rd_params(r);
	else
		rd_nstring(r);
	rd_expect(r, " ");
	rd_dsp(r);
	rd_expect(r, " ");
	rd_lang(r);
	rd_expect(r, " ");
	rd_nstring(r);
}

/* A body, checked against the part it renders. */
/* Octets as IMAP sends them: a bare LF goes out as CRLF. */
static size_t
wire_len(size_t off, size_t len)
{
	size_t	 i, n = len;

	for (i = off; i < off + len && i < msglen; i++)
		if (msgbuf[i] == '\n' && (i == off || msgbuf[i - 1] != '\r'))
			n++;
	return n;
}

static void
rd_body(struct rd *r, const struct mime_part *p, int ext)
{
	size_t	 i, n;

	rd_expect(r, "(");
	if (strcmp(p->type, "multipart") == 0) {
		if (p->nchildren == 0) {
			rd_expect(r, "(\"text\" \"plain\" (\"charset\" "
			    "\"us-ascii\") NIL NIL \"7BIT\" 0 0");
			if (ext)
				rd_expect(r, " NIL NIL NIL NIL");
			rd_expect(r, ")");
		}
		for (i = 0; i < p->nchildren; i++)
			rd_body(r, &p->children[i], ext);
		rd_expect(r, " ");
		rd_string(r);
		if (ext)
			rd_ext(r, 1);
		rd_expect(r, ")");
		return;
	}
	rd_string(r);
	rd_expect(r, " ");
	rd_string(r);
	rd_expect(r, " ");
	rd_params(r);
	for (i = 0; i < 3; i++) {
		rd_expect(r, " ");
		rd_nstring(r);
	}
	rd_expect(r, " ");
	if ((n = rd_number(r)) != wire_len(p->body_off, p->body_len))
		FAIL("octets %zu, part %zu", n, p->body_len);
	if (p->message != NULL) {
		rd_expect(r, " ");
		rd_envelope(r);
		rd_expect(r, " ");
		rd_body(r, p->message, ext);
		rd_expect(r, " ");
		(void)rd_number(r);
	} else if (strcmp(p->type, "text") == 0) {
		rd_expect(r, " ");
		if (rd_number(r) != p->body_lines)
			FAIL("lines");
	}
	if (ext)
		rd_ext(r, 0);
	rd_expect(r, ")");
}

static void
check_render(const struct mime_msg *m, const struct mime_part *p, int top)
{
	struct buf	 b = BUF_INIT(1 << 26);
	struct rd	 r;
	int		 ext, utf8;

	for (ext = 0; ext < 2; ext++)
		for (utf8 = 0; utf8 < 2; utf8++) {
			buf_reset(&b);
			if (mime_bodystructure(m, p, ext, &b, utf8) != 0)
				FAIL("BODYSTRUCTURE overflow");
			r.p = b.data;
			r.end = b.data + b.len;
			r.utf8 = utf8;
			rd_body(&r, p, ext);
			if (r.p != r.end)
				FAIL("junk after BODYSTRUCTURE");
		}
	if (top)
		for (utf8 = 0; utf8 < 2; utf8++) {
			buf_reset(&b);
			if (mime_envelope(m, p, &b, utf8) != 0)
				FAIL("ENVELOPE overflow");
			r.p = b.data;
			r.end = b.data + b.len;
			r.utf8 = utf8;
			rd_envelope(&r);
			if (r.p != r.end)
				FAIL("junk after ENVELOPE");
		}
	buf_free(&b);
}

/*
 * The tree.
 */

static size_t	 nseen;

static void
check_tree(const struct mime_msg *m, const struct mime_part *p, size_t lo,
    size_t hi, size_t depth)
{
	size_t	 i;

	nseen++;
	if (depth > MIME_MAX_DEPTH)
		FAIL("depth %zu", depth);
	if (p->hdr_off < lo || p->hdr_off > hi ||
	    p->hdr_len > hi - p->hdr_off ||
	    p->body_off < p->hdr_off + p->hdr_len || p->body_off > hi ||
	    p->body_len > hi - p->body_off)
		FAIL("part outside its parent");
	if (p->type == NULL || p->subtype == NULL || p->encoding == NULL ||
	    p->nparams > MIME_MAX_PARAMS || p->ndisp_params > MIME_MAX_PARAMS)
		FAIL("bad part fields");
	if (p->nchildren > 0 && strcmp(p->type, "multipart") != 0)
		FAIL("children of a %s", p->type);
	if (p->message != NULL && strcmp(p->type, "message") != 0)
		FAIL("message in a %s", p->type);
	if (p->message == NULL && strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 ||
	    strcmp(p->subtype, "global") == 0))
		FAIL("message/rfc822 without its message");
	for (i = 0; i < p->nchildren; i++) {
		check_tree(m, &p->children[i], p->body_off, p->body_off +
		    p->body_len, depth + 1);
		if (i > 0 && p->children[i].hdr_off <
		    p->children[i - 1].body_off + p->children[i - 1].body_len)
			FAIL("parts overlap");
	}
	if (p->message != NULL) {
		if (p->message->hdr_off != p->body_off)
			FAIL("message not at its body");
		check_tree(m, p->message, p->body_off, p->body_off +
		    p->body_len, depth + 1);
		check_render(m, p->message, 1);
	}
}

/*
 * Sections: walk the parts as IMAP numbers them.
 */

static void
section_is(const struct mime_msg *m, const char *spec, const char *want,
    size_t wantlen, int exists)
{
	struct mime_section	 sec;
	struct buf		 b = BUF_INIT(1 << 26);
	const char		*errstr, *out;
	size_t			 outlen;
	int			 rc;

	if (mime_section_parse(spec, strlen(spec), &sec, &errstr) != 0)
		FAIL("section \"%s\" does not parse: %s", spec, errstr);
	rc = mime_section_get(m, &sec, &out, &outlen, &b);
	if (!exists) {
		if (rc != -1)
			FAIL("section \"%s\" should not exist", spec);
	} else if (rc != 0)
		FAIL("section \"%s\" should exist", spec);
	else if (want != NULL && (outlen != wantlen || out != want))
		FAIL("section \"%s\" is elsewhere", spec);
	else if (want == NULL && (outlen < 1 || out[outlen - 1] != '\n'))
		FAIL("HEADER.FIELDS \"%s\" has no blank line", spec);
	buf_reset(&b);
	errstr = NULL;
	rc = mime_section_binary(m, &sec, &b, &errstr);
	if (rc == -1 && errstr == NULL)
		FAIL("BINARY error without a reason");
	mime_section_free(&sec);
	buf_free(&b);
}

static void
check_binary(const struct mime_msg *m, const char *spec,
    const struct mime_part *p)
{
	struct mime_section	 sec;
	struct buf		 b = BUF_INIT(1 << 26);
	const char		*errstr = NULL;
	int			 rc;

	if (mime_section_parse(spec, strlen(spec), &sec, &errstr) != 0)
		FAIL("section \"%s\" does not parse", spec);
	rc = mime_section_binary(m, &sec, &b, &errstr);
	if (rc == -1 && (errstr == NULL || strcmp(errstr, "unknown-cte") != 0))
		FAIL("BINARY[%s]: %s", spec, errstr ? errstr : "?");
	if (rc == 0 && ((strcmp(p->encoding, "BASE64") == 0 &&
	    b.len > p->body_len / 4 * 3 + 3) ||
	    (strcmp(p->encoding, "BASE64") != 0 && b.len > p->body_len)))
		FAIL("BINARY[%s] too long", spec);
	mime_section_free(&sec);
	buf_free(&b);
}

/* c: the root or an enclosed message's root; path: its prefix. */
static void
walk_sections(const struct mime_msg *m, const struct mime_part *c,
    const char *path, size_t depth)
{
	const struct mime_part	*p;
	char			 spec[1024];
	size_t			 i, n;

	if (depth > MIME_MAX_DEPTH + 1 || strlen(path) > 900)
		FAIL("walk too deep");
	n = strcmp(c->type, "multipart") == 0 ? c->nchildren : 1;
	for (i = 0; i < n; i++) {
		p = c->nchildren > 0 ? &c->children[i] : c;
		(void)snprintf(spec, sizeof(spec), "%s%s%zu", path,
		    *path != '\0' ? "." : "", i + 1);
		section_is(m, spec, msgbuf + p->body_off, p->body_len, 1);
		check_binary(m, spec, p);
		(void)snprintf(spec, sizeof(spec), "%s%s%zu.MIME", path,
		    *path != '\0' ? "." : "", i + 1);
		section_is(m, spec, msgbuf + p->hdr_off, p->hdr_len, 1);
		(void)snprintf(spec, sizeof(spec), "%s%s%zu", path,
		    *path != '\0' ? "." : "", i + 1);
		if (p->message != NULL) {
			char	 s2[1100];

			(void)snprintf(s2, sizeof(s2), "%s.HEADER", spec);
			section_is(m, s2, msgbuf + p->message->hdr_off,
			    p->message->hdr_len, 1);
			(void)snprintf(s2, sizeof(s2), "%s.TEXT", spec);
			section_is(m, s2, msgbuf + p->message->body_off,
			    p->message->body_len, 1);
			(void)snprintf(s2, sizeof(s2),
			    "%s.HEADER.FIELDS.NOT (subject \"x\")", spec);
			section_is(m, s2, NULL, 0, 1);
			walk_sections(m, p->message, spec, depth + 1);
		} else if (strcmp(p->type, "multipart") == 0 && p != c)
			walk_sections(m, p, spec, depth + 1);
		else {
			char	 s2[1100];

			(void)snprintf(s2, sizeof(s2), "%s.1", spec);
			section_is(m, s2, NULL, 0, 0);
			(void)snprintf(s2, sizeof(s2), "%s.HEADER", spec);
			section_is(m, s2, NULL, 0, 0);
		}
	}
	(void)snprintf(spec, sizeof(spec), "%s%s%zu", path,
	    *path != '\0' ? "." : "", n + 1);
	section_is(m, spec, NULL, 0, 0);
}

/*
 * Decoders.
 */

static int
text_cb(void *arg, const char *s, size_t len)
{
	size_t	*total = arg;

	valid_utf8(s, len, "SEARCH text");
	*total += len;
	return 0;
}

static void
check_date(const char *v)
{
	struct tm	 tm;
	time_t		 t, t2, lt;
	char		 s[128];
	int		 tz, tz2;

	if (mime_parse_date(v, &t, &tz) != 0)
		return;
	if (tz <= -6000 || tz >= 6000)
		FAIL("zone %d", tz);
	lt = t + (time_t)tz * 60;
	if (gmtime_r(&lt, &tm) == NULL || tm.tm_year < 0 ||
	    tm.tm_year > 9998 - 1900)
		return;
	(void)snprintf(s, sizeof(s), "%d %.3s %d %02d:%02d:%02d %c%02d%02d",
	    tm.tm_mday, &"JanFebMarAprMayJunJulAugSepOctNovDec"[tm.tm_mon * 3],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    tz < 0 ? '-' : '+', abs(tz) / 60, abs(tz) % 60);
	if (mime_parse_date(s, &t2, &tz2) != 0 || t2 != t || tz2 != tz)
		FAIL("date \"%s\" -> \"%s\" does not come back", v, s);
}

static void
check_headers(const struct mime_msg *m)
{
	static const char *const names[] = {
		"subject", "from", "to", "date", "references", "message-id",
		"content-type",
	};
	char		 mbox[64], disp[64];
	char		*v, *d, **ids;
	size_t		 i, j, n;

	for (i = 0; i < nitems(names); i++) {
		if ((v = mime_header(m, NULL, names[i], i == 4)) == NULL)
			continue;
		d = mime_decode_header(v);
		valid_utf8(d, strlen(d), "a decoded header");
		free(d);
		d = mime_base_subject(v);
		valid_utf8(d, strlen(d), "a base subject");
		free(d);
		(void)mime_first_address(v, mbox, sizeof(mbox), disp,
		    sizeof(disp));
		valid_utf8(disp, strlen(disp), "a display name");
		check_date(v);
		n = mime_msgids(v, &ids);
		for (j = 0; j < n; j++) {
			size_t	 l = strlen(ids[j]);

			if (l < 3 || ids[j][0] != '<' || ids[j][l - 1] != '>' ||
			    strpbrk(ids[j], " \t\r\n") != NULL)
				FAIL("message-id \"%s\"", ids[j]);
			free(ids[j]);
		}
		free(ids);
		free(v);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg		*m;
	struct mime_section	 sec;
	struct buf		 b = BUF_INIT(1 << 26);
	const char		*errstr, *out;
	size_t			 total = 0, outlen, n;
	char			*buf, spec[65];

	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		abort();
	if (size > 0)
		memcpy(buf, data, size);
	msgbuf = buf;
	msglen = size;
	if ((m = mime_parse(buf, size, &errstr)) == NULL)
		FAIL("mime_parse failed");

	nseen = 0;
	check_tree(m, mime_root(m), 0, size, 0);
	if (nseen != mime_nparts(m) || nseen > MIME_MAX_PARTS)
		FAIL("%zu parts seen, %zu counted", nseen, mime_nparts(m));
	check_render(m, mime_root(m), 1);

	section_is(m, "", buf, size, 1);
	section_is(m, "HEADER", buf, mime_root(m)->hdr_len, 1);
	section_is(m, "TEXT", buf + mime_root(m)->body_off,
	    mime_root(m)->body_len, 1);
	section_is(m, "HEADER.FIELDS (from to subject)", NULL, 0, 1);
	section_is(m, "99999", NULL, 0, 0);
	walk_sections(m, mime_root(m), "", 0);

	/* The input's last bytes as a section spec, too. */
	n = size < 64 ? size : 64;
	memcpy(spec, buf + size - n, n);
	spec[n] = '\0';
	if (mime_section_parse(spec, n, &sec, &errstr) == 0) {
		(void)mime_section_get(m, &sec, &out, &outlen, &b);
		buf_reset(&b);
		(void)mime_section_binary(m, &sec, &b, &errstr);
		mime_section_free(&sec);
	}
	buf_free(&b);

	if (mime_text(m, 1, 1, text_cb, &total) != 0 || total > MIME_MAX_TEXT)
		FAIL("mime_text");
	check_headers(m);

	mime_free(m);
	free(buf);
	return 0;
}
