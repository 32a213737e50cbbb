/*
 * osmsctl: control a running osmsd through its control socket.
 *
 *	osmsctl [-f file] [-s socket] command [argument]
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "imsg.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "osmsctl.h"
#include "pwhash.h"
#include "userent.h"
#include "util.h"

#ifndef OSMS_SYSCONFDIR
#define OSMS_SYSCONFDIR	"/etc/osms"
#endif

#define REPLY_TIMEOUT_MS	15000
#define STOP_TIMEOUT_S		30

static const char	*sockpath;
static int		 status_only = -1;	/* a role, for "scan status" */

/* "quarantine list", "quarantine show|release|delete ID", or -1. */
static int
quarantine_op(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return QUAR_LIST;
	if (argc != 3)
		return -1;
	if (strcmp(argv[1], "show") == 0)
		return QUAR_SHOW;
	if (strcmp(argv[1], "release") == 0)
		return QUAR_RELEASE;
	if (strcmp(argv[1], "delete") == 0)
		return QUAR_DELETE;
	return -1;
}

static _Noreturn void
usage(void)
{
	(void)fprintf(stderr, "usage: osmsctl [-f file] [-s socket] command\n"
	    "commands:\n"
	    "  status              each process: role, pid, uptime, state\n"
	    "  reload              re-read the configuration\n"
	    "  stop                stop every osms process\n"
	    "  log verbose|brief   change the log level\n"
	    "  queue list          the messages in the queue\n"
	    "  queue show ID       one message's envelope and state\n"
	    "  queue remove ID     remove a message without a bounce\n"
	    "  queue schedule ID   try a message's pending deliveries now\n"
	    "  queue expire ID     fail them now, and bounce to the sender\n"
	    "  queue flush         try every pending delivery now\n"
	    "  quarantine list, quarantine show|release|delete ID\n"
	    "                      messages held for a virus\n"
	    "  scan status         the virus scanner's signatures\n"
	    "  domain add|del DOMAIN, domain list\n"
	    "  user add ADDRESS [QUOTA], user del|passwd ADDRESS,\n"
	    "  user quota ADDRESS SIZE, user list [DOMAIN]\n"
	    "                      the password is read from standard input\n"
	    "  alias add ADDRESS TARGET, alias del ADDRESS [TARGET],\n"
	    "  alias list [DOMAIN]\n"
	    "  hash                print a password hash for a users table\n"
	    "  dkim keygen [-t rsa|ed25519] [-b bits] DOMAIN SELECTOR KEYFILE\n"
	    "                      make a DKIM key, print its DNS record\n"
	    "  dkim sign DOMAIN SELECTOR KEYFILE\n"
	    "                      sign standard input to standard output\n"
	    "  smime sign CERT KEY [CHAIN], smime encrypt [-g] [-o] CERT...,\n"
	    "  smime decrypt CERT KEY, smime verify CAFILE\n"
	    "                      S/MIME from standard input to standard"
	    " output\n"
	    "  cert list [ADDRESS|DOMAIN]\n"
	    "                      the gateway's certificates, usable or not\n"
	    "  cert show FINGERPRINT\n"
	    "                      one certificate in full\n"
	    "  cert import CERT [KEY] [NAME], cert remove NAME,\n"
	    "  cert export NAME [P12FILE], cert ca [DAYS],\n"
	    "  cert issue ADDRESS [DAYS]\n"
	    "                      change the store; export a key as PKCS#12"
	    "\n"
	    "  pgp keygen ADDRESS, pgp import FILE, pgp list [ADDRESS],\n"
	    "  pgp show FINGERPRINT, pgp remove FINGERPRINT,\n"
	    "  pgp export ADDRESS|FINGERPRINT [--secret], pgp accept ADDRESS\n"
	    "                      the gateway's OpenPGP keys\n"
	    "  audit [TEXT]        the gateway's decisions, those that mention"
	    " TEXT\n"
	    "  policy test [-d inbound|outbound|internal] FROM TO\n"
	    "                      the rule, actions and certificate for a"
	    " message\n");
	exit(2);
}

