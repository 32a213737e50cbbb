/*
 * SEARCH, SORT and THREAD (see search.h): the program is compiled once
 * (sets resolved, needles folded, the keys of each AND ordered cheapest
 * first), then run over the messages, each read no further than its
 * keys need.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mime.h"
#include "search.h"
#include "util.h"

/*
 * Case folding.
 */

enum fold_kind {
	FOLD_DELTA,		/* add delta */
	FOLD_EVEN,		/* pairs: an even code point is the capital */
	FOLD_ODD,		/* pairs: an odd code point is the capital */
};

static const struct fold_range {
	uint32_t	 lo, hi;
	enum fold_kind	 kind;
	int32_t		 delta;
} fold_ranges[] = {
	{ 0x00b5, 0x00b5, FOLD_DELTA, 0x03bc - 0x00b5 },
	{ 0x00c0, 0x00d6, FOLD_DELTA, 32 },
	{ 0x00d8, 0x00de, FOLD_DELTA, 32 },
	{ 0x0100, 0x012f, FOLD_EVEN, 0 },
	{ 0x0132, 0x0137, FOLD_EVEN, 0 },
	{ 0x0139, 0x0148, FOLD_ODD, 0 },
	{ 0x014a, 0x0177, FOLD_EVEN, 0 },
	{ 0x0178, 0x0178, FOLD_DELTA, 0x00ff - 0x0178 },
	{ 0x0179, 0x017e, FOLD_ODD, 0 },
	{ 0x017f, 0x017f, FOLD_DELTA, 's' - 0x017f },
	{ 0x0181, 0x0181, FOLD_DELTA, 0x0253 - 0x0181 },
	{ 0x0182, 0x0185, FOLD_EVEN, 0 },
	{ 0x0186, 0x0186, FOLD_DELTA, 0x0254 - 0x0186 },
	{ 0x0187, 0x0187, FOLD_DELTA, 1 },
	{ 0x0189, 0x018a, FOLD_DELTA, 0x0256 - 0x0189 },
	{ 0x018b, 0x018b, FOLD_DELTA, 1 },
	{ 0x018e, 0x018e, FOLD_DELTA, 0x01dd - 0x018e },
	{ 0x018f, 0x018f, FOLD_DELTA, 0x0259 - 0x018f },
	{ 0x0190, 0x0190, FOLD_DELTA, 0x025b - 0x0190 },
	{ 0x0191, 0x0191, FOLD_DELTA, 1 },
	{ 0x0193, 0x0193, FOLD_DELTA, 0x0260 - 0x0193 },
	{ 0x0194, 0x0194, FOLD_DELTA, 0x0263 - 0x0194 },
	{ 0x0196, 0x0196, FOLD_DELTA, 0x0269 - 0x0196 },
	{ 0x0197, 0x0197, FOLD_DELTA, 0x0268 - 0x0197 },
	{ 0x0198, 0x0198, FOLD_DELTA, 1 },
	{ 0x019c, 0x019c, FOLD_DELTA, 0x026f - 0x019c },
	{ 0x019d, 0x019d, FOLD_DELTA, 0x0272 - 0x019d },
	{ 0x019f, 0x019f, FOLD_DELTA, 0x0275 - 0x019f },
	{ 0x01a0, 0x01a5, FOLD_EVEN, 0 },
	{ 0x01a6, 0x01a6, FOLD_DELTA, 0x0280 - 0x01a6 },
	{ 0x01a7, 0x01a7, FOLD_DELTA, 1 },
	{ 0x01a9, 0x01a9, FOLD_DELTA, 0x0283 - 0x01a9 },
	{ 0x01ac, 0x01ac, FOLD_DELTA, 1 },
	{ 0x01ae, 0x01ae, FOLD_DELTA, 0x0288 - 0x01ae },
	{ 0x01af, 0x01af, FOLD_DELTA, 1 },
	{ 0x01b1, 0x01b2, FOLD_DELTA, 0x028a - 0x01b1 },
	{ 0x01b3, 0x01b3, FOLD_DELTA, 1 },
	{ 0x01b5, 0x01b5, FOLD_DELTA, 1 },
	{ 0x01b7, 0x01b7, FOLD_DELTA, 0x0292 - 0x01b7 },
	{ 0x01b8, 0x01b8, FOLD_DELTA, 1 },
	{ 0x01bc, 0x01bc, FOLD_DELTA, 1 },
	{ 0x01c4, 0x01c4, FOLD_DELTA, 2 },
	{ 0x01c5, 0x01c5, FOLD_DELTA, 1 },
	{ 0x01c7, 0x01c7, FOLD_DELTA, 2 },
	{ 0x01c8, 0x01c8, FOLD_DELTA, 1 },
	{ 0x01ca, 0x01ca, FOLD_DELTA, 2 },
	{ 0x01cb, 0x01dc, FOLD_ODD, 0 },
	{ 0x01de, 0x01ef, FOLD_EVEN, 0 },
	{ 0x01f1, 0x01f1, FOLD_DELTA, 2 },
	{ 0x01f2, 0x01f2, FOLD_DELTA, 1 },
	{ 0x01f4, 0x01f4, FOLD_DELTA, 1 },
	{ 0x01f6, 0x01f6, FOLD_DELTA, 0x0195 - 0x01f6 },
	{ 0x01f7, 0x01f7, FOLD_DELTA, 0x01bf - 0x01f7 },
	{ 0x01f8, 0x021f, FOLD_EVEN, 0 },
	{ 0x0220, 0x0220, FOLD_DELTA, 0x019e - 0x0220 },
	{ 0x0222, 0x0233, FOLD_EVEN, 0 },
	{ 0x023b, 0x023b, FOLD_DELTA, 1 },
	{ 0x023d, 0x023d, FOLD_DELTA, 0x019a - 0x023d },
	{ 0x0241, 0x0241, FOLD_DELTA, 1 },
	{ 0x0243, 0x0243, FOLD_DELTA, 0x0180 - 0x0243 },
	{ 0x0244, 0x0244, FOLD_DELTA, 0x0289 - 0x0244 },
	{ 0x0245, 0x0245, FOLD_DELTA, 0x028c - 0x0245 },
	{ 0x0246, 0x024f, FOLD_EVEN, 0 },
	{ 0x0345, 0x0345, FOLD_DELTA, 0x03b9 - 0x0345 },
	{ 0x0370, 0x0373, FOLD_EVEN, 0 },
	{ 0x0376, 0x0376, FOLD_DELTA, 1 },
	{ 0x037f, 0x037f, FOLD_DELTA, 0x03f3 - 0x037f },
	{ 0x0386, 0x0386, FOLD_DELTA, 0x03ac - 0x0386 },
	{ 0x0388, 0x038a, FOLD_DELTA, 37 },
	{ 0x038c, 0x038c, FOLD_DELTA, 0x03cc - 0x038c },
	{ 0x038e, 0x038f, FOLD_DELTA, 63 },
	{ 0x0391, 0x03a1, FOLD_DELTA, 32 },
	{ 0x03a3, 0x03ab, FOLD_DELTA, 32 },
	{ 0x03c2, 0x03c2, FOLD_DELTA, 1 },
	{ 0x03cf, 0x03cf, FOLD_DELTA, 0x03d7 - 0x03cf },
	{ 0x03d0, 0x03d0, FOLD_DELTA, 0x03b2 - 0x03d0 },
	{ 0x03d1, 0x03d1, FOLD_DELTA, 0x03b8 - 0x03d1 },
	{ 0x03d5, 0x03d5, FOLD_DELTA, 0x03c6 - 0x03d5 },
	{ 0x03d6, 0x03d6, FOLD_DELTA, 0x03c0 - 0x03d6 },
	{ 0x03d8, 0x03ef, FOLD_EVEN, 0 },
	{ 0x03f0, 0x03f0, FOLD_DELTA, 0x03ba - 0x03f0 },
	{ 0x03f1, 0x03f1, FOLD_DELTA, 0x03c1 - 0x03f1 },
	{ 0x03f4, 0x03f4, FOLD_DELTA, 0x03b8 - 0x03f4 },
	{ 0x03f5, 0x03f5, FOLD_DELTA, 0x03b5 - 0x03f5 },
	{ 0x03f7, 0x03f7, FOLD_DELTA, 1 },
	{ 0x03f9, 0x03f9, FOLD_DELTA, 0x03f2 - 0x03f9 },
	{ 0x03fa, 0x03fa, FOLD_DELTA, 1 },
	{ 0x03fd, 0x03ff, FOLD_DELTA, 0x037b - 0x03fd },
	{ 0x0400, 0x040f, FOLD_DELTA, 80 },
	{ 0x0410, 0x042f, FOLD_DELTA, 32 },
	{ 0x0460, 0x0481, FOLD_EVEN, 0 },
	{ 0x048a, 0x04bf, FOLD_EVEN, 0 },
	{ 0x04c0, 0x04c0, FOLD_DELTA, 15 },
	{ 0x04c1, 0x04ce, FOLD_ODD, 0 },
	{ 0x04d0, 0x052f, FOLD_EVEN, 0 },
	{ 0x0531, 0x0556, FOLD_DELTA, 48 },
	{ 0x10a0, 0x10c5, FOLD_DELTA, 0x2d00 - 0x10a0 },
	{ 0x10c7, 0x10c7, FOLD_DELTA, 0x2d27 - 0x10c7 },
	{ 0x10cd, 0x10cd, FOLD_DELTA, 0x2d2d - 0x10cd },
	{ 0x1e00, 0x1e95, FOLD_EVEN, 0 },
	{ 0x1e9b, 0x1e9b, FOLD_DELTA, 0x1e61 - 0x1e9b },
	{ 0x1e9e, 0x1e9e, FOLD_DELTA, 0x00df - 0x1e9e },
	{ 0x1ea0, 0x1eff, FOLD_EVEN, 0 },
	{ 0x1f08, 0x1f0f, FOLD_DELTA, -8 },
	{ 0x1f18, 0x1f1d, FOLD_DELTA, -8 },
	{ 0x1f28, 0x1f2f, FOLD_DELTA, -8 },
	{ 0x1f38, 0x1f3f, FOLD_DELTA, -8 },
	{ 0x1f48, 0x1f4d, FOLD_DELTA, -8 },
	{ 0x1f59, 0x1f59, FOLD_DELTA, -8 },
	{ 0x1f5b, 0x1f5b, FOLD_DELTA, -8 },
	{ 0x1f5d, 0x1f5d, FOLD_DELTA, -8 },
	{ 0x1f5f, 0x1f5f, FOLD_DELTA, -8 },
	{ 0x1f68, 0x1f6f, FOLD_DELTA, -8 },
	{ 0x1fb8, 0x1fb9, FOLD_DELTA, -8 },
	{ 0x1fba, 0x1fbb, FOLD_DELTA, 0x1f70 - 0x1fba },
	{ 0x1fbe, 0x1fbe, FOLD_DELTA, 0x03b9 - 0x1fbe },
	{ 0x1fc8, 0x1fcb, FOLD_DELTA, 0x1f72 - 0x1fc8 },
	{ 0x1fd8, 0x1fd9, FOLD_DELTA, -8 },
	{ 0x1fda, 0x1fdb, FOLD_DELTA, 0x1f76 - 0x1fda },
	{ 0x1fe8, 0x1fe9, FOLD_DELTA, -8 },
	{ 0x1fea, 0x1feb, FOLD_DELTA, 0x1f7a - 0x1fea },
	{ 0x1fec, 0x1fec, FOLD_DELTA, -7 },
	{ 0x1ff8, 0x1ff9, FOLD_DELTA, 0x1f78 - 0x1ff8 },
	{ 0x1ffa, 0x1ffb, FOLD_DELTA, 0x1f7c - 0x1ffa },
	{ 0x2126, 0x2126, FOLD_DELTA, 0x03c9 - 0x2126 },
	{ 0x212a, 0x212a, FOLD_DELTA, 'k' - 0x212a },
	{ 0x212b, 0x212b, FOLD_DELTA, 0x00e5 - 0x212b },
	{ 0x2132, 0x2132, FOLD_DELTA, 0x214e - 0x2132 },
	{ 0x2160, 0x216f, FOLD_DELTA, 16 },
	{ 0x2183, 0x2183, FOLD_DELTA, 1 },
	{ 0x24b6, 0x24cf, FOLD_DELTA, 26 },
	{ 0x2c00, 0x2c2f, FOLD_DELTA, 48 },
	{ 0x2c60, 0x2c60, FOLD_DELTA, 1 },
	{ 0x2c80, 0x2ce3, FOLD_EVEN, 0 },
	{ 0xa640, 0xa66d, FOLD_EVEN, 0 },
	{ 0xa680, 0xa69b, FOLD_EVEN, 0 },
	{ 0xa722, 0xa72f, FOLD_EVEN, 0 },
	{ 0xa732, 0xa76f, FOLD_EVEN, 0 },
	{ 0xa779, 0xa77c, FOLD_ODD, 0 },
	{ 0xa77e, 0xa787, FOLD_EVEN, 0 },
	{ 0xa78b, 0xa78b, FOLD_DELTA, 1 },
	{ 0xa790, 0xa793, FOLD_EVEN, 0 },
	{ 0xa796, 0xa7a9, FOLD_EVEN, 0 },
	{ 0xff21, 0xff3a, FOLD_DELTA, 32 },
	{ 0x10400, 0x10427, FOLD_DELTA, 40 },
};

