/*
 * cryptod: the encryption gateway (S/MIME with OpenSSL CMS, OpenPGP
 * with GPGME) and its policy engine.
 *
 * User _osmscrypt, not dumpable. The only process that holds users' and
 * domains' S/MIME and OpenPGP private keys. Peers: parent, smtpd, queue.
 * Input: hostile MIME, relayed by osms roles.
 *
 * The gateway lands with its issues; for now the role checks its
 * libraries, locks itself in and answers pings.
 */
#include <gpgme.h>
#include <openssl/crypto.h>

#include "log.h"
#include "proc.h"

static void
cryptod_setup(void)
{
	const char	*gv;

	if ((gv = gpgme_check_version(NULL)) == NULL)
		fatalx("gpgme_check_version failed");
	log_debug("gpgme %s, %s", gv, OpenSSL_version(OPENSSL_VERSION));
}

static const struct proc_ops cryptod_ops = {
	.role = ROLE_CRYPTOD,
	.setup = cryptod_setup,
};

int
main(int argc, char **argv)
{
	proc_main(&cryptod_ops, argc, argv);
}
