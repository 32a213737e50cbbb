/*
 * Tables: the PostgreSQL backend.
 *
 * Runs on authd's worker threads, with blocking libpq: each thread has
 * its own few connections in a thread-local cache keyed by conninfo, so
 * there are no locks, and a slow database holds up one worker, never an
 * event loop. Every value from the network goes to the server as a
 * parameter of a prepared statement, never into SQL text. Statements are
 * prepared once per connection when first used, named after a hash of
 * their text, so a reload with new SQL simply prepares new names.
 *
 * The database is not trusted either (Postfix's "evil SQL database"):
 * a user row with a control byte, bad UTF-8, a value too long, an
 * absolute maildir or one holding "..", or two rows for one address is
 * refused with a temporary failure and logged.
 *
 * A connection that breaks is reset once and the query retried once; if
 * that fails the lookup fails temporarily, and the thread leaves the
 * database alone for a second. Failures are logged at most every ten
 * seconds per thread and database, with the table's name and never the
 * conninfo, which may hold a password.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "log.h"
#include "table_pg.h"
#include "util.h"

#define PG_CONNECT_TIMEOUT	"5"	/* s, if the conninfo says nothing */
#define PG_STATEMENT_TIMEOUT	"SET statement_timeout = '5s'"
#define PG_QUERY_TIMEOUT	6000	/* ms: our own, if the server hangs */
#define PG_HOLDOFF		1000	/* ms without retry after a failure */
#define PG_LOG_INTERVAL		10000	/* ms between two failure logs */
#define PG_IDLE			300000	/* ms unused: another conn is closed */
#define PG_MAX_CONNS		8	/* conninfos cached per thread */
#define PG_MAX_PREPARED		64	/* per connection; then DEALLOCATE */
#define PG_MAX_PARAMS		16
#define PG_MAX_KEY		1024
#define PG_MAX_ROW		65536	/* an admin result row */
#define PG_STMT_NAME		24	/* "osms_" and 16 hex digits */

/* SQLSTATEs handled here. */
#define PG_DUPLICATE_PSTATEMENT	"42P05"
#define PG_UNDEFINED_PSTATEMENT	"26000"

/*
 * The queries of osms's own schema, sql/schema.sql. Each uses every
 * parameter conf.h gives it: a statement is prepared with the types the
 * server infers, and a parameter it cannot infer is an error.
 */
