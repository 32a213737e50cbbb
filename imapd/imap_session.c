/*
 * IMAP after the login (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1), in the
 * user's session process. Commands run one at a time, in the order they
 * came; a command that answers in steps (FETCH of many bodies) holds
 * the rest back until its output has drained, so memory stays bounded
 * whatever the client asks for.
 */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "channel.h"
#include "imap_session.h"
#include "imapstr.h"
#include "iodeflate.h"
#include "log.h"
#include "util.h"

#define QUIET_SECS	1	/* then the folder's caches are let go */

#define CAPS_AUTH	"IMAP4rev2 IMAP4rev1 LITERAL+ ID ENABLE IDLE" \
	" NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN LIST-EXTENDED" \
	" LIST-STATUS SPECIAL-USE STATUS=SIZE CONDSTORE QRESYNC ESEARCH" \
	" SEARCHRES SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT" \
	" THREAD=REFERENCES BINARY QUOTA QUOTA=RES-STORAGE" \
	" QUOTA=RES-MESSAGE UTF8=ACCEPT COMPRESS=DEFLATE"

static struct imap_session	 sess;

static void	 imap_io(struct io *, enum io_event, void *);
static void	 imap_input(struct imap_session *);
static void	 quiet_arm(struct imap_session *);

/*
 * Output.
 */

void
imap_write(struct imap_session *s, const void *p, size_t len)
{
	(void)io_write(s->io, p, len);
}

size_t
imap_queued(const struct imap_session *s)
{
	return io_queued(s->io);
}

