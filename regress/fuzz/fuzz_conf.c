/*
 * libFuzzer target for the osmsd.conf parser (lib/mail/parse.y, conf.c).
 *
 * Any input must end in a configuration or in errors, without a crash,
 * a leak or a hang. When it parses, the canonical dump must parse again
 * and dump to the same text: conf_dump() and the grammar agree.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char *
dump(const struct osms_conf *conf, size_t *len)
{
	FILE	*fp;
	char	*out;

	if ((fp = open_memstream(&out, len)) == NULL)
		abort();
	conf_dump(conf, fp);
	if (fclose(fp) != 0)
		abort();
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A define, so that -D and its precedence are reached too. */
	static char		 def[] = "d=127.0.0.1";
	char			*defines[] = { def, NULL };
	struct osms_conf	*conf, *again;
	char			*d1, *d2;
	size_t			 l1, l2;

	conf = conf_parse_buffer("fuzz", (const char *)data, size, NULL,
	    defines);
	if (conf == NULL)
		return 0;
	d1 = dump(conf, &l1);
	if ((again = conf_parse_buffer("dump", d1, l1, NULL, NULL)) == NULL) {
		(void)fprintf(stderr, "dump does not parse:\n%s", d1);
		abort();
	}
	d2 = dump(again, &l2);
	if (l1 != l2 || memcmp(d1, d2, l1) != 0) {
		(void)fprintf(stderr, "dumps differ:\n%s\n--\n%s", d1, d2);
		abort();
	}
	free(d1);
	free(d2);
	conf_free(again);
	conf_free(conf);
	return 0;
}
