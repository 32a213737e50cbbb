/*
 * DKIM signing (dkim.c): body hashes against values computed apart
 * (sha256 of the relaxed body written out by hand), invariance under
 * what relaxed canonicalization ignores, determinism, folding, limits.
 * test_dkim.py checks the signatures with an outside verifier.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "buf.h"
#include "dkim.h"
#include "test.h"
#include "util.h"

static EVP_PKEY	*ed, *rsa;

static EVP_PKEY *
keygen(int id, int bits)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*k = NULL;

	if ((ctx = EVP_PKEY_CTX_new_id(id, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1 ||
	    (bits > 0 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1) ||
	    EVP_PKEY_keygen(ctx, &k) != 1) {
		(void)printf("# keygen failed\n");
		exit(2);
	}
	EVP_PKEY_CTX_free(ctx);
	return k;
}

/* The signature field for msg, or NULL (then *err says why). */
static char *
sign(const char *msg, EVP_PKEY *key, const char **err)
{
	struct buf	 b = BUF_INIT(65536);

	if (dkim_signature(msg, strlen(msg), "example.test", "sel", key,
	    1700000000, &b, err) == -1) {
		buf_free(&b);
		return NULL;
	}
	return buf_release(&b, NULL);
}

/* The value of tag (e.g. "bh=") in a signature, FWS removed. */
static char *
tag(const char *sig, const char *name)
{
	const char	*p = strstr(sig, name);
	char		*v = calloc(1, 1024);
	size_t		 n = 0;

	if (p == NULL || v == NULL)
		return v;
	for (p += strlen(name); *p != ';' && *p != '\0' && n < 1023; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			v[n++] = *p;
	return v;
}

static int
bh_is(const char *msg, const char *want)
{
	const char	*err;
	char		*s = sign(msg, ed, &err), *v;
	int		 ok;

	if (s == NULL) {
		(void)printf("# sign: %s\n", err);
		return 0;
	}
	v = tag(s, "bh=");
	ok = strcmp(v, want) == 0;
	if (!ok)
		(void)printf("# bh=%s, want %s\n", v, want);
	free(v);
	free(s);
	return ok;
}

static void
test_body_hash(void)
{
	test_begin("dkim: relaxed body hashes");
	/* "Hi Bob,\r\n\r\n this is a test.\r\n" */
	test_assert(bh_is("From: a@example.test\r\n\r\n"
	    "Hi Bob,  \r\n\r\n  this is a test.\r\n\r\n\r\n",
	    "Vo+5SPECSZMU8bhKn2EHylN7RQ65F4BlEZaJAFpsXos="));
	/* The same with bare LFs, tabs, no final line end. */
	test_assert(bh_is("From: a@example.test\n\n"
	    "Hi Bob, \t\n\n\t this is a test.",
	    "Vo+5SPECSZMU8bhKn2EHylN7RQ65F4BlEZaJAFpsXos="));
	/* Empty bodies (and only empty lines) hash as nothing. */
	test_assert(bh_is("From: a@example.test\r\n\r\n",
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
	test_assert(bh_is("From: a@example.test\r\n\r\n\r\n \r\n\t\r\n",
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
	test_assert(bh_is("From: a@example.test",
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
	/* "a b\r\n\r\nc\r\n": inner empty lines stay. */
	test_assert(bh_is("From: a@example.test\r\n\r\na  b\r\n \r\nc\r\n\r\n",
	    "skj5o4LWCKjNoIGk/fMCUz6alJh8d+XUfND4pygwETY="));
	test_end();
}

static void
test_invariance(void)
{
	static const char	 a[] = "From: Alice <a@example.test>\r\n"
	    "To: b@example.org\r\nSubject: Hello\r\n  world\r\n\r\nbody\r\n";
	static const char	 b[] = "from:Alice   <a@example.test>  \n"
	    "TO:\tb@example.org\nSubject:  Hello world\n\nbody  \n\n";
	static const char	 c[] = "From: Alice <a@example.test>\r\n"
	    "To: b@example.org\r\nSubject: Hello, world\r\n\r\nbody\r\n";
	const char		*err;
	char			*sa, *sb, *sc, *va, *vb, *vc;

	test_begin("dkim: what relaxed ignores changes no signature");
	sa = sign(a, ed, &err);
	sb = sign(b, ed, &err);
	sc = sign(c, ed, &err);
	test_assert(sa != NULL && sb != NULL && sc != NULL);
	if (sa == NULL || sb == NULL || sc == NULL)
		exit(2);
	va = tag(sa, "; b=");
	vb = tag(sb, "; b=");
	vc = tag(sc, "; b=");
	/* Ed25519 is deterministic: equal input, equal signature. */
	test_assert(strlen(va) > 80 && strcmp(va, vb) == 0);
	test_assert(strcmp(va, vc) != 0);
	test_assert(strncmp(sa, "DKIM-Signature: v=1; a=ed25519-sha256; "
	    "c=relaxed/relaxed; d=example.test;", 56) == 0);
	free(va);
	va = tag(sa, " h=");
	test_assert(strcmp(va, "from:from:subject:to") == 0);
	free(va);
	free(vb);
	free(vc);
	free(sa);
	free(sb);
	free(sc);
	test_end();
}

static void
test_output(void)
{
	struct buf	 big = BUF_INIT(SIZE_MAX / 2);
	EVP_PKEY	*small;
	const char	*err, *p, *line;
	char		*s;
	size_t		 i;
	int		 ok = 1;

	test_begin("dkim: folded output, RSA, refusals, limits");
	s = sign("From: a@example.test\r\nReferences: <1@x> <2@x> <3@x>\r\n"
	    "\r\nx\r\n", rsa, &err);
	test_assert(s != NULL && strncmp(s, "DKIM-Signature: v=1; "
	    "a=rsa-sha256;", 34) == 0);
	/* Lines of at most 78 columns, printable ASCII, CRLF TAB folds. */
	for (line = p = s; s != NULL && *p != '\0'; p++) {
		if (*p == '\r') {
			ok &= p[1] == '\n' && p - line <= 78 &&
			    (p[2] == '\t' || p[2] == '\0');
			line = p + 2;
			p++;
		} else
			ok &= (*p >= 0x20 && *p < 0x7f) || *p == '\t';
	}
	test_assert(ok && s != NULL && strlen(s) > 2 &&
	    strcmp(s + strlen(s) - 2, "\r\n") == 0);
	free(s);

	test_assert(sign("To: b@example.org\r\n\r\nx\r\n", ed, &err) == NULL &&
	    strcmp(err, "no From field") == 0);
	test_assert(dkim_signature("From: a@x\r\n\r\n", 13, "example.test",
	    "bad selector", ed, 0, &big, &err) == -1);
	test_assert(dkim_signature("From: a@x\r\n\r\n", 13, "-x.test", "s", ed,
	    0, &big, &err) == -1);
	test_assert(dkim_signature("From: a@x\r\n\r\n", 13, "x..test", "s", ed,
	    0, &big, &err) == -1);
	small = keygen(EVP_PKEY_RSA, 512);
	test_assert(dkim_key_alg(small) == -1 &&
	    dkim_signature("From: a@x\r\n\r\n", 13, "example.test", "s", small,
	    0, &big, &err) == -1);
	EVP_PKEY_free(small);
	/* Past DKIM_MAX_FIELDS fields, or a header past its size. */
	(void)buf_addstr(&big, "From: a@example.test\r\n");
	for (i = 0; i < DKIM_MAX_FIELDS; i++)
		(void)buf_addstr(&big, "X: y\r\n");
	(void)buf_addstr(&big, "\r\nbody\r\n");
	s = sign(big.data, ed, &err);
	test_assert(s == NULL && strcmp(err, "header too large") == 0);
	buf_reset(&big);
	(void)buf_addstr(&big, "From: a@example.test\r\nX: ");
	for (i = 0; i < DKIM_MAX_HEADER / 64 + 1; i++)
		(void)buf_addstr(&big, "0123456789012345678901234567890123456789"
		    "012345678901234567890\r\n ");
	(void)buf_addstr(&big, "\r\n\r\nbody\r\n");
	s = sign(big.data, ed, &err);
	test_assert(s == NULL && strcmp(err, "header too large") == 0);
	buf_free(&big);
	test_end();
}

static void
test_record(void)
{
	struct buf	 b = BUF_INIT(8192);

	test_begin("dkim: DNS records");
	test_assert(dkim_txt_record(ed, &b) == 0 &&
	    strncmp(b.data, "v=DKIM1; k=ed25519; p=", 22) == 0 &&
	    b.len == 22 + 44);
	buf_reset(&b);
	test_assert(dkim_txt_record(rsa, &b) == 0 &&
	    strncmp(b.data, "v=DKIM1; k=rsa; p=MII", 21) == 0);
	buf_free(&b);
	test_end();
}

int
main(void)
{
	ed = keygen(EVP_PKEY_ED25519, 0);
	rsa = keygen(EVP_PKEY_RSA, 2048);
	test_body_hash();
	test_invariance();
	test_output();
	test_record();
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa);
	return test_exit();
}
