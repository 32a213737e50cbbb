/*
 * libFuzzer target: the imsg frame reader and every catalogue layout.
 * Oracle: a frame that passes msg_check() decodes field by field and
 * re-encodes to the same bytes; nothing reads past a frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imsg.h"
#include "msg.h"
#include "osms_imsg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
reencode(const struct imsg *imsg, const char *layout)
{
	static struct msg	 m;
	struct msg_reader	 r;
	const void		*p;
	size_t			 len;
	uint64_t		 u64;
	uint32_t		 u32;

	msg_init(&m, imsg->hdr.type, imsg->hdr.id);
	msg_reader_init(&r, imsg);
	for (; *layout; layout++) {
		switch (*layout) {
		case 'u':
			if (msg_get_u32(&r, &u32) == -1)
				abort();
			msg_add_u32(&m, u32);
			break;
		case 'U':
		case 'S':
			if (msg_get_u64(&r, &u64) == -1)
				abort();
			msg_add_u64(&m, u64);
			break;
		case 's':
		case 'd':
			if (msg_get_data(&r, &p, &len) == -1)
				abort();
			msg_add_data(&m, p, len);
			break;
		default:
			break;
		}
	}
	if (msg_end(&r) == -1 || m.overflow || m.len != imsg->datalen ||
	    (m.len > 0 && memcmp(m.buf, imsg->data, m.len) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsgbuf	 ib;
	struct imsg	 imsg;
	const char	*layout;
	size_t		 off = 0, chunk;
	int		 r, from, to;

	imsgbuf_init(&ib, -1);
	while (off < size) {
		/* Feed in uneven pieces, as a socket would. */
		chunk = 1 + data[off] % 97;
		if (chunk > size - off)
			chunk = size - off;
		if (imsgbuf_feed(&ib, data + off, chunk) == -1)
			break;
		off += chunk;
		while ((r = imsg_get(&ib, &imsg)) == 1) {
			if (imsg.datalen + IMSG_HEADER_SIZE != imsg.hdr.len)
				abort();
			for (from = 0; from < ROLE_COUNT; from++)
				for (to = 0; to < ROLE_COUNT; to++)
					(void)imsg_allowed(imsg.hdr.type,
					    (enum osms_role)from,
					    (enum osms_role)to);
			layout = imsg_type_layout(imsg.hdr.type);
			if (layout != NULL && strchr(layout, 'f') == NULL &&
			    msg_check(&imsg, layout) == 0)
				reencode(&imsg, layout);
			imsg_free(&imsg);
		}
		if (r == -1)
			break;
	}
	imsgbuf_clear(&ib);
	return 0;
}
