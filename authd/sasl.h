/*
 * SASL exchanges relayed by the network roles (sasl.c).
 */
#ifndef AUTHD_SASL_H
#define AUTHD_SASL_H

#include "channel.h"

/* Before the sandbox: libsasl2 loads its mechanism plugins. */
void	 authd_sasl_init(void);
void	 authd_sasl_start(struct channel *, struct imsg *);
void	 authd_sasl_step(struct channel *, struct imsg *);
void	 authd_sasl_abort(struct channel *, struct imsg *);
/* A network role went away: its exchanges end. */
void	 authd_sasl_peer_down(enum osms_role);
void	 authd_sasl_state(unsigned long *ok, unsigned long *failed);

#endif
