/*
 * Record data from any name server: the parsers stay in bounds, and
 * what they accept is what the mta may use: a host name of letters,
 * digits, '-', '_' and dots; a usable TLSA record; text without NULs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsrr.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 name[DNSRR_MAX_NAME], text[512];
	struct tlsa_rec	 t;
	uint16_t	 pref;
	size_t		 n;

	if (dnsrr_mx(data, size, &pref, name, sizeof(name)) == 0) {
		n = strlen(name);
		if (n >= sizeof(name) || strspn(name, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n ||
		    name[0] == '.' || (n > 0 && name[n - 1] == '.') ||
		    strstr(name, "..") != NULL)
			abort();
	}
	if (dnsrr_tlsa(data, size, &t) == 1 && ((t.usage != 2 &&
	    t.usage != 3) || t.selector > 1 || (t.len != 32 && t.len != 64)))
		abort();
	if (dnsrr_txt(data, size, text, sizeof(text)) == 0 &&
	    strlen(text) >= size + 1)
		abort();
	return 0;
}
