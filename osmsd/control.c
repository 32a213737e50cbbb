/*
 * control: the socket osmsctl talks to.
 *
 * User _osms, chrooted to the empty directory, no secrets. Peers: the
 * parent, the queue for "osmsctl queue" and authd for "osmsctl domain",
 * "user" and "alias". Input: requests from local root processes
 * (checked with SO_PEERCRED), still read as hostile: a malformed request
 * closes that client and nothing else.
 *
 * Each request is checked, then relayed to the parent tagged with the
 * client's id; the parent's answers come back with that id and are
 * passed on to the client.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "util.h"

#define CONTROL_MAX_CLIENTS	32

struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 entry;
	uint64_t		 id;
	struct channel		 ch;
};

static TAILQ_HEAD(, ctl_client)	 clients = TAILQ_HEAD_INITIALIZER(clients);
static int			 nclients;
static uint64_t			 next_id = 1;
static int			 listen_fd = -1;
static int			 pending_fd = -1;
static struct event		 ev_accept;

static void
control_client_closed(struct channel *ch)
{
	struct ctl_client	*cc = ch->arg;

	TAILQ_REMOVE(&clients, cc, entry);
	nclients--;
	free(cc);
}

static void
control_result(struct ctl_client *cc, int ok, const char *text)
{
	struct msg	 m;

	msg_init(&m, IMSG_CTL_RESULT, cc->id);
	msg_add_u32(&m, ok ? 1 : 0);
	msg_add_str(&m, text);
	(void)channel_send(&cc->ch, &m);
}

/* osmsctl domain/user/alias: relayed to authd as it came (checked). */
static void
control_dir(struct ctl_client *cc, struct imsg *imsg)
{
	struct channel	*to = proc_peer(ROLE_AUTHD);

	if (imsg->fd != -1) {
		channel_bad_message(&cc->ch, imsg, "bad request");
		return;
	}
	if (to == NULL) {
		control_result(cc, 0, "the directory is restarting; try"
		    " again");
		return;
	}
	(void)channel_compose(to, IMSG_CTL_DIR, cc->id, -1, imsg->data,
	    imsg->datalen);
	/* It may carry a password: no copy stays here. */
	explicit_wipe(imsg->data, imsg->datalen);
}


/* The queue requests that carry a message id after the version. */
static int
names_message(uint32_t type)
{
	return type == IMSG_CTL_QUEUE_SHOW || type == IMSG_CTL_QUEUE_REMOVE ||
	    type == IMSG_CTL_QUEUE_SCHEDULE || type == IMSG_CTL_QUEUE_EXPIRE ||
	    type == IMSG_CTL_QUARANTINE;
}

static void
control_client_dispatch(struct channel *ch, struct imsg *imsg)
{
	struct ctl_client	*cc = ch->arg;
	struct msg_reader	 r;
	struct msg		 m;
	uint32_t		 version, level = 0, op = 0;

	struct channel		*to = proc_parent();
	char			 msgid[64] = "";

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &version);
	if (imsg->hdr.type == IMSG_CTL_LOG_VERBOSE)
		(void)msg_get_u32(&r, &level);
	if (imsg->hdr.type == IMSG_CTL_QUARANTINE)
		(void)msg_get_u32(&r, &op);
	if (names_message(imsg->hdr.type))
		(void)msg_get_str(&r, msgid, sizeof(msgid));
	if (imsg->hdr.type == IMSG_CTL_DIR) {
		control_dir(cc, imsg);
		return;
	}
	if (msg_end(&r) == -1 || imsg->fd != -1) {
		channel_bad_message(ch, imsg, "bad request");
		return;
	}
	if (version != OSMS_IMSG_VERSION) {
		control_result(cc, 0, "osmsctl and osmsd versions differ");
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_CTL_QUEUE_LIST:
	case IMSG_CTL_QUEUE_SHOW:
	case IMSG_CTL_QUEUE_REMOVE:
	case IMSG_CTL_QUEUE_FLUSH:
	case IMSG_CTL_QUEUE_SCHEDULE:
	case IMSG_CTL_QUEUE_EXPIRE:
	case IMSG_CTL_QUARANTINE:
		if ((to = proc_peer(ROLE_QUEUE)) == NULL) {
			control_result(cc, 0, "the queue is restarting; try"
			    " again");
			return;
		}
		break;
	default:
		break;
	}
	msg_init(&m, imsg->hdr.type, cc->id);
	msg_add_u32(&m, version);
	if (imsg->hdr.type == IMSG_CTL_LOG_VERBOSE)
		msg_add_u32(&m, level);
	if (imsg->hdr.type == IMSG_CTL_QUARANTINE)
		msg_add_u32(&m, op);
	if (names_message(imsg->hdr.type))
		msg_add_str(&m, msgid);
	if (channel_send(to, &m) == -1)
		control_result(cc, 0, "osmsd is not answering");
}

