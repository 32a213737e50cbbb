/*
 * libFuzzer target (SECURITY.md F7): SASL exchanges into authd's real
 * SASL code (authd/sasl.c): libsasl2's PLAIN, LOGIN and SCRAM-SHA-256
 * with osms's callbacks (user names canonicalized as addresses, passwords
 * checked by pwhash.c, SCRAM secrets from the auxprop plugin), its
 * worker queue and failure delays. This program is the network role at
 * the other end of a real channel, sending the responses base64 would
 * have carried (decoded, as smtpd and imapd send them), and the
 * directory: alice@example.test ("secret", every service, a SCRAM
 * secret) and bob@example.test ("bobpw", SMTP only); "tempfail..."
 * cannot be looked up. The rate limits answer at once (no delay).
 *
 * Input: a settings byte (bits 0-1: 0 and 3 SMTP from smtpd, 1 IMAP and
 * 2 POP3 from imapd; bit 2: each exchange starts with an initial
 * response), then segments cut at 0xff: a mechanism name, its initial
 * response if bit 2 says so, then one segment per challenge; "*" aborts
 * the exchange instead. After a result the next segment starts another.
 *
 * Oracles: success only for a user and a service the directory allows,
 * named in the result, and only if the responses really carried that
 * user's password (PLAIN: authzid empty or the same user; LOGIN: user,
 * then password); never for SCRAM (no client here can prove the secret);
 * an IMAP or POP3 success carries a login token, an SMTP one none; at
 * most SASL_MAX_STEPS challenges; every exchange gets its answer, and
 * nothing answers an aborted one after its abort.
 */
#include <sys/socket.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "addr.h"
#include "authd.h"
#include "channel.h"
#include "dir.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "pwhash.h"
#include "ratelimit.h"
#include "sasl.h"
#include "token.h"
#include "util.h"
#include "workq.h"

#include "sasl_stubs.h"

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define SEP		0xff
#define MAX_STEPS	8	/* sasl.c's SASL_MAX_STEPS */
#define MAX_TURNS	100000

static struct channel	 from_smtpd, from_imapd;
static struct imsgbuf	 smtpd_ib, imapd_ib;

/* The exchange being driven. */
static uint64_t		 xid;
static int		 answered;
static uint32_t		 ans_type, ans_res;
static char		 ans_user[ADDR_MAX_TEXT], ans_token[64];
static uint64_t		 aborted_ids[64];
static size_t		 naborted;

/* What sasl.c needs around it beyond sasl_stubs.h. */
struct channel *
proc_parent(void)
{
	return NULL;
}

/* Thousands of exchanges a second: the log lines go nowhere. */
void
syslog(int pri, const char *fmt, ...)
{
	(void)pri;
	(void)fmt;
}

static void
fail(const char *what)
{
	(void)fprintf(stderr, "oracle: %s\n", what);
	abort();
}

/* authd's side of the channels. */
static void
authd_dispatch(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_AUTH_SASL_START:
		authd_sasl_start(ch, imsg);
		break;
	case IMSG_AUTH_SASL_STEP:
		authd_sasl_step(ch, imsg);
		break;
	case IMSG_AUTH_SASL_ABORT:
		authd_sasl_abort(ch, imsg);
		break;
	default:
		abort();
	}
}

static void
authd_closed(struct channel *ch)
{
	(void)ch;
	fail("authd closed a channel: it took a message as garbage");
}

