/*
 * Tables: the file backend. The parent opens the file as root and
 * passes the descriptor, so authd needs no access to it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "table.h"
#include "table_pg.h"
#include "util.h"

struct table_entry {
	struct table_entry	*next;
	char			*key;
	char			*value;
};

static size_t
table_hash(const char *key, size_t n)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *key; key++) {
		h ^= (unsigned char)tolower((unsigned char)*key);
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h & (n - 1));
}

static void
table_grow(struct table *t)
{
	struct table_entry	**nb, *e, *next;
	size_t			  n = t->nbuckets ? t->nbuckets * 2 : 64, i, h;

	nb = xcalloc(n, sizeof(struct table_entry *));
	for (i = 0; i < t->nbuckets; i++)
		for (e = t->buckets[i]; e != NULL; e = next) {
			next = e->next;
			h = table_hash(e->key, n);
			e->next = nb[h];
			nb[h] = e;
		}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

static struct table_entry *
table_find(const struct table *t, const char *key)
{
	struct table_entry	*e;

	if (t->nbuckets == 0)
		return NULL;
	for (e = t->buckets[table_hash(key, t->nbuckets)]; e != NULL;
	    e = e->next)
		if (strcasecmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* One line: 0 ok (or blank), -1 bad. */
static int
table_line(struct table *t, char *line, size_t lineno)
{
	struct table_entry	*e;
	char			*key, *value, *end;
	size_t			 klen;

	/* A comment is a whole line: values (hashes) may hold '#'. */
	key = line + strspn(line, " \t");
	if (*key == '\0' || *key == '#')
		return 0;
	klen = strcspn(key, " \t");
	value = key + klen;
	if (*value != '\0')
		*value++ = '\0';
	if (klen > 1 && key[klen - 1] == ':')
		key[--klen] = '\0';
	value += strspn(value, " \t");
	end = value + strlen(value);
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (klen == 0 || str_has_ctl(key) || str_has_ctl(value))
		return -1;
	if (table_find(t, key) != NULL) {
		log_warnx("table %s: %s line %zu: %s repeated; keeping the"
		    " first", t->name, t->source, lineno, key);
		return 0;
	}
	if (t->count >= t->nbuckets)
		table_grow(t);
	e = xmalloc(sizeof(*e));
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	e->next = t->buckets[table_hash(key, t->nbuckets)];
	t->buckets[table_hash(key, t->nbuckets)] = e;
	t->count++;
	return 0;
}

struct table *
table_pg_new(const char *name, const char *conninfo,
    char queries[TQ_COUNT][CONF_MAX_QUERY])
{
	struct table	*t = xcalloc(1, sizeof(*t));

	(void)osms_strlcpy(t->name, name, sizeof(t->name));
	(void)osms_strlcpy(t->source, "postgres", sizeof(t->source));
	t->backend = TABLE_POSTGRES;
	t->pg = pgtable_new(name, conninfo, queries);
	t->loaded = t->pg != NULL;	/* else every lookup fails for now */
	return t;
}

struct table *
table_file_load(int fd, const char *name, const char *path)
{
	struct table	*t = xcalloc(1, sizeof(*t));
	char		*buf, *line, *next;
	size_t		 len = 0, cap = 65536, lineno = 0;
	ssize_t		 n;

	(void)osms_strlcpy(t->name, name, sizeof(t->name));
	(void)osms_strlcpy(t->source, path, sizeof(t->source));
	buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= TABLE_MAX_FILE) {
				log_warnx("table %s: %s is larger than %d"
				    " bytes", name, path, TABLE_MAX_FILE);
				goto fail;
			}
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("table %s: %s", name, path);
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		log_warnx("table %s: %s holds a NUL byte", name, path);
		goto fail;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strlen(line) > 0 && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (strlen(line) >= TABLE_MAX_LINE ||
		    table_line(t, line, lineno) == -1)
			log_warnx("table %s: %s line %zu is not valid;"
			    " skipped", name, path, lineno);
	}
	t->loaded = 1;
	free(buf);
	(void)close(fd);
	log_debug("table %s: %zu entries from %s", name, t->count, path);
	return t;
fail:
	free(buf);
	(void)close(fd);
	return t;	/* loaded == 0: every lookup fails temporarily */
}

void
table_free(struct table *t)
{
	struct table_entry	*e, *next;
	size_t			 i;

	if (t == NULL)
		return;
	if (t->pg != NULL)
		pgtable_free(t->pg);
	for (i = 0; i < t->nbuckets; i++)
		for (e = t->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e->key);
			free(e->value);
			free(e);
		}
	free(t->buckets);
	free(t);
}

enum table_found
table_lookup(const struct table *t, const char *key, char *buf, size_t size)
{
	struct table_entry	*e;

	if (!t->loaded)
		return TABLE_TEMPFAIL;
	if ((e = table_find(t, key)) == NULL)
		return TABLE_NOTFOUND;
	if (osms_strlcpy(buf, e->value, size) >= size)
		return TABLE_TEMPFAIL;
	return TABLE_FOUND;
}

enum table_found
table_get(struct table *t, enum table_query kind, const char *key,
    char *buf, size_t size)
{
	if (t->backend == TABLE_POSTGRES)
		return pgtable_get(t->pg, kind, key, buf, size);
	/* A file table is one map: its use decides the kind. */
	return table_lookup(t, key, buf, size);
}

char **
table_keys(const struct table *t, size_t *np)
{
	struct table_entry	*e;
	char			**keys;
	size_t			 i, n = 0;

	*np = 0;
	if (t->count == 0)
		return NULL;
	keys = xcalloc(t->count, sizeof(*keys));
	for (i = 0; i < t->nbuckets; i++)
		for (e = t->buckets[i]; e != NULL; e = e->next)
			keys[n++] = xstrdup(e->key);
	*np = n;
	return keys;
}
