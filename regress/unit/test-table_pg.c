/*
 * PostgreSQL tables (authd/table_pg.c) against a throwaway cluster of
 * our own: osms's schema and a PostfixAdmin one, every lookup and admin
 * query, SQL injection in keys, a hostile database, the server going
 * away and coming back, and four threads at once.
 *
 * Runs as root from the project root (it reads sql/schema.sql,
 * sql/migrations/, regress/e2e/postfixadmin-schema.sql and
 * etc/postfixadmin.conf). A guard process stops and removes the cluster
 * when the test ends, however it ends (OSMS_KEEP=1: it stays on disk).
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "table_pg.h"
#include "test.h"
#include "util.h"

#define NTHREADS	4
#define NLOOKUPS	3000	/* per thread */

static char		 pgdir[64];
static char		 pgbin[256];
static char		 sock[128];
static char		 ci_osms[512], ci_pfa[512], ci_mig[512];
static int		 guard_fd = -1;
static pid_t		 guard_pid = -1;
static char		 queries_empty[TQ_COUNT][CONF_MAX_QUERY];
static int		 keep;		/* OSMS_KEEP: leave the cluster */

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
diag(const char *fmt, ...)
{
	va_list	 ap;

	(void)printf("# ");
	va_start(ap, fmt);
	(void)vprintf(fmt, ap);
	va_end(ap);
	(void)printf("\n");
	(void)fflush(stdout);
}

/* A shell command; 0 if it exited 0. */
static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	va_list	 ap;
	char	 cmd[2048];
	int	 st;

	va_start(ap, fmt);
	(void)vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	(void)fflush(stdout);
	st = system(cmd);
	return (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) ? 0 : -1;
}

static int
pg_ctl_start(void)
{
	return sh("cd %s && runuser -u postgres -- %s/pg_ctl -D %s/data"
	    " -l %s/log -w -o \"-k %s -c listen_addresses='' -c fsync=off"
	    " -c log_statement=all\" start >>%s/ctl.log 2>&1",
	    pgdir, pgbin, pgdir, pgdir, sock, pgdir);
}

static int
pg_ctl_stop(void)
{
	return sh("cd %s && runuser -u postgres -- %s/pg_ctl -D %s/data"
	    " -m immediate -w stop >>%s/ctl.log 2>&1", pgdir, pgbin, pgdir,
	    pgdir);
}

/*
 * The guard: a child that waits for its pipe from us to close (we
 * exited, crashed or were killed), then stops the cluster and removes
 * its directory.
 */
static void
guard_start(void)
{
	char	 c;
	int	 fds[2];

	/* Close-on-exec: the server we start must not hold it open. */
	if (pipe2(fds, O_CLOEXEC) == -1)
		abort();
	(void)fflush(stdout);
	(void)fflush(stderr);
	if ((guard_pid = fork()) == -1)
		abort();
	if (guard_pid == 0) {
		(void)close(fds[1]);
		(void)signal(SIGINT, SIG_IGN);
		(void)signal(SIGTERM, SIG_IGN);
		(void)signal(SIGHUP, SIG_IGN);
		while (read(fds[0], &c, 1) == -1 && errno == EINTR)
			;
		(void)sh("if [ -f %s/data/postmaster.pid ]; then cd %s &&"
		    " runuser -u postgres -- %s/pg_ctl -D %s/data -m immediate"
		    " -w stop >/dev/null 2>&1; fi", pgdir, pgdir, pgbin, pgdir);
		if (keep)
			(void)fprintf(stderr, "kept %s\n", pgdir);
		else
			(void)sh("rm -rf %s", pgdir);
		_exit(0);
	}
	(void)close(fds[0]);
	guard_fd = fds[1];
}

static void
guard_finish(void)
{
	int	 st;

	if (guard_fd == -1)
		return;
	(void)close(guard_fd);
	guard_fd = -1;
	while (waitpid(guard_pid, &st, 0) == -1 && errno == EINTR)
		;
}

static int	 psql_quiet;

/* Run SQL with psql on db; its output (unaligned, trimmed) in out. */
static int
psql(const char *db, const char *sql, char *out, size_t outsize)
{
	FILE	*f;
	char	 path[128], cmd[1024], dummy[256], drain[256];
	size_t	 n = 0, r;
	int	 st;

	if (out == NULL) {
		out = dummy;
		outsize = sizeof(dummy);
	}
	out[0] = '\0';
	(void)snprintf(path, sizeof(path), "%s/q.sql", pgdir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	(void)fputs(sql, f);
	if (fclose(f) != 0)
		return -1;
	(void)snprintf(cmd, sizeof(cmd), "%s/psql -X -q -At -v ON_ERROR_STOP=1"
	    " -h %s -U osms -d %s -f %s 2>&1", pgbin, sock, db, path);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while (n + 1 < outsize &&
	    (r = fread(out + n, 1, outsize - 1 - n, f)) > 0)
		n += r;
	while (fread(drain, 1, sizeof(drain), f) > 0)
		;
	out[n] = '\0';
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	st = pclose(f);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (!psql_quiet)
			diag("psql %s failed: %s", db, out);
		return -1;
	}
	return 0;
}

static int
cluster_start(void)
{
	struct passwd	*pw;
	const char	*env;

	if ((env = getenv("OSMS_PGBIN")) != NULL && *env != '\0')
		(void)snprintf(pgbin, sizeof(pgbin), "%s", env);
	else
		(void)snprintf(pgbin, sizeof(pgbin),
		    "/usr/lib/postgresql/15/bin");
	if ((pw = getpwnam("postgres")) == NULL) {
		diag("no postgres user");
		return -1;
	}
	(void)snprintf(pgdir, sizeof(pgdir), "/tmp/osms-pgtest.XXXXXX");
	if (mkdtemp(pgdir) == NULL) {
		diag("mkdtemp: %s", strerror(errno));
		return -1;
	}
	guard_start();
	(void)snprintf(sock, sizeof(sock), "%s/run", pgdir);
	if (chmod(pgdir, 0755) == -1 ||
	    chown(pgdir, pw->pw_uid, pw->pw_gid) == -1 ||
	    mkdir(sock, 0755) == -1 ||
	    chown(sock, pw->pw_uid, pw->pw_gid) == -1) {
		diag("cluster directory: %s", strerror(errno));
		return -1;
	}
	if (sh("cd %s && runuser -u postgres -- %s/initdb -D %s/data -A trust"
	    " -U osms --no-sync -E UTF8 --locale=C >%s/initdb.log 2>&1",
	    pgdir, pgbin, pgdir, pgdir) == -1) {
		diag("initdb failed (see %s/initdb.log)", pgdir);
		return -1;
	}
	if (pg_ctl_start() == -1) {
		diag("pg_ctl start failed");
		return -1;
	}
	if (sh("%s/createdb -h %s -U osms osms && %s/createdb -h %s -U osms"
	    " -E SQL_ASCII -T template0 --locale=C pfa && %s/createdb -h %s"
	    " -U osms mig", pgbin, sock, pgbin, sock,
	    pgbin, sock) == -1)
		return -1;
	(void)snprintf(ci_osms, sizeof(ci_osms),
	    "host=%s dbname=osms user=osms", sock);
	(void)snprintf(ci_pfa, sizeof(ci_pfa),
	    "host=%s dbname=pfa user=osms", sock);
	(void)snprintf(ci_mig, sizeof(ci_mig),
	    "host=%s dbname=mig user=osms", sock);
	return 0;
}

/* The table names mapped into a struct conf_table's queries. */
static struct pgtable *
table_with(const char *name, const char *conninfo, enum table_query q,
    const char *sql)
{
	static char	 queries[TQ_COUNT][CONF_MAX_QUERY];

	memset(queries, 0, sizeof(queries));
	(void)snprintf(queries[q], sizeof(queries[q]), "%s", sql);
	return pgtable_new(name, conninfo, queries);
}

static int
get_is(struct pgtable *t, enum table_query q, const char *key,
    enum table_found want, const char *value)
{
	char			 buf[TABLE_MAX_VALUE];
	enum table_found	 f;