static void
vreply(struct imap_session *s, const char *prefix, const char *fmt,
    va_list ap)
{
	struct buf	 b = BUF_INIT(64 * 1024);

	(void)buf_addstr(&b, prefix);
	(void)buf_vprintf(&b, fmt, ap);
	(void)buf_addstr(&b, "\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

void
imap_printf(struct imap_session *s, const char *fmt, ...)
{
	struct buf	 b = BUF_INIT(64 * 1024);
	va_list		 ap;

	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

void
imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vreply(s, "* ", fmt, ap);
	va_end(ap);
}

static void
tagged(struct imap_session *s, const struct imap_cmd *cmd,
    const char *status, const char *fmt, va_list ap)
{
	char	 prefix[IMAP_MAX_TAG + 16];

	(void)snprintf(prefix, sizeof(prefix), "%s %s ",
	    cmd != NULL && cmd->tag[0] ? cmd->tag : "*", status);
	vreply(s, prefix, fmt, ap);
}

void
imap_ok(struct imap_session *s, const struct imap_cmd *cmd, const char *fmt,
    ...)
{
	va_list	 ap;

	s->errors = 0;
	va_start(ap, fmt);
	tagged(s, cmd, "OK", fmt, ap);
	va_end(ap);
}

void
imap_no(struct imap_session *s, const struct imap_cmd *cmd, const char *fmt,
    ...)
{
	va_list	 ap;

	s->errors = 0;
	va_start(ap, fmt);
	tagged(s, cmd, "NO", fmt, ap);
	va_end(ap);
}

void
imap_bad(struct imap_session *s, const struct imap_cmd *cmd,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	tagged(s, cmd, "BAD", fmt, ap);
	va_end(ap);
	if (++s->errors >= IMAP_MAX_ERRORS) {
		imap_untagged(s, "BYE Too many invalid commands");
		s->state = IMAP_LOGOUT;
	}
}

void
imap_no_store(struct imap_session *s, const struct imap_cmd *cmd,
    enum mstore_err e, const char *text)
{
	static const char *const codes[] = {
		[MSTORE_E_NONE] = "",
		[MSTORE_E_INVALID] = "[CANNOT] ",
		[MSTORE_E_NONEXISTENT] = "[NONEXISTENT] ",
		[MSTORE_E_EXISTS] = "[ALREADYEXISTS] ",
		[MSTORE_E_HASCHILDREN] = "[HASCHILDREN] ",
		[MSTORE_E_OVERQUOTA] = "[OVERQUOTA] ",
		[MSTORE_E_LIMIT] = "[LIMIT] ",
		[MSTORE_E_INUSE] = "[INUSE] ",
		[MSTORE_E_EXPUNGED] = "[EXPUNGEISSUED] ",
		[MSTORE_E_RESET] = "[UNAVAILABLE] ",
		[MSTORE_E_READONLY] = "[READ-ONLY] ",
		[MSTORE_E_IO] = "[SERVERBUG] ",
	};
	const char	*code = (unsigned)e < nitems(codes) && codes[e] != NULL ?
	    codes[e] : "";

	imap_no(s, cmd, "%s%s", code, text != NULL ? text : "failed");
}

int
imap_utf8(const struct imap_session *s)
{
	return (s->enabled & (IMAP_EN_UTF8 | IMAP_EN_REV2)) != 0;
}

/* A stored (modified UTF-7) name as the client reads names. */
int
imap_mailbox_out(const struct imap_session *s, const char *stored,
    struct buf *b)
{
	char		 utf8[IMAP_MAILBOX_MAX * 4 + 1];
	const char	*err;
	int		 n;

	if (!imap_utf8(s) || strchr(stored, '&') == NULL)
		return imap_add_astring(b, stored, strlen(stored),
		    imap_utf8(s));
	if ((n = imap_mutf7_to_utf8(stored, utf8, sizeof(utf8), &err)) == -1)
		return imap_add_astring(b, stored, strlen(stored), 0);
	return imap_add_astring(b, utf8, (size_t)n, 1);
}

/*
 * The selected folder's changes.
 */

void
imap_flags_out(struct imap_session *s, const struct mbox_msg *m,
    struct buf *b)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} sys[] = {
		{ MBOX_ANSWERED, "\\Answered" },
		{ MBOX_FLAGGED, "\\Flagged" },
		{ MBOX_DELETED, "\\Deleted" },
		{ MBOX_SEEN, "\\Seen" },
		{ MBOX_DRAFT, "\\Draft" },
		{ MBOX_RECENT, "\\Recent" },
	};
	const char	*kw;
	size_t		 i;
	int		 first = 1;

	(void)buf_addc(b, '(');
	for (i = 0; i < nitems(sys); i++) {
		if (!(m->flags & sys[i].bit))
			continue;
		/* IMAP4rev2 has no \Recent. */
		if (sys[i].bit == MBOX_RECENT && (s->enabled & IMAP_EN_REV2))
			continue;
		(void)buf_printf(b, "%s%s", first ? "" : " ", sys[i].name);
		first = 0;
	}
	for (i = 0; i < MSTORE_KEYWORDS; i++) {
		if (!(m->keywords & (1U << i)) ||
		    (kw = mbox_keyword_name(s->mbox, (unsigned)i)) == NULL)
			continue;
		(void)buf_printf(b, "%s%s", first ? "" : " ", kw);
		first = 0;
	}
	(void)buf_addc(b, ')');
}

