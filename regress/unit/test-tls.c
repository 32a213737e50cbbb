/*
 * TLS (tls.c and io_start_tls): contexts from descriptors, the protocol
 * floor, and the STARTTLS switch discarding pipelined plaintext. The
 * client is a child process using OpenSSL directly.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "channel.h"
#include "io.h"
#include "tls.h"
#include "test.h"

static EVP_PKEY	*key, *otherkey;
static X509	*cert;

static void
make_cert(void)
{
	key = EVP_EC_gen("P-256");
	otherkey = EVP_EC_gen("P-256");
	if (key == NULL || otherkey == NULL)
		abort();
	cert = test_self_signed(key);
}

/* A descriptor reading the given PEM text. */
static int
pem_fd(int what, EVP_PKEY *k)
{
	FILE	*f = tmpfile();
	int	 fd;

	if (f == NULL)
		abort();
	if (what == 0)
		PEM_write_X509(f, cert);
	else if (what == 1)
		PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	else
		fputs("-----BEGIN GARBAGE-----\nxx\n", f);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void
test_ctx(void)
{
	SSL_CTX	*ctx;
	char	 err[256];

	test_begin("tls: contexts load from descriptors, bad input fails");
	ctx = tls_server_ctx(pem_fd(0, NULL), pem_fd(1, key), err,
	    sizeof(err));
	test_assert(ctx != NULL);
	test_assert(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION);
	test_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	test_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	SSL_CTX_free(ctx);
	ctx = tls_server_ctx(pem_fd(0, NULL), pem_fd(1, otherkey), err,
	    sizeof(err));
	test_assert(ctx == NULL && strstr(err, "does not match") != NULL);
	ctx = tls_server_ctx(pem_fd(2, NULL), pem_fd(1, key), err,
	    sizeof(err));
	test_assert(ctx == NULL && strstr(err, "certificate") != NULL);
	ctx = tls_server_ctx(pem_fd(0, NULL), pem_fd(2, NULL), err,
	    sizeof(err));
	test_assert(ctx == NULL && strstr(err, "key") != NULL);
	test_end();
}

struct server {
	struct io	*io;
	SSL_CTX		*ctx;
	int		 started;
	int		 ready;
	int		 error;
	char		 lines[8][64];
	int		 nlines;
};

static void
server_cb(struct io *io, enum io_event ev, void *arg)
{
	struct server	*s = arg;
	char		*line;
	size_t		 len;
	int		 flags;

	switch (ev) {
	case IO_DATAIN:
		while (io_getline(io, &line, &len, &flags) == IO_LINE_OK) {
			if (s->nlines < 8)
				(void)snprintf(s->lines[s->nlines++], 64, "%s",
				    line);
			if (!s->started && strcmp(line, "STARTTLS") == 0) {
				/* Same shape as smtpd: reply, then switch. */
				(void)io_printf(io, "220 go ahead\r\n");
				s->started = 1;
				return;
			}
			if (s->ready)
				(void)io_printf(io, "echo %s\r\n", line);
		}
		break;
	case IO_LOWAT:
		if (s->started == 1) {
			s->started = 2;
			if (io_start_tls(io, s->ctx) == -1)
				abort();
		}
		break;
	case IO_TLSREADY:
		s->ready = 1;
		break;
	case IO_ERROR:
		s->error = 1;
		/* FALLTHROUGH */
	default:
		(void)event_base_loopbreak(osms_evbase);
		break;
	}
}

/* Client: plaintext STARTTLS plus pipelined bytes, then TLS at max_proto.
 * Exit 0 if it got "echo HELLO" back over TLS 1.2 or later. */
static _Noreturn void
client(int fd, int max_proto)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_client_method());
	SSL	*ssl;
	char	 buf[256];
	int	 n, got = 0;

	/* "INJECTED" arrives in the same segment as STARTTLS. */
	if (write(fd, "STARTTLS\r\nINJECTED\r\n", 20) != 20)
		_exit(2);
	while (got < 14 && (n = read(fd, buf + got, 14 - got)) > 0)
		got += n;
	if (got != 14 || strncmp(buf, "220 go ahead\r\n", 14) != 0)
		_exit(3);
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	if (max_proto)
		SSL_CTX_set_max_proto_version(ctx, max_proto);
	SSL_CTX_set_security_level(ctx, 0);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		_exit(4);
	if (SSL_write(ssl, "HELLO\r\n", 7) != 7)
		_exit(5);
	n = SSL_read(ssl, buf, sizeof(buf) - 1);
	if (n <= 0)
		_exit(6);
	buf[n] = '\0';
	_exit(strcmp(buf, "echo HELLO\r\n") == 0 ? 0 : 7);
}

static int
run(int max_proto, struct server *s)
{
	SSL_CTX	*ctx;
	char	 err[256];
	int	 sv[2], status;
	pid_t	 pid;

	memset(s, 0, sizeof(*s));
	ctx = tls_server_ctx(pem_fd(0, NULL), pem_fd(1, key), err,
	    sizeof(err));
	if (ctx == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	if ((pid = fork()) == 0) {
		(void)close(sv[0]);
		client(sv[1], max_proto);
	}
	(void)close(sv[1]);
	s->ctx = ctx;
	s->io = io_new(sv[0], 1000, server_cb, s);
	io_set_timeout(s->io, 10);
	(void)event_base_dispatch(osms_evbase);
	io_free(s->io);
	SSL_CTX_free(ctx);
	(void)waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_starttls(void)
{
	struct server	 s;
	int		 rc, i;

	test_begin("tls: STARTTLS drops pipelined plaintext, then TLS works");
	rc = run(0, &s);
	test_assert(rc == 0);
	test_assert(s.ready && !s.error);
	for (i = 0; i < s.nlines; i++)
		test_assert(strcmp(s.lines[i], "INJECTED") != 0);
	test_assert(s.nlines == 2 && strcmp(s.lines[1], "HELLO") == 0);
	test_end();
}

static void
test_floor(void)
{
	struct server	 s;

	test_begin("tls: a TLS 1.1 client is refused");
	test_assert(run(TLS1_1_VERSION, &s) == 4);
	test_assert(!s.ready && s.error);
	test_end();
}

int
main(void)
{
	(void)signal(SIGPIPE, SIG_IGN);
	if ((osms_evbase = event_base_new()) == NULL)
		return 2;
	make_cert();
	test_ctx();
	test_starttls();
	test_floor();
	return test_exit();
}
