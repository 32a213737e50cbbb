/*
 * authd: the directory (domains, users, aliases, quotas) and
 * authentication.
 *
 * User _osmsauth, not dumpable; no chroot (PostgreSQL's socket comes with
 * the directory issue). The only process that holds the directory's data
 * and password hashes: file tables arrive as descriptors the parent
 * opened, so authd needs no access to the files. Peers: parent, smtpd,
 * queue, delivery, imapd. Input: addresses relayed by osms roles from
 * clients, parsed again here.
 */
#include <sasl/sasl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "log.h"
#include "lookup.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "table.h"
#include "util.h"

TAILQ_HEAD(table_list, table);

static struct table_list	 tables = TAILQ_HEAD_INITIALIZER(tables);
static struct domain_list	 domains = TAILQ_HEAD_INITIALIZER(domains);
static struct table_list	 new_tables = TAILQ_HEAD_INITIALIZER(new_tables);
static struct domain_list	 new_domains =
				    TAILQ_HEAD_INITIALIZER(new_domains);
static struct lookup_dest	*dests;
static unsigned long		 nlookups;

static void
authd_setup(void)
{
	const char	*impl = NULL, *ver = NULL;
	int		 pq = PQlibVersion();

	sasl_version_info(&impl, &ver, NULL, NULL, NULL, NULL);
	log_debug("libpq %d.%d, %s sasl %s", pq / 10000, pq % 10000,
	    impl ? impl : "?", ver ? ver : "?");
	dests = xcalloc(LOOKUP_MAX_DESTS, sizeof(*dests));
}

static struct table *
table_find_new(const char *name)
{
	struct table	*t;

	TAILQ_FOREACH(t, &new_tables, entry)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static void
authd_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct domain		*d;
	struct table		*t;
	char			 name[256], path[1024];
	char			 users[256], aliases[256];

	msg_reader_init(&r, imsg);
	switch (imsg->hdr.type) {
	case IMSG_CONF_TABLE_FILE:
		(void)msg_get_str(&r, name, sizeof(name));
		(void)msg_get_str(&r, path, sizeof(path));
		if (msg_end(&r) == -1)
			fatalx("bad IMSG_CONF_TABLE_FILE");
		t = table_file_load(imsg_take_fd(imsg), name, path);
		TAILQ_INSERT_TAIL(&new_tables, t, entry);
		break;
	case IMSG_CONF_DOMAIN:
		d = xcalloc(1, sizeof(*d));
		(void)msg_get_str(&r, d->name, sizeof(d->name));
		(void)msg_get_str(&r, users, sizeof(users));
		(void)msg_get_str(&r, aliases, sizeof(aliases));
		if (msg_end(&r) == -1)
			fatalx("bad IMSG_CONF_DOMAIN");
		/* A table that could not be opened fails lookups
		 * temporarily rather than making users unknown. */
		if (users[0])
			d->users = table_find_new(users);
		if (aliases[0])
			d->aliases = table_find_new(aliases);
		if ((users[0] && d->users == NULL) ||
		    (aliases[0] && d->aliases == NULL)) {
			log_warnx("domain %s: a table could not be read;"
			    " its lookups fail until it can", d->name);
			t = xcalloc(1, sizeof(*t));	/* loaded == 0 */
			(void)osms_strlcpy(t->name, "(unreadable)",
			    sizeof(t->name));
			TAILQ_INSERT_TAIL(&new_tables, t, entry);
			if (users[0] && d->users == NULL)
				d->users = t;
			if (aliases[0] && d->aliases == NULL)
				d->aliases = t;
		}
		TAILQ_INSERT_TAIL(&new_domains, d, entry);
		break;
	default:
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	}
}

static void
authd_conf_end(int reload)
{
	struct domain	*d;
	struct table	*t;

	while ((d = TAILQ_FIRST(&domains)) != NULL) {
		TAILQ_REMOVE(&domains, d, entry);
		free(d);
	}
	while ((t = TAILQ_FIRST(&tables)) != NULL) {
		TAILQ_REMOVE(&tables, t, entry);
		table_free(t);
	}
	TAILQ_CONCAT(&domains, &new_domains, entry);
	TAILQ_CONCAT(&tables, &new_tables, entry);
	if (reload)
		log_info("directory reloaded");
}

static void
authd_rcpt(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct lookup		 l;
	struct msg		 m;
	enum lookup_result	 res;
	char			 address[ADDR_MAX_TEXT];
	uint32_t		 flags;
	size_t			 i;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &flags);
	(void)msg_get_str(&r, address, sizeof(address));
	if (msg_end(&r) == -1) {
		channel_bad_message(ch, imsg, "bad payload");
		return;
	}
	if ((flags & LOOKUP_F_POSTMASTER) && !TAILQ_EMPTY(&domains))
		/* RFC 5321 4.5.1: the first domain's postmaster. */
		(void)osms_snprintf(address, sizeof(address), "postmaster@%s",
		    TAILQ_FIRST(&domains)->name);
	memset(&l, 0, sizeof(l));
	l.dests = dests;
	res = lookup_rcpt(&domains, address, &l);
	nlookups++;
	log_debug("lookup %s: %d, %zu destinations", address, res, l.ndests);
	for (i = 0; res == LOOKUP_OK && i < l.ndests; i++) {
		msg_init(&m, IMSG_AUTH_RCPT_DEST, imsg->hdr.id);
		msg_add_u32(&m, (uint32_t)l.dests[i].kind);
		msg_add_str(&m, l.dests[i].address);
		msg_add_str(&m, l.dests[i].mailbox);
		msg_add_u64(&m, l.dests[i].quota_bytes);
		msg_add_u64(&m, l.dests[i].quota_messages);
		if (channel_send(ch, &m) == -1)
			return;
	}
	msg_init(&m, IMSG_AUTH_RCPT_END, imsg->hdr.id);
	msg_add_u32(&m, res);
	msg_add_str(&m, l.error != NULL ? l.error : "");
	(void)channel_send(ch, &m);
}

static void
authd_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_AUTH_RCPT:
		authd_rcpt(ch, imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
authd_state(char *buf, size_t size)
{
	struct domain	*d;
	int		 n = 0;

	TAILQ_FOREACH(d, &domains, entry)
		n++;
	(void)snprintf(buf, size, "%d domains, %lu lookups", n, nlookups);
}

static const struct proc_ops authd_ops = {
	.role = ROLE_AUTHD,
	.setup = authd_setup,
	.conf = authd_conf,
	.conf_end = authd_conf_end,
	.dispatch_peer = authd_dispatch_peer,
	.state = authd_state,
};

int
main(int argc, char **argv)
{
	proc_main(&authd_ops, argc, argv);
}
