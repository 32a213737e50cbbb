/*
 * FETCH and UID FETCH (RFC 9051 6.4.5, RFC 7162 CHANGEDSINCE and
 * VANISHED): the session side. fetch.c renders; this resolves the set,
 * sets \Seen, keeps ENVELOPE and BODYSTRUCTURE in the store's cache, maps
 * message files and writes the responses in steps, one chunk at a time
 * while the output is below IMAP_OUT_HIGHWATER, so a FETCH 1:* BODY[]
 * of any folder holds about that much plus one message's rendering.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "imap_session.h"
#include "log.h"
#include "util.h"

#define VANISHED_LINE	(64 * 1024)	/* one "* VANISHED" line at most */
#define DROP_STEP	(8 * 1024 * 1024) /* pages let go of at a time */

struct fetch_job {
	struct imap_fetch	 f;
	struct fetch_plan	 plan;
	size_t			*idx;
	size_t			 n;
	size_t			 next;
	unsigned char		*seen;		/* bitmap by index: \Seen set */
	size_t			 nseen;		/* bits */

	/* the message being sent */
	int			 active;
	struct fetch_render	 r;
	void			*map;
	size_t			 maplen;
	size_t			 dropped;	/* bytes of it let go of */

	struct buf		 out;
	struct buf		 flags;
	struct buf		 cache;

	int			 expunged;	/* some were gone */
	int			 ioerr;		/* some could not be read */
	const char		*code;		/* failed: NO [code] text */
	char			 text[128];
};

static int	 fetch_step(struct imap_session *);

static void
job_free(struct fetch_job *job)
{
	if (job->active)
		fetch_render_free(&job->r);
	session_unmap(job->map, job->maplen, "FETCH");
	fetch_plan_free(&job->plan);
	imap_fetch_free(&job->f);
	buf_free(&job->out);
	buf_free(&job->flags);
	buf_free(&job->cache);
	free(job->seen);
	free(job->idx);
	free(job);
}

