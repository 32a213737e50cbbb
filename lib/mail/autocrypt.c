/*
 * Autocrypt header fields (autocrypt.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "autocrypt.h"
#include "util.h"

#define AC_NAME		"Autocrypt:"
#define AC_NAMELEN	(sizeof(AC_NAME) - 1)
#define AC_LINE		76	/* keydata per folded line */

/* Where the header ends (the blank line), or len. */
static size_t
header_len(const char *msg, size_t len)
{
	const char	*p = msg, *lf;

	while ((size_t)(p - msg) < len) {
		if (*p == '\n' || (*p == '\r' && (size_t)(p + 1 - msg) < len &&
		    p[1] == '\n'))
			return (size_t)(p - msg);
		if ((lf = memchr(p, '\n', len - (size_t)(p - msg))) == NULL)
			return len;
		p = lf + 1;
	}
	return len;
}

/* One field's value, unfolded (white space kept as one space), from
 * after its name to its end: its length, or -1 if too long. */
static long
unfold(const char *v, const char *end, char *out, size_t size,
    const char **next)
{
	size_t	 n = 0;

	for (; v < end; v++) {
		if (*v == '\r')
			continue;
		if (*v == '\n') {
			if (v + 1 < end && (v[1] == ' ' || v[1] == '\t'))
				continue;
			v++;
			break;
		}
		if (n + 1 >= size)
			return -1;
		out[n++] = *v == '\t' ? ' ' : *v;
	}
	out[n] = '\0';
	*next = v;
	return (long)n;
}

/* value "addr=a; prefer-encrypt=mutual; keydata=..." into ac: 0/-1. */
static int
parse(char *value, struct autocrypt *ac)
{
	char		*attr, *save = NULL, *eq, *k, *v, *src, *dst;
	unsigned char	*tmp;
	size_t		 n, got;
	int		 have_key = 0, ok;

	for (attr = strtok_r(value, ";", &save); attr != NULL;
	    attr = strtok_r(NULL, ";", &save)) {
		attr += strspn(attr, " ");
		if (*attr == '\0')
			continue;
		if ((eq = strchr(attr, '=')) == NULL)
			return -1;
		*eq = '\0';
		k = attr;
		v = eq + 1;
		k[strcspn(k, " ")] = '\0';
		if (strcasecmp(k, "addr") == 0) {
			v += strspn(v, " ");
			v[strcspn(v, " ")] = '\0';
			if (ac->addr[0] != '\0' || strchr(v, '@') == NULL ||
			    osms_strlcpy(ac->addr, v, sizeof(ac->addr)) >=
			    sizeof(ac->addr))
				return -1;
			str_lower(ac->addr);
		} else if (strcasecmp(k, "prefer-encrypt") == 0) {
			v += strspn(v, " ");
			ac->mutual = strncasecmp(v, "mutual", 6) == 0;
		} else if (strcasecmp(k, "keydata") == 0) {
			if (have_key)
				return -1;
			/* base64 with the folding's spaces in it */
			for (src = dst = v; *src != '\0'; src++)
				if (*src != ' ')
					*dst++ = *src;
			*dst = '\0';
			n = strlen(v) / 4 * 3 + 3;
			if (strlen(v) == 0 || n > AUTOCRYPT_MAX)
				return -1;
			tmp = xmalloc(n);
			ok = base64_decode(v, tmp, n, &got) == 0 && got > 0 &&
			    buf_add(&ac->key, tmp, got) == 0;
			free(tmp);
			if (!ok)
				return -1;
			have_key = 1;
		} else if (k[0] != '_')
			return -1;	/* critical and not known */
	}
	return ac->addr[0] != '\0' && have_key ? 0 : -1;
}

int
autocrypt_find(const char *msg, size_t len, struct autocrypt *ac)
{
	const char	*p = msg, *end = msg + header_len(msg, len), *next;
	const char	*found = NULL;
	char		*value;
	int		 rc;

	memset(ac, 0, sizeof(*ac));
	buf_init(&ac->key, AUTOCRYPT_MAX);
	/* Field names start lines; the first line is one too. */
	while (p < end) {
		if ((size_t)(end - p) > AC_NAMELEN &&
		    strncasecmp(p, AC_NAME, AC_NAMELEN) == 0) {
			if (found != NULL)
				return 0;	/* more than one: none */
			found = p;
		}
		if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p++;
	}
	if (found == NULL)
		return 0;
	value = xmalloc(AUTOCRYPT_MAX + 1);
	rc = unfold(found + AC_NAMELEN, end, value, AUTOCRYPT_MAX + 1,
	    &next) < 0 || parse(value, ac) == -1 ? -1 : 1;
	free(value);
	if (rc == -1) {
		buf_free(&ac->key);
		memset(ac, 0, sizeof(*ac));
	}
	return rc;
}

int
autocrypt_field(const char *addr, const void *key, size_t keylen,
    struct buf *out)
{
	char	*b64;
	size_t	 n, i;
	int	 rc = -1;

	if (keylen == 0 || keylen > AUTOCRYPT_MAX)
		return -1;
	n = (keylen + 2) / 3 * 4 + 1;
	b64 = xmalloc(n);
	if (base64_encode(key, keylen, b64, n) < 0 ||
	    buf_printf(out, AC_NAME " addr=%s; prefer-encrypt=mutual; keydata=",
	    addr) == -1)
		goto done;
	for (i = 0; i < strlen(b64); i += AC_LINE)
		if (buf_addstr(out, "\r\n ") == -1 || buf_add(out, b64 + i,
		    strlen(b64) - i < AC_LINE ? strlen(b64) - i : AC_LINE) == -1)
			goto done;
	rc = buf_addstr(out, "\r\n");
done:
	free(b64);
	return rc;
}
