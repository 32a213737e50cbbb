/*
 * The S/MIME certificate store (certstore.h).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certstore.h"
#include "conf.h"
#include "log.h"
#include "smime.h"
#include "util.h"

static char			 dir[CONF_MAX_PATH];
static char			 master[STORE_MAX_MASTER + 1];	/* "" none */
static X509_STORE		*trust;
static STACK_OF(X509_CRL)	*crls;

/*
 * Certificates and keys as parsed, by file. OpenSSL 3.0 takes about
 * 0.1 ms to parse a certificate and 0.35 ms a private key, more than the
 * signature they are read for; a file is parsed again only when it is
 * another (device, inode, size, modification time), which one stat(2)
 * tells. The least recently used entry makes room.
 */
#define STORE_CACHE	512

struct cached {
	char		*path;		/* NULL: a free slot */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	X509		*x;
	EVP_PKEY	*k;
	unsigned long	 used;
};

static struct cached	 cache[STORE_CACHE];
static unsigned long	 cache_clock;

static void
cache_drop(struct cached *c)
{
	free(c->path);
	X509_free(c->x);
	EVP_PKEY_free(c->k);
	memset(c, 0, sizeof(*c));
}

static void
cache_flush(void)
{
	size_t	 i;

	for (i = 0; i < STORE_CACHE; i++)
		cache_drop(&cache[i]);
}

