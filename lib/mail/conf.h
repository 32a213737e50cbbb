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

#include "osms_imsg.h"

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

enum table_backend { TABLE_FILE, TABLE_POSTGRES };

struct conf_table {
	TAILQ_ENTRY(conf_table)	 entry;
	char			 name[CONF_MAX_NAME];
	enum table_backend	 backend;
	char			 source[CONF_MAX_PATH];	/* path or conninfo */
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
	char			 name[CONF_MAX_NAME];	/* lower case */
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

/* Settings every spawned role has; index is enum osms_role. */
struct conf_role {
	char			 user[64];	/* "" = role_info() default */
};

struct conf_smtpd {
	uint64_t		 max_message_size;
	uint32_t		 max_recipients;
	uint32_t		 max_line;
	uint32_t		 timeout;
};

struct conf_scand {
	char			 database[CONF_MAX_PATH];	/* "" = none */
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

	struct conf_role	 roles[ROLE_COUNT];
	struct conf_smtpd	 smtpd;
	struct conf_scand	 scand;
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

/* Lookups by name; NULL if absent. */
struct conf_pki	*conf_pki_find(const struct osms_conf *, const char *);
struct conf_table *conf_table_find(const struct osms_conf *, const char *);

/* The user a role runs as: its configured user, else the role default. */
const char	*conf_role_user(const struct osms_conf *, enum osms_role);

const char	*conf_proto_name(enum listen_proto);
const char	*conf_tls_name(enum listen_tls);

#endif
