/*
 * Pre-login connections and the proxy after the login, for both IMAP and
 * POP3. Everything here reads hostile bytes; nothing here can reach a
 * mailbox: a successful login hands the client's stream, through the
 * parent, to a session process of the user's own.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idmap.h"
#include "log.h"
#include "login.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "tls.h"
#include "util.h"

#define PROXY_CHUNK	16384

uint32_t		 login_timeout = 60;	/* until the config says */
static struct idmap	 logins;		/* by id, for answers */
static TAILQ_HEAD(, login) all = TAILQ_HEAD_INITIALIZER(all);
static int		 ready;
static int		 nproxied;

static void	 login_io(struct io *, enum io_event, void *);
static void	 session_io(struct io *, enum io_event, void *);

/* The login an answer is for; there is none before the first connect. */
static struct login *
login_find(uint64_t id)
{
	return ready ? idmap_get(&logins, id) : NULL;
}

static uint64_t
login_new_id(void)
{
	uint64_t	 id;

	do {
		arc4random_buf(&id, sizeof(id));
	} while (id == 0 || idmap_get(&logins, id) != NULL);
	return id;
}

static void
addr_text(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	const void	*a;

	if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	else
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	if (inet_ntop(ss->ss_family, a, buf, (socklen_t)size) == NULL)
		(void)osms_strlcpy(buf, "?", size);
}

/*
 * A client has login-timeout from its connect to log in, however busy
 * it keeps the connection (NOOPs, slow TLS, failed logins).
 */
static void
login_deadline(evutil_socket_t fd, short ev, void *arg)
{
	struct login	*lg = arg;

	(void)fd;
	(void)ev;
	if (lg->state == LOGIN_PROXY || lg->state == LOGIN_CLOSING)
		return;
	log_info("%016llx imapd timeout from=%s: no login in %us",
	    (unsigned long long)lg->id, lg->addr, (unsigned)login_timeout);
	if (lg->state == LOGIN_TLS || lg->state == LOGIN_STARTTLS) {
		login_close(lg, "timeout in the TLS handshake");
		return;
	}
	lg->proto->bye(lg, "timeout");
	login_close_after(lg);
}

void
login_accept(struct listener *l, int fd, const struct sockaddr_storage *ss,
    socklen_t len)
{
	struct login	*lg;
	struct timeval	 tv = { (time_t)login_timeout, 0 };

	(void)len;
	if (!ready) {
		idmap_init(&logins);
		ready = 1;
	}
	lg = xcalloc(1, sizeof(*lg));
	lg->id = login_new_id();
	lg->lproto = l->proto;
	lg->proto = l->proto == PROTO_POP3 ? &login_pop3 : &login_imap;
	lg->tlsmode = l->tls;
	addr_text(ss, lg->addr, sizeof(lg->addr));
	if (l->pki[0] != '\0')
		lg->ctx = tls_pki_ctx(l->pki);
	lg->io = io_new(fd, LOGIN_MAX_LINE, login_io, lg);
	evtimer_assign(&lg->deadline, osms_evbase, login_deadline, lg);
	(void)evtimer_add(&lg->deadline, &tv);
	(void)idmap_put(&logins, lg->id, lg);
	TAILQ_INSERT_TAIL(&all, lg, entry);
	log_debug("%016llx imapd connect from=%s proto=%s",
	    (unsigned long long)lg->id, lg->addr,
	    l->proto == PROTO_POP3 ? "pop3" : "imap");
	if (lg->tlsmode == TLS_IMPLICIT) {
		if (lg->ctx == NULL || io_start_tls(lg->io, lg->ctx) == -1) {
			log_warnx("%016llx imapd no TLS context for the"
			    " listener on port %u", (unsigned long long)lg->id,
			    l->port);
			login_close(lg, "no TLS");
			return;
		}
		lg->state = LOGIN_TLS;
		return;
	}
	lg->state = LOGIN_READY;
	lg->proto->greeting(lg);
}

void
login_close(struct login *lg, const char *why)
{
	struct msg	 m;
	struct channel	*ch;

	log_debug("%016llx imapd close from=%s: %s",
	    (unsigned long long)lg->id, lg->addr, why);
	if (lg->state == LOGIN_SASL && (ch = proc_peer(ROLE_AUTHD)) != NULL) {
		msg_init(&m, IMSG_AUTH_SASL_ABORT, lg->id);
		(void)channel_send(ch, &m);
	}
	if (lg->state == LOGIN_PROXY)
		nproxied--;
	(void)evtimer_del(&lg->deadline);
	(void)idmap_del(&logins, lg->id);
	TAILQ_REMOVE(&all, lg, entry);
	io_free(lg->io);
	io_free(lg->sio);
	if (lg->proto->free != NULL)
		lg->proto->free(lg->pdata);
	else
		free(lg->pdata);
	explicit_wipe(lg, sizeof(*lg));
	free(lg);
}

