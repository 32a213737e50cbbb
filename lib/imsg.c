/*
 * imsg: typed, length-checked frames over a UNIX stream socket, with file
 * descriptor passing.
 *
 * On Linux a recvmsg() on a stream socket never merges data sent with
 * descriptors and data sent after them, and osms sends a frame that
 * carries a descriptor in a sendmsg() of its own that starts at the
 * frame. So a descriptor always arrives no later than the first byte of
 * its frame, and the receive side can pair them in order.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "util.h"

#define IMSG_MAX_IOV	64

void
imsgbuf_init(struct imsgbuf *ibuf, int fd)
{
	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	ibuf->pid = getpid();
	ibuf->rbuf = xmalloc(IMSG_MAX_SIZE);
	STAILQ_INIT(&ibuf->wq);
}

static void
imsgbuf_close_rfds(struct imsgbuf *ibuf)
{
	unsigned	 i;

	for (i = 0; i < ibuf->nrfds; i++)
		(void)close(ibuf->rfds[i]);
	ibuf->nrfds = 0;
}

void
imsgbuf_clear(struct imsgbuf *ibuf)
{
	struct ibuf	*b;

	while ((b = STAILQ_FIRST(&ibuf->wq)) != NULL) {
		STAILQ_REMOVE_HEAD(&ibuf->wq, entry);
		if (b->fd != -1)
			(void)close(b->fd);
		free(b);
	}
	ibuf->wqbytes = 0;
	imsgbuf_close_rfds(ibuf);
	free(ibuf->rbuf);
	ibuf->rbuf = NULL;
	ibuf->rlen = 0;
}

ssize_t
imsgbuf_read(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * IMSG_MAX_FDS)];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	int		 bad = 0;

	if (ibuf->rlen >= IMSG_MAX_SIZE) {
		errno = ENOBUFS;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = IMSG_MAX_SIZE - ibuf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		n = recvmsg(ibuf->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		size_t	 i, nfds;
		int	 fd;

		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(fd));
			if (ibuf->nrfds < IMSG_MAX_FDS)
				ibuf->rfds[ibuf->nrfds++] = fd;
			else {
				(void)close(fd);
				bad = 1;
			}
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		bad = 1;
	if (bad) {
		imsgbuf_close_rfds(ibuf);
		errno = EBADMSG;
		return -1;
	}
	ibuf->rlen += (size_t)n;
	return n;
}

int
imsgbuf_feed(struct imsgbuf *ibuf, const void *data, size_t len)
{
	if (len > IMSG_MAX_SIZE - ibuf->rlen) {
		errno = ENOBUFS;
		return -1;
	}
	memcpy(ibuf->rbuf + ibuf->rlen, data, len);
	ibuf->rlen += len;
	return 0;
}

int
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	size_t		 datalen;

	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	if (ibuf->rlen < IMSG_HEADER_SIZE)
		return 0;
	memcpy(&hdr, ibuf->rbuf, sizeof(hdr));
	if (hdr.len < IMSG_HEADER_SIZE || hdr.len > IMSG_MAX_SIZE ||
	    (hdr.flags & ~IMSG_FLAG_FD) != 0) {
		errno = EBADMSG;
		return -1;
	}
	if (ibuf->rlen < hdr.len)
		return 0;
	if (hdr.flags & IMSG_FLAG_FD) {
		if (ibuf->nrfds == 0) {
			errno = EBADMSG;
			return -1;
		}
		imsg->fd = ibuf->rfds[0];
		ibuf->nrfds--;
		memmove(ibuf->rfds, ibuf->rfds + 1,
		    ibuf->nrfds * sizeof(int));
	}
	datalen = hdr.len - IMSG_HEADER_SIZE;
	if (datalen > 0) {
		imsg->data = xmalloc(datalen);
		memcpy(imsg->data, ibuf->rbuf + IMSG_HEADER_SIZE, datalen);
	}
	imsg->datalen = datalen;
	imsg->hdr = hdr;
	ibuf->rlen -= hdr.len;
	memmove(ibuf->rbuf, ibuf->rbuf + hdr.len, ibuf->rlen);

	/* Everything read is consumed: a descriptor left over was sent
	 * with a frame that did not announce it. */
	if (ibuf->rlen == 0 && ibuf->nrfds > 0) {
		imsg_free(imsg);
		imsgbuf_close_rfds(ibuf);
		errno = EBADMSG;
		return -1;
	}
	return 1;
}

