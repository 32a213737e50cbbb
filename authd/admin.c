/*
 * osmsctl domain, user and alias: directory changes through authd, on
 * either backend.
 *
 * A PostgreSQL table is changed with its admin queries, on a worker
 * thread. A file table belongs to root: authd works out the new line and
 * the parent writes it (IMSG_PARENT_TABLE_EDIT), then sends the tables
 * again, so the change is live before osmsctl hears it is done.
 * Passwords are hashed here (argon2id, plus a SCRAM secret); they come
 * from osmsctl's standard input, never its command line.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "audit.h"
#include "authd.h"
#include "dir.h"
#include "gateway.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "pwhash.h"
#include "table_pg.h"
#include "util.h"
#include "workq.h"

#define ADMIN_MAX_ROWS		100000
#define ADMIN_MAX_ARG		1024

struct admin_job {
	uint64_t		 id;		/* control's client id */
	uint32_t		 op;
	char			 arg[3][ADMIN_MAX_ARG];
	struct directory	*dir;
	struct table		*table;		/* the table to change */
	int			 ok;
	char			 result[512];
	/* lines for osmsctl */
	char			**rows;
	size_t			 nrows;
	/* a file table's edit, made by the parent */
	uint32_t		 edit_op;
	char			 edit_key[ADMIN_MAX_ARG];
	char			 edit_value[TABLE_MAX_VALUE];
};

/* Edits wait for the parent one at a time: few, and rare. */
static struct admin_job	*editing;

static void
job_row(void *arg, const char *row)
{
	struct admin_job	*j = arg;

	if (j->nrows >= ADMIN_MAX_ROWS)
		return;
	j->rows = xreallocarray(j->rows, j->nrows + 1, sizeof(*j->rows));
	j->rows[j->nrows++] = xstrdup(row);
}

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* The domain part of an address, checked; NULL if it is no address. */
static const char *
split_address(char *address, struct mailaddr *a)
{
	const char	*errstr;

	lower(address);
	if (addr_parse_mailbox(address, ADDR_UTF8, a, &errstr) == -1 ||
	    addr_format(a, address, ADMIN_MAX_ARG) == -1)
		return NULL;
	return a->domain;
}

/* The first table that lists its domains in a database. */
static struct table *
domains_table(struct directory *dir)
{
	struct domain	*d;

	TAILQ_FOREACH(d, &dir->domains, entry)
		if (strcmp(d->name, "*") == 0 && d->users != NULL &&
		    d->users->backend == TABLE_POSTGRES)
			return d->users;
	return NULL;
}

/* Replace or add one attribute ("quota=") of a users table value. */
static void
value_set_attr(char *value, size_t size, const char *attr, const char *v)
{
	char	 out[TABLE_MAX_VALUE] = "", *w, *last = NULL;
	size_t	 alen = strlen(attr);

	for (w = strtok_r(value, " \t", &last); w != NULL;
	    w = strtok_r(NULL, " \t", &last)) {
		if (strncmp(w, attr, alen) == 0)
			continue;
		if (out[0])
			(void)osms_strlcat(out, " ", sizeof(out));
		(void)osms_strlcat(out, w, sizeof(out));
	}
	if (v != NULL && v[0] != '\0') {
		if (out[0])
			(void)osms_strlcat(out, " ", sizeof(out));
		(void)osms_strlcat(out, attr, sizeof(out));
		(void)osms_strlcat(out, v, sizeof(out));
	}
	(void)osms_strlcpy(value, out, size);
}

/* A new password's hash and SCRAM secret; -1 if it is refused. */
static int
make_secrets(struct admin_job *j, const char *password, char *hash,
    char *scram)
{
	size_t	 len = strlen(password);

	if (len == 0 || len > PWHASH_MAX_PASSWORD) {
		(void)osms_strlcpy(j->result, "the password is empty or too"
		    " long", sizeof(j->result));
		return -1;
	}
	if (pwhash_create(password, len, hash, PWHASH_MAX) == -1 ||
	    pwhash_scram(password, len, scram, PWHASH_MAX) == -1) {
		(void)osms_strlcpy(j->result, "cannot hash the password",
		    sizeof(j->result));
		return -1;
	}
	return 0;
}