static int
same_file(const struct cached *c, const struct stat *st)
{
	return c->dev == st->st_dev && c->ino == st->st_ino &&
	    c->size == st->st_size && c->mtime.tv_sec == st->st_mtim.tv_sec &&
	    c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* What path holds now, if it was parsed as it is: NULL if not. */
static struct cached *
cache_get(const char *path)
{
	struct stat	 st;
	size_t		 i;

	for (i = 0; i < STORE_CACHE; i++)
		if (cache[i].path != NULL && strcmp(cache[i].path, path) == 0)
			break;
	if (i == STORE_CACHE)
		return NULL;
	if (stat(path, &st) == -1 || !same_file(&cache[i], &st)) {
		cache_drop(&cache[i]);
		return NULL;
	}
	cache[i].used = ++cache_clock;
	return &cache[i];
}

/* Keep x or k, parsed from the file fp (path) is open on. */
static void
cache_put(const char *path, FILE *fp, X509 *x, EVP_PKEY *k)
{
	struct stat	 st;
	struct cached	*c = &cache[0];
	size_t		 i;

	if (fstat(fileno(fp), &st) == -1)
		return;
	for (i = 0; i < STORE_CACHE; i++) {
		if (cache[i].path != NULL && strcmp(cache[i].path, path) == 0) {
			c = &cache[i];
			break;
		}
		if (cache[i].used < c->used)
			c = &cache[i];
	}
	cache_drop(c);
	if (x != NULL && X509_up_ref(x) != 1)
		return;
	if (k != NULL && EVP_PKEY_up_ref(k) != 1) {
		X509_free(x);
		return;
	}
	c->path = xstrdup(path);
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->size = st.st_size;
	c->mtime = st.st_mtim;
	c->x = x;
	c->k = k;
	c->used = ++cache_clock;
}

/*
 * Checks that passed, kept for a short while: X509_verify_cert() costs
 * about 40 us, and an outbound message takes two. An entry is the very
 * object that was checked (held, so that its address cannot come back
 * as another certificate; the store's objects are never changed once
 * parsed, and a replaced file is another object), for the same use and
 * name, against the trust anchors and CRLs as loaded: store_reload() and
 * store_set() forget every entry. It serves only while the clock is
 * between the check and the earliest of CHECK_TTL seconds later, the
 * notAfter of any certificate of the chain and the next update of any
 * CRL, so nothing is taken that a fresh check would refuse for time.
 * Refusals are not kept: they are checked again each time.
 */
#define CHECK_CACHE	64
#define CHECK_TTL	60

struct checked {
	X509	*x;		/* NULL: a free slot */
	int	 use;
	time_t	 at, until;	/* usable while at <= now < until */
	char	 name[256];
};

static struct checked	 checked[CHECK_CACHE];

static void
checked_flush(void)
{
	size_t	 i;

	for (i = 0; i < CHECK_CACHE; i++) {
		X509_free(checked[i].x);
		memset(&checked[i], 0, sizeof(checked[i]));
	}
}

void
store_set(const char *path)
{
	(void)osms_strlcpy(dir, path, sizeof(dir));
	explicit_wipe(master, sizeof(master));
	cache_flush();
	checked_flush();
}

int
store_set_master_fd(int fd)
{
	ssize_t	 n;
	size_t	 len = 0;

	explicit_wipe(master, sizeof(master));
	cache_flush();		/* keys read with another master key */
	while (len < STORE_MAX_MASTER &&
	    (n = read(fd, master + len, STORE_MAX_MASTER - len)) > 0)
		len += (size_t)n;
	master[len] = '\0';
	master[strcspn(master, "\r\n")] = '\0';
	if (master[0] == '\0') {
		log_warnx("store: the master key is empty");
		return -1;
	}
	return 0;
}

const char *
store_master(void)
{
	return master[0] != '\0' ? master : NULL;
}

const char *
store_dir(void)
{
	return dir;
}

int
store_enabled(void)
{
	return dir[0] != '\0';
}

/* The trust anchors and CRLs, read again with each config. */
void
store_reload(void)
{
	char		 path[CONF_MAX_PATH + 32];
	FILE		*fp;
	X509_CRL	*crl;
	int		 i;

	cache_flush();
	checked_flush();	/* they were checked against the old ones */
	smime_forget();
	X509_STORE_free(trust);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	if ((trust = X509_STORE_new()) == NULL ||
	    (crls = sk_X509_CRL_new_null()) == NULL)
		fatalx("cryptod: out of memory");
	/* The anchors, and the internal CA that osmsctl cert ca makes. */
	(void)snprintf(path, sizeof(path), "%s/trust.pem", dir);
	if (dir[0] != '\0' && access(path, R_OK) == 0 &&
	    X509_STORE_load_file(trust, path) != 1)
		log_warnx("store: %s: no certificates", path);
	(void)snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if (dir[0] != '\0' && access(path, R_OK) == 0 &&
	    X509_STORE_load_file(trust, path) != 1)
		log_warnx("store: %s: no certificate", path);
	(void)snprintf(path, sizeof(path), "%s/crl.pem", dir);
	if (dir[0] != '\0' && (fp = fopen(path, "r")) != NULL) {
		while ((crl = PEM_read_X509_CRL(fp, NULL, NULL, NULL)) != NULL)
			if (sk_X509_CRL_push(crls, crl) == 0)
				X509_CRL_free(crl);
		(void)fclose(fp);
		for (i = 0; i < sk_X509_CRL_num(crls); i++)
			(void)X509_STORE_add_crl(trust,
			    sk_X509_CRL_value(crls, i));
		log_debug("store: %d CRLs", sk_X509_CRL_num(crls));
	}
	ERR_clear_error();
}

X509_STORE *
store_trust(void)
{
	return trust;
}

/* A name in the store: an address or domain, nothing that walks. */
int
store_name_ok(const char *s)
{
	return s[0] != '\0' && s[0] != '.' && strlen(s) < 256 &&
	    strchr(s, '/') == NULL && !str_has_ctl(s);
}

static X509 *
read_cert(const char *sub, const char *name)
{
	char		 path[CONF_MAX_PATH + 300];
	struct cached	*c;
	FILE		*fp;
	X509		*x = NULL;

	if (dir[0] == '\0' || !store_name_ok(name))
		return NULL;
	(void)snprintf(path, sizeof(path), "%s/%s%s.pem", dir, sub, name);
	if ((c = cache_get(path)) != NULL && c->x != NULL &&
	    X509_up_ref(c->x) == 1)
		return c->x;
	if ((fp = fopen(path, "r")) != NULL) {
		if ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL)
			cache_put(path, fp, x, NULL);
		(void)fclose(fp);
	}
	ERR_clear_error();
	return x;
}

X509 *
store_cert(const char *name)
{
	return read_cert("", name);
}

X509 *
store_harvested(const char *name)
{
	return read_cert("harvested/", name);
}

EVP_PKEY *
store_key(const char *name)
{
	char		 path[CONF_MAX_PATH + 300];
	struct cached	*c;
	FILE		*fp;
	EVP_PKEY	*k = NULL;

	if (dir[0] == '\0' || !store_name_ok(name))
		return NULL;
	(void)snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	if ((c = cache_get(path)) != NULL && c->k != NULL &&
	    EVP_PKEY_up_ref(c->k) == 1)
		return c->k;
	/* The master key decrypts a PKCS#8 key; a plain one needs none. */
	if ((fp = fopen(path, "r")) != NULL) {
		if ((k = PEM_read_PrivateKey(fp, NULL, NULL, master[0] !=
		    '\0' ? master : (void *)"")) != NULL)
			cache_put(path, fp, NULL, k);
		(void)fclose(fp);
	}
	ERR_clear_error();
	return k;
}