/*
 * A password: from a terminal with echo off, asked twice; else the first
 * line of standard input. Never from the command line, where other users
 * could see it.
 */
void
read_password(char *buf, size_t size)
{
	struct termios	 old, quiet;
	char		 again[PWHASH_MAX_PASSWORD + 2];
	int		 tty = isatty(STDIN_FILENO);
	size_t		 len;

	if (tty) {
		if (tcgetattr(STDIN_FILENO, &old) == -1) {
			(void)fprintf(stderr, "osmsctl: tcgetattr: %s\n",
			    strerror(errno));
			exit(1);
		}
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		(void)fputs("Password: ", stderr);
	}
	if (fgets(buf, (int)size, stdin) == NULL)
		buf[0] = '\0';
	if (strchr(buf, '\n') == NULL && !feof(stdin)) {
		if (tty) {
			(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
			(void)fputc('\n', stderr);
		}
		explicit_wipe(buf, size);
		(void)fprintf(stderr, "osmsctl: the password is too long"
		    " (at most %zu bytes)\n", size - 2);
		exit(1);
	}
	if (tty) {
		(void)fputs("\nAgain: ", stderr);
		if (fgets(again, sizeof(again), stdin) == NULL)
			again[0] = '\0';
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		(void)fputc('\n', stderr);
		if (strcmp(buf, again) != 0) {
			explicit_wipe(again, sizeof(again));
			explicit_wipe(buf, size);
			(void)fprintf(stderr, "osmsctl: the passwords"
			    " differ\n");
			exit(1);
		}
		explicit_wipe(again, sizeof(again));
	}
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0) {
		(void)fprintf(stderr, "osmsctl: no password\n");
		exit(1);
	}
}

/* "10M" into bytes, as text; exits on nonsense. */
static void
size_arg(const char *s, char *out, size_t size)
{
	uint64_t	 v;

	if (userent_size(s, &v) == -1) {
		(void)fprintf(stderr, "osmsctl: %s: not a size (such as"
		    " 500M)\n", s);
		exit(2);
	}
	(void)snprintf(out, size, "%llu", (unsigned long long)v);
}

/* osmsctl hash: no daemon needed. */
static int
cmd_hash(void)
{
	char	 pw[PWHASH_MAX_PASSWORD + 2], hash[PWHASH_MAX];

	read_password(pw, sizeof(pw));
	if (pwhash_create(pw, strlen(pw), hash, sizeof(hash)) == -1) {
		explicit_wipe(pw, sizeof(pw));
		(void)fprintf(stderr, "osmsctl: cannot hash the password\n");
		return 1;
	}
	explicit_wipe(pw, sizeof(pw));
	(void)printf("%s\n", hash);
	return 0;
}

