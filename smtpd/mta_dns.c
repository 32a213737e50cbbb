/*
 * mta: where a transaction goes, through libunbound. With a trust
 * anchor every answer is validated (DNSSEC): a bogus answer defers the
 * mail, a secure one may carry DANE TLSA records (RFC 7672).
 *
 * RFC 5321 5.1: the MX hosts in preference order (equal ones in random
 * order), the domain itself when it has no MX (implicit MX), and RFC
 * 7505: a null MX means the domain takes no mail. Answers are hostile
 * like any network input: names are parsed with bounds, and at most
 * MTA_MAX_MX hosts and MTA_MAX_TARGETS addresses are used.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>
#include <unbound.h>

#include "channel.h"
#include "dnsrr.h"
#include "log.h"
#include "mta.h"
#include "resolver.h"
#include "util.h"

#define MTA_MAX_MX	10
#define DNS_TYPE_A	1
#define DNS_TYPE_TXT	16
#define DNS_TYPE_MX	15
#define DNS_TYPE_AAAA	28
#define DNS_TYPE_TLSA	52
#define DNS_CLASS_IN	1

struct mx_host {
	char		 name[CONF_MAX_NAME];
	uint16_t	 pref;
	uint32_t	 rnd;		/* order among equal preferences */
	int		 done[2];	/* A, AAAA answered */
	int		 secure[2];
	int		 tempfail;
	size_t		 naddr;
	struct mta_target addrs[4];
};

struct targets_job {
	struct mta_route	 route;
	dns_targets_cb		 cb;
	void			*arg;
	int			 mx_secure;
	struct mx_host		 hosts[MTA_MAX_MX];
	size_t			 nhosts;
	unsigned		 pending;
};

struct tlsa_job {
	dns_tlsa_cb		 cb;
	void			*arg;
};

struct txt_job {
	dns_txt_cb		 cb;
	void			*arg;
	char			 prefix[32];
};

/* One query in flight: which job, and what it asks. */
struct query {
	struct targets_job	*job;
	size_t			 host;
	int			 v6;
};

static struct ub_ctx	*ub;
static struct event	*ub_ev;

static void
ub_readable(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (ub != NULL && ub_process(ub) != 0)
		log_warnx("mta: ub_process failed");
}

int
dns_setup(const char *resolver, const char *resolv_conf,
    const char *trust_anchor)
{
	struct ub_ctx	*ctx;

	if ((ctx = resolver_new(resolver, resolv_conf, trust_anchor, 1,
	    "mta")) == NULL)
		return -1;
	if (ub_ev != NULL)
		event_free(ub_ev);
	if (ub != NULL)
		ub_ctx_delete(ub);
	ub = ctx;
	if ((ub_ev = event_new(osms_evbase, ub_fd(ub), EV_READ | EV_PERSIST,
	    ub_readable, NULL)) == NULL || event_add(ub_ev, NULL) == -1)
		fatalx("mta: resolver event");
	return 0;
}

/*
 * Targets.
 */

static int
host_cmp(const void *a, const void *b)
{
	const struct mx_host	*x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->rnd < y->rnd ? -1 : x->rnd > y->rnd;
}

static void
targets_end(struct targets_job *j)
{
	struct mta_target	 t[MTA_MAX_TARGETS];
	size_t			 n = 0, h, a;
	int			 tempfail = 0;

	for (h = 0; h < j->nhosts; h++) {
		tempfail |= j->hosts[h].tempfail;
		for (a = 0; a < j->hosts[h].naddr && n < MTA_MAX_TARGETS;
		    a++) {
			t[n] = j->hosts[h].addrs[a];
			/* DANE needs the MX and the address secure. */
			t[n].secure = j->mx_secure && j->hosts[h].secure[0] &&
			    (j->hosts[h].done[1] ? j->hosts[h].secure[1] : 1);
			n++;
		}
	}
	if (n > 0)
		j->cb(j->arg, DNS_OK, "", t, n);
	else if (tempfail)
		j->cb(j->arg, DNS_TEMPFAIL, "4.4.3 cannot resolve the"
		    " address of any mail host (DNS)", NULL, 0);
	else
		j->cb(j->arg, DNS_PERMFAIL, "5.1.2 no address for any mail"
		    " host of the domain", NULL, 0);
	explicit_wipe(&j->route, sizeof(j->route));
	free(j);
}

