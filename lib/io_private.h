/*
 * The inside of an io, shared by io.c (plain connections) and io_tls.c
 * (TLS), so that a program without TLS links no OpenSSL.
 */
#ifndef OSMS_IO_PRIVATE_H
#define OSMS_IO_PRIVATE_H

#include <event2/bufferevent.h>

#include "io.h"

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
	void			*ssl;		/* SSL *, from io_tls.c */
	/* TLS: the reason of a failure, into io->error (io_tls.c) */
	int			(*tls_error)(struct io *);
	/* TLS: send close_notify, reading goes on (io_tls.c) */
	int			(*tls_shutdown)(struct io *);
	int			 timeout;
	char			 error[128];
	struct event		*failev;	/* io_fail_later() */
};

/* The bufferevent callbacks, for a new bufferevent under the io. */
void	 io_readcb(struct bufferevent *, void *);
void	 io_writecb(struct bufferevent *, void *);
void	 io_eventcb(struct bufferevent *, short, void *);

#endif
