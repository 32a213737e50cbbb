/*
 * FETCH rendering (imapd/fetch.c): the exact bytes of the items of one
 * message, from messages given as strings and a made-up index entry.
 * Every expected response is written from the RFC 9051 grammar: CRLF
 * line ends, "{n}\r\n" literals, "~{n}" for BINARY data with a NUL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "imap_parser.h"
#include "test.h"
#include "util.h"

#define OUT_MAX		(64 * 1024 * 1024)

static const char msg_simple[] =
    "From: a@b.example\n"
    "To: d@e.example\n"
    "Subject: hi\n"
    "\n"
    "line1\n"
    "line2\n";

static const char msg_multi[] =
    "From: x@y.example\n"
    "Subject: mp\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\n"
    "\n"
    "preamble\n"
    "--XX\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "plain body\n"
    "--XX\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "AAECAwD/\n"
    "--XX\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "caf=C3=A9 =3D x=\n"
    "y\n"
    "z\n"
    "--XX\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: inner@x.example\n"
    "Subject: inner\n"
    "\n"
    "inner body\n"
    "--XX\n"
    "Content-Type: text/plain\n"
    "Content-Transfer-Encoding: x-uuencode\n"
    "\n"
    "begin 644 f\n"
    "--XX\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "QUJD\n"
    "--XX--\n";

struct result {
	int		 rc;		/* of fetch_render_begin */
	const char	*code;
	char		*out;
	size_t		 len;
	int		 chunks_agree;	/* every step size gave the same */
	uint64_t	 size;		/* fetch_render_size */
	int		 needs_data;
	struct buf	 put[FETCH_C_COUNT];
};

static struct mbox_msg	 the_msg = {
	.uid = 7,
	.flags = MBOX_SEEN,
	.modseq = 42,
	.size = 0,
	.wire_size = 1234,
	.internaldate = 1000000000,	/* 2001-09-09 01:46:40 UTC */
};

/* A FETCH command line through the real parser. */
static int
parse(const char *line, struct imap_cmd *cmd, struct imap_fetch *f)
{
	struct imap_reader	*rd;
	const char		*err = NULL;
	size_t			 need;
	int			 sync, rc = -1;

	memset(cmd, 0, sizeof(*cmd));
	memset(f, 0, sizeof(*f));
	rd = imap_reader_new(1024 * 1024);
	if (imap_reader_line(rd, line, strlen(line), &need, &sync, &err) ==
	    IMAP_FEED_COMPLETE && imap_parse(rd, cmd, &err) == 0 &&
	    imap_fetch_parse(cmd, f, &err) == 0)
		rc = 0;
	imap_reader_free(rd);
	return rc;
}

static void
result_free(struct result *res)
{
	size_t	 i;

	free(res->out);
	for (i = 0; i < FETCH_C_COUNT; i++)
		buf_free(&res->put[i]);
	memset(res, 0, sizeof(*res));
}

/* Render with several step sizes; they must all give the same bytes. */
static void
render(const struct fetch_plan *p, const struct fetch_msg *msg,
    struct result *res)
{
	static const size_t	 steps[] = { SIZE_MAX, 1, 2, 3, 7, 4096 };
	struct fetch_render	 r;
	struct buf		 b;
	const char		*err = NULL;
	const void		*d;
	size_t			 i, l, c;
	int			 more;

	memset(res, 0, sizeof(*res));
	res->chunks_agree = 1;
	res->needs_data = fetch_needs_data(p, msg);
	for (i = 0; i < nitems(steps); i++) {
		buf_init(&b, OUT_MAX);
		res->rc = fetch_render_begin(&r, p, msg, &err);
		if (res->rc == -1) {
			res->code = r.code;
			fetch_render_free(&r);
			buf_free(&b);
			return;
		}
		if (i == 0) {
			res->size = fetch_render_size(&r);
			for (c = 0; c < FETCH_C_COUNT; c++) {
				buf_init(&res->put[c], OUT_MAX);
				if (fetch_render_cached(&r, c, &d, &l) == 0)
					(void)buf_add(&res->put[c], d, l);
			}
		}
		do {
			more = fetch_render_step(&r, &b, steps[i]);
		} while (more == 1);
		if (more == -1)
			res->chunks_agree = 0;
		fetch_render_free(&r);
		if (i == 0) {
			res->out = buf_release(&b, &res->len);
			if (res->out == NULL)
				res->out = calloc(1, 1);
		} else {
			if (b.len != res->len || (b.len > 0 &&
			    memcmp(b.data, res->out, b.len) != 0))
				res->chunks_agree = 0;
			buf_free(&b);
		}
	}
}

/*
 * FETCH line over message text (NULL: none, cache only) with the
 * session's utf8 mode; the rendered response into res.
 */
static int
fetch(const char *line, const char *text, size_t len, int utf8,
    struct fetch_msg *over, struct result *res)
{
	struct imap_cmd		 cmd;
	struct imap_fetch	 f;
	struct fetch_plan	 p;
	struct fetch_msg	 msg;
	const char		*err;
	char			*copy = NULL;

