/*
 * One SMTP session: an explicit state machine over the bounded line
 * reader (io.c). Command parsing is in lib/mail/smtp_cmd.c; what a
 * recipient is comes from authd; messages go to the queue, whose
 * answer to the commit is the only thing that makes this session say
 * 250 at the end of DATA.
 *
 * Strictness (RFC 5321 2.3.8, and the lessons of SMTP smuggling): only
 * CRLF ends a line; a bare LF or CR in a command is refused, and in
 * DATA it makes the message refused at its end, so "<LF>.<LF>" and
 * "<CR>.<CR>" never end DATA and never split one message into two.
 * Plaintext that follows STARTTLS is never used, nor text sent before
 * the 354 to DATA, nor a command line with a NUL: the session ends, or
 * the line is refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "osms_imsg.h"
#include "proc.h"
#include "smtp.h"
#include "smtp_cmd.h"
#include "tls.h"
#include "util.h"

#define DATA_BUFSIZE	(64 * 1024)
#define DRAIN_TIMEOUT	2		/* seconds, after the last reply */
#define DRAIN_MAX	(1024 * 1024)	/* bytes dropped before we close */

enum smtp_state {
	S_CONNECTED,	/* implicit TLS: handshake before the banner */
	S_HELO,		/* waiting for HELO/EHLO */
	S_READY,	/* greeted, no transaction */
	S_MAIL,		/* MAIL accepted */
	S_RCPT,		/* at least one recipient accepted */
	S_DATA,		/* reading the DATA text */
	S_BDAT,		/* reading a BDAT chunk */
	S_AUTH,		/* a SASL exchange: lines are responses */
	S_STARTTLS,	/* 220 sent, handshake when it is out */
	S_TLS,		/* handshake running */
	S_QUIT,		/* last reply going out, then close */
	S_DRAIN,	/* reply sent: read and drop until the client leaves */
};

/* What went wrong with the message text; reported at its end. */
#define DATA_TOOBIG	0x01
#define DATA_LONGLINE	0x02
#define DATA_BARE	0x04	/* bare CR or LF */
#define DATA_NUL	0x08
#define DATA_IOERR	0x10
#define DATA_NOSPACE	0x20
#define DATA_NOQUEUE	0x40	/* BDAT: no message could be created */
#define DATA_LOOP	0x80	/* too many Received fields */

/* RFC 5321 6.3: a message that passed this many servers is looping
 * (Postfix's hopcount_limit is 50; some lists add a few of their own). */
#define SMTP_MAX_HOPS	100

/* What a session waits for from another role. */
enum smtp_wait {
	W_NONE,
	W_RCPT,		/* authd: recipient lookup */
	W_CREATE,	/* queue: a new message */
	W_COMMIT,	/* queue: the commit */
	W_AUTH,		/* authd: the next SASL step */
	W_SENDER,	/* authd: may the user send as this sender? */
	W_CHECK,	/* the content checks (queue, scand) */
	W_GREY,		/* checkd: is the recipient greylisted? */
	W_DNSBL,	/* checkd: is the client on a blocklist? */
};

/* The client's DNS blocklists, asked at connect (checkd). */
enum dnsbl_state { DNSBL_NONE, DNSBL_ASKED, DNSBL_CLEAR, DNSBL_BLOCKED };

struct smtp_session {
	TAILQ_ENTRY(smtp_session) entry;
	uint64_t		 id;
	struct io		*io;
	enum smtp_state		 state;
	enum smtp_wait		 wait;
	struct timespec		 start;

	/* where the client came in */
	enum listen_proto	 proto;
	enum listen_tls		 tlsmode;
	uint32_t		 lflags;
	uint16_t		 lport;
	SSL_CTX			*ctx;		/* NULL: no TLS here */
	char			 addr[INET6_ADDRSTRLEN];
	char			 ratekey[INET6_ADDRSTRLEN + 8]; /* its limits' */
	enum dnsbl_state	 dnsbl;
	int64_t			 dnsbl_score;
	char			 dnsbl_lists[256];	/* where it is listed */

	/* the session so far */
	int			 ehlo;
	char			 helo[256];
	int			 tls;
	char			 tlsinfo[128];
	char			 auth_user[ADDR_MAX_TEXT];
	char			 auth_mech[32];
	enum smtp_state		 auth_prev;	/* to return to after AUTH */
	unsigned		 ncommands;
	unsigned		 nerrors;
	unsigned		 nmessages;

	/* the transaction */
	struct mailaddr		 sender;
	struct smtp_mail_params	 mparams;
	struct envelope		 env;		/* rcpts and dests */
	struct env_rcpt		 pending;	/* being looked up */
	size_t			 pending_dests;	/* dests it added so far */
	int			 dests_overflow;
	int			 bdat;		/* the message came by BDAT */

	/* the message */
	char			 msgid[QUEUE_ID_LEN + 1];
	int			 msgfd;
	uint64_t		 datalen;
	unsigned		 dataerr;
	char			*buf;
	size_t			 buflen;
	int			 cr_pending;	/* BDAT: last byte was CR */
	size_t			 bdat_col;	/* BDAT: bytes into the line */
	unsigned		 hops;		/* Received fields seen */
	size_t			 hop_col;	/* bytes into the line */
	size_t			 hop_match;	/* of "received:" */
	int			 hop_body;	/* past the header */
	int			 text_begun;	/* a byte of the text written */
	uint64_t		 bdat_left;
	uint64_t		 bdat_size;	/* of the current chunk */
	int			 bdat_last;
	struct smtp_err		 bdat_err;	/* reply once skipped */
	int			 bdat_failed;
	struct check_run	*check;		/* the checks running */
	enum smtp_state		 bdat_prev;	/* state before BDAT */
	int			 in_input;
	size_t			 drained;
	const char		*why;		/* why it ends */
};

static TAILQ_HEAD(, smtp_session) sessions = TAILQ_HEAD_INITIALIZER(sessions);

static void	 session_io(struct io *, enum io_event, void *);
static void	 session_input(struct smtp_session *);
static void	 session_input_loop(struct smtp_session *);
static void	 session_close(struct smtp_session *, const char *);
static void	 session_reset(struct smtp_session *);
static void	 auth_cancel(struct smtp_session *);
static void	 data_end(struct smtp_session *);
static void	 bdat_chunk_done(struct smtp_session *);
static void	 rcpt_drop_dests(struct smtp_session *);
static void	 rcpt_accept(struct smtp_session *);
static int	 grey_ask(struct smtp_session *);
static void	 rcpt_gates(struct smtp_session *);
static void	 dnsbl_ask(struct smtp_session *);
static void	 mail_accepted(struct smtp_session *);
static int	 auth_offered(const struct smtp_session *);

static const char *
hostname(void)
{
	return proc_conf()->hostname;
}

