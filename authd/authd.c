/*
 * authd: the directory (domains, users, aliases, quotas) and
 * authentication.
 *
 * User _osmsauth, not dumpable; no chroot (it reads table files and
 * reaches PostgreSQL's socket). The only process that holds the database
 * credentials and password hashes. Peers: parent, smtpd, delivery, imapd.
 * Input: from osms roles, which relay what clients typed.
 *
 * Lookups land with the directory issue; for now the role checks its
 * libraries, locks itself in and answers pings.
 */
#include <sasl/sasl.h>
#include <libpq-fe.h>

#include "log.h"
#include "proc.h"

static void
authd_setup(void)
{
	const char	*impl = NULL, *ver = NULL;
	int		 pq = PQlibVersion();

	sasl_version_info(&impl, &ver, NULL, NULL, NULL, NULL);
	log_debug("libpq %d.%d, %s sasl %s", pq / 10000, pq % 10000,
	    impl ? impl : "?", ver ? ver : "?");
}

static const struct proc_ops authd_ops = {
	.role = ROLE_AUTHD,
	.setup = authd_setup,
};

int
main(int argc, char **argv)
{
	proc_main(&authd_ops, argc, argv);
}
