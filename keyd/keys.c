/*
 * The TLS private keys and the two operations a handshake needs of
 * them. Requests come from the network roles, which may be in an
 * attacker's hands: the operation, the padding and the lengths are
 * checked here, and only raw RSA on a padded block of the key's size,
 * PKCS #1 v1.5 padding, or ECDSA on a digest is made.
 */
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "keys.h"
#include "log.h"
#include "tls.h"
#include "tls_pair.h"
#include "util.h"

#define KEYS_MAX_DIGEST	64	/* SHA-512 */

struct key {
	TAILQ_ENTRY(key)	 entry;
	char			 name[256];
	unsigned char		 id[TLS_KEYID_LEN];
	EVP_PKEY		*pkey;
};
TAILQ_HEAD(key_list, key);

static struct key_list	 building = TAILQ_HEAD_INITIALIZER(building);
static struct key_list	 current = TAILQ_HEAD_INITIALIZER(current);
static struct key_list	 previous = TAILQ_HEAD_INITIALIZER(previous);

static void
keys_free(struct key_list *l)
{
	struct key	*k;

	while ((k = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, k, entry);
		EVP_PKEY_free(k->pkey);
		free(k);
	}
}

int
keys_add(const char *name, int certfd, int keyfd, char *err, size_t errsize)
{
	BIO		*cb, *kb;
	EVP_PKEY	*pkey;
	struct key	*k;

	cb = BIO_new_fd(certfd, BIO_CLOSE);
	kb = BIO_new_fd(keyfd, BIO_CLOSE);
	if (cb == NULL || kb == NULL)
		fatalx("keys: BIO_new_fd");
	if ((pkey = tls_pair_load(cb, kb, err, errsize)) != NULL) {
		k = xcalloc(1, sizeof(*k));
		(void)osms_strlcpy(k->name, name, sizeof(k->name));
		if (tls_key_id(pkey, k->id) == -1)
			fatalx("keys: cannot hash a public key");
		k->pkey = pkey;
		TAILQ_INSERT_TAIL(&building, k, entry);
	}
	BIO_free(cb);
	BIO_free(kb);
	return pkey != NULL ? 0 : -1;
}

void
keys_apply(void)
{
	keys_free(&previous);
	TAILQ_CONCAT(&previous, &current, entry);
	TAILQ_CONCAT(&current, &building, entry);
}

size_t
keys_count(void)
{
	struct key	*k;
	size_t		 n = 0;

	TAILQ_FOREACH(k, &current, entry)
		n++;
	return n;
}

static struct key *
keys_find(const unsigned char *id)
{
	struct key	*k;

	TAILQ_FOREACH(k, &current, entry)
		if (memcmp(k->id, id, TLS_KEYID_LEN) == 0)
			return k;
	TAILQ_FOREACH(k, &previous, entry)
		if (memcmp(k->id, id, TLS_KEYID_LEN) == 0)
			return k;
	return NULL;
}

/* Whether the request is one a handshake makes of this key. */
static const char *
request_refused(struct key *k, int op, int padding, size_t inlen)
{
	int	 type = EVP_PKEY_get_base_id(k->pkey);
	size_t	 size = (size_t)EVP_PKEY_get_size(k->pkey);

	switch (op) {
	case TLS_SIGN_RSA:
		if (type != EVP_PKEY_RSA)
			return "not an RSA key";
		if (padding == RSA_NO_PADDING)
			return inlen == size ? NULL : "bad block size";
		if (padding == RSA_PKCS1_PADDING)
			return inlen > 0 && inlen + 11 <= size ? NULL :
			    "bad digest size";
		return "bad padding";
	case TLS_SIGN_ECDSA:
		if (type != EVP_PKEY_EC)
			return "not an EC key";
		return inlen > 0 && inlen <= KEYS_MAX_DIGEST ? NULL :
		    "bad digest size";
	default:
		return "unknown operation";
	}
}

int
keys_sign(const unsigned char *keyid, int op, int padding,
    const unsigned char *in, size_t inlen, unsigned char *out,
    size_t *outlen)
{
	struct key	*k;
	EVP_PKEY_CTX	*ctx;
	const char	*why;
	int		 ok;

	if ((k = keys_find(keyid)) == NULL) {
		log_warnx("keys: a signature with an unknown key");
		return -1;
	}
	if ((why = request_refused(k, op, padding, inlen)) != NULL) {
		log_warnx("keys: pki %s: signature refused: %s", k->name, why);
		return -1;
	}
	if ((size_t)EVP_PKEY_get_size(k->pkey) > *outlen)
		return -1;
	if ((ctx = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL)
		fatalx("keys: EVP_PKEY_CTX_new");
	ok = EVP_PKEY_sign_init(ctx) == 1 &&
	    (op != TLS_SIGN_RSA ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, padding) == 1) &&
	    EVP_PKEY_sign(ctx, out, outlen, in, inlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		char	 err[256];

		tls_reason(err, sizeof(err), "sign");
		log_warnx("keys: pki %s: %s", k->name, err);
		return -1;
	}
	return 0;
}
