/*
 * libFuzzer target for the IMAP command parser (imapd/imap_parser.c).
 *
 * The first byte holds options: bits 0-1 pick the size of the pieces a
 * literal is fed in (1, 7, 512 bytes or all at once), bit 2 keeps APPEND
 * messages outside the reader (imap_reader_literal_external()), bit 3
 * makes the client a UTF-8 one for mailbox names, bit 4 picks a small
 * APPENDLIMIT, and bit 5 skips the reader to hand the rest straight to
 * the sequence set, modified UTF-7 and date parsers.
 *
 * Otherwise the rest is a client's stream, fed as a session would: lines
 * end in LF (a CR before it is dropped), and when the reader asks for a
 * literal the next bytes are it. Every complete command goes through
 * imap_parse() and the typed parser its name calls for; every argument
 * is also tried as a mailbox, a sequence set and a date.
 *
 * Oracles: every ERROR and TOOBIG, every failed parse, carries a one-line
 * printable message; the reader never holds much more than it was fed
 * (an announced literal is never allocated); arguments are well-formed
 * (NUL-terminated, lengths right, quoted strings valid UTF-8, nesting
 * and counts within the limits); sequence sets come out sorted, merged
 * and bounded, and stay so once '*' is resolved; mailbox names and
 * modified UTF-7 survive the round trip both ways; a parsed date-time
 * prints back to itself; SEARCH programs stay within the depth limit.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap_parser.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define ARG_SIZE	sizeof(struct imap_arg)

static void
fail(const char *what)
{
	(void)fprintf(stderr, "fuzz_imap_parser: %s\n", what);
	abort();
}

static void
check_err(const char *err)
{
	const char	*p;

	if (err == NULL || err[0] == '\0')
		fail("error without a message");
	for (p = err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			fail("error message not printable");
}

static int
utf8_ok(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n, i;
	uint32_t		 cp;

	while (*p != '\0') {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 2;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 4;
		else
			return 0;
		cp = *p & (0x3f >> (n - 1));
		for (i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		p += n;
	}
	return 1;
}

static void
check_seqset(const struct imap_seqset *s)
{
	struct imap_seqset	 c;
	size_t			 i;

	if (s->n > IMAP_MAX_RANGES + 1 || (s->n > 0 && s->r == NULL))
		fail("seqset count");
	if (s->dollar && (s->n != 0 || s->star))
		fail("'$' with more");
	for (i = 0; i < s->n; i++) {
		if (s->r[i].lo == 0 || s->r[i].lo > s->r[i].hi)
			fail("seqset range");
		if (i > 0 && (uint64_t)s->r[i].lo <=
		    (uint64_t)s->r[i - 1].hi + 1)
			fail("seqset not merged");
		if (!imap_seqset_contains(s, s->r[i].lo) ||
		    !imap_seqset_contains(s, s->r[i].hi))
			fail("seqset contains");
		if (s->r[i].lo > 1 && imap_seqset_contains(s, s->r[i].lo - 1))
			fail("seqset contains a gap");
	}
	if (imap_seqset_contains(s, 0))
		fail("seqset contains 0");
	if (imap_seqset_last(s) != (s->n ? s->r[s->n - 1].hi : 0))
		fail("seqset last");
	if (s->star_n && s->star_lo > s->star_hi)
		fail("seqset star bounds");
	/* Resolve a copy: concrete, still normal, max in it. */
	c = *s;
	c.r = NULL;
	if (s->n > 0) {
		if ((c.r = malloc(s->n * sizeof(*c.r))) == NULL)
			abort();
		memcpy(c.r, s->r, s->n * sizeof(*c.r));
	}
	imap_seqset_resolve(&c, 17);
	if (c.star || c.star_n)
		fail("star after resolve");
	if (s->star && !imap_seqset_contains(&c, 17))
		fail("'*' did not become max");
	for (i = 1; i < c.n; i++)
		if ((uint64_t)c.r[i].lo <= (uint64_t)c.r[i - 1].hi + 1)
			fail("resolved seqset not merged");
	imap_seqset_free(&c);
}