	memset(res, 0, sizeof(*res));
	if (parse(line, &cmd, &f) == -1) {
		imap_cmd_free(&cmd);
		return -1;
	}
	if (fetch_plan_init(&p, &cmd, &f, &err) == -1) {
		imap_fetch_free(&f);
		imap_cmd_free(&cmd);
		return -2;
	}
	if (over != NULL)
		msg = *over;
	else
		memset(&msg, 0, sizeof(msg));
	msg.seq = 1;
	msg.m = &the_msg;
	if (msg.flags == NULL)
		msg.flags = "(\\Seen)";
	msg.utf8 = utf8;
	if (text != NULL) {
		/* Exactly its size, so that ASan sees an overread. */
		copy = malloc(len > 0 ? len : 1);
		memcpy(copy, text, len);
		msg.data = copy;
		msg.len = len;
	}
	render(&p, &msg, res);
	free(copy);
	fetch_plan_free(&p);
	imap_fetch_free(&f);
	imap_cmd_free(&cmd);
	return 0;
}

static int
is(const struct result *res, const char *want, size_t wantlen)
{
	if (res->rc != 0 || !res->chunks_agree || res->len != wantlen ||
	    memcmp(res->out, want, wantlen) != 0 || res->size != wantlen) {
		(void)printf("# got %d/%d [%.*s]\n# want [%.*s]\n", res->rc,
		    res->chunks_agree, (int)res->len,
		    res->out != NULL ? res->out : "", (int)wantlen, want);
		return 0;
	}
	return 1;
}

static int
is_str(const struct result *res, const char *want)
{
	return is(res, want, strlen(want));
}

/* "* 1 FETCH (<name> {n}\r\n<payload>)\r\n" */
static int
is_lit(const struct result *res, const char *name, const char *payload,
    size_t plen, int lit8)
{
	char	*want;
	size_t	 n;
	int	 ok;

	n = strlen(name) + plen + 64;
	want = malloc(n);
	(void)snprintf(want, n, "* 1 FETCH (%s %s{%zu}\r\n", name,
	    lit8 ? "~" : "", plen);
	n = strlen(want);
	memcpy(want + n, payload, plen);
	memcpy(want + n + plen, ")\r\n", 3);
	ok = is(res, want, n + plen + 3);
	free(want);
	return ok;
}

static int
fetch_lit(const char *line, const char *text, const char *name,
    const char *payload)
{
	struct result	 res;
	int		 ok;

	ok = fetch(line, text, strlen(text), 0, NULL, &res) == 0 &&
	    is_lit(&res, name, payload, strlen(payload), 0);
	result_free(&res);
	return ok;
}

static int
fetch_is(const char *line, const char *text, const char *want)
{
	struct result	 res;
	int		 ok;

	ok = fetch(line, text, text != NULL ? strlen(text) : 0, 0, NULL,
	    &res) == 0 && is_str(&res, want);
	result_free(&res);
	return ok;
}

