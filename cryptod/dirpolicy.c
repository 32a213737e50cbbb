/*
 * cryptod: what the directory adds to the policy rules (policy.h), the
 * policy-table's entry of a local user or domain, and whether a table
 * a rule names (<t>) lists an address. cryptod has no database password:
 * authd looks them up (IMSG_AUTH_GW_LOOKUP). Answers are kept a minute,
 * so the mail of the same people asks once.
 *
 * A request whose answers are not all at hand is kept, with its
 * descriptor, until they are, and then dispatched again as if it had
 * just come; an answer that does not come in time counts as a failure,
 * and a policy that cannot be known defers the mail (4.3.0) rather than
 * guess it.
 */
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "cryptod.h"
#include "imsg.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "util.h"

#define DP_SLOTS	4096		/* answers kept; a power of two */
#define DP_PROBES	8
#define DP_TTL		60		/* seconds an answer is kept */
#define DP_FAIL_TTL	5		/* and a failure */
#define DP_TIMEOUT	30		/* seconds authd may take */
#define DP_MAX_DEFERRED	1024
#define DP_MAX_WAIT	32		/* answers one request waits for */
#define DP_MAX_KEY	256
#define DP_MAX_VALUE	POLICY_MAX_TEXT

enum dp_state { DP_EMPTY, DP_PENDING, DP_FOUND, DP_NOTFOUND, DP_FAILED };

struct answer {
	enum dp_state	 state;
	uint32_t	 kind;		/* enum gw_lookup */
	uint64_t	 id;		/* of the pending request */
	time_t		 when;		/* asked, or answered */
	char		 table[CONF_MAX_NAME];
	char		 key[DP_MAX_KEY];
	char		 value[DP_MAX_VALUE];
};

struct deferred {
	TAILQ_ENTRY(deferred)	 entry;
	struct channel		*ch;
	enum osms_role		 role;
	struct imsg		 imsg;	/* data copied; fd kept */
	void			(*dispatch)(struct channel *, struct imsg *);
	uint64_t		 wait[DP_MAX_WAIT];
	size_t			 nwait;
	time_t			 since;
};

static struct answer		*answers;
static uint64_t			 next_id = 1;
static char			 policy_table[CONF_MAX_NAME];
static int			 rule_tables;	/* a rule names a table */
static TAILQ_HEAD(, deferred)	 deferred = TAILQ_HEAD_INITIALIZER(deferred);
static unsigned			 ndeferred;
/* What the last dirpolicy_ready() found missing. */
static uint64_t			 missing[DP_MAX_WAIT];
static size_t			 nmissing;
static int			 collecting;
static int			 ask_again;	/* answers were forgotten */

void
dirpolicy_conf(const char *table, const struct policy_rules *rules)
{
	const struct policy_rule	*r;

	(void)osms_strlcpy(policy_table, table, sizeof(policy_table));
	rule_tables = 0;
	TAILQ_FOREACH(r, rules, entry)
		if (r->from[0] == '<' || r->to[0] == '<')
			rule_tables = 1;
	/* A new configuration may name other tables, or change them. The
	 * requests that waited for answers now forgotten ask again (at the
	 * next tick, from the event loop). */
	if (answers != NULL)
		memset(answers, 0, DP_SLOTS * sizeof(*answers));
	ask_again = 1;
	if (answers == NULL && (policy_table[0] != '\0' || rule_tables))
		answers = xcalloc(DP_SLOTS, sizeof(*answers));
}