static void
check_mailbox(const char *name)
{
	char	 u8[2 * IMAP_MAILBOX_MAX + 2], back[IMAP_MAILBOX_MAX + 1];
	const char *err = NULL;

	if (strlen(name) == 0 || strlen(name) > IMAP_MAILBOX_MAX)
		fail("mailbox length");
	if (imap_mutf7_to_utf8(name, u8, sizeof(u8), &err) == -1)
		fail("stored mailbox name does not decode");
	if (!utf8_ok(u8))
		fail("decoded name not UTF-8");
	if (imap_utf8_to_mutf7(u8, back, sizeof(back), &err) == -1 ||
	    strcmp(back, name) != 0)
		fail("mailbox name round trip");
}

static void
mailbox_arg(const struct imap_arg *a, int utf8)
{
	char		 buf[IMAP_MAILBOX_MAX + 1];
	const char	*err = NULL;

	if (imap_mailbox(a, utf8, buf, &err) == 0)
		check_mailbox(buf);
	else {
		check_err(err);
		if (buf[0] != '\0')
			fail("mailbox buffer after failure");
	}
}

static void
check_args(const struct imap_arg *args, size_t n, int depth, size_t *count)
{
	const struct imap_arg	*a;
	size_t			 i, j;

	if (depth > IMAP_MAX_DEPTH)
		fail("lists nested too deeply");
	for (i = 0; i < n; i++) {
		a = &args[i];
		if (++*count > IMAP_MAX_ARGS)
			fail("too many arguments");
		switch (a->type) {
		case IMAP_ARG_LIST:
			if (a->s != NULL || (a->nlist > 0 && a->list == NULL))
				fail("list");
			check_args(a->list, a->nlist, depth + 1, count);
			continue;
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			if (a->len == 0 || strlen(a->s) != a->len || a->literal)
				fail("atom");
			/* Spaces only in FETCH section text. */
			for (j = 0; j < a->len; j++)
				if ((unsigned char)a->s[j] < 0x20 ||
				    (unsigned char)a->s[j] >= 0x7f ||
				    (j == 0 && a->s[j] == ' '))
					fail("atom byte");
			if ((a->type == IMAP_ARG_NIL) != (a->len == 3 &&
			    strncasecmp(a->s, "NIL", 3) == 0))
				fail("NIL");
			break;
		case IMAP_ARG_STRING:
			if (a->s == NULL || a->s[a->ext ? 0 : a->len] != '\0')
				fail("string");
			if (a->ext == 0 && strlen(a->s) != a->len)
				fail("NUL in a string");
			if (!a->literal && !utf8_ok(a->s))
				fail("quoted string not UTF-8");
			break;
		case IMAP_ARG_LITERAL8:
			if (a->s == NULL || !a->literal ||
			    a->s[a->ext ? 0 : a->len] != '\0')
				fail("literal8");
			break;
		default:
			fail("argument type");
		}
		if (a->list != NULL || a->nlist != 0)
			fail("list of a string");
	}
}

/* Every argument as a mailbox, a sequence set, a date. */
static void
try_args(const struct imap_arg *args, size_t n, int utf8)
{
	struct imap_seqset	 set;
	struct imap_date	 d;
	const char		*err;
	time_t			 t;
	size_t			 i;
	int			 off;

	for (i = 0; i < n && i < 8; i++) {
		mailbox_arg(&args[i], utf8);
		if (args[i].type == IMAP_ARG_LIST) {
			try_args(args[i].list, args[i].nlist, utf8);
			continue;
		}
		if (args[i].type != IMAP_ARG_ATOM &&
		    args[i].type != IMAP_ARG_STRING)
			continue;
		err = NULL;
		if (imap_seqset_parse(args[i].s, &set, &err) == 0) {
			check_seqset(&set);
			imap_seqset_free(&set);
		} else
			check_err(err);
		if (imap_date_parse(args[i].s, &d) == 0 && (d.month < 1 ||
		    d.month > 12 || d.day < 1 || d.day > 31))
			fail("date");
		(void)imap_datetime_parse(args[i].s, &t, &off);
	}
}

