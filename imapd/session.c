/*
 * osms-session: one user's IMAP or POP3 session after the login.
 *
 * Started by the parent as root with its channel on descriptor 3 and the
 * client's stream (plaintext, behind imapd's TLS) on descriptor 4. The
 * first message says whose session it is: the parent learnt that from
 * authd by redeeming the login token, never from imapd. Before a byte
 * of the client is read, the process walks to the user's Maildir below
 * the mail store (no symbolic link followed), chroots there and becomes
 * the mail store's user for good; it cannot reach another user's mail.
 * Input: hostile, from an authenticated user.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "maildir.h"
#include "mime.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "sandbox.h"
#include "sysfilter.h"
#include "session.h"
#include "util.h"

static struct channel	 parent_ch;
static int		 started;
static struct event	 ev_sigterm;
static void		(*on_exit_fn)(void);
static char		 session_user[256];
static uintptr_t	 pagesize;
static volatile sig_atomic_t bus_faults;

void
session_on_exit(void (*fn)(void))
{
	on_exit_fn = fn;
}

_Noreturn void
session_exit(int status)
{
	void	(*fn)(void) = on_exit_fn;

	on_exit_fn = NULL;	/* once, even if it exits itself */
	if (fn != NULL)
		fn();
	exit(status);
}

/*
 * The sessions read message files through mmap. A file cut short by
 * someone else meanwhile raises SIGBUS on the pages past its new end:
 * those become pages of spaces and the session goes on, to log it when
 * the mapping goes. Any other SIGBUS (or a failed fix) kills as usual.
 */
static void
on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t	 page;

	(void)uc;
	if (si->si_code == BUS_ADRERR && pagesize > 0) {
		page = (uintptr_t)si->si_addr & ~(pagesize - 1);
		/* Spaces, not NULs: they may go out in a literal. */
		if (mmap((void *)page, pagesize, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
		    MAP_FAILED) {
			memset((void *)page, ' ', pagesize);
			if (mprotect((void *)page, pagesize, PROT_READ) == 0) {
				bus_faults++;
				return;
			}
		}
	}
	(void)signal(sig, SIG_DFL);	/* the access faults again: death */
}

static void
sigbus_init(void)
{
	struct sigaction	 sa;
	long			 ps;

	if ((ps = sysconf(_SC_PAGESIZE)) <= 0)
		fatalx("session: no page size");
	pagesize = (uintptr_t)ps;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) == -1)
		fatal("session: sigaction");
}

void
session_unmap(void *map, size_t len, const char *what)
{
	if (map == NULL)
		return;
	(void)munmap(map, len);
	if (bus_faults > 0) {
		bus_faults = 0;
		log_warnx("session %s: %s: the message file shrank while it "
		    "was read; spaces were sent in place of the rest",
		    session_user, what);
	}
}

/*
 * Walk from the mail store down to the Maildir one component at a time,
 * refusing symbolic links, creating what is missing for the mail store's
 * user; then make it the root.
 */
