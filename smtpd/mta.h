/*
 * The mta role's inside: transactions from the queue (mta.c), where
 * they go (mta_dns.c, libunbound with DNSSEC) and the SMTP client
 * sessions that carry them (mta_session.c).
 */
#ifndef OSMS_MTA_H
#define OSMS_MTA_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "addr.h"
#include "conf.h"
#include "dnsrr.h"
#include "envelope.h"
#include "mtasts.h"
#include "smtp_cmd.h"

#define MTA_MAX_TARGETS		16	/* addresses tried per transaction */
#define MTA_MAX_TLSA		8	/* TLSA records used per host */

struct mta_rcpt {
	uint32_t	 index;			/* the queue's dest index */
	char		 address[ADDR_MAX_TEXT];
	char		 orcpt[SMTP_ORCPT_MAX + 1];
	uint32_t	 notify;
	int		 accepted;		/* 250 to RCPT */
	int		 answered;		/* result sent */
};

/* Where a transaction goes: from the queue's route. */
struct mta_route {
	char		 domain[CONF_MAX_NAME];
	char		 host[CONF_MAX_NAME];	/* "" = by MX */
	uint32_t	 port;			/* 0 = 25 */
	uint32_t	 tls;			/* enum relay_tls */
	char		 user[CONF_MAX_NAME];
	char		 password[CONF_MAX_SECRET + 1];
};

/* One transaction: a message and its recipients at one next hop. */
struct mta_msg {
	TAILQ_ENTRY(mta_msg)	 entry;
	uint64_t		 reqid;
	int			 fd;		/* the content */
	char			 id[QUEUE_ID_LEN + 1];
	char			 sender[ADDR_MAX_TEXT];
	char			 envid[SMTP_ENVID_MAX + 1];
	uint32_t		 ret, body, smtputf8, requiretls;
	uint64_t		 size;
	char			*prepend;	/* header fields, CRLF ends */
	struct mta_route	 route;
	char			 key[CONF_MAX_NAME * 2 + 16];
	struct mta_rcpt		*rcpts;
	size_t			 nrcpts;
	int			 has_sts;	/* the domain's MTA-STS policy */
	struct sts_policy	 sts;
	uint64_t		 gen;		/* of the queue that asked */
};

/* A place to connect to: an address of an MX (or of the route's host). */
struct mta_target {
	char			 name[CONF_MAX_NAME];	/* for SNI, checks */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 secure;	/* MX and address by DNSSEC */
};

/* mta.c */
/* A recipient's answer to the queue (once). */
void	 mta_result(struct mta_msg *, struct mta_rcpt *, enum mta_result,
	    const char *reply, const char *relay);
/* Every recipient without an answer gets this one; the request ends. */
void	 mta_finish(struct mta_msg *, enum mta_result, const char *reply,
	    const char *relay);
/* 1 if the queue that asked for it is gone: its successor sends the
 * message again, so it must not go out from here. */
int	 mta_orphaned(const struct mta_msg *);
/* Resolve and connect for m, without reusing a session. */
void	 mta_connect_fresh(struct mta_msg *);
SSL_CTX	*mta_tls_ctx(void);
/* A non-blocking socket connecting to t (wait for it to be writable),
 * or -1 and errno. */
int	 mta_connect(const struct mta_target *);
struct io;
struct event;
/* Free what a connection has (an event, its io or bare socket). */
void	 mta_conn_close(struct io **, int *fd, struct event **);
int	 mta_timeout(void);

/* mta_dns.c */
enum dns_rc { DNS_OK, DNS_TEMPFAIL, DNS_PERMFAIL };
typedef void (*dns_targets_cb)(void *, enum dns_rc, const char *why,
	    const struct mta_target *, size_t);
typedef void (*dns_tlsa_cb)(void *, enum dns_rc, const char *why,
	    int secure, const struct tlsa_rec *, size_t);
/* Set up the resolver: forwarder ("" = the resolv.conf given), trust
 * anchor text (NULL = no DNSSEC). -1 and a log line on failure. */
int	 dns_setup(const char *resolver, const char *resolv_conf,
	    const char *trust_anchor);
/* The addresses for a route: the host's, or the domain's MX hosts' in
 * preference order (RFC 5321 5.1). The callback may come at once. */
void	 dns_targets(const struct mta_route *, dns_targets_cb, void *);
/* The TLSA records of _port._tcp.name (RFC 7672 2.2). */
void	 dns_tlsa(const char *name, uint16_t port, dns_tlsa_cb, void *);
#define DNS_MAX_TXT	4096
typedef void (*dns_txt_cb)(void *, enum dns_rc, const char *text);
/* The one TXT record of name that starts with prefix (NULL if none). */
void	 dns_txt(const char *name, const char *prefix, dns_txt_cb, void *);

/* mta_sts.c: the domain's policy, or NULL; the callback may come at once. */
typedef void (*sts_cb)(void *, const struct sts_policy *);
void	 sts_lookup(const char *domain, sts_cb, void *);

/* mta_session.c */
/* Start a session for msg: connect to the targets in turn. */
void	 session_start(struct mta_msg *, const struct mta_target *, size_t);
/* An idle session with this key takes msg: 1 if one did. */
int	 session_reuse(struct mta_msg *);
void	 session_state(char *, size_t);

#endif
