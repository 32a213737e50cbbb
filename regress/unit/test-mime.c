/*
 * MIME (lib/mail/mime.c): hostile messages and their cost first, then
 * structure, ENVELOPE and BODYSTRUCTURE strings written from the RFC
 * 9051 grammar, sections, BINARY, RFC 2047/2231 decoding, SEARCH text,
 * dates, addresses, subjects and message-ids.
 *
 * Every message is copied to a buffer of exactly its length, without a
 * NUL, so that ASan sees a read past its end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mime.h"
#include "test.h"
#include "util.h"

struct tmsg {
	char		*buf;
	size_t		 len;
	struct mime_msg	*m;
};

static void
tm_open_len(struct tmsg *t, const char *s, size_t len)
{
	t->len = len;
	if ((t->buf = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(t->buf, s, len);
	t->m = mime_parse(t->buf, t->len, NULL);
	if (t->m == NULL)
		abort();
}

static void
tm_open(struct tmsg *t, const char *s)
{
	tm_open_len(t, s, strlen(s));
}

static void
tm_close(struct tmsg *t)
{
	mime_free(t->m);
	free(t->buf);
}

static int
same(const char *what, const char *got, size_t gotlen, const char *want,
    size_t wantlen)
{
	if (got != NULL && gotlen == wantlen && memcmp(got, want, wantlen) == 0)
		return 1;
	(void)printf("# %s\n#  got: ", what);
	if (got == NULL)
		(void)printf("(null)");
	else
		test_print_escaped(got, gotlen, 4000);
	(void)printf("\n# want: ");
	test_print_escaped(want, wantlen, 4000);
	(void)printf("\n");
	return 0;
}

static int
bs_is(const struct tmsg *t, int ext, int utf8, const char *want)
{
	struct buf	 b = BUF_INIT(1 << 24);
	int		 ok;

	ok = mime_bodystructure(t->m, mime_root(t->m), ext, &b, utf8) == 0 &&
	    same(ext ? "BODYSTRUCTURE" : "BODY", b.data, b.len, want,
	    strlen(want));
	buf_free(&b);
	return ok;
}

static int
env_is(const struct tmsg *t, const struct mime_part *mp, int utf8,
    const char *want)
{
	struct buf	 b = BUF_INIT(1 << 24);
	int		 ok;

	ok = mime_envelope(t->m, mp, &b, utf8) == 0 &&
	    same("ENVELOPE", b.data, b.len, want, strlen(want));
	buf_free(&b);
	return ok;
}

/* BODY[spec]: want NULL means the part must not exist. */
static int
sect_is_len(const struct tmsg *t, const char *spec, const char *want,
    size_t wantlen)
{
	struct mime_section	 sec;
	struct buf		 b = BUF_INIT(1 << 24);
	const char		*errstr = NULL, *out;
	size_t			 outlen;
	int			 ok, rc;

	if (mime_section_parse(spec, strlen(spec), &sec, &errstr) == -1) {
		(void)printf("# section \"%s\": %s\n", spec, errstr);
		return 0;
	}
	rc = mime_section_get(t->m, &sec, &out, &outlen, &b);
	if (want == NULL) {
		ok = rc == -1 && outlen == 0;
		if (!ok)
			(void)printf("# section \"%s\" exists\n", spec);
	} else
		ok = rc == 0 && same(spec, out, outlen, want, wantlen);
	mime_section_free(&sec);
	buf_free(&b);
	return ok;
}

static int
sect_is(const struct tmsg *t, const char *spec, const char *want)
{
	return sect_is_len(t, spec, want, want != NULL ? strlen(want) : 0);
}

/* BINARY[spec]: err NULL means success with want. */
static int
bin_is(const struct tmsg *t, const char *spec, const char *want,
    size_t wantlen, const char *err)
{
	struct mime_section	 sec;
	struct buf		 b = BUF_INIT(1 << 24);
	const char		*errstr = NULL;
	int			 ok, rc;

	if (mime_section_parse(spec, strlen(spec), &sec, &errstr) == -1) {
		(void)printf("# section \"%s\": %s\n", spec, errstr);
		return 0;
	}
	rc = mime_section_binary(t->m, &sec, &b, &errstr);
	if (err != NULL) {
		ok = rc == -1 && errstr != NULL && strcmp(errstr, err) == 0;
		if (!ok)
			(void)printf("# BINARY[%s]: rc %d errstr %s\n", spec,
			    rc, rc == -1 ? errstr : "-");
	} else
		ok = rc == 0 && same(spec, b.data != NULL ? b.data : "",
		    b.len, want, wantlen);
	mime_section_free(&sec);
	buf_free(&b);
	return ok;
}

static size_t
lines_of(const char *s)
{
	size_t	 n = 0, len = strlen(s), i;

	for (i = 0; i < len; i++)
		if (s[i] == '\n')
			n++;
	return len > 0 && s[len - 1] != '\n' ? n + 1 : n;
}

/*
 * IMAP syntax of a rendered item: parentheses balance outside quoted
 * strings, quoted strings close and hold no CR/LF, literals have the
 * bytes they announce.
 */
static int
imap_balanced(const char *s, size_t len)
{
	size_t	 i, n;
	long	 depth = 0;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '(':
			depth++;
			break;
		case ')':
			if (--depth < 0)
				return 0;
			break;
		case '"':
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\r' || s[i] == '\n')
					return 0;
				if (s[i] == '\\' && ++i == len)
					return 0;
			}
			if (i == len)
				return 0;
			break;
		case '{':
			for (n = 0, i++; i < len && s[i] >= '0' && s[i] <= '9';
			    i++)
				n = n * 10 + (size_t)(s[i] - '0');
			if (len - i < 3 || s[i] != '}' || s[i + 1] != '\r' ||
			    s[i + 2] != '\n' || len - i - 3 < n)
				return 0;
			i += 2 + n;
			break;
		case '\r':
		case '\n':
			return 0;
		default:
			break;
		}
	}
	return depth == 0;
}

/* Depth of the parse tree (root = 0). */
static size_t
tree_depth(const struct mime_part *p)
{
	size_t	 i, d, best = 0;

	for (i = 0; i < p->nchildren; i++)
		if ((d = tree_depth(&p->children[i]) + 1) > best)
			best = d;
	if (p->message != NULL && (d = tree_depth(p->message) + 1) > best)
		best = d;
	return best;
}

/* Every part lies in its parent's body, the root in the message. */
static int
tree_within(const struct mime_part *p, size_t lo, size_t hi)
{
	size_t	 i, end = p->body_off + p->body_len;

	if (p->hdr_off < lo || p->hdr_off > hi || p->hdr_len > hi -
	    p->hdr_off || p->body_off < p->hdr_off + p->hdr_len ||
	    p->body_off > hi || p->body_len > hi - p->body_off)
		return 0;
	for (i = 0; i < p->nchildren; i++)
		if (!tree_within(&p->children[i], p->body_off, end))
			return 0;
	return p->message == NULL || tree_within(p->message, p->body_off,
	    end);
}

static int
tree_in_bounds(const struct mime_part *p, size_t len)
{
	return tree_within(p, 0, len);
}

/* Render everything; 1 if it is all balanced IMAP. */
static int
renders_ok(const struct tmsg *t)
{
	struct buf	 b = BUF_INIT(1 << 26);
	int		 ok;

	ok = mime_bodystructure(t->m, NULL, 1, &b, 0) == 0 &&
	    imap_balanced(b.data, b.len);
	buf_reset(&b);
	ok = ok && mime_bodystructure(t->m, NULL, 0, &b, 1) == 0 &&
	    imap_balanced(b.data, b.len);
	buf_reset(&b);
	ok = ok && mime_envelope(t->m, NULL, &b, 0) == 0 &&
	    imap_balanced(b.data, b.len);
	buf_free(&b);
	return ok;
}

static int
count_text(void *arg, const char *s, size_t len)
{
	(void)s;
	*(size_t *)arg += len;
	return 0;
}

/*
 * Hostile input: limits hold and the cost stays linear. Times are
 * printed; the bounds are generous enough for ASan builds.
 */

