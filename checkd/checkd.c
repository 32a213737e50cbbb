/*
 * checkd: sender authentication of mail from outside, before the final
 * reply to DATA: SPF, DKIM and DMARC (senderauth.c), and what the
 * policy makes of them (authres.c).
 *
 * User _osmscheck, chrooted to the empty directory; no secrets. It
 * reaches the network only through its resolver (libunbound, set up
 * from the mta's resolver settings, which the parent hands over). Peers:
 * parent, smtpd. Input: hostile content as a read-only descriptor that
 * the queue opened, and the session's client address, HELO and MAIL
 * FROM; each message is checked on a worker thread, as the lookups
 * block.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <unbound.h>

#include "addr.h"
#include "authres.h"
#include "channel.h"
#include "dkim.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "resolver.h"
#include "senderauth.h"
#include "util.h"
#include "workq.h"

#define CHECKD_MAX_FILE	(1024 * 1024)	/* resolv.conf, trust anchors */
#define CHECKD_MAX_JOBS	10000		/* checks queued */

/* A resolver and the jobs that use it: a reload makes a new one, and
 * the old one goes with its last job. */
struct resolver {
	struct ub_ctx	*ctx;
	unsigned	 refs;
};

struct check_job {
	uint64_t		 reqid;
	enum osms_role		 from;
	char			 tag[64];
	char			 ip[64];
	char			 helo[256];
	char			 sender[ADDR_MAX_TEXT];
	int			 fd;
	struct resolver		*res;
	struct ar_policy	 policy;
	struct authres		 ar;
	enum ar_action		 action;
	char			 why[200];
	char			 methods[2048];
	char			 summary[512];
};

static struct resolver	*current;
static struct ar_policy	 policy;
static uint32_t		 checks[3];		/* spf, dkim, dmarc on */
static unsigned		 workers = 4, njobs;
static char		 resolver_addr[256], psl[1024];
static char		*files[3];
static unsigned long	 nchecked, nrefused;

static void
resolver_unref(struct resolver *r)
{
	if (r == NULL || --r->refs > 0)
		return;
	if (r->ctx != NULL)
		ub_ctx_delete(r->ctx);
	free(r);
}

static void
check_work(void *arg)
{
	struct check_job	*j = arg;
	struct sa_input		 in;
	struct stat		 st;
	void			*map;
	char			 from[AR_MAX_DOMAIN] = "";

	memset(&in, 0, sizeof(in));
	in.ip = j->ip;
	in.helo = j->helo;
	in.sender = j->sender;
	in.hostname = proc_conf()->hostname;
	in.spf = checks[0] != 0;
	in.dkim = checks[1] != 0;
	in.dmarc = checks[2] != 0;
	in.from_domain = from;
	if (fstat(j->fd, &st) == -1 || st.st_size <= 0 ||
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
	    j->fd, 0)) == MAP_FAILED) {
		in.dkim = in.dmarc = 0;
		sa_check(j->res->ctx, &in, &j->ar);
	} else {
		in.msg = map;
		in.len = (size_t)st.st_size;
		in.from_fields = dkim_from_count(in.msg, in.len);
		if (in.from_fields != 1 || dkim_from_domain(in.msg, in.len,
		    from, sizeof(from)) == -1)
			from[0] = '\0';
		sa_check(j->res->ctx, &in, &j->ar);
		(void)munmap(map, (size_t)st.st_size);
	}
	j->action = authres_decide(&j->ar, &j->policy, j->why,
	    sizeof(j->why));
	if (authres_methods(&j->ar, j->sender, j->helo, j->methods,
	    sizeof(j->methods)) == -1)
		j->methods[0] = '\0';
	authres_summary(&j->ar, j->summary, sizeof(j->summary));
}

static void
check_done(void *arg)
{
	struct check_job	*j = arg;
	struct channel		*ch = proc_peer(j->from);
	struct msg		 m;

	njobs--;
	nchecked++;
	if (j->action == AR_REJECT)
		nrefused++;
	(void)close(j->fd);
	resolver_unref(j->res);
	if (ch != NULL) {
		msg_init(&m, IMSG_CHECK_RESULT, j->reqid);
		msg_add_str(&m, j->tag);
		msg_add_u32(&m, j->action);
		msg_add_str(&m, j->why);
		msg_add_str(&m, j->methods);
		msg_add_str(&m, j->summary);
		msg_add_u32(&m, (uint32_t)authres_from_verified(&j->ar));
		(void)channel_send(ch, &m);
	}
	free(j);
}

