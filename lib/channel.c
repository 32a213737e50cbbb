/*
 * imsg streams on libevent, checked against the message catalogue.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "osms_imsg.h"

struct event_base	*osms_evbase;

/* A violation below the level of messages (frames, descriptors). */
#define NO_TYPE		UINT32_MAX

static void	 channel_io(evutil_socket_t, short, void *);
static void	 channel_closed_ev(evutil_socket_t, short, void *);
static void	 channel_update(struct channel *);

void
channel_init(struct channel *ch, int fd, enum osms_role self,
    enum osms_role remote, int die_on_violation, channel_dispatch_cb dispatch,
    channel_closed_cb closed, void *arg)
{
	int	 flags;

	if (osms_evbase == NULL)
		fatalx("channel_init: no event base");
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("channel_init: fcntl");
	memset(ch, 0, sizeof(*ch));
	imsgbuf_init(&ch->ibuf, fd);
	ch->self = self;
	ch->remote = remote;
	ch->die_on_violation = die_on_violation;
	ch->dispatch = dispatch;
	ch->closed = closed;
	ch->arg = arg;
	ch->open = 1;
	evtimer_assign(&ch->closed_ev, osms_evbase, channel_closed_ev, ch);
	channel_update(ch);
}

static void
channel_update(struct channel *ch)
{
	short	 events = EV_READ;

	if (!ch->open)
		return;
	if (imsgbuf_pending(&ch->ibuf))
		events |= EV_WRITE;
	if (events == ch->events && event_initialized(&ch->ev))
		return;
	if (event_initialized(&ch->ev))
		(void)event_del(&ch->ev);
	ch->events = events;
	event_assign(&ch->ev, osms_evbase, ch->ibuf.fd, events | EV_PERSIST,
	    channel_io, ch);
	if (event_add(&ch->ev, NULL) == -1)
		fatal("channel: event_add");
}

void
channel_close(struct channel *ch)
{
	struct timeval	 now = { 0, 0 };

	if (!ch->open)
		return;
	ch->open = 0;
	if (event_initialized(&ch->ev))
		(void)event_del(&ch->ev);
	(void)close(ch->ibuf.fd);
	imsgbuf_clear(&ch->ibuf);
	ch->ibuf.fd = -1;
	evtimer_add(&ch->closed_ev, &now);
}

static void
channel_closed_ev(evutil_socket_t fd, short ev, void *arg)
{
	struct channel	*ch = arg;

	(void)fd;
	(void)ev;
	if (ch->closed != NULL)
		ch->closed(ch);
}

int
channel_is_open(const struct channel *ch)
{
	return ch->open;
}

/* A protocol violation by the far end. */
static void
channel_violation(struct channel *ch, const char *what, uint32_t type)
{
	const char	*name = type == NO_TYPE ? "" : imsg_type_name(type);
	const char	*sep = type == NO_TYPE ? "" : ": ";

	if (ch->die_on_violation)
		fatalx("%s from %s%s%s; exiting", what, role_name(ch->remote),
		    sep, name);
	log_warnx("%s from %s%s%s; closing the channel", what,
	    role_name(ch->remote), sep, name);
	ch->broken = 1;
	channel_close(ch);
}

void
channel_bad_message(struct channel *ch, const struct imsg *imsg,
    const char *why)
{
	channel_violation(ch, why, imsg->hdr.type);
}

/*
 * Read once and dispatch every complete message: the number of bytes
 * read, 0 at end of stream, -1 if nothing was there; when the channel
 * closed meanwhile, -2.
 */
static ssize_t
channel_read(struct channel *ch)
{
	struct imsg	 imsg;
	uint32_t	 type;
	ssize_t		 n;
	int		 r;

	n = imsgbuf_read(&ch->ibuf);
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		if (errno == EBADMSG)
			channel_violation(ch, "bad descriptors", NO_TYPE);
		else {
			if (errno != ECONNRESET)
				log_warn("channel to %s: read",
				    role_name(ch->remote));
			channel_close(ch);
		}
		return -2;
	}
	while ((r = imsg_get(&ch->ibuf, &imsg)) != 0) {
		if (r == -1) {
			channel_violation(ch, "malformed frame", NO_TYPE);
			return -2;
		}
		type = imsg.hdr.type;
		if (!imsg_allowed(type, ch->remote, ch->self)) {
			imsg_free(&imsg);
			channel_violation(ch, "forbidden message", type);
			return -2;
		}
		if (msg_check(&imsg, imsg_type_layout(type)) == -1) {
			imsg_free(&imsg);
			channel_violation(ch, "malformed payload", type);
			return -2;
		}
		log_trace("imsg %s <- %s id=%llu len=%zu%s",
		    imsg_type_name(type), role_name(ch->remote),
		    (unsigned long long)imsg.hdr.id, imsg.datalen,
		    imsg.fd != -1 ? " fd" : "");
		ch->dispatch(ch, &imsg);
		imsg_free(&imsg);
		if (!ch->open)
			return -2;
	}
	if (n == 0) {
		channel_close(ch);
		return -2;
	}
	return n;
}