static void
test_hostile_boundaries(void)
{
	struct tmsg	 t;
	char		*s;
	size_t		 len;
	double		 t0, dt;

	test_begin("mime: 100,000 delimiters stop at MIME_MAX_PARTS");
	s = test_repeat("Content-Type: multipart/mixed; boundary=b\r\n\r\n",
	    "--b\r\n\r\nx\r\n", 100000, "--b--\r\n", &len);
	t0 = test_now();
	tm_open_len(&t, s, len);
	dt = test_now() - t0;
	(void)printf("# %zu bytes, %zu parts: %.3f s\n", len,
	    mime_nparts(t.m), dt);
	test_assert(mime_nparts(t.m) == MIME_MAX_PARTS);
	test_assert(mime_root(t.m)->nchildren == MIME_MAX_PARTS - 1);
	test_assert(mime_root(t.m)->body_len == len - 45);
	test_assert(tree_in_bounds(mime_root(t.m), len));
	test_assert(renders_ok(&t));
	test_assert(dt < 2.0);
	tm_close(&t);
	free(s);
	test_end();

	test_begin("mime: 1,000,000 lines of \"--\" under 32 open boundaries");
	{
		struct buf	 b = BUF_INIT(SIZE_MAX);
		char		 bnd[64];
		int		 i;

		/* Boundaries that are prefixes of each other: worst case. */
		for (i = 0; i < 40; i++) {
			(void)snprintf(bnd, sizeof(bnd), "%.*s", i + 1,
			    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
			(void)buf_printf(&b, "Content-Type: multipart/mixed; "
			    "boundary=\"%s\"\r\n\r\n--%s\r\n", bnd, bnd);
		}
		for (i = 0; i < 1000000; i++)
			(void)buf_addstr(&b,
			    "--bbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n");
		t0 = test_now();
		tm_open_len(&t, b.data, b.len);
		dt = test_now() - t0;
		(void)printf("# %zu bytes: %.3f s, depth %zu\n", b.len, dt,
		    tree_depth(mime_root(t.m)));
		test_assert(tree_depth(mime_root(t.m)) <= MIME_MAX_DEPTH);
		test_assert(tree_in_bounds(mime_root(t.m), b.len));
		test_assert(renders_ok(&t));
		test_assert(dt < 5.0);
		tm_close(&t);
		buf_free(&b);
	}
	test_end();
}

static void
test_hostile_nesting(void)
{
	struct tmsg	 t;
	struct buf	 b = BUF_INIT(SIZE_MAX);
	char		*s;
	size_t		 len, i;
	double		 t0, dt;

	test_begin("mime: 10,000 nested message/rfc822");
	s = test_repeat("", "Content-Type: message/rfc822\r\n\r\n", 10000,
	    "Subject: deepest\r\n\r\nbody\r\n", &len);
	t0 = test_now();
	tm_open_len(&t, s, len);
	dt = test_now() - t0;
	(void)printf("# %zu bytes: %.3f s, depth %zu, %zu parts\n", len, dt,
	    tree_depth(mime_root(t.m)), mime_nparts(t.m));
	test_assert(tree_depth(mime_root(t.m)) == MIME_MAX_DEPTH);
	test_assert(tree_in_bounds(mime_root(t.m), len));
	test_assert(renders_ok(&t));
	test_assert(dt < 2.0);
	/*
	 * The deepest part is 1.1...1 (33 numbers), an opaque leaf after
	 * 32 headers of 32 bytes; one number more names no part.
	 */
	for (i = 0; i <= MIME_MAX_DEPTH; i++)
		(void)buf_addstr(&b, i == 0 ? "1" : ".1");
	test_assert(sect_is_len(&t, b.data, s + 33 * 32, len - 33 * 32));
	(void)buf_addstr(&b, ".MIME");
	test_assert(sect_is_len(&t, b.data, s + 32 * 32, 32));
	b.len -= 5;
	(void)buf_addstr(&b, ".1");
	test_assert(sect_is(&t, b.data, NULL));
	tm_close(&t);
	free(s);
	buf_reset(&b);
	test_end();

	test_begin("mime: 1,000 nested multiparts");
	for (i = 0; i < 1000; i++)
		(void)buf_printf(&b, "Content-Type: multipart/mixed; "
		    "boundary=\"n%zu\"\r\n\r\n--n%zu\r\n", i, i);
	(void)buf_addstr(&b, "\r\ninnermost\r\n");
	for (i = 1000; i-- > 0;)
		(void)buf_printf(&b, "--n%zu--\r\n", i);
	t0 = test_now();
	tm_open_len(&t, b.data, b.len);
	dt = test_now() - t0;
	(void)printf("# %zu bytes: %.3f s, depth %zu\n", b.len, dt,
	    tree_depth(mime_root(t.m)));
	test_assert(tree_depth(mime_root(t.m)) == MIME_MAX_DEPTH);
	test_assert(tree_in_bounds(mime_root(t.m), b.len));
	test_assert(renders_ok(&t));
	test_assert(dt < 2.0);
	tm_close(&t);
	buf_free(&b);
	test_end();
}

static void
test_hostile_values(void)
{
	struct tmsg	 t;
	struct buf	 b = BUF_INIT(SIZE_MAX);
	const struct mime_part *r;
	char		*s, *v;
	size_t		 len, i;
	double		 t0, dt;

	test_begin("mime: 1 MB of \"(((\" in Content-Type, From and Subject");
	/* All of it within the MIME_MAX_HEADER bytes that are read. */
	s = test_repeat("Content-Type: text/plain; charset=utf-8 ", "(", 330000,
	    "\r\nFrom: ", &len);
	(void)buf_add(&b, s, len);
	free(s);
	s = test_repeat("", "(", 330000, "\r\nSubject: ", &len);
	(void)buf_add(&b, s, len);
	free(s);
	s = test_repeat("", "((((=?utf-8?q?", 330000 / 14, "\r\n\r\nbody\r\n",
	    &len);
	(void)buf_add(&b, s, len);
	free(s);
	t0 = test_now();
	tm_open_len(&t, b.data, b.len);
	test_assert(renders_ok(&t));
	v = mime_header(t.m, NULL, "subject", 0);
	test_assert(v != NULL && strlen(v) == MIME_MAX_VALUE);
	if (v == NULL)
		v = xstrdup("");
	s = mime_decode_header(v);
	test_assert(s != NULL && strlen(s) == MIME_MAX_VALUE);
	free(s);
	s = mime_base_subject(v);
	free(s);
	free(v);
	{
		size_t	 n = 0;

		test_assert(mime_text(t.m, 1, 1, count_text, &n) == 0 &&
		    n > 0);
	}
	dt = test_now() - t0;
	(void)printf("# %zu bytes: %.3f s\n", b.len, dt);
	r = mime_root(t.m);
	test_assert(strcmp(r->type, "text") == 0 && r->nparams == 1 &&
	    strcmp(r->params[0].value, "utf-8") == 0);
	test_assert(dt < 2.0);
	tm_close(&t);
	buf_reset(&b);
	test_end();

	test_begin("mime: parameter floods are capped");
	(void)buf_addstr(&b, "Content-Type: text/plain");
	for (i = 0; i < 5000; i++)
		(void)buf_printf(&b, ";\r\n p%zu=v%zu", i, i);
	/* 200 sections backwards make one value; 900 have no "*0". */
	(void)buf_addstr(&b, "\r\nContent-Disposition: attachment");
	for (i = 0; i < 200; i++)
		(void)buf_printf(&b, "; f*%zu*=%s%%41", 199 - i,
		    i == 199 ? "utf-8''" : "");
	(void)buf_addstr(&b, "\r\nContent-Language: x");
	for (i = 0; i < 900; i++)
		(void)buf_printf(&b, "; g*%zu*=%%41", 899 - i);
	(void)buf_addstr(&b, "\r\n\r\nx");
	t0 = test_now();
	tm_open_len(&t, b.data, b.len);
	dt = test_now() - t0;
	r = mime_root(t.m);
	(void)printf("# %zu bytes: %.3f s\n", b.len, dt);
	/* The value is cut at MIME_MAX_VALUE; what is left is capped. */
	test_assert(r->nparams == MIME_MAX_PARAMS);
	test_assert(strcmp(r->params[0].name, "p0") == 0);
	test_assert(r->ndisp_params == 1 && r->disp_params[0].extended &&
	    strlen(r->disp_params[0].value) == 200);
	test_assert(renders_ok(&t));
	test_assert(dt < 1.0);
	tm_close(&t);
	buf_reset(&b);
	test_end();

	test_begin("mime: 1,000 parts of 256 RFC 2231 sections each");
	(void)buf_addstr(&b,
	    "Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (i = 0; i < 1000; i++) {
		size_t	 j;

		(void)buf_addstr(&b, "--x\r\nContent-Type: text/plain");
		for (j = 0; j < 256; j++)
			(void)buf_printf(&b, ";n%zu*%zu=a", j % 3, 255 - j);
		(void)buf_addstr(&b, "\r\n\r\nx\r\n");
	}
	(void)buf_addstr(&b, "--x--\r\n");
	t0 = test_now();
	tm_open_len(&t, b.data, b.len);
	dt = test_now() - t0;
	(void)printf("# %zu bytes: %.3f s\n", b.len, dt);
	test_assert(mime_root(t.m)->nchildren == 1000);
	test_assert(dt < 4.0);
	tm_close(&t);
	buf_reset(&b);
	test_end();

	test_begin("mime: 5 MB header field, 100,000 fields, NULs");
	s = test_repeat("X-Big: ", "a", 5 << 20, "\r\n", &len);
	(void)buf_add(&b, s, len);
	free(s);
	for (i = 0; i < 100000; i++)
		(void)buf_printf(&b, "X-%zu: %zu\r\n", i, i);
	{
		static const char	 tail[] =
		    "Subject: a\0b\r\nFrom: x\0y@z\r\n\r\n\0\0body";

		(void)buf_add(&b, tail, sizeof(tail) - 1);
	}
	t0 = test_now();
	tm_open_len(&t, b.data, b.len);
	test_assert(renders_ok(&t));
	/* Fields past MIME_MAX_HEADER are not considered. */
	v = mime_header(t.m, NULL, "subject", 0);
	test_assert(v == NULL);
	free(v);
	v = mime_header(t.m, NULL, "x-big", 0);
	test_assert(v != NULL && strlen(v) == MIME_MAX_VALUE);
	free(v);
	dt = test_now() - t0;
	(void)printf("# %zu bytes: %.3f s\n", b.len, dt);
	test_assert(mime_root(t.m)->body_len == 6);
	test_assert(dt < 2.0);
	tm_close(&t);
	buf_reset(&b);
	test_end();

	test_begin("mime: charsets that thrash the converter cache");
	{
		static const char *const cs[] = {
			"cp1250", "koi8-r", "ibm850", "cp1251", "cp1253",
			"iso-8859-5", "koi8-u", "ibm437", "cp1254", "ibm852",
			"iso-8859-7", "cp1257",
		};
		size_t	 n = 0;

		/* Every field and every part switches charsets. */
		(void)buf_addstr(&b, "Content-Type: multipart/mixed; "
		    "boundary=x\r\n");
		for (i = 0; i < 900; i++)
			(void)buf_printf(&b, "X-%zu: =?%s?q?a?= =?%s?q?b?=\r\n",
			    i, cs[i % nitems(cs)], cs[(i + 5) % nitems(cs)]);
		(void)buf_addstr(&b, "\r\n");
		for (i = 0; i < 3000; i++)
			(void)buf_printf(&b, "--x\r\nContent-Type: text/plain; "
			    "charset=%s; a*=%s''%%41; b*=%s''%%42\r\n\r\nx\r\n",
			    cs[i % nitems(cs)], cs[(i + 3) % nitems(cs)],
			    cs[(i + 7) % nitems(cs)]);
		(void)buf_addstr(&b, "--x--\r\n");
		t0 = test_now();
		tm_open_len(&t, b.data, b.len);
		test_assert(mime_text(t.m, 1, 1, count_text, &n) == 0);
		dt = test_now() - t0;
		(void)printf("# %zu bytes: %.3f s\n", b.len, dt);
		r = mime_root(t.m);
		/* The first ones were converted all the same. */
		test_assert(r->nchildren == 3000 &&
		    strcmp(r->children[0].params[1].value, "A") == 0);
		test_assert(dt < 1.0);
		tm_close(&t);
		buf_reset(&b);
		s = mime_decode_header("=?cp1250?q?=8A?= =?koi8-r?q?=E1?=");
		test_assert(strcmp(s, "\xc5\xa0\xd0\x90") == 0);
		free(s);
	}
	buf_free(&b);
	test_end();

	test_begin("mime: base subject of 20,000 [blobs] is linear");
	s = test_repeat("", "[a]", 20000, " x", &len);
	t0 = test_now();
	v = mime_base_subject(s);
	dt = test_now() - t0;
	(void)printf("# %zu bytes: %.3f s\n", len, dt);
	test_assert(strcmp(v, "x") == 0);
	test_assert(dt < 1.0);
	free(v);
	free(s);
	s = test_repeat("", "[a]", 20000, "", &len);
	v = mime_base_subject(s);
	test_assert(strcmp(v, "[a]") == 0);
	free(v);
	free(s);
	s = test_repeat("", "=?x?q?a", 20000, "", &len);
	t0 = test_now();
	v = mime_decode_header(s);
	dt = test_now() - t0;
	test_assert(strcmp(v, s) == 0);
	test_assert(dt < 1.0);
	free(v);
	free(s);
	test_end();
}

static void
test_hostile_junk(void)
{
	static const char *const junk[] = {
		"",
		"\r",
		"\n",
		"\r\n",
		"--",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a--",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n--a",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n--a\r\n",
		"Content-Type: message/rfc822\r\n",
		"Content-Type: message/rfc822\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
		    "Content-Type: message/rfc822\r\n--a--\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
		    "Content-Type: message/rfc822\r\n\r\n--a--\r\n",
		"Content-Type: multipart/digest; boundary=a\r\n\r\n--a\r\n"
		    "\r\n--a\r\n\r\nFrom: x\r\n\r\n--a--",
		"Content-Type: (\r\n\r\n",
		"Content-Type: \"\r\n\r\n",
		"Content-Type: text/plain; a*=\"\r\n\r\n",
		"Content-Type: text/plain; a*0*=''; a*1*=%\r\n\r\n",
		"From: \"\r\nTo: <\r\nCc: (\r\nBcc: [\r\nSender: @\r\n\r\n",
		"From: ,,,;;;:::<<<>>>@@@...\r\n\r\n",
		"From: a:b:c;d;e\r\n\r\n",
		"From: <@a,@b\r\n\r\n",
		/* A delimiter right after a delimiter (found by fuzzing). */
		"Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
		    "--outer\r\nContent-Type: multipart/alternative; "
		    "boundary=inner-\r\n\r\n--inner--\r\n--outer--\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
		    "Content-Type: message/rfc822\r\n\r\nX: y\r\n--a--",
		" continuation first\r\nno colon\r\n:\r\nX :y\r\n\r\n",
	};
	struct tmsg	 t;
	size_t		 i;
	int		 ok = 1;

	test_begin("mime: junk parses and renders as IMAP");
	for (i = 0; i < nitems(junk); i++) {
		tm_open(&t, junk[i]);
		if (!renders_ok(&t) || !tree_in_bounds(mime_root(t.m),
		    t.len)) {
			(void)printf("# junk %zu\n", i);
			ok = 0;
		}
		tm_close(&t);
	}
	test_assert(ok);
	test_assert(mime_parse(NULL, 1, NULL) == NULL);
	test_end();
}

/*
 * Structure.
 */

#define SIMPLE_BODY	"Hello world\r\nsecond line\r\n"
#define SIMPLE \
	"From: \"Doe, John\" <john@example.com>\r\n" \
	"To: jane@example.org\r\n" \
	"Subject: Hello\r\n" \
	"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n" \
	"Message-ID: <B27397-0100000@cac.washington.edu>\r\n" \
	"\r\n" \
	SIMPLE_BODY

static void
test_simple(void)
{
	struct tmsg	 t;
	char		*want;
	const char	*hdr;

	test_begin("mime: a simple text message");
	tm_open(&t, SIMPLE);
	want = xasprintf("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7BIT\" %zu %zu NIL NIL NIL NIL)", strlen(SIMPLE_BODY),
	    lines_of(SIMPLE_BODY));
	test_assert(bs_is(&t, 1, 0, want));
	free(want);
	want = xasprintf("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7BIT\" %zu %zu)", strlen(SIMPLE_BODY),
	    lines_of(SIMPLE_BODY));
	test_assert(bs_is(&t, 0, 0, want));
	free(want);
	test_assert(env_is(&t, NULL, 0,
	    "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"Hello\" "
	    "((\"Doe, John\" NIL \"john\" \"example.com\")) "
	    "((\"Doe, John\" NIL \"john\" \"example.com\")) "
	    "((\"Doe, John\" NIL \"john\" \"example.com\")) "
	    "((NIL NIL \"jane\" \"example.org\")) NIL NIL NIL "
	    "\"<B27397-0100000@cac.washington.edu>\")"));
	hdr = SIMPLE;
	test_assert(sect_is_len(&t, "HEADER", hdr, strlen(SIMPLE) -
	    strlen(SIMPLE_BODY)));
	test_assert(sect_is(&t, "TEXT", SIMPLE_BODY));
	test_assert(sect_is(&t, "", SIMPLE));
	test_assert(sect_is(&t, "1", SIMPLE_BODY));
	test_assert(sect_is_len(&t, "1.MIME", hdr, strlen(SIMPLE) -
	    strlen(SIMPLE_BODY)));
	test_assert(sect_is(&t, "2", NULL));
	test_assert(sect_is(&t, "1.1", NULL));
	test_assert(sect_is(&t, "1.HEADER", NULL));
	test_assert(sect_is(&t, "1.TEXT", NULL));
	test_assert(bin_is(&t, "1", SIMPLE_BODY, strlen(SIMPLE_BODY), NULL));
	test_assert(bin_is(&t, "", SIMPLE, strlen(SIMPLE), NULL));
	test_assert(bin_is(&t, "2", NULL, 0, "no such part"));
	test_assert(bin_is(&t, "HEADER", NULL, 0, "bad section"));
	tm_close(&t);
	test_end();
}

#define MIXED_P1	"caf=C3=A9"
#define MIXED_P2	"JVBERi0xLjQK"
#define MIXED_MIME1 \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"Content-Transfer-Encoding: quoted-printable\r\n" \
	"\r\n"
#define MIXED_TEXT \
	"This is the preamble.\r\n" \
	"--XYZ\r\n" \
	MIXED_MIME1 \
	MIXED_P1 "\r\n" \
	"--XYZ\r\n" \
	"Content-Type: application/pdf; name=\"doc.pdf\"\r\n" \
	"Content-Disposition: attachment; filename=\"doc.pdf\"\r\n" \
	"Content-Transfer-Encoding: base64\r\n" \
	"Content-ID: <part2@example.com>\r\n" \
	"Content-Description: A document\r\n" \
	"\r\n" \
	MIXED_P2 "\r\n" \
	"--XYZ--\r\n" \
	"This is the epilogue.\r\n"
#define MIXED \
	"From: a@example.com\r\n" \
	"To: b@example.com\r\n" \
	"Subject: mixed\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n" \
	"\r\n" \
	MIXED_TEXT

static void
test_mixed(void)
{
	struct tmsg	 t;
	char		*lf, *want;
	size_t		 i, j;

	test_begin("mime: multipart/mixed with an attachment");
	tm_open(&t, MIXED);
	want = xasprintf("((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
	    "\"QUOTED-PRINTABLE\" %zu 1 NIL NIL NIL NIL)"
	    "(\"application\" \"pdf\" (\"name\" \"doc.pdf\") "
	    "\"<part2@example.com>\" \"A document\" \"BASE64\" %zu NIL "
	    "(\"attachment\" (\"filename\" \"doc.pdf\")) NIL NIL) \"mixed\" "
	    "(\"boundary\" \"XYZ\") NIL NIL NIL)", strlen(MIXED_P1),
	    strlen(MIXED_P2));
	test_assert(bs_is(&t, 1, 0, want));
	free(want);
	want = xasprintf("((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
	    "\"QUOTED-PRINTABLE\" %zu 1)(\"application\" \"pdf\" (\"name\" "
	    "\"doc.pdf\") \"<part2@example.com>\" \"A document\" \"BASE64\" "
	    "%zu) \"mixed\")", strlen(MIXED_P1), strlen(MIXED_P2));
	test_assert(bs_is(&t, 0, 0, want));
	free(want);
	test_assert(sect_is(&t, "TEXT", MIXED_TEXT));
	test_assert(sect_is(&t, "1", MIXED_P1));
	test_assert(sect_is(&t, "2", MIXED_P2));
	test_assert(sect_is(&t, "3", NULL));
	test_assert(sect_is(&t, "1.MIME", MIXED_MIME1));
	test_assert(sect_is(&t, "1.HEADER", NULL));
	test_assert(bin_is(&t, "1", "caf\xc3\xa9", 5, NULL));
	test_assert(bin_is(&t, "2", "%PDF-1.4\n", 9, NULL));
	tm_close(&t);
	test_end();

	test_begin("mime: the same with LF line ends");
	lf = xstrdup(MIXED);
	for (i = j = 0; lf[i] != '\0'; i++)
		if (lf[i] != '\r')
			lf[j++] = lf[i];
	lf[j] = '\0';
	tm_open(&t, lf);
	want = xasprintf("((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
	    "\"QUOTED-PRINTABLE\" %zu 1)(\"application\" \"pdf\" (\"name\" "
	    "\"doc.pdf\") \"<part2@example.com>\" \"A document\" \"BASE64\" "
	    "%zu) \"mixed\")", strlen(MIXED_P1), strlen(MIXED_P2));
	test_assert(bs_is(&t, 0, 0, want));
	free(want);
	test_assert(sect_is(&t, "1", MIXED_P1));
	test_assert(sect_is(&t, "1.MIME", "Content-Type: text/plain; "
	    "charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"));
	test_assert(sect_is(&t, "HEADER.FIELDS (subject to)",
	    "To: b@example.com\nSubject: mixed\n\n"));
	test_assert(bin_is(&t, "1", "caf\xc3\xa9", 5, NULL));
	tm_close(&t);
	free(lf);
	test_end();
}

#define CX_MSG2 \
	"From: x@y.z\r\n" \
	"Subject: inner message\r\n" \
	"Content-Type: multipart/mixed; boundary=msgb\r\n" \
	"\r\n" \
	CX_MSG2_TEXT
#define CX_MSG2_TEXT \
	"--msgb\r\n" \
	"\r\n" \
	"no content type here\r\n" \
	"--msgb\r\n" \
	"Content-Type: image/gif\r\n" \
	"\r\n" \
	"GIF89a\r\n" \
	"--msgb--"
#define CX_DIG1_HDR \
	"From: d1@example.com\r\n" \
	"Subject: digest one\r\n" \
	"\r\n"
#define CX_DIG1		CX_DIG1_HDR "one"
#define CX \
	"Subject: complex\r\n" \
	"Content-Type: multipart/mixed; boundary=outer\r\n" \
	"\r\n" \
	"--outer\r\n" \
	"Content-Type: multipart/alternative; boundary=inner\r\n" \
	"\r\n" \
	"--inner\r\n" \
	"Content-Type: text/plain\r\n" \
	"\r\n" \
	"plain\r\n" \
	"--inner\r\n" \
	"Content-Type: text/html\r\n" \
	"\r\n" \
	"<b>html</b>\r\n" \
	"--inner--\r\n" \
	"--outer\r\n" \
	"Content-Type: message/rfc822\r\n" \
	"\r\n" \
	CX_MSG2 "\r\n" \
	"--outer\r\n" \
	"Content-Type: multipart/digest; boundary=dig\r\n" \
	"\r\n" \
	"--dig\r\n" \
	"\r\n" \
	CX_DIG1 "\r\n" \
	"--dig\r\n" \
	"Content-Type: text/plain\r\n" \
	"\r\n" \
	"not a message\r\n" \
	"--dig--\r\n" \
	"--outer--\r\n"

#define TP	"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL " \
		"\"7BIT\" "
#define TH	"\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" "
#define N4	" NIL NIL NIL NIL"
#define ENV2	"(NIL \"inner message\" ((NIL NIL \"x\" \"y.z\")) " \
		"((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\" \"y.z\")) " \
		"NIL NIL NIL NIL NIL)"
#define ENVD	"(NIL \"digest one\" ((NIL NIL \"d1\" \"example.com\")) " \
		"((NIL NIL \"d1\" \"example.com\")) " \
		"((NIL NIL \"d1\" \"example.com\")) NIL NIL NIL NIL NIL)"

static void
test_complex(void)
{
	struct tmsg	 t;
	const struct mime_part *r;
	char		*want;

	test_begin("mime: alternative in mixed, message/rfc822, digest");
	tm_open(&t, CX);
	want = xasprintf("(((" TP "5 1" N4 ")(" TH "11 1" N4 ") "
	    "\"alternative\" (\"boundary\" \"inner\") NIL NIL NIL)"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" %zu " ENV2 " "
	    "((" TP "20 1" N4 ")(\"image\" \"gif\" NIL NIL NIL \"7BIT\" 6"
	    N4 ") \"mixed\" (\"boundary\" \"msgb\") NIL NIL NIL) %zu" N4 ")"
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" %zu " ENVD " "
	    "(" TP "3 1" N4 ") %zu" N4 ")(" TP "13 1" N4 ") \"digest\" "
	    "(\"boundary\" \"dig\") NIL NIL NIL) \"mixed\" "
	    "(\"boundary\" \"outer\") NIL NIL NIL)",
	    strlen(CX_MSG2), lines_of(CX_MSG2), strlen(CX_DIG1),
	    lines_of(CX_DIG1));
	test_assert(bs_is(&t, 1, 0, want));
	free(want);
	want = xasprintf("(((" TP "5 1)(" TH "11 1) \"alternative\")"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" %zu " ENV2 " "
	    "((" TP "20 1)(\"image\" \"gif\" NIL NIL NIL \"7BIT\" 6) "
	    "\"mixed\") %zu)((\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" "
	    "%zu " ENVD " (" TP "3 1) %zu)(" TP "13 1) \"digest\") "
	    "\"mixed\")", strlen(CX_MSG2), lines_of(CX_MSG2),
	    strlen(CX_DIG1), lines_of(CX_DIG1));
	test_assert(bs_is(&t, 0, 0, want));
	free(want);
	r = mime_root(t.m);
	test_assert(r->nchildren == 3 && r->children[1].message != NULL);
	test_assert(env_is(&t, r->children[1].message, 0, ENV2));
	test_end();

	test_begin("mime: section paths into message/rfc822");
	test_assert(sect_is(&t, "1.1", "plain"));
	test_assert(sect_is(&t, "1.2", "<b>html</b>"));
	test_assert(sect_is(&t, "1.3", NULL));
	test_assert(sect_is(&t, "1.1.1", NULL));
	test_assert(sect_is(&t, "1.2.MIME", "Content-Type: text/html\r\n\r\n"));
	test_assert(sect_is(&t, "2", CX_MSG2));
	test_assert(sect_is(&t, "2.MIME",
	    "Content-Type: message/rfc822\r\n\r\n"));
	test_assert(sect_is_len(&t, "2.HEADER", CX_MSG2,
	    strlen(CX_MSG2) - strlen(CX_MSG2_TEXT)));
	test_assert(sect_is(&t, "2.TEXT", CX_MSG2_TEXT));
	test_assert(sect_is(&t, "2.HEADER.FIELDS (SUBJECT)",
	    "Subject: inner message\r\n\r\n"));
	test_assert(sect_is(&t, "2.1", "no content type here"));
	test_assert(sect_is(&t, "2.1.MIME", "\r\n"));
	test_assert(sect_is(&t, "2.2", "GIF89a"));
	test_assert(sect_is(&t, "2.3", NULL));
	test_assert(sect_is(&t, "2.1.HEADER", NULL));
	test_assert(sect_is(&t, "3.1", CX_DIG1));
	test_assert(sect_is(&t, "3.1.MIME", "\r\n"));
	test_assert(sect_is(&t, "3.1.HEADER", CX_DIG1_HDR));
	test_assert(sect_is(&t, "3.1.TEXT", "one"));
	test_assert(sect_is(&t, "3.1.1", "one"));
	test_assert(sect_is(&t, "3.1.1.MIME", CX_DIG1_HDR));
	test_assert(sect_is(&t, "3.1.2", NULL));
	test_assert(sect_is(&t, "3.2", "not a message"));
	test_assert(sect_is(&t, "3.2.HEADER", NULL));
	test_assert(sect_is(&t, "4", NULL));
	test_assert(sect_is(&t, "HEADER.FIELDS (subject)",
	    "Subject: complex\r\n\r\n"));
	test_assert(bin_is(&t, "2.2", "GIF89a", 6, NULL));
	tm_close(&t);
	test_end();
}

#define PFX_ONE		"Content-Type: text/plain\r\n\r\none\r\n"
#define PFX_TWO		"Content-Type: text/plain\r\n\r\ntwo\r\n"
#define PFX_THREE	"Content-Type: text/plain\r\n\r\nthree\r\n"

static void
test_boundaries(void)
{
	struct tmsg	 t;
	const struct mime_part *r;

	test_begin("mime: an inner boundary that extends the outer one");
	tm_open(&t, "Content-Type: multipart/mixed; boundary=\"abc\"\r\n\r\n"
	    "--abc\r\n"
	    "Content-Type: multipart/alternative; boundary=\"abcdef\"\r\n\r\n"
	    "--abcdef\r\n" PFX_ONE "--abcdef\r\n" PFX_TWO "--abcdef--\r\n"
	    "--abc\r\n" PFX_THREE "--abc--\r\n");
	r = mime_root(t.m);
	test_assert(r->nchildren == 2 && r->children[0].nchildren == 2);
	test_assert(sect_is(&t, "1.1", "one"));
	test_assert(sect_is(&t, "1.2", "two"));
	test_assert(sect_is(&t, "2", "three"));
	tm_close(&t);
	test_end();

	test_begin("mime: an inner boundary that is a prefix of the outer one");
	tm_open(&t, "Content-Type: multipart/mixed; boundary=\"abcdef\"\r\n\r\n"
	    "--abcdef\r\n"
	    "Content-Type: multipart/alternative; boundary=\"abc\"\r\n\r\n"
	    "--abc\r\n" PFX_ONE "--abc\r\n" PFX_TWO
	    "--abcdef\r\n" PFX_THREE "--abcdef--\r\n");
	r = mime_root(t.m);
	/* The outer delimiter also ends the inner multipart (no "--abc--"). */
	test_assert(r->nchildren == 2 && r->children[0].nchildren == 2);
	test_assert(sect_is(&t, "1.1", "one"));
	test_assert(sect_is(&t, "1.2", "two"));
	test_assert(sect_is(&t, "2", "three"));
	tm_close(&t);
	test_end();

	test_begin("mime: the same boundary nested, trailing junk, padding");
	tm_open(&t, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b  \r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\n" PFX_ONE "--b--\r\n"
	    "--b junk\r\n" PFX_TWO "--b--\r\n");
	r = mime_root(t.m);
	test_assert(r->nchildren == 2 && r->children[0].nchildren == 1);
	test_assert(sect_is(&t, "1.1", "one"));
	test_assert(sect_is(&t, "2", "two"));
	tm_close(&t);
	test_end();

	test_begin("mime: preamble, epilogue, missing close delimiter");
	tm_open(&t, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "pre\r\n--b\r\n\r\nfirst\r\n--b\r\n\r\nlast\r\n");
	r = mime_root(t.m);
	test_assert(r->nchildren == 2);
	test_assert(sect_is(&t, "1", "first"));
	test_assert(sect_is(&t, "2", "last\r\n"));
	test_assert(sect_is(&t, "TEXT", "pre\r\n--b\r\n\r\nfirst\r\n--b\r\n"
	    "\r\nlast\r\n"));
	tm_close(&t);
	tm_open(&t, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\n\r\n\r\n--b\r\n\r\nx\r\n\r\n--b--\r\nepilogue\r\n--b\r\n");
	test_assert(mime_root(t.m)->nchildren == 2);
	test_assert(sect_is(&t, "1", ""));
	test_assert(sect_is(&t, "1.MIME", "\r\n"));
	test_assert(sect_is(&t, "2", "x\r\n"));
	test_assert(sect_is(&t, "3", NULL));
	tm_close(&t);
	test_end();

	test_begin("mime: a part header cut by a delimiter");
	tm_open(&t, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/html\r\n--b\r\n"
	    "Content-Type: message/rfc822\r\n\r\n--b--\r\n");
	r = mime_root(t.m);
	test_assert(r->nchildren == 2);
	test_assert(strcmp(r->children[0].subtype, "html") == 0);
	test_assert(sect_is(&t, "1.MIME", "Content-Type: text/html"));
	test_assert(sect_is(&t, "1", ""));
	test_assert(sect_is(&t, "2.MIME", "Content-Type: message/rfc822\r\n"));
	test_assert(sect_is(&t, "2", ""));
	test_assert(sect_is(&t, "2.HEADER", ""));
	test_assert(r->children[1].message != NULL);
	test_assert(bs_is(&t, 0, 0, "((\"text\" \"html\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7BIT\" 0 0)(\"message\" \"rfc822\" NIL "
	    "NIL NIL \"7BIT\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	    "(" TP "0 0) 0) \"mixed\")"));
	tm_close(&t);
	test_end();

	test_begin("mime: multiparts without a boundary or without parts");
	/* No boundary: malformed, read as text/plain (params kept). */
	tm_open(&t, "Content-Type: multipart/mixed\r\n\r\n--x\r\nbody\r\n");
	test_assert(bs_is(&t, 0, 0, "(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7BIT\" 11 2)"));
	tm_close(&t);
	/*
	 * A CR in a quoted boundary: it would match "--a\rb\r\n" but not
	 * "--a\rb\n", so the parts would change with the line ends (the
	 * 8BITMIME downgrade's fuzz target found this). Not usable.
	 */
	tm_open(&t, "Content-Type: multipart/mixed; boundary=\"a\rb\"\r\n"
	    "\r\n--a\rb\r\nx\r\n--a\rb--\r\n");
	test_assert(strcmp(mime_root(t.m)->type, "text") == 0 &&
	    strcmp(mime_root(t.m)->subtype, "plain") == 0 &&
	    mime_root(t.m)->nchildren == 0);
	tm_close(&t);
	/* A boundary that never comes: one empty part, as Dovecot shows. */
	tm_open(&t, "Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
	    "just text\r\n");
	test_assert(bs_is(&t, 1, 0, "((" TP "0 0" N4 ") \"mixed\" "
	    "(\"boundary\" \"zz\") NIL NIL NIL)"));
	test_assert(bs_is(&t, 0, 0, "((" TP "0 0) \"mixed\")"));
	test_assert(sect_is(&t, "1", NULL));
	test_assert(sect_is(&t, "TEXT", "just text\r\n"));
	tm_close(&t);
	/* Missing subtype, then garbage: text/plain. */
	tm_open(&t, "Content-Type: text; charset=utf-8\r\n\r\nx");
	test_assert(bs_is(&t, 0, 0, "(\"text\" \"plain\" (\"charset\" "
	    "\"utf-8\") NIL NIL \"7BIT\" 1 1)"));
	tm_close(&t);
	tm_open(&t, "Content-Type: image/\r\n"
	    "Content-Type: image/png\r\n\r\nx");
	test_assert(bs_is(&t, 0, 0, "(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7BIT\" 1 1)"));
	tm_close(&t);
	/* Comments, spaces, case, duplicates (the first wins). */
	tm_open(&t, "content-type: (c) Image (x) / (y) PNG (z) ; "
	    "(a) NAME (b) = (c) \"x y.png\" (d) ; name=other\r\n"
	    "Content-Type: text/plain\r\n"
	    "CONTENT-TRANSFER-ENCODING: Base64 (yes)\r\n\r\neA==");
	test_assert(bs_is(&t, 0, 0, "(\"image\" \"png\" (\"name\" "
	    "\"x y.png\") NIL NIL \"BASE64\" 4)"));
	test_assert(bin_is(&t, "1", "x", 1, NULL));
	tm_close(&t);
	test_end();
}

static void
test_extension_data(void)
{
	struct tmsg	 t;

	test_begin("mime: BODYSTRUCTURE extension data");
	tm_open(&t, "Content-Type: multipart/mixed; boundary=b\r\n"
	    "Content-Disposition: inline\r\n"
	    "Content-Language: en, de (German)\r\n"
	    "Content-Location: http://example.com/x\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	    "Content-Language: fr\r\n"
	    "Content-Location: part1.txt\r\n"
	    "Content-Disposition: INLINE; filename=a.txt\r\n"
	    "Content-ID:\r\n"
	    "Content-Description: =?utf-8?q?caf=C3=A9?=\r\n"
	    "\r\n"
	    "x\r\n"
	    "--b--\r\n");
	test_assert(bs_is(&t, 1, 0, "((\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") \"\" \"=?utf-8?q?caf=C3=A9?=\" \"7BIT\" 1 1 "
	    "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"inline\" (\"filename\" "
	    "\"a.txt\")) (\"fr\") \"part1.txt\") \"mixed\" (\"boundary\" "
	    "\"b\") (\"inline\" NIL) (\"en\" \"de\") "
	    "\"http://example.com/x\")"));
	tm_close(&t);
	test_end();
}

