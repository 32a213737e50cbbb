/*
 * libFuzzer target for the envelope decoder (lib/mail/envelope.c), the
 * reader of queue files at recovery (SECURITY.md F12).
 *
 * Any input must decode or fail without a crash, a leak or a read out of
 * bounds. The format is canonical, so on success encoding gives back the
 * input byte for byte, and decoding that again and encoding gives the
 * same bytes once more.
 *
 * A checksum guards the records, which random bytes almost never pass.
 * So each input is tried twice: as it is, and with its last 13 bytes
 * replaced by a correct END record (a valid file is unchanged by that),
 * which lets mutations reach the record parser behind the checksum.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

#define END_LEN		13

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint64_t
fnv1a64(const uint8_t *p, size_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
check(const uint8_t *data, size_t size)
{
	struct envelope	 env, again;
	const char	*err;
	uint8_t		*b1, *b2;
	size_t		 l1, l2;

	if (envelope_decode(data, size, &env, &err) == -1) {
		if (err == NULL || env.nrcpts != 0 || env.rcpts != NULL ||
		    env.ndests != 0 || env.dests != NULL)
			abort();
		return;
	}
	if (envelope_encode(&env, &b1, &l1) == -1) {
		(void)fprintf(stderr, "decoded envelope does not encode\n");
		abort();
	}
	/* Canonical: the same bytes back (version 1 input is written as
	 * version 2, so only the current version compares). */
	if (size >= 8 && memcmp(data, "OSMSENV2", 8) == 0 &&
	    (l1 != size || memcmp(b1, data, size) != 0)) {
		(void)fprintf(stderr, "encoding differs from the input\n");
		abort();
	}
	if (envelope_decode(b1, l1, &again, &err) == -1) {
		(void)fprintf(stderr, "own encoding does not decode: %s\n",
		    err);
		abort();
	}
	if (envelope_encode(&again, &b2, &l2) == -1 || l1 != l2 ||
	    memcmp(b1, b2, l1) != 0) {
		(void)fprintf(stderr, "second encoding differs\n");
		abort();
	}
	(void)envelope_done(&env);
	free(b1);
	free(b2);
	envelope_clear(&again);
	envelope_clear(&env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		*copy;
	uint64_t	 h;
	size_t		 i;

	check(data, size);
	if (size < END_LEN)
		return 0;
	if ((copy = malloc(size)) == NULL)
		abort();
	memcpy(copy, data, size);
	h = fnv1a64(copy, size - END_LEN);
	copy[size - END_LEN] = 0xff;
	copy[size - END_LEN + 1] = 8;
	copy[size - END_LEN + 2] = 0;
	copy[size - END_LEN + 3] = 0;
	copy[size - END_LEN + 4] = 0;
	for (i = 0; i < 8; i++)
		copy[size - 8 + i] = (h >> (8 * i)) & 0xff;
	check(copy, size);
	free(copy);
	return 0;
}