static void
reply(struct smtp_session *s, int code, const char *status,
    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One reply line; a 5xx counts as an error. */
static void
reply(struct smtp_session *s, int code, const char *status,
    const char *fmt, ...)
{
	char	 text[512];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (status != NULL)
		(void)io_printf(s->io, "%d %s %s\r\n", code, status, text);
	else
		(void)io_printf(s->io, "%d %s\r\n", code, text);
	log_trace("%016llx smtpd > %d %s", (unsigned long long)s->id, code,
	    text);
	if (code >= 500)
		s->nerrors++;
}

static void
reply_err(struct smtp_session *s, const struct smtp_err *e)
{
	reply(s, e->code, e->status, "%s", e->text);
}

/* Say goodbye with a 421 and close once it is out. */
static void
session_abort(struct smtp_session *s, const char *status, const char *text)
{
	reply(s, 421, status, "%s %s", hostname(), text);
	s->state = S_QUIT;
	s->why = text;
	io_pause_read(s->io);
}

static const char *
state_name(enum smtp_state st)
{
	static const char *names[] = { "connected", "helo", "ready", "mail",
	    "rcpt", "data", "bdat", "auth", "starttls", "tls", "quit",
	    "drain" };

	return names[st];
}

/*
 * Creation and teardown.
 */

static void
client_addr(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	const void	*a = NULL;

	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
	if (a == NULL || inet_ntop(ss->ss_family, a, buf, size) == NULL)
		(void)osms_strlcpy(buf, "unknown", size);
}

/* The limits per client address, at connect: 1, or 0 when the session
 * was refused with 421 (RFC 5321 3.8). */
static int
client_admitted(struct smtp_session *s)
{
	struct smtp_session	*o;
	const char		*limit = NULL;
	uint32_t		 n = 0, max = 0;

	if (smtp_limits.max_client_sessions > 0) {
		TAILQ_FOREACH(o, &sessions, entry)
			n += strcmp(o->ratekey, s->ratekey) == 0;
		if (n > (max = smtp_limits.max_client_sessions))
			limit = "sessions at once (max-client-sessions)";
	}
	if (limit == NULL && !smtp_client_connect_allowed(s->ratekey)) {
		max = smtp_limits.max_client_connections;
		limit = "connections a minute "
		    "(max-client-connections-per-minute)";
	}
	if (limit == NULL)
		return 1;
	log_info("%016llx smtpd limit from=%s: more than %u %s",
	    (unsigned long long)s->id, s->addr, max, limit);
	session_abort(s, "4.7.0", "Too many connections from your address; "
	    "try later");
	return 0;
}

static void
banner(struct smtp_session *s)
{
	reply(s, 220, NULL, "%s ESMTP osms", hostname());
	s->state = S_HELO;
}

void
smtp_session_new(struct listener *l, int fd, const struct sockaddr_storage *ss,
    socklen_t sslen)
{
	struct smtp_session	*s;

	(void)sslen;
	s = xcalloc(1, sizeof(*s));
	do {
		arc4random_buf(&s->id, sizeof(s->id));
	} while (s->id == 0);
	(void)clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->proto = l->proto;
	s->tlsmode = l->tls;
	s->lflags = l->flags;
	s->lport = l->port;
	s->msgfd = -1;
	envelope_init(&s->env);
	client_addr(ss, s->addr, sizeof(s->addr));
	client_rate_key(s->addr, s->ratekey, sizeof(s->ratekey));
	if (l->pki[0] != '\0' && (s->ctx = tls_pki_ctx(l->pki)) != NULL)
		SSL_CTX_up_ref(s->ctx);
	s->io = io_new(fd, smtp_limits.max_line, session_io, s);
	io_set_timeout(s->io, (int)smtp_limits.timeout);
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	smtp_session_register(s, s->id);

	log_info("%016llx smtpd connect from=%s listener=%s/%u",
	    (unsigned long long)s->id, s->addr,
	    s->proto == PROTO_SMTP ? "smtp" : "submission", s->lport);

	if (smtp_session_count() > SMTP_MAX_SESSIONS) {
		session_abort(s, "4.3.2", "Too many connections; try later");
		return;
	}
	if (!client_admitted(s))
		return;
	dnsbl_ask(s);
	if (s->tlsmode == TLS_IMPLICIT) {
		if (s->ctx == NULL || io_start_tls(s->io, s->ctx) == -1) {
			log_warnx("%016llx smtpd no TLS context for the"
			    " listener on port %u", (unsigned long long)s->id,
			    s->lport);
			session_close(s, "no TLS");
			return;
		}
		s->state = S_CONNECTED;
		return;
	}
	banner(s);
}

static void
session_free(struct smtp_session *s)
{
	struct msg	 m;

	if (s->state == S_AUTH) {
		msg_init(&m, IMSG_AUTH_SASL_ABORT, s->id);
		(void)smtp_peer_send(ROLE_AUTHD, &m);
	}
	if (s->check != NULL)
		smtp_check_cancel(s->check);
	TAILQ_REMOVE(&sessions, s, entry);
	smtp_session_unregister(s->id);
	io_free(s->io);
	if (s->ctx != NULL)
		SSL_CTX_free(s->ctx);
	envelope_clear(&s->env);
	free(s->buf);
	free(s);
}

static void
session_close(struct smtp_session *s, const char *why)
{
	struct timespec	 now;
	double		 secs;

	session_reset(s);
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - s->start.tv_sec) +
	    (double)(now.tv_nsec - s->start.tv_nsec) / 1e9;
	log_info("%016llx smtpd disconnect from=%s tls=%s commands=%u"
	    " messages=%u errors=%u duration=%.3fs reason=%s",
	    (unsigned long long)s->id, s->addr, s->tls ? "yes" : "no",
	    s->ncommands, s->nmessages, s->nerrors, secs,
	    why != NULL ? why : "closed");
	session_free(s);
}

/* Forget the transaction (RSET, after a message, at the end). */
static void
session_reset(struct smtp_session *s)
{
	struct msg	 m;

	if (s->msgid[0] != '\0') {
		msg_init(&m, IMSG_QUEUE_ABORT, s->id);
		msg_add_str(&m, s->msgid);
		(void)smtp_peer_send(ROLE_QUEUE, &m);
		s->msgid[0] = '\0';
	}
	if (s->msgfd != -1) {
		(void)close(s->msgfd);
		s->msgfd = -1;
	}
	free(s->buf);
	s->buf = NULL;
	s->buflen = 0;
	envelope_clear(&s->env);
	memset(&s->sender, 0, sizeof(s->sender));
	memset(&s->mparams, 0, sizeof(s->mparams));
	s->datalen = 0;
	s->dataerr = 0;
	s->bdat = 0;
	s->cr_pending = 0;
	s->bdat_col = 0;
	s->hops = 0;
	s->hop_col = s->hop_match = 0;
	s->hop_body = 0;
	s->text_begun = 0;
	s->bdat_left = 0;
	s->bdat_last = 0;
	s->bdat_failed = 0;
	if (s->state == S_MAIL || s->state == S_RCPT || s->state == S_DATA ||
	    s->state == S_BDAT)
		s->state = S_READY;
}

void
smtp_session_shutdown_all(void)
{
	struct smtp_session	*s;

	while ((s = TAILQ_FIRST(&sessions)) != NULL)
		session_close(s, "shutdown");
}

static void
session_peer_down(struct smtp_session *s, enum osms_role role)
{
	if (s->check != NULL && (role == ROLE_QUEUE || role == ROLE_SCAND ||
	    role == ROLE_CRYPTOD || role == ROLE_CHECKD)) {
		smtp_check_peer_down(s->check, role);
		return;
	}
	if (role == ROLE_QUEUE && s->wait == W_COMMIT) {
		/*
		 * The queue died during the commit: the message may be on
		 * disk or not, so no answer is the only true one (RFC
		 * 1047). Any answer would invite a retry and a second
		 * copy.
		 */
		s->msgid[0] = '\0';
		s->wait = W_NONE;
		session_close(s, "queue lost during commit");
		return;
	}
	if (role == ROLE_QUEUE && s->msgid[0] != '\0') {
		/* An uncommitted message died with the queue. */
		s->msgid[0] = '\0';
		s->dataerr |= DATA_IOERR;
	}
	/* An exchange dies with authd, also one waiting for the client's
	 * response: the new authd would drop that step unanswered. */
	if (role == ROLE_AUTHD && (s->wait == W_AUTH ||
	    s->wait == W_SENDER || s->state == S_AUTH)) {
		if (s->state == S_AUTH)
			s->state = s->auth_prev;
		s->wait = W_NONE;
		reply(s, s->state == S_READY ? 454 : 451, s->state ==
		    S_READY ? "4.7.0" : "4.3.0", "Temporary failure; try"
		    " again later");
		session_input(s);
		return;
	}
	if (role == ROLE_CHECKD && s->dnsbl == DNSBL_ASKED)
		s->dnsbl = DNSBL_CLEAR;	/* no answer: nothing blocked */
	if (role == ROLE_CHECKD && s->wait == W_DNSBL) {
		s->wait = W_NONE;
		rcpt_gates(s);
		return;
	}
	if (role == ROLE_CHECKD && s->wait == W_GREY) {
		s->wait = W_NONE;
		rcpt_accept(s);		/* greylisting fails open */
		return;
	}
	if ((role == ROLE_AUTHD && s->wait == W_RCPT) ||
	    (role == ROLE_QUEUE && s->wait == W_CREATE)) {
		if (s->wait == W_RCPT)
			rcpt_drop_dests(s);
		s->wait = W_NONE;
		if (s->bdat) {
			s->dataerr |= DATA_NOQUEUE;
			s->state = S_BDAT;
		} else
			reply(s, 451, "4.3.0", "Temporary failure; try again"
			    " later");
		session_input(s);
	}
}

