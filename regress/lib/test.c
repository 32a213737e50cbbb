/*
 * A tiny unit-test harness: see test.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static const char	*test_name;
static int		 test_failed_asserts;
static int		 tests_failed;

void
test_begin(const char *name)
{
	if (test_name != NULL) {
		(void)fprintf(stderr, "test_begin(%s) inside %s\n", name,
		    test_name);
		abort();
	}
	test_name = name;
	test_failed_asserts = 0;
}

void
test_assert_at(int ok, const char *expr, const char *file, int line)
{
	if (ok)
		return;
	test_failed_asserts++;
	(void)printf("# %s: %s:%d: assertion failed: %s\n",
	    test_name ? test_name : "(outside a test)", file, line, expr);
	(void)fflush(stdout);
}

void
test_end(void)
{
	if (test_name == NULL) {
		(void)fprintf(stderr, "test_end() without test_begin()\n");
		abort();
	}
	if (test_failed_asserts == 0)
		(void)printf("ok - %s\n", test_name);
	else {
		(void)printf("not ok - %s\n", test_name);
		tests_failed++;
	}
	(void)fflush(stdout);
	test_name = NULL;
}

int
test_exit(void)
{
	return tests_failed == 0 ? 0 : 1;
}

char *
test_dup_exact(const char *s)
{
	size_t	 len = strlen(s) + 1;
	char	*p;

	if ((p = malloc(len)) == NULL)
		abort();
	memcpy(p, s, len);
	return p;
}