static uint32_t
slot_hash(uint32_t kind, const char *table, const char *key)
{
	uint32_t	 h = 2166136261u ^ kind;
	const char	*s;

	for (s = table; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h = (h ^ '<') * 16777619u;
	for (s = key; *s != '\0'; s++)
		h = (h ^ (unsigned char)(*s >= 'A' && *s <= 'Z' ? *s + 32 :
		    *s)) * 16777619u;
	return h;
}

static int
stale(const struct answer *a, time_t now)
{
	switch (a->state) {
	case DP_EMPTY:
		return 1;
	case DP_PENDING:
		return 0;
	case DP_FAILED:
		return now - a->when >= DP_FAIL_TTL;
	default:
		return now - a->when >= DP_TTL;
	}
}

/*
 * The answer for (kind, table, key): a kept one, else a slot asked
 * for now (pending). NULL if none can be had (the cache is full of
 * questions).
 */
static struct answer *
answer_for(uint32_t kind, const char *table, const char *key)
{
	struct answer	*a, *free_slot = NULL;
	struct channel	*ch;
	struct msg	 m;
	time_t		 now = time(NULL);
	uint32_t	 h = slot_hash(kind, table, key);
	int		 i;

	for (i = 0; i < DP_PROBES; i++) {
		a = &answers[(h + (uint32_t)i) & (DP_SLOTS - 1)];
		if (a->state != DP_EMPTY && a->kind == kind &&
		    strcmp(a->table, table) == 0 &&
		    strcasecmp(a->key, key) == 0) {
			if (!stale(a, now))
				return a;
			free_slot = a;
			break;
		}
		if (free_slot == NULL && stale(a, now))
			free_slot = a;
	}
	if ((a = free_slot) == NULL)
		return NULL;
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	(void)osms_strlcpy(a->table, table, sizeof(a->table));
	(void)osms_strlcpy(a->key, key, sizeof(a->key));
	a->when = now;
	a->id = next_id++;
	a->state = DP_PENDING;
	if ((ch = proc_peer(ROLE_AUTHD)) == NULL) {
		a->state = DP_FAILED;
		return a;
	}
	msg_init(&m, IMSG_AUTH_GW_LOOKUP, a->id);
	msg_add_u32(&m, kind);
	msg_add_str(&m, table);
	msg_add_str(&m, key);
	if (channel_send(ch, &m) == -1)
		a->state = DP_FAILED;
	return a;
}

/* 1 found, 0 not, -1 unknown (pending, failed): as policy_member_fn
 * wants, and while collecting, a pending answer noted as missing and
 * counted as "not listed" so that later rules are looked at too. */
static int
lookup(uint32_t kind, const char *table, const char *key,
    const char **value)
{
	struct answer	*a;

	if (strlen(key) >= DP_MAX_KEY || strlen(table) >= CONF_MAX_NAME)
		return collecting ? 0 : -1;
	if ((a = answer_for(kind, table, key)) == NULL)
		return collecting ? 0 : -1;
	switch (a->state) {
	case DP_FOUND:
		if (value != NULL)
			*value = a->value;
		return 1;
	case DP_NOTFOUND:
		return 0;
	case DP_PENDING:
		if (collecting && nmissing < DP_MAX_WAIT)
			missing[nmissing++] = a->id;
		return collecting ? 0 : -1;
	default:
		return collecting ? 0 : -1;
	}
}

static int
member(const char *table, const char *address, void *arg)
{
	const char	*at = strrchr(address, '@');
	int		 r;

	(void)arg;
	if ((r = lookup(GW_LOOKUP_MEMBER, table, address, NULL)) != 0 ||
	    at == NULL)
		return r;
	return lookup(GW_LOOKUP_MEMBER, table, at + 1, NULL);
}

/* The entry of key in the policy-table, applied: 0, or -1 if unknown. */
static int
entry(const char *key, struct policy *p)
{
	struct policy_rule	 r;
	const char		*value = NULL;
	char			 err[256];
	int			 found;

	if ((found = lookup(GW_LOOKUP_ENTRY, policy_table, key, &value)) != 1)
		return found;
	if (policy_entry_parse(&r, value, err, sizeof(err)) == -1) {
		/* The administrator's typo must not weaken the policy
		 * silently: the mail waits, the log says why. */
		log_warnx("cryptod: policy-table %s: entry %s: %s",
		    policy_table, key, err);
		return -1;
	}
	policy_override(p, &r, key);
	return 0;
}

int
dirpolicy_get(const struct policy_rules *rules, enum policy_dir dir,
    const char *from, const char *to, struct policy *p)
{
	const char	*party, *at;
	int		 rc;

	rc = policy_match(rules, dir, from, to, rule_tables ? member : NULL,
	    NULL, p);
	if (policy_table[0] == '\0')
		return rc;
	party = policy_local_party(dir, from, to);
	if ((at = strrchr(party, '@')) != NULL && entry(at + 1, p) == -1)
		rc = -1;
	if (party[0] != '\0' && entry(party, p) == -1)
		rc = -1;
	return rc;
}

int
dirpolicy_ready(const struct policy_rules *rules, enum policy_dir dir,
    const char *from, const char *to)
{
	struct policy	 p;
	size_t		 before = nmissing;

	if (policy_table[0] == '\0' && !rule_tables)
		return 1;
	collecting = 1;
	(void)dirpolicy_get(rules, dir, from, to, &p);
	collecting = 0;
	return nmissing == before;
}

int
dirpolicy_defer(struct channel *ch, struct imsg *imsg,
    void (*dispatch)(struct channel *, struct imsg *))
{
	struct deferred	*d;

	if (ndeferred >= DP_MAX_DEFERRED) {
		log_warnx("cryptod: %u requests wait for the directory; "
		    "no more may", ndeferred);
		nmissing = 0;
		return -1;
	}
	d = xcalloc(1, sizeof(*d));
	d->ch = ch;
	d->role = ch->remote;
	d->dispatch = dispatch;
	d->imsg.hdr = imsg->hdr;
	d->imsg.fd = imsg_take_fd(imsg);
	d->imsg.datalen = imsg->datalen;
	if (imsg->datalen > 0) {
		d->imsg.data = xmalloc(imsg->datalen);
		memcpy(d->imsg.data, imsg->data, imsg->datalen);
	}
	memcpy(d->wait, missing, nmissing * sizeof(*missing));
	d->nwait = nmissing;
	d->since = time(NULL);
	nmissing = 0;
	TAILQ_INSERT_TAIL(&deferred, d, entry);
	ndeferred++;
	return 0;
}

static void
deferred_free(struct deferred *d)
{
	if (d->imsg.fd != -1)
		(void)close(d->imsg.fd);
	free(d->imsg.data);
	free(d);
}

/* Run the requests that wait for nothing any more (or too long); they
 * may be deferred again, as new ones. */
static void
resume(time_t now)
{
	TAILQ_HEAD(, deferred)	 run = TAILQ_HEAD_INITIALIZER(run);
	struct deferred		*d, *next;
	size_t			 i;

	for (d = TAILQ_FIRST(&deferred); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		for (i = 0; i < d->nwait; )
			if (d->wait[i] == 0)
				d->wait[i] = d->wait[--d->nwait];
			else
				i++;
		if (d->nwait > 0 && now - d->since < DP_TIMEOUT)
			continue;
		TAILQ_REMOVE(&deferred, d, entry);
		ndeferred--;
		TAILQ_INSERT_TAIL(&run, d, entry);
	}
	while ((d = TAILQ_FIRST(&run)) != NULL) {
		TAILQ_REMOVE(&run, d, entry);
		if (proc_peer(d->role) == d->ch)
			d->dispatch(d->ch, &d->imsg);
		deferred_free(d);
	}
}

void
dirpolicy_answer(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct answer		*a = NULL;
	struct deferred		*d;
	char			 value[DP_MAX_VALUE];
	uint32_t		 found;
	size_t			 i;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &found);
	(void)msg_get_str(&r, value, sizeof(value));
	if (msg_end(&r) == -1 || answers == NULL)
		return;
	for (i = 0; i < DP_SLOTS; i++)
		if (answers[i].state == DP_PENDING &&
		    answers[i].id == imsg->hdr.id) {
			a = &answers[i];
			break;
		}
	if (a != NULL) {
		a->state = found == GW_FOUND ? DP_FOUND : found ==
		    GW_NOTFOUND ? DP_NOTFOUND : DP_FAILED;
		(void)osms_strlcpy(a->value, value, sizeof(a->value));
		a->when = time(NULL);
		if (a->state == DP_FAILED)
			log_warnx("cryptod: the directory cannot tell %s of "
			    "%s in table %s now", a->kind == GW_LOOKUP_ENTRY ?
			    "the policy" : "membership", a->key, a->table);
	}
	TAILQ_FOREACH(d, &deferred, entry)
		for (i = 0; i < d->nwait; i++)
			if (d->wait[i] == imsg->hdr.id)
				d->wait[i] = 0;
	resume(time(NULL));
}

