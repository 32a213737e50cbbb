/*
 * Counts per key (a client address, an account), in a window of time,
 * for rate limits. The map is bounded: past its size the key idle
 * longest is forgotten. Keys are hashed with a secret seed and chained,
 * so a client choosing keys can neither aim at another key's count nor
 * share one. Not thread-safe: one event loop owns a map.
 */
#ifndef OSMS_KEYCOUNT_H
#define OSMS_KEYCOUNT_H

#include <stddef.h>
#include <time.h>

/* When a key's count starts again from zero. */
enum keycount_window {
	KEYCOUNT_SINCE_LAST,	/* window seconds after its last event */
	KEYCOUNT_SINCE_FIRST,	/* window seconds after its first event */
};

struct keycount;

struct keycount	*keycount_new(size_t max_keys, time_t window,
		    enum keycount_window);
void		 keycount_free(struct keycount *);
/* The key's count now (0 if unknown or expired). */
unsigned	 keycount_get(struct keycount *, const char *key, time_t now);
/* Count one event; the new count. */
unsigned	 keycount_add(struct keycount *, const char *key, time_t now);
/* Forget the key. */
void		 keycount_del(struct keycount *, const char *key);
size_t		 keycount_size(const struct keycount *);

#endif