	memset(buf, 'Z', sizeof(buf));
	f = pgtable_get(t, q, key, buf, sizeof(buf));
	if (f != want) {
		diag("get(%d, \"%s\"): %d, not %d (value \"%.80s\")", (int)q,
		    key, (int)f, (int)want, f == TABLE_FOUND ? buf : "");
		return 0;
	}
	if (f != TABLE_FOUND && buf[0] != '\0') {
		diag("get(%d, \"%s\"): a value left behind", (int)q, key);
		return 0;
	}
	if (value != NULL && strcmp(buf, value) != 0) {
		diag("get(%d, \"%s\"): \"%s\", not \"%s\"", (int)q, key, buf,
		    value);
		return 0;
	}
	return 1;
}

/* A table with one query, asked once for key. */
static int
query_is(const char *name, const char *conninfo, enum table_query q,
    const char *sql, const char *key, enum table_found want,
    const char *value)
{
	struct pgtable	*t = table_with(name, conninfo, q, sql);
	int		 ok = get_is(t, q, key, want, value);

	pgtable_free(t);
	return ok;
}

struct rows {
	char	 text[8192];
	int	 n;
};

static void
row_cb(void *arg, const char *line)
{
	struct rows	*r = arg;
	size_t		 len = strlen(r->text);

	(void)snprintf(r->text + len, sizeof(r->text) - len, "%s%s",
	    r->n > 0 ? "\n" : "", line);
	r->n++;
}

/* pgtable_exec with up to 7 parameters, rows into r (may be NULL). */
static long
ex(struct pgtable *t, enum table_query q, struct rows *r, int n, ...)
{
	const char	*params[8];
	char		 err[512];
	va_list		 ap;
	long		 rc;
	int		 i;

	va_start(ap, n);
	for (i = 0; i < n && i < 8; i++)
		params[i] = va_arg(ap, const char *);
	va_end(ap);
	if (r != NULL)
		memset(r, 0, sizeof(*r));
	rc = pgtable_exec(t, q, params, n, r != NULL ? row_cb : NULL, r,
	    err, sizeof(err));
	if (rc == -1)
		diag("exec %d: %s", (int)q, err);
	return rc;
}

/* stderr into a file for a while, to read what was logged. */
static FILE	*cap_file;
static int	 cap_saved = -1;

static void
capture_start(void)
{
	(void)fflush(stderr);
	if ((cap_file = tmpfile()) == NULL ||
	    (cap_saved = dup(STDERR_FILENO)) == -1 ||
	    dup2(fileno(cap_file), STDERR_FILENO) == -1)
		abort();
}

static void
capture_end(char *buf, size_t size)
{
	size_t	 n;

	(void)fflush(stderr);
	if (dup2(cap_saved, STDERR_FILENO) == -1)
		abort();
	(void)close(cap_saved);
	rewind(cap_file);
	n = fread(buf, 1, size - 1, cap_file);
	buf[n] = '\0';
	(void)fclose(cap_file);
	(void)fputs(buf, stderr);	/* still seen in the test's log */
}

static int
count_lines(const char *buf, const char *what)
{
	int	 n = 0;

	for (; (buf = strstr(buf, what)) != NULL; buf += strlen(what))
		n++;
	return n;
}

static const char osms_rows[] =
    "INSERT INTO domains (name) VALUES ('example.test'), ('off.test');\n"
    "UPDATE domains SET active = false WHERE name = 'off.test';\n"
    "INSERT INTO domains (name, alias_target)"
    " VALUES ('alias.test', 'example.test');\n"
    "INSERT INTO mailboxes (address, domain, password, scram, maildir,"
    " quota_bytes, quota_messages, smtp, imap, pop3, active) VALUES\n"
    " ('alice@example.test', 'example.test', '{SHA512-CRYPT}$6$s$h',"
    "  'SCRAM-SHA-256$4096:c2FsdA==$a:b', 'example.test/alice', 10485760,"
    "  1000, true, true, false, true),\n"
    " ('bob@example.test', 'example.test', '', NULL, 'example.test/bob',"
    "  0, 0, true, true, true, true),\n"
    " ('carol@example.test', 'example.test', '{X}c', NULL,"
    "  'example.test/carol', 0, 0, true, true, true, false),\n"
    " ('dave@off.test', 'off.test', '{X}d', NULL, 'off.test/dave', 0, 0,"
    "  true, true, true, true),\n"
    " ('eve@example.test', 'example.test', '{X}e', NULL,"
    "  'example.test/eve', 0, 0, false, false, false, true);\n"
    "INSERT INTO aliases (address, target) VALUES\n"
    " ('postmaster@example.test', 'alice@example.test'),\n"
    " ('team@example.test', 'bob@example.test'),\n"
    " ('team@example.test', 'alice@example.test'),\n"
    " ('list@example.test', 'a@remote.test, b@remote.test'),\n"
    " ('@example.test', 'alice@example.test');\n"
    "INSERT INTO aliases (address, target, active)"
    " VALUES ('old@example.test', 'alice@example.test', false);\n";

static const char pfa_rows[] =
    "INSERT INTO domain (domain, description) VALUES ('ALL', ''),"
    " ('example.org', ''), ('alias.org', ''), ('off.org', ''),"
    " ('evil.org', ''), (E'bad\\nname.org', ''), ('evilad.org', ''),"
    " ('deadad.org', '');\n"
    "UPDATE domain SET active = false WHERE domain = 'off.org';\n"
    "INSERT INTO alias_domain (alias_domain, target_domain) VALUES"
    " ('alias.org', 'example.org'), ('evilad.org', E'bad\\nname.org');\n"
    "INSERT INTO alias_domain (alias_domain, target_domain, active) VALUES"
    " ('deadad.org', 'example.org', false);\n"
    "INSERT INTO mailbox (username, password, name, maildir, quota,"
    " local_part, domain, active) VALUES\n"
    " ('alice@example.org', '{BLF-CRYPT}$2y$05$abc', 'Alice',"
    "  'example.org/alice/', 0, 'alice', 'example.org', true),\n"
    " ('bob@example.org', '$1$md5$x', 'Bob', 'example.org/bob/', 2048000,"
    "  'bob', 'example.org', true),\n"
    " ('carol@example.org', '{X}c', '', 'example.org/carol/', 0, 'carol',"
    "  'example.org', false),\n"
    " ('dave@off.org', '{X}d', '', 'off.org/dave/', 0, 'dave', 'off.org',"
    "  true),\n"
    " ('dots@evil.org', '{X}y', '', '../../etc/', 0, 'dots', 'evil.org',"
    "  true),\n"
    " ('mid@evil.org', '{X}y', '', 'evil.org/a/../../../b/', 0, 'mid',"
    "  'evil.org', true),\n"
    " ('abs@evil.org', '{X}y', '', '/etc/', 0, 'abs', 'evil.org', true),\n"
    " ('nl@evil.org', E'{X}a\\nb', '', 'evil.org/nl/', 0, 'nl',"
    "  'evil.org', true),\n"
    " ('sp@evil.org', '{X}a maildir=/etc', '', 'evil.org/sp/', 0, 'sp',"
    "  'evil.org', true),\n"
    " ('neg@evil.org', '{X}y', '', 'evil.org/neg/', -1, 'neg',"
    "  'evil.org', true),\n"
    " ('bad8@evil.org', E'{X}\\xff', '', 'evil.org/bad8/', 0, 'bad8',"
    "  'evil.org', true);\n"
    "INSERT INTO alias (address, goto, domain, active) VALUES\n"
    " ('alice@example.org', 'alice@example.org', 'example.org', true),\n"
    " ('bob@example.org', 'bob@example.org,bob@elsewhere.test',"
    "  'example.org', true),\n"
    " ('sales@example.org', 'alice@example.org,bob@example.org',"
    "  'example.org', true),\n"
    " ('@example.org', 'alice@example.org', 'example.org', true),\n"
    " ('old@example.org', 'alice@example.org', 'example.org', false),\n"
    " ('big@evil.org', repeat('a', 100000), 'evil.org', true),\n"
    " ('ctl@evil.org', E'x@y\\r\\nRCPT TO:<z@z>', 'evil.org', true);\n";

