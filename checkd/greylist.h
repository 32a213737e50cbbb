/*
 * Greylisting (RFC 6647), as Postgrey does it: the first attempt of a
 * (client network, sender, recipient) triplet is deferred; a retry
 * after the delay, and within the retry window, passes, and so does
 * every later message of the triplet while it keeps coming. A client
 * network whose retries passed often enough passes at once (the
 * auto-whitelist).
 *
 * The state is a table in memory and a journal file beside it, read
 * again at start-up: a line per change, the latest line of a key
 * winning; it is rewritten (new file, fsync, rename) without what
 * expired once it holds twice what is live. Triplets are kept as keyed
 * hashes (a secret salt in the file's first line): the file holds no
 * address, and a sender cannot aim at another triplet's slot.
 */
#ifndef OSMS_GREYLIST_H
#define OSMS_GREYLIST_H

#include <stddef.h>
#include <time.h>

#define GREY_RETRY_WINDOW	(2 * 86400)	/* a first attempt waits */
#define GREY_LIFETIME		(35 * 86400)	/* a passed triplet stays */
#define GREY_AWL_PASSES		5		/* retries that whitelist */
#define GREY_MAX_ENTRIES	(256 * 1024)	/* 40 bytes each, twice */

struct greylist;

/* The journal at path (made if missing): NULL and err on failure. */
struct greylist	*greylist_open(const char *path, char *err, size_t errsize);
void		 greylist_close(struct greylist *);

/*
 * A triplet's attempt at now: 0 if it passes, else the seconds left of
 * its delay (at least 1). net is the client's network ("192.0.2.0/24",
 * "2001:db8::/64"), sender and recipient lower-case addresses.
 */
unsigned	 greylist_check(struct greylist *, const char *net,
		    const char *sender, const char *rcpt, unsigned delay,
		    time_t now);

/* Live entries, and a rewrite of the journal without expired ones. */
size_t		 greylist_size(const struct greylist *);
int		 greylist_compact(struct greylist *, time_t now);

/*
 * The keys of a triplet and of its network in the directory's database
 * (sql/migrations/004-greylist.sql): "T" or "C" and 32 hex digits.
 */
#define GREY_DB_KEY	34
void		 greylist_db_keys(const char *net, const char *sender,
		    const char *rcpt, char tkey[GREY_DB_KEY],
		    char ckey[GREY_DB_KEY]);

/* The client's network as greylisting sees it: an IPv4 /24, an IPv6
 * /64 (a client may come from any address of it). */
void		 greylist_net(const char *ip, char *out, size_t size);

#endif
