/*
 * ARC verification (arc.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "arc.h"
#include "dkim.h"
#include "dkimcanon.h"
#include "util.h"

#define ARC_MAX_TAGS	32
#define ARC_MAX_KEY	4096	/* a key record */
#define ARC_MAX_SIG	1024	/* a decoded signature or key */

enum arc_kind { ARC_AAR, ARC_AMS, ARC_AS, ARC_KINDS };

static const char *const kind_names[ARC_KINDS] = {
	[ARC_AAR] = "arc-authentication-results",
	[ARC_AMS] = "arc-message-signature",
	[ARC_AS] = "arc-seal",
};

/* A tag-list (RFC 6376 3.2), parsed in a copy: names and values. */
struct tags {
	char	*copy;
	char	*name[ARC_MAX_TAGS];
	char	*value[ARC_MAX_TAGS];
	size_t	 n;
};

static int
is_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *
trim(char *s)
{
	char	*e;

	while (is_fws((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_fws((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* 0, or -1 if malformed (a tag twice, a name that is no word). */
static int
tags_parse(const char *text, size_t len, struct tags *t)
{
	char	*p, *semi, *eq;
	size_t	 i;

	memset(t, 0, sizeof(*t));
	t->copy = xmalloc(len + 1);
	memcpy(t->copy, text, len);
	t->copy[len] = '\0';
	for (p = t->copy; p != NULL; p = semi) {
		if ((semi = strchr(p, ';')) != NULL)
			*semi++ = '\0';
		if (*trim(p) == '\0')
			continue;		/* a trailing ';' */
		if ((eq = strchr(p, '=')) == NULL || t->n == ARC_MAX_TAGS)
			return -1;
		*eq = '\0';
		t->name[t->n] = trim(p);
		t->value[t->n] = trim(eq + 1);
		if (t->name[t->n][0] == '\0' || strspn(t->name[t->n],
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_") != strlen(t->name[t->n]))
			return -1;
		for (i = 0; i < t->n; i++)
			if (strcmp(t->name[i], t->name[t->n]) == 0)
				return -1;
		t->n++;
	}
	return 0;
}

static const char *
tag(const struct tags *t, const char *name)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->name[i], name) == 0)
			return t->value[i];
	return NULL;
}

/* Base64 with folding whitespace in it, decoded: 0, or -1. */
static int
b64_fws(const char *in, unsigned char *out, size_t size, size_t *outlen)
{
	char	*clean = xmalloc(strlen(in) + 1);
	size_t	 n = 0;
	int	 r;

	for (; *in != '\0'; in++)
		if (!is_fws((unsigned char)*in))
			clean[n++] = *in;
	clean[n] = '\0';
	r = base64_decode(clean, out, size, outlen);
	free(clean);
	return r;
}

/*
 * The field (name and value, folded as it came) with the value of its
 * b= tag taken out: what was signed (RFC 6376 3.7).
 */
static int
without_b(const char *f, size_t len, struct buf *out)
{
	size_t	 i = 0, start = 0;

	/* Past the field name. */
	while (i < len && f[i] != ':')
		i++;
	for (; i < len; i++) {
		if (f[i] != ':' && f[i] != ';')
			continue;
		start = i + 1;
		while (start < len && is_fws((unsigned char)f[start]))
			start++;
		if (start + 1 < len && f[start] == 'b' &&
		    (f[start + 1] == '=' || is_fws((unsigned char)f[start + 1]))) {
			size_t	 eq = start + 1;

			while (eq < len && is_fws((unsigned char)f[eq]))
				eq++;
			if (eq < len && f[eq] == '=') {
				(void)buf_add(out, f, eq + 1);
				while (eq < len && f[eq] != ';')
					eq++;
				(void)buf_add(out, f + eq, len - eq);
				return out->over ? -1 : 0;
			}
		}
	}
	return -1;
}

/* The public key of a key record: NULL if there is none to use. */
static EVP_PKEY *
record_key(const char *rec, int ed25519)
{
	struct tags		 t;
	unsigned char		*der;
	const unsigned char	*p;
	const char		*k, *pv, *v;
	size_t			 n;
	EVP_PKEY		*key = NULL;

	der = xmalloc(ARC_MAX_SIG);
	if (tags_parse(rec, strlen(rec), &t) == -1 ||
	    ((v = tag(&t, "v")) != NULL && strcmp(v, "DKIM1") != 0) ||
	    (pv = tag(&t, "p")) == NULL || pv[0] == '\0' ||
	    b64_fws(pv, der, ARC_MAX_SIG, &n) == -1)
		goto done;
	k = tag(&t, "k");
	if (ed25519) {
		if (k != NULL && strcmp(k, "ed25519") == 0 && n == 32)
			key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519,
			    NULL, der, n);
	} else if (k == NULL || strcmp(k, "rsa") == 0) {
		p = der;
		if ((key = d2i_PUBKEY(NULL, &p, (long)n)) == NULL) {
			p = der;
			key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)n);
		}
		/* RFC 8301: 1024 bits at least. */
		if (key != NULL && (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
		    EVP_PKEY_get_bits(key) < 1024)) {
			EVP_PKEY_free(key);
			key = NULL;
		}
	}
done:
	free(der);
	free(t.copy);
	return key;
}

/*
 * A signature (tags t) over data: 1 if it verifies, 0 if not, -2 if
 * its key cannot be had now. why says what failed.
 */
static int
check_sig(const struct tags *t, const struct buf *data, arc_key_fn keyfn,
    void *arg, const char **why)
{
	const char	*a = tag(t, "a"), *b = tag(t, "b"), *d = tag(t, "d");
	const char	*s = tag(t, "s");
	char		*rec = NULL;
	unsigned char	 sig[ARC_MAX_SIG], hash[EVP_MAX_MD_SIZE];
	unsigned int	 hlen;
	size_t		 siglen;
	EVP_PKEY	*key = NULL;
	EVP_MD_CTX	*md = NULL;
	int		 ed, r = 0, k;

	if (a == NULL || b == NULL || d == NULL || s == NULL ||
	    !dkc_name_ok(d, DKIM_MAX_DOMAIN) ||
	    !dkc_name_ok(s, DKIM_MAX_SELECTOR)) {
		*why = "a tag is missing or malformed";
		return 0;
	}
	if (strcmp(a, "rsa-sha256") == 0)
		ed = 0;
	else if (strcmp(a, "ed25519-sha256") == 0)
		ed = 1;
	else {
		*why = "an algorithm not taken";
		return 0;
	}
	if (b64_fws(b, sig, sizeof(sig), &siglen) == -1) {
		*why = "b= is not base64";
		return 0;
	}
	rec = xmalloc(ARC_MAX_KEY);
	if ((k = keyfn(s, d, rec, ARC_MAX_KEY, arg)) != 0) {
		*why = k == -2 ? "the key is not available now" : "no key";
		r = k == -2 ? -2 : 0;
		goto done;
	}
	if ((key = record_key(rec, ed)) == NULL) {
		*why = "the key record is not usable";
		goto done;
	}
	if ((md = EVP_MD_CTX_new()) == NULL)
		goto done;
	if (ed) {
		/* RFC 8463: Ed25519 over the SHA-256 of the data. */
		if (EVP_Digest(data->data, data->len, hash, &hlen,
		    EVP_sha256(), NULL) == 1 &&
		    EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
		    EVP_DigestVerify(md, sig, siglen, hash, hlen) == 1)
			r = 1;
	} else if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	    key) == 1 && EVP_DigestVerify(md, sig, siglen,
	    (const unsigned char *)data->data, data->len) == 1)
		r = 1;
	if (r == 0)
		*why = "the signature does not verify";
done:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	free(rec);
	return r;
}

