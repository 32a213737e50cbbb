/*
 * The mail store (lib/mail/mstore.c), in a mkdtemp directory:
 *	root/		what delivery sees (its rootfd)
 *	root/u/		the user's store (mstore's rootfd): INBOX
 *	outside/	where planted links point; must stay empty
 * Hostile cases first: names, planted files, broken files on disk; then
 * folders, UIDs, flags, MODSEQs, two sessions, crashes, APPEND, COPY,
 * MOVE, quota, keywords, the cache, and a folder of 100,000 messages.
 * Each case checks that no descriptor leaks.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"
#include "mstore.h"
#include "test.h"
#include "util.h"

#ifdef __SANITIZE_ADDRESS__
#define BIG_SLOW	10	/* bounds are loose under ASan */
#else
#define BIG_SLOW	1
#endif
#define BIG_N		100000

static char	 topdir[] = "/tmp/test-mstore.XXXXXX";
static char	 rootdir[64];
static char	 userdir[80];
static char	 outdir[64];
static int	 rootfd = -1;	/* root/: delivery's */
static int	 ufd = -1;	/* root/u: the store's */
static int	 fds_before;

static int
fd_count(void)
{
	DIR		*dp;
	struct dirent	*de;
	int		 n = 0;

	if ((dp = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(dp);
	return n;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0)
		return 0;
	return remove(path) == -1 ? -1 : 0;
}

static void
empty_dir(const char *dir)
{
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1) {
		perror(dir);
		exit(2);
	}
}