static const char *const pg_default_queries[TQ_COUNT] = {
	[TQ_DOMAIN] =
	    "SELECT alias_target AS target FROM domains"
	    " WHERE name = $1 AND active",
	[TQ_USER] =
	    "SELECT m.password, m.scram, m.maildir, m.quota_bytes AS quota,"
	    " m.quota_messages, m.smtp, m.imap, m.pop3"
	    " FROM mailboxes m JOIN domains d ON d.name = m.domain"
	    " WHERE m.address = $1 AND m.active AND d.active",
	[TQ_ALIAS] =
	    "SELECT target FROM aliases WHERE address = $1 AND active"
	    " ORDER BY target",
	[TQ_DOMAIN_ADD] =
	    "INSERT INTO domains (name) VALUES ($1)",
	[TQ_DOMAIN_DEL] =
	    "DELETE FROM domains WHERE name = $1",
	[TQ_DOMAIN_LIST] =
	    "SELECT name FROM domains ORDER BY name",
	[TQ_USER_ADD] =
	    "INSERT INTO mailboxes (address, password, maildir, quota_bytes,"
	    " scram, domain)"
	    " SELECT $1::text, $2::text, $3::text, $4::bigint,"
	    " NULLIF($5::text, ''), $7::text"
	    " WHERE $1::text = $6::text || '@' || $7::text",
	[TQ_USER_DEL] =
	    "DELETE FROM mailboxes WHERE address = $1",
	[TQ_USER_LIST] =
	    "SELECT address, quota_bytes FROM mailboxes"
	    " WHERE $1::text = '' OR domain = $1::text ORDER BY address",
	[TQ_USER_PASSWORD] =
	    "UPDATE mailboxes SET password = $2::text,"
	    " scram = NULLIF($3::text, '') WHERE address = $1::text",
	[TQ_USER_QUOTA] =
	    "UPDATE mailboxes SET quota_bytes = $2::bigint"
	    " WHERE address = $1::text",
	[TQ_ALIAS_ADD] =
	    "INSERT INTO aliases (address, target) VALUES ($1, $2)",
	[TQ_ALIAS_DEL] =
	    "DELETE FROM aliases WHERE address = $1::text"
	    " AND ($2::text = '' OR target = $2::text)",
	[TQ_ALIAS_LIST] =
	    "SELECT address, target FROM aliases"
	    " WHERE $1::text = '' OR domain = $1::text"
	    " ORDER BY address, target",
	[TQ_AUDIT_ADD] =
	    "INSERT INTO crypt_audit (at, message, decision)"
	    " VALUES ($1::timestamptz, $2::text, $3::text)",
	[TQ_AUDIT_LIST] =
	    "SELECT to_char(at AT TIME ZONE 'UTC',"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z \"') || message || ' ' || decision"
	    " FROM crypt_audit WHERE $1::text = ''"
	    " OR strpos(lower(message || ' ' || decision), lower($1::text)) > 0"
	    " ORDER BY id",
	[TQ_CRYPT_POLICY] =
	    "SELECT policy FROM crypt_policy WHERE name = $1",
	[TQ_STORE_SINCE] =
	    "SELECT name, version, data IS NULL, encode(data, 'hex')"
	    " FROM crypt_store"
	    " WHERE version > $1::bigint ORDER BY version LIMIT 100",
	[TQ_STORE_PUT] =
	    "INSERT INTO crypt_store (name, data)"
	    " VALUES ($1::text, decode($2::text, 'hex'))"
	    " ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data"
	    " WHERE crypt_store.data IS DISTINCT FROM EXCLUDED.data",
	[TQ_STORE_REMOVE] =
	    "UPDATE crypt_store SET data = NULL"
	    " WHERE name = $1::text AND data IS NOT NULL",
	[TQ_GREY_CHECK] =
	    "SELECT greylist_check($1::text, $2::text, $3::integer,"
	    " $4::integer, $5::integer, $6::integer)",
};

struct pgtable {
	char		 name[CONF_MAX_NAME];
	char		*conninfo;		/* the cache key */
	/* PQconnectdbParams(): the conninfo (expanded as "dbname") and
	 * the defaults it lacks */
	const char	*keywords[5];
	const char	*values[5];
	char		*queries[TQ_COUNT];
	uint64_t	 hash[TQ_COUNT];
	char		 stmt[TQ_COUNT][PG_STMT_NAME];
};

/* One thread's connection to one conninfo. */
struct pgconn {
	char		*conninfo;	/* NULL: a free slot */
	PGconn		*conn;		/* NULL: never connected */
	uint64_t	 prepared[PG_MAX_PREPARED];	/* statement hashes */
	size_t		 nprepared;
	int64_t		 used;		/* ms; for eviction */
	int64_t		 failed;	/* ms of the last failure; 0: none */
	int64_t		 logged;	/* ms of the last failure log */
	int64_t		 qlogged[TQ_ALIAS + 1];	/* ms: a lookup's error */
	int		 down;		/* a failure was logged */
	char		 error[256];	/* the last failure, scrubbed */
};

enum pg_state {
	PG_OK,		/* a result, maybe an SQL error */
	PG_CONNFAIL,	/* the connection broke: reset and retry */
	PG_TIMEOUT,	/* no answer in time: give up */
};

static _Thread_local struct pgconn	 pg_conns[PG_MAX_CONNS];

static int64_t
pg_now(void)
{
	struct timespec	 ts;
	int64_t		 ms;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return ms > 0 ? ms : 1;		/* 0 means "never" */
}

