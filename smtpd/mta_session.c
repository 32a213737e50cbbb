/*
 * mta: the SMTP client sessions (RFC 5321, with RFC 2920 PIPELINING,
 * RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 6152 8BITMIME, RFC 3461 DSN,
 * RFC 6531 SMTPUTF8, RFC 8689 REQUIRETLS, RFC 7672 DANE).
 *
 * A session connects to the targets of its first transaction in turn
 * until one greets it, says EHLO, starts TLS as the policy and DANE
 * ask, authenticates to a smarthost, and then runs transactions: the
 * first, and later ones for the same next hop while it is idle for a
 * few seconds (connection reuse). A failure before a transaction starts
 * moves on to the next target; a failure during one answers every
 * recipient still open and ends the session.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "mime7bit.h"
#include "mta.h"
#include "osms_imsg.h"
#include "proc.h"
#include "smtp_reply.h"
#include "util.h"

#define SESSION_CONNECT_TIMEOUT	30	/* seconds */
#define SESSION_IDLE		5	/* seconds kept open for reuse */
#define SESSION_MAX_LINE	(SMTP_REPLY_MAX_LINE + 2)
#define SESSION_CHUNK		(64 * 1024)	/* content encoded at once */
#define SESSION_MAX_BODY	(2ULL * 1024 * 1024 * 1024)

enum sstate {
	S_CONNECT,	/* waiting for connect() */
	S_GREETING,	/* 220 */
	S_EHLO,
	S_HELO,		/* EHLO was refused: plain SMTP */
	S_TLSA,		/* waiting for DANE records */
	S_STARTTLS,	/* 220 to STARTTLS */
	S_HANDSHAKE,
	S_AUTH,		/* 235 */
	S_IDLE,		/* ready for a transaction */
	S_TRANSACTION,	/* replies to MAIL, RCPT..., DATA */
	S_DATA_END,	/* the reply to the content */
	S_QUIT,
};

/* A recipient sent in this transaction: which reply answers it. */
struct session {
	TAILQ_ENTRY(session)	 entry;
	char			 key[CONF_MAX_NAME * 2 + 16];
	struct mta_msg		*msg;
	struct mta_target	 targets[MTA_MAX_TARGETS];
	size_t			 ntargets, cur;
	int			 fd;
	struct event		*ev;		/* connect, or idle */
	struct io		*io;
	enum sstate		 state;
	struct smtp_reply	 reply;
	struct smtp_ehlo	 ehlo;
	uint32_t		 tls_policy;
	int			 sts;		/* 2 enforce, 1 testing, 0 */
	struct sts_policy	 sts_policy;
	int			 tls;		/* TLS is up */
	int			 no_tls;	/* this target refused STARTTLS */
	const char		*verified;	/* "dane", "pkix" or NULL */
	int			 dane;		/* usable TLSA records */
	struct tlsa_rec		 tlsa[MTA_MAX_TLSA];
	size_t			 ntlsa;
	int			 dns_pending;	/* a TLSA lookup holds it */
	char			 lost[128];	/* why it broke meanwhile */
	int			 reading;	/* inside its reply handler */
	int			 dead;		/* free when those return */
	int			 transactions;	/* done on this connection */
	/* the transaction */
	size_t			 nreplies;	/* replies read so far */
	size_t			 nsent;		/* commands sent so far */
	size_t			 ncommands;	/* MAIL + RCPTs + DATA */
	size_t			 naccepted;
	int			 downgrade;	/* 8bit -> 7bit */
	/* the last failure before a transaction, for the last target */
	char			 why[ENV_MAX_ERROR];
	int			 why_perm;
	char			 relay[CONF_MAX_NAME + 160];
};

static TAILQ_HEAD(, session)	 sessions = TAILQ_HEAD_INITIALIZER(sessions);
static unsigned			 nsessions, nidle;

static void	 session_io(struct io *, enum io_event, void *);
static void	 target_next(struct session *);
static void	 transaction_start(struct session *);
static void	 send_command(struct session *, size_t);

/*
 * Life and death.
 */

static void
session_free(struct session *s)
{
	if (s->dns_pending || s->reading) {
		s->dead = 1;	/* freed when they return */
		return;
	}
	if (s->state == S_IDLE)
		nidle--;
	TAILQ_REMOVE(&sessions, s, entry);
	nsessions--;
	mta_conn_close(&s->io, &s->fd, &s->ev);
	free(s);
}