static void
test_rfc2231(void)
{
	struct tmsg	 t;
	const struct mime_part *r;

	test_begin("mime: RFC 2231 continuations and charsets");
	tm_open(&t, "Content-Type: application/octet-stream;\r\n"
	    " name*0*=utf-8''%E2%82%AC%20rates;\r\n"
	    " name*1*=%20and%20fees.txt;\r\n"
	    " x*1=b; x*0=a; x*2=\"c;d\"\r\n"
	    "Content-Disposition: attachment;\r\n"
	    " filename*0=\"long\";\r\n"
	    " filename*1=\"name.txt\";\r\n"
	    " size=1234;\r\n"
	    " title*=iso-8859-1'en'%A3%20and%20%80;\r\n"
	    " gap*0=a; gap*2=c;\r\n"
	    " nozero*1=x\r\n"
	    "\r\nx");
	r = mime_root(t.m);
	test_assert(r->nparams == 2 && r->params[0].extended &&
	    strcmp(r->params[0].name, "name") == 0 &&
	    strcmp(r->params[0].value, "\xe2\x82\xac rates and fees.txt") == 0);
	test_assert(strcmp(r->params[1].value, "abc;d") == 0 &&
	    !r->params[1].extended);
	test_assert(r->ndisp_params == 4);
	test_assert(bs_is(&t, 1, 0, "(\"application\" \"octet-stream\" "
	    "(\"name*\" \"utf-8''%E2%82%AC%20rates%20and%20fees.txt\" "
	    "\"x\" \"abc;d\") NIL NIL \"7BIT\" 1 NIL (\"attachment\" "
	    "(\"filename\" \"longname.txt\" \"size\" \"1234\" \"title*\" "
	    "\"utf-8''%C2%A3%20and%20%E2%82%AC\" \"gap\" \"a\")) NIL NIL)"));
	test_assert(bs_is(&t, 1, 1, "(\"application\" \"octet-stream\" "
	    "(\"name*\" \"\xe2\x82\xac rates and fees.txt\" "
	    "\"x\" \"abc;d\") NIL NIL \"7BIT\" 1 NIL (\"attachment\" "
	    "(\"filename\" \"longname.txt\" \"size\" \"1234\" \"title*\" "
	    "\"\xc2\xa3 and \xe2\x82\xac\" \"gap\" \"a\")) NIL NIL)"));
	tm_close(&t);

	/* A plain name and its RFC 2231 twin: both, the plain first. */
	tm_open(&t, "Content-Type: text/plain; name*=utf-8''%C3%A9.txt; "
	    "name=\"e.txt\"; charset*0=utf-; charset*1=8; charset=x\r\n\r\n");
	r = mime_root(t.m);
	test_assert(r->nparams == 3);
	test_assert(strcmp(r->params[0].name, "name") == 0 &&
	    r->params[0].extended &&
	    strcmp(r->params[0].value, "\xc3\xa9.txt") == 0);
	test_assert(strcmp(r->params[1].value, "e.txt") == 0 &&
	    !r->params[1].extended);
	test_assert(strcmp(r->params[2].name, "charset") == 0 &&
	    strcmp(r->params[2].value, "x") == 0);
	tm_close(&t);

	/* Unknown charsets and bad bytes still give UTF-8. */
	tm_open(&t, "Content-Type: text/plain; a*=x-nope'en'%FFok; "
	    "b*=utf-8''%C3; c*=utf-8''%zz\r\n\r\n");
	r = mime_root(t.m);
	test_assert(r->nparams == 4);
	test_assert(strcmp(r->params[0].value, "\xef\xbf\xbdok") == 0);
	test_assert(strcmp(r->params[1].value, "\xef\xbf\xbd") == 0);
	test_assert(strcmp(r->params[2].value, "%zz") == 0);
	tm_close(&t);
	test_end();
}

