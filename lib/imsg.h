/*
 * imsg: typed, length-checked frames over a UNIX stream socket, with file
 * descriptor passing. Written for osms; the idea is OpenBSD's.
 *
 * A frame is a fixed header followed by at most IMSG_MAX_PAYLOAD bytes.
 * A descriptor travels with the first byte of its frame; a frame that
 * announces one (IMSG_FLAG_FD) and has none, or a descriptor that no
 * frame claims, makes the stream malformed.
 */
#ifndef OSMS_IMSGBUF_H
#define OSMS_IMSGBUF_H

#include <sys/queue.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct imsg_hdr {
	uint32_t	 type;
	uint32_t	 len;		/* header and payload */
	uint32_t	 flags;
	uint32_t	 pid;		/* sender, for logs */
	uint64_t	 id;		/* request id, echoed in the reply */
};

#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
#define IMSG_MAX_SIZE		(64 * 1024)
#define IMSG_MAX_PAYLOAD	(IMSG_MAX_SIZE - IMSG_HEADER_SIZE)
#define IMSG_MAX_FDS		16		/* received, not yet claimed */
#define IMSG_MAX_QUEUED		(8 * 1024 * 1024) /* unsent bytes */
#define IMSG_FLAG_FD		0x1

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1, or owned by the receiver */
	uint8_t		*data;		/* NULL if no payload */
	size_t		 datalen;
};

struct ibuf {
	STAILQ_ENTRY(ibuf) entry;
	size_t		 len;
	size_t		 off;		/* bytes already written */
	int		 fd;		/* sent with byte 0, then closed */
	uint8_t		 data[];
};

struct imsgbuf {
	int		 fd;
	pid_t		 pid;
	uint8_t		*rbuf;		/* IMSG_MAX_SIZE bytes */
	size_t		 rlen;
	int		 rfds[IMSG_MAX_FDS];
	unsigned	 nrfds;
	STAILQ_HEAD(, ibuf) wq;	/* sent from the head */
	size_t		 wqbytes;
};

void	 imsgbuf_init(struct imsgbuf *, int fd);
/* Free buffers, close queued descriptors; the socket itself stays open. */
void	 imsgbuf_clear(struct imsgbuf *);

/*
 * Read what the socket has. Returns bytes read, 0 at end of stream, -1 on
 * error with errno set (EAGAIN: nothing yet; EBADMSG: descriptors that
 * could not be taken).
 */
ssize_t	 imsgbuf_read(struct imsgbuf *);
/* Feed bytes as if read (tests and fuzzing). -1/ENOBUFS when full. */
int	 imsgbuf_feed(struct imsgbuf *, const void *, size_t);

/*
 * Take the next complete frame: 1 and *imsg filled (release it with
 * imsg_free), 0 if none is complete yet, -1 with errno EBADMSG if the
 * stream is malformed; the stream cannot be used after that.
 */
int	 imsg_get(struct imsgbuf *, struct imsg *);
void	 imsg_free(struct imsg *);
/* Hand the frame's descriptor to the caller (-1 if none). */
int	 imsg_take_fd(struct imsg *);

/*
 * Queue a frame. The descriptor (or -1) is owned by the imsgbuf from now
 * on, even on failure. -1 with EMSGSIZE if the payload is too large,
 * ENOBUFS if the peer does not read and too much is queued.
 */
int	 imsg_compose(struct imsgbuf *, uint32_t type, uint64_t id, int fd,
	    const void *, size_t);
/* Write queued frames: 0 when all or some went out (or EAGAIN), -1 on
 * error (errno set; EPIPE: peer gone). */
int	 imsgbuf_flush(struct imsgbuf *);
int	 imsgbuf_pending(const struct imsgbuf *);

#endif
