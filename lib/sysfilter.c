/*
 * System call allow-lists, built with libseccomp. The lists are grouped
 * as pledge(2)'s promises are, and each role takes the groups it needs:
 * a network role that is taken over cannot open a file, start a program
 * or make a new socket, only do what it did before with what it holds.
 *
 * The names are resolved for the running architecture; a name that
 * does not exist there (open on arm64) is skipped. Building with
 * -DOSMS_SYSFILTER_LOG logs calls outside the lists instead of killing,
 * which is how the lists are checked against the whole test suite;
 * -DOSMS_SYSFILTER_LOG_PARENT does so for the parent's list alone, which
 * every role and program runs under from its first instruction.
 */
#include <sys/ioctl.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "sysfilter.h"

#ifdef __SANITIZE_ADDRESS__
#define SF_SANITIZER	1
#else
#define SF_SANITIZER	0
#endif

#ifdef OSMS_SYSFILTER_LOG
#define SF_DENY		SCMP_ACT_LOG
#else
#define SF_DENY		SCMP_ACT_KILL_PROCESS
#endif
#if defined(OSMS_SYSFILTER_LOG) || defined(OSMS_SYSFILTER_LOG_PARENT)
#define SF_DENY_PARENT	SCMP_ACT_LOG
#else
#define SF_DENY_PARENT	SCMP_ACT_KILL_PROCESS
#endif

static const char *const sf_stdio[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64",
	"preadv", "pwritev", "close", "close_range", "lseek",
	"fstat", "newfstatat", "statx", "fcntl", "dup", "dup2", "dup3",
	"pipe", "pipe2", "eventfd2", "fsync", "fdatasync", "ftruncate",
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "msync",
	"futex", "set_robust_list", "get_robust_list", "rseq",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"sigaltstack", "restart_syscall", "exit", "exit_group",
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	"nanosleep", "clock_nanosleep", "sched_yield", "sched_getaffinity",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getgroups", "getrandom",
	"uname", "sysinfo", "getrlimit", "getrusage", "umask",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
	"recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown",
	"getsockopt", "setsockopt", "getsockname", "getpeername",
	"socketpair",
	NULL
};

static const char *const sf_accept[] = {
	"accept", "accept4",
	NULL
};

static const char *const sf_connect[] = {
	"connect", "bind", "sendmmsg", "recvmmsg",
	NULL
};

static const char *const sf_rpath[] = {
	"stat", "lstat", "access", "faccessat", "faccessat2", "readlink",
	"readlinkat", "getdents", "getdents64", "statfs", "fstatfs", "chdir",
	"fchdir", "getcwd",
	/* IMAP IDLE watches the Maildir. */
	"inotify_init", "inotify_init1", "inotify_add_watch",
	"inotify_rm_watch",
	NULL
};

static const char *const sf_wpath[] = {
	"open", "openat", "creat", "mkdir", "mkdirat", "rename", "renameat",
	"renameat2", "unlink", "unlinkat", "rmdir", "link", "linkat",
	"chmod", "fchmod", "fchmodat", "utimensat", "flock", "fallocate",
	"truncate",
	NULL
};

static const char *const sf_exec[] = {
	"clone", "clone3", "fork", "vfork", "execve", "wait4", "waitid",
	"kill", "tgkill", "tkill", "setsid", "setpgid", "getpgrp",
	"prctl", "setrlimit", "mlock", "munlock", "times", "socket",
	"symlink", "fchown", "listen", "accept", "accept4",
	/* What a new program does first. */
	"arch_prctl", "set_tid_address",
	NULL
};

/*
 * What the parent does to start a role, and what the role does before
 * it enters its own list: the program is loaded, changes root and user,
 * drops its limits and installs its filters.
 */
static const char *const sf_proc[] = {
	"execveat", "chroot", "setuid", "setgid", "setreuid", "setregid",
	"setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
	"capget", "capset", "chown", "lchown", "fchownat", "seccomp",
	"landlock_create_ruleset", "landlock_add_rule",
	"landlock_restrict_self",
	NULL
};

/*
 * What the sanitizers' run time does when it reports: it reads its own
 * maps. Only in sanitizer builds; their leak check at exit, which
 * traces the process, is off in the daemons.
 */
static const char *const sf_sanitizer[] = {
	"open", "readlink", "readlinkat", "getdents64", "prctl",
	NULL
};