void
dirpolicy_tick(void)
{
	time_t	 now = time(NULL);
	size_t	 i;

	if (answers == NULL || TAILQ_EMPTY(&deferred)) {
		ask_again = 0;
		return;
	}
	if (ask_again) {
		struct deferred	*d;

		TAILQ_FOREACH(d, &deferred, entry)
			d->nwait = 0;
		ask_again = 0;
	}
	/* Questions authd never answered are failures now. */
	for (i = 0; i < DP_SLOTS; i++)
		if (answers[i].state == DP_PENDING &&
		    now - answers[i].when >= DP_TIMEOUT)
			answers[i].state = DP_FAILED;
	resume(now);
}

void
dirpolicy_peer_down(enum osms_role role)
{
	struct deferred	*d, *next;

	size_t		 i;

	for (d = TAILQ_FIRST(&deferred); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (d->role == role) {
			TAILQ_REMOVE(&deferred, d, entry);
			ndeferred--;
			deferred_free(d);
		}
	}
	if (role == ROLE_AUTHD && answers != NULL) {
		/* Its questions are lost with it. */
		for (i = 0; i < DP_SLOTS; i++)
			if (answers[i].state == DP_PENDING)
				answers[i].state = DP_FAILED;
		TAILQ_FOREACH(d, &deferred, entry)
			d->nwait = 0;
		resume(time(NULL));
	}
}
