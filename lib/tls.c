/*
 * TLS server contexts with safe defaults.
 */
#include <sys/queue.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "imsg.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "tls.h"
#include "tls_pair.h"
#include "util.h"

#define TLS_MAX_PEM	(1024 * 1024)

/* TLS 1.2 suites: ECDHE only, AEAD only. TLS 1.3 suites are all good. */
#define TLS12_CIPHERS							\
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"	\
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"	\
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Read a whole (small) file from a descriptor; closes it. */
static char *
read_fd(int fd, size_t *lenp)
{
	char	*buf = xmalloc(TLS_MAX_PEM + 1);
	size_t	 len = 0;
	ssize_t	 n;

	while (len < TLS_MAX_PEM) {
		n = read(fd, buf + len, TLS_MAX_PEM - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	if (len == 0 || len == TLS_MAX_PEM) {
		explicit_wipe(buf, len);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

static int
load_chain(SSL_CTX *ctx, const char *pem, size_t len, char *err,
    size_t errsize)
{
	BIO	*bio;
	X509	*x;
	int	 n = 0;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("BIO_new_mem_buf");
	if ((x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		BIO_free(bio);
		tls_reason(err, errsize, "certificate");
		return -1;
	}
	X509_free(x);
	/* The rest of the file is the chain, leaf first. */
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			BIO_free(bio);
			tls_reason(err, errsize, "certificate chain");
			return -1;
		}
		n++;
	}
	ERR_clear_error();	/* the end of the file is not an error */
	BIO_free(bio);
	return n;
}

static int
load_key(SSL_CTX *ctx, char *pem, size_t len, char *err, size_t errsize)
{
	EVP_PKEY	*pkey;
	BIO		*bio;
	int		 rc = 0;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("BIO_new_mem_buf");
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		tls_reason(err, errsize, "private key");
		rc = -1;
	} else if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_reason(err, errsize, "key does not match the certificate");
		rc = -1;
	}
	EVP_PKEY_free(pkey);
	return rc;
}

/* A server context with our settings, and no certificate yet. */
static SSL_CTX *
ctx_new(void)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		fatalx("SSL_CTX_new");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		fatalx("SSL_CTX settings");
	/* A client that closes without close_notify has simply left. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

SSL_CTX *
tls_server_ctx(int certfd, int keyfd, char *err, size_t errsize)
{
	SSL_CTX	*ctx;
	char	*cert, *key;
	size_t	 certlen = 0, keylen = 0;

	cert = read_fd(certfd, &certlen);
	key = read_fd(keyfd, &keylen);
	if (cert == NULL || key == NULL) {
		(void)snprintf(err, errsize, "%s is empty or too large",
		    cert == NULL ? "certificate" : "key");
		ctx = NULL;
		goto done;
	}
	ctx = ctx_new();
	if (load_chain(ctx, cert, certlen, err, errsize) == -1 ||
	    load_key(ctx, key, keylen, err, errsize) == -1) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
done:
	if (key != NULL) {
		explicit_wipe(key, keylen);
		free(key);
	}
	free(cert);
	return ctx;
}

SSL_CTX *
tls_server_ctx_remote(int certfd, char *err, size_t errsize)
{
	SSL_CTX		*ctx;
	EVP_PKEY	*pkey;
	char		*cert;
	size_t		 certlen = 0;

	if ((cert = read_fd(certfd, &certlen)) == NULL) {
		(void)snprintf(err, errsize, "certificate is empty or too "
		    "large");
		return NULL;
	}
	ctx = ctx_new();
	if (load_chain(ctx, cert, certlen, err, errsize) == -1 ||
	    (pkey = tls_remote_key(SSL_CTX_get0_certificate(ctx), err,
	    errsize)) == NULL) {
		SSL_CTX_free(ctx);
		free(cert);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_reason(err, errsize, "keyd key");
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	EVP_PKEY_free(pkey);
	free(cert);
	return ctx;
}

const char *
tls_version(const SSL *ssl)
{
	return SSL_get_version(ssl);
}

const char *
tls_cipher(const SSL *ssl)
{
	return SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
}

/*
 * The pkis of a network role.
 */

struct pki {
	TAILQ_ENTRY(pki)	 entry;
	char			 name[256];
	SSL_CTX			*ctx;
};
TAILQ_HEAD(pki_list, pki);

static struct pki_list	 pkis = TAILQ_HEAD_INITIALIZER(pkis);
static struct pki_list	 new_pkis = TAILQ_HEAD_INITIALIZER(new_pkis);

SSL_CTX *
tls_pki_ctx(const char *name)
{
	struct pki	*p;

	TAILQ_FOREACH(p, &pkis, entry)
		if (strcmp(p->name, name) == 0)
			return p->ctx;
	return NULL;
}

void
tls_pki_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct pki		*p;
	char			 name[256], err[256];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, name, sizeof(name));
	if (msg_end(&r) == -1 || imsg->hdr.type != IMSG_CONF_PKI_CERT)
		fatalx("bad %s", imsg_type_name(imsg->hdr.type));
	p = xcalloc(1, sizeof(*p));
	(void)osms_strlcpy(p->name, name, sizeof(p->name));
	p->ctx = tls_server_ctx_remote(imsg_take_fd(imsg), err, sizeof(err));
	TAILQ_INSERT_TAIL(&new_pkis, p, entry);
	if (p->ctx == NULL)
		log_warnx("pki %s: %s; its listeners offer no TLS", name, err);
}

void
tls_pki_apply(void)
{
	struct pki	*p;

	/* Sessions hold their own reference to their context. */
	while ((p = TAILQ_FIRST(&pkis)) != NULL) {
		TAILQ_REMOVE(&pkis, p, entry);
		SSL_CTX_free(p->ctx);
		free(p);
	}
	TAILQ_CONCAT(&pkis, &new_pkis, entry);
}
