/*
 * osmsd: the Open Security Mail Server daemon, its parent process.
 *
 * Runs as root only to read the config, add the role users, prepare the
 * jails, open the listening sockets, and start the roles (parent.c).
 * It never reads a byte from the network.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "osmsd.h"
#include "util.h"

#ifndef OSMS_LIBEXECDIR
#define OSMS_LIBEXECDIR	"/usr/local/libexec/osms"
#endif
#ifndef OSMS_SYSCONFDIR
#define OSMS_SYSCONFDIR	"/etc/osms"
#endif

#define MAX_DEFINES	64

const char	*osmsd_conf_path = OSMS_SYSCONFDIR "/osmsd.conf";
char *const	*osmsd_defines;
int		 osmsd_foreground;
int		 osmsd_verbose;

static _Noreturn void
usage(void)
{
	(void)fprintf(stderr,
	    "usage: osmsd [-dnUv] [-D macro=value] [-f file]\n");
	exit(2);
}

/*
 * The role programs: beside the binary in a build tree (build/libexec),
 * else where make install put them.
 */
static void
find_libexec(char *buf, size_t size)
{
	char	 self[PATH_MAX], *slash;
	ssize_t	 n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if (osms_snprintf(buf, size, "%s/libexec", self) !=
			    -1 && access(buf, X_OK) == 0)
				return;
		}
	}
	(void)osms_strlcpy(buf, OSMS_LIBEXECDIR, size);
}

static void
check_programs(const char *libexec)
{
	char	 path[PATH_MAX];
	int	 r;

	for (r = 0; r < ROLE_COUNT; r++) {
		const char *prog = role_info((enum osms_role)r)->program;

		if (prog == NULL)
			continue;
		if (osms_snprintf(path, sizeof(path), "%s/%s", libexec,
		    prog) == -1 || access(path, X_OK) == -1) {
			(void)fprintf(stderr, "osmsd: cannot find %s/%s: %s\n",
			    libexec, prog, strerror(errno));
			exit(1);
		}
	}
}

static void
daemonize(void)
{
	pid_t	 pid;
	int	 fd;

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid != 0)
		_exit(0);
	if (setsid() == -1)
		fatal("setsid");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid != 0)
		_exit(0);
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		(void)close(fd);
}

int
main(int argc, char **argv)
{
	static char		*defines[MAX_DEFINES + 1];
	struct osms_conf	*conf;
	struct role_cred	 creds[ROLE_COUNT];
	struct plistener_list	 listeners, none;
	char			 libexec[PATH_MAX], abspath[PATH_MAX];
	char			 err[1024];
	int			 ch, check = 0, users_only = 0, ndefines = 0;
	int			 control_fd;

	while ((ch = getopt(argc, argv, "dD:f:nUv")) != -1) {
		switch (ch) {
		case 'd':
			osmsd_foreground = 1;
			break;
		case 'D':
			if (ndefines == MAX_DEFINES ||
			    strchr(optarg, '=') == NULL) {
				(void)fprintf(stderr, "osmsd: -D %s: expected"
				    " macro=value\n", optarg);
				exit(2);
			}
			defines[ndefines++] = optarg;
			break;
		case 'f':
			osmsd_conf_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'U':
			users_only = 1;
			break;
		case 'v':
			osmsd_verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	defines[ndefines] = NULL;
	osmsd_defines = defines;

	log_init(1, LOG_MAIL);
	log_procinit("parent");
	log_setverbose(osmsd_verbose);

	if ((conf = conf_parse_file(osmsd_conf_path, stderr, defines)) == NULL)
		exit(1);
	if (conf_check_files(conf, stderr) == -1)
		exit(1);
	if (check) {
		if (osmsd_verbose > 0)
			conf_dump(conf, stdout);
		(void)printf("configuration OK\n");
		conf_free(conf);
		exit(0);
	}

	if (geteuid() != 0) {
		(void)fprintf(stderr, "osmsd: must be started as root\n");
		exit(1);
	}
	/* Reloads re-read the file after the daemon changed directory. */
	if (realpath(osmsd_conf_path, abspath) == NULL) {
		(void)fprintf(stderr, "osmsd: %s: %s\n", osmsd_conf_path,
		    strerror(errno));
		exit(1);
	}
	osmsd_conf_path = abspath;
	if (conf->hostname[0] == '\0' &&
	    gethostname(conf->hostname, sizeof(conf->hostname)) == -1)
		fatal("gethostname");
	conf->hostname[sizeof(conf->hostname) - 1] = '\0';

	memset(creds, 0, sizeof(creds));
	if (users_prepare(conf, creds, 1, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "osmsd: %s\n", err);
		exit(1);
	}
	if (users_only)
		exit(0);

	find_libexec(libexec, sizeof(libexec));
	check_programs(libexec);

	TAILQ_INIT(&none);
	if (listen_open_all(conf, &none, &listeners, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "osmsd: cannot listen on %s\n", err);
		exit(1);
	}
	if ((control_fd = control_open(conf->control_socket, err,
	    sizeof(err))) == -1) {
		(void)fprintf(stderr, "osmsd: %s\n", err);
		exit(1);
	}

	if (!osmsd_foreground) {
		daemonize();
		log_init(0, LOG_MAIL);
	}
	parent_run(conf, creds, &listeners, control_fd, libexec);
}
