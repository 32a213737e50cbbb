/*
 * The life of a role process: see proc.h.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "sandbox.h"
#include "sysfilter.h"
#include "util.h"

static const struct proc_ops	*ops;
static struct proc_conf		 pconf;
static struct channel		 parent;
static struct channel		*peers[ROLE_COUNT];
static int			 in_slice;
static int			 sandboxed;
static struct event		 ev_sigterm;

static void	 proc_dispatch_parent(struct channel *, struct imsg *);
static void	 proc_parent_closed(struct channel *);
static void	 proc_dispatch_peer(struct channel *, struct imsg *);
static void	 proc_peer_closed(struct channel *);

const struct proc_conf *
proc_conf(void)
{
	return &pconf;
}

struct channel *
proc_parent(void)
{
	return &parent;
}

struct channel *
proc_peer(enum osms_role r)
{
	if ((unsigned)r >= ROLE_COUNT)
		return NULL;
	return peers[r];
}

static _Noreturn void
proc_exit(int status)
{
	if (ops->shutdown != NULL)
		ops->shutdown();
	channel_flush_sync(&parent);
	exit(status);
}

static void
proc_sigterm(evutil_socket_t sig, short ev, void *arg)
{
	(void)sig;
	(void)ev;
	(void)arg;
	log_debug("stopping on SIGTERM");
	/* What the parent sent before the signal still gets handled. */
	channel_drain(&parent);
	proc_exit(0);
}

static void
proc_pong(struct channel *ch, uint64_t id)
{
	struct msg	 m;
	char		 state[128] = "idle";

	if (ops->state != NULL)
		ops->state(state, sizeof(state));
	msg_init(&m, IMSG_PONG, id);
	msg_add_str(&m, state);
	(void)channel_send(ch, &m);
}

static void
proc_conf_start(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct proc_conf	 pc;
	uint32_t		 verbose, uid, gid;

	memset(&pc, 0, sizeof(pc));
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &pc.generation);
	(void)msg_get_u32(&r, &verbose);
	(void)msg_get_u32(&r, &uid);
	(void)msg_get_u32(&r, &gid);
	(void)msg_get_str(&r, pc.jail, sizeof(pc.jail));
	(void)msg_get_str(&r, pc.hostname, sizeof(pc.hostname));
	if (msg_end(&r) == -1) {
		channel_bad_message(ch, imsg, "bad payload");
		return;
	}
	if (in_slice)
		fatalx("config slice inside a config slice");
	pc.uid = (uid_t)uid;
	pc.gid = (gid_t)gid;
	/* The parent restarts a role whose user or jail changed. */
	if (sandboxed && (pc.uid != pconf.uid || pc.gid != pconf.gid ||
	    strcmp(pc.jail, pconf.jail) != 0))
		log_warnx("new user or jail ignored until restart");
	if (!sandboxed)
		pconf = pc;
	else {
		pconf.generation = pc.generation;
		(void)osms_strlcpy(pconf.hostname, pc.hostname,
		    sizeof(pconf.hostname));
	}
	log_setverbose((int)verbose);
	in_slice = 1;
}

/*
 * A role without a chroot reaches the system's programs and libraries,
 * its configuration in /etc (the C library's, libpq's, GnuPG's), and
 * what the role asks for; nothing else.
 */
static void
proc_landlock(void)
{
	struct landlock	*ll = landlock_new();

	landlock_allow(ll, "/usr", LL_READ | LL_EXEC);
	landlock_allow(ll, "/lib", LL_READ | LL_EXEC);
	landlock_allow(ll, "/lib64", LL_READ | LL_EXEC);
	landlock_allow(ll, "/bin", LL_READ | LL_EXEC);
	landlock_allow(ll, "/etc", LL_READ);
	landlock_allow(ll, "/dev/null", LL_READ | LL_WRITE);
	landlock_allow(ll, "/dev/urandom", LL_READ);
	landlock_allow(ll, "/proc", LL_READ);
	if (ops->paths != NULL)
		ops->paths(ll);
	(void)landlock_enter(ll);
}

static void
proc_conf_end(void)
{
	struct msg		 m;
	struct sandbox		 sb;

	if (!in_slice)
		fatalx("config slice end without start");
	in_slice = 0;
	if (sandboxed) {
		if (ops->conf_end != NULL)
			ops->conf_end(1);
		log_debug("configuration %u applied", pconf.generation);
		return;
	}
	if (ops->conf_end != NULL)
		ops->conf_end(0);
	if (ops->setup != NULL)
		ops->setup();

	memset(&sb, 0, sizeof(sb));
	sb.jail = pconf.jail;
	sb.uid = pconf.uid;
	sb.gid = pconf.gid;
	sb.secrets = role_info(ops->role)->secrets;
	sb.max_memory = (size_t)role_info(ops->role)->memory_mb << 20;
	sandbox_enter(&sb);
	if (role_info(ops->role)->jail == JAIL_NONE)
		proc_landlock();
	sysfilter_enter(ops->role);
	sandboxed = 1;

	msg_init(&m, IMSG_READY, 0);
	if (channel_send(&parent, &m) == -1)
		fatalx("cannot tell the parent");
	log_debug("ready: uid %u, jail %s", (unsigned)pconf.uid,
	    pconf.jail[0] ? pconf.jail : "(none)");
	if (ops->ready != NULL)
		ops->ready();
}

