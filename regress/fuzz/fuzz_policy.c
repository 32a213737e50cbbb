/*
 * The gateway's policy words from a hostile directory (a policy-table
 * entry) and rules: whatever the text, an entry is refused or has
 * actions only, reads back the same from its written form, and matching
 * with it (and with a table whose answers the input chooses) always
 * ends in a complete policy.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
member(const char *table, const char *address, void *arg)
{
	const uint8_t	*b = arg;

	(void)table;
	return (int)(b[strlen(address) % 4] % 3) - 1;	/* -1, 0 or 1 */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_rules	 rules = TAILQ_HEAD_INITIALIZER(rules);
	struct policy_rule	 e, e2, r;
	struct policy		 p;
	char			 text[POLICY_MAX_TEXT + 1], out[POLICY_MAX_TEXT];
	char			 err[256], *words[POLICY_MAX_WORDS];
	uint8_t			 answers[4] = { 0, 1, 2, 0 };
	int			 n, rc;

	if (size > POLICY_MAX_TEXT)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memcpy(answers, data, size < 4 ? size : 4);
	if (policy_entry_parse(&e, text, err, sizeof(err)) == 0) {
		if (e.dir != POLICY_ANY || e.from[0] != '\0' || e.to[0] != '\0')
			abort();
		policy_rule_format(&e, out, sizeof(out));
		if (policy_entry_parse(&e2, out, err, sizeof(err)) == -1 ||
		    memcmp(&e, &e2, sizeof(e)) != 0)
			abort();
	} else if (strnlen(err, sizeof(err)) == sizeof(err) || err[0] == '\0')
		abort();
	/* The same text as a rule, matched with the entry on top. */
	if ((n = policy_split(text, words, POLICY_MAX_WORDS)) < 0 ||
	    policy_rule_parse(&r, words, (size_t)n, err, sizeof(err)) == -1)
		return 0;
	TAILQ_INSERT_TAIL(&rules, &r, entry);
	rc = policy_match(&rules, POLICY_OUTBOUND, "a@example.test",
	    "b@partner.example", member, answers, &p);
	if (rc != 0 && rc != -1)
		abort();
	if (p.sign == 0 || p.encrypt == 0 || p.decrypt == 0 ||
	    p.user_encrypted == 0 || p.keep_original == 0 ||
	    p.subject_tag == 0 || (rc == -1 && p.line != 0))
		abort();
	policy_override(&p, &r, "example.test");
	if (p.sign == 0 || p.encrypt == 0 ||
	    memchr(p.via, '\0', sizeof(p.via)) == NULL)
		abort();
	(void)policy_why(&p, out, sizeof(out));
	return 0;
}
