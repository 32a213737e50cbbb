/*
 * cryptod: the S/MIME gateway before the queue. Outbound, a local user's
 * message is signed with the user's certificate (else the domain's)
 * unless it is S/MIME already, and what the policy forbids is refused
 * while the user still listens (encryption that is mandatory but has no
 * certificate, a user's own encryption where that may not leave, a
 * signature that is required but cannot be made). Inbound, a message
 * from outside, before the virus scan: decrypted with the keys of its
 * recipients (each one's address's, else its domain's) when it is
 * encrypted for every one of them and no copy leaves, its signature
 * checked against the store's trust anchors, and what was done recorded
 * in an X-Osms-SMIME field, which a sender cannot set: such fields that
 * come with the message are removed (also from a message too large for
 * the rest). A signer that verifies and matches the From address has its
 * certificate kept (harvested/), so replies to it can be encrypted
 * (encrypt.c, as mail leaves).
 *
 * The message arrives as a read-only descriptor (IMSG_CRYPT_SOURCE) and
 * the new content goes to a write-only one (IMSG_CRYPT_PROCESS), both
 * opened by the queue. With an internal CA in the store, local senders
 * get certificates from it, renewed before they end. The store is
 * certstore.c's; the policy rules (policy.h) come from the parent with
 * each configuration.
 */
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "cryptod.h"
#include "log.h"
#include "mime.h"
#include "msg.h"
#include "osms_imsg.h"
#include "pgp.h"
#include "policy.h"
#include "proc.h"
#include "smime.h"
#include "util.h"
#include "verdict.h"

#define GW_HEADER	"X-Osms-SMIME:"
#define GW_PGP_HEADER	"X-Osms-PGP:"	/* pgpgate.c's verdict */
#define GW_AR		"Authentication-Results:"

/* checkd's fields (the spam score), removed from mail that has them. */
static const char *const spam_fields[] = {
	"X-Spam-Score:", "X-Spam-Status:", "X-Spam-Symbols:"
};
#define GW_MAX_PENDING	1024		/* sources waiting for their job */
#define GW_MAX_RCPTS	100		/* recipients whose keys are tried */
#define GW_ISSUE_DAYS	365		/* the internal CA's certificates */
#define GW_RENEW_DAYS	30		/* renewed this long before the end */

struct source {
	TAILQ_ENTRY(source)	 entry;
	struct channel		*ch;
	uint64_t		 sid;
	char			 tag[64];
	int			 fd;
};

static TAILQ_HEAD(, source)	 sources = TAILQ_HEAD_INITIALIZER(sources);
static unsigned			 nsources;
static unsigned long		 ndecrypted, nverified, nsigned;

/*
 * The policy rules (policy.h), as the parent sent them.
 */
static struct policy_rules	 rules = TAILQ_HEAD_INITIALIZER(rules);
static struct policy_rules	 next_rules = TAILQ_HEAD_INITIALIZER(next_rules);
static char			 authserv_id[CONF_MAX_NAME];	/* hostname */
static char			 next_policy_table[CONF_MAX_NAME];

static void
rules_free(struct policy_rules *list)
{
	struct policy_rule	*r;

	while ((r = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, r, entry);
		free(r);
	}
}

void
gateway_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	char			 path[CONF_MAX_PATH];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, path, sizeof(path));
	(void)msg_get_str(&r, authserv_id, sizeof(authserv_id));
	(void)msg_get_str(&r, next_policy_table, sizeof(next_policy_table));
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_CONF_CRYPTOD");
	store_set(path);
	rules_free(&next_rules);
}

void
gateway_master(struct imsg *imsg)
{
	int	 fd = imsg_take_fd(imsg);

	if (fd == -1)
		fatalx("bad IMSG_CONF_CRYPT_MASTER");
	(void)store_set_master_fd(fd);
	(void)close(fd);
}

void
gateway_apply(void)
{
	store_reload();
	audit_open();
	rules_free(&rules);
	TAILQ_CONCAT(&rules, &next_rules, entry);
	dirpolicy_conf(next_policy_table, &rules);
	storesync_conf();
	pgpgate_apply(store_dir());
}

/* Decrypt with the key of name (an address or a domain): 0 if it did. */
static int
decrypt_with(const char *name, const struct buf *in, int nested,
    struct buf *out)
{
	X509		*x = store_cert(name);
	EVP_PKEY	*k = store_key(name);
	const char	*err;
	int		 rc = -1;

