/*
 * S/MIME (smime.c) with keys made here: sign and verify, encrypt and
 * decrypt, what a tampered, foreign or unsigned message gets, and the
 * split of header fields between the outside and the content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "smime.h"
#include "test.h"

static const char msg[] = "From: <alice@example.test>\r\n"
    "To: <bob@example.org>\r\nSubject: hello\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\n"
    ". a dot line\r\nFrom the start\r\n";

static EVP_PKEY *
rsa_key(void)
{
	EVP_PKEY	*k = EVP_RSA_gen(2048);

	if (k == NULL)
		abort();
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL ||
	    X509_add_ext(x, e, -1) != 1)
		abort();
	X509_EXTENSION_free(e);
}

/* A certificate for key, signed by ca (or itself), e-mail email, valid
 * for secs from now. */
static X509 *
make_cert_secs(EVP_PKEY *key, X509 *ca, EVP_PKEY *cakey, const char *cn,
    const char *email, long secs)
{
	X509	*x = X509_new();
	char	 san[128];

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), email ? 2 + (secs !=
	    86400) : 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), secs);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(ca != NULL ? ca : x));
	if (email == NULL) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign");
	} else {
		(void)snprintf(san, sizeof(san), "email:%s", email);
		add_ext(x, ca, NID_subject_alt_name, san);
		add_ext(x, ca, NID_key_usage,
		    "digitalSignature,keyEncipherment");
		add_ext(x, ca, NID_ext_key_usage, "emailProtection");
	}
	if (X509_sign(x, cakey != NULL ? cakey : key, EVP_sha256()) == 0)
		abort();
	return x;
}

static X509 *
make_cert(EVP_PKEY *key, X509 *ca, EVP_PKEY *cakey, const char *cn,
    const char *email)
{
	return make_cert_secs(key, ca, cakey, cn, email, 86400);
}

static EVP_PKEY	*cakey, *akey, *otherkey;
static X509	*ca, *acert, *other;

static void
test_sign_verify(void)
{
	struct buf		 s = BUF_INIT(1 << 20), c = BUF_INIT(1 << 20);
	struct smime_verdict	 v;
	X509_STORE		*store = X509_STORE_new();
	X509			*signer = NULL;
	const char		*err;
	const char		*head = "From: <alice@example.test>\r\nTo: "
	    "<bob@example.org>\r\nSubject: hello\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/signed;";
	char			*p;

	test_begin("smime: sign, verify, unwrap; tampered and foreign");
	X509_STORE_add_cert(store, ca);
	test_assert(smime_sign(msg, sizeof(msg) - 1, acert, akey, NULL, &s,
	    &err) == 0);
	/* Outer fields stay out; the content became 7bit (QP). */
	test_assert(strncmp(s.data, head, strlen(head)) == 0);
	test_assert(strstr(s.data, "micalg=sha-256") != NULL);
	test_assert(strstr(s.data, "Content-Transfer-Encoding: "
	    "quoted-printable") != NULL);
	test_assert(smime_verify(s.data, s.len, store, &v, &c, &signer,
	    &err) == 0 && v.result == SMIME_VERIFIED &&
	    strcmp(v.signer, "alice@example.test") == 0 && signer != NULL);
	X509_free(signer);
	test_assert(c.data != NULL && strstr(c.data, "Subject: hello\r\n") !=
	    NULL && strstr(c.data, "Gr=C3=BC=C3=9Fe") != NULL);
	/* One byte of the content changed. */
	p = strstr(s.data, "a dot line");
	test_assert(p != NULL);
	if (p != NULL)
		p[2] = 'D';
	test_assert(smime_verify(s.data, s.len, store, &v, NULL, NULL,
	    &err) == 0 && v.result == SMIME_FAILED && v.reason[0] != '\0');
	/* Signed by a certificate of no trusted CA. */
	buf_reset(&s);
	test_assert(smime_sign(msg, sizeof(msg) - 1, other, otherkey, NULL,
	    &s, &err) == 0);
	test_assert(smime_verify(s.data, s.len, store, &v, NULL, NULL,
	    &err) == 0 && v.result == SMIME_FAILED);
	/* Not signed at all. */
	test_assert(smime_verify(msg, sizeof(msg) - 1, store, &v, NULL, NULL,
	    &err) == 0 && v.result == SMIME_NOT_SIGNED);
	X509_STORE_free(store);
	buf_free(&s);
	buf_free(&c);
	test_end();
}

