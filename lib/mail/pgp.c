/*
 * OpenPGP (PGP/MIME, RFC 3156) through GPGME: see pgp.h.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gpgme.h>

#include "entity.h"
#include "mime.h"
#include "mime7bit.h"
#include "pgp.h"
#include "util.h"

#define PGP_SIGNED_PREAMBLE	"This is an OpenPGP/MIME signed message (RFC " \
				"4880 and 3156)\r\n"
#define PGP_ENCRYPTED_PREAMBLE	"This is an OpenPGP/MIME encrypted message " \
				"(RFC 4880 and 3156)\r\n"
#define PGP_MAX_RECIPIENTS	100
#define PGP_KEYID_LEN		16	/* a key id, in hex */

const char PGP_NO_MDC[] = "not integrity protected (no MDC): the plaintext "
    "could have been changed";

static gpgme_ctx_t	 ctx;
static char		 homedir[1100];

/*
 * Keys as GnuPG listed them, kept between operations: every listing is
 * a gpg process, and cryptod waits for it. What the home holds changes
 * only with its keyrings (pubring.kbx, private-keys-v1.d/), here or by
 * osmsctl pgp: their inode, size and time are looked at before each
 * use, and a change forgets everything; so does age (a key expires
 * with time alone).
 */
#define KEYCACHE	256
#define KEYCACHE_TTL	60	/* seconds */

struct cached {
	char		 id[300];	/* fingerprint, key id, or "="address */
	int		 secret;
	unsigned long	 used;		/* 0: a free slot */
	gpgme_key_t	 key;		/* NULL: GnuPG has none */
	char		 fpr[PGP_MAX_FPR + 1];	/* pgp_key_for()'s answer */
	int		 found;
	time_t		 when;
};

static struct cached	 cache[KEYCACHE];
static unsigned long	 cache_clock;
static struct stat	 seen_pub, seen_sec;

static int	 add_data(struct buf *, gpgme_data_t);
static void	 forget_keys(void);

/* A context on the GnuPG home dir: OpenPGP, offline, only the home's
 * keys, never a pinentry dialog. 0, or -1. */
static int
new_ctx(const char *dir, gpgme_ctx_t *c)
{
	if (gpgme_new(c) != 0) {
		*c = NULL;
		return -1;
	}
	if (gpgme_set_protocol(*c, GPGME_PROTOCOL_OpenPGP) != 0 ||
	    gpgme_ctx_set_engine_info(*c, GPGME_PROTOCOL_OpenPGP, NULL,
	    dir) != 0 || gpgme_set_pinentry_mode(*c,
	    GPGME_PINENTRY_MODE_LOOPBACK) != 0 || gpgme_set_keylist_mode(*c,
	    GPGME_KEYLIST_MODE_LOCAL) != 0) {
		gpgme_release(*c);
		*c = NULL;
		return -1;
	}
	gpgme_set_offline(*c, 1);
	return 0;
}

int
pgp_init(const char *home, const char **errstr)
{
	pgp_done();
	*errstr = "GPGME is too old";
	if (gpgme_check_version("1.11.0") == NULL)
		return -1;
	*errstr = "cannot make the GnuPG home";
	if (mkdir(home, 0700) == -1 && errno != EEXIST)
		return -1;
	*errstr = "GPGME has no OpenPGP engine";
	/* The gateway's home only. */
	if (new_ctx(home, &ctx) == -1)
		return -1;
	gpgme_set_armor(ctx, 1);
	(void)osms_strlcpy(homedir, home, sizeof(homedir));
	/* Every status line to a status callback (pgp_decrypt's). */
	if (gpgme_set_ctx_flag(ctx, "full-status", "1") != 0) {
		pgp_done();
		return -1;
	}
	*errstr = NULL;
	return 0;
}

void
pgp_stop_agent(void)
{
	char	*argv[] = { "gpgconf", "--homedir", homedir, "--kill",
		    "gpg-agent", NULL };
	pid_t	 pid;
	int	 status;

	if (homedir[0] == '\0' || posix_spawnp(&pid, "gpgconf", NULL, NULL,
	    argv, environ) != 0)
		return;
	(void)waitpid(pid, &status, 0);
}

void
pgp_done(void)
{
	forget_keys();
	memset(&seen_pub, 0, sizeof(seen_pub));
	memset(&seen_sec, 0, sizeof(seen_sec));
	if (ctx != NULL)
		gpgme_release(ctx);
	ctx = NULL;
}

/*
 * An address, or a domain: a gateway's key has the user ID <domain>.
 * Either without what would end or widen gpg's exact match.
 */
static int
key_name_ok(const char *name)
{
	const char	*at = strchr(name, '@');

	return name[0] != '\0' && name[0] != '.' && strlen(name) < 256 &&
	    strpbrk(name, "<> \t\r\n\"") == NULL && (at != NULL ?
	    strchr(at + 1, '@') == NULL && at[1] != '\0' : strchr(name, '.') !=
	    NULL);
}

/* Does the user ID name address (its e-mail, any case)? */
static int
uid_names(gpgme_user_id_t u, const char *address)
{
	return !u->revoked && !u->invalid && u->email != NULL &&
	    strcasecmp(u->email, address) == 0;
}

/* Forget the keys kept from earlier listings. */
static void
forget_keys(void)
{
	size_t	 i;

	for (i = 0; i < KEYCACHE; i++)
		if (cache[i].key != NULL)
			gpgme_key_unref(cache[i].key);
	memset(cache, 0, sizeof(cache));
	cache_clock = 0;
}

static int
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	    a->st_size == b->st_size && a->st_mtim.tv_sec ==
	    b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Forget the cache if the keyrings changed since it was filled. */
static void
cache_check(void)
{
	struct stat	 pub, sec;
	char		 path[1200];

	memset(&pub, 0, sizeof(pub));
	memset(&sec, 0, sizeof(sec));
	(void)snprintf(path, sizeof(path), "%s/pubring.kbx", homedir);
	(void)stat(path, &pub);
	(void)snprintf(path, sizeof(path), "%s/private-keys-v1.d", homedir);
	(void)stat(path, &sec);
	if (!same_stat(&pub, &seen_pub) || !same_stat(&sec, &seen_sec)) {
		forget_keys();
		seen_pub = pub;
		seen_sec = sec;
	}
}

/* The slot for (id, secret): the one that has it (hit set), else the
 * least recently used, emptied. */
static struct cached *
cache_slot(const char *id, int secret, int *hit)
{
	struct cached	*c = &cache[0];
	time_t		 now = time(NULL);
	size_t		 i;

	cache_check();
	for (i = 0; i < KEYCACHE; i++) {
		if (cache[i].used != 0 && cache[i].secret == secret &&
		    strcmp(cache[i].id, id) == 0 && now - cache[i].when <
		    KEYCACHE_TTL && now >= cache[i].when) {
			cache[i].used = ++cache_clock;
			*hit = 1;
			return &cache[i];
		}
		if (cache[i].used < c->used)
			c = &cache[i];
	}
	if (c->key != NULL)
		gpgme_key_unref(c->key);
	memset(c, 0, sizeof(*c));
	*hit = 0;
	if (osms_strlcpy(c->id, id, sizeof(c->id)) >= sizeof(c->id))
		return NULL;
	c->secret = secret;
	c->used = ++cache_clock;
	c->when = now;
	return c;
}

