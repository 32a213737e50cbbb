/*
 * mta: the SMTP client that takes mail to other servers.
 *
 * User _osmsmta, chrooted to the empty directory, no secrets of its own:
 * a smarthost's password comes with each transaction that needs it and
 * is wiped when the transaction ends. Peers: parent, queue (requests).
 * Input: the queue's requests (checked), DNS answers (validated by
 * libunbound when a trust anchor is set) and, above all, the servers it
 * talks to, which are hostile: their replies are read with the limits
 * of smtp_reply.c and every session has a timeout.
 *
 * The queue limits how many transactions go to one next hop at once;
 * here each transaction takes an idle session to the same hop if there
 * is one (connection reuse), else resolves the hop and connects.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "idmap.h"
#include "io.h"
#include "log.h"
#include "msg.h"
#include "mta.h"
#include "osms_imsg.h"
#include "proc.h"
#include "util.h"

#define MTA_MAX_FILE		(8 * 1024 * 1024)	/* a CA bundle */
#define MTA_MAX_PREPEND		16384

static struct idmap	 requests;	/* reqid -> mta_msg, until SEND */
static uint64_t		 queue_gen;	/* queues gone since we started */
static SSL_CTX		*client_ctx;
static int		 timeout_sec = MTA_TIMEOUT;
static char		 resolver[CONF_MAX_NAME];
static char		*files[3];	/* enum mta_file: contents */
static unsigned long	 ntransactions;

SSL_CTX *
mta_tls_ctx(void)
{
	return client_ctx;
}

int
mta_timeout(void)
{
	return timeout_sec;
}

static void
msg_free(struct mta_msg *m)
{
	if (m->fd != -1)
		(void)close(m->fd);
	free(m->prepend);
	free(m->rcpts);
	explicit_wipe(&m->route, sizeof(m->route));
	free(m);
}

int
mta_connect(const struct mta_target *t)
{
	int	 fd, one = 1, saved;

	if ((fd = socket(t->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* Pipelined commands go out at once, not after an ACK (Nagle). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&t->ss, t->sslen) == -1 &&
	    errno != EINPROGRESS) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void
mta_conn_close(struct io **io, int *fd, struct event **ev)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*io != NULL) {
		io_free(*io);	/* closes the socket too */
		*io = NULL;
	} else if (*fd != -1)
		(void)close(*fd);
	*fd = -1;
}

/*
 * Answers to the queue.
 */

void
mta_result(struct mta_msg *m, struct mta_rcpt *r, enum mta_result res,
    const char *reply, const char *relay)
{
	struct channel	*ch = proc_peer(ROLE_QUEUE);
	struct msg	 im;

	if (r->answered)
		return;
	r->answered = 1;
	if (ch == NULL || mta_orphaned(m))
		return;
	msg_init(&im, IMSG_MTA_RESULT, m->reqid);
	msg_add_u32(&im, r->index);
	msg_add_u32(&im, res);
	msg_add_str(&im, reply);
	msg_add_str(&im, relay);
	(void)channel_send(ch, &im);
}

void
mta_finish(struct mta_msg *m, enum mta_result res, const char *reply,
    const char *relay)
{
	struct channel	*ch = proc_peer(ROLE_QUEUE);
	struct msg	 im;
	size_t		 i;

	for (i = 0; i < m->nrcpts; i++)
		mta_result(m, &m->rcpts[i], res, reply, relay);
	if (ch != NULL && !mta_orphaned(m)) {
		msg_init(&im, IMSG_MTA_DONE, m->reqid);
		(void)channel_send(ch, &im);
	}
	ntransactions++;
	msg_free(m);
}

int
mta_orphaned(const struct mta_msg *m)
{
	return m->gen != queue_gen;
}

/*
 * Requests from the queue.
 */

static void
targets_done(void *arg, enum dns_rc rc, const char *why,
    const struct mta_target *t, size_t n)
{
	struct mta_msg	*m = arg;

	if (rc != DNS_OK) {
		log_info("mta: %s: %s: %s", m->id, m->route.host[0] ?
		    m->route.host : m->route.domain, why);
		mta_finish(m, rc == DNS_PERMFAIL ? MTA_PERMFAIL : MTA_TEMPFAIL,
		    why, "");
		return;
	}
	session_start(m, t, n);
}

static void
sts_found(void *arg, const struct sts_policy *p)
{
	struct mta_msg	*m = arg;

	if (p != NULL && p->mode != STS_MODE_NONE) {
		m->has_sts = 1;
		m->sts = *p;
	}
	dns_targets(&m->route, targets_done, m);
}

