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

#include "envelope.h"
#include "log.h"
#include "lookup.h"
#include "util.h"

#define LOOKUP_MAX_SEEN	(4 * LOOKUP_MAX_DESTS)

struct expansion {
	const struct domain_list *domains;
	struct lookup		*l;
	char			(*seen)[ADDR_MAX_TEXT];
	size_t			 nseen;
	int			 tempfail;
	int			 loop;
	int			 looped;	/* met an address twice */
	int			 toomany;
};

static const struct domain *
domain_find(const struct domain_list *domains, const char *name)
{
	const struct domain	*d;

	TAILQ_FOREACH(d, domains, entry)
		if (strcasecmp(d->name, name) == 0)
			return d;
	return NULL;
}

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* "10M", "500K", "12345" into bytes; 0 on nonsense. */
static uint64_t
parse_quota(const char *s)
{
	const char	*errstr;
	char		 num[32];
	uint64_t	 mult = 1;
	size_t		 len = strlen(s);

	if (len == 0 || len >= sizeof(num))
		return 0;
	(void)osms_strlcpy(num, s, sizeof(num));
	switch (num[len - 1]) {
	case 'K': case 'k': mult = 1024ULL; break;
	case 'M': case 'm': mult = 1024ULL * 1024; break;
	case 'G': case 'g': mult = 1024ULL * 1024 * 1024; break;
	default: break;
	}
	if (mult != 1)
		num[len - 1] = '\0';
	return (uint64_t)str_to_num(num, 0, (long long)(UINT64_MAX >> 32),
	    &errstr) * mult;
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
	d = &l->dests[l->ndests++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	(void)osms_strlcpy(d->address, address, sizeof(d->address));
	(void)osms_strlcpy(d->mailbox, mailbox, sizeof(d->mailbox));
	d->quota_bytes = qbytes;
	d->quota_messages = qmsgs;
	return 0;
}

/* A user's entry: "{SCHEME}hash [maildir=path] [quota=size]". */
static int
user_dest(struct expansion *x, const struct mailaddr *a, const char *key,
    const char *value)
{
	char		 buf[TABLE_MAX_VALUE], mailbox[MAILDIR_MAX_PATH];
	char		*word, *last = NULL;
	uint64_t	 qbytes = 0, qmsgs = 0;

	(void)osms_snprintf(mailbox, sizeof(mailbox), "%s/%s", a->domain,
	    a->local);
	lower(mailbox);
	(void)osms_strlcpy(buf, value, sizeof(buf));
	for (word = strtok_r(buf, " \t", &last); word != NULL;
	    word = strtok_r(NULL, " \t", &last)) {
		if (strncmp(word, "maildir=", 8) == 0)
			(void)osms_strlcpy(mailbox, word + 8,
			    sizeof(mailbox));
		else if (strncmp(word, "quota=", 6) == 0)
			qbytes = parse_quota(word + 6);
		else if (strncmp(word, "quota_messages=", 15) == 0)
			qmsgs = parse_quota(word + 15);
	}
	if (!maildir_path_valid(mailbox)) {
		log_warnx("lookup: %s has an invalid Maildir path; refusing"
		    " to deliver until the directory is fixed", key);
		x->tempfail = 1;
		return -1;
	}
	return add_dest(x, DEST_MAILBOX, key, mailbox, qbytes, qmsgs);
}

static int	expand(struct expansion *, const char *, int);

/* The user's own Maildir, aliases aside ("alice: alice, bob" keeps a
 * copy for alice). */
static int
own_mailbox(struct expansion *x, const char *key)
{
	const struct domain	*d;
	struct mailaddr		 a;
	const char		*errstr;
	char			 value[TABLE_MAX_VALUE];
	enum table_found	 f;

	if (addr_parse_mailbox(key, ADDR_UTF8, &a, &errstr) == -1 ||
	    (d = domain_find(x->domains, a.domain)) == NULL ||
	    d->users == NULL)
		return -1;
	f = table_lookup(d->users, key, value, sizeof(value));
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
	const struct domain	*d;
	struct mailaddr		 a;
	const char		*errstr;
	char			 key[ADDR_MAX_TEXT], value[TABLE_MAX_VALUE];
	char			 catchall[ADDR_MAX_DOMAIN + 2];
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

	if ((d = domain_find(x->domains, a.domain)) == NULL)
		return add_dest(x, DEST_RELAY, key, "", 0, 0);

	if (d->aliases != NULL) {
		f = table_lookup(d->aliases, key, value, sizeof(value));
		if (f == TABLE_TEMPFAIL) {
			x->tempfail = 1;
			return -1;
		}
		if (f == TABLE_FOUND)
			return expand_targets(x, key, value, depth);
	}
	if (d->users != NULL) {
		f = table_lookup(d->users, key, value, sizeof(value));
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
		f = table_lookup(d->aliases, catchall, value, sizeof(value));
		if (f == TABLE_TEMPFAIL) {
			x->tempfail = 1;
			return -1;
		}
		if (f == TABLE_FOUND)
			return expand_targets(x, catchall, value, depth);
	}
	return -1;
}

enum lookup_result
lookup_rcpt(const struct domain_list *domains, const char *address,
    struct lookup *l)
{
	struct expansion	 x;
	struct mailaddr		 a;
	const char		*errstr;
	int			 rc;

	l->ndests = 0;
	l->error = NULL;
	if (addr_parse_mailbox(address, ADDR_UTF8, &a, &errstr) == -1) {
		l->error = errstr;
		return LOOKUP_NOTFOUND;
	}
	if (domain_find(domains, a.domain) == NULL)
		return LOOKUP_NOTLOCAL;

	memset(&x, 0, sizeof(x));
	x.domains = domains;
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
