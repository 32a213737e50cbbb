/*
 * checkd: the checks of a message from outside, at the end of its data:
 * SPF, DKIM and DMARC (senderauth.c) and what the policy makes of them
 * (authres.c), and, at the same time on another worker, its spam score
 * from rspamd (spam.c). The content comes as a read-only descriptor
 * that the queue opened; it is mapped once and read by both workers.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "arc.h"
#include "checkd.h"
#include "conf.h"
#include "dkim.h"
#include "dns.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "senderauth.h"
#include "spam.h"
#include "util.h"
#include "workq.h"

#define CHECKD_MAX_JOBS	10000		/* messages being checked */
#define CHECKD_MAX_RCPTS 100		/* recipients named to rspamd */

struct check_job {
	uint64_t		 reqid;
	enum osms_role		 from;
	char			 tag[64];
	char			 ip[64];
	char			 helo[256];
	char			 sender[ADDR_MAX_TEXT];
	char			 rcpts[4096];
	int			 fd;
	const char		*msg;		/* the content, mapped */
	size_t			 len;
	unsigned		 pending;	/* workers still at it */
	struct resolver		*res;
	/* The settings it started with: workers read no global. */
	struct ar_policy	 policy;
	uint32_t		 spf, dkim, dmarc;
	char			 arc_trusted[1024];
	char			 hostname[256];
	struct authres		 ar;
	enum ar_action		 action;
	char			 why[200];
	char			 methods[2048];
	char			 summary[512];
	struct spam_conf	*spam;		/* NULL: not scored */
	int			 scored;
	struct spam_result	 score;
	char			 spam_why[200];
	int64_t			 dnsbl;		/* the client's list score */
	char			 fields[1024];
};

static struct spam_conf	*spam_current;
static unsigned		 njobs;
static unsigned long	 nchecked, nrefused;

static void
spam_unref(struct spam_conf *sc)
{
	if (sc != NULL && --sc->refs == 0)
		free(sc);
}

/* A key for ARC: the TXT record at SELECTOR._domainkey.DOMAIN. */
static int
arc_key(const char *sel, const char *dom, char *out, size_t size, void *arg)
{
	char	 name[320];
	int	 n, count;

	n = snprintf(name, sizeof(name), "%s._domainkey.%s", sel, dom);
	if (n < 0 || (size_t)n >= sizeof(name))
		return -1;
	switch (dns_txt(arg, name, "", out, size, &count)) {
	case DNS_FOUND:
		return 0;
	case DNS_NONE:
		return -1;
	default:
		return -2;
	}
}

/* The sender checks, on a worker. */
static void
check_work(void *arg)
{
	struct check_job	*j = arg;
	struct sa_input		 in;
	struct arc_verdict	 arc;
	char			 from[AR_MAX_DOMAIN] = "";

	memset(&in, 0, sizeof(in));
	in.ip = j->ip;
	in.helo = j->helo;
	in.sender = j->sender;
	in.hostname = j->hostname;
	in.spf = j->spf != 0;
	in.dkim = j->dkim != 0 && j->msg != NULL;
	in.dmarc = j->dmarc != 0 && j->msg != NULL;
	in.from_domain = from;
	in.msg = j->msg;
	in.len = j->len;
	if (j->msg != NULL) {
		in.from_fields = dkim_from_count(in.msg, in.len);
		if (in.from_fields != 1 || dkim_from_domain(in.msg, in.len,
		    from, sizeof(from)) == -1)
			from[0] = '\0';
	}
	sa_check(j->res->ctx, &in, &j->ar);
	/* The forwarders' chain, with the keys DKIM's lookups find. */
	if (in.dkim) {
		arc_verify(j->msg, j->len, arc_key, j->res->ctx, &arc);
		j->ar.arc_checked = 1;
		j->ar.arc = arc.result == ARC_PASS ? AR_PASS : arc.result ==
		    ARC_NONE ? AR_NONE : arc.temp ? AR_TEMPERROR : AR_FAIL;
		j->ar.arc_sets = arc.sets;
		(void)osms_strlcpy(j->ar.arc_sealer, arc.sealer,
		    sizeof(j->ar.arc_sealer));
		j->ar.arc_trusted = arc.result == ARC_PASS &&
		    word_in_list(j->arc_trusted, arc.sealer);
	}
	j->action = authres_decide(&j->ar, &j->policy, j->why,
	    sizeof(j->why));
	if (authres_methods(&j->ar, j->sender, j->helo, j->methods,
	    sizeof(j->methods)) == -1)
		j->methods[0] = '\0';
	authres_summary(&j->ar, j->summary, sizeof(j->summary));
}

