/*
 * Login tokens: 128 random bits each, kept in a map by their first 64
 * bits and compared whole.
 */
#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "idmap.h"
#include "token.h"
#include "util.h"

struct token {
	TAILQ_ENTRY(token)	 entry;		/* oldest first */
	uint64_t		 key;
	unsigned char		 secret[16];
	time_t			 expires;
	unsigned		 service;
	struct userent		 u;
};

static struct idmap		 tokens;
static TAILQ_HEAD(, token)	 by_age = TAILQ_HEAD_INITIALIZER(by_age);
static int			 ready;

static void
token_drop(struct token *t)
{
	(void)idmap_del(&tokens, t->key);
	TAILQ_REMOVE(&by_age, t, entry);
	explicit_wipe(t, sizeof(*t));
	free(t);
}

static void
token_expire(time_t now)
{
	struct token	*t;

	while ((t = TAILQ_FIRST(&by_age)) != NULL &&
	    (t->expires <= now || tokens.count > TOKEN_MAX))
		token_drop(t);
}

void
token_issue(const struct userent *u, unsigned service, char *out)
{
	struct token	*t = xcalloc(1, sizeof(*t));
	size_t		 i;

	if (!ready) {
		idmap_init(&tokens);
		ready = 1;
	}
	token_expire(time(NULL));
	do {
		arc4random_buf(t->secret, sizeof(t->secret));
		memcpy(&t->key, t->secret, sizeof(t->key));
	} while (t->key == 0 || idmap_get(&tokens, t->key) != NULL);
	t->expires = time(NULL) + TOKEN_TTL;
	t->service = service;
	t->u = *u;
	explicit_wipe(t->u.password, sizeof(t->u.password));
	explicit_wipe(t->u.scram, sizeof(t->u.scram));
	(void)idmap_put(&tokens, t->key, t);
	TAILQ_INSERT_TAIL(&by_age, t, entry);
	for (i = 0; i < sizeof(t->secret); i++)
		(void)snprintf(out + 2 * i, 3, "%02x", t->secret[i]);
}

int
token_redeem(const char *hex, struct userent *u, unsigned *service)
{
	struct token	*t;
	unsigned char	 secret[16];
	uint64_t	 key;
	size_t		 i;
	unsigned	 v;

	if (!ready || strlen(hex) != TOKEN_LEN)
		return -1;
	for (i = 0; i < sizeof(secret); i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1 ||
		    strchr("0123456789abcdef", hex[2 * i]) == NULL ||
		    strchr("0123456789abcdef", hex[2 * i + 1]) == NULL)
			return -1;
		secret[i] = (unsigned char)v;
	}
	token_expire(time(NULL));
	memcpy(&key, secret, sizeof(key));
	if ((t = idmap_get(&tokens, key)) == NULL ||
	    CRYPTO_memcmp(t->secret, secret, sizeof(secret)) != 0)
		return -1;
	*u = t->u;
	*service = t->service;
	token_drop(t);
	return 0;
}
