/*
 * cryptobench: the S/MIME work of cryptod's gateway on one core, in
 * process, through the same functions cryptod calls (lib/mail/smime.c):
 * sign then encrypt a message (what leaves), and decrypt then verify it
 * (what comes in). bench/crypto/run builds and runs it, next to the
 * openssl command line run once per message.
 *
 *	cryptobench -m MESSAGE -n COUNT -s SIGNER.pem -k SIGNER.key
 *	    -r RECIPIENT.pem -K RECIPIENT.key -a CA.pem
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

#include "buf.h"
#include "smime.h"

static double
now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static char *
slurp(const char *path, size_t *len)
{
	FILE	*fp = fopen(path, "rb");
	char	*p;
	long	 n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 || (p = malloc((size_t)n + 1)) == NULL ||
	    fread(p, 1, (size_t)n, fp) != (size_t)n) {
		perror(path);
		exit(2);
	}
	(void)fclose(fp);
	*len = (size_t)n;
	return p;
}

int
main(int argc, char **argv)
{
	const char		*msgf = NULL, *sf = NULL, *kf = NULL, *rf = NULL;
	const char		*rkf = NULL, *caf = NULL, *err;
	struct smime_verdict	 v;
	X509			*signer, *rcpt;
	EVP_PKEY		*skey, *rkey;
	X509_STORE		*store;
	STACK_OF(X509)		*to;
	char			*msg;
	size_t			 len;
	double			 t0, out_s, in_s;
	int			 n = 100, i, c;

	while ((c = getopt(argc, argv, "a:k:K:m:n:r:s:")) != -1) {
		switch (c) {
		case 'a': caf = optarg; break;
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
	printf("{\"bytes\": %zu, \"n\": %d, \"sign_encrypt_per_s\": %.1f,"
	    " \"decrypt_verify_per_s\": %.1f}\n", len, n, n / out_s,
	    n / in_s);
	buf_free(&sig);
	buf_free(&enc);
	buf_free(&dec);
	return 0;
}
