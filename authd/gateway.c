/*
 * What cryptod asks of the directory: it holds no database password, so
 * authd answers for it, on a worker thread.
 *
 *	policy	a user's or domain's entry in cryptod's policy-table, and
 *		whether a table a policy rule names lists an address or a
 *		domain (IMSG_AUTH_GW_LOOKUP)
 *	store	the certificate store's files as rows of the directory's
 *		database (crypt_store): the rows changed since a version
 *		(IMSG_AUTH_STORE_SINCE), and files changed in cryptod's
 *		copy (IMSG_AUTH_STORE_PUT)
 *
 * The store's rows travel in hex through SQL (the queries' parameters
 * and results take no control bytes), raw over the imsg.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "authd.h"
#include "gateway.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "table_pg.h"
#include "util.h"
#include "workq.h"

#define GW_MAX_KEY		256
#define GW_MAX_VALUE		1024
#define GW_MAX_PENDING		4096	/* lookups on their way */
#define STORE_MAX_NAME		300
#define STORE_MAX_ROWS		100	/* a batch; the query's LIMIT */

enum table_found
gw_lookup(struct directory *dir, enum gw_lookup kind, const char *name,
    const char *key, char *value, size_t size)
{
	struct table	*t;

	value[0] = '\0';
	if ((t = dir_table(dir, name)) == NULL) {
		log_warnx("authd: gateway: no table %s", name);
		return TABLE_TEMPFAIL;
	}
	if (t->backend == TABLE_POSTGRES)
		return pgtable_get(t->pg, kind == GW_LOOKUP_ENTRY ?
		    TQ_CRYPT_POLICY : TQ_DOMAIN, key, value, size);
	if (!t->loaded)
		return TABLE_TEMPFAIL;
	return table_lookup(t, key, value, size);
}

/*
 * Policy lookups.
 */

struct lookup_job {
	uint64_t		 id;
	struct directory	*dir;
	uint32_t		 kind;
	char			 table[256];
	char			 key[GW_MAX_KEY];
	char			 value[GW_MAX_VALUE];
	enum table_found	 found;
};

static unsigned		 npending;

static void
lookup_work(void *arg)
{
	struct lookup_job	*j = arg;

	j->found = gw_lookup(j->dir, j->kind, j->table, j->key, j->value,
	    sizeof(j->value));
}

static void
lookup_done(void *arg)
{
	struct lookup_job	*j = arg;
	struct channel		*ch = proc_peer(ROLE_CRYPTOD);
	struct msg		 m;

	if (ch != NULL) {
		msg_init(&m, IMSG_AUTH_GW_ANSWER, j->id);
		msg_add_u32(&m, j->found == TABLE_FOUND ? GW_FOUND :
		    j->found == TABLE_NOTFOUND ? GW_NOTFOUND : GW_TEMPFAIL);
		msg_add_str(&m, j->found == TABLE_FOUND ? j->value : "");
		(void)channel_send(ch, &m);
	}
	dir_unref(j->dir);
	free(j);
	npending--;
}

void
authd_gw_lookup(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct lookup_job	*j = xcalloc(1, sizeof(*j));
	struct msg		 m;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &j->kind);
	(void)msg_get_str(&r, j->table, sizeof(j->table));
	(void)msg_get_str(&r, j->key, sizeof(j->key));
	if (msg_end(&r) == -1 || (j->kind != GW_LOOKUP_ENTRY &&
	    j->kind != GW_LOOKUP_MEMBER) || str_has_ctl(j->key)) {
		free(j);
		channel_bad_message(ch, imsg, "bad gateway lookup");
		return;
	}
	j->id = imsg->hdr.id;
	if (npending >= GW_MAX_PENDING) {
		/* The database is far behind: cryptod defers the mail. */
		msg_init(&m, IMSG_AUTH_GW_ANSWER, j->id);
		msg_add_u32(&m, GW_TEMPFAIL);
		msg_add_str(&m, "");
		(void)channel_send(ch, &m);
		free(j);
		return;
	}
	j->dir = authd_directory();
	dir_ref(j->dir);
	npending++;
	workq_push(lookup_work, lookup_done, j);
}

