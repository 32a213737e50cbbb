/*
 * The parent process, osmsd: shared between its files.
 *
 *	osmsd.c		start-up: options, config, users, sockets, daemon
 *	parent.c	the process tree: spawn, slices, restart, reload, stop
 *	listen.c	listening sockets and the control socket
 *	users.c		role users and the directories they are jailed in
 *	tables.c	file tables: edits for osmsctl, changes by hand
 *	sessions.c	mail sessions after an IMAP or POP3 login
 */
#ifndef OSMSD_H
#define OSMSD_H

#include <sys/types.h>
#include <stdint.h>

#include "conf.h"
#include "role.h"

/* Who each role runs as and where it is locked in, resolved by the
 * parent from the config. */
struct role_cred {
	uid_t		 uid;
	gid_t		 gid;
	char		 jail[CONF_MAX_PATH];
	/* What Landlock lets a role without a jail write, fixed at its
	 * start: a change needs a new process. */
	char		 writes[CONF_MAX_PATH];
};

/* A socket opened for a "listen on" line. */
struct plistener {
	TAILQ_ENTRY(plistener)	 entry;
	struct conf_listener	 conf;
	int			 fd;
	int			 reused;	/* kept across a reload */
};
TAILQ_HEAD(plistener_list, plistener);

/* osmsd.c */
extern const char	*osmsd_conf_path;
extern char *const	*osmsd_defines;
extern int		 osmsd_foreground;
extern int		 osmsd_verbose;

/* parent.c */
_Noreturn void	 parent_run(struct osms_conf *, struct role_cred *,
		    struct plistener_list *, int control_fd,
		    const char *libexec);
/* The channel to a running role (NULL if it is down), and the state. */
struct channel	*parent_channel(enum osms_role);
const struct osms_conf *parent_conf(void);
const struct role_cred *parent_cred(enum osms_role);
/* In a forked child, descriptors up to lastfd set: exec role's program. */
_Noreturn void	 parent_exec(enum osms_role, int lastfd);

/* sessions.c */
struct imsg;
void		 sessions_login(struct imsg *);		/* from imapd */
void		 sessions_redeemed(struct imsg *);	/* from authd */
/* 1 if pid was a session (now forgotten). */
int		 sessions_reap(pid_t, int status);
size_t		 sessions_count(void);
void		 sessions_stop(void);			/* SIGTERM */
void		 sessions_kill(void);			/* SIGKILL */

/* listen.c */
int		 listen_open(const struct conf_listener *, char *, size_t);
/* Open the sockets of conf, reusing those in old with the same address
 * and port; -1 and an error text if one cannot be opened. */
int		 listen_open_all(const struct osms_conf *,
		    struct plistener_list *old, struct plistener_list *new,
		    char *, size_t);
void		 listen_close_all(struct plistener_list *);
int		 control_open(const char *path, char *, size_t);

/* tables.c */
#define TABLE_EDIT_MAX_VALUE	4096
#define TABLES_WATCH_SEC	2	/* file tables are looked at so often */
/* Set (or remove) the line of key in a file table, atomically. */
int		 table_file_edit(const char *path, uint32_t op,
		    const char *key, const char *value, char *, size_t);
/* Changes whenever a file table is changed, replaced or removed. */
uint64_t	 tables_fingerprint(const struct osms_conf *);

/* users.c */
/* Resolve (and with create, add) the user of every role, and prepare
 * the directories they are jailed in. -1 with an error text. */
int		 users_prepare(const struct osms_conf *,
		    struct role_cred *, int create, char *, size_t);
/* Extra checks of osmsd -n: key files exist and are private. */
int		 conf_check_files(const struct osms_conf *, FILE *);

#endif