	if (x != NULL && k != NULL && (nested ? smime_decrypt_nested(in->data,
	    in->len, x, k, out, &err) : smime_decrypt(in->data, in->len, x, k,
	    out, &err)) == 0)
		rc = 0;
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

/* "Name <a@b>" or "a@b": the address (not folded fields, not groups:
 * those never match a signer, which is what matters here). */
static void
angle_address(const char *v, char *addr, size_t size)
{
	const char	*lt = strrchr(v, '<'), *gt;
	size_t		 n;

	if (lt != NULL && (gt = strchr(lt, '>')) != NULL) {
		v = lt + 1;
		n = (size_t)(gt - v);
	} else {
		v += strspn(v, " \t");
		n = strcspn(v, " \t,;");
	}
	if (n < size && memchr(v, '@', n) != NULL) {
		memcpy(addr, v, n);
		addr[n] = '\0';
	}
}

/* The address in the message's From field, lower case, or "": also
 * when there are two, for a reader may show either (RFC 5322 allows
 * one). */
static void
from_address(const struct buf *m, char *addr, size_t size)
{
	struct mime_msg		*mm;
	const char		*err, *p, *end, *lf;
	char			 value[1024];
	size_t			 n, k;
	int			 seen = 0;

	addr[0] = '\0';
	if ((mm = mime_parse(m->data, m->len, &err)) == NULL)
		return;
	p = m->data;
	end = m->data + mime_root(mm)->body_off;
	for (; p < end; p = lf + 1) {
		if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if ((k = verdict_field_name(p, (size_t)(lf - p),
		    "From:")) == 0)
			continue;
		if (seen++) {
			addr[0] = '\0';
			break;
		}
		n = (size_t)(lf - p) - k;
		if (n >= sizeof(value))
			n = sizeof(value) - 1;
		memcpy(value, p + k, n);
		value[n] = '\0';
		value[strcspn(value, "\r")] = '\0';
		angle_address(value, addr, size);
	}
	mime_free(mm);
	for (n = 0; addr[n] != '\0'; n++)
		if (addr[n] >= 'A' && addr[n] <= 'Z')
			addr[n] = (char)(addr[n] + 32);
}

/* A request's addresses: the envelope's, and which of them leave. */
struct request {
	char		 tag[64];
	char		 sender[ADDR_MAX_TEXT];
	char		 list[4096], outside_list[4096];
	char		*rcpts[GW_MAX_RCPTS];
	size_t		 nrcpts;
	char		*outside[GW_MAX_RCPTS];
	size_t		 noutside;
	char		 refusal[400];	/* "" or an SMTP reply's text */
	char		 pgp[512];	/* "" or what OpenPGP did */
	char		 ar[800];	/* "" or our smime= result */
	char		 checks[2048];	/* "" or checkd's A-R methods */
	uint32_t	 from_verified;	/* checkd: DMARC pass */
	char		 fields[1024];	/* "" or checkd's: the spam score */
};

static size_t
split_list(char *list, char **v)
{
	char	*p, *save = NULL;
	size_t	 n = 0;

	for (p = strtok_r(list, ",", &save); p != NULL && n < GW_MAX_RCPTS;
	    p = strtok_r(NULL, ",", &save))
		v[n++] = p;
	return n;
}

static int
leaves(const struct request *rq, const char *address)
{
	size_t	 i;

	for (i = 0; i < rq->noutside; i++)
		if (strcasecmp(rq->outside[i], address) == 0)
			return 1;
	return 0;
}

void
gateway_rule(struct imsg *imsg)
{
	struct msg_reader	 rd;
	struct policy_rule	*r = xcalloc(1, sizeof(*r));
	char			 text[POLICY_MAX_TEXT], err[256];
	char			*words[POLICY_MAX_WORDS];
	uint32_t		 line;
	int			 n;

	msg_reader_init(&rd, imsg);
	(void)msg_get_str(&rd, text, sizeof(text));
	(void)msg_get_u32(&rd, &line);
	if (msg_end(&rd) == -1 || (n = policy_split(text, words,
	    POLICY_MAX_WORDS)) < 0 || policy_rule_parse(r, words, (size_t)n,
	    err, sizeof(err)) == -1)
		fatalx("bad IMSG_CONF_CRYPT_RULE");
	r->line = (int)line;
	TAILQ_INSERT_TAIL(&next_rules, r, entry);
}

int
gateway_policy(enum policy_dir dir, const char *from, const char *to,
    struct policy *p)
{
	return dirpolicy_get(&rules, dir, from, to, p);
}

int
gateway_policy_ready(enum policy_dir dir, const char *from, const char *to)
{
	return dirpolicy_ready(&rules, dir, from, to);
}

/*
 * The directions a request's recipients are looked at in: 1 if the
 * directory's answers for all are here (or none are needed), else 0
 * (asked for); -1 and why in rq->refusal if they came and some say
 * the directory cannot tell now.
 */
static int
request_ready(struct request *rq, int outgoing)
{
	struct policy	 pol;
	const char	*to;
	size_t		 i;
	int		 ready = 1, dir;

	for (i = 0; i < rq->nrcpts + rq->noutside; i++) {
		to = i < rq->nrcpts ? rq->rcpts[i] : rq->outside[i -
		    rq->nrcpts];
		dir = !outgoing ? POLICY_INBOUND : i >= rq->nrcpts ?
		    POLICY_OUTBOUND : POLICY_INTERNAL;
		if (!gateway_policy_ready(dir, rq->sender, to))
			ready = 0;
	}
	if (!ready)
		return 0;
	for (i = 0; i < rq->nrcpts + rq->noutside; i++) {
		to = i < rq->nrcpts ? rq->rcpts[i] : rq->outside[i -
		    rq->nrcpts];
		dir = !outgoing ? POLICY_INBOUND : i >= rq->nrcpts ?
		    POLICY_OUTBOUND : POLICY_INTERNAL;
		if (gateway_policy(dir, rq->sender, to, &pol) == -1) {
			(void)snprintf(rq->refusal, sizeof(rq->refusal),
			    "4.3.0 the gateway's policy for <%.100s> cannot "
			    "be read from the directory now; try again later",
			    to);
			audit(rq->tag, "from=<%s> to=<%s> deferred: the "
			    "directory cannot tell the policy now", rq->sender,
			    to);
			return -1;
		}
	}
	return 1;
}

/*
 * The signature's verdict as RFC 7281 words it, in an Authentication-
 * Results field: pass, fail, or policy (a good signature, but not by the
 * From address); the signer's address when it is a plain one, and the
 * certificate's serial number.
 */
static void
smime_result(struct request *rq, const struct smime_verdict *v, X509 *x,
    int verified)
{
	const char	*result, *s;
	char		*hex = NULL;
	BIGNUM		*bn;
	int		 plain = v->signer[0] != '\0';

	result = verified ? "pass" : v->result == SMIME_FAILED ? "fail" :
	    "policy";
	for (s = v->signer; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("@.-_+=", *s) == NULL)
			plain = 0;
	if (x != NULL && (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x),
	    NULL)) != NULL) {
		hex = BN_bn2hex(bn);
		BN_free(bn);
	}
	(void)snprintf(rq->ar, sizeof(rq->ar), "smime=%s%s"
	    "%.255s%s%.80s", result, plain ?
	    " body.smime-identifier=" : "", plain ? v->signer : "", hex !=
	    NULL ? " body.smime-serial=" : "", hex != NULL ? hex : "");
	OPENSSL_free(hex);
}