/* The connection ends: politely when nothing is pending. */
static void
session_close(struct session *s)
{
	if (s->io != NULL && s->state != S_QUIT) {
		(void)io_printf(s->io, "QUIT\r\n");
		s->state = S_QUIT;
		io_set_timeout(s->io, 5);
		return;		/* closed on the reply, EOF or timeout */
	}
	session_free(s);
}

/* "name[address]:port tls=... verify=..." for logs and results. */
static void
relay_text(struct session *s)
{
	const struct mta_target	*t = &s->targets[s->cur];
	char			 addr[INET6_ADDRSTRLEN] = "?";
	uint16_t		 port = 0;
	SSL			*ssl = s->io != NULL ? io_ssl(s->io) : NULL;

	if (t->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&t->ss;

		(void)inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		port = ntohs(sin->sin_port);
	} else if (t->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&t->ss;

		(void)inet_ntop(AF_INET6, &sin6->sin6_addr, addr,
		    sizeof(addr));
		port = ntohs(sin6->sin6_port);
	}
	(void)snprintf(s->relay, sizeof(s->relay), "relay=%s[%s]:%u tls=%s%s%s"
	    " verified=%s", t->name, addr, port, ssl != NULL ?
	    SSL_get_version(ssl) : "none", ssl != NULL ? "/" : "",
	    ssl != NULL ? SSL_get_cipher_name(ssl) : "", s->verified != NULL ?
	    s->verified : "no");
}

/* A reply as the queue keeps it: "550 5.1.1 text", on one line. */
static void
reply_text(const struct smtp_reply *r, char *buf, size_t size)
{
	char	*p;
	int	 n;

	n = snprintf(buf, size, "%d %s%s", r->code, r->status,
	    r->status[0] ? " " : "");
	if (n > 0 && (size_t)n < size)
		(void)osms_strlcpy(buf + n, r->text, size - (size_t)n);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static enum mta_result
reply_result(int code)
{
	if (code >= 200 && code < 300)
		return MTA_OK;
	return code >= 500 && code < 600 ? MTA_PERMFAIL : MTA_TEMPFAIL;
}

/* The current target failed before a transaction: note why, move on. */
static void
target_failed(struct session *s, int perm, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
target_failed(struct session *s, int perm, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	s->why_perm = perm;
	relay_text(s);
	log_info("mta: %s: %s: %s", s->msg != NULL ? s->msg->id : "-",
	    s->relay, s->why);
	mta_conn_close(&s->io, &s->fd, &s->ev);
	s->tls = s->no_tls = 0;
	s->verified = NULL;
	s->dane = 0;
	s->ntlsa = 0;
	s->cur++;
	target_next(s);
}

/*
 * A reused session that the server had closed (or closes with 421)
 * before it answered MAIL took nothing: the transaction starts again on
 * a new connection. 1 if it does.
 */
static int
transaction_restart(struct session *s)
{
	struct mta_msg	*m = s->msg;

	if (s->transactions == 0 || s->nreplies > 0 || m == NULL)
		return 0;
	log_debug("mta: %s: the reused session is gone; connecting anew",
	    m->id);
	s->msg = NULL;
	session_free(s);
	mta_connect_fresh(m);
	return 1;
}

/* The transaction failed at the connection: answer, and end it. */
static void
transaction_failed(struct session *s, enum mta_result res, const char *why)
{
	struct mta_msg	*m = s->msg;

	if (transaction_restart(s))
		return;
	relay_text(s);
	log_info("mta: %s: %s: %s", m->id, s->relay, why);
	s->msg = NULL;
	mta_finish(m, res, why, s->relay);
	session_free(s);
}

/*
 * Connecting.
 */

static void
connected(evutil_socket_t fd, short ev, void *arg)
{
	struct session	*s = arg;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (ev & EV_TIMEOUT) {
		target_failed(s, 0, "4.4.1 connection timed out");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		target_failed(s, 0, "4.4.1 connection failed: %s",
		    strerror(err));
		return;
	}
	event_free(s->ev);
	s->ev = NULL;
	s->io = io_new(s->fd, SESSION_MAX_LINE, session_io, s);
	io_set_timeout(s->io, mta_timeout());
	s->state = S_GREETING;
	smtp_reply_init(&s->reply);
}

static void
target_next(struct session *s)
{
	struct timeval	 tv = { SESSION_CONNECT_TIMEOUT, 0 };
	struct mta_msg	*m = s->msg;
	const struct mta_target *t;

	if (s->cur >= s->ntargets) {
		s->msg = NULL;
		/* Permanent only if the last one said so for good. */
		mta_finish(m, s->why_perm ? MTA_PERMFAIL : MTA_TEMPFAIL,
		    s->why[0] ? s->why : "4.4.1 no target to connect to",
		    s->relay);
		session_free(s);
		return;
	}
	t = &s->targets[s->cur];
	s->state = S_CONNECT;
	if (s->sts && !sts_mx_match(&s->sts_policy, t->name)) {
		if (s->sts == 2) {
			target_failed(s, 0, "4.7.5 MTA-STS: %s is not an MX"
			    " host of the policy", t->name);
			return;
		}
		log_info("mta: MTA-STS testing: %s is not an MX host of the"
		    " policy", t->name);
	}
	if ((s->fd = mta_connect(t)) == -1) {
		target_failed(s, 0, "4.4.1 connection failed: %s",
		    strerror(errno));
		return;
	}
	if ((s->ev = event_new(osms_evbase, s->fd, EV_WRITE, connected,
	    s)) == NULL || event_add(s->ev, &tv) == -1)
		fatalx("mta: connect event");
}

void
session_start(struct mta_msg *m, const struct mta_target *t, size_t n)
{
	struct session	*s = xcalloc(1, sizeof(*s));

	s->msg = m;
	s->fd = -1;
	(void)osms_strlcpy(s->key, m->key, sizeof(s->key));
	memcpy(s->targets, t, n * sizeof(*t));
	s->ntargets = n;
	s->tls_policy = m->route.tls;
	if (m->has_sts) {
		s->sts = m->sts.mode == STS_MODE_ENFORCE ? 2 : 1;
		s->sts_policy = m->sts;
	}
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	nsessions++;
	target_next(s);
}

/*
 * Idle sessions, for reuse.
 */

static void
idle_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)ev;
	nidle--;
	s->state = S_TRANSACTION;	/* not idle: no reuse now */
	event_free(s->ev);
	s->ev = NULL;
	session_close(s);
}

