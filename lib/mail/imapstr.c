/*
 * IMAP strings on the way out.
 */
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