/* A step's result becomes the message; next is ready for the next step. */
static void
adopt(struct buf *cur, struct buf *next)
{
	buf_free(cur);
	*cur = *next;
	buf_init(next, cur->max);
}

/* Only we may give our verdict, nor may a sender give its own spam
 * score where ours goes: such fields leave cur. 1 if some did. */
static int
strip_forged(struct buf *cur, const struct request *rq)
{
	struct buf	 next = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	const char	*names[2 + nitems(spam_fields)];
	size_t		 i, n = 0;
	int		 changed = 0;

	names[n++] = GW_HEADER;
	names[n++] = GW_PGP_HEADER;
	for (i = 0; rq->fields[0] != '\0' && i < nitems(spam_fields); i++)
		names[n++] = spam_fields[i];
	for (i = 0; i < n; i++) {
		if (verdict_strip(cur->data, cur->len, authserv_id, names[i],
		    &next) == 1) {
			changed = 1;
			adopt(cur, &next);
		} else
			buf_reset(&next);
	}
	buf_free(&next);
	return changed;
}

/* Where the header of the message at p ends: its blank line, or len. */
static size_t
header_length(const char *p, size_t len)
{
	const char	*lf;
	size_t		 i = 0;

	while (i < len && (lf = memchr(p + i, '\n', len - i)) != NULL) {
		i = (size_t)(lf - p) + 1;
		if (i < len && (p[i] == '\n' || (p[i] == '\r' && i + 1 <
		    len && p[i + 1] == '\n')))
			return i;
	}
	return len;
}

/*
 * Mail from outside: cur is replaced as the steps go; notes say what was
 * done. 1 if the message changed.
 */
