/*
 * cryptod's inside: the role (cryptod.c) and its DKIM signer
 * (dkim_signer.c).
 */
#ifndef OSMS_CRYPTOD_H
#define OSMS_CRYPTOD_H

struct channel;
struct imsg;

void		 signer_conf(struct imsg *);
void		 signer_apply(void);
void		 signer_request(struct channel *, struct imsg *);
unsigned long	 signer_count(void);

#endif
