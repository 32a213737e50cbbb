/*
 * The roles of the osms process tree: who runs as whom, jailed where,
 * and which roles may hold a direct channel to each other.
 */
#ifndef OSMS_ROLE_H
#define OSMS_ROLE_H

#include <stdint.h>

enum osms_role {
	ROLE_PARENT,
	ROLE_CONTROL,
	ROLE_SMTPD,
	ROLE_QUEUE,
	ROLE_DELIVERY,
	ROLE_MTA,
	ROLE_IMAPD,
	ROLE_AUTHD,
	ROLE_CRYPTOD,
	ROLE_SCAND,
	ROLE_CHECKD,
	ROLE_KEYD,
	ROLE_CLIENT,		/* osmsctl, on the far side of control */
	ROLE_SESSION,		/* a user's IMAP/POP3 session, on demand */
	ROLE_COUNT
};

#define R(r)		(1U << (r))
#define R_CHILDREN	(R(ROLE_CONTROL) | R(ROLE_SMTPD) | R(ROLE_QUEUE) | \
			 R(ROLE_DELIVERY) | R(ROLE_MTA) | R(ROLE_IMAPD) | \
			 R(ROLE_AUTHD) | R(ROLE_CRYPTOD) | R(ROLE_SCAND) | \
			 R(ROLE_CHECKD) | R(ROLE_KEYD))
#define R_ANY		(R_CHILDREN | R(ROLE_PARENT))

/* Where a role is locked in after start-up. */
enum role_jail {
	JAIL_NONE,		/* own user only; Landlock comes later */
	JAIL_EMPTY,		/* chroot to the empty directory */
	JAIL_SPOOL,		/* chroot to the queue directory */
	JAIL_MAILSTORE,		/* chroot to the mail store root */
	JAIL_SCAN,		/* chroot to the signature databases */
	JAIL_CHECK,		/* chroot to checkd's state directory */
};

struct role_info {
	const char	*name;		/* "smtpd" */
	const char	*program;	/* "osms-smtpd"; NULL if not spawned */
	const char	*user;		/* default unprivileged user */
	enum role_jail	 jail;
	int		 secrets;	/* keys or passwords: no core dump */
	uint32_t	 links;		/* roles it has a direct channel to */
	int		 ondemand;	/* started per login, not at start-up */
	unsigned	 memory_mb;	/* address space cap; 0: none */
};

const struct role_info *role_info(enum osms_role);
const char	*role_name(enum osms_role);
int		 role_from_name(const char *);	/* -1 if unknown */
int		 role_linked(enum osms_role, enum osms_role);

#endif