/* gpgme_get_key() through the cache: a reference for the caller, or
 * NULL. */
static gpgme_key_t
key_get(const char *id, int secret)
{
	struct cached	*c;
	gpgme_key_t	 key = NULL;
	int		 hit;

	if ((c = cache_slot(id, secret, &hit)) != NULL && hit) {
		if (c->key != NULL)
			gpgme_key_ref(c->key);
		return c->key;
	}
	if (gpgme_get_key(ctx, id, &key, secret) != 0)
		key = NULL;
	if (c != NULL && (c->key = key) != NULL)
		gpgme_key_ref(key);
	return key;
}

/* pgp_key_for()'s listing, as GnuPG answers it. */
static int
key_for_listed(const char *address, int secret, char *fpr, size_t size)
{
	gpgme_key_t	 key;
	gpgme_user_id_t	 u;
	char		 pattern[300];
	int		 found = -1;

	if (osms_snprintf(pattern, sizeof(pattern), "<%s>", address) == -1 ||
	    gpgme_op_keylist_start(ctx, pattern, secret) != 0)
		return -1;
	while (gpgme_op_keylist_next(ctx, &key) == 0) {
		if (found == -1 && !key->revoked && !key->expired &&
		    !key->disabled && !key->invalid && key->fpr != NULL &&
		    (secret ? key->can_sign && key->secret :
		    key->can_encrypt)) {
			for (u = key->uids; u != NULL; u = u->next)
				if (uid_names(u, address))
					break;
			if (u != NULL && osms_strlcpy(fpr, key->fpr, size) <
			    size)
				found = 0;
		}
		gpgme_key_unref(key);
	}
	(void)gpgme_op_keylist_end(ctx);
	return found;
}

int
pgp_key_for(const char *address, int secret, char *fpr, size_t size)
{
	struct cached	*c;
	char		 id[300];
	int		 hit;

	if (ctx == NULL || !key_name_ok(address))
		return -1;
	/* "=" cannot begin an address or a fingerprint: its own entries. */
	(void)snprintf(id, sizeof(id), "=%s", address);
	for (hit = 0; id[hit] != '\0'; hit++)
		id[hit] = (char)tolower((unsigned char)id[hit]);
	if ((c = cache_slot(id, secret, &hit)) != NULL && hit) {
		if (c->found == -1 || osms_strlcpy(fpr, c->fpr, size) >= size)
			return -1;
		return 0;
	}
	if (key_for_listed(address, secret, fpr, size) == -1) {
		if (c != NULL)
			c->found = -1;
		return -1;
	}
	if (c != NULL) {
		c->found = osms_strlcpy(c->fpr, fpr, sizeof(c->fpr)) <
		    sizeof(c->fpr) ? 0 : -1;
	}
	return 0;
}

int
pgp_key_names(const char *fpr, const char *address)
{
	gpgme_key_t	 key;
	gpgme_user_id_t	 u;
	int		 yes = 0;

	if (ctx == NULL || fpr[0] == '\0' || !key_name_ok(address) ||
	    (key = key_get(fpr, 0)) == NULL)
		return 0;
	for (u = key->uids; u != NULL && !yes; u = u->next)
		yes = uid_names(u, address);
	gpgme_key_unref(key);
	return yes;
}

int
pgp_keygen(const char *address, char *fpr, size_t size, const char **errstr)
{
	gpgme_genkey_result_t	 res;
	char			 uid[300];

	*errstr = "OpenPGP is not set up";
	if (ctx == NULL)
		return -1;
	*errstr = "not an address or a domain";
	if (!key_name_ok(address) || osms_snprintf(uid, sizeof(uid), "<%s>",
	    address) == -1)
		return -1;
	/* future-default: Ed25519 to sign, Curve25519 to encrypt. */
	*errstr = "the key pair was not made";
	if (gpgme_op_createkey(ctx, uid, "future-default", 0, 0, NULL,
	    GPGME_CREATE_NOPASSWD | GPGME_CREATE_NOEXPIRE) != 0 ||
	    (res = gpgme_op_genkey_result(ctx)) == NULL || res->fpr == NULL ||
	    osms_strlcpy(fpr, res->fpr, size) >= size)
		return -1;
	*errstr = NULL;
	return 0;
}

int
pgp_import(const void *data, size_t len, void (*line)(const char *, void *),
    void *arg, const char **errstr)
{
	gpgme_data_t		 d;
	gpgme_import_result_t	 res;
	gpgme_import_status_t	 st;
	int			 n = 0;

	*errstr = "OpenPGP is not set up";
	if (ctx == NULL)
		return -1;
	*errstr = "nothing to import";
	if (gpgme_data_new_from_mem(&d, data, len, 0) != 0)
		return -1;
	if (gpgme_op_import(ctx, d) != 0 ||
	    (res = gpgme_op_import_result(ctx)) == NULL) {
		gpgme_data_release(d);
		return -1;
	}
	gpgme_data_release(d);
	for (st = res->imports; st != NULL; st = st->next)
		if (st->result == 0 && st->fpr != NULL) {
			n++;
			if (line != NULL)
				line(st->fpr, arg);
		}
	if (n == 0)
		return -1;
	*errstr = NULL;
	return n;
}

int
pgp_import_for(const void *data, size_t len, const char *address,
    const char **errstr)
{
	char			 filter[320];
	gpgme_ctx_t		 c;
	gpgme_data_t		 d = NULL;
	gpgme_import_result_t	 res;
	gpgme_import_status_t	 st;
	size_t			 i, n;
	int			 rc = -1;

	*errstr = "not a plain address";
	if (!key_name_ok(address) || strchr(address, '@') == NULL ||
	    strpbrk(address, "&|!'=~") != NULL)
		return -1;
	/* GnuPG's mbox is the address in lower case. */
	n = (size_t)snprintf(filter, sizeof(filter), "keep-uid=mbox = %s",
	    address);
	if (n >= sizeof(filter))
		return -1;
	for (i = sizeof("keep-uid=mbox = ") - 1; i < n; i++)
		filter[i] = (char)tolower((unsigned char)filter[i]);
	/* A context of its own: the filter is for this import only. */
	*errstr = "OpenPGP is not set up";
	if (ctx == NULL || new_ctx(homedir, &c) == -1)
		return -1;
	*errstr = "not imported";
	if (gpgme_set_ctx_flag(c, "import-filter", filter) == 0 &&
	    gpgme_data_new_from_mem(&d, data, len, 0) == 0 &&
	    gpgme_op_import(c, d) == 0 && (res = gpgme_op_import_result(c)) !=
	    NULL)
		for (st = res->imports; st != NULL; st = st->next)
			if (st->result == 0 && st->fpr != NULL)
				rc = 0;
	gpgme_data_release(d);
	gpgme_release(c);
	if (rc == 0)
		*errstr = NULL;
	return rc;
}

