/*
 * SASL for smtpd (and imapd later), with Cyrus libsasl2 on the server
 * side. The network role relays the client's decoded responses; libsasl2
 * runs the mechanism here, where the password hashes are, and only the
 * outcome and the user name go back.
 *
 * Mechanisms: SCRAM-SHA-256 for users with a stored SCRAM secret, PLAIN
 * and LOGIN (the network role offers AUTH only over TLS). Nothing that
 * needs a cleartext secret on the server (CRAM-MD5, DIGEST-MD5).
 *
 * libsasl2 reaches the directory through two callbacks: the userdb
 * checkpass callback verifies a PLAIN or LOGIN password against the
 * stored hash, and an in-process auxprop plugin hands SCRAM its stored
 * secret. Both run inside sasl_server_start/step, which run on worker
 * threads (a slow hash or database never stops the event loop); the
 * exchange being served is thread-local there.
 *
 * Failures are slowed down per client address and per account
 * (ratelimit.c), the delay counted from the request, so that when a
 * failure is answered does not tell how long its hash took; past a
 * limit a client address is refused for a while.
 * An account is never locked: that would let anyone lock out its owner.
 * Each failure is logged as one line a tool like fail2ban can match.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "authd.h"
#include "dir.h"
#include "idmap.h"
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

#define SASL_MAX_EXCHANGES	4096
#define SASL_MAX_STEPS		8	/* a mechanism needs at most 3 */
#define INVALID_USER		"<invalid>"	/* not an address */

struct exchange {
	uint64_t		 id;		/* the session's */
	enum osms_role		 from;
	sasl_conn_t		*conn;
	struct directory	*dir;		/* held while a job runs */
	char			 client[64];
	char			 mech[32];
	unsigned		 service;	/* AUTH_SERVICE_SMTP ... */
	int			 busy;
	int			 aborted;
	int			 steps;
	struct timespec		 began;		/* the step's start */
	struct event		 delay;		/* a failure's answer waits */

	/* the job's input and output */
	int			 starting;
	unsigned char		*in;
	unsigned		 inlen;
	unsigned char		*out;
	unsigned		 outlen;
	int			 rc;
	int			 tempfail;

	/* the user, as the callbacks found it */
	char			 user[ADDR_MAX_TEXT];	/* tried or logged in */
	int			 looked_up;
	int			 found;
	struct userent		 u;
};

static struct idmap			 exchanges;
static _Thread_local struct exchange	*cur;
static unsigned char			 fake_secret[32];
static unsigned long			 nok, nfailed;

static void	 exchange_free(struct exchange *);

/*
 * libsasl2 callbacks (on worker threads).
 */

static void *
mutex_alloc(void)
{
	pthread_mutex_t	*m = malloc(sizeof(*m));

	if (m != NULL && pthread_mutex_init(m, NULL) != 0) {
		free(m);
		m = NULL;
	}
	return m;
}

