/*
 * Deflate filters for an io (RFC 4978 COMPRESS=DEFLATE).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "iodeflate.h"
#include "util.h"

#define CHUNK	16384

struct zpair {
	z_stream	 in;
	z_stream	 out;
	int		 broken;
	struct io	*io;
};

static int
z_broken(struct zpair *z, const char *why)
{
	if (!z->broken)
		io_fail_later(z->io, why);
	z->broken = 1;
	return BEV_ERROR;
}

static int
z_in(struct evbuffer *src, struct evbuffer *dst, long limit, int mode,
    void *arg)
{
	struct zpair	*z = arg;
	unsigned char	 inbuf[CHUNK], outbuf[CHUNK];
	size_t		 n;
	long		 made = 0;
	int		 rc;

	(void)mode;
	if (z->broken)
		return BEV_ERROR;
	while ((limit <= 0 || made < limit) &&
	    (n = (size_t)evbuffer_copyout(src, inbuf, sizeof(inbuf))) > 0) {
		z->in.next_in = inbuf;
		z->in.avail_in = (uInt)n;
		do {
			z->in.next_out = outbuf;
			z->in.avail_out = sizeof(outbuf);
			rc = inflate(&z->in, Z_SYNC_FLUSH);
			if (rc != Z_OK && rc != Z_BUF_ERROR)	/* garbage */
				return z_broken(z, "the compressed stream is"
				    " broken");
			if (evbuffer_add(dst, outbuf, sizeof(outbuf) -
			    z->in.avail_out) == -1)
				return BEV_ERROR;
			made += (long)(sizeof(outbuf) - z->in.avail_out);
		} while (z->in.avail_out == 0);
		(void)evbuffer_drain(src, n - z->in.avail_in);
		if (z->in.avail_in > 0)
			break;	/* dst is full enough for now */
	}
	return made > 0 ? BEV_OK : BEV_NEED_MORE;
}

static int
z_out(struct evbuffer *src, struct evbuffer *dst, long limit, int mode,
    void *arg)
{
	struct zpair	*z = arg;
	unsigned char	 inbuf[CHUNK], outbuf[CHUNK];
	size_t		 n;
	int		 rc;

	(void)limit;
	(void)mode;
	if (z->broken)
		return BEV_ERROR;
	while ((n = (size_t)evbuffer_copyout(src, inbuf, sizeof(inbuf))) > 0) {
		int	 last = n == evbuffer_get_length(src);

		z->out.next_in = inbuf;
		z->out.avail_in = (uInt)n;
		do {
			z->out.next_out = outbuf;
			z->out.avail_out = sizeof(outbuf);
			rc = deflate(&z->out, last ? Z_SYNC_FLUSH :
			    Z_NO_FLUSH);
			if (rc == Z_STREAM_ERROR)
				return z_broken(z, "compression failed");
			if (evbuffer_add(dst, outbuf, sizeof(outbuf) -
			    z->out.avail_out) == -1)
				return BEV_ERROR;
		} while (z->out.avail_out == 0);
		(void)evbuffer_drain(src, n);
	}
	return BEV_OK;
}

static void
z_free(void *arg)
{
	struct zpair	*z = arg;

	(void)inflateEnd(&z->in);
	(void)deflateEnd(&z->out);
	free(z);
}

int
io_start_deflate(struct io *io)
{
	struct zpair	*z = xcalloc(1, sizeof(*z));

	z->io = io;
	/* Raw deflate, window 2^15, as RFC 4978 asks (RFC 1951). */
	if (inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		return -1;
	}
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		(void)inflateEnd(&z->in);
		free(z);
		return -1;
	}
	if (io_push_filter(io, z_in, z_out, z, z_free) == -1) {
		z_free(z);
		return -1;
	}
	return 0;
}
