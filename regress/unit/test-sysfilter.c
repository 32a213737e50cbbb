/*
 * sysfilter_enter() (sysfilter.c): each role's list, installed in a
 * child process, lets the role's own kind of work through and kills the
 * process with SIGSYS on anything else.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "role.h"
#include "sysfilter.h"
#include "test.h"

enum probe {
	P_STDIO,	/* write, memory, time: every role */
	P_PTRACE,	/* never */
	P_EXEC,
	P_FORK,
	P_THREAD,
	P_SOCKET,
	P_NETLINK,	/* a socket of a family no role needs */
	P_ACCEPT,
	P_READ_FILE,
	P_CREATE_FILE,
	P_KILL_OTHER,
	P_IOCTL_OTHER,	/* fails with ENOTTY, does not kill */
	P_LIMITS_OTHER,	/* another process's resource limits */
	P_CHANGE_ID,	/* setuid: the parent's children before their list */
	P_MOUNT,	/* never, not even the parent */
	P_UNSHARE,	/* never */
};

static const char *probe_names[] = {
	"stdio", "ptrace", "execve", "fork", "thread", "inet socket",
	"netlink socket", "accept", "read a file", "create a file",
	"signal another process", "other ioctl", "limits of another",
	"change user", "mount", "unshare",
};

static char	 scratch[64];

static void *
thread_main(void *arg)
{
	return arg;
}

/* In the child, inside the filter: 0 if the probe's call went through. */
static int
run_probe(enum probe p)
{
	char		*big;
	struct timespec	 ts;
	struct rlimit	 rl;
	pthread_t	 th;
	char		*argv[] = { "true", NULL };
	int		 fd, sv[2];
	pid_t		 pid;

	switch (p) {
	case P_STDIO:
		if ((big = malloc(1 << 20)) == NULL)
			return 1;
		memset(big, 1, 1 << 20);
		free(big);
		if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1 ||
		    getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
		    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
		    write(sv[0], "x", 1) != 1)
			return 1;
		return 0;
	case P_PTRACE:
		return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) == -1;
	case P_EXEC:
		(void)execv("/bin/true", argv);
		return 1;
	case P_FORK:
		if ((pid = fork()) == -1)
			return 1;
		if (pid == 0)
			_exit(0);
		return 0;
	case P_THREAD:
		if (pthread_create(&th, NULL, thread_main, NULL) != 0)
			return 1;
		return pthread_join(th, NULL) != 0;
	case P_SOCKET:
		return socket(AF_INET, SOCK_STREAM, 0) == -1;
	case P_NETLINK:
		return socket(AF_NETLINK, SOCK_RAW, 0) == -1;
	case P_ACCEPT:
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
			return 1;
		/* Not listening: EINVAL means the call was let through. */
		return !(accept(sv[0], NULL, NULL) == -1 && errno == EINVAL);
	case P_READ_FILE:
		return open("/etc/hostname", O_RDONLY) == -1;
	case P_CREATE_FILE:
		fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		return fd == -1;
	case P_KILL_OTHER:
		return kill(getppid(), 0) == -1;
	case P_IOCTL_OTHER:
		return !(ioctl(0, TIOCSTI, "x") == -1 && errno == ENOTTY);
	case P_LIMITS_OTHER:
		return prlimit(getppid(), RLIMIT_NOFILE, NULL, &rl) == -1;
	case P_CHANGE_ID:
		return setuid(geteuid()) == -1;
	case P_MOUNT:
		/* Let through, it would fail: the target does not exist. */
		(void)mount("none", "/nonexistent/osms", "tmpfs", 0, NULL);
		return 0;
	case P_UNSHARE:
		(void)unshare(CLONE_NEWUTS);
		return 0;
	}
	return 1;
}

/* The child's wait status after it entered role's list and ran p. */
static int
probe(enum osms_role role, enum probe p)
{
	int	 status;
	pid_t	 pid;

	if ((pid = fork()) == -1)
		abort();
	if (pid == 0) {
		(void)close(STDERR_FILENO);	/* fatal()'s message */
		sysfilter_enter(role);
		_exit(run_probe(p));
	}
	if (waitpid(pid, &status, 0) == -1)
		abort();
	return status;
}

