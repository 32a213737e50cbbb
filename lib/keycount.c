/*
 * Counts per key: a hash of chains, and a list by age for eviction.
 */
#include <sys/queue.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "keycount.h"
#include "log.h"
#include "util.h"

struct kc_entry {
	struct kc_entry		*next;		/* same hash */
	TAILQ_ENTRY(kc_entry)	 age;		/* idle longest first */
	char			*key;
	unsigned		 count;
	time_t			 first;
	time_t			 last;
};

struct keycount {
	struct idmap		 chains;	/* hash -> first entry */
	TAILQ_HEAD(, kc_entry)	 by_age;
	size_t			 n;
	size_t			 max;
	time_t			 window;
	enum keycount_window	 mode;
	uint64_t		 seed;
};

struct keycount *
keycount_new(size_t max_keys, time_t window, enum keycount_window mode)
{
	struct keycount	*kc = xcalloc(1, sizeof(*kc));

	idmap_init(&kc->chains);
	TAILQ_INIT(&kc->by_age);
	kc->max = max_keys > 0 ? max_keys : 1;
	kc->window = window;
	kc->mode = mode;
	arc4random_buf(&kc->seed, sizeof(kc->seed));
	return kc;
}

/* FNV-1a from the secret seed. */
static uint64_t
kc_hash(const struct keycount *kc, const char *key)
{
	uint64_t	 h = kc->seed;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
kc_set_chain(struct keycount *kc, uint64_t id, struct kc_entry *e)
{
	(void)idmap_del(&kc->chains, id);
	if (e != NULL && idmap_put(&kc->chains, id, e) == -1)
		fatalx("keycount: idmap_put");
}

/* Unlink e (under id, after prev in its chain) and free it. */
static void
kc_drop(struct keycount *kc, uint64_t id, struct kc_entry *prev,
    struct kc_entry *e)
{
	if (prev != NULL)
		prev->next = e->next;
	else
		kc_set_chain(kc, id, e->next);
	TAILQ_REMOVE(&kc->by_age, e, age);
	free(e->key);
	free(e);
	kc->n--;
}

static int
kc_expired(const struct keycount *kc, const struct kc_entry *e, time_t now)
{
	time_t	 since = kc->mode == KEYCOUNT_SINCE_FIRST ? e->first : e->last;

	return now - since >= kc->window;
}

/* The live entry of key, NULL if none; expired ones met are dropped. */
static struct kc_entry *
kc_find(struct keycount *kc, const char *key, time_t now)
{
	struct kc_entry	*e, *prev = NULL, *next;
	uint64_t	 id = kc_hash(kc, key);

	for (e = idmap_get(&kc->chains, id); e != NULL; e = next) {
		next = e->next;
		if (kc_expired(kc, e, now)) {
			kc_drop(kc, id, prev, e);
			continue;
		}
		if (strcmp(e->key, key) == 0)
			return e;
		prev = e;
	}
	return NULL;
}

static void
kc_remove(struct keycount *kc, struct kc_entry *target)
{
	struct kc_entry	*e, *prev = NULL;
	uint64_t	 id = kc_hash(kc, target->key);

	for (e = idmap_get(&kc->chains, id); e != NULL && e != target;
	    e = e->next)
		prev = e;
	if (e != NULL)
		kc_drop(kc, id, prev, e);
}

unsigned
keycount_get(struct keycount *kc, const char *key, time_t now)
{
	struct kc_entry	*e = kc_find(kc, key, now);

	return e != NULL ? e->count : 0;
}

unsigned
keycount_add(struct keycount *kc, const char *key, time_t now)
{
	struct kc_entry	*e;
	uint64_t	 id;

	if ((e = kc_find(kc, key, now)) == NULL) {
		if (kc->n >= kc->max)
			kc_remove(kc, TAILQ_FIRST(&kc->by_age));
		id = kc_hash(kc, key);
		e = xcalloc(1, sizeof(*e));
		e->key = xstrdup(key);
		e->first = now;
		e->next = idmap_get(&kc->chains, id);
		kc_set_chain(kc, id, e);
		kc->n++;
	} else
		TAILQ_REMOVE(&kc->by_age, e, age);
	TAILQ_INSERT_TAIL(&kc->by_age, e, age);
	e->last = now;
	if (e->count < UINT32_MAX)
		e->count++;
	return e->count;
}

void
keycount_del(struct keycount *kc, const char *key)
{
	struct kc_entry	*e, *prev = NULL;
	uint64_t	 id = kc_hash(kc, key);

	for (e = idmap_get(&kc->chains, id); e != NULL; prev = e, e = e->next)
		if (strcmp(e->key, key) == 0) {
			kc_drop(kc, id, prev, e);
			return;
		}
}

size_t
keycount_size(const struct keycount *kc)
{
	return kc->n;
}

void
keycount_free(struct keycount *kc)
{
	struct kc_entry	*e;

	if (kc == NULL)
		return;
	while ((e = TAILQ_FIRST(&kc->by_age)) != NULL)
		kc_remove(kc, e);
	idmap_clear(&kc->chains);
	free(kc);
}
