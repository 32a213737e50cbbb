/*
 * libFuzzer target for the password hash parser (lib/mail/pwhash.c):
 * stored values come from a database SECURITY.md H5 does not trust.
 *
 * The input is the stored value, a NUL, then the password (which may
 * hold more NULs); without a NUL it is all stored value and the password
 * is empty. The stored value is copied to a buffer of its exact size so
 * that ASan sees any read past its NUL.
 *
 * Work is capped: pwhash_verify() is called when pwhash_scheme() knows
 * no scheme (it must then refuse without hashing), for {SSHA*} and
 * {SHA*}, and for crypt and argon2 values whose cost this harness finds
 * tiny by the same grammar pwhash.c reads (md5crypt; sha-crypt rounds
 * <= 5000; bcrypt cost <= 6; yescrypt N <= 1024, r <= 8; argon2
 * m <= 64 KiB, t <= 2, p <= 2). Anything else is only given to
 * pwhash_scheme().
 *
 * Oracles: the result is -1, 0 or 1; -1 when the scheme is unknown,
 * the password holds a NUL or is too long; a {SSHA256} and a hex
 * {SHA512} value built here from the password (salted with the first
 * bytes of the stored value) verify as 1, and as 0 with one byte of the
 * password changed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "pwhash.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Decimal digits at *sp, saturating; -1 if there are none. */
static long long
num(const char **sp)
{
	const char	*s = *sp;
	long long	 n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		if (n < 1000000)
			n = n * 10 + (*s - '0');
	*sp = s;
	return n;
}

static int
itoa64(unsigned char c)
{
	const char	*a = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz";
	const char	*p;

	if (c == '\0' || (p = strchr(a, c)) == NULL)
		return -1;
	return (int)(p - a);
}

