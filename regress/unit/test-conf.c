/*
 * osmsd.conf: the grammar (lib/mail/parse.y) and conf.c.
 *
 * Hostile input first: every error message with its line, the limits
 * (token size, macro nesting and size, NUL bytes, file size, error
 * count), then macros, defaults, the dump round-trip, conf_parse_file
 * on odd files, and the golden files in regress/golden/.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "role.h"
#include "test.h"
#include "util.h"

/*
 * Helpers.
 */

/* Parse buf as "t.conf"; the error lines (or "") in *errs. */
static struct osms_conf *
parse_len(const char *buf, size_t len, char *const *defines, char **errs)
{
	struct osms_conf	*conf;
	FILE			*fp;
	size_t			 size;

	if ((fp = open_memstream(errs, &size)) == NULL)
		abort();
	conf = conf_parse_buffer("t.conf", buf, len, fp, defines);
	if (fclose(fp) != 0)
		abort();
	return conf;
}

static struct osms_conf *
parse(const char *buf, char *const *defines, char **errs)
{
	return parse_len(buf, strlen(buf), defines, errs);
}

static char *
dump(const struct osms_conf *conf)
{
	FILE	*fp;
	char	*out;
	size_t	 size;

	if ((fp = open_memstream(&out, &size)) == NULL)
		abort();
	conf_dump(conf, fp);
	if (fclose(fp) != 0)
		abort();
	return out;
}

/* Compare, and show both sides on a mismatch. */
static int
same(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	(void)printf("# %s: got:\n# %s\n# want:\n# %s\n", what, got, want);
	return 0;
}

/*
 * parse -> dump -> parse -> dump gives the same text twice; 1 if so.
 * The first dump goes to *out if out is not NULL.
 */
static int
roundtrip(const struct osms_conf *conf, char **out)
{
	struct osms_conf	*again;
	char			*d1, *d2, *errs;
	int			 ok;

	d1 = dump(conf);
	again = parse(d1, NULL, &errs);
	if (again == NULL) {
		(void)printf("# dump does not parse:\n%s# errors:\n%s", d1,
		    errs);
		free(errs);
		free(d1);
		return 0;
	}
	free(errs);
	d2 = dump(again);
	ok = same("second dump", d2, d1);
	free(d2);
	conf_free(again);
	if (out != NULL)
		*out = d1;
	else
		free(d1);
	return ok;
}

/*
 * Error messages: the input, and exactly what must be printed.
 */

struct errcase {
	const char	*input;
	const char	*errors;
};

