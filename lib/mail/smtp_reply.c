/*
 * SMTP client pieces without a socket (see smtp_reply.h).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_reply.h"
#include "util.h"

void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* The length of an enhanced status code "c.x.y" (RFC 3463) at p, or 0. */
static size_t
status_len(const char *p, size_t len, int class)
{
	size_t	 i = 2, n;
	int	 part;

	if (len < 5 || p[0] != class || p[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && is_digit((unsigned char)p[i]) && n < 3;
		    i++)
			n++;
		if (n == 0)
			return 0;
		if (part == 0) {
			if (i >= len || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && p[i] != ' ')
		return 0;
	return i;
}

/* Text for logs and DSNs: printable ASCII, the rest as '?'. */
static void
add_text(struct smtp_reply *r, const char *p, size_t len)
{
	size_t	 have = strlen(r->text), i;

	for (i = 0; i < len; i++) {
		if (have + 1 >= sizeof(r->text)) {
			r->cut = 1;
			break;
		}
		r->text[have++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] :
		    p[i] == '\n' ? '\n' : '?';
	}
	r->text[have] = '\0';
}

int
smtp_reply_line(struct smtp_reply *r, const char *line, size_t len,
    const char **errstr)
{
	const char	*text;
	size_t		 tlen, n;
	int		 code;

	if (r->done)
		smtp_reply_init(r);
	if (len > SMTP_REPLY_MAX_LINE) {
		*errstr = "reply line too long";
		return -1;
	}
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '5' || !is_digit((unsigned char)line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		*errstr = "not an SMTP reply";
		return -1;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code) {
		*errstr = "reply lines with different codes";
		return -1;
	}
	if (++r->nlines > SMTP_REPLY_MAX_LINES) {
		*errstr = "reply of too many lines";
		return -1;
	}
	r->code = code;
	text = len > 4 ? line + 4 : "";
	tlen = len > 4 ? len - 4 : 0;
	/* The status code: the first line's, and each line's same one. */
	if ((n = status_len(text, tlen, line[0])) > 0) {
		if (r->nlines == 1 && n < sizeof(r->status)) {
			memcpy(r->status, text, n);
			r->status[n] = '\0';
		}
		if (strlen(r->status) == n && memcmp(r->status, text, n) == 0) {
			text += n;
			tlen -= n;
			if (tlen > 0 && *text == ' ') {
				text++;
				tlen--;
			}
		}
	}
	if (r->nlines > 1)
		add_text(r, "\n", 1);
	add_text(r, text, tlen);
	if (len == 3 || line[3] == ' ') {
		r->done = 1;
		return 1;
	}
	return 0;
}

void
smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e)
{
	static const struct {
		const char	*name;
		unsigned	 ext;
	} known[] = {
		{ "PIPELINING", SMTP_EXT_PIPELINING },
		{ "8BITMIME", SMTP_EXT_8BITMIME },
		{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
		{ "STARTTLS", SMTP_EXT_STARTTLS },
		{ "CHUNKING", SMTP_EXT_CHUNKING },
		{ "DSN", SMTP_EXT_DSN },
		{ "SIZE", SMTP_EXT_SIZE },
		{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCED },
		{ "AUTH", SMTP_EXT_AUTH },
		{ "REQUIRETLS", SMTP_EXT_REQUIRETLS },
	};
	const char	*p, *end, *sp;
	const char	*errstr;
	size_t		 i, kw, n;
	long long	 v;
	char		 num[24];

	memset(e, 0, sizeof(*e));
	if (r->code != 250 || (p = strchr(r->text, '\n')) == NULL)
		return;		/* the first line is the greeting */
	for (p++; *p != '\0'; p = *end == '\n' ? end + 1 : end) {
		end = p + strcspn(p, "\n");
		sp = memchr(p, ' ', (size_t)(end - p));
		kw = sp != NULL ? (size_t)(sp - p) : (size_t)(end - p);
		for (i = 0; i < nitems(known); i++)
			if (strlen(known[i].name) == kw &&
			    strncasecmp(p, known[i].name, kw) == 0)
				break;
		if (i == nitems(known))
			continue;
		e->ext |= known[i].ext;
		if (sp == NULL)
			continue;
		sp++;
		n = (size_t)(end - sp);
		if (known[i].ext == SMTP_EXT_SIZE && n > 0 && n < sizeof(num)) {
			memcpy(num, sp, n);
			num[n] = '\0';
			v = str_to_num(num, 0, LLONG_MAX, &errstr);
			if (errstr == NULL)
				e->size = (uint64_t)v;
		} else if (known[i].ext == SMTP_EXT_AUTH) {
			if (n >= sizeof(e->auth))
				n = sizeof(e->auth) - 1;
			for (kw = 0; kw < n; kw++)
				e->auth[kw] = sp[kw] >= 'a' && sp[kw] <= 'z' ?
				    (char)(sp[kw] - 32) : sp[kw];
			e->auth[n] = '\0';
		}
	}
}

void
smtp_data_init(struct smtp_data *d)
{
	d->bol = 1;
	d->cr = 0;
}

int
smtp_data_add(struct smtp_data *d, const char *p, size_t len,
    struct buf *out)
{
	char	 tmp[8192];
	size_t	 i, n = 0;
	char	 c;

	for (i = 0; i < len; i++) {
		if (n + 3 > sizeof(tmp)) {
			if (buf_add(out, tmp, n) == -1)
				return -1;
			n = 0;
		}
		c = p[i];
		if (c == '\n') {
			if (!d->cr)
				tmp[n++] = '\r';
			tmp[n++] = '\n';
			d->bol = 1;
			d->cr = 0;
			continue;
		}
		if (d->bol && c == '.')
			tmp[n++] = '.';		/* RFC 5321 4.5.2 */
		tmp[n++] = c;
		d->bol = 0;
		d->cr = c == '\r';
	}
	return n > 0 ? buf_add(out, tmp, n) : 0;
}

int
smtp_data_end(struct smtp_data *d, struct buf *out)
{
	if (!d->bol && buf_add(out, d->cr ? "\n" : "\r\n", d->cr ? 1 : 2) ==
	    -1)
		return -1;
	d->bol = 1;
	d->cr = 0;
	return buf_add(out, ".\r\n", 3);
}