/* A number from 1 to ARC_MAX_SETS, or 0. */
static int
set_number(const char *s)
{
	char	*end;
	long	 x;

	if (*s < '0' || *s > '9')
		return 0;
	x = strtol(s, &end, 10);
	return *end != '\0' || x < 1 || x > ARC_MAX_SETS ? 0 : (int)x;
}

/*
 * The instance of an ARC field's value (len bytes): its i= tag, which
 * an ARC-Authentication-Results field has first (RFC 8617 4.1.1). 0 if
 * there is none that is good.
 */
static int
instance(int kind, const char *v, size_t len)
{
	struct tags	 t;
	const char	*semi, *i;
	int		 n = 0;

	if (kind == ARC_AAR && (semi = memchr(v, ';', len)) != NULL)
		len = (size_t)(semi - v);
	if (tags_parse(v, len, &t) == 0 && (i = tag(&t, "i")) != NULL)
		n = set_number(i);
	free(t.copy);
	return n;
}

/* The newest AMS over the message as it is (RFC 8617 5.1.1.1). */
static int
check_ams(const char *msg, size_t len, struct dkc_field *f, size_t nf,
    size_t body, const struct dkc_field *ams, arc_key_fn keyfn, void *arg,
    const char **why)
{
	struct tags	 t;
	struct buf	 data = BUF_INIT(DKIM_MAX_HEADER + 4096);
	unsigned char	 bh[EVP_MAX_MD_SIZE], want[EVP_MAX_MD_SIZE];
	unsigned int	 bhlen;
	size_t		 wantlen, i, j, vlen;
	const char	*c, *h, *bhv, *colon;
	char		*hl, *name, *save = NULL;
	EVP_MD_CTX	*md = NULL;
	int		 r = 0;

	colon = memchr(msg + ams->off, ':', ams->len);
	vlen = ams->len - (size_t)(colon + 1 - (msg + ams->off));
	if (tags_parse(colon + 1, vlen, &t) == -1) {
		*why = "the ARC-Message-Signature is malformed";
		goto done;
	}
	c = tag(&t, "c");
	h = tag(&t, "h");
	bhv = tag(&t, "bh");
	if (c == NULL || strcmp(c, "relaxed/relaxed") != 0 || h == NULL ||
	    bhv == NULL || b64_fws(bhv, want, sizeof(want), &wantlen) == -1) {
		*why = "the ARC-Message-Signature is not one taken";
		goto done;
	}
	/* The body. */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    dkc_hash_body(msg, len, body, md) == -1 ||
	    EVP_DigestFinal_ex(md, bh, &bhlen) != 1)
		goto done;
	if (wantlen != bhlen || memcmp(want, bh, bhlen) != 0) {
		*why = "the body changed since the newest seal";
		goto done;
	}
	/* The header fields it names, each from the bottom up. */
	for (i = 0; i < nf; i++)
		f[i].used = 0;
	hl = xstrdup(h);
	for (name = strtok_r(hl, ":", &save); name != NULL;
	    name = strtok_r(NULL, ":", &save)) {
		name = trim(name);
		for (j = nf; j > 0; j--)
			if (!f[j - 1].used && f[j - 1].namelen ==
			    strlen(name) && strncasecmp(msg + f[j - 1].off,
			    name, f[j - 1].namelen) == 0)
				break;
		if (j == 0)
			continue;	/* absent: signed as absent */
		f[j - 1].used = 1;
		if (dkc_canon_field(msg + f[j - 1].off, f[j - 1].len, 1,
		    &data) == -1)
			break;
	}
	free(hl);
	{
		struct buf	 self = BUF_INIT(64 * 1024);

		if (without_b(msg + ams->off, ams->len, &self) == 0)
			(void)dkc_canon_field(self.data, self.len, 0, &data);
		else
			data.over = 1;
		buf_free(&self);
	}
	if (data.over) {
		*why = "the ARC-Message-Signature is malformed";
		goto done;
	}
	r = check_sig(&t, &data, keyfn, arg, why);
