/*
 * The 8BITMIME downgrade (lib/mail/mime7bit.c): hostile input and the
 * limits first, then exact outputs for the usual shapes (one part,
 * multipart, an enclosed message, base64), quoted-printable read back
 * by a strict decoder written here, and a second conversion that must
 * change nothing.
 *
 * Every message is copied to a buffer of exactly its length, without a
 * NUL, so that ASan sees a read past its end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "mime.h"
#include "mime7bit.h"
#include "test.h"
#include "util.h"

#define BIG	(64 * 1024 * 1024)

struct res {
	int		 rc;
	const char	*err;
	char		*out;		/* NUL-terminated, CRLF line ends */
	size_t		 len;
};

static void
conv_max(const char *in, size_t len, size_t max, struct res *r)
{
	struct buf	 b = BUF_INIT(max);
	char		*copy;

	copy = xmalloc(len > 0 ? len : 1);
	memcpy(copy, in, len);
	r->err = NULL;
	r->rc = mime7bit_convert(copy, len, &b, &r->err);
	r->out = buf_release(&b, &r->len);
	free(copy);
}

static void
conv(const char *in, struct res *r)
{
	conv_max(in, strlen(in), BIG, r);
}

static int
same(const char *got, size_t gotlen, const char *want)
{
	size_t	 wantlen = strlen(want);

	if (gotlen == wantlen && memcmp(got, want, wantlen) == 0)
		return 1;
	(void)printf("#  got: ");
	test_print_escaped(got, gotlen, 2000);
	(void)printf("\n# want: ");
	test_print_escaped(want, wantlen, 2000);
	(void)printf("\n");
	return 0;
}

/* in converts to want; converting want again changes nothing. */
static int
converts_to(const char *in, const char *want)
{
	struct res	 r, r2;
	int		 ok;

	conv(in, &r);
	if (r.rc != 0) {
		(void)printf("# failed: %s\n", r.err);
		free(r.out);
		return 0;
	}
	ok = same(r.out, r.len, want);
	conv_max(r.out, r.len, BIG, &r2);
	if (r2.rc != 0 || !same(r2.out, r2.len, r.out))
		ok = 0;
	free(r.out);
	free(r2.out);
	return ok;
}

/* in is refused with why. */
static int
refused(const char *in, size_t len, const char *why)
{
	struct res	 r;
	int		 ok;

	conv_max(in, len, BIG, &r);
	ok = r.rc == -1 && r.err != NULL && strcmp(r.err, why) == 0;
	if (!ok)
		(void)printf("# rc %d, %s\n", r.rc,
		    r.err != NULL ? r.err : "no reason");
	free(r.out);
	return ok;
}

/* n multiparts, one in the other, around body; each closed. */
static char *
nested(size_t n, const char *body, size_t *lenp)
{
	struct buf	 b = BUF_INIT(BIG);
	size_t		 i;

	(void)buf_addstr(&b, "From: a@example.org\n");
	for (i = 0; i < n; i++)
		(void)buf_printf(&b, "Content-Type: multipart/mixed; "
		    "boundary=b%zu\n\n--b%zu\n", i, i);
	(void)buf_printf(&b, "Content-Type: text/plain\n\n%s\n", body);
	for (i = n; i-- > 0;)
		(void)buf_printf(&b, "--b%zu--\n", i);
	return buf_release(&b, lenp);
}

/*
 * A strict quoted-printable reader: "=XX" in upper case, "=" CRLF, CRLF
 * line breaks, lines of at most 76, no 8-bit bytes, no white space at a
 * line's end, no line that starts with "--". -1 if s breaks a rule.
 */
