/*
 * DKIM's canonicalization (dkimcanon.h).
 */
#include <string.h>

#include <openssl/evp.h>

#include "dkim.h"
#include "dkimcanon.h"

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* The end of the line at p (its CR LF or LF excluded), and its next. */
static size_t
line_end(const char *m, size_t len, size_t p, size_t *next)
{
	const char	*lf = memchr(m + p, '\n', len - p);
	size_t		 e;

	if (lf == NULL) {
		*next = len;
		return len;
	}
	e = (size_t)(lf - m);
	*next = e + 1;
	return e > p && m[e - 1] == '\r' ? e - 1 : e;
}

/*
 * The fields of the header block into f (at most DKIM_MAX_FIELDS), and
 * where the body starts. -1 past the limits.
 */
int
dkc_split_header(const char *m, size_t len, struct dkc_field *f, size_t *nf,
    size_t *body)
{
	size_t	 p = 0, e, next, n = 0;

	*nf = 0;
	while (p < len) {
		e = line_end(m, len, p, &next);
		if (e == p) {			/* the blank line */
			*body = next;
			*nf = n;
			return 0;
		}
		if (p > DKIM_MAX_HEADER)
			return -1;
		if (is_wsp((unsigned char)m[p]) && n > 0)
			f[n - 1].len = e - f[n - 1].off;	/* folded */
		else {
			if (n == DKIM_MAX_FIELDS)
				return -1;
			f[n].off = p;
			f[n].len = e - p;
			f[n].used = 0;
			n++;
		}
		p = next;
	}
	*body = len;
	*nf = n;
	return 0;
}

/* The field's name length, or 0 if it has no colon (not selectable). */
size_t
dkc_field_name(const char *m, const struct dkc_field *f)
{
	const char	*colon = memchr(m + f->off, ':', f->len);
	size_t		 n;

	if (colon == NULL)
		return 0;
	n = (size_t)(colon - (m + f->off));
	while (n > 0 && is_wsp((unsigned char)m[f->off + n - 1]))
		n--;
	return n;
}

/*
 * Relaxed header canonicalization (RFC 6376 3.4.2) of the field text
 * s (len bytes, folded or not): "name:value", then CRLF if crlf.
 */
int
dkc_canon_field(const char *s, size_t len, int crlf, struct buf *out)
{
	size_t	 i = 0;
	int	 sp = 0, any = 0;
	char	 c;

	for (; i < len && s[i] != ':'; i++) {
		c = s[i];
		if (is_wsp((unsigned char)c) || c == '\r' || c == '\n')
			continue;
		(void)buf_addc(out, c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	(void)buf_addc(out, ':');
	/* The value: unfolded, WSP runs as one SP, none at either end. */
	for (i++; i < len; i++) {
		c = s[i];
		if (c == '\r' || c == '\n')
			continue;
		if (is_wsp((unsigned char)c)) {
			sp = 1;
			continue;
		}
		if (sp && any)
			(void)buf_addc(out, ' ');
		sp = 0;
		any = 1;
		(void)buf_addc(out, c);
	}
	if (crlf)
		(void)buf_add(out, "\r\n", 2);
	return out->over ? -1 : 0;
}

/*
 * Relaxed body canonicalization (RFC 6376 3.4.4) into the hash: WSP
 * runs as one SP, none at a line's end, CRLF line ends, no empty lines
 * at the end; an empty body is empty.
 */
int
dkc_hash_body(const char *m, size_t len, size_t p, EVP_MD_CTX *md)
{
	char		 tmp[4096];
	size_t		 e, next, i, n, empty = 0;
	int		 sp, content;

	while (p < len) {
		e = line_end(m, len, p, &next);
		n = 0;
		sp = content = 0;
		for (i = p; i < e; i++) {
			if (is_wsp((unsigned char)m[i])) {
				sp = 1;
				continue;
			}
			if (!content) {
				/* Empty lines before this one were not the end. */
				for (; empty > 0; empty--)
					if (EVP_DigestUpdate(md, "\r\n", 2) != 1)
						return -1;
				content = 1;
			}
			if (n + 2 > sizeof(tmp)) {
				if (EVP_DigestUpdate(md, tmp, n) != 1)
					return -1;
				n = 0;
			}
			if (sp)
				tmp[n++] = ' ';
			sp = 0;
			tmp[n++] = m[i];
		}
		p = next;
		if (!content) {
			empty++;
			continue;
		}
		if (EVP_DigestUpdate(md, tmp, n) != 1 ||
		    EVP_DigestUpdate(md, "\r\n", 2) != 1)
			return -1;
	}
	return 0;
}

int
dkc_name_ok(const char *s, size_t max)
{
	size_t	 i, label = 0, n = strlen(s);

	if (n == 0 || n > max || s[0] == '.' || s[n - 1] == '.' ||
	    s[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_') || ++label > 63)
			return 0;
	}
	return 1;
}

