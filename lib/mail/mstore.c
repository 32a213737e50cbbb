/*
 * The mail store (see mstore.h): Maildir++ with stable UIDs.
 *
 * Who writes what. Session processes of one user change a folder only
 * under an flock() of its osms-uidlist.lock; the delivery role only
 * adds files to new/ (tmp/, then a link); the user may do anything by
 * hand. The file names in new/ and cur/ are the truth about which
 * messages exist and their flags; osms-uidlist is the truth about UIDs
 * and is never rebuilt while it makes sense; osms-index and osms-cache
 * are caches.
 *
 * A sync (under the lock):
 *	1. read what was appended to osms-uidlist since the last time (or
 *	   all of it when it was replaced), osms-keywords if it changed,
 *	   and osms-index if its header changed;
 *	2. read new/ and cur/, unless nothing changed: their mtimes are
 *	   those of the last scan, which were old enough then that a
 *	   change since would have moved them;
 *	3. give every file without a live UID the next one, in name order,
 *	   and mark "-<uid>" the UIDs whose files are gone: one append to
 *	   osms-uidlist, fsync'd before anything is reported;
 *	4. in a read-write session, move files from new/ to cur/: they are
 *	   \Recent in this session;
 *	5. compare each file's flags with what osms-index saw last: a
 *	   difference (a rename by hand) gets the new MODSEQ of this sync,
 *	   new messages too; write the index and fdatasync it.
 * The view a session shows its client is a separate array, brought up
 * to date from this state only by mbox_sync and what reports like it.
 *
 * Crashes. An append to osms-uidlist cut short leaves a line without
 * its LF: readers ignore it and the next writer cuts it off, and its
 * UID was never reported (the fsync had not returned). Rewrites go
 * through tmp/ and rename(), and the directory is fsync'd. A file made
 * by APPEND or COPY is in place and its directory fsync'd before its
 * UID is written. A uidlist that does not parse is replaced, with a new
 * UIDVALIDITY (logged). The index is fdatasync'd after each change, and
 * one rebuilt from scratch starts its MODSEQs above any it had (its
 * old header if readable, else the time in microseconds, about).
 */
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "imapstr.h"
#include "log.h"
#include "maildir.h"
#include "mstore.h"
#include "util.h"

#define MS_DIRFLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define MS_RDFLAGS	(O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
#define MS_RWFLAGS	(O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

#define UL_FILE		"osms-uidlist"
#define UL_LOCK		"osms-uidlist.lock"
#define IX_FILE		"osms-index"
#define CACHE_FILE	"osms-cache"
#define KW_FILE		"osms-keywords"
#define SUB_FILE	"subscriptions"
#define STORE_LOCK	"osms-store.lock"
#define UV_FILE		"osms-uidvalidity"
#define POP3_LOCK	"osms-pop3.lock"
#define FOLDER_MARK	"maildirfolder"

#define FNAME_MAX	255		/* bytes of a file name */
#define LOCK_WAIT_MS	15000		/* then INUSE */
#define UL_HDR_MAX	64
#define UL_TAIL_MAX	(64 * 1024)	/* looked at for the last UID */
#define UL_SLACK	10000		/* lines past twice the messages */
#define KW_FILE_MAX	8192
#define SUB_FILE_MAX	(1024 * 1024)
#define SUB_MAX		10000
#define SMALL_FILE_MAX	4096
#define TMP_STALE	(36 * 3600)	/* Maildir: tmp/ files older go */
#define TMP_SCAN_MAX	10000
#define DIR_TRUST_SECS	2
#define MODSEQ_SHIFT	20		/* time floor: 2^20 per second */
#define MODSEQ_MAX	(UINT64_C(1) << 62)
#define IO_CHUNK	(256 * 1024)
#define DIRTY_MAX	64		/* records written one by one */
#define COMPACT_MIN	64		/* dead lines, records to rewrite */
#define CACHE_PEND_MAX	(1024 * 1024)
#define CACHE_COMPACT_MIN (1024 * 1024)
#define SCAN_TRIES	3
#define TREE_MAX	64		/* entries of one level to delete */

#define FNV_INIT	2166136261u

static const char	 E_NAME[] = "invalid mailbox name";
static const char	 E_NOFOLDER[] = "no such mailbox";
static const char	 E_RO[] = "mailbox is read-only";
static const char	 E_BUSY[] = "mailbox is locked by another session";
static const char	 E_QUOTA_B[] = "quota exceeded (size)";
static const char	 E_QUOTA_M[] = "quota exceeded (messages)";
static const char	 E_RESET[] = "mailbox was deleted, renamed or reset";

void	(*mstore_test_hook)(const char *);

struct mstore {
	int			 rootfd;
	int			 tmpfd;		/* the root's tmp/ */
	int			 pop3fd;
	struct mstore_limits	 lim;
	enum mstore_err		 err;
	char			 errbuf[256];
	char			 host[64];
	unsigned		 seq;		/* of unique names */
};

/* A folder's directories. */
struct mfolder {
	int		 dirfd;
	int		 newfd;
	int		 curfd;
	int		 tmpfd;
};

/* Open addressing; a slot holds an index + 1, 0 is empty. */
struct htab {
	uint32_t	*slot;
	size_t		 mask;
	size_t		 used;
};

/* An assignment line of osms-uidlist. */
struct ul_ent {
	uint32_t	 key;		/* offset in ul.keys */
	uint32_t	 uid;
	uint32_t	 hash;
	uint16_t	 keylen;
	uint8_t		 dead;
};

struct ul {
	struct ul_ent	*ent;		/* ascending uid */
	size_t		 n;
	size_t		 cap;
	size_t		 ndead;
	char		*keys;		/* NUL-terminated, one after another */
	size_t		 klen;
	size_t		 kcap;
	struct htab	 h;		/* key -> its newest line */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	dev_t		 dev;
	ino_t		 ino;
	char		 hdr[UL_HDR_MAX + 2];	/* the first line, LF */
	size_t		 hdrlen;
	off_t		 off;		/* end of the last whole line */
	off_t		 size;		/* of the file, last seen */
	int		 loaded;	/* ent holds all of it */
	int		 fresh;		/* made by this handle */
	int		 rewrite;	/* write it anew */
	uint64_t	 gen;		/* bumped when anything was read */
};

struct ix {
	struct mstore_ix_rec *rec;	/* as in the file: ascending uid */
	size_t		 n;
	size_t		 cap;
	size_t		 count;		/* records in the file */
	uint64_t	 highest;
	int		 fd;
	dev_t		 dev;
	ino_t		 ino;
	unsigned char	 hdr[MSTORE_IX_HDR];	/* last read, written */
	int		 valid;		/* rec mirrors the file */
	int		 rewrite;
	int		 hdrdirty;
	size_t		 dirty[DIRTY_MAX];
	size_t		 ndirty;
	size_t		 dlo;		/* past DIRTY_MAX: a range */
	size_t		 dhi;
	int		 range;
	uint64_t	 newmodseq;	/* of the change being made */
	uint64_t	 gen;		/* bumped when rec is read anew */
};

/* A message file as the last scan (and our renames since) saw it. */
struct st_ent {
	uint32_t	 name;		/* offset in names */
	uint32_t	 uid;
	uint32_t	 ixpos;		/* in ix.rec, UINT32_MAX: none */
	uint32_t	 hash;
	uint16_t	 keylen;
	uint8_t		 innew;
	uint8_t		 claimed;	/* moved from new/ by us */
	unsigned	 flags;
	uint32_t	 keywords;
};

struct state {
	struct st_ent	*e;		/* ascending uid */
	size_t		 n;
	size_t		 cap;
	char		*names;
	size_t		 nlen;
	size_t		 ncap;
};

struct cache_ent {
	uint64_t	 off;		/* in the file, or in pend */
	uint32_t	 uid;
	uint32_t	 len;
	uint8_t		 field;
	uint8_t		 pending;
};

struct cache {
	int		 fd;
	dev_t		 dev;
	ino_t		 ino;
	int		 loaded;
	int		 broken;	/* cannot be used until reopened */
	uint64_t	 end;		/* valid records end here */
	uint64_t	 live;
	uint64_t	 dead;
	struct cache_ent *e;
	size_t		 n;
	size_t		 cap;
	struct htab	 h;		/* (uid, field) -> e */
	unsigned char	*pend;		/* records to append */
	size_t		 plen;
	size_t		 pcap;
	unsigned char	*buf;		/* what get returned */
	size_t		 bufcap;
};

struct mbox {
	struct mstore	*store;
	char		 name[MSTORE_NAME_MAX + 1];
	int		 inbox;
	int		 readonly;
	struct mfolder	 f;
	int		 lockfd;
	int		 locked;
	dev_t		 dev;		/* of the folder directory */
	ino_t		 ino;
	struct ul	 ul;
	struct ix	 ix;
	struct state	 st;
	int		 scanned;
	int		 trusted;	/* the mtimes below tell changes */
	struct timespec	 newmt;
	struct timespec	 curmt;
	uint64_t	 st_ulgen;
	char		*kw[MSTORE_KEYWORDS];
	dev_t		 kwdev;
	ino_t		 kwino;
	off_t		 kwsize;
	struct timespec	 kwmt;
	int		 kwloaded;
	int		 kwchanged;
	/* The view. */
	struct mbox_msg	*msgs;
	size_t		 n;
	size_t		 cap;
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 highest;
	unsigned	 notes;
	int		 reset;
	struct cache	 cache;
	int		 watchfd;
};

struct newfile {
	const char	*name;
	size_t		 idx;
};

/* Folder directories: the names (without the dot) below the root. */
struct dirlist {
	char		**name;
	size_t		 n;
	size_t		 cap;
};

struct flist {
	struct mstore_folder	*f;
	size_t			 n;
	size_t			 cap;
};

static uint32_t	 fnv32(const void *, size_t, uint32_t);
static uint32_t	 msum(const void *, size_t, uint32_t);
static void	 put32(unsigned char *, uint32_t);
static uint32_t	 get32(const unsigned char *);
static void	 put64(unsigned char *, uint64_t);
static uint64_t	 get64(const unsigned char *);
static int	 ms_fail(struct mstore *, enum mstore_err, const char **,
		    const char *);
static int	 ms_fail_errno(struct mstore *, const char **, const char *,
		    int);
static void	 ms_begin(struct mstore *, const char ***, const char **);
static void	 ms_close(int *);
static int	 ms_fsync_dir(int);
static int	 ms_rename_noreplace(int, const char *, int, const char *);
static void	 ms_hook(const char *);
static int	 ms_open_reg(int, const char *, int, mode_t, struct stat *);
static int	 ms_read_small(int, const char *, size_t, char **, size_t *,
		    struct stat *);
static int	 ms_write_file(int, int, const char *, const void *, size_t,
		    int);
static int	 ms_lock_fd(int, int);
static int	 ms_open_lock(int, const char *);
static int	 ts_cmp(const struct timespec *, const struct timespec *);
static void	 ms_unique(struct mstore *, char *, size_t);
static uint64_t	 ms_modseq_floor(void);
static int	 is_inbox(const char *);
static int	 dir_name(char *, size_t, const char *);
static int	 key_valid(const char *, size_t);
static int	 flag_bit(int);
static int	 key_field(const char *, size_t, char, uint64_t *);
static int	 parse_num(const char **, const char *, uint64_t, uint64_t,
		    uint64_t *);
static uint32_t	 ix_rec_sum(const unsigned char *);
static void	 ht_free(struct htab *);
static void	 ht_reset(struct htab *, size_t);
static uint32_t	 key_hash(const char *, size_t);
static const char *ul_key(const struct ul *, const struct ul_ent *);
static size_t	 ul_max_lines(const struct mbox *);
static uint32_t *ul_slot(struct ul *, const char *, size_t, uint32_t);
static struct ul_ent *ul_find_uid(struct ul *, uint32_t);
static void	 ul_rehash(struct ul *);
static void	 ul_add(struct ul *, uint32_t, const char *, size_t);
static void	 ul_kill(struct ul *, uint32_t);
static void	 ul_clear(struct ul *);
static int	 ul_parse_line(struct mbox *, const char *, size_t, int,
		    const char **);
static int	 ul_read(struct mbox *, int, off_t, const char **);
static uint32_t	 ms_uidvalidity_new(struct mstore *);
static void	 ul_reset(struct mbox *);
static int	 ul_refresh(struct mbox *, const char **);
static int	 ul_line(struct buf *, uint32_t, const char *);
static int	 ul_rewrite(struct mbox *, const char **);
static int	 ul_append(struct mbox *, const char *, size_t, const char **);
static int	 ul_tail(struct mbox *);
static void	 ix_clear(struct ix *);
static void	 ix_dirty(struct ix *, size_t);
static uint64_t	 ix_modseq(struct ix *);
static void	 ix_rebuild(struct mbox *, uint64_t);
static int	 ix_refresh(struct mbox *, const char **);
static void	 ix_header(const struct mbox *, unsigned char *);
static int	 ix_write(struct mbox *, const char **);
static size_t	 ix_add(struct ix *, const struct mstore_ix_rec *);
static void	 ix_append_raw(struct mbox *, const struct mstore_ix_rec *,
		    size_t);
static void	 kw_clear(struct mbox *);
static int	 kw_lookup(const struct mbox *, const char *, size_t);
static void	 kw_refresh(struct mbox *);
static int	 kw_add(struct mbox *, const char *, size_t, const char **);
static const char *st_name(const struct state *, const struct st_ent *);
static uint32_t	 st_addname(struct state *, const char *, size_t);
static struct st_ent *st_push(struct state *);
static void	 st_free(struct state *);
static size_t	 st_find(const struct state *, uint32_t);
static int	 scan_dir(int, int, struct state *, size_t *);
static struct st_ent *scan_slot(struct state *, struct htab *, const char *,
		    size_t, uint32_t, uint32_t **);
static int	 measure(int, const char *, struct mstore_ix_rec *);
static int	 mb_lock(struct mbox *, const char **);
static void	 mb_unlock(struct mbox *);
static int	 mb_same_dir(const struct mbox *);
static int	 mb_scan(struct mbox *, struct state *, int *, const char **);
static int	 newfile_cmp(const void *, const void *);
static int	 mb_rescan(struct mbox *, const char **);
static int	 mb_claim(struct mbox *);
static void	 mb_newrec(struct mbox *, const struct st_ent *,
		    struct mstore_ix_rec *);
static void	 mb_ix_merge(struct mbox *);
static int	 mb_state_sync(struct mbox *, int, const char **);
static int	 mb_state_sync1(struct mbox *, int, const char **);
static void	 mb_msg_fill(const struct mbox *, const struct st_ent *,
		    struct mbox_msg *);
static void	 sync_push(size_t **, size_t *, size_t *, size_t);
static void	 mb_view_update(struct mbox *, struct mbox_sync *);
static void	 folder_close(struct mfolder *);
static int	 folder_open(struct mstore *, const char *, struct mfolder *,
		    const char **);
static void	 cache_free(struct cache *);
static void	 mb_free(struct mbox *);
static struct mbox *mb_new(struct mstore *, const char *, const char **);
static void	 mb_tmp_clean(struct mbox *);
static size_t	 mb_locate(struct mbox *, size_t);
static int	 mb_open_file(struct mbox *, size_t);
static int	 mb_refresh(struct mbox *, const char **);
static int	 uid_cmp(const void *, const void *);
static void	 ms_quota_add(struct mstore *, int64_t, int64_t);
static int	 mb_expunge(struct mbox *, const uint32_t *, size_t, int,
		    struct mbox_sync *, const char **);
static int	 quota_set(const struct mstore *);
static int	 quota_sum_dir(int, const char *, int64_t *, int64_t *);
static int	 quota_recalc(struct mstore *, int64_t *, int64_t *);
static int	 quota_used(struct mstore *, int64_t *, int64_t *,
		    const char **);
static int	 quota_check(struct mstore *, uint64_t, uint64_t,
		    const char **);
static int	 mb_raw_prepare(struct mbox *, size_t *, const char **);
static int	 mb_raw_commit(struct mbox *, const char *const *,
		    struct mstore_ix_rec *, size_t, const char **);
static int	 key_make(char *, size_t, const char *, uint64_t, uint64_t);
static int	 place(struct mbox *, int, const char *, const char *, unsigned,
		    uint32_t, char *, size_t, int *);
static void	 unplace(struct mbox *, const char *, int);
static int	 copy_file(int, int, const char *);
static int	 copy_one(struct mbox *, size_t, int, const char *,
		    const char **);
static int	 mb_copy(struct mbox *, const size_t *, size_t, const char *,
		    uint32_t *, uint32_t *, const char **);
static uint32_t	 cache_hash(uint32_t, int);
static uint32_t *cache_slot(struct cache *, uint32_t, int);
static void	 cache_rehash(struct cache *);
static struct cache_ent *cache_find(struct cache *, uint32_t, int);
static void	 cache_set(struct cache *, uint32_t, int, uint64_t, uint32_t,
		    int);
static void	 cache_forget(struct cache *);
static int	 cache_open(struct mbox *, int);
static int	 cache_read(struct mbox *, int);
static void	 cache_load(struct mbox *);
static void	 cache_compact(struct mbox *);
static int	 cache_flush(struct mbox *);
static int	 ms_lock_store(struct mstore *, const char **);
static void	 ms_unlock_store(int);
static void	 dirlist_free(struct dirlist *);
static void	 dirlist_add(struct dirlist *, const char *);
static int	 ms_list_dirs(struct mstore *, struct dirlist *, size_t);
static int	 sub_read(struct mstore *, struct dirlist *);
static int	 sub_write(struct mstore *, const struct dirlist *, int);
static int	 dirlist_has(const struct dirlist *, const char *);
static int	 folder_cmp(const void *, const void *);
static unsigned	 special_flags(const char *);
static struct mstore_folder *flist_find(struct flist *, const char *);
static void	 flist_add(struct flist *, const char *, unsigned);
static int	 ms_selectable(struct mstore *, const char *);
static void	 tree_remove(int, const char *, int);
static int	 create_one(struct mstore *, const char *, int,
		    const char **);
static int	 repair_one(struct mstore *, const char *, const char **);
static int	 create_locked(struct mstore *, const char *, const char **);
static int	 ms_subtree(struct mstore *, const char *, struct dirlist *,
		    int *);
static int	 rename_inbox(struct mstore *, const char *, const char **);
static int	 subscribe_locked(struct mstore *, const char *, int,
		    const char **);
static int	 subscribe_many(struct mstore *, const char **, size_t,
		    const char **);

/* ---- small helpers ---- */

static uint32_t
fnv32(const void *p, size_t len, uint32_t h)
{
	const unsigned char	*c = p;
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= c[i];
		h *= 16777619u;
	}
	return h;
}

/*
 * The checksum of our binary records: 8 bytes a step, a multiply and a
 * shift each (a bit flipped anywhere changes it), several times faster
 * than FNV on the 20 MB of a large cache.
 */