int
pgp_export(const char *pattern, int secret, struct buf *out,
    const char **errstr)
{
	gpgme_data_t	 d;
	size_t		 before = out->len;

	*errstr = "OpenPGP is not set up";
	if (ctx == NULL)
		return -1;
	*errstr = "no such key";
	if (gpgme_data_new(&d) != 0)
		return -1;
	if (gpgme_op_export(ctx, pattern, secret ? GPGME_EXPORT_MODE_SECRET :
	    0, d) != 0) {
		gpgme_data_release(d);
		return -1;
	}
	if (add_data(out, d) == -1 || out->len == before)
		return -1;
	*errstr = NULL;
	return 0;
}

int
pgp_delete(const char *fpr, const char **errstr)
{
	gpgme_key_t	 key;
	int		 rc;

	*errstr = "OpenPGP is not set up";
	if (ctx == NULL)
		return -1;
	*errstr = "no such key (give its whole fingerprint)";
	if (strlen(fpr) < 40 || gpgme_get_key(ctx, fpr, &key, 0) != 0)
		return -1;
	*errstr = "the key was not removed";
	rc = gpgme_op_delete_ext(ctx, key, GPGME_DELETE_ALLOW_SECRET |
	    GPGME_DELETE_FORCE) == 0 ? 0 : -1;
	gpgme_key_unref(key);
	if (rc == 0)
		*errstr = NULL;
	return rc;
}

int
pgp_list(const char *pattern, void (*line)(const char *, void *), void *arg)
{
	gpgme_key_t	 key, sec;
	gpgme_user_id_t	 u;
	struct buf	 b = BUF_INIT(8192);
	int		 n = 0;

	if (ctx == NULL || gpgme_op_keylist_start(ctx, pattern[0] ? pattern :
	    NULL, 0) != 0)
		return -1;
	while (gpgme_op_keylist_next(ctx, &key) == 0) {
		buf_reset(&b);
		sec = NULL;
		(void)gpgme_get_key(ctx, key->fpr, &sec, 1);
		(void)buf_printf(&b, "%s %s %s ", key->fpr, sec != NULL ?
		    "sec" : "pub", key->revoked ? "revoked" : key->expired ?
		    "expired" : key->disabled ? "disabled" : key->invalid ?
		    "invalid" : "usable");
		for (u = key->uids; u != NULL; u = u->next)
			(void)buf_printf(&b, "%s%s", u == key->uids ? " " : ", ",
			    u->uid != NULL ? u->uid : "?");
		if (buf_addc(&b, '\0') == 0) {
			line(b.data, arg);
			n++;
		}
		if (sec != NULL)
			gpgme_key_unref(sec);
		gpgme_key_unref(key);
	}
	(void)gpgme_op_keylist_end(ctx);
	buf_free(&b);
	return n;
}

/*
 * Only public key material: every packet's tag (RFC 4880 4.2, old and
 * new formats) but a secret key or subkey (5, 7). 0, or -1 if one is
 * there or the packets do not parse.
 */
static int
public_only(const unsigned char *p, size_t len)
{
	size_t	 i = 0, n, hdr;
	int	 tag, lt;

	while (i < len) {
		if ((p[i] & 0x80) == 0)
			return -1;
		if (p[i] & 0x40) {		/* new format */
			tag = p[i] & 0x3f;
			if (i + 1 >= len)
				return -1;
			if (p[i + 1] < 192) {
				n = p[i + 1];
				hdr = 2;
			} else if (p[i + 1] < 224) {
				if (i + 2 >= len)
					return -1;
				n = ((size_t)(p[i + 1] - 192) << 8) + p[i + 2] +
				    192;
				hdr = 3;
			} else if (p[i + 1] == 255) {
				if (i + 5 >= len)
					return -1;
				n = (size_t)p[i + 2] << 24 | (size_t)p[i + 3] <<
				    16 | (size_t)p[i + 4] << 8 | p[i + 5];
				hdr = 6;
			} else
				return -1;	/* partial: not in a key */
		} else {			/* old format */
			tag = (p[i] >> 2) & 0x0f;
			lt = p[i] & 3;
			if (lt == 3)
				return -1;
			hdr = 1 + ((size_t)1 << lt);
			if (i + hdr > len)
				return -1;
			for (n = 0, lt = 1; (size_t)lt < hdr; lt++)
				n = n << 8 | p[i + (size_t)lt];
		}
		if (tag == 5 || tag == 7 || n > len - i - hdr)
			return -1;
		i += hdr + n;
	}
	return 0;
}

int
pgp_offered(const void *data, size_t len, const char *address, char *fpr,
    size_t size, const char **errstr)
{
	gpgme_data_t	 d;
	gpgme_key_t	 key;
	gpgme_user_id_t	 u;
	int		 nkeys = 0, named = 0;

	*errstr = "OpenPGP is not set up";
	if (ctx == NULL)
		return -1;
	*errstr = "not public key material";
	if (len == 0 || public_only(data, len) == -1)
		return -1;
	if (gpgme_data_new_from_mem(&d, data, len, 0) != 0)
		return -1;
	if (gpgme_op_keylist_from_data_start(ctx, d, 0) != 0) {
		gpgme_data_release(d);
		return -1;
	}
	while (gpgme_op_keylist_next(ctx, &key) == 0) {
		if (nkeys++ == 0 && key->fpr != NULL &&
		    osms_strlcpy(fpr, key->fpr, size) < size)
			for (u = key->uids; u != NULL; u = u->next)
				named |= uid_names(u, address);
		gpgme_key_unref(key);
	}
	(void)gpgme_op_keylist_end(ctx);
	gpgme_data_release(d);
	*errstr = nkeys != 1 ? "not one key" : "no user ID for the address";
	if (nkeys != 1 || !named)
		return -1;
	*errstr = NULL;
	return 0;
}

int
pgp_export_minimal(const char *fpr, struct buf *out)
{
	gpgme_data_t	 d;
	char		*p;
	size_t		 n;
	int		 rc;

	if (ctx == NULL || gpgme_data_new(&d) != 0)
		return -1;
	gpgme_set_armor(ctx, 0);
	rc = gpgme_op_export(ctx, fpr, GPGME_EXPORT_MODE_MINIMAL, d) == 0 ?
	    0 : -1;
	gpgme_set_armor(ctx, 1);
	if ((p = gpgme_data_release_and_get_mem(d, &n)) == NULL)
		return -1;
	if (rc == 0 && (n == 0 || buf_add(out, p, n) == -1))
		rc = -1;
	gpgme_free(p);
	return rc;
}

