/*
 * queue: owns the spool, and schedules deliveries.
 *
 * User _osmsq, chrooted to the queue directory, no secrets. Peers:
 * parent, smtpd (new messages), delivery (local deliveries), authd (the
 * recipients of bounces), control (osmsctl queue), cryptod and scand
 * (later). Input: from osms roles only, still checked.
 *
 * A message is created for smtpd, which writes its content through the
 * descriptor it gets; its envelope arrives in messages; the commit makes
 * it durable (spool.c) before smtpd may say 250. Then each destination
 * is delivered, retried with a growing delay while it fails for a while,
 * and bounced to the sender when it fails for good or for too long.
 * Every change of state is written to the spool before it counts, so a
 * crash at any point loses nothing; a redelivery after a crash asks
 * delivery to look for an earlier copy first, so nothing arrives twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "dsn.h"
#include "envelope.h"
#include "idmap.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "queue.h"
#include "spool.h"
#include "util.h"
#include "workq.h"

#define QUEUE_RETRY_FIRST	60
#define DELIVERY_MAX_INFLIGHT	32
#define QUEUE_MAX_INCOMING	4096	/* messages being received */
#define QUEUE_WORKERS		4	/* threads flushing to disk */

TAILQ_HEAD(qmsg_list, qmsg);

/* A message being received: created, not committed. */
struct incoming {
	uint64_t		 key;
	uint64_t		 session;	/* smtpd's id for it */
	struct envelope		 env;
	int			 have_env;
	enum spool_result	 commit_rc;	/* set by the worker */
	char			 commit_err[256];
	char			 checks[512];	/* checkd's verdicts (the log) */
};

/* A delivery in flight. */
struct delivery {
	uint64_t		 reqid;
	uint64_t		 msgkey;
	size_t			 dest;
	TAILQ_ENTRY(delivery)	 entry;
};

/* A bounce waiting for authd to say where its recipient is. */
struct bounce {
	uint64_t		 reqid;
	struct envelope		 env;
	int			 fd;
};

static struct spool		 spool;
static int			 spool_rootfd = -1;
static struct qmsg_list		 queue = TAILQ_HEAD_INITIALIZER(queue);
static struct idmap		 messages;	/* key -> qmsg */
static struct idmap		 incoming;	/* key -> incoming */
static struct idmap		 deliveries;	/* reqid -> delivery */
static struct idmap		 bounces;	/* reqid -> bounce */
static unsigned			 ninflight;
static uint64_t			 next_reqid = 1;
/* Due destinations waiting for a free delivery slot. */
struct due {
	TAILQ_ENTRY(due)	 entry;
	uint64_t		 msgkey;
	size_t			 dest;
};
static TAILQ_HEAD(, due)	 waiting = TAILQ_HEAD_INITIALIZER(waiting);
static unsigned long		 ndelivered, nbounced, ncommitted;
static uint32_t			 delay_warning;	/* seconds; 0: none */
static uint32_t			 lifetime = QUEUE_LIFETIME;
static uint32_t			 max_retry = QUEUE_MAX_RETRY;

static void	 commit_work(void *);
static void	 commit_done(void *);
static void	 bounce_start(struct qmsg *, size_t, enum dsn_action);

static uint64_t
id_key(const char *id)
{
	return strtoull(id, NULL, 16);
}

int64_t
now(void)
{
	return (int64_t)time(NULL);
}

uint64_t
queue_reqid(void)
{
	return next_reqid++;
}

struct qmsg *
qmsg_get(uint64_t key)
{
	return idmap_get(&messages, key);
}

void
queue_headers(const struct qmsg *q, char *buf, size_t size)
{
	buf[0] = '\0';
	if (q->env.scanner[0] != '\0')
		(void)snprintf(buf, size, "X-Virus-Scanned: %s\r\n%s%s%s",
		    q->env.scanner, q->env.virus[0] ? "X-Virus: " : "",
		    q->env.virus, q->env.virus[0] ? "\r\n" : "");
}

int
queue_open_content(const struct qmsg *q, int *fd)
{
	const char	*err;

	if (spool_open_content(&spool, q->env.id, fd, &err) != SPOOL_OK) {
		log_warnx("queue: %s: content unreadable: %s", q->env.id, err);
		return -1;
	}
	return 0;
}

int
queue_scratch(int *fd)
{
	const char	*err;

	if (spool_scratch(&spool, fd, &err) != SPOOL_OK) {
		log_warnx("queue: no scratch file: %s", err);
		return -1;
	}
	return 0;
}

static struct qmsg *
qmsg_find(const char *id)
{
	if (!queue_id_valid(id))
		return NULL;
	return idmap_get(&messages, id_key(id));
}

static struct qmsg *
qmsg_add(struct envelope *env)
{
	struct qmsg	*q = xcalloc(1, sizeof(*q));

	q->env = *env;		/* takes the arrays */
	envelope_init(env);
	q->key = id_key(q->env.id);
	evtimer_assign(&q->timer, osms_evbase, NULL, NULL);
	if (idmap_put(&messages, q->key, q) == -1) {
		log_warnx("queue: %s is queued twice; keeping the first",
		    q->env.id);
		envelope_clear(&q->env);
		free(q);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&queue, q, entry);
	return q;
}

static void
qmsg_free(struct qmsg *q)
{
	struct due	*d, *next;

	for (d = TAILQ_FIRST(&waiting); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (d->msgkey == q->key) {
			TAILQ_REMOVE(&waiting, d, entry);
			free(d);
		}
	}
	relay_forget(q);
	(void)evtimer_del(&q->timer);
	(void)idmap_del(&messages, q->key);
	TAILQ_REMOVE(&queue, q, entry);
	envelope_clear(&q->env);
	free(q->dkim);
	free(q);
}

/* A worker removes a message that is done; no reply is needed. */
static void
remove_work(void *arg)
{
	char		*id = arg;
	const char	*err;

	if (spool_remove(&spool, id, &err) != SPOOL_OK)
		log_warnx("queue: %s: cannot remove: %s", id, err);
}

static void
remove_done(void *arg)
{
	log_info("queue: %s removed, all done", (char *)arg);
	free(arg);
}

/* Write the envelope's new state; the message leaves when all is done. */
void
qmsg_save(struct qmsg *q)
{
	const char	*err;

	if (envelope_done(&q->env) && q->inflight == 0) {
		/*
		 * Gone from memory now, from disk soon: if a crash comes
		 * first, recovery brings it back and every delivery finds
		 * its earlier copy.
		 */
		workq_push(remove_work, remove_done, xstrdup(q->env.id));
		qmsg_free(q);
		return;
	}
	if (spool_update(&spool, &q->env, &err) != SPOOL_OK)
		log_warnx("queue: %s: cannot save its state: %s", q->env.id,
		    err);
}