static int
inbound(struct buf *cur, struct request *rq, char *notes, size_t size)
{
	struct buf		 next = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct smime_verdict	 v;
	struct policy		 pol;
	X509			*signer = NULL;
	char			*r, from[256];
	const char		*at, *err;
	struct buf		 orig = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	size_t			 i;
	char			 why[300];
	const char		*decryptable[2 * GW_MAX_RCPTS];
	size_t			 n, j, k;
	int			 changed = 0, verified = 0, need = 0;
	int			 nested = 0, decrypted = 0, keep = 0, tag = 0;
	int			 signed_ = 0, smime_signed = 0, psigned, pverified;
	int			 smime_verified = 0, pgp;
	int			 autocrypt = 0, guarded = 0, harvest;
	enum policy_pgp_keys	 attached = PGP_KEYS_NO;

	notes[0] = '\0';
	for (i = 0; i < rq->nrcpts; i++) {
		gateway_policy(POLICY_INBOUND, rq->sender, rq->rcpts[i], &pol);
		keep |= pol.keep_original == POLICY_YES;
		tag |= pol.subject_tag == POLICY_YES;
	}
	changed = strip_forged(cur, rq);
	/*
	 * An encrypted part among others (EFAIL) is decrypted apart. The
	 * plaintext goes to every destination, so it is made only if no
	 * copy leaves and each recipient may have it done with a key of
	 * its own (or its domain's) that the message is encrypted for:
	 * else an old message sent again would be read by whoever it was
	 * not meant for (EFAIL's decryption oracle).
	 */
	if (smime_is_encrypted(cur->data, cur->len) ||
	    (nested = smime_has_nested(cur->data, cur->len))) {
		for (i = 0, n = 0; rq->noutside == 0 && i < rq->nrcpts; i++) {
			r = rq->rcpts[i];
			gateway_policy(POLICY_INBOUND, rq->sender, r, &pol);
			at = strrchr(r, '@');
			buf_reset(&next);
			if (pol.decrypt != POLICY_YES ||
			    (decrypt_with(r, cur, nested, &next) == -1 &&
			    (at == NULL || decrypt_with(at + 1, cur, nested,
			    &next) == -1)))
				break;
			n++;
		}
		if (rq->noutside > 0)
			(void)snprintf(notes, size, "encrypted, not decrypted: "
			    "a copy leaves for %.100s", rq->outside[0]);
		else if (n == 0)
			(void)osms_strlcpy(notes, "encrypted, for no key here",
			    size);
		else if (n < rq->nrcpts)
			(void)snprintf(notes, size, "encrypted, not decrypted: "
			    "not for %.100s", rq->rcpts[n]);
		else {
			/* What came, kept as evidence, by policy. */
			if (keep && !nested)
				(void)buf_add(&orig, cur->data, cur->len);
			decrypted = 1;
			(void)snprintf(notes, size, "decrypted for %.100s%s",
			    rq->rcpts[0], nested ? " (one encrypted part "
			    "among unencrypted ones: not joined to them, the "
			    "original attached)" : "");
			adopt(cur, &next);
			ndecrypted++;
		}
		buf_reset(&next);
		changed = 1;
	}
	/* OpenPGP likewise: by the same rule (pgp.c checks that it is
	 * encrypted for each recipient), else not at all. */
	from_address(cur, from, sizeof(from));
	for (i = 0, n = 0; i < rq->nrcpts; i++) {
		gateway_policy(POLICY_INBOUND, rq->sender, rq->rcpts[i], &pol);
		if (pol.decrypt != POLICY_YES || rq->noutside > 0) {
			n = 0;
			break;
		}
		decryptable[n++] = rq->rcpts[i];
	}
	/* And their domains: a partner gateway encrypts to the domain key. */
	for (i = 0, j = n; i < j; i++) {
		if ((at = strrchr(decryptable[i], '@')) == NULL)
			continue;
		for (k = j; k < n; k++)
			if (strcasecmp(decryptable[k], at + 1) == 0)
				break;
		if (k == n)
			decryptable[n++] = at + 1;
	}
	pgp = pgpgate_inbound(cur, decryptable, n, from, rq->pgp,
	    sizeof(rq->pgp), &psigned, &pverified, rq->refusal,
	    sizeof(rq->refusal));
	/* Names from keys are the senders' words: one line. */
	for (r = rq->pgp; *r != '\0'; r++)
		if ((unsigned char)*r < 0x20 || *r == 0x7f)
			*r = '?';
	switch (pgp) {
	case -1:
		audit(rq->tag, "from=<%s> refused: OpenPGP without integrity "
		    "protection", rq->sender);
		buf_free(&orig);
		buf_free(&next);
		return 1;
	case 1:
		changed = 1;
		decrypted |= strncmp(rq->pgp, "decrypted", 9) == 0;
		signed_ |= psigned;
		verified |= pverified;
		audit(rq->tag, "from=<%s> inbound openpgp: %s", rq->sender,
		    rq->pgp);
		break;
	default:
		break;
	}
	/* A correspondent's OpenPGP key, as the most permissive policy
	 * among the recipients allows (pgpgate.c). */
	for (i = 0; i < rq->nrcpts; i++) {
		gateway_policy(POLICY_INBOUND, rq->sender, rq->rcpts[i], &pol);
		autocrypt |= pol.autocrypt == POLICY_YES;
		if (pol.pgp_keys > attached)
			attached = pol.pgp_keys;
		guarded |= pol.harvest == HARVEST_VERIFIED;
	}
	/* A recipient's policy may want the sender verified (checkd: the
	 * From domain passed DMARC) before anything is kept. */
	harvest = !guarded || rq->from_verified;
	if (!harvest && (autocrypt || attached != PGP_KEYS_NO))
		audit(rq->tag, "from=<%s> no OpenPGP key taken: the sender's"
		    " domain is not verified (harvest verified)", rq->sender);
	pgpgate_harvest(cur, from, rq->tag, autocrypt && harvest, harvest ?
	    attached : PGP_KEYS_NO);
	if (smime_verify(cur->data, cur->len, store_trust(), &v, NULL, &signer,
	    &err) == 0 && v.result != SMIME_NOT_SIGNED) {
		changed = 1;
		signed_ = smime_signed = 1;
		from_address(cur, from, sizeof(from));
		/* The engine checks no CRL: crl.pem may know better. */
		if (v.result == SMIME_VERIFIED && signer != NULL &&
		    store_revoked(signer)) {
			v.result = SMIME_FAILED;
			(void)osms_strlcpy(v.reason, "the signer's certificate "
			    "is revoked (crl.pem)", sizeof(v.reason));
		}
		if (v.result == SMIME_FAILED)
			(void)snprintf(notes + strlen(notes), size -
			    strlen(notes), "%sfailed (%.120s)", notes[0] ? "; " :
			    "", v.reason);
		else if (strcasecmp(v.signer, from) != 0)
			(void)snprintf(notes + strlen(notes), size -
			    strlen(notes), "%ssigner mismatch signer=%.100s"
			    " from=%.100s", notes[0] ? "; " : "", v.signer, from);
		else {
			(void)snprintf(notes + strlen(notes), size -
			    strlen(notes), "%sverified signer=%.100s", notes[0] ?
			    "; " : "", v.signer);
			if (harvest)
				store_harvest(signer, v.signer, v.caps);
			else
				audit(rq->tag, "from=<%s> certificate not "
				    "kept: the sender's domain is not verified"
				    " (harvest verified)", rq->sender);
			nverified++;
			verified = smime_verified = 1;
		}
	}
	if (smime_signed)
		smime_result(rq, &v, signer, smime_verified);
	X509_free(signer);
	if (orig.len > 0 && !orig.over) {
		buf_reset(&next);
		if (smime_attach_original(cur->data, cur->len, orig.data,
		    orig.len, "the message as it came, encrypted", &next) == 0) {
			adopt(cur, &next);
			(void)osms_strlcat(notes, "; the original attached", size);
		}
	}
	buf_reset(&next);
	if (tag && verdict_tag_subject(cur->data, cur->len, decrypted ?
	    (signed_ ? (verified ? "[encrypted] [signed]" : "[encrypted] "
	    "[signature invalid]") : "[encrypted]") : !signed_ ? "" :
	    verified ? "[signed]" : "[signature invalid]", &next) == 1) {
		changed = 1;
		adopt(cur, &next);
	}
	buf_free(&orig);
	buf_free(&next);
	/* Names from certificates are the senders' words: one line. */
	for (r = notes; *r != '\0'; r++)
		if ((unsigned char)*r < 0x20 || *r == 0x7f)
			*r = '?';
	for (i = 0; !verified && !need && i < rq->nrcpts; i++) {
		gateway_policy(POLICY_INBOUND, rq->sender, rq->rcpts[i], &pol);
		need = pol.require_signed;
	}
	if (need) {
		(void)osms_snprintf(rq->refusal, sizeof(rq->refusal), "Mail "
		    "from <%.100s> must carry a valid S/MIME or OpenPGP "
		    "signature (policy:"
		    " %.150s): %.200s", rq->sender, policy_why(&pol, why,
		    sizeof(why)), notes[0] ? notes : rq->pgp[0] ? rq->pgp :
		    "not signed");
		audit(rq->tag, "from=<%s> refused: require-signed rule=%d%s%s: "
		    "%s", rq->sender, pol.line, pol.via[0] ? " entry=" : "",
		    pol.via, notes[0] ? notes : "not signed");
	} else if (notes[0] != '\0')
		audit(rq->tag, "from=<%s> inbound: %s", rq->sender, notes);
	return changed;
}

