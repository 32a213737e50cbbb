/*
 * The parsed osmsd.conf: plain structs filled by parse.y. Only the parent
 * (and osmsctl, for the control socket path) reads the file; roles get
 * their slice over imsg.
 */
#ifndef OSMS_CONF_H
#define OSMS_CONF_H

#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>

#include "authres.h"
#include "osms_imsg.h"
#include "policy.h"

#define CONF_PATH_DEFAULT	"/etc/osms/osmsd.conf"
#define CONF_CONTROL_DEFAULT	"/run/osms/control.sock"
#define CONF_SPOOL_DEFAULT	"/var/spool/osms"
#define CONF_MAILSTORE_DEFAULT	"/var/mail/osms"
#define CONF_EMPTY_DEFAULT	"/var/lib/osms/empty"

#define CONF_MAX_FILE		(1024 * 1024)	/* a config is small */
#define CONF_MAX_TOKEN		1024		/* longest word or string */
#define CONF_MAX_NAME		256		/* pki, table, domain names */
#define CONF_MAX_PATH		1024

/* Defaults of the smtpd block (RFC 5321 limits, Postfix-like sizes). */
#define SMTPD_MAX_MESSAGE_SIZE	(35ULL * 1024 * 1024)
#define SMTPD_MAX_RECIPIENTS	1000
#define SMTPD_MAX_LINE		1000	/* text line incl. CRLF */
#define SMTPD_TIMEOUT		300	/* seconds idle before 421 */
#define SMTPD_AUTH_MAX_FAILURES	10	/* per client address or account */
#define SMTPD_MAX_CLIENT_SESSIONS 50	/* at once, per client address */
#define IMAPD_MAX_SESSIONS	1000	/* mail sessions on the server */
#define IMAPD_MAX_USER_SESSIONS	20	/* of one user */
#define IMAPD_TIMEOUT		1800	/* idle; RFC 9051: at least 30 min */
#define IMAPD_LOGIN_TIMEOUT	60	/* to log in */
#define QUEUE_DELAY_WARNING	(4 * 3600)	/* then a "delayed" DSN */
#define QUEUE_LIFETIME		(5 * 86400)	/* then bounce */
#define QUEUE_MAX_RETRY		3600		/* longest wait between tries */
#define MTA_DOMAIN_CONNECTIONS	20	/* to one destination at once */
#define MTA_TIMEOUT		300	/* seconds for a reply (RFC 5321 4.5.3.2) */
#define MTA_TRUST_ANCHOR	"/usr/share/dns/root.key"
#define MTA_CA_FILE		"/etc/ssl/certs/ca-certificates.crt"
#define CONF_MAX_SECRET		256	/* a smarthost password */
#define SCAND_DATABASE		"/var/lib/clamav"
#define CRYPTOD_STORE		"/var/lib/osms/certs"
#define SCAND_WORKERS		2	/* scans at once */
#define SCAND_MAX_SCANSIZE	(100ULL * 1024 * 1024)	/* as clamd's */
#define SCAND_MAX_FILESIZE	(25ULL * 1024 * 1024)
#define SCAND_MAX_FILES		10000
#define SCAND_MAX_RECURSION	16
#define SCAND_TIMEOUT		120	/* seconds smtpd waits for a scan */
#define CHECKD_WORKERS		4	/* messages checked at once */
#define CHECKD_TIMEOUT		30	/* seconds smtpd waits for the checks */
#define CHECKD_PUBLIC_SUFFIX	"/usr/share/publicsuffix/public_suffix_list.dat"
#define CHECKD_SPAM_REJECT	15	/* rspamd's own reject score */
#define CHECKD_SPAM_JUNK	6	/* and its "add header" one */
#define CHECKD_SPAM_TIMEOUT	20	/* seconds for rspamd's answer */
#define CHECKD_DIRECTORY	"/var/lib/osms/check"	/* the greylist */
#define CHECKD_GREY_DELAY	300	/* seconds a first attempt waits */
#define CHECKD_DNSBL_THRESHOLD	1	/* a score that blocks */

enum table_backend { TABLE_FILE, TABLE_POSTGRES };