static size_t
search_depth(const struct imap_search *s, size_t depth)
{
	size_t	 i, d, max = depth;

	if (depth > IMAP_MAX_DEPTH + 4)
		fail("search program too deep");
	check_seqset(&s->set);
	if (s->str != NULL && !utf8_ok(s->str))
		fail("search string not UTF-8");
	if ((s->key == IMAP_SK_NOT && s->nkids != 1) ||
	    (s->key == IMAP_SK_OR && s->nkids != 2) ||
	    (s->key == IMAP_SK_AND && s->nkids == 0))
		fail("search node arity");
	for (i = 0; i < s->nkids; i++)
		if ((d = search_depth(&s->kids[i], depth + 1)) > max)
			max = d;
	return max;
}

static void
run_search(const struct imap_cmd *cmd)
{
	struct imap_search_prog	 p;
	struct imap_sort	 so;
	struct imap_thread	 th;
	const char		*err = NULL;
	int			 rc;

	switch (cmd->cmd) {
	case IMAP_CMD_SEARCH:
		rc = imap_search_parse(cmd, &p, &err);
		if (rc == 0) {
			(void)search_depth(&p.root, 0);
			if (p.esearch && p.ret == 0)
				fail("RETURN () not ALL");
		}
		imap_search_free(&p);
		break;
	case IMAP_CMD_SORT:
		rc = imap_sort_parse(cmd, &so, &err);
		if (rc == 0 && (so.nkeys == 0 ||
		    so.nkeys > IMAP_MAX_SORT_KEYS))
			fail("sort keys");
		if (rc == 0)
			(void)search_depth(&so.prog.root, 0);
		imap_sort_free(&so);
		break;
	default:
		rc = imap_thread_parse(cmd, &th, &err);
		if (rc == 0)
			(void)search_depth(&th.prog.root, 0);
		imap_thread_free(&th);
		break;
	}
	if (rc != 0) {
		if (rc != -1 && rc != IMAP_BADCHARSET)
			fail("search return value");
		check_err(err);
	}
}

static void
run_fetch(const struct imap_cmd *cmd)
{
	struct imap_fetch	 f;
	const char		*err = NULL, *p;
	size_t			 i;

	if (imap_fetch_parse(cmd, &f, &err) == -1) {
		check_err(err);
		if (f.sections != NULL || f.set.r != NULL)
			fail("fetch output after failure");
		return;
	}
	check_seqset(&f.set);
	if (f.nsections > IMAP_MAX_FETCH_ITEMS)
		fail("fetch sections");
	if (cmd->uid && !(f.attrs & IMAP_FETCH_UID))
		fail("UID FETCH without UID");
	if (f.vanished && (!cmd->uid || !f.changedsince_set))
		fail("VANISHED");
	for (i = 0; i < f.nsections; i++) {
		for (p = f.sections[i].section; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 ||
			    (unsigned char)*p >= 0x7f || *p == ']')
				fail("section byte");
		if (f.sections[i].partial && f.sections[i].count == 0)
			fail("partial count 0");
		if (f.sections[i].kind != IMAP_SECTION_BODY &&
		    strspn(f.sections[i].section, "0123456789.") !=
		    strlen(f.sections[i].section))
			fail("BINARY section");
	}
	imap_fetch_free(&f);
}

static void
check_flags(const struct imap_flags *fl)
{
	size_t	 i, j;

	if (fl->sys & IMAP_FLAG_RECENT || fl->nkw > IMAP_MAX_KEYWORDS)
		fail("flags");
	for (i = 0; i < fl->nkw; i++)
		for (j = 0; j < i; j++)
			if (strcasecmp(fl->kw[i], fl->kw[j]) == 0)
				fail("duplicate keyword");
}