static uint64_t
pg_hash(const char *s)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
pg_seterr(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
pg_seterr(char *err, size_t size, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || size == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

/*
 * A libpq message as one line: white space and control bytes squeezed
 * into single spaces, and the connection's password, should it appear,
 * replaced by "***".
 */
static void
pg_scrub(const char *msg, const char *secret, char *buf, size_t size)
{
	const char	*piece;
	size_t		 n = 0, plen;
	size_t		 slen = secret != NULL ? strlen(secret) : 0;
	int		 space = 0;

	if (size == 0)
		return;
	while (*msg != '\0') {
		if (slen > 0 && strncmp(msg, secret, slen) == 0) {
			piece = "***";
			plen = 3;
			msg += slen;
		} else if ((unsigned char)*msg <= ' ' || *msg == 0x7f) {
			space = n > 0;
			msg++;
			continue;
		} else {
			piece = msg++;
			plen = 1;
		}
		if (n + (size_t)space + plen >= size)
			break;
		if (space)
			buf[n++] = ' ';
		space = 0;
		memcpy(buf + n, piece, plen);
		n += plen;
	}
	buf[n] = '\0';
}

static void
pg_conn_error(struct pgconn *c, const char *why)
{
	char	 msg[sizeof(c->error)];

	if (c->conn == NULL) {
		(void)osms_strlcpy(c->error, why, sizeof(c->error));
		return;
	}
	pg_scrub(PQerrorMessage(c->conn), PQpass(c->conn), msg, sizeof(msg));
	if (msg[0] == '\0')
		(void)osms_strlcpy(c->error, why, sizeof(c->error));
	else
		(void)osms_strlcpy(c->error, msg, sizeof(c->error));
}

static void
pg_conn_close(struct pgconn *c)
{
	if (c->conn != NULL)
		PQfinish(c->conn);
	if (c->conninfo != NULL) {
		explicit_wipe(c->conninfo, strlen(c->conninfo));
		free(c->conninfo);
	}
	memset(c, 0, sizeof(*c));
}

/* This thread's slot for t's conninfo, made if need be; not connected. */
static struct pgconn *
pg_conn_get(const struct pgtable *t, int64_t now)
{
	struct pgconn	*c, *found = NULL, *slot = NULL, *lru = NULL;
	size_t		 i;

	for (i = 0; i < PG_MAX_CONNS; i++) {
		c = &pg_conns[i];
		if (c->conninfo == NULL) {
			if (slot == NULL)
				slot = c;
			continue;
		}
		if (found == NULL && strcmp(c->conninfo, t->conninfo) == 0) {
			found = c;
			continue;
		}
		/* A database of a table since reloaded away, likely. */
		if (now - c->used > PG_IDLE) {
			pg_conn_close(c);
			if (slot == NULL)
				slot = c;
			continue;
		}
		if (lru == NULL || c->used < lru->used)
			lru = c;
	}
	if (found != NULL) {
		found->used = now;
		return found;
	}
	if (slot == NULL) {
		pg_conn_close(lru);
		slot = lru;
	}
	slot->conninfo = xstrdup(t->conninfo);
	slot->used = now;
	return slot;
}

/* Wait until the command sent has its whole answer. */
static enum pg_state
pg_wait(PGconn *conn, int64_t deadline)
{
	struct pollfd	 pfd;
	int64_t		 left;
	int		 n;

	while (PQisBusy(conn)) {
		if ((left = deadline - pg_now()) <= 0)
			return PG_TIMEOUT;
		if ((pfd.fd = PQsocket(conn)) == -1)
			return PG_CONNFAIL;
		pfd.events = POLLIN;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)left);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return PG_CONNFAIL;
		}
		if (n == 1 && !PQconsumeInput(conn))
			return PG_CONNFAIL;
	}
	return PG_OK;
}

/*
 * The result of the command sent: its first result, or its first error,
 * read to the end. NULL with *st set if the connection broke or the
 * deadline passed.
 */
static PGresult *
pg_collect(PGconn *conn, int64_t deadline, enum pg_state *st)
{
	PGresult	*res = NULL, *r;

	for (;;) {
		if ((*st = pg_wait(conn, deadline)) != PG_OK) {
			PQclear(res);
			return NULL;
		}
		if ((r = PQgetResult(conn)) == NULL)
			break;
		if (res == NULL)
			res = r;
		else if (PQresultStatus(r) == PGRES_FATAL_ERROR &&
		    PQresultStatus(res) != PGRES_FATAL_ERROR) {
			PQclear(res);
			res = r;
		} else
			PQclear(r);
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		PQclear(res);
		*st = PG_CONNFAIL;
		return NULL;
	}
	if (res == NULL)
		*st = PG_CONNFAIL;
	return res;
}

