/*
 * The osmsd.conf grammar and its lexer; osmsd.conf(5) documents both and
 * is kept beside this file.
 *
 * Who reads it: the parent (and osmsctl for the control socket path), as
 * root, before anything else runs. The file is trusted as far as its
 * meaning goes but not as bytes: every limit is checked, so that a broken
 * or hostile file ends in error messages, never in a crash or a hang.
 *
 * The parser is reentrant: all state is in struct parser, passed to the
 * lexer and to the actions, so the fuzzer can call it in a loop. Every
 * string the lexer hands out is freed by the action that takes it, or by
 * a %destructor when bison discards it during error recovery.
 *
 * Lexing: a newline ends a statement, '#' starts a comment, a backslash
 * before a newline joins the lines. "..." strings know only \" and \\.
 * $name pushes the macro's value as a new input frame that is lexed like
 * the file (a frame's end is a token boundary). Frames nest at most
 * CONF_MACRO_DEPTH deep, a macro may not appear inside its own expansion,
 * and all expansions together add at most CONF_MAX_EXPANSION bytes.
 */

%code requires {
struct parser;
struct lbuild;
struct pbuild;
struct dbuild;
}

%code top {
#include <sys/types.h>
#include <sys/queue.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_private.h"
#include "netlist.h"
#include "role.h"
#include "util.h"
}

%define api.pure full
%define api.prefix {conf_yy}
%define api.token.prefix {T_}
%define api.location.type {int}
%define parse.error custom
%define parse.lac full
%locations
%parse-param {struct parser *p}
%lex-param {struct parser *p}

%union {
	char		*str;
	const char	*kw;
	int		 num;
	struct lbuild	*lb;
	struct pbuild	*pb;
	struct dbuild	*db;
	struct rbuild	*rb;
}

%code {
#define C_EOF		(-1)
#define C_FRAME_END	(-2)	/* end of a macro value, a boundary */
#define MACRO_BUCKETS	256

/* Bison's locations are plain line numbers here. */
#define YYLLOC_DEFAULT(cur, rhs, n) do {				\
	if (n)								\
		(cur) = YYRHSLOC(rhs, 1);				\
	else								\
		(cur) = YYRHSLOC(rhs, 0);				\
} while (0)

struct macro {
	struct macro	*next;
	char		*name;
	char		*value;
	int		 persist;	/* from -D: final */
};

/* The value of a macro being lexed: a copy, so a redefinition while it
 * is read cannot pull it away. */
struct frame {
	const struct macro *macro;
	char		*buf;
	size_t		 len;
	size_t		 pos;
	int		 ended;		/* C_FRAME_END was returned */
};

struct parser {
	struct osms_conf	*conf;
	struct conf_report	*rep;
	const char		*in;
	size_t			 inlen;
	size_t			 inpos;
	struct frame		 frames[CONF_MACRO_DEPTH];
	int			 depth;
	size_t			 expanded;
	int			 lineno;
	int			 last;		/* -1 at start */
	int			 role;		/* current block */
	struct conf_table	*table;		/* current postgres block */
	struct macro		*macros[MACRO_BUCKETS];
	char			 tok[CONF_MAX_TOKEN + 1];
	char			 near[80];	/* for messages */
	char			*rule[POLICY_MAX_WORDS];	/* a rule's words */
	size_t			 nrule;
	int			 rule_long;	/* more words than that */
};

/* Options of a statement, collected before the statement is complete. */
#define SEEN_PORT	0x01
#define SEEN_PROTO	0x02
#define SEEN_TLS	0x04
#define SEEN_PKI	0x08
#define SEEN_AUTH	0x10
#define SEEN_CERT	0x20
#define SEEN_KEY	0x40
#define SEEN_USERS	0x80
#define SEEN_ALIASES	0x100
#define SEEN_DOMAIN	0x200
#define SEEN_HOST	0x400

struct lbuild {
	struct conf_listener	 l;
	unsigned		 seen;
};

struct pbuild {
	char			 cert[CONF_MAX_PATH];
	char			 key[CONF_MAX_PATH];
	unsigned		 seen;
};

struct rbuild {
	struct conf_relay	 r;
	unsigned		 seen;
};

struct dbuild {
	char			 users[CONF_MAX_NAME];
	char			 aliases[CONF_MAX_NAME];
	unsigned		 seen;
};

static int	 yylex(YYSTYPE *, YYLTYPE *, struct parser *);
static void	 yyerror(YYLTYPE *, struct parser *, const char *);

static void	 macro_set(struct parser *, int, const char *, const char *,
		    int);
static void	 set_hostname(struct parser *, int, const char *);
static void	 set_path(struct parser *, int, const char *, char *,
		    const char *);
static void	 pki_opt(struct parser *, int, struct pbuild *, unsigned,
		    const char *);
static void	 pki_add(struct parser *, int, const char *,
		    struct pbuild *);
static void	 table_add(struct parser *, int, const char *,
		    enum table_backend, const char *);
static void	 domain_opt(struct parser *, int, struct dbuild *, unsigned,
		    const char *);
static void	 domain_add(struct parser *, int, const char *,
		    struct dbuild *);
static void	 listen_seen(struct parser *, int, struct lbuild *, unsigned,
		    const char *);
static void	 listen_port(struct parser *, int, struct lbuild *,
		    const char *);
static void	 listen_pki(struct parser *, int, struct lbuild *,
		    const char *);
static void	 listen_add(struct parser *, int, const char *,
		    struct lbuild *);
static void	 block_setting(struct parser *, int, const char *,
		    const char *);
static void	 query_set(struct parser *, int, const char *, const char *);
static void	 rule_reset(struct parser *);
static void	 rule_word(struct parser *, char *);
static void	 rule_table(struct parser *, char *);
static void	 rule_add(struct parser *, int);
static void	 policy_table_set(struct parser *, int, const char *);
static void	 domains_add(struct parser *, int, const char *);
static void	 relay_opt(struct parser *, int, struct rbuild *, unsigned,
		    const char *, const char *);
static void	 relay_add(struct parser *, int, struct rbuild *);
static void	 dkim_add(struct parser *, int, const char *, const char *,
		    const char *);
static void	 srs_set(struct parser *, int, const char *, const char *);
}

%token <kw> ALIASES "aliases" AUTH "auth" AUTHD "authd"
%token <kw> CERTIFICATE "certificate" CONTROL "control" CRYPTOD "cryptod"
%token <kw> DATABASE "database" DELIVERY "delivery" DIRECTORY "directory"
%token <kw> DOMAIN "domain" EMPTY "empty" FILE "file" HOSTNAME "hostname"
%token <kw> IMAP "imap" IMAPD "imapd" KEY "key" LISTEN "listen" MAIL "mail"
%token <kw> MAXLINE "max-line-length" MAXMSG "max-message-size"
%token <kw> MAXRCPT "max-recipients" ON "on" PKI "pki" POP3 "pop3"
%token <kw> PORT "port" POSTGRES "postgres" QUEUE "queue" SCAND "scand"
%token <kw> SMTP "smtp" SMTPD "smtpd" SOCKET "socket" STARTTLS "starttls"
%token <kw> STARTTLSREQ "starttls-require" SUBMISSION "submission"
%token <kw> TABLE "table" TIMEOUT "timeout" TLS "tls" USER "user"
%token <kw> USERS "users" DOMAINS "domains" QUERY "query"
%token <kw> SENDERCHECK "sender-check" MAXMSGHOUR "max-messages-per-hour"
%token <kw> AUTHFAIL "auth-max-failures"
%token <kw> MAXCLSESS "max-client-sessions"
%token <kw> MAXCLCONN "max-client-connections-per-minute"
%token <kw> MAXCLRCPT "max-client-recipients-per-minute"
%token <kw> MAXSESS "max-sessions" MAXUSERSESS "max-user-sessions"
%token <kw> LOGINTIMEOUT "login-timeout" DELAYWARN "delay-warning"
%token <kw> RELAY "relay" HOST "host" SECRET "secret" DKIM "dkim"
%token <kw> SELECTOR "selector" MTA "mta" RESOLVER "resolver"
%token <kw> TRUSTANCHOR "trust-anchor" CAFILE "ca-file"
%token <kw> DOMCONN "max-domain-connections" LIFETIME "lifetime"
%token <kw> MAXRETRY "max-retry-interval" SRS "srs"
%token <kw> WORKERS "workers" MAXSCANSIZE "max-scan-size"
%token <kw> MAXFILESIZE "max-file-size" MAXFILES "max-files"
%token <kw> MAXRECURSION "max-recursion" ACTION "action"
%token <kw> SUBACTION "submission-action" UNSCANNABLE "unscannable"
%token <kw> ONFAILURE "on-failure" ENABLE "enable"
%token <kw> CERTIFICATES "certificates" RULE "rule" MASTERKEY "master-key"
%token <kw> POLICYTABLE "policy-table"
%token <kw> CHECKD "checkd" KEYD "keyd" SPF "spf" DMARC "dmarc"
%token <kw> DMARCREJECT "dmarc-reject" DMARCQUAR "dmarc-quarantine"
%token <kw> SPFFAIL "spf-fail" PSL "public-suffix-list"
%token <kw> RSPAMD "rspamd" SPAMREJECT "spam-reject" SPAMJUNK "spam-junk"
%token <kw> SPAMFAIL "spam-on-failure" SPAMTIMEOUT "spam-timeout"
%token <kw> GREYLIST "greylist" GREYDELAY "greylist-delay"
%token <kw> GREYEXEMPT "greylist-exempt" GREYSPF "greylist-spf-exempt"
%token <kw> DNSBL "dnsbl" DNSBLTHRESH "dnsbl-threshold"
%token <kw> ARCTRUSTED "arc-trusted" SPAMD "spamd"
%token <kw> DNSBLACTION "dnsbl-action"
%token <str> STRING "string"