void
imap_fetch_flags(struct imap_session *s, size_t idx, int uid)
{
	const struct mbox_msg	*m = mbox_msg(s->mbox, idx);
	struct buf		 b = BUF_INIT(16 * 1024);

	if (m == NULL)
		return;
	(void)buf_printf(&b, "* %zu FETCH (", idx + 1);
	if (uid || (s->enabled & IMAP_EN_QRESYNC))
		(void)buf_printf(&b, "UID %u ", m->uid);
	(void)buf_addstr(&b, "FLAGS ");
	imap_flags_out(s, m, &b);
	if (s->enabled & IMAP_EN_CONDSTORE)
		(void)buf_printf(&b, " MODSEQ (%llu)",
		    (unsigned long long)m->modseq);
	(void)buf_addstr(&b, ")\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

/* The FLAGS and PERMANENTFLAGS lists: the system flags and keywords. */
void
imap_flags_lists(struct imap_session *s)
{
	struct buf	 b = BUF_INIT(16 * 1024);
	const char	*kw;
	unsigned	 i;

	for (i = 0; i < MSTORE_KEYWORDS; i++)
		if ((kw = mbox_keyword_name(s->mbox, i)) != NULL)
			(void)buf_printf(&b, " %s", kw);
	imap_untagged(s, "FLAGS (\\Answered \\Flagged \\Deleted \\Seen"
	    " \\Draft%s)", b.len ? b.data : "");
	if (s->readonly)
		imap_untagged(s, "OK [PERMANENTFLAGS ()] Read-only folder");
	else
		imap_untagged(s, "OK [PERMANENTFLAGS (\\Answered \\Flagged"
		    " \\Deleted \\Seen \\Draft%s \\*)] Flags permitted",
		    b.len ? b.data : "");
	buf_free(&b);
}

void
imap_report(struct imap_session *s, const struct mbox_sync *sy)
{
	struct buf	 b = BUF_INIT(1024 * 1024);
	size_t		 i;

	if (sy->nexpunged > 0) {
		if (s->enabled & IMAP_EN_QRESYNC) {
			(void)buf_addstr(&b, "* VANISHED ");
			for (i = 0; i < sy->nexpunged; i++)
				(void)buf_printf(&b, "%s%u", i ? "," : "",
				    sy->expunged_uids[i]);
			(void)buf_addstr(&b, "\r\n");
			if (b.over) {
				/* Too many for one line: one each. */
				buf_reset(&b);
				for (i = 0; i < sy->nexpunged; i++)
					imap_untagged(s, "VANISHED %u",
					    sy->expunged_uids[i]);
			} else
				imap_write(s, b.data, b.len);
		} else
			for (i = 0; i < sy->nexpunged; i++)
				imap_untagged(s, "%zu EXPUNGE",
				    sy->expunged[i] + 1);
	}
	if (sy->keywords)
		imap_flags_lists(s);
	if (sy->added > 0 || sy->nexpunged > 0)
		imap_untagged(s, "%zu EXISTS", sy->exists);
	if (sy->added > 0 && !(s->enabled & IMAP_EN_REV2))
		imap_untagged(s, "%zu RECENT", sy->nrecent);
	for (i = 0; i < sy->nchanged; i++)
		imap_fetch_flags(s, sy->changed[i], 0);
	buf_free(&b);
}

void
imap_sync(struct imap_session *s, int expunges)
{
	struct mbox_sync	 sy;
	const char		*err;

	if (s->mbox == NULL || !expunges)
		return;
	memset(&sy, 0, sizeof(sy));
	if (mbox_sync(s->mbox, &sy, &err) == -1) {
		if (mstore_error(s->store) == MSTORE_E_RESET) {
			/* The folder is gone or was reset under us. */
			imap_untagged(s, "BYE [UNAVAILABLE] The selected"
			    " folder was deleted or reset");
			s->state = IMAP_LOGOUT;
		} else
			log_warnx("session %s: sync: %s", s->si->user, err);
		mbox_sync_free(&sy);
		return;
	}
	imap_report(s, &sy);
	mbox_sync_free(&sy);
}

void
imap_unselect(struct imap_session *s)
{
	if (s->watch != NULL) {
		event_free(s->watch);
		s->watch = NULL;
	}
	if (s->mbox != NULL)
		mbox_close(s->mbox);
	s->mbox = NULL;
	s->saved_valid = 0;
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
	if (s->state == IMAP_SELECTED)
		s->state = IMAP_AUTH;
}

/* Sequence numbers or UIDs to indexes of the view. */
int
imap_set_indexes(struct imap_session *s, const struct imap_seqset *set0,
    int uid, size_t **idxp, size_t *np, const char **errstr)
{
	struct imap_seqset	 set = *set0;
	const struct mbox_msg	*m;
	size_t			 count = mbox_count(s->mbox), n = 0, cap = 0;
	size_t			*idx = NULL, i, r;
	uint32_t		 max;

	*idxp = NULL;
	*np = 0;
	if (set.dollar) {
		/* SEARCHRES: the saved UIDs. */
		for (i = 0; s->saved_valid && i < s->nsaved; i++) {
			size_t	 k = mbox_find_uid(s->mbox, s->saved[i]);

			if (k == (size_t)-1)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				idx = xreallocarray(idx, cap, sizeof(*idx));
			}
			idx[n++] = k;
		}
		*idxp = idx;
		*np = n;
		return 0;
	}
	/* Resolve '*' on a copy: the command keeps its own set. */
	set.r = NULL;
	set.n = 0;
	if (set0->n > 0) {
		set.r = xreallocarray(NULL, set0->n, sizeof(*set.r));
		memcpy(set.r, set0->r, set0->n * sizeof(*set.r));
		set.n = set0->n;
	}
	if (uid)
		max = count > 0 ? mbox_msg(s->mbox, count - 1)->uid : 0;
	else
		max = (uint32_t)count;
	imap_seqset_resolve(&set, max);
	if (!uid && imap_seqset_last(&set) > count) {
		imap_seqset_free(&set);
		*errstr = "Invalid message sequence number";
		return -1;
	}
	if (!uid) {
		for (r = 0; r < set.n; r++) {
			size_t	 lo = set.r[r].lo, hi = set.r[r].hi;

			if (lo == 0)
				continue;
			for (i = lo; i <= hi; i++) {
				if (n == cap) {
					/* Room for the rest of the range. */
					cap = n + (hi - i + 1);
					idx = xreallocarray(idx, cap,
					    sizeof(*idx));
				}
				idx[n++] = i - 1;
			}
		}
	} else {
		/* UIDs: walk the view once against the sorted ranges. */
		for (i = 0, r = 0; i < count && r < set.n; i++) {
			m = mbox_msg(s->mbox, i);
			while (r < set.n && set.r[r].hi < m->uid)
				r++;
			if (r == set.n)
				break;
			if (m->uid < set.r[r].lo)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				idx = xreallocarray(idx, cap, sizeof(*idx));
			}
			idx[n++] = i;
		}
	}
	imap_seqset_free(&set);
	*idxp = idx;
	*np = n;
	return 0;
}

