/*
 * authd's SASL exchanges (authd/sasl.c) with the real libsasl2 PLAIN and
 * LOGIN, as a network role sees them over a channel: who logs in, what
 * is refused, and that libsasl2 keeps nothing of a failed exchange. The
 * directory, the rate limits (no delay) and the login tokens are the
 * stand-ins of sasl_stubs.h.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sasl/sasl.h>
#include <openssl/evp.h>

#include "authd.h"
#include "channel.h"
#include "dir.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "pwhash.h"
#include "ratelimit.h"
#include "sasl.h"
#include "test.h"
#include "token.h"
#include "util.h"
#include "workq.h"

#include "sasl_stubs.h"

static struct channel	 authd_end;	/* authd's, from "smtpd" */
static struct imsgbuf	 net;		/* the network role's */
static long		 sasl_blocks;	/* libsasl2's, not freed yet */
static uint64_t		 ids;

/* libsasl2's allocations, counted (its plugins allocate through them). */
static void *
count_malloc(size_t n)
{
	void	*p = malloc(n);

	if (p != NULL)
		__atomic_add_fetch(&sasl_blocks, 1, __ATOMIC_RELAXED);
	return p;
}

static void *
count_calloc(size_t n, size_t size)
{
	void	*p = calloc(n, size);

	if (p != NULL)
		__atomic_add_fetch(&sasl_blocks, 1, __ATOMIC_RELAXED);
	return p;
}

static void *
count_realloc(void *old, size_t n)
{
	void	*p = realloc(old, n);

	if (old == NULL && p != NULL)
		__atomic_add_fetch(&sasl_blocks, 1, __ATOMIC_RELAXED);
	return p;
}

static void
count_free(void *p)
{
	if (p != NULL)
		__atomic_sub_fetch(&sasl_blocks, 1, __ATOMIC_RELAXED);
	free(p);
}

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
	default:
		authd_sasl_abort(ch, imsg);
		break;
	}
}

static void
authd_closed(struct channel *ch)
{
	(void)ch;
	test_assert(!"authd closed the channel");
}

/* {SSHA256}: the stored hashes, quick to check. */
static void
make_hash(struct user *u)
{
	unsigned char	 raw[40];
	unsigned int	 n;
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();

	arc4random_buf(raw + 32, 8);
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, u->password, strlen(u->password)) != 1 ||
	    EVP_DigestUpdate(ctx, raw + 32, 8) != 1 ||
	    EVP_DigestFinal_ex(ctx, raw, &n) != 1 || n != 32)
		abort();
	EVP_MD_CTX_free(ctx);
	memcpy(u->hash, "{SSHA256}", 9);
	(void)EVP_EncodeBlock((unsigned char *)u->hash + 9, raw, sizeof(raw));
}

static void
setup(void)
{
	int	 sv[2];
	size_t	 i;

	if ((osms_evbase = event_base_new()) == NULL)
		abort();
	(void)osms_strlcpy(pconf.hostname, "mx.test", sizeof(pconf.hostname));
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		make_hash(&users[i]);
	/* An unknown user's dummy check takes after the last real one. */
	(void)pwhash_verify(users[0].hash, "x", 1);
	sasl_set_alloc(count_malloc, count_calloc, count_realloc, count_free);
	authd_sasl_init();
	workq_init(1);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1)
		abort();
	channel_init(&authd_end, sv[0], ROLE_AUTHD, ROLE_SMTPD, 0,
	    authd_dispatch, authd_closed, NULL);
	imsgbuf_init(&net, sv[1]);
	peers[ROLE_SMTPD] = &authd_end;
}

struct answer {
	uint32_t	 type;
	uint32_t	 res;
	char		 user[256];
	char		 data[256];	/* a challenge */
	size_t		 len;
};

/* Send m, run authd until its answer comes (or 10 s pass). */
static int
ask(struct msg *m, struct answer *a)
{
	struct msg_reader	 r;
	struct imsg		 imsg;
	const void		*p;
	char			 text[256], token[64];
	double			 end = test_now() + 10;
	ssize_t			 n;
	int			 got;

	memset(a, 0, sizeof(*a));
	if (imsg_compose(&net, m->type, m->id, -1, m->buf, m->len) == -1 ||
	    imsgbuf_flush(&net) == -1)
		return -1;
	while (test_now() < end) {
		(void)event_base_loop(osms_evbase, workq_pending() > 0 ?
		    EVLOOP_ONCE : EVLOOP_NONBLOCK);
		while ((n = imsgbuf_read(&net)) > 0)
			;
		if ((got = imsg_get(&net, &imsg)) == -1)
			return -1;
		if (got == 0)
			continue;
		msg_reader_init(&r, &imsg);
		a->type = imsg.hdr.type;
		if (a->type == IMSG_AUTH_SASL_CHALLENGE) {
			(void)msg_get_data(&r, &p, &a->len);
			if (a->len < sizeof(a->data))
				memcpy(a->data, p, a->len);
		} else {
			(void)msg_get_u32(&r, &a->res);
			(void)msg_get_str(&r, a->user, sizeof(a->user));
			(void)msg_get_str(&r, text, sizeof(text));
			(void)msg_get_str(&r, token, sizeof(token));
		}
		got = msg_end(&r) == 0 && imsg.hdr.id == m->id ? 0 : -1;
		imsg_free(&imsg);
		return got;
	}
	return -1;
}

