/*
 * The base64 decoder that reads SASL responses from clients: strict, so
 * whatever it accepts encodes back to exactly the same text, and it never
 * writes past the output buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define OUT_MAX	256	/* small, to reach the too-long refusals */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char	*out;
	char		*text, *again;
	size_t		 len = 0;

	if (size > 4096)
		return 0;
	if ((text = malloc(size + 1)) == NULL ||
	    (out = malloc(OUT_MAX)) == NULL ||
	    (again = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (base64_decode(text, out, OUT_MAX, &len) == 0) {
		if (len > OUT_MAX)
			abort();
		if (base64_encode(out, len, again, size + 1) == -1 ||
		    strcmp(again, text) != 0)
			abort();
	}
	free(text);
	free(out);
	free(again);
	return 0;
}
