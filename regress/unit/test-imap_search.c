/*
 * SEARCH, SORT and THREAD (imapd/search.c) over messages given as
 * strings: hostile programs and thread graphs first (loops, broken and
 * duplicate ids, deep chains, 10,000 messages in bounded time), then
 * each search key, the case folding, the cache, SORT criteria and the
 * RFC 5256 examples.
 *
 * Commands go through the real parser (imap_parser.c), so the programs
 * are what a client would send. Messages are copied to buffers of
 * exactly their size, without a NUL, so ASan sees any overread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap_parser.h"
#include "search.h"
#include "test.h"
#include "util.h"

#define JAN(d)	((time_t)1704067200 + ((d) - 1) * 86400 + 12 * 3600)

struct fmsg {
	const char	*text;
	unsigned	 flags;
	uint32_t	 keywords;
	uint64_t	 modseq;
	time_t		 internal;
	uint32_t	 uid;
};

struct fake {
	const struct fmsg *m;
	size_t		 n;
	char		**bufs;		/* exact-size copies, no NUL */
	size_t		*lens;
	int		 gone;		/* an index msg() refuses, or -1 */
	/* what the source saw */
	size_t		 opens;
	size_t		 gets;
	size_t		 puts;
	int		 open_now;	/* opened and not released */
	int		 cache;		/* offer a cache */
	size_t		 cache_max;
	unsigned char	**cbuf;
	size_t		*clen;
	const uint32_t	*saved;
	size_t		 nsaved;
};

static const char *const keywords[] = { "$Important", "Work" };

static uint64_t
wire_size(const char *s)
{
	uint64_t	 n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n' ? 2 : 1;
	return n;
}

static int
f_msg(void *arg, size_t idx, struct search_msg *out)
{
	struct fake		*f = arg;
	const struct fmsg	*m;

	if (idx >= f->n || (int)idx == f->gone)
		return -1;
	m = &f->m[idx];
	memset(out, 0, sizeof(*out));
	out->uid = m->uid != 0 ? m->uid : (uint32_t)idx + 1;
	out->flags = m->flags;
	out->keywords = m->keywords;
	out->modseq = m->modseq;
	out->size = wire_size(m->text);
	out->internaldate = m->internal;
	return 0;
}

static int
f_keyword(void *arg, const char *kw)
{
	size_t	 i;

	(void)arg;
	for (i = 0; i < nitems(keywords); i++)
		if (strcasecmp(kw, keywords[i]) == 0)
			return (int)i;
	return -1;
}

static int
f_open(void *arg, size_t idx, const char **data, size_t *len)
{
	struct fake	*f = arg;

	if (idx >= f->n || f->open_now)
		abort();	/* one message at a time */
	f->opens++;
	f->open_now = 1;
	*data = f->bufs[idx];
	*len = f->lens[idx];
	return 0;
}

static void
f_release(void *arg, size_t idx)
{
	struct fake	*f = arg;

	(void)idx;
	if (!f->open_now)
		abort();
	f->open_now = 0;
}

static int
f_cache_get(void *arg, size_t idx, const void **data, size_t *len)
{
	struct fake	*f = arg;

	f->gets++;
	if (f->cbuf[idx] == NULL)
		return -1;
	*data = f->cbuf[idx];
	*len = f->clen[idx];
	return 0;
}

static void
f_cache_put(void *arg, size_t idx, const void *data, size_t len)
{
	struct fake	*f = arg;

	f->puts++;
	if (len > f->cache_max)
		abort();
	free(f->cbuf[idx]);
	f->cbuf[idx] = malloc(len > 0 ? len : 1);
	if (f->cbuf[idx] == NULL)
		abort();
	memcpy(f->cbuf[idx], data, len);
	f->clen[idx] = len;
}

static void
fake_init(struct fake *f, const struct fmsg *m, size_t n)
{
	size_t	 i;

	memset(f, 0, sizeof(*f));
	f->m = m;
	f->n = n;
	f->gone = -1;
	f->cache_max = 65536;
	f->bufs = calloc(n, sizeof(*f->bufs));
	f->lens = calloc(n, sizeof(*f->lens));
	f->cbuf = calloc(n, sizeof(*f->cbuf));
	f->clen = calloc(n, sizeof(*f->clen));
	if (f->bufs == NULL || f->lens == NULL || f->cbuf == NULL ||
	    f->clen == NULL)
		abort();
	for (i = 0; i < n; i++) {
		f->lens[i] = strlen(m[i].text);
		if ((f->bufs[i] = malloc(f->lens[i] + 1)) == NULL)
			abort();
		memcpy(f->bufs[i], m[i].text, f->lens[i]);
	}
}

static void
fake_free(struct fake *f)
{
	size_t	 i;

	for (i = 0; i < f->n; i++) {
		free(f->bufs[i]);
		free(f->cbuf[i]);
	}
	free(f->bufs);
	free(f->lens);
	free(f->cbuf);
	free(f->clen);
}

static void
fake_src(struct fake *f, struct search_src *src)
{
	memset(src, 0, sizeof(*src));
	src->arg = f;
	src->count = f->n;
	src->msg = f_msg;
	src->keyword = f_keyword;
	src->open = f_open;
	src->release = f_release;
	if (f->cache) {
		src->cache_get = f_cache_get;
		src->cache_put = f_cache_put;
		src->cache_max = f->cache_max;
	}
	src->saved = f->saved;
	src->nsaved = f->nsaved;
}

/* A command line through the real parser. */
static int
parse(const char *line, struct imap_cmd *cmd)
{
	struct imap_reader	*rd = imap_reader_new(1 << 20);
	const char		*err;
	size_t			 need;
	int			 sync, rc = -1;

	memset(cmd, 0, sizeof(*cmd));
	if (imap_reader_line(rd, line, strlen(line), &need, &sync, &err) ==
	    IMAP_FEED_COMPLETE)
		rc = imap_parse(rd, cmd, &err);
	imap_reader_free(rd);
	return rc;
}

/*
 * "a SEARCH <keys>" over f: the sequence numbers as "1 3 5", or "BAD",
 * "BADCHARSET".
 */
static char	 sout[1 << 16];

static const char *
search(struct fake *f, const char *keys, int *modseq)
{
	struct imap_cmd		 cmd;
	struct imap_search_prog	 prog;
	struct search_result	 res;
	struct search_src	 src;
	const char		*err;
	char			 line[4096];
	size_t			 i, o = 0;
	int			 rc;

	(void)snprintf(line, sizeof(line), "a SEARCH %s", keys);
	if (parse(line, &cmd) == -1)
		return "BAD";
	if ((rc = imap_search_parse(&cmd, &prog, &err)) != 0) {
		imap_cmd_free(&cmd);
		return rc == IMAP_BADCHARSET ? "BADCHARSET" : "BAD";
	}
	fake_src(f, &src);
	if (search_run(&src, &prog, &res, &err) == -1)
		abort();
	sout[0] = '\0';
	for (i = 0; i < res.n; i++)
		o += (size_t)snprintf(sout + o, sizeof(sout) - o, "%s%zu",
		    i ? " " : "", res.idx[i] + 1);
	if (modseq != NULL)
		*modseq = res.modseq;
	search_result_free(&res);
	imap_search_free(&prog);
	imap_cmd_free(&cmd);
	if (f->open_now)
		abort();
	return sout;
}

static int
search_is(struct fake *f, const char *keys, const char *want)
{
	const char	*got = search(f, keys, NULL);

	if (strcmp(got, want) != 0) {
		fprintf(stderr, "# SEARCH %s: got \"%s\", want \"%s\"\n",
		    keys, got, want);
		return 0;
	}
	return 1;
}

