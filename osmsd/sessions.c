/*
 * Mail sessions: after an IMAP or POP3 login, the user's mail is served
 * by a process of its own, started here.
 *
 * The login role (imapd) hands over the client's stream with the login
 * token authd gave it. The parent does not take a user name from
 * imapd: it redeems the token with authd, which says who logged in and
 * where their Maildir is. Only then is osms-session started, as root,
 * with the stream on descriptor 4; it chroots into that one Maildir and
 * becomes the mail store's user before it reads a byte from the client.
 * A compromised imapd can so open sessions only for the logins it saw
 * succeed, and a session can reach only its own user's mail.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "maildir.h"
#include "msg.h"
#include "osms_imsg.h"
#include "osmsd.h"
#include "proc.h"
#include "util.h"

#define SESSION_STREAM_FD	4	/* the client stream in the session */
#define REDEEM_TIMEOUT_SEC	10

/* A login waiting for authd to redeem its token. */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	uint64_t		 id;		/* of the redeem request */
	uint64_t		 login_id;	/* imapd's session id */
	int			 fd;		/* the client stream */
	uint32_t		 proto;
	uint32_t		 tls;
	char			 client[64];
	char			 tag[128];
	struct event		 timeout;
};

/* A running session. */
struct session {
	TAILQ_ENTRY(session)	 entry;
	pid_t			 pid;
	char			 user[256];
	struct channel		*ch;
};

static TAILQ_HEAD(, pending)	 pendings = TAILQ_HEAD_INITIALIZER(pendings);
static TAILQ_HEAD(, session)	 sessions = TAILQ_HEAD_INITIALIZER(sessions);
static size_t			 nsessions;
static uint64_t			 next_id = 1;

size_t
sessions_count(void)
{
	return nsessions;
}

static void
login_result(uint64_t login_id, int ok, const char *text)
{
	struct channel	*ch = parent_channel(ROLE_IMAPD);
	struct msg	 m;

	if (ch == NULL)
		return;
	msg_init(&m, IMSG_IMAP_LOGIN_RESULT, login_id);
	msg_add_u32(&m, (uint32_t)ok);
	msg_add_str(&m, text);
	(void)channel_send(ch, &m);
}

static void
pending_free(struct pending *p)
{
	TAILQ_REMOVE(&pendings, p, entry);
	(void)evtimer_del(&p->timeout);
	if (p->fd != -1)
		(void)close(p->fd);
	free(p);
}

static void
pending_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct pending	*p = arg;

	(void)fd;
	(void)ev;
	log_warnx("session: authd did not redeem a login from %s in time",
	    p->client);
	login_result(p->login_id, 0, "the directory did not answer");
	pending_free(p);
}

void
sessions_login(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct pending		*p;
	struct channel		*authd = parent_channel(ROLE_AUTHD);
	struct msg		 m;
	struct timeval		 tv = { REDEEM_TIMEOUT_SEC, 0 };
	char			 token[128];

	p = xcalloc(1, sizeof(*p));
	p->fd = imsg_take_fd(imsg);
	p->login_id = imsg->hdr.id;
	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, token, sizeof(token));
	(void)msg_get_u32(&r, &p->proto);
	(void)msg_get_str(&r, p->client, sizeof(p->client));
	(void)msg_get_str(&r, p->tag, sizeof(p->tag));
	(void)msg_get_u32(&r, &p->tls);
	p->id = next_id++;
	evtimer_assign(&p->timeout, osms_evbase, pending_timeout, p);
	TAILQ_INSERT_TAIL(&pendings, p, entry);
	if (msg_end(&r) == -1 || p->fd == -1 ||
	    (p->proto != PROTO_IMAP && p->proto != PROTO_POP3)) {
		log_warnx("session: a malformed login from imapd");
		login_result(p->login_id, 0, "internal error");
		pending_free(p);
		return;
	}
	if (authd == NULL) {
		login_result(p->login_id, 0, "the directory is not running");
		pending_free(p);
		return;
	}
	msg_init(&m, IMSG_AUTH_REDEEM, p->id);
	msg_add_str(&m, token);
	explicit_wipe(token, sizeof(token));
	(void)channel_send(authd, &m);
	explicit_wipe(m.buf, m.len);
	evtimer_add(&p->timeout, &tv);
}

/* The channel is gone (the session exited, or we closed it). */
static void
session_closed(struct channel *ch)
{
	struct session	*s = ch->arg;

	if (s != NULL)
		s->ch = NULL;
	free(ch);
}

static void
session_dispatch(struct channel *ch, struct imsg *imsg)
{
	/* A session sends nothing to the parent. */
	channel_bad_message(ch, imsg, "unexpected message");
}

static size_t
user_sessions(const char *user)
{
	struct session	*s;
	size_t		 n = 0;

	TAILQ_FOREACH(s, &sessions, entry)
		if (strcmp(s->user, user) == 0)
			n++;
	return n;
}

static _Noreturn void
session_exec(int chfd, int streamfd)
{
	/* Descriptors 3 and 4, whatever they were. */
	if ((chfd = fcntl(chfd, F_DUPFD_CLOEXEC, 10)) == -1 ||
	    (streamfd = fcntl(streamfd, F_DUPFD_CLOEXEC, 10)) == -1 ||
	    dup2(chfd, PROC_PARENT_FD) == -1 ||
	    dup2(streamfd, SESSION_STREAM_FD) == -1)
		_exit(127);
	parent_exec(ROLE_SESSION, SESSION_STREAM_FD);
}

