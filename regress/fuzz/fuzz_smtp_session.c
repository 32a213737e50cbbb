/*
 * libFuzzer target (SECURITY.md F2): a client's byte stream into the real
 * SMTP server session (smtpd/smtp_session.c) over a socketpair, with real
 * TLS after STARTTLS or on an implicit-TLS listener (session_harness.h).
 * This program is the queue (each message a memfd), authd (recipients,
 * senders, SASL), checkd (greylisting, DNS lists) and, in place of
 * smtp_check.c, the content checks; answers come a turn of the loop
 * later.
 *
 * Oracles:
 * - each commit is answered "250 2.0.0 Ok: queued as ID", in order, and
 *   each such reply has its commit: messages committed = ends of data
 *   accepted;
 * - a message sent with DATA is stored as the Received field and the
 *   client's text from the 354 to its first CRLF "." CRLF, dot-unstuffed,
 *   and only if that text holds no bare CR or LF, no NUL, no line over
 *   max-line-length: no end-of-data trick ends a message early, late, or
 *   smuggles a second one (B1); by BDAT too, nothing bare is stored;
 * - the stored size is the envelope's; no message is aborted after its
 *   commit; every message smtpd sends the other roles fits the catalogue;
 * - after 221, 421 or a reply that closes, the server says nothing more;
 *   after its go ahead to STARTTLS its next byte is TLS (C1);
 * - the session ends once its client has left, and leaks no descriptor.
 *
 * Settings (the first byte):
 *	bits 0-1	0 MX with STARTTLS, 1 submission (STARTTLS required,
 *			AUTH), 2 submission on implicit TLS, 3 MX without TLS
 *	bit 2		the checks answer at once, inside the end of data
 *	bit 3		greylisting: checkd is asked at RCPT
 *	bit 4		DNS lists: checkd is asked at connect
 *	bit 5		the DNS lists block the client
 *	bit 6		the queue fails the commit
 *	bit 7		the checks refuse for now (451)
 * A segment of two bytes, 0xfe and 'Q', 'A', 'C' or 'S', is no client
 * input: the queue, authd, checkd or scand goes down (its answers in
 * flight are lost, what smtpd sends it fails) and is back for the next
 * segment.
 * Addresses steer authd: local parts "unknown...", "temp...", "loop...",
 * "many...", "grey...", "list..." (three mailboxes); only example.test is
 * local; senders "forged..." are not the user's. AUTH: PLAIN, LOGIN or
 * SCRAM-SHA-256; alice@example.test with "secret" logs in.
 */
#include <sys/stat.h>
#include <arpa/inet.h>

#include "smtp.h"
#include "session_harness.h"

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_LINE	600
#define MAX_SIZE	4000
#define MAX_RCPTS	5
#define MAX_MSGS	4	/* the next create: 452 */
#define MAX_ANSWERS	64
#define CLOSERS		5
#define QUEUED		"250 2.0.0 Ok: queued as "

struct smtp_limits	 smtp_limits;
struct smtp_scan	 smtp_scan;
struct smtp_checks	 smtp_checks;

/* What one input set up. */
static unsigned		 settings;

/* Roles down until the next segment. */
static int		 down[ROLE_COUNT];

/* The session, as smtp.c would route answers to it. */
static struct smtp_session *sess;
static uint64_t		 sess_id;
static unsigned		 rcpt_attempts;

/* Answers waiting for the next turn. */
static struct msg	*answers[MAX_ANSWERS];
static size_t		 nanswers;

/* The queue's messages. */
struct fz_msg {
	char		 id[QUEUE_ID_LEN + 1];
	int		 fd;		/* ours, to read it back */
	int		 aborted;
	int		 committed;
	int		 env;		/* the envelope came */
	uint64_t	 size;		/* the envelope's */
	int		 data;		/* a 354 was seen for it */
	unsigned	 epoch;
	size_t		 text;		/* where its text starts */
	int		 early;		/* a segment went before the 354 */
};
static struct fz_msg	 msgs[MAX_MSGS];
static size_t		 nmsgs;
static uint64_t		 id_counter;
static int		 cur_msg = -1;	/* the last one created */