/*
 * Scheduling.
 */

static int64_t
retry_delay(uint32_t attempts)
{
	int64_t	 d = QUEUE_RETRY_FIRST;

	while (attempts-- > 1 && d < (int64_t)max_retry)
		d *= 2;
	return d < (int64_t)max_retry ? d : (int64_t)max_retry;
}

/* A destination failed for now: try again later, a bit later each time. */
void
dest_deferred(struct qmsg *q, size_t i, const char *why)
{
	struct env_dest	*d = &q->env.dests[i];

	d->attempts++;
	d->next_try = now() + retry_delay(d->attempts);
	(void)osms_strlcpy(d->error, why, sizeof(d->error));
	log_info("queue: %s to=<%s> status=deferred attempts=%u"
	    " retry_in=%" PRId64 "s reason=%s", q->env.id, d->address,
	    d->attempts, d->next_try - now(), why);
}

/* A destination failed for good: note it, and tell the sender. */
void
dest_failed(struct qmsg *q, size_t i, const char *why)
{
	struct env_dest	*d = &q->env.dests[i];

	d->state = DEST_FAILED;
	(void)osms_strlcpy(d->error, why, sizeof(d->error));
	log_info("queue: %s to=<%s> status=failed reason=%s", q->env.id,
	    d->address, why);
	bounce_start(q, i, DSN_FAILED);
}

/* When the message's delay warnings are due, or INT64_MAX if never. */
static int64_t
warn_time(const struct qmsg *q)
{
	if (delay_warning == 0 || (q->env.flags & (ENV_F_DELAYED |
	    ENV_F_BOUNCE)) || q->env.sender[0] == '\0')
		return INT64_MAX;
	return q->env.created + (int64_t)delay_warning;
}

/*
 * Once per message, after delay-warning: a "delayed" DSN for each
 * destination still pending whose recipient did not turn it off
 * (NOTIFY without DELAY; none given counts as FAILURE,DELAY).
 */
static int
warn_delayed(struct qmsg *q, int64_t t)
{
	const struct env_rcpt	*r;
	size_t			 i;

	if (t < warn_time(q))
		return 0;
	for (i = 0; i < q->env.ndests; i++) {
		if (q->env.dests[i].state != DEST_PENDING)
			continue;
		r = &q->env.rcpts[q->env.dests[i].rcpt];
		if (r->notify != 0 && !(r->notify & SMTP_NOTIFY_DELAY))
			continue;
		log_info("queue: %s to=<%s> status=delayed, warning the"
		    " sender", q->env.id, q->env.dests[i].address);
		bounce_start(q, i, DSN_DELAYED);
	}
	q->env.flags |= ENV_F_DELAYED;
	return 1;
}

static void
queue_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct qmsg	*q = arg;
	struct due	*d;
	int64_t		 t = now();
	size_t		 i;
	int		 changed = 0;

	(void)fd;
	(void)ev;
	if (t - q->env.created <= (int64_t)lifetime && warn_delayed(q, t))
		changed = 1;
	for (i = 0; i < q->env.ndests; i++) {
		struct env_dest *dest = &q->env.dests[i];

		if (dest->state != DEST_PENDING)
			continue;
		if (t - q->env.created > (int64_t)lifetime) {
			dest_failed(q, i, dest->error[0] ? dest->error :
			    "delivery time expired");
			changed = 1;
			continue;
		}
		if (dest->next_try > t)
			continue;
		if (dest->kind == DEST_RELAY) {
			/* Signed first (cryptod), then on to the mta. */
			if (relay_due(q, i))
				dest->next_try = INT64_MAX;
			continue;
		}
		/* Due: wait for a delivery slot (once). */
		TAILQ_FOREACH(d, &waiting, entry)
			if (d->msgkey == q->key && d->dest == i)
				break;
		if (d != NULL)
			continue;
		d = xcalloc(1, sizeof(*d));
		d->msgkey = q->key;
		d->dest = i;
		TAILQ_INSERT_TAIL(&waiting, d, entry);
		dest->next_try = INT64_MAX;	/* until it is answered */
	}
	if (changed) {
		qmsg_save(q);
		if (idmap_get(&messages, q->key) == NULL)
			return;		/* removed */
	}
	dispatch_waiting();
	schedule(q);
}

/* Arm the message's timer for its earliest due destination. */
void
schedule(struct qmsg *q)
{
	struct timeval	 tv = { 0, 0 };
	int64_t		 first = INT64_MAX, t = now();
	size_t		 i;

	if (q->env.flags & ENV_F_QUARANTINE) {
		/* Held until released: no delivery, no expiry. */
		(void)evtimer_del(&q->timer);
		return;
	}
	for (i = 0; i < q->env.ndests; i++) {
		const struct env_dest *d = &q->env.dests[i];

		if (d->state != DEST_PENDING)
			continue;
		if (d->next_try < first)
			first = d->next_try;
		if (q->env.created + (int64_t)lifetime + 1 < first)
			first = q->env.created + (int64_t)lifetime + 1;
		if (warn_time(q) < first)
			first = warn_time(q);
	}
	(void)evtimer_del(&q->timer);
	if (first == INT64_MAX)
		return;
	if (first > t)
		tv.tv_sec = (time_t)(first - t);
	evtimer_assign(&q->timer, osms_evbase, queue_timer, q);
	evtimer_add(&q->timer, &tv);
}

static void
dispatch(struct qmsg *q, size_t i)
{
	struct env_dest	*d = &q->env.dests[i];
	struct delivery	*dl;
	struct channel	*ch = proc_peer(ROLE_DELIVERY);
	struct msg	 m;
	char		 name[MAILDIR_MAX_NAME], headers[QUEUE_MAX_HEADERS];
	int		 fd;

	if (queue_open_content(q, &fd) == -1) {
		d->attempts++;
		d->next_try = now() + retry_delay(d->attempts);
		return;
	}
	/* Stable across retries, so a redelivery finds its copy. */
	(void)snprintf(name, sizeof(name), "%" PRId64 ".M%sD%zu.%.64s",
	    q->env.created, q->env.id, i, proc_conf()->hostname);
	dl = xcalloc(1, sizeof(*dl));
	dl->reqid = next_reqid++;
	dl->msgkey = q->key;
	dl->dest = i;
	msg_init(&m, IMSG_DELIVERY_REQ, dl->reqid);
	msg_add_u32(&m, (q->check_dup || d->attempts > 0 ?
	    DELIVERY_CHECK_DUP : 0) | (q->env.flags & ENV_F_JUNK ?
	    DELIVERY_JUNK : 0));
	msg_add_str(&m, q->env.id);
	msg_add_str(&m, q->env.sender);
	msg_add_str(&m, d->address);
	msg_add_str(&m, d->mailbox);
	msg_add_str(&m, name);
	msg_add_u64(&m, d->quota_bytes);
	msg_add_u64(&m, d->quota_messages);
	queue_headers(q, headers, sizeof(headers));
	msg_add_str(&m, headers);
	msg_add_fd(&m, fd);
	if (ch == NULL || channel_send(ch, &m) == -1) {
		free(dl);
		d->next_try = now() + 5;	/* delivery is restarting */
		return;
	}
	(void)idmap_put(&deliveries, dl->reqid, dl);
	q->inflight++;
	ninflight++;
}