static int
qp_read(const char *s, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const char	*h, *l;
	size_t		 i, col = 0;

	for (i = 0; i < len; i++) {
		if (col == 0 && len - i >= 2 && s[i] == '-' && s[i + 1] == '-')
			return -1;
		if ((unsigned char)s[i] >= 0x7f || s[i] == '\0')
			return -1;
		if (s[i] == '\r') {
			if (i + 1 >= len || s[i + 1] != '\n' || (i > 0 &&
			    (s[i - 1] == ' ' || s[i - 1] == '\t')))
				return -1;
			(void)buf_add(out, "\r\n", 2);
			i++;
			col = 0;
			continue;
		}
		if (s[i] == '\n' || ++col > 76)
			return -1;
		if (s[i] != '=') {
			(void)buf_addc(out, s[i]);
			continue;
		}
		if (len - i >= 3 && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
			col = 0;
			continue;
		}
		if (len - i < 3 || (h = strchr(hex, s[i + 1])) == NULL ||
		    (l = strchr(hex, s[i + 2])) == NULL || s[i + 1] == '\0' ||
		    s[i + 2] == '\0')
			return -1;
		(void)buf_addc(out, (int)((h - hex) << 4 | (l - hex)));
		i += 2;
		col += 2;
		if (col > 76)
			return -1;
	}
	if (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		return -1;
	return 0;
}

/* s with bare LFs made CRLF. */
static void
crlf(const char *s, size_t len, struct buf *out)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			(void)buf_addc(out, '\r');
		(void)buf_addc(out, s[i]);
	}
}

/* The body of a one-part message, read back from out. */
static const char *
body_of(const struct res *r, size_t *len)
{
	const char	*p = strstr(r->out, "\r\n\r\n");

	if (p == NULL) {
		*len = 0;
		return "";
	}
	p += 4;
	*len = r->len - (size_t)(p - r->out);
	return p;
}

/*
 * Hostile input and limits.
 */

static void
test_limits(void)
{
	struct buf	 b;
	struct res	 r;
	char		*s;
	size_t		 len, full;

	test_begin("mime7bit: depth, size, fields and parts limits");
	s = nested(MIME7BIT_MAX_DEPTH + 8, "caf\xc3\xa9", &len);
	test_assert(refused(s, len, "parts nested too deeply"));
	free(s);
	/* At the limit, 7-bit or not, it is refused all the same. */
	s = nested(MIME7BIT_MAX_DEPTH, "cafe", &len);
	test_assert(refused(s, len, "parts nested too deeply"));
	free(s);
	s = nested(MIME7BIT_MAX_DEPTH - 1, "caf\xc3\xa9", &len);
	conv_max(s, len, BIG, &r);
	test_assert(r.rc == 0 && strstr(r.out, "caf=C3=A9\r\n") != NULL);
	free(r.out);
	free(s);
	s = test_repeat("Content-Type: message/rfc822\n\n", "Content-Type: "
	    "message/rfc822\n\n", 40, "\n\xe9\n", &len);
	test_assert(refused(s, len, "parts nested too deeply"));
	free(s);

	/* Fields: the two it may add must still be read by mime.c. */
	s = test_repeat("", "X: y\n", MIME7BIT_MAX_FIELDS + 1, "\n\xe9\n", &len);
	test_assert(refused(s, len, "too many header fields"));
	free(s);
	s = test_repeat("", "X: y\n", MIME7BIT_MAX_FIELDS, "\n\xe9\n", &len);
	conv_max(s, len, BIG, &r);
	test_assert(r.rc == 0);
	free(r.out);
	free(s);
	/* Lines that are not fields do not count; they are kept. */
	s = test_repeat("", "junk\n", MIME7BIT_MAX_FIELDS + 5, "\n\xe9\n", &len);
	conv_max(s, len, BIG, &r);
	test_assert(r.rc == 0 && r.len == (len - 3) / 5 * 6 + 2 + 45 + 19 +
	    5);
	free(r.out);
	free(s);
	s = test_repeat("X: ", "y", MIME7BIT_MAX_HEADER, "\n\nx\n", &len);
	test_assert(refused(s, len, "header block too large"));
	free(s);

	/* Past MIME_MAX_PARTS mime.c drops parts: refused. */
	s = test_repeat("Content-Type: multipart/mixed; boundary=b\n\n",
	    "--b\n\nx\n", MIME_MAX_PARTS, "--b--\n", &len);
	test_assert(refused(s, len, "too many parts"));
	free(s);
	s = test_repeat("Content-Type: multipart/mixed; boundary=b\n\n",
	    "--b\n\n\xe9\n", MIME_MAX_PARTS - 2, "--b--\n", &len);
	conv_max(s, len, BIG, &r);
	test_assert(r.rc == 0);
	free(r.out);
	free(s);

	/* The size is checked before anything is read. */
	b = (struct buf)BUF_INIT(BIG);
	test_assert(mime7bit_convert("x", MIME7BIT_MAX_SIZE + 1, &b,
	    &r.err) == -1 && strcmp(r.err, "message too large") == 0 &&
	    b.len == 0);
	test_end();

	test_begin("mime7bit: the ceiling of out");
	s = nested(3, "caf\xc3\xa9 =", &len);
	conv_max(s, len, BIG, &r);
	test_assert(r.rc == 0);
	full = r.len;
	free(r.out);
	conv_max(s, len, full, &r);
	test_assert(r.rc == 0 && r.len == full);
	free(r.out);
	conv_max(s, len, full - 1, &r);
	test_assert(r.rc == -1 && strcmp(r.err, "output too large") == 0);
	free(r.out);
	conv_max(s, len, 10, &r);
	test_assert(r.rc == -1 && strcmp(r.err, "output too large") == 0);
	free(r.out);
	free(s);
	test_end();
}

