/*
 * osmsctl domain, user and alias (admin.c).
 */
#ifndef AUTHD_ADMIN_H
#define AUTHD_ADMIN_H

#include "channel.h"

/* IMSG_CTL_DIR from control. */
void	 authd_admin(struct channel *, struct imsg *);
/* IMSG_PARENT_TABLE_EDITED: the parent wrote a file table's change. */
void	 authd_admin_edited(struct imsg *);

#endif
