/*
 * Small generic helpers: bounded strings, checked allocation, numbers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

size_t
osms_strlcpy(char *dst, const char *src, size_t size)
{
	size_t	 len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t
osms_strlcat(char *dst, const char *src, size_t size)
{
	size_t	 dlen = strnlen(dst, size);

	if (dlen == size)
		return size + strlen(src);
	return dlen + osms_strlcpy(dst + dlen, src, size - dlen);
}

int
osms_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

void *
xmalloc(size_t size)
{
	void	*p;

	if (size == 0)
		fatalx("xmalloc: zero size");
	if ((p = malloc(size)) == NULL)
		fatal("xmalloc");
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		fatalx("xcalloc: zero size");
	if ((p = calloc(nmemb, size)) == NULL)
		fatal("xcalloc");
	return p;
}

void *
xreallocarray(void *old, size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		fatalx("xreallocarray: zero size");
	if (nmemb > SIZE_MAX / size)
		fatalx("xreallocarray: overflow");
	if ((p = realloc(old, nmemb * size)) == NULL)
		fatal("xreallocarray");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("xstrdup");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("xasprintf");
	return p;
}

long long
str_to_num(const char *s, long long min, long long max, const char **errstr)
{
	long long	 v;
	char		*end;

	*errstr = NULL;
	if (min > max || *s == '\0' || *s == ' ' || *s == '\t' || *s == '+') {
		*errstr = "invalid";
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0') {
		*errstr = "invalid";
		return 0;
	}
	if ((v == LLONG_MIN && errno == ERANGE) || v < min) {
		*errstr = "too small";
		return 0;
	}
	if ((v == LLONG_MAX && errno == ERANGE) || v > max) {
		*errstr = "too large";
		return 0;
	}
	return v;
}

size_t
utf8_seq(const unsigned char *s)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;		/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;		/* above U+10FFFF */
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	/* s[i - 1] is a continuation byte, so s[i] is still in the string. */
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

int
utf8_valid(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	while (*p != '\0') {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((n = utf8_seq(p)) == 0)
			return 0;
		p += n;
	}
	return 1;
}

int
str_has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

void
str_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

int
word_in_list(const char *list, const char *word)
{
	const char	*p;
	size_t		 n = strlen(word);

	if (n == 0)
		return 0;
	for (p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

int
list_next(const char **list, char *buf, size_t size)
{
	const char	*s = *list + strspn(*list, " ");
	size_t		 len = strcspn(s, " ");

	*list = s + len;
	if (len == 0)
		return 0;
	if (len >= size)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 1;
}

void
explicit_wipe(void *p, size_t len)
{
	explicit_bzero(p, len);
}

int
header_fields_ok(const char *h)
{
	size_t	 n = strlen(h);

	if (n > 0 && (n < 2 || strcmp(h + n - 2, "\r\n") != 0))
		return 0;
	for (; *h != '\0'; h++) {
		if (*h == '\r' && h[1] == '\n' && h[2] != ' ' && h[2] != '\t')
			h++;
		else if ((unsigned char)*h < 0x20 || *h == 0x7f)
			return 0;
	}
	return 1;
}

int
folded_text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' && strncmp(s, "\r\n\t", 3) == 0)
			s += 2;
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

char *
read_fd_text(int fd, size_t max)
{
	char	*buf = xcalloc(1, max + 1);
	size_t	 len = 0;
	ssize_t	 n;

	while (len < max && ((n = read(fd, buf + len, max - len)) > 0 ||
	    (n == -1 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	(void)close(fd);
	buf[len] = '\0';
	return buf;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		if ((n = pwrite(fd, p, len, off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int
pread_all(int fd, void *buf, size_t len, off_t off)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = pread(fd, p, len, off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
close_from(int lowfd)
{
	int	 fd;

	if (close_range((unsigned)lowfd, ~0U, 0) == 0)
		return;
	/* Kernels before 5.9: close what getdtablesize() allows. */
	for (fd = lowfd; fd < getdtablesize(); fd++)
		(void)close(fd);
}

void
fmt_duration(char *buf, size_t size, long long secs)
{
	long long	 d, h, m;

	if (secs < 0)
		secs = 0;
	d = secs / 86400;
	h = secs % 86400 / 3600;
	m = secs % 3600 / 60;
	secs %= 60;
	if (d > 0)
		(void)snprintf(buf, size, "%lldd%lldh%lldm", d, h, m);
	else if (h > 0)
		(void)snprintf(buf, size, "%lldh%lldm%llds", h, m, secs);
	else if (m > 0)
		(void)snprintf(buf, size, "%lldm%llds", m, secs);
	else
		(void)snprintf(buf, size, "%llds", secs);
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
base64_encode(const void *in, size_t len, char *out, size_t size)
{
	const unsigned char	*p = in;
	size_t			 need, i, o = 0;
	uint32_t		 v;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return -1;
	need = (len + 2) / 3 * 4 + 1;
	if (need > size || need - 1 > INT32_MAX)
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = b64chars[v >> 6 & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64chars[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int
b64val(char c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(b64chars, c)) == NULL)
		return -1;
	return (int)(p - b64chars);
}

int
base64_decode(const char *in, void *out, size_t size, size_t *outlen)
{
	unsigned char	*o = out;
	size_t		 len = strlen(in), i, n = 0;
	int		 a, b, c, d;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		int last = i + 4 == len;

		if ((a = b64val(in[i])) < 0 || (b = b64val(in[i + 1])) < 0)
			return -1;
		c = last && in[i + 2] == '=' && in[i + 3] == '=' ? -2 :
		    b64val(in[i + 2]);
		d = last && in[i + 3] == '=' ? -2 : b64val(in[i + 3]);
		if (c == -1 || d == -1 || (c == -2 && d != -2))
			return -1;
		/* Unused bits must be zero: one encoding per input. */
		if ((c == -2 && (b & 15)) || (c >= 0 && d == -2 && (c & 3)))
			return -1;
		if (n + 1 + (c >= 0) + (d >= 0) > size)
			return -1;
		o[n++] = (unsigned char)(a << 2 | b >> 4);
		if (c >= 0)
			o[n++] = (unsigned char)((b & 15) << 4 | c >> 2);
		if (d >= 0)
			o[n++] = (unsigned char)((c & 3) << 6 | d);
	}
	*outlen = n;
	return 0;
}

void
client_rate_key(const char *client, char *key, size_t size)
{
	struct in6_addr	 a;
	char		 text[INET6_ADDRSTRLEN];

	if (strchr(client, ':') != NULL && inet_pton(AF_INET6, client, &a) ==
	    1 && !IN6_IS_ADDR_V4MAPPED(&a)) {
		memset(&a.s6_addr[8], 0, 8);
		if (inet_ntop(AF_INET6, &a, text, sizeof(text)) != NULL) {
			(void)snprintf(key, size, "ip:%s/64", text);
			return;
		}
	}
	(void)snprintf(key, size, "ip:%s", client);
}
