/*
 * The body of fuzz_imap_session and fuzz_pop3_session (SECURITY.md F5):
 * a client's byte stream into the real pre-login code of imapd
 * (imapd/login.c with login_imap.c or login_pop3.c, imap_parser.c) over
 * a socketpair, with real TLS after STARTTLS/STLS or on an implicit-TLS
 * listener (session_harness.h). authd and the parent are this program,
 * behind real channels (lib/channel.c, so every message is checked
 * against the catalogue): authd runs a fake SASL exchange, the parent
 * takes the hand-off and plays the user's session, which says one line
 * and keeps what the proxy relays.
 *
 * The target defines LOGIN_PROTO (PROTO_IMAP or PROTO_POP3) first.
 *
 * Oracles:
 * - after the go ahead to STARTTLS/STLS the server's next byte is TLS;
 *   a command pipelined behind STARTTLS/STLS is never answered: the
 *   session says why and closes (C1);
 * - after a goodbye ("* BYE", POP3's closing -ERR or +OK Bye) nothing
 *   more, but IMAP's tagged completion of LOGOUT;
 * - the hand-off happens only inside TLS, with authd's token; what the
 *   user's session receives is what the client sent last, in order;
 * - authd is never asked twice at once or for a step outside an
 *   exchange;
 * - the connection ends once its client has left, leaking no descriptor.
 *
 * A segment of the two bytes 0xfe 'A' is no client input: authd goes
 * down (imapd hears of it, and sees no authd) and is back for the next
 * segment.
 *
 * Settings (the first byte):
 *	bits 0-1	0 and 3 STARTTLS, 1 implicit TLS, 2 no TLS at all
 *	bit 2		the parent cannot start the session
 *	bit 3		authd is not running
 */
#include <arpa/inet.h>

#include "login.h"
#include "session_harness.h"

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static unsigned		 settings;
static struct hs	 h;

/* authd and the parent, at the far ends of the channels. */
static struct channel	 authd_ch;
static struct imsgbuf	 authd_ib, parent_ib;
static struct hs_sasl	 sasl;
static uint64_t		 sasl_id;
static int		 issued;	/* a token went out */
/* authd's answer, sent at the end of the turn (authd works a while),
 * and answers sent that imapd has not dispatched yet. */
static struct msg	 pending;
static int		 has_pending;
static int		 in_flight;

/* The user's session, once started. */
static int		 sessfd = -1;
static struct hs_buf	 sess_in;
static unsigned		 sess_epoch;
static int		 proxied;	/* lines now come from the session */

/* Goodbyes: once closing, only may_follow may still come. */
enum { FOLLOW_NONE, FOLLOW_BYE, FOLLOW_LOGOUT };
static int		 closing;
static int		 may_follow;