/* Minutes east of UTC of the server's zone at t. */
static int
zone_of(time_t t)
{
	struct tm	 tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

static void
vanished_add(struct imap_session *s, struct buf *b, uint32_t lo, uint32_t hi)
{
	if (b->len == 0)
		(void)buf_addstr(b, "* VANISHED (EARLIER) ");
	else
		(void)buf_addc(b, ',');
	if (lo == hi)
		(void)buf_printf(b, "%u", lo);
	else
		(void)buf_printf(b, "%u:%u", lo, hi);
	if (b->len >= VANISHED_LINE) {
		(void)buf_addstr(b, "\r\n");
		imap_write(s, b->data, b->len);
		buf_reset(b);
	}
}

/*
 * VANISHED (EARLIER) (RFC 7162 3.2.6): the UIDs of the set below
 * UIDNEXT that the view does not hold. The store keeps no record of
 * when a message went, so this may name UIDs expunged long ago or never
 * used, which the RFC allows.
 */
static void
send_vanished(struct imap_session *s, const struct imap_seqset *set0)
{
	struct imap_seqset	 set = *set0;
	struct buf		 b = BUF_INIT(VANISHED_LINE + 64);
	size_t			 count = mbox_count(s->mbox), i, lo_i, mid;
	size_t			 r;
	uint64_t		 next;
	uint32_t		 top, lo, hi, u;

	if (mbox_uidnext(s->mbox) <= 1 || set0->dollar)
		return;
	top = mbox_uidnext(s->mbox) - 1;
	set.r = NULL;
	if (set0->n > 0) {
		set.r = xreallocarray(NULL, set0->n, sizeof(*set.r));
		memcpy(set.r, set0->r, set0->n * sizeof(*set.r));
	}
	imap_seqset_resolve(&set, top);
	for (r = 0; r < set.n; r++) {
		lo = set.r[r].lo == 0 ? 1 : set.r[r].lo;
		hi = set.r[r].hi > top ? top : set.r[r].hi;
		if (lo > hi)
			continue;
		/* The first message of the view with a UID >= lo. */
		for (lo_i = 0, i = count; lo_i < i;) {
			mid = lo_i + (i - lo_i) / 2;
			if (mbox_msg(s->mbox, mid)->uid < lo)
				lo_i = mid + 1;
			else
				i = mid;
		}
		next = lo;
		for (i = lo_i; i < count; i++) {
			if ((u = mbox_msg(s->mbox, i)->uid) > hi)
				break;
			if (u > next)
				vanished_add(s, &b, (uint32_t)next, u - 1);
			next = (uint64_t)u + 1;
		}
		if (next <= hi)
			vanished_add(s, &b, (uint32_t)next, hi);
	}
	if (b.len > 0) {
		(void)buf_addstr(&b, "\r\n");
		imap_write(s, b.data, b.len);
	}
	buf_free(&b);
	imap_seqset_free(&set);
}

/* Set \Seen where the FETCH reads a body (RFC 9051 6.4.5). */
static void
mark_seen(struct imap_session *s, struct fetch_job *job)
{
	const struct mbox_msg	*m;
	const char		*err;
	size_t			*unseen, k = 0, i;

	if (!job->plan.sets_seen || s->readonly || job->n == 0)
		return;
	unseen = xreallocarray(NULL, job->n, sizeof(*unseen));
	for (i = 0; i < job->n; i++) {
		m = mbox_msg(s->mbox, job->idx[i]);
		if (m != NULL && !(m->flags & MBOX_SEEN))
			unseen[k++] = job->idx[i];
	}
	if (k > 0 && mbox_store(s->mbox, unseen, k, MBOX_FLAGS_ADD,
	    MBOX_SEEN, 0, 0, NULL, NULL, &err) == -1)
		log_warnx("session %s: FETCH: cannot set \\Seen: %s",
		    s->si->user, err);
	else if (k > 0) {
		job->nseen = mbox_count(s->mbox);
		job->seen = xcalloc(job->nseen / 8 + 1, 1);
		for (i = 0; i < k; i++) {
			m = mbox_msg(s->mbox, unseen[i]);
			/* Gone meanwhile: the store skipped it. */
			if (m != NULL && (m->flags & MBOX_SEEN))
				job->seen[unseen[i] / 8] |=
				    (unsigned char)(1U << (unseen[i] % 8));
		}
	}
	free(unseen);
}

static int
seen_set(const struct fetch_job *job, size_t i)
{
	return job->seen != NULL && i < job->nseen &&
	    (job->seen[i / 8] & (1U << (i % 8)));
}

/* Map the message file: 0, or -1 (expunged or unreadable: skip it). */
static int
map_message(struct imap_session *s, struct fetch_job *job, size_t i,
    struct fetch_msg *msg)
{
	struct stat	 st;
	int		 fd;

	if ((fd = mbox_open_message(s->mbox, i)) == -1) {
		if (errno == ENOENT)
			job->expunged = 1;
		else {
			log_warn("session %s: FETCH: message %u",
			    s->si->user, msg->m->uid);
			job->ioerr = 1;
		}
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_size < 0 ||
	    (uint64_t)st.st_size > SIZE_MAX) {
		log_warn("session %s: FETCH: message %u", s->si->user,
		    msg->m->uid);
		(void)close(fd);
		job->ioerr = 1;
		return -1;
	}
	msg->len = (size_t)st.st_size;
	msg->data = "";
	if (msg->len > 0) {
		job->map = mmap(NULL, msg->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (job->map == MAP_FAILED) {
			log_warn("session %s: FETCH: mmap of message %u",
			    s->si->user, msg->m->uid);
			job->map = NULL;
			(void)close(fd);
			job->ioerr = 1;
			return -1;
		}
		job->maplen = msg->len;
		(void)madvise(job->map, job->maplen, MADV_SEQUENTIAL);
		msg->data = job->map;
	}
	(void)close(fd);
	return 0;
}

static void
end_message(struct fetch_job *job)
{
	if (job->active)
		fetch_render_free(&job->r);
	job->active = 0;
	session_unmap(job->map, job->maplen, "FETCH");
	job->map = NULL;
	job->maplen = 0;
	job->dropped = 0;
}

/*
 * The pages of a large message already sent: let them go, so that
 * streaming a big message does not keep it all resident. A later
 * section of the same message that needs them faults them in again.
 */
static void
drop_sent(struct fetch_job *job)
{
	const char	*pos = fetch_render_pos(&job->r), *base = job->map;
	size_t		 upto;
	long		 pg = sysconf(_SC_PAGESIZE);

	if (base == NULL || pos == NULL || pos < base ||
	    pos > base + job->maplen || pg <= 0)
		return;
	upto = (size_t)(pos - base) / (size_t)pg * (size_t)pg;
	if (upto < job->dropped + DROP_STEP)
		return;
	(void)madvise(job->map, upto, MADV_DONTNEED);
	job->dropped = upto;
}

/* Start the response of message i: 0, or -1 when it is skipped. */
static int
start_message(struct imap_session *s, struct fetch_job *job, size_t i)
{
	static const unsigned	 attr[FETCH_C_COUNT] = {
		[FETCH_C_ENVELOPE] = IMAP_FETCH_ENVELOPE,
		[FETCH_C_BODY] = IMAP_FETCH_BODY,
		[FETCH_C_BODYSTRUCTURE] = IMAP_FETCH_BODYSTRUCTURE,
	};
	struct fetch_msg	 msg;
	const struct mbox_msg	*m;
	const void		*d;
	size_t			 c, l, off[FETCH_C_COUNT], len[FETCH_C_COUNT];
	const char		*err = NULL;

	if (job->plan.attrs & IMAP_FETCH_INTERNALDATE)
		(void)mbox_internaldate(s->mbox, i);	/* read once */
	if ((m = mbox_msg(s->mbox, i)) == NULL)
		return -1;
	memset(&msg, 0, sizeof(msg));
	msg.seq = (uint32_t)(i + 1);
	msg.m = m;
	buf_reset(&job->flags);
	imap_flags_out(s, m, &job->flags);
	msg.flags = job->flags.data != NULL ? job->flags.data : "()";
	msg.add_flags = seen_set(job, i);
	msg.add_modseq = msg.add_flags &&
	    (s->enabled & IMAP_EN_CONDSTORE) != 0;
	msg.utf8 = imap_utf8(s);
	msg.tzoff = zone_of(m->internaldate);

	/* Cached renderings, copied: each get may end the last one's. */
	buf_reset(&job->cache);
	for (c = 0; c < FETCH_C_COUNT; c++) {
		off[c] = SIZE_MAX;
		if (!(job->plan.attrs & attr[c]) ||
		    mbox_cache_get(s->mbox, m->uid,
		    fetch_cache_field((enum fetch_cached)c), &d, &l) == -1)
			continue;
		off[c] = job->cache.len;
		len[c] = l;
		if (buf_add(&job->cache, d, l) == -1)
			off[c] = SIZE_MAX;
	}
	for (c = 0; c < FETCH_C_COUNT; c++)
		if (off[c] != SIZE_MAX) {
			msg.cache[c] = job->cache.data + off[c];
			msg.cachelen[c] = len[c];
		}

	if (fetch_needs_data(&job->plan, &msg) &&
	    map_message(s, job, i, &msg) == -1)
		return -1;
	if (fetch_render_begin(&job->r, &job->plan, &msg, &err) == -1) {
		job->code = job->r.code != NULL ? job->r.code : "SERVERBUG";
		(void)osms_strlcpy(job->text, err != NULL ? err : "failed",
		    sizeof(job->text));
		fetch_render_free(&job->r);
		end_message(job);
		return -1;
	}
	job->active = 1;
	/* Sizing read all of it: let it go until it is sent. */
	if (job->map != NULL && job->maplen > DROP_STEP)
		(void)madvise(job->map, job->maplen, MADV_DONTNEED);
	for (c = 0; c < FETCH_C_COUNT; c++)
		if (fetch_render_cached(&job->r, (enum fetch_cached)c, &d,
		    &l) == 0)
			(void)mbox_cache_put(s->mbox, m->uid,
			    fetch_cache_field((enum fetch_cached)c), d, l);
	return 0;
}

static void
flush_out(struct imap_session *s, struct fetch_job *job)
{
	if (job->out.len == 0)
		return;
	imap_write(s, job->out.data, job->out.len);
	buf_reset(&job->out);
}

static void
finish(struct imap_session *s, struct fetch_job *job)
{
	struct imap_cmd	*cmd = &s->cont_cmd;

	flush_out(s, job);
	imap_sync(s, cmd->uid);
	if (job->code != NULL)
		imap_no(s, cmd, "[%s] %s", job->code, job->text);
	else if (job->ioerr)
		imap_no(s, cmd, "[SERVERBUG] Some messages could not be read");
	else if (job->expunged)
		imap_ok(s, cmd, "[EXPUNGEISSUED] Some messages were already"
		    " expunged");
	else
		imap_ok(s, cmd, "%sFETCH completed", cmd->uid ? "UID " : "");
}

static int
fetch_step(struct imap_session *s)
{
	struct fetch_job	*job = s->cont_arg;
	int			 more;

	while (imap_queued(s) + job->out.len < IMAP_OUT_HIGHWATER) {
		if (!job->active) {
			if (job->code != NULL || job->next == job->n ||
			    s->mbox == NULL) {
				finish(s, job);
				job_free(job);
				return 0;
			}
			(void)start_message(s, job, job->idx[job->next++]);
			continue;
		}
		more = fetch_render_step(&job->r, &job->out,
		    2 * FETCH_CHUNK - job->out.len);
		if (more == -1)
			fatalx("FETCH: response buffer refused a chunk");
		if (more == 0)
			end_message(job);
		else
			drop_sent(job);
		if (job->out.len >= FETCH_CHUNK)
			flush_out(s, job);
	}
	flush_out(s, job);
	return 1;
}

void
cmd_fetch(struct imap_session *s, struct imap_cmd *cmd)
{
	struct fetch_job	*job;
	const struct mbox_msg	*m;
	const char		*err;
	size_t			 i, k;

	job = xcalloc(1, sizeof(*job));
	buf_init(&job->out, 2 * FETCH_CHUNK + 1);
	buf_init(&job->flags, 16 * 1024);
	buf_init(&job->cache, 4 * MSTORE_CACHE_REC_MAX);
	if (imap_fetch_parse(cmd, &job->f, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		goto fail;
	}
	if (job->f.vanished && !(s->enabled & IMAP_EN_QRESYNC)) {
		imap_bad(s, cmd, "VANISHED needs QRESYNC enabled");
		goto fail;
	}
	if (fetch_plan_init(&job->plan, cmd, &job->f, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		goto fail;
	}
	if (imap_set_indexes(s, &job->f.set, cmd->uid, &job->idx, &job->n,
	    &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		goto fail;
	}
	/* MODSEQ and CHANGEDSINCE enable CONDSTORE (RFC 7162 3.1). */
	if (job->f.attrs & IMAP_FETCH_MODSEQ)
		s->enabled |= IMAP_EN_CONDSTORE;
	if (job->f.changedsince_set) {
		for (i = k = 0; i < job->n; i++) {
			m = mbox_msg(s->mbox, job->idx[i]);
			if (m != NULL && m->modseq > job->f.changedsince)
				job->idx[k++] = job->idx[i];
		}
		job->n = k;
	}
	if (job->f.vanished)
		send_vanished(s, &job->f.set);
	mark_seen(s, job);
	imap_continue(s, cmd, fetch_step, job);
	return;
 fail:
	job_free(job);
}
