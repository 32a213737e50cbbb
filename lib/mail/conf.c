/*
 * osmsd.conf: reading the file, defaults, the checks across statements,
 * the canonical dump, and lookups. The grammar itself is parse.y.
 *
 * Read by the parent as root before it drops anything, so the file is
 * handled as untrusted bytes: only regular files, at most CONF_MAX_FILE
 * bytes, every value checked before it is stored. A configuration with
 * any error is never returned.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_private.h"
#include "log.h"
#include "role.h"
#include "util.h"

struct conf_msg {
	int		 line;
	size_t		 seq;
	char		*text;
};

/*
 * Errors.
 */

void
conf_error(struct conf_report *rep, int line, const char *fmt, ...)
{
	struct conf_msg	*m;
	va_list		 ap;
	char		*text;

	if (conf_report_full(rep))
		return;
	rep->nerrors++;
	if (rep->errfp == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		fatal("conf_error");
	va_end(ap);
	if (rep->nmsgs == rep->msgcap) {
		rep->msgcap = rep->msgcap == 0 ? 16 : rep->msgcap * 2;
		rep->msgs = xreallocarray(rep->msgs, rep->msgcap,
		    sizeof(*rep->msgs));
	}
	m = &rep->msgs[rep->nmsgs];
	m->line = line;
	m->seq = rep->nmsgs;
	m->text = text;
	rep->nmsgs++;
}

int
conf_report_full(const struct conf_report *rep)
{
	return rep->nerrors >= CONF_MAX_ERRORS;
}

static int
msg_cmp(const void *a, const void *b)
{
	const struct conf_msg	*ma = a, *mb = b;

	if (ma->line != mb->line)
		return ma->line < mb->line ? -1 : 1;
	if (ma->seq != mb->seq)
		return ma->seq < mb->seq ? -1 : 1;
	return 0;
}

/* Print the errors in line order and free them. */
static void
report_flush(struct conf_report *rep)
{
	size_t	 i;

	if (rep->nmsgs > 0)
		qsort(rep->msgs, rep->nmsgs, sizeof(*rep->msgs), msg_cmp);
	for (i = 0; i < rep->nmsgs; i++) {
		(void)fprintf(rep->errfp, "%s:%d: %s\n", rep->name,
		    rep->msgs[i].line, rep->msgs[i].text);
		free(rep->msgs[i].text);
	}
	if (rep->errfp != NULL)
		(void)fflush(rep->errfp);
	free(rep->msgs);
	rep->msgs = NULL;
	rep->nmsgs = rep->msgcap = 0;
}

const char *
conf_quote(char *buf, size_t size, const char *s)
{
	size_t		 n = 0;
	unsigned char	 c;
	char		 esc[8];
	size_t		 elen;

	if (size < 8) {
		if (size > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[n++] = '"';
	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (c == '"' || c == '\\')
			elen = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			elen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x",
			    c);
		else {
			esc[0] = (char)c;
			esc[1] = '\0';
			elen = 1;
		}
		/* Room for this, and for `..."` and the NUL after it. */
		if (n + elen + 5 > size) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		memcpy(buf + n, esc, elen);
		n += elen;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

/*
 * Value checks.
 */

const char *
conf_check_path(const char *s)
{
	if (s[0] != '/')
		return "not an absolute path";
	if (strlen(s) >= CONF_MAX_PATH)
		return "path too long";
	if (str_has_ctl(s))
		return "control character in path";
	return NULL;
}

/* Domains separated by spaces, each as conf_check_domain() wants. */
const char *
conf_check_domains(const char *s)
{
	char		 d[256];
	const char	*why;
	int		 r;

	while ((r = list_next(&s, d, sizeof(d))) == 1)
		if ((why = conf_check_domain(d)) != NULL)
			return why;
	return r == -1 ? "a domain too long" : NULL;
}

/* DNS lists and their weights: "LIST:WEIGHT ...", a weight from -1000
 * (an allow list) to 1000. */
const char *
conf_check_dnsbl(const char *s)
{
	char		 d[256], *colon, *end;
	long		 w;
	int		 r;

	while ((r = list_next(&s, d, sizeof(d))) == 1) {
		if ((colon = strrchr(d, ':')) == NULL)
			return "expected LIST:WEIGHT words";
		*colon++ = '\0';
		w = strtol(colon, &end, 10);
		if (*colon == '\0' || *end != '\0' || w < -1000 || w > 1000 ||
		    w == 0)
			return "a weight is a number from -1000 to 1000, not 0";
		if (conf_check_domain(d) != NULL)
			return "a list is a domain name";
	}
	return r == -1 ? "a list's name too long" : NULL;
}

const char *
conf_check_name(const char *s)
{
	if (s[0] == '\0')
		return "empty";
	if (strlen(s) >= CONF_MAX_NAME)
		return "too long";
	if (str_has_ctl(s))
		return "control character in name";
	return NULL;
}

const char *
conf_check_conninfo(const char *s)
{
	if (s[0] == '\0')
		return "empty";
	if (strlen(s) >= CONF_MAX_PATH)
		return "too long";
	if (str_has_ctl(s))
		return "control character in conninfo";
	return NULL;
}


/*
 * A DNS name: labels of letters, digits and hyphens (and, if utf8, UTF-8
 * bytes), no empty label, no hyphen at either end of a label, at most 63
 * bytes in an ASCII label and CONF_MAX_DOMAIN in all.
 */
static const char *
check_dns(const char *s, int utf8)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 len = strlen(s), label = 0, i;
	int			 ascii = 1;

	if (len == 0)
		return "empty";
	if (len > CONF_MAX_DOMAIN)
		return "longer than 253 bytes";
	if (u[0] == '.' || u[len - 1] == '.')
		return "leading or trailing dot";
	if (utf8 && !utf8_valid((const char *)u))
		return "invalid UTF-8";
	for (i = 0; i <= len; i++) {
		if (u[i] == '.' || u[i] == '\0') {
			if (label == 0)
				return "empty label";
			if (ascii && label > 63)
				return "label longer than 63 bytes";
			if (u[i - 1] == '-')
				return "label ends with a hyphen";
			label = 0;
			ascii = 1;
			continue;
		}
		if (u[i] == '-' && label == 0)
			return "label starts with a hyphen";
		if (u[i] >= 0x80 && utf8)
			ascii = 0;
		else if (!((u[i] >= 'a' && u[i] <= 'z') ||
		    (u[i] >= 'A' && u[i] <= 'Z') ||
		    (u[i] >= '0' && u[i] <= '9') || u[i] == '-'))
			return "invalid character";
		label++;
	}
	return NULL;
}

const char *
conf_check_hostname(const char *s)
{
	return check_dns(s, 0);
}

const char *
conf_check_domain(const char *s)
{
	const char	*c;

	for (c = s; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'Z')
			return "upper case";
	return check_dns(s, 1);
}

const char *
conf_check_user(const char *s)
{
	size_t	 i;

	if (s[0] == '\0')
		return "empty";
	if (strlen(s) > CONF_MAX_USER)
		return "longer than 31 characters";
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return "must start with a lower-case letter or \"_\"";
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))
			return "only a-z, 0-9, \"_\" and \"-\" are allowed";
	return NULL;
}

