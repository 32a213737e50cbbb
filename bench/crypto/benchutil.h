/*
 * What the crypto benchmarks share: the clock, and a file read whole.
 */
#ifndef OSMS_BENCH_UTIL_H
#define OSMS_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*fp = fopen(path, "rb");
	char	*p;
	long	 n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 || (p = malloc((size_t)n + 1)) == NULL ||
	    fread(p, 1, (size_t)n, fp) != (size_t)n) {
		perror(path);
		exit(2);
	}
	(void)fclose(fp);
	*len = (size_t)n;
	return p;
}

#endif