/* What the client saw. */
static size_t		 commits, queued_replies;
static int		 closing;	/* a reply that ends the session */
static unsigned long	 segment_at_created;

/* SASL in authd. */
static struct hs_sasl	 sasl;

/* The content checks. */
struct check_run {
	struct smtp_session	*s;
	char			 msgid[QUEUE_ID_LEN + 1];
	check_done_cb		 done;
};
static struct check_run	*check_pending;

static struct hs	 h;

/*
 * smtp.c's part, for one session.
 */

void
smtp_session_register(struct smtp_session *s, uint64_t id)
{
	if (sess != NULL)
		abort();
	sess = s;
	sess_id = id;
}

void
smtp_session_unregister(uint64_t id)
{
	if (sess != NULL && id == sess_id)
		sess = NULL;
}

int
smtp_session_count(void)
{
	return sess != NULL;
}

int
smtp_user_rate_allowed(const char *user)
{
	(void)user;
	return 1;
}

void
smtp_user_rate_count(const char *user)
{
	(void)user;
}

int
smtp_client_connect_allowed(const char *key)
{
	(void)key;
	return 1;
}

/* The seventh recipient of a stranger is over the minute's limit. */
int
smtp_client_rcpt_allowed(const char *key)
{
	(void)key;
	return ++rcpt_attempts <= 6;
}

static void
answer(struct msg *m)
{
	if (nanswers == MAX_ANSWERS)
		abort();
	answers[nanswers++] = m;
}

static struct msg *
reply_msg(uint32_t type)
{
	struct msg	*m = xmalloc(sizeof(*m));

	msg_init(m, type, sess_id);
	return m;
}

static struct fz_msg *
find_msg(const char *id)
{
	size_t	 i;

	for (i = 0; i < nmsgs; i++)
		if (strcmp(msgs[i].id, id) == 0)
			return &msgs[i];
	return NULL;
}

/*
 * authd.
 */

static void
rcpt_lookup(const char *addr, uint32_t flags)
{
	const char	*at = strrchr(addr, '@');
	struct msg	*m;
	uint32_t	 res = LOOKUP_OK;
	int		 i, n = 1;

	if (hs_prefix(addr, "unknown"))
		res = LOOKUP_NOTFOUND;
	else if (hs_prefix(addr, "temp"))
		res = LOOKUP_TEMPFAIL;
	else if (hs_prefix(addr, "loop"))
		res = LOOKUP_LOOP;
	else if (hs_prefix(addr, "many"))
		res = LOOKUP_TOOMANY;
	else if (!(flags & LOOKUP_F_POSTMASTER) && (at == NULL ||
	    strcasecmp(at + 1, "example.test") != 0))
		res = LOOKUP_NOTLOCAL;
	else if (hs_prefix(addr, "list"))
		n = 3;
	if (res == LOOKUP_OK)
		for (i = 0; i < n; i++) {
			m = reply_msg(IMSG_AUTH_RCPT_DEST);
			msg_add_u32(m, DEST_MAILBOX);
			msg_add_str(m, addr);
			msg_add_str(m, "example.test/alice");
			msg_add_u64(m, 0);
			msg_add_u64(m, 0);
			answer(m);
		}
	m = reply_msg(IMSG_AUTH_RCPT_END);
	msg_add_u32(m, res);
	msg_add_str(m, res == LOOKUP_OK ? "" : "fuzz");
	answer(m);
}

/* authd's answer from the fake exchange. */
static void
sasl_answer(void)
{
	struct msg	*m;

	if (sasl.chal != NULL) {
		m = reply_msg(IMSG_AUTH_SASL_CHALLENGE);
		msg_add_data(m, sasl.chal, strlen(sasl.chal));
		sasl.chal = NULL;
	} else {
		m = reply_msg(IMSG_AUTH_SASL_RESULT);
		msg_add_u32(m, sasl.res);
		msg_add_str(m, sasl.resuser);
		msg_add_str(m, "");
		msg_add_str(m, "");	/* no token for SMTP */
	}
	answer(m);
}