/* What GPGME wrote into d, CRLF lines, appended to out (d released). */
static int
add_data(struct buf *out, gpgme_data_t d)
{
	char	*p;
	size_t	 n;
	int	 rc;

	if ((p = gpgme_data_release_and_get_mem(d, &n)) == NULL)
		return -1;
	rc = entity_crlf(out, p, n);
	gpgme_free(p);
	return rc;
}

/* The only signer: the secret key fpr. */
static int
set_signer(const char *fpr)
{
	gpgme_key_t	 key;
	int		 rc;

	gpgme_signers_clear(ctx);
	if ((key = key_get(fpr, 1)) == NULL)
		return -1;
	rc = gpgme_signers_add(ctx, key) == 0 ? 0 : -1;
	gpgme_key_unref(key);
	return rc;
}

int
pgp_sign(const char *msg, size_t len, const char *fpr, struct buf *out,
    const char **errstr)
{
	struct buf		 outer = BUF_INIT(PGP_MAX_MESSAGE);
	struct buf		 inner = BUF_INIT(PGP_MAX_MESSAGE);
	struct buf		 seven = BUF_INIT(2 * PGP_MAX_MESSAGE);
	struct buf		*content = &inner;
	gpgme_data_t		 in = NULL, sig = NULL;
	gpgme_sign_result_t	 res;
	const char		*hash;
	char			 boundary[40], micalg[32];
	size_t			 i;
	int			 rc = -1;

	*errstr = "OpenPGP is not set up";
	if (ctx == NULL)
		return -1;
	*errstr = "out of memory or message too large";
	if (len > PGP_MAX_MESSAGE || entity_split(msg, len, &outer,
	    &inner) == -1)
		goto done;
	/* Signed content must be 7bit to survive transport unchanged. */
	if (mime7bit_needed(inner.data, inner.len)) {
		if (mime7bit_convert(inner.data, inner.len, &seven,
		    errstr) == -1)
			goto done;
		content = &seven;
	}
	*errstr = "no usable secret key";
	if (set_signer(fpr) == -1)
		goto done;
	*errstr = "signing failed";
	if (gpgme_data_new_from_mem(&in, content->data, content->len, 0) != 0 ||
	    gpgme_data_new(&sig) != 0 ||
	    gpgme_op_sign(ctx, in, sig, GPGME_SIG_MODE_DETACH) != 0 ||
	    (res = gpgme_op_sign_result(ctx)) == NULL ||
	    res->invalid_signers != NULL || res->signatures == NULL ||
	    (hash = gpgme_hash_algo_name(res->signatures->hash_algo)) == NULL)
		goto done;
	(void)snprintf(micalg, sizeof(micalg), "pgp-%s", hash);
	for (i = 0; micalg[i] != '\0'; i++)
		if (micalg[i] >= 'A' && micalg[i] <= 'Z')
			micalg[i] = (char)(micalg[i] + 32);
	entity_boundary(boundary, sizeof(boundary));
	*errstr = "message too large";
	if (buf_add(out, outer.data, outer.len) == -1 ||
	    buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: "
	    "multipart/signed; micalg=%s;\r\n\tprotocol=\"application/"
	    "pgp-signature\"; boundary=\"%s\"\r\n\r\n" PGP_SIGNED_PREAMBLE
	    "--%s\r\n", micalg, boundary, boundary) == -1 ||
	    buf_add(out, content->data, content->len) == -1 ||
	    buf_printf(out, "\r\n--%s\r\nContent-Type: application/pgp-"
	    "signature; name=\"signature.asc\"\r\nContent-Description: "
	    "OpenPGP digital signature\r\nContent-Disposition: attachment;"
	    " filename=\"signature.asc\"\r\n\r\n", boundary) == -1)
		goto done;
	rc = add_data(out, sig);
	sig = NULL;
	if (rc == -1 || buf_printf(out, "\r\n--%s--\r\n", boundary) == -1) {
		rc = -1;
		goto done;
	}
	*errstr = NULL;
done:
	gpgme_signers_clear(ctx);
	gpgme_data_release(in);
	gpgme_data_release(sig);
	buf_free(&outer);
	buf_free(&inner);
	buf_free(&seven);
	return rc;
}

int
pgp_encrypt(const char *msg, size_t len, const char *const *fprs,
    size_t nfprs, const char *signer, struct buf *out, const char **errstr)
{
	struct buf		 outer = BUF_INIT(PGP_MAX_MESSAGE);
	struct buf		 inner = BUF_INIT(PGP_MAX_MESSAGE);
	gpgme_key_t		 keys[PGP_MAX_RECIPIENTS + 1];
	gpgme_data_t		 in = NULL, cipher = NULL;
	gpgme_encrypt_result_t	 res;
	gpgme_error_t		 err;
	char			 boundary[40];
	size_t			 i, nkeys = 0;
	int			 rc = -1;

	memset(keys, 0, sizeof(keys));
	*errstr = "OpenPGP is not set up";
	if (ctx == NULL)
		return -1;
	*errstr = "no recipient, or too many";
	if (nfprs == 0 || nfprs > PGP_MAX_RECIPIENTS)
		return -1;
	*errstr = "out of memory or message too large";
	if (len > PGP_MAX_MESSAGE || entity_split(msg, len, &outer,
	    &inner) == -1)
		goto done;
	*errstr = "a recipient's key is not in the keyring";
	for (i = 0; i < nfprs; i++)
		if ((keys[nkeys++] = key_get(fprs[i], 0)) == NULL) {
			nkeys--;
			goto done;
		}
	*errstr = "no usable secret key";
	if (signer != NULL && set_signer(signer) == -1)
		goto done;
	*errstr = "encryption failed";
	if (gpgme_data_new_from_mem(&in, inner.data, inner.len, 0) != 0 ||
	    gpgme_data_new(&cipher) != 0)
		goto done;
	/* Whose key counts is the gateway's policy, not the web of trust. */
	err = signer != NULL ? gpgme_op_encrypt_sign(ctx, keys,
	    GPGME_ENCRYPT_ALWAYS_TRUST, in, cipher) : gpgme_op_encrypt(ctx,
	    keys, GPGME_ENCRYPT_ALWAYS_TRUST, in, cipher);
	if (err != 0 || (res = gpgme_op_encrypt_result(ctx)) == NULL ||
	    res->invalid_recipients != NULL)
		goto done;
	entity_boundary(boundary, sizeof(boundary));
	*errstr = "message too large";
	if (buf_add(out, outer.data, outer.len) == -1 ||
	    buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: "
	    "multipart/encrypted;\r\n\tprotocol=\"application/pgp-encrypted"
	    "\"; boundary=\"%s\"\r\n\r\n" PGP_ENCRYPTED_PREAMBLE "--%s\r\n"
	    "Content-Type: application/pgp-encrypted\r\nContent-Description:"
	    " PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n"
	    "--%s\r\nContent-Type: application/octet-stream; name=\""
	    "encrypted.asc\"\r\nContent-Description: OpenPGP encrypted "
	    "message\r\nContent-Disposition: inline; filename=\""
	    "encrypted.asc\"\r\n\r\n", boundary, boundary, boundary) == -1)
		goto done;
	rc = add_data(out, cipher);
	cipher = NULL;
	if (rc == -1 || buf_printf(out, "\r\n--%s--\r\n", boundary) == -1) {
		rc = -1;
		goto done;
	}
	*errstr = NULL;
