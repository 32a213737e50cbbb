/*
 * Growable buffers (lib/buf.c): growth, the ceiling, consume, release.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "test.h"

static void
test_grow(void)
{
	struct buf	 b = BUF_INIT(1 << 20);
	char		*p;
	size_t		 len;
	int		 i;

	test_begin("buf: growth, printf, consume, release");
	for (i = 0; i < 10000; i++)
		test_assert(buf_printf(&b, "%04d", i % 10000) == 0);
	test_assert(b.len == 40000 && b.data[b.len] == '\0');
	test_assert(memcmp(b.data + 4 * 9999, "9999", 4) == 0);
	buf_consume(&b, 39996);
	test_assert(b.len == 4 && strcmp(b.data, "9999") == 0);
	test_assert(buf_addc(&b, 'x') == 0 && strcmp(b.data, "9999x") == 0);
	p = buf_release(&b, &len);
	test_assert(len == 5 && strcmp(p, "9999x") == 0 && b.data == NULL);
	free(p);
	p = buf_release(&b, &len);
	test_assert(len == 0 && p[0] == '\0');
	free(p);
	test_end();
}

static void
test_ceiling(void)
{
	struct buf	 b;

	test_begin("buf: the ceiling refuses whole adds");
	buf_init(&b, 10);
	test_assert(buf_addstr(&b, "0123456789") == 0);
	test_assert(buf_addc(&b, 'a') == -1 && b.over && b.len == 10);
	buf_reset(&b);
	test_assert(b.len == 0 && !b.over);
	test_assert(buf_printf(&b, "%s", "01234567890") == -1);
	test_assert(b.len == 0);
	test_assert(buf_add(&b, "x", (size_t)-1) == -1);
	buf_free(&b);
	test_end();
}

int
main(void)
{
	test_grow();
	test_ceiling();
	return test_exit();
}
