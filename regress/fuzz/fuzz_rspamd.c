/*
 * rspamd's answer (rspamd.c's JSON reader): whatever the bytes, no
 * crash and no read past them; a parsed answer has a printable action
 * and a symbol list of words and commas.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rspamd.h"
#include "util.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rspamd_result	 res;
	const char		*err = NULL;
	char			*copy;

	if ((copy = malloc(size)) == NULL)
		abort();
	memcpy(copy, data, size);	/* exactly its size, for ASan */
	if (rspamd_parse_reply(copy, size, &res, &err) == 0) {
		if (str_has_ctl(res.action) || strspn(res.symbols,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_-.,") != strlen(res.symbols))
			abort();
	} else if (err == NULL)
		abort();
	free(copy);
	return 0;
}
