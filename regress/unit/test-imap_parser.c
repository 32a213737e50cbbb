/*
 * IMAP command parser (imapd/imap_parser.c): the reader's limits and
 * literals, the argument tree, and every typed parser. Hostile input
 * first.
 *
 * Every line and literal chunk is handed over in a heap buffer of its
 * exact size (no NUL after it), so ASan sees any read past its end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap_parser.h"
#include "test.h"
#include "util.h"

#define W(s)	(s), sizeof(s) - 1	/* a wire string with its length */

struct wire {
	enum imap_feed	 last;
	const char	*err;
	struct imap_cmd	 cmd;
	int		 parsed;	/* imap_parse() said 0 */
	int		 nlit;		/* literals asked for */
	int		 nsync;		/* of which synchronizing */
	int		 ok;		/* the wire held what was asked */
};

static char *
dup_exact(const char *p, size_t len)
{
	char	*q;

	if ((q = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(q, p, len);
	return q;
}

/*
 * Feed a client's bytes as a session would: lines end in CRLF; when the
 * reader asks for a literal, the next bytes go in pieces of chunk. Stops
 * at COMPLETE (then imap_parse()), ERROR or TOOBIG.
 */
static enum imap_feed
run(struct imap_reader *r, const char *wire, size_t wlen, size_t chunk,
    struct wire *w)
{
	const char	*p = wire, *end = wire + wlen, *eol;
	enum imap_feed	 f;
	size_t		 need, left, n;
	char		*copy;
	int		 sync;

	memset(w, 0, sizeof(*w));
	w->ok = 1;
	for (;;) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (eol == NULL) {
			w->ok = 0;
			return IMAP_FEED_ERROR;
		}
		copy = dup_exact(p, (size_t)(eol - p));
		f = imap_reader_line(r, copy, (size_t)(eol - p), &need, &sync,
		    &w->err);
		free(copy);
		p = eol + 2;
		if (f != IMAP_FEED_LITERAL)
			break;
		w->nlit++;
		w->nsync += sync;
		if ((size_t)(end - p) < need) {
			w->ok = 0;
			return f;
		}
		if (need == 0)
			f = imap_reader_literal(r, "", 0);
		for (left = need; left > 0; left -= n) {
			n = left < chunk ? left : chunk;
			copy = dup_exact(p, n);
			f = imap_reader_literal(r, copy, n);
			free(copy);
			p += n;
			if (left > n && f != IMAP_FEED_LITERAL)
				w->ok = 0;
		}
		if (f != IMAP_FEED_LINE)
			w->ok = 0;
	}
	w->last = f;
	if (f == IMAP_FEED_COMPLETE)
		w->parsed = imap_parse(r, &w->cmd, &w->err) == 0;
	if (p != end)
		w->ok = 0;
	return f;
}

/* One command through a fresh reader; 1 if it parsed. */
static int
parse1(const char *wire, size_t wlen, struct wire *w)
{
	struct imap_reader	*r = imap_reader_new(1 << 20);

	(void)run(r, wire, wlen, 7, w);
	imap_reader_free(r);
	return w->ok && w->last == IMAP_FEED_COMPLETE && w->parsed;
}

/* The line without CRLF, as one command: its feed result. */
static enum imap_feed
line1(struct imap_reader *r, const char *line, size_t len, size_t *need,
    int *sync, const char **err)
{
	char		*copy = dup_exact(line, len);
	enum imap_feed	 f;

	f = imap_reader_line(r, copy, len, need, sync, err);
	free(copy);
	return f;
}

static int
err_ok(const char *err)
{
	return err != NULL && err[0] != '\0';
}

static void
test_literal_limits(void)
{
	struct imap_reader	*r;
	struct imap_literal_info info;
	const char		*err;
	size_t			 need;
	int			 sync;

	test_begin("imap_parser: huge literals refused before allocation");
	r = imap_reader_new(10 * 1024 * 1024);
	need = 12345;
	test_assert(line1(r, W("a1 LOGIN {4294967296}"), &need, &sync,
	    &err) == IMAP_FEED_TOOBIG);
	test_assert(need == 0 && err_ok(err));
	test_assert(strncmp(err, "[TOOBIG]", 8) == 0);
	test_assert(imap_reader_memory(r) < 64 * 1024);
	test_assert(!imap_reader_must_close(r));
	test_assert(imap_reader_tag(r) != NULL &&
	    strcmp(imap_reader_tag(r), "a1") == 0);
	/* The client sends the {n+} bytes anyway: the session must close. */
	test_assert(line1(r, W("a2 LOGIN {4294967296+}"), &need, &sync,
	    &err) == IMAP_FEED_TOOBIG);
	test_assert(imap_reader_must_close(r));
	/* Overflowing counts and their literal8 twins. */
	test_assert(line1(r, W("a3 LOGIN {99999999999999999999999999}"),
	    &need, &sync, &err) == IMAP_FEED_TOOBIG);
	test_assert(!imap_reader_must_close(r));
	test_assert(line1(r, W("a4 APPEND x ~{18446744073709551615+}"),
	    &need, &sync, &err) == IMAP_FEED_TOOBIG);
	test_assert(imap_reader_must_close(r));
	/* An APPEND message over the APPENDLIMIT, flagged as a message. */
	test_assert(line1(r, W("a5 APPEND INBOX {10485761}"), &need, &sync,
	    &err) == IMAP_FEED_TOOBIG);
	imap_reader_literal_info(r, &info);
	test_assert(info.message && info.sync && info.size == 10485761);
	test_assert(line1(r, W("a6 APPEND INBOX {10485760}"), &need, &sync,
	    &err) == IMAP_FEED_LITERAL);
	imap_reader_literal_info(r, &info);
	test_assert(info.message && need == 10485760 && sync);
	/* Announced, not allocated: nothing grows until bytes come. */
	test_assert(imap_reader_memory(r) < 64 * 1024);
	imap_reader_reset(r);
	/* A mailbox literal in APPEND is not the message. */
	test_assert(line1(r, W("a7 APPEND {5}"), &need, &sync, &err) ==
	    IMAP_FEED_LITERAL);
	imap_reader_literal_info(r, &info);
	test_assert(!info.message && need == 5);
	imap_reader_reset(r);
	/* Other literals count against IMAP_MAX_COMMAND. */
	test_assert(line1(r, W("a8 LOGIN {16777216}"), &need, &sync,
	    &err) == IMAP_FEED_TOOBIG);
	test_assert(line1(r, W("a9 LOGIN {16777000}"), &need, &sync,
	    &err) == IMAP_FEED_LITERAL);
	imap_reader_reset(r);
	imap_reader_free(r);
	test_end();
}

static void
test_line_limits(void)
{
	struct imap_reader	*r;
	struct wire		 w;
	const char		*err;
	char			*big;
	size_t			 need, len;
	int			 sync;

	test_begin("imap_parser: long lines, NUL, bad tags");
	r = imap_reader_new(1 << 20);
	len = 70 * 1024;
	big = malloc(len + 16);
	memcpy(big, "t70 NOOP ", 9);
	memset(big + 9, 'x', len - 9);
	test_assert(line1(r, big, len, &need, &sync, &err) ==
	    IMAP_FEED_TOOBIG);
	test_assert(err_ok(err) && imap_reader_tag(r) != NULL &&
	    strcmp(imap_reader_tag(r), "t70") == 0);
	test_assert(!imap_reader_must_close(r));
	/* The same ending in {3+}: its bytes and the next line are taken. */
	memcpy(big + len, " {3+}", 5);
	test_assert(line1(r, big, len + 5, &need, &sync, &err) ==
	    IMAP_FEED_LITERAL);
	test_assert(need == 3 && sync == 0);
	test_assert(imap_reader_literal(r, "abc", 3) == IMAP_FEED_LINE);
	test_assert(line1(r, W(" rest"), &need, &sync, &err) ==
	    IMAP_FEED_TOOBIG);
	test_assert(strcmp(imap_reader_tag(r), "t70") == 0);
	test_assert(!imap_reader_must_close(r));
	free(big);
	/* The reader is usable again. */
	test_assert(parse1(W("n NOOP\r\n"), &w));
	imap_cmd_free(&w.cmd);

	test_assert(line1(r, W("a1 NOOP\0"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(err_ok(err) && strcmp(imap_reader_tag(r), "a1") == 0);
	test_assert(line1(r, W("a2 LOGIN \"x\0y\" z"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a3 LOGIN x\ry z"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	/* Tags: untagged BAD for a bad one. */
	test_assert(line1(r, W(""), &need, &sync, &err) == IMAP_FEED_ERROR);
	test_assert(err_ok(err) && imap_reader_tag(r) == NULL);
	test_assert(line1(r, W("+a NOOP"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && imap_reader_tag(r) == NULL);
	test_assert(line1(r, W("a+b NOOP"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && imap_reader_tag(r) == NULL);
	test_assert(line1(r, W("a*b NOOP"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && imap_reader_tag(r) == NULL);
	test_assert(line1(r, W(" NOOP"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && imap_reader_tag(r) == NULL);
	test_assert(line1(r, W("\xc3\xa4 NOOP"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && imap_reader_tag(r) == NULL);
	big = malloc(IMAP_MAX_TAG + 10);
	memset(big, 'T', IMAP_MAX_TAG + 1);
	memcpy(big + IMAP_MAX_TAG + 1, " NOOP", 5);
	test_assert(line1(r, big, IMAP_MAX_TAG + 6, &need, &sync, &err) ==
	    IMAP_FEED_ERROR && imap_reader_tag(r) == NULL);
	memcpy(big + IMAP_MAX_TAG, " NOOP", 5);
	test_assert(line1(r, big, IMAP_MAX_TAG + 5, &need, &sync, &err) ==
	    IMAP_FEED_COMPLETE);
	free(big);
	imap_reader_reset(r);
	/* A good tag, no or a bad command: tagged. */
	test_assert(line1(r, W("abc"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && strcmp(imap_reader_tag(r), "abc") == 0);
	test_assert(line1(r, W("a] FROB"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && strcmp(imap_reader_tag(r), "a]") == 0);
	test_assert(line1(r, W("a UID NOOP"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && strcmp(imap_reader_tag(r), "a") == 0);
	test_assert(line1(r, W("a UID"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a NOOP("), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	/* Spaces are single. */
	test_assert(line1(r, W("a NOOP "), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a  NOOP"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a LOGIN x  y"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a FETCH 1 ( FLAGS)"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a FETCH 1 (FLAGS )"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a FETCH 1 (FLAGS)UID"), &need, &sync,
	    &err) == IMAP_FEED_ERROR);
	imap_reader_free(r);
	test_end();
}

static void
test_nesting(void)
{
	struct imap_reader	*r;
	const char		*err;
	struct imap_cmd		 cmd;
	struct imap_arg		*a;
	char			*buf;
	size_t			 need, n, i, depth;
	int			 sync;

	test_begin("imap_parser: parentheses, nesting depth");
	r = imap_reader_new(1 << 20);
	test_assert(line1(r, W("a FETCH 1 (FLAGS"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && err_ok(err));
	test_assert(line1(r, W("a FETCH 1 FLAGS)"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && err_ok(err));
	test_assert(line1(r, W("a SEARCH ((ALL)"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a SEARCH (ALL))"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a SEARCH )("), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	/* 1000 deep: refused, no recursion, no crash. */
	buf = malloc(3000);
	memcpy(buf, "a SEARCH ", 9);
	n = 9;
	for (i = 0; i < 1000; i++)
		buf[n++] = '(';
	memcpy(buf + n, "ALL", 3);
	n += 3;
	for (i = 0; i < 1000; i++)
		buf[n++] = ')';
	test_assert(line1(r, buf, n, &need, &sync, &err) == IMAP_FEED_ERROR);
	test_assert(err_ok(err));
	/* IMAP_MAX_DEPTH is fine for the lexer, one more is not. */
	for (depth = IMAP_MAX_DEPTH; depth <= IMAP_MAX_DEPTH + 1; depth++) {
		n = 0;
		memcpy(buf, "a ID ", 5);
		n = 5;
		for (i = 0; i < depth; i++)
			buf[n++] = '(';
		buf[n++] = 'x';
		for (i = 0; i < depth; i++)
			buf[n++] = ')';
		test_assert(line1(r, buf, n, &need, &sync, &err) ==
		    (depth == IMAP_MAX_DEPTH ? IMAP_FEED_COMPLETE :
		    IMAP_FEED_ERROR));
	}
	test_assert(imap_parse(r, &cmd, &err) == -1);	/* nothing pending */
	test_assert(line1(r, buf, n - 2, &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	/* The deepest one built a chain of lists. */
	n = 5;
	for (i = 0; i < IMAP_MAX_DEPTH; i++)
		buf[n++] = '(';
	buf[n++] = 'x';
	for (i = 0; i < IMAP_MAX_DEPTH; i++)
		buf[n++] = ')';
	test_assert(line1(r, buf, n, &need, &sync, &err) ==
	    IMAP_FEED_COMPLETE);
	test_assert(imap_parse(r, &cmd, &err) == 0);
	a = cmd.args;
	for (i = 0; i < IMAP_MAX_DEPTH && a != NULL; i++) {
		if (a->type != IMAP_ARG_LIST || a->nlist != 1)
			break;
		a = a->list;
	}
	test_assert(i == IMAP_MAX_DEPTH && a->type == IMAP_ARG_ATOM &&
	    strcmp(a->s, "x") == 0);
	imap_cmd_free(&cmd);
	free(buf);
	imap_reader_free(r);
	test_end();
}

static void
test_quoted(void)
{
	static const struct {
		const char	*line;
		size_t		 len;
		const char	*want;	/* NULL: refused */
	} t[] = {
		{ W("a LOGIN \"\\q\" x"),		NULL },
		{ W("a LOGIN \"x\\\" y"),		NULL },
		{ W("a LOGIN \"x"),			NULL },
		{ W("a LOGIN \"\xc3\x28\" x"),		NULL },	/* bad tail */
		{ W("a LOGIN \"\xc0\xaf\" x"),		NULL },	/* overlong */
		{ W("a LOGIN \"\xed\xa0\x80\" x"),	NULL },	/* surrogate */
		{ W("a LOGIN \"\xf4\x90\x80\x80\" x"),	NULL },	/* > 10FFFF */
		{ W("a LOGIN \"\xff\" x"),		NULL },
		{ W("a LOGIN x \"\xe2\x82"),		NULL },	/* cut at end */
		{ W("a LOGIN x \"\xf0\x9f\x98"),	NULL },
		{ W("a LOGIN \xc3\xa4 x"),		NULL },	/* 8-bit atom */
		{ W("a LOGIN \"\" x"),			"" },
		{ W("a LOGIN \"a\\\"b\\\\c\" x"),	"a\"b\\c" },
		{ W("a LOGIN \"J\xc3\xb6rg \xf0\x9f\x98\x81\" x"),
		    "J\xc3\xb6rg \xf0\x9f\x98\x81" },
		{ W("a LOGIN \"tab\there\" x"),		"tab\there" },
	};
	struct imap_reader	*r;
	struct imap_cmd		 cmd;
	const char		*err;
	size_t			 i, need;
	int			 sync, ok;

	test_begin("imap_parser: quoted strings, UTF-8, escapes");
	r = imap_reader_new(1 << 20);
	for (i = 0; i < nitems(t); i++) {
		enum imap_feed	 f;

		f = line1(r, t[i].line, t[i].len, &need, &sync, &err);
		if (t[i].want == NULL) {
			ok = f == IMAP_FEED_ERROR && err_ok(err);
		} else {
			ok = f == IMAP_FEED_COMPLETE &&
			    imap_parse(r, &cmd, &err) == 0 &&
			    cmd.args[0].type == IMAP_ARG_STRING &&
			    !cmd.args[0].literal &&
			    cmd.args[0].len == strlen(t[i].want) &&
			    strcmp(cmd.args[0].s, t[i].want) == 0;
			imap_cmd_free(&cmd);
		}
		if (!ok)
			printf("# quoted case %zu\n", i);
		test_assert(ok);
	}
	imap_reader_free(r);
	test_end();
}

static void
test_literals(void)
{
	static const size_t	 chunks[] = { 1, 2, 3, 1000 };
	struct imap_reader	*r;
	struct wire		 w;
	struct imap_literal_info info;
	struct imap_arg		*a;
	const char		*err;
	size_t			 i, need;
	int			 sync;

	test_begin("imap_parser: literals in pieces, {n+}, ~{n}, NUL");
	r = imap_reader_new(1 << 20);
	for (i = 0; i < nitems(chunks); i++) {
		test_assert(run(r, W("a LOGIN {5}\r\nalice {6+}\r\nse\"c(t\r\n"),
		    chunks[i], &w) == IMAP_FEED_COMPLETE && w.ok && w.parsed);
		test_assert(w.nlit == 2 && w.nsync == 1);
		test_assert(w.cmd.nargs == 2);
		test_assert(w.cmd.args[0].type == IMAP_ARG_STRING &&
		    w.cmd.args[0].literal && w.cmd.args[0].len == 5 &&
		    strcmp(w.cmd.args[0].s, "alice") == 0);
		test_assert(strcmp(w.cmd.args[1].s, "se\"c(t") == 0);
		imap_cmd_free(&w.cmd);
	}
	/* Empty literals; a literal in a list; one closing a list. */
	test_assert(run(r, W("a LOGIN {0}\r\n {0+}\r\n\r\n"), 1, &w) ==
	    IMAP_FEED_COMPLETE && w.ok && w.parsed);
	test_assert(w.cmd.nargs == 2 && w.cmd.args[1].len == 0 &&
	    strcmp(w.cmd.args[1].s, "") == 0);
	imap_cmd_free(&w.cmd);
	test_assert(run(r, W("a ID (\"name\" {3}\r\nx y \"os\" {2}\r\nab)\r\n"),
	    2, &w) == IMAP_FEED_COMPLETE && w.ok && w.parsed);
	a = &w.cmd.args[0];
	test_assert(a->type == IMAP_ARG_LIST && a->nlist == 4 &&
	    strcmp(a->list[1].s, "x y") == 0 &&
	    strcmp(a->list[3].s, "ab") == 0);
	imap_cmd_free(&w.cmd);
	/* After a literal: a space, ')' or the end. */
	test_assert(run(r, W("a LOGIN {1}\r\nxy\r\n"), 1, &w) ==
	    IMAP_FEED_ERROR && w.ok && err_ok(w.err));
	test_assert(run(r, W("a LOGIN {1}\r\nx)\r\n"), 1, &w) ==
	    IMAP_FEED_ERROR && w.ok);
	/* A literal must end its line. */
	test_assert(line1(r, W("a LOGIN {1} x"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a LOGIN {} x"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a LOGIN x{1}"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(line1(r, W("a LOGIN {1+1}"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	/* NUL in a literal: the command is read to its end, then refused. */
	test_assert(run(r, W("a LOGIN {3}\r\nx\0y {1}\r\nz\r\n"), 1, &w) ==
	    IMAP_FEED_ERROR && err_ok(w.err));
	test_assert(w.nlit == 1);	/* no '+' for the second literal */
	test_assert(run(r, W("a LOGIN {3}\r\nx\0y {1+}\r\nz\r\n"), 2, &w) ==
	    IMAP_FEED_ERROR && w.ok && w.nlit == 2);
	test_assert(strcmp(imap_reader_tag(r), "a") == 0);
	/* literal8 only in APPEND, where NUL is fine. */
	test_assert(line1(r, W("a LOGIN ~{3}"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR);
	test_assert(run(r, W("a APPEND INBOX ~{3}\r\nx\0y\r\n"), 1, &w) ==
	    IMAP_FEED_COMPLETE && w.ok && w.parsed);
	test_assert(w.cmd.args[1].type == IMAP_ARG_LITERAL8 &&
	    w.cmd.args[1].len == 3 && memcmp(w.cmd.args[1].s, "x\0y", 4) == 0);
	imap_cmd_free(&w.cmd);
	test_assert(run(r, W("a APPEND INBOX {3}\r\nx\0y\r\n"), 1, &w) ==
	    IMAP_FEED_ERROR);
	/* A bad line ending in {n+}: its literal is taken, then BAD. */
	test_assert(line1(r, W("b LOGIN \"\\q\" {5+}"), &need, &sync, &err) ==
	    IMAP_FEED_LITERAL && need == 5 && !sync);
	imap_reader_literal_info(r, &info);
	test_assert(!info.message && !info.sync);
	test_assert(imap_reader_literal(r, "ab", 2) == IMAP_FEED_LITERAL);
	test_assert(imap_reader_literal(r, "cde", 3) == IMAP_FEED_LINE);
	test_assert(line1(r, W(" more {2+}"), &need, &sync, &err) ==
	    IMAP_FEED_LITERAL && need == 2);
	test_assert(imap_reader_literal(r, "zz", 2) == IMAP_FEED_LINE);
	test_assert(line1(r, W(""), &need, &sync, &err) == IMAP_FEED_ERROR);
	test_assert(err_ok(err) && strcmp(imap_reader_tag(r), "b") == 0);
	test_assert(!imap_reader_must_close(r));
	/* ... but never a synchronizing one, and never a huge one. */
	test_assert(line1(r, W("c LOGIN \"\\q\" {5}"), &need, &sync, &err) ==
	    IMAP_FEED_ERROR && !imap_reader_must_close(r));
	test_assert(line1(r, W("c LOGIN \"\\q\" {99999999999+}"), &need,
	    &sync, &err) == IMAP_FEED_ERROR && imap_reader_must_close(r));
	/* The reader goes on. */
	test_assert(run(r, W("d NOOP\r\n"), 1, &w) == IMAP_FEED_COMPLETE &&
	    w.parsed);
	test_assert(strcmp(w.cmd.tag, "d") == 0 &&
	    w.cmd.cmd == IMAP_CMD_NOOP);
	imap_cmd_free(&w.cmd);
	imap_reader_free(r);
	test_end();
}

static void
test_external(void)
{
	struct imap_reader	*r;
	struct imap_literal_info info;
	struct imap_cmd		 cmd;
	const char		*err;
	size_t			 need, before;
	int			 sync;

	test_begin("imap_parser: APPEND messages kept by the session");
	r = imap_reader_new(1 << 20);
	test_assert(line1(r, W("a APPEND INBOX (\\Seen) {11}"), &need, &sync,
	    &err) == IMAP_FEED_LITERAL);
	imap_reader_literal_info(r, &info);
	test_assert(info.message && need == 11);
	imap_reader_literal_external(r, 7);
	before = imap_reader_memory(r);
	test_assert(imap_reader_literal(r, "hello", 5) == IMAP_FEED_LITERAL);
	test_assert(imap_reader_literal(r, " world", 6) == IMAP_FEED_LINE);
	test_assert(imap_reader_memory(r) == before);
	test_assert(line1(r, W(" {2}"), &need, &sync, &err) ==
	    IMAP_FEED_LITERAL);
	imap_reader_literal_info(r, &info);
	test_assert(info.message);	/* MULTIAPPEND */
	test_assert(imap_reader_literal(r, "hi", 2) == IMAP_FEED_LINE);
	test_assert(line1(r, W(""), &need, &sync, &err) ==
	    IMAP_FEED_COMPLETE);
	test_assert(imap_parse(r, &cmd, &err) == 0);
	test_assert(cmd.nargs == 4 && cmd.args[2].ext == 7 &&
	    cmd.args[2].len == 11 && strcmp(cmd.args[2].s, "") == 0);
	test_assert(cmd.args[3].ext == 0 && strcmp(cmd.args[3].s, "hi") == 0);
	/* An external literal is no string for the typed parsers. */
	test_assert(imap_arg_string(&cmd.args[2]) == NULL);
	imap_cmd_free(&cmd);
	/* NUL in an external message is still refused. */
	test_assert(line1(r, W("b APPEND INBOX {3}"), &need, &sync, &err) ==
	    IMAP_FEED_LITERAL);
	imap_reader_literal_external(r, 1);
	test_assert(imap_reader_literal(r, "a\0b", 3) == IMAP_FEED_LINE);
	test_assert(line1(r, W(""), &need, &sync, &err) == IMAP_FEED_ERROR);
	imap_reader_free(r);
	test_end();
}

static void
test_counts(void)
{
	struct imap_reader	*r;
	const char		*err;
	enum imap_feed		 f;
	char			*buf;
	size_t			 need, n, i, lines;
	int			 sync;

	test_begin("imap_parser: argument and literal counts");
	r = imap_reader_new(1 << 20);
	/* 30000 atoms a line, lines joined by {1+}: the 100001st is refused. */
	buf = malloc(65536);
	memcpy(buf, "a ID (", 6);
	n = 6;
	for (i = 0; i < 30000; i++) {
		buf[n++] = 'x';
		buf[n++] = ' ';
	}
	memcpy(buf + n, "{1+}", 4);
	n += 4;
	f = line1(r, buf, n, &need, &sync, &err);
	for (lines = 1; f == IMAP_FEED_LITERAL && lines < 10; lines++) {
		if (imap_reader_literal(r, "y", 1) != IMAP_FEED_LINE)
			break;
		memcpy(buf, " zzz (", 6);
		f = line1(r, buf, n, &need, &sync, &err);
		test_assert(imap_reader_memory(r) < 16 * 1024 * 1024);
	}
	/* Refused on the fourth line; the {1+} after it is taken, too. */
	test_assert(lines == 10 && f == IMAP_FEED_LITERAL);
	test_assert(imap_reader_literal(r, "y", 1) == IMAP_FEED_LINE);
	test_assert(line1(r, W(" x)"), &need, &sync, &err) ==
	    IMAP_FEED_TOOBIG && err_ok(err));
	test_assert(strcmp(imap_reader_tag(r), "a") == 0);
	test_assert(!imap_reader_must_close(r));
	imap_reader_reset(r);
	/*
	 * The same limit met by a list, a quoted string, a literal: three
	 * lines hold 90008 arguments, the fourth 9992 more, then the one.
	 */
	{
		static const char *const tails[] = { "(", "\"q\"", "{1}" };
		size_t	 k, m;

		for (k = 0; k < nitems(tails); k++) {
			memcpy(buf, "a ID (", 6);
			for (m = 6; m < n - 4; m += 2)
				memcpy(buf + m, "x ", 2);
			f = line1(r, buf, n, &need, &sync, &err);
			for (lines = 1; lines < 4 && f == IMAP_FEED_LITERAL;
			    lines++) {
				(void)imap_reader_literal(r, "y", 1);
				if (lines == 3)
					break;
				memcpy(buf, " zzz (", 6);
				f = line1(r, buf, n, &need, &sync, &err);
			}
			memcpy(buf, " zzz (", 6);
			m = 6 + 2 * 9990;
			memcpy(buf + m, tails[k], strlen(tails[k]));
			f = line1(r, buf, m + strlen(tails[k]), &need, &sync,
			    &err);
			test_assert(f == IMAP_FEED_TOOBIG && err_ok(err));
			test_assert(!imap_reader_must_close(r));
		}
	}
	/* IMAP_MAX_LITERALS literals, then one more. */
	f = line1(r, W("b ID ({0+}"), &need, &sync, &err);
	for (i = 1; f == IMAP_FEED_LITERAL && i < 2000; i++) {
		if (imap_reader_literal(r, "", 0) != IMAP_FEED_LINE)
			break;
		f = line1(r, W(" {0+}"), &need, &sync, &err);
	}
	test_assert(i == IMAP_MAX_LITERALS + 1 && f == IMAP_FEED_TOOBIG);
	test_assert(imap_reader_must_close(r));
	imap_reader_reset(r);
	/* Lines and literals together against IMAP_MAX_COMMAND. */
	test_assert(line1(r, W("c LOGIN {9000000}"), &need, &sync, &err) ==
	    IMAP_FEED_LITERAL);
	free(buf);
	buf = malloc(9000000);
	memset(buf, 'q', 9000000);
	test_assert(imap_reader_literal(r, buf, 9000000) == IMAP_FEED_LINE);
	test_assert(line1(r, W(" {9000000}"), &need, &sync, &err) ==
	    IMAP_FEED_TOOBIG);
	imap_reader_free(r);
	free(buf);
	test_end();
}

static void
test_commands(void)
{
	struct wire	 w;

	test_begin("imap_parser: command names, UID, no-argument commands");
	test_assert(parse1(W("a1 capability\r\n"), &w));
	test_assert(strcmp(w.cmd.tag, "a1") == 0 &&
	    strcmp(w.cmd.name, "CAPABILITY") == 0 &&
	    w.cmd.cmd == IMAP_CMD_CAPABILITY && w.cmd.nargs == 0 &&
	    !w.cmd.uid);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("x uid Fetch 1 FLAGS\r\n"), &w));
	test_assert(w.cmd.cmd == IMAP_CMD_FETCH && w.cmd.uid &&
	    strcmp(w.cmd.name, "FETCH") == 0 && w.cmd.nargs == 2);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("x UID EXPUNGE 1:3\r\n"), &w));
	test_assert(w.cmd.cmd == IMAP_CMD_EXPUNGE && w.cmd.uid);
	imap_cmd_free(&w.cmd);
	/* No arguments for these, a tagged BAD from imap_parse(). */
	test_assert(!parse1(W("t NOOP x\r\n"), &w));
	test_assert(w.last == IMAP_FEED_COMPLETE && !w.parsed &&
	    err_ok(w.err) && strcmp(w.cmd.tag, "t") == 0);
	imap_cmd_free(&w.cmd);
	test_assert(!parse1(W("t EXPUNGE 1\r\n"), &w));
	imap_cmd_free(&w.cmd);
	test_assert(!parse1(W("t IDLE x\r\n"), &w));
	imap_cmd_free(&w.cmd);
	test_assert(!parse1(W("t FROBNICATE\r\n"), &w));
	test_assert(w.last == IMAP_FEED_ERROR);
	test_assert(!parse1(W("t UID UID FETCH 1 FLAGS\r\n"), &w));
	test_assert(!parse1(W("t UIDFETCH 1 FLAGS\r\n"), &w));
	test_assert(parse1(W("t NIL NIL\r\n"), &w) == 0);
	test_assert(imap_is_done(W("DONE")) && imap_is_done(W("done")));
	test_assert(!imap_is_done(W("DONE ")) && !imap_is_done(W("DON")));
	test_assert(parse1(W("t ID (nil \"x\" NIL NIL)\r\n"), &w));
	test_assert(w.cmd.args[0].list[0].type == IMAP_ARG_NIL &&
	    strcmp(w.cmd.args[0].list[0].s, "nil") == 0 &&
	    w.cmd.args[0].list[1].type == IMAP_ARG_STRING);
	imap_cmd_free(&w.cmd);
	test_end();
}

static void
test_mutf7(void)
{
	static const struct {
		const char	*mutf7;
		const char	*utf8;	/* NULL: refused */
	} dec[] = {
		{ "INBOX",			"INBOX" },
		{ "&-",				"&" },
		{ "a&-b&-",			"a&b&" },
		{ "&AOQ-",			"\xc3\xa4" },
		{ "&AOQA9g-",			"\xc3\xa4\xc3\xb6" },
		{ "Entw&APw-rfe",		"Entw\xc3\xbcrfe" },
		{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
		    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
		{ "&2D3eAQ-",			"\xf0\x9f\x98\x81" },
		{ "&AOQ-x&APY-",		"\xc3\xa4x\xc3\xb6" },
		{ "&AOQ-&-",			"\xc3\xa4&" },
		{ "&AGE-",			NULL },	/* 'a' encoded */
		{ "&ACY-",			NULL },	/* '&' encoded */
		{ "&AAE-",			NULL },	/* control */
		{ "&AIA-",			NULL },	/* C1 control */
		{ "&AOQ-&APY-",			NULL },	/* two runs */
		{ "&AOR-",			NULL },	/* padding bits */
		{ "&AOQA-",			NULL },	/* extra character */
		{ "&AOQAAA-",			NULL },	/* U+0000 */
		{ "&-&",			NULL },
		{ "&",				NULL },
		{ "&AOQ",			NULL },
		{ "&AOQ!",			NULL },
		{ "&A-",			NULL },	/* 6 bits, no unit */
		{ "&2D0-",			NULL },	/* lone high surrogate */
		{ "&3gE-",			NULL },	/* lone low surrogate */
		{ "&2D3YPQ-",			NULL },	/* high, high */
		{ "\xc3\xa4",			NULL },	/* 8-bit */
		{ "a\tb",			NULL },
		{ "a\x7f",			NULL },
		{ "",				"" },
	};
	static const char *const utf8[] = {
		"", "&", "INBOX", "\xc3\xa4", "\xc3\xa4\xc3\xb6 x",
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xf0\x9f\x98\x81",
		"a&b\xe2\x82\xac&", "\xc2\xa0", "\xef\xbf\xbf",
		"\xf4\x8f\xbf\xbf",
	};
	char		 buf[256], back[256], small[6];
	const char	*err;
	size_t		 i;
	int		 n, ok;

	test_begin("imap_parser: modified UTF-7, strict, both ways");
	for (i = 0; i < nitems(dec); i++) {
		err = NULL;
		n = imap_mutf7_to_utf8(dec[i].mutf7, buf, sizeof(buf), &err);
		if (dec[i].utf8 == NULL)
			ok = n == -1 && err_ok(err) && buf[0] == '\0';
		else
			ok = n == (int)strlen(dec[i].utf8) &&
			    strcmp(buf, dec[i].utf8) == 0 &&
			    imap_utf8_to_mutf7(buf, back, sizeof(back),
			    &err) >= 0 && strcmp(back, dec[i].mutf7) == 0;
		if (!ok)
			printf("# mutf7 case %zu: %s\n", i, dec[i].mutf7);
		test_assert(ok);
	}
	for (i = 0; i < nitems(utf8); i++) {
		ok = imap_utf8_to_mutf7(utf8[i], buf, sizeof(buf), &err) >= 0 &&
		    imap_mutf7_to_utf8(buf, back, sizeof(back), &err) >= 0 &&
		    strcmp(back, utf8[i]) == 0;
		if (!ok)
			printf("# utf8 case %zu\n", i);
		test_assert(ok);
	}
	/* Known encodings (RFC 3501 5.1.3 example). */
	test_assert(imap_utf8_to_mutf7("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", buf, sizeof(buf), &err) ==
	    31 && strcmp(buf, "~peter/mail/&U,BTFw-/&ZeVnLIqe-") == 0);
	test_assert(imap_utf8_to_mutf7("a&b", buf, sizeof(buf), &err) == 4 &&
	    strcmp(buf, "a&-b") == 0);
	/* Refused UTF-8: a C1 control, then malformed. */
	test_assert(imap_utf8_to_mutf7("a\xc2\x85", buf, sizeof(buf), &err) ==
	    -1);
	test_assert(imap_utf8_to_mutf7("\xc3\x28", buf, sizeof(buf), &err) ==
	    -1 && err_ok(err));
	test_assert(imap_utf8_to_mutf7("\xc0\xaf", buf, sizeof(buf), &err) ==
	    -1);
	test_assert(imap_utf8_to_mutf7("\xed\xa0\x80", buf, sizeof(buf),
	    &err) == -1);
	test_assert(imap_utf8_to_mutf7("a\x01", buf, sizeof(buf), &err) ==
	    -1);
	test_assert(imap_utf8_to_mutf7("\xe2\x82", buf, sizeof(buf), &err) ==
	    -1);
	/* Output bounds. */
	test_assert(imap_utf8_to_mutf7("\xc3\xa4", small, 6, &err) == 5);
	test_assert(imap_utf8_to_mutf7("\xc3\xa4", small, 5, &err) == -1);
	test_assert(imap_utf8_to_mutf7("abcdef", small, 6, &err) == -1);
	test_assert(imap_mutf7_to_utf8("abcde", small, 6, &err) == 5);
	test_assert(imap_mutf7_to_utf8("abcdef", small, 6, &err) == -1);
	test_assert(imap_mutf7_to_utf8("x", small, 0, &err) == -1);
	test_end();
}

static int
mailbox1(const char *line, size_t len, int utf8, const char *want)
{
	struct wire	 w;
	char		 buf[IMAP_MAILBOX_MAX + 1];
	const char	*err = NULL;
	int		 rc, ok;

	if (!parse1(line, len, &w))
		return want == NULL;
	rc = imap_mailbox(&w.cmd.args[0], utf8, buf, &err);
	if (want == NULL)
		ok = rc == -1 && err_ok(err) && buf[0] == '\0';
	else
		ok = rc == 0 && strcmp(buf, want) == 0;
	imap_cmd_free(&w.cmd);
	return ok;
}

static void
test_mailbox(void)
{
	char	*big;
	size_t	 n;

	test_begin("imap_parser: mailbox names, both client forms");
	test_assert(mailbox1(W("a SELECT inbox\r\n"), 0, "INBOX"));
	test_assert(mailbox1(W("a SELECT \"InBoX\"\r\n"), 1, "INBOX"));
	test_assert(mailbox1(W("a SELECT NIL\r\n"), 0, "NIL"));
	test_assert(mailbox1(W("a SELECT a]b\r\n"), 0, "a]b"));
	test_assert(mailbox1(W("a SELECT Entw&APw-rfe\r\n"), 0,
	    "Entw&APw-rfe"));
	test_assert(mailbox1(W("a SELECT \"Entw\xc3\xbcrfe\"\r\n"), 1,
	    "Entw&APw-rfe"));
	test_assert(mailbox1(W("a SELECT {9}\r\nEntw\xc3\xbcrfe\r\n"), 1,
	    "Entw&APw-rfe"));
	test_assert(mailbox1(W("a SELECT \"R&D\"\r\n"), 1, "R&-D"));
	/* A rev1 client must send canonical modified UTF-7, 7-bit. */
	test_assert(mailbox1(W("a SELECT \"Entw\xc3\xbcrfe\"\r\n"), 0, NULL));
	test_assert(mailbox1(W("a SELECT R&D\r\n"), 0, NULL));
	test_assert(mailbox1(W("a SELECT &AGE-\r\n"), 0, NULL));
	/* Bad UTF-8 in a literal (quoted strings never get this far). */
	test_assert(mailbox1(W("a SELECT {2}\r\n\xc3\x28\r\n"), 1, NULL));
	test_assert(mailbox1(W("a SELECT \"\"\r\n"), 1, NULL));
	test_assert(mailbox1(W("a SELECT \"a%\"\r\n"), 1, NULL));
	test_assert(mailbox1(W("a SELECT a*\r\n"), 1, NULL));
	test_assert(mailbox1(W("a SELECT \"a\tb\"\r\n"), 1, NULL));
	test_assert(mailbox1(W("a SELECT \\Seen\r\n"), 1, NULL));
	test_assert(mailbox1(W("a SELECT (x)\r\n"), 1, NULL));
	/* Length: IMAP_MAILBOX_MAX bytes of the stored form. */
	big = malloc(IMAP_MAILBOX_MAX + 64);
	memcpy(big, "a SELECT ", 9);
	memset(big + 9, 'm', IMAP_MAILBOX_MAX);
	n = 9 + IMAP_MAILBOX_MAX;
	memcpy(big + n, "\r\n", 2);
	{
		struct wire	 w;
		char		 buf[IMAP_MAILBOX_MAX + 1];
		const char	*err;

		test_assert(parse1(big, n + 2, &w));
		test_assert(imap_mailbox(&w.cmd.args[0], 1, buf, &err) == 0 &&
		    strlen(buf) == IMAP_MAILBOX_MAX);
		imap_cmd_free(&w.cmd);
		memcpy(big + n, "m\r\n", 3);
		test_assert(parse1(big, n + 3, &w));
		test_assert(imap_mailbox(&w.cmd.args[0], 1, buf, &err) == -1);
		test_assert(imap_mailbox(&w.cmd.args[0], 0, buf, &err) == -1);
		imap_cmd_free(&w.cmd);
	}
	free(big);
	test_end();
}

static int
seq_is(const struct imap_seqset *s, const uint32_t *r, size_t n)
{
	size_t	 i;

	if (s->n != n)
		return 0;
	for (i = 0; i < n; i++)
		if (s->r[i].lo != r[2 * i] || s->r[i].hi != r[2 * i + 1])
			return 0;
	return 1;
}

static void
test_seqset(void)
{
	static const char *const bad[] = {
		"", "0", "01", "1,", ",1", "1,,2", "1::2", "1:", ":1", "1:0",
		"4294967296", "99999999999999999999", "a", "1 2", "$,1",
		"1,$", "$$", "*:", "-1", "+1", "1.5",
	};
	static const uint32_t r1[] = { 1, 5, 7, 7, 9, 20 };
	static const uint32_t r2[] = { 1, 10 };
	static const uint32_t r3[] = { 3, 5 };
	static const uint32_t r4[] = { 4, 7, 10, 10 };
	static const uint32_t r5[] = { 4294967290U, 4294967295U };
	struct imap_seqset	 s;
	const char		*err;
	char			*big;
	size_t			 i, n;
	clock_t			 t0;
	double			 secs;

	test_begin("imap_parser: sequence sets, '*', '$', limits");
	for (i = 0; i < nitems(bad); i++) {
		err = NULL;
		if (imap_seqset_parse(bad[i], &s, &err) != -1 || !err_ok(err) ||
		    s.r != NULL || s.n != 0) {
			printf("# seqset bad case %zu\n", i);
			test_assert(0);
		}
	}
	test_assert(imap_seqset_parse("9:20,7,5:1,3:4,10", &s, &err) == 0);
	test_assert(seq_is(&s, r1, 3) && !s.star && !s.dollar);
	test_assert(imap_seqset_contains(&s, 7) &&
	    !imap_seqset_contains(&s, 6) && !imap_seqset_contains(&s, 21) &&
	    !imap_seqset_contains(&s, 0) && imap_seqset_contains(&s, 20));
	test_assert(imap_seqset_last(&s) == 20);
	imap_seqset_free(&s);
	test_assert(imap_seqset_parse("1:*", &s, &err) == 0 && s.star &&
	    s.n == 0);
	imap_seqset_resolve(&s, 10);
	test_assert(seq_is(&s, r2, 1) && !s.star);
	imap_seqset_free(&s);
	test_assert(imap_seqset_parse("5:*", &s, &err) == 0);
	imap_seqset_resolve(&s, 3);
	test_assert(seq_is(&s, r3, 1));
	imap_seqset_free(&s);
	test_assert(imap_seqset_parse("*:4,10", &s, &err) == 0);
	imap_seqset_resolve(&s, 7);
	test_assert(seq_is(&s, r4, 2));
	imap_seqset_free(&s);
	test_assert(imap_seqset_parse("*", &s, &err) == 0);
	imap_seqset_resolve(&s, 0);
	test_assert(s.n == 0 && !s.star);
	imap_seqset_free(&s);
	test_assert(imap_seqset_parse("4294967290:4294967295,*", &s,
	    &err) == 0);
	imap_seqset_resolve(&s, 4294967295U);
	test_assert(seq_is(&s, r5, 1));
	imap_seqset_free(&s);
	test_assert(imap_seqset_parse("$", &s, &err) == 0 && s.dollar &&
	    s.n == 0);
	imap_seqset_free(&s);
	/* 100,000 ranges, in the worst order: fine and fast. */
	big = malloc(IMAP_MAX_RANGES * 8 + 16);
	n = 0;
	for (i = IMAP_MAX_RANGES; i > 0; i--)
		n += (size_t)sprintf(big + n, "%zu,", 2 * i - 1);
	big[n - 1] = '\0';
	t0 = clock();
	test_assert(imap_seqset_parse(big, &s, &err) == 0);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	printf("# %d ranges parsed in %.3f s\n", IMAP_MAX_RANGES, secs);
	test_assert(secs < 1.0);
	test_assert(s.n == IMAP_MAX_RANGES && s.r[0].lo == 1 &&
	    imap_seqset_contains(&s, 2 * IMAP_MAX_RANGES - 1) &&
	    !imap_seqset_contains(&s, 2 * IMAP_MAX_RANGES - 2));
	for (i = 1; i < s.n; i++)
		if (s.r[i].lo <= s.r[i - 1].hi + 1)
			break;
	test_assert(i == s.n);
	imap_seqset_free(&s);
	/* 1,3,...,199999 and one more: refused. */
	memcpy(big + n - 1, ",7", 3);
	test_assert(imap_seqset_parse(big, &s, &err) == -1 && err_ok(err));
	/* Adjacent singles merge into one range. */
	n = 0;
	for (i = 1; i <= IMAP_MAX_RANGES; i++)
		n += (size_t)sprintf(big + n, "%zu,", i);
	big[n - 1] = '\0';
	test_assert(imap_seqset_parse(big, &s, &err) == 0 && s.n == 1 &&
	    s.r[0].lo == 1 && s.r[0].hi == IMAP_MAX_RANGES);
	imap_seqset_free(&s);
	free(big);
	test_end();
}

static void
test_fetch(void)
{
	static const char *const bad[] = {
		"a FETCH 1 ()\r\n",
		"a FETCH 1 (FLAGS\r\n",
		"a FETCH 1 FLAG\r\n",
		"a FETCH 1 (ALL)\r\n",
		"a FETCH 0 FLAGS\r\n",
		"a FETCH 1\r\n",
		"a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n",
		"a FETCH 1 FLAGS (CHANGEDSINCE)\r\n",
		"a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)\r\n",
		"a FETCH 1 FLAGS (CHANGEDSINCE 5 VANISHED)\r\n",
		"a UID FETCH 1 FLAGS (VANISHED)\r\n",
		"a FETCH 1 FLAGS (FOO)\r\n",
		"a FETCH 1 FLAGS ()\r\n",
		"a FETCH 1 BINARY[1.0]\r\n",
		"a FETCH 1 BINARY[a]\r\n",
		"a FETCH 1 BINARY[1.]\r\n",
		"a FETCH 1 BINARY[.1]\r\n",
		"a FETCH 1 BODY[]<1>\r\n",
		"a FETCH 1 BODY[]<1.0>\r\n",
		"a FETCH 1 BODY[]<.1>\r\n",
		"a FETCH 1 BODY[]<1.1\r\n",
		"a FETCH 1 BODY[]x\r\n",
		"a FETCH 1 BINARY.SIZE[1]<0.1>\r\n",
		"a FETCH 1 BODY.PEEK\r\n",
		"a FETCH 1 BODY[HEADER\r\n",
		"a FETCH 1 FOO[1]\r\n",
		"a FETCH 1 (PREVIEW (FOO))\r\n",
		"a FETCH 1 \"FLAGS\"\r\n",
		"a FETCH \"1\" FLAGS\r\n",
		"a FETCH 1 FLAGS X Y\r\n",
		"a UID FETCH 1 FLAGS (CHANGEDSINCE 5 VANISHED VANISHED)\r\n",
		"a FETCH 1 (FAST)\r\n",
	};
	struct wire		 w;
	struct imap_fetch	 f;
	const char		*err;
	size_t			 i;
	int			 ok;

	test_begin("imap_parser: FETCH items, sections, modifiers");
	for (i = 0; i < nitems(bad); i++) {
		ok = 1;
		if (parse1(bad[i], strlen(bad[i]), &w)) {
			err = NULL;
			ok = imap_fetch_parse(&w.cmd, &f, &err) == -1 &&
			    err_ok(err) && f.sections == NULL && f.set.r == NULL;
			imap_cmd_free(&w.cmd);
		}
		if (!ok)
			printf("# fetch bad case %zu\n", i);
		test_assert(ok);
	}
	test_assert(parse1(W("a FETCH 1:* ALL\r\n"), &w));
	test_assert(imap_fetch_parse(&w.cmd, &f, &err) == 0);
	test_assert(f.attrs == (IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
	    IMAP_FETCH_RFC822_SIZE | IMAP_FETCH_ENVELOPE) && f.set.star &&
	    f.nsections == 0);
	imap_fetch_free(&f);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a FETCH 2 Fast\r\n"), &w));
	test_assert(imap_fetch_parse(&w.cmd, &f, &err) == 0);
	test_assert(f.attrs == (IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
	    IMAP_FETCH_RFC822_SIZE));
	imap_fetch_free(&f);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a fetch 2 full\r\n"), &w));
	test_assert(imap_fetch_parse(&w.cmd, &f, &err) == 0);
	test_assert(f.attrs & IMAP_FETCH_BODY && f.attrs & IMAP_FETCH_ENVELOPE);
	imap_fetch_free(&f);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a FETCH 2,4:5 (FLAGS body.peek[HEADER.FIELDS "
	    "(From \"To\")]<0.100> BINARY[1.2] BINARY.PEEK[] "
	    "BINARY.SIZE[3] BODY[] RFC822.SIZE UID MODSEQ "
	    "BODY[1.MIME]<5.1> PREVIEW (LAZY) RFC822.HEADER)\r\n"), &w));
	test_assert(imap_fetch_parse(&w.cmd, &f, &err) == 0);
	test_assert(f.attrs == (IMAP_FETCH_FLAGS | IMAP_FETCH_RFC822_SIZE |
	    IMAP_FETCH_UID | IMAP_FETCH_MODSEQ | IMAP_FETCH_PREVIEW |
	    IMAP_FETCH_RFC822_HEADER) && f.preview_lazy);
	test_assert(f.nsections == 6);
	if (f.nsections == 6) {
		test_assert(f.sections[0].kind == IMAP_SECTION_BODY &&
		    f.sections[0].peek && f.sections[0].partial &&
		    f.sections[0].offset == 0 && f.sections[0].count == 100 &&
		    strcmp(f.sections[0].section,
		    "HEADER.FIELDS (From \"To\")") == 0);
		test_assert(f.sections[1].kind == IMAP_SECTION_BINARY &&
		    !f.sections[1].peek &&
		    strcmp(f.sections[1].section, "1.2") == 0 &&
		    !f.sections[1].partial);
		test_assert(f.sections[2].kind == IMAP_SECTION_BINARY &&
		    f.sections[2].peek && f.sections[2].section[0] == '\0');
		test_assert(f.sections[3].kind == IMAP_SECTION_BINARY_SIZE &&
		    strcmp(f.sections[3].section, "3") == 0);
		test_assert(f.sections[4].kind == IMAP_SECTION_BODY &&
		    !f.sections[4].peek && f.sections[4].section[0] == '\0');
		test_assert(f.sections[5].offset == 5 &&
		    f.sections[5].count == 1 &&
		    strcmp(f.sections[5].section, "1.MIME") == 0);
	}
	test_assert(imap_seqset_contains(&f.set, 5) &&
	    !imap_seqset_contains(&f.set, 3));
	imap_fetch_free(&f);
	imap_cmd_free(&w.cmd);
	/* UID FETCH implies UID; CHANGEDSINCE implies MODSEQ. */
	test_assert(parse1(W("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE "
	    "9223372036854775807 VANISHED)\r\n"), &w));
	test_assert(imap_fetch_parse(&w.cmd, &f, &err) == 0);
	test_assert(f.attrs == (IMAP_FETCH_FLAGS | IMAP_FETCH_UID |
	    IMAP_FETCH_MODSEQ) && f.changedsince_set && f.vanished &&
	    f.changedsince == INT64_MAX);
	imap_fetch_free(&f);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a FETCH 1 FLAGS (CHANGEDSINCE "
	    "9223372036854775808)\r\n"), &w));
	test_assert(imap_fetch_parse(&w.cmd, &f, &err) == -1);
	imap_cmd_free(&w.cmd);
	/* '[' is plain outside FETCH and after other names. */
	test_assert(parse1(W("a SELECT BODY[x\r\n"), &w));
	imap_cmd_free(&w.cmd);
	test_assert(!parse1(W("a FETCH 1 BODY[x\r\n"), &w));
	test_assert(!parse1(W("a FETCH 1 BODY[{3}]\r\n"), &w));
	test_assert(!parse1(W("a FETCH 1 BODY[[]]\r\n"), &w));
	test_assert(parse1(W("a FETCH 1 X[a b]\r\n"), &w));
	test_assert(w.cmd.nargs == 3 &&
	    imap_fetch_parse(&w.cmd, &f, &err) == -1);
	imap_cmd_free(&w.cmd);
	/* Too many items. */
	{
		char	*buf = malloc(8 * (IMAP_MAX_FETCH_ITEMS + 1) + 32);
		size_t	 n;

		n = (size_t)sprintf(buf, "a FETCH 1 (");
		for (i = 0; i <= IMAP_MAX_FETCH_ITEMS; i++)
			n += (size_t)sprintf(buf + n, "%sFLAGS",
			    i ? " " : "");
		n += (size_t)sprintf(buf + n, ")\r\n");
		test_assert(parse1(buf, n, &w));
		test_assert(imap_fetch_parse(&w.cmd, &f, &err) == -1);
		imap_cmd_free(&w.cmd);
		free(buf);
	}
	test_end();
}

static void
test_store(void)
{
	static const char *const bad[] = {
		"a STORE 1 +FLAGS (\\Recent)\r\n",
		"a STORE 1 +FLAGS \\Foo\r\n",
		"a STORE 1 +FLAGS (\\Seen\r\n",
		"a STORE 1 FLAGS\r\n",
		"a STORE 1 *FLAGS \\Seen\r\n",
		"a STORE 1 +FLAGS.LOUD \\Seen\r\n",
		"a STORE 1 +FLAGS (\\Seen) x\r\n",
		"a STORE 1 +FLAGS \"x\"\r\n",
		"a STORE 1 +FLAGS (a]b)\r\n",
		"a STORE 1 +FLAGS (a%)\r\n",
		"a STORE 1 +FLAGS (NIL)\r\n",
		"a STORE 1 (UNCHANGEDSINCE) FLAGS \\Seen\r\n",
		"a STORE 1 (UNCHANGEDSINCE x) FLAGS \\Seen\r\n",
		"a STORE 1 (FOO 1) FLAGS \\Seen\r\n",
		"a STORE 1 () FLAGS \\Seen\r\n",
		"a STORE x FLAGS \\Seen\r\n",
	};
	struct wire		 w;
	struct imap_store	 st;
	const char		*err;
	char			*buf;
	size_t			 i, n;
	int			 ok;

	test_begin("imap_parser: STORE and flags");
	for (i = 0; i < nitems(bad); i++) {
		ok = 1;
		if (parse1(bad[i], strlen(bad[i]), &w)) {
			ok = imap_store_parse(&w.cmd, &st, &err) == -1 &&
			    err_ok(err);
			imap_cmd_free(&w.cmd);
		}
		if (!ok)
			printf("# store bad case %zu\n", i);
		test_assert(ok);
	}
	test_assert(parse1(W("a STORE 1:3 +FLAGS (\\Seen \\deleted $Junk "
	    "$junk Work)\r\n"), &w));
	test_assert(imap_store_parse(&w.cmd, &st, &err) == 0);
	test_assert(st.op == IMAP_STORE_ADD && !st.silent &&
	    st.flags.sys == (IMAP_FLAG_SEEN | IMAP_FLAG_DELETED) &&
	    st.flags.nkw == 2 && strcmp(st.flags.kw[0], "$Junk") == 0 &&
	    strcmp(st.flags.kw[1], "Work") == 0 && !st.unchangedsince_set);
	imap_store_free(&st);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a UID STORE 5 (UNCHANGEDSINCE 0) "
	    "-flags.silent \\Answered \\Flagged \\Draft\r\n"), &w));
	test_assert(imap_store_parse(&w.cmd, &st, &err) == 0);
	test_assert(st.op == IMAP_STORE_REMOVE && st.silent &&
	    st.unchangedsince_set && st.unchangedsince == 0 &&
	    st.flags.sys == (IMAP_FLAG_ANSWERED | IMAP_FLAG_FLAGGED |
	    IMAP_FLAG_DRAFT));
	imap_store_free(&st);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a STORE 1 FLAGS ()\r\n"), &w));
	test_assert(imap_store_parse(&w.cmd, &st, &err) == 0 &&
	    st.op == IMAP_STORE_REPLACE && st.flags.sys == 0 &&
	    st.flags.nkw == 0);
	imap_store_free(&st);
	imap_cmd_free(&w.cmd);
	/* IMAP_MAX_KEYWORDS distinct keywords, then one more. */
	buf = malloc(16 * (IMAP_MAX_KEYWORDS + 2) + 32);
	n = (size_t)sprintf(buf, "a STORE 1 +FLAGS (");
	for (i = 0; i < IMAP_MAX_KEYWORDS; i++)
		n += (size_t)sprintf(buf + n, "%sk%zu", i ? " " : "", i);
	memcpy(buf + n, ")\r\n", 3);
	test_assert(parse1(buf, n + 3, &w));
	test_assert(imap_store_parse(&w.cmd, &st, &err) == 0 &&
	    st.flags.nkw == IMAP_MAX_KEYWORDS);
	imap_store_free(&st);
	imap_cmd_free(&w.cmd);
	memcpy(buf + n, " kx)\r\n", 6);
	test_assert(parse1(buf, n + 6, &w));
	test_assert(imap_store_parse(&w.cmd, &st, &err) == -1);
	imap_cmd_free(&w.cmd);
	free(buf);
	test_end();
}

/* Depth of the AST. */
static size_t
depth_of(const struct imap_search *s)
{
	size_t	 i, d, max = 0;

	for (i = 0; i < s->nkids; i++)
		if ((d = depth_of(&s->kids[i])) > max)
			max = d;
	return max + 1;
}

static void
test_search(void)
{
	static const char *const bad[] = {
		"a SEARCH FOO\r\n",
		"a SEARCH FROM\r\n",
		"a SEARCH OR ALL\r\n",
		"a SEARCH NOT\r\n",
		"a SEARCH ()\r\n",
		"a SEARCH SINCE 31-Feb-2024\r\n",
		"a SEARCH SINCE 29-Feb-2023\r\n",
		"a SEARCH SINCE 1-Feb-94\r\n",
		"a SEARCH SINCE \" 1-Feb-1994\"\r\n",
		"a SEARCH SINCE 1-Fev-1994\r\n",
		"a SEARCH SINCE 001-Feb-1994\r\n",
		"a SEARCH SINCE 0-Feb-1994\r\n",
		"a SEARCH SINCE {10}\r\n1-Feb-1994\r\n",
		"a SEARCH LARGER x\r\n",
		"a SEARCH LARGER -1\r\n",
		"a SEARCH LARGER 9223372036854775808\r\n",
		"a SEARCH KEYWORD \\Seen\r\n",
		"a SEARCH KEYWORD \"x\"\r\n",
		"a SEARCH HEADER \"a:b\" x\r\n",
		"a SEARCH HEADER \"\" x\r\n",
		"a SEARCH HEADER X\r\n",
		"a SEARCH UID x\r\n",
		"a SEARCH 1:x\r\n",
		"a SEARCH MODSEQ\r\n",
		"a SEARCH MODSEQ \"/flags/x\" bogus 5\r\n",
		"a SEARCH MODSEQ \"/other\" all 5\r\n",
		"a SEARCH MODSEQ \"/flags/x\" all\r\n",
		"a SEARCH CHARSET US-ASCII TEXT \"\xc3\xa4\"\r\n",
		"a SEARCH TEXT {2}\r\n\xc3\x28\r\n",
		"a SEARCH RETURN (FOO) ALL\r\n",
		"a SEARCH RETURN (MIN)\r\n",
		"a SEARCH CHARSET\r\n",
		"a SEARCH (SEEN) (\r\n",
		"a SEARCH \"ALL\"\r\n",
		"a SEARCH SINCE\r\n",
		"a SEARCH MODSEQ \"/flags/x\"\r\n",
		"a SEARCH MODSEQ \"/flags/x\" priv x\r\n",
		"a SEARCH MODSEQ \"/flags/\"  priv 1\r\n",
	};
	struct wire		 w;
	struct imap_search_prog	 p;
	struct imap_search	*k, *n;
	const char		*err;
	char			*buf;
	size_t			 i, len;
	int			 ok;

	test_begin("imap_parser: SEARCH programs");
	for (i = 0; i < nitems(bad); i++) {
		ok = 1;
		if (parse1(bad[i], strlen(bad[i]), &w)) {
			err = NULL;
			ok = imap_search_parse(&w.cmd, &p, &err) == -1 &&
			    err_ok(err) && p.root.kids == NULL;
			imap_cmd_free(&w.cmd);
		}
		if (!ok)
			printf("# search bad case %zu\n", i);
		test_assert(ok);
	}
	test_assert(parse1(W("a SEARCH CHARSET KOI8-R TEXT x\r\n"), &w));
	test_assert(imap_search_parse(&w.cmd, &p, &err) == IMAP_BADCHARSET &&
	    err_ok(err));
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a UID SEARCH CHARSET utf-8 OR FROM alice "
	    "(SUBJECT \"h\xc3\xa9\" SINCE 1-feb-1994) NOT UNSEEN 1:5,7 "
	    "UID 2:* LARGER 100 HEADER X-Foo \"\" KEYWORD $Junk "
	    "MODSEQ \"/flags/\\\\draft\" all 620162338 NEW OLD ANSWERED "
	    "SENTON \"29-Feb-2024\" UNKEYWORD k\r\n"), &w));
	test_assert(imap_search_parse(&w.cmd, &p, &err) == 0);
	test_assert(!p.esearch && !p.ascii && p.root.key == IMAP_SK_AND &&
	    p.root.nkids == 13);
	if (p.root.nkids == 13) {
		k = p.root.kids;
		test_assert(k[0].key == IMAP_SK_OR && k[0].nkids == 2 &&
		    k[0].kids[0].key == IMAP_SK_FROM &&
		    strcmp(k[0].kids[0].str, "alice") == 0);
		n = &k[0].kids[1];
		test_assert(n->key == IMAP_SK_AND && n->nkids == 2 &&
		    n->kids[0].key == IMAP_SK_SUBJECT &&
		    strcmp(n->kids[0].str, "h\xc3\xa9") == 0 &&
		    n->kids[1].key == IMAP_SK_SINCE &&
		    n->kids[1].date.year == 1994 &&
		    n->kids[1].date.month == 2 && n->kids[1].date.day == 1);
		/* NOT UNSEEN is NOT (NOT (FLAG \Seen)) */
		test_assert(k[1].key == IMAP_SK_NOT && k[1].nkids == 1 &&
		    k[1].kids[0].key == IMAP_SK_NOT &&
		    k[1].kids[0].kids[0].key == IMAP_SK_FLAG &&
		    k[1].kids[0].kids[0].flag == IMAP_FLAG_SEEN);
		test_assert(k[2].key == IMAP_SK_SEQSET && k[2].set.n == 2 &&
		    imap_seqset_contains(&k[2].set, 7));
		test_assert(k[3].key == IMAP_SK_UID && k[3].set.star);
		test_assert(k[4].key == IMAP_SK_LARGER && k[4].num == 100);
		test_assert(k[5].key == IMAP_SK_HEADER &&
		    strcmp(k[5].field, "X-Foo") == 0 &&
		    strcmp(k[5].str, "") == 0);
		test_assert(k[6].key == IMAP_SK_KEYWORD &&
		    strcmp(k[6].str, "$Junk") == 0);
		test_assert(k[7].key == IMAP_SK_MODSEQ &&
		    k[7].num == 620162338 &&
		    strcmp(k[7].entry, "/flags/\\draft") == 0 &&
		    k[7].entry_type == IMAP_ENTRY_ALL);
		/* NEW is RECENT AND NOT SEEN, OLD is NOT RECENT */
		test_assert(k[8].key == IMAP_SK_AND && k[8].nkids == 2 &&
		    k[8].kids[0].flag == IMAP_FLAG_RECENT &&
		    k[8].kids[1].key == IMAP_SK_NOT &&
		    k[8].kids[1].kids[0].flag == IMAP_FLAG_SEEN);
		test_assert(k[9].key == IMAP_SK_NOT &&
		    k[9].kids[0].flag == IMAP_FLAG_RECENT);
		test_assert(k[10].key == IMAP_SK_FLAG &&
		    k[10].flag == IMAP_FLAG_ANSWERED);
		test_assert(k[11].key == IMAP_SK_SENTON &&
		    k[11].date.day == 29);
		test_assert(k[12].key == IMAP_SK_NOT &&
		    k[12].kids[0].key == IMAP_SK_KEYWORD &&
		    strcmp(k[12].kids[0].str, "k") == 0);
	}
	imap_search_free(&p);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SEARCH MODSEQ \"/flags/$Junk\" priv 0 "
	    "MODSEQ \"/flags/\\\\Seen\" SHARED 7 MODSEQ 9\r\n"), &w));
	test_assert(imap_search_parse(&w.cmd, &p, &err) == 0 &&
	    p.root.nkids == 3 &&
	    p.root.kids[0].entry_type == IMAP_ENTRY_PRIV &&
	    p.root.kids[0].num == 0 &&
	    p.root.kids[1].entry_type == IMAP_ENTRY_SHARED &&
	    strcmp(p.root.kids[1].entry, "/flags/\\Seen") == 0 &&
	    p.root.kids[2].entry == NULL && p.root.kids[2].num == 9);
	imap_search_free(&p);
	imap_cmd_free(&w.cmd);
	/* RETURN options (RFC 4731), "RETURN ()" is ALL. */
	test_assert(parse1(W("a SEARCH RETURN (MIN COUNT SAVE) 1:*\r\n"), &w));
	test_assert(imap_search_parse(&w.cmd, &p, &err) == 0 && p.esearch &&
	    p.ret == (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_COUNT |
	    IMAP_SEARCH_RET_SAVE));
	imap_search_free(&p);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SEARCH RETURN () CHARSET US-ASCII $\r\n"), &w));
	test_assert(imap_search_parse(&w.cmd, &p, &err) == 0 && p.esearch &&
	    p.ret == IMAP_SEARCH_RET_ALL && p.ascii &&
	    p.root.kids[0].set.dollar);
	imap_search_free(&p);
	imap_cmd_free(&w.cmd);
	/* Depth: a NOT chain stops at IMAP_MAX_DEPTH. */
	buf = malloc(4 * 200 + 32);
	for (i = 60; i <= 70; i += 10) {
		size_t	 j;

		len = (size_t)sprintf(buf, "a SEARCH ");
		for (j = 0; j < i; j++)
			len += (size_t)sprintf(buf + len, "NOT ");
		len += (size_t)sprintf(buf + len, "ALL\r\n");
		test_assert(parse1(buf, len, &w));
		ok = imap_search_parse(&w.cmd, &p, &err);
		test_assert(i == 60 ? ok == 0 && depth_of(&p.root) <=
		    IMAP_MAX_DEPTH + 2 : ok == -1);
		imap_search_free(&p);
		imap_cmd_free(&w.cmd);
	}
	free(buf);
	test_end();
}

static void
test_sort_thread(void)
{
	struct wire		 w;
	struct imap_sort	 so;
	struct imap_thread	 th;
	const char		*err;

	test_begin("imap_parser: SORT and THREAD");
	test_assert(parse1(W("a UID SORT (REVERSE DATE subject "
	    "DISPLAYFROM) UTF-8 ALL UNDELETED\r\n"), &w));
	test_assert(imap_sort_parse(&w.cmd, &so, &err) == 0);
	test_assert(so.nkeys == 3 && so.keys[0].key == IMAP_SORT_DATE &&
	    so.keys[0].reverse && so.keys[1].key == IMAP_SORT_SUBJECT &&
	    !so.keys[1].reverse && so.keys[2].key == IMAP_SORT_DISPLAYFROM &&
	    so.prog.root.nkids == 2);
	imap_sort_free(&so);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SORT (DATE) KOI8-R ALL\r\n"), &w));
	test_assert(imap_sort_parse(&w.cmd, &so, &err) == IMAP_BADCHARSET);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SORT () UTF-8 ALL\r\n"), &w));
	test_assert(imap_sort_parse(&w.cmd, &so, &err) == -1 && err_ok(err));
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SORT (DATE REVERSE) UTF-8 ALL\r\n"), &w));
	test_assert(imap_sort_parse(&w.cmd, &so, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SORT (REVERSE REVERSE DATE) UTF-8 ALL\r\n"),
	    &w));
	test_assert(imap_sort_parse(&w.cmd, &so, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SORT (DATE) UTF-8\r\n"), &w));
	test_assert(imap_sort_parse(&w.cmd, &so, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SORT (FOO) UTF-8 ALL\r\n"), &w));
	test_assert(imap_sort_parse(&w.cmd, &so, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a THREAD references US-ASCII SUBJECT x\r\n"),
	    &w));
	test_assert(imap_thread_parse(&w.cmd, &th, &err) == 0 &&
	    th.alg == IMAP_THREAD_REFERENCES && th.prog.ascii &&
	    th.prog.root.kids[0].key == IMAP_SK_SUBJECT);
	imap_thread_free(&th);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a THREAD ORDEREDSUBJECT UTF-8 ALL\r\n"), &w));
	test_assert(imap_thread_parse(&w.cmd, &th, &err) == 0 &&
	    th.alg == IMAP_THREAD_ORDEREDSUBJECT);
	imap_thread_free(&th);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a THREAD REFS UTF-8 ALL\r\n"), &w));
	test_assert(imap_thread_parse(&w.cmd, &th, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a THREAD REFERENCES X ALL\r\n"), &w));
	test_assert(imap_thread_parse(&w.cmd, &th, &err) == IMAP_BADCHARSET);
	imap_cmd_free(&w.cmd);
	test_end();
}

static void
test_list_status(void)
{
	static const char *const bad[] = {
		"a LIST (RECURSIVEMATCH) \"\" *\r\n",
		"a LIST (FOO) \"\" *\r\n",
		"a LIST \"\" * RETURN (FOO)\r\n",
		"a LIST \"\" * RETURN (STATUS)\r\n",
		"a LIST \"\" * RETURN (STATUS ())\r\n",
		"a LIST \"\" * RETURN (STATUS (FOO))\r\n",
		"a LIST \"\" * RETURN\r\n",
		"a LIST \"\" * X (Y)\r\n",
		"a LIST \"\" ()\r\n",
		"a LIST \"\"\r\n",
		"a LIST * *\r\n",
		"a LIST \"\" &AGE-\r\n",
		"a LIST \"\" a\\b\r\n",
		"a LSUB \"\" (x)\r\n",
		"a LSUB \"\" * RETURN (CHILDREN)\r\n",
	};
	struct wire		 w;
	struct imap_list	 l;
	struct imap_status	 st;
	const char		*err;
	size_t			 i;
	int			 ok;

	test_begin("imap_parser: LIST, LSUB, STATUS");
	for (i = 0; i < nitems(bad); i++) {
		ok = 1;
		if (parse1(bad[i], strlen(bad[i]), &w)) {
			ok = imap_list_parse(&w.cmd, 0, &l, &err) == -1 &&
			    err_ok(err) && l.npatterns == 0;
			imap_cmd_free(&w.cmd);
		}
		if (!ok)
			printf("# list bad case %zu\n", i);
		test_assert(ok);
	}
	test_assert(parse1(W("a LIST \"\" %\r\n"), &w));
	test_assert(imap_list_parse(&w.cmd, 0, &l, &err) == 0 &&
	    !l.extended && l.ref[0] == '\0' && l.npatterns == 1 &&
	    strcmp(l.patterns[0], "%") == 0);
	imap_list_free(&l);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a LIST (SUBSCRIBED RECURSIVEMATCH) ~/Mail/ "
	    "(INBOX \"Entw&APw-*\" Sent]%) RETURN (CHILDREN STATUS "
	    "(MESSAGES UNSEEN) SPECIAL-USE)\r\n"), &w));
	test_assert(imap_list_parse(&w.cmd, 0, &l, &err) == 0);
	test_assert(l.extended && l.select == (IMAP_LIST_SEL_SUBSCRIBED |
	    IMAP_LIST_SEL_RECURSIVEMATCH) && l.ret == (IMAP_LIST_RET_CHILDREN |
	    IMAP_LIST_RET_STATUS | IMAP_LIST_RET_SPECIAL_USE) &&
	    l.status == (IMAP_STATUS_MESSAGES | IMAP_STATUS_UNSEEN) &&
	    strcmp(l.ref, "~/Mail/") == 0 && l.npatterns == 3 &&
	    strcmp(l.patterns[1], "Entw\xc3\xbc*") == 0 &&
	    strcmp(l.patterns[2], "Sent]%") == 0);
	imap_list_free(&l);
	imap_cmd_free(&w.cmd);
	/* A UTF-8 client's pattern stays UTF-8, '&' and all. */
	test_assert(parse1(W("a LIST \"\" \"R&D/\xc3\xa4*\"\r\n"), &w));
	test_assert(imap_list_parse(&w.cmd, 1, &l, &err) == 0 &&
	    strcmp(l.patterns[0], "R&D/\xc3\xa4*") == 0);
	imap_list_free(&l);
	test_assert(imap_list_parse(&w.cmd, 0, &l, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a LIST () \"\" \"\"\r\n"), &w));
	test_assert(imap_list_parse(&w.cmd, 1, &l, &err) == 0 && l.extended &&
	    l.select == 0 && l.patterns[0][0] == '\0');
	imap_list_free(&l);
	imap_cmd_free(&w.cmd);
	/* A pattern is bounded like a name. */
	{
		char	*big = malloc(IMAP_MAILBOX_MAX + 32);
		size_t	 n;

		n = (size_t)sprintf(big, "a LIST \"\" ");
		memset(big + n, 'p', IMAP_MAILBOX_MAX + 1);
		n += IMAP_MAILBOX_MAX + 1;
		memcpy(big + n, "\r\n", 2);
		test_assert(parse1(big, n + 2, &w));
		test_assert(imap_list_parse(&w.cmd, 1, &l, &err) == -1);
		test_assert(imap_list_parse(&w.cmd, 0, &l, &err) == -1);
		imap_cmd_free(&w.cmd);
		memcpy(big + n - 1, "\r\n", 2);
		test_assert(parse1(big, n + 1, &w));
		test_assert(imap_list_parse(&w.cmd, 1, &l, &err) == 0);
		imap_list_free(&l);
		imap_cmd_free(&w.cmd);
		free(big);
	}
	test_assert(parse1(W("a LSUB \"\" *\r\n"), &w));
	test_assert(imap_list_parse(&w.cmd, 1, &l, &err) == 0 &&
	    l.npatterns == 1);
	imap_list_free(&l);
	imap_cmd_free(&w.cmd);

	test_assert(parse1(W("a STATUS Drafts (MESSAGES UIDNEXT UIDVALIDITY "
	    "UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT)\r\n"), &w));
	test_assert(imap_status_parse(&w.cmd, 1, &st, &err) == 0 &&
	    strcmp(st.mailbox, "Drafts") == 0 && st.items == 0x1ff);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a STATUS Drafts ()\r\n"), &w));
	test_assert(imap_status_parse(&w.cmd, 1, &st, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a STATUS Drafts (FOO)\r\n"), &w));
	test_assert(imap_status_parse(&w.cmd, 1, &st, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a STATUS Drafts MESSAGES\r\n"), &w));
	test_assert(imap_status_parse(&w.cmd, 1, &st, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_end();
}

static void
test_select(void)
{
	static const char *const bad[] = {
		"a SELECT x ()\r\n",
		"a SELECT x (FOO)\r\n",
		"a SELECT x (CONDSTORE CONDSTORE)\r\n",
		"a SELECT x (QRESYNC)\r\n",
		"a SELECT x (QRESYNC (1))\r\n",
		"a SELECT x (QRESYNC (0 1))\r\n",
		"a SELECT x (QRESYNC (1 0))\r\n",
		"a SELECT x (QRESYNC (4294967296 1))\r\n",
		"a SELECT x (QRESYNC (1 1 1:*))\r\n",
		"a SELECT x (QRESYNC (1 1 $))\r\n",
		"a SELECT x (QRESYNC (1 1 1:5 (1:2)))\r\n",
		"a SELECT x (QRESYNC (1 1 1:5 (1:2 *)))\r\n",
		"a SELECT x (QRESYNC (1 1 1:5 (1 2) 7))\r\n",
		"a SELECT x (QRESYNC (1 1) QRESYNC (1 1))\r\n",
		"a SELECT x y\r\n",
		"a SELECT x (CONDSTORE) z\r\n",
		"a SELECT x (QRESYNC (1 1 (1 2) 3))\r\n",
		"a SELECT x (QRESYNC (1 1 2 3))\r\n",
		"a SELECT x (QRESYNC 1 1)\r\n",
	};
	static const uint32_t k1[] = { 41, 41, 43, 211, 214, 541 };
	struct wire		 w;
	struct imap_select	 sel;
	const char		*err;
	size_t			 i;
	int			 ok;

	test_begin("imap_parser: SELECT, EXAMINE, CONDSTORE, QRESYNC");
	for (i = 0; i < nitems(bad); i++) {
		ok = 1;
		if (parse1(bad[i], strlen(bad[i]), &w)) {
			ok = imap_select_parse(&w.cmd, 0, &sel, &err) == -1 &&
			    err_ok(err) && sel.known_uids.r == NULL;
			imap_cmd_free(&w.cmd);
		}
		if (!ok)
			printf("# select bad case %zu\n", i);
		test_assert(ok);
	}
	test_assert(parse1(W("a EXAMINE INBOX (CONDSTORE)\r\n"), &w));
	test_assert(imap_select_parse(&w.cmd, 0, &sel, &err) == 0 &&
	    sel.condstore && !sel.qresync);
	imap_select_free(&sel);
	imap_cmd_free(&w.cmd);
	/* RFC 7162 3.2.5.2 examples */
	test_assert(parse1(W("A02 SELECT INBOX (QRESYNC (67890007 "
	    "20050715194045000 41,43:211,214:541))\r\n"), &w));
	test_assert(imap_select_parse(&w.cmd, 0, &sel, &err) == 0);
	test_assert(sel.qresync && sel.uidvalidity == 67890007 &&
	    sel.modseq == 20050715194045000ULL && sel.known_uids_set &&
	    seq_is(&sel.known_uids, k1, 3) && !sel.seq_match_set);
	imap_select_free(&sel);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("B04 SELECT INBOX (QRESYNC (67890007 "
	    "90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,"
	    "22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,"
	    "29994,29997)) CONDSTORE)\r\n"), &w));
	test_assert(imap_select_parse(&w.cmd, 0, &sel, &err) == 0);
	test_assert(sel.qresync && sel.condstore && sel.seq_match_set &&
	    sel.known_seqs.n == 4 && sel.known_seq_uids.n == 13 &&
	    imap_seqset_contains(&sel.known_seq_uids, 29997));
	imap_select_free(&sel);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SELECT x (QRESYNC (1 1 (1 2)))\r\n"), &w));
	test_assert(imap_select_parse(&w.cmd, 0, &sel, &err) == 0 &&
	    !sel.known_uids_set && sel.seq_match_set);
	imap_select_free(&sel);
	imap_cmd_free(&w.cmd);
	test_end();
}

static void
test_append(void)
{
	static const char *const bad[] = {
		"a APPEND INBOX \"x\"\r\n",
		"a APPEND INBOX x\r\n",
		"a APPEND INBOX (\\Seen)\r\n",
		"a APPEND INBOX (\\Recent) {1}\r\nx\r\n",
		"a APPEND INBOX \"5-Jan-2024 10:00:00 +0100\" {1}\r\nx\r\n",
		"a APPEND INBOX \"05-Jan-2024 24:00:00 +0100\" {1}\r\nx\r\n",
		"a APPEND INBOX \"30-Feb-2024 10:00:00 +0100\" {1}\r\nx\r\n",
		"a APPEND INBOX \"05-Jan-2024 10:00:00 0100\" {1}\r\nx\r\n",
		"a APPEND INBOX \"05-Jan-2024 10:00:00 +01000\" {1}\r\nx\r\n",
		"a APPEND INBOX \"05-Jan-2024 10:00 +0100\" {1}\r\nx\r\n",
		"a APPEND INBOX {1}\r\nx \"05-Jan-2024 10:00:00 +0100\"\r\n",
		"a APPEND INBOX UTF8 ({1}\r\nx)\r\n",
		"a APPEND INBOX UTF8 (~{1}\r\nx ~{1}\r\ny)\r\n",
		"a APPEND INBOX {1}\r\nx (\\Seen)\r\n",
		"a APPEND {1}\r\nx\r\n",
		"a APPEND ~{5}\r\nINBOX {1}\r\nx\r\n",
	};
	struct wire		 w;
	struct imap_append	 ap;
	struct tm		 tm;
	const char		*err;
	time_t			 t;
	size_t			 i;
	int			 ok, off;

	test_begin("imap_parser: APPEND, MULTIAPPEND, date-time");
	for (i = 0; i < nitems(bad); i++) {
		ok = 1;
		if (parse1(bad[i], strlen(bad[i]), &w)) {
			ok = imap_append_parse(&w.cmd, 0, &ap, &err) == -1 &&
			    err_ok(err) && ap.msgs == NULL;
			imap_cmd_free(&w.cmd);
		}
		if (!ok)
			printf("# append bad case %zu\n", i);
		test_assert(ok);
	}
	test_assert(parse1(W("a APPEND Sent (\\Seen $MDNSent) \" 5-Jan-2024 "
	    "10:07:09 +0130\" {5}\r\nhello (\\Flagged) ~{3}\r\na\0b "
	    "\"29-Feb-2000 23:59:60 -1200\" {0}\r\n UTF8 (~{2}\r\nxy)\r\n"),
	    &w));
	test_assert(imap_append_parse(&w.cmd, 0, &ap, &err) == 0);
	test_assert(strcmp(ap.mailbox, "Sent") == 0 && ap.nmsgs == 4);
	if (ap.nmsgs == 4) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = 2024 - 1900;
		tm.tm_mon = 0;
		tm.tm_mday = 5;
		tm.tm_hour = 10;
		tm.tm_min = 7;
		tm.tm_sec = 9;
		t = timegm(&tm) - 90 * 60;
		test_assert(ap.msgs[0].has_date && ap.msgs[0].date == t &&
		    ap.msgs[0].tzoff == 90);
		test_assert(ap.msgs[0].flags.sys == IMAP_FLAG_SEEN &&
		    ap.msgs[0].flags.nkw == 1 &&
		    strcmp(ap.msgs[0].data->s, "hello") == 0);
		test_assert(ap.msgs[1].flags.sys == IMAP_FLAG_FLAGGED &&
		    !ap.msgs[1].has_date &&
		    ap.msgs[1].data->type == IMAP_ARG_LITERAL8 &&
		    ap.msgs[1].data->len == 3);
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = 2000 - 1900;
		tm.tm_mon = 1;
		tm.tm_mday = 29;
		tm.tm_hour = 23;
		tm.tm_min = 59;
		tm.tm_sec = 60;
		t = timegm(&tm) + 12 * 3600;
		test_assert(ap.msgs[2].has_date && ap.msgs[2].date == t &&
		    ap.msgs[2].tzoff == -720 && ap.msgs[2].data->len == 0);
		test_assert(ap.msgs[3].utf8 && ap.msgs[3].data->len == 2 &&
		    ap.msgs[3].flags.sys == 0);
	}
	imap_append_free(&ap);
	imap_cmd_free(&w.cmd);
	/* Dates before 1970 and far ahead. */
	test_assert(imap_datetime_parse("01-Jan-1970 00:00:00 +0000", &t,
	    &off) == 0 && t == 0 && off == 0);
	test_assert(imap_datetime_parse("31-Dec-1969 23:59:59 +0000", &t,
	    &off) == 0 && t == -1);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 9999 - 1900;
	tm.tm_mon = 11;
	tm.tm_mday = 31;
	test_assert(imap_datetime_parse("31-Dec-9999 00:00:00 -0000", &t,
	    &off) == 0 && t == timegm(&tm));
	test_assert(imap_datetime_parse("1-Jan-1970 00:00:00 +0000", &t,
	    &off) == -1);
	test_assert(imap_datetime_parse("01-Jan-1970 00:00:00 +0000 ", &t,
	    &off) == -1);
	test_assert(imap_datetime_parse("01-Jan-1970 00:00:00 +2400", &t,
	    &off) == -1);
	test_assert(imap_datetime_parse("01-Jan-1970 00:60:00 +0000", &t,
	    &off) == -1);
	test_end();
}

static void
test_misc(void)
{
	struct wire		 w;
	struct imap_mailboxes	 mb;
	struct imap_copy	 cp;
	struct imap_seqset	 set;
	struct imap_enable	 en;
	struct imap_id		 id;
	struct imap_quota	 q;
	const char		*err, *user, *pass, *mech, *ir;
	char			*buf;
	size_t			 i, n;

	test_begin("imap_parser: mailbox commands, COPY, MOVE, EXPUNGE");
	test_assert(parse1(W("a CREATE \"Archive/2024\" (USE (\\Archive "
	    "\\junk))\r\n"), &w));
	test_assert(imap_mailboxes_parse(&w.cmd, 1, &mb, &err) == 0 &&
	    mb.n == 1 && strcmp(mb.name[0], "Archive/2024") == 0 &&
	    mb.use == (IMAP_USE_ARCHIVE | IMAP_USE_JUNK));
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a CREATE x (USE (\\Inbox))\r\n"), &w));
	test_assert(imap_mailboxes_parse(&w.cmd, 1, &mb, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a RENAME old \"n\xc3\xa9w\"\r\n"), &w));
	test_assert(imap_mailboxes_parse(&w.cmd, 1, &mb, &err) == 0 &&
	    mb.n == 2 && strcmp(mb.name[1], "n&AOk-w") == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a RENAME old\r\n"), &w));
	test_assert(imap_mailboxes_parse(&w.cmd, 1, &mb, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a DELETE x (USE ())\r\n"), &w));
	test_assert(imap_mailboxes_parse(&w.cmd, 1, &mb, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SUBSCRIBE x\r\n"), &w));
	test_assert(imap_mailboxes_parse(&w.cmd, 1, &mb, &err) == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a GETQUOTAROOT INBOX\r\n"), &w));
	test_assert(imap_mailboxes_parse(&w.cmd, 1, &mb, &err) == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a NOOP\r\n"), &w));
	test_assert(imap_mailboxes_parse(&w.cmd, 1, &mb, &err) == -1);
	imap_cmd_free(&w.cmd);

	test_assert(parse1(W("a UID MOVE 1:3,9 Trash\r\n"), &w));
	test_assert(imap_copy_parse(&w.cmd, 0, &cp, &err) == 0 &&
	    cp.set.n == 2 && strcmp(cp.mailbox, "Trash") == 0);
	imap_copy_free(&cp);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a COPY 1 \"\"\r\n"), &w));
	test_assert(imap_copy_parse(&w.cmd, 0, &cp, &err) == -1 &&
	    cp.set.r == NULL);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a UID EXPUNGE 3:5\r\n"), &w));
	test_assert(imap_expunge_parse(&w.cmd, &set, &err) == 0 &&
	    set.n == 1 && set.r[0].lo == 3);
	imap_seqset_free(&set);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a EXPUNGE\r\n"), &w));
	test_assert(imap_expunge_parse(&w.cmd, &set, &err) == 0 &&
	    set.n == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a UID EXPUNGE\r\n"), &w));
	test_assert(imap_expunge_parse(&w.cmd, &set, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_end();

	test_begin("imap_parser: LOGIN, AUTHENTICATE, ENABLE, ID, QUOTA");
	test_assert(parse1(W("a LOGIN alice \"p a\\\"ss\"\r\n"), &w));
	test_assert(imap_login_parse(&w.cmd, &user, &pass, &err) == 0 &&
	    strcmp(user, "alice") == 0 && strcmp(pass, "p a\"ss") == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a LOGIN alice\r\n"), &w));
	test_assert(imap_login_parse(&w.cmd, &user, &pass, &err) == -1 &&
	    user == NULL);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a LOGIN (x) y\r\n"), &w));
	test_assert(imap_login_parse(&w.cmd, &user, &pass, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
	    &w));
	test_assert(imap_authenticate_parse(&w.cmd, &mech, &ir, &err) == 0 &&
	    strcmp(mech, "PLAIN") == 0 &&
	    strcmp(ir, "AGFsaWNlAHNlY3JldA==") == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a AUTHENTICATE SCRAM-SHA-256 =\r\n"), &w));
	test_assert(imap_authenticate_parse(&w.cmd, &mech, &ir, &err) == 0 &&
	    strcmp(ir, "=") == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a AUTHENTICATE PLAIN\r\n"), &w));
	test_assert(imap_authenticate_parse(&w.cmd, &mech, &ir, &err) == 0 &&
	    ir == NULL);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a AUTHENTICATE PL.AIN\r\n"), &w));
	test_assert(imap_authenticate_parse(&w.cmd, &mech, &ir, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a AUTHENTICATE PLAIN a,b\r\n"), &w));
	test_assert(imap_authenticate_parse(&w.cmd, &mech, &ir, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a AUTHENTICATE PLAIN \"x\"\r\n"), &w));
	test_assert(imap_authenticate_parse(&w.cmd, &mech, &ir, &err) == -1);
	imap_cmd_free(&w.cmd);

	test_assert(parse1(W("a ENABLE CONDSTORE QRESYNC UTF8=ACCEPT\r\n"),
	    &w));
	test_assert(imap_enable_parse(&w.cmd, &en, &err) == 0 &&
	    en.ncaps == 3 && strcmp(en.caps[2], "UTF8=ACCEPT") == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a ENABLE \"x\"\r\n"), &w));
	test_assert(imap_enable_parse(&w.cmd, &en, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a ENABLE\r\n"), &w));
	test_assert(imap_enable_parse(&w.cmd, &en, &err) == -1);
	imap_cmd_free(&w.cmd);

	test_assert(parse1(W("a ID NIL\r\n"), &w));
	test_assert(imap_id_parse(&w.cmd, &id, &err) == 0 && id.n == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a ID (\"name\" \"Thunderbird\" \"version\" "
	    "NIL)\r\n"), &w));
	test_assert(imap_id_parse(&w.cmd, &id, &err) == 0 && id.n == 2 &&
	    strcmp(id.value[0], "Thunderbird") == 0 && id.value[1] == NULL);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a ID (\"name\" \"x\" \"NAME\" \"y\")\r\n"), &w));
	test_assert(imap_id_parse(&w.cmd, &id, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a ID (\"name\")\r\n"), &w));
	test_assert(imap_id_parse(&w.cmd, &id, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a ID (\"name\" \"a\x01\")\r\n"), &w));
	test_assert(imap_id_parse(&w.cmd, &id, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a ID (\"0123456789012345678901234567890\" "
	    "\"x\")\r\n"), &w));
	test_assert(imap_id_parse(&w.cmd, &id, &err) == -1);
	imap_cmd_free(&w.cmd);
	buf = malloc(16 * 64 + 32);
	n = (size_t)sprintf(buf, "a ID (");
	for (i = 0; i <= IMAP_ID_MAX_PAIRS; i++)
		n += (size_t)sprintf(buf + n, "%s\"f%zu\" NIL", i ? " " : "", i);
	n += (size_t)sprintf(buf + n, ")\r\n");
	test_assert(parse1(buf, n, &w));
	test_assert(imap_id_parse(&w.cmd, &id, &err) == -1);
	imap_cmd_free(&w.cmd);
	free(buf);

	test_assert(parse1(W("a GETQUOTA \"\"\r\n"), &w));
	test_assert(imap_quota_parse(&w.cmd, &q, &err) == 0 &&
	    strcmp(q.root, "") == 0 && q.nres == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)\r\n"),
	    &w));
	test_assert(imap_quota_parse(&w.cmd, &q, &err) == 0 && q.nres == 2 &&
	    strcmp(q.res[1].name, "MESSAGE") == 0 && q.res[1].limit == 1000);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a SETQUOTA \"\" (STORAGE)\r\n"), &w));
	test_assert(imap_quota_parse(&w.cmd, &q, &err) == -1);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a COMPRESS deflate\r\n"), &w));
	test_assert(imap_compress_parse(&w.cmd, &err) == 0);
	imap_cmd_free(&w.cmd);
	test_assert(parse1(W("a COMPRESS LZ4\r\n"), &w));
	test_assert(imap_compress_parse(&w.cmd, &err) == -1 && err_ok(err));
	imap_cmd_free(&w.cmd);
	test_end();
}

static void
test_pipeline(void)
{
	struct imap_reader	*r;
	struct wire		 w;
	struct imap_cmd		 first;

	test_begin("imap_parser: commands outlive the reader's next lines");
	r = imap_reader_new(1 << 20);
	test_assert(run(r, W("a LOGIN {5}\r\nalice bob\r\n"), 2, &w) ==
	    IMAP_FEED_COMPLETE && w.parsed);
	first = w.cmd;
	test_assert(run(r, W("b SELECT {5}\r\nINBOX\r\n"), 1, &w) ==
	    IMAP_FEED_COMPLETE && w.parsed);
	test_assert(strcmp(first.tag, "a") == 0 &&
	    strcmp(first.args[0].s, "alice") == 0 &&
	    strcmp(first.args[1].s, "bob") == 0);
	test_assert(strcmp(w.cmd.args[0].s, "INBOX") == 0);
	imap_cmd_free(&first);
	imap_cmd_free(&w.cmd);
	imap_cmd_free(&w.cmd);		/* twice is harmless */
	/* A command never parsed is dropped by the next line. */
	test_assert(run(r, W("c NOOP\r\n"), 1, &w) == IMAP_FEED_COMPLETE);
	imap_cmd_free(&w.cmd);
	test_assert(run(r, W("d LOGOUT\r\n"), 1, &w) == IMAP_FEED_COMPLETE &&
	    w.parsed && w.cmd.cmd == IMAP_CMD_LOGOUT);
	imap_cmd_free(&w.cmd);
	/* Reset in the middle of a literal. */
	test_assert(run(r, W("e LOGIN {5}\r\nab"), 1, &w) ==
	    IMAP_FEED_LITERAL && !w.ok);
	imap_reader_reset(r);
	test_assert(imap_reader_tag(r) == NULL);
	test_assert(run(r, W("f NOOP\r\n"), 1, &w) == IMAP_FEED_COMPLETE &&
	    w.parsed);
	imap_cmd_free(&w.cmd);
	imap_reader_free(r);
	imap_reader_free(NULL);
	test_end();
}

int
main(void)
{
	test_literal_limits();
	test_line_limits();
	test_nesting();
	test_quoted();
	test_literals();
	test_external();
	test_counts();
	test_mutf7();
	test_mailbox();
	test_seqset();
	test_commands();
	test_fetch();
	test_store();
	test_search();
	test_sort_thread();
	test_list_status();
	test_select();
	test_append();
	test_misc();
	test_pipeline();
	return test_exit();
}