/* The spam score, on another worker at the same time. */
static void
spam_work(void *arg)
{
	struct check_job	*j = arg;
	struct spam_request	 rq;
	char			*list[CHECKD_MAX_RCPTS], *p, *save = NULL;

	memset(&rq, 0, sizeof(rq));
	rq.ip = j->ip;
	rq.helo = j->helo;
	rq.sender = j->sender;
	rq.hostname = j->hostname;
	rq.queue_id = j->tag;
	rq.length = j->len;
	rq.rcpts = (const char *const *)list;
	for (p = strtok_r(j->rcpts, ",", &save); p != NULL &&
	    rq.nrcpts < CHECKD_MAX_RCPTS; p = strtok_r(NULL, ",", &save))
		list[rq.nrcpts++] = p;
	if (j->msg == NULL)
		(void)osms_strlcpy(j->spam_why, "no content",
		    sizeof(j->spam_why));
	else
		j->scored = spam_score((enum spam_engine_kind)j->spam->engine,
		    j->spam->addr, &rq, j->msg, j->len,
		    (int)j->spam->timeout, &j->score, j->spam_why,
		    sizeof(j->spam_why)) == 0;
}

/* What the score makes of the message, and the fields that say it. */
static void
spam_verdict(struct check_job *j)
{
	const struct spam_conf	*sc = j->spam;
	enum ar_action		 a = AR_ACCEPT;
	char			 why[200] = "", s[96], dnsbl[48] = "";
	uint32_t		 reject = checkd_set.spam_reject;
	uint32_t		 junk = checkd_set.spam_junk;
	double			 total;
	size_t			 len;

	if (sc != NULL && !j->scored) {
		(void)snprintf(j->fields, sizeof(j->fields), "X-Spam-Status:"
		    " unscored (%.150s)\r\n", j->spam_why);
		(void)osms_strlcat(j->summary, " spam=unscored",
		    sizeof(j->summary));
		if (sc->on_failure != SCAN_ACCEPT) {
			a = AR_TEMPFAIL;
			(void)osms_strlcpy(why, "The spam filter is not"
			    " available; try again later", sizeof(why));
		}
	} else {
		/* The engine's score (if any) and the client's DNS lists'
		 * (dnsbl-action score) together. */
		total = (sc != NULL ? j->score.score : 0) + (double)j->dnsbl;
		if (j->dnsbl != 0)
			(void)snprintf(dnsbl, sizeof(dnsbl), " dnsbl=%lld",
			    (long long)j->dnsbl);
		if (strcmp(j->score.action, "reject") == 0 ||
		    (reject > 0 && total >= reject))
			a = AR_REJECT;
		else if (junk > 0 && total >= junk)
			a = AR_JUNK;
		if (a == AR_REJECT)
			(void)snprintf(why, sizeof(why), "Spam message"
			    " rejected (score %.2f)", total);
		(void)snprintf(j->fields, sizeof(j->fields), "X-Spam-Score:"
		    " %.2f\r\nX-Spam-Status: %s, score=%.2f junk=%u reject=%u"
		    "%s%s%s%s\r\n", total, a == AR_ACCEPT ? "No" : "Yes", total,
		    junk, reject, dnsbl, j->score.action[0] ? " action=\"" : "",
		    j->score.action, j->score.action[0] ? "\"" : "");
		if (j->score.symbols[0] != '\0') {
			len = strlen(j->fields);
			(void)snprintf(j->fields + len, sizeof(j->fields) - len,
			    "X-Spam-Symbols: %s\r\n", j->score.symbols);
		}
		(void)snprintf(s, sizeof(s), " spam=%.2f", total);
		(void)osms_strlcat(j->summary, s, sizeof(j->summary));
	}
	if (a > j->action) {
		j->action = a;
		(void)osms_strlcpy(j->why, why, sizeof(j->why));
	}
}