static const struct errcase errcases[] = {
	/* The gateway's policy rules. */
	{ "cryptod {\n\trule outbound to x.example\n}\n",
	  "t.conf:2: rule: a rule without an action\n" },
	{ "cryptod {\n\trule encrypt sometimes\n}\n",
	  "t.conf:2: rule: encrypt wants never, if-possible, mandatory or "
	  "mandatory-or-tls\n" },
	{ "smtpd {\n\trule sign never\n}\n",
	  "t.conf:2: rule belongs in the cryptod block\n" },
	/* Tables the gateway names must be there. */
	{ "cryptod {\n\trule outbound to <partners> encrypt mandatory\n}\n",
	  "t.conf:2: rule: table \"partners\" is not defined\n" },
	{ "cryptod {\n\tpolicy-table <crypt>\n}\n",
	  "t.conf:2: policy-table \"crypt\" is not defined\n" },
	{ "smtpd {\n\tpolicy-table <crypt>\n}\n",
	  "t.conf:2: policy-table belongs in the cryptod block\n" },
	/* Lexer. */
	{ "hostname \"mail.example.test\n",
	  "t.conf:1: unterminated string\n" },
	{ "hostname \"mail.example.test",
	  "t.conf:1: unterminated string\n" },
	{ "control socket \"/run/a\\nb\"\n",
	  "t.conf:1: invalid escape in string (only \\\" and \\\\ are "
	  "allowed)\n" },
	{ "\n\nhostname a ! b\n",
	  "t.conf:3: unexpected character \"!\"\n" },
	{ "hostname a \\ b\n",
	  "t.conf:1: unexpected \"\\\" (only allowed at the end of a "
	  "line)\n" },
	{ "hostname \x01\n",
	  "t.conf:1: unexpected byte 0x01\n" },
	{ "hostname \"x\" ;\n",
	  "t.conf:1: unexpected character \";\"\n" },
	/* Syntax, with recovery at the end of each line. */
	{ "foo bar\n",
	  "t.conf:1: syntax error at \"bar\", expecting \"=\" or \"{\"\n" },
	{ "listen on\n",
	  "t.conf:1: syntax error at end of line\n" },
	{ "listen on 127.0.0.1 smtp starttls tls2\n",
	  "t.conf:1: syntax error at \"tls2\"\n" },
	{ "pki x certificate\n\ntable t file\nbogus\n",
	  "t.conf:1: syntax error at end of line\n"
	  "t.conf:3: syntax error at end of line\n"
	  "t.conf:4: syntax error at end of line, expecting \"=\" or "
	  "\"{\"\n" },
	{ "control socket /a /b\n",
	  "t.conf:1: syntax error at \"/b\", expecting end of line\n" },
	{ "domain example.org users users\n",
	  "t.conf:1: syntax error at \"users\", expecting \"<\"\n" },
	{ "}\n",
	  "t.conf:1: syntax error at \"}\"\n" },
	{ "smtpd {\n\tuser _x\n",
	  "t.conf:2: syntax error at end of file, missing \"}\"\n" },
	{ "smtpd {\n\tbogus 1\n\ttimeout 0\n}\nhostname -x\n",
	  "t.conf:2: syntax error at \"bogus\"\n"
	  "t.conf:3: invalid timeout \"0\": expected a duration from 1s "
	  "to 1h\n"
	  "t.conf:5: invalid hostname \"-x\": label starts with a hyphen\n" },
	{ "smtpd { bogus }\nhostname x.y\n",
	  "t.conf:1: syntax error at \"bogus\"\n" },
	{ "smtpd\n",
	  "t.conf:1: syntax error at end of line, expecting \"{\"\n" },
	/* Paths. */
	{ "queue directory var/spool\n",
	  "t.conf:1: invalid queue directory \"var/spool\": not an absolute "
	  "path\n" },
	{ "mail directory \"\"\n",
	  "t.conf:1: invalid mail directory \"\": not an absolute path\n" },
	{ "empty directory \"/var/\tempty\"\n",
	  "t.conf:1: invalid empty directory \"/var/\\x09empty\": control "
	  "character in path\n" },
	{ "control socket \"/run/\x7f\"\n",
	  "t.conf:1: invalid control socket \"/run/\\x7f\": control "
	  "character in path\n" },
	/* Hostname. */
	{ "hostname \"\"\n",
	  "t.conf:1: invalid hostname \"\": empty\n" },
	{ "hostname mail..example\n",
	  "t.conf:1: invalid hostname \"mail..example\": empty label\n" },
	{ "hostname mail.example.\n",
	  "t.conf:1: invalid hostname \"mail.example.\": leading or trailing "
	  "dot\n" },
	{ "hostname m_x.example\n",
	  "t.conf:1: invalid hostname \"m_x.example\": invalid character\n" },
	{ "hostname \"m\xc3\xa9.example\"\n",
	  "t.conf:1: invalid hostname \"m\xc3\xa9.example\": invalid "
	  "character\n" },
	/* pki. */
	{ "pki x certificate /c\n",
	  "t.conf:1: pki \"x\" needs a key\n" },
	{ "pki x key /k\n",
	  "t.conf:1: pki \"x\" needs a certificate\n" },
	{ "pki x certificate /c key /k certificate /d\n",
	  "t.conf:1: pki certificate given twice\n" },
	{ "pki x certificate c.pem key /k\n",
	  "t.conf:1: invalid pki certificate \"c.pem\": not an absolute "
	  "path\n" },
	{ "pki \"\" certificate /c key /k\n",
	  "t.conf:1: invalid pki name \"\": empty\n" },
	{ "pki \"a\tb\" certificate /c key /k\n",
	  "t.conf:1: invalid pki name \"a\\x09b\": control character in "
	  "name\n" },
	{ "pki x certificate /c key /k\n\npki x key /k2 certificate /c2\n"
	  "pki x certificate /c key /k\n",
	  "t.conf:3: pki \"x\" defined twice (first on line 1)\n"
	  "t.conf:4: pki \"x\" defined twice (first on line 1)\n" },
	/* Tables. */
	{ "table t file etc/t\n",
	  "t.conf:1: invalid table file \"etc/t\": not an absolute path\n" },
	{ "table t postgres \"\"\n",
	  "t.conf:1: invalid table postgres conninfo \"\": empty\n" },
	{ "table t postgres \"host=x\x01\"\n",
	  "t.conf:1: invalid table postgres conninfo \"host=x\\x01\": "
	  "control character in conninfo\n" },
	{ "table t file /a\ntable t postgres \"dbname=x\"\n",
	  "t.conf:2: table \"t\" defined twice (first on line 1)\n" },
	{ "table t sql /a\n",
	  "t.conf:1: syntax error at \"sql\", expecting file or postgres\n" },
	/* Domains. */
	{ "domain \"\"\n",
	  "t.conf:1: invalid domain \"\": empty\n" },
	{ "domain .example.org\n",
	  "t.conf:1: invalid domain \".example.org\": leading or trailing "
	  "dot\n" },
	{ "domain ex_ample.org\n",
	  "t.conf:1: invalid domain \"ex_ample.org\": invalid character\n" },
	{ "domain example-.org\n",
	  "t.conf:1: invalid domain \"example-.org\": label ends with a "
	  "hyphen\n" },
	{ "domain \"\xc3(.org\"\n",
	  "t.conf:1: invalid domain \"\xc3(.org\": invalid UTF-8\n" },
	{ "domain \"\xc0\xaf.org\"\n",
	  "t.conf:1: invalid domain \"\xc0\xaf.org\": invalid UTF-8\n" },
	{ "domain \"\xed\xa0\x80.org\"\n",
	  "t.conf:1: invalid domain \"\xed\xa0\x80.org\": invalid UTF-8\n" },
	{ "domain aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaa.org\n",
	  "t.conf:1: invalid domain \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaa.org\": label longer than 63 bytes\n" },
	{ "domain example.org users <u>\n",
	  "t.conf:1: table \"u\" is not defined\n" },
	{ "domain example.org aliases <a> users <u>\ntable u file /u\n",
	  "t.conf:1: table \"a\" is not defined\n" },
	{ "table u file /u\ndomain example.org users <u> users <u>\n",
	  "t.conf:2: domain users given twice\n" },
	{ "domain Example.ORG\ndomain example.org\n",
	  "t.conf:2: domain \"example.org\" defined twice (first on line "
	  "1)\n" },
	/* Listeners. */
	{ "listen on 127.0.0.1\n",
	  "t.conf:1: listen on 127.0.0.1: no protocol (smtp, submission, "
	  "imap or pop3)\n" },
	{ "listen on localhost smtp\n",
	  "t.conf:1: invalid listen address \"localhost\": not a numeric "
	  "IPv4 or IPv6 address\n" },
	{ "listen on 127.0.0.01 smtp\n",
	  "t.conf:1: invalid listen address \"127.0.0.01\": not a numeric "
	  "IPv4 or IPv6 address\n" },
	{ "listen on 0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000"
	  ":0000:0001 smtp\n",
	  "t.conf:1: invalid listen address \"0000:0000:0000:0000:0000:0000:"
	  "0000:0000:0000:0000:0000:0000:0001\": too long\n" },
	{ "listen on \"fe80::1%eth0\" smtp\n",
	  "t.conf:1: invalid listen address \"fe80::1%eth0\": not a numeric "
	  "IPv4 or IPv6 address\n" },
	{ "listen on 127.0.0.1 port 0 smtp\n",
	  "t.conf:1: invalid port \"0\": expected a number from 1 to "
	  "65535\n" },
	{ "listen on 127.0.0.1 port 65536 smtp\n",
	  "t.conf:1: invalid port \"65536\": expected a number from 1 to "
	  "65535\n" },
	{ "listen on 127.0.0.1 port -1 smtp\n",
	  "t.conf:1: invalid port \"-1\": expected a number from 1 to "
	  "65535\n" },
	{ "listen on 127.0.0.1 port \" 25\" smtp\n",
	  "t.conf:1: invalid port \" 25\": expected a number from 1 to "
	  "65535\n" },
	{ "listen on 127.0.0.1 port 25 smtp port 26\n",
	  "t.conf:1: listen: port given twice\n" },
	{ "listen on 127.0.0.1 smtp imap\n",
	  "t.conf:1: listen: protocol given twice\n" },
	{ "pki p certificate /c key /k\n"
	  "listen on 127.0.0.1 smtp tls starttls pki p\n",
	  "t.conf:2: listen: TLS mode given twice\n" },
	{ "listen on 127.0.0.1 smtp auth auth\n",
	  "t.conf:1: listen: auth given twice\n" },
	{ "listen on 127.0.0.1 imap tls\n",
	  "t.conf:1: listen on 127.0.0.1 port 993: tls needs a pki\n" },
	{ "listen on ::1 submission starttls-require\n",
	  "t.conf:1: listen on ::1 port 587: starttls-require needs a pki\n" },
	{ "pki p certificate /c key /k\nlisten on ::1 pop3 pki p\n",
	  "t.conf:2: listen on ::1 port 110: pki without a TLS mode "
	  "(starttls, starttls-require or tls)\n" },
	{ "pki p certificate /c key /k\n"
	  "listen on ::1 pop3 tls pki p auth\n",
	  "t.conf:2: listen on ::1 port 995: auth is only for smtp and "
	  "submission\n" },
	{ "hostname a.b\nlisten on 0.0.0.0 imap starttls pki x\n",
	  "t.conf:2: pki \"x\" is not defined\n" },
	{ "listen on 127.0.0.1 smtp\nlisten on 127.0.0.1 port 25 smtp\n",
	  "t.conf:2: duplicate listener 127.0.0.1 port 25 (first on line "
	  "1)\n" },
	{ "listen on ::1 port 25 smtp\nlisten on 0::1 smtp\n",
	  "t.conf:2: duplicate listener 0::1 port 25 (first on line 1)\n" },
	/* Role blocks. */
	{ "queue {\n\tmax-line-length 2000\n}\n",
	  "t.conf:2: max-line-length is not a setting of the queue block\n" },
	{ "smtpd {\n\tdatabase /x\n}\n",
	  "t.conf:2: database is not a setting of the smtpd block\n" },
	{ "smtpd {\n\tuser Root\n\tuser 1x\n\tuser a.b\n\tuser "
	  "abcdefghijklmnopqrstuvwxyz0123456\n}\n",
	  "t.conf:2: invalid user \"Root\": must start with a lower-case "
	  "letter or \"_\"\n"
	  "t.conf:3: invalid user \"1x\": must start with a lower-case "
	  "letter or \"_\"\n"
	  "t.conf:4: invalid user \"a.b\": only a-z, 0-9, \"_\" and \"-\" "
	  "are allowed\n"
	  "t.conf:5: invalid user \"abcdefghijklmnopqrstuvwxyz0123456\": "
	  "longer than 31 characters\n" },
	{ "smtpd {\n max-message-size 1023\n max-message-size 3G\n"
	  " max-message-size 10X\n max-message-size 1MB\n"
	  " max-message-size 99999999999999999999K\n}\n",
	  "t.conf:2: invalid max-message-size \"1023\": expected a size "
	  "from 1K to 2G\n"
	  "t.conf:3: invalid max-message-size \"3G\": expected a size "
	  "from 1K to 2G\n"
	  "t.conf:4: invalid max-message-size \"10X\": expected a size "
	  "from 1K to 2G\n"
	  "t.conf:5: invalid max-message-size \"1MB\": expected a size "
	  "from 1K to 2G\n"
	  "t.conf:6: invalid max-message-size \"99999999999999999999K\": "
	  "expected a size from 1K to 2G\n" },
	{ "smtpd {\n max-recipients 0\n max-recipients 100001\n"
	  " max-line-length 999\n max-line-length 1000001\n"
	  " timeout 3601\n timeout 61m\n timeout 2h\n timeout 1d\n}\n",
	  "t.conf:2: invalid max-recipients \"0\": expected a number from 1 "
	  "to 100000\n"
	  "t.conf:3: invalid max-recipients \"100001\": expected a number "
	  "from 1 to 100000\n"
	  "t.conf:4: invalid max-line-length \"999\": expected a number "
	  "from 1000 to 1000000\n"
	  "t.conf:5: invalid max-line-length \"1000001\": expected a "
	  "number from 1000 to 1000000\n"
	  "t.conf:6: invalid timeout \"3601\": expected a duration from 1s "
	  "to 1h\n"
	  "t.conf:7: invalid timeout \"61m\": expected a duration from 1s "
	  "to 1h\n"
	  "t.conf:8: invalid timeout \"2h\": expected a duration from 1s "
	  "to 1h\n"
	  "t.conf:9: invalid timeout \"1d\": expected a duration from 1s "
	  "to 1h\n" },
	{ "imapd {\n\tmax-sessions 0\n\tmax-user-sessions 1001\n"
	  "\ttimeout 29m\n\tmax-recipients 5\n}\n"
	  "smtpd {\n\tmax-sessions 5\n}\n"
	  "imapd {\n\tlogin-timeout 4s\n\tlogin-timeout 11m\n}\n"
	  "smtpd {\n\tlogin-timeout 5s\n}\n"
	  "queue {\n\tdelay-warning 6d\n\tdelay-warning -1\n"
	  "\tdelay-warning 4w\n}\n"
	  "smtpd {\n\tdelay-warning 4h\n}\n",
	  "t.conf:2: invalid max-sessions \"0\": expected a number from 1 "
	  "to 100000\n"
	  "t.conf:3: invalid max-user-sessions \"1001\": expected a number"
	  " from 1 to 1000\n"
	  "t.conf:4: invalid timeout \"29m\": expected a duration from 30m "
	  "to 1h\n"
	  "t.conf:5: max-recipients is not a setting of the imapd block\n"
	  "t.conf:8: max-sessions is not a setting of the smtpd block\n"
	  "t.conf:11: invalid login-timeout \"4s\": expected a duration "
	  "from 5s to 10m\n"
	  "t.conf:12: invalid login-timeout \"11m\": expected a duration "
	  "from 5s to 10m\n"
	  "t.conf:15: login-timeout is not a setting of the smtpd block\n"
	  "t.conf:18: invalid delay-warning \"6d\": expected 0 or a duration"
	  " up to 5d\n"
	  "t.conf:19: invalid delay-warning \"-1\": expected 0 or a duration"
	  " up to 5d\n"
	  "t.conf:20: invalid delay-warning \"4w\": expected 0 or a duration"
	  " up to 5d\n"
	  "t.conf:23: delay-warning is not a setting of the smtpd block\n" },
	{ "parent {\n\tuser root\n}\n",
	  "t.conf:1: unknown block \"parent\" (control, smtpd, queue, "
	  "delivery, mta, imapd, authd, cryptod, scand, checkd or keyd)\n" },
	{ "Smtpd {\n\ttimeout 1\n}\n",
	  "t.conf:1: unknown block \"Smtpd\" (control, smtpd, queue, "
	  "delivery, mta, imapd, authd, cryptod, scand, checkd or keyd)\n" },
	/* Macros. */
	{ "$nope\n",
	  "t.conf:1: undefined macro \"$nope\"\n" },
	{ "hostname $\n",
	  "t.conf:1: \"$\" without a macro name\n" },
	{ "hostname $1\n",
	  "t.conf:1: \"$\" without a macro name\n" },
	{ "a = \"$a\"\nhostname $a\n",
	  "t.conf:2: macro \"$a\" expands to itself\n" },
	{ "a = \"x $b\"\nb = \"$a\"\n\nhostname $b\n",
	  "t.conf:4: macro \"$b\" expands to itself\n" },
	{ "\"a b\" = 1\n",
	  "t.conf:1: invalid macro name \"a b\"\n" },
	{ "a = \"\\\"x\"\nhostname $a\n",
	  "t.conf:2: unterminated string\n" },
	{ "a = 1\nb = 2\nc = $a $b\n",
	  "t.conf:3: syntax error at \"2\", expecting end of line\n" },
	/* Statements continue over a backslash-newline. */
	{ "listen on 127.0.0.1 \\\n  smtp \\\n  bogus\nhostname -\n",
	  "t.conf:3: syntax error at \"bogus\"\n"
	  "t.conf:4: invalid hostname \"-\": label starts with a hyphen\n" },
	{ "# a comment \\\nhostname -\n",
	  "t.conf:2: invalid hostname \"-\": label starts with a hyphen\n" },
	/* PostgreSQL queries and "domains". */
	{ "table pg postgres \"dbname=x\" {\n query nope \"x\"\n}\n",
	  "t.conf:2: unknown query \"nope\" (domain, user, alias, "
	  "domain-add, domain-del, domain-list, user-add, user-del, "
	  "user-list, user-password, user-quota, alias-add, alias-del or "
	  "alias-list)\n" },
	{ "table pg postgres \"dbname=x\" {\n query user \"a\"\n"
	  " query user \"b\"\n}\n",
	  "t.conf:3: query user given twice\n" },
	{ "table pg postgres \"dbname=x\" {\n query user \"\"\n}\n",
	  "t.conf:2: invalid query user: empty, too long or with control "
	  "characters\n" },
	{ "table f file /f\ndomains <f>\n",
	  "t.conf:2: domains <\"f\">: only a postgres table can list "
	  "domains\n" },
	{ "domains <nope>\n",
	  "t.conf:1: table \"nope\" is not defined\n" },
	{ "table pg postgres \"dbname=x\"\ndomains <pg>\ndomains <pg>\n",
	  "t.conf:3: domain \"pg\" defined twice (first on line 2)\n" },
	{ "smtpd {\n sender-check maybe\n}\n",
	  "t.conf:2: invalid sender-check \"maybe\": expected yes or no\n" },
	{ "smtpd {\n auth-max-failures 0\n}\n",
	  "t.conf:2: invalid auth-max-failures \"0\": expected a number "
	  "from 1 to 1000\n" },
	{ "smtpd {\n max-client-sessions many\n}\n",
	  "t.conf:2: invalid max-client-sessions \"many\": expected a "
	  "number from 0 (no limit) to 1000000\n" },
	{ "imapd {\n max-client-recipients-per-minute 5\n}\n",
	  "t.conf:2: max-client-recipients-per-minute is not a setting of the "
	  "imapd block\n" },
	{ "queue {\n sender-check no\n}\n",
	  "t.conf:2: sender-check is not a setting of the queue block\n" },
	{ "checkd {\n greylist-exempt \"192.0.2.0/33\"\n rspamd localhost\n"
	  " greylist-spf-exempt \"a..b\"\n dmarc-reject bounce\n"
	  " greylist-delay 0\n spam-junk 1001\n dnsbl \"bl.test:0\"\n}\n",
	  "t.conf:2: invalid greylist-exempt \"192.0.2.0/33\": expected"
	  " addresses or networks (ADDRESS/BITS) separated by spaces\n"
	  "t.conf:3: invalid rspamd \"localhost\": expected ADDRESS:PORT\n"
	  "t.conf:4: invalid greylist-spf-exempt \"a..b\": empty label\n"
	  "t.conf:5: invalid dmarc-reject \"bounce\": expected reject, junk"
	  " or accept\n"
	  "t.conf:6: invalid greylist-delay \"0\": expected a duration from"
	  " 1s to 1d\n"
	  "t.conf:7: invalid spam-junk \"1001\": expected a score from 0"
	  " (never) to 1000\n"
	  "t.conf:8: invalid dnsbl \"bl.test:0\": a weight is a number from"
	  " -1000 to 1000, not 0\n" },
};

