/*
 * queue: outbound delivery. Due relay destinations wait in a queue per
 * next hop (a domain delivered by MX, or a configured host); the hop
 * sends at most max-domain-connections transactions to the mta at once,
 * each one message with the recipients it has at that hop (up to
 * RELAY_MAX_RCPTS). Mail of local senders is signed by cryptod first;
 * the signature is kept with the message while it is queued.
 *
 * With the S/MIME gateway on, each transaction of a local sender's mail
 * goes through cryptod on its way to the mta: cryptod writes the copy
 * for the first recipient and those that get the same (an encrypted
 * copy, with its own DKIM signature, or the message as it is) and the
 * other recipients wait at the hop for transactions of their own.
 *
 * Each recipient's answer is written to the spool as it comes, so an
 * mta that dies mid-transaction loses only the recipients the next hop
 * had not yet taken: those are tried again.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "idmap.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "queue.h"
#include "smtp_cmd.h"
#include "srs.h"
#include "util.h"

#define RELAY_MAX_RCPTS		100	/* RFC 5321 4.5.3.1.8: at least 100 */
#define RELAY_MAX_INFLIGHT	256	/* transactions at the mta at once */
#define RELAY_HOP_KEY		(CONF_MAX_NAME * 2 + 16)
#define RELAY_MAX_RCPT_LIST	16000	/* recipients in a cryptod request */

/* A route from the config (IMSG_CONF_RELAY). */
struct route {
	TAILQ_ENTRY(route)	 entry;
	char			 domain[CONF_MAX_NAME];	/* "" = default */
	char			 host[CONF_MAX_NAME];	/* "" = by MX */
	uint32_t		 port;
	uint32_t		 tls;
	char			 user[CONF_MAX_NAME];
	char			 password[CONF_MAX_SECRET + 1];
};

/* A relay destination waiting for its hop. */
struct due_relay {
	STAILQ_ENTRY(due_relay)	 entry;
	uint64_t		 msgkey;
	size_t			 dest;
};

/* A next hop: its waiting destinations and its transactions in flight. */
struct hop {
	TAILQ_ENTRY(hop)	 entry;
	char			 key[RELAY_HOP_KEY];
	char			 domain[CONF_MAX_NAME];	/* for MX, DANE */
	struct route		 route;			/* a copy */
	STAILQ_HEAD(due_list, due_relay) due;	/* taken from the head */
	unsigned		 inflight;
};

/* One transaction at the mta. */
struct job {
	uint64_t		 reqid;
	uint64_t		 msgkey;
	struct hop		*hop;
	int			 forward;	/* its sender is rewritten */
	size_t			 n;
	size_t			 dests[RELAY_MAX_RCPTS];
	uint8_t			 answered[RELAY_MAX_RCPTS];
	int			 copy;		/* cryptod's copy, or -1 */
	int			 verified_tls;	/* the policy's, for this copy */
	uint64_t		 copy_size;
	char			*copy_dkim;
};

static TAILQ_HEAD(, route)	 routes = TAILQ_HEAD_INITIALIZER(routes);
static TAILQ_HEAD(, hop)	 hops = TAILQ_HEAD_INITIALIZER(hops);
static struct idmap		 jobs;		/* reqid -> job */
static struct idmap		 signing;	/* reqid -> message key */
static struct idmap		 encrypting;	/* reqid -> job at cryptod */
static int			 maps_ready;
static int			 gateway;
static unsigned			 per_hop = MTA_DOMAIN_CONNECTIONS;
static unsigned			 inflight;
static unsigned long		 nsent;
static char			 srs_domain[CONF_MAX_NAME];	/* "" off */
static unsigned char		 srs_secret[256];
static size_t			 srs_secretlen;

static void
maps_init(void)
{
	if (maps_ready)
		return;
	idmap_init(&jobs);
	idmap_init(&signing);
	idmap_init(&encrypting);
	maps_ready = 1;
}

/*
 * The routes.
 */