/* Hostile and odd requests first. */
static void
test_hostile(void)
{
	struct result	 res;
	struct fetch_msg over;

	test_begin("imap fetch: sections that do not parse or exist");
	/* Part 0 does not exist in the grammar: BAD from the plan. */
	test_assert(fetch("a FETCH 1 BODY[0]", msg_simple,
	    strlen(msg_simple), 0, NULL, &res) < 0);
	result_free(&res);
	test_assert(fetch("a FETCH 1 BODY[HEADER.FIELDS]", msg_simple,
	    strlen(msg_simple), 0, NULL, &res) < 0);
	result_free(&res);
	test_assert(fetch("a FETCH 1 BODY[1.2.TEXTX]", msg_simple,
	    strlen(msg_simple), 0, NULL, &res) < 0);
	result_free(&res);
	/* A part that is not there: an empty string. */
	test_assert(fetch_is("a FETCH 1 BODY[9]", msg_multi,
	    "* 1 FETCH (BODY[9] {0}\r\n)\r\n"));
	test_assert(fetch_is("a FETCH 1 BODY[1.1]", msg_multi,
	    "* 1 FETCH (BODY[1.1] {0}\r\n)\r\n"));
	test_assert(fetch_is("a FETCH 1 BODY[1.HEADER]", msg_multi,
	    "* 1 FETCH (BODY[1.HEADER] {0}\r\n)\r\n"));
	test_assert(fetch_is("a FETCH 1 BINARY[9]", msg_multi,
	    "* 1 FETCH (BINARY[9] {0}\r\n)\r\n"));
	test_assert(fetch_is("a FETCH 1 BINARY.SIZE[9]", msg_multi,
	    "* 1 FETCH (BINARY.SIZE[9] 0)\r\n"));
	/* An origin past the end: an empty string, the origin echoed. */
	test_assert(fetch_is("a FETCH 1 BODY[]<4000000000.10>", msg_simple,
	    "* 1 FETCH (BODY[]<4000000000> {0}\r\n)\r\n"));
	test_assert(fetch_is("a FETCH 1 BODY[]<9223372036854775807.1>",
	    msg_simple, "* 1 FETCH (BODY[]<9223372036854775807> {0}\r\n)\r\n"));
	/* An empty message. */
	test_assert(fetch_is("a FETCH 1 BODY[]", "",
	    "* 1 FETCH (BODY[] {0}\r\n)\r\n"));
	test_assert(fetch_is("a FETCH 1 BODY[TEXT]", "",
	    "* 1 FETCH (BODY[TEXT] {0}\r\n)\r\n"));
	/* Only a line feed. */
	test_assert(fetch_lit("a FETCH 1 BODY[]", "\n", "BODY[]", "\r\n"));
	test_end();

	test_begin("imap fetch: BINARY that cannot be decoded");
	test_assert(fetch("a FETCH 1 BINARY[5]", msg_multi, strlen(msg_multi),
	    0, NULL, &res) == 0);
	test_assert(res.rc == -1 && res.code != NULL &&
	    strcmp(res.code, "UNKNOWN-CTE") == 0);
	result_free(&res);
	test_assert(fetch("a FETCH 1 BINARY.SIZE[5]", msg_multi,
	    strlen(msg_multi), 0, NULL, &res) == 0);
	test_assert(res.rc == -1 && strcmp(res.code, "UNKNOWN-CTE") == 0);
	result_free(&res);
	/* BODY[] of it is fine: no decoding asked for. */
	test_assert(fetch_lit("a FETCH 1 BODY.PEEK[5]", msg_multi, "BODY[5]",
	    "begin 644 f"));
	test_end();

	test_begin("imap fetch: a broken cache entry is not sent");
	memset(&over, 0, sizeof(over));
	over.cache[FETCH_C_ENVELOPE] = "A(\"x\" {5}\r\nab)";
	over.cachelen[FETCH_C_ENVELOPE] = strlen(over.cache[0]);
	test_assert(fetch("a FETCH 1 ENVELOPE", NULL, 0, 0, &over, &res) ==
	    0);
	test_assert(res.needs_data);
	result_free(&res);
	over.cache[FETCH_C_ENVELOPE] = "A(NIL\r\n)";
	over.cachelen[FETCH_C_ENVELOPE] = strlen(over.cache[0]);
	test_assert(fetch("a FETCH 1 ENVELOPE", NULL, 0, 0, &over, &res) ==
	    0 && res.needs_data);
	result_free(&res);
	over.cache[FETCH_C_ENVELOPE] = "A(NIL))";
	over.cachelen[FETCH_C_ENVELOPE] = strlen(over.cache[0]);
	test_assert(fetch("a FETCH 1 ENVELOPE", NULL, 0, 0, &over, &res) ==
	    0 && res.needs_data);
	result_free(&res);
	over.cache[FETCH_C_ENVELOPE] = "A(NIL \"ab)";
	over.cachelen[FETCH_C_ENVELOPE] = strlen(over.cache[0]);
	test_assert(fetch("a FETCH 1 ENVELOPE", NULL, 0, 0, &over, &res) ==
	    0 && res.needs_data);
	result_free(&res);
	/* Made for the other mode. */
	over.cache[FETCH_C_ENVELOPE] = "U(NIL)";
	over.cachelen[FETCH_C_ENVELOPE] = strlen(over.cache[0]);
	test_assert(fetch("a FETCH 1 ENVELOPE", NULL, 0, 0, &over, &res) ==
	    0 && res.needs_data);
	result_free(&res);
	/* Without data and without a usable cache: an error, no crash. */
	test_assert(fetch("a FETCH 1 ENVELOPE", NULL, 0, 0, &over, &res) ==
	    0 && res.rc == -1);
	result_free(&res);
	test_end();
}