static int
pg_sqlstate_is(const PGresult *res, const char *state)
{
	const char	*s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return s != NULL && strcmp(s, state) == 0;
}

/* A fixed command: 0 if it succeeded. */
static int
pg_command(PGconn *conn, const char *sql, int64_t deadline,
    enum pg_state *st)
{
	PGresult	*res;
	int		 ok;

	if (!PQsendQuery(conn, sql)) {
		*st = PG_CONNFAIL;
		return -1;
	}
	if ((res = pg_collect(conn, deadline, st)) == NULL)
		return -1;
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok)
		*st = PG_CONNFAIL;
	return ok ? 0 : -1;
}

/* Connect, or reset a connection there was: 0 if it is ready. */
static int
pg_connect(struct pgconn *c, const struct pgtable *t, int64_t deadline,
    enum pg_state *st)
{
	c->nprepared = 0;
	*st = PG_CONNFAIL;
	if (c->conn == NULL)
		c->conn = PQconnectdbParams(t->keywords, t->values, 1);
	else
		PQreset(c->conn);
	if (c->conn == NULL) {
		pg_conn_error(c, "out of memory");
		return -1;
	}
	if (PQstatus(c->conn) != CONNECTION_OK) {
		pg_conn_error(c, "cannot connect");
		return -1;
	}
	if (pg_command(c->conn, PG_STATEMENT_TIMEOUT, deadline, st) == -1) {
		pg_conn_error(c, "cannot set statement_timeout");
		return -1;
	}
	return 0;
}

/* Prepare query q if this connection has not, then run it. */
static PGresult *
pg_run(struct pgconn *c, const struct pgtable *t, enum table_query q,
    const char *const *params, int nparams, int64_t deadline,
    enum pg_state *st)
{
	PGresult	*res;
	size_t		 i;

	for (i = 0; i < c->nprepared; i++)
		if (c->prepared[i] == t->hash[q])
			break;
	if (i == c->nprepared) {
		if (c->nprepared == PG_MAX_PREPARED) {
			if (pg_command(c->conn, "DEALLOCATE ALL", deadline,
			    st) == -1)
				return NULL;
			c->nprepared = 0;
		}
		if (!PQsendPrepare(c->conn, t->stmt[q], t->queries[q], 0,
		    NULL)) {
			*st = PG_CONNFAIL;
			return NULL;
		}
		if ((res = pg_collect(c->conn, deadline, st)) == NULL)
			return NULL;
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    !pg_sqlstate_is(res, PG_DUPLICATE_PSTATEMENT))
			return res;	/* the SQL is wrong */
		PQclear(res);
		c->prepared[c->nprepared++] = t->hash[q];
	}
	if (!PQsendQueryPrepared(c->conn, t->stmt[q], nparams, params, NULL,
	    NULL, 0)) {
		*st = PG_CONNFAIL;
		return NULL;
	}
	if ((res = pg_collect(c->conn, deadline, st)) == NULL)
		return NULL;
	if (pg_sqlstate_is(res, PG_UNDEFINED_PSTATEMENT)) {
		/* The session was reset under us (a pooler?): start over. */
		PQclear(res);
		*st = PG_CONNFAIL;
		return NULL;
	}
	return res;
}

/*
 * Run query q on this thread's connection, connecting, or resetting a
 * broken connection once, as needed. The result (maybe an SQL error), or
 * NULL if the database cannot be reached: then err says why.
 */