static const unsigned promises[ROLE_COUNT] = {
	[ROLE_CONTROL] = SF_STDIO | SF_ACCEPT,
	[ROLE_SMTPD] = SF_STDIO | SF_ACCEPT,
	[ROLE_IMAPD] = SF_STDIO | SF_ACCEPT,
	[ROLE_QUEUE] = SF_STDIO | SF_THREAD | SF_RPATH | SF_WPATH,
	[ROLE_DELIVERY] = SF_STDIO | SF_THREAD | SF_RPATH | SF_WPATH,
	[ROLE_MTA] = SF_STDIO | SF_THREAD | SF_CONNECT,
	[ROLE_AUTHD] = SF_STDIO | SF_THREAD | SF_CONNECT | SF_RPATH |
	    SF_WPATH,
	[ROLE_CRYPTOD] = SF_STDIO | SF_THREAD | SF_CONNECT | SF_RPATH |
	    SF_WPATH | SF_EXEC,
	[ROLE_SCAND] = SF_STDIO | SF_THREAD | SF_RPATH | SF_WPATH,
	[ROLE_CHECKD] = SF_STDIO | SF_THREAD | SF_CONNECT | SF_RPATH |
	    SF_WPATH,
	[ROLE_KEYD] = SF_STDIO,
	[ROLE_SESSION] = SF_STDIO | SF_RPATH | SF_WPATH,
	[ROLE_PARENT] = SF_STDIO | SF_THREAD | SF_ACCEPT | SF_CONNECT |
	    SF_RPATH | SF_WPATH | SF_EXEC | SF_PROC,
};

unsigned
sysfilter_promises(enum osms_role role)
{
	if ((unsigned)role >= ROLE_COUNT)
		return 0;
	return promises[role];
}

/* Allow a call by name; names unknown on this architecture are skipped. */
static int
allow(scmp_filter_ctx ctx, const char *name)
{
	int	 nr, rc;

	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
		return 0;
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0) {
		log_warnx("sysfilter: %s: %s", name, strerror(-rc));
		return -1;
	}
	return 0;
}

static int
allow_list(scmp_filter_ctx ctx, const char *const *names)
{
	for (; *names != NULL; names++)
		if (allow(ctx, *names) == -1)
			return -1;
	return 0;
}

/*
 * The calls allowed only with some arguments. A failed rule is an
 * error; so is a rule for a call the role allows outright, which is
 * why each is added only when its group does not allow it all.
 */
static int
allow_some(scmp_filter_ctx ctx, unsigned p, uint32_t deny,
    uint32_t other_ioctl)
{
	pid_t	 self = getpid();
	int	 rc = 0;

	/* Terminal and socket queries; any other ioctl fails harmlessly. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, TCGETS));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, FIONBIO));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, FIOCLEX));
	/* Unless that is the default (learning): libseccomp refuses it. */
	if (other_ioctl != deny)
		rc |= seccomp_rule_add(ctx, other_ioctl, SCMP_SYS(ioctl), 0);

	/* Limits of the process itself: its user's other roles are not
	 * its business. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
	    SCMP_A0(SCMP_CMP_EQ, 0));
	if ((p & SF_EXEC) == 0) {
		/* abort() and raise() signal the process itself, no other. */
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill),
		    1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	}
	if ((p & SF_THREAD) && (p & SF_EXEC) == 0) {
		/*
		 * A thread, never a new process. clone3 passes its flags in
		 * memory, out of the filter's sight: it fails, and the C
		 * library falls back to clone.
		 */
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(clone3), 0);
	}
	if ((p & SF_CONNECT) && (p & SF_EXEC) == 0) {
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket),
		    1, SCMP_A0(SCMP_CMP_EQ, AF_INET));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket),
		    1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket),
		    1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	}
	if ((p & SF_RPATH) && (p & SF_WPATH) == 0) {
		/* Read only: no write access, no creation, no truncation. */
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC,
		    O_RDONLY));
	}
	return rc == 0 ? 0 : -1;
}

void
sysfilter_enter(enum osms_role role)
{
	scmp_filter_ctx	 ctx;
	unsigned	 p = sysfilter_promises(role);
	uint32_t	 deny = SF_DENY, other_ioctl = SCMP_ACT_ERRNO(ENOTTY);
	int		 rc, failed = 0;

	if ((p & SF_STDIO) == 0)
		fatalx("sysfilter: no list for role %s", role_name(role));
	if (role == ROLE_PARENT) {
		deny = SF_DENY_PARENT;
#ifdef OSMS_SYSFILTER_LOG_PARENT
		/* What a role asks before its own list is in place. */
		other_ioctl = SCMP_ACT_LOG;
#endif
	}
	if ((ctx = seccomp_init(deny)) == NULL)
		fatalx("sysfilter: seccomp_init failed");
	failed |= allow_list(ctx, sf_stdio);
	if (p & SF_ACCEPT)
		failed |= allow_list(ctx, sf_accept);
	if (p & SF_CONNECT)
		failed |= allow_list(ctx, sf_connect);
	if (p & SF_RPATH)
		failed |= allow_list(ctx, sf_rpath);
	if (p & SF_WPATH)
		failed |= allow_list(ctx, sf_wpath);
	if (p & SF_EXEC)
		failed |= allow_list(ctx, sf_exec);
	if (p & SF_PROC)
		failed |= allow_list(ctx, sf_proc);
	if (SF_SANITIZER)
		failed |= allow_list(ctx, sf_sanitizer);
	failed |= allow_some(ctx, p, deny, other_ioctl);
	if (failed)
		fatalx("sysfilter: cannot build the list for %s",
		    role_name(role));
	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("sysfilter: cannot install the list for %s: %s",
		    role_name(role), strerror(-rc));
	seccomp_release(ctx);
}
