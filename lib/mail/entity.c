/*
 * A message's content entity and its other fields (entity.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entity.h"

void
entity_boundary(char *b, size_t size)
{
	unsigned char	 r[12];
	size_t		 i;

	/* Unguessable: a sender must not be able to forge a part end. */
	arc4random_buf(r, sizeof(r));
	(void)snprintf(b, size, "osms-");
	for (i = 0; i < sizeof(r) && 5 + 2 * i + 2 < size; i++)
		(void)snprintf(b + 5 + 2 * i, size - 5 - 2 * i, "%02x", r[i]);
}

int
entity_crlf(struct buf *b, const char *p, size_t len)
{
	const char	*end = p + len, *start = p, *q = p, *lf;

	/* memchr() finds the LFs: this runs over whole messages. */
	while (q < end && (lf = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		q = lf + 1;
		if (lf > p && lf[-1] == '\r')
			continue;
		if (buf_add(b, start, (size_t)(lf - start)) == -1 ||
		    buf_add(b, "\r\n", 2) == -1)
			return -1;
		start = q;
	}
	return buf_add(b, start, (size_t)(end - start));
}

/* Where the header block ends (after its blank line), or len. */
static size_t
header_end(const char *p, size_t len, size_t *hdr_len)
{
	size_t	 i = 0;

	while (i < len) {
		if (p[i] == '\n') {
			*hdr_len = i;
			return i + 1;
		}
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
			*hdr_len = i;
			return i + 2;
		}
		while (i < len && p[i] != '\n')
			i++;
		i++;			/* past the line's LF */
	}
	*hdr_len = len;
	return len;
}

int
entity_split(const char *msg, size_t len, struct buf *outer,
    struct buf *inner)
{
	size_t	 hlen, body = header_end(msg, len, &hlen), i = 0, e;
	size_t	 mark = inner != NULL ? inner->len : 0;
	int	 failed = 0;

	while (i < hlen) {
		/* A field: its first line and the folded ones after it. */
		for (e = i; e < hlen; e++)
			if (msg[e] == '\n' && (e + 1 >= hlen ||
			    (msg[e + 1] != ' ' && msg[e + 1] != '\t')))
				break;
		e = e < hlen ? e + 1 : hlen;
		if (e - i >= 8 && strncasecmp(msg + i, "Content-", 8) == 0) {
			if (inner != NULL && entity_crlf(inner, msg + i,
			    e - i) == -1)
				failed = 1;
		} else if (!(e - i >= 13 &&
		    strncasecmp(msg + i, "MIME-Version:", 13) == 0)) {
			if (entity_crlf(outer, msg + i, e - i) == -1)
				failed = 1;
		}
		i = e;
	}
	/* A last field without its line end gets one. */
	if (outer->len > 0 && outer->data[outer->len - 1] != '\n' &&
	    buf_add(outer, "\r\n", 2) == -1)
		failed = 1;
	if (inner == NULL)
		return failed ? -1 : 0;
	if (inner->len > mark && inner->data[inner->len - 1] != '\n' &&
	    buf_add(inner, "\r\n", 2) == -1)
		failed = 1;
	if (inner->len == mark && buf_addstr(inner, "Content-Type: "
	    "text/plain; charset=us-ascii\r\n") == -1)
		failed = 1;
	if (failed || buf_add(inner, "\r\n", 2) == -1 ||
	    entity_crlf(inner, msg + body, len - body) == -1)
		return -1;
	return 0;
}
