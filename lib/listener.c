/*
 * Listening sockets handed over by the parent, and accepting on them.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "msg.h"
#include "util.h"

TAILQ_HEAD(listener_list, listener);

static struct listener_list	 serving = TAILQ_HEAD_INITIALIZER(serving);
static struct listener_list	 pending = TAILQ_HEAD_INITIALIZER(pending);
static listener_accept_cb	 accept_cb;

static void	 listener_accept(evutil_socket_t, short, void *);

static const char *
listener_proto(enum listen_proto p)
{
	static const char *names[] = { "smtp", "submission", "imap", "pop3" };

	return (unsigned)p < nitems(names) ? names[p] : "?";
}

void
listener_conf(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct listener		*l;
	uint32_t		 proto, tls, flags, port;

	l = xcalloc(1, sizeof(*l));
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &proto);
	(void)msg_get_u32(&r, &tls);
	(void)msg_get_u32(&r, &flags);
	(void)msg_get_str(&r, l->addr, sizeof(l->addr));
	(void)msg_get_u32(&r, &port);
	(void)msg_get_str(&r, l->pki, sizeof(l->pki));
	if (msg_end(&r) == -1 || imsg->fd == -1 || proto > PROTO_POP3 ||
	    tls > TLS_IMPLICIT || port > 65535) {
		free(l);
		channel_bad_message(ch, imsg, "bad listener");
		return;
	}
	l->fd = imsg_take_fd(imsg);
	l->proto = (enum listen_proto)proto;
	l->tls = (enum listen_tls)tls;
	l->flags = flags;
	l->port = (uint16_t)port;
	TAILQ_INSERT_TAIL(&pending, l, entry);
}

static void
listener_free(struct listener *l)
{
	if (event_initialized(&l->ev))
		(void)event_del(&l->ev);
	if (event_initialized(&l->pause))
		(void)event_del(&l->pause);
	(void)close(l->fd);
	free(l);
}

void
listener_apply(listener_accept_cb cb)
{
	struct listener	*l;

	accept_cb = cb;
	listener_close_all();
	while ((l = TAILQ_FIRST(&pending)) != NULL) {
		TAILQ_REMOVE(&pending, l, entry);
		if (evutil_make_socket_nonblocking(l->fd) == -1)
			fatal("listener: non-blocking");
		event_assign(&l->ev, osms_evbase, l->fd, EV_READ | EV_PERSIST,
		    listener_accept, l);
		if (event_add(&l->ev, NULL) == -1)
			fatal("listener: event_add");
		TAILQ_INSERT_TAIL(&serving, l, entry);
		log_debug("serving %s on %s port %u", listener_proto(l->proto),
		    l->addr, l->port);
	}
}

void
listener_close_all(void)
{
	struct listener	*l;

	while ((l = TAILQ_FIRST(&serving)) != NULL) {
		TAILQ_REMOVE(&serving, l, entry);
		listener_free(l);
	}
}

int
listener_count(void)
{
	struct listener	*l;
	int		 n = 0;

	TAILQ_FOREACH(l, &serving, entry)
		n++;
	return n;
}

static void
listener_resume(evutil_socket_t fd, short ev, void *arg)
{
	struct listener	*l = arg;

	(void)fd;
	(void)ev;
	if (event_add(&l->ev, NULL) == -1)
		fatal("listener: event_add");
}

static void
listener_accept(evutil_socket_t fd, short ev, void *arg)
{
	struct listener		*l = arg;
	struct sockaddr_storage	 ss;
	struct timeval		 tv = { 1, 0 };
	socklen_t		 len = sizeof(ss);
	int			 s;

	(void)ev;
	memset(&ss, 0, sizeof(ss));
	s = accept4(fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s == -1) {
		switch (errno) {
		case EINTR:
		case EAGAIN:
		case ECONNABORTED:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Out of descriptors: stop accepting for a moment
			 * instead of spinning on the ready socket. */
			log_warn("accept on %s port %u", l->addr, l->port);
			(void)event_del(&l->ev);
			evtimer_assign(&l->pause, osms_evbase,
			    listener_resume, l);
			evtimer_add(&l->pause, &tv);
			return;
		default:
			log_warn("accept on %s port %u", l->addr, l->port);
			return;
		}
	}
	/* Replies to pipelined commands go out as they are made, not
	 * after the client's delayed ACK of the one before (Nagle). */
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
		int	 one = 1;

		(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	}
	accept_cb(l, s, &ss, len);
}
