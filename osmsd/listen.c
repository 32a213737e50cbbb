/*
 * Listening sockets for "listen on" lines, and the control socket. The
 * parent opens them as root and hands them to the roles.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "osmsd.h"
#include "util.h"

#define LISTEN_BACKLOG	128

int
listen_open(const struct conf_listener *cl, char *err, size_t errsize)
{
	struct addrinfo	 hints, *res;
	char		 port[8];
	int		 fd, on = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	(void)snprintf(port, sizeof(port), "%u", cl->port);
	if ((rc = getaddrinfo(cl->addr, port, &hints, &res)) != 0) {
		(void)snprintf(err, errsize, "%s port %u: %s", cl->addr,
		    cl->port, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if (res->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1)
		goto fail;
	if (listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	(void)snprintf(err, errsize, "%s port %u: %s", cl->addr, cl->port,
	    strerror(errno));
	if (fd != -1)
		(void)close(fd);
	freeaddrinfo(res);
	return -1;
}

static struct plistener *
listen_find(struct plistener_list *list, const struct conf_listener *cl)
{
	struct plistener	*pl;

	TAILQ_FOREACH(pl, list, entry)
		if (pl->conf.port == cl->port &&
		    strcmp(pl->conf.addr, cl->addr) == 0)
			return pl;
	return NULL;
}

int
listen_open_all(const struct osms_conf *conf, struct plistener_list *old,
    struct plistener_list *new, char *err, size_t errsize)
{
	struct conf_listener	*cl;
	struct plistener	*pl;

	TAILQ_INIT(new);
	TAILQ_FOREACH(cl, &conf->listeners, entry) {
		if (old != NULL && (pl = listen_find(old, cl)) != NULL) {
			/* Same socket: connections waiting in its backlog
			 * survive the reload. It moves to the new list. */
			TAILQ_REMOVE(old, pl, entry);
			pl->reused = 1;
		} else {
			pl = xcalloc(1, sizeof(*pl));
			if ((pl->fd = listen_open(cl, err, errsize)) == -1) {
				free(pl);
				goto fail;
			}
		}
		pl->conf = *cl;
		TAILQ_INSERT_TAIL(new, pl, entry);
	}
	return 0;
fail:
	/* Leave old as it was: reused sockets go back, new ones close. */
	while ((pl = TAILQ_FIRST(new)) != NULL) {
		TAILQ_REMOVE(new, pl, entry);
		if (pl->reused) {
			pl->reused = 0;
			TAILQ_INSERT_TAIL(old, pl, entry);
		} else {
			(void)close(pl->fd);
			free(pl);
		}
	}
	return -1;
}

void
listen_close_all(struct plistener_list *list)
{
	struct plistener	*pl;

	while ((pl = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, pl, entry);
		(void)close(pl->fd);
		free(pl);
	}
}

int
control_open(const char *path, char *err, size_t errsize)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (osms_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		(void)snprintf(err, errsize, "control socket path too long: %s",
		    path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	/* A socket that answers belongs to a running osmsd. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		(void)close(fd);
		(void)snprintf(err, errsize,
		    "%s: another osmsd is running", path);
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT)
		goto fail;
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)umask(old);
		goto fail;
	}
	(void)umask(old);
	if (chmod(path, 0660) == -1 || listen(fd, 16) == -1)
		goto fail;
	return fd;
fail:
	(void)snprintf(err, errsize, "control socket %s: %s", path,
	    strerror(errno));
	if (fd != -1)
		(void)close(fd);
	return -1;
}
