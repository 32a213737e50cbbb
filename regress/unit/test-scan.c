/*
 * scand's scanning (scan.c) with libclamav and the shipped test
 * signature: verdicts, names, limits that never read as clean, and
 * engines shared by reference.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan.h"
#include "test.h"

#define DB	"regress/data/clamav"

static const char eicar[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-"
    "ANTIVIRUS-TEST-FILE!$H+H*";

static const struct scan_limits defaults = {
	100 * 1024 * 1024, 25 * 1024 * 1024, 10000, 16
};

/* A descriptor of a temporary file holding data. */
static int
file_of(const void *data, size_t len)
{
	FILE	*f = tmpfile();
	int	 fd;

	if (f == NULL || fwrite(data, 1, len, f) != len || fflush(f) != 0)
		abort();
	fd = dup(fileno(f));
	fclose(f);
	return fd;
}

static enum scan_verdict
scan_data(struct scan_engine *e, const char *data, size_t len, char *name,
    size_t size)
{
	uint64_t		 scanned;
	enum scan_verdict	 v;
	int			 fd = file_of(data, len);

	v = scan_fd(e, fd, name, size, &scanned);
	close(fd);
	return v;
}

static void
test_verdicts(void)
{
	struct scan_engine	*e;
	char			 err[256], name[SCAN_MAX_VIRUS], msg[4096];

	test_begin("scan: a virus, in mail too, and clean mail");
	e = scan_engine_load(DB, &defaults, NULL, err, sizeof(err));
	test_assert(e != NULL);
	if (e == NULL) {
		printf("# %s\n", err);
		test_end();
		return;
	}
	test_assert(scan_engine_signatures(e) == 1);
	test_assert(strncmp(scan_engine_version(e), "ClamAV ", 7) == 0);
	test_assert(scan_data(e, eicar, strlen(eicar), name, sizeof(name)) ==
	    SCAN_VIRUS && strncmp(name, "Osms.Test.EICAR", 15) == 0);
	/* As a base64 attachment of a message. */
	(void)snprintf(msg, sizeof(msg), "From: a@b\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFO\r\n"
	    "VElWSVJVUy1URVNULUZJTEUhJEgrSCo=\r\n--x--\r\n");
	test_assert(scan_data(e, msg, strlen(msg), name, sizeof(name)) ==
	    SCAN_VIRUS);
	(void)snprintf(msg, sizeof(msg), "From: a@b\r\nSubject: hello\r\n\r\n"
	    "Nothing to see.\r\n");
	test_assert(scan_data(e, msg, strlen(msg), name, sizeof(name)) ==
	    SCAN_CLEAN && name[0] == '\0');
	/* A reference keeps it after the owner lets go. */
	scan_engine_ref(e);
	scan_engine_unref(e);
	test_assert(scan_data(e, eicar, strlen(eicar), name, sizeof(name)) ==
	    SCAN_VIRUS);
	scan_engine_unref(e);
	test_end();
}

static void
test_limits(void)
{
	struct scan_limits	 small = defaults;
	struct scan_engine	*e;
	char			 err[256], name[SCAN_MAX_VIRUS], *big;
	size_t			 len = 64 * 1024;

	test_begin("scan: past a limit is unscannable, never clean");
	small.max_filesize = 4096;
	small.max_scansize = 8192;
	e = scan_engine_load(DB, &small, NULL, err, sizeof(err));
	test_assert(e != NULL);
	if (e != NULL) {
		big = malloc(len);
		memset(big, 'a', len);
		test_assert(scan_data(e, big, len, name, sizeof(name)) ==
		    SCAN_UNSCANNABLE && strstr(name, "Limits") != NULL);
		free(big);
		scan_engine_unref(e);
	}
	/* No databases, or none with a signature: no engine. */
	test_assert(scan_engine_load("/nonexistent", &defaults, NULL, err,
	    sizeof(err)) == NULL && err[0] != '\0');
	test_assert(scan_engine_load("regress/golden", &defaults, NULL, err,
	    sizeof(err)) == NULL);
	test_end();
}

int
main(void)
{
	char	 err[256];

	if (scan_init(err, sizeof(err)) == -1) {
		printf("# %s\n", err);
		return 1;
	}
	test_verdicts();
	test_limits();
	return test_exit();
}