/*
 * signed (a signed message) with one byte of its certificate in der
 * changed at offset from the certificate's end: the signature part's
 * base64 decoded, changed, encoded again into out.
 */
static int
alter_cert(const struct buf *signed_, X509 *cert, size_t from_end,
    struct buf *out)
{
	const char	*start, *stop, *mark = "filename=\"smime.p7s\"\r\n\r\n";
	unsigned char	*der = NULL, *cder = NULL, *hit = NULL, *q;
	char		*b64 = NULL, line[100];
	size_t		 n = 0, i, dlen;
	int		 clen, rc = -1, pad = 0;

	if ((start = strstr(signed_->data, mark)) == NULL ||
	    (stop = strstr(start, "\r\n\r\n--")) == NULL)
		return -1;
	start += strlen(mark);
	if ((b64 = malloc((size_t)(stop - start) + 1)) == NULL ||
	    (der = malloc((size_t)(stop - start))) == NULL)
		goto done;
	for (i = 0; start + i < stop; i++)
		if (start[i] != '\r' && start[i] != '\n')
			b64[n++] = start[i];
	pad = (n > 0 && b64[n - 1] == '=') + (n > 1 && b64[n - 2] == '=');
	if (EVP_DecodeBlock(der, (unsigned char *)b64, (int)n) < 0)
		goto done;
	dlen = n / 4 * 3 - (size_t)pad;
	if ((clen = i2d_X509(cert, &cder)) <= 0 || (size_t)clen < from_end)
		goto done;
	for (q = der; q + clen <= der + dlen; q++)
		if (memcmp(q, cder, (size_t)clen) == 0) {
			hit = q;
			break;
		}
	if (hit == NULL)
		goto done;
	hit[clen - 1 - (long)from_end] ^= 0x01;
	if (buf_add(out, signed_->data, (size_t)(start - signed_->data)) == -1)
		goto done;
	for (i = 0; i < dlen; i += 48) {
		EVP_EncodeBlock((unsigned char *)line, der + i,
		    dlen - i < 48 ? (int)(dlen - i) : 48);
		if (buf_addstr(out, line) == -1 || buf_add(out, "\r\n", 2) == -1)
			goto done;
	}
	if (buf_add(out, stop + 2, strlen(stop + 2)) == -1)
		goto done;
	rc = 0;
done:
	free(b64);
	free(der);
	OPENSSL_free(cder);
	return rc;
}

/* An offset from the end of cert's DER into its public key's modulus. */
static size_t
in_pubkey(X509 *cert)
{
	unsigned char	*c = NULL, *k = NULL, *q;
	int		 clen = i2d_X509(cert, &c);
	int		 klen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &k);
	size_t		 off = 0;

	for (q = c; clen > 0 && klen > 0 && q + klen <= c + clen; q++)
		if (memcmp(q, k, (size_t)klen) == 0) {
			off = (size_t)(c + clen - (q + klen / 2));
			break;
		}
	OPENSSL_free(c);
	OPENSSL_free(k);
	if (off == 0)
		abort();
	return off;
}

