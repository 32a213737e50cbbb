/*
 * S/MIME with OpenSSL's CMS (smime.h).
 *
 * The header block is split into the MIME content fields, which go
 * inside the signed or encrypted entity, and the rest, which stays
 * outside. Line ends are made CRLF first: the signature covers the
 * canonical form (RFC 8551 3.1.1), and CMS_BINARY keeps OpenSSL from
 * translating anything again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "entity.h"
#include "log.h"
#include "mime.h"
#include "mime7bit.h"
#include "smime.h"
#include "util.h"

#define SMIME_PREAMBLE	"This is a cryptographically signed message in MIME" \
			" format.\r\n\r\n"

/* The DER of cms as base64, lines of 64, CRLF ends, appended to out:
 * what OpenSSL's base64 BIO writes, without its BIO chain and copies. */
static int
add_cms_base64(struct buf *out, CMS_ContentInfo *cms)
{
	unsigned char	*der = NULL;
	char		 line[64 + 1];
	int		 len, i, n, rc = -1;

	if ((len = i2d_CMS_ContentInfo(cms, &der)) <= 0)
		return -1;
	for (i = 0; i < len; i += 48) {
		n = len - i < 48 ? len - i : 48;
		if (EVP_EncodeBlock((unsigned char *)line, der + i, n) <= 0 ||
		    buf_add(out, line, (size_t)(n + 2) / 3 * 4) == -1 ||
		    buf_add(out, "\r\n", 2) == -1)
			goto done;
	}
	rc = 0;
done:
	OPENSSL_free(der);
	return rc;
}

/* The CMS structure in a base64 body (line breaks and spaces allowed). */
static CMS_ContentInfo *
cms_from_base64(const char *p, size_t len)
{
	CMS_ContentInfo	*cms;
	BIO		*b64, *mem;

	if (len > INT32_MAX || (b64 = BIO_new(BIO_f_base64())) == NULL)
		return NULL;
	if ((mem = BIO_new_mem_buf(p, (int)len)) == NULL) {
		BIO_free(b64);
		return NULL;
	}
	b64 = BIO_push(b64, mem);
	cms = d2i_CMS_bio(b64, NULL);
	BIO_free_all(b64);
	return cms;
}