/* s (freed) converts, in a time generous enough for ASan builds. */
static int
converts_quickly(const char *what, char *s, size_t len)
{
	struct res	 r;
	double		 t0, dt;

	t0 = test_now();
	conv_max(s, len, BIG, &r);
	dt = test_now() - t0;
	(void)printf("# %s, %zu bytes: %.3f s\n", what, len, dt);
	free(r.out);
	free(s);
	return r.rc == 0 && dt < 10;
}

static void
test_hostile(void)
{
	struct res	 r;
	struct mime_msg	*m, *m2;
	char		*s, *body;
	size_t		 len;

	test_begin("mime7bit: malformed types, encodings and boundaries");
	/* A malformed Content-Type is text/plain (RFC 2045 5.2). */
	test_assert(converts_to("Content-Type: /;;=\"\n\n\xe9\n",
	    "Content-Type: /;;=\"\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\nMIME-Version: 1.0\r\n\r\n=E9\r\n"));
	/* So is a multipart without a boundary. */
	test_assert(converts_to("Content-Type: multipart/mixed\n\n--x\n\xe9\n",
	    "Content-Type: multipart/mixed\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\nMIME-Version: 1.0\r\n\r\n=2D-x\r\n=E9\r\n"));
	/* Raw 8-bit in quoted-printable: escaped, "--" lines too. */
	test_assert(converts_to("MIME-Version: 1.0\nContent-Transfer-"
	    "Encoding: Quoted-Printable\n\na=3D\xe9=\n--x\xe9\n",
	    "MIME-Version: 1.0\r\nContent-Transfer-Encoding: "
	    "Quoted-Printable\r\n\r\na=3D=E9=\r\n=2D-x=E9\r\n"));
	/* A CR alone is data: it stays, and so does white space after it. */
	test_assert(converts_to("Content-Transfer-Encoding: quoted-printable"
	    "\n\n\xe9\r \nx\n", "Content-Transfer-Encoding: quoted-printable"
	    "\r\n\r\n=E9\r \r\nx\r\n"));
	/* In base64: dropped, as decoders do ('-' too: not base64). */
	test_assert(converts_to("Content-Type: image/png\n"
	    "Content-Transfer-Encoding: base64\n\nSGVs\xff" "bG8=\n--x\xe9\n",
	    "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
	    "\r\nSGVsbG8=\r\nx\r\n"));
	/* An unknown encoding cannot be converted. */
	s = "Content-Transfer-Encoding: x-uuencode\n\n\xe9\n";
	test_assert(refused(s, strlen(s),
	    "8-bit data under an unknown encoding"));
	/* Unknown but 7-bit: copied, 8-bit header fields as they are. */
	test_assert(converts_to("Content-Transfer-Encoding: x-uuencode\n"
	    "Subject: \xe9\n\nM86)C\n", "Content-Transfer-Encoding: "
	    "x-uuencode\r\nSubject: \xe9\r\n\r\nM86)C\r\n"));
	/* RFC 2231 boundary pieces, an empty one, an unclosed quote. */
	test_assert(converts_to("Content-Type: multipart/mixed; "
	    "boundary*0=\"a\"; boundary*1=b\n\n--ab\n\n\xe9\n--ab--\n",
	    "Content-Type: multipart/mixed; boundary*0=\"a\"; boundary*1=b"
	    "\r\n\r\n--ab\r\nContent-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n=E9\r\n--ab--\r\n"));
	test_assert(converts_to("Content-Type: multipart/mixed; boundary=\"\""
	    "\n\n--\n\xe9", "Content-Type: multipart/mixed; boundary=\"\"\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\nMIME-Version: 1.0"
	    "\r\n\r\n=2D-\r\n=E9"));
	test_assert(converts_to("Content-Type: multipart/mixed; boundary=\"q"
	    "\n\n--q\n\n\xe9", "Content-Type: multipart/mixed; boundary=\"q"
	    "\r\n\r\n--q\r\nContent-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n=E9"));
	/* 8-bit preamble and epilogue: masked, not "--" lines. */
	test_assert(converts_to("Content-Type: multipart/mixed; boundary=b\n\n"
	    "pr\xe9" "ambule\n--bx\xe9\n\nok\n--b--\xe9\n\xe9pilogue\n--\xe9\n",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "pr?ambule\r\n--bx\xe9\r\n\r\nok\r\n--b--\xe9\r\n?pilogue\r\n"
	    "--\xe9\r\n"));
	/* A header cut by a delimiter, an empty body, no header at all. */
	test_assert(converts_to("Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Transfer-Encoding: 8bit\n--b\n\n--b\n\n\n\xe9\n--b--",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Transfer-Encoding: 8bit\r\n--b\r\n\r\n--b\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n\r\n=E9\r\n"
	    "--b--"));
	test_assert(converts_to("", ""));
	test_assert(converts_to("\n\xe9", "Content-Transfer-Encoding: "
	    "quoted-printable\r\nMIME-Version: 1.0\r\n\r\n=E9"));
	test_assert(converts_to("Subject: caf\xe9\n", "Subject: caf\xe9\r\n"));
	test_end();

	test_begin("mime7bit: a soft break never starts a line with \"--\"");
	s = test_repeat("Content-Type: multipart/mixed; boundary=outer\n\n"
	    "--outer\n\n", "a", 75, "--outer\xe9\n--outer--\n", &len);
	conv_max(s, len, BIG, &r);
	test_assert(r.rc == 0 && strstr(r.out, "=\r\n=2D-outer=E9\r\n") !=
	    NULL);
	m = mime_parse(s, len, NULL);
	m2 = mime_parse(r.out, r.len, NULL);
	test_assert(m != NULL && m2 != NULL &&
	    mime_nparts(m) == mime_nparts(m2) && mime_nparts(m) == 2);
	mime_free(m);
	mime_free(m2);
	free(r.out);
	free(s);
	test_end();

	test_begin("mime7bit: the cost stays linear");
	/* Each line is matched against every open boundary: depth * n. */
	body = test_repeat("", "--x \xe9\xe9\xe9 --b2 is not a boundary here\n",
	    100000, "", &len);
	s = nested(MIME7BIT_MAX_DEPTH - 1, body, &len);
	free(body);
	test_assert(converts_quickly("31 levels deep", s, len));
	s = test_repeat("Content-Type: multipart/mixed; boundary=b\n\n",
	    "--b\n\n\xe9\n", MIME_MAX_PARTS - 2, "--b--\n", &len);
	test_assert(converts_quickly("9999 parts", s, len));
	test_end();
}