static void
sasl_start(struct msg_reader *r)
{
	const void	*p;
	size_t		 len;
	uint32_t	 service, initial;
	char		 mech[32], client[64];

	(void)msg_get_str(r, mech, sizeof(mech));
	(void)msg_get_str(r, client, sizeof(client));
	(void)msg_get_u32(r, &service);
	(void)msg_get_u32(r, &initial);
	(void)msg_get_data(r, &p, &len);
	if (msg_end(r) == -1 || service != AUTH_SERVICE_SMTP)
		hs_fail("bad IMSG_AUTH_SASL_START", &h);
	if (hs_sasl_start(&sasl, mech, initial != 0, p, len) == -1)
		hs_fail("SASL start inside an exchange, or of a mechanism"
		    " not offered", &h);
	sasl_answer();
}

/*
 * The queue.
 */

static void
queue_create(void)
{
	struct fz_msg	*q;
	struct msg	*m;

	if (nmsgs == MAX_MSGS) {
		m = reply_msg(IMSG_QUEUE_RESULT);
		msg_add_u32(m, QUEUE_NOSPACE);
		msg_add_str(m, "");
		msg_add_str(m, "");
		answer(m);
		return;
	}
	q = &msgs[nmsgs];
	memset(q, 0, sizeof(*q));
	(void)snprintf(q->id, sizeof(q->id), "%016llx",
	    (unsigned long long)++id_counter);
	q->fd = memfd_create("msg", MFD_CLOEXEC);
	m = reply_msg(IMSG_QUEUE_CREATED);
	if (q->fd == -1 || (m->fd = dup(q->fd)) == -1)
		abort();
	msg_add_str(m, q->id);
	answer(m);
	nmsgs++;
}

static int
bare_or_nul(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\0')
			return 1;
		if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n'))
			return 1;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return 1;
	}
	return 0;
}

/* Each line of p (CRLF lines) at most max bytes, its CRLF included. */
static int
lines_fit(const char *p, size_t len, size_t max)
{
	size_t	 i, col = 0;

	for (i = 0; i < len; i++) {
		if (++col > max)
			return 0;
		if (p[i] == '\n')
			col = 0;
	}
	return 1;
}

/*
 * The text of a DATA message as the client sent it: from where the 354
 * came to the first CRLF "." CRLF (a "." CRLF first ends it empty).
 * Into *body, dot-unstuffed; -1 if the text has not ended.
 */
static int
data_reference(const char *t, size_t len, struct hs_buf *body,
    size_t *rawlen)
{
	const char	*end = NULL, *p, *nl;
	size_t		 i;

	if (len >= 3 && memcmp(t, ".\r\n", 3) == 0)
		end = t;
	for (i = 0; end == NULL && i + 5 <= len; i++)
		if (memcmp(t + i, "\r\n.\r\n", 5) == 0)
			end = t + i + 2;
	if (end == NULL)
		return -1;
	*rawlen = (size_t)(end - t);
	for (p = t; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end - 1;
		if (*p == '.')
			p++;
		hs_buf_add(body, p, (size_t)(nl + 1 - p));
	}
	return 0;
}

