/*
 * libFuzzer target for FETCH rendering (imapd/fetch.c) over the MIME
 * parser, from a hostile message and a hostile item list.
 *
 * Input: one control byte, the FETCH items up to the first LF, then the
 * message. The control byte picks UID FETCH, UTF-8 mode, the implicit
 * FLAGS and MODSEQ and the step size.
 *
 * Oracles (abort() on violation):
 *   - the response rendered in one go and in small steps is the same,
 *     and as long as fetch_render_size() said;
 *   - it is one well-formed FETCH response: "* 1 FETCH (", items of
 *     atoms, numbers, quoted strings, literals (whose sizes hold) and
 *     lists, then ")\r\n", no CR or LF outside a literal, NUL only in
 *     a literal8;
 *   - a partial BODY[] of the message equals a plain byte-by-byte
 *     LF -> CRLF conversion of it, cut at the same place;
 *   - ENVELOPE, BODY and BODYSTRUCTURE made fresh are accepted back
 *     from the cache and render the same without the message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "imap_parser.h"

#define MAX_MSG		(256 * 1024)
#define MAX_OUT		(64 * 1024 * 1024)
#define MAX_DEPTH	200

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct mbox_msg	 the_msg = {
	.uid = 3,
	.flags = MBOX_SEEN,
	.modseq = 9,
	.wire_size = 100,
	.internaldate = 1600000000,
};

struct plan {
	struct imap_cmd		 cmd;
	struct imap_fetch	 f;
	struct fetch_plan	 p;
};

static int
plan_make(struct plan *pl, const char *line)
{
	struct imap_reader	*rd;
	const char		*err;
	size_t			 need;
	int			 sync, ok = 0;

	memset(pl, 0, sizeof(*pl));
	rd = imap_reader_new(1024 * 1024);
	if (imap_reader_line(rd, line, strlen(line), &need, &sync, &err) ==
	    IMAP_FEED_COMPLETE && imap_parse(rd, &pl->cmd, &err) == 0 &&
	    imap_fetch_parse(&pl->cmd, &pl->f, &err) == 0) {
		if (fetch_plan_init(&pl->p, &pl->cmd, &pl->f, &err) == 0)
			ok = 1;
		else
			imap_fetch_free(&pl->f);
	}
	imap_reader_free(rd);
	if (!ok)
		imap_cmd_free(&pl->cmd);
	return ok ? 0 : -1;
}

static void
plan_free(struct plan *pl)
{
	fetch_plan_free(&pl->p);
	imap_fetch_free(&pl->f);
	imap_cmd_free(&pl->cmd);
}

/* The whole response with steps of at most step bytes; NULL if begin
 * failed. */
static char *
render(const struct fetch_plan *p, const struct fetch_msg *msg, size_t step,
    size_t *len, struct fetch_render *keep)
{
	struct fetch_render	 r;
	struct buf		 b;
	const char		*err;
	uint64_t		 size;
	size_t			 before;
	int			 more;

	if (fetch_render_begin(&r, p, msg, &err) == -1) {
		if (r.code == NULL || err == NULL)
			abort();
		fetch_render_free(&r);
		return NULL;
	}
	size = fetch_render_size(&r);
	buf_init(&b, MAX_OUT);
	do {
		before = b.len;
		more = fetch_render_step(&r, &b, step);
		if (more == -1 || b.len - before > step ||
		    (more == 1 && b.len == before))
			abort();
	} while (more == 1);
	if (b.len != size)
		abort();
	if (keep != NULL)
		*keep = r;
	else
		fetch_render_free(&r);
	*len = b.len;
	if (b.data == NULL)
		return calloc(1, 1);
	return buf_release(&b, NULL);
}

