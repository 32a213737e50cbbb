/*
 * The process tree. The parent runs as root and holds the parsed config
 * and the listening sockets; it reads nothing from the network.
 *
 * Each role is started by fork and exec of its own program (a fresh
 * address space that links only that role's libraries), with one
 * socketpair to the parent on descriptor 3 and nothing else. After the
 * child says hello the parent sends its config slice (with any sockets
 * it serves) and a fresh channel to each linked role that is up. The
 * child then locks itself in and says ready.
 *
 * A child that dies is restarted with a growing delay; one that sends
 * the parent a malformed or forbidden message is killed. SIGTERM/SIGINT
 * stop the tree, SIGHUP re-reads the config: sockets whose address is
 * unchanged are kept, every role gets its new slice, and only a role
 * whose user or jail changed is restarted.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "osmsd.h"
#include "proc.h"
#include "sysfilter.h"
#include "util.h"

#define BACKOFF_FIRST_MS	250
#define BACKOFF_MAX_MS		60000
#define STABLE_SECONDS		60	/* up this long: backoff resets */
#define STOP_GRACE_SECONDS	5	/* then SIGKILL */
#define STATUS_TIMEOUT_MS	2000

struct child {
	enum osms_role	 role;
	pid_t		 pid;		/* 0: not running */
	struct channel	*ch;
	int		 hello;		/* greeted: slice and links sent */
	int		 ready;
	int		 restart_now;	/* stopped on purpose: no backoff */
	time_t		 started;
	struct timespec	 started_mono;
	unsigned	 restarts;
	unsigned	 backoff_ms;
	struct event	 restart_ev;
	uint64_t	 ping_round;
	int		 ponged;
	char		 info[128];
};

struct status_req {
	TAILQ_ENTRY(status_req)	 entry;
	uint64_t		 id;		/* control's request id */
	uint64_t		 round;
	int			 waiting;
	struct event		 timeout;
};

static struct osms_conf		*conf;
static struct role_cred		 creds[ROLE_COUNT];
static struct plistener_list	 listeners;
static int			 control_fd = -1;
static char			 libexec[CONF_MAX_PATH];
static struct child		 children[ROLE_COUNT];
static uint64_t			 tables_seen;	/* as authd last got them */
static struct event		 ev_tables;
static uint32_t			 generation = 1;
static int			 stopping;
static time_t			 parent_started;
static uint64_t			 ping_rounds;
static TAILQ_HEAD(, status_req)	 status_reqs =
				    TAILQ_HEAD_INITIALIZER(status_reqs);
static struct event		 ev_sigterm, ev_sigint, ev_sighup, ev_sigchld;
static struct event		 ev_killtimer;

static void	 child_spawn(struct child *);
static int	 child_up(const struct child *);
static void	 parent_dispatch(struct channel *, struct imsg *);
static void	 parent_child_closed(struct channel *);
static void	 parent_stop(void);

struct channel *
parent_channel(enum osms_role r)
{
	if (r >= ROLE_COUNT || !child_up(&children[r]))
		return NULL;
	return children[r].ch;
}

const struct osms_conf *
parent_conf(void)
{
	return conf;
}

const struct role_cred *
parent_cred(enum osms_role r)
{
	return &creds[r];
}

static int
is_spawned(enum osms_role r)
{
	return r < ROLE_COUNT && role_info(r)->program != NULL &&
	    !role_info(r)->ondemand;
}

