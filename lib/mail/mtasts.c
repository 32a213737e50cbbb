/*
 * MTA-STS records and policies (RFC 8461 3.1, 3.2, 4.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"
#include "util.h"

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * sts-text-record = sts-version 1*(*WSP ";" *WSP sts-field) [";"]
 * with "v=STSv1" first, and exactly one id field.
 */
int
sts_txt_id(const char *txt, size_t len, char *id, size_t size)
{
	size_t	 i = 0, n, start;
	int	 have_id = 0;

	if (len < 7 || memcmp(txt, "v=STSv1", 7) != 0)
		return -1;
	i = 7;
	for (;;) {
		while (i < len && is_wsp((unsigned char)txt[i]))
			i++;
		if (i == len)
			break;
		if (txt[i] != ';')
			return -1;
		i++;
		while (i < len && is_wsp((unsigned char)txt[i]))
			i++;
		if (i == len)
			break;		/* a trailing ";" */
		start = i;
		while (i < len && txt[i] != ';' && !is_wsp((unsigned char)txt[i]))
			i++;
		n = i - start;
		if (n > 3 && memcmp(txt + start, "id=", 3) == 0) {
			size_t k;

			if (have_id || n - 3 > STS_MAX_ID || n - 3 >= size)
				return -1;
			for (k = start + 3; k < i; k++)
				if (!is_alnum((unsigned char)txt[k]))
					return -1;
			memcpy(id, txt + start + 3, n - 3);
			id[n - 3] = '\0';
			have_id = 1;
		} else if (memchr(txt + start, '=', n) == NULL)
			return -1;	/* other fields are name=value */
	}
	return have_id ? 0 : -1;
}

/* A host name pattern: labels of letters, digits and '-', "*." first
 * allowed once. */
static int
mx_pattern_ok(const char *s)
{
	size_t	 i = 0, label = 0;

	if (s[0] == '*' && s[1] == '.')
		i = 2;
	if (s[i] == '\0')
		return 0;
	for (; s[i] != '\0'; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!is_alnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

int
sts_parse(const char *text, size_t len, struct sts_policy *p,
    const char **errstr)
{
	char		 line[512], *key, *val, *e;
	size_t		 i = 0, n, k;
	int		 have_version = 0, have_mode = 0, have_age = 0;
	long long	 age;

	memset(p, 0, sizeof(*p));
	*errstr = NULL;
	if (len > STS_MAX_POLICY) {
		*errstr = "policy too large";
		return -1;
	}
	while (i < len) {
		for (n = i; n < len && text[n] != '\n'; n++)
			;
		k = n - i;
		if (k > 0 && text[i + k - 1] == '\r')
			k--;
		if (k >= sizeof(line)) {
			*errstr = "policy line too long";
			return -1;
		}
		memcpy(line, text + i, k);
		line[k] = '\0';
		i = n < len ? n + 1 : n;
		if (k == 0)
			continue;
		if (memchr(line, '\0', k) != NULL || (val = strchr(line,
		    ':')) == NULL) {
			*errstr = "policy line without a colon";
			return -1;
		}
		*val++ = '\0';
		key = line;
		while (is_wsp((unsigned char)*val))
			val++;
		for (e = val + strlen(val); e > val &&
		    is_wsp((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (strcmp(key, "version") == 0) {
			if (have_version++ || strcmp(val, "STSv1") != 0) {
				*errstr = "version is not STSv1";
				return -1;
			}
		} else if (strcmp(key, "mode") == 0) {
			if (have_mode++) {
				*errstr = "mode given twice";
				return -1;
			}
			if (strcmp(val, "enforce") == 0)
				p->mode = STS_MODE_ENFORCE;
			else if (strcmp(val, "testing") == 0)
				p->mode = STS_MODE_TESTING;
			else if (strcmp(val, "none") == 0)
				p->mode = STS_MODE_NONE;
			else {
				*errstr = "unknown mode";
				return -1;
			}
		} else if (strcmp(key, "max_age") == 0) {
			if (have_age++ || val[0] == '\0' || strlen(val) > 10 ||
			    strspn(val, "0123456789") != strlen(val)) {
				*errstr = "bad max_age";
				return -1;
			}
			age = strtoll(val, NULL, 10);
			p->max_age = (uint32_t)(age > STS_MAX_AGE ?
			    STS_MAX_AGE : age);
		} else if (strcmp(key, "mx") == 0) {
			if (!mx_pattern_ok(val) || strlen(val) >= STS_MAX_NAME) {
				*errstr = "bad mx pattern";
				return -1;
			}
			if (p->nmx < STS_MAX_MX) {
				for (e = val; *e != '\0'; e++)
					if (*e >= 'A' && *e <= 'Z')
						*e = (char)(*e + 32);
				(void)osms_strlcpy(p->mx[p->nmx++], val,
				    STS_MAX_NAME);
			}
		}
		/* Other keys are extensions: ignored (RFC 8461 3.2). */
	}
	if (!have_version || !have_mode || !have_age) {
		*errstr = "version, mode or max_age missing";
		return -1;
	}
	if (p->mode != STS_MODE_NONE && p->nmx == 0) {
		*errstr = "no mx line";
		return -1;
	}
	return 0;
}

int
sts_mx_match(const struct sts_policy *p, const char *host)
{
	const char	*dot;
	size_t		 i;

	for (i = 0; i < p->nmx; i++) {
		if (strncmp(p->mx[i], "*.", 2) == 0) {
			/* One label, not more (RFC 8461 4.1). */
			if ((dot = strchr(host, '.')) != NULL && dot > host &&
			    strcasecmp(dot + 1, p->mx[i] + 2) == 0)
				return 1;
		} else if (strcasecmp(host, p->mx[i]) == 0)
			return 1;
	}
	return 0;
}
