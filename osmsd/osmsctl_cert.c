/*
 * osmsctl cert and policy: the gateway's certificate store and policy
 * as cryptod sees them, read from osmsd.conf and the store itself (as
 * root), so an administrator can tell what would happen to a message
 * before it is sent.
 *
 *	cert list [ADDRESS|DOMAIN]	each certificate: whose, from where,
 *					until when, usable or why not
 *	cert show FINGERPRINT		that certificate in full (a prefix
 *					of its SHA-256 fingerprint will do)
 *	cert import CERT [KEY] [NAME]	into the store, as NAME (else the
 *					certificate's e-mail address)
 *	cert remove NAME		its certificate, key and harvest
 *	cert ca [DAYS]			make the internal CA (ca.pem, ca.key)
 *	cert issue ADDRESS [DAYS]	a key and a certificate from it
 *	cert export NAME [P12FILE]	the certificate (PEM) on standard
 *					output; with P12FILE, certificate
 *					and key as PKCS#12 (key escrow),
 *					its password from standard input
 *	audit [TEXT]			the gateway's decisions (audit.log in
 *					the store), those that mention TEXT
 *	policy test [-d DIRECTION] FROM TO
 *					the rule that applies, its actions,
 *					and the certificate that would be used
 */
#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certstore.h"
#include "conf.h"
#include "osmsctl.h"
#include "policy.h"
#include "smime.h"
#include "util.h"

static struct osms_conf *
load_conf(const char *path)
{
	struct osms_conf	*conf;
	int			 fd = -1;

	if ((conf = conf_parse_file(path, stderr, NULL)) == NULL) {
		(void)fprintf(stderr, "osmsctl: cannot read %s\n", path);
		exit(1);
	}
	store_set(conf->cryptod.store);
	store_reload();
	if (conf->cryptod.master_key[0] != '\0') {
		if ((fd = open(conf->cryptod.master_key, O_RDONLY |
		    O_CLOEXEC)) == -1 || store_set_master_fd(fd) == -1) {
			(void)fprintf(stderr, "osmsctl: master-key %s: %s\n",
			    conf->cryptod.master_key, fd == -1 ?
			    strerror(errno) : "empty");
			exit(1);
		}
		(void)close(fd);
	}
	return conf;
}

static void
not_after(X509 *x, char *buf, size_t size)
{
	BIO	*b = BIO_new(BIO_s_mem());
	char	*p;
	long	 n;

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0)
		(void)snprintf(buf, size, "%.*s", (int)n, p);
	BIO_free(b);
}

/* Is name.key a PKCS#8-encrypted PEM key? */
static int
key_encrypted(const char *name)
{
	char	 path[CONF_MAX_PATH + 300], line[64];
	FILE	*fp;
	int	 yes = 0;

	(void)snprintf(path, sizeof(path), "%s/%s.key", store_dir(), name);
	if ((fp = fopen(path, "r")) != NULL) {
		yes = fgets(line, sizeof(line), fp) != NULL &&
		    strncmp(line, "-----BEGIN ENCRYPTED PRIVATE KEY-----",
		    37) == 0;
		(void)fclose(fp);
	}
	return yes;
}