/* Each byte's value in base64, -1 if none. */
static const int8_t b64_values[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/*
 * Base64 as mail clients write it, decoded into out (room for len / 4 *
 * 3 bytes): lines of at most 76 characters of the alphabet ending in
 * CRLF or LF (the last may not), '=' only to pad the last group, then
 * nothing but line ends. Its length, or -1 for anything else, which
 * the base64 BIO reads as it always did. For this form both give the
 * same bytes; OpenSSL's decoder takes about 2.5 ns a character.
 */
static long
unbase64_plain(const char *p, size_t len, unsigned char *out)
{
	const unsigned char	*s = (const unsigned char *)p, *end = s + len;
	unsigned long		 acc = 0;
	size_t			 n = 0, col = 0;
	int			 k = 0, pad = 0, v, lines = 0;

	for (; s < end; s++) {
		/* A table, not comparisons: ciphertext characters are
		 * random, and a branch per class mispredicts. */
		if ((v = b64_values[*s]) >= 0 && pad == 0 && ++col <= 76) {
			acc = acc << 6 | (unsigned long)v;
			if (++k == 4) {
				out[n++] = (unsigned char)(acc >> 16);
				out[n++] = (unsigned char)(acc >> 8);
				out[n++] = (unsigned char)acc;
				acc = 0;
				k = 0;
			}
			continue;
		}
		if (*s == '\r' && s + 1 < end && s[1] == '\n')
			continue;
		if (*s == '\n') {
			lines += col > 0;
			col = 0;
			continue;
		}
		/* xx== or xxx=: the last group, nothing after it. */
		if (*s != '=' || ++col > 76 || k < 2 || k + ++pad > 4)
			return -1;
	}
	/* The BIO wants its first line ended. */
	if (lines == 0 || (pad > 0 && k + pad != 4))
		return -1;
	if (k == 2 && pad == 2)
		out[n++] = (unsigned char)(acc >> 4);
	else if (k == 3 && pad == 1) {
		out[n++] = (unsigned char)(acc >> 10);
		out[n++] = (unsigned char)(acc >> 2);
	} else if (k != 0)
		return -1;
	return (long)n;
}

/* The base64 body decoded as cms_from_base64() reads it (malloc'd), or
 * NULL if it does not decode to the end. */
static unsigned char *
unbase64(const char *p, size_t len, size_t *outlen)
{
	BIO		*b64, *mem;
	unsigned char	*out;
	size_t		 cap = len / 4 * 3 + 4, n = 0;
	long		 plain;
	int		 r;

	if (len > INT32_MAX || (out = malloc(cap)) == NULL)
		return NULL;
	if ((plain = unbase64_plain(p, len, out)) > 0) {
		*outlen = (size_t)plain;
		return out;
	}
	if ((b64 = BIO_new(BIO_f_base64())) == NULL ||
	    (mem = BIO_new_mem_buf(p, (int)len)) == NULL) {
		BIO_free(b64);
		free(out);
		return NULL;
	}
	b64 = BIO_push(b64, mem);
	while (n < cap && (r = BIO_read(b64, out + n, (int)(cap - n))) > 0)
		n += (size_t)r;
	/* EOF, not an error, and nothing past what base64 can hold. */
	if (n == 0 || n == cap || !BIO_eof(mem) || BIO_pending(b64) > 0) {
		free(out);
		out = NULL;
	}
	BIO_free_all(b64);
	*outlen = n;
	return out;
}

/*
 * Certificates by their DER, as parsed: every signed message carries
 * its signer's, and OpenSSL 3.0 takes about 90 us to parse one (its
 * decoders for the public key), a fifth of a verification. A message's
 * certificates are looked up by their exact bytes (a certificate that
 * differs in any byte is another entry), the CMS structure is parsed
 * without them and they are added back, the same objects in the same
 * order. Anything unusual (indefinite lengths, other certificate
 * types, a duplicate, too many or too large) takes the plain parse.
 */
#define PARSED_CACHE	128
#define PARSED_MAX	(16 * 1024)	/* larger: parsed each time */
#define PARSED_PER_MSG	16

struct parsed {
	unsigned char	*der;		/* NULL: a free slot */
	size_t		 len;
	X509		*x;
	unsigned long	 used;
};

static struct parsed	 parsed[PARSED_CACHE];
static unsigned long	 parsed_clock;

/* The certificate whose DER is der (one reference for the caller). */
static X509 *
parsed_get(const unsigned char *der, size_t len)
{
	struct parsed		*c = &parsed[0];
	const unsigned char	*q = der;
	X509			*x;
	size_t			 i;

	for (i = 0; i < PARSED_CACHE; i++) {
		if (parsed[i].der != NULL && parsed[i].len == len &&
		    memcmp(parsed[i].der, der, len) == 0) {
			parsed[i].used = ++parsed_clock;
			return X509_up_ref(parsed[i].x) == 1 ? parsed[i].x :
			    NULL;
		}
		if (parsed[i].used < c->used)
			c = &parsed[i];
	}
	if ((x = d2i_X509(NULL, &q, (long)len)) == NULL || q != der + len) {
		X509_free(x);
		return NULL;
	}
	/* The least recently used makes room. */
	free(c->der);
	X509_free(c->x);
	memset(c, 0, sizeof(*c));
	if ((c->der = malloc(len)) != NULL && X509_up_ref(x) == 1) {
		memcpy(c->der, der, len);
		c->len = len;
		c->x = x;
		c->used = ++parsed_clock;
	} else {
		free(c->der);
		c->der = NULL;
	}
	return x;
}

/* A DER header at *p (before end): tag and a definite length that fits;
 * *p moves to the value. -1 otherwise. */
static int
der_header(const unsigned char **p, const unsigned char *end, int tag,
    size_t *len)
{
	const unsigned char	*q = *p;
	size_t			 n, l = 0;

	if (end - q < 2 || q[0] != tag)
		return -1;
	if (q[1] < 0x80) {
		l = q[1];
		q += 2;
	} else {
		/* 0x80 (indefinite) and lengths past 4 bytes: not here. */
		if ((n = q[1] & 0x7f) == 0 || n > 4 ||
		    (size_t)(end - q) < 2 + n)
			return -1;
		for (q += 2; n > 0; n--)
			l = l << 8 | *q++;
	}
	if (l > (size_t)(end - q))
		return -1;
	*p = q;
	*len = l;
	return 0;
}

/* Past a whole DER element of tag at *p: 0, or -1. */
static int
der_skip(const unsigned char **p, const unsigned char *end, int tag)
{
	size_t	 len;

	if (der_header(p, end, tag, &len) == -1)
		return -1;
	*p += len;
	return 0;
}

/* The DER header for tag and len (its size), at out unless NULL. */
static size_t
der_put_header(unsigned char *out, int tag, size_t len)
{
	size_t	 n = 0, i;

	if (len < 0x80) {
		if (out != NULL) {
			out[0] = (unsigned char)tag;
			out[1] = (unsigned char)len;
		}
		return 2;
	}
	for (i = len; i > 0; i >>= 8)
		n++;
	if (out != NULL) {
		out[0] = (unsigned char)tag;
		out[1] = (unsigned char)(0x80 | n);
		for (i = 0; i < n; i++)
			out[2 + i] = (unsigned char)(len >> (8 * (n - 1 - i)));
	}
	return 2 + n;
}

/*
 * A CMS ContentInfo from DER; a SignedData's certificates from the
 * cache. NULL when OpenSSL's parse of der fails.
 */
static CMS_ContentInfo *
cms_d2i_cached(const unsigned char *der, size_t len)
{
	static const unsigned char signed_data[] = { 0x2a, 0x86, 0x48, 0x86,
	    0xf7, 0x0d, 0x01, 0x07, 0x02 };	/* 1.2.840.113549.1.7.2 */
	const unsigned char	*p = der, *end, *ci, *sd, *certs, *cend, *e;
	CMS_ContentInfo		*cms = NULL;
	X509			*xs[PARSED_PER_MSG];
	unsigned char		*out = NULL, *o;
	size_t			 l, ci_len, a0_len, sd_len, certs_len;
	size_t			 head, oid_len, nx = 0, i;

	/* ContentInfo { signedData, [0] SignedData { version,
	 * digestAlgorithms, encapContentInfo, [0] certificates, ... } } */
	if (der_header(&p, der + len, 0x30, &ci_len) == -1)
		goto plain;
	ci = p;
	end = p + ci_len;
	if (der_header(&p, end, 0x06, &l) == -1 || l != sizeof(signed_data) ||
	    memcmp(p, signed_data, l) != 0)
		goto plain;
	p += l;
	oid_len = (size_t)(p - ci);
	if (der_header(&p, end, 0xa0, &a0_len) == -1 || p + a0_len != end ||
	    der_header(&p, end, 0x30, &sd_len) == -1 || p + sd_len != end)
		goto plain;
	sd = p;
	if (der_skip(&p, end, 0x02) == -1 || der_skip(&p, end, 0x31) == -1 ||
	    der_skip(&p, end, 0x30) == -1)
		goto plain;
	certs = p;
	if (der_header(&p, end, 0xa0, &l) == -1 || l == 0)
		goto plain;
	cend = p + l;
	certs_len = (size_t)(cend - certs);
	while (p < cend) {
		e = p;
		if (nx == PARSED_PER_MSG ||
		    der_header(&p, cend, 0x30, &l) == -1 ||
		    (size_t)(p + l - e) > PARSED_MAX ||
		    (xs[nx] = parsed_get(e, (size_t)(p + l - e))) == NULL)
			goto plain;
		nx++;
		p += l;
	}
	/* The same DER without the certificates: headers for the new
	 * lengths, then the SignedData's fields around the set. */
	if ((out = malloc(len)) == NULL)
		goto plain;
	sd_len -= certs_len;
	a0_len = sd_len + der_put_header(NULL, 0x30, sd_len);
	ci_len = oid_len + a0_len + der_put_header(NULL, 0xa0, a0_len);
	o = out + der_put_header(out, 0x30, ci_len);
	memcpy(o, ci, oid_len);
	o += oid_len;
	o += der_put_header(o, 0xa0, a0_len);
	o += der_put_header(o, 0x30, sd_len);
	head = (size_t)(certs - sd);
	memcpy(o, sd, head);
	o += head;
	memcpy(o, cend, (size_t)(end - cend));
	o += end - cend;
	p = out;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)(o - out))) == NULL)
		goto plain;
	for (i = 0; i < nx; i++)
		if (CMS_add1_cert(cms, xs[i]) != 1)
			goto plain;
	goto done;