static void
test_errors(void)
{
	struct osms_conf	*conf;
	char			*errs, what[32];
	size_t			 i;

	test_begin("conf errors: message and line of each");
	for (i = 0; i < nitems(errcases); i++) {
		conf = parse(errcases[i].input, NULL, &errs);
		(void)snprintf(what, sizeof(what), "errcases[%zu]", i);
		test_assert(conf == NULL);
		test_assert(same(what, errs, errcases[i].errors));
		conf_free(conf);
		free(errs);
	}
	test_end();
}

/* Several errors at once, printed in line order. */
static void
test_errors_many(void)
{
	struct osms_conf	*conf;
	char			*errs;

	test_begin("conf errors: several, sorted by line");
	conf = parse(
	    "listen on 0.0.0.0 smtp starttls pki missing\n"
	    "pki p certificate relative key /k\n"
	    "hostname bad_host\n"
	    "table t file /t\n"
	    "table t file /t2\n"
	    "domain example.org users <nope>\n"
	    "smtpd {\n"
	    "\ttimeout forever\n"
	    "\tbogus\n"
	    "\tuser _osms\n"
	    "}\n"
	    "listen on 0.0.0.0 port 25 smtp\n", NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("many", errs,
	    "t.conf:1: pki \"missing\" is not defined\n"
	    "t.conf:2: invalid pki certificate \"relative\": not an "
	    "absolute path\n"
	    "t.conf:3: invalid hostname \"bad_host\": invalid character\n"
	    "t.conf:5: table \"t\" defined twice (first on line 4)\n"
	    "t.conf:6: table \"nope\" is not defined\n"
	    "t.conf:8: invalid timeout \"forever\": expected a duration "
	    "from 1s to 1h\n"
	    "t.conf:9: syntax error at \"bogus\"\n"
	    "t.conf:12: duplicate listener 0.0.0.0 port 25 (first on line "
	    "1)\n"));
	free(errs);
	test_end();
}