/* One store file: name.pem in sub ("" or "harvested/"). */
static void
list_one(const char *sub, const char *name)
{
	X509		*x;
	EVP_PKEY	*k = NULL;
	char		 path[CONF_MAX_PATH + 600], fp_[65], until[64];
	const char	*kind, *why_enc, *why_sign = NULL, *at;

	(void)snprintf(path, sizeof(path), "%s%s.pem", sub, name);
	x = sub[0] == '\0' ? store_cert(name) : store_harvested(name);
	if (x == NULL) {
		(void)printf("%-40s not a certificate\n", path);
		return;
	}
	if (sub[0] == '\0')
		k = store_key(name);
	at = strchr(name, '@');
	if (strcmp(name, "ca") == 0 && sub[0] == '\0') {
		not_after(x, until, sizeof(until));
		store_fingerprint(x, fp_, sizeof(fp_));
		(void)printf("%-40s %-14s until %s sha256 %.16s\n", name,
		    "internal CA", until, fp_);
		X509_free(x);
		EVP_PKEY_free(k);
		return;
	}
	if (sub[0] != '\0')
		kind = "harvested";
	else if (k != NULL)
		kind = at != NULL ? "user" : "own domain";
	else
		kind = at != NULL ? "imported" : "partner domain";
	store_fingerprint(x, fp_, sizeof(fp_));
	not_after(x, until, sizeof(until));
	if (store_check(x, name, STORE_ENCRYPT, &why_enc) == 0)
		why_enc = NULL;
	if (k != NULL && store_check(x, name, STORE_SIGN, &why_sign) == 0)
		why_sign = NULL;
	(void)printf("%-40s %-14s until %s sha256 %.16s\n", name, kind, until,
	    fp_);
	(void)printf("%-40s encrypt: %s", "", why_enc ? why_enc : "usable");
	if (k != NULL)
		(void)printf("; sign: %s; key %s", why_sign ? why_sign :
		    "usable", key_encrypted(name) ? "encrypted at rest" :
		    "NOT encrypted at rest");
	(void)printf("\n");
	X509_free(x);
	EVP_PKEY_free(k);
}

static int
names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

#define MAX_NAMES	4096

/* The names (without .pem) of the certificates in sub, sorted. */
static size_t
store_names(const char *sub, char **names)
{
	char		 path[CONF_MAX_PATH + 32];
	DIR		*d;
	struct dirent	*de;
	size_t		 n = 0, len;

	(void)snprintf(path, sizeof(path), "%s/%s", store_dir(), sub);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < MAX_NAMES) {
		len = strlen(de->d_name);
		if (len <= 4 || strcmp(de->d_name + len - 4, ".pem") != 0 ||
		    de->d_name[0] == '.' || strcmp(de->d_name, "trust.pem") == 0 ||
		    strcmp(de->d_name, "crl.pem") == 0)
			continue;
		names[n] = xstrdup(de->d_name);
		names[n][len - 4] = '\0';
		n++;
	}
	(void)closedir(d);
	qsort(names, n, sizeof(names[0]), names_cmp);
	return n;
}

/* Those of sub that are filter's (an address or a domain; NULL: all). */
static void
list_dir(const char *sub, const char *filter)
{
	char		*names[MAX_NAMES];
	size_t		 n, i;
	const char	*at;

	n = store_names(sub, names);
	for (i = 0; i < n; i++) {
		at = strrchr(names[i], '@');
		if (filter == NULL || strcasecmp(filter, names[i]) == 0 ||
		    (at != NULL && strcasecmp(filter, at + 1) == 0))
			list_one(sub, names[i]);
		free(names[i]);
	}
}

/*
 * The certificates whose SHA-256 fingerprint starts with want (hex, any
 * case, colons allowed; at least 8 digits), in full. 1 if none.
 */
static int
cert_show(const char *want)
{
	static const char *const subs[] = { "", "harvested/" };
	char		 hex[65], fp_[65], *names[MAX_NAMES];
	size_t		 n, i, j, len = 0, found = 0;
	X509		*x;
	BIO		*out;

	for (; *want != '\0'; want++) {
		if (*want == ':')
			continue;
		if (!isxdigit((unsigned char)*want) || len + 1 >= sizeof(hex))
			return -1;
		hex[len++] = (char)tolower((unsigned char)*want);
	}
	hex[len] = '\0';
	if (len < 8 || (out = BIO_new_fp(stdout, BIO_NOCLOSE)) == NULL)
		return -1;
	for (j = 0; j < nitems(subs); j++) {
		n = store_names(subs[j], names);
		for (i = 0; i < n; i++) {
			x = subs[j][0] == '\0' ? store_cert(names[i]) :
			    store_harvested(names[i]);
			if (x != NULL) {
				store_fingerprint(x, fp_, sizeof(fp_));
				if (strncmp(fp_, hex, len) == 0) {
					if (found++ > 0)
						(void)printf("\n");
					list_one(subs[j], names[i]);
					(void)printf("sha256 %s\n", fp_);
					(void)X509_print_ex(out, x,
					    XN_FLAG_ONELINE, X509_FLAG_NO_SIGDUMP |
					    X509_FLAG_NO_PUBKEY);
					(void)PEM_write_bio_X509(out, x);
				}
				X509_free(x);
			}
			free(names[i]);
		}
	}
	(void)BIO_flush(out);
	BIO_free(out);
	if (found == 0)
		(void)fprintf(stderr, "osmsctl: no certificate with "
		    "fingerprint %s...\n", hex);
	return found > 0 ? 0 : 1;
}

