/*
 * cryptod: the S/MIME gateway, inbound. A message from outside, before
 * the virus scan: decrypted with the key of a recipient (its address's,
 * else its domain's) from the certificate store, its signature checked
 * against the store's trust anchors, and what was done recorded in an
 * X-Osms-SMIME field, which a sender cannot set: such fields that come
 * with the message are removed. A signer that verifies and matches the
 * From address has its certificate kept (harvested/), so replies to it
 * can be encrypted.
 *
 * The message arrives as a read-only descriptor (IMSG_CRYPT_SOURCE) and
 * the new content goes to a write-only one (IMSG_CRYPT_INBOUND), both
 * opened by the queue. The store is a directory of PEM files:
 * ADDRESS.pem and ADDRESS.key, DOMAIN.pem and DOMAIN.key, trust.pem.
 */
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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
#include "proc.h"
#include "smime.h"
#include "util.h"

#define GW_HEADER	"X-Osms-SMIME:"
#define GW_MAX_PENDING	1024		/* sources waiting for their job */
#define GW_MAX_RCPTS	100		/* recipients whose keys are tried */

struct source {
	TAILQ_ENTRY(source)	 entry;
	uint64_t		 sid;
	char			 tag[64];
	int			 fd;
};

static TAILQ_HEAD(, source)	 sources = TAILQ_HEAD_INITIALIZER(sources);
static unsigned			 nsources;
static char			 store[CONF_MAX_PATH];
static X509_STORE		*trust;
static unsigned long		 ndecrypted, nverified;

void
gateway_conf(struct imsg *imsg)
{
	struct msg_reader	 r;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, store, sizeof(store));
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_CONF_CRYPTOD");
}

/* The trust anchors, read again with each config. */
void
gateway_apply(void)
{
	char	 path[CONF_MAX_PATH + 32];

	X509_STORE_free(trust);
	if ((trust = X509_STORE_new()) == NULL)
		fatalx("cryptod: X509_STORE_new");
	(void)snprintf(path, sizeof(path), "%s/trust.pem", store);
	if (access(path, R_OK) == 0 && X509_STORE_load_file(trust, path) != 1)
		log_warnx("cryptod: %s: no certificates", path);
	ERR_clear_error();
	(void)snprintf(path, sizeof(path), "%s/harvested", store);
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		log_warn("cryptod: %s", path);
}

/* A name for the store: an address or domain, nothing that walks. */
static int
store_name_ok(const char *s)
{
	return s[0] != '\0' && s[0] != '.' && strlen(s) < 256 &&
	    strchr(s, '/') == NULL && !str_has_ctl(s);
}

static X509 *
load_cert(const char *name)
{
	char	 path[CONF_MAX_PATH + 300];
	FILE	*fp;
	X509	*x = NULL;

	if (!store_name_ok(name))
		return NULL;
	(void)snprintf(path, sizeof(path), "%s/%s.pem", store, name);
	if ((fp = fopen(path, "r")) != NULL) {
		x = PEM_read_X509(fp, NULL, NULL, NULL);
		(void)fclose(fp);
	}
	ERR_clear_error();
	return x;
}

static EVP_PKEY *
load_key(const char *name)
{
	char		 path[CONF_MAX_PATH + 300];
	FILE		*fp;
	EVP_PKEY	*k = NULL;

	if (!store_name_ok(name))
		return NULL;
	(void)snprintf(path, sizeof(path), "%s/%s.key", store, name);
	if ((fp = fopen(path, "r")) != NULL) {
		k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
		(void)fclose(fp);
	}
	ERR_clear_error();
	return k;
}