static void
test_rfc2047(void)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "=?UTF-8?B?SGVsbG8=?=", "Hello" },
		{ "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard" },
		{ "=?ISO-8859-1?Q?a?=", "a" },
		{ "=?ISO-8859-1?Q?a?= b", "a b" },
		{ "=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab" },
		{ "=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", "ab" },
		{ "=?ISO-8859-1?Q?a?=\r\n =?ISO-8859-1?Q?b?=", "ab" },
		{ "=?ISO-8859-1?Q?a_b?=", "a b" },
		{ "=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b" },
		{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)" },
		{ "a =?utf-8?q?b?= c", "a b c" },
		/* A character split between two words. */
		{ "=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", "\xe2\x82\xac" },
		{ "=?utf-8*en?q?lang?=", "lang" },
		{ "=?windows-1252?q?=80?=", "\xe2\x82\xac" },
		{ "=?iso-8859-1?q?=80?=", "\xe2\x82\xac" },
		{ "=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=",
		    "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88" },
		/* Left alone: malformed, unknown charset, spaces inside. */
		{ "=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=" },
		{ "=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?=" },
		{ "=?x-unknown-cs?Q?abc?=", "=?x-unknown-cs?Q?abc?=" },
		{ "=?../../etc/x?Q?abc?=", "=?../../etc/x?Q?abc?=" },
		{ "=?UTF-8?Q?abc", "=?UTF-8?Q?abc" },
		{ "=??Q?abc?=", "=??Q?abc?=" },
		{ "=?", "=?" },
		{ "=", "=" },
		{ "", "" },
		{ "=?utf-8?q?a?= =?x-nope?q?b?= =?utf-8?q?c?=",
		    "a =?x-nope?q?b?= c" },
		/* Bad bytes become U+FFFD, never invalid UTF-8. */
		{ "caf\xe9", "caf\xef\xbf\xbd" },
		{ "=?utf-8?q?=FF?=", "\xef\xbf\xbd" },
		{ "=?utf-8?q?a=00b?=", "a\xef\xbf\xbd" "b" },
		{ "=?us-ascii?q?=C3=A9?=", "\xc3\xa9" },
		{ "=?utf-8?b?w6k?=", "\xc3\xa9" },
	};
	char	*out;
	size_t	 i;
	int	 ok = 1;

	test_begin("mime: RFC 2047 decoding");
	for (i = 0; i < nitems(cases); i++) {
		char	*in = test_dup_exact(cases[i].in);

		out = mime_decode_header(in);
		if (!same(cases[i].in, out, strlen(out), cases[i].out,
		    strlen(cases[i].out)))
			ok = 0;
		free(out);
		free(in);
	}
	test_assert(ok);
	test_end();
}

