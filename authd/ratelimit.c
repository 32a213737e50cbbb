/*
 * Failed authentications per key ("ip:192.0.2.1", "user:a@example.test"),
 * on a keycount map: forgotten RL_WINDOW after the last failure.
 */
#include <stdlib.h>

#include "keycount.h"
#include "ratelimit.h"

#define RL_DELAY_FIRST_MS	250
#define RL_DELAY_MAX_MS		8000

static struct keycount	*failures;
static unsigned		 max_failures = 10;

void
rl_init(unsigned max)
{
	if (failures == NULL)
		failures = keycount_new(RL_MAX_KEYS, RL_WINDOW,
		    KEYCOUNT_SINCE_LAST);
	max_failures = max > 0 ? max : 1;
}

int
rl_blocked(const char *key, time_t now)
{
	return keycount_get(failures, key, now) >= max_failures;
}

unsigned
rl_failures(const char *key, time_t now)
{
	return keycount_get(failures, key, now);
}

unsigned
rl_failure(const char *key, time_t now)
{
	unsigned	 n = keycount_add(failures, key, now), delay;

	for (delay = RL_DELAY_FIRST_MS; n > 1 && delay < RL_DELAY_MAX_MS; n--)
		delay *= 2;
	return delay < RL_DELAY_MAX_MS ? delay : RL_DELAY_MAX_MS;
}

void
rl_success(const char *key)
{
	keycount_del(failures, key);
}
