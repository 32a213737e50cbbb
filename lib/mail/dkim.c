/*
 * DKIM signing (see dkim.h).
 *
 * The header block is split into fields once; the body is canonicalized
 * and hashed line by line, with the empty lines at its end held back
 * (RFC 6376 3.4.4) so that nothing is copied. The DKIM-Signature field
 * is built folded, exactly as it will be sent, and that text (with b=
 * empty) is what goes into the signature after relaxed canonicalization.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dkim.h"
#include "dkimcanon.h"
#include "util.h"

#define FOLD_AT		76	/* output columns before a fold */

/* Signed when present, in this order; From once more than present. */
static const char *const sign_fields[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "content-disposition", "list-id",
	"list-unsubscribe", "list-unsubscribe-post",
};

int
dkim_key_alg(EVP_PKEY *key)
{
	if (key == NULL)
		return -1;
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
	    EVP_PKEY_get_bits(key) >= 1024)
		return DKIM_RSA_SHA256;
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519)
		return DKIM_ED25519_SHA256;
	return -1;
}

/* base64 of p into out, as one run. */
static int
add_b64(struct buf *out, const void *p, size_t len)
{
	char	*tmp;
	int	 n, r = -1;

	tmp = xmalloc(len / 3 * 4 + 8);
	if ((n = base64_encode(p, len, tmp, len / 3 * 4 + 8)) >= 0)
		r = buf_add(out, tmp, (size_t)n);
	free(tmp);
	return r;
}

/*
 * Append s to the field being built, folding before it when the line
 * would pass FOLD_AT columns; col is the current column. Long values
 * (base64) are cut at FOLD_AT, which FWS allows inside them.
 */
static void
fold_add(struct buf *out, size_t *col, const char *s, size_t len, int cut)
{
	size_t	 n;

	if (*col + len > FOLD_AT && *col > 1) {
		(void)buf_add(out, "\r\n\t", 3);
		*col = 1;
		if (len > 0 && *s == ' ') {	/* the fold is the space */
			s++;
			len--;
		}
	}
	while (cut && *col + len > FOLD_AT) {
		n = FOLD_AT - *col;
		(void)buf_add(out, s, n);
		(void)buf_add(out, "\r\n\t", 3);
		*col = 1;
		s += n;
		len -= n;
	}
	(void)buf_add(out, s, len);
	*col += len;
}

int
dkim_signature(const char *msg, size_t len, const char *domain,
    const char *selector, EVP_PKEY *key, time_t now, struct buf *out,
    const char **errstr)
{
	struct dkc_field	*f = NULL;
	struct buf	 sig = BUF_INIT(DKIM_MAX_HEADER * 2 + 65536);
	struct buf	 data = BUF_INIT(DKIM_MAX_HEADER * 2 + 65536);
	struct buf	 b64 = BUF_INIT(4096);
	EVP_MD_CTX	*md = NULL, *sctx = NULL;
	unsigned char	 bh[EVP_MAX_MD_SIZE], hash[EVP_MAX_MD_SIZE];
	unsigned char	 s[1024];
	unsigned int	 bhlen, hlen;
	size_t		 nf, body, i, k, j, col, slen = sizeof(s);
	size_t		 nl, count;
	const char	*name;
	char		 tag[128];
	int		 alg, r = -1, from = 0;

	*errstr = NULL;
	if ((alg = dkim_key_alg(key)) == -1) {
		*errstr = "not an RSA (1024 bits or more) or Ed25519 key";
		return -1;
	}
	if (!dkc_name_ok(domain, DKIM_MAX_DOMAIN) ||
	    !dkc_name_ok(selector, DKIM_MAX_SELECTOR)) {
		*errstr = "invalid domain or selector";
		return -1;
	}
	f = xreallocarray(NULL, DKIM_MAX_FIELDS, sizeof(*f));
	if (dkc_split_header(msg, len, f, &nf, &body) == -1) {
		*errstr = "header too large";
		goto done;
	}
	for (i = 0; i < nf; i++) {
		f[i].namelen = dkc_field_name(msg, &f[i]);
		if (f[i].namelen == 4 &&
		    strncasecmp(msg + f[i].off, "from", 4) == 0)
			from++;
	}
	if (from == 0) {
		*errstr = "no From field";
		goto done;
	}

	/* bh=: the body. */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    dkc_hash_body(msg, len, body, md) == -1 ||
	    EVP_DigestFinal_ex(md, bh, &bhlen) != 1) {
		*errstr = "body hash failed";
		goto done;
	}

	/* The field, folded as it is sent, b= empty. */
	(void)buf_addstr(&sig, "DKIM-Signature:");
	col = 15;
	(void)snprintf(tag, sizeof(tag), " v=1; a=%s; c=relaxed/relaxed;",
	    alg == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256");
	fold_add(&sig, &col, tag, strlen(tag), 0);
	(void)snprintf(tag, sizeof(tag), " d=%s;", domain);
	fold_add(&sig, &col, tag, strlen(tag), 0);
	(void)snprintf(tag, sizeof(tag), " s=%s;", selector);
	fold_add(&sig, &col, tag, strlen(tag), 0);
	(void)snprintf(tag, sizeof(tag), " t=%lld;", (long long)now);
	fold_add(&sig, &col, tag, strlen(tag), 0);
	fold_add(&sig, &col, " h=", 3, 0);
	count = 0;
	for (k = 0; k < nitems(sign_fields); k++) {
		name = sign_fields[k];
		nl = strlen(name);
		j = 0;
		for (i = 0; i < nf; i++)
			if (f[i].namelen == nl &&
			    strncasecmp(msg + f[i].off, name, nl) == 0)
				j++;
		if (strcmp(name, "from") == 0)
			j++;	/* none may be added after signing */
		for (; j > 0; j--) {
			(void)snprintf(tag, sizeof(tag), "%s%s",
			    count++ > 0 ? ":" : "", name);
			fold_add(&sig, &col, tag, strlen(tag), 0);
		}
	}
	fold_add(&sig, &col, "; bh=", 5, 0);
	(void)add_b64(&b64, bh, bhlen);
	fold_add(&sig, &col, b64.data, b64.len, 1);
	fold_add(&sig, &col, "; b=", 4, 0);
	if (sig.over)
		goto fail;

	/* What is signed: the h= fields from the bottom up, then ours. */
	for (k = 0; k < nitems(sign_fields); k++) {
		name = sign_fields[k];
		nl = strlen(name);
		for (i = nf; i > 0; i--) {
			if (f[i - 1].namelen != nl || f[i - 1].used ||
			    strncasecmp(msg + f[i - 1].off, name, nl) != 0)
				continue;
			f[i - 1].used = 1;
			if (dkc_canon_field(msg + f[i - 1].off, f[i - 1].len, 1,
			    &data) == -1)
				goto fail;
		}
		/* An entry with no field left signs nothing (From + 1). */
	}
	if (dkc_canon_field(sig.data, sig.len, 0, &data) == -1)
		goto fail;

	if ((sctx = EVP_MD_CTX_new()) == NULL)
		goto fail;
	if (alg == DKIM_RSA_SHA256) {
		if (EVP_DigestSignInit(sctx, NULL, EVP_sha256(), NULL,
		    key) != 1 || EVP_DigestSign(sctx, s, &slen,
		    (const unsigned char *)data.data, data.len) != 1)
			goto fail;
	} else {
		/* RFC 8463: Ed25519 over the SHA-256 of the data. */
		if (EVP_Digest(data.data, data.len, hash, &hlen,
		    EVP_sha256(), NULL) != 1 ||
		    EVP_DigestSignInit(sctx, NULL, NULL, NULL, key) != 1 ||
		    EVP_DigestSign(sctx, s, &slen, hash, hlen) != 1)
			goto fail;
	}
	buf_reset(&b64);
	b64.max = 4096;
	if (add_b64(&b64, s, slen) == -1)
		goto fail;
	fold_add(&sig, &col, b64.data, b64.len, 1);
	(void)buf_add(&sig, "\r\n", 2);
	if (sig.over || buf_add(out, sig.data, sig.len) == -1)
		goto fail;
	r = 0;
	goto done;

 fail:
	if (*errstr == NULL)
		*errstr = "signing failed";
 done:
	EVP_MD_CTX_free(md);
	EVP_MD_CTX_free(sctx);
	buf_free(&sig);
	buf_free(&data);
	buf_free(&b64);
	free(f);
	return r;
}