void
dispatch_waiting(void)
{
	struct due	*d;
	struct qmsg	*q;

	while (ninflight < DELIVERY_MAX_INFLIGHT &&
	    proc_peer(ROLE_DELIVERY) != NULL &&
	    (d = TAILQ_FIRST(&waiting)) != NULL) {
		TAILQ_REMOVE(&waiting, d, entry);
		if ((q = idmap_get(&messages, d->msgkey)) != NULL &&
		    d->dest < q->env.ndests &&
		    q->env.dests[d->dest].state == DEST_PENDING) {
			dispatch(q, d->dest);
			if (q->env.dests[d->dest].next_try != INT64_MAX)
				schedule(q);	/* could not send */
		}
		free(d);
	}
	relay_dispatch();
}

static void
delivery_result(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct delivery		*dl;
	struct qmsg		*q;
	struct env_dest		*d;
	uint32_t		 res;
	uint64_t		 written;
	char			 text[ENV_MAX_ERROR];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &res);
	(void)msg_get_u64(&r, &written);
	(void)msg_get_str(&r, text, sizeof(text));
	if (msg_end(&r) == -1) {
		channel_bad_message(ch, imsg, "bad payload");
		return;
	}
	if ((dl = idmap_del(&deliveries, imsg->hdr.id)) == NULL)
		return;
	ninflight--;
	q = idmap_get(&messages, dl->msgkey);
	if (q == NULL || dl->dest >= q->env.ndests) {
		free(dl);
		dispatch_waiting();
		return;
	}
	q->inflight--;
	d = &q->env.dests[dl->dest];
	free(dl);
	switch (res) {
	case MAILDIR_OK:
	case MAILDIR_DUPLICATE:
		d->state = DEST_DONE;
		d->error[0] = '\0';
		ndelivered++;
		log_info("queue: %s to=<%s> status=delivered mailbox=%s"
		    " size=%" PRIu64 "%s", q->env.id, d->address, d->mailbox,
		    written, res == MAILDIR_DUPLICATE ? " (found earlier copy)" :
		    "");
		break;
	case MAILDIR_PERMFAIL:
		dest_failed(q, (size_t)(d - q->env.dests), text);
		break;
	default:
		dest_deferred(q, (size_t)(d - q->env.dests), text);
		break;
	}
	qmsg_save(q);
	dispatch_waiting();
}

/* Delivery went away: what it had in hand is retried, carefully. */
static void
delivery_lost(void)
{
	struct delivery	*dl;
	struct qmsg	*q;
	uint64_t	 id;
	size_t		 i;

	while ((dl = idmap_any(&deliveries, &id)) != NULL) {
		(void)idmap_del(&deliveries, id);
		if ((q = idmap_get(&messages, dl->msgkey)) != NULL &&
		    dl->dest < q->env.ndests) {
			q->inflight--;
			/* It may have written the copy before it died. */
			q->check_dup = 1;
			q->env.dests[dl->dest].next_try = now() + 1;
		}
		free(dl);
	}
	ninflight = 0;
	TAILQ_FOREACH(q, &queue, entry) {
		for (i = 0; i < q->env.ndests; i++)
			if (q->env.dests[i].next_try == INT64_MAX)
				q->env.dests[i].next_try = now() + 1;
		schedule(q);
	}
}

/*
 * Bounces.
 */

static void
bounce_start(struct qmsg *q, size_t i, enum dsn_action action)
{
	struct bounce	*b;
	struct env_rcpt	 rcpt;
	struct channel	*ch = proc_peer(ROLE_AUTHD);
	struct msg	 m;
	const char	*err;
	int		 contentfd;
	const struct env_rcpt *orig = &q->env.rcpts[q->env.dests[i].rcpt];

	if (q->env.sender[0] == '\0' || (q->env.flags & ENV_F_BOUNCE))
		return;		/* never bounce a bounce */
	if (action == DSN_FAILED && orig->notify != 0 &&
	    !(orig->notify & SMTP_NOTIFY_FAILURE))
		return;		/* the sender asked not to hear */
	b = xcalloc(1, sizeof(*b));
	envelope_init(&b->env);
	if (spool_create(&spool, b->env.id, &b->fd, &err) != SPOOL_OK)
		goto fail;
	if (spool_open_content(&spool, q->env.id, &contentfd, &err) !=
	    SPOOL_OK) {
		spool_abort(&spool, b->env.id);
		goto fail;
	}
	if (dsn_write(b->fd, &q->env, i, action, q->env.created +
	    (int64_t)lifetime, contentfd, proc_conf()->hostname,
	    &b->env.size, &err) == -1) {
		(void)close(contentfd);
		spool_abort(&spool, b->env.id);
		goto fail;
	}
	(void)close(contentfd);
	b->env.created = now();
	b->env.flags = ENV_F_BOUNCE;
	(void)osms_strlcpy(b->env.helo, proc_conf()->hostname,
	    sizeof(b->env.helo));
	(void)osms_strlcpy(b->env.client, "127.0.0.1", sizeof(b->env.client));
	memset(&rcpt, 0, sizeof(rcpt));
	(void)osms_strlcpy(rcpt.address, q->env.sender, sizeof(rcpt.address));
	rcpt.notify = SMTP_NOTIFY_NEVER;
	(void)envelope_add_rcpt(&b->env, &rcpt);
	b->reqid = next_reqid++;
	msg_init(&m, IMSG_AUTH_RCPT, b->reqid);
	msg_add_u32(&m, 0);
	msg_add_str(&m, q->env.sender);
	if (ch == NULL || channel_send(ch, &m) == -1) {
		err = "the directory is not available";
		spool_abort(&spool, b->env.id);
		goto fail;
	}
	(void)idmap_put(&bounces, b->reqid, b);
	return;
fail:
	log_warnx("queue: %s: cannot bounce to <%s>: %s", q->env.id,
	    q->env.sender, err);
	if (b->fd != -1)
		(void)close(b->fd);
	envelope_clear(&b->env);
	free(b);
}