static struct pgtable	*osms, *pfa;
static char		 pfa_queries[TQ_COUNT][CONF_MAX_QUERY];

static void
test_schema(void)
{
	char	 a[64], b[64];

	test_begin("sql/schema.sql loads, and equals the migrations applied");
	test_assert(psql("osms", "\\i sql/schema.sql\n", NULL, 0) == 0);
	test_assert(sh("for f in sql/migrations/[0-9]*.sql; do"
	    " %s/psql -X -q -v ON_ERROR_STOP=1 -h %s -U osms -d mig -f \"$f\""
	    " >/dev/null || exit 1; done", pgbin, sock) == 0);
	/* pg_dump's \\restrict lines differ every time */
	test_assert(sh("%s/pg_dump -s -h %s -U osms osms | grep -v '^\\\\'"
	    " >%s/a.sql && %s/pg_dump -s -h %s -U osms mig |"
	    " grep -v '^\\\\' >%s/b.sql &&"
	    " cmp -s %s/a.sql %s/b.sql", pgbin, sock, pgdir, pgbin, sock,
	    pgdir, pgdir, pgdir) == 0);
	test_assert(psql("osms", "SELECT max(version) FROM schema_version",
	    a, sizeof(a)) == 0);
	test_assert(psql("mig", "SELECT max(version) FROM schema_version",
	    b, sizeof(b)) == 0);
	test_assert(strcmp(a, "4") == 0 && strcmp(b, "4") == 0);
	/* The checks refuse what lookups would refuse. */
	psql_quiet = 1;
	test_assert(psql("osms", "INSERT INTO domains (name)"
	    " VALUES ('Upper.test')", NULL, 0) == -1);
	test_assert(psql("osms", "INSERT INTO domains (name) VALUES"
	    " ('x.test')", NULL, 0) == 0);
	test_assert(psql("osms", "INSERT INTO mailboxes (address, domain,"
	    " password, maildir) VALUES ('a@x.test', 'x.test', '', '../etc')",
	    NULL, 0) == -1);
	test_assert(psql("osms", "INSERT INTO mailboxes (address, domain,"
	    " password, maildir) VALUES ('a@y.test', 'x.test', '', 'x')",
	    NULL, 0) == -1);
	test_assert(psql("osms", "INSERT INTO aliases (address, target)"
	    " VALUES ('a@nowhere.test', 'b@x.test')", NULL, 0) == -1);
	psql_quiet = 0;
	test_end();

	test_begin("fixtures load into both schemas");
	test_assert(psql("osms", osms_rows, NULL, 0) == 0);
	test_assert(psql("pfa", "\\i regress/e2e/postfixadmin-schema.sql\n",
	    NULL, 0) == 0);
	test_assert(psql("pfa", pfa_rows, NULL, 0) == 0);
	test_end();
}

static void
test_new(void)
{
	struct osms_conf	*conf;
	struct conf_table	*ct;
	char			 log[4096];
	struct pgtable		*t;
	int			 i;

	test_begin("pgtable_new: a bad conninfo is refused without a leak");
	capture_start();
	t = pgtable_new("bad", "host=/x password=sekrit-42 dbname", NULL);
	capture_end(log, sizeof(log));
	test_assert(t == NULL);
	test_assert(strstr(log, "table bad") != NULL);
	{
		char	 buf[64];

		test_assert(pgtable_get(t, TQ_USER, "a@b", buf,
		    sizeof(buf)) == TABLE_TEMPFAIL && buf[0] == '\0');
		test_assert(pgtable_exec(t, TQ_DOMAIN_LIST, NULL, 0, NULL,
		    NULL, buf, sizeof(buf)) == -1 && buf[0] != '\0');
	}
	test_assert(strstr(log, "sekrit") == NULL);
	test_assert(pgtable_new("bad", "nonsense", NULL) == NULL);
	t = pgtable_new("ok", "postgresql:///osms?host=/nowhere", NULL);
	test_assert(t != NULL);
	pgtable_free(t);
	pgtable_free(NULL);
	test_end();

	test_begin("etc/postfixadmin.conf parses and has all 21 queries");
	conf = conf_parse_file("etc/postfixadmin.conf", stderr, NULL);
	test_assert(conf != NULL);
	if (conf != NULL) {
		ct = conf_table_find(conf, "pfa");
		test_assert(ct != NULL && ct->backend == TABLE_POSTGRES);
		if (ct != NULL) {
			memcpy(pfa_queries, ct->queries, sizeof(pfa_queries));
			for (i = 0; i < TQ_COUNT; i++)
				test_assert(pfa_queries[i][0] != '\0');
		}
		conf_free(conf);
	}
	test_end();

	osms = pgtable_new("osms", ci_osms, queries_empty);
	pfa = pgtable_new("pfa", ci_pfa, pfa_queries);
	if (osms == NULL || pfa == NULL)
		abort();
}

/* greylist_check(), as checkd asks it through authd. */
static void
test_greylist(void)
{
	static const char *const t1 = "T0123456789abcdef0123456789abcdef";
	static const char *const t2 = "T1123456789abcdef0123456789abcdef";
	static const char *const t3 = "T2123456789abcdef0123456789abcdef";
	static const char *const c = "C0123456789abcdef0123456789abcdef";
	struct rows	 r;

	test_begin("osms schema: the greylist decides in one statement");
	memset(&r, 0, sizeof(r));
	test_assert(ex(osms, TQ_GREY_CHECK, &r, 6, t1, c, "1000", "86400",
	    "3024000", "1") == 1 && strcmp(r.text, "1000") == 0);
	memset(&r, 0, sizeof(r));
	test_assert(ex(osms, TQ_GREY_CHECK, &r, 6, t1, c, "1000", "86400",
	    "3024000", "1") == 1 && (strcmp(r.text, "1000") == 0 ||
	    strcmp(r.text, "999") == 0));
	/* Past its delay the retry passes, and whitelists the network
	 * (awl 1): a new triplet from it passes at once. */
	memset(&r, 0, sizeof(r));
	test_assert(ex(osms, TQ_GREY_CHECK, &r, 6, t2, c, "1", "86400",
	    "3024000", "1") == 1 && strcmp(r.text, "1") == 0);
	(void)usleep(1100 * 1000);
	memset(&r, 0, sizeof(r));
	test_assert(ex(osms, TQ_GREY_CHECK, &r, 6, t2, c, "1", "86400",
	    "3024000", "1") == 1 && strcmp(r.text, "0") == 0);
	memset(&r, 0, sizeof(r));
	test_assert(ex(osms, TQ_GREY_CHECK, &r, 6, t3, c, "1000", "86400",
	    "3024000", "1") == 1 && strcmp(r.text, "0") == 0);
	/* Keys are checkd's hashes, nothing else. */
	test_assert(ex(osms, TQ_GREY_CHECK, NULL, 6, "alice@example.test",
	    "C9999999999999999999999999999999", "1", "1", "1", "1") == -1);
	test_end();
}

