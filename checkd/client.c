/*
 * checkd: the checks of a client from outside. At connect, its DNS
 * block and allow lists, each asked on a worker of its own; at RCPT,
 * the greylist (greylist.c), with its exemptions: kept in checkd's
 * directory, or, when the directory is in PostgreSQL, in its database,
 * which authd asks for checkd.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unbound.h>

#include "addr.h"
#include "checkd.h"
#include "dns.h"
#include "greylist.h"
#include "idmap.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "senderauth.h"
#include "util.h"
#include "workq.h"

/* Greylisting. */
struct grey_job {
	uint64_t		 reqid;
	enum osms_role		 from;
	char			 ip[64], helo[256];
	char			 sender[ADDR_MAX_TEXT], rcpt[ADDR_MAX_TEXT];
	char			 hostname[256];	/* ours, for the worker */
	struct resolver		*res;
	struct authres		 ar;		/* SPF, for the exemption */
};
static struct greylist	*grey;
static unsigned long	 ngreylisted;

/* Triplets whose answer authd (the database) owes, by request id. */
static struct idmap	 grey_waiting;
static uint64_t		 grey_next_id = 1;

/* DNS block and allow lists: a query per list, on workers at once. */
#define DNSBL_MAX_LISTS	16
struct dnsbl_job {
	uint64_t		 reqid;
	enum osms_role		 from;
	char			 ip[64];
	struct resolver		*res;
	unsigned		 pending;
	int64_t			 score;
	char			 lists[256];	/* those that name it */
};
struct dnsbl_query {
	struct dnsbl_job	*job;
	char			 name[320];	/* reversed address + list */
	char			 list[256];
	int			 weight;
	int			 hit;
};

/*
 * Greylisting, at RCPT.
 */

static void
grey_answer(const struct grey_job *j, unsigned wait, const char *why)
{
	struct channel	*ch = proc_peer(j->from);
	struct msg	 m;

	if (wait > 0)
		ngreylisted++;
	if (ch == NULL)
		return;
	msg_init(&m, IMSG_GREY_RESULT, j->reqid);
	msg_add_str(&m, j->rcpt);
	msg_add_u32(&m, wait);
	msg_add_str(&m, why);
	(void)channel_send(ch, &m);
}

/* The database's turn: authd asks it; j waits (or passes). */
static void
grey_db_ask(struct grey_job *j, const char *net)
{
	struct grey_job	*w;
	struct msg	 m;
	char		 tkey[GREY_DB_KEY], ckey[GREY_DB_KEY];

	greylist_db_keys(net, j->sender, j->rcpt, tkey, ckey);
	msg_init(&m, IMSG_GREY_DB_REQ, grey_next_id);
	msg_add_str(&m, tkey);
	msg_add_str(&m, ckey);
	msg_add_u32(&m, checkd_set.grey_delay);
	msg_add_u32(&m, GREY_RETRY_WINDOW);
	msg_add_u32(&m, GREY_LIFETIME);
	msg_add_u32(&m, GREY_AWL_PASSES);
	if (proc_peer(ROLE_AUTHD) == NULL ||
	    channel_send(proc_peer(ROLE_AUTHD), &m) == -1) {
		grey_answer(j, 0, "the database is not there");
		return;
	}
	w = xmalloc(sizeof(*w));
	*w = *j;
	if (idmap_put(&grey_waiting, grey_next_id++, w) == -1) {
		free(w);
		grey_answer(j, 0, "too many waiting");
	}
}

void
client_grey_db_result(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct grey_job		*j;
	uint32_t		 ok, wait;

	if ((j = idmap_del(&grey_waiting, imsg->hdr.id)) == NULL)
		return;		/* answered already */
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &ok);
	(void)msg_get_u32(&r, &wait);
	if (msg_end(&r) == -1 || !ok)
		grey_answer(j, 0, "no answer from the database");
	else
		grey_answer(j, wait, wait > 0 ? "first attempt" : "");
	free(j);
}

void
client_authd_down(void)
{
	struct grey_job	*j;
	uint64_t	 id;

	while ((j = idmap_any(&grey_waiting, &id)) != NULL) {
		(void)idmap_del(&grey_waiting, id);
		grey_answer(j, 0, "authd went away");
		free(j);
	}
}

