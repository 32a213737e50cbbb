/*
 * MTA-STS policies and records come from any web and DNS server: the
 * parsers must stay in bounds, and what they accept must hold up: an id
 * of letters and digits, a known mode, mx patterns that are names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_policy	 p;
	const char		*err;
	char			 id[STS_MAX_ID + 1];
	size_t			 i;

	if (sts_txt_id((const char *)data, size, id, sizeof(id)) == 0 &&
	    (id[0] == '\0' || strspn(id, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(id)))
		abort();
	if (sts_parse((const char *)data, size, &p, &err) == 0) {
		if (p.mode > STS_MODE_ENFORCE || p.nmx > STS_MAX_MX ||
		    p.max_age > STS_MAX_AGE)
			abort();
		for (i = 0; i < p.nmx; i++)
			if (strlen(p.mx[i]) == 0 || !sts_mx_match(&p,
			    p.mx[i][0] == '*' ? "x.example" : p.mx[i]))
				if (p.mx[i][0] != '*')
					abort();
	} else if (err == NULL)
		abort();
	return 0;
}
