/*
 * Greylisting (greylist.h).
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "greylist.h"
#include "log.h"
#include "util.h"

#define GREY_KEY	16		/* bytes of a keyed hash */
#define GREY_SALT	16
#define GREY_MAGIC	"osms-greylist 1"
#define GREY_MAX_LINE	128
#define GREY_MIN_CAP	4096		/* slots at first; doubled as needed */

struct entry {
	unsigned char	 key[GREY_KEY];
	int64_t		 first, last;	/* unix time */
	uint32_t	 passes;	/* 0: waiting for its retry */
	int		 used;
};

struct greylist {
	struct entry	*tab;
	size_t		 cap, n;	/* cap: a power of two */
	unsigned char	 salt[GREY_SALT];
	char		 path[1024];
	int		 fd;		/* the journal, appended to */
	size_t		 lines;		/* in the journal */
	int		 full_logged;
};

static void
key_of(const unsigned char *salt, char kind, const char *a, const char *b,
    const char *c, unsigned char *key)
{
	EVP_MD_CTX	*md;
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 dl;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, salt, GREY_SALT) != 1 ||
	    EVP_DigestUpdate(md, &kind, 1) != 1 ||
	    EVP_DigestUpdate(md, a, strlen(a) + 1) != 1 ||
	    EVP_DigestUpdate(md, b, strlen(b) + 1) != 1 ||
	    EVP_DigestUpdate(md, c, strlen(c) + 1) != 1 ||
	    EVP_DigestFinal_ex(md, d, &dl) != 1)
		fatalx("greylist: sha256");
	EVP_MD_CTX_free(md);
	memcpy(key, d, GREY_KEY);
}

static size_t
slot_of(const struct greylist *g, const unsigned char *key)
{
	uint64_t	 h;

	memcpy(&h, key, sizeof(h));
	return (size_t)h & (g->cap - 1);
}

static struct entry *
find(struct greylist *g, const unsigned char *key)
{
	size_t	 i;

	for (i = slot_of(g, key); g->tab[i].used; i = (i + 1) & (g->cap - 1))
		if (memcmp(g->tab[i].key, key, GREY_KEY) == 0)
			return &g->tab[i];
	return NULL;
}

static void	 rebuild(struct greylist *, size_t, time_t);

/* The entry of key, new if need be (NULL when the table is full). */
static struct entry *
get(struct greylist *g, const unsigned char *key)
{
	struct entry	*e;
	size_t		 i;

	if ((e = find(g, key)) != NULL)
		return e;
	if (g->n >= GREY_MAX_ENTRIES)
		return NULL;
	/* At most half full, so that probes stay short. */
	if (2 * (g->n + 1) > g->cap)
		rebuild(g, 2 * g->cap, 0);
	for (i = slot_of(g, key); g->tab[i].used; i = (i + 1) & (g->cap - 1))
		;
	e = &g->tab[i];
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, GREY_KEY);
	e->used = 1;
	g->n++;
	return e;
}

static int
expired(const struct entry *e, time_t now)
{
	return e->passes == 0 ? now - e->first > GREY_RETRY_WINDOW :
	    now - e->last > GREY_LIFETIME;
}

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
unhex(const char *s, unsigned char *p, size_t n)
{
	size_t		 i;
	unsigned	 v;

	if (strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1 ||
		    strspn(s + 2 * i, "0123456789abcdef") < 2)
			return -1;
		p[i] = (unsigned char)v;
	}
	return 0;
}

static int
entry_line(const struct entry *e, char *line, size_t size)
{
	char	 k[2 * GREY_KEY + 1];

	hex(e->key, GREY_KEY, k);
	return snprintf(line, size, "%s %" PRId64 " %" PRId64 " %" PRIu32
	    "\n", k, e->first, e->last, e->passes);
}

