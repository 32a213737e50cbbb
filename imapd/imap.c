/*
 * imapd: the IMAP and POP3 login role.
 *
 * User _osms, chrooted to the empty directory, no secrets, no access to
 * any mailbox. Peers: parent (config, listeners, the hand-off of a
 * logged-in stream), authd (SASL). Input: hostile, from the network.
 *
 * It serves every connection until its login (login.c and the protocol
 * files), then stays in front of the user's session process as the TLS
 * proxy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "msg.h"
#include "login.h"
#include "osms_imsg.h"
#include "proc.h"
#include "tls.h"

static void
imap_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 secs;

	switch (imsg->hdr.type) {
	case IMSG_CONF_LISTENER:
		listener_conf(proc_parent(), imsg);
		break;
	case IMSG_CONF_PKI_CERT:
		tls_pki_conf(imsg);
		break;
	case IMSG_CONF_IMAPD:
		msg_reader_init(&r, imsg);
		(void)msg_get_u32(&r, &secs);
		if (msg_end(&r) == -1 || secs == 0)
			fatalx("bad IMSG_CONF_IMAPD");
		login_timeout = secs;
		break;
	default:
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	}
}

static void
imap_conf_end(int reload)
{
	tls_pki_apply();
	listener_apply(login_accept);
	if (reload)
		log_info("reloaded: %d listeners", listener_count());
}

static void
imap_dispatch_parent(struct imsg *imsg)
{
	if (imsg->hdr.type != IMSG_IMAP_LOGIN_RESULT)
		fatalx("unexpected %s from the parent",
		    imsg_type_name(imsg->hdr.type));
	login_handoff_result(imsg);
}

static void
imap_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	/* Garbage from authd is authd's fault, not a reason to die. */
	case IMSG_AUTH_SASL_CHALLENGE:
		if (login_auth_challenge(imsg) == -1)
			channel_bad_message(ch, imsg, "bad SASL challenge");
		break;
	case IMSG_AUTH_SASL_RESULT:
		if (login_auth_result(imsg) == -1)
			channel_bad_message(ch, imsg, "bad SASL result");
		break;
	case IMSG_KEY_SIGNED:
		break;		/* the answer to a signature given up on */
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
imap_peer_down(enum osms_role role)
{
	if (role == ROLE_AUTHD)
		login_authd_down();
}

static void
imap_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%d listeners, %d connections",
	    listener_count(), login_session_count());
}

static void
imap_shutdown(void)
{
	listener_close_all();
	login_shutdown();
}

static const struct proc_ops imap_ops = {
	.role = ROLE_IMAPD,
	.conf = imap_conf,
	.conf_end = imap_conf_end,
	.dispatch_parent = imap_dispatch_parent,
	.dispatch_peer = imap_dispatch_peer,
	.peer_down = imap_peer_down,
	.state = imap_state,
	.shutdown = imap_shutdown,
};

int
main(int argc, char **argv)
{
	proc_main(&imap_ops, argc, argv);
}