static void
test_lookups_osms(void)
{
	test_begin("osms schema: users");
	test_assert(get_is(osms, TQ_USER, "alice@example.test", TABLE_FOUND,
	    "{SHA512-CRYPT}$6$s$h maildir=example.test/alice quota=10485760"
	    " quota_messages=1000 scram=SCRAM-SHA-256$4096:c2FsdA==$a:b"
	    " services=smtp,imap"));
	test_assert(get_is(osms, TQ_USER, "ALICE@Example.TEST", TABLE_FOUND,
	    NULL));
	test_assert(get_is(osms, TQ_USER, "bob@example.test", TABLE_FOUND,
	    "- maildir=example.test/bob services=smtp,imap,pop3"));
	test_assert(get_is(osms, TQ_USER, "eve@example.test", TABLE_FOUND,
	    "{X}e maildir=example.test/eve services=none"));
	test_assert(get_is(osms, TQ_USER, "carol@example.test",
	    TABLE_NOTFOUND, NULL));
	test_assert(get_is(osms, TQ_USER, "dave@off.test", TABLE_NOTFOUND,
	    NULL));
	test_assert(get_is(osms, TQ_USER, "nobody@example.test",
	    TABLE_NOTFOUND, NULL));
	test_assert(get_is(osms, TQ_USER, "", TABLE_NOTFOUND, NULL));
	test_end();

	test_begin("osms schema: domains, alias domains");
	test_assert(get_is(osms, TQ_DOMAIN, "example.test", TABLE_FOUND, ""));
	test_assert(get_is(osms, TQ_DOMAIN, "Example.Test", TABLE_FOUND, ""));
	test_assert(get_is(osms, TQ_DOMAIN, "alias.test", TABLE_FOUND,
	    "example.test"));
	test_assert(get_is(osms, TQ_DOMAIN, "off.test", TABLE_NOTFOUND,
	    NULL));
	test_assert(get_is(osms, TQ_DOMAIN, "nowhere.test", TABLE_NOTFOUND,
	    NULL));
	test_end();

	test_begin("osms schema: aliases, catch-all, inactive");
	test_assert(get_is(osms, TQ_ALIAS, "postmaster@example.test",
	    TABLE_FOUND, "alice@example.test"));
	test_assert(get_is(osms, TQ_ALIAS, "team@example.test", TABLE_FOUND,
	    "alice@example.test, bob@example.test"));
	test_assert(get_is(osms, TQ_ALIAS, "list@example.test", TABLE_FOUND,
	    "a@remote.test, b@remote.test"));
	test_assert(get_is(osms, TQ_ALIAS, "@example.test", TABLE_FOUND,
	    "alice@example.test"));
	test_assert(get_is(osms, TQ_ALIAS, "old@example.test",
	    TABLE_NOTFOUND, NULL));
	test_assert(get_is(osms, TQ_ALIAS, "alice@example.test",
	    TABLE_NOTFOUND, NULL));
	test_end();

	test_begin("a value that does not fit the buffer is a tempfail");
	{
		char	 small[16];

		test_assert(pgtable_get(osms, TQ_USER, "alice@example.test",
		    small, sizeof(small)) == TABLE_TEMPFAIL);
		test_assert(pgtable_get(osms, TQ_ALIAS, "team@example.test",
		    small, sizeof(small)) == TABLE_TEMPFAIL);
		test_assert(pgtable_get(osms, TQ_USER, "alice@example.test",
		    small, 0) == TABLE_TEMPFAIL);
		test_assert(pgtable_exec(osms, TQ_USER, NULL, 0, NULL, NULL,
		    small, sizeof(small)) == -1);
		test_assert(pgtable_get(osms, TQ_USER_ADD, "x", small,
		    sizeof(small)) == TABLE_TEMPFAIL);
	}
	test_end();
}

static void
test_lookups_pfa(void)
{
	struct pgtable	*t;

	test_begin("PostfixAdmin: domains, alias domains");
	test_assert(get_is(pfa, TQ_DOMAIN, "example.org", TABLE_FOUND, ""));
	test_assert(get_is(pfa, TQ_DOMAIN, "alias.org", TABLE_FOUND,
	    "example.org"));
	test_assert(get_is(pfa, TQ_DOMAIN, "deadad.org", TABLE_FOUND, ""));
	test_assert(get_is(pfa, TQ_DOMAIN, "off.org", TABLE_NOTFOUND, NULL));
	test_assert(get_is(pfa, TQ_DOMAIN, "all", TABLE_NOTFOUND, NULL));
	test_assert(get_is(pfa, TQ_DOMAIN, "ALL", TABLE_NOTFOUND, NULL));
	test_end();

	test_begin("PostfixAdmin: users (maildir slash, quota, NULLs)");
	test_assert(get_is(pfa, TQ_USER, "alice@example.org", TABLE_FOUND,
	    "{BLF-CRYPT}$2y$05$abc maildir=example.org/alice"));
	test_assert(get_is(pfa, TQ_USER, "bob@example.org", TABLE_FOUND,
	    "$1$md5$x maildir=example.org/bob quota=2048000"));
	test_assert(get_is(pfa, TQ_USER, "neg@evil.org", TABLE_FOUND,
	    "{X}y maildir=evil.org/neg"));
	test_assert(get_is(pfa, TQ_USER, "carol@example.org",
	    TABLE_NOTFOUND, NULL));
	test_assert(get_is(pfa, TQ_USER, "dave@off.org", TABLE_NOTFOUND,
	    NULL));
	test_end();

	test_begin("PostfixAdmin: aliases (comma lists, catch-all)");
	test_assert(get_is(pfa, TQ_ALIAS, "alice@example.org", TABLE_FOUND,
	    "alice@example.org"));
	test_assert(get_is(pfa, TQ_ALIAS, "bob@example.org", TABLE_FOUND,
	    "bob@example.org,bob@elsewhere.test"));
	test_assert(get_is(pfa, TQ_ALIAS, "sales@example.org", TABLE_FOUND,
	    "alice@example.org,bob@example.org"));
	test_assert(get_is(pfa, TQ_ALIAS, "@example.org", TABLE_FOUND,
	    "alice@example.org"));
	test_assert(get_is(pfa, TQ_ALIAS, "old@example.org",
	    TABLE_NOTFOUND, NULL));
	test_end();

	test_begin("NULL columns are absent; booleans as t/f, true/1/0");
	test_assert(query_is("nulls", ci_pfa, TQ_USER, "SELECT NULL::text AS"
	    " password, NULL::text AS maildir, NULL::bigint AS quota,"
	    " NULL::bigint AS quota_messages, NULL::text AS scram,"
	    " NULL::boolean AS imap, false AS pop3 FROM mailbox"
	    " WHERE username = $1",
	    "alice@example.org", TABLE_FOUND, "- services=smtp,imap"));
	test_assert(query_is("bools", ci_pfa, TQ_USER, "SELECT password,"
	    " 'true'::text AS smtp, '0'::text AS imap, '1'::text AS pop3,"
	    " '' AS maildir, '000' AS quota FROM mailbox WHERE username = $1",
	    "bob@example.org", TABLE_FOUND, "$1$md5$x services=smtp,pop3"));
	t = table_with("nodomtarget", ci_pfa, TQ_DOMAIN,
	    "SELECT 1 AS x FROM domain WHERE domain = $1");
	test_assert(get_is(t, TQ_DOMAIN, "example.org", TABLE_FOUND, ""));
	pgtable_free(t);
	t = table_with("nullalias", ci_pfa, TQ_ALIAS,
	    "SELECT NULL::text UNION ALL SELECT '' WHERE $1::text <> ''");
	test_assert(get_is(t, TQ_ALIAS, "x@example.org", TABLE_NOTFOUND,
	    NULL));
	pgtable_free(t);
	test_end();
}

