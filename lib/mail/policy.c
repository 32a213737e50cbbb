/*
 * The gateway's policy rules (policy.h): read, written out, matched.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "policy.h"
#include "util.h"

static const char *const dir_names[] = {
	[POLICY_INBOUND] = "inbound",
	[POLICY_OUTBOUND] = "outbound",
	[POLICY_INTERNAL] = "internal",
};
static const char *const sign_names[] = {
	[SIGN_NEVER] = "never",
	[SIGN_IF_POSSIBLE] = "if-possible",
	[SIGN_ALWAYS] = "always",
};
static const char *const encrypt_names[] = {
	[ENCRYPT_NEVER] = "never",
	[ENCRYPT_IF_POSSIBLE] = "if-possible",
	[ENCRYPT_MANDATORY] = "mandatory",
	[ENCRYPT_MANDATORY_OR_TLS] = "mandatory-or-tls",
};
static const char *const yesno_names[] = {
	[POLICY_NO] = "no",
	[POLICY_YES] = "yes",
};
static const char *const prefer_names[] = {
	[PREFER_SMIME] = "smime",
	[PREFER_OPENPGP] = "openpgp",
};
static const char *const pgp_keys_names[] = {
	[PGP_KEYS_NO] = "no",
	[PGP_KEYS_SIGNED] = "signed",
	[PGP_KEYS_YES] = "yes",
};
static const char *const harvest_names[] = {
	[HARVEST_ANY] = "any",
	[HARVEST_VERIFIED] = "verified",
};
static const char *const user_encrypted_names[] = {
	[USER_ENCRYPTED_PASS] = "pass",
	[USER_ENCRYPTED_REJECT] = "reject",
};

/* The index of word in names (from 1), 0 if none. */
static uint32_t
lookup(const char *const *names, size_t n, const char *word)
{
	size_t	 i;

	for (i = 1; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], word) == 0)
			return (uint32_t)i;
	return 0;
}

/* <name>: a table's name between angle brackets. */
static int
who_table(const char *s)
{
	size_t	 n = strlen(s);

	return n > 2 && s[0] == '<' && s[n - 1] == '>' &&
	    strspn(s + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-.") == n - 2;
}

/* An address, a domain, .domain, * or <table>: printable, no space, no
 * quote. */
static int
who_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n >= POLICY_MAX_WHO || strcmp(s, "@") == 0)
		return 0;
	if (who_table(s))
		return 1;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '"' ||
		    *s == ',' || *s == '<' || *s == '>')
			return 0;
	return 1;
}

int
policy_rule_parse(struct policy_rule *r, char *const *words, size_t n,
    char *err, size_t errsize)
{
	struct {
		const char		*name;
		const char *const	*values;
		size_t			 nvalues;
		uint32_t		*slot;
	} actions[] = {
		{ "sign", sign_names, nitems(sign_names), &r->sign },
		{ "encrypt", encrypt_names, nitems(encrypt_names),
		    &r->encrypt },
		{ "decrypt", yesno_names, nitems(yesno_names), &r->decrypt },
		{ "user-encrypted", user_encrypted_names,
		    nitems(user_encrypted_names), &r->user_encrypted },
		{ "keep-original", yesno_names, nitems(yesno_names),
		    &r->keep_original },
		{ "subject-tag", yesno_names, nitems(yesno_names),
		    &r->subject_tag },
		{ "prefer", prefer_names, nitems(prefer_names), &r->prefer },
		{ "autocrypt", yesno_names, nitems(yesno_names),
		    &r->autocrypt },
		{ "pgp-keys", pgp_keys_names, nitems(pgp_keys_names),
		    &r->pgp_keys },
		{ "harvest", harvest_names, nitems(harvest_names),
		    &r->harvest },
	};
	size_t		 i = 0, a, k;
	int		 nactions = 0;
	char		*who;

	memset(r, 0, sizeof(*r));
	if (n > 0 && (r->dir = lookup(dir_names, nitems(dir_names),
	    words[0])) != 0)
		i++;
	while (i < n) {
		if (strcmp(words[i], "from") == 0 ||
		    strcmp(words[i], "to") == 0) {
			who = words[i][0] == 'f' ? r->from : r->to;
			if (i + 1 == n || !who_ok(words[i + 1])) {
				(void)snprintf(err, errsize, "%s wants an "
				    "address, a domain, * or <table>", words[i]);
				return -1;
			}
			if (who[0] != '\0') {
				(void)snprintf(err, errsize, "%s given twice",
				    words[i]);
				return -1;
			}
			(void)osms_strlcpy(who, strcmp(words[i + 1], "*") == 0 ?
			    "" : words[i + 1], POLICY_MAX_WHO);
			if (!who_table(who))
				str_lower(who);
			i += 2;
			continue;
		}
		if (strcmp(words[i], "require-signed") == 0) {
			r->require_signed = POLICY_YES;
			nactions++;
			i++;
			continue;
		}
		for (a = 0; a < nitems(actions); a++)
			if (strcmp(words[i], actions[a].name) == 0)
				break;
		if (a == nitems(actions)) {
			(void)snprintf(err, errsize, "unknown word \"%.40s\" (a"
			    " direction, from, to, sign, encrypt, decrypt, "
			    "user-encrypted, keep-original, subject-tag, prefer, "
			    "autocrypt, pgp-keys, harvest or require-signed)",
			    words[i]);
			return -1;
		}
		if (i + 1 == n || (*actions[a].slot = lookup(actions[a].values,
		    actions[a].nvalues, words[i + 1])) == 0) {
			(void)snprintf(err, errsize, "%s wants", words[i]);
			for (k = 1; k < actions[a].nvalues; k++) {
				(void)osms_strlcat(err, k == 1 ? " " : k + 1 ==
				    actions[a].nvalues ? " or " : ", ", errsize);
				(void)osms_strlcat(err, actions[a].values[k],
				    errsize);
			}
			return -1;
		}
		nactions++;
		i += 2;
	}
	if (nactions == 0) {
		(void)snprintf(err, errsize, "a rule without an action");
		return -1;
	}
	return 0;
}

