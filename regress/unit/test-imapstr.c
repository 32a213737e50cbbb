/*
 * IMAP strings on the way out (lib/mail/imapstr.c).
 */
#include <string.h>

#include "imapstr.h"
#include "test.h"

static int
renders(const char *in, size_t len, int utf8, int kind, const char *want)
{
	struct buf	 b = BUF_INIT(1 << 20);
	int		 rc, ok;

	rc = kind == 0 ? imap_add_string(&b, in, len, utf8) :
	    kind == 1 ? imap_add_nstring(&b, in, len, utf8) :
	    imap_add_astring(&b, in, len, utf8);
	ok = rc == 0 && b.len == strlen(want) && memcmp(b.data, want,
	    b.len) == 0;
	buf_free(&b);
	return ok;
}

static void
test_strings(void)
{
	char	 big[IMAPSTR_QUOTED_MAX + 1];

	test_begin("imapstr: quoted, literal, NIL, atoms");
	test_assert(renders("hello", 5, 0, 0, "\"hello\""));
	test_assert(renders("a\"b\\c", 5, 0, 0, "\"a\\\"b\\\\c\""));
	test_assert(renders("", 0, 0, 0, "\"\""));
	test_assert(renders("a\r\nb", 4, 0, 0, "{4}\r\na\r\nb"));
	test_assert(renders("a\0b", 3, 0, 0, "{3}\r\na\x80" "b"));
	test_assert(renders("J\xc3\xb6rg", 5, 0, 0, "{5}\r\nJ\xc3\xb6rg"));
	test_assert(renders("J\xc3\xb6rg", 5, 1, 0, "\"J\xc3\xb6rg\""));
	test_assert(renders("bad\xc3", 4, 1, 0, "{4}\r\nbad\xc3"));
	test_assert(renders("\xe2\x82", 2, 1, 0, "{2}\r\n\xe2\x82"));
	test_assert(renders(NULL, 0, 0, 1, "NIL"));
	test_assert(renders("x", 1, 0, 1, "\"x\""));
	test_assert(renders("INBOX", 5, 0, 2, "INBOX"));
	test_assert(renders("nil", 3, 0, 2, "\"nil\""));
	test_assert(renders("two words", 9, 0, 2, "\"two words\""));
	test_assert(renders("", 0, 0, 2, "\"\""));
	memset(big, 'a', sizeof(big));
	{
		struct buf	 b = BUF_INIT(1 << 20);

		test_assert(imap_add_string(&b, big, sizeof(big), 0) == 0);
		test_assert(strncmp(b.data, "{1025}\r\n", 8) == 0);
		buf_free(&b);
	}
	test_end();
}

int
main(void)
{
	test_strings();
	return test_exit();
}
