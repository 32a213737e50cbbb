/*
 * The mail store of one user, for the IMAP and POP3 session processes:
 * Maildir++ folders with stable UIDs, flags in the file names, MODSEQs
 * (CONDSTORE/QRESYNC) and a cache of rendered data.
 *
 * A session runs as the store owner, chrooted into the user's Maildir,
 * and hands this library a descriptor of that root. Several sessions of
 * one user run at once, the delivery role adds files to new/ without
 * asking, and the user may drop or rename files by hand: every change
 * here happens under an flock() of the folder's "osms-uidlist.lock",
 * and every file is read as hostile (bounded, checked, rebuilt when it
 * does not make sense).
 *
 * On disk, in the root (which is INBOX) and in each folder ".Name":
 *	cur/ new/ tmp/		the Maildir
 *	osms-uidlist		"uid unique-name" lines: the UIDs (kept)
 *	osms-uidlist.lock	flock()ed around every change of the folder
 *	osms-index		MODSEQs, sizes, dates (a cache: rebuilt)
 *	osms-cache		data the server keeps per message (a cache)
 *	osms-keywords		"letter keyword" lines
 *	maildirfolder		the Maildir++ marker (folders only)
 * and in the root only:
 *	maildirsize		the Maildir++ quota (lib/mail/maildir.c)
 *	subscriptions		one folder name per line (Courier, Dovecot)
 *	osms-store.lock		flock()ed around folder changes
 *	osms-uidvalidity	the last UIDVALIDITY handed out
 *	osms-pop3.lock		held by the POP3 session
 *
 * Errors: functions return 0 or -1 (NULL for the constructors), with a
 * message in *errstr (static, or in the store until its next call; a
 * NULL errstr is allowed) and a code for the IMAP response from
 * mstore_error().
 */
#ifndef OSMS_MSTORE_H
#define OSMS_MSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MSTORE_NAME_MAX		200	/* bytes of a folder name */
#define MSTORE_DEPTH_MAX	16	/* levels of a folder name */
#define MSTORE_KEYWORDS		26	/* keywords per folder: 'a'..'z' */
#define MSTORE_KEYWORD_MAX	100	/* bytes of a keyword */
#define MSTORE_DEF_FOLDERS	1000
#define MSTORE_DEF_MESSAGES	1000000
#define MSTORE_MAX_MESSAGES	4000000	/* whatever the limits say */

enum mstore_err {
	MSTORE_E_NONE,
	MSTORE_E_INVALID,	/* bad name or request: CANNOT */
	MSTORE_E_NONEXISTENT,	/* no such folder: NONEXISTENT, TRYCREATE */
	MSTORE_E_EXISTS,	/* ALREADYEXISTS */
	MSTORE_E_HASCHILDREN,	/* HASCHILDREN */
	MSTORE_E_OVERQUOTA,	/* OVERQUOTA */
	MSTORE_E_LIMIT,		/* LIMIT: folders, messages, keywords, size */
	MSTORE_E_INUSE,		/* INUSE: locked by another session */
	MSTORE_E_EXPUNGED,	/* EXPUNGEISSUED: a message is gone */
	MSTORE_E_RESET,		/* the open folder was deleted, renamed or
				 * got a new UIDVALIDITY: close it */
	MSTORE_E_READONLY,	/* opened read-only */
	MSTORE_E_IO,		/* the file system failed: SERVERBUG */
};

struct mstore;
struct mbox;

struct mstore_limits {
	uint64_t	 quota_bytes;		/* Maildir++ quota, 0: none */
	uint64_t	 quota_messages;	/* 0: none */
	size_t		 max_folders;		/* 0: MSTORE_DEF_FOLDERS */
	/* 0: MSTORE_DEF_MESSAGES */
	size_t		 max_messages_per_folder;
};

/*
 * Open the store whose root (the INBOX Maildir: cur/ new/ tmp/, made if
 * missing) is rootfd; the descriptor is duplicated. NULL for the
 * limits: the defaults.
 */
struct mstore	*mstore_open(int rootfd, const struct mstore_limits *,
		    const char **errstr);
void		 mstore_close(struct mstore *);
enum mstore_err	 mstore_error(const struct mstore *);

