/*
 * checkd's sender authentication (senderauth.c, dns.c) with the real
 * libraries: libspf2, libopendkim and libopendmarc answer from records
 * that libunbound serves as local data, so no name server is needed.
 * Also authres.c's field and decisions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <unbound.h>

#include "authres.h"
#include "buf.h"
#include "dkim.h"
#include "log.h"
#include "senderauth.h"
#include "test.h"

#define PSL	"/usr/share/publicsuffix/public_suffix_list.dat"
#define CLIENT	"192.0.2.10"

static struct ub_ctx	*ctx;
static EVP_PKEY		*key;

static void
record(const char *rr)
{
	if (ub_ctx_data_add(ctx, rr) != 0) {
		fprintf(stderr, "local data %s refused\n", rr);
		exit(2);
	}
}

static void
setup(void)
{
	EVP_PKEY_CTX	*kc;
	struct buf	 txt = BUF_INIT(8192);
	char		 err[256], *rr;

	if (sa_init(PSL, err, sizeof(err)) == -1) {
		fprintf(stderr, "sa_init: %s\n", err);
		exit(2);
	}
	if ((kc = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(kc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(kc, 2048) != 1 ||
	    EVP_PKEY_keygen(kc, &key) != 1)
		exit(2);
	EVP_PKEY_CTX_free(kc);
	if (dkim_txt_record(key, &txt) == -1 || buf_add(&txt, "", 1) == -1)
		exit(2);
	/* Every name is local: one that is not given does not exist. */
	if ((ctx = ub_ctx_create()) == NULL ||
	    ub_ctx_zone_add(ctx, ".", "static") != 0)
		exit(2);
	record("good.test. TXT \"v=spf1 ip4:192.0.2.10 -all\"");
	record("mx.good.test. TXT \"v=spf1 a -all\"");
	record("mx.good.test. A 192.0.2.10");
	record("_dmarc.good.test. TXT \"v=DMARC1; p=reject\"");
	/* A TXT character-string holds 255 bytes: cut it in two. */
	if (strlen(txt.data) < 256 || asprintf(&rr, "s1._domainkey.good.test."
	    " TXT \"%.200s\" \"%s\"", txt.data, txt.data + 200) == -1)
		exit(2);
	record(rr);
	free(rr);
	record("fail.test. TXT \"v=spf1 ip4:198.51.100.1 -all\"");
	record("soft.test. TXT \"v=spf1 ~all\"");
	record("neutral.test. TXT \"v=spf1 ?all\"");
	record("broken.test. TXT \"v=spf1 ip4:not-an-address -all\"");
	record("strict.test. TXT \"v=spf1 -all\"");
	record("_dmarc.strict.test. TXT \"v=DMARC1; p=reject\"");
	record("quar.test. TXT \"v=spf1 -all\"");
	record("_dmarc.quar.test. TXT \"v=DMARC1; p=quarantine\"");
	record("sub.org.test. TXT \"v=spf1 -all\"");
	record("_dmarc.org.test. TXT \"v=DMARC1; p=none; sp=reject\"");
	buf_free(&txt);
}

/* A message from from, signed by good.test's key if sign. */
static char *
message(const char *from, int sign, size_t *len)
{
	struct buf	 out = BUF_INIT(1 << 20);
	char		*msg, *r;
	const char	*err;

	if (asprintf(&msg, "From: %s\r\nTo: a@example.test\r\nSubject: hi\r\n"
	    "\r\nHello.\r\n", from) == -1)
		exit(2);
	if (sign && dkim_signature(msg, strlen(msg), "good.test", "s1", key,
	    time(NULL), &out, &err) == -1) {
		fprintf(stderr, "sign: %s\n", err);
		exit(2);
	}
	(void)buf_add(&out, msg, strlen(msg));
	free(msg);
	r = malloc(out.len + 1);
	memcpy(r, out.data, out.len);
	r[out.len] = '\0';
	*len = out.len;
	buf_free(&out);
	return r;
}