static void
session_idle(struct session *s)
{
	struct timeval	 tv = { SESSION_IDLE, 0 };

	s->state = S_IDLE;
	nidle++;
	if ((s->ev = evtimer_new(osms_evbase, idle_timeout, s)) == NULL ||
	    evtimer_add(s->ev, &tv) == -1)
		fatalx("mta: idle timer");
}

int
session_reuse(struct mta_msg *m)
{
	struct session	*s;

	TAILQ_FOREACH(s, &sessions, entry)
		if (s->state == S_IDLE && strcmp(s->key, m->key) == 0)
			break;
	if (s == NULL)
		return 0;
	nidle--;
	event_free(s->ev);
	s->ev = NULL;
	s->msg = m;
	transaction_start(s);
	return 1;
}

void
session_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%u sessions, %u idle", nsessions, nidle);
}

/*
 * Before the transaction: EHLO, STARTTLS, AUTH.
 */

static void
send_ehlo(struct session *s)
{
	(void)io_printf(s->io, "EHLO %s\r\n", proc_conf()->hostname);
	s->state = S_EHLO;
}

/* What TLS the target needs: 2 must (and verify), 1 may, 0 none. */
static int
tls_wanted(const struct session *s)
{
	if (s->dane || s->sts == 2 || s->tls_policy == RELAY_TLS_VERIFY)
		return 2;
	if (s->tls_policy == RELAY_TLS_REQUIRE)
		return 2;
	return s->tls_policy == RELAY_TLS_OPPORTUNISTIC ? 1 : 0;
}

static int
is_address(const char *name)
{
	struct in6_addr	 a;

	return inet_pton(AF_INET, name, &a) == 1 ||
	    inet_pton(AF_INET6, name, &a) == 1;
}