/*
 * Limits.
 */

static char *
repeat(const char *head, int c, size_t n, const char *tail)
{
	size_t	 hl = strlen(head), tl = strlen(tail);
	char	*s;

	s = xmalloc(hl + n + tl + 1);
	memcpy(s, head, hl);
	memset(s + hl, c, n);
	memcpy(s + hl + n, tail, tl + 1);
	return s;
}

static void
test_limit_token(void)
{
	struct osms_conf	*conf;
	char			*in, *errs;

	test_begin("conf limits: token size");
	/* 1024 bytes is a token; the macro holds it. */
	in = repeat("a = \"", 'x', CONF_MAX_TOKEN, "\"\n");
	conf = parse(in, NULL, &errs);
	test_assert(conf != NULL);
	test_assert(same("1024 string", errs, ""));
	conf_free(conf);
	free(errs);
	free(in);

	in = repeat("a = \"", 'x', CONF_MAX_TOKEN + 1, "\"\nhostname -\n");
	conf = parse(in, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("1025 string", errs,
	    "t.conf:1: string too long (more than 1024 bytes)\n"
	    "t.conf:2: invalid hostname \"-\": label starts with a hyphen\n"));
	free(errs);
	free(in);

	in = repeat("a = ", 'x', CONF_MAX_TOKEN, "\n");
	conf = parse(in, NULL, &errs);
	test_assert(conf != NULL);
	conf_free(conf);
	free(errs);
	free(in);

	in = repeat("hostname ", 'x', 100000, " \"\n");
	conf = parse(in, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("long word", errs,
	    "t.conf:1: word too long (more than 1024 bytes)\n"));
	free(errs);
	free(in);

	/* Longest path: CONF_MAX_PATH - 1 bytes. */
	in = repeat("queue directory /", 'q', CONF_MAX_PATH - 2, "\n");
	conf = parse(in, NULL, &errs);
	test_assert(conf != NULL && strlen(conf->spool) == CONF_MAX_PATH - 1);
	conf_free(conf);
	free(errs);
	free(in);
	in = repeat("queue directory /", 'q', CONF_MAX_PATH - 1, "\n");
	conf = parse(in, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(strstr(errs, ": path too long\n") != NULL);
	free(errs);
	free(in);

	/* Names: CONF_MAX_NAME - 1 bytes at most. */
	in = repeat("table ", 'n', CONF_MAX_NAME, " file /t\n");
	conf = parse(in, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(strstr(errs, "t.conf:1: invalid table name \"nnn") ==
	    errs && strstr(errs, "...\": too long\n") != NULL);
	free(errs);
	free(in);

	test_end();
}

static void
test_limit_domain_length(void)
{
	struct osms_conf	*conf;
	char			 buf[400], *errs;
	size_t			 n;

	test_begin("conf limits: domain of 253 bytes, not 254");
	/* 50 labels "abcd." then a tail to reach the length wanted. */
	n = (size_t)snprintf(buf, sizeof(buf), "domain ");
	while (n < 7 + 250)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "abcd.");
	(void)snprintf(buf + n, sizeof(buf) - n, "com\n");
	/* 250 + 3 = 253 bytes of name. */
	conf = parse(buf, NULL, &errs);
	test_assert(conf != NULL);
	test_assert(same("253", errs, ""));
	test_assert(conf != NULL &&
	    strlen(TAILQ_FIRST(&conf->domains)->name) == 253);
	conf_free(conf);
	free(errs);
	(void)snprintf(buf + n, sizeof(buf) - n, "comm\n");
	conf = parse(buf, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(strstr(errs, "\": longer than 253 bytes\n") != NULL);
	free(errs);
	test_end();
}

/* l0 = value, l1 = ten times $l0, ... l9; then "hostname $l9". */
static void
laughs(char *buf, size_t size, const char *value)
{
	size_t	 n;
	int	 i;

	n = (size_t)snprintf(buf, size, "l0 = \"%s\"\n", value);
	for (i = 1; i < 10; i++)
		n += (size_t)snprintf(buf + n, size - n,
		    "l%d = \"$l%d $l%d $l%d $l%d $l%d $l%d $l%d $l%d $l%d "
		    "$l%d\"\n", i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
		    i - 1, i - 1, i - 1, i - 1);
	(void)snprintf(buf + n, size - n, "hostname $l9\n");
}

static void
test_limit_macros(void)
{
	struct osms_conf	*conf;
	char			 buf[2048], *errs, *in;
	size_t			 n = 0;
	int			 i;
	clock_t			 start;

	test_begin("conf limits: macro nesting and expansion size");
	/* m0 = "$m1", ..., m15 = "$m16", m16 = x.y: 16 nested frames,
	 * 17 with m16's own. */
	for (i = 0; i < 16; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "m%d = \"$m%d\"\n", i, i + 1);
	(void)snprintf(buf + n, sizeof(buf) - n, "m16 = x.y\nhostname $m1\n");
	conf = parse(buf, NULL, &errs);
	test_assert(conf != NULL && strcmp(conf->hostname, "x.y") == 0);
	test_assert(same("16 deep", errs, ""));
	conf_free(conf);
	free(errs);
	(void)snprintf(buf + n, sizeof(buf) - n, "m16 = x.y\nhostname $m0\n");
	conf = parse(buf, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("17 deep", errs, "t.conf:18: macro \"$m16\" nested "
	    "too deeply (more than 16 levels)\n"));
	free(errs);

	/* A billion laughs: each level ten times the one below. It must
	 * stop at CONF_MAX_EXPANSION bytes, quickly, even when the value
	 * at the bottom is empty. */
	laughs(buf, sizeof(buf), "");
	start = clock();
	conf = parse(buf, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("laughs", errs, "t.conf:11: macros expand to more "
	    "than 1048576 bytes in all\n"));
	test_assert(clock() - start < 5 * CLOCKS_PER_SEC);
	free(errs);
	/* With words: the statement fails first, and the lexer still stops
	 * at the limit while bison discards the rest of the line. */
	laughs(buf, sizeof(buf), "x");
	start = clock();
	conf = parse(buf, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("laughs with words", errs,
	    "t.conf:11: syntax error at \"x\", expecting end of line\n"
	    "t.conf:11: macros expand to more than 1048576 bytes in all\n"));
	test_assert(clock() - start < 5 * CLOCKS_PER_SEC);
	free(errs);

	/* A macro used many times, each expansion small: fine. */
	in = repeat("p = \"port\"\nlisten on ::1 $p 1 smtp\n", ' ', 0, "");
	conf = parse(in, NULL, &errs);
	test_assert(conf != NULL && TAILQ_FIRST(&conf->listeners)->port == 1);
	conf_free(conf);
	free(errs);
	free(in);
	test_end();
}

static void
test_limit_nul(void)
{
	static const char	 in1[] = "hostname \"a\0b\"\n";
	static const char	 in2[] = "hostname a\0\nhostname -\n";
	static const char	 in3[] = "# a comment with \0 in it\n"
				    "hostname a.b\n";
	static const char	 in4[] = "\0";
	struct osms_conf	*conf;
	char			*errs;

	test_begin("conf limits: NUL bytes");
	conf = parse_len(in1, sizeof(in1) - 1, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("nul in string", errs,
	    "t.conf:1: NUL byte in string\n"));
	free(errs);
	conf = parse_len(in2, sizeof(in2) - 1, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("nul in word", errs,
	    "t.conf:1: unexpected byte 0x00\n"
	    "t.conf:2: invalid hostname \"-\": label starts with a hyphen\n"));
	free(errs);
	conf = parse_len(in3, sizeof(in3) - 1, NULL, &errs);
	test_assert(conf != NULL && strcmp(conf->hostname, "a.b") == 0);
	conf_free(conf);
	free(errs);
	conf = parse_len(in4, 1, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("only nul", errs, "t.conf:1: unexpected byte "
	    "0x00\n"));
	free(errs);
	test_end();
}

static void
test_limit_size(void)
{
	struct osms_conf	*conf;
	char			*buf, *errs;
	size_t			 i;

	test_begin("conf limits: 1 MB buffer");
	/* Exactly CONF_MAX_FILE bytes of comments and blank lines. */
	buf = xmalloc(CONF_MAX_FILE + 1);
	for (i = 0; i < CONF_MAX_FILE; i++)
		buf[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? '#' : 'c';
	memcpy(buf, "hostname a.b", 12);
	memset(buf + 12, ' ', 63 - 12);
	conf = parse_len(buf, CONF_MAX_FILE, NULL, &errs);
	test_assert(conf != NULL && strcmp(conf->hostname, "a.b") == 0);
	test_assert(same("1 MB", errs, ""));
	conf_free(conf);
	free(errs);
	/* One more is refused before it is read. */
	buf[CONF_MAX_FILE] = '\n';
	conf = parse_len(buf, CONF_MAX_FILE + 1, NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("1 MB + 1", errs,
	    "t.conf:0: file too large (more than 1048576 bytes)\n"));
	free(errs);
	free(buf);
	test_end();
}

static void
test_limit_errors(void)
{
	struct osms_conf	*conf;
	char			*buf, *errs, *s;
	size_t			 lines = 0, i;

	test_begin("conf limits: at most 1000 errors");
	/* 5000 bad lines, each "bogus\n". */
	buf = xmalloc(5000 * 6 + 1);
	for (i = 0; i < 5000; i++)
		memcpy(buf + i * 6, "bogus\n", 6);
	buf[5000 * 6] = '\0';
	conf = parse(buf, NULL, &errs);
	test_assert(conf == NULL);
	for (s = errs; (s = strchr(s, '\n')) != NULL; s++)
		lines++;
	test_assert(lines == 1000);
	test_assert(strstr(errs, "t.conf:1000: syntax error") != NULL);
	test_assert(strstr(errs, "t.conf:1001:") == NULL);
	free(errs);

	/* Without an error stream, the same answer. */
	conf = conf_parse_buffer("t.conf", buf, strlen(buf), NULL, NULL);
	test_assert(conf == NULL);
	free(buf);
	test_end();
}

/*
 * Macros and -D defines.
 */

static void
test_macros(void)
{
	struct osms_conf	*conf;
	struct conf_listener	*l;
	char			*errs;
	char			*defs[] = { "lo=127.0.0.1",
				    "mx=d.example", NULL };
	char			*bad[] = { "novalue", "1x=2", "=3",
				    "ok=a\tb", NULL };

	test_begin("conf macros: expansion as tokens, -D wins");
	conf = parse(
	    "addr = \"127.0.0.1\"\n"
	    "opts = \"port 2525 smtp\"\n"
	    "tbl = users\n"
	    "etc = \"/etc/osms\"\n"
	    "mx = file.example\n"
	    "hostname $mx\n"
	    "table $tbl file \"/x/$etc\"\n"
	    "domain example.org users <$tbl>\n"
	    "listen on $addr $opts\n"
	    "listen on $lo port 25 smtp\n", defs, &errs);
	test_assert(same("macros", errs, ""));
	test_assert(conf != NULL);
	if (conf != NULL) {
		/* -D host=... is not overridden by the file. */
		test_assert(strcmp(conf->hostname, "d.example") == 0);
		/* No expansion inside quotes. */
		test_assert(strcmp(TAILQ_FIRST(&conf->tables)->source,
		    "/x/$etc") == 0);
		test_assert(strcmp(TAILQ_FIRST(&conf->domains)->users,
		    "users") == 0);
		l = TAILQ_FIRST(&conf->listeners);
		test_assert(l->port == 2525 && l->proto == PROTO_SMTP &&
		    strcmp(l->addr, "127.0.0.1") == 0);
		l = TAILQ_NEXT(l, entry);
		test_assert(l != NULL && l->port == 25);
	}
	conf_free(conf);
	free(errs);

	/* A macro may hold a keyword and a quoted string. */
	conf = parse("t = tls\np = \"\\\"/a b\\\"\"\n"
	    "pki k certificate $p key $p\n"
	    "listen on ::1 imap $t pki k\n", NULL, &errs);
	test_assert(same("keyword macro", errs, ""));
	test_assert(conf != NULL &&
	    TAILQ_FIRST(&conf->listeners)->tls == TLS_IMPLICIT &&
	    TAILQ_FIRST(&conf->listeners)->port == 993 &&
	    strcmp(TAILQ_FIRST(&conf->pkis)->cert, "/a b") == 0);
	conf_free(conf);
	free(errs);

	/* Redefinition in the file: the last one wins. */
	conf = parse("h = a.example\nh = b.example\nhostname $h\n", NULL,
	    &errs);
	test_assert(conf != NULL && strcmp(conf->hostname, "b.example") == 0);
	conf_free(conf);
	free(errs);

	/* A macro's end is a token boundary. */
	conf = parse("d = /var\nqueue directory $d/x\n", NULL, &errs);
	test_assert(conf == NULL);
	test_assert(same("boundary", errs,
	    "t.conf:2: syntax error at \"/x\", expecting end of line\n"));
	free(errs);

	/* Bad defines: line 0. */
	conf = parse("", bad, &errs);
	test_assert(conf == NULL);
	test_assert(same("bad defines", errs,
	    "t.conf:0: invalid define \"novalue\": expected name=value\n"
	    "t.conf:0: invalid define \"1x=2\": bad macro name\n"
	    "t.conf:0: invalid define \"=3\": bad macro name\n"
	    "t.conf:0: invalid define \"ok=a\\x09b\": control character in "
	    "value\n"));
	free(errs);
	test_end();
}

/*
 * Defaults and lookups.
 */

static void
test_defaults(void)
{
	struct osms_conf	*conf;
	struct conf_listener	*l;
	char			*errs, *out;
	static const struct {
		const char	*line;
		uint16_t	 port;
		uint32_t	 flags;
	} ports[] = {
		{ "smtp", 25, 0 },
		{ "smtp auth", 25, LISTEN_AUTH },
		{ "smtp starttls pki p", 25, 0 },
		{ "smtp tls pki p", 25, 0 },
		{ "submission", 587, LISTEN_AUTH },
		{ "submission starttls-require pki p", 587, LISTEN_AUTH },
		{ "submission tls pki p", 465, LISTEN_AUTH },
		{ "imap", 143, 0 },
		{ "imap starttls pki p", 143, 0 },
		{ "imap tls pki p", 993, 0 },
		{ "pop3 starttls pki p", 110, 0 },
		{ "pop3 tls pki p", 995, 0 },
	};
	char	 buf[128];
	size_t	 i;
	int	 r;

	test_begin("conf defaults");
	conf = parse("", NULL, &errs);
	test_assert(conf != NULL);
	test_assert(same("empty", errs, ""));
	test_assert(conf != NULL && strcmp(conf->hostname, "") == 0);
	test_assert(conf != NULL && strcmp(conf->path, "t.conf") == 0);
	test_assert(conf != NULL &&
	    strcmp(conf->control_socket, CONF_CONTROL_DEFAULT) == 0 &&
	    strcmp(conf->spool, CONF_SPOOL_DEFAULT) == 0 &&
	    strcmp(conf->mailstore, CONF_MAILSTORE_DEFAULT) == 0 &&
	    strcmp(conf->empty, CONF_EMPTY_DEFAULT) == 0);
	test_assert(conf != NULL &&
	    conf->smtpd.max_message_size == SMTPD_MAX_MESSAGE_SIZE &&
	    conf->smtpd.max_recipients == SMTPD_MAX_RECIPIENTS &&
	    conf->smtpd.max_line == SMTPD_MAX_LINE &&
	    conf->smtpd.timeout == SMTPD_TIMEOUT &&
	    conf->imapd.max_sessions == IMAPD_MAX_SESSIONS &&
	    conf->imapd.max_user_sessions == IMAPD_MAX_USER_SESSIONS &&
	    conf->imapd.timeout == IMAPD_TIMEOUT &&
	    conf->imapd.login_timeout == IMAPD_LOGIN_TIMEOUT &&
	    conf->queue.delay_warning == QUEUE_DELAY_WARNING &&
	    conf->queue.lifetime == QUEUE_LIFETIME &&
	    conf->queue.max_retry == QUEUE_MAX_RETRY &&
	    conf->mta.domain_connections == MTA_DOMAIN_CONNECTIONS &&
	    conf->mta.timeout == MTA_TIMEOUT && conf->mta.resolver[0] == '\0' &&
	    strcmp(conf->mta.trust_anchor, MTA_TRUST_ANCHOR) == 0 &&
	    strcmp(conf->mta.ca_file, MTA_CA_FILE) == 0 &&
	    strcmp(conf->scand.database, SCAND_DATABASE) == 0 &&
	    conf->scand.workers == SCAND_WORKERS &&
	    conf->scand.action == SCAN_REJECT &&
	    conf->scand.unscannable == SCAN_TEMPFAIL &&
	    conf->scand.on_failure == SCAN_TEMPFAIL &&
	    conf->checkd.enable && conf->checkd.spf && conf->checkd.dkim &&
	    conf->checkd.dmarc && conf->checkd.dmarc_reject == AR_REJECT &&
	    conf->checkd.dmarc_quarantine == AR_JUNK &&
	    conf->checkd.spf_fail == AR_ACCEPT &&
	    conf->checkd.on_failure == SCAN_TEMPFAIL);
	test_assert(conf != NULL && TAILQ_EMPTY(&conf->listeners) &&
	    TAILQ_EMPTY(&conf->pkis) && TAILQ_EMPTY(&conf->tables) &&
	    TAILQ_EMPTY(&conf->domains) && TAILQ_EMPTY(&conf->relays) &&
	    TAILQ_EMPTY(&conf->dkims));
	for (r = 0; conf != NULL && r < ROLE_COUNT; r++)
		test_assert(conf->roles[r].user[0] == '\0');
	if (conf != NULL) {
		out = dump(conf);
		test_assert(same("empty dump", out,
		    "control socket \"/run/osms/control.sock\"\n"
		    "queue directory \"/var/spool/osms\"\n"
		    "mail directory \"/var/mail/osms\"\n"
		    "empty directory \"/var/lib/osms/empty\"\n"
		    "smtpd {\n"
		    "\tmax-message-size 36700160\n"
		    "\tmax-recipients 1000\n"
		    "\tmax-line-length 1000\n"
		    "\ttimeout 300\n"
		    "\tsender-check yes\n"
		    "\tmax-messages-per-hour 0\n"
		    "\tauth-max-failures 10\n"
		    "\tmax-client-sessions 50\n"
		    "\tmax-client-connections-per-minute 0\n"
		    "\tmax-client-recipients-per-minute 0\n"
		    "}\n"
		    "queue {\n"
		    "\tdelay-warning 14400\n"
		    "\tlifetime 432000\n"
		    "\tmax-retry-interval 3600\n"
		    "}\n"
		    "mta {\n"
		    "\ttrust-anchor \"/usr/share/dns/root.key\"\n"
		    "\tca-file \"/etc/ssl/certs/ca-certificates.crt\"\n"
		    "\tmax-domain-connections 20\n"
		    "\ttimeout 300\n"
		    "}\n"
		    "imapd {\n"
		    "\tmax-sessions 1000\n"
		    "\tmax-user-sessions 20\n"
		    "\ttimeout 1800\n"
		    "\tlogin-timeout 60\n"
		    "}\n"
		    "cryptod {\n"
		    "\tcertificates \"/var/lib/osms/certs\"\n"
		    "}\n"
		    "scand {\n"
		    "\tenable yes\n"
		    "\tdatabase \"/var/lib/clamav\"\n"
		    "\tworkers 2\n"
		    "\tmax-scan-size 104857600\n"
		    "\tmax-file-size 26214400\n"
		    "\tmax-files 10000\n"
		    "\tmax-recursion 16\n"
		    "\ttimeout 120\n"
		    "\taction reject\n"
		    "\tsubmission-action reject\n"
		    "\tunscannable tempfail\n"
		    "\ton-failure tempfail\n"
		    "}\n"
		    "checkd {\n"
		    "\tenable yes\n"
		    "\tspf yes\n"
		    "\tdkim yes\n"
		    "\tdmarc yes\n"
		    "\tdmarc-reject reject\n"
		    "\tdmarc-quarantine junk\n"
		    "\tspf-fail accept\n"
		    "\tworkers 4\n"
		    "\ttimeout 30\n"
		    "\ton-failure tempfail\n"
		    "\tpublic-suffix-list "
		    "\"/usr/share/publicsuffix/public_suffix_list.dat\"\n"
		    "\trspamd \"\"\n"
		    "\tspamd \"\"\n"
		    "\tspam-reject 15\n"
		    "\tspam-junk 6\n"
		    "\tspam-on-failure accept\n"
		    "\tspam-timeout 20\n"
		    "\tdirectory \"/var/lib/osms/check\"\n"
		    "\tgreylist no\n"
		    "\tgreylist-delay 300\n"
		    "\tgreylist-exempt \"\"\n"
		    "\tgreylist-spf-exempt \"\"\n"
		    "\tdnsbl \"\"\n"
		    "\tdnsbl-threshold 1\n"
		    "\tdnsbl-action reject\n"
		    "\tarc-trusted \"\"\n"
		    "}\n"));
		free(out);
		test_assert(strcmp(conf_role_user(conf, ROLE_SMTPD),
		    "_osms") == 0);
		test_assert(strcmp(conf_role_user(conf, ROLE_QUEUE),
		    "_osmsq") == 0);
		test_assert(conf_pki_find(conf, "p") == NULL);
		test_assert(conf_table_find(conf, "t") == NULL);
	}
	conf_free(conf);
	free(errs);
	/* Blank lines, comments, no final newline. */
	conf = parse("\n\n  # nothing\n\t\n   ", NULL, &errs);
	test_assert(conf != NULL);
	conf_free(conf);
	free(errs);

	for (i = 0; i < nitems(ports); i++) {
		(void)snprintf(buf, sizeof(buf), "pki p certificate /c key /k\n"
		    "listen on 192.0.2.1 %s", ports[i].line);
		conf = parse(buf, NULL, &errs);
		test_assert(same(ports[i].line, errs, ""));
		if (conf == NULL) {
			test_assert(conf != NULL);
			free(errs);
			continue;
		}
		l = TAILQ_FIRST(&conf->listeners);
		test_assert(l->port == ports[i].port);
		test_assert(l->flags == ports[i].flags);
		test_assert(l->line == 2);
		test_assert(roundtrip(conf, NULL));
		conf_free(conf);
		free(errs);
	}

	test_assert(strcmp(conf_proto_name(PROTO_SMTP), "smtp") == 0);
	test_assert(strcmp(conf_proto_name(PROTO_SUBMISSION),
	    "submission") == 0);
	test_assert(strcmp(conf_proto_name(PROTO_IMAP), "imap") == 0);
	test_assert(strcmp(conf_proto_name(PROTO_POP3), "pop3") == 0);
	test_assert(strcmp(conf_tls_name(TLS_NONE), "none") == 0);
	test_assert(strcmp(conf_tls_name(TLS_STARTTLS), "starttls") == 0);
	test_assert(strcmp(conf_tls_name(TLS_STARTTLS_REQUIRE),
	    "starttls-require") == 0);
	test_assert(strcmp(conf_tls_name(TLS_IMPLICIT), "tls") == 0);
	test_end();
}

static void
test_values(void)
{
	struct osms_conf	*conf;
	char			*errs;

	test_begin("conf values: sizes, durations, users, lookups");
	conf = parse(
	    "pki \"my pki\" certificate /c key /k\n"
	    "table users file /etc/osms/users\n"
	    "domain \"EXAMPLE.\xc3\xa9T\xc3\x89\" users <users>\n"
	    "smtpd {\n"
	    "\tmax-message-size 1k\n"
	    "\tmax-recipients 100000\n"
	    "\tmax-line-length 1000000\n"
	    "\ttimeout 1h\n"
	    "\tuser smtp_user-1\n"
	    "}\n"
	    "queue { user _q }\n"
	    "smtpd {\n"
	    "\tmax-message-size 2G\n"
	    "}\n"
	    "scand {\n\tdatabase /var/lib/clamav\n}\n", NULL, &errs);
	test_assert(same("values", errs, ""));
	test_assert(conf != NULL);
	if (conf != NULL) {
		/* Later blocks override earlier settings. */
		test_assert(conf->smtpd.max_message_size == 2147483648ULL);
		test_assert(conf->smtpd.max_recipients == 100000);
		test_assert(conf->smtpd.max_line == 1000000);
		test_assert(conf->smtpd.timeout == 3600);
		test_assert(strcmp(conf_role_user(conf, ROLE_SMTPD),
		    "smtp_user-1") == 0);
		test_assert(strcmp(conf_role_user(conf, ROLE_QUEUE),
		    "_q") == 0);
		test_assert(strcmp(conf->scand.database,
		    "/var/lib/clamav") == 0);
		test_assert(conf_pki_find(conf, "my pki") != NULL);
		test_assert(conf_table_find(conf, "users") != NULL &&
		    conf_table_find(conf, "users")->line == 2);
		/* ASCII is lower-cased, UTF-8 is kept. */
		test_assert(strcmp(TAILQ_FIRST(&conf->domains)->name,
		    "example.\xc3\xa9t\xc3\x89") == 0);
		test_assert(roundtrip(conf, NULL));
	}
	conf_free(conf);
	free(errs);

	conf = parse("smtpd {\n max-message-size 1024\n timeout 1\n}\n"
	    "smtpd { timeout 90s }\n", NULL, &errs);
	test_assert(conf != NULL && conf->smtpd.max_message_size == 1024 &&
	    conf->smtpd.timeout == 90);
	conf_free(conf);
	free(errs);
	test_end();
}

/*
 * The dump round-trip.
 */

static const char *const roundtrips[] = {
	"",
	/* Policy rules keep their order; odd names are quoted. */
	"cryptod {\n\tmaster-key /etc/osms/master\n"
	"\trule outbound to partner.example encrypt mandatory\n"
	"\trule inbound from .partner.example require-signed\n"
	"\trule from \"a{b@x\" sign always\n\trule encrypt never\n}\n",
	/* The gateway's tables. */
	"table partners file /p\ntable crypt postgres \"dbname=x\"\n"
	"cryptod {\n\tpolicy-table <crypt>\n"
	"\trule outbound to <partners> encrypt mandatory\n"
	"\trule from <crypt> to * sign never\n}\n",
	"hostname mail.example.test\n"
	"control socket /run/x.sock\nqueue directory /q\n"
	"mail directory /m\nempty directory /e\n",
	/* Quotes and backslashes in names and paths. */
	"pki \"a\\\"b\\\\c\" certificate \"/c \\\"x\\\"\" key \"/k\\\\\"\n"
	"listen on ::1 port 465 submission tls pki \"a\\\"b\\\\c\"\n",
	/* Keywords as names. */
	"table table file /t\ntable users postgres \"host=/run dbname=x\"\n"
	"domain example.org users <table> aliases <users>\n"
	"pki tls certificate /c key /k\n"
	"listen on 0.0.0.0 smtp starttls pki tls auth\n",
	"control { user \"_c\" }\ndelivery {\n user vmail\n}\n"
	"imapd {\n user _i\n}\nauthd {\n user _a\n}\n"
	"cryptod {\n user _cr\n}\nscand {\n user _s\n}\n",
	"scand {\n database \"/db\"\n}\n",
	"imapd {\n max-sessions 5\n max-user-sessions 2\n timeout 45m\n"
	" login-timeout 2m\n}\n",
	"queue {\n delay-warning 0\n}\n",
	"queue {\n delay-warning 2d\n}\n",
	"domain \"\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88"
	"\"\n",
	"listen on 2001:db8::1 port 1 pop3\nlisten on 2001:db8::1 port 2 "
	"pop3\n",
	/* PostgreSQL queries, "domains", the submission settings. */
	"table pg postgres \"dbname=x\" {\n"
	" query user \"SELECT password FROM m WHERE a = $1\"\n"
	" query alias-list \"SELECT a, t FROM x\"\n}\n"
	"table pg2 postgres \"dbname=y\" { query domain \"SELECT 1\" }\n"
	"domains <pg>\ndomains <pg2>\n",
	"smtpd {\n sender-check no\n max-messages-per-hour 50\n"
	" auth-max-failures 3\n max-client-sessions 0\n"
	" max-client-connections-per-minute 30\n"
	" max-client-recipients-per-minute 100\n}\n",
};

static void
test_roundtrip(void)
{
	struct osms_conf	*conf;
	char			*errs, what[32];
	size_t			 i;

	test_begin("conf dump: parse, dump, parse, dump is stable");
	for (i = 0; i < nitems(roundtrips); i++) {
		(void)snprintf(what, sizeof(what), "roundtrips[%zu]", i);
		conf = parse(roundtrips[i], NULL, &errs);
		test_assert(same(what, errs, ""));
		test_assert(conf != NULL);
		if (conf != NULL)
			test_assert(roundtrip(conf, NULL));
		conf_free(conf);
		free(errs);
	}
	test_end();
}

static void
test_rules(void)
{
	struct osms_conf	*conf;
	const struct policy_rule *r;
	char			*errs, *out;

	test_begin("conf rules: kept in order, with their lines, dumped");
	conf = parse("cryptod {\n\trule to b.example encrypt never\n\n"
	    "\trule inbound from \"a{b@x\" require-signed\n}\n", NULL, &errs);
	test_assert(conf != NULL && same("rules", errs, ""));
	if (conf != NULL) {
		r = TAILQ_FIRST(&conf->cryptod.rules);
		test_assert(r != NULL && r->line == 2 &&
		    strcmp(r->to, "b.example") == 0 &&
		    r->encrypt == ENCRYPT_NEVER);
		r = r != NULL ? TAILQ_NEXT(r, entry) : NULL;
		test_assert(r != NULL && r->line == 4 &&
		    r->dir == POLICY_INBOUND && strcmp(r->from, "a{b@x") == 0 &&
		    r->require_signed && TAILQ_NEXT(r, entry) == NULL);
		out = dump(conf);
		test_assert(strstr(out, "\trule to b.example encrypt never\n"
		    "\trule inbound from \"a{b@x\" require-signed\n") != NULL);
		free(out);
	}
	conf_free(conf);
	free(errs);
	test_end();
}

/*
 * conf_parse_file.
 */

static void
write_file(const char *path, const char *s, mode_t mode)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, s, strlen(s)) != (ssize_t)strlen(s) ||
	    fchmod(fd, mode) == -1 || close(fd) == -1)
		abort();
}