int
dkim_txt_record(EVP_PKEY *key, struct buf *out)
{
	unsigned char	*der = NULL, raw[64];
	size_t		 rawlen = sizeof(raw);
	int		 n, r = -1;

	switch (dkim_key_alg(key)) {
	case DKIM_RSA_SHA256:
		if ((n = i2d_PUBKEY(key, &der)) <= 0)
			return -1;
		(void)buf_addstr(out, "v=DKIM1; k=rsa; p=");
		r = add_b64(out, der, (size_t)n);
		OPENSSL_free(der);
		break;
	case DKIM_ED25519_SHA256:
		if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1)
			return -1;
		(void)buf_addstr(out, "v=DKIM1; k=ed25519; p=");
		r = add_b64(out, raw, rawlen);
		break;
	default:
		return -1;
	}
	return r == -1 || out->over ? -1 : 0;
}

int
dkim_from_count(const char *msg, size_t len)
{
	struct dkc_field	*f;
	size_t		 nf, body, i;
	int		 n = 0;

	f = xreallocarray(NULL, DKIM_MAX_FIELDS, sizeof(*f));
	if (dkc_split_header(msg, len, f, &nf, &body) == -1)
		n = -1;
	else
		for (i = 0; i < nf; i++)
			if (dkc_field_name(msg, &f[i]) == 4 &&
			    strncasecmp(msg + f[i].off, "from", 4) == 0)
				n++;
	free(f);
	return n;
}

int
dkim_from_domain(const char *msg, size_t len, char *out, size_t size)
{
	struct dkc_field	*f;
	struct buf	 v = BUF_INIT(DKIM_MAX_HEADER);
	size_t		 nf, body, i, n;
	const char	*val, *lt, *gt, *at;
	int		 r = -1;

	f = xreallocarray(NULL, DKIM_MAX_FIELDS, sizeof(*f));
	if (dkc_split_header(msg, len, f, &nf, &body) == -1)
		goto done;
	for (i = 0; i < nf; i++) {
		f[i].namelen = dkc_field_name(msg, &f[i]);
		if (f[i].namelen == 4 &&
		    strncasecmp(msg + f[i].off, "from", 4) == 0)
			break;
	}
	if (i == nf || dkc_canon_field(msg + f[i].off, f[i].len, 0, &v) == -1)
		goto done;
	/* "from:Name <local@domain>" or "from:local@domain" */
	val = v.data + 5;
	if ((lt = strrchr(val, '<')) != NULL &&
	    (gt = strchr(lt, '>')) != NULL) {
		val = lt + 1;
		v.data[gt - v.data] = '\0';
	}
	if ((at = strrchr(val, '@')) == NULL)
		goto done;
	n = strcspn(at + 1, " \t>,;()");
	if (n == 0 || n >= size)
		goto done;
	memcpy(out, at + 1, n);
	out[n] = '\0';
	for (i = 0; i < n; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] + 32);
	if (dkc_name_ok(out, DKIM_MAX_DOMAIN))
		r = 0;
done:
	buf_free(&v);
	free(f);
	return r;
}