static void
start_tls(struct session *s)
{
	const struct mta_target	*t = &s->targets[s->cur];
	SSL			*ssl;
	size_t			 i;
	int			 usable = 0;

	if ((ssl = SSL_new(mta_tls_ctx())) == NULL) {
		target_failed(s, 0, "4.7.0 TLS setup failed");
		return;
	}
	/* RFC 6066 3: SNI names a host, never an address. */
	if (t->name[0] != '\0' && !is_address(t->name))
		(void)SSL_set_tlsext_host_name(ssl, t->name);
	if (s->dane) {
		/* RFC 7672 3.2.3: names of DANE-EE certificates do not
		 * matter; DANE-TA ones must match the MX host. */
		if (SSL_dane_enable(ssl, t->name) <= 0)
			goto fail;
		SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		for (i = 0; i < s->ntlsa; i++)
			if (SSL_dane_tlsa_add(ssl, s->tlsa[i].usage,
			    s->tlsa[i].selector, s->tlsa[i].mtype,
			    s->tlsa[i].data, s->tlsa[i].len) > 0)
				usable++;
		if (usable == 0)
			goto fail;
	} else if (t->name[0] != '\0') {
		/* A configured address is checked against the IP SANs. */
		if (is_address(t->name)) {
			if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    t->name) != 1)
				goto fail;
		} else if (SSL_set1_host(ssl, t->name) != 1)
			goto fail;
	}
	/* Checked after the handshake: opportunistic TLS takes any. */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	s->state = S_HANDSHAKE;
	if (io_start_tls_client(s->io, ssl) == -1) {
		SSL_free(ssl);
		target_failed(s, 0, "4.7.0 TLS setup failed");
	}
	return;
fail:
	SSL_free(ssl);
	target_failed(s, 0, s->dane ? "4.7.5 DANE setup failed: no usable"
	    " TLSA record" : "4.7.0 TLS setup failed");
}

static void
tlsa_done(void *arg, enum dns_rc rc, const char *why, int secure,
    const struct tlsa_rec *recs, size_t n)
{
	struct session	*s = arg;

	s->dns_pending = 0;
	if (s->dead) {
		s->dead = 0;
		session_free(s);
		return;
	}
	if (s->lost[0] != '\0') {
		/* The connection broke while the lookup ran. */
		char	 lost[sizeof(s->lost)];

		(void)osms_strlcpy(lost, s->lost, sizeof(lost));
		s->lost[0] = '\0';
		target_failed(s, 0, "%s", lost);
		return;
	}
	if (rc != DNS_OK) {
		/* RFC 7672 2.2: a failed lookup of a secure MX defers. */
		target_failed(s, 0, "%s", why);
		return;
	}
	if (secure && n > 0) {
		s->dane = 1;
		s->ntlsa = n;
		memcpy(s->tlsa, recs, n * sizeof(*recs));
	}
	if (!(s->ehlo.ext & SMTP_EXT_STARTTLS)) {
		if (tls_wanted(s) == 2)
			target_failed(s, 0, "4.7.4 %s, but STARTTLS is not"
			    " offered", s->dane ? "DANE TLSA records are"
			    " published" : "the policy requires TLS");
		else if (s->msg != NULL)
			transaction_start(s);
		return;
	}
	(void)io_printf(s->io, "STARTTLS\r\n");
	s->state = S_STARTTLS;
}

/* After a 250 to EHLO: TLS first, then AUTH, then the transaction. */
static void
ehlo_done(struct session *s)
{
	const struct mta_target	*t = &s->targets[s->cur];
	struct mta_route	*r = &s->msg->route;
	char			 plain[2 * CONF_MAX_NAME + CONF_MAX_SECRET + 4];
	char			 b64[sizeof(plain) * 2];
	size_t			 ul, pl;

	if (!s->tls && !s->no_tls && tls_wanted(s) > 0) {
		if (t->secure) {
			/* DANE: the records decide (RFC 7672 2.2). */
			s->dns_pending = 1;
			s->state = S_TLSA;
			dns_tlsa(t->name, r->port ? (uint16_t)r->port : 25,
			    tlsa_done, s);
			return;
		}
		if (!(s->ehlo.ext & SMTP_EXT_STARTTLS)) {
			if (tls_wanted(s) == 2) {
				target_failed(s, 0, "4.7.4 the policy requires"
				    " TLS, but STARTTLS is not offered");
				return;
			}
		} else {
			(void)io_printf(s->io, "STARTTLS\r\n");
			s->state = S_STARTTLS;
			return;
		}
	}
	if (r->user[0] != '\0') {
		if (!s->tls && r->tls != RELAY_TLS_NONE) {
			target_failed(s, 0, "4.7.0 no AUTH without TLS");
			return;
		}
		if (!(s->ehlo.ext & SMTP_EXT_AUTH) ||
		    strstr(s->ehlo.auth, "PLAIN") == NULL) {
			target_failed(s, 0, "4.7.0 the relay host offers no"
			    " AUTH PLAIN");
			return;
		}
		/* RFC 4616: authzid NUL authcid NUL password */
		ul = strlen(r->user);
		pl = strlen(r->password);
		plain[0] = '\0';
		memcpy(plain + 1, r->user, ul);
		plain[1 + ul] = '\0';
		memcpy(plain + 2 + ul, r->password, pl);
		if (base64_encode(plain, ul + pl + 2, b64, sizeof(b64)) == -1)
			fatalx("mta: AUTH PLAIN does not fit");
		(void)io_printf(s->io, "AUTH PLAIN %s\r\n", b64);
		explicit_wipe(plain, sizeof(plain));
		explicit_wipe(b64, sizeof(b64));
		s->state = S_AUTH;
		return;
	}
	transaction_start(s);
}

