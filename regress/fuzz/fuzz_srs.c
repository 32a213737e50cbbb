/*
 * SRS addresses come back in bounces from anywhere: srs_reverse must
 * refuse all but its own (fuzzed input almost never carries a good
 * hash), never write past its output, and what it accepts must be an
 * address that forwarding writes back to the same SRS form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "srs.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct srs	 srs = {
		(const unsigned char *)"fuzzing secret 0123", 19, "fwd.example"
	};
	char		*in, out[64], again[1024];
	const char	*err;
	int		 r;

	if (size > 2048 || (in = malloc(size + 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	r = srs_reverse(&srs, in, 1700000000, out, sizeof(out), &err);
	if (r == -1 && err == NULL)
		abort();
	if (r == 1 && (strlen(out) >= sizeof(out) || strchr(out, '@') ==
	    NULL))
		abort();
	/* Forwarding anything gives an address of ours, or a refusal. */
	r = srs_forward(&srs, in, 1700000000, again, sizeof(again), &err);
	if (r == 0 && in[0] != '\0' && (strlen(again) < 12 ||
	    strcasecmp(again + strlen(again) - 12, "@fwd.example") != 0))
		abort();
	free(in);
	return 0;
}
