/*
 * The Sender Rewriting Scheme (see srs.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "srs.h"
#include "util.h"

#define HASH_LEN	4
#define TT_LEN		2
#define PART_MAX	512	/* bytes of one hashed part */

static const char	 b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static int
is_sep(int c)
{
	return c == '=' || c == '+' || c == '-';
}

/* The first HASH_LEN base64 characters of the HMAC of the parts. */
static int
srs_hash(const struct srs *srs, const char *a, size_t alen, const char *b,
    size_t blen, const char *c, size_t clen, char out[HASH_LEN + 1])
{
	unsigned char	 mac[EVP_MAX_MD_SIZE], low[3 * PART_MAX];
	char		 b64[64];
	unsigned int	 maclen = 0;
	size_t		 i, n = 0;
	const char	*part[3] = { a, b, c };
	size_t		 len[3] = { alen, blen, clen }, k;

	if (srs->secretlen < SRS_SECRET_MIN)
		return -1;
	for (k = 0; k < 3; k++) {
		if (len[k] > PART_MAX)
			return -1;
		for (i = 0; i < len[k]; i++)
			low[n++] = (unsigned char)(part[k][i] >= 'A' &&
			    part[k][i] <= 'Z' ? part[k][i] + 32 : part[k][i]);
	}
	if (HMAC(EVP_sha1(), srs->secret, (int)srs->secretlen, low, n, mac,
	    &maclen) == NULL ||
	    base64_encode(mac, maclen, b64, sizeof(b64)) < HASH_LEN)
		return -1;
	memcpy(out, b64, HASH_LEN);
	out[HASH_LEN] = '\0';
	return 0;
}

static int
put_addr(char *out, size_t size, const char **errstr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
put_addr(char *out, size_t size, const char **errstr, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		*errstr = "rewritten address too long";
		return -1;
	}
	return 0;
}

int
srs_forward(const struct srs *srs, const char *sender, time_t now,
    char *out, size_t outsize, const char **errstr)
{
	const char	*at, *local, *host, *p;
	char		 h[HASH_LEN + 1], tt[TT_LEN + 1];
	size_t		 llen, hostlen;
	unsigned	 day;

	*errstr = NULL;
	if (sender[0] == '\0' || ((at = strrchr(sender, '@')) != NULL &&
	    strcasecmp(at + 1, srs->domain) == 0))
		return put_addr(out, outsize, errstr, "%s", sender);
	if (at == NULL || at == sender || at[1] == '\0') {
		*errstr = "not an address";
		return -1;
	}
	local = sender;
	llen = (size_t)(at - sender);
	host = at + 1;
	hostlen = strlen(host);
	if (llen > 4 && (strncasecmp(local, "SRS0", 4) == 0 ||
	    strncasecmp(local, "SRS1", 4) == 0) && is_sep(local[4])) {
		/*
		 * Forwarded again: SRS1 keeps the first forwarder's host and
		 * what stood after its "SRS0" (or the SRS1 it made).
		 */
		if (strncasecmp(local, "SRS1", 4) == 0) {
			/* SRS1=HHHH=host==rest: keep host and =rest. */
			if ((p = memchr(local + 5, '=', llen - 5)) == NULL ||
			    (host = p + 1) >= at ||
			    (p = memchr(host, '=', (size_t)(at - host))) ==
			    NULL || p == host) {
				*errstr = "malformed SRS1 address";
				return -1;
			}
			hostlen = (size_t)(p - host);
			local = p + 1;
			llen = (size_t)(at - local);
		} else {
			local += 4;
			llen -= 4;
		}
		if (srs_hash(srs, host, hostlen, local, llen, "", 0, h) == -1) {
			*errstr = "cannot hash";
			return -1;
		}
		return put_addr(out, outsize, errstr, "SRS1=%s=%.*s=%.*s@%s",
		    h, (int)hostlen, host, (int)llen, local, srs->domain);
	}
	day = (unsigned)((now / 86400) % 1024);
	tt[0] = b32[day >> 5];
	tt[1] = b32[day & 31];
	tt[2] = '\0';
	if (srs_hash(srs, tt, TT_LEN, host, hostlen, local, llen, h) == -1) {
		*errstr = "cannot hash";
		return -1;
	}
	return put_addr(out, outsize, errstr, "SRS0=%s=%s=%s=%.*s@%s", h, tt,
	    host, (int)llen, local, srs->domain);
}

