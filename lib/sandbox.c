/*
 * Least privilege on Linux. The order matters: chroot needs root, and
 * the uid goes last but before PR_SET_NO_NEW_PRIVS, which then keeps any
 * later execve from gaining privileges back.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

void
sandbox_enter(const struct sandbox *sb)
{
	struct rlimit	 zero = { 0, 0 }, rl;
	uid_t		 ruid, euid, suid;
	gid_t		 rgid, egid, sgid;

	if (sb->uid == 0)
		fatalx("sandbox: refusing to run as root");

	if (sb->jail != NULL && sb->jail[0] != '\0') {
		if (chroot(sb->jail) == -1)
			fatal("sandbox: chroot %s", sb->jail);
		if (chdir("/") == -1)
			fatal("sandbox: chdir /");
	} else if (chdir("/") == -1)
		fatal("sandbox: chdir /");

	if (setgroups(1, &sb->gid) == -1)
		fatal("sandbox: setgroups");
	if (setresgid(sb->gid, sb->gid, sb->gid) == -1)
		fatal("sandbox: setresgid");
	if (setresuid(sb->uid, sb->uid, sb->uid) == -1)
		fatal("sandbox: setresuid");

	/* Prove the drop is for good. */
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		fatal("sandbox: getresuid");
	if (ruid != sb->uid || euid != sb->uid || suid != sb->uid ||
	    rgid != sb->gid || egid != sb->gid || sgid != sb->gid)
		fatalx("sandbox: credentials did not change");
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("sandbox: could regain root");

	if (sb->secrets) {
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
			fatal("sandbox: PR_SET_DUMPABLE");
		if (setrlimit(RLIMIT_CORE, &zero) == -1)
			fatal("sandbox: RLIMIT_CORE");
	}
	/* The descriptor limit as it is, for good: no raising it later. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("sandbox: RLIMIT_NOFILE");
	rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("sandbox: RLIMIT_NOFILE");
	/*
	 * A cap on memory turns a runaway into a failed allocation and a
	 * restart of the role, not the whole machine short of memory. Not
	 * under AddressSanitizer, whose shadow alone is terabytes.
	 */
#ifndef __SANITIZE_ADDRESS__
	if (sb->max_memory != 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)sb->max_memory;
		if (setrlimit(RLIMIT_AS, &rl) == -1)
			fatal("sandbox: RLIMIT_AS");
	}
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("sandbox: PR_SET_NO_NEW_PRIVS");
	/* A change of credentials clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1)
		fatal("sandbox: PR_SET_PDEATHSIG");
}
