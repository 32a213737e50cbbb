/*
 * smtpd: shared between the role (smtp.c), the session state machine
 * (smtp_session.c) and the content checks (smtp_check.c).
 */
#ifndef SMTPD_SMTP_H
#define SMTPD_SMTP_H

#include <sys/socket.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "channel.h"
#include "envelope.h"
#include "listener.h"
#include "msg.h"

#define SMTP_MAX_SESSIONS	1000	/* then new clients get 421 */
#define SMTP_MAX_ERRORS		20	/* hard errors before 421 */
#define SMTP_MAX_COMMAND	512	/* RFC 5321 4.5.3.1.4, with CRLF */
#define SMTP_MAX_DESTS		10000	/* destinations of one message */
#define SMTP_AUTH_MECHS		"SCRAM-SHA-256 PLAIN LOGIN"
#define SMTP_AUTH_MAX_RESPONSE	2048	/* decoded SASL response */

/* The limits of the config slice (IMSG_CONF_SMTPD). */
struct smtp_limits {
	uint64_t	 max_message_size;
	uint32_t	 max_recipients;
	uint32_t	 max_line;	/* text lines, with CRLF */
	uint32_t	 timeout;	/* seconds */
	uint32_t	 sender_check;	/* MAIL FROM must be the user's */
	uint32_t	 max_messages_per_hour;	/* per user; 0: no limit */
	/* Per client address (its rate key); 0: no limit. */
	uint32_t	 max_client_sessions;	/* at once */
	uint32_t	 max_client_connections; /* a minute */
	uint32_t	 max_client_recipients;	/* a minute */
};

/* What smtpd does with scan results (IMSG_CONF_SMTPD_SCAN). */
struct smtp_scan {
	uint32_t	 enable;		/* 0: no scan at all */
	uint32_t	 timeout;		/* seconds */
	uint32_t	 action;		/* enum scan_action, inbound */
	uint32_t	 submission_action;	/* for authenticated users */
	uint32_t	 unscannable;		/* enum scan_fallback */
	uint32_t	 on_failure;
};

/* Sender checks of mail from outside (checkd). */
struct smtp_checks {
	uint32_t	 enable;
	uint32_t	 timeout;		/* seconds */
	uint32_t	 on_failure;		/* enum scan_fallback */
	uint32_t	 greylist;		/* RCPT asks checkd */
	uint32_t	 dnsbl;			/* connect asks checkd */
};

struct smtp_session;
struct check_run;

/* smtp.c */
extern struct smtp_limits	 smtp_limits;
extern struct smtp_scan		 smtp_scan;
extern struct smtp_checks	 smtp_checks;
/* Send a request to a linked role; -1 if that role is down. */
int		 smtp_peer_send(enum osms_role, struct msg *);
/* Register/forget a session under its id, for routing answers. */
void		 smtp_session_register(struct smtp_session *, uint64_t);
void		 smtp_session_unregister(uint64_t);
int		 smtp_session_count(void);
/* Messages an authenticated user sent in the last hour. */
int		 smtp_user_rate_allowed(const char *);
void		 smtp_user_rate_count(const char *);
/* Count a connection, or a recipient, of a client (its rate key): is it
 * within the limit of a minute? */
int		 smtp_client_connect_allowed(const char *key);
int		 smtp_client_rcpt_allowed(const char *key);

/* smtp_session.c */
void		 smtp_session_new(struct listener *, int,
		    const struct sockaddr_storage *, socklen_t);
void		 smtp_session_rcpt_dest(struct smtp_session *, struct imsg *);
void		 smtp_session_rcpt_end(struct smtp_session *, struct imsg *);
void		 smtp_session_queue_created(struct smtp_session *,
		    struct imsg *);
void		 smtp_session_queue_result(struct smtp_session *,
		    struct imsg *);
void		 smtp_session_auth_challenge(struct smtp_session *,
		    struct imsg *);
void		 smtp_session_auth_result(struct smtp_session *,
		    struct imsg *);
void		 smtp_session_sender_result(struct smtp_session *,
		    struct imsg *);
void		 smtp_session_grey_result(struct smtp_session *,
		    struct imsg *);
void		 smtp_session_dnsbl_result(struct smtp_session *,
		    struct imsg *);
/* A linked role went down: sessions waiting on it get a 4xx. */
void		 smtp_session_peer_down_all(enum osms_role);
/* Stop: every session is closed, uncommitted messages dropped. */
void		 smtp_session_shutdown_all(void);

/*
 * smtp_check.c: the content checks between the end of DATA and the
 * commit: each may accept, or refuse with a reply before 250 is sent
 * (scand and cryptod plug in here).
 */
enum check_verdict {
	CHECK_ACCEPT,
	CHECK_REJECT,		/* permanent: 5xx */
	CHECK_TEMPFAIL,		/* 4xx */
};

struct check_result {
	enum check_verdict	 verdict;
	int			 code;		/* 550, 451 ... */
	char			 status[8];	/* "5.7.1" */
	char			 text[400];
	/* for the envelope: the scan, and whether the message is held */
	char			 scanner[64];
	char			 virus[128];
	int			 quarantine;
	int			 junk;		/* to the Junk folders */
	char			 checks[512];	/* checkd's verdicts (the log) */
};

typedef void (*check_done_cb)(struct smtp_session *,
    const struct check_result *);

/* Run every check in order on the received message msgid; done is called
 * once, possibly later (a check may ask another role). */
void		 smtp_check_run(struct smtp_session *, const char *msgid,
		    check_done_cb);
/* Answers for a session's run (IMSG_QUEUE_OPENED, IMSG_SCAN_RESULT), a
 * failure (the queue could not open it, a role went away), and the end
 * of the session before the run was done. */
void		 smtp_check_opened(struct check_run *, struct imsg *);
void		 smtp_check_scanned(struct check_run *, struct imsg *);
void		 smtp_check_rewriting(struct check_run *, struct imsg *);
void		 smtp_check_crypted(struct check_run *, struct imsg *);
void		 smtp_check_sender(struct check_run *, struct imsg *);
void		 smtp_check_failed(struct check_run *, const char *why);
void		 smtp_check_cancel(struct check_run *);
/* A role the run may wait on went away. */
void		 smtp_check_peer_down(struct check_run *, enum osms_role);

/* smtp_session.c, for the checks */
struct check_run *smtp_session_check(struct smtp_session *);
void		 smtp_session_set_check(struct smtp_session *,
		    struct check_run *);
/* The client's address and HELO name. */
const char	*smtp_session_client(const struct smtp_session *);
const char	*smtp_session_helo(const struct smtp_session *);
/* The client's DNS list score, when lists score rather than block. */
int64_t		 smtp_session_dnsbl_score(const struct smtp_session *);
/* The authenticated user, "" for a stranger. */
const char	*smtp_session_user(const struct smtp_session *);
uint64_t	 smtp_session_id(const struct smtp_session *);
/* The sender, and the recipients as a comma list (cut to fit; rcpts
 * NULL: the sender only). */
void		 smtp_session_addresses(const struct smtp_session *, char *,
		    size_t, char *, size_t);
/* The addresses the message goes to outside (its relay destinations),
 * comma separated. */
void		 smtp_session_leaving(const struct smtp_session *, char *,
		    size_t);
/* The gateway rewrote the message: its new size. */
void		 smtp_session_set_size(struct smtp_session *, uint64_t);

#endif