/* "a SORT (...) UTF-8 ALL": the sequence numbers in order. */
static const char *
sort(struct fake *f, const char *criteria)
{
	struct imap_cmd		 cmd;
	struct imap_sort	 so;
	struct search_result	 res;
	struct search_src	 src;
	const char		*err;
	char			 line[4096];
	size_t			 i, o = 0;

	(void)snprintf(line, sizeof(line), "a SORT (%s) UTF-8 ALL", criteria);
	if (parse(line, &cmd) == -1)
		return "BAD";
	if (imap_sort_parse(&cmd, &so, &err) != 0) {
		imap_cmd_free(&cmd);
		return "BAD";
	}
	fake_src(f, &src);
	if (search_run(&src, &so.prog, &res, &err) == -1)
		abort();
	search_sort(&src, &so, res.idx, res.n);
	sout[0] = '\0';
	for (i = 0; i < res.n; i++)
		o += (size_t)snprintf(sout + o, sizeof(sout) - o, "%s%zu",
		    i ? " " : "", res.idx[i] + 1);
	search_result_free(&res);
	imap_sort_free(&so);
	imap_cmd_free(&cmd);
	return sout;
}

static int
sort_is(struct fake *f, const char *criteria, const char *want)
{
	const char	*got = sort(f, criteria);

	if (strcmp(got, want) != 0) {
		fprintf(stderr, "# SORT (%s): got \"%s\", want \"%s\"\n",
		    criteria, got, want);
		return 0;
	}
	return 1;
}

/* THREAD of every message; the caller frees. */
static char *
thread(struct fake *f, enum imap_thread_alg alg, int uid)
{
	struct search_src	 src;
	struct buf		 b;
	size_t			*idx, i;
	char			*s;

	fake_src(f, &src);
	idx = calloc(f->n + 1, sizeof(*idx));
	if (idx == NULL)
		abort();
	for (i = 0; i < f->n; i++)
		idx[i] = i;
	buf_init(&b, f->n * 32 + 64);
	if (search_thread(&src, alg, idx, f->n, uid, &b) == -1)
		abort();
	free(idx);
	s = buf_release(&b, NULL);
	return s != NULL ? s : xstrdup("");
}

static int
thread_is(struct fake *f, enum imap_thread_alg alg, int uid,
    const char *want)
{
	char	*got = thread(f, alg, uid);
	int	 ok = strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "# THREAD: got \"%s\", want \"%s\"\n", got,
		    want);
	free(got);
	return ok;
}

/*
 * RFC 5256 thread-list grammar, without recursion: every "(...)" holds
 * numbers then at most one nested part of two or more lists, or only
 * such a part. Each number 1..n must come exactly once.
 */
static int
thread_valid(const char *s, size_t n)
{
	enum { START, MEMBERS, NESTED }	*mode;
	size_t				*nlists, sp = 0, i, cap;
	unsigned long			 v;
	unsigned char			*seen;
	char				*end;
	int				 ok = 0;

	cap = strlen(s) + 1;
	mode = calloc(cap, sizeof(*mode));
	nlists = calloc(cap, sizeof(*nlists));
	seen = calloc(n + 1, 1);
	if (mode == NULL || nlists == NULL || seen == NULL)
		abort();
	for (i = 0; s[i] != '\0';) {
		if (s[i] == '(') {
			if (sp > 0) {
				if (mode[sp - 1] == START ||
				    (mode[sp - 1] == MEMBERS &&
				    s[i - 1] == ' '))
					mode[sp - 1] = NESTED;
				else if (mode[sp - 1] != NESTED ||
				    s[i - 1] != ')')
					goto out;
			}
			mode[sp] = START;
			nlists[sp++] = 0;
			i++;
		} else if (s[i] >= '1' && s[i] <= '9') {
			if (sp == 0 || !(mode[sp - 1] == START ||
			    (mode[sp - 1] == MEMBERS && s[i - 1] == ' ')))
				goto out;
			v = strtoul(s + i, &end, 10);
			if (v == 0 || v > n || seen[v])
				goto out;
			seen[v] = 1;
			mode[sp - 1] = MEMBERS;
			i = (size_t)(end - s);
		} else if (s[i] == ' ') {
			if (sp == 0 || mode[sp - 1] != MEMBERS ||
			    s[i - 1] < '0' || s[i - 1] > '9')
				goto out;
			i++;
		} else if (s[i] == ')') {
			if (sp == 0 || !(mode[sp - 1] == MEMBERS ||
			    (mode[sp - 1] == NESTED && nlists[sp - 1] >= 2)))
				goto out;
			sp--;
			if (sp > 0)
				nlists[sp - 1]++;
			i++;
		} else
			goto out;
	}
	if (sp != 0)
		goto out;
	for (v = 1; v <= n; v++)
		if (!seen[v])
			goto out;
	ok = 1;
 out:
	free(mode);
	free(nlists);
	free(seen);
	return ok;
}

static double
now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Hostile input first.
 */

static void
test_hostile_programs(void)
{
	static const struct fmsg m[] = {
		{ "Subject: x\n\nbody\n", IMAP_FLAG_SEEN, 0, 1, JAN(1), 0 },
		{ "Subject: y\n\nbody\n", 0, 0, 1, JAN(2), 0 },
	};
	struct imap_search	 deep[SEARCH_MAX_DEPTH + 2];
	struct imap_search_prog	 prog;
	struct search_result	 res;
	struct search_src	 src;
	struct fake		 f;
	const char		*err = NULL;
	char			*line;
	size_t			 i;

	test_begin("search: hostile programs");
	fake_init(&f, m, nitems(m));
	/* A tree deeper than any the parser makes is refused, not run. */
	memset(deep, 0, sizeof(deep));
	for (i = 0; i + 1 < nitems(deep); i++) {
		deep[i].key = IMAP_SK_NOT;
		deep[i].kids = &deep[i + 1];
		deep[i].nkids = 1;
	}
	deep[nitems(deep) - 1].key = IMAP_SK_ALL;
	memset(&prog, 0, sizeof(prog));
	prog.root.key = IMAP_SK_AND;
	prog.root.kids = deep;
	prog.root.nkids = 1;
	fake_src(&f, &src);
	test_assert(search_run(&src, &prog, &res, &err) == -1);
	test_assert(err != NULL && res.n == 0 && res.idx == NULL);
	/* Malformed nodes too. */
	deep[0].key = IMAP_SK_OR;
	deep[0].nkids = 1;
	test_assert(search_run(&src, &prog, &res, &err) == -1);
	/* 60 levels of NOT through the parser: fine and right. */
	line = calloc(1, 60 * 4 + 16);
	if (line == NULL)
		abort();
	for (i = 0; i < 60; i++)
		strcat(line, "NOT ");
	strcat(line, "SEEN");
	test_assert(search_is(&f, line, "1"));
	free(line);
	/* Sets far out of range, empty strings, odd dates. */
	test_assert(search_is(&f, "4294967295", ""));
	test_assert(search_is(&f, "UID 4294967295:*", "2"));
	test_assert(search_is(&f, "BODY \"\"", "1 2"));
	test_assert(search_is(&f, "SINCE 1-Jan-1900 BEFORE 1-Jan-2900", "1 2"));
	test_assert(search_is(&f, "LARGER 18446744073709551615", "BAD") ||
	    search_is(&f, "LARGER 18446744073709551615", ""));
	test_assert(search_is(&f, "CHARSET KOI8-R SUBJECT x", "BADCHARSET"));
	test_assert(search_is(&f, "CHARSET US-ASCII SUBJECT \"\xc3\xa9\"",
	    "BAD"));
	fake_free(&f);
	test_end();
}

