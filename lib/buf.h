/*
 * A growable byte buffer with a ceiling: replies and rendered data
 * (IMAP FETCH items, MIME structures) are built in one, and the ceiling
 * turns a runaway answer into an error instead of unbounded memory.
 * The data is always NUL-terminated (not counted in len).
 */
#ifndef OSMS_BUF_H
#define OSMS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;		/* NULL until the first byte */
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* len never exceeds it */
	int	 over;		/* an add was refused: the content is cut */
};

#define BUF_INIT(max)	{ NULL, 0, 0, (max), 0 }

void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
/* Empty it, keeping the memory. */
void	 buf_reset(struct buf *);
/* 0, or -1 (and over set, nothing added) if it would pass max. */
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_addstr(struct buf *, const char *);
int	 buf_addc(struct buf *, int);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Drop the first n bytes. */
void	 buf_consume(struct buf *, size_t);
/* Hand the data over (the caller frees it); the buffer is empty. */
char	*buf_release(struct buf *, size_t *len);

#endif