static void
test_evil(void)
{
	struct pgtable	*t;
	char		 log[16384];

	test_begin("evil database: bad values are refused and logged");
	capture_start();
	test_assert(get_is(pfa, TQ_USER, "dots@evil.org", TABLE_TEMPFAIL,
	    NULL));
	test_assert(get_is(pfa, TQ_USER, "mid@evil.org", TABLE_TEMPFAIL,
	    NULL));
	test_assert(get_is(pfa, TQ_USER, "abs@evil.org", TABLE_TEMPFAIL,
	    NULL));
	test_assert(get_is(pfa, TQ_USER, "nl@evil.org", TABLE_TEMPFAIL,
	    NULL));
	test_assert(get_is(pfa, TQ_USER, "sp@evil.org", TABLE_TEMPFAIL,
	    NULL));
	test_assert(get_is(pfa, TQ_ALIAS, "big@evil.org", TABLE_TEMPFAIL,
	    NULL));
	test_assert(get_is(pfa, TQ_ALIAS, "ctl@evil.org", TABLE_TEMPFAIL,
	    NULL));
	test_assert(get_is(pfa, TQ_DOMAIN, "evilad.org", TABLE_TEMPFAIL,
	    NULL));
	capture_end(log, sizeof(log));
	test_assert(count_lines(log, "table pfa: user query returned a bad"
	    " value") == 5);
	test_assert(strstr(log, "alias query returned a bad value") != NULL);
	test_assert(strstr(log, "domain query returned a bad value") != NULL);
	/* and the connection is fine afterwards */
	test_assert(get_is(pfa, TQ_USER, "alice@example.org", TABLE_FOUND,
	    NULL));
	test_end();

	test_begin("evil database: bad UTF-8 is refused too");
	{
		char	 ci[600];

		/* The server refuses to convert it to UTF8 (a tempfail
		 * too); a conninfo that asks for raw bytes gets them. */
		test_assert(get_is(pfa, TQ_USER, "bad8@evil.org",
		    TABLE_TEMPFAIL, NULL));
		(void)snprintf(ci, sizeof(ci), "%s client_encoding=SQL_ASCII",
		    ci_pfa);
		t = pgtable_new("raw", ci, pfa_queries);
		capture_start();
		test_assert(get_is(t, TQ_USER, "bad8@evil.org",
		    TABLE_TEMPFAIL, NULL));
		capture_end(log, sizeof(log));
		test_assert(strstr(log, "table raw: user query returned a bad"
		    " value for bad8@evil.org: password is malformed") != NULL);
		test_assert(get_is(t, TQ_USER, "alice@example.org",
		    TABLE_FOUND, NULL));
		pgtable_free(t);
	}
	test_end();

	test_begin("evil database: two rows for one user are ambiguous");
	t = table_with("two", ci_pfa, TQ_USER, "SELECT password FROM mailbox"
	    " WHERE username = $1 UNION ALL SELECT password FROM mailbox"
	    " WHERE username = $1");
	test_assert(get_is(t, TQ_USER, "alice@example.org", TABLE_TEMPFAIL,
	    NULL));
	test_assert(get_is(t, TQ_USER, "nobody@example.org", TABLE_NOTFOUND,
	    NULL));
	pgtable_free(t);
	test_assert(query_is("twodom", ci_pfa, TQ_DOMAIN,
	    "SELECT domain AS target"
	    " FROM domain WHERE domain = $1 OR domain = 'off.org'",
	    "example.org", TABLE_TEMPFAIL, NULL));
	test_end();

	test_begin("evil database: a 100 KB value");
	test_assert(query_is("big", ci_pfa, TQ_USER,
	    "SELECT repeat('x', 100000)"
	    " AS password FROM mailbox WHERE username = $1",
	    "alice@example.org", TABLE_TEMPFAIL, NULL));
	test_assert(query_is("bigdir", ci_pfa, TQ_USER, "SELECT password,"
	    " repeat('a/', 50000) AS maildir FROM mailbox WHERE username = $1",
	    "alice@example.org", TABLE_TEMPFAIL, NULL));
	test_assert(get_is(pfa, TQ_ALIAS, "big@evil.org", TABLE_TEMPFAIL,
	    NULL));
	test_end();

	test_begin("evil database: numbers and booleans that are not");
	test_assert(query_is("q1", ci_pfa, TQ_USER, "SELECT password, 'lots' AS"
	    " quota FROM mailbox WHERE username = $1",
	    "alice@example.org", TABLE_TEMPFAIL, NULL));
	test_assert(query_is("q2", ci_pfa, TQ_USER, "SELECT password, -5 AS"
	    " quota_messages FROM mailbox WHERE username = $1",
	    "alice@example.org", TABLE_TEMPFAIL, NULL));
	test_assert(query_is("q3", ci_pfa, TQ_USER, "SELECT password,"
	    " '99999999999999999999' AS quota FROM mailbox"
	    " WHERE username = $1",
	    "alice@example.org", TABLE_TEMPFAIL, NULL));
	test_assert(query_is("q4", ci_pfa, TQ_USER,
	    "SELECT password, 'maybe' AS"
	    " imap FROM mailbox WHERE username = $1",
	    "alice@example.org", TABLE_TEMPFAIL, NULL));
	test_assert(query_is("q5", ci_pfa, TQ_USER,
	    "SELECT username FROM mailbox"
	    " WHERE username = $1",
	    "alice@example.org", TABLE_TEMPFAIL, NULL));
	test_end();

	test_begin("a wrong query or a slow one is a tempfail");
	test_assert(query_is("syntax", ci_pfa, TQ_USER, "SELEKT password",
	    "alice@example.org", TABLE_TEMPFAIL, NULL));
	test_assert(query_is("update", ci_pfa, TQ_USER, "UPDATE mailbox SET"
	    " modified = now() WHERE username = $1 AND false",
	    "alice@example.org", TABLE_TEMPFAIL, NULL));
	{
		double	 t0 = now_s(), dt;

		t = table_with("slow", ci_pfa, TQ_USER, "SELECT password FROM"
		    " mailbox, pg_sleep(30) WHERE username = $1");
		test_assert(get_is(t, TQ_USER, "alice@example.org",
		    TABLE_TEMPFAIL, NULL));
		dt = now_s() - t0;
		diag("statement_timeout fired after %.2f s", dt);
		test_assert(dt >= 4.5 && dt < 7.0);
		pgtable_free(t);
	}
	test_assert(get_is(pfa, TQ_USER, "alice@example.org", TABLE_FOUND,
	    NULL));
	test_end();
}

static void
test_injection(void)
{
	static const char *const keys[] = {
		"'", ";", "\\", "' OR '1'='1", "$1", "%", "_@example.test",
		"alice@example.test' --", "x' OR address LIKE '%",
		"alice@example.test'; DROP TABLE mailboxes; --",
		"'); DELETE FROM aliases; --", "\\'", "\"", "*",
		"\xff\xfe", "a\r\nb", "alice@example.test\t",
		"@example.test' OR 'x'='x",
	};
	static const enum table_query qs[] = { TQ_DOMAIN, TQ_USER, TQ_ALIAS };
	char		 before[256], after[256], buf[TABLE_MAX_VALUE];
	struct rows	 r;
	size_t		 i, j;
	int		 bad = 0;

	test_begin("SQL injection in keys finds nothing and breaks nothing");
	test_assert(psql("osms", "SELECT (SELECT count(*) FROM domains) ||"
	    " ',' || (SELECT count(*) FROM mailboxes) || ',' ||"
	    " (SELECT count(*) FROM aliases)", before, sizeof(before)) == 0);
	for (i = 0; i < nitems(keys); i++)
		for (j = 0; j < nitems(qs); j++) {
			if (pgtable_get(osms, qs[j], keys[i], buf,
			    sizeof(buf)) != TABLE_NOTFOUND) {
				diag("key \"%s\" query %d: not NOTFOUND",
				    keys[i], (int)qs[j]);
				bad++;
			}
			if (pgtable_get(pfa, qs[j], keys[i], buf,
			    sizeof(buf)) != TABLE_NOTFOUND) {
				diag("pfa key \"%s\" query %d: not NOTFOUND",
				    keys[i], (int)qs[j]);
				bad++;
			}
		}
	test_assert(bad == 0);
	test_assert(psql("osms", "SELECT (SELECT count(*) FROM domains) ||"
	    " ',' || (SELECT count(*) FROM mailboxes) || ',' ||"
	    " (SELECT count(*) FROM aliases)", after, sizeof(after)) == 0);
	test_assert(strcmp(before, after) == 0);
	test_assert(get_is(osms, TQ_USER, "alice@example.test", TABLE_FOUND,
	    NULL));
	/* The server saw them (lower-cased) as parameters, never as SQL. */
	test_assert(sh("grep -qi 'parameters: .*DROP TABLE mailboxes' %s/log",
	    pgdir) == 0);
	test_assert(sh("grep -i 'DROP TABLE mailboxes' %s/log |"
	    " grep -qv 'parameters: '", pgdir) == -1);
	test_end();

	test_begin("SQL injection in admin parameters is stored as text");
	test_assert(ex(osms, TQ_USER_LIST, &r, 1, "' OR '1'='1") == 0);
	test_assert(ex(osms, TQ_ALIAS_LIST, &r, 1, "x' OR 'a'='a") == 0);
	test_assert(ex(osms, TQ_ALIAS_ADD, NULL, 2, "o'neil@example.test",
	    "alice@example.test'); DROP TABLE aliases; --") == 1);
	test_assert(get_is(osms, TQ_ALIAS, "o'neil@example.test", TABLE_FOUND,
	    "alice@example.test'); DROP TABLE aliases; --"));
	test_assert(ex(osms, TQ_ALIAS_DEL, NULL, 2, "o'neil@example.test",
	    "") == 1);
	test_assert(ex(osms, TQ_USER_DEL, NULL, 1, "' OR '1'='1") == 0);
	test_assert(ex(osms, TQ_DOMAIN_DEL, NULL, 1, "x' OR name <> '") == 0);
	test_assert(psql("osms", "SELECT (SELECT count(*) FROM domains) ||"
	    " ',' || (SELECT count(*) FROM mailboxes) || ',' ||"
	    " (SELECT count(*) FROM aliases)", after, sizeof(after)) == 0);
	test_assert(strcmp(before, after) == 0);
	test_end();
}

