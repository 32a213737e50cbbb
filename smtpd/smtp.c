/*
 * smtpd: the SMTP server role (MX, submission, implicit TLS).
 *
 * User _osms, chrooted to the empty directory. Holds client sessions;
 * until the TLS key agent lands (hardening issue) it also holds the TLS
 * keys the parent hands it. Peers: parent (config, listeners, pkis),
 * queue (messages), authd (recipients), cryptod and scand (content
 * checks, later). Input: hostile, from the network.
 *
 * This file is the role: its config slice, accepting, and routing the
 * answers of other roles to the session waiting for them. The protocol
 * is smtp_session.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "idmap.h"
#include "keycount.h"
#include "listener.h"
#include "log.h"
#include "osms_imsg.h"
#include "proc.h"
#include "smtp.h"
#include "tls.h"
#include "util.h"

struct smtp_limits	 smtp_limits = {
	SMTPD_MAX_MESSAGE_SIZE, SMTPD_MAX_RECIPIENTS, SMTPD_MAX_LINE,
	SMTPD_TIMEOUT, 1, 0, SMTPD_MAX_CLIENT_SESSIONS, 0, 0
};
struct smtp_scan	 smtp_scan = {
	1, SCAND_TIMEOUT, SCAN_REJECT, SCAN_REJECT, SCAN_TEMPFAIL,
	SCAN_TEMPFAIL
};
struct smtp_checks	 smtp_checks = { 0, CHECKD_TIMEOUT, SCAN_TEMPFAIL, 0, 0 };

/* Messages per authenticated user, in the hour since its first. */
#define USER_RATE_MAX	100000	/* users counted at once */
static struct keycount	*user_rates;

/* Connections and recipients per client address, in the minute since
 * its first. */
#define CLIENT_RATE_MAX	100000	/* client addresses counted at once */
static struct keycount	*client_connects, *client_rcpts;

static struct idmap	 sessions;
static int		 stopping;

int
smtp_peer_send(enum osms_role role, struct msg *m)
{
	struct channel	*ch = proc_peer(role);

	if (ch == NULL || !channel_is_open(ch)) {
		if (m->fd != -1)
			(void)close(m->fd);
		m->fd = -1;
		return -1;
	}
	return channel_send(ch, m);
}

void
smtp_session_register(struct smtp_session *s, uint64_t id)
{
	if (idmap_put(&sessions, id, s) == -1)
		fatalx("session id %016llx twice", (unsigned long long)id);
}

void
smtp_session_unregister(uint64_t id)
{
	(void)idmap_del(&sessions, id);
}

int
smtp_session_count(void)
{
	return (int)sessions.count;
}

int
smtp_user_rate_allowed(const char *user)
{
	return smtp_limits.max_messages_per_hour == 0 ||
	    keycount_get(user_rates, user, time(NULL)) <
	    smtp_limits.max_messages_per_hour;
}

int
smtp_client_connect_allowed(const char *key)
{
	return smtp_limits.max_client_connections == 0 ||
	    keycount_add(client_connects, key, time(NULL)) <=
	    smtp_limits.max_client_connections;
}

int
smtp_client_rcpt_allowed(const char *key)
{
	return smtp_limits.max_client_recipients == 0 ||
	    keycount_add(client_rcpts, key, time(NULL)) <=
	    smtp_limits.max_client_recipients;
}

void
smtp_user_rate_count(const char *user)
{
	if (smtp_limits.max_messages_per_hour > 0)
		(void)keycount_add(user_rates, user, time(NULL));
}

static void
smtp_accept(struct listener *l, int fd, const struct sockaddr_storage *ss,
    socklen_t len)
{
	if (stopping) {
		(void)close(fd);
		return;
	}
	smtp_session_new(l, fd, ss, len);
}

/*
 * The config slice.
 */

static void
smtp_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct smtp_limits	 lim;
	struct smtp_scan	 scan;
	struct smtp_checks	 checks;

	switch (imsg->hdr.type) {
	case IMSG_CONF_LISTENER:
		listener_conf(proc_parent(), imsg);
		break;
	case IMSG_CONF_PKI_CERT:
		tls_pki_conf(imsg);
		break;
	case IMSG_CONF_SMTPD_SCAN:
		msg_reader_init(&r, imsg);
		(void)msg_get_u32(&r, &scan.enable);
		(void)msg_get_u32(&r, &scan.timeout);
		(void)msg_get_u32(&r, &scan.action);
		(void)msg_get_u32(&r, &scan.submission_action);
		(void)msg_get_u32(&r, &scan.unscannable);
		(void)msg_get_u32(&r, &scan.on_failure);
		if (msg_end(&r) == -1 || scan.timeout == 0 ||
		    scan.action > SCAN_TAG || scan.submission_action > SCAN_TAG ||
		    scan.unscannable > SCAN_ACCEPT ||
		    scan.on_failure > SCAN_ACCEPT)
			fatalx("bad IMSG_CONF_SMTPD_SCAN");
		smtp_scan = scan;
		break;
	case IMSG_CONF_SMTPD_CHECK:
		msg_reader_init(&r, imsg);
		(void)msg_get_u32(&r, &checks.enable);
		(void)msg_get_u32(&r, &checks.timeout);
		(void)msg_get_u32(&r, &checks.on_failure);
		(void)msg_get_u32(&r, &checks.greylist);
		(void)msg_get_u32(&r, &checks.dnsbl);
		if (msg_end(&r) == -1 || checks.timeout == 0 ||
		    checks.on_failure > SCAN_ACCEPT)
			fatalx("bad IMSG_CONF_SMTPD_CHECK");
		smtp_checks = checks;
		break;
	case IMSG_CONF_SMTPD:
		msg_reader_init(&r, imsg);
		(void)msg_get_u64(&r, &lim.max_message_size);
		(void)msg_get_u32(&r, &lim.max_recipients);
		(void)msg_get_u32(&r, &lim.max_line);
		(void)msg_get_u32(&r, &lim.timeout);
		(void)msg_get_u32(&r, &lim.sender_check);
		(void)msg_get_u32(&r, &lim.max_messages_per_hour);
		(void)msg_get_u32(&r, &lim.max_client_sessions);
		(void)msg_get_u32(&r, &lim.max_client_connections);
		(void)msg_get_u32(&r, &lim.max_client_recipients);
		if (msg_end(&r) == -1 || lim.max_line < SMTP_MAX_COMMAND ||
		    lim.max_recipients == 0 || lim.timeout == 0)
			fatalx("bad IMSG_CONF_SMTPD");
		smtp_limits = lim;
		break;
	default:
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	}
}

