/*
 * queue: owns the spool.
 *
 * User _osmsq, chrooted to the queue directory, no secrets. Peers: parent,
 * smtpd, delivery, cryptod, scand. Input: from osms roles only.
 *
 * The spool protocol lands with the SMTP issue; for now the role starts,
 * locks itself in and answers pings.
 */
#include "proc.h"

static const struct proc_ops queue_ops = {
	.role = ROLE_QUEUE,
};

int
main(int argc, char **argv)
{
	proc_main(&queue_ops, argc, argv);
}