done:
	gpgme_signers_clear(ctx);
	for (i = 0; i < nkeys; i++)
		gpgme_key_unref(keys[i]);
	gpgme_data_release(in);
	gpgme_data_release(cipher);
	buf_free(&outer);
	buf_free(&inner);
	return rc;
}

static int
is_type(const struct mime_part *p, const char *type, const char *subtype)
{
	return strcmp(p->type, type) == 0 && strcmp(p->subtype, subtype) == 0;
}

/* 1 if root is a multipart/encrypted of RFC 3156 with its two parts. */
static int
is_encrypted(const struct mime_part *root)
{
	const char	*proto;

	return is_type(root, "multipart", "encrypted") &&
	    (proto = mime_param(root, "protocol")) != NULL &&
	    strcasecmp(proto, "application/pgp-encrypted") == 0 &&
	    root->nchildren == 2 &&
	    is_type(&root->children[0], "application", "pgp-encrypted") &&
	    is_type(&root->children[1], "application", "octet-stream");
}

/* The encrypted data of a multipart/encrypted, else NULL. */
static const struct mime_part *
encrypted_part(const struct mime_part *root)
{
	return is_encrypted(root) ? &root->children[1] : NULL;
}

int
pgp_is_encrypted(const char *msg, size_t len)
{
	struct mime_msg	*m;
	const char	*err;
	int		 yes;

	if (len > PGP_MAX_MESSAGE || (m = mime_parse(msg, len, &err)) == NULL)
		return 0;
	yes = is_encrypted(mime_root(m));
	mime_free(m);
	return yes;
}

/* The verdict of the last verification GPGME made in c. */
static void
verdict(gpgme_ctx_t c, struct pgp_verdict *v)
{
	gpgme_verify_result_t	 res = gpgme_op_verify_result(c);
	gpgme_signature_t	 s;
	gpgme_key_t		 key;
	gpgme_user_id_t		 u;

	memset(v, 0, sizeof(*v));
	if (res == NULL || (s = res->signatures) == NULL) {
		v->result = PGP_NOT_SIGNED;
		return;
	}
	v->result = PGP_FAILED;
	if (s->fpr != NULL)
		(void)osms_strlcpy(v->fpr, s->fpr, sizeof(v->fpr));
	/* One signature is what the gateway speaks for. */
	if (s->next != NULL) {
		(void)osms_strlcpy(v->reason, "more than one signature",
		    sizeof(v->reason));
		return;
	}
	switch (gpgme_err_code(s->status)) {
	case GPG_ERR_NO_ERROR:
		break;
	case GPG_ERR_NO_PUBKEY:
		(void)snprintf(v->reason, sizeof(v->reason), "signed by a key "
		    "not in the keyring (%.64s)", v->fpr);
		v->unknown_signer = 1;
		return;
	case GPG_ERR_SIG_EXPIRED:
	case GPG_ERR_KEY_EXPIRED:
		(void)osms_strlcpy(v->reason, "the signature or its key has "
		    "expired", sizeof(v->reason));
		return;
	case GPG_ERR_CERT_REVOKED:
		(void)osms_strlcpy(v->reason, "the key is revoked",
		    sizeof(v->reason));
		return;
	default:
		(void)osms_strlcpy(v->reason, "the signature does not verify",
		    sizeof(v->reason));
		return;
	}
	if ((s->summary & GPGME_SIGSUM_RED) != 0) {
		(void)osms_strlcpy(v->reason, "the signature does not verify",
		    sizeof(v->reason));
		return;
	}
	/* The signer's address, from its key when there is one. */
	key = NULL;
	if (s->fpr != NULL) {
		if (c == ctx)
			key = key_get(s->fpr, 0);
		else if (gpgme_get_key(c, s->fpr, &key, 0) != 0)
			key = NULL;
	}
	if (key != NULL) {
		for (u = key->uids; u != NULL; u = u->next)
			if (!u->revoked && !u->invalid && u->email != NULL &&
			    u->email[0] != '\0') {
				(void)osms_strlcpy(v->signer, u->email,
				    sizeof(v->signer));
				break;
			}
		gpgme_key_unref(key);
	}
	v->result = PGP_VERIFIED;
}

/*
 * Was the message decrypted with a secret key of the home that belongs
 * to one of for[]? Its address into who. A message encrypted to several
 * keys names them all; those whose secret key is here count.
 */
static int
decrypted_for(gpgme_decrypt_result_t dres, const char *const *for_,
    size_t nfor, char *who, size_t whosize)
{
	gpgme_recipient_t	 r;
	gpgme_key_t		 key;
	gpgme_user_id_t		 u;
	size_t			 i;
	int			 found = 0;

	for (r = dres->recipients; r != NULL && !found; r = r->next) {
		if (r->status != 0 || r->keyid == NULL ||
		    (key = key_get(r->keyid, 1)) == NULL)
			continue;
		for (u = key->uids; u != NULL && !found; u = u->next)
			for (i = 0; i < nfor && !found; i++)
				if (uid_names(u, for_[i])) {
					(void)osms_strlcpy(who, for_[i],
					    whosize);
					found = 1;
				}
		if (!found && nfor == 0 && key->uids != NULL &&
		    key->uids->email != NULL) {
			(void)osms_strlcpy(who, key->uids->email, whosize);
			found = 1;
		}
		gpgme_key_unref(key);
	}
	return found;
}

/* Is one of the key ids that of a subkey of the key pgp_key_for() gives
 * name? */
static int
encrypted_to(char ids[][PGP_KEYID_LEN + 1], size_t nids, const char *name)
{
	gpgme_subkey_t	 k;
	gpgme_key_t	 key;
	char		 fpr[PGP_MAX_FPR + 1];
	size_t		 i;
	int		 yes = 0;

	if (pgp_key_for(name, 0, fpr, sizeof(fpr)) == -1 ||
	    (key = key_get(fpr, 0)) == NULL)
		return 0;
	for (k = key->subkeys; k != NULL && !yes; k = k->next)
		for (i = 0; i < nids && !yes; i++)
			yes = k->keyid != NULL && strcasecmp(ids[i],
			    k->keyid) == 0;
	gpgme_key_unref(key);
	return yes;
}

/*
 * Is the message, encrypted to the key ids, encrypted to every address
 * of for[], to its key or to its domain's (a domain is in for[] too)?
 * The plaintext goes to all of them: one recipient's key must not open
 * for another what was not sent to it (EFAIL's decryption oracle).
 */
