/*
 * cryptod's inside: the role (cryptod.c), its DKIM signer
 * (dkim_signer.c), the S/MIME gateway (gateway.c: what comes in and
 * users' signatures; encrypt.c: encryption as mail leaves); its
 * certificate store is lib/mail/certstore.c.
 */
#ifndef OSMS_CRYPTOD_H
#define OSMS_CRYPTOD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "certstore.h"
#include "policy.h"
#include "role.h"

struct buf;
struct channel;
struct imsg;

void		 signer_conf(struct imsg *);
void		 signer_apply(void);
void		 signer_request(struct channel *, struct imsg *);
unsigned long	 signer_count(void);
/* The DKIM-Signature field for a message of sender, to out: 1, 0 if no
 * key of ours fits, -1 and why. */
int		 signer_field(const char *msg, size_t len, const char *sender,
		    struct buf *out, const char **why);

/* gateway.c: S/MIME before the queue */
void		 gateway_conf(struct imsg *);
void		 gateway_rule(struct imsg *);
void		 gateway_master(struct imsg *);
void		 gateway_apply(void);
/* What the policy says for one sender and recipient: 0, or -1 if the
 * directory could not tell (the rules' defaults then). */
int		 gateway_policy(enum policy_dir, const char *from,
		    const char *to, struct policy *);
/* 1 if the directory's answers for gateway_policy() are here, else 0:
 * asked for, and the request may be kept with dirpolicy_defer(). */
int		 gateway_policy_ready(enum policy_dir, const char *from,
		    const char *to);
void		 gateway_source(struct channel *, struct imsg *);
int		 gateway_take_source(struct channel *, uint64_t, const char *);
void		 gateway_process(struct channel *, struct imsg *);
unsigned long	 gateway_count(void);

/* dirpolicy.c: the directory's part of the policy, asked of authd */
void		 dirpolicy_conf(const char *policy_table,
		    const struct policy_rules *);
int		 dirpolicy_get(const struct policy_rules *, enum policy_dir,
		    const char *from, const char *to, struct policy *);
int		 dirpolicy_ready(const struct policy_rules *, enum policy_dir,
		    const char *from, const char *to);
/* Keep the request (and its descriptor) after dirpolicy_ready() said
 * 0, and give it to dispatch again when the answers are in: 0, or -1
 * if too many wait already (the request is the caller's still). */
int		 dirpolicy_defer(struct channel *, struct imsg *,
		    void (*dispatch)(struct channel *, struct imsg *));
void		 dirpolicy_answer(struct imsg *);
void		 dirpolicy_tick(void);
void		 dirpolicy_peer_down(enum osms_role);

/* pgpgate.c: OpenPGP mail from outside */
void		 pgpgate_apply(const char *store);
/* Before exit: GnuPG's agent stops with cryptod. */
void		 pgpgate_shutdown(void);
/* cur decrypted for one of decryptable (addresses or domains whose keys
 * are in the store's GnuPG home) and its signature checked against
 * from; what was done in notes, whether it was signed, and by From's
 * key (or its domain's): 1 if there is something to say (cur may have
 * changed), 0 if it is no OpenPGP mail, -1 if it is refused (why in
 * refusal: no integrity protection). */
int		 pgpgate_inbound(struct buf *cur, const char *const *decryptable,
		    size_t ndecryptable, const char *from, char *notes,
		    size_t size, int *signed_, int *verified, char *refusal,
		    size_t rsize);

/* The fingerprint of address's usable OpenPGP key in the home: 0, 1 if
 * it is its domain's gateway key, -1 if there is none (or OpenPGP is
 * off). */
int		 pgpgate_key_for(const char *address, char *fpr, size_t size);

/* Take the sender's key from the message's Autocrypt field, and from an
 * attached key as the policy says (tag: the queue id, for the audit
 * trail). Called after pgpgate_inbound() for every message: it forgets
 * what that kept. */
void		 pgpgate_harvest(const struct buf *, const char *from,
		    const char *tag, int autocrypt,
		    enum policy_pgp_keys attached);
/* The sender's Autocrypt field (CRLF-ended) to out: 0, or -1 if the
 * sender has no key pair here. */
int		 pgpgate_autocrypt_field(const char *sender, struct buf *out);

/* cur signed (PGP/MIME) with sender's key pair here, else (domain
 * set) its domain's: 1 (fpr says which key), 2 with the domain's, 0 if
 * there is none, -1 and err if signing failed. */
int		 pgpgate_sign(struct buf *cur, const char *sender, int domain,
		    char *fpr, size_t size, const char **err);

/* storesync.c: the store's copy in the directory's database */
void		 storesync_conf(void);
void		 storesync_tick(void);
void		 storesync_row(struct channel *, struct imsg *);
void		 storesync_end(struct channel *, struct imsg *);
void		 storesync_peer_down(void);
void		 storesync_state(unsigned long *pulled,
		    unsigned long *pushed);

/* audit.c: every decision, to the log and the store's audit.log */
void		 audit_open(void);
void		 audit(const char *id, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* encrypt.c: S/MIME as mail leaves */
void		 encrypt_request(struct channel *, struct imsg *);
unsigned long	 encrypt_count(void);

#endif
