/*
 * mta: MTA-STS policies (RFC 8461). Before mail goes to a domain by MX,
 * its _mta-sts TXT record is looked up; a new id means the policy is
 * fetched again, over HTTPS from mta-sts.DOMAIN with a certificate that
 * verifies, through the same resolver. Policies are cached for their
 * max_age; a fetch that fails keeps the cached one (RFC 8461 5.1), and
 * with none cached the domain has no policy.
 *
 * The web server is hostile like any other: the reply is read with a
 * line limit, a size limit (mtasts.h) and a timeout, and only a 200
 * answer counts.
 */
#include <sys/queue.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "channel.h"
#include "io.h"
#include "log.h"
#include "mta.h"
#include "mtasts.h"
#include "util.h"

#define STS_CACHE_MAX		1000	/* domains remembered */
#define STS_FETCH_TIMEOUT	60	/* seconds (RFC 8461 3.3) */
#define STS_LINE_MAX		1024

struct sts_entry {
	TAILQ_ENTRY(sts_entry)	 entry;
	char			 domain[CONF_MAX_NAME];
	char			 id[STS_MAX_ID + 1];
	struct sts_policy	 policy;
	int64_t			 expires;
};

struct sts_fetch {
	char			 domain[CONF_MAX_NAME];
	char			 host[CONF_MAX_NAME + 8];
	char			 id[STS_MAX_ID + 1];
	sts_cb			 cb;
	void			*arg;
	struct mta_target	 targets[MTA_MAX_TARGETS];
	size_t			 ntargets, cur;
	int			 fd;
	struct event		*ev;
	struct io		*io;
	int			 state;		/* 0 status, 1 header, 2 body */
	struct buf		 body;
	long long		 length;	/* Content-Length, or -1 */
	size_t			 received;	/* body bytes as sent */
};

static TAILQ_HEAD(sts_cache, sts_entry) cache = TAILQ_HEAD_INITIALIZER(cache);
static unsigned			 ncache;

static struct sts_entry *
cache_find(const char *domain)
{
	struct sts_entry	*e;

	TAILQ_FOREACH(e, &cache, entry)
		if (strcmp(e->domain, domain) == 0) {
			if (e->expires > (int64_t)time(NULL))
				return e;
			TAILQ_REMOVE(&cache, e, entry);
			ncache--;
			free(e);
			return NULL;
		}
	return NULL;
}

static void
cache_put(const char *domain, const char *id, const struct sts_policy *p)
{
	struct sts_entry	*e;

	if ((e = cache_find(domain)) == NULL) {
		if (ncache == STS_CACHE_MAX) {
			e = TAILQ_LAST(&cache, sts_cache);
			TAILQ_REMOVE(&cache, e, entry);
			ncache--;
			free(e);
		}
		e = xcalloc(1, sizeof(*e));
		(void)osms_strlcpy(e->domain, domain, sizeof(e->domain));
		ncache++;
	} else
		TAILQ_REMOVE(&cache, e, entry);
	(void)osms_strlcpy(e->id, id, sizeof(e->id));
	e->policy = *p;
	e->expires = (int64_t)time(NULL) + p->max_age;
	TAILQ_INSERT_HEAD(&cache, e, entry);
}

/* The fetch ends: the new policy, or the cached one, or none. */
static void
fetch_end(struct sts_fetch *f, const struct sts_policy *p, const char *why)
{
	const struct sts_entry	*e;

	if (p != NULL) {
		cache_put(f->domain, f->id, p);
		log_info("mta: MTA-STS policy of %s (id %s): mode %s, max_age"
		    " %u", f->domain, f->id, p->mode == STS_MODE_ENFORCE ?
		    "enforce" : p->mode == STS_MODE_TESTING ? "testing" :
		    "none", p->max_age);
		f->cb(f->arg, p);
	} else {
		e = cache_find(f->domain);
		log_warnx("mta: MTA-STS policy of %s not fetched: %s%s",
		    f->domain, why, e != NULL ? "; the cached one stays" : "");
		f->cb(f->arg, e != NULL ? &e->policy : NULL);
	}
	mta_conn_close(&f->io, &f->fd, &f->ev);
	buf_free(&f->body);
	free(f);
}

