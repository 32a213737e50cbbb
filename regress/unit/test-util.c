/*
 * Bounded strings and numbers (util.c).
 */
#include <limits.h>
#include <string.h>

#include "test.h"
#include "util.h"

static void
test_strlcpy(void)
{
	char	 buf[8];

	test_begin("util: strlcpy/strlcat truncate and always terminate");
	test_assert(osms_strlcpy(buf, "hello", sizeof(buf)) == 5);
	test_assert(strcmp(buf, "hello") == 0);
	test_assert(osms_strlcpy(buf, "0123456789", sizeof(buf)) == 10);
	test_assert(strcmp(buf, "0123456") == 0);
	test_assert(osms_strlcpy(buf, "x", 0) == 1 && buf[0] == '0');
	(void)osms_strlcpy(buf, "abc", sizeof(buf));
	test_assert(osms_strlcat(buf, "defgh", sizeof(buf)) == 8);
	test_assert(strcmp(buf, "abcdefg") == 0);
	test_assert(osms_strlcat(buf, "z", sizeof(buf)) >= sizeof(buf));
	test_assert(strcmp(buf, "abcdefg") == 0);
	test_assert(osms_snprintf(buf, sizeof(buf), "%s", "1234567") == 7);
	test_assert(osms_snprintf(buf, sizeof(buf), "%s", "12345678") == -1);
	test_end();
}

static void
test_str_to_num(void)
{
	const char	*e;

	test_begin("util: str_to_num ranges and garbage");
	test_assert(str_to_num("42", 0, 100, &e) == 42 && e == NULL);
	test_assert(str_to_num("-1", 0, 100, &e) == 0 &&
	    strcmp(e, "too small") == 0);
	test_assert(str_to_num("101", 0, 100, &e) == 0 &&
	    strcmp(e, "too large") == 0);
	test_assert(str_to_num("99999999999999999999", 0, LLONG_MAX, &e) ==
	    0 && strcmp(e, "too large") == 0);
	test_assert(str_to_num("", 0, 1, &e) == 0 && e != NULL);
	test_assert(str_to_num("1x", 0, 10, &e) == 0 && e != NULL);
	test_assert(str_to_num(" 1", 0, 10, &e) == 0 && e != NULL);
	test_assert(str_to_num("+1", 0, 10, &e) == 0 && e != NULL);
	test_assert(str_to_num("5", 10, 1, &e) == 0 && e != NULL);
	test_end();
}

static void
test_misc(void)
{
	char	 buf[32];

	test_begin("util: control bytes, durations, word lists, days");
	test_assert(!str_has_ctl("plain text"));
	test_assert(str_has_ctl("a\r\nb"));
	test_assert(str_has_ctl("a\tb"));
	test_assert(str_has_ctl("\x7f"));
	fmt_duration(buf, sizeof(buf), 5);
	test_assert(strcmp(buf, "5s") == 0);
	fmt_duration(buf, sizeof(buf), 302);
	test_assert(strcmp(buf, "5m2s") == 0);
	fmt_duration(buf, sizeof(buf), 3 * 86400 + 7200 + 60);
	test_assert(strcmp(buf, "3d2h1m") == 0);
	fmt_duration(buf, sizeof(buf), -4);
	test_assert(strcmp(buf, "0s") == 0);
	/* Day numbers: Python's datetime.date.toordinal() - 719163. */
	test_assert(days_from_civil(1970, 1, 1) == 0);
	test_assert(days_from_civil(1969, 12, 31) == -1);
	test_assert(days_from_civil(2000, 3, 1) == 11017);
	test_assert(days_from_civil(2024, 2, 29) == 19782);
	test_assert(days_from_civil(1900, 1, 1) == -25567);
	test_assert(days_from_civil(2038, 1, 19) == 24855);
	/* SASL mechanism lists: whole words only. */
	test_assert(word_in_list("SCRAM-SHA-256 PLAIN LOGIN", "PLAIN"));
	test_assert(word_in_list("SCRAM-SHA-256 PLAIN LOGIN", "LOGIN"));
	test_assert(word_in_list("SCRAM-SHA-256 PLAIN LOGIN",
	    "SCRAM-SHA-256"));
	test_assert(!word_in_list("SCRAM-SHA-256 PLAIN LOGIN", "SCRAM"));
	test_assert(!word_in_list("SCRAM-SHA-256 PLAIN LOGIN", "PLAI"));
	test_assert(!word_in_list("SCRAM-SHA-256 PLAIN LOGIN", "N LOGIN"));
	test_assert(!word_in_list("SCRAM-SHA-256 PLAIN LOGIN", ""));
	test_assert(!word_in_list("", "PLAIN"));
	test_end();
}

