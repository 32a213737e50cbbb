/*
 * cryptod: the encryption gateway (S/MIME with OpenSSL CMS, OpenPGP
 * with GPGME) and its policy engine.
 *
 * User _osmscrypt, not dumpable. The only process that holds users' and
 * domains' S/MIME and OpenPGP private keys. Peers: parent, smtpd, queue,
 * authd (the directory's part of the policy, the store's database copy,
 * the audit trail).
 * Input: hostile MIME, relayed by osms roles.
 *
 * It signs outbound mail with the domains' DKIM keys (dkim_signer.c),
 * and decrypts and verifies S/MIME mail from outside (gateway.c).
 */
#include <stdio.h>

#include <event2/event.h>
#include <gpgme.h>
#include <openssl/crypto.h>

#include "channel.h"
#include "cryptod.h"
#include "log.h"
#include "osms_imsg.h"
#include "proc.h"

static void
cryptod_setup(void)
{
	const char	*gv;

	if ((gv = gpgme_check_version(NULL)) == NULL)
		fatalx("gpgme_check_version failed");
	log_debug("gpgme %s, %s", gv, OpenSSL_version(OPENSSL_VERSION));
}

static void
cryptod_conf(struct imsg *imsg)
{
	if (imsg->hdr.type == IMSG_CONF_CRYPTOD)
		gateway_conf(imsg);
	else if (imsg->hdr.type == IMSG_CONF_CRYPT_RULE)
		gateway_rule(imsg);
	else if (imsg->hdr.type == IMSG_CONF_CRYPT_MASTER)
		gateway_master(imsg);
	else if (imsg->hdr.type == IMSG_CONF_DKIM)
		signer_conf(imsg);
	else
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
}

static void
cryptod_conf_end(int reload)
{
	(void)reload;
	signer_apply();
	gateway_apply();
}

static void
cryptod_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_CRYPT_DKIM_SIGN:
		signer_request(ch, imsg);
		break;
	case IMSG_CRYPT_SOURCE:
		gateway_source(ch, imsg);
		break;
	case IMSG_CRYPT_PROCESS:
		gateway_process(ch, imsg);
		break;
	case IMSG_CRYPT_ENCRYPT:
		encrypt_request(ch, imsg);
		break;
	case IMSG_AUTH_GW_ANSWER:
		dirpolicy_answer(imsg);
		break;
	case IMSG_AUTH_STORE_ROW:
		storesync_row(ch, imsg);
		break;
	case IMSG_AUTH_STORE_END:
		storesync_end(ch, imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
cryptod_peer_down(enum osms_role role)
{
	dirpolicy_peer_down(role);
	if (role == ROLE_AUTHD)
		storesync_peer_down();
}

/* Once a second: answers that did not come, the store's next sync. */
static void
cryptod_tick(int fd, short event, void *arg)
{
	(void)fd;
	(void)event;
	(void)arg;
	dirpolicy_tick();
	storesync_tick();
}

static void
cryptod_ready(void)
{
	static struct event	 ev;
	struct timeval		 tv = { 1, 0 };

	if (event_assign(&ev, osms_evbase, -1, EV_PERSIST, cryptod_tick,
	    NULL) == -1 || event_add(&ev, &tv) == -1)
		fatalx("cryptod: the timer");
}

static void
cryptod_state(char *buf, size_t size)
{
	unsigned long	 pulled, pushed;

	storesync_state(&pulled, &pushed);
	(void)snprintf(buf, size, "%lu DKIM signatures, %lu S/MIME messages"
	    " decrypted, verified or signed, %lu copies encrypted, store "
	    "files %lu from and %lu to the database", signer_count(),
	    gateway_count(), encrypt_count(), pulled, pushed);
}

static void
cryptod_shutdown(void)
{
	pgpgate_shutdown();
}

/* The store: certificates, keys, GnuPG homes, the audit trail. */
static void
cryptod_paths(struct landlock *ll)
{
	landlock_allow(ll, store_dir(), LL_WRITE);
}

static const struct proc_ops cryptod_ops = {
	.role = ROLE_CRYPTOD,
	.conf = cryptod_conf,
	.conf_end = cryptod_conf_end,
	.setup = cryptod_setup,
	.paths = cryptod_paths,
	.dispatch_peer = cryptod_dispatch_peer,
	.peer_down = cryptod_peer_down,
	.ready = cryptod_ready,
	.state = cryptod_state,
	.shutdown = cryptod_shutdown,
};

int
main(int argc, char **argv)
{
	proc_main(&cryptod_ops, argc, argv);
}
