/*
 * IMAP strings on the way out.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imapstr.h"
#include "util.h"

int
imap_atom_char(int c)
{
	/* atom-specials: ( ) { SP CTL % * " \ ] */
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

static int
quotable(const char *s, size_t len, int utf8)
{
	unsigned char	 seq[5];
	size_t		 i, n;

	if (len > IMAPSTR_QUOTED_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char	 c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n')
			return 0;
		if (c < 0x80)
			continue;
		if (!utf8)
			return 0;
		/* utf8_seq() stops at a NUL: s itself need not have one. */
		memset(seq, 0, sizeof(seq));
		memcpy(seq, s + i, len - i < 4 ? len - i : 4);
		if ((n = utf8_seq(seq)) == 0)
			return 0;
		i += n - 1;
	}
	return 1;
}

int
imap_add_string(struct buf *b, const char *s, size_t len, int utf8)
{
	size_t	 i, start;

	if (!quotable(s, len, utf8)) {
		if (buf_printf(b, "{%zu}\r\n", len) == -1)
			return -1;
		/* A literal holds no NUL (CHAR8): sent as 0x80, as Dovecot
		 * does. */
		for (i = start = 0; i < len; i++) {
			if (s[i] != '\0')
				continue;
			if (buf_add(b, s + start, i - start) == -1 ||
			    buf_addc(b, 0x80) == -1)
				return -1;
			start = i + 1;
		}
		return buf_add(b, s + start, len - start);
	}
	if (buf_addc(b, '"') == -1)
		return -1;
	for (i = start = 0; i < len; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		if (buf_add(b, s + start, i - start) == -1 ||
		    buf_addc(b, '\\') == -1)
			return -1;
		start = i;
	}
	if (buf_add(b, s + start, len - start) == -1)
		return -1;
	return buf_addc(b, '"');
}

int
imap_add_nstring(struct buf *b, const char *s, size_t len, int utf8)
{
	if (s == NULL)
		return buf_addstr(b, "NIL");
	return imap_add_string(b, s, len, utf8);
}

int
imap_add_astring(struct buf *b, const char *s, size_t len, int utf8)
{
	size_t	 i;

	for (i = 0; i < len && imap_atom_char((unsigned char)s[i]); i++)
		;
	if (len > 0 && i == len && !(len == 3 && strncasecmp(s, "NIL",
	    3) == 0))
		return buf_add(b, s, len);
	return imap_add_string(b, s, len, utf8);
}

/*
 * Modified UTF-7 (RFC 3501 5.1.3), the one codec of mailbox names: the
 * IMAP parser converts with it, the mail store checks names with it.
 */

static const char E_MUTF7_LONG[] = "mailbox name too long";
static const char E_MUTF7_CTL[] = "control character in mailbox name";