/* Decrypt with the key of name (an address or a domain): 0 if it did. */
static int
decrypt_with(const char *name, const struct buf *in, struct buf *out)
{
	X509		*x = load_cert(name);
	EVP_PKEY	*k = load_key(name);
	const char	*err;
	int		 rc = -1;

	if (x != NULL && k != NULL && smime_decrypt(in->data, in->len, x, k,
	    out, &err) == 0)
		rc = 0;
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

/* The message without any X-Osms-SMIME field of its own: 1 if some
 * were removed. */
static int
strip_ours(const char *p, size_t len, struct buf *out)
{
	size_t	 i = 0, e;
	int	 removed = 0;

	while (i < len && p[i] != '\n' && !(p[i] == '\r' && i + 1 < len &&
	    p[i + 1] == '\n')) {
		for (e = i; e < len; e++)
			if (p[e] == '\n' && (e + 1 >= len ||
			    (p[e + 1] != ' ' && p[e + 1] != '\t')))
				break;
		e = e < len ? e + 1 : len;
		if (e - i >= sizeof(GW_HEADER) - 1 && strncasecmp(p + i,
		    GW_HEADER, sizeof(GW_HEADER) - 1) == 0)
			removed = 1;
		else
			(void)buf_add(out, p + i, e - i);
		i = e;
	}
	(void)buf_add(out, p + i, len - i);
	return removed;
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

/* The address in the message's From field, lower case, or "". */
static void
from_address(const struct buf *m, char *addr, size_t size)
{
	struct mime_msg		*mm;
	const char		*err, *p, *end, *lf;
	char			 value[1024];
	size_t			 n;

	addr[0] = '\0';
	if ((mm = mime_parse(m->data, m->len, &err)) == NULL)
		return;
	p = m->data;
	end = m->data + mime_root(mm)->body_off;
	for (; p < end; p = lf + 1) {
		if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if ((size_t)(end - p) > 5 && strncasecmp(p, "From:", 5) == 0) {
			n = (size_t)(lf - p - 5);
			if (n >= sizeof(value))
				n = sizeof(value) - 1;
			memcpy(value, p + 5, n);
			value[n] = '\0';
			value[strcspn(value, "\r")] = '\0';
			angle_address(value, addr, size);
			break;
		}
	}
	mime_free(mm);
	for (n = 0; addr[n] != '\0'; n++)
		if (addr[n] >= 'A' && addr[n] <= 'Z')
			addr[n] = (char)(addr[n] + 32);
}

/* Keep a verified signer's certificate, to encrypt to it later. */
static void
harvest(X509 *x, const char *email)
{
	char	 path[CONF_MAX_PATH + 300];
	FILE	*fp;
	int	 fd;

	if (!store_name_ok(email))
		return;
	(void)snprintf(path, sizeof(path), "%s/harvested/%s.pem", store,
	    email);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			(void)close(fd);
		log_warn("cryptod: %s", path);
		return;
	}
	if (PEM_write_X509(fp, x) != 1)
		log_warnx("cryptod: %s: cannot write", path);
	(void)fclose(fp);
}

/*
 * The work on one message: cur is replaced as the steps go; notes say
 * what was done. 1 if the message changed.
 */
static int
inbound(struct buf *cur, char *rcpts, char *notes, size_t size)
{
	struct buf		 next = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct smime_verdict	 v;
	X509			*signer = NULL;
	char			*r, *save = NULL, from[256];
	const char		*at, *err;
	int			 changed = 0, n = 0;

	notes[0] = '\0';
	if (strip_ours(cur->data, cur->len, &next)) {
		changed = 1;
		buf_free(cur);
		*cur = next;
		buf_init(&next, 2 * SMIME_MAX_MESSAGE);
	} else
		buf_reset(&next);
	if (smime_is_encrypted(cur->data, cur->len)) {
		(void)osms_strlcpy(notes, "encrypted, for no key here", size);
		for (r = strtok_r(rcpts, ",", &save); r != NULL &&
		    n++ < GW_MAX_RCPTS; r = strtok_r(NULL, ",", &save)) {
			at = strrchr(r, '@');
			if (decrypt_with(r, cur, &next) == 0 || (at != NULL &&
			    decrypt_with(at + 1, cur, &next) == 0)) {
				(void)snprintf(notes, size, "decrypted for "
				    "%.100s", r);
				buf_free(cur);
				*cur = next;
				buf_init(&next, 2 * SMIME_MAX_MESSAGE);
				ndecrypted++;
				break;
			}
			buf_reset(&next);
		}
		changed = 1;
	}
	if (smime_verify(cur->data, cur->len, trust, &v, NULL, &signer,
	    &err) == 0 && v.result != SMIME_NOT_SIGNED) {
		changed = 1;
		from_address(cur, from, sizeof(from));
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
			harvest(signer, v.signer);
			nverified++;
		}
	}
	X509_free(signer);
	buf_free(&next);
	/* Names from certificates are the senders' words: one line. */
	for (r = notes; *r != '\0'; r++)
		if ((unsigned char)*r < 0x20 || *r == 0x7f)
			*r = '?';
	return changed;
}