/* A message no longer there matches nothing, not even NOT ALL. */
static void
test_gone(void)
{
	static const struct fmsg m[] = {
		{ "Subject: a\n\nx\n", 0, 0, 1, JAN(1), 0 },
		{ "Subject: a\n\nx\n", 0, 0, 1, JAN(1), 0 },
		{ "Subject: a\n\nx\n", 0, 0, 1, JAN(1), 0 },
	};
	struct fake	 f;

	test_begin("search: a message gone meanwhile");
	fake_init(&f, m, nitems(m));
	f.gone = 1;
	test_assert(search_is(&f, "ALL", "1 3"));
	test_assert(search_is(&f, "NOT SUBJECT zzz", "1 3"));
	test_assert(search_is(&f, "OR NOT ALL SUBJECT a", "1 3"));
	test_assert(strcmp(sort(&f, "SUBJECT"), "1 3") == 0);
	fake_free(&f);
	test_end();
}

/* Fill m[0 .. n) with generated messages; texts freed by the caller. */
static struct fmsg *
gen(size_t n, const char *(*hdr)(size_t, char *, size_t))
{
	struct fmsg	*m = calloc(n, sizeof(*m));
	char		 h[8192];
	size_t		 i;

	if (m == NULL)
		abort();
	for (i = 0; i < n; i++) {
		m[i].text = xstrdup(hdr(i, h, sizeof(h)));
		m[i].internal = JAN(1) + (time_t)i;
		m[i].modseq = i + 1;
	}
	return m;
}

static void
gen_free(struct fmsg *m, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free((char *)(uintptr_t)m[i].text);
	free(m);
}

static uint32_t	 lcg = 12345;

static uint32_t
rnd(void)
{
	lcg = lcg * 1103515245 + 12345;
	return (lcg >> 8) & 0xffffff;
}

static const char *
h_random(size_t i, char *h, size_t sz)
{
	uint32_t	 r = rnd();

	(void)snprintf(h, sz, "Date: %u Jan 2023 %02u:%02u:00 +0000\n"
	    "From: user%u@example.com\nSubject: topic %u\n"
	    "Message-ID: <%zu@gen>\nReferences: <%u@gen>\n\nbody %zu\n",
	    r % 28 + 1, r % 24, r % 60, r % 97, r % 50, i,
	    i > 0 ? (uint32_t)(rnd() % i) : 0, i);
	return h;
}

static const char *
h_chain(size_t i, char *h, size_t sz)
{
	(void)snprintf(h, sz, "Date: 1 Jan 2023 00:00:00 +0000\n"
	    "Subject: Re: chain\nMessage-ID: <c%zu@x>\n"
	    "In-Reply-To: <c%zu@x>\n\n", i, i > 0 ? i - 1 : 999999);
	return h;
}

/* Spine s_k (even k) with children s_k+2 and a leaf k+1: deep nesting. */
static const char *
h_comb(size_t i, char *h, size_t sz)
{
	size_t	 parent = i % 2 == 0 ? i - 2 : i - 1;

	(void)snprintf(h, sz, "Date: 1 Jan 2023 00:00:%02zu +0000\n"
	    "Subject: comb\nMessage-ID: <k%zu@x>\nReferences: <k%zu@x>\n\n",
	    i % 2 == 0 ? (size_t)1 : (size_t)0, i, i == 0 ? (size_t)999999 :
	    parent);
	return h;
}

/*
 * A chain 10,000 deep under a missing root, then messages that ask,
 * 128 times each, to make the root a child of the deepest: each ask is
 * a walk up the whole chain, which the budget cuts short.
 */
static const char *
h_walk(size_t i, char *h, size_t sz)
{
	size_t	 k, o;

	if (i < 10000) {
		(void)snprintf(h, sz, "Subject: w\nMessage-ID: <c%zu@x>\n"
		    "In-Reply-To: <c%zu@x>\n\n", i, i > 0 ? i - 1 : 999999);
		return h;
	}
	o = (size_t)snprintf(h, sz, "Subject: w\nReferences:");
	for (k = 0; k < 128 && o + 40 < sz; k++)
		o += (size_t)snprintf(h + o, sz - o,
		    " <c9999@x> <c999999@x>");
	(void)snprintf(h + o, sz - o, "\n\n");
	return h;
}

/* Each references the next, and the last the first: one big loop. */
static const char *
h_loop(size_t i, char *h, size_t sz)
{
	(void)snprintf(h, sz, "Subject: loop\nMessage-ID: <l%zu@x>\n"
	    "References: <l%zu@x> <l%zu@x> <l%zu@x>\n\n", i, i,
	    (i + 1) % 2000, i);
	return h;
}

