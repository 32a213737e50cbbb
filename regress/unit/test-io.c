/*
 * The bounded line reader (io.c), over a real socketpair and libevent.
 * A child process plays the client and writes a script of bytes.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "io.h"
#include "test.h"

#define MAXLINE	64

struct got {
	enum io_line	 kind;
	char		 text[MAXLINE + 1];
	size_t		 len;
	int		 flags;
};

struct session {
	struct io	*io;
	struct got	 got[64];
	int		 ngot;
	size_t		 max_inbuf;
	int		 disconnected;
	int		 timeout;
};

static void
session_cb(struct io *io, enum io_event ev, void *arg)
{
	struct session	*s = arg;
	enum io_line	 k;
	char		*line;
	size_t		 len;
	int		 flags;

	switch (ev) {
	case IO_DATAIN:
		if (io_inbuf(io) > s->max_inbuf)
			s->max_inbuf = io_inbuf(io);
		while ((k = io_getline(io, &line, &len, &flags)) !=
		    IO_LINE_NONE) {
			struct got *g;

			if (s->ngot == 64)
				break;
			g = &s->got[s->ngot++];
			g->kind = k;
			g->flags = flags;
			g->len = len;
			if (k == IO_LINE_OK)
				memcpy(g->text, line, len + 1);
		}
		break;
	case IO_TIMEOUT:
		s->timeout = 1;
		(void)event_base_loopbreak(osms_evbase);
		break;
	case IO_DISCONNECTED:
	case IO_ERROR:
		s->disconnected = 1;
		(void)event_base_loopbreak(osms_evbase);
		break;
	case IO_LOWAT:
	case IO_TLSREADY:
		break;
	}
}

/* Run a session whose client writes the given chunks, then closes. */
static void
run(struct session *s, const char *const *chunks, const size_t *lens,
    int n, int timeout)
{
	int	 sv[2], i;
	pid_t	 pid;

	memset(s, 0, sizeof(*s));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	if ((pid = fork()) == 0) {
		(void)close(sv[0]);
		for (i = 0; i < n; i++) {
			size_t	 off = 0;
			ssize_t	 w;

			while (off < lens[i]) {
				if ((w = write(sv[1], chunks[i] + off,
				    lens[i] - off)) <= 0)
					_exit(1);
				off += (size_t)w;
			}
			(void)usleep(20000);	/* separate reads */
		}
		if (timeout)
			(void)pause();
		_exit(0);
	}
	(void)close(sv[1]);
	s->io = io_new(sv[0], MAXLINE, session_cb, s);
	if (timeout)
		io_set_timeout(s->io, timeout);
	(void)event_base_dispatch(osms_evbase);
	io_free(s->io);
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}

static void
test_lines(void)
{
	struct session	 s;
	const char	*c[] = { "HELO a\r\nbare\nx\ry\r\n", "nu\0l\r\n",
			    "par", "tial\r\n", "\r\n", "y\n.\r\n" };
	size_t		 l[] = { 18, 6, 3, 6, 2, 5 };

	test_begin("io: CRLF, bare LF, inner CR, NUL, split and empty lines");
	run(&s, c, l, 6, 0);
	test_assert(s.disconnected);
	test_assert(s.ngot == 8);
	test_assert(s.got[0].kind == IO_LINE_OK && s.got[0].flags == 0);
	test_assert(strcmp(s.got[0].text, "HELO a") == 0);
	test_assert(s.got[1].flags == IO_LINE_BARE_LF);
	test_assert(strcmp(s.got[1].text, "bare") == 0);
	test_assert(s.got[2].flags == (IO_LINE_CR | IO_LINE_AFTER_BARE) &&
	    s.got[2].len == 3);
	test_assert(s.got[3].flags == IO_LINE_NUL && s.got[3].len == 4);
	test_assert(strcmp(s.got[4].text, "partial") == 0);
	test_assert(s.got[5].len == 0 && s.got[5].flags == 0);
	/* "<LF>.<CR><LF>": the dot line says what came before it */
	test_assert(s.got[6].flags == IO_LINE_BARE_LF);
	test_assert(s.got[7].len == 1 &&
	    s.got[7].flags == IO_LINE_AFTER_BARE);
	test_end();
}

