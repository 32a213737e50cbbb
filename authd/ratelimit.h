/*
 * Failed authentications, counted per key (a client address, an
 * account): each failure makes the next answer wait longer, and past the
 * limit a key is "blocked" for the window; the caller decides what a
 * blocked key means. At most RL_MAX_KEYS keys; the one idle longest goes
 * first. Event loop only.
 */
#ifndef AUTHD_RATELIMIT_H
#define AUTHD_RATELIMIT_H

#include <time.h>

#define RL_WINDOW	(15 * 60)	/* after the last failure: forgotten */
#define RL_MAX_KEYS	100000

void		 rl_init(unsigned max_failures);
/* 1 if the key is throttled now. */
int		 rl_blocked(const char *key, time_t now);
/* Count a failure; the delay in milliseconds before answering it. */
unsigned	 rl_failure(const char *key, time_t now);
/* A success forgets the key's failures. */
void		 rl_success(const char *key);
unsigned	 rl_failures(const char *key, time_t now);

#endif