void
relay_conf_start(uint32_t connections, uint32_t gateway_on)
{
	struct route	*r;

	maps_init();
	per_hop = connections > 0 ? connections : 1;
	gateway = gateway_on != 0;
	srs_domain[0] = '\0';
	explicit_wipe(srs_secret, sizeof(srs_secret));
	while ((r = TAILQ_FIRST(&routes)) != NULL) {
		TAILQ_REMOVE(&routes, r, entry);
		explicit_wipe(r, sizeof(*r));
		free(r);
	}
}

void
relay_conf(struct imsg *imsg)
{
	struct msg_reader	 rd;
	struct route		*r = xcalloc(1, sizeof(*r));

	msg_reader_init(&rd, imsg);
	(void)msg_get_str(&rd, r->domain, sizeof(r->domain));
	(void)msg_get_str(&rd, r->host, sizeof(r->host));
	(void)msg_get_u32(&rd, &r->port);
	(void)msg_get_u32(&rd, &r->tls);
	(void)msg_get_str(&rd, r->user, sizeof(r->user));
	(void)msg_get_str(&rd, r->password, sizeof(r->password));
	if (msg_end(&rd) == -1 || r->port > 65535 ||
	    r->tls > RELAY_TLS_VERIFY)
		fatalx("bad IMSG_CONF_RELAY");
	if (imsg->data != NULL)
		explicit_wipe(imsg->data, imsg->datalen);
	TAILQ_INSERT_TAIL(&routes, r, entry);
}

void
relay_srs_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	const void		*secret;
	size_t			 len;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, srs_domain, sizeof(srs_domain));
	(void)msg_get_data(&r, &secret, &len);
	if (msg_end(&r) == -1 || len > sizeof(srs_secret))
		fatalx("bad IMSG_CONF_SRS");
	memcpy(srs_secret, secret, len);
	srs_secretlen = len;
	explicit_wipe(imsg->data, imsg->datalen);
}

/*
 * Mail that an alias of ours forwards to another domain leaves with an
 * SRS sender (srs.c), so the next hop's SPF check of it passes, and a
 * bounce comes back to us (authd takes it back). Mail of local users
 * and bounces keep their sender.
 */
static int
is_forward(const struct qmsg *q, size_t i)
{
	const struct env_dest	*d = &q->env.dests[i];

	return srs_domain[0] != '\0' && q->env.sender[0] != '\0' &&
	    q->env.auth[0] == '\0' && !(q->env.flags & ENV_F_BOUNCE) &&
	    strcasecmp(d->address, q->env.rcpts[d->rcpt].address) != 0;
}

static void
job_sender(const struct qmsg *q, const struct job *j, char *out,
    size_t size)
{
	struct srs	 srs;
	const char	*err;

	(void)osms_strlcpy(out, q->env.sender, size);
	if (!j->forward)
		return;
	srs.secret = srs_secret;
	srs.secretlen = srs_secretlen;
	srs.domain = srs_domain;
	if (srs_forward(&srs, q->env.sender, time(NULL), out, size,
	    &err) == -1) {
		log_warnx("queue: %s: SRS: %s; the sender stays", q->env.id,
		    err);
		(void)osms_strlcpy(out, q->env.sender, size);
	}
}

static const struct route *
route_find(const char *domain)
{
	const struct route	*r, *fallback = NULL;

	TAILQ_FOREACH(r, &routes, entry) {
		if (strcmp(r->domain, domain) == 0)
			return r;
		if (r->domain[0] == '\0')
			fallback = r;
	}
	return fallback;
}

