/*
 * A tiny unit-test harness. Each test is a function that calls
 * test_begin(), some test_assert()s and test_end(); the program prints
 * one "ok - name" or "not ok - name" line per test, which regress/run
 * counts.
 */
#ifndef OSMS_TEST_H
#define OSMS_TEST_H

void	 test_begin(const char *name);
void	 test_assert_at(int ok, const char *expr, const char *file, int line);
void	 test_end(void);
/* A copy in a buffer of exactly its size, so ASan sees any overread. */
char	*test_dup_exact(const char *);
/* Exit status for main(): 0 if every test passed. */
int	 test_exit(void);

#define test_assert(e)	test_assert_at((e) != 0, #e, __FILE__, __LINE__)

#endif