/* The handshake is done: is the peer who it must be? */
static void
tls_done(struct session *s)
{
	SSL	*ssl = io_ssl(s->io);
	long	 vr = SSL_get_verify_result(ssl);

	s->tls = 1;
	if (vr == X509_V_OK && SSL_get0_peer_certificate(ssl) != NULL)
		s->verified = s->dane ? "dane" : "pkix";
	if (s->dane && s->verified == NULL) {
		target_failed(s, 0, "4.7.5 the certificate does not match the"
		    " DANE TLSA records: %s", X509_verify_cert_error_string(
		    vr));
		return;
	}
	if (s->sts && !s->dane) {
		/* RFC 8461 4.2: PKIX, for the MX host's name. */
		if (s->verified != NULL)
			s->verified = "mta-sts";
		else if (s->sts == 2) {
			target_failed(s, 0, "4.7.5 MTA-STS: the certificate"
			    " does not verify: %s",
			    X509_verify_cert_error_string(vr));
			return;
		} else
			log_info("mta: MTA-STS testing: the certificate of %s"
			    " does not verify", s->targets[s->cur].name);
	}
	if (s->tls_policy == RELAY_TLS_VERIFY && s->verified == NULL) {
		target_failed(s, 0, "4.7.5 the certificate does not verify:"
		    " %s", X509_verify_cert_error_string(vr));
		return;
	}
	send_ehlo(s);
}

/*
 * The transaction.
 */

static void
transaction_start(struct session *s)
{
	struct mta_msg	*m = s->msg;
	int		 pipelining = (s->ehlo.ext & SMTP_EXT_PIPELINING) != 0;

	relay_text(s);
	s->state = S_TRANSACTION;
	s->nreplies = s->nsent = s->naccepted = 0;
	s->downgrade = 0;
	s->ncommands = m->nrcpts + 2;
	smtp_reply_init(&s->reply);
	/* What the message needs that the peer must offer. */
	if (m->requiretls && (s->verified == NULL ||
	    !(s->ehlo.ext & SMTP_EXT_REQUIRETLS))) {
		target_failed(s, 1, "5.7.30 REQUIRETLS: the next hop %s",
		    s->verified == NULL ? "is not reached over verified TLS" :
		    "does not support REQUIRETLS");
		return;
	}
	if (m->smtputf8 && !(s->ehlo.ext & SMTP_EXT_SMTPUTF8)) {
		target_failed(s, 1, "5.6.7 the next hop does not support"
		    " SMTPUTF8");
		return;
	}
	if (m->body == SMTP_BODY_BINARYMIME) {
		/* smtpd takes no binary content, so none is queued. */
		target_failed(s, 1, "5.6.3 binary content cannot be relayed"
		    " by DATA");
		return;
	}
	if (s->ehlo.size > 0 && m->size > s->ehlo.size) {
		target_failed(s, 1, "5.3.4 the message is larger than the next"
		    " hop takes (%" PRIu64 " bytes)", s->ehlo.size);
		return;
	}
	if (m->body == SMTP_BODY_8BITMIME && !(s->ehlo.ext &
	    SMTP_EXT_8BITMIME))
		s->downgrade = 1;
	send_command(s, 0);
	while (pipelining && s->nsent < s->ncommands)
		send_command(s, s->nsent);
}

