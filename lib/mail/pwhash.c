/*
 * Password hashes in the "{SCHEME}" formats of Dovecot and PostfixAdmin:
 * see pwhash.h for the schemes and what is refused.
 *
 * Input is hostile twice over: the password comes from a network client,
 * the stored value from a database that SECURITY.md H5 does not trust.
 * So every stored value is bounded by PWHASH_MAX, parsed strictly, and
 * its cost parameters are checked against fixed caps before it reaches
 * a hashing library, so that one database row cannot make authd spend
 * minutes or gigabytes on a login. The caps:
 *	sha256/sha512-crypt	rounds <= 1,000,000 (libxcrypt's own
 *				ceiling, 999,999,999, is ~5 minutes here)
 *	bcrypt			cost <= 15 (2^15 rounds, ~1.5 s here)
 *	yescrypt		the short parameter form only (flavour, N, r:
 *				what crypt_gensalt writes),
 *				128 * r * N <= 256 MiB
 *	argon2			m <= 256 MiB, t <= 100, p <= 16 (p threads)
 *
 * Passwords: at most PWHASH_MAX_PASSWORD bytes and no NUL, so that every
 * library sees the same bytes. Copies of a password, digests and
 * libxcrypt's work area are wiped with explicit_bzero() before they are
 * freed or go out of scope. Digests are compared with CRYPTO_memcmp();
 * a crypt(3) result of another length than the stored string is "no
 * match", decided after hashing. libargon2 compares in constant time
 * itself.
 *
 * Thread-safety: crypt_rn() with a struct crypt_data per call, OpenSSL's
 * one-shot and EVP functions, libargon2. The only static data written is
 * the dummy hash, under pthread_once(), and the copy of the last stored
 * value verified, under a mutex.
 */
#include <sys/types.h>
#include <sys/random.h>

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pwhash.h"
#include "util.h"

/* The default scheme, as Dovecot writes it. */
#define DEFAULT_PREFIX		"{ARGON2ID}"
#define DEFAULT_T		3
#define DEFAULT_M		65536		/* KiB */
#define DEFAULT_P		1
#define DEFAULT_SALT		16
#define DEFAULT_TAG		32

/* Caps on what a stored value may ask for. */
#define SHACRYPT_MAX_ROUNDS	1000000ULL
#define BCRYPT_MAX_COST		15
#define YESCRYPT_MAX_MEM	(1ULL << 28)	/* bytes: 256 MiB */
#define ARGON2_CAP_M		(1ULL << 18)	/* KiB: 256 MiB */
#define ARGON2_CAP_T		100ULL
#define ARGON2_CAP_P		16ULL

#define SCRAM_ITER		4096
#define SCRAM_SALT		16
#define SCRAM_KEY		32		/* SHA-256 */

/* crypt(3) methods, by their "$id$". */
#define CM_MD5		0x01	/* "$1$" md5crypt */
#define CM_SHA256	0x02	/* "$5$" sha256crypt */
#define CM_SHA512	0x04	/* "$6$" sha512crypt */
#define CM_BCRYPT	0x08	/* "$2a$", "$2b$", "$2y$" */
#define CM_YESCRYPT	0x10	/* "$y$" */
#define CM_ALL		(CM_MD5 | CM_SHA256 | CM_SHA512 | CM_BCRYPT | \
			    CM_YESCRYPT)

enum pw_kind {
	PW_ARGON2,
	PW_CRYPT,
	PW_DIGEST
};

struct pw_scheme {
	const char	*name;		/* between the braces, upper case */
	enum pw_kind	 kind;
	int		 methods;	/* PW_CRYPT: CM_* accepted */
	const char	*a2tag;		/* PW_ARGON2: how the value starts */
	argon2_type	 a2type;
	const EVP_MD	*(*md)(void);	/* PW_DIGEST */
	size_t		 mdlen;
	int		 salted;
};

/* The scheme of a bare crypt string, without braces. */
#define SCHEME_BARE	"CRYPT"