%type <str> str tableref
%type <kw> keyword rolekw setting
%type <num> proto tlsmode
%type <lb> listenopts
%type <pb> pkiopts
%type <db> domainopts
%type <rb> relayopts

%destructor { free($$); } <str> <lb> <pb> <db> <rb>

%%

grammar		: %empty
		| grammar '\n'
		| grammar stmt '\n'
		| grammar error '\n'		{ yyerrok; }
		;

stmt		: macro
		| hostname
		| directory
		| pki
		| table
		| domain
		| domains
		| listen
		| relay
		| dkim
		| srs
		| roleblock
		;

/* A value: a string, or a word, even one that is a keyword elsewhere. */
str		: STRING
		| keyword			{ $$ = xstrdup($1); }
		;

keyword		: ALIASES | AUTH | AUTHD | CERTIFICATE | CONTROL
		| CRYPTOD | DATABASE | DELIVERY | DIRECTORY | DOMAIN | EMPTY
		| FILE | HOSTNAME | IMAP | IMAPD | KEY | LISTEN | MAIL
		| MAXLINE | MAXMSG | MAXRCPT | ON | PKI | POP3 | PORT
		| POSTGRES | QUEUE | SCAND | SMTP | SMTPD | SOCKET | STARTTLS
		| STARTTLSREQ | SUBMISSION | TABLE | TIMEOUT | TLS | USER
		| USERS | DOMAINS | QUERY | SENDERCHECK | MAXMSGHOUR | AUTHFAIL
		| MAXSESS | MAXUSERSESS | LOGINTIMEOUT | DELAYWARN
		| RELAY | HOST | SECRET | DKIM | SELECTOR | MTA | RESOLVER
		| TRUSTANCHOR | CAFILE | DOMCONN | LIFETIME | MAXRETRY | SRS
		| WORKERS | MAXSCANSIZE | MAXFILESIZE | MAXFILES | MAXRECURSION
		| ACTION | SUBACTION | UNSCANNABLE | ONFAILURE | ENABLE
		| CERTIFICATES | RULE | MASTERKEY | POLICYTABLE | MAXCLSESS
		| MAXCLCONN | MAXCLRCPT | CHECKD | KEYD | SPF | DMARC | DMARCREJECT
		| DMARCQUAR | SPFFAIL | PSL | RSPAMD | SPAMREJECT | SPAMJUNK
		| SPAMFAIL | SPAMTIMEOUT | GREYLIST | GREYDELAY | GREYEXEMPT
		| GREYSPF | DNSBL | DNSBLTHRESH | ARCTRUSTED | SPAMD
		| DNSBLACTION
		;

macro		: STRING '=' str {
			macro_set(p, @1, $1, $3, 0);
			free($1);
			free($3);
		}
		;

hostname	: HOSTNAME str {
			set_hostname(p, @2, $2);
			free($2);
		}
		;

directory	: CONTROL SOCKET str {
			set_path(p, @3, "control socket",
			    p->conf->control_socket, $3);
			free($3);
		}
		| QUEUE DIRECTORY str {
			set_path(p, @3, "queue directory", p->conf->spool, $3);
			free($3);
		}
		| MAIL DIRECTORY str {
			set_path(p, @3, "mail directory", p->conf->mailstore,
			    $3);
			free($3);
		}
		| EMPTY DIRECTORY str {
			set_path(p, @3, "empty directory", p->conf->empty, $3);
			free($3);
		}
		;

pki		: PKI str pkiopts {
			pki_add(p, @1, $2, $3);
			free($2);
			free($3);
		}
		;

pkiopts		: %empty		{ $$ = xcalloc(1, sizeof(*$$)); }
		| pkiopts CERTIFICATE str {
			$$ = $1;
			pki_opt(p, @2, $$, SEEN_CERT, $3);
			free($3);
		}
		| pkiopts KEY str {
			$$ = $1;
			pki_opt(p, @2, $$, SEEN_KEY, $3);
			free($3);
		}
		;

table		: TABLE str FILE str {
			table_add(p, @1, $2, TABLE_FILE, $4);
			free($2);
			free($4);
		}
		| TABLE str POSTGRES str {
			/* $2 and $4 stay owned by the stack until the end,
			 * so error recovery in the block frees them. */
			table_add(p, @1, $2, TABLE_POSTGRES, $4);
		} pgblock {
			free($2);
			free($4);
		}
		;

pgblock		: %empty
		| '{' pgitems '}'
		| '{' pgitems pgitem '}'
		| '{' pgitems error '}'		{ yyerrok; }
		;

pgitems		: %empty
		| pgitems '\n'
		| pgitems pgitem '\n'
		| pgitems error '\n'		{ yyerrok; }
		;

pgitem		: QUERY str str {
			query_set(p, @1, $2, $3);
			free($2);
			free($3);
		}
		;

domains		: DOMAINS tableref {
			domains_add(p, @1, $2);
			free($2);
		}
		;

domain		: DOMAIN str domainopts {
			domain_add(p, @1, $2, $3);
			free($2);
			free($3);
		}
		;

domainopts	: %empty		{ $$ = xcalloc(1, sizeof(*$$)); }
		| domainopts USERS tableref {
			$$ = $1;
			domain_opt(p, @2, $$, SEEN_USERS, $3);
			free($3);
		}
		| domainopts ALIASES tableref {
			$$ = $1;
			domain_opt(p, @2, $$, SEEN_ALIASES, $3);
			free($3);
		}
		;

tableref	: '<' str '>'			{ $$ = $2; }
		;

listen		: LISTEN ON str listenopts {
			listen_add(p, @1, $3, $4);
			free($3);
			free($4);
		}
		;

listenopts	: %empty		{ $$ = xcalloc(1, sizeof(*$$)); }
		| listenopts PORT str {
			$$ = $1;
			listen_port(p, @2, $$, $3);
			free($3);
		}
		| listenopts proto {
			$$ = $1;
			listen_seen(p, @2, $$, SEEN_PROTO, "protocol");
			$$->l.proto = (enum listen_proto)$2;
		}
		| listenopts tlsmode {
			$$ = $1;
			listen_seen(p, @2, $$, SEEN_TLS, "TLS mode");
			$$->l.tls = (enum listen_tls)$2;
		}
		| listenopts PKI str {
			$$ = $1;
			listen_pki(p, @2, $$, $3);
			free($3);
		}
		| listenopts AUTH {
			$$ = $1;
			listen_seen(p, @2, $$, SEEN_AUTH, "auth");
			$$->l.flags |= LISTEN_AUTH;
		}
		;

relay		: RELAY relayopts {
			relay_add(p, @1, $2);
			free($2);
		}
		;

relayopts	: %empty		{ $$ = xcalloc(1, sizeof(*$$)); }
		| relayopts DOMAIN str {
			$$ = $1;
			relay_opt(p, @2, $$, SEEN_DOMAIN, $3, NULL);
			free($3);
		}
		| relayopts HOST str {
			$$ = $1;
			relay_opt(p, @2, $$, SEEN_HOST, $3, NULL);
			free($3);
		}
		| relayopts PORT str {
			$$ = $1;
			relay_opt(p, @2, $$, SEEN_PORT, $3, NULL);
			free($3);
		}
		| relayopts TLS str {
			$$ = $1;
			relay_opt(p, @2, $$, SEEN_TLS, $3, NULL);
			free($3);
		}
		| relayopts AUTH str SECRET str {
			$$ = $1;
			relay_opt(p, @2, $$, SEEN_AUTH, $3, $5);
			free($3);
			free($5);
		}
		;

dkim		: DKIM DOMAIN str SELECTOR str KEY str {
			dkim_add(p, @1, $3, $5, $7);
			free($3);
			free($5);
			free($7);
		}
		;

srs		: SRS DOMAIN str SECRET str {
			srs_set(p, @1, $3, $5);
			free($3);
			free($5);
		}
		;

proto		: SMTP				{ $$ = PROTO_SMTP; }
		| SUBMISSION			{ $$ = PROTO_SUBMISSION; }
		| IMAP				{ $$ = PROTO_IMAP; }
		| POP3				{ $$ = PROTO_POP3; }
		;

tlsmode		: STARTTLS			{ $$ = TLS_STARTTLS; }
		| STARTTLSREQ		{ $$ = TLS_STARTTLS_REQUIRE; }
		| TLS				{ $$ = TLS_IMPLICIT; }
		;

roleblock	: role '{' blockitems '}'
		| role '{' blockitems blockitem '}'
		| role '{' blockitems error '}'	{ yyerrok; }
		;

role		: rolekw		{ p->role = role_from_name($1); }
		| STRING {
			char	 q[80];

			conf_error(p->rep, @1, "unknown block %s (control, "
			    "smtpd, queue, delivery, mta, imapd, authd, cryptod"
			    ", scand, checkd or keyd)", conf_quote(q, sizeof(q),
			    $1));
			p->role = -1;
			free($1);
		}
		;

rolekw		: CONTROL | QUEUE | SMTPD | DELIVERY | MTA | IMAPD | AUTHD
		| CRYPTOD | SCAND | CHECKD | KEYD
		;

blockitems	: %empty
		| blockitems '\n'
		| blockitems blockitem '\n'
		| blockitems error '\n'		{ yyerrok; }
		;

blockitem	: setting str {
			block_setting(p, @1, $1, $2);
			free($2);
		}
		| RULE { rule_reset(p); } rulewords {
			rule_add(p, @1);
		}
		| POLICYTABLE tableref {
			policy_table_set(p, @1, $2);
			free($2);
		}
		;

/* A table in a rule is the word "<name>" (policy.c reads it). */
rulewords	: str				{ rule_word(p, $1); }
		| tableref			{ rule_table(p, $1); }
		| rulewords str			{ rule_word(p, $2); }
		| rulewords tableref		{ rule_table(p, $2); }
		;