/* The directory commands: operation and up to three arguments. */
static int
dir_command(int argc, char **argv, uint32_t *op, char args[3][1024])
{
	const char	*what = argv[0], *verb = argc > 1 ? argv[1] : "";
	int		 n = argc - 2;

	args[0][0] = args[1][0] = args[2][0] = '\0';
	if (strcmp(what, "domain") == 0) {
		if (strcmp(verb, "list") == 0 && n == 0)
			*op = DIR_OP_DOMAIN_LIST;
		else if (strcmp(verb, "add") == 0 && n == 1)
			*op = DIR_OP_DOMAIN_ADD;
		else if (strcmp(verb, "del") == 0 && n == 1)
			*op = DIR_OP_DOMAIN_DEL;
		else
			return -1;
	} else if (strcmp(what, "user") == 0) {
		if (strcmp(verb, "list") == 0 && n <= 1)
			*op = DIR_OP_USER_LIST;
		else if (strcmp(verb, "add") == 0 && (n == 1 || n == 2))
			*op = DIR_OP_USER_ADD;
		else if (strcmp(verb, "del") == 0 && n == 1)
			*op = DIR_OP_USER_DEL;
		else if (strcmp(verb, "passwd") == 0 && n == 1)
			*op = DIR_OP_USER_PASSWD;
		else if (strcmp(verb, "quota") == 0 && n == 2)
			*op = DIR_OP_USER_QUOTA;
		else
			return -1;
	} else if (strcmp(what, "alias") == 0) {
		if (strcmp(verb, "list") == 0 && n <= 1)
			*op = DIR_OP_ALIAS_LIST;
		else if (strcmp(verb, "add") == 0 && n == 2)
			*op = DIR_OP_ALIAS_ADD;
		else if (strcmp(verb, "del") == 0 && (n == 1 || n == 2))
			*op = DIR_OP_ALIAS_DEL;
		else
			return -1;
	} else
		return -1;
	if (n >= 1 && osms_strlcpy(args[0], argv[2], 1024) >= 1024)
		return -1;
	switch (*op) {
	case DIR_OP_USER_ADD:
		if (n == 2)
			size_arg(argv[3], args[2], 1024);
		read_password(args[1], 1024);
		break;
	case DIR_OP_USER_PASSWD:
		read_password(args[1], 1024);
		break;
	case DIR_OP_USER_QUOTA:
		size_arg(argv[3], args[1], 1024);
		break;
	default:
		if (n == 2 && osms_strlcpy(args[1], argv[3], 1024) >= 1024)
			return -1;
		break;
	}
	return 0;
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (osms_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		(void)fprintf(stderr, "osmsctl: socket path too long: %s\n",
		    path);
		exit(1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		(void)fprintf(stderr, "osmsctl: socket: %s\n", strerror(errno));
		exit(1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int	 e = errno;

		(void)fprintf(stderr, "osmsctl: cannot reach osmsd at %s: %s\n",
		    path, strerror(e));
		if (e == ENOENT || e == ECONNREFUSED)
			(void)fprintf(stderr, "osmsctl: is osmsd running?\n");
		else if (e == EACCES)
			(void)fprintf(stderr, "osmsctl: only root may"
			    " control osmsd\n");
		exit(1);
	}
	return fd;
}

static void
ctl_send(struct imsgbuf *ibuf, struct msg *m)
{
	struct pollfd	 pfd;

	if (msg_compose(m, ibuf) == -1) {
		(void)fprintf(stderr, "osmsctl: cannot build request\n");
		exit(1);
	}
	while (imsgbuf_pending(ibuf)) {
		if (imsgbuf_flush(ibuf) == -1) {
			(void)fprintf(stderr, "osmsctl: write: %s\n",
			    strerror(errno));
			exit(1);
		}
		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, 1000);
	}
}

/*
 * Wait for the next message; 0 at end of stream. Exits on timeout or
 * on anything the control role should not send.
 */
static int
ctl_next(struct imsgbuf *ibuf, struct imsg *imsg, int timeout_ms)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if ((r = imsg_get(ibuf, imsg)) == 1) {
			if (!imsg_allowed(imsg->hdr.type, ROLE_CONTROL,
			    ROLE_CLIENT)) {
				(void)fprintf(stderr, "osmsctl: unexpected %s"
				    " from osmsd\n",
				    imsg_type_name(imsg->hdr.type));
				exit(1);
			}
			return 1;
		}
		if (r == -1) {
			(void)fprintf(stderr, "osmsctl: malformed answer\n");
			exit(1);
		}
		pfd.fd = ibuf->fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, timeout_ms)) == -1 && errno != EINTR) {
			(void)fprintf(stderr, "osmsctl: poll: %s\n",
			    strerror(errno));
			exit(1);
		}
		if (r == 0) {
			(void)fprintf(stderr, "osmsctl: no answer from osmsd"
			    " in %d s\n", timeout_ms / 1000);
			exit(1);
		}
		if ((n = imsgbuf_read(ibuf)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno == ECONNRESET)
				return 0;
			(void)fprintf(stderr, "osmsctl: read: %s\n",
			    strerror(errno));
			exit(1);
		}
		if (n == 0)
			return 0;
	}
}