/* Tables live in the directory: osmsd's authd answers, as to cryptod. */
struct asker {
	const char	*sock;
	int		 unreachable;
};

static int
ask_member(const char *table, const char *address, void *arg)
{
	struct asker	*a = arg;
	const char	*keys[2] = { address, strrchr(address, '@') };
	char		 out[512];
	int		 i;

	if (keys[1] != NULL)
		keys[1]++;
	for (i = 0; i < 2 && keys[i] != NULL; i++) {
		if (!ctl_directory_ask(a->sock, DIR_OP_GW_LOOKUP, "member",
		    table, keys[i], out, sizeof(out))) {
			a->unreachable = 1;
			return -1;
		}
		if (strncmp(out, "found", 5) == 0) {
			(void)printf("table:       <%s> lists %s\n", table,
			    keys[i]);
			return 1;
		}
		if (strcmp(out, "not found") != 0)
			return -1;
	}
	return 0;
}

/* The policy-table's entries for the local party: its domain's, then
 * its own, over the rule's actions. */
static void
directory_entries(struct asker *a, const char *table, const char *party,
    struct policy *pol)
{
	struct policy_rule	 r;
	const char		*keys[2] = { strrchr(party, '@'), party };
	char			 out[512], err[256];
	int			 i;

	if (keys[0] != NULL)
		keys[0]++;
	for (i = 0; i < 2; i++) {
		if (keys[i] == NULL || keys[i][0] == '\0')
			continue;
		if (!ctl_directory_ask(a->sock, DIR_OP_GW_LOOKUP, "entry",
		    table, keys[i], out, sizeof(out))) {
			(void)printf("directory:   not asked: osmsd is not "
			    "running (policy-table <%s>)\n", table);
			return;
		}
		if (strncmp(out, "found ", 6) != 0) {
			if (strcmp(out, "not found") != 0)
				(void)printf("directory:   %s: %s\n", keys[i],
				    out);
			continue;
		}
		if (policy_entry_parse(&r, out + 6, err, sizeof(err)) == -1) {
			(void)printf("directory:   %s: \"%s\" is refused: %s "
			    "(cryptod defers such mail)\n", keys[i], out + 6,
			    err);
			continue;
		}
		policy_override(pol, &r, keys[i]);
		(void)printf("directory:   %s: %s (policy-table <%s>)\n",
		    keys[i], out + 6, table);
	}
}

