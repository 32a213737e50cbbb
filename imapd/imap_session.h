/*
 * IMAP after the login, in the user's session process: the session
 * (imap_session.c) reads commands, runs them one at a time in order and
 * keeps the client's view of the selected folder in step with the store.
 * Each group of commands has its file: cmd_mailbox.c (folders, SELECT,
 * STATUS, LIST, EXPUNGE, QUOTA), cmd_fetch.c (FETCH), cmd_store.c
 * (STORE, COPY, MOVE), cmd_search.c (SEARCH, SORT, THREAD), cmd_append.c
 * (APPEND).
 */
#ifndef IMAPD_IMAP_SESSION_H
#define IMAPD_IMAP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap_parser.h"
#include "io.h"
#include "mstore.h"
#include "session.h"

#define IMAP_APPEND_LIMIT	(64ULL * 1024 * 1024)	/* APPENDLIMIT */
#define IMAP_OUT_HIGHWATER	(1024 * 1024)	/* stop producing past it */
#define IMAP_MAX_ERRORS		50	/* BADs in a row, then BYE */

/* ENABLEd extensions (RFC 5161). */
#define IMAP_EN_CONDSTORE	0x01
#define IMAP_EN_QRESYNC		0x02
#define IMAP_EN_UTF8		0x04	/* UTF8=ACCEPT */
#define IMAP_EN_REV2		0x08	/* IMAP4rev2 */

enum imap_state {
	IMAP_AUTH,		/* authenticated, no folder selected */
	IMAP_SELECTED,
	IMAP_IDLE,		/* in IDLE, waiting for DONE */
	IMAP_LOGOUT,
};

struct imap_session;

/*
 * A command that produces its answer in steps (a FETCH of many bodies):
 * it returns 1 while it has more to say; the session calls it again
 * once the output has drained, and reads no further command meanwhile.
 */
typedef int (*imap_cont_fn)(struct imap_session *);

struct imap_session {
	struct io		*io;
	const struct session_info *si;
	struct imap_reader	*rd;
	enum imap_state		 state;
	unsigned		 enabled;	/* IMAP_EN_* */
	unsigned		 errors;	/* BADs in a row */
	int			 compress;	/* COMPRESS=DEFLATE on */

	struct mstore		*store;
	struct mbox		*mbox;		/* the selected folder */
	int			 readonly;	/* EXAMINE */
	int			 deflating;	/* set after the OK is out */

	/* a command answering in steps */
	imap_cont_fn		 cont;
	void			*cont_arg;
	int			 in_cont;	/* a step is running */
	struct imap_cmd		 cont_cmd;	/* the command it runs */

	/* the literal being read */
	size_t			 lit_need;
	int			 lit_fd;	/* an APPEND message, or -1 */
	int			 lit_files[IMAP_MAX_LITERALS];
	size_t			 nlit_files;

	/* IDLE */
	char			 idle_tag[IMAP_MAX_TAG + 1];
	struct event		*watch;		/* inotify of the folder */
	struct event		*quiet;		/* no command for a while */

	/* SEARCHRES (RFC 5182): the saved result, as UIDs */
	uint32_t		*saved;
	size_t			 nsaved;
	int			 saved_valid;
};

/* Replies. imap_printf adds nothing; the others end the line. */
void	 imap_printf(struct imap_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 imap_untagged(struct imap_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 imap_ok(struct imap_session *, const struct imap_cmd *,
	    const char *, ...) __attribute__((format(printf, 3, 4)));
void	 imap_no(struct imap_session *, const struct imap_cmd *,
	    const char *, ...) __attribute__((format(printf, 3, 4)));
void	 imap_bad(struct imap_session *, const struct imap_cmd *,
	    const char *, ...) __attribute__((format(printf, 3, 4)));
/* A NO with the response code a store error calls for. */
void	 imap_no_store(struct imap_session *, const struct imap_cmd *,
	    enum mstore_err, const char *text);
void	 imap_write(struct imap_session *, const void *, size_t);
/* Bytes waiting to go out: producers pause past IMAP_OUT_HIGHWATER. */
size_t	 imap_queued(const struct imap_session *);

/* 1 if quoted strings may carry UTF-8 (IMAP4rev2 or UTF8=ACCEPT). */
int	 imap_utf8(const struct imap_session *);
/* Mailbox names: the client's form. */
int	 imap_mailbox_out(const struct imap_session *, const char *stored,
	    struct buf *);

/*
 * Tell the client what changed in the selected folder (EXISTS,
 * EXPUNGE or VANISHED, FETCH of changed flags). Every command calls it
 * just before its tagged reply. expunges: 0 where RFC 9051 7.5.1
 * forbids EXPUNGE responses (FETCH, STORE and SEARCH by sequence
 * number; their UID forms may): then nothing is synced at all, so
 * sequence numbers do not move under the client.
 */
void	 imap_sync(struct imap_session *, int expunges);
/* Report a sync result (from mbox_sync, mbox_expunge, mbox_move). */
void	 imap_report(struct imap_session *, const struct mbox_sync *);
/* An untagged FETCH of a message's FLAGS (and UID, MODSEQ as due). */
void	 imap_fetch_flags(struct imap_session *, size_t idx, int uid);
/* The untagged FLAGS and OK [PERMANENTFLAGS] of the selected folder. */
void	 imap_flags_lists(struct imap_session *);
/* The flag list "(\Seen kw ...)" of a message into b. */
void	 imap_flags_out(struct imap_session *, const struct mbox_msg *,
	    struct buf *);
/* Leave the selected folder (CLOSE, UNSELECT, SELECT, errors). */
void	 imap_unselect(struct imap_session *);
/* A sequence set or UID set of the command, resolved to indexes of the
 * view; -1 with a message for BAD. */
int	 imap_set_indexes(struct imap_session *, const struct imap_seqset *,
	    int uid, size_t **idx, size_t *n, const char **errstr);
/* The temporary file behind an APPEND literal (imap_arg.ext). */
int	 imap_literal_fd(struct imap_session *, long ext);

/* The commands, one group a file. */
void	 cmd_select(struct imap_session *, struct imap_cmd *);
void	 cmd_create(struct imap_session *, struct imap_cmd *);
void	 cmd_delete(struct imap_session *, struct imap_cmd *);
void	 cmd_rename(struct imap_session *, struct imap_cmd *);
void	 cmd_subscribe(struct imap_session *, struct imap_cmd *);
void	 cmd_list(struct imap_session *, struct imap_cmd *);
void	 cmd_status(struct imap_session *, struct imap_cmd *);
void	 cmd_namespace(struct imap_session *, struct imap_cmd *);
void	 cmd_close(struct imap_session *, struct imap_cmd *);
void	 cmd_expunge(struct imap_session *, struct imap_cmd *);
void	 cmd_quota(struct imap_session *, struct imap_cmd *);
void	 cmd_append(struct imap_session *, struct imap_cmd *);
void	 cmd_fetch(struct imap_session *, struct imap_cmd *);
void	 cmd_store(struct imap_session *, struct imap_cmd *);
void	 cmd_copy(struct imap_session *, struct imap_cmd *);
void	 cmd_search(struct imap_session *, struct imap_cmd *);
void	 cmd_sort(struct imap_session *, struct imap_cmd *);
void	 cmd_thread(struct imap_session *, struct imap_cmd *);

/* Start a stepwise answer: fn runs now and while it returns 1. */
void	 imap_continue(struct imap_session *, struct imap_cmd *,
	    imap_cont_fn, void *arg);

#endif
