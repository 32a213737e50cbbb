/*
 * A tiny unit-test harness: see test.h.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

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

void
test_put_file(int dirfd, const char *rel, const void *buf, size_t len)
{
	int	 fd;

	if ((fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1 ||
	    (len > 0 && write(fd, buf, len) != (ssize_t)len) ||
	    close(fd) == -1) {
		perror(rel);
		exit(2);
	}
}

char *
test_get_file(int dirfd, const char *rel, size_t *lenp)
{
	struct stat	 sb;
	char		*buf;
	int		 fd;

	*lenp = 0;
	if ((fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		(void)close(fd);
		return NULL;
	}
	if (read(fd, buf, (size_t)sb.st_size) != sb.st_size) {
		free(buf);
		(void)close(fd);
		return NULL;
	}
	(void)close(fd);
	buf[sb.st_size] = '\0';
	*lenp = (size_t)sb.st_size;
	return buf;
}

int
test_file_is(int dirfd, const char *rel, const char *s)
{
	char	*buf;
	size_t	 len;
	int	 ok;

	if ((buf = test_get_file(dirfd, rel, &len)) == NULL)
		return 0;
	ok = len == strlen(s) && memcmp(buf, s, len) == 0;
	if (!ok)
		(void)printf("# %s: got \"%s\"\n", rel, buf);
	free(buf);
	return ok;
}

double
test_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
test_print_escaped(const char *s, size_t len, size_t max)
{
	size_t	 i;

	for (i = 0; i < len && i < max; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			(void)printf("\\x%02x", (unsigned char)s[i]);
		else
			(void)putchar(s[i]);
	if (i < len)
		(void)printf("...");
}

char *
test_repeat(const char *head, const char *unit, size_t n, const char *tail,
    size_t *lenp)
{
	size_t	 hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char	*s;

	if ((s = malloc(hl + ul * n + tl + 1)) == NULL)
		abort();
	memcpy(s, head, hl);
	for (i = 0; i < n; i++)
		memcpy(s + hl + i * ul, unit, ul);
	memcpy(s + hl + ul * n, tail, tl + 1);
	*lenp = hl + ul * n + tl;
	return s;
}

X509 *
test_self_signed(EVP_PKEY *key)
{
	X509		*cert = X509_new();
	X509_NAME	*name;

	if (cert == NULL)
		abort();
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	/* Ed25519 signs without a separate digest. */
	if (X509_sign(cert, key, EVP_PKEY_get_base_id(key) ==
	    EVP_PKEY_ED25519 ? NULL : EVP_sha256()) == 0)
		abort();
	return cert;
}
