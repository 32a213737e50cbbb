/*
 * checkd's greylist in the directory's database (greylist.c).
 */
#ifndef AUTHD_GREYLIST_H
#define AUTHD_GREYLIST_H

#include "channel.h"

/* IMSG_GREY_DB_REQ from checkd: the triplet's decision, asked of the
 * database on a worker; IMSG_GREY_DB_RESULT goes back. */
void	 authd_greylist(struct channel *, struct imsg *);

#endif