static int
policy_test(const char *path, int argc, char **argv)
{
	struct asker	 asker = { NULL, 0 };
	static const char *const dirs[] = { "inbound", "outbound",
	    "internal" };
	enum policy_dir	 dir = POLICY_OUTBOUND;
	struct policy	 pol;
	const struct policy_rule *r;
	struct osms_conf *conf;
	X509		*x;
	enum store_origin origin;
	char		 text[POLICY_MAX_TEXT], why[200], fp_[65];
	size_t		 i;
	unsigned	 caps;

	if (argc >= 2 && strcmp(argv[0], "-d") == 0) {
		for (i = 0; i < nitems(dirs); i++)
			if (strcmp(argv[1], dirs[i]) == 0)
				break;
		if (i == nitems(dirs))
			return -1;
		dir = (enum policy_dir)(i + POLICY_INBOUND);
		argc -= 2;
		argv += 2;
	}
	if (argc != 2)
		return -1;
	conf = load_conf(path);
	asker.sock = conf->control_socket;
	(void)printf("%s from %s to %s\n", dirs[dir - POLICY_INBOUND], argv[0],
	    argv[1]);
	if (policy_match(&conf->cryptod.rules, dir, argv[0], argv[1],
	    ask_member, &asker, &pol) == -1)
		(void)printf("rule:        undecided: %s\n", asker.unreachable ?
		    "a table needs osmsd running" : "a table cannot tell now");
	TAILQ_FOREACH(r, &conf->cryptod.rules, entry)
		if (r->line == pol.line)
			break;
	if (r != NULL) {
		policy_rule_format(r, text, sizeof(text));
		(void)printf("rule:        line %d: rule %s\n", r->line, text);
	} else
		(void)printf("rule:        none matches: the defaults\n");
	if (conf->cryptod.policy_table[0] != '\0')
		directory_entries(&asker, conf->cryptod.policy_table,
		    policy_local_party(dir, argv[0], argv[1]), &pol);
	(void)printf("actions:     sign %s, encrypt %s, decrypt %s, "
	    "user-encrypted %s%s\n", policy_sign_name(pol.sign),
	    policy_encrypt_name(pol.encrypt), pol.decrypt == POLICY_YES ?
	    "yes" : "no", pol.user_encrypted == USER_ENCRYPTED_REJECT ?
	    "reject" : "pass", pol.require_signed ? ", require-signed" : "");
	if (dir == POLICY_INBOUND)
		(void)printf("             keep-original %s, subject-tag %s\n",
		    pol.keep_original == POLICY_YES ? "yes" : "no",
		    pol.subject_tag == POLICY_YES ? "yes" : "no");
	if (dir == POLICY_OUTBOUND && pol.encrypt != ENCRYPT_NEVER) {
		if ((x = store_recipient(argv[1], &origin, &caps, why,
		    sizeof(why))) != NULL) {
			store_fingerprint(x, fp_, sizeof(fp_));
			(void)printf("certificate: %s (%s), sha256 %s\n"
			    "outcome:     encrypted (%s%s)\n", argv[1],
			    store_origin_name(origin), fp_, caps &
			    SMIME_CAP_GCM ? "AES-256-GCM" : "AES-256-CBC",
			    (caps & SMIME_CAP_OAEP) && X509_get0_pubkey(x) !=
			    NULL && EVP_PKEY_get_base_id(X509_get0_pubkey(x)) ==
			    EVP_PKEY_RSA ? ", RSA-OAEP" : "");
			X509_free(x);
		} else
			(void)printf("certificate: none usable%s%s\n"
			    "outcome:     %s\n", why[0] ? ": " : "", why,
			    pol.encrypt == ENCRYPT_MANDATORY ? "refused at DATA"
			    " (550 5.7.1)" : pol.encrypt ==
			    ENCRYPT_MANDATORY_OR_TLS ? "sent only over verified"
			    " TLS" : "sent unencrypted");
	}
	conf_free(conf);
	return 0;
}