/*
 * Encryption, as RFC 8551 and 5753 have it: an RSA key transports the
 * content key (keyEncipherment), an EC key agrees on it (keyAgreement).
 * OpenSSL's S/MIME encryption purpose knows only the first, so the
 * store's own purpose checks the end certificate so and leaves the CAs
 * to OpenSSL's.
 */
#define STORE_PURPOSE_ENCRYPT	(X509_PURPOSE_MAX + 71)

static int
encrypt_purpose(const X509_PURPOSE *xp, const X509 *cx, int ca)
{
	/* OpenSSL 3.0's getters take no const; they only read the
	 * extensions X509_check_purpose() cached before calling here. */
	X509		*x = (X509 *)(uintptr_t)cx;
	EVP_PKEY	*k;

	(void)xp;
	if (ca)
		return X509_check_purpose(x, X509_PURPOSE_SMIME_ENCRYPT, 1);
	if (!(X509_get_extended_key_usage(x) & XKU_SMIME) ||
	    (k = X509_get0_pubkey(x)) == NULL)
		return 0;
	return (X509_get_key_usage(x) & (EVP_PKEY_get_base_id(k) ==
	    EVP_PKEY_RSA ? KU_KEY_ENCIPHERMENT : KU_KEY_AGREEMENT)) != 0;
}

static int
encrypt_purpose_id(void)
{
	static int	 added;

	if (!added && X509_PURPOSE_add(STORE_PURPOSE_ENCRYPT, X509_TRUST_EMAIL,
	    0, encrypt_purpose, "S/MIME encryption (RSA or EC)",
	    "osmsencrypt", NULL) != 1)
		fatalx("store: cannot add the encryption purpose");
	added = 1;
	return STORE_PURPOSE_ENCRYPT;
}

/* A CRL of x's issuer is loaded: then x must be checked against it. */
static int
crl_for(X509 *x)
{
	int	 i;

	for (i = 0; i < sk_X509_CRL_num(crls); i++)
		if (X509_NAME_cmp(X509_CRL_get_issuer(sk_X509_CRL_value(crls,
		    i)), X509_get_issuer_name(x)) == 0)
			return 1;
	return 0;
}

int
store_revoked(X509 *x)
{
	X509_CRL	*crl;
	X509_REVOKED	*rev;
	int		 i;

	for (i = 0; i < sk_X509_CRL_num(crls); i++) {
		crl = sk_X509_CRL_value(crls, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
		    X509_get_issuer_name(x)) == 0 &&
		    X509_CRL_get0_by_cert(crl, &rev, x) == 1)
			return 1;
	}
	return 0;
}

/* Does any address of x belong to domain (or is x a host cert for it)? */
static int
names_domain(X509 *x, const char *domain)
{
	STACK_OF(OPENSSL_STRING)	*emails = X509_get1_email(x);
	const char			*e, *at;
	int				 i, yes = 0;

	for (i = 0; emails != NULL && i < sk_OPENSSL_STRING_num(emails); i++) {
		e = sk_OPENSSL_STRING_value(emails, i);
		if ((at = strrchr(e, '@')) != NULL &&
		    strcasecmp(at + 1, domain) == 0)
			yes = 1;
	}
	X509_email_free(emails);
	return yes || X509_check_host(x, domain, 0, 0, NULL) == 1;
}

/* Seconds from now until t, at most max (0 when t is past or bad). */
static time_t
secs_until(const ASN1_TIME *t, time_t max)
{
	int	 days, secs;

	if (t == NULL || ASN1_TIME_diff(&days, &secs, NULL, t) != 1 ||
	    days < 0 || secs < 0)
		return 0;
	if (days >= max / 86400 + 1)
		return max;
	return (time_t)days * 86400 + secs < max ?
	    (time_t)days * 86400 + secs : max;
}

/* The passed check of (x, name, use), if it still holds now. */
static int
checked_get(X509 *x, const char *name, int use, time_t now)
{
	size_t	 i;

	for (i = 0; i < CHECK_CACHE; i++)
		if (checked[i].x == x && checked[i].use == use &&
		    strcmp(checked[i].name, name) == 0)
			return checked[i].at <= now && now < checked[i].until;
	return 0;
}

