/*
 * Tables: the directory's data (users, aliases) behind one interface.
 * The file backend is here; the PostgreSQL backend is table_pg.c.
 */
#ifndef AUTHD_TABLE_H
#define AUTHD_TABLE_H

#include <sys/queue.h>
#include <stddef.h>

#include "conf.h"

#define TABLE_MAX_LINE		4096
#define TABLE_MAX_FILE		(64 * 1024 * 1024)
#define TABLE_MAX_VALUE		TABLE_MAX_LINE

enum table_found {
	TABLE_FOUND,
	TABLE_NOTFOUND,
	TABLE_TEMPFAIL,		/* the backend cannot answer now */
};

struct table_entry;
struct pgtable;

struct table {
	TAILQ_ENTRY(table)	 entry;
	char			 name[256];
	char			 source[1024];	/* for logs; never a conninfo */
	enum table_backend	 backend;
	/* file backend: a hash of lower-cased keys */
	struct table_entry	**buckets;
	size_t			 nbuckets;
	size_t			 count;
	int			 loaded;	/* 0: failed to load */
	/* postgres backend */
	struct pgtable		*pg;
};

/*
 * A file table: lines "key value...", blank lines, and comment lines
 * starting with '#' (not mid-line: values such as hashes may hold it). The key
 * is the first word (a trailing ':' is dropped) and is matched without
 * regard to ASCII case; the value is the rest of the line, trimmed.
 * Reads the whole file from fd (closed here). A bad line is logged with
 * its number and skipped; so is a repeated key (the first one stays).
 */
struct table	*table_file_load(int fd, const char *name, const char *path);
/* A PostgreSQL table: nothing connects until a worker asks. */
struct table	*table_pg_new(const char *name, const char *conninfo,
		    char queries[TQ_COUNT][CONF_MAX_QUERY]);
void		 table_free(struct table *);
/* The keys of a file table, copied (free each and the array). */
char		**table_keys(const struct table *, size_t *);
/* Copy the value of key into buf (file backend). */
enum table_found table_lookup(const struct table *, const char *key,
		    char *buf, size_t size);
/*
 * The value for key of a kind (TQ_DOMAIN, TQ_USER, TQ_ALIAS), from either
 * backend, as the text of a file table's line. May block on a database:
 * call it on a worker thread.
 */
enum table_found table_get(struct table *, enum table_query,
		    const char *key, char *buf, size_t size);

#endif