static int
b32_val(int c)
{
	const char	*p;

	if (c >= 'a' && c <= 'z')
		c -= 32;
	if (c == '\0' || (p = strchr(b32, c)) == NULL)
		return -1;
	return (int)(p - b32);
}

int
srs_reverse(const struct srs *srs, const char *addr, time_t now,
    char *out, size_t outsize, const char **errstr)
{
	const char	*at, *p, *hash, *tt, *host, *user;
	char		 h[HASH_LEN + 1];
	size_t		 hostlen, userlen, llen;
	int		 v1, v2;
	unsigned	 day, age;

	*errstr = NULL;
	if ((at = strrchr(addr, '@')) == NULL ||
	    strcasecmp(at + 1, srs->domain) != 0)
		return 0;
	llen = (size_t)(at - addr);
	if (llen < 5 || !is_sep(addr[4]) ||
	    (strncasecmp(addr, "SRS0", 4) != 0 &&
	    strncasecmp(addr, "SRS1", 4) != 0))
		return 0;
	hash = addr + 5;
	if (llen < 5 + HASH_LEN + 1 || hash[HASH_LEN] != '=')
		goto bad;
	if (strncasecmp(addr, "SRS1", 4) == 0) {
		/* SRS1=HHHH=host==rest -> SRS0=rest@host */
		host = hash + HASH_LEN + 1;
		if ((p = memchr(host, '=', (size_t)(at - host))) == NULL ||
		    p == host || p + 1 >= at || !is_sep(p[1]))
			goto bad;
		hostlen = (size_t)(p - host);
		user = p + 1;
		userlen = (size_t)(at - user);
		if (srs_hash(srs, host, hostlen, user, userlen, "", 0, h) ==
		    -1)
			goto bad;
		if (strncasecmp(h, hash, HASH_LEN) != 0) {
			*errstr = "SRS address with a bad hash";
			return -1;
		}
		if (put_addr(out, outsize, errstr, "SRS0%.*s@%.*s",
		    (int)userlen, user, (int)hostlen, host) == -1)
			return -1;
		return 1;
	}
	/* SRS0=HHHH=TT=host=user */
	tt = hash + HASH_LEN + 1;
	if (at - tt < TT_LEN + 3 || tt[TT_LEN] != '=' ||
	    (v1 = b32_val((unsigned char)tt[0])) == -1 ||
	    (v2 = b32_val((unsigned char)tt[1])) == -1)
		goto bad;
	host = tt + TT_LEN + 1;
	if ((p = memchr(host, '=', (size_t)(at - host))) == NULL ||
	    p == host || p + 1 >= at)
		goto bad;
	hostlen = (size_t)(p - host);
	if (memchr(host, '@', hostlen) != NULL)
		goto bad;
	user = p + 1;
	userlen = (size_t)(at - user);
	if (srs_hash(srs, tt, TT_LEN, host, hostlen, user, userlen, h) == -1)
		goto bad;
	if (strncasecmp(h, hash, HASH_LEN) != 0) {
		*errstr = "SRS address with a bad hash";
		return -1;
	}
	day = (unsigned)((now / 86400) % 1024);
	age = (day + 1024 - (unsigned)(v1 << 5 | v2)) % 1024;
	if (age > SRS_MAX_AGE_DAYS) {
		*errstr = "SRS address too old";
		return -1;
	}
	if (put_addr(out, outsize, errstr, "%.*s@%.*s", (int)userlen, user,
	    (int)hostlen, host) == -1)
		return -1;
	return 1;

 bad:
	*errstr = "malformed SRS address";
	return -1;
}