static PGresult *
pg_query(struct pgtable *t, enum table_query q, const char *const *params,
    int nparams, struct pgconn **cp, char *err, size_t errsize)
{
	struct pgconn	*c;
	PGresult	*res = NULL;
	enum pg_state	 st = PG_CONNFAIL;
	int64_t		 now = pg_now(), deadline = now + PG_QUERY_TIMEOUT;
	int		 reset = 0;

	*cp = c = pg_conn_get(t, now);
	if (c->failed != 0 && now - c->failed < PG_HOLDOFF) {
		pg_seterr(err, errsize, "table %s: database unreachable: %s",
		    t->name, c->error);
		return NULL;
	}
	if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK) {
		reset = 1;
		if (pg_connect(c, t, deadline, &st) == -1)
			goto fail;
	}
	res = pg_run(c, t, q, params, nparams, deadline, &st);
	if (res == NULL && st == PG_CONNFAIL && !reset) {
		if (pg_connect(c, t, deadline, &st) == -1)
			goto fail;
		res = pg_run(c, t, q, params, nparams, deadline, &st);
	}
	if (res == NULL)
		goto fail;
	c->failed = 0;
	if (c->down) {
		log_info("table %s: database reachable again", t->name);
		c->down = 0;
	}
	return res;

 fail:
	if (st == PG_TIMEOUT) {
		/* An answer may still come: this connection is done. */
		(void)osms_snprintf(c->error, sizeof(c->error),
		    "no answer in %d ms", PG_QUERY_TIMEOUT);
		PQfinish(c->conn);
		c->conn = NULL;
		c->nprepared = 0;
	} else
		pg_conn_error(c, "connection lost");
	now = pg_now();
	c->failed = now;
	if (!c->down || now - c->logged >= PG_LOG_INTERVAL) {
		log_warnx("table %s: database unreachable: %s", t->name,
		    c->error);
		c->logged = now;
		c->down = 1;
	}
	pg_seterr(err, errsize, "table %s: database unreachable: %s",
	    t->name, c->error);
	return NULL;
}

/* The primary message of an SQL error, one line. */
static void
pg_result_error(const PGresult *res, char *buf, size_t size)
{
	const char	*msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (msg == NULL)
		msg = PQresStatus(PQresultStatus(res));
	pg_scrub(msg, NULL, buf, size);
}

/* A value that is one word of a value text. */
static int
pg_word_valid(const char *v)
{
	return !str_has_ctl(v) && utf8_valid(v) && strchr(v, ' ') == NULL;
}

/* The text of column col of row 0, or NULL if absent or NULL. */
static const char *
pg_field(const PGresult *res, const char *col)
{
	int	 n;

	if ((n = PQfnumber(res, col)) == -1 || PQgetisnull(res, 0, n))
		return NULL;
	return PQgetvalue(res, 0, n);
}

static int
pg_append(char *buf, size_t size, const char *a, const char *b)
{
	if (osms_strlcat(buf, a, size) >= size ||
	    osms_strlcat(buf, b, size) >= size)
		return -1;
	return 0;
}

/* A boolean column: 1, 0, or -1 if it is not one. */
static int
pg_bool(const char *v)
{
	if (strcmp(v, "t") == 0 || strcasecmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		return 1;
	if (strcmp(v, "f") == 0 || strcasecmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0)
		return 0;
	return -1;
}

/* The user's value text; why set if a column is refused. */
static enum table_found
pg_user_value(const PGresult *res, char *buf, size_t size,
    const char **col, const char **why)
{
	static const char *const numbers[] = { "quota", "quota_messages" };
	static const char *const services[] = { "smtp", "imap", "pop3" };
	const char	*v, *errstr;
	char		 list[32] = "";
	size_t		 i;
	int		 any = 0, b;

	*why = "does not fit";
	*col = "password";
	if ((v = pg_field(res, "password")) == NULL || *v == '\0')
		v = "-";
	if (!pg_word_valid(v))
		goto bad;
	if (osms_strlcpy(buf, v, size) >= size)
		goto toolong;

	*col = "maildir";
	if ((v = pg_field(res, "maildir")) != NULL && *v != '\0') {
		if (!pg_word_valid(v) || v[0] == '/' ||
		    strstr(v, "..") != NULL)
			goto bad;
		if (pg_append(buf, size, " maildir=", v) == -1)
			goto toolong;
	}
	for (i = 0; i < nitems(numbers); i++) {
		*col = numbers[i];
		if ((v = pg_field(res, numbers[i])) == NULL)
			continue;
		if (v[0] < '0' || v[0] > '9')	/* no sign, no space */
			goto bad;
		(void)str_to_num(v, 0, INT64_MAX, &errstr);
		if (errstr != NULL)
			goto bad;
		if (strspn(v, "0") == strlen(v))
			continue;	/* no limit */
		if (pg_append(buf, size, " ", numbers[i]) == -1 ||
		    pg_append(buf, size, "=", v) == -1)
			goto toolong;
	}
	*col = "scram";
	if ((v = pg_field(res, "scram")) != NULL && *v != '\0') {
		if (!pg_word_valid(v))
			goto bad;
		if (pg_append(buf, size, " scram=", v) == -1)
			goto toolong;
	}
	for (i = 0; i < nitems(services); i++) {
		*col = services[i];
		if (PQfnumber(res, services[i]) != -1)
			any = 1;
		b = 1;		/* absent or NULL: no restriction */
		if ((v = pg_field(res, services[i])) != NULL &&
		    (b = pg_bool(v)) == -1)
			goto bad;
		if (b == 1)
			(void)pg_append(list, sizeof(list), list[0] ? "," : "",
			    services[i]);
	}
	if (any && pg_append(buf, size, " services=",
	    list[0] ? list : "none") == -1)
		goto toolong;
	return TABLE_FOUND;

 bad:
	*why = "is malformed";
	return TABLE_TEMPFAIL;
 toolong:
	*why = "does not fit";
	return TABLE_TEMPFAIL;
}

/* Every row's first column, joined with ", ". */
static enum table_found
pg_alias_value(const PGresult *res, char *buf, size_t size,
    const char **why)
{
	const char	*v;
	int		 i, n = PQntuples(res);

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (PQgetisnull(res, i, 0))
			continue;
		v = PQgetvalue(res, i, 0);
		if (*v == '\0')
			continue;
		if (str_has_ctl(v) || !utf8_valid(v)) {
			*why = "is malformed";
			return TABLE_TEMPFAIL;
		}
		if (pg_append(buf, size, buf[0] ? ", " : "", v) == -1) {
			*why = "does not fit";
			return TABLE_TEMPFAIL;
		}
	}
	return buf[0] != '\0' ? TABLE_FOUND : TABLE_NOTFOUND;
}