static void
test_admin_osms(void)
{
	struct rows	 r;
	char		 err[256];
	const char	*p[2];

	test_begin("osms schema: domain-add, -list, -del");
	test_assert(ex(osms, TQ_DOMAIN_ADD, NULL, 1, "new.test") == 1);
	test_assert(ex(osms, TQ_DOMAIN_LIST, &r, 0) == 5 && r.n == 5);
	test_assert(strcmp(r.text, "alias.test\nexample.test\nnew.test\n"
	    "off.test\nx.test") == 0 || (diag("%s", r.text), 0));
	test_assert(get_is(osms, TQ_DOMAIN, "new.test", TABLE_FOUND, ""));
	p[0] = "new.test";
	test_assert(pgtable_exec(osms, TQ_DOMAIN_ADD, p, 1, NULL, NULL, err,
	    sizeof(err)) == -1);
	test_assert(strstr(err, "duplicate") != NULL ||
	    (diag("%s", err), 0));
	test_assert(ex(osms, TQ_DOMAIN_DEL, NULL, 1, "x.test") == 1);
	test_assert(ex(osms, TQ_DOMAIN_DEL, NULL, 1, "x.test") == 0);
	test_end();

	test_begin("osms schema: user-add, -list, -password, -quota, -del");
	test_assert(ex(osms, TQ_USER_ADD, NULL, 7, "u@new.test", "{X}h",
	    "new.test/u", "1000", "", "u", "new.test") == 1);
	test_assert(ex(osms, TQ_USER_ADD, NULL, 7, "w@new.test", "{X}h",
	    "new.test/w", "0", "s3cr", "other", "new.test") == 0);
	test_assert(get_is(osms, TQ_USER, "u@new.test", TABLE_FOUND,
	    "{X}h maildir=new.test/u quota=1000 services=smtp,imap,pop3"));
	test_assert(ex(osms, TQ_USER_LIST, &r, 1, "new.test") == 1);
	test_assert(strcmp(r.text, "u@new.test\t1000") == 0);
	test_assert(ex(osms, TQ_USER_LIST, &r, 1, "") == 6);
	test_assert(ex(osms, TQ_USER_PASSWORD, NULL, 3, "u@new.test", "{X}h2",
	    "SCRAM$x") == 1);
	test_assert(get_is(osms, TQ_USER, "u@new.test", TABLE_FOUND,
	    "{X}h2 maildir=new.test/u quota=1000 scram=SCRAM$x"
	    " services=smtp,imap,pop3"));
	test_assert(ex(osms, TQ_USER_PASSWORD, NULL, 3, "u@new.test", "{X}h3",
	    "") == 1);
	test_assert(ex(osms, TQ_USER_QUOTA, NULL, 2, "u@new.test", "0") == 1);
	test_assert(get_is(osms, TQ_USER, "u@new.test", TABLE_FOUND,
	    "{X}h3 maildir=new.test/u services=smtp,imap,pop3"));
	test_assert(ex(osms, TQ_USER_QUOTA, NULL, 2, "nobody@new.test",
	    "5") == 0);
	p[0] = "u@new.test";
	p[1] = "lots";
	test_assert(pgtable_exec(osms, TQ_USER_QUOTA, p, 2, NULL, NULL, err,
	    sizeof(err)) == -1 && err[0] != '\0');
	test_assert(pgtable_exec(osms, TQ_USER_QUOTA, p, 1, NULL, NULL, err,
	    sizeof(err)) == -1 && err[0] != '\0');
	p[1] = "1\n2";
	test_assert(pgtable_exec(osms, TQ_USER_QUOTA, p, 2, NULL, NULL, err,
	    sizeof(err)) == -1 && strstr(err, "parameter 2") != NULL);
	test_assert(ex(osms, TQ_USER_DEL, NULL, 1, "u@new.test") == 1);
	test_assert(get_is(osms, TQ_USER, "u@new.test", TABLE_NOTFOUND,
	    NULL));
	test_end();

	test_begin("osms schema: alias-add, -list, -del, domain-del cascades");
	test_assert(ex(osms, TQ_ALIAS_ADD, NULL, 2, "a@new.test",
	    "x@remote.test") == 1);
	test_assert(ex(osms, TQ_ALIAS_ADD, NULL, 2, "a@new.test",
	    "u@new.test") == 1);
	test_assert(ex(osms, TQ_ALIAS_ADD, NULL, 2, "@new.test",
	    "a@new.test") == 1);
	test_assert(get_is(osms, TQ_ALIAS, "a@new.test", TABLE_FOUND,
	    "u@new.test, x@remote.test"));
	test_assert(ex(osms, TQ_ALIAS_LIST, &r, 1, "new.test") == 3);
	test_assert(strcmp(r.text, "@new.test\ta@new.test\n"
	    "a@new.test\tu@new.test\na@new.test\tx@remote.test") == 0 ||
	    (diag("%s", r.text), 0));
	test_assert(ex(osms, TQ_ALIAS_LIST, &r, 1, "") == 9);
	test_assert(ex(osms, TQ_ALIAS_DEL, NULL, 2, "a@new.test",
	    "x@remote.test") == 1);
	test_assert(get_is(osms, TQ_ALIAS, "a@new.test", TABLE_FOUND,
	    "u@new.test"));
	test_assert(ex(osms, TQ_ALIAS_DEL, NULL, 2, "a@new.test", "") == 1);
	test_assert(get_is(osms, TQ_ALIAS, "a@new.test", TABLE_NOTFOUND,
	    NULL));
	test_assert(ex(osms, TQ_USER_ADD, NULL, 7, "z@new.test", "{X}z",
	    "new.test/z", "0", "", "z", "new.test") == 1);
	test_assert(ex(osms, TQ_DOMAIN_DEL, NULL, 1, "new.test") == 1);
	test_assert(get_is(osms, TQ_DOMAIN, "new.test", TABLE_NOTFOUND,
	    NULL));
	test_assert(get_is(osms, TQ_ALIAS, "@new.test", TABLE_NOTFOUND,
	    NULL));
	test_assert(get_is(osms, TQ_USER, "z@new.test", TABLE_NOTFOUND,
	    NULL));
	/* an alias domain's target cannot go first */
	p[0] = "example.test";
	test_assert(pgtable_exec(osms, TQ_DOMAIN_DEL, p, 1, NULL, NULL, err,
	    sizeof(err)) == -1);
	test_assert(get_is(osms, TQ_DOMAIN, "example.test", TABLE_FOUND, ""));
	test_end();
}