done:
	EVP_MD_CTX_free(md);
	buf_free(&data);
	free(t.copy);
	return r;
}

/* The seal of instance i over the sets 1 to i (RFC 8617 5.1.1.2). */
static int
check_seal(const char *msg, const struct dkc_field *set[][ARC_KINDS],
    int i, arc_key_fn keyfn, void *arg, char *sealer, size_t size,
    const char **why)
{
	struct tags		 t;
	struct buf		 data = BUF_INIT(1024 * 1024);
	struct buf		 self = BUF_INIT(64 * 1024);
	const struct dkc_field	*as = set[i][ARC_AS];
	const char		*colon, *cv, *d;
	int			 j, k, r = 0;

	colon = memchr(msg + as->off, ':', as->len);
	if (tags_parse(colon + 1, as->len - (size_t)(colon + 1 -
	    (msg + as->off)), &t) == -1 || (cv = tag(&t, "cv")) == NULL ||
	    tag(&t, "h") != NULL) {
		*why = "an ARC-Seal is malformed";
		goto done;
	}
	if (strcasecmp(cv, i == 1 ? "none" : "pass") != 0) {
		*why = i == 1 ? "the first seal does not say cv=none" :
		    "a seal does not say cv=pass";
		goto done;
	}
	if ((d = tag(&t, "d")) != NULL && sealer != NULL)
		(void)osms_strlcpy(sealer, d, size);
	for (j = 1; j <= i; j++)
		for (k = 0; k < ARC_KINDS; k++) {
			if (j == i && k == ARC_AS) {
				if (without_b(msg + as->off, as->len, &self) ==
				    -1 || dkc_canon_field(self.data, self.len,
				    0, &data) == -1)
					data.over = 1;
			} else
				(void)dkc_canon_field(msg + set[j][k]->off,
				    set[j][k]->len, 1, &data);
		}
	if (data.over) {
		*why = "an ARC-Seal is malformed";
		goto done;
	}
	r = check_sig(&t, &data, keyfn, arg, why);
done:
	buf_free(&self);
	buf_free(&data);
	free(t.copy);
	return r;
}

