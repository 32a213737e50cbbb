/*
 * cryptobench: the S/MIME work of cryptod's gateway on one core, in
 * process, through the same functions cryptod calls (lib/mail/smime.c):
 * sign then encrypt a message (what leaves), and decrypt then verify it
 * (what comes in). bench/crypto/run builds and runs it, next to the
 * openssl command line run once per message.
 *
 *	cryptobench -m MESSAGE -n COUNT -s SIGNER.pem -k SIGNER.key
 *	    -r RECIPIENT.pem -K RECIPIENT.key -a CA.pem
 *	    [-S STORE -f FROM -t TO]
 *
 * With -S, each message also goes the way cryptod takes it: the signer's
 * certificate and key and the recipient's certificate looked up in the
 * certificate store (lib/mail/certstore.c) and checked, the recipient's
 * key looked up to decrypt, the signature verified against the store's
 * trust anchors and the signer harvested; inbound twice, the second time
 * cold (smime_forget() before each message: the signer's certificate
 * parsed and its chain checked, as for a new correspondent).
 *
 * Prints one line of JSON: messages per second for each direction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "benchutil.h"
#include "buf.h"
#include "certstore.h"
#include "smime.h"

static void *
load(const char *path, int key)
{
	FILE	*fp = fopen(path, "r");
	void	*p;

	if (fp == NULL) {
		perror(path);
		exit(2);
	}
	p = key ? (void *)PEM_read_PrivateKey(fp, NULL, NULL, NULL) :
	    (void *)PEM_read_X509(fp, NULL, NULL, NULL);
	(void)fclose(fp);
	if (p == NULL) {
		fprintf(stderr, "%s: not PEM\n", path);
		exit(2);
	}
	return p;
}

/* Decrypt and verify enc n times as cryptod does, cold: as from a new
 * correspondent each time (smime_forget()). */
static int
inbound(const char *to, const struct buf *enc, struct buf *dec, int n,
    int cold, double *secs)
{
	struct smime_verdict	 v;
	X509			*x, *signer;
	EVP_PKEY		*k;
	const char		*err;
	double			 t0 = now();
	int			 i, rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		if (cold)
			smime_forget();
		buf_reset(dec);
		x = store_cert(to);
		k = store_key(to);
		signer = NULL;
		if (x == NULL || k == NULL || smime_decrypt(enc->data, enc->len,
		    x, k, dec, &err) == -1 || smime_verify(dec->data, dec->len,
		    store_trust(), &v, NULL, &signer, &err) == -1 ||
		    v.result != SMIME_VERIFIED) {
			fprintf(stderr, "store inbound: failed\n");
			rc = -1;
		} else
			store_harvest(signer, v.signer, v.caps);
		X509_free(signer);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	*secs = now() - t0;
	return rc;
}

/* The same work, with every certificate and key from the store; inbound
 * again cold, as from a new correspondent each time (smime_forget()). */