static const struct pw_scheme schemes[] = {
	{ .name = "ARGON2ID", .kind = PW_ARGON2, .a2tag = "$argon2id$",
	  .a2type = Argon2_id },
	{ .name = "ARGON2I", .kind = PW_ARGON2, .a2tag = "$argon2i$",
	  .a2type = Argon2_i },
	{ .name = "BLF-CRYPT", .kind = PW_CRYPT, .methods = CM_BCRYPT },
	{ .name = "SHA512-CRYPT", .kind = PW_CRYPT, .methods = CM_SHA512 },
	{ .name = "SHA256-CRYPT", .kind = PW_CRYPT, .methods = CM_SHA256 },
	{ .name = "MD5-CRYPT", .kind = PW_CRYPT, .methods = CM_MD5 },
	{ .name = "CRYPT", .kind = PW_CRYPT, .methods = CM_ALL },
	{ .name = "SSHA512", .kind = PW_DIGEST, .md = EVP_sha512,
	  .mdlen = 64, .salted = 1 },
	{ .name = "SSHA256", .kind = PW_DIGEST, .md = EVP_sha256,
	  .mdlen = 32, .salted = 1 },
	{ .name = "SHA512", .kind = PW_DIGEST, .md = EVP_sha512,
	  .mdlen = 64 },
	{ .name = "SHA256", .kind = PW_DIGEST, .md = EVP_sha256,
	  .mdlen = 32 },
};

/*
 * Made by the argon2(1) tool from a random password that was thrown
 * away; used by pwhash_dummy() only if making one at run time fails, so
 * that a failed lookup still costs a verification.
 */
static const char dummy_fallback[] = DEFAULT_PREFIX
    "$argon2id$v=19$m=65536,t=3,p=1$NHhhN2FsR1NkOGNvaTZrVQ"
    "$CJPRt3N4iA09d8X6waK2Z9EROe7e4PLK6TmJ/yNG9Dk";

static pthread_once_t	 dummy_once = PTHREAD_ONCE_INIT;
static char		 dummy_hash[PWHASH_MAX];

/*
 * The stored value verified last: what pwhash_dummy() spends its time
 * on, so that a user who does not exist costs what the users who do
 * cost, in whatever scheme the directory keeps them (hashes brought from
 * Dovecot or PostfixAdmin often cost far less than the default).
 */
static pthread_mutex_t	 like_lock = PTHREAD_MUTEX_INITIALIZER;
static char		 like_hash[PWHASH_MAX];

static int	 password_ok(const char **, size_t);
static int	 fill_random(void *, size_t);
static int	 b64_value(unsigned char);
static int	 b64_decode(const char *, size_t, unsigned char *, size_t,
		    size_t *);
static int	 hex_value(unsigned char);
static int	 hex_decode(const char *, size_t, unsigned char *, size_t);
static int	 parse_uint(const char **, unsigned long long,
		    unsigned long long *);
static int	 itoa64_value(unsigned char);
static int	 crypt_method(const char *);
static int	 crypt_cost_ok(const char *);
static const struct pw_scheme *scheme_named(const char *, size_t);
static const struct pw_scheme *scheme_find(const char *, const char **);
static int	 verify_argon2(const struct pw_scheme *, const char *,
		    const char *, size_t);
static int	 verify_crypt(const char *, const char *, size_t);
static int	 verify_digest(const struct pw_scheme *, const char *,
		    const char *, size_t);
static void	 dummy_init(void);
static int	 verify_stored(const char *, const char *, size_t);

/*
 * A password may be NULL only when empty; it must not be longer than
 * PWHASH_MAX_PASSWORD nor hold a NUL. NULL becomes "".
 */
static int
password_ok(const char **password, size_t pwlen)
{
	if (*password == NULL) {
		if (pwlen != 0)
			return 0;
		*password = "";
	}
	if (pwlen > PWHASH_MAX_PASSWORD)
		return 0;
	if (memchr(*password, '\0', pwlen) != NULL)
		return 0;
	return 1;
}