/* The hop of an address: found or made. */
static struct hop *
hop_get(const char *address)
{
	static const struct route by_mx = { .tls = RELAY_TLS_OPPORTUNISTIC };
	const struct route	*r;
	struct hop		*h;
	const char		*at = strrchr(address, '@');
	char			 domain[CONF_MAX_NAME], key[RELAY_HOP_KEY];
	size_t			 i;

	(void)osms_strlcpy(domain, at != NULL ? at + 1 : "", sizeof(domain));
	for (i = 0; domain[i] != '\0'; i++)
		if (domain[i] >= 'A' && domain[i] <= 'Z')
			domain[i] = (char)(domain[i] - 'A' + 'a');
	if ((r = route_find(domain)) == NULL)
		r = &by_mx;
	/* Domains that share a host share its connections. */
	if (r->host[0] != '\0')
		(void)snprintf(key, sizeof(key), "[%s]:%u %s", r->host,
		    r->port, r->user);
	else
		(void)snprintf(key, sizeof(key), "%s", domain);
	TAILQ_FOREACH(h, &hops, entry)
		if (strcmp(h->key, key) == 0)
			return h;
	h = xcalloc(1, sizeof(*h));
	(void)osms_strlcpy(h->key, key, sizeof(h->key));
	(void)osms_strlcpy(h->domain, domain, sizeof(h->domain));
	h->route = *r;
	STAILQ_INIT(&h->due);
	TAILQ_INSERT_TAIL(&hops, h, entry);
	return h;
}

static void
hop_free_if_idle(struct hop *h)
{
	if (h->inflight > 0 || !STAILQ_EMPTY(&h->due))
		return;
	TAILQ_REMOVE(&hops, h, entry);
	explicit_wipe(&h->route, sizeof(h->route));
	free(h);
}

/*
 * DKIM: mail that local users sent (and our own reports) is signed by
 * cryptod before it leaves; cryptod decides whether a key fits.
 */

static int
wants_signature(const struct qmsg *q)
{
	return q->dkim == NULL && (q->env.auth[0] != '\0' ||
	    (q->env.flags & ENV_F_BOUNCE));
}

static int
sign_request(struct qmsg *q)
{
	struct channel	*ch = proc_peer(ROLE_CRYPTOD);
	struct msg	 m;
	int		 fd;

	if (ch == NULL || queue_open_content(q, &fd) == -1)
		return -1;
	q->sign_reqid = queue_reqid();
	msg_init(&m, IMSG_CRYPT_DKIM_SIGN, q->sign_reqid);
	msg_add_str(&m, q->env.sender);
	msg_add_fd(&m, fd);
	if (channel_send(ch, &m) == -1) {
		q->sign_reqid = 0;
		return -1;
	}
	(void)idmap_put(&signing, q->sign_reqid, (void *)(uintptr_t)q->key);
	return 0;
}

/* Its relay destinations waited for the signature: due now. */
static void
sign_retry(struct qmsg *q)
{
	size_t	 i;

	for (i = 0; i < q->env.ndests; i++)
		if (q->env.dests[i].kind == DEST_RELAY &&
		    q->env.dests[i].state == DEST_PENDING &&
		    q->env.dests[i].next_try == INT64_MAX)
			q->env.dests[i].next_try = 0;
	schedule(q);
}

void
relay_signed(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct qmsg		*q;
	uint64_t		 key;
	uint32_t		 ok;
	char			*field;
	size_t			 size = 8192;

	field = xcalloc(1, size);
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &ok);
	(void)msg_get_str(&r, field, size);
	if (msg_end(&r) == -1) {
		free(field);
		channel_bad_message(ch, imsg, "bad DKIM answer");
		return;
	}
	key = (uint64_t)(uintptr_t)idmap_del(&signing, imsg->hdr.id);
	if (key == 0 || (q = qmsg_get(key)) == NULL ||
	    q->sign_reqid != imsg->hdr.id) {
		free(field);
		return;
	}
	q->sign_reqid = 0;
	if (!ok) {
		if (field[0] != '\0')
			log_warnx("queue: %s: not signed: %s", q->env.id,
			    field);
		field[0] = '\0';
	}
	free(q->dkim);
	q->dkim = field;
	sign_retry(q);
}

/* cryptod is back: ask again for what it had not answered. */
void
relay_cryptod_up(void)
{
	uint64_t	 id, key;
	struct qmsg	*q;

	while ((key = (uint64_t)(uintptr_t)idmap_any(&signing, &id)) != 0) {
		(void)idmap_del(&signing, id);
		if ((q = qmsg_get(key)) != NULL) {
			q->sign_reqid = 0;
			sign_retry(q);
		}
	}
}

static void job_end(struct job *, const char *);

