/*
 * scand's scanning (scan.c) with libclamav and the shipped test
 * signature: verdicts, names, limits that never read as clean (a file
 * libclamav cuts at max-file-size, an encrypted archive, the time limit
 * too), and engines shared by reference.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "scan.h"
#include "test.h"

#define DB	"regress/data/clamav"

static const char eicar[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-"
    "ANTIVIRUS-TEST-FILE!$H+H*";

static const struct scan_limits defaults = {
	100 * 1024 * 1024, 25 * 1024 * 1024, 10000, 16, 0
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

static void
put16(unsigned char *p, unsigned v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
}

static void
put32(unsigned char *p, unsigned long v)
{
	put16(p, v & 0xffff);
	put16(p + 2, (v >> 16) & 0xffff);
}

/*
 * A zip of one entry "f" (method 0 stored or 8 deflated, flags as
 * given) holding data as stored; *lenp its size. The caller frees it.
 */
static unsigned char *
zip_one(unsigned method, unsigned flags, unsigned long crc, size_t usize,
    const unsigned char *data, size_t dlen, size_t *lenp)
{
	unsigned char	*z, *p;

	if ((z = malloc(31 + dlen + 47 + 22)) == NULL)
		abort();
	p = z;
	put32(p, 0x04034b50);
	put16(p + 4, 20);
	put16(p + 6, flags);
	put16(p + 8, method);
	put32(p + 10, 0x00210000);
	put32(p + 14, crc);
	put32(p + 18, dlen);
	put32(p + 22, usize);
	put16(p + 26, 1);
	put16(p + 28, 0);
	p[30] = 'f';
	memcpy(p + 31, data, dlen);
	p += 31 + dlen;
	memset(p, 0, 47);
	put32(p, 0x02014b50);
	put16(p + 4, 20);
	put16(p + 6, 20);
	put16(p + 8, flags);
	put16(p + 10, method);
	put32(p + 12, 0x00210000);
	put32(p + 16, crc);
	put32(p + 20, dlen);
	put32(p + 24, usize);
	put16(p + 28, 1);
	p[46] = 'f';
	p += 47;
	memset(p, 0, 22);
	put32(p, 0x06054b50);
	put16(p + 8, 1);
	put16(p + 10, 1);
	put32(p + 12, 47);
	put32(p + 16, 31 + dlen);
	*lenp = (size_t)(p + 22 - z);
	return z;
}

/* A zip of zeros bytes of zeros then EICAR, deflated. */
static unsigned char *
zip_padded_eicar(size_t zeros, size_t *lenp)
{
	unsigned char	*plain, *out, *z;
	z_stream	 zs;
	size_t		 n = zeros + strlen(eicar);

	if ((plain = calloc(1, n)) == NULL || (out = malloc(n)) == NULL)
		abort();
	memcpy(plain + zeros, eicar, strlen(eicar));
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		abort();
	zs.next_in = plain;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)n;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		abort();
	z = zip_one(8, 0, crc32(0, plain, (uInt)n), n, out, zs.total_out,
	    lenp);
	(void)deflateEnd(&zs);
	free(plain);
	free(out);
	return z;
}

static void
test_archives(void)
{
	struct scan_limits	 l = defaults;
	struct scan_engine	*e;
	char			 err[256], name[SCAN_MAX_VIRUS];
	unsigned char		*z, junk[64];
	size_t			 len;

	/*
	 * libclamav writes a zip entry out only up to max-file-size and
	 * scans that piece without an alert: the EICAR after 2 MiB of
	 * zeros would go unseen, and the message be called clean.
	 */
	test_begin("scan: a zip entry cut at max-file-size is unscannable, "
	    "not clean");
	l.max_filesize = 1024 * 1024;
	e = scan_engine_load(DB, &l, NULL, err, sizeof(err));
	test_assert(e != NULL);
	if (e != NULL) {
		z = zip_padded_eicar(2 * 1024 * 1024, &len);
		test_assert(scan_data(e, (char *)z, len, name, sizeof(name)) ==
		    SCAN_UNSCANNABLE && strcmp(name,
		    "Heuristics.Limits.Exceeded.MaxFileSize") == 0);
		free(z);
		/* Well under the limit it is taken apart and found. */
		z = zip_padded_eicar(512 * 1024, &len);
		test_assert(scan_data(e, (char *)z, len, name, sizeof(name)) ==
		    SCAN_VIRUS && strncmp(name, "Osms.Test.EICAR", 15) == 0);
		free(z);
		scan_engine_unref(e);
	}
	test_end();

	test_begin("scan: an encrypted zip is unscannable, never clean");
	e = scan_engine_load(DB, &defaults, NULL, err, sizeof(err));
	test_assert(e != NULL);
	if (e != NULL) {
		/* Flag bit 0: the 12-byte header and the data encrypted. */
		memset(junk, 0x5a, sizeof(junk));
		z = zip_one(0, 1, 0x12345678, sizeof(junk) - 12, junk,
		    sizeof(junk), &len);
		test_assert(scan_data(e, (char *)z, len, name, sizeof(name)) ==
		    SCAN_UNSCANNABLE && strcmp(name,
		    "Heuristics.Encrypted.Zip") == 0);
		free(z);
		/* The same entry not encrypted is plain data. */
		z = zip_one(0, 0, crc32(0, junk, sizeof(junk)), sizeof(junk),
		    junk, sizeof(junk), &len);
		test_assert(scan_data(e, (char *)z, len, name, sizeof(name)) ==
		    SCAN_CLEAN);
		free(z);
		scan_engine_unref(e);
	}
	test_end();
}

static void
test_time_limit(void)
{
	struct scan_limits	 l = defaults;
	struct scan_engine	*e;
	char			 err[256], name[SCAN_MAX_VIRUS], *m;
	size_t			 len;
	enum scan_verdict	 v;
	double			 t0, dt;

	test_begin("scan: past the time limit is unscannable, never clean");
	l.max_scantime = 1;
	e = scan_engine_load(DB, &l, NULL, err, sizeof(err));
	test_assert(e != NULL);
	if (e != NULL) {
		/* 1,000 attachments: far more than a millisecond's work. */
		m = test_repeat("From: a@b\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=x\r\n\r\n",
		    "--x\r\nContent-Type: application/octet-stream\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n"
		    "aGVsbG8gd29ybGQ=\r\n", 1000, "--x--\r\n", &len);
		t0 = test_now();
		v = scan_data(e, m, len, name, sizeof(name));
		dt = test_now() - t0;
		(void)printf("# %zu bytes: %s in %.3f s\n", len, name, dt);
		test_assert(v == SCAN_UNSCANNABLE && strcmp(name,
		    "Heuristics.Limits.Exceeded.MaxScanTime") == 0);
		test_assert(dt < 2.0);
		free(m);
		scan_engine_unref(e);
	}
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
	test_archives();
	test_time_limit();
	return test_exit();
}