static void
run_cmd(const struct imap_cmd *cmd, int utf8)
{
	struct imap_store	 st;
	struct imap_list	 l;
	struct imap_status	 sta;
	struct imap_select	 sel;
	struct imap_append	 ap;
	struct imap_mailboxes	 mb;
	struct imap_copy	 cp;
	struct imap_seqset	 set;
	struct imap_enable	 en;
	struct imap_id		 id;
	struct imap_quota	 q;
	const char		*err = NULL, *a, *b;
	size_t			 i;
	int			 rc = 0;

	switch (cmd->cmd) {
	case IMAP_CMD_FETCH:
		run_fetch(cmd);
		return;
	case IMAP_CMD_SEARCH:
	case IMAP_CMD_SORT:
	case IMAP_CMD_THREAD:
		run_search(cmd);
		return;
	case IMAP_CMD_STORE:
		if ((rc = imap_store_parse(cmd, &st, &err)) == 0) {
			check_seqset(&st.set);
			check_flags(&st.flags);
		}
		imap_store_free(&st);
		break;
	case IMAP_CMD_LIST:
	case IMAP_CMD_LSUB:
		if ((rc = imap_list_parse(cmd, utf8, &l, &err)) == 0) {
			if (l.npatterns == 0 || l.npatterns > IMAP_MAX_PATTERNS ||
			    !utf8_ok(l.ref))
				fail("list");
			for (i = 0; i < l.npatterns; i++)
				if (!utf8_ok(l.patterns[i]) ||
				    strlen(l.patterns[i]) > IMAP_MAILBOX_MAX)
					fail("list pattern");
		}
		imap_list_free(&l);
		break;
	case IMAP_CMD_STATUS:
		if ((rc = imap_status_parse(cmd, utf8, &sta, &err)) == 0)
			check_mailbox(sta.mailbox);
		break;
	case IMAP_CMD_SELECT:
	case IMAP_CMD_EXAMINE:
		if ((rc = imap_select_parse(cmd, utf8, &sel, &err)) == 0) {
			check_mailbox(sel.mailbox);
			check_seqset(&sel.known_uids);
			check_seqset(&sel.known_seqs);
			check_seqset(&sel.known_seq_uids);
			if (sel.known_uids.star || sel.known_seqs.dollar)
				fail("'*' in QRESYNC");
		}
		imap_select_free(&sel);
		break;
	case IMAP_CMD_APPEND:
		if ((rc = imap_append_parse(cmd, utf8, &ap, &err)) == 0) {
			check_mailbox(ap.mailbox);
			if (ap.nmsgs == 0)
				fail("APPEND without a message");
			for (i = 0; i < ap.nmsgs; i++) {
				check_flags(&ap.msgs[i].flags);
				if (ap.msgs[i].data == NULL ||
				    !ap.msgs[i].data->literal)
					fail("APPEND data");
			}
		}
		imap_append_free(&ap);
		break;
	case IMAP_CMD_CREATE:
	case IMAP_CMD_DELETE:
	case IMAP_CMD_RENAME:
	case IMAP_CMD_SUBSCRIBE:
	case IMAP_CMD_UNSUBSCRIBE:
	case IMAP_CMD_GETQUOTAROOT:
		if ((rc = imap_mailboxes_parse(cmd, utf8, &mb, &err)) == 0)
			for (i = 0; i < mb.n; i++)
				check_mailbox(mb.name[i]);
		break;
	case IMAP_CMD_COPY:
	case IMAP_CMD_MOVE:
		if ((rc = imap_copy_parse(cmd, utf8, &cp, &err)) == 0) {
			check_seqset(&cp.set);
			check_mailbox(cp.mailbox);
		}
		imap_copy_free(&cp);
		break;
	case IMAP_CMD_EXPUNGE:
		if ((rc = imap_expunge_parse(cmd, &set, &err)) == 0)
			check_seqset(&set);
		imap_seqset_free(&set);
		break;
	case IMAP_CMD_LOGIN:
		if ((rc = imap_login_parse(cmd, &a, &b, &err)) == 0 &&
		    (a == NULL || b == NULL))
			fail("LOGIN");
		break;
	case IMAP_CMD_AUTHENTICATE:
		if ((rc = imap_authenticate_parse(cmd, &a, &b, &err)) == 0 &&
		    (a == NULL || strlen(a) > 20))
			fail("AUTHENTICATE");
		break;
	case IMAP_CMD_ENABLE:
		if ((rc = imap_enable_parse(cmd, &en, &err)) == 0 &&
		    (en.ncaps == 0 || en.ncaps > IMAP_MAX_ENABLE))
			fail("ENABLE");
		break;
	case IMAP_CMD_ID:
		if ((rc = imap_id_parse(cmd, &id, &err)) == 0)
			for (i = 0; i < id.n; i++)
				if (strlen(id.field[i]) > IMAP_ID_MAX_FIELD ||
				    (id.value[i] != NULL &&
				    strlen(id.value[i]) > IMAP_ID_MAX_VALUE))
					fail("ID");
		break;
	case IMAP_CMD_GETQUOTA:
	case IMAP_CMD_SETQUOTA:
		if ((rc = imap_quota_parse(cmd, &q, &err)) == 0 &&
		    (q.root == NULL || q.nres > IMAP_MAX_QUOTA_RES))
			fail("QUOTA");
		break;
	case IMAP_CMD_COMPRESS:
		rc = imap_compress_parse(cmd, &err);
		break;
	default:
		if (cmd->nargs != 0)
			fail("arguments to a command that takes none");
		break;
	}
	if (rc != 0)
		check_err(err);
}