void
relay_cryptod_down(void)
{
	struct job	*j;

	relay_cryptod_up();	/* nothing it had will answer */
	while ((j = idmap_any(&encrypting, NULL)) != NULL)
		job_end(j, "cryptod stopped while encrypting");
}

/*
 * Scheduling.
 */

int
relay_due(struct qmsg *q, size_t i)
{
	struct env_dest		*d = &q->env.dests[i];
	struct due_relay	*dr;
	struct hop		*h;

	maps_init();
	if (wants_signature(q)) {
		if (q->sign_reqid != 0)
			return 1;	/* relay_signed() makes it due */
		if (sign_request(q) == -1) {
			d->next_try = now() + 5;	/* cryptod restarts */
			return 0;
		}
		return 1;
	}
	h = hop_get(d->address);
	dr = xcalloc(1, sizeof(*dr));
	dr->msgkey = q->key;
	dr->dest = i;
	STAILQ_INSERT_TAIL(&h->due, dr, entry);
	q->relay_waiting++;
	return 1;
}

void
relay_forget(struct qmsg *q)
{
	struct hop		*h, *hnext;
	struct due_relay	*dr;
	struct due_list		 keep;

	if (q->sign_reqid != 0)
		(void)idmap_del(&signing, q->sign_reqid);
	/* Usually none: a message leaves when all went out. */
	for (h = TAILQ_FIRST(&hops); h != NULL && q->relay_waiting > 0;
	    h = hnext) {
		hnext = TAILQ_NEXT(h, entry);
		/* Its entries go, the others stay in their order. */
		STAILQ_INIT(&keep);
		while ((dr = STAILQ_FIRST(&h->due)) != NULL) {
			STAILQ_REMOVE_HEAD(&h->due, entry);
			if (dr->msgkey == q->key) {
				free(dr);
				q->relay_waiting--;
			} else
				STAILQ_INSERT_TAIL(&keep, dr, entry);
		}
		STAILQ_CONCAT(&h->due, &keep);
		hop_free_if_idle(h);
	}
}

static int
job_send(struct channel *ch, struct qmsg *q, struct job *j, int fd)
{
	const struct route	*r = &j->hop->route;
	struct msg		 m;
	char			 sender[ADDR_MAX_TEXT];
	char			 headers[QUEUE_MAX_HEADERS], prepend[10240];
	size_t			 i;
	int			 rc = 0;

	job_sender(q, j, sender, sizeof(sender));
	msg_init(&m, IMSG_MTA_MSG, j->reqid);
	msg_add_str(&m, q->env.id);
	msg_add_str(&m, sender);
	msg_add_str(&m, q->env.envid);
	msg_add_u32(&m, q->env.ret);
	/* An encrypted copy is base64: 7bit whatever the message was. */
	msg_add_u32(&m, j->copy != -1 ? SMTP_BODY_7BIT : q->env.body);
	msg_add_u32(&m, (uint32_t)q->env.smtputf8);
	msg_add_u32(&m, (uint32_t)q->env.requiretls);
	msg_add_u64(&m, j->copy != -1 ? j->copy_size : q->env.size);
	queue_headers(q, headers, sizeof(headers));
	(void)snprintf(prepend, sizeof(prepend), "%s%s", j->copy != -1 ?
	    j->copy_dkim : q->dkim != NULL ? q->dkim : "", headers);
	msg_add_str(&m, prepend);
	msg_add_fd(&m, fd);
	if (channel_send(ch, &m) == -1)
		return -1;
	msg_init(&m, IMSG_MTA_ROUTE, j->reqid);
	msg_add_str(&m, j->hop->domain);
	msg_add_str(&m, r->host);
	msg_add_u32(&m, r->port);
	msg_add_u32(&m, j->verified_tls ? RELAY_TLS_VERIFY : r->tls);
	msg_add_str(&m, r->user);
	msg_add_str(&m, r->password);
	rc = channel_send(ch, &m);
	explicit_wipe(m.buf, m.len);
	for (i = 0; rc == 0 && i < j->n; i++) {
		const struct env_dest *d = &q->env.dests[j->dests[i]];
		const struct env_rcpt *rc_ = &q->env.rcpts[d->rcpt];

		msg_init(&m, IMSG_MTA_RCPT, j->reqid);
		msg_add_u32(&m, (uint32_t)j->dests[i]);
		msg_add_str(&m, d->address);
		msg_add_str(&m, rc_->orcpt);
		msg_add_u32(&m, rc_->notify);
		rc = channel_send(ch, &m);
	}
	if (rc == 0) {
		msg_init(&m, IMSG_MTA_SEND, j->reqid);
		rc = channel_send(ch, &m);
	}
	return rc;
}