int
ctl_directory_ask(const char *path, uint32_t op, const char *a0,
    const char *a1, const char *a2, char *out, size_t size)
{
	struct sockaddr_un	 sun;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct msg_reader	 r;
	struct msg		 m;
	uint32_t		 ok = 0;
	int			 fd, answered = 0;

	out[0] = '\0';
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (osms_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path) || (fd = socket(AF_UNIX, SOCK_STREAM |
	    SOCK_CLOEXEC, 0)) == -1)
		return 0;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)close(fd);
		return 0;
	}
	imsgbuf_init(&ibuf, fd);
	msg_init(&m, IMSG_CTL_DIR, 0);
	msg_add_u32(&m, OSMS_IMSG_VERSION);
	msg_add_u32(&m, op);
	msg_add_str(&m, a0);
	msg_add_str(&m, a1);
	msg_add_str(&m, a2);
	ctl_send(&ibuf, &m);
	while (!answered && ctl_next(&ibuf, &imsg, 30 * 1000) == 1) {
		if (imsg.hdr.type == IMSG_CTL_RESULT) {
			msg_reader_init(&r, &imsg);
			(void)msg_get_u32(&r, &ok);
			(void)msg_get_str(&r, out, size);
			answered = msg_end(&r) == 0;
		}
		imsg_free(&imsg);
	}
	imsgbuf_clear(&ibuf);
	(void)close(fd);
	return answered;
}

static void
print_status_row(struct imsg *imsg, int only)
{
	struct msg_reader	 r;
	uint32_t		 role, pid, restarts;
	int64_t			 started;
	char			 state[64], info[256], up[32], pidbuf[16];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &role);
	(void)msg_get_u32(&r, &pid);
	(void)msg_get_s64(&r, &started);
	(void)msg_get_u32(&r, &restarts);
	(void)msg_get_str(&r, state, sizeof(state));
	(void)msg_get_str(&r, info, sizeof(info));
	if (msg_end(&r) == -1 || role >= ROLE_COUNT) {
		(void)fprintf(stderr, "osmsctl: malformed status line\n");
		exit(1);
	}
	if (only != -1 && role != (uint32_t)only)
		return;
	if (pid == 0) {
		(void)osms_strlcpy(pidbuf, "-", sizeof(pidbuf));
		(void)osms_strlcpy(up, "-", sizeof(up));
	} else {
		(void)snprintf(pidbuf, sizeof(pidbuf), "%u", pid);
		fmt_duration(up, sizeof(up), (long long)(time(NULL) - started));
	}
	(void)printf("%-9s %-7s %-9s %-9u %-13s %s\n",
	    role_name((enum osms_role)role), pidbuf, up, restarts, state, info);
}

/* Read answers until IMSG_CTL_RESULT; return its ok flag. */
static int
ctl_wait_result(struct imsgbuf *ibuf, int quiet_ok)
{
	struct msg_reader	 r;
	struct imsg		 imsg;
	uint32_t		 ok;
	char			 text[4096];
	int			 header = 0;

	for (;;) {
		if (ctl_next(ibuf, &imsg, REPLY_TIMEOUT_MS) == 0) {
			(void)fprintf(stderr, "osmsctl: osmsd closed the"
			    " connection\n");
			exit(1);
		}
		if (imsg.hdr.type == IMSG_CTL_TEXT) {
			msg_reader_init(&r, &imsg);
			(void)msg_get_str(&r, text, sizeof(text));
			if (msg_end(&r) == -1) {
				(void)fprintf(stderr, "osmsctl: malformed"
				    " answer\n");
				exit(1);
			}
			(void)printf("%s\n", text);
			imsg_free(&imsg);
			continue;
		}
		if (imsg.hdr.type == IMSG_CTL_STATUS_ROLE) {
			if (!header++)
				(void)printf("%-9s %-7s %-9s %-9s %-13s %s\n",
				    "ROLE", "PID", "UPTIME", "RESTARTS",
				    "STATE", "INFO");
			print_status_row(&imsg, status_only);
			imsg_free(&imsg);
			continue;
		}
		msg_reader_init(&r, &imsg);
		(void)msg_get_u32(&r, &ok);
		(void)msg_get_str(&r, text, sizeof(text));
		if (msg_end(&r) == -1) {
			(void)fprintf(stderr, "osmsctl: malformed answer\n");
			exit(1);
		}
		imsg_free(&imsg);
		if (!ok)
			(void)fprintf(stderr, "osmsctl: %s%s", text,
			    text[0] && text[strlen(text) - 1] == '\n' ? "" :
			    "\n");
		else if (!quiet_ok && text[0] != '\0')
			(void)printf("%s\n", text);
		return ok != 0;
	}
}

