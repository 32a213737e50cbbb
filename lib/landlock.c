/*
 * Landlock rules from a list of paths. The access rights handled are
 * those of the kernel's ABI and of our headers, whichever is older, so
 * a newer kernel is as strict as ours knows how to be and an older one
 * as strict as it can be.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "landlock.h"
#include "log.h"
#include "util.h"

#define LL_MAX_PATHS	32

struct landlock {
	char		*paths[LL_MAX_PATHS];
	unsigned	 access[LL_MAX_PATHS];
	size_t		 n;
};

#define FS_READ		(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE	(LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_MAKE_SOCK | \
			 LANDLOCK_ACCESS_FS_MAKE_FIFO | \
			 LANDLOCK_ACCESS_FS_MAKE_SYM)
#define FS_OTHER	(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_MAKE_CHAR | \
			 LANDLOCK_ACCESS_FS_MAKE_BLOCK)
/* What may be granted on a regular file rather than a directory. */
#define FS_FILE		(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_READ_FILE)
#ifdef LANDLOCK_ACCESS_FS_REFER
#define FS_REFER	LANDLOCK_ACCESS_FS_REFER	/* ABI 2 */
#else
#define FS_REFER	0
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
#define FS_TRUNCATE	LANDLOCK_ACCESS_FS_TRUNCATE	/* ABI 3 */
#else
#define FS_TRUNCATE	0
#endif

struct landlock *
landlock_new(void)
{
	return xcalloc(1, sizeof(struct landlock));
}

void
landlock_allow(struct landlock *ll, const char *path, unsigned access)
{
	if (path == NULL || path[0] != '/')
		return;
	if (ll->n == LL_MAX_PATHS)
		fatalx("landlock: too many paths");
	ll->paths[ll->n] = xstrdup(path);
	ll->access[ll->n] = access;
	ll->n++;
}

static void
landlock_free(struct landlock *ll)
{
	size_t	 i;

	for (i = 0; i < ll->n; i++)
		free(ll->paths[i]);
	free(ll);
}

/* The rights the kernel knows, by its ABI version. */
static uint64_t
handled_rights(int abi)
{
	uint64_t	 r = FS_READ | FS_WRITE | FS_OTHER;

	if (abi >= 2)
		r |= FS_REFER;
	if (abi >= 3)
		r |= FS_TRUNCATE;
	return r;
}

static uint64_t
rights_of(unsigned access, int abi)
{
	uint64_t	 r = 0;

	if (access & LL_READ)
		r |= FS_READ;
	if (access & LL_WRITE)
		r |= FS_READ | FS_WRITE | FS_REFER | FS_TRUNCATE;
	if (access & LL_EXEC)
		r |= FS_READ | LANDLOCK_ACCESS_FS_EXECUTE;
	return r & handled_rights(abi);
}

int
landlock_enter(struct landlock *ll)
{
	struct landlock_ruleset_attr	 attr;
	struct landlock_path_beneath_attr pb;
	struct stat			 st;
	int				 abi, rfd, fd;
	size_t				 i;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		log_info("landlock: not in this kernel (%s); the file system "
		    "is limited by the role's user only", strerror(errno));
		landlock_free(ll);
		return 1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled_rights(abi);
	if ((rfd = (int)syscall(SYS_landlock_create_ruleset, &attr,
	    sizeof(attr), 0)) == -1)
		fatal("landlock: create_ruleset");
	for (i = 0; i < ll->n; i++) {
		if ((fd = open(ll->paths[i], O_PATH | O_CLOEXEC)) == -1) {
			if (errno != ENOENT)
				fatal("landlock: %s", ll->paths[i]);
			continue;
		}
		if (fstat(fd, &st) == -1)
			fatal("landlock: stat %s", ll->paths[i]);
		memset(&pb, 0, sizeof(pb));
		pb.parent_fd = fd;
		pb.allowed_access = rights_of(ll->access[i], abi);
		if (!S_ISDIR(st.st_mode))
			pb.allowed_access &= FS_FILE | FS_TRUNCATE;
		if (syscall(SYS_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1)
			fatal("landlock: add_rule %s", ll->paths[i]);
		(void)close(fd);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("landlock: PR_SET_NO_NEW_PRIVS");
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		fatal("landlock: restrict_self");
	(void)close(rfd);
	log_info("landlock: the file system is %zu paths (ABI %d)", ll->n,
	    abi);
	landlock_free(ll);
	return 0;
}