void
smtp_session_peer_down_all(enum osms_role role)
{
	struct smtp_session	*s, *next;

	/* Only the session being told can close meanwhile. */
	for (s = TAILQ_FIRST(&sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		session_peer_down(s, role);
	}
}

/*
 * Replies that list what this session offers.
 */

static int
tls_offered(const struct smtp_session *s)
{
	return !s->tls && s->ctx != NULL && s->tlsmode != TLS_NONE;
}

/* AUTH: only inside TLS (RFC 4954 4, RFC 8314), where it is offered. */
static int
auth_offered(const struct smtp_session *s)
{
	return s->tls && (s->lflags & LISTEN_AUTH) && s->auth_user[0] == '\0';
}

static void
ehlo_reply(struct smtp_session *s)
{
	(void)io_printf(s->io, "250-%s Hello %s [%s]\r\n", hostname(),
	    s->helo, s->addr);
	(void)io_printf(s->io, "250-PIPELINING\r\n");
	(void)io_printf(s->io, "250-SIZE %llu\r\n",
	    (unsigned long long)smtp_limits.max_message_size);
	(void)io_printf(s->io, "250-8BITMIME\r\n");
	(void)io_printf(s->io, "250-SMTPUTF8\r\n");
	if (tls_offered(s))
		(void)io_printf(s->io, "250-STARTTLS\r\n");
	if (s->tls)
		(void)io_printf(s->io, "250-REQUIRETLS\r\n");
	if (auth_offered(s))
		(void)io_printf(s->io, "250-AUTH %s\r\n", SMTP_AUTH_MECHS);
	(void)io_printf(s->io, "250-DSN\r\n");
	(void)io_printf(s->io, "250-ENHANCEDSTATUSCODES\r\n");
	(void)io_printf(s->io, "250 CHUNKING\r\n");
}

/*
 * Commands.
 */

static void
cmd_helo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_err	 err;
	char		 helo[sizeof(s->helo)];

	if (smtp_parse_helo(cmd->arg, helo, sizeof(helo), &err) == -1) {
		reply_err(s, &err);
		return;
	}
	session_reset(s);
	(void)osms_strlcpy(s->helo, helo, sizeof(s->helo));
	s->ehlo = cmd->verb == SMTP_CMD_EHLO;
	s->state = S_READY;
	if (s->ehlo)
		ehlo_reply(s);
	else
		reply(s, 250, NULL, "%s Hello %s [%s]", hostname(), helo,
		    s->addr);
}

static void
cmd_starttls(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (s->tls) {
		reply(s, 503, "5.5.1", "Already using TLS");
		return;
	}
	if (!tls_offered(s)) {
		reply(s, 454, "4.7.0", "TLS not available");
		return;
	}
	if (cmd->arg[0] != '\0') {
		reply(s, 501, "5.5.4", "STARTTLS takes no argument");
		return;
	}
	/* RFC 3207 4: nothing may follow STARTTLS before the handshake.
	 * What did is a client's bug or an injection: end the session. */
	if (io_inbuf(s->io) > 0) {
		log_warnx("%016llx smtpd from=%s sent data after STARTTLS;"
		    " closing", (unsigned long long)s->id, s->addr);
		reply(s, 554, "5.5.1", "Command pipelined after STARTTLS;"
		    " closing");
		s->state = S_QUIT;
		s->why = "data after STARTTLS";
		io_pause_read(s->io);
		return;
	}
	session_reset(s);
	reply(s, 220, "2.0.0", "Ready to start TLS");
	s->state = S_STARTTLS;
	io_pause_read(s->io);
}

static int
mail_allowed(struct smtp_session *s)
{
	if (s->state == S_HELO || s->state == S_CONNECTED) {
		reply(s, 503, "5.5.1", "Send HELO or EHLO first");
		return 0;
	}
	if (s->state != S_READY) {
		reply(s, 503, "5.5.1", "Nested MAIL command");
		return 0;
	}
	if (s->tlsmode == TLS_STARTTLS_REQUIRE && !s->tls) {
		reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		return 0;
	}
	if (s->proto == PROTO_SUBMISSION && s->auth_user[0] == '\0') {
		reply(s, 530, "5.7.0", "Authentication required");
		return 0;
	}
	return 1;
}

static void
cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_err	 err;
	char		 from[ADDR_MAX_TEXT];

	if (!mail_allowed(s))
		return;
	if (smtp_parse_mail(cmd->arg, s->ehlo, &s->sender, &s->mparams,
	    &err) == -1) {
		reply_err(s, &err);
		return;
	}
	if (s->mparams.size > smtp_limits.max_message_size) {
		reply(s, 552, "5.3.4", "Message size exceeds fixed maximum"
		    " message size");
		return;
	}
	if (s->mparams.body == SMTP_BODY_BINARYMIME) {
		reply(s, 555, "5.5.4", "BINARYMIME is not supported");
		return;
	}
	if (s->mparams.requiretls && !s->tls) {
		reply(s, 530, "5.7.10", "REQUIRETLS needs TLS");
		return;
	}
	(void)addr_format(&s->sender, from, sizeof(from));
	if (s->auth_user[0] != '\0') {
		if (!smtp_user_rate_allowed(s->auth_user)) {
			log_info("%016llx smtpd rate limit user=<%s>",
			    (unsigned long long)s->id, s->auth_user);
			reply(s, 450, "4.7.1", "Message rate limit exceeded;"
			    " try again later");
			return;
		}
		if (smtp_limits.sender_check) {
			struct msg	 m;

			/* The sender must be the user's: ask authd. */
			msg_init(&m, IMSG_AUTH_SENDER, s->id);
			msg_add_str(&m, s->auth_user);
			msg_add_str(&m, from);
			if (smtp_peer_send(ROLE_AUTHD, &m) == -1) {
				reply(s, 451, "4.3.0", "Temporary lookup"
				    " failure");
				return;
			}
			s->wait = W_SENDER;
			return;
		}
	}
	mail_accepted(s);
}

static void
mail_accepted(struct smtp_session *s)
{
	char	 from[ADDR_MAX_TEXT];

	(void)addr_format(&s->sender, from, sizeof(from));
	s->state = S_MAIL;
	reply(s, 250, "2.1.0", "Ok");
	log_debug("%016llx smtpd mail from=<%s> size=%llu",
	    (unsigned long long)s->id, from,
	    (unsigned long long)s->mparams.size);
}

void
smtp_session_sender_result(struct smtp_session *s, struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 verdict;
	char			 from[ADDR_MAX_TEXT];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &verdict);
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_AUTH_SENDER_RESULT from authd");
	if (s->wait != W_SENDER)
		return;
	s->wait = W_NONE;
	(void)addr_format(&s->sender, from, sizeof(from));
	if (verdict == 1)
		mail_accepted(s);
	else if (verdict == 0) {
		log_info("%016llx smtpd sender rejected user=<%s> from=<%s>",
		    (unsigned long long)s->id, s->auth_user, from);
		reply(s, 553, "5.7.1", "<%s>: Sender address rejected: not"
		    " owned by user %s", from, s->auth_user);
	} else
		reply(s, 451, "4.3.0", "Temporary lookup failure");
	session_input(s);
}

static void
cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_rcpt_params	 rp;
	struct mailaddr		 a;
	struct smtp_err		 err;
	struct msg		 m;
	uint32_t		 flags = 0;

	if (s->state != S_MAIL && s->state != S_RCPT) {
		reply(s, 503, "5.5.1", "Need MAIL before RCPT");
		return;
	}
	if (s->env.nrcpts >= smtp_limits.max_recipients) {
		reply(s, 452, "4.5.3", "Too many recipients");
		return;
	}
	/* A user's own limit is max-messages-per-hour. */
	if (s->auth_user[0] == '\0' && !smtp_client_rcpt_allowed(s->ratekey)) {
		log_info("%016llx smtpd limit from=%s: more than %u recipients"
		    " a minute (max-client-recipients-per-minute)",
		    (unsigned long long)s->id, s->addr,
		    smtp_limits.max_client_recipients);
		reply(s, 451, "4.7.1", "Too many recipients from your address;"
		    " try later");
		return;
	}
	if (smtp_parse_rcpt(cmd->arg, s->ehlo, s->mparams.smtputf8, &a, &rp,
	    &err) == -1) {
		reply_err(s, &err);
		return;
	}
	memset(&s->pending, 0, sizeof(s->pending));
	if (a.domain[0] == '\0') {
		/* RFC 5321 4.5.1: <Postmaster> needs no domain. */
		flags |= LOOKUP_F_POSTMASTER;
		(void)osms_strlcpy(s->pending.address, "postmaster",
		    sizeof(s->pending.address));
	} else if (addr_format(&a, s->pending.address,
	    sizeof(s->pending.address)) == -1) {
		reply(s, 553, "5.1.3", "Address too long");
		return;
	}
	(void)osms_strlcpy(s->pending.orcpt, rp.orcpt,
	    sizeof(s->pending.orcpt));
	s->pending.notify = (uint32_t)rp.notify;
	s->pending_dests = 0;
	s->dests_overflow = 0;

	msg_init(&m, IMSG_AUTH_RCPT, s->id);
	msg_add_u32(&m, flags);
	msg_add_str(&m, s->pending.address);
	if (smtp_peer_send(ROLE_AUTHD, &m) == -1) {
		reply(s, 451, "4.3.0", "Temporary lookup failure");
		return;
	}
	s->wait = W_RCPT;
}