static const char b64_mutf7[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Append n bytes, keeping room for the NUL. */
static int
put(char *out, size_t size, size_t *o, const char *s, size_t n)
{
	if (n >= size - *o)
		return -1;
	memcpy(out + *o, s, n);
	*o += n;
	return 0;
}

static size_t
utf8_encode(uint32_t cp, char *b)
{
	if (cp < 0x80) {
		b[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (char)(0xf0 | cp >> 18);
	b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	b[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The code point of a well-formed sequence of n bytes (utf8_seq()). */
static uint32_t
utf8_decode(const unsigned char *p, size_t n)
{
	uint32_t	 cp;
	size_t		 i;

	if (n == 2)
		cp = p[0] & 0x1f;
	else if (n == 3)
		cp = p[0] & 0x0f;
	else
		cp = p[0] & 0x07;
	for (i = 1; i < n; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	return cp;
}

int
imap_mutf7_to_utf8(const char *in, char *out, size_t size,
    const char **errstr)
{
	const unsigned char	*p = (const unsigned char *)in;
	char			 u8[4];
	uint32_t		 bits, u, hi, cp;
	size_t			 o = 0, nunits;
	int			 nbits, v, after_run = 0;

	if (size == 0)
		goto toolong;
	while (*p != '\0') {
		if (*p != '&') {
			if (*p < 0x20 || *p > 0x7e) {
				*errstr = *p >= 0x80 ?
				    "8-bit byte in modified UTF-7" : E_MUTF7_CTL;
				goto fail;
			}
			if (put(out, size, &o, (const char *)p, 1) == -1)
				goto toolong;
			p++;
			after_run = 0;
			continue;
		}
		p++;
		if (*p == '-') {
			if (put(out, size, &o, "&", 1) == -1)
				goto toolong;
			p++;
			after_run = 0;
			continue;
		}
		/* Two runs in a row should have been one. */
		if (after_run) {
			*errstr = "modified UTF-7: adjacent encoded runs";
			goto fail;
		}
		bits = 0;
		nbits = 0;
		nunits = 0;
		hi = 0;
		while ((v = b64_value(*p)) != -1) {
			bits = bits << 6 | (uint32_t)v;
			nbits += 6;
			p++;
			if (nbits < 16)
				continue;
			nbits -= 16;
			u = bits >> nbits & 0xffff;
			bits &= (1U << nbits) - 1;
			nunits++;
			if (hi != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					goto surrogate;
				cp = 0x10000 + ((hi - 0xd800) << 10) +
				    (u - 0xdc00);
				hi = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				hi = u;
				continue;
			} else if (u >= 0xdc00 && u <= 0xdfff)
				goto surrogate;
			else
				cp = u;
			if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
				*errstr = E_MUTF7_CTL;
				goto fail;
			}
			if (cp < 0x7f) {
				*errstr = "modified UTF-7: ASCII encoded";
				goto fail;
			}
			if (put(out, size, &o, u8, utf8_encode(cp, u8)) == -1)
				goto toolong;
		}
		if (*p != '-') {
			*errstr = "modified UTF-7: unterminated encoded run";
			goto fail;
		}
		p++;
		if (hi != 0)
			goto surrogate;
		/* Canonical: no extra character, padding bits zero. */
		if (nunits == 0 || nbits >= 6 || bits != 0) {
			*errstr = "modified UTF-7: non-canonical encoding";
			goto fail;
		}
		after_run = 1;
	}
	out[o] = '\0';
	return (int)o;
 surrogate:
	*errstr = "modified UTF-7: unpaired surrogate";
	goto fail;
 toolong:
	*errstr = E_MUTF7_LONG;
 fail:
	if (size > 0)
		out[0] = '\0';
	return -1;
}

int
imap_utf8_to_mutf7(const char *in, char *out, size_t size,
    const char **errstr)
{
	const unsigned char	*p = (const unsigned char *)in;
	uint32_t		 bits, cp, units[2];
	size_t			 o = 0, n, nu, i;
	int			 nbits;
	char			 c;

	if (size == 0)
		goto toolong;
	while (*p != '\0') {
		if (*p >= 0x20 && *p <= 0x7e) {
			if (put(out, size, &o, *p == '&' ? "&-" :
			    (const char *)p, *p == '&' ? 2 : 1) == -1)
				goto toolong;
			p++;
			continue;
		}
		if (*p < 0x80) {
			*errstr = E_MUTF7_CTL;
			goto fail;
		}
		if (put(out, size, &o, "&", 1) == -1)
			goto toolong;
		bits = 0;
		nbits = 0;
		while (*p >= 0x80) {
			if ((n = utf8_seq(p)) == 0) {
				*errstr = "invalid UTF-8 in mailbox name";
				goto fail;
			}
			cp = utf8_decode(p, n);
			p += n;
			if (cp < 0xa0) {
				*errstr = E_MUTF7_CTL;	/* C1 */
				goto fail;
			}
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[0] = 0xd800 | cp >> 10;
				units[1] = 0xdc00 | (cp & 0x3ff);
				nu = 2;
			} else {
				units[0] = cp;
				nu = 1;
			}
			for (i = 0; i < nu; i++) {
				bits = bits << 16 | units[i];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					c = b64_mutf7[bits >> nbits & 0x3f];
					if (put(out, size, &o, &c, 1) == -1)
						goto toolong;
				}
				bits &= (1U << nbits) - 1;
			}
		}
		if (nbits > 0) {
			c = b64_mutf7[bits << (6 - nbits) & 0x3f];
			if (put(out, size, &o, &c, 1) == -1)
				goto toolong;
		}
		if (put(out, size, &o, "-", 1) == -1)
			goto toolong;
	}
	out[o] = '\0';
	return (int)o;
 toolong:
	*errstr = E_MUTF7_LONG;
 fail:
	if (size > 0)
		out[0] = '\0';
	return -1;
}
