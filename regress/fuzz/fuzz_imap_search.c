/*
 * libFuzzer target for SEARCH, SORT and THREAD (imapd/search.c) over
 * hostile programs and hostile messages.
 *
 * Input: the first line is the search program (what follows "SEARCH"),
 * the first byte of it picks the command; the rest is up to MAX_MSGS
 * messages separated by NUL bytes, each in a buffer of its exact size.
 * Flags, keywords, UIDs, sizes and dates of each message come from a
 * hash of its bytes.
 *
 * Oracles: results ascending and in range; "NOT (program)" matches
 * exactly the others; a run through the cache (filled, then read back)
 * matches as the files do; SORT is a permutation of the matches; the
 * THREAD answer follows the RFC 5256 grammar and holds every match
 * exactly once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_parser.h"
#include "search.h"
#include "util.h"

#define MAX_MSGS	16
#define MAX_LINE	4096

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fz {
	char		*buf[MAX_MSGS];
	size_t		 len[MAX_MSGS];
	struct search_msg m[MAX_MSGS];
	size_t		 n;
	int		 open_now;
	int		 gone;
	unsigned char	*cache[MAX_MSGS];
	size_t		 clen[MAX_MSGS];
	uint32_t	 saved[2];
};

static uint64_t
fnv(const char *p, size_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int
z_msg(void *arg, size_t idx, struct search_msg *out)
{
	struct fz	*z = arg;

	if (idx >= z->n || (int)idx == z->gone)
		return -1;
	*out = z->m[idx];
	return 0;
}

static int
z_keyword(void *arg, const char *kw)
{
	(void)arg;
	if (strcasecmp(kw, "$a") == 0)
		return 0;
	if (strcasecmp(kw, "b") == 0)
		return 1;
	return -1;
}

static int
z_open(void *arg, size_t idx, const char **data, size_t *len)
{
	struct fz	*z = arg;

	if (idx >= z->n || z->open_now)
		abort();
	z->open_now = 1;
	*data = z->buf[idx];
	*len = z->len[idx];
	return 0;
}

static void
z_release(void *arg, size_t idx)
{
	struct fz	*z = arg;

	(void)idx;
	if (!z->open_now)
		abort();
	z->open_now = 0;
}

static int
z_cache_get(void *arg, size_t idx, const void **data, size_t *len)
{
	struct fz	*z = arg;

	if (idx >= z->n || z->cache[idx] == NULL)
		return -1;
	*data = z->cache[idx];
	*len = z->clen[idx];
	return 0;
}

static void
z_cache_put(void *arg, size_t idx, const void *data, size_t len)
{
	struct fz	*z = arg;

	if (idx >= z->n || len > 65536)
		abort();
	free(z->cache[idx]);
	z->cache[idx] = xmalloc(len > 0 ? len : 1);
	memcpy(z->cache[idx], data, len);
	z->clen[idx] = len;
}

static void
z_src(struct fz *z, struct search_src *src, int cache)
{
	memset(src, 0, sizeof(*src));
	src->arg = z;
	src->count = z->n;
	src->msg = z_msg;
	src->keyword = z_keyword;
	src->open = z_open;
	src->release = z_release;
	if (cache) {
		src->cache_get = z_cache_get;
		src->cache_put = z_cache_put;
		src->cache_max = 65536;
	}
	src->saved = z->saved;
	src->nsaved = 2;
}

/* The command of a line, or -1. */
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

/* The matches of "x SEARCH <keys>", or -1 if it does not parse. */
static int
run(struct fz *z, const char *keys, int cache, struct search_result *res)
{
	struct imap_cmd		 cmd;
	struct imap_search_prog	 prog;
	struct search_src	 src;
	const char		*err;
	char			*line;
	size_t			 i;
	int			 rc = -1;

	line = xasprintf("x SEARCH %s", keys);
	if (parse(line, &cmd) == 0 && imap_search_parse(&cmd, &prog,
	    &err) == 0) {
		z_src(z, &src, cache);
		rc = search_run(&src, &prog, res, &err);
		imap_search_free(&prog);
		if (z->open_now)
			abort();
		for (i = 0; rc == 0 && i < res->n; i++)
			if (res->idx[i] >= z->n ||
			    (int)res->idx[i] == z->gone ||
			    (i > 0 && res->idx[i] <= res->idx[i - 1]))
				abort();
	}
	imap_cmd_free(&cmd);
	free(line);
	return rc;
}

