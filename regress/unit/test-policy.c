/*
 * The gateway's policy rules (policy.c): what parses, what is refused,
 * the written form reads back the same, and first match wins.
 */
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "test.h"

static int
parse(struct policy_rule *r, const char *text, char *err, size_t size)
{
	char	 buf[POLICY_MAX_TEXT], *words[POLICY_MAX_WORDS];
	int	 n;

	(void)snprintf(buf, sizeof(buf), "%s", text);
	if ((n = policy_split(buf, words, POLICY_MAX_WORDS)) < 0)
		return -1;
	return policy_rule_parse(r, words, (size_t)n, err, size);
}

static void
test_parse(void)
{
	static const char *const good[] = {
		"outbound to partner.example encrypt mandatory",
		"inbound from .partner.example decrypt no require-signed",
		"internal sign never encrypt never",
		"from ceo@example.test sign always user-encrypted reject",
		"outbound encrypt mandatory-or-tls",
		"inbound from partner.example keep-original yes subject-tag "
		    "yes",
		"outbound to <Partners> encrypt mandatory",
		"outbound to .pgp.example encrypt mandatory prefer openpgp",
		"inbound from .pgp.example autocrypt yes",
		"inbound from .pgp.example pgp-keys signed",
		"inbound to alice@example.test pgp-keys yes",
		"inbound harvest verified",
		"inbound to <Careful> autocrypt yes harvest any",
	};
	static const struct {
		const char	*text, *why;
	} bad[] = {
		{ "outbound", "a rule without an action" },
		{ "outbound to partner.example", "a rule without an action" },
		{ "encrypt sometimes", "encrypt wants never, if-possible, "
		    "mandatory or mandatory-or-tls" },
		{ "to", "to wants an address, a domain, * or <table>" },
		{ "to a\"b encrypt never", "to wants an address, a domain, * or "
		    "<table>" },
		{ "to <a b> encrypt never", "to wants an address, a domain, * "
		    "or <table>" },
		{ "to <> encrypt never", "to wants an address, a domain, * or "
		    "<table>" },
		{ "to a to b sign never", "to given twice" },
		{ "sideways sign never", "unknown word \"sideways\" (a "
		    "direction, from, to, sign, encrypt, decrypt, "
		    "user-encrypted, keep-original, subject-tag, prefer, "
		    "autocrypt, pgp-keys, harvest or require-signed)" },
		{ "prefer rot13", "prefer wants smime or openpgp" },
		{ "inbound keep-original maybe", "keep-original wants no or "
		    "yes" },
		{ "decrypt", "decrypt wants no or yes" },
		{ "inbound pgp-keys always", "pgp-keys wants no, signed or "
		    "yes" },
		{ "inbound harvest dkim", "harvest wants any or verified" },
	};
	struct policy_rule	 r, r2;
	char			 err[256], text[POLICY_MAX_TEXT];
	size_t			 i;

	test_begin("policy: rules parse, are refused with a reason, and "
	    "read back as written");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		test_assert(parse(&r, good[i], err, sizeof(err)) == 0);
		policy_rule_format(&r, text, sizeof(text));
		test_assert(strcmp(text, good[i]) == 0);
		test_assert(parse(&r2, text, err, sizeof(err)) == 0);
		test_assert(memcmp(&r, &r2, sizeof(r)) == 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		test_assert(parse(&r, bad[i].text, err, sizeof(err)) == -1);
		test_assert(strcmp(err, bad[i].why) == 0);
	}
	/* Any order reads; the written form has one. */
	test_assert(parse(&r, "require-signed decrypt no from .partner.example"
	    " inbound", err, sizeof(err)) == -1);
	test_assert(parse(&r, "inbound require-signed decrypt no from "
	    ".partner.example", err, sizeof(err)) == 0);
	policy_rule_format(&r, text, sizeof(text));
	test_assert(strcmp(text, good[1]) == 0);
	/* "*" is anyone, written out as nothing; names are lower case. */
	test_assert(parse(&r, "to * from Boss@Example.TEST sign always", err,
	    sizeof(err)) == 0 && r.to[0] == '\0' &&
	    strcmp(r.from, "boss@example.test") == 0);
	test_end();
}