static void
addr_done(void *arg, int err, struct ub_result *res)
{
	struct query	*qr = arg;
	struct targets_job *j = qr->job;
	struct mx_host	*h = &j->hosts[qr->host];
	int		 v6 = qr->v6, i;
	uint16_t	 port = j->route.port ? (uint16_t)j->route.port : 25;

	free(qr);
	h->done[v6] = 1;
	if (err != 0 || res == NULL || res->bogus ||
	    (res->rcode != 0 && !res->nxdomain))
		h->tempfail = 1;
	else {
		h->secure[v6] = res->secure;
		for (i = 0; res->havedata && res->data[i] != NULL &&
		    h->naddr < sizeof(h->addrs) / sizeof(h->addrs[0]); i++) {
			struct mta_target *t = &h->addrs[h->naddr];

			memset(t, 0, sizeof(*t));
			(void)osms_strlcpy(t->name, h->name, sizeof(t->name));
			if (!v6 && res->len[i] == 4) {
				struct sockaddr_in *sin = (void *)&t->ss;

				sin->sin_family = AF_INET;
				sin->sin_port = htons(port);
				memcpy(&sin->sin_addr, res->data[i], 4);
				t->sslen = sizeof(*sin);
			} else if (v6 && res->len[i] == 16) {
				struct sockaddr_in6 *sin6 = (void *)&t->ss;

				sin6->sin6_family = AF_INET6;
				sin6->sin6_port = htons(port);
				memcpy(&sin6->sin6_addr, res->data[i], 16);
				t->sslen = sizeof(*sin6);
			} else
				continue;
			h->naddr++;
		}
	}
	if (res != NULL)
		ub_resolve_free(res);
	if (--j->pending == 0)
		targets_end(j);
}

static void
resolve_hosts(struct targets_job *j)
{
	struct query	*qr;
	size_t		 h;
	int		 v6, rc;

	for (h = 0; h < j->nhosts; h++)
		for (v6 = 0; v6 < 2; v6++) {
			qr = xcalloc(1, sizeof(*qr));
			qr->job = j;
			qr->host = h;
			qr->v6 = v6;
			j->pending++;
			rc = ub_resolve_async(ub, j->hosts[h].name, v6 ?
			    DNS_TYPE_AAAA : DNS_TYPE_A, DNS_CLASS_IN, qr,
			    addr_done, NULL);
			if (rc != 0) {
				free(qr);
				j->pending--;
				j->hosts[h].tempfail = 1;
			}
		}
	if (j->pending == 0)
		targets_end(j);
}

static void
mx_done(void *arg, int err, struct ub_result *res)
{
	struct targets_job	*j = arg;
	const char		*why = NULL;
	enum dns_rc		 rc = DNS_TEMPFAIL;
	int			 i;

	if (err != 0 || res == NULL)
		why = "4.4.3 MX lookup failed";
	else if (res->bogus)
		why = "4.7.5 MX answer fails DNSSEC validation";
	else if (res->nxdomain) {
		rc = DNS_PERMFAIL;
		why = "5.1.2 the domain does not exist";
	} else if (res->rcode != 0)
		why = "4.4.3 MX lookup failed";
	else if (!res->havedata) {
		/* No MX: the domain is its own mail host (implicit MX). */
		j->nhosts = 1;
		(void)osms_strlcpy(j->hosts[0].name, j->route.domain,
		    sizeof(j->hosts[0].name));
		j->mx_secure = res->secure;
	} else {
		j->mx_secure = res->secure;
		for (i = 0; res->data[i] != NULL && j->nhosts < MTA_MAX_MX;
		    i++) {
			struct mx_host *h = &j->hosts[j->nhosts];

			if (res->len[i] < 0 || dnsrr_mx((unsigned char *)
			    res->data[i], (size_t)res->len[i], &h->pref,
			    h->name, sizeof(h->name)) == -1)
				continue;
			if (h->name[0] == '\0') {
				/* RFC 7505: "0 ." alone: no mail at all */
				rc = DNS_PERMFAIL;
				why = "5.1.10 the domain accepts no mail"
				    " (null MX)";
				break;
			}
			if (RAND_bytes((unsigned char *)&h->rnd,
			    sizeof(h->rnd)) != 1)
				h->rnd = (uint32_t)i;
			j->nhosts++;
		}
		if (why == NULL && j->nhosts == 0)
			why = "4.4.3 no usable MX record";
		qsort(j->hosts, j->nhosts, sizeof(j->hosts[0]), host_cmp);
	}
	if (res != NULL)
		ub_resolve_free(res);
	if (why != NULL) {
		j->cb(j->arg, rc, why, NULL, 0);
		explicit_wipe(&j->route, sizeof(j->route));
		free(j);
		return;
	}
	resolve_hosts(j);
}