/* No check now: smtpd's on-failure setting decides, at once. */
static void
check_unavailable(struct channel *ch, uint64_t reqid, const char *tag,
    const char *why)
{
	struct msg	 m;

	log_warnx("checkd: %s not checked: %s", tag, why);
	msg_init(&m, IMSG_CHECK_RESULT, reqid);
	msg_add_str(&m, tag);
	msg_add_u32(&m, CHECK_ACTION_ERROR);
	msg_add_str(&m, why);
	msg_add_str(&m, "");
	msg_add_str(&m, "");
	msg_add_u32(&m, 0);
	(void)channel_send(ch, &m);
}

static void
check_request(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct check_job	*j = xcalloc(1, sizeof(*j));

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, j->tag, sizeof(j->tag));
	(void)msg_get_str(&r, j->ip, sizeof(j->ip));
	(void)msg_get_str(&r, j->helo, sizeof(j->helo));
	(void)msg_get_str(&r, j->sender, sizeof(j->sender));
	j->fd = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || j->fd == -1 || str_has_ctl(j->tag) ||
	    str_has_ctl(j->ip) || str_has_ctl(j->helo) ||
	    str_has_ctl(j->sender)) {
		if (j->fd != -1)
			(void)close(j->fd);
		free(j);
		channel_bad_message(ch, imsg, "bad check request");
		return;
	}
	j->reqid = imsg->hdr.id;
	j->from = ch->remote;
	j->policy = policy;
	if (current == NULL || njobs >= CHECKD_MAX_JOBS) {
		check_unavailable(ch, j->reqid, j->tag, current == NULL ?
		    "the resolver is not set up" : "too many checks waiting");
		(void)close(j->fd);
		free(j);
		return;
	}
	j->res = current;
	current->refs++;
	njobs++;
	workq_push(check_work, check_done, j);
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
	for (k = 0; k < 3; k++)
		(void)msg_get_u32(&r, &checks[k]);
	for (k = 0; k < 3; k++)
		(void)msg_get_u32(&r, &a[k]);
	(void)msg_get_u32(&r, &n);
	(void)msg_get_str(&r, resolver_addr, sizeof(resolver_addr));
	(void)msg_get_str(&r, psl, sizeof(psl));
	if (msg_end(&r) == -1 || a[0] > AR_REJECT || a[1] > AR_REJECT ||
	    a[2] > AR_REJECT || n == 0 || n > 64)
		fatalx("bad IMSG_CONF_CHECKD");
	policy.dmarc_reject = (enum ar_action)a[0];
	policy.dmarc_quarantine = (enum ar_action)a[1];
	policy.spf_fail = (enum ar_action)a[2];
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

	(void)reload;
	r->refs = 1;
	if ((r->ctx = resolver_new(resolver_addr, files[MTA_FILE_RESOLV_CONF],
	    files[MTA_FILE_TRUST_ANCHOR], 0, "checkd")) == NULL) {
		log_warnx("checkd: the resolver is not set up: mail is not"
		    " checked");
		free(r);
		r = NULL;
	}
	resolver_unref(current);
	current = r;
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
	workq_init((int)workers);
}

static void
checkd_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_CHECK_REQ:
		check_request(ch, imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
checkd_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%s; %u checking, %lu checked, %lu"
	    " refused", current != NULL ? "resolver set up" : "no resolver",
	    njobs, nchecked, nrefused);
}

static const struct proc_ops checkd_ops = {
	.role = ROLE_CHECKD,
	.conf = checkd_conf,
	.conf_end = checkd_conf_end,
	.setup = checkd_setup,
	.ready = checkd_ready,
	.dispatch_peer = checkd_dispatch_peer,
	.state = checkd_state,
};

int
main(int argc, char **argv)
{
	proc_main(&checkd_ops, argc, argv);
}