/* Start the session for a redeemed login; 0, or -1 with why. */
static int
session_start(struct pending *p, const char *user, const char *maildir,
    uint64_t qbytes, uint64_t qmsgs, const char **why)
{
	const struct osms_conf	*conf = parent_conf();
	const struct role_cred	*cred = parent_cred(ROLE_SESSION);
	struct session		*s;
	struct msg		 m;
	int			 sv[2];
	pid_t			 pid;

	if (nsessions >= conf->imapd.max_sessions) {
		*why = "too many sessions on this server";
		return -1;
	}
	if (user_sessions(user) >= conf->imapd.max_user_sessions) {
		*why = "too many sessions for this user";
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("session: socketpair");
		*why = "internal error";
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("session: fork");
		(void)close(sv[0]);
		(void)close(sv[1]);
		*why = "internal error";
		return -1;
	}
	if (pid == 0)
		session_exec(sv[1], p->fd);
	(void)close(sv[1]);
	(void)close(p->fd);
	p->fd = -1;

	s = xcalloc(1, sizeof(*s));
	s->pid = pid;
	(void)osms_strlcpy(s->user, user, sizeof(s->user));
	s->ch = xcalloc(1, sizeof(*s->ch));
	channel_init(s->ch, sv[0], ROLE_PARENT, ROLE_SESSION, 0,
	    session_dispatch, session_closed, s);
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	nsessions++;

	msg_init(&m, IMSG_SESSION_START, 0);
	msg_add_u32(&m, p->proto);
	msg_add_u32(&m, (uint32_t)cred->uid);
	msg_add_u32(&m, (uint32_t)cred->gid);
	msg_add_str(&m, conf->mailstore);
	msg_add_str(&m, maildir);
	msg_add_str(&m, user);
	msg_add_str(&m, p->client);
	msg_add_str(&m, p->tag);
	msg_add_u32(&m, p->tls);
	msg_add_u64(&m, qbytes);
	msg_add_u64(&m, qmsgs);
	msg_add_u32(&m, (uint32_t)log_getverbose());
	msg_add_u32(&m, conf->imapd.timeout);
	(void)channel_send(s->ch, &m);
	log_debug("session for <%s> from %s, pid %d", user, p->client,
	    (int)pid);
	return 0;
}

void
sessions_redeemed(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct pending		*p;
	uint32_t		 ok, service;
	uint64_t		 qbytes, qmsgs;
	char			 user[256], maildir[CONF_MAX_PATH];
	const char		*why = NULL;

	TAILQ_FOREACH(p, &pendings, entry)
		if (p->id == imsg->hdr.id)
			break;
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &ok);
	(void)msg_get_str(&r, user, sizeof(user));
	(void)msg_get_u32(&r, &service);
	(void)msg_get_u64(&r, &qbytes);
	(void)msg_get_u64(&r, &qmsgs);
	(void)msg_get_str(&r, maildir, sizeof(maildir));
	if (msg_end(&r) == -1) {
		log_warnx("session: a malformed answer from authd");
		ok = 0;
	}
	if (p == NULL)
		return;		/* timed out already */
	if (!ok)
		why = "the login was not confirmed";
	else if (service != (p->proto == PROTO_POP3 ? AUTH_SERVICE_POP3 :
	    AUTH_SERVICE_IMAP))
		why = "the login was for another service";
	else if (!maildir_path_valid(maildir))
		why = "the user's Maildir path is not valid";
	if (why != NULL || session_start(p, user, maildir, qbytes, qmsgs,
	    &why) == -1) {
		log_warnx("session: no session for %s from %s: %s",
		    ok ? user : "-", p->client, why);
		login_result(p->login_id, 0, why);
	} else
		login_result(p->login_id, 1, "started");
	pending_free(p);
}

int
sessions_reap(pid_t pid, int status)
{
	struct session	*s;

	TAILQ_FOREACH(s, &sessions, entry)
		if (s->pid == pid)
			break;
	if (s == NULL)
		return 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
		log_warnx("session of <%s> (pid %d) killed by signal %d%s",
		    s->user, (int)pid, WTERMSIG(status),
		    WTERMSIG(status) == SIGSYS ?
		    " (a system call outside its allow-list)" : "");
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warnx("session of <%s> (pid %d) exited with status %d",
		    s->user, (int)pid, WEXITSTATUS(status));
	TAILQ_REMOVE(&sessions, s, entry);
	nsessions--;
	if (s->ch != NULL) {
		s->ch->arg = NULL;
		channel_close(s->ch);	/* freed in its callback */
	}
	free(s);
	return 1;
}

void
sessions_stop(void)
{
	struct session	*s;
	struct pending	*p, *next;

	for (p = TAILQ_FIRST(&pendings); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		pending_free(p);
	}
	TAILQ_FOREACH(s, &sessions, entry)
		(void)kill(s->pid, SIGTERM);
}

void
sessions_kill(void)
{
	struct session	*s;

	TAILQ_FOREACH(s, &sessions, entry)
		(void)kill(s->pid, SIGKILL);
}
