/*
 * The listening sockets a network role got from the parent
 * (IMSG_CONF_LISTENER), and accepting on them. On a reload the parent
 * sends the whole set again; established sessions are not touched.
 */
#ifndef OSMS_LISTENER_H
#define OSMS_LISTENER_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <stdint.h>

#include "channel.h"
#include "osms_imsg.h"

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	int			 fd;
	enum listen_proto	 proto;
	enum listen_tls		 tls;
	uint32_t		 flags;
	char			 addr[64];
	uint16_t		 port;
	char			 pki[256];
	struct event		 ev;
	struct event		 pause;
};

/* A new connection: fd is non-blocking and owned by the callee. */
typedef void (*listener_accept_cb)(struct listener *, int fd,
    const struct sockaddr_storage *, socklen_t);

/* Collect one IMSG_CONF_LISTENER of a slice in progress. */
void	 listener_conf(struct channel *, struct imsg *);
/* The slice is complete: replace the serving set with the collected one. */
void	 listener_apply(listener_accept_cb);
/* Stop accepting (shutdown). */
void	 listener_close_all(void);
int	 listener_count(void);

#endif
