/*
 * cryptod's inside: the role (cryptod.c), its DKIM signer
 * (dkim_signer.c) and the S/MIME gateway (gateway.c).
 */
#ifndef OSMS_CRYPTOD_H
#define OSMS_CRYPTOD_H

struct channel;
struct imsg;

void		 signer_conf(struct imsg *);
void		 signer_apply(void);
void		 signer_request(struct channel *, struct imsg *);
unsigned long	 signer_count(void);

/* gateway.c: inbound S/MIME */
void		 gateway_conf(struct imsg *);
void		 gateway_apply(void);
void		 gateway_source(struct channel *, struct imsg *);
void		 gateway_inbound(struct channel *, struct imsg *);
unsigned long	 gateway_count(void);

#endif