static int
same(const struct search_result *a, const struct search_result *b)
{
	return a->n == b->n && (a->n == 0 ||
	    memcmp(a->idx, b->idx, a->n * sizeof(*a->idx)) == 0);
}

/* RFC 5256 thread-list, without recursion; each match once. */
static int
thread_valid(const char *s, const struct search_result *res)
{
	enum { START, MEMBERS, NESTED }	 mode[8192];
	size_t				 nlists[8192], sp = 0, i, k;
	unsigned long			 v;
	char				*end;
	int				 seen[MAX_MSGS + 1] = { 0 };

	for (i = 0; s[i] != '\0';) {
		if (s[i] == '(') {
			if (sp == nitems(mode))
				return 0;
			if (sp > 0) {
				if (mode[sp - 1] == START ||
				    (mode[sp - 1] == MEMBERS &&
				    s[i - 1] == ' '))
					mode[sp - 1] = NESTED;
				else if (mode[sp - 1] != NESTED ||
				    s[i - 1] != ')')
					return 0;
			}
			mode[sp] = START;
			nlists[sp++] = 0;
			i++;
		} else if (s[i] >= '1' && s[i] <= '9') {
			if (sp == 0 || !(mode[sp - 1] == START ||
			    (mode[sp - 1] == MEMBERS && s[i - 1] == ' ')))
				return 0;
			v = strtoul(s + i, &end, 10);
			if (v == 0 || v > MAX_MSGS || seen[v])
				return 0;
			seen[v] = 1;
			mode[sp - 1] = MEMBERS;
			i = (size_t)(end - s);
		} else if (s[i] == ' ') {
			if (sp == 0 || mode[sp - 1] != MEMBERS)
				return 0;
			i++;
		} else if (s[i] == ')') {
			if (sp == 0 || !(mode[sp - 1] == MEMBERS ||
			    (mode[sp - 1] == NESTED && nlists[sp - 1] >= 2)))
				return 0;
			if (--sp > 0)
				nlists[sp - 1]++;
			i++;
		} else
			return 0;
	}
	if (sp != 0)
		return 0;
	for (k = 0, v = 1; v <= MAX_MSGS; v++)
		if (seen[v]) {
			if (k >= res->n || res->idx[k] + 1 != v)
				return 0;
			k++;
		}
	return k == res->n;
}

static void
check_sort(struct fz *z, const char *keys, const struct search_result *res)
{
	static const char *const crit[] = {
		"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
		"DISPLAYFROM", "DISPLAYTO", "REVERSE DATE",
		"SUBJECT REVERSE TO",
	};
	struct imap_cmd		 cmd;
	struct imap_sort	 so;
	struct search_src	 src;
	const char		*err;
	char			*line;
	size_t			 i, *v;
	int			 seen[MAX_MSGS] = { 0 };

	line = xasprintf("x SORT (%s) UTF-8 %s",
	    crit[fnv(keys, strlen(keys)) % nitems(crit)], keys);
	if (parse(line, &cmd) == 0 && imap_sort_parse(&cmd, &so, &err) == 0) {
		z_src(z, &src, 0);
		v = xreallocarray(NULL, res->n + 1, sizeof(*v));
		if (res->n > 0)
			memcpy(v, res->idx, res->n * sizeof(*v));
		search_sort(&src, &so, v, res->n);
		for (i = 0; i < res->n; i++) {
			if (v[i] >= MAX_MSGS || seen[v[i]])
				abort();
			seen[v[i]] = 1;
		}
		for (i = 0; i < res->n; i++)
			if (!seen[res->idx[i]])
				abort();
		free(v);
		imap_sort_free(&so);
	}
	imap_cmd_free(&cmd);
	free(line);
}