static void
subj_line(const char *text, char *out, size_t sz)
{
	const char	*s = strstr(text, "Subject: ");
	size_t		 n;

	s = s != NULL ? s + 9 : "";
	n = strcspn(s, "\n");
	if (n >= sz)
		n = sz - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

static void
test_big(void)
{
	struct fmsg	*m;
	struct fake	 f;
	const char	*r, *p;
	char		*t, *end, sa[64], sb[64];
	unsigned char	*seen;
	double		 t0, dt;
	size_t		 n = 10000, i, prev, cur;
	int		 ok;

	test_begin("search: 10,000 messages sorted and threaded in bounded "
	    "time");
	m = gen(n, h_random);
	fake_init(&f, m, n);
	t0 = now();
	r = sort(&f, "SUBJECT REVERSE DATE");
	dt = now() - t0;
	fprintf(stderr, "# SORT (SUBJECT REVERSE DATE) of %zu: %.3f s\n", n,
	    dt);
	test_assert(dt < 10.0);
	/* A permutation, and subjects never go down. */
	ok = 1;
	prev = 0;
	seen = calloc(n + 1, 1);
	for (i = 0, p = r; ok && seen != NULL && i < n; i++) {
		cur = strtoul(p, &end, 10);
		p = end;
		ok = cur >= 1 && cur <= n && !seen[cur];
		if (ok) {
			seen[cur] = 1;
			subj_line(m[cur - 1].text, sb, sizeof(sb));
			ok = i == 0 || strcmp(sa, sb) <= 0;
			memcpy(sa, sb, sizeof(sa));
		}
		prev = cur;
	}
	test_assert(ok && prev != 0 && *p == '\0');
	free(seen);
	t0 = now();
	t = thread(&f, IMAP_THREAD_REFERENCES, 0);
	dt = now() - t0;
	fprintf(stderr, "# THREAD REFERENCES of %zu: %.3f s\n", n, dt);
	test_assert(dt < 10.0);
	test_assert(thread_valid(t, n));
	free(t);
	t = thread(&f, IMAP_THREAD_ORDEREDSUBJECT, 0);
	test_assert(thread_valid(t, n));
	free(t);
	t0 = now();
	r = search(&f, "TEXT \"body 9999\"", NULL);
	dt = now() - t0;
	fprintf(stderr, "# SEARCH TEXT of %zu in memory: %.3f s\n", n, dt);
	test_assert(strcmp(r, "10000") == 0);
	fake_free(&f);
	gen_free(m, n);

	/* A chain 10,000 deep: one thread, no recursion. */
	m = gen(n, h_chain);
	fake_init(&f, m, n);
	t0 = now();
	t = thread(&f, IMAP_THREAD_REFERENCES, 0);
	dt = now() - t0;
	test_assert(dt < 10.0);
	test_assert(thread_valid(t, n));
	test_assert(strncmp(t, "(1 2 3 ", 7) == 0);
	test_assert(strcmp(t + strlen(t) - 12, " 9999 10000)") == 0);
	free(t);
	fake_free(&f);
	gen_free(m, n);

	/* 5,000 levels of nested parentheses. */
	m = gen(n, h_comb);
	fake_init(&f, m, n);
	t = thread(&f, IMAP_THREAD_REFERENCES, 0);
	test_assert(thread_valid(t, n));
	test_assert(strncmp(t, "(1 (2)(3 (4)(5 ", 15) == 0);
	free(t);
	fake_free(&f);
	gen_free(m, n);

	/* Hostile References: the loop checks stop at their budget. */
	m = gen(12000, h_walk);
	fake_init(&f, m, 12000);
	t0 = now();
	t = thread(&f, IMAP_THREAD_REFERENCES, 0);
	dt = now() - t0;
	fprintf(stderr, "# THREAD of 2,000 hostile messages: %.3f s\n", dt);
	test_assert(dt < 10.0);
	test_assert(thread_valid(t, 12000));
	free(t);
	fake_free(&f);
	gen_free(m, 12000);

	/* References that go round: still a forest, every message once. */
	m = gen(2000, h_loop);
	fake_init(&f, m, 2000);
	t0 = now();
	t = thread(&f, IMAP_THREAD_REFERENCES, 0);
	test_assert(now() - t0 < 10.0);
	test_assert(thread_valid(t, 2000));
	free(t);
	fake_free(&f);
	gen_free(m, 2000);
	test_end();
}

/*
 * The keys.
 */

static const struct fmsg keys_msgs[] = {
	{ "Date: Mon, 1 Jan 2024 23:30:00 -0500\n"
	  "From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.org>\n"
	  "To: alice@example.test\n"
	  "Cc: bob@example.test\n"
	  "Subject: Hello world\n"
	  "Message-ID: <m1@example.org>\n"
	  "X-Custom: Blue\n"
	  " Sky\n"
	  "\n"
	  "Plain body text with the word Zebra.\n",
	  IMAP_FLAG_SEEN, 0x1, 5, JAN(2), 10 },
	{ "Date: Tue, 2 Jan 2024 08:00:00 +0000\n"
	  "From: bob@example.test\n"
	  "To: =?UTF-8?B?zpXOu86tzr3Otw==?= <eleni@example.gr>\n"
	  "Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=\n"
	  "Content-Type: text/plain; charset=iso-8859-1\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "Der Stra=DFe entlang, =C4RGER und =D6L.\n",
	  IMAP_FLAG_ANSWERED | IMAP_FLAG_FLAGGED, 0x2, 9, JAN(3), 11 },
	{ "Date: Wed, 3 Jan 2024 10:00:00 +0100\n"
	  "From: carol@example.net\n"
	  "Subject: Re: Hello world\n"
	  "Bcc: secret@example.net\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"b1\"\n"
	  "\n"
	  "--b1\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "w5xuw69jw7Zkw6kgzqPOis6jzqXOps6fzqMgdGV4dCwg0J/RgNC40LLQtdGCINC80LjR"
	  "gAo=\n"
	  "--b1\n"
	  "Content-Type: application/octet-stream\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "bmVlZGxlLWluLWF0dGFjaG1lbnQK\n"
	  "--b1--\n",
	  IMAP_FLAG_DELETED | IMAP_FLAG_DRAFT, 0, 2, JAN(5), 20 },
	{ "From: dave@example.com\n"
	  "X-Empty:\n"
	  "Message-ID: <m4@x>\n"
	  "\n"
	  "TEXT with UPPER case.\n",
	  IMAP_FLAG_RECENT, 0x3, 3, JAN(5) + 86399 - 12 * 3600, 21 },
	{ "Subject: [list] Fwd: Report (fwd)\r\n"
	  "Date: not a date at all\r\n"
	  "\r\n",
	  0, 0, 4, JAN(6), 30 },
};

static void
test_flags_sets(void)
{
	static const uint32_t	 saved[] = { 21, 11, 999 };
	struct fake		 f;

	test_begin("search: flags, keywords, sequence sets, UIDs, $");
	fake_init(&f, keys_msgs, nitems(keys_msgs));
	test_assert(search_is(&f, "ALL", "1 2 3 4 5"));
	test_assert(search_is(&f, "SEEN", "1"));
	test_assert(search_is(&f, "UNSEEN", "2 3 4 5"));
	test_assert(search_is(&f, "ANSWERED", "2"));
	test_assert(search_is(&f, "UNANSWERED", "1 3 4 5"));
	test_assert(search_is(&f, "FLAGGED", "2"));
	test_assert(search_is(&f, "UNFLAGGED", "1 3 4 5"));
	test_assert(search_is(&f, "DELETED", "3"));
	test_assert(search_is(&f, "UNDELETED", "1 2 4 5"));
	test_assert(search_is(&f, "DRAFT", "3"));
	test_assert(search_is(&f, "UNDRAFT", "1 2 4 5"));
	test_assert(search_is(&f, "RECENT", "4"));
	test_assert(search_is(&f, "NEW", "4"));
	test_assert(search_is(&f, "OLD", "1 2 3 5"));
	test_assert(search_is(&f, "KEYWORD $important", "1 4"));
	test_assert(search_is(&f, "KEYWORD Work", "2 4"));
	test_assert(search_is(&f, "KEYWORD Nope", ""));
	test_assert(search_is(&f, "UNKEYWORD Nope", "1 2 3 4 5"));
	test_assert(search_is(&f, "UNKEYWORD $Important", "2 3 5"));
	test_assert(search_is(&f, "2:4", "2 3 4"));
	test_assert(search_is(&f, "4:2", "2 3 4"));
	test_assert(search_is(&f, "1,3,5", "1 3 5"));
	test_assert(search_is(&f, "*", "5"));
	test_assert(search_is(&f, "4:*", "4 5"));
	test_assert(search_is(&f, "9:*", "5"));
	test_assert(search_is(&f, "6", ""));
	test_assert(search_is(&f, "UID 11:20", "2 3"));
	test_assert(search_is(&f, "UID *", "5"));
	test_assert(search_is(&f, "UID 100:*", "5"));
	test_assert(search_is(&f, "UID 1:9", ""));
	test_assert(search_is(&f, "UID 10,21,30", "1 4 5"));
	/* "$" before any SAVE: nothing. */
	test_assert(search_is(&f, "$", ""));
	f.saved = saved;
	f.nsaved = nitems(saved);
	test_assert(search_is(&f, "$", "2 4"));
	test_assert(search_is(&f, "UID $", "2 4"));
	test_assert(search_is(&f, "NOT $", "1 3 5"));
	test_assert(search_is(&f, "$ SEEN", ""));
	fake_free(&f);
	test_end();
}

static void
test_dates_sizes(void)
{
	struct fake	 f;
	char		 k[64];
	uint64_t	 s2;
	int		 ms = 0;

	test_begin("search: INTERNALDATE, Date:, sizes, MODSEQ");
	fake_init(&f, keys_msgs, nitems(keys_msgs));
	test_assert(search_is(&f, "ON 2-Jan-2024", "1"));
	test_assert(search_is(&f, "ON 5-Jan-2024", "3 4"));
	test_assert(search_is(&f, "BEFORE 3-Jan-2024", "1"));
	test_assert(search_is(&f, "BEFORE 1-Jan-2024", ""));
	test_assert(search_is(&f, "SINCE 5-Jan-2024", "3 4 5"));
	test_assert(search_is(&f, "SINCE \"3-Jan-2024\" BEFORE 6-Jan-2024",
	    "2 3 4"));
	/* The date as written: 23:30 -0500 is 1 January, whatever UTC. */
	test_assert(search_is(&f, "SENTON 1-Jan-2024", "1"));
	test_assert(search_is(&f, "SENTON 2-Jan-2024", "2"));
	test_assert(search_is(&f, "SENTON 3-Jan-2024", "3"));
	test_assert(search_is(&f, "SENTSINCE 2-Jan-2024", "2 3"));
	/* No usable Date: counts as 1970, as Dovecot has it. */
	test_assert(search_is(&f, "SENTBEFORE 2-Jan-2024", "1 4 5"));
	test_assert(search_is(&f, "SENTON 1-Jan-1970", "4 5"));
	/* RFC822.SIZE: LF counted as CRLF. */
	s2 = wire_size(keys_msgs[1].text);
	test_assert(s2 > strlen(keys_msgs[1].text));
	(void)snprintf(k, sizeof(k), "LARGER %llu", (unsigned long long)s2);
	test_assert(strstr(search(&f, k, NULL), "2") == NULL);
	(void)snprintf(k, sizeof(k), "LARGER %llu",
	    (unsigned long long)s2 - 1);
	test_assert(strstr(search(&f, k, NULL), "2") != NULL);
	(void)snprintf(k, sizeof(k), "SMALLER %llu", (unsigned long long)s2);
	test_assert(strstr(search(&f, k, NULL), "2") == NULL);
	(void)snprintf(k, sizeof(k), "SMALLER %llu",
	    (unsigned long long)s2 + 1);
	test_assert(strstr(search(&f, k, NULL), "2") != NULL);
	test_assert(search_is(&f, "SMALLER 1", ""));
	test_assert(search_is(&f, "LARGER 0", "1 2 3 4 5"));
	test_assert(strcmp(search(&f, "MODSEQ 5", &ms), "1 2") == 0 &&
	    ms == 1);
	test_assert(strcmp(search(&f, "MODSEQ \"/flags/\\\\seen\" all 4",
	    &ms), "1 2 5") == 0 && ms == 1);
	test_assert(strcmp(search(&f, "SEEN", &ms), "1") == 0 && ms == 0);
	test_assert(search_is(&f, "OR MODSEQ 9 SEEN", "1 2"));
	fake_free(&f);
	test_end();
}

static void
test_headers(void)
{
	struct fake	 f;

	test_begin("search: header keys on decoded values, any case");
	fake_init(&f, keys_msgs, nitems(keys_msgs));
	test_assert(search_is(&f, "FROM \"j\xc3\xb6rg\"", "1"));
	test_assert(search_is(&f, "FROM \"J\xc3\x96RG M\xc3\x9cLLER\"", "1"));
	test_assert(search_is(&f, "FROM JOERG@", "1"));
	test_assert(search_is(&f, "FROM example.test", "2"));
	test_assert(search_is(&f, "FROM \"\"", "1 2 3 4"));
	test_assert(search_is(&f, "TO \"\xce\xb5\xce\xbb\xce\xad\xce\xbd\xce"
	    "\xb7\"", "2"));
	test_assert(search_is(&f, "TO \"\xce\x95\xce\x9b\xce\x88\xce\x9d\xce"
	    "\x97\"", "2"));
	test_assert(search_is(&f, "CC BOB", "1"));
	test_assert(search_is(&f, "BCC secret", "3"));
	test_assert(search_is(&f, "SUBJECT \"caf\xc3\xa9 CR\xc3\x88ME\"", "2"));
	test_assert(search_is(&f, "SUBJECT hello", "1 3"));
	test_assert(search_is(&f, "SUBJECT \"re: hello\"", "3"));
	test_assert(search_is(&f, "SUBJECT nothing", ""));
	test_assert(search_is(&f, "HEADER X-Custom \"blue sky\"", "1"));
	test_assert(search_is(&f, "HEADER x-custom \"\"", "1"));
	test_assert(search_is(&f, "HEADER X-Empty \"\"", "4"));
	test_assert(search_is(&f, "HEADER X-Missing \"\"", ""));
	test_assert(search_is(&f, "HEADER Message-ID M4@", "4"));
	test_assert(search_is(&f, "HEADER Subject \"(FWD)\"", "5"));
	test_assert(search_is(&f, "HEADER Date 2024", "1 2 3"));
	fake_free(&f);
	test_end();
}

static void
test_text(void)
{
	struct fake	 f;

	test_begin("search: BODY and TEXT on decoded text, Unicode case");
	fake_init(&f, keys_msgs, nitems(keys_msgs));
	test_assert(search_is(&f, "BODY zebra", "1"));
	test_assert(search_is(&f, "BODY \"word ZEBRA.\"", "1"));
	/* quoted-printable ISO-8859-1 */
	test_assert(search_is(&f, "BODY \"\xc3\xa4rger\"", "2"));
	test_assert(search_is(&f, "BODY \"STRA\xc3\x9f" "E\"", "2"));
	test_assert(search_is(&f, "BODY \"\xc3\xb6l.\"", "2"));
	/* base64 UTF-8 in a multipart: Cyrillic, Greek with final sigma */
	test_assert(search_is(&f, "BODY \"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2"
	    "\xd0\xb5\xd1\x82 \xd0\x9c\xd0\x98\xd0\xa0\"", "3"));
	test_assert(search_is(&f, "BODY \"\xcf\x83\xce\xaf\xcf\x83\xcf\x85"
	    "\xcf\x86\xce\xbf\xcf\x82\"", "3"));
	test_assert(search_is(&f, "BODY \"\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d"
	    "\xc3\xa9\"", "3"));
	/* not in an attachment, not in the header */
	test_assert(search_is(&f, "BODY needle-in-attachment", ""));
	test_assert(search_is(&f, "BODY \"hello world\"", ""));
	test_assert(search_is(&f, "TEXT \"hello world\"", "1 3"));
	test_assert(search_is(&f, "TEXT \"upper CASE\"", "4"));
	test_assert(search_is(&f, "TEXT dave@", "4"));
	test_assert(search_is(&f, "TEXT \"j\xc3\xb6rg m\xc3\xbcller\"", "1"));
	test_assert(search_is(&f, "TEXT \"\"", "1 2 3 4 5"));
	test_assert(search_is(&f, "TEXT nowhere", ""));
	fake_free(&f);
	test_end();
}

static void
test_logic(void)
{
	struct fake	 f;

	test_begin("search: NOT, OR, AND, CHARSET");
	fake_init(&f, keys_msgs, nitems(keys_msgs));
	test_assert(search_is(&f, "OR SEEN DELETED", "1 3"));
	test_assert(search_is(&f, "NOT OR SEEN DELETED", "2 4 5"));
	test_assert(search_is(&f, "(SEEN FROM \"j\xc3\xb6rg\")", "1"));
	test_assert(search_is(&f, "SEEN FROM bob", ""));
	test_assert(search_is(&f, "OR (FLAGGED BODY \"\xc3\xa4rger\") "
	    "TEXT upper", "2 4"));
	test_assert(search_is(&f, "NOT NOT SEEN", "1"));
	test_assert(search_is(&f, "OR OR SEEN RECENT 5", "1 4 5"));
	test_assert(search_is(&f, "2:5 NOT (OR DELETED RECENT)", "2 5"));
	test_assert(search_is(&f, "CHARSET UTF-8 FROM \"j\xc3\xb6rg\"", "1"));
	test_assert(search_is(&f, "CHARSET us-ascii SUBJECT hello", "1 3"));
	fake_free(&f);
	test_end();
}

/* Flags, sets and sizes never open a message; the cache spares it. */
static void
test_cost(void)
{
	struct fake	 f;

	test_begin("search: cheap keys first, the cache");
	fake_init(&f, keys_msgs, nitems(keys_msgs));
	test_assert(search_is(&f, "OR SEEN NOT 2:3 LARGER 5 SINCE 1-Jan-2000"
	    " UID 1:*", "1 4 5"));
	test_assert(f.opens == 0);
	/* The cheap key is tried first whatever the order. */
	f.opens = 0;
	test_assert(search_is(&f, "FROM \"j\xc3\xb6rg\" SEEN", "1"));
	test_assert(f.opens == 1);
	f.opens = 0;
	test_assert(search_is(&f, "OR FROM nobody SEEN", "1"));
	test_assert(f.opens == 4);
	/* With a cache: filled once, then no file is opened. */
	f.cache = 1;
	f.opens = 0;
	test_assert(search_is(&f, "SUBJECT hello", "1 3"));
	test_assert(f.opens == 5 && f.puts == 5);
	f.opens = f.puts = 0;
	test_assert(search_is(&f, "OR SUBJECT hello FROM dave", "1 3 4"));
	test_assert(search_is(&f, "SENTON 1-Jan-2024", "1"));
	test_assert(search_is(&f, "HEADER Message-id m4", "4"));
	test_assert(sort_is(&f, "DATE", "1 2 3 4 5"));
	test_assert(sort_is(&f, "REVERSE SUBJECT", "5 1 3 2 4"));
	test_assert(f.opens == 0 && f.puts == 0 && f.gets > 0);
	/* Other fields and the text need the file. */
	test_assert(search_is(&f, "HEADER X-Custom sky", "1"));
	test_assert(f.opens == 5);
	/* A record that is not ours: read the file, put it right. */
	f.cbuf[0][0] ^= 0xff;
	f.opens = f.puts = 0;
	test_assert(search_is(&f, "SUBJECT hello", "1 3"));
	test_assert(f.opens == 1 && f.puts == 1);
	f.clen[2] -= 1;		/* cut short */
	f.opens = f.puts = 0;
	test_assert(search_is(&f, "SUBJECT hello", "1 3"));
	test_assert(f.opens == 1 && f.puts == 1);
	fake_free(&f);

	/* Too big to keep: a marker, then the file every time. */
	fake_init(&f, keys_msgs, nitems(keys_msgs));
	f.cache = 1;
	f.cache_max = 16;
	test_assert(search_is(&f, "SUBJECT hello", "1 3"));
	test_assert(f.puts == 5);
	f.opens = f.puts = 0;
	test_assert(search_is(&f, "SUBJECT hello", "1 3"));
	test_assert(f.opens == 5 && f.puts == 0);
	fake_free(&f);
	test_end();
}

static void
test_fold(void)
{
	static const struct {
		const char	*in;
		const char	*want;
	} tab[] = {
		{ "ABC xyz 09", "abc xyz 09" },
		{ "\xc3\x80\xc3\x89\xc3\x8e\xc3\x95\xc3\x9c",
		  "\xc3\xa0\xc3\xa9\xc3\xae\xc3\xb5\xc3\xbc" },	/* ÀÉÎÕÜ */
		{ "\xc5\x81\xc4\x84\xc4\x98", "\xc5\x82\xc4\x85\xc4\x99" },
		{ "\xc5\x9e\xc5\xa2 \xc8\x98\xc8\x9a",
		  "\xc5\x9f\xc5\xa3 \xc8\x99\xc8\x9b" },	/* ŞŢ ȘȚ */
		{ "\xc4\xb9\xc5\xbd", "\xc4\xba\xc5\xbe" },	/* ĹŽ odd */
		{ "\xce\x91\xce\x92\xce\x93 \xce\xa9 \xcf\x82",
		  "\xce\xb1\xce\xb2\xce\xb3 \xcf\x89 \xcf\x83" },
		{ "\xce\x86\xce\x8f", "\xce\xac\xcf\x8e" },	/* ΆΏ */
		{ "\xd0\x81\xd0\x96\xd0\xa9", "\xd1\x91\xd0\xb6\xd1\x89" },
		{ "\xd4\xb1\xd4\xb2", "\xd5\xa1\xd5\xa2" },	/* Armenian */
		{ "\xe1\xba\x9e", "\xc3\x9f" },			/* ẞ -> ß */
		{ "\xc5\xb8", "\xc3\xbf" },			/* Ÿ -> ÿ */
		{ "\xe2\x84\xaa", "k" },			/* Kelvin */
		{ "\xc5\xbf", "s" },				/* long s */
		{ "\xc7\x85", "\xc7\x86" },			/* ǅ */
		{ "\xc6\xa0\xc6\xaf", "\xc6\xa1\xc6\xb0" },	/* ƠƯ */
		{ "\xe1\xba\xa0\xe1\xbb\xb8", "\xe1\xba\xa1\xe1\xbb\xb9" },
		{ "\xef\xbc\xa1", "\xef\xbd\x81" },		/* fullwidth */
		{ "\xc4\xb0", "\xc4\xb0" },			/* İ: none */
		{ "\xe4\xb8\xad\xe6\x96\x87", "\xe4\xb8\xad\xe6\x96\x87" },
		{ "\xff\xc3(\xe2\x82", "\xff\xff(\xff\xff" },	/* invalid */
		{ "\xed\xa0\x80", "\xff\xff\xff" },		/* surrogate */
		{ "\xc0\xaf", "\xff\xff" },			/* overlong */
	};
	char		*in, o[64];
	unsigned char	 enc[4], f1[8], f2[8];
	uint32_t	 c;
	size_t		 i, n, k1, k2;
	int		 ok = 1;

	test_begin("search: simple Unicode case folding");
	for (i = 0; i < nitems(tab); i++) {
		in = test_dup_exact(tab[i].in);
		n = search_fold(in, strlen(tab[i].in), o);
		if (n != strlen(tab[i].want) || strcmp(o, tab[i].want) != 0) {
			fprintf(stderr, "# fold %zu wrong\n", i);
			ok = 0;
		}
		free(in);
	}
	test_assert(ok);
	/* Every code point: never longer, idempotent, still UTF-8. */
	for (c = 0; c <= 0x10ffff && ok; c++) {
		if (c >= 0xd800 && c <= 0xdfff)
			continue;
		if (c < 0x80) {
			enc[0] = (unsigned char)c;
			n = 1;
		} else if (c < 0x800) {
			enc[0] = (unsigned char)(0xc0 | (c >> 6));
			enc[1] = (unsigned char)(0x80 | (c & 0x3f));
			n = 2;
		} else if (c < 0x10000) {
			enc[0] = (unsigned char)(0xe0 | (c >> 12));
			enc[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
			enc[2] = (unsigned char)(0x80 | (c & 0x3f));
			n = 3;
		} else {
			enc[0] = (unsigned char)(0xf0 | (c >> 18));
			enc[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
			enc[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
			enc[3] = (unsigned char)(0x80 | (c & 0x3f));
			n = 4;
		}
		k1 = search_fold((char *)enc, n, (char *)f1);
		k2 = search_fold((char *)f1, k1, (char *)f2);
		if (k1 > n || k1 != k2 || memcmp(f1, f2, k1) != 0 ||
		    memchr(f1, 0xff, k1) != NULL ||
		    (c != 0 && memchr(f1, 0, k1) != NULL)) {
			fprintf(stderr, "# fold U+%04X breaks\n", c);
			ok = 0;
		}
	}
	test_assert(ok);
	test_assert(search_fold_cp('Q') == 'q');
	test_assert(search_fold_cp(0x3a3) == 0x3c3);
	test_assert(search_fold_cp(0x3c2) == 0x3c3);
	test_assert(search_fold_cp(0x4e2d) == 0x4e2d);
	test_end();
}

static void
test_helpers(void)
{
	static const struct {
		const char	*subj;
		int		 reply;
	} subj[] = {
		{ "Hello", 0 },
		{ "Re: Hello", 1 },
		{ "RE:Hello", 1 },
		{ "re : Hello", 1 },
		{ "Re[2]: Hello", 1 },
		{ "Fwd: Hello", 1 },
		{ "FW: Hello", 1 },
		{ "fwd [x]: Hello", 1 },
		{ "[list] Hello", 0 },
		{ "[list] Re: Hello", 1 },
		{ "[a][b] Hello", 0 },
		{ "Hello (fwd)", 1 },
		{ "Hello (FWD)  (fwd) ", 1 },
		{ "[fwd: Hello]", 1 },
		{ "[Fwd: Re: Hello]", 1 },
		{ "Reply: Hello", 0 },
		{ "Refund", 0 },
		{ "Fw", 0 },
		{ "[", 0 },
		{ "[fwd:]", 1 },
		{ "", 0 },
		{ "   ", 0 },
		{ "Re:", 1 },
	};
	size_t	 i;
	int	 ok = 1;

	test_begin("search: reply subjects, day numbers");
	for (i = 0; i < nitems(subj); i++)
		if (search_subject_is_reply(subj[i].subj) != subj[i].reply) {
			fprintf(stderr, "# \"%s\" reply wrong\n", subj[i].subj);
			ok = 0;
		}
	test_assert(ok);
	test_end();
}

/*
 * SORT.
 */

static const struct fmsg sort_msgs[] = {
	{ "Date: Fri, 5 Jan 2024 10:00:00 +0000\nFrom: zed@x\nTo: b@x\n"
	  "Cc: m@x\nSubject: Re: banana\n\nshort\n",
	  0, 0, 1, JAN(1), 0 },
	{ "Date: Wed, 3 Jan 2024 10:00:00 +0000\nFrom: Adam <adam@x>\n"
	  "To: Aaron <c@x>\nSubject: apple\n\na somewhat longer body here\n",
	  0, 0, 1, JAN(3), 0 },
	{ "From: =?UTF-8?Q?=C3=89mile?= <emile@x>\n"
	  "Subject: [list] Cherry\n\nthe longest body of them all, by far,"
	  " really\n",
	  0, 0, 1, JAN(2), 0 },
	{ "Date: Wed, 3 Jan 2024 10:00:00 +0000\nFrom: adam@y\nTo: a@x\n"
	  "Subject: APPLE\n\nmid\n",
	  0, 0, 1, JAN(4), 0 },
	{ "Date: garbage\n\n",
	  0, 0, 1, JAN(6), 0 },
};

static void
test_sort(void)
{
	struct fake	 f;
	size_t		 order[5], i, j, t;
	char		 want[64];
	size_t		 o = 0;

	test_begin("sort: every criterion, REVERSE, ties by number");
	fake_init(&f, sort_msgs, nitems(sort_msgs));
	test_assert(sort_is(&f, "DATE", "3 2 4 1 5"));
	test_assert(sort_is(&f, "REVERSE DATE", "5 1 2 4 3"));
	test_assert(sort_is(&f, "ARRIVAL", "1 3 2 4 5"));
	test_assert(sort_is(&f, "REVERSE ARRIVAL", "5 4 2 3 1"));
	test_assert(sort_is(&f, "FROM", "5 2 4 3 1"));
	test_assert(sort_is(&f, "SUBJECT", "5 2 4 1 3"));
	test_assert(sort_is(&f, "REVERSE SUBJECT", "3 1 2 4 5"));
	test_assert(sort_is(&f, "TO", "3 5 4 1 2"));
	test_assert(sort_is(&f, "CC", "2 3 4 5 1"));
	test_assert(sort_is(&f, "DISPLAYFROM", "5 2 4 1 3"));
	test_assert(sort_is(&f, "DISPLAYTO", "3 5 4 2 1"));
	test_assert(sort_is(&f, "FROM REVERSE ARRIVAL", "5 4 2 3 1"));
	test_assert(sort_is(&f, "SUBJECT DATE", "5 2 4 1 3"));
	test_assert(sort_is(&f, "REVERSE CC REVERSE TO", "1 2 4 3 5"));
	/* SIZE: the order worked out here from the sizes. */
	for (i = 0; i < 5; i++)
		order[i] = i;
	for (i = 1; i < 5; i++)
		for (j = i; j > 0 && wire_size(sort_msgs[order[j - 1]].text) >
		    wire_size(sort_msgs[order[j]].text); j--) {
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (i = 0; i < 5; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%zu",
		    i ? " " : "", order[i] + 1);
	test_assert(sort_is(&f, "SIZE", want));
	test_assert(sort_is(&f, "BOGUS", "BAD"));
	test_assert(sort_is(&f, "REVERSE", "BAD"));
	fake_free(&f);
	test_end();
}

/*
 * THREAD.
 */

/* RFC 5256 4: "(2)(3 6 (4 23)(44 7 96))" with these UIDs. */
static const struct fmsg rfc_thread[] = {
	{ "Date: 1 Jan 2024 01:00:00 +0000\nSubject: alone\n"
	  "Message-ID: <2@x>\n\n", 0, 0, 1, 0, 2 },
	{ "Date: 1 Jan 2024 02:00:00 +0000\nSubject: topic\n"
	  "Message-ID: <3@x>\n\n", 0, 0, 1, 0, 3 },
	{ "Date: 1 Jan 2024 03:00:00 +0000\nSubject: Re: topic\n"
	  "Message-ID: <4@x>\nReferences: <3@x> <6@x>\n\n", 0, 0, 1, 0, 4 },
	{ "Date: 1 Jan 2024 04:00:00 +0000\nSubject: Re: topic\n"
	  "Message-ID: <6@x>\nIn-Reply-To: <3@x>\n\n", 0, 0, 1, 0, 6 },
	{ "Date: 1 Jan 2024 07:00:00 +0000\nSubject: Re: topic\n"
	  "Message-ID: <7@x>\nReferences: <3@x> <6@x> <44@x>\n\n",
	  0, 0, 1, 0, 7 },
	{ "Date: 1 Jan 2024 05:00:00 +0000\nSubject: Re: topic\n"
	  "Message-ID: <23@x>\nReferences: <3@x> <6@x> <4@x>\n\n",
	  0, 0, 1, 0, 23 },
	{ "Date: 1 Jan 2024 06:00:00 +0000\nSubject: Re: topic\n"
	  "Message-ID: <44@x>\nReferences: <3@x>\n <6@x>\n\n", 0, 0, 1, 0, 44 },
	{ "Date: 1 Jan 2024 08:00:00 +0000\nSubject: Re: topic\n"
	  "Message-ID: <96@x>\nReferences: <3@x> <6@x> <44@x> <7@x>\n\n",
	  0, 0, 1, 0, 96 },
};

/* "((3)(5))": siblings under a parent that is not there. */
static const struct fmsg rfc_dummy[] = {
	{ "Date: 1 Jan 2024 01:00:00 +0000\nSubject: one\n"
	  "Message-ID: <a@x>\nReferences: <gone@x>\n\n", 0, 0, 1, 0, 3 },
	{ "Date: 1 Jan 2024 02:00:00 +0000\nSubject: two\n"
	  "Message-ID: <b@x>\nReferences: <gone@x>\n\n", 0, 0, 1, 0, 5 },
};

static const struct fmsg osubj[] = {
	{ "Date: 3 Jan 2024 00:00:00 +0000\nSubject: Hello\n\n",
	  0, 0, 1, 0, 0 },
	{ "Date: 1 Jan 2024 00:00:00 +0000\nSubject: Re: Hello\n\n",
	  0, 0, 1, 0, 0 },
	{ "Date: 2 Jan 2024 00:00:00 +0000\nSubject: Other\n\n",
	  0, 0, 1, 0, 0 },
	{ "Date: 4 Jan 2024 00:00:00 +0000\nSubject: re: HELLO\n\n",
	  0, 0, 1, 0, 0 },
	{ "Date: 5 Jan 2024 00:00:00 +0000\nSubject: [x] Other\n\n",
	  0, 0, 1, 0, 0 },
	{ "Date: 6 Jan 2024 00:00:00 +0000\nSubject: Third\n\n",
	  0, 0, 1, 0, 0 },
};

static void
test_thread_rfc(void)
{
	struct fake	 f;

	test_begin("thread: RFC 5256 examples");
	fake_init(&f, rfc_thread, nitems(rfc_thread));
	test_assert(thread_is(&f, IMAP_THREAD_REFERENCES, 1,
	    "(2)(3 6 (4 23)(44 7 96))"));
	test_assert(thread_is(&f, IMAP_THREAD_REFERENCES, 0,
	    "(1)(2 4 (3 6)(7 5 8))"));
	fake_free(&f);
	fake_init(&f, rfc_dummy, nitems(rfc_dummy));
	test_assert(thread_is(&f, IMAP_THREAD_REFERENCES, 1, "((3)(5))"));
	fake_free(&f);
	fake_init(&f, osubj, nitems(osubj));
	test_assert(thread_is(&f, IMAP_THREAD_ORDEREDSUBJECT, 0,
	    "(2 (1)(4))(3 5)(6)"));
	fake_free(&f);
	test_end();
}

static void
test_thread_broken(void)
{
	/* In-Reply-To when References has no valid id. */
	static const struct fmsg irt[] = {
		{ "Date: 1 Jan 2024 01:00:00 +0000\nSubject: p\n"
		  "Message-ID: <p@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 02:00:00 +0000\nSubject: q\n"
		  "Message-ID: <q@x>\nReferences: garbage, no ids\n"
		  "In-Reply-To: <p@x> <q@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 03:00:00 +0000\nSubject: r\n"
		  "Message-ID: <r@x>\nReferences: <p@x> junk <broken@x\n\n",
		  0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 04:00:00 +0000\nSubject: s\n"
		  "Message-ID: no brackets\nReferences: <r@x>\n\n",
		  0, 0, 1, 0, 0 },
	};
	/* Loops: each references the other; one references itself. */
	static const struct fmsg loop[] = {
		{ "Date: 1 Jan 2024 01:00:00 +0000\nSubject: a\n"
		  "Message-ID: <a@x>\nReferences: <b@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 02:00:00 +0000\nSubject: b\n"
		  "Message-ID: <b@x>\nReferences: <a@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 03:00:00 +0000\nSubject: c\n"
		  "Message-ID: <c@x>\nReferences: <c@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 04:00:00 +0000\nSubject: d\n"
		  "Message-ID: <d@x>\nReferences: <d@x> <e@x> <d@x>\n\n",
		  0, 0, 1, 0, 0 },
	};
	/* The same Message-ID twice: the first keeps it. */
	static const struct fmsg dup[] = {
		{ "Date: 1 Jan 2024 01:00:00 +0000\nSubject: one\n"
		  "Message-ID: <d@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 02:00:00 +0000\nSubject: two\n"
		  "Message-ID: <d@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 03:00:00 +0000\nSubject: three\n"
		  "Message-ID: <e@x>\nReferences: <d@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 04:00:00 +0000\nSubject: four\n"
		  "Message-ID: <d@x>\nReferences: <e@x>\n\n", 0, 0, 1, 0, 0 },
	};
	struct fake	 f;

	test_begin("thread: broken References, loops, duplicate ids");
	fake_init(&f, irt, nitems(irt));
	test_assert(thread_is(&f, IMAP_THREAD_REFERENCES, 0,
	    "(1 (2)(3 4))"));
	fake_free(&f);
	fake_init(&f, loop, nitems(loop));
	test_assert(thread_is(&f, IMAP_THREAD_REFERENCES, 0,
	    "(2 1)(3)(4)"));
	fake_free(&f);
	fake_init(&f, dup, nitems(dup));
	test_assert(thread_is(&f, IMAP_THREAD_REFERENCES, 0,
	    "(1 3 4)(2)"));
	fake_free(&f);
	test_end();
}

static void
test_thread_subjects(void)
{
	/* A reply with no references joins the thread of its subject. */
	static const struct fmsg join[] = {
		{ "Date: 1 Jan 2024 01:00:00 +0000\nSubject: Meeting\n"
		  "Message-ID: <1@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 02:00:00 +0000\nSubject: Re: Meeting\n"
		  "Message-ID: <2@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 03:00:00 +0000\nSubject: other\n"
		  "Message-ID: <3@x>\n\n", 0, 0, 1, 0, 0 },
	};
	/* Two that are not replies: siblings under a dummy. */
	static const struct fmsg both[] = {
		{ "Date: 1 Jan 2024 01:00:00 +0000\nSubject: Lunch\n"
		  "Message-ID: <1@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 02:00:00 +0000\nSubject: lunch\n"
		  "Message-ID: <2@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 03:00:00 +0000\nSubject: Re: lunch\n"
		  "Message-ID: <3@x>\n\n", 0, 0, 1, 0, 0 },
	};
	/* A dummy and a message of one subject: the message goes under. */
	static const struct fmsg dm[] = {
		{ "Date: 1 Jan 2024 01:00:00 +0000\nSubject: Plan\n"
		  "Message-ID: <1@x>\nReferences: <gone@x>\n\n",
		  0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 02:00:00 +0000\nSubject: Plan\n"
		  "Message-ID: <2@x>\nReferences: <gone@x>\n\n",
		  0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 00:30:00 +0000\nSubject: Re: Plan\n"
		  "Message-ID: <3@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 00:10:00 +0000\nSubject: Plan\n"
		  "Message-ID: <4@x>\nReferences: <gone2@x>\n\n",
		  0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 00:20:00 +0000\nSubject: Plan\n"
		  "Message-ID: <5@x>\nReferences: <gone2@x>\n\n",
		  0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 00:05:00 +0000\n"
		  "Message-ID: <6@x>\n\n", 0, 0, 1, 0, 0 },
		{ "Date: 1 Jan 2024 00:06:00 +0000\nSubject: Re:\n"
		  "Message-ID: <7@x>\n\n", 0, 0, 1, 0, 0 },
	};
	struct fake	 f;

	test_begin("thread: grouping by base subject");
	fake_init(&f, join, nitems(join));
	test_assert(thread_is(&f, IMAP_THREAD_REFERENCES, 0, "(1 2)(3)"));
	fake_free(&f);
	fake_init(&f, both, nitems(both));
	test_assert(thread_is(&f, IMAP_THREAD_REFERENCES, 0,
	    "((1)(2)(3))"));
	fake_free(&f);
	fake_init(&f, dm, nitems(dm));
	test_assert(thread_is(&f, IMAP_THREAD_REFERENCES, 0,
	    "(6)(7)((4)(5)(3)(1)(2))"));
	fake_free(&f);
	test_end();
}

int
main(void)
{
	test_hostile_programs();
	test_gone();
	test_big();
	test_flags_sets();
	test_dates_sizes();
	test_headers();
	test_text();
	test_logic();
	test_cost();
	test_fold();
	test_helpers();
	test_sort();
	test_thread_rfc();
	test_thread_broken();
	test_thread_subjects();
	return test_exit();
}