static double
mono_seconds_since(const struct timespec *t)
{
	struct timespec	 now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	    (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/*
 * Spawning.
 */

/*
 * In a forked child whose descriptors up to lastfd are set: a clean
 * signal state, a session of its own (a terminal's Ctrl-C reaches the
 * parent only, which then stops the tree in order), stdin from
 * /dev/null, nothing else open; then the role's program.
 */
_Noreturn void
parent_exec(enum osms_role role, int lastfd)
{
	char		 path[CONF_MAX_PATH + 64], *argv[6];
	sigset_t	 all;
	int		 i = 0, devnull;

	(void)sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	(void)setsid();
	if ((devnull = open("/dev/null", O_RDONLY)) != -1) {
		(void)dup2(devnull, STDIN_FILENO);
		if (devnull != STDIN_FILENO)
			(void)close(devnull);
	}
	close_from(lastfd + 1);

	(void)snprintf(path, sizeof(path), "%s/%s", libexec,
	    role_info(role)->program);
	argv[i++] = (char *)(uintptr_t)role_info(role)->program;
	if (osmsd_foreground)
		argv[i++] = "-d";
	if (osmsd_verbose >= 2)
		argv[i++] = "-vv";
	else if (osmsd_verbose == 1)
		argv[i++] = "-v";
	argv[i] = NULL;
	execv(path, argv);
	(void)dprintf(STDERR_FILENO, "osmsd: cannot execute %s: %s\n", path,
	    strerror(errno));
	_exit(127);
}

static _Noreturn void
child_exec(struct child *c, int fd)
{
	if (fd == PROC_PARENT_FD) {
		if (fcntl(fd, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(fd, PROC_PARENT_FD) == -1)
		_exit(127);
	parent_exec(c->role, PROC_PARENT_FD);
}

static void
child_schedule(struct child *c, unsigned ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&c->restart_ev, &tv);
}

static void
child_restart_ev(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	child_spawn(arg);
}

static void
child_spawn(struct child *c)
{
	int	 sv[2];
	pid_t	 pid;

	if (stopping || c->pid != 0)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", role_name(c->role));
		child_schedule(c, BACKOFF_MAX_MS);
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("%s: fork", role_name(c->role));
		(void)close(sv[0]);
		(void)close(sv[1]);
		child_schedule(c, BACKOFF_MAX_MS);
		return;
	}
	if (pid == 0) {
		(void)close(sv[0]);
		child_exec(c, sv[1]);
	}
	(void)close(sv[1]);
	c->pid = pid;
	c->hello = 0;
	c->ready = 0;
	c->restart_now = 0;
	c->info[0] = '\0';
	c->started = time(NULL);
	(void)clock_gettime(CLOCK_MONOTONIC, &c->started_mono);
	c->ch = xcalloc(1, sizeof(*c->ch));
	channel_init(c->ch, sv[0], ROLE_PARENT, c->role, 0, parent_dispatch,
	    parent_child_closed, c);
	log_debug("%s started, pid %d", role_name(c->role), (int)pid);
}

static struct child *
child_by_pid(pid_t pid)
{
	int	 r;

	for (r = 0; r < ROLE_COUNT; r++)
		if (is_spawned((enum osms_role)r) && children[r].pid == pid)
			return &children[r];
	return NULL;
}

static int
child_up(const struct child *c)
{
	return c->pid != 0 && c->hello && c->ch != NULL &&
	    channel_is_open(c->ch);
}

/*
 * Config slices and links.
 */

static void
send_or_kill(struct child *c, struct msg *m)
{
	if (channel_send(c->ch, m) == -1 && c->pid != 0)
		(void)kill(c->pid, SIGKILL);
}

static int
xdup(int fd)
{
	int	 nfd;

	if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		fatal("dup");
	return nfd;
}

static void
slice_listeners(struct child *c)
{
	struct plistener	*pl;
	struct msg		 m;
	int			 smtp;

	TAILQ_FOREACH(pl, &listeners, entry) {
		smtp = pl->conf.proto == PROTO_SMTP ||
		    pl->conf.proto == PROTO_SUBMISSION;
		if ((c->role == ROLE_SMTPD) != smtp)
			continue;
		msg_init(&m, IMSG_CONF_LISTENER, 0);
		msg_add_u32(&m, pl->conf.proto);
		msg_add_u32(&m, pl->conf.tls);
		msg_add_u32(&m, pl->conf.flags);
		msg_add_str(&m, pl->conf.addr);
		msg_add_u32(&m, pl->conf.port);
		msg_add_str(&m, pl->conf.pki);
		msg_add_fd(&m, xdup(pl->fd));
		send_or_kill(c, &m);
	}
}

/* Open a file for a role (as root); -1 and a log line if it cannot. */
static int
open_for(struct child *c, const char *what, const char *path)
{
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		log_warn("%s: cannot open %s %s", role_name(c->role), what,
		    path);
	return fd;
}

/*
 * The pkis' certificates, for a network role and keyd; their private
 * keys for keyd alone, which signs the network roles' handshakes.
 */
static void
slice_pkis(struct child *c)
{
	struct conf_pki	*pki;
	struct msg	 m;
	int		 certfd, keyfd = -1;

	TAILQ_FOREACH(pki, &conf->pkis, entry) {
		if ((certfd = open_for(c, "certificate", pki->cert)) == -1)
			continue;
		if (c->role == ROLE_KEYD &&
		    (keyfd = open_for(c, "key", pki->key)) == -1) {
			(void)close(certfd);
			continue;
		}
		msg_init(&m, IMSG_CONF_PKI_CERT, 0);
		msg_add_str(&m, pki->name);
		msg_add_fd(&m, certfd);
		send_or_kill(c, &m);
		if (c->role != ROLE_KEYD)
			continue;
		msg_init(&m, IMSG_CONF_PKI_KEY, 0);
		msg_add_str(&m, pki->name);
		msg_add_fd(&m, keyfd);
		send_or_kill(c, &m);
	}
}

/*
 * The queue's routes. A smarthost's password is read here and reaches
 * the queue, which hands it to the mta with each message for that host:
 * the network-facing process keeps none of it between sessions.
 */
static void
slice_relays(struct child *c)
{
	struct conf_relay	*r;
	struct msg		 m;
	char			 secret[CONF_MAX_SECRET + 2];
	ssize_t			 n = 0;
	int			 fd;

	TAILQ_FOREACH(r, &conf->relays, entry) {
		secret[0] = '\0';
		if (r->auth_user[0] != '\0' &&
		    (fd = open_for(c, "relay secret", r->secret)) != -1) {
			n = read(fd, secret, sizeof(secret) - 1);
			(void)close(fd);
			secret[n > 0 ? n : 0] = '\0';
			secret[strcspn(secret, "\r\n")] = '\0';
			if (n < 0 || strlen(secret) > CONF_MAX_SECRET ||
			    str_has_ctl(secret)) {
				log_warnx("queue: relay secret %s: unreadable,"
				    " too long or with control characters",
				    r->secret);
				secret[0] = '\0';
			}
		}
		msg_init(&m, IMSG_CONF_RELAY, 0);
		msg_add_str(&m, r->domain);
		msg_add_str(&m, r->host);
		msg_add_u32(&m, r->port);
		msg_add_u32(&m, r->tls);
		msg_add_str(&m, r->auth_user);
		msg_add_str(&m, secret);
		send_or_kill(c, &m);
		explicit_wipe(m.buf, m.len);
		explicit_wipe(secret, sizeof(secret));
	}
}

/* The mta's resolver and the files it needs: CA certificates, the DNSSEC
 * trust anchor and, without a configured resolver, resolv.conf. */
/* The files of the mta's resolver settings (and its CA file), as the
 * mta and checkd need them, opened here. */
static void
slice_resolver_files(struct child *c, int with_ca)
{
	static const char *const what[] = {
		[MTA_FILE_CA] = "CA file",
		[MTA_FILE_TRUST_ANCHOR] = "trust anchor",
		[MTA_FILE_RESOLV_CONF] = "resolv.conf",
	};
	const char	*paths[3];
	struct msg	 m;
	unsigned	 k;
	int		 fd;

	paths[MTA_FILE_CA] = with_ca ? conf->mta.ca_file : "";
	paths[MTA_FILE_TRUST_ANCHOR] = conf->mta.trust_anchor;
	paths[MTA_FILE_RESOLV_CONF] = conf->mta.resolver[0] == '\0' ?
	    "/etc/resolv.conf" : "";
	for (k = 0; k < 3; k++) {
		if (paths[k][0] == '\0' ||
		    (fd = open_for(c, what[k], paths[k])) == -1)
			continue;
		msg_init(&m, IMSG_CONF_MTA_FILE, 0);
		msg_add_u32(&m, k);
		msg_add_fd(&m, fd);
		send_or_kill(c, &m);
	}
}

static void
slice_mta(struct child *c)
{
	struct msg	 m;

	msg_init(&m, IMSG_CONF_MTA, 0);
	msg_add_str(&m, conf->mta.resolver);
	msg_add_u32(&m, conf->mta.timeout);
	send_or_kill(c, &m);
	slice_resolver_files(c, 1);
}

static void
slice_checkd(struct child *c)
{
	const struct conf_checkd	*ck = &conf->checkd;
	struct msg			 m;

	msg_init(&m, IMSG_CONF_CHECKD, 0);
	msg_add_u32(&m, (uint32_t)ck->spf);
	msg_add_u32(&m, (uint32_t)ck->dkim);
	msg_add_u32(&m, (uint32_t)ck->dmarc);
	msg_add_u32(&m, ck->dmarc_reject);
	msg_add_u32(&m, ck->dmarc_quarantine);
	msg_add_u32(&m, ck->spf_fail);
	msg_add_u32(&m, ck->workers);
	msg_add_str(&m, conf->mta.resolver);
	msg_add_str(&m, ck->public_suffix_list);
	/* One engine: rspamd's address, else spamd's (or none). */
	msg_add_u32(&m, ck->rspamd[0] != '\0' ? SPAM_ENGINE_RSPAMD :
	    SPAM_ENGINE_SPAMD);
	msg_add_str(&m, ck->rspamd[0] != '\0' ? ck->rspamd : ck->spamd);
	msg_add_u32(&m, ck->spam_reject);
	msg_add_u32(&m, ck->spam_junk);
	msg_add_u32(&m, ck->spam_on_failure);
	msg_add_u32(&m, ck->spam_timeout);
	msg_add_u32(&m, (uint32_t)ck->greylist);
	msg_add_u32(&m, ck->grey_delay);
	msg_add_str(&m, ck->grey_exempt);
	msg_add_str(&m, ck->grey_spf_exempt);
	msg_add_str(&m, ck->dnsbl);
	msg_add_u32(&m, ck->dnsbl_threshold);
	msg_add_str(&m, ck->arc_trusted);
	msg_add_u32(&m, (uint32_t)conf_directory_pg(conf));
	send_or_kill(c, &m);
	slice_resolver_files(c, 0);
}

/* The SRS domain and secret, for the queue (forward) and authd (back). */
static void
slice_srs(struct child *c)
{
	struct msg	 m;
	unsigned char	 secret[257];
	ssize_t		 n;
	size_t		 len;
	int		 fd;

	if (conf->srs_domain[0] == '\0' ||
	    (fd = open_for(c, "srs secret", conf->srs_secret)) == -1)
		return;
	n = read(fd, secret, sizeof(secret));
	(void)close(fd);
	len = n > 0 ? (size_t)n : 0;
	while (len > 0 && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
		len--;
	if (n < 0 || len < 16 || (size_t)n == sizeof(secret)) {
		log_warnx("%s: srs secret %s: unreadable, or not 16 to 256"
		    " bytes: forwarded mail keeps its sender",
		    role_name(c->role), conf->srs_secret);
		explicit_wipe(secret, sizeof(secret));
		return;
	}
	msg_init(&m, IMSG_CONF_SRS, 0);
	msg_add_str(&m, conf->srs_domain);
	msg_add_data(&m, secret, len);
	send_or_kill(c, &m);
	explicit_wipe(m.buf, m.len);
	explicit_wipe(secret, sizeof(secret));
}

/* The gateway's store and its policy rules, in order. */
static void
slice_cryptod(struct child *c)
{
	const struct policy_rule	*pr;
	struct msg			 m;
	char				 rule[POLICY_MAX_TEXT];
	int				 fd;

	msg_init(&m, IMSG_CONF_CRYPTOD, 0);
	msg_add_str(&m, conf->cryptod.store);
	msg_add_str(&m, conf->hostname);
	msg_add_str(&m, conf->cryptod.policy_table);
	send_or_kill(c, &m);
	/* cryptod cannot open the root-only master key: it gets it open. */
	if (conf->cryptod.master_key[0] != '\0') {
		if ((fd = open(conf->cryptod.master_key, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) == -1)
			log_warn("master-key %s", conf->cryptod.master_key);
		else {
			msg_init(&m, IMSG_CONF_CRYPT_MASTER, 0);
			msg_add_fd(&m, fd);
			send_or_kill(c, &m);
		}
	}
	TAILQ_FOREACH(pr, &conf->cryptod.rules, entry) {
		policy_rule_format(pr, rule, sizeof(rule));
		msg_init(&m, IMSG_CONF_CRYPT_RULE, 0);
		msg_add_str(&m, rule);
		msg_add_u32(&m, (uint32_t)pr->line);
		send_or_kill(c, &m);
	}
}

/* cryptod's DKIM keys, as descriptors. */
static void
slice_dkim(struct child *c)
{
	struct conf_dkim	*d;
	struct msg		 m;
	int			 fd;

	TAILQ_FOREACH(d, &conf->dkims, entry) {
		if ((fd = open_for(c, "dkim key", d->key)) == -1)
			continue;
		msg_init(&m, IMSG_CONF_DKIM, 0);
		msg_add_str(&m, d->domain);
		msg_add_str(&m, d->selector);
		msg_add_fd(&m, fd);
		send_or_kill(c, &m);
	}
}

/* authd's tables (file tables as descriptors) and domains. */
static void
slice_directory(struct child *c)
{
	struct conf_table	*t;
	struct conf_domain	*d;
	struct msg		 m;
	int			 fd;

	/* Before the files are opened: a change after this is seen again. */
	tables_seen = tables_fingerprint(conf);
	TAILQ_FOREACH(t, &conf->tables, entry) {
		if (t->backend == TABLE_POSTGRES) {
			int	 q;

			/* The conninfo (a password, maybe) reaches only
			 * authd. */
			msg_init(&m, IMSG_CONF_TABLE_PG, 0);
			msg_add_str(&m, t->name);
			msg_add_str(&m, t->source);
			for (q = 0; q < TQ_COUNT; q++)
				msg_add_str(&m, t->queries[q]);
			send_or_kill(c, &m);
			explicit_wipe(m.buf, m.len);
			continue;
		}
		if ((fd = open_for(c, "table", t->source)) == -1)
			continue;
		msg_init(&m, IMSG_CONF_TABLE_FILE, 0);
		msg_add_str(&m, t->name);
		msg_add_str(&m, t->source);
		msg_add_fd(&m, fd);
		send_or_kill(c, &m);
	}
	TAILQ_FOREACH(d, &conf->domains, entry) {
		msg_init(&m, IMSG_CONF_DOMAIN, 0);
		msg_add_str(&m, d->name);
		msg_add_str(&m, d->users);
		msg_add_str(&m, d->aliases);
		send_or_kill(c, &m);
	}
	msg_init(&m, IMSG_CONF_AUTHD, 0);
	msg_add_u32(&m, conf->smtpd.auth_max_failures);
	send_or_kill(c, &m);
}

static void
slice_send(struct child *c)
{
	struct msg	 m;

	msg_init(&m, IMSG_CONF_START, 0);
	msg_add_u32(&m, generation);
	msg_add_u32(&m, (uint32_t)log_getverbose());
	msg_add_u32(&m, (uint32_t)creds[c->role].uid);
	msg_add_u32(&m, (uint32_t)creds[c->role].gid);
	msg_add_str(&m, creds[c->role].jail);
	msg_add_str(&m, conf->hostname);
	send_or_kill(c, &m);

	switch (c->role) {
	case ROLE_SMTPD:
		slice_pkis(c);
		slice_listeners(c);
		msg_init(&m, IMSG_CONF_SMTPD, 0);
		msg_add_u64(&m, conf->smtpd.max_message_size);
		msg_add_u32(&m, conf->smtpd.max_recipients);
		msg_add_u32(&m, conf->smtpd.max_line);
		msg_add_u32(&m, conf->smtpd.timeout);
		msg_add_u32(&m, (uint32_t)conf->smtpd.sender_check);
		msg_add_u32(&m, conf->smtpd.max_messages_per_hour);
		msg_add_u32(&m, conf->smtpd.max_client_sessions);
		msg_add_u32(&m, conf->smtpd.max_client_connections);
		msg_add_u32(&m, conf->smtpd.max_client_recipients);
		send_or_kill(c, &m);
		msg_init(&m, IMSG_CONF_SMTPD_SCAN, 0);
		msg_add_u32(&m, (uint32_t)conf->scand.enable);
		msg_add_u32(&m, conf->scand.timeout);
		msg_add_u32(&m, conf->scand.action);
		msg_add_u32(&m, conf->scand.submission_action);
		msg_add_u32(&m, conf->scand.unscannable);
		msg_add_u32(&m, conf->scand.on_failure);
		send_or_kill(c, &m);
		msg_init(&m, IMSG_CONF_SMTPD_CHECK, 0);
		msg_add_u32(&m, (uint32_t)conf->checkd.enable);
		msg_add_u32(&m, conf->checkd.timeout);
		msg_add_u32(&m, conf->checkd.on_failure);
		msg_add_u32(&m, (uint32_t)(conf->checkd.enable &&
		    conf->checkd.greylist));
		msg_add_u32(&m, !conf->checkd.enable ||
		    conf->checkd.dnsbl[0] == '\0' ? 0 :
		    conf->checkd.dnsbl_score ? 2 : 1);
		send_or_kill(c, &m);
		break;
	case ROLE_CHECKD:
		slice_checkd(c);
		break;
	case ROLE_KEYD:
		slice_pkis(c);
		break;
	case ROLE_SCAND:
		msg_init(&m, IMSG_CONF_SCAND, 0);
		msg_add_u32(&m, conf->scand.workers);
		msg_add_u64(&m, conf->scand.max_scansize);
		msg_add_u64(&m, conf->scand.max_filesize);
		msg_add_u32(&m, conf->scand.max_files);
		msg_add_u32(&m, conf->scand.max_recursion);
		send_or_kill(c, &m);
		break;
	case ROLE_IMAPD:
		slice_pkis(c);
		slice_listeners(c);
		msg_init(&m, IMSG_CONF_IMAPD, 0);
		msg_add_u32(&m, conf->imapd.login_timeout);
		send_or_kill(c, &m);
		break;
	case ROLE_QUEUE:
		msg_init(&m, IMSG_CONF_QUEUE, 0);
		msg_add_u32(&m, conf->queue.delay_warning);
		msg_add_u32(&m, conf->queue.lifetime);
		msg_add_u32(&m, conf->queue.max_retry);
		msg_add_u32(&m, conf->mta.domain_connections);
		msg_add_u32(&m, conf->cryptod.store[0] != '\0');
		send_or_kill(c, &m);
		slice_relays(c);
		slice_srs(c);
		break;
	case ROLE_MTA:
		slice_mta(c);
		break;
	case ROLE_CRYPTOD:
		slice_cryptod(c);
		slice_dkim(c);
		break;
	case ROLE_AUTHD:
		slice_directory(c);
		slice_srs(c);
		break;
	case ROLE_CONTROL:
		msg_init(&m, IMSG_CONF_CONTROL, 0);
		msg_add_fd(&m, xdup(control_fd));
		send_or_kill(c, &m);
		break;
	default:
		break;
	}
	msg_init(&m, IMSG_CONF_END, 0);
	send_or_kill(c, &m);
}

/* A fresh channel between two running, linked roles. */
static void
link_roles(struct child *a, struct child *b)
{
	struct msg	 m;
	int		 sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("link %s-%s: socketpair", role_name(a->role),
		    role_name(b->role));
		(void)kill(a->pid, SIGTERM);	/* retry through restart */
		return;
	}
	msg_init(&m, IMSG_PEER, 0);
	msg_add_u32(&m, b->role);
	msg_add_fd(&m, sv[0]);
	send_or_kill(a, &m);
	msg_init(&m, IMSG_PEER, 0);
	msg_add_u32(&m, a->role);
	msg_add_fd(&m, sv[1]);
	send_or_kill(b, &m);
}

static void
child_hello(struct child *c, struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 version;
	int			 o;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &version);
	if (msg_end(&r) == -1 || c->hello) {
		channel_bad_message(c->ch, imsg, "bad hello");
		return;
	}
	if (version != OSMS_IMSG_VERSION) {
		log_warnx("%s speaks protocol %u, osmsd %u: reinstall osms",
		    role_name(c->role), version, OSMS_IMSG_VERSION);
		c->ch->broken = 1;
		channel_close(c->ch);
		return;
	}
	c->hello = 1;
	slice_send(c);
	for (o = 0; o < ROLE_COUNT; o++)
		if (role_linked(c->role, (enum osms_role)o) &&
		    child_up(&children[o]))
			link_roles(c, &children[o]);
}

/*
 * Status (osmsctl status).
 */

static void
status_reply(struct status_req *sr)
{
	struct channel	*ctl = children[ROLE_CONTROL].ch;
	struct child	*c;
	struct msg	 m;
	char		 info[64];
	const char	*state;
	int		 r;

	TAILQ_REMOVE(&status_reqs, sr, entry);
	(void)evtimer_del(&sr->timeout);
	if (ctl == NULL || !channel_is_open(ctl)) {
		free(sr);
		return;
	}
	(void)snprintf(info, sizeof(info), "config generation %u, %zu mail"
	    " sessions", generation, sessions_count());
	msg_init(&m, IMSG_CTL_STATUS_ROLE, sr->id);
	msg_add_u32(&m, ROLE_PARENT);
	msg_add_u32(&m, (uint32_t)getpid());
	msg_add_s64(&m, parent_started);
	msg_add_u32(&m, 0);
	msg_add_str(&m, stopping ? "stopping" : "running");
	msg_add_str(&m, info);
	(void)channel_send(ctl, &m);

	for (r = 0; r < ROLE_COUNT; r++) {
		if (!is_spawned((enum osms_role)r))
			continue;
		c = &children[r];
		if (c->pid == 0)
			state = stopping ? "stopped" : "restarting";
		else if (!c->ready)
			state = "starting";
		else if (c->ping_round == sr->round && !c->ponged)
			state = "unresponsive";
		else
			state = "ready";
		msg_init(&m, IMSG_CTL_STATUS_ROLE, sr->id);
		msg_add_u32(&m, (uint32_t)r);
		msg_add_u32(&m, (uint32_t)c->pid);
		msg_add_s64(&m, c->started);
		msg_add_u32(&m, c->restarts);
		msg_add_str(&m, state);
		msg_add_str(&m, c->ping_round == sr->round && c->ponged ?
		    c->info : "");
		(void)channel_send(ctl, &m);
	}
	msg_init(&m, IMSG_CTL_RESULT, sr->id);
	msg_add_u32(&m, 1);
	msg_add_str(&m, "");
	(void)channel_send(ctl, &m);
	free(sr);
}

static void
status_timeout(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	status_reply(arg);
}

static void
status_start(uint64_t id)
{
	struct status_req	*sr;
	struct timeval		 tv;
	struct msg		 m;
	int			 r;

	sr = xcalloc(1, sizeof(*sr));
	sr->id = id;
	sr->round = ++ping_rounds;
	TAILQ_INSERT_TAIL(&status_reqs, sr, entry);
	for (r = 0; r < ROLE_COUNT; r++) {
		struct child *c = &children[r];

		if (!is_spawned((enum osms_role)r) || !child_up(c) ||
		    !c->ready)
			continue;
		c->ping_round = sr->round;
		c->ponged = 0;
		msg_init(&m, IMSG_PING, sr->round);
		if (channel_send(c->ch, &m) == 0)
			sr->waiting++;
	}
	if (sr->waiting == 0) {
		status_reply(sr);
		return;
	}
	tv.tv_sec = STATUS_TIMEOUT_MS / 1000;
	tv.tv_usec = (STATUS_TIMEOUT_MS % 1000) * 1000;
	evtimer_assign(&sr->timeout, osms_evbase, status_timeout, sr);
	evtimer_add(&sr->timeout, &tv);
}

static void
child_pong(struct child *c, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct status_req	*sr;
	char			 info[sizeof(c->info)];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, info, sizeof(info));
	if (msg_end(&r) == -1) {
		channel_bad_message(c->ch, imsg, "bad payload");
		return;
	}
	if (c->ping_round != imsg->hdr.id || c->ponged)
		return;		/* late answer to an earlier round */
	c->ponged = 1;
	(void)osms_strlcpy(c->info, info, sizeof(c->info));
	TAILQ_FOREACH(sr, &status_reqs, entry)
		if (sr->round == imsg->hdr.id) {
			if (--sr->waiting == 0)
				status_reply(sr);
			break;
		}
}

/*
 * Reload, log level, stop.
 */

static int
parent_reload(char *err, size_t errsize)
{
	struct osms_conf	*nconf;
	struct role_cred	 ncreds[ROLE_COUNT];
	struct plistener_list	 nlisteners;
	char			*text = NULL;
	size_t			 textlen = 0;
	FILE			*errfp;
	int			 r;

	if ((errfp = open_memstream(&text, &textlen)) == NULL)
		fatal("open_memstream");
	nconf = conf_parse_file(osmsd_conf_path, errfp, osmsd_defines);
	if (nconf != NULL && conf_check_files(nconf, errfp) == -1) {
		conf_free(nconf);
		nconf = NULL;
	}
	(void)fclose(errfp);
	if (nconf == NULL) {
		size_t	 n;

		/* Keep the first lines; they name file and line. */
		(void)osms_strlcpy(err, text != NULL && *text ? text :
		    "configuration error", errsize);
		free(text);
		if ((n = strlen(err)) > 0 && err[n - 1] == '\n')
			err[n - 1] = '\0';
		return -1;
	}
	free(text);

	if (nconf->hostname[0] == '\0')
		(void)osms_strlcpy(nconf->hostname, conf->hostname,
		    sizeof(nconf->hostname));
	memset(ncreds, 0, sizeof(ncreds));
	if (users_prepare(nconf, ncreds, 1, err, errsize) == -1 ||
	    listen_open_all(nconf, &listeners, &nlisteners, err,
	    errsize) == -1) {
		conf_free(nconf);
		return -1;
	}
	if (strcmp(nconf->control_socket, conf->control_socket) != 0) {
		log_warnx("a new control socket path takes effect when osmsd"
		    " restarts; still using %s", conf->control_socket);
		(void)osms_strlcpy(nconf->control_socket,
		    conf->control_socket, sizeof(nconf->control_socket));
	}
	/* Sockets no longer configured close here; sessions accepted on
	 * them live on in their role. */
	listen_close_all(&listeners);
	TAILQ_CONCAT(&listeners, &nlisteners, entry);
	conf_free(conf);
	conf = nconf;
	generation++;

	for (r = 0; r < ROLE_COUNT; r++) {
		struct child *c = &children[r];

		if (!is_spawned((enum osms_role)r))
			continue;
		if (ncreds[r].uid != creds[r].uid ||
		    ncreds[r].gid != creds[r].gid ||
		    strcmp(ncreds[r].jail, creds[r].jail) != 0 ||
		    strcmp(ncreds[r].writes, creds[r].writes) != 0) {
			creds[r] = ncreds[r];
			if (c->pid != 0) {
				log_info("%s: user, jail or writable directory"
				    " changed; restarting it", role_name(c->role));
				c->restart_now = 1;
				(void)kill(c->pid, SIGTERM);
			}
			continue;
		}
		if (child_up(c))
			slice_send(c);
	}
	log_info("configuration reloaded (generation %u)", generation);
	(void)snprintf(err, errsize, "configuration reloaded (generation %u)",
	    generation);
	return 0;
}

/* Each error of a failed reload on a log line of its own. */
static void
log_reload_failure(char *err)
{
	char	*line, *next;

	log_warnx("reload failed; the running configuration stays");
	for (line = err; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		log_warnx("%s", line);
		if (next != NULL)
			next[-1] = '\n';
	}
}

static void
parent_set_verbose(int level)
{
	struct msg	 m;
	int		 r;

	log_setverbose(level);
	osmsd_verbose = level;
	for (r = 0; r < ROLE_COUNT; r++) {
		if (!is_spawned((enum osms_role)r) || !child_up(&children[r]))
			continue;
		msg_init(&m, IMSG_LOG_VERBOSE, 0);
		msg_add_u32(&m, (uint32_t)level);
		(void)channel_send(children[r].ch, &m);
	}
	log_info("log %s", level > 0 ? "verbose" : "brief");
}

static _Noreturn void
parent_exit(void)
{
	(void)unlink(conf->control_socket);
	listen_close_all(&listeners);
	log_info("stopped");
	exit(0);
}

static int
children_running(void)
{
	int	 r, n = 0;

	for (r = 0; r < ROLE_COUNT; r++)
		if (is_spawned((enum osms_role)r) && children[r].pid != 0)
			n++;
	return n + (int)sessions_count();
}

static void
stop_control_if_last(void)
{
	struct child	*c = &children[ROLE_CONTROL];

	if (stopping && c->pid != 0 && children_running() == 1) {
		if (c->ch != NULL)
			channel_flush_sync(c->ch);
		(void)kill(c->pid, SIGTERM);
	}
}

static void
parent_killtimer(evutil_socket_t fd, short ev, void *arg)
{
	int	 r;

	(void)fd;
	(void)ev;
	(void)arg;
	sessions_kill();
	for (r = 0; r < ROLE_COUNT; r++)
		if (is_spawned((enum osms_role)r) && children[r].pid != 0) {
			log_warnx("%s (pid %d) did not stop; killing it",
			    role_name((enum osms_role)r),
			    (int)children[r].pid);
			(void)kill(children[r].pid, SIGKILL);
		}
}

static void
parent_stop(void)
{
	struct timeval	 tv = { STOP_GRACE_SECONDS, 0 };
	int		 r;

	if (stopping)
		return;
	stopping = 1;
	log_info("stopping");
	sessions_stop();
	/* Control goes last, so osmsctl hears the answer and sees the
	 * tree stop. */
	for (r = 0; r < ROLE_COUNT; r++) {
		if (!is_spawned((enum osms_role)r))
			continue;
		(void)evtimer_del(&children[r].restart_ev);
		if (children[r].pid != 0 && r != ROLE_CONTROL)
			(void)kill(children[r].pid, SIGTERM);
	}
	stop_control_if_last();
	if (children_running() == 0)
		parent_exit();
	evtimer_assign(&ev_killtimer, osms_evbase, parent_killtimer, NULL);
	evtimer_add(&ev_killtimer, &tv);
}

/*
 * Messages from children.
 */

static void
ctl_result(uint64_t id, int ok, const char *text)
{
	struct channel	*ctl = children[ROLE_CONTROL].ch;
	struct msg	 m;

	if (ctl == NULL || !channel_is_open(ctl))
		return;
	msg_init(&m, IMSG_CTL_RESULT, id);
	msg_add_u32(&m, ok ? 1 : 0);
	msg_add_str(&m, text);
	(void)channel_send(ctl, &m);
}

static void
parent_dispatch_control(struct child *c, struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 version, level = 0;
	char			 err[2048];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &version);
	if (imsg->hdr.type == IMSG_CTL_LOG_VERBOSE)
		(void)msg_get_u32(&r, &level);
	if (msg_end(&r) == -1) {
		channel_bad_message(c->ch, imsg, "bad payload");
		return;
	}
	if (version != OSMS_IMSG_VERSION) {
		ctl_result(imsg->hdr.id, 0,
		    "osmsctl and osmsd versions differ");
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_CTL_STATUS:
		status_start(imsg->hdr.id);
		break;
	case IMSG_CTL_RELOAD:
		log_info("reload requested by osmsctl");
		if (parent_reload(err, sizeof(err)) == -1) {
			log_reload_failure(err);
			ctl_result(imsg->hdr.id, 0, err);
		} else
			ctl_result(imsg->hdr.id, 1, err);
		break;
	case IMSG_CTL_STOP:
		log_info("stop requested by osmsctl");
		ctl_result(imsg->hdr.id, 1, "stopping");
		channel_flush_sync(c->ch);
		parent_stop();
		break;
	case IMSG_CTL_LOG_VERBOSE:
		parent_set_verbose(level > 2 ? 2 : (int)level);
		ctl_result(imsg->hdr.id, 1, level > 0 ? "log verbose" :
		    "log brief");
		break;
	default:
		break;
	}
}

