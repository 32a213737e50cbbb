/*
 * The pre-login side of IMAP and POP3 (imapd): a connection from accept
 * to a successful login, then the TLS proxy in front of the user's mail
 * session.
 *
 * login.c holds what both protocols share: TLS, the SASL exchange with
 * authd, the hand-off to the parent and the proxy. login_imap.c and
 * login_pop3.c speak the protocols until the login.
 */
#ifndef IMAPD_LOGIN_H
#define IMAPD_LOGIN_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "io.h"
#include "listener.h"

#define LOGIN_MAX_LINE		8192	/* a pre-login command line */
#define LOGIN_MAX_FAILURES	3	/* failed logins, then goodbye */
#define LOGIN_MAX_RESPONSE	8192	/* one decoded SASL response */
#define LOGIN_MECHS		"SCRAM-SHA-256 PLAIN LOGIN"
#define PROXY_HIGHWATER		(256 * 1024)	/* stop reading the other
						 * side past this */

enum login_state {
	LOGIN_TLS,		/* implicit TLS handshake */
	LOGIN_READY,		/* reading commands */
	LOGIN_STARTTLS,		/* reply flushing, then the handshake */
	LOGIN_SASL,		/* an exchange with authd in progress */
	LOGIN_HANDOFF,		/* waiting for the parent to start the
				 * session */
	LOGIN_PROXY,		/* relaying bytes to and from the session */
	LOGIN_CLOSING,		/* last reply flushing */
};

struct login;

/* What differs between IMAP and POP3. */
struct login_proto {
	void	(*greeting)(struct login *);
	/* A complete line from the client (LOGIN_READY or LOGIN_SASL). */
	void	(*line)(struct login *, char *, size_t, int flags);
	/* Bytes of a literal the protocol asked for (raw_need). */
	void	(*raw)(struct login *, const char *, size_t);
	/* authd's next challenge, to send base64-encoded. */
	void	(*challenge)(struct login *, const char *b64);
	/* The exchange ended other than with a session start. */
	void	(*auth_failed)(struct login *, uint32_t result,
		    const char *text);
	/* The parent could not start the session. */
	void	(*handoff_failed)(struct login *, const char *text);
	/* Said once before the connection closes (timeouts, shutdown). */
	void	(*bye)(struct login *, const char *why);
	/* Free pdata (NULL: free()). */
	void	(*free)(void *);
};

struct login {
	TAILQ_ENTRY(login)	 entry;
	uint64_t		 id;
	const struct login_proto *proto;
	enum listen_proto	 lproto;
	enum login_state	 state;
	struct io		*io;		/* the client (TLS inside) */
	SSL_CTX			*ctx;		/* NULL: no TLS here */
	enum listen_tls		 tlsmode;
	int			 tls;		/* TLS is on */
	char			 addr[64];	/* client address */
	unsigned		 failures;	/* failed logins */
	unsigned		 errors;	/* bad commands */
	char			 tag[128];	/* IMAP: of the login command */
	char			 user[256];	/* POP3 USER, or who logged in */
	void			*pdata;		/* the protocol's own state */
	size_t			 raw_need;	/* literal bytes still to read */
	int			 awaiting;	/* authd's answer: no input is
						 * taken until it comes */
	struct event		 deadline;	/* login-timeout after connect */

	/* the session, once logged in */
	struct io		*sio;
};

/* login.c */
void	 login_accept(struct listener *, int fd,
	    const struct sockaddr_storage *, socklen_t);
void	 login_close(struct login *, const char *why);
/* Send a reply line (CRLF added). */
void	 login_reply(struct login *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Close after the last reply is out. */
void	 login_close_after(struct login *);
/* STARTTLS/STLS: 1 if the client sent more after the command. */
int	 login_pipelined(struct login *, const char *cmd);
/* STARTTLS/STLS: the reply is queued; the handshake follows it. */
void	 login_starttls(struct login *);
/* Start a SASL exchange (mech upper case); initial may be NULL. */
void	 login_sasl_start(struct login *, const char *mech,
	    const void *initial, size_t len, int has_initial);
void	 login_sasl_step(struct login *, const void *, size_t);
void	 login_sasl_abort(struct login *);
/* A decoded base64 line; -1 if it is not base64. */
int	 login_b64_decode(const char *, void *, size_t, size_t *);
int	 login_session_count(void);
void	 login_shutdown(void);

/* Answers from authd (-1: a malformed one) and the parent, by login id. */
struct imsg;
int	 login_auth_challenge(struct imsg *);
int	 login_auth_result(struct imsg *);
void	 login_handoff_result(struct imsg *);
void	 login_authd_down(void);

/* login_imap.c, login_pop3.c */
/* Seconds a client has to log in (imapd { login-timeout }). */
extern uint32_t			 login_timeout;

extern const struct login_proto	 login_imap;
extern const struct login_proto	 login_pop3;

#endif