static uint32_t
msum(const void *p, size_t len, uint32_t seed)
{
	const unsigned char	*c = p;
	unsigned char		 tail[8];
	uint64_t		 h = seed ^ (len * UINT64_C(0x9e3779b97f4a7c15));

	for (; len >= 8; c += 8, len -= 8) {
		h ^= get64(c);
		h *= UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 32;
	}
	if (len > 0) {
		memset(tail, 0, sizeof(tail));
		memcpy(tail, c, len);
		h ^= get64(tail);
		h *= UINT64_C(0xc4ceb9fe1a85ec53);
		h ^= h >> 29;
	}
	h *= UINT64_C(0xff51afd7ed558ccd);
	return (uint32_t)(h ^ (h >> 32));
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int
ms_fail(struct mstore *st, enum mstore_err code, const char **errstr,
    const char *msg)
{
	st->err = code;
	*errstr = msg;
	return -1;
}

/* A failed system call: "what: strerror" in the store's buffer. */
static int
ms_fail_errno(struct mstore *st, const char **errstr, const char *what,
    int e)
{
	st->err = MSTORE_E_IO;
	if (e == ENOSPC || e == EDQUOT) {
		*errstr = "mail store is full";
		return -1;
	}
	if (e == EWOULDBLOCK) {
		st->err = MSTORE_E_INUSE;
		*errstr = E_BUSY;
		return -1;
	}
	if (osms_snprintf(st->errbuf, sizeof(st->errbuf), "%s: %s", what,
	    strerror(e)) == -1)
		*errstr = what;
	else
		*errstr = st->errbuf;
	return -1;
}

static void
ms_begin(struct mstore *st, const char ***errstr, const char **unused)
{
	if (*errstr == NULL)
		*errstr = unused;
	**errstr = NULL;
	st->err = MSTORE_E_NONE;
}

static void
ms_close(int *fd)
{
	if (*fd != -1) {
		(void)close(*fd);
		*fd = -1;
	}
}

/* fsync a directory; a file system that cannot (EINVAL) is let be. */
static int
ms_fsync_dir(int fd)
{
	if (fsync(fd) == -1 && errno != EINVAL)
		return -1;
	return 0;
}

/* rename that fails with EEXIST instead of replacing anything. */
static int
ms_rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
	struct stat	 sb;

	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* Without RENAME_NOREPLACE: a race here is the lock holder's. */
	if (fstatat(tofd, to, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	return renameat(fromfd, from, tofd, to);
}

static void
ms_hook(const char *point)
{
	if (mstore_test_hook != NULL)
		mstore_test_hook(point);
}

/*
 * Open a regular file of ours with flags (O_NOFOLLOW and O_NONBLOCK
 * among them, so a planted link or FIFO is refused, not followed or
 * waited on). -1 with errno, EINVAL for anything but a regular file.
 */
static int
ms_open_reg(int dirfd, const char *name, int flags, mode_t mode,
    struct stat *sb)
{
	struct stat	 tmp;
	int		 fd;

	if (sb == NULL)
		sb = &tmp;
	if ((fd = openat(dirfd, name, flags, mode)) == -1)
		return -1;
	if (fstat(fd, sb) == -1 || !S_ISREG(sb->st_mode)) {
		(void)close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/*
 * A small file of ours, at most max bytes, NUL-terminated in a malloc'd
 * buffer. -1 with errno: ENOENT, EINVAL (not a regular file), EFBIG.
 */
static int
ms_read_small(int dirfd, const char *name, size_t max, char **bufp,
    size_t *lenp, struct stat *sb)
{
	struct stat	 tmp;
	char		*buf;
	int		 fd, e;

	if (sb == NULL)
		sb = &tmp;
	*bufp = NULL;
	*lenp = 0;
	if ((fd = ms_open_reg(dirfd, name, MS_RDFLAGS, 0, sb)) == -1)
		return -1;
	if (sb->st_size < 0 || (uint64_t)sb->st_size > max) {
		(void)close(fd);
		errno = EFBIG;
		return -1;
	}
	buf = xmalloc((size_t)sb->st_size + 1);
	if (pread_all(fd, buf, (size_t)sb->st_size, 0) == -1) {
		e = errno;
		free(buf);
		(void)close(fd);
		errno = e;
		return -1;
	}
	(void)close(fd);
	buf[sb->st_size] = '\0';
	*bufp = buf;
	*lenp = (size_t)sb->st_size;
	return 0;
}

/*
 * Write a file of ours anew: tmp/osms-<name>.<pid>, renamed over name
 * in dirfd; with durable the file is fsync'd before and the directory
 * after.
 */
static int
ms_write_file(int dirfd, int tmpfd, const char *name, const void *data,
    size_t len, int durable)
{
	char	 tmp[96];
	int	 fd, e, retried = 0;

	if (osms_snprintf(tmp, sizeof(tmp), "%s.%ld", name,
	    (long)getpid()) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (;;) {
		fd = openat(tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST || retried ||
		    unlinkat(tmpfd, tmp, 0) == -1)
			return -1;
		retried = 1;
	}
	if (write_all(fd, data, len) == -1 || (durable && fsync(fd) == -1)) {
		e = errno;
		(void)close(fd);
		goto fail;
	}
	if (close(fd) == -1) {
		e = errno;
		goto fail;
	}
	ms_hook("file-rename");
	if (renameat(tmpfd, tmp, dirfd, name) == -1) {
		e = errno;
		goto fail;
	}
	if (durable && ms_fsync_dir(dirfd) == -1)
		return -1;
	return 0;

 fail:
	(void)unlinkat(tmpfd, tmp, 0);
	errno = e;
	return -1;
}

/*
 * flock with a deadline: a session that hangs holding a lock makes the
 * others fail with INUSE instead of hanging too.
 */
static int
ms_lock_fd(int fd, int op)
{
	struct timespec	 ts;
	long		 waited = 0, step = 1;

	for (;;) {
		if (flock(fd, op | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS) {
			if (errno == EINTR)
				errno = EWOULDBLOCK;
			return -1;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		(void)nanosleep(&ts, NULL);
		waited += step;
		if (step < 32)
			step *= 2;
	}
}

/* Open (make) a lock file; a planted link or FIFO is replaced. */
static int
ms_open_lock(int dirfd, const char *name)
{
	int	 fd;

	fd = ms_open_reg(dirfd, name, MS_RWFLAGS | O_CREAT, 0600, NULL);
	if (fd == -1 && (errno == ELOOP || errno == EINVAL) &&
	    unlinkat(dirfd, name, 0) == 0)
		fd = ms_open_reg(dirfd, name, MS_RWFLAGS | O_CREAT, 0600,
		    NULL);
	return fd;
}

static int
ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

/*
 * A unique name for a file of ours in a Maildir: time, microseconds,
 * pid, a counter and the host, in [A-Za-z0-9._-] (so that it is also a
 * valid unique name for maildir.c).
 */
static void
ms_unique(struct mstore *st, char *buf, size_t size)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (osms_snprintf(buf, size, "%lld.M%06ldP%ldQ%u.%s",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(),
	    ++st->seq, st->host) == -1)
		fatalx("mstore: unique name too long");
}

/*
 * The MODSEQ a rebuilt index starts above when the old one is lost: the
 * time in units of 1024 ns. It grows faster than MODSEQs are handed out
 * (each costs a write), so it is above any the folder had.
 */
static uint64_t
ms_modseq_floor(void)
{
	struct timespec	 ts;
	uint64_t	 sec;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	sec = ts.tv_sec > 0 ? (uint64_t)ts.tv_sec : 0;
	/* A clock gone mad still leaves room below MODSEQ_MAX. */
	if (sec > (UINT64_C(1) << 40))
		sec = UINT64_C(1) << 40;
	return (sec << MODSEQ_SHIFT) + ((uint64_t)ts.tv_nsec >> 10);
}

/* ---- folder names ---- */

int
mstore_name_valid(const char *name, char *canon, size_t canonsize)
{
	const unsigned char	*p = (const unsigned char *)name, *dash;
	char			 utf8[2 * MSTORE_NAME_MAX + 2];
	const char		*err;
	size_t			 len, i, comp = 0, depth = 1;

	if (name == NULL)
		return 0;
	len = strnlen(name, MSTORE_NAME_MAX + 1);
	if (len == 0 || len > MSTORE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '/' ||
		    p[i] == '%' || p[i] == '*')
			return 0;
		if (p[i] == '.') {
			if (comp == 0 || ++depth > MSTORE_DEPTH_MAX)
				return 0;
			comp = 0;
			continue;
		}
		comp++;
		if (p[i] != '&')
			continue;
		if ((dash = memchr(p + i + 1, '-', len - i - 1)) == NULL)
			return 0;
		comp += (size_t)(dash - p - i);
		i = (size_t)(dash - p);
	}
	/* Encoded runs: canonical, and no control character in them. */
	if (memchr(name, '&', len) != NULL &&
	    imap_mutf7_to_utf8(name, utf8, sizeof(utf8), &err) == -1)
		return 0;
	if (comp == 0)
		return 0;
	if (canon == NULL)
		return 1;
	if (canonsize <= len)
		return 0;
	memcpy(canon, name, len + 1);
	/* INBOX is one name in any case, also as a parent. */
	if (strncasecmp(canon, "INBOX", 5) == 0 &&
	    (canon[5] == '\0' || canon[5] == '.'))
		memcpy(canon, "INBOX", 5);
	return 1;
}

static int
is_inbox(const char *canon)
{
	return strcmp(canon, "INBOX") == 0;
}

/* ".Name" for a canonical name other than INBOX. */
static int
dir_name(char *buf, size_t size, const char *canon)
{
	return osms_snprintf(buf, size, ".%s", canon);
}

/* ---- message file names ---- */

/* A key: what the uidlist keeps of a file name. */
static int
key_valid(const char *key, size_t len)
{
	size_t	 i;

	if (len == 0 || len > FNAME_MAX || key[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f ||
		    key[i] == '/' || key[i] == ':')
			return 0;
	return 1;
}

static int
flag_bit(int c)
{
	switch (c) {
	case 'D':
		return MBOX_DRAFT;
	case 'F':
		return MBOX_FLAGGED;
	case 'P':
		return MBOX_PASSED;
	case 'R':
		return MBOX_ANSWERED;
	case 'S':
		return MBOX_SEEN;
	case 'T':
		return MBOX_DELETED;
	default:
		return 0;
	}
}

/* ",<c>=<digits>" among the fields of a key: 1 and *v, 0 if absent, -1
 * if there twice or malformed. */
static int
key_field(const char *key, size_t len, char c, uint64_t *v)
{
	const char	*p, *end = key + len;
	uint64_t	 n;
	int		 found = 0;
	unsigned	 d;

	for (p = memchr(key, ',', len); p != NULL && p < end;
	    p = memchr(p, ',', (size_t)(end - p))) {
		p++;
		if (end - p < 2 || p[0] != c || p[1] != '=')
			continue;
		if (found)
			return -1;
		p += 2;
		if (p == end || *p < '0' || *p > '9')
			return -1;
		for (n = 0; p < end && *p >= '0' && *p <= '9'; p++) {
			d = (unsigned)(*p - '0');
			if (n > (UINT64_MAX - d) / 10)
				return -1;
			n = n * 10 + d;
		}
		if (p != end && *p != ',')
			return -1;
		*v = n;
		found = 1;
	}
	return found;
}

int
mstore_fmt_fname(const char *name, struct mstore_fname *fn)
{
	const char	*colon, *p;
	size_t		 len;
	uint64_t	 s = 0, w = 0;
	int		 last = 0, bit, hs, hw;

	memset(fn, 0, sizeof(*fn));
	len = strnlen(name, FNAME_MAX + 1);
	if (len == 0 || len > FNAME_MAX || name[0] == '.')
		return -1;
	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/')
			return -1;
	colon = memchr(name, ':', len);
	fn->keylen = colon != NULL ? (size_t)(colon - name) : len;
	if (fn->keylen == 0)
		return -1;
	if (colon != NULL && colon[1] == '2' && colon[2] == ',') {
		fn->canonical = 1;
		for (p = colon + 3; *p != '\0'; p++) {
			if (*p >= 'a' && *p <= 'z')
				fn->keywords |= 1u << (*p - 'a');
			else if ((bit = flag_bit(*p)) != 0)
				fn->flags |= (unsigned)bit;
			else
				fn->canonical = 0;
			/* Sorted, once each: ASCII puts 'A'-'Z' first. */
			if ((unsigned char)*p <= last)
				fn->canonical = 0;
			last = (unsigned char)*p;
		}
	}
	hs = key_field(name, fn->keylen, 'S', &s);
	hw = key_field(name, fn->keylen, 'W', &w);
	/* Every LF is one more byte on the wire, at most one per byte. */
	if (hs == 1 && hw == 1 && w >= s && w - s <= s &&
	    w <= INT64_MAX) {
		fn->sizes = 1;
		fn->size = s;
		fn->wire_size = w;
	}
	return 0;
}

int
mstore_fmt_info(char *buf, size_t size, unsigned flags, uint32_t keywords)
{
	static const char	 letters[] = "DFPRST";
	size_t			 n = 0, i;

	if (size < 4)
		return -1;
	memcpy(buf, ":2,", 3);
	n = 3;
	for (i = 0; letters[i] != '\0'; i++) {
		if (!(flags & (unsigned)flag_bit(letters[i])))
			continue;
		if (n + 1 >= size)
			return -1;
		buf[n++] = letters[i];
	}
	for (i = 0; i < MSTORE_KEYWORDS; i++) {
		if (!(keywords & (1u << i)))
			continue;
		if (n + 1 >= size)
			return -1;
		buf[n++] = (char)('a' + i);
	}
	buf[n] = '\0';
	return (int)n;
}

/* ---- the formats of our files ---- */

/* A decimal without leading zeros in [min, max]; *pp moves past it. */
static int
parse_num(const char **pp, const char *end, uint64_t min, uint64_t max,
    uint64_t *v)
{
	const char	*p = *pp;
	uint64_t	 n = 0;
	unsigned	 d;

	if (p == end || *p < '0' || *p > '9' ||
	    (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		d = (unsigned)(*p - '0');
		if (n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (n < min)
		return -1;
	*pp = p;
	*v = n;
	return 0;
}

int
mstore_fmt_ul_header(const char *line, size_t len, uint32_t *uidvalidity,
    uint32_t *uidnext, uint64_t *token)
{
	static const char	 magic[] = "osms-uidlist 1 ";
	const char		*p = line, *end = line + len, *t;
	uint64_t		 uv, next, tok = 0;
	int			 d;

	if (len > UL_HDR_MAX || len < sizeof(magic) - 1 ||
	    memcmp(line, magic, sizeof(magic) - 1) != 0)
		return -1;
	p += sizeof(magic) - 1;
	if (parse_num(&p, end, 1, UINT32_MAX, &uv) == -1 || p == end ||
	    *p++ != ' ' || parse_num(&p, end, 1, UINT32_MAX, &next) == -1 ||
	    p == end || *p++ != ' ')
		return -1;
	/* Lower-case hex, no leading zero, at most 64 bits. */
	if (p == end || (*p == '0' && end - p > 1) || end - p > 16)
		return -1;
	for (t = p; t < end; t++) {
		if (*t >= '0' && *t <= '9')
			d = *t - '0';
		else if (*t >= 'a' && *t <= 'f')
			d = *t - 'a' + 10;
		else
			return -1;
		tok = tok << 4 | (uint64_t)d;
	}
	*uidvalidity = (uint32_t)uv;
	*uidnext = (uint32_t)next;
	*token = tok;
	return 0;
}

int
mstore_fmt_ul_line(const char *line, size_t len, uint32_t *uid,
    const char **key, size_t *keylen)
{
	const char	*p = line, *end = line + len;
	uint64_t	 v;
	int		 expunge = 0;

	if (len > MSTORE_UL_LINE_MAX)
		return -1;
	if (p < end && *p == '-') {
		expunge = 1;
		p++;
	}
	if (parse_num(&p, end, 1, UINT32_MAX - 1, &v) == -1)
		return -1;
	*uid = (uint32_t)v;
	if (expunge) {
		*key = NULL;
		*keylen = 0;
		return p == end ? 0 : -1;
	}
	if (p == end || *p++ != ' ' || !key_valid(p, (size_t)(end - p)))
		return -1;
	*key = p;
	*keylen = (size_t)(end - p);
	return 0;
}

static const unsigned char ix_magic[8] = "OSMS-IDX";

int
mstore_fmt_ix_header_get(const unsigned char *p, struct mstore_ix_header *h)
{
	size_t	 i;

	if (memcmp(p, ix_magic, sizeof(ix_magic)) != 0 ||
	    get32(p + 8) != 1 || get32(p + 12) != MSTORE_IX_REC ||
	    get32(p + 60) != msum(p, 60, FNV_INIT))
		return -1;
	for (i = 40; i < 60; i++)
		if (p[i] != 0)
			return -1;
	h->uidvalidity = get32(p + 16);
	h->highestmodseq = get64(p + 24);
	h->count = get64(p + 32);
	/* Far above any real MODSEQ: no overflow to fear. */
	if (h->uidvalidity == 0 || get32(p + 20) != 0 ||
	    h->highestmodseq >= MODSEQ_MAX)
		return -1;
	return 0;
}

void
mstore_fmt_ix_header_put(unsigned char *p, const struct mstore_ix_header *h)
{
	memset(p, 0, MSTORE_IX_HDR);
	memcpy(p, ix_magic, sizeof(ix_magic));
	put32(p + 8, 1);
	put32(p + 12, MSTORE_IX_REC);
	put32(p + 16, h->uidvalidity);
	put64(p + 24, h->highestmodseq);
	put64(p + 32, h->count);
	put32(p + 60, msum(p, 60, FNV_INIT));
}

static uint32_t
ix_rec_sum(const unsigned char *p)
{
	return msum(p + 16, MSTORE_IX_REC - 16, msum(p, 12, FNV_INIT));
}

int
mstore_fmt_ix_rec_get(const unsigned char *p, struct mstore_ix_rec *r)
{
	if (get32(p + 12) != ix_rec_sum(p))
		return -1;
	r->uid = get32(p);
	r->flags = get32(p + 4);
	r->keywords = get32(p + 8);
	r->modseq = get64(p + 16);
	r->size = get64(p + 24);
	r->wire_size = get64(p + 32);
	r->date = (int64_t)get64(p + 40);
	if (r->uid == 0 || r->uid == UINT32_MAX ||
	    (r->flags & ~(unsigned)MBOX_FLAGS_KEPT) != 0 ||
	    (r->keywords >> MSTORE_KEYWORDS) != 0 || r->modseq == 0 ||
	    r->modseq >= MODSEQ_MAX || r->wire_size < r->size ||
	    r->wire_size - r->size > r->size || r->wire_size > INT64_MAX)
		return -1;
	return 0;
}

void
mstore_fmt_ix_rec_put(unsigned char *p, const struct mstore_ix_rec *r)
{
	put32(p, r->uid);
	put32(p + 4, r->flags);
	put32(p + 8, r->keywords);
	put64(p + 16, r->modseq);
	put64(p + 24, r->size);
	put64(p + 32, r->wire_size);
	put64(p + 40, (uint64_t)r->date);
	put32(p + 12, ix_rec_sum(p));
}

static const unsigned char cache_magic[8] = "OSMS-CCH";

int
mstore_fmt_cache_header_get(const unsigned char *p, size_t len,
    uint32_t *uidvalidity)
{
	if (len < MSTORE_CACHE_HDR ||
	    memcmp(p, cache_magic, sizeof(cache_magic)) != 0 ||
	    get32(p + 8) != 1 || get32(p + 12) == 0)
		return -1;
	*uidvalidity = get32(p + 12);
	return 0;
}

void
mstore_fmt_cache_header_put(unsigned char *p, uint32_t uidvalidity)
{
	memcpy(p, cache_magic, sizeof(cache_magic));
	put32(p + 8, 1);
	put32(p + 12, uidvalidity);
}

long
mstore_fmt_cache_rec_get(const unsigned char *p, size_t len, uint32_t *uid,
    int *field, const unsigned char **data, size_t *datalen)
{
	uint32_t	 dlen;

	if (len < MSTORE_CACHE_RECHDR)
		return 0;
	*uid = get32(p);
	*field = p[4] | p[5] << 8;
	dlen = get32(p + 8);
	if (*uid == 0 || *uid == UINT32_MAX || *field < 1 ||
	    *field > MBOX_CACHE_FIELDS || p[6] != 0 || p[7] != 0 ||
	    dlen > MSTORE_CACHE_REC_MAX)
		return -1;
	if (len - MSTORE_CACHE_RECHDR < dlen)
		return 0;
	if (get32(p + 12) != msum(p + MSTORE_CACHE_RECHDR, dlen,
	    msum(p, 12, FNV_INIT)))
		return -1;
	*data = p + MSTORE_CACHE_RECHDR;
	*datalen = dlen;
	return (long)(MSTORE_CACHE_RECHDR + dlen);
}

size_t
mstore_fmt_cache_rec_put(unsigned char *p, uint32_t uid, int field,
    const void *data, size_t len)
{
	put32(p, uid);
	p[4] = (unsigned char)field;
	p[5] = (unsigned char)(field >> 8);
	p[6] = p[7] = 0;
	put32(p + 8, (uint32_t)len);
	if (len > 0)
		memcpy(p + MSTORE_CACHE_RECHDR, data, len);
	put32(p + 12, msum(p + MSTORE_CACHE_RECHDR, len,
	    msum(p, 12, FNV_INIT)));
	return MSTORE_CACHE_RECHDR + len;
}

int
mstore_keyword_valid(const char *kw, size_t len)
{
	size_t	 i;

	if (kw == NULL || len == 0 || len > MSTORE_KEYWORD_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!imap_atom_char((unsigned char)kw[i]))
			return 0;
	return 1;
}

int
mstore_fmt_kw_line(const char *line, size_t len, unsigned *bit,
    const char **kw, size_t *kwlen)
{
	if (len < 3 || line[0] < 'a' || line[0] > 'z' || line[1] != ' ' ||
	    !mstore_keyword_valid(line + 2, len - 2))
		return -1;
	*bit = (unsigned)(line[0] - 'a');
	*kw = line + 2;
	*kwlen = len - 2;
	return 0;
}

/* ---- hash tables ---- */

static void
ht_free(struct htab *h)
{
	free(h->slot);
	memset(h, 0, sizeof(*h));
}

/* Empty, with room for want entries at half load. */
static void
ht_reset(struct htab *h, size_t want)
{
	size_t	 size = 64;

	while (size < want * 2)
		size *= 2;
	free(h->slot);
	h->slot = xcalloc(size, sizeof(*h->slot));
	h->mask = size - 1;
	h->used = 0;
}

/* ---- osms-uidlist ---- */

static uint32_t
key_hash(const char *key, size_t len)
{
	return fnv32(key, len, FNV_INIT);
}

static const char *
ul_key(const struct ul *ul, const struct ul_ent *e)
{
	return ul->keys + e->key;
}

static size_t
ul_max_lines(const struct mbox *mb)
{
	return mb->store->lim.max_messages_per_folder * 2 + UL_SLACK;
}

/* The slot of key: holding its newest line, or empty. */
static uint32_t *
ul_slot(struct ul *ul, const char *key, size_t len, uint32_t hash)
{
	struct ul_ent	*e;
	size_t		 i;

	for (i = hash & ul->h.mask;; i = (i + 1) & ul->h.mask) {
		if (ul->h.slot[i] == 0)
			return &ul->h.slot[i];
		e = &ul->ent[ul->h.slot[i] - 1];
		if (e->hash == hash && e->keylen == len &&
		    memcmp(ul_key(ul, e), key, len) == 0)
			return &ul->h.slot[i];
	}
}
static struct ul_ent *
ul_find_uid(struct ul *ul, uint32_t uid)
{
	size_t	 lo = 0, hi = ul->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ul->ent[mid].uid == uid)
			return &ul->ent[mid];
		if (ul->ent[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void
ul_rehash(struct ul *ul)
{
	size_t	 i;
	uint32_t *slot;

	ht_reset(&ul->h, ul->n);
	for (i = 0; i < ul->n; i++) {
		slot = ul_slot(ul, ul_key(ul, &ul->ent[i]), ul->ent[i].keylen,
		    ul->ent[i].hash);
		if (*slot != 0) {
			/* An earlier line of the same key: the newest wins. */
			if (!ul->ent[*slot - 1].dead) {
				ul->ent[*slot - 1].dead = 1;
				ul->ndead++;
			}
		} else
			ul->h.used++;
		*slot = (uint32_t)i + 1;
	}
}

/* Add an assignment line (uids ascending, checked by the caller). */
static void
ul_add(struct ul *ul, uint32_t uid, const char *key, size_t len)
{
	struct ul_ent	*e;
	uint32_t	*slot;

	if (ul->n == ul->cap) {
		ul->cap = ul->cap == 0 ? 1024 : ul->cap * 2;
		ul->ent = xreallocarray(ul->ent, ul->cap, sizeof(*ul->ent));
	}
	/* Bounded by the limits: lines of 255 bytes at most. */
	if (ul->klen + len + 1 > UINT32_MAX || len > FNAME_MAX)
		fatalx("mstore: uidlist keys too long");
	if (ul->klen + len + 1 > ul->kcap) {
		while (ul->klen + len + 1 > ul->kcap)
			ul->kcap = ul->kcap == 0 ? 65536 : ul->kcap * 2;
		ul->keys = xreallocarray(ul->keys, ul->kcap, 1);
	}
	e = &ul->ent[ul->n];
	e->key = (uint32_t)ul->klen;
	memcpy(ul->keys + ul->klen, key, len);
	ul->keys[ul->klen + len] = '\0';
	ul->klen += len + 1;
	e->keylen = (uint16_t)len;
	e->uid = uid;
	e->hash = key_hash(key, len);
	e->dead = 0;
	ul->n++;
	if (ul->h.slot == NULL || (ul->h.used + 1) * 2 > ul->h.mask + 1)
		ul_rehash(ul);
	else {
		slot = ul_slot(ul, key, len, e->hash);
		if (*slot != 0) {
			if (!ul->ent[*slot - 1].dead) {
				ul->ent[*slot - 1].dead = 1;
				ul->ndead++;
			}
		} else
			ul->h.used++;
		*slot = (uint32_t)ul->n;
	}
	if (uid >= ul->uidnext)
		ul->uidnext = uid + 1;
}

static void
ul_kill(struct ul *ul, uint32_t uid)
{
	struct ul_ent	*e;

	if ((e = ul_find_uid(ul, uid)) != NULL && !e->dead) {
		e->dead = 1;
		ul->ndead++;
	}
}

static void
ul_clear(struct ul *ul)
{
	free(ul->ent);
	free(ul->keys);
	ht_free(&ul->h);
	ul->ent = NULL;
	ul->keys = NULL;
	ul->n = ul->cap = ul->ndead = 0;
	ul->klen = ul->kcap = 0;
	ul->uidvalidity = 0;
	ul->uidnext = 1;
	ul->off = ul->size = 0;
	ul->hdrlen = 0;
	ul->loaded = 0;
	ul->rewrite = 0;
}

/*
 * One line (without its LF). A header only at offset 0. -1 with *why
 * when it makes no sense.
 */
static int
ul_parse_line(struct mbox *mb, const char *line, size_t len, int first,
    const char **why)
{
	struct ul	*ul = &mb->ul;
	const char	*key;
	size_t		 keylen;
	uint64_t	 token;
	uint32_t	 uid, uv, next;

	if (first) {
		if (mstore_fmt_ul_header(line, len, &uv, &next, &token) ==
		    -1) {
			*why = "bad header";
			return -1;
		}
		ul->uidvalidity = uv;
		ul->uidnext = next;
		/* To tell this file from another in the same inode. */
		memcpy(ul->hdr, line, len);
		ul->hdr[len] = '\n';
		ul->hdrlen = len + 1;
		return 0;
	}
	if (mstore_fmt_ul_line(line, len, &uid, &key, &keylen) == -1) {
		*why = "bad line";
		return -1;
	}
	if (key == NULL) {
		ul_kill(ul, uid);
		return 0;
	}
	if (ul->n > 0 && uid <= ul->ent[ul->n - 1].uid) {
		*why = "UIDs out of order";
		return -1;
	}
	if (ul->n >= ul_max_lines(mb)) {
		*why = "too many lines";
		return -1;
	}
	ul_add(ul, uid, key, keylen);
	return 0;
}

/*
 * Read the uidlist from ul->off (0: all of it, header first) to its
 * end. Whole lines only: bytes after the last LF are a torn append,
 * left for the next writer to cut off. 0, 1 if it does not parse (*why),
 * -1 on an I/O error.
 */
static int
ul_read(struct mbox *mb, int fd, off_t size, const char **why)
{
	struct ul	*ul = &mb->ul;
	char		*buf, *p, *nl, *end;
	size_t		 have = 0, len;
	off_t		 off = ul->off;
	ssize_t		 n;
	int		 first = off == 0, ret = 0;

	buf = xmalloc(IO_CHUNK + MSTORE_UL_LINE_MAX + 2);
	while (off + (off_t)have < size) {
		n = pread(fd, buf + have, IO_CHUNK, off + (off_t)have);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		end = buf + have + n;
		for (p = buf; (nl = memchr(p, '\n', (size_t)(end - p))) !=
		    NULL; p = nl + 1) {
			len = (size_t)(nl - p);
			if (memchr(p, '\0', len) != NULL) {
				*why = "NUL byte";
				ret = 1;
				goto done;
			}
			if (ul_parse_line(mb, p, len, first, why) == -1) {
				ret = 1;
				goto done;
			}
			first = 0;
			off += (off_t)len + 1;
		}
		have = (size_t)(end - p);
		if (have > MSTORE_UL_LINE_MAX) {
			/* Too long for a line, even an unfinished one. */
			*why = "line too long";
			ret = 1;
			goto done;
		}
		memmove(buf, p, have);
	}
 done:
	free(buf);
	if (ret == 0) {
		if (first && ul->off == 0) {
			/* Not even a whole header: nothing to trust. */
			*why = "no header";
			ret = 1;
		}
		ul->off = off;
		ul->size = size;
		if (ul->n > 0 && ul->ent[ul->n - 1].uid >= ul->uidnext)
			ul->uidnext = ul->ent[ul->n - 1].uid + 1;
	}
	return ret;
}

/*
 * A new UIDVALIDITY, above any handed out in this store before: a
 * folder made again under an old name never gets the old one. Not
 * locked: two folders made in the same second may share one, which
 * RFC 9051 allows.
 */
static uint32_t
ms_uidvalidity_new(struct mstore *st)
{
	char		*buf, line[16];
	size_t		 len;
	const char	*p, *err;
	uint64_t	 last = 0, v;
	time_t		 now = time(NULL);
	int		 n;

	if (ms_read_small(st->rootfd, UV_FILE, 32, &buf, &len, NULL) == 0) {
		p = buf;
		if (parse_num(&p, buf + len, 1, UINT32_MAX, &v) == 0 &&
		    (p == buf + len || *p == '\n'))
			last = v;
		free(buf);
	}
	v = now > 0 ? (uint64_t)now : 1;
	if (v <= last)
		v = last + 1;
	if (v > UINT32_MAX - 1)
		v = 1;	/* 2106: start again, still new to clients */
	n = snprintf(line, sizeof(line), "%" PRIu64 "\n", v);
	if (ms_write_file(st->rootfd, st->tmpfd, UV_FILE, line, (size_t)n,
	    1) == -1) {
		err = strerror(errno);
		log_warnx("mstore: cannot write %s: %s", UV_FILE, err);
	}
	return (uint32_t)v;
}

/* Start afresh: a new UIDVALIDITY, written with the next rewrite. */
static void
ul_reset(struct mbox *mb)
{
	ul_clear(&mb->ul);
	mb->ul.uidvalidity = ms_uidvalidity_new(mb->store);
	mb->ul.uidnext = 1;
	mb->ul.rewrite = 1;
	mb->ul.loaded = 1;
	mb->ul.fresh = 1;
	mb->ul.dev = 0;
	mb->ul.ino = 0;
	mb->ul.gen++;
}

/*
 * Bring ul up to date with the file: what was appended since, or all of
 * it if it was replaced. A missing file is a new folder (or a lost
 * list); one that does not parse is replaced, with a new UIDVALIDITY.
 */
static int
ul_refresh(struct mbox *mb, const char **errstr)
{
	struct ul	*ul = &mb->ul;
	struct stat	 sb;
	char		 hdr[UL_HDR_MAX + 2];
	const char	*why = NULL;
	int		 fd, r;

	if (ul->rewrite)
		return 0;	/* ours is newer than the file */
	fd = ms_open_reg(mb->f.dirfd, UL_FILE, MS_RDFLAGS, 0, &sb);
	if (fd == -1) {
		if (errno != ENOENT && errno != EINVAL && errno != ELOOP)
			return ms_fail_errno(mb->store, errstr,
			    "cannot open " UL_FILE, errno);
		/* Missing in a folder that had an index: lost. */
		if (errno != ENOENT)
			why = "not a regular file";
		else if (ul->loaded || fstatat(mb->f.dirfd, IX_FILE, &sb,
		    AT_SYMLINK_NOFOLLOW) == 0)
			why = "lost";
		goto reset;
	}
	/*
	 * The same file, grown, if its inode and first line are: a rewrite
	 * has a new random token there, even in an inode used again.
	 */
	if (ul->loaded && sb.st_dev == ul->dev && sb.st_ino == ul->ino &&
	    sb.st_size >= ul->off && ul->hdrlen > 0 &&
	    pread_all(fd, hdr, ul->hdrlen, 0) == 0 &&
	    memcmp(hdr, ul->hdr, ul->hdrlen) == 0) {
		if (sb.st_size == ul->size) {
			(void)close(fd);
			return 0;
		}
	} else {
		ul_clear(ul);
		ul->dev = sb.st_dev;
		ul->ino = sb.st_ino;
	}
	r = ul_read(mb, fd, sb.st_size, &why);
	(void)close(fd);
	if (r == -1)
		return ms_fail_errno(mb->store, errstr,
		    "cannot read " UL_FILE, errno);
	ul->gen++;
	if (r == 0) {
		ul->loaded = 1;
		return 0;
	}

 reset:
	if (why != NULL) {
		mb->notes |= MBOX_NOTE_UIDVALIDITY;
		log_warnx("mstore: %s: %s %s, UIDs start again",
		    mb->name, UL_FILE, why);
	}
	ul_reset(mb);
	return 0;
}

/* "<uid> <key>\n" or "-<uid>\n" into b. */
static int
ul_line(struct buf *b, uint32_t uid, const char *key)
{
	if (key == NULL)
		return buf_printf(b, "-%" PRIu32 "\n", uid);
	return buf_printf(b, "%" PRIu32 " %s\n", uid, key);
}

/* Write the list anew, live lines only, and drop the dead ones here. */
static int
ul_rewrite(struct mbox *mb, const char **errstr)
{
	struct ul	*ul = &mb->ul;
	struct buf	 b;
	struct stat	 sb;
	uint64_t	 token;
	char		*keys;
	size_t		 i, j, klen;
	int		 e;

	if (getrandom(&token, sizeof(token), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(token))
		token = (uint64_t)time(NULL) << 24 ^ (uint64_t)getpid() ^
		    (uint64_t)ul->n << 40 ^ (uint64_t)ul->uidnext;
	buf_init(&b, SIZE_MAX / 2);
	(void)buf_printf(&b, "osms-uidlist 1 %" PRIu32 " %" PRIu32 " %" PRIx64
	    "\n", ul->uidvalidity, ul->uidnext, token);
	if (b.len > UL_HDR_MAX + 1)
		fatalx("mstore: uidlist header too long");
	memcpy(ul->hdr, b.data, b.len);
	ul->hdrlen = b.len;
	for (i = 0; i < ul->n; i++)
		if (!ul->ent[i].dead)
			(void)ul_line(&b, ul->ent[i].uid,
			    ul_key(ul, &ul->ent[i]));
	if (ms_write_file(mb->f.dirfd, mb->f.tmpfd, UL_FILE, b.data, b.len,
	    1) == -1) {
		e = errno;
		buf_free(&b);
		return ms_fail_errno(mb->store, errstr,
		    "cannot write " UL_FILE, e);
	}
	/* The live lines, their keys packed anew. */
	keys = xreallocarray(NULL, ul->klen + 1, 1);
	for (i = j = 0, klen = 0; i < ul->n; i++) {
		if (ul->ent[i].dead)
			continue;
		memcpy(keys + klen, ul_key(ul, &ul->ent[i]),
		    (size_t)ul->ent[i].keylen + 1);
		ul->ent[j] = ul->ent[i];
		ul->ent[j++].key = (uint32_t)klen;
		klen += (size_t)ul->ent[i].keylen + 1;
	}
	free(ul->keys);
	ul->keys = keys;
	ul->klen = klen;
	ul->kcap = ul->klen + 1;
	ul->n = j;
	ul->ndead = 0;
	ul_rehash(ul);
	ul->off = ul->size = (off_t)b.len;
	ul->rewrite = 0;
	ul->loaded = 1;
	if (fstatat(mb->f.dirfd, UL_FILE, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		ul->dev = sb.st_dev;
		ul->ino = sb.st_ino;
	}
	buf_free(&b);
	return 0;
}

/*
 * Append lines (already applied to ul) at ul->off, cutting off a torn
 * append first, and fsync: only then may their UIDs be reported.
 */
static int
ul_append(struct mbox *mb, const char *data, size_t len,
    const char **errstr)
{
	struct ul	*ul = &mb->ul;
	struct stat	 sb;
	size_t		 half;
	int		 fd, e;

	fd = ms_open_reg(mb->f.dirfd, UL_FILE, O_WRONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0, &sb);
	if (fd == -1 || sb.st_dev != ul->dev || sb.st_ino != ul->ino) {
		/*
		 * Gone or replaced under the lock (by hand): write it all
		 * anew if all of it is here, else give up.
		 */
		if (fd != -1)
			(void)close(fd);
		if (ul->loaded)
			return ul_rewrite(mb, errstr);
		return ms_fail(mb->store, MSTORE_E_IO, errstr,
		    UL_FILE " changed under the lock");
	}
	if (sb.st_size != ul->off) {
		if (sb.st_size > ul->off) {
			mb->notes |= MBOX_NOTE_UIDLIST_TORN;
			log_warnx("mstore: %s: %s: %lld bytes of a torn "
			    "append cut off", mb->name, UL_FILE,
			    (long long)(sb.st_size - ul->off));
		}
		if (ftruncate(fd, ul->off) == -1)
			goto fail;
	}
	half = len / 2;
	if (mstore_test_hook != NULL) {
		if (pwrite_all(fd, data, half, ul->off) == -1)
			goto fail;
		ms_hook("uidlist-append");
	} else
		half = 0;
	if (pwrite_all(fd, data + half, len - half,
	    ul->off + (off_t)half) == -1 || fsync(fd) == -1)
		goto fail;
	(void)close(fd);
	ul->off += (off_t)len;
	ul->size = ul->off;
	return 0;

 fail:
	e = errno;
	(void)close(fd);
	/* What is in memory was never reported: read the file again. */
	ul->loaded = 0;
	return ms_fail_errno(mb->store, errstr, "cannot write " UL_FILE, e);
}

/*
 * For an APPEND or a COPY into a folder not open here: UIDVALIDITY and
 * UIDNEXT from the header and the last lines only, so that a large
 * folder costs no full read. 0, or 1 when a full read must decide.
 */
static int
ul_tail(struct mbox *mb)
{
	struct ul	*ul = &mb->ul;
	struct stat	 sb;
	char		*buf, *p, *end, *nl;
	const char	*key;
	size_t		 len, keylen;
	off_t		 from;
	uint64_t	 token;
	uint32_t	 uid, last = 0;
	int		 fd, ret = 1;

	if ((fd = ms_open_reg(mb->f.dirfd, UL_FILE, MS_RDFLAGS, 0, &sb)) ==
	    -1)
		return 1;
	buf = xmalloc(UL_TAIL_MAX + 1);
	len = sb.st_size < UL_HDR_MAX + 1 ? (size_t)sb.st_size :
	    UL_HDR_MAX + 1;
	if (pread_all(fd, buf, len, 0) == -1 ||
	    (nl = memchr(buf, '\n', len)) == NULL ||
	    mstore_fmt_ul_header(buf, (size_t)(nl - buf), &ul->uidvalidity,
	    &ul->uidnext, &token) == -1)
		goto done;
	from = sb.st_size > UL_TAIL_MAX ? sb.st_size - UL_TAIL_MAX : 0;
	len = (size_t)(sb.st_size - from);
	if (pread_all(fd, buf, len, from) == -1)
		goto done;
	end = buf + len;
	/* The valid end: after the last LF. */
	while (end > buf && end[-1] != '\n')
		end--;
	if (end == buf)
		goto done;
	ul->off = from + (end - buf);
	/* Whole lines only: skip the first if it may be cut. */
	p = buf;
	if (from > 0) {
		if ((nl = memchr(buf, '\n', (size_t)(end - buf))) == NULL)
			goto done;
		p = nl + 1;
	} else if ((nl = memchr(buf, '\n', (size_t)(end - buf))) != NULL)
		p = nl + 1;	/* the header */
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (mstore_fmt_ul_line(p, (size_t)(nl - p), &uid, &key,
		    &keylen) == -1)
			goto done;
		if (key != NULL)
			last = uid;
	}
	if (last == 0 && from > 0)
		goto done;	/* only "-uid" lines: read it all */
	if (last >= ul->uidnext)
		ul->uidnext = last + 1;
	ul->dev = sb.st_dev;
	ul->ino = sb.st_ino;
	ul->size = sb.st_size;
	ret = 0;
 done:
	free(buf);
	(void)close(fd);
	return ret;
}

/* ---- osms-index ---- */

static void
ix_clear(struct ix *ix)
{
	free(ix->rec);
	ix->rec = NULL;
	ix->n = ix->cap = ix->count = 0;
	ix->valid = 0;
	ix->ndirty = 0;
	ix->range = 0;
}

static void
ix_dirty(struct ix *ix, size_t pos)
{
	size_t	 i;

	ix->hdrdirty = 1;
	if (ix->rewrite)
		return;
	if (!ix->range && ix->ndirty < DIRTY_MAX) {
		for (i = 0; i < ix->ndirty; i++)
			if (ix->dirty[i] == pos)
				return;
		ix->dirty[ix->ndirty++] = pos;
		return;
	}
	if (!ix->range) {
		ix->range = 1;
		ix->dlo = ix->dhi = pos;
		for (i = 0; i < ix->ndirty; i++) {
			if (ix->dirty[i] < ix->dlo)
				ix->dlo = ix->dirty[i];
			if (ix->dirty[i] > ix->dhi)
				ix->dhi = ix->dirty[i];
		}
		ix->ndirty = 0;
	}
	if (pos < ix->dlo)
		ix->dlo = pos;
	if (pos > ix->dhi)
		ix->dhi = pos;
}

/* The MODSEQ of the change being made: one per operation. */
static uint64_t
ix_modseq(struct ix *ix)
{
	if (ix->newmodseq == 0) {
		/* Headers and records are below MODSEQ_MAX, far below. */
		if (ix->highest >= INT64_MAX)
			fatalx("mstore: MODSEQ space exhausted");
		ix->newmodseq = ++ix->highest;
		ix->hdrdirty = 1;
	}
	return ix->newmodseq;
}

/*
 * Start again from nothing: every record is made anew by the sync, all
 * with one MODSEQ above any the folder had (see the top of this file).
 */
static void
ix_rebuild(struct mbox *mb, uint64_t old)
{
	struct ix	*ix = &mb->ix;
	uint64_t	 floor;

	ix_clear(ix);
	/* A fresh folder starts at 1: RFC 7162 has no HIGHESTMODSEQ 0. */
	floor = mb->ul.fresh ? 1 : ms_modseq_floor();
	ix->highest = old > floor ? old : floor;
	ix->valid = 1;
	ix->rewrite = 1;
	ix->hdrdirty = 1;
	ix->gen++;
}

/*
 * Read the header; when it changed since the last time, all records.
 * Anything off (checksum, order, UIDVALIDITY) means a rebuild, noted.
 */
static int
ix_refresh(struct mbox *mb, const char **errstr)
{
	struct ix		*ix = &mb->ix;
	struct mstore_ix_header	 h;
	struct mstore_ix_rec	*r;
	struct stat		 sb;
	unsigned char		 hdr[MSTORE_IX_HDR], *buf = NULL;
	const char		*why = NULL;
	size_t			 i, k, n, want, max;
	uint64_t		 old = 0;
	off_t			 off;

	if (ix->rewrite && ix->valid)
		return 0;
	if (fstatat(mb->f.dirfd, IX_FILE, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    ix->fd == -1 || sb.st_dev != ix->dev || sb.st_ino != ix->ino) {
		ms_close(&ix->fd);
		ix->valid = 0;
		ix->fd = ms_open_reg(mb->f.dirfd, IX_FILE, MS_RDFLAGS, 0, &sb);
		if (ix->fd == -1) {
			if (errno == ENOENT) {
				/* A new folder, or a lost cache. */
				ix_rebuild(mb, 0);
				return 0;
			}
			if (errno != EINVAL && errno != ELOOP)
				return ms_fail_errno(mb->store, errstr,
				    "cannot open " IX_FILE, errno);
			why = "not a regular file";
			goto rebuild;
		}
		ix->dev = sb.st_dev;
		ix->ino = sb.st_ino;
	}
	if (pread_all(ix->fd, hdr, sizeof(hdr), 0) == -1) {
		if (errno != EIO)
			return ms_fail_errno(mb->store, errstr,
			    "cannot read " IX_FILE, errno);
		why = "short header";
		goto rebuild;
	}
	if (ix->valid && memcmp(hdr, ix->hdr, sizeof(hdr)) == 0)
		return 0;
	if (mstore_fmt_ix_header_get(hdr, &h) == -1) {
		why = "bad header";
		goto rebuild;
	}
	old = h.highestmodseq;
	max = mb->store->lim.max_messages_per_folder * 2 + UL_SLACK;
	if (h.uidvalidity != mb->ul.uidvalidity) {
		/* Of another life of the folder: worthless. */
		old = 0;
		why = "of another UIDVALIDITY";
		goto rebuild;
	}
	if (h.count > max || fstat(ix->fd, &sb) == -1 ||
	    (uint64_t)sb.st_size < MSTORE_IX_HDR + h.count * MSTORE_IX_REC) {
		why = "short";
		goto rebuild;
	}
	ix_clear(ix);
	ix->cap = h.count > 0 ? h.count : 16;
	ix->rec = xreallocarray(NULL, ix->cap, sizeof(*ix->rec));
	buf = xmalloc(IO_CHUNK / MSTORE_IX_REC * MSTORE_IX_REC);
	off = MSTORE_IX_HDR;
	for (i = 0; i < h.count; i += n) {
		n = h.count - i;
		if (n > IO_CHUNK / MSTORE_IX_REC)
			n = IO_CHUNK / MSTORE_IX_REC;
		want = n * MSTORE_IX_REC;
		if (pread_all(ix->fd, buf, want, off) == -1) {
			why = "unreadable";
			goto rebuild;
		}
		off += (off_t)want;
		for (k = 0; k < n; k++) {
			r = &ix->rec[ix->n];
			if (mstore_fmt_ix_rec_get(buf + k * MSTORE_IX_REC, r) ==
			    -1 || r->modseq > h.highestmodseq ||
			    (ix->n > 0 && r->uid <= ix->rec[ix->n - 1].uid)) {
				why = "bad record";
				goto rebuild;
			}
			ix->n++;
		}
	}
	free(buf);
	ix->count = ix->n;
	ix->highest = h.highestmodseq;
	memcpy(ix->hdr, hdr, sizeof(hdr));
	ix->valid = 1;
	ix->gen++;
	return 0;

 rebuild:
	free(buf);
	mb->notes |= MBOX_NOTE_INDEX;
	log_warnx("mstore: %s: %s %s, rebuilt", mb->name, IX_FILE, why);
	ix_rebuild(mb, old);
	return 0;
}

static void
ix_header(const struct mbox *mb, unsigned char *p)
{
	struct mstore_ix_header	 h;

	h.uidvalidity = mb->ul.uidvalidity;
	h.highestmodseq = mb->ix.highest;
	h.count = mb->ix.n;
	mstore_fmt_ix_header_put(p, &h);
}

/* Write what changed (or all of it) and fdatasync. */
static int
ix_write(struct mbox *mb, const char **errstr)
{
	struct ix	*ix = &mb->ix;
	struct stat	 sb;
	unsigned char	*buf, hdr[MSTORE_IX_HDR];
	size_t		 i, len, lo, hi;
	int		 fd, e;

	ix->newmodseq = 0;
	if (!ix->hdrdirty && !ix->rewrite)
		return 0;
	ix_header(mb, hdr);
	if (ix->rewrite || ix->fd == -1) {
		len = MSTORE_IX_HDR + ix->n * MSTORE_IX_REC;
		buf = xmalloc(len);
		memcpy(buf, hdr, MSTORE_IX_HDR);
		for (i = 0; i < ix->n; i++)
			mstore_fmt_ix_rec_put(buf + MSTORE_IX_HDR +
			    i * MSTORE_IX_REC, &ix->rec[i]);
		/*
		 * A first index needs no sync: if a crash loses it, the
		 * rebuild starts above any MODSEQ it could have given.
		 */
		if (ms_write_file(mb->f.dirfd, mb->f.tmpfd, IX_FILE, buf,
		    len, ix->fd != -1) == -1) {
			e = errno;
			free(buf);
			ix->valid = 0;
			return ms_fail_errno(mb->store, errstr,
			    "cannot write " IX_FILE, e);
		}
		free(buf);
		ms_close(&ix->fd);
		ix->fd = ms_open_reg(mb->f.dirfd, IX_FILE, MS_RDFLAGS, 0, &sb);
		if (ix->fd != -1) {
			ix->dev = sb.st_dev;
			ix->ino = sb.st_ino;
		}
		goto done;
	}
	if ((fd = ms_open_reg(mb->f.dirfd, IX_FILE, O_WRONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0, &sb)) == -1 || sb.st_ino != ix->ino ||
	    sb.st_dev != ix->dev) {
		if (fd != -1)
			(void)close(fd);
		ix->rewrite = 1;
		return ix_write(mb, errstr);
	}
	buf = xmalloc(IO_CHUNK / MSTORE_IX_REC * MSTORE_IX_REC);
	e = 0;
	if (ix->range) {
		for (lo = ix->dlo; lo <= ix->dhi && e == 0; lo = hi) {
			hi = lo + IO_CHUNK / MSTORE_IX_REC;
			if (hi > ix->dhi + 1)
				hi = ix->dhi + 1;
			for (i = lo; i < hi; i++)
				mstore_fmt_ix_rec_put(buf + (i - lo) *
				    MSTORE_IX_REC, &ix->rec[i]);
			if (pwrite_all(fd, buf, (hi - lo) * MSTORE_IX_REC,
			    (off_t)(MSTORE_IX_HDR + lo * MSTORE_IX_REC)) == -1)
				e = errno;
		}
	} else {
		for (i = 0; i < ix->ndirty && e == 0; i++) {
			mstore_fmt_ix_rec_put(buf, &ix->rec[ix->dirty[i]]);
			if (pwrite_all(fd, buf, MSTORE_IX_REC,
			    (off_t)(MSTORE_IX_HDR + ix->dirty[i] *
			    MSTORE_IX_REC)) == -1)
				e = errno;
		}
	}
	free(buf);
	/* Records first, then the header that counts them. */
	if (e == 0 && (pwrite_all(fd, hdr, sizeof(hdr), 0) == -1 ||
	    fdatasync(fd) == -1))
		e = errno;
	(void)close(fd);
	if (e != 0) {
		ix->valid = 0;
		return ms_fail_errno(mb->store, errstr, "cannot write "
		    IX_FILE, e);
	}
 done:
	memcpy(ix->hdr, hdr, sizeof(hdr));
	ix->count = ix->n;
	ix->rewrite = ix->hdrdirty = ix->range = 0;
	ix->ndirty = 0;
	return 0;
}

/*
 * Append a record (its UID above every other) at the end, or have the
 * file rewritten if it would not be at the end.
 */
static size_t
ix_add(struct ix *ix, const struct mstore_ix_rec *r)
{
	size_t	 pos;

	if (ix->n == ix->cap) {
		ix->cap = ix->cap == 0 ? 1024 : ix->cap * 2;
		ix->rec = xreallocarray(ix->rec, ix->cap, sizeof(*ix->rec));
	}
	if (ix->n == 0 || ix->rec[ix->n - 1].uid < r->uid) {
		pos = ix->n++;
		ix->rec[pos] = *r;
		ix_dirty(ix, pos);
		return pos;
	}
	/* In the middle: a record lost (a crash, a rebuild). */
	for (pos = ix->n; pos > 0 && ix->rec[pos - 1].uid > r->uid; pos--)
		;
	memmove(&ix->rec[pos + 1], &ix->rec[pos],
	    (ix->n - pos) * sizeof(*ix->rec));
	ix->rec[pos] = *r;
	ix->n++;
	ix->rewrite = 1;
	ix->hdrdirty = 1;
	return pos;
}

/*
 * For an APPEND or COPY into a folder not open here: add records to
 * the end of the file, reading only its header and last record. If
 * the file is not as expected, nothing is written: the next sync of
 * the folder makes the missing records.
 */
static void
ix_append_raw(struct mbox *mb, const struct mstore_ix_rec *r, size_t n)
{
	struct mstore_ix_header	 h;
	struct mstore_ix_rec	 last, *w;
	struct stat		 sb;
	unsigned char		 hdr[MSTORE_IX_HDR], *buf;
	size_t			 i;
	uint64_t		 modseq;
	int			 fd;

	if ((fd = ms_open_reg(mb->f.dirfd, IX_FILE, MS_RWFLAGS, 0, &sb)) ==
	    -1)
		return;
	if (pread_all(fd, hdr, sizeof(hdr), 0) == -1 ||
	    mstore_fmt_ix_header_get(hdr, &h) == -1 ||
	    h.uidvalidity != mb->ul.uidvalidity ||
	    (uint64_t)sb.st_size < MSTORE_IX_HDR + h.count * MSTORE_IX_REC ||
	    h.count > MSTORE_MAX_MESSAGES * 2 + UL_SLACK)
		goto done;
	buf = xmalloc(n * MSTORE_IX_REC);
	if (h.count > 0) {
		if (pread_all(fd, buf, MSTORE_IX_REC, (off_t)(MSTORE_IX_HDR +
		    (h.count - 1) * MSTORE_IX_REC)) == -1 ||
		    mstore_fmt_ix_rec_get(buf, &last) == -1 ||
		    last.uid >= r[0].uid) {
			free(buf);
			goto done;
		}
	}
	modseq = h.highestmodseq + 1;
	w = xreallocarray(NULL, n, sizeof(*w));
	for (i = 0; i < n; i++) {
		w[i] = r[i];
		w[i].modseq = modseq;
		mstore_fmt_ix_rec_put(buf + i * MSTORE_IX_REC, &w[i]);
	}
	free(w);
	h.highestmodseq = modseq;
	if (pwrite_all(fd, buf, n * MSTORE_IX_REC, (off_t)(MSTORE_IX_HDR +
	    h.count * MSTORE_IX_REC)) == 0) {
		h.count += n;
		mstore_fmt_ix_header_put(hdr, &h);
		if (pwrite_all(fd, hdr, sizeof(hdr), 0) == 0)
			(void)fdatasync(fd);
	}
	free(buf);
 done:
	(void)close(fd);
}

/* ---- osms-keywords ---- */

static void
kw_clear(struct mbox *mb)
{
	size_t	 i;

	for (i = 0; i < MSTORE_KEYWORDS; i++) {
		free(mb->kw[i]);
		mb->kw[i] = NULL;
	}
}

static int
kw_lookup(const struct mbox *mb, const char *kw, size_t len)
{
	size_t	 i;

	for (i = 0; i < MSTORE_KEYWORDS; i++)
		if (mb->kw[i] != NULL && strlen(mb->kw[i]) == len &&
		    strncasecmp(mb->kw[i], kw, len) == 0)
			return (int)i;
	return -1;
}

/*
 * Read the keyword names if the file changed. Bad lines, a second line
 * for a letter and a name given twice are skipped (noted): the
 * letters in file names stay, only their names are unknown.
 */
static void
kw_refresh(struct mbox *mb)
{
	struct stat	 sb;
	char		*buf, *p, *nl, *old[MSTORE_KEYWORDS];
	const char	*kw;
	size_t		 len, kwlen, i;
	unsigned	 bit;
	int		 bad = 0;

	if (fstatat(mb->f.dirfd, KW_FILE, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (mb->kwloaded && mb->kwino == 0)
			return;
		memset(&sb, 0, sizeof(sb));
	} else if (mb->kwloaded && sb.st_dev == mb->kwdev &&
	    sb.st_ino == mb->kwino && sb.st_size == mb->kwsize &&
	    ts_cmp(&sb.st_mtim, &mb->kwmt) == 0)
		return;
	mb->kwloaded = 1;
	mb->kwdev = sb.st_dev;
	mb->kwino = sb.st_ino;
	mb->kwsize = sb.st_size;
	mb->kwmt = sb.st_mtim;
	memcpy(old, mb->kw, sizeof(old));
	memset(mb->kw, 0, sizeof(mb->kw));
	if (sb.st_ino != 0 && ms_read_small(mb->f.dirfd, KW_FILE,
	    KW_FILE_MAX, &buf, &len, NULL) == 0) {
		for (p = buf; (nl = memchr(p, '\n', len - (size_t)(p - buf))) !=
		    NULL; p = nl + 1) {
			if (mstore_fmt_kw_line(p, (size_t)(nl - p), &bit, &kw,
			    &kwlen) == -1 || mb->kw[bit] != NULL ||
			    kw_lookup(mb, kw, kwlen) != -1) {
				bad = 1;
				continue;
			}
			mb->kw[bit] = xmalloc(kwlen + 1);
			memcpy(mb->kw[bit], kw, kwlen);
			mb->kw[bit][kwlen] = '\0';
		}
		if (p != buf + len)
			bad = 1;
		free(buf);
	} else if (sb.st_ino != 0)
		bad = 1;
	for (i = 0; i < MSTORE_KEYWORDS; i++) {
		if (mb->kw[i] != NULL && (old[i] == NULL ||
		    strcmp(old[i], mb->kw[i]) != 0))
			mb->kwchanged = 1;
		free(old[i]);
	}
	if (bad && !(mb->notes & MBOX_NOTE_KEYWORDS)) {
		mb->notes |= MBOX_NOTE_KEYWORDS;
		log_warnx("mstore: %s: bad lines in %s skipped", mb->name,
		    KW_FILE);
	}
}

/* Under the lock: a letter for kw, written to the file. */
static int
kw_add(struct mbox *mb, const char *kw, size_t len, const char **errstr)
{
	struct buf	 b;
	struct stat	 sb;
	size_t		 i;
	int		 bit, e;

	kw_refresh(mb);
	if ((bit = kw_lookup(mb, kw, len)) != -1)
		return bit;
	for (i = 0; i < MSTORE_KEYWORDS && mb->kw[i] != NULL; i++)
		;
	if (i == MSTORE_KEYWORDS)
		return ms_fail(mb->store, MSTORE_E_LIMIT, errstr,
		    "too many keywords in this mailbox");
	mb->kw[i] = xmalloc(len + 1);
	memcpy(mb->kw[i], kw, len);
	mb->kw[i][len] = '\0';
	buf_init(&b, KW_FILE_MAX);
	for (bit = 0; bit < MSTORE_KEYWORDS; bit++)
		if (mb->kw[bit] != NULL)
			(void)buf_printf(&b, "%c %s\n", 'a' + bit, mb->kw[bit]);
	if (ms_write_file(mb->f.dirfd, mb->f.tmpfd, KW_FILE, b.data, b.len,
	    1) == -1) {
		e = errno;
		buf_free(&b);
		free(mb->kw[i]);
		mb->kw[i] = NULL;
		return ms_fail_errno(mb->store, errstr,
		    "cannot write " KW_FILE, e);
	}
	buf_free(&b);
	if (fstatat(mb->f.dirfd, KW_FILE, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		mb->kwdev = sb.st_dev;
		mb->kwino = sb.st_ino;
		mb->kwsize = sb.st_size;
		mb->kwmt = sb.st_mtim;
	}
	mb->kwchanged = 1;
	return (int)i;
}

/* ---- scanning new/ and cur/ ---- */

static const char *
st_name(const struct state *s, const struct st_ent *e)
{
	return s->names + e->name;
}

static uint32_t
st_addname(struct state *s, const char *name, size_t len)
{
	uint32_t	 off;

	if (s->nlen + len + 1 > UINT32_MAX)
		fatalx("mstore: file names too long");
	if (s->nlen + len + 1 > s->ncap) {
		while (s->nlen + len + 1 > s->ncap)
			s->ncap = s->ncap == 0 ? 65536 : s->ncap * 2;
		s->names = xreallocarray(s->names, s->ncap, 1);
	}
	off = (uint32_t)s->nlen;
	memcpy(s->names + s->nlen, name, len);
	s->names[s->nlen + len] = '\0';
	s->nlen += len + 1;
	return off;
}

static struct st_ent *
st_push(struct state *s)
{
	if (s->n == s->cap) {
		s->cap = s->cap == 0 ? 1024 : s->cap * 2;
		s->e = xreallocarray(s->e, s->cap, sizeof(*s->e));
	}
	memset(&s->e[s->n], 0, sizeof(s->e[s->n]));
	return &s->e[s->n++];
}

static void
st_free(struct state *s)
{
	free(s->e);
	free(s->names);
	memset(s, 0, sizeof(*s));
}

static size_t
st_find(const struct state *s, uint32_t uid)
{
	size_t	 lo = 0, hi = s->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->e[mid].uid == uid)
			return mid;
		if (s->e[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

/* Read one of new/ and cur/ into s. */
static int
scan_dir(int dirfd, int innew, struct state *s, size_t *ignored)
{
	struct mstore_fname	 fn;
	struct st_ent		*e;
	struct dirent		*de;
	DIR			*dp;
	size_t			 len;
	int			 fd, err;

	if ((fd = openat(dirfd, ".", MS_DIRFLAGS)) == -1)
		return -1;
	if ((dp = fdopendir(fd)) == NULL) {
		err = errno;
		(void)close(fd);
		errno = err;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dp)) == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (mstore_fmt_fname(de->d_name, &fn) == -1) {
			(*ignored)++;
			continue;
		}
		len = strlen(de->d_name);
		e = st_push(s);
		e->name = st_addname(s, de->d_name, len);
		e->keylen = (uint16_t)fn.keylen;
		e->hash = key_hash(de->d_name, fn.keylen);
		e->innew = (uint8_t)innew;
		e->flags = fn.flags;
		e->keywords = fn.keywords;
	}
	err = errno;
	(void)closedir(dp);
	errno = err;
	return err != 0 ? -1 : 0;
}

/* The same key as e in s (by the scan's hash table), or NULL. */
static struct st_ent *
scan_slot(struct state *s, struct htab *h, const char *key, size_t len,
    uint32_t hash, uint32_t **slotp)
{
	struct st_ent	*o;
	size_t		 i;

	for (i = hash & h->mask;; i = (i + 1) & h->mask) {
		*slotp = &h->slot[i];
		if (h->slot[i] == 0)
			return NULL;
		o = &s->e[h->slot[i] - 1];
		if (o->hash == hash && o->keylen == len &&
		    memcmp(st_name(s, o), key, len) == 0)
			return o;
	}
}

/*
 * Size, wire size and date of a message file without S= and W=: stat,
 * and a count of its LFs. 0, or -1 (gone meanwhile, not a file).
 */
static int
measure(int dirfd, const char *name, struct mstore_ix_rec *r)
{
	struct stat	 sb;
	unsigned char	*buf;
	const unsigned char *p, *end;
	uint64_t	 lfs = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = ms_open_reg(dirfd, name, MS_RDFLAGS, 0, &sb)) == -1)
		return -1;
	r->date = (int64_t)sb.st_mtim.tv_sec;
	r->size = (uint64_t)sb.st_size;
	buf = xmalloc(IO_CHUNK);
	for (;;) {
		if ((n = read(fd, buf, IO_CHUNK)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			break;
		end = buf + n;
		for (p = buf; p < end && (p = memchr(p, '\n',
		    (size_t)(end - p))) != NULL; p++)
			lfs++;
	}
	free(buf);
	(void)close(fd);
	if (lfs > r->size)
		lfs = r->size;	/* the file grew meanwhile */
	r->wire_size = r->size + lfs;
	return 0;
}

/* ---- the state of a folder ---- */

static int
mb_lock(struct mbox *mb, const char **errstr)
{
	if (ms_lock_fd(mb->lockfd, LOCK_EX) == -1)
		return ms_fail_errno(mb->store, errstr, "cannot lock the "
		    "mailbox", errno);
	mb->locked = 1;
	return 0;
}

static void
mb_unlock(struct mbox *mb)
{
	(void)flock(mb->lockfd, LOCK_UN);
	mb->locked = 0;
}

/*
 * Is the folder still where it was? A delete or a rename by another
 * session moves the directory, and our descriptors follow it.
 */
static int
mb_same_dir(const struct mbox *mb)
{
	char		 dname[MSTORE_NAME_MAX + 2];
	struct stat	 sb;

	if (mb->inbox)
		return 1;
	if (dir_name(dname, sizeof(dname), mb->name) == -1 ||
	    fstatat(mb->store->rootfd, dname, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	return sb.st_dev == mb->dev && sb.st_ino == mb->ino;
}

/*
 * Read new/ and cur/ into s, again if either changed while it was read
 * (a rename by another program can hide a file from a readdir). *quiet:
 * both mtimes were old enough that a later change moves them.
 */
static int
mb_scan(struct mbox *mb, struct state *s, int *quiet, const char **errstr)
{
	struct stat	 nb, cb, nb2, cb2;
	struct timespec	 now;
	size_t		 ignored;
	int		 tries;

	for (tries = 0;; tries++) {
		st_free(s);
		ignored = 0;
		if (fstat(mb->f.newfd, &nb) == -1 ||
		    fstat(mb->f.curfd, &cb) == -1)
			return ms_fail_errno(mb->store, errstr,
			    "cannot stat the mailbox", errno);
		(void)clock_gettime(CLOCK_REALTIME, &now);
		if (scan_dir(mb->f.newfd, 1, s, &ignored) == -1 ||
		    scan_dir(mb->f.curfd, 0, s, &ignored) == -1)
			return ms_fail_errno(mb->store, errstr,
			    "cannot read the mailbox", errno);
		if (fstat(mb->f.newfd, &nb2) == -1 ||
		    fstat(mb->f.curfd, &cb2) == -1)
			return ms_fail_errno(mb->store, errstr,
			    "cannot stat the mailbox", errno);
		if ((ts_cmp(&nb.st_mtim, &nb2.st_mtim) == 0 &&
		    ts_cmp(&cb.st_mtim, &cb2.st_mtim) == 0) ||
		    tries + 1 == SCAN_TRIES)
			break;
	}
	if (ignored > 0)
		log_debug("mstore: %s: %zu files with names that are not "
		    "messages", mb->name, ignored);
	mb->newmt = nb.st_mtim;
	mb->curmt = cb.st_mtim;
	*quiet = ts_cmp(&nb.st_mtim, &nb2.st_mtim) == 0 &&
	    ts_cmp(&cb.st_mtim, &cb2.st_mtim) == 0 &&
	    nb.st_mtim.tv_sec + DIR_TRUST_SECS <= now.tv_sec &&
	    cb.st_mtim.tv_sec + DIR_TRUST_SECS <= now.tv_sec;
	return 0;
}

static int
newfile_cmp(const void *a, const void *b)
{
	const struct newfile	*x = a, *y = b;

	return strcmp(x->name, y->name);
}

/*
 * Steps 2 and 3: scan, match the files with the uidlist, give UIDs to
 * the new ones and mark the gone ones; mb->st becomes the result.
 */
static int
mb_rescan(struct mbox *mb, const char **errstr)
{
	struct ul	*ul = &mb->ul;
	struct state	 s;
	struct htab	 h;
	struct buf	 lines;
	struct newfile	*nf = NULL;
	struct st_ent	*e, *o, *ne;
	struct ul_ent	*u;
	uint32_t	*slot, *order;
	size_t		 i, nord = 0, nnew = 0, over = 0, gone = 0;
	size_t		 max = mb->store->lim.max_messages_per_folder;
	int		 quiet = 0, r = 0;

	memset(&s, 0, sizeof(s));
	if (mb_scan(mb, &s, &quiet, errstr) == -1) {
		st_free(&s);
		return -1;
	}
	/*
	 * By key. A key twice (a copy by hand) keeps the one in cur/, else
	 * the first name: the same one at every sync.
	 */
	memset(&h, 0, sizeof(h));
	ht_reset(&h, s.n);
	for (i = 0; i < s.n; i++) {
		e = &s.e[i];
		o = scan_slot(&s, &h, st_name(&s, e), e->keylen, e->hash,
		    &slot);
		if (o == NULL) {
			*slot = (uint32_t)i + 1;
			continue;
		}
		log_debug("mstore: %s: %s twice, one ignored", mb->name,
		    st_name(&s, e));
		if (o->innew != e->innew ? o->innew :
		    strcmp(st_name(&s, e), st_name(&s, o)) < 0) {
			o->uid = UINT32_MAX;
			*slot = (uint32_t)i + 1;
		} else
			e->uid = UINT32_MAX;
	}

	order = xreallocarray(NULL, s.n + 1, sizeof(*order));
	buf_init(&lines, SIZE_MAX / 2);
	for (i = 0; i < ul->n; i++) {
		u = &ul->ent[i];
		if (u->dead)
			continue;
		o = scan_slot(&s, &h, ul_key(ul, u), u->keylen, u->hash,
		    &slot);
		if (o == NULL || o->uid != 0) {
			/* Gone: the UID is never used again. */
			u->dead = 1;
			ul->ndead++;
			(void)ul_line(&lines, u->uid, NULL);
			gone++;
			continue;
		}
		o->uid = u->uid;
		order[nord++] = (uint32_t)(o - s.e);
	}

	/* New files: the next UIDs, in name order (time first). */
	nf = xreallocarray(NULL, s.n + 1, sizeof(*nf));
	for (i = 0; i < s.n; i++) {
		if (s.e[i].uid != 0)
			continue;
		nf[nnew].name = st_name(&s, &s.e[i]);
		nf[nnew++].idx = i;
	}
	qsort(nf, nnew, sizeof(*nf), newfile_cmp);
	for (i = 0; i < nnew; i++) {
		e = &s.e[nf[i].idx];
		if (nord >= max || ul->uidnext >= UINT32_MAX) {
			over++;
			continue;
		}
		e->uid = ul->uidnext;
		ul_add(ul, e->uid, st_name(&s, e), e->keylen);
		(void)buf_printf(&lines, "%" PRIu32 " %.*s\n", e->uid,
		    (int)e->keylen, st_name(&s, e));
		order[nord++] = (uint32_t)nf[i].idx;
	}
	free(nf);
	ht_free(&h);
	if (over > 0)
		log_warnx("mstore: %s: %zu messages over the limit of %zu "
		    "(or out of UIDs) get no UID", mb->name, over, max);

	/* Before anything is reported, the UIDs are on disk. */
	if (ul->rewrite || (ul->ndead > COMPACT_MIN &&
	    ul->ndead > ul->n - ul->ndead))
		r = ul_rewrite(mb, errstr);
	else if (lines.len > 0)
		r = ul_append(mb, lines.data, lines.len, errstr);
	buf_free(&lines);
	if (r == -1) {
		free(order);
		st_free(&s);
		return -1;
	}
	if (gone > 0)
		(void)ix_modseq(&mb->ix);

	/* The new state, ascending UIDs. */
	ne = xreallocarray(NULL, nord + 1, sizeof(*ne));
	for (i = 0; i < nord; i++) {
		ne[i] = s.e[order[i]];
		ne[i].ixpos = UINT32_MAX;
	}
	free(order);
	free(s.e);
	st_free(&mb->st);
	mb->st.e = ne;
	mb->st.n = mb->st.cap = nord;
	mb->st.names = s.names;
	mb->st.nlen = s.nlen;
	mb->st.ncap = s.ncap;
	mb->st_ulgen = ul->gen;
	mb->trusted = quiet;
	mb->scanned = 1;
	return 0;
}

/* Step 4: new/ to cur/, \Recent for this handle. */
static int
mb_claim(struct mbox *mb)
{
	struct st_ent	*e;
	char		 to[FNAME_MAX * 2 + 48];
	size_t		 i;
	int		 n, moved = 0;

	for (i = 0; i < mb->st.n; i++) {
		e = &mb->st.e[i];
		if (!e->innew)
			continue;
		memcpy(to, st_name(&mb->st, e), e->keylen);
		if ((n = mstore_fmt_info(to + e->keylen, sizeof(to) -
		    e->keylen, e->flags, e->keywords)) == -1 ||
		    e->keylen + (size_t)n > FNAME_MAX)
			continue;
		if (ms_rename_noreplace(mb->f.newfd, st_name(&mb->st, e),
		    mb->f.curfd, to) == -1) {
			if (errno != ENOENT)
				log_warn("mstore: %s: cannot move %s to cur/",
				    mb->name, st_name(&mb->st, e));
			continue;
		}
		e->name = st_addname(&mb->st, to, e->keylen + (size_t)n);
		e->innew = 0;
		e->claimed = 1;
		moved = 1;
	}
	if (moved)
		mb->trusted = 0;
	return moved;
}

/* A record for a message the index does not know. */
static void
mb_newrec(struct mbox *mb, const struct st_ent *e, struct mstore_ix_rec *r)
{
	struct mstore_fname	 fn;
	const char		*name = st_name(&mb->st, e);

	memset(r, 0, sizeof(*r));
	r->uid = e->uid;
	r->flags = e->flags;
	r->keywords = e->keywords;
	r->modseq = ix_modseq(&mb->ix);
	(void)mstore_fmt_fname(name, &fn);
	if (fn.sizes) {
		/* The date waits until asked for (mbox_internaldate). */
		r->size = fn.size;
		r->wire_size = fn.wire_size;
		return;
	}
	/* Gone meanwhile: zeros, and the next sync drops it. */
	(void)measure(e->innew ? mb->f.newfd : mb->f.curfd, name, r);
}

/*
 * Step 5: every message gets its record; flags that differ from what
 * the index saw last (a rename by hand, a crash before the index was
 * written) get a new MODSEQ. Records of gone messages are dropped when
 * they are more than the live ones.
 */
static void
mb_ix_merge(struct mbox *mb)
{
	struct ix		*ix = &mb->ix;
	struct st_ent		*e;
	struct mstore_ix_rec	 r, *p;
	size_t			 i, j = 0, dead = 0, k;

	for (i = 0; i < mb->st.n; i++) {
		e = &mb->st.e[i];
		while (j < ix->n && ix->rec[j].uid < e->uid) {
			j++;
			dead++;
		}
		if (j < ix->n && ix->rec[j].uid == e->uid) {
			p = &ix->rec[j];
			if (p->flags != e->flags ||
			    p->keywords != e->keywords) {
				p->flags = e->flags;
				p->keywords = e->keywords;
				p->modseq = ix_modseq(ix);
				ix_dirty(ix, j);
			}
			e->ixpos = (uint32_t)j++;
			continue;
		}
		mb_newrec(mb, e, &r);
		e->ixpos = (uint32_t)ix_add(ix, &r);
		j = e->ixpos + 1;
	}
	dead += ix->n - j;
	if (dead <= COMPACT_MIN || dead <= mb->st.n)
		return;
	/* Compact: keep the records of present messages. */
	for (i = k = 0; i < mb->st.n; i++) {
		e = &mb->st.e[i];
		ix->rec[k] = ix->rec[e->ixpos];
		e->ixpos = (uint32_t)k++;
	}
	ix->n = k;
	ix->rewrite = 1;
	ix->hdrdirty = 1;
}

/*
 * Under the lock: bring the files and mb->st up to date (the steps at
 * the top of this file). claim: a read-write session takes new/. After
 * a failure the next call reads everything again.
 */
static int
mb_state_sync(struct mbox *mb, int claim, const char **errstr)
{
	if (mb_state_sync1(mb, claim, errstr) == -1) {
		mb->scanned = 0;
		return -1;
	}
	return 0;
}

static int
mb_state_sync1(struct mbox *mb, int claim, const char **errstr)
{
	struct stat	 nb, cb;
	uint64_t	 ixgen = mb->ix.gen;
	int		 scan, ixchanged;

	if (!mb_same_dir(mb)) {
		mb->reset = 1;
		return ms_fail(mb->store, MSTORE_E_RESET, errstr, E_RESET);
	}
	ixchanged = !mb->ix.valid;
	if (ul_refresh(mb, errstr) == -1)
		return -1;
	kw_refresh(mb);
	if (ix_refresh(mb, errstr) == -1)
		return -1;
	if (!mb->ix.valid)
		return ms_fail(mb->store, MSTORE_E_IO, errstr,
		    "cannot read " IX_FILE);
	if (mb->ix.rewrite || mb->ix.gen != ixgen)
		ixchanged = 1;
	scan = !mb->scanned || !mb->trusted || ixchanged ||
	    mb->ul.gen != mb->st_ulgen || mb->ul.rewrite;
	if (!scan) {
		if (fstat(mb->f.newfd, &nb) == -1 ||
		    fstat(mb->f.curfd, &cb) == -1)
			return ms_fail_errno(mb->store, errstr,
			    "cannot stat the mailbox", errno);
		scan = ts_cmp(&nb.st_mtim, &mb->newmt) != 0 ||
		    ts_cmp(&cb.st_mtim, &mb->curmt) != 0;
	}
	if (scan && mb_rescan(mb, errstr) == -1)
		return -1;
	if (claim && mb_claim(mb))
		scan = 1;
	if (scan)
		mb_ix_merge(mb);
	if (ix_write(mb, errstr) == -1)
		return -1;
	mb->ul.fresh = 0;
	return 0;
}

/* A message of the view from the state. */
static void
mb_msg_fill(const struct mbox *mb, const struct st_ent *e,
    struct mbox_msg *m)
{
	const struct mstore_ix_rec	*r = &mb->ix.rec[e->ixpos];

	m->uid = e->uid;
	m->flags = e->flags;
	m->keywords = e->keywords;
	m->modseq = r->modseq;
	m->size = r->size;
	m->wire_size = r->wire_size;
	m->internaldate = (time_t)r->date;
}

static void
sync_push(size_t **arr, size_t *n, size_t *cap, size_t v)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 16 : *cap * 2;
		*arr = xreallocarray(*arr, *cap, sizeof(**arr));
	}
	(*arr)[(*n)++] = v;
}

/* The view from the state, and how it changed. */
static void
mb_view_update(struct mbox *mb, struct mbox_sync *out)
{
	struct mbox_msg	*nv, *m, *old;
	struct st_ent	*e;
	size_t		 i = 0, j, k = 0, xcap = 0, ccap = 0, t;
	uint32_t	 maxuid = mb->n > 0 ? mb->msgs[mb->n - 1].uid : 0;

	memset(out, 0, sizeof(*out));
	nv = xreallocarray(NULL, mb->st.n + 1, sizeof(*nv));
	for (j = 0; j < mb->st.n; j++) {
		e = &mb->st.e[j];
		while (i < mb->n && mb->msgs[i].uid < e->uid)
			sync_push(&out->expunged, &out->nexpunged, &xcap, i++);
		m = &nv[k];
		if (i < mb->n && mb->msgs[i].uid == e->uid) {
			old = &mb->msgs[i++];
			mb_msg_fill(mb, e, m);
			m->flags |= old->flags & MBOX_RECENT;
			if ((old->flags & MBOX_FLAGS_KEPT) !=
			    (m->flags & MBOX_FLAGS_KEPT) ||
			    old->keywords != m->keywords ||
			    old->modseq != m->modseq)
				sync_push(&out->changed, &out->nchanged, &ccap,
				    k);
		} else if (e->uid > maxuid) {
			mb_msg_fill(mb, e, m);
			out->added++;
		} else {
			/* Below the view's newest yet never in it: a
			 * client cannot be told; the next session sees it. */
			continue;
		}
		if (e->claimed) {
			m->flags |= MBOX_RECENT;
			e->claimed = 0;
		}
		if (m->flags & MBOX_RECENT)
			out->nrecent++;
		k++;
	}
	while (i < mb->n)
		sync_push(&out->expunged, &out->nexpunged, &xcap, i++);
	if (out->nexpunged > 0) {
		out->expunged_uids = xreallocarray(NULL, out->nexpunged,
		    sizeof(*out->expunged_uids));
		/* Descending, as EXPUNGE responses go out. */
		for (i = 0, j = out->nexpunged - 1; i < j; i++, j--) {
			t = out->expunged[i];
			out->expunged[i] = out->expunged[j];
			out->expunged[j] = t;
		}
		for (i = 0; i < out->nexpunged; i++)
			out->expunged_uids[i] = mb->msgs[out->expunged[i]].uid;
	}
	free(mb->msgs);
	mb->msgs = nv;
	mb->n = k;
	mb->cap = mb->st.n + 1;
	mb->highest = mb->ix.highest;
	mb->uidnext = mb->ul.uidnext;
	out->exists = k;
	out->keywords = mb->kwchanged;
	mb->kwchanged = 0;
}

/* ---- an open folder ---- */

static void
folder_close(struct mfolder *f)
{
	ms_close(&f->curfd);
	ms_close(&f->newfd);
	ms_close(&f->tmpfd);
	ms_close(&f->dirfd);
}

/* The Maildir of a canonical name: NONEXISTENT if missing or not one. */
static int
folder_open(struct mstore *st, const char *canon, struct mfolder *f,
    const char **errstr)
{
	char	 dname[MSTORE_NAME_MAX + 2];
	int	 e;

	f->dirfd = f->newfd = f->curfd = f->tmpfd = -1;
	if (is_inbox(canon))
		f->dirfd = fcntl(st->rootfd, F_DUPFD_CLOEXEC, 0);
	else if (dir_name(dname, sizeof(dname), canon) == -1)
		return ms_fail(st, MSTORE_E_INVALID, errstr, E_NAME);
	else
		f->dirfd = openat(st->rootfd, dname, MS_DIRFLAGS);
	if (f->dirfd == -1)
		goto fail;
	if ((f->curfd = openat(f->dirfd, "cur", MS_DIRFLAGS)) == -1 ||
	    (f->newfd = openat(f->dirfd, "new", MS_DIRFLAGS)) == -1 ||
	    (f->tmpfd = openat(f->dirfd, "tmp", MS_DIRFLAGS)) == -1)
		goto fail;
	return 0;

 fail:
	e = errno;
	folder_close(f);
	if (e == ENOENT || e == ELOOP || e == ENOTDIR)
		return ms_fail(st, MSTORE_E_NONEXISTENT, errstr, E_NOFOLDER);
	return ms_fail_errno(st, errstr, "cannot open the mailbox", e);
}

static void
cache_free(struct cache *c)
{
	ms_close(&c->fd);
	free(c->e);
	ht_free(&c->h);
	free(c->pend);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void
mb_free(struct mbox *mb)
{
	if (mb == NULL)
		return;
	folder_close(&mb->f);
	ms_close(&mb->lockfd);
	ms_close(&mb->ix.fd);
	ms_close(&mb->watchfd);
	ul_clear(&mb->ul);
	ix_clear(&mb->ix);
	st_free(&mb->st);
	kw_clear(mb);
	cache_free(&mb->cache);
	free(mb->msgs);
	free(mb);
}

/* A handle on a folder, nothing read yet. */
static struct mbox *
mb_new(struct mstore *st, const char *canon, const char **errstr)
{
	struct mbox	*mb;
	struct stat	 sb;

	mb = xcalloc(1, sizeof(*mb));
	mb->store = st;
	(void)osms_strlcpy(mb->name, canon, sizeof(mb->name));
	mb->inbox = is_inbox(canon);
	mb->lockfd = mb->ix.fd = mb->cache.fd = mb->watchfd = -1;
	mb->ul.uidnext = 1;
	if (folder_open(st, canon, &mb->f, errstr) == -1) {
		mb->f.dirfd = -1;
		mb_free(mb);
		return NULL;
	}
	if (fstat(mb->f.dirfd, &sb) == -1 ||
	    (mb->lockfd = ms_open_lock(mb->f.dirfd, UL_LOCK)) == -1) {
		(void)ms_fail_errno(st, errstr, "cannot open " UL_LOCK, errno);
		mb_free(mb);
		return NULL;
	}
	mb->dev = sb.st_dev;
	mb->ino = sb.st_ino;
	return mb;
}

/*
 * Maildir: files left in tmp/ for 36 hours are gone for good; so are
 * our own directories there (a create or delete cut short).
 */
static void
mb_tmp_clean(struct mbox *mb)
{
	struct dirent	*de;
	struct stat	 sb;
	DIR		*dp;
	time_t		 old = time(NULL) - TMP_STALE;
	int		 fd, n = 0;

	if ((fd = openat(mb->f.tmpfd, ".", MS_DIRFLAGS)) == -1)
		return;
	if ((dp = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return;
	}
	while ((de = readdir(dp)) != NULL && n++ < TMP_SCAN_MAX) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(mb->f.tmpfd, de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == -1 || sb.st_mtime >= old)
			continue;
		if (!S_ISDIR(sb.st_mode))
			(void)unlinkat(mb->f.tmpfd, de->d_name, 0);
		else if (strncmp(de->d_name, "osms-", 5) == 0)
			tree_remove(mb->f.tmpfd, de->d_name, 3);
	}
	(void)closedir(dp);
}

struct mbox *
mbox_open(struct mstore *st, const char *name, int readonly,
    const char **errstr)
{
	struct mbox_sync	 out;
	struct mbox		*mb;
	char			 canon[MSTORE_NAME_MAX + 1];
	const char		*unused;

	ms_begin(st, &errstr, &unused);
	if (!mstore_name_valid(name, canon, sizeof(canon))) {
		(void)ms_fail(st, MSTORE_E_INVALID, errstr, E_NAME);
		return NULL;
	}
	if ((mb = mb_new(st, canon, errstr)) == NULL)
		return NULL;
	mb->readonly = readonly;
	if (mb_lock(mb, errstr) == -1)
		goto fail;
	if (mb_state_sync(mb, !readonly, errstr) == -1) {
		mb_unlock(mb);
		goto fail;
	}
	mb_unlock(mb);
	mb->uidvalidity = mb->ul.uidvalidity;
	mb_view_update(mb, &out);
	mbox_sync_free(&out);
	if (!readonly)
		mb_tmp_clean(mb);
	return mb;

 fail:
	mb_free(mb);
	return NULL;
}

void
mbox_close(struct mbox *mb)
{
	if (mb == NULL)
		return;
	if (mb->cache.plen > 0 && ms_lock_fd(mb->lockfd, LOCK_EX) == 0) {
		(void)cache_flush(mb);
		(void)flock(mb->lockfd, LOCK_UN);
	}
	mb_free(mb);
}

const char *
mbox_name(const struct mbox *mb)
{
	return mb->name;
}

uint32_t
mbox_uidvalidity(const struct mbox *mb)
{
	return mb->uidvalidity;
}

uint32_t
mbox_uidnext(const struct mbox *mb)
{
	return mb->uidnext;
}

uint64_t
mbox_highestmodseq(const struct mbox *mb)
{
	return mb->highest;
}

size_t
mbox_count(const struct mbox *mb)
{
	return mb->n;
}

const struct mbox_msg *
mbox_msg(const struct mbox *mb, size_t idx)
{
	return idx < mb->n ? &mb->msgs[idx] : NULL;
}

size_t
mbox_find_uid(const struct mbox *mb, uint32_t uid)
{
	size_t	 lo = 0, hi = mb->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid == uid)
			return mid;
		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (size_t)-1;
}

unsigned
mbox_notes(const struct mbox *mb)
{
	return mb->notes;
}

const char *
mbox_keyword_name(const struct mbox *mb, unsigned bit)
{
	return bit < MSTORE_KEYWORDS ? mb->kw[bit] : NULL;
}

int
mbox_keyword_bit(struct mbox *mb, const char *kw, int create)
{
	const char	*errstr;
	size_t		 len;
	int		 bit;

	mb->store->err = MSTORE_E_NONE;
	len = kw != NULL ? strnlen(kw, MSTORE_KEYWORD_MAX + 1) : 0;
	if (kw == NULL || !mstore_keyword_valid(kw, len)) {
		mb->store->err = MSTORE_E_INVALID;
		return -1;
	}
	if ((bit = kw_lookup(mb, kw, len)) != -1 || !create)
		return bit;
	if (mb->readonly) {
		mb->store->err = MSTORE_E_READONLY;
		return -1;
	}
	if (mb_lock(mb, &errstr) == -1)
		return -1;
	bit = kw_add(mb, kw, len, &errstr);
	mb_unlock(mb);
	return bit;
}

void
mbox_sync_free(struct mbox_sync *s)
{
	if (s == NULL)
		return;
	free(s->expunged);
	free(s->expunged_uids);
	free(s->changed);
	memset(s, 0, sizeof(*s));
}

int
mbox_sync(struct mbox *mb, struct mbox_sync *out, const char **errstr)
{
	struct mbox_sync	 tmp;
	const char		*unused;
	int			 r;

	ms_begin(mb->store, &errstr, &unused);
	if (out == NULL)
		out = &tmp;
	memset(out, 0, sizeof(*out));
	if (mb->reset)
		return ms_fail(mb->store, MSTORE_E_RESET, errstr, E_RESET);
	if (mb_lock(mb, errstr) == -1)
		return -1;
	r = mb_state_sync(mb, !mb->readonly, errstr);
	if (r == 0)
		(void)cache_flush(mb);
	mb_unlock(mb);
	if (r == -1)
		return -1;
	if (mb->ul.uidvalidity != mb->uidvalidity) {
		mb->reset = 1;
		return ms_fail(mb->store, MSTORE_E_RESET, errstr, E_RESET);
	}
	mb_view_update(mb, out);
	if (out == &tmp)
		mbox_sync_free(&tmp);
	return 0;
}

/*
 * A quiet session lets go of what the files hold anyway: the uid list
 * and the index records (read again, whole, at the next sync) and the
 * FETCH cache table (read again at the next get). What is not yet on
 * disk stays; the file names and the view stay, as they are the
 * session's own.
 */
void
mbox_trim(struct mbox *mb)
{
	struct ul	*ul = &mb->ul;
	struct ix	*ix = &mb->ix;
	struct cache	*c = &mb->cache;
	size_t		 i;

	if (mb->locked)
		return;
	if (ul->loaded && !ul->rewrite) {
		/* Keep what the view and cache checks compare with. */
		free(ul->ent);
		free(ul->keys);
		ht_free(&ul->h);
		ul->ent = NULL;
		ul->keys = NULL;
		ul->n = ul->cap = ul->ndead = 0;
		ul->klen = ul->kcap = 0;
		ul->loaded = 0;
	}
	if (ix->valid && !ix->rewrite && !ix->hdrdirty && ix->ndirty == 0 &&
	    !ix->range && ix->newmodseq == 0)
		ix_clear(ix);
	for (i = 0; i < c->n && !c->e[i].pending; i++)
		;
	if (i == c->n && c->plen == 0) {
		ms_close(&c->fd);
		free(c->e);
		ht_free(&c->h);
		free(c->buf);
		c->e = NULL;
		c->buf = NULL;
		c->n = c->cap = c->bufcap = 0;
		c->loaded = 0;
		c->end = c->live = c->dead = 0;
	}
}

/* The state's file of a message of the view: its index there. */
static size_t
mb_locate(struct mbox *mb, size_t idx)
{
	return st_find(&mb->st, mb->msgs[idx].uid);
}

static int
mb_open_file(struct mbox *mb, size_t k)
{
	const struct st_ent	*e = &mb->st.e[k];

	return ms_open_reg(e->innew ? mb->f.newfd : mb->f.curfd,
	    st_name(&mb->st, e), MS_RDFLAGS, 0, NULL);
}

/* Under no lock: take it, bring the state up to date, let it go. */
static int
mb_refresh(struct mbox *mb, const char **errstr)
{
	int	 r;

	if (mb_lock(mb, errstr) == -1)
		return -1;
	r = mb_state_sync(mb, 0, errstr);
	mb_unlock(mb);
	return r;
}

int
mbox_open_message(struct mbox *mb, size_t idx)
{
	const char	*errstr;
	size_t		 k;
	int		 fd;

	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	if ((k = mb_locate(mb, idx)) != SIZE_MAX &&
	    ((fd = mb_open_file(mb, k)) != -1 || errno != ENOENT))
		return fd;
	/* Renamed by another session, or gone: look again. */
	if (mb_refresh(mb, &errstr) == -1) {
		errno = EIO;
		return -1;
	}
	if ((k = mb_locate(mb, idx)) == SIZE_MAX) {
		errno = ENOENT;
		return -1;
	}
	return mb_open_file(mb, k);
}

/* The file's mtime, found again if another session renamed it. */
static time_t
mb_file_date(struct mbox *mb, size_t idx, size_t *kp)
{
	const struct st_ent	*e;
	const char		*errstr;
	struct stat		 sb;
	size_t			 k;
	int			 tries;

	for (tries = 0; tries < 2; tries++) {
		if (tries > 0 && mb_refresh(mb, &errstr) == -1)
			break;
		if ((k = mb_locate(mb, idx)) == SIZE_MAX)
			break;
		e = &mb->st.e[k];
		if (fstatat(e->innew ? mb->f.newfd : mb->f.curfd,
		    st_name(&mb->st, e), &sb, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISREG(sb.st_mode))
				break;
			*kp = k;
			return sb.st_mtim.tv_sec;
		}
		if (errno != ENOENT)
			break;
	}
	return 0;
}

time_t
mbox_internaldate(struct mbox *mb, size_t idx)
{
	struct mbox_msg		*m;
	struct st_ent		*e;
	size_t			 k;

	if (idx >= mb->n)
		return 0;
	m = &mb->msgs[idx];
	if (m->internaldate != 0 ||
	    (m->internaldate = mb_file_date(mb, idx, &k)) == 0)
		return m->internaldate;
	/* Into the index too, written with the next sync's changes. */
	e = &mb->st.e[k];
	if (mb->ix.valid && e->ixpos < mb->ix.n &&
	    mb->ix.rec[e->ixpos].uid == e->uid &&
	    mb->ix.rec[e->ixpos].date == 0) {
		mb->ix.rec[e->ixpos].date = (int64_t)m->internaldate;
		ix_dirty(&mb->ix, e->ixpos);
	}
	return m->internaldate;
}

int
mbox_store(struct mbox *mb, const size_t *idx, size_t n,
    enum mbox_flag_op op, unsigned flags, uint32_t keywords,
    uint64_t unchangedsince, size_t *failed, size_t *nfailed,
    const char **errstr)
{
	struct mstore_ix_rec	*r;
	struct st_ent		*e;
	struct mbox_msg		*m;
	const char		*unused, *from;
	char			 to[FNAME_MAX * 2 + 48];
	size_t			 i, k;
	unsigned		 nf;
	uint32_t		 nk;
	uint64_t		 h0, v0;
	int			 len, ret = 0, moved = 0;

	ms_begin(mb->store, &errstr, &unused);
	if (nfailed != NULL)
		*nfailed = 0;
	if (mb->reset)
		return ms_fail(mb->store, MSTORE_E_RESET, errstr, E_RESET);
	if (mb->readonly)
		return ms_fail(mb->store, MSTORE_E_READONLY, errstr, E_RO);
	for (i = 0; i < n; i++)
		if (idx[i] >= mb->n)
			return ms_fail(mb->store, MSTORE_E_INVALID, errstr,
			    "no such message");
	flags &= MBOX_FLAGS_KEPT;
	keywords &= (1u << MSTORE_KEYWORDS) - 1;
	if (mb_lock(mb, errstr) == -1)
		return -1;
	if (mb_state_sync(mb, 0, errstr) == -1) {
		mb_unlock(mb);
		return -1;
	}
	h0 = mb->ix.highest;
	v0 = mb->highest;
	for (i = 0; i < n; i++) {
		m = &mb->msgs[idx[i]];
		if ((k = st_find(&mb->st, m->uid)) == SIZE_MAX)
			continue;	/* expunged meanwhile */
		e = &mb->st.e[k];
		r = &mb->ix.rec[e->ixpos];
		switch (op) {
		case MBOX_FLAGS_ADD:
			nf = e->flags | flags;
			nk = e->keywords | keywords;
			break;
		case MBOX_FLAGS_REMOVE:
			nf = e->flags & ~flags;
			nk = e->keywords & ~keywords;
			break;
		default:
			nf = flags;
			nk = keywords;
			break;
		}
		if (unchangedsince != 0 && r->modseq > unchangedsince) {
			if (failed != NULL && nfailed != NULL)
				failed[(*nfailed)++] = idx[i];
			continue;
		}
		if (nf != e->flags || nk != e->keywords || e->innew) {
			from = st_name(&mb->st, e);
			memcpy(to, from, e->keylen);
			if ((len = mstore_fmt_info(to + e->keylen, sizeof(to) -
			    e->keylen, nf, nk)) == -1 ||
			    e->keylen + (size_t)len > FNAME_MAX)
				continue;
			if (strcmp(from, to) != 0 && ms_rename_noreplace(
			    e->innew ? mb->f.newfd : mb->f.curfd, from,
			    mb->f.curfd, to) == -1) {
				if (errno == ENOENT)
					continue;
				ret = ms_fail_errno(mb->store, errstr,
				    "cannot rename a message", errno);
				break;
			}
			moved = 1;
			e->name = st_addname(&mb->st, to, e->keylen +
			    (size_t)len);
			e->innew = 0;
			if (nf != r->flags || nk != r->keywords) {
				r->flags = nf;
				r->keywords = nk;
				r->modseq = ix_modseq(&mb->ix);
				ix_dirty(&mb->ix, e->ixpos);
			}
			e->flags = nf;
			e->keywords = nk;
		}
		/* The view shows what the file says now. */
		nf = m->flags & MBOX_RECENT;
		mb_msg_fill(mb, e, m);
		m->flags |= nf;
	}
	if (moved)
		mb->trusted = 0;
	if (ix_write(mb, errstr) == -1)
		ret = -1;
	mb_unlock(mb);
	/* HIGHESTMODSEQ moves on only if nobody else changed anything
	 * this session has not reported yet. */
	if (v0 == h0)
		mb->highest = mb->ix.highest;
	return ret;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
ms_quota_add(struct mstore *st, int64_t bytes, int64_t msgs)
{
	if (st->lim.quota_bytes > 0 || st->lim.quota_messages > 0)
		maildir_quota_add(st->rootfd, bytes, msgs);
}

/*
 * Remove messages of the view: with deleted_only those with \Deleted on
 * disk now, among uids (sorted here) if not NULL.
 */
static int
mb_expunge(struct mbox *mb, const uint32_t *uids, size_t n,
    int deleted_only, struct mbox_sync *out, const char **errstr)
{
	struct mbox_sync	 tmp;
	struct st_ent		*e;
	struct buf		 lines;
	uint32_t		*set = NULL, maxuid;
	uint64_t		 bytes = 0, count = 0;
	size_t			 i, j;
	int			 r = 0;

	if (out == NULL)
		out = &tmp;
	memset(out, 0, sizeof(*out));
	if (mb->reset)
		return ms_fail(mb->store, MSTORE_E_RESET, errstr, E_RESET);
	if (mb->readonly)
		return ms_fail(mb->store, MSTORE_E_READONLY, errstr, E_RO);
	if (uids != NULL) {
		set = xreallocarray(NULL, n + 1, sizeof(*set));
		if (n > 0)
			memcpy(set, uids, n * sizeof(*set));
		qsort(set, n, sizeof(*set), uid_cmp);
	}
	maxuid = mb->n > 0 ? mb->msgs[mb->n - 1].uid : 0;
	if (mb_lock(mb, errstr) == -1) {
		free(set);
		return -1;
	}
	if (mb_state_sync(mb, 1, errstr) == -1) {
		mb_unlock(mb);
		free(set);
		return -1;
	}
	buf_init(&lines, SIZE_MAX / 2);
	for (i = j = 0; i < mb->st.n; i++) {
		e = &mb->st.e[i];
		if (e->uid > maxuid || (deleted_only &&
		    !(e->flags & MBOX_DELETED)) || (set != NULL &&
		    bsearch(&e->uid, set, n, sizeof(*set), uid_cmp) == NULL) ||
		    (unlinkat(e->innew ? mb->f.newfd : mb->f.curfd,
		    st_name(&mb->st, e), 0) == -1 && errno != ENOENT)) {
			mb->st.e[j++] = *e;
			continue;
		}
		ul_kill(&mb->ul, e->uid);
		(void)ul_line(&lines, e->uid, NULL);
		bytes += mb->ix.rec[e->ixpos].size;
		count++;
	}
	mb->st.n = j;
	if (count > 0) {
		mb->trusted = 0;
		(void)ix_modseq(&mb->ix);
		if (mb->ul.ndead > COMPACT_MIN &&
		    mb->ul.ndead > mb->ul.n - mb->ul.ndead)
			r = ul_rewrite(mb, errstr);
		else
			r = ul_append(mb, lines.data, lines.len, errstr);
		if (r == 0)
			r = ix_write(mb, errstr);
	}
	buf_free(&lines);
	(void)cache_flush(mb);
	mb_unlock(mb);
	free(set);
	if (count > 0)
		ms_quota_add(mb->store, -(int64_t)bytes, -(int64_t)count);
	mb_view_update(mb, out);
	if (out == &tmp)
		mbox_sync_free(&tmp);
	return r;
}

int
mbox_expunge(struct mbox *mb, const uint32_t *uids, size_t n,
    struct mbox_sync *out, const char **errstr)
{
	const char	*unused;

	ms_begin(mb->store, &errstr, &unused);
	return mb_expunge(mb, uids, n, 1, out, errstr);
}

/* ---- quota ---- */

static int
quota_set(const struct mstore *st)
{
	return st->lim.quota_bytes > 0 || st->lim.quota_messages > 0;
}

/* Sum the messages of new/ or cur/: ",S=" when there, else stat. */
static int
quota_sum_dir(int dirfd, const char *sub, int64_t *bytes, int64_t *msgs)
{
	struct dirent	*de;
	struct stat	 sb;
	DIR		*dp;
	uint64_t	 size;
	int		 fd;

	if ((fd = openat(dirfd, sub, MS_DIRFLAGS)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((dp = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (key_field(de->d_name, strcspn(de->d_name, ":"), 'S',
		    &size) != 1 || size > INT64_MAX) {
			if (fstatat(fd, de->d_name, &sb,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
				continue;
			size = (uint64_t)sb.st_size;
		}
		if (__builtin_add_overflow(*bytes, (int64_t)size, bytes) ||
		    __builtin_add_overflow(*msgs, 1, msgs)) {
			(void)closedir(dp);
			errno = EOVERFLOW;
			return -1;
		}
	}
	(void)closedir(dp);
	return 0;
}

/* Maildir++: the whole tree, INBOX and every ".Folder". */
static int
quota_recalc(struct mstore *st, int64_t *bytes, int64_t *msgs)
{
	struct dirent	*de;
	DIR		*dp;
	size_t		 n = 0;
	int		 fd, sub;

	*bytes = *msgs = 0;
	if (quota_sum_dir(st->rootfd, "new", bytes, msgs) == -1 ||
	    quota_sum_dir(st->rootfd, "cur", bytes, msgs) == -1)
		return -1;
	if ((fd = openat(st->rootfd, ".", MS_DIRFLAGS)) == -1)
		return -1;
	if ((dp = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(dp)) != NULL &&
	    n < st->lim.max_folders * 2 + 100) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if ((sub = openat(fd, de->d_name, MS_DIRFLAGS)) == -1)
			continue;
		if (quota_sum_dir(sub, "new", bytes, msgs) == -1 ||
		    quota_sum_dir(sub, "cur", bytes, msgs) == -1) {
			(void)close(sub);
			(void)closedir(dp);
			return -1;
		}
		(void)close(sub);
	}
	(void)closedir(dp);
	return 0;
}

static int
quota_used(struct mstore *st, int64_t *bytes, int64_t *msgs,
    const char **errstr)
{
	char		 tmp[48];
	uint64_t	 qb, qm;

	if (maildir_quota_read(st->rootfd, &qb, &qm, bytes, msgs) == 0 &&
	    qb == st->lim.quota_bytes && qm == st->lim.quota_messages)
		return 0;
	if (quota_recalc(st, bytes, msgs) == -1)
		return ms_fail_errno(st, errstr, "cannot count the quota",
		    errno);
	(void)snprintf(tmp, sizeof(tmp), "osms-maildirsize.%ld",
	    (long)getpid());
	if (quota_set(st))
		(void)maildir_quota_write(st->rootfd, st->tmpfd, tmp,
		    st->lim.quota_bytes, st->lim.quota_messages, *bytes,
		    *msgs);
	return 0;
}

/* Would n messages of size bytes in all fit? */
static int
quota_check(struct mstore *st, uint64_t size, uint64_t n,
    const char **errstr)
{
	int64_t		 b, m;
	uint64_t	 qb = st->lim.quota_bytes, qm = st->lim.quota_messages;

	if (!quota_set(st))
		return 0;
	if (quota_used(st, &b, &m, errstr) == -1)
		return -1;
	if (qb > 0 && ((uint64_t)b > qb || size > qb - (uint64_t)b))
		return ms_fail(st, MSTORE_E_OVERQUOTA, errstr, E_QUOTA_B);
	if (qm > 0 && ((uint64_t)m > qm || n > qm - (uint64_t)m))
		return ms_fail(st, MSTORE_E_OVERQUOTA, errstr, E_QUOTA_M);
	return 0;
}

/* ---- APPEND, COPY, MOVE ---- */

/*
 * Under the lock of a folder not opened for a session: ready to give
 * UIDs. The uidlist's end is enough when it parses; else (missing,
 * odd) a full sync decides. *count: messages now, at least roughly.
 */
static int
mb_raw_prepare(struct mbox *mb, size_t *count, const char **errstr)
{
	struct mstore_ix_header	 h;
	unsigned char		 hdr[MSTORE_IX_HDR];
	int			 fd;

	if (ul_tail(mb) == 0) {
		*count = 0;
		fd = ms_open_reg(mb->f.dirfd, IX_FILE, MS_RDFLAGS, 0, NULL);
		if (fd != -1) {
			if (pread_all(fd, hdr, sizeof(hdr), 0) == 0 &&
			    mstore_fmt_ix_header_get(hdr, &h) == 0)
				*count = h.count;
			(void)close(fd);
		}
		/* Records of expunged messages count too: ask the files. */
		if (*count < mb->store->lim.max_messages_per_folder)
			return 0;
	}
	if (mb_state_sync(mb, 0, errstr) == -1)
		return -1;
	*count = mb->st.n;
	return 0;
}

/* Give the next UIDs to files now in place (under the lock). */
static int
mb_raw_commit(struct mbox *mb, const char *const *keys,
    struct mstore_ix_rec *recs, size_t n, const char **errstr)
{
	struct buf	 lines;
	size_t		 i;
	int		 r;

	buf_init(&lines, SIZE_MAX / 2);
	for (i = 0; i < n; i++) {
		recs[i].uid = mb->ul.uidnext;
		ul_add(&mb->ul, recs[i].uid, keys[i], strlen(keys[i]));
		(void)ul_line(&lines, recs[i].uid, keys[i]);
	}
	r = ul_append(mb, lines.data, lines.len, errstr);
	buf_free(&lines);
	if (r == -1)
		return -1;
	if (!mb->ix.valid) {
		ix_append_raw(mb, recs, n);
		return 0;
	}
	for (i = 0; i < n; i++) {
		recs[i].modseq = ix_modseq(&mb->ix);
		(void)ix_add(&mb->ix, &recs[i]);
	}
	/* The UIDs are safe: an index that cannot be written is rebuilt. */
	if (ix_write(mb, errstr) == -1) {
		*errstr = NULL;
		mb->store->err = MSTORE_E_NONE;
	}
	return 0;
}

/* "<unique>,S=<size>,W=<wire size>" */
static int
key_make(char *buf, size_t size, const char *unique, uint64_t s, uint64_t w)
{
	if (osms_snprintf(buf, size, "%s,S=%" PRIu64 ",W=%" PRIu64, unique, s,
	    w) == -1 || strlen(buf) > FNAME_MAX - 40)
		return -1;
	return 0;
}

/* A message with flags goes to cur/ with them; else to new/ (\Recent). */
static int
place(struct mbox *mb, int fromfd, const char *from, const char *key,
    unsigned flags, uint32_t keywords, char *final, size_t size,
    int *usednew)
{
	int	 n;

	*usednew = flags == 0 && keywords == 0;
	if (osms_strlcpy(final, key, size) >= size)
		return -1;
	if (!*usednew) {
		n = mstore_fmt_info(final + strlen(key), size - strlen(key),
		    flags, keywords);
		if (n == -1)
			return -1;
	}
	return ms_rename_noreplace(fromfd, from, *usednew ? mb->f.newfd :
	    mb->f.curfd, final);
}

static void
unplace(struct mbox *mb, const char *final, int usednew)
{
	(void)unlinkat(usednew ? mb->f.newfd : mb->f.curfd, final, 0);
}

int
mbox_append(struct mstore *st, const char *folder, int fd, unsigned flags,
    const char *const *keywords, size_t nkeywords, time_t internaldate,
    uint32_t *uidvalidity, uint32_t *uid, const char **errstr)
{
	struct mbox		*mb;
	struct mstore_ix_rec	 rec;
	struct timespec		 ts[2];
	struct stat		 sb;
	enum maildir_result	 res;
	char			 canon[MSTORE_NAME_MAX + 1];
	char			 unique[128], key[FNAME_MAX + 1];
	char			 final[FNAME_MAX + 1];
	const char		*unused, *err, *keyp = key;
	size_t			 i, count;
	uint64_t		 size, wire;
	uint32_t		 kw = 0;
	int			 bit, usednew;

	ms_begin(st, &errstr, &unused);
	*uidvalidity = *uid = 0;
	if (!mstore_name_valid(folder, canon, sizeof(canon)))
		return ms_fail(st, MSTORE_E_INVALID, errstr, E_NAME);
	for (i = 0; i < nkeywords; i++)
		if (!mstore_keyword_valid(keywords[i], strnlen(keywords[i],
		    MSTORE_KEYWORD_MAX + 1)))
			return ms_fail(st, MSTORE_E_INVALID, errstr,
			    "invalid keyword");
	flags &= MBOX_FLAGS_KEPT;
	if ((mb = mb_new(st, canon, errstr)) == NULL)
		return -1;
	ms_unique(st, unique, sizeof(unique));
	res = maildir_write_tmp(mb->f.tmpfd, unique, fd, &size, &wire, &err);
	if (res != MAILDIR_OK) {
		mb_free(mb);
		st->err = MSTORE_E_IO;
		*errstr = err;
		return -1;
	}
	memset(&rec, 0, sizeof(rec));
	if (internaldate != 0) {
		ts[0].tv_sec = ts[1].tv_sec = internaldate;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		(void)utimensat(mb->f.tmpfd, unique, ts, AT_SYMLINK_NOFOLLOW);
	}
	if (fstatat(mb->f.tmpfd, unique, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		rec.date = (int64_t)sb.st_mtim.tv_sec;
	if (key_make(key, sizeof(key), unique, size, wire) == -1) {
		(void)ms_fail(st, MSTORE_E_IO, errstr, "name too long");
		goto fail_tmp;
	}
	if (quota_check(st, size, 1, errstr) == -1)
		goto fail_tmp;
	if (mb_lock(mb, errstr) == -1)
		goto fail_tmp;
	if (mb_raw_prepare(mb, &count, errstr) == -1)
		goto fail_locked;
	if (count >= st->lim.max_messages_per_folder ||
	    mb->ul.uidnext >= UINT32_MAX) {
		(void)ms_fail(st, MSTORE_E_LIMIT, errstr,
		    "too many messages in this mailbox");
		goto fail_locked;
	}
	for (i = 0; i < nkeywords; i++) {
		if ((bit = kw_add(mb, keywords[i], strlen(keywords[i]),
		    errstr)) == -1)
			goto fail_locked;
		kw |= 1u << bit;
	}
	if (place(mb, mb->f.tmpfd, unique, key, flags, kw, final,
	    sizeof(final), &usednew) == -1 ||
	    ms_fsync_dir(usednew ? mb->f.newfd : mb->f.curfd) == -1) {
		(void)ms_fail_errno(st, errstr, "cannot store the message",
		    errno);
		goto fail_locked;
	}
	rec.flags = flags;
	rec.keywords = kw;
	rec.size = size;
	rec.wire_size = wire;
	if (mb_raw_commit(mb, &keyp, &rec, 1, errstr) == -1) {
		unplace(mb, final, usednew);
		goto fail_locked;
	}
	mb_unlock(mb);
	ms_quota_add(st, (int64_t)size, 1);
	*uidvalidity = mb->ul.uidvalidity;
	*uid = rec.uid;
	mb_free(mb);
	return 0;

 fail_locked:
	mb_unlock(mb);
 fail_tmp:
	(void)unlinkat(mb->f.tmpfd, unique, 0);
	mb_free(mb);
	return -1;
}

/* A copy of the file when a link cannot be made. */
static int
copy_file(int srcfd, int tmpfd, const char *name)
{
	struct timespec	 ts[2];
	struct stat	 sb;
	char		*buf;
	ssize_t		 n;
	int		 fd, e = 0;

	if (fstat(srcfd, &sb) == -1)
		return -1;
	if ((fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return -1;
	buf = xmalloc(IO_CHUNK);
	for (;;) {
		if ((n = read(srcfd, buf, IO_CHUNK)) == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			break;
		}
		if (n == 0)
			break;
		if (write_all(fd, buf, (size_t)n) == -1) {
			e = errno;
			break;
		}
	}
	free(buf);
	ts[0] = sb.st_atim;
	ts[1] = sb.st_mtim;
	if (e == 0 && (futimens(fd, ts) == -1 || fsync(fd) == -1))
		e = errno;
	if (close(fd) == -1 && e == 0)
		e = errno;
	if (e != 0) {
		(void)unlinkat(tmpfd, name, 0);
		errno = e;
		return -1;
	}
	return 0;
}

/* Put the file of message idx into tmpfd/name: a link, or a copy. */
static int
copy_one(struct mbox *mb, size_t idx, int tmpfd, const char *name,
    const char **errstr)
{
	const struct st_ent	*e;
	size_t			 k;
	int			 tries, fd, r;

	for (tries = 0; tries < 2; tries++) {
		if (tries > 0 && mb_refresh(mb, errstr) == -1)
			return -1;
		if ((k = mb_locate(mb, idx)) == SIZE_MAX)
			break;
		e = &mb->st.e[k];
		if (linkat(e->innew ? mb->f.newfd : mb->f.curfd,
		    st_name(&mb->st, e), tmpfd, name, 0) == 0)
			return 0;
		if (errno == ENOENT)
			continue;
		if (errno != EXDEV && errno != EMLINK && errno != EPERM)
			return ms_fail_errno(mb->store, errstr,
			    "cannot link a message", errno);
		if ((fd = mb_open_file(mb, k)) == -1) {
			if (errno == ENOENT)
				continue;
			return ms_fail_errno(mb->store, errstr,
			    "cannot open a message", errno);
		}
		r = copy_file(fd, tmpfd, name);
		(void)close(fd);
		if (r == 0)
			return 0;
		return ms_fail_errno(mb->store, errstr,
		    "cannot copy a message", errno);
	}
	return ms_fail(mb->store, MSTORE_E_EXPUNGED, errstr,
	    "a message was expunged meanwhile");
}

static int
mb_copy(struct mbox *mb, const size_t *idx, size_t n, const char *dest,
    uint32_t *uidvalidity, uint32_t *dest_uids, const char **errstr)
{
	struct mstore		*st = mb->store;
	struct mbox		*dm;
	struct mstore_ix_rec	*recs;
	const struct mbox_msg	*m;
	char			 canon[MSTORE_NAME_MAX + 1];
	char			(*tmp)[128], (*keys)[FNAME_MAX + 1];
	char			(*finals)[FNAME_MAX + 1];
	const char		**keyp;
	unsigned char		*usednew;
	size_t			 i, done = 0, placed = 0, count;
	uint64_t		 bytes = 0;
	uint32_t		 used;
	int			 map[MSTORE_KEYWORDS], b, ret = -1;
	const char		*e2;

	*uidvalidity = 0;
	if (mb->reset)
		return ms_fail(st, MSTORE_E_RESET, errstr, E_RESET);
	if (!mstore_name_valid(dest, canon, sizeof(canon)))
		return ms_fail(st, MSTORE_E_INVALID, errstr, E_NAME);
	for (i = 0; i < n; i++) {
		if (idx[i] >= mb->n)
			return ms_fail(st, MSTORE_E_INVALID, errstr,
			    "no such message");
		bytes += mb->msgs[idx[i]].size;
		/* Before the target is locked: this may lock mb. */
		(void)mbox_internaldate(mb, idx[i]);
	}
	if ((dm = mb_new(st, canon, errstr)) == NULL)
		return -1;
	if (n == 0) {
		if (mb_lock(dm, errstr) == 0) {
			if (mb_raw_prepare(dm, &count, errstr) == 0) {
				*uidvalidity = dm->ul.uidvalidity;
				ret = 0;
			}
			mb_unlock(dm);
		}
		mb_free(dm);
		return ret;
	}
	if (quota_check(st, bytes, n, errstr) == -1) {
		mb_free(dm);
		return -1;
	}
	tmp = xreallocarray(NULL, n, sizeof(*tmp));
	keys = xreallocarray(NULL, n, sizeof(*keys));
	finals = xreallocarray(NULL, n, sizeof(*finals));
	keyp = xreallocarray(NULL, n, sizeof(*keyp));
	usednew = xcalloc(n, 1);
	recs = xcalloc(n, sizeof(*recs));

	/* Links in the destination's tmp/, no lock held. */
	for (done = 0; done < n; done++) {
		m = &mb->msgs[idx[done]];
		ms_unique(st, tmp[done], sizeof(tmp[done]));
		if (key_make(keys[done], sizeof(keys[done]), tmp[done],
		    m->size, m->wire_size) == -1) {
			(void)ms_fail(st, MSTORE_E_IO, errstr,
			    "name too long");
			goto out;
		}
		keyp[done] = keys[done];
		if (copy_one(mb, idx[done], dm->f.tmpfd, tmp[done],
		    errstr) == -1)
			goto out;
	}

	if (mb_lock(dm, errstr) == -1)
		goto out;
	if (mb_raw_prepare(dm, &count, errstr) == -1)
		goto out_locked;
	if (count + n > st->lim.max_messages_per_folder ||
	    (uint64_t)dm->ul.uidnext + n >= UINT32_MAX) {
		(void)ms_fail(st, MSTORE_E_LIMIT, errstr,
		    "too many messages in the target mailbox");
		goto out_locked;
	}
	/* Keywords by name; one the target has no room for is dropped. */
	for (i = 0, used = 0; i < n; i++)
		used |= mb->msgs[idx[i]].keywords;
	for (b = 0; b < MSTORE_KEYWORDS; b++) {
		map[b] = -1;
		if ((used & (1u << b)) && mb->kw[b] != NULL)
			map[b] = kw_add(dm, mb->kw[b], strlen(mb->kw[b]), &e2);
	}
	st->err = MSTORE_E_NONE;
	for (placed = 0; placed < n; placed++) {
		m = &mb->msgs[idx[placed]];
		recs[placed].flags = m->flags & MBOX_FLAGS_KEPT;
		for (b = 0; b < MSTORE_KEYWORDS; b++)
			if ((m->keywords & (1u << b)) && map[b] != -1)
				recs[placed].keywords |= 1u << map[b];
		recs[placed].size = m->size;
		recs[placed].wire_size = m->wire_size;
		recs[placed].date = (int64_t)m->internaldate;
		if (place(dm, dm->f.tmpfd, tmp[placed], keys[placed],
		    recs[placed].flags, recs[placed].keywords,
		    finals[placed], sizeof(finals[placed]),
		    &b) == -1) {
			(void)ms_fail_errno(st, errstr,
			    "cannot store a message", errno);
			goto out_locked;
		}
		usednew[placed] = (unsigned char)b;
	}
	if (ms_fsync_dir(dm->f.newfd) == -1 ||
	    ms_fsync_dir(dm->f.curfd) == -1) {
		(void)ms_fail_errno(st, errstr, "cannot sync the mailbox",
		    errno);
		goto out_locked;
	}
	if (mb_raw_commit(dm, keyp, recs, n, errstr) == -1)
		goto out_locked;
	for (i = 0; i < n; i++)
		dest_uids[i] = recs[i].uid;
	*uidvalidity = dm->ul.uidvalidity;
	placed = done = 0;
	ret = 0;

 out_locked:
	mb_unlock(dm);
 out:
	/* On failure: nothing of the copy stays. */
	for (i = 0; i < placed; i++)
		unplace(dm, finals[i], usednew[i]);
	for (i = placed; i < done; i++)
		(void)unlinkat(dm->f.tmpfd, tmp[i], 0);
	if (ret == 0)
		ms_quota_add(st, (int64_t)bytes, (int64_t)n);
	free(tmp);
	free(keys);
	free(finals);
	free(keyp);
	free(usednew);
	free(recs);
	mb_free(dm);
	return ret;
}

int
mbox_copy(struct mbox *mb, const size_t *idx, size_t n, const char *dest,
    uint32_t *uidvalidity, uint32_t *dest_uids, const char **errstr)
{
	const char	*unused;

	ms_begin(mb->store, &errstr, &unused);
	return mb_copy(mb, idx, n, dest, uidvalidity, dest_uids, errstr);
}

int
mbox_move(struct mbox *mb, const size_t *idx, size_t n, const char *dest,
    uint32_t *uidvalidity, uint32_t *dest_uids, struct mbox_sync *out,
    const char **errstr)
{
	const char	*unused;
	uint32_t	*uids;
	size_t		 i;
	int		 r;

	ms_begin(mb->store, &errstr, &unused);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (mb->readonly)
		return ms_fail(mb->store, MSTORE_E_READONLY, errstr, E_RO);
	if (mb_copy(mb, idx, n, dest, uidvalidity, dest_uids, errstr) == -1)
		return -1;
	uids = xreallocarray(NULL, n + 1, sizeof(*uids));
	for (i = 0; i < n; i++)
		uids[i] = mb->msgs[idx[i]].uid;
	r = mb_expunge(mb, uids, n, 0, out, errstr);
	free(uids);
	return r;
}

/* ---- osms-cache ---- */

static uint32_t
cache_hash(uint32_t uid, int field)
{
	unsigned char	 k[5];

	put32(k, uid);
	k[4] = (unsigned char)field;
	return fnv32(k, sizeof(k), FNV_INIT);
}

/* The slot of (uid, field): holding its entry, or empty. */
static uint32_t *
cache_slot(struct cache *c, uint32_t uid, int field)
{
	struct cache_ent	*e;
	size_t			 i;

	for (i = cache_hash(uid, field) & c->h.mask;; i = (i + 1) &
	    c->h.mask) {
		if (c->h.slot[i] == 0)
			return &c->h.slot[i];
		e = &c->e[c->h.slot[i] - 1];
		if (e->uid == uid && e->field == field)
			return &c->h.slot[i];
	}
}

static void
cache_rehash(struct cache *c)
{
	size_t	 i;

	ht_reset(&c->h, c->n);
	for (i = 0; i < c->n; i++) {
		*cache_slot(c, c->e[i].uid, c->e[i].field) = (uint32_t)i + 1;
		c->h.used++;
	}
}

static struct cache_ent *
cache_find(struct cache *c, uint32_t uid, int field)
{
	uint32_t	*slot;

	if (c->h.slot == NULL)
		return NULL;
	slot = cache_slot(c, uid, field);
	return *slot == 0 ? NULL : &c->e[*slot - 1];
}

static void
cache_set(struct cache *c, uint32_t uid, int field, uint64_t off,
    uint32_t len, int pending)
{
	struct cache_ent	*e;
	uint32_t		*slot;

	if (c->h.slot == NULL || (c->h.used + 1) * 2 > c->h.mask + 1)
		cache_rehash(c);
	slot = cache_slot(c, uid, field);
	if (*slot != 0) {
		e = &c->e[*slot - 1];
		if (!e->pending)
			c->live -= MSTORE_CACHE_RECHDR + e->len;
	} else {
		if (c->n == c->cap) {
			c->cap = c->cap == 0 ? 1024 : c->cap * 2;
			c->e = xreallocarray(c->e, c->cap, sizeof(*c->e));
		}
		e = &c->e[c->n++];
		*slot = (uint32_t)c->n;
		c->h.used++;
	}
	e->uid = uid;
	e->field = (uint8_t)field;
	e->off = off;
	e->len = len;
	e->pending = (uint8_t)pending;
	if (!pending)
		c->live += MSTORE_CACHE_RECHDR + len;
}

/* Forget the file: only what is still to be written stays. */
static void
cache_forget(struct cache *c)
{
	size_t	 i, j;

	ms_close(&c->fd);
	for (i = j = 0; i < c->n; i++)
		if (c->e[i].pending)
			c->e[j++] = c->e[i];
	c->n = j;
	cache_rehash(c);
	c->loaded = 0;
	c->end = c->live = c->dead = 0;
}

static int
cache_open(struct mbox *mb, int create)
{
	struct cache	*c = &mb->cache;
	struct stat	 sb;

	if (c->fd != -1)
		return 0;
	c->fd = ms_open_reg(mb->f.dirfd, CACHE_FILE, MS_RWFLAGS |
	    (create ? O_CREAT : 0), 0600, &sb);
	if (c->fd == -1 && create && (errno == EINVAL || errno == ELOOP) &&
	    unlinkat(mb->f.dirfd, CACHE_FILE, 0) == 0)
		c->fd = ms_open_reg(mb->f.dirfd, CACHE_FILE, MS_RWFLAGS |
		    O_CREAT, 0600, &sb);
	if (c->fd == -1)
		return -1;
	c->dev = sb.st_dev;
	c->ino = sb.st_ino;
	return 0;
}

/*
 * Read the records from c->end (from the header when not loaded) to
 * the end of the file. A record that is cut short or bad ends the
 * valid part: under the lock (fix) the rest is cut off. 0, or -1 if
 * the file is not ours (another UIDVALIDITY, a bad header).
 */
static int
cache_read(struct mbox *mb, int fix)
{
	struct cache		*c = &mb->cache;
	struct cache_ent	*e;
	struct stat		 sb;
	unsigned char		*buf, hdr[MSTORE_CACHE_HDR];
	const unsigned char	*data;
	size_t			 have = 0, at, dlen, bufsize;
	uint64_t		 off;
	uint32_t		 uid, uv;
	ssize_t			 n;
	long			 rl = 0;
	int			 field;

	if (fstat(c->fd, &sb) == -1 || (uint64_t)sb.st_size >
	    MSTORE_CACHE_FILE_MAX)
		return -1;
	if (!c->loaded) {
		if (pread_all(c->fd, hdr, sizeof(hdr), 0) == -1 ||
		    mstore_fmt_cache_header_get(hdr, sizeof(hdr), &uv) == -1 ||
		    uv != mb->ul.uidvalidity)
			return -1;
		c->end = MSTORE_CACHE_HDR;
		c->live = c->dead = 0;
		c->loaded = 1;
	}
	bufsize = IO_CHUNK * 4 + MSTORE_CACHE_RECHDR + MSTORE_CACHE_REC_MAX;
	buf = xmalloc(bufsize);
	off = c->end;
	for (;;) {
		n = pread(c->fd, buf + have, bufsize - have,
		    (off_t)(off + have));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		for (at = 0; at < have; at += (size_t)rl) {
			rl = mstore_fmt_cache_rec_get(buf + at, have - at,
			    &uid, &field, &data, &dlen);
			if (rl <= 0)
				break;
			e = cache_find(c, uid, field);
			if (st_find(&mb->st, uid) == SIZE_MAX ||
			    (e != NULL && e->pending))
				c->dead += (uint64_t)rl;
			else
				cache_set(c, uid, field, off + at,
				    (uint32_t)dlen, 0);
		}
		off += at;
		memmove(buf, buf + at, have - at);
		have -= at;
		if (rl == -1)
			break;
	}
	free(buf);
	c->end = off;
	if ((off_t)c->end < sb.st_size) {
		if (rl == -1 && !(mb->notes & MBOX_NOTE_CACHE)) {
			mb->notes |= MBOX_NOTE_CACHE;
			log_warnx("mstore: %s: %s: a bad record, the rest "
			    "dropped", mb->name, CACHE_FILE);
		}
		if (fix && ftruncate(c->fd, (off_t)c->end) == -1)
			log_warn("mstore: %s: cannot cut %s", mb->name,
			    CACHE_FILE);
	}
	/* Records superseded before: what is not live is dead. */
	if (c->end - MSTORE_CACHE_HDR > c->live)
		c->dead = c->end - MSTORE_CACHE_HDR - c->live;
	return 0;
}

/* Without the lock: see what the file holds, for gets. */
static void
cache_load(struct mbox *mb)
{
	struct cache	*c = &mb->cache;

	if (c->loaded || c->broken)
		return;
	if (cache_open(mb, 0) == -1 || cache_read(mb, 0) == -1) {
		ms_close(&c->fd);
		c->loaded = 0;
		c->broken = 1;	/* until the next flush decides */
	}
}

/* Under the lock: the live records alone, in a new file. */
static void
cache_compact(struct mbox *mb)
{
	struct cache		*c = &mb->cache;
	struct cache_ent	*e;
	struct stat		 sb;
	unsigned char		*buf;
	char			 tmp[64];
	size_t			 i, j, len;
	uint64_t		 off = MSTORE_CACHE_HDR, *noff;
	int			 fd, ok = 1;

	(void)snprintf(tmp, sizeof(tmp), "%s.%ld", CACHE_FILE,
	    (long)getpid());
	(void)unlinkat(mb->f.tmpfd, tmp, 0);
	if ((fd = openat(mb->f.tmpfd, tmp, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return;
	buf = xmalloc(MSTORE_CACHE_RECHDR + MSTORE_CACHE_REC_MAX);
	noff = xreallocarray(NULL, c->n + 1, sizeof(*noff));
	mstore_fmt_cache_header_put(buf, mb->ul.uidvalidity);
	if (write_all(fd, buf, MSTORE_CACHE_HDR) == -1)
		ok = 0;
	for (i = 0; i < c->n && ok; i++) {
		e = &c->e[i];
		noff[i] = UINT64_MAX;
		if (e->pending || st_find(&mb->st, e->uid) == SIZE_MAX)
			continue;
		len = MSTORE_CACHE_RECHDR + e->len;
		if (pread_all(c->fd, buf, len, (off_t)e->off) == -1 ||
		    write_all(fd, buf, len) == -1) {
			ok = 0;
			break;
		}
		noff[i] = off;
		off += len;
	}
	free(buf);
	if (!ok || fstat(fd, &sb) == -1 || renameat(mb->f.tmpfd, tmp,
	    mb->f.dirfd, CACHE_FILE) == -1) {
		(void)close(fd);
		(void)unlinkat(mb->f.tmpfd, tmp, 0);
		free(noff);
		return;
	}
	ms_close(&c->fd);
	c->fd = fd;
	c->dev = sb.st_dev;
	c->ino = sb.st_ino;
	for (i = j = 0; i < c->n; i++) {
		if (c->e[i].pending || noff[i] == UINT64_MAX) {
			if (c->e[i].pending)
				c->e[j++] = c->e[i];
			continue;
		}
		c->e[i].off = noff[i];
		c->e[j++] = c->e[i];
	}
	c->n = j;
	cache_rehash(c);
	free(noff);
	c->end = off;
	c->live = off - MSTORE_CACHE_HDR;
	c->dead = 0;
}

/* Under the lock: write what was put since the last time. */
static int
cache_flush(struct mbox *mb)
{
	struct cache	*c = &mb->cache;
	struct stat	 sb;
	unsigned char	 hdr[MSTORE_CACHE_HDR];
	size_t		 i;
	int		 r;

	if (c->fd != -1) {
		/* Compacted by another, or cut short by one (a bad record):
		 * what we know of it may be wrong. */
		r = fstatat(mb->f.dirfd, CACHE_FILE, &sb, AT_SYMLINK_NOFOLLOW);
		if (r == -1 || sb.st_dev != c->dev || sb.st_ino != c->ino ||
		    (c->loaded && (uint64_t)sb.st_size < c->end))
			cache_forget(c);
	}
	c->broken = 0;
	if (c->plen == 0)
		return 0;
	if (cache_open(mb, 1) == -1)
		goto drop;
	if (cache_read(mb, 1) == -1 || c->end + c->plen >
	    MSTORE_CACHE_FILE_MAX) {
		if (c->loaded && c->dead > 0)
			cache_compact(mb);
		if (!c->loaded || c->end + c->plen > MSTORE_CACHE_FILE_MAX) {
			/* Not ours, or full of live data: start again. */
			if (c->loaded && !(mb->notes & MBOX_NOTE_CACHE))
				log_info("mstore: %s: %s full, started "
				    "again", mb->name, CACHE_FILE);
			cache_forget(c);
			if (cache_open(mb, 1) == -1)
				goto drop;
			mstore_fmt_cache_header_put(hdr, mb->ul.uidvalidity);
			if (ftruncate(c->fd, 0) == -1 ||
			    pwrite_all(c->fd, hdr, sizeof(hdr), 0) == -1)
				goto drop;
			c->loaded = 1;
			c->end = MSTORE_CACHE_HDR;
		}
	}
	if (pwrite_all(c->fd, c->pend, c->plen, (off_t)c->end) == -1) {
		/* What was written of it is cut off by the next reader. */
		goto drop;
	}
	for (i = 0; i < c->n; i++) {
		if (!c->e[i].pending)
			continue;
		c->e[i].pending = 0;
		c->e[i].off += c->end;
		c->live += MSTORE_CACHE_RECHDR + c->e[i].len;
	}
	c->end += c->plen;
	c->plen = 0;
	if (c->dead > c->live && c->end > CACHE_COMPACT_MIN)
		cache_compact(mb);
	return 0;

 drop:
	/* A cache: what cannot be written is lost, nothing else. */
	cache_forget(c);
	c->n = 0;
	cache_rehash(c);
	c->plen = 0;
	return -1;
}

int
mbox_cache_get(struct mbox *mb, uint32_t uid, int field, const void **data,
    size_t *len)
{
	struct cache		*c = &mb->cache;
	struct cache_ent	*e;
	const unsigned char	*d;
	size_t			 dlen, need;
	uint32_t		 u;
	int			 f;

	if (field < 1 || field > MBOX_CACHE_FIELDS)
		return -1;
	cache_load(mb);
	if ((e = cache_find(c, uid, field)) == NULL)
		return -1;
	if (e->pending) {
		*data = c->pend + e->off + MSTORE_CACHE_RECHDR;
		*len = e->len;
		return 0;
	}
	need = MSTORE_CACHE_RECHDR + e->len;
	if (need > c->bufcap) {
		c->buf = xreallocarray(c->buf, need, 1);
		c->bufcap = need;
	}
	/* Checked again: the file is anyone's. */
	if (c->fd == -1 || pread_all(c->fd, c->buf, need,
	    (off_t)e->off) == -1 || mstore_fmt_cache_rec_get(c->buf, need,
	    &u, &f, &d, &dlen) != (long)need || u != uid || f != field)
		return -1;
	*data = d;
	*len = dlen;
	return 0;
}

int
mbox_cache_put(struct mbox *mb, uint32_t uid, int field, const void *data,
    size_t len)
{
	struct cache	*c = &mb->cache;
	const char	*errstr;
	size_t		 need = MSTORE_CACHE_RECHDR + len;

	if (field < 1 || field > MBOX_CACHE_FIELDS ||
	    len > MSTORE_CACHE_REC_MAX || (len > 0 && data == NULL) ||
	    mbox_find_uid(mb, uid) == (size_t)-1 || mb->reset)
		return -1;
	if (c->plen + need > CACHE_PEND_MAX) {
		if (mb_lock(mb, &errstr) == -1)
			return -1;
		(void)cache_flush(mb);
		mb_unlock(mb);
	}
	if (c->plen + need > c->pcap) {
		while (c->plen + need > c->pcap)
			c->pcap = c->pcap == 0 ? 65536 : c->pcap * 2;
		c->pend = xreallocarray(c->pend, c->pcap, 1);
	}
	(void)mstore_fmt_cache_rec_put(c->pend + c->plen, uid, field, data,
	    len);
	cache_set(c, uid, field, c->plen, (uint32_t)len, 1);
	c->plen += need;
	return 0;
}

/* ---- notification ---- */

int
mbox_watch_fd(struct mbox *mb)
{
	int	 fd, cwd, ok;

	if (mb->watchfd != -1)
		return mb->watchfd;
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	/* inotify wants paths: from the folder, then back. */
	if ((cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		(void)close(fd);
		return -1;
	}
	if (fchdir(mb->f.dirfd) == -1) {
		(void)close(cwd);
		(void)close(fd);
		return -1;
	}
	ok = inotify_add_watch(fd, "new", IN_CREATE | IN_MOVED_TO |
	    IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR | IN_DONT_FOLLOW) != -1 &&
	    inotify_add_watch(fd, "cur", IN_CREATE | IN_MOVED_TO |
	    IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR | IN_DONT_FOLLOW) != -1 &&
	    inotify_add_watch(fd, ".", IN_MODIFY | IN_MOVED_TO | IN_CREATE |
	    IN_ONLYDIR | IN_DONT_FOLLOW) != -1;
	if (fchdir(cwd) == -1)
		log_warn("mstore: cannot return to the working directory");
	(void)close(cwd);
	if (!ok) {
		(void)close(fd);
		return -1;
	}
	mb->watchfd = fd;
	return fd;
}

void
mbox_watch_drain(struct mbox *mb)
{
	char	 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	if (mb->watchfd == -1)
		return;
	while (read(mb->watchfd, buf, sizeof(buf)) > 0)
		;
}

/* ---- the store ---- */

struct mstore *
mstore_open(int rootfd, const struct mstore_limits *lim,
    const char **errstr)
{
	static const char	*sub[] = { "cur", "new", "tmp" };
	struct mstore		*st;
	struct stat		 sb;
	const char		*unused;
	char			 host[256];
	size_t			 i, j;

	if (errstr == NULL)
		errstr = &unused;
	*errstr = NULL;
	st = xcalloc(1, sizeof(*st));
	st->rootfd = st->tmpfd = st->pop3fd = -1;
	if (lim != NULL)
		st->lim = *lim;
	if (st->lim.max_folders == 0)
		st->lim.max_folders = MSTORE_DEF_FOLDERS;
	if (st->lim.max_messages_per_folder == 0)
		st->lim.max_messages_per_folder = MSTORE_DEF_MESSAGES;
	if (st->lim.max_messages_per_folder > MSTORE_MAX_MESSAGES)
		st->lim.max_messages_per_folder = MSTORE_MAX_MESSAGES;
	if ((st->rootfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) == -1 ||
	    fstat(st->rootfd, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		*errstr = "the mail store is not a directory";
		goto fail;
	}
	for (i = 0; i < nitems(sub); i++) {
		if (mkdirat(st->rootfd, sub[i], 0700) == -1 &&
		    errno != EEXIST) {
			(void)ms_fail_errno(st, errstr, "cannot make the "
			    "Maildir", errno);
			goto fail;
		}
	}
	if ((st->tmpfd = openat(st->rootfd, "tmp", MS_DIRFLAGS)) == -1) {
		(void)ms_fail_errno(st, errstr, "cannot open tmp/", errno);
		goto fail;
	}
	/* The host part of our unique names: [A-Za-z0-9-] only. */
	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	for (i = j = 0; host[i] != '\0' && j < sizeof(st->host) - 1; i++)
		if ((host[i] >= 'a' && host[i] <= 'z') ||
		    (host[i] >= 'A' && host[i] <= 'Z') ||
		    (host[i] >= '0' && host[i] <= '9') || host[i] == '-')
			st->host[j++] = host[i];
		else if (host[i] == '.')
			break;
	if (j == 0)
		(void)osms_strlcpy(st->host, "localhost", sizeof(st->host));
	return st;

 fail:
	mstore_close(st);
	return NULL;
}

void
mstore_close(struct mstore *st)
{
	if (st == NULL)
		return;
	ms_close(&st->pop3fd);
	ms_close(&st->tmpfd);
	ms_close(&st->rootfd);
	free(st);
}

enum mstore_err
mstore_error(const struct mstore *st)
{
	return st->err;
}

static int
ms_lock_store(struct mstore *st, const char **errstr)
{
	int	 fd;

	if ((fd = ms_open_lock(st->rootfd, STORE_LOCK)) == -1) {
		(void)ms_fail_errno(st, errstr, "cannot open " STORE_LOCK,
		    errno);
		return -1;
	}
	if (ms_lock_fd(fd, LOCK_EX) == -1) {
		(void)ms_fail_errno(st, errstr, "cannot lock the store",
		    errno);
		(void)close(fd);
		return -1;
	}
	return fd;
}

static void
ms_unlock_store(int fd)
{
	(void)close(fd);
}
static void
dirlist_free(struct dirlist *d)
{
	size_t	 i;

	for (i = 0; i < d->n; i++)
		free(d->name[i]);
	free(d->name);
	memset(d, 0, sizeof(*d));
}

static void
dirlist_add(struct dirlist *d, const char *name)
{
	if (d->n == d->cap) {
		d->cap = d->cap == 0 ? 32 : d->cap * 2;
		d->name = xreallocarray(d->name, d->cap, sizeof(*d->name));
	}
	d->name[d->n++] = xstrdup(name);
}

/*
 * Every ".Name" directory whose name is a valid canonical folder name
 * (others are not ours to show), at most max.
 */
static int
ms_list_dirs(struct mstore *st, struct dirlist *d, size_t max)
{
	char		 canon[MSTORE_NAME_MAX + 1];
	struct dirent	*de;
	struct stat	 sb;
	DIR		*dp;
	int		 fd;

	memset(d, 0, sizeof(*d));
	if ((fd = openat(st->rootfd, ".", MS_DIRFLAGS)) == -1)
		return -1;
	if ((dp = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] != '.' || de->d_name[1] == '\0' ||
		    !mstore_name_valid(de->d_name + 1, canon, sizeof(canon)) ||
		    strcmp(canon, de->d_name + 1) != 0 || is_inbox(canon))
			continue;
		if (de->d_type != DT_DIR && (de->d_type != DT_UNKNOWN ||
		    fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISDIR(sb.st_mode)))
			continue;
		if (d->n >= max) {
			log_warnx("mstore: more than %zu folders, the rest "
			    "not listed", max);
			break;
		}
		dirlist_add(d, canon);
	}
	(void)closedir(dp);
	return 0;
}

static int
sub_read(struct mstore *st, struct dirlist *d)
{
	char		 canon[MSTORE_NAME_MAX + 1], *buf, *p, *nl;
	size_t		 len;

	memset(d, 0, sizeof(*d));
	if (ms_read_small(st->rootfd, SUB_FILE, SUB_FILE_MAX, &buf, &len,
	    NULL) == -1)
		return errno == ENOENT ? 0 : -1;
	for (p = buf; p < buf + len && d->n < SUB_MAX; p = nl + 1) {
		if ((nl = memchr(p, '\n', len - (size_t)(p - buf))) == NULL)
			nl = buf + len;
		*nl = '\0';
		if (mstore_name_valid(p, canon, sizeof(canon)))
			dirlist_add(d, canon);
	}
	free(buf);
	return 0;
}

static int
sub_write(struct mstore *st, const struct dirlist *d, int durable)
{
	struct buf	 b;
	size_t		 i;
	int		 r;

	buf_init(&b, SUB_FILE_MAX);
	for (i = 0; i < d->n; i++)
		(void)buf_printf(&b, "%s\n", d->name[i]);
	r = ms_write_file(st->rootfd, st->tmpfd, SUB_FILE, b.data != NULL ?
	    b.data : "", b.len, durable);
	buf_free(&b);
	return r;
}

static int
dirlist_has(const struct dirlist *d, const char *name)
{
	size_t	 i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->name[i], name) == 0)
			return 1;
	return 0;
}

static int
folder_cmp(const void *a, const void *b)
{
	const struct mstore_folder	*x = a, *y = b;

	if (is_inbox(x->name) != is_inbox(y->name))
		return is_inbox(x->name) ? -1 : 1;
	return strcmp(x->name, y->name);
}

static unsigned
special_flags(const char *name)
{
	static const struct {
		const char	*name;
		unsigned	 flag;
	} sp[] = {
		{ "Drafts", MSTORE_F_DRAFTS },
		{ "Sent", MSTORE_F_SENT },
		{ "Trash", MSTORE_F_TRASH },
		{ "Junk", MSTORE_F_JUNK },
		{ "Archive", MSTORE_F_ARCHIVE },
	};
	size_t	 i;

	for (i = 0; i < nitems(sp); i++)
		if (strcmp(name, sp[i].name) == 0)
			return sp[i].flag;
	return 0;
}

static struct mstore_folder *
flist_find(struct flist *l, const char *name)
{
	struct mstore_folder	 key;

	memset(&key, 0, sizeof(key));
	if (osms_strlcpy(key.name, name, sizeof(key.name)) >=
	    sizeof(key.name))
		return NULL;
	return bsearch(&key, l->f, l->n, sizeof(*l->f), folder_cmp);
}

static void
flist_add(struct flist *l, const char *name, unsigned flags)
{
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 32 : l->cap * 2;
		l->f = xreallocarray(l->f, l->cap, sizeof(*l->f));
	}
	(void)osms_strlcpy(l->f[l->n].name, name, sizeof(l->f[l->n].name));
	l->f[l->n++].flags = flags;
}

/* 1 if the folder directory holds a Maildir (cur/). */
static int
ms_selectable(struct mstore *st, const char *canon)
{
	char	 dname[MSTORE_NAME_MAX + 2];
	struct stat sb;
	int	 fd, ok;

	if (dir_name(dname, sizeof(dname), canon) == -1 ||
	    (fd = openat(st->rootfd, dname, MS_DIRFLAGS)) == -1)
		return 0;
	ok = fstatat(fd, "cur", &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(sb.st_mode);
	(void)close(fd);
	return ok;
}

int
mstore_folders(struct mstore *st, struct mstore_folder **listp, size_t *np,
    const char **errstr)
{
	struct dirlist		 d, subs;
	struct flist		 l;
	struct mstore_folder	*f;
	char			 name[MSTORE_NAME_MAX + 1], *dot;
	const char		*unused;
	size_t			 i, n;

	ms_begin(st, &errstr, &unused);
	*listp = NULL;
	*np = 0;
	memset(&l, 0, sizeof(l));
	if (ms_list_dirs(st, &d, st->lim.max_folders) == -1)
		return ms_fail_errno(st, errstr, "cannot list the folders",
		    errno);
	if (sub_read(st, &subs) == -1) {
		dirlist_free(&d);
		return ms_fail_errno(st, errstr, "cannot read " SUB_FILE,
		    errno);
	}
	flist_add(&l, "INBOX", 0);
	for (i = 0; i < d.n; i++)
		flist_add(&l, d.name[i], ms_selectable(st, d.name[i]) ? 0 :
		    MSTORE_F_NOSELECT);
	qsort(l.f, l.n, sizeof(*l.f), folder_cmp);
	/* Parents without a folder of their own. */
	n = l.n;
	for (i = 0; i < n; i++) {
		(void)osms_strlcpy(name, l.f[i].name, sizeof(name));
		while ((dot = strrchr(name, '.')) != NULL) {
			*dot = '\0';
			if (flist_find(&l, name) != NULL)
				break;
			flist_add(&l, name, MSTORE_F_NOSELECT |
			    MSTORE_F_NONEXISTENT);
			qsort(l.f, l.n, sizeof(*l.f), folder_cmp);
		}
	}
	/* Children: every entry so far is a folder or has one below. */
	for (i = 0; i < l.n; i++) {
		(void)osms_strlcpy(name, l.f[i].name, sizeof(name));
		if ((dot = strrchr(name, '.')) == NULL)
			continue;
		*dot = '\0';
		if ((f = flist_find(&l, name)) != NULL)
			f->flags |= MSTORE_F_HASCHILDREN;
	}
	for (i = 0; i < subs.n; i++) {
		if ((f = flist_find(&l, subs.name[i])) != NULL)
			f->flags |= MSTORE_F_SUBSCRIBED;
		else {
			flist_add(&l, subs.name[i], MSTORE_F_NOSELECT |
			    MSTORE_F_NONEXISTENT | MSTORE_F_SUBSCRIBED |
			    MSTORE_F_HASNOCHILDREN);
			qsort(l.f, l.n, sizeof(*l.f), folder_cmp);
		}
	}
	for (i = 0; i < l.n; i++) {
		if (!(l.f[i].flags & (MSTORE_F_HASCHILDREN |
		    MSTORE_F_HASNOCHILDREN)))
			l.f[i].flags |= MSTORE_F_HASNOCHILDREN;
		l.f[i].flags |= special_flags(l.f[i].name);
	}
	dirlist_free(&d);
	dirlist_free(&subs);
	*listp = l.f;
	*np = l.n;
	return 0;
}

/* Remove a tree we own in tmp/, at most depth levels down. */
static void
tree_remove(int dirfd, const char *name, int depth)
{
	struct dirent	*de;
	DIR		*dp;
	int		 fd;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return;
	if (depth > 0 && (fd = openat(dirfd, name, MS_DIRFLAGS)) != -1) {
		if ((dp = fdopendir(fd)) == NULL)
			(void)close(fd);
		else {
			while ((de = readdir(dp)) != NULL) {
				if (strcmp(de->d_name, ".") == 0 ||
				    strcmp(de->d_name, "..") == 0)
					continue;
				tree_remove(fd, de->d_name, depth - 1);
			}
			(void)closedir(dp);
		}
	}
	(void)unlinkat(dirfd, name, AT_REMOVEDIR);
}

/*
 * Make one folder (the store lock held): built in tmp/, renamed into
 * place, so that nobody sees it half made. 1 if it was there already.
 * durable: its directory and the store's fsync'd (else the caller syncs
 * the store and repairs what a crash cut short).
 */
static int
create_one(struct mstore *st, const char *canon, int durable,
    const char **errstr)
{
	static const char	*sub[] = { "cur", "new", "tmp" };
	char			 dname[MSTORE_NAME_MAX + 2], tmp[160];
	char			 unique[128];
	struct stat		 sb;
	size_t			 i;
	int			 fd = -1, mfd, e;

	if (dir_name(dname, sizeof(dname), canon) == -1)
		return ms_fail(st, MSTORE_E_INVALID, errstr, E_NAME);
	if (fstatat(st->rootfd, dname, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	ms_unique(st, unique, sizeof(unique));
	(void)snprintf(tmp, sizeof(tmp), "osms-mkdir.%s", unique);
	if (mkdirat(st->tmpfd, tmp, 0700) == -1 ||
	    (fd = openat(st->tmpfd, tmp, MS_DIRFLAGS)) == -1)
		goto fail;
	for (i = 0; i < nitems(sub); i++)
		if (mkdirat(fd, sub[i], 0700) == -1)
			goto fail;
	if ((mfd = openat(fd, FOLDER_MARK, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		goto fail;
	(void)close(mfd);
	if (durable && ms_fsync_dir(fd) == -1)
		goto fail;
	if (ms_rename_noreplace(st->tmpfd, tmp, st->rootfd, dname) == -1) {
		e = errno;
		(void)close(fd);
		tree_remove(st->tmpfd, tmp, 2);
		if (e == EEXIST || e == ENOTEMPTY)
			return 1;
		return ms_fail_errno(st, errstr, "cannot make the mailbox", e);
	}
	(void)close(fd);
	if (durable && ms_fsync_dir(st->rootfd) == -1)
		return ms_fail_errno(st, errstr, "cannot sync the store",
		    errno);
	return 0;

 fail:
	e = errno;
	if (fd != -1)
		(void)close(fd);
	tree_remove(st->tmpfd, tmp, 2);
	return ms_fail_errno(st, errstr, "cannot make the mailbox", e);
}

/* A folder's missing cur/, new/ and tmp/ (the store lock held). */
static int
repair_one(struct mstore *st, const char *canon, const char **errstr)
{
	static const char	*sub[] = { "cur", "new", "tmp" };
	char			 dname[MSTORE_NAME_MAX + 2];
	size_t			 i;
	int			 fd, e = 0;

	if (dir_name(dname, sizeof(dname), canon) == -1)
		return ms_fail(st, MSTORE_E_INVALID, errstr, E_NAME);
	if ((fd = openat(st->rootfd, dname, MS_DIRFLAGS)) == -1)
		return ms_fail_errno(st, errstr, "cannot open the mailbox",
		    errno);
	for (i = 0; i < nitems(sub) && e == 0; i++)
		if (mkdirat(fd, sub[i], 0700) == -1 && errno != EEXIST)
			e = errno;
	if (e == 0 && ms_fsync_dir(fd) == -1)
		e = errno;
	(void)close(fd);
	if (e != 0)
		return ms_fail_errno(st, errstr, "cannot repair the mailbox",
		    e);
	log_warnx("mstore: %s: cur/, new/ or tmp/ was missing, made", canon);
	return 0;
}

/* Make canon and its missing parents; the store lock held. */
static int
create_locked(struct mstore *st, const char *canon, const char **errstr)
{
	struct dirlist	 d;
	char		 part[MSTORE_NAME_MAX + 1];
	const char	*dot;
	size_t		 missing = 0, len;
	int		 r;

	if (is_inbox(canon))
		return ms_fail(st, MSTORE_E_EXISTS, errstr,
		    "INBOX always exists");
	if (ms_list_dirs(st, &d, SIZE_MAX) == -1)
		return ms_fail_errno(st, errstr, "cannot list the folders",
		    errno);
	if (dirlist_has(&d, canon)) {
		dirlist_free(&d);
		return ms_fail(st, MSTORE_E_EXISTS, errstr,
		    "mailbox already exists");
	}
	for (dot = canon;; dot++) {
		dot = strchr(dot, '.');
		len = dot != NULL ? (size_t)(dot - canon) : strlen(canon);
		memcpy(part, canon, len);
		part[len] = '\0';
		if (!is_inbox(part) && !dirlist_has(&d, part))
			missing++;
		if (dot == NULL)
			break;
	}
	if (d.n + missing > st->lim.max_folders) {
		dirlist_free(&d);
		return ms_fail(st, MSTORE_E_LIMIT, errstr,
		    "too many mailboxes");
	}
	dirlist_free(&d);
	for (dot = canon;; dot++) {
		dot = strchr(dot, '.');
		len = dot != NULL ? (size_t)(dot - canon) : strlen(canon);
		memcpy(part, canon, len);
		part[len] = '\0';
		if (!is_inbox(part)) {
			if ((r = create_one(st, part, 1, errstr)) == -1)
				return -1;
			if (r == 1 && dot == NULL)
				return ms_fail(st, MSTORE_E_EXISTS, errstr,
				    "mailbox already exists");
		}
		if (dot == NULL)
			return 0;
	}
}

int
mstore_create(struct mstore *st, const char *name, const char **errstr)
{
	char		 canon[MSTORE_NAME_MAX + 1];
	const char	*unused;
	int		 lfd, r;

	ms_begin(st, &errstr, &unused);
	if (!mstore_name_valid(name, canon, sizeof(canon)))
		return ms_fail(st, MSTORE_E_INVALID, errstr, E_NAME);
	if ((lfd = ms_lock_store(st, errstr)) == -1)
		return -1;
	r = create_locked(st, canon, errstr);
	ms_unlock_store(lfd);
	return r;
}

/* The folders at or below canon: "canon" itself and "canon.*". */
static int
ms_subtree(struct mstore *st, const char *canon, struct dirlist *out,
    int *self)
{
	struct dirlist	 d;
	size_t		 i, len = strlen(canon);

	memset(out, 0, sizeof(*out));
	*self = 0;
	if (ms_list_dirs(st, &d, SIZE_MAX) == -1)
		return -1;
	for (i = 0; i < d.n; i++) {
		if (strcmp(d.name[i], canon) == 0)
			*self = 1;
		else if (strncmp(d.name[i], canon, len) == 0 &&
		    d.name[i][len] == '.')
			dirlist_add(out, d.name[i]);
	}
	dirlist_free(&d);
	return 0;
}

int
mstore_delete(struct mstore *st, const char *name, const char **errstr)
{
	struct dirlist	 kids;
	char		 canon[MSTORE_NAME_MAX + 1];
	char		 dname[MSTORE_NAME_MAX + 2], tmp[160], unique[128];
	const char	*unused;
	int64_t		 bytes = 0, msgs = 0;
	int		 lfd, self, fd, r = -1;

	ms_begin(st, &errstr, &unused);
	if (!mstore_name_valid(name, canon, sizeof(canon)))
		return ms_fail(st, MSTORE_E_INVALID, errstr, E_NAME);
	if (is_inbox(canon))
		return ms_fail(st, MSTORE_E_INVALID, errstr,
		    "INBOX cannot be deleted");
	if ((lfd = ms_lock_store(st, errstr)) == -1)
		return -1;
	if (ms_subtree(st, canon, &kids, &self) == -1) {
		(void)ms_fail_errno(st, errstr, "cannot list the folders",
		    errno);
		goto out;
	}
	if (!self) {
		if (kids.n > 0)
			(void)ms_fail(st, MSTORE_E_HASCHILDREN, errstr,
			    "mailbox has children and no messages");
		else
			(void)ms_fail(st, MSTORE_E_NONEXISTENT, errstr,
			    E_NOFOLDER);
		goto out;
	}
	(void)dir_name(dname, sizeof(dname), canon);
	if ((fd = openat(st->rootfd, dname, MS_DIRFLAGS)) != -1) {
		if (quota_sum_dir(fd, "new", &bytes, &msgs) == -1 ||
		    quota_sum_dir(fd, "cur", &bytes, &msgs) == -1)
			bytes = msgs = 0;
		(void)close(fd);
	}
	/* Gone in one step for everyone; then removed at leisure. */
	ms_unique(st, unique, sizeof(unique));
	(void)snprintf(tmp, sizeof(tmp), "osms-del.%s", unique);
	if (ms_rename_noreplace(st->rootfd, dname, st->tmpfd, tmp) == -1) {
		(void)ms_fail_errno(st, errstr, "cannot delete the mailbox",
		    errno);
		goto out;
	}
	(void)ms_fsync_dir(st->rootfd);
	tree_remove(st->tmpfd, tmp, 3);
	if (msgs > 0)
		ms_quota_add(st, -bytes, -msgs);
	r = 0;
 out:
	dirlist_free(&kids);
	ms_unlock_store(lfd);
	return r;
}

/* INBOX: its messages (and keyword names) go to a new folder. */
static int
rename_inbox(struct mstore *st, const char *to, const char **errstr)
{
	static const char	*sub[] = { "new", "cur" };
	struct mbox		*in = NULL, *dst = NULL;
	struct dirent		*de;
	DIR			*dp;
	char			*kw;
	size_t			 i, kwlen;
	int			 fd, from, into, r = -1;

	if (create_locked(st, to, errstr) == -1)
		return -1;
	if ((in = mb_new(st, "INBOX", errstr)) == NULL ||
	    (dst = mb_new(st, to, errstr)) == NULL)
		goto out;
	if (mb_lock(in, errstr) == -1)
		goto out;
	if (ms_read_small(in->f.dirfd, KW_FILE, KW_FILE_MAX, &kw, &kwlen,
	    NULL) == 0) {
		(void)ms_write_file(dst->f.dirfd, dst->f.tmpfd, KW_FILE, kw,
		    kwlen, 1);
		free(kw);
	}
	for (i = 0; i < nitems(sub); i++) {
		from = i == 0 ? in->f.newfd : in->f.curfd;
		into = i == 0 ? dst->f.newfd : dst->f.curfd;
		if ((fd = openat(from, ".", MS_DIRFLAGS)) == -1 ||
		    (dp = fdopendir(fd)) == NULL) {
			if (fd != -1)
				(void)close(fd);
			(void)ms_fail_errno(st, errstr, "cannot read INBOX",
			    errno);
			goto unlock;
		}
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (ms_rename_noreplace(from, de->d_name, into,
			    de->d_name) == -1 && errno != ENOENT)
				log_warn("mstore: INBOX rename: %s",
				    de->d_name);
		}
		(void)closedir(dp);
		(void)ms_fsync_dir(into);
		(void)ms_fsync_dir(from);
	}
	r = 0;
 unlock:
	mb_unlock(in);
 out:
	mb_free(in);
	mb_free(dst);
	return r;
}

int
mstore_rename(struct mstore *st, const char *from, const char *to,
    const char **errstr)
{
	struct dirlist	 kids, tkids;
	char		 cfrom[MSTORE_NAME_MAX + 1];
	char		 cto[MSTORE_NAME_MAX + 1];
	char		 a[MSTORE_NAME_MAX + 2], b[MSTORE_NAME_MAX + 2];
	char		 c[MSTORE_NAME_MAX + 1];
	const char	*unused;
	size_t		 i, done = 0, flen;
	int		 lfd, self, tself, r = -1;

	ms_begin(st, &errstr, &unused);
	if (!mstore_name_valid(from, cfrom, sizeof(cfrom)) ||
	    !mstore_name_valid(to, cto, sizeof(cto)))
		return ms_fail(st, MSTORE_E_INVALID, errstr, E_NAME);
	flen = strlen(cfrom);
	if (is_inbox(cto) || strcmp(cfrom, cto) == 0)
		return ms_fail(st, MSTORE_E_EXISTS, errstr,
		    "mailbox already exists");
	if (strncmp(cto, cfrom, flen) == 0 && cto[flen] == '.' &&
	    !is_inbox(cfrom))
		return ms_fail(st, MSTORE_E_INVALID, errstr,
		    "cannot rename a mailbox into itself");
	if ((lfd = ms_lock_store(st, errstr)) == -1)
		return -1;
	if (is_inbox(cfrom)) {
		r = rename_inbox(st, cto, errstr);
		ms_unlock_store(lfd);
		return r;
	}
	memset(&kids, 0, sizeof(kids));
	memset(&tkids, 0, sizeof(tkids));
	if (ms_subtree(st, cfrom, &kids, &self) == -1 ||
	    ms_subtree(st, cto, &tkids, &tself) == -1) {
		(void)ms_fail_errno(st, errstr, "cannot list the folders",
		    errno);
		goto out;
	}
	if (!self && kids.n == 0) {
		(void)ms_fail(st, MSTORE_E_NONEXISTENT, errstr, E_NOFOLDER);
		goto out;
	}
	if (tself || tkids.n > 0) {
		(void)ms_fail(st, MSTORE_E_EXISTS, errstr,
		    "mailbox already exists");
		goto out;
	}
	/* Every new name must be valid before anything moves. */
	for (i = 0; i < kids.n; i++)
		if (osms_snprintf(c, sizeof(c), "%s%s", cto,
		    kids.name[i] + flen) == -1 ||
		    !mstore_name_valid(c, NULL, 0)) {
			(void)ms_fail(st, MSTORE_E_INVALID, errstr,
			    "a child's new name is too long");
			goto out;
		}
	if (self) {
		(void)dir_name(a, sizeof(a), cfrom);
		(void)dir_name(b, sizeof(b), cto);
		if (ms_rename_noreplace(st->rootfd, a, st->rootfd, b) == -1) {
			(void)ms_fail_errno(st, errstr, "cannot rename the "
			    "mailbox", errno);
			goto out;
		}
	}
	for (done = 0; done < kids.n; done++) {
		(void)snprintf(a, sizeof(a), ".%s", kids.name[done]);
		(void)snprintf(b, sizeof(b), ".%s%s", cto,
		    kids.name[done] + flen);
		if (ms_rename_noreplace(st->rootfd, a, st->rootfd, b) == -1) {
			(void)ms_fail_errno(st, errstr, "cannot rename a "
			    "child mailbox", errno);
			goto undo;
		}
	}
	(void)ms_fsync_dir(st->rootfd);
	r = 0;
	goto out;

 undo:
	while (done-- > 0) {
		(void)snprintf(a, sizeof(a), ".%s", kids.name[done]);
		(void)snprintf(b, sizeof(b), ".%s%s", cto,
		    kids.name[done] + flen);
		(void)renameat(st->rootfd, b, st->rootfd, a);
	}
	if (self) {
		(void)dir_name(a, sizeof(a), cfrom);
		(void)dir_name(b, sizeof(b), cto);
		(void)renameat(st->rootfd, b, st->rootfd, a);
	}
 out:
	dirlist_free(&kids);
	dirlist_free(&tkids);
	ms_unlock_store(lfd);
	return r;
}

static int
subscribe_locked(struct mstore *st, const char *canon, int on,
    const char **errstr)
{
	struct dirlist	 d;
	size_t		 i;
	int		 r = 0, changed = 0;

	if (sub_read(st, &d) == -1)
		return ms_fail_errno(st, errstr, "cannot read " SUB_FILE,
		    errno);
	for (i = 0; i < d.n; i++)
		if (strcmp(d.name[i], canon) == 0)
			break;
	if (on && i == d.n) {
		if (d.n >= SUB_MAX)
			r = ms_fail(st, MSTORE_E_LIMIT, errstr,
			    "too many subscriptions");
		else {
			dirlist_add(&d, canon);
			changed = 1;
		}
	} else if (!on && i < d.n) {
		free(d.name[i]);
		d.name[i] = d.name[--d.n];
		changed = 1;
	}
	if (changed && sub_write(st, &d, 1) == -1)
		r = ms_fail_errno(st, errstr, "cannot write " SUB_FILE,
		    errno);
	dirlist_free(&d);
	return r;
}

/* Subscribe to folders (the store lock held): one write, not synced. */
static int
subscribe_many(struct mstore *st, const char **canon, size_t n,
    const char **errstr)
{
	struct dirlist	 d;
	size_t		 k;
	int		 r = 0, changed = 0;

	if (sub_read(st, &d) == -1)
		return ms_fail_errno(st, errstr, "cannot read " SUB_FILE,
		    errno);
	for (k = 0; k < n && r == 0; k++) {
		if (dirlist_has(&d, canon[k]))
			continue;
		if (d.n >= SUB_MAX)
			r = ms_fail(st, MSTORE_E_LIMIT, errstr,
			    "too many subscriptions");
		else {
			dirlist_add(&d, canon[k]);
			changed = 1;
		}
	}
	if (changed && r == 0 && sub_write(st, &d, 0) == -1)
		r = ms_fail_errno(st, errstr, "cannot write " SUB_FILE,
		    errno);
	dirlist_free(&d);
	return r;
}

int
mstore_subscribe(struct mstore *st, const char *name, int on,
    const char **errstr)
{
	char		 canon[MSTORE_NAME_MAX + 1];
	const char	*unused;
	int		 lfd, r;

	ms_begin(st, &errstr, &unused);
	if (!mstore_name_valid(name, canon, sizeof(canon)))
		return ms_fail(st, MSTORE_E_INVALID, errstr, E_NAME);
	if ((lfd = ms_lock_store(st, errstr)) == -1)
		return -1;
	r = subscribe_locked(st, canon, on, errstr);
	ms_unlock_store(lfd);
	return r;
}

int
mstore_special_create(struct mstore *st, const char **errstr)
{
	static const char	*names[] = {
		"Drafts", "Sent", "Trash", "Junk", "Archive",
	};
	const char		*unused, *made[nitems(names)];
	size_t			 i, nmade = 0;
	int			 lfd, r = 0;

	ms_begin(st, &errstr, &unused);
	if ((lfd = ms_lock_store(st, errstr)) == -1)
		return -1;
	/*
	 * The first login makes them all, without a sync: what a crash
	 * loses, the next login makes again (a folder left without its
	 * subdirectories is mended), so the login waits for no disk.
	 */
	for (i = 0; i < nitems(names) && r == 0; i++) {
		if (ms_selectable(st, names[i]))
			continue;
		if ((r = create_one(st, names[i], 0, errstr)) == 1)
			r = repair_one(st, names[i], errstr);
		made[nmade++] = names[i];
	}
	if (nmade > 0 && r == 0)
		r = subscribe_many(st, made, nmade, errstr);
	ms_unlock_store(lfd);
	return r;
}

int
mstore_status(struct mstore *st, const char *name, struct mbox_status *s,
    const char **errstr)
{
	struct mbox		*mb;
	const struct mbox_msg	*m;
	const char		*unused;
	size_t			 i;

	ms_begin(st, &errstr, &unused);
	memset(s, 0, sizeof(*s));
	if ((mb = mbox_open(st, name, 1, errstr)) == NULL)
		return -1;
	s->messages = (uint32_t)mb->n;
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		if (!(m->flags & MBOX_SEEN))
			s->unseen++;
		if (m->flags & MBOX_DELETED)
			s->deleted++;
		s->size += m->wire_size;
	}
	for (i = 0; i < mb->st.n; i++)
		if (mb->st.e[i].innew)
			s->recent++;
	s->uidnext = mb->uidnext;
	s->uidvalidity = mb->uidvalidity;
	s->highestmodseq = mb->highest;
	mbox_close(mb);
	return 0;
}

int
mstore_quota(struct mstore *st, uint64_t *bytes, uint64_t *msgs,
    const char **errstr)
{
	const char	*unused;
	int64_t		 b, m;

	ms_begin(st, &errstr, &unused);
	*bytes = *msgs = 0;
	if (!quota_set(st)) {
		if (quota_recalc(st, &b, &m) == -1)
			return ms_fail_errno(st, errstr, "cannot count the "
			    "quota", errno);
	} else if (quota_used(st, &b, &m, errstr) == -1)
		return -1;
	*bytes = (uint64_t)b;
	*msgs = (uint64_t)m;
	return 0;
}

int
mstore_pop3_lock(struct mstore *st)
{
	int	 fd;

	st->err = MSTORE_E_NONE;
	if (st->pop3fd != -1)
		return 0;
	if ((fd = ms_open_lock(st->rootfd, POP3_LOCK)) == -1) {
		st->err = MSTORE_E_IO;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		st->err = errno == EWOULDBLOCK ? MSTORE_E_INUSE : MSTORE_E_IO;
		(void)close(fd);
		return -1;
	}
	st->pop3fd = fd;
	return 0;
}

void
mstore_pop3_unlock(struct mstore *st)
{
	ms_close(&st->pop3fd);
}