static int
encrypted_to_all(char ids[][PGP_KEYID_LEN + 1], size_t nids,
    const char *const *for_, size_t nfor)
{
	const char	*at;
	size_t		 i, j;

	for (i = 0; i < nfor; i++) {
		if ((at = strrchr(for_[i], '@')) == NULL ||
		    encrypted_to(ids, nids, for_[i]))
			continue;
		for (j = 0; j < nfor; j++)
			if (strcasecmp(for_[j], at + 1) == 0 &&
			    encrypted_to(ids, nids, for_[j]))
				break;
		if (j == nfor)
			return 0;
	}
	return 1;
}

/* GnuPG's DECRYPTION_INFO says how the data is protected: "0 ..." is
 * no MDC, and "0 ALGO 0" (no AEAD either) what GnuPG 2.2 then refuses
 * with a plain failure, which GPGME does not tell from a wrong key. */
static gpgme_error_t
status_seen(void *arg, const char *keyword, const char *args)
{
	int	*unprotected = arg;

	if (strcmp(keyword, "DECRYPTION_INFO") == 0 && args != NULL &&
	    args[0] == '0' && (args[1] == ' ' || args[1] == '\0')) {
		const char	*aead = strrchr(args, ' ');

		if (aead == NULL || strcmp(aead, " 0") == 0 ||
		    aead == strchr(args, ' '))
			*unprotected = 1;
	}
	return 0;
}

/*
 * The armored (or binary) OpenPGP message at p decrypted into plain, by
 * a key of for[]: 0, or -1 and errstr.
 */
static int
decrypt_data(const char *p, size_t len, const char *const *for_,
    size_t nfor, char *who, size_t whosize, gpgme_data_t plain,
    struct pgp_verdict *v, const char **errstr)
{
	gpgme_data_t		 cipher = NULL;
	gpgme_decrypt_result_t	 dres;
	gpgme_recipient_t	 r;
	gpgme_error_t		 err;
	char			 ids[PGP_MAX_RECIPIENTS][PGP_KEYID_LEN + 1];
	size_t			 nids = 0;
	int			 unprotected = 0, rc = -1;

	*errstr = "out of memory";
	if (gpgme_data_new_from_mem(&cipher, p, len, 0) != 0)
		return -1;
	gpgme_set_status_cb(ctx, status_seen, &unprotected);
	/* Its session key, should a key that came with the message have
	 * to check the signature inside (pgp_verify_with()). */
	(void)gpgme_set_ctx_flag(ctx, "export-session-key", "1");
	err = gpgme_op_decrypt_verify(ctx, cipher, plain);
	(void)gpgme_set_ctx_flag(ctx, "export-session-key", "0");
	gpgme_set_status_cb(ctx, NULL, NULL);
	dres = gpgme_op_decrypt_result(ctx);
	/* Without an MDC (or AEAD) the plaintext may be malleated: refused
	 * (GnuPG 2.2 fails such a decryption too). */
	*errstr = PGP_NO_MDC;
	if (unprotected || (dres != NULL && dres->legacy_cipher_nomdc))
		goto done;
	*errstr = "cannot decrypt: not for a key here, or damaged";
	if (err != 0 || dres == NULL || dres->unsupported_algorithm != NULL)
		goto done;
	*errstr = "not encrypted for a key of its recipients";
	if (!decrypted_for(dres, for_, nfor, who, whosize))
		goto done;
	/* Its key ids, kept: listing keys with ctx ends dres. */
	for (r = dres->recipients; r != NULL; r = r->next)
		if (r->keyid == NULL || nids == nitems(ids) ||
		    osms_strlcpy(ids[nids++], r->keyid, sizeof(ids[0])) >=
		    sizeof(ids[0]))
			goto done;
	verdict(ctx, v);
	if (v->unknown_signer && dres->session_key != NULL &&
	    osms_strlcpy(v->session, dres->session_key, sizeof(v->session)) >=
	    sizeof(v->session))
		explicit_bzero(v->session, sizeof(v->session));
	if (!encrypted_to_all(ids, nids, for_, nfor)) {
		explicit_bzero(v, sizeof(*v));
		goto done;
	}
	*errstr = NULL;
	rc = 0;
done:
	gpgme_data_release(cipher);
	return rc;
}

/* The body of a text/plain message, if it is one armored message. */
static int
inline_body(const struct mime_part *root, const char *msg, const char **p,
    size_t *n)
{
	static const char	 begin[] = "-----BEGIN PGP MESSAGE-----";
	static const char	 end[] = "-----END PGP MESSAGE-----";
	const char		*b = msg + root->body_off;
	size_t			 len = root->body_len;

	if (!is_type(root, "text", "plain") || (strcmp(root->encoding,
	    "7BIT") != 0 && strcmp(root->encoding, "8BIT") != 0))
		return 0;
	while (len > 0 && (*b == '\r' || *b == '\n' || *b == ' ')) {
		b++;
		len--;
	}
	while (len > 0 && (b[len - 1] == '\r' || b[len - 1] == '\n' ||
	    b[len - 1] == ' '))
		len--;
	if (len < sizeof(begin) + sizeof(end) || memcmp(b, begin,
	    sizeof(begin) - 1) != 0 || memcmp(b + len - (sizeof(end) - 1),
	    end, sizeof(end) - 1) != 0)
		return 0;
	*p = b;
	*n = len;
	return 1;
}

int
pgp_is_inline(const char *msg, size_t len)
{
	struct mime_msg	*m;
	const char	*err, *p;
	size_t		 n;
	int		 yes;

	if (len > PGP_MAX_MESSAGE || (m = mime_parse(msg, len, &err)) == NULL)
		return 0;
	yes = inline_body(mime_root(m), msg, &p, &n);
	mime_free(m);
	return yes;
}

/* An OpenPGP message below the top of p's tree (depth: how far down). */
static int
nested(const struct mime_part *p, const char *msg, int depth)
{
	static const char	 begin[] = "-----BEGIN PGP MESSAGE-----";
	size_t			 i;

	if (depth > 0 && (is_encrypted(p) ||
	    is_type(p, "application", "pgp-encrypted") ||
	    (strcmp(p->type, "text") == 0 && memmem(msg + p->body_off,
	    p->body_len, begin, sizeof(begin) - 1) != NULL)))
		return 1;
	if (depth >= 8 || is_encrypted(p))
		return 0;
	for (i = 0; i < p->nchildren; i++)
		if (nested(&p->children[i], msg, depth + 1))
			return 1;
	return 0;
}

int
pgp_has_nested(const char *msg, size_t len)
{
	struct mime_msg	*m;
	const char	*err;
	int		 yes;

	if (len > PGP_MAX_MESSAGE || (m = mime_parse(msg, len, &err)) == NULL)
		return 0;
	yes = nested(mime_root(m), msg, 0);
	mime_free(m);
	return yes;
}