static uint32_t
fold_range(const struct fold_range *r, uint32_t c)
{
	switch (r->kind) {
	case FOLD_DELTA:
		return (uint32_t)((int64_t)c + r->delta);
	case FOLD_EVEN:
		return (c & 1) ? c : c + 1;
	case FOLD_ODD:
		return (c & 1) ? c + 1 : c;
	}
	return c;
}

/* *hint: the range that matched last; a text stays in its script. */
static uint32_t
fold_cp(uint32_t c, size_t *hint)
{
	const struct fold_range	*r = &fold_ranges[*hint];
	size_t			 lo = 0, hi = nitems(fold_ranges), mid;

	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c < 0x100) {
		if (c >= 0xc0 && c <= 0xde && c != 0xd7)
			return c + 32;
		return c == 0xb5 ? 0x3bc : c;
	}
	if (c >= r->lo && c <= r->hi)
		return fold_range(r, c);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = &fold_ranges[mid];
		if (c < r->lo)
			hi = mid;
		else if (c > r->hi)
			lo = mid + 1;
		else {
			*hint = mid;
			return fold_range(r, c);
		}
	}
	return c;
}

uint32_t
search_fold_cp(uint32_t c)
{
	size_t	 hint = 0;

	return fold_cp(c, &hint);
}

