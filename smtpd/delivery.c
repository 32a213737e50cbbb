/*
 * delivery: writes mail into the Maildir store.
 *
 * User vmail (the mail store owner), chrooted to the mail store root, no
 * secrets. Peers: parent, queue, authd. Input: from osms roles only.
 *
 * Maildir delivery lands with the SMTP issue; for now the role starts,
 * locks itself in and answers pings.
 */
#include "proc.h"

static const struct proc_ops delivery_ops = {
	.role = ROLE_DELIVERY,
};

int
main(int argc, char **argv)
{
	proc_main(&delivery_ops, argc, argv);
}