plain:
	CMS_ContentInfo_free(cms);
	p = der;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
done:
	for (i = 0; i < nx; i++)
		X509_free(xs[i]);
	free(out);
	return cms;
}

/*
 * The ciphers we take, in the order we prefer them (RFC 8551 2.5.2),
 * and RSAES-OAEP: a correspondent that keeps them can answer with
 * AES-GCM and OAEP.
 */
static int
add_capabilities(CMS_SignerInfo *si)
{
	static const int	 nids[] = { NID_aes_256_gcm, NID_aes_128_gcm,
	    NID_aes_256_cbc, NID_aes_128_cbc, NID_rsaesOaep };
	STACK_OF(X509_ALGOR)	*algs = NULL;
	size_t			 i;
	int			 rc = -1;

	for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++)
		if (CMS_add_simple_smimecap(&algs, nids[i], -1) != 1)
			goto done;
	if (CMS_add_smimecap(si, algs) == 1)
		rc = 0;
done:
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	return rc;
}

/* What the signer says it takes (its SMIMECapabilities): SMIME_CAP_*. */
static unsigned
signer_caps(CMS_SignerInfo *si)
{
	STACK_OF(X509_ALGOR)	*algs;
	X509_ATTRIBUTE		*attr;
	ASN1_TYPE		*t;
	const unsigned char	*p;
	unsigned		 caps = 0;
	int			 i, nid;

	if ((i = CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities,
	    -1)) < 0 || (attr = CMS_signed_get_attr(si, i)) == NULL ||
	    (t = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL ||
	    t->type != V_ASN1_SEQUENCE)
		return 0;
	p = t->value.sequence->data;
	if ((algs = d2i_X509_ALGORS(NULL, &p,
	    t->value.sequence->length)) == NULL)
		return 0;
	for (i = 0; i < sk_X509_ALGOR_num(algs); i++) {
		nid = OBJ_obj2nid(sk_X509_ALGOR_value(algs, i)->algorithm);
		if (nid == NID_aes_256_gcm || nid == NID_aes_128_gcm)
			caps |= SMIME_CAP_GCM;
		if (nid == NID_rsaesOaep)
			caps |= SMIME_CAP_OAEP;
	}
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	return caps;
}

/*
 * A recipient: the content key for its public key, with RSAES-OAEP when
 * it takes that and the key is RSA. The parameters are the defaults
 * (SHA-1 and MGF1 with SHA-1), which a capability without parameters
 * announces and every OAEP implementation has (RFC 3560 3.1).
 */