/* Command k of the transaction: 0 MAIL, 1..n RCPT, n + 1 DATA. */
static void
send_command(struct session *s, size_t k)
{
	struct mta_msg	*m = s->msg;
	char		 cmd[2 * ADDR_MAX_TEXT + SMTP_ORCPT_MAX + 256];
	char		 xt[3 * SMTP_ENVID_MAX + 1];
	const struct mta_rcpt *r;
	int		 dsn = (s->ehlo.ext & SMTP_EXT_DSN) != 0;

	s->nsent = k + 1;
	if (k == m->nrcpts + 1) {
		(void)io_printf(s->io, "DATA\r\n");
		return;
	}
	if (k > 0) {
		r = &m->rcpts[k - 1];
		(void)snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", r->address);
		if (dsn && r->notify != 0) {
			(void)osms_strlcat(cmd, " NOTIFY=", sizeof(cmd));
			if (r->notify & SMTP_NOTIFY_NEVER)
				(void)osms_strlcat(cmd, "NEVER", sizeof(cmd));
			else
				(void)snprintf(cmd + strlen(cmd), sizeof(cmd) -
				    strlen(cmd), "%s%s%s%s%s",
				    r->notify & SMTP_NOTIFY_SUCCESS ?
				    "SUCCESS" : "", (r->notify &
				    SMTP_NOTIFY_SUCCESS) && (r->notify &
				    (SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY)) ?
				    "," : "", r->notify & SMTP_NOTIFY_FAILURE ?
				    "FAILURE" : "", (r->notify &
				    SMTP_NOTIFY_FAILURE) && (r->notify &
				    SMTP_NOTIFY_DELAY) ? "," : "",
				    r->notify & SMTP_NOTIFY_DELAY ? "DELAY" :
				    "");
		}
		if (dsn && r->orcpt[0] != '\0')
			(void)snprintf(cmd + strlen(cmd), sizeof(cmd) -
			    strlen(cmd), " ORCPT=%s", r->orcpt);
		(void)io_printf(s->io, "%s\r\n", cmd);
		return;
	}
	(void)snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>", m->sender);
	if (s->ehlo.ext & SMTP_EXT_SIZE)
		(void)snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
		    " SIZE=%" PRIu64, m->size + strlen(m->prepend));
	if (m->body == SMTP_BODY_8BITMIME && !s->downgrade)
		(void)osms_strlcat(cmd, " BODY=8BITMIME", sizeof(cmd));
	if (m->smtputf8)
		(void)osms_strlcat(cmd, " SMTPUTF8", sizeof(cmd));
	if (m->requiretls)
		(void)osms_strlcat(cmd, " REQUIRETLS", sizeof(cmd));
	if (dsn) {
		if (m->ret != SMTP_RET_NONE)
			(void)osms_strlcat(cmd, m->ret == SMTP_RET_FULL ?
			    " RET=FULL" : " RET=HDRS", sizeof(cmd));
		if (m->envid[0] != '\0' && xtext_encode(m->envid, xt,
		    sizeof(xt)) == 0)
			(void)snprintf(cmd + strlen(cmd), sizeof(cmd) -
			    strlen(cmd), " ENVID=%s", xt);
	}
	(void)io_printf(s->io, "%s\r\n", cmd);
}

/* The message content, mapped: *len bytes at the result (NULL and 0 for
 * an empty file); (void *)-1 on failure. */
static char *
content_map(const struct mta_msg *m, size_t *len)
{
	struct stat	 st;
	char		*map;

	*len = 0;
	if (fstat(m->fd, &st) == -1 || (uint64_t)st.st_size >
	    SESSION_MAX_BODY)
		return MAP_FAILED;
	if ((*len = (size_t)st.st_size) == 0)
		return NULL;
	map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, m->fd, 0);
	return map;
}

/* The content, as DATA wants it: the prepended fields, then the file
 * (downgraded to 7bit if the peer lacks 8BITMIME), dot-stuffed. */
