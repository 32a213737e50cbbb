/*
 * The directory as authd sees it at one moment: its tables and domains.
 * A reload builds a new one; jobs running on worker threads keep the one
 * they started with (a reference), so no table goes away under them.
 * References are taken and dropped on the event loop only.
 */
#ifndef AUTHD_DIR_H
#define AUTHD_DIR_H

#include <sys/queue.h>
#include <stdint.h>

#include "addr.h"
#include "maildir.h"
#include "table.h"
#include "userent.h"

#define DIR_MAX_ALIAS_DOMAINS	4	/* alias domain of an alias domain */

struct domain {
	TAILQ_ENTRY(domain)	 entry;
	/* "*": every domain the users table's domain query knows */
	char			 name[ADDR_MAX_DOMAIN + 1];
	struct table		*users;		/* NULL: none */
	struct table		*aliases;	/* NULL: none */
};
TAILQ_HEAD(domain_list, domain);
TAILQ_HEAD(table_list, table);

struct directory {
	int			 refs;
	struct table_list	 tables;
	struct domain_list	 domains;
	/* SRS: bounces to srs_domain's SRS addresses go back ("" off) */
	char			 srs_domain[256];
	unsigned char		 srs_secret[256];
	size_t			 srs_secretlen;
};

struct directory *dir_new(void);
void		 dir_ref(struct directory *);
void		 dir_unref(struct directory *);
struct table	*dir_table(struct directory *, const char *);

/*
 * The domain serving name: a configured domain, else one a "domains"
 * table knows, following alias domains; canon gets the real domain's
 * name. May query a database (worker threads only).
 */
enum table_found dir_domain(struct directory *, const char *name,
		    struct domain **, char *canon, size_t);

/* A user's record, by address (any case). */
enum table_found dir_user(struct directory *, const char *address,
		    struct userent *);

#endif