/*
 * Folder names are IMAP names in modified UTF-7 (RFC 3501 5.1.3; the
 * caller converts from UTF-8) with '.' as the hierarchy delimiter.
 * "INBOX" in any case is the root; "inbox.x" is "INBOX.x". Others live
 * in ".Name". A name is at most MSTORE_NAME_MAX bytes of printable
 * ASCII without '/', '%' or '*', of at most MSTORE_DEPTH_MAX non-empty
 * components (so no leading, trailing or double '.'), with '&' only
 * starting well-formed modified base64 of UTF-16 that is not ASCII.
 * Every Maildir++ internal (cur, new, tmp, our files) lacks the leading
 * '.', so no valid name can name one.
 *
 * mstore_name_valid: 1, with the canonical spelling in canon when not
 * NULL (0 if canonsize cannot hold it: MSTORE_NAME_MAX + 1 can), or 0.
 */
int		 mstore_name_valid(const char *name, char *canon,
		    size_t canonsize);

#define MSTORE_F_NOSELECT	0x0001	/* no Maildir there */
#define MSTORE_F_NONEXISTENT	0x0002	/* only a parent or a subscription */
#define MSTORE_F_HASCHILDREN	0x0004
#define MSTORE_F_HASNOCHILDREN	0x0008
#define MSTORE_F_SUBSCRIBED	0x0010
#define MSTORE_F_DRAFTS		0x0100	/* RFC 6154, by name */
#define MSTORE_F_SENT		0x0200
#define MSTORE_F_TRASH		0x0400
#define MSTORE_F_JUNK		0x0800
#define MSTORE_F_ARCHIVE	0x1000
#define MSTORE_F_SPECIAL	0x1f00

struct mstore_folder {
	char		 name[MSTORE_NAME_MAX + 1];
	unsigned	 flags;
};

/*
 * Every folder, INBOX first and the rest sorted by name, with the
 * parents that have no folder of their own (NOSELECT | NONEXISTENT |
 * HASCHILDREN) and the subscribed names that do not exist (NOSELECT |
 * NONEXISTENT | SUBSCRIBED). *list is freed by the caller.
 */
int		 mstore_folders(struct mstore *, struct mstore_folder **list,
		    size_t *n, const char **errstr);
/*
 * create: the folder and its missing parents (RFC 9051 6.3.4), each
 * with cur/ new/ tmp/ and "maildirfolder", made in tmp/ and renamed
 * into place.
 * delete: never INBOX. The folder's directory and messages go; its
 * children stay, and it lives on as their \Noselect parent. A name
 * that is only such a parent is refused (HASCHILDREN), as RFC 9051
 * 6.3.5 asks. Subscriptions are left alone.
 * rename: the folder and its children (RFC 9051 6.3.6); the target
 * and its children must not exist. INBOX: a new folder gets INBOX's
 * messages and INBOX stays, empty, with its children.
 */
int		 mstore_create(struct mstore *, const char *name,
		    const char **errstr);
int		 mstore_delete(struct mstore *, const char *name,
		    const char **errstr);
int		 mstore_rename(struct mstore *, const char *from,
		    const char *to, const char **errstr);
int		 mstore_subscribe(struct mstore *, const char *name, int on,
		    const char **errstr);
/* Drafts, Sent, Trash, Junk and Archive (subscribed) where missing. */
int		 mstore_special_create(struct mstore *, const char **errstr);

struct mbox_status {
	uint32_t	 messages;
	uint32_t	 recent;	/* in new/: no session has seen them */
	uint32_t	 unseen;
	uint32_t	 deleted;
	uint32_t	 uidnext;
	uint32_t	 uidvalidity;
	uint64_t	 size;		/* the sum of RFC822.SIZE */
	uint64_t	 highestmodseq;
};

/* STATUS: a read-only open and close (which assigns pending UIDs). */
int		 mstore_status(struct mstore *, const char *name,
		    struct mbox_status *, const char **errstr);
/* Usage from maildirsize (recalculated over every folder if off). */
int		 mstore_quota(struct mstore *, uint64_t *used_bytes,
		    uint64_t *used_messages, const char **errstr);
/*
 * POP3 (RFC 1939 8): one POP3 session per store. 0, or -1 (INUSE) when
 * another holds it. Released by mstore_pop3_unlock or mstore_close.
 */
int		 mstore_pop3_lock(struct mstore *);
void		 mstore_pop3_unlock(struct mstore *);