static void
answer(struct channel *ch, uint64_t id, int rewritten, uint64_t size,
    const char *what, const char *tag)
{
	struct msg	 m;

	msg_init(&m, IMSG_CRYPT_INBOUND_DONE, id);
	msg_add_u32(&m, rewritten ? 1 : 0);
	msg_add_u64(&m, size);
	msg_add_str(&m, what);
	msg_add_str(&m, tag);
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
	s->sid = imsg->hdr.id;
	/* One a session; the oldest go when too many wait. */
	TAILQ_FOREACH(old, &sources, entry)
		if (old->sid == s->sid)
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

void
gateway_inbound(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct source		*s;
	struct buf		 cur = BUF_INIT(2 * SMIME_MAX_MESSAGE);
	struct stat		 st;
	char			 tag[64], sender[ADDR_MAX_TEXT], rcpts[4096];
	char			 notes[512], head[600], *map;
	uint64_t		 size = 0;
	int			 out, rewritten = 0;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, tag, sizeof(tag));
	(void)msg_get_str(&r, sender, sizeof(sender));
	(void)msg_get_str(&r, rcpts, sizeof(rcpts));
	out = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || out == -1 || str_has_ctl(rcpts)) {
		if (out != -1)
			(void)close(out);
		channel_bad_message(ch, imsg, "bad inbound request");
		return;
	}
	TAILQ_FOREACH(s, &sources, entry)
		if (s->sid == imsg->hdr.id && strcmp(s->tag, tag) == 0)
			break;
	if (s == NULL) {
		(void)close(out);
		answer(ch, imsg->hdr.id, 0, 0, "no content", tag);
		return;
	}
	TAILQ_REMOVE(&sources, s, entry);
	nsources--;
	notes[0] = '\0';
	if (fstat(s->fd, &st) == -1 || st.st_size <= 0 ||
	    st.st_size > SMIME_MAX_MESSAGE || (map = mmap(NULL,
	    (size_t)st.st_size, PROT_READ, MAP_PRIVATE, s->fd, 0)) ==
	    MAP_FAILED)
		goto done;
	(void)buf_add(&cur, map, (size_t)st.st_size);
	(void)munmap(map, (size_t)st.st_size);
	if (cur.over || !inbound(&cur, rcpts, notes, sizeof(notes)))
		goto done;
	if (notes[0] == '\0')
		(void)osms_strlcpy(notes, "a forged " GW_HEADER " field removed",
		    sizeof(notes));
	/* The new content: our field first, then the message. */
	(void)snprintf(head, sizeof(head), GW_HEADER " %s\r\n", notes);
	if (write_all(out, head, strlen(head)) == -1 ||
	    write_all(out, cur.data, cur.len) == -1) {
		log_warn("cryptod: %s: write", tag);
		(void)osms_strlcpy(notes, "cannot write", sizeof(notes));
		goto done;
	}
	size = strlen(head) + cur.len;
	rewritten = 1;
done:
	(void)close(s->fd);
	free(s);
	(void)close(out);
	answer(ch, imsg->hdr.id, rewritten, size, notes, tag);
	buf_free(&cur);
}

unsigned long
gateway_count(void)
{
	return ndecrypted + nverified;
}
