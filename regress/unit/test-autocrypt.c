/*
 * Autocrypt fields (autocrypt.c): made and found again, folded as mail
 * folds them; none when there are two; refused when an attribute is
 * unknown and critical, a required one is missing or keydata is not
 * base64; a field past the header is no field.
 */
#include <stdio.h>
#include <string.h>

#include "autocrypt.h"
#include "buf.h"
#include "test.h"

static int
find(const char *msg, struct autocrypt *ac)
{
	return autocrypt_find(msg, strlen(msg), ac);
}

static void
test_roundtrip(void)
{
	struct buf		 m = BUF_INIT(1 << 20);
	struct autocrypt	 ac;
	unsigned char		 key[500];
	size_t			 i;

	test_begin("autocrypt: a field made here is found again");
	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 7 + 3);
	test_assert(buf_addstr(&m, "From: <a@x.test>\r\n") == 0);
	test_assert(autocrypt_field("a@x.test", key, sizeof(key), &m) == 0);
	test_assert(buf_addstr(&m, "Subject: s\r\n\r\nbody\r\n") == 0);
	test_assert(autocrypt_find(m.data, m.len, &ac) == 1);
	test_assert(strcmp(ac.addr, "a@x.test") == 0 && ac.mutual);
	test_assert(ac.key.len == sizeof(key) &&
	    memcmp(ac.key.data, key, sizeof(key)) == 0);
	buf_free(&ac.key);
	buf_free(&m);
	test_end();
}

static void
test_hostile(void)
{
	struct autocrypt	 ac;

	test_begin("autocrypt: two fields are none; bad ones are refused");
	test_assert(find("Autocrypt: addr=A@X.test; keydata=AQID\r\n\r\n",
	    &ac) == 1 && strcmp(ac.addr, "a@x.test") == 0 && ac.key.len == 3 &&
	    !ac.mutual);
	buf_free(&ac.key);
	test_assert(find("autocrypt: addr=a@x.test;\r\n _x=1; keydata=AQ\r\n"
	    " ID\r\n\r\n", &ac) == 1 && ac.key.len == 3);
	buf_free(&ac.key);
	test_assert(find("Autocrypt: addr=a@x.test; keydata=AQID\r\n"
	    "Autocrypt: addr=b@x.test; keydata=AQID\r\n\r\n", &ac) == 0);
	test_assert(find("Autocrypt: addr=a@x.test; color=blue; keydata=AQID"
	    "\r\n\r\n", &ac) == -1);
	test_assert(find("Autocrypt: addr=a@x.test\r\n\r\n", &ac) == -1);
	test_assert(find("Autocrypt: keydata=AQID\r\n\r\n", &ac) == -1);
	test_assert(find("Autocrypt: addr=a@x.test; keydata=!!!!\r\n\r\n",
	    &ac) == -1);
	test_assert(find("Autocrypt: addr=nobody; keydata=AQID\r\n\r\n",
	    &ac) == -1);
	test_assert(find("Autocrypt: addr=a@x.test; addr=b@x.test; keydata="
	    "AQID\r\n\r\n", &ac) == -1);
	test_assert(find("Subject: x\r\n\r\nAutocrypt: addr=a@x.test; "
	    "keydata=AQID\r\n", &ac) == 0);
	test_assert(find("", &ac) == 0);
	test_end();
}

int
main(void)
{
	test_roundtrip();
	test_hostile();
	return test_exit();
}
