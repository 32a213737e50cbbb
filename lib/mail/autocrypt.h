/*
 * Autocrypt Level 1 header fields: a sender's OpenPGP key in the header
 * of every message it sends, so the next message to it can be
 * encrypted.
 *
 *	Autocrypt: addr=bob@remote.test; [prefer-encrypt=mutual;]
 *	    keydata=BASE64 (folded)
 *
 * Messages come from anywhere: a field longer than AUTOCRYPT_MAX, with
 * an attribute not known that does not start with '_', without addr or
 * keydata, or keydata that is not base64, is no field; a message with
 * more than one is taken as having none (Autocrypt 1.1, 2.3).
 */
#ifndef OSMS_AUTOCRYPT_H
#define OSMS_AUTOCRYPT_H

#include <stddef.h>

#include "buf.h"

#define AUTOCRYPT_MAX	(16 * 1024)	/* the whole field, folded */

struct autocrypt {
	char		 addr[256];	/* lower case */
	int		 mutual;	/* prefer-encrypt=mutual */
	struct buf	 key;		/* keydata, decoded */
};

/*
 * The message's one Autocrypt field (its header only, within len): 1
 * and ac filled (free ac->key), 0 if there is none (or more than one),
 * -1 if the one there is malformed.
 */
int	 autocrypt_find(const char *msg, size_t len, struct autocrypt *ac);
/* "Autocrypt: addr=...; keydata=..." for key (binary OpenPGP), folded
 * with CRLF, appended to out: 0 or -1. */
int	 autocrypt_field(const char *addr, const void *key, size_t keylen,
	    struct buf *out);

#endif