static void
test_cert_cache(void)
{
	struct buf		 s = BUF_INIT(1 << 20), bad = BUF_INIT(1 << 20);
	struct smime_verdict	 v;
	STACK_OF(X509)		*chain = sk_X509_new_null();
	X509_STORE		*store = X509_STORE_new();
	X509			*s1 = NULL, *s2 = NULL, *s3 = NULL;
	const char		*err;

	test_begin("smime: the certificates of a signature parsed once, by"
	    " their exact bytes");
	if (chain == NULL || store == NULL || !sk_X509_push(chain, ca) ||
	    X509_STORE_add_cert(store, ca) != 1)
		abort();
	test_assert(smime_sign(msg, sizeof(msg) - 1, acert, akey, chain, &s,
	    &err) == 0);
	test_assert(smime_verify(s.data, s.len, store, &v, NULL, &s1,
	    &err) == 0 && v.result == SMIME_VERIFIED && s1 != NULL &&
	    X509_cmp(s1, acert) == 0);
	/* Again: the same object, from the cache. */
	test_assert(smime_verify(s.data, s.len, store, &v, NULL, &s2,
	    &err) == 0 && v.result == SMIME_VERIFIED && s2 == s1);
	/* The certificate's signature altered: not the cached one, and the
	 * chain no longer holds. */
	test_assert(alter_cert(&s, acert, 0, &bad) == 0);
	test_assert(smime_verify(bad.data, bad.len, store, &v, NULL, &s3,
	    &err) == 0 && v.result == SMIME_FAILED && s3 == NULL);
	/* Its public key altered: the signature no longer verifies. */
	buf_reset(&bad);
	test_assert(alter_cert(&s, acert, in_pubkey(acert), &bad) == 0);
	test_assert(smime_verify(bad.data, bad.len, store, &v, NULL, &s3,
	    &err) == 0 && v.result == SMIME_FAILED && s3 == NULL);
	/* And the original still verifies as it did. */
	X509_free(s2);
	s2 = NULL;
	test_assert(smime_verify(s.data, s.len, store, &v, NULL, &s2,
	    &err) == 0 && v.result == SMIME_VERIFIED && s2 == s1);
	X509_free(s1);
	X509_free(s2);
	X509_free(s3);
	sk_X509_free(chain);
	X509_STORE_free(store);
	buf_free(&s);
	buf_free(&bad);
	test_end();
}

/* A CRL of the CA that revokes x. */
static X509_CRL *
make_crl(X509 *x)
{
	X509_CRL	*crl = X509_CRL_new();
	X509_REVOKED	*r = X509_REVOKED_new();
	ASN1_TIME	*t = ASN1_TIME_new();

	if (crl == NULL || r == NULL || t == NULL ||
	    X509_CRL_set_version(crl, 1) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
	    X509_gmtime_adj(t, -60) == NULL ||
	    X509_CRL_set1_lastUpdate(crl, t) != 1 ||
	    X509_REVOKED_set_revocationDate(r, t) != 1 ||
	    X509_gmtime_adj(t, 86400) == NULL ||
	    X509_CRL_set1_nextUpdate(crl, t) != 1 ||
	    X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(x)) != 1 ||
	    X509_CRL_add0_revoked(crl, r) != 1 || X509_CRL_sort(crl) != 1 ||
	    X509_CRL_sign(crl, cakey, EVP_sha256()) == 0)
		abort();
	ASN1_TIME_free(t);
	return crl;
}

static int
verifies(const struct buf *s, X509_STORE *store)
{
	struct smime_verdict	 v;
	const char		*err;

	return smime_verify(s->data, s->len, store, &v, NULL, NULL,
	    &err) == 0 && v.result == SMIME_VERIFIED;
}

