/*
 * A queued message's envelope and its on-disk form.
 *
 * The envelope is kept as typed, length-prefixed records that end with
 * an explicit END record carrying a checksum of everything before it, so
 * a torn or damaged file is told apart from a whole one. It is never
 * parsed line by line and never passed to a shell.
 */
#ifndef OSMS_ENVELOPE_H
#define OSMS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "maildir.h"
#include "smtp_cmd.h"

#define QUEUE_ID_LEN		16	/* lower-case hex */
#define ENV_MAX_RCPTS		100000
#define ENV_MAX_DESTS		100000
#define ENV_MAX_ERROR		256
#define ENV_MAX_FILE		(64 * 1024 * 1024)

/* A recipient as the client gave it in RCPT TO. */
struct env_rcpt {
	char		 address[ADDR_MAX_TEXT];
	char		 orcpt[SMTP_ORCPT_MAX + 1];	/* "" if absent */
	uint32_t	 notify;			/* SMTP_NOTIFY_* */
};

enum dest_kind {
	DEST_MAILBOX,		/* local delivery into a Maildir */
	DEST_RELAY,		/* to another server (outbound delivery) */
};

enum dest_state {
	DEST_PENDING,
	DEST_DONE,		/* delivered */
	DEST_FAILED,		/* failed for good; bounced if asked */
};

/* A final destination: a recipient after alias expansion. */
struct env_dest {
	uint32_t	 rcpt;		/* index into rcpts */
	enum dest_kind	 kind;
	char		 address[ADDR_MAX_TEXT];	/* Delivered-To */
	char		 mailbox[MAILDIR_MAX_PATH];	/* "" for relay */
	uint64_t	 quota_bytes;
	uint64_t	 quota_messages;
	enum dest_state	 state;
	uint32_t	 attempts;
	int64_t		 next_try;	/* unix time */
	char		 error[ENV_MAX_ERROR];	/* last failure, "" */
};

#define ENV_F_BOUNCE	0x01	/* a delivery status notification */
#define ENV_F_DELAYED	0x02	/* its "delayed" DSNs were sent */
#define ENV_F_QUARANTINE 0x04	/* held: a virus; delivered on release */
#define ENV_F_JUNK	0x08	/* local copies go to the Junk folders */

struct envelope {
	char		 id[QUEUE_ID_LEN + 1];
	int64_t		 created;		/* unix time */
	uint32_t	 flags;			/* ENV_F_* */
	char		 sender[ADDR_MAX_TEXT];	/* "" for the null path */
	char		 helo[256];
	char		 client[64];		/* client IP address */
	char		 tls[128];		/* "TLSv1.3 cipher", "" */
	char		 auth[256];		/* authenticated user, "" */
	uint32_t	 body;			/* SMTP_BODY_* */
	uint32_t	 ret;			/* SMTP_RET_* */
	int		 smtputf8;
	int		 requiretls;
	char		 envid[SMTP_ENVID_MAX + 1];
	uint64_t	 size;			/* bytes of content */
	/* the virus scan: who scanned ("" if nobody), what it found */
	char		 scanner[64];		/* "ClamAV 1.4.6/27000" */
	char		 virus[128];		/* "" if clean */
	size_t		 nrcpts;
	struct env_rcpt	*rcpts;
	size_t		 ndests;
	struct env_dest	*dests;
};

void	 envelope_init(struct envelope *);
/* Free the arrays; the envelope is empty (as after init) afterwards. */
void	 envelope_clear(struct envelope *);
/* Append a copy; -1 when the limit is reached. */
int	 envelope_add_rcpt(struct envelope *, const struct env_rcpt *);
int	 envelope_add_dest(struct envelope *, const struct env_dest *);
/* 1 when no destination is pending. */
int	 envelope_done(const struct envelope *);

/* Serialise into a malloc'd buffer. -1 if a field is invalid (a string
 * with a control byte, an id that is not QUEUE_ID_LEN hex digits, a
 * dest whose rcpt index is out of range). */
int	 envelope_encode(const struct envelope *, uint8_t **, size_t *);
/* Parse; on -1 the envelope is left empty and *errstr says why. Strict:
 * bad magic, unknown record, a field too long or repeated, a missing
 * required field, bytes after END, or a bad checksum all fail. */
int	 envelope_decode(const uint8_t *, size_t, struct envelope *,
	    const char **errstr);

/* 1 if s is a valid queue id. */
int	 queue_id_valid(const char *);

#endif
