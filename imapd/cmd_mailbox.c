/*
 * Folders: SELECT and EXAMINE (with CONDSTORE and QRESYNC), CREATE,
 * DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST and LSUB (LIST-EXTENDED,
 * LIST-STATUS, SPECIAL-USE, CHILDREN), STATUS, NAMESPACE, CLOSE,
 * UNSELECT, EXPUNGE and UID EXPUNGE, and the QUOTA commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_session.h"
#include "log.h"
#include "util.h"

/*
 * SELECT and EXAMINE.
 */

/* QRESYNC (RFC 7162 3.2.5): what the client's cache misses. */
static void
qresync(struct imap_session *s, const struct imap_select *sel)
{
	struct buf		 b = BUF_INIT(4 * 1024 * 1024);
	const struct mbox_msg	*m;
	size_t			 i, count = mbox_count(s->mbox);
	uint32_t		 uid, lo, hi, next = mbox_uidnext(s->mbox);
	int			 first = 1, run = 0;

	if (sel->uidvalidity != mbox_uidvalidity(s->mbox))
		return;		/* the client must start afresh */
	/*
	 * Expunged: every UID the client may know (its known-uids, else
	 * 1 .. UIDNEXT-1) that is not here. The server does not keep
	 * expunge history, which RFC 7162 allows: it reports them all.
	 */
	lo = hi = 0;
	i = 0;
	for (uid = 1; uid < next; uid++) {
		if (sel->known_uids_set &&
		    !imap_seqset_contains(&sel->known_uids, uid))
			continue;
		while (i < count && mbox_msg(s->mbox, i)->uid < uid)
			i++;
		if (i < count && mbox_msg(s->mbox, i)->uid == uid)
			continue;
		if (run && uid == hi + 1) {
			hi = uid;
			continue;
		}
		if (run)
			(void)buf_printf(&b, lo == hi ? "%s%u" : "%s%u:%u",
			    first ? "" : ",", lo, hi), first = 0;
		lo = hi = uid;
		run = 1;
	}
	if (run)
		(void)buf_printf(&b, lo == hi ? "%s%u" : "%s%u:%u",
		    first ? "" : ",", lo, hi);
	if (b.len > 0 && !b.over)
		imap_untagged(s, "VANISHED (EARLIER) %s", b.data);
	buf_free(&b);
	/* Changed since the client's MODSEQ. */
	for (i = 0; i < count; i++) {
		m = mbox_msg(s->mbox, i);
		if (m->modseq > sel->modseq)
			imap_fetch_flags(s, i, 1);
	}
}

