/*
 * The spool: the queue role's files, below its chroot.
 *
 *	tmp/ID		content being received (written by smtpd through a
 *			descriptor the queue hands out)
 *	tmp/ID.env	an envelope being written
 *	queue/ID.msg	committed content
 *	queue/ID.env	committed envelope: its presence is the commit
 *	corrupt/	what recovery could not read, kept for a human
 *
 * The promise: spool_commit() returns SPOOL_OK only when content and
 * envelope are fsync'd and renamed into queue/ and queue/ itself is
 * fsync'd. After a crash at any point, spool_recover() finds every
 * committed message whole, and removes everything else.
 */
#ifndef OSMS_SPOOL_H
#define OSMS_SPOOL_H

#include <stdint.h>

#include "envelope.h"

enum spool_result {
	SPOOL_OK,
	SPOOL_TEMPFAIL,		/* I/O error: 451 4.3.0 */
	SPOOL_NOSPACE,		/* ENOSPC or EDQUOT: 452 4.3.1 */
	SPOOL_NOTFOUND,		/* no such message */
	SPOOL_CORRUPT,		/* unreadable: moved to corrupt/ */
};

struct spool {
	int		 rootfd;
	int		 tmpfd;
	int		 queuefd;
	int		 corruptfd;
};

struct spool_stats {
	unsigned	 committed;	/* envelopes handed to the callback */
	unsigned	 discarded;	/* uncommitted files removed */
	unsigned	 corrupt;	/* messages moved to corrupt/ */
};

/* Make tmp/ queue/ corrupt/ (0700) below rootfd if missing; take dup'd
 * descriptors of each. */
enum spool_result spool_open(struct spool *, int rootfd, const char **);
void		 spool_close(struct spool *);

/* A fresh random queue id. */
void		 spool_new_id(char id[QUEUE_ID_LEN + 1]);
/* Create tmp/ID (O_EXCL, 0600) for writing; id is set. */
enum spool_result spool_create(struct spool *, char id[QUEUE_ID_LEN + 1],
		    int *fd, const char **);
/* Drop tmp/ID of a transaction that will not be committed. */
void		 spool_abort(struct spool *, const char *id);

/*
 * Commit env (env->id names tmp/ID, whose size must equal env->size):
 * fsync the content, write and fsync tmp/ID.env, rename the content to
 * queue/ID.msg, then the envelope to queue/ID.env, fsync queue/.
 */
enum spool_result spool_commit(struct spool *, const struct envelope *,
		    const char **);
/* Replace queue/ID.env atomically (tmp + fsync + rename + fsync). */
enum spool_result spool_update(struct spool *, const struct envelope *,
		    const char **);
/* Remove a message: the envelope first (uncommit), then the content. */
enum spool_result spool_remove(struct spool *, const char *id,
		    const char **);
/* Read queue/ID.env. */
enum spool_result spool_load(struct spool *, const char *id,
		    struct envelope *, const char **);
/* A read-only descriptor of the committed content. */
enum spool_result spool_open_content(struct spool *, const char *id,
		    int *fd, const char **);
/* A read-only descriptor of content still in tmp/ (for checks before
 * the commit). */
enum spool_result spool_open_tmp(struct spool *, const char *id, int *fd,
		    const char **);
/* A file of no name in tmp/, read-write, for a copy made on the way out
 * (an encrypted one): gone when its last descriptor closes. */
enum spool_result spool_scratch(struct spool *, int *fd, const char **);

/*
 * The gateway's rewrite of content still in tmp/: a new file to write
 * (tmp/ID.new), then kept (it replaces tmp/ID before the commit) or
 * dropped. Like tmp/ID, it is gone after a crash.
 */
enum spool_result spool_rewrite_open(struct spool *, const char *id,
		    int *fd, const char **);
enum spool_result spool_rewrite_end(struct spool *, const char *id,
		    int keep, const char **);

/*
 * At start: empty tmp/, remove content without an envelope, move
 * envelopes that do not decode (or whose content is missing or of the
 * wrong size) with their content to corrupt/, and call cb for each
 * committed envelope (cb owns it: envelope_clear it when done).
 */
typedef void (*spool_recover_cb)(struct envelope *, void *);
enum spool_result spool_recover(struct spool *, spool_recover_cb, void *,
		    struct spool_stats *, const char **);

/* Call cb for every committed envelope (osmsctl queue list). */
enum spool_result spool_walk(struct spool *, spool_recover_cb, void *,
		    const char **);

#endif
