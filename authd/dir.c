/*
 * The directory: domains, users, and the tables behind them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir.h"
#include "log.h"
#include "util.h"

struct directory *
dir_new(void)
{
	struct directory	*d = xcalloc(1, sizeof(*d));

	d->refs = 1;
	TAILQ_INIT(&d->tables);
	TAILQ_INIT(&d->domains);
	return d;
}

void
dir_ref(struct directory *d)
{
	d->refs++;
}

void
dir_unref(struct directory *d)
{
	struct domain	*dom;
	struct table	*t;

	if (d == NULL || --d->refs > 0)
		return;
	while ((dom = TAILQ_FIRST(&d->domains)) != NULL) {
		TAILQ_REMOVE(&d->domains, dom, entry);
		free(dom);
	}
	while ((t = TAILQ_FIRST(&d->tables)) != NULL) {
		TAILQ_REMOVE(&d->tables, t, entry);
		table_free(t);
	}
	explicit_wipe(d->srs_secret, sizeof(d->srs_secret));
	free(d);
}

struct table *
dir_table(struct directory *d, const char *name)
{
	struct table	*t;

	TAILQ_FOREACH(t, &d->tables, entry)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

enum table_found
dir_domain(struct directory *dir, const char *name, struct domain **dp,
    char *canon, size_t canonsize)
{
	struct domain		*d;
	enum table_found	 f, result = TABLE_NOTFOUND;
	char			 cur[ADDR_MAX_DOMAIN + 1];
	char			 target[ADDR_MAX_DOMAIN + 1];
	int			 hops;

	(void)osms_strlcpy(cur, name, sizeof(cur));
	for (hops = 0; hops <= DIR_MAX_ALIAS_DOMAINS; hops++) {
		TAILQ_FOREACH(d, &dir->domains, entry)
			if (strcasecmp(d->name, cur) == 0)
				goto found;
		/* The databases that list their domains. */
		target[0] = '\0';
		TAILQ_FOREACH(d, &dir->domains, entry) {
			if (strcmp(d->name, "*") != 0 || d->users == NULL)
				continue;
			f = table_get(d->users, TQ_DOMAIN, cur, target,
			    sizeof(target));
			if (f == TABLE_FOUND)
				break;
			if (f == TABLE_TEMPFAIL)
				result = TABLE_TEMPFAIL;
		}
		if (d == NULL) {
			if (hops > 0 && result == TABLE_NOTFOUND)
				log_warnx("directory: domain %s is an alias of"
				    " %s, which is not local", name, cur);
			return result;
		}
		if (target[0] == '\0')
			goto found;
		/* An alias domain: the same users, in the target domain. */
		if (!addr_domain_valid(target, 1)) {
			log_warnx("directory: domain %s is an alias of an"
			    " invalid domain", cur);
			return TABLE_TEMPFAIL;
		}
		(void)osms_strlcpy(cur, target, sizeof(cur));
	}
	log_warnx("directory: alias domains of %s nest too deep", name);
	return TABLE_TEMPFAIL;
found:
	*dp = d;
	(void)osms_strlcpy(canon, cur, canonsize);
	for (; *canon; canon++)
		*canon = (char)tolower((unsigned char)*canon);
	return TABLE_FOUND;
}

enum table_found
dir_user(struct directory *dir, const char *address, struct userent *u)
{
	struct mailaddr		 a;
	struct domain		*d;
	const char		*errstr;
	char			 key[ADDR_MAX_TEXT], canon[ADDR_MAX_DOMAIN + 1];
	char			 value[TABLE_MAX_VALUE], *p;
	enum table_found	 f;

	if (addr_parse_mailbox(address, ADDR_UTF8, &a, &errstr) == -1)
		return TABLE_NOTFOUND;
	if ((f = dir_domain(dir, a.domain, &d, canon, sizeof(canon))) !=
	    TABLE_FOUND)
		return f;
	if (d->users == NULL)
		return TABLE_NOTFOUND;
	(void)osms_strlcpy(a.domain, canon, sizeof(a.domain));
	for (p = a.local; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (addr_format(&a, key, sizeof(key)) == -1)
		return TABLE_NOTFOUND;
	f = table_get(d->users, TQ_USER, key, value, sizeof(value));
	if (f != TABLE_FOUND)
		return f;
	if (userent_parse(a.local, a.domain, value, u) == -1) {
		log_warnx("directory: the entry of %s is not valid; refusing"
		    " it until it is fixed", key);
		return TABLE_TEMPFAIL;
	}
	return TABLE_FOUND;
}
