/*
 * Buffered non-blocking I/O for protocol sessions, on libevent's
 * bufferevents.
 *
 * The input buffer is capped a little above the line limit: libevent stops
 * reading from the socket once that much is buffered and resumes when the
 * session has taken lines out. A client sending megabytes without a line
 * end therefore costs one line's worth of memory.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "io.h"
#include "io_private.h"
#include "log.h"
#include "util.h"

#define IO_READ_SLACK	4096	/* read-ahead beyond one line */

void
io_readcb(struct bufferevent *bev, void *arg)
{
	struct io	*io = arg;

	(void)bev;
	io->cb(io, IO_DATAIN, io->arg);
}

void
io_writecb(struct bufferevent *bev, void *arg)
{
	struct io	*io = arg;

	(void)bev;
	io->cb(io, IO_LOWAT, io->arg);
}

void
io_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct io	*io = arg;
	int		 saved = errno;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		io->cb(io, IO_TLSREADY, io->arg);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		io->cb(io, IO_TIMEOUT, io->arg);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		io->cb(io, IO_DISCONNECTED, io->arg);
		return;
	}
	if (io->tls_error == NULL || io->tls_error(io) == 0)
		(void)osms_strlcpy(io->error, saved ? strerror(saved) :
		    "connection failed", sizeof(io->error));
	io->cb(io, IO_ERROR, io->arg);
}

struct io *
io_new(int fd, size_t max_line, io_cb cb, void *arg)
{
	struct io	*io;

	if (max_line < 3)
		fatalx("io_new: line limit too small");
	if (evutil_make_socket_nonblocking(fd) == -1)
		fatal("io_new: non-blocking");
	io = xcalloc(1, sizeof(*io));
	io->bev = bufferevent_socket_new(osms_evbase, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (io->bev == NULL)
		fatalx("io_new: bufferevent_socket_new failed");
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	bufferevent_setcb(io->bev, io_readcb, io_writecb, io_eventcb, io);
	io_set_max_line(io, max_line);
	if (bufferevent_enable(io->bev, EV_READ | EV_WRITE) == -1)
		fatalx("io_new: bufferevent_enable failed");
	return io;
}

void
io_free(struct io *io)
{
	if (io == NULL)
		return;
	if (io->failev != NULL)
		event_free(io->failev);
	bufferevent_free(io->bev);
	free(io->line);
	free(io);
}

static void
io_failcb(evutil_socket_t fd, short ev, void *arg)
{
	struct io	*io = arg;

	(void)fd;
	(void)ev;
	io->cb(io, IO_ERROR, io->arg);
}

void
io_fail_later(struct io *io, const char *why)
{
	struct timeval	 tv = { 0, 0 };

	(void)osms_strlcpy(io->error, why, sizeof(io->error));
	if (io->failev == NULL &&
	    (io->failev = evtimer_new(osms_evbase, io_failcb, io)) == NULL)
		fatalx("io_fail_later: evtimer_new");
	(void)bufferevent_disable(io->bev, EV_READ);
	evtimer_add(io->failev, &tv);
}

int
io_fd(const struct io *io)
{
	return io->fd;
}

void
io_set_timeout(struct io *io, int seconds)
{
	struct timeval	 tv = { seconds, 0 };

	io->timeout = seconds;
	if (bufferevent_set_timeouts(io->bev, seconds > 0 ? &tv : NULL,
	    seconds > 0 ? &tv : NULL) == -1)
		fatalx("io_set_timeout failed");
}

/* The filter callbacks, in libevent's types. */
struct io_filter {
	io_filter_cb	 in;
	io_filter_cb	 out;
	void		*ctx;
	void		(*free_ctx)(void *);
};

static enum bufferevent_filter_result
io_filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct io_filter	*f = arg;

	return (enum bufferevent_filter_result)f->in(src, dst, (long)limit,
	    (int)mode, f->ctx);
}

static enum bufferevent_filter_result
io_filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct io_filter	*f = arg;

	return (enum bufferevent_filter_result)f->out(src, dst, (long)limit,
	    (int)mode, f->ctx);
}

static void
io_filter_free(void *arg)
{
	struct io_filter	*f = arg;

	if (f->free_ctx != NULL)
		f->free_ctx(f->ctx);
	free(f);
}

int
io_push_filter(struct io *io, io_filter_cb in, io_filter_cb out, void *ctx,
    void (*free_ctx)(void *))
{
	struct bufferevent	*bev;
	struct io_filter	*f = xcalloc(1, sizeof(*f));

	f->in = in;
	f->out = out;
	f->ctx = ctx;
	f->free_ctx = free_ctx;
	/* Deferred callbacks: a filter bufferevent would otherwise call
	 * back from inside io_write(), into a session in mid-step. */
	bev = bufferevent_filter_new(io->bev, io_filter_in, io_filter_out,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, io_filter_free, f);
	if (bev == NULL) {
		free(f);
		return -1;
	}
	io->bev = bev;
	bufferevent_setcb(io->bev, io_readcb, io_writecb, io_eventcb, io);
	io_set_max_line(io, io->max_line);
	io_set_timeout(io, io->timeout);
	if (bufferevent_enable(io->bev, EV_READ | EV_WRITE) == -1)
		fatalx("io_push_filter: bufferevent_enable");
	return 0;
}