/* "" for a local domain, else the column "target". */
static enum table_found
pg_domain_value(const PGresult *res, char *buf, size_t size,
    const char **why)
{
	const char	*v;

	if ((v = pg_field(res, "target")) == NULL)
		v = "";
	if (!pg_word_valid(v)) {
		*why = "is malformed";
		return TABLE_TEMPFAIL;
	}
	if (osms_strlcpy(buf, v, size) >= size) {
		*why = "does not fit";
		return TABLE_TEMPFAIL;
	}
	return TABLE_FOUND;
}

/* The gateway's actions: the column "policy", else the first. */
static enum table_found
pg_policy_value(const PGresult *res, char *buf, size_t size,
    const char **why)
{
	const char	*v;

	if ((v = pg_field(res, "policy")) == NULL &&
	    (v = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0)) ==
	    NULL)
		return TABLE_NOTFOUND;
	if (str_has_ctl(v) || !utf8_valid(v)) {
		*why = "is malformed";
		return TABLE_TEMPFAIL;
	}
	if (osms_strlcpy(buf, v, size) >= size) {
		*why = "does not fit";
		return TABLE_TEMPFAIL;
	}
	return TABLE_FOUND;
}

struct pgtable *
pgtable_new(const char *name, const char *conninfo,
    char queries[TQ_COUNT][CONF_MAX_QUERY])
{
	struct pgtable		*t;
	PQconninfoOption	*opts, *o;
	char			*errmsg = NULL;
	int			 timeout = 0, encoding = 0, n = 0, i;

	/* Not the parser's message: it may quote the password. */
	if ((opts = PQconninfoParse(conninfo, &errmsg)) == NULL) {
		log_warnx("table %s: the connection string does not parse",
		    name);
		if (errmsg != NULL) {
			explicit_wipe(errmsg, strlen(errmsg));
			PQfreemem(errmsg);
		}
		return NULL;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "connect_timeout") == 0)
			timeout = 1;
		else if (strcmp(o->keyword, "client_encoding") == 0)
			encoding = 1;
		explicit_wipe(o->val, strlen(o->val));
	}
	PQconninfoFree(opts);
	if (!PQisthreadsafe())
		log_warnx("table %s: libpq is not thread-safe", name);

	t = xcalloc(1, sizeof(*t));
	(void)osms_strlcpy(t->name, name, sizeof(t->name));
	t->conninfo = xstrdup(conninfo);
	t->keywords[n] = "dbname";		/* expanded: must be first */
	t->values[n++] = t->conninfo;
	t->keywords[n] = "fallback_application_name";
	t->values[n++] = "osms-authd";
	if (!timeout) {
		t->keywords[n] = "connect_timeout";
		t->values[n++] = PG_CONNECT_TIMEOUT;
	}
	if (!encoding) {
		t->keywords[n] = "client_encoding";
		t->values[n++] = "UTF8";
	}
	t->keywords[n] = NULL;
	t->values[n] = NULL;

	for (i = 0; i < TQ_COUNT; i++) {
		if (queries != NULL && queries[i][0] != '\0')
			t->queries[i] = xstrdup(queries[i]);
		else
			t->queries[i] = xstrdup(pg_default_queries[i]);
		t->hash[i] = pg_hash(t->queries[i]);
		(void)osms_snprintf(t->stmt[i], sizeof(t->stmt[i]),
		    "osms_%016llx", (unsigned long long)t->hash[i]);
	}
	return t;
}