static void
test_order(void)
{
	struct imap_cmd		 cmd;
	struct imap_fetch	 f;
	struct fetch_plan	 p;
	const char		*err;

	test_begin("imap fetch: items in the order asked, UID first");
	test_assert(fetch_is("a UID FETCH 1 (FLAGS RFC822.SIZE)", NULL,
	    "* 1 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE 1234)\r\n"));
	test_assert(fetch_is("a UID FETCH 1 (RFC822.SIZE UID FLAGS)", NULL,
	    "* 1 FETCH (UID 7 RFC822.SIZE 1234 FLAGS (\\Seen))\r\n"));
	test_assert(fetch_is("a FETCH 1 (RFC822.SIZE UID FLAGS UID)", NULL,
	    "* 1 FETCH (RFC822.SIZE 1234 UID 7 FLAGS (\\Seen))\r\n"));
	test_assert(fetch_is("a FETCH 1 FAST", NULL,
	    "* 1 FETCH (FLAGS (\\Seen) INTERNALDATE \"09-Sep-2001 01:46:40"
	    " +0000\" RFC822.SIZE 1234)\r\n"));
	test_assert(fetch_is("a FETCH 1 (MODSEQ UID)", NULL,
	    "* 1 FETCH (MODSEQ (42) UID 7)\r\n"));
	/* CHANGEDSINCE adds MODSEQ at the end. */
	test_assert(fetch_is("a UID FETCH 1 (FLAGS) (CHANGEDSINCE 1)", NULL,
	    "* 1 FETCH (UID 7 FLAGS (\\Seen) MODSEQ (42))\r\n"));
	/* The same section twice goes out once; BODY.PEEK answers BODY. */
	test_assert(fetch_lit("a FETCH 1 (BODY.PEEK[TEXT] BODY[text])",
	    msg_simple, "BODY[TEXT]", "line1\r\nline2\r\n"));
	test_end();

	test_begin("imap fetch: what sets \\Seen and what needs the file");
	test_assert(parse("a FETCH 1 (BODY.PEEK[] FLAGS BINARY.SIZE[1]"
	    " RFC822.HEADER)", &cmd, &f) == 0);
	test_assert(fetch_plan_init(&p, &cmd, &f, &err) == 0);
	test_assert(!p.sets_seen && p.data && p.nitems == 4);
	fetch_plan_free(&p);
	imap_fetch_free(&f);
	imap_cmd_free(&cmd);
	test_assert(parse("a FETCH 1 (FLAGS RFC822.TEXT)", &cmd, &f) == 0);
	test_assert(fetch_plan_init(&p, &cmd, &f, &err) == 0);
	test_assert(p.sets_seen && p.data && p.mime);
	fetch_plan_free(&p);
	imap_fetch_free(&f);
	imap_cmd_free(&cmd);
	test_assert(parse("a FETCH 1 (BINARY.PEEK[1] BODY[])", &cmd, &f) ==
	    0);
	test_assert(fetch_plan_init(&p, &cmd, &f, &err) == 0);
	test_assert(p.sets_seen && p.data);
	fetch_plan_free(&p);
	imap_fetch_free(&f);
	imap_cmd_free(&cmd);
	test_assert(parse("a FETCH 1 (FLAGS UID ENVELOPE)", &cmd, &f) == 0);
	test_assert(fetch_plan_init(&p, &cmd, &f, &err) == 0);
	test_assert(!p.sets_seen && !p.data && !p.mime);
	fetch_plan_free(&p);
	imap_fetch_free(&f);
	imap_cmd_free(&cmd);
	test_end();
}

static void
test_crlf(void)
{
	/* "a\nb\n" is "a\r\nb\r\n" (6 bytes) on the wire. */
	static const struct {
		const char	*range;
		const char	*name;
		const char	*want;
	} partial[] = {
		{ "<0.2>", "BODY[]<0>", "a\r" },
		{ "<1.2>", "BODY[]<1>", "\r\n" },
		{ "<2.1>", "BODY[]<2>", "\n" },
		{ "<2.2>", "BODY[]<2>", "\nb" },
		{ "<3.3>", "BODY[]<3>", "b\r\n" },
		{ "<5.100>", "BODY[]<5>", "\n" },
		{ "<0.6>", "BODY[]<0>", "a\r\nb\r\n" },
		{ "<0.600>", "BODY[]<0>", "a\r\nb\r\n" },
	};
	char	 line[128], want[128];
	size_t	 i;

	test_begin("imap fetch: LF becomes CRLF, CR LF stays");
	test_assert(fetch_lit("a FETCH 1 BODY[]", "a\nb\n", "BODY[]",
	    "a\r\nb\r\n"));
	test_assert(fetch_lit("a FETCH 1 BODY[]", "a\r\nb\n", "BODY[]",
	    "a\r\nb\r\n"));
	test_assert(fetch_lit("a FETCH 1 BODY[]", "a\r\r\nb", "BODY[]",
	    "a\r\r\nb"));
	test_assert(fetch_lit("a FETCH 1 BODY[]", "\n\n", "BODY[]",
	    "\r\n\r\n"));
	/* A lone CR is left as it is. */
	test_assert(fetch_lit("a FETCH 1 BODY[]", "a\rb", "BODY[]", "a\rb"));
	test_assert(fetch_lit("a FETCH 1 RFC822", msg_simple, "RFC822",
	    "From: a@b.example\r\nTo: d@e.example\r\nSubject: hi\r\n\r\n"
	    "line1\r\nline2\r\n"));
	test_assert(fetch_lit("a FETCH 1 RFC822.HEADER", msg_simple,
	    "RFC822.HEADER", "From: a@b.example\r\nTo: d@e.example\r\n"
	    "Subject: hi\r\n\r\n"));
	test_assert(fetch_lit("a FETCH 1 RFC822.TEXT", msg_simple,
	    "RFC822.TEXT", "line1\r\nline2\r\n"));
	test_assert(fetch_lit("a FETCH 1 BODY.PEEK[HEADER]", msg_simple,
	    "BODY[HEADER]", "From: a@b.example\r\nTo: d@e.example\r\n"
	    "Subject: hi\r\n\r\n"));
	test_assert(fetch_lit("a FETCH 1 BODY[1]", msg_simple, "BODY[1]",
	    "line1\r\nline2\r\n"));
	test_end();

	test_begin("imap fetch: partial ranges across the CRLF boundary");
	for (i = 0; i < nitems(partial); i++) {
		(void)snprintf(line, sizeof(line), "a FETCH 1 BODY[]%s",
		    partial[i].range);
		test_assert(fetch_lit(line, "a\nb\n", partial[i].name,
		    partial[i].want));
	}
	(void)snprintf(want, sizeof(want), "* 1 FETCH (BODY[]<6> {0}\r\n)\r\n");
	test_assert(fetch_is("a FETCH 1 BODY[]<6.1>", "a\nb\n", want));
	/* Partial of a part counts from the part's first byte. */
	test_assert(fetch_lit("a FETCH 1 BODY[TEXT]<5.3>", msg_simple,
	    "BODY[TEXT]<5>", "\r\nl"));
	test_assert(fetch_lit("a FETCH 1 BODY[TEXT]<6.1>", msg_simple,
	    "BODY[TEXT]<6>", "\n"));
	test_end();

	test_begin("imap fetch: NUL in BODY data goes out as 0x80");
	{
		struct result	 res;

		test_assert(fetch("a FETCH 1 BODY[]", "a\0b\n", 4, 0, NULL,
		    &res) == 0);
		test_assert(is_lit(&res, "BODY[]", "a\x80" "b\r\n", 5, 0));
		result_free(&res);
	}
	test_end();
}