void
policy_rule_format(const struct policy_rule *r, char *buf, size_t size)
{
	buf[0] = '\0';
	if (r->dir != POLICY_ANY && r->dir < nitems(dir_names))
		(void)osms_strlcat(buf, dir_names[r->dir], size);
	if (r->from[0] != '\0') {
		(void)osms_strlcat(buf, buf[0] ? " from " : "from ", size);
		(void)osms_strlcat(buf, r->from, size);
	}
	if (r->to[0] != '\0') {
		(void)osms_strlcat(buf, buf[0] ? " to " : "to ", size);
		(void)osms_strlcat(buf, r->to, size);
	}
#define ACTION(slot, word, names)					\
	if ((slot) != 0 && (slot) < nitems(names)) {			\
		(void)osms_strlcat(buf, buf[0] ? " " word " " : word " ",	\
		    size);						\
		(void)osms_strlcat(buf, (names)[slot], size);		\
	}
	ACTION(r->sign, "sign", sign_names)
	ACTION(r->encrypt, "encrypt", encrypt_names)
	ACTION(r->decrypt, "decrypt", yesno_names)
	ACTION(r->user_encrypted, "user-encrypted", user_encrypted_names)
	ACTION(r->keep_original, "keep-original", yesno_names)
	ACTION(r->subject_tag, "subject-tag", yesno_names)
	ACTION(r->prefer, "prefer", prefer_names)
	ACTION(r->autocrypt, "autocrypt", yesno_names)
	ACTION(r->pgp_keys, "pgp-keys", pgp_keys_names)
	ACTION(r->harvest, "harvest", harvest_names)
#undef ACTION
	if (r->require_signed)
		(void)osms_strlcat(buf, buf[0] ? " require-signed" :
		    "require-signed", size);
}