void
pgtable_free(struct pgtable *t)
{
	int	 i;

	if (t == NULL)
		return;
	for (i = 0; i < TQ_COUNT; i++)
		free(t->queries[i]);
	explicit_wipe(t->conninfo, strlen(t->conninfo));
	free(t->conninfo);
	free(t);
}

enum table_found
pgtable_get(struct pgtable *t, enum table_query q, const char *key,
    char *buf, size_t size)
{
	struct pgconn		*c;
	PGresult		*res;
	enum table_found	 f;
	const char		*params[1], *col = NULL, *why = NULL;
	char			 lkey[PG_MAX_KEY], msg[256], *p;
	int64_t			 now;

	if (size == 0)
		return TABLE_TEMPFAIL;
	buf[0] = '\0';
	if (t == NULL)		/* pgtable_new() refused it, and logged */
		return TABLE_TEMPFAIL;
	if (q != TQ_DOMAIN && q != TQ_USER && q != TQ_ALIAS &&
	    q != TQ_CRYPT_POLICY) {
		log_warnx("table %s: query %d is not a lookup", t->name,
		    (int)q);
		return TABLE_TEMPFAIL;
	}
	/* What no address can be is no address here. */
	if (osms_strlcpy(lkey, key, sizeof(lkey)) >= sizeof(lkey) ||
	    lkey[0] == '\0' || str_has_ctl(lkey) || !utf8_valid(lkey))
		return TABLE_NOTFOUND;
	for (p = lkey; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	params[0] = lkey;

	if ((res = pg_query(t, q, params, 1, &c, NULL, 0)) == NULL)
		return TABLE_TEMPFAIL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		now = pg_now();
		if (now - c->qlogged[q] >= PG_LOG_INTERVAL) {
			if (PQresultStatus(res) == PGRES_COMMAND_OK)
				(void)osms_strlcpy(msg, "returns no rows",
				    sizeof(msg));
			else
				pg_result_error(res, msg, sizeof(msg));
			log_warnx("table %s: %s query failed: %s", t->name,
			    conf_query_name(q), msg);
			c->qlogged[q] = now;
		}
		PQclear(res);
		return TABLE_TEMPFAIL;
	}

	if (PQntuples(res) == 0)
		f = TABLE_NOTFOUND;
	else if (PQnfields(res) == 0) {
		why = "has no column";
		f = TABLE_TEMPFAIL;
	} else if (q == TQ_ALIAS)
		f = pg_alias_value(res, buf, size, &why);
	else if (PQntuples(res) > 1) {
		why = "has several rows (ambiguous)";
		f = TABLE_TEMPFAIL;
	} else if (q == TQ_DOMAIN)
		f = pg_domain_value(res, buf, size, &why);
	else if (q == TQ_CRYPT_POLICY)
		f = pg_policy_value(res, buf, size, &why);
	else if (PQfnumber(res, "password") == -1) {
		why = "has no column password";
		f = TABLE_TEMPFAIL;
	} else
		f = pg_user_value(res, buf, size, &col, &why);
	PQclear(res);

	if (f == TABLE_TEMPFAIL && col != NULL)
		log_warnx("table %s: %s query returned a bad value for %s:"
		    " %s %s", t->name, conf_query_name(q), lkey, col, why);
	else if (f == TABLE_TEMPFAIL)
		log_warnx("table %s: %s query returned a bad value for %s:"
		    " the result %s", t->name, conf_query_name(q), lkey, why);
	if (f != TABLE_FOUND)
		explicit_wipe(buf, size);
	return f;
}