static void
test_chain_cache(void)
{
	struct buf	 s = BUF_INIT(1 << 20), b = BUF_INIT(1 << 20);
	X509_STORE	*store = X509_STORE_new(), *bare = X509_STORE_new();
	EVP_PKEY	*bk = rsa_key();
	X509		*brief = make_cert_secs(bk, ca, cakey, "brief",
			    "brief@example.test", 2);
	X509_CRL	*crl = make_crl(acert);
	const char	*err;

	test_begin("smime: a signer chain that verified serves again only"
	    " for that store as it is, and not past its end");
	/* bare: as many objects as store, but not its anchor. */
	if (store == NULL || bare == NULL || X509_STORE_add_cert(store,
	    ca) != 1 || X509_STORE_add_cert(bare, other) != 1)
		abort();
	test_assert(smime_sign(msg, sizeof(msg) - 1, acert, akey, NULL, &s,
	    &err) == 0);
	test_assert(verifies(&s, store));
	test_assert(verifies(&s, store));
	test_assert(!verifies(&s, bare));	/* another store, no anchor */
	/* A CRL that revokes the signer: checked once the store says so. */
	test_assert(X509_STORE_add_crl(store, crl) == 1);
	test_assert(verifies(&s, store));
	test_assert(X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) == 1);
	test_assert(!verifies(&s, store));
	smime_forget();
	test_assert(!verifies(&s, store));
	/* Chains the check refuses are never kept: a signer certificate
	 * for TLS servers only, twice. */
	{
		struct smime_verdict	 v;
		X509_STORE		*clean = X509_STORE_new();
		X509			*web = make_cert(bk, ca, cakey, "web",
					    "web@example.test");
		int			 i;

		if (clean == NULL || X509_STORE_add_cert(clean, ca) != 1)
			abort();
		test_assert(verifies(&s, clean));	/* kept: alice */

		X509_EXTENSION_free(X509_delete_ext(web,
		    X509_get_ext_by_NID(web, NID_ext_key_usage, -1)));
		add_ext(web, ca, NID_ext_key_usage, "serverAuth");
		if (X509_sign(web, cakey, EVP_sha256()) == 0)
			abort();
		buf_reset(&b);
		test_assert(smime_sign(msg, sizeof(msg) - 1, web, bk, NULL,
		    &b, &err) == 0);
		for (i = 0; i < 2; i++)
			test_assert(smime_verify(b.data, b.len, clean, &v, NULL,
			    NULL, &err) == 0 && v.result == SMIME_FAILED &&
			    strstr(v.reason, "certificate verify error") !=
			    NULL);
		X509_free(web);
		X509_STORE_free(clean);
	}
	test_assert(verifies(&s, store) == 0);	/* still revoked */
	/* A signer certificate that ends in 2 s. */
	buf_reset(&b);
	test_assert(smime_sign(msg, sizeof(msg) - 1, brief, bk, NULL, &b,
	    &err) == 0);
	test_assert(verifies(&b, bare) == 0);
	X509_STORE_free(store);
	if ((store = X509_STORE_new()) == NULL || X509_STORE_add_cert(store,
	    ca) != 1)
		abort();
	test_assert(verifies(&b, store));
	test_assert(verifies(&b, store));
	(void)sleep(3);
	test_assert(!verifies(&b, store));
	X509_STORE_free(store);
	X509_STORE_free(bare);
	X509_CRL_free(crl);
	X509_free(brief);
	EVP_PKEY_free(bk);
	buf_free(&s);
	buf_free(&b);
	test_end();
}

/* The encrypted message e with its base64 body written again: lines of
 * width characters, each after lead and ending in eol. */
static void
rewrap_base64(const struct buf *e, size_t width, const char *lead,
    const char *eol, struct buf *out)
{
	const char	*body = strstr(e->data, "\r\n\r\n"), *p;
	size_t		 col = 0;

	if (body == NULL || buf_add(out, e->data, (size_t)(body - e->data) +
	    4) == -1)
		abort();
	for (p = body + 4; p < e->data + e->len; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if ((col == 0 && buf_addstr(out, lead) == -1) ||
		    buf_addc(out, *p) == -1)
			abort();
		if (++col == width) {
			col = 0;
			if (buf_addstr(out, eol) == -1)
				abort();
		}
	}
	if (col > 0 && buf_addstr(out, eol) == -1)
		abort();
}