static void
begin(const char *name)
{
	test_begin(name);
	if (ufd != -1)
		(void)close(ufd);
	empty_dir(rootdir);
	empty_dir(outdir);
	if (mkdir(userdir, 0700) == -1 ||
	    (ufd = open(userdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		perror(userdir);
		exit(2);
	}
	(void)alarm(120);	/* a FIFO opened by mistake hangs */
	fds_before = fd_count();
}

static void
end(void)
{
	int	 n = fd_count();

	test_assert(n == fds_before);
	if (n != fds_before)
		(void)printf("# %d descriptors, %d before\n", n, fds_before);
	test_end();
}

static struct mstore *
store(uint64_t qbytes, uint64_t qmsgs, size_t maxf, size_t maxm)
{
	struct mstore_limits	 lim;
	struct mstore		*st;
	const char		*e = NULL;

	memset(&lim, 0, sizeof(lim));
	lim.quota_bytes = qbytes;
	lim.quota_messages = qmsgs;
	lim.max_folders = maxf;
	lim.max_messages_per_folder = maxm;
	if ((st = mstore_open(ufd, &lim, &e)) == NULL) {
		(void)printf("# mstore_open: %s\n", e);
		exit(2);
	}
	return st;
}

/* A message file holding s, offset left at 0. */
static int
msg_fd(const char *s)
{
	size_t	 len = strlen(s);
	int	 fd;

	if ((fd = open(topdir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600)) == -1 ||
	    (len > 0 && write(fd, s, len) != (ssize_t)len) ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		perror("msg_fd");
		exit(2);
	}
	return fd;
}

static uint32_t
append(struct mstore *st, const char *folder, const char *msg,
    unsigned flags, time_t date)
{
	const char	*e = NULL;
	uint32_t	 uv, uid;
	int		 fd = msg_fd(msg), r;

	r = mbox_append(st, folder, fd, flags, NULL, 0, date, &uv, &uid, &e);
	(void)close(fd);
	if (r == -1)
		(void)printf("# append to %s: %s\n", folder, e);
	test_assert(r == 0 && uv != 0 && uid != 0);
	return r == 0 ? uid : 0;
}

static void
put_str(const char *rel, const char *s)
{
	test_put_file(ufd, rel, s, strlen(s));
}

/* The content of message idx, through mbox_open_message. */
static char *
msg_text(struct mbox *mb, size_t idx)
{
	struct stat	 sb;
	char		*buf;
	int		 fd;

	if ((fd = mbox_open_message(mb, idx)) == -1)
		return NULL;
	if (fstat(fd, &sb) == -1 || (buf = malloc((size_t)sb.st_size +
	    1)) == NULL || read(fd, buf, (size_t)sb.st_size) != sb.st_size)
		exit(2);
	buf[sb.st_size] = '\0';
	(void)close(fd);
	return buf;
}

static int
msg_is(struct mbox *mb, size_t idx, const char *s)
{
	char	*t = msg_text(mb, idx);
	int	 ok = t != NULL && strcmp(t, s) == 0;

	if (!ok)
		(void)printf("# message %zu: \"%s\"\n", idx, t ? t : "(none)");
	free(t);
	return ok;
}

static int
entries_at(int dirfd, const char *rel)
{
	DIR		*dp;
	struct dirent	*de;
	int		 fd, n = 0;

	if ((fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((dp = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	(void)closedir(dp);
	return n;
}

static int
entries(const char *rel)
{
	return entries_at(ufd, rel);
}

/* The one entry of dir (below the store) starting with prefix. */
static int
find_entry(const char *dir, const char *prefix, char *out, size_t size)
{
	DIR		*dp;
	struct dirent	*de;
	int		 fd, n = 0;

	if ((fd = openat(ufd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (dp = fdopendir(fd)) == NULL)
		exit(2);
	while ((de = readdir(dp)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			(void)snprintf(out, size, "%s/%s", dir, de->d_name);
			n++;
		}
	(void)closedir(dp);
	return n == 1;
}

static int
is_dir(const char *rel)
{
	struct stat	 sb;

	return fstatat(ufd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(sb.st_mode);
}

static double
now_s(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct mbox *
open_box(struct mstore *st, const char *name, int ro)
{
	struct mbox	*mb;
	const char	*e = NULL;

	if ((mb = mbox_open(st, name, ro, &e)) == NULL)
		(void)printf("# open %s: %s\n", name, e);
	return mb;
}

static int
sync_ok(struct mbox *mb, struct mbox_sync *s)
{
	const char	*e = NULL;
	int		 r = mbox_sync(mb, s, &e);

	if (r == -1)
		(void)printf("# sync: %s\n", e);
	return r == 0;
}

static unsigned
folder_flags(struct mstore *st, const char *name, int *found)
{
	struct mstore_folder	*l;
	size_t			 n, i;
	unsigned		 f = 0;

	*found = 0;
	if (mstore_folders(st, &l, &n, NULL) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(l[i].name, name) == 0) {
			f = l[i].flags;
			(*found)++;
		}
	free(l);
	return f;
}

/* ---- hostile names and files ---- */

static void
test_names(void)
{
	char		 name[400], canon[MSTORE_NAME_MAX + 1];
	const char	*bad[] = {
		"", ".", "..", "a/b", "/a", "INBOX.", ".x", "x.", "a..b",
		"a\x01" "b", "a\tb", "a\nb", "a\x7f", "a*", "a%", "a\xc3\xa9",
		"&", "&-x&", "&AGE-", "&2D3-", "&3AA-", "&2D0AYQ-", "&AP-",
		"&APw", "&APwA-", "&Jjo!-", "../etc", "INBOX/../x",
	};
	const struct {
		const char	*in;
		const char	*canon;
	} good[] = {
		{ "INBOX", "INBOX" },
		{ "inbox", "INBOX" },
		{ "InBoX.Sub", "INBOX.Sub" },
		{ "a.b.c", "a.b.c" },
		{ "&-", "&-" },
		{ "Entw&APw-rfe", "Entw&APw-rfe" },
		{ "&ZeVnLIqe-", "&ZeVnLIqe-" },
		{ "a b", "a b" },
		{ "Inboxes", "Inboxes" },
	};
	struct mstore	*st;
	struct mbox	*mb;
	const char	*e;
	uint32_t	 uv, uid;
	size_t		 i;
	int		 fd, n0;

	begin("mstore: hostile folder names are refused, nothing is made");
	st = store(0, 0, 0, 0);
	n0 = entries(".");
	for (i = 0; i < nitems(bad); i++) {
		test_assert(!mstore_name_valid(bad[i], canon, sizeof(canon)));
		e = NULL;
		test_assert(mstore_create(st, bad[i], &e) == -1 &&
		    mstore_error(st) == MSTORE_E_INVALID && e != NULL);
		test_assert(mbox_open(st, bad[i], 0, NULL) == NULL &&
		    mstore_error(st) == MSTORE_E_INVALID);
		test_assert(mstore_delete(st, bad[i], NULL) == -1);
		test_assert(mstore_rename(st, bad[i], "x", NULL) == -1);
		test_assert(mstore_rename(st, "INBOX", bad[i], NULL) == -1);
		test_assert(mstore_subscribe(st, bad[i], 1, NULL) == -1);
		fd = msg_fd("x\n");
		test_assert(mbox_append(st, bad[i], fd, 0, NULL, 0, 0, &uv,
		    &uid, NULL) == -1 && mstore_error(st) ==
		    MSTORE_E_INVALID);
		(void)close(fd);
	}
	test_assert(!mstore_name_valid(NULL, NULL, 0));
	/* 300 bytes, 17 levels; 200 bytes and 16 levels pass. */
	memset(name, 'a', 300);
	name[300] = '\0';
	test_assert(!mstore_name_valid(name, NULL, 0));
	test_assert(mstore_create(st, name, NULL) == -1);
	name[MSTORE_NAME_MAX] = '\0';
	test_assert(mstore_name_valid(name, NULL, 0));
	name[MSTORE_NAME_MAX + 1] = '\0';
	name[MSTORE_NAME_MAX] = 'a';
	test_assert(!mstore_name_valid(name, NULL, 0));
	(void)snprintf(name, sizeof(name), "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a");
	test_assert(mstore_name_valid(name, NULL, 0));
	(void)strcat(name, ".a");
	test_assert(!mstore_name_valid(name, NULL, 0));
	test_assert(entries(".") == n0);

	for (i = 0; i < nitems(good); i++) {
		test_assert(mstore_name_valid(good[i].in, canon,
		    sizeof(canon)) && strcmp(canon, good[i].canon) == 0);
		/* Too small a buffer for the canonical name. */
		test_assert(!mstore_name_valid(good[i].in, canon,
		    strlen(good[i].in)));
	}
	/* "inbox" is INBOX: no ".inbox" directory, no second INBOX. */
	test_assert(mstore_create(st, "inbox", NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_EXISTS);
	test_assert(mstore_create(st, "inbox.Sub", NULL) == 0);
	test_assert(is_dir(".INBOX.Sub") && !is_dir(".inbox.Sub"));
	test_assert((mb = mbox_open(st, "iNbOx", 0, NULL)) != NULL);
	test_assert(mb != NULL && strcmp(mbox_name(mb), "INBOX") == 0);
	mbox_close(mb);
	mstore_close(st);
	end();
}

static void
test_hostile_files(void)
{
	char		 to[PATH_MAX];
	struct mstore	*st;
	struct mbox	*mb;
	int		 found, outfd;

	begin("mstore: planted links, FIFOs and odd files (I2)");
	if ((outfd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		exit(2);
	st = store(0, 0, 0, 0);
	/* A folder that is a link to a Maildir outside. */
	if (mkdirat(outfd, "cur", 0700) == -1 ||
	    mkdirat(outfd, "new", 0700) == -1 ||
	    mkdirat(outfd, "tmp", 0700) == -1)
		exit(2);
	(void)snprintf(to, sizeof(to), "%s", outdir);
	if (symlinkat(to, ufd, ".Evil") == -1)
		exit(2);
	(void)folder_flags(st, "Evil", &found);
	test_assert(found == 0);
	test_assert(mbox_open(st, "Evil", 0, NULL) == NULL &&
	    mstore_error(st) == MSTORE_E_NONEXISTENT);
	test_assert(append(st, "INBOX", "x\n", 0, 0) != 0);
	{
		int	 fd = msg_fd("y\n");
		uint32_t uv, uid;

		test_assert(mbox_append(st, "Evil", fd, 0, NULL, 0, 0, &uv,
		    &uid, NULL) == -1);
		(void)close(fd);
	}
	test_assert(entries_at(outfd, "new") == 0 &&
	    entries_at(outfd, "cur") == 0 && entries_at(outfd, "tmp") == 0);
	/* A directory with a bad name is not listed. */
	if (mkdirat(ufd, ".bad..name", 0700) == -1)
		exit(2);
	(void)folder_flags(st, "bad..name", &found);
	test_assert(found == 0);

	/* Our files as links and FIFOs: replaced, never followed. */
	(void)unlinkat(ufd, "osms-uidlist", 0);
	(void)unlinkat(ufd, "osms-index", 0);
	(void)unlinkat(ufd, "osms-keywords", 0);
	(void)unlinkat(ufd, "osms-cache", 0);
	if (symlinkat(to, ufd, "osms-uidlist") == -1 ||
	    mkfifoat(ufd, "osms-index", 0600) == -1 ||
	    mkfifoat(ufd, "osms-keywords", 0600) == -1 ||
	    symlinkat("/etc/passwd", ufd, "osms-cache") == -1)
		exit(2);
	test_assert((mb = open_box(st, "INBOX", 0)) != NULL);
	test_assert(mb != NULL && mbox_count(mb) == 1);
	test_assert(mb != NULL && mbox_cache_put(mb, mbox_msg(mb, 0)->uid,
	    MBOX_CACHE_ENVELOPE, "env", 3) == 0);
	mbox_close(mb);
	{
		struct stat sb;

		test_assert(fstatat(ufd, "osms-uidlist", &sb,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode));
		test_assert(fstatat(ufd, "osms-index", &sb,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode));
		test_assert(fstatat(ufd, "osms-cache", &sb,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode));
	}
	/* Links, directories and bad names in cur/ are no messages. */
	if (symlinkat("/etc/passwd", ufd, "cur/link:2,S") == -1 ||
	    mkdirat(ufd, "cur/dir", 0700) == -1)
		exit(2);
	put_str("cur/.hidden", "h\n");
	put_str("cur/bad\x01name", "b\n");
	put_str("new/ok", "ok\n");
	test_assert((mb = open_box(st, "INBOX", 0)) != NULL);
	test_assert(mb != NULL && mbox_count(mb) == 2);
	test_assert(mb != NULL && msg_is(mb, 1, "ok\n"));
	mbox_close(mb);
	/* One key three times (copies by hand): one message, the same
	 * file at every sync (cur/ first, then the first name). */
	put_str("cur/dup:2,S", "s\n");
	put_str("cur/dup:2,F", "f\n");
	put_str("new/dup", "n\n");
	test_assert((mb = open_box(st, "INBOX", 1)) != NULL);
	test_assert(mb != NULL && mbox_count(mb) == 3 &&
	    mbox_msg(mb, 2)->flags == MBOX_FLAGGED && msg_is(mb, 2, "f\n"));
	mbox_close(mb);
	test_assert(entries_at(outfd, ".") == 3);
	(void)close(outfd);
	mstore_close(st);
	end();
}

static void
test_bad_uidlists(void)
{
	const struct {
		const char	*file;
		int		 reset;		/* new UIDVALIDITY */
		size_t		 len;		/* 0: strlen */
	} cases[] = {
		{ "", 1, 0 },
		{ "garbage\n", 1, 0 },
		{ "osms-uidlist 2 5 1\n", 1, 0 },
		{ "osms-uidlist 1 0 1 ab\n", 1, 0 },
		{ "osms-uidlist 1 5 1\n", 1, 0 },
		{ "osms-uidlist 1 5 1 0ab\n", 1, 0 },
		{ "osms-uidlist 1 5 1 AB\n", 1, 0 },
		{ "osms-uidlist 1 5 1 12345678901234567\n", 1, 0 },
		{ "osms-uidlist 1 05 1 ab\n", 1, 0 },
		{ "osms-uidlist 1 5 1 ab\n2 b\n1 a\n", 1, 0 },
		{ "osms-uidlist 1 5 1 ab\n0 a\n", 1, 0 },
		{ "osms-uidlist 1 5 1 ab\n4294967295 a\n", 1, 0 },
		{ "osms-uidlist 1 5 1 ab\n1 a/b\n", 1, 0 },
		{ "osms-uidlist 1 5 1 ab\n1 .a\n", 1, 0 },
		{ "osms-uidlist 1 5 1 ab\n1 a\0\n", 1, 27 },
		{ "osms-uidlist 1 5 1 ab\n1 a:2,S\n", 1, 0 },
		/* Fine: an odd key (" a": "a" is new), a torn tail, an
		 * unknown "-uid", a key given a new UID. */
		{ "osms-uidlist 1 5 1 ab\n1  a\n", 0, 0 },
		{ "osms-uidlist 1 5 1 ab\n1 a\n2 b\n3 c", 0, 0 },
		{ "osms-uidlist 1 5 1 ab\n1 a\n-77\n2 b\n", 0, 0 },
		{ "osms-uidlist 1 5 9 ab\n1 a\n2 b\n7 a\n", 0, 0 },
	};
	struct mstore	*st;
	struct mbox	*mb;
	char		 big[600];
	size_t		 i, j, len;

	begin("mstore: broken uidlists: a new UIDVALIDITY, never a crash");
	st = store(0, 0, 0, 0);
	for (i = 0; i < nitems(cases); i++) {
		empty_dir(userdir);
		mstore_close(st);
		st = store(0, 0, 0, 0);
		put_str("cur/a", "a\n");
		put_str("cur/b", "b\n");
		len = strlen(cases[i].file);
		if (cases[i].len != 0)
			len = cases[i].len;
		test_put_file(ufd, "osms-uidlist", cases[i].file, len);
		mb = open_box(st, "INBOX", 1);
		test_assert(mb != NULL);
		if (mb == NULL)
			continue;
		test_assert(mbox_count(mb) == 2);
		test_assert(((mbox_notes(mb) & MBOX_NOTE_UIDVALIDITY) != 0) ==
		    cases[i].reset);
		if (!cases[i].reset)
			test_assert(mbox_uidvalidity(mb) == 5);
		else
			test_assert(mbox_uidvalidity(mb) != 5);
		/* Ascending, below UIDNEXT, one per file. */
		for (j = 0; j < mbox_count(mb); j++) {
			test_assert(mbox_msg(mb, j)->uid < mbox_uidnext(mb));
			if (j > 0)
				test_assert(mbox_msg(mb, j - 1)->uid <
				    mbox_msg(mb, j)->uid);
		}
		if (i == nitems(cases) - 1) {
			/* "a" took UID 7; 1 is gone for good. */
			test_assert(mbox_msg(mb, 0)->uid == 2 &&
			    mbox_msg(mb, 1)->uid == 7);
			test_assert(mbox_uidnext(mb) == 9);
		}
		mbox_close(mb);
	}
	/* A line too long to be one. */
	empty_dir(userdir);
	mstore_close(st);
	st = store(0, 0, 0, 0);
	put_str("cur/a", "a\n");
	len = (size_t)snprintf(big, sizeof(big), "osms-uidlist 1 5 1 ab\n1 ");
	memset(big + len, 'k', sizeof(big) - len - 1);
	big[sizeof(big) - 2] = '\n';
	test_put_file(ufd, "osms-uidlist", big, sizeof(big) - 1);
	test_assert((mb = open_box(st, "INBOX", 0)) != NULL);
	test_assert(mb != NULL && (mbox_notes(mb) & MBOX_NOTE_UIDVALIDITY) &&
	    mbox_count(mb) == 1);
	mbox_close(mb);
	mstore_close(st);
	end();
}

/* ---- folders ---- */

static void
test_folders(void)
{
	struct mstore	*st;
	struct mbox	*mb;
	const char	*e;
	unsigned	 f;
	uint32_t	 uv;
	size_t		 i;
	int		 found;

	begin("mstore: create, list, delete, rename, subscribe folders");
	st = store(0, 0, 12, 0);
	test_assert(mstore_create(st, "a.b.c", NULL) == 0);
	test_assert(is_dir(".a") && is_dir(".a.b") && is_dir(".a.b.c"));
	test_assert(is_dir(".a.b.c/cur") && is_dir(".a.b.c/new") &&
	    is_dir(".a.b.c/tmp") && test_file_is(ufd, ".a.b.c/maildirfolder", ""));
	test_assert(entries("tmp") == 0);
	f = folder_flags(st, "INBOX", &found);
	test_assert(found == 1 && (f & MSTORE_F_HASNOCHILDREN));
	f = folder_flags(st, "a", &found);
	test_assert(found == 1 && f == MSTORE_F_HASCHILDREN);
	f = folder_flags(st, "a.b.c", &found);
	test_assert(found == 1 && f == MSTORE_F_HASNOCHILDREN);
	e = NULL;
	test_assert(mstore_create(st, "a.b", &e) == -1 &&
	    mstore_error(st) == MSTORE_E_EXISTS && e != NULL);
	test_assert(mstore_create(st, "INBOX", NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_EXISTS);

	/* A message in a.b.c, to follow it through the renames. */
	test_assert(append(st, "a.b.c", "deep\n", MBOX_SEEN, 0) == 1);
	test_assert((mb = open_box(st, "a.b.c", 1)) != NULL);
	uv = mb != NULL ? mbox_uidvalidity(mb) : 0;
	mbox_close(mb);

	/* a.b goes; a.b.c stays, a.b is its \Noselect parent. */
	test_assert(mstore_delete(st, "a.b", NULL) == 0);
	test_assert(!is_dir(".a.b") && is_dir(".a.b.c"));
	test_assert(entries("tmp") == 0);
	f = folder_flags(st, "a.b", &found);
	test_assert(found == 1 && (f & MSTORE_F_NOSELECT) &&
	    (f & MSTORE_F_NONEXISTENT) && (f & MSTORE_F_HASCHILDREN));
	test_assert(mstore_delete(st, "a.b", NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_HASCHILDREN);
	test_assert(mstore_delete(st, "zzz", NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_NONEXISTENT);
	test_assert(mstore_delete(st, "inbox", NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_INVALID);
	test_assert(mbox_open(st, "a.b", 0, NULL) == NULL &&
	    mstore_error(st) == MSTORE_E_NONEXISTENT);

	/* Rename a and its children. */
	test_assert(mstore_create(st, "x", NULL) == 0);
	test_assert(mstore_rename(st, "a", "x", NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_EXISTS);
	test_assert(mstore_rename(st, "a", "a.z", NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_INVALID);
	test_assert(mstore_rename(st, "nope", "y", NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_NONEXISTENT);
	test_assert(mstore_rename(st, "a", "INBOX", NULL) == -1);
	test_assert(mstore_rename(st, "a", "y.w", NULL) == 0);
	test_assert(!is_dir(".a") && !is_dir(".a.b.c"));
	test_assert(is_dir(".y.w") && is_dir(".y.w.b.c"));
	test_assert((mb = open_box(st, "y.w.b.c", 0)) != NULL);
	test_assert(mb != NULL && mbox_count(mb) == 1 &&
	    mbox_uidvalidity(mb) == uv && msg_is(mb, 0, "deep\n") &&
	    mbox_msg(mb, 0)->flags == MBOX_SEEN);
	mbox_close(mb);
	f = folder_flags(st, "y", &found);
	test_assert(found == 1 && (f & MSTORE_F_NONEXISTENT) &&
	    (f & MSTORE_F_HASCHILDREN));

	/* A child's new name that would be too long: nothing moves. */
	{
		char	 longname[MSTORE_NAME_MAX + 1];

		memset(longname, 'l', MSTORE_NAME_MAX - 2);
		longname[MSTORE_NAME_MAX - 2] = '\0';
		test_assert(mstore_rename(st, "y.w", longname, NULL) == -1);
		test_assert(is_dir(".y.w") && is_dir(".y.w.b.c"));
	}

	/* Subscriptions, also of names that do not exist. */
	test_assert(mstore_subscribe(st, "x", 1, NULL) == 0);
	test_assert(mstore_subscribe(st, "gone.sub", 1, NULL) == 0);
	test_assert(mstore_subscribe(st, "x", 1, NULL) == 0);
	test_assert(mstore_subscribe(st, "inbox", 1, NULL) == 0);
	test_assert(test_file_is(ufd, "subscriptions", "x\ngone.sub\nINBOX\n"));
	f = folder_flags(st, "x", &found);
	test_assert(found == 1 && (f & MSTORE_F_SUBSCRIBED));
	f = folder_flags(st, "gone.sub", &found);
	test_assert(found == 1 && (f & MSTORE_F_SUBSCRIBED) &&
	    (f & MSTORE_F_NONEXISTENT));
	f = folder_flags(st, "gone", &found);
	test_assert(found == 0);
	test_assert(mstore_subscribe(st, "x", 0, NULL) == 0);
	test_assert(test_file_is(ufd, "subscriptions", "INBOX\ngone.sub\n"));
	f = folder_flags(st, "x", &found);
	test_assert(found == 1 && !(f & MSTORE_F_SUBSCRIBED));

	/* Special use folders, made once. */
	test_assert(mstore_special_create(st, NULL) == 0);
	test_assert(mstore_special_create(st, NULL) == 0);
	test_assert(folder_flags(st, "Drafts", &found) ==
	    (MSTORE_F_DRAFTS | MSTORE_F_SUBSCRIBED | MSTORE_F_HASNOCHILDREN)
	    && found == 1);
	test_assert((folder_flags(st, "Sent", &found) & MSTORE_F_SENT) &&
	    found == 1);
	test_assert((folder_flags(st, "Trash", &found) & MSTORE_F_TRASH));
	test_assert((folder_flags(st, "Junk", &found) & MSTORE_F_JUNK));
	test_assert((folder_flags(st, "Archive", &found) &
	    MSTORE_F_ARCHIVE));
	/* One cut short by a crash (its subdirectories lost) is mended. */
	test_assert(unlinkat(ufd, ".Junk/cur", AT_REMOVEDIR) == 0 &&
	    unlinkat(ufd, ".Junk/tmp", AT_REMOVEDIR) == 0);
	test_assert(mstore_special_create(st, NULL) == 0);
	mb = open_box(st, "Junk", 0);
	test_assert(mb != NULL);
	if (mb != NULL)
		mbox_close(mb);

	/* A directory without cur/ is \Noselect. */
	if (mkdirat(ufd, ".Plain", 0700) == -1)
		exit(2);
	f = folder_flags(st, "Plain", &found);
	test_assert(found == 1 && (f & MSTORE_F_NOSELECT) &&
	    !(f & MSTORE_F_NONEXISTENT));
	test_assert(mbox_open(st, "Plain", 0, NULL) == NULL &&
	    mstore_error(st) == MSTORE_E_NONEXISTENT);

	/* The limit of folders (12 here). */
	for (i = 0; i < 20 && mstore_create(st, (char[]){ 'f', (char)('a' +
	    i), '\0' }, NULL) == 0; i++)
		;
	test_assert(mstore_error(st) == MSTORE_E_LIMIT);
	test_assert(i < 20);
	test_assert(entries("tmp") == 0);
	mstore_close(st);
	end();
}

static void
test_inbox_rename(void)
{
	struct mstore	*st;
	struct mbox	*mb;
	int		 bit;

	begin("mstore: renaming INBOX moves its messages, INBOX stays");
	st = store(0, 0, 0, 0);
	test_assert(mstore_create(st, "INBOX.kid", NULL) == 0);
	test_assert(append(st, "INBOX", "one\n", 0, 0) == 1);
	test_assert(append(st, "INBOX", "two\n", MBOX_FLAGGED, 0) == 2);
	test_assert((mb = open_box(st, "INBOX", 0)) != NULL);
	if (mb == NULL)
		exit(2);
	bit = mbox_keyword_bit(mb, "$Work", 1);
	test_assert(bit == 0);
	test_assert(mbox_store(mb, (size_t[]){ 0 }, 1, MBOX_FLAGS_ADD, 0,
	    1u << bit, 0, NULL, NULL, NULL) == 0);
	mbox_close(mb);
	put_str("new/three", "three\n");
	test_assert(mstore_rename(st, "INBOX", "Old", NULL) == 0);
	test_assert((mb = open_box(st, "INBOX", 0)) != NULL);
	test_assert(mb != NULL && mbox_count(mb) == 0 &&
	    mbox_uidnext(mb) >= 3);
	mbox_close(mb);
	test_assert(is_dir(".INBOX.kid") && !is_dir(".Old.kid"));
	test_assert((mb = open_box(st, "Old", 0)) != NULL);
	if (mb == NULL)
		exit(2);
	test_assert(mbox_count(mb) == 3);
	test_assert(msg_is(mb, 0, "one\n") && msg_is(mb, 1, "two\n") &&
	    msg_is(mb, 2, "three\n"));
	test_assert(mbox_msg(mb, 0)->keywords == 1 &&
	    mbox_keyword_name(mb, 0) != NULL &&
	    strcmp(mbox_keyword_name(mb, 0), "$Work") == 0);
	test_assert(mbox_msg(mb, 1)->flags == MBOX_FLAGGED);
	mbox_close(mb);
	mstore_close(st);
	end();
}

/* ---- UIDs ---- */

static void
test_uids(void)
{
	struct mstore		*st;
	struct mbox		*mb;
	struct mbox_sync	 s;
	const struct mbox_msg	*m;
	char			 path[PATH_MAX];
	uint32_t		 uv;
	size_t			 i;

	begin("mstore: UIDs in order, stable, and for files dropped by hand");
	st = store(0, 0, 0, 0);
	for (i = 0; i < 5; i++) {
		char	 body[16];

		(void)snprintf(body, sizeof(body), "m%zu\r\n", i);
		test_assert(append(st, "INBOX", body, 0, 0) == i + 1);
	}
	test_assert((mb = open_box(st, "INBOX", 0)) != NULL);
	if (mb == NULL)
		exit(2);
	uv = mbox_uidvalidity(mb);
	test_assert(mbox_count(mb) == 5 && mbox_uidnext(mb) == 6);
	for (i = 0; i < 5; i++) {
		char	 body[16];

		(void)snprintf(body, sizeof(body), "m%zu\n", i);
		test_assert(mbox_msg(mb, i)->uid == i + 1);
		test_assert(msg_is(mb, i, body));
		test_assert(mbox_find_uid(mb, (uint32_t)i + 1) == i);
		/* Stored with LF; RFC822.SIZE counts CRLF. */
		test_assert(mbox_msg(mb, i)->size == 3 &&
		    mbox_msg(mb, i)->wire_size == 4);
	}
	test_assert(mbox_find_uid(mb, 6) == (size_t)-1);
	test_assert(mbox_msg(mb, 5) == NULL);
	mbox_close(mb);

	/* Close and open: the same. */
	test_assert((mb = open_box(st, "INBOX", 0)) != NULL);
	test_assert(mb != NULL && mbox_uidvalidity(mb) == uv &&
	    mbox_count(mb) == 5 && mbox_msg(mb, 4)->uid == 5);
	if (mb == NULL)
		exit(2);

	/* Dropped by hand, into new/ and into cur/, without sizes. */
	put_str("new/1700000000.hand1.host", "hand\none\n");
	put_str("cur/1700000001.hand2.host:2,SF", "hand two\r\n");
	test_assert(sync_ok(mb, &s));
	test_assert(s.exists == 7 && s.added == 2 && s.nexpunged == 0 &&
	    s.nchanged == 0);
	m = mbox_msg(mb, 5);
	test_assert(m != NULL && m->uid == 6 && m->flags == MBOX_RECENT &&
	    m->size == 9 && m->wire_size == 11);
	test_assert(msg_is(mb, 5, "hand\none\n"));
	m = mbox_msg(mb, 6);
	test_assert(m != NULL && m->uid == 7 &&
	    m->flags == (MBOX_SEEN | MBOX_FLAGGED) && m->size == 10 &&
	    m->wire_size == 11);
	test_assert(s.nrecent == 1);
	mbox_sync_free(&s);
	/* The one in new/ is in cur/ now. */
	test_assert(entries("new") == 0);
	test_assert(find_entry("cur", "1700000000.hand1.host:2,", path,
	    sizeof(path)));
	mbox_close(mb);
	test_assert((mb = open_box(st, "INBOX", 0)) != NULL);
	test_assert(mb != NULL && mbox_count(mb) == 7 &&
	    mbox_msg(mb, 5)->uid == 6 && mbox_msg(mb, 5)->flags == 0);
	mbox_close(mb);
	mstore_close(st);
	end();
}

static void
test_hand_rename(void)
{
	struct mstore		*st;
	struct mbox		*mb;
	struct mbox_sync	 s;
	char			 from[PATH_MAX], to[PATH_MAX];
	uint64_t		 ms, hms;

	begin("mstore: a rename by hand is a change, with a new MODSEQ");
	st = store(0, 0, 0, 0);
	(void)append(st, "INBOX", "a\n", MBOX_SEEN, 0);
	(void)append(st, "INBOX", "b\n", MBOX_SEEN, 0);
	test_assert((mb = open_box(st, "INBOX", 0)) != NULL);
	if (mb == NULL)
		exit(2);
	ms = mbox_msg(mb, 1)->modseq;
	hms = mbox_highestmodseq(mb);
	test_assert(ms > 0 && hms >= ms);
	test_assert(entries("cur") == 2);
	{
		/* The second message's file. */
		DIR		*dp = fdopendir(openat(ufd, "cur", O_RDONLY |
				    O_DIRECTORY | O_CLOEXEC));
		struct dirent	*de;
		char		 best[300] = "";

		if (dp == NULL)
			exit(2);
		while ((de = readdir(dp)) != NULL)
			if (de->d_name[0] != '.' &&
			    strcmp(de->d_name, best) > 0)
				(void)osms_strlcpy(best, de->d_name,
				    sizeof(best));
		(void)closedir(dp);
		(void)snprintf(from, sizeof(from), "cur/%s", best);
		(void)snprintf(to, sizeof(to), "cur/%.*sFS", (int)strlen(best) -
		    1, best);
	}
	if (renameat(ufd, from, ufd, to) == -1)
		exit(2);
	test_assert(sync_ok(mb, &s));
	test_assert(s.nchanged == 1 && s.changed[0] == 1 && s.added == 0);
	test_assert(mbox_msg(mb, 1)->flags == (MBOX_SEEN | MBOX_FLAGGED));
	test_assert(mbox_msg(mb, 1)->modseq > ms &&
	    mbox_highestmodseq(mb) > hms &&
	    mbox_highestmodseq(mb) == mbox_msg(mb, 1)->modseq);
	test_assert(mbox_msg(mb, 0)->modseq < mbox_msg(mb, 1)->modseq);
	mbox_sync_free(&s);
	/* Nothing more to tell. */
	test_assert(sync_ok(mb, &s));
	test_assert(s.nchanged == 0 && s.nexpunged == 0 && s.added == 0);
	mbox_sync_free(&s);
	/* Gone by hand: expunged at the next sync. */
	if (unlinkat(ufd, to, 0) == -1)
		exit(2);
	test_assert(sync_ok(mb, &s));
	test_assert(s.nexpunged == 1 && s.expunged[0] == 1 &&
	    s.expunged_uids[0] == 2 && s.exists == 1);
	test_assert(mbox_highestmodseq(mb) > mbox_msg(mb, 0)->modseq);
	mbox_sync_free(&s);
	mbox_close(mb);
	mstore_close(st);
	end();
}

static void
test_two_sessions(void)
{
	struct mstore		*st;
	struct mbox		*a, *b;
	struct mbox_sync	 s;
	size_t			 failed[4], nfailed;
	uint64_t		 before;
	char			*t;
	int			 fd;

	begin("mstore: two sessions see each other's appends, flags, expunges");
	st = store(0, 0, 0, 0);
	test_assert(mstore_create(st, "Box", NULL) == 0);
	(void)append(st, "Box", "one\n", 0, 0);
	(void)append(st, "Box", "two\n", 0, 0);
	a = open_box(st, "Box", 0);
	b = open_box(st, "Box", 0);
	if (a == NULL || b == NULL)
		exit(2);
	test_assert(mbox_count(a) == 2 && mbox_count(b) == 2);

	/* An APPEND shows up in both. */
	test_assert(append(st, "Box", "three\n", MBOX_DRAFT, 0) == 3);
	test_assert(sync_ok(b, &s) && s.added == 1 && s.exists == 3 &&
	    mbox_msg(b, 2)->uid == 3 && mbox_msg(b, 2)->flags == MBOX_DRAFT);
	mbox_sync_free(&s);

	/* Flags set in a: a change in b, with the same MODSEQ. */
	test_assert(mbox_store(a, (size_t[]){ 0, 1 }, 2, MBOX_FLAGS_ADD,
	    MBOX_SEEN, 0, 0, NULL, NULL, NULL) == 0);
	/* \Recent in a, which saw them first. */
	test_assert(mbox_msg(a, 0)->flags == (MBOX_SEEN | MBOX_RECENT) &&
	    mbox_msg(a, 1)->flags == (MBOX_SEEN | MBOX_RECENT));
	before = mbox_msg(b, 0)->modseq;
	/* b has not synced: its file was renamed, yet it is found. */
	test_assert(msg_is(b, 0, "one\n"));
	test_assert(sync_ok(b, &s));
	test_assert(s.nchanged == 2 && s.changed[0] == 0 &&
	    s.changed[1] == 1);
	test_assert(mbox_msg(b, 0)->flags == MBOX_SEEN &&
	    mbox_msg(b, 0)->modseq == mbox_msg(a, 0)->modseq &&
	    mbox_msg(b, 0)->modseq > before);
	/* a has not reported the APPEND: its HIGHESTMODSEQ waits. */
	test_assert(mbox_highestmodseq(b) > mbox_highestmodseq(a));
	mbox_sync_free(&s);
	/* a's own change is not news to a. */
	test_assert(sync_ok(a, &s) && s.nchanged == 0 && s.added == 1);
	mbox_sync_free(&s);
	test_assert(mbox_highestmodseq(b) == mbox_highestmodseq(a));

	/* REMOVE in b, to what the file says, not to b's view. */
	test_assert(mbox_store(b, (size_t[]){ 2 }, 1, MBOX_FLAGS_REMOVE,
	    MBOX_DRAFT, 0, 0, NULL, NULL, NULL) == 0);
	test_assert(mbox_msg(b, 2)->flags == 0);

	/* UNCHANGEDSINCE: b's MODSEQ of message 1 is old for a now. */
	before = mbox_msg(b, 1)->modseq;
	test_assert(mbox_store(a, (size_t[]){ 1 }, 1, MBOX_FLAGS_ADD,
	    MBOX_ANSWERED, 0, 0, NULL, NULL, NULL) == 0);
	nfailed = 99;
	test_assert(mbox_store(b, (size_t[]){ 0, 1 }, 2, MBOX_FLAGS_ADD,
	    MBOX_FLAGGED, 0, before, failed, &nfailed, NULL) == 0);
	test_assert(nfailed == 1 && failed[0] == 1);
	test_assert(mbox_msg(b, 0)->flags == (MBOX_SEEN | MBOX_FLAGGED));
	/* The view of message 1 in b is still the old one. */
	test_assert(mbox_msg(b, 1)->flags == MBOX_SEEN);
	test_assert(sync_ok(b, &s) && s.nchanged == 1 && s.changed[0] == 1 &&
	    mbox_msg(b, 1)->flags == (MBOX_SEEN | MBOX_ANSWERED));
	mbox_sync_free(&s);

	/* EXPUNGE in a; b still reads it until its sync (open file). */
	fd = mbox_open_message(b, 0);
	test_assert(fd != -1);
	test_assert(mbox_store(a, (size_t[]){ 0 }, 1, MBOX_FLAGS_ADD,
	    MBOX_DELETED, 0, 0, NULL, NULL, NULL) == 0);
	test_assert(mbox_expunge(a, NULL, 0, &s, NULL) == 0);
	test_assert(s.nexpunged == 1 && s.expunged[0] == 0 &&
	    s.expunged_uids[0] == 1 && s.exists == 2);
	mbox_sync_free(&s);
	test_assert(mbox_count(a) == 2 && mbox_msg(a, 0)->uid == 2);
	if (fd != -1) {
		char	 buf[8];

		test_assert(read(fd, buf, sizeof(buf)) == 4);
		(void)close(fd);
	}
	t = msg_text(b, 0);
	test_assert(t == NULL && errno == ENOENT);
	free(t);
	test_assert(mbox_count(b) == 3);
	test_assert(sync_ok(b, &s) && s.nexpunged == 1 && s.expunged[0] == 0 &&
	    s.expunged_uids[0] == 1 && mbox_count(b) == 2 &&
	    mbox_msg(b, 0)->uid == 2);
	mbox_sync_free(&s);
	/* UID EXPUNGE only takes \Deleted messages of its set. */
	test_assert(mbox_store(a, (size_t[]){ 0, 1 }, 2, MBOX_FLAGS_ADD,
	    MBOX_DELETED, 0, 0, NULL, NULL, NULL) == 0);
	test_assert(mbox_expunge(b, (uint32_t[]){ 3, 99 }, 2, &s, NULL) == 0);
	test_assert(s.nexpunged == 1 && s.expunged_uids[0] == 3 &&
	    mbox_count(b) == 1 && mbox_msg(b, 0)->uid == 2);
	mbox_sync_free(&s);
	test_assert(sync_ok(a, &s) && s.nexpunged == 1 && s.expunged[0] == 1);
	mbox_sync_free(&s);
	test_assert(mbox_highestmodseq(a) == mbox_highestmodseq(b));
	mbox_close(a);
	mbox_close(b);

	/* A read-only session cannot change anything. */
	a = open_box(st, "Box", 1);
	test_assert(a != NULL && mbox_store(a, (size_t[]){ 0 }, 1,
	    MBOX_FLAGS_ADD, MBOX_SEEN, 0, 0, NULL, NULL, NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_READONLY);
	test_assert(a != NULL && mbox_expunge(a, NULL, 0, NULL, NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_READONLY);
	test_assert(a != NULL && mbox_keyword_bit(a, "new", 1) == -1);
	mbox_close(a);
	mstore_close(st);
	end();
}

static enum maildir_result
deliver(const char *name, const char *msg)
{
	struct maildir_delivery	 d;
	enum maildir_result	 r;

	memset(&d, 0, sizeof(d));
	d.rootfd = rootfd;
	d.path = "u";
	d.name = name;
	d.msgfd = msg_fd(msg);
	r = maildir_deliver(&d, NULL, NULL);
	(void)close(d.msgfd);
	return r;
}

static void
test_recent(void)
{
	struct mstore		*st;
	struct mbox		*ro, *a, *b;
	struct mbox_sync	 s;
	struct mbox_status	 ss;

	begin("mstore: \\Recent for the first session that sees a message");
	st = store(0, 0, 0, 0);
	a = open_box(st, "INBOX", 0);
	b = open_box(st, "INBOX", 0);
	ro = open_box(st, "INBOX", 1);
	if (a == NULL || b == NULL || ro == NULL)
		exit(2);
	test_assert(deliver("Q1.alice", "Subject: hi\r\n\r\nbody\r\n") ==
	    MAILDIR_OK);
	/* EXAMINE sees it, without \Recent, and leaves it in new/. */
	test_assert(sync_ok(ro, &s) && s.added == 1 && s.nrecent == 0 &&
	    mbox_msg(ro, 0)->flags == 0);
	mbox_sync_free(&s);
	test_assert(entries("new") == 1);
	test_assert(mstore_status(st, "INBOX", &ss, NULL) == 0 &&
	    ss.messages == 1 && ss.recent == 1 && ss.unseen == 1 &&
	    ss.uidnext == 2 && ss.size == 21);
	/* Sizes from the name delivery gave it. */
	test_assert(mbox_msg(ro, 0)->size == 18 &&
	    mbox_msg(ro, 0)->wire_size == 21);
	test_assert(sync_ok(a, &s) && s.added == 1 && s.nrecent == 1 &&
	    (mbox_msg(a, 0)->flags & MBOX_RECENT));
	mbox_sync_free(&s);
	test_assert(entries("new") == 0);
	test_assert(sync_ok(b, &s) && s.added == 1 && s.nrecent == 0 &&
	    mbox_msg(b, 0)->flags == 0);
	mbox_sync_free(&s);
	/* Still \Recent in a after more syncs; the UID is the same. */
	test_assert(sync_ok(a, &s) && s.nrecent == 1);
	mbox_sync_free(&s);
	test_assert(mbox_msg(a, 0)->uid == mbox_msg(b, 0)->uid &&
	    mbox_msg(a, 0)->uid == mbox_msg(ro, 0)->uid);
	test_assert(sync_ok(ro, &s) && s.nchanged == 0);
	mbox_sync_free(&s);
	test_assert(mstore_status(st, "INBOX", &ss, NULL) == 0 &&
	    ss.recent == 0);
	/* A duplicate delivery of it is found where it is now. */
	{
		struct maildir_delivery	 d;

		memset(&d, 0, sizeof(d));
		d.rootfd = rootfd;
		d.path = "u";
		d.name = "Q1.alice";
		d.check_dup = 1;
		d.msgfd = msg_fd("Subject: hi\r\n\r\nbody\r\n");
		test_assert(maildir_deliver(&d, NULL, NULL) ==
		    MAILDIR_DUPLICATE);
		(void)close(d.msgfd);
	}
	mbox_close(a);
	mbox_close(b);
	mbox_close(ro);
	mstore_close(st);
	end();
}

/* ---- crashes ---- */

static void
die_hook(const char *point)
{
	if (strcmp(point, "uidlist-append") == 0)
		(void)raise(SIGKILL);
}

/* Every (uid, content) of INBOX, as "uid:content|..." */
static char *
snapshot(struct mstore *st, uint32_t *uv, uint32_t *next)
{
	struct mbox	*mb;
	char		*out, *t;
	size_t		 i, len = 0, cap = 4096;

	if ((mb = open_box(st, "INBOX", 1)) == NULL)
		exit(2);
	out = malloc(cap);
	out[0] = '\0';
	for (i = 0; i < mbox_count(mb); i++) {
		t = msg_text(mb, i);
		len += (size_t)snprintf(out + len, cap - len, "%u:%s|",
		    mbox_msg(mb, i)->uid, t ? t : "?");
		free(t);
	}
	*uv = mbox_uidvalidity(mb);
	*next = mbox_uidnext(mb);
	mbox_close(mb);
	return out;
}

static void
test_crash(void)
{
	struct mstore	*st;
	struct mbox	*mb;
	char		*before, *after, *buf;
	uint32_t	 uv, uv2, next, next2;
	size_t		 len;
	pid_t		 pid;
	int		 status;

	begin("mstore: a crash mid-append reuses and changes no UID");
	st = store(0, 0, 0, 0);
	(void)append(st, "INBOX", "a\n", 0, 0);
	(void)append(st, "INBOX", "b\n", 0, 0);
	before = snapshot(st, &uv, &next);
	(void)fflush(stdout);
	if ((pid = fork()) == -1)
		exit(2);
	if (pid == 0) {
		uint32_t	 u1, u2;
		int		 fd = msg_fd("crash\n");

		mstore_test_hook = die_hook;
		(void)mbox_append(st, "INBOX", fd, 0, NULL, 0, 0, &u1, &u2,
		    NULL);
		_exit(0);
	}
	test_assert(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGKILL);
	/* Half a line at the end. */
	buf = test_get_file(ufd, "osms-uidlist", &len);
	test_assert(buf != NULL && len > 0 && buf[len - 1] != '\n');
	free(buf);
	/* The lock died with the child; a and b are as before. */
	after = snapshot(st, &uv2, &next2);
	test_assert(uv2 == uv && next2 >= next);
	test_assert(strncmp(after, before, strlen(before)) == 0);
	test_assert(strstr(after, ":crash\n|") != NULL);
	/* Its UID is new: at or above the UIDNEXT seen before. */
	{
		char	*c = strstr(after, ":crash\n|"), *u = c;

		while (u > after && u[-1] != '|')
			u--;
		test_assert(c != NULL && strtoul(u, NULL, 10) >= next);
	}
	free(after);
	free(before);
	/* The next writer cut the torn line off. */
	buf = test_get_file(ufd, "osms-uidlist", &len);
	test_assert(buf != NULL && len > 0 && buf[len - 1] == '\n');
	free(buf);

	/* The same at a sync giving a UID to a file dropped in. */
	before = snapshot(st, &uv, &next);
	put_str("cur/1800000000.drop:2,", "dropped\n");
	(void)fflush(stdout);
	if ((pid = fork()) == -1)
		exit(2);
	if (pid == 0) {
		mstore_test_hook = die_hook;
		(void)mbox_open(st, "INBOX", 0, NULL);
		_exit(0);
	}
	test_assert(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	test_assert((mb = open_box(st, "INBOX", 0)) != NULL);
	test_assert(mb != NULL && (mbox_notes(mb) & MBOX_NOTE_UIDLIST_TORN));
	test_assert(mb != NULL && !(mbox_notes(mb) & MBOX_NOTE_UIDVALIDITY));
	mbox_close(mb);
	after = snapshot(st, &uv2, &next2);
	test_assert(uv2 == uv && next2 >= next &&
	    strncmp(after, before, strlen(before)) == 0 &&
	    strstr(after, ":dropped\n|") != NULL);
	free(after);
	free(before);

	/* Truncated mid-line by hand: the whole lines keep their UIDs. */
	before = snapshot(st, &uv, &next);
	buf = test_get_file(ufd, "osms-uidlist", &len);
	if (buf == NULL || len < 4)
		exit(2);
	test_put_file(ufd, "osms-uidlist", buf, len - 3);
	free(buf);
	after = snapshot(st, &uv2, &next2);
	test_assert(uv2 == uv && next2 >= next);
	/* The last message may get its UID again, the others keep theirs. */
	{
		char	*cut = strrchr(before, '|');

		*cut = '\0';
		cut = strrchr(before, '|');
		cut[1] = '\0';
	}
	test_assert(strncmp(after, before, strlen(before)) == 0);
	free(after);
	free(before);
	mstore_close(st);
	end();
}

static void
test_corrupt_index(void)
{
	struct mstore		*st;
	struct mbox		*mb, *other;
	struct mbox_sync	 s;
	char			*buf;
	uint64_t		 old;
	uint32_t		 uv;
	size_t			 len, i;
	int			 round;

	begin("mstore: a corrupt or lost index is rebuilt, MODSEQs go up");
	st = store(0, 0, 0, 0);
	(void)append(st, "INBOX", "a\n", MBOX_SEEN, 0);
	(void)append(st, "INBOX", "b\n", 0, 0);
	(void)append(st, "INBOX", "c\n", 0, 0);
	for (round = 0; round < 4; round++) {
		mb = open_box(st, "INBOX", 0);
		if (mb == NULL)
			exit(2);
		test_assert(!(mbox_notes(mb) & MBOX_NOTE_INDEX));
		old = mbox_highestmodseq(mb);
		uv = mbox_uidvalidity(mb);
		mbox_close(mb);
		buf = test_get_file(ufd, "osms-index", &len);
		if (buf == NULL || len != MSTORE_IX_HDR + 3 * MSTORE_IX_REC)
			exit(2);
		switch (round) {
		case 0:		/* a flipped bit in a record */
			buf[MSTORE_IX_HDR + MSTORE_IX_REC + 20] ^= 1;
			test_put_file(ufd, "osms-index", buf, len);
			break;
		case 1:		/* cut short */
			test_put_file(ufd, "osms-index", buf, 10);
			break;
		case 2:		/* the header */
			buf[30] ^= 0x40;
			test_put_file(ufd, "osms-index", buf, len);
			break;
		default:	/* gone: rebuilt without a note */
			(void)unlinkat(ufd, "osms-index", 0);
			break;
		}
		free(buf);
		mb = open_box(st, "INBOX", 0);
		if (mb == NULL)
			exit(2);
		test_assert(((mbox_notes(mb) & MBOX_NOTE_INDEX) != 0) ==
		    (round < 3));
		test_assert(mbox_uidvalidity(mb) == uv && mbox_count(mb) == 3);
		test_assert(mbox_highestmodseq(mb) > old);
		for (i = 0; i < 3; i++)
			test_assert(mbox_msg(mb, i)->modseq > old &&
			    mbox_msg(mb, i)->size == 2);
		test_assert(mbox_msg(mb, 0)->flags == MBOX_SEEN);
		mbox_close(mb);
	}

	/* A lost uidlist: a new UIDVALIDITY, and an open session must go. */
	other = open_box(st, "INBOX", 0);
	uv = other != NULL ? mbox_uidvalidity(other) : 0;
	(void)unlinkat(ufd, "osms-uidlist", 0);
	mb = open_box(st, "INBOX", 0);
	test_assert(mb != NULL && mbox_uidvalidity(mb) != uv &&
	    mbox_count(mb) == 3 && mbox_msg(mb, 2)->uid == 3);
	mbox_close(mb);
	test_assert(other != NULL && mbox_sync(other, &s, NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_RESET);
	test_assert(other != NULL && mbox_cache_put(other, 1, 1, "x", 1) ==
	    -1);
	mbox_close(other);
	mstore_close(st);
	end();
}

/* ---- APPEND, COPY, MOVE, quota, keywords ---- */

static void
test_append_copy(void)
{
	struct mstore		*st;
	struct mbox		*mb, *dst;
	struct mbox_sync	 s;
	struct stat		 sb;
	const char		*kws[] = { "$Label1", "Work" };
	uint32_t		 uv, uv2, uid, uids[3], duv;
	int			 fd, bit;

	begin("mstore: APPEND, COPY and MOVE return UIDVALIDITY and UIDs");
	st = store(0, 0, 0, 0);
	test_assert(mstore_create(st, "Dest", NULL) == 0);
	fd = msg_fd("Subject: x\r\n\r\nline\r\nbare\nend");
	test_assert(mbox_append(st, "INBOX", fd, MBOX_SEEN | MBOX_FLAGGED,
	    kws, 2, 1000000000, &uv, &uid, NULL) == 0 && uid == 1);
	(void)close(fd);
	fd = msg_fd("x");
	test_assert(mbox_append(st, "Nope", fd, 0, NULL, 0, 0, &uv2, &uid,
	    NULL) == -1 && mstore_error(st) == MSTORE_E_NONEXISTENT &&
	    uv2 == 0);
	test_assert(mbox_append(st, "INBOX", fd, 0,
	    (const char *[]){ "bad word" }, 1, 0, &uv2, &uid, NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_INVALID);
	(void)close(fd);
	test_assert(entries("tmp") == 0);
	(void)append(st, "INBOX", "second\n", 0, 0);
	(void)append(st, "INBOX", "third\n", MBOX_ANSWERED, 0);

	mb = open_box(st, "INBOX", 0);
	if (mb == NULL)
		exit(2);
	test_assert(mbox_uidvalidity(mb) == uv);
	test_assert(msg_is(mb, 0, "Subject: x\n\nline\nbare\nend"));
	test_assert(mbox_msg(mb, 0)->size == 25 &&
	    mbox_msg(mb, 0)->wire_size == 29);
	test_assert(mbox_msg(mb, 0)->internaldate == 1000000000);
	test_assert(mbox_msg(mb, 0)->flags == (MBOX_SEEN | MBOX_FLAGGED));
	test_assert(mbox_msg(mb, 0)->keywords == 3 &&
	    strcmp(mbox_keyword_name(mb, 0), "$Label1") == 0 &&
	    strcmp(mbox_keyword_name(mb, 1), "Work") == 0);
	test_assert(mbox_keyword_bit(mb, "work", 0) == 1);
	test_assert(mbox_keyword_bit(mb, "nothere", 0) == -1);
	test_assert(test_file_is(ufd, "osms-keywords", "a $Label1\nb Work\n"));
	/* Without flags into new/: \Recent for the next session. */
	test_assert(mbox_msg(mb, 1)->flags == MBOX_RECENT);

	/* The target has another keyword first: letters differ. */
	dst = open_box(st, "Dest", 0);
	if (dst == NULL)
		exit(2);
	test_assert(mbox_keyword_bit(dst, "Work", 1) == 0);
	test_assert(mbox_copy(mb, (size_t[]){ 0, 2 }, 2, "Dest", &duv, uids,
	    NULL) == 0);
	test_assert(duv == mbox_uidvalidity(dst) && uids[0] == 1 &&
	    uids[1] == 2);
	test_assert(sync_ok(dst, &s) && s.added == 2);
	mbox_sync_free(&s);
	test_assert(mbox_msg(dst, 0)->uid == 1 &&
	    mbox_msg(dst, 0)->flags == (MBOX_SEEN | MBOX_FLAGGED) &&
	    mbox_msg(dst, 0)->internaldate == 1000000000 &&
	    mbox_msg(dst, 0)->wire_size == 29);
	bit = mbox_keyword_bit(dst, "$label1", 0);
	test_assert(bit == 1 && mbox_msg(dst, 0)->keywords == 3);
	test_assert(mbox_msg(dst, 1)->flags == MBOX_ANSWERED &&
	    msg_is(dst, 1, "third\n"));
	/* A hard link, not a copy. */
	fd = mbox_open_message(dst, 0);
	test_assert(fd != -1 && fstat(fd, &sb) == 0 && sb.st_nlink == 2);
	if (fd != -1)
		(void)close(fd);

	/* COPY into the same folder, and to a folder that is not. */
	test_assert(mbox_copy(mb, (size_t[]){ 1 }, 1, "INBOX", &duv, uids,
	    NULL) == 0 && duv == uv && uids[0] == 4);
	test_assert(mbox_copy(mb, (size_t[]){ 1 }, 1, "None", &duv, uids,
	    NULL) == -1 && mstore_error(st) == MSTORE_E_NONEXISTENT);
	test_assert(mbox_copy(mb, (size_t[]){ 7 }, 1, "Dest", &duv, uids,
	    NULL) == -1 && mstore_error(st) == MSTORE_E_INVALID);

	/* MOVE: copied, then gone from here. */
	test_assert(mbox_move(mb, (size_t[]){ 1, 0 }, 2, "Dest", &duv, uids,
	    &s, NULL) == 0);
	test_assert(uids[0] == 3 && uids[1] == 4 && duv ==
	    mbox_uidvalidity(dst));
	test_assert(s.nexpunged == 2 && s.expunged[0] == 1 &&
	    s.expunged[1] == 0 && s.added == 1 && mbox_count(mb) == 2);
	mbox_sync_free(&s);
	test_assert(mbox_msg(mb, 0)->uid == 3 && mbox_msg(mb, 1)->uid == 4);
	test_assert(sync_ok(dst, &s) && s.added == 2 && mbox_count(dst) == 4);
	mbox_sync_free(&s);
	test_assert(msg_is(dst, 2, "second\n") && msg_is(dst, 3,
	    "Subject: x\n\nline\nbare\nend"));
	test_assert(entries("tmp") == 0 && entries(".Dest/tmp") == 0);
	mbox_close(dst);
	mbox_close(mb);
	mstore_close(st);
	end();
}

static void
test_quota(void)
{
	struct mstore		*st;
	struct mbox		*mb;
	struct mbox_sync	 s;
	uint64_t		 ub, um;
	uint32_t		 uv, uids[2];
	int			 fd;

	begin("mstore: quota refuses APPEND and COPY; EXPUNGE frees");
	st = store(100, 0, 0, 0);
	test_assert(mstore_create(st, "Other", NULL) == 0);
	test_assert(append(st, "INBOX", "0123456789012345678901234567890123456"
	    "789012345678901234567890123456789\n", 0, 0) == 1);
	test_assert(mstore_quota(st, &ub, &um, NULL) == 0 && ub == 71 &&
	    um == 1);
	test_assert(test_file_is(ufd, "maildirsize", "100S\n0 0\n71 1\n"));
	fd = msg_fd("0123456789012345678901234567890\n");
	test_assert(mbox_append(st, "Other", fd, 0, NULL, 0, 0, &uv,
	    uids, NULL) == -1 && mstore_error(st) == MSTORE_E_OVERQUOTA);
	(void)close(fd);
	test_assert(entries(".Other/tmp") == 0 && entries(".Other/new") == 0);
	mb = open_box(st, "INBOX", 0);
	if (mb == NULL)
		exit(2);
	test_assert(mbox_copy(mb, (size_t[]){ 0 }, 1, "Other", &uv, uids,
	    NULL) == -1 && mstore_error(st) == MSTORE_E_OVERQUOTA);
	test_assert(entries(".Other/tmp") == 0 && entries(".Other/cur") == 0);
	/* Exactly what is left fits. */
	test_assert(append(st, "Other", "0123456789012345678901234567\n",
	    0, 0) == 1);
	test_assert(mstore_quota(st, &ub, &um, NULL) == 0 && ub == 100 &&
	    um == 2);
	/* A lost maildirsize is counted again over every folder. */
	(void)unlinkat(ufd, "maildirsize", 0);
	test_assert(mstore_quota(st, &ub, &um, NULL) == 0 && ub == 100 &&
	    um == 2);
	/* EXPUNGE gives room back. */
	test_assert(mbox_store(mb, (size_t[]){ 0 }, 1, MBOX_FLAGS_SET,
	    MBOX_DELETED, 0, 0, NULL, NULL, NULL) == 0);
	test_assert(mbox_expunge(mb, NULL, 0, &s, NULL) == 0 &&
	    s.nexpunged == 1);
	mbox_sync_free(&s);
	test_assert(mstore_quota(st, &ub, &um, NULL) == 0 && ub == 29 &&
	    um == 1);
	test_assert(append(st, "INBOX", "0123456789012345678901234567890123456"
	    "789012345678901234567890123\n", 0, 0) != 0);
	mbox_close(mb);
	/* Deleting a folder gives room back too. */
	test_assert(mstore_delete(st, "Other", NULL) == 0);
	test_assert(mstore_quota(st, &ub, &um, NULL) == 0 && ub == 65 &&
	    um == 1);
	mstore_close(st);

	/* By messages. */
	empty_dir(userdir);
	st = store(0, 2, 0, 0);
	(void)append(st, "INBOX", "x\n", 0, 0);
	(void)append(st, "INBOX", "y\n", 0, 0);
	fd = msg_fd("z\n");
	test_assert(mbox_append(st, "INBOX", fd, 0, NULL, 0, 0, &uv, uids,
	    NULL) == -1 && mstore_error(st) == MSTORE_E_OVERQUOTA);
	(void)close(fd);
	mstore_close(st);

	/* The limit of messages in a folder. */
	empty_dir(userdir);
	st = store(0, 0, 0, 3);
	put_str("cur/a", "a\n");
	put_str("cur/b", "b\n");
	put_str("cur/c", "c\n");
	put_str("cur/d", "d\n");
	mb = open_box(st, "INBOX", 0);
	test_assert(mb != NULL && mbox_count(mb) == 3);
	mbox_close(mb);
	fd = msg_fd("e\n");
	test_assert(mbox_append(st, "INBOX", fd, 0, NULL, 0, 0, &uv, uids,
	    NULL) == -1 && mstore_error(st) == MSTORE_E_LIMIT);
	(void)close(fd);
	test_assert(entries("tmp") == 0);
	mstore_close(st);
	end();
}

static void
test_keywords(void)
{
	struct mstore		*st;
	struct mbox		*a, *b;
	struct mbox_sync	 s;
	char			 kw[32];
	const char		*bad[] = { "", "a b", "\\Seen", "(x", "x]",
				    "a\x01", "\xc3\xa9", "x{3}" };
	uint32_t		 uv, uid;
	size_t			 i;
	int			 fd;

	begin("mstore: keywords: 26 per folder, the 27th refused cleanly");
	st = store(0, 0, 0, 0);
	(void)append(st, "INBOX", "m\n", 0, 0);
	a = open_box(st, "INBOX", 0);
	b = open_box(st, "INBOX", 0);
	if (a == NULL || b == NULL)
		exit(2);
	for (i = 0; i < nitems(bad); i++)
		test_assert(mbox_keyword_bit(a, bad[i], 1) == -1 &&
		    mstore_error(st) == MSTORE_E_INVALID);
	test_assert(mbox_keyword_bit(a, NULL, 1) == -1);
	for (i = 0; i < MSTORE_KEYWORDS; i++) {
		(void)snprintf(kw, sizeof(kw), "$Kw%zu", i);
		test_assert(mbox_keyword_bit(a, kw, 1) == (int)i);
	}
	test_assert(mbox_keyword_bit(a, "$KW3", 1) == 3);
	test_assert(mbox_keyword_bit(a, "$Kw26", 1) == -1 &&
	    mstore_error(st) == MSTORE_E_LIMIT);
	test_assert(mbox_keyword_bit(a, "$Kw26", 0) == -1);
	fd = msg_fd("n\n");
	test_assert(mbox_append(st, "INBOX", fd, 0,
	    (const char *[]){ "$Kw1", "Another" }, 2, 0, &uv, &uid, NULL) ==
	    -1 && mstore_error(st) == MSTORE_E_LIMIT);
	(void)close(fd);
	test_assert(entries("tmp") == 0 && entries("new") == 0);
	/* b learns the names at its sync. */
	test_assert(mbox_keyword_name(b, 0) == NULL);
	test_assert(sync_ok(b, &s) && s.keywords == 1);
	mbox_sync_free(&s);
	test_assert(mbox_keyword_name(b, 25) != NULL &&
	    strcmp(mbox_keyword_name(b, 25), "$Kw25") == 0);
	test_assert(mbox_keyword_name(b, 26) == NULL);
	test_assert(mbox_store(a, (size_t[]){ 0 }, 1, MBOX_FLAGS_SET,
	    MBOX_SEEN, (1u << 25) | 1u, 0, NULL, NULL, NULL) == 0);
	test_assert(sync_ok(b, &s) && s.nchanged == 1 &&
	    mbox_msg(b, 0)->keywords == ((1u << 25) | 1u));
	mbox_sync_free(&s);
	mbox_close(a);
	mbox_close(b);
	/* Bad lines are skipped, with a note. */
	put_str("osms-keywords", "a One\nzz Two\nb (bad\nc Three\nd one\n");
	a = open_box(st, "INBOX", 0);
	test_assert(a != NULL && (mbox_notes(a) & MBOX_NOTE_KEYWORDS) &&
	    strcmp(mbox_keyword_name(a, 0), "One") == 0 &&
	    mbox_keyword_name(a, 1) == NULL &&
	    strcmp(mbox_keyword_name(a, 2), "Three") == 0 &&
	    mbox_keyword_name(a, 3) == NULL);
	mbox_close(a);
	mstore_close(st);
	end();
}

static void
test_cache(void)
{
	struct mstore		*st;
	struct mbox		*mb, *b;
	struct mbox_sync	 s;
	const void		*d;
	char			*big, *buf;
	size_t			 len, flen;
	uint32_t		 u1, u2;

	begin("mstore: the cache keeps data per message, checks it");
	st = store(0, 0, 0, 0);
	u1 = append(st, "INBOX", "one\n", 0, 0);
	u2 = append(st, "INBOX", "two\n", 0, 0);
	mb = open_box(st, "INBOX", 0);
	if (mb == NULL)
		exit(2);
	test_assert(mbox_cache_get(mb, u1, MBOX_CACHE_ENVELOPE, &d, &len) ==
	    -1);
	test_assert(mbox_cache_put(mb, u1, MBOX_CACHE_ENVELOPE, "env-1", 5) ==
	    0);
	test_assert(mbox_cache_put(mb, u2, MBOX_CACHE_ENVELOPE, "env-2", 5) ==
	    0);
	test_assert(mbox_cache_put(mb, u2, MBOX_CACHE_BODYSTRUCTURE, "", 0) ==
	    0);
	/* Unknown message, bad field, too big. */
	test_assert(mbox_cache_put(mb, 99, MBOX_CACHE_ENVELOPE, "x", 1) == -1);
	test_assert(mbox_cache_put(mb, u1, 0, "x", 1) == -1);
	test_assert(mbox_cache_put(mb, u1, 16, "x", 1) == -1);
	big = calloc(1, MSTORE_CACHE_REC_MAX + 1);
	test_assert(mbox_cache_put(mb, u1, MBOX_CACHE_BODY, big,
	    MSTORE_CACHE_REC_MAX + 1) == -1);
	test_assert(mbox_cache_put(mb, u1, MBOX_CACHE_BODY, big,
	    MSTORE_CACHE_REC_MAX) == 0);
	free(big);
	/* Before it is written, and after. */
	test_assert(mbox_cache_get(mb, u1, MBOX_CACHE_ENVELOPE, &d, &len) ==
	    0 && len == 5 && memcmp(d, "env-1", 5) == 0);
	test_assert(sync_ok(mb, NULL));
	test_assert(mbox_cache_get(mb, u2, MBOX_CACHE_ENVELOPE, &d, &len) ==
	    0 && len == 5 && memcmp(d, "env-2", 5) == 0);
	test_assert(mbox_cache_get(mb, u2, MBOX_CACHE_BODYSTRUCTURE, &d,
	    &len) == 0 && len == 0);
	/* A newer value wins, also for another session. */
	test_assert(mbox_cache_put(mb, u1, MBOX_CACHE_ENVELOPE, "env-1b",
	    6) == 0);
	mbox_close(mb);
	b = open_box(st, "INBOX", 1);
	if (b == NULL)
		exit(2);
	test_assert(mbox_cache_get(b, u1, MBOX_CACHE_ENVELOPE, &d, &len) ==
	    0 && len == 6 && memcmp(d, "env-1b", 6) == 0);
	test_assert(mbox_cache_get(b, u1, MBOX_CACHE_BODY, &d, &len) == 0 &&
	    len == MSTORE_CACHE_REC_MAX);
	mbox_close(b);

	/* A flipped byte: that record and the rest are dropped. */
	buf = test_get_file(ufd, "osms-cache", &flen);
	if (buf == NULL || flen < 40)
		exit(2);
	buf[MSTORE_CACHE_HDR + MSTORE_CACHE_RECHDR + 2] ^= 1;
	test_put_file(ufd, "osms-cache", buf, flen);
	free(buf);
	b = open_box(st, "INBOX", 0);
	if (b == NULL)
		exit(2);
	test_assert(mbox_cache_get(b, u1, MBOX_CACHE_ENVELOPE, &d, &len) ==
	    -1);
	test_assert(mbox_cache_get(b, u2, MBOX_CACHE_ENVELOPE, &d, &len) ==
	    -1);
	test_assert(mbox_notes(b) & MBOX_NOTE_CACHE);
	test_assert(mbox_cache_put(b, u2, MBOX_CACHE_ENVELOPE, "again", 5) ==
	    0);
	test_assert(sync_ok(b, NULL));
	buf = test_get_file(ufd, "osms-cache", &flen);
	test_assert(buf != NULL && flen == MSTORE_CACHE_HDR +
	    MSTORE_CACHE_RECHDR + 5);
	free(buf);
	/* Expunged messages' data goes when the cache is compacted. */
	test_assert(mbox_store(b, (size_t[]){ 1 }, 1, MBOX_FLAGS_ADD,
	    MBOX_DELETED, 0, 0, NULL, NULL, NULL) == 0);
	test_assert(mbox_expunge(b, NULL, 0, &s, NULL) == 0);
	mbox_sync_free(&s);
	test_assert(mbox_cache_get(b, u2, MBOX_CACHE_ENVELOPE, &d, &len) ==
	    0);
	mbox_close(b);
	mstore_close(st);
	end();
}

/* Dates of files with their sizes in the name are read when asked for. */
static void
test_lazy_dates(void)
{
	struct mstore		*st;
	struct mbox		*a, *b;
	struct timespec		 ts[2];

	begin("mstore: INTERNALDATE read once, when asked, then kept");
	st = store(0, 0, 0, 0);
	(void)append(st, "INBOX", "dated\n", 0, 1000000000);
	test_put_file(ufd, "tmp/x", "a\n", 2);
	ts[0].tv_sec = ts[1].tv_sec = 1234567890;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(ufd, "tmp/x", ts, 0) == -1 ||
	    renameat(ufd, "tmp/x", ufd, "cur/1700000000.M1P1Q1.host,S=2,W=3"
	    ":2,S") == -1)
		exit(2);
	a = open_box(st, "INBOX", 0);
	if (a == NULL)
		exit(2);
	/* An APPEND's date is in the index; the other is not read yet. */
	test_assert(mbox_count(a) == 2);
	test_assert(mbox_msg(a, 0)->internaldate == 1000000000);
	test_assert(mbox_msg(a, 1)->internaldate == 0);
	/* Another session renames the file: it is found again. */
	b = open_box(st, "INBOX", 0);
	test_assert(b != NULL && mbox_store(b, (size_t[]){ 1 }, 1,
	    MBOX_FLAGS_ADD, MBOX_FLAGGED, 0, 0, NULL, NULL, NULL) == 0);
	test_assert(mbox_internaldate(a, 1) == 1234567890 &&
	    mbox_msg(a, 1)->internaldate == 1234567890);
	test_assert(mbox_internaldate(a, 2) == 0);
	/* Kept in the index: a new session has it at once. */
	test_assert(sync_ok(a, NULL));
	mbox_close(a);
	if (b != NULL)
		mbox_close(b);
	a = open_box(st, "INBOX", 1);
	test_assert(a != NULL && mbox_msg(a, 1)->internaldate == 1234567890);
	if (a != NULL)
		mbox_close(a);
	mstore_close(st);
	end();
}

/* A quiet session drops its copies of the files and reads them again. */
static void
test_trim(void)
{
	struct mstore		*st;
	struct mbox		*a, *b;
	struct mbox_sync	 s;
	const void		*d;
	size_t			 len;
	uint64_t		 hi;
	uint32_t		 uv, u1;

	begin("mstore: a trimmed session reads the files again, loses nothing");
	st = store(0, 0, 0, 0);
	test_assert(mstore_create(st, "Box", NULL) == 0);
	u1 = append(st, "Box", "one\n", 0, 0);
	(void)append(st, "Box", "two\n", 0, 0);
	a = open_box(st, "Box", 0);
	b = open_box(st, "Box", 0);
	if (a == NULL || b == NULL)
		exit(2);
	uv = mbox_uidvalidity(a);
	hi = mbox_highestmodseq(a);
	test_assert(mbox_cache_put(a, u1, MBOX_CACHE_ENVELOPE, "env", 3) == 0);
	test_assert(sync_ok(a, NULL));
	mbox_trim(a);
	/* The cache comes back from its file. */
	test_assert(mbox_cache_get(a, u1, MBOX_CACHE_ENVELOPE, &d, &len) ==
	    0 && len == 3 && memcmp(d, "env", 3) == 0);
	mbox_trim(a);
	/* Nothing changed: a sync says so. */
	test_assert(sync_ok(a, &s) && s.added == 0 && s.nexpunged == 0 &&
	    s.nchanged == 0 && mbox_count(a) == 2);
	mbox_sync_free(&s);
	mbox_trim(a);
	/* Changes by another session while a was trimmed. */
	test_assert(append(st, "Box", "three\n", 0, 0) == 3);
	test_assert(mbox_store(b, (size_t[]){ 0 }, 1, MBOX_FLAGS_ADD,
	    MBOX_FLAGGED, 0, 0, NULL, NULL, NULL) == 0);
	test_assert(sync_ok(a, &s) && s.added == 1 && s.nchanged == 1 &&
	    s.changed[0] == 0 && mbox_count(a) == 3 &&
	    mbox_msg(a, 2)->uid == 3 && mbox_uidvalidity(a) == uv &&
	    mbox_highestmodseq(a) > hi &&
	    (mbox_msg(a, 0)->flags & MBOX_FLAGGED));
	mbox_sync_free(&s);
	/* A change and an expunge right after a trim. */
	mbox_trim(a);
	test_assert(mbox_store(a, (size_t[]){ 1 }, 1, MBOX_FLAGS_ADD,
	    MBOX_DELETED, 0, 0, NULL, NULL, NULL) == 0 &&
	    (mbox_msg(a, 1)->flags & MBOX_DELETED));
	mbox_trim(a);
	test_assert(mbox_expunge(a, NULL, 0, &s, NULL) == 0 &&
	    s.nexpunged == 1 && s.expunged_uids[0] == 2 &&
	    mbox_count(a) == 2);
	mbox_sync_free(&s);
	test_assert(msg_is(a, 1, "three\n"));
	test_assert(sync_ok(b, &s) && s.nexpunged == 1 && mbox_count(b) == 2 &&
	    mbox_msg(b, 1)->uid == 3);
	mbox_sync_free(&s);
	mbox_close(a);
	mbox_close(b);
	/* UIDs as they were for a new session. */
	a = open_box(st, "Box", 1);
	test_assert(a != NULL && mbox_count(a) == 2 &&
	    mbox_msg(a, 0)->uid == 1 && mbox_msg(a, 1)->uid == 3 &&
	    mbox_uidvalidity(a) == uv);
	mbox_close(a);
	mstore_close(st);
	end();
}

static void
test_pop3_watch(void)
{
	struct mstore		*st, *st2;
	struct mbox		*mb;
	struct mbox_sync	 s;
	struct pollfd		 pfd;

	begin("mstore: the POP3 lock; the watch descriptor wakes IDLE");
	st = store(0, 0, 0, 0);
	st2 = store(0, 0, 0, 0);
	test_assert(mstore_pop3_lock(st) == 0);
	test_assert(mstore_pop3_lock(st) == 0);
	test_assert(mstore_pop3_lock(st2) == -1 &&
	    mstore_error(st2) == MSTORE_E_INUSE);
	mstore_pop3_unlock(st);
	test_assert(mstore_pop3_lock(st2) == 0);
	mstore_close(st2);

	mb = open_box(st, "INBOX", 0);
	if (mb == NULL)
		exit(2);
	pfd.fd = mbox_watch_fd(mb);
	pfd.events = POLLIN;
	test_assert(pfd.fd != -1 && mbox_watch_fd(mb) == pfd.fd);
	mbox_watch_drain(mb);
	test_assert(poll(&pfd, 1, 0) == 0);
	test_assert(deliver("W1.x", "watched\r\n") == MAILDIR_OK);
	test_assert(poll(&pfd, 1, 2000) == 1);
	mbox_watch_drain(mb);
	test_assert(poll(&pfd, 1, 0) == 0);
	test_assert(sync_ok(mb, &s) && s.added == 1);
	mbox_sync_free(&s);
	mbox_watch_drain(mb);
	/* Another session's APPEND wakes it too. */
	(void)append(st, "INBOX", "appended\n", MBOX_SEEN, 0);
	test_assert(poll(&pfd, 1, 2000) == 1);
	mbox_close(mb);
	mstore_close(st);
	end();
}

static void
test_deleted_under(void)
{
	struct mstore	*st;
	struct mbox	*mb;
	int		 fd;
	uint32_t	 uv, uid;

	begin("mstore: a folder deleted or renamed under a session");
	st = store(0, 0, 0, 0);
	test_assert(mstore_create(st, "Gone", NULL) == 0);
	(void)append(st, "Gone", "g\n", 0, 0);
	mb = open_box(st, "Gone", 0);
	test_assert(mb != NULL && mstore_delete(st, "Gone", NULL) == 0);
	test_assert(mb != NULL && mbox_sync(mb, NULL, NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_RESET);
	test_assert(mb != NULL && mbox_store(mb, (size_t[]){ 0 }, 1,
	    MBOX_FLAGS_ADD, MBOX_SEEN, 0, 0, NULL, NULL, NULL) == -1);
	mbox_close(mb);
	/* Made again: a new UIDVALIDITY, even in the same second. */
	test_assert(mstore_create(st, "Gone", NULL) == 0);
	fd = msg_fd("h\n");
	test_assert(mbox_append(st, "Gone", fd, 0, NULL, 0, 0, &uv, &uid,
	    NULL) == 0 && uid == 1);
	(void)close(fd);
	mb = open_box(st, "Gone", 0);
	test_assert(mb != NULL && mstore_rename(st, "Gone", "Moved",
	    NULL) == 0);
	test_assert(mb != NULL && mbox_sync(mb, NULL, NULL) == -1 &&
	    mstore_error(st) == MSTORE_E_RESET);
	mbox_close(mb);
	mb = open_box(st, "Moved", 0);
	test_assert(mb != NULL && mbox_uidvalidity(mb) == uv &&
	    mbox_count(mb) == 1);
	mbox_close(mb);
	mstore_close(st);
	end();
}

/* Processes appending, delivering, storing and expunging at once. */
static void
test_concurrent(void)
{
	struct mstore		*st;
	struct mbox		*mb;
	struct mbox_sync	 s;
	char			 body[64], name[32];
	size_t			 i, j;
	pid_t			 pid[4];
	int			 k, status, ok;

	begin("mstore: four processes at once: no UID twice, none lost");
	st = store(0, 0, 0, 0);
	(void)fflush(stdout);
	for (k = 0; k < 4; k++) {
		if ((pid[k] = fork()) == -1)
			exit(2);
		if (pid[k] != 0)
			continue;
		mb = mbox_open(st, "INBOX", 0, NULL);
		ok = mb != NULL;
		for (i = 0; i < 100 && ok; i++) {
			(void)snprintf(body, sizeof(body), "p%d m%zu\n", k, i);
			if (k == 3) {
				(void)snprintf(name, sizeof(name), "D%zu", i);
				ok = deliver(name, body) == MAILDIR_OK;
			} else {
				int	 fd = msg_fd(body);
				uint32_t uv, uid;

				ok = mbox_append(st, "INBOX", fd, 0, NULL, 0, 0,
				    &uv, &uid, NULL) == 0;
				(void)close(fd);
			}
			if (ok && mbox_sync(mb, &s, NULL) == -1)
				ok = 0;
			mbox_sync_free(&s);
			if (ok && k == 1 && mbox_count(mb) > 0)
				ok = mbox_store(mb, (size_t[]){ i %
				    mbox_count(mb) }, 1, MBOX_FLAGS_ADD,
				    MBOX_SEEN, 0, 0, NULL, NULL, NULL) == 0;
			/* Each UID once, ascending, in every view. */
			for (j = 1; ok && j < mbox_count(mb); j++)
				ok = mbox_msg(mb, j - 1)->uid <
				    mbox_msg(mb, j)->uid;
		}
		mbox_close(mb);
		_exit(ok ? 0 : 1);
	}
	for (k = 0; k < 4; k++)
		test_assert(waitpid(pid[k], &status, 0) == pid[k] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0);
	mb = open_box(st, "INBOX", 0);
	if (mb == NULL)
		exit(2);
	test_assert(mbox_count(mb) == 400 && mbox_uidnext(mb) == 401);
	for (i = 0; i < mbox_count(mb); i++)
		test_assert(mbox_msg(mb, i)->uid == i + 1);
	test_assert(entries("new") == 0 && entries("tmp") == 0);
	mbox_close(mb);
	mstore_close(st);
	end();
}

/* ---- a large folder ---- */

static void
test_big(void)
{
	struct mstore		*st;
	struct mbox		*mb;
	struct mbox_sync	 s;
	struct mbox_status	 ss;
	char			 name[128], blob[200];
	const void		*d;
	size_t			 i, len, hits;
	double			 t0, t1;
	int			 bigfd, ok = 1;

	begin("mstore: 100,000 messages: open, sync, cache in bounded time");
	st = store(0, 0, 0, 0);
	test_assert(mstore_create(st, "Big", NULL) == 0);
	if ((bigfd = openat(ufd, ".Big", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		exit(2);
	t0 = now_s();
	/* Hard links, a new file every 50,000 (ext4 allows 65,000). */
	for (i = 0; i < BIG_N && ok; i++) {
		if (i % 50000 == 0) {
			(void)unlinkat(bigfd, "tmp/proto", 0);
			test_put_file(bigfd, "tmp/proto", "From: a@example.test\n"
			    "Subject: big\n\nbody\n", 40);
		}
		(void)snprintf(name, sizeof(name),
		    "cur/1700%06zu.M1P1Q%zu.host,S=40,W=44:2,S", i, i);
		ok = linkat(bigfd, "tmp/proto", bigfd, name, 0) == 0;
	}
	test_assert(ok);
	if (!ok)
		exit(2);
	(void)unlinkat(bigfd, "tmp/proto", 0);
	t1 = now_s();
	(void)printf("# %d files made in %.3f s\n", BIG_N, t1 - t0);

	t0 = now_s();
	mb = open_box(st, "Big", 0);
	t1 = now_s();
	test_assert(mb != NULL && mbox_count(mb) == BIG_N);
	(void)printf("# first open (UIDs given): %.3f s\n", t1 - t0);
	test_assert(t1 - t0 < 10.0 * BIG_SLOW);
	mbox_close(mb);

	t0 = now_s();
	mb = open_box(st, "Big", 0);
	t1 = now_s();
	if (mb == NULL)
		exit(2);
	test_assert(mbox_count(mb) == BIG_N &&
	    mbox_msg(mb, BIG_N - 1)->uid == BIG_N &&
	    mbox_msg(mb, 0)->flags == MBOX_SEEN &&
	    mbox_msg(mb, 0)->wire_size == 44);
	(void)printf("# open: %.3f s (target 0.3 s)\n", t1 - t0);
	test_assert(t1 - t0 < 2.0 * BIG_SLOW);

	t0 = now_s();
	test_assert(sync_ok(mb, &s) && s.added == 0 && s.nchanged == 0);
	t1 = now_s();
	mbox_sync_free(&s);
	(void)printf("# sync, nothing new: %.3f s\n", t1 - t0);
	test_assert(t1 - t0 < 2.0 * BIG_SLOW);

	/* Cold cache: the server renders and puts every ENVELOPE. */
	memset(blob, 'e', sizeof(blob));
	t0 = now_s();
	for (i = 0; i < BIG_N; i++) {
		(void)snprintf(blob, sizeof(blob), "(\"envelope %zu\" ", i);
		blob[strlen(blob)] = 'e';
		if (mbox_cache_put(mb, mbox_msg(mb, i)->uid,
		    MBOX_CACHE_ENVELOPE, blob, sizeof(blob)) == -1)
			ok = 0;
	}
	test_assert(ok);
	mbox_close(mb);
	t1 = now_s();
	(void)printf("# %d cache puts and close: %.3f s\n", BIG_N, t1 - t0);

	mb = open_box(st, "Big", 1);
	if (mb == NULL)
		exit(2);
	t0 = now_s();
	for (i = hits = 0; i < BIG_N; i++)
		if (mbox_cache_get(mb, mbox_msg(mb, i)->uid,
		    MBOX_CACHE_ENVELOPE, &d, &len) == 0 &&
		    len == sizeof(blob) && memcmp(d, "(\"envelope ", 11) == 0)
			hits++;
	t1 = now_s();
	test_assert(hits == BIG_N);
	(void)printf("# warm ENVELOPE for all: %.3f s (target 0.5 s)\n",
	    t1 - t0);
	test_assert(t1 - t0 < 3.0 * BIG_SLOW);
	mbox_close(mb);

	t0 = now_s();
	test_assert(mstore_status(st, "Big", &ss, NULL) == 0 &&
	    ss.messages == BIG_N && ss.unseen == 0 && ss.uidnext == BIG_N + 1);
	t1 = now_s();
	(void)printf("# STATUS: %.3f s\n", t1 - t0);

	/* A flag on every message, then an EXPUNGE of half. */
	mb = open_box(st, "Big", 0);
	if (mb == NULL)
		exit(2);
	{
		size_t	*all = malloc(BIG_N * sizeof(*all));

		for (i = 0; i < BIG_N; i++)
			all[i] = i;
		t0 = now_s();
		test_assert(mbox_store(mb, all, BIG_N / 2, MBOX_FLAGS_ADD,
		    MBOX_DELETED, 0, 0, NULL, NULL, NULL) == 0);
		t1 = now_s();
		(void)printf("# STORE +FLAGS on %d: %.3f s\n", BIG_N / 2,
		    t1 - t0);
		free(all);
	}
	t0 = now_s();
	test_assert(mbox_expunge(mb, NULL, 0, &s, NULL) == 0 &&
	    s.nexpunged == BIG_N / 2 && mbox_count(mb) == BIG_N / 2);
	t1 = now_s();
	mbox_sync_free(&s);
	(void)printf("# EXPUNGE of %d: %.3f s\n", BIG_N / 2, t1 - t0);
	mbox_close(mb);
	t0 = now_s();
	mb = open_box(st, "Big", 0);
	t1 = now_s();
	test_assert(mb != NULL && mbox_count(mb) == BIG_N / 2 &&
	    mbox_msg(mb, 0)->uid == BIG_N / 2 + 1);
	(void)printf("# open after: %.3f s\n", t1 - t0);
	mbox_close(mb);
	(void)close(bigfd);
	mstore_close(st);
	end();
}

static void
cleanup(void)
{
	if (ufd != -1)
		(void)close(ufd);
	if (rootfd != -1)
		(void)close(rootfd);
	empty_dir(topdir);
	(void)rmdir(topdir);
}

int
main(void)
{
	(void)umask(022);
	if (mkdtemp(topdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	(void)snprintf(rootdir, sizeof(rootdir), "%s/root", topdir);
	(void)snprintf(userdir, sizeof(userdir), "%s/u", rootdir);
	(void)snprintf(outdir, sizeof(outdir), "%s/outside", topdir);
	if (mkdir(rootdir, 0700) == -1 || mkdir(outdir, 0700) == -1 ||
	    (rootfd = open(rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		perror(rootdir);
		return 2;
	}

	test_names();
	test_hostile_files();
	test_bad_uidlists();
	test_folders();
	test_inbox_rename();
	test_uids();
	test_hand_rename();
	test_two_sessions();
	test_recent();
	test_crash();
	test_corrupt_index();
	test_append_copy();
	test_quota();
	test_keywords();
	test_cache();
	test_trim();
	test_lazy_dates();
	test_pop3_watch();
	test_deleted_under();
	test_concurrent();
	test_big();

	cleanup();
	return test_exit();
}