int
pgp_decrypt_inline(const char *msg, size_t len, const char *const *for_,
    size_t nfor, char *who, size_t whosize, struct buf *out,
    struct pgp_verdict *v, const char **errstr)
{
	struct mime_msg		*m = NULL;
	const struct mime_part	*root;
	gpgme_data_t		 plain = NULL;
	const char		*p;
	size_t			 n, i, e;
	int			 rc = -1;

	memset(v, 0, sizeof(*v));
	*errstr = "OpenPGP is not set up";
	if (ctx == NULL)
		return -1;
	*errstr = "message too large";
	if (len > PGP_MAX_MESSAGE || (m = mime_parse(msg, len, errstr)) ==
	    NULL)
		goto done;
	root = mime_root(m);
	*errstr = "not inline PGP";
	if (!inline_body(root, msg, &p, &n) || gpgme_data_new(&plain) != 0 ||
	    decrypt_data(p, n, for_, nfor, who, whosize, plain, v,
	    errstr) == -1)
		goto done;
	/* The header as it came but its transfer encoding, then the text. */
	*errstr = "message too large";
	for (i = 0; i < root->hdr_len; i = e) {
		for (e = i; e < root->hdr_len; e++)
			if (msg[e] == '\n' && (e + 1 >= root->hdr_len ||
			    (msg[e + 1] != ' ' && msg[e + 1] != '\t')))
				break;
		e = e < root->hdr_len ? e + 1 : root->hdr_len;
		if (e - i >= 26 && strncasecmp(msg + i,
		    "Content-Transfer-Encoding:", 26) == 0)
			continue;
		if (msg[i] == '\r' || msg[i] == '\n')
			break;		/* the blank line */
		if (entity_crlf(out, msg + i, e - i) == -1)
			goto done;
	}
	if (buf_addstr(out, "Content-Transfer-Encoding: 8bit\r\n\r\n") == -1)
		goto done;
	rc = add_data(out, plain);
	plain = NULL;
	if (rc == 0)
		*errstr = NULL;
done:
	gpgme_data_release(plain);
	mime_free(m);
	return rc;
}

int
pgp_decrypt(const char *msg, size_t len, const char *const *for_,
    size_t nfor, char *who, size_t whosize, struct buf *out,
    struct pgp_verdict *v, const char **errstr)
{
	struct buf			 outer = BUF_INIT(PGP_MAX_MESSAGE);
	struct mime_msg			*m = NULL;
	const struct mime_part		*enc;
	gpgme_data_t			 plain = NULL;
	int				 rc = -1;

	memset(v, 0, sizeof(*v));
	*errstr = "OpenPGP is not set up";
	if (ctx == NULL)
		return -1;
	*errstr = "message too large";
	if (len > PGP_MAX_MESSAGE || (m = mime_parse(msg, len, errstr)) ==
	    NULL)
		goto done;
	*errstr = "not a PGP/MIME encrypted message";
	if ((enc = encrypted_part(mime_root(m))) == NULL)
		goto done;
	*errstr = "out of memory";
	if (gpgme_data_new(&plain) != 0 || decrypt_data(msg + enc->body_off,
	    enc->body_len, for_, nfor, who, whosize, plain, v, errstr) == -1)
		goto done;
	*errstr = "message too large";
	if (entity_split(msg, len, &outer, NULL) == -1 ||
	    buf_add(out, outer.data, outer.len) == -1 ||
	    buf_addstr(out, "MIME-Version: 1.0\r\n") == -1)
		goto done;
	rc = add_data(out, plain);
	plain = NULL;
	if (rc == 0)
		*errstr = NULL;
done:
	gpgme_data_release(plain);
	mime_free(m);
	buf_free(&outer);
	return rc;
}

/* pgp_verify() with the keys of the home of c. */
static int
verify_in(gpgme_ctx_t c, const char *msg, size_t len, struct pgp_verdict *v,
    const char **errstr)
{
	struct buf		 canon = BUF_INIT(PGP_MAX_MESSAGE);
	struct mime_msg		*m = NULL;
	const struct mime_part	*root, *data, *sig;
	const char		*proto;
	gpgme_data_t		 signed_ = NULL, sigdata = NULL;
	int			 rc = -1;

	memset(v, 0, sizeof(*v));
	*errstr = "message too large";
	if (len > PGP_MAX_MESSAGE || (m = mime_parse(msg, len, errstr)) ==
	    NULL)
		goto done;
	root = mime_root(m);
	rc = 0;
	v->result = PGP_NOT_SIGNED;
	if (!is_type(root, "multipart", "signed") ||
	    (proto = mime_param(root, "protocol")) == NULL ||
	    strcasecmp(proto, "application/pgp-signature") != 0)
		goto done;
	v->result = PGP_FAILED;
	if (root->nchildren != 2 || !is_type(&root->children[1],
	    "application", "pgp-signature")) {
		(void)osms_strlcpy(v->reason, "malformed multipart/signed",
		    sizeof(v->reason));
		goto done;
	}
	data = &root->children[0];
	sig = &root->children[1];
	/* What was signed: the first part, headers and all, CRLF lines. */
	if (entity_crlf(&canon, msg + data->hdr_off, data->body_off +
	    data->body_len - data->hdr_off) == -1 ||
	    gpgme_data_new_from_mem(&signed_, canon.data, canon.len, 0) != 0 ||
	    gpgme_data_new_from_mem(&sigdata, msg + sig->body_off,
	    sig->body_len, 0) != 0) {
		*errstr = "out of memory";
		rc = -1;
		goto done;
	}
	if (gpgme_op_verify(c, sigdata, signed_, NULL) != 0) {
		(void)osms_strlcpy(v->reason, "malformed signature",
		    sizeof(v->reason));
		goto done;
	}
	verdict(c, v);
done:
	gpgme_data_release(signed_);
	gpgme_data_release(sigdata);
	mime_free(m);
	buf_free(&canon);
	if (rc == 0)
		*errstr = NULL;
	return rc;
}

int
pgp_verify(const char *msg, size_t len, struct pgp_verdict *v,
    const char **errstr)
{
	memset(v, 0, sizeof(*v));
	*errstr = "OpenPGP is not set up";
	if (ctx == NULL)
		return -1;
	return verify_in(ctx, msg, len, v, errstr);
}