static int
add_recipient(CMS_ContentInfo *cms, X509 *x, unsigned caps)
{
	CMS_RecipientInfo	*ri;
	EVP_PKEY		*k = X509_get0_pubkey(x);
	EVP_PKEY_CTX		*pctx;
	int			 oaep;

	oaep = (caps & SMIME_CAP_OAEP) && k != NULL &&
	    EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA;
	if ((ri = CMS_add1_recipient_cert(cms, x, oaep ? CMS_KEY_PARAM :
	    0)) == NULL)
		return -1;
	if (oaep && ((pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0))
		return -1;
	return 0;
}

int
smime_sign(const char *msg, size_t len, X509 *cert, EVP_PKEY *key,
    STACK_OF(X509) *chain, struct buf *out, const char **errstr)
{
	struct buf	 outer = BUF_INIT(SMIME_MAX_MESSAGE);
	struct buf	 inner = BUF_INIT(SMIME_MAX_MESSAGE);
	struct buf	 seven = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct buf	*content = &inner;
	CMS_ContentInfo	*cms = NULL;
	CMS_SignerInfo	*si;
	BIO		*in = NULL;
	char		 boundary[40];
	const unsigned	 flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
	int		 rc = -1;

	*errstr = "out of memory or message too large";
	if (len > SMIME_MAX_MESSAGE || entity_split(msg, len, &outer, &inner) == -1)
		goto done;
	/* Signed content must be 7bit to survive transport unchanged. */
	if (mime7bit_needed(inner.data, inner.len)) {
		if (mime7bit_convert(inner.data, inner.len, &seven,
		    errstr) == -1)
			goto done;
		content = &seven;
	}
	entity_boundary(boundary, sizeof(boundary));
	*errstr = "signing failed";
	if ((in = BIO_new_mem_buf(content->data, (int)content->len)) == NULL ||
	    (cms = CMS_sign(NULL, NULL, chain, NULL, flags)) == NULL ||
	    (si = CMS_add1_signer(cms, cert, key, EVP_sha256(), flags |
	    CMS_NOSMIMECAP)) == NULL || add_capabilities(si) == -1 ||
	    CMS_final(cms, in, NULL, flags) != 1)
		goto done;
	*errstr = "message too large";
	if (buf_add(out, outer.data, outer.len) == -1 ||
	    buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: "
	    "multipart/signed; protocol=\"application/pkcs7-signature\";"
	    " micalg=sha-256;\r\n\tboundary=\"%s\"\r\n\r\n" SMIME_PREAMBLE
	    "--%s\r\n", boundary, boundary) == -1 ||
	    buf_add(out, content->data, content->len) == -1 ||
	    buf_printf(out, "\r\n--%s\r\nContent-Type: application/pkcs7-"
	    "signature; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: "
	    "base64\r\nContent-Disposition: attachment; filename="
	    "\"smime.p7s\"\r\n\r\n", boundary) == -1 ||
	    add_cms_base64(out, cms) == -1 ||
	    buf_printf(out, "\r\n--%s--\r\n", boundary) == -1)
		goto done;
	*errstr = NULL;
	rc = 0;
done:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	buf_free(&outer);
	buf_free(&inner);
	buf_free(&seven);
	return rc;
}

int
smime_encrypt(const char *msg, size_t len, STACK_OF(X509) *recips,
    unsigned caps, struct buf *out, const char **errstr)
{
	struct buf	 outer = BUF_INIT(SMIME_MAX_MESSAGE);
	struct buf	 inner = BUF_INIT(SMIME_MAX_MESSAGE);
	CMS_ContentInfo	*cms = NULL;
	BIO		*in = NULL;
	const int	 aead = (caps & SMIME_CAP_GCM) != 0;
	int		 i, rc = -1;

	*errstr = "out of memory or message too large";
	if (len > SMIME_MAX_MESSAGE || entity_split(msg, len, &outer, &inner) == -1)
		goto done;
	*errstr = "encryption failed";
	/* An AEAD cipher makes OpenSSL write AuthEnvelopedData. */
	if ((in = BIO_new_mem_buf(inner.data, (int)inner.len)) == NULL ||
	    (cms = CMS_encrypt(NULL, in, aead ? EVP_aes_256_gcm() :
	    EVP_aes_256_cbc(), CMS_BINARY | CMS_PARTIAL)) == NULL)
		goto done;
	for (i = 0; i < sk_X509_num(recips); i++)
		if (add_recipient(cms, sk_X509_value(recips, i), caps) == -1)
			goto done;
	if (CMS_final(cms, in, NULL, CMS_BINARY) != 1)
		goto done;
	*errstr = "message too large";
	if (buf_add(out, outer.data, outer.len) == -1 ||
	    buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: application/"
	    "pkcs7-mime; smime-type=%s;\r\n\tname=\"smime.p7m\""
	    "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition:"
	    " attachment; filename=\"smime.p7m\"\r\n\r\n", aead ?
	    "authEnveloped-data" : "enveloped-data") == -1 ||
	    add_cms_base64(out, cms) == -1)
		goto done;
	*errstr = NULL;
	rc = 0;
done:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	buf_free(&outer);
	buf_free(&inner);
	return rc;
}

