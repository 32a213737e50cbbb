/*
 * Counts per key (lib/keycount.c): both windows, deletion, eviction of
 * the key idle longest, many keys.
 */
#include <stdio.h>

#include "keycount.h"
#include "test.h"

static void
test_windows(void)
{
	struct keycount	*last, *first;
	time_t		 t = 1000;

	test_begin("keycount: since the last event, since the first");
	last = keycount_new(10, 60, KEYCOUNT_SINCE_LAST);
	first = keycount_new(10, 60, KEYCOUNT_SINCE_FIRST);
	test_assert(keycount_add(last, "k", t) == 1);
	test_assert(keycount_add(first, "k", t) == 1);
	test_assert(keycount_add(last, "k", t + 50) == 2);
	test_assert(keycount_add(first, "k", t + 50) == 2);
	/* 100 s after the first, 50 after the last */
	test_assert(keycount_get(last, "k", t + 100) == 2);
	test_assert(keycount_get(first, "k", t + 100) == 0);
	test_assert(keycount_get(last, "k", t + 110) == 0);
	test_assert(keycount_add(first, "k", t + 100) == 1);
	test_assert(keycount_get(last, "other", t) == 0);
	keycount_del(first, "k");
	test_assert(keycount_get(first, "k", t + 100) == 0);
	keycount_del(first, "never");
	test_assert(keycount_size(last) == 0 && keycount_size(first) == 0);
	keycount_free(last);
	keycount_free(first);
	test_end();
}

static void
test_eviction(void)
{
	struct keycount	*kc = keycount_new(3, 3600, KEYCOUNT_SINCE_LAST);
	time_t		 t = 5000;

	test_begin("keycount: the key idle longest goes first");
	(void)keycount_add(kc, "a", t);
	(void)keycount_add(kc, "b", t + 1);
	(void)keycount_add(kc, "c", t + 2);
	(void)keycount_add(kc, "a", t + 3);	/* a is fresh again */
	(void)keycount_add(kc, "d", t + 4);	/* b goes */
	test_assert(keycount_size(kc) == 3);
	test_assert(keycount_get(kc, "a", t + 5) == 2);
	test_assert(keycount_get(kc, "b", t + 5) == 0);
	test_assert(keycount_get(kc, "c", t + 5) == 1);
	test_assert(keycount_get(kc, "d", t + 5) == 1);
	keycount_free(kc);
	test_end();
}

static void
test_many(void)
{
	struct keycount	*kc = keycount_new(50000, 3600, KEYCOUNT_SINCE_LAST);
	char		 key[32];
	int		 i, ok = 1;

	test_begin("keycount: 200000 keys in a map of 50000");
	for (i = 0; i < 200000; i++) {
		(void)snprintf(key, sizeof(key), "user%d", i);
		(void)keycount_add(kc, key, 1);
	}
	test_assert(keycount_size(kc) == 50000);
	for (i = 150000; i < 200000; i++) {
		(void)snprintf(key, sizeof(key), "user%d", i);
		ok &= keycount_get(kc, key, 2) == 1;
	}
	test_assert(ok);
	keycount_free(kc);
	test_end();
}

int
main(void)
{
	test_windows();
	test_eviction();
	test_many();
	return test_exit();
}
