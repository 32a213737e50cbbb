/*
 * ARC verification (arc.c) of hostile mail: whatever the bytes, no
 * crash, no read past them, and a verdict that is one of the three,
 * with a reason unless it passed or there was nothing to check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Every selector has this key: the parsers of keys and signatures run,
 * though no signature made here can verify. */
static int
key(const char *sel, const char *dom, char *out, size_t size, void *arg)
{
	(void)arg;
	if (strcmp(sel, "none") == 0)
		return -1;
	if (strcmp(dom, "temp.test") == 0)
		return -2;
	(void)snprintf(out, size, "v=DKIM1; k=rsa; p=%s",
	    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDG7gsijDC389uK9I7J61zP"
	    "JnrWOzFSKeWY2rE8a742Dg4/JifntWy5okDeUEzazJ7GGh6VXKJPISyoSOFm"
	    "vMTUry2kq6KNRDOHTKEtS5Du7mak4oW54bw6IjdN8vy34HKfUgORo1XdOhDo"
	    "3B+k1C1/I5+ulbQ2wBqqPaF+Ewvx6QIDAQAB");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arc_verdict	 v;
	char			*copy;

	if (size > 256 * 1024 || (copy = malloc(size)) == NULL)
		return 0;
	memcpy(copy, data, size);	/* exactly its size, for ASan */
	arc_verify(copy, size, key, NULL, &v);
	if (v.result != ARC_NONE && v.result != ARC_PASS &&
	    v.result != ARC_FAIL)
		abort();
	if (v.result == ARC_FAIL && v.why[0] == '\0')
		abort();
	free(copy);
	return 0;
}
