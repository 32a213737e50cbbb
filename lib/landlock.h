/*
 * Landlock: the file system a role without a chroot may still reach,
 * where the kernel has it (Linux 5.13 and later).
 */
#ifndef OSMS_LANDLOCK_H
#define OSMS_LANDLOCK_H

#define LL_READ		0x01	/* read files, list directories */
#define LL_WRITE	0x02	/* also create, write, rename, remove */
#define LL_EXEC		0x04	/* run programs */

struct landlock;

struct landlock	*landlock_new(void);
/* Allow access below path; a path that does not exist is skipped. */
void		 landlock_allow(struct landlock *, const char *path,
		    unsigned access);
/*
 * Restrict this process, and its children, to the paths allowed, and
 * free the set. 1 if the kernel has no Landlock (logged once), 0 when
 * in force; fatal if it cannot be put in force.
 */
int		 landlock_enter(struct landlock *);

#endif
