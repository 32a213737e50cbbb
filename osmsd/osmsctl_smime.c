/*
 * osmsctl smime: the S/MIME engine (lib/mail/smime.c) on standard input
 * and output, to check certificates and keys by hand, and for the
 * interoperability tests against openssl cms and gpgsm.
 *
 *	smime sign CERT KEY [CHAIN]	multipart/signed
 *	smime encrypt [-g] [-o] CERT ...
 *					enveloped-data for each CERT (-g:
 *					AES-GCM authenticated-enveloped-data;
 *					-o: RSAES-OAEP for RSA keys)
 *	smime decrypt CERT KEY
 *	smime verify CAFILE		verdict on stderr, content on stdout
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "osmsctl.h"
#include "smime.h"

static X509 *
cert_load(const char *path)
{
	X509	*x = NULL;
	FILE	*fp;

	if ((fp = fopen(path, "r")) != NULL) {
		x = PEM_read_X509(fp, NULL, NULL, NULL);
		(void)fclose(fp);
	}
	if (x == NULL) {
		(void)fprintf(stderr, "osmsctl: %s: no certificate\n", path);
		exit(1);
	}
	return x;
}

static EVP_PKEY *
key_load(const char *path)
{
	EVP_PKEY	*k = NULL;
	FILE		*fp;

	if ((fp = fopen(path, "r")) != NULL) {
		k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
		(void)fclose(fp);
	}
	if (k == NULL) {
		(void)fprintf(stderr, "osmsctl: %s: no private key\n", path);
		exit(1);
	}
	return k;
}

static void
read_stdin(struct buf *in)
{
	char	 chunk[65536];
	size_t	 n;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_add(in, chunk, n) == -1) {
			(void)fprintf(stderr, "osmsctl: message too large\n");
			exit(1);
		}
}

static int
write_out(const struct buf *out)
{
	if (out->len > 0)
		(void)fwrite(out->data, 1, out->len, stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
cmd_smime(int argc, char **argv)
{
	struct buf		 in = BUF_INIT(SMIME_MAX_MESSAGE);
	struct buf		 out = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct smime_verdict	 v;
	STACK_OF(X509)		*certs = NULL;
	X509_STORE		*store;
	X509			*x;
	EVP_PKEY		*k;
	const char		*err = NULL, *op;
	int			 i, rc;

	if (argc < 3)
		return -1;
	op = argv[1];
	if ((strcmp(op, "sign") == 0 && (argc == 4 || argc == 5)) ||
	    (strcmp(op, "decrypt") == 0 && argc == 4)) {
		x = cert_load(argv[2]);
		k = key_load(argv[3]);
		if (argc == 5) {
			certs = sk_X509_new_null();
			(void)sk_X509_push(certs, cert_load(argv[4]));
		}
		read_stdin(&in);
		rc = op[0] == 's' ? smime_sign(in.data != NULL ? in.data : "",
		    in.len, x, k, certs, &out, &err) :
		    smime_decrypt(in.data != NULL ? in.data : "", in.len, x,
		    k, &out, &err);
		X509_free(x);
		EVP_PKEY_free(k);
	} else if (strcmp(op, "encrypt") == 0) {
		unsigned	 caps = 0;

		/* -g: AES-GCM; -o: RSAES-OAEP */
		for (i = 2; i < argc && (strcmp(argv[i], "-g") == 0 ||
		    strcmp(argv[i], "-o") == 0); i++)
			caps |= argv[i][1] == 'g' ? SMIME_CAP_GCM :
			    SMIME_CAP_OAEP;
		certs = sk_X509_new_null();
		for (; i < argc; i++)
			(void)sk_X509_push(certs, cert_load(argv[i]));
		read_stdin(&in);
		rc = smime_encrypt(in.data != NULL ? in.data : "", in.len,
		    certs, caps, &out, &err);
	} else if (strcmp(op, "verify") == 0 && argc == 3) {
		if ((store = X509_STORE_new()) == NULL ||
		    X509_STORE_load_file(store, argv[2]) != 1) {
			(void)fprintf(stderr, "osmsctl: %s: no CA "
			    "certificates\n", argv[2]);
			exit(1);
		}
		read_stdin(&in);
		rc = smime_verify(in.data != NULL ? in.data : "", in.len,
		    store, &v, &out, NULL, &err);
		X509_STORE_free(store);
		if (rc == 0) {
			if (v.result == SMIME_VERIFIED)
				(void)fprintf(stderr, "verified %s\n",
				    v.signer);
			else if (v.result == SMIME_FAILED)
				(void)fprintf(stderr, "failed: %s\n",
				    v.reason);
			else
				(void)fprintf(stderr, "not signed\n");
			if (v.result != SMIME_VERIFIED)
				rc = -2;
		}
	} else
		return -1;
	sk_X509_pop_free(certs, X509_free);
	if (rc == -1) {
		(void)fprintf(stderr, "osmsctl: smime %s: %s\n", op, err);
		return 1;
	}
	if (write_out(&out) != 0 || rc == -2)
		return 1;
	buf_free(&in);
	buf_free(&out);
	return 0;
}