static int
is_pkcs7_mime(const struct mime_part *p)
{
	return strcmp(p->type, "application") == 0 &&
	    (strcmp(p->subtype, "pkcs7-mime") == 0 ||
	    strcmp(p->subtype, "x-pkcs7-mime") == 0);
}

/* Is the root part enveloped (or authenticated enveloped) data? */
static int
root_encrypted(const struct mime_part *root)
{
	const char	*st;

	if (!is_pkcs7_mime(root))
		return 0;
	st = mime_param(root, "smime-type");
	return st == NULL || strcasecmp(st, "enveloped-data") == 0 ||
	    strcasecmp(st, "authEnveloped-data") == 0;
}

int
smime_is_encrypted(const char *msg, size_t len)
{
	struct mime_msg	*m;
	const char	*err;
	int		 yes;

	if (len > SMIME_MAX_MESSAGE || (m = mime_parse(msg, len, &err)) == NULL)
		return 0;
	yes = root_encrypted(mime_root(m));
	mime_free(m);
	return yes;
}

/* The message with its content replaced: outer fields of msg, then the
 * entity (content fields, blank line, body). */
static int
rewrap(const char *msg, size_t len, const char *ent, size_t entlen,
    struct buf *out)
{
	struct buf	 outer = BUF_INIT(SMIME_MAX_MESSAGE);
	int		 rc;

	rc = entity_split(msg, len, &outer, NULL) == -1 ||
	    buf_add(out, outer.data, outer.len) == -1 ||
	    buf_addstr(out, "MIME-Version: 1.0\r\n") == -1 ||
	    entity_crlf(out, ent, entlen) == -1 ? -1 : 0;
	buf_free(&outer);
	return rc;
}

int
smime_decrypt(const char *msg, size_t len, X509 *cert, EVP_PKEY *key,
    struct buf *out, const char **errstr)
{
	struct mime_msg		*m;
	const struct mime_part	*root;
	CMS_ContentInfo		*cms = NULL;
	BIO			*plain = NULL;
	unsigned char		*der;
	const unsigned char	*q;
	char			*p;
	size_t			 derlen;
	long			 n;
	int			 rc = -1;

	if (len > SMIME_MAX_MESSAGE || (m = mime_parse(msg, len,
	    errstr)) == NULL) {
		*errstr = "message too large";
		return -1;
	}
	root = mime_root(m);
	*errstr = "not an S/MIME encrypted message";
	if (!root_encrypted(root))
		goto done;
	*errstr = "malformed CMS data";
	if ((der = unbase64(msg + root->body_off, root->body_len,
	    &derlen)) != NULL) {
		q = der;
		cms = d2i_CMS_ContentInfo(NULL, &q, (long)derlen);
		free(der);
	}
	if (cms == NULL && (cms = cms_from_base64(msg + root->body_off,
	    root->body_len)) == NULL)
		goto done;
	/*
	 * A key of another certificate would fail as the wrong key for the
	 * recipient, and OpenSSL then goes on with a random content key (its
	 * defence against padding oracles): CBC content decrypts to garbage
	 * once in 256 tries. Refused first, so the answer is always the same.
	 */
	*errstr = "the key does not belong to the certificate";
	if (cert != NULL && X509_check_private_key(cert, key) != 1)
		goto done;
	*errstr = "cannot decrypt: not for this key, or damaged";
	if ((plain = BIO_new(BIO_s_mem())) == NULL ||
	    CMS_decrypt(cms, key, cert, NULL, plain, CMS_BINARY) != 1)
		goto done;
	*errstr = "message too large";
	if ((n = BIO_get_mem_data(plain, &p)) < 0 ||
	    rewrap(msg, len, p, (size_t)n, out) == -1)
		goto done;
	*errstr = NULL;
	rc = 0;
done:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	BIO_free(plain);
	mime_free(m);
	return rc;
}

/* The first enveloped part below the root, depth first, into *found;
 * 0 if none. */
static int
nested_encrypted(const struct mime_part *p, int depth,
    const struct mime_part **found)
{
	const char	*st;
	size_t		 i;

	if (depth > 0 && is_pkcs7_mime(p)) {
		st = mime_param(p, "smime-type");
		if (st == NULL || strcasecmp(st, "enveloped-data") == 0 ||
		    strcasecmp(st, "authEnveloped-data") == 0) {
			*found = p;
			return 1;
		}
	}
	for (i = 0; i < p->nchildren; i++)
		if (nested_encrypted(&p->children[i], depth + 1, found))
			return 1;
	return 0;
}

int
smime_has_nested(const char *msg, size_t len)
{
	struct mime_msg		*m;
	const struct mime_part	*part;
	const char		*err;
	int			 yes;

	if (len > SMIME_MAX_MESSAGE || (m = mime_parse(msg, len, &err)) == NULL)
		return 0;
	yes = nested_encrypted(mime_root(m), 0, &part);
	mime_free(m);
	return yes;
}