void
arc_verify(const char *msg, size_t len, arc_key_fn keyfn, void *arg,
    struct arc_verdict *v)
{
	const struct dkc_field	*set[ARC_MAX_SETS + 1][ARC_KINDS];
	struct dkc_field	*f;
	const char		*why = "", *colon;
	size_t			 nf, body, i, vlen;
	int			 k, n, max = 0, r;

	memset(v, 0, sizeof(*v));
	memset(set, 0, sizeof(set));
	f = xreallocarray(NULL, DKIM_MAX_FIELDS, sizeof(*f));
	if (dkc_split_header(msg, len, f, &nf, &body) == -1) {
		v->result = ARC_FAIL;
		why = "the header is past the limits";
		goto done;
	}
	for (i = 0; i < nf; i++) {
		f[i].namelen = dkc_field_name(msg, &f[i]);
		for (k = 0; k < ARC_KINDS; k++)
			if (f[i].namelen == strlen(kind_names[k]) &&
			    strncasecmp(msg + f[i].off, kind_names[k],
			    f[i].namelen) == 0)
				break;
		if (k == ARC_KINDS)
			continue;
		colon = msg + f[i].off + f[i].namelen;
		while (*colon != ':')
			colon++;
		vlen = f[i].len - (size_t)(colon + 1 - (msg + f[i].off));
		/* RFC 8617 5.1.1: a set twice, or no number, is a failure. */
		if ((n = instance(k, colon + 1, vlen)) == 0 ||
		    set[n][k] != NULL) {
			v->result = ARC_FAIL;
			why = "ARC sets that are not numbered well";
			goto done;
		}
		set[n][k] = &f[i];
		if (n > max)
			max = n;
	}
	v->sets = max;
	if (max == 0)
		goto done;		/* ARC_NONE */
	v->result = ARC_FAIL;
	for (n = 1; n <= max; n++)
		for (k = 0; k < ARC_KINDS; k++)
			if (set[n][k] == NULL) {
				why = "an ARC set is incomplete";
				goto done;
			}
	if ((r = check_ams(msg, len, f, nf, body, set[max][ARC_AMS], keyfn,
	    arg, &why)) != 1) {
		v->temp = r == -2;
		goto done;
	}
	for (n = max; n >= 1; n--)
		if ((r = check_seal(msg, set, n, keyfn, arg, n == max ?
		    v->sealer : NULL, sizeof(v->sealer), &why)) != 1) {
			v->temp = r == -2;
			goto done;
		}
	v->result = ARC_PASS;
	why = "";
done:
	(void)osms_strlcpy(v->why, why, sizeof(v->why));
	free(f);
}
