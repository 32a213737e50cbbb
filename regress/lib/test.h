/*
 * A tiny unit-test harness. Each test is a function that calls
 * test_begin(), some test_assert()s and test_end(); the program prints
 * one "ok - name" or "not ok - name" line per test, which regress/run
 * counts.
 */
#ifndef OSMS_TEST_H
#define OSMS_TEST_H

#include <stddef.h>

void	 test_begin(const char *name);
void	 test_assert_at(int ok, const char *expr, const char *file, int line);
void	 test_end(void);
/* A copy in a buffer of exactly its size, so ASan sees any overread. */
char	*test_dup_exact(const char *);
/*
 * Files below dirfd: write one (exit 2 on failure), read one (regular,
 * not through a link; NUL-terminated, NULL if it cannot be read), and
 * 1 if one holds exactly s (else it says what it holds).
 */
void	 test_put_file(int dirfd, const char *rel, const void *, size_t);
char	*test_get_file(int dirfd, const char *rel, size_t *lenp);
int	 test_file_is(int dirfd, const char *rel, const char *s);
/* Seconds on the monotonic clock, to time the cost of hostile input. */
double	 test_now(void);
/* Print s (len bytes, at most max) with control and 8-bit bytes as \xNN. */
void	 test_print_escaped(const char *s, size_t len, size_t max);
/* head, n times unit, tail: a new string (freed by the caller), *lenp
 * its length. */
char	*test_repeat(const char *head, const char *unit, size_t n,
	    const char *tail, size_t *lenp);
/* A certificate of key signed by itself (CN localhost, an hour long). */
struct evp_pkey_st;
struct x509_st;
struct x509_st		*test_self_signed(struct evp_pkey_st *key);
/* Exit status for main(): 0 if every test passed. */
int	 test_exit(void);

#define test_assert(e)	test_assert_at((e) != 0, #e, __FILE__, __LINE__)

#endif
