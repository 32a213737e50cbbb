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
	};
	static const struct {
		const char	*text, *why;
	} bad[] = {
		{ "outbound", "a rule without an action" },
		{ "outbound to partner.example", "a rule without an action" },
		{ "encrypt sometimes", "encrypt wants never, if-possible, "
		    "mandatory or mandatory-or-tls" },
		{ "to", "to wants an address, a domain or *" },
		{ "to a\"b encrypt never", "to wants an address, a domain or *" },
		{ "to a to b sign never", "to given twice" },
		{ "sideways sign never", "unknown word \"sideways\" (a "
		    "direction, from, to, sign, encrypt, decrypt, "
		    "user-encrypted, keep-original, subject-tag or "
		    "require-signed)" },
		{ "inbound keep-original maybe", "keep-original wants no or "
		    "yes" },
		{ "decrypt", "decrypt wants no or yes" },
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
	    "x@PARTNER.example", &p);
	test_assert(p.line == 10 && p.encrypt == ENCRYPT_MANDATORY &&
	    p.sign == SIGN_IF_POSSIBLE && p.decrypt == POLICY_YES);
	policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "y@deep.sub.example", &p);
	test_assert(p.line == 11 && p.encrypt == ENCRYPT_NEVER);
	policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "y@sub.example", &p);
	test_assert(p.line == 11);
	policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "y@notsub.example", &p);
	test_assert(p.line == 14 && p.encrypt == ENCRYPT_MANDATORY_OR_TLS);
	policy_match(&rules, POLICY_INTERNAL, "ceo@example.test",
	    "b@example.test", &p);
	test_assert(p.line == 12 && p.sign == SIGN_ALWAYS);
	policy_match(&rules, POLICY_INBOUND, "x@partner.example",
	    "a@example.test", &p);
	test_assert(p.line == 13 && p.require_signed);
	policy_match(&rules, POLICY_INBOUND, "x@other.example",
	    "a@example.test", &p);
	test_assert(p.line == 0 && !p.require_signed &&
	    p.decrypt == POLICY_YES && p.user_encrypted == USER_ENCRYPTED_PASS &&
	    p.keep_original == POLICY_NO && p.subject_tag == POLICY_NO);
	test_end();
}

int
main(void)
{
	test_parse();
	test_match();
	return test_exit();
}