static void
control_accept(evutil_socket_t fd, short ev, void *arg)
{
	struct ctl_client	*cc;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	int			 s;

	(void)ev;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control: accept");
		return;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		(void)close(s);
		return;
	}
	if (cred.uid != 0) {
		log_warnx("control: refused uid %u (pid %d): root only",
		    (unsigned)cred.uid, (int)cred.pid);
		(void)close(s);
		return;
	}
	if (nclients >= CONTROL_MAX_CLIENTS) {
		log_warnx("control: too many clients");
		(void)close(s);
		return;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->id = next_id++;
	TAILQ_INSERT_TAIL(&clients, cc, entry);
	nclients++;
	channel_init(&cc->ch, s, ROLE_CONTROL, ROLE_CLIENT, 0,
	    control_client_dispatch, control_client_closed, cc);
	log_debug("control: client %llu, pid %d", (unsigned long long)cc->id,
	    (int)cred.pid);
}

/* An answer from the parent or the queue for the client with that id. */
static void
control_relay(struct imsg *imsg)
{
	struct ctl_client	*cc;

	switch (imsg->hdr.type) {
	case IMSG_CTL_STATUS_ROLE:
	case IMSG_CTL_RESULT:
	case IMSG_CTL_TEXT:
		TAILQ_FOREACH(cc, &clients, entry)
			if (cc->id == imsg->hdr.id)
				break;
		if (cc == NULL || !channel_is_open(&cc->ch))
			return;		/* the client left */
		(void)channel_compose(&cc->ch, imsg->hdr.type, cc->id, -1,
		    imsg->data, imsg->datalen);
		break;
	default:
		fatalx("unexpected %s from parent",
		    imsg_type_name(imsg->hdr.type));
	}
}

static void
control_dispatch_parent(struct imsg *imsg)
{
	control_relay(imsg);
}

static void
control_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	(void)ch;
	control_relay(imsg);
}

static void
control_conf(struct imsg *imsg)
{
	if (imsg->hdr.type != IMSG_CONF_CONTROL || imsg->fd == -1 ||
	    imsg->datalen != 0)
		fatalx("bad %s from parent", imsg_type_name(imsg->hdr.type));
	if (pending_fd != -1)
		(void)close(pending_fd);
	pending_fd = imsg_take_fd(imsg);
}

static void
control_conf_end(int reload)
{
	(void)reload;
	if (pending_fd == -1)
		return;
	if (listen_fd != -1) {
		(void)event_del(&ev_accept);
		(void)close(listen_fd);
	}
	listen_fd = pending_fd;
	pending_fd = -1;
	if (evutil_make_socket_nonblocking(listen_fd) == -1)
		fatal("control: non-blocking");
	event_assign(&ev_accept, osms_evbase, listen_fd, EV_READ | EV_PERSIST,
	    control_accept, NULL);
	if (event_add(&ev_accept, NULL) == -1)
		fatal("control: event_add");
}

static void
control_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%d clients", nclients);
}

/* Answers already relayed reach their clients before control exits. */
static void
control_shutdown(void)
{
	struct ctl_client	*cc;

	TAILQ_FOREACH(cc, &clients, entry)
		channel_flush_sync(&cc->ch);
}

static const struct proc_ops control_ops = {
	.role = ROLE_CONTROL,
	.conf = control_conf,
	.conf_end = control_conf_end,
	.dispatch_parent = control_dispatch_parent,
	.dispatch_peer = control_dispatch_peer,
	.state = control_state,
	.shutdown = control_shutdown,
};

int
main(int argc, char **argv)
{
	proc_main(&control_ops, argc, argv);
}
