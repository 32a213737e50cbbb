/*
 * TLS on an io: a handshake on the connection, as the server (STARTTLS
 * or implicit TLS) or as the client (the mta's STARTTLS). Only the programs that serve TLS link it,
 * and OpenSSL with it.
 */
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "channel.h"
#include "io.h"
#include "io_private.h"
#include "log.h"

/* The reason of a TLS failure, into io->error; 0 if OpenSSL has none. */
static int
io_tls_error(struct io *io)
{
	unsigned long	 e;

	if ((e = bufferevent_get_openssl_error(io->bev)) == 0)
		return 0;
	ERR_error_string_n(e, io->error, sizeof(io->error));
	while (bufferevent_get_openssl_error(io->bev) != 0)
		;
	return 1;
}

/*
 * close_notify, written at once: the caller has seen its output drained.
 * OpenSSL goes on reading after it (the peer may still be sending), and
 * the peer may still write after reading it.
 */
static int
io_tls_shutdown(struct io *io)
{
	if (SSL_shutdown(io->ssl) < 0) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* Hand the socket from the plain bufferevent to a TLS one. */
static void
io_tls_start(struct io *io, SSL *ssl, enum bufferevent_ssl_state state)
{
	struct bufferevent	*bev;

	/* Plaintext received after the command is never used. */
	io_discard_input(io);
	if (bufferevent_setfd(io->bev, -1) == -1)
		fatalx("io_start_tls: bufferevent_setfd");
	bufferevent_free(io->bev);
	bev = bufferevent_openssl_socket_new(osms_evbase, io->fd, ssl,
	    state, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("io_start_tls: bufferevent_openssl_socket_new");
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	io->bev = bev;
	io->ssl = ssl;
	io->tls_error = io_tls_error;
	io->tls_shutdown = io_tls_shutdown;
	bufferevent_setcb(io->bev, io_readcb, io_writecb, io_eventcb, io);
	io_set_max_line(io, io->max_line);
	io_set_timeout(io, io->timeout);
	if (bufferevent_enable(io->bev, EV_READ | EV_WRITE) == -1)
		fatalx("io_start_tls: bufferevent_enable");
}

int
io_start_tls(struct io *io, SSL_CTX *ctx)
{
	SSL	*ssl;

	if (io->ssl != NULL || (ssl = SSL_new(ctx)) == NULL)
		return -1;
	io_tls_start(io, ssl, BUFFEREVENT_SSL_ACCEPTING);
	return 0;
}

int
io_start_tls_client(struct io *io, SSL *ssl)
{
	if (io->ssl != NULL)
		return -1;
	io_tls_start(io, ssl, BUFFEREVENT_SSL_CONNECTING);
	return 0;
}

SSL *
io_ssl(const struct io *io)
{
	return io->ssl;
}
