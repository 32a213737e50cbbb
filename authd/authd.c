/*
 * authd: the directory (domains, users, aliases, quotas) and
 * authentication.
 *
 * User _osmsauth, not dumpable, no chroot (it reaches PostgreSQL's
 * socket). The only process that holds the database credentials and the
 * password hashes: file tables arrive as descriptors the parent opened,
 * so it needs no access to the files, and what it answers is an outcome
 * (a destination, "authenticated as", "may send as"), never a hash.
 * Peers: parent, smtpd, queue, delivery, imapd, control (osmsctl),
 * cryptod (gateway.c: its policy lookups and certificate store rows, as
 * it has no database password). Input: addresses and SASL responses
 * relayed from clients, parsed again here.
 *
 * Every lookup and every SASL step runs on a worker thread (a database
 * or a slow hash never stops the event loop), with the directory as it
 * was when the request came.
 */
#include <sasl/sasl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "audit.h"
#include "authd.h"
#include "channel.h"
#include "gateway.h"
#include "greylist.h"
#include "log.h"
#include "lookup.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "pwhash.h"
#include "ratelimit.h"
#include "sasl.h"
#include "table.h"
#include "token.h"
#include "util.h"
#include "workq.h"

static struct directory		*current;	/* what lookups use */
static struct directory		*building;	/* the slice coming in */
static unsigned long		 nlookups;
static unsigned			 auth_max_failures = SMTPD_AUTH_MAX_FAILURES;

struct directory *
authd_directory(void)
{
	return current;
}

static void
authd_setup(void)
{
	const char	*impl = NULL, *ver = NULL;
	int		 pq = PQlibVersion();

	sasl_version_info(&impl, &ver, NULL, NULL, NULL, NULL);
	log_debug("libpq %d.%d, %s sasl %s", pq / 10000, pq % 10000,
	    impl ? impl : "?", ver ? ver : "?");
	authd_sasl_init();
	rl_init(auth_max_failures);
	/* The first dummy hash is made, not just checked: not on a login. */
	pwhash_dummy("", 0);
}

static void
authd_ready(void)
{
	/* Threads after the sandbox: they share all of it. */
	workq_init(AUTHD_WORKERS);
}

/*
 * The config slice: tables, then domains, then limits.
 */

static struct directory *
slice_dir(void)
{
	if (building == NULL)
		building = dir_new();
	return building;
}

static void
conf_domain(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct directory	*dir = slice_dir();
	struct domain		*d = xcalloc(1, sizeof(*d));
	struct table		*t;
	char			 users[256], aliases[256];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, d->name, sizeof(d->name));
	(void)msg_get_str(&r, users, sizeof(users));
	(void)msg_get_str(&r, aliases, sizeof(aliases));
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_CONF_DOMAIN");
	if (users[0])
		d->users = dir_table(dir, users);
	if (aliases[0])
		d->aliases = dir_table(dir, aliases);
	if ((users[0] && d->users == NULL) ||
	    (aliases[0] && d->aliases == NULL)) {
		/* A table that could not be opened fails lookups for now
		 * rather than making users unknown. */
		log_warnx("domain %s: a table could not be read; its lookups"
		    " fail until it can", d->name);
		t = xcalloc(1, sizeof(*t));	/* loaded == 0 */
		(void)osms_strlcpy(t->name, "(unreadable)", sizeof(t->name));
		TAILQ_INSERT_TAIL(&dir->tables, t, entry);
		if (users[0] && d->users == NULL)
			d->users = t;
		if (aliases[0] && d->aliases == NULL)
			d->aliases = t;
	}
	TAILQ_INSERT_TAIL(&dir->domains, d, entry);
}

static void
conf_table_pg(struct imsg *imsg)
{
	static char		 queries[TQ_COUNT][CONF_MAX_QUERY];
	struct msg_reader	 r;
	struct table		*t;
	char			 name[256], conninfo[CONF_MAX_PATH];
	int			 i;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, name, sizeof(name));
	(void)msg_get_str(&r, conninfo, sizeof(conninfo));
	for (i = 0; i < TQ_COUNT; i++)
		(void)msg_get_str(&r, queries[i], sizeof(queries[i]));
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_CONF_TABLE_PG");
	t = table_pg_new(name, conninfo, queries);
	explicit_wipe(conninfo, sizeof(conninfo));
	TAILQ_INSERT_TAIL(&slice_dir()->tables, t, entry);
}

static void
conf_srs(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct directory	*d = slice_dir();
	const void		*secret;
	size_t			 len;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, d->srs_domain, sizeof(d->srs_domain));
	(void)msg_get_data(&r, &secret, &len);
	if (msg_end(&r) == -1 || len > sizeof(d->srs_secret))
		fatalx("bad IMSG_CONF_SRS");
	memcpy(d->srs_secret, secret, len);
	d->srs_secretlen = len;
	explicit_wipe(imsg->data, imsg->datalen);
}