void
smtp_session_rcpt_dest(struct smtp_session *s, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct env_dest		 d;
	uint32_t		 kind;

	if (s->wait != W_RCPT)
		return;
	memset(&d, 0, sizeof(d));
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &kind);
	(void)msg_get_str(&r, d.address, sizeof(d.address));
	(void)msg_get_str(&r, d.mailbox, sizeof(d.mailbox));
	(void)msg_get_u64(&r, &d.quota_bytes);
	(void)msg_get_u64(&r, &d.quota_messages);
	if (msg_end(&r) == -1 || kind > DEST_RELAY ||
	    (kind == DEST_MAILBOX && !maildir_path_valid(d.mailbox)))
		fatalx("bad IMSG_AUTH_RCPT_DEST from authd");
	d.kind = (enum dest_kind)kind;
	d.rcpt = (uint32_t)s->env.nrcpts;	/* the one being added */
	d.state = DEST_PENDING;
	if (s->env.ndests >= SMTP_MAX_DESTS ||
	    envelope_add_dest(&s->env, &d) == -1) {
		s->dests_overflow = 1;	/* reported at the end */
		return;
	}
	s->pending_dests++;
}

/* Undo the destinations of a recipient that is refused after all. */
static void
rcpt_drop_dests(struct smtp_session *s)
{
	s->env.ndests -= s->pending_dests;
	s->pending_dests = 0;
}

void
smtp_session_rcpt_end(struct smtp_session *s, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct env_dest		 d;
	uint32_t		 res;
	char			 text[256];
	const char		*to = s->pending.address;

	if (s->wait != W_RCPT)
		return;
	s->wait = W_NONE;
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &res);
	(void)msg_get_str(&r, text, sizeof(text));
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_AUTH_RCPT_END from authd");

	if (res == LOOKUP_NOTLOCAL && s->auth_user[0] != '\0') {
		/* Authenticated clients may relay. */
		rcpt_drop_dests(s);
		memset(&d, 0, sizeof(d));
		d.kind = DEST_RELAY;
		d.rcpt = (uint32_t)s->env.nrcpts;
		(void)osms_strlcpy(d.address, to, sizeof(d.address));
		if (envelope_add_dest(&s->env, &d) == 0)
			s->pending_dests = 1;
		res = LOOKUP_OK;
	}
	if (res == LOOKUP_OK && s->dests_overflow)
		res = LOOKUP_TOOMANY;	/* the message's limit was hit */
	switch (res) {
	case LOOKUP_OK:
		rcpt_gates(s);
		return;
	case LOOKUP_NOTLOCAL:
		rcpt_drop_dests(s);
		reply(s, 554, "5.7.1", "<%s>: Relay access denied", to);
		break;
	case LOOKUP_NOTFOUND:
		rcpt_drop_dests(s);
		reply(s, 550, "5.1.1", "<%s>: Recipient address rejected:"
		    " User unknown", to);
		break;
	case LOOKUP_LOOP:
		rcpt_drop_dests(s);
		reply(s, 550, "5.4.6", "<%s>: Alias loop", to);
		break;
	case LOOKUP_TOOMANY:
		rcpt_drop_dests(s);
		reply(s, 452, "4.5.3", "<%s>: Too many recipients", to);
		break;
	default:
		rcpt_drop_dests(s);
		reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", to);
		break;
	}
	log_info("%016llx smtpd rcpt rejected from=%s to=<%s> result=%u%s%s",
	    (unsigned long long)s->id, s->addr, to, res, text[0] ? " " : "",
	    text);
	session_input(s);
}

/* The recipient is taken: 250, or 452 past the message's limit. */
static void
rcpt_accept(struct smtp_session *s)
{
	if (envelope_add_rcpt(&s->env, &s->pending) == -1) {
		rcpt_drop_dests(s);
		reply(s, 452, "4.5.3", "Too many recipients");
		session_input(s);
		return;
	}
	s->state = S_RCPT;
	reply(s, 250, "2.1.5", "Ok");
	log_debug("%016llx smtpd rcpt to=<%s> destinations=%zu",
	    (unsigned long long)s->id, s->pending.address, s->pending_dests);
	session_input(s);	/* commands pipelined behind it */
}

/*
 * The client's blocklists: asked at connect, so the answer is usually
 * in by the first RCPT. Only strangers are asked about; an answer that
 * never comes blocks nothing.
 */
static void
dnsbl_ask(struct smtp_session *s)
{
	struct msg	 m;

	if (!smtp_checks.dnsbl || s->proto != PROTO_SMTP ||
	    proc_peer(ROLE_CHECKD) == NULL)
		return;
	msg_init(&m, IMSG_DNSBL_REQ, s->id);
	msg_add_str(&m, s->addr);
	if (smtp_peer_send(ROLE_CHECKD, &m) == 0)
		s->dnsbl = DNSBL_ASKED;
}

void
smtp_session_dnsbl_result(struct smtp_session *s, struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 blocked;
	int64_t			 score;
	char			 lists[256];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &blocked);
	(void)msg_get_s64(&r, &score);
	(void)msg_get_str(&r, lists, sizeof(lists));
	if (s->dnsbl != DNSBL_ASKED)
		return;
	if (msg_end(&r) == -1 || str_has_ctl(lists))
		blocked = 0;
	/* Scored, not blocked: the score goes with each message. */
	if (smtp_checks.dnsbl == 2) {
		blocked = 0;
		s->dnsbl_score = score;
	}
	s->dnsbl = blocked ? DNSBL_BLOCKED : DNSBL_CLEAR;
	(void)osms_strlcpy(s->dnsbl_lists, lists, sizeof(s->dnsbl_lists));
	if (lists[0] != '\0')
		log_info("%016llx smtpd dnsbl from=%s score=%lld%s lists=%s",
		    (unsigned long long)s->id, s->addr, (long long)score,
		    blocked ? " blocked" : "", lists);
	if (s->wait == W_DNSBL) {
		s->wait = W_NONE;
		rcpt_gates(s);
	}
}

/*
 * A recipient authd took passes the gates for strangers: the client's
 * blocklists, then greylisting; then it is accepted.
 */
static void
rcpt_gates(struct smtp_session *s)
{
	if (s->auth_user[0] == '\0' && s->dnsbl == DNSBL_ASKED) {
		s->wait = W_DNSBL;	/* the answer is on its way */
		return;
	}
	if (s->auth_user[0] == '\0' && s->dnsbl == DNSBL_BLOCKED) {
		rcpt_drop_dests(s);
		reply(s, 550, "5.7.1", "Service unavailable; client [%s]"
		    " blocked using %.100s", s->addr, s->dnsbl_lists);
		log_info("%016llx smtpd rcpt rejected from=%s to=<%s>: on a"
		    " blocklist", (unsigned long long)s->id, s->addr,
		    s->pending.address);
		session_input(s);
		return;
	}
	if (grey_ask(s) == 0)
		return;		/* checkd answers */
	rcpt_accept(s);
}

/*
 * Greylisting (checkd) of a stranger's recipient: 0 if checkd was
 * asked, -1 if the recipient goes on at once (greylisting is off, the
 * client authenticated, or checkd is not there: greylisting fails
 * open).
 */
static int
grey_ask(struct smtp_session *s)
{
	struct msg	 m;
	char		 from[ADDR_MAX_TEXT];

	if (!smtp_checks.greylist || s->auth_user[0] != '\0' ||
	    proc_peer(ROLE_CHECKD) == NULL)
		return -1;
	if (addr_format(&s->sender, from, sizeof(from)) == -1)
		from[0] = '\0';
	msg_init(&m, IMSG_GREY_REQ, s->id);
	msg_add_str(&m, s->addr);
	msg_add_str(&m, s->helo);
	msg_add_str(&m, from);
	msg_add_str(&m, s->pending.address);
	if (smtp_peer_send(ROLE_CHECKD, &m) == -1)
		return -1;
	s->wait = W_GREY;
	return 0;
}

void
smtp_session_grey_result(struct smtp_session *s, struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 wait;
	char			 rcpt[ADDR_MAX_TEXT], why[128];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, rcpt, sizeof(rcpt));
	(void)msg_get_u32(&r, &wait);
	(void)msg_get_str(&r, why, sizeof(why));
	if (s->wait != W_GREY || strcmp(rcpt, s->pending.address) != 0)
		return;		/* late */
	s->wait = W_NONE;
	if (msg_end(&r) == -1 || str_has_ctl(why) || wait == 0) {
		rcpt_accept(s);
		return;
	}
	rcpt_drop_dests(s);
	/* RFC 6647 2.1: a temporary failure that says why. */
	reply(s, 451, "4.7.1", "<%s>: Greylisted; try again in %u seconds",
	    rcpt, wait);
	log_info("%016llx smtpd rcpt greylisted from=%s to=<%s> wait=%u%s%s",
	    (unsigned long long)s->id, s->addr, rcpt, wait, why[0] ? " " : "",
	    why);
	session_input(s);
}

