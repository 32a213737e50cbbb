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
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "io.h"
#include "log.h"
#include "util.h"

#define IO_READ_SLACK	4096	/* read-ahead beyond one line */

struct io {
	struct bufferevent	*bev;
	int			 fd;
	size_t			 max_line;
	int			 skipping;	/* inside an over-long line */
	int			 skip_cr;	/* its last byte dropped was CR */
	int			 prev_bare;	/* last line end was a bare LF */
	char			*line;		/* the line handed out */
	size_t			 linecap;
	io_cb			 cb;
	void			*arg;
	SSL			*ssl;
	int			 timeout;
	char			 error[128];
};

static void
io_readcb(struct bufferevent *bev, void *arg)
{
	struct io	*io = arg;

	(void)bev;
	io->cb(io, IO_DATAIN, io->arg);
}

static void
io_writecb(struct bufferevent *bev, void *arg)
{
	struct io	*io = arg;

	(void)bev;
	io->cb(io, IO_LOWAT, io->arg);
}

static void
io_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct io	*io = arg;
	unsigned long	 e;
	int		 saved = errno;

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
	if (io->ssl != NULL &&
	    (e = bufferevent_get_openssl_error(bev)) != 0) {
		ERR_error_string_n(e, io->error, sizeof(io->error));
		while (bufferevent_get_openssl_error(bev) != 0)
			;
	} else
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
	bufferevent_free(io->bev);
	free(io->line);
	free(io);
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

int
io_start_tls(struct io *io, SSL_CTX *ctx)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if (io->ssl != NULL || (ssl = SSL_new(ctx)) == NULL)
		return -1;
	/* Plaintext received after the command is never used. */
	io_discard_input(io);
	/* Hand the socket from the plain bufferevent to a TLS one. */
	if (bufferevent_setfd(io->bev, -1) == -1)
		fatalx("io_start_tls: bufferevent_setfd");
	bufferevent_free(io->bev);
	bev = bufferevent_openssl_socket_new(osms_evbase, io->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("io_start_tls: bufferevent_openssl_socket_new");
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	io->bev = bev;
	io->ssl = ssl;
	bufferevent_setcb(io->bev, io_readcb, io_writecb, io_eventcb, io);
	io_set_max_line(io, io->max_line);
	io_set_timeout(io, io->timeout);
	if (bufferevent_enable(io->bev, EV_READ | EV_WRITE) == -1)
		fatalx("io_start_tls: bufferevent_enable");
	return 0;
}

int
io_shutdown_write(struct io *io)
{
	if (io->ssl != NULL)
		return -1;
	return shutdown(io->fd, SHUT_WR);
}

SSL *
io_ssl(const struct io *io)
{
	return io->ssl;
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
		(void)evbuffer_drain(in, buffered);
		io->skipping = 1;
		*flagsp = flags;
		return IO_LINE_TOOLONG;
	}
	len = (size_t)eol.pos;
	if (len + 1 > io->max_line) {
		io->prev_bare = len == 0 || !io_cr_at(in, len - 1);
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
