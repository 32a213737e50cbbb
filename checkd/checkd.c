/*
 * checkd: the checks of mail from outside, before the final replies.
 * At the end of a message's data: SPF, DKIM and DMARC, and its spam
 * score from rspamd (content.c); at connect and RCPT: the client's DNS
 * block and allow lists and the greylist (client.c). This file is the
 * role: its settings and its resolver.
 *
 * User _osmscheck, chrooted to its own directory (the greylist); no
 * secrets. It reaches the network only through its resolver (libunbound,
 * set up from the mta's resolver settings, which the parent hands over)
 * and rspamd, if configured. Peers: parent, smtpd. Input: hostile
 * content as a read-only descriptor that the queue opened, the client's
 * address, HELO, MAIL FROM and RCPT TO; whatever may wait on the network
 * runs on worker threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "checkd.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "resolver.h"
#include "senderauth.h"
#include "spam.h"
#include "util.h"
#include "workq.h"

#define CHECKD_MAX_FILE	(1024 * 1024)	/* resolv.conf, trust anchors */

static struct resolver	*current;
static unsigned		 workers = 4;
static char		 resolver_addr[256], psl[1024];
static struct spam_conf	 spam_next;
static struct checkd_settings set;	/* while a slice comes */
static char		*files[3];

struct checkd_settings	 checkd_set;

struct resolver *
resolver_get(void)
{
	if (current != NULL)
		current->refs++;
	return current;
}

void
resolver_put(struct resolver *r)
{
	if (r == NULL || --r->refs > 0)
		return;
	if (r->ctx != NULL)
		ub_ctx_delete(r->ctx);
	free(r);
}

/*
 * The role.
 */

static void
checkd_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 a[3], n, kind, k;
	int			 fd;

	msg_reader_init(&r, imsg);
	if (imsg->hdr.type == IMSG_CONF_MTA_FILE) {
		(void)msg_get_u32(&r, &kind);
		fd = imsg_take_fd(imsg);
		if (msg_end(&r) == -1 || kind > MTA_FILE_RESOLV_CONF ||
		    fd == -1)
			fatalx("bad IMSG_CONF_MTA_FILE");
		free(files[kind]);
		files[kind] = read_fd_text(fd, CHECKD_MAX_FILE);
		return;
	}
	if (imsg->hdr.type != IMSG_CONF_CHECKD)
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	(void)msg_get_u32(&r, &set.spf);
	(void)msg_get_u32(&r, &set.dkim);
	(void)msg_get_u32(&r, &set.dmarc);
	for (k = 0; k < 3; k++)
		(void)msg_get_u32(&r, &a[k]);
	(void)msg_get_u32(&r, &n);
	(void)msg_get_str(&r, resolver_addr, sizeof(resolver_addr));
	(void)msg_get_str(&r, psl, sizeof(psl));
	(void)msg_get_u32(&r, &spam_next.engine);
	(void)msg_get_str(&r, spam_next.addr, sizeof(spam_next.addr));
	(void)msg_get_u32(&r, &spam_next.reject);
	(void)msg_get_u32(&r, &spam_next.junk);
	(void)msg_get_u32(&r, &spam_next.on_failure);
	(void)msg_get_u32(&r, &spam_next.timeout);
	(void)msg_get_u32(&r, &set.grey_on);
	(void)msg_get_u32(&r, &set.grey_delay);
	(void)msg_get_str(&r, set.grey_exempt, sizeof(set.grey_exempt));
	(void)msg_get_str(&r, set.grey_spf, sizeof(set.grey_spf));
	(void)msg_get_str(&r, set.dnsbl, sizeof(set.dnsbl));
	(void)msg_get_u32(&r, &set.dnsbl_threshold);
	(void)msg_get_str(&r, set.arc_trusted, sizeof(set.arc_trusted));
	(void)msg_get_u32(&r, &set.grey_db);
	if (msg_end(&r) == -1 || set.grey_delay == 0 ||
	    set.dnsbl_threshold == 0 || str_has_ctl(set.dnsbl) ||
	    str_has_ctl(set.grey_exempt) || str_has_ctl(set.grey_spf) ||
	    str_has_ctl(set.arc_trusted) ||
	    a[0] > AR_REJECT ||
	    a[1] > AR_REJECT || a[2] > AR_REJECT || a[0] == AR_TEMPFAIL ||
	    a[1] == AR_TEMPFAIL || a[2] == AR_TEMPFAIL || n == 0 || n > 64 ||
	    spam_next.on_failure > SCAN_ACCEPT || spam_next.timeout == 0 ||
	    spam_next.engine > SPAM_ENGINE_SPAMD)
		fatalx("bad IMSG_CONF_CHECKD");
	set.spam_reject = spam_next.reject;
	set.spam_junk = spam_next.junk;
	set.policy.dmarc_reject = (enum ar_action)a[0];
	set.policy.dmarc_quarantine = (enum ar_action)a[1];
	set.policy.spf_fail = (enum ar_action)a[2];
	workers = n;		/* at start-up only: the pool is made once */
	for (k = 0; k < 3; k++) {
		free(files[k]);
		files[k] = NULL;
	}
}

static void
checkd_conf_end(int reload)
{
	struct resolver	*r = xcalloc(1, sizeof(*r));

	r->refs = 1;
	if ((r->ctx = resolver_new(resolver_addr, files[MTA_FILE_RESOLV_CONF],
	    files[MTA_FILE_TRUST_ANCHOR], 0, "checkd")) == NULL) {
		log_warnx("checkd: the resolver is not set up: mail is not"
		    " checked");
		free(r);
		r = NULL;
	}
	resolver_put(current);
	current = r;
	checkd_set = set;
	content_spam_conf(&spam_next);
	/* At start-up, once in the jail (ready). */
	if (reload)
		client_grey_open();
}

static void
checkd_setup(void)
{
	char	 err[256];

	/* The list is read once, before the chroot. */
	if (sa_init(psl, err, sizeof(err)) == -1)
		fatalx("checkd: %s", err);
}

static void
checkd_ready(void)
{
	client_grey_open();
	/* Twice: the sender checks and the spam score of a message run
	 * side by side. */
	workq_init(2 * (int)workers);
}

static void
checkd_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_CHECK_REQ:
		content_request(ch, imsg);
		break;
	case IMSG_GREY_REQ:
		client_grey_request(ch, imsg);
		break;
	case IMSG_DNSBL_REQ:
		client_dnsbl_request(ch, imsg);
		break;
	case IMSG_GREY_DB_RESULT:
		client_grey_db_result(imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
checkd_state(char *buf, size_t size)
{
	char	 c[128], g[96];

	content_state(c, sizeof(c));
	client_state(g, sizeof(g));
	(void)snprintf(buf, size, "%s; %s; %s", current != NULL ?
	    "resolver set up" : "no resolver", c, g);
}

static void
checkd_peer_down(enum osms_role role)
{
	if (role == ROLE_AUTHD)
		client_authd_down();
}

static const struct proc_ops checkd_ops = {
	.role = ROLE_CHECKD,
	.conf = checkd_conf,
	.conf_end = checkd_conf_end,
	.setup = checkd_setup,
	.ready = checkd_ready,
	.dispatch_peer = checkd_dispatch_peer,
	.peer_down = checkd_peer_down,
	.state = checkd_state,
};

int
main(int argc, char **argv)
{
	proc_main(&checkd_ops, argc, argv);
}