/* DATA and BDAT both start by asking the queue for a message. */
static int
queue_create(struct smtp_session *s)
{
	struct msg	 m;

	msg_init(&m, IMSG_QUEUE_CREATE, s->id);
	if (smtp_peer_send(ROLE_QUEUE, &m) == -1)
		return -1;
	s->wait = W_CREATE;
	return 0;
}

/*
 * RFC 2920 3.1: the text waits for the 354. A client that sends it with
 * DATA is a bot or a smuggler, and if DATA fails its text would be read
 * as commands: end the session. 1 if it was ended.
 */
static int
data_pipelined(struct smtp_session *s)
{
	if (io_inbuf(s->io) == 0)
		return 0;
	log_warnx("%016llx smtpd from=%s sent data before the 354 reply;"
	    " closing", (unsigned long long)s->id, s->addr);
	reply(s, 554, "5.5.0", "Text sent before the 354 reply; closing");
	session_reset(s);
	s->state = S_QUIT;
	s->why = "data before 354";
	io_pause_read(s->io);
	return 1;
}

/*
 * A command or AUTH line longer than any text line is no client's
 * mistake (SECURITY.md A9): what follows it is not read as a command.
 */
static void
line_too_long(struct smtp_session *s)
{
	log_warnx("%016llx smtpd from=%s sent a line longer than %u octets"
	    " outside DATA; closing", (unsigned long long)s->id, s->addr,
	    (unsigned)smtp_limits.max_line);
	if (s->state == S_AUTH)
		auth_cancel(s);
	reply(s, 500, "5.5.2", "Line too long; closing");
	session_reset(s);
	s->state = S_QUIT;
	s->why = "line too long";
	io_pause_read(s->io);
}

static void
cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (data_pipelined(s))
		return;
	if (cmd->arg[0] != '\0') {
		reply(s, 501, "5.5.4", "DATA takes no argument");
		return;
	}
	if (s->bdat) {
		reply(s, 503, "5.5.1", "DATA after BDAT");
		return;
	}
	if (s->state == S_MAIL) {
		reply(s, 554, "5.5.1", "No valid recipients");
		return;
	}
	if (s->state != S_RCPT) {
		reply(s, 503, "5.5.1", "Need RCPT before DATA");
		return;
	}
	if (queue_create(s) == -1)
		reply(s, 451, "4.3.0", "Queue not available; try later");
}

static void
cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_err	 err;
	uint64_t	 size;
	int		 last;

	if (smtp_parse_bdat(cmd->arg, UINT64_MAX, &size, &last, &err) == -1) {
		/* Without a size the chunk cannot be skipped: end it. */
		reply_err(s, &err);
		session_abort(s, "4.5.0", "Bad BDAT command; closing");
		return;
	}
	s->bdat_left = size;
	s->bdat_size = size;
	s->bdat_last = last;
	s->bdat_failed = 0;
	if (s->state != S_RCPT) {
		/* RFC 3030 2: the chunk is read and thrown away. */
		s->bdat_failed = 1;
		s->bdat_prev = s->state;
		s->bdat_err.code = 503;
		s->bdat_err.status = "5.5.1";
		s->bdat_err.text = s->state == S_MAIL ? "No valid recipients" :
		    "Need RCPT before BDAT";
		s->state = S_BDAT;
		return;
	}
	if (s->msgid[0] != '\0' || s->bdat) {
		/* Later chunks of the same message. */
		s->state = S_BDAT;
		return;
	}
	s->bdat = 1;
	if (queue_create(s) == -1) {
		s->dataerr |= DATA_NOQUEUE;
		s->state = S_BDAT;
	}
}

/*
 * AUTH (RFC 4954): the exchange runs in authd; the session only turns
 * base64 lines into bytes and back. What the client sends (a password
 * with PLAIN) passes through; no hash ever comes here.
 */
static void
cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_err	 err;
	struct msg	 m;
	unsigned char	 dec[SMTP_AUTH_MAX_RESPONSE];
	char		 buf[SMTP_MAX_COMMAND];
	const char	*mech, *initial;
	size_t		 declen = 0;

	if (!s->tls) {
		reply(s, 538, "5.7.11", "Encryption required for requested"
		    " authentication mechanism");
		return;
	}
	if (s->auth_user[0] != '\0') {
		reply(s, 503, "5.5.1", "Already authenticated");
		return;
	}
	if (!(s->lflags & LISTEN_AUTH)) {
		reply(s, 502, "5.5.1", "AUTH is not available here");
		return;
	}
	if (s->state == S_HELO || !s->ehlo) {
		reply(s, 503, "5.5.1", "Send EHLO first");
		return;
	}
	if (s->state != S_READY) {
		reply(s, 503, "5.5.1", "AUTH not allowed during a mail"
		    " transaction");
		return;
	}
	if (smtp_parse_auth(cmd->arg, buf, sizeof(buf), &mech, &initial,
	    &err) == -1) {
		reply_err(s, &err);
		return;
	}
	if (!word_in_list(SMTP_AUTH_MECHS, mech)) {
		reply(s, 504, "5.5.4", "Unrecognized authentication type");
		return;
	}
	if (initial != NULL && strcmp(initial, "=") != 0 &&
	    base64_decode(initial, dec, sizeof(dec), &declen) == -1) {
		explicit_wipe(buf, sizeof(buf));
		reply(s, 501, "5.5.2", "Invalid base64 in the initial"
		    " response");
		return;
	}
	(void)osms_strlcpy(s->auth_mech, mech, sizeof(s->auth_mech));
	msg_init(&m, IMSG_AUTH_SASL_START, s->id);
	msg_add_str(&m, mech);
	msg_add_str(&m, s->addr);
	msg_add_u32(&m, AUTH_SERVICE_SMTP);
	msg_add_u32(&m, initial != NULL);
	msg_add_data(&m, dec, declen);
	explicit_wipe(buf, sizeof(buf));
	explicit_wipe(dec, sizeof(dec));
	if (smtp_peer_send(ROLE_AUTHD, &m) == -1) {
		explicit_wipe(m.buf, m.len);
		reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	explicit_wipe(m.buf, m.len);
	s->auth_prev = s->state;
	s->state = S_AUTH;
	s->wait = W_AUTH;
}

/* End the exchange on our side, and tell authd. */
static void
auth_cancel(struct smtp_session *s)
{
	struct msg	 m;

	msg_init(&m, IMSG_AUTH_SASL_ABORT, s->id);
	(void)smtp_peer_send(ROLE_AUTHD, &m);
	s->state = s->auth_prev;
}

/* A client's line inside an exchange: "*" cancels (RFC 4954 4). */
static void
auth_response(struct smtp_session *s, char *line, size_t len, int flags)
{
	struct msg	 m;
	unsigned char	 dec[SMTP_AUTH_MAX_RESPONSE];
	size_t		 declen = 0;
	int		 cancel = strcmp(line, "*") == 0;

	if (cancel || (flags & (IO_LINE_BARE_LF | IO_LINE_CR |
	    IO_LINE_NUL)) || base64_decode(line, dec, sizeof(dec),
	    &declen) == -1) {
		explicit_wipe(line, len);
		auth_cancel(s);
		if (cancel)
			reply(s, 501, "5.7.0", "Authentication aborted");
		else
			reply(s, 501, "5.5.2", "Invalid base64 response");
		return;
	}
	explicit_wipe(line, len);
	msg_init(&m, IMSG_AUTH_SASL_STEP, s->id);
	msg_add_data(&m, dec, declen);
	explicit_wipe(dec, sizeof(dec));
	if (smtp_peer_send(ROLE_AUTHD, &m) == -1) {
		explicit_wipe(m.buf, m.len);
		s->state = s->auth_prev;
		reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	explicit_wipe(m.buf, m.len);
	s->wait = W_AUTH;
}

void
smtp_session_auth_challenge(struct smtp_session *s, struct imsg *imsg)
{
	struct msg_reader	 r;
	const void		*p;
	size_t			 len;
	char			 enc[SMTP_AUTH_MAX_RESPONSE * 2];

	msg_reader_init(&r, imsg);
	(void)msg_get_data(&r, &p, &len);
	if (msg_end(&r) == -1 || base64_encode(p, len, enc, sizeof(enc)) ==
	    -1)
		fatalx("bad IMSG_AUTH_SASL_CHALLENGE from authd");
	if (s->wait != W_AUTH)
		return;
	s->wait = W_NONE;
	(void)io_printf(s->io, "334 %s\r\n", enc);
	session_input(s);
}

void
smtp_session_auth_result(struct smtp_session *s, struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 res;
	char			 user[ADDR_MAX_TEXT], text[256], token[64];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &res);
	(void)msg_get_str(&r, user, sizeof(user));
	(void)msg_get_str(&r, text, sizeof(text));
	(void)msg_get_str(&r, token, sizeof(token));	/* "" for SMTP */
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_AUTH_SASL_RESULT from authd");
	if (s->wait != W_AUTH)
		return;
	s->wait = W_NONE;
	s->state = s->auth_prev;
	switch (res) {
	case AUTH_OK:
		(void)osms_strlcpy(s->auth_user, user, sizeof(s->auth_user));
		log_info("%016llx smtpd auth ok from=%s user=<%s> mech=%s",
		    (unsigned long long)s->id, s->addr, user, s->auth_mech);
		reply(s, 235, "2.7.0", "Authentication successful");
		break;
	case AUTH_THROTTLED:
		reply(s, 454, "4.7.0", "Too many failed authentications;"
		    " try again later");
		break;
	case AUTH_TEMPFAIL:
		reply(s, 454, "4.7.0", "Temporary authentication failure");
		break;
	default:
		reply(s, 535, "5.7.8", "Authentication credentials invalid");
		break;
	}
	session_input(s);
}

