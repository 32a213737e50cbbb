/*
 * COMPRESS=DEFLATE on an io (lib/iodeflate.c): lines compressed by a
 * client with zlib arrive whole; replies come back as raw deflate that
 * zlib inflates; garbage breaks the connection instead of looping.
 */
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <event2/event.h>

#include "channel.h"
#include "io.h"
#include "iodeflate.h"
#include "test.h"

struct side {
	struct io	*io;
	char		 lines[8][128];
	int		 n;
	int		 broken;
};

static void
cb(struct io *io, enum io_event ev, void *arg)
{
	struct side	*s = arg;
	char		*line;
	size_t		 len;
	int		 flags;

	if (ev == IO_DATAIN) {
		while (io_getline(io, &line, &len, &flags) == IO_LINE_OK &&
		    s->n < 8)
			(void)memcpy(s->lines[s->n++], line, len + 1);
		if (s->n >= 3)
			(void)event_base_loopbreak(osms_evbase);
	} else if (ev == IO_ERROR || ev == IO_DISCONNECTED) {
		s->broken = 1;
		(void)event_base_loopbreak(osms_evbase);
	}
}

/* Raw-deflate text with a sync flush, as a client would send it. */
static size_t
squeeze(const char *text, unsigned char *out, size_t size)
{
	z_stream	 z;

	memset(&z, 0, sizeof(z));
	(void)deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)(uintptr_t)text;
	z.avail_in = (uInt)strlen(text);
	z.next_out = out;
	z.avail_out = (uInt)size;
	(void)deflate(&z, Z_SYNC_FLUSH);
	(void)deflateEnd(&z);
	return size - z.avail_out;
}

static void
test_roundtrip(void)
{
	struct side	 s;
	struct timeval	 tv = { 5, 0 };
	unsigned char	 buf[4096], plain[4096];
	z_stream	 z;
	ssize_t		 n;
	size_t		 len;
	int		 sv[2];

	test_begin("iodeflate: compressed lines in, compressed replies out");
	memset(&s, 0, sizeof(s));
	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	s.io = io_new(sv[0], 1024, cb, &s);
	test_assert(io_start_deflate(s.io) == 0);
	len = squeeze("a1 NOOP\r\na2 SELECT INBOX\r\na3 LOGOUT\r\n", buf,
	    sizeof(buf));
	test_assert(write(sv[1], buf, len) == (ssize_t)len);
	(void)event_base_loopexit(osms_evbase, &tv);
	(void)event_base_dispatch(osms_evbase);
	test_assert(s.n == 3 && strcmp(s.lines[1], "a2 SELECT INBOX") == 0);

	test_assert(io_printf(s.io, "* OK compressed reply\r\n") == 0);
	(void)event_base_loopexit(osms_evbase, &tv);
	(void)event_base_loop(osms_evbase, EVLOOP_NONBLOCK);
	(void)event_base_loop(osms_evbase, EVLOOP_NONBLOCK);
	n = read(sv[1], buf, sizeof(buf));
	test_assert(n > 0);
	memset(&z, 0, sizeof(z));
	(void)inflateInit2(&z, -15);
	z.next_in = buf;
	z.avail_in = (uInt)(n > 0 ? n : 0);
	z.next_out = plain;
	z.avail_out = sizeof(plain) - 1;
	(void)inflate(&z, Z_SYNC_FLUSH);
	plain[sizeof(plain) - 1 - z.avail_out] = '\0';
	(void)inflateEnd(&z);
	test_assert(strcmp((char *)plain, "* OK compressed reply\r\n") == 0);

	/* Garbage that is not deflate ends the connection. */
	memset(buf, 0xff, 64);
	test_assert(write(sv[1], buf, 64) == 64);
	(void)event_base_loopexit(osms_evbase, &tv);
	(void)event_base_dispatch(osms_evbase);
	test_assert(s.broken);
	io_free(s.io);
	(void)close(sv[1]);
	test_end();
}

int
main(void)
{
	if ((osms_evbase = event_base_new()) == NULL)
		abort();
	test_roundtrip();
	return test_exit();
}
