/*
 * APPEND (RFC 9051 6.3.12), with MULTIAPPEND (RFC 3502), literal8
 * (RFC 3516) and APPENDUID (RFC 4315). The message arrived in a
 * temporary file while the command was read (imap_session.c), so a
 * 50 MB message never sits in memory.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_session.h"
#include "log.h"
#include "util.h"

static unsigned
mbox_flags(unsigned imap)
{
	unsigned	 f = 0;

	if (imap & IMAP_FLAG_SEEN)
		f |= MBOX_SEEN;
	if (imap & IMAP_FLAG_ANSWERED)
		f |= MBOX_ANSWERED;
	if (imap & IMAP_FLAG_FLAGGED)
		f |= MBOX_FLAGGED;
	if (imap & IMAP_FLAG_DELETED)
		f |= MBOX_DELETED;
	if (imap & IMAP_FLAG_DRAFT)
		f |= MBOX_DRAFT;
	return f;
}

/* The message's bytes as a descriptor at offset 0 (ours to close). */
static int
message_fd(struct imap_session *s, const struct imap_arg *data)
{
	int	 fd;

	if (data->ext > 0) {
		if ((fd = imap_literal_fd(s, data->ext)) == -1)
			return -1;
		return dup(fd);
	}
	/* A small literal kept in memory by the reader. */
	if ((fd = open("tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) == -1)
		return -1;
	if (write_all(fd, data->s, data->len) == -1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

void
cmd_append(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_append	 ap;
	struct buf		 uids = BUF_INIT(64 * 1024);
	const struct imap_append_msg *m;
	const char		*err;
	uint32_t		 uidvalidity = 0, uid;
	size_t			 i;
	int			 fd, rc;

	if (imap_append_parse(cmd, imap_utf8(s), &ap, &err) == -1) {
		imap_bad(s, cmd, "%s", err);
		return;
	}
	for (i = 0; i < ap.nmsgs; i++) {
		m = &ap.msgs[i];
		if (m->data->len > IMAP_APPEND_LIMIT) {
			imap_no(s, cmd, "[TOOBIG] The message is larger than"
			    " APPENDLIMIT");
			goto done;
		}
		if ((fd = message_fd(s, m->data)) == -1) {
			log_warn("session %s: APPEND", s->si->user);
			imap_no(s, cmd, "[SERVERBUG] Cannot store the message");
			goto done;
		}
		rc = mbox_append(s->store, ap.mailbox, fd,
		    mbox_flags(m->flags.sys), m->flags.kw, m->flags.nkw,
		    m->has_date ? m->date : 0, &uidvalidity, &uid, &err);
		(void)close(fd);
		if (rc == -1) {
			if (mstore_error(s->store) == MSTORE_E_NONEXISTENT)
				imap_no(s, cmd, "[TRYCREATE] No such folder");
			else
				imap_no_store(s, cmd, mstore_error(s->store),
				    err);
			goto done;
		}
		(void)buf_printf(&uids, "%s%u", i ? "," : "", uid);
	}
	/* Appended to the selected folder: EXISTS now. */
	imap_sync(s, 1);
	imap_ok(s, cmd, "[APPENDUID %u %s] APPEND completed", uidvalidity,
	    uids.data);
done:
	buf_free(&uids);
	imap_append_free(&ap);
}