static void
check_content(struct fz_msg *q)
{
	struct stat	 st;
	struct hs_buf	 body = { NULL, 0, 0 };
	char		*c;
	const char	*hdrend;
	size_t		 raw, i;

	if (fstat(q->fd, &st) == -1)
		abort();
	if (!q->env || (uint64_t)st.st_size != q->size)
		hs_fail("the envelope's size is not the content's", &h);
	c = xmalloc((size_t)st.st_size + 1);
	if (pread(q->fd, c, (size_t)st.st_size, 0) != st.st_size)
		abort();
	if (bare_or_nul(c, (size_t)st.st_size))
		hs_fail("a bare CR or LF, or a NUL, was stored", &h);
	if (!lines_fit(c, (size_t)st.st_size, MAX_LINE))
		hs_fail("a line over max-line-length was stored", &h);
	if (st.st_size < 10 || memcmp(c, "Received: ", 10) != 0)
		hs_fail("no Received field first", &h);
	/* The Received field ends at the first CRLF not followed by a
	 * space or tab: the client's text cannot extend it. */
	hdrend = NULL;
	for (i = 0; i + 2 < (size_t)st.st_size; i++)
		if (c[i] == '\r' && c[i + 1] == '\n' && c[i + 2] != '\t' &&
		    c[i + 2] != ' ') {
			hdrend = c + i + 2;
			break;
		}
	if (hdrend == NULL)
		hdrend = c + st.st_size;
	if (q->data && !q->early && q->epoch == h.epoch) {
		if (q->text > h.stream.len || data_reference(h.stream.p +
		    q->text, h.stream.len - q->text, &body, &raw) == -1)
			hs_fail("a DATA message committed before its end", &h);
		if (bare_or_nul(h.stream.p + q->text, raw) ||
		    !lines_fit(h.stream.p + q->text, raw, MAX_LINE))
			hs_fail("a text with bare CR/LF, NUL or a long line"
			    " was taken", &h);
		/* Text that begins with white space is all body: a blank
		 * line comes first. */
		if (body.len > 0 && (body.p[0] == ' ' || body.p[0] == '\t')) {
			if (c + st.st_size - hdrend < 2 ||
			    memcmp(hdrend, "\r\n", 2) != 0)
				hs_fail("text beginning with white space was"
				    " not set apart from the Received field",
				    &h);
			hdrend += 2;
		}
		if ((size_t)(c + st.st_size - hdrend) != body.len ||
		    (body.len > 0 && memcmp(hdrend, body.p, body.len) != 0))
			hs_fail("the stored text is not the text up to the"
			    " first CRLF.CRLF", &h);
	}
	free(body.p);
	free(c);
}

static void
queue_commit(const char *id)
{
	struct fz_msg	*q = find_msg(id);
	struct msg	*m;

	if (q == NULL || q->aborted || q->committed)
		hs_fail("commit of a message not open", &h);
	check_content(q);
	m = reply_msg(IMSG_QUEUE_RESULT);
	if (settings & 0x40) {
		msg_add_u32(m, QUEUE_TEMPFAIL);
		q->aborted = 1;
	} else {
		msg_add_u32(m, QUEUE_OK);
		q->committed = 1;
		commits++;
	}
	msg_add_str(m, id);
	msg_add_str(m, "");
	answer(m);
}

/*
 * What smtpd sends (smtp.c's smtp_peer_send).
 */

