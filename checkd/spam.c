/*
 * rspamd client (spam.h).
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spam.h"
#include "util.h"

/* "host:port" or "[v6]:port" as a socket address; 0, or -1. */
static int
parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in	*in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*in6 = (struct sockaddr_in6 *)ss;
	char			 host[64];
	const char		*colon, *h = s;
	size_t			 n;
	long			 port;
	char			*end;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return -1;
		h = s + 1;
		n = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events before the deadline: 0, or -1. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd	 p = { fd, events, 0 };
	long long	 left;
	int		 n;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

static int
send_all(int fd, const char *p, size_t len, long long deadline)
{
	ssize_t	 n;

	while (len > 0) {
		if (wait_fd(fd, POLLOUT, deadline) == -1)
			return -1;
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
spam_score(enum spam_engine_kind engine, const char *addr,
    const struct spam_request *rq, const char *msg, size_t len, int timeout,
    struct spam_result *res, char *why, size_t whysize)
{
	const char		*name = engine == SPAM_ENGINE_SPAMD ? "spamd" :
				    "rspamd";
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct buf		 head = BUF_INIT(64 * 1024);
	char			*reply = NULL;
	const char		*err;
	long long		 deadline;
	size_t			 got = 0;
	ssize_t			 n;
	int			 fd = -1, r = -1, soerr;
	socklen_t		 solen = sizeof(soerr);

	deadline = now_ms() + (long long)timeout * 1000;
	if (parse_addr(addr, &ss, &sslen) == -1) {
		(void)snprintf(why, whysize, "bad %s address %s", name, addr);
		goto done;
	}
	if ((engine == SPAM_ENGINE_SPAMD ? spamc_request_head(rq, &head) :
	    rspamd_request_head(rq, &head)) == -1) {
		(void)snprintf(why, whysize, "the request cannot be made");
		goto done;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto syserr;
	if (connect(fd, (struct sockaddr *)&ss, sslen) == -1) {
		if (errno != EINPROGRESS)
			goto syserr;
		if (wait_fd(fd, POLLOUT, deadline) == -1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &solen) == -1)
			goto syserr;
		if (soerr != 0) {
			errno = soerr;
			goto syserr;
		}
	}
	if (send_all(fd, head.data, head.len, deadline) == -1 ||
	    send_all(fd, msg, len, deadline) == -1)
		goto syserr;
	reply = xmalloc(SPAM_MAX_REPLY + 1);
	for (;;) {
		if (wait_fd(fd, POLLIN, deadline) == -1)
			goto syserr;
		n = recv(fd, reply + got, SPAM_MAX_REPLY + 1 - got, 0);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			goto syserr;
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > SPAM_MAX_REPLY) {
			(void)snprintf(why, whysize, "%s's answer is too"
			    " long", name);
			goto done;
		}
	}
	if ((engine == SPAM_ENGINE_SPAMD ? spamc_parse_reply(reply, got, res,
	    &err) : rspamd_parse_reply(reply, got, res, &err)) == -1) {
		(void)snprintf(why, whysize, "%s", err);
		goto done;
	}
	r = 0;
	goto done;
syserr:
	(void)snprintf(why, whysize, "%s at %s: %s", name, addr,
	    strerror(errno));
done:
	if (fd != -1)
		(void)close(fd);
	free(reply);
	buf_free(&head);
	return r;
}