/* Flags of a message. RECENT belongs to one session and is not kept. */
#define MBOX_SEEN	0x01	/* 'S' */
#define MBOX_ANSWERED	0x02	/* 'R' */
#define MBOX_FLAGGED	0x04	/* 'F' */
#define MBOX_DELETED	0x08	/* 'T' */
#define MBOX_DRAFT	0x10	/* 'D' */
#define MBOX_PASSED	0x20	/* 'P': kept, no IMAP system flag */
#define MBOX_RECENT	0x40
#define MBOX_FLAGS_KEPT	0x3f

/*
 * Message files have LF line ends (as delivery and APPEND store them);
 * FETCH sends every LF as CRLF, and wire_size is the size after that.
 */
struct mbox_msg {
	uint32_t	 uid;
	unsigned	 flags;
	uint32_t	 keywords;	/* bit n: keyword letter 'a' + n */
	uint64_t	 modseq;
	uint64_t	 size;		/* of the file (LF line ends) */
	uint64_t	 wire_size;	/* RFC822.SIZE: each LF as CRLF */
	time_t		 internaldate;	/* the file's mtime; 0: not read */
};

/*
 * Open a folder (SELECT, or EXAMINE with readonly: then nothing the
 * user would see changes, \Recent included; UIDs are still given to
 * new files). The view of the messages changes only in mbox_sync,
 * mbox_expunge and mbox_move, which report how, and for the messages
 * an mbox_store changed.
 */
struct mbox	*mbox_open(struct mstore *, const char *name, int readonly,
		    const char **errstr);
void		 mbox_close(struct mbox *);
const char	*mbox_name(const struct mbox *);
uint32_t	 mbox_uidvalidity(const struct mbox *);
uint32_t	 mbox_uidnext(const struct mbox *);
uint64_t	 mbox_highestmodseq(const struct mbox *);
size_t		 mbox_count(const struct mbox *);
/* idx is the sequence number - 1; NULL past the end. */
const struct mbox_msg *mbox_msg(const struct mbox *, size_t idx);
/*
 * INTERNALDATE, read from the file the first time it is asked for (a
 * folder opens without a stat of each file), then kept in the view and
 * the index. 0 if the message is gone.
 */
time_t		 mbox_internaldate(struct mbox *, size_t idx);
/* The index of uid, or (size_t)-1. */
size_t		 mbox_find_uid(const struct mbox *, uint32_t uid);

/*
 * Keywords: IMAP atoms of at most MSTORE_KEYWORD_MAX bytes, compared
 * without case, kept as first given. name: NULL for a bit without a
 * name. bit: 0..25, or -1 if unknown and not create, or with create if
 * the folder has MSTORE_KEYWORDS already (LIMIT), the name is no atom
 * (INVALID) or the folder is open read-only (READONLY).
 */
const char	*mbox_keyword_name(const struct mbox *, unsigned bit);
int		 mbox_keyword_bit(struct mbox *, const char *kw, int create);

/* What changed, for the untagged responses. */
struct mbox_sync {
	/* Indexes of the view before, in descending order (the order
	 * EXPUNGE responses go out in), and their UIDs (VANISHED). */
	size_t		*expunged;
	uint32_t	*expunged_uids;
	size_t		 nexpunged;
	size_t		 exists;	/* mbox_count() now */
	size_t		 added;		/* new at the end of the view */
	/* Indexes of the view now, ascending: flags or MODSEQ changed by
	 * someone else. */
	size_t		*changed;
	size_t		 nchanged;
	size_t		 nrecent;	/* \Recent in this session */
	int		 keywords;	/* keyword names were added */
};

/*
 * Bring the view up to date. -1 with MSTORE_E_RESET when the folder
 * went away or got a new UIDVALIDITY: the caller closes it.
 */
int		 mbox_sync(struct mbox *, struct mbox_sync *,
		    const char **errstr);
void		 mbox_sync_free(struct mbox_sync *);

/* Repairs made since the folder was opened (and logged). */
#define MBOX_NOTE_UIDVALIDITY	0x01	/* uidlist lost or corrupt */
#define MBOX_NOTE_INDEX		0x02	/* index rebuilt */
#define MBOX_NOTE_CACHE		0x04	/* cache dropped */
#define MBOX_NOTE_KEYWORDS	0x08	/* bad lines in osms-keywords */
#define MBOX_NOTE_UIDLIST_TORN	0x10	/* a torn append was cut off */
unsigned	 mbox_notes(const struct mbox *);

/*
 * A read-only descriptor of the message file (the caller reads or
 * maps it), found again if another process renamed it; -1 with errno
 * ENOENT if it was expunged meanwhile.
 */