/* The family and bytes of a numeric address; -1 if it is none. */
static int
address_bytes(const char *s, unsigned char *bytes)
{
	memset(bytes, 0, 16);
	if (inet_pton(AF_INET, s, bytes) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, bytes) == 1)
		return AF_INET6;
	return -1;
}

const char *
conf_check_address(const char *s)
{
	unsigned char	 bytes[16];

	if (strlen(s) >= sizeof(((struct conf_listener *)NULL)->addr))
		return "too long";
	if (address_bytes(s, bytes) == -1)
		return "not a numeric IPv4 or IPv6 address";
	return NULL;
}

/*
 * Numbers.
 */

/* Split "123K" into the digits and what follows. */
static int
split_number(const char *s, char *digits, size_t size, const char **suffix)
{
	size_t	 n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n >= size)
		return -1;
	memcpy(digits, s, n);
	digits[n] = '\0';
	*suffix = s + n;
	return 0;
}

int
conf_parse_number(const char *s, long long min, long long max,
    long long *out)
{
	const char	*errstr, *suffix;
	char		 digits[24];
	long long	 v;

	if (split_number(s, digits, sizeof(digits), &suffix) == -1 ||
	    *suffix != '\0')
		return -1;
	v = str_to_num(digits, min, max, &errstr);
	if (errstr != NULL)
		return -1;
	*out = v;
	return 0;
}