int
smtp_peer_send(enum osms_role role, struct msg *m)
{
	struct msg_reader	 r;
	struct imsg		 imsg;
	struct fz_msg		*q;
	struct msg		*a;
	const char		*layout = imsg_type_layout(m->type);
	char			 s1[ADDR_MAX_TEXT], s2[ADDR_MAX_TEXT];
	const void		*p;
	size_t			 len;
	uint32_t		 u, v;
	uint64_t		 size;

	hs_imsg(&imsg, m);
	if (m->overflow || layout == NULL || msg_check(&imsg, layout) == -1 ||
	    !imsg_allowed(m->type, ROLE_SMTPD, role) || m->id != sess_id)
		hs_fail("smtpd sent a message the catalogue refuses", &h);
	if (down[role]) {
		if (m->fd != -1)
			(void)close(m->fd);
		m->fd = -1;
		return -1;
	}
	msg_reader_init(&r, &imsg);
	switch (m->type) {
	case IMSG_AUTH_RCPT:
		(void)msg_get_u32(&r, &u);
		(void)msg_get_str(&r, s1, sizeof(s1));
		rcpt_lookup(s1, u);
		break;
	case IMSG_AUTH_SENDER:
		(void)msg_get_str(&r, s1, sizeof(s1));
		(void)msg_get_str(&r, s2, sizeof(s2));
		a = reply_msg(IMSG_AUTH_SENDER_RESULT);
		msg_add_u32(a, hs_prefix(s2, "forged") ? 0 :
		    hs_prefix(s2, "unknown") ? 2 : 1);
		answer(a);
		break;
	case IMSG_AUTH_SASL_START:
		sasl_start(&r);
		break;
	case IMSG_AUTH_SASL_STEP:
		(void)msg_get_data(&r, &p, &len);
		if (hs_sasl_step(&sasl, p, len) == -1)
			hs_fail("SASL step without an exchange", &h);
		sasl_answer();
		break;
	case IMSG_AUTH_SASL_ABORT:
		sasl.state = HS_SASL_NONE;
		break;
	case IMSG_QUEUE_CREATE:
		queue_create();
		break;
	case IMSG_QUEUE_ABORT:
		(void)msg_get_str(&r, s1, sizeof(s1));
		if ((q = find_msg(s1)) == NULL || q->committed)
			hs_fail("abort of a message not open", &h);
		q->aborted = 1;
		break;
	case IMSG_QUEUE_ENV:
		(void)msg_get_str(&r, s1, sizeof(s1));
		if ((q = find_msg(s1)) == NULL || q->aborted || q->env)
			hs_fail("envelope of a message not open", &h);
		/* Field by field as smtpd writes them: a misread would be
		 * a finding of the harness's own (it once was). */
		for (u = 0; u < 5; u++)		/* from, helo, addr, tls, auth */
			(void)msg_get_data(&r, &p, &len);
		for (u = 0; u < 4; u++)		/* body, ret, smtputf8, requiretls */
			(void)msg_get_u32(&r, &v);
		(void)msg_get_data(&r, &p, &len);	/* envid */
		(void)msg_get_u64(&r, &size);
		(void)msg_get_data(&r, &p, &len);	/* scanner */
		(void)msg_get_data(&r, &p, &len);	/* virus */
		(void)msg_get_u32(&r, &v);		/* quarantine */
		(void)msg_get_u32(&r, &v);		/* junk */
		(void)msg_get_data(&r, &p, &len);	/* checks */
		if (msg_end(&r) == -1)
			hs_fail("the harness cannot read the envelope", &h);
		q->env = 1;
		q->size = size;
		break;
	case IMSG_QUEUE_RCPT:
	case IMSG_QUEUE_DEST:
		(void)msg_get_str(&r, s1, sizeof(s1));
		if ((q = find_msg(s1)) == NULL || !q->env || q->aborted)
			hs_fail("recipient of a message not open", &h);
		break;
	case IMSG_QUEUE_COMMIT:
		(void)msg_get_str(&r, s1, sizeof(s1));
		queue_commit(s1);
		break;
	case IMSG_DNSBL_REQ:
		a = reply_msg(IMSG_DNSBL_RESULT);
		msg_add_u32(a, (settings & 0x20) != 0);
		msg_add_s64(a, 5);
		msg_add_str(a, (settings & 0x20) ? "bl.fuzz.test" : "");
		answer(a);
		break;
	case IMSG_GREY_REQ:
		(void)msg_get_str(&r, s1, sizeof(s1));
		(void)msg_get_str(&r, s1, sizeof(s1));
		(void)msg_get_str(&r, s1, sizeof(s1));
		(void)msg_get_str(&r, s2, sizeof(s2));
		a = reply_msg(IMSG_GREY_RESULT);
		msg_add_str(a, s2);
		msg_add_u32(a, hs_prefix(s2, "grey") ? 300 : 0);
		msg_add_str(a, "");
		answer(a);
		break;
	default:
		hs_fail("smtpd sent a message no role here takes", &h);
	}
	if (m->fd != -1)
		(void)close(m->fd);
	m->fd = -1;
	return 0;
}