/* Keep a check of x that passed at now, with chain (x first). */
static void
checked_put(X509 *x, const char *name, int use, time_t now,
    STACK_OF(X509) *chain, int with_crls)
{
	struct checked	*c = NULL;
	time_t		 left = CHECK_TTL;
	size_t		 i;
	int		 j;

	if (strlen(name) >= sizeof(c->name) || chain == NULL ||
	    sk_X509_num(chain) < 1)
		return;
	for (j = 0; j < sk_X509_num(chain); j++)
		left = secs_until(X509_get0_notAfter(sk_X509_value(chain, j)),
		    left);
	for (j = 0; with_crls && j < sk_X509_CRL_num(crls); j++)
		if (X509_CRL_get0_nextUpdate(sk_X509_CRL_value(crls,
		    j)) != NULL)
			left = secs_until(X509_CRL_get0_nextUpdate(
			    sk_X509_CRL_value(crls, j)), left);
	if (left <= 0)
		return;
	/* The same key again (it had run out), else a free or the oldest
	 * slot. */
	for (i = 0; i < CHECK_CACHE; i++) {
		if (checked[i].x == x && checked[i].use == use &&
		    strcmp(checked[i].name, name) == 0) {
			c = &checked[i];
			break;
		}
		if (c == NULL || checked[i].x == NULL ||
		    (c->x != NULL && checked[i].at < c->at))
			c = &checked[i];
	}
	if (X509_up_ref(x) != 1)
		return;
	X509_free(c->x);
	c->x = x;
	c->use = use;
	c->at = now;
	c->until = now + left;
	(void)osms_strlcpy(c->name, name, sizeof(c->name));
}

int
store_check(X509 *x, const char *name, int use, const char **why)
{
	X509_STORE_CTX	*ctx;
	const char	*at = strchr(name, '@');
	time_t		 now = time(NULL);
	int		 ok, err, with_crls;

	if (checked_get(x, name, use, now)) {
		*why = NULL;
		return 0;
	}
	if (at != NULL ? X509_check_email(x, name, 0, 0) != 1 :
	    !names_domain(x, name)) {
		*why = "does not name the address";
		return -1;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, trust, x, NULL) != 1) {
		X509_STORE_CTX_free(ctx);
		*why = "out of memory";
		return -1;
	}
	(void)X509_STORE_CTX_set_purpose(ctx, use == STORE_ENCRYPT ?
	    encrypt_purpose_id() : X509_PURPOSE_SMIME_SIGN);
	if ((with_crls = crl_for(x)))
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK);
	ok = X509_verify_cert(ctx);
	err = X509_STORE_CTX_get_error(ctx);
	if (ok == 1)
		checked_put(x, name, use, now, X509_STORE_CTX_get0_chain(ctx),
		    with_crls);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	if (ok == 1) {
		*why = NULL;
		return 0;
	}
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		*why = "expired";
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		*why = "not yet valid";
		break;
	case X509_V_ERR_CERT_REVOKED:
		*why = "revoked";
		break;
	case X509_V_ERR_INVALID_PURPOSE:
		*why = "not for this use (key usage)";
		break;
	default:
		*why = X509_verify_cert_error_string(err);
		break;
	}
	return -1;
}

void
store_fingerprint(X509 *x, char *out, size_t size)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0, i;

	out[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1)
		return;
	for (i = 0; i < n && 2 * i + 2 < size; i++)
		(void)snprintf(out + 2 * i, size - 2 * i, "%02x", md[i]);
}

/*
 * The certificate to encrypt to an outside address: its own (imported,
 * else harvested), else its domain's gateway certificate; each checked.
 * NULL (and why, if one was found and refused) when there is none.
 */
/* Markers beside a certificate: what its owner takes. */
static const struct {
	unsigned	 cap;
	const char	*suffix;
} markers[] = {
	{ SMIME_CAP_GCM, ".aead" },
	{ SMIME_CAP_OAEP, ".oaep" },
};

static unsigned
takes(const char *sub, const char *name)
{
	char		 path[CONF_MAX_PATH + 300];
	unsigned	 caps = 0;
	size_t		 i;

	for (i = 0; i < nitems(markers); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s%s%s", dir, sub, name,
		    markers[i].suffix);
		if (access(path, F_OK) == 0)
			caps |= markers[i].cap;
	}
	return caps;
}