/* The network role's side: an answer for the exchange. */
static int
take_answers(struct imsgbuf *ib)
{
	struct msg_reader	 r;
	struct imsg		 imsg;
	const void		*p;
	size_t			 len, i;
	char			 text[256];
	ssize_t			 n;
	int			 got = 0, rc;

	while ((n = imsgbuf_read(ib)) > 0)
		;
	if (n == 0 || (n == -1 && errno != EAGAIN))
		abort();
	while ((rc = imsg_get(ib, &imsg)) == 1) {
		got++;
		for (i = 0; i < naborted; i++)
			if (aborted_ids[i] == imsg.hdr.id)
				fail("an answer to an aborted exchange");
		if (imsg.hdr.id != xid || answered)
			fail("an answer nobody waits for");
		msg_reader_init(&r, &imsg);
		ans_type = imsg.hdr.type;
		if (imsg.hdr.type == IMSG_AUTH_SASL_CHALLENGE) {
			(void)msg_get_data(&r, &p, &len);
		} else if (imsg.hdr.type == IMSG_AUTH_SASL_RESULT) {
			(void)msg_get_u32(&r, &ans_res);
			(void)msg_get_str(&r, ans_user, sizeof(ans_user));
			(void)msg_get_str(&r, text, sizeof(text));
			(void)msg_get_str(&r, ans_token, sizeof(ans_token));
		} else
			fail("authd answered with something else");
		if (msg_end(&r) == -1)
			fail("a malformed answer");
		answered = 1;
		imsg_free(&imsg);
	}
	if (rc == -1)
		abort();
	return got;
}

/* Run authd until the exchange is answered, or nothing moves. */
static void
pump(struct imsgbuf *ib, int want)
{
	unsigned	 turns = 0, quiet = 0;
	int		 flags;

	while (quiet < 4) {
		if (want && answered)
			return;
		/* A worker is busy: wait for its wake-up, not in a spin. */
		flags = workq_pending() > 0 ? EVLOOP_ONCE : EVLOOP_NONBLOCK;
		(void)event_base_loop(osms_evbase, flags);
		if (take_answers(ib) > 0 || workq_pending() > 0 ||
		    event_base_get_num_events(osms_evbase,
		    EVENT_BASE_COUNT_ACTIVE) > 0)
			quiet = 0;
		else
			quiet++;
		if (++turns > MAX_TURNS)
			fail("authd never rests");
	}
	if (want && !answered)
		fail("an exchange without an answer");
}

static void
send_msg(struct imsgbuf *ib, struct msg *m)
{
	if (imsg_compose(ib, m->type, m->id, -1, m->buf, m->len) == -1 ||
	    imsgbuf_flush(ib) == -1)
		abort();
}

/* user, canonical as authd makes it: an address, lower case. */
static int
canon(const char *in, size_t len, char *out, size_t size)
{
	struct mailaddr	 a;
	const char	*err;
	char		 buf[ADDR_MAX_TEXT];
	size_t		 i;

	if (len == 0 || len >= sizeof(buf) || memchr(in, '\0', len) != NULL)
		return -1;
	memcpy(buf, in, len);
	buf[len] = '\0';
	if (addr_parse_mailbox(buf, ADDR_UTF8, &a, &err) == -1 ||
	    addr_format(&a, out, size) == -1)
		return -1;
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
}

static const struct user *
find_user(const char *address)
{
	size_t	 i;

	for (i = 0; i < nitems(users); i++)
		if (strcmp(users[i].address, address) == 0)
			return &users[i];
	return NULL;
}

/* Did these responses carry user's password? */
static int
proved(const char *mech, const uint8_t *const *resp, const size_t *rlen,
    size_t nresp, const struct user *u)
{
	const uint8_t	*p, *n1, *n2;
	char		 c1[ADDR_MAX_TEXT], c2[ADDR_MAX_TEXT];
	size_t		 len;

	if (strcasecmp(mech, "PLAIN") == 0) {
		if (nresp < 1)
			return 0;
		p = resp[nresp - 1];
		len = rlen[nresp - 1];
		if ((n1 = memchr(p, '\0', len)) == NULL ||
		    (n2 = memchr(n1 + 1, '\0', len - (size_t)(n1 + 1 -
		    p))) == NULL)
			return 0;
		if (canon((const char *)n1 + 1, (size_t)(n2 - n1 - 1), c1,
		    sizeof(c1)) == -1 || strcmp(c1, u->address) != 0)
			return 0;
		if (n1 > p && (canon((const char *)p, (size_t)(n1 - p), c2,
		    sizeof(c2)) == -1 || strcmp(c2, u->address) != 0))
			return 0;
		len -= (size_t)(n2 + 1 - p);
		return len == strlen(u->password) &&
		    memcmp(n2 + 1, u->password, len) == 0;
	}
	if (strcasecmp(mech, "LOGIN") == 0) {
		if (nresp < 2 || canon((const char *)resp[nresp - 2],
		    rlen[nresp - 2], c1, sizeof(c1)) == -1 ||
		    strcmp(c1, u->address) != 0)
			return 0;
		return rlen[nresp - 1] == strlen(u->password) &&
		    memcmp(resp[nresp - 1], u->password, rlen[nresp - 1]) == 0;
	}
	return 0;	/* SCRAM: nobody here knows how to prove it */
}