static void
login_side_authd(struct channel *ch, struct imsg *imsg)
{
	in_flight--;
	switch (imsg->hdr.type) {
	case IMSG_AUTH_SASL_CHALLENGE:
		if (login_auth_challenge(imsg) == -1)
			channel_bad_message(ch, imsg, "bad SASL challenge");
		break;
	case IMSG_AUTH_SASL_RESULT:
		if (login_auth_result(imsg) == -1)
			channel_bad_message(ch, imsg, "bad SASL result");
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
login_side_parent(struct channel *ch, struct imsg *imsg)
{
	(void)ch;
	if (imsg->hdr.type != IMSG_IMAP_LOGIN_RESULT)
		abort();
	login_handoff_result(imsg);
}

static void
channel_gone(struct channel *ch)
{
	(void)ch;
	hs_fail("imapd closed a channel: it took a message as garbage", &h);
}

static void
compose(struct imsgbuf *ib, uint32_t type, uint64_t id, int fd, struct msg *m)
{
	if (imsg_compose(ib, type, id, fd, m->buf, m->len) == -1 ||
	    imsgbuf_flush(ib) == -1)
		abort();
}

/* authd: each SASL message, answered at once on its channel. */
static void
authd_take(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct msg		*m;
	const void		*p = NULL;
	size_t			 len = 0;
	uint32_t		 service, initial;
	char			 mech[32], client[64];

	msg_reader_init(&r, imsg);
	/*
	 * authd runs a step on a worker: a start for the same id meanwhile
	 * is garbage (the parent kills imapd), a step is dropped (the
	 * client then waits for nothing).
	 */
	if (imsg->hdr.type != IMSG_AUTH_SASL_ABORT &&
	    (has_pending || in_flight > 0))
		hs_fail("imapd asked authd again before its answer", &h);
	switch (imsg->hdr.type) {
	case IMSG_AUTH_SASL_START:
		(void)msg_get_str(&r, mech, sizeof(mech));
		(void)msg_get_str(&r, client, sizeof(client));
		(void)msg_get_u32(&r, &service);
		(void)msg_get_u32(&r, &initial);
		(void)msg_get_data(&r, &p, &len);
		if (msg_end(&r) == -1 || service != (LOGIN_PROTO ==
		    PROTO_POP3 ? AUTH_SERVICE_POP3 : AUTH_SERVICE_IMAP))
			hs_fail("bad IMSG_AUTH_SASL_START", &h);
		if (hs_sasl_start(&sasl, mech, initial != 0, p, len) == -1)
			hs_fail("SASL start inside an exchange, or of a"
			    " mechanism not offered", &h);
		sasl_id = imsg->hdr.id;
		break;
	case IMSG_AUTH_SASL_STEP:
		(void)msg_get_data(&r, &p, &len);
		if (imsg->hdr.id != sasl_id ||
		    hs_sasl_step(&sasl, p, len) == -1)
			hs_fail("SASL step without an exchange", &h);
		break;
	case IMSG_AUTH_SASL_ABORT:
		/* A running step ends unanswered. */
		if (imsg->hdr.id == sasl_id) {
			sasl.state = HS_SASL_NONE;
			has_pending = 0;
		}
		return;
	default:
		hs_fail("imapd asked authd what it does not serve", &h);
	}
	m = &pending;
	if (sasl.chal != NULL) {
		msg_init(m, IMSG_AUTH_SASL_CHALLENGE, sasl_id);
		msg_add_data(m, sasl.chal, strlen(sasl.chal));
		sasl.chal = NULL;
	} else {
		msg_init(m, IMSG_AUTH_SASL_RESULT, sasl_id);
		msg_add_u32(m, sasl.res);
		msg_add_str(m, sasl.resuser);
		msg_add_str(m, "");
		msg_add_str(m, sasl.res == AUTH_OK ? HS_TOKEN : "");
		issued |= sasl.res == AUTH_OK;
	}
	has_pending = 1;
}

/* The parent: the hand-off of a logged-in client. */
static void
parent_take(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct msg		 m;
	uint32_t		 proto, tls;
	char			 token[64], addr[64], tag[128];
	const char		*hello;
	int			 fd = imsg_take_fd(imsg);

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, token, sizeof(token));
	(void)msg_get_u32(&r, &proto);
	(void)msg_get_str(&r, addr, sizeof(addr));
	(void)msg_get_str(&r, tag, sizeof(tag));
	(void)msg_get_u32(&r, &tls);
	if (imsg->hdr.type != IMSG_IMAP_LOGIN || msg_end(&r) == -1 ||
	    fd == -1 || proto != LOGIN_PROTO)
		hs_fail("bad IMSG_IMAP_LOGIN", &h);
	if (!tls || h.state != HS_TLS)
		hs_fail("a login outside TLS", &h);
	if (!issued || strcmp(token, HS_TOKEN) != 0)
		hs_fail("a hand-off without authd's token", &h);
	issued = 0;
	if (sessfd != -1)
		hs_fail("a second hand-off", &h);
	msg_init(&m, IMSG_IMAP_LOGIN_RESULT, imsg->hdr.id);
	if (settings & 0x04) {
		(void)close(fd);
		msg_add_u32(&m, 0);
		msg_add_str(&m, "too many sessions");
	} else {
		sessfd = fd;
		sess_epoch = h.epoch;
		if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
			abort();
		hello = LOGIN_PROTO == PROTO_POP3 ? "+OK fake session\r\n" :
		    "* FAKE-SESSION\r\n";
		if (write_all(fd, hello, strlen(hello)) == -1)
			abort();
		msg_add_u32(&m, 1);
		msg_add_str(&m, "");
	}
	compose(&parent_ib, m.type, m.id, -1, &m);
}

static int
drain(struct imsgbuf *ib, void (*take)(struct imsg *))
{
	struct imsg	 imsg;
	ssize_t		 n;
	int		 did = 0, r;

	while ((n = imsgbuf_read(ib)) > 0)
		;
	if (n == 0 || (n == -1 && errno != EAGAIN))
		abort();
	while ((r = imsg_get(ib, &imsg)) == 1) {
		take(&imsg);
		if (imsg.fd != -1)
			(void)close(imsg.fd);
		imsg_free(&imsg);
		did++;
	}
	if (r == -1)
		abort();
	return did;
}

static int
hs_answer(void)
{
	char	 buf[4096];
	ssize_t	 n;
	int	 did;

	did = drain(&authd_ib, authd_take) + drain(&parent_ib, parent_take);
	if (has_pending) {
		compose(&authd_ib, pending.type, pending.id, -1, &pending);
		has_pending = 0;
		in_flight++;
		did++;
	}
	while (sessfd != -1 && (n = read(sessfd, buf, sizeof(buf))) > 0) {
		hs_buf_add(&sess_in, buf, (size_t)n);
		did++;
	}
	return did;
}

static int
is_closer(const char *line, size_t len)
{
	static const char *const pop3[] = { "+OK Bye", "-ERR Too many errors",
	    "-ERR Command pipelined after STLS; closing",
	    "-ERR line too long", "-ERR too many failed logins" };
	size_t	 i;

	if (LOGIN_PROTO != PROTO_POP3)
		return len >= 5 && memcmp(line, "* BYE", 5) == 0;
	for (i = 0; i < sizeof(pop3) / sizeof(pop3[0]); i++)
		if (len == strlen(pop3[i]) && memcmp(line, pop3[i], len) == 0)
			return 1;
	return 0;
}

static int
ends_with(const char *line, size_t len, const char *s)
{
	size_t	 n = strlen(s);

	return len >= n && memcmp(line + len - n, s, n) == 0;
}

static void
hs_line(struct hs *hp, const char *line, size_t len)
{
	static const char	 piped[] = " BAD Command pipelined after"
				    " STARTTLS";

	if (proxied)
		return;		/* the user's session speaks now */
	if ((LOGIN_PROTO == PROTO_POP3 && len == 16 &&
	    memcmp(line, "+OK fake session", 16) == 0) ||
	    (LOGIN_PROTO != PROTO_POP3 && len == 14 &&
	    memcmp(line, "* FAKE-SESSION", 14) == 0)) {
		if (sessfd == -1 || closing)
			hs_fail("the session's line without a session", hp);
		proxied = 1;
		return;
	}
	if (closing) {
		/* IMAP: the BYE after a refused STARTTLS, LOGOUT's
		 * completion after its BYE. */
		if (may_follow == FOLLOW_BYE && is_closer(line, len))
			may_follow = FOLLOW_NONE;
		else if (may_follow == FOLLOW_LOGOUT &&
		    ends_with(line, len, " OK LOGOUT completed"))
			may_follow = FOLLOW_NONE;
		else
			hs_fail("the server spoke after its goodbye", hp);
		return;
	}
	if (is_closer(line, len)) {
		closing = 1;
		may_follow = LOGIN_PROTO == PROTO_POP3 ? FOLLOW_NONE :
		    FOLLOW_LOGOUT;
	}
	if (LOGIN_PROTO != PROTO_POP3 && ends_with(line, len, piped)) {
		closing = 1;
		may_follow = FOLLOW_BYE;
	}
	if ((LOGIN_PROTO == PROTO_POP3 && len == 25 &&
	    memcmp(line, "+OK Begin TLS negotiation", 25) == 0) ||
	    (LOGIN_PROTO != PROTO_POP3 && ends_with(line, len,
	    " OK Begin TLS negotiation now")))
		hs_starttls(hp);
}

/* authd restarts; between segments nothing of it is in flight. */
static int
authd_down(struct hs *hp, const uint8_t *p, size_t len)
{
	if (len != 2 || p[0] != 0xfe || p[1] != 'A')
		return 0;
	if (has_pending || in_flight != 0)
		abort();
	memset(&sasl, 0, sizeof(sasl));
	hs_peers[ROLE_AUTHD] = NULL;
	login_authd_down();
	hs_pump(hp, NULL);
	hs_peers[ROLE_AUTHD] = (settings & 0x08) ? NULL : &authd_ch;
	return 1;
}

static int
login_gone(void)
{
	return login_session_count() == 0;
}

static void
pair(struct channel *ch, struct imsgbuf *ib, enum osms_role remote,
    channel_dispatch_cb dispatch)
{
	int	 sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1)
		abort();
	channel_init(ch, sv[0], ROLE_IMAPD, remote, 0, dispatch, channel_gone,
	    NULL);
	imsgbuf_init(ib, sv[1]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hs_init();
	pair(&authd_ch, &authd_ib, ROLE_AUTHD, login_side_authd);
	pair(&hs_parent, &parent_ib, ROLE_PARENT, login_side_parent);
	hs_control = authd_down;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct listener		 l;
	struct sockaddr_in	 sin;
	int			 fd;

	if (size == 0)
		return 0;
	settings = data[0];
	hs_peers[ROLE_AUTHD] = (settings & 0x08) ? NULL : &authd_ch;

	memset(&l, 0, sizeof(l));
	l.proto = LOGIN_PROTO;
	l.port = LOGIN_PROTO == PROTO_POP3 ? 110 : 143;
	l.tls = (settings & 3) == 1 ? TLS_IMPLICIT : (settings & 3) == 2 ?
	    TLS_NONE : TLS_STARTTLS;
	if (l.tls != TLS_NONE)
		(void)osms_strlcpy(l.pki, HS_PKI, sizeof(l.pki));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0xc0000207);	/* 192.0.2.7 */

	hs_connect(&h, &fd);
	login_accept(&l, fd, (struct sockaddr_storage *)&sin, sizeof(sin));
	if (l.tls == TLS_IMPLICIT)
		hs_starttls(&h);
	hs_run(&h, data + 1, size - 1);

	/* What the session got is what the client sent last, in order. */
	if (sessfd != -1 && sess_epoch == h.epoch && h.state == HS_TLS &&
	    (sess_in.len > h.sent || (sess_in.len > 0 &&
	    memcmp(sess_in.p, h.stream.p + h.sent - sess_in.len,
	    sess_in.len) != 0)))
		hs_fail("the proxy did not relay the client's bytes as sent",
		    &h);

	/* The user's session ends with the client; so must the login. */
	hs_close(&h, login_gone);
	if (sessfd != -1)
		(void)close(sessfd);
	sessfd = -1;
	hs_pump(&h, NULL);	/* authd's last answer reaches imapd */
	if (in_flight != 0)
		abort();
	free(sess_in.p);
	memset(&sess_in, 0, sizeof(sess_in));
	memset(&sasl, 0, sizeof(sasl));
	has_pending = in_flight = 0;
	issued = proxied = closing = may_follow = 0;
	hs_check_fds();
	return 0;
}
