/*
 * Failed-authentication counting (authd/ratelimit.c): delays, the limit,
 * the window, success, many keys.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ratelimit.h"
#include "test.h"

static void
test_delays(void)
{
	time_t		 now = 1000000;
	unsigned	 d, prev = 0;
	int		 i;

	test_begin("ratelimit: delays double up to a cap");
	rl_init(5);
	for (i = 0; i < 10; i++) {
		d = rl_failure("user:a@example.test", now);
		test_assert(d >= prev);
		test_assert(d > 0 && d <= 8000);
		prev = d;
	}
	test_assert(prev == 8000);
	test_assert(rl_failures("user:a@example.test", now) == 10);
	test_assert(rl_failures("user:b@example.test", now) == 0);
	test_end();
}

static void
test_limit(void)
{
	time_t	 now = 2000000;
	int	 i;

	test_begin("ratelimit: the limit, the window and success");
	rl_init(3);
	for (i = 0; i < 2; i++)
		(void)rl_failure("ip:192.0.2.1", now);
	test_assert(!rl_blocked("ip:192.0.2.1", now));
	(void)rl_failure("ip:192.0.2.1", now);
	test_assert(rl_blocked("ip:192.0.2.1", now));
	test_assert(!rl_blocked("ip:192.0.2.2", now));
	test_assert(rl_blocked("ip:192.0.2.1", now + RL_WINDOW - 1));
	test_assert(!rl_blocked("ip:192.0.2.1", now + RL_WINDOW));
	test_assert(rl_failures("ip:192.0.2.1", now + RL_WINDOW) == 0);
	for (i = 0; i < 3; i++)
		(void)rl_failure("ip:192.0.2.3", now);
	test_assert(rl_blocked("ip:192.0.2.3", now));
	rl_success("ip:192.0.2.3");
	test_assert(!rl_blocked("ip:192.0.2.3", now));
	rl_success("ip:never-seen");
	test_end();
}

static void
test_many(void)
{
	time_t	 now = 3000000;
	char	 key[64];
	int	 i, kept = 0;

	test_begin("ratelimit: a flood of keys stays bounded");
	rl_init(2);
	(void)rl_failure("ip:198.51.100.7", now);
	(void)rl_failure("ip:198.51.100.7", now);
	for (i = 0; i < RL_MAX_KEYS + 1000; i++) {
		(void)snprintf(key, sizeof(key), "user:u%d@example.test", i);
		(void)rl_failure(key, now);
	}
	/* Every key counts alone, and the newest are still there. */
	for (i = RL_MAX_KEYS; i < RL_MAX_KEYS + 1000; i++) {
		(void)snprintf(key, sizeof(key), "user:u%d@example.test", i);
		kept += rl_failures(key, now) == 1;
	}
	test_assert(kept == 1000);
	test_assert(rl_failures("user:u0@example.test", now) <= 1);
	test_end();
}

int
main(void)
{
	test_delays();
	test_limit();
	test_many();
	return test_exit();
}
