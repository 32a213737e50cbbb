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
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "imsg.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "util.h"

#ifndef OSMS_SYSCONFDIR
#define OSMS_SYSCONFDIR	"/etc/osms"
#endif

#define REPLY_TIMEOUT_MS	15000
#define STOP_TIMEOUT_S		30

static const char	*sockpath;

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
	    "  queue flush         try every pending delivery now\n");
	exit(2);
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

static void
print_status_row(struct imsg *imsg)
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
			print_status_row(&imsg);
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
	uint32_t		 type, level = 0;
	int			 ch, fd, ok;

	while ((ch = getopt(argc, argv, "f:s:")) != -1) {
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
	if (strcmp(cmd, "status") == 0 && argc == 1)
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
	if (msgid != NULL)
		msg_add_str(&m, msgid);
	ctl_send(&ibuf, &m);

	ok = ctl_wait_result(&ibuf, type == IMSG_CTL_STOP);
	if (ok && type == IMSG_CTL_STOP)
		ok = ctl_wait_stopped(&ibuf);
	imsgbuf_clear(&ibuf);
	(void)close(fd);
	if (conf != NULL)
		conf_free(conf);
	return ok ? 0 : 1;
}