/* A number at *p, no more than 20 digits. */
static int
number(const char **pp, const char *end, uint64_t *v)
{
	const char	*p = *pp;
	int		 n = 0;

	*v = 0;
	while (p < end && *p >= '0' && *p <= '9') {
		if (++n > 20)
			return -1;
		*v = *v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	*pp = p;
	return n > 0 ? 0 : -1;
}

/* One FETCH response, checked against the RFC 9051 grammar's shapes. */
static void
check_response(const char *out, size_t len)
{
	const char	*p = out, *end = out + len;
	uint64_t	 n;
	int		 depth = 1, lit8;

	if (len < 14 || memcmp(out, "* 1 FETCH (", 11) != 0 ||
	    memcmp(end - 3, ")\r\n", 3) != 0)
		abort();
	p += 11;
	end -= 3;
	while (p < end) {
		switch (*p) {
		case '(':
			if (++depth > MAX_DEPTH)
				abort();
			p++;
			break;
		case ')':
			if (--depth < 1)
				abort();
			p++;
			break;
		case ' ':
			if (p[1] == ' ' || p[1] == ')')
				abort();
			p++;
			break;
		case '"':
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\r' || *p == '\n' || *p == '\0')
					abort();
				if (*p == '\\') {
					if (p + 1 == end || (p[1] != '"' &&
					    p[1] != '\\'))
						abort();
					p++;
				}
			}
			if (p == end)
				abort();
			p++;
			break;
		case '~':
		case '{':
			lit8 = *p == '~';
			if (lit8 && (++p == end || *p != '{'))
				abort();
			p++;
			if (number(&p, end, &n) == -1 || end - p < 3 ||
			    memcmp(p, "}\r\n", 3) != 0)
				abort();
			p += 3;
			if ((uint64_t)(end - p) < n)
				abort();
			if (!lit8 && memchr(p, '\0', (size_t)n) != NULL)
				abort();
			p += n;
			break;
		default:
			/* An atom, with BODY[...]<n> section text. */
			if (*p == '\r' || *p == '\n' || *p == '\0' ||
			    *p == ']')
				abort();
			while (p < end && *p != ' ' && *p != ')' &&
			    *p != '(') {
				if (*p == '\r' || *p == '\n' || *p == '\0' ||
				    *p == '"' || *p == '{')
					abort();
				if (*p == '[') {
					while (p < end && *p != ']') {
						if (*p == '\r' || *p == '\n')
							abort();
						p++;
					}
					if (p == end)
						abort();
				}
				p++;
			}
			break;
		}
	}
	if (depth != 1)
		abort();
}

/* BODY.PEEK[]<off.cnt> against a plain conversion. */
static void
check_partial(const char *msg, size_t len, uint64_t off, uint64_t cnt)
{
	struct plan		 pl;
	struct fetch_msg	 fm;
	char			 line[128], head[128], *wire, *out;
	size_t			 i, w = 0, olen, n, hl;

	(void)snprintf(line, sizeof(line), "a FETCH 1 BODY.PEEK[]<%llu.%llu>",
	    (unsigned long long)off, (unsigned long long)cnt);
	if (plan_make(&pl, line) == -1)
		abort();
	wire = malloc(2 * len + 1);
	for (i = 0; i < len; i++) {
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			wire[w++] = '\r';
		wire[w++] = msg[i] == '\0' ? (char)0x80 : msg[i];
	}
	memset(&fm, 0, sizeof(fm));
	fm.seq = 1;
	fm.m = &the_msg;
	fm.flags = "()";
	fm.data = msg;
	fm.len = len;
	if ((out = render(&pl.p, &fm, 4096, &olen, NULL)) == NULL)
		abort();
	n = off >= w ? 0 : w - off < cnt ? w - off : (size_t)cnt;
	if (n == 0)
		hl = (size_t)snprintf(head, sizeof(head),
		    "* 1 FETCH (BODY[]<%llu> {0}\r\n)\r\n",
		    (unsigned long long)off);
	else
		hl = (size_t)snprintf(head, sizeof(head),
		    "* 1 FETCH (BODY[]<%llu> {%zu}\r\n",
		    (unsigned long long)off, n);
	if (n == 0 ? olen != hl || memcmp(out, head, hl) != 0 :
	    olen != hl + n + 3 || memcmp(out, head, hl) != 0 ||
	    memcmp(out + hl, wire + off, n) != 0 ||
	    memcmp(out + hl + n, ")\r\n", 3) != 0)
		abort();
	free(out);
	free(wire);
	plan_free(&pl);
}