static void
bounce_dest(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct bounce		*b;
	struct env_dest		 d;
	uint32_t		 kind;

	if ((b = idmap_get(&bounces, imsg->hdr.id)) == NULL)
		return;
	memset(&d, 0, sizeof(d));
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &kind);
	(void)msg_get_str(&r, d.address, sizeof(d.address));
	(void)msg_get_str(&r, d.mailbox, sizeof(d.mailbox));
	(void)msg_get_u64(&r, &d.quota_bytes);
	(void)msg_get_u64(&r, &d.quota_messages);
	if (msg_end(&r) == -1 || kind > DEST_RELAY)
		fatalx("bad IMSG_AUTH_RCPT_DEST from authd");
	d.kind = (enum dest_kind)kind;
	(void)envelope_add_dest(&b->env, &d);
}

static void
bounce_end(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct bounce		*b;
	struct env_dest		 d;
	struct qmsg		*q;
	uint32_t		 res;
	char			 text[256];
	const char		*err;

	if ((b = idmap_del(&bounces, imsg->hdr.id)) == NULL)
		return;
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &res);
	(void)msg_get_str(&r, text, sizeof(text));
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_AUTH_RCPT_END from authd");
	if (res == LOOKUP_NOTLOCAL) {
		memset(&d, 0, sizeof(d));
		d.kind = DEST_RELAY;
		(void)osms_strlcpy(d.address, b->env.rcpts[0].address,
		    sizeof(d.address));
		(void)envelope_add_dest(&b->env, &d);
	} else if (res != LOOKUP_OK || b->env.ndests == 0) {
		log_warnx("queue: bounce to <%s> dropped: %s",
		    b->env.rcpts[0].address, text[0] ? text : "no destination");
		spool_abort(&spool, b->env.id);
		goto done;
	}
	if (spool_commit(&spool, &b->env, &err) != SPOOL_OK) {
		log_warnx("queue: bounce to <%s> not queued: %s",
		    b->env.rcpts[0].address, err);
		spool_abort(&spool, b->env.id);
		goto done;
	}
	nbounced++;
	log_info("queue: %s queued: bounce to=<%s> size=%" PRIu64, b->env.id,
	    b->env.rcpts[0].address, b->env.size);
	if ((q = qmsg_add(&b->env)) != NULL)
		schedule(q);
done:
	(void)close(b->fd);
	envelope_clear(&b->env);
	free(b);
}

/*
 * Messages from smtpd.
 */

static void
queue_result(struct channel *ch, uint64_t session, uint32_t res,
    const char *id, const char *text)
{
	struct msg	 m;

	msg_init(&m, IMSG_QUEUE_RESULT, session);
	msg_add_u32(&m, res);
	msg_add_str(&m, id);
	msg_add_str(&m, text);
	(void)channel_send(ch, &m);
}

static void
smtpd_create(struct channel *ch, struct imsg *imsg)
{
	struct incoming	*in;
	struct msg	 m;
	const char	*err;
	enum spool_result rc;
	int		 fd;

	if (incoming.count >= QUEUE_MAX_INCOMING) {
		queue_result(ch, imsg->hdr.id, QUEUE_TEMPFAIL, "",
		    "too many messages in progress");
		return;
	}
	in = xcalloc(1, sizeof(*in));
	envelope_init(&in->env);
	if ((rc = spool_create(&spool, in->env.id, &fd, &err)) != SPOOL_OK) {
		log_warnx("queue: cannot create a message: %s", err);
		queue_result(ch, imsg->hdr.id, rc == SPOOL_NOSPACE ?
		    QUEUE_NOSPACE : QUEUE_TEMPFAIL, "", "");
		free(in);
		return;
	}
	in->key = id_key(in->env.id);
	in->session = imsg->hdr.id;
	(void)idmap_put(&incoming, in->key, in);
	msg_init(&m, IMSG_QUEUE_CREATED, imsg->hdr.id);
	msg_add_str(&m, in->env.id);
	msg_add_fd(&m, fd);
	(void)channel_send(ch, &m);
}

static struct incoming *
incoming_find(struct imsg *imsg, const char *id)
{
	struct incoming	*in;

	if (!queue_id_valid(id) ||
	    (in = idmap_get(&incoming, id_key(id))) == NULL ||
	    in->session != imsg->hdr.id)
		return NULL;
	return in;
}

static void
incoming_drop(struct incoming *in)
{
	spool_abort(&spool, in->env.id);
	(void)idmap_del(&incoming, in->key);
	envelope_clear(&in->env);
	free(in);
}

static void
smtpd_env(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct incoming		*in;
	struct envelope		 e;
	char			 id[QUEUE_ID_LEN + 1];
	uint32_t		 body, ret, utf8, reqtls, quarantine, junk;
	char			 checks[512];

	memset(&e, 0, sizeof(e));
	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	(void)msg_get_str(&r, e.sender, sizeof(e.sender));
	(void)msg_get_str(&r, e.helo, sizeof(e.helo));
	(void)msg_get_str(&r, e.client, sizeof(e.client));
	(void)msg_get_str(&r, e.tls, sizeof(e.tls));
	(void)msg_get_str(&r, e.auth, sizeof(e.auth));
	(void)msg_get_u32(&r, &body);
	(void)msg_get_u32(&r, &ret);
	(void)msg_get_u32(&r, &utf8);
	(void)msg_get_u32(&r, &reqtls);
	(void)msg_get_str(&r, e.envid, sizeof(e.envid));
	(void)msg_get_u64(&r, &e.size);
	(void)msg_get_str(&r, e.scanner, sizeof(e.scanner));
	(void)msg_get_str(&r, e.virus, sizeof(e.virus));
	(void)msg_get_u32(&r, &quarantine);
	(void)msg_get_u32(&r, &junk);
	(void)msg_get_str(&r, checks, sizeof(checks));
	if (msg_end(&r) == -1 || str_has_ctl(checks) ||
	    (in = incoming_find(imsg, id)) == NULL || in->have_env) {
		channel_bad_message(ch, imsg, "bad envelope");
		return;
	}
	(void)osms_strlcpy(in->env.sender, e.sender, sizeof(in->env.sender));
	(void)osms_strlcpy(in->env.helo, e.helo, sizeof(in->env.helo));
	(void)osms_strlcpy(in->env.client, e.client, sizeof(in->env.client));
	(void)osms_strlcpy(in->env.tls, e.tls, sizeof(in->env.tls));
	(void)osms_strlcpy(in->env.auth, e.auth, sizeof(in->env.auth));
	(void)osms_strlcpy(in->env.envid, e.envid, sizeof(in->env.envid));
	in->env.body = body;
	in->env.ret = ret;
	in->env.smtputf8 = utf8 != 0;
	in->env.requiretls = reqtls != 0;
	in->env.size = e.size;
	(void)osms_strlcpy(in->env.scanner, e.scanner,
	    sizeof(in->env.scanner));
	(void)osms_strlcpy(in->env.virus, e.virus, sizeof(in->env.virus));
	if (quarantine)
		in->env.flags |= ENV_F_QUARANTINE;
	if (junk)
		in->env.flags |= ENV_F_JUNK;
	(void)osms_strlcpy(in->checks, checks, sizeof(in->checks));
	in->env.created = now();
	in->have_env = 1;
}