static int
killed(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

static int
passed(int status)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* One probe that the role may make if it holds promise. */
static void
expect(enum osms_role role, enum probe p, int allowed)
{
	int	 status = probe(role, p);

	if (allowed ? passed(status) : killed(status))
		return;
	(void)printf("# %s, %s: %s, wait status 0x%x\n", role_name(role),
	    probe_names[p], allowed ? "should pass" : "should be killed",
	    (unsigned)status);
	test_assert(allowed ? passed(status) : killed(status));
}

static void
test_role(enum osms_role role)
{
	char		 name[80];
	unsigned	 sf = sysfilter_promises(role);

	(void)snprintf(name, sizeof(name), "sysfilter: %s", role_name(role));
	test_begin(name);
	test_assert(sf & SF_STDIO);
	expect(role, P_STDIO, 1);
	expect(role, P_PTRACE, 0);
	expect(role, P_IOCTL_OTHER, 1);
	expect(role, P_LIMITS_OTHER, 0);
	expect(role, P_EXEC, sf & SF_EXEC);
	expect(role, P_FORK, sf & SF_EXEC);
	expect(role, P_KILL_OTHER, sf & SF_EXEC);
	expect(role, P_THREAD, sf & (SF_THREAD | SF_EXEC));
	expect(role, P_SOCKET, sf & (SF_CONNECT | SF_EXEC));
	expect(role, P_NETLINK, sf & SF_EXEC);
	expect(role, P_ACCEPT, sf & (SF_ACCEPT | SF_EXEC));
	expect(role, P_READ_FILE, sf & (SF_RPATH | SF_WPATH));
	expect(role, P_CREATE_FILE, sf & SF_WPATH);
	expect(role, P_CHANGE_ID, sf & SF_PROC);
	expect(role, P_MOUNT, 0);
	expect(role, P_UNSHARE, 0);
	(void)unlink(scratch);
	test_end();
}

/* The network-facing roles hold the least. */
static void
test_network_roles(void)
{
	static const enum osms_role net[] = {
		ROLE_SMTPD, ROLE_IMAPD, ROLE_CONTROL
	};
	size_t	 i;

	test_begin("sysfilter: network roles may not open, connect or fork");
	for (i = 0; i < sizeof(net) / sizeof(net[0]); i++)
		test_assert(sysfilter_promises(net[i]) ==
		    (SF_STDIO | SF_ACCEPT));
	test_assert(sysfilter_promises(ROLE_MTA) & SF_CONNECT);
	test_assert((sysfilter_promises(ROLE_MTA) & (SF_RPATH | SF_WPATH |
	    SF_EXEC)) == 0);
	test_assert(sysfilter_promises(ROLE_COUNT) == 0);
	test_end();
}

/*
 * Every role starts under the parent's list, so it must hold each
 * role's own; only the parent starts roles.
 */
static void
test_parent(void)
{
	unsigned	 parent = sysfilter_promises(ROLE_PARENT);
	int		 r;

	test_begin("sysfilter: the parent's list holds every role's");
	for (r = 0; r < ROLE_COUNT; r++)
		test_assert((sysfilter_promises((enum osms_role)r) &
		    ~parent) == 0);
	test_assert(parent & SF_PROC);
	for (r = 0; r < ROLE_COUNT; r++)
		if (r != ROLE_PARENT)
			test_assert((sysfilter_promises((enum osms_role)r) &
			    SF_PROC) == 0);
	test_end();
}

int
main(void)
{
	int	 r;

	(void)snprintf(scratch, sizeof(scratch), "/tmp/osms-sysfilter.%d",
	    (int)getpid());
	test_network_roles();
	test_parent();
	for (r = 0; r < ROLE_COUNT; r++)
		if (sysfilter_promises((enum osms_role)r) != 0)
			test_role((enum osms_role)r);
	return test_exit();
}