static void
authd_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct table		*t;
	char			 name[256], path[1024];
	uint32_t		 max;

	msg_reader_init(&r, imsg);
	switch (imsg->hdr.type) {
	case IMSG_CONF_TABLE_FILE:
		(void)msg_get_str(&r, name, sizeof(name));
		(void)msg_get_str(&r, path, sizeof(path));
		if (msg_end(&r) == -1)
			fatalx("bad IMSG_CONF_TABLE_FILE");
		t = table_file_load(imsg_take_fd(imsg), name, path);
		TAILQ_INSERT_TAIL(&slice_dir()->tables, t, entry);
		break;
	case IMSG_CONF_TABLE_PG:
		conf_table_pg(imsg);
		break;
	case IMSG_CONF_DOMAIN:
		conf_domain(imsg);
		break;
	case IMSG_CONF_SRS:
		conf_srs(imsg);
		break;
	case IMSG_CONF_AUTHD:
		(void)msg_get_u32(&r, &max);
		if (msg_end(&r) == -1)
			fatalx("bad IMSG_CONF_AUTHD");
		auth_max_failures = max;
		rl_init(max);	/* a reload; at start-up setup comes next */
		break;
	default:
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	}
}

static void
authd_conf_end(int reload)
{
	struct directory	*old = current;

	/* Jobs still running keep the old one until they are done. */
	current = building != NULL ? building : dir_new();
	building = NULL;
	dir_unref(old);
	if (reload)
		log_info("directory reloaded");
}

/*
 * Recipients (smtpd, queue).
 */

struct rcpt_job {
	uint64_t		 id;
	enum osms_role		 from;
	char			 address[ADDR_MAX_TEXT];
	struct directory	*dir;
	struct lookup		 l;
	enum lookup_result	 res;
};

static void
rcpt_work(void *arg)
{
	struct rcpt_job	*j = arg;

	j->res = lookup_rcpt(j->dir, j->address, &j->l);
}

static void
rcpt_done(void *arg)
{
	struct rcpt_job	*j = arg;
	struct channel	*ch = proc_peer(j->from);
	struct msg	 m;
	size_t		 i;

	nlookups++;
	log_debug("lookup %s: %d, %zu destinations", j->address, j->res,
	    j->l.ndests);
	for (i = 0; ch != NULL && j->res == LOOKUP_OK && i < j->l.ndests;
	    i++) {
		msg_init(&m, IMSG_AUTH_RCPT_DEST, j->id);
		msg_add_u32(&m, (uint32_t)j->l.dests[i].kind);
		msg_add_str(&m, j->l.dests[i].address);
		msg_add_str(&m, j->l.dests[i].mailbox);
		msg_add_u64(&m, j->l.dests[i].quota_bytes);
		msg_add_u64(&m, j->l.dests[i].quota_messages);
		if (channel_send(ch, &m) == -1)
			ch = NULL;
	}
	if (ch != NULL) {
		msg_init(&m, IMSG_AUTH_RCPT_END, j->id);
		msg_add_u32(&m, j->res);
		msg_add_str(&m, j->l.error != NULL ? j->l.error : "");
		(void)channel_send(ch, &m);
	}
	free(j->l.dests);
	dir_unref(j->dir);
	free(j);
}

static void
authd_rcpt(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct rcpt_job		*j = xcalloc(1, sizeof(*j));
	struct domain		*d;
	uint32_t		 flags;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &flags);
	(void)msg_get_str(&r, j->address, sizeof(j->address));
	if (msg_end(&r) == -1) {
		free(j);
		channel_bad_message(ch, imsg, "bad payload");
		return;
	}
	if (flags & LOOKUP_F_POSTMASTER) {
		/* RFC 5321 4.5.1: the first configured domain's. */
		TAILQ_FOREACH(d, &current->domains, entry)
			if (strcmp(d->name, "*") != 0)
				break;
		(void)osms_snprintf(j->address, sizeof(j->address),
		    "postmaster@%s", d != NULL ? d->name :
		    proc_conf()->hostname);
	}
	j->id = imsg->hdr.id;
	j->from = ch->remote;
	j->dir = current;
	dir_ref(j->dir);
	workq_push(rcpt_work, rcpt_done, j);
}

/*
 * Senders (smtpd: submission).
 */

struct sender_job {
	uint64_t		 id;
	char			 user[ADDR_MAX_TEXT];
	char			 sender[ADDR_MAX_TEXT];
	struct directory	*dir;
	uint32_t		 verdict;	/* 1 ok, 0 no, 2 tempfail */
};

/* The sender is the user's own address, or one that reaches the user's
 * own Maildir (an alias of the user). */
static void
sender_work(void *arg)
{
	struct sender_job	*j = arg;
	struct userent		 u;
	struct lookup		 l;
	enum lookup_result	 res;
	size_t			 i;

	j->verdict = 0;
	if (j->sender[0] == '\0' || strcasecmp(j->sender, j->user) == 0) {
		j->verdict = 1;
		return;
	}
	if (dir_user(j->dir, j->user, &u) != TABLE_FOUND) {
		j->verdict = 2;
		return;
	}
	memset(&l, 0, sizeof(l));
	res = lookup_rcpt(j->dir, j->sender, &l);
	if (res == LOOKUP_TEMPFAIL)
		j->verdict = 2;
	for (i = 0; res == LOOKUP_OK && i < l.ndests; i++)
		if (l.dests[i].kind == DEST_MAILBOX &&
		    strcmp(l.dests[i].mailbox, u.maildir) == 0)
			j->verdict = 1;
	free(l.dests);
	explicit_wipe(&u, sizeof(u));
}