static void
test_utf8(void)
{
	test_begin("util: UTF-8: overlongs, surrogates, range, truncation");
	test_assert(utf8_valid("plain ascii"));
	test_assert(utf8_valid("J\xc3\xb6rg \xe2\x82\xac \xf0\x9f\x93\xa7"));
	test_assert(!utf8_valid("\xc0\xaf"));		/* overlong '/' */
	test_assert(!utf8_valid("\xe0\x80\xaf"));	/* overlong */
	test_assert(!utf8_valid("\xed\xa0\x80"));	/* surrogate */
	test_assert(!utf8_valid("\xf4\x90\x80\x80"));	/* > U+10FFFF */
	test_assert(!utf8_valid("\xf5\x80\x80\x80"));
	test_assert(!utf8_valid("\xc3"));		/* truncated at NUL */
	test_assert(!utf8_valid("\xe2\x82"));
	test_assert(!utf8_valid("\x80"));		/* lone continuation */
	test_assert(utf8_seq((const unsigned char *)"\xc3\xb6") == 2);
	test_assert(utf8_seq((const unsigned char *)"a") == 0);
	test_end();
}

static void
test_base64(void)
{
	char		 enc[64];
	unsigned char	 dec[64];
	size_t		 n;

	test_begin("util: base64 round trips and strict decoding");
	test_assert(base64_encode("", 0, enc, sizeof(enc)) == 0 && !enc[0]);
	test_assert(base64_encode("f", 1, enc, sizeof(enc)) == 4 &&
	    strcmp(enc, "Zg==") == 0);
	test_assert(base64_encode("fo", 2, enc, sizeof(enc)) == 4 &&
	    strcmp(enc, "Zm8=") == 0);
	test_assert(base64_encode("foobar", 6, enc, sizeof(enc)) == 8 &&
	    strcmp(enc, "Zm9vYmFy") == 0);
	test_assert(base64_encode("foobar", 6, enc, 8) == -1);
	test_assert(base64_decode("AGFsaWNlAHB3", dec, sizeof(dec), &n) == 0 &&
	    n == 9 && memcmp(dec, "\0alice\0pw", 9) == 0);
	test_assert(base64_decode("Zg==", dec, sizeof(dec), &n) == 0 &&
	    n == 1 && dec[0] == 'f');
	test_assert(base64_decode("", dec, sizeof(dec), &n) == 0 && n == 0);
	test_assert(base64_decode("Zg=", dec, sizeof(dec), &n) == -1);
	test_assert(base64_decode("Zh==", dec, sizeof(dec), &n) == -1);
	test_assert(base64_decode("Z===", dec, sizeof(dec), &n) == -1);
	test_assert(base64_decode("Zg==Zg==", dec, sizeof(dec), &n) == -1);
	test_assert(base64_decode("Zm 9v", dec, sizeof(dec), &n) == -1);
	test_assert(base64_decode("Zm9v\r\n", dec, sizeof(dec), &n) == -1);
	test_assert(base64_decode("Zm9vYmFy", dec, 5, &n) == -1);
	test_assert(base64_decode("Zm9vYmFy", dec, 6, &n) == 0 && n == 6);
	test_end();
}

int
main(void)
{
	test_strlcpy();
	test_str_to_num();
	test_misc();
	test_utf8();
	test_base64();
	return test_exit();
}