/* Every partial range of a message against a plain conversion. */
static void
test_partial_sweep(void)
{
	static const char	 text[] = "A\r\n\nB\rC\n\r\r\n\0D\n";
	char			 wire[64], line[128], name[64];
	size_t			 tlen = sizeof(text) - 1, wlen = 0, i;
	size_t			 off, cnt, n;
	struct result		 res;
	int			 ok = 1;

	/* The conversion written plainly, byte by byte. */
	for (i = 0; i < tlen; i++) {
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			wire[wlen++] = '\r';
		wire[wlen++] = text[i] == '\0' ? (char)0x80 : text[i];
	}
	test_begin("imap fetch: every partial range of a tricky message");
	for (off = 0; off <= wlen + 1; off++) {
		for (cnt = 1; cnt <= wlen + 2; cnt++) {
			(void)snprintf(line, sizeof(line),
			    "a FETCH 1 BODY.PEEK[]<%zu.%zu>", off, cnt);
			(void)snprintf(name, sizeof(name), "BODY[]<%zu>", off);
			if (fetch(line, text, tlen, 0, NULL, &res) != 0) {
				ok = 0;
				continue;
			}
			n = off >= wlen ? 0 : wlen - off < cnt ? wlen - off :
			    cnt;
			if (n == 0) {
				char	 want[128];

				(void)snprintf(want, sizeof(want),
				    "* 1 FETCH (%s {0}\r\n)\r\n", name);
				ok &= is_str(&res, want);
			} else
				ok &= is_lit(&res, name, wire + off, n, 0);
			result_free(&res);
		}
	}
	test_assert(ok);
	test_end();
}

