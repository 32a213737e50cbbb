/*
 * PostgreSQL tables: the directory in a database, read and changed with
 * the SQL of the table's "query" lines (lib/mail/conf.h has the contract
 * of each query), or osms's own schema (sql/schema.sql) by default.
 *
 * Calls block on the network, so they are made on authd's worker threads
 * only, never on an event loop. Each thread keeps its own connections, so
 * nothing here takes a lock and the worker threads are the pool.
 */
#ifndef AUTHD_TABLE_PG_H
#define AUTHD_TABLE_PG_H

#include <stddef.h>

#include "conf.h"
#include "table.h"

struct pgtable;

/*
 * A table named name (for logs) on the database of conninfo (a libpq
 * connection string or URI); queries[i] is the SQL of query i, or "" for
 * the default of osms's schema. Nothing is connected yet: the first
 * lookup on each thread connects. NULL (and logged, without the
 * conninfo) if the conninfo does not parse; pgtable_get() and
 * pgtable_exec() take that NULL and fail temporarily. queries may be
 * NULL for all the defaults.
 */
struct pgtable	*pgtable_new(const char *name, const char *conninfo,
		    char queries[TQ_COUNT][CONF_MAX_QUERY]);

/*
 * Free the table, once no thread uses it any more. Connections are not
 * the table's: they stay in each worker's cache, keyed by conninfo, for
 * the next generation of the table, until that worker calls
 * pgtable_thread_cleanup().
 */
void		 pgtable_free(struct pgtable *);

/*
 * On a worker thread: run the domain, user, alias or crypt-policy query
 * for key (ASCII lower-cased) and write the value text, as a line of a
 * file table has it after the key, into buf:
 *	domain	"" for a local domain, the target domain for an alias one
 *	user	"HASH [maildir=PATH] [quota=BYTES] [quota_messages=N]
 *		[scram=SECRET] [services=LIST]": HASH "-" if empty; LIST
 *		of smtp,imap,pop3, or "none", and only if the query has a
 *		column smtp, imap or pop3 (absent or NULL: allowed)
 *	alias	the first column of every row, joined with ", "
 *	crypt-policy	the column policy (else the first)
 * TABLE_NOTFOUND if no row (or a key no address can be: control bytes,
 * bad UTF-8). TABLE_TEMPFAIL if the database cannot answer (connection
 * or query failure, timeout) or the answer is refused: too long for
 * size, a control byte, bad UTF-8, a maildir that is absolute or holds
 * "..", more than one user or domain row.
 */
enum table_found pgtable_get(struct pgtable *, enum table_query,
		    const char *key, char *buf, size_t size);

/*
 * On a worker thread: run an admin query (TQ_DOMAIN_ADD ... TQ_ALIAS_LIST)
 * with nparams text parameters, as conf.h says for each. row (may be
 * NULL) gets each result row, its columns (NULL as "") joined with '\t'.
 * Returns the number of rows changed or returned, or -1 with a message
 * for the administrator in err.
 */
long		 pgtable_exec(struct pgtable *, enum table_query,
		    const char *const *params, int nparams,
		    void (*row)(void *, const char *), void *arg, char *err,
		    size_t errsize);

/*
 * Close the calling thread's connections. A worker calls it when a table
 * generation is gone (after pgtable_free() of the old tables) and before
 * it exits; the next lookup connects again.
 */
void		 pgtable_thread_cleanup(void);

#endif