void
cmd_select(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_select	 sel;
	struct buf		 name = BUF_INIT(4096);
	const struct mbox_msg	*m;
	const char		*err;
	size_t			 i, count, recent = 0, unseen = 0;
	int			 ro = cmd->cmd == IMAP_CMD_EXAMINE;

	if (imap_select_parse(cmd, imap_utf8(s), &sel, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	if (sel.qresync && !(s->enabled & IMAP_EN_QRESYNC)) {
		imap_select_free(&sel);
		imap_bad(s, cmd, "QRESYNC is not enabled");
		return;
	}
	if (s->mbox != NULL) {
		imap_unselect(s);
		if (s->enabled & IMAP_EN_QRESYNC)
			imap_untagged(s, "OK [CLOSED] Previous folder closed");
	}
	if ((s->mbox = mbox_open(s->store, sel.mailbox, ro, &err)) == NULL) {
		imap_select_free(&sel);
		imap_no_store(s, cmd, mstore_error(s->store), err);
		return;
	}
	s->readonly = ro;
	s->state = IMAP_SELECTED;
	if (sel.condstore)
		s->enabled |= IMAP_EN_CONDSTORE;

	count = mbox_count(s->mbox);
	for (i = 0; i < count; i++) {
		m = mbox_msg(s->mbox, i);
		if (m->flags & MBOX_RECENT)
			recent++;
		if (unseen == 0 && !(m->flags & MBOX_SEEN))
			unseen = i + 1;
	}
	imap_flags_lists(s);
	imap_untagged(s, "%zu EXISTS", count);
	if (!(s->enabled & IMAP_EN_REV2)) {
		imap_untagged(s, "%zu RECENT", recent);
		if (unseen > 0)
			imap_untagged(s, "OK [UNSEEN %zu] First unseen",
			    unseen);
	}
	imap_untagged(s, "OK [UIDVALIDITY %u] UIDs valid",
	    mbox_uidvalidity(s->mbox));
	imap_untagged(s, "OK [UIDNEXT %u] Predicted next UID",
	    mbox_uidnext(s->mbox));
	imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
	    (unsigned long long)mbox_highestmodseq(s->mbox));
	if (s->enabled & IMAP_EN_REV2) {
		(void)imap_mailbox_out(s, sel.mailbox, &name);
		imap_untagged(s, "LIST () \".\" %s", name.data);
	}
	if (sel.qresync)
		qresync(s, &sel);
	buf_free(&name);
	imap_select_free(&sel);
	imap_ok(s, cmd, "[%s] %s completed", ro ? "READ-ONLY" :
	    "READ-WRITE", cmd->name);
}

void
cmd_close(struct imap_session *s, struct imap_cmd *cmd)
{
	struct mbox_sync	 sy;
	const char		*err;

	/* CLOSE removes the \Deleted messages, silently (RFC 9051 6.4.1). */
	if (cmd->cmd == IMAP_CMD_CLOSE && !s->readonly) {
		memset(&sy, 0, sizeof(sy));
		if (mbox_expunge(s->mbox, NULL, 0, &sy, &err) == -1)
			log_warnx("session %s: CLOSE: %s", s->si->user, err);
		mbox_sync_free(&sy);
	}
	imap_unselect(s);
	imap_ok(s, cmd, "%s completed", cmd->name);
}

void
cmd_expunge(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_seqset	 set;
	struct mbox_sync	 sy;
	uint32_t		*uids = NULL;
	size_t			*idx = NULL, n = 0, i;
	const char		*err;
	int			 rc;

	if (imap_expunge_parse(cmd, &set, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	if (s->readonly) {
		imap_seqset_free(&set);
		imap_no(s, cmd, "[READ-ONLY] The folder is read-only");
		return;
	}
	if (cmd->uid) {
		if (imap_set_indexes(s, &set, 1, &idx, &n, &err) == -1) {
			imap_seqset_free(&set);
			imap_bad(s, cmd, "%s", err);
			return;
		}
		uids = xreallocarray(NULL, n ? n : 1, sizeof(*uids));
		for (i = 0; i < n; i++)
			uids[i] = mbox_msg(s->mbox, idx[i])->uid;
	}
	imap_seqset_free(&set);
	memset(&sy, 0, sizeof(sy));
	rc = mbox_expunge(s->mbox, cmd->uid ? uids : NULL, cmd->uid ? n : 0,
	    &sy, &err);
	free(uids);
	free(idx);
	if (rc == -1) {
		mbox_sync_free(&sy);
		imap_no_store(s, cmd, mstore_error(s->store), err);
		return;
	}
	imap_report(s, &sy);
	mbox_sync_free(&sy);
	imap_ok(s, cmd, "%sEXPUNGE completed", cmd->uid ? "UID " : "");
}

/*
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE.
 */

/* RFC 9051 6.3.4: a trailing delimiter declares the name a parent. */
static void
strip_delimiter(char *name)
{
	size_t	 len = strlen(name);

	if (len > 1 && name[len - 1] == '.')
		name[len - 1] = '\0';
}

void
cmd_create(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_mailboxes	 mb;
	const char		*err;

	if (imap_mailboxes_parse(cmd, imap_utf8(s), &mb, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	strip_delimiter(mb.name[0]);
	if (strcasecmp(mb.name[0], "INBOX") == 0) {
		imap_no(s, cmd, "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	if (mstore_create(s->store, mb.name[0], &err) == -1) {
		imap_no_store(s, cmd, mstore_error(s->store), err);
		return;
	}
	imap_sync(s, 1);
	imap_ok(s, cmd, "CREATE completed");
}

void
cmd_delete(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_mailboxes	 mb;
	const char		*err;

	if (imap_mailboxes_parse(cmd, imap_utf8(s), &mb, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	if (strcasecmp(mb.name[0], "INBOX") == 0) {
		imap_no(s, cmd, "[CANNOT] INBOX cannot be deleted");
		return;
	}
	/* The selected folder first stops being selected. */
	if (s->mbox != NULL && strcmp(mbox_name(s->mbox), mb.name[0]) == 0)
		imap_unselect(s);
	if (mstore_delete(s->store, mb.name[0], &err) == -1) {
		imap_no_store(s, cmd, mstore_error(s->store), err);
		return;
	}
	imap_sync(s, 1);
	imap_ok(s, cmd, "DELETE completed");
}

void
cmd_rename(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_mailboxes	 mb;
	const char		*err;

	if (imap_mailboxes_parse(cmd, imap_utf8(s), &mb, &err) == -1 ||
	    mb.n != 2) {
		imap_bad(s, cmd, "%s", mb.n != 2 ? "Two names needed" : err);
		return;
	}
	strip_delimiter(mb.name[1]);
	if (s->mbox != NULL && strcmp(mbox_name(s->mbox), mb.name[0]) == 0)
		imap_unselect(s);
	if (mstore_rename(s->store, mb.name[0], mb.name[1], &err) == -1) {
		imap_no_store(s, cmd, mstore_error(s->store), err);
		return;
	}
	imap_sync(s, 1);
	imap_ok(s, cmd, "RENAME completed");
}

void
cmd_subscribe(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_mailboxes	 mb;
	const char		*err;
	int			 on = cmd->cmd == IMAP_CMD_SUBSCRIBE;

	if (imap_mailboxes_parse(cmd, imap_utf8(s), &mb, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	if (mstore_subscribe(s->store, mb.name[0], on, &err) == -1) {
		imap_no_store(s, cmd, mstore_error(s->store), err);
		return;
	}
	imap_sync(s, 1);
	imap_ok(s, cmd, "%s completed", cmd->name);
}

/*
 * LIST and LSUB.
 */

/*
 * RFC 9051 6.3.9: '*' matches anything, '%' anything but the delimiter.
 * The pattern runs as a set of positions over the name, so a hostile
 * pattern of many wildcards costs pattern x name steps, never more.
 */
static int
wildmatch(const char *pat, const char *name)
{
	unsigned char	*cur, *next;
	size_t		 plen = strlen(pat), i;
	int		 match;

	cur = xcalloc(plen + 1, 1);
	next = xcalloc(plen + 1, 1);
	cur[0] = 1;
	for (;; name++) {
		/* A wildcard may match nothing. */
		for (i = 0; i < plen; i++)
			if (cur[i] && (pat[i] == '*' || pat[i] == '%'))
				cur[i + 1] = 1;
		if (*name == '\0')
			break;
		memset(next, 0, plen + 1);
		for (i = 0; i < plen; i++) {
			if (!cur[i])
				continue;
			if (pat[i] == '*' || (pat[i] == '%' && *name != '.'))
				next[i] = 1;
			else if (pat[i] == *name)
				next[i + 1] = 1;
		}
		memcpy(cur, next, plen + 1);
	}
	match = cur[plen];
	free(cur);
	free(next);
	return match;
}

/* "INBOX" is matched without regard to case (RFC 9051 5.1). */
static int
name_matches(const char *ref, const char *pattern, const char *name)
{
	char	 full[2 * IMAP_MAILBOX_MAX * 4 + 2];
	char	 canon[IMAP_MAILBOX_MAX * 4 + 1];

	(void)snprintf(full, sizeof(full), "%s%s", ref, pattern);
	(void)osms_strlcpy(canon, name, sizeof(canon));
	if (strncasecmp(full, "INBOX", 5) == 0 && (full[5] == '\0' ||
	    full[5] == '.'))
		memcpy(full, "INBOX", 5);
	return wildmatch(full, canon);
}

static void
status_out(struct imap_session *s, const char *name, unsigned items,
    const struct mbox_status *st)
{
	struct buf	 b = BUF_INIT(8192);
	int		 first = 1;

#define ITEM(bit, fmt, v) do {						\
	if (items & (bit)) {						\
		(void)buf_printf(&b, "%s" fmt, first ? "" : " ", v);	\
		first = 0;						\
	}								\
} while (0)
	(void)buf_addstr(&b, "* STATUS ");
	(void)imap_mailbox_out(s, name, &b);
	(void)buf_addstr(&b, " (");
	ITEM(IMAP_STATUS_MESSAGES, "MESSAGES %u", st->messages);
	ITEM(IMAP_STATUS_UIDNEXT, "UIDNEXT %u", st->uidnext);
	ITEM(IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY %u", st->uidvalidity);
	ITEM(IMAP_STATUS_UNSEEN, "UNSEEN %u", st->unseen);
	ITEM(IMAP_STATUS_DELETED, "DELETED %u", st->deleted);
	ITEM(IMAP_STATUS_SIZE, "SIZE %llu", (unsigned long long)st->size);
	ITEM(IMAP_STATUS_RECENT, "RECENT %u", st->recent);
	ITEM(IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	    (unsigned long long)st->highestmodseq);
	ITEM(IMAP_STATUS_APPENDLIMIT, "APPENDLIMIT %llu",
	    (unsigned long long)IMAP_APPEND_LIMIT);
#undef ITEM
	(void)buf_addstr(&b, ")\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

static void
list_one(struct imap_session *s, const struct imap_list *l,
    const struct mstore_folder *f, int lsub)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} attrs[] = {
		{ MSTORE_F_NONEXISTENT, "\\NonExistent" },
		{ MSTORE_F_NOSELECT, "\\Noselect" },
		{ MSTORE_F_HASCHILDREN, "\\HasChildren" },
		{ MSTORE_F_HASNOCHILDREN, "\\HasNoChildren" },
		{ MSTORE_F_SUBSCRIBED, "\\Subscribed" },
		{ MSTORE_F_DRAFTS, "\\Drafts" },
		{ MSTORE_F_SENT, "\\Sent" },
		{ MSTORE_F_TRASH, "\\Trash" },
		{ MSTORE_F_JUNK, "\\Junk" },
		{ MSTORE_F_ARCHIVE, "\\Archive" },
	};
	struct buf	 b = BUF_INIT(16 * 1024);
	struct mbox_status st;
	const char	*err;
	unsigned	 show = f->flags;
	size_t		 i;
	int		 first = 1;

	/* \NonExistent only in LIST-EXTENDED answers; \Subscribed only
	 * when asked (RFC 5258). */
	if (!l->extended)
		show &= ~MSTORE_F_NONEXISTENT;
	if (!(l->ret & IMAP_LIST_RET_SUBSCRIBED) &&
	    !(l->select & IMAP_LIST_SEL_SUBSCRIBED))
		show &= ~MSTORE_F_SUBSCRIBED;
	if (lsub)
		show &= ~(MSTORE_F_SUBSCRIBED | MSTORE_F_NONEXISTENT);
	(void)buf_printf(&b, "* %s (", lsub ? "LSUB" : "LIST");
	for (i = 0; i < nitems(attrs); i++) {
		if (!(show & attrs[i].bit))
			continue;
		(void)buf_printf(&b, "%s%s", first ? "" : " ", attrs[i].name);
		first = 0;
	}
	(void)buf_addstr(&b, ") \".\" ");
	(void)imap_mailbox_out(s, f->name, &b);
	(void)buf_addstr(&b, "\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
	if ((l->ret & IMAP_LIST_RET_STATUS) && !(f->flags & (MSTORE_F_NOSELECT |
	    MSTORE_F_NONEXISTENT)) &&
	    mstore_status(s->store, f->name, &st, &err) == 0)
		status_out(s, f->name, l->status, &st);
}

void
cmd_list(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_list	 l;
	struct mstore_folder	*folders = NULL;
	char			 utf8[IMAP_MAILBOX_MAX * 4 + 1];
	const char		*err;
	size_t			 n = 0, i, p;
	int			 lsub = cmd->cmd == IMAP_CMD_LSUB;

	if (imap_list_parse(cmd, imap_utf8(s), &l, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	if (lsub)
		l.select |= IMAP_LIST_SEL_SUBSCRIBED;
	/* An empty pattern asks for the delimiter (RFC 9051 6.3.9). */
	if (l.npatterns == 1 && l.patterns[0][0] == '\0') {
		imap_untagged(s, "%s (\\Noselect) \".\" \"\"", lsub ? "LSUB" :
		    "LIST");
		imap_list_free(&l);
		imap_ok(s, cmd, "%s completed", cmd->name);
		return;
	}
	if (mstore_folders(s->store, &folders, &n, &err) == -1) {
		imap_list_free(&l);
		imap_no_store(s, cmd, mstore_error(s->store), err);
		return;
	}
	for (i = 0; i < n; i++) {
		const struct mstore_folder *f = &folders[i];

		if ((l.select & IMAP_LIST_SEL_SUBSCRIBED) &&
		    !(f->flags & MSTORE_F_SUBSCRIBED))
			continue;
		if ((l.select & IMAP_LIST_SEL_SPECIAL_USE) &&
		    !(f->flags & MSTORE_F_SPECIAL))
			continue;
		/* Parents without a folder show only in plain LIST. */
		if ((f->flags & MSTORE_F_NONEXISTENT) &&
		    !(f->flags & MSTORE_F_SUBSCRIBED) && l.extended &&
		    !(f->flags & MSTORE_F_HASCHILDREN))
			continue;
		if (imap_mutf7_to_utf8(f->name, utf8, sizeof(utf8), &err) ==
		    -1)
			(void)osms_strlcpy(utf8, f->name, sizeof(utf8));
		for (p = 0; p < l.npatterns; p++)
			if (name_matches(l.ref, l.patterns[p], utf8))
				break;
		if (p < l.npatterns)
			list_one(s, &l, f, lsub);
	}
	free(folders);
	imap_list_free(&l);
	imap_sync(s, 1);
	imap_ok(s, cmd, "%s completed", cmd->name);
}

void
cmd_status(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_status	 st;
	struct mbox_status	 ms;
	const char		*err;

	if (imap_status_parse(cmd, imap_utf8(s), &st, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	if (mstore_status(s->store, st.mailbox, &ms, &err) == -1) {
		imap_no_store(s, cmd, mstore_error(s->store), err);
		return;
	}
	if (st.items & IMAP_STATUS_HIGHESTMODSEQ)
		s->enabled |= IMAP_EN_CONDSTORE;	/* RFC 7162 3.1 */
	status_out(s, st.mailbox, st.items, &ms);
	imap_sync(s, 1);
	imap_ok(s, cmd, "STATUS completed");
}

void
cmd_namespace(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_untagged(s, "NAMESPACE ((\"\" \".\")) NIL NIL");
	imap_sync(s, 1);
	imap_ok(s, cmd, "NAMESPACE completed");
}

/*
 * QUOTA (RFC 9208): one root, "", the user's quota from the directory.
 */

static void
quota_out(struct imap_session *s)
{
	uint64_t	 bytes = 0, msgs = 0;
	const char	*err;
	struct buf	 b = BUF_INIT(1024);

	if (mstore_quota(s->store, &bytes, &msgs, &err) == -1)
		log_warnx("session %s: quota: %s", s->si->user, err);
	if (s->si->quota_bytes > 0)
		(void)buf_printf(&b, "STORAGE %llu %llu",
		    (unsigned long long)((bytes + 1023) / 1024),
		    (unsigned long long)(s->si->quota_bytes / 1024));
	if (s->si->quota_messages > 0)
		(void)buf_printf(&b, "%sMESSAGE %llu %llu", b.len ? " " : "",
		    (unsigned long long)msgs,
		    (unsigned long long)s->si->quota_messages);
	imap_untagged(s, "QUOTA \"\" (%s)", b.len ? b.data : "");
	buf_free(&b);
}

void
cmd_quota(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_mailboxes	 mb;
	struct imap_quota	 q;
	struct buf		 name = BUF_INIT(4096);
	const char		*err;
	int			 limited = s->si->quota_bytes > 0 ||
	    s->si->quota_messages > 0;

	switch (cmd->cmd) {
	case IMAP_CMD_GETQUOTAROOT:
		if (imap_mailboxes_parse(cmd, imap_utf8(s), &mb, &err) == -1) {
			imap_bad(s, cmd, "%s", err);
			return;
		}
		(void)imap_mailbox_out(s, mb.name[0], &name);
		imap_untagged(s, "QUOTAROOT %s%s", name.data, limited ?
		    " \"\"" : "");
		buf_free(&name);
		if (limited)
			quota_out(s);
		break;
	case IMAP_CMD_GETQUOTA:
		if (imap_quota_parse(cmd, &q, &err) == -1) {
			imap_bad(s, cmd, "%s", err);
			return;
		}
		if (!limited || q.root == NULL || q.root[0] != '\0') {
			imap_no(s, cmd, "[NONEXISTENT] No such quota root");
			return;
		}
		quota_out(s);
		break;
	default:
		/* The directory sets quotas: osmsctl user quota. */
		imap_no(s, cmd, "[NOPERM] Quotas are set by the"
		    " administrator");
		return;
	}
	imap_sync(s, 1);
	imap_ok(s, cmd, "%s completed", cmd->name);
}