static void
cmd_rset(struct smtp_session *s)
{
	session_reset(s);
	reply(s, 250, "2.0.0", "Ok");
}

static void
command(struct smtp_session *s, char *line, size_t len, int flags)
{
	struct smtp_cmd	 cmd;
	struct smtp_err	 err;

	s->ncommands++;
	log_trace("%016llx smtpd < %s", (unsigned long long)s->id, line);
	if (flags & (IO_LINE_BARE_LF | IO_LINE_CR)) {
		reply(s, 500, "5.5.2", "Bare CR or LF in a command; lines end"
		    " with CRLF");
		return;
	}
	/* The parser would stop at the NUL and act on half a line. */
	if (flags & IO_LINE_NUL) {
		reply(s, 500, "5.5.2", "NUL byte in a command");
		return;
	}
	if (len + 2 > SMTP_MAX_COMMAND) {
		reply(s, 500, "5.5.2", "Line too long");
		return;
	}
	if (smtp_cmd_parse(line, &cmd, &err) == -1) {
		reply_err(s, &err);
		return;
	}
	switch (cmd.verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		cmd_helo(s, &cmd);
		break;
	case SMTP_CMD_STARTTLS:
		cmd_starttls(s, &cmd);
		break;
	case SMTP_CMD_MAIL:
		cmd_mail(s, &cmd);
		break;
	case SMTP_CMD_RCPT:
		cmd_rcpt(s, &cmd);
		break;
	case SMTP_CMD_DATA:
		cmd_data(s, &cmd);
		break;
	case SMTP_CMD_BDAT:
		cmd_bdat(s, &cmd);
		break;
	case SMTP_CMD_RSET:
		cmd_rset(s);
		break;
	case SMTP_CMD_NOOP:
		reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_CMD_QUIT:
		reply(s, 221, "2.0.0", "Bye");
		s->state = S_QUIT;
		s->why = "quit";
		io_pause_read(s->io);
		break;
	case SMTP_CMD_VRFY:
		reply(s, 252, "2.5.2", "Cannot VRFY user, but will accept"
		    " message and attempt delivery");
		break;
	case SMTP_CMD_EXPN:
		reply(s, 502, "5.5.1", "EXPN is not available");
		break;
	case SMTP_CMD_HELP:
		reply(s, 214, "2.0.0", "osms: see RFC 5321");
		break;
	case SMTP_CMD_AUTH:
		cmd_auth(s, &cmd);
		break;
	default:
		reply(s, 500, "5.5.2", "Command unrecognized");
		break;
	}
}

/*
 * The message text.
 */

static void
data_flush(struct smtp_session *s)
{
	if (!(s->dataerr & (DATA_IOERR | DATA_NOSPACE)) &&
	    write_all(s->msgfd, s->buf, s->buflen) == -1) {
		/* Once per message; a full disk is logged too, as such. */
		s->dataerr |= errno == ENOSPC || errno == EDQUOT ?
		    DATA_NOSPACE : DATA_IOERR;
		log_warn("%016llx smtpd write to queue file",
		    (unsigned long long)s->id);
	}
	s->buflen = 0;
}

/* Count the Received fields of the header, in any pieces. */
static void
hop_scan(struct smtp_session *s, const char *p, size_t len)
{
	static const char	 rcv[] = "received:";
	size_t			 i;
	char			 c;

	for (i = 0; i < len && !s->hop_body; i++) {
		c = p[i];
		if (c == '\n') {
			s->hop_body = s->hop_col == 0;	/* the blank line */
			s->hop_col = s->hop_match = 0;
			continue;
		}
		if (c == '\r')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (s->hop_col == s->hop_match &&
		    s->hop_match < sizeof(rcv) - 1 && c == rcv[s->hop_match] &&
		    ++s->hop_match == sizeof(rcv) - 1 &&
		    ++s->hops > SMTP_MAX_HOPS)
			s->dataerr |= DATA_LOOP;
		s->hop_col++;
	}
}

/* Append message bytes, within the size limit. */
static void
data_write(struct smtp_session *s, const void *p, size_t len)
{
	hop_scan(s, p, len);
	if (s->dataerr)
		return;
	if (len > smtp_limits.max_message_size - s->datalen) {
		s->dataerr |= DATA_TOOBIG;
		return;
	}
	s->datalen += len;
	while (len > 0) {
		size_t n = DATA_BUFSIZE - s->buflen;

		if (n > len)
			n = len;
		memcpy(s->buf + s->buflen, p, n);
		s->buflen += n;
		p = (const char *)p + n;
		len -= n;
		if (s->buflen == DATA_BUFSIZE)
			data_flush(s);
	}
}

/*
 * Append the client's text. Text that begins with a space or tab has no
 * header section (RFC 5322 2.2): its first line would read as a
 * continuation of our Received field, so a blank line ends that field's
 * header and the text is the body, as Postfix makes it.
 */
static void
text_write(struct smtp_session *s, const char *p, size_t len)
{
	if (len == 0)
		return;
	if (!s->text_begun) {
		s->text_begun = 1;
		if (p[0] == ' ' || p[0] == '\t')
			data_write(s, "\r\n", 2);
	}
	data_write(s, p, len);
}

static const char *
with_protocol(const struct smtp_session *s)
{
	static char	 proto[16];

	(void)snprintf(proto, sizeof(proto), "%s%s%s",
	    s->mparams.smtputf8 ? "UTF8SMTP" : s->ehlo ? "ESMTP" : "SMTP",
	    s->tls ? "S" : "", s->auth_user[0] ? "A" : "");
	return proto;
}

/* RFC 5321 4.4 trace header, first in the message. */
static void
received_header(struct smtp_session *s)
{
	char		 date[64], hdr[2048], tlsinfo[160] = "";
	char		 forinfo[ADDR_MAX_TEXT + 16] = "";
	struct tm	 tm;
	time_t		 now = time(NULL);
	int		 n;

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		(void)osms_strlcpy(date, "Thu, 01 Jan 1970 00:00:00 +0000",
		    sizeof(date));
	if (s->tls)
		(void)snprintf(tlsinfo, sizeof(tlsinfo), "\r\n\t(%s)",
		    s->tlsinfo);
	if (s->env.nrcpts == 1)
		(void)snprintf(forinfo, sizeof(forinfo), "\r\n\tfor <%s>",
		    s->env.rcpts[0].address);
	n = snprintf(hdr, sizeof(hdr), "Received: from %s ([%s])\r\n"
	    "\tby %s (osms) with %s id %s%s%s;\r\n\t%s\r\n", s->helo,
	    s->addr, hostname(), with_protocol(s), s->msgid, tlsinfo,
	    forinfo, date);
	if (n > 0 && (size_t)n < sizeof(hdr))
		data_write(s, hdr, (size_t)n);
}

void
smtp_session_queue_created(struct smtp_session *s, struct imsg *imsg)
{
	struct msg_reader	 r;
	char			 id[QUEUE_ID_LEN + 1];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	if (msg_end(&r) == -1 || !queue_id_valid(id))
		fatalx("bad IMSG_QUEUE_CREATED from queue");
	if (s->wait != W_CREATE) {
		/* Not asked for (any more): give it back. */
		struct msg m;

		msg_init(&m, IMSG_QUEUE_ABORT, s->id);
		msg_add_str(&m, id);
		(void)smtp_peer_send(ROLE_QUEUE, &m);
		return;
	}
	s->wait = W_NONE;
	(void)osms_strlcpy(s->msgid, id, sizeof(s->msgid));
	s->msgfd = imsg_take_fd(imsg);
	if (!s->bdat && data_pipelined(s))
		return;
	s->buf = xmalloc(DATA_BUFSIZE);
	s->buflen = 0;
	s->datalen = 0;
	received_header(s);
	if (s->bdat)
		s->state = S_BDAT;
	else {
		s->state = S_DATA;
		reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	}
	session_input(s);
}