/* The triplet's turn, unless an exemption holds. */
static void
grey_decide(struct grey_job *j)
{
	char		 net[80];
	unsigned	 wait;

	greylist_net(j->ip, net, sizeof(net));
	if (checkd_set.grey_db) {
		grey_db_ask(j, net);
		return;
	}
	if (grey == NULL) {
		grey_answer(j, 0, "no greylist");
		return;
	}
	wait = greylist_check(grey, net, j->sender, j->rcpt,
	    checkd_set.grey_delay, time(NULL));
	grey_answer(j, wait, wait > 0 ? "first attempt" : "");
}

static void
grey_spf_work(void *arg)
{
	struct grey_job	*j = arg;
	struct sa_input	 in;

	memset(&in, 0, sizeof(in));
	in.ip = j->ip;
	in.helo = j->helo;
	in.sender = j->sender;
	in.hostname = j->hostname;
	in.from_domain = "";
	in.spf = 1;
	sa_check(j->res->ctx, &in, &j->ar);
}

static void
grey_spf_done(void *arg)
{
	struct grey_job	*j = arg;

	resolver_put(j->res);
	if (j->ar.spf == AR_PASS)
		grey_answer(j, 0, "exempt: SPF pass of a listed domain");
	else
		grey_decide(j);
	free(j);
}

void
client_grey_request(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct grey_job		*j = xcalloc(1, sizeof(*j));
	const char		*at;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, j->ip, sizeof(j->ip));
	(void)msg_get_str(&r, j->helo, sizeof(j->helo));
	(void)msg_get_str(&r, j->sender, sizeof(j->sender));
	(void)msg_get_str(&r, j->rcpt, sizeof(j->rcpt));
	if (msg_end(&r) == -1 || str_has_ctl(j->ip) || str_has_ctl(j->helo) ||
	    str_has_ctl(j->sender) || str_has_ctl(j->rcpt)) {
		free(j);
		channel_bad_message(ch, imsg, "bad greylist request");
		return;
	}
	j->reqid = imsg->hdr.id;
	j->from = ch->remote;
	str_lower(j->sender);
	if (!checkd_set.grey_on || netlist_match(checkd_set.grey_exempt,
	    j->ip)) {
		grey_answer(j, 0, checkd_set.grey_on ? "exempt network" : "");
		free(j);
		return;
	}
	/* Listed domains pass when SPF says the client sends their mail;
	 * the check needs the resolver, so a worker makes it. */
	at = strrchr(j->sender, '@');
	if (at != NULL && word_in_list(checkd_set.grey_spf, at + 1) &&
	    (j->res = resolver_get()) != NULL) {
		(void)osms_strlcpy(j->hostname, proc_conf()->hostname,
		    sizeof(j->hostname));
		workq_push(grey_spf_work, grey_spf_done, j);
		return;
	}
	grey_decide(j);
	free(j);
}

/*
 * DNS block and allow lists, at connect.
 */

/* The name to ask of a list: the address's reversed octets (IPv4) or
 * nibbles (IPv6), then the list. 0, or -1. */
static int
dnsbl_name(const char *ip, const char *list, char *out, size_t size)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	const unsigned char *b;
	size_t		 len = 0;
	int		 i, n;

	if (inet_pton(AF_INET, ip, &a4) == 1) {
		b = (const unsigned char *)&a4;
		n = snprintf(out, size, "%u.%u.%u.%u.%s", b[3], b[2], b[1],
		    b[0], list);
		return n < 0 || (size_t)n >= size ? -1 : 0;
	}
	if (inet_pton(AF_INET6, ip, &a6) != 1 || size < 64 + strlen(list) + 1)
		return -1;
	for (i = 15; i >= 0; i--) {
		n = snprintf(out + len, size - len, "%x.%x.",
		    a6.s6_addr[i] & 15, a6.s6_addr[i] >> 4);
		len += (size_t)n;
	}
	(void)osms_strlcpy(out + len, list, size - len);
	return 0;
}