static void
pg_exec(struct admin_job *j, enum table_query q, const char *const *params,
    int n)
{
	char	 err[256];
	long	 rc;

	rc = pgtable_exec(j->table->pg, q, params, n, job_row, j, err,
	    sizeof(err));
	if (rc == -1) {
		(void)osms_snprintf(j->result, sizeof(j->result), "%s", err);
		return;
	}
	/* Nothing changed: say so as a file table would. */
	if (rc == 0 && q != TQ_DOMAIN_LIST && q != TQ_USER_LIST &&
	    q != TQ_ALIAS_LIST && q != TQ_ALIAS_ADD && q != TQ_AUDIT_LIST) {
		(void)osms_strlcpy(j->result,
		    q == TQ_DOMAIN_DEL ? "no such domain" :
		    q == TQ_ALIAS_DEL ? "no such alias" :
		    q == TQ_DOMAIN_ADD || q == TQ_USER_ADD ? "nothing was added"
		    " (does it exist, or is the address not of its domain?)" :
		    "no such user", sizeof(j->result));
		return;
	}
	j->ok = 1;
	/* The audit trail reads as audit.log does: its lines alone. */
	if (q == TQ_AUDIT_LIST)
		j->result[0] = '\0';
	else
		(void)osms_snprintf(j->result, sizeof(j->result), "%ld %s",
		    rc, q == TQ_DOMAIN_LIST || q == TQ_USER_LIST ||
		    q == TQ_ALIAS_LIST ? "rows" : "changed");
}

/* The table holding a domain's users or aliases. */
static struct table *
table_for(struct admin_job *j, const char *domain, int aliases)
{
	struct domain		*d;
	char			 canon[ADDR_MAX_DOMAIN + 1];
	enum table_found	 f;

	f = dir_domain(j->dir, domain, &d, canon, sizeof(canon));
	if (f == TABLE_TEMPFAIL) {
		(void)osms_strlcpy(j->result, "the directory cannot answer"
		    " now", sizeof(j->result));
		return NULL;
	}
	if (f == TABLE_NOTFOUND) {
		(void)osms_snprintf(j->result, sizeof(j->result),
		    "%s is not a local domain", domain);
		return NULL;
	}
	if (strcasecmp(canon, domain) != 0) {
		/* Its users are the target's: a user here would never be
		 * found. */
		(void)osms_snprintf(j->result, sizeof(j->result),
		    "%s is an alias domain of %s: change %s instead", domain,
		    canon, canon);
		return NULL;
	}
	if ((aliases ? d->aliases : d->users) == NULL)
		(void)osms_snprintf(j->result, sizeof(j->result),
		    "domain %s has no %s table", domain,
		    aliases ? "aliases" : "users");
	return aliases ? d->aliases : d->users;
}

/* Every key of a file table in a domain ("" for all), as rows. */
static void
file_list(struct admin_job *j, struct table *t, const char *domain)
{
	char		**keys;
	size_t		 n, i, dlen = strlen(domain);
	char		 row[ADMIN_MAX_ARG + TABLE_MAX_VALUE];
	char		 value[TABLE_MAX_VALUE];

	keys = table_keys(t, &n);
	for (i = 0; i < n; i++) {
		size_t klen = strlen(keys[i]);

		if (dlen > 0 && (klen <= dlen || keys[i][klen - dlen - 1] !=
		    '@' || strcasecmp(keys[i] + klen - dlen, domain) != 0))
			continue;
		if (j->op == DIR_OP_ALIAS_LIST &&
		    table_lookup(t, keys[i], value, sizeof(value)) ==
		    TABLE_FOUND)
			(void)snprintf(row, sizeof(row), "%s\t%s", keys[i],
			    value);
		else
			(void)osms_strlcpy(row, keys[i], sizeof(row));
		job_row(j, row);
	}
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	j->ok = 1;
	(void)osms_snprintf(j->result, sizeof(j->result), "%zu rows",
	    j->nrows);
}