/* The queue could not create or commit. */
static void
queue_failed(struct smtp_session *s, uint32_t res, const char *text)
{
	if (res == QUEUE_NOSPACE)
		reply(s, 452, "4.3.1", "Insufficient system storage");
	else
		reply(s, 451, "4.3.0", "Queue file write error%s%s",
		    text[0] ? ": " : "", text);
}

void
smtp_session_queue_result(struct smtp_session *s, struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 res;
	char			 id[QUEUE_ID_LEN + 1], text[256];
	enum smtp_wait		 was = s->wait;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &res);
	(void)msg_get_str(&r, id, sizeof(id));
	(void)msg_get_str(&r, text, sizeof(text));
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_QUEUE_RESULT from queue");
	if (was == W_CHECK && s->check != NULL) {
		/* The queue could not open the message for the scan. */
		smtp_check_failed(s->check, text[0] ? text :
		    "the queue cannot open the message");
		return;
	}
	if (was != W_CREATE && was != W_COMMIT)
		return;
	s->wait = W_NONE;
	if (was == W_CREATE) {
		if (s->bdat) {
			/* The chunk is still to be read and skipped. */
			s->dataerr |= res == QUEUE_NOSPACE ? DATA_NOSPACE :
			    DATA_NOQUEUE;
			s->state = S_BDAT;
		} else
			queue_failed(s, res, text);
	} else if (res == QUEUE_OK) {
		char	 from[ADDR_MAX_TEXT], to[1024] = "";
		size_t	 i;

		(void)addr_format(&s->sender, from, sizeof(from));
		/* The first recipients; the queue's log has them all. */
		for (i = 0; i < s->env.nrcpts; i++) {
			if (i > 0)
				(void)osms_strlcat(to, ",", sizeof(to));
			if (osms_strlcat(to, s->env.rcpts[i].address,
			    sizeof(to)) >= sizeof(to) - 8) {
				(void)osms_strlcat(to, "...", sizeof(to));
				break;
			}
		}
		s->nmessages++;
		log_info("%016llx smtpd message id=%s from=<%s> to=%s rcpts=%zu"
		    " size=%llu tls=%s result=queued",
		    (unsigned long long)s->id, s->msgid, from, to,
		    s->env.nrcpts, (unsigned long long)s->datalen,
		    s->tls ? "yes" : "no");
		reply(s, 250, "2.0.0", "Ok: queued as %s", s->msgid);
		s->msgid[0] = '\0';	/* committed: nothing to abort */
		if (s->auth_user[0] != '\0')
			smtp_user_rate_count(s->auth_user);
	} else {
		queue_failed(s, res, text);
		s->msgid[0] = '\0';	/* the queue dropped it */
	}
	if (was == W_COMMIT) {
		s->state = S_RCPT;	/* so reset goes back to ready */
		session_reset(s);
	}
	session_input(s);
}

/* The checks are done: commit, or refuse. */
static void
checked(struct smtp_session *s, const struct check_result *res)
{
	struct msg	 m;
	size_t		 i;

	s->wait = W_NONE;
	if (res->verdict != CHECK_ACCEPT) {
		reply(s, res->code, res->status, "%s", res->text);
		s->state = S_RCPT;
		session_reset(s);
		session_input(s);
		return;
	}
	(void)osms_strlcpy(s->env.id, s->msgid, sizeof(s->env.id));
	msg_init(&m, IMSG_QUEUE_ENV, s->id);
	msg_add_str(&m, s->msgid);
	{
		char from[ADDR_MAX_TEXT];

		(void)addr_format(&s->sender, from, sizeof(from));
		msg_add_str(&m, from);
	}
	msg_add_str(&m, s->helo);
	msg_add_str(&m, s->addr);
	msg_add_str(&m, s->tls ? s->tlsinfo : "");
	msg_add_str(&m, s->auth_user);
	msg_add_u32(&m, (uint32_t)s->mparams.body);
	msg_add_u32(&m, (uint32_t)s->mparams.ret);
	msg_add_u32(&m, (uint32_t)s->mparams.smtputf8);
	msg_add_u32(&m, (uint32_t)s->mparams.requiretls);
	msg_add_str(&m, s->mparams.envid);
	msg_add_u64(&m, s->datalen);
	msg_add_str(&m, res->scanner);
	msg_add_str(&m, res->virus);
	msg_add_u32(&m, (uint32_t)res->quarantine);
	msg_add_u32(&m, (uint32_t)res->junk);
	msg_add_str(&m, res->checks);
	if (smtp_peer_send(ROLE_QUEUE, &m) == -1)
		goto fail;
	for (i = 0; i < s->env.nrcpts; i++) {
		msg_init(&m, IMSG_QUEUE_RCPT, s->id);
		msg_add_str(&m, s->msgid);
		msg_add_str(&m, s->env.rcpts[i].address);
		msg_add_str(&m, s->env.rcpts[i].orcpt);
		msg_add_u32(&m, s->env.rcpts[i].notify);
		if (smtp_peer_send(ROLE_QUEUE, &m) == -1)
			goto fail;
	}
	for (i = 0; i < s->env.ndests; i++) {
		msg_init(&m, IMSG_QUEUE_DEST, s->id);
		msg_add_str(&m, s->msgid);
		msg_add_u32(&m, s->env.dests[i].rcpt);
		msg_add_u32(&m, s->env.dests[i].kind);
		msg_add_str(&m, s->env.dests[i].address);
		msg_add_str(&m, s->env.dests[i].mailbox);
		msg_add_u64(&m, s->env.dests[i].quota_bytes);
		msg_add_u64(&m, s->env.dests[i].quota_messages);
		if (smtp_peer_send(ROLE_QUEUE, &m) == -1)
			goto fail;
	}
	msg_init(&m, IMSG_QUEUE_COMMIT, s->id);
	msg_add_str(&m, s->msgid);
	if (smtp_peer_send(ROLE_QUEUE, &m) == -1)
		goto fail;
	s->wait = W_COMMIT;
	return;
fail:
	reply(s, 451, "4.3.0", "Queue not available; try later");
	s->msgid[0] = '\0';
	s->state = S_RCPT;
	session_reset(s);
	session_input(s);
}

/* The end of the message (DATA's dot, or BDAT LAST). */
static void
data_end(struct smtp_session *s)
{
	unsigned	 err;

	if (s->msgfd != -1 && s->buflen > 0)
		data_flush(s);
	err = s->dataerr;
	if (s->msgfd != -1) {
		(void)close(s->msgfd);
		s->msgfd = -1;
	}
	if (err != 0) {
		if (err & DATA_NOSPACE)
			reply(s, 452, "4.3.1", "Insufficient system storage");
		else if (err & (DATA_IOERR | DATA_NOQUEUE))
			reply(s, 451, "4.3.0", "Queue file write error");
		else if (err & DATA_TOOBIG)
			reply(s, 552, "5.3.4", "Message size exceeds fixed"
			    " maximum message size");
		else if (err & DATA_LOOP)
			reply(s, 554, "5.4.6", "Too many hops: %u Received"
			    " fields (a mail loop?)", s->hops);
		else if (err & DATA_BARE)
			reply(s, 554, "5.6.0", "Message refused: bare CR or LF"
			    " in the text (RFC 5321 2.3.8)");
		else if (err & DATA_NUL)
			reply(s, 554, "5.6.0", "Message refused: NUL byte in"
			    " the text");
		else
			reply(s, 500, "5.5.2", "Message refused: a line is"
			    " longer than %u octets",
			    smtp_limits.max_line);
		log_info("%016llx smtpd message refused from=%s id=%s"
		    " size=%llu errors=0x%x", (unsigned long long)s->id,
		    s->addr, s->msgid, (unsigned long long)s->datalen, err);
		s->state = S_RCPT;
		session_reset(s);
		return;
	}
	free(s->buf);
	s->buf = NULL;
	s->wait = W_CHECK;	/* nothing more is read until the reply */
	smtp_check_run(s, s->msgid, checked);
}

static void
data_line(struct smtp_session *s, char *line, size_t len, int flags)
{
	/* Only CRLF "." CRLF ends the text: a dot line after a bare LF
	 * ("<LF>.<CR><LF>") does not, whatever its own line end. */
	if (len == 1 && line[0] == '.' && flags == 0) {
		data_end(s);
		return;
	}
	if (flags & (IO_LINE_BARE_LF | IO_LINE_CR | IO_LINE_AFTER_BARE))
		s->dataerr |= DATA_BARE;
	if (flags & IO_LINE_NUL)
		s->dataerr |= DATA_NUL;
	if (line[0] == '.') {
		line++;
		len--;
	}
	text_write(s, line, len);
	text_write(s, "\r\n", 2);
}

