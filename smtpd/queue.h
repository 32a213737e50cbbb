/*
 * The queue role's inside, shared by its files: queue.c (the spool, the
 * schedule, local deliveries and bounces) and queue_relay.c (outbound
 * delivery through the mta, and DKIM signatures from cryptod).
 */
#ifndef OSMS_QUEUE_H
#define OSMS_QUEUE_H

#include <sys/queue.h>
#include <stdint.h>

#include <event2/event.h>

#include "envelope.h"

struct channel;
struct imsg;

/* A committed message. */
struct qmsg {
	TAILQ_ENTRY(qmsg)	 entry;
	uint64_t		 key;		/* the id as a number */
	struct envelope		 env;
	struct event		 timer;
	unsigned		 inflight;
	int			 check_dup;	/* after a crash: look first */
	char			*dkim;		/* its DKIM-Signature, "" none */
	uint64_t		 sign_reqid;	/* cryptod is signing it */
	unsigned		 relay_waiting;	/* its entries in hop queues */
};

/* queue.c */
int64_t		 now(void);
uint64_t	 queue_reqid(void);
struct qmsg	*qmsg_get(uint64_t key);
/* Write its state; it is freed (and gone) when nothing is pending. */
void		 qmsg_save(struct qmsg *);
void		 schedule(struct qmsg *);
void		 dispatch_waiting(void);
/* Log and set a destination's state; the caller saves. */
void		 dest_deferred(struct qmsg *, size_t, const char *why);
void		 dest_failed(struct qmsg *, size_t, const char *why);
int		 queue_open_content(const struct qmsg *, int *fd);
int		 queue_scratch(int *fd);
/* The header fields every copy gets: the virus scan's. */
#define QUEUE_MAX_HEADERS	512
void		 queue_headers(const struct qmsg *, char *, size_t);

/* queue_relay.c */
/* gateway: cryptod encrypts users' mail as it leaves */
void		 relay_conf_start(uint32_t connections_per_destination,
		    uint32_t gateway);
void		 relay_conf(struct imsg *);
void		 relay_srs_conf(struct imsg *);
/* A relay destination is due: 1 if it is queued for the mta (or for
 * its signature first), 0 if it must wait (try again later). */
int		 relay_due(struct qmsg *, size_t dest);
void		 relay_dispatch(void);
void		 relay_forget(struct qmsg *);
void		 relay_result(struct channel *, struct imsg *);
void		 relay_done(struct channel *, struct imsg *);
void		 relay_lost(void);
void		 relay_signed(struct channel *, struct imsg *);
void		 relay_encrypted(struct channel *, struct imsg *);
void		 relay_cryptod_up(void);
void		 relay_cryptod_down(void);
unsigned	 relay_inflight(void);

#endif
