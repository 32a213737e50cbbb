/*
 * A system call allow-list per role, the Linux counterpart of pledge(2):
 * installed once a role has done its start-up work, for the rest of its
 * life. A call outside the list kills the process with SIGSYS.
 */
#ifndef OSMS_SYSFILTER_H
#define OSMS_SYSFILTER_H

#include "role.h"

/* What a role may still do, in pledge's terms. */
#define SF_STDIO	0x01	/* held descriptors, memory, time, signals */
#define SF_THREAD	0x02	/* start threads */
#define SF_ACCEPT	0x04	/* accept on listening sockets */
#define SF_CONNECT	0x08	/* new sockets: DNS, SMTP, databases */
#define SF_RPATH	0x10	/* open files to read, list directories */
#define SF_WPATH	0x20	/* create, write, rename, remove files */
#define SF_EXEC		0x40	/* run helper programs (gpg) */
#define SF_PROC		0x80	/* start roles: change root and user, filters */

unsigned	 sysfilter_promises(enum osms_role);

/*
 * Install the role's list; fatal if the kernel refuses, as a role that
 * cannot lock itself in must not serve. The parent's list (ROLE_PARENT)
 * is inherited by every role it starts, so it holds all the others and
 * what a role does before it enters its own.
 */
void		 sysfilter_enter(enum osms_role);

#endif