/* The certificate and key that sign for name, when they are usable. */
static int
signing_pair(const char *name, X509 **x, EVP_PKEY **k)
{
	const char	*why;

	*x = store_cert(name);
	*k = *x != NULL ? store_key(name) : NULL;
	if (*x != NULL && *k != NULL && store_check(*x, name, STORE_SIGN,
	    &why) == 0)
		return 0;
	if (*x != NULL && *k != NULL)
		log_info("cryptod: not signing with the certificate of %s: %s",
		    name, why);
	X509_free(*x);
	EVP_PKEY_free(*k);
	*x = NULL;
	*k = NULL;
	return -1;
}

/*
 * With an internal CA in the store, a local sender who has no usable
 * certificate gets one, and one the CA issued is renewed in its last
 * GW_RENEW_DAYS days: users need no crypto knowledge at all.
 */
static void
issue_if_needed(const char *tag, const char *sender)
{
	X509		*x;
	const char	*why;
	int		 need, days_left = 0, secs_left = 0;

	if (!store_has_ca() || strchr(sender, '@') == NULL)
		return;
	if ((x = store_cert(sender)) == NULL)
		need = 1;
	else if (!store_issued_by_ca(x))
		need = 0;	/* imported: the administrator's */
	else
		need = ASN1_TIME_diff(&days_left, &secs_left, NULL,
		    X509_get0_notAfter(x)) != 1 || days_left < GW_RENEW_DAYS;
	X509_free(x);
	if (!need)
		return;
	if (store_issue(sender, GW_ISSUE_DAYS, &why) == -1)
		audit(tag, "from=<%s> no certificate issued: %s", sender, why);
	else
		audit(tag, "from=<%s> certificate issued by the internal CA "
		    "for %d days", sender, GW_ISSUE_DAYS);
}

/*
 * What the policy refuses before the message is queued: mail its sender
 * encrypted where that may not leave, and a recipient that must get it
 * encrypted but has no usable certificate. The user hears it at once.
 */