int
smime_attach_original(const char *msg, size_t len, const char *orig,
    size_t origlen, const char *why, struct buf *out)
{
	struct buf	 outer = BUF_INIT(SMIME_MAX_MESSAGE);
	struct buf	 inner = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	char		 boundary[40];
	int		 rc = -1;

	entity_boundary(boundary, sizeof(boundary));
	if (len > SMIME_MAX_MESSAGE || origlen > SMIME_MAX_MESSAGE ||
	    entity_split(msg, len, &outer, &inner) == -1 ||
	    buf_add(out, outer.data, outer.len) == -1 ||
	    buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: multipart/"
	    "mixed; boundary=\"%s\"\r\n\r\n--%s\r\n", boundary,
	    boundary) == -1 || buf_add(out, inner.data, inner.len) == -1 ||
	    buf_printf(out, "\r\n--%s\r\nContent-Type: message/rfc822\r\n"
	    "Content-Disposition: attachment; filename=\"original.eml\"\r\n"
	    "Content-Description: %s\r\n\r\n", boundary, why) == -1 ||
	    entity_crlf(out, orig, origlen) == -1 ||
	    buf_printf(out, "\r\n--%s--\r\n", boundary) == -1)
		goto done;
	rc = 0;
done:
	buf_free(&outer);
	buf_free(&inner);
	return rc;
}

int
smime_decrypt_nested(const char *msg, size_t len, X509 *cert, EVP_PKEY *key,
    struct buf *out, const char **errstr)
{
	struct mime_msg		*m;
	const struct mime_part	*part;
	struct buf		 plain = BUF_INIT(SMIME_MAX_MESSAGE);
	struct buf		 alone = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	size_t			 skip;
	int			 rc = -1;

	if (len > SMIME_MAX_MESSAGE || (m = mime_parse(msg, len,
	    errstr)) == NULL) {
		*errstr = "message too large";
		return -1;
	}
	*errstr = "no encrypted part among others";
	if (!nested_encrypted(mime_root(m), 0, &part))
		goto done;
	/* The part alone is an S/MIME message of no other fields. */
	if (smime_decrypt(msg + part->hdr_off, part->body_off +
	    part->body_len - part->hdr_off, cert, key, &plain, errstr) == -1)
		goto done;
	skip = plain.len >= 19 && memcmp(plain.data, "MIME-Version: 1.0\r\n",
	    19) == 0 ? 19 : 0;
	/* The message's fields around the decrypted entity alone, then the
	 * original attached. */
	*errstr = "message too large";
	if (rewrap(msg, len, plain.data + skip, plain.len - skip,
	    &alone) == -1 || smime_attach_original(alone.data, alone.len, msg,
	    len, "the message as it came; its unencrypted parts\r\n\twere "
	    "not joined to the decrypted one", out) == -1)
		goto done;
	*errstr = NULL;
	rc = 0;
done:
	buf_free(&plain);
	buf_free(&alone);
	mime_free(m);
	return rc;
}

/*
 * Signer chains that verified, for a short while: the check of a
 * signer's chain (the CA's signature on the certificate, mostly) is a
 * third of a verification, and a correspondent's certificates, parsed
 * once (above), are the same objects in every message. The chain is
 * checked here exactly as CMS_verify() checks it (X509_verify_cert()
 * on the same store, signer and untrusted certificates, "smime_sign"
 * defaults, no CRLs), then CMS_verify() does the rest with
 * CMS_NO_SIGNER_CERT_VERIFY; a chain that fails here goes to a whole
 * CMS_verify(), for its own error. An entry is the very objects (held,
 * so their addresses are not reused): the trust store, as many objects
 * in it and no verify flags (no CRL or time settings), the signer and
 * the message's certificates in order; it serves while the clock is
 * between the check and the earliest of CHAIN_TTL seconds later and
 * every notAfter of the chain. A message with CRLs, or other than one
 * signer, gets a whole CMS_verify() each time. smime_forget() empties
 * it and the parsed certificates (certstore.c, when it reloads).
 */
#define CHAIN_CACHE	128
#define CHAIN_TTL	60
#define CHAIN_CERTS	8

struct chain_ok {
	X509_STORE	*store;		/* NULL: a free slot */
	int		 nobjs;
	X509		*signer;
	X509		*certs[CHAIN_CERTS];
	int		 ncerts;
	time_t		 at, until;	/* serves while at <= now < until */
};

static struct chain_ok	 chains[CHAIN_CACHE];

static void
chain_drop(struct chain_ok *c)
{
	int	 i;

	X509_STORE_free(c->store);
	X509_free(c->signer);
	for (i = 0; i < c->ncerts; i++)
		X509_free(c->certs[i]);
	memset(c, 0, sizeof(*c));
}

void
smime_forget(void)
{
	size_t	 i;

	for (i = 0; i < CHAIN_CACHE; i++)
		chain_drop(&chains[i]);
	for (i = 0; i < PARSED_CACHE; i++) {
		free(parsed[i].der);
		X509_free(parsed[i].x);
		memset(&parsed[i], 0, sizeof(parsed[i]));
	}
}