void
login_reply(struct login *lg, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	(void)io_printf(lg->io, "%s\r\n", buf);
}

void
login_close_after(struct login *lg)
{
	lg->state = LOGIN_CLOSING;
	io_pause_read(lg->io);
	if (io_queued(lg->io) == 0)
		login_close(lg, "done");
}

/*
 * STARTTLS/STLS: nothing may follow the command before the handshake
 * (RFC 9051 6.2.1, RFC 2595 4). What did is a client's bug or an
 * injection (CVE-2011-0411): 1, logged, and the caller ends the session.
 */
int
login_pipelined(struct login *lg, const char *cmd)
{
	if (io_inbuf(lg->io) == 0)
		return 0;
	log_warnx("%016llx imapd from=%s sent data after %s; closing",
	    (unsigned long long)lg->id, lg->addr, cmd);
	return 1;
}

void
login_starttls(struct login *lg)
{
	lg->state = LOGIN_STARTTLS;
	io_pause_read(lg->io);
	/* The handshake starts once the reply is out (IO_LOWAT). */
}

/*
 * SASL with authd. The login only relays: the password or SCRAM proof
 * is checked in authd, which holds the hashes.
 */

void
login_sasl_start(struct login *lg, const char *mech, const void *initial,
    size_t len, int has_initial)
{
	struct channel	*ch = proc_peer(ROLE_AUTHD);
	struct msg	 m;

	if (ch == NULL) {
		lg->proto->auth_failed(lg, AUTH_TEMPFAIL,
		    "the directory is not available");
		return;
	}
	msg_init(&m, IMSG_AUTH_SASL_START, lg->id);
	msg_add_str(&m, mech);
	msg_add_str(&m, lg->addr);
	msg_add_u32(&m, lg->lproto == PROTO_POP3 ? AUTH_SERVICE_POP3 :
	    AUTH_SERVICE_IMAP);
	msg_add_u32(&m, (uint32_t)has_initial);
	msg_add_data(&m, initial, len);
	(void)channel_send(ch, &m);
	explicit_wipe(m.buf, m.len);
	lg->state = LOGIN_SASL;
	/*
	 * One exchange at a time, one step at a time: until authd answers,
	 * nothing more is read, nor taken from what is buffered (a line
	 * pipelined behind the command is no response to a challenge, and
	 * a second start would be garbage to authd).
	 */
	lg->awaiting = 1;
	io_pause_read(lg->io);
}

void
login_sasl_step(struct login *lg, const void *data, size_t len)
{
	struct channel	*ch = proc_peer(ROLE_AUTHD);
	struct msg	 m;

	if (ch == NULL) {
		lg->state = LOGIN_READY;
		lg->proto->auth_failed(lg, AUTH_TEMPFAIL,
		    "the directory is not available");
		return;
	}
	msg_init(&m, IMSG_AUTH_SASL_STEP, lg->id);
	msg_add_data(&m, data, len);
	(void)channel_send(ch, &m);
	explicit_wipe(m.buf, m.len);
	lg->awaiting = 1;
	io_pause_read(lg->io);
}

void
login_sasl_abort(struct login *lg)
{
	struct channel	*ch = proc_peer(ROLE_AUTHD);
	struct msg	 m;

	if (ch != NULL) {
		msg_init(&m, IMSG_AUTH_SASL_ABORT, lg->id);
		(void)channel_send(ch, &m);
	}
	lg->state = LOGIN_READY;
}

int
login_b64_decode(const char *s, void *out, size_t size, size_t *len)
{
	return base64_decode(s, out, size, len);
}

int
login_auth_challenge(struct imsg *imsg)
{
	struct login		*lg = login_find(imsg->hdr.id);
	struct msg_reader	 r;
	const void		*p;
	size_t			 len;
	char			 enc[LOGIN_MAX_RESPONSE * 2];

	msg_reader_init(&r, imsg);
	(void)msg_get_data(&r, &p, &len);
	if (msg_end(&r) == -1 || base64_encode(p, len, enc, sizeof(enc)) ==
	    -1)
		return -1;
	if (lg == NULL || lg->state != LOGIN_SASL)
		return 0;
	lg->proto->challenge(lg, enc);
	lg->awaiting = 0;
	io_resume_read(lg->io);
	login_io(lg->io, IO_DATAIN, lg);	/* a response sent already */
	return 0;
}