int
conf_parse_size(const char *s, uint64_t *out)
{
	const char	*errstr, *suffix;
	char		 digits[24];
	long long	 v, unit;

	if (split_number(s, digits, sizeof(digits), &suffix) == -1)
		return -1;
	switch (suffix[0]) {
	case '\0':
		unit = 1;
		break;
	case 'k': case 'K':
		unit = 1024;
		break;
	case 'm': case 'M':
		unit = 1024 * 1024;
		break;
	case 'g': case 'G':
		unit = 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (suffix[0] != '\0' && suffix[1] != '\0')
		return -1;
	/* At most 2^31 * 2^30: no overflow in a long long. */
	v = str_to_num(digits, 0, (long long)CONF_MAX_MESSAGE_SIZE, &errstr);
	if (errstr != NULL)
		return -1;
	v *= unit;
	if (v < (long long)CONF_MIN_MESSAGE_SIZE ||
	    v > (long long)CONF_MAX_MESSAGE_SIZE)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static int
parse_period(const char *s, long long min, long long max, uint32_t *out)
{
	const char	*errstr, *suffix;
	char		 digits[24];
	long long	 v, unit;

	if (split_number(s, digits, sizeof(digits), &suffix) == -1)
		return -1;
	switch (suffix[0]) {
	case '\0':
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return -1;
	}
	if (suffix[0] != '\0' && suffix[1] != '\0')
		return -1;
	v = str_to_num(digits, 0, max, &errstr);
	if (errstr != NULL)
		return -1;
	v *= unit;
	if (v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A timeout: 1s to 1h ("30", "30s", "5m", "1h"). */
int
conf_parse_duration(const char *s, uint32_t *out)
{
	return parse_period(s, CONF_MIN_TIMEOUT, CONF_MAX_TIMEOUT, out);
}

/* A period of the queue: 0 to max seconds, also in days ("4h", "5d"). */
int
conf_parse_period(const char *s, uint32_t max, uint32_t *out)
{
	return parse_period(s, 0, max, out);
}

/*
 * The configuration.
 */

static struct osms_conf *
conf_new(const char *name)
{
	struct osms_conf	*conf;

	conf = xcalloc(1, sizeof(*conf));
	(void)osms_strlcpy(conf->path, name, sizeof(conf->path));
	(void)osms_strlcpy(conf->control_socket, CONF_CONTROL_DEFAULT,
	    sizeof(conf->control_socket));
	(void)osms_strlcpy(conf->spool, CONF_SPOOL_DEFAULT,
	    sizeof(conf->spool));
	(void)osms_strlcpy(conf->mailstore, CONF_MAILSTORE_DEFAULT,
	    sizeof(conf->mailstore));
	(void)osms_strlcpy(conf->empty, CONF_EMPTY_DEFAULT,
	    sizeof(conf->empty));
	TAILQ_INIT(&conf->pkis);
	TAILQ_INIT(&conf->tables);
	TAILQ_INIT(&conf->domains);
	TAILQ_INIT(&conf->listeners);
	TAILQ_INIT(&conf->relays);
	TAILQ_INIT(&conf->dkims);
	TAILQ_INIT(&conf->cryptod.rules);
	conf->smtpd.max_message_size = SMTPD_MAX_MESSAGE_SIZE;
	conf->smtpd.max_recipients = SMTPD_MAX_RECIPIENTS;
	conf->smtpd.max_line = SMTPD_MAX_LINE;
	conf->smtpd.timeout = SMTPD_TIMEOUT;
	conf->smtpd.sender_check = 1;
	conf->smtpd.auth_max_failures = SMTPD_AUTH_MAX_FAILURES;
	conf->smtpd.max_client_sessions = SMTPD_MAX_CLIENT_SESSIONS;
	conf->imapd.max_sessions = IMAPD_MAX_SESSIONS;
	conf->imapd.max_user_sessions = IMAPD_MAX_USER_SESSIONS;
	conf->imapd.timeout = IMAPD_TIMEOUT;
	conf->imapd.login_timeout = IMAPD_LOGIN_TIMEOUT;
	conf->queue.delay_warning = QUEUE_DELAY_WARNING;
	conf->queue.lifetime = QUEUE_LIFETIME;
	conf->queue.max_retry = QUEUE_MAX_RETRY;
	(void)osms_strlcpy(conf->mta.trust_anchor, MTA_TRUST_ANCHOR,
	    sizeof(conf->mta.trust_anchor));
	(void)osms_strlcpy(conf->mta.ca_file, MTA_CA_FILE,
	    sizeof(conf->mta.ca_file));
	conf->mta.domain_connections = MTA_DOMAIN_CONNECTIONS;
	conf->mta.timeout = MTA_TIMEOUT;
	(void)osms_strlcpy(conf->scand.database, SCAND_DATABASE,
	    sizeof(conf->scand.database));
	(void)osms_strlcpy(conf->cryptod.store, CRYPTOD_STORE,
	    sizeof(conf->cryptod.store));
	conf->scand.enable = 1;
	conf->scand.workers = SCAND_WORKERS;
	conf->scand.max_scansize = SCAND_MAX_SCANSIZE;
	conf->scand.max_filesize = SCAND_MAX_FILESIZE;
	conf->scand.max_files = SCAND_MAX_FILES;
	conf->scand.max_recursion = SCAND_MAX_RECURSION;
	conf->scand.timeout = SCAND_TIMEOUT;
	conf->checkd.enable = 1;
	conf->checkd.spf = conf->checkd.dkim = conf->checkd.dmarc = 1;
	conf->checkd.dmarc_reject = AR_REJECT;
	conf->checkd.dmarc_quarantine = AR_JUNK;
	conf->checkd.spf_fail = AR_ACCEPT;
	conf->checkd.workers = CHECKD_WORKERS;
	conf->checkd.timeout = CHECKD_TIMEOUT;
	(void)osms_strlcpy(conf->checkd.public_suffix_list,
	    CHECKD_PUBLIC_SUFFIX, sizeof(conf->checkd.public_suffix_list));
	conf->checkd.spam_reject = CHECKD_SPAM_REJECT;
	conf->checkd.spam_junk = CHECKD_SPAM_JUNK;
	conf->checkd.spam_on_failure = SCAN_ACCEPT;
	conf->checkd.spam_timeout = CHECKD_SPAM_TIMEOUT;
	(void)osms_strlcpy(conf->checkd.directory, CHECKD_DIRECTORY,
	    sizeof(conf->checkd.directory));
	conf->checkd.grey_delay = CHECKD_GREY_DELAY;
	conf->checkd.dnsbl_threshold = CHECKD_DNSBL_THRESHOLD;
	return conf;
}

void
conf_free(struct osms_conf *conf)
{
	struct conf_pki		*k;
	struct conf_table	*t;
	struct conf_domain	*d;
	struct conf_listener	*l;
	struct conf_relay	*r;
	struct conf_dkim	*dk;
	struct policy_rule	*pr;

	if (conf == NULL)
		return;
	while ((pr = TAILQ_FIRST(&conf->cryptod.rules)) != NULL) {
		TAILQ_REMOVE(&conf->cryptod.rules, pr, entry);
		free(pr);
	}
	while ((r = TAILQ_FIRST(&conf->relays)) != NULL) {
		TAILQ_REMOVE(&conf->relays, r, entry);
		free(r);
	}
	while ((dk = TAILQ_FIRST(&conf->dkims)) != NULL) {
		TAILQ_REMOVE(&conf->dkims, dk, entry);
		free(dk);
	}
	while ((k = TAILQ_FIRST(&conf->pkis)) != NULL) {
		TAILQ_REMOVE(&conf->pkis, k, entry);
		free(k);
	}
	while ((t = TAILQ_FIRST(&conf->tables)) != NULL) {
		TAILQ_REMOVE(&conf->tables, t, entry);
		/* A conninfo may hold a password. */
		explicit_wipe(t->source, sizeof(t->source));
		free(t);
	}
	while ((d = TAILQ_FIRST(&conf->domains)) != NULL) {
		TAILQ_REMOVE(&conf->domains, d, entry);
		free(d);
	}
	while ((l = TAILQ_FIRST(&conf->listeners)) != NULL) {
		TAILQ_REMOVE(&conf->listeners, l, entry);
		free(l);
	}
	free(conf);
}

/*
 * Checks across statements, made after the parse: names defined twice,
 * listeners on the same address and port, references to pkis and tables
 * (which may be defined before or after their use), and the listener
 * rules that need the whole statement. Names are sorted so that a large
 * file is not checked in quadratic time.
 */

struct named {
	const char	*name;
	int		 line;
};

static int
named_cmp(const void *a, const void *b)
{
	const struct named	*na = a, *nb = b;
	int			 r;

	if ((r = strcmp(na->name, nb->name)) != 0)
		return r;
	return na->line < nb->line ? -1 : na->line > nb->line;
}

static int
named_key_cmp(const void *key, const void *elem)
{
	const struct named	*n = elem;

	return strcmp(key, n->name);
}

/* Report the names given twice; v is sorted. */
static void
check_twice(struct conf_report *rep, const char *what, struct named *v,
    size_t n)
{
	char	 q[80];
	size_t	 i, first = 0;

	for (i = 1; i < n; i++) {
		if (strcmp(v[i].name, v[first].name) != 0) {
			first = i;
			continue;
		}
		conf_error(rep, v[i].line, "%s %s defined twice (first on "
		    "line %d)", what, conf_quote(q, sizeof(q), v[i].name),
		    v[first].line);
	}
}

static int
is_defined(const struct named *v, size_t n, const char *name)
{
	if (n == 0)
		return 0;
	return bsearch(name, v, n, sizeof(*v), named_key_cmp) != NULL;
}

struct lkey {
	const struct conf_listener *l;
	int		 family;
	unsigned char	 bytes[16];
};

static int
lkey_cmp(const void *a, const void *b)
{
	const struct lkey	*ka = a, *kb = b;
	int			 r;

	if (ka->family != kb->family)
		return ka->family < kb->family ? -1 : 1;
	if ((r = memcmp(ka->bytes, kb->bytes, sizeof(ka->bytes))) != 0)
		return r;
	if (ka->l->port != kb->l->port)
		return ka->l->port < kb->l->port ? -1 : 1;
	return ka->l->line < kb->l->line ? -1 : ka->l->line > kb->l->line;
}

static void
check_listeners(struct osms_conf *conf, struct conf_report *rep,
    const struct named *pkis, size_t npkis)
{
	struct conf_listener	*l;
	struct lkey		*keys;
	char			 q[80];
	size_t			 n = 0, i, first = 0;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->tls != TLS_NONE && l->pki[0] == '\0')
			conf_error(rep, l->line, "listen on %s port %u: %s "
			    "needs a pki", l->addr, l->port,
			    conf_tls_name(l->tls));
		if (l->tls == TLS_NONE && l->pki[0] != '\0')
			conf_error(rep, l->line, "listen on %s port %u: pki "
			    "without a TLS mode (starttls, starttls-require "
			    "or tls)", l->addr, l->port);
		if ((l->flags & LISTEN_AUTH) && l->proto != PROTO_SMTP &&
		    l->proto != PROTO_SUBMISSION)
			conf_error(rep, l->line, "listen on %s port %u: auth "
			    "is only for smtp and submission", l->addr,
			    l->port);
		if (l->pki[0] != '\0' && !is_defined(pkis, npkis, l->pki))
			conf_error(rep, l->line, "pki %s is not defined",
			    conf_quote(q, sizeof(q), l->pki));
		n++;
	}
	if (n < 2)
		return;

	keys = xcalloc(n, sizeof(*keys));
	i = 0;
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		keys[i].l = l;
		keys[i].family = address_bytes(l->addr, keys[i].bytes);
		i++;
	}
	qsort(keys, n, sizeof(*keys), lkey_cmp);
	for (i = 1; i < n; i++) {
		if (keys[i].family != keys[first].family ||
		    memcmp(keys[i].bytes, keys[first].bytes,
		    sizeof(keys[i].bytes)) != 0 ||
		    keys[i].l->port != keys[first].l->port) {
			first = i;
			continue;
		}
		conf_error(rep, keys[i].l->line, "duplicate listener %s port "
		    "%u (first on line %d)", keys[i].l->addr, keys[i].l->port,
		    keys[first].l->line);
	}
	free(keys);
}

/* One route per domain (one default), one DKIM key per domain. */
static void
check_relays(struct osms_conf *conf, struct conf_report *rep)
{
	struct conf_relay	*r, *o;
	struct conf_dkim	*d, *e;
	char			 q[80];

	/* Few of them: quadratic is fine, and bounded by the file size. */
	TAILQ_FOREACH(r, &conf->relays, entry)
		for (o = TAILQ_FIRST(&conf->relays); o != r;
		    o = TAILQ_NEXT(o, entry))
			if (strcmp(o->domain, r->domain) == 0) {
				conf_error(rep, r->line, "relay %s%s given "
				    "twice (first on line %d)", r->domain[0] ?
				    "domain " : "without a domain",
				    r->domain[0] ? conf_quote(q, sizeof(q),
				    r->domain) : "", o->line);
				break;
			}
	TAILQ_FOREACH(d, &conf->dkims, entry)
		for (e = TAILQ_FIRST(&conf->dkims); e != d;
		    e = TAILQ_NEXT(e, entry))
			if (strcmp(e->domain, d->domain) == 0) {
				conf_error(rep, d->line, "dkim domain %s given"
				    " twice (first on line %d)", conf_quote(q,
				    sizeof(q), d->domain), e->line);
				break;
			}
}

static void
conf_check(struct osms_conf *conf, struct conf_report *rep)
{
	struct conf_pki		*k;
	struct conf_table	*t;
	struct conf_domain	*d;
	const struct policy_rule *pr;
	struct named		*pkis = NULL, *tables = NULL;
	struct named		*domains = NULL;
	size_t			 npkis = 0, ntables = 0, ndomains = 0;
	char			 q[80];

	TAILQ_FOREACH(k, &conf->pkis, entry)
		npkis++;
	TAILQ_FOREACH(t, &conf->tables, entry)
		ntables++;
	TAILQ_FOREACH(d, &conf->domains, entry)
		ndomains++;
	if (npkis > 0) {
		pkis = xcalloc(npkis, sizeof(*pkis));
		npkis = 0;
		TAILQ_FOREACH(k, &conf->pkis, entry) {
			pkis[npkis].name = k->name;
			pkis[npkis++].line = k->line;
		}
		qsort(pkis, npkis, sizeof(*pkis), named_cmp);
		check_twice(rep, "pki", pkis, npkis);
	}
	if (ntables > 0) {
		tables = xcalloc(ntables, sizeof(*tables));
		ntables = 0;
		TAILQ_FOREACH(t, &conf->tables, entry) {
			tables[ntables].name = t->name;
			tables[ntables++].line = t->line;
		}
		qsort(tables, ntables, sizeof(*tables), named_cmp);
		check_twice(rep, "table", tables, ntables);
	}
	if (ndomains > 0) {
		domains = xcalloc(ndomains, sizeof(*domains));
		ndomains = 0;
		TAILQ_FOREACH(d, &conf->domains, entry) {
			/* "domains <t>" is named by its table */
			domains[ndomains].name = strcmp(d->name, "*") == 0 ?
			    d->users : d->name;
			domains[ndomains++].line = d->line;
		}
		qsort(domains, ndomains, sizeof(*domains), named_cmp);
		check_twice(rep, "domain", domains, ndomains);
	}

	TAILQ_FOREACH(d, &conf->domains, entry) {
		const struct conf_table	*dt;

		if (strcmp(d->name, "*") == 0 &&
		    (dt = conf_table_find(conf, d->users)) != NULL &&
		    dt->backend != TABLE_POSTGRES)
			conf_error(rep, d->line, "domains <%s>: only a "
			    "postgres table can list domains",
			    conf_quote(q, sizeof(q), d->users));
		if (d->users[0] != '\0' &&
		    !is_defined(tables, ntables, d->users))
			conf_error(rep, d->line, "table %s is not defined",
			    conf_quote(q, sizeof(q), d->users));
		if (d->aliases[0] != '\0' &&
		    strcmp(d->aliases, d->users) != 0 &&
		    !is_defined(tables, ntables, d->aliases))
			conf_error(rep, d->line, "table %s is not defined",
			    conf_quote(q, sizeof(q), d->aliases));
	}
	/* The gateway's tables: its policy-table and those rules name. */
	if (conf->cryptod.policy_table[0] != '\0' &&
	    !is_defined(tables, ntables, conf->cryptod.policy_table))
		conf_error(rep, conf->cryptod.policy_table_line,
		    "policy-table %s is not defined",
		    conf_quote(q, sizeof(q), conf->cryptod.policy_table));
	TAILQ_FOREACH(pr, &conf->cryptod.rules, entry) {
		const char	*who[2] = { pr->from, pr->to };
		char		 name[POLICY_MAX_WHO];
		int		 w;

		for (w = 0; w < 2; w++) {
			if (who[w][0] != '<')
				continue;
			(void)osms_strlcpy(name, who[w] + 1, sizeof(name));
			name[strcspn(name, ">")] = '\0';
			if (!is_defined(tables, ntables, name))
				conf_error(rep, pr->line, "rule: table %s is "
				    "not defined", conf_quote(q, sizeof(q),
				    name));
		}
	}
	check_listeners(conf, rep, pkis, npkis);
	check_relays(conf, rep);

	free(pkis);
	free(tables);
	free(domains);
}

struct osms_conf *
conf_parse_buffer(const char *name, const char *buf, size_t len,
    FILE *errfp, char *const *defines)
{
	struct conf_report	 rep;
	struct osms_conf	*conf;
	size_t			 nerrors;

	if (name == NULL)
		name = "-";
	memset(&rep, 0, sizeof(rep));
	rep.name = name;
	rep.errfp = errfp;
	conf = conf_new(name);
	if (len > CONF_MAX_FILE)
		conf_error(&rep, 0, "file too large (more than %d bytes)",
		    CONF_MAX_FILE);
	else {
		conf_parse_grammar(conf, &rep, buf, len, defines);
		if (!conf_report_full(&rep))
			conf_check(conf, &rep);
	}
	nerrors = rep.nerrors;
	report_flush(&rep);
	if (nerrors > 0) {
		conf_free(conf);
		return NULL;
	}
	return conf;
}

/* A file-level error: "NAME:0: message". */
static void
file_error(const char *path, FILE *errfp, const char *msg)
{
	if (errfp == NULL)
		return;
	(void)fprintf(errfp, "%s:0: %s\n", path, msg);
	(void)fflush(errfp);
}

struct osms_conf *
conf_parse_file(const char *path, FILE *errfp, char *const *defines)
{
	struct osms_conf	*conf;
	struct stat		 st;
	char			*buf;
	size_t			 len = 0, cap;
	ssize_t			 n;
	int			 fd, saved;

	if (strlen(path) >= CONF_MAX_PATH) {
		file_error(path, errfp, "path too long");
		return NULL;
	}
	/* O_NONBLOCK: a FIFO must not hang the open; it is refused below. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		file_error(path, errfp, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		(void)close(fd);
		file_error(path, errfp, strerror(saved));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		file_error(path, errfp, "not a regular file");
		return NULL;
	}
	if (st.st_mode & S_IWOTH) {
		(void)close(fd);
		file_error(path, errfp, "writable by others");
		return NULL;
	}
	if (st.st_size > CONF_MAX_FILE) {
		(void)close(fd);
		file_error(path, errfp, "file too large (more than 1048576 "
		    "bytes)");
		return NULL;
	}

	/* The size may change under us (or be 0, as in /proc): read to the
	 * end, but never more than one byte past the limit. */
	cap = (size_t)st.st_size + 1;
	buf = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap > CONF_MAX_FILE)
				break;
			cap = cap * 2 > CONF_MAX_FILE + 1 ?
			    CONF_MAX_FILE + 1 : cap * 2;
			buf = xreallocarray(buf, cap, 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			free(buf);
			(void)close(fd);
			file_error(path, errfp, strerror(saved));
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	if (len > CONF_MAX_FILE) {
		free(buf);
		file_error(path, errfp, "file too large (more than 1048576 "
		    "bytes)");
		return NULL;
	}
	conf = conf_parse_buffer(path, buf, len, errfp, defines);
	explicit_wipe(buf, cap);	/* may hold a database password */
	free(buf);
	return conf;
}

/*
 * The canonical dump.
 */

static void
dump_str(FILE *fp, const char *s)
{
	(void)fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			(void)fputc('\\', fp);
		(void)fputc(*s, fp);
	}
	(void)fputc('"', fp);
}