/* A change, appended to the journal; lost only if the host crashes. */
static void
journal(struct greylist *g, const struct entry *e)
{
	char	 line[GREY_MAX_LINE];
	int	 n = entry_line(e, line, sizeof(line));

	if (g->fd == -1 || n <= 0 || write_all(g->fd, line, (size_t)n) == -1)
		return;
	g->lines++;
}

/* One line of the journal; malformed ones are skipped. */
static void
replay(struct greylist *g, char *line)
{
	struct entry	 e, *slot;
	char		 k[2 * GREY_KEY + 2];
	long long	 first, last;
	unsigned long	 passes;

	if (sscanf(line, "%33s %lld %lld %lu", k, &first, &last, &passes) !=
	    4 || unhex(k, e.key, GREY_KEY) == -1 || passes > UINT32_MAX)
		return;
	if ((slot = get(g, e.key)) == NULL)
		return;
	slot->first = first;
	slot->last = last;
	slot->passes = (uint32_t)passes;
}

static int
write_journal(struct greylist *g, time_t now)
{
	char	 tmp[1100], line[GREY_MAX_LINE], s[2 * GREY_SALT + 1];
	size_t	 i;
	int	 fd, n, bad = 0;
	FILE	*f;

	(void)snprintf(tmp, sizeof(tmp), "%s.new", g->path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		(void)close(fd);
		return -1;
	}
	hex(g->salt, GREY_SALT, s);
	if (fprintf(f, "%s %s\n", GREY_MAGIC, s) < 0)
		bad = 1;
	g->lines = 0;
	for (i = 0; i < g->cap; i++) {
		if (!g->tab[i].used || expired(&g->tab[i], now))
			continue;
		n = entry_line(&g->tab[i], line, sizeof(line));
		if (n <= 0 || fputs(line, f) == EOF)
			bad = 1;
		g->lines++;
	}
	if (fflush(f) == EOF || fsync(fileno(f)) == -1)
		bad = 1;
	if (fclose(f) == EOF || bad || rename(tmp, g->path) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/* A table of cap slots holding the live entries of the old one (all
 * of them when now is 0). */
static void
rebuild(struct greylist *g, size_t cap, time_t now)
{
	struct entry	*old = g->tab, *e;
	size_t		 oldcap = g->cap, i;

	g->tab = xcalloc(cap, sizeof(*g->tab));
	g->cap = cap;
	g->n = 0;
	for (i = 0; i < oldcap; i++) {
		if (!old[i].used || (now != 0 && expired(&old[i], now)))
			continue;
		if ((e = get(g, old[i].key)) != NULL)
			*e = old[i];
	}
	free(old);
}

int
greylist_compact(struct greylist *g, time_t now)
{
	int	 fd;

	rebuild(g, g->cap, now);
	if (write_journal(g, now) == -1) {
		log_warn("greylist: %s", g->path);
		return -1;
	}
	if ((fd = open(g->path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1) {
		log_warn("greylist: %s", g->path);
		return -1;
	}
	if (g->fd != -1)
		(void)close(g->fd);
	g->fd = fd;
	return 0;
}

struct greylist *
greylist_open(const char *path, char *err, size_t errsize)
{
	struct greylist	*g = xcalloc(1, sizeof(*g));
	char		 line[GREY_MAX_LINE + 2], s[2 * GREY_SALT + 2];
	FILE		*f;
	int		 first = 1;

	g->cap = GREY_MIN_CAP;
	g->tab = xcalloc(g->cap, sizeof(*g->tab));
	g->fd = -1;
	(void)osms_strlcpy(g->path, path, sizeof(g->path));
	if ((f = fopen(path, "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (first) {
				if (sscanf(line, GREY_MAGIC " %33s", s) != 1 ||
				    unhex(s, g->salt, GREY_SALT) == -1) {
					log_warnx("greylist: %s is not a"
					    " greylist: starting afresh", path);
					break;
				}
				first = 0;
				continue;
			}
			replay(g, line);
		}
		(void)fclose(f);
	} else if (errno != ENOENT) {
		(void)snprintf(err, errsize, "%s: %s", path, strerror(errno));
		greylist_close(g);
		return NULL;
	}
	if (first && RAND_bytes(g->salt, sizeof(g->salt)) != 1) {
		(void)snprintf(err, errsize, "no random bytes for a salt");
		greylist_close(g);
		return NULL;
	}
	/* Start from a clean file: what expired, and malformed lines, go. */
	if (greylist_compact(g, time(NULL)) == -1) {
		(void)snprintf(err, errsize, "%s cannot be written", path);
		greylist_close(g);
		return NULL;
	}
	return g;
}

void
greylist_close(struct greylist *g)
{
	if (g == NULL)
		return;
	if (g->fd != -1)
		(void)close(g->fd);
	free(g->tab);
	free(g);
}

size_t
greylist_size(const struct greylist *g)
{
	return g->n;
}

unsigned
greylist_check(struct greylist *g, const char *net, const char *sender,
    const char *rcpt, unsigned delay, time_t now)
{
	unsigned char	 tk[GREY_KEY], ck[GREY_KEY];
	struct entry	*t, *c;

	if (g->lines > 2 * g->n + 10000)
		(void)greylist_compact(g, now);
	key_of(g->salt, 'C', net, "", "", ck);
	c = find(g, ck);
	if (c != NULL && !expired(c, now) && c->passes >= GREY_AWL_PASSES) {
		c->last = now;		/* kept while it keeps coming */
		journal(g, c);
		return 0;
	}
	key_of(g->salt, 'T', net, sender, rcpt, tk);
	if ((t = get(g, tk)) == NULL) {
		if (!g->full_logged)
			log_warnx("greylist: %d triplets: passing new ones",
			    GREY_MAX_ENTRIES);
		g->full_logged = 1;
		return 0;
	}
	if (t->first == 0 || expired(t, now)) {
		t->first = t->last = now;
		t->passes = 0;
		journal(g, t);
		return delay > 0 ? delay : 1;
	}
	if (t->passes == 0 && now - t->first < (time_t)delay)
		return (unsigned)(delay - (unsigned)(now - t->first));
	if (t->passes == 0 && (c = get(g, ck)) != NULL) {
		/* A retry that waited: its client counts toward trust. */
		if (c->first == 0 || expired(c, now)) {
			c->first = now;
			c->passes = 0;
		}
		c->passes++;
		c->last = now;
		journal(g, c);
		t = find(g, tk);	/* the table may have grown */
	}
	t->passes++;
	t->last = now;
	journal(g, t);
	return 0;
}

void
greylist_db_keys(const char *net, const char *sender, const char *rcpt,
    char tkey[GREY_DB_KEY], char ckey[GREY_DB_KEY])
{
	/* The database is shared: no secret salt, one fixed for all. */
	static const unsigned char salt[GREY_SALT] = "osms greylist 1";
	unsigned char		 k[GREY_KEY];

	key_of(salt, 'T', net, sender, rcpt, k);
	tkey[0] = 'T';
	hex(k, GREY_KEY, tkey + 1);
	key_of(salt, 'C', net, "", "", k);
	ckey[0] = 'C';
	hex(k, GREY_KEY, ckey + 1);
}

void
greylist_net(const char *ip, char *out, size_t size)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	char		 buf[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, ip, &a4) == 1) {
		((unsigned char *)&a4)[3] = 0;
		(void)inet_ntop(AF_INET, &a4, buf, sizeof(buf));
		(void)snprintf(out, size, "%s/24", buf);
	} else if (inet_pton(AF_INET6, ip, &a6) == 1) {
		memset(a6.s6_addr + 8, 0, 8);
		(void)inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
		(void)snprintf(out, size, "%s/64", buf);
	} else
		(void)osms_strlcpy(out, ip, size);
}
