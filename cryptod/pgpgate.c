/*
 * cryptod: OpenPGP mail from outside (PGP/MIME, RFC 3156, and inline: a
 * text/plain body that is one armored message, nothing around it), before
 * the
 * virus scan, as gateway.c does for S/MIME: decrypted with the key of a
 * recipient whose policy says decrypt (the keys are those of the
 * store's GnuPG home, gnupg/, which osmsctl pgp keeps), its signature
 * checked against the keys of the home, and what was done said in an
 * X-Osms-PGP field (a sender's own such fields are removed first). A
 * message encrypted without integrity protection (no MDC) is refused:
 * its plaintext could have been changed on the way (EFAIL).
 *
 * Autocrypt, where the policy says so: the sender's key goes out in an
 * Autocrypt field; a correspondent's key comes in from one, trusted on
 * first use, or from a key attached to the message (application/
 * pgp-keys), by policy only when the message is signed with it. A key
 * that differs from the one known for the address is
 * not taken: it waits in pgp-held/ of the store for osmsctl pgp accept,
 * and the log and the audit trail say so. A key for an address that has
 * a secret key here (one of ours) is never taken from mail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "autocrypt.h"
#include "buf.h"
#include "cryptod.h"
#include "log.h"
#include "pgp.h"
#include "util.h"

#define PGP_RETRY	60	/* seconds between two tries to start */

static int	 ready;		/* the engine runs on the store's home */
static time_t	 tried;
static char	 home[1100];
static char	 held[1100];	/* pgp-held/ of the store */
static char	 scratch[1100];	/* the store: homes to check a key in */
/* The message being handled as it came, and its session key, while it
 * was signed inside the encryption by a key not here: a key attached
 * to it may have made that signature (harvest_attached()). */
static struct buf sealed = BUF_INIT(PGP_MAX_MESSAGE);
static char	 session[sizeof(((struct pgp_verdict *)0)->session)];

static void
forget_sealed(void)
{
	buf_free(&sealed);
	explicit_bzero(session, sizeof(session));
}

void
pgpgate_apply(const char *store)
{
	/* Started at first use: this may run as root still, and the home
	 * must be cryptod's. */
	pgp_done();
	ready = 0;
	tried = 0;
	home[0] = held[0] = '\0';
	(void)osms_strlcpy(scratch, store, sizeof(scratch));
	if (store[0] != '\0') {
		(void)snprintf(home, sizeof(home), "%s/gnupg", store);
		(void)snprintf(held, sizeof(held), "%s/pgp-held", store);
	}
}

static int
start(void)
{
	const char	*err;
	time_t		 now = time(NULL);

	if (ready || home[0] == '\0' || (tried != 0 && now - tried <
	    PGP_RETRY))
		return ready;
	tried = now;
	/* GnuPG's agent finds its home by HOME when it has no other. */
	(void)setenv("HOME", home, 1);
	if (pgp_init(home, &err) == -1)
		log_warnx("cryptod: OpenPGP off: %s: %s", home, err);
	else
		ready = 1;
	return ready;
}

void
pgpgate_shutdown(void)
{
	if (ready)
		pgp_stop_agent();
	pgp_done();
}

int
pgpgate_key_for(const char *address, char *fpr, size_t size)
{
	const char	*at = strrchr(address, '@');

	if (!start())
		return -1;
	if (pgp_key_for(address, 0, fpr, size) == 0)
		return 0;
	/* A partner gateway's key for its whole domain. */
	return at != NULL && pgp_key_for(at + 1, 0, fpr, size) == 0 ? 1 : -1;
}

/* The verdict on a signature in words, for the field: 1 if it is a
 * good signature by a key of From's address (any of its user IDs) or of
 * its domain's gateway key. */
static int
say(const struct pgp_verdict *v, const char *from, char *notes, size_t size)
{
	const char	*at = strrchr(from, '@');
	size_t		 n = strlen(notes);

	if (v->result == PGP_NOT_SIGNED || n >= size)
		return 0;
	if (v->result == PGP_FAILED)
		(void)snprintf(notes + n, size - n, "%sfailed (%.120s)", n ?
		    "; " : "", v->reason);
	else if (pgp_key_names(v->fpr, from)) {
		(void)snprintf(notes + n, size - n, "%sverified signer=%.100s",
		    n ? "; " : "", from);
		return 1;
	} else if (at != NULL && pgp_key_names(v->fpr, at + 1)) {
		(void)snprintf(notes + n, size - n, "%sverified signer=%.100s "
		    "(the domain's key)", n ? "; " : "", at + 1);
		return 1;
	} else
		(void)snprintf(notes + n, size - n, "%ssigner mismatch signer="
		    "%.100s from=%.100s", n ? "; " : "", v->signer[0] ?
		    v->signer : v->fpr, from);
	return 0;
}

