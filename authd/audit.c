/*
 * The gateway's audit trail in the directory's database.
 *
 * cryptod appends each decision to audit.log in its store and sends it
 * here as well (IMSG_AUTH_AUDIT): authd holds the database password,
 * cryptod none. The rows go to the directory's PostgreSQL table (the one
 * that lists its domains, else the first users table in PostgreSQL) by
 * its audit-add query; osms's schema refuses any change to them once
 * written (sql/migrations/002-crypt-audit.sql). A row the database does
 * not take is logged; audit.log has it still.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "authd.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "table_pg.h"
#include "util.h"
#include "workq.h"

#define AUDIT_MAX_PENDING	10000	/* rows on their way to the database */
#define AUDIT_MAX_DECISION	1024
#define AUDIT_LOG_INTERVAL	10	/* seconds between two failure logs */

struct audit_job {
	struct directory	*dir;
	struct table		*table;
	char			 at[64];
	char			 message[64];
	char			 decision[AUDIT_MAX_DECISION];
	char			 err[256];	/* "" if the row is in */
};

static unsigned		 pending, dropped, failed;
static time_t		 last_log;

struct table *
audit_table(struct directory *dir)
{
	struct domain	*d;
	struct table	*first = NULL;

	TAILQ_FOREACH(d, &dir->domains, entry) {
		if (d->users == NULL || d->users->backend != TABLE_POSTGRES)
			continue;
		if (strcmp(d->name, "*") == 0)
			return d->users;
		if (first == NULL)
			first = d->users;
	}
	return first;
}

static void
audit_work(void *arg)
{
	struct audit_job	*j = arg;
	const char		*params[3] = { j->at, j->message, j->decision };
	char			 err[256];

	if (pgtable_exec(j->table->pg, TQ_AUDIT_ADD, params, 3, NULL, NULL,
	    err, sizeof(err)) != 1)
		(void)snprintf(j->err, sizeof(j->err), "%s", err[0] ? err :
		    "no row added");
}

static void
audit_done(void *arg)
{
	struct audit_job	*j = arg;
	time_t			 now = time(NULL);

	/* A database without the table would fail every row: a line now
	 * and then, with the count. */
	if (j->err[0] != '\0') {
		failed++;
		if (now - last_log >= AUDIT_LOG_INTERVAL) {
			log_warnx("authd: audit: %s %s: not in table %s: %s "
			    "(%u rows since the last such line, kept only in "
			    "audit.log)", j->at, j->message, j->table->name,
			    j->err, failed);
			last_log = now;
			failed = 0;
		}
	}
	dir_unref(j->dir);
	free(j);
	pending--;
}

void
authd_audit(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct audit_job	*j = xcalloc(1, sizeof(*j));
	struct directory	*dir = authd_directory();

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, j->at, sizeof(j->at));
	(void)msg_get_str(&r, j->message, sizeof(j->message));
	(void)msg_get_str(&r, j->decision, sizeof(j->decision));
	if (msg_end(&r) == -1) {
		free(j);
		channel_bad_message(ch, imsg, "bad audit line");
		return;
	}
	if ((j->table = audit_table(dir)) == NULL) {
		free(j);	/* no database: audit.log is the trail */
		return;
	}
	if (pending >= AUDIT_MAX_PENDING) {
		/* The database is far behind: audit.log keeps the line. */
		if (dropped++ % 1000 == 0)
			log_warnx("authd: audit: the database is %u rows "
			    "behind; %u rows kept only in audit.log", pending,
			    dropped);
		free(j);
		return;
	}
	j->dir = dir;
	dir_ref(dir);
	pending++;
	workq_push(audit_work, audit_done, j);
}