static int
fill_random(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = getrandom(p, len, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict base64 (RFC 4648 4) of exactly len bytes: padded to a multiple
 * of 4, '=' only at the end, unused bits zero, nothing else (no
 * whitespace). 0 and the length in *outlen, or -1.
 */
static int
b64_decode(const char *in, size_t len, unsigned char *out, size_t outsize,
    size_t *outlen)
{
	uint32_t	 w;
	size_t		 i, j, n = 0, pad;
	int		 v;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		w = 0;
		pad = 0;
		for (j = 0; j < 4; j++) {
			w <<= 6;
			if (in[i + j] == '=' && i + 4 == len && j >= 2) {
				pad++;
				continue;
			}
			if (pad > 0)
				return -1;
			if ((v = b64_value((unsigned char)in[i + j])) == -1)
				return -1;
			w |= (uint32_t)v;
		}
		if ((pad == 1 && (w & 0xff) != 0) ||
		    (pad == 2 && (w & 0xffff) != 0))
			return -1;
		if (outsize - n < 3 - pad)
			return -1;
		out[n++] = (w >> 16) & 0xff;
		if (pad < 2)
			out[n++] = (w >> 8) & 0xff;
		if (pad < 1)
			out[n++] = w & 0xff;
	}
	*outlen = n;
	return 0;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 2 * outlen hex digits, either case. 0 or -1. */
static int
hex_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t	 i;
	int	 hi, lo;

	if (len != 2 * outlen)
		return -1;
	for (i = 0; i < outlen; i++) {
		if ((hi = hex_value((unsigned char)in[2 * i])) == -1 ||
		    (lo = hex_value((unsigned char)in[2 * i + 1])) == -1)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/*
 * The decimal digits at *sp (at least one), saturating above max so
 * that any number of digits is safe; *sp is left after them. 0 or -1.
 */
static int
parse_uint(const char **sp, unsigned long long max, unsigned long long *v)
{
	const char		*s = *sp;
	unsigned long long	 n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		if (n <= max)
			n = n * 10 + (unsigned long long)(*s - '0');
	*v = n;
	*sp = s;
	return 0;
}

/* The crypt(3) alphabet "./0-9A-Za-z". */
static int
itoa64_value(unsigned char c)
{
	if (c == '.')
		return 0;
	if (c == '/')
		return 1;
	if (c >= '0' && c <= '9')
		return c - '0' + 2;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 12;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 38;
	return -1;
}

/* The CM_* method of a crypt string, or 0 (DES, unknown, not crypt). */
static int
crypt_method(const char *s)
{
	if (strncmp(s, "$1$", 3) == 0)
		return CM_MD5;
	if (strncmp(s, "$5$", 3) == 0)
		return CM_SHA256;
	if (strncmp(s, "$6$", 3) == 0)
		return CM_SHA512;
	if (strncmp(s, "$y$", 3) == 0)
		return CM_YESCRYPT;
	if (s[0] == '$' && s[1] == '2' &&
	    (s[2] == 'a' || s[2] == 'b' || s[2] == 'y') && s[3] == '$')
		return CM_BCRYPT;
	return 0;
}

/*
 * 1 if the cost a crypt string asks for is within the caps, 0 if not or
 * if the cost field is malformed.
 */
static int
crypt_cost_ok(const char *s)
{
	unsigned long long	 rounds, mem;
	const char		*p;
	int			 cost, flavour, nlog2, r;

	switch (crypt_method(s)) {
	case CM_MD5:
		return 1;		/* always 1000 rounds */
	case CM_SHA256:
	case CM_SHA512:
		p = s + 3;
		if (strncmp(p, "rounds=", 7) != 0)
			return 1;	/* the default, 5000 */
		p += 7;
		if (parse_uint(&p, SHACRYPT_MAX_ROUNDS, &rounds) == -1 ||
		    rounds > SHACRYPT_MAX_ROUNDS || *p != '$')
			return 0;
		return 1;
	case CM_BCRYPT:
		/* "$2b$NN$": 2^NN rounds, NN two digits. */
		if (s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' ||
		    s[6] != '$')
			return 0;
		cost = (s[4] - '0') * 10 + (s[5] - '0');
		return cost <= BCRYPT_MAX_COST;
	case CM_YESCRYPT:
		/*
		 * "$y$" then the parameters up to '$'. The short form is
		 * three characters of the crypt alphabet: the flavour,
		 * log2(N) - 1 and r - 1, each below 48 (from 48 up, a
		 * character starts a longer number). Longer forms carry
		 * p, t and ROM parameters: refused.
		 */
		p = s + 3;
		if ((flavour = itoa64_value((unsigned char)p[0])) == -1 ||
		    flavour >= 48 ||
		    (nlog2 = itoa64_value((unsigned char)p[1])) == -1 ||
		    nlog2 >= 48 ||
		    (r = itoa64_value((unsigned char)p[2])) == -1 ||
		    r >= 48 || p[3] != '$')
			return 0;
		nlog2++;
		r++;
		if (nlog2 > 30)
			return 0;
		mem = 128ULL * (unsigned long long)r << nlog2;
		return mem <= YESCRYPT_MAX_MEM;
	default:
		return 0;
	}
}

static const struct pw_scheme *
scheme_named(const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < nitems(schemes); i++)
		if (strlen(schemes[i].name) == len &&
		    strncasecmp(schemes[i].name, name, len) == 0)
			return &schemes[i];
	return NULL;
}

/*
 * The scheme of a stored value, and in *body what follows the prefix,
 * or NULL: too long, an unknown or refused scheme, a crypt method or
 * argon2 type that does not belong to the prefix.
 */
static const struct pw_scheme *
scheme_find(const char *stored, const char **body)
{
	const struct pw_scheme	*s;
	const char		*end;

	if (stored == NULL || strnlen(stored, PWHASH_MAX) >= PWHASH_MAX)
		return NULL;
	if (stored[0] == '{') {
		if ((end = strchr(stored + 1, '}')) == NULL ||
		    (s = scheme_named(stored + 1,
		    (size_t)(end - stored - 1))) == NULL)
			return NULL;
		*body = end + 1;
	} else {
		s = scheme_named(SCHEME_BARE, strlen(SCHEME_BARE));
		*body = stored;
	}
	if (s == NULL)
		return NULL;
	switch (s->kind) {
	case PW_ARGON2:
		if (strncmp(*body, s->a2tag, strlen(s->a2tag)) != 0)
			return NULL;
		break;
	case PW_CRYPT:
		if ((crypt_method(*body) & s->methods) == 0)
			return NULL;
		break;
	case PW_DIGEST:
		break;
	}
	return s;
}

/*
 * "$argon2id$[v=19$]m=M,t=T,p=P$salt$hash": the costs are checked here,
 * the rest by libargon2, which compares the tags in constant time.
 */
static int
verify_argon2(const struct pw_scheme *s, const char *enc,
    const char *password, size_t pwlen)
{
	unsigned long long	 v, m, t, p;
	const char		*q;
	int			 r;

	q = enc + strlen(s->a2tag);
	if (strncmp(q, "v=", 2) == 0) {
		q += 2;
		if (parse_uint(&q, ARGON2_VERSION_13, &v) == -1 ||
		    (v != ARGON2_VERSION_10 && v != ARGON2_VERSION_13) ||
		    *q != '$')
			return -1;
		q++;
	}
	if (strncmp(q, "m=", 2) != 0)
		return -1;
	q += 2;
	if (parse_uint(&q, ARGON2_CAP_M, &m) == -1 || m > ARGON2_CAP_M ||
	    strncmp(q, ",t=", 3) != 0)
		return -1;
	q += 3;
	if (parse_uint(&q, ARGON2_CAP_T, &t) == -1 || t > ARGON2_CAP_T ||
	    strncmp(q, ",p=", 3) != 0)
		return -1;
	q += 3;
	if (parse_uint(&q, ARGON2_CAP_P, &p) == -1 || p > ARGON2_CAP_P ||
	    *q != '$')
		return -1;

	r = argon2_verify(enc, password, pwlen, s->a2type);
	if (r == ARGON2_OK)
		return 1;
	if (r == ARGON2_VERIFY_MISMATCH)
		return 0;
	return -1;
}

/*
 * crypt_rn() the password with the stored string as setting; a match
 * gives back the stored string.
 */
static int
verify_crypt(const char *setting, const char *password, size_t pwlen)
{
	struct crypt_data	*cd;
	const char		*out;
	size_t			 olen, slen;
	int			 r, toolong;

	if (!crypt_cost_ok(setting))
		return -1;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return -1;
	/*
	 * libxcrypt refuses a passphrase of CRYPT_MAX_PASSPHRASE_SIZE
	 * bytes or more, so no stored crypt string can be of one: hash
	 * the empty password instead, to check the stored string and
	 * spend the time, and answer "no match".
	 */
	toolong = pwlen >= sizeof(cd->input);
	if (!toolong && pwlen > 0)
		memcpy(cd->input, password, pwlen);	/* NUL from calloc */
	/* crypt_rn, not crypt_r: no failure token to compare, and the
	 * sanitizers' crypt_r interceptor cannot find libxcrypt's. */
	out = crypt_rn(cd->input, setting, cd, (int)sizeof(*cd));
	if (out == NULL || out[0] == '*')
		r = -1;
	else {
		olen = strlen(out);
		slen = strlen(setting);
		if (olen == slen)
			r = CRYPTO_memcmp(out, setting, slen) == 0;
		else
			r = 0;
		if (toolong)
			r = 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return r;
}

/*
 * {SSHA*}: base64(H(password || salt) || salt), a salt of 1 byte or
 * more. {SHA*}: base64(H(password)), or H(password) in hex if the
 * value has exactly the length of that.
 */
static int
verify_digest(const struct pw_scheme *s, const char *enc,
    const char *password, size_t pwlen)
{
	unsigned char	 raw[PWHASH_MAX], dig[EVP_MAX_MD_SIZE];
	EVP_MD_CTX	*ctx = NULL;
	size_t		 len, rawlen;
	unsigned int	 diglen;
	int		 r = -1;

	len = strlen(enc);
	if (!s->salted && len == 2 * s->mdlen) {
		if (hex_decode(enc, len, raw, s->mdlen) == -1)
			goto done;
		rawlen = s->mdlen;
	} else if (b64_decode(enc, len, raw, sizeof(raw), &rawlen) == -1)
		goto done;
	if (s->salted ? rawlen <= s->mdlen : rawlen != s->mdlen)
		goto done;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, s->md(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, password, pwlen) != 1 ||
	    EVP_DigestUpdate(ctx, raw + s->mdlen, rawlen - s->mdlen) != 1 ||
	    EVP_DigestFinal_ex(ctx, dig, &diglen) != 1 ||
	    diglen != s->mdlen)
		goto done;
	r = CRYPTO_memcmp(dig, raw, s->mdlen) == 0;
 done:
	EVP_MD_CTX_free(ctx);		/* cleanses its state */
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(dig, sizeof(dig));
	return r;
}

int
pwhash_verify(const char *stored, const char *password, size_t pwlen)
{
	int	 r;

	/* Refused values are shorter than PWHASH_MAX: the copy is whole. */
	if ((r = verify_stored(stored, password, pwlen)) != -1 &&
	    pthread_mutex_lock(&like_lock) == 0) {
		(void)osms_strlcpy(like_hash, stored, sizeof(like_hash));
		(void)pthread_mutex_unlock(&like_lock);
	}
	return r;
}

static int
verify_stored(const char *stored, const char *password, size_t pwlen)
{
	const struct pw_scheme	*s;
	const char		*body;

	if (!password_ok(&password, pwlen))
		return -1;
	if ((s = scheme_find(stored, &body)) == NULL)
		return -1;
	switch (s->kind) {
	case PW_ARGON2:
		return verify_argon2(s, body, password, pwlen);
	case PW_CRYPT:
		return verify_crypt(body, password, pwlen);
	case PW_DIGEST:
		return verify_digest(s, body, password, pwlen);
	}
	return -1;
}

int
pwhash_create(const char *password, size_t pwlen, char *out, size_t outsize)
{
	unsigned char	 salt[DEFAULT_SALT];
	size_t		 plen = sizeof(DEFAULT_PREFIX) - 1;
	int		 r;

	if (out == NULL || outsize == 0)
		return -1;
	if (!password_ok(&password, pwlen) || outsize <= plen ||
	    outsize - plen < argon2_encodedlen(DEFAULT_T, DEFAULT_M,
	    DEFAULT_P, DEFAULT_SALT, DEFAULT_TAG, Argon2_id) ||
	    fill_random(salt, sizeof(salt)) == -1)
		goto fail;
	memcpy(out, DEFAULT_PREFIX, plen);
	r = argon2id_hash_encoded(DEFAULT_T, DEFAULT_M, DEFAULT_P, password,
	    pwlen, salt, sizeof(salt), DEFAULT_TAG, out + plen, outsize - plen);
	explicit_bzero(salt, sizeof(salt));
	if (r != ARGON2_OK)
		goto fail;
	return 0;
 fail:
	explicit_bzero(out, outsize);
	return -1;
}

static void
dummy_init(void)
{
	unsigned char	 rnd[24];
	char		 pw[4 * sizeof(rnd) / 3 + 1];
	int		 len;

	if (fill_random(rnd, sizeof(rnd)) == 0 &&
	    (len = EVP_EncodeBlock((unsigned char *)pw, rnd,
	    (int)sizeof(rnd))) > 0 &&
	    pwhash_create(pw, (size_t)len, dummy_hash,
	    sizeof(dummy_hash)) == 0)
		goto done;
	memcpy(dummy_hash, dummy_fallback, sizeof(dummy_fallback));
 done:
	explicit_bzero(rnd, sizeof(rnd));
	explicit_bzero(pw, sizeof(pw));
}

void
pwhash_dummy(const char *password, size_t pwlen)
{
	char	 hash[PWHASH_MAX];

	hash[0] = '\0';
	if (pthread_mutex_lock(&like_lock) == 0) {
		memcpy(hash, like_hash, sizeof(hash));
		(void)pthread_mutex_unlock(&like_lock);
	}
	if (hash[0] == '\0') {
		if (pthread_once(&dummy_once, dummy_init) == 0)
			memcpy(hash, dummy_hash, sizeof(hash));
		else
			memcpy(hash, dummy_fallback, sizeof(dummy_fallback));
	}
	(void)verify_stored(hash, password, pwlen);
	explicit_bzero(hash, sizeof(hash));
}

int
pwhash_scram(const char *password, size_t pwlen, char *out, size_t outsize)
{
	static const char	 ckey[] = "Client Key", skey[] = "Server Key";
	unsigned char		 salt[SCRAM_SALT], salted[SCRAM_KEY];
	unsigned char		 client[EVP_MAX_MD_SIZE];
	unsigned char		 stored[EVP_MAX_MD_SIZE];
	unsigned char		 server[EVP_MAX_MD_SIZE];
	unsigned char		 b64salt[4 * ((SCRAM_SALT + 2) / 3) + 1];
	unsigned char		 b64stored[4 * ((SCRAM_KEY + 2) / 3) + 1];
	unsigned char		 b64server[4 * ((SCRAM_KEY + 2) / 3) + 1];
	unsigned int		 clen = 0, stlen = 0, svlen = 0;
	int			 n, r = -1;

	if (out == NULL || outsize == 0)
		return -1;
	if (!password_ok(&password, pwlen) ||
	    fill_random(salt, sizeof(salt)) == -1)
		goto done;
	if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, sizeof(salt),
	    SCRAM_ITER, EVP_sha256(), sizeof(salted), salted) != 1 ||
	    HMAC(EVP_sha256(), salted, sizeof(salted),
	    (const unsigned char *)ckey, sizeof(ckey) - 1, client,
	    &clen) == NULL || clen != SCRAM_KEY ||
	    EVP_Digest(client, clen, stored, &stlen, EVP_sha256(),
	    NULL) != 1 || stlen != SCRAM_KEY ||
	    HMAC(EVP_sha256(), salted, sizeof(salted),
	    (const unsigned char *)skey, sizeof(skey) - 1, server,
	    &svlen) == NULL || svlen != SCRAM_KEY)
		goto done;
	(void)EVP_EncodeBlock(b64salt, salt, sizeof(salt));
	(void)EVP_EncodeBlock(b64stored, stored, SCRAM_KEY);
	(void)EVP_EncodeBlock(b64server, server, SCRAM_KEY);
	n = snprintf(out, outsize, "SCRAM-SHA-256$%d:%s$%s:%s", SCRAM_ITER,
	    (char *)b64salt, (char *)b64stored, (char *)b64server);
	if (n < 0 || (size_t)n >= outsize)
		goto done;
	r = 0;
 done:
	if (r == -1)
		explicit_bzero(out, outsize);
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client, sizeof(client));
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(server, sizeof(server));
	explicit_bzero(b64stored, sizeof(b64stored));
	explicit_bzero(b64server, sizeof(b64server));
	return r;
}

const char *
pwhash_scheme(const char *stored)
{
	const struct pw_scheme	*s;
	const char		*body;

	if ((s = scheme_find(stored, &body)) == NULL)
		return NULL;
	return s->name;
}
