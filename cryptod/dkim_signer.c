/*
 * cryptod: DKIM signatures for mail that leaves (RFC 6376). The keys
 * come from the parent as descriptors (one per "dkim domain" line) and
 * never leave this process; the queue sends a message's content and
 * gets back one DKIM-Signature field, made with the key of the domain
 * in its From field (so that DMARC aligns), else of the envelope
 * sender's domain, else none.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "cryptod.h"
#include "dkim.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "util.h"

#define SIGNER_MAX_KEY		(64 * 1024)	/* a PEM key file */
#define SIGNER_MAX_MESSAGE	(2LL * 1024 * 1024 * 1024)

struct dkim_key {
	TAILQ_ENTRY(dkim_key)	 entry;
	char			 domain[CONF_MAX_NAME];
	char			 selector[CONF_MAX_NAME];
	EVP_PKEY		*key;
};
TAILQ_HEAD(dkim_keys, dkim_key);

static struct dkim_keys	 keys = TAILQ_HEAD_INITIALIZER(keys);
static struct dkim_keys	 next = TAILQ_HEAD_INITIALIZER(next);
static unsigned long	 nsigned;

static void
keys_free(struct dkim_keys *list)
{
	struct dkim_key	*k;

	while ((k = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, k, entry);
		EVP_PKEY_free(k->key);
		free(k);
	}
}

/* IMSG_CONF_DKIM: a key for the slice being received. */
void
signer_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct dkim_key		*k = xcalloc(1, sizeof(*k));
	char			*pem = xcalloc(1, SIGNER_MAX_KEY + 1);
	BIO			*bio;
	ssize_t			 n;
	size_t			 len = 0;
	int			 fd;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, k->domain, sizeof(k->domain));
	(void)msg_get_str(&r, k->selector, sizeof(k->selector));
	fd = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || fd == -1)
		fatalx("bad IMSG_CONF_DKIM");
	while (len < SIGNER_MAX_KEY &&
	    (n = read(fd, pem + len, SIGNER_MAX_KEY - len)) > 0)
		len += (size_t)n;
	(void)close(fd);
	if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL) {
		k->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	explicit_wipe(pem, SIGNER_MAX_KEY + 1);
	free(pem);
	ERR_clear_error();
	if (k->key == NULL || dkim_key_alg(k->key) == -1) {
		log_warnx("cryptod: dkim key of %s: not an RSA (1024 bits or"
		    " more) or Ed25519 private key in PEM", k->domain);
		EVP_PKEY_free(k->key);
		free(k);
		return;
	}
	TAILQ_INSERT_TAIL(&next, k, entry);
}

/* The slice is complete: its keys replace the old ones. */
void
signer_apply(void)
{
	keys_free(&keys);
	TAILQ_CONCAT(&keys, &next, entry);
}

static const struct dkim_key *
key_find(const char *domain)
{
	const struct dkim_key	*k;

	TAILQ_FOREACH(k, &keys, entry)
		if (strcmp(k->domain, domain) == 0)
			return k;
	return NULL;
}

static void
answer(struct channel *ch, uint64_t id, int ok, const char *text)
{
	struct msg	 m;

	msg_init(&m, IMSG_CRYPT_DKIM_SIGNED, id);
	msg_add_u32(&m, ok ? 1 : 0);
	msg_add_str(&m, text);
	(void)channel_send(ch, &m);
}

int
signer_field(const char *msg, size_t len, const char *sender,
    struct buf *out, const char **why)
{
	const struct dkim_key	*k = NULL;
	char			 domain[CONF_MAX_NAME];
	const char		*at;

	if (dkim_from_domain(msg, len, domain, sizeof(domain)) == 0)
		k = key_find(domain);
	if (k == NULL && (at = strrchr(sender, '@')) != NULL) {
		(void)osms_strlcpy(domain, at + 1, sizeof(domain));
		k = key_find(domain);
	}
	if (k == NULL)
		return 0;
	if (dkim_signature(msg, len, k->domain, k->selector, k->key, time(NULL),
	    out, why) == -1)
		return -1;
	nsigned++;
	log_debug("cryptod: signed for %s (s=%s)", k->domain, k->selector);
	return 1;
}

void
signer_request(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct buf		 out = BUF_INIT(8000);
	struct stat		 st;
	char			 sender[ADDR_MAX_TEXT];
	const char		*err;
	char			*map = NULL;
	int			 fd;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, sender, sizeof(sender));
	fd = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || fd == -1) {
		if (fd != -1)
			(void)close(fd);
		channel_bad_message(ch, imsg, "bad signing request");
		return;
	}
	if (fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    st.st_size > SIGNER_MAX_MESSAGE ||
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
	    0)) == MAP_FAILED) {
		(void)close(fd);
		answer(ch, imsg->hdr.id, 0, "cannot read the message");
		return;
	}
	(void)close(fd);
	switch (signer_field(map, (size_t)st.st_size, sender, &out, &err)) {
	case 0:
		answer(ch, imsg->hdr.id, 0, "");	/* none of ours */
		break;
	case -1:
		answer(ch, imsg->hdr.id, 0, err);
		break;
	default:
		answer(ch, imsg->hdr.id, 1, out.data);
		break;
	}
	(void)munmap(map, (size_t)st.st_size);
	buf_free(&out);
}

unsigned long
signer_count(void)
{
	return nsigned;
}