static void
admin_work(void *arg)
{
	struct admin_job	*j = arg;
	struct mailaddr		 a, target;
	struct table		*t;
	const char		*domain, *params[7];
	char			 hash[PWHASH_MAX], scram[PWHASH_MAX];
	char			 maildir[MAILDIR_MAX_PATH], quota[32];
	char			 value[TABLE_MAX_VALUE];
	enum table_found	 f;
	uint64_t		 q = 0;

	hash[0] = scram[0] = '\0';
	switch (j->op) {
	case DIR_OP_DOMAIN_ADD:
	case DIR_OP_DOMAIN_DEL:
		lower(j->arg[0]);
		if (!addr_domain_valid(j->arg[0], 1)) {
			(void)osms_strlcpy(j->result, "not a domain name",
			    sizeof(j->result));
			break;
		}
		/* FALLTHROUGH */
	case DIR_OP_DOMAIN_LIST:
		if ((j->table = domains_table(j->dir)) == NULL) {
			(void)osms_strlcpy(j->result, "no table lists its"
			    " domains (\"domains <table>\"); domains of file"
			    " tables are listed in osmsd.conf",
			    sizeof(j->result));
			break;
		}
		params[0] = j->arg[0];
		pg_exec(j, j->op == DIR_OP_DOMAIN_ADD ? TQ_DOMAIN_ADD :
		    j->op == DIR_OP_DOMAIN_DEL ? TQ_DOMAIN_DEL :
		    TQ_DOMAIN_LIST, params, j->op == DIR_OP_DOMAIN_LIST ? 0 :
		    1);
		break;
	case DIR_OP_USER_ADD:
	case DIR_OP_USER_PASSWD:
		if ((domain = split_address(j->arg[0], &a)) == NULL) {
			(void)osms_strlcpy(j->result, "not an address",
			    sizeof(j->result));
			break;
		}
		if ((t = j->table = table_for(j, domain, 0)) == NULL ||
		    make_secrets(j, j->arg[1], hash, scram) == -1)
			break;
		if (j->op == DIR_OP_USER_ADD && j->arg[2][0] != '\0') {
			const char *errstr;

			q = (uint64_t)str_to_num(j->arg[2], 0, INT64_MAX,
			    &errstr);
			if (errstr != NULL) {
				(void)osms_strlcpy(j->result, "the quota is"
				    " not a number of bytes",
				    sizeof(j->result));
				break;
			}
		}
		(void)osms_snprintf(maildir, sizeof(maildir), "%s/%s",
		    a.domain, a.local);
		(void)snprintf(quota, sizeof(quota), "%llu",
		    (unsigned long long)q);
		if (t->backend == TABLE_POSTGRES) {
			params[0] = j->arg[0];
			params[1] = hash;
			if (j->op == DIR_OP_USER_ADD) {
				params[2] = maildir;
				params[3] = quota;
				params[4] = scram;
				params[5] = a.local;
				params[6] = a.domain;
				pg_exec(j, TQ_USER_ADD, params, 7);
			} else {
				params[2] = scram;
				pg_exec(j, TQ_USER_PASSWORD, params, 3);
			}
			break;
		}
		f = table_lookup(t, j->arg[0], value, sizeof(value));
		if (j->op == DIR_OP_USER_ADD && f == TABLE_FOUND) {
			(void)osms_strlcpy(j->result, "the user exists",
			    sizeof(j->result));
			break;
		}
		if (j->op == DIR_OP_USER_PASSWD && f != TABLE_FOUND) {
			(void)osms_strlcpy(j->result, "no such user",
			    sizeof(j->result));
			break;
		}
		if (f != TABLE_FOUND)
			value[0] = '\0';
		else if (!userent_attribute(value))	/* the old hash */
			memmove(value, value + strcspn(value, " \t"),
			    strlen(value + strcspn(value, " \t")) + 1);
		value_set_attr(value, sizeof(value), "scram=", scram);
		if (q > 0)
			value_set_attr(value, sizeof(value), "quota=", quota);
		(void)osms_snprintf(j->edit_value, sizeof(j->edit_value),
		    "%s%s%s", hash, value[0] ? " " : "", value);
		(void)osms_strlcpy(j->edit_key, j->arg[0],
		    sizeof(j->edit_key));
		j->edit_op = TABLE_EDIT_SET;
		break;
	case DIR_OP_USER_DEL:
	case DIR_OP_USER_QUOTA:
		if ((domain = split_address(j->arg[0], &a)) == NULL) {
			(void)osms_strlcpy(j->result, "not an address",
			    sizeof(j->result));
			break;
		}
		if ((t = j->table = table_for(j, domain, 0)) == NULL)
			break;
		if (t->backend == TABLE_POSTGRES) {
			params[0] = j->arg[0];
			params[1] = j->arg[1];
			pg_exec(j, j->op == DIR_OP_USER_DEL ? TQ_USER_DEL :
			    TQ_USER_QUOTA, params,
			    j->op == DIR_OP_USER_DEL ? 1 : 2);
			break;
		}
		if (table_lookup(t, j->arg[0], value, sizeof(value)) !=
		    TABLE_FOUND) {
			(void)osms_strlcpy(j->result, "no such user",
			    sizeof(j->result));
			break;
		}
		(void)osms_strlcpy(j->edit_key, j->arg[0],
		    sizeof(j->edit_key));
		j->edit_op = j->op == DIR_OP_USER_DEL ? TABLE_EDIT_DEL :
		    TABLE_EDIT_SET;
		value_set_attr(value, sizeof(value), "quota=",
		    strcmp(j->arg[1], "0") == 0 ? "" : j->arg[1]);
		(void)osms_strlcpy(j->edit_value, value,
		    sizeof(j->edit_value));
		break;
	case DIR_OP_USER_LIST:
	case DIR_OP_ALIAS_LIST:
		lower(j->arg[0]);
		if (j->arg[0][0] == '\0') {
			/* every table of every configured domain */
			struct domain	*d;

			TAILQ_FOREACH(d, &j->dir->domains, entry) {
				t = j->op == DIR_OP_USER_LIST ? d->users :
				    d->aliases;
				if (t == NULL)
					continue;
				j->table = t;
				if (t->backend == TABLE_POSTGRES) {
					params[0] = "";
					pg_exec(j, j->op == DIR_OP_USER_LIST ?
					    TQ_USER_LIST : TQ_ALIAS_LIST,
					    params, 1);
				} else
					file_list(j, t, d->name);
				if (!j->ok)
					break;
			}
			if (j->table == NULL) {
				j->ok = 1;
				(void)osms_strlcpy(j->result, "0 rows",
				    sizeof(j->result));
			}
			break;
		}
		if ((t = j->table = table_for(j, j->arg[0],
		    j->op == DIR_OP_ALIAS_LIST)) == NULL)
			break;
		if (t->backend == TABLE_POSTGRES) {
			params[0] = j->arg[0];
			pg_exec(j, j->op == DIR_OP_USER_LIST ? TQ_USER_LIST :
			    TQ_ALIAS_LIST, params, 1);
		} else
			file_list(j, t, j->arg[0]);
		break;
	case DIR_OP_ALIAS_ADD:
	case DIR_OP_ALIAS_DEL:
		if ((domain = split_address(j->arg[0], &a)) == NULL &&
		    j->arg[0][0] != '@') {
			(void)osms_strlcpy(j->result, "not an address",
			    sizeof(j->result));
			break;
		}
		if (j->arg[0][0] == '@') {
			/* a catch-all */
			lower(j->arg[0]);
			domain = j->arg[0] + 1;
			if (!addr_domain_valid(domain, 1)) {
				(void)osms_strlcpy(j->result, "not a domain"
				    " name", sizeof(j->result));
				break;
			}
		}
		if (j->arg[1][0] != '\0' && split_address(j->arg[1],
		    &target) == NULL) {
			(void)osms_strlcpy(j->result, "the target is not an"
			    " address", sizeof(j->result));
			break;
		}
		if ((t = j->table = table_for(j, domain, 1)) == NULL)
			break;
		if (t->backend == TABLE_POSTGRES) {
			params[0] = j->arg[0];
			params[1] = j->arg[1];
			pg_exec(j, j->op == DIR_OP_ALIAS_ADD ? TQ_ALIAS_ADD :
			    TQ_ALIAS_DEL, params, 2);
			break;
		}
		f = table_lookup(t, j->arg[0], value, sizeof(value));
		if (f != TABLE_FOUND)
			value[0] = '\0';
		(void)osms_strlcpy(j->edit_key, j->arg[0],
		    sizeof(j->edit_key));
		if (j->op == DIR_OP_ALIAS_ADD) {
			j->edit_op = TABLE_EDIT_SET;
			(void)osms_snprintf(j->edit_value,
			    sizeof(j->edit_value), "%s%s%s", value,
			    value[0] ? ", " : "", j->arg[1]);
			break;
		}
		if (f != TABLE_FOUND) {
			(void)osms_strlcpy(j->result, "no such alias",
			    sizeof(j->result));
			break;
		}
		j->edit_op = TABLE_EDIT_DEL;
		if (j->arg[1][0] != '\0') {
			/* keep the other targets */
			char	 keep[TABLE_MAX_VALUE] = "", *w, *last = NULL;

			for (w = strtok_r(value, ", \t", &last); w != NULL;
			    w = strtok_r(NULL, ", \t", &last)) {
				if (strcasecmp(w, j->arg[1]) == 0)
					continue;
				if (keep[0])
					(void)osms_strlcat(keep, ", ",
					    sizeof(keep));
				(void)osms_strlcat(keep, w, sizeof(keep));
			}
			if (keep[0] != '\0') {
				j->edit_op = TABLE_EDIT_SET;
				(void)osms_strlcpy(j->edit_value, keep,
				    sizeof(j->edit_value));
			}
		}
		break;
	case DIR_OP_GW_LOOKUP:
		/* As cryptod would ask: "entry"|"member", table, key. */
		f = gw_lookup(j->dir, strcmp(j->arg[0], "member") == 0 ?
		    GW_LOOKUP_MEMBER : GW_LOOKUP_ENTRY, j->arg[1], j->arg[2],
		    value, sizeof(value));
		j->ok = f != TABLE_TEMPFAIL;
		(void)osms_snprintf(j->result, sizeof(j->result), "%s%s",
		    f == TABLE_FOUND ? "found " : f == TABLE_NOTFOUND ?
		    "not found" : "cannot tell now", f == TABLE_FOUND ? value :
		    "");
		break;
	case DIR_OP_AUDIT_LIST:
		if ((j->table = audit_table(j->dir)) == NULL) {
			(void)osms_strlcpy(j->result, "the directory has no "
			    "PostgreSQL table: the trail is audit.log in the "
			    "certificate store", sizeof(j->result));
			break;
		}
		params[0] = j->arg[0];
		pg_exec(j, TQ_AUDIT_LIST, params, 1);
		break;
	default:
		(void)osms_strlcpy(j->result, "unknown operation",
		    sizeof(j->result));
		break;
	}
	explicit_wipe(j->arg[1], sizeof(j->arg[1]));
	explicit_wipe(hash, sizeof(hash));
	explicit_wipe(scram, sizeof(scram));
}