static int
outbound_refused(int encrypted, struct request *rq)
{
	struct policy	 pol;
	X509		*x;
	enum store_origin origin;
	char		 why[200], src[300], fpr[PGP_MAX_FPR + 1];
	size_t		 i;
	unsigned	 caps;

	for (i = 0; i < rq->noutside; i++) {
		gateway_policy(POLICY_OUTBOUND, rq->sender, rq->outside[i],
		    &pol);
		if (encrypted && pol.user_encrypted == USER_ENCRYPTED_REJECT) {
			(void)snprintf(rq->refusal, sizeof(rq->refusal),
			    "Mail encrypted by its sender may not leave (policy"
			    ": %.150s); send it unencrypted and the gateway "
			    "encrypts it", policy_why(&pol, src, sizeof(src)));
			audit(rq->tag, "from=<%s> to=<%s> refused: encrypted by"
			    " the sender, user-encrypted reject rule=%d%s%s",
			    rq->sender, rq->outside[i], pol.line, pol.via[0] ?
			    " entry=" : "", pol.via);
			return 1;
		}
		if (encrypted || pol.encrypt != ENCRYPT_MANDATORY)
			continue;
		if ((x = store_recipient(rq->outside[i], &origin, &caps, why,
		    sizeof(why))) != NULL) {
			X509_free(x);
			continue;
		}
		/* An OpenPGP key will do as well, the recipient's or its
		 * domain's (encrypt.c). */
		if (pgpgate_key_for(rq->outside[i], fpr, sizeof(fpr)) >= 0)
			continue;
		(void)osms_snprintf(rq->refusal, sizeof(rq->refusal), "<%.100s>:"
		    " no usable certificate (%.100s); the policy (%.150s) "
		    "requires encryption", rq->outside[i], why[0] ? why : "none known",
		    policy_why(&pol, src, sizeof(src)));
		audit(rq->tag, "from=<%s> to=<%s> refused: encrypt mandatory, "
		    "no usable certificate (%s) rule=%d%s%s", rq->sender,
		    rq->outside[i], why[0] ? why : "none known", pol.line,
		    pol.via[0] ? " entry=" : "", pol.via);
		return 1;
	}
	return 0;
}

/*
 * A user's message, signed with the user's key, else the domain's, as
 * the policy says (the strongest sign action among its recipients). 1
 * if it was. Mail that is S/MIME already passes as it is.
 */
static int
outbound(struct buf *cur, struct request *rq, char *notes, size_t size)
{
	struct buf	 signed_ = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct smime_verdict v;
	struct policy	 pol;
	X509		*x = NULL;
	EVP_PKEY	*k = NULL;
	const char	*sender = rq->sender, *at = strrchr(sender, '@'), *err;
	const char	*name = sender;
	enum policy_sign sign = SIGN_NEVER;
	size_t		 i;
	struct policy	 strongest;
	char		 src[300];
	char		 fpr[PGP_MAX_FPR + 1];
	int		 rc = 0, encrypted, autocrypt = 0, added = 0, pgp;

	memset(&strongest, 0, sizeof(strongest));
	notes[0] = '\0';
	encrypted = smime_is_encrypted(cur->data, cur->len);
	if (outbound_refused(encrypted, rq))
		return 0;
	/* The sender's OpenPGP key for its correspondents, by policy. */
	for (i = 0; i < rq->noutside && !autocrypt; i++) {
		gateway_policy(POLICY_OUTBOUND, sender, rq->outside[i], &pol);
		autocrypt = pol.autocrypt == POLICY_YES;
	}
	if (autocrypt && pgpgate_autocrypt_field(sender, &signed_) == 0 &&
	    buf_add(&signed_, cur->data, cur->len) == 0) {
		adopt(cur, &signed_);
		added = 1;
	} else
		buf_reset(&signed_);
	if (encrypted || (smime_verify(cur->data, cur->len, store_trust(), &v,
	    NULL, NULL, &err) == 0 && v.result != SMIME_NOT_SIGNED)) {
		(void)osms_strlcpy(notes, "S/MIME already: passed", size);
		buf_free(&signed_);
		return added;
	}
	for (i = 0; i < rq->nrcpts + rq->noutside; i++) {
		if (i < rq->nrcpts && leaves(rq, rq->rcpts[i]))
			continue;	/* counted as it leaves */
		gateway_policy(i < rq->nrcpts ? POLICY_INTERNAL :
		    POLICY_OUTBOUND, sender, i < rq->nrcpts ? rq->rcpts[i] :
		    rq->outside[i - rq->nrcpts], &pol);
		if (pol.sign > sign) {
			sign = pol.sign;
			strongest = pol;
		}
	}
	if (sign == SIGN_NEVER) {
		buf_free(&signed_);
		return added;
	}
	/* OpenPGP by preference (the sender's key pair, if any). */
	if (strongest.prefer == PREFER_OPENPGP && (pgp = pgpgate_sign(cur,
	    sender, 0, fpr, sizeof(fpr), &err)) != 0) {
		buf_free(&signed_);
		if (pgp == -1) {
			(void)snprintf(notes, size, "not signed: %.100s", err);
			return added;
		}
		(void)snprintf(notes, size, "signed (OpenPGP) as %.100s",
		    sender);
		audit(rq->tag, "from=<%s> signed openpgp key=%s sign=%s "
		    "rule=%d%s%s", sender, fpr, policy_sign_name(sign),
		    strongest.line, strongest.via[0] ? " entry=" : "",
		    strongest.via);
		nsigned++;
		return 1;
	}
	issue_if_needed(rq->tag, sender);
	if (signing_pair(sender, &x, &k) == -1) {
		name = at != NULL ? at + 1 : "";
		if (at == NULL || signing_pair(name, &x, &k) == -1) {
			/* No certificate: an OpenPGP key pair will do,
			 * the sender's, else the domain's. */
			if ((pgp = pgpgate_sign(cur, sender, 1, fpr,
			    sizeof(fpr), &err)) > 0) {
				(void)snprintf(notes, size, "signed (OpenPGP) "
				    "as %.100s", pgp == 1 ? sender : name);
				audit(rq->tag, "from=<%s> signed openpgp key=%s"
				    "%s sign=%s rule=%d%s%s", sender, fpr, pgp ==
				    2 ? " origin=domain" : "",
				    policy_sign_name(sign), strongest.line,
				    strongest.via[0] ? " entry=" : "",
				    strongest.via);
				nsigned++;
				buf_free(&signed_);
				return 1;
			}
			if (sign == SIGN_ALWAYS) {
				(void)snprintf(rq->refusal, sizeof(rq->refusal),
				    "No usable certificate to sign mail of "
				    "<%.100s>; the policy (%.150s) requires a "
				    "signature", sender, policy_why(&strongest,
				    src, sizeof(src)));
				audit(rq->tag, "from=<%s> refused: sign always,"
				    " no usable certificate rule=%d%s%s", sender,
				    strongest.line, strongest.via[0] ?
				    " entry=" : "", strongest.via);
			}
			buf_free(&signed_);
			return added;
		}
	}
	if (smime_sign(cur->data, cur->len, x, k, NULL, &signed_, &err) == 0) {
		buf_free(cur);
		*cur = signed_;
		buf_init(&signed_, 2 * SMIME_MAX_MESSAGE);
		(void)snprintf(notes, size, "signed as %.100s", name);
		audit(rq->tag, "from=<%s> signed cert=%s sign=%s rule=%d%s%s",
		    sender, name, policy_sign_name(sign), strongest.line,
		    strongest.via[0] ? " entry=" : "", strongest.via);
		nsigned++;
		rc = 1;
	} else
		(void)snprintf(notes, size, "not signed: %.100s", err);
	X509_free(x);
	EVP_PKEY_free(k);
	buf_free(&signed_);
	return rc | added;
}

