/*
 * libFuzzer target for the 8BITMIME downgrade (lib/mail/mime7bit.c).
 *
 * The input is a message, in a buffer of exactly its size (no NUL), so
 * that ASan sees any read past its end. Oracles, when it converts:
 *  - line ends are CRLF only, and the output is at most 4 bytes an
 *    input byte and 80 bytes a part (two header fields, base64 ends);
 *  - the output parses into the same parts, of the same types, and no
 *    leaf body holds an 8-bit byte or a NUL;
 *  - every leaf, its transfer encoding undone (IMAP BINARY), holds the
 *    same bytes as in the input with its bare LFs made CRLF (what they
 *    mean), line ends aside;
 *  - converting the output again changes nothing.
 * When it refuses, it says why, and the reason is one of the limits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime.h"
#include "mime7bit.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {						\
	(void)fprintf(stderr, __VA_ARGS__);			\
	(void)fprintf(stderr, "\n");				\
	abort();						\
} while (0)

#define CEILING	(1 << 26)

static const char *const reasons[] = {
	"parts nested too deeply", "too many parts", "header block too large",
	"too many header fields", "8-bit data under an unknown encoding",
};

static const char	*outbuf;

/* s with bare LFs made CRLF, into b. */
static void
crlf(const char *s, size_t len, struct buf *b)
{
	size_t	 i;

	buf_reset(b);
	for (i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			(void)buf_addc(b, '\r');
		(void)buf_addc(b, s[i]);
	}
}

/* BINARY[spec] of a leaf, line ends made CRLF; -1 if it has none. */
static int
decoded(const struct mime_msg *m, const char *spec, struct buf *b)
{
	struct mime_section	 sec;
	struct buf		 raw = BUF_INIT(CEILING);
	const char		*errstr;
	int			 rc;

	if (mime_section_parse(spec, strlen(spec), &sec, &errstr) != 0)
		FAIL("section %s: %s", spec, errstr);
	if ((rc = mime_section_binary(m, &sec, &raw, &errstr)) == 0)
		crlf(raw.data != NULL ? raw.data : "", raw.len, b);
	else if (strcmp(errstr, "unknown-cte") != 0)
		FAIL("BINARY[%s]: %s", spec, errstr);
	mime_section_free(&sec);
	buf_free(&raw);
	return rc;
}

static void	 same_parts(const struct mime_msg *, const struct mime_part *,
		    const struct mime_msg *, const struct mime_part *,
		    const char *);

/* The leaf a (in the input) and b (in the output), at spec. */
static void
same_leaf(const struct mime_msg *ma, const struct mime_msg *mb,
    const struct mime_part *b, const char *spec)
{
	struct buf	 da = BUF_INIT(CEILING), db = BUF_INIT(CEILING);
	size_t		 i;
	int		 ra, rb;

	for (i = 0; i < b->body_len; i++)
		if ((unsigned char)outbuf[b->body_off + i] >= 0x80 ||
		    outbuf[b->body_off + i] == '\0')
			FAIL("8-bit byte in the body of %s", spec);
	ra = decoded(ma, spec, &da);
	rb = decoded(mb, spec, &db);
	if (ra != rb || da.len != db.len || (da.len > 0 &&
	    memcmp(da.data, db.data, da.len) != 0))
		FAIL("%s does not decode as it did", spec);
	buf_free(&da);
	buf_free(&db);
}

/* One part of each, at spec (IMAP numbering). */
static void
same_part(const struct mime_msg *ma, const struct mime_part *a,
    const struct mime_msg *mb, const struct mime_part *b, const char *spec)
{
	if (strcmp(a->type, b->type) != 0 ||
	    strcmp(a->subtype, b->subtype) != 0 ||
	    a->nchildren != b->nchildren ||
	    (a->message == NULL) != (b->message == NULL))
		FAIL("part %s changed shape", spec);
	if (a->message != NULL)
		same_parts(ma, a->message, mb, b->message, spec);
	else if (strcmp(a->type, "multipart") == 0)
		same_parts(ma, a, mb, b, spec);
	else
		same_leaf(ma, mb, b, spec);
}

/* The parts of a message or multipart c (path names it). */
static void
same_parts(const struct mime_msg *ma, const struct mime_part *a,
    const struct mime_msg *mb, const struct mime_part *b, const char *path)
{
	char	 spec[512];
	size_t	 i, n;

	n = strcmp(a->type, "multipart") == 0 ? a->nchildren : 1;
	for (i = 0; i < n; i++) {
		(void)snprintf(spec, sizeof(spec), "%s%s%zu", path,
		    *path != '\0' ? "." : "", i + 1);
		if (strcmp(a->type, "multipart") != 0)
			same_part(ma, a, mb, b, spec);
		else
			same_part(ma, &a->children[i], mb, &b->children[i],
			    spec);
	}
}

static void
check_output(const char *in, size_t size, const struct buf *out)
{
	struct mime_msg	*ma, *mb;
	struct buf	 ref = BUF_INIT(CEILING), again = BUF_INIT(CEILING);
	const char	*errstr = NULL;
	size_t		 i;

	for (i = 0; i < out->len; i++)
		if (out->data[i] == '\n' && (i == 0 ||
		    out->data[i - 1] != '\r'))
			FAIL("bare LF at %zu", i);
	crlf(in, size, &ref);
	if ((ma = mime_parse(ref.data != NULL ? ref.data : "", ref.len,
	    NULL)) == NULL ||
	    (mb = mime_parse(out->data != NULL ? out->data : "", out->len,
	    NULL)) == NULL)
		FAIL("mime_parse");
	if (out->len > 4 * size + 80 * mime_nparts(ma))
		FAIL("%zu bytes from %zu", out->len, size);
	if (mime_nparts(ma) != mime_nparts(mb))
		FAIL("%zu parts, then %zu", mime_nparts(ma), mime_nparts(mb));
	outbuf = out->data;
	same_parts(ma, mime_root(ma), mb, mime_root(mb), "");
	mime_free(ma);
	mime_free(mb);
	buf_free(&ref);

	if (mime7bit_convert(out->data, out->len, &again, &errstr) != 0)
		FAIL("the output does not convert: %s", errstr);
	if (again.len != out->len || (out->len > 0 &&
	    memcmp(again.data, out->data, out->len) != 0))
		FAIL("a second conversion changes it");
	buf_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 out = BUF_INIT(CEILING);
	const char	*errstr = NULL;
	char		*in;
	size_t		 i;

	if (size > (1 << 20))
		return 0;
	if ((in = malloc(size > 0 ? size : 1)) == NULL)
		abort();
	if (size > 0)
		memcpy(in, data, size);
	(void)mime7bit_needed(in, size);
	if (mime7bit_convert(in, size, &out, &errstr) == 0)
		check_output(in, size, &out);
	else {
		if (errstr == NULL)
			FAIL("refused without a reason");
		for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
			if (strcmp(errstr, reasons[i]) == 0)
				break;
		if (i == sizeof(reasons) / sizeof(reasons[0]))
			FAIL("refused: %s", errstr);
	}
	buf_free(&out);
	free(in);
	return 0;
}