/* Row i as its columns joined with tabs, or NULL if a value cannot be. */
static char *
pg_row(const PGresult *res, int i)
{
	char	*line;
	size_t	 len = 0, n;
	int	 j, nf = PQnfields(res);

	for (j = 0; j < nf; j++) {
		if (str_has_ctl(PQgetvalue(res, i, j)))
			return NULL;
		len += (size_t)PQgetlength(res, i, j) + 1;
		if (len > PG_MAX_ROW)
			return NULL;
	}
	line = xmalloc(len + 1);
	line[0] = '\0';
	for (j = 0, n = 0; j < nf; j++) {
		if (j > 0)
			line[n++] = '\t';
		/* NULL reads as "" */
		memcpy(line + n, PQgetvalue(res, i, j),
		    (size_t)PQgetlength(res, i, j));
		n += (size_t)PQgetlength(res, i, j);
	}
	line[n] = '\0';
	return line;
}

long
pgtable_exec(struct pgtable *t, enum table_query q,
    const char *const *params, int nparams,
    void (*row)(void *, const char *), void *arg, char *err,
    size_t errsize)
{
	struct pgconn	*c;
	PGresult	*res;
	const char	*errstr;
	char		 msg[256], **lines;
	long		 n = -1;
	int		 i, nt;

	if (err != NULL && errsize > 0)
		err[0] = '\0';
	if (t == NULL) {
		pg_seterr(err, errsize, "the table's conninfo does not parse");
		return -1;
	}
	if (q < TQ_DOMAIN_ADD || q >= TQ_COUNT) {
		pg_seterr(err, errsize, "table %s: query %d is not an admin"
		    " query", t->name, (int)q);
		return -1;
	}
	if (nparams < 0 || nparams > PG_MAX_PARAMS ||
	    (nparams > 0 && params == NULL)) {
		pg_seterr(err, errsize, "table %s: %s: bad parameter count",
		    t->name, conf_query_name(q));
		return -1;
	}
	for (i = 0; i < nparams; i++)
		if (params[i] == NULL || str_has_ctl(params[i]) ||
		    !utf8_valid(params[i])) {
			pg_seterr(err, errsize, "table %s: %s: parameter %d"
			    " is missing, or holds a control byte or bad"
			    " UTF-8", t->name, conf_query_name(q), i + 1);
			return -1;
		}

	if ((res = pg_query(t, q, params, nparams, &c, err, errsize)) ==
	    NULL)
		return -1;
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
		if (*PQcmdTuples(res) == '\0')
			n = 0;
		else {
			n = (long)str_to_num(PQcmdTuples(res), 0, LONG_MAX,
			    &errstr);
			if (errstr != NULL)
				n = 0;
		}
		break;
	case PGRES_TUPLES_OK:
		/* Check every row before the first is handed out. */
		nt = PQntuples(res);
		lines = xcalloc((size_t)nt + 1, sizeof(*lines));
		for (i = 0; i < nt; i++)
			if ((lines[i] = pg_row(res, i)) == NULL)
				break;
		if (i < nt)
			pg_seterr(err, errsize, "table %s: %s: row %d holds"
			    " a control byte or is too long", t->name,
			    conf_query_name(q), i + 1);
		else {
			for (i = 0; i < nt; i++)
				if (row != NULL)
					row(arg, lines[i]);
			n = nt;
		}
		for (i = 0; i < nt; i++)
			free(lines[i]);
		free(lines);
		break;
	default:
		pg_result_error(res, msg, sizeof(msg));
		pg_seterr(err, errsize, "table %s: %s query failed: %s",
		    t->name, conf_query_name(q), msg);
		log_debug("table %s: %s query failed: %s", t->name,
		    conf_query_name(q), msg);
		break;
	}
	PQclear(res);
	return n;
}

void
pgtable_thread_cleanup(void)
{
	size_t	 i;

	for (i = 0; i < PG_MAX_CONNS; i++)
		pg_conn_close(&pg_conns[i]);
}