/*
 * The content checks (smtp_check.c): accept, or 451 by the settings, or
 * 550 for a message that asks for it.
 */

static void
check_finish(struct check_run *run)
{
	struct check_result	 res;
	struct smtp_session	*s = run->s;
	struct fz_msg		*q = find_msg(run->msgid);
	check_done_cb		 done = run->done;
	char			 buf[512];
	ssize_t			 n;

	memset(&res, 0, sizeof(res));
	res.verdict = CHECK_ACCEPT;
	if (q == NULL)
		hs_fail("checks of a message the queue does not have", &h);
	n = pread(q->fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	if (strstr(buf, "X-Fuzz: reject") != NULL) {
		res.verdict = CHECK_REJECT;
		res.code = 550;
		(void)osms_strlcpy(res.status, "5.7.1", sizeof(res.status));
		(void)osms_strlcpy(res.text, "Refused", sizeof(res.text));
	} else if (settings & 0x80) {
		res.verdict = CHECK_TEMPFAIL;
		res.code = 451;
		(void)osms_strlcpy(res.status, "4.7.1", sizeof(res.status));
		(void)osms_strlcpy(res.text, "Later", sizeof(res.text));
	}
	smtp_session_set_check(s, NULL);
	free(run);
	done(s, &res);
}

void
smtp_check_run(struct smtp_session *s, const char *msgid, check_done_cb done)
{
	struct check_run	*run = xcalloc(1, sizeof(*run));

	if (check_pending != NULL)
		hs_fail("checks of two messages at once", &h);
	run->s = s;
	(void)osms_strlcpy(run->msgid, msgid, sizeof(run->msgid));
	run->done = done;
	smtp_session_set_check(s, run);
	if (settings & 0x04)
		check_finish(run);
	else
		check_pending = run;
}

void
smtp_check_cancel(struct check_run *run)
{
	if (check_pending == run)
		check_pending = NULL;
	free(run);
}

/* No verdict: 451, as the default policy says (smtp_check.c). */
void
smtp_check_failed(struct check_run *run, const char *why)
{
	struct check_result	 res;
	struct smtp_session	*s = run->s;
	check_done_cb		 done = run->done;

	(void)why;
	memset(&res, 0, sizeof(res));
	res.verdict = CHECK_TEMPFAIL;
	res.code = 451;
	(void)osms_strlcpy(res.status, "4.7.1", sizeof(res.status));
	(void)osms_strlcpy(res.text, "Not checked", sizeof(res.text));
	if (check_pending == run)
		check_pending = NULL;
	smtp_session_set_check(s, NULL);
	free(run);
	done(s, &res);
}

/* The queue opens the content for the checks, scand scans it. */
void
smtp_check_peer_down(struct check_run *run, enum osms_role role)
{
	if (role == ROLE_QUEUE || role == ROLE_SCAND)
		smtp_check_failed(run, "gone");
}

static enum osms_role
answer_role(uint32_t type)
{
	switch (type) {
	case IMSG_QUEUE_CREATED:
	case IMSG_QUEUE_RESULT:
		return ROLE_QUEUE;
	case IMSG_DNSBL_RESULT:
	case IMSG_GREY_RESULT:
		return ROLE_CHECKD;
	default:
		return ROLE_AUTHD;
	}
}

/*
 * A role goes down: its answers in flight are lost (a commit's among
 * them: the client never hears of it, and it does not count), then the
 * session hears of it, as smtp.c tells it.
 */
static int
role_down(struct hs *hp, const uint8_t *p, size_t len)
{
	struct msg_reader	 r;
	struct imsg		 imsg;
	struct fz_msg		*q;
	enum osms_role		 role;
	size_t			 i, kept = 0;
	uint32_t		 res;
	char			 id[QUEUE_ID_LEN + 1];

	if (len != 2 || p[0] != 0xfe)
		return 0;
	switch (p[1]) {
	case 'Q':
		role = ROLE_QUEUE;
		break;
	case 'A':
		role = ROLE_AUTHD;
		break;
	case 'C':
		role = ROLE_CHECKD;
		break;
	case 'S':
		role = ROLE_SCAND;
		break;
	default:
		return 0;
	}
	for (i = 0; i < nanswers; i++) {
		if (answer_role(answers[i]->type) != role) {
			answers[kept++] = answers[i];
			continue;
		}
		if (answers[i]->type == IMSG_QUEUE_RESULT) {
			hs_imsg(&imsg, answers[i]);
			msg_reader_init(&r, &imsg);
			(void)msg_get_u32(&r, &res);
			(void)msg_get_str(&r, id, sizeof(id));
			if (res == QUEUE_OK && (q = find_msg(id)) != NULL &&
			    q->committed) {
				q->committed = 0;
				q->aborted = 1;
				commits--;
			}
		}
		if (answers[i]->fd != -1)
			(void)close(answers[i]->fd);
		free(answers[i]);
	}
	nanswers = kept;
	if (role == ROLE_AUTHD)
		memset(&sasl, 0, sizeof(sasl));	/* a new authd */
	down[role] = 1;
	if (sess != NULL)
		smtp_session_peer_down_all(role);
	hs_pump(hp, NULL);
	down[role] = 0;
	return 1;
}

/* The harness's turn: the roles answer what they were asked. */
static int
hs_answer(void)
{
	struct msg	*todo[MAX_ANSWERS], *m;
	struct imsg	 imsg;
	struct check_run *run;
	size_t		 i, n = nanswers;
	int		 did = 0;

	memcpy(todo, answers, n * sizeof(*todo));
	nanswers = 0;
	for (i = 0; i < n; i++) {
		m = todo[i];
		hs_imsg(&imsg, m);
		did++;
		if (sess == NULL || m->id != sess_id) {
			if (imsg.fd != -1)
				(void)close(imsg.fd);
			free(m);
			continue;
		}
		switch (m->type) {
		case IMSG_AUTH_RCPT_DEST:
			smtp_session_rcpt_dest(sess, &imsg);
			break;
		case IMSG_AUTH_RCPT_END:
			smtp_session_rcpt_end(sess, &imsg);
			break;
		case IMSG_AUTH_SENDER_RESULT:
			smtp_session_sender_result(sess, &imsg);
			break;
		case IMSG_AUTH_SASL_CHALLENGE:
			smtp_session_auth_challenge(sess, &imsg);
			break;
		case IMSG_AUTH_SASL_RESULT:
			smtp_session_auth_result(sess, &imsg);
			break;
		case IMSG_QUEUE_CREATED:
			cur_msg = (int)nmsgs - 1;
			segment_at_created = h.segments;
			smtp_session_queue_created(sess, &imsg);
			break;
		case IMSG_QUEUE_RESULT:
			smtp_session_queue_result(sess, &imsg);
			break;
		case IMSG_DNSBL_RESULT:
			smtp_session_dnsbl_result(sess, &imsg);
			break;
		case IMSG_GREY_RESULT:
			smtp_session_grey_result(sess, &imsg);
			break;
		default:
			abort();
		}
		if (imsg.fd != -1)	/* not taken */
			(void)close(imsg.fd);
		free(m);
	}
	if (check_pending != NULL && n == 0) {
		/* After the other answers: the checks take a while. */
		run = check_pending;
		check_pending = NULL;
		check_finish(run);
		did++;
	}
	return did;
}

/*
 * The client's view.
 */

static const char *const closers[CLOSERS] = {
	"221 ", "421 ", "554 5.5.1 Command pipelined after STARTTLS",
	"554 5.5.0 Text sent before the 354",
	"500 5.5.2 Line too long; closing",
};

static void
hs_line(struct hs *hp, const char *line, size_t len)
{
	struct fz_msg	*q;
	size_t		 i;
	char		 id[QUEUE_ID_LEN + 1];

	if (closing)
		hs_fail("a reply after the session said it closes", hp);
	for (i = 0; i < CLOSERS; i++)
		if (len >= strlen(closers[i]) &&
		    memcmp(line, closers[i], strlen(closers[i])) == 0)
			closing = 1;
	if (len == 28 && memcmp(line, "220 2.0.0 Ready to start TLS", 28) ==
	    0) {
		hs_starttls(hp);
		return;
	}
	if (len >= 4 && memcmp(line, "354 ", 4) == 0) {
		if (cur_msg < 0)
			hs_fail("354 without a message", hp);
		q = &msgs[cur_msg];
		q->data = 1;
		q->epoch = hp->epoch;
		q->text = hp->stream.len;
		q->early = hp->segments != segment_at_created;
		return;
	}
	if (len == strlen(QUEUED) + QUEUE_ID_LEN &&
	    memcmp(line, QUEUED, strlen(QUEUED)) == 0) {
		memcpy(id, line + strlen(QUEUED), QUEUE_ID_LEN);
		id[QUEUE_ID_LEN] = '\0';
		if ((q = find_msg(id)) == NULL || !q->committed)
			hs_fail("\"queued\" for a message not committed", hp);
		queued_replies++;
		if (queued_replies > commits)
			hs_fail("more \"queued\" replies than commits", hp);
	}
}

static int
session_gone(void)
{
	return sess == NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hs_init();
	hs_control = role_down;
	return 0;
}

static void
reset(void)
{
	size_t	 i;

	for (i = 0; i < nmsgs; i++)
		if (msgs[i].fd != -1)
			(void)close(msgs[i].fd);
	nmsgs = 0;
	cur_msg = -1;
	commits = queued_replies = 0;
	closing = 0;
	rcpt_attempts = 0;
	memset(&sasl, 0, sizeof(sasl));
	segment_at_created = 0;
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
	smtp_limits = (struct smtp_limits){ MAX_SIZE, MAX_RCPTS, MAX_LINE,
	    300, 1, 0, 0, 0, 0 };
	smtp_checks = (struct smtp_checks){ 0, 30, 0, (settings & 0x08) != 0,
	    (settings & 0x10) != 0 };
	hs_peers[ROLE_CHECKD] = (settings & 0x18) ? &hs_parent : NULL;

	memset(&l, 0, sizeof(l));
	l.port = 25;
	switch (settings & 3) {
	case 0:
		l.proto = PROTO_SMTP;
		l.tls = TLS_STARTTLS;
		break;
	case 1:
		l.proto = PROTO_SUBMISSION;
		l.tls = TLS_STARTTLS_REQUIRE;
		l.flags = LISTEN_AUTH;
		break;
	case 2:
		l.proto = PROTO_SUBMISSION;
		l.tls = TLS_IMPLICIT;
		l.flags = LISTEN_AUTH;
		break;
	default:
		l.proto = PROTO_SMTP;
		l.tls = TLS_NONE;
		break;
	}
	if (l.tls != TLS_NONE)
		(void)osms_strlcpy(l.pki, HS_PKI, sizeof(l.pki));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0xc0000207);	/* 192.0.2.7 */

	hs_connect(&h, &fd);
	smtp_session_new(&l, fd, (struct sockaddr_storage *)&sin,
	    sizeof(sin));
	if (l.tls == TLS_IMPLICIT)
		hs_starttls(&h);

	hs_run(&h, data + 1, size - 1);
	/* Every commit's reply came (unless TLS broke off the reading). */
	if (queued_replies != commits && (h.state != HS_DEAD ||
	    h.ssl == NULL))
		hs_fail("a commit without its \"queued\" reply", &h);
	hs_close(&h, session_gone);
	while (nanswers > 0 || check_pending != NULL)
		(void)hs_answer();
	reset();
	hs_check_fds();
	return 0;
}