static int
crypt_cheap(const char *s)
{
	const char	*p;
	long long	 n;
	int		 nlog2, r;

	if (strncmp(s, "$1$", 3) == 0)
		return 1;
	if (strncmp(s, "$5$", 3) == 0 || strncmp(s, "$6$", 3) == 0) {
		p = s + 3;
		if (strncmp(p, "rounds=", 7) != 0)
			return 1;		/* 5000 */
		p += 7;
		return (n = num(&p)) != -1 && n <= 5000;
	}
	if (s[0] == '$' && s[1] == '2' && s[2] != '\0' && s[3] == '$') {
		if (s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9')
			return 0;
		return (s[4] - '0') * 10 + (s[5] - '0') <= 6;
	}
	if (strncmp(s, "$y$", 3) == 0) {
		p = s + 3;
		if (itoa64((unsigned char)p[0]) == -1 ||
		    (nlog2 = itoa64((unsigned char)p[1])) == -1 ||
		    (r = itoa64((unsigned char)p[2])) == -1)
			return 0;
		return nlog2 + 1 <= 10 && r + 1 <= 8;
	}
	return 0;
}

static int
argon2_cheap(const char *s)
{
	const char	*p;

	if (strncmp(s, "$argon2id$", 10) == 0)
		p = s + 10;
	else if (strncmp(s, "$argon2i$", 9) == 0)
		p = s + 9;
	else
		return 0;
	if (strncmp(p, "v=", 2) == 0) {
		p += 2;
		if (num(&p) == -1 || *p++ != '$')
			return 0;
	}
	if (strncmp(p, "m=", 2) != 0)
		return 0;
	p += 2;
	if (num(&p) > 64 || strncmp(p, ",t=", 3) != 0)
		return 0;
	p += 3;
	if (num(&p) > 2 || strncmp(p, ",p=", 3) != 0)
		return 0;
	p += 3;
	return num(&p) <= 2;
}

/* 1 if verifying s costs little, whatever the library makes of it. */
static int
cheap(const char *s)
{
	static const char *const digest[] = {
	    "SSHA512", "SSHA256", "SHA512", "SHA256"
	};
	static const char *const crypts[] = {
	    "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "CRYPT"
	};
	const char	*end;
	size_t		 i, len;

	if (s[0] != '{')
		return crypt_cheap(s);
	if ((end = strchr(s, '}')) == NULL)
		return 0;
	len = (size_t)(end - s - 1);
	for (i = 0; i < sizeof(digest) / sizeof(digest[0]); i++)
		if (strlen(digest[i]) == len &&
		    strncasecmp(s + 1, digest[i], len) == 0)
			return 1;
	for (i = 0; i < sizeof(crypts) / sizeof(crypts[0]); i++)
		if (strlen(crypts[i]) == len &&
		    strncasecmp(s + 1, crypts[i], len) == 0)
			return crypt_cheap(end + 1);
	if ((len == 8 && strncasecmp(s + 1, "ARGON2ID", 8) == 0) ||
	    (len == 7 && strncasecmp(s + 1, "ARGON2I", 7) == 0))
		return argon2_cheap(end + 1);
	return 0;
}

/* Build {SSHA256} and hex {SHA512} values of pw and check them. */
static void
roundtrip(const char *pw, size_t pwlen, const uint8_t *salt,
    size_t saltlen)
{
	unsigned char	 raw[32 + 16], dig[64];
	char		 stored[PWHASH_MAX], *pw2;
	EVP_MD_CTX	*ctx;
	unsigned int	 len;
	size_t		 i;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, pw, pwlen) != 1 ||
	    EVP_DigestUpdate(ctx, salt, saltlen) != 1 ||
	    EVP_DigestFinal_ex(ctx, raw, &len) != 1 || len != 32)
		abort();
	EVP_MD_CTX_free(ctx);
	memcpy(raw + 32, salt, saltlen);
	memcpy(stored, "{SSHA256}", 9);
	if (EVP_EncodeBlock((unsigned char *)stored + 9, raw,
	    (int)(32 + saltlen)) <= 0)
		abort();
	if (pwhash_verify(stored, pw, pwlen) != 1) {
		(void)fprintf(stderr, "%s does not verify\n", stored);
		abort();
	}

	if (EVP_Digest(pw, pwlen, dig, &len, EVP_sha512(), NULL) != 1 ||
	    len != 64)
		abort();
	memcpy(stored, "{SHA512}", 8);
	for (i = 0; i < 64; i++)
		(void)snprintf(stored + 8 + 2 * i, 3, "%02x", dig[i]);
	if (pwhash_verify(stored, pw, pwlen) != 1) {
		(void)fprintf(stderr, "%s does not verify\n", stored);
		abort();
	}

	if (pwlen == 0)
		return;
	if ((pw2 = malloc(pwlen)) == NULL)
		abort();
	memcpy(pw2, pw, pwlen);
	pw2[pwlen - 1] = pw2[pwlen - 1] == 'x' ? 'y' : 'x';
	if (pwhash_verify(stored, pw2, pwlen) != 0)
		abort();
	free(pw2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nul;
	const char	*scheme;
	char		*stored, *pw;
	size_t		 slen, pwlen;
	int		 r, refused;

	if ((nul = memchr(data, '\0', size)) != NULL) {
		slen = (size_t)(nul - data);
		pwlen = size - slen - 1;
	} else {
		slen = size;
		pwlen = 0;
	}
	if ((stored = malloc(slen + 1)) == NULL ||
	    (pw = malloc(pwlen > 0 ? pwlen : 1)) == NULL)
		abort();
	memcpy(stored, data, slen);
	stored[slen] = '\0';
	if (pwlen > 0)
		memcpy(pw, nul + 1, pwlen);
	refused = pwlen > PWHASH_MAX_PASSWORD ||
	    memchr(pw, '\0', pwlen) != NULL;

	scheme = pwhash_scheme(stored);
	if (scheme != NULL && *scheme == '\0')
		abort();
	if (scheme == NULL || cheap(stored)) {
		r = pwhash_verify(stored, pw, pwlen);
		if (r < -1 || r > 1)
			abort();
		if ((scheme == NULL || refused) && r != -1) {
			(void)fprintf(stderr, "verify %d, scheme %s\n", r,
			    scheme ? scheme : "NULL");
			abort();
		}
	}
	if (!refused && slen == 0)
		roundtrip(pw, pwlen, (const uint8_t *)"s", 1);
	else if (!refused)
		roundtrip(pw, pwlen, data, slen < 16 ? slen : 16);
	else if (pwhash_create(pw, pwlen, stored, slen + 1) != -1)
		abort();

	free(stored);
	free(pw);
	return 0;
}