static void
test_sections(void)
{
	test_begin("imap fetch: parts, MIME headers, nested messages");
	test_assert(fetch_lit("a FETCH 1 BODY[1]", msg_multi, "BODY[1]",
	    "plain body"));
	test_assert(fetch_lit("a FETCH 1 BODY[1.MIME]", msg_multi,
	    "BODY[1.MIME]",
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n"));
	test_assert(fetch_lit("a FETCH 1 BODY[4.HEADER]", msg_multi,
	    "BODY[4.HEADER]", "From: inner@x.example\r\nSubject: inner\r\n"
	    "\r\n"));
	test_assert(fetch_lit("a FETCH 1 BODY[4.TEXT]", msg_multi,
	    "BODY[4.TEXT]", "inner body"));
	test_assert(fetch_lit("a FETCH 1 BODY[4.1]", msg_multi, "BODY[4.1]",
	    "inner body"));
	test_assert(fetch_lit("a FETCH 1 BODY[2]<2.4>", msg_multi,
	    "BODY[2]<2>", "ECAw"));
	test_end();

	test_begin("imap fetch: HEADER.FIELDS and HEADER.FIELDS.NOT");
	test_assert(fetch_lit("a FETCH 1 BODY.PEEK[HEADER.FIELDS (subject"
	    " FROM)]", msg_multi, "BODY[HEADER.FIELDS (SUBJECT FROM)]",
	    "From: x@y.example\r\nSubject: mp\r\n\r\n"));
	test_assert(fetch_lit("a FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From"
	    " Subject Content-Type)]", msg_multi,
	    "BODY[HEADER.FIELDS.NOT (FROM SUBJECT CONTENT-TYPE)]",
	    "MIME-Version: 1.0\r\n\r\n"));
	/* No field matches: only the blank line. */
	test_assert(fetch_lit("a FETCH 1 BODY.PEEK[HEADER.FIELDS (X-None)]",
	    msg_multi, "BODY[HEADER.FIELDS (X-NONE)]", "\r\n"));
	test_assert(fetch_lit("a FETCH 1 BODY.PEEK[4.HEADER.FIELDS"
	    " (Subject)]", msg_multi, "BODY[4.HEADER.FIELDS (SUBJECT)]",
	    "Subject: inner\r\n\r\n"));
	/* A folded field stays folded, with CRLF inside. */
	test_assert(fetch_lit("a FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]",
	    "Subject: one\n two\nX: y\n\nbody\n",
	    "BODY[HEADER.FIELDS (SUBJECT)]", "Subject: one\r\n two\r\n\r\n"));
	test_assert(fetch_lit("a FETCH 1 BODY.PEEK[HEADER.FIELDS"
	    " (Subject)]<3.6>", msg_multi,
	    "BODY[HEADER.FIELDS (SUBJECT)]<3>", "ject: "));
	test_end();
}

static void
test_binary(void)
{
	struct result	 res;

	test_begin("imap fetch: BINARY of base64 and quoted-printable");
	/* AAECAwD/ is 00 01 02 03 00 ff: a NUL, so literal8. */
	test_assert(fetch("a FETCH 1 BINARY[2]", msg_multi,
	    strlen(msg_multi), 0, NULL, &res) == 0);
	test_assert(is_lit(&res, "BINARY[2]", "\0\1\2\3\0\377", 6, 1));
	result_free(&res);
	test_assert(fetch_is("a FETCH 1 BINARY.SIZE[2]", msg_multi,
	    "* 1 FETCH (BINARY.SIZE[2] 6)\r\n"));
	/* A range without the NUL is a plain literal; the origin echoed. */
	test_assert(fetch("a FETCH 1 BINARY.PEEK[2]<1.3>", msg_multi,
	    strlen(msg_multi), 0, NULL, &res) == 0);
	test_assert(is_lit(&res, "BINARY[2]<1>", "\1\2\3", 3, 0));
	result_free(&res);
	test_assert(fetch("a FETCH 1 BINARY.PEEK[2]<3.2>", msg_multi,
	    strlen(msg_multi), 0, NULL, &res) == 0);
	test_assert(is_lit(&res, "BINARY[2]<3>", "\3\0", 2, 1));
	result_free(&res);
	/* QP: soft break joined, =XX decoded, the hard break is CRLF. */
	test_assert(fetch_lit("a FETCH 1 BINARY[3]", msg_multi, "BINARY[3]",
	    "caf\xc3\xa9 = xy\r\nz"));
	test_assert(fetch_is("a FETCH 1 BINARY.SIZE[3]", msg_multi,
	    "* 1 FETCH (BINARY.SIZE[3] 13)\r\n"));
	/* 7bit: the part as it is, CRLF. */
	test_assert(fetch_lit("a FETCH 1 BINARY[1]", msg_multi, "BINARY[1]",
	    "plain body"));
	test_assert(fetch_lit("a FETCH 1 BINARY[6]", msg_multi, "BINARY[6]",
	    "ABC"));
	test_assert(fetch_is("a FETCH 1 BINARY.SIZE[1]", msg_multi,
	    "* 1 FETCH (BINARY.SIZE[1] 10)\r\n"));
	/* The body of a message that is not multipart is part 1. */
	test_assert(fetch_lit("a FETCH 1 BINARY[1]",
	    "Content-Transfer-Encoding: base64\n\naGVsbG8K\n", "BINARY[1]",
	    "hello\n"));
	test_end();
}

static void
test_attrs(void)
{
	struct result	 res;
	struct fetch_msg over;
	struct buf	 env = BUF_INIT(1 << 20);
	struct mime_msg	*mm;
	char		 date[64], want[1024];
	const char	*err;

	test_begin("imap fetch: INTERNALDATE in a zone");
	fetch_datetime(date, sizeof(date), 1000000000, 0);
	test_assert(strcmp(date, "09-Sep-2001 01:46:40 +0000") == 0);
	fetch_datetime(date, sizeof(date), 1000000000, 120);
	test_assert(strcmp(date, "09-Sep-2001 03:46:40 +0200") == 0);
	fetch_datetime(date, sizeof(date), 1000000000, -8 * 60 - 30);
	test_assert(strcmp(date, "08-Sep-2001 17:16:40 -0830") == 0);
	fetch_datetime(date, sizeof(date), 0, 0);
	test_assert(strcmp(date, "01-Jan-1970 00:00:00 +0000") == 0);
	/* Out of the grammar's range: clamped, still four digits. */
	fetch_datetime(date, sizeof(date), -5, 0);
	test_assert(strcmp(date, "01-Jan-1970 00:00:00 +0000") == 0);
	fetch_datetime(date, sizeof(date), INT64_MAX, 0);
	test_assert(strlen(date) == 26 && strncmp(date + 7, "9999", 4) == 0);
	memset(&over, 0, sizeof(over));
	over.tzoff = 60;
	test_assert(fetch("a FETCH 1 INTERNALDATE", NULL, 0, 0, &over,
	    &res) == 0);
	test_assert(is_str(&res, "* 1 FETCH (INTERNALDATE \"09-Sep-2001"
	    " 02:46:40 +0100\")\r\n"));
	result_free(&res);
	test_end();

	test_begin("imap fetch: FLAGS and MODSEQ added after \\Seen is set");
	memset(&over, 0, sizeof(over));
	over.add_flags = 1;
	over.add_modseq = 1;
	test_assert(fetch("a FETCH 1 BODY[TEXT]", msg_simple,
	    strlen(msg_simple), 0, &over, &res) == 0);
	test_assert(is_str(&res, "* 1 FETCH (FLAGS (\\Seen) BODY[TEXT] {14}\r\n"
	    "line1\r\nline2\r\n MODSEQ (42))\r\n"));
	result_free(&res);
	test_assert(fetch("a UID FETCH 1 (BODY[TEXT]<0.1> UID)", msg_simple,
	    strlen(msg_simple), 0, &over, &res) == 0);
	test_assert(is_str(&res, "* 1 FETCH (UID 7 FLAGS (\\Seen) BODY[TEXT]<0>"
	    " {1}\r\nl MODSEQ (42))\r\n"));
	result_free(&res);
	/* Asked for already: not twice. */
	test_assert(fetch("a FETCH 1 (FLAGS MODSEQ)", NULL, 0, 0, &over,
	    &res) == 0);
	test_assert(is_str(&res, "* 1 FETCH (FLAGS (\\Seen) MODSEQ (42))"
	    "\r\n"));
	result_free(&res);
	test_end();

	test_begin("imap fetch: ENVELOPE made once, then from the cache");
	mm = mime_parse(msg_simple, strlen(msg_simple), &err);
	test_assert(mm != NULL && mime_envelope(mm, NULL, &env, 0) == 0);
	mime_free(mm);
	(void)snprintf(want, sizeof(want), "* 1 FETCH (ENVELOPE %s)\r\n",
	    env.data);
	test_assert(fetch("a FETCH 1 ENVELOPE", msg_simple,
	    strlen(msg_simple), 0, NULL, &res) == 0);
	test_assert(res.needs_data && is_str(&res, want));
	/* All ASCII: good for either mode. */
	test_assert(res.put[FETCH_C_ENVELOPE].len == env.len + 1 &&
	    res.put[FETCH_C_ENVELOPE].data[0] == 'A' &&
	    memcmp(res.put[FETCH_C_ENVELOPE].data + 1, env.data, env.len) ==
	    0);
	memset(&over, 0, sizeof(over));
	over.cache[FETCH_C_ENVELOPE] = res.put[FETCH_C_ENVELOPE].data;
	over.cachelen[FETCH_C_ENVELOPE] = res.put[FETCH_C_ENVELOPE].len;
	{
		struct result	 res2;

		test_assert(fetch("a FETCH 1 ENVELOPE", NULL, 0, 1, &over,
		    &res2) == 0);
		test_assert(!res2.needs_data && is_str(&res2, want));
		test_assert(res2.put[FETCH_C_ENVELOPE].len == 0);
		result_free(&res2);
	}
	result_free(&res);
	buf_free(&env);
	/* 8-bit: kept for the mode it was made in. */
	test_assert(fetch("a FETCH 1 ENVELOPE", "Subject: caf\xc3\xa9\n\nx\n",
	    18, 1, NULL, &res) == 0);
	test_assert(res.rc == 0 && res.put[FETCH_C_ENVELOPE].len > 0 &&
	    res.put[FETCH_C_ENVELOPE].data[0] == 'U');
	test_assert(strstr(res.out, "\"caf\xc3\xa9\"") != NULL);
	result_free(&res);
	test_assert(fetch("a FETCH 1 ENVELOPE", "Subject: caf\xc3\xa9\n\nx\n",
	    18, 0, NULL, &res) == 0);
	test_assert(res.rc == 0 && res.put[FETCH_C_ENVELOPE].data[0] == '7');
	test_assert(strstr(res.out, "{5}\r\ncaf\xc3\xa9") != NULL);
	result_free(&res);
	test_end();

	test_begin("imap fetch: BODY and BODYSTRUCTURE");
	{
		struct buf	 b1 = BUF_INIT(1 << 20), b2 = BUF_INIT(1 << 20);
		char		 w[4096];

		mm = mime_parse(msg_multi, strlen(msg_multi), &err);
		test_assert(mime_bodystructure(mm, NULL, 0, &b1, 0) == 0);
		test_assert(mime_bodystructure(mm, NULL, 1, &b2, 0) == 0);
		mime_free(mm);
		(void)snprintf(w, sizeof(w), "* 1 FETCH (BODY %s BODYSTRUCTURE"
		    " %s)\r\n", b1.data, b2.data);
		test_assert(fetch_is("a FETCH 1 (BODY BODYSTRUCTURE)",
		    msg_multi, w));
		buf_free(&b1);
		buf_free(&b2);
	}
	test_end();

	test_begin("imap fetch: PREVIEW");
	test_assert(fetch_is("a FETCH 1 PREVIEW", msg_simple,
	    "* 1 FETCH (PREVIEW \"line1 line2\")\r\n"));
	test_assert(fetch_is("a FETCH 1 (PREVIEW (LAZY))",
	    "Content-Type: text/html\n\n<p>Hello <b>there</b></p>\n",
	    "* 1 FETCH (PREVIEW \"Hello there\")\r\n"));
	test_assert(fetch_is("a FETCH 1 PREVIEW",
	    "Content-Type: image/png\n\nxxxx\n",
	    "* 1 FETCH (PREVIEW \"\")\r\n"));
	test_end();
}

static void
test_big(void)
{
	struct fetch_plan	 p;
	struct fetch_render	 r;
	struct fetch_msg	 msg;
	struct imap_cmd		 cmd;
	struct imap_fetch	 f;
	struct buf		 b;
	const char		*err;
	char			*text, *wire, head[64];
	size_t			 n = 3 * 1024 * 1024 + 17, i, w = 0, maxstep;
	size_t			 off = 0, hl;
	int			 more, ok = 1;

	test_begin("imap fetch: a large message in bounded steps");
	text = malloc(n);
	wire = malloc(2 * n);
	for (i = 0; i < n; i++)
		text[i] = i % 61 == 60 ? '\n' : i % 97 == 3 ? '\r' :
		    (char)('a' + i % 26);
	for (i = 0; i < n; i++) {
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			wire[w++] = '\r';
		wire[w++] = text[i];
	}
	test_assert(parse("a FETCH 1 BODY.PEEK[]", &cmd, &f) == 0);
	test_assert(fetch_plan_init(&p, &cmd, &f, &err) == 0);
	memset(&msg, 0, sizeof(msg));
	msg.seq = 1;
	msg.m = &the_msg;
	msg.flags = "()";
	msg.data = text;
	msg.len = n;
	test_assert(fetch_crlf_size(text, n) == w);
	test_assert(fetch_render_begin(&r, &p, &msg, &err) == 0);
	hl = (size_t)snprintf(head, sizeof(head), "* 1 FETCH (BODY[] {%zu}"
	    "\r\n", w);
	test_assert(fetch_render_size(&r) == hl + w + 3);
	buf_init(&b, OUT_MAX);
	maxstep = 0;
	do {
		buf_reset(&b);
		more = fetch_render_step(&r, &b, 100000);
		if (b.len > maxstep)
			maxstep = b.len;
		/* Compare as it streams. */
		for (i = 0; i < b.len; i++, off++) {
			char	 want = off < hl ? head[off] : off < hl + w ?
			    wire[off - hl] : ")\r\n"[off - hl - w];

			if (b.data[i] != want)
				ok = 0;
		}
	} while (more == 1);
	test_assert(more == 0 && ok && off == hl + w + 3);
	test_assert(maxstep <= 100000);
	buf_free(&b);
	fetch_render_free(&r);
	fetch_plan_free(&p);
	imap_fetch_free(&f);
	imap_cmd_free(&cmd);
	free(text);
	free(wire);
	test_end();
}

static void
test_sets(void)
{
	static const struct {
		uint32_t	 v[8];
		size_t		 n;
		const char	*want;
	} t[] = {
		{ { 1 }, 1, "1" },
		{ { 1, 2, 3, 5, 7, 8 }, 6, "1:3,5,7:8" },
		{ { 5, 4, 3 }, 3, "5,4,3" },	/* pairs keep their order */
		{ { 9, 10, 2, 3 }, 4, "9:10,2:3" },
		{ { 4294967294U, 4294967295U }, 2, "4294967294:4294967295" },
		{ { 4294967295U, 1 }, 2, "4294967295,1" },
		{ { 0 }, 0, "" },
	};
	struct buf	 b;
	size_t		 i;

	test_begin("imap fetch: UID sets for COPYUID and MODIFIED");
	for (i = 0; i < nitems(t); i++) {
		buf_init(&b, 1024);
		test_assert(fetch_set_out(&b, t[i].v, t[i].n) == 0);
		test_assert(strcmp(b.data != NULL ? b.data : "", t[i].want) ==
		    0);
		buf_free(&b);
	}
	buf_init(&b, 4);
	test_assert(fetch_set_out(&b, t[1].v, t[1].n) == -1);
	buf_free(&b);
	test_end();
}

int
main(void)
{
	test_hostile();
	test_order();
	test_crlf();
	test_partial_sweep();
	test_sections();
	test_binary();
	test_attrs();
	test_big();
	test_sets();
	return test_exit();
}