static void
admin_reply(struct admin_job *j)
{
	struct channel	*ch = proc_peer(ROLE_CONTROL);
	struct msg	 m;
	size_t		 i;

	for (i = 0; ch != NULL && i < j->nrows; i++) {
		msg_init(&m, IMSG_CTL_TEXT, j->id);
		msg_add_str(&m, j->rows[i]);
		if (channel_send(ch, &m) == -1)
			ch = NULL;
	}
	if (ch != NULL) {
		msg_init(&m, IMSG_CTL_RESULT, j->id);
		msg_add_u32(&m, j->ok ? 1 : 0);
		msg_add_str(&m, j->result);
		(void)channel_send(ch, &m);
	}
	for (i = 0; i < j->nrows; i++)
		free(j->rows[i]);
	free(j->rows);
	dir_unref(j->dir);
	explicit_wipe(j->edit_value, sizeof(j->edit_value));
	free(j);
}

static void
admin_done(void *arg)
{
	struct admin_job	*j = arg;
	struct msg		 m;

	if (j->edit_key[0] == '\0' || j->table == NULL) {
		admin_reply(j);
		return;
	}
	if (editing != NULL) {
		(void)osms_strlcpy(j->result, "another change is in progress;"
		    " try again", sizeof(j->result));
		admin_reply(j);
		return;
	}
	/* A file table: the parent, which owns the file, writes it. */
	msg_init(&m, IMSG_PARENT_TABLE_EDIT, j->id);
	msg_add_u32(&m, j->edit_op);
	msg_add_str(&m, j->table->name);
	msg_add_str(&m, j->edit_key);
	msg_add_str(&m, j->edit_value);
	if (channel_send(proc_parent(), &m) == -1) {
		(void)osms_strlcpy(j->result, "osmsd is not answering",
		    sizeof(j->result));
		admin_reply(j);
		return;
	}
	log_info("authd: %s %s in table %s", j->edit_op == TABLE_EDIT_DEL ?
	    "removing" : "setting", j->edit_key, j->table->name);
	editing = j;
}

