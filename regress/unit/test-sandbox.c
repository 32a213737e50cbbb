/*
 * sandbox_enter() (sandbox.c), in child processes: root is needed, as
 * in CI and for osmsd itself.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"
#include "test.h"

#define NOBODY	65534

struct report {
	int	 status;
	uid_t	 uid, euid;
	gid_t	 gid;
	int	 ngroups;
	int	 nnp;
	int	 dumpable;
	int	 sees_etc;
	int	 regain_root;
	rlim_t	 core;
};

/* Enter the sandbox in a child and report what it looks like inside. */
static struct report
inside(const struct sandbox *sb)
{
	struct report	 r;
	struct rlimit	 rl;
	gid_t		 groups[8];
	int		 p[2], status;
	pid_t		 pid;

	memset(&r, 0, sizeof(r));
	if (pipe(p) == -1)
		abort();
	if ((pid = fork()) == 0) {
		(void)close(p[0]);
		(void)close(STDERR_FILENO);	/* fatal()'s message */
		sandbox_enter(sb);
		r.uid = getuid();
		r.euid = geteuid();
		r.gid = getgid();
		r.ngroups = getgroups(8, groups);
		r.nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
		r.dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		r.sees_etc = access("/etc/passwd", F_OK) == 0;
		r.regain_root = setuid(0) == 0;
		r.core = getrlimit(RLIMIT_CORE, &rl) == 0 ? rl.rlim_max : 1;
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(3);
		_exit(0);
	}
	(void)close(p[1]);
	if (read(p[0], &r, sizeof(r)) != sizeof(r))
		memset(&r, 0, sizeof(r));
	(void)close(p[0]);
	(void)waitpid(pid, &status, 0);
	r.status = status;
	return r;
}

static void
test_jail(void)
{
	struct sandbox	 sb;
	struct report	 r;
	char		 dir[] = "/tmp/osms-sandbox-XXXXXX";

	test_begin("sandbox: chroot, user, no new privileges, no core");
	test_assert(mkdtemp(dir) != NULL);
	memset(&sb, 0, sizeof(sb));
	sb.jail = dir;
	sb.uid = NOBODY;
	sb.gid = NOBODY;
	sb.secrets = 1;
	r = inside(&sb);
	test_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	test_assert(r.uid == NOBODY && r.euid == NOBODY && r.gid == NOBODY);
	test_assert(r.ngroups == 1);
	test_assert(r.nnp == 1);
	test_assert(r.dumpable == 0);
	test_assert(r.core == 0);
	test_assert(!r.sees_etc);
	test_assert(!r.regain_root);
	(void)rmdir(dir);
	test_end();
}

static void
test_no_jail(void)
{
	struct sandbox	 sb;
	struct report	 r;

	test_begin("sandbox: without a jail the user drop still holds");
	memset(&sb, 0, sizeof(sb));
	sb.uid = NOBODY;
	sb.gid = NOBODY;
	r = inside(&sb);
	test_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	test_assert(r.uid == NOBODY && r.sees_etc && r.nnp == 1);
	test_assert(!r.regain_root);
	test_end();
}

static void
test_refusals(void)
{
	struct sandbox	 sb;
	struct report	 r;

	test_begin("sandbox: root and a missing jail are fatal");
	memset(&sb, 0, sizeof(sb));
	sb.uid = 0;
	sb.gid = 0;
	r = inside(&sb);
	test_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
	sb.uid = NOBODY;
	sb.gid = NOBODY;
	sb.jail = "/nonexistent/jail";
	r = inside(&sb);
	test_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
	test_end();
}

int
main(void)
{
	if (geteuid() != 0) {
		(void)printf("not ok - sandbox: the tests need root\n");
		return 1;
	}
	test_jail();
	test_no_jail();
	test_refusals();
	return test_exit();
}