void
dns_targets(const struct mta_route *r, dns_targets_cb cb, void *arg)
{
	struct targets_job	*j;
	struct mta_target	 t;
	uint16_t		 port = r->port ? (uint16_t)r->port : 25;
	struct sockaddr_in	*sin = (void *)&t.ss;
	struct sockaddr_in6	*sin6 = (void *)&t.ss;

	/* A configured address needs no DNS. */
	memset(&t, 0, sizeof(t));
	(void)osms_strlcpy(t.name, r->host, sizeof(t.name));
	if (inet_pton(AF_INET, r->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		t.sslen = sizeof(*sin);
		cb(arg, DNS_OK, "", &t, 1);
		return;
	}
	if (inet_pton(AF_INET6, r->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		t.sslen = sizeof(*sin6);
		cb(arg, DNS_OK, "", &t, 1);
		return;
	}
	if (ub == NULL) {
		cb(arg, DNS_TEMPFAIL, "4.4.3 no resolver", NULL, 0);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->route = *r;
	j->cb = cb;
	j->arg = arg;
	if (r->host[0] != '\0') {
		/* A configured name: no MX, and no DANE without DNSSEC. */
		j->nhosts = 1;
		j->mx_secure = 1;
		(void)osms_strlcpy(j->hosts[0].name, r->host,
		    sizeof(j->hosts[0].name));
		resolve_hosts(j);
		return;
	}
	if (ub_resolve_async(ub, r->domain, DNS_TYPE_MX, DNS_CLASS_IN, j,
	    mx_done, NULL) != 0) {
		free(j);
		cb(arg, DNS_TEMPFAIL, "4.4.3 MX lookup failed", NULL, 0);
	}
}

/*
 * TLSA (RFC 7672 2.2): usable records are DANE-TA(2) and DANE-EE(3)
 * with a SHA-256 or SHA-512 hash; PKIX usages are not for SMTP.
 */

static void
tlsa_done(void *arg, int err, struct ub_result *res)
{
	struct tlsa_job	*j = arg;
	struct tlsa_rec	 recs[MTA_MAX_TLSA];
	size_t		 n = 0;
	int		 i;

	if (err != 0 || res == NULL || res->bogus ||
	    (res->rcode != 0 && !res->nxdomain)) {
		j->cb(j->arg, DNS_TEMPFAIL, res != NULL && res->bogus ?
		    "4.7.5 TLSA answer fails DNSSEC validation" :
		    "4.4.3 TLSA lookup failed", 0, NULL, 0);
		goto done;
	}
	for (i = 0; res->havedata && res->data[i] != NULL &&
	    n < MTA_MAX_TLSA; i++)
		if (res->len[i] >= 0 && dnsrr_tlsa((unsigned char *)
		    res->data[i], (size_t)res->len[i], &recs[n]) == 1)
			n++;
	j->cb(j->arg, DNS_OK, "", res->secure, recs, n);
done:
	if (res != NULL)
		ub_resolve_free(res);
	free(j);
}

void
dns_tlsa(const char *name, uint16_t port, dns_tlsa_cb cb, void *arg)
{
	struct tlsa_job	*j;
	char		 qname[CONF_MAX_NAME + 16];

	(void)snprintf(qname, sizeof(qname), "_%u._tcp.%s", port, name);
	if (ub == NULL) {
		cb(arg, DNS_TEMPFAIL, "4.4.3 no resolver", 0, NULL, 0);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->cb = cb;
	j->arg = arg;
	if (ub_resolve_async(ub, qname, DNS_TYPE_TLSA, DNS_CLASS_IN, j,
	    tlsa_done, NULL) != 0) {
		free(j);
		cb(arg, DNS_TEMPFAIL, "4.4.3 TLSA lookup failed", 0, NULL, 0);
	}
}

/*
 * TXT: the one record that starts with a prefix ("v=STSv1"), its
 * strings joined; more than one such record counts as none (RFC 8461
 * 3.1).
 */

static void
txt_done(void *arg, int err, struct ub_result *res)
{
	struct txt_job	*j = arg;
	char		 text[DNS_MAX_TXT + 1], one[DNS_MAX_TXT + 1];
	size_t		 plen = strlen(j->prefix);
	int		 i, found = 0;

	if (err != 0 || res == NULL || res->bogus ||
	    (res->rcode != 0 && !res->nxdomain)) {
		j->cb(j->arg, DNS_TEMPFAIL, NULL);
		goto done;
	}
	for (i = 0; res->havedata && res->data[i] != NULL; i++) {
		if (res->len[i] < 0 || dnsrr_txt((unsigned char *)
		    res->data[i], (size_t)res->len[i], one, sizeof(one)) == -1 ||
		    strncmp(one, j->prefix, plen) != 0)
			continue;
		if (found++)
			break;
		memcpy(text, one, strlen(one) + 1);
	}
	j->cb(j->arg, DNS_OK, found == 1 ? text : NULL);
done:
	if (res != NULL)
		ub_resolve_free(res);
	free(j);
}

void
dns_txt(const char *name, const char *prefix, dns_txt_cb cb, void *arg)
{
	struct txt_job	*j;

	if (ub == NULL) {
		cb(arg, DNS_TEMPFAIL, NULL);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->cb = cb;
	j->arg = arg;
	(void)osms_strlcpy(j->prefix, prefix, sizeof(j->prefix));
	if (ub_resolve_async(ub, name, DNS_TYPE_TXT, DNS_CLASS_IN, j,
	    txt_done, NULL) != 0) {
		free(j);
		cb(arg, DNS_TEMPFAIL, NULL);
	}
}
