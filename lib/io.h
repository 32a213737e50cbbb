/*
 * Buffered non-blocking I/O for protocol sessions, on libevent.
 * Protocol code reads whole lines and writes replies; it never touches
 * the socket. Input is bounded: a line longer than the limit is reported
 * once and skipped, and the reader stops reading from the socket while
 * the session has not consumed what is buffered.
 */
#ifndef OSMS_IO_H
#define OSMS_IO_H

#include <stddef.h>
#include <stdint.h>


struct io;

enum io_event {
	IO_DATAIN,		/* input is buffered: call io_getline() */
	IO_LOWAT,		/* everything queued has been written */
	IO_TIMEOUT,		/* no input (or output progress) in time */
	IO_DISCONNECTED,	/* the peer closed the connection */
	IO_ERROR,		/* the connection failed */
	IO_TLSREADY,		/* the TLS handshake is done */
};

enum io_line {
	IO_LINE_NONE,		/* no complete line buffered yet */
	IO_LINE_OK,		/* *line holds one line, without its end */
	IO_LINE_TOOLONG,	/* a line over the limit: it is being skipped;
				 * *line holds its first max_line - 1 bytes */
};

/* Flags describing the line io_getline() returned. */
#define IO_LINE_BARE_LF	0x01	/* ended in LF without CR */
#define IO_LINE_CR	0x02	/* holds a CR that is not its line end */
#define IO_LINE_NUL	0x04	/* holds a NUL byte */
#define IO_LINE_AFTER_BARE 0x08	/* the line before it ended in a bare LF
				 * (SMTP's end of data is CRLF.CRLF) */

typedef void (*io_cb)(struct io *, enum io_event, void *);

/* Take ownership of a connected socket. max_line counts the line end. */
struct io	*io_new(int fd, size_t max_line, io_cb, void *);
void		 io_free(struct io *);
int		 io_fd(const struct io *);

void		 io_set_timeout(struct io *, int seconds);
void		 io_set_max_line(struct io *, size_t);

enum io_line	 io_getline(struct io *, char **line, size_t *len,
		    int *flags);
/* Take up to len raw bytes (a BDAT chunk); returns how many. */
size_t		 io_read(struct io *, void *, size_t);
/* Bytes received but not yet taken. */
size_t		 io_inbuf(const struct io *);
/* Drop every byte received but not taken (before a TLS handshake). */
void		 io_discard_input(struct io *);

int		 io_write(struct io *, const void *, size_t);
int		 io_printf(struct io *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
size_t		 io_queued(const struct io *);

/*
 * TLS (lib/io_tls.c, which links OpenSSL).
 *
 * Start a server-side TLS handshake on the connection: what was received
 * in plaintext and not yet taken is thrown away first (no command
 * injection before STARTTLS), and the caller must have seen IO_LOWAT
 * for its last plaintext reply. IO_TLSREADY or IO_ERROR follows.
 */
struct ssl_ctx_st;
struct ssl_st;
int		 io_start_tls(struct io *, struct ssl_ctx_st *);
/* The client side, with an SSL the caller set up (SNI, verification);
 * the io owns it from now on. */
int		 io_start_tls_client(struct io *, struct ssl_st *);
/* The TLS connection, NULL in plaintext. */
struct ssl_st	*io_ssl(const struct io *);
/* Why the last IO_ERROR happened, for the log. */
const char	*io_error(const struct io *);

/*
 * End the sending direction (TCP's FIN, or TLS's close_notify): a client
 * still sending then reads our last reply and the end of the session
 * instead of losing them to a reset. Reading goes on.
 */
int		 io_shutdown_write(struct io *);

/*
 * Put a filter between the socket (or TLS) and the session, such as
 * compression (lib/iodeflate.c): in turns what arrives into what the
 * session reads, out what the session writes into what is sent. The
 * functions are libevent's bufferevent filter callbacks; free_ctx runs
 * when the io is freed. -1 if the filter cannot be set.
 */
struct evbuffer;
typedef int (*io_filter_cb)(struct evbuffer *src, struct evbuffer *dst,
    long dst_limit, int flush_mode, void *ctx);
int		 io_push_filter(struct io *, io_filter_cb in, io_filter_cb out,
		    void *ctx, void (*free_ctx)(void *));

/* A filter found the stream broken: IO_ERROR (with why) comes from the
 * event loop, not from inside the filter. */
void		 io_fail_later(struct io *, const char *why);

/* Stop/start reading from the socket (a session waiting on a peer). */
void		 io_pause_read(struct io *);
void		 io_resume_read(struct io *);

#endif