/*
 * BDAT chunks: raw bytes. A bare CR or LF, or a line longer than
 * max-line-length, is refused as in DATA, so a message received by BDAT
 * can be relayed by DATA without changing it.
 */
static void
bdat_scan(struct smtp_session *s, const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s->cr_pending && p[i] != '\n')
			s->dataerr |= DATA_BARE;
		if (!s->cr_pending && p[i] == '\n')
			s->dataerr |= DATA_BARE;
		if (p[i] == '\0')
			s->dataerr |= DATA_NUL;
		s->cr_pending = p[i] == '\r';
		/* Counted as io_getline() counts a DATA line, CRLF included. */
		if (p[i] == '\n')
			s->bdat_col = 0;
		else if (++s->bdat_col >= smtp_limits.max_line)
			s->dataerr |= DATA_LONGLINE;
	}
}

static void
bdat_input(struct smtp_session *s)
{
	char	 chunk[16384];
	size_t	 want, got;

	while (s->bdat_left > 0) {
		want = s->bdat_left < sizeof(chunk) ? (size_t)s->bdat_left :
		    sizeof(chunk);
		if ((got = io_read(s->io, chunk, want)) == 0)
			return;		/* more to come */
		s->bdat_left -= got;
		if (s->bdat_failed || s->msgfd == -1)
			continue;	/* skipped */
		bdat_scan(s, chunk, got);
		text_write(s, chunk, got);
	}
	bdat_chunk_done(s);
}

static void
bdat_chunk_done(struct smtp_session *s)
{
	if (s->bdat_failed) {
		/* The transaction is over; a client that had not greeted
		 * still has to. */
		reply_err(s, &s->bdat_err);
		s->state = s->bdat_prev == S_HELO ? S_HELO : S_READY;
		session_reset(s);
		return;
	}
	if (!s->bdat_last) {
		if (s->dataerr & (DATA_NOQUEUE | DATA_NOSPACE))
			reply(s, 451, "4.3.0", "Queue not available");
		else
			reply(s, 250, "2.0.0", "%llu octets received",
			    (unsigned long long)s->bdat_size);
		s->state = S_RCPT;	/* the next BDAT continues it */
		return;
	}
	if (s->cr_pending)
		s->dataerr |= DATA_BARE;
	data_end(s);
}

/*
 * Input and events.
 */

/*
 * Take buffered input while nothing is awaited. Answers from other roles
 * call it again to resume pipelined commands; a call from inside itself
 * (a check that answered at once) returns, and the outer loop goes on.
 */
static void
session_input(struct smtp_session *s)
{
	if (s->in_input)
		return;
	s->in_input = 1;
	session_input_loop(s);
	s->in_input = 0;
}

static void
session_input_loop(struct smtp_session *s)
{
	enum io_line	 r;
	char		*line;
	size_t		 len;
	int		 flags;

	while (s->wait == W_NONE) {
		switch (s->state) {
		case S_QUIT:
		case S_DRAIN:
		case S_STARTTLS:
		case S_TLS:
		case S_CONNECTED:
			return;
		case S_BDAT:
			bdat_input(s);
			if (s->state == S_BDAT)
				return;	/* waiting for the rest */
			continue;
		default:
			break;
		}
		r = io_getline(s->io, &line, &len, &flags);
		if (r == IO_LINE_NONE)
			break;
		if (r == IO_LINE_TOOLONG) {
			if (s->state == S_DATA)
				s->dataerr |= DATA_LONGLINE;
			else {
				line_too_long(s);
				return;
			}
		} else if (s->state == S_DATA)
			data_line(s, line, len, flags);
		else if (s->state == S_AUTH)
			auth_response(s, line, len, flags);
		else
			command(s, line, len, flags);
		if (s->nerrors >= SMTP_MAX_ERRORS && s->state != S_QUIT) {
			session_abort(s, "4.7.0", "Too many errors");
			return;
		}
	}
}

static void
session_io(struct io *io, enum io_event ev, void *arg)
{
	struct smtp_session	*s = arg;
	SSL			*ssl;

	if (s->state == S_DRAIN) {
		/* Only the client's leaving (or time) matters now. */
		if (ev == IO_DATAIN) {
			s->drained += io_inbuf(io);
			io_discard_input(io);
			if (s->drained < DRAIN_MAX)
				return;
		}
		if (ev == IO_LOWAT)
			return;
		session_close(s, s->why);
		return;
	}
	switch (ev) {
	case IO_DATAIN:
		session_input(s);
		break;
	case IO_LOWAT:
		if (s->state == S_QUIT) {
			/* A lingering close: the last reply is not lost to
			 * a reset while the client is still sending. */
			if (io_shutdown_write(io) == -1) {
				session_close(s, s->why);
				return;
			}
			s->state = S_DRAIN;
			io_discard_input(io);
			io_set_timeout(io, DRAIN_TIMEOUT);
			io_resume_read(io);
			return;
		}
		if (s->state == S_STARTTLS) {
			s->state = S_TLS;
			if (io_start_tls(io, s->ctx) == -1) {
				session_close(s, "TLS setup failed");
				return;
			}
		}
		break;
	case IO_TLSREADY:
		ssl = io_ssl(io);
		s->tls = 1;
		(void)snprintf(s->tlsinfo, sizeof(s->tlsinfo), "%s cipher %s",
		    tls_version(ssl), tls_cipher(ssl));
		log_info("%016llx smtpd tls from=%s version=%s cipher=%s",
		    (unsigned long long)s->id, s->addr, tls_version(ssl),
		    tls_cipher(ssl));
		if (s->state == S_CONNECTED)
			banner(s);
		else {
			/* RFC 3207 4.2: start over, HELO included. */
			s->state = S_HELO;
			s->helo[0] = '\0';
			s->ehlo = 0;
		}
		session_input(s);
		break;
	case IO_TIMEOUT:
		if (s->state == S_QUIT || s->state == S_TLS ||
		    s->state == S_CONNECTED) {
			session_close(s, "timeout");
			return;
		}
		log_info("%016llx smtpd timeout from=%s state=%s",
		    (unsigned long long)s->id, s->addr, state_name(s->state));
		session_abort(s, "4.4.2", "Error: timeout exceeded");
		break;
	case IO_DISCONNECTED:
		session_close(s, s->state == S_QUIT ? s->why : "lost");
		break;
	case IO_ERROR:
		if (s->state == S_TLS || s->state == S_CONNECTED)
			log_info("%016llx smtpd tls failed from=%s: %s",
			    (unsigned long long)s->id, s->addr, io_error(io));
		session_close(s, s->state == S_TLS ||
		    s->state == S_CONNECTED ? "TLS failed" : "I/O error");
		break;
	}
}

struct check_run *
smtp_session_check(struct smtp_session *s)
{
	return s->check;
}

void
smtp_session_set_check(struct smtp_session *s, struct check_run *run)
{
	s->check = run;
}

const char *
smtp_session_user(const struct smtp_session *s)
{
	return s->auth_user;
}

const char *
smtp_session_client(const struct smtp_session *s)
{
	return s->addr;
}

const char *
smtp_session_helo(const struct smtp_session *s)
{
	return s->helo;
}

int64_t
smtp_session_dnsbl_score(const struct smtp_session *s)
{
	return s->dnsbl_score;
}

uint64_t
smtp_session_id(const struct smtp_session *s)
{
	return s->id;
}

void
smtp_session_addresses(const struct smtp_session *s, char *sender,
    size_t ssize, char *rcpts, size_t rsize)
{
	size_t	 i;

	if (addr_format(&s->sender, sender, ssize) == -1)
		sender[0] = '\0';
	if (rcpts == NULL)
		return;
	rcpts[0] = '\0';
	for (i = 0; i < s->env.nrcpts; i++) {
		if (strlen(rcpts) + strlen(s->env.rcpts[i].address) + 2 >
		    rsize)
			break;
		if (i > 0)
			(void)osms_strlcat(rcpts, ",", rsize);
		(void)osms_strlcat(rcpts, s->env.rcpts[i].address, rsize);
	}
}

void
smtp_session_leaving(const struct smtp_session *s, char *list, size_t size)
{
	size_t	 i;

	list[0] = '\0';
	for (i = 0; i < s->env.ndests; i++) {
		if (s->env.dests[i].kind != DEST_RELAY)
			continue;
		if (strlen(list) + strlen(s->env.dests[i].address) + 2 > size)
			break;
		if (list[0] != '\0')
			(void)osms_strlcat(list, ",", size);
		(void)osms_strlcat(list, s->env.dests[i].address, size);
	}
}

void
smtp_session_set_size(struct smtp_session *s, uint64_t size)
{
	s->datalen = size;
}