/*
 * What it is for.
 */

#define NEEDED(s)	mime7bit_needed((s), sizeof(s) - 1)

static void
test_needed(void)
{
	test_begin("mime7bit: needed only for 8-bit bytes or NULs in the body");
	test_assert(NEEDED("Subject: caf\xe9\n\nplain\n") == 0);
	test_assert(NEEDED("Subject: x\n\ncaf\xe9\n") == 1);
	test_assert(NEEDED("Subject: x\r\n\r\na\0b") == 1);
	test_assert(NEEDED("Subject: x\r\n\r\nab") == 0);
	test_assert(NEEDED("Subject: caf\xe9") == 0);
	test_assert(NEEDED("\n\xe9") == 1);
	test_assert(NEEDED("\r\n\xe9") == 1);
	test_assert(NEEDED("X: y\n\r") == 0);
	test_assert(NEEDED("X: y\n \n\n\xe9") == 1);
	test_assert(NEEDED("X: y\n\n--b\n\xe9: in a part header\n") == 1);
	test_assert(mime7bit_needed(NULL, 0) == 0);
	test_end();
}

static void
test_plain(void)
{
	test_begin("mime7bit: 7-bit messages are copied, line ends made CRLF");
	test_assert(converts_to("From: a@example.org\nSubject: hi\n\nHello\n"
	    "world =\n", "From: a@example.org\r\nSubject: hi\r\n\r\nHello\r\n"
	    "world =\r\n"));
	test_assert(converts_to("From: a@example.org\r\n\r\nHello\r\n",
	    "From: a@example.org\r\n\r\nHello\r\n"));
	test_assert(converts_to("A: b\r\n\r\nbare\rCR\r\r\nmixed\n\r\n",
	    "A: b\r\n\r\nbare\rCR\r\r\nmixed\r\n\r\n"));
	test_end();
}