int		 mbox_open_message(struct mbox *, size_t idx);

enum mbox_flag_op {
	MBOX_FLAGS_SET,
	MBOX_FLAGS_ADD,
	MBOX_FLAGS_REMOVE,
};

/*
 * STORE: apply op with flags (MBOX_FLAGS_KEPT bits) and keywords to
 * the messages at idx[0..n), to what their files say now, not to what
 * the view says. With unchangedsince (CONDSTORE, 0: none) a message
 * whose MODSEQ is higher is left alone and its index goes to
 * failed[*nfailed++] (room for n; NULL if unused). Messages expunged
 * meanwhile are skipped. The view of the others is updated (FETCH them
 * afterwards); a message whose flags do not change keeps its MODSEQ.
 */
int		 mbox_store(struct mbox *, const size_t *idx, size_t n,
		    enum mbox_flag_op op, unsigned flags, uint32_t keywords,
		    uint64_t unchangedsince, size_t *failed, size_t *nfailed,
		    const char **errstr);
/*
 * EXPUNGE (uids NULL) or UID EXPUNGE: the messages of the view with
 * \Deleted (and among uids), then a sync into *sync.
 */
int		 mbox_expunge(struct mbox *, const uint32_t *uids, size_t n,
		    struct mbox_sync *, const char **errstr);

/*
 * APPEND to folder (which must exist: NONEXISTENT means TRYCREATE):
 * the message is read from fd from offset 0 and stored with LF line
 * ends, as delivery does. flags: MBOX_FLAGS_KEPT bits; keywords by
 * name (made in the folder as needed). internaldate 0: now. The quota
 * is checked and maildirsize updated. APPENDUID data back.
 */
int		 mbox_append(struct mstore *, const char *folder, int fd,
		    unsigned flags, const char *const *keywords,
		    size_t nkeywords, time_t internaldate,
		    uint32_t *uidvalidity, uint32_t *uid,
		    const char **errstr);
/*
 * COPY of idx[0..n) to dest (which may be this folder): hard links
 * where the file system allows, flags, keywords (by name) and
 * INTERNALDATE kept. All or nothing; COPYUID data back (dest_uids has
 * room for n, in the order of idx).
 */
int		 mbox_copy(struct mbox *, const size_t *idx, size_t n,
		    const char *dest, uint32_t *uidvalidity,
		    uint32_t *dest_uids, const char **errstr);
/* MOVE (RFC 6851): mbox_copy, then the sources go whatever their
 * flags, reported in *sync like mbox_expunge. */
int		 mbox_move(struct mbox *, const size_t *idx, size_t n,
		    const char *dest, uint32_t *uidvalidity,
		    uint32_t *dest_uids, struct mbox_sync *,
		    const char **errstr);

/*
 * Free the in-memory copies of the folder's files (a session gone
 * quiet): the next sync or cache get reads them again.
 */
void		 mbox_trim(struct mbox *);
/*
 * An inotify descriptor that becomes readable when new/, cur/ or the
 * uidlist change (IDLE): read it empty with mbox_watch_drain, then
 * mbox_sync. -1 if inotify is not available.
 */
int		 mbox_watch_fd(struct mbox *);
void		 mbox_watch_drain(struct mbox *);

/*
 * A cache of data the server renders from a message and wants to keep
 * (the ENVELOPE, the BODYSTRUCTURE, sort keys), MSTORE_CACHE_REC_MAX
 * bytes at most per entry. get: 0 and the data (valid until the next
 * call on this mbox), or -1 if not cached. put: 0, or -1 if it cannot
 * be kept (too big, the cache is full): not an error for the caller.
 * Puts are written when the mbox syncs or closes.
 */
enum mbox_cache_field {
	MBOX_CACHE_ENVELOPE = 1,
	MBOX_CACHE_BODYSTRUCTURE,
	MBOX_CACHE_BODY,
	MBOX_CACHE_SORT,
	MBOX_CACHE_HEADERS,
	MBOX_CACHE_FIELDS = 15,		/* fields are 1..15 */
};
#define MSTORE_CACHE_REC_MAX	(64 * 1024)
#define MSTORE_CACHE_FILE_MAX	(256 * 1024 * 1024)

int		 mbox_cache_get(struct mbox *, uint32_t uid, int field,
		    const void **data, size_t *len);
