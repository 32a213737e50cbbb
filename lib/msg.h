/*
 * Typed packing of imsg payloads. A sender adds fields in the order the
 * catalogue (osms_imsg.h) gives; the receiver reads them back in the same
 * order and ends with msg_end(), which fails on a short read, on a bad
 * field, or on bytes left over. No role parses another role's bytes by
 * hand.
 *
 * Wire format: integers in host order (both ends are the same machine),
 * strings as u32 length + bytes without NUL, data likewise.
 */
#ifndef OSMS_MSG_H
#define OSMS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "imsg.h"

struct msg {
	uint32_t	 type;
	uint64_t	 id;
	int		 fd;
	int		 overflow;
	size_t		 len;
	uint8_t		 buf[IMSG_MAX_PAYLOAD];
};

void	 msg_init(struct msg *, uint32_t type, uint64_t id);
void	 msg_add_u32(struct msg *, uint32_t);
void	 msg_add_u64(struct msg *, uint64_t);
void	 msg_add_s64(struct msg *, int64_t);
void	 msg_add_str(struct msg *, const char *);
void	 msg_add_data(struct msg *, const void *, size_t);
/* The descriptor is owned by the message from now on. */
void	 msg_add_fd(struct msg *, int);
/* Queue on an imsgbuf; -1 if it overflowed or could not be queued.
 * An overflow is a programming error: callers treat it as fatal. */
int	 msg_compose(struct msg *, struct imsgbuf *);

struct msg_reader {
	const uint8_t	*p;
	size_t		 left;
	int		 err;
};

void	 msg_reader_init(struct msg_reader *, const struct imsg *);
/* Each returns 0, or -1 (and every later call and msg_end fail too). */
int	 msg_get_u32(struct msg_reader *, uint32_t *);
int	 msg_get_u64(struct msg_reader *, uint64_t *);
int	 msg_get_s64(struct msg_reader *, int64_t *);
/* Copy a string into dst; fails if it holds a NUL or does not fit. */
int	 msg_get_str(struct msg_reader *, char *dst, size_t dstsize);
/* Point at data inside the message (valid while the imsg lives). */
int	 msg_get_data(struct msg_reader *, const void **, size_t *);
/* 0 if every field was read well and nothing is left. */
int	 msg_end(struct msg_reader *);

/*
 * 0 if the payload has exactly the shape the layout letters describe
 * (u u32, U u64, S s64, s string without NUL, d data, f descriptor).
 */
int	 msg_check(const struct imsg *, const char *layout);

#endif