/* A file table changed by hand: authd reads the tables again. */
static void
tables_watch(evutil_socket_t fd, short ev, void *arg)
{
	struct child	*c = &children[ROLE_AUTHD];
	struct timeval	 tv = { TABLES_WATCH_SEC, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	if (child_up(c) && tables_fingerprint(conf) != tables_seen) {
		log_info("file tables changed on disk; authd reads them"
		    " again");
		slice_send(c);
	}
	evtimer_add(&ev_tables, &tv);
}

/*
 * authd asks to change a line of a file table (osmsctl user add ...):
 * the parent owns the file. The change is checked, written atomically,
 * and the tables go to authd again before the answer, so the change is
 * live when osmsctl hears it is done.
 */
static void
parent_table_edit(struct child *c, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct conf_table	*t;
	struct msg		 m;
	uint32_t		 op;
	char			 name[CONF_MAX_NAME], key[1024];
	char			 value[TABLE_EDIT_MAX_VALUE], err[256];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &op);
	(void)msg_get_str(&r, name, sizeof(name));
	(void)msg_get_str(&r, key, sizeof(key));
	(void)msg_get_str(&r, value, sizeof(value));
	if (msg_end(&r) == -1 || c->role != ROLE_AUTHD) {
		channel_bad_message(c->ch, imsg, "bad table edit");
		return;
	}
	err[0] = '\0';
	if ((t = conf_table_find(conf, name)) == NULL ||
	    t->backend != TABLE_FILE)
		(void)osms_strlcpy(err, "no such file table", sizeof(err));
	else if (table_file_edit(t->source, op, key, value, err,
	    sizeof(err)) == 0)
		slice_send(c);	/* the new tables, before the answer */
	explicit_wipe(value, sizeof(value));
	msg_init(&m, IMSG_PARENT_TABLE_EDITED, imsg->hdr.id);
	msg_add_u32(&m, err[0] == '\0');
	msg_add_str(&m, err[0] == '\0' ? "done" : err);
	(void)channel_send(c->ch, &m);
	log_info("table %s: %s %s: %s", name, op == TABLE_EDIT_DEL ?
	    "remove" : "set", key, err[0] == '\0' ? "done" : err);
}