int
pgpgate_inbound(struct buf *cur, const char *const *decryptable,
    size_t ndecryptable, const char *from, char *notes, size_t size,
    int *signed_, int *verified, char *refusal, size_t rsize)
{
	struct buf		 next = BUF_INIT(2 * PGP_MAX_MESSAGE);
	struct pgp_verdict	 v, inner;
	const char		*err;
	char			 who[256];
	int			 changed = 0, is_inline;

	notes[0] = '\0';
	*signed_ = *verified = 0;
	forget_sealed();
	if (!start())
		return 0;
	memset(&v, 0, sizeof(v));
	if ((is_inline = pgp_is_inline(cur->data, cur->len)) ||
	    pgp_is_encrypted(cur->data, cur->len)) {
		if (ndecryptable == 0) {
			(void)osms_strlcpy(notes, "encrypted, not decrypted "
			    "(policy)", size);
			return 1;	/* the field says so */
		}
		if ((is_inline ? pgp_decrypt_inline : pgp_decrypt)(cur->data,
		    cur->len, decryptable, ndecryptable, who, sizeof(who),
		    &next, &v, &err) == -1) {
			buf_free(&next);
			if (err == PGP_NO_MDC) {
				(void)snprintf(refusal, rsize, "OpenPGP mail "
				    "encrypted without integrity protection is "
				    "refused: %s", PGP_NO_MDC);
				return -1;
			}
			(void)snprintf(notes, size, "encrypted, for no key "
			    "here (%.100s)", err);
			return 1;
		}
		if (v.session[0] != '\0' && buf_add(&sealed, cur->data,
		    cur->len) == 0)
			(void)osms_strlcpy(session, v.session, sizeof(session));
		explicit_bzero(v.session, sizeof(v.session));
		buf_free(cur);
		*cur = next;
		buf_init(&next, cur->max);
		(void)snprintf(notes, size, "decrypted for %.100s%s", who,
		    is_inline ? " (inline)" : "");
		changed = 1;
	}
	/* EFAIL: an encrypted part among others stays as it is. */
	if (!changed && pgp_has_nested(cur->data, cur->len)) {
		(void)osms_strlcpy(notes, "an encrypted part among unencrypted "
		    "ones: not decrypted (EFAIL)", size);
		changed = 1;
	}
	/* Signed then encrypted (RFC 3156 6.1): the signature inside. */
	if (v.result == PGP_NOT_SIGNED && pgp_verify(cur->data, cur->len,
	    &inner, &err) == 0)
		v = inner;
	if (v.result != PGP_NOT_SIGNED) {
		*signed_ = 1;
		*verified = say(&v, from, notes, size);
		changed = 1;
	}
	buf_free(&next);
	return changed;
}

/* A changed key, aside for the administrator: 0, or -1. */
static int
hold(const char *addr, const struct buf *key)
{
	char	 path[1400], tmp[1420];
	int	 fd;

	if (mkdir(held, 0700) == -1 && errno != EEXIST)
		return -1;
	(void)snprintf(path, sizeof(path), "%s/%s.key", held, addr);
	(void)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", held, addr);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	if (write_all(fd, key->data, key->len) == -1 || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * A key the sender offers for itself (source: how it came, for the
 * audit trail): taken if the address has none here, held for the
 * administrator if it has another, never for one of our addresses.
 */
static void
take(const char *addr, const struct buf *key, const char *from,
    const char *tag, const char *source)
{
	char		 fpr[PGP_MAX_FPR + 1], known[PGP_MAX_FPR + 1];
	const char	*err;

	if (strcasecmp(addr, from) != 0 || strchr(addr, '/') != NULL ||
	    addr[0] == '.')
		audit(tag, "from=<%s> %s: for <%s>, not the sender: ignored",
		    from, source, addr);
	else if (pgp_key_for(addr, 1, known, sizeof(known)) == 0)
		audit(tag, "from=<%s> %s: a key for a local address: ignored",
		    from, source);
	else if (pgp_offered(key->data, key->len, addr, fpr, sizeof(fpr),
	    &err) == -1)
		audit(tag, "from=<%s> %s: refused: %s", from, source, err);
	else if (pgp_key_for(addr, 0, known, sizeof(known)) == 0) {
		if (strcmp(known, fpr) != 0) {
			if (hold(addr, key) == -1)
				log_warn("cryptod: %s/%s.key", held, addr);
			audit(tag, "from=<%s> %s: a new key %s differs from the "
			    "known %s: held for osmsctl pgp accept", from,
			    source, fpr, known);
		}
	} else if (pgp_import_for(key->data, key->len, addr, &err) == -1)
		audit(tag, "from=<%s> %s: not imported: %s", from, source, err);
	else
		audit(tag, "from=<%s> %s: key %s harvested", from, source, fpr);
}

