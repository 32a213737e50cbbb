/*
 * Users table entries from a hostile database or file: whatever the
 * entry, the result is a bounded, terminated record with a safe
 * Maildir path, or a refusal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maildir.h"
#include "userent.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct userent	 u;
	char		*value;

	if (size > USERENT_MAX + 16)
		return 0;
	if ((value = malloc(size + 1)) == NULL)
		abort();
	memcpy(value, data, size);
	value[size] = '\0';
	if (userent_parse("user", "example.test", value, &u) == 0) {
		if (memchr(u.password, '\0', sizeof(u.password)) == NULL ||
		    memchr(u.scram, '\0', sizeof(u.scram)) == NULL ||
		    memchr(u.maildir, '\0', sizeof(u.maildir)) == NULL ||
		    !maildir_path_valid(u.maildir) ||
		    (u.services & ~(unsigned)AUTH_SERVICE_ALL) != 0 ||
		    strchr(u.password, ' ') != NULL)
			abort();
	}
	free(value);
	return 0;
}