int
io_shutdown_write(struct io *io)
{
	if (io->ssl != NULL)
		return io->tls_shutdown != NULL ? io->tls_shutdown(io) : -1;
	return shutdown(io->fd, SHUT_WR);
}

const char *
io_error(const struct io *io)
{
	return io->error[0] ? io->error : "connection failed";
}

void
io_set_max_line(struct io *io, size_t max_line)
{
	io->max_line = max_line;
	if (io->linecap < max_line) {
		free(io->line);
		io->line = xmalloc(max_line);
		io->linecap = max_line;
	}
	bufferevent_setwatermark(io->bev, EV_READ, 0,
	    max_line + IO_READ_SLACK);
}

/* The byte at pos of the input buffer is CR. */
static int
io_cr_at(struct evbuffer *in, size_t pos)
{
	struct evbuffer_ptr	 p;
	char			 c;

	if (evbuffer_ptr_set(in, &p, pos, EVBUFFER_PTR_SET) == -1 ||
	    evbuffer_copyout_from(in, &p, &c, 1) != 1)
		return 0;
	return c == '\r';
}

/* The start of an over-long line, so the session can name it (a tag). */
static void
io_line_start(struct io *io, struct evbuffer *in, char **linep,
    size_t *lenp)
{
	size_t	 n = io->max_line - 1;

	if (evbuffer_copyout(in, io->line, n) != (ev_ssize_t)n)
		return;
	io->line[n] = '\0';
	*linep = io->line;
	*lenp = n;
}

enum io_line
io_getline(struct io *io, char **linep, size_t *lenp, int *flagsp)
{
	struct evbuffer		*in = bufferevent_get_input(io->bev);
	struct evbuffer_ptr	 eol;
	size_t			 len, buffered;
	int			 flags = 0;

	*linep = NULL;
	*lenp = 0;
	*flagsp = 0;

	for (;;) {
		buffered = evbuffer_get_length(in);
		eol = evbuffer_search(in, "\n", 1, NULL);
		if (!io->skipping)
			break;
		/* Throw away the rest of an over-long line. */
		if (eol.pos == -1) {
			if (buffered > 0)
				io->skip_cr = io_cr_at(in, buffered - 1);
			(void)evbuffer_drain(in, buffered);
			return IO_LINE_NONE;
		}
		io->prev_bare = eol.pos > 0 ? !io_cr_at(in, (size_t)eol.pos - 1) :
		    !io->skip_cr;
		(void)evbuffer_drain(in, (size_t)eol.pos + 1);
		io->skipping = 0;
	}

	if (io->prev_bare)
		flags |= IO_LINE_AFTER_BARE;
	if (eol.pos == -1) {
		if (buffered < io->max_line)
			return IO_LINE_NONE;
		io->skip_cr = io_cr_at(in, buffered - 1);
		io_line_start(io, in, linep, lenp);
		(void)evbuffer_drain(in, buffered);
		io->skipping = 1;
		*flagsp = flags;
		return IO_LINE_TOOLONG;
	}
	len = (size_t)eol.pos;
	if (len + 1 > io->max_line) {
		io->prev_bare = len == 0 || !io_cr_at(in, len - 1);
		io_line_start(io, in, linep, lenp);
		(void)evbuffer_drain(in, len + 1);
		*flagsp = flags;
		return IO_LINE_TOOLONG;
	}
	if (evbuffer_remove(in, io->line, len + 1) != (int)(len + 1))
		fatalx("io_getline: short evbuffer_remove");
	if (len > 0 && io->line[len - 1] == '\r')
		len--;
	else
		flags |= IO_LINE_BARE_LF;
	io->prev_bare = (flags & IO_LINE_BARE_LF) != 0;
	io->line[len] = '\0';
	if (memchr(io->line, '\r', len) != NULL)
		flags |= IO_LINE_CR;
	if (memchr(io->line, '\0', len) != NULL)
		flags |= IO_LINE_NUL;
	*linep = io->line;
	*lenp = len;
	*flagsp = flags;
	return IO_LINE_OK;
}

size_t
io_read(struct io *io, void *buf, size_t len)
{
	int	 n;

	if (len > INT32_MAX)
		len = INT32_MAX;
	n = evbuffer_remove(bufferevent_get_input(io->bev), buf, len);
	return n < 0 ? 0 : (size_t)n;
}

size_t
io_inbuf(const struct io *io)
{
	return evbuffer_get_length(bufferevent_get_input(io->bev));
}

void
io_discard_input(struct io *io)
{
	struct evbuffer	*in = bufferevent_get_input(io->bev);

	(void)evbuffer_drain(in, evbuffer_get_length(in));
	io->skipping = 0;
	io->prev_bare = 0;
}

int
io_write(struct io *io, const void *data, size_t len)
{
	if (bufferevent_write(io->bev, data, len) == -1) {
		log_warnx("io_write: cannot buffer %zu bytes", len);
		return -1;
	}
	return 0;
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = evbuffer_add_vprintf(bufferevent_get_output(io->bev), fmt, ap);
	va_end(ap);
	return n < 0 ? -1 : 0;
}

size_t
io_queued(const struct io *io)
{
	return evbuffer_get_length(bufferevent_get_output(io->bev));
}

void
io_pause_read(struct io *io)
{
	(void)bufferevent_disable(io->bev, EV_READ);
}

void
io_resume_read(struct io *io)
{
	(void)bufferevent_enable(io->bev, EV_READ);
}