void
authd_admin_edited(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct admin_job	*j = editing;
	uint32_t		 ok;
	char			 text[256];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &ok);
	(void)msg_get_str(&r, text, sizeof(text));
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_PARENT_TABLE_EDITED");
	if (j == NULL || j->id != imsg->hdr.id)
		return;
	editing = NULL;
	j->ok = ok != 0;
	(void)osms_strlcpy(j->result, text, sizeof(j->result));
	admin_reply(j);
}

void
authd_admin(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct admin_job	*j = xcalloc(1, sizeof(*j));
	uint32_t		 version;
	int			 i;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &version);
	(void)msg_get_u32(&r, &j->op);
	for (i = 0; i < 3; i++)
		(void)msg_get_str(&r, j->arg[i], sizeof(j->arg[i]));
	if (msg_end(&r) == -1 || j->op >= DIR_OP_COUNT) {
		explicit_wipe(j, sizeof(*j));
		free(j);
		channel_bad_message(ch, imsg, "bad request");
		return;
	}
	j->id = imsg->hdr.id;
	j->dir = authd_directory();
	dir_ref(j->dir);
	if (version != OSMS_IMSG_VERSION) {
		(void)osms_strlcpy(j->result, "osmsctl and osmsd versions"
		    " differ", sizeof(j->result));
		admin_reply(j);
		return;
	}
	workq_push(admin_work, admin_done, j);
}