static void
check_cmd(const struct imap_cmd *cmd, int utf8)
{
	const char	*p;
	size_t		 count = 0;

	if (cmd->tag[0] == '\0' || strlen(cmd->tag) > IMAP_MAX_TAG)
		fail("tag");
	for (p = cmd->tag; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\+", *p))
			fail("tag byte");
	for (p = cmd->name; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			fail("name not upper case");
	check_args(cmd->args, cmd->nargs, 0, &count);
	run_cmd(cmd, utf8);
	try_args(cmd->args, cmd->nargs, utf8);
}

/* The raw bytes straight to the string parsers. */
static void
run_direct(const uint8_t *data, size_t size)
{
	struct imap_seqset	 set;
	struct imap_date	 d;
	struct tm		 tm;
	const char		*err = NULL;
	char			*s, out[4096], back[4096], want[32];
	time_t			 t, local;
	int			 off, n;
	static const char	*months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (imap_seqset_parse(s, &set, &err) == 0) {
		check_seqset(&set);
		imap_seqset_free(&set);
	} else
		check_err(err);
	if ((n = imap_mutf7_to_utf8(s, out, sizeof(out), &err)) >= 0) {
		if ((size_t)n != strlen(out) || !utf8_ok(out))
			fail("mutf7 decode");
		if (imap_utf8_to_mutf7(out, back, sizeof(back), &err) == -1 ||
		    strcmp(back, s) != 0)
			fail("mutf7 round trip");
	} else
		check_err(err);
	if ((n = imap_utf8_to_mutf7(s, out, sizeof(out), &err)) >= 0) {
		if (!utf8_ok(s))
			fail("bad UTF-8 encoded");
		if (imap_mutf7_to_utf8(out, back, sizeof(back), &err) == -1 ||
		    strcmp(back, s) != 0)
			fail("utf8 round trip");
	} else
		check_err(err);
	if (imap_date_parse(s, &d) == 0 && (d.month < 1 || d.month > 12 ||
	    d.day < 1 || d.day > 31))
		fail("date");
	if (imap_datetime_parse(s, &t, &off) == 0 &&
	    !(s[18] == '6' && s[19] == '0')) {
		/* Print it back (not for leap seconds). */
		local = t + (time_t)off * 60;
		if (gmtime_r(&local, &tm) == NULL)
			fail("gmtime");
		(void)snprintf(want, sizeof(want),
		    "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d", tm.tm_mday,
		    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
		    abs(off) / 60, abs(off) % 60);
		if (s[0] == ' ')
			want[0] = ' ';
		if (strcasecmp(want, s) != 0 && !(off == 0 && s[21] == '-' &&
		    (want[21] = '-', strcasecmp(want, s) == 0)))
			fail("date-time does not print back");
	}
	free(s);
}

/* Bytes the reader may hold for what it was fed. */
static size_t
mem_bound(size_t fed)
{
	return 128 * 1024 + 256 * fed;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 chunks[] = { 1, 7, 512, SIZE_MAX };
	struct imap_reader	*r;
	struct imap_literal_info info;
	struct imap_cmd		 cmd;
	const uint8_t		*p, *end, *eol;
	const char		*err, *tag;
	enum imap_feed		 f;
	size_t			 chunk, len, need, n, fed = 0;
	char			*copy;
	long			 ext = 0;
	int			 external, utf8, sync;

	if (size < 1)
		return 0;
	chunk = chunks[data[0] & 0x03];
	external = (data[0] & 0x04) != 0;
	utf8 = (data[0] & 0x08) != 0;
	if (data[0] & 0x20) {
		run_direct(data + 1, size - 1);
		return 0;
	}
	r = imap_reader_new((data[0] & 0x10) ? 64 : 1024 * 1024);
	p = data + 1;
	end = data + size;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((eol != NULL ? eol : end) - p);
		if ((copy = malloc(len > 0 ? len : 1)) == NULL)
			abort();
		memcpy(copy, p, len);
		p += len + (eol != NULL);
		if (len > 0 && copy[len - 1] == '\r')
			len--;
		if (imap_is_done(copy, len) != (len == 4 &&
		    strncasecmp(copy, "DONE", 4) == 0))
			fail("DONE");
		err = NULL;
		f = imap_reader_line(r, copy, len, &need, &sync, &err);
		free(copy);
		fed += len;
		while (f == IMAP_FEED_LITERAL) {
			imap_reader_literal_info(r, &info);
			if (info.size != need || info.sync != sync ||
			    need > IMAP_MAX_COMMAND)
				fail("literal info");
			if (external && info.message)
				imap_reader_literal_external(r, ++ext);
			if ((size_t)(end - p) < need)
				goto out;	/* the client went away */
			if (need == 0)
				f = imap_reader_literal(r, "", 0);
			while (need > 0) {
				n = need < chunk ? need : chunk;
				if ((copy = malloc(n)) == NULL)
					abort();
				memcpy(copy, p, n);
				f = imap_reader_literal(r, copy, n);
				free(copy);
				p += n;
				need -= n;
				fed += n;
				if (f != (need > 0 ? IMAP_FEED_LITERAL :
				    IMAP_FEED_LINE))
					fail("literal feed result");
				if (imap_reader_memory(r) > mem_bound(fed))
					fail("reader memory");
			}
			f = IMAP_FEED_LINE;
		}
		if (imap_reader_memory(r) > mem_bound(fed))
			fail("reader memory");
		switch (f) {
		case IMAP_FEED_LINE:
			break;
		case IMAP_FEED_ERROR:
		case IMAP_FEED_TOOBIG:
			check_err(err);
			if ((tag = imap_reader_tag(r)) != NULL &&
			    (tag[0] == '\0' || strlen(tag) > IMAP_MAX_TAG ||
			    strpbrk(tag, " (){%*\"\\+") != NULL))
				fail("tag of a refused command");
			if (f == IMAP_FEED_TOOBIG &&
			    strncmp(err, "[TOOBIG]", 8) != 0)
				fail("TOOBIG without its code");
			if (imap_reader_must_close(r))
				goto out;
			break;
		case IMAP_FEED_COMPLETE:
			err = NULL;
			if (imap_parse(r, &cmd, &err) == 0)
				check_cmd(&cmd, utf8);
			else {
				check_err(err);
				if (cmd.tag[0] == '\0' || cmd.nargs != 0)
					fail("failed parse");
			}
			imap_cmd_free(&cmd);
			break;
		default:
			fail("feed result");
		}
	}
 out:
	imap_reader_free(r);
	return 0;
}
