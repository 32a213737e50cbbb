/*
 * The verdict fields come in the header of any message from anywhere:
 * the functions must stay in bounds, and what they make must hold up:
 * stripping never grows a message and leaves nothing to strip; tagging
 * twice is tagging once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "verdict.h"

#define ID	"mail.example.test"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*msg = (const char *)data;
	struct buf	 a = BUF_INIT(2 * size + 64), b = BUF_INIT(2 * size + 64);
	struct buf	 c = BUF_INIT(2 * size + 64);
	int		 rc;

	(void)verdict_authres_ours(msg, size, ID);
	rc = verdict_strip(msg, size, ID, "X-Osms-SMIME:", &a);
	if (rc < 0 || a.len > size || (rc == 0 && (a.len != size ||
	    (size > 0 && memcmp(a.data, msg, size) != 0))))
		abort();
	if (verdict_strip(a.data != NULL ? a.data : "", a.len, ID,
	    "X-Osms-SMIME:", &b) != 0)
		abort();
	buf_reset(&b);
	if ((rc = verdict_tag_subject(msg, size, "[signed]", &b)) != 1)
		abort();
	if (verdict_tag_subject(b.data, b.len, "[signed]", &c) != 1 ||
	    c.len != b.len || memcmp(c.data, b.data, b.len) != 0)
		abort();
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	return 0;
}