static void
proc_peer_new(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct channel		*pch;
	uint32_t		 role;
	int			 fd;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &role);
	if (msg_end(&r) == -1 || imsg->fd == -1) {
		channel_bad_message(ch, imsg, "bad payload");
		return;
	}
	if (!role_linked(ops->role, (enum osms_role)role))
		fatalx("parent offers a channel to %s, which is not linked",
		    role_name((enum osms_role)role));
	fd = imsg_take_fd(imsg);
	if (peers[role] != NULL) {
		log_debug("channel to %s replaced", role_name(role));
		channel_close(peers[role]);	/* frees in its callback */
		peers[role] = NULL;
		/*
		 * A new channel means a new process: the old one died before
		 * we saw its channel close, and the callback will not find
		 * it, so what waited on it is lost now.
		 */
		if (ops->peer_down != NULL)
			ops->peer_down((enum osms_role)role);
	}
	pch = xcalloc(1, sizeof(*pch));
	channel_init(pch, fd, ops->role, (enum osms_role)role, 0,
	    proc_dispatch_peer, proc_peer_closed, NULL);
	peers[role] = pch;
	log_debug("channel to %s up", role_name(role));
	if (ops->peer_up != NULL)
		ops->peer_up((enum osms_role)role);
}

static void
proc_dispatch_parent(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 level;

	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
		proc_conf_start(ch, imsg);
		break;
	case IMSG_CONF_END:
		if (imsg->datalen != 0) {
			channel_bad_message(ch, imsg, "bad payload");
			return;
		}
		proc_conf_end();
		break;
	case IMSG_PEER:
		proc_peer_new(ch, imsg);
		break;
	case IMSG_PING:
		proc_pong(ch, imsg->hdr.id);
		break;
	case IMSG_LOG_VERBOSE:
		msg_reader_init(&r, imsg);
		(void)msg_get_u32(&r, &level);
		if (msg_end(&r) == -1) {
			channel_bad_message(ch, imsg, "bad payload");
			return;
		}
		log_setverbose((int)level);
		log_info("log level %u", level);
		break;
	default:
		if (in_slice && ops->conf != NULL)
			ops->conf(imsg);
		else if (!in_slice && ops->dispatch_parent != NULL)
			ops->dispatch_parent(imsg);
		else
			fatalx("unexpected %s from parent",
			    imsg_type_name(imsg->hdr.type));
		break;
	}
}

static void
proc_parent_closed(struct channel *ch)
{
	(void)ch;
	log_debug("parent went away; exiting");
	proc_exit(0);
}

static void
proc_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	if (imsg->hdr.type == IMSG_PING) {
		proc_pong(ch, imsg->hdr.id);
		return;
	}
	if (ops->dispatch_peer == NULL)
		fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
		    role_name(ch->remote));
	ops->dispatch_peer(ch, imsg);
}

static void
proc_peer_closed(struct channel *ch)
{
	enum osms_role	 r = ch->remote;

	if (ch->broken) {
		struct msg	 m;

		msg_init(&m, IMSG_PEER_BAD, 0);
		msg_add_u32(&m, r);
		(void)channel_send(&parent, &m);
	}
	if (peers[r] == ch) {
		peers[r] = NULL;
		log_debug("channel to %s down", role_name(r));
		if (ops->peer_down != NULL)
			ops->peer_down(r);
	}
	free(ch);
}

static _Noreturn void
proc_usage(const char *prog)
{
	(void)fprintf(stderr, "usage: %s [-dv]\n"
	    "%s is started by osmsd; it is not run by hand.\n", prog, prog);
	exit(2);
}

void
proc_main(const struct proc_ops *o, int argc, char **argv)
{
	struct msg	 m;
	struct stat	 st;
	int		 ch, foreground = 0, verbose = 0;

	ops = o;
	while ((ch = getopt(argc, argv, "dv")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			proc_usage(argv[0]);
		}
	}
	if (optind != argc)
		proc_usage(argv[0]);

	log_init(foreground, LOG_MAIL);
	log_procinit(role_name(ops->role));
	log_setverbose(verbose);

	if (fstat(PROC_PARENT_FD, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		(void)fprintf(stderr, "%s: no parent channel on descriptor"
		    " %d\n", argv[0], PROC_PARENT_FD);
		proc_usage(argv[0]);
	}

	/* The parent decides when the tree stops. */
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);

	if ((osms_evbase = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	evsignal_assign(&ev_sigterm, osms_evbase, SIGTERM, proc_sigterm,
	    NULL);
	if (evsignal_add(&ev_sigterm, NULL) == -1)
		fatal("evsignal_add");

	channel_init(&parent, PROC_PARENT_FD, ops->role, ROLE_PARENT, 1,
	    proc_dispatch_parent, proc_parent_closed, NULL);
	msg_init(&m, IMSG_HELLO, 0);
	msg_add_u32(&m, OSMS_IMSG_VERSION);
	if (channel_send(&parent, &m) == -1)
		fatalx("cannot greet the parent");

	if (event_base_dispatch(osms_evbase) == -1)
		fatalx("event_base_dispatch failed");
	proc_exit(0);
}