/*
 * The certificate store's rows.
 */

struct store_row {
	char		 name[STORE_MAX_NAME];
	uint64_t	 version;
	int		 removed;
	unsigned char	*data;
	size_t		 len;
};

struct store_job {
	struct directory	*dir;
	struct table		*table;
	/* since: the rows; put: one file */
	int			 put;
	uint64_t		 since;
	struct store_row	 rows[STORE_MAX_ROWS];
	size_t			 nrows;
	int			 bad;		/* rows refused */
	uint64_t		 last;		/* the highest version seen */
	enum store_sync		 status;
	char			 name[STORE_MAX_NAME];
	char			*hex;		/* put: the data, NULL: remove */
	char			 err[256];
};

static int
unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "name\tversion\tt|f\thex", as pgtable_exec() joins a row. A row
 * refused still counts for the last version seen, so that it is not
 * asked for again and again. */
static void
store_row(void *arg, const char *line)
{
	struct store_job	*j = arg;
	struct store_row	*row;
	const char		*f[4], *errstr, *p;
	char			 version[32];
	size_t			 i, n, hexlen;
	uint64_t		 v;
	int			 hi, lo;

	if (j->nrows == STORE_MAX_ROWS)
		return;
	f[0] = line;
	for (i = 1; i < 4; i++)
		if ((f[i] = strchr(f[i - 1], '\t')) == NULL) {
			j->bad++;
			return;
		} else
			f[i]++;
	n = (size_t)(f[2] - f[1] - 1);
	if (n >= sizeof(version)) {
		j->bad++;
		return;
	}
	memcpy(version, f[1], n);
	version[n] = '\0';
	v = (uint64_t)str_to_num(version, 1, INT64_MAX, &errstr);
	if (errstr != NULL) {
		j->bad++;
		return;
	}
	if (v > j->last)
		j->last = v;
	row = &j->rows[j->nrows];
	memset(row, 0, sizeof(*row));
	row->version = v;
	row->removed = f[2][0] == 't';
	n = (size_t)(f[1] - f[0] - 1);
	hexlen = strlen(f[3]);
	if (n == 0 || n >= sizeof(row->name) || hexlen % 2 != 0 ||
	    hexlen / 2 > STORE_MAX_FILE) {
		j->bad++;
		return;
	}
	memcpy(row->name, f[0], n);
	row->name[n] = '\0';
	row->len = hexlen / 2;
	row->data = xmalloc(row->len + 1);
	for (i = 0, p = f[3]; i < row->len; i++, p += 2) {
		if ((hi = unhex(p[0])) == -1 || (lo = unhex(p[1])) == -1) {
			free(row->data);
			j->bad++;
			return;
		}
		row->data[i] = (unsigned char)(hi << 4 | lo);
	}
	j->nrows++;
}

static void
store_work(void *arg)
{
	struct store_job	*j = arg;
	const char		*params[2];
	char			 since[32];
	long			 n;

	if (j->put) {
		params[0] = j->name;
		params[1] = j->hex;
		n = pgtable_exec(j->table->pg, j->hex != NULL ? TQ_STORE_PUT :
		    TQ_STORE_REMOVE, params, j->hex != NULL ? 2 : 1, NULL, NULL,
		    j->err, sizeof(j->err));
	} else {
		(void)snprintf(since, sizeof(since), "%llu",
		    (unsigned long long)j->since);
		params[0] = since;
		n = pgtable_exec(j->table->pg, TQ_STORE_SINCE, params, 1,
		    store_row, j, j->err, sizeof(j->err));
	}
	j->status = n < 0 ? STORE_SYNC_TEMPFAIL : STORE_SYNC_OK;
}