setting		: USER | MAXMSG | MAXRCPT | MAXLINE | TIMEOUT | DATABASE
		| SENDERCHECK | MAXMSGHOUR | AUTHFAIL | MAXSESS | MAXUSERSESS
		| LOGINTIMEOUT | DELAYWARN | RESOLVER | TRUSTANCHOR | CAFILE
		| DOMCONN | LIFETIME | MAXRETRY | WORKERS | MAXSCANSIZE
		| MAXFILESIZE | MAXFILES | MAXRECURSION | ACTION | SUBACTION
		| UNSCANNABLE | ONFAILURE | ENABLE | CERTIFICATES | MASTERKEY
		| MAXCLSESS | MAXCLCONN | MAXCLRCPT | SPF | DKIM | DMARC
		| DMARCREJECT | DMARCQUAR | SPFFAIL | PSL | RSPAMD | SPAMREJECT
		| SPAMJUNK | SPAMFAIL | SPAMTIMEOUT | GREYLIST | GREYDELAY
		| GREYEXEMPT | GREYSPF | DIRECTORY | DNSBL | DNSBLTHRESH
		| ARCTRUSTED | SPAMD | DNSBLACTION
		;

%%

/* Sorted for bsearch. */
static const struct keyword {
	const char	*name;
	int		 token;
} keywords[] = {
	{ "action",		T_ACTION },
	{ "aliases",		T_ALIASES },
	{ "arc-trusted",	T_ARCTRUSTED },
	{ "auth",		T_AUTH },
	{ "auth-max-failures",	T_AUTHFAIL },
	{ "authd",		T_AUTHD },
	{ "ca-file",		T_CAFILE },
	{ "certificate",	T_CERTIFICATE },
	{ "certificates",	T_CERTIFICATES },
	{ "checkd",		T_CHECKD },
	{ "control",		T_CONTROL },
	{ "cryptod",		T_CRYPTOD },
	{ "database",		T_DATABASE },
	{ "delay-warning",	T_DELAYWARN },
	{ "delivery",		T_DELIVERY },
	{ "directory",		T_DIRECTORY },
	{ "dkim",		T_DKIM },
	{ "dmarc",		T_DMARC },
	{ "dmarc-quarantine",	T_DMARCQUAR },
	{ "dmarc-reject",	T_DMARCREJECT },
	{ "dnsbl",		T_DNSBL },
	{ "dnsbl-action",	T_DNSBLACTION },
	{ "dnsbl-threshold",	T_DNSBLTHRESH },
	{ "domain",		T_DOMAIN },
	{ "domains",		T_DOMAINS },
	{ "empty",		T_EMPTY },
	{ "enable",		T_ENABLE },
	{ "file",		T_FILE },
	{ "greylist",		T_GREYLIST },
	{ "greylist-delay",	T_GREYDELAY },
	{ "greylist-exempt",	T_GREYEXEMPT },
	{ "greylist-spf-exempt", T_GREYSPF },
	{ "host",		T_HOST },
	{ "hostname",		T_HOSTNAME },
	{ "imap",		T_IMAP },
	{ "imapd",		T_IMAPD },
	{ "key",		T_KEY },
	{ "keyd",		T_KEYD },
	{ "lifetime",		T_LIFETIME },
	{ "listen",		T_LISTEN },
	{ "login-timeout",	T_LOGINTIMEOUT },
	{ "mail",		T_MAIL },
	{ "master-key",		T_MASTERKEY },
	{ "max-client-connections-per-minute", T_MAXCLCONN },
	{ "max-client-recipients-per-minute", T_MAXCLRCPT },
	{ "max-client-sessions", T_MAXCLSESS },
	{ "max-domain-connections", T_DOMCONN },
	{ "max-file-size",	T_MAXFILESIZE },
	{ "max-files",		T_MAXFILES },
	{ "max-line-length",	T_MAXLINE },
	{ "max-message-size",	T_MAXMSG },
	{ "max-messages-per-hour", T_MAXMSGHOUR },
	{ "max-recipients",	T_MAXRCPT },
	{ "max-recursion",	T_MAXRECURSION },
	{ "max-retry-interval",	T_MAXRETRY },
	{ "max-scan-size",	T_MAXSCANSIZE },
	{ "max-sessions",	T_MAXSESS },
	{ "max-user-sessions",	T_MAXUSERSESS },
	{ "mta",		T_MTA },
	{ "on",			T_ON },
	{ "on-failure",		T_ONFAILURE },
	{ "pki",		T_PKI },
	{ "policy-table",	T_POLICYTABLE },
	{ "pop3",		T_POP3 },
	{ "port",		T_PORT },
	{ "postgres",		T_POSTGRES },
	{ "public-suffix-list",	T_PSL },
	{ "query",		T_QUERY },
	{ "queue",		T_QUEUE },
	{ "relay",		T_RELAY },
	{ "resolver",		T_RESOLVER },
	{ "rspamd",		T_RSPAMD },
	{ "rule",		T_RULE },
	{ "scand",		T_SCAND },
	{ "secret",		T_SECRET },
	{ "selector",		T_SELECTOR },
	{ "sender-check",	T_SENDERCHECK },
	{ "smtp",		T_SMTP },
	{ "smtpd",		T_SMTPD },
	{ "socket",		T_SOCKET },
	{ "spam-junk",		T_SPAMJUNK },
	{ "spam-on-failure",	T_SPAMFAIL },
	{ "spam-reject",	T_SPAMREJECT },
	{ "spam-timeout",	T_SPAMTIMEOUT },
	{ "spamd",		T_SPAMD },
	{ "spf",		T_SPF },
	{ "spf-fail",		T_SPFFAIL },
	{ "srs",		T_SRS },
	{ "starttls",		T_STARTTLS },
	{ "starttls-require",	T_STARTTLSREQ },
	{ "submission",		T_SUBMISSION },
	{ "submission-action",	T_SUBACTION },
	{ "table",		T_TABLE },
	{ "timeout",		T_TIMEOUT },
	{ "tls",		T_TLS },
	{ "trust-anchor",	T_TRUSTANCHOR },
	{ "unscannable",	T_UNSCANNABLE },
	{ "user",		T_USER },
	{ "users",		T_USERS },
	{ "workers",		T_WORKERS },
};

static int
keyword_cmp(const void *key, const void *elem)
{
	const struct keyword	*kw = elem;

	return strcmp(key, kw->name);
}

static const struct keyword *
keyword_find(const char *s)
{
	return bsearch(s, keywords, nitems(keywords), sizeof(keywords[0]),
	    keyword_cmp);
}

/*
 * Input: the buffer, under a stack of macro frames.
 */

static int
lgetc(struct parser *p)
{
	struct frame	*f;

	while (p->depth > 0) {
		f = &p->frames[p->depth - 1];
		if (f->pos < f->len)
			return (unsigned char)f->buf[f->pos++];
		if (!f->ended) {
			f->ended = 1;
			return C_FRAME_END;
		}
		free(f->buf);
		f->buf = NULL;
		p->depth--;
	}
	if (p->inpos < p->inlen)
		return (unsigned char)p->in[p->inpos++];
	return C_EOF;
}

/* Give back the character lgetc() just returned. */
static void
lungetc(struct parser *p, int c)
{
	struct frame	*f;

	if (c == C_EOF)
		return;
	if (p->depth > 0) {
		f = &p->frames[p->depth - 1];
		if (c == C_FRAME_END)
			f->ended = 0;
		else
			f->pos--;
		return;
	}
	if (c != C_FRAME_END)
		p->inpos--;
}

/* After an error: drop the rest of the statement's line(s), up to (not
 * including) the newline, so the parser resynchronises there. */
static void
skip_line(struct parser *p)
{
	int	 c;

	for (;;) {
		c = lgetc(p);
		if (c == C_EOF)
			return;
		if (c == '\n') {
			lungetc(p, c);
			return;
		}
		if (c == '\\') {
			c = lgetc(p);
			if (c == '\n')
				p->lineno++;
			else
				lungetc(p, c);
		}
	}
}