/* A scratch home's files go. */
static int
scratch_remove(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

int
pgp_verify_with(const char *msg, size_t len, const char *session,
    const void *key, size_t keylen, const char *scratch,
    struct pgp_verdict *v, const char **errstr)
{
	static const char	 conf[] = "no-autostart\n";
	char			 dir[1100], path[1200];
	struct mime_msg		*m = NULL;
	const struct mime_part	*enc;
	gpgme_ctx_t		 c = NULL;
	gpgme_data_t		 d = NULL, cipher = NULL, plain = NULL;
	gpgme_import_result_t	 res;
	int			 fd, rc = -1;

	memset(v, 0, sizeof(*v));
	*errstr = "cannot make a scratch GnuPG home";
	if (osms_snprintf(dir, sizeof(dir), "%s/.verify.XXXXXX", scratch) ==
	    -1 || mkdtemp(dir) == NULL)
		return -1;
	/* No agent: only a public key is ever used here. */
	(void)snprintf(path, sizeof(path), "%s/gpg.conf", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		goto done;
	if (write_all(fd, conf, sizeof(conf) - 1) == -1) {
		(void)close(fd);
		goto done;
	}
	if (close(fd) == -1 || new_ctx(dir, &c) == -1)
		goto done;
	*errstr = "the key does not import";
	if (gpgme_data_new_from_mem(&d, key, keylen, 0) != 0 ||
	    gpgme_op_import(c, d) != 0 || (res = gpgme_op_import_result(c)) ==
	    NULL || res->imported != 1)
		goto done;
	if (session == NULL) {
		rc = verify_in(c, msg, len, v, errstr);
		goto done;
	}
	/* Signed inside the encryption (RFC 3156 6.2): decrypted again with
	 * its session key, no secret key here, to check that signature. */
	*errstr = "not a PGP/MIME encrypted message";
	if (len > PGP_MAX_MESSAGE || (m = mime_parse(msg, len, errstr)) ==
	    NULL || (enc = encrypted_part(mime_root(m))) == NULL)
		goto done;
	*errstr = "cannot decrypt it with its session key";
	if (gpgme_set_ctx_flag(c, "override-session-key", session) != 0 ||
	    gpgme_data_new_from_mem(&cipher, msg + enc->body_off,
	    enc->body_len, 0) != 0 || gpgme_data_new(&plain) != 0 ||
	    gpgme_op_decrypt_verify(c, cipher, plain) != 0)
		goto done;
	verdict(c, v);
	*errstr = NULL;
	rc = 0;
done:
	if (c != NULL)
		gpgme_release(c);
	gpgme_data_release(d);
	gpgme_data_release(cipher);
	gpgme_data_release(plain);
	mime_free(m);
	(void)nftw(dir, scratch_remove, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
}

/*
 * ASCII armor (RFC 4880 6.2) of one public key block, to binary: 0, or
 * -1 if it is not that, its base64 is bad, or its checksum is wrong.
 */
#define ARMOR_BEGIN	"-----BEGIN PGP PUBLIC KEY BLOCK-----"
#define ARMOR_END	"-----END PGP PUBLIC KEY BLOCK-----"

static uint32_t
crc24(const unsigned char *p, size_t len)
{
	uint32_t	 crc = 0xb704ce;
	int		 i;

	while (len-- > 0) {
		crc ^= (uint32_t)*p++ << 16;
		for (i = 0; i < 8; i++) {
			crc <<= 1;
			if (crc & 0x1000000)
				crc ^= 0x1864cfb;
		}
	}
	return crc & 0xffffff;
}

/* The next line of [*p, end), without its CR LF or LF; *p past it. */
static size_t
next_line(const char **p, const char *end, const char **line)
{
	const char	*nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t		 n;

	*line = *p;
	n = nl != NULL ? (size_t)(nl - *p) : (size_t)(end - *p);
	*p = nl != NULL ? nl + 1 : end;
	while (n > 0 && ((*line)[n - 1] == '\r' || (*line)[n - 1] == ' ' ||
	    (*line)[n - 1] == '\t'))
		n--;
	return n;
}

static int
dearmor(const char *p, size_t len, struct buf *out)
{
	const char	*end = p + len, *l;
	char		*b64, sum[5];
	unsigned char	*bin = NULL, crc[3];
	size_t		 n, nb = 0, got = 0;
	int		 rc = -1, state = 0, have_sum = 0, ended = 0;

	if ((b64 = malloc(len + 1)) == NULL)
		return -1;
	while (p < end && !ended) {
		n = next_line(&p, end, &l);
		switch (state) {
		case 0:		/* before the block */
			if (n == sizeof(ARMOR_BEGIN) - 1 &&
			    memcmp(l, ARMOR_BEGIN, n) == 0)
				state = 1;
			break;
		case 1:		/* armor headers, to a blank line */
			if (n == 0)
				state = 2;
			else if (memchr(l, ':', n) == NULL)
				goto done;
			break;
		default:	/* base64, the checksum, the end */
			if (n == sizeof(ARMOR_END) - 1 &&
			    memcmp(l, ARMOR_END, n) == 0)
				ended = 1;
			else if (have_sum)
				goto done;
			else if (n == 5 && l[0] == '=') {
				memcpy(sum, l + 1, 4);
				sum[4] = '\0';
				have_sum = 1;
			} else {
				memcpy(b64 + nb, l, n);
				nb += n;
			}
			break;
		}
	}
	b64[nb] = '\0';
	if (!ended || nb == 0 || (bin = malloc(nb / 4 * 3 + 1)) == NULL ||
	    base64_decode(b64, bin, nb / 4 * 3, &got) == -1 || got == 0)
		goto done;
	if (have_sum) {
		n = 0;
		if (base64_decode(sum, crc, sizeof(crc), &n) == -1 || n != 3 ||
		    crc24(bin, got) != ((uint32_t)crc[0] << 16 |
		    (uint32_t)crc[1] << 8 | crc[2]))
			goto done;
	}
	rc = buf_add(out, bin, got);
done:
	free(bin);
	free(b64);
	return rc;
}

/* The first application/pgp-keys part in p's tree, not inside an
 * attached message (that one's keys are not the sender's). */
static const struct mime_part *
keys_part(const struct mime_part *p, int depth)
{
	const struct mime_part	*k;
	size_t			 i;

	if (is_type(p, "application", "pgp-keys"))
		return p;
	if (depth > 8)
		return NULL;
	for (i = 0; i < p->nchildren; i++)
		if ((k = keys_part(&p->children[i], depth + 1)) != NULL)
			return k;
	return NULL;
}

int
pgp_attached_key(const char *msg, size_t len, struct buf *key)
{
	struct buf		 body = BUF_INIT(PGP_MAX_KEY);
	struct mime_msg		*m;
	const struct mime_part	*k;
	const char		*err;
	int			 rc = 0;

	if (len > PGP_MAX_MESSAGE || (m = mime_parse(msg, len, &err)) == NULL)
		return 0;
	if ((k = keys_part(mime_root(m), 0)) != NULL) {
		rc = -1;
		if (k->body_len <= 2 * PGP_MAX_KEY &&
		    mime_part_decode(m, k, &body) == 0 && !body.over &&
		    body.len > 0) {
			/* Armored, as mail clients attach them, or binary. */
			if (body.len > sizeof(ARMOR_BEGIN) && memmem(body.data,
			    body.len, ARMOR_BEGIN, sizeof(ARMOR_BEGIN) - 1) !=
			    NULL)
				rc = dearmor(body.data, body.len, key) == 0 ? 1 :
				    -1;
			else if ((body.data[0] & 0x80) != 0)
				rc = buf_add(key, body.data, body.len) == 0 ? 1 :
				    -1;
		}
	}
	buf_free(&body);
	mime_free(m);
	return rc;
}