static void
test_addresses(void)
{
	struct tmsg	 t;

	test_begin("mime: ENVELOPE addresses, groups, quoting");
	tm_open(&t, "From: \"john doe\"@example.com\r\n"
	    "Sender: \"John \\\"JJ\\\" Doe\" <j.x@example.com>\r\n"
	    "Reply-To: <@route.example,@r2:user@example.com>\r\n"
	    "To: undisclosed-recipients:;\r\n"
	    "Cc: Friends: alice@example.com, \"Bob B.\" <bob@example.com>;,"
	    " carol@example.com (Carol C), John Q. Public <jqp@[10.0.0.1]>\r\n"
	    "Bcc: foo, <>, =?utf-8?q?J=C3=B6rg?= <j@x>\r\n"
	    "Subject:\r\n"
	    "In-Reply-To: <a@b>\r\n"
	    " (folded)\r\n"
	    "\r\n");
	test_assert(env_is(&t, NULL, 0, "(NIL \"\" "
	    "((NIL NIL \"john doe\" \"example.com\")) "
	    "((\"John \\\"JJ\\\" Doe\" NIL \"j.x\" \"example.com\")) "
	    "((NIL \"@route.example,@r2\" \"user\" \"example.com\")) "
	    "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
	    "((NIL NIL \"Friends\" NIL)(NIL NIL \"alice\" \"example.com\")"
	    "(\"Bob B.\" NIL \"bob\" \"example.com\")(NIL NIL NIL NIL)"
	    "(\"Carol C\" NIL \"carol\" \"example.com\")"
	    "(\"John Q. Public\" NIL \"jqp\" \"[10.0.0.1]\")) "
	    "((NIL NIL \"foo\" \"MISSING_DOMAIN\")"
	    "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")"
	    "(\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")) "
	    "\"<a@b> (folded)\" NIL)"));
	tm_close(&t);

	test_end();

	test_begin("mime: sender and reply-to default to from");
	tm_open(&t, "From: A <a@x>, b@y\r\nSender:\r\nReply-To: (none)\r\n"
	    "Date: \r\n\r\n");
	test_assert(env_is(&t, NULL, 0, "(\"\" NIL "
	    "((\"A\" NIL \"a\" \"x\")(NIL NIL \"b\" \"y\")) "
	    "((\"A\" NIL \"a\" \"x\")(NIL NIL \"b\" \"y\")) "
	    "((\"A\" NIL \"a\" \"x\")(NIL NIL \"b\" \"y\")) NIL NIL NIL NIL "
	    "NIL)"));
	tm_close(&t);
	test_end();

	test_begin("mime: ENVELOPE of empty and header-less messages");
	tm_open(&t, "");
	test_assert(env_is(&t, NULL, 0,
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"));
	test_assert(bs_is(&t, 0, 0, "(" TP "0 0)"));
	test_assert(sect_is(&t, "HEADER", ""));
	test_assert(sect_is(&t, "TEXT", ""));
	test_assert(sect_is(&t, "HEADER.FIELDS (a)", "\r\n"));
	tm_close(&t);
	tm_open(&t, "\r\nbody");
	test_assert(env_is(&t, NULL, 0,
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"));
	test_assert(sect_is(&t, "HEADER", "\r\n"));
	test_assert(sect_is(&t, "TEXT", "body"));
	tm_close(&t);
	/* No blank line: all header, no body. */
	tm_open(&t, "Subject: only\r\nFrom: a@b");
	test_assert(env_is(&t, NULL, 0, "(NIL \"only\" ((NIL NIL \"a\" \"b\")) "
	    "((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	    "NIL NIL NIL NIL NIL)"));
	test_assert(sect_is(&t, "TEXT", ""));
	test_assert(sect_is(&t, "HEADER.FIELDS (from)", "From: a@b\r\n\r\n"));
	tm_close(&t);
	test_end();

	test_begin("mime: 8-bit header values: quoted for UTF-8, else literal");
	tm_open(&t, "Subject: caf\xc3\xa9\r\nFrom: J\xc3\xb6rg <j@x>\r\n\r\n");
	test_assert(env_is(&t, NULL, 1, "(NIL \"caf\xc3\xa9\" "
	    "((\"J\xc3\xb6rg\" NIL \"j\" \"x\")) ((\"J\xc3\xb6rg\" NIL \"j\" "
	    "\"x\")) ((\"J\xc3\xb6rg\" NIL \"j\" \"x\")) NIL NIL NIL NIL "
	    "NIL)"));
	test_assert(env_is(&t, NULL, 0, "(NIL {5}\r\ncaf\xc3\xa9 "
	    "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\")) (({5}\r\nJ\xc3\xb6rg NIL "
	    "\"j\" \"x\")) (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\")) NIL NIL NIL "
	    "NIL NIL)"));
	tm_close(&t);
	test_end();
}

static void
test_header_fields(void)
{
	struct tmsg	 t;
	char		*v;

	test_begin("mime: HEADER.FIELDS and HEADER.FIELDS.NOT");
	tm_open(&t, "Received: one\r\n"
	    "From: a@b\r\n"
	    "To: c@d\r\n"
	    "Subject: x\r\n"
	    "\ty\r\n"
	    "received: two\r\n"
	    "X-Other : 1\r\n"
	    "\r\n"
	    "Subject: not a header\r\n");
	test_assert(sect_is(&t, "HEADER.FIELDS (subject from)",
	    "From: a@b\r\nSubject: x\r\n\ty\r\n\r\n"));
	test_assert(sect_is(&t, "HEADER.FIELDS (RECEIVED)",
	    "Received: one\r\nreceived: two\r\n\r\n"));
	test_assert(sect_is(&t, "HEADER.FIELDS.NOT (subject from received)",
	    "To: c@d\r\nX-Other : 1\r\n\r\n"));
	test_assert(sect_is(&t, "HEADER.FIELDS (x-other)",
	    "X-Other : 1\r\n\r\n"));
	test_assert(sect_is(&t, "HEADER.FIELDS (Nope)", "\r\n"));
	test_assert(sect_is(&t, "header.fields (\"to\" {4}\r\nFROM)",
	    "From: a@b\r\nTo: c@d\r\n\r\n"));
	test_assert(sect_is(&t, "HEADER.FIELDS ({2+}\r\nTo)",
	    "To: c@d\r\n\r\n"));
	v = mime_header(t.m, NULL, "SUBJECT", 0);
	test_assert(v != NULL && strcmp(v, "x\ty") == 0);
	free(v);
	v = mime_header(t.m, NULL, "received", 1);
	test_assert(v != NULL && strcmp(v, "one\ntwo") == 0);
	free(v);
	v = mime_header(t.m, NULL, "x-other", 0);
	test_assert(v != NULL && strcmp(v, "1") == 0);
	free(v);
	test_assert(mime_header(t.m, NULL, "cc", 0) == NULL);
	test_assert(mime_header(t.m, NULL, "cc", 1) == NULL);
	tm_close(&t);
	test_end();
}

static void
test_section_syntax(void)
{
	static const char *const bad[] = {
		"0", "01", "1.", "1..2", "1.0", ".1", "1.2x", "4294967296",
		"MIME", "HEADER ", "TEXT x", "FOO", "1.FOO", "HEADER.FIELDS",
		"HEADER.FIELDS ", "HEADER.FIELDS ()", "HEADER.FIELDS (a",
		"HEADER.FIELDS (a)x", "HEADER.FIELDS (a  b)",
		"HEADER.FIELDS(a)", "HEADER.FIELDS (\"a)",
		"HEADER.FIELDS ({5}\r\na)",
		"HEADER.FIELDS ({1}a)", "HEADER.FIELDS (\"a\\b\")",
		"HEADER.FIELDS.NOTX (a)", "1.2.MIME.MIME",
		"HEADER.FIELDS (a(b)", "HEADER.FIELDS ({}\r\n)",
	};
	struct mime_section	 sec;
	struct buf		 b = BUF_INIT(SIZE_MAX);
	const char		*errstr;
	size_t			 i;
	int			 ok = 1;

	test_begin("mime: section syntax");
	for (i = 0; i < nitems(bad); i++) {
		errstr = NULL;
		if (mime_section_parse(bad[i], strlen(bad[i]), &sec,
		    &errstr) != -1 || errstr == NULL) {
			(void)printf("# \"%s\" parsed\n", bad[i]);
			mime_section_free(&sec);
			ok = 0;
		}
	}
	test_assert(ok);
	test_assert(mime_section_parse("", 0, &sec, &errstr) == 0 &&
	    sec.kind == MS_ALL && sec.npath == 0);
	test_assert(mime_section_parse("1.22.333", 8, &sec, &errstr) == 0 &&
	    sec.kind == MS_PART && sec.npath == 3 && sec.path[0] == 1 &&
	    sec.path[1] == 22 && sec.path[2] == 333);
	test_assert(mime_section_parse("4294967295", 10, &sec, &errstr) == 0 &&
	    sec.path[0] == 4294967295U);
	test_assert(mime_section_parse("header", 6, &sec, &errstr) == 0 &&
	    sec.kind == MS_HEADER);
	test_assert(mime_section_parse("2.Mime", 6, &sec, &errstr) == 0 &&
	    sec.kind == MS_MIME && sec.npath == 1);
	test_assert(mime_section_parse("3.TEXT", 6, &sec, &errstr) == 0 &&
	    sec.kind == MS_TEXT && sec.npath == 1);
	test_assert(mime_section_parse("HEADER.FIELDS.NOT (To \"x-A\" x-a FROM"
	    " ])", 39, &sec, &errstr) == 0 && sec.kind ==
	    MS_HEADER_FIELDS_NOT && sec.nfields == 4 &&
	    strcmp(sec.fields[0], "]") == 0 &&
	    strcmp(sec.fields[1], "from") == 0 &&
	    strcmp(sec.fields[2], "to") == 0 &&
	    strcmp(sec.fields[3], "x-a") == 0);
	mime_section_free(&sec);
	test_assert(sec.fields == NULL && sec.nfields == 0);
	/* The longest path there can be, and one more. */
	for (i = 0; i < MIME_SECTION_MAX_PATH; i++)
		(void)buf_addstr(&b, i == 0 ? "1" : ".1");
	test_assert(mime_section_parse(b.data, b.len, &sec, &errstr) == 0 &&
	    sec.npath == MIME_SECTION_MAX_PATH);
	(void)buf_addstr(&b, ".1");
	test_assert(mime_section_parse(b.data, b.len, &sec, &errstr) == -1);
	buf_free(&b);
	test_end();
}

static void
test_binary(void)
{
	static const char	 msg[] =
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "SGVs\r\nbG8g\r\n d29y *\r\nbGQ=\r\n"
	    "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "soft=\r\nbreak trailing   \r\nx=3Dy=c3=a9 =ZZ =\r\n\r\nend=\r\n"
	    "--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
	    "--b\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xff\x00\x01\r\n"
	    "--b\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "YQ==YWI=\r\n"
	    "--b--\r\n";
	static const char	 qp[] =
	    "softbreak trailing\r\nx=y\xc3\xa9 =ZZ \r\nend";
	struct tmsg		 t;

	test_begin("mime: BINARY undoes base64 and quoted-printable");
	tm_open_len(&t, msg, sizeof(msg) - 1);
	test_assert(bin_is(&t, "1", "Hello world", 11, NULL));
	test_assert(bin_is(&t, "2", qp, sizeof(qp) - 1, NULL));
	test_assert(bin_is(&t, "3", NULL, 0, "unknown-cte"));
	test_assert(bin_is(&t, "4", "\xff\x00\x01", 3, NULL));
	test_assert(bin_is(&t, "5", "aab", 3, NULL));
	test_assert(bin_is(&t, "6", NULL, 0, "no such part"));
	test_assert(bin_is(&t, "1.MIME", NULL, 0, "bad section"));
	tm_close(&t);
	test_end();
}

#define WANT_BODIES \
	"na\xc3\xafve|<b>\xc3\xa9</b>|in\xef\xbf\xbdner|as \xc3\xa9is|"
#define WANT_HEADERS \
	"Subject: caf\xc3\xa9\nContent-Type: multipart/mixed; boundary=b\n|" \
	"Content-Type: text/plain; charset=iso-8859-1\n" \
	"Content-Transfer-Encoding: quoted-printable\n|" \
	"Content-Type: text/html; charset=utf-8\n" \
	"Content-Transfer-Encoding: base64\n|" \
	"Content-Type: image/png\n|Content-Type: message/rfc822\n|" \
	"Subject: inner\n|Content-Type: text/plain; charset=x-nope\n|"

struct collect {
	struct buf	 b;
	int		 calls;
	int		 stop_after;
};

static int
collect_cb(void *arg, const char *s, size_t len)
{
	struct collect	*c = arg;

	(void)buf_add(&c->b, s, len);
	(void)buf_addc(&c->b, '|');
	return ++c->calls == c->stop_after ? 7 : 0;
}

static void
test_text(void)
{
	struct tmsg	 t;
	struct collect	 c;

	test_begin("mime: text for SEARCH, decoded to UTF-8");
	tm_open(&t, "Subject: =?utf-8?q?caf=C3=A9?=\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "na=EFve\r\n"
	    "--b\r\nContent-Type: text/html; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "PGI+w6k8L2I+\r\n"
	    "--b\r\nContent-Type: image/png\r\n\r\nnot text\r\n"
	    "--b\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Subject: inner\r\n\r\nin\xffner\r\n"
	    "--b\r\nContent-Type: text/plain; charset=x-nope\r\n\r\n"
	    "as \xc3\xa9is\r\n"
	    "--b--\r\n");
	memset(&c, 0, sizeof(c));
	buf_init(&c.b, SIZE_MAX);
	test_assert(mime_text(t.m, 0, 1, collect_cb, &c) == 0);
	test_assert(same("bodies", c.b.data, c.b.len,
	    WANT_BODIES, strlen(WANT_BODIES)));
	buf_reset(&c.b);
	c.calls = 0;
	test_assert(mime_text(t.m, 1, 0, collect_cb, &c) == 0);
	test_assert(same("headers", c.b.data, c.b.len, WANT_HEADERS,
	    strlen(WANT_HEADERS)));
	buf_reset(&c.b);
	c.calls = 0;
	c.stop_after = 2;
	test_assert(mime_text(t.m, 1, 1, collect_cb, &c) == 7 && c.calls == 2);
	buf_free(&c.b);
	tm_close(&t);
	test_end();
}

/* Compiled-in single-byte charsets: no iconv module is needed. */
static void
test_text_sb(void)
{
	struct tmsg	 t;
	struct collect	 c;
	static const char want[] =
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82|"
	    "\xe2\x82\xac \xc5\x93 \xef\xbf\xbd|"
	    "Stra\xc3\x9f" "e \xef\xbf\xbd|";

	test_begin("mime: KOI8-R, windows-1252, latin1 without iconv; NULs");
	tm_open(&t, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; charset=KOI8-R\r\n\r\n"
	    "\xf0\xd2\xc9\xd7\xc5\xd4\r\n"
	    "--b\r\nContent-Type: text/plain; charset=\"Windows-1252\"\r\n"
	    "\r\n\x80 \x9c \x81\r\n"
	    "--b\r\nContent-Type: text/plain; charset=latin1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Stra=DFe =00\r\n"
	    "--b--\r\n");
	memset(&c, 0, sizeof(c));
	buf_init(&c.b, SIZE_MAX);
	test_assert(mime_text(t.m, 0, 1, collect_cb, &c) == 0);
	test_assert(same("bodies", c.b.data, c.b.len, want, strlen(want)));
	buf_free(&c.b);
	tm_close(&t);
	test_end();
}

static void
test_dates(void)
{
	static const struct {
		const char	*in;
		int		 y, mo, d, h, mi, s, zone;
	} good[] = {
		{ "Mon, 7 Feb 1994 21:52:25 -0800",
		    1994, 2, 7, 21, 52, 25, -480 },
		{ "7 Feb 94 21:52 PST", 1994, 2, 7, 21, 52, 0, -480 },
		{ "Tue, 1 Jul 2003 10:52:37 +0200 (CEST)",
		    2003, 7, 1, 10, 52, 37, 120 },
		{ "Thu, 13 Feb 1969 23:32:54 -0330",
		    1969, 2, 13, 23, 32, 54, -210 },
		{ "Fri, 21 Nov 1997 09(comment):   55  :  06 -0600",
		    1997, 11, 21, 9, 55, 6, -360 },
		{ "1 jan 49 00:00:00 GMT", 2049, 1, 1, 0, 0, 0, 0 },
		{ "1 JANUARY 50 00:00:00 UT", 1950, 1, 1, 0, 0, 0, 0 },
		{ "1 Jan 100 00:00 +0000", 2000, 1, 1, 0, 0, 0, 0 },
		{ "29 Feb 2000 12:00 EDT", 2000, 2, 29, 12, 0, 0, -240 },
		{ "31 Dec 9999 23:59:60 Z", 9999, 12, 31, 23, 59, 60, 0 },
		{ "Sun,01 Mar 2020 01:02:03 a", 2020, 3, 1, 1, 2, 3, 0 },
		{ "1 Mar 2020 01:02", 2020, 3, 1, 1, 2, 0, 0 },
	};
	static const char *const bad[] = {
		"", "garbage", "Mon, 7 Feb", "31 Feb 2020 00:00 +0000",
		"29 Feb 1900 00:00 +0000", "1 Foo 2020 00:00 +0000",
		"1 Jan 2020 24:00 +0000", "1 Jan 2020 10:00 +0260",
		"1 Jan 2020 10:60", "0 Jan 2020 10:00", "1 Jan 20200 10:00",
		"1 Jan 2020 10:00 +020", "123 Jan 2020 10:00", "1 Jan 2020 10",
	};
	struct tm	 tm;
	time_t		 got, want;
	size_t		 i;
	int		 zone, ok = 1;

	test_begin("mime: RFC 5322 dates");
	for (i = 0; i < nitems(good); i++) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = good[i].y - 1900;
		tm.tm_mon = good[i].mo - 1;
		tm.tm_mday = good[i].d;
		tm.tm_hour = good[i].h;
		tm.tm_min = good[i].mi;
		tm.tm_sec = good[i].s;
		want = timegm(&tm) - good[i].zone * 60;
		if (mime_parse_date(good[i].in, &got, &zone) != 0 ||
		    got != want || zone != good[i].zone) {
			(void)printf("# \"%s\": %lld %d\n", good[i].in,
			    (long long)got, zone);
			ok = 0;
		}
	}
	for (i = 0; i < nitems(bad); i++)
		if (mime_parse_date(bad[i], &got, &zone) != -1) {
			(void)printf("# \"%s\" parsed\n", bad[i]);
			ok = 0;
		}
	test_assert(ok);
	test_end();
}

static void
test_first_address(void)
{
	char	 mbox[64], disp[64], small[4];

	test_begin("mime: first address for SORT");
	test_assert(mime_first_address("=?utf-8?q?J=C3=B6rg?= <joerg@x.y>, "
	    "b@c", mbox, sizeof(mbox), disp, sizeof(disp)) == 0 &&
	    strcmp(mbox, "joerg") == 0 && strcmp(disp, "J\xc3\xb6rg") == 0);
	test_assert(mime_first_address("Team: \"a b\"@c, d@e;", mbox,
	    sizeof(mbox), disp, sizeof(disp)) == 0 &&
	    strcmp(mbox, "a b") == 0 && strcmp(disp, "") == 0);
	test_assert(mime_first_address("undisclosed:;", mbox, sizeof(mbox),
	    disp, sizeof(disp)) == -1 && mbox[0] == '\0' && disp[0] == '\0');
	test_assert(mime_first_address("", mbox, sizeof(mbox), disp,
	    sizeof(disp)) == -1);
	test_assert(mime_first_address("Long Name <longbox@x>", small,
	    sizeof(small), disp, sizeof(disp)) == 0 &&
	    strcmp(small, "lon") == 0 && strcmp(disp, "Long Name") == 0);
	/* Cut on a character boundary: "\xc3\xa9" does not fit after "ab". */
	test_assert(mime_first_address("ab\xc3\xa9 <x@y>", mbox, sizeof(mbox),
	    small, sizeof(small)) == 0 && strcmp(small, "ab") == 0);
	test_end();
}

static void
test_base_subject(void)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "Re: hello", "hello" },
		{ "RE: [list] Re: hello (fwd)", "hello" },
		{ "[fwd: Re: hello]", "hello" },
		{ "[PATCH] fix", "fix" },
		{ "[PATCH]", "[PATCH]" },
		{ "[a] [b]", "[b]" },
		{ "Fwd: Fw: re:re: x", "x" },
		{ "Re [blob]: x", "x" },
		{ "Re  :x", "x" },
		{ "Ref: x", "Ref: x" },
		{ "=?utf-8?q?Re=3A_caf=C3=A9?=", "caf\xc3\xa9" },
		{ "Re:\tsome\t\tthing  ", "some thing" },
		{ "(fwd) (fwd)", "" },
		{ "x (FWD)(fwd) ", "x" },
		{ "", "" },
		{ "   ", "" },
		{ "Re:", "" },
		{ "[fwd: [fwd: x]]", "x" },
		{ "[a][b] Re: [c] x", "x" },
	};
	char	*out;
	size_t	 i;
	int	 ok = 1;

	test_begin("mime: RFC 5256 base subject");
	for (i = 0; i < nitems(cases); i++) {
		out = mime_base_subject(cases[i].in);
		if (!same(cases[i].in, out, strlen(out), cases[i].out,
		    strlen(cases[i].out)))
			ok = 0;
		free(out);
	}
	test_assert(ok);
	test_end();
}

