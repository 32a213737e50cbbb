/*
 * IMAP strings on the way out (RFC 9051 4.3): a value goes out as an
 * atom, a quoted string or a literal, whichever its bytes allow.
 */
#ifndef OSMS_IMAPSTR_H
#define OSMS_IMAPSTR_H

#include <stddef.h>

#include "buf.h"

#define IMAPSTR_QUOTED_MAX	1024	/* longer values go as literals */

/*
 * s (len bytes) as a string: quoted ('"' and '\' escaped) if it is at
 * most IMAPSTR_QUOTED_MAX bytes of text without CR, LF or NUL, with
 * bytes over 127 only if utf8 (IMAP4rev2 or UTF8=ACCEPT) and then valid
 * UTF-8; otherwise a literal "{len}\r\n" and the bytes, a NUL sent as
 * 0x80 (a literal may not hold one).
 */
int	 imap_add_string(struct buf *, const char *s, size_t len, int utf8);
/* The same, NIL for s NULL. */
int	 imap_add_nstring(struct buf *, const char *s, size_t len, int utf8);
/* An atom if s is one (not "NIL"), else a string. */
int	 imap_add_astring(struct buf *, const char *s, size_t len, int utf8);
/* 1 if c may appear in an atom (ATOM-CHAR). */
int	 imap_atom_char(int c);

/*
 * Mailbox names. The store keeps them in modified UTF-7, as Dovecot and
 * Courier do. Both converters are strict: UTF-8 must be well-formed,
 * modified UTF-7 canonical (printable ASCII never encoded, one shift
 * per run, no padding bits set, "&-" for '&', UTF-16 surrogates
 * paired); control characters (C0, DEL and C1) are refused in both.
 * They return the length written (with a NUL after it), or -1 and
 * errstr.
 */
int	 imap_mutf7_to_utf8(const char *, char *, size_t, const char **);
int	 imap_utf8_to_mutf7(const char *, char *, size_t, const char **);

#endif