static void
check(const char *ip, const char *helo, const char *sender, const char *from,
    int sign, struct authres *ar)
{
	struct sa_input	 in;
	size_t		 len;
	char		*msg = message(from, sign, &len);
	char		*at = strrchr(from, '@');

	memset(&in, 0, sizeof(in));
	in.ip = ip;
	in.helo = helo;
	in.sender = sender;
	in.hostname = "mx.example.test";
	in.msg = msg;
	in.len = len;
	in.from_fields = 1;
	in.from_domain = at != NULL ? at + 1 : "";
	in.spf = in.dkim = in.dmarc = 1;
	sa_check(ctx, &in, ar);
	free(msg);
}

static void
test_spf(void)
{
	struct authres	 ar;

	test_begin("spf: pass, fail, softfail, neutral, none, permerror");
	check(CLIENT, "mx.good.test", "a@good.test", "a@good.test", 0, &ar);
	test_assert(ar.spf == AR_PASS);
	test_assert(ar.spf_helo == AR_PASS);
	check(CLIENT, "mx.good.test", "a@fail.test", "a@fail.test", 0, &ar);
	test_assert(ar.spf == AR_FAIL);
	check(CLIENT, "mx.good.test", "a@soft.test", "a@soft.test", 0, &ar);
	test_assert(ar.spf == AR_SOFTFAIL);
	check(CLIENT, "mx.good.test", "a@neutral.test", "a@neutral.test", 0,
	    &ar);
	test_assert(ar.spf == AR_NEUTRAL);
	check(CLIENT, "unknown.test", "a@nothing.test", "a@nothing.test", 0,
	    &ar);
	test_assert(ar.spf == AR_NONE);
	test_assert(ar.spf_helo == AR_NONE);
	check(CLIENT, "mx.good.test", "a@broken.test", "a@broken.test", 0,
	    &ar);
	test_assert(ar.spf == AR_PERMERROR);
	/* The null sender: HELO's result stands for it. */
	check("198.51.100.9", "mx.good.test", "", "a@good.test", 0, &ar);
	test_assert(ar.spf == AR_FAIL && ar.spf_helo == AR_FAIL);
	test_end();
}

static void
test_dkim(void)
{
	struct authres	 ar;
	struct sa_input	 in;
	size_t		 len;
	char		*msg;

	test_begin("dkim: valid, broken, missing");
	check(CLIENT, "mx.good.test", "a@good.test", "a@good.test", 1, &ar);
	test_assert(ar.ndkim == 1 && ar.dkim[0].result == AR_PASS);
	test_assert(strcmp(ar.dkim[0].domain, "good.test") == 0);
	test_assert(strcmp(ar.dkim[0].selector, "s1") == 0);
	check(CLIENT, "mx.good.test", "a@good.test", "a@good.test", 0, &ar);
	test_assert(ar.dkim_checked && ar.ndkim == 0);
	/* Changed after signing. */
	msg = message("a@good.test", 1, &len);
	memcpy(strstr(msg, "Hello."), "Jello.", 6);
	memset(&in, 0, sizeof(in));
	in.ip = CLIENT;
	in.helo = in.hostname = "mx.good.test";
	in.sender = "a@good.test";
	in.msg = msg;
	in.len = len;
	in.from_fields = 1;
	in.from_domain = "good.test";
	in.dkim = 1;
	sa_check(ctx, &in, &ar);
	test_assert(ar.ndkim == 1 && ar.dkim[0].result == AR_FAIL);
	free(msg);
	test_end();
}