/* Fresh structures go back through the cache unchanged. */
static void
check_cache(const char *msg, size_t len, int utf8)
{
	struct plan		 pl;
	struct fetch_msg	 fm, cached;
	struct fetch_render	 r;
	const void		*d;
	char			*out1, *out2;
	size_t			 l1, l2, dl, c;

	if (plan_make(&pl, "a FETCH 1 (ENVELOPE BODY BODYSTRUCTURE)") == -1)
		abort();
	memset(&fm, 0, sizeof(fm));
	fm.seq = 1;
	fm.m = &the_msg;
	fm.flags = "()";
	fm.utf8 = utf8;
	fm.data = msg;
	fm.len = len;
	if ((out1 = render(&pl.p, &fm, SIZE_MAX, &l1, &r)) == NULL) {
		plan_free(&pl);
		return;
	}
	cached = fm;
	cached.data = NULL;
	cached.len = 0;
	for (c = 0; c < FETCH_C_COUNT; c++) {
		if (fetch_render_cached(&r, (enum fetch_cached)c, &d, &dl) ==
		    -1) {
			/* Too large for the cache: nothing to check. */
			fetch_render_free(&r);
			free(out1);
			plan_free(&pl);
			return;
		}
		cached.cache[c] = d;
		cached.cachelen[c] = dl;
	}
	if (fetch_needs_data(&pl.p, &cached)) {
		(void)fprintf(stderr, "own rendering refused by the cache\n");
		abort();
	}
	if ((out2 = render(&pl.p, &cached, 7, &l2, NULL)) == NULL ||
	    l1 != l2 || memcmp(out1, out2, l1) != 0)
		abort();
	fetch_render_free(&r);
	free(out1);
	free(out2);
	plan_free(&pl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plan		 pl;
	struct fetch_msg	 fm;
	const uint8_t		*lf;
	char			 line[1100], *msg, *o1, *o2;
	size_t			 ilen, mlen, l1, l2, step;
	unsigned		 ctl;

	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	if ((lf = memchr(data, '\n', size)) == NULL)
		return 0;
	ilen = (size_t)(lf - data);
	if (ilen > 1000 || memchr(data, '\0', ilen) != NULL ||
	    memchr(data, '\r', ilen) != NULL)
		return 0;
	mlen = size - ilen - 1;
	if (mlen > MAX_MSG)
		return 0;
	(void)snprintf(line, sizeof(line), "a %sFETCH 1 %.*s",
	    (ctl & 1) ? "UID " : "", (int)ilen, (const char *)data);
	/* Exactly the message's size, so that ASan sees an overread. */
	msg = malloc(mlen > 0 ? mlen : 1);
	memcpy(msg, lf + 1, mlen);

	if (plan_make(&pl, line) == 0) {
		memset(&fm, 0, sizeof(fm));
		fm.seq = 1;
		fm.m = &the_msg;
		fm.flags = "(\\Seen)";
		fm.utf8 = (ctl & 2) != 0;
		fm.add_flags = (ctl & 4) != 0;
		fm.add_modseq = (ctl & 8) != 0;
		fm.tzoff = (int)(ctl & 0x30) * 30 - 600;
		fm.data = msg;
		fm.len = mlen;
		step = ((ctl >> 6) & 3) * 5 + 1;
		o1 = render(&pl.p, &fm, SIZE_MAX, &l1, NULL);
		o2 = render(&pl.p, &fm, step, &l2, NULL);
		if ((o1 == NULL) != (o2 == NULL))
			abort();
		if (o1 != NULL) {
			if (l1 != l2 || memcmp(o1, o2, l1) != 0)
				abort();
			check_response(o1, l1);
		}
		free(o1);
		free(o2);
		plan_free(&pl);
	}
	check_partial(msg, mlen, ilen % 41, (ctl % 23) + 1);
	check_cache(msg, mlen, (ctl & 2) != 0);
	free(msg);
	return 0;
}
