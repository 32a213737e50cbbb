/*
 * STORE (RFC 9051 6.4.6, RFC 7162 UNCHANGEDSINCE), COPY and MOVE
 * (RFC 9051 6.4.7, RFC 6851, RFC 4315 COPYUID): the session side of
 * mbox_store, mbox_copy and mbox_move.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "imap_session.h"
#include "log.h"
#include "util.h"

#define CODE_MAX	(64 * 1024 * 1024)	/* a MODIFIED or COPYUID code */

/* A reply whose response code may be longer than imap_ok() takes. */
static void
reply_code(struct imap_session *s, const struct imap_cmd *cmd,
    const char *status, const struct buf *code, const char *text)
{
	struct buf	 b = BUF_INIT(CODE_MAX + 1024);

	if (cmd != NULL)
		(void)buf_printf(&b, "%s %s ", cmd->tag[0] ? cmd->tag : "*",
		    status);
	else
		(void)buf_printf(&b, "* %s ", status);
	if (code->len > 0 && !code->over)
		(void)buf_printf(&b, "[%s] ", code->data);
	(void)buf_printf(&b, "%s\r\n", text);
	imap_write(s, b.data, b.len);
	buf_free(&b);
	s->errors = 0;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * STORE.
 */

static unsigned
store_flags(unsigned sys)
{
	unsigned	 f = 0;

	if (sys & IMAP_FLAG_ANSWERED)
		f |= MBOX_ANSWERED;
	if (sys & IMAP_FLAG_FLAGGED)
		f |= MBOX_FLAGGED;
	if (sys & IMAP_FLAG_DELETED)
		f |= MBOX_DELETED;
	if (sys & IMAP_FLAG_SEEN)
		f |= MBOX_SEEN;
	if (sys & IMAP_FLAG_DRAFT)
		f |= MBOX_DRAFT;
	return f;
}

/* Keywords to bits, made on the fly unless removed: 0 or -1 (sent NO). */
static int
store_keywords(struct imap_session *s, const struct imap_cmd *cmd,
    const struct imap_store *st, uint32_t *bits, int *created)
{
	size_t	 i;
	int	 bit, used;
	unsigned k;

	*bits = 0;
	*created = 0;
	for (i = 0; i < st->flags.nkw; i++) {
		bit = mbox_keyword_bit(s->mbox, st->flags.kw[i], 0);
		if (bit == -1 && st->op != IMAP_STORE_REMOVE) {
			bit = mbox_keyword_bit(s->mbox, st->flags.kw[i], 1);
			if (bit == -1) {
				for (k = 0, used = 0; k < MSTORE_KEYWORDS; k++)
					used += mbox_keyword_name(s->mbox, k) !=
					    NULL;
				if (mstore_error(s->store) == MSTORE_E_LIMIT ||
				    used >= MSTORE_KEYWORDS)
					imap_no(s, cmd, "[LIMIT] Too many"
					    " keywords in this folder");
				else
					imap_no(s, cmd, "[CANNOT] Invalid"
					    " keyword");
				return -1;
			}
			*created = 1;
		}
		if (bit >= 0 && bit < 32)
			*bits |= 1U << bit;
	}
	return 0;
}

/* "* n FETCH (UID u MODSEQ (m))": what .SILENT still owes (RFC 7162). */
static void
fetch_modseq(struct imap_session *s, size_t idx, int uid)
{
	const struct mbox_msg	*m = mbox_msg(s->mbox, idx);

	if (m == NULL)
		return;
	if (uid || (s->enabled & IMAP_EN_QRESYNC))
		imap_untagged(s, "%zu FETCH (UID %u MODSEQ (%llu))", idx + 1,
		    m->uid, (unsigned long long)m->modseq);
	else
		imap_untagged(s, "%zu FETCH (MODSEQ (%llu))", idx + 1,
		    (unsigned long long)m->modseq);
}

void
cmd_store(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_store	 st;
	struct mbox_sync	 sy;
	struct buf		 code = BUF_INIT(CODE_MAX);
	const struct mbox_msg	*m;
	const char		*err = NULL;
	size_t			*idx = NULL, *failed = NULL, n = 0, nfailed = 0;
	size_t			 i;
	struct mbox_msg		*before = NULL;
	uint32_t		*fu = NULL, kw;
	unsigned char		*isfailed = NULL;
	enum mbox_flag_op	 op;
	int			 created;

	if (imap_store_parse(cmd, &st, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		goto done;
	}
	if (imap_set_indexes(s, &st.set, cmd->uid, &idx, &n, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		goto done;
	}
	if (st.unchangedsince_set)
		s->enabled |= IMAP_EN_CONDSTORE;
	if (s->readonly) {
		imap_no(s, cmd, "[READ-ONLY] The folder is read-only");
		goto done;
	}
	if (n == 0) {
		imap_sync(s, cmd->uid);
		imap_ok(s, cmd, "%sSTORE completed", cmd->uid ? "UID " : "");
		goto done;
	}
	if (store_keywords(s, cmd, &st, &kw, &created) == -1)
		goto done;
	op = st.op == IMAP_STORE_ADD ? MBOX_FLAGS_ADD :
	    st.op == IMAP_STORE_REMOVE ? MBOX_FLAGS_REMOVE : MBOX_FLAGS_SET;

	before = xreallocarray(NULL, n, sizeof(*before));
	failed = xreallocarray(NULL, n, sizeof(*failed));
	for (i = 0; i < n; i++) {
		m = mbox_msg(s->mbox, idx[i]);
		memset(&before[i], 0, sizeof(before[i]));
		if (m != NULL)
			before[i] = *m;
	}
	if (st.unchangedsince_set && st.unchangedsince == 0) {
		/* No message has MODSEQ 0: every one fails the test. */
		memcpy(failed, idx, n * sizeof(*idx));
		nfailed = n;
	} else if (mbox_store(s->mbox, idx, n, op,
	    store_flags(st.flags.sys), kw, st.unchangedsince_set ?
	    st.unchangedsince : 0, failed, &nfailed, &err) == -1) {
		imap_no_store(s, cmd, mstore_error(s->store), err);
		goto done;
	}
	if (created) {
		/* New keywords: FLAGS and PERMANENTFLAGS again. */
		memset(&sy, 0, sizeof(sy));
		sy.keywords = 1;
		sy.exists = mbox_count(s->mbox);
		imap_report(s, &sy);
	}
	if (nfailed > 0) {
		isfailed = xcalloc(mbox_count(s->mbox) / 8 + 1, 1);
		fu = xreallocarray(NULL, nfailed, sizeof(*fu));
		for (i = 0; i < nfailed; i++) {
			if (failed[i] < mbox_count(s->mbox))
				isfailed[failed[i] / 8] |=
				    (unsigned char)(1U << (failed[i] % 8));
			m = mbox_msg(s->mbox, failed[i]);
			fu[i] = cmd->uid ? (m != NULL ? m->uid : 0) :
			    (uint32_t)(failed[i] + 1);
		}
	}
	/* The changed ones, as Dovecot does: unchanged flags are known. */
	for (i = 0; i < n; i++) {
		if (isfailed != NULL && idx[i] < mbox_count(s->mbox) &&
		    (isfailed[idx[i] / 8] & (1U << (idx[i] % 8))))
			continue;
		if ((m = mbox_msg(s->mbox, idx[i])) == NULL ||
		    (m->modseq == before[i].modseq &&
		    m->flags == before[i].flags &&
		    m->keywords == before[i].keywords))
			continue;
		if (!st.silent)
			imap_fetch_flags(s, idx[i], cmd->uid);
		else if (s->enabled & IMAP_EN_CONDSTORE)
			fetch_modseq(s, idx[i], cmd->uid);
	}
	imap_sync(s, cmd->uid);
	if (nfailed > 0) {
		qsort(fu, nfailed, sizeof(*fu), u32_cmp);
		(void)buf_addstr(&code, "MODIFIED ");
		(void)fetch_set_out(&code, fu, nfailed);
		reply_code(s, cmd, "OK", &code, "Conditional STORE failed");
	} else
		imap_ok(s, cmd, "%sSTORE completed", cmd->uid ? "UID " : "");
 done:
	buf_free(&code);
	free(isfailed);
	free(fu);
	free(before);
	free(failed);
	free(idx);
	imap_store_free(&st);
}

/*
 * COPY and MOVE.
 */

struct uid_pair {
	uint32_t	 src;
	uint32_t	 dst;
};

static int
pair_cmp(const void *a, const void *b)
{
	const struct uid_pair	*x = a, *y = b;

	return x->src < y->src ? -1 : x->src > y->src;
}

/* "COPYUID uidvalidity src dst", both in the order of the source. */
static void
copyuid(struct buf *code, uint32_t uidvalidity, const uint32_t *src,
    const uint32_t *dst, size_t n)
{
	struct uid_pair	*pr;
	uint32_t	*v;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (src[i] == 0 || dst[i] == 0)
			return;		/* the store could not tell */
	pr = xreallocarray(NULL, n, sizeof(*pr));
	v = xreallocarray(NULL, n, sizeof(*v));
	for (i = 0; i < n; i++) {
		pr[i].src = src[i];
		pr[i].dst = dst[i];
	}
	qsort(pr, n, sizeof(*pr), pair_cmp);
	(void)buf_printf(code, "COPYUID %u ", uidvalidity);
	for (i = 0; i < n; i++)
		v[i] = pr[i].src;
	(void)fetch_set_out(code, v, n);
	(void)buf_addc(code, ' ');
	for (i = 0; i < n; i++)
		v[i] = pr[i].dst;
	(void)fetch_set_out(code, v, n);
	free(v);
	free(pr);
}

void
cmd_copy(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_copy	 c;
	struct mbox_sync	 sy;
	struct buf		 code = BUF_INIT(CODE_MAX);
	const struct mbox_msg	*m;
	const char		*err = NULL;
	size_t			*idx = NULL, n = 0, i;
	uint32_t		*src = NULL, *dst = NULL, uidvalidity = 0;
	enum mstore_err		 e;
	int			 move = cmd->cmd == IMAP_CMD_MOVE, rc;

	memset(&sy, 0, sizeof(sy));
	if (imap_copy_parse(cmd, imap_utf8(s), &c, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		goto done;
	}
	if (imap_set_indexes(s, &c.set, cmd->uid, &idx, &n, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		goto done;
	}
	if (move && s->readonly) {
		imap_no(s, cmd, "[READ-ONLY] The folder is read-only");
		goto done;
	}
	if (n == 0) {
		/* UID COPY of UIDs that are gone: nothing to do. */
		imap_sync(s, 1);
		imap_ok(s, cmd, "No messages found");
		goto done;
	}
	src = xreallocarray(NULL, n, sizeof(*src));
	dst = xcalloc(n, sizeof(*dst));
	for (i = 0; i < n; i++) {
		m = mbox_msg(s->mbox, idx[i]);
		src[i] = m != NULL ? m->uid : 0;
	}
	if (move)
		rc = mbox_move(s->mbox, idx, n, c.mailbox, &uidvalidity, dst,
		    &sy, &err);
	else
		rc = mbox_copy(s->mbox, idx, n, c.mailbox, &uidvalidity, dst,
		    &err);
	if (rc == -1) {
		e = mstore_error(s->store);
		if (e == MSTORE_E_NONEXISTENT)
			imap_no(s, cmd, "[TRYCREATE] No such folder");
		else
			imap_no_store(s, cmd, e, err);
		goto done;
	}
	copyuid(&code, uidvalidity, src, dst, n);
	if (move) {
		/* RFC 6851 4.3: COPYUID first, then the expunges. */
		reply_code(s, NULL, "OK", &code, "Moved UIDs.");
		imap_report(s, &sy);
		imap_sync(s, 1);
		/* The expunges moved HIGHESTMODSEQ: say where to (QRESYNC). */
		if (s->enabled & IMAP_EN_QRESYNC)
			imap_ok(s, cmd, "[HIGHESTMODSEQ %llu] %sMOVE completed",
			    (unsigned long long)mbox_highestmodseq(s->mbox),
			    cmd->uid ? "UID " : "");
		else
			imap_ok(s, cmd, "%sMOVE completed", cmd->uid ?
			    "UID " : "");
	} else {
		imap_sync(s, 1);
		reply_code(s, cmd, "OK", &code, cmd->uid ?
		    "UID COPY completed" : "COPY completed");
	}
 done:
	mbox_sync_free(&sy);
	buf_free(&code);
	free(src);
	free(dst);
	free(idx);
	imap_copy_free(&c);
}