static int
store_path(const char *storef, const char *from, const char *to,
    const char *msg, size_t len, int n, double *out_s, double *in_s,
    double *cold_s)
{
	struct buf		 sig = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct buf		 enc = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct buf		 dec = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	enum store_origin	 origin;
	STACK_OF(X509)		*recips;
	X509			*x, *r;
	EVP_PKEY		*k;
	const char		*err, *why;
	char			 whyr[200];
	double			 t0;
	unsigned		 caps;
	int			 i, rc = -1;

	store_set(storef);
	store_reload();
	t0 = now();
	for (i = 0; i < n; i++) {
		buf_reset(&sig);
		buf_reset(&enc);
		x = store_cert(from);
		k = store_key(from);
		r = store_recipient(to, &origin, &caps, whyr, sizeof(whyr));
		if (x == NULL || k == NULL || r == NULL ||
		    store_check(x, from, STORE_SIGN, &why) == -1 ||
		    (recips = sk_X509_new_null()) == NULL) {
			fprintf(stderr, "store: no usable certificates\n");
			return -1;
		}
		(void)sk_X509_push(recips, r);
		if (smime_sign(msg, len, x, k, NULL, &sig, &err) == -1 ||
		    smime_encrypt(sig.data, sig.len, recips, caps, &enc,
		    &err) == -1) {
			fprintf(stderr, "store outbound: %s\n", err);
			return -1;
		}
		sk_X509_pop_free(recips, X509_free);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	*out_s = now() - t0;
	if (inbound(to, &enc, &dec, n, 0, in_s) == -1 ||
	    inbound(to, &enc, &dec, n, 1, cold_s) == -1)
		goto done;
	rc = 0;
done:
	buf_free(&sig);
	buf_free(&enc);
	buf_free(&dec);
	return rc;
}

int
main(int argc, char **argv)
{
	const char		*msgf = NULL, *sf = NULL, *kf = NULL, *rf = NULL;
	const char		*rkf = NULL, *caf = NULL, *err;
	const char		*storef = NULL, *from = NULL, *tof = NULL;
	struct smime_verdict	 v;
	X509			*signer, *rcpt;
	EVP_PKEY		*skey, *rkey;
	X509_STORE		*store;
	STACK_OF(X509)		*to;
	char			*msg;
	size_t			 len;
	double			 t0, out_s, in_s, sout_s = 0, sin_s = 0;
	double			 scold_s = 0;
	int			 n = 100, i, c;

	while ((c = getopt(argc, argv, "a:f:k:K:m:n:r:s:S:t:")) != -1) {
		switch (c) {
		case 'a': caf = optarg; break;
		case 'f': from = optarg; break;
		case 'S': storef = optarg; break;
		case 't': tof = optarg; break;
		case 'k': kf = optarg; break;
		case 'K': rkf = optarg; break;
		case 'm': msgf = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'r': rf = optarg; break;
		case 's': sf = optarg; break;
		default: return 2;
		}
	}
	if (!msgf || !sf || !kf || !rf || !rkf || !caf || n < 1) {
		fprintf(stderr, "usage: cryptobench -m MSG -n N -s CERT -k KEY"
		    " -r CERT -K KEY -a CA\n");
		return 2;
	}
	msg = slurp(msgf, &len);
	signer = load(sf, 0);
	skey = load(kf, 1);
	rcpt = load(rf, 0);
	rkey = load(rkf, 1);
	if ((store = X509_STORE_new()) == NULL ||
	    X509_STORE_load_file(store, caf) != 1 ||
	    (to = sk_X509_new_null()) == NULL || !sk_X509_push(to, rcpt))
		return 2;

	struct buf	 sig = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct buf	 enc = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct buf	 dec = BUF_INIT(2 * SMIME_MAX_MESSAGE);

	t0 = now();
	for (i = 0; i < n; i++) {
		buf_reset(&sig);
		buf_reset(&enc);
		if (smime_sign(msg, len, signer, skey, NULL, &sig, &err) == -1 ||
		    smime_encrypt(sig.data, sig.len, to, 0, &enc, &err) == -1) {
			fprintf(stderr, "outbound: %s\n", err);
			return 1;
		}
	}
	out_s = now() - t0;
	t0 = now();
	for (i = 0; i < n; i++) {
		buf_reset(&dec);
		if (smime_decrypt(enc.data, enc.len, rcpt, rkey, &dec,
		    &err) == -1 || smime_verify(dec.data, dec.len, store, &v,
		    NULL, NULL, &err) == -1 || v.result != SMIME_VERIFIED) {
			fprintf(stderr, "inbound: %s\n", v.result ==
			    SMIME_FAILED ? v.reason : "not verified");
			return 1;
		}
	}
	in_s = now() - t0;
	if (storef != NULL && from != NULL && tof != NULL) {
		if (store_path(storef, from, tof, msg, len, n, &sout_s,
		    &sin_s, &scold_s) == -1)
			return 1;
	}
	printf("{\"bytes\": %zu, \"n\": %d, \"sign_encrypt_per_s\": %.1f,"
	    " \"decrypt_verify_per_s\": %.1f, \"store_sign_encrypt_per_s\":"
	    " %.1f, \"store_decrypt_verify_per_s\": %.1f,"
	    " \"store_decrypt_verify_cold_per_s\": %.1f}\n", len, n,
	    n / out_s, n / in_s, sout_s > 0 ? n / sout_s : 0,
	    sin_s > 0 ? n / sin_s : 0, scold_s > 0 ? n / scold_s : 0);
	buf_free(&sig);
	buf_free(&enc);
	buf_free(&dec);
	return 0;
}
