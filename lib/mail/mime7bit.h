/*
 * The 8BITMIME downgrade (RFC 6152 3): before a message goes to a next
 * hop that does not offer 8BITMIME, the leaf parts whose bodies hold
 * 8-bit data are re-encoded, text as quoted-printable (RFC 2045 6.7),
 * the rest as base64 (6.8), with their Content-Transfer-Encoding field
 * replaced, as Postfix does. For the mta role.
 *
 * The message is hostile in the sense that a local user wrote it: it is
 * read with mime.c's parser and limits, bare LFs count as line ends, and
 * what does not fit the limits is refused, not sent half converted.
 * Header fields with raw 8-bit bytes have no standard downgrade and go
 * out as they are.
 */
#ifndef OSMS_MIME7BIT_H
#define OSMS_MIME7BIT_H

#include <stddef.h>

#include "buf.h"
#include "mime.h"

#define MIME7BIT_MAX_SIZE	(1024UL * 1024 * 1024)	/* bytes of input */
/* Parts inside this many nested multiparts and messages are refused. */
#define MIME7BIT_MAX_DEPTH	32
/*
 * A header block: under mime.c's limits by enough that, its line ends
 * made CRLF (at most twice as long) and two fields added, mime.c still
 * reads all of it.
 */
#define MIME7BIT_MAX_HEADER	(MIME_MAX_HEADER / 2)
#define MIME7BIT_MAX_FIELDS	(MIME_MAX_FIELDS - 2)

/*
 * 1 if the body of msg (len bytes: header, blank line, body) holds a
 * byte >= 0x80 or a NUL, that is, if it must be converted before it
 * goes to a peer without 8BITMIME.
 */
int	 mime7bit_needed(const char *msg, size_t len);

/*
 * Append to out msg with every leaf body that holds 8-bit data (or
 * NULs) re-encoded: text/ and message/ parts as quoted-printable with
 * their line breaks kept as hard breaks, the others as base64, their
 * Content-Transfer-Encoding replaced (and MIME-Version: 1.0 added to a
 * message header that had none). Multiparts and enclosed messages are
 * walked into; if labelled 8bit or binary they are relabelled 7bit.
 * Bodies without 8-bit data are copied as they are. A quoted-printable
 * body with raw 8-bit bytes has them escaped, a base64 one has them
 * dropped (decoders ignore them), 8-bit data under any other encoding
 * is refused. 8-bit bytes in a preamble or epilogue become '?', except
 * on lines that start with "--". Line ends in out are CRLF.
 *
 * 0, or -1 and errstr (then out holds part of a copy): a message or a
 * header block past the limits, too many parts, 8-bit data under an
 * unknown encoding, or out's ceiling reached.
 */
int	 mime7bit_convert(const char *msg, size_t len, struct buf *out,
	    const char **errstr);

#endif
