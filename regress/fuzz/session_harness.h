/*
 * The common part of the session fuzz targets (fuzz_smtp_session,
 * fuzz_imap_session, fuzz_pop3_session): the real server session on one
 * end of a socketpair, this program as its client on the other, both on
 * the one event loop of the process. The target also plays the roles
 * the session talks to; their answers come a turn of the loop later, as
 * they would from another process.
 *
 * Input: one byte of settings, then the client's bytes in segments cut
 * at 0xff. A segment is written whole; the next one only once the server
 * is quiet (nothing left to read or to answer, no progress for a few
 * turns), so text can wait for a 354 as a careful client waits, and a
 * segment of several commands is pipelining. When the server says "go
 * ahead" to STARTTLS, the harness shakes hands as a real TLS client
 * (OpenSSL, the server's own settings from lib/tls.c) and sends the next
 * segments inside TLS; the server's next byte must start TLS.
 *
 * The target defines, before including this file:
 *	static int	 hs_answer(void);	roles answer: how many things
 *						happened (0: nothing)
 *	static void	 hs_line(struct hs *, const char *, size_t);
 *						one line from the server
 * and proc_peer() answers from hs_peers[], proc_parent() is hs_parent.
 *
 * Set FUZZ_LOG=1 in the environment to see the roles' log lines.
 */
#ifndef FUZZ_SESSION_HARNESS_H
#define FUZZ_SESSION_HARNESS_H

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "channel.h"
#include "keys.h"
#include "imsg.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "tls.h"
#include "util.h"

#define HS_SEP		0xff
#define HS_QUIET	4	/* turns without progress: the server waits */
#define HS_MAX_TURNS	200000	/* in one pump: more is a livelock */
#define HS_PKI		"fuzz"
#define HS_MAX_FD	256	/* descriptors counted for leaks */

enum hs_state {
	HS_PLAIN,
	HS_HANDSHAKE,		/* the server said go ahead */
	HS_TLS,
	HS_DEAD,		/* closed, refused, or TLS failed */
};

struct hs_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

struct hs {
	int		 fd;		/* the client's end */
	SSL		*ssl;
	enum hs_state	 state;
	unsigned	 epoch;		/* +1 at each TLS start */
	struct hs_buf	 in;		/* what the server said, this epoch */
	size_t		 seen;		/* of in, handed out as lines */
	struct hs_buf	 stream;	/* what the client sent, this epoch */
	size_t		 sent;		/* of stream, written */
	unsigned long	 progress;
	unsigned long	 segments;	/* queued so far */
	int		 eof;		/* the server closed */
};

static int	 hs_answer(void);
static void	 hs_line(struct hs *, const char *, size_t);
static void	 hs_fail(const char *, const struct hs *)
		    __attribute__((noreturn));

/* A target's own events in the stream: 1 if the segment was one. */
static int		(*hs_control)(struct hs *, const uint8_t *, size_t);

static SSL_CTX		*hs_client_ctx;
static struct channel	*hs_peers[ROLE_COUNT];
static struct channel	 hs_parent;
static struct proc_conf	 hs_conf;
static int		 hs_nfds;	/* open at the start of an input */

/*
 * proc.c is not linked: the target is every peer.
 */
const struct proc_conf *
proc_conf(void)
{
	return &hs_conf;
}

struct channel *
proc_parent(void)
{
	return &hs_parent;
}

struct channel *
proc_peer(enum osms_role r)
{
	return (unsigned)r < ROLE_COUNT ? hs_peers[r] : NULL;
}

/*
 * Thousands of sessions a second would log millions of lines: the roles
 * log to syslog (log_init(0)), which this program replaces.
 */
void
syslog(int pri, const char *fmt, ...)
{
	(void)pri;
	(void)fmt;
}

static void
hs_fail(const char *what, const struct hs *h)
{
	(void)fprintf(stderr, "oracle: %s\n", what);
	if (h != NULL && h->in.len > 0)
		(void)fprintf(stderr, "server said (this epoch):\n%.*s\n",
		    (int)(h->in.len > 4000 ? 4000 : h->in.len), h->in.p);
	abort();
}

