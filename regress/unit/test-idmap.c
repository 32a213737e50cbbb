/*
 * The id map (idmap.c).
 */
#include <stdint.h>

#include "idmap.h"
#include "test.h"

static void
test_map(void)
{
	struct idmap	 m;
	uint64_t	 i;
	int		 ok = 1;

	test_begin("idmap: put, get, delete across growth");
	idmap_init(&m);
	for (i = 1; i <= 10000; i++)
		if (idmap_put(&m, i * 0x9e3779b97f4a7c15ULL, (void *)(uintptr_t)i)
		    == -1)
			ok = 0;
	test_assert(ok && m.count == 10000);
	test_assert(idmap_put(&m, 0x9e3779b97f4a7c15ULL, NULL) == -1);
	for (i = 1; i <= 10000; i++)
		if (idmap_get(&m, i * 0x9e3779b97f4a7c15ULL) !=
		    (void *)(uintptr_t)i)
			ok = 0;
	test_assert(ok);
	test_assert(idmap_get(&m, 12345) == NULL);
	for (i = 1; i <= 10000; i += 2)
		if (idmap_del(&m, i * 0x9e3779b97f4a7c15ULL) !=
		    (void *)(uintptr_t)i)
			ok = 0;
	test_assert(ok && m.count == 5000);
	test_assert(idmap_del(&m, 0x9e3779b97f4a7c15ULL) == NULL);
	test_assert(idmap_get(&m, 2 * 0x9e3779b97f4a7c15ULL) ==
	    (void *)(uintptr_t)2);
	idmap_clear(&m);
	test_end();
}

int
main(void)
{
	test_map();
	return test_exit();
}