static void
test_qp(void)
{
	struct buf	 want = BUF_INIT(BIG), got = BUF_INIT(BIG);
	struct res	 r;
	const char	*body;
	char		 in[2048];
	size_t		 blen, i, n;
	unsigned	 seed = 1;

	test_begin("mime7bit: 8-bit text becomes quoted-printable");
	test_assert(converts_to("From: a@example.org\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n\n"
	    "caf\xc3\xa9 a=b end \n\tx\t\n",
	    "From: a@example.org\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "MIME-Version: 1.0\r\n\r\n"
	    "caf=C3=A9 a=3Db end=20\r\n\tx=09\r\n"));
	/* MIME-Version is kept where it is; every CTE field goes. */
	test_assert(converts_to("MIME-Version: 1.0\n"
	    "Content-Transfer-Encoding: 8bit\nSubject: x\n"
	    "content-transfer-encoding :\n  8bit\n\n\xe9",
	    "MIME-Version: 1.0\r\nSubject: x\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9"));
	/* Soft breaks: 75 and "=", a last line of 76. */
	in[0] = '\n';
	memset(in + 1, 'a', 78);
	(void)memcpy(in + 79, "\xe9", 2);
	conv(in, &r);
	body = body_of(&r, &blen);
	test_assert(r.rc == 0 && blen == 75 + 3 + 3 + 3 &&
	    memcmp(body + 75, "=\r\naaa=E9", 9) == 0);
	free(r.out);
	memset(in + 1, 'a', 73);
	(void)memcpy(in + 74, "\xe9", 2);
	conv(in, &r);
	body = body_of(&r, &blen);
	test_assert(r.rc == 0 && blen == 76 && memcmp(body + 73, "=E9", 3) ==
	    0);
	free(r.out);
	memset(in + 1, 'a', 75);
	(void)memcpy(in + 76, "\xe9", 2);
	conv(in, &r);
	body = body_of(&r, &blen);
	test_assert(r.rc == 0 && blen == 75 + 3 + 3 &&
	    memcmp(body + 75, "=\r\n=E9", 6) == 0);
	free(r.out);
	test_end();

	test_begin("mime7bit: quoted-printable reads back to the body");
	/* Every byte, lines of every length, white space, CR, "--". */
	for (n = 1; n < 300; n += 7) {
		buf_reset(&want);
		buf_reset(&got);
		in[0] = '\n';
		blen = n * 6 < sizeof(in) - 1 ? n * 6 : sizeof(in) - 1;
		for (i = 0; i < blen; i++) {
			seed = seed * 1103515245 + 12345;
			in[i + 1] = (char)(seed >> 16);
			if (i % n == n - 1)
				in[i + 1] = "\n- \t\r="[(seed >> 24) % 6];
		}
		in[1] = '\xe9';	/* so that it is converted */
		conv_max(in, blen + 1, BIG, &r);
		body = body_of(&r, &i);
		crlf(in + 1, blen, &want);
		test_assert(r.rc == 0 && qp_read(body, i, &got) == 0 &&
		    got.len == want.len &&
		    memcmp(got.data, want.data, got.len) == 0);
		free(r.out);
	}
	buf_free(&want);
	buf_free(&got);
	test_end();
}