static char *
parse_file_errors(const char *path, struct osms_conf **confp)
{
	FILE	*fp;
	char	*errs;
	size_t	 size;

	if ((fp = open_memstream(&errs, &size)) == NULL)
		abort();
	*confp = conf_parse_file(path, fp, NULL);
	if (fclose(fp) != 0)
		abort();
	return errs;
}

static void
test_file(void)
{
	struct osms_conf	*conf;
	char			 dir[] = "/tmp/test-conf.XXXXXX";
	char			 path[256], want[512];
	char			*errs;
	int			 fd;

	test_begin("conf file: regular files only, size limit");
	if (mkdtemp(dir) == NULL)
		abort();

	(void)snprintf(path, sizeof(path), "%s/ok.conf", dir);
	write_file(path, "hostname f.example\n", 0644);
	errs = parse_file_errors(path, &conf);
	test_assert(same("ok file", errs, ""));
	test_assert(conf != NULL && strcmp(conf->hostname, "f.example") == 0 &&
	    strcmp(conf->path, path) == 0);
	conf_free(conf);
	free(errs);

	write_file(path, "hostname f.example\nhostname -\n", 0600);
	errs = parse_file_errors(path, &conf);
	(void)snprintf(want, sizeof(want), "%s:2: invalid hostname \"-\": "
	    "label starts with a hyphen\n", path);
	test_assert(conf == NULL);
	test_assert(same("bad file", errs, want));
	free(errs);

	write_file(path, "hostname f.example\n", 0666);
	errs = parse_file_errors(path, &conf);
	(void)snprintf(want, sizeof(want), "%s:0: writable by others\n", path);
	test_assert(conf == NULL);
	test_assert(same("0666", errs, want));
	free(errs);
	test_assert(unlink(path) == 0);

	errs = parse_file_errors(path, &conf);
	(void)snprintf(want, sizeof(want), "%s:0: %s\n", path,
	    strerror(ENOENT));
	test_assert(conf == NULL);
	test_assert(same("missing", errs, want));
	free(errs);

	errs = parse_file_errors(dir, &conf);
	(void)snprintf(want, sizeof(want), "%s:0: not a regular file\n", dir);
	test_assert(conf == NULL);
	test_assert(same("directory", errs, want));
	free(errs);

	/* A FIFO without a writer must not block. */
	(void)snprintf(path, sizeof(path), "%s/fifo", dir);
	test_assert(mkfifo(path, 0600) == 0);
	errs = parse_file_errors(path, &conf);
	(void)snprintf(want, sizeof(want), "%s:0: not a regular file\n", path);
	test_assert(conf == NULL);
	test_assert(same("fifo", errs, want));
	free(errs);
	test_assert(unlink(path) == 0);

	errs = parse_file_errors("/dev/null", &conf);
	test_assert(conf == NULL);
	test_assert(same("/dev/null", errs,
	    "/dev/null:0: not a regular file\n"));
	free(errs);

	/* Over the limit, sparse. */
	(void)snprintf(path, sizeof(path), "%s/big.conf", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	test_assert(ftruncate(fd, CONF_MAX_FILE + 1) == 0);
	test_assert(close(fd) == 0);
	errs = parse_file_errors(path, &conf);
	(void)snprintf(want, sizeof(want), "%s:0: file too large (more than "
	    "1048576 bytes)\n", path);
	test_assert(conf == NULL);
	test_assert(same("big", errs, want));
	free(errs);
	test_assert(unlink(path) == 0);

	/* Empty: all defaults. */
	(void)snprintf(path, sizeof(path), "%s/empty.conf", dir);
	write_file(path, "", 0600);
	errs = parse_file_errors(path, &conf);
	test_assert(conf != NULL);
	conf_free(conf);
	free(errs);
	test_assert(unlink(path) == 0);

	test_assert(rmdir(dir) == 0);
	test_end();
}

/*
 * Golden files: regress/golden/NAME.conf and NAME.ref, the canonical
 * dump of a good file or the error lines of a bad one. Run with
 * OSMS_GOLDEN_UPDATE=1 to write the .ref files anew.
 */

static char *
read_all(const char *path, size_t *lenp)
{
	FILE	*fp;
	char	*buf;
	long	 size;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0)
		abort();
	buf = xmalloc((size_t)size + 1);
	if (fread(buf, 1, (size_t)size, fp) != (size_t)size)
		abort();
	buf[size] = '\0';
	(void)fclose(fp);
	*lenp = (size_t)size;
	return buf;
}