/* The login succeeded: ask the parent for the user's session. */
static void
login_handoff(struct login *lg, const char *token)
{
	struct msg	 m;
	int		 sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("imapd: socketpair");
		lg->state = LOGIN_READY;
		lg->proto->handoff_failed(lg, "internal error");
		return;
	}
	msg_init(&m, IMSG_IMAP_LOGIN, lg->id);
	msg_add_fd(&m, sv[1]);
	msg_add_str(&m, token);
	msg_add_u32(&m, lg->lproto);
	msg_add_str(&m, lg->addr);
	msg_add_str(&m, lg->tag);
	msg_add_u32(&m, (uint32_t)lg->tls);
	(void)channel_send(proc_parent(), &m);
	explicit_wipe(m.buf, m.len);
	lg->state = LOGIN_HANDOFF;
	lg->sio = io_new(sv[0], LOGIN_MAX_LINE, session_io, lg);
	io_pause_read(lg->sio);
}

int
login_auth_result(struct imsg *imsg)
{
	struct login		*lg = login_find(imsg->hdr.id);
	struct msg_reader	 r;
	uint32_t		 res;
	char			 user[256], text[256], token[64];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &res);
	(void)msg_get_str(&r, user, sizeof(user));
	(void)msg_get_str(&r, text, sizeof(text));
	(void)msg_get_str(&r, token, sizeof(token));
	if (msg_end(&r) == -1) {
		explicit_wipe(token, sizeof(token));
		return -1;
	}
	if (lg == NULL || lg->state != LOGIN_SASL) {
		explicit_wipe(token, sizeof(token));
		return 0;
	}
	lg->state = LOGIN_READY;
	lg->awaiting = 0;
	io_resume_read(lg->io);
	if (res == AUTH_OK && token[0] != '\0') {
		(void)osms_strlcpy(lg->user, user, sizeof(lg->user));
		log_info("%016llx imapd login from=%s user=<%s> proto=%s"
		    " tls=%s", (unsigned long long)lg->id, lg->addr, user,
		    lg->lproto == PROTO_POP3 ? "pop3" : "imap",
		    lg->tls ? "yes" : "no");
		login_handoff(lg, token);
		explicit_wipe(token, sizeof(token));
		return 0;
	}
	if (res != AUTH_TEMPFAIL && res != AUTH_THROTTLED)
		lg->failures++;
	lg->proto->auth_failed(lg, res == AUTH_OK ? AUTH_TEMPFAIL : res,
	    text);
	if (lg->failures >= LOGIN_MAX_FAILURES && lg->state != LOGIN_CLOSING) {
		lg->proto->bye(lg, "too many failed logins");
		login_close_after(lg);
		return 0;
	}
	login_io(lg->io, IO_DATAIN, lg);	/* what was pipelined */
	return 0;
}

/* authd went away: every exchange in progress fails for now. */
void
login_authd_down(void)
{
	struct login	*lg, *next;

	for (lg = TAILQ_FIRST(&all); lg != NULL; lg = next) {
		next = TAILQ_NEXT(lg, entry);
		if (lg->state != LOGIN_SASL)
			continue;
		lg->state = LOGIN_READY;
		lg->awaiting = 0;
		io_resume_read(lg->io);
		lg->proto->auth_failed(lg, AUTH_TEMPFAIL,
		    "the directory is not available");
		login_io(lg->io, IO_DATAIN, lg);
	}
}

void
login_handoff_result(struct imsg *imsg)
{
	struct login		*lg = login_find(imsg->hdr.id);
	struct msg_reader	 r;
	uint32_t		 ok;
	char			 text[256];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &ok);
	(void)msg_get_str(&r, text, sizeof(text));
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_IMAP_LOGIN_RESULT");
	if (lg == NULL || lg->state != LOGIN_HANDOFF)
		return;
	if (!ok) {
		io_free(lg->sio);
		lg->sio = NULL;
		lg->state = LOGIN_READY;
		lg->proto->handoff_failed(lg, text);
		return;
	}
	/* The session answers the login itself; from now on bytes pass. */
	lg->state = LOGIN_PROXY;
	nproxied++;
	(void)evtimer_del(&lg->deadline);	/* the session keeps the time */
	io_resume_read(lg->sio);
	io_resume_read(lg->io);
	login_io(lg->io, IO_DATAIN, lg);	/* what was pipelined */
}

/*
 * The proxy: bytes from one side to the other, reading a side only while
 * the other has room.
 */