static int
cert_import(int argc, char **argv)
{
	STACK_OF(OPENSSL_STRING) *emails;
	X509		*x = NULL;
	EVP_PKEY	*k = NULL;
	FILE		*fp;
	char		 name[256];
	int		 rc = 1;

	if ((fp = fopen(argv[0], "r")) != NULL) {
		x = PEM_read_X509(fp, NULL, NULL, NULL);
		(void)fclose(fp);
	}
	if (x == NULL) {
		(void)fprintf(stderr, "osmsctl: %s: no PEM certificate\n",
		    argv[0]);
		return 1;
	}
	/* A second argument that is a file is the key, else the name. */
	if (argc >= 2 && (fp = fopen(argv[1], "r")) != NULL) {
		k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
		(void)fclose(fp);
		if (k == NULL || X509_check_private_key(x, k) != 1) {
			(void)fprintf(stderr, "osmsctl: %s: not the key of %s\n",
			    argv[1], argv[0]);
			goto done;
		}
	}
	name[0] = '\0';
	if (argc > (k != NULL ? 3 : 2)) {
		(void)fprintf(stderr, "osmsctl: %s: no such key file\n",
		    argv[1]);
		goto done;
	}
	if (argc == (k != NULL ? 3 : 2))
		(void)osms_strlcpy(name, argv[argc - 1], sizeof(name));
	else if ((emails = X509_get1_email(x)) != NULL) {
		if (sk_OPENSSL_STRING_num(emails) > 0)
			(void)osms_strlcpy(name, sk_OPENSSL_STRING_value(emails,
			    0), sizeof(name));
		X509_email_free(emails);
	}
	str_lower(name);
	if (!store_name_ok(name) || strchr(name, ' ') != NULL) {
		(void)fprintf(stderr, "osmsctl: %s: no e-mail address in the "
		    "certificate; name it (an address or a domain)\n",
		    argv[0]);
		goto done;
	}
	if (store_put(name, x, k) == -1) {
		(void)fprintf(stderr, "osmsctl: %s: cannot write the store\n",
		    name);
		goto done;
	}
	(void)printf("%s: certificate%s imported\n", name, k == NULL ? "" :
	    store_master() != NULL ? " and key (encrypted at rest)" :
	    " and key (not encrypted: no master-key)");
	list_one("", name);
	rc = 0;
done:
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return rc;
}

static int
cert_ca(long days, const char *hostname)
{
	const char	*why;

	if (store_make_ca(days, hostname, &why) == -1) {
		(void)fprintf(stderr, "osmsctl: %s\n", why);
		return 1;
	}
	(void)printf("internal CA made: %s/ca.pem\n", store_dir());
	return 0;
}

static int
cert_issue(const char *address, long days)
{
	const char	*why;
	char		 name[256];

	(void)osms_strlcpy(name, address, sizeof(name));
	str_lower(name);
	if (store_issue(name, days, &why) == -1) {
		(void)fprintf(stderr, "osmsctl: %s: %s\n", name, why);
		return 1;
	}
	(void)printf("%s: certificate issued by the internal CA\n", name);
	list_one("", name);
	return 0;
}

static long
days_arg(int argc, char **argv, int i, long def)
{
	char	*end;
	long	 d;

	if (argc <= i)
		return def;
	d = strtol(argv[i], &end, 10);
	return *end == '\0' && d > 0 && d <= 36500 ? d : -1;
}

static int
cert_remove(const char *name)
{
	static const char *const forms[] = { "%s/%s.pem", "%s/%s.key",
	    "%s/%s.aead", "%s/%s.oaep", "%s/harvested/%s.pem",
	    "%s/harvested/%s.aead", "%s/harvested/%s.oaep" };
	char	 path[CONF_MAX_PATH + 300];
	size_t	 i;
	int	 n = 0;

	if (!store_name_ok(name))
		return -1;
	for (i = 0; i < nitems(forms); i++) {
		(void)snprintf(path, sizeof(path), forms[i], store_dir(), name);
		if (unlink(path) == 0) {
			(void)printf("removed %s\n", path);
			n++;
		} else if (errno != ENOENT)
			(void)fprintf(stderr, "osmsctl: %s: %s\n", path,
			    strerror(errno));
	}
	if (n == 0)
		(void)fprintf(stderr, "osmsctl: %s: not in the store\n", name);
	return n > 0 ? 0 : 1;
}

static int
cert_export(const char *name, const char *p12file)
{
	X509		*x = store_cert(name);
	EVP_PKEY	*k;
	PKCS12		*p12 = NULL;
	FILE		*fp;
	char		 pw[1024];
	int		 fd, rc = 1;

	if (x == NULL && (x = store_harvested(name)) == NULL) {
		(void)fprintf(stderr, "osmsctl: %s: no certificate\n", name);
		return 1;
	}
	if (p12file == NULL) {
		rc = PEM_write_X509(stdout, x) == 1 ? 0 : 1;
		X509_free(x);
		return rc;
	}
	if ((k = store_key(name)) == NULL) {
		(void)fprintf(stderr, "osmsctl: %s: no key in the store\n",
		    name);
		X509_free(x);
		return 1;
	}
	read_password(pw, sizeof(pw));
	if ((p12 = PKCS12_create(pw, name, k, x, NULL, 0, 0, 0, 0, 0)) ==
	    NULL || (fd = open(p12file, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0600)) == -1 || (fp = fdopen(fd, "wb")) == NULL)
		(void)fprintf(stderr, "osmsctl: %s: %s\n", p12file, p12 == NULL ?
		    "cannot make the PKCS#12" : strerror(errno));
	else {
		rc = i2d_PKCS12_fp(fp, p12) == 1 && fclose(fp) == 0 ? 0 : 1;
		if (rc == 0)
			(void)printf("%s: certificate and key in %s\n", name,
			    p12file);
	}
	explicit_wipe(pw, sizeof(pw));
	PKCS12_free(p12);
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return rc;
}