static void
test_golden(void)
{
	struct osms_conf	*conf;
	glob_t			 g;
	FILE			*fp;
	char			*in, *want, *got, *errs, *base;
	char			 ref[1024];
	size_t			 i, len, wlen, n;
	int			 update;

	test_begin("conf golden: regress/golden/*.conf against *.ref");
	update = getenv("OSMS_GOLDEN_UPDATE") != NULL;
	test_assert(glob("regress/golden/*.conf", 0, NULL, &g) == 0);
	test_assert(g.gl_pathc >= 4);
	for (i = 0; i < g.gl_pathc; i++) {
		n = strlen(g.gl_pathv[i]);
		(void)snprintf(ref, sizeof(ref), "%.*s.ref", (int)(n - 5),
		    g.gl_pathv[i]);
		base = strrchr(g.gl_pathv[i], '/') + 1;
		if ((in = read_all(g.gl_pathv[i], &len)) == NULL)
			abort();
		if ((fp = open_memstream(&errs, &n)) == NULL)
			abort();
		conf = conf_parse_buffer(base, in, len, fp, NULL);
		if (fclose(fp) != 0)
			abort();
		if (conf != NULL) {
			test_assert(same(base, errs, ""));
			test_assert(roundtrip(conf, &got));
			free(errs);
		} else
			got = errs;
		if (update) {
			if ((fp = fopen(ref, "w")) == NULL ||
			    fputs(got, fp) == EOF || fclose(fp) != 0)
				abort();
		}
		if ((want = read_all(ref, &wlen)) == NULL) {
			(void)printf("# %s: missing\n", ref);
			test_assert(want != NULL);
		} else
			test_assert(same(ref, got, want));
		conf_free(conf);
		free(want);
		free(got);
		free(in);
	}
	globfree(&g);
	test_end();
}