int
imap_literal_fd(struct imap_session *s, long ext)
{
	if (ext < 1 || (size_t)ext > s->nlit_files)
		return -1;
	return s->lit_files[ext - 1];
}

static void
literal_files_close(struct imap_session *s)
{
	size_t	 i;

	for (i = 0; i < s->nlit_files; i++)
		if (s->lit_files[i] != -1)
			(void)close(s->lit_files[i]);
	s->nlit_files = 0;
	s->lit_fd = -1;
}

/*
 * Commands that need no folder and no file of their own.
 */

static void
cmd_capability(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_untagged(s, "CAPABILITY %s APPENDLIMIT=%llu", CAPS_AUTH,
	    (unsigned long long)IMAP_APPEND_LIMIT);
	imap_ok(s, cmd, "CAPABILITY completed");
}

static void
cmd_noop(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_sync(s, 1);
	imap_ok(s, cmd, "%s completed", cmd->name);
}

static void
cmd_logout(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_untagged(s, "BYE Logging out");
	imap_ok(s, cmd, "LOGOUT completed");
	s->state = IMAP_LOGOUT;
}

static void
cmd_id(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_id	 id;
	const char	*err;

	if (imap_id_parse(cmd, &id, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	imap_untagged(s, "ID (\"name\" \"osms\")");
	imap_ok(s, cmd, "ID completed");
}

static void
cmd_enable(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_enable	 en;
	struct buf		 b = BUF_INIT(4096);
	const char		*err;
	size_t			 i;
	unsigned		 bit;

	if (imap_enable_parse(cmd, &en, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	for (i = 0; i < en.ncaps; i++) {
		if (strcasecmp(en.caps[i], "CONDSTORE") == 0)
			bit = IMAP_EN_CONDSTORE;
		else if (strcasecmp(en.caps[i], "QRESYNC") == 0)
			bit = IMAP_EN_QRESYNC | IMAP_EN_CONDSTORE;
		else if (strcasecmp(en.caps[i], "UTF8=ACCEPT") == 0)
			bit = IMAP_EN_UTF8;
		else if (strcasecmp(en.caps[i], "IMAP4rev2") == 0)
			bit = IMAP_EN_REV2;
		else
			continue;	/* RFC 5161: ignored */
		if ((s->enabled & bit) == bit)
			continue;	/* only what is newly enabled */
		s->enabled |= bit;
		(void)buf_printf(&b, " %s", en.caps[i]);
	}
	imap_untagged(s, "ENABLED%s", b.len ? b.data : "");
	buf_free(&b);
	imap_ok(s, cmd, "ENABLE completed");
}

static void
watch_fired(evutil_socket_t fd, short ev, void *arg)
{
	struct imap_session	*s = arg;

	(void)fd;
	(void)ev;
	if (s->mbox == NULL)
		return;
	mbox_watch_drain(s->mbox);
	if (s->state == IMAP_IDLE) {
		imap_sync(s, 1);
		if (s->state == IMAP_LOGOUT) {
			io_pause_read(s->io);
			if (imap_queued(s) == 0)
				session_exit(0);
		}
		quiet_arm(s);
	}
}

/*
 * Most sessions sit idle for hours: a second after the last command,
 * the session gives back what it can read again from the folder's
 * files, and the heap what was freed.
 */
static void
quiet_fired(evutil_socket_t fd, short ev, void *arg)
{
	struct imap_session	*s = arg;

	(void)fd;
	(void)ev;
	if (s->cont != NULL || s->lit_need > 0)
		return;
	if (s->mbox != NULL)
		mbox_trim(s->mbox);
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

static void
quiet_arm(struct imap_session *s)
{
	struct timeval	 tv = { QUIET_SECS, 0 };

	if (s->quiet == NULL &&
	    (s->quiet = evtimer_new(osms_evbase, quiet_fired, s)) == NULL)
		return;
	(void)evtimer_add(s->quiet, &tv);
}

static void
cmd_idle(struct imap_session *s, struct imap_cmd *cmd)
{
	int	 fd;

	imap_sync(s, 1);
	(void)osms_strlcpy(s->idle_tag, cmd->tag, sizeof(s->idle_tag));
	if (s->mbox != NULL && s->watch == NULL &&
	    (fd = mbox_watch_fd(s->mbox)) != -1) {
		s->watch = event_new(osms_evbase, fd, EV_READ | EV_PERSIST,
		    watch_fired, s);
		if (s->watch != NULL)
			(void)event_add(s->watch, NULL);
	}
	s->state = IMAP_IDLE;
	imap_printf(s, "+ idling\r\n");
}

static void
idle_done(struct imap_session *s, int ok)
{
	struct imap_cmd	 cmd;

	memset(&cmd, 0, sizeof(cmd));
	(void)osms_strlcpy(cmd.tag, s->idle_tag, sizeof(cmd.tag));
	s->state = s->mbox != NULL ? IMAP_SELECTED : IMAP_AUTH;
	imap_sync(s, 1);
	if (ok)
		imap_ok(s, &cmd, "IDLE terminated");
	else
		imap_bad(s, &cmd, "Expected DONE");
}

static void
cmd_compress(struct imap_session *s, struct imap_cmd *cmd)
{
	const char	*err;

	if (imap_compress_parse(cmd, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	if (s->compress) {
		imap_no(s, cmd, "[COMPRESSIONACTIVE] Already compressing");
		return;
	}
	imap_ok(s, cmd, "DEFLATE active");
	/* After the OK, which goes out uncompressed (IO_LOWAT). */
	s->deflating = 1;
	io_pause_read(s->io);
}

/*
 * The command table: what runs in which state.
 */

#define ST_AUTH		0x01
#define ST_SEL		0x02
#define ST_ANY		(ST_AUTH | ST_SEL)

static const struct {
	enum imap_command	 cmd;
	unsigned		 states;
	void			(*fn)(struct imap_session *,
				    struct imap_cmd *);
} commands[] = {
	{ IMAP_CMD_CAPABILITY,	ST_ANY, cmd_capability },
	{ IMAP_CMD_NOOP,	ST_ANY, cmd_noop },
	{ IMAP_CMD_CHECK,	ST_SEL, cmd_noop },
	{ IMAP_CMD_LOGOUT,	ST_ANY, cmd_logout },
	{ IMAP_CMD_ID,		ST_ANY, cmd_id },
	{ IMAP_CMD_ENABLE,	ST_ANY, cmd_enable },
	{ IMAP_CMD_IDLE,	ST_ANY, cmd_idle },
	{ IMAP_CMD_COMPRESS,	ST_ANY, cmd_compress },
	{ IMAP_CMD_SELECT,	ST_ANY, cmd_select },
	{ IMAP_CMD_EXAMINE,	ST_ANY, cmd_select },
	{ IMAP_CMD_CREATE,	ST_ANY, cmd_create },
	{ IMAP_CMD_DELETE,	ST_ANY, cmd_delete },
	{ IMAP_CMD_RENAME,	ST_ANY, cmd_rename },
	{ IMAP_CMD_SUBSCRIBE,	ST_ANY, cmd_subscribe },
	{ IMAP_CMD_UNSUBSCRIBE,	ST_ANY, cmd_subscribe },
	{ IMAP_CMD_LIST,	ST_ANY, cmd_list },
	{ IMAP_CMD_LSUB,	ST_ANY, cmd_list },
	{ IMAP_CMD_NAMESPACE,	ST_ANY, cmd_namespace },
	{ IMAP_CMD_STATUS,	ST_ANY, cmd_status },
	{ IMAP_CMD_APPEND,	ST_ANY, cmd_append },
	{ IMAP_CMD_GETQUOTA,	ST_ANY, cmd_quota },
	{ IMAP_CMD_GETQUOTAROOT, ST_ANY, cmd_quota },
	{ IMAP_CMD_SETQUOTA,	ST_ANY, cmd_quota },
	{ IMAP_CMD_CLOSE,	ST_SEL, cmd_close },
	{ IMAP_CMD_UNSELECT,	ST_SEL, cmd_close },
	{ IMAP_CMD_EXPUNGE,	ST_SEL, cmd_expunge },
	{ IMAP_CMD_FETCH,	ST_SEL, cmd_fetch },
	{ IMAP_CMD_STORE,	ST_SEL, cmd_store },
	{ IMAP_CMD_COPY,	ST_SEL, cmd_copy },
	{ IMAP_CMD_MOVE,	ST_SEL, cmd_copy },
	{ IMAP_CMD_SEARCH,	ST_SEL, cmd_search },
	{ IMAP_CMD_SORT,	ST_SEL, cmd_sort },
	{ IMAP_CMD_THREAD,	ST_SEL, cmd_thread },
};

static void
run_command(struct imap_session *s, struct imap_cmd *cmd)
{
	unsigned	 st = s->state == IMAP_SELECTED ? ST_SEL : ST_AUTH;
	size_t		 i;

	for (i = 0; i < nitems(commands); i++)
		if (commands[i].cmd == cmd->cmd)
			break;
	if (i == nitems(commands)) {
		/* LOGIN, AUTHENTICATE, STARTTLS: not after the login. */
		imap_bad(s, cmd, "Already logged in");
		return;
	}
	if (!(commands[i].states & st)) {
		imap_bad(s, cmd, "No folder selected");
		return;
	}
	commands[i].fn(s, cmd);
}

void
imap_continue(struct imap_session *s, struct imap_cmd *cmd, imap_cont_fn fn,
    void *arg)
{
	s->cont = fn;
	s->cont_arg = arg;
	s->cont_cmd = *cmd;
	memset(cmd, 0, sizeof(*cmd));	/* the session owns it now */
	s->in_cont = 1;
	if (fn(s) == 0) {
		s->cont = NULL;
		imap_cmd_free(&s->cont_cmd);
	}
	s->in_cont = 0;
}

/*
 * Input: lines and literals, through the reader.
 */

static void
feed(struct imap_session *s, enum imap_feed f, const char *err)
{
	struct imap_literal_info info;
	struct imap_cmd		 cmd;

	switch (f) {
	case IMAP_FEED_LINE:
		return;
	case IMAP_FEED_LITERAL:
		imap_reader_literal_info(s->rd, &info);
		s->lit_need = (size_t)info.size;
		s->lit_fd = -1;
		if (info.message && s->nlit_files < IMAP_MAX_LITERALS) {
			/* An APPEND message goes to a file, not memory. */
			s->lit_fd = open("tmp", O_TMPFILE | O_RDWR |
			    O_CLOEXEC, 0600);
			if (s->lit_fd != -1) {
				s->lit_files[s->nlit_files++] = s->lit_fd;
				imap_reader_literal_external(s->rd,
				    (long)s->nlit_files);
			}
		}
		if (info.sync)
			imap_printf(s, "+ OK\r\n");
		if (s->lit_need == 0)
			feed(s, imap_reader_literal(s->rd, "", 0), NULL);
		return;
	case IMAP_FEED_ERROR:
	case IMAP_FEED_TOOBIG:
		memset(&cmd, 0, sizeof(cmd));
		if (imap_reader_tag(s->rd) != NULL)
			(void)osms_strlcpy(cmd.tag, imap_reader_tag(s->rd),
			    sizeof(cmd.tag));
		imap_reader_literal_info(s->rd, &info);
		/* RFC 7889: an APPEND message over the limit is NO. */
		if (f == IMAP_FEED_TOOBIG && info.message)
			imap_no(s, &cmd, "%s", err != NULL ? err :
			    "[TOOBIG] Message too large");
		else
			imap_bad(s, &cmd, "%s", err != NULL ? err :
			    "Invalid command");
		literal_files_close(s);
		if (imap_reader_must_close(s->rd)) {
			imap_untagged(s, "BYE Cannot continue after that");
			s->state = IMAP_LOGOUT;
		}
		/* The tag is spent: a long line next starts a command of its
		 * own, to be refused under its own tag (too_long()). */
		imap_reader_reset(s->rd);
		return;
	case IMAP_FEED_COMPLETE:
		break;
	}
	memset(&cmd, 0, sizeof(cmd));
	if (imap_parse(s->rd, &cmd, &err) == -1)
		imap_bad(s, &cmd, "%s", err);
	else
		run_command(s, &cmd);
	imap_cmd_free(&cmd);
	literal_files_close(s);
}

/*
 * A line over the limit: the rest of it is skipped, the command it
 * began (or continued) is refused under its tag, and the session goes
 * on. Its tag is the first word, when the line started a command.
 */
static void
too_long(struct imap_session *s, const char *line, size_t len)
{
	struct imap_cmd	 cmd;
	size_t		 i;

	memset(&cmd, 0, sizeof(cmd));
	if (imap_reader_tag(s->rd) != NULL)
		(void)osms_strlcpy(cmd.tag, imap_reader_tag(s->rd),
		    sizeof(cmd.tag));
	else if (line != NULL) {
		for (i = 0; i < len && i < IMAP_MAX_TAG &&
		    imap_atom_char((unsigned char)line[i]) && line[i] != '+';
		    i++)
			;
		if (i > 0 && i < len && line[i] == ' ') {
			memcpy(cmd.tag, line, i);
			cmd.tag[i] = '\0';
		}
	}
	imap_reader_reset(s->rd);
	literal_files_close(s);
	imap_bad(s, &cmd, "[TOOBIG] Command line too long");
}

/* Take what can be taken from the input, command by command. */
static void
imap_input(struct imap_session *s)
{
	char		 buf[65536];
	char		*line;
	size_t		 len, n;
	int		 flags, sync;
	const char	*err;
	enum io_line	 got;
	enum imap_feed	 f;

	while (s->state != IMAP_LOGOUT && s->cont == NULL && !s->deflating) {
		if (s->lit_need > 0) {
			n = io_read(s->io, buf, s->lit_need < sizeof(buf) ?
			    s->lit_need : sizeof(buf));
			if (n == 0)
				break;
			s->lit_need -= n;
			if (s->lit_fd != -1 && write_all(s->lit_fd, buf, n) ==
			    -1) {
				log_warn("session %s: APPEND temporary file",
				    s->si->user);
				(void)close(s->lit_fd);
				s->lit_files[s->nlit_files - 1] = -1;
				s->lit_fd = -1;
			}
			/* LITERAL again only means "more bytes to come". */
			f = imap_reader_literal(s->rd, buf, n);
			if (f != IMAP_FEED_LITERAL)
				feed(s, f, NULL);
			continue;
		}
		got = io_getline(s->io, &line, &len, &flags);
		if (got == IO_LINE_NONE)
			break;
		if (got == IO_LINE_TOOLONG) {
			too_long(s, line, len);
			continue;
		}
		if (s->state == IMAP_IDLE) {
			idle_done(s, imap_is_done(line, len));
			continue;
		}
		/* Two statements: err is set by the call, not before it. */
		f = imap_reader_line(s->rd, line, len, &n, &sync, &err);
		feed(s, f, err);
	}
	if (s->state == IMAP_LOGOUT) {
		io_pause_read(s->io);
		if (imap_queued(s) == 0)
			session_exit(0);
	} else if (s->cont == NULL)
		quiet_arm(s);
}

static void
imap_io(struct io *io, enum io_event ev, void *arg)
{
	struct imap_session	*s = arg;

	(void)io;
	switch (ev) {
	case IO_DATAIN:
		imap_input(s);
		break;
	case IO_LOWAT:
		if (s->state == IMAP_LOGOUT)
			session_exit(0);
		if (s->deflating) {
			s->deflating = 0;
			if (io_start_deflate(s->io) == -1) {
				log_warnx("session %s: cannot start"
				    " compression", s->si->user);
				session_exit(1);
			}
			s->compress = 1;
			io_resume_read(s->io);
		}
		if (s->in_cont)
			break;	/* called back from inside a step */
		if (s->cont != NULL) {
			s->in_cont = 1;
			if (s->cont(s) == 0) {
				s->cont = NULL;
				imap_cmd_free(&s->cont_cmd);
			}
			s->in_cont = 0;
		}
		if (s->cont == NULL)
			imap_input(s);
		break;
	case IO_TIMEOUT:
		imap_untagged(s, "BYE Idle for too long");
		s->state = IMAP_LOGOUT;
		io_pause_read(s->io);
		break;
	case IO_DISCONNECTED:
	case IO_ERROR:
	case IO_TLSREADY:
		session_exit(0);
	}
}

/* On the way out: pending cache entries and flags reach the disk. */
static void
imap_cleanup(void)
{
	struct imap_session	*s = &sess;

	imap_unselect(s);
	if (s->store != NULL)
		mstore_close(s->store);
	s->store = NULL;
}

void
imap_session_start(int fd, const struct session_info *si)
{
	struct imap_session	*s = &sess;
	struct mstore_limits	 lim;
	const char		*err;
	int			 root;
	struct imap_cmd		 login;

	memset(s, 0, sizeof(*s));
	s->si = si;
	s->lit_fd = -1;
	session_on_exit(imap_cleanup);
	s->io = io_new(fd, IMAP_MAX_LINE + 2, imap_io, s);
	io_set_timeout(s->io, (int)si->timeout);
	s->rd = imap_reader_new((size_t)IMAP_APPEND_LIMIT);
	memset(&login, 0, sizeof(login));
	(void)osms_strlcpy(login.tag, si->tag, sizeof(login.tag));

	memset(&lim, 0, sizeof(lim));
	lim.quota_bytes = si->quota_bytes;
	lim.quota_messages = si->quota_messages;
	if ((root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (s->store = mstore_open(root, &lim, &err)) == NULL) {
		log_warnx("session %s: cannot open the mail store: %s",
		    si->user, root == -1 ? strerror(errno) : err);
		imap_no(s, &login, "[UNAVAILABLE] The mailbox cannot be"
		    " opened now");
		s->state = IMAP_LOGOUT;
		return;
	}
	(void)close(root);
	if (mstore_special_create(s->store, &err) == -1)
		log_warnx("session %s: special folders: %s", si->user, err);
	s->state = IMAP_AUTH;
	imap_ok(s, &login, "[CAPABILITY %s APPENDLIMIT=%llu] Logged in",
	    CAPS_AUTH, (unsigned long long)IMAP_APPEND_LIMIT);
	log_info("session %s: imap from=%s", si->user, si->client);
}