/*
 * The exchange may have succeeded before the input's last response was
 * sent (the rest is ignored): any of the responses up to it may prove.
 */
static int
proved_any(const char *mech, const uint8_t *const *resp, const size_t *rlen,
    size_t nresp, const struct user *u)
{
	size_t	 n;

	for (n = nresp; n > 0; n--)
		if (proved(mech, resp, rlen, n, u))
			return 1;
	return 0;
}

static void
check_result(const char *mech, unsigned service, enum osms_role role,
    const uint8_t *const *resp, const size_t *rlen, size_t nresp)
{
	const struct user	*u;

	if (ans_res != AUTH_OK) {
		if (ans_user[0] != '\0' || ans_token[0] != '\0')
			fail("a failure names a user or carries a token");
		return;
	}
	if ((u = find_user(ans_user)) == NULL)
		fail("success for a user not in the directory");
	if (!(u->services & service))
		fail("success for a service the user does not have");
	if (!proved_any(mech, resp, rlen, nresp, u))
		fail("success without the user's password");
	if ((role == ROLE_IMAPD) != (ans_token[0] != '\0'))
		fail("a token where none belongs, or none where one does");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t	 i;
	int	 sv[2];
	char	 raw[64], salt[8];
	unsigned char dig[32];

	(void)argc;
	(void)argv;
	if (getenv("FUZZ_LOG") != NULL) {
		log_init(1, LOG_DAEMON);
		log_setverbose(LOG_TRACE);
	} else
		log_init(0, LOG_DAEMON);
	if ((osms_evbase = event_base_new()) == NULL)
		abort();
	(void)osms_strlcpy(pconf.hostname, "mx.fuzz.test",
	    sizeof(pconf.hostname));
	/* {SSHA256}: quick to check, so a fuzzer can try thousands. */
	for (i = 0; i < nitems(users); i++) {
		arc4random_buf(salt, sizeof(salt));
		{
			EVP_MD_CTX	*ctx = EVP_MD_CTX_new();

			if (ctx == NULL ||
			    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
			    EVP_DigestUpdate(ctx, users[i].password,
			    strlen(users[i].password)) != 1 ||
			    EVP_DigestUpdate(ctx, salt, sizeof(salt)) != 1 ||
			    EVP_DigestFinal_ex(ctx, dig, NULL) != 1)
				abort();
			EVP_MD_CTX_free(ctx);
		}
		memcpy(raw, dig, 32);
		memcpy(raw + 32, salt, sizeof(salt));
		memcpy(users[i].hash, "{SSHA256}", 9);
		(void)EVP_EncodeBlock((unsigned char *)users[i].hash + 9,
		    (unsigned char *)raw, 32 + sizeof(salt));
		if (pwhash_verify(users[i].hash, users[i].password,
		    strlen(users[i].password)) != 1)
			abort();
		if (i == 0 && pwhash_scram(users[i].password,
		    strlen(users[i].password), users[i].scram,
		    sizeof(users[i].scram)) == -1)
			abort();
	}
	/* The dummy check of an unknown user is now as quick. */
	authd_sasl_init();
	workq_init(1);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1)
		abort();
	channel_init(&from_smtpd, sv[0], ROLE_AUTHD, ROLE_SMTPD, 0,
	    authd_dispatch, authd_closed, NULL);
	imsgbuf_init(&smtpd_ib, sv[1]);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1)
		abort();
	channel_init(&from_imapd, sv[0], ROLE_AUTHD, ROLE_IMAPD, 0,
	    authd_dispatch, authd_closed, NULL);
	imsgbuf_init(&imapd_ib, sv[1]);
	peers[ROLE_SMTPD] = &from_smtpd;
	peers[ROLE_IMAPD] = &from_imapd;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t	 ids;
	struct imsgbuf	*ib;
	struct msg	 m;
	const uint8_t	*seg[64], *sep;
	const uint8_t	*resp[64];
	size_t		 seglen[64], rlen[64], nseg = 0, i, nresp = 0, off;
	unsigned	 service, steps = 0;
	enum osms_role	 role;
	char		 mech[32] = "";
	int		 initial, open = 0;

	if (size == 0)
		return 0;
	switch (data[0] & 3) {
	case 1:
		service = AUTH_SERVICE_IMAP;
		role = ROLE_IMAPD;
		break;
	case 2:
		service = AUTH_SERVICE_POP3;
		role = ROLE_IMAPD;
		break;
	default:
		service = AUTH_SERVICE_SMTP;
		role = ROLE_SMTPD;
		break;
	}
	ib = role == ROLE_SMTPD ? &smtpd_ib : &imapd_ib;
	initial = (data[0] & 4) != 0;
	for (off = 1; off < size && nseg < nitems(seg); ) {
		sep = memchr(data + off, SEP, size - off);
		seg[nseg] = data + off;
		seglen[nseg] = sep != NULL ? (size_t)(sep - (data + off)) :
		    size - off;
		off += seglen[nseg++] + 1;
	}
	naborted = 0;

	for (i = 0; i < nseg; ) {
		if (!open) {
			/* A new exchange: mechanism, initial response. */
			if (seglen[i] >= sizeof(mech) || seglen[i] == 0 ||
			    memchr(seg[i], '\0', seglen[i]) != NULL)
				break;
			memcpy(mech, seg[i], seglen[i]);
			mech[seglen[i++]] = '\0';
			xid = ++ids;
			nresp = steps = 0;
			msg_init(&m, IMSG_AUTH_SASL_START, xid);
			msg_add_str(&m, mech);
			msg_add_str(&m, role == ROLE_SMTPD ? "192.0.2.7" :
			    "2001:db8::7");
			msg_add_u32(&m, service);
			msg_add_u32(&m, initial && i < nseg);
			if (initial && i < nseg) {
				msg_add_data(&m, seg[i], seglen[i]);
				resp[nresp] = seg[i];
				rlen[nresp++] = seglen[i++];
			} else
				msg_add_data(&m, "", 0);
			open = 1;
		} else if (seglen[i] == 1 && seg[i][0] == '*') {
			/* The client cancels. */
			msg_init(&m, IMSG_AUTH_SASL_ABORT, xid);
			send_msg(ib, &m);
			if (naborted < nitems(aborted_ids))
				aborted_ids[naborted++] = xid;
			open = 0;
			i++;
			continue;
		} else {
			msg_init(&m, IMSG_AUTH_SASL_STEP, xid);
			msg_add_data(&m, seg[i], seglen[i]);
			resp[nresp] = seg[i];
			rlen[nresp++] = seglen[i++];
		}
		answered = 0;
		ans_user[0] = ans_token[0] = '\0';
		send_msg(ib, &m);
		pump(ib, 1);
		if (ans_type == IMSG_AUTH_SASL_CHALLENGE) {
			if (++steps > MAX_STEPS)
				fail("more challenges than SASL_MAX_STEPS");
			continue;
		}
		check_result(mech, service, role, resp, rlen, nresp);
		open = 0;
	}
	if (open) {
		/* The client leaves in the middle. */
		msg_init(&m, IMSG_AUTH_SASL_ABORT, xid);
		send_msg(ib, &m);
		if (naborted < nitems(aborted_ids))
			aborted_ids[naborted++] = xid;
	}
	answered = 1;	/* nothing more may come */
	pump(ib, 0);
	if (dir.refs != 0)
		fail("an exchange kept the directory");
	return 0;
}
