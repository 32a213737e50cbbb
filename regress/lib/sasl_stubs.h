/*
 * What authd's sasl.c needs around it, for the programs that run it
 * without the rest of authd (test-sasl, fuzz_sasl): the process's
 * configuration and peers (proc.c is not linked), a directory of two
 * users, rate limits that never hold and a fixed login token. The real
 * ones have tests of their own.
 *
 * The directory: alice@example.test ("secret", every service) and
 * bob@example.test ("bobpw", SMTP only); an address starting with
 * "tempfail" cannot be looked up. The program fills in each user's hash
 * (and SCRAM secret, if it wants one) before the first exchange.
 *
 * Included once, by the program's one source file.
 */
#ifndef OSMS_SASL_STUBS_H
#define OSMS_SASL_STUBS_H

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authd.h"
#include "channel.h"
#include "dir.h"
#include "proc.h"
#include "pwhash.h"
#include "ratelimit.h"
#include "token.h"
#include "util.h"

#define STUB_TOKEN	"0123456789abcdef0123456789abcdef"

struct user {
	const char	*address;
	const char	*password;
	unsigned	 services;
	char		 hash[PWHASH_MAX];
	char		 scram[PWHASH_MAX];
};

static struct user	 users[] = {
	{ "alice@example.test", "secret", AUTH_SERVICE_ALL, "", "" },
	{ "bob@example.test", "bobpw", AUTH_SERVICE_SMTP, "", "" },
};

static struct directory	 dir;
static struct proc_conf	 pconf;
static struct channel	*peers[ROLE_COUNT];

const struct proc_conf *
proc_conf(void)
{
	return &pconf;
}

struct channel *
proc_peer(enum osms_role r)
{
	return (unsigned)r < ROLE_COUNT ? peers[r] : NULL;
}

struct directory *
authd_directory(void)
{
	return &dir;
}

void
dir_ref(struct directory *d)
{
	d->refs++;
}

void
dir_unref(struct directory *d)
{
	if (--d->refs < 0)
		abort();
}

enum table_found
dir_user(struct directory *d, const char *address, struct userent *u)
{
	size_t	 i;

	(void)d;
	if (strncasecmp(address, "tempfail", 8) == 0)
		return TABLE_TEMPFAIL;
	for (i = 0; i < nitems(users); i++)
		if (strcasecmp(address, users[i].address) == 0) {
			memset(u, 0, sizeof(*u));
			(void)osms_strlcpy(u->address, users[i].address,
			    sizeof(u->address));
			(void)osms_strlcpy(u->password, users[i].hash,
			    sizeof(u->password));
			(void)osms_strlcpy(u->scram, users[i].scram,
			    sizeof(u->scram));
			(void)osms_strlcpy(u->maildir, "example.test/x",
			    sizeof(u->maildir));
			u->services = users[i].services;
			return TABLE_FOUND;
		}
	return TABLE_NOTFOUND;
}

int
rl_blocked(const char *key, time_t now)
{
	(void)key;
	(void)now;
	return 0;
}

unsigned
rl_failure(const char *key, time_t now)
{
	(void)key;
	(void)now;
	return 0;
}

unsigned
rl_failures(const char *key, time_t now)
{
	(void)key;
	(void)now;
	return 1;
}

void
rl_success(const char *key)
{
	(void)key;
}

void
token_issue(const struct userent *u, unsigned service, char *out)
{
	(void)u;
	(void)service;
	(void)osms_strlcpy(out, STUB_TOKEN, TOKEN_LEN + 1);
}

#endif