static void
test_match(void)
{
	static const char *const texts[] = {
		"outbound to partner.example encrypt mandatory",
		"outbound to .sub.example encrypt never",
		"from ceo@example.test sign always",
		"inbound from partner.example require-signed",
		"outbound encrypt mandatory-or-tls",
	};
	struct policy_rules	 rules = TAILQ_HEAD_INITIALIZER(rules);
	struct policy_rule	 rs[5];
	struct policy		 p;
	char			 err[256];
	size_t			 i;

	test_begin("policy: first match wins, the rest are defaults");
	for (i = 0; i < 5; i++) {
		test_assert(parse(&rs[i], texts[i], err, sizeof(err)) == 0);
		rs[i].line = (int)i + 10;
		TAILQ_INSERT_TAIL(&rules, &rs[i], entry);
	}
	policy_match(&rules, POLICY_OUTBOUND, "ceo@example.test",
	    "x@PARTNER.example", NULL, NULL, &p);
	test_assert(p.line == 10 && p.encrypt == ENCRYPT_MANDATORY &&
	    p.sign == SIGN_IF_POSSIBLE && p.decrypt == POLICY_YES &&
	    p.harvest == HARVEST_ANY);
	policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "y@deep.sub.example", NULL, NULL, &p);
	test_assert(p.line == 11 && p.encrypt == ENCRYPT_NEVER);
	policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "y@sub.example", NULL, NULL, &p);
	test_assert(p.line == 11);
	policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "y@notsub.example", NULL, NULL, &p);
	test_assert(p.line == 14 && p.encrypt == ENCRYPT_MANDATORY_OR_TLS);
	policy_match(&rules, POLICY_INTERNAL, "ceo@example.test",
	    "b@example.test", NULL, NULL, &p);
	test_assert(p.line == 12 && p.sign == SIGN_ALWAYS);
	policy_match(&rules, POLICY_INBOUND, "x@partner.example",
	    "a@example.test", NULL, NULL, &p);
	test_assert(p.line == 13 && p.require_signed);
	policy_match(&rules, POLICY_INBOUND, "x@other.example",
	    "a@example.test", NULL, NULL, &p);
	test_assert(p.line == 0 && !p.require_signed &&
	    p.decrypt == POLICY_YES && p.user_encrypted == USER_ENCRYPTED_PASS &&
	    p.keep_original == POLICY_NO && p.subject_tag == POLICY_NO &&
	    p.prefer == PREFER_SMIME && p.autocrypt == POLICY_NO &&
	    p.pgp_keys == PGP_KEYS_NO);
	test_end();
}

/* A table as the directory would answer: partners lists a domain and
 * an address; "down" cannot tell. */
static int	 nasked;

static int
member(const char *table, const char *address, void *arg)
{
	const char	*at = strrchr(address, '@');

	(void)arg;
	nasked++;
	if (strcmp(table, "down") == 0)
		return -1;
	if (strcmp(table, "partners") != 0)
		return 0;
	return strcmp(address, "vip@other.example") == 0 ||
	    (at != NULL && strcmp(at + 1, "partner.example") == 0);
}

static void
test_tables(void)
{
	static const char *const texts[] = {
		"outbound from <down> sign never",
		"outbound to <partners> encrypt mandatory",
		"outbound encrypt never",
	};
	struct policy_rules	 rules = TAILQ_HEAD_INITIALIZER(rules);
	struct policy_rule	 rs[3], e;
	struct policy		 p;
	char			 err[256];
	size_t			 i;

	test_begin("policy: rules on tables; a table that cannot tell "
	    "leaves the policy unknown");
	for (i = 0; i < 3; i++) {
		test_assert(parse(&rs[i], texts[i], err, sizeof(err)) == 0);
		rs[i].line = (int)i + 1;
	}
	TAILQ_INSERT_TAIL(&rules, &rs[1], entry);
	TAILQ_INSERT_TAIL(&rules, &rs[2], entry);
	test_assert(policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "x@partner.example", member, NULL, &p) == 0 && p.line == 2 &&
	    p.encrypt == ENCRYPT_MANDATORY);
	test_assert(policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "vip@other.example", member, NULL, &p) == 0 && p.line == 2);
	test_assert(policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "x@other.example", member, NULL, &p) == 0 && p.line == 3 &&
	    p.encrypt == ENCRYPT_NEVER);
	/* Without a way to ask, a table cannot be matched. */
	test_assert(policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "x@other.example", NULL, NULL, &p) == -1 && p.line == 0);
	/* An unknown answer is never skipped for a later rule. */
	TAILQ_INSERT_HEAD(&rules, &rs[0], entry);
	test_assert(policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "x@other.example", member, NULL, &p) == -1 && p.line == 0 &&
	    p.encrypt == ENCRYPT_IF_POSSIBLE);
	/* A rule whose from does not match never asks about to. */
	nasked = 0;
	test_assert(policy_match(&rules, POLICY_INBOUND, "a@x.example",
	    "b@example.test", member, NULL, &p) == 0 && nasked == 0);
	test_end();

	test_begin("policy: directory entries are actions only, and override"
	    " the rule's words, not the others");
	test_assert(policy_entry_parse(&e, "encrypt mandatory sign always",
	    err, sizeof(err)) == 0);
	TAILQ_REMOVE(&rules, &rs[0], entry);
	(void)policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "x@other.example", member, NULL, &p);
	policy_override(&p, &e, "a@example.test");
	test_assert(p.line == 3 && p.encrypt == ENCRYPT_MANDATORY &&
	    p.sign == SIGN_ALWAYS && p.decrypt == POLICY_YES &&
	    strcmp(p.via, "a@example.test") == 0);
	test_assert(policy_entry_parse(&e, "outbound encrypt never", err,
	    sizeof(err)) == -1 && strcmp(err, "a directory entry has actions "
	    "only (no direction, from or to)") == 0);
	test_assert(policy_entry_parse(&e, "to x.example sign never", err,
	    sizeof(err)) == -1);
	test_assert(policy_entry_parse(&e, "", err, sizeof(err)) == -1 &&
	    strcmp(err, "a rule without an action") == 0);
	test_assert(policy_entry_parse(&e, "encrypt sometimes", err,
	    sizeof(err)) == -1);
	test_assert(strcmp(policy_local_party(POLICY_INBOUND, "x@o.example",
	    "a@example.test"), "a@example.test") == 0);
	test_assert(strcmp(policy_local_party(POLICY_OUTBOUND, "a@example.test",
	    "x@o.example"), "a@example.test") == 0);
	test_end();
}

int
main(void)
{
	test_parse();
	test_match();
	test_tables();
	return test_exit();
}