static int
mutex_lock(void *m)
{
	return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static int
mutex_unlock(void *m)
{
	return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static void
mutex_free(void *m)
{
	(void)pthread_mutex_destroy(m);
	free(m);
}

static int
cb_getopt(void *context, const char *plugin, const char *option,
    const char **result, unsigned *len)
{
	(void)context;
	(void)plugin;
	*result = NULL;
	if (strcmp(option, "mech_list") == 0)
		*result = AUTHD_SASL_MECHS;
	else if (strcmp(option, "auxprop_plugin") == 0)
		*result = "osms";
	else if (strcmp(option, "pwcheck_method") == 0)
		*result = "auxprop";
	if (*result == NULL)
		return SASL_FAIL;
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static int
cb_log(void *context, int level, const char *message)
{
	(void)context;
	if (level <= SASL_LOG_ERR)
		log_warnx("sasl: %s", message);
	else if (level <= SASL_LOG_NOTE)
		log_debug("sasl: %s", message);
	return SASL_OK;
}

/* Look the user up once per exchange; 0 found, -1 not, -2 tempfail. */
static int
exchange_user(struct exchange *x, const char *user)
{
	enum table_found	 f;

	if (x->looked_up && strcmp(x->user, user) == 0)
		return x->found ? 0 : -1;
	(void)osms_strlcpy(x->user, user, sizeof(x->user));
	x->looked_up = 1;
	x->found = 0;
	f = dir_user(x->dir, user, &x->u);
	if (f == TABLE_TEMPFAIL) {
		x->tempfail = 1;
		x->looked_up = 0;
		return -2;
	}
	x->found = f == TABLE_FOUND;
	return x->found ? 0 : -1;
}

/*
 * Users are addresses, in lower case. A name that is no address is no
 * user's, but it is not refused here: libsasl2's LOGIN then leaks the
 * password it holds (found by fuzz_sasl). It becomes INVALID_USER, which
 * no address can be, and fails at the password like an unknown user.
 */
static int
cb_canon_user(sasl_conn_t *conn, void *context, const char *in,
    unsigned inlen, unsigned flags, const char *realm, char *out,
    unsigned out_max, unsigned *out_len)
{
	struct mailaddr	 a;
	const char	*errstr;
	char		 buf[ADDR_MAX_TEXT];
	unsigned	 i;

	(void)conn;
	(void)context;
	(void)flags;
	(void)realm;
	buf[0] = '\0';
	if (inlen > 0 && inlen < sizeof(buf) && memchr(in, '\0', inlen) ==
	    NULL) {
		memcpy(buf, in, inlen);
		buf[inlen] = '\0';
		if (addr_parse_mailbox(buf, ADDR_UTF8, &a, &errstr) == -1 ||
		    addr_format(&a, buf, sizeof(buf)) == -1)
			buf[0] = '\0';
	}
	if (buf[0] == '\0')
		(void)osms_strlcpy(buf, INVALID_USER, sizeof(buf));
	for (i = 0; buf[i]; i++)
		buf[i] = (char)tolower((unsigned char)buf[i]);
	if (strlen(buf) >= out_max)
		return SASL_BUFOVER;
	memcpy(out, buf, strlen(buf) + 1);
	*out_len = (unsigned)strlen(buf);
	if (cur != NULL && !cur->looked_up)
		(void)osms_strlcpy(cur->user, buf, sizeof(cur->user));
	return SASL_OK;
}

/* PLAIN and LOGIN: the password against the stored hash. */
static int
cb_checkpass(sasl_conn_t *conn, void *context, const char *user,
    const char *pass, unsigned passlen, struct propctx *propctx)
{
	struct exchange	*x = cur;
	int		 r;

	(void)conn;
	(void)context;
	(void)propctx;
	if (x == NULL)
		return SASL_FAIL;
	if ((r = exchange_user(x, user)) == -2)
		return SASL_UNAVAIL;
	if (r == -1 || x->u.password[0] == '\0') {
		/* As slow as a wrong password: existence does not show. */
		pwhash_dummy(pass, passlen);
		return SASL_BADAUTH;
	}
	switch (pwhash_verify(x->u.password, pass, passlen)) {
	case 1:
		return SASL_OK;
	case 0:
		return SASL_BADAUTH;
	default:
		if (pwhash_scheme(x->u.password) == NULL)
			log_warnx("authd: the password of %s is stored in a"
			    " scheme osms refuses (plaintext, DES or unknown);"
			    " set a new one", x->user);
		else if (pass != NULL && passlen <= PWHASH_MAX_PASSWORD &&
		    memchr(pass, '\0', passlen) == NULL)
			log_warnx("authd: the password hash of %s is malformed"
			    " or costs more than osms allows; set a new one",
			    x->user);
		pwhash_dummy(pass, passlen);
		return SASL_BADAUTH;
	}
}

/*
 * A SCRAM secret for a user that has none (or does not exist), the same
 * for the same name until authd restarts, so the salt says nothing about
 * whether the user exists; the exchange then fails at the proof.
 */
static void
fake_scram(const char *user, char *out, size_t size)
{
	unsigned char	 salt[32], keys[64];
	char		 b64salt[64], b64a[64], b64b[64];
	unsigned int	 len = sizeof(salt);

	(void)HMAC(EVP_sha256(), fake_secret, sizeof(fake_secret),
	    (const unsigned char *)user, strlen(user), salt, &len);
	arc4random_buf(keys, sizeof(keys));
	(void)EVP_EncodeBlock((unsigned char *)b64salt, salt, 16);
	(void)EVP_EncodeBlock((unsigned char *)b64a, keys, 32);
	(void)EVP_EncodeBlock((unsigned char *)b64b, keys + 32, 32);
	(void)snprintf(out, size, "SCRAM-SHA-256$4096:%s$%s:%s", b64salt,
	    b64a, b64b);
}

/* The auxprop plugin: SCRAM's stored secret, as "*authPassword". */
static int
auxprop_lookup(void *glob, sasl_server_params_t *sparams, unsigned flags,
    const char *user, unsigned ulen)
{
	const struct propval	*pv;
	struct exchange		*x = cur;
	char			 name[ADDR_MAX_TEXT], secret[PWHASH_MAX];
	int			 r;

	(void)glob;
	if (x == NULL || (flags & SASL_AUXPROP_AUTHZID) ||
	    ulen >= sizeof(name))
		return SASL_OK;
	memcpy(name, user, ulen);
	name[ulen] = '\0';
	for (pv = sparams->utils->prop_get(sparams->propctx);
	    pv != NULL && pv->name != NULL; pv++) {
		if (strcmp(pv->name, "*authPassword") != 0)
			continue;
		if ((r = exchange_user(x, name)) == -2)
			return SASL_UNAVAIL;
		if (r == 0 && x->u.scram[0] != '\0')
			(void)osms_strlcpy(secret, x->u.scram, sizeof(secret));
		else
			fake_scram(name, secret, sizeof(secret));
		(void)sparams->utils->prop_set(sparams->propctx, pv->name,
		    secret, (int)strlen(secret));
		explicit_wipe(secret, sizeof(secret));
	}
	return SASL_OK;
}

static int
auxprop_init(const sasl_utils_t *utils, int max_version, int *out_version,
    sasl_auxprop_plug_t **plug, const char *plugname)
{
	static sasl_auxprop_plug_t	 p;

	(void)utils;
	(void)plugname;
	if (max_version < SASL_AUXPROP_PLUG_VERSION)
		return SASL_BADVERS;
	memset(&p, 0, sizeof(p));
	p.auxprop_lookup = auxprop_lookup;
	p.name = "osms";
	*out_version = SASL_AUXPROP_PLUG_VERSION;
	*plug = &p;
	return SASL_OK;
}

static sasl_callback_t callbacks[] = {
	{ SASL_CB_GETOPT, (int (*)(void))(uintptr_t)cb_getopt, NULL },
	{ SASL_CB_LOG, (int (*)(void))(uintptr_t)cb_log, NULL },
	{ SASL_CB_CANON_USER, (int (*)(void))(uintptr_t)cb_canon_user, NULL },
	{ SASL_CB_SERVER_USERDB_CHECKPASS,
	    (int (*)(void))(uintptr_t)cb_checkpass, NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

void
authd_sasl_init(void)
{
	int	 rc;

	idmap_init(&exchanges);
	arc4random_buf(fake_secret, sizeof(fake_secret));
	sasl_set_mutex(mutex_alloc, mutex_lock, mutex_unlock, mutex_free);
	if ((rc = sasl_auxprop_add_plugin("osms", auxprop_init)) != SASL_OK)
		fatalx("sasl_auxprop_add_plugin: %s",
		    sasl_errstring(rc, NULL, NULL));
	/* Loads the mechanism plugins: before the sandbox. */
	if ((rc = sasl_server_init(callbacks, "osms")) != SASL_OK)
		fatalx("sasl_server_init: %s", sasl_errstring(rc, NULL, NULL));
}

/*
 * The exchanges (event loop).
 */

/* Whether mech is one of AUTHD_SASL_MECHS (names are case-blind). */
static int
mech_offered(const char *mech)
{
	const char	*p = AUTHD_SASL_MECHS, *end;
	size_t		 len = strlen(mech);

	while (*p != '\0') {
		if ((end = strchr(p, ' ')) == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) == len && strncasecmp(p, mech, len) == 0)
			return 1;
		p = *end == ' ' ? end + 1 : end;
	}
	return 0;
}

static void
step_work(void *arg)
{
	struct exchange		*x = arg;
	sasl_security_properties_t sec;
	const char		*out = NULL, *user = NULL;
	unsigned		 outlen = 0;
	sasl_ssf_t		 ssf = 256;

	cur = x;
	if (x->conn == NULL) {
		x->rc = sasl_server_new(
		    x->service == AUTH_SERVICE_SMTP ? "smtp" :
		    x->service == AUTH_SERVICE_POP3 ? "pop" : "imap",
		    proc_conf()->hostname, NULL, NULL, NULL, NULL, 0,
		    &x->conn);
		if (x->rc != SASL_OK)
			goto done;
		/* The network role serves AUTH only inside TLS. */
		memset(&sec, 0, sizeof(sec));
		sec.security_flags = SASL_SEC_NOANONYMOUS;
		sec.maxbufsize = 0;
		(void)sasl_setprop(x->conn, SASL_SEC_PROPS, &sec);
		(void)sasl_setprop(x->conn, SASL_SSF_EXTERNAL, &ssf);
	}
	/*
	 * Only the mechanisms offered: libsasl2 also takes "PLAIN-PLUS"
	 * and such for a mechanism that knows no channel binding.
	 */
	if (x->starting && !mech_offered(x->mech)) {
		x->rc = SASL_NOMECH;
		goto done;
	}
	if (x->starting)
		x->rc = sasl_server_start(x->conn, x->mech,
		    (const char *)x->in, x->inlen, &out, &outlen);
	else
		x->rc = sasl_server_step(x->conn, (const char *)x->in,
		    x->inlen, &out, &outlen);
	if (out != NULL && outlen > 0) {
		x->out = xmalloc(outlen);
		memcpy(x->out, out, outlen);
		x->outlen = outlen;
	}
	if (x->rc == SASL_OK && sasl_getprop(x->conn, SASL_USERNAME,
	    (const void **)&user) == SASL_OK && user != NULL)
		(void)osms_strlcpy(x->user, user, sizeof(x->user));
done:
	if (x->in != NULL) {
		explicit_wipe(x->in, x->inlen);
		free(x->in);
		x->in = NULL;
	}
	cur = NULL;
}

static void
result(struct exchange *x, enum auth_result res, const char *text)
{
	struct channel	*ch = proc_peer(x->from);
	struct msg	 m;
	char		 token[TOKEN_LEN + 1];

	if (ch == NULL)
		return;
	token[0] = '\0';
	/* An IMAP or POP3 login: the parent redeems the token for the
	 * user's session. */
	if (res == AUTH_OK && x->from == ROLE_IMAPD &&
	    (x->service == AUTH_SERVICE_IMAP || x->service ==
	    AUTH_SERVICE_POP3))
		token_issue(&x->u, x->service, token);
	msg_init(&m, IMSG_AUTH_SASL_RESULT, x->id);
	msg_add_u32(&m, res);
	msg_add_str(&m, res == AUTH_OK ? x->user : "");
	msg_add_str(&m, text);
	msg_add_str(&m, token);
	(void)channel_send(ch, &m);
	explicit_wipe(m.buf, m.len);
	explicit_wipe(token, sizeof(token));
}

static void
failure_answer(evutil_socket_t fd, short ev, void *arg)
{
	struct exchange	*x = arg;
	char		 ipkey[80];

	(void)fd;
	(void)ev;
	x->busy = 0;
	client_rate_key(x->client, ipkey, sizeof(ipkey));
	if (rl_blocked(ipkey, time(NULL)))
		result(x, AUTH_THROTTLED, "too many failed authentications");
	else
		result(x, AUTH_FAIL, "authentication failed");
	exchange_free(x);
}

/* Milliseconds since t, on the monotonic clock. */
static unsigned
ms_since(const struct timespec *t)
{
	struct timespec	 now;
	long long	 ms;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > UINT_MAX ? UINT_MAX : (unsigned)ms;
}

static void
step_done(void *arg)
{
	struct exchange	*x = arg;
	struct channel	*ch;
	struct msg	 m;
	struct timeval	 tv;
	char		 ipkey[80], userkey[ADDR_MAX_TEXT + 8];
	unsigned	 d1, d2, spent;
	time_t		 now = time(NULL);

	x->busy = 0;
	dir_unref(x->dir);
	x->dir = NULL;
	if (x->aborted) {
		exchange_free(x);
		return;
	}
	if (x->rc == SASL_CONTINUE && x->steps < SASL_MAX_STEPS) {
		if ((ch = proc_peer(x->from)) == NULL) {
			exchange_free(x);
			return;
		}
		msg_init(&m, IMSG_AUTH_SASL_CHALLENGE, x->id);
		msg_add_data(&m, x->out, x->outlen);
		free(x->out);
		x->out = NULL;
		(void)channel_send(ch, &m);
		return;
	}
	free(x->out);
	x->out = NULL;
	client_rate_key(x->client, ipkey, sizeof(ipkey));
	(void)snprintf(userkey, sizeof(userkey), "user:%s", x->user);
	if (x->rc == SASL_OK && x->found && (x->u.services & x->service)) {
		nok++;
		rl_success(userkey);
		log_info("authd: auth ok client=%s user=<%s> mech=%s",
		    x->client, x->user, x->mech);
		result(x, AUTH_OK, "");
		exchange_free(x);
		return;
	}
	if (x->tempfail || x->rc == SASL_UNAVAIL || x->rc == SASL_TRYAGAIN) {
		log_warnx("authd: auth tempfail client=%s user=<%s> mech=%s:"
		    " the directory cannot answer", x->client, x->user,
		    x->mech);
		result(x, AUTH_TEMPFAIL, "the directory cannot answer now");
		exchange_free(x);
		return;
	}
	/* A failure: slower and slower, per address and per account. */
	nfailed++;
	d1 = rl_failure(ipkey, now);
	d2 = x->user[0] ? rl_failure(userkey, now) : 0;
	log_warnx("authd: auth failed client=%s user=<%s> mech=%s"
	    " failures=%u%s", x->client, x->user[0] ? x->user : "-", x->mech,
	    rl_failures(ipkey, now), x->rc == SASL_OK ? " (service"
	    " disabled)" : "");
	if (d2 > d1)
		d1 = d2;
	/*
	 * The delay counts from the step's start, not its end: the hash it
	 * spent (the user's own scheme, or the dummy for a user that does
	 * not exist) does not show in when the failure is answered
	 * (SECURITY.md H3), as long as it took less than the delay.
	 */
	spent = ms_since(&x->began);
	d1 = spent < d1 ? d1 - spent : 0;
	tv.tv_sec = d1 / 1000;
	tv.tv_usec = (d1 % 1000) * 1000;
	x->busy = 1;		/* until the delayed answer */
	evtimer_assign(&x->delay, osms_evbase, failure_answer, x);
	evtimer_add(&x->delay, &tv);
}

static void
exchange_free(struct exchange *x)
{
	if (x->busy && !x->aborted)
		return;
	(void)idmap_del(&exchanges, x->id);
	if (event_initialized(&x->delay))
		(void)evtimer_del(&x->delay);
	if (x->conn != NULL)
		sasl_dispose(&x->conn);
	if (x->dir != NULL)
		dir_unref(x->dir);
	free(x->in);
	free(x->out);
	explicit_wipe(&x->u, sizeof(x->u));
	free(x);
}

static void
run(struct exchange *x, const void *in, size_t inlen)
{
	x->busy = 1;
	x->steps++;
	(void)clock_gettime(CLOCK_MONOTONIC, &x->began);
	x->in = NULL;
	x->inlen = (unsigned)inlen;
	if (in != NULL) {
		x->in = xmalloc(inlen > 0 ? inlen : 1);
		memcpy(x->in, in, inlen);
	}
	x->dir = authd_directory();
	dir_ref(x->dir);
	workq_push(step_work, step_done, x);
}

void
authd_sasl_start(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct exchange		*x;
	const void		*in;
	size_t			 inlen;
	uint32_t		 service, has_initial;
	char			 mech[32], client[64], ipkey[80];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, mech, sizeof(mech));
	(void)msg_get_str(&r, client, sizeof(client));
	(void)msg_get_u32(&r, &service);
	(void)msg_get_u32(&r, &has_initial);
	(void)msg_get_data(&r, &in, &inlen);
	if (msg_end(&r) == -1 || (service & ~(unsigned)AUTH_SERVICE_ALL) != 0 ||
	    idmap_get(&exchanges, imsg->hdr.id) != NULL) {
		channel_bad_message(ch, imsg, "bad SASL start");
		return;
	}
	x = xcalloc(1, sizeof(*x));
	x->id = imsg->hdr.id;
	x->from = ch->remote;
	x->service = service;
	(void)osms_strlcpy(x->mech, mech, sizeof(x->mech));
	(void)osms_strlcpy(x->client, client, sizeof(x->client));
	(void)idmap_put(&exchanges, x->id, x);
	client_rate_key(client, ipkey, sizeof(ipkey));
	if (exchanges.count > SASL_MAX_EXCHANGES ||
	    rl_blocked(ipkey, time(NULL))) {
		log_warnx("authd: auth throttled client=%s mech=%s", client,
		    mech);
		result(x, AUTH_THROTTLED, "too many failed authentications");
		exchange_free(x);
		return;
	}
	x->starting = 1;
	/* No initial response is not the same as an empty one. */
	run(x, has_initial ? in : NULL, has_initial ? inlen : 0);
}

void
authd_sasl_step(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct exchange		*x;
	const void		*in;
	size_t			 inlen;

	msg_reader_init(&r, imsg);
	(void)msg_get_data(&r, &in, &inlen);
	if (msg_end(&r) == -1) {
		channel_bad_message(ch, imsg, "bad SASL step");
		return;
	}
	if ((x = idmap_get(&exchanges, imsg->hdr.id)) == NULL ||
	    x->from != ch->remote || x->busy)
		return;		/* an old or aborted exchange */
	x->starting = 0;
	run(x, in, inlen);
}

void
authd_sasl_abort(struct channel *ch, struct imsg *imsg)
{
	struct exchange	*x;

	if ((x = idmap_get(&exchanges, imsg->hdr.id)) == NULL ||
	    x->from != ch->remote)
		return;
	x->aborted = 1;
	if (!x->busy || event_initialized(&x->delay))
		exchange_free(x);
}

void
authd_sasl_peer_down(enum osms_role role)
{
	struct exchange	**all, *x;
	uint64_t	 id;
	size_t		 i, n = 0;

	if (exchanges.count == 0)
		return;
	/* Take them all out, put them back, then end that peer's. */
	all = xcalloc(exchanges.count, sizeof(struct exchange *));
	while ((x = idmap_any(&exchanges, &id)) != NULL) {
		(void)idmap_del(&exchanges, id);
		all[n++] = x;
	}
	for (i = 0; i < n; i++)
		(void)idmap_put(&exchanges, all[i]->id, all[i]);
	for (i = 0; i < n; i++) {
		x = all[i];
		if (x->from != role)
			continue;
		/* A running job ends alone and frees it then. */
		x->aborted = 1;
		if (!x->busy || event_initialized(&x->delay))
			exchange_free(x);
	}
	free(all);
}

void
authd_sasl_state(unsigned long *ok, unsigned long *failed)
{
	*ok = nok;
	*failed = nfailed;
}