static int
lex_error(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
lex_error(struct parser *p, int line, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[256];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_error(p->rep, line, "%s", msg);
	skip_line(p);
	/* Error recovery without a second "syntax error" message. */
	return T_CONF_YYerror;
}

static int
is_word(int c)
{
	if (c < 0)
		return 0;
	if (c >= 0x80)
		return 1;	/* UTF-8 domain names */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	switch (c) {
	case '_': case '.': case '/': case ':': case '*': case '@':
	case '+': case '-':
		return 1;
	}
	return 0;
}

static int
is_name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
is_name(int c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static int
macro_valid_name(const char *s)
{
	if (!is_name_start((unsigned char)*s))
		return 0;
	for (s++; *s != '\0'; s++)
		if (!is_name((unsigned char)*s))
			return 0;
	return 1;
}

static unsigned
macro_hash(const char *s)
{
	uint32_t	 h = 2166136261U;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619U;
	return h % MACRO_BUCKETS;
}

static struct macro *
macro_find(struct parser *p, const char *name)
{
	struct macro	*m;

	for (m = p->macros[macro_hash(name)]; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static void
macro_set(struct parser *p, int line, const char *name, const char *value,
    int persist)
{
	struct macro	*m;
	char		 q[64];
	unsigned	 h;

	if (!macro_valid_name(name)) {
		conf_error(p->rep, line, "invalid macro name %s",
		    conf_quote(q, sizeof(q), name));
		return;
	}
	if ((m = macro_find(p, name)) != NULL) {
		/* -D name=value wins over the file's own definition. */
		if (m->persist && !persist)
			return;
		free(m->value);
		m->value = xstrdup(value);
		m->persist = persist;
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->name = xstrdup(name);
	m->value = xstrdup(value);
	m->persist = persist;
	h = macro_hash(name);
	m->next = p->macros[h];
	p->macros[h] = m;
}

/* After '$': push the macro's value. 0 if pushed, else an error token. */
static int
macro_expand(struct parser *p, int line)
{
	struct macro	*m;
	struct frame	*f;
	size_t		 n = 0, len;
	int		 c, i;

	c = lgetc(p);
	if (!is_name_start(c)) {
		lungetc(p, c);
		return lex_error(p, line, "\"$\" without a macro name");
	}
	do {
		if (n == CONF_MAX_TOKEN)
			return lex_error(p, line, "macro name too long");
		p->tok[n++] = (char)c;
	} while (is_name(c = lgetc(p)));
	lungetc(p, c);
	p->tok[n] = '\0';

	if ((m = macro_find(p, p->tok)) == NULL)
		return lex_error(p, line, "undefined macro \"$%s\"", p->tok);
	for (i = 0; i < p->depth; i++)
		if (p->frames[i].macro == m)
			return lex_error(p, line,
			    "macro \"$%s\" expands to itself", m->name);
	if (p->depth == CONF_MACRO_DEPTH)
		return lex_error(p, line, "macro \"$%s\" nested too deeply "
		    "(more than %d levels)", m->name, CONF_MACRO_DEPTH);
	/* Each expansion costs one byte more than its value, so that
	 * empty values nested many times are bounded too. */
	len = strlen(m->value);
	if (len + 1 > CONF_MAX_EXPANSION - p->expanded)
		return lex_error(p, line, "macros expand to more than %d "
		    "bytes in all", CONF_MAX_EXPANSION);
	p->expanded += len + 1;

	f = &p->frames[p->depth++];
	f->macro = m;
	f->buf = xstrdup(m->value);
	f->len = len;
	f->pos = 0;
	f->ended = 0;
	return 0;
}

static int
lex_string(struct parser *p, YYSTYPE *lval, int line)
{
	size_t	 n = 0;
	int	 c;

	for (;;) {
		c = lgetc(p);
		if (c == C_EOF || c == C_FRAME_END || c == '\n') {
			lungetc(p, c);
			return lex_error(p, line, "unterminated string");
		}
		if (c == '\0')
			return lex_error(p, line, "NUL byte in string");
		if (c == '"')
			break;
		if (c == '\\') {
			c = lgetc(p);
			if (c != '"' && c != '\\') {
				lungetc(p, c);
				return lex_error(p, line, "invalid escape in "
				    "string (only \\\" and \\\\ are allowed)");
			}
		}
		if (n == CONF_MAX_TOKEN)
			return lex_error(p, line, "string too long (more "
			    "than %d bytes)", CONF_MAX_TOKEN);
		p->tok[n++] = (char)c;
	}
	p->tok[n] = '\0';
	(void)conf_quote(p->near, sizeof(p->near), p->tok);
	lval->str = xstrdup(p->tok);
	return T_STRING;
}

static int
lex_word(struct parser *p, YYSTYPE *lval, int line, int c)
{
	const struct keyword	*kw;
	size_t			 n = 0;

	do {
		if (n == CONF_MAX_TOKEN)
			return lex_error(p, line, "word too long (more than "
			    "%d bytes)", CONF_MAX_TOKEN);
		p->tok[n++] = (char)c;
	} while (is_word(c = lgetc(p)));
	lungetc(p, c);
	p->tok[n] = '\0';
	(void)conf_quote(p->near, sizeof(p->near), p->tok);
	if ((kw = keyword_find(p->tok)) != NULL) {
		lval->kw = kw->name;
		return kw->token;
	}
	lval->str = xstrdup(p->tok);
	return T_STRING;
}

static int
lex(struct parser *p, YYSTYPE *lval, int *lloc)
{
	int	 c, r;

	if (conf_report_full(p->rep))
		return T_YYEOF;
 again:
	do {
		c = lgetc(p);
	} while (c == ' ' || c == '\t' || c == '\r' || c == C_FRAME_END);
	*lloc = p->lineno;

	switch (c) {
	case C_EOF:
		/* A last statement without its newline still ends. */
		(void)osms_strlcpy(p->near, "end of file", sizeof(p->near));
		if (p->last == '\n' && p->lineno > 1)
			*lloc = p->lineno - 1;	/* the last line */
		if (p->last != -1 && p->last != '\n')
			return '\n';
		return T_YYEOF;
	case '\n':
		(void)osms_strlcpy(p->near, "end of line", sizeof(p->near));
		p->lineno++;
		return '\n';
	case '#':
		while ((c = lgetc(p)) != '\n' && c != C_EOF &&
		    c != C_FRAME_END)
			;
		if (c == '\n')
			lungetc(p, c);
		goto again;
	case '\\':
		if ((c = lgetc(p)) == '\n') {
			p->lineno++;
			goto again;
		}
		lungetc(p, c);
		return lex_error(p, *lloc, "unexpected \"\\\" (only allowed "
		    "at the end of a line)");
	case '$':
		if ((r = macro_expand(p, *lloc)) != 0)
			return r;
		goto again;
	case '"':
		return lex_string(p, lval, *lloc);
	case '{':
	case '}':
	case '=':
	case '<':
	case '>':
		(void)snprintf(p->near, sizeof(p->near), "\"%c\"", c);
		return c;
	}
	if (is_word(c))
		return lex_word(p, lval, *lloc, c);
	if (c > 0x20 && c < 0x7f)
		return lex_error(p, *lloc, "unexpected character \"%c\"", c);
	return lex_error(p, *lloc, "unexpected byte 0x%02x", c);
}

static int
yylex(YYSTYPE *lval, YYLTYPE *lloc, struct parser *p)
{
	int	 tok;

	tok = lex(p, lval, lloc);
	p->last = tok;
	return tok;
}

static void
yyerror(YYLTYPE *lloc, struct parser *p, const char *msg)
{
	conf_error(p->rep, *lloc, "%s", msg);
}

/* How a token is named in "expecting ..." */
static void
symbol_name(char *buf, size_t size, yysymbol_kind_t sym)
{
	const char	*s = yysymbol_name(sym);
	size_t		 len = strlen(s);

	if (sym == YYSYMBOL_YYEOF)
		(void)osms_strlcpy(buf, "end of file", size);
	else if (strcmp(s, "'\\n'") == 0)
		(void)osms_strlcpy(buf, "end of line", size);
	else if (sym == YYSYMBOL_STRING)
		(void)osms_strlcpy(buf, "a string", size);
	else if (len >= 2 && s[0] == '\'')
		(void)snprintf(buf, size, "\"%.*s\"", (int)(len - 2), s + 1);
	else if (len >= 2 && s[0] == '"')
		(void)snprintf(buf, size, "%.*s", (int)(len - 2), s + 1);
	else
		(void)osms_strlcpy(buf, s, size);
}

static int
yyreport_syntax_error(const yypcontext_t *ctx, struct parser *p)
{
	yysymbol_kind_t	 expected[YYNTOKENS];
	char		 msg[512], name[32];
	int		 i, n, eof;

	eof = yypcontext_token(ctx) == YYSYMBOL_YYEOF;
	(void)snprintf(msg, sizeof(msg), "syntax error at %s",
	    eof ? "end of file" : p->near);
	n = yypcontext_expected_tokens(ctx, expected, (int)nitems(expected));
	if (n > 0 && n <= 5) {
		for (i = 0; i < n; i++) {
			symbol_name(name, sizeof(name), expected[i]);
			(void)osms_strlcat(msg, i == 0 ? ", expecting " :
			    i == n - 1 ? " or " : ", ", sizeof(msg));
			(void)osms_strlcat(msg, name, sizeof(msg));
		}
	} else if (eof) {
		/* The usual cause: a block left open. */
		for (i = 0; i < n; i++)
			if (strcmp(yysymbol_name(expected[i]), "'}'") == 0)
				(void)osms_strlcat(msg, ", missing \"}\"",
				    sizeof(msg));
	}
	conf_error(p->rep, *yypcontext_location(ctx), "%s", msg);
	return 0;
}

/*
 * Actions.
 */

/* ASCII lower case in place; returns s. */
static char *
lowercase(char *s)
{
	char	*c;

	for (c = s; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return s;
}

static void
set_hostname(struct parser *p, int line, const char *s)
{
	const char	*why;
	char		 q[80];

	if ((why = conf_check_hostname(s)) != NULL) {
		conf_error(p->rep, line, "invalid hostname %s: %s",
		    conf_quote(q, sizeof(q), s), why);
		return;
	}
	(void)osms_strlcpy(p->conf->hostname, s, sizeof(p->conf->hostname));
}

/* dst is a CONF_MAX_PATH field of the conf. */
static void
set_path(struct parser *p, int line, const char *what, char *dst,
    const char *s)
{
	const char	*why;
	char		 q[80];

	if ((why = conf_check_path(s)) != NULL) {
		conf_error(p->rep, line, "invalid %s %s: %s", what,
		    conf_quote(q, sizeof(q), s), why);
		return;
	}
	(void)osms_strlcpy(dst, s, CONF_MAX_PATH);
}

/* A name of a pki, table or domain; 0 if it can be stored. */
static int
check_name(struct parser *p, int line, const char *what, const char *s)
{
	const char	*why;
	char		 q[80];

	if ((why = conf_check_name(s)) != NULL) {
		conf_error(p->rep, line, "invalid %s name %s: %s", what,
		    conf_quote(q, sizeof(q), s), why);
		return -1;
	}
	return 0;
}

static void
pki_opt(struct parser *p, int line, struct pbuild *b, unsigned what,
    const char *s)
{
	const char	*name = what == SEEN_CERT ? "certificate" : "key";
	const char	*why;
	char		 q[80];

	if (b->seen & what) {
		conf_error(p->rep, line, "pki %s given twice", name);
		return;
	}
	b->seen |= what;
	if ((why = conf_check_path(s)) != NULL) {
		conf_error(p->rep, line, "invalid pki %s %s: %s", name,
		    conf_quote(q, sizeof(q), s), why);
		return;
	}
	(void)osms_strlcpy(what == SEEN_CERT ? b->cert : b->key, s,
	    CONF_MAX_PATH);
}

static void
pki_add(struct parser *p, int line, const char *name, struct pbuild *b)
{
	struct conf_pki	*k;
	char		 q[80];

	if (check_name(p, line, "pki", name) == -1)
		return;
	if (!(b->seen & SEEN_CERT))
		conf_error(p->rep, line, "pki %s needs a certificate",
		    conf_quote(q, sizeof(q), name));
	if (!(b->seen & SEEN_KEY))
		conf_error(p->rep, line, "pki %s needs a key",
		    conf_quote(q, sizeof(q), name));
	k = xcalloc(1, sizeof(*k));
	(void)osms_strlcpy(k->name, name, sizeof(k->name));
	(void)osms_strlcpy(k->cert, b->cert, sizeof(k->cert));
	(void)osms_strlcpy(k->key, b->key, sizeof(k->key));
	k->line = line;
	TAILQ_INSERT_TAIL(&p->conf->pkis, k, entry);
}

static void
table_add(struct parser *p, int line, const char *name,
    enum table_backend backend, const char *source)
{
	struct conf_table	*t;
	const char		*why;
	char			 q[80];

	p->table = NULL;
	if (check_name(p, line, "table", name) == -1)
		return;
	if (backend == TABLE_FILE)
		why = conf_check_path(source);
	else
		why = conf_check_conninfo(source);
	if (why != NULL)
		conf_error(p->rep, line, "invalid table %s %s: %s",
		    backend == TABLE_FILE ? "file" : "postgres conninfo",
		    conf_quote(q, sizeof(q), source), why);
	t = xcalloc(1, sizeof(*t));
	(void)osms_strlcpy(t->name, name, sizeof(t->name));
	t->backend = backend;
	p->table = NULL;
	if (why == NULL)
		(void)osms_strlcpy(t->source, source, sizeof(t->source));
	t->line = line;
	TAILQ_INSERT_TAIL(&p->conf->tables, t, entry);
	p->table = t;
}

/* "query NAME SQL" inside a postgres table's block. */
static void
query_set(struct parser *p, int line, const char *name, const char *sql)
{
	char	 q[80];
	int	 kind;

	if (p->table == NULL)
		return;
	if ((kind = conf_query_from_name(name)) == -1) {
		conf_error(p->rep, line, "unknown query %s (domain, user, "
		    "alias, domain-add, domain-del, domain-list, user-add, "
		    "user-del, user-list, user-password, user-quota, "
		    "alias-add, alias-del or alias-list)",
		    conf_quote(q, sizeof(q), name));
		return;
	}
	if (sql[0] == '\0' || str_has_ctl(sql) ||
	    strlen(sql) >= CONF_MAX_QUERY) {
		conf_error(p->rep, line, "invalid query %s: empty, too long "
		    "or with control characters", name);
		return;
	}
	if (p->table->queries[kind][0] != '\0') {
		conf_error(p->rep, line, "query %s given twice", name);
		return;
	}
	(void)osms_strlcpy(p->table->queries[kind], sql,
	    sizeof(p->table->queries[kind]));
}

/* "domains <table>": the domains a database knows are all local. */
static void
domains_add(struct parser *p, int line, const char *table)
{
	struct conf_domain	*d;

	if (check_name(p, line, "table", table) == -1)
		return;
	d = xcalloc(1, sizeof(*d));
	(void)osms_strlcpy(d->name, "*", sizeof(d->name));
	(void)osms_strlcpy(d->users, table, sizeof(d->users));
	(void)osms_strlcpy(d->aliases, table, sizeof(d->aliases));
	d->line = line;
	TAILQ_INSERT_TAIL(&p->conf->domains, d, entry);
}

static void
domain_opt(struct parser *p, int line, struct dbuild *b, unsigned what,
    const char *s)
{
	const char	*name = what == SEEN_USERS ? "users" : "aliases";

	if (b->seen & what) {
		conf_error(p->rep, line, "domain %s given twice", name);
		return;
	}
	b->seen |= what;
	if (check_name(p, line, "table", s) == -1)
		return;
	(void)osms_strlcpy(what == SEEN_USERS ? b->users : b->aliases, s,
	    CONF_MAX_NAME);
}

static void
domain_add(struct parser *p, int line, const char *name, struct dbuild *b)
{
	struct conf_domain	*d;
	const char		*why;
	char			 lower[CONF_MAX_NAME], q[80];

	if (osms_strlcpy(lower, name, sizeof(lower)) >= sizeof(lower)) {
		conf_error(p->rep, line, "invalid domain %s: longer than %d "
		    "bytes", conf_quote(q, sizeof(q), name), CONF_MAX_DOMAIN);
		return;
	}
	if ((why = conf_check_domain(lowercase(lower))) != NULL) {
		conf_error(p->rep, line, "invalid domain %s: %s",
		    conf_quote(q, sizeof(q), name), why);
		return;
	}
	d = xcalloc(1, sizeof(*d));
	(void)osms_strlcpy(d->name, lower, sizeof(d->name));
	(void)osms_strlcpy(d->users, b->users, sizeof(d->users));
	(void)osms_strlcpy(d->aliases, b->aliases, sizeof(d->aliases));
	d->line = line;
	TAILQ_INSERT_TAIL(&p->conf->domains, d, entry);
}

static void
listen_seen(struct parser *p, int line, struct lbuild *b, unsigned what,
    const char *name)
{
	if (b->seen & what)
		conf_error(p->rep, line, "listen: %s given twice", name);
	b->seen |= what;
}

static void
listen_port(struct parser *p, int line, struct lbuild *b, const char *s)
{
	long long	 v;
	char		 q[80];

	listen_seen(p, line, b, SEEN_PORT, "port");
	if (conf_parse_number(s, 1, 65535, &v) == -1) {
		conf_error(p->rep, line, "invalid port %s: expected a number "
		    "from 1 to 65535", conf_quote(q, sizeof(q), s));
		return;
	}
	b->l.port = (uint16_t)v;
}

static void
listen_pki(struct parser *p, int line, struct lbuild *b, const char *s)
{
	listen_seen(p, line, b, SEEN_PKI, "pki");
	if (check_name(p, line, "pki", s) == -1)
		return;
	(void)osms_strlcpy(b->l.pki, s, sizeof(b->l.pki));
}

static void
listen_add(struct parser *p, int line, const char *addr, struct lbuild *b)
{
	struct conf_listener	*l;
	const char		*why;
	char			 q[80];
	int			 implicit;

	if ((why = conf_check_address(addr)) != NULL) {
		conf_error(p->rep, line, "invalid listen address %s: %s",
		    conf_quote(q, sizeof(q), addr), why);
		return;
	}
	if (!(b->seen & SEEN_PROTO)) {
		conf_error(p->rep, line, "listen on %s: no protocol (smtp, "
		    "submission, imap or pop3)", addr);
		return;
	}
	l = xmalloc(sizeof(*l));
	*l = b->l;
	(void)osms_strlcpy(l->addr, addr, sizeof(l->addr));
	implicit = l->tls == TLS_IMPLICIT;
	if (!(b->seen & SEEN_PORT)) {
		switch (l->proto) {
		case PROTO_SMTP:
			l->port = 25;
			break;
		case PROTO_SUBMISSION:
			l->port = implicit ? 465 : 587;
			break;
		case PROTO_IMAP:
			l->port = implicit ? 993 : 143;
			break;
		case PROTO_POP3:
			l->port = implicit ? 995 : 110;
			break;
		}
	}
	/* Submission is for authenticated clients only. */
	if (l->proto == PROTO_SUBMISSION)
		l->flags |= LISTEN_AUTH;
	l->line = line;
	TAILQ_INSERT_TAIL(&p->conf->listeners, l, entry);
}

static void
relay_opt(struct parser *p, int line, struct rbuild *b, unsigned what,
    const char *s, const char *secret)
{
	struct conf_relay	*r = &b->r;
	const char		*why = NULL;
	char			 q[80];
	long long		 v;
	int			 tls;

	if (b->seen & what) {
		conf_error(p->rep, line, "relay: an option is given twice");
		return;
	}
	b->seen |= what;
	(void)conf_quote(q, sizeof(q), s);
	switch (what) {
	case SEEN_DOMAIN:
		if (osms_strlcpy(r->domain, s, sizeof(r->domain)) >=
		    sizeof(r->domain) ||
		    (why = conf_check_domain(lowercase(r->domain))) != NULL)
			conf_error(p->rep, line, "invalid relay domain %s: %s",
			    q, why != NULL ? why : "too long");
		break;
	case SEEN_HOST:
		/* A name to resolve, or an address. */
		if (conf_check_address(s) == NULL)
			(void)osms_strlcpy(r->host, s, sizeof(r->host));
		else if ((why = conf_check_hostname(s)) != NULL)
			conf_error(p->rep, line, "invalid relay host %s: %s",
			    q, why);
		else
			(void)osms_strlcpy(r->host, s, sizeof(r->host));
		break;
	case SEEN_PORT:
		if (conf_parse_number(s, 1, 65535, &v) == -1)
			conf_error(p->rep, line, "invalid port %s: expected a"
			    " number from 1 to 65535", q);
		else
			r->port = (uint16_t)v;
		break;
	case SEEN_TLS:
		if ((tls = conf_relay_tls_from_name(s)) == -1)
			conf_error(p->rep, line, "invalid relay tls %s: "
			    "expected none, opportunistic, require or verify",
			    q);
		else
			r->tls = (enum relay_tls)tls;
		break;
	case SEEN_AUTH:
		if (s[0] == '\0' || str_has_ctl(s) ||
		    osms_strlcpy(r->auth_user, s, sizeof(r->auth_user)) >=
		    sizeof(r->auth_user))
			conf_error(p->rep, line, "invalid relay auth user %s",
			    q);
		if ((why = conf_check_path(secret)) != NULL)
			conf_error(p->rep, line, "invalid relay secret %s: %s",
			    conf_quote(q, sizeof(q), secret), why);
		else
			(void)osms_strlcpy(r->secret, secret,
			    sizeof(r->secret));
		break;
	}
}

static void
relay_add(struct parser *p, int line, struct rbuild *b)
{
	struct conf_relay	*r;

	if ((b->seen & SEEN_AUTH) && !(b->seen & SEEN_HOST))
		conf_error(p->rep, line, "relay: auth needs a host (it is "
		    "never sent to an MX)");
	if ((b->seen & SEEN_PORT) && !(b->seen & SEEN_HOST))
		conf_error(p->rep, line, "relay: port needs a host");
	if (!(b->seen & SEEN_TLS))
		b->r.tls = RELAY_TLS_OPPORTUNISTIC;
	r = xcalloc(1, sizeof(*r));
	*r = b->r;
	r->line = line;
	TAILQ_INSERT_TAIL(&p->conf->relays, r, entry);
}

static void
dkim_add(struct parser *p, int line, const char *domain,
    const char *selector, const char *key)
{
	struct conf_dkim	*d;
	const char		*why;
	char			 q[80];

	d = xcalloc(1, sizeof(*d));
	d->line = line;
	if (osms_strlcpy(d->domain, domain, sizeof(d->domain)) >=
	    sizeof(d->domain) ||
	    (why = conf_check_domain(lowercase(d->domain))) != NULL) {
		conf_error(p->rep, line, "invalid dkim domain %s",
		    conf_quote(q, sizeof(q), domain));
		free(d);
		return;
	}
	/* One DNS label of letters, digits and hyphens (RFC 6376 3.1). */
	if (selector[0] == '\0' || strlen(selector) > 63 ||
	    strspn(selector, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != strlen(selector)) {
		conf_error(p->rep, line, "invalid dkim selector %s: expected"
		    " one DNS label", conf_quote(q, sizeof(q), selector));
		free(d);
		return;
	}
	if ((why = conf_check_path(key)) != NULL) {
		conf_error(p->rep, line, "invalid dkim key %s: %s",
		    conf_quote(q, sizeof(q), key), why);
		free(d);
		return;
	}
	(void)osms_strlcpy(d->selector, selector, sizeof(d->selector));
	(void)osms_strlcpy(d->key, key, sizeof(d->key));
	TAILQ_INSERT_TAIL(&p->conf->dkims, d, entry);
}

/* "srs domain NAME secret PATH": forwarded mail's sender is rewritten. */
static void
srs_set(struct parser *p, int line, const char *domain, const char *secret)
{
	struct osms_conf	*c = p->conf;
	const char		*why;
	char			 q[80];

	if (c->srs_domain[0] != '\0') {
		conf_error(p->rep, line, "srs given twice (first on line %d)",
		    c->srs_line);
		return;
	}
	if (osms_strlcpy(c->srs_domain, domain, sizeof(c->srs_domain)) >=
	    sizeof(c->srs_domain) ||
	    (why = conf_check_domain(lowercase(c->srs_domain))) != NULL) {
		conf_error(p->rep, line, "invalid srs domain %s",
		    conf_quote(q, sizeof(q), domain));
		c->srs_domain[0] = '\0';
		return;
	}
	if ((why = conf_check_path(secret)) != NULL) {
		conf_error(p->rep, line, "invalid srs secret %s: %s",
		    conf_quote(q, sizeof(q), secret), why);
		c->srs_domain[0] = '\0';
		return;
	}
	(void)osms_strlcpy(c->srs_secret, secret, sizeof(c->srs_secret));
	c->srs_line = line;
}

static void
mta_setting(struct parser *p, int line, const char *setting, const char *s)
{
	struct conf_mta	*mta = &p->conf->mta;
	const char	*why;
	char		 q[80];
	long long	 v;

	(void)conf_quote(q, sizeof(q), s);
	if (strcmp(setting, "resolver") == 0) {
		/* "ADDRESS" or "ADDRESS@PORT", as unbound writes it */
		char		 addr[64];
		const char	*at = strchr(s, '@');
		size_t		 n = at != NULL ? (size_t)(at - s) : strlen(s);

		if (n >= sizeof(addr) || (memcpy(addr, s, n), addr[n] = '\0',
		    conf_check_address(addr) != NULL) || (at != NULL &&
		    conf_parse_number(at + 1, 1, 65535, &v) == -1))
			conf_error(p->rep, line, "invalid resolver %s: "
			    "expected an address, or address@port", q);
		else
			(void)osms_strlcpy(mta->resolver, s,
			    sizeof(mta->resolver));
	} else if (strcmp(setting, "trust-anchor") == 0 ||
	    strcmp(setting, "ca-file") == 0) {
		char	*dst = setting[0] == 't' ? mta->trust_anchor :
		    mta->ca_file;

		if (s[0] == '\0' && setting[0] == 't')
			dst[0] = '\0';		/* no DNSSEC */
		else if ((why = conf_check_path(s)) != NULL)
			conf_error(p->rep, line, "invalid %s %s: %s", setting,
			    q, why);
		else
			(void)osms_strlcpy(dst, s, CONF_MAX_PATH);
	} else if (strcmp(setting, "max-domain-connections") == 0) {
		if (conf_parse_number(s, 1, 1000, &v) == -1)
			conf_error(p->rep, line, "invalid max-domain-connections"
			    " %s: expected a number from 1 to 1000", q);
		else
			mta->domain_connections = (uint32_t)v;
	} else if (strcmp(setting, "timeout") == 0) {
		if (conf_parse_duration(s, &mta->timeout) == -1)
			conf_error(p->rep, line, "invalid timeout %s: "
			    "expected a duration from 1s to 1h", q);
	} else
		conf_error(p->rep, line, "%s is not a setting of the mta"
		    " block", setting);
}

static int
scan_action(const char *s)
{
	if (strcmp(s, "reject") == 0)
		return SCAN_REJECT;
	if (strcmp(s, "quarantine") == 0)
		return SCAN_QUARANTINE;
	if (strcmp(s, "tag") == 0)
		return SCAN_TAG;
	return -1;
}

static void
scand_setting(struct parser *p, int line, const char *setting,
    const char *s)
{
	struct conf_scand	*sc = &p->conf->scand;
	const char		*why;
	char			 q[80];
	long long		 v;
	int			 a;

	(void)conf_quote(q, sizeof(q), s);
	if (strcmp(setting, "enable") == 0) {
		if (strcmp(s, "yes") != 0 && strcmp(s, "no") != 0)
			conf_error(p->rep, line, "invalid enable %s: expected"
			    " yes or no", q);
		else
			sc->enable = s[0] == 'y';
	} else if (strcmp(setting, "database") == 0) {
		if ((why = conf_check_path(s)) != NULL)
			conf_error(p->rep, line, "invalid database %s: %s", q,
			    why);
		else
			(void)osms_strlcpy(sc->database, s,
			    sizeof(sc->database));
	} else if (strcmp(setting, "workers") == 0) {
		if (conf_parse_number(s, 1, 64, &v) == -1)
			conf_error(p->rep, line, "invalid workers %s: expected"
			    " a number from 1 to 64", q);
		else
			sc->workers = (uint32_t)v;
	} else if (strcmp(setting, "max-scan-size") == 0 ||
	    strcmp(setting, "max-file-size") == 0) {
		if (conf_parse_size(s, setting[4] == 's' ? &sc->max_scansize :
		    &sc->max_filesize) == -1)
			conf_error(p->rep, line, "invalid %s %s: expected a"
			    " size from 1K to 2G", setting, q);
	} else if (strcmp(setting, "max-files") == 0) {
		if (conf_parse_number(s, 1, 1000000, &v) == -1)
			conf_error(p->rep, line, "invalid max-files %s: "
			    "expected a number from 1 to 1000000", q);
		else
			sc->max_files = (uint32_t)v;
	} else if (strcmp(setting, "max-recursion") == 0) {
		if (conf_parse_number(s, 1, 64, &v) == -1)
			conf_error(p->rep, line, "invalid max-recursion %s: "
			    "expected a number from 1 to 64", q);
		else
			sc->max_recursion = (uint32_t)v;
	} else if (strcmp(setting, "timeout") == 0) {
		if (conf_parse_duration(s, &sc->timeout) == -1)
			conf_error(p->rep, line, "invalid timeout %s: "
			    "expected a duration from 1s to 1h", q);
	} else if (strcmp(setting, "action") == 0 ||
	    strcmp(setting, "submission-action") == 0) {
		if ((a = scan_action(s)) == -1)
			conf_error(p->rep, line, "invalid %s %s: expected "
			    "reject, quarantine or tag", setting, q);
		else if (setting[0] == 'a')
			sc->action = (enum scan_action)a;
		else
			sc->submission_action = (enum scan_action)a;
	} else if (strcmp(setting, "unscannable") == 0 ||
	    strcmp(setting, "on-failure") == 0) {
		if (strcmp(s, "tempfail") != 0 && strcmp(s, "accept") != 0)
			conf_error(p->rep, line, "invalid %s %s: expected "
			    "tempfail or accept", setting, q);
		else if (setting[0] == 'u')
			sc->unscannable = s[0] == 'a' ? SCAN_ACCEPT :
			    SCAN_TEMPFAIL;
		else
			sc->on_failure = s[0] == 'a' ? SCAN_ACCEPT :
			    SCAN_TEMPFAIL;
	} else
		conf_error(p->rep, line, "%s is not a setting of the scand"
		    " block", setting);
}

static int
check_action(const char *s)
{
	if (strcmp(s, "reject") == 0)
		return AR_REJECT;
	if (strcmp(s, "junk") == 0)
		return AR_JUNK;
	if (strcmp(s, "accept") == 0)
		return AR_ACCEPT;
	return -1;
}

static void
checkd_setting(struct parser *p, int line, const char *setting,
    const char *s)
{
	struct conf_checkd	*ck = &p->conf->checkd;
	const char		*why = NULL;
	char			 q[80];
	long long		 v;
	int			*flag = NULL, a;
	enum ar_action		*act = NULL;

	(void)conf_quote(q, sizeof(q), s);
	if (strcmp(setting, "enable") == 0)
		flag = &ck->enable;
	else if (strcmp(setting, "greylist") == 0)
		flag = &ck->greylist;
	else if (strcmp(setting, "spf") == 0)
		flag = &ck->spf;
	else if (strcmp(setting, "dkim") == 0)
		flag = &ck->dkim;
	else if (strcmp(setting, "dmarc") == 0)
		flag = &ck->dmarc;
	else if (strcmp(setting, "dmarc-reject") == 0)
		act = &ck->dmarc_reject;
	else if (strcmp(setting, "dmarc-quarantine") == 0)
		act = &ck->dmarc_quarantine;
	else if (strcmp(setting, "spf-fail") == 0)
		act = &ck->spf_fail;
	if (flag != NULL) {
		if (strcmp(s, "yes") != 0 && strcmp(s, "no") != 0)
			conf_error(p->rep, line, "invalid %s %s: expected yes"
			    " or no", setting, q);
		else
			*flag = s[0] == 'y';
	} else if (act != NULL) {
		if ((a = check_action(s)) == -1)
			conf_error(p->rep, line, "invalid %s %s: expected "
			    "reject, junk or accept", setting, q);
		else
			*act = (enum ar_action)a;
	} else if (strcmp(setting, "workers") == 0) {
		if (conf_parse_number(s, 1, 64, &v) == -1)
			conf_error(p->rep, line, "invalid workers %s: expected"
			    " a number from 1 to 64", q);
		else
			ck->workers = (uint32_t)v;
	} else if (strcmp(setting, "timeout") == 0) {
		if (conf_parse_duration(s, &ck->timeout) == -1)
			conf_error(p->rep, line, "invalid timeout %s: "
			    "expected a duration from 1s to 1h", q);
	} else if (strcmp(setting, "on-failure") == 0) {
		if (strcmp(s, "tempfail") != 0 && strcmp(s, "accept") != 0)
			conf_error(p->rep, line, "invalid on-failure %s: "
			    "expected tempfail or accept", q);
		else
			ck->on_failure = s[0] == 'a' ? SCAN_ACCEPT :
			    SCAN_TEMPFAIL;
	} else if (strcmp(setting, "rspamd") == 0 ||
	    strcmp(setting, "spamd") == 0) {
		/* "host:port" with an address, or "" for none; one engine. */
		char	*dst = setting[0] == 'r' ? ck->rspamd : ck->spamd;
		char	*other = setting[0] == 'r' ? ck->spamd : ck->rspamd;

		if (strlen(s) >= sizeof(ck->rspamd) || str_has_ctl(s) ||
		    (s[0] != '\0' && strchr(s, ':') == NULL))
			conf_error(p->rep, line, "invalid %s %s: expected"
			    " ADDRESS:PORT", setting, q);
		else if (s[0] != '\0' && other[0] != '\0')
			conf_error(p->rep, line, "%s %s: rspamd or spamd, not"
			    " both", setting, q);
		else
			(void)osms_strlcpy(dst, s, sizeof(ck->rspamd));
	} else if (strcmp(setting, "spam-reject") == 0 ||
	    strcmp(setting, "spam-junk") == 0) {
		if (conf_parse_number(s, 0, 1000, &v) == -1)
			conf_error(p->rep, line, "invalid %s %s: expected a"
			    " score from 0 (never) to 1000", setting, q);
		else if (setting[5] == 'r')
			ck->spam_reject = (uint32_t)v;
		else
			ck->spam_junk = (uint32_t)v;
	} else if (strcmp(setting, "spam-on-failure") == 0) {
		if (strcmp(s, "tempfail") != 0 && strcmp(s, "accept") != 0)
			conf_error(p->rep, line, "invalid spam-on-failure %s: "
			    "expected tempfail or accept", q);
		else
			ck->spam_on_failure = s[0] == 'a' ? SCAN_ACCEPT :
			    SCAN_TEMPFAIL;
	} else if (strcmp(setting, "spam-timeout") == 0) {
		if (conf_parse_duration(s, &ck->spam_timeout) == -1)
			conf_error(p->rep, line, "invalid spam-timeout %s: "
			    "expected a duration from 1s to 1h", q);
	} else if (strcmp(setting, "directory") == 0) {
		set_path(p, line, "directory", ck->directory, s);
	} else if (strcmp(setting, "greylist-delay") == 0) {
		if (conf_parse_period(s, 86400, &ck->grey_delay) == -1 ||
		    ck->grey_delay == 0)
			conf_error(p->rep, line, "invalid greylist-delay %s: "
			    "expected a duration from 1s to 1d", q);
	} else if (strcmp(setting, "greylist-exempt") == 0) {
		if (strlen(s) >= sizeof(ck->grey_exempt) ||
		    (why = netlist_check(s)) != NULL)
			conf_error(p->rep, line, "invalid greylist-exempt %s: "
			    "%s", q, why != NULL ? why : "too long");
		else
			(void)osms_strlcpy(ck->grey_exempt, s,
			    sizeof(ck->grey_exempt));
	} else if (strcmp(setting, "greylist-spf-exempt") == 0) {
		if (strlen(s) >= sizeof(ck->grey_spf_exempt) ||
		    (why = conf_check_domains(s)) != NULL)
			conf_error(p->rep, line, "invalid greylist-spf-exempt"
			    " %s: %s", q, why != NULL ? why : "too long");
		else
			(void)osms_strlcpy(ck->grey_spf_exempt, s,
			    sizeof(ck->grey_spf_exempt));
	} else if (strcmp(setting, "arc-trusted") == 0) {
		if (strlen(s) >= sizeof(ck->arc_trusted) ||
		    (why = conf_check_domains(s)) != NULL)
			conf_error(p->rep, line, "invalid arc-trusted %s: %s",
			    q, why != NULL ? why : "too long");
		else
			(void)osms_strlcpy(ck->arc_trusted, s,
			    sizeof(ck->arc_trusted));
	} else if (strcmp(setting, "dnsbl") == 0) {
		if (strlen(s) >= sizeof(ck->dnsbl) ||
		    (why = conf_check_dnsbl(s)) != NULL)
			conf_error(p->rep, line, "invalid dnsbl %s: %s", q,
			    why != NULL ? why : "too long");
		else
			(void)osms_strlcpy(ck->dnsbl, s, sizeof(ck->dnsbl));
	} else if (strcmp(setting, "dnsbl-action") == 0) {
		if (strcmp(s, "reject") != 0 && strcmp(s, "score") != 0)
			conf_error(p->rep, line, "invalid dnsbl-action %s: "
			    "expected reject or score", q);
		else
			ck->dnsbl_score = s[0] == 's';
	} else if (strcmp(setting, "dnsbl-threshold") == 0) {
		if (conf_parse_number(s, 1, 100000, &v) == -1)
			conf_error(p->rep, line, "invalid dnsbl-threshold %s: "
			    "expected a number from 1 to 100000", q);
		else
			ck->dnsbl_threshold = (uint32_t)v;
	} else if (strcmp(setting, "public-suffix-list") == 0) {
		if ((why = conf_check_path(s)) != NULL)
			conf_error(p->rep, line, "invalid public-suffix-list"
			    " %s: %s", q, why);
		else
			(void)osms_strlcpy(ck->public_suffix_list, s,
			    sizeof(ck->public_suffix_list));
	} else
		conf_error(p->rep, line, "%s is not a setting of the checkd"
		    " block", setting);
}

static void
queue_setting(struct parser *p, int line, const char *setting,
    const char *s)
{
	struct conf_queue	*queue = &p->conf->queue;
	char			 q[80];

	(void)conf_quote(q, sizeof(q), s);
	if (strcmp(setting, "delay-warning") == 0) {
		/* "0": no warnings; else up to the queue's 5 days. */
		if (conf_parse_period(s, 5 * 86400,
		    &queue->delay_warning) == -1)
			conf_error(p->rep, line, "invalid delay-warning %s: "
			    "expected 0 or a duration up to 5d", q);
	} else if (strcmp(setting, "lifetime") == 0) {
		if (conf_parse_period(s, 30 * 86400, &queue->lifetime) == -1 ||
		    queue->lifetime < 60)
			conf_error(p->rep, line, "invalid lifetime %s: "
			    "expected a duration from 1m to 30d", q);
	} else if (strcmp(setting, "max-retry-interval") == 0) {
		if (conf_parse_period(s, 86400, &queue->max_retry) == -1 ||
		    queue->max_retry < 60)
			conf_error(p->rep, line, "invalid max-retry-interval "
			    "%s: expected a duration from 1m to 1d", q);
	} else
		conf_error(p->rep, line, "%s is not a setting of the queue"
		    " block", setting);
}

static void
imapd_setting(struct parser *p, int line, const char *setting,
    const char *s)
{
	struct conf_imapd	*imapd = &p->conf->imapd;
	char			 q[80];
	long long		 v;

	(void)conf_quote(q, sizeof(q), s);
	if (strcmp(setting, "max-sessions") == 0) {
		if (conf_parse_number(s, 1, 100000, &v) == -1)
			conf_error(p->rep, line, "invalid max-sessions %s: "
			    "expected a number from 1 to 100000", q);
		else
			imapd->max_sessions = (uint32_t)v;
	} else if (strcmp(setting, "max-user-sessions") == 0) {
		if (conf_parse_number(s, 1, 1000, &v) == -1)
			conf_error(p->rep, line, "invalid max-user-sessions %s:"
			    " expected a number from 1 to 1000", q);
		else
			imapd->max_user_sessions = (uint32_t)v;
	} else if (strcmp(setting, "timeout") == 0) {
		/* RFC 9051 5.4: an idle client keeps 30 minutes at least. */
		if (conf_parse_duration(s, &imapd->timeout) == -1 ||
		    imapd->timeout < 1800)
			conf_error(p->rep, line, "invalid timeout %s: "
			    "expected a duration from 30m to 1h", q);
	} else if (strcmp(setting, "login-timeout") == 0) {
		if (conf_parse_duration(s, &imapd->login_timeout) == -1 ||
		    imapd->login_timeout < 5 || imapd->login_timeout > 600)
			conf_error(p->rep, line, "invalid login-timeout %s: "
			    "expected a duration from 5s to 10m", q);
	} else
		conf_error(p->rep, line, "%s is not a setting of the imapd"
		    " block", setting);
}

static void
rule_reset(struct parser *p)
{
	while (p->nrule > 0)
		free(p->rule[--p->nrule]);
	p->rule_long = 0;
}

static void
rule_word(struct parser *p, char *w)
{
	if (p->nrule == POLICY_MAX_WORDS) {
		p->rule_long = 1;
		free(w);
		return;
	}
	p->rule[p->nrule++] = w;
}

static void
rule_table(struct parser *p, char *name)
{
	rule_word(p, xasprintf("<%s>", name));
	free(name);
}

/* "policy-table <t>": the directory's word on one user or domain. */
static void
policy_table_set(struct parser *p, int line, const char *name)
{
	if (p->role != ROLE_CRYPTOD)
		conf_error(p->rep, line, "policy-table belongs in the cryptod "
		    "block");
	else if (osms_strlcpy(p->conf->cryptod.policy_table, name,
	    sizeof(p->conf->cryptod.policy_table)) >=
	    sizeof(p->conf->cryptod.policy_table))
		conf_error(p->rep, line, "policy-table: name too long");
	else
		p->conf->cryptod.policy_table_line = line;
}

/* "rule ...": a policy rule of the gateway (policy.h), in the cryptod
 * block, kept in order. */
static void
rule_add(struct parser *p, int line)
{
	struct policy_rule	*r;
	char			 err[256];

	if (p->role != ROLE_CRYPTOD)
		conf_error(p->rep, line, "rule belongs in the cryptod block");
	else if (p->rule_long)
		conf_error(p->rep, line, "a rule of more than %d words",
		    POLICY_MAX_WORDS);
	else {
		r = xcalloc(1, sizeof(*r));
		if (policy_rule_parse(r, p->rule, p->nrule, err,
		    sizeof(err)) == -1) {
			conf_error(p->rep, line, "rule: %s", err);
			free(r);
		} else {
			r->line = line;
			TAILQ_INSERT_TAIL(&p->conf->cryptod.rules, r, entry);
		}
	}
	rule_reset(p);
}

static void
block_setting(struct parser *p, int line, const char *setting,
    const char *s)
{
	struct conf_smtpd	*smtpd = &p->conf->smtpd;
	const char		*why;
	char			 q[80];
	long long		 v;
	uint32_t		*slot;

	if (p->role < 0)
		return;		/* unknown block, already reported */
	if (strcmp(setting, "user") == 0) {
		if ((why = conf_check_user(s)) != NULL) {
			conf_error(p->rep, line, "invalid user %s: %s",
			    conf_quote(q, sizeof(q), s), why);
			return;
		}
		(void)osms_strlcpy(p->conf->roles[p->role].user, s,
		    sizeof(p->conf->roles[p->role].user));
		return;
	}

	switch (p->role) {
	case ROLE_IMAPD:
		imapd_setting(p, line, setting, s);
		return;
	case ROLE_QUEUE:
		queue_setting(p, line, setting, s);
		return;
	case ROLE_MTA:
		mta_setting(p, line, setting, s);
		return;
	case ROLE_SCAND:
		scand_setting(p, line, setting, s);
		return;
	case ROLE_CHECKD:
		checkd_setting(p, line, setting, s);
		return;
	case ROLE_CRYPTOD:
		if (strcmp(setting, "certificates") == 0)
			set_path(p, line, "certificates",
			    p->conf->cryptod.store, s);
		else if (strcmp(setting, "master-key") == 0)
			set_path(p, line, "master-key",
			    p->conf->cryptod.master_key, s);
		else
			conf_error(p->rep, line, "%s is not a setting of the"
			    " cryptod block", setting);
		return;
	case ROLE_SMTPD:
		break;
	default:
		conf_error(p->rep, line, "%s is not a setting of the %s block",
		    setting, role_name((enum osms_role)p->role));
		return;
	}
	(void)conf_quote(q, sizeof(q), s);
	if (strcmp(setting, "max-message-size") == 0) {
		if (conf_parse_size(s, &smtpd->max_message_size) == -1)
			conf_error(p->rep, line, "invalid max-message-size %s: "
			    "expected a size from 1K to 2G", q);
	} else if (strcmp(setting, "max-recipients") == 0) {
		if (conf_parse_number(s, CONF_MIN_RECIPIENTS,
		    CONF_MAX_RECIPIENTS, &v) == -1)
			conf_error(p->rep, line, "invalid max-recipients %s: "
			    "expected a number from %d to %d", q,
			    CONF_MIN_RECIPIENTS, CONF_MAX_RECIPIENTS);
		else
			smtpd->max_recipients = (uint32_t)v;
	} else if (strcmp(setting, "max-line-length") == 0) {
		if (conf_parse_number(s, CONF_MIN_LINE, CONF_MAX_LINE,
		    &v) == -1)
			conf_error(p->rep, line, "invalid max-line-length %s: "
			    "expected a number from %d to %d", q,
			    CONF_MIN_LINE, CONF_MAX_LINE);
		else
			smtpd->max_line = (uint32_t)v;
	} else if (strcmp(setting, "sender-check") == 0) {
		if (strcmp(s, "yes") == 0)
			smtpd->sender_check = 1;
		else if (strcmp(s, "no") == 0)
			smtpd->sender_check = 0;
		else
			conf_error(p->rep, line, "invalid sender-check %s: "
			    "expected yes or no", q);
	} else if (strcmp(setting, "max-messages-per-hour") == 0) {
		if (conf_parse_number(s, 0, 1000000, &v) == -1)
			conf_error(p->rep, line, "invalid max-messages-per-hour"
			    " %s: expected a number from 0 (no limit) to "
			    "1000000", q);
		else
			smtpd->max_messages_per_hour = (uint32_t)v;
	} else if ((slot = strcmp(setting, "max-client-sessions") == 0 ?
	    &smtpd->max_client_sessions : strcmp(setting,
	    "max-client-connections-per-minute") == 0 ?
	    &smtpd->max_client_connections : strcmp(setting,
	    "max-client-recipients-per-minute") == 0 ?
	    &smtpd->max_client_recipients : NULL) != NULL) {
		if (conf_parse_number(s, 0, 1000000, &v) == -1)
			conf_error(p->rep, line, "invalid %s %s: expected a "
			    "number from 0 (no limit) to 1000000", setting, q);
		else
			*slot = (uint32_t)v;
	} else if (strcmp(setting, "auth-max-failures") == 0) {
		if (conf_parse_number(s, 1, 1000, &v) == -1)
			conf_error(p->rep, line, "invalid auth-max-failures %s:"
			    " expected a number from 1 to 1000", q);
		else
			smtpd->auth_max_failures = (uint32_t)v;
	} else if (strcmp(setting, "timeout") == 0) {
		if (conf_parse_duration(s, &smtpd->timeout) == -1)
			conf_error(p->rep, line, "invalid timeout %s: "
			    "expected a duration from 1s to 1h", q);
	} else
		conf_error(p->rep, line, "%s is not a setting of the smtpd"
		    " block", setting);
}

/*
 * -D name=value: set before the file is read; the file cannot change
 * them. Errors are on line 0, the command line.
 */
static void
defines_set(struct parser *p, char *const *defines)
{
	const char	*eq;
	char		 name[CONF_MAX_TOKEN + 1], q[80];
	size_t		 len;

	for (; defines != NULL && *defines != NULL; defines++) {
		(void)conf_quote(q, sizeof(q), *defines);
		if ((eq = strchr(*defines, '=')) == NULL) {
			conf_error(p->rep, 0, "invalid define %s: expected "
			    "name=value", q);
			continue;
		}
		len = (size_t)(eq - *defines);
		if (len >= sizeof(name) || (memcpy(name, *defines, len),
		    name[len] = '\0', !macro_valid_name(name))) {
			conf_error(p->rep, 0, "invalid define %s: bad macro "
			    "name", q);
			continue;
		}
		if (strlen(eq + 1) > CONF_MAX_TOKEN) {
			conf_error(p->rep, 0, "invalid define %s: value longer "
			    "than %d bytes", q, CONF_MAX_TOKEN);
			continue;
		}
		if (str_has_ctl(eq + 1)) {
			conf_error(p->rep, 0, "invalid define %s: control "
			    "character in value", q);
			continue;
		}
		macro_set(p, 0, name, eq + 1, 1);
	}
}

void
conf_parse_grammar(struct osms_conf *conf, struct conf_report *rep,
    const char *buf, size_t len, char *const *defines)
{
	struct parser	*p;
	struct macro	*m, *next;
	size_t		 i;
	int		 r;

	p = xcalloc(1, sizeof(*p));
	p->conf = conf;
	p->rep = rep;
	p->in = buf;
	p->inlen = len;
	p->lineno = 1;
	p->last = -1;
	p->role = ROLE_CONTROL;

	defines_set(p, defines);
	r = yyparse(p);
	if (r != 0 && rep->nerrors == 0)
		conf_error(rep, p->lineno, "parse failed");
	rule_reset(p);

	while (p->depth > 0)
		free(p->frames[--p->depth].buf);
	for (i = 0; i < MACRO_BUCKETS; i++) {
		for (m = p->macros[i]; m != NULL; m = next) {
			next = m->next;
			free(m->name);
			free(m->value);
			free(m);
		}
	}
	free(p);
}
