/*
 * Autocrypt fields from anywhere (autocrypt.c): a found field has an
 * address with '@', in lower case, and key data within the limit; made
 * again from what was found, it is found again the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autocrypt.h"
#include "buf.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct autocrypt	 ac, again;
	struct buf		 m = BUF_INIT(4 * AUTOCRYPT_MAX);
	const char		*p;

	if (size > 4 * AUTOCRYPT_MAX)
		return 0;
	if (autocrypt_find((const char *)data, size, &ac) != 1)
		return 0;
	if (strchr(ac.addr, '@') == NULL || ac.key.len == 0 ||
	    ac.key.len > AUTOCRYPT_MAX)
		abort();
	for (p = ac.addr; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
	if (strpbrk(ac.addr, "; \t\r\n") == NULL &&
	    autocrypt_field(ac.addr, ac.key.data, ac.key.len, &m) == 0 &&
	    buf_addstr(&m, "\r\n") == 0) {
		if (autocrypt_find(m.data, m.len, &again) != 1 ||
		    strcmp(again.addr, ac.addr) != 0 ||
		    again.key.len != ac.key.len ||
		    memcmp(again.key.data, ac.key.data, ac.key.len) != 0)
			abort();
		buf_free(&again.key);
	}
	buf_free(&ac.key);
	buf_free(&m);
	return 0;
}