static void
smtp_conf_end(int reload)
{
	tls_pki_apply();
	listener_apply(smtp_accept);
	if (reload)
		log_info("reloaded: %d listeners", listener_count());
}

static void
smtp_setup(void)
{
	idmap_init(&sessions);
	user_rates = keycount_new(USER_RATE_MAX, 3600, KEYCOUNT_SINCE_FIRST);
	client_connects = keycount_new(CLIENT_RATE_MAX, 60,
	    KEYCOUNT_SINCE_FIRST);
	client_rcpts = keycount_new(CLIENT_RATE_MAX, 60, KEYCOUNT_SINCE_FIRST);
}

/*
 * Answers from other roles, for the session with the id they carry.
 */

static void
smtp_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	struct smtp_session	*s;

	s = idmap_get(&sessions, imsg->hdr.id);
	switch (imsg->hdr.type) {
	case IMSG_AUTH_RCPT_DEST:
		if (s != NULL)
			smtp_session_rcpt_dest(s, imsg);
		break;
	case IMSG_AUTH_RCPT_END:
		if (s != NULL)
			smtp_session_rcpt_end(s, imsg);
		break;
	case IMSG_QUEUE_CREATED:
		if (s != NULL)
			smtp_session_queue_created(s, imsg);
		else {
			/* The session left: drop the new message. */
			struct msg_reader	 r;
			struct msg		 m;
			char			 id[QUEUE_ID_LEN + 1];

			msg_reader_init(&r, imsg);
			(void)msg_get_str(&r, id, sizeof(id));
			msg_init(&m, IMSG_QUEUE_ABORT, imsg->hdr.id);
			msg_add_str(&m, id);
			(void)channel_send(ch, &m);
		}
		break;
	case IMSG_QUEUE_RESULT:
		if (s != NULL)
			smtp_session_queue_result(s, imsg);
		break;
	case IMSG_KEY_SIGNED:
		break;		/* the answer to a signature given up on */
	case IMSG_QUEUE_OPENED:
		/* For a session gone or done, the descriptor is dropped. */
		if (s != NULL && smtp_session_check(s) != NULL)
			smtp_check_opened(smtp_session_check(s), imsg);
		break;
	case IMSG_SCAN_RESULT:
		if (s != NULL && smtp_session_check(s) != NULL)
			smtp_check_scanned(smtp_session_check(s), imsg);
		break;
	case IMSG_QUEUE_REWRITING:
		if (s != NULL && smtp_session_check(s) != NULL)
			smtp_check_rewriting(smtp_session_check(s), imsg);
		break;
	case IMSG_CRYPT_DONE:
		if (s != NULL && smtp_session_check(s) != NULL)
			smtp_check_crypted(smtp_session_check(s), imsg);
		break;
	case IMSG_DNSBL_RESULT:
		if (s != NULL)
			smtp_session_dnsbl_result(s, imsg);
		break;
	case IMSG_GREY_RESULT:
		if (s != NULL)
			smtp_session_grey_result(s, imsg);
		break;
	case IMSG_CHECK_RESULT:
		if (s != NULL && smtp_session_check(s) != NULL)
			smtp_check_sender(smtp_session_check(s), imsg);
		break;
	case IMSG_AUTH_SASL_CHALLENGE:
		if (s != NULL)
			smtp_session_auth_challenge(s, imsg);
		break;
	case IMSG_AUTH_SASL_RESULT:
		if (s != NULL)
			smtp_session_auth_result(s, imsg);
		break;
	case IMSG_AUTH_SENDER_RESULT:
		if (s != NULL)
			smtp_session_sender_result(s, imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
smtp_peer_down(enum osms_role role)
{
	smtp_session_peer_down_all(role);
}

static void
smtp_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%d listeners, %d sessions",
	    listener_count(), smtp_session_count());
}

static void
smtp_shutdown(void)
{
	stopping = 1;
	listener_close_all();
	smtp_session_shutdown_all();
}

static const struct proc_ops smtp_ops = {
	.role = ROLE_SMTPD,
	.conf = smtp_conf,
	.conf_end = smtp_conf_end,
	.setup = smtp_setup,
	.dispatch_peer = smtp_dispatch_peer,
	.peer_down = smtp_peer_down,
	.state = smtp_state,
	.shutdown = smtp_shutdown,
};

int
main(int argc, char **argv)
{
	proc_main(&smtp_ops, argc, argv);
}