int
policy_split(char *text, char **words, size_t max)
{
	char	*save = NULL, *w;
	size_t	 n = 0;

	for (w = strtok_r(text, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return -1;
		words[n++] = w;
	}
	return (int)n;
}

/* Does an address match WHO ("" anyone, an address, a domain, .domain,
 * <table>)? 1, 0, or -1 if the table cannot tell. */
static int
who_matches(const char *who, const char *address, policy_member_fn member,
    void *arg)
{
	const char	*at = strrchr(address, '@'), *domain;
	char		 table[POLICY_MAX_WHO];
	size_t		 dl, wl;

	if (who[0] == '\0')
		return 1;
	if (who[0] == '<') {
		if (member == NULL)
			return -1;
		(void)osms_strlcpy(table, who + 1, sizeof(table));
		table[strcspn(table, ">")] = '\0';
		return member(table, address, arg);
	}
	if (strchr(who, '@') != NULL)
		return strcasecmp(who, address) == 0;
	domain = at != NULL ? at + 1 : address;
	if (who[0] != '.')
		return strcasecmp(who, domain) == 0;
	/* .example.org: example.org and every name below it */
	dl = strlen(domain);
	wl = strlen(who);
	return strcasecmp(who + 1, domain) == 0 || (dl > wl &&
	    strcasecmp(domain + dl - wl, who) == 0);
}

/* The words a rule (or entry) says, over what out has. */
static void
apply(struct policy *out, const struct policy_rule *r)
{
	if (r->sign != 0)
		out->sign = (enum policy_sign)r->sign;
	if (r->encrypt != 0)
		out->encrypt = (enum policy_encrypt)r->encrypt;
	if (r->decrypt != 0)
		out->decrypt = (enum policy_yesno)r->decrypt;
	if (r->user_encrypted != 0)
		out->user_encrypted =
		    (enum policy_user_encrypted)r->user_encrypted;
	if (r->keep_original != 0)
		out->keep_original = (enum policy_yesno)r->keep_original;
	if (r->subject_tag != 0)
		out->subject_tag = (enum policy_yesno)r->subject_tag;
	if (r->prefer != 0)
		out->prefer = (enum policy_prefer)r->prefer;
	if (r->autocrypt != 0)
		out->autocrypt = (enum policy_yesno)r->autocrypt;
	if (r->pgp_keys != 0)
		out->pgp_keys = (enum policy_pgp_keys)r->pgp_keys;
	if (r->harvest != 0)
		out->harvest = (enum policy_harvest)r->harvest;
	if (r->require_signed == POLICY_YES)
		out->require_signed = 1;
}

int
policy_match(const struct policy_rules *rules, enum policy_dir dir,
    const char *from, const char *to, policy_member_fn member, void *arg,
    struct policy *out)
{
	const struct policy_rule	*r;
	int				 f, t, unknown = 0;

	memset(out, 0, sizeof(*out));
	TAILQ_FOREACH(r, rules, entry) {
		if (r->dir != POLICY_ANY && r->dir != (uint32_t)dir)
			continue;
		/* A table that cannot tell leaves the rule undecided: no
		 * later rule may stand in for it. */
		f = who_matches(r->from, from, member, arg);
		t = f == 0 ? 0 : who_matches(r->to, to, member, arg);
		if (f == -1 || t == -1) {
			unknown = 1;
			break;
		}
		if (f == 1 && t == 1)
			break;
	}
	if (r != NULL && !unknown) {
		apply(out, r);
		out->line = r->line;
	}
	if (out->sign == 0)
		out->sign = SIGN_IF_POSSIBLE;
	if (out->encrypt == 0)
		out->encrypt = ENCRYPT_IF_POSSIBLE;
	if (out->decrypt == 0)
		out->decrypt = POLICY_YES;
	if (out->user_encrypted == 0)
		out->user_encrypted = USER_ENCRYPTED_PASS;
	if (out->keep_original == 0)
		out->keep_original = POLICY_NO;
	if (out->subject_tag == 0)
		out->subject_tag = POLICY_NO;
	if (out->prefer == 0)
		out->prefer = PREFER_SMIME;
	if (out->autocrypt == 0)
		out->autocrypt = POLICY_NO;
	if (out->pgp_keys == 0)
		out->pgp_keys = PGP_KEYS_NO;
	if (out->harvest == 0)
		out->harvest = HARVEST_ANY;
	return unknown ? -1 : 0;
}

int
policy_entry_parse(struct policy_rule *r, const char *text, char *err,
    size_t errsize)
{
	char	 buf[POLICY_MAX_TEXT], *words[POLICY_MAX_WORDS];
	int	 n;

	if (osms_strlcpy(buf, text, sizeof(buf)) >= sizeof(buf) ||
	    (n = policy_split(buf, words, POLICY_MAX_WORDS)) < 0) {
		(void)snprintf(err, errsize, "too long");
		return -1;
	}
	if (policy_rule_parse(r, words, (size_t)n, err, errsize) == -1)
		return -1;
	if (r->dir != POLICY_ANY || r->from[0] != '\0' || r->to[0] != '\0') {
		(void)snprintf(err, errsize, "a directory entry has actions "
		    "only (no direction, from or to)");
		return -1;
	}
	return 0;
}

void
policy_override(struct policy *out, const struct policy_rule *entry,
    const char *key)
{
	apply(out, entry);
	(void)osms_strlcpy(out->via, key, sizeof(out->via));
}

const char *
policy_why(const struct policy *p, char *buf, size_t size)
{
	if (p->line != 0)
		(void)snprintf(buf, size, "rule at line %d", p->line);
	else
		(void)snprintf(buf, size, "the defaults");
	if (p->via[0] != '\0') {
		(void)osms_strlcat(buf, ", the directory's entry for ", size);
		(void)osms_strlcat(buf, p->via, size);
	}
	return buf;
}

const char *
policy_local_party(enum policy_dir dir, const char *from, const char *to)
{
	return dir == POLICY_INBOUND ? to : from;
}

const char *
policy_encrypt_name(enum policy_encrypt e)
{
	return (size_t)e < nitems(encrypt_names) && encrypt_names[e] != NULL ?
	    encrypt_names[e] : "?";
}

const char *
policy_sign_name(enum policy_sign s)
{
	return (size_t)s < nitems(sign_names) && sign_names[s] != NULL ?
	    sign_names[s] : "?";
}