X509 *
store_recipient(const char *address, enum store_origin *origin,
    unsigned *caps, char *why, size_t size)
{
	static const struct {
		const char		*sub;
		int			 domain;
		enum store_origin	 origin;
	} places[] = {
		{ "", 0, ORIGIN_IMPORTED },
		{ "harvested/", 0, ORIGIN_HARVESTED },
		{ "", 1, ORIGIN_DOMAIN },
	};
	const char	*at = strrchr(address, '@'), *name, *err;
	X509		*x;
	size_t		 i;

	why[0] = '\0';
	for (i = 0; i < nitems(places); i++) {
		name = places[i].domain ? (at != NULL ? at + 1 : "") : address;
		if ((x = read_cert(places[i].sub, name)) == NULL)
			continue;
		if (store_check(x, name, STORE_ENCRYPT, &err) == 0) {
			*origin = places[i].origin;
			*caps = takes(places[i].sub, name);
			return x;
		}
		(void)snprintf(why, size, "certificate %s%.100s: %s",
		    places[i].sub, name, err);
		log_info("store: not encrypting with %s", why);
		X509_free(x);
	}
	return NULL;
}

const char *
store_origin_name(enum store_origin o)
{
	switch (o) {
	case ORIGIN_IMPORTED:
		return "imported";
	case ORIGIN_HARVESTED:
		return "harvested";
	case ORIGIN_DOMAIN:
		return "domain";
	}
	return "?";
}

/* Keep a verified signer's certificate, to encrypt to it later; written
 * aside and renamed, so a reader never sees half of it. */
void
store_harvest(X509 *x, const char *email, unsigned caps)
{
	char	 path[CONF_MAX_PATH + 300], tmp[CONF_MAX_PATH + 320];
	FILE	*fp;
	X509	*had;
	size_t	 i;
	int	 fd, ok;

	if (dir[0] == '\0' || !store_name_ok(email))
		return;
	/* The same certificate again (every signed mail carries it): kept. */
	had = store_harvested(email);
	ok = had != NULL && X509_cmp(had, x) == 0;
	X509_free(had);
	if (ok)
		goto capabilities;
	(void)snprintf(path, sizeof(path), "%s/harvested/%s.pem", dir, email);
	(void)snprintf(tmp, sizeof(tmp), "%s/harvested/.%s.tmp", dir, email);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			(void)close(fd);
		log_warn("store: %s", tmp);
		return;
	}
	ok = PEM_write_X509(fp, x) == 1;
	if (fclose(fp) != 0 || !ok || rename(tmp, path) == -1) {
		log_warn("store: cannot write %s", path);
		(void)unlink(tmp);
		return;
	}
capabilities:
	/* What it said it takes, as of its latest signature. */
	for (i = 0; i < nitems(markers); i++) {
		(void)snprintf(path, sizeof(path), "%s/harvested/%s%s", dir,
		    email, markers[i].suffix);
		if ((caps & markers[i].cap) && (fd = open(path, O_WRONLY |
		    O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) != -1)
			(void)close(fd);
		else if (!(caps & markers[i].cap))
			(void)unlink(path);
	}
}

/*
 * Writing the store (osmsctl, and cryptod's internal CA).
 */

/* data as name+suffix (mode 0600, the store's owner), through a file
 * aside, fsync'd and renamed. */