static void
enter_maildir(const char *store, const char *maildir, uid_t uid, gid_t gid)
{
	char	 path[MAILDIR_MAX_PATH], *c, *last = NULL;
	int	 fd, next;

	if ((fd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("session: mail store %s", store);
	(void)osms_strlcpy(path, maildir, sizeof(path));
	for (c = strtok_r(path, "/", &last); c != NULL;
	    c = strtok_r(NULL, "/", &last)) {
		next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next == -1 && errno == ENOENT) {
			if (mkdirat(fd, c, 0700) == -1 && errno != EEXIST)
				fatal("session: mkdir %s", c);
			next = openat(fd, c, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (next != -1 && fchown(next, uid, gid) == -1)
				fatal("session: chown %s", c);
		}
		if (next == -1)
			fatal("session: Maildir component %s", c);
		(void)close(fd);
		fd = next;
	}
	if (fchdir(fd) == -1 || chroot(".") == -1 || chdir("/") == -1)
		fatal("session: chroot into the Maildir");
	(void)close(fd);
}

static void
session_start(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct session_info	 si;
	struct sandbox		 sb;
	uint32_t		 proto, uid, gid, verbose, timeout, tls;
	char			 store[1024], maildir[MAILDIR_MAX_PATH];

	memset(&si, 0, sizeof(si));
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &proto);
	(void)msg_get_u32(&r, &uid);
	(void)msg_get_u32(&r, &gid);
	(void)msg_get_str(&r, store, sizeof(store));
	(void)msg_get_str(&r, maildir, sizeof(maildir));
	(void)msg_get_str(&r, si.user, sizeof(si.user));
	(void)msg_get_str(&r, si.client, sizeof(si.client));
	(void)msg_get_str(&r, si.tag, sizeof(si.tag));
	(void)msg_get_u32(&r, &tls);
	(void)msg_get_u64(&r, &si.quota_bytes);
	(void)msg_get_u64(&r, &si.quota_messages);
	(void)msg_get_u32(&r, &verbose);
	(void)msg_get_u32(&r, &timeout);
	if (msg_end(&r) == -1 || started || uid == 0 ||
	    (proto != PROTO_IMAP && proto != PROTO_POP3) ||
	    !maildir_path_valid(maildir) || store[0] != '/')
		fatalx("session: bad IMSG_SESSION_START");
	started = 1;
	(void)osms_strlcpy(session_user, si.user, sizeof(session_user));
	si.tls = tls != 0;
	si.timeout = timeout;
	log_setverbose((int)verbose);

	if (proto == PROTO_IMAP)
		mime_charsets_preload();	/* SEARCH, after the chroot */
	enter_maildir(store, maildir, (uid_t)uid, (gid_t)gid);
	memset(&sb, 0, sizeof(sb));
	sb.uid = (uid_t)uid;
	sb.gid = (gid_t)gid;
	sb.secrets = 1;		/* no ptrace from other sessions */
	sandbox_enter(&sb);
	sysfilter_enter(ROLE_SESSION);

	if (proto == PROTO_POP3)
		pop3_session_start(SESSION_STREAM_FD, &si);
	else
		imap_session_start(SESSION_STREAM_FD, &si);
}

static void
session_dispatch(struct channel *ch, struct imsg *imsg)
{
	if (imsg->hdr.type == IMSG_SESSION_START)
		session_start(imsg);
	else
		channel_bad_message(ch, imsg, "unexpected message");
}

static void
session_parent_closed(struct channel *ch)
{
	(void)ch;
	/* The parent is gone: so is the server. */
	session_exit(started ? 0 : 1);
}

static void
session_sigterm(evutil_socket_t sig, short ev, void *arg)
{
	(void)sig;
	(void)ev;
	(void)arg;
	session_exit(0);
}

int
main(int argc, char **argv)
{
	int	 ch, foreground = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "dv")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			exit(2);
		}
	}
	log_init(foreground, LOG_MAIL);
	log_setverbose(verbose);
	log_procinit(role_name(ROLE_SESSION));
	if (fcntl(PROC_PARENT_FD, F_GETFD) == -1 ||
	    fcntl(SESSION_STREAM_FD, F_GETFD) == -1)
		fatalx("session: started without its descriptors");
	(void)signal(SIGPIPE, SIG_IGN);
	sigbus_init();
	if ((osms_evbase = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	evsignal_assign(&ev_sigterm, osms_evbase, SIGTERM, session_sigterm,
	    NULL);
	if (evsignal_add(&ev_sigterm, NULL) == -1)
		fatal("evsignal_add");
	channel_init(&parent_ch, PROC_PARENT_FD, ROLE_SESSION, ROLE_PARENT, 1,
	    session_dispatch, session_parent_closed, NULL);
	if (event_base_dispatch(osms_evbase) == -1)
		fatalx("event_base_dispatch failed");
	return 0;
}
