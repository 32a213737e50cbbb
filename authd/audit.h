/*
 * The gateway's audit trail in the directory's database (audit.c).
 */
#ifndef AUTHD_AUDIT_H
#define AUTHD_AUDIT_H

#include "channel.h"
#include "dir.h"

/* IMSG_AUTH_AUDIT from cryptod: a row for the database, if there is one. */
void		 authd_audit(struct channel *, struct imsg *);
/* The table that keeps the trail: NULL if the directory has no
 * PostgreSQL table. */
struct table	*audit_table(struct directory *);

#endif
