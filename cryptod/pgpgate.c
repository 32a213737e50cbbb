/*
 * cryptod: OpenPGP mail from outside (PGP/MIME, RFC 3156), before the
 * virus scan, as gateway.c does for S/MIME: decrypted with the key of a
 * recipient whose policy says decrypt (the keys are those of the
 * store's GnuPG home, gnupg/, which osmsctl pgp keeps), its signature
 * checked against the keys of the home, and what was done said in an
 * X-Osms-PGP field (a sender's own such fields are removed first). A
 * message encrypted without integrity protection (no MDC) is refused:
 * its plaintext could have been changed on the way (EFAIL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "cryptod.h"
#include "log.h"
#include "pgp.h"
#include "util.h"

#define PGP_RETRY	60	/* seconds between two tries to start */

static int	 ready;		/* the engine runs on the store's home */
static time_t	 tried;
static char	 home[1100];

void
pgpgate_apply(const char *store)
{
	/* Started at first use: this may run as root still, and the home
	 * must be cryptod's. */
	pgp_done();
	ready = 0;
	tried = 0;
	home[0] = '\0';
	if (store[0] != '\0')
		(void)snprintf(home, sizeof(home), "%s/gnupg", store);
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

int
pgpgate_key_for(const char *address, char *fpr, size_t size)
{
	if (!start())
		return -1;
	return pgp_key_for(address, 0, fpr, size);
}

/* The verdict on a signature in words, for the field. */
static void
say(const struct pgp_verdict *v, const char *from, char *notes, size_t size)
{
	size_t	 n = strlen(notes);

	if (v->result == PGP_NOT_SIGNED || n >= size)
		return;
	if (v->result == PGP_FAILED)
		(void)snprintf(notes + n, size - n, "%sfailed (%.120s)", n ?
		    "; " : "", v->reason);
	else if (strcasecmp(v->signer, from) != 0)
		(void)snprintf(notes + n, size - n, "%ssigner mismatch signer="
		    "%.100s from=%.100s", n ? "; " : "", v->signer[0] ?
		    v->signer : v->fpr, from);
	else
		(void)snprintf(notes + n, size - n, "%sverified signer=%.100s",
		    n ? "; " : "", v->signer);
}

int
pgpgate_inbound(struct buf *cur, const char *const *decryptable,
    size_t ndecryptable, const char *from, char *notes, size_t size,
    char *refusal, size_t rsize)
{
	struct buf		 next = BUF_INIT(2 * PGP_MAX_MESSAGE);
	struct pgp_verdict	 v, inner;
	const char		*err;
	char			 who[256];
	int			 changed = 0;

	notes[0] = '\0';
	if (!start())
		return 0;
	memset(&v, 0, sizeof(v));
	if (pgp_is_encrypted(cur->data, cur->len)) {
		if (ndecryptable == 0) {
			(void)osms_strlcpy(notes, "encrypted, not decrypted "
			    "(policy)", size);
			return 1;	/* the field says so */
		}
		if (pgp_decrypt(cur->data, cur->len, decryptable,
		    ndecryptable, who, sizeof(who), &next, &v, &err) == -1) {
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
		buf_free(cur);
		*cur = next;
		buf_init(&next, cur->max);
		(void)snprintf(notes, size, "decrypted for %.100s", who);
		changed = 1;
	}
	/* Signed then encrypted (RFC 3156 6.1): the signature inside. */
	if (v.result == PGP_NOT_SIGNED && pgp_verify(cur->data, cur->len,
	    &inner, &err) == 0)
		v = inner;
	if (v.result != PGP_NOT_SIGNED) {
		say(&v, from, notes, size);
		changed = 1;
	}
	buf_free(&next);
	return changed;
}
