/*
 * smtpd: the SMTP server role (MX, submission, implicit TLS).
 *
 * User _osms, chrooted to the empty directory, no secrets. Peers: parent
 * (config, listeners), queue, authd, cryptod, scand. Input: hostile, from
 * the network.
 *
 * Until the SMTP protocol lands every connection is answered with 421,
 * so that clients see a clear temporary failure, never a hang.
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
		return;		/* ignore whatever the client says */
	io_free(rf->io);
	free(rf);
	nsessions--;
}

static void
smtp_accept(struct listener *l, int fd, const struct sockaddr_storage *ss,
    socklen_t len)
{
	struct refusal	*rf;

	(void)l;
	(void)ss;
	(void)len;
	rf = calloc(1, sizeof(*rf));
	if (rf == NULL) {
		log_warn("smtp_accept");
		(void)close(fd);
		return;
	}
	rf->io = io_new(fd, 1000, refusal_io, rf);
	io_set_timeout(rf->io, 10);
	io_pause_read(rf->io);
	(void)io_printf(rf->io, "421 4.3.2 %s SMTP service not available"
	    " yet\r\n", proc_conf()->hostname);
	nsessions++;
}

static void
smtp_conf(struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_CONF_LISTENER:
		listener_conf(proc_parent(), imsg);
		break;
	case IMSG_CONF_SMTPD:
		break;
	default:
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	}
}

static void
smtp_conf_end(int reload)
{
	listener_apply(smtp_accept);
	if (reload)
		log_info("reloaded: %d listeners", listener_count());
}

static void
smtp_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%d listeners, %d sessions",
	    listener_count(), nsessions);
}

static void
smtp_shutdown(void)
{
	listener_close_all();
}

static const struct proc_ops smtp_ops = {
	.role = ROLE_SMTPD,
	.conf = smtp_conf,
	.conf_end = smtp_conf_end,
	.state = smtp_state,
	.shutdown = smtp_shutdown,
};

int
main(int argc, char **argv)
{
	proc_main(&smtp_ops, argc, argv);
}