/*
 * The SQL a PostgreSQL table runs, one per purpose; "" means the default
 * for osms's own schema (sql/schema.sql). $1, $2 ... are the parameters
 * given, always as text:
 *
 *	domain		$1 domain: a row if it is local; an optional column
 *			"target" names the real domain of an alias domain
 *	user		$1 address: columns password, and optionally maildir,
 *			quota, quota_messages, scram, smtp, imap, pop3
 *	alias		$1 address: its targets, one a row or comma lists
 *	domain-add	$1 domain
 *	domain-del	$1 domain
 *	domain-list	rows: domain
 *	user-add	$1 address, $2 password hash, $3 maildir, $4 quota,
 *			$5 SCRAM secret or "", $6 local part, $7 domain
 *	user-del	$1 address
 *	user-list	$1 domain or "" for all; rows: address, quota
 *	user-password	$1 address, $2 password hash, $3 SCRAM secret or ""
 *	user-quota	$1 address, $2 quota in bytes (0: none)
 *	alias-add	$1 address, $2 target
 *	alias-del	$1 address, $2 target or "" for all of them
 *	alias-list	$1 domain or "" for all; rows: address, target
 *	audit-add	$1 time (ISO 8601, UTC), $2 message (queue id or
 *			"-"), $3 the gateway's decision: cryptod's audit
 *			trail, only ever appended to
 *	audit-list	$1 text or "" for all; rows: one column, the line
 *			"time message decision" (as in audit.log)
 *	crypt-policy	$1 address or domain: column policy, the gateway's
 *			actions for it (cryptod's policy-table)
 *	store-since	$1 a version: rows name, version, removed (t or
 *			f), data in hex, of the certificate store's files
 *			changed after that version, oldest first
 *	store-put	$1 name, $2 data in hex: a store file, added or
 *			changed
 *	store-remove	$1 name: a store file removed
 *	greylist-check	$1 a triplet's key, $2 its client network's
 *			(checkd's hashes), $3 the delay, $4 the retry
 *			window, $5 the lifetime, $6 the passes that
 *			whitelist a network (seconds, counts): one row, one
 *			column, the seconds still to wait (0: it passes)
 *
 * A table a gateway rule names (<t>) lists what its domain query
 * finds, asked with the address and then with its domain.
 */
enum table_query {
	TQ_DOMAIN,
	TQ_USER,
	TQ_ALIAS,
	TQ_DOMAIN_ADD,
	TQ_DOMAIN_DEL,
	TQ_DOMAIN_LIST,
	TQ_USER_ADD,
	TQ_USER_DEL,
	TQ_USER_LIST,
	TQ_USER_PASSWORD,
	TQ_USER_QUOTA,
	TQ_ALIAS_ADD,
	TQ_ALIAS_DEL,
	TQ_ALIAS_LIST,
	TQ_AUDIT_ADD,
	TQ_AUDIT_LIST,
	TQ_CRYPT_POLICY,
	TQ_STORE_SINCE,
	TQ_STORE_PUT,
	TQ_STORE_REMOVE,
	TQ_GREY_CHECK,
	TQ_COUNT
};
#define CONF_MAX_QUERY		2048

struct conf_table {
	TAILQ_ENTRY(conf_table)	 entry;
	char			 name[CONF_MAX_NAME];
	enum table_backend	 backend;
	char			 source[CONF_MAX_PATH];	/* path or conninfo */
	char			 queries[TQ_COUNT][CONF_MAX_QUERY];
	int			 line;
};

struct conf_pki {
	TAILQ_ENTRY(conf_pki)	 entry;
	char			 name[CONF_MAX_NAME];
	char			 cert[CONF_MAX_PATH];
	char			 key[CONF_MAX_PATH];
	int			 line;
};

struct conf_domain {
	TAILQ_ENTRY(conf_domain) entry;
	/* lower case; "*" for "domains <table>": every domain the table's
	 * domain query knows, with users and aliases from that table */
	char			 name[CONF_MAX_NAME];
	char			 users[CONF_MAX_NAME];	/* table name or "" */
	char			 aliases[CONF_MAX_NAME];/* table name or "" */
	int			 line;
};

struct conf_listener {
	TAILQ_ENTRY(conf_listener) entry;
	char			 addr[64];	/* numeric IPv4 or IPv6 */
	uint16_t		 port;
	enum listen_proto	 proto;
	enum listen_tls		 tls;
	uint32_t		 flags;		/* LISTEN_AUTH */
	char			 pki[CONF_MAX_NAME];	/* "" if none */
	int			 line;
};

/*
 * Outbound delivery: how mail for a domain leaves (by MX, or through a
 * host of its own), and the TLS it insists on. The route without a
 * domain is the default for every other domain (a smarthost when it
 * names a host).
 */
