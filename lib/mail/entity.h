/*
 * A message as the gateway's engines (smime.c, pgp.c) take it apart: its
 * content entity (the Content-* fields, a blank line and the body; what
 * is signed or encrypted) and the other header fields (From, To, Subject
 * ..., which stay outside), every line end made CRLF.
 */
#ifndef OSMS_ENTITY_H
#define OSMS_ENTITY_H

#include <stddef.h>

#include "buf.h"

/* A fresh MIME boundary ("osms-" and 24 hex digits) into b. */
void	 entity_boundary(char *b, size_t size);
/* Append p with every line end as CRLF (a lone CR stays): 0 or -1. */
int	 entity_crlf(struct buf *, const char *p, size_t len);
/*
 * The content entity of msg into inner (a text/plain Content-Type when
 * it has none; NULL: not wanted), the other fields but MIME-Version into
 * outer: 0, or -1 if a buffer is full.
 */
int	 entity_split(const char *msg, size_t len, struct buf *outer,
	    struct buf *inner);

#endif