/* After "stop": the tree is gone when the parent removed the socket. */
static int
ctl_wait_stopped(struct imsgbuf *ibuf)
{
	struct imsg	 imsg;
	struct stat	 st;
	int		 i;

	while (ctl_next(ibuf, &imsg, STOP_TIMEOUT_S * 1000) == 1)
		imsg_free(&imsg);
	for (i = 0; i < STOP_TIMEOUT_S * 10; i++) {
		if (stat(sockpath, &st) == -1 && errno == ENOENT) {
			(void)printf("osmsd stopped\n");
			return 1;
		}
		(void)usleep(100 * 1000);
	}
	(void)fprintf(stderr, "osmsctl: osmsd did not stop in %d s\n",
	    STOP_TIMEOUT_S);
	return 0;
}

int
main(int argc, char **argv)
{
	struct osms_conf	*conf = NULL;
	struct imsgbuf		 ibuf;
	struct msg		 m;
	const char		*path = OSMS_SYSCONFDIR "/osmsd.conf";
	const char		*cmd, *msgid = NULL;
	char			 dirargs[3][1024];
	uint32_t		 type = 0, level = 0, dirop = 0;
	int			 audit_db = 0;
	int			 quarop = 0;
	int			 ch, fd, ok;

	/* "+": options after the command are the command's (dkim keygen). */
	while ((ch = getopt(argc, argv, "+f:s:")) != -1) {
		switch (ch) {
		case 'f':
			path = optarg;
			break;
		case 's':
			sockpath = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = argv[0];
	if (strcmp(cmd, "hash") == 0 && argc == 1)
		return cmd_hash();
	if (strcmp(cmd, "smime") == 0) {
		if ((ok = cmd_smime(argc, argv)) == -1)
			usage();
		return ok;
	}
	if (strcmp(cmd, "dkim") == 0) {
		if ((ok = cmd_dkim(argc, argv)) == -1)
			usage();
		return ok;
	}
	if (strcmp(cmd, "pgp") == 0) {
		log_init(1, LOG_MAIL);
		log_procinit("osmsctl");
		if ((ok = cmd_pgp(path, argc, argv)) == -1)
			usage();
		return ok;
	}
	if (strcmp(cmd, "audit") == 0 && argc <= 2 &&
	    audit_in_database(path)) {
		/* In PostgreSQL: authd, which holds the password, reads it. */
		audit_db = 1;
		dirop = DIR_OP_AUDIT_LIST;
		memset(dirargs, 0, sizeof(dirargs));
		if (argc == 2 && osms_strlcpy(dirargs[0], argv[1],
		    sizeof(dirargs[0])) >= sizeof(dirargs[0]))
			usage();
	} else if (strcmp(cmd, "cert") == 0 || strcmp(cmd, "policy") == 0 ||
	    strcmp(cmd, "audit") == 0) {
		log_init(1, LOG_MAIL);
		log_procinit("osmsctl");
		if ((ok = cmd_cert(path, argc, argv)) == -1)
			usage();
		return ok;
	}
	if (audit_db)
		type = IMSG_CTL_DIR;
	else if (strcmp(cmd, "domain") == 0 || strcmp(cmd, "user") == 0 ||
	    strcmp(cmd, "alias") == 0) {
		if (dir_command(argc, argv, &dirop, dirargs) == -1)
			usage();
		type = IMSG_CTL_DIR;
	} else if (strcmp(cmd, "status") == 0 && argc == 1)
		type = IMSG_CTL_STATUS;
	else if (strcmp(cmd, "reload") == 0 && argc == 1)
		type = IMSG_CTL_RELOAD;
	else if (strcmp(cmd, "stop") == 0 && argc == 1)
		type = IMSG_CTL_STOP;
	else if (strcmp(cmd, "log") == 0 && argc == 2 &&
	    (strcmp(argv[1], "verbose") == 0 ||
	    strcmp(argv[1], "brief") == 0)) {
		type = IMSG_CTL_LOG_VERBOSE;
		level = strcmp(argv[1], "verbose") == 0 ? 1 : 0;
	} else if (strcmp(cmd, "queue") == 0 && argc == 2 &&
	    strcmp(argv[1], "list") == 0)
		type = IMSG_CTL_QUEUE_LIST;
	else if (strcmp(cmd, "queue") == 0 && argc == 2 &&
	    strcmp(argv[1], "flush") == 0)
		type = IMSG_CTL_QUEUE_FLUSH;
	else if (strcmp(cmd, "queue") == 0 && argc == 3 &&
	    strcmp(argv[1], "show") == 0) {
		type = IMSG_CTL_QUEUE_SHOW;
		msgid = argv[2];
	} else if (strcmp(cmd, "queue") == 0 && argc == 3 &&
	    strcmp(argv[1], "remove") == 0) {
		type = IMSG_CTL_QUEUE_REMOVE;
		msgid = argv[2];
	} else if (strcmp(cmd, "queue") == 0 && argc == 3 &&
	    strcmp(argv[1], "schedule") == 0) {
		type = IMSG_CTL_QUEUE_SCHEDULE;
		msgid = argv[2];
	} else if (strcmp(cmd, "queue") == 0 && argc == 3 &&
	    strcmp(argv[1], "expire") == 0) {
		type = IMSG_CTL_QUEUE_EXPIRE;
		msgid = argv[2];
	} else if (strcmp(cmd, "quarantine") == 0 &&
	    (quarop = quarantine_op(argc, argv)) != -1) {
		type = IMSG_CTL_QUARANTINE;
		msgid = argc == 3 ? argv[2] : "";
	} else if (strcmp(cmd, "scan") == 0 && argc == 2 &&
	    strcmp(argv[1], "status") == 0) {
		type = IMSG_CTL_STATUS;
		status_only = ROLE_SCAND;
	} else
		usage();
	if (msgid != NULL && strlen(msgid) >= 64) {
		(void)fprintf(stderr, "osmsctl: %s: not a queue id\n", msgid);
		exit(1);
	}

	log_init(1, LOG_MAIL);
	log_procinit("osmsctl");
	if (sockpath == NULL) {
		if ((conf = conf_parse_file(path, stderr, NULL)) == NULL) {
			(void)fprintf(stderr, "osmsctl: cannot read %s for the"
			    " control socket path; use -s\n", path);
			exit(1);
		}
		sockpath = conf->control_socket;
	}

	fd = ctl_connect(sockpath);
	imsgbuf_init(&ibuf, fd);
	msg_init(&m, type, 0);
	msg_add_u32(&m, OSMS_IMSG_VERSION);
	if (type == IMSG_CTL_LOG_VERBOSE)
		msg_add_u32(&m, level);
	if (type == IMSG_CTL_QUARANTINE)
		msg_add_u32(&m, (uint32_t)quarop);
	if (msgid != NULL)
		msg_add_str(&m, msgid);
	if (type == IMSG_CTL_DIR) {
		msg_add_u32(&m, dirop);
		msg_add_str(&m, dirargs[0]);
		msg_add_str(&m, dirargs[1]);
		msg_add_str(&m, dirargs[2]);
		explicit_wipe(dirargs, sizeof(dirargs));
	}
	ctl_send(&ibuf, &m);
	explicit_wipe(m.buf, m.len);

	ok = ctl_wait_result(&ibuf, type == IMSG_CTL_STOP);
	if (ok && type == IMSG_CTL_STOP)
		ok = ctl_wait_stopped(&ibuf);
	imsgbuf_clear(&ibuf);
	(void)close(fd);
	if (conf != NULL)
		conf_free(conf);
	return ok ? 0 : 1;
}