static void
parent_dispatch(struct channel *ch, struct imsg *imsg)
{
	struct child		*c = ch->arg;
	struct msg_reader	 r;
	uint32_t		 role;

	if (c->ch != ch)
		return;		/* an old channel of a restarted child */
	if (!c->hello && imsg->hdr.type != IMSG_HELLO) {
		channel_bad_message(ch, imsg, "message before hello");
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_HELLO:
		child_hello(c, imsg);
		break;
	case IMSG_READY:
		if (imsg->datalen != 0 || c->ready) {
			channel_bad_message(ch, imsg, "bad ready");
			return;
		}
		c->ready = 1;
		log_info("%s ready, pid %d", role_name(c->role), (int)c->pid);
		break;
	case IMSG_PONG:
		child_pong(c, imsg);
		break;
	case IMSG_PEER_BAD:
		msg_reader_init(&r, imsg);
		(void)msg_get_u32(&r, &role);
		if (msg_end(&r) == -1 || !role_linked(c->role, role)) {
			channel_bad_message(ch, imsg, "bad payload");
			return;
		}
		if (children[role].pid != 0) {
			log_warnx("%s reports garbage from %s; killing %s",
			    role_name(c->role), role_name(role),
			    role_name(role));
			(void)kill(children[role].pid, SIGKILL);
		}
		break;
	case IMSG_CTL_STATUS:
	case IMSG_CTL_RELOAD:
	case IMSG_CTL_STOP:
	case IMSG_CTL_LOG_VERBOSE:
		parent_dispatch_control(c, imsg);
		break;
	case IMSG_PARENT_TABLE_EDIT:
		parent_table_edit(c, imsg);
		break;
	case IMSG_IMAP_LOGIN:
		sessions_login(imsg);
		break;
	case IMSG_AUTH_REDEEMED:
		sessions_redeemed(imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
parent_child_closed(struct channel *ch)
{
	struct child	*c = ch->arg;

	if (c->ch == ch) {
		c->ch = NULL;
		/* A child that broke the protocol, or closed its channel
		 * while running, is of no use: make it exit. */
		if (c->pid != 0) {
			if (ch->broken)
				log_warnx("%s (pid %d) broke the protocol;"
				    " killing it", role_name(c->role),
				    (int)c->pid);
			(void)kill(c->pid, SIGKILL);
		}
	}
	free(ch);
}

/*
 * Signals.
 */

static void
parent_sigchld(evutil_socket_t sig, short ev, void *arg)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;
	double		 up;

	(void)sig;
	(void)ev;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = child_by_pid(pid)) == NULL) {
			(void)sessions_reap(pid, status);
			continue;
		}
		if (WIFSIGNALED(status))
			log_warnx("%s (pid %d) killed by signal %d%s",
			    role_name(c->role), (int)pid, WTERMSIG(status),
			    WTERMSIG(status) == SIGSYS ?
			    " (a system call outside its allow-list)" : "");
		else if (WEXITSTATUS(status) != 0)
			log_warnx("%s (pid %d) exited with status %d",
			    role_name(c->role), (int)pid, WEXITSTATUS(status));
		else if (!stopping && !c->restart_now)
			log_warnx("%s (pid %d) exited", role_name(c->role),
			    (int)pid);
		else
			log_debug("%s (pid %d) exited", role_name(c->role),
			    (int)pid);
		c->pid = 0;
		c->hello = 0;
		c->ready = 0;
		if (c->ch != NULL) {
			struct channel *old = c->ch;

			c->ch = NULL;
			channel_close(old);	/* freed in its callback */
		}
		if (stopping)
			continue;
		up = mono_seconds_since(&c->started_mono);
		if (c->restart_now)
			c->backoff_ms = 0;
		else if (up >= STABLE_SECONDS || c->backoff_ms == 0)
			c->backoff_ms = BACKOFF_FIRST_MS;
		else if ((c->backoff_ms *= 2) > BACKOFF_MAX_MS)
			c->backoff_ms = BACKOFF_MAX_MS;
		c->restarts++;
		if (c->backoff_ms > 0)
			log_info("restarting %s in %u ms", role_name(c->role),
			    c->backoff_ms);
		child_schedule(c, c->backoff_ms);
	}
	if (stopping) {
		stop_control_if_last();
		if (children_running() == 0)
			parent_exit();
	}
}