int		 mbox_cache_put(struct mbox *, uint32_t uid, int field,
		    const void *data, size_t len);

/*
 * The formats of the files, exported for the fuzz target and the tests.
 *
 * A message file name: "<key>[:2,<info>]", the key being what never
 * changes (the uidlist keeps it), at most 255 bytes without '/' or
 * control bytes and not starting with '.'. The key may hold ",S=<size>"
 * and ",W=<wire size>". info: flags "DFPRST" then keyword letters, each
 * sorted and once ("canonical"); other letters are ignored.
 */
struct mstore_fname {
	size_t		 keylen;
	unsigned	 flags;
	uint32_t	 keywords;
	int		 canonical;	/* as mstore_fmt_info makes it */
	int		 sizes;		/* S= and W= there and sane */
	uint64_t	 size;
	uint64_t	 wire_size;
};
/* 0, or -1 if name cannot be a message. */
int		 mstore_fmt_fname(const char *name, struct mstore_fname *);
/* ":2,<flags><keywords>" into buf: its length, or -1 if too small. */
int		 mstore_fmt_info(char *buf, size_t size, unsigned flags,
		    uint32_t keywords);

/*
 * osms-uidlist lines, without their LF: a header "osms-uidlist 1
 * <uidvalidity> <uidnext> <token>", then "<uid> <key>" in ascending
 * uid (a later line for a key gives it a new UID) and "-<uid>"
 * (expunged). Numbers are decimal without leading zeros, UIDs in
 * 1..2^32-2; the token, random for each rewrite, is lower-case hex
 * without leading zeros.
 */
#define MSTORE_UL_LINE_MAX	300
int		 mstore_fmt_ul_header(const char *line, size_t len,
		    uint32_t *uidvalidity, uint32_t *uidnext,
		    uint64_t *token);
/* 0 with *key (NULL for "-<uid>") and *keylen, or -1. */
int		 mstore_fmt_ul_line(const char *line, size_t len,
		    uint32_t *uid, const char **key, size_t *keylen);

/* osms-index: a header and fixed-size records, each checksummed. */
#define MSTORE_IX_HDR		64
#define MSTORE_IX_REC		48
struct mstore_ix_header {
	uint32_t	 uidvalidity;
	uint64_t	 highestmodseq;
	uint64_t	 count;		/* records after the header */
};
struct mstore_ix_rec {
	uint32_t	 uid;
	unsigned	 flags;		/* as last seen in the name */
	uint32_t	 keywords;
	uint64_t	 modseq;
	uint64_t	 size;
	uint64_t	 wire_size;
	int64_t		 date;
};
int		 mstore_fmt_ix_header_get(const unsigned char *,
		    struct mstore_ix_header *);
void		 mstore_fmt_ix_header_put(unsigned char *,
		    const struct mstore_ix_header *);
int		 mstore_fmt_ix_rec_get(const unsigned char *,
		    struct mstore_ix_rec *);
void		 mstore_fmt_ix_rec_put(unsigned char *,
		    const struct mstore_ix_rec *);

/*
 * osms-cache: a header (magic, version, UIDVALIDITY), then records of
 * uid, field, length, checksum and the data. rec_get: the size of the
 * record at buf when all of it is within len, 0 when more bytes are
 * needed to tell, -1 when it is bad.
 */
#define MSTORE_CACHE_HDR	16
#define MSTORE_CACHE_RECHDR	16
int		 mstore_fmt_cache_header_get(const unsigned char *, size_t,
		    uint32_t *uidvalidity);
void		 mstore_fmt_cache_header_put(unsigned char *,
		    uint32_t uidvalidity);
long		 mstore_fmt_cache_rec_get(const unsigned char *buf,
		    size_t len, uint32_t *uid, int *field,
		    const unsigned char **data, size_t *datalen);
size_t		 mstore_fmt_cache_rec_put(unsigned char *buf,
		    uint32_t uid, int field, const void *data, size_t len);

/* osms-keywords lines, without their LF: "<letter> <keyword>". */
int		 mstore_fmt_kw_line(const char *line, size_t len,
		    unsigned *bit, const char **kw, size_t *kwlen);
int		 mstore_keyword_valid(const char *kw, size_t len);

/*
 * A test hook, NULL in service: called at named points of the writes
 * ("uidlist-append", with half a line written and the lock held), so
 * that a test can kill the process there.
 */
extern void	(*mstore_test_hook)(const char *point);

#endif