/* The content received so far, read only, for the virus scan. */
static void
smtpd_open(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct msg		 m;
	const char		*err;
	char			 id[QUEUE_ID_LEN + 1];
	int			 fd;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	if (msg_end(&r) == -1 || incoming_find(imsg, id) == NULL) {
		channel_bad_message(ch, imsg, "bad open");
		return;
	}
	if (spool_open_tmp(&spool, id, &fd, &err) != SPOOL_OK) {
		log_warnx("queue: %s: cannot open for the scan: %s", id, err);
		queue_result(ch, imsg->hdr.id, QUEUE_TEMPFAIL, id,
		    "the queue cannot read the message");
		return;
	}
	msg_init(&m, IMSG_QUEUE_OPENED, imsg->hdr.id);
	msg_add_str(&m, id);
	msg_add_fd(&m, fd);
	(void)channel_send(ch, &m);
}

/* A new content for the gateway to write (cryptod, through smtpd). */
static void
smtpd_rewrite(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct msg		 m;
	const char		*err;
	char			 id[QUEUE_ID_LEN + 1];
	int			 fd;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	if (msg_end(&r) == -1 || incoming_find(imsg, id) == NULL) {
		channel_bad_message(ch, imsg, "bad rewrite");
		return;
	}
	if (spool_rewrite_open(&spool, id, &fd, &err) != SPOOL_OK) {
		log_warnx("queue: %s: cannot rewrite: %s", id, err);
		queue_result(ch, imsg->hdr.id, QUEUE_TEMPFAIL, id,
		    "the queue cannot rewrite the message");
		return;
	}
	msg_init(&m, IMSG_QUEUE_REWRITING, imsg->hdr.id);
	msg_add_str(&m, id);
	msg_add_fd(&m, fd);
	(void)channel_send(ch, &m);
}

static void
smtpd_rewritten(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	const char		*err;
	char			 id[QUEUE_ID_LEN + 1];
	uint32_t		 keep;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	(void)msg_get_u32(&r, &keep);
	if (msg_end(&r) == -1 || incoming_find(imsg, id) == NULL) {
		channel_bad_message(ch, imsg, "bad rewritten");
		return;
	}
	/* A failure answers: smtpd then refuses with 451, since its idea
	 * of the size is the new content's. */
	if (spool_rewrite_end(&spool, id, keep != 0, &err) != SPOOL_OK) {
		log_warnx("queue: %s: the rewrite is lost: %s", id, err);
		queue_result(ch, imsg->hdr.id, QUEUE_TEMPFAIL, id,
		    "the queue cannot keep the rewritten message");
	}
}

static void
smtpd_rcpt(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct incoming		*in;
	struct env_rcpt		 rc;
	char			 id[QUEUE_ID_LEN + 1];

	memset(&rc, 0, sizeof(rc));
	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	(void)msg_get_str(&r, rc.address, sizeof(rc.address));
	(void)msg_get_str(&r, rc.orcpt, sizeof(rc.orcpt));
	(void)msg_get_u32(&r, &rc.notify);
	if (msg_end(&r) == -1 || (in = incoming_find(imsg, id)) == NULL ||
	    envelope_add_rcpt(&in->env, &rc) == -1) {
		channel_bad_message(ch, imsg, "bad recipient");
		return;
	}
}

static void
smtpd_dest(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct incoming		*in;
	struct env_dest		 d;
	char			 id[QUEUE_ID_LEN + 1];
	uint32_t		 kind;

	memset(&d, 0, sizeof(d));
	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	(void)msg_get_u32(&r, &d.rcpt);
	(void)msg_get_u32(&r, &kind);
	(void)msg_get_str(&r, d.address, sizeof(d.address));
	(void)msg_get_str(&r, d.mailbox, sizeof(d.mailbox));
	(void)msg_get_u64(&r, &d.quota_bytes);
	(void)msg_get_u64(&r, &d.quota_messages);
	d.kind = (enum dest_kind)kind;
	d.state = DEST_PENDING;
	if (msg_end(&r) == -1 || kind > DEST_RELAY ||
	    (in = incoming_find(imsg, id)) == NULL ||
	    d.rcpt >= in->env.nrcpts ||
	    envelope_add_dest(&in->env, &d) == -1) {
		channel_bad_message(ch, imsg, "bad destination");
		return;
	}
}

static void
smtpd_commit(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct incoming		*in;
	char			 id[QUEUE_ID_LEN + 1];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	if (msg_end(&r) == -1 || (in = incoming_find(imsg, id)) == NULL ||
	    !in->have_env || in->env.ndests == 0) {
		channel_bad_message(ch, imsg, "bad commit");
		return;
	}
	/* The commit is the job's now: nothing else may touch it. */
	(void)idmap_del(&incoming, in->key);
	in->commit_rc = SPOOL_TEMPFAIL;
	workq_push(commit_work, commit_done, in);
}

/* In a worker: the fsyncs and renames of spool_commit(). */
static void
commit_work(void *arg)
{
	struct incoming	*in = arg;
	const char	*err = NULL;

	in->commit_rc = spool_commit(&spool, &in->env, &err);
	(void)osms_strlcpy(in->commit_err, err != NULL ? err : "",
	    sizeof(in->commit_err));
}

/* Back in the loop: only now may smtpd say 250. */
static void
commit_done(void *arg)
{
	struct incoming	*in = arg;
	struct channel	*ch = proc_peer(ROLE_SMTPD);
	struct qmsg	*q;
	const char	*id = in->env.id;
	size_t		 i;

	if (in->commit_rc != SPOOL_OK) {
		log_warnx("queue: %s: commit failed: %s", id, in->commit_err);
		if (ch != NULL)
			queue_result(ch, in->session, in->commit_rc ==
			    SPOOL_NOSPACE ? QUEUE_NOSPACE : QUEUE_TEMPFAIL, id,
			    "");
		spool_abort(&spool, id);
		envelope_clear(&in->env);
		free(in);
		return;
	}
	ncommitted++;
	/* A new smtpd (after a crash) does not know the id: harmless. */
	if (ch != NULL)
		queue_result(ch, in->session, QUEUE_OK, id, "");
	log_info("queue: %s queued from=<%s> rcpts=%zu destinations=%zu"
	    " size=%" PRIu64 " client=%s%s%s%s%s%s%s", id, in->env.sender,
	    in->env.nrcpts, in->env.ndests, in->env.size, in->env.client,
	    in->env.scanner[0] ? " scan=" : "", in->env.scanner,
	    in->env.flags & ENV_F_QUARANTINE ? " quarantined, virus=" : "",
	    in->env.flags & ENV_F_QUARANTINE ? in->env.virus : "",
	    in->checks[0] ? " checks: " : "", in->checks);
	for (i = 0; i < in->env.nrcpts; i++)
		log_debug("queue: %s rcpt=<%s>", id, in->env.rcpts[i].address);
	q = qmsg_add(&in->env);
	free(in);
	if (q != NULL)
		schedule(q);
}

