/*
 * Typed packing of imsg payloads.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"

void
msg_init(struct msg *m, uint32_t type, uint64_t id)
{
	m->type = type;
	m->id = id;
	m->fd = -1;
	m->overflow = 0;
	m->len = 0;
}

static void
msg_add(struct msg *m, const void *p, size_t len)
{
	if (m->overflow || len > sizeof(m->buf) - m->len) {
		m->overflow = 1;
		return;
	}
	if (len > 0)
		memcpy(m->buf + m->len, p, len);
	m->len += len;
}

void
msg_add_u32(struct msg *m, uint32_t v)
{
	msg_add(m, &v, sizeof(v));
}

void
msg_add_u64(struct msg *m, uint64_t v)
{
	msg_add(m, &v, sizeof(v));
}

void
msg_add_s64(struct msg *m, int64_t v)
{
	msg_add(m, &v, sizeof(v));
}

void
msg_add_data(struct msg *m, const void *p, size_t len)
{
	if (len > UINT32_MAX) {
		m->overflow = 1;
		return;
	}
	msg_add_u32(m, (uint32_t)len);
	msg_add(m, p, len);
}

void
msg_add_str(struct msg *m, const char *s)
{
	msg_add_data(m, s, strlen(s));
}

void
msg_add_fd(struct msg *m, int fd)
{
	if (m->fd != -1) {
		(void)close(m->fd);
		m->overflow = 1;	/* one descriptor per message */
	}
	m->fd = fd;
}

int
msg_compose(struct msg *m, struct imsgbuf *ibuf)
{
	int	 fd = m->fd;

	m->fd = -1;
	if (m->overflow) {
		if (fd != -1)
			(void)close(fd);
		errno = EMSGSIZE;
		return -1;
	}
	return imsg_compose(ibuf, m->type, m->id, fd, m->buf, m->len);
}

void
msg_reader_init(struct msg_reader *r, const struct imsg *imsg)
{
	r->p = imsg->data;
	r->left = imsg->datalen;
	r->err = 0;
}

static int
msg_get(struct msg_reader *r, void *dst, size_t len)
{
	if (r->err || len > r->left) {
		r->err = 1;
		return -1;
	}
	if (len > 0)
		memcpy(dst, r->p, len);
	r->p += len;
	r->left -= len;
	return 0;
}

int
msg_get_u32(struct msg_reader *r, uint32_t *v)
{
	return msg_get(r, v, sizeof(*v));
}

int
msg_get_u64(struct msg_reader *r, uint64_t *v)
{
	return msg_get(r, v, sizeof(*v));
}

int
msg_get_s64(struct msg_reader *r, int64_t *v)
{
	return msg_get(r, v, sizeof(*v));
}

int
msg_get_data(struct msg_reader *r, const void **p, size_t *len)
{
	uint32_t	 n;

	if (msg_get_u32(r, &n) == -1)
		return -1;
	if (n > r->left) {
		r->err = 1;
		return -1;
	}
	*p = r->p;
	*len = n;
	r->p += n;
	r->left -= n;
	return 0;
}

int
msg_get_str(struct msg_reader *r, char *dst, size_t dstsize)
{
	const void	*p;
	size_t		 len;

	if (dstsize == 0 || msg_get_data(r, &p, &len) == -1)
		goto bad;
	if (len >= dstsize || memchr(p, '\0', len) != NULL)
		goto bad;
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
bad:
	r->err = 1;
	if (dstsize > 0)
		dst[0] = '\0';
	return -1;
}

int
msg_end(struct msg_reader *r)
{
	if (r->err || r->left != 0) {
		r->err = 1;
		return -1;
	}
	return 0;
}

int
msg_check(const struct imsg *imsg, const char *layout)
{
	struct msg_reader	 r;
	const void		*p;
	size_t			 len;
	uint64_t		 u64;
	uint32_t		 u32;
	int			 wants_fd = 0;

	msg_reader_init(&r, imsg);
	for (; *layout != '\0'; layout++) {
		switch (*layout) {
		case 'u':
			(void)msg_get_u32(&r, &u32);
			break;
		case 'U':
		case 'S':
			(void)msg_get_u64(&r, &u64);
			break;
		case 's':
			if (msg_get_data(&r, &p, &len) == 0 &&
			    memchr(p, '\0', len) != NULL)
				r.err = 1;
			break;
		case 'd':
			(void)msg_get_data(&r, &p, &len);
			break;
		case 'f':
			wants_fd = 1;
			break;
		default:
			return -1;
		}
	}
	if (wants_fd != (imsg->fd != -1))
		return -1;
	return msg_end(&r);
}