static void
test_admin_pfa(void)
{
	struct rows	 r;
	char		 err[256];

	test_begin("an admin row with a control byte is refused");
	test_assert(pgtable_exec(pfa, TQ_DOMAIN_LIST, NULL, 0, row_cb, &r,
	    err, sizeof(err)) == -1);
	test_assert(strstr(err, "control byte") != NULL);
	test_end();
	test_assert(psql("pfa", "DELETE FROM alias_domain WHERE"
	    " alias_domain = 'evilad.org'; DELETE FROM domain WHERE"
	    " domain LIKE 'bad%'", NULL, 0) == 0);

	test_begin("PostfixAdmin: every admin query of the example");
	test_assert(ex(pfa, TQ_DOMAIN_ADD, NULL, 1, "new.org") == 1);
	test_assert(ex(pfa, TQ_DOMAIN_LIST, &r, 0) == 7);
	test_assert(strstr(r.text, "new.org") != NULL &&
	    strstr(r.text, "ALL") == NULL);
	test_assert(ex(pfa, TQ_USER_ADD, NULL, 7, "u@new.org", "{X}h",
	    "new.org/u", "1000", "SCRAM$ignored", "u", "new.org") == 1);
	test_assert(get_is(pfa, TQ_USER, "u@new.org", TABLE_FOUND,
	    "{X}h maildir=new.org/u quota=1000"));
	test_assert(get_is(pfa, TQ_ALIAS, "u@new.org", TABLE_FOUND,
	    "u@new.org"));
	test_assert(ex(pfa, TQ_USER_LIST, &r, 1, "new.org") == 1 &&
	    strcmp(r.text, "u@new.org\t1000") == 0);
	test_assert(ex(pfa, TQ_USER_PASSWORD, NULL, 3, "u@new.org", "{X}h2",
	    "") == 1);
	test_assert(ex(pfa, TQ_USER_QUOTA, NULL, 2, "u@new.org", "0") == 1);
	test_assert(get_is(pfa, TQ_USER, "u@new.org", TABLE_FOUND,
	    "{X}h2 maildir=new.org/u"));
	test_assert(ex(pfa, TQ_ALIAS_ADD, NULL, 2, "u@new.org",
	    "fwd@remote.test") == 1);
	test_assert(ex(pfa, TQ_ALIAS_ADD, NULL, 2, "u@new.org",
	    "fwd@remote.test") == 0);
	test_assert(ex(pfa, TQ_ALIAS_ADD, NULL, 2, "@new.org",
	    "u@new.org") == 1);
	test_assert(get_is(pfa, TQ_ALIAS, "u@new.org", TABLE_FOUND,
	    "u@new.org,fwd@remote.test"));
	test_assert(ex(pfa, TQ_ALIAS_LIST, &r, 1, "new.org") == 2);
	test_assert(strcmp(r.text, "@new.org\tu@new.org\n"
	    "u@new.org\tfwd@remote.test") == 0 || (diag("%s", r.text), 0));
	test_assert(ex(pfa, TQ_ALIAS_DEL, NULL, 2, "u@new.org",
	    "fwd@remote.test") == 1);
	test_assert(get_is(pfa, TQ_ALIAS, "u@new.org", TABLE_FOUND,
	    "u@new.org"));
	test_assert(ex(pfa, TQ_ALIAS_DEL, NULL, 2, "@new.org", "") == 1);
	test_assert(ex(pfa, TQ_ALIAS_DEL, NULL, 2, "@new.org", "") == 0);
	test_assert(ex(pfa, TQ_USER_DEL, NULL, 1, "u@new.org") == 1);
	test_assert(get_is(pfa, TQ_USER, "u@new.org", TABLE_NOTFOUND, NULL));
	test_assert(get_is(pfa, TQ_ALIAS, "u@new.org", TABLE_NOTFOUND, NULL));
	test_assert(ex(pfa, TQ_USER_ADD, NULL, 7, "v@new.org", "{X}v",
	    "new.org/v/", "0", "", "v", "new.org") == 1);
	test_assert(get_is(pfa, TQ_USER, "v@new.org", TABLE_FOUND,
	    "{X}v maildir=new.org/v"));
	test_assert(ex(pfa, TQ_DOMAIN_DEL, NULL, 1, "new.org") == 1);
	test_assert(get_is(pfa, TQ_DOMAIN, "new.org", TABLE_NOTFOUND, NULL));
	test_assert(get_is(pfa, TQ_USER, "v@new.org", TABLE_NOTFOUND, NULL));
	test_assert(ex(pfa, TQ_DOMAIN_DEL, NULL, 1, "ALL") == 0);
	test_end();
}

static void
test_reload(void)
{
	struct pgtable	*t;

	test_begin("a new generation with other SQL on the same connection");
	t = table_with("gen2", ci_osms, TQ_USER, "SELECT password, maildir"
	    " FROM mailboxes WHERE address = $1");
	test_assert(get_is(t, TQ_USER, "alice@example.test", TABLE_FOUND,
	    "{SHA512-CRYPT}$6$s$h maildir=example.test/alice"));
	test_assert(get_is(osms, TQ_USER, "bob@example.test", TABLE_FOUND,
	    "- maildir=example.test/bob services=smtp,imap,pop3"));
	pgtable_free(t);
	test_assert(get_is(osms, TQ_DOMAIN, "example.test", TABLE_FOUND, ""));
	pgtable_thread_cleanup();
	test_assert(get_is(osms, TQ_DOMAIN, "example.test", TABLE_FOUND, ""));
	test_end();
}

static void
test_cache(void)
{
	struct pgtable	*t[70];
	char		 ci[600], sql[256], out[64];
	int		 i, bad = 0;

	test_begin("more statements than a connection keeps prepared");
	for (i = 0; i < 70; i++) {
		(void)snprintf(sql, sizeof(sql), "SELECT password FROM"
		    " mailboxes WHERE address = $1 AND %d = %d", i, i);
		t[i] = table_with("many", ci_osms, TQ_USER, sql);
	}
	for (i = 0; i < 70; i++)
		bad += !get_is(t[i], TQ_USER, "alice@example.test",
		    TABLE_FOUND, "{SHA512-CRYPT}$6$s$h");
	for (i = 0; i < 70; i += 7)
		bad += !get_is(t[i], TQ_USER, "bob@example.test",
		    TABLE_FOUND, "-");
	test_assert(bad == 0);
	for (i = 0; i < 70; i++)
		pgtable_free(t[i]);
	test_end();

	test_begin("more databases than a thread keeps connected");
	for (i = 0; i < 10; i++) {
		(void)snprintf(ci, sizeof(ci), "%s application_name=lru%d",
		    ci_osms, i);
		t[i] = pgtable_new("lru", ci, NULL);
	}
	for (i = 0; i < 10; i++)
		bad += !get_is(t[i], TQ_DOMAIN, "example.test", TABLE_FOUND,
		    "");
	bad += !get_is(t[0], TQ_DOMAIN, "example.test", TABLE_FOUND, "");
	test_assert(bad == 0);
	test_assert(psql("osms", "SELECT count(*) FROM pg_stat_activity"
	    " WHERE application_name LIKE 'lru%'", out, sizeof(out)) == 0);
	test_assert(strcmp(out, "8") == 0 || (diag("%s connections", out), 0));
	for (i = 0; i < 10; i++)
		pgtable_free(t[i]);
	pgtable_thread_cleanup();
	test_end();
}

