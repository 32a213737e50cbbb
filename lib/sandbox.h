/*
 * Least privilege on Linux: what a role gives up after its start-up work
 * and before it reads the first byte from a peer.
 */
#ifndef OSMS_SANDBOX_H
#define OSMS_SANDBOX_H

#include <sys/types.h>

struct sandbox {
	const char	*jail;		/* chroot here; NULL or "" for none */
	uid_t		 uid;		/* never 0 */
	gid_t		 gid;
	int		 secrets;	/* no core dumps, no ptrace by peers */
	size_t		 max_memory;	/* address space, bytes; 0: as is */
};

/*
 * chroot, drop to uid/gid for good, no new privileges, limits that
 * cannot be raised again. Fatal on any failure: a role that cannot lock
 * itself in must not serve.
 */
void	 sandbox_enter(const struct sandbox *);

#endif
