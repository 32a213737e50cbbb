/*
 * A map from 64-bit ids to pointers: sessions waiting for an answer
 * from another role are found again by the id the answer carries.
 */
#ifndef OSMS_IDMAP_H
#define OSMS_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_entry;

struct idmap {
	struct idmap_entry	**buckets;
	size_t			  nbuckets;
	size_t			  count;
};

void	 idmap_init(struct idmap *);
void	 idmap_clear(struct idmap *);
/* -1 if the id is already there. */
int	 idmap_put(struct idmap *, uint64_t, void *);
void	*idmap_get(const struct idmap *, uint64_t);
/* Remove and return; NULL if absent. */
void	*idmap_del(struct idmap *, uint64_t);
/* Some entry, to drain a map: its pointer (and id), NULL when empty. */
void	*idmap_any(const struct idmap *, uint64_t *);

#endif