void
mta_connect_fresh(struct mta_msg *m)
{
	const struct mta_route	*r = &m->route;

	/* By MX, TLS on: the domain may have an MTA-STS policy. */
	if (r->host[0] == '\0' && r->tls != RELAY_TLS_NONE) {
		sts_lookup(r->domain, sts_found, m);
		return;
	}
	dns_targets(r, targets_done, m);
}

static void
request_start(struct mta_msg *m)
{
	const struct mta_route	*r = &m->route;

	/* Sessions are shared by what they connect to: a host serves all
	 * the domains routed to it. */
	if (r->host[0] != '\0')
		(void)snprintf(m->key, sizeof(m->key), "[%s]:%u %s %u",
		    r->host, r->port, r->user, r->tls);
	else
		(void)snprintf(m->key, sizeof(m->key), "%s %u", r->domain,
		    r->tls);
	if (!session_reuse(m))
		mta_connect_fresh(m);
}

static void
request(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 rd;
	struct mta_msg		*m;
	struct mta_rcpt		*rc;
	char			*prepend;
	int			 bad = 0;

	msg_reader_init(&rd, imsg);
	m = idmap_get(&requests, imsg->hdr.id);
	switch (imsg->hdr.type) {
	case IMSG_MTA_MSG:
		m = xcalloc(1, sizeof(*m));
		prepend = xcalloc(1, MTA_MAX_PREPEND);
		m->reqid = imsg->hdr.id;
		m->gen = queue_gen;
		(void)msg_get_str(&rd, m->id, sizeof(m->id));
		(void)msg_get_str(&rd, m->sender, sizeof(m->sender));
		(void)msg_get_str(&rd, m->envid, sizeof(m->envid));
		(void)msg_get_u32(&rd, &m->ret);
		(void)msg_get_u32(&rd, &m->body);
		(void)msg_get_u32(&rd, &m->smtputf8);
		(void)msg_get_u32(&rd, &m->requiretls);
		(void)msg_get_u64(&rd, &m->size);
		(void)msg_get_str(&rd, prepend, MTA_MAX_PREPEND);
		m->prepend = prepend;
		m->fd = imsg_take_fd(imsg);
		if (msg_end(&rd) == -1 || m->fd == -1 ||
		    str_has_ctl(m->sender) || m->body > SMTP_BODY_BINARYMIME ||
		    idmap_get(&requests, m->reqid) != NULL) {
			msg_free(m);
			m = NULL;
			bad = 1;
			break;
		}
		(void)idmap_put(&requests, m->reqid, m);
		break;
	case IMSG_MTA_ROUTE:
		if (m == NULL) {
			bad = 1;
			break;
		}
		(void)msg_get_str(&rd, m->route.domain,
		    sizeof(m->route.domain));
		(void)msg_get_str(&rd, m->route.host, sizeof(m->route.host));
		(void)msg_get_u32(&rd, &m->route.port);
		(void)msg_get_u32(&rd, &m->route.tls);
		(void)msg_get_str(&rd, m->route.user, sizeof(m->route.user));
		(void)msg_get_str(&rd, m->route.password,
		    sizeof(m->route.password));
		if (imsg->data != NULL)
			explicit_wipe(imsg->data, imsg->datalen);
		bad = msg_end(&rd) == -1 || m->route.port > 65535 ||
		    m->route.tls > RELAY_TLS_VERIFY ||
		    (m->route.host[0] == '\0' && m->route.domain[0] == '\0');
		break;
	case IMSG_MTA_RCPT:
		if (m == NULL || m->nrcpts >= 1000) {
			bad = 1;
			break;
		}
		m->rcpts = xreallocarray(m->rcpts, m->nrcpts + 1,
		    sizeof(*m->rcpts));
		rc = &m->rcpts[m->nrcpts];
		memset(rc, 0, sizeof(*rc));
		(void)msg_get_u32(&rd, &rc->index);
		(void)msg_get_str(&rd, rc->address, sizeof(rc->address));
		(void)msg_get_str(&rd, rc->orcpt, sizeof(rc->orcpt));
		(void)msg_get_u32(&rd, &rc->notify);
		bad = msg_end(&rd) == -1 || str_has_ctl(rc->address) ||
		    rc->address[0] == '\0' || str_has_ctl(rc->orcpt);
		if (!bad)
			m->nrcpts++;
		break;
	default:	/* IMSG_MTA_SEND */
		if (m == NULL || msg_end(&rd) == -1 || m->nrcpts == 0) {
			bad = 1;
			break;
		}
		(void)idmap_del(&requests, m->reqid);
		request_start(m);
		return;
	}
	if (bad) {
		if (m != NULL && idmap_get(&requests, imsg->hdr.id) == m) {
			(void)idmap_del(&requests, imsg->hdr.id);
			msg_free(m);
		}
		channel_bad_message(ch, imsg, "bad request");
	}
}