static void
store_done(void *arg)
{
	struct store_job	*j = arg;
	struct channel		*ch = proc_peer(ROLE_CRYPTOD);
	struct msg		 m;
	size_t			 i;

	if (j->status == STORE_SYNC_TEMPFAIL)
		log_warnx("authd: certificate store: %s", j->err[0] ? j->err :
		    "the database did not answer");
	else if (j->put)
		log_debug("authd: certificate store: %s %s", j->hex != NULL ?
		    "put" : "removed", j->name);
	if (j->bad > 0)
		log_warnx("authd: certificate store: %d rows refused (a name "
		    "or version that cannot be, or data over %d bytes)",
		    j->bad, STORE_MAX_FILE);
	for (i = 0; !j->put && ch != NULL && i < j->nrows; i++) {
		msg_init(&m, IMSG_AUTH_STORE_ROW, 0);
		msg_add_str(&m, j->rows[i].name);
		msg_add_data(&m, j->rows[i].data, j->rows[i].len);
		msg_add_u32(&m, (uint32_t)j->rows[i].removed);
		msg_add_u64(&m, j->rows[i].version);
		if (channel_send(ch, &m) == -1)
			ch = NULL;
	}
	if (!j->put && ch != NULL) {
		msg_init(&m, IMSG_AUTH_STORE_END, 0);
		msg_add_u32(&m, j->status);
		msg_add_u32(&m, j->nrows + (size_t)j->bad == STORE_MAX_ROWS);
		msg_add_u64(&m, j->last);
		(void)channel_send(ch, &m);
	}
	for (i = 0; i < j->nrows; i++)
		free(j->rows[i].data);
	free(j->hex);
	dir_unref(j->dir);
	free(j);
}

/* A job on the gateway's database table; NULL if there is none (and
 * cryptod is told, for a request of rows). */
static struct store_job *
store_job(struct channel *ch)
{
	struct store_job	*j;
	struct directory	*dir = authd_directory();
	struct table		*t;
	struct msg		 m;

	if ((t = audit_table(dir)) == NULL) {
		msg_init(&m, IMSG_AUTH_STORE_END, 0);
		msg_add_u32(&m, STORE_SYNC_NODB);
		msg_add_u32(&m, 0);
		msg_add_u64(&m, 0);
		(void)channel_send(ch, &m);
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->dir = dir;
	dir_ref(dir);
	j->table = t;
	return j;
}

void
authd_store_since(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct store_job	*j;
	uint64_t		 since;

	msg_reader_init(&r, imsg);
	(void)msg_get_u64(&r, &since);
	if (msg_end(&r) == -1 || since > INT64_MAX) {
		channel_bad_message(ch, imsg, "bad store request");
		return;
	}
	if ((j = store_job(ch)) == NULL)
		return;
	j->since = since;
	workq_push(store_work, store_done, j);
}

void
authd_store_put(struct channel *ch, struct imsg *imsg)
{
	static const char	 digits[] = "0123456789abcdef";
	struct msg_reader	 r;
	struct store_job	*j;
	char			 name[STORE_MAX_NAME];
	const void		*data;
	const unsigned char	*d;
	size_t			 len, i;
	uint32_t		 removed;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, name, sizeof(name));
	(void)msg_get_data(&r, &data, &len);
	(void)msg_get_u32(&r, &removed);
	if (msg_end(&r) == -1 || name[0] == '\0' || str_has_ctl(name) ||
	    len > STORE_MAX_FILE) {
		channel_bad_message(ch, imsg, "bad store file");
		return;
	}
	/* No database: cryptod's copy is the store. */
	if (audit_table(authd_directory()) == NULL)
		return;
	if ((j = store_job(ch)) == NULL)
		return;
	j->put = 1;
	(void)osms_strlcpy(j->name, name, sizeof(j->name));
	if (!removed) {
		j->hex = xmalloc(2 * len + 1);
		for (i = 0, d = data; i < len; i++) {
			j->hex[2 * i] = digits[d[i] >> 4];
			j->hex[2 * i + 1] = digits[d[i] & 15];
		}
		j->hex[2 * len] = '\0';
	}
	workq_push(store_work, store_done, j);
}