static void
test_dmarc(void)
{
	struct authres	 ar;
	struct ar_policy pol = { AR_REJECT, AR_JUNK, AR_ACCEPT };
	char		 why[200];

	test_begin("dmarc: pass by SPF or DKIM, reject, quarantine, none");
	check(CLIENT, "mx.good.test", "a@good.test", "a@good.test", 0, &ar);
	test_assert(ar.dmarc == AR_PASS && ar.dmarc_policy == 'r');
	test_assert(authres_decide(&ar, &pol, why, sizeof(why)) == AR_ACCEPT);
	test_assert(authres_from_verified(&ar));
	/* Not aligned SPF, but good.test's signature: pass. */
	check("198.51.100.9", "x", "b@fail.test", "a@good.test", 1, &ar);
	test_assert(ar.dmarc == AR_PASS);
	/* Neither: fail, and the policy refuses. */
	check(CLIENT, "x", "b@good.test", "ceo@strict.test", 1, &ar);
	test_assert(ar.dmarc == AR_FAIL && ar.dmarc_policy == 'r');
	test_assert(authres_decide(&ar, &pol, why, sizeof(why)) == AR_REJECT);
	test_assert(strstr(why, "strict.test") != NULL);
	test_assert(!authres_from_verified(&ar));
	check(CLIENT, "x", "b@good.test", "info@quar.test", 0, &ar);
	test_assert(ar.dmarc == AR_FAIL && ar.dmarc_policy == 'q');
	test_assert(authres_decide(&ar, &pol, why, sizeof(why)) == AR_JUNK);
	check(CLIENT, "x", "b@good.test", "a@nothing.test", 0, &ar);
	test_assert(ar.dmarc == AR_NONE);
	/* A subdomain without a record: the organizational domain's sp=. */
	check(CLIENT, "x", "b@good.test", "a@sub.org.test", 0, &ar);
	test_assert(ar.dmarc == AR_FAIL && ar.dmarc_policy == 'r');
	test_end();
}

static void
test_field(void)
{
	struct authres	 ar;
	struct ar_policy pol = { AR_REJECT, AR_JUNK, AR_ACCEPT };
	char		 m[2048], why[200];

	test_begin("authres: the methods and the decisions");
	check(CLIENT, "mx.good.test", "a@good.test", "a@good.test", 1, &ar);
	test_assert(authres_methods(&ar, "a@good.test", "mx.good.test", m,
	    sizeof(m)) == 0);
	test_assert(strcmp(m, "spf=pass smtp.mailfrom=a@good.test;\r\n\t"
	    "spf=pass smtp.helo=mx.good.test;\r\n\tdkim=pass header.d="
	    "good.test header.s=s1;\r\n\tdmarc=pass (p=reject) header.from="
	    "good.test") == 0);
	test_assert(authres_methods(&ar, "a@good.test", "mx", m, 40) == -1);
	/* A local part that is not a plain atom: the domain only. */
	test_assert(authres_methods(&ar, "\"a b\"@good.test", "[192.0.2.1]",
	    m, sizeof(m)) == 0);
	test_assert(strstr(m, "smtp.mailfrom=good.test;") != NULL);
	test_assert(strstr(m, "spf=pass;") != NULL);
	memset(&ar, 0, sizeof(ar));
	ar.spf_checked = ar.dmarc_checked = 1;
	ar.spf = AR_FAIL;
	test_assert(authres_decide(&ar, &pol, why, sizeof(why)) == AR_ACCEPT);
	pol.spf_fail = AR_REJECT;
	test_assert(authres_decide(&ar, &pol, why, sizeof(why)) == AR_REJECT);
	ar.from_fields = 2;
	pol.spf_fail = AR_ACCEPT;
	test_assert(authres_decide(&ar, &pol, why, sizeof(why)) == AR_REJECT);
	test_assert(strstr(why, "From") != NULL);
	/* A header too large to find the From in (SECURITY E2, E3). */
	ar.from_fields = -1;
	test_assert(authres_decide(&ar, &pol, why, sizeof(why)) == AR_REJECT);
	test_assert(strcmp(why, "the header is too large to find its From "
	    "field") == 0);
	test_end();
}

int
main(void)
{
	log_init(1, 0);
	setup();
	test_spf();
	test_dkim();
	test_dmarc();
	test_field();
	ub_ctx_delete(ctx);
	EVP_PKEY_free(key);
	return test_exit();
}