static void
mta_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_MTA_MSG:
	case IMSG_MTA_ROUTE:
	case IMSG_MTA_RCPT:
	case IMSG_MTA_SEND:
		request(ch, imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

/* The queue went away: requests it had not finished are forgotten
 * (a new queue sends them again from the spool), and those in sessions
 * end before their content goes (mta_orphaned). */
static void
mta_peer_down(enum osms_role role)
{
	struct mta_msg	*m;

	if (role != ROLE_QUEUE)
		return;
	queue_gen++;
	while ((m = idmap_any(&requests, NULL)) != NULL) {
		(void)idmap_del(&requests, m->reqid);
		msg_free(m);
	}
}

/*
 * The config: the resolver and the files the parent opened.
 */

static void
mta_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 kind, t;
	int			 fd;

	msg_reader_init(&r, imsg);
	if (imsg->hdr.type == IMSG_CONF_MTA) {
		(void)msg_get_str(&r, resolver, sizeof(resolver));
		(void)msg_get_u32(&r, &t);
		if (msg_end(&r) == -1 || t == 0 || t > 3600)
			fatalx("bad IMSG_CONF_MTA");
		timeout_sec = (int)t;
		for (kind = 0; kind < 3; kind++) {
			free(files[kind]);
			files[kind] = NULL;
		}
		return;
	}
	if (imsg->hdr.type != IMSG_CONF_MTA_FILE)
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	(void)msg_get_u32(&r, &kind);
	fd = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || kind > MTA_FILE_RESOLV_CONF || fd == -1)
		fatalx("bad IMSG_CONF_MTA_FILE");
	free(files[kind]);
	files[kind] = read_fd_text(fd, MTA_MAX_FILE);
}

/* A client context: TLS 1.2 or later, the CA certificates, DANE. */
static SSL_CTX *
client_ctx_new(const char *ca)
{
	SSL_CTX		*ctx;
	X509_STORE	*store;
	BIO		*bio;
	X509		*x;
	unsigned	 n = 0;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("mta: SSL_CTX_new");
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_dane_enable(ctx) <= 0)
		fatalx("mta: SSL_CTX_dane_enable");
	store = SSL_CTX_get_cert_store(ctx);
	if (ca != NULL && (bio = BIO_new_mem_buf(ca, -1)) != NULL) {
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			if (X509_STORE_add_cert(store, x) == 1)
				n++;
			X509_free(x);
		}
		BIO_free(bio);
		ERR_clear_error();
	}
	log_debug("mta: %u CA certificates", n);
	return ctx;
}

static void
mta_conf_end(int reload)
{
	(void)reload;
	if (client_ctx != NULL)
		SSL_CTX_free(client_ctx);
	client_ctx = client_ctx_new(files[MTA_FILE_CA]);
	if (dns_setup(resolver, files[MTA_FILE_RESOLV_CONF],
	    files[MTA_FILE_TRUST_ANCHOR]) == -1)
		log_warnx("mta: the resolver is not set up: every delivery"
		    " by MX waits");
}

static void
mta_setup(void)
{
	idmap_init(&requests);
}

static void
mta_state(char *buf, size_t size)
{
	char	 s[128];

	session_state(s, sizeof(s));
	(void)snprintf(buf, size, "%s, %lu transactions", s, ntransactions);
}

static const struct proc_ops mta_ops = {
	.role = ROLE_MTA,
	.conf = mta_conf,
	.conf_end = mta_conf_end,
	.setup = mta_setup,
	.dispatch_peer = mta_dispatch_peer,
	.peer_down = mta_peer_down,
	.state = mta_state,
};

/*
 * libevent's buffers hold what the sessions send, AUTH PLAIN with a
 * smarthost's password among it: they are wiped before they go back to
 * the allocator, so no freed chunk keeps a secret.
 */
static void
wiping_free(void *p)
{
	if (p != NULL)
		explicit_wipe(p, malloc_usable_size(p));
	free(p);
}

static void *
wiping_realloc(void *p, size_t size)
{
	void	*n;
	size_t	 old;

	if (p == NULL)
		return malloc(size);
	if ((n = malloc(size)) == NULL)
		return NULL;
	old = malloc_usable_size(p);
	memcpy(n, p, old < size ? old : size);
	wiping_free(p);
	return n;
}

int
main(int argc, char **argv)
{
	event_set_mem_functions(malloc, wiping_realloc, wiping_free);
	proc_main(&mta_ops, argc, argv);
}