static void
sender_done(void *arg)
{
	struct sender_job	*j = arg;
	struct channel		*ch = proc_peer(ROLE_SMTPD);
	struct msg		 m;

	if (ch != NULL) {
		msg_init(&m, IMSG_AUTH_SENDER_RESULT, j->id);
		msg_add_u32(&m, j->verdict);
		(void)channel_send(ch, &m);
	}
	dir_unref(j->dir);
	free(j);
}

static void
authd_sender(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct sender_job	*j = xcalloc(1, sizeof(*j));

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, j->user, sizeof(j->user));
	(void)msg_get_str(&r, j->sender, sizeof(j->sender));
	if (msg_end(&r) == -1) {
		free(j);
		channel_bad_message(ch, imsg, "bad payload");
		return;
	}
	j->id = imsg->hdr.id;
	j->dir = current;
	dir_ref(j->dir);
	workq_push(sender_work, sender_done, j);
}

/*
 * The role.
 */

static void
authd_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_AUTH_RCPT:
		authd_rcpt(ch, imsg);
		break;
	case IMSG_AUTH_SENDER:
		authd_sender(ch, imsg);
		break;
	case IMSG_AUTH_SASL_START:
		authd_sasl_start(ch, imsg);
		break;
	case IMSG_AUTH_SASL_STEP:
		authd_sasl_step(ch, imsg);
		break;
	case IMSG_AUTH_SASL_ABORT:
		authd_sasl_abort(ch, imsg);
		break;
	case IMSG_CTL_DIR:
		authd_admin(ch, imsg);
		break;
	case IMSG_AUTH_AUDIT:
		authd_audit(ch, imsg);
		break;
	case IMSG_AUTH_GW_LOOKUP:
		authd_gw_lookup(ch, imsg);
		break;
	case IMSG_AUTH_STORE_SINCE:
		authd_store_since(ch, imsg);
		break;
	case IMSG_AUTH_STORE_PUT:
		authd_store_put(ch, imsg);
		break;
	case IMSG_GREY_DB_REQ:
		authd_greylist(ch, imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

/* The parent redeems a login token for the user's mail session. */
static void
authd_redeem(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct msg		 m;
	struct userent		 u;
	unsigned		 service = 0;
	char			 token[TOKEN_LEN + 8];
	int			 ok;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, token, sizeof(token));
	if (msg_end(&r) == -1)
		fatalx("bad IMSG_AUTH_REDEEM");
	memset(&u, 0, sizeof(u));
	ok = token_redeem(token, &u, &service) == 0;
	explicit_wipe(token, sizeof(token));
	if (!ok)
		log_warnx("authd: a login token was not redeemed (unknown,"
		    " used or expired)");
	msg_init(&m, IMSG_AUTH_REDEEMED, imsg->hdr.id);
	msg_add_u32(&m, (uint32_t)ok);
	msg_add_str(&m, ok ? u.address : "");
	msg_add_u32(&m, service);
	msg_add_u64(&m, u.quota_bytes);
	msg_add_u64(&m, u.quota_messages);
	msg_add_str(&m, ok ? u.maildir : "");
	(void)channel_send(proc_parent(), &m);
}

static void
authd_dispatch_parent(struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_PARENT_TABLE_EDITED:
		authd_admin_edited(imsg);
		break;
	case IMSG_AUTH_REDEEM:
		authd_redeem(imsg);
		break;
	default:
		fatalx("unexpected %s from parent",
		    imsg_type_name(imsg->hdr.type));
	}
}

static void
authd_peer_down(enum osms_role role)
{
	if (role == ROLE_SMTPD || role == ROLE_IMAPD)
		authd_sasl_peer_down(role);
}

static void
authd_state(char *buf, size_t size)
{
	struct domain	*d;
	unsigned long	 ok, failed;
	int		 n = 0;

	if (current != NULL)
		TAILQ_FOREACH(d, &current->domains, entry)
			n++;
	authd_sasl_state(&ok, &failed);
	(void)snprintf(buf, size, "%d domains, %lu lookups, %lu logins,"
	    " %lu failed", n, nlookups, ok, failed);
}

static const struct proc_ops authd_ops = {
	.role = ROLE_AUTHD,
	.setup = authd_setup,
	.ready = authd_ready,
	.conf = authd_conf,
	.conf_end = authd_conf_end,
	.dispatch_parent = authd_dispatch_parent,
	.dispatch_peer = authd_dispatch_peer,
	.peer_down = authd_peer_down,
	.state = authd_state,
};

int
main(int argc, char **argv)
{
	proc_main(&authd_ops, argc, argv);
}
