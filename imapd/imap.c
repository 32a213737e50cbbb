/*
 * imapd: the IMAP and POP3 login role.
 *
 * User _osms, chrooted to the empty directory, no secrets, no access to
 * any mailbox. Peers: parent (config, listeners), authd. Input: hostile,
 * from the network.
 *
 * Until the protocols land every connection gets a clear refusal
 * ("* BYE" or "-ERR") and is closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "io.h"
#include "listener.h"
#include "log.h"
#include "osms_imsg.h"
#include "proc.h"

struct refusal {
	struct io	*io;
};

static int	 nsessions;

static void
refusal_io(struct io *io, enum io_event ev, void *arg)
{
	struct refusal	*rf = arg;

	(void)io;
	if (ev == IO_DATAIN)
		return;
	io_free(rf->io);
	free(rf);
	nsessions--;
}

static void
imap_accept(struct listener *l, int fd, const struct sockaddr_storage *ss,
    socklen_t len)
{
	struct refusal	*rf;

	(void)ss;
	(void)len;
	if ((rf = calloc(1, sizeof(*rf))) == NULL) {
		log_warn("imap_accept");
		(void)close(fd);
		return;
	}
	rf->io = io_new(fd, 1000, refusal_io, rf);
	io_set_timeout(rf->io, 10);
	io_pause_read(rf->io);
	if (l->proto == PROTO_POP3)
		(void)io_printf(rf->io, "-ERR [SYS/TEMP] POP3 service not"
		    " available yet\r\n");
	else
		(void)io_printf(rf->io, "* BYE [UNAVAILABLE] IMAP service not"
		    " available yet\r\n");
	nsessions++;
}

static void
imap_conf(struct imsg *imsg)
{
	if (imsg->hdr.type != IMSG_CONF_LISTENER)
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	listener_conf(proc_parent(), imsg);
}

static void
imap_conf_end(int reload)
{
	listener_apply(imap_accept);
	if (reload)
		log_info("reloaded: %d listeners", listener_count());
}

static void
imap_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%d listeners, %d sessions",
	    listener_count(), nsessions);
}

static void
imap_shutdown(void)
{
	listener_close_all();
}

static const struct proc_ops imap_ops = {
	.role = ROLE_IMAPD,
	.conf = imap_conf,
	.conf_end = imap_conf_end,
	.state = imap_state,
	.shutdown = imap_shutdown,
};

int
main(int argc, char **argv)
{
	proc_main(&imap_ops, argc, argv);
}
