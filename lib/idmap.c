/*
 * A map from 64-bit ids to pointers: chained buckets, doubled when the
 * load passes one entry per bucket.
 */
#include <stdlib.h>

#include "idmap.h"
#include "util.h"

struct idmap_entry {
	struct idmap_entry	*next;
	uint64_t		 id;
	void			*ptr;
};

static size_t
idmap_hash(uint64_t id, size_t n)
{
	/* Ids may be sequential or random; mix either way. */
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)(id & (n - 1));
}

void
idmap_init(struct idmap *m)
{
	m->nbuckets = 64;
	m->buckets = xcalloc(m->nbuckets, sizeof(struct idmap_entry *));
	m->count = 0;
}

void
idmap_clear(struct idmap *m)
{
	struct idmap_entry	*e, *next;
	size_t			 i;

	for (i = 0; i < m->nbuckets; i++)
		for (e = m->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = 0;
	m->count = 0;
}

static void
idmap_grow(struct idmap *m)
{
	struct idmap_entry	**nb, *e, *next;
	size_t			  n = m->nbuckets * 2, i, h;

	nb = xcalloc(n, sizeof(struct idmap_entry *));
	for (i = 0; i < m->nbuckets; i++)
		for (e = m->buckets[i]; e != NULL; e = next) {
			next = e->next;
			h = idmap_hash(e->id, n);
			e->next = nb[h];
			nb[h] = e;
		}
	free(m->buckets);
	m->buckets = nb;
	m->nbuckets = n;
}

int
idmap_put(struct idmap *m, uint64_t id, void *ptr)
{
	struct idmap_entry	*e;
	size_t			 h;

	if (idmap_get(m, id) != NULL)
		return -1;
	if (m->count >= m->nbuckets)
		idmap_grow(m);
	h = idmap_hash(id, m->nbuckets);
	e = xmalloc(sizeof(*e));
	e->id = id;
	e->ptr = ptr;
	e->next = m->buckets[h];
	m->buckets[h] = e;
	m->count++;
	return 0;
}

void *
idmap_get(const struct idmap *m, uint64_t id)
{
	struct idmap_entry	*e;

	for (e = m->buckets[idmap_hash(id, m->nbuckets)]; e != NULL;
	    e = e->next)
		if (e->id == id)
			return e->ptr;
	return NULL;
}

void *
idmap_del(struct idmap *m, uint64_t id)
{
	struct idmap_entry	**ep, *e;
	void			 *ptr;

	for (ep = &m->buckets[idmap_hash(id, m->nbuckets)]; *ep != NULL;
	    ep = &(*ep)->next)
		if ((*ep)->id == id) {
			e = *ep;
			*ep = e->next;
			ptr = e->ptr;
			free(e);
			m->count--;
			return ptr;
		}
	return NULL;
}

void *
idmap_any(const struct idmap *m, uint64_t *id)
{
	size_t	 i;

	for (i = 0; i < m->nbuckets; i++)
		if (m->buckets[i] != NULL) {
			if (id != NULL)
				*id = m->buckets[i]->id;
			return m->buckets[i]->ptr;
		}
	return NULL;
}