static void
hs_buf_add(struct hs_buf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 256;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static int
hs_count_fds(void)
{
	int	 fd, n = 0;

	for (fd = 0; fd < HS_MAX_FD; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

/* A file with these bytes, read from its start. */
static int
hs_memfd(const char *name, const void *p, size_t len)
{
	int	 fd;

	if ((fd = memfd_create(name, MFD_CLOEXEC)) == -1 ||
	    write_all(fd, p, len) == -1 || lseek(fd, 0, SEEK_SET) == -1)
		abort();
	return fd;
}

static int
hs_pem_fd(EVP_PKEY *k, X509 *x)
{
	BIO	*b = BIO_new(BIO_s_mem());
	char	*p;
	long	 n;
	int	 fd;

	if (b == NULL || (k != NULL ?
	    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_bio_X509(b, x)) != 1)
		abort();
	n = BIO_get_mem_data(b, &p);
	fd = hs_memfd("pem", p, (size_t)n);
	BIO_free(b);
	return fd;
}

/* An imsg over a msg's bytes, as a channel would hand it over. */
static void
hs_imsg(struct imsg *imsg, struct msg *m)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->hdr.type = m->type;
	imsg->hdr.id = m->id;
	imsg->hdr.len = (uint32_t)(IMSG_HEADER_SIZE + m->len);
	imsg->fd = m->fd;
	imsg->data = m->len > 0 ? m->buf : NULL;
	imsg->datalen = m->len;
}

/*
 * A throwaway P-256 certificate as the pki HS_PKI, loaded the way a role
 * loads its pkis (tls_pki_conf, tls_pki_apply), its key in keyd's key set
 * (keyd/keys.c, here in process), and a client context.
 */
static void
hs_tls_init(void)
{
	struct msg	 m;
	struct imsg	 imsg;
	EVP_PKEY	*k;
	X509		*x;
	X509_NAME	*name;
	char		 err[256];

	if ((k = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		abort();
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) == NULL ||
	    X509_set_pubkey(x, k) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"fuzz.test", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_sign(x, k, EVP_sha256()) == 0)
		abort();
	/* keyd's key set, in process, signs for the role's context. */
	if (keys_add(HS_PKI, hs_pem_fd(NULL, x), hs_pem_fd(k, NULL), err,
	    sizeof(err)) == -1)
		abort();
	keys_apply();
	tls_set_signer(keys_sign);
	msg_init(&m, IMSG_CONF_PKI_CERT, 0);
	msg_add_str(&m, HS_PKI);
	msg_add_fd(&m, hs_pem_fd(NULL, x));
	hs_imsg(&imsg, &m);
	tls_pki_conf(&imsg);
	tls_pki_apply();
	if (tls_pki_ctx(HS_PKI) == NULL)
		abort();
	X509_free(x);
	EVP_PKEY_free(k);

	if ((hs_client_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		abort();
	SSL_CTX_set_verify(hs_client_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(hs_client_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static void
hs_init(void)
{
	if (getenv("FUZZ_LOG") != NULL) {
		log_init(1, LOG_DAEMON);
		log_setverbose(LOG_TRACE);
	} else
		log_init(0, LOG_DAEMON);
	(void)signal(SIGPIPE, SIG_IGN);
	if ((osms_evbase = event_base_new()) == NULL)
		abort();
	(void)osms_strlcpy(hs_conf.hostname, "mx.fuzz.test",
	    sizeof(hs_conf.hostname));
	hs_tls_init();
}

/* A connected pair: *server for the session, the client's end in h. */
static void
hs_connect(struct hs *h, int *server)
{
	int	 sv[2];

	hs_nfds = hs_count_fds();
	memset(h, 0, sizeof(*h));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1)
		abort();
	h->fd = sv[1];
	*server = sv[0];
	h->state = HS_PLAIN;
}

/* Go to TLS: the line just handed out was the server's go ahead. */
static void
hs_starttls(struct hs *h)
{
	if (h->state != HS_PLAIN)
		hs_fail("a second TLS go ahead", h);
	if (h->seen != h->in.len)
		hs_fail("plaintext after the TLS go ahead", h);
	if ((h->ssl = SSL_new(hs_client_ctx)) == NULL ||
	    SSL_set_fd(h->ssl, h->fd) != 1)
		abort();
	SSL_set_connect_state(h->ssl);
	h->state = HS_HANDSHAKE;
	h->epoch++;
	h->in.len = h->seen = 0;
	/* Plaintext the server has not read yet is never sent in TLS. */
	h->stream.len = h->sent = 0;
	h->progress++;
}

/* Hand out the complete lines (without CRLF) that came. */
static void
hs_lines(struct hs *h)
{
	char		*nl;
	size_t		 start, len;
	unsigned	 epoch;

	while (h->seen < h->in.len && (nl = memchr(h->in.p + h->seen, '\n',
	    h->in.len - h->seen)) != NULL) {
		start = h->seen;
		len = (size_t)(nl - (h->in.p + start));
		h->seen = start + len + 1;
		if (len > 0 && h->in.p[start + len - 1] == '\r')
			len--;
		epoch = h->epoch;
		hs_line(h, h->in.p + start, len);
		if (h->epoch != epoch)
			return;		/* TLS now: nothing else came */
	}
}

static void
hs_dead(struct hs *h)
{
	h->state = HS_DEAD;
	h->progress++;
}

static void
hs_client_io(struct hs *h)
{
	char		 buf[16384];
	unsigned char	 c;
	ssize_t		 n;
	int		 r, e;

	/* Write what is queued. */
	while (h->sent < h->stream.len &&
	    (h->state == HS_PLAIN || h->state == HS_TLS)) {
		if (h->state == HS_PLAIN) {
			n = send(h->fd, h->stream.p + h->sent,
			    h->stream.len - h->sent, MSG_NOSIGNAL);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				hs_dead(h);
				break;
			}
		} else {
			ERR_clear_error();
			r = SSL_write(h->ssl, h->stream.p + h->sent,
			    (int)(h->stream.len - h->sent));
			if (r <= 0) {
				e = SSL_get_error(h->ssl, r);
				if (e != SSL_ERROR_WANT_READ &&
				    e != SSL_ERROR_WANT_WRITE)
					hs_dead(h);
				break;
			}
			n = r;
		}
		h->sent += (size_t)n;
		h->progress++;
	}

	if (h->state == HS_HANDSHAKE) {
		/* The server's first byte after its go ahead is TLS: a
		 * handshake or an alert record. */
		if (recv(h->fd, &c, 1, MSG_PEEK) == 1 && c != 0x16 &&
		    c != 0x15)
			hs_fail("plaintext from the server during the TLS"
			    " handshake", h);
		ERR_clear_error();
		r = SSL_do_handshake(h->ssl);
		if (r == 1) {
			h->state = HS_TLS;
			h->progress++;
		} else {
			e = SSL_get_error(h->ssl, r);
			if (e != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE)
				hs_dead(h);
		}
	}

	/* Read what came. */
	for (;;) {
		if (h->state == HS_PLAIN || (h->state == HS_DEAD &&
		    h->ssl == NULL && !h->eof)) {
			n = recv(h->fd, buf, sizeof(buf), 0);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				h->eof = 1;
				if (h->state != HS_DEAD)
					hs_dead(h);
				break;
			}
		} else if (h->state == HS_TLS) {
			ERR_clear_error();
			r = SSL_read(h->ssl, buf, sizeof(buf));
			if (r <= 0) {
				e = SSL_get_error(h->ssl, r);
				if (e != SSL_ERROR_WANT_READ &&
				    e != SSL_ERROR_WANT_WRITE) {
					h->eof = 1;
					hs_dead(h);
				}
				break;
			}
			n = r;
		} else
			break;
		hs_buf_add(&h->in, buf, (size_t)n);
		h->progress++;
		hs_lines(h);
	}
}

/* Bytes the server has not taken yet, roughly (it changes when it
 * reads). */
static int
hs_unread(const struct hs *h)
{
	int	 n = 0;

	if (h->fd == -1 || ioctl(h->fd, SIOCOUTQ, &n) == -1)
		return 0;
	return n;
}

/*
 * Run the loop, the client and the roles until the server is quiet.
 * done, if set, ends it sooner.
 */
static void
hs_pump(struct hs *h, int (*done)(void))
{
	unsigned	 quiet = 0, turns = 0;
	unsigned long	 before;
	int		 unread, last = -1, active;

	while (quiet < HS_QUIET) {
		if (done != NULL && done())
			return;
		before = h->progress;
		(void)event_base_loop(osms_evbase, EVLOOP_NONBLOCK);
		if (h->fd != -1)
			hs_client_io(h);
		h->progress += (unsigned long)hs_answer();
		unread = hs_unread(h);
		active = event_base_get_num_events(osms_evbase,
		    EVENT_BASE_COUNT_ACTIVE);
		if (h->progress != before || unread != last || active > 0)
			quiet = 0;
		else
			quiet++;
		last = unread;
		if (++turns > HS_MAX_TURNS)
			hs_fail("the server never rests (livelock)", h);
	}
}

/* Queue one segment and let the server work on it. */
static void
hs_send(struct hs *h, const uint8_t *p, size_t len)
{
	if (h->state == HS_DEAD)
		return;
	h->segments++;
	hs_buf_add(&h->stream, p, len);
	hs_pump(h, NULL);
}

/* Feed every segment of the input after its settings byte. */
static void
hs_run(struct hs *h, const uint8_t *data, size_t size)
{
	const uint8_t	*sep;
	size_t		 off = 0, len;

	hs_pump(h, NULL);	/* the greeting, or the TLS handshake */
	while (off < size && h->state != HS_DEAD) {
		sep = memchr(data + off, HS_SEP, size - off);
		len = sep != NULL ? (size_t)(sep - (data + off)) : size - off;
		if (len > 0 && (hs_control == NULL ||
		    !hs_control(h, data + off, len)))
			hs_send(h, data + off, len);
		off += len + 1;
	}
}

/* The client leaves; the session must end with it. */
static void
hs_close(struct hs *h, int (*gone)(void))
{
	if (h->ssl != NULL)
		SSL_free(h->ssl);
	h->ssl = NULL;
	if (h->fd != -1)
		(void)close(h->fd);
	h->fd = -1;
	hs_pump(h, gone);
	if (!gone())
		hs_fail("the session outlived its client", NULL);
	free(h->in.p);
	free(h->stream.p);
	memset(&h->in, 0, sizeof(h->in));
	memset(&h->stream, 0, sizeof(h->stream));
}

/*
 * authd's side of SASL, faked: PLAIN, LOGIN and SCRAM-SHA-256 (which never
 * succeeds); alice@example.test with "secret" logs in, users "temp..."
 * get a temporary failure and "slow..." are throttled. Each call gives
 * the next answer: a challenge (*chal set) or a result.
 */
#define HS_USER		"alice@example.test"
#define HS_PASSWORD	"secret"
#define HS_TOKEN	"0123456789abcdef0123456789abcdef"

enum hs_sasl_state { HS_SASL_NONE, HS_SASL_PLAIN, HS_SASL_LOGIN_USER,
	HS_SASL_LOGIN_PASS, HS_SASL_SCRAM };

struct hs_sasl {
	enum hs_sasl_state	 state;
	char			 user[256];
	const char		*chal;		/* the answer: a challenge */
	uint32_t		 res;		/* or this result */
	const char		*resuser;
};

static int
hs_prefix(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

static void
hs_sasl_result(struct hs_sasl *x, uint32_t res)
{
	x->chal = NULL;
	x->res = res;
	x->resuser = res == AUTH_OK ? HS_USER : "";
	x->state = HS_SASL_NONE;
}

static void
hs_sasl_challenge(struct hs_sasl *x, const char *text,
    enum hs_sasl_state next)
{
	x->chal = text;
	x->state = next;
}

static void
hs_sasl_login(struct hs_sasl *x, const char *user, const void *pass,
    size_t passlen)
{
	if (strcmp(user, HS_USER) == 0 && passlen == strlen(HS_PASSWORD) &&
	    memcmp(pass, HS_PASSWORD, passlen) == 0)
		hs_sasl_result(x, AUTH_OK);
	else if (hs_prefix(user, "temp"))
		hs_sasl_result(x, AUTH_TEMPFAIL);
	else if (hs_prefix(user, "slow"))
		hs_sasl_result(x, AUTH_THROTTLED);
	else
		hs_sasl_result(x, AUTH_FAIL);
}

/* PLAIN (RFC 4616): authzid NUL authcid NUL password. */
static void
hs_sasl_plain(struct hs_sasl *x, const uint8_t *p, size_t len)
{
	const uint8_t	*n1, *n2;
	char		 authz[256], authc[256];
	size_t		 l1, l2;

	if ((n1 = memchr(p, '\0', len)) == NULL ||
	    (n2 = memchr(n1 + 1, '\0', len - (size_t)(n1 + 1 - p))) == NULL ||
	    (l1 = (size_t)(n1 - p)) >= sizeof(authz) ||
	    (l2 = (size_t)(n2 - (n1 + 1))) >= sizeof(authc)) {
		hs_sasl_result(x, AUTH_FAIL);
		return;
	}
	memcpy(authz, p, l1);
	authz[l1] = '\0';
	memcpy(authc, n1 + 1, l2);
	authc[l2] = '\0';
	if (authz[0] != '\0' && strcmp(authz, authc) != 0)
		hs_sasl_result(x, AUTH_FAIL);
	else
		hs_sasl_login(x, authc, n2 + 1, len - (size_t)(n2 + 1 - p));
}

/* The client's next response; -1 if there is no exchange to take it. */
static int
hs_sasl_step(struct hs_sasl *x, const void *data, size_t len)
{
	const uint8_t	*p = data;

	switch (x->state) {
	case HS_SASL_PLAIN:
		hs_sasl_plain(x, p, len);
		break;
	case HS_SASL_LOGIN_USER:
		if (len >= sizeof(x->user) || memchr(p, '\0', len) != NULL) {
			hs_sasl_result(x, AUTH_FAIL);
			break;
		}
		memcpy(x->user, p, len);
		x->user[len] = '\0';
		hs_sasl_challenge(x, "Password:", HS_SASL_LOGIN_PASS);
		break;
	case HS_SASL_LOGIN_PASS:
		hs_sasl_login(x, x->user, p, len);
		break;
	case HS_SASL_SCRAM:
		hs_sasl_result(x, AUTH_FAIL);
		break;
	case HS_SASL_NONE:
		return -1;
	}
	return 0;
}

/* A start; -1 if an exchange is open (authd takes that as garbage) or
 * the mechanism is not one offered. */
static int
hs_sasl_start(struct hs_sasl *x, const char *mech, int initial,
    const void *p, size_t len)
{
	if (x->state != HS_SASL_NONE)
		return -1;
	if (strcmp(mech, "PLAIN") == 0) {
		x->state = HS_SASL_PLAIN;
		if (!initial)
			hs_sasl_challenge(x, "", HS_SASL_PLAIN);
	} else if (strcmp(mech, "LOGIN") == 0) {
		x->state = HS_SASL_LOGIN_USER;
		if (!initial)
			hs_sasl_challenge(x, "Username:", HS_SASL_LOGIN_USER);
	} else if (strcmp(mech, "SCRAM-SHA-256") == 0) {
		hs_sasl_challenge(x, "r=fuzz,s=c2FsdA==,i=4096",
		    HS_SASL_SCRAM);
		return 0;
	} else
		return -1;
	return initial ? hs_sasl_step(x, p, len) : 0;
}

/* After hs_close and the target's own clean-up: no descriptor leaked. */
static void
hs_check_fds(void)
{
	if (hs_count_fds() != hs_nfds)
		hs_fail("a descriptor leaked", NULL);
}

#endif
