/*
 * SEARCH, UID SEARCH (RFC 9051 6.4.4, RFC 4731 ESEARCH, RFC 5182
 * SEARCHRES, RFC 7162 MODSEQ), SORT, UID SORT, THREAD and UID THREAD
 * (RFC 5256, RFC 5957): the selected folder as a search_src for the
 * pure work in search.c, and the answers.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap_session.h"
#include "imapstr.h"
#include "search.h"
#include "util.h"

#define OUT_CHUNK	(64 * 1024)	/* written out when this full */

/* The message a key is reading, mapped. */
struct src_ctx {
	struct imap_session	*s;
	int			 fd;
	void			*map;
	size_t			 maplen;
};

static int
src_msg(void *arg, size_t idx, struct search_msg *out)
{
	static const struct {
		unsigned	 mbox;
		unsigned	 imap;
	} flags[] = {
		{ MBOX_SEEN, IMAP_FLAG_SEEN },
		{ MBOX_ANSWERED, IMAP_FLAG_ANSWERED },
		{ MBOX_FLAGGED, IMAP_FLAG_FLAGGED },
		{ MBOX_DELETED, IMAP_FLAG_DELETED },
		{ MBOX_DRAFT, IMAP_FLAG_DRAFT },
		{ MBOX_RECENT, IMAP_FLAG_RECENT },
	};
	struct src_ctx		*sc = arg;
	const struct mbox_msg	*m;
	size_t			 i;

	if ((m = mbox_msg(sc->s->mbox, idx)) == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	out->uid = m->uid;
	for (i = 0; i < nitems(flags); i++)
		if (m->flags & flags[i].mbox)
			out->flags |= flags[i].imap;
	out->keywords = m->keywords;
	out->modseq = m->modseq;
	out->size = m->wire_size;
	out->internaldate = mbox_internaldate(sc->s->mbox, idx);
	return 0;
}

static int
src_keyword(void *arg, const char *kw)
{
	struct src_ctx	*sc = arg;

	return mbox_keyword_bit(sc->s->mbox, kw, 0);
}

static int
src_open(void *arg, size_t idx, const char **data, size_t *len)
{
	struct src_ctx	*sc = arg;
	struct stat	 st;
	void		*p;
	int		 fd;

	if ((fd = mbox_open_message(sc->s->mbox, idx)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || st.st_size < 0 ||
	    (uint64_t)st.st_size > SIZE_MAX) {
		(void)close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		sc->fd = fd;
		sc->map = NULL;
		sc->maplen = 0;
		*data = "";
		*len = 0;
		return 0;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		(void)close(fd);
		return -1;
	}
	sc->fd = fd;
	sc->map = p;
	sc->maplen = (size_t)st.st_size;
	*data = p;
	*len = sc->maplen;
	return 0;
}

static void
src_release(void *arg, size_t idx)
{
	struct src_ctx	*sc = arg;

	(void)idx;
	session_unmap(sc->map, sc->maplen, "SEARCH");
	if (sc->fd != -1)
		(void)close(sc->fd);
	sc->map = NULL;
	sc->maplen = 0;
	sc->fd = -1;
}

static int
src_cache_get(void *arg, size_t idx, const void **data, size_t *len)
{
	struct src_ctx		*sc = arg;
	const struct mbox_msg	*m;

	if ((m = mbox_msg(sc->s->mbox, idx)) == NULL)
		return -1;
	return mbox_cache_get(sc->s->mbox, m->uid, MBOX_CACHE_SORT, data,
	    len);
}

static void
src_cache_put(void *arg, size_t idx, const void *data, size_t len)
{
	struct src_ctx		*sc = arg;
	const struct mbox_msg	*m;

	if ((m = mbox_msg(sc->s->mbox, idx)) != NULL)
		(void)mbox_cache_put(sc->s->mbox, m->uid, MBOX_CACHE_SORT,
		    data, len);
}

static void
src_init(struct search_src *src, struct src_ctx *sc, struct imap_session *s)
{
	memset(sc, 0, sizeof(*sc));
	sc->s = s;
	sc->fd = -1;
	memset(src, 0, sizeof(*src));
	src->arg = sc;
	src->count = mbox_count(s->mbox);
	src->msg = src_msg;
	src->keyword = src_keyword;
	src->open = src_open;
	src->release = src_release;
	src->cache_get = src_cache_get;
	src->cache_put = src_cache_put;
	src->cache_max = MSTORE_CACHE_REC_MAX;
	if (s->saved_valid) {
		src->saved = s->saved;
		src->nsaved = s->nsaved;
	}
}

static uint32_t
number(struct imap_session *s, size_t idx, int uid)
{
	const struct mbox_msg	*m;

	if (!uid)
		return (uint32_t)(idx + 1);
	return (m = mbox_msg(s->mbox, idx)) != NULL ? m->uid : 0;
}

static uint64_t
modseq_of(struct imap_session *s, size_t idx)
{
	const struct mbox_msg	*m = mbox_msg(s->mbox, idx);

	return m != NULL ? m->modseq : 0;
}

/* Write b out once it is big: answers of any length, bounded memory. */
static void
flush(struct imap_session *s, struct buf *b, int all)
{
	if (b->len > 0 && (all || b->len >= OUT_CHUNK)) {
		imap_write(s, b->data, b->len);
		buf_reset(b);
	}
}

/* RFC 7162 3.1: MODSEQ in a search enables CONDSTORE. */
static void
condstore_enable(struct imap_session *s)
{
	if (s->enabled & IMAP_EN_CONDSTORE)
		return;
	s->enabled |= IMAP_EN_CONDSTORE;
	imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
	    (unsigned long long)mbox_highestmodseq(s->mbox));
}

/* RFC 5182 2.1: a failed SEARCH with SAVE leaves an empty result. */
static void
saved_reset(struct imap_session *s)
{
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
	s->saved_valid = 1;
}

/* Did the client ask for SAVE? (for a command that did not parse) */
static int
asks_save(const struct imap_cmd *cmd)
{
	const struct imap_arg	*a;
	size_t			 i;

	if (cmd->nargs < 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    strcasecmp(cmd->args[0].s, "RETURN") != 0 ||
	    cmd->args[1].type != IMAP_ARG_LIST)
		return 0;
	a = &cmd->args[1];
	for (i = 0; i < a->nlist; i++)
		if (a->list[i].type == IMAP_ARG_ATOM &&
		    strcasecmp(a->list[i].s, "SAVE") == 0)
			return 1;
	return 0;
}

static void
saved_set(struct imap_session *s, const size_t *idx, size_t n)
{
	size_t	 i;

	saved_reset(s);
	if (n == 0)
		return;
	s->saved = xreallocarray(NULL, n, sizeof(*s->saved));
	for (i = 0; i < n; i++)
		s->saved[i] = number(s, idx[i], 1);
	s->nsaved = n;
}

/* A sequence set of ascending numbers: "1:3,5". */
static void
add_set(struct imap_session *s, struct buf *b, const size_t *idx, size_t n,
    int uid)
{
	uint32_t	 lo, hi, v;
	size_t		 i;

	lo = hi = number(s, idx[0], uid);
	for (i = 1; i <= n; i++) {
		v = i < n ? number(s, idx[i], uid) : 0;
		if (i < n && v == hi + 1) {
			hi = v;
			continue;
		}
		if (lo == hi)
			(void)buf_printf(b, "%u", lo);
		else
			(void)buf_printf(b, "%u:%u", lo, hi);
		if (i < n)
			(void)buf_addc(b, ',');
		flush(s, b, 0);
		lo = hi = v;
	}
}

static void
esearch(struct imap_session *s, const struct imap_cmd *cmd, unsigned ret,
    const struct search_result *res)
{
	struct buf	 b = BUF_INIT(2 * OUT_CHUNK);
	uint64_t	 ms = 0;
	size_t		 i;

	(void)buf_addstr(&b, "* ESEARCH (TAG ");
	(void)imap_add_string(&b, cmd->tag, strlen(cmd->tag), 0);
	(void)buf_addc(&b, ')');
	if (cmd->uid)
		(void)buf_addstr(&b, " UID");
	if (res->n > 0) {
		if (ret & IMAP_SEARCH_RET_MIN)
			(void)buf_printf(&b, " MIN %u",
			    number(s, res->idx[0], cmd->uid));
		if (ret & IMAP_SEARCH_RET_MAX)
			(void)buf_printf(&b, " MAX %u",
			    number(s, res->idx[res->n - 1], cmd->uid));
	}
	if ((ret & IMAP_SEARCH_RET_ALL) && res->n > 0) {
		(void)buf_addstr(&b, " ALL ");
		add_set(s, &b, res->idx, res->n, cmd->uid);
	}
	if (ret & IMAP_SEARCH_RET_COUNT)
		(void)buf_printf(&b, " COUNT %zu", res->n);
	if (res->modseq && res->n > 0) {
		/* Of the messages the answer is about (RFC 7162 3.1.5). */
		if (ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) {
			for (i = 0; i < res->n; i++)
				if (modseq_of(s, res->idx[i]) > ms)
					ms = modseq_of(s, res->idx[i]);
		} else {
			if (ret & IMAP_SEARCH_RET_MIN)
				ms = modseq_of(s, res->idx[0]);
			if ((ret & IMAP_SEARCH_RET_MAX) &&
			    modseq_of(s, res->idx[res->n - 1]) > ms)
				ms = modseq_of(s, res->idx[res->n - 1]);
		}
		(void)buf_printf(&b, " MODSEQ %llu", (unsigned long long)ms);
	}
	(void)buf_addstr(&b, "\r\n");
	flush(s, &b, 1);
	buf_free(&b);
}

/* "* SEARCH 1 2 3 (MODSEQ n)", "* SORT ...": numbers in the given order. */
static void
numbers(struct imap_session *s, const char *what, const size_t *idx,
    size_t n, int uid, int modseq)
{
	struct buf	 b = BUF_INIT(2 * OUT_CHUNK);
	uint64_t	 ms = 0;
	size_t		 i;

	(void)buf_printf(&b, "* %s", what);
	for (i = 0; i < n; i++) {
		(void)buf_printf(&b, " %u", number(s, idx[i], uid));
		if (modseq && modseq_of(s, idx[i]) > ms)
			ms = modseq_of(s, idx[i]);
		flush(s, &b, 0);
	}
	if (modseq && n > 0)
		(void)buf_printf(&b, " (MODSEQ %llu)", (unsigned long long)ms);
	(void)buf_addstr(&b, "\r\n");
	flush(s, &b, 1);
	buf_free(&b);
}

/* Parse errors of the three commands: BAD, or NO [BADCHARSET]. */
static void
refuse(struct imap_session *s, const struct imap_cmd *cmd, int rc,
    const char *err)
{
	if (rc == IMAP_BADCHARSET)
		imap_no(s, cmd, "[BADCHARSET (UTF-8 US-ASCII)] %s", err);
	else
		imap_bad(s, cmd, "%s", err);
}

void
cmd_search(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_search_prog	 prog;
	struct search_result	 res;
	struct search_src	 src;
	struct src_ctx		 sc;
	const char		*err;
	size_t			 sv[2], nsv = 0;
	unsigned		 ret;
	int			 rc;

	if ((rc = imap_search_parse(cmd, &prog, &err)) != 0) {
		if (asks_save(cmd))
			saved_reset(s);
		refuse(s, cmd, rc, err);
		return;
	}
	src_init(&src, &sc, s);
	if (search_run(&src, &prog, &res, &err) == -1) {
		if (prog.ret & IMAP_SEARCH_RET_SAVE)
			saved_reset(s);
		imap_search_free(&prog);
		imap_bad(s, cmd, "%s", err);
		return;
	}
	if (res.modseq)
		condstore_enable(s);
	ret = prog.ret;
	if (!prog.esearch && (s->enabled & IMAP_EN_REV2))
		ret = IMAP_SEARCH_RET_ALL;	/* RFC 9051 6.4.4 */
	if (!prog.esearch && !(s->enabled & IMAP_EN_REV2))
		numbers(s, "SEARCH", res.idx, res.n, cmd->uid, res.modseq);
	else if (ret != IMAP_SEARCH_RET_SAVE)
		esearch(s, cmd, ret, &res);
	if (ret & IMAP_SEARCH_RET_SAVE) {
		/* RFC 5182 2.4: with MIN or MAX alone, only those. */
		if ((ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) &&
		    !(ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT))) {
			if (res.n > 0 && (ret & IMAP_SEARCH_RET_MIN))
				sv[nsv++] = res.idx[0];
			if (res.n > 0 && (ret & IMAP_SEARCH_RET_MAX) &&
			    (nsv == 0 || res.n > 1))
				sv[nsv++] = res.idx[res.n - 1];
			saved_set(s, sv, nsv);
		} else
			saved_set(s, res.idx, res.n);
	}
	search_result_free(&res);
	imap_search_free(&prog);
	imap_sync(s, cmd->uid);
	imap_ok(s, cmd, "%sSEARCH completed", cmd->uid ? "UID " : "");
}

