/*
 * libFuzzer target for the address parser (lib/mail/addr.c), F3 in
 * SECURITY.md.
 *
 * The first byte picks the flags (bits 0-2: ADDR_UTF8, ADDR_NULL_OK,
 * ADDR_POSTMASTER) and the entry point (bit 3: bare mailbox instead of
 * a path); the rest is the string, in a buffer of its exact size so
 * that ASan sees any read past the NUL.
 *
 * Oracles, on success: no stored byte is a control byte; the domain is
 * lower case, valid by addr_domain_valid() or a literal; the printed
 * form has no byte < 0x20 or 0x7f and parses back with the same flags
 * to an equal address; *end lies within the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_field(const char *s, size_t size, const char *what)
{
	const unsigned char	*p;

	if (memchr(s, '\0', size) == NULL) {
		(void)fprintf(stderr, "%s not terminated\n", what);
		abort();
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f) {
			(void)fprintf(stderr, "control byte in %s\n", what);
			abort();
		}
}

static void
check_addr(const struct mailaddr *a, int flags)
{
	const char	*s;

	check_field(a->local, sizeof(a->local), "local part");
	check_field(a->domain, sizeof(a->domain), "domain");
	for (s = a->domain; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			abort();
	if (a->domain[0] != '\0' && a->domain[0] != '[' &&
	    !addr_domain_valid(a->domain, flags & ADDR_UTF8))
		abort();
	if (!(flags & ADDR_UTF8) && addr_is_utf8(a))
		abort();
	if (addr_is_null(a) && !(flags & ADDR_NULL_OK))
		abort();
	if (a->local[0] == '\0' && a->domain[0] != '\0')
		abort();
	if (a->local[0] != '\0' && a->domain[0] == '\0' &&
	    !(flags & ADDR_POSTMASTER))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailaddr	 a, b;
	const char	*end = NULL, *errstr = NULL;
	char		 out[ADDR_MAX_TEXT + 1];
	char		*in;
	const unsigned char *p;
	int		 flags, mailbox, r, len;

	if (size < 1)
		return 0;
	flags = data[0] & (ADDR_UTF8 | ADDR_NULL_OK | ADDR_POSTMASTER);
	mailbox = (data[0] & 0x08) != 0;
	if ((in = malloc(size)) == NULL)
		abort();
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';

	if (mailbox)
		r = addr_parse_mailbox(in, flags, &a, &errstr);
	else
		r = addr_parse_path(in, flags, &a, &end, &errstr);
	if (r == -1) {
		if (errstr == NULL || *errstr == '\0' || a.local[0] != '\0' ||
		    a.domain[0] != '\0')
			abort();
		free(in);
		return 0;
	}
	if (r != 0)
		abort();
	if (!mailbox && (end <= in || end > in + strlen(in) || end[-1] != '>'))
		abort();
	check_addr(&a, flags);

	if ((len = addr_format(&a, out, sizeof(out))) < 0) {
		(void)fprintf(stderr, "cannot print %s@%s\n", a.local,
		    a.domain);
		abort();
	}
	if ((size_t)len != strlen(out) || len > ADDR_MAX_TEXT)
		abort();
	for (p = (const unsigned char *)out; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	if (addr_parse_mailbox(out, flags, &b, &errstr) != 0) {
		(void)fprintf(stderr, "\"%s\" does not parse: %s\n", out,
		    errstr);
		abort();
	}
	if (strcmp(a.local, b.local) != 0 || strcmp(a.domain, b.domain) != 0) {
		(void)fprintf(stderr, "\"%s\" parses differently\n", out);
		abort();
	}
	free(in);
	return 0;
}