static void
answer(struct channel *ch, uint64_t id, int rewritten, uint64_t size,
    const char *what, const char *tag, const char *refusal)
{
	struct msg	 m;

	msg_init(&m, IMSG_CRYPT_DONE, id);
	msg_add_u32(&m, rewritten ? 1 : 0);
	msg_add_u64(&m, size);
	msg_add_str(&m, what);
	msg_add_str(&m, tag);
	msg_add_str(&m, refusal);
	(void)channel_send(ch, &m);
}

void
gateway_source(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct source		*s, *old;

	s = xcalloc(1, sizeof(*s));
	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, s->tag, sizeof(s->tag));
	s->fd = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || s->fd == -1) {
		if (s->fd != -1)
			(void)close(s->fd);
		free(s);
		channel_bad_message(ch, imsg, "bad source");
		return;
	}
	s->ch = ch;
	s->sid = imsg->hdr.id;
	/* One a session; the oldest go when too many wait. */
	TAILQ_FOREACH(old, &sources, entry)
		if (old->ch == ch && old->sid == s->sid)
			break;
	if (old == NULL && nsources == GW_MAX_PENDING)
		old = TAILQ_FIRST(&sources);
	if (old != NULL) {
		TAILQ_REMOVE(&sources, old, entry);
		(void)close(old->fd);
		free(old);
		nsources--;
	}
	TAILQ_INSERT_TAIL(&sources, s, entry);
	nsources++;
}

/* The content a channel sent for the request id (and tag): its
 * descriptor, -1 if none came. */
int
gateway_take_source(struct channel *ch, uint64_t id, const char *tag)
{
	struct source	*s;
	int		 fd;

	TAILQ_FOREACH(s, &sources, entry)
		if (s->ch == ch && s->sid == id && strcmp(s->tag, tag) == 0)
			break;
	if (s == NULL)
		return -1;
	TAILQ_REMOVE(&sources, s, entry);
	nsources--;
	fd = s->fd;
	free(s);
	return fd;
}

