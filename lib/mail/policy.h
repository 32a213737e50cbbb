/*
 * The gateway's policy: ordered rules from the cryptod block of
 * osmsd.conf, of which the first that matches a message's direction,
 * sender and recipient says what cryptod does (first match wins; what
 * that rule leaves out takes the default):
 *
 *	rule [inbound|outbound|internal] [from WHO] [to WHO] ACTION ...
 *
 *	WHO	an address (a@b.example), a domain (b.example), a domain
 *		and its subdomains (.b.example), * (anyone), or <TABLE>:
 *		an address the table lists, itself or by its domain
 *	ACTION	sign never|if-possible|always
 *		encrypt never|if-possible|mandatory|mandatory-or-tls
 *		decrypt yes|no
 *		user-encrypted pass|reject
 *		keep-original yes|no	(inbound: the encrypted message too)
 *		subject-tag yes|no	(inbound: [encrypted], [signed] ...)
 *		prefer smime|openpgp	(outbound: when both are known)
 *		autocrypt yes|no	(outbound: the sender's OpenPGP key
 *					in an Autocrypt field; inbound: a
 *					sender's key taken from one)
 *		pgp-keys no|signed|yes	(inbound: the sender's OpenPGP key
 *					from an attached application/
 *					pgp-keys part: signed, only when
 *					that key's signature over the
 *					message verifies)
 *		harvest any|verified	(inbound: certificates and keys
 *					are kept from any sender, or only
 *					when checkd verified the From
 *					domain: DMARC pass)
 *		require-signed
 *
 * Defaults: outbound and internal mail is signed and encrypted if
 * possible (S/MIME when the recipient has both) and a user's own
 * encryption passes; inbound mail is decrypted, need not be signed, and
 * is delivered without its encrypted original and with its Subject as
 * it came; no OpenPGP key is taken from mail (autocrypt no, pgp-keys
 * no); what may be harvested is harvested from any sender (harvest
 * any).
 *
 * The directory may say more for one local user or domain (cryptod's
 * policy-table: a key, an address or a domain, and ACTION words): what
 * the user's entry says, else the domain's, overrides the rule's word
 * for the mail of that user, who is the sender of outbound and internal
 * mail and the recipient of inbound mail.
 */
#ifndef OSMS_POLICY_H
#define OSMS_POLICY_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_WORDS	24
#define POLICY_MAX_WHO		256
#define POLICY_MAX_TEXT		1024	/* a rule written out */

enum policy_dir {
	POLICY_ANY,
	POLICY_INBOUND,		/* from outside to a local user */
	POLICY_OUTBOUND,	/* from a local user to outside */
	POLICY_INTERNAL,	/* from a local user to a local user */
};

/* Each action: 0 is "not said" in a rule, never in a result. */
enum policy_sign { SIGN_NEVER = 1, SIGN_IF_POSSIBLE, SIGN_ALWAYS };
enum policy_encrypt {
	ENCRYPT_NEVER = 1,
	ENCRYPT_IF_POSSIBLE,
	ENCRYPT_MANDATORY,
	ENCRYPT_MANDATORY_OR_TLS,	/* else only over verified TLS */
};
enum policy_yesno { POLICY_NO = 1, POLICY_YES };
enum policy_user_encrypted { USER_ENCRYPTED_PASS = 1, USER_ENCRYPTED_REJECT };
enum policy_prefer { PREFER_SMIME = 1, PREFER_OPENPGP };
enum policy_pgp_keys { PGP_KEYS_NO = 1, PGP_KEYS_SIGNED, PGP_KEYS_YES };
enum policy_harvest { HARVEST_ANY = 1, HARVEST_VERIFIED };

struct policy_rule {
	TAILQ_ENTRY(policy_rule) entry;
	uint32_t		 dir;		/* enum policy_dir */
	char			 from[POLICY_MAX_WHO];	/* "" anyone */
	char			 to[POLICY_MAX_WHO];
	uint32_t		 sign, encrypt, decrypt, user_encrypted;
	uint32_t		 keep_original, subject_tag;
	uint32_t		 prefer, autocrypt, pgp_keys, harvest;
	uint32_t		 require_signed;	/* POLICY_YES or 0 */
	int			 line;
};
TAILQ_HEAD(policy_rules, policy_rule);

/* What applies to one sender and recipient. */
struct policy {
	enum policy_sign		 sign;
	enum policy_encrypt		 encrypt;
	enum policy_yesno		 decrypt;
	enum policy_user_encrypted	 user_encrypted;
	enum policy_yesno		 keep_original;
	enum policy_yesno		 subject_tag;
	enum policy_prefer		 prefer;
	enum policy_yesno		 autocrypt;
	enum policy_pgp_keys		 pgp_keys;
	enum policy_harvest		 harvest;
	int				 require_signed;
	int				 line;	/* the rule's, 0: defaults */
	char				 via[POLICY_MAX_WHO];	/* "" or the
					   directory entry that said more */
};

/*
 * Is address listed by the table (itself, else its domain)? 1, 0, or -1
 * when the table cannot tell now (the policy is then unknown).
 */
typedef int	(*policy_member_fn)(const char *table, const char *address,
		    void *arg);

/* The words after "rule": 0, or -1 and a message in err. */
int	 policy_rule_parse(struct policy_rule *, char *const *words,
	    size_t n, char *err, size_t errsize);
/* The words of a rule, as policy_rule_parse() reads them. */
void	 policy_rule_format(const struct policy_rule *, char *, size_t);
/* Split a rule's text into words (in place): how many, -1 if too many. */
int	 policy_split(char *text, char **words, size_t max);
/* The policy of the first rule that matches, with the defaults: 0, or
 * -1 if a table a rule names could not tell (member may be NULL when
 * no rule names one). */
int	 policy_match(const struct policy_rules *, enum policy_dir,
	    const char *from, const char *to, policy_member_fn, void *arg,
	    struct policy *);
/* A directory entry: ACTION words only. 0, or -1 and why. */
int	 policy_entry_parse(struct policy_rule *, const char *text,
	    char *err, size_t errsize);
/* What an entry (of key) says overrides the policy. */
void	 policy_override(struct policy *, const struct policy_rule *entry,
	    const char *key);
/* Where a policy came from, for people: "rule at line 12", "the
 * defaults", and ", the directory's entry for KEY" when one said more. */
const char *policy_why(const struct policy *, char *, size_t);
/* The local user whose directory entry counts: the sender of outbound
 * and internal mail, the recipient of inbound mail. */
const char *policy_local_party(enum policy_dir, const char *from,
	    const char *to);
const char *policy_encrypt_name(enum policy_encrypt);
const char *policy_sign_name(enum policy_sign);

#endif
