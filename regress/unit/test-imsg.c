/*
 * imsg framing: hostile frames first, then descriptor passing and the
 * write queue.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "test.h"

static struct imsg_hdr
hdr_make(uint32_t type, uint32_t len, uint32_t flags)
{
	struct imsg_hdr	 h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = len;
	h.flags = flags;
	h.id = 42;
	return h;
}

static void
test_short_header(void)
{
	struct imsgbuf	 ib;
	struct imsg	 im;
	struct imsg_hdr	 h = hdr_make(7, IMSG_HEADER_SIZE, 0);

	test_begin("imsg: a partial header is not a frame yet");
	imsgbuf_init(&ib, -1);
	test_assert(imsgbuf_feed(&ib, &h, IMSG_HEADER_SIZE - 1) == 0);
	test_assert(imsg_get(&ib, &im) == 0);
	test_assert(imsgbuf_feed(&ib, (char *)&h + IMSG_HEADER_SIZE - 1,
	    1) == 0);
	test_assert(imsg_get(&ib, &im) == 1);
	test_assert(im.hdr.type == 7 && im.datalen == 0 && im.data == NULL);
	test_assert(im.fd == -1 && im.hdr.id == 42);
	imsg_free(&im);
	imsgbuf_clear(&ib);
	test_end();
}

static void
test_bad_lengths(void)
{
	struct imsgbuf	 ib;
	struct imsg	 im;
	struct imsg_hdr	 h;
	uint32_t	 lens[] = { 0, 1, IMSG_HEADER_SIZE - 1,
			    IMSG_MAX_SIZE + 1, 0xffffffffU };
	size_t		 i;

	test_begin("imsg: lengths below the header or above the maximum");
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		imsgbuf_init(&ib, -1);
		h = hdr_make(1, lens[i], 0);
		test_assert(imsgbuf_feed(&ib, &h, sizeof(h)) == 0);
		errno = 0;
		test_assert(imsg_get(&ib, &im) == -1);
		test_assert(errno == EBADMSG);
		imsgbuf_clear(&ib);
	}
	test_end();
}

static void
test_unknown_flags(void)
{
	struct imsgbuf	 ib;
	struct imsg	 im;
	struct imsg_hdr	 h = hdr_make(1, IMSG_HEADER_SIZE, 0x80);

	test_begin("imsg: unknown header flags are malformed");
	imsgbuf_init(&ib, -1);
	test_assert(imsgbuf_feed(&ib, &h, sizeof(h)) == 0);
	test_assert(imsg_get(&ib, &im) == -1);
	imsgbuf_clear(&ib);
	test_end();
}

static void
test_fd_flag_without_fd(void)
{
	struct imsgbuf	 ib;
	struct imsg	 im;
	struct imsg_hdr	 h = hdr_make(1, IMSG_HEADER_SIZE, IMSG_FLAG_FD);

	test_begin("imsg: a frame announcing a descriptor that never came");
	imsgbuf_init(&ib, -1);
	test_assert(imsgbuf_feed(&ib, &h, sizeof(h)) == 0);
	test_assert(imsg_get(&ib, &im) == -1);
	test_assert(errno == EBADMSG);
	imsgbuf_clear(&ib);
	test_end();
}

static void
test_truncated_payload(void)
{
	struct imsgbuf	 ib;
	struct imsg	 im;
	struct imsg_hdr	 h = hdr_make(3, IMSG_HEADER_SIZE + 10, 0);

	test_begin("imsg: a truncated payload waits, then completes");
	imsgbuf_init(&ib, -1);
	test_assert(imsgbuf_feed(&ib, &h, sizeof(h)) == 0);
	test_assert(imsgbuf_feed(&ib, "12345", 5) == 0);
	test_assert(imsg_get(&ib, &im) == 0);
	test_assert(imsgbuf_feed(&ib, "67890", 5) == 0);
	test_assert(imsg_get(&ib, &im) == 1);
	test_assert(im.datalen == 10 && memcmp(im.data, "1234567890", 10) == 0);
	imsg_free(&im);
	test_assert(imsg_get(&ib, &im) == 0);
	imsgbuf_clear(&ib);
	test_end();
}

static void
test_feed_overflow(void)
{
	struct imsgbuf	 ib;
	static char	 big[IMSG_MAX_SIZE + 1];

	test_begin("imsg: the read buffer never grows past one frame");
	imsgbuf_init(&ib, -1);
	test_assert(imsgbuf_feed(&ib, big, sizeof(big)) == -1);
	test_assert(errno == ENOBUFS);
	test_assert(imsgbuf_feed(&ib, big, IMSG_MAX_SIZE) == 0);
	test_assert(imsgbuf_feed(&ib, big, 1) == -1);
	imsgbuf_clear(&ib);
	test_end();
}

static void
test_compose_limits(void)
{
	struct imsgbuf	 ib;
	static char	 big[IMSG_MAX_PAYLOAD + 1];
	int		 sv[2], i, rc = 0;

	test_begin("imsg: oversized payloads and a peer that never reads");
	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	imsgbuf_init(&ib, sv[0]);
	test_assert(imsg_compose(&ib, 1, 0, -1, big, sizeof(big)) == -1);
	test_assert(errno == EMSGSIZE);
	test_assert(imsg_compose(&ib, 1, 0, -1, big, IMSG_MAX_PAYLOAD) == 0);
	for (i = 0; i < 1000 && rc == 0; i++)
		rc = imsg_compose(&ib, 1, 0, -1, big, IMSG_MAX_PAYLOAD);
	test_assert(rc == -1 && errno == ENOBUFS);
	test_assert(ib.wqbytes <= IMSG_MAX_QUEUED);
	imsgbuf_clear(&ib);
	(void)close(sv[0]);
	(void)close(sv[1]);
	test_end();
}

static int
read_all(struct imsgbuf *ib, struct imsg *im)
{
	int	 r;

	while ((r = imsg_get(ib, im)) == 0)
		if (imsgbuf_read(ib) <= 0)
			return -1;
	return r;
}

static void
test_roundtrip_socket(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 im;
	char		 payload[1000];
	int		 sv[2], i, ok = 1;

	test_begin("imsg: 200 frames of all sizes over a socketpair");
	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	for (i = 0; i < 200; i++) {
		memset(payload, i, sizeof(payload));
		test_assert(imsg_compose(&a, (uint32_t)i, (uint64_t)i * 3, -1,
		    payload, (size_t)(i * 5)) == 0);
	}
	while (imsgbuf_pending(&a))
		test_assert(imsgbuf_flush(&a) == 0);
	for (i = 0; i < 200; i++) {
		if (read_all(&b, &im) != 1) {
			ok = 0;
			break;
		}
		memset(payload, i, sizeof(payload));
		if (im.hdr.type != (uint32_t)i ||
		    im.hdr.id != (uint64_t)i * 3 ||
		    im.datalen != (size_t)i * 5 ||
		    (im.datalen && memcmp(im.data, payload, im.datalen) != 0))
			ok = 0;
		imsg_free(&im);
	}
	test_assert(ok);
	test_assert(imsg_get(&b, &im) == 0);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	(void)close(sv[0]);
	(void)close(sv[1]);
	test_end();
}

static void
test_fd_passing(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 im;
	struct stat	 st1, st2;
	int		 sv[2], p[2], fd, i;
	char		 c = 0;

	test_begin("imsg: descriptors travel with their own frames");
	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	test_assert(pipe(p) == 0);
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	/* plain, with fd, plain, with fd: the pairing must not shift */
	test_assert(imsg_compose(&a, 1, 0, -1, "x", 1) == 0);
	test_assert(imsg_compose(&a, 2, 0, dup(p[1]), "y", 1) == 0);
	test_assert(imsg_compose(&a, 3, 0, -1, NULL, 0) == 0);
	test_assert(imsg_compose(&a, 4, 0, dup(p[0]), NULL, 0) == 0);
	while (imsgbuf_pending(&a))
		test_assert(imsgbuf_flush(&a) == 0);
	for (i = 1; i <= 4; i++) {
		test_assert(read_all(&b, &im) == 1);
		test_assert(im.hdr.type == (uint32_t)i);
		if (i == 2 || i == 4) {
			test_assert(im.fd != -1);
			fd = imsg_take_fd(&im);
			test_assert(fstat(fd, &st1) == 0);
			test_assert(fstat(i == 2 ? p[1] : p[0], &st2) == 0);
			test_assert(st1.st_ino == st2.st_ino);
			test_assert((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
			if (i == 2)
				test_assert(write(fd, "z", 1) == 1);
			else
				test_assert(read(fd, &c, 1) == 1 && c == 'z');
			(void)close(fd);
		} else
			test_assert(im.fd == -1);
		imsg_free(&im);
	}
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	(void)close(sv[0]);
	(void)close(sv[1]);
	(void)close(p[0]);
	(void)close(p[1]);
	test_end();
}

/* A descriptor sent with a frame that does not announce one. */
static void
test_stray_fd(void)
{
	struct imsgbuf	 b;
	struct imsg	 im;
	struct imsg_hdr	 h = hdr_make(9, IMSG_HEADER_SIZE, 0);
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr	*cmsg;
	int		 sv[2], fd;

	test_begin("imsg: a descriptor no frame claims is malformed");
	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fd = dup(0);
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &h;
	iov.iov_len = sizeof(h);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	test_assert(sendmsg(sv[0], &msg, 0) == (ssize_t)sizeof(h));
	(void)close(fd);
	imsgbuf_init(&b, sv[1]);
	test_assert(imsgbuf_read(&b) == (ssize_t)sizeof(h));
	test_assert(b.nrfds == 1);
	test_assert(imsg_get(&b, &im) == -1);
	test_assert(b.nrfds == 0);
	imsgbuf_clear(&b);
	(void)close(sv[0]);
	(void)close(sv[1]);
	test_end();
}

static void
test_eof(void)
{
	struct imsgbuf	 b;
	int		 sv[2];

	test_begin("imsg: end of stream reads as 0");
	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	(void)close(sv[0]);
	imsgbuf_init(&b, sv[1]);
	test_assert(imsgbuf_read(&b) == 0);
	imsgbuf_clear(&b);
	(void)close(sv[1]);
	test_end();
}

int
main(void)
{
	test_short_header();
	test_bad_lengths();
	test_unknown_flags();
	test_fd_flag_without_fd();
	test_truncated_payload();
	test_feed_overflow();
	test_compose_limits();
	test_roundtrip_socket();
	test_fd_passing();
	test_stray_fd();
	test_eof();
	return test_exit();
}
