/*
 * cryptod: a local user's mail is encrypted as it leaves. The queue
 * asks once for each transaction it is about to hand to the mta, with
 * the transaction's recipients; each recipient is encrypted to with the
 * certificate the store finds for it (lib/mail/certstore.c), as the
 * policy rules say (encrypt never, if-possible, mandatory or
 * mandatory-or-tls). Recipients with a different outcome need another
 * copy: cryptod makes the copy for the first recipient and every other
 * that shares its outcome, says which those are, and the queue sends
 * the rest in transactions of their own. A copy that changed is
 * DKIM-signed again, since the queue's signature covered the old body.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "addr.h"
#include "buf.h"
#include "cryptod.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "pgp.h"
#include "proc.h"
#include "smime.h"
#include "util.h"

#define ENC_MAX_RCPTS	100		/* the queue's transaction limit */
#define ENC_MAX_LIST	16384		/* the recipients, comma separated */

struct rcpt {
	char			*address;
	struct policy		 policy;
	X509			*cert;		/* NULL: none usable */
	enum store_origin	 origin;
	unsigned		 caps;		/* SMIME_CAP_* it takes */
	char			 fp[65];	/* its SHA-256, hex */
	char			 pgp[PGP_MAX_FPR + 1];	/* "" or the
					   OpenPGP key encrypted to instead */
	int			 pgp_domain;	/* 1: it is the domain's */
	char			 why[200];	/* why none, when one was refused */
	char			 outcome[72];	/* alike for alike copies */
	enum crypt_send		 send;
};

static unsigned long	 nencrypted;

static void
answer(struct channel *ch, uint64_t id, int rewritten, enum crypt_send send,
    uint64_t size, const char *included, const char *what, const char *dkim)
{
	struct msg	 m;

	msg_init(&m, IMSG_CRYPT_ENCRYPTED, id);
	msg_add_u32(&m, rewritten ? 1 : 0);
	msg_add_u32(&m, send);
	msg_add_u64(&m, size);
	msg_add_str(&m, included);
	msg_add_str(&m, what);
	msg_add_str(&m, dkim);
	(void)channel_send(ch, &m);
}

/* The copy for the recipients marked in included: encrypted for rc's
 * certificate (or OpenPGP key), written to out; its DKIM field to dkim.
 * 0, or -1 and why. */
static int
encrypt_copy(const char *msg, size_t len, const struct rcpt *rc,
    const char *sender, int out, uint64_t *size, struct buf *dkim,
    const char **why)
{
	struct buf	 copy = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	STACK_OF(X509)	*to = NULL;
	const char	*fprs[1] = { rc->pgp };
	int		 rc_ = -1;

	if (rc->pgp[0] != '\0') {
		if (pgp_encrypt(msg, len, fprs, 1, NULL, &copy, why) == -1)
			goto done;
	} else if ((to = sk_X509_new_null()) == NULL ||
	    sk_X509_push(to, rc->cert) == 0) {
		*why = "out of memory";
		goto done;
	} else if (smime_encrypt(msg, len, to, rc->caps, &copy, why) == -1)
		goto done;
	if (signer_field(copy.data, copy.len, sender, dkim, why) == -1)
		log_warnx("cryptod: the encrypted copy is not DKIM-signed: %s",
		    *why);
	*why = "cannot write the copy";
	if (write_all(out, copy.data, copy.len) == -1)
		goto done;
	*size = copy.len;
	rc_ = 0;
done:
	sk_X509_free(to);
	buf_free(&copy);
	return rc_;
}

/* Is the content key sent with RSAES-OAEP (smime_encrypt's choice)? */
static int
oaep(const struct rcpt *rc)
{
	EVP_PKEY	*k = X509_get0_pubkey(rc->cert);

	return (rc->caps & SMIME_CAP_OAEP) && k != NULL &&
	    EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA;
}

/*
 * OpenPGP (the key rc->pgp) rather than the certificate found? The
 * recipient's own key or certificate comes before its domain's; between
 * two of the same rank, the policy's prefer says.
 */
static int
openpgp_wins(const struct rcpt *rc)
{
	int	 own_cert, own_key;

	if (rc->cert == NULL)
		return 1;
	own_cert = rc->origin != ORIGIN_DOMAIN;
	own_key = rc->pgp_domain == 0;
	if (own_cert != own_key)
		return own_key;
	return rc->policy.prefer == PREFER_OPENPGP;
}

