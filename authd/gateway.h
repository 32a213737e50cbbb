/*
 * What cryptod asks of the directory (gateway.c): policy entries, the
 * tables its rules name, and the certificate store's rows.
 */
#ifndef AUTHD_GATEWAY_H
#define AUTHD_GATEWAY_H

#include <stddef.h>

#include "channel.h"
#include "dir.h"
#include "osms_imsg.h"

/* On a worker thread: the policy-table's entry for key, or whether the
 * table lists key (enum gw_lookup). */
enum table_found gw_lookup(struct directory *, enum gw_lookup,
		    const char *table, const char *key, char *value,
		    size_t size);

void		 authd_gw_lookup(struct channel *, struct imsg *);
void		 authd_store_since(struct channel *, struct imsg *);
void		 authd_store_put(struct channel *, struct imsg *);

#endif