/* Is (store, signer, certs) what entry c holds? */
static int
chain_same(const struct chain_ok *c, X509_STORE *store, X509 *signer,
    STACK_OF(X509) *certs)
{
	int	 i;

	if (c->store != store || c->signer != signer ||
	    c->ncerts != sk_X509_num(certs) ||
	    c->nobjs != sk_X509_OBJECT_num(X509_STORE_get0_objects(store)))
		return 0;
	for (i = 0; i < c->ncerts; i++)
		if (c->certs[i] != sk_X509_value(certs, i))
			return 0;
	return 1;
}

/* The entry for (store, signer, certs), NULL if none. */
static struct chain_ok *
chain_find(X509_STORE *store, X509 *signer, STACK_OF(X509) *certs)
{
	size_t	 i;

	for (i = 0; i < CHAIN_CACHE; i++)
		if (chains[i].store != NULL &&
		    chain_same(&chains[i], store, signer, certs))
			return &chains[i];
	return NULL;
}

/* The store's settings allow an entry: no verify flags at all. */
static int
chain_cacheable(X509_STORE *store, STACK_OF(X509) *certs)
{
	return X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(store)) ==
	    0 && sk_X509_num(certs) <= CHAIN_CERTS;
}

/* Check signer's chain the way CMS_verify() does (smime_sign defaults,
 * the message's certificates untrusted, no CRLs) and keep it until the
 * first end of the chain: 1 if it passed and is kept. */
static int
chain_put(X509_STORE *store, X509 *signer, STACK_OF(X509) *certs)
{
	X509_STORE_CTX	*ctx;
	STACK_OF(X509)	*chain;
	struct chain_ok	*c;
	time_t		 now = time(NULL), left = CHAIN_TTL, t;
	size_t		 i;
	int		 j, days, secs, ok = 1;

	if ((ctx = X509_STORE_CTX_new()) == NULL)
		return 0;
	if (X509_STORE_CTX_init(ctx, store, signer, certs) != 1 ||
	    X509_STORE_CTX_set_default(ctx, "smime_sign") != 1 ||
	    X509_verify_cert(ctx) != 1 ||
	    (chain = X509_STORE_CTX_get0_chain(ctx)) == NULL) {
		X509_STORE_CTX_free(ctx);
		return 0;
	}
	for (j = 0; ok && j < sk_X509_num(chain); j++) {
		ok = ASN1_TIME_diff(&days, &secs, NULL,
		    X509_get0_notAfter(sk_X509_value(chain, j))) == 1 &&
		    days >= 0 && secs >= 0;
		if (ok && days < CHAIN_TTL / 86400 + 1 &&
		    (t = (time_t)days * 86400 + secs) < left)
			left = t;
	}
	X509_STORE_CTX_free(ctx);
	if (!ok || left <= 0)
		return 0;
	/* The entry that ran out, else a free slot, else the oldest. */
	if ((c = chain_find(store, signer, certs)) == NULL) {
		c = &chains[0];
		for (i = 0; i < CHAIN_CACHE; i++) {
			if (chains[i].store == NULL) {
				c = &chains[i];
				break;
			}
			if (chains[i].at < c->at)
				c = &chains[i];
		}
	}
	chain_drop(c);
	if (X509_STORE_up_ref(store) != 1)
		return 0;
	c->store = store;
	if (X509_up_ref(signer) != 1) {
		chain_drop(c);
		return 0;
	}
	c->signer = signer;
	for (j = 0; j < sk_X509_num(certs); j++) {
		if (X509_up_ref(sk_X509_value(certs, j)) != 1) {
			chain_drop(c);
			return 0;
		}
		c->certs[c->ncerts++] = sk_X509_value(certs, j);
	}
	c->nobjs = sk_X509_OBJECT_num(X509_STORE_get0_objects(store));
	c->at = now;
	c->until = now + left;
	return 1;
}

/*
 * CMS_verify() of the content in, the signer's chain from the cache when
 * it is there: 1 if it verified.
 */
static int
cms_verify_cached(CMS_ContentInfo *cms, X509_STORE *store, BIO *in,
    BIO *outb)
{
	STACK_OF(CMS_SignerInfo)	*infos;
	STACK_OF(X509)			*certs = NULL;
	STACK_OF(X509_CRL)		*crls;
	struct chain_ok			*c;
	X509				*signer = NULL;
	time_t				 now = time(NULL);
	int				 ok, keep = 0, chain_ok;

	/* One signer, its certificate among the message's, no CRLs. */
	ERR_set_mark();
	if ((infos = CMS_get0_SignerInfos(cms)) != NULL &&
	    sk_CMS_SignerInfo_num(infos) == 1 &&
	    CMS_set1_signers_certs(cms, NULL, 0) >= 0) {
		CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(infos, 0),
		    NULL, &signer, NULL, NULL);
		crls = CMS_get1_crls(cms);
		keep = signer != NULL && sk_X509_CRL_num(crls) <= 0 &&
		    (certs = CMS_get1_certs(cms)) != NULL &&
		    chain_cacheable(store, certs);
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
	}
	/* Kept, or checked here as CMS_verify() would and kept now: the
	 * rest of CMS_verify() without that check. A chain that fails
	 * here is left to CMS_verify() whole, for its own error. */
	chain_ok = keep && (((c = chain_find(store, signer, certs)) != NULL &&
	    c->at <= now && now < c->until) || chain_put(store, signer,
	    certs));
	ERR_pop_to_mark();
	ok = CMS_verify(cms, NULL, store, in, outb, CMS_BINARY |
	    (chain_ok ? CMS_NO_SIGNER_CERT_VERIFY : 0)) == 1;
	sk_X509_pop_free(certs, X509_free);
	return ok;
}