static void
channel_io(evutil_socket_t fd, short ev, void *arg)
{
	struct channel	*ch = arg;

	(void)fd;
	if (ev & EV_WRITE) {
		if (imsgbuf_flush(&ch->ibuf) == -1) {
			if (errno != EPIPE && errno != ECONNRESET)
				log_warn("channel to %s: write",
				    role_name(ch->remote));
			channel_close(ch);
			return;
		}
	}
	if ((ev & EV_READ) && channel_read(ch) == -2)
		return;
	channel_update(ch);
}

void
channel_drain(struct channel *ch)
{
	while (ch->open && channel_read(ch) > 0)
		;
}

int
channel_compose(struct channel *ch, uint32_t type, uint64_t id, int fd,
    const void *data, size_t len)
{
	if (!ch->open) {
		if (fd != -1)
			(void)close(fd);
		errno = EPIPE;
		return -1;
	}
	if (imsg_compose(&ch->ibuf, type, id, fd, data, len) == -1) {
		if (errno == EMSGSIZE)
			fatalx("%s to %s: message too large",
			    imsg_type_name(type), role_name(ch->remote));
		log_warnx("channel to %s: peer does not read; closing",
		    role_name(ch->remote));
		channel_close(ch);
		return -1;
	}
	log_trace("imsg %s -> %s id=%llu len=%zu%s", imsg_type_name(type),
	    role_name(ch->remote), (unsigned long long)id, len,
	    fd != -1 ? " fd" : "");
	channel_update(ch);
	return 0;
}

int
channel_send(struct channel *ch, struct msg *m)
{
	int	 fd = m->fd;

	m->fd = -1;
	if (m->overflow) {
		if (fd != -1)
			(void)close(fd);
		fatalx("%s to %s: message too large", imsg_type_name(m->type),
		    role_name(ch->remote));
	}
	return channel_compose(ch, m->type, m->id, fd, m->buf, m->len);
}

void
channel_flush_sync(struct channel *ch)
{
	struct pollfd	 pfd;

	while (ch->open && imsgbuf_pending(&ch->ibuf)) {
		if (imsgbuf_flush(&ch->ibuf) == -1)
			return;
		if (!imsgbuf_pending(&ch->ibuf))
			return;
		pfd.fd = ch->ibuf.fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 1000) <= 0)
			return;
	}
}

/* Milliseconds left until deadline (monotonic), at least 0. */
static int
ms_left(const struct timespec *deadline)
{
	struct timespec	 now;
	long long	 ms;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Wait for the channel's socket; 0 when ready, -1 on timeout or error. */
static int
channel_wait(struct channel *ch, short events, const struct timespec *dl)
{
	struct pollfd	 pfd;
	int		 n;

	pfd.fd = ch->ibuf.fd;
	pfd.events = events;
	do
		n = poll(&pfd, 1, ms_left(dl));
	while (n == -1 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

int
channel_call(struct channel *ch, struct msg *m, uint32_t reply_type,
    struct imsg *reply, int timeout_ms)
{
	struct timespec	 dl;
	uint64_t	 id = m->id;
	ssize_t		 n;
	int		 r;

	(void)clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	if (channel_send(ch, m) == -1)
		return -1;
	while (imsgbuf_pending(&ch->ibuf)) {
		if (imsgbuf_flush(&ch->ibuf) == -1 ||
		    (imsgbuf_pending(&ch->ibuf) &&
		    channel_wait(ch, POLLOUT, &dl) == -1)) {
			log_warnx("channel to %s: cannot send %s",
			    role_name(ch->remote), imsg_type_name(m->type));
			channel_close(ch);
			return -1;
		}
	}
	channel_update(ch);
	for (;;) {
		if ((r = imsg_get(&ch->ibuf, reply)) == -1) {
			channel_violation(ch, "malformed frame", NO_TYPE);
			return -1;
		}
		if (r == 1 && reply->hdr.type == reply_type &&
		    reply->hdr.id < id) {
			imsg_free(reply);	/* the answer to a call given up */
			continue;
		}
		if (r == 1)
			break;
		if (channel_wait(ch, POLLIN, &dl) == -1) {
			log_warnx("channel to %s: no answer to %s",
			    role_name(ch->remote), imsg_type_name(m->type));
			return -1;
		}
		n = imsgbuf_read(&ch->ibuf);
		if (n == 0 || (n == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK)) {
			channel_close(ch);
			return -1;
		}
	}
	if (reply->hdr.type != reply_type || reply->hdr.id != id ||
	    !imsg_allowed(reply->hdr.type, ch->remote, ch->self) ||
	    msg_check(reply, imsg_type_layout(reply_type)) == -1) {
		channel_violation(ch, "unexpected answer", reply->hdr.type);
		imsg_free(reply);
		return -1;
	}
	return 0;
}