/* The sender's key from an Autocrypt field. */
static void
harvest_autocrypt(const struct buf *cur, const char *from, const char *tag)
{
	struct autocrypt	 ac;
	int			 r;

	if ((r = autocrypt_find(cur->data, cur->len, &ac)) == 0)
		return;
	if (r == -1)
		audit(tag, "from=<%s> autocrypt: a malformed field, ignored",
		    from);
	else
		take(ac.addr, &ac.key, from, tag, "autocrypt");
	buf_free(&ac.key);
}

/* The message's signature checked with key alone: PGP/MIME signed, or
 * signed inside the encryption it came in. */
static int
signed_with(const struct buf *cur, const struct buf *key,
    struct pgp_verdict *v, const char **err)
{
	if (pgp_verify_with(cur->data, cur->len, NULL, key->data, key->len,
	    scratch, v, err) == -1)
		return -1;
	if (v->result != PGP_NOT_SIGNED || sealed.len == 0 ||
	    session[0] == '\0')
		return 0;
	return pgp_verify_with(sealed.data, sealed.len, session, key->data,
	    key->len, scratch, v, err);
}

/*
 * The sender's key from an attached application/pgp-keys part; signed:
 * only if that key's own signature over the message (PGP/MIME, after
 * decryption, or the signature inside the encryption) verifies, checked
 * with that key alone.
 */
static void
harvest_attached(const struct buf *cur, const char *from, const char *tag,
    enum policy_pgp_keys mode)
{
	struct buf		 key = BUF_INIT(PGP_MAX_KEY);
	struct pgp_verdict	 v;
	char			 fpr[PGP_MAX_FPR + 1], known[PGP_MAX_FPR + 1];
	const char		*err = NULL;
	int			 r;

	memset(&v, 0, sizeof(v));
	if ((r = pgp_attached_key(cur->data, cur->len, &key)) == 0)
		return;
	if (r == -1)
		audit(tag, "from=<%s> attached key: malformed or too large, "
		    "ignored", from);
	else if (pgp_offered(key.data, key.len, from, fpr, sizeof(fpr),
	    &err) == -1)
		audit(tag, "from=<%s> attached key: refused: %s", from, err);
	else if (pgp_key_for(from, 0, known, sizeof(known)) == 0 &&
	    strcmp(known, fpr) == 0)
		;	/* known already: no gpg run for the signature */
	else if (mode == PGP_KEYS_SIGNED && (signed_with(cur, &key, &v,
	    &err) == -1 || v.result != PGP_VERIFIED))
		/* Verified with that key alone: it signed, and it is From's
		 * (pgp_offered() above). */
		audit(tag, "from=<%s> attached key: ignored, the message is not"
		    " signed with it (%s)", from, v.result == PGP_FAILED ?
		    v.reason : err != NULL ? err : "not signed");
	else
		take(from, &key, from, tag, mode == PGP_KEYS_SIGNED ?
		    "attached key, signed with it" : "attached key");
	buf_free(&key);
}

void
pgpgate_harvest(const struct buf *cur, const char *from, const char *tag,
    int autocrypt, enum policy_pgp_keys attached)
{
	if (start()) {
		if (autocrypt)
			harvest_autocrypt(cur, from, tag);
		if (attached != PGP_KEYS_NO)
			harvest_attached(cur, from, tag, attached);
	}
	forget_sealed();
}

int
pgpgate_autocrypt_field(const char *sender, struct buf *out)
{
	struct buf	 key = BUF_INIT(AUTOCRYPT_MAX);
	char		 fpr[PGP_MAX_FPR + 1];
	int		 rc = -1;

	if (start() && pgp_key_for(sender, 1, fpr, sizeof(fpr)) == 0 &&
	    pgp_export_minimal(fpr, &key) == 0)
		rc = autocrypt_field(sender, key.data, key.len, out);
	buf_free(&key);
	return rc;
}

int
pgpgate_sign(struct buf *cur, const char *sender, int domain, char *fpr,
    size_t size, const char **err)
{
	struct buf	 out = BUF_INIT(2 * PGP_MAX_MESSAGE);
	const char	*at = strrchr(sender, '@');
	int		 which = 1;

	*err = NULL;
	if (!start())
		return 0;
	if (pgp_key_for(sender, 1, fpr, size) == -1) {
		if (!domain || at == NULL || pgp_key_for(at + 1, 1, fpr,
		    size) == -1)
			return 0;
		which = 2;
	}
	if (pgp_sign(cur->data, cur->len, fpr, &out, err) == -1) {
		buf_free(&out);
		return -1;
	}
	buf_free(cur);
	*cur = out;
	return which;
}