void
cmd_sort(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_sort	 so;
	struct search_result	 res;
	struct search_src	 src;
	struct src_ctx		 sc;
	const char		*err;
	int			 rc;

	if ((rc = imap_sort_parse(cmd, &so, &err)) != 0) {
		refuse(s, cmd, rc, err);
		return;
	}
	src_init(&src, &sc, s);
	if (search_run(&src, &so.prog, &res, &err) == -1) {
		imap_sort_free(&so);
		imap_bad(s, cmd, "%s", err);
		return;
	}
	if (res.modseq)
		condstore_enable(s);
	search_sort(&src, &so, res.idx, res.n);
	numbers(s, "SORT", res.idx, res.n, cmd->uid, res.modseq);
	search_result_free(&res);
	imap_sort_free(&so);
	imap_sync(s, cmd->uid);
	imap_ok(s, cmd, "%sSORT completed", cmd->uid ? "UID " : "");
}

void
cmd_thread(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_thread	 th;
	struct search_result	 res;
	struct search_src	 src;
	struct src_ctx		 sc;
	struct buf		 b;
	const char		*err;
	int			 rc;

	if ((rc = imap_thread_parse(cmd, &th, &err)) != 0) {
		refuse(s, cmd, rc, err);
		return;
	}
	src_init(&src, &sc, s);
	if (search_run(&src, &th.prog, &res, &err) == -1) {
		imap_thread_free(&th);
		imap_bad(s, cmd, "%s", err);
		return;
	}
	if (res.modseq)
		condstore_enable(s);
	/* Each message: its number, a space and two parentheses at most,
	 * and as much again for the dummies. */
	buf_init(&b, res.n * 32 + 64);
	(void)buf_addstr(&b, "* THREAD");
	if (res.n > 0)
		(void)buf_addc(&b, ' ');
	rc = search_thread(&src, th.alg, res.idx, res.n, cmd->uid, &b);
	search_result_free(&res);
	imap_thread_free(&th);
	if (rc == -1) {
		buf_free(&b);
		imap_no(s, cmd, "[LIMIT] Too many messages to thread");
		return;
	}
	(void)buf_addstr(&b, "\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
	imap_sync(s, cmd->uid);
	imap_ok(s, cmd, "%sTHREAD completed", cmd->uid ? "UID " : "");
}