static void
test_down(void)
{
	struct pgtable		*pw;
	struct rows		 r;
	enum table_found	 f;
	char			 ci[600], buf[TABLE_MAX_VALUE], err[512];
	char			 log[16384];
	double			 t0, dt, worst = 0;
	long			 rc;
	int			 i, ok;

	(void)snprintf(ci, sizeof(ci), "%s password=sekrit-pw-42", ci_osms);
	pw = pgtable_new("withpw", ci, NULL);

	test_begin("a hung server: tempfail on our own timeout, then anew");
	test_assert(get_is(osms, TQ_USER, "alice@example.test", TABLE_FOUND,
	    NULL));
	test_assert(sh("%s/psql -X -At -h %s -U osms -d osms -c \"SELECT pid"
	    " FROM pg_stat_activity WHERE application_name = 'osms-authd'\""
	    " >%s/pids && kill -STOP $(cat %s/pids)", pgbin, sock, pgdir,
	    pgdir) == 0);
	t0 = now_s();
	f = pgtable_get(osms, TQ_USER, "alice@example.test", buf,
	    sizeof(buf));
	dt = now_s() - t0;
	test_assert(sh("kill -CONT $(cat %s/pids)", pgdir) == 0);
	diag("a hung server answered by a tempfail after %.2f s", dt);
	test_assert(f == TABLE_TEMPFAIL);
	test_assert(dt >= 5.5 && dt < 7.0);
	(void)usleep(1100 * 1000);
	test_assert(get_is(osms, TQ_USER, "alice@example.test", TABLE_FOUND,
	    NULL));
	test_end();

	test_begin("the server stopped: tempfail within 7 s, logged once");
	test_assert(get_is(osms, TQ_USER, "alice@example.test", TABLE_FOUND,
	    NULL));
	test_assert(pw != NULL && get_is(pw, TQ_DOMAIN, "example.test",
	    TABLE_FOUND, ""));
	test_assert(pg_ctl_stop() == 0);
	capture_start();
	for (i = 0; i < 5; i++) {
		t0 = now_s();
		f = pgtable_get(osms, TQ_USER, "alice@example.test", buf,
		    sizeof(buf));
		dt = now_s() - t0;
		if (dt > worst)
			worst = dt;
		test_assert(f == TABLE_TEMPFAIL);
		test_assert(get_is(pw, TQ_ALIAS, "team@example.test",
		    TABLE_TEMPFAIL, NULL));
		(void)usleep(300 * 1000);
	}
	rc = pgtable_exec(osms, TQ_DOMAIN_LIST, NULL, 0, NULL, NULL, err,
	    sizeof(err));
	capture_end(log, sizeof(log));
	diag("slowest lookup with the server down: %.3f s", worst);
	test_assert(worst < 7.0);
	test_assert(rc == -1 && strstr(err, "unreachable") != NULL);
	test_assert(strstr(err, "sekrit") == NULL);
	test_assert(strstr(log, "sekrit") == NULL);
	test_assert(strstr(log, "host=") == NULL);
	/* one line per table's conninfo in 10 s, however many lookups */
	test_assert(count_lines(log, "table osms: database unreachable") ==
	    1);
	test_assert(count_lines(log, "table withpw: database unreachable") ==
	    1);
	test_end();

	test_begin("the server back: the same table reconnects");
	test_assert(pg_ctl_start() == 0);
	capture_start();
	ok = 0;
	t0 = now_s();
	/* Within the second after a failure the thread does not try. */
	while (now_s() - t0 < 5.0) {
		if (pgtable_get(osms, TQ_USER, "alice@example.test", buf,
		    sizeof(buf)) == TABLE_FOUND) {
			ok = 1;
			break;
		}
		(void)usleep(100 * 1000);
	}
	dt = now_s() - t0;
	test_assert(ok);
	diag("lookups work again %.2f s after the restart", dt);
	test_assert(dt < 2.0);
	(void)usleep(1100 * 1000);
	test_assert(get_is(pw, TQ_ALIAS, "team@example.test", TABLE_FOUND,
	    "alice@example.test, bob@example.test"));
	test_assert(ex(osms, TQ_DOMAIN_LIST, &r, 0) == 3 ||
	    (diag("%s", r.text), 0));
	capture_end(log, sizeof(log));
	test_assert(strstr(log, "table osms: database reachable again") !=
	    NULL);
	test_end();

	test_begin("a restart between two lookups is not even seen");
	test_assert(pg_ctl_stop() == 0 && pg_ctl_start() == 0);
	test_assert(get_is(osms, TQ_USER, "alice@example.test", TABLE_FOUND,
	    NULL));
	test_assert(get_is(pfa, TQ_USER, "alice@example.org", TABLE_FOUND,
	    NULL));
	test_end();
	pgtable_free(pw);
}

struct worker {
	pthread_t	 thread;
	int		 failures;
	int		 done;
};

static pthread_barrier_t	 barrier;

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	char		 buf[TABLE_MAX_VALUE];
	int		 i;

	for (i = 0; i < NLOOKUPS; i++) {
		switch (i % 4) {
		case 0:
			if (pgtable_get(osms, TQ_USER, "alice@example.test",
			    buf, sizeof(buf)) != TABLE_FOUND ||
			    strncmp(buf, "{SHA512-CRYPT}", 14) != 0)
				w->failures++;
			break;
		case 1:
			if (pgtable_get(osms, TQ_ALIAS, "team@example.test",
			    buf, sizeof(buf)) != TABLE_FOUND)
				w->failures++;
			break;
		case 2:
			if (pgtable_get(osms, TQ_DOMAIN, "example.test", buf,
			    sizeof(buf)) != TABLE_FOUND)
				w->failures++;
			break;
		default:
			if (pgtable_get(osms, TQ_USER, "nobody@example.test",
			    buf, sizeof(buf)) != TABLE_NOTFOUND)
				w->failures++;
			break;
		}
		w->done++;
	}
	(void)pthread_barrier_wait(&barrier);	/* counted */
	(void)pthread_barrier_wait(&barrier);	/* let go */
	pgtable_thread_cleanup();
	return NULL;
}

static void
test_threads(void)
{
	struct worker	 w[NTHREADS];
	char		 out[64];
	double		 t0, dt;
	int		 i, failures = 0, done = 0;

	test_begin("4 threads at once, each its own connection");
	pgtable_thread_cleanup();	/* main's own connections */
	memset(w, 0, sizeof(w));
	if (pthread_barrier_init(&barrier, NULL, NTHREADS + 1) != 0)
		abort();
	t0 = now_s();
	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0)
			abort();
	(void)pthread_barrier_wait(&barrier);
	dt = now_s() - t0;
	test_assert(psql("osms", "SELECT count(*) FROM pg_stat_activity"
	    " WHERE application_name = 'osms-authd'", out, sizeof(out)) == 0);
	test_assert(strcmp(out, "4") == 0 || (diag("%s connections", out), 0));
	(void)pthread_barrier_wait(&barrier);
	for (i = 0; i < NTHREADS; i++) {
		(void)pthread_join(w[i].thread, NULL);
		failures += w[i].failures;
		done += w[i].done;
	}
	(void)pthread_barrier_destroy(&barrier);
	test_assert(failures == 0);
	test_assert(done == NTHREADS * NLOOKUPS);
	diag("%d lookups from %d threads in %.2f s: %.0f lookups/s", done,
	    NTHREADS, dt, (double)done / dt);
	for (i = 0; i < 20; i++) {
		if (psql("osms", "SELECT count(*) FROM pg_stat_activity"
		    " WHERE application_name = 'osms-authd'", out,
		    sizeof(out)) == -1 || strcmp(out, "0") == 0)
			break;
		(void)usleep(100 * 1000);
	}
	test_assert(strcmp(out, "0") == 0 || (diag("%s connections", out), 0));
	test_end();
}

int
main(void)
{
	if (geteuid() != 0) {
		test_begin("runs as root (to run a PostgreSQL cluster)");
		test_assert(geteuid() == 0);
		test_end();
		return test_exit();
	}
	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	keep = getenv("OSMS_KEEP") != NULL && *getenv("OSMS_KEEP") != '\0' &&
	    strcmp(getenv("OSMS_KEEP"), "0") != 0;
	test_begin("a throwaway PostgreSQL cluster starts");
	test_assert(cluster_start() == 0);
	test_end();
	if (test_exit() != 0) {
		guard_finish();
		return 1;
	}

	test_schema();
	test_new();
	test_lookups_osms();
	test_lookups_pfa();
	test_evil();
	test_injection();
	test_admin_osms();
	test_admin_pfa();
	test_greylist();
	test_reload();
	test_cache();
	test_down();
	test_threads();

	pgtable_free(osms);
	pgtable_free(pfa);
	pgtable_thread_cleanup();
	guard_finish();
	test_begin("the cluster is stopped and removed");
	test_assert(keep || access(pgdir, F_OK) == -1);
	test_end();
	return test_exit();
}