static int
put_file(const char *name, const char *suffix, BIO *data)
{
	struct stat	 st;
	char		 path[CONF_MAX_PATH + 300], tmp[CONF_MAX_PATH + 320];
	char		*p;
	long		 n;
	int		 fd;

	(void)snprintf(path, sizeof(path), "%s/%s%s", dir, name, suffix);
	(void)snprintf(tmp, sizeof(tmp), "%s/.%s%s.tmp", dir, name, suffix);
	if (stat(dir, &st) == -1) {
		log_warn("store: %s", dir);
		return -1;
	}
	if ((n = BIO_get_mem_data(data, &p)) <= 0 ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("store: %s", tmp);
		return -1;
	}
	if (write_all(fd, p, (size_t)n) == -1 || fsync(fd) == -1 ||
	    fchown(fd, st.st_uid, st.st_gid) == -1 || close(fd) == -1 ||
	    rename(tmp, path) == -1) {
		log_warn("store: %s", path);
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

int
store_put(const char *name, X509 *x, EVP_PKEY *k)
{
	BIO	*b;
	int	 rc = -1;

	if (dir[0] == '\0' || !store_name_ok(name))
		return -1;
	if ((b = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(b,
	    x) != 1 || put_file(name, ".pem", b) == -1)
		goto done;
	BIO_free(b);
	b = NULL;
	/* With a master key, the key is kept encrypted (PKCS#8, AES-256). */
	if (k != NULL && ((b = BIO_new(BIO_s_mem())) == NULL ||
	    (master[0] != '\0' ? PEM_write_bio_PKCS8PrivateKey(b, k,
	    EVP_aes_256_cbc(), master, (int)strlen(master), NULL, NULL) :
	    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) != 1 ||
	    put_file(name, ".key", b) == -1))
		goto done;
	rc = 0;
done:
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

/* An extension from its text form (as openssl's -addext takes it). */
static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*e;
	int		 ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok == 1 ? 0 : -1;
}

/* A certificate for key, valid for days from now, issued by ca (NULL:
 * by itself); the caller adds the rest and signs. */
static X509 *
new_cert(EVP_PKEY *key, const char *cn, X509 *ca, long days)
{
	X509		*x;
	ASN1_INTEGER	*serial = NULL;
	BIGNUM		*bn = BN_new();

	if ((x = X509_new()) == NULL || bn == NULL ||
	    BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_set_version(x, 2) != 1 ||
	    X509_set_serialNumber(x, serial) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca != NULL ? ca :
	    x)) != 1 ||
	    add_ext(x, ca != NULL ? ca : x, NID_subject_key_identifier,
	    "hash") == -1) {
		X509_free(x);
		x = NULL;
	}
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return x;
}

int
store_make_ca(long days, const char *hostname, const char **why)
{
	X509		*x = NULL;
	EVP_PKEY	*k = NULL;
	char		 cn[300], path[CONF_MAX_PATH + 16];
	int		 rc = -1;

	(void)snprintf(path, sizeof(path), "%s/ca.pem", dir);
	*why = "ca.pem exists already";
	if (access(path, F_OK) == 0)
		return -1;
	(void)snprintf(cn, sizeof(cn), "osms internal CA (%.200s)", hostname);
	*why = "cannot make the CA";
	if ((k = EVP_EC_gen("P-256")) == NULL ||
	    (x = new_cert(k, cn, NULL, days)) == NULL ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,"
	    "pathlen:0") == -1 || add_ext(x, x, NID_key_usage,
	    "critical,keyCertSign,cRLSign") == -1 ||
	    X509_sign(x, k, EVP_sha256()) == 0 || store_put("ca", x, k) == -1)
		goto done;
	rc = 0;
done:
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return rc;
}

int
store_has_ca(void)
{
	char	 path[CONF_MAX_PATH + 16];

	(void)snprintf(path, sizeof(path), "%s/ca.key", dir);
	return dir[0] != '\0' && access(path, F_OK) == 0;
}

int
store_issued_by_ca(X509 *x)
{
	X509	*ca = store_cert("ca");
	int	 yes;

	yes = ca != NULL && X509_check_issued(ca, x) == X509_V_OK;
	X509_free(ca);
	return yes;
}

int
store_issue(const char *address, long days, const char **why)
{
	X509		*x = NULL, *ca = store_cert("ca");
	EVP_PKEY	*k = NULL, *cakey = store_key("ca");
	char		 san[300];
	int		 rc = -1;

	*why = "not an address";
	if (strchr(address, '@') == NULL || !store_name_ok(address) ||
	    strpbrk(address, ", ") != NULL)
		goto done;
	*why = "no internal CA (osmsctl cert ca makes one)";
	if (ca == NULL || cakey == NULL)
		goto done;
	(void)snprintf(san, sizeof(san), "email:%s", address);
	*why = "cannot issue";
	/* RSA-2048: every mail client takes it. */
	if ((k = EVP_RSA_gen(2048)) == NULL ||
	    (x = new_cert(k, address, ca, days)) == NULL ||
	    add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature,"
	    "keyEncipherment") == -1 ||
	    add_ext(x, ca, NID_ext_key_usage, "emailProtection") == -1 ||
	    add_ext(x, ca, NID_subject_alt_name, san) == -1 ||
	    add_ext(x, ca, NID_authority_key_identifier, "keyid") == -1 ||
	    X509_sign(x, cakey, EVP_sha256()) == 0 ||
	    store_put(address, x, k) == -1)
		goto done;
	rc = 0;
done:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cakey);
	ERR_clear_error();
	return rc;
}