/* The example shipped for installs parses, as a file. */
static void
test_example(void)
{
	struct osms_conf	*conf;
	struct conf_listener	*l;
	char			*errs;
	int			 n = 0;

	test_begin("conf example: etc/osmsd.conf");
	errs = parse_file_errors("etc/osmsd.conf", &conf);
	test_assert(same("etc/osmsd.conf", errs, ""));
	test_assert(conf != NULL);
	if (conf != NULL) {
		TAILQ_FOREACH(l, &conf->listeners, entry) {
			test_assert(l->tls != TLS_NONE && l->pki[0] != '\0');
			n++;
		}
		test_assert(n == 7);
		test_assert(conf_pki_find(conf, "mail") != NULL);
		test_assert(roundtrip(conf, NULL));
	}
	conf_free(conf);
	free(errs);
	test_end();
}

/*
 * Odd inputs from the fuzzer's corpus, kept as regressions: each must
 * parse (or not) as shown, and a parsed one must survive the dump
 * round-trip with the define the fuzzer passes.
 */

static const struct {
	const char	*input;
	int		 parses;
} fuzz_cases[] = {
	{ "\r\r\r", 1 },
	{ "\\\n\\\n", 1 },
	{ "\\", 0 },
	{ "#\xff\xff\\\nhostname -\n", 0 },
	{ "control {\n\tuser \"_ctl\"}\n", 1 },
	{ "control {\n\tuser \"_ctl\"}", 1 },
	{ "control {}", 1 },
	{ "control {\n}}\n", 0 },
	{ "table pg\xff\xfe postgres tac/sm\n", 1 },
	{ "listen on $d imap#p\n", 1 },
	{ "b____ =egtmpop1e\n", 1 },
	{ "Z=*", 1 },
	{ "a = $d\nlisten on $a smtp\nlisten on $d port 25 smtp\n", 0 },
	{ "d = 10.0.0.1\nlisten on $d smtp\n", 1 },
	{ "x = \"\"\nhostname a$x.b\n", 0 },
	{ "x = \"\\\"\"\nhostname $x\n", 0 },
	{ "smtpd{timeout 1}", 1 },
	{ "smtpd {\n\ttimeout 1\n\tbogus\n\tuser x\n}\n", 0 },
	{ "listen on ::ffff:1.2.3.4 port 00025 smtp\n", 1 },
	{ "<>{}=\n", 0 },
	{ "$", 0 },
	{ "\"", 0 },
	{ "\"\\", 0 },
};

static void
test_fuzz_regressions(void)
{
	struct osms_conf	*conf;
	static char		 def[] = "d=127.0.0.1";
	char			*defines[] = { def, NULL };
	size_t			 i;

	test_begin("conf fuzz regressions");
	for (i = 0; i < nitems(fuzz_cases); i++) {
		conf = conf_parse_buffer("fuzz", fuzz_cases[i].input,
		    strlen(fuzz_cases[i].input), NULL, defines);
		if ((conf != NULL) != fuzz_cases[i].parses)
			(void)printf("# fuzz_cases[%zu]: %s\n", i,
			    conf != NULL ? "parses" : "does not parse");
		test_assert((conf != NULL) == fuzz_cases[i].parses);
		if (conf != NULL)
			test_assert(roundtrip(conf, NULL));
		conf_free(conf);
	}
	test_end();
}

int
main(void)
{
	test_errors();
	test_errors_many();
	test_limit_token();
	test_limit_domain_length();
	test_limit_macros();
	test_limit_nul();
	test_limit_size();
	test_limit_errors();
	test_macros();
	test_defaults();
	test_values();
	test_rules();
	test_roundtrip();
	test_file();
	test_golden();
	test_example();
	test_fuzz_regressions();
	return test_exit();
}
