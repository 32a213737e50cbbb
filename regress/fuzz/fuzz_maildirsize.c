/*
 * libFuzzer target for the parsers of lib/mail/maildir.c that see bytes
 * a Maildir's owner controls. They are static, so the file is included
 * here, its exported names renamed so that this object and the
 * library's maildir.o can be linked together.
 *
 * The first byte picks what gets the rest:
 *	0: maildirsize_parse. Oracle: a file that parses gives a usage
 *	   that is not negative, and the file written back from the result
 *	   (as md_quota_rewrite does) parses to the same numbers.
 *	1: the CRLF -> LF conversion, fed in chunks whose size the second
 *	   byte picks, into a file and into a count. Oracle: a byte-by-byte
 *	   reference, and the count equals the bytes written.
 *	2: maildir_path_valid, maildir_name_valid, md_name_size. Oracle:
 *	   an independent check of the path rules.
 */
#define maildir_deliver		fuzz_maildir_deliver
#define maildir_name_valid	fuzz_maildir_name_valid
#define maildir_path_valid	fuzz_maildir_path_valid
#include "maildir.c"

#include <sys/mman.h>

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_parse(const char *buf, size_t len)
{
	char		 out[128];
	uint64_t	 lb, lm, lb2, lm2;
	int64_t		 b, m, b2, m2;
	int		 n, k;

	if (maildirsize_parse(buf, len, &lb, &lm, &b, &m) == -1)
		return;
	if (b < 0 || m < 0)
		abort();
	if ((n = md_quota_header(out, sizeof(out), lb, lm)) == -1 ||
	    (k = osms_snprintf(out + n, sizeof(out) - (size_t)n,
	    "%" PRId64 " %" PRId64 "\n", b, m)) == -1)
		abort();
	if (maildirsize_parse(out, (size_t)n + (size_t)k, &lb2, &lm2, &b2,
	    &m2) == -1)
		abort();
	/* With no limit at all the header says "0C": both read 0. */
	if (lb2 != lb || lm2 != lm || b2 != b || m2 != m)
		abort();
}

static void
fuzz_convert(const uint8_t *data, size_t len)
{
	static struct md_bufs	 bufs;
	struct md_out		 o, c;
	unsigned char		*want, *got;
	size_t			 chunk, i, n, wlen;
	int			 fd;

	if (len == 0)
		return;
	chunk = (size_t)data[0] + 1;
	data++;
	len--;
	if ((want = malloc(len + 1)) == NULL || (got = malloc(len + 1)) ==
	    NULL)
		abort();
	for (i = 0, wlen = 0; i < len; i++)
		if (!(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n'))
			want[wlen++] = data[i];

	if ((fd = memfd_create("fuzz", MFD_CLOEXEC)) == -1)
		abort();
	memset(&o, 0, sizeof(o));
	o.fd = fd;
	o.buf = bufs.out;
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	for (i = 0; i < len; i += n) {
		n = len - i < chunk ? len - i : chunk;
		if (md_convert(&o, data + i, n) == -1 ||
		    md_convert(&c, data + i, n) == -1)
			abort();
	}
	if ((o.cr && md_put(&o, (const unsigned char *)"\r", 1) == -1) ||
	    (c.cr && md_put(&c, (const unsigned char *)"\r", 1) == -1) ||
	    md_flush(&o) == -1)
		abort();
	if (o.total != wlen || c.total != wlen)
		abort();
	if (pread(fd, got, len + 1, 0) != (ssize_t)wlen ||
	    (wlen > 0 && memcmp(got, want, wlen) != 0))
		abort();
	(void)close(fd);
	free(want);
	free(got);
}

/* The rules of maildir.h, written out once more. */
static int
ref_path_valid(const char *p, size_t len)
{
	size_t	 i, start = 0, clen;

	if (len == 0 || len > MAILDIR_MAX_PATH)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '/') {
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return 0;
			continue;
		}
		clen = i - start;
		if (clen == 0 || clen > 255 ||
		    (clen == 1 && p[start] == '.') ||
		    (clen == 2 && p[start] == '.' && p[start + 1] == '.'))
			return 0;
		start = i + 1;
	}
	return 1;
}

static void
fuzz_names(const uint8_t *data, size_t len)
{
	char	*s;
	int64_t	 size;
	size_t	 i;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, data, len);
	s[len] = '\0';
	len = strlen(s);
	if (fuzz_maildir_path_valid(s) != ref_path_valid(s, len))
		abort();
	if (fuzz_maildir_name_valid(s)) {
		if (len == 0 || len > MAILDIR_MAX_NAME || s[0] == '.')
			abort();
		for (i = 0; i < len; i++)
			if (strchr("/:,", s[i]) != NULL ||
			    (unsigned char)s[i] <= 0x20 ||
			    (unsigned char)s[i] >= 0x7f)
				abort();
	}
	if (md_name_size(s, &size) == 0 && size < 0)
		abort();
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_parse((const char *)data + 1, size - 1);
		break;
	case 1:
		fuzz_convert(data + 1, size - 1);
		break;
	default:
		fuzz_names(data + 1, size - 1);
		break;
	}
	return 0;
}