static void
smtpd_abort(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct incoming		*in;
	char			 id[QUEUE_ID_LEN + 1];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	if (msg_end(&r) == -1) {
		channel_bad_message(ch, imsg, "bad abort");
		return;
	}
	if ((in = incoming_find(imsg, id)) != NULL)
		incoming_drop(in);
}

/* smtpd went away: what it was receiving will never be committed. */
static void
smtpd_lost(void)
{
	struct incoming	*in;

	while ((in = idmap_any(&incoming, NULL)) != NULL)
		incoming_drop(in);
}

/*
 * osmsctl queue.
 */

static void
ctl_text(struct channel *ch, uint64_t id, const char *text)
{
	struct msg	 m;

	msg_init(&m, IMSG_CTL_TEXT, id);
	msg_add_str(&m, text);
	(void)channel_send(ch, &m);
}

static void
ctl_result(struct channel *ch, uint64_t id, int ok, const char *text)
{
	struct msg	 m;

	msg_init(&m, IMSG_CTL_RESULT, id);
	msg_add_u32(&m, ok ? 1 : 0);
	msg_add_str(&m, text);
	(void)channel_send(ch, &m);
}

static const char *
dest_state_name(const struct env_dest *d)
{
	if (d->state == DEST_DONE)
		return "delivered";
	if (d->state == DEST_FAILED)
		return "failed";
	return d->kind == DEST_RELAY ? "pending (outbound)" : "pending";
}

/* A time for osmsctl: ISO 8601 UTC, "now" if due, "running", or "". */
static void
iso_time(int64_t when, char *buf, size_t size)
{
	struct tm	 tm;
	time_t		 t = (time_t)when;

	buf[0] = '\0';
	if (when == -1)
		(void)osms_strlcpy(buf, "running", size);
	else if (when > 0 && when <= now())
		(void)osms_strlcpy(buf, "now", size);
	else if (when > 0 && (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0))
		(void)osms_strlcpy(buf, "?", size);
}