static void
test_base64_forms(void)
{
	struct buf	 e = BUF_INIT(1 << 20), w = BUF_INIT(1 << 20);
	struct buf	 d = BUF_INIT(1 << 20);
	STACK_OF(X509)	*r = sk_X509_new_null();
	const char	*err;
	static const struct {
		size_t		 width;
		const char	*lead, *eol;
	} forms[] = {
		{ 76, "", "\n" },		/* the plain form, LF */
		{ 72, "", "\r\n" },
		{ 64, " ", "\r\n" },		/* spaces: the base64 BIO's */
		{ 100, "", "\r\n" },		/* long lines: the BIO's */
		{ 76, "", "\r\n\r\n" },	/* blank lines between */
	};
	size_t		 i;

	test_begin("smime: base64 bodies in other line forms decrypt the"
	    " same");
	if (r == NULL || !sk_X509_push(r, acert))
		abort();
	test_assert(smime_encrypt(msg, sizeof(msg) - 1, r, 0, &e, &err) == 0);
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		buf_reset(&w);
		buf_reset(&d);
		rewrap_base64(&e, forms[i].width, forms[i].lead, forms[i].eol,
		    &w);
		test_assert(smime_decrypt(w.data, w.len, acert, akey, &d,
		    &err) == 0 && d.data != NULL && strstr(d.data,
		    ". a dot line") != NULL);
	}
	/* One character that is not base64: neither decodes it. */
	buf_reset(&w);
	rewrap_base64(&e, 76, "", "\r\n", &w);
	w.data[w.len - 10] = '*';
	test_assert(smime_decrypt(w.data, w.len, acert, akey, &d,
	    &err) == -1);
	sk_X509_free(r);
	buf_free(&e);
	buf_free(&w);
	buf_free(&d);
	test_end();
}

static void
test_encrypt_decrypt(void)
{
	struct buf	 e = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
	STACK_OF(X509)	*r = sk_X509_new_null();
	const char	*err;

	test_begin("smime: encrypt and decrypt; the wrong key");
	(void)sk_X509_push(r, acert);
	test_assert(smime_encrypt(msg, sizeof(msg) - 1, r, 0, &e, &err) == 0);
	test_assert(smime_is_encrypted(e.data, e.len));
	test_assert(!smime_is_encrypted(msg, sizeof(msg) - 1));
	test_assert(strstr(e.data, "smime-type=enveloped-data") != NULL &&
	    strstr(e.data, "Subject: hello\r\n") != NULL &&
	    strstr(e.data, "a dot line") == NULL);
	test_assert(smime_decrypt(e.data, e.len, acert, akey, &d, &err) ==
	    0);
	test_assert(d.data != NULL && strstr(d.data, "Content-Transfer-"
	    "Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\n. a dot line") !=
	    NULL);
	buf_reset(&d);
	test_assert(smime_decrypt(e.data, e.len, other, otherkey, &d, &err) ==
	    -1 && d.len == 0);
	test_assert(smime_decrypt(msg, sizeof(msg) - 1, acert, akey, &d,
	    &err) == -1);
	sk_X509_free(r);
	buf_free(&e);
	buf_free(&d);
	test_end();
}

/* The key encryption algorithm of the first recipient of an
 * application/pkcs7-mime message. */
static int
key_transport(const struct buf *e)
{
	const char		*b64 = strstr(e->data, "\r\n\r\n");
	BIO			*mem, *dec;
	CMS_ContentInfo		*cms;
	STACK_OF(CMS_RecipientInfo) *ris;
	X509_ALGOR		*alg = NULL;
	int			 nid = NID_undef;

	if (b64 == NULL || (mem = BIO_new_mem_buf(b64 + 4,
	    (int)(e->len - (size_t)(b64 + 4 - e->data)))) == NULL ||
	    (dec = BIO_new(BIO_f_base64())) == NULL)
		abort();
	dec = BIO_push(dec, mem);
	if ((cms = d2i_CMS_bio(dec, NULL)) != NULL &&
	    (ris = CMS_get0_RecipientInfos(cms)) != NULL &&
	    sk_CMS_RecipientInfo_num(ris) > 0 &&
	    CMS_RecipientInfo_ktri_get0_algs(sk_CMS_RecipientInfo_value(ris,
	    0), NULL, NULL, &alg) == 1)
		nid = OBJ_obj2nid(alg->algorithm);
	CMS_ContentInfo_free(cms);
	BIO_free_all(dec);
	return nid;
}