static void
test_msgids(void)
{
	char	**ids;
	size_t	  n, i;

	test_begin("mime: message-ids for THREAD");
	n = mime_msgids("<a@b> <c@d>\r\n <e@f>", &ids);
	test_assert(n == 3 && strcmp(ids[0], "<a@b>") == 0 &&
	    strcmp(ids[1], "<c@d>") == 0 && strcmp(ids[2], "<e@f>") == 0);
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	n = mime_msgids("(comment <x@y>) \"<q@r>\" <<a @ b\r\n .c> <d@e",
	    &ids);
	test_assert(n == 1 && strcmp(ids[0], "<a@b.c>") == 0);
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	n = mime_msgids("", &ids);
	test_assert(n == 0 && ids == NULL);
	n = mime_msgids("<> <>", &ids);
	test_assert(n == 0 && ids == NULL);
	{
		char	*s;
		size_t	 len;

		s = test_repeat("", "<a@b>", 5000, "", &len);
		n = mime_msgids(s, &ids);
		test_assert(n == MIME_MAX_MSGIDS);
		for (i = 0; i < n; i++)
			free(ids[i]);
		free(ids);
		free(s);
	}
	test_end();
}

int
main(void)
{
	test_hostile_boundaries();
	test_hostile_nesting();
	test_hostile_values();
	test_hostile_junk();
	test_simple();
	test_mixed();
	test_complex();
	test_boundaries();
	test_extension_data();
	test_rfc2231();
	test_rfc2047();
	test_addresses();
	test_header_fields();
	test_section_syntax();
	test_binary();
	test_text();
	test_text_sb();
	test_dates();
	test_first_address();
	test_base_subject();
	test_msgids();
	return test_exit();
}