static void
check_thread(struct fz *z, enum imap_thread_alg alg,
    const struct search_result *res)
{
	struct search_src	 src;
	struct buf		 b;

	z_src(z, &src, 0);
	buf_init(&b, res->n * 32 + 64);
	if (search_thread(&src, alg, res->idx, res->n, 0, &b) == -1 ||
	    !thread_valid(b.data != NULL ? b.data : "", res)) {
		(void)fprintf(stderr, "bad thread: %s\n", b.data);
		abort();
	}
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz		 z;
	struct search_result	 res, neg, cached, again;
	const char		*p = (const char *)data, *end = p + size, *q;
	char			 keys[MAX_LINE], *notkeys;
	size_t			 i, n, ll;
	uint64_t		 h;
	int			 mode;

	if (size < 2)
		return 0;
	mode = (unsigned char)p[0] % 4;
	p++;
	q = memchr(p, '\n', (size_t)(end - p));
	ll = q != NULL ? (size_t)(q - p) : (size_t)(end - p);
	if (ll >= sizeof(keys) || memchr(p, '\0', ll) != NULL ||
	    memchr(p, '\r', ll) != NULL)
		return 0;
	memcpy(keys, p, ll);
	keys[ll] = '\0';
	p = q != NULL ? q + 1 : end;

	memset(&z, 0, sizeof(z));
	z.gone = -1;
	while (p <= end && z.n < MAX_MSGS) {
		q = memchr(p, '\0', (size_t)(end - p));
		n = q != NULL ? (size_t)(q - p) : (size_t)(end - p);
		z.buf[z.n] = xmalloc(n > 0 ? n : 1);
		memcpy(z.buf[z.n], p, n);
		z.len[z.n] = n;
		h = fnv(p, n);
		z.m[z.n].uid = (uint32_t)(z.n * 3 + 1 + (h & 1));
		z.m[z.n].flags = (unsigned)(h >> 8) & 0x3f;
		z.m[z.n].keywords = (uint32_t)(h >> 16) & 3;
		z.m[z.n].modseq = (h >> 20) & 15;
		z.m[z.n].size = n + (h >> 24) % 8;
		z.m[z.n].internaldate = (time_t)(1700000000 +
		    (int64_t)((h >> 32) % 4000) * 86400 - 2000 * 86400LL);
		z.n++;
		if (q == NULL)
			break;
		p = q + 1;
	}
	if (z.n > 2 && (data[0] & 0x80))
		z.gone = 1;
	z.saved[0] = 4;
	z.saved[1] = 7;

	if (run(&z, keys, 0, &res) == 0) {
		/* NOT matches exactly the others. */
		notkeys = xasprintf("NOT (%s)", keys);
		if (run(&z, notkeys, 0, &neg) == 0) {
			for (i = 0, n = 0; i < z.n; i++) {
				int	 a = 0, b = 0;
				size_t	 k;

				for (k = 0; k < res.n; k++)
					a |= res.idx[k] == i;
				for (k = 0; k < neg.n; k++)
					b |= neg.idx[k] == i;
				if ((int)i == z.gone ? (a || b) : a == b)
					abort();
			}
			search_result_free(&neg);
		}
		free(notkeys);
		/* The cache, filled then read, changes nothing. */
		if (run(&z, keys, 1, &cached) == 0) {
			if (!same(&res, &cached))
				abort();
			search_result_free(&cached);
		}
		if (run(&z, keys, 1, &again) == 0) {
			if (!same(&res, &again))
				abort();
			search_result_free(&again);
		}
		if (mode == 1)
			check_sort(&z, keys, &res);
		else if (mode == 2)
			check_thread(&z, IMAP_THREAD_REFERENCES, &res);
		else if (mode == 3)
			check_thread(&z, IMAP_THREAD_ORDEREDSUBJECT, &res);
		search_result_free(&res);
	}
	for (i = 0; i < z.n; i++) {
		free(z.buf[i]);
		free(z.cache[i]);
	}
	return 0;
}
