/*
 * Recipient lookups. An address in a local domain is looked up in the
 * domain's aliases (an alias expands to addresses, recursively), then
 * its users (a user has a Maildir), then the domain's catch-all alias
 * "@domain". Addresses of other domains an alias points to become relay
 * destinations. Loops are broken, depth and breadth are bounded, and
 * every Maildir path is checked, so a hostile table cannot send mail
 * outside the store.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>
#include <time.h>

#include "envelope.h"
#include "log.h"
#include "lookup.h"
#include "srs.h"
#include "util.h"

#define LOOKUP_MAX_SEEN	(4 * LOOKUP_MAX_DESTS)

struct expansion {
	struct directory	*dir;
	struct lookup		*l;
	char			(*seen)[ADDR_MAX_TEXT];
	size_t			 nseen;
	int			 tempfail;
	int			 loop;
	int			 looped;	/* met an address twice */
	int			 toomany;
};

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int
add_dest(struct expansion *x, int kind, const char *address,
    const char *mailbox, uint64_t qbytes, uint64_t qmsgs)
{
	struct lookup		*l = x->l;
	struct lookup_dest	*d;
	size_t			 i;

	for (i = 0; i < l->ndests; i++)
		if (strcmp(l->dests[i].address, address) == 0)
			return 0;	/* reached twice: one copy */
	if (l->ndests == LOOKUP_MAX_DESTS) {
		x->toomany = 1;
		return -1;
	}
	if (l->ndests == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->dests = xreallocarray(l->dests, l->cap, sizeof(*l->dests));
	}
	d = &l->dests[l->ndests++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	(void)osms_strlcpy(d->address, address, sizeof(d->address));
	(void)osms_strlcpy(d->mailbox, mailbox, sizeof(d->mailbox));
	d->quota_bytes = qbytes;
	d->quota_messages = qmsgs;
	return 0;
}

/* A user's entry: its Maildir and quota. */
static int
user_dest(struct expansion *x, const struct mailaddr *a, const char *key,
    const char *value)
{
	struct userent	 u;

	if (userent_parse(a->local, a->domain, value, &u) == -1) {
		log_warnx("lookup: the entry of %s is not valid (a bad"
		    " attribute or Maildir path); refusing to deliver until"
		    " the directory is fixed", key);
		x->tempfail = 1;
		return -1;
	}
	return add_dest(x, DEST_MAILBOX, key, u.maildir, u.quota_bytes,
	    u.quota_messages);
}

static int	expand(struct expansion *, const char *, int);

/* The user's own Maildir, aliases aside ("alice: alice, bob" keeps a
 * copy for alice). */
static int
own_mailbox(struct expansion *x, const char *key)
{
	struct domain		*d;
	struct mailaddr		 a;
	const char		*errstr;
	char			 value[TABLE_MAX_VALUE];
	char			 canon[ADDR_MAX_DOMAIN + 1];
	enum table_found	 f;

	if (addr_parse_mailbox(key, ADDR_UTF8, &a, &errstr) == -1)
		return -1;
	f = dir_domain(x->dir, a.domain, &d, canon, sizeof(canon));
	if (f == TABLE_TEMPFAIL)
		x->tempfail = 1;
	if (f != TABLE_FOUND || d->users == NULL)
		return -1;
	f = table_get(d->users, TQ_USER, key, value, sizeof(value));
	if (f == TABLE_TEMPFAIL)
		x->tempfail = 1;
	if (f != TABLE_FOUND)
		return -1;
	return user_dest(x, &a, key, value);
}

/* Expand every target of an alias value ("a@x, b@y c@z"). */
static int
expand_targets(struct expansion *x, const char *key, const char *value,
    int depth)
{
	char	 buf[TABLE_MAX_VALUE], *word, *last = NULL;
	int	 n = 0;

	(void)osms_strlcpy(buf, value, sizeof(buf));
	for (word = strtok_r(buf, ", \t", &last); word != NULL;
	    word = strtok_r(NULL, ", \t", &last)) {
		if (strcasecmp(word, key) == 0) {
			if (own_mailbox(x, key) == 0)
				n++;
		} else if (expand(x, word, depth + 1) == 0)
			n++;
		if (x->tempfail || x->loop || x->toomany)
			return -1;
	}
	if (n == 0)
		log_warnx("lookup: alias %s leads nowhere", key);
	return n > 0 ? 0 : -1;
}

/* 0 if address led to at least one destination. */
static int
expand(struct expansion *x, const char *address, int depth)
{
	struct domain		*d;
	struct mailaddr		 a;
	const char		*errstr;
	char			 key[ADDR_MAX_TEXT], value[TABLE_MAX_VALUE];
	char			 catchall[ADDR_MAX_DOMAIN + 2];
	char			 canon[ADDR_MAX_DOMAIN + 1];
	enum table_found	 f;
	size_t			 i;

	if (depth > LOOKUP_MAX_DEPTH) {
		x->loop = 1;
		return -1;
	}
	if (addr_parse_mailbox(address, ADDR_UTF8, &a, &errstr) == -1) {
		log_warnx("lookup: bad address %s in the directory: %s",
		    address, errstr);
		return -1;
	}
	if (addr_format(&a, key, sizeof(key)) == -1)
		return -1;
	lower(key);
	for (i = 0; i < x->nseen; i++)
		if (strcmp(x->seen[i], key) == 0) {
			x->looped = 1;	/* a loop: this branch ends */
			return -1;
		}
	if (x->nseen == LOOKUP_MAX_SEEN) {
		x->toomany = 1;
		return -1;
	}
	(void)osms_strlcpy(x->seen[x->nseen++], key, ADDR_MAX_TEXT);

	f = dir_domain(x->dir, a.domain, &d, canon, sizeof(canon));
	if (f == TABLE_TEMPFAIL) {
		x->tempfail = 1;
		return -1;
	}
	if (f == TABLE_NOTFOUND)
		return add_dest(x, DEST_RELAY, key, "", 0, 0);
	if (strcmp(canon, a.domain) != 0) {
		/* An alias domain: the same local part, in its target. */
		(void)osms_strlcpy(a.domain, canon, sizeof(a.domain));
		if (addr_format(&a, key, sizeof(key)) == -1)
			return -1;
		lower(key);
		return expand(x, key, depth + 1);
	}

	if (d->aliases != NULL) {
		f = table_get(d->aliases, TQ_ALIAS, key, value, sizeof(value));
		if (f == TABLE_TEMPFAIL) {
			x->tempfail = 1;
			return -1;
		}
		if (f == TABLE_FOUND)
			return expand_targets(x, key, value, depth);
	}
	if (d->users != NULL) {
		f = table_get(d->users, TQ_USER, key, value, sizeof(value));
		if (f == TABLE_TEMPFAIL) {
			x->tempfail = 1;
			return -1;
		}
		if (f == TABLE_FOUND)
			return user_dest(x, &a, key, value);
	}
	if (d->aliases != NULL) {
		(void)osms_snprintf(catchall, sizeof(catchall), "@%s",
		    a.domain);
		f = table_get(d->aliases, TQ_ALIAS, catchall, value,
		    sizeof(value));
		if (f == TABLE_TEMPFAIL) {
			x->tempfail = 1;
			return -1;
		}
		if (f == TABLE_FOUND)
			return expand_targets(x, catchall, value, depth);
	}
	return -1;
}

static enum lookup_result lookup(struct directory *, const char *,
		    struct lookup *, int);

/*
 * A bounce to one of our SRS addresses (RFC-less, as postsrsd): back to
 * the address it stands for, if its hash and age are good. -1 if it is
 * no SRS address of ours.
 */
static int
srs_back(struct directory *dir, const struct mailaddr *a,
    const char *address, struct lookup *l, int depth,
    enum lookup_result *res)
{
	struct srs	 srs;
	const char	*errstr;
	char		 orig[ADDR_MAX_TEXT];

	if (dir->srs_domain[0] == '\0' || depth > 0 ||
	    strcasecmp(a->domain, dir->srs_domain) != 0 ||
	    (strncasecmp(a->local, "SRS0=", 5) != 0 &&
	    strncasecmp(a->local, "SRS1=", 5) != 0))
		return -1;
	srs.secret = dir->srs_secret;
	srs.secretlen = dir->srs_secretlen;
	srs.domain = dir->srs_domain;
	switch (srs_reverse(&srs, address, time(NULL), orig, sizeof(orig),
	    &errstr)) {
	case 1:
		*res = lookup(dir, orig, l, depth + 1);
		if (*res == LOOKUP_NOTLOCAL) {
			/* The usual case: the sender was elsewhere. */
			struct expansion	 x;

			memset(&x, 0, sizeof(x));
			x.l = l;
			(void)add_dest(&x, DEST_RELAY, orig, "", 0, 0);
			*res = LOOKUP_OK;
		}
		return 0;
	case 0:
		return -1;
	default:
		l->error = errstr;
		*res = LOOKUP_NOTFOUND;
		return 0;
	}
}

enum lookup_result
lookup_rcpt(struct directory *dir, const char *address, struct lookup *l)
{
	return lookup(dir, address, l, 0);
}

static enum lookup_result
lookup(struct directory *dir, const char *address, struct lookup *l,
    int depth)
{
	struct expansion	 x;
	struct mailaddr		 a;
	struct domain		*d;
	const char		*errstr;
	char			 canon[ADDR_MAX_DOMAIN + 1];
	enum table_found	 f;
	enum lookup_result	 res;
	int			 rc;

	l->ndests = 0;
	l->error = NULL;
	if (addr_parse_mailbox(address, ADDR_UTF8, &a, &errstr) == -1) {
		l->error = errstr;
		return LOOKUP_NOTFOUND;
	}
	if (srs_back(dir, &a, address, l, depth, &res) == 0)
		return res;
	f = dir_domain(dir, a.domain, &d, canon, sizeof(canon));
	if (f == TABLE_TEMPFAIL) {
		l->error = "the directory cannot answer now";
		return LOOKUP_TEMPFAIL;
	}
	if (f == TABLE_NOTFOUND)
		return LOOKUP_NOTLOCAL;

	memset(&x, 0, sizeof(x));
	x.dir = dir;
	x.l = l;
	x.seen = xcalloc(LOOKUP_MAX_SEEN, sizeof(*x.seen));
	rc = expand(&x, address, 0);
	free(x.seen);
	if (x.tempfail) {
		l->error = "the directory cannot answer now";
		return LOOKUP_TEMPFAIL;
	}
	if (x.loop || (x.looped && l->ndests == 0)) {
		l->error = "aliases nest too deep or loop";
		return LOOKUP_LOOP;
	}
	if (x.toomany) {
		l->error = "the address expands to too many recipients";
		return LOOKUP_TOOMANY;
	}
	if (rc == -1 || l->ndests == 0) {
		l->ndests = 0;
		l->error = "no such user here";
		return LOOKUP_NOTFOUND;
	}
	return LOOKUP_OK;
}
