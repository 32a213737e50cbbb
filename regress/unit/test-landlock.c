/*
 * landlock_enter() (landlock.c), in child processes: what is allowed can
 * be reached, everything else cannot, and the children inherit it.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "landlock.h"
#include "test.h"

static char	 allowed[] = "/tmp/osms-landlock-a-XXXXXX";
static char	 readonly[] = "/tmp/osms-landlock-r-XXXXXX";
static char	 other[] = "/tmp/osms-landlock-o-XXXXXX";

/* errno of opening path in dir with flags (0 if it opened). */
static int
try_open(const char *dir, const char *name, int flags)
{
	char	 path[128];
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, flags, 0600)) == -1)
		return errno;
	(void)close(fd);
	return 0;
}

static void
remove_in(const char *dir, const char *name)
{
	char	 path[128];

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	(void)unlink(path);
}

enum { R_WRITE_ALLOWED, R_READ_RO, R_WRITE_RO, R_READ_OTHER, R_WRITE_OTHER,
    R_EXEC_BIN, R_COUNT };

int
main(void)
{
	struct landlock	*ll;
	int		 r[R_COUNT], p[2], status, abi;
	pid_t		 pid;

	if (mkdtemp(allowed) == NULL || mkdtemp(readonly) == NULL ||
	    mkdtemp(other) == NULL || pipe(p) == -1)
		return 2;
	(void)close(open("/tmp/osms-landlock-probe", O_CREAT | O_WRONLY, 0600));
	{
		char	 path[128];
		int	 fd;

		(void)snprintf(path, sizeof(path), "%s/f", readonly);
		if ((fd = open(path, O_CREAT | O_WRONLY, 0600)) == -1)
			return 2;
		(void)close(fd);
		(void)snprintf(path, sizeof(path), "%s/f", other);
		if ((fd = open(path, O_CREAT | O_WRONLY, 0600)) == -1)
			return 2;
		(void)close(fd);
	}
	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);

	test_begin("landlock: only the paths allowed, and as allowed");
	if ((pid = fork()) == 0) {
		ll = landlock_new();
		landlock_allow(ll, allowed, LL_WRITE);
		landlock_allow(ll, readonly, LL_READ);
		landlock_allow(ll, "/usr", LL_READ | LL_EXEC);
		landlock_allow(ll, "/nonexistent/path", LL_READ);
		(void)close(STDERR_FILENO);
		if (landlock_enter(ll) != 0)
			_exit(3);
		r[R_WRITE_ALLOWED] = try_open(allowed, "new", O_CREAT |
		    O_WRONLY);
		r[R_READ_RO] = try_open(readonly, "f", O_RDONLY);
		r[R_WRITE_RO] = try_open(readonly, "g", O_CREAT | O_WRONLY);
		r[R_READ_OTHER] = try_open(other, "f", O_RDONLY);
		r[R_WRITE_OTHER] = try_open(other, "g", O_CREAT | O_WRONLY);
		/* A child inherits it: head(1) runs, /tmp stays shut. */
		r[R_EXEC_BIN] = system("exec /usr/bin/head -c1 "
		    "/tmp/osms-landlock-probe");
		if (write(p[1], r, sizeof(r)) != sizeof(r))
			_exit(4);
		_exit(0);
	}
	(void)close(p[1]);
	test_assert(read(p[0], r, sizeof(r)) == sizeof(r));
	test_assert(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	if (abi < 1)
		(void)printf("# this kernel has no Landlock: nothing to "
		    "enforce\n");
	test_assert(abi >= 1);
	test_assert(r[R_WRITE_ALLOWED] == 0);
	test_assert(r[R_READ_RO] == 0);
	test_assert(r[R_WRITE_RO] == EACCES);
	test_assert(r[R_READ_OTHER] == EACCES);
	test_assert(r[R_WRITE_OTHER] == EACCES);
	/* head(1) ran (exit 1: cannot open), not 127 or a signal. */
	test_assert(WIFEXITED(r[R_EXEC_BIN]) &&
	    WEXITSTATUS(r[R_EXEC_BIN]) == 1);
	test_end();

	(void)unlink("/tmp/osms-landlock-probe");
	remove_in(allowed, "new");
	remove_in(readonly, "f");
	remove_in(other, "f");
	(void)rmdir(allowed);
	(void)rmdir(readonly);
	(void)rmdir(other);
	return test_exit();
}