static void
check_done(void *arg)
{
	struct check_job	*j = arg;
	struct channel		*ch = proc_peer(j->from);
	struct msg		 m;

	if (--j->pending > 0)
		return;
	if (j->spam != NULL || j->dnsbl != 0)
		spam_verdict(j);
	njobs--;
	nchecked++;
	if (j->action == AR_REJECT)
		nrefused++;
	if (j->msg != NULL)
		(void)munmap((void *)(uintptr_t)j->msg, j->len);
	(void)close(j->fd);
	resolver_put(j->res);
	spam_unref(j->spam);
	if (ch != NULL) {
		msg_init(&m, IMSG_CHECK_RESULT, j->reqid);
		msg_add_str(&m, j->tag);
		msg_add_u32(&m, j->action);
		msg_add_str(&m, j->why);
		msg_add_str(&m, j->methods);
		msg_add_str(&m, j->summary);
		msg_add_u32(&m, (uint32_t)authres_from_verified(&j->ar));
		msg_add_str(&m, j->fields);
		(void)channel_send(ch, &m);
	}
	free(j);
}

/* No check now: smtpd's on-failure setting decides, at once. */
static void
check_unavailable(struct channel *ch, uint64_t reqid, const char *tag,
    const char *why)
{
	struct msg	 m;

	log_warnx("checkd: %s not checked: %s", tag, why);
	msg_init(&m, IMSG_CHECK_RESULT, reqid);
	msg_add_str(&m, tag);
	msg_add_u32(&m, CHECK_ACTION_ERROR);
	msg_add_str(&m, why);
	msg_add_str(&m, "");
	msg_add_str(&m, "");
	msg_add_u32(&m, 0);
	msg_add_str(&m, "");
	(void)channel_send(ch, &m);
}

void
content_request(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct check_job	*j = xcalloc(1, sizeof(*j));
	struct stat		 st;
	void			*map;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, j->tag, sizeof(j->tag));
	(void)msg_get_str(&r, j->ip, sizeof(j->ip));
	(void)msg_get_str(&r, j->helo, sizeof(j->helo));
	(void)msg_get_str(&r, j->sender, sizeof(j->sender));
	(void)msg_get_str(&r, j->rcpts, sizeof(j->rcpts));
	(void)msg_get_s64(&r, &j->dnsbl);
	j->fd = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || j->fd == -1 || str_has_ctl(j->tag) ||
	    str_has_ctl(j->ip) || str_has_ctl(j->helo) ||
	    str_has_ctl(j->sender) || str_has_ctl(j->rcpts)) {
		if (j->fd != -1)
			(void)close(j->fd);
		free(j);
		channel_bad_message(ch, imsg, "bad check request");
		return;
	}
	j->reqid = imsg->hdr.id;
	j->from = ch->remote;
	j->policy = checkd_set.policy;
	j->spf = checkd_set.spf;
	j->dkim = checkd_set.dkim;
	j->dmarc = checkd_set.dmarc;
	(void)osms_strlcpy(j->arc_trusted, checkd_set.arc_trusted,
	    sizeof(j->arc_trusted));
	(void)osms_strlcpy(j->hostname, proc_conf()->hostname,
	    sizeof(j->hostname));
	if (njobs >= CHECKD_MAX_JOBS || (j->res = resolver_get()) == NULL) {
		check_unavailable(ch, j->reqid, j->tag, njobs >=
		    CHECKD_MAX_JOBS ? "too many checks waiting" :
		    "the resolver is not set up");
		(void)close(j->fd);
		free(j);
		return;
	}
	/* Mapped once, read by both workers. */
	if (fstat(j->fd, &st) == 0 && st.st_size > 0 && (map = mmap(NULL,
	    (size_t)st.st_size, PROT_READ, MAP_PRIVATE, j->fd, 0)) !=
	    MAP_FAILED) {
		j->msg = map;
		j->len = (size_t)st.st_size;
	}
	njobs++;
	j->pending = 1;
	if ((j->spam = spam_current) != NULL) {
		spam_current->refs++;
		j->pending++;
		workq_push(spam_work, check_done, j);
	}
	workq_push(check_work, check_done, j);
}

void
content_spam_conf(const struct spam_conf *sc)
{
	/* Jobs keep the settings they started with. */
	spam_unref(spam_current);
	spam_current = NULL;
	if (sc->addr[0] != '\0') {
		spam_current = xmalloc(sizeof(*spam_current));
		*spam_current = *sc;
		spam_current->refs = 1;
	}
}

void
content_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%u checking, %lu checked, %lu refused",
	    njobs, nchecked, nrefused);
}