static void
ctl_list(struct channel *ch, uint64_t id)
{
	struct qmsg	*q;
	char		 line[1024], when[32];
	size_t		 i, pending;
	int64_t		 next;
	struct tm	 tm;
	time_t		 t;

	ctl_text(ch, id, "ID                CREATED              SIZE"
	    "       PENDING  SENDER");
	TAILQ_FOREACH(q, &queue, entry) {
		pending = 0;
		next = INT64_MAX;
		for (i = 0; i < q->env.ndests; i++)
			if (q->env.dests[i].state == DEST_PENDING) {
				pending++;
				if (q->env.dests[i].next_try < next)
					next = q->env.dests[i].next_try;
			}
		t = (time_t)q->env.created;
		if (gmtime_r(&t, &tm) == NULL || strftime(when, sizeof(when),
		    "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			(void)osms_strlcpy(when, "?", sizeof(when));
		(void)snprintf(line, sizeof(line), "%s  %s  %-9" PRIu64
		    "  %zu/%zu    <%s>", q->env.id, when, q->env.size, pending,
		    q->env.ndests, q->env.sender);
		ctl_text(ch, id, line);
	}
	(void)snprintf(line, sizeof(line), "%u messages", (unsigned)
	    messages.count);
	ctl_result(ch, id, 1, line);
}

static void
ctl_show(struct channel *ch, uint64_t id, const char *msgid)
{
	struct qmsg	*q;
	char		 line[2048], next[32];
	size_t		 i;

	if ((q = qmsg_find(msgid)) == NULL) {
		ctl_result(ch, id, 0, "no such message in the queue");
		return;
	}
	(void)snprintf(line, sizeof(line), "id: %s", q->env.id);
	ctl_text(ch, id, line);
	(void)snprintf(line, sizeof(line), "created: %" PRId64, q->env.created);
	ctl_text(ch, id, line);
	(void)snprintf(line, sizeof(line), "sender: <%s>", q->env.sender);
	ctl_text(ch, id, line);
	(void)snprintf(line, sizeof(line), "size: %" PRIu64, q->env.size);
	ctl_text(ch, id, line);
	(void)snprintf(line, sizeof(line), "client: %s (helo %s)%s%s",
	    q->env.client, q->env.helo, q->env.tls[0] ? ", " : "",
	    q->env.tls);
	ctl_text(ch, id, line);
	for (i = 0; i < q->env.nrcpts; i++) {
		(void)snprintf(line, sizeof(line), "recipient: <%s>",
		    q->env.rcpts[i].address);
		ctl_text(ch, id, line);
	}
	for (i = 0; i < q->env.ndests; i++) {
		const struct env_dest *d = &q->env.dests[i];

		iso_time(d->state != DEST_PENDING ? 0 : d->next_try ==
		    INT64_MAX ? -1 : d->next_try, next, sizeof(next));
		(void)snprintf(line, sizeof(line), "destination: <%s> %s"
		    " attempts=%u%s%s%s%s%s", d->address, dest_state_name(d),
		    d->attempts, next[0] ? " next=" : "", next,
		    d->mailbox[0] ? " mailbox=" : "", d->mailbox,
		    d->error[0] ? " error=" : "");
		if (d->error[0])
			(void)osms_strlcat(line, d->error, sizeof(line));
		ctl_text(ch, id, line);
	}
	ctl_result(ch, id, 1, "");
}

static void
ctl_remove(struct channel *ch, uint64_t id, const char *msgid)
{
	struct qmsg	*q;
	const char	*err;

	if ((q = qmsg_find(msgid)) == NULL) {
		ctl_result(ch, id, 0, "no such message in the queue");
		return;
	}
	if (q->inflight > 0) {
		ctl_result(ch, id, 0, "a delivery of it is in progress; try"
		    " again in a moment");
		return;
	}
	if (spool_remove(&spool, q->env.id, &err) != SPOOL_OK) {
		ctl_result(ch, id, 0, err);
		return;
	}
	log_info("queue: %s removed by osmsctl", q->env.id);
	qmsg_free(q);
	ctl_result(ch, id, 1, "removed");
}

/*
 * One message's pending deliveries: due now (schedule), or failed now,
 * each bounced as if its time had run out (expire).
 */
static void
ctl_schedule(struct channel *ch, uint64_t id, const char *msgid, int expire)
{
	struct qmsg	*q;
	uint64_t	 key;
	size_t		 i, n = 0;
	char		 text[96];

	if ((q = qmsg_find(msgid)) == NULL) {
		ctl_result(ch, id, 0, "no such message in the queue");
		return;
	}
	if (expire && q->inflight > 0) {
		ctl_result(ch, id, 0, "a delivery of it is in progress; try"
		    " again in a moment");
		return;
	}
	for (i = 0; i < q->env.ndests; i++) {
		if (q->env.dests[i].state != DEST_PENDING)
			continue;
		if (expire)
			dest_failed(q, i, q->env.dests[i].error[0] ?
			    q->env.dests[i].error : "expired by the "
			    "administrator");
		else if (q->env.dests[i].next_try != INT64_MAX)
			q->env.dests[i].next_try = 0;
		n++;
	}
	log_info("queue: %s: %s by osmsctl", q->env.id, expire ? "expired" :
	    "scheduled");
	(void)snprintf(text, sizeof(text), "%zu deliveries %s", n, expire ?
	    "failed and bounced" : "due now");
	key = q->key;
	if (expire && n > 0)
		qmsg_save(q);	/* removes it when nothing is left */
	if ((q = idmap_get(&messages, key)) != NULL)
		schedule(q);
	ctl_result(ch, id, 1, text);
}

static void
ctl_flush(struct channel *ch, uint64_t id)
{
	struct qmsg	*q;
	size_t		 i, n = 0;
	char		 text[64];

	TAILQ_FOREACH(q, &queue, entry) {
		for (i = 0; i < q->env.ndests; i++)
			if (q->env.dests[i].state == DEST_PENDING &&
			    q->env.dests[i].next_try != INT64_MAX) {
				q->env.dests[i].next_try = 0;
				n++;
			}
		schedule(q);
	}
	log_info("queue: flush requested by osmsctl");
	(void)snprintf(text, sizeof(text), "%zu deliveries due now", n);
	ctl_result(ch, id, 1, text);
}

/*
 * osmsctl quarantine: messages held for a virus, listed, shown,
 * released (delivered, with their X-Virus field) or deleted.
 */
static void
ctl_quarantine(struct channel *ch, uint64_t id, uint32_t op,
    const char *msgid)
{
	struct qmsg	*q;
	char		 line[1024];
	uint64_t	 key;
	unsigned	 n = 0;

	if (op == QUAR_LIST) {
		ctl_text(ch, id, "ID                SIZE       SENDER  VIRUS");
		TAILQ_FOREACH(q, &queue, entry) {
			if (!(q->env.flags & ENV_F_QUARANTINE))
				continue;
			(void)snprintf(line, sizeof(line), "%s  %-9" PRIu64
			    "  <%s>  %s", q->env.id, q->env.size,
			    q->env.sender, q->env.virus);
			ctl_text(ch, id, line);
			n++;
		}
		(void)snprintf(line, sizeof(line), "%u quarantined", n);
		ctl_result(ch, id, 1, line);
		return;
	}
	if ((q = qmsg_find(msgid)) == NULL ||
	    !(q->env.flags & ENV_F_QUARANTINE)) {
		ctl_result(ch, id, 0, "no such message in the quarantine");
		return;
	}
	switch (op) {
	case QUAR_SHOW:
		ctl_show(ch, id, msgid);
		break;
	case QUAR_RELEASE:
		q->env.flags &= ~(uint32_t)ENV_F_QUARANTINE;
		log_info("queue: %s released from the quarantine by osmsctl",
		    q->env.id);
		key = q->key;
		qmsg_save(q);	/* removes it when nothing is left */
		if ((q = idmap_get(&messages, key)) != NULL)
			schedule(q);
		ctl_result(ch, id, 1, "released");
		break;
	default:
		ctl_remove(ch, id, msgid);
		break;
	}
}

static void
queue_ctl(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 version, op = 0;
	char			 msgid[64] = "";

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &version);
	if (imsg->hdr.type == IMSG_CTL_QUARANTINE)
		(void)msg_get_u32(&r, &op);
	if (imsg->hdr.type == IMSG_CTL_QUARANTINE ||
	    imsg->hdr.type == IMSG_CTL_QUEUE_SHOW ||
	    imsg->hdr.type == IMSG_CTL_QUEUE_REMOVE ||
	    imsg->hdr.type == IMSG_CTL_QUEUE_SCHEDULE ||
	    imsg->hdr.type == IMSG_CTL_QUEUE_EXPIRE)
		(void)msg_get_str(&r, msgid, sizeof(msgid));
	if (msg_end(&r) == -1) {
		channel_bad_message(ch, imsg, "bad request");
		return;
	}
	if (version != OSMS_IMSG_VERSION) {
		ctl_result(ch, imsg->hdr.id, 0, "versions differ");
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_CTL_QUEUE_LIST:
		ctl_list(ch, imsg->hdr.id);
		break;
	case IMSG_CTL_QUEUE_SHOW:
		ctl_show(ch, imsg->hdr.id, msgid);
		break;
	case IMSG_CTL_QUEUE_REMOVE:
		ctl_remove(ch, imsg->hdr.id, msgid);
		break;
	case IMSG_CTL_QUEUE_SCHEDULE:
	case IMSG_CTL_QUEUE_EXPIRE:
		ctl_schedule(ch, imsg->hdr.id, msgid,
		    imsg->hdr.type == IMSG_CTL_QUEUE_EXPIRE);
		break;
	case IMSG_CTL_QUARANTINE:
		if (op > QUAR_DELETE) {
			channel_bad_message(ch, imsg, "bad request");
			return;
		}
		ctl_quarantine(ch, imsg->hdr.id, op, msgid);
		break;
	default:
		ctl_flush(ch, imsg->hdr.id);
		break;
	}
}

/*
 * The role.
 */

static void
queue_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_QUEUE_CREATE:
		smtpd_create(ch, imsg);
		break;
	case IMSG_QUEUE_ENV:
		smtpd_env(ch, imsg);
		break;
	case IMSG_QUEUE_OPEN:
		smtpd_open(ch, imsg);
		break;
	case IMSG_QUEUE_REWRITE:
		smtpd_rewrite(ch, imsg);
		break;
	case IMSG_QUEUE_REWRITTEN:
		smtpd_rewritten(ch, imsg);
		break;
	case IMSG_QUEUE_RCPT:
		smtpd_rcpt(ch, imsg);
		break;
	case IMSG_QUEUE_DEST:
		smtpd_dest(ch, imsg);
		break;
	case IMSG_QUEUE_COMMIT:
		smtpd_commit(ch, imsg);
		break;
	case IMSG_QUEUE_ABORT:
		smtpd_abort(ch, imsg);
		break;
	case IMSG_DELIVERY_RESULT:
		delivery_result(ch, imsg);
		break;
	case IMSG_MTA_RESULT:
		relay_result(ch, imsg);
		break;
	case IMSG_MTA_DONE:
		relay_done(ch, imsg);
		break;
	case IMSG_CRYPT_ENCRYPTED:
		relay_encrypted(ch, imsg);
		break;
	case IMSG_CRYPT_DKIM_SIGNED:
		relay_signed(ch, imsg);
		break;
	case IMSG_AUTH_RCPT_DEST:
		bounce_dest(imsg);
		break;
	case IMSG_AUTH_RCPT_END:
		bounce_end(imsg);
		break;
	case IMSG_CTL_QUEUE_LIST:
	case IMSG_CTL_QUEUE_SHOW:
	case IMSG_CTL_QUEUE_REMOVE:
	case IMSG_CTL_QUEUE_FLUSH:
	case IMSG_CTL_QUEUE_SCHEDULE:
	case IMSG_CTL_QUEUE_EXPIRE:
	case IMSG_CTL_QUARANTINE:
		queue_ctl(ch, imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
queue_peer_up(enum osms_role role)
{
	if (role == ROLE_DELIVERY || role == ROLE_MTA)
		dispatch_waiting();
	if (role == ROLE_CRYPTOD)
		relay_cryptod_up();
}

static void
queue_peer_down(enum osms_role role)
{
	struct bounce	*b;

	switch (role) {
	case ROLE_SMTPD:
		smtpd_lost();
		break;
	case ROLE_DELIVERY:
		delivery_lost();
		break;
	case ROLE_MTA:
		relay_lost();
		break;
	case ROLE_CRYPTOD:
		relay_cryptod_down();
		break;
	case ROLE_AUTHD:
		/* Bounces waiting for an address: tried again next time
		 * the destination fails; the message itself is kept. */
		while ((b = idmap_any(&bounces, NULL)) != NULL) {
			(void)idmap_del(&bounces, b->reqid);
			spool_abort(&spool, b->env.id);
			(void)close(b->fd);
			envelope_clear(&b->env);
			free(b);
		}
		break;
	default:
		break;
	}
}

static void
recovered(struct envelope *env, void *arg)
{
	struct qmsg	*q;
	size_t		 i;

	(void)arg;
	if ((q = qmsg_add(env)) == NULL)
		return;
	/*
	 * The crash came after its last delivery was recorded but before
	 * it left (a job still open, or its removal not yet done): nothing
	 * would ever schedule it again.
	 */
	if (envelope_done(&q->env)) {
		log_info("queue: %s was done before the restart", q->env.id);
		qmsg_save(q);
		return;
	}
	/* The crash may have come between a delivery and its record. */
	q->check_dup = 1;
	/*
	 * A destination saved while it was being delivered (the state of
	 * another one changed meanwhile) says "running" (INT64_MAX): the
	 * queue that ran it is gone, so it is due now, or it would wait
	 * until its lifetime ends.
	 */
	for (i = 0; i < q->env.ndests; i++)
		if (q->env.dests[i].state == DEST_PENDING &&
		    q->env.dests[i].next_try == INT64_MAX)
			q->env.dests[i].next_try = 0;
	schedule(q);
}

static void
queue_conf(struct imsg *imsg)
{
	struct msg_reader	 r;

	uint32_t		 connections, gateway;

	if (imsg->hdr.type == IMSG_CONF_RELAY) {
		relay_conf(imsg);
		return;
	}
	if (imsg->hdr.type == IMSG_CONF_SRS) {
		relay_srs_conf(imsg);
		return;
	}
	if (imsg->hdr.type != IMSG_CONF_QUEUE)
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &delay_warning);
	(void)msg_get_u32(&r, &lifetime);
	(void)msg_get_u32(&r, &max_retry);
	(void)msg_get_u32(&r, &connections);
	(void)msg_get_u32(&r, &gateway);
	if (msg_end(&r) == -1 || lifetime == 0 || max_retry == 0)
		fatalx("bad IMSG_CONF_QUEUE");
	/* First in the slice: the routes that follow replace the old. */
	relay_conf_start(connections, gateway);
}

static void
queue_setup(void)
{
	/*
	 * Request ids from a random start, so that they differ from those
	 * of the queue before a restart: delivery, mta and cryptod may
	 * still answer its requests, and such an answer must not meet a
	 * request of ours (another message's result or content).
	 */
	arc4random_buf(&next_reqid, sizeof(next_reqid));
	next_reqid = (next_reqid >> 1) | 1;
	/* Opened before the chroot; everything after goes through it. */
	if ((spool_rootfd = open(proc_conf()->jail, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("queue: %s", proc_conf()->jail);
	idmap_init(&messages);
	idmap_init(&incoming);
	idmap_init(&deliveries);
	idmap_init(&bounces);
}

static void
queue_ready(void)
{
	struct spool_stats	 st;
	const char		*err;

	/* Threads after the sandbox: they inherit all of it. */
	workq_init(QUEUE_WORKERS);
	/* As _osmsq, so every file it makes is the queue's own. */
	if (spool_open(&spool, spool_rootfd, &err) != SPOOL_OK)
		fatalx("queue: cannot open the spool: %s", err);
	memset(&st, 0, sizeof(st));
	if (spool_recover(&spool, recovered, NULL, &st, &err) != SPOOL_OK)
		fatalx("queue: recovery failed: %s", err);
	log_info("queue: recovered %u messages, discarded %u uncommitted,"
	    " %u corrupt", st.committed, st.discarded, st.corrupt);
}

static void
queue_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%u queued, %u receiving, %u delivering,"
	    " %lu delivered, %lu bounced", (unsigned)messages.count,
	    (unsigned)incoming.count, ninflight, ndelivered, nbounced);
}

static const struct proc_ops queue_ops = {
	.role = ROLE_QUEUE,
	.conf = queue_conf,
	.setup = queue_setup,
	.ready = queue_ready,
	.dispatch_peer = queue_dispatch_peer,
	.peer_up = queue_peer_up,
	.peer_down = queue_peer_down,
	.state = queue_state,
};

int
main(int argc, char **argv)
{
	proc_main(&queue_ops, argc, argv);
}