enum relay_tls {
	RELAY_TLS_NONE,		/* plaintext, even if STARTTLS is offered */
	RELAY_TLS_OPPORTUNISTIC,/* STARTTLS if offered; DANE when published */
	RELAY_TLS_REQUIRE,	/* STARTTLS or defer; any certificate */
	RELAY_TLS_VERIFY,	/* STARTTLS with a certificate that verifies */
};

struct conf_relay {
	TAILQ_ENTRY(conf_relay)	 entry;
	char			 domain[CONF_MAX_NAME];	/* "" = default */
	char			 host[CONF_MAX_NAME];	/* "" = by MX */
	uint16_t		 port;			/* 0 = 25 */
	enum relay_tls		 tls;
	char			 auth_user[CONF_MAX_NAME];	/* "" = none */
	char			 secret[CONF_MAX_PATH];	/* password file */
	int			 line;
};

/* A DKIM key that signs the mail of a local domain (held by cryptod). */
struct conf_dkim {
	TAILQ_ENTRY(conf_dkim)	 entry;
	char			 domain[CONF_MAX_NAME];
	char			 selector[CONF_MAX_NAME];
	char			 key[CONF_MAX_PATH];
	int			 line;
};

/* Settings every spawned role has; index is enum osms_role. */
struct conf_role {
	char			 user[64];	/* "" = role_info() default */
};

struct conf_queue {
	uint32_t		 delay_warning;		/* seconds, 0: none */
	uint32_t		 lifetime;		/* seconds */
	uint32_t		 max_retry;		/* seconds */
};

struct conf_mta {
	char			 resolver[CONF_MAX_NAME];/* "" = resolv.conf */
	char			 trust_anchor[CONF_MAX_PATH];	/* "" = none */
	char			 ca_file[CONF_MAX_PATH];
	uint32_t		 domain_connections;
	uint32_t		 timeout;		/* seconds */
};

struct conf_smtpd {
	uint64_t		 max_message_size;
	uint32_t		 max_recipients;
	uint32_t		 max_line;
	uint32_t		 timeout;
	int			 sender_check;	/* MAIL FROM: the user's */
	uint32_t		 max_messages_per_hour;	/* per user; 0: none */
	uint32_t		 auth_max_failures; /* then 454 a while */
	/* Per client address (an IPv6 one by its /64); 0: no limit. */
	uint32_t		 max_client_sessions;	/* at once */
	uint32_t		 max_client_connections; /* a minute */
	uint32_t		 max_client_recipients;	/* a minute */
};

struct conf_imapd {
	uint32_t		 max_sessions;
	uint32_t		 max_user_sessions;
	uint32_t		 timeout;		/* seconds */
	uint32_t		 login_timeout;		/* seconds */
};

/* What happens to a message with a virus, and to one not scanned. */
enum scan_action { SCAN_REJECT, SCAN_QUARANTINE, SCAN_TAG };
enum scan_fallback { SCAN_TEMPFAIL, SCAN_ACCEPT };

struct conf_scand {
	int			 enable;	/* scan every message */
	char			 database[CONF_MAX_PATH];	/* the jail */
	uint32_t		 workers;
	uint64_t		 max_scansize;
	uint64_t		 max_filesize;
	uint32_t		 max_files;
	uint32_t		 max_recursion;
	uint32_t		 timeout;		/* seconds */
	enum scan_action	 action;		/* from outside */
	enum scan_action	 submission_action;	/* from users */
	enum scan_fallback	 unscannable;
	enum scan_fallback	 on_failure;	/* scand down, slow, no DB */
};

/* Sender authentication of mail from outside (checkd). */
struct conf_checkd {
	int			 enable;
	int			 spf, dkim, dmarc;
	enum ar_action		 dmarc_reject;		/* p=reject fails */
	enum ar_action		 dmarc_quarantine;	/* p=quarantine fails */
	enum ar_action		 spf_fail;
	uint32_t		 workers;
	uint32_t		 timeout;		/* seconds */
	enum scan_fallback	 on_failure;		/* checkd down or slow */
	char			 public_suffix_list[CONF_MAX_PATH];
	char			 rspamd[256];		/* "" or ADDRESS:PORT */
	char			 spamd[256];		/* the same, SpamAssassin */
	uint32_t		 spam_reject, spam_junk;	/* 0: never */
	enum scan_fallback	 spam_on_failure;
	uint32_t		 spam_timeout;		/* seconds */
	char			 directory[CONF_MAX_PATH];	/* its jail */
	int			 greylist;
	uint32_t		 grey_delay;		/* seconds */
	char			 grey_exempt[1024];	/* networks */
	char			 grey_spf_exempt[1024];	/* domains */
	char			 dnsbl[1024];		/* "LIST:WEIGHT ..." */
	uint32_t		 dnsbl_threshold;
	int			 dnsbl_score;	/* add to the spam score */
	char			 arc_trusted[1024];	/* sealers' domains */
};