/*
 * The S/MIME gateway's step between the hop and the mta.
 */

static int
wants_encryption(const struct qmsg *q)
{
	return gateway && q->env.auth[0] != '\0' &&
	    !(q->env.flags & ENV_F_BOUNCE);
}

/* The job's recipients from index i on wait at the hop again, first. */
static void
job_put_back(struct qmsg *q, struct job *j, size_t i)
{
	struct due_relay	*dr;
	size_t			 k;

	for (k = j->n; k > i; k--) {
		dr = xcalloc(1, sizeof(*dr));
		dr->msgkey = q->key;
		dr->dest = j->dests[k - 1];
		STAILQ_INSERT_HEAD(&j->hop->due, dr, entry);
		q->relay_waiting++;
	}
	j->n = i;
}

static int
encrypt_request(struct qmsg *q, struct job *j)
{
	struct channel	*ch = proc_peer(ROLE_CRYPTOD);
	struct msg	 m;
	char		*list;
	size_t		 i, len = 0, alen;
	int		 fd, out;

	if (ch == NULL || queue_scratch(&j->copy) == -1)
		return -1;
	if ((out = fcntl(j->copy, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("queue: dup");
		return -1;
	}
	if (queue_open_content(q, &fd) == -1) {
		(void)close(out);
		return -1;
	}
	/* NUL-separated: a quoted local part may hold any other byte. */
	list = xcalloc(1, RELAY_MAX_RCPT_LIST);
	for (i = 0; i < j->n; i++) {
		alen = strlen(q->env.dests[j->dests[i]].address) + 1;
		if (len + alen > RELAY_MAX_RCPT_LIST)
			break;
		memcpy(list + len, q->env.dests[j->dests[i]].address, alen);
		len += alen;
	}
	job_put_back(q, j, i);
	msg_init(&m, IMSG_CRYPT_SOURCE, j->reqid);
	msg_add_str(&m, q->env.id);
	msg_add_fd(&m, fd);
	if (channel_send(ch, &m) == -1) {
		(void)close(out);
		free(list);
		return -1;
	}
	msg_init(&m, IMSG_CRYPT_ENCRYPT, j->reqid);
	msg_add_str(&m, q->env.id);
	msg_add_str(&m, q->env.sender);
	msg_add_data(&m, list, len);
	msg_add_fd(&m, out);
	free(list);
	if (channel_send(ch, &m) == -1)
		return -1;
	(void)idmap_put(&encrypting, j->reqid, j);
	return 0;
}

void
relay_encrypted(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct job		*j;
	struct qmsg		*q;
	struct channel		*mta;
	char			 included[RELAY_MAX_RCPTS + 1], what[512];
	char			*dkim;
	uint32_t		 rewritten, send;
	uint64_t		 size;
	size_t			 i, n = 0, ninc, dests[RELAY_MAX_RCPTS];
	int			 fd;

	dkim = xcalloc(1, 8192);
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &rewritten);
	(void)msg_get_u32(&r, &send);
	(void)msg_get_u64(&r, &size);
	(void)msg_get_str(&r, included, sizeof(included));
	(void)msg_get_str(&r, what, sizeof(what));
	(void)msg_get_str(&r, dkim, 8192);
	if (msg_end(&r) == -1 || str_has_ctl(what) || send > CRYPT_REFUSE) {
		free(dkim);
		channel_bad_message(ch, imsg, "bad encryption answer");
		return;
	}
	if ((j = idmap_del(&encrypting, imsg->hdr.id)) == NULL ||
	    (q = qmsg_get(j->msgkey)) == NULL) {
		free(dkim);
		return;
	}
	if (strlen(included) != j->n || included[0] != '1' ||
	    strncmp(what, "error:", 6) == 0) {
		log_warnx("queue: %s: cryptod: %s", q->env.id, what[0] ?
		    what : "a wrong answer");
		free(dkim);
		job_end(j, what[0] ? what : "cryptod answered wrongly");
		dispatch_waiting();
		return;
	}
	/* The others wait for a copy of their own. */
	for (i = 0; i < j->n; i++)
		if (included[i] == '1')
			dests[n++] = j->dests[i];
	ninc = n;
	for (i = 0; i < j->n; i++)
		if (included[i] != '1')
			dests[n++] = j->dests[i];
	memcpy(j->dests, dests, j->n * sizeof(dests[0]));
	job_put_back(q, j, ninc);
	if (what[0] != '\0')
		log_info("queue: %s: %s", q->env.id, what);
	if (send == CRYPT_REFUSE) {
		/* The policy forbids a plaintext copy: the DSN says why. */
		for (i = 0; i < j->n; i++) {
			dest_failed(q, j->dests[i], what);
			j->answered[i] = 1;
		}
		free(dkim);
		job_end(j, what);
		dispatch_waiting();
		return;
	}
	j->verified_tls = send == CRYPT_SEND_VERIFIED_TLS;
	if (rewritten) {
		j->copy_size = size;
		j->copy_dkim = dkim;
		dkim = NULL;
	} else {
		(void)close(j->copy);
		j->copy = -1;
	}
	free(dkim);
	if ((mta = proc_peer(ROLE_MTA)) == NULL) {
		job_end(j, "the mta is not running");
		dispatch_waiting();
		return;
	}
	if (j->copy != -1)
		fd = fcntl(j->copy, F_DUPFD_CLOEXEC, 0);
	else if (queue_open_content(q, &fd) == -1)
		fd = -1;
	if (fd == -1) {
		job_end(j, "content unreadable");
		dispatch_waiting();
		return;
	}
	if (job_send(mta, q, j, fd) == -1)
		log_warnx("queue: %s: cannot reach the mta", q->env.id);
	relay_dispatch();
}

/* Take the first message waiting at the hop, with all its recipients
 * there, into one transaction. */
static void
hop_send(struct channel *ch, struct hop *h)
{
	struct due_relay	*dr;
	struct qmsg		*q;
	struct job		*j;
	uint64_t		 key;
	size_t			 i;
	int			 encrypt, fd;

	dr = STAILQ_FIRST(&h->due);
	key = dr->msgkey;
	if ((q = qmsg_get(key)) == NULL) {
		/* Cannot be: relay_forget() takes its entries. */
		STAILQ_REMOVE_HEAD(&h->due, entry);
		free(dr);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->forward = dr->dest < q->env.ndests && is_forward(q, dr->dest);
	/* Forwarded and not forwarded recipients differ in sender. */
	while ((dr = STAILQ_FIRST(&h->due)) != NULL && dr->msgkey == key &&
	    j->n < RELAY_MAX_RCPTS && (dr->dest >= q->env.ndests ||
	    is_forward(q, dr->dest) == j->forward)) {
		STAILQ_REMOVE_HEAD(&h->due, entry);
		q->relay_waiting--;
		if (dr->dest < q->env.ndests &&
		    q->env.dests[dr->dest].state == DEST_PENDING)
			j->dests[j->n++] = dr->dest;
		free(dr);
	}
	if (j->n == 0) {
		free(j);
		return;
	}
	j->copy = -1;
	encrypt = wants_encryption(q);
	if (!encrypt && queue_open_content(q, &fd) == -1) {
		for (i = 0; i < j->n; i++)
			dest_deferred(q, j->dests[i], "content unreadable");
		free(j);
		schedule(q);
		return;
	}
	j->reqid = queue_reqid();
	j->msgkey = key;
	j->hop = h;
	(void)idmap_put(&jobs, j->reqid, j);
	h->inflight++;
	inflight++;
	q->inflight++;
	if (encrypt) {
		if (encrypt_request(q, j) == -1)
			job_end(j, "cryptod is not reachable");
		return;
	}
	if (job_send(ch, q, j, fd) == -1)
		log_warnx("queue: %s: cannot reach the mta", q->env.id);
	/* On failure the channel is closing: relay_lost() takes it back. */
}

void
relay_dispatch(void)
{
	struct channel	*ch = proc_peer(ROLE_MTA);
	struct hop	*h, *next;

	if (ch == NULL)
		return;
	for (h = TAILQ_FIRST(&hops); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		while (h->inflight < per_hop && inflight < RELAY_MAX_INFLIGHT &&
		    !STAILQ_EMPTY(&h->due))
			hop_send(ch, h);
		hop_free_if_idle(h);
	}
}

/*
 * Answers.
 */

void
relay_result(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct job		*j;
	struct qmsg		*q;
	struct env_dest		*d;
	uint32_t		 index, res;
	char			 reply[ENV_MAX_ERROR], relay[512];
	size_t			 i;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &index);
	(void)msg_get_u32(&r, &res);
	(void)msg_get_str(&r, reply, sizeof(reply));
	(void)msg_get_str(&r, relay, sizeof(relay));
	if (msg_end(&r) == -1 || res > MTA_PERMFAIL) {
		channel_bad_message(ch, imsg, "bad result");
		return;
	}
	if ((j = idmap_get(&jobs, imsg->hdr.id)) == NULL ||
	    (q = qmsg_get(j->msgkey)) == NULL)
		return;
	for (i = 0; i < j->n; i++)
		if (j->dests[i] == index && !j->answered[i])
			break;
	if (i == j->n) {
		channel_bad_message(ch, imsg, "result for no recipient");
		return;
	}
	j->answered[i] = 1;
	d = &q->env.dests[index];
	switch (res) {
	case MTA_OK:
		d->state = DEST_DONE;
		d->error[0] = '\0';
		nsent++;
		log_info("queue: %s to=<%s> status=sent %s reply=%s",
		    q->env.id, d->address, relay, reply);
		break;
	case MTA_TEMPFAIL:
		dest_deferred(q, index, reply);
		break;
	default:
		dest_failed(q, index, reply);
		break;
	}
	/* It stays in memory while the job holds it (inflight). */
	qmsg_save(q);
}

static void
job_end(struct job *j, const char *why)
{
	struct qmsg	*q;
	size_t		 i;

	(void)idmap_del(&jobs, j->reqid);
	(void)idmap_del(&encrypting, j->reqid);
	if (j->copy != -1)
		(void)close(j->copy);
	free(j->copy_dkim);
	inflight--;
	/* The hop counts the job until the message is saved: a message
	 * that leaves now must not take the hop with it. */
	if ((q = qmsg_get(j->msgkey)) != NULL) {
		q->inflight--;
		for (i = 0; i < j->n; i++)
			if (!j->answered[i] &&
			    q->env.dests[j->dests[i]].state == DEST_PENDING)
				dest_deferred(q, j->dests[i], why);
		qmsg_save(q);
		if ((q = qmsg_get(j->msgkey)) != NULL)
			schedule(q);
	}
	j->hop->inflight--;
	hop_free_if_idle(j->hop);
	free(j);
}

void
relay_done(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct job		*j;

	msg_reader_init(&r, imsg);
	if (msg_end(&r) == -1) {
		channel_bad_message(ch, imsg, "bad done");
		return;
	}
	if ((j = idmap_get(&jobs, imsg->hdr.id)) == NULL)
		return;
	job_end(j, "the mta gave no answer");
	dispatch_waiting();
}

/* The mta went away: what the next hops had not taken is tried again. */
void
relay_lost(void)
{
	struct job	*j;

	while ((j = idmap_any(&jobs, NULL)) != NULL)
		job_end(j, "the mta stopped during the transaction");
}

unsigned
relay_inflight(void)
{
	return inflight;
}
