/*
 * What an SMTP server sends the mta: replies, line by line, and the
 * extensions of EHLO. No crash, the text stays printable and bounded,
 * a complete reply has one code. And DATA encoding: its output, read
 * back as a server reads DATA (line ends CRLF, one leading dot off),
 * gives the input with its line ends made CRLF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_reply.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_replies(const char *p, size_t size)
{
	struct smtp_reply	 r;
	struct smtp_ehlo	 e;
	const char		*err, *nl;
	size_t			 i, len;
	int			 rc;

	smtp_reply_init(&r);
	while (size > 0) {
		nl = memchr(p, '\n', size);
		len = nl != NULL ? (size_t)(nl - p) : size;
		rc = smtp_reply_line(&r, p, len, &err);
		if (rc == -1) {
			if (err == NULL)
				abort();
			smtp_reply_init(&r);
		} else if (rc == 1) {
			if (r.code < 200 || r.code > 559 ||
			    strlen(r.text) >= sizeof(r.text))
				abort();
			for (i = 0; r.text[i] != '\0'; i++)
				if (r.text[i] != '\n' && (r.text[i] < 0x20 ||
				    r.text[i] > 0x7e))
					abort();
			smtp_ehlo_parse(&r, &e);
			if (strlen(e.auth) >= sizeof(e.auth))
				abort();
		}
		if (nl == NULL)
			break;
		size -= len + 1;
		p = nl + 1;
	}
}

static void
check_data(const char *p, size_t size)
{
	struct buf		 out = BUF_INIT(1 << 22), want = BUF_INIT(1 << 22);
	struct smtp_data	 d;
	size_t			 i, half = size / 2, o;
	int			 bol = 1;

	smtp_data_init(&d);
	if (smtp_data_add(&d, p, half, &out) == -1 ||
	    smtp_data_add(&d, p + half, size - half, &out) == -1 ||
	    smtp_data_end(&d, &out) == -1)
		abort();
	/* The input with CRLF line ends, ending in one. */
	for (i = 0; i < size; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			(void)buf_addc(&want, '\r');
		(void)buf_addc(&want, p[i]);
	}
	if (want.len > 0 && (want.len < 2 ||
	    memcmp(want.data + want.len - 2, "\r\n", 2) != 0))
		(void)buf_add(&want, want.data[want.len - 1] == '\r' ? "\n" :
		    "\r\n", want.data[want.len - 1] == '\r' ? 1 : 2);
	/* Undo the stuffing: one dot off each line that starts with one. */
	if (out.len < 3 || memcmp(out.data + out.len - 3, ".\r\n", 3) != 0)
		abort();
	for (i = o = 0; i < out.len - 3; i++) {
		if (bol && out.data[i] == '.') {
			if (i + 1 >= out.len - 3 || out.data[i + 1] != '.')
				abort();	/* an unstuffed dot line */
			i++;
		}
		out.data[o++] = out.data[i];
		bol = out.data[i] == '\n';
	}
	if (o != want.len || (o > 0 && memcmp(out.data, want.data, o) != 0))
		abort();
	buf_free(&out);
	buf_free(&want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	check_replies((const char *)data, size);
	check_data((const char *)data, size);
	return 0;
}
