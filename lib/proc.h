/*
 * The life of a role process, shared by every role: started by osmsd
 * with its parent channel on descriptor 3, it says hello, receives its
 * config slice, does its start-up work, enters its sandbox, says ready,
 * and serves until the parent goes away or tells it to stop.
 */
#ifndef OSMS_PROC_H
#define OSMS_PROC_H

#include <sys/types.h>
#include <stddef.h>

#include "channel.h"
#include "landlock.h"
#include "role.h"

#define PROC_PARENT_FD	3

/* The common part of every config slice (IMSG_CONF_START). */
struct proc_conf {
	uint32_t	 generation;	/* 1 at start, +1 per reload */
	uid_t		 uid;
	gid_t		 gid;
	char		 jail[1024];
	char		 hostname[256];
};

struct proc_ops {
	enum osms_role	 role;
	/* A role-specific IMSG_CONF_* message inside a slice. */
	void	(*conf)(struct imsg *);
	/* The slice is complete: apply it. reload is 0 the first time. */
	void	(*conf_end)(int reload);
	/* Start-up work that needs files or privileges (before sandbox). */
	void	(*setup)(void);
	/*
	 * A role without a chroot: the paths it needs besides the system's
	 * (landlock_allow()), which is all it may reach.
	 */
	void	(*paths)(struct landlock *);
	/* Sandboxed; start serving. */
	void	(*ready)(void);
	/* A message from the parent outside a config slice. */
	void	(*dispatch_parent)(struct imsg *);
	/* A message from a linked role. */
	void	(*dispatch_peer)(struct channel *, struct imsg *);
	void	(*peer_up)(enum osms_role);
	void	(*peer_down)(enum osms_role);
	/* A few words on what it is doing, for osmsctl status. */
	void	(*state)(char *, size_t);
	/* Stop serving; called once, before exit. */
	void	(*shutdown)(void);
};

_Noreturn void	 proc_main(const struct proc_ops *, int, char **);

const struct proc_conf *proc_conf(void);
struct channel	*proc_parent(void);
/* The channel to a linked role, NULL while that role is down. */
struct channel	*proc_peer(enum osms_role);

#endif