/* A word as is when the lexer reads it as one word, else quoted. */
static void
dump_word(FILE *fp, const char *s)
{
	const unsigned char	*c;

	for (c = (const unsigned char *)s; *c != '\0'; c++)
		if (!(*c >= 0x80 || (*c >= 'a' && *c <= 'z') ||
		    (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    strchr("_./:*@+-", *c) != NULL))
			break;
	if (*s != '\0' && *c == '\0')
		(void)fputs(s, fp);
	else
		dump_str(fp, s);
}

static void
dump_line(FILE *fp, const char *keyword, const char *path)
{
	(void)fprintf(fp, "%s ", keyword);
	dump_str(fp, path);
	(void)fputc('\n', fp);
}

static void
dump_role(const struct osms_conf *conf, FILE *fp, enum osms_role role)
{
	const struct conf_smtpd	*smtpd = &conf->smtpd;
	const char		*user = conf->roles[role].user;

	if (role != ROLE_SMTPD && role != ROLE_IMAPD && role != ROLE_QUEUE &&
	    role != ROLE_MTA && role != ROLE_SCAND && role != ROLE_CRYPTOD &&
	    role != ROLE_CHECKD && user[0] == '\0')
		return;
	(void)fprintf(fp, "%s {\n", role_name(role));
	if (user[0] != '\0') {
		(void)fputs("\tuser ", fp);
		dump_str(fp, user);
		(void)fputc('\n', fp);
	}
	if (role == ROLE_SMTPD)
		(void)fprintf(fp, "\tmax-message-size %llu\n"
		    "\tmax-recipients %u\n\tmax-line-length %u\n"
		    "\ttimeout %u\n\tsender-check %s\n"
		    "\tmax-messages-per-hour %u\n\tauth-max-failures %u\n"
		    "\tmax-client-sessions %u\n"
		    "\tmax-client-connections-per-minute %u\n"
		    "\tmax-client-recipients-per-minute %u\n",
		    (unsigned long long)smtpd->max_message_size,
		    smtpd->max_recipients, smtpd->max_line, smtpd->timeout,
		    smtpd->sender_check ? "yes" : "no",
		    smtpd->max_messages_per_hour, smtpd->auth_max_failures,
		    smtpd->max_client_sessions, smtpd->max_client_connections,
		    smtpd->max_client_recipients);
	if (role == ROLE_QUEUE)
		(void)fprintf(fp, "\tdelay-warning %u\n\tlifetime %u\n"
		    "\tmax-retry-interval %u\n", conf->queue.delay_warning,
		    conf->queue.lifetime, conf->queue.max_retry);
	if (role == ROLE_MTA) {
		if (conf->mta.resolver[0] != '\0') {
			(void)fputs("\tresolver ", fp);
			dump_str(fp, conf->mta.resolver);
			(void)fputc('\n', fp);
		}
		(void)fputs("\ttrust-anchor ", fp);
		dump_str(fp, conf->mta.trust_anchor);
		(void)fputs("\n\tca-file ", fp);
		dump_str(fp, conf->mta.ca_file);
		(void)fprintf(fp, "\n\tmax-domain-connections %u\n"
		    "\ttimeout %u\n", conf->mta.domain_connections,
		    conf->mta.timeout);
	}
	if (role == ROLE_IMAPD)
		(void)fprintf(fp, "\tmax-sessions %u\n\tmax-user-sessions %u\n"
		    "\ttimeout %u\n\tlogin-timeout %u\n",
		    conf->imapd.max_sessions, conf->imapd.max_user_sessions,
		    conf->imapd.timeout, conf->imapd.login_timeout);
	if (role == ROLE_CRYPTOD) {
		const struct policy_rule	*pr;
		char				 rule[POLICY_MAX_TEXT];

		(void)fputs("\tcertificates ", fp);
		dump_str(fp, conf->cryptod.store);
		(void)fputc('\n', fp);
		if (conf->cryptod.master_key[0] != '\0') {
			(void)fputs("\tmaster-key ", fp);
			dump_str(fp, conf->cryptod.master_key);
			(void)fputc('\n', fp);
		}
		if (conf->cryptod.policy_table[0] != '\0') {
			(void)fputs("\tpolicy-table <", fp);
			dump_str(fp, conf->cryptod.policy_table);
			(void)fputs(">\n", fp);
		}
		TAILQ_FOREACH(pr, &conf->cryptod.rules, entry) {
			char	*words[POLICY_MAX_WORDS];
			int	 i, n;

			policy_rule_format(pr, rule, sizeof(rule));
			n = policy_split(rule, words, POLICY_MAX_WORDS);
			(void)fputs("\trule", fp);
			for (i = 0; i < n; i++) {
				(void)fputc(' ', fp);
				dump_word(fp, words[i]);
			}
			(void)fputc('\n', fp);
		}
	}
	if (role == ROLE_SCAND) {
		const struct conf_scand	*sc = &conf->scand;

		(void)fprintf(fp, "\tenable %s\n\tdatabase ", sc->enable ?
		    "yes" : "no");
		dump_str(fp, sc->database);
		(void)fprintf(fp, "\n\tworkers %u\n\tmax-scan-size %llu\n"
		    "\tmax-file-size %llu\n\tmax-files %u\n"
		    "\tmax-recursion %u\n\ttimeout %u\n\taction %s\n"
		    "\tsubmission-action %s\n\tunscannable %s\n"
		    "\ton-failure %s\n", sc->workers,
		    (unsigned long long)sc->max_scansize,
		    (unsigned long long)sc->max_filesize, sc->max_files,
		    sc->max_recursion, sc->timeout,
		    conf_scan_action_name(sc->action),
		    conf_scan_action_name(sc->submission_action),
		    sc->unscannable == SCAN_ACCEPT ? "accept" : "tempfail",
		    sc->on_failure == SCAN_ACCEPT ? "accept" : "tempfail");
	}
	if (role == ROLE_CHECKD) {
		const struct conf_checkd	*ck = &conf->checkd;

		(void)fprintf(fp, "\tenable %s\n\tspf %s\n\tdkim %s\n"
		    "\tdmarc %s\n\tdmarc-reject %s\n\tdmarc-quarantine %s\n"
		    "\tspf-fail %s\n\tworkers %u\n\ttimeout %u\n"
		    "\ton-failure %s\n\tpublic-suffix-list ",
		    ck->enable ? "yes" : "no", ck->spf ? "yes" : "no",
		    ck->dkim ? "yes" : "no", ck->dmarc ? "yes" : "no",
		    authres_action_name(ck->dmarc_reject),
		    authres_action_name(ck->dmarc_quarantine),
		    authres_action_name(ck->spf_fail), ck->workers,
		    ck->timeout, ck->on_failure == SCAN_ACCEPT ? "accept" :
		    "tempfail");
		dump_str(fp, ck->public_suffix_list);
		(void)fputs("\n\trspamd ", fp);
		dump_str(fp, ck->rspamd);
		(void)fputs("\n\tspamd ", fp);
		dump_str(fp, ck->spamd);
		(void)fprintf(fp, "\n\tspam-reject %u\n\tspam-junk %u\n"
		    "\tspam-on-failure %s\n\tspam-timeout %u\n",
		    ck->spam_reject, ck->spam_junk, ck->spam_on_failure ==
		    SCAN_ACCEPT ? "accept" : "tempfail", ck->spam_timeout);
		(void)fputs("\tdirectory ", fp);
		dump_str(fp, ck->directory);
		(void)fprintf(fp, "\n\tgreylist %s\n\tgreylist-delay %u\n"
		    "\tgreylist-exempt ", ck->greylist ? "yes" : "no",
		    ck->grey_delay);
		dump_str(fp, ck->grey_exempt);
		(void)fputs("\n\tgreylist-spf-exempt ", fp);
		dump_str(fp, ck->grey_spf_exempt);
		(void)fputs("\n\tdnsbl ", fp);
		dump_str(fp, ck->dnsbl);
		(void)fprintf(fp, "\n\tdnsbl-threshold %u\n\tdnsbl-action %s\n"
		    "\tarc-trusted ", ck->dnsbl_threshold, ck->dnsbl_score ?
		    "score" : "reject");
		dump_str(fp, ck->arc_trusted);
		(void)fputc('\n', fp);
	}
	(void)fputs("}\n", fp);
}

void
conf_dump(const struct osms_conf *conf, FILE *fp)
{
	const struct conf_pki		*k;
	const struct conf_table		*t;
	const struct conf_domain	*d;
	const struct conf_listener	*l;
	const struct conf_relay		*rl;
	const struct conf_dkim		*dk;
	int				 r;

	if (conf->hostname[0] != '\0')
		dump_line(fp, "hostname", conf->hostname);
	dump_line(fp, "control socket", conf->control_socket);
	dump_line(fp, "queue directory", conf->spool);
	dump_line(fp, "mail directory", conf->mailstore);
	dump_line(fp, "empty directory", conf->empty);

	TAILQ_FOREACH(k, &conf->pkis, entry) {
		(void)fputs("pki ", fp);
		dump_str(fp, k->name);
		(void)fputs(" certificate ", fp);
		dump_str(fp, k->cert);
		(void)fputs(" key ", fp);
		dump_str(fp, k->key);
		(void)fputc('\n', fp);
	}
	TAILQ_FOREACH(t, &conf->tables, entry) {
		int	 qi, any = 0;

		(void)fputs("table ", fp);
		dump_str(fp, t->name);
		(void)fputs(t->backend == TABLE_FILE ? " file " :
		    " postgres ", fp);
		dump_str(fp, t->source);
		for (qi = 0; qi < TQ_COUNT; qi++) {
			if (t->queries[qi][0] == '\0')
				continue;
			(void)fputs(any++ ? "" : " {\n", fp);
			(void)fprintf(fp, "\tquery %s ",
			    conf_query_name((enum table_query)qi));
			dump_str(fp, t->queries[qi]);
			(void)fputc('\n', fp);
		}
		(void)fputs(any ? "}\n" : "\n", fp);
	}
	TAILQ_FOREACH(d, &conf->domains, entry) {
		if (strcmp(d->name, "*") == 0) {
			(void)fputs("domains <", fp);
			dump_str(fp, d->users);
			(void)fputs(">\n", fp);
			continue;
		}
		(void)fputs("domain ", fp);
		dump_str(fp, d->name);
		if (d->users[0] != '\0') {
			(void)fputs(" users <", fp);
			dump_str(fp, d->users);
			(void)fputc('>', fp);
		}
		if (d->aliases[0] != '\0') {
			(void)fputs(" aliases <", fp);
			dump_str(fp, d->aliases);
			(void)fputc('>', fp);
		}
		(void)fputc('\n', fp);
	}
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		/* The address is numeric, checked: safe as a bare word. */
		(void)fprintf(fp, "listen on %s port %u %s", l->addr, l->port,
		    conf_proto_name(l->proto));
		if (l->tls != TLS_NONE)
			(void)fprintf(fp, " %s", conf_tls_name(l->tls));
		if (l->pki[0] != '\0') {
			(void)fputs(" pki ", fp);
			dump_str(fp, l->pki);
		}
		if (l->proto == PROTO_SMTP && (l->flags & LISTEN_AUTH))
			(void)fputs(" auth", fp);
		(void)fputc('\n', fp);
	}
	TAILQ_FOREACH(rl, &conf->relays, entry) {
		(void)fputs("relay", fp);
		if (rl->domain[0] != '\0') {
			(void)fputs(" domain ", fp);
			dump_str(fp, rl->domain);
		}
		if (rl->host[0] != '\0') {
			(void)fputs(" host ", fp);
			dump_str(fp, rl->host);
		}
		if (rl->port != 0)
			(void)fprintf(fp, " port %u", rl->port);
		(void)fprintf(fp, " tls %s", conf_relay_tls_name(rl->tls));
		if (rl->auth_user[0] != '\0') {
			(void)fputs(" auth ", fp);
			dump_str(fp, rl->auth_user);
			(void)fputs(" secret ", fp);
			dump_str(fp, rl->secret);
		}
		(void)fputc('\n', fp);
	}
	TAILQ_FOREACH(dk, &conf->dkims, entry) {
		(void)fputs("dkim domain ", fp);
		dump_str(fp, dk->domain);
		(void)fputs(" selector ", fp);
		dump_str(fp, dk->selector);
		(void)fputs(" key ", fp);
		dump_str(fp, dk->key);
		(void)fputc('\n', fp);
	}
	if (conf->srs_domain[0] != '\0') {
		(void)fputs("srs domain ", fp);
		dump_str(fp, conf->srs_domain);
		(void)fputs(" secret ", fp);
		dump_str(fp, conf->srs_secret);
		(void)fputc('\n', fp);
	}
	for (r = 0; r < ROLE_COUNT; r++)
		if (R(r) & R_CHILDREN)
			dump_role(conf, fp, (enum osms_role)r);
	(void)fflush(fp);
}