void
imsg_free(struct imsg *imsg)
{
	free(imsg->data);
	imsg->data = NULL;
	imsg->datalen = 0;
	if (imsg->fd != -1)
		(void)close(imsg->fd);
	imsg->fd = -1;
}

int
imsg_take_fd(struct imsg *imsg)
{
	int	 fd = imsg->fd;

	imsg->fd = -1;
	return fd;
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint64_t id, int fd,
    const void *data, size_t len)
{
	struct imsg_hdr	 hdr;
	struct ibuf	*b;

	if (len > IMSG_MAX_PAYLOAD || (len > 0 && data == NULL)) {
		if (fd != -1)
			(void)close(fd);
		errno = EMSGSIZE;
		return -1;
	}
	if (ibuf->wqbytes + IMSG_HEADER_SIZE + len > IMSG_MAX_QUEUED) {
		if (fd != -1)
			(void)close(fd);
		errno = ENOBUFS;
		return -1;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)(IMSG_HEADER_SIZE + len);
	hdr.flags = fd != -1 ? IMSG_FLAG_FD : 0;
	hdr.pid = (uint32_t)ibuf->pid;
	hdr.id = id;

	b = xmalloc(sizeof(*b) + hdr.len);
	b->len = hdr.len;
	b->off = 0;
	b->fd = fd;
	memcpy(b->data, &hdr, sizeof(hdr));
	if (len > 0)
		memcpy(b->data + IMSG_HEADER_SIZE, data, len);
	STAILQ_INSERT_TAIL(&ibuf->wq, b, entry);
	ibuf->wqbytes += b->len;
	return 0;
}

/* One sendmsg(): a run of frames without descriptors, or one frame
 * whose descriptor goes with its first byte. */
static ssize_t
imsgbuf_write_once(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct iovec	 iov[IMSG_MAX_IOV];
	struct msghdr	 msg;
	struct ibuf	*b, *first = STAILQ_FIRST(&ibuf->wq);
	int		 n = 0;
	ssize_t		 w;

	memset(&msg, 0, sizeof(msg));
	STAILQ_FOREACH(b, &ibuf->wq, entry) {
		if (n == IMSG_MAX_IOV || (b != first && b->fd != -1))
			break;
		iov[n].iov_base = b->data + b->off;
		iov[n].iov_len = b->len - b->off;
		n++;
		if (b->fd != -1)
			break;
	}
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)n;
	if (first->fd != -1) {
		struct cmsghdr	*cmsg;

		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &first->fd, sizeof(int));
	}
	do {
		w = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL);
	} while (w == -1 && errno == EINTR);
	return w;
}

int
imsgbuf_flush(struct imsgbuf *ibuf)
{
	struct ibuf	*b;
	ssize_t		 w;
	size_t		 left, chunk;

	while (!STAILQ_EMPTY(&ibuf->wq)) {
		if ((w = imsgbuf_write_once(ibuf)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		left = (size_t)w;
		while (left > 0 && (b = STAILQ_FIRST(&ibuf->wq)) != NULL) {
			if (b->fd != -1) {
				/* The kernel holds its own reference now. */
				(void)close(b->fd);
				b->fd = -1;
			}
			chunk = b->len - b->off;
			if (left < chunk) {
				b->off += left;
				break;
			}
			left -= chunk;
			ibuf->wqbytes -= b->len;
			STAILQ_REMOVE_HEAD(&ibuf->wq, entry);
			free(b);
		}
	}
	return 0;
}

int
imsgbuf_pending(const struct imsgbuf *ibuf)
{
	return !STAILQ_EMPTY(&ibuf->wq);
}