static void
test_multipart(void)
{
	test_begin("mime7bit: multipart/mixed: only the 8-bit part changes");
	test_assert(converts_to("From: a@example.org\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"=_b1\"\n\n"
	    "preamble\n"
	    "--=_b1\n"
	    "Content-Type: text/plain; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: 8bit\n\n"
	    "gr\xfc\xdf" "e\n"
	    "--=_b1\n"
	    "Content-Type: application/pdf\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "SGVsbG8=\n"
	    "--=_b1--\n"
	    "epilogue\n",
	    "From: a@example.org\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"=_b1\"\r\n\r\n"
	    "preamble\r\n"
	    "--=_b1\r\n"
	    "Content-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "gr=FC=DFe\r\n"
	    "--=_b1\r\n"
	    "Content-Type: application/pdf\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "SGVsbG8=\r\n"
	    "--=_b1--\r\n"
	    "epilogue\r\n"));
	test_end();

	test_begin("mime7bit: a missing close delimiter is not added");
	test_assert(converts_to("Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\n\nfirst\n--b\nContent-Type: text/plain\n\n\xe9t\xe9\n",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\n\r\nfirst\r\n--b\r\nContent-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "=E9t=E9\r\n"));
	test_end();

	test_begin("mime7bit: a multipart in a message/rfc822");
	test_assert(converts_to("Content-Type: multipart/mixed; boundary=outer"
	    "\nMIME-Version: 1.0\n\n"
	    "--outer\nContent-Type: text/plain\n\nhi\n"
	    "--outer\nContent-Type: message/rfc822\n"
	    "Content-Transfer-Encoding: 8bit\n\n"
	    "Subject: inner\n"
	    "Content-Type: multipart/alternative; boundary=inner\n\n"
	    "--inner\nContent-Type: text/plain; charset=utf-8\n\n"
	    "\xc3\xa9t\xc3\xa9\n"
	    "--inner\nContent-Type: text/html\n\n<p>ok</p>\n"
	    "--inner--\n\n"
	    "--outer--\n",
	    "Content-Type: multipart/mixed; boundary=outer"
	    "\r\nMIME-Version: 1.0\r\n\r\n"
	    "--outer\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
	    "--outer\r\nContent-Type: message/rfc822\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n"
	    "Subject: inner\r\n"
	    "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
	    "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "=C3=A9t=C3=A9\r\n"
	    "--inner\r\nContent-Type: text/html\r\n\r\n<p>ok</p>\r\n"
	    "--inner--\r\n\r\n"
	    "--outer--\r\n"));
	/* An enclosed one-part message gets MIME-Version as well. */
	test_assert(converts_to("Content-Type: message/rfc822\n\n"
	    "Subject: x\n\n\xe9\n",
	    "Content-Type: message/rfc822\r\n\r\n"
	    "Subject: x\r\nContent-Transfer-Encoding: quoted-printable\r\n"
	    "MIME-Version: 1.0\r\n\r\n=E9\r\n"));
	/* A digest's parts are messages (RFC 2046 5.1.5). */
	test_assert(converts_to("Content-Type: multipart/digest; boundary=d\n\n"
	    "--d\n\nSubject: x\n\n\xe9\n--d--\n",
	    "Content-Type: multipart/digest; boundary=d\r\n\r\n"
	    "--d\r\n\r\nSubject: x\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\nMIME-Version: 1.0\r\n\r\n=E9\r\n--d--\r\n"));
	test_end();
}