static int
start(const char *mech, unsigned service, const void *ir, size_t len,
    struct answer *a)
{
	struct msg	 m;

	msg_init(&m, IMSG_AUTH_SASL_START, ++ids);
	msg_add_str(&m, mech);
	msg_add_str(&m, "192.0.2.9");
	msg_add_u32(&m, service);
	msg_add_u32(&m, ir != NULL);
	msg_add_data(&m, ir != NULL ? ir : "", len);
	return ask(&m, a);
}

static int
step(const void *p, size_t len, struct answer *a)
{
	struct msg	 m;

	msg_init(&m, IMSG_AUTH_SASL_STEP, ids);
	msg_add_data(&m, p, len);
	return ask(&m, a);
}

/* PLAIN with an initial response: the result. */
static uint32_t
plain(const char *authz, const char *authc, const char *pass,
    unsigned service, char *user, size_t size)
{
	struct answer	 a;
	char		 buf[256];
	size_t		 n;

	n = (size_t)snprintf(buf, sizeof(buf), "%s%c%s%c%s", authz, 0, authc,
	    0, pass);
	if (start("PLAIN", service, buf, n, &a) == -1 ||
	    a.type != IMSG_AUTH_SASL_RESULT)
		return 999;
	if (user != NULL)
		(void)osms_strlcpy(user, a.user, size);
	return a.res;
}

/* LOGIN in its two steps: the result. */
static uint32_t
login(const char *user, const char *pass)
{
	struct answer	 a;

	if (start("LOGIN", AUTH_SERVICE_SMTP, NULL, 0, &a) == -1 ||
	    a.type != IMSG_AUTH_SASL_CHALLENGE ||
	    step(user, strlen(user), &a) == -1 ||
	    a.type != IMSG_AUTH_SASL_CHALLENGE ||
	    step(pass, strlen(pass), &a) == -1 ||
	    a.type != IMSG_AUTH_SASL_RESULT)
		return 999;
	return a.res;
}

static void
test_login(void)
{
	char	 user[256];

	test_begin("sasl: PLAIN and LOGIN log alice in, and say it is her");
	test_assert(plain("", "alice@example.test", "secret",
	    AUTH_SERVICE_SMTP, user, sizeof(user)) == AUTH_OK);
	test_assert(strcmp(user, "alice@example.test") == 0);
	test_assert(plain("", "Alice@Example.TEST", "secret",
	    AUTH_SERVICE_IMAP, user, sizeof(user)) == AUTH_OK);
	test_assert(strcmp(user, "alice@example.test") == 0);
	test_assert(plain("alice@example.test", "alice@example.test",
	    "secret", AUTH_SERVICE_POP3, NULL, 0) == AUTH_OK);
	test_assert(login("alice@example.test", "secret") == AUTH_OK);
	test_end();
}

static void
test_refused(void)
{
	char	 user[256];

	test_begin("sasl: another user's authzid, a wrong password, a service"
	    " the user lacks, an unknown user: refused");
	test_assert(plain("bob@example.test", "alice@example.test", "secret",
	    AUTH_SERVICE_SMTP, user, sizeof(user)) == AUTH_FAIL);
	test_assert(user[0] == '\0');
	test_assert(plain("", "alice@example.test", "secre",
	    AUTH_SERVICE_SMTP, NULL, 0) == AUTH_FAIL);
	test_assert(plain("", "bob@example.test", "bobpw",
	    AUTH_SERVICE_IMAP, NULL, 0) == AUTH_FAIL);
	test_assert(plain("", "bob@example.test", "bobpw",
	    AUTH_SERVICE_SMTP, NULL, 0) == AUTH_OK);
	test_assert(plain("", "nobody@example.test", "x",
	    AUTH_SERVICE_SMTP, NULL, 0) == AUTH_FAIL);
	test_assert(login("alice@example.test", "bobpw") == AUTH_FAIL);
	test_end();
}

static void
test_not_an_address(void)
{
	long	 before;
	int	 i;

	test_begin("sasl: a name that is no address fails like an unknown"
	    " user, and libsasl2 keeps nothing of it (its LOGIN leaked the"
	    " password; fuzz_sasl)");
	(void)login("alice@example.test", "secret");	/* warm */
	before = __atomic_load_n(&sasl_blocks, __ATOMIC_RELAXED);
	for (i = 0; i < 5; i++)
		test_assert(login("x", "the password") == AUTH_FAIL);
	test_assert(login("", "the password") == AUTH_FAIL);
	test_assert(plain("", "not an address", "x", AUTH_SERVICE_SMTP,
	    NULL, 0) == AUTH_FAIL);
	test_assert(plain("<invalid>", "alice@example.test", "secret",
	    AUTH_SERVICE_SMTP, NULL, 0) == AUTH_FAIL);
	test_assert(__atomic_load_n(&sasl_blocks, __ATOMIC_RELAXED) ==
	    before);
	test_assert(dir.refs == 0);
	test_end();
}

int
main(void)
{
	setup();
	test_login();
	test_refused();
	test_not_an_address();
	return test_exit();
}
