/*
 * checkd's parts: the role (checkd.c), the checks of a message at the
 * end of its data (content.c), and the checks of a client, at connect
 * and RCPT (client.c). All of them resolve through one resolver.
 */
#ifndef OSMS_CHECKD_H
#define OSMS_CHECKD_H

#include <stdint.h>

#include "authres.h"
#include "channel.h"
#include "netlist.h"

struct ub_ctx;

/* A resolver and the jobs that use it: a reload makes a new one, and
 * the old one goes with its last job. */
struct resolver {
	struct ub_ctx	*ctx;
	unsigned	 refs;
};

/* The current resolver with a reference (NULL: none), and its end. */
struct resolver	*resolver_get(void);
void		 resolver_put(struct resolver *);

/* Spam scoring, as configured when a job started. */
struct spam_conf {
	uint32_t	 engine;		/* enum spam_engine_kind */
	char		 addr[256];		/* "": none */
	uint32_t	 reject, junk;		/* scores; 0: not by score */
	uint32_t	 on_failure;		/* enum scan_fallback */
	uint32_t	 timeout;
	unsigned	 refs;
};

/* What the parent's slice says, as the parts use it. */
struct checkd_settings {
	uint32_t		 spf, dkim, dmarc;	/* checks made */
	struct ar_policy	 policy;
	uint32_t		 grey_on, grey_delay;
	char			 grey_exempt[NETLIST_MAX];
	char			 grey_spf[1024];	/* domains */
	char			 dnsbl[1024];		/* LIST:WEIGHT ... */
	uint32_t		 dnsbl_threshold;
	char			 arc_trusted[1024];	/* sealers' domains */
	uint32_t		 grey_db;	/* the greylist is authd's */
	uint32_t		 spam_reject, spam_junk;	/* scores */
};
extern struct checkd_settings	 checkd_set;

/* content.c */
void	 content_request(struct channel *, struct imsg *);
/* Spam scoring from now on (sc->addr "": none). */
void	 content_spam_conf(const struct spam_conf *);
void	 content_state(char *, size_t);

/* client.c */
void	 client_grey_request(struct channel *, struct imsg *);
void	 client_dnsbl_request(struct channel *, struct imsg *);
void	 client_grey_db_result(struct imsg *);
/* authd went away: what waits on it passes. */
void	 client_authd_down(void);
/* The greylist, once in the jail, if greylisting is on. */
void	 client_grey_open(void);
void	 client_state(char *, size_t);

#endif