static void	 fetch_next(struct sts_fetch *);

static void
fetch_failed(struct sts_fetch *f, const char *why)
{
	log_debug("mta: MTA-STS %s: %s", f->host, why);
	mta_conn_close(&f->io, &f->fd, &f->ev);
	if (++f->cur < f->ntargets)
		fetch_next(f);
	else
		fetch_end(f, NULL, why);
}

static void
fetch_parse(struct sts_fetch *f)
{
	struct sts_policy	 p;
	const char		*err;

	if (f->state != 2) {
		fetch_end(f, NULL, "the answer ended early");
		return;
	}
	if (sts_parse(f->body.data != NULL ? f->body.data : "", f->body.len,
	    &p, &err) == -1) {
		fetch_end(f, NULL, err);
		return;
	}
	fetch_end(f, &p, NULL);
}

/* A line of the HTTP answer: status, header fields, then the policy. */
static int
fetch_line(struct sts_fetch *f, const char *line, size_t len)
{
	switch (f->state) {
	case 0:
		/* RFC 8461 3.3: 200 only, no redirects followed. */
		if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 ||
		    strncmp(line + 8, " 200", 4) != 0)
			return -1;
		f->state = 1;
		return 0;
	case 1:
		if (len == 0)
			f->state = 2;
		else if (len > 15 && strncasecmp(line, "Content-Length:", 15) ==
		    0) {
			char	 v[24];
			size_t	 n = len - 15 < sizeof(v) - 1 ? len - 15 :
			    sizeof(v) - 1;

			memcpy(v, line + 15, n);
			v[n] = '\0';
			f->length = strtoll(v, NULL, 10);
			if (f->length < 0 || f->length > STS_MAX_POLICY)
				return -1;
		}
		return 0;
	default:
		if (buf_add(&f->body, line, len) == -1 ||
		    buf_addc(&f->body, '\n') == -1)
			return -1;
		return 0;
	}
}

static void
fetch_io(struct io *io, enum io_event ev, void *arg)
{
	struct sts_fetch	*f = arg;
	char			*line, rest[STS_LINE_MAX];
	size_t			 len;
	int			 flags;

	switch (ev) {
	case IO_TLSREADY:
		if (SSL_get_verify_result(io_ssl(io)) != X509_V_OK) {
			fetch_failed(f, "the certificate does not verify");
			return;
		}
		(void)io_printf(io, "GET /.well-known/mta-sts.txt HTTP/1.0\r\n"
		    "Host: %s\r\nUser-Agent: osms\r\n\r\n", f->host);
		break;
	case IO_DATAIN:
		for (;;) {
			switch (io_getline(io, &line, &len, &flags)) {
			case IO_LINE_NONE:
				return;
			case IO_LINE_TOOLONG:
				fetch_end(f, NULL, "a line is too long");
				return;
			case IO_LINE_OK:
				break;
			}
			if (f->state == 2)
				f->received += len + ((flags &
				    IO_LINE_BARE_LF) ? 1 : 2);
			if (fetch_line(f, line, len) == -1) {
				fetch_end(f, NULL, f->state == 0 ? "no 200 "
				    "answer" : "a bad header or a policy too"
				    " large");
				return;
			}
			/* All of it: no need to wait for the close, which
			 * many servers make without a TLS close_notify. */
			if (f->state == 2 && f->length >= 0 &&
			    f->received >= (size_t)f->length) {
				fetch_parse(f);
				return;
			}
		}
	case IO_DISCONNECTED:
		/* The last line may have no end. */
		len = io_read(io, rest, sizeof(rest));
		if (len > 0 && fetch_line(f, rest, len) == -1) {
			fetch_end(f, NULL, "the policy is too large");
			return;
		}
		fetch_parse(f);
		break;
	case IO_TIMEOUT:
		fetch_failed(f, "timed out");
		break;
	case IO_ERROR:
		/* A close without close_notify after a last line without
		 * its end: complete if Content-Length says so. */
		if (f->state == 2 && f->length >= 0 &&
		    f->received + io_inbuf(io) == (size_t)f->length) {
			len = io_read(io, rest, sizeof(rest));
			if (fetch_line(f, rest, len) == -1)
				fetch_end(f, NULL, "the policy is too large");
			else
				fetch_parse(f);
			return;
		}
		log_debug("mta: MTA-STS %s: %s", f->host, io_error(io));
		fetch_failed(f, "TLS or connection error");
		break;
	case IO_LOWAT:
		break;
	}
}

