/*
 * authd: shared between its files.
 *
 *	authd.c		the role: config, requests, worker jobs
 *	dir.c		the directory snapshot: domains, users
 *	lookup.c	recipients: aliases, catch-all, destinations
 *	table.c		file tables; table_pg.c PostgreSQL tables
 *	sasl.c		SASL exchanges with libsasl2
 *	ratelimit.c	failed authentications per client and account
 *	admin.c		osmsctl domain, user, alias
 */
#ifndef AUTHD_AUTHD_H
#define AUTHD_AUTHD_H

#include "dir.h"

#define AUTHD_SASL_MECHS	"SCRAM-SHA-256 PLAIN LOGIN"
#define AUTHD_WORKERS		4

/* authd.c: the directory as it is now (take a reference to keep it). */
struct directory *authd_directory(void);

#endif