/* What one recipient gets, by the policy and the store. */
static void
decide(const char *sender, struct rcpt *rc)
{
	(void)gateway_policy(POLICY_OUTBOUND, sender, rc->address,
	    &rc->policy);
	rc->send = CRYPT_SEND;
	if (rc->policy.encrypt != ENCRYPT_NEVER)
		rc->cert = store_recipient(rc->address, &rc->origin, &rc->caps,
		    rc->why, sizeof(rc->why));
	if (rc->policy.encrypt != ENCRYPT_NEVER &&
	    (rc->pgp_domain = pgpgate_key_for(rc->address, rc->pgp,
	    sizeof(rc->pgp))) >= 0 && openpgp_wins(rc)) {
		X509_free(rc->cert);
		rc->cert = NULL;
		rc->why[0] = '\0';
		(void)snprintf(rc->outcome, sizeof(rc->outcome), "pgp:%s",
		    rc->pgp);
		return;
	}
	rc->pgp[0] = '\0';
	if (rc->cert != NULL) {
		store_fingerprint(rc->cert, rc->fp, sizeof(rc->fp));
		(void)snprintf(rc->outcome, sizeof(rc->outcome), "%s+%x", rc->fp,
		    rc->caps);
		return;
	}
	switch (rc->policy.encrypt) {
	case ENCRYPT_MANDATORY:
		rc->send = CRYPT_REFUSE;
		break;
	case ENCRYPT_MANDATORY_OR_TLS:
		rc->send = CRYPT_SEND_VERIFIED_TLS;
		break;
	default:
		break;
	}
	(void)snprintf(rc->outcome, sizeof(rc->outcome), "!%d", rc->send);
}

/* The decision, once its copy is made, for the audit trail: message,
 * recipient, rule, action, certificate and where it came from. */
static void
log_decision(const char *tag, const struct rcpt *rc)
{
	if (rc->pgp[0] != '\0')
		audit(tag, "to=<%s> encrypted openpgp key=%s%s rule=%d%s%s",
		    rc->address, rc->pgp, rc->pgp_domain == 1 ?
		    " origin=domain" : "", rc->policy.line, rc->policy.via[0] ?
		    " entry=" : "", rc->policy.via);
	else if (rc->cert != NULL)
		audit(tag, "to=<%s> encrypted cert=%s origin=%s cipher=%s%s "
		    "rule=%d%s%s", rc->address, rc->fp,
		    store_origin_name(rc->origin), rc->caps & SMIME_CAP_GCM ?
		    "aes-256-gcm" : "aes-256-cbc", oaep(rc) ? "+rsa-oaep" : "",
		    rc->policy.line, rc->policy.via[0] ? " entry=" : "",
		    rc->policy.via);
	else
		audit(tag, "to=<%s> %s encrypt=%s rule=%d%s%s%s%s", rc->address,
		    rc->send == CRYPT_REFUSE ? "refused" :
		    rc->send == CRYPT_SEND_VERIFIED_TLS ? "verified-tls-only" :
		    "not-encrypted", policy_encrypt_name(rc->policy.encrypt),
		    rc->policy.line, rc->policy.via[0] ? " entry=" : "",
		    rc->policy.via, rc->why[0] ? ": " : "", rc->why);
}