static void
test_oaep(void)
{
	struct buf	 e = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
	STACK_OF(X509)	*r = sk_X509_new_null();
	const char	*err;

	test_begin("smime: RSAES-OAEP key transport when asked, PKCS #1 v1.5"
	    " else; both decrypt");
	(void)sk_X509_push(r, acert);
	test_assert(smime_encrypt(msg, sizeof(msg) - 1, r, SMIME_CAP_OAEP, &e,
	    &err) == 0);
	test_assert(key_transport(&e) == NID_rsaesOaep);
	test_assert(smime_decrypt(e.data, e.len, acert, akey, &d, &err) ==
	    0 && strstr(d.data, ". a dot line") != NULL);
	buf_reset(&e);
	buf_reset(&d);
	test_assert(smime_encrypt(msg, sizeof(msg) - 1, r, 0, &e, &err) == 0);
	test_assert(key_transport(&e) == NID_rsaEncryption);
	test_assert(smime_decrypt(e.data, e.len, acert, akey, &d, &err) ==
	    0);
	sk_X509_free(r);
	buf_free(&e);
	buf_free(&d);
	test_end();
}

static void
test_gcm(void)
{
	struct buf	 e = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
	struct buf	 sig = BUF_INIT(1 << 20);
	struct smime_verdict v;
	STACK_OF(X509)	*r = sk_X509_new_null();
	X509_STORE	*store = X509_STORE_new();
	const char	*err, *b64;
	char		*p;
	size_t		 at;

	test_begin("smime: AES-GCM authenticated-enveloped-data; tampering"
	    " is refused; our signatures announce GCM");
	(void)sk_X509_push(r, acert);
	test_assert(smime_encrypt(msg, sizeof(msg) - 1, r, SMIME_CAP_GCM, &e,
	    &err) == 0);
	test_assert(strstr(e.data, "smime-type=authEnveloped-data") != NULL);
	test_assert(smime_is_encrypted(e.data, e.len));
	test_assert(smime_decrypt(e.data, e.len, acert, akey, &d, &err) ==
	    0 && strstr(d.data, ". a dot line") != NULL);
	/* One base64 character changed near the end (the ciphertext or
	 * its tag): GCM must refuse it, never hand out altered text. */
	b64 = strstr(e.data, "\r\n\r\n");
	at = e.len - 200;
	test_assert(b64 != NULL && at > (size_t)(b64 - e.data));
	p = e.data + at;
	while (*p == '\r' || *p == '\n')
		p++;
	*p = *p == 'A' ? 'B' : 'A';
	buf_reset(&d);
	test_assert(smime_decrypt(e.data, e.len, acert, akey, &d, &err) ==
	    -1);
	/* What we sign says we take GCM; verify reads it back. */
	(void)X509_STORE_add_cert(store, ca);
	test_assert(smime_sign(msg, sizeof(msg) - 1, acert, akey, NULL, &sig,
	    &err) == 0);
	test_assert(smime_verify(sig.data, sig.len, store, &v, NULL, NULL,
	    &err) == 0 && v.result == SMIME_VERIFIED &&
	    v.caps == (SMIME_CAP_GCM | SMIME_CAP_OAEP));
	X509_STORE_free(store);
	sk_X509_free(r);
	buf_free(&e);
	buf_free(&d);
	buf_free(&sig);
	test_end();
}

int
main(void)
{
	cakey = rsa_key();
	akey = rsa_key();
	otherkey = rsa_key();
	ca = make_cert(cakey, NULL, NULL, "Test CA", NULL);
	acert = make_cert(akey, ca, cakey, "alice", "alice@example.test");
	other = make_cert(otherkey, NULL, otherkey, "mallory",
	    "mallory@example.test");
	test_sign_verify();
	test_cert_cache();
	test_chain_cache();
	test_encrypt_decrypt();
	test_base64_forms();
	test_oaep();
	test_gcm();
	X509_free(ca);
	X509_free(acert);
	X509_free(other);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(akey);
	EVP_PKEY_free(otherkey);
	return test_exit();
}
