/*
 * What DKIM signing (dkim.c) and ARC verification (arc.c) share: the
 * header block split into fields with limits, bare LFs counting as line
 * ends, and the relaxed canonicalizations of RFC 6376 3.4.2 and 3.4.4.
 */
#ifndef OSMS_DKIMCANON_H
#define OSMS_DKIMCANON_H

#include <stddef.h>

#include <openssl/evp.h>

#include "buf.h"

struct dkc_field {
	size_t	 off;		/* in the message: the field's first byte */
	size_t	 len;		/* up to, not with, its last line end */
	size_t	 namelen;	/* before the colon, trailing WSP cut */
	int	 used;		/* signed already (an h= entry took it) */
};

/* The fields of the header block into f (room for DKIM_MAX_FIELDS),
 * and where the body starts. -1 past the limits. */
int	 dkc_split_header(const char *m, size_t len, struct dkc_field *f,
	    size_t *nf, size_t *body);
/* The field's name length, or 0 if it has no colon (not selectable). */
size_t	 dkc_field_name(const char *m, const struct dkc_field *f);
/* Relaxed header canonicalization of the field text s (len bytes,
 * folded or not): "name:value", then CRLF if crlf. */
int	 dkc_canon_field(const char *s, size_t len, int crlf, struct buf *out);
/* Relaxed body canonicalization of m from p, into md. */
int	 dkc_hash_body(const char *m, size_t len, size_t p, EVP_MD_CTX *md);
/* 1 if s is a host name of at most max bytes (letters, digits, '-',
 * '_', dots between labels). */
int	 dkc_name_ok(const char *s, size_t max);

#endif