static void
test_limits(void)
{
	struct session	 s;
	char		 exact[MAXLINE + 1], over[MAXLINE + 2];
	const char	*c[] = { exact, over, "next\r\n" };
	size_t		 l[] = { MAXLINE, MAXLINE + 1, 6 };

	test_begin("io: a line of exactly the limit passes, one more fails");
	memset(exact, 'a', sizeof(exact));
	memcpy(exact + MAXLINE - 2, "\r\n", 2);
	memset(over, 'b', sizeof(over));
	memcpy(over + MAXLINE - 1, "\r\n", 2);
	run(&s, c, l, 3, 0);
	test_assert(s.ngot == 3);
	test_assert(s.got[0].kind == IO_LINE_OK &&
	    s.got[0].len == MAXLINE - 2);
	test_assert(s.got[1].kind == IO_LINE_TOOLONG);
	test_assert(s.got[2].kind == IO_LINE_OK &&
	    strcmp(s.got[2].text, "next") == 0);
	test_end();
}

static void
test_flood(void)
{
	struct session	 s;
	size_t		 big = 4 * 1024 * 1024;
	char		*flood = malloc(big);
	const char	*c[] = { flood, "\r\nafter\r\n" };
	size_t		 l[] = { big, 9 };

	test_begin("io: 4 MB without a line end costs one line of memory");
	memset(flood, 'x', big);
	run(&s, c, l, 2, 0);
	test_assert(s.ngot == 2);
	test_assert(s.got[0].kind == IO_LINE_TOOLONG);
	test_assert(s.got[1].kind == IO_LINE_OK &&
	    strcmp(s.got[1].text, "after") == 0);
	/* the reader stops reading at the line limit plus its slack */
	test_assert(s.max_inbuf <= MAXLINE + 4096);
	free(flood);
	test_end();
}

static void
test_timeout(void)
{
	struct session	 s;
	const char	*c[] = { "NOOP\r\n" };
	size_t		 l[] = { 6 };

	test_begin("io: a silent client times out");
	run(&s, c, l, 1, 1);
	test_assert(s.timeout);
	test_assert(!s.disconnected);
	test_assert(s.ngot == 1);
	test_end();
}

static void
test_long_then_dot(void)
{
	struct session	 s;
	/* longer than the read-ahead: the end is found while skipping */
	static char	 bare[10000], crlf[10000];
	const char	*c[] = { bare, ".\r\n", crlf, ".\r\n" };
	size_t		 l[] = { sizeof(bare), 3, sizeof(crlf), 3 };

	test_begin("io: a skipped over-long line still tells how it ended");
	memset(bare, 'b', sizeof(bare));
	bare[sizeof(bare) - 1] = '\n';
	memset(crlf, 'c', sizeof(crlf));
	crlf[sizeof(crlf) - 2] = '\r';
	crlf[sizeof(crlf) - 1] = '\n';
	run(&s, c, l, 4, 0);
	test_assert(s.ngot == 4);
	test_assert(s.got[0].kind == IO_LINE_TOOLONG);
	test_assert(s.got[1].kind == IO_LINE_OK &&
	    s.got[1].flags == IO_LINE_AFTER_BARE);
	test_assert(s.got[2].kind == IO_LINE_TOOLONG);
	test_assert(s.got[3].kind == IO_LINE_OK && s.got[3].flags == 0);
	test_end();
}

int
main(void)
{
	(void)signal(SIGPIPE, SIG_IGN);
	if ((osms_evbase = event_base_new()) == NULL)
		abort();
	test_lines();
	test_limits();
	test_long_then_dot();
	test_flood();
	test_timeout();
	return test_exit();
}