/* The gateway's certificate store: ADDRESS.pem and .key, DOMAIN.pem
 * and .key (keys of ours), trust.pem (the CAs whose signatures count),
 * harvested/ (signers' certificates, kept by cryptod). */
struct conf_cryptod {
	char			 store[CONF_MAX_PATH];
	/* "": keys in the store are plain PEM; else a root-only file whose
	 * first line encrypts them (PKCS#8), handed to cryptod open */
	char			 master_key[CONF_MAX_PATH];
	struct policy_rules	 rules;		/* policy.h, in order */
	/* "" or a table of users' and domains' own policy (policy.h) */
	char			 policy_table[CONF_MAX_NAME];
	int			 policy_table_line;
};

struct osms_conf {
	char			 path[CONF_MAX_PATH];	/* file it came from */
	char			 hostname[CONF_MAX_NAME];
	char			 control_socket[CONF_MAX_PATH];
	char			 spool[CONF_MAX_PATH];
	char			 mailstore[CONF_MAX_PATH];
	char			 empty[CONF_MAX_PATH];

	TAILQ_HEAD(, conf_pki)	 pkis;
	TAILQ_HEAD(, conf_table) tables;
	TAILQ_HEAD(, conf_domain) domains;
	TAILQ_HEAD(, conf_listener) listeners;
	TAILQ_HEAD(, conf_relay) relays;
	TAILQ_HEAD(, conf_dkim)	 dkims;
	/* SRS for forwarded mail: "" if off */
	char			 srs_domain[CONF_MAX_NAME];
	char			 srs_secret[CONF_MAX_PATH];
	int			 srs_line;

	struct conf_role	 roles[ROLE_COUNT];
	struct conf_smtpd	 smtpd;
	struct conf_imapd	 imapd;
	struct conf_queue	 queue;
	struct conf_mta		 mta;
	struct conf_scand	 scand;
	struct conf_cryptod	 cryptod;
	struct conf_checkd	 checkd;
};

/*
 * Parse a file (conf_parse_file) or a buffer named "name" (conf_parse_buffer,
 * used by tests and the fuzzer). Errors are reported one per line as
 * "NAME:LINE: message" to errfp (may be NULL); on any error NULL is
 * returned. Macros given as "name=value" in defines are set before parsing.
 */
struct osms_conf *conf_parse_file(const char *path, FILE *errfp,
		    char *const *defines);
struct osms_conf *conf_parse_buffer(const char *name, const char *buf,
		    size_t len, FILE *errfp, char *const *defines);
void		 conf_free(struct osms_conf *);

/* Print the configuration in canonical form: macros expanded, every
 * default spelt out. conf_parse_buffer() of the output gives an equal
 * configuration. */
void		 conf_dump(const struct osms_conf *, FILE *);

/* 1 if the directory is (also) in PostgreSQL: a domain's users come
 * from a PostgreSQL table. authd keeps what osms stores in the
 * directory's database there (the audit trail, the greylist). */
int		 conf_directory_pg(const struct osms_conf *);

/* Lookups by name; NULL if absent. */
struct conf_pki	*conf_pki_find(const struct osms_conf *, const char *);
struct conf_table *conf_table_find(const struct osms_conf *, const char *);

/* The user a role runs as: its configured user, else the role default. */
const char	*conf_role_user(const struct osms_conf *, enum osms_role);

const char	*conf_proto_name(enum listen_proto);
/* "domain", "user-add" ...; -1 from conf_query_from_name if unknown. */
const char	*conf_query_name(enum table_query);
int		 conf_query_from_name(const char *);
const char	*conf_tls_name(enum listen_tls);
const char	*conf_scan_action_name(enum scan_action);
/* "none", "opportunistic" ...; -1 from conf_relay_tls_from_name. */
const char	*conf_relay_tls_name(enum relay_tls);
int		 conf_relay_tls_from_name(const char *);
/* The route for a destination domain (lower case): its own, else the
 * default one, else NULL (by MX, opportunistic TLS). */
const struct conf_relay *conf_relay_find(const struct osms_conf *,
		    const char *domain);

#endif
