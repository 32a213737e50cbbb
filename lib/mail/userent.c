/*
 * Users table entries: "HASH attr=value ...". The entry may come from
 * a hostile database row, so every field is bounded and checked.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userent.h"
#include "util.h"

/* "10M", "500K", "12345" into a number (userent.h). */
int
userent_size(const char *s, uint64_t *out)
{
	const char	*errstr;
	char		 num[32];
	uint64_t	 mult = 1;
	size_t		 len = strlen(s);
	long long	 v;

	if (len == 0 || len >= sizeof(num))
		return -1;
	(void)osms_strlcpy(num, s, sizeof(num));
	switch (num[len - 1]) {
	case 'K': case 'k': mult = 1024ULL; break;
	case 'M': case 'm': mult = 1024ULL * 1024; break;
	case 'G': case 'g': mult = 1024ULL * 1024 * 1024; break;
	default: break;
	}
	if (mult != 1)
		num[len - 1] = '\0';
	/* Up to 1 PiB of bytes or 1 Pi messages: no overflow below. */
	v = str_to_num(num, 0, 1LL << 50, &errstr);
	if (errstr != NULL || (uint64_t)v > (1ULL << 50) / mult)
		return -1;
	*out = (uint64_t)v * mult;
	return 0;
}

static int
parse_services(const char *s, unsigned *out)
{
	char	 buf[64], *w, *last = NULL;

	if (osms_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	*out = 0;
	for (w = strtok_r(buf, ",", &last); w != NULL;
	    w = strtok_r(NULL, ",", &last)) {
		if (strcmp(w, "smtp") == 0)
			*out |= AUTH_SERVICE_SMTP;
		else if (strcmp(w, "imap") == 0)
			*out |= AUTH_SERVICE_IMAP;
		else if (strcmp(w, "pop3") == 0)
			*out |= AUTH_SERVICE_POP3;
		else if (strcmp(w, "none") != 0)
			return -1;
	}
	return 0;
}

static const char *const attributes[] = {
	"maildir=", "quota=", "quota_messages=", "scram=", "services=",
};

int
userent_attribute(const char *w)
{
	size_t	 i;

	for (i = 0; i < nitems(attributes); i++)
		if (strncmp(w, attributes[i], strlen(attributes[i])) == 0)
			return 1;
	return 0;
}

int
userent_parse(const char *local, const char *domain, const char *value,
    struct userent *u)
{
	char	 buf[USERENT_MAX], *w, *last = NULL;
	size_t	 len;

	memset(u, 0, sizeof(*u));
	u->services = AUTH_SERVICE_ALL;
	(void)osms_snprintf(u->address, sizeof(u->address), "%s@%s", local,
	    domain);
	(void)osms_snprintf(u->maildir, sizeof(u->maildir), "%s/%s", domain,
	    local);
	for (w = u->address; *w; w++)
		*w = (char)tolower((unsigned char)*w);
	for (w = u->maildir; *w; w++)
		*w = (char)tolower((unsigned char)*w);
	if (osms_strlcpy(buf, value, sizeof(buf)) >= sizeof(buf))
		return -1;
	/* The hash first ("-": none); it may hold '=' (argon2, base64). */
	w = strtok_r(buf, " \t", &last);
	if (w != NULL && !userent_attribute(w)) {
		if (strcmp(w, "-") != 0 && osms_strlcpy(u->password, w,
		    sizeof(u->password)) >= sizeof(u->password))
			return -1;
		w = strtok_r(NULL, " \t", &last);
	}
	for (; w != NULL; w = strtok_r(NULL, " \t", &last)) {
		if (strncmp(w, "maildir=", 8) == 0) {
			if (osms_strlcpy(u->maildir, w + 8,
			    sizeof(u->maildir)) >= sizeof(u->maildir))
				return -1;
			/* PostfixAdmin writes "domain/user/" */
			len = strlen(u->maildir);
			while (len > 1 && u->maildir[len - 1] == '/')
				u->maildir[--len] = '\0';
		} else if (strncmp(w, "quota=", 6) == 0) {
			if (userent_size(w + 6, &u->quota_bytes) == -1)
				return -1;
		} else if (strncmp(w, "quota_messages=", 15) == 0) {
			if (userent_size(w + 15, &u->quota_messages) == -1)
				return -1;
		} else if (strncmp(w, "scram=", 6) == 0) {
			if (osms_strlcpy(u->scram, w + 6, sizeof(u->scram)) >=
			    sizeof(u->scram))
				return -1;
		} else if (strncmp(w, "services=", 9) == 0) {
			if (parse_services(w + 9, &u->services) == -1)
				return -1;
		} else
			return -1;
	}
	if (!maildir_path_valid(u->maildir))
		return -1;
	return 0;
}
