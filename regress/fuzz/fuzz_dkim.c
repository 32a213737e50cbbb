/*
 * DKIM signing of a message a local user wrote: whatever the bytes, no
 * crash, and the result is one well-formed field (printable ASCII,
 * CRLF TAB folds, CRLF at the end) or a refusal with a reason; the
 * signature does not change when CRLF line ends become bare LFs, which
 * relaxed canonicalization must not see. checkd's count of From fields
 * reads the same hostile header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "dkim.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static EVP_PKEY	*key;

static void
check_field(const struct buf *b)
{
	size_t	 i;

	if (b->len < 2 || strncmp(b->data, "DKIM-Signature: v=1;", 20) != 0 ||
	    memcmp(b->data + b->len - 2, "\r\n", 2) != 0)
		abort();
	for (i = 0; i < b->len - 2; i++) {
		if (b->data[i] == '\r') {
			if (b->data[i + 1] != '\n' || b->data[i + 2] != '\t')
				abort();
			i++;
		} else if (b->data[i] == '\n' || (b->data[i] != '\t' &&
		    (b->data[i] < 0x20 || b->data[i] > 0x7e)))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char seed[32] = { 1, 2, 3 };
	struct buf	 a = BUF_INIT(1 << 20), b = BUF_INIT(1 << 20);
	const char	*err, *err2;
	char		*lf;
	size_t		 i, n = 0;
	int		 ra, rb;

	if (key == NULL && (key = EVP_PKEY_new_raw_private_key(
	    EVP_PKEY_ED25519, NULL, seed, sizeof(seed))) == NULL)
		abort();
	if (size > 65536)
		return 0;
	ra = dkim_signature((const char *)data, size, "example.test", "s", key,
	    1700000000, &a, &err);
	if (ra == 0)
		check_field(&a);
	else if (err == NULL)
		abort();
	/* checkd counts the From fields of hostile mail: a signature
	 * needs one. */
	if (dkim_from_count((const char *)data, size) < (ra == 0 ? 1 : -1))
		abort();
	/* CRLF -> LF: the same answer. */
	if ((lf = malloc(size + 1)) == NULL)
		abort();
	for (i = 0; i < size; i++)
		if (!(data[i] == '\r' && i + 1 < size && data[i + 1] == '\n'))
			lf[n++] = (char)data[i];
	rb = dkim_signature(lf, n, "example.test", "s", key, 1700000000, &b,
	    &err2);
	/* A CR alone may end up before an LF: then the two may differ. */
	if (memchr(lf, '\r', n) == NULL && (ra != rb || (ra == 0 &&
	    (a.len != b.len || memcmp(a.data, b.data, a.len) != 0))))
		abort();
	free(lf);
	buf_free(&a);
	buf_free(&b);
	return 0;
}
