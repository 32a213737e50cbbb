/*
 * delivery: writes mail into the Maildir store.
 *
 * User vmail (the mail store owner), chrooted to the mail store root, no
 * secrets. Peers: parent, queue (requests), authd (linked, for the
 * directory issue). Input: requests from the queue, whose paths are
 * checked again (maildir.c) so that neither a hostile directory entry
 * nor a symlink planted in a Maildir writes outside the store.
 *
 * One request at a time: each ends with fsync of the file and of new/,
 * and the queue records the answer before it counts as delivered.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "maildir.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "util.h"

static int		 rootfd = -1;
static unsigned long	 ndelivered, nfailed;

static void
delivery_request(struct channel *ch, struct imsg *imsg)
{
	struct maildir_delivery	 md;
	struct msg_reader	 r;
	struct msg		 m;
	enum maildir_result	 res;
	const char		*err = "";
	char			 id[QUEUE_ID_LEN + 1], sender[ADDR_MAX_TEXT];
	char			 address[ADDR_MAX_TEXT];
	char			 mailbox[MAILDIR_MAX_PATH];
	char			 name[MAILDIR_MAX_NAME + 1];
	char			 prepend[2 * ADDR_MAX_TEXT + 64];
	uint64_t		 qbytes, qmsgs, written = 0;
	uint32_t		 flags;
	int			 fd;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &flags);
	(void)msg_get_str(&r, id, sizeof(id));
	(void)msg_get_str(&r, sender, sizeof(sender));
	(void)msg_get_str(&r, address, sizeof(address));
	(void)msg_get_str(&r, mailbox, sizeof(mailbox));
	(void)msg_get_str(&r, name, sizeof(name));
	(void)msg_get_u64(&r, &qbytes);
	(void)msg_get_u64(&r, &qmsgs);
	if (msg_end(&r) == -1 || str_has_ctl(sender) ||
	    str_has_ctl(address)) {
		channel_bad_message(ch, imsg, "bad request");
		return;
	}
	fd = imsg_take_fd(imsg);

	/* RFC 5322 3.6.7 trace fields of the final delivery. */
	(void)snprintf(prepend, sizeof(prepend),
	    "Return-Path: <%s>\r\nDelivered-To: %s\r\n", sender, address);
	memset(&md, 0, sizeof(md));
	md.rootfd = rootfd;
	md.path = mailbox;
	md.create = 1;
	md.msgfd = fd;
	md.prepend = prepend;
	md.name = name;
	md.check_dup = (flags & DELIVERY_CHECK_DUP) != 0;
	md.quota_bytes = qbytes;
	md.quota_messages = qmsgs;
	if (!maildir_path_valid(mailbox) || !maildir_name_valid(name)) {
		res = MAILDIR_PERMFAIL;
		err = "invalid mailbox path or name";
	} else
		res = maildir_deliver(&md, &written, &err);
	(void)close(fd);
	if (res == MAILDIR_OK || res == MAILDIR_DUPLICATE)
		ndelivered++;
	else {
		nfailed++;
		log_info("delivery: %s to=<%s> mailbox=%s result=%d: %s", id,
		    address, mailbox, res, err);
	}
	msg_init(&m, IMSG_DELIVERY_RESULT, imsg->hdr.id);
	msg_add_u32(&m, res);
	msg_add_u64(&m, written);
	msg_add_str(&m, res == MAILDIR_OK || res == MAILDIR_DUPLICATE ? "" :
	    err);
	(void)channel_send(ch, &m);
}

static void
delivery_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_DELIVERY_REQ:
		delivery_request(ch, imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
delivery_ready(void)
{
	/* Chrooted: "/" is the mail store root. */
	if ((rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("delivery: open the mail store");
}

static void
delivery_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%lu delivered, %lu failed", ndelivered,
	    nfailed);
}

static const struct proc_ops delivery_ops = {
	.role = ROLE_DELIVERY,
	.ready = delivery_ready,
	.dispatch_peer = delivery_dispatch_peer,
	.state = delivery_state,
};

int
main(int argc, char **argv)
{
	proc_main(&delivery_ops, argc, argv);
}