void
encrypt_request(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct rcpt		 rc[ENC_MAX_RCPTS];
	struct buf		 dkim = BUF_INIT(8192);
	struct stat		 st;
	char			 tag[64], sender[ADDR_MAX_TEXT];
	char			 included[ENC_MAX_RCPTS + 1], what[512];
	char			 whence[300];
	char			*list = NULL, *p, *end, *nul;
	char			*map = MAP_FAILED;
	const void		*data;
	const char		*why;
	uint64_t		 size = 0;
	size_t			 n = 0, i, len = 0;
	int			 out, src = -1, rewritten = 0, bad = 0, ready;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, tag, sizeof(tag));
	(void)msg_get_str(&r, sender, sizeof(sender));
	(void)msg_get_data(&r, &data, &len);
	out = imsg_take_fd(imsg);
	memset(rc, 0, sizeof(rc));
	/* The recipients: NUL-terminated addresses, one after another. */
	if (len > 0 && len <= ENC_MAX_LIST) {
		list = xcalloc(1, len);
		memcpy(list, data, len);
		for (p = list, end = list + len; p < end; p = nul + 1) {
			if ((nul = memchr(p, '\0', (size_t)(end - p))) ==
			    NULL || nul == p || str_has_ctl(p) ||
			    n == ENC_MAX_RCPTS) {
				bad = 1;
				break;
			}
			rc[n++].address = p;
		}
	}
	if (msg_end(&r) == -1 || out == -1 || n == 0 || bad ||
	    str_has_ctl(sender)) {
		if (out != -1)
			(void)close(out);
		free(list);
		channel_bad_message(ch, imsg, "bad encryption request");
		return;
	}
	memset(included, '1', n);
	included[n] = '\0';
	/* The directory's word first: this request comes again with it. */
	for (i = 0, ready = 1; i < n; i++)
		if (!gateway_policy_ready(POLICY_OUTBOUND, sender,
		    rc[i].address))
			ready = 0;
	if (!ready) {
		imsg->fd = out;
		if (dirpolicy_defer(ch, imsg, encrypt_request) == 0) {
			free(list);
			return;
		}
		out = imsg_take_fd(imsg);
	}
	for (i = 0; i < n && ready; i++)
		if (gateway_policy(POLICY_OUTBOUND, sender, rc[i].address,
		    &rc[i].policy) == -1)
			ready = 0;
	if (!ready) {
		/* The queue tries again later; nothing leaves meanwhile. */
		src = gateway_take_source(ch, imsg->hdr.id, tag);
		answer(ch, imsg->hdr.id, 0, CRYPT_SEND, 0, included, "error: "
		    "the gateway's policy cannot be read from the directory "
		    "now", "");
		goto done;
	}
	if ((src = gateway_take_source(ch, imsg->hdr.id, tag)) == -1 ||
	    fstat(src, &st) == -1 || st.st_size <= 0 ||
	    st.st_size > SMIME_MAX_MESSAGE || (map = mmap(NULL,
	    (size_t)st.st_size, PROT_READ, MAP_PRIVATE, src, 0)) ==
	    MAP_FAILED) {
		answer(ch, imsg->hdr.id, 0, CRYPT_SEND, 0, included, "error: "
		    "cannot read the message", "");
		goto done;
	}
	if (n == 0 || smime_is_encrypted(map, (size_t)st.st_size)) {
		answer(ch, imsg->hdr.id, 0, CRYPT_SEND, 0, included, n == 0 ?
		    "" : "encrypted by the sender: passed", "");
		goto done;
	}
	for (i = 0; i < n; i++)
		decide(sender, &rc[i]);
	/* This copy: the first recipient and those like it. */
	for (i = 1; i < n; i++)
		if (strcmp(rc[i].outcome, rc[0].outcome) != 0)
			included[i] = '0';
	if (rc[0].cert == NULL && rc[0].pgp[0] == '\0') {
		for (i = 0; i < n; i++)
			if (included[i] == '1')
				log_decision(tag, &rc[i]);
		if (rc[0].send == CRYPT_REFUSE)
			(void)snprintf(what, sizeof(what), "5.7.1 no usable "
			    "certificate for <%.100s> (%.100s); the policy "
			    "(%.150s) requires encryption", rc[0].address,
			    rc[0].why[0] ? rc[0].why : "none known",
			    policy_why(&rc[0].policy, whence, sizeof(whence)));
		else
			(void)snprintf(what, sizeof(what), "%s: %.150s (encrypt"
			    " %s, rule %d)", rc[0].send ==
			    CRYPT_SEND_VERIFIED_TLS ? "only over verified TLS" :
			    "not encrypted", rc[0].why[0] != '\0' ? rc[0].why :
			    "no certificate known", policy_encrypt_name(
			    rc[0].policy.encrypt), rc[0].policy.line);
		answer(ch, imsg->hdr.id, 0, rc[0].send, 0, included, what, "");
		goto done;
	}
	if (encrypt_copy(map, (size_t)st.st_size, &rc[0], sender, out, &size,
	    &dkim, &why) == -1) {
		(void)snprintf(what, sizeof(what), "error: %s", why);
		answer(ch, imsg->hdr.id, 0, CRYPT_SEND, 0, included, what, "");
		goto done;
	}
	rewritten = 1;
	nencrypted++;
	for (i = 0; i < n; i++)
		if (included[i] == '1')
			log_decision(tag, &rc[i]);
	if (rc[0].pgp[0] != '\0')
		(void)snprintf(what, sizeof(what), "encrypted (OpenPGP) with "
		    "the key %.40s", rc[0].pgp);
	else
		(void)snprintf(what, sizeof(what), "encrypted (%s%s) with the "
		    "%s certificate %.16s", rc[0].caps & SMIME_CAP_GCM ?
		    "AES-256-GCM" : "AES-256-CBC", oaep(&rc[0]) ?
		    ", RSA-OAEP" : "", store_origin_name(rc[0].origin),
		    rc[0].fp);
	answer(ch, imsg->hdr.id, rewritten, CRYPT_SEND, size, included, what,
	    dkim.data != NULL ? dkim.data : "");
done:
	for (i = 0; i < n; i++)
		X509_free(rc[i].cert);
	if (map != MAP_FAILED)
		(void)munmap(map, (size_t)st.st_size);
	if (src != -1)
		(void)close(src);
	(void)close(out);
	buf_free(&dkim);
	free(list);
	ERR_clear_error();
}

unsigned long
encrypt_count(void)
{
	return nencrypted;
}