static int
send_body(struct session *s)
{
	struct mta_msg		*m = s->msg;
	struct smtp_data	 sd;
	struct buf		 out = BUF_INIT(4 * SESSION_CHUNK + 16);
	struct buf		 conv = BUF_INIT(SESSION_MAX_BODY);
	const char		*data, *err;
	char			*map;
	size_t			 len, maplen, off, n;
	int			 rc = -1;

	if ((map = content_map(m, &maplen)) == MAP_FAILED)
		return -1;
	len = maplen;
	data = map != NULL ? map : "";
	if (s->downgrade) {
		err = "too large";	/* what buf_addstr() fails of */
		if (buf_addstr(&conv, m->prepend) == -1 ||
		    mime7bit_convert(data, len, &conv, &err) == -1) {
			log_warnx("mta: %s: cannot convert to 7bit: %s",
			    m->id, conv.over ? "too large" : err);
			goto done;
		}
	}
	smtp_data_init(&sd);
	if (!s->downgrade && smtp_data_add(&sd, m->prepend,
	    strlen(m->prepend), &out) == -1)
		goto done;
	if (s->downgrade) {
		data = conv.data != NULL ? conv.data : "";
		len = conv.len;
	}
	for (off = 0; off < len; off += n) {
		n = len - off < SESSION_CHUNK ? len - off : SESSION_CHUNK;
		if (smtp_data_add(&sd, data + off, n, &out) == -1 ||
		    io_write(s->io, out.data, out.len) == -1)
			goto done;
		buf_reset(&out);
	}
	if (smtp_data_end(&sd, &out) == -1 ||
	    io_write(s->io, out.data, out.len) == -1)
		goto done;
	rc = 0;
done:
	if (map != NULL)
		(void)munmap(map, maplen);
	buf_free(&out);
	buf_free(&conv);
	return rc;
}

/* A reply to a command of the transaction, in the order they went. */
static void
transaction_reply(struct session *s)
{
	struct mta_msg	*m = s->msg;
	char		 text[ENV_MAX_ERROR];
	size_t		 k = s->nreplies++;
	size_t		 i;
	int		 pipelining = (s->ehlo.ext & SMTP_EXT_PIPELINING) != 0;

	reply_text(&s->reply, text, sizeof(text));
	if (k == 0) {
		if (s->reply.code == 421 && s->transactions > 0) {
			s->nreplies = 0;	/* nothing was taken */
			if (transaction_restart(s))
				return;
		}
		if (s->reply.code / 100 != 2) {
			/* The pipelined rest is moot: end here. */
			transaction_failed(s, reply_result(s->reply.code),
			    text);
			return;
		}
	} else if (k <= m->nrcpts) {
		if (s->reply.code / 100 == 2) {
			m->rcpts[k - 1].accepted = 1;
			s->naccepted++;
		} else
			mta_result(m, &m->rcpts[k - 1],
			    reply_result(s->reply.code), text, s->relay);
		if (!pipelining && k == m->nrcpts && s->naccepted == 0) {
			transaction_failed(s, MTA_TEMPFAIL, text);
			return;
		}
	} else {
		if (s->reply.code != 354 || s->naccepted == 0) {
			for (i = 0; i < m->nrcpts; i++)
				if (m->rcpts[i].accepted)
					mta_result(m, &m->rcpts[i],
					    reply_result(s->reply.code), text,
					    s->relay);
			transaction_failed(s, MTA_TEMPFAIL, s->naccepted ?
			    text : "4.0.0 no recipient was accepted");
			return;
		}
		if (mta_orphaned(m)) {
			/* Closed before the end of the content: the peer
			 * takes nothing, and the new queue sends it. */
			transaction_failed(s, MTA_TEMPFAIL, "4.3.0 the queue"
			    " went away");
			return;
		}
		if (send_body(s) == -1) {
			transaction_failed(s, MTA_TEMPFAIL, "4.3.0 cannot read"
			    " or convert the message");
			return;
		}
		s->state = S_DATA_END;
		return;
	}
	if (!pipelining && s->nsent < s->ncommands)
		send_command(s, s->nsent);
}

/* The reply to the content: the accepted recipients' answer. */
static void
data_end_reply(struct session *s)
{
	struct mta_msg	*m = s->msg;
	char		 text[ENV_MAX_ERROR];
	size_t		 i;

	reply_text(&s->reply, text, sizeof(text));
	for (i = 0; i < m->nrcpts; i++)
		if (m->rcpts[i].accepted)
			mta_result(m, &m->rcpts[i],
			    reply_result(s->reply.code), text, s->relay);
	s->msg = NULL;
	s->transactions++;
	mta_finish(m, MTA_TEMPFAIL, "4.0.0 no answer", s->relay);
	if (s->reply.code / 100 != 2) {
		session_close(s);
		return;
	}
	session_idle(s);
}

/*
 * The reply dispatcher.
 */

