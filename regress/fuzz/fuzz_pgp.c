/*
 * PGP/MIME from anywhere (pgp.c): whatever the message, decrypting and
 * verifying end with a verdict or a refusal, never more output than
 * the home can account for. The home is empty: what gets as far as
 * GnuPG (a well-formed multipart/encrypted or /signed) is refused there.
 * A key attached to it is found and dearmored within its limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "pgp.h"

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char		 home[] = "/tmp/osms-fuzz-pgp.XXXXXX";
	const char	*err;

	(void)argc;
	(void)argv;
	if (mkdtemp(home) == NULL || pgp_init(home, &err) == -1)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf		 out = BUF_INIT(PGP_MAX_MESSAGE);
	struct buf		 key = BUF_INIT(PGP_MAX_KEY);
	struct pgp_verdict	 v;
	const char		*m = (const char *)data, *err;
	char			 who[256];
	int			 enc;

	if (size > 256 * 1024)
		return 0;
	enc = pgp_is_encrypted(m, size);
	/* No key here: nothing decrypts. */
	if (pgp_decrypt(m, size, NULL, 0, who, sizeof(who), &out, &v,
	    &err) != -1 || out.len != 0 ||
	    err == NULL)
		abort();
	if (pgp_verify(m, size, &v, &err) == 0 && (v.result == PGP_VERIFIED ||
	    (enc && v.result != PGP_NOT_SIGNED)))
		abort();
	/* The EFAIL walk: any tree, no crash (ASan says). */
	(void)pgp_has_nested(m, size);
	switch (pgp_attached_key(m, size, &key)) {
	case 1:
		if (key.len == 0 || key.len > PGP_MAX_KEY)
			abort();
		break;
	default:
		if (key.len != 0)
			abort();
	}
	buf_free(&key);
	buf_free(&out);
	return 0;
}
