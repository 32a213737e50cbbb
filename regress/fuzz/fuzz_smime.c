/*
 * S/MIME messages come from anywhere: verify and decrypt must stay in
 * bounds on any input, a verdict is one of three, and nothing random
 * verifies or decrypts with a key made here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "smime.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static EVP_PKEY		*key;
static X509		*cert;
static X509_STORE	*store;

static void
setup(void)
{
	if ((key = EVP_EC_gen("P-256")) == NULL || (cert = X509_new()) == NULL)
		abort();
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN",
	    MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(cert));
	if (X509_sign(cert, key, EVP_sha256()) == 0 ||
	    (store = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(store, cert) != 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf		 out = BUF_INIT(1 << 22);
	struct smime_verdict	 v;
	const char		*err;
	char			*msg;

	if (key == NULL)
		setup();
	if (size > 1 << 20 || (msg = malloc(size + 1)) == NULL)
		return 0;
	memcpy(msg, data, size);
	msg[size] = '\0';
	if (smime_verify(msg, size, store, &v, &out, NULL, &err) == 0) {
		if (v.result != SMIME_NOT_SIGNED && v.result != SMIME_VERIFIED &&
		    v.result != SMIME_FAILED)
			abort();
		if (v.result == SMIME_VERIFIED)
			abort();	/* random data signed by our key? */
	} else if (err == NULL)
		abort();
	buf_reset(&out);
	if (smime_decrypt(msg, size, cert, key, &out, &err) == 0)
		abort();		/* random data encrypted for us? */
	(void)smime_is_encrypted(msg, size);
	buf_reset(&out);
	if (smime_has_nested(msg, size) &&
	    smime_decrypt_nested(msg, size, cert, key, &out, &err) == 0)
		abort();		/* the same, deeper */
	buf_free(&out);
	free(msg);
	return 0;
}
