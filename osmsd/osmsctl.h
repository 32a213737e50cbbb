/*
 * osmsctl's commands that work without osmsd, each in a file of its own.
 */
#ifndef OSMSCTL_H
#define OSMSCTL_H

/* osmsctl_dkim.c: "dkim keygen|sign ...": 0, 1 (failed), -1 (usage). */
int	 cmd_dkim(int argc, char **argv);
/* osmsctl_smime.c: "smime sign|encrypt|decrypt|verify ...": the same. */
int	 cmd_smime(int argc, char **argv);

/* osmsctl.c: a password from a terminal (asked twice, no echo) or the
 * first line of standard input. */
void	 read_password(char *buf, size_t size);
/* osmsctl_cert.c: "cert list ...", "policy test ...", reading the
 * configuration file path: the same. */
int	 cmd_cert(const char *path, int argc, char **argv);
/* osmsctl_cert.c: 1 if the audit trail is in the directory's database
 * (a PostgreSQL table), so "audit" asks osmsd (authd) for it. */
int	 audit_in_database(const char *path);

#endif