/*
 * Lookups.
 */

struct conf_pki *
conf_pki_find(const struct osms_conf *conf, const char *name)
{
	struct conf_pki	*k;

	TAILQ_FOREACH(k, &conf->pkis, entry)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

struct conf_table *
conf_table_find(const struct osms_conf *conf, const char *name)
{
	struct conf_table	*t;

	TAILQ_FOREACH(t, &conf->tables, entry)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

const char *
conf_role_user(const struct osms_conf *conf, enum osms_role role)
{
	const struct role_info	*ri;

	if ((ri = role_info(role)) == NULL)
		return NULL;
	if (conf != NULL && conf->roles[role].user[0] != '\0')
		return conf->roles[role].user;
	return ri->user;
}

static const char *const query_names[TQ_COUNT] = {
	[TQ_DOMAIN] = "domain",
	[TQ_USER] = "user",
	[TQ_ALIAS] = "alias",
	[TQ_DOMAIN_ADD] = "domain-add",
	[TQ_DOMAIN_DEL] = "domain-del",
	[TQ_DOMAIN_LIST] = "domain-list",
	[TQ_USER_ADD] = "user-add",
	[TQ_USER_DEL] = "user-del",
	[TQ_USER_LIST] = "user-list",
	[TQ_USER_PASSWORD] = "user-password",
	[TQ_USER_QUOTA] = "user-quota",
	[TQ_ALIAS_ADD] = "alias-add",
	[TQ_ALIAS_DEL] = "alias-del",
	[TQ_ALIAS_LIST] = "alias-list",
	[TQ_AUDIT_ADD] = "audit-add",
	[TQ_AUDIT_LIST] = "audit-list",
	[TQ_CRYPT_POLICY] = "crypt-policy",
	[TQ_STORE_SINCE] = "store-since",
	[TQ_STORE_PUT] = "store-put",
	[TQ_STORE_REMOVE] = "store-remove",
	[TQ_GREY_CHECK] = "greylist-check",
};

int
conf_directory_pg(const struct osms_conf *conf)
{
	const struct conf_domain	*d;
	const struct conf_table		*t;

	TAILQ_FOREACH(d, &conf->domains, entry)
		if (d->users[0] != '\0' && (t = conf_table_find(conf,
		    d->users)) != NULL && t->backend == TABLE_POSTGRES)
			return 1;
	return 0;
}

const char *
conf_query_name(enum table_query q)
{
	if ((unsigned)q >= TQ_COUNT)
		return "?";
	return query_names[q];
}

int
conf_query_from_name(const char *name)
{
	int	 i;

	for (i = 0; i < TQ_COUNT; i++)
		if (strcmp(query_names[i], name) == 0)
			return i;
	return -1;
}

const char *
conf_proto_name(enum listen_proto proto)
{
	switch (proto) {
	case PROTO_SMTP:
		return "smtp";
	case PROTO_SUBMISSION:
		return "submission";
	case PROTO_IMAP:
		return "imap";
	case PROTO_POP3:
		return "pop3";
	}
	return "?";
}

const char *
conf_tls_name(enum listen_tls tls)
{
	switch (tls) {
	case TLS_NONE:
		return "none";
	case TLS_STARTTLS:
		return "starttls";
	case TLS_STARTTLS_REQUIRE:
		return "starttls-require";
	case TLS_IMPLICIT:
		return "tls";
	}
	return "?";
}

static const char *const relay_tls_names[] = {
	[RELAY_TLS_NONE] = "none",
	[RELAY_TLS_OPPORTUNISTIC] = "opportunistic",
	[RELAY_TLS_REQUIRE] = "require",
	[RELAY_TLS_VERIFY] = "verify",
};

const char *
conf_relay_tls_name(enum relay_tls tls)
{
	if ((unsigned)tls >= sizeof(relay_tls_names) /
	    sizeof(relay_tls_names[0]))
		return "?";
	return relay_tls_names[tls];
}

int
conf_relay_tls_from_name(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(relay_tls_names) / sizeof(relay_tls_names[0]);
	    i++)
		if (strcmp(relay_tls_names[i], s) == 0)
			return (int)i;
	return -1;
}

const struct conf_relay *
conf_relay_find(const struct osms_conf *conf, const char *domain)
{
	const struct conf_relay	*r, *fallback = NULL;

	TAILQ_FOREACH(r, &conf->relays, entry) {
		if (strcmp(r->domain, domain) == 0)
			return r;
		if (r->domain[0] == '\0')
			fallback = r;
	}
	return fallback;
}

const char *
conf_scan_action_name(enum scan_action a)
{
	switch (a) {
	case SCAN_REJECT:
		return "reject";
	case SCAN_QUARANTINE:
		return "quarantine";
	case SCAN_TAG:
		return "tag";
	}
	return "?";
}
