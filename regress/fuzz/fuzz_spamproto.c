/*
 * The spam engines' answers (spamproto.c): rspamd's JSON and spamd's
 * spamc answer. Whatever the bytes, no crash and no read past them; a
 * parsed answer has a printable action and a symbol list of words and
 * commas. The first byte chooses the parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spamproto.h"
#include "util.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spam_result	 res;
	const char		*err = NULL;
	char			*copy;
	int			 r;

	if (size < 1)
		return 0;
	if ((copy = malloc(size)) == NULL)
		abort();
	memcpy(copy, data + 1, size - 1);
	r = data[0] & 1 ? spamc_parse_reply(copy, size - 1, &res, &err) :
	    rspamd_parse_reply(copy, size - 1, &res, &err);
	if (r == 0) {
		if (str_has_ctl(res.action) || strspn(res.symbols,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_-.,") != strlen(res.symbols))
			abort();
	} else if (err == NULL)
		abort();
	free(copy);
	return 0;
}
