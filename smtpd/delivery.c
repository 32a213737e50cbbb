/*
 * delivery: writes mail into the Maildir store.
 *
 * User vmail (the mail store owner), chrooted to the mail store root, no
 * secrets. Peers: parent, queue (requests), authd (linked, for the
 * directory issue). Input: requests from the queue, whose paths are
 * checked again (maildir.c) so that neither a hostile directory entry
 * nor a symlink planted in a Maildir writes outside the store.
 *
 * Deliveries run on a few worker threads, so that their fsyncs (of the
 * file and of new/) overlap; the queue records each answer before it
 * counts as delivered.
 */
#include <sys/queue.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "maildir.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "util.h"
#include "workq.h"

#define DELIVERY_WORKERS	4	/* deliveries flushing at once */

/* One delivery, from request to result; the worker owns it meanwhile. */
struct job {
	TAILQ_ENTRY(job)	 entry;
	uint64_t		 reqid;
	struct maildir_delivery	 md;
	char			 id[QUEUE_ID_LEN + 1];
	char			 address[ADDR_MAX_TEXT];
	char			 mailbox[MAILDIR_MAX_PATH];
	char			 name[MAILDIR_MAX_NAME + 1];
	char			 prepend[2 * ADDR_MAX_TEXT + 64 + 512];
	enum maildir_result	 res;
	uint64_t		 written;
	char			 err[256];
};

static int		 rootfd = -1;
static unsigned long	 ndelivered, nfailed;
static unsigned		 running;
static TAILQ_HEAD(, job) jobs = TAILQ_HEAD_INITIALIZER(jobs);

static void
delivery_work(void *arg)
{
	struct job	*j = arg;
	const char	*err = NULL;

	if (!maildir_path_valid(j->mailbox) || !maildir_name_valid(j->name)) {
		j->res = MAILDIR_PERMFAIL;
		err = "invalid mailbox path or name";
	} else
		j->res = maildir_deliver(&j->md, &j->written, &err);
	(void)osms_strlcpy(j->err, err != NULL ? err : "", sizeof(j->err));
}

static void
delivery_done(void *arg)
{
	struct job	*j = arg;
	struct channel	*ch = proc_peer(ROLE_QUEUE);
	struct msg	 m;
	int		 ok = j->res == MAILDIR_OK || j->res == MAILDIR_DUPLICATE;

	running--;
	TAILQ_REMOVE(&jobs, j, entry);
	(void)close(j->md.msgfd);
	if (ok)
		ndelivered++;
	else {
		nfailed++;
		log_info("delivery: %s to=<%s> mailbox=%s result=%d: %s", j->id,
		    j->address, j->mailbox, j->res, j->err);
	}
	/* A restarted queue does not know this id: it redelivers, and the
	 * redelivery finds this copy. */
	if (ch != NULL) {
		msg_init(&m, IMSG_DELIVERY_RESULT, j->reqid);
		msg_add_u32(&m, j->res);
		msg_add_u64(&m, j->written);
		msg_add_str(&m, ok ? "" : j->err);
		(void)channel_send(ch, &m);
	}
	free(j);
}

static void
delivery_request(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct msg		 m;
	struct job		*j = xcalloc(1, sizeof(*j)), *o;
	char			 sender[ADDR_MAX_TEXT], headers[512];
	uint64_t		 qbytes, qmsgs;
	uint32_t		 flags;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &flags);
	(void)msg_get_str(&r, j->id, sizeof(j->id));
	(void)msg_get_str(&r, sender, sizeof(sender));
	(void)msg_get_str(&r, j->address, sizeof(j->address));
	(void)msg_get_str(&r, j->mailbox, sizeof(j->mailbox));
	(void)msg_get_str(&r, j->name, sizeof(j->name));
	(void)msg_get_u64(&r, &qbytes);
	(void)msg_get_u64(&r, &qmsgs);
	(void)msg_get_str(&r, headers, sizeof(headers));
	if (msg_end(&r) == -1 || str_has_ctl(sender) ||
	    str_has_ctl(j->address) || !header_fields_ok(headers)) {
		free(j);
		channel_bad_message(ch, imsg, "bad request");
		return;
	}
	j->reqid = imsg->hdr.id;
	/* Spam and unverified senders, by policy: the Maildir++ folder
	 * Junk, made if missing; the quota holds for it on its own. */
	if ((flags & DELIVERY_JUNK) && osms_strlcat(j->mailbox, "/.Junk",
	    sizeof(j->mailbox)) >= sizeof(j->mailbox)) {
		free(j);
		channel_bad_message(ch, imsg, "mailbox path too long");
		return;
	}
	/* RFC 5322 3.6.7 trace fields of the final delivery, then the
	 * queue's (the virus scan's). */
	(void)snprintf(j->prepend, sizeof(j->prepend),
	    "Return-Path: <%s>\r\nDelivered-To: %s\r\n%s", sender, j->address,
	    headers);
	j->md.rootfd = rootfd;
	j->md.path = j->mailbox;
	j->md.create = 1;
	j->md.msgfd = imsg_take_fd(imsg);
	j->md.prepend = j->prepend;
	j->md.name = j->name;
	j->md.check_dup = (flags & DELIVERY_CHECK_DUP) != 0;
	j->md.quota_bytes = qbytes;
	j->md.quota_messages = qmsgs;
	/*
	 * The same copy asked for again while it is being written: a queue
	 * that died asked first, its successor now. Two workers on one
	 * tmp/ name would take each other's file; this one waits.
	 */
	TAILQ_FOREACH(o, &jobs, entry)
		if (strcmp(o->name, j->name) == 0 &&
		    strcmp(o->mailbox, j->mailbox) == 0)
			break;
	if (o != NULL) {
		msg_init(&m, IMSG_DELIVERY_RESULT, j->reqid);
		msg_add_u32(&m, MAILDIR_TEMPFAIL);
		msg_add_u64(&m, 0);
		msg_add_str(&m, "the same delivery is in progress");
		(void)channel_send(ch, &m);
		if (j->md.msgfd != -1)
			(void)close(j->md.msgfd);
		free(j);
		return;
	}
	TAILQ_INSERT_TAIL(&jobs, j, entry);
	running++;
	workq_push(delivery_work, delivery_done, j);
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
	workq_init(DELIVERY_WORKERS);
}

static void
delivery_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%u delivering, %lu delivered, %lu failed",
	    running, ndelivered, nfailed);
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