/* The first e-mail address of a certificate (subjectAltName, else the
 * subject's emailAddress). */
static void
cert_email(X509 *x, char *buf, size_t size)
{
	STACK_OF(OPENSSL_STRING) *emails = X509_get1_email(x);

	buf[0] = '\0';
	if (emails != NULL && sk_OPENSSL_STRING_num(emails) > 0)
		(void)osms_strlcpy(buf, sk_OPENSSL_STRING_value(emails, 0),
		    size);
	X509_email_free(emails);
}

static void
verify_failed(struct smime_verdict *v, const char *why)
{
	unsigned long	 e = ERR_peek_last_error();

	v->result = SMIME_FAILED;
	if (e != 0)
		(void)snprintf(v->reason, sizeof(v->reason), "%s: %s", why,
		    ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "?");
	else
		(void)osms_strlcpy(v->reason, why, sizeof(v->reason));
}

int
smime_verify(const char *msg, size_t len, X509_STORE *store,
    struct smime_verdict *v, struct buf *content, X509 **signer,
    const char **errstr)
{
	struct mime_msg		*m;
	const struct mime_part	*root, *data = NULL, *sig = NULL;
	struct buf		 canon = BUF_INIT(SMIME_MAX_MESSAGE);
	CMS_ContentInfo		*cms = NULL;
	STACK_OF(X509)		*signers = NULL;
	STACK_OF(CMS_SignerInfo) *infos;
	BIO			*in = NULL, *outb = NULL;
	unsigned char		*der;
	const char		*st;
	char			*p;
	size_t			 derlen;
	long			 n;
	int			 rc = 0;

	memset(v, 0, sizeof(*v));
	v->result = SMIME_NOT_SIGNED;
	if (signer != NULL)
		*signer = NULL;
	*errstr = NULL;
	if (len > SMIME_MAX_MESSAGE || (m = mime_parse(msg, len,
	    errstr)) == NULL) {
		*errstr = "message too large";
		return -1;
	}
	root = mime_root(m);
	if (strcmp(root->type, "multipart") == 0 &&
	    strcmp(root->subtype, "signed") == 0 && root->nchildren == 2) {
		data = &root->children[0];
		sig = &root->children[1];
		if (strcmp(sig->type, "application") != 0 ||
		    (strcmp(sig->subtype, "pkcs7-signature") != 0 &&
		    strcmp(sig->subtype, "x-pkcs7-signature") != 0))
			goto done;		/* not S/MIME (PGP/MIME?) */
	} else if (is_pkcs7_mime(root)) {
		st = mime_param(root, "smime-type");
		if (st == NULL || strcasecmp(st, "signed-data") != 0)
			goto done;
		sig = root;
	} else
		goto done;

	/* Its certificates from the cache, when it decodes plainly. */
	if ((der = unbase64(msg + sig->body_off, sig->body_len,
	    &derlen)) != NULL)
		cms = cms_d2i_cached(der, derlen);
	free(der);
	if (cms == NULL && (cms = cms_from_base64(msg + sig->body_off,
	    sig->body_len)) == NULL) {
		verify_failed(v, "malformed signature");
		goto done;
	}
	/*
	 * The signed entity, header and body, in the canonical form the
	 * signature covers (RFC 8551 3.1.1): a mailbox that stores LF
	 * line ends has not broken it.
	 */
	if (data != NULL && (entity_crlf(&canon, msg + data->hdr_off,
	    data->body_off + data->body_len - data->hdr_off) == -1 ||
	    (in = BIO_new_mem_buf(canon.data != NULL ? canon.data : "",
	    (int)canon.len)) == NULL))
		goto done;
	if ((outb = BIO_new(BIO_s_mem())) == NULL)
		goto done;
	if (!cms_verify_cached(cms, store, in, outb)) {
		verify_failed(v, "the signature does not verify");
		goto done;
	}
	v->result = SMIME_VERIFIED;
	if ((infos = CMS_get0_SignerInfos(cms)) != NULL &&
	    sk_CMS_SignerInfo_num(infos) > 0)
		v->caps = signer_caps(sk_CMS_SignerInfo_value(infos, 0));
	if ((signers = CMS_get0_signers(cms)) != NULL &&
	    sk_X509_num(signers) > 0) {
		cert_email(sk_X509_value(signers, 0), v->signer,
		    sizeof(v->signer));
		if (signer != NULL) {
			*signer = sk_X509_value(signers, 0);
			X509_up_ref(*signer);
		}
	}
	if (content != NULL && (n = BIO_get_mem_data(outb, &p)) >= 0 &&
	    rewrap(msg, len, p, (size_t)n, content) == -1)
		rc = -1;
done:
	ERR_clear_error();
	sk_X509_free(signers);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	BIO_free(outb);
	buf_free(&canon);
	mime_free(m);
	if (rc == -1)
		*errstr = "message too large";
	return rc;
}