static void
parent_sigterm(evutil_socket_t sig, short ev, void *arg)
{
	(void)ev;
	(void)arg;
	log_info("received %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	parent_stop();
}

static void
parent_sighup(evutil_socket_t sig, short ev, void *arg)
{
	char	 err[2048];

	(void)sig;
	(void)ev;
	(void)arg;
	log_info("reload requested by SIGHUP");
	if (parent_reload(err, sizeof(err)) == -1)
		log_reload_failure(err);
}

void
parent_run(struct osms_conf *c, struct role_cred *rc,
    struct plistener_list *pl, int cfd, const char *lx)
{
	int	 r;

	conf = c;
	memcpy(creds, rc, sizeof(creds));
	TAILQ_INIT(&listeners);
	TAILQ_CONCAT(&listeners, pl, entry);
	control_fd = cfd;
	(void)osms_strlcpy(libexec, lx, sizeof(libexec));
	parent_started = time(NULL);

	if ((osms_evbase = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	(void)signal(SIGPIPE, SIG_IGN);
	evsignal_assign(&ev_sigterm, osms_evbase, SIGTERM, parent_sigterm,
	    NULL);
	evsignal_assign(&ev_sigint, osms_evbase, SIGINT, parent_sigterm, NULL);
	evsignal_assign(&ev_sighup, osms_evbase, SIGHUP, parent_sighup, NULL);
	evsignal_assign(&ev_sigchld, osms_evbase, SIGCHLD, parent_sigchld,
	    NULL);
	if (evsignal_add(&ev_sigterm, NULL) == -1 ||
	    evsignal_add(&ev_sigint, NULL) == -1 ||
	    evsignal_add(&ev_sighup, NULL) == -1 ||
	    evsignal_add(&ev_sigchld, NULL) == -1)
		fatal("evsignal_add");

	/* Before the first role: each runs under this list from its start. */
	sysfilter_enter(ROLE_PARENT);

	for (r = 0; r < ROLE_COUNT; r++) {
		if (!is_spawned((enum osms_role)r))
			continue;
		children[r].role = (enum osms_role)r;
		evtimer_assign(&children[r].restart_ev, osms_evbase,
		    child_restart_ev, &children[r]);
	}
	for (r = 0; r < ROLE_COUNT; r++)
		if (is_spawned((enum osms_role)r))
			child_spawn(&children[r]);
	evtimer_assign(&ev_tables, osms_evbase, tables_watch, NULL);
	tables_watch(-1, 0, NULL);
	log_info("started, pid %d", (int)getpid());

	if (event_base_dispatch(osms_evbase) == -1)
		fatalx("event_base_dispatch failed");
	fatalx("event loop ended");
}