static void
pump(struct io *from, struct io *to)
{
	char	 buf[PROXY_CHUNK];
	size_t	 n;

	while (io_queued(to) < PROXY_HIGHWATER &&
	    (n = io_read(from, buf, sizeof(buf))) > 0)
		if (io_write(to, buf, n) == -1)
			break;
	if (io_queued(to) >= PROXY_HIGHWATER)
		io_pause_read(from);
	explicit_wipe(buf, sizeof(buf));
}

static void
session_io(struct io *io, enum io_event ev, void *arg)
{
	struct login	*lg = arg;

	(void)io;
	switch (ev) {
	case IO_DATAIN:
		if (lg->state == LOGIN_PROXY)
			pump(lg->sio, lg->io);
		break;
	case IO_LOWAT:
		if (lg->state == LOGIN_PROXY) {
			io_resume_read(lg->io);
			pump(lg->io, lg->sio);
		}
		break;
	default:
		/* The session ended: the client gets what is left. */
		if (lg->state == LOGIN_PROXY) {
			pump(lg->sio, lg->io);
			nproxied--;
			io_free(lg->sio);
			lg->sio = NULL;
			login_close_after(lg);
		} else if (lg->state == LOGIN_HANDOFF) {
			io_free(lg->sio);
			lg->sio = NULL;
		}
		break;
	}
}

static void
login_io(struct io *io, enum io_event ev, void *arg)
{
	struct login	*lg = arg;
	char		*line;
	size_t		 len;
	int		 flags;
	enum io_line	 got;

	(void)io;
	switch (ev) {
	case IO_DATAIN:
		if (lg->state == LOGIN_PROXY) {
			pump(lg->io, lg->sio);
			return;
		}
		while ((lg->state == LOGIN_READY ||
		    lg->state == LOGIN_SASL) && !lg->awaiting) {
			if (lg->raw_need > 0) {
				char	 buf[4096];
				size_t	 n;

				n = io_read(lg->io, buf, lg->raw_need <
				    sizeof(buf) ? lg->raw_need : sizeof(buf));
				if (n == 0)
					break;
				lg->raw_need -= n;
				lg->proto->raw(lg, buf, n);
				explicit_wipe(buf, n);
				if (idmap_get(&logins, lg->id) != lg)
					return;
				continue;
			}
			got = io_getline(lg->io, &line, &len, &flags);
			if (got == IO_LINE_NONE)
				break;
			if (got == IO_LINE_TOOLONG) {
				lg->proto->bye(lg, "line too long");
				login_close_after(lg);
				return;
			}
			lg->proto->line(lg, line, len, flags);
			explicit_wipe(line, len);
			/* The handler may have closed the login. */
			if (idmap_get(&logins, lg->id) != lg)
				return;
		}
		break;
	case IO_LOWAT:
		if (lg->state == LOGIN_STARTTLS) {
			if (io_start_tls(lg->io, lg->ctx) == -1) {
				login_close(lg, "cannot start TLS");
				return;
			}
			io_resume_read(lg->io);
		} else if (lg->state == LOGIN_CLOSING)
			login_close(lg, "done");
		else if (lg->state == LOGIN_PROXY && lg->sio != NULL) {
			io_resume_read(lg->sio);
			pump(lg->sio, lg->io);
		}
		break;
	case IO_TLSREADY:
		lg->tls = 1;
		log_debug("%016llx imapd tls from=%s version=%s cipher=%s",
		    (unsigned long long)lg->id, lg->addr,
		    tls_version(io_ssl(lg->io)), tls_cipher(io_ssl(lg->io)));
		if (lg->state == LOGIN_TLS) {
			lg->state = LOGIN_READY;
			lg->proto->greeting(lg);
		} else
			lg->state = LOGIN_READY;
		break;
	case IO_TIMEOUT:
		if (lg->state == LOGIN_PROXY)
			break;
		lg->proto->bye(lg, "timeout");
		login_close_after(lg);
		break;
	case IO_DISCONNECTED:
	case IO_ERROR:
		if (lg->state == LOGIN_PROXY && lg->sio != NULL)
			(void)io_shutdown_write(lg->sio);
		login_close(lg, ev == IO_ERROR ? io_error(lg->io) :
		    "disconnected");
		break;
	}
}

int
login_session_count(void)
{
	return ready ? (int)logins.count : 0;
}

void
login_shutdown(void)
{
	struct login	*lg;

	while ((lg = TAILQ_FIRST(&all)) != NULL) {
		if (lg->state != LOGIN_PROXY)
			lg->proto->bye(lg, "server shutting down");
		login_close(lg, "shutdown");
	}
}