int
audit_in_database(const char *path)
{
	struct osms_conf	*conf;
	struct conf_table	*t;
	int			 yes = 0;

	if ((conf = conf_parse_file(path, stderr, NULL)) == NULL)
		return 0;	/* cmd_cert says why */
	TAILQ_FOREACH(t, &conf->tables, entry)
		if (t->backend == TABLE_POSTGRES)
			yes = 1;
	conf_free(conf);
	return yes;
}

/* The lines of the store's audit.log that mention text (any case). */
static int
audit_show(const char *text)
{
	char	 path[CONF_MAX_PATH + 16], line[2048];
	FILE	*fp;

	(void)snprintf(path, sizeof(path), "%s/audit.log", store_dir());
	if ((fp = fopen(path, "r")) == NULL) {
		(void)fprintf(stderr, "osmsctl: %s: %s\n", path,
		    strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), fp) != NULL)
		if (text == NULL || strcasestr(line, text) != NULL)
			(void)fputs(line, stdout);
	(void)fclose(fp);
	return 0;
}

int
cmd_cert(const char *path, int argc, char **argv)
{
	struct osms_conf	*conf;
	long			 days;
	int			 rc = 0;

	if (strcmp(argv[0], "policy") == 0)
		return argc >= 2 && strcmp(argv[1], "test") == 0 ?
		    policy_test(path, argc - 2, argv + 2) : -1;
	if (strcmp(argv[0], "audit") == 0) {
		if (argc > 2)
			return -1;
		conf = load_conf(path);
		rc = audit_show(argc == 2 ? argv[1] : NULL);
		conf_free(conf);
		return rc;
	}
	if (argc < 2)
		return -1;
	if (strcmp(argv[1], "list") == 0 && argc <= 3) {
		conf = load_conf(path);
		list_dir("", argc == 3 ? argv[2] : NULL);
		list_dir("harvested/", argc == 3 ? argv[2] : NULL);
	} else if (strcmp(argv[1], "show") == 0 && argc == 3) {
		conf = load_conf(path);
		if ((rc = cert_show(argv[2])) == -1) {
			conf_free(conf);
			return -1;
		}
	} else if (strcmp(argv[1], "import") == 0 && argc >= 3 && argc <= 5) {
		conf = load_conf(path);
		rc = cert_import(argc - 2, argv + 2);
	} else if (strcmp(argv[1], "ca") == 0 && argc <= 3) {
		if ((days = days_arg(argc, argv, 2, 3650)) == -1)
			return -1;
		conf = load_conf(path);
		rc = cert_ca(days, conf->hostname);
	} else if (strcmp(argv[1], "issue") == 0 && (argc == 3 ||
	    argc == 4)) {
		if ((days = days_arg(argc, argv, 3, 365)) == -1)
			return -1;
		conf = load_conf(path);
		rc = cert_issue(argv[2], days);
	} else if (strcmp(argv[1], "remove") == 0 && argc == 3) {
		conf = load_conf(path);
		rc = cert_remove(argv[2]);
	} else if (strcmp(argv[1], "export") == 0 && (argc == 3 ||
	    argc == 4)) {
		conf = load_conf(path);
		rc = cert_export(argv[2], argc == 4 ? argv[3] : NULL);
	} else
		return -1;
	conf_free(conf);
	return rc;
}
