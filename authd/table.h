/*
 * Tables: the directory's data (users, aliases) behind one interface.
 * The file backend is here; the PostgreSQL backend comes with the
 * directory issue.
 */
#ifndef AUTHD_TABLE_H
#define AUTHD_TABLE_H

#include <sys/queue.h>
#include <stddef.h>

#define TABLE_MAX_LINE		4096
#define TABLE_MAX_FILE		(64 * 1024 * 1024)
#define TABLE_MAX_VALUE		TABLE_MAX_LINE

enum table_found {
	TABLE_FOUND,
	TABLE_NOTFOUND,
	TABLE_TEMPFAIL,		/* the backend cannot answer now */
};

struct table_entry;

struct table {
	TAILQ_ENTRY(table)	 entry;
	char			 name[256];
	char			 source[1024];	/* for logs */
	/* file backend: a hash of lower-cased keys */
	struct table_entry	**buckets;
	size_t			 nbuckets;
	size_t			 count;
	int			 loaded;	/* 0: failed to load */
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
void		 table_free(struct table *);
/* Copy the value of key into buf. */
enum table_found table_lookup(const struct table *, const char *key,
		    char *buf, size_t size);

#endif
