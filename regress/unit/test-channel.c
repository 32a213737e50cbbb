/*
 * Channels (channel.c): the catalogue is enforced before dispatch, and
 * a violation closes the channel, or kills the reader on the channel
 * from the parent.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "osms_imsg.h"
#include "test.h"

struct seen {
	int	 dispatched;
	int	 closed;	/* times the closed callback ran */
	int	 broken;	/* closed for a violation */
	uint32_t last;
};

static void
on_dispatch(struct channel *ch, struct imsg *imsg)
{
	struct seen	*s = ch->arg;

	s->dispatched++;
	s->last = imsg->hdr.type;
}

static void
on_closed(struct channel *ch)
{
	struct seen	*s = ch->arg;

	s->closed++;
	(void)event_base_loopbreak(osms_evbase);
}

/* Run the loop until the channel closed or a little time passed. */
static void
spin(void)
{
	struct timeval	 tv = { 0, 200000 };

	(void)event_base_loopexit(osms_evbase, &tv);
	(void)event_base_dispatch(osms_evbase);
}

/*
 * The parent's end of a channel to smtpd receives what the test writes
 * on the other end; returns what happened.
 */
static struct seen
feed(const void *bytes, size_t len, int die)
{
	struct channel	 ch;
	struct seen	 s;
	int		 sv[2];

	memset(&s, 0, sizeof(s));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		_exit(2);
	channel_init(&ch, sv[0], ROLE_PARENT, ROLE_SMTPD, die, on_dispatch,
	    on_closed, &s);
	if (len > 0 && write(sv[1], bytes, len) != (ssize_t)len)
		_exit(2);
	spin();
	s.broken = ch.broken;
	if (channel_is_open(&ch)) {
		channel_close(&ch);
		spin();		/* the closed callback must run before return */
	}
	(void)close(sv[1]);
	return s;
}

static size_t
frame(void *buf, uint32_t type, const void *payload, size_t len)
{
	struct imsg_hdr	 h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = (uint32_t)(sizeof(h) + len);
	memcpy(buf, &h, sizeof(h));
	if (len > 0)
		memcpy((char *)buf + sizeof(h), payload, len);
	return sizeof(h) + len;
}

static void
test_allowed(void)
{
	char		 buf[64];
	uint32_t	 version = OSMS_IMSG_VERSION;
	struct seen	 s;

	test_begin("channel: an allowed, well-formed message is dispatched");
	s = feed(buf, frame(buf, IMSG_HELLO, &version, sizeof(version)), 0);
	test_assert(s.dispatched == 1 && s.last == IMSG_HELLO);
	test_assert(!s.broken && s.closed == 1);
	test_end();
}

static void
test_forbidden(void)
{
	char		 buf[128], payload[64];
	struct seen	 s;

	test_begin("channel: a message the sender may not send breaks it");
	memset(payload, 0, sizeof(payload));
	/* smtpd may not configure anyone */
	s = feed(buf, frame(buf, IMSG_CONF_END, NULL, 0), 0);
	test_assert(s.dispatched == 0 && s.broken && s.closed == 1);
	/* an unknown type */
	s = feed(buf, frame(buf, 9999, NULL, 0), 0);
	test_assert(s.dispatched == 0 && s.broken && s.closed == 1);
	/* IMSG_NONE */
	s = feed(buf, frame(buf, IMSG_NONE, NULL, 0), 0);
	test_assert(s.dispatched == 0 && s.broken && s.closed == 1);
	test_end();
}

static void
test_malformed(void)
{
	char		 buf[128];
	struct seen	 s;
	struct imsg_hdr	 h;

	test_begin("channel: bad payloads and bad frames break it");
	/* HELLO carries a u32, not two bytes */
	s = feed(buf, frame(buf, IMSG_HELLO, "ab", 2), 0);
	test_assert(s.dispatched == 0 && s.broken && s.closed == 1);
	/* READY carries nothing */
	s = feed(buf, frame(buf, IMSG_READY, "abcd", 4), 0);
	test_assert(s.dispatched == 0 && s.broken && s.closed == 1);
	/* a frame length below the header */
	memset(&h, 0, sizeof(h));
	h.type = IMSG_READY;
	h.len = 3;
	s = feed(&h, sizeof(h), 0);
	test_assert(s.dispatched == 0 && s.broken && s.closed == 1);
	test_end();
}

static void
test_eof(void)
{
	struct seen	 s;

	test_begin("channel: end of stream closes it, not broken");
	{
		struct channel	 ch;
		int		 sv[2];

		memset(&s, 0, sizeof(s));
		test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		channel_init(&ch, sv[0], ROLE_PARENT, ROLE_SMTPD, 0,
		    on_dispatch, on_closed, &s);
		(void)close(sv[1]);
		spin();
		test_assert(s.closed == 1 && !ch.broken);
		test_assert(!channel_is_open(&ch));
		test_assert(channel_compose(&ch, IMSG_PING, 0, -1, NULL, 0) ==
		    -1);
	}
	test_end();
}

static void
test_die(void)
{
	char	 buf[64];
	pid_t	 pid;
	int	 status = 0;

	test_begin("channel: on the parent's channel a violation is fatal");
	if ((pid = fork()) == 0) {
		(void)close(STDERR_FILENO);
		(void)feed(buf, frame(buf, IMSG_CONF_END, NULL, 0), 1);
		_exit(0);	/* not reached if the violation was fatal */
	}
	test_assert(waitpid(pid, &status, 0) == pid);
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	test_end();
}

int
main(void)
{
	if ((osms_evbase = event_base_new()) == NULL)
		return 2;
	test_allowed();
	test_forbidden();
	test_malformed();
	test_eof();
	test_die();
	return test_exit();
}
