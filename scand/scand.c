/*
 * scand: virus scanning with libclamav, of decrypted content too.
 *
 * User _osmsscan; no chroot (it reads the signature databases). No
 * secrets. Peers: parent, smtpd, queue. Input: hostile content.
 *
 * Scanning lands with its issue; for now the role initialises libclamav,
 * locks itself in and answers pings.
 */
#include <clamav.h>

#include "log.h"
#include "proc.h"

static void
scand_setup(void)
{
	cl_error_t	 rc;

	if ((rc = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS)
		fatalx("cl_init: %s", cl_strerror(rc));
	log_debug("libclamav %s", cl_retver());
}

static const struct proc_ops scand_ops = {
	.role = ROLE_SCAND,
	.setup = scand_setup,
};

int
main(int argc, char **argv)
{
	proc_main(&scand_ops, argc, argv);
}