static void
reply_done(struct session *s)
{
	char	 text[ENV_MAX_ERROR];

	reply_text(&s->reply, text, sizeof(text));
	switch (s->state) {
	case S_GREETING:
		if (s->reply.code != 220) {
			target_failed(s, 0, "greeting: %s", text);
			return;
		}
		send_ehlo(s);
		break;
	case S_EHLO:
		if (s->reply.code / 100 == 2) {
			smtp_ehlo_parse(&s->reply, &s->ehlo);
			ehlo_done(s);
		} else if (s->reply.code / 100 == 5 && !s->tls) {
			/* An old server: HELO, without extensions. */
			memset(&s->ehlo, 0, sizeof(s->ehlo));
			(void)io_printf(s->io, "HELO %s\r\n",
			    proc_conf()->hostname);
			s->state = S_HELO;
		} else
			target_failed(s, 0, "EHLO: %s", text);
		break;
	case S_HELO:
		if (s->reply.code / 100 != 2)
			target_failed(s, 0, "HELO: %s", text);
		else
			ehlo_done(s);
		break;
	case S_STARTTLS:
		if (s->reply.code != 220) {
			if (tls_wanted(s) == 2)
				target_failed(s, 0, "STARTTLS: %s", text);
			else {
				s->no_tls = 1;	/* plaintext, this once */
				ehlo_done(s);
			}
			return;
		}
		start_tls(s);
		break;
	case S_AUTH:
		if (s->reply.code != 235)
			target_failed(s, 0, "AUTH: %s", text);
		else
			transaction_start(s);
		break;
	case S_TRANSACTION:
		transaction_reply(s);
		break;
	case S_DATA_END:
		data_end_reply(s);
		break;
	case S_QUIT:
		session_free(s);
		break;
	default:
		/* A reply nobody asked for (or to an idle session). */
		if (s->msg != NULL)
			target_failed(s, 0, "unexpected reply: %s", text);
		else {
			if (s->state == S_IDLE) {
				nidle--;
				s->state = S_TRANSACTION;
			}
			session_close(s);
		}
		break;
	}
}

/* The connection broke or timed out. */
static void
session_lost(struct session *s, const char *why)
{
	if (s->state == S_QUIT || s->msg == NULL) {
		session_free(s);
		return;
	}
	if (s->state == S_TLSA) {
		/* One lookup at a time: its answer moves on. */
		(void)osms_strlcpy(s->lost, why, sizeof(s->lost));
		return;
	}
	if (s->state == S_TRANSACTION || s->state == S_DATA_END)
		transaction_failed(s, MTA_TEMPFAIL, why);
	else
		target_failed(s, 0, "%s", why);
}

static void
session_io(struct io *io, enum io_event ev, void *arg)
{
	struct session	*s = arg;
	const char	*err;
	char		*line;
	size_t		 len;
	int		 flags, rc;

	switch (ev) {
	case IO_DATAIN:
		for (;;) {
			switch (io_getline(io, &line, &len, &flags)) {
			case IO_LINE_NONE:
				return;
			case IO_LINE_TOOLONG:
				session_lost(s, "4.4.2 the server sent a line"
				    " too long");
				return;
			case IO_LINE_OK:
				break;
			}
			rc = smtp_reply_line(&s->reply, line, len, &err);
			if (rc == -1) {
				char why[128];

				(void)snprintf(why, sizeof(why), "4.4.2 bad"
				    " reply from the server: %s", err);
				session_lost(s, why);
				return;
			}
			if (rc == 1) {
				s->reading = 1;
				reply_done(s);
				/* s->reading kept session_free() from freeing
				 * s; the analyzer does not keep the flag across
				 * the calls in between (a false positive).
				 * NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
				s->reading = 0;
				if (s->dead) {
					s->dead = 0;
					session_free(s);
					return;
				}
				smtp_reply_init(&s->reply);
				/* Only pipelined replies follow each other;
				 * a new connection or TLS reads anew. */
				if (s->io != io || s->state != S_TRANSACTION)
					return;
			}
		}
	case IO_TLSREADY:
		smtp_reply_init(&s->reply);
		tls_done(s);
		break;
	case IO_TIMEOUT:
		session_lost(s, "4.4.2 the server did not answer in time");
		break;
	case IO_DISCONNECTED:
		session_lost(s, "4.4.2 the server closed the connection");
		break;
	case IO_ERROR:
		session_lost(s, io_error(io)[0] ? "4.4.2 connection failed"
		    " (TLS or I/O error)" : "4.4.2 connection failed");
		break;
	case IO_LOWAT:
		break;
	}
}
