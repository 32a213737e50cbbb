/*
 * checkd's greylist in the directory's database: when the directory is
 * in PostgreSQL, checkd keeps no file of its own but asks here, as
 * authd holds the database's password. The table's greylist-check query
 * (osms's greylist_check(), sql/migrations/004-greylist.sql) decides in
 * one statement; this only carries the question and the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "authd.h"
#include "greylist.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "table_pg.h"
#include "util.h"
#include "workq.h"

#define GREY_DB_MAX_PENDING	10000

struct grey_db_job {
	struct channel		*ch;
	uint64_t		 reqid;
	enum osms_role		 from;
	struct directory	*dir;
	struct table		*table;
	char			 tkey[40], ckey[40];
	char			 args[4][16];	/* delay, retry, lifetime, awl */
	long			 wait;		/* -1: no answer */
	char			 err[256];
};

static unsigned		 pending;

/* A key as checkd makes them: a kind letter and 32 hex digits. */
static int
key_ok(const char *k, char kind)
{
	return k[0] == kind && strlen(k) == 33 &&
	    strspn(k + 1, "0123456789abcdef") == 32;
}

static void
wait_row(void *arg, const char *line)
{
	struct grey_db_job	*j = arg;
	const char		*errstr;
	long long		 v;

	v = str_to_num(line, 0, 86400, &errstr);
	j->wait = errstr == NULL ? (long)v : -1;
}

static void
grey_db_work(void *arg)
{
	struct grey_db_job	*j = arg;
	const char		*params[6] = { j->tkey, j->ckey, j->args[0],
				    j->args[1], j->args[2], j->args[3] };

	j->wait = -1;
	if (pgtable_exec(j->table->pg, TQ_GREY_CHECK, params, 6, wait_row, j,
	    j->err, sizeof(j->err)) != 1)
		j->wait = -1;
}

static void
grey_db_done(void *arg)
{
	struct grey_db_job	*j = arg;
	struct channel		*ch = proc_peer(j->from);
	struct msg		 m;

	pending--;
	if (j->wait < 0)
		log_warnx("authd: greylist: no answer from table %s%s%s",
		    j->table->name, j->err[0] ? ": " : "", j->err);
	if (ch != NULL) {
		msg_init(&m, IMSG_GREY_DB_RESULT, j->reqid);
		msg_add_u32(&m, j->wait >= 0);
		msg_add_u32(&m, j->wait >= 0 ? (uint32_t)j->wait : 0);
		(void)channel_send(ch, &m);
	}
	dir_unref(j->dir);
	free(j);
}

void
authd_greylist(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct grey_db_job	*j = xcalloc(1, sizeof(*j));
	struct directory	*dir = authd_directory();
	struct msg		 m;
	uint32_t		 v[4];
	int			 i;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, j->tkey, sizeof(j->tkey));
	(void)msg_get_str(&r, j->ckey, sizeof(j->ckey));
	for (i = 0; i < 4; i++)
		(void)msg_get_u32(&r, &v[i]);
	if (msg_end(&r) == -1 || !key_ok(j->tkey, 'T') ||
	    !key_ok(j->ckey, 'C')) {
		free(j);
		channel_bad_message(ch, imsg, "bad greylist request");
		return;
	}
	j->reqid = imsg->hdr.id;
	j->from = ch->remote;
	for (i = 0; i < 4; i++)
		(void)snprintf(j->args[i], sizeof(j->args[i]), "%u", v[i]);
	if ((j->table = audit_table(dir)) == NULL ||
	    pending >= GREY_DB_MAX_PENDING) {
		/* No database now: checkd lets the recipient pass. */
		msg_init(&m, IMSG_GREY_DB_RESULT, j->reqid);
		msg_add_u32(&m, 0);
		msg_add_u32(&m, 0);
		(void)channel_send(ch, &m);
		free(j);
		return;
	}
	j->dir = dir;
	dir_ref(dir);
	pending++;
	workq_push(grey_db_work, grey_db_done, j);
}