void
gateway_process(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct request		*rq = xcalloc(1, sizeof(*rq));
	struct buf		 cur = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct stat		 st;
	char			 notes[512], head[8192], *map = NULL;
	uint64_t		 size = 0;
	uint32_t		 outgoing;
	size_t			 mapped = 0, hlen = 0;
	int			 out, src, rewritten = 0, changed, ready;
	int			 whole;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, rq->tag, sizeof(rq->tag));
	(void)msg_get_str(&r, rq->sender, sizeof(rq->sender));
	(void)msg_get_str(&r, rq->list, sizeof(rq->list));
	(void)msg_get_str(&r, rq->outside_list, sizeof(rq->outside_list));
	(void)msg_get_u32(&r, &outgoing);
	(void)msg_get_str(&r, rq->checks, sizeof(rq->checks));
	(void)msg_get_u32(&r, &rq->from_verified);
	(void)msg_get_str(&r, rq->fields, sizeof(rq->fields));
	out = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || out == -1 || !header_fields_ok(rq->fields) ||
	    !folded_text_ok(rq->checks) || str_has_ctl(rq->list) ||
	    str_has_ctl(rq->outside_list) || str_has_ctl(rq->sender)) {
		if (out != -1)
			(void)close(out);
		free(rq);
		channel_bad_message(ch, imsg, "bad gateway request");
		return;
	}
	rq->nrcpts = split_list(rq->list, rq->rcpts);
	rq->noutside = split_list(rq->outside_list, rq->outside);
	/* The directory's word first: this request comes again with it. */
	if ((ready = request_ready(rq, outgoing)) == 0) {
		imsg->fd = out;
		if (dirpolicy_defer(ch, imsg, gateway_process) == 0) {
			free(rq);
			return;
		}
		out = imsg_take_fd(imsg);
		ready = -1;
		(void)snprintf(rq->refusal, sizeof(rq->refusal), "4.3.0 the "
		    "gateway waits for the directory; try again later");
	}
	if ((src = gateway_take_source(ch, imsg->hdr.id, rq->tag)) == -1) {
		(void)close(out);
		answer(ch, imsg->hdr.id, 0, 0, "no content", rq->tag, "");
		free(rq);
		return;
	}
	notes[0] = '\0';
	if (fstat(src, &st) == -1 || st.st_size <= 0 || (map = mmap(NULL,
	    (size_t)st.st_size, PROT_READ, MAP_PRIVATE, src, 0)) ==
	    MAP_FAILED)
		goto done;
	mapped = (size_t)st.st_size;
	/*
	 * Too large to be decrypted or verified: from outside, its header
	 * still loses the verdict fields it came with and gets checkd's,
	 * and the body is copied as it is.
	 */
	whole = mapped <= SMIME_MAX_MESSAGE;
	hlen = whole ? mapped : header_length(map, mapped);
	if ((!whole && (outgoing || hlen > SMIME_MAX_MESSAGE)) ||
	    buf_add(&cur, map, hlen) == -1 || ready != 1)
		goto done;
	if (!whole) {
		changed = strip_forged(&cur, rq);
		(void)snprintf(notes, sizeof(notes), "too large to be "
		    "decrypted or verified (%zu bytes)", mapped);
	} else if (outgoing)
		changed = outbound(&cur, rq, notes, sizeof(notes));
	else
		changed = inbound(&cur, rq, notes, sizeof(notes));
	/* checkd's results are written even if nothing else changed. */
	if ((!changed && (outgoing || (rq->checks[0] == '\0' &&
	    rq->fields[0] == '\0'))) || rq->refusal[0] != '\0')
		goto done;
	head[0] = '\0';
	if (!outgoing) {
		/* Our fields first; none on what leaves. One
		 * Authentication-Results field holds every result. */
		if (changed && notes[0] == '\0' && rq->pgp[0] == '\0')
			(void)osms_strlcpy(notes, "forged verdict fields "
			    "removed", sizeof(notes));
		if (rq->checks[0] != '\0' || rq->ar[0] != '\0')
			(void)snprintf(head, sizeof(head), GW_AR " %.255s;%s%s"
			    "%s%s\r\n", authserv_id, rq->checks[0] ? "\r\n\t" :
			    "", rq->checks, rq->ar[0] == '\0' ? "" :
			    rq->checks[0] ? ";\r\n\t" : " ", rq->ar);
		(void)snprintf(head + strlen(head), sizeof(head) -
		    strlen(head), "%s%s%s%s%s%s%s", rq->fields,
		    notes[0] ? GW_HEADER " " : "", notes,
		    notes[0] ? "\r\n" : "", rq->pgp[0] ? GW_PGP_HEADER " " :
		    "", rq->pgp, rq->pgp[0] ? "\r\n" : "");
	}
	if (write_all(out, head, strlen(head)) == -1 ||
	    write_all(out, cur.data, cur.len) == -1 ||
	    write_all(out, map + hlen, mapped - hlen) == -1) {
		log_warn("cryptod: %s: write", rq->tag);
		(void)osms_strlcpy(notes, "cannot write", sizeof(notes));
		goto done;
	}
	size = strlen(head) + cur.len + mapped - hlen;
	rewritten = 1;
done:
	if (mapped > 0)
		(void)munmap(map, mapped);
	(void)close(src);
	(void)close(out);
	answer(ch, imsg->hdr.id, rewritten, size, notes, rq->tag, rq->refusal);
	buf_free(&cur);
	free(rq);
}

unsigned long
gateway_count(void)
{
	return ndecrypted + nverified + nsigned;
}