static void
test_base64(void)
{
	static const char	 in[] = "Content-Type: application/"
	    "octet-stream\nContent-Transfer-Encoding: 8bit\n\n"
	    "\x00\x01\xff\nabc\r\n";
	static const char	 bin[] = "Content-Type: application/"
	    "octet-stream\nContent-Transfer-Encoding: binary\n\n"
	    "\x00\x01\xff\nabc\r\n";
	struct res		 r;
	const char		*body;
	char			 dec[4096], *s;
	size_t			 blen, dlen, i;

	test_begin("mime7bit: other 8-bit parts become base64");
	conv_max(in, sizeof(in) - 1, BIG, &r);
	test_assert(r.rc == 0 && same(r.out, r.len, "Content-Type: "
	    "application/octet-stream\r\nContent-Transfer-Encoding: base64"
	    "\r\nMIME-Version: 1.0\r\n\r\nAAH/DQphYmMNCg==\r\n"));
	test_assert(base64_decode("AAH/DQphYmMNCg==", dec, sizeof(dec),
	    &dlen) == 0 && dlen == 10 && memcmp(dec, "\0\1\xff\r\nabc\r\n",
	    10) == 0);
	free(r.out);
	/* Binary is taken as it is: its LF stays one. */
	conv_max(bin, sizeof(bin) - 1, BIG, &r);
	test_assert(r.rc == 0 && strstr(r.out, "\r\n\r\nAAH/CmFiYw0K\r\n") !=
	    NULL);
	free(r.out);
	/* Long bodies: lines of 76, each with CRLF. */
	s = xmalloc(1000);
	memcpy(s, "Content-Type: image/png\n\n", 25);
	for (i = 25; i < 1000; i++)
		s[i] = (char)(i * 13) != '\n' ? (char)(i * 13) : '\xff';
	conv_max(s, 1000, BIG, &r);
	body = body_of(&r, &blen);
	test_assert(r.rc == 0 && blen == 975 / 57 * 78 + 8 + 2 &&
	    body[76] == '\r' && body[77] == '\n');
	free(r.out);
	free(s);
	test_end();
}

static void
test_bare_lf(void)
{
	struct res	 r;
	size_t		 i;
	int		 bare = 0;

	test_begin("mime7bit: bare LFs are line ends; out has CRLF only");
	conv("Content-Type: multipart/alternative;\n boundary=x\n\n--x\n"
	    "Content-Type: text/plain\n\n\xe9\n\n--x\nContent-Type: "
	    "image/gif\n\nGIF\xff\n--x\n\n\r\n\n--x--\n\n", &r);
	test_assert(r.rc == 0);
	for (i = 0; i < r.len; i++)
		if (r.out[i] == '\n' && (i == 0 || r.out[i - 1] != '\r'))
			bare++;
	test_assert(bare == 0 && strstr(r.out, "\r\n\r\n=E9\r\n\r\n--x\r\n")
	    != NULL && strstr(r.out, "R0lGPw0K\r\n") == NULL &&
	    strstr(r.out, "R0lG/w==\r\n\r\n--x\r\n") != NULL);
	free(r.out);
	test_end();
}

int
main(void)
{
	test_limits();
	test_hostile();
	test_needed();
	test_plain();
	test_qp();
	test_multipart();
	test_base64();
	test_bare_lf();
	return test_exit();
}
