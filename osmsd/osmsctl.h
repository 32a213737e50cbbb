/*
 * osmsctl's commands that work without osmsd, each in a file of its own.
 */
#ifndef OSMSCTL_H
#define OSMSCTL_H

#include <stddef.h>
#include <stdint.h>

/* osmsctl_dkim.c: "dkim keygen|sign ...": 0, 1 (failed), -1 (usage). */
int	 cmd_dkim(int argc, char **argv);
/* osmsctl_smime.c: "smime sign|encrypt|decrypt|verify ...": the same. */
int	 cmd_smime(int argc, char **argv);

/* osmsctl.c: a password from a terminal (asked twice, no echo) or the
 * first line of standard input. */
void	 read_password(char *buf, size_t size);
/* osmsctl.c: one directory question (IMSG_CTL_DIR op with three
 * arguments) to a running osmsd at the control socket path: 1 and the
 * answer's text in out, or 0 if osmsd cannot be reached. */
int	 ctl_directory_ask(const char *path, uint32_t op, const char *a0,
	    const char *a1, const char *a2, char *out, size_t size);
/* osmsctl_cert.c: "cert list ...", "policy test ...", reading the
 * configuration file path: the same. */
int	 cmd_cert(const char *path, int argc, char **argv);
/* osmsctl_pgp.c: "pgp keygen|import|list|show|remove|export ...", in
 * the store's GnuPG home: 0, 1 (failed), -1 (usage). */
int	 cmd_pgp(const char *path, int argc, char **argv);
/* osmsctl_cert.c: 1 if the audit trail is in the directory's database
 * (a PostgreSQL table), so "audit" asks osmsd (authd) for it. */
int	 audit_in_database(const char *path);

#endif