/* One UTF-8 sequence of at most len bytes: its length, or 0. */
static size_t
utf8_get(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;
	uint32_t	 c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	c = (c << 6) | (s[1] & 0x3f);
	for (i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	*cp = c;
	return n;
}

static size_t
utf8_put(uint32_t c, unsigned char *out)
{
	if (c < 0x80) {
		out[0] = (unsigned char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (unsigned char)(0xc0 | (c >> 6));
		out[1] = (unsigned char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (c >> 12));
		out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (c >> 18));
	out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * Never longer than the input: a fold that would grow keeps the input,
 * and a byte that starts no valid sequence becomes 0xff, which no valid
 * UTF-8 needle holds, so it matches nothing.
 */
size_t
search_fold(const char *in, size_t len, char *out)
{
	const unsigned char	*s = (const unsigned char *)in;
	unsigned char		*o = (unsigned char *)out, enc[4];
	size_t			 i = 0, k = 0, n, m, hint = 0;
	uint32_t		 c;

	while (i < len) {
		if (s[i] < 0x80) {
			o[k++] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 :
			    s[i];
			i++;
			continue;
		}
		if ((n = utf8_get(s + i, len - i, &c)) == 0) {
			o[k++] = 0xff;
			i++;
			continue;
		}
		m = utf8_put(fold_cp(c, &hint), enc);
		if (m > n) {
			memcpy(o + k, s + i, n);
			k += n;
		} else {
			memcpy(o + k, enc, m);
			k += m;
		}
		i += n;
	}
	o[k] = '\0';
	return k;
}

static char *
fold_dup(const char *s)
{
	size_t	 len = strlen(s);
	char	*out = xmalloc(len + 1);

	(void)search_fold(s, len, out);
	return out;
}

/* i;ascii-casemap (RFC 4790): ASCII letters as capitals. */
static void
casemap(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 32);
}

static char *
dupn(const char *s, size_t n)
{
	char	*p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* The first of the values mime_header() joined with "\n". */
static char *
first_value(const char *v)
{
	const char	*nl = strchr(v, '\n');

	return dupn(v, nl != NULL ? (size_t)(nl - v) : strlen(v));
}

/* Dates: day numbers, as days_from_civil() gives them. */
static long
time_days(long long t)
{
	return (long)(t >= 0 ? t / 86400 : -((-t + 86399) / 86400));
}

/*
 * A keyed hash table of strings (SipHash-1-3 with a random key, so that
 * crafted Message-IDs cannot pile up in one chain).
 */

struct stab {
	const char	**keys;
	int32_t		*vals;
	size_t		 cap;		/* a power of two */
	size_t		 n;
	uint64_t	 k0, k1;
};

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
siphash13(uint64_t k0, uint64_t k1, const unsigned char *in, size_t len)
{
	uint64_t	 v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t	 v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t	 v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t	 v3 = 0x7465646279746573ULL ^ k1;
	uint64_t	 m, b = (uint64_t)len << 56;
	size_t		 i, j, left = len & 7, end = len - left;

	for (i = 0; i < end; i += 8) {
		for (m = 0, j = 0; j < 8; j++)
			m |= (uint64_t)in[i + j] << (8 * j);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (j = 0; j < left; j++)
		b |= (uint64_t)in[end + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void
stab_init(struct stab *t)
{
	uint64_t	 k[2];

	memset(t, 0, sizeof(*t));
	arc4random_buf(k, sizeof(k));
	t->k0 = k[0];
	t->k1 = k[1];
	t->cap = 64;
	t->keys = xcalloc(t->cap, sizeof(*t->keys));
	t->vals = xcalloc(t->cap, sizeof(*t->vals));
}

static void
stab_free(struct stab *t)
{
	free(t->keys);
	free(t->vals);
	memset(t, 0, sizeof(*t));
}

static size_t
stab_slot(const struct stab *t, const char *key)
{
	size_t	 i;

	i = (size_t)siphash13(t->k0, t->k1, (const unsigned char *)key,
	    strlen(key)) & (t->cap - 1);
	while (t->keys[i] != NULL && strcmp(t->keys[i], key) != 0)
		i = (i + 1) & (t->cap - 1);
	return i;
}

/* The value of key, or -1. */
static int32_t
stab_get(const struct stab *t, const char *key)
{
	size_t	 i = stab_slot(t, key);

	return t->keys[i] != NULL ? t->vals[i] : -1;
}

/* Set key (which the caller keeps alive) to val. */
static void
stab_put(struct stab *t, const char *key, int32_t val)
{
	const char	**okeys;
	int32_t		*ovals;
	size_t		 i, j, ocap;

	if ((t->n + 1) * 2 > t->cap) {
		okeys = t->keys;
		ovals = t->vals;
		ocap = t->cap;
		t->cap *= 2;
		t->keys = xcalloc(t->cap, sizeof(*t->keys));
		t->vals = xcalloc(t->cap, sizeof(*t->vals));
		for (i = 0; i < ocap; i++) {
			if (okeys[i] == NULL)
				continue;
			j = stab_slot(t, okeys[i]);
			t->keys[j] = okeys[i];
			t->vals[j] = ovals[i];
		}
		free(okeys);
		free(ovals);
	}
	i = stab_slot(t, key);
	if (t->keys[i] == NULL) {
		t->keys[i] = key;
		t->n++;
	}
	t->vals[i] = val;
}

/*
 * One message as the keys see it: the index data at once, the rest
 * when first asked for.
 */

enum hfield {
	HF_DATE,
	HF_FROM,
	HF_TO,
	HF_CC,
	HF_BCC,
	HF_SUBJECT,
	HF_MSGID,
	HF_REFS,
	HF_IRT,
	HF_N
};

static const char *const hf_names[HF_N] = {
	"Date", "From", "To", "Cc", "Bcc", "Subject", "Message-ID",
	"References", "In-Reply-To",
};

/* The cache record: magic, version, flags, then each field. */
#define REC_MAGIC	'S'
#define REC_VERSION	1
#define REC_OVERFLOW	0x01	/* too big to keep: read the file */
#define REC_HDR		3

struct sctx {
	const struct search_src	*src;
	char			*scratch;	/* folded text */
	size_t			 scratch_cap;
	uint32_t		*saved;		/* "$", sorted */
	size_t			 nsaved;
	uint32_t		 maxuid;
	int			 modseq;
};

struct mview {
	struct sctx		*c;
	size_t			 idx;
	struct search_msg	 m;
	int			 file;	/* 0 untried, 1 open, -1 unreadable */
	const char		*data;
	size_t			 len;
	struct mime_msg		*hdr;	/* the header block alone */
	struct mime_msg		*full;
	int			 fields;	/* hf loaded */
	char			*hf[HF_N];	/* raw; NULL: absent */
	char			*fold[HF_N];	/* decoded and folded */
	int			 sent_done;
	int			 sent_ok;
	time_t			 sent;
	int			 sent_tz;
};

static void
mv_init(struct mview *mv, struct sctx *c, size_t idx)
{
	memset(mv, 0, sizeof(*mv));
	mv->c = c;
	mv->idx = idx;
}

static void
mv_release(struct mview *mv)
{
	size_t	 i;

	for (i = 0; i < HF_N; i++) {
		free(mv->hf[i]);
		free(mv->fold[i]);
	}
	mime_free(mv->hdr);
	mime_free(mv->full);
	if (mv->file == 1 && mv->c->src->release != NULL)
		mv->c->src->release(mv->c->src->arg, mv->idx);
	memset(mv, 0, sizeof(*mv));
}

static int
mv_file(struct mview *mv)
{
	const struct search_src	*src = mv->c->src;

	if (mv->file == 0) {
		mv->file = -1;
		if (src->open != NULL && src->open(src->arg, mv->idx,
		    &mv->data, &mv->len) == 0) {
			mv->file = 1;
			if (mv->data == NULL)
				mv->len = 0;
		}
	}
	return mv->file == 1;
}

/* The length of the header with its blank line (all if none). */
static size_t
header_len(const char *p, size_t len)
{
	const char	*nl;
	size_t		 i = 0;

	if (len > 0 && p[0] == '\n')
		return 1;
	if (len > 1 && p[0] == '\r' && p[1] == '\n')
		return 2;
	while (i < len && (nl = memchr(p + i, '\n', len - i)) != NULL) {
		i = (size_t)(nl - p) + 1;
		if (i < len && p[i] == '\n')
			return i + 1;
		if (i + 1 < len && p[i] == '\r' && p[i + 1] == '\n')
			return i + 2;
	}
	return len;
}

static struct mime_msg *
mv_hdr(struct mview *mv)
{
	const char	*err;

	if (mv->hdr == NULL && mv->full != NULL)
		return mv->full;
	if (mv->hdr == NULL && mv_file(mv))
		mv->hdr = mime_parse(mv->data, header_len(mv->data, mv->len),
		    &err);
	return mv->hdr;
}

static struct mime_msg *
mv_full(struct mview *mv)
{
	const char	*err;

	if (mv->full == NULL && mv_file(mv))
		mv->full = mime_parse(mv->data, mv->len, &err);
	return mv->full;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* 0 and the fields, 1 for an overflow record, -1 if it is not ours. */
static int
rec_decode(const unsigned char *p, size_t len, char **hf)
{
	size_t		 off = REC_HDR, i, n;

	if (len < REC_HDR || p[0] != REC_MAGIC || p[1] != REC_VERSION)
		return -1;
	if (p[2] & REC_OVERFLOW)
		return len == REC_HDR ? 1 : -1;
	for (i = 0; i < HF_N; i++) {
		if (len - off < 1)
			goto bad;
		if (p[off] == 0) {
			off++;
			continue;
		}
		if (p[off] != 1 || len - off < 5)
			goto bad;
		n = get32(p + off + 1);
		off += 5;
		if (n > len - off || memchr(p + off, '\0', n) != NULL)
			goto bad;
		hf[i] = dupn((const char *)p + off, n);
		off += n;
	}
	if (off == len)
		return 0;
 bad:
	for (i = 0; i < HF_N; i++) {
		free(hf[i]);
		hf[i] = NULL;
	}
	return -1;
}

static void
rec_put(struct mview *mv)
{
	const struct search_src	*src = mv->c->src;
	unsigned char		*p;
	size_t			 len = REC_HDR, off, i, n;

	if (src->cache_put == NULL)
		return;
	for (i = 0; i < HF_N; i++)
		len += 1 + (mv->hf[i] != NULL ? 4 + strlen(mv->hf[i]) : 0);
	if (len > src->cache_max) {
		unsigned char	 ov[REC_HDR] = { REC_MAGIC, REC_VERSION,
		    REC_OVERFLOW };

		src->cache_put(src->arg, mv->idx, ov, sizeof(ov));
		return;
	}
	p = xmalloc(len);
	p[0] = REC_MAGIC;
	p[1] = REC_VERSION;
	p[2] = 0;
	off = REC_HDR;
	for (i = 0; i < HF_N; i++) {
		if (mv->hf[i] == NULL) {
			p[off++] = 0;
			continue;
		}
		n = strlen(mv->hf[i]);
		p[off] = 1;
		put32(p + off + 1, (uint32_t)n);
		memcpy(p + off + 5, mv->hf[i], n);
		off += 5 + n;
	}
	src->cache_put(src->arg, mv->idx, p, len);
	free(p);
}

/* The fields SEARCH, SORT and THREAD use most: cache, else the file. */
static void
mv_fields(struct mview *mv)
{
	const struct search_src	*src = mv->c->src;
	struct mime_msg		*h;
	const void		*d;
	size_t			 len, i;
	int			 rc = -1;

	if (mv->fields)
		return;
	mv->fields = 1;
	if (src->cache_get != NULL && src->cache_get(src->arg, mv->idx, &d,
	    &len) == 0)
		rc = rec_decode(d, len, mv->hf);
	if (rc == 0)
		return;
	if ((h = mv_hdr(mv)) == NULL)
		return;
	for (i = 0; i < HF_N; i++)
		mv->hf[i] = mime_header(h, NULL, hf_names[i], 1);
	if (rc == -1)
		rec_put(mv);
}

static const char *
mv_field(struct mview *mv, enum hfield f)
{
	mv_fields(mv);
	return mv->hf[f];
}

static const char *
mv_folded(struct mview *mv, enum hfield f)
{
	const char	*v;
	char		*dec;

	if (mv->fold[f] == NULL && (v = mv_field(mv, f)) != NULL) {
		dec = mime_decode_header(v);
		mv->fold[f] = fold_dup(dec != NULL ? dec : v);
		free(dec);
	}
	return mv->fold[f];
}

/* The Date: field, parsed. */
static int
mv_sent(struct mview *mv, time_t *t, int *tz)
{
	const char	*v;
	char		*first;

	if (!mv->sent_done) {
		mv->sent_done = 1;
		if ((v = mv_field(mv, HF_DATE)) != NULL) {
			first = first_value(v);
			mv->sent_ok = mime_parse_date(first, &mv->sent,
			    &mv->sent_tz) == 0;
			free(first);
		}
	}
	*t = mv->sent;
	*tz = mv->sent_tz;
	return mv->sent_ok ? 0 : -1;
}

/* The sent date for SORT and THREAD: Date:, else INTERNALDATE. */
static time_t
mv_sortdate(struct mview *mv)
{
	time_t	 t;
	int	 tz;

	return mv_sent(mv, &t, &tz) == 0 ? t : mv->m.internaldate;
}

/*
 * The compiled program.
 */

enum cost {
	COST_INDEX,		/* the index data */
	COST_FIELDS,		/* the usual fields: cache or header */
	COST_HEADER,		/* another field: the header */
	COST_TEXT,		/* the whole message */
};

struct snode {
	enum imap_skey	 key;
	enum cost	 cost;
	unsigned	 flag;
	int		 bit;		/* KEYWORD: -1 unknown */
	int		 dollar;	/* SEQSET, UID: "$" */
	struct imap_seqset set;
	int		 field;		/* hfield, or -1 */
	const char	*name;		/* HEADER: another field */
	char		*needle;	/* folded */
	size_t		 nlen;
	long		 day;
	uint64_t	 num;
	struct snode	*kids;
	size_t		 nkids;
};

static void
snode_free(struct snode *n)
{
	size_t	 i;

	for (i = 0; i < n->nkids; i++)
		snode_free(&n->kids[i]);
	free(n->kids);
	free(n->needle);
	imap_seqset_free(&n->set);
	memset(n, 0, sizeof(*n));
}

static int
field_of(const char *name)
{
	size_t	 i;

	for (i = 0; i < HF_N; i++)
		if (strcasecmp(name, hf_names[i]) == 0)
			return (int)i;
	return -1;
}

static void
copy_set(struct snode *n, const struct imap_seqset *in, uint32_t max)
{
	n->set = *in;
	n->set.r = NULL;
	n->set.n = 0;
	if (in->n > 0) {
		n->set.r = xreallocarray(NULL, in->n, sizeof(*n->set.r));
		memcpy(n->set.r, in->r, in->n * sizeof(*n->set.r));
		n->set.n = in->n;
	}
	imap_seqset_resolve(&n->set, max);
}

static int
compile(struct sctx *c, const struct imap_search *in, struct snode *n,
    int depth, const char **errstr)
{
	static const int	 fields[] = {
		[IMAP_SK_BCC] = HF_BCC, [IMAP_SK_CC] = HF_CC,
		[IMAP_SK_FROM] = HF_FROM, [IMAP_SK_SUBJECT] = HF_SUBJECT,
		[IMAP_SK_TO] = HF_TO,
	};
	const struct search_src	*src = c->src;
	struct snode		 tmp;
	size_t			 i, j;

	memset(n, 0, sizeof(*n));
	n->key = in->key;
	n->field = -1;
	if (depth > SEARCH_MAX_DEPTH) {
		*errstr = "search program nested too deeply";
		return -1;
	}
	switch (in->key) {
	case IMAP_SK_ALL:
		break;
	case IMAP_SK_AND:
	case IMAP_SK_OR:
	case IMAP_SK_NOT:
		if ((in->key == IMAP_SK_OR && in->nkids != 2) ||
		    (in->key == IMAP_SK_NOT && in->nkids != 1)) {
			*errstr = "malformed search program";
			return -1;
		}
		if (in->nkids == 0)
			break;
		n->kids = xcalloc(in->nkids, sizeof(*n->kids));
		for (i = 0; i < in->nkids; i++) {
			n->nkids++;
			if (compile(c, &in->kids[i], &n->kids[i], depth + 1,
			    errstr) == -1)
				return -1;
			if (n->kids[i].cost > n->cost)
				n->cost = n->kids[i].cost;
		}
		/* Cheap keys first: they may spare opening the file. */
		for (i = 1; i < n->nkids; i++) {
			tmp = n->kids[i];
			for (j = i; j > 0 && n->kids[j - 1].cost > tmp.cost;
			    j--)
				n->kids[j] = n->kids[j - 1];
			n->kids[j] = tmp;
		}
		break;
	case IMAP_SK_SEQSET:
	case IMAP_SK_UID:
		if (in->set.dollar)
			n->dollar = 1;
		else
			copy_set(n, &in->set, in->key == IMAP_SK_UID ?
			    c->maxuid : (uint32_t)(src->count > UINT32_MAX ?
			    UINT32_MAX : src->count));
		break;
	case IMAP_SK_FLAG:
		n->flag = in->flag;
		break;
	case IMAP_SK_KEYWORD:
		n->bit = -1;
		if (src->keyword != NULL && in->str != NULL)
			n->bit = src->keyword(src->arg, in->str);
		break;
	case IMAP_SK_BCC:
	case IMAP_SK_CC:
	case IMAP_SK_FROM:
	case IMAP_SK_SUBJECT:
	case IMAP_SK_TO:
	case IMAP_SK_HEADER:
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		n->needle = fold_dup(in->str != NULL ? in->str : "");
		n->nlen = strlen(n->needle);
		if (in->key == IMAP_SK_BODY || in->key == IMAP_SK_TEXT)
			n->cost = COST_TEXT;
		else if (in->key != IMAP_SK_HEADER) {
			n->field = fields[in->key];
			n->cost = COST_FIELDS;
		} else if (in->field == NULL) {
			*errstr = "malformed search program";
			return -1;
		} else if ((n->field = field_of(in->field)) != -1)
			n->cost = COST_FIELDS;
		else {
			n->name = in->field;
			n->cost = COST_HEADER;
		}
		break;
	case IMAP_SK_BEFORE:
	case IMAP_SK_ON:
	case IMAP_SK_SINCE:
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		n->day = (long)days_from_civil(in->date.year, in->date.month,
		    in->date.day);
		if (in->key == IMAP_SK_SENTBEFORE ||
		    in->key == IMAP_SK_SENTON || in->key == IMAP_SK_SENTSINCE)
			n->cost = COST_FIELDS;
		break;
	case IMAP_SK_LARGER:
	case IMAP_SK_SMALLER:
		n->num = in->num;
		break;
	case IMAP_SK_MODSEQ:
		n->num = in->num;
		c->modseq = 1;
		break;
	default:
		*errstr = "unknown search key";
		return -1;
	}
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
in_saved(const struct sctx *c, uint32_t uid)
{
	return c->nsaved > 0 && bsearch(&uid, c->saved, c->nsaved,
	    sizeof(*c->saved), cmp_u32) != NULL;
}

static int
match(const char *hay, const struct snode *n)
{
	if (hay == NULL)
		return 0;
	return n->nlen == 0 || strstr(hay, n->needle) != NULL;
}

struct textmatch {
	struct sctx		*c;
	const struct snode	*n;
};

static int
text_cb(void *arg, const char *s, size_t len)
{
	struct textmatch	*tm = arg;
	struct sctx		*c = tm->c;
	size_t			 k;

	if (len < tm->n->nlen)
		return 0;
	if (len >= c->scratch_cap) {
		free(c->scratch);
		c->scratch_cap = len + 1;
		c->scratch = xmalloc(c->scratch_cap);
	}
	k = search_fold(s, len, c->scratch);
	return memmem(c->scratch, k, tm->n->needle, tm->n->nlen) != NULL;
}

static int
eval_text(struct mview *mv, const struct snode *n)
{
	struct textmatch	 tm;
	struct mime_msg		*mm;

	if (n->nlen == 0)
		return 1;
	if ((mm = mv_full(mv)) == NULL)
		return 0;
	tm.c = mv->c;
	tm.n = n;
	return mime_text(mm, n->key == IMAP_SK_TEXT, 1, text_cb, &tm) != 0;
}

static int
eval_header(struct mview *mv, const struct snode *n)
{
	struct mime_msg	*h;
	char		*v, *dec, *f;
	int		 rc;

	if (n->field != -1)
		return match(mv_folded(mv, (enum hfield)n->field), n);
	if ((h = mv_hdr(mv)) == NULL ||
	    (v = mime_header(h, NULL, n->name, 1)) == NULL)
		return 0;
	if (n->nlen == 0) {
		free(v);
		return 1;
	}
	dec = mime_decode_header(v);
	f = fold_dup(dec != NULL ? dec : v);
	rc = strstr(f, n->needle) != NULL;
	free(f);
	free(dec);
	free(v);
	return rc;
}

/* Depth is bounded by compile(). */
static int
eval(struct mview *mv, const struct snode *n)
{
	const struct search_msg	*m = &mv->m;
	time_t			 t;
	long			 day;
	size_t			 i;
	int			 tz;

	switch (n->key) {
	case IMAP_SK_ALL:
		return 1;
	case IMAP_SK_AND:
		for (i = 0; i < n->nkids; i++)
			if (!eval(mv, &n->kids[i]))
				return 0;
		return 1;
	case IMAP_SK_OR:
		return eval(mv, &n->kids[0]) || eval(mv, &n->kids[1]);
	case IMAP_SK_NOT:
		return !eval(mv, &n->kids[0]);
	case IMAP_SK_SEQSET:
		if (n->dollar)
			return in_saved(mv->c, m->uid);
		return mv->idx < UINT32_MAX &&
		    imap_seqset_contains(&n->set, (uint32_t)mv->idx + 1);
	case IMAP_SK_UID:
		if (n->dollar)
			return in_saved(mv->c, m->uid);
		return imap_seqset_contains(&n->set, m->uid);
	case IMAP_SK_FLAG:
		return (m->flags & n->flag) != 0;
	case IMAP_SK_KEYWORD:
		return n->bit >= 0 && n->bit < 32 &&
		    (m->keywords & (1U << n->bit)) != 0;
	case IMAP_SK_BCC:
	case IMAP_SK_CC:
	case IMAP_SK_FROM:
	case IMAP_SK_SUBJECT:
	case IMAP_SK_TO:
	case IMAP_SK_HEADER:
		return eval_header(mv, n);
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		return eval_text(mv, n);
	case IMAP_SK_BEFORE:
		return time_days(m->internaldate) < n->day;
	case IMAP_SK_ON:
		return time_days(m->internaldate) == n->day;
	case IMAP_SK_SINCE:
		return time_days(m->internaldate) >= n->day;
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		/* The date as written, whatever its zone; none: 1970. */
		day = 0;
		if (mv_sent(mv, &t, &tz) == 0)
			day = time_days((long long)t + (long long)tz * 60);
		if (n->key == IMAP_SK_SENTBEFORE)
			return day < n->day;
		if (n->key == IMAP_SK_SENTON)
			return day == n->day;
		return day >= n->day;
	case IMAP_SK_LARGER:
		return m->size > n->num;
	case IMAP_SK_SMALLER:
		return m->size < n->num;
	case IMAP_SK_MODSEQ:
		return m->modseq >= n->num;
	}
	return 0;
}

static void
sctx_init(struct sctx *c, const struct search_src *src)
{
	struct search_msg	 m;
	size_t			 i;

	memset(c, 0, sizeof(*c));
	c->src = src;
	for (i = src->count; i > 0; i--)
		if (src->msg(src->arg, i - 1, &m) == 0) {
			c->maxuid = m.uid;
			break;
		}
	if (src->saved != NULL && src->nsaved > 0) {
		c->saved = xreallocarray(NULL, src->nsaved, sizeof(*c->saved));
		memcpy(c->saved, src->saved, src->nsaved * sizeof(*c->saved));
		c->nsaved = src->nsaved;
		qsort(c->saved, c->nsaved, sizeof(*c->saved), cmp_u32);
	}
}

static void
sctx_free(struct sctx *c)
{
	free(c->scratch);
	free(c->saved);
	memset(c, 0, sizeof(*c));
}

int
search_run(const struct search_src *src, const struct imap_search_prog *prog,
    struct search_result *res, const char **errstr)
{
	struct sctx	 c;
	struct snode	 root;
	struct mview	 mv;
	size_t		 i, cap = 0;

	memset(res, 0, sizeof(*res));
	sctx_init(&c, src);
	if (compile(&c, &prog->root, &root, 0, errstr) == -1) {
		snode_free(&root);
		sctx_free(&c);
		return -1;
	}
	res->modseq = c.modseq;
	for (i = 0; i < src->count; i++) {
		mv_init(&mv, &c, i);
		if (src->msg(src->arg, i, &mv.m) == 0 && eval(&mv, &root)) {
			if (res->n == cap) {
				cap = cap ? cap * 2 : 64;
				res->idx = xreallocarray(res->idx, cap,
				    sizeof(*res->idx));
			}
			res->idx[res->n++] = i;
		}
		mv_release(&mv);
	}
	snode_free(&root);
	sctx_free(&c);
	return 0;
}

void
search_result_free(struct search_result *res)
{
	free(res->idx);
	memset(res, 0, sizeof(*res));
}

/*
 * SORT (RFC 5256 3, RFC 5957).
 */

enum skey_str {
	SS_CC,
	SS_FROM,
	SS_TO,
	SS_SUBJECT,
	SS_DFROM,
	SS_DTO,
	SS_N
};

struct skeys {
	const struct imap_sort	*so;
	size_t			 idx;
	time_t			 arrival;
	time_t			 date;
	uint64_t		 size;
	char			*s[SS_N];
};

#define ADDR_LOCAL_MAX	512
#define ADDR_DISPLAY_MAX 1024

/*
 * The host of the first address, for the DISPLAY value of an address
 * without a name (RFC 5957 3: mailbox "@" host): the word after the
 * first "mailbox@" in the field.
 */
static char *
addr_spec(const char *value, const char *mailbox)
{
	const char	*p = value, *h, *e;
	size_t		 ml = strlen(mailbox);
	char		*out;

	if (ml == 0)
		return xstrdup("");
	while ((p = strstr(p, mailbox)) != NULL) {
		if (p[ml] != '@') {
			p++;
			continue;
		}
		h = p + ml + 1;
		for (e = h; *e != '\0' && strchr(" \t\r\n,;<>()\"", *e) ==
		    NULL; e++)
			;
		if (e == h)
			break;
		out = xmalloc(ml + 1 + (size_t)(e - h) + 1);
		memcpy(out, mailbox, ml);
		out[ml] = '@';
		memcpy(out + ml + 1, h, (size_t)(e - h));
		out[ml + 1 + (e - h)] = '\0';
		return out;
	}
	return xstrdup(mailbox);
}

/* The mailbox (or DISPLAY value) of the first address of a field. */
static char *
addr_key(struct mview *mv, enum hfield f, int display)
{
	const char	*v = mv_field(mv, f);
	char		*first, *out;
	char		 mailbox[ADDR_LOCAL_MAX], name[ADDR_DISPLAY_MAX];

	if (v == NULL)
		return xstrdup("");
	first = first_value(v);
	if (mime_first_address(first, mailbox, sizeof(mailbox), name,
	    sizeof(name)) == -1) {
		free(first);
		return xstrdup("");
	}
	if (!display)
		out = xstrdup(mailbox);
	else if (name[0] != '\0')
		out = xstrdup(name);
	else
		out = addr_spec(first, mailbox);
	free(first);
	return out;
}

static char *
subject_key(struct mview *mv)
{
	const char	*v = mv_field(mv, HF_SUBJECT);
	char		*first, *base;

	if (v == NULL)
		return xstrdup("");
	first = first_value(v);
	base = mime_base_subject(first);
	free(first);
	return base != NULL ? base : xstrdup("");
}

static int
sort_needs(const struct imap_sort *so, enum imap_sort_key k)
{
	size_t	 i;

	for (i = 0; i < so->nkeys; i++)
		if (so->keys[i].key == k)
			return 1;
	return 0;
}

static void
skeys_load(struct sctx *c, const struct imap_sort *so, struct skeys *k,
    size_t idx)
{
	struct mview	 mv;
	size_t		 i;

	memset(k, 0, sizeof(*k));
	k->so = so;
	k->idx = idx;
	mv_init(&mv, c, idx);
	if (c->src->msg(c->src->arg, idx, &mv.m) == 0) {
		k->arrival = mv.m.internaldate;
		k->size = mv.m.size;
		if (sort_needs(so, IMAP_SORT_DATE))
			k->date = mv_sortdate(&mv);
		if (sort_needs(so, IMAP_SORT_CC))
			k->s[SS_CC] = addr_key(&mv, HF_CC, 0);
		if (sort_needs(so, IMAP_SORT_FROM))
			k->s[SS_FROM] = addr_key(&mv, HF_FROM, 0);
		if (sort_needs(so, IMAP_SORT_TO))
			k->s[SS_TO] = addr_key(&mv, HF_TO, 0);
		if (sort_needs(so, IMAP_SORT_DISPLAYFROM))
			k->s[SS_DFROM] = addr_key(&mv, HF_FROM, 1);
		if (sort_needs(so, IMAP_SORT_DISPLAYTO))
			k->s[SS_DTO] = addr_key(&mv, HF_TO, 1);
		if (sort_needs(so, IMAP_SORT_SUBJECT))
			k->s[SS_SUBJECT] = subject_key(&mv);
	}
	mv_release(&mv);
	for (i = 0; i < SS_N; i++)
		if (k->s[i] != NULL)
			casemap(k->s[i]);
}

static int
str_cmp(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "");
}

static int
skeys_cmp(const void *pa, const void *pb)
{
	const struct skeys	*a = pa, *b = pb;
	const struct imap_sort	*so = a->so;
	size_t			 i;
	int			 r;

	for (i = 0; i < so->nkeys; i++) {
		switch (so->keys[i].key) {
		case IMAP_SORT_ARRIVAL:
			r = a->arrival < b->arrival ? -1 :
			    a->arrival > b->arrival;
			break;
		case IMAP_SORT_DATE:
			r = a->date < b->date ? -1 : a->date > b->date;
			break;
		case IMAP_SORT_SIZE:
			r = a->size < b->size ? -1 : a->size > b->size;
			break;
		case IMAP_SORT_CC:
			r = str_cmp(a->s[SS_CC], b->s[SS_CC]);
			break;
		case IMAP_SORT_FROM:
			r = str_cmp(a->s[SS_FROM], b->s[SS_FROM]);
			break;
		case IMAP_SORT_TO:
			r = str_cmp(a->s[SS_TO], b->s[SS_TO]);
			break;
		case IMAP_SORT_SUBJECT:
			r = str_cmp(a->s[SS_SUBJECT], b->s[SS_SUBJECT]);
			break;
		case IMAP_SORT_DISPLAYFROM:
			r = str_cmp(a->s[SS_DFROM], b->s[SS_DFROM]);
			break;
		case IMAP_SORT_DISPLAYTO:
			r = str_cmp(a->s[SS_DTO], b->s[SS_DTO]);
			break;
		default:
			r = 0;
			break;
		}
		if (r != 0)
			return so->keys[i].reverse ? -r : r;
	}
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

void
search_sort(const struct search_src *src, const struct imap_sort *so,
    size_t *idx, size_t n)
{
	struct sctx	 c;
	struct skeys	*k;
	size_t		 i, j;

	if (n == 0)
		return;
	sctx_init(&c, src);
	k = xcalloc(n, sizeof(*k));
	for (i = 0; i < n; i++)
		skeys_load(&c, so, &k[i], idx[i]);
	qsort(k, n, sizeof(*k), skeys_cmp);
	for (i = 0; i < n; i++) {
		idx[i] = k[i].idx;
		for (j = 0; j < SS_N; j++)
			free(k[i].s[j]);
	}
	free(k);
	sctx_free(&c);
}

/*
 * The reply indication of the RFC 5256 base subject: the extraction of
 * section 2.1 run for what it removes, not for the text (that is
 * mime_base_subject()'s).
 */

/* A subj-blob "[...]" *WSP at s[i]: the index after it, or 0. */
static size_t
subj_blob(const char *s, size_t i, size_t e)
{
	size_t	 j;

	if (i >= e || s[i] != '[')
		return 0;
	for (j = i + 1; j < e && s[j] != ']'; j++)
		if (s[j] == '[')
			return 0;
	if (j >= e)
		return 0;
	for (j++; j < e && s[j] == ' '; j++)
		;
	return j;
}

/* A subj-refwd ("re" / "fw" / "fwd") *WSP [subj-blob] ":" at s[i]. */
static size_t
subj_refwd(const char *s, size_t i, size_t e)
{
	static const char *const words[] = { "fwd", "fw", "re" };
	size_t			 w, j, l, k;

	for (w = 0; w < nitems(words); w++) {
		l = strlen(words[w]);
		if (e - i < l || strncasecmp(s + i, words[w], l) != 0)
			continue;
		for (j = i + l; j < e && s[j] == ' '; j++)
			;
		if ((k = subj_blob(s, j, e)) != 0)
			j = k;
		if (j < e && s[j] == ':')
			return j + 1;
	}
	return 0;
}

int
search_subject_is_reply(const char *subj)
{
	char	*s = xmalloc(strlen(subj) + 1);
	size_t	 b = 0, e = 0, q, r;
	int	 reply = 0, again;

	/* (1) White space as single spaces. */
	for (; *subj != '\0'; subj++) {
		if (*subj == '\t' || *subj == '\r' || *subj == '\n' ||
		    *subj == ' ') {
			if (e > 0 && s[e - 1] == ' ')
				continue;
			s[e++] = ' ';
		} else
			s[e++] = *subj;
	}
	s[e] = '\0';
	for (;;) {
		/* (2) subj-trailer: "(fwd)" and white space. */
		for (;;) {
			while (e > b && s[e - 1] == ' ')
				e--;
			if (e - b >= 5 && strncasecmp(s + e - 5, "(fwd)", 5) ==
			    0) {
				e -= 5;
				reply = 1;
				continue;
			}
			break;
		}
		do {
			again = 0;
			/* (3) subj-leader: blobs and "Re:", white space. */
			for (;;) {
				if (b < e && s[b] == ' ') {
					b++;
					continue;
				}
				for (q = b; (r = subj_blob(s, q, e)) != 0;)
					q = r;
				if ((r = subj_refwd(s, q, e)) != 0) {
					b = r;
					reply = 1;
					continue;
				}
				break;
			}
			/* (4) A blob before a non-empty rest. */
			if ((r = subj_blob(s, b, e)) != 0 && r < e) {
				b = r;
				again = 1;
			}
		} while (again);
		/* (6) "[fwd: ... ]" */
		if (e - b >= 6 && strncasecmp(s + b, "[fwd:", 5) == 0 &&
		    s[e - 1] == ']') {
			b += 5;
			e--;
			reply = 1;
			continue;
		}
		break;
	}
	free(s);
	return reply;
}

/*
 * THREAD (RFC 5256 2.1, 2.2).
 */

#define NONE	(-1)

struct tnode {
	int32_t		 parent;
	int32_t		 child;		/* first child */
	int32_t		 prev;		/* siblings */
	int32_t		 next;
	int32_t		 msg;		/* tmsg, or NONE for a dummy */
	int32_t		 nkids;		/* step 1: nodes it is parent of */
};

struct tmsg {
	size_t		 idx;
	uint32_t	 uid;
	time_t		 date;
	char		*subject;	/* base subject, i;ascii-casemap */
	int		 reply;
	char		*id;		/* Message-ID, NULL if none */
	char		**refs;		/* parents, oldest first */
	size_t		 nrefs;
};

struct thr {
	struct tmsg	*m;
	size_t		 nm;
	struct tnode	*nd;
	size_t		 nnd;
	size_t		 capnd;
	size_t		 walk;		/* loop-check steps left */
	size_t		 idbytes;	/* bytes of ids kept */
	char		**ids;		/* owned by the id table */
	size_t		 nids;
	size_t		 capids;
};

static int32_t
tnew(struct thr *t, int32_t msg)
{
	struct tnode	*n;

	if (t->nnd == t->capnd) {
		t->capnd = t->capnd ? t->capnd * 2 : 256;
		t->nd = xreallocarray(t->nd, t->capnd, sizeof(*t->nd));
	}
	n = &t->nd[t->nnd];
	n->parent = n->child = n->prev = n->next = NONE;
	n->msg = msg;
	n->nkids = 0;
	return (int32_t)t->nnd++;
}

static void
tkeep_id(struct thr *t, char *id)
{
	if (t->nids == t->capids) {
		t->capids = t->capids ? t->capids * 2 : 256;
		t->ids = xreallocarray(t->ids, t->capids, sizeof(*t->ids));
	}
	t->ids[t->nids++] = id;
}

/* Free the ids of refs[0 .. n). */
static void
free_ids(char **ids, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

static void
tmsg_load(struct sctx *c, struct tmsg *tm, size_t idx, int refs)
{
	struct mview	 mv;
	const char	*v;
	char		*first, *dec, **ids = NULL;
	size_t		 n, i, skip;

	memset(tm, 0, sizeof(*tm));
	tm->idx = idx;
	mv_init(&mv, c, idx);
	if (c->src->msg(c->src->arg, idx, &mv.m) == -1) {
		tm->subject = xstrdup("");
		mv_release(&mv);
		return;
	}
	tm->uid = mv.m.uid;
	tm->date = mv_sortdate(&mv);
	tm->subject = subject_key(&mv);
	casemap(tm->subject);
	if ((v = mv_field(&mv, HF_SUBJECT)) != NULL) {
		first = first_value(v);
		dec = mime_decode_header(first);
		tm->reply = search_subject_is_reply(dec != NULL ? dec :
		    first);
		free(dec);
		free(first);
	}
	if (refs) {
		if ((v = mv_field(&mv, HF_MSGID)) != NULL &&
		    (n = mime_msgids(v, &ids)) > 0) {
			tm->id = ids[0];
			ids[0] = NULL;
			free_ids(ids, n);
		}
		/* References, else the first valid id of In-Reply-To. */
		ids = NULL;
		n = 0;
		if ((v = mv_field(&mv, HF_REFS)) != NULL)
			n = mime_msgids(v, &ids);
		if (n == 0 && (v = mv_field(&mv, HF_IRT)) != NULL &&
		    (n = mime_msgids(v, &ids)) > 1) {
			for (i = 1; i < n; i++)
				free(ids[i]);
			n = 1;
		}
		if (n > SEARCH_THREAD_MAX_REFS) {
			skip = n - SEARCH_THREAD_MAX_REFS;
			for (i = 0; i < skip; i++)
				free(ids[i]);
			memmove(ids, ids + skip,
			    SEARCH_THREAD_MAX_REFS * sizeof(*ids));
			n = SEARCH_THREAD_MAX_REFS;
		}
		tm->refs = ids;
		tm->nrefs = n;
	}
	mv_release(&mv);
}

/*
 * 1 if a is b or one of its ancestors (or the budget is spent). A node
 * without children is nobody's ancestor: the usual case costs nothing.
 */
static int
tancestor(struct thr *t, int32_t a, int32_t b)
{
	if (a != b && t->nd[a].nkids == 0)
		return 0;
	for (; b != NONE; b = t->nd[b].parent) {
		if (b == a)
			return 1;
		if (t->walk == 0)
			return 1;
		t->walk--;
	}
	return 0;
}

/* The container of id, made (a dummy) if need be; NONE if over budget. */
static int32_t
tcontainer(struct thr *t, struct stab *ids, char **idp)
{
	int32_t	 k;
	size_t	 len;

	if ((k = stab_get(ids, *idp)) != NONE)
		return k;
	/* The id and what its container and slot cost. */
	len = strlen(*idp) + 1 + 64;
	if (len > SEARCH_THREAD_IDS_MAX - t->idbytes)
		return NONE;
	t->idbytes += len;
	k = tnew(t, NONE);
	stab_put(ids, *idp, k);
	tkeep_id(t, *idp);
	*idp = NULL;		/* the table has it now */
	return k;
}

static void
tset_parent(struct thr *t, int32_t c, int32_t parent)
{
	if (t->nd[c].parent != NONE)
		t->nd[t->nd[c].parent].nkids--;
	t->nd[c].parent = parent;
	if (parent != NONE)
		t->nd[parent].nkids++;
}

/* Step 1: parents from the references, in the order of the messages. */
static void
tlink(struct thr *t, struct stab *ids)
{
	struct tmsg	*tm;
	int32_t		 self, prev, cur, k;
	size_t		 i, j;

	for (i = 0; i < t->nm; i++) {
		tm = &t->m[i];
		/* (A) Its container; no id or a duplicate: a new one. */
		self = NONE;
		if (tm->id != NULL) {
			if ((k = stab_get(ids, tm->id)) == NONE)
				k = tcontainer(t, ids, &tm->id);
			else if (t->nd[k].msg != NONE)
				k = NONE;
			if (k != NONE) {
				self = k;
				t->nd[k].msg = (int32_t)i;
			}
		}
		if (self == NONE)
			self = tnew(t, (int32_t)i);
		/* (B) Link the references in their order. */
		prev = NONE;
		for (j = 0; j < tm->nrefs; j++) {
			cur = tcontainer(t, ids, &tm->refs[j]);
			if (cur == NONE)
				continue;
			if (prev != NONE && prev != cur &&
			    t->nd[cur].parent == NONE &&
			    !tancestor(t, cur, prev))
				tset_parent(t, cur, prev);
			prev = cur;
		}
		/* (C) The last reference is the parent, if no loop. */
		if (prev != NONE && t->nd[self].parent == prev)
			continue;
		tset_parent(t, self, NONE);
		if (prev != NONE && prev != self && !tancestor(t, self, prev))
			tset_parent(t, self, prev);
	}
}

static void
tappend(struct thr *t, int32_t parent, int32_t c)
{
	int32_t	 last;

	t->nd[c].parent = parent;
	t->nd[c].next = NONE;
	if ((last = t->nd[parent].child) == NONE) {
		t->nd[parent].child = c;
		t->nd[c].prev = NONE;
		return;
	}
	while (t->nd[last].next != NONE)
		last = t->nd[last].next;
	t->nd[last].next = c;
	t->nd[c].prev = last;
}

static void
tunlink(struct thr *t, int32_t c)
{
	struct tnode	*n = &t->nd[c];

	if (n->prev != NONE)
		t->nd[n->prev].next = n->next;
	else if (n->parent != NONE)
		t->nd[n->parent].child = n->next;
	if (n->next != NONE)
		t->nd[n->next].prev = n->prev;
	n->parent = n->prev = n->next = NONE;
}

/* Put the children of d in d's place among its siblings. */
static void
tsplice(struct thr *t, int32_t d)
{
	struct tnode	*n = &t->nd[d];
	int32_t		 first = n->child, last = NONE, c;

	for (c = first; c != NONE; c = t->nd[c].next) {
		t->nd[c].parent = n->parent;
		last = c;
	}
	if (first == NONE) {
		tunlink(t, d);
		return;
	}
	t->nd[first].prev = n->prev;
	t->nd[last].next = n->next;
	if (n->prev != NONE)
		t->nd[n->prev].next = first;
	else
		t->nd[n->parent].child = first;
	if (n->next != NONE)
		t->nd[n->next].prev = last;
	n->child = n->parent = n->prev = n->next = NONE;
}

/* The nodes under root, each after all of its descendants. */
static int32_t *
tpostorder(struct thr *t, int32_t root, size_t *np)
{
	int32_t	*order, *stack, x, c;
	size_t	 n = 0, sp = 0;

	order = xreallocarray(NULL, t->nnd, sizeof(*order));
	stack = xreallocarray(NULL, t->nnd, sizeof(*stack));
	stack[sp++] = root;
	while (sp > 0) {
		x = stack[--sp];
		order[n++] = x;
		for (c = t->nd[x].child; c != NONE; c = t->nd[c].next)
			stack[sp++] = c;
	}
	free(stack);
	/* Reversed preorder: children come before their parent. */
	for (sp = 0; sp < n / 2; sp++) {
		x = order[sp];
		order[sp] = order[n - 1 - sp];
		order[n - 1 - sp] = x;
	}
	*np = n;
	return order;
}

/* Step 4: drop dummies without children, promote the children of the
 * others (at the top only when there is one). */
static void
tprune(struct thr *t, int32_t root)
{
	int32_t	*order, p, c, next;
	size_t	 n, i, kids;

	order = tpostorder(t, root, &n);
	for (i = 0; i < n; i++) {
		p = order[i];
		for (c = t->nd[p].child; c != NONE; c = next) {
			next = t->nd[c].next;
			if (t->nd[c].msg != NONE)
				continue;
			if (t->nd[c].child == NONE) {
				tunlink(t, c);
				continue;
			}
			kids = 0;
			for (next = t->nd[c].child; next != NONE && kids < 2;
			    next = t->nd[next].next)
				kids++;
			next = t->nd[c].next;
			if (p != root || kids == 1)
				tsplice(t, c);
		}
	}
	free(order);
}

/* The message that dates a node: itself, or a dummy's first child. */
static const struct tmsg *
tdating(const struct thr *t, int32_t x)
{
	size_t	 guard = 0;

	while (t->nd[x].msg == NONE && t->nd[x].child != NONE &&
	    guard++ < t->nnd)
		x = t->nd[x].child;
	return t->nd[x].msg != NONE ? &t->m[t->nd[x].msg] : NULL;
}

struct tsortent {
	const struct tmsg	*m;
	int32_t			 node;
};

static int
tsort_cmp(const void *pa, const void *pb)
{
	const struct tsortent	*a = pa, *b = pb;

	if (a->m == NULL || b->m == NULL)
		return (a->m == NULL) - (b->m == NULL);
	if (a->m->date != b->m->date)
		return a->m->date < b->m->date ? -1 : 1;
	return a->m->idx < b->m->idx ? -1 : a->m->idx > b->m->idx;
}

/* Sort the children of p by sent date (then sequence number). */
static void
tsort_children(struct thr *t, int32_t p, struct tsortent **buf,
    size_t *cap)
{
	int32_t	 c;
	size_t	 n = 0, i;

	for (c = t->nd[p].child; c != NONE; c = t->nd[c].next) {
		if (n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*buf = xreallocarray(*buf, *cap, sizeof(**buf));
		}
		(*buf)[n].m = tdating(t, c);
		(*buf)[n++].node = c;
	}
	if (n < 2)
		return;
	qsort(*buf, n, sizeof(**buf), tsort_cmp);
	t->nd[p].child = (*buf)[0].node;
	for (i = 0; i < n; i++) {
		t->nd[(*buf)[i].node].prev = i > 0 ? (*buf)[i - 1].node : NONE;
		t->nd[(*buf)[i].node].next = i + 1 < n ? (*buf)[i + 1].node :
		    NONE;
	}
}

static const char *
tsubject(const struct thr *t, int32_t x, int *reply)
{
	const struct tmsg	*m = tdating(t, x);

	*reply = m != NULL ? m->reply : 0;
	return m != NULL ? m->subject : "";
}

/* Step 6: threads of the same base subject together. */
static void
tmerge_subjects(struct thr *t, int32_t root)
{
	struct stab	 subj;
	const char	*s;
	int32_t		 r, next, k, d, c, cnext;
	int		 rreply, kreply;

	stab_init(&subj);
	for (r = t->nd[root].child; r != NONE; r = t->nd[r].next) {
		if (*(s = tsubject(t, r, &rreply)) == '\0')
			continue;
		if ((k = stab_get(&subj, s)) == NONE)
			stab_put(&subj, s, r);
		else if (t->nd[k].msg != NONE && (t->nd[r].msg == NONE ||
		    (t->m[t->nd[k].msg].reply && !rreply)))
			stab_put(&subj, s, r);
	}
	for (r = t->nd[root].child; r != NONE; r = next) {
		next = t->nd[r].next;
		if (*(s = tsubject(t, r, &rreply)) == '\0')
			continue;
		if ((k = stab_get(&subj, s)) == NONE || k == r)
			continue;
		kreply = t->nd[k].msg != NONE ? t->m[t->nd[k].msg].reply : 0;
		if (t->nd[k].msg == NONE && t->nd[r].msg == NONE) {
			/* (i) both dummies: one set of children */
			for (c = t->nd[r].child; c != NONE; c = cnext) {
				cnext = t->nd[c].next;
				tunlink(t, c);
				tappend(t, k, c);
			}
			tunlink(t, r);
		} else if (t->nd[k].msg == NONE ||
		    (rreply && !kreply && t->nd[r].msg != NONE)) {
			/* (ii), (iii): under the one in the table */
			tunlink(t, r);
			tappend(t, k, r);
		} else {
			/* (iv) both under a new dummy, in k's place */
			d = tnew(t, NONE);
			t->nd[d].parent = root;
			t->nd[d].prev = t->nd[k].prev;
			t->nd[d].next = t->nd[k].next;
			if (t->nd[k].prev != NONE)
				t->nd[t->nd[k].prev].next = d;
			else
				t->nd[root].child = d;
			if (t->nd[k].next != NONE)
				t->nd[t->nd[k].next].prev = d;
			t->nd[k].parent = t->nd[k].prev = t->nd[k].next = NONE;
			if (next == k)
				next = d;
			tunlink(t, r);
			tappend(t, d, k);
			tappend(t, d, r);
			stab_put(&subj, s, d);
		}
	}
	stab_free(&subj);
}

static int
tout_num(struct buf *b, const struct thr *t, int32_t x, int uid)
{
	const struct tmsg	*m = &t->m[t->nd[x].msg];

	if (uid)
		return buf_printf(b, "%u", m->uid);
	return buf_printf(b, "%zu", m->idx + 1);
}

/*
 * "(a b (c d)(e))": a node, then its only child inline, or each of its
 * children in parentheses. Iterative: a thread may be as deep as the
 * folder is large.
 */
static int
trender(struct thr *t, int32_t root, int uid, struct buf *b)
{
	int32_t	*stack, r, x, c;
	size_t	 sp;
	int	 first, rc = 0;

	stack = xreallocarray(NULL, t->nnd + 1, sizeof(*stack));
	for (r = t->nd[root].child; r != NONE; r = t->nd[r].next) {
		rc |= buf_addc(b, '(');
		x = r;
		sp = 0;
		for (;;) {
			first = 1;
			while (x != NONE) {
				if (t->nd[x].msg != NONE) {
					if (!first)
						rc |= buf_addc(b, ' ');
					rc |= tout_num(b, t, x, uid);
					first = 0;
				}
				if ((c = t->nd[x].child) == NONE)
					break;
				if (t->nd[c].next == NONE &&
				    t->nd[x].msg != NONE) {
					x = c;
					continue;
				}
				if (!first)
					rc |= buf_addc(b, ' ');
				rc |= buf_addc(b, '(');
				stack[sp++] = t->nd[c].next;
				x = c;
				first = 1;
			}
			/* Close the groups that are done, open the next. */
			x = NONE;
			while (sp > 0) {
				rc |= buf_addc(b, ')');
				if ((x = stack[--sp]) != NONE) {
					rc |= buf_addc(b, '(');
					stack[sp++] = t->nd[x].next;
					break;
				}
			}
			if (x == NONE)
				break;
		}
		rc |= buf_addc(b, ')');
		if (rc != 0)
			break;
	}
	free(stack);
	return rc != 0 ? -1 : 0;
}

static void
tsort_all(struct thr *t, int32_t root)
{
	struct tsortent	*buf = NULL;
	int32_t		*order;
	size_t		 n, i, cap = 0;

	order = tpostorder(t, root, &n);
	for (i = 0; i < n; i++)
		tsort_children(t, order[i], &buf, &cap);
	free(order);
	free(buf);
}

static void
thread_references(struct thr *t, int32_t root)
{
	struct stab	 ids;
	struct tsortent	*buf = NULL;
	int32_t		 x, next;
	size_t		 i, cap = 0;

	stab_init(&ids);
	tlink(t, &ids);
	/* (2) The roots under one node; children lists from parents. */
	for (x = 1; (size_t)x < t->nnd; x++) {
		if (t->nd[x].parent == NONE)
			t->nd[x].parent = root;
	}
	for (x = (int32_t)t->nnd - 1; x >= 1; x--) {
		next = t->nd[t->nd[x].parent].child;
		t->nd[x].next = next;
		t->nd[x].prev = NONE;
		if (next != NONE)
			t->nd[next].prev = x;
		t->nd[t->nd[x].parent].child = x;
	}
	/* (3) The id table goes. */
	stab_free(&ids);
	for (i = 0; i < t->nids; i++)
		free(t->ids[i]);
	free(t->ids);
	t->ids = NULL;
	t->nids = t->capids = 0;
	/* (4) */
	tprune(t, root);
	/* (5) Top level by date, a dummy by its first child. */
	for (x = t->nd[root].child; x != NONE; x = t->nd[x].next)
		if (t->nd[x].msg == NONE)
			tsort_children(t, x, &buf, &cap);
	tsort_children(t, root, &buf, &cap);
	free(buf);
	/* (6) */
	tmerge_subjects(t, root);
	/* (7) */
	tsort_all(t, root);
}

static int
osubj_cmp(const void *pa, const void *pb)
{
	const struct tmsg	*a = *(const struct tmsg *const *)pa;
	const struct tmsg	*b = *(const struct tmsg *const *)pb;
	int			 r;

	if ((r = strcmp(a->subject, b->subject)) != 0)
		return r;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* ORDEREDSUBJECT: by base subject, then date; the first is the parent. */
static void
thread_orderedsubject(struct thr *t, int32_t root)
{
	struct tmsg	**v;
	struct tsortent	*buf = NULL;
	int32_t		 head = NONE, x;
	size_t		 i, cap = 0;

	v = xreallocarray(NULL, t->nm, sizeof(struct tmsg *));
	for (i = 0; i < t->nm; i++)
		v[i] = &t->m[i];
	qsort(v, t->nm, sizeof(struct tmsg *), osubj_cmp);
	for (i = 0; i < t->nm; i++) {
		x = tnew(t, (int32_t)(v[i] - t->m));
		if (i > 0 && head != NONE &&
		    strcmp(v[i]->subject, v[i - 1]->subject) == 0)
			tappend(t, head, x);
		else {
			tappend(t, root, x);
			head = x;
		}
	}
	free(v);
	tsort_children(t, root, &buf, &cap);
	free(buf);
}

int
search_thread(const struct search_src *src, enum imap_thread_alg alg,
    const size_t *idx, size_t n, int uid, struct buf *b)
{
	struct sctx	 c;
	struct thr	 t;
	int32_t		 root;
	size_t		 i;
	int		 rc;

	if (n == 0)
		return 0;
	if (n >= INT32_MAX / 4)
		return -1;
	sctx_init(&c, src);
	memset(&t, 0, sizeof(t));
	t.walk = SEARCH_THREAD_WALK;
	t.nm = n;
	t.m = xcalloc(n, sizeof(*t.m));
	for (i = 0; i < n; i++)
		tmsg_load(&c, &t.m[i], idx[i], alg == IMAP_THREAD_REFERENCES);
	root = tnew(&t, NONE);
	if (alg == IMAP_THREAD_REFERENCES)
		thread_references(&t, root);
	else
		thread_orderedsubject(&t, root);
	rc = trender(&t, root, uid, b);
	for (i = 0; i < n; i++) {
		free(t.m[i].subject);
		free(t.m[i].id);
		free_ids(t.m[i].refs, t.m[i].nrefs);
	}
	free(t.m);
	free(t.nd);
	sctx_free(&c);
	return rc;
}