static void
dnsbl_work(void *arg)
{
	struct dnsbl_query	*q = arg;
	struct ub_result	*res;
	int			 i;

	if (dns_query(q->job->res->ctx, q->name, DNS_T_A, &res) != DNS_FOUND)
		return;
	/* Listed: an address in 127.0.0.0/8, but not 127.255.255.x,
	 * which lists use to say they refuse to answer. */
	for (i = 0; i < 16 && res->data[i] != NULL; i++)
		if (res->len[i] == 4 && (unsigned char)res->data[i][0] == 127 &&
		    !((unsigned char)res->data[i][1] == 255 &&
		    (unsigned char)res->data[i][2] == 255))
			q->hit = 1;
	ub_resolve_free(res);
}

static void
dnsbl_done(void *arg)
{
	struct dnsbl_query	*q = arg;
	struct dnsbl_job	*j = q->job;
	struct channel		*ch;
	struct msg		 m;
	char			 w[300];
	size_t			 len;

	if (q->hit) {
		j->score += q->weight;
		len = strlen(j->lists);
		(void)snprintf(w, sizeof(w), "%s%s(%d)", len > 0 ? " " : "",
		    q->list, q->weight);
		(void)osms_strlcat(j->lists, w, sizeof(j->lists));
	}
	free(q);
	if (--j->pending > 0)
		return;
	resolver_put(j->res);
	if ((ch = proc_peer(j->from)) != NULL) {
		msg_init(&m, IMSG_DNSBL_RESULT, j->reqid);
		msg_add_u32(&m, j->score >=
		    (int64_t)checkd_set.dnsbl_threshold);
		msg_add_s64(&m, j->score);
		msg_add_str(&m, j->lists);
		(void)channel_send(ch, &m);
	}
	free(j);
}

void
client_dnsbl_request(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct dnsbl_job	*j = xcalloc(1, sizeof(*j));
	struct dnsbl_query	*q, *qs[DNSBL_MAX_LISTS];
	char			 word[300], *colon;
	const char		*p = checkd_set.dnsbl;
	size_t			 n = 0, i;
	struct msg		 m;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, j->ip, sizeof(j->ip));
	if (msg_end(&r) == -1 || str_has_ctl(j->ip)) {
		free(j);
		channel_bad_message(ch, imsg, "bad dnsbl request");
		return;
	}
	j->reqid = imsg->hdr.id;
	j->from = ch->remote;
	while (n < DNSBL_MAX_LISTS && list_next(&p, word, sizeof(word)) == 1) {
		if ((colon = strrchr(word, ':')) == NULL)
			continue;
		*colon++ = '\0';
		q = xcalloc(1, sizeof(*q));
		q->job = j;
		q->weight = (int)strtol(colon, NULL, 10);
		(void)osms_strlcpy(q->list, word, sizeof(q->list));
		if (dnsbl_name(j->ip, word, q->name, sizeof(q->name)) == -1) {
			free(q);
			continue;
		}
		qs[n++] = q;
	}
	if (n == 0 || (j->res = resolver_get()) == NULL) {
		for (i = 0; i < n; i++)
			free(qs[i]);
		msg_init(&m, IMSG_DNSBL_RESULT, j->reqid);
		msg_add_u32(&m, 0);
		msg_add_s64(&m, 0);
		msg_add_str(&m, "");
		(void)channel_send(ch, &m);
		free(j);
		return;
	}
	j->pending = (unsigned)n;
	for (i = 0; i < n; i++)
		workq_push(dnsbl_work, dnsbl_done, qs[i]);
}

/* The greylist, in the jail: opened when it is first wanted (never
 * when the database keeps it). */
void
client_grey_open(void)
{
	char	 err[256];

	if (grey_waiting.buckets == NULL)
		idmap_init(&grey_waiting);
	if (!checkd_set.grey_on || checkd_set.grey_db || grey != NULL)
		return;
	if ((grey = greylist_open("/greylist", err, sizeof(err))) == NULL)
		log_warnx("checkd: greylist: %s: nothing is greylisted", err);
	else
		log_info("checkd: greylist: %zu entries", greylist_size(grey));
}

void
client_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%lu greylisted%s", ngreylisted,
	    checkd_set.grey_db ? " (in the database)" : grey != NULL ? "" :
	    checkd_set.grey_on ? " (no greylist file)" : "");
}