static void
fetch_connected(evutil_socket_t fd, short ev, void *arg)
{
	struct sts_fetch	*f = arg;
	SSL			*ssl;
	int			 err = 0;
	socklen_t		 len = sizeof(err);

	if ((ev & EV_TIMEOUT) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
	    &len) == -1 || err != 0) {
		fetch_failed(f, "cannot connect");
		return;
	}
	event_free(f->ev);
	f->ev = NULL;
	f->io = io_new(f->fd, STS_LINE_MAX, fetch_io, f);
	io_set_timeout(f->io, STS_FETCH_TIMEOUT);
	if ((ssl = SSL_new(mta_tls_ctx())) == NULL ||
	    SSL_set_tlsext_host_name(ssl, f->host) != 1 ||
	    SSL_set1_host(ssl, f->host) != 1) {
		SSL_free(ssl);
		fetch_failed(f, "TLS setup failed");
		return;
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	if (io_start_tls_client(f->io, ssl) == -1) {
		SSL_free(ssl);
		fetch_failed(f, "TLS setup failed");
	}
}

static void
fetch_next(struct sts_fetch *f)
{
	struct timeval	 tv = { STS_FETCH_TIMEOUT, 0 };

	f->state = 0;
	f->length = -1;
	f->received = 0;
	buf_reset(&f->body);
	if ((f->fd = mta_connect(&f->targets[f->cur])) == -1) {
		fetch_failed(f, strerror(errno));
		return;
	}
	if ((f->ev = event_new(osms_evbase, f->fd, EV_WRITE, fetch_connected,
	    f)) == NULL || event_add(f->ev, &tv) == -1)
		fatalx("mta: MTA-STS connect event");
}

static void
fetch_targets(void *arg, enum dns_rc rc, const char *why,
    const struct mta_target *t, size_t n)
{
	struct sts_fetch	*f = arg;

	if (rc != DNS_OK) {
		fetch_end(f, NULL, why);
		return;
	}
	memcpy(f->targets, t, n * sizeof(*t));
	f->ntargets = n;
	fetch_next(f);
}

/*
 * The lookup.
 */

struct sts_lookup {
	char		 domain[CONF_MAX_NAME];
	sts_cb		 cb;
	void		*arg;
};

static void
txt_found(void *arg, enum dns_rc rc, const char *text)
{
	struct sts_lookup	*l = arg;
	struct sts_entry	*e = cache_find(l->domain);
	struct sts_fetch	*f;
	struct mta_route	 r;
	char			 id[STS_MAX_ID + 1];

	if (rc != DNS_OK || text == NULL ||
	    sts_txt_id(text, strlen(text), id, sizeof(id)) == -1) {
		/* No (valid) record: a cached policy still holds. */
		l->cb(l->arg, e != NULL ? &e->policy : NULL);
		free(l);
		return;
	}
	if (e != NULL && strcmp(e->id, id) == 0) {
		l->cb(l->arg, &e->policy);
		free(l);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->fd = -1;
	f->cb = l->cb;
	f->arg = l->arg;
	(void)osms_strlcpy(f->domain, l->domain, sizeof(f->domain));
	(void)osms_strlcpy(f->id, id, sizeof(f->id));
	(void)snprintf(f->host, sizeof(f->host), "mta-sts.%s", l->domain);
	buf_init(&f->body, STS_MAX_POLICY);
	free(l);
	memset(&r, 0, sizeof(r));
	(void)osms_strlcpy(r.host, f->host, sizeof(r.host));
	r.port = 443;
	dns_targets(&r, fetch_targets, f);
}

void
sts_lookup(const char *domain, sts_cb cb, void *arg)
{
	struct sts_lookup	*l = xcalloc(1, sizeof(*l));
	char			 name[CONF_MAX_NAME + 16];

	(void)osms_strlcpy(l->domain, domain, sizeof(l->domain));
	l->cb = cb;
	l->arg = arg;
	(void)snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	dns_txt(name, "v=STSv1", txt_found, l);
}
