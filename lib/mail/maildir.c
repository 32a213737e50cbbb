/*
 * Delivery into a Maildir under the mail store root (see maildir.h).
 *
 * Runs in the delivery role, as the mail store owner, chrooted to the
 * store. The path comes from the user directory and the Maildir contents
 * can be changed by the user through IMAP, so both are hostile: every
 * directory is opened one component at a time with O_NOFOLLOW relative
 * to the descriptor of its parent, and every file operation is an *at()
 * call on such a descriptor. No path with a '/' reaches the kernel.
 *
 * The order of a delivery:
 *	1. open <path>, then tmp/, new/ and cur/ (making them if asked);
 *	2. look for an earlier copy: new/<name>, and with check_dup any
 *	   cur/<name> or cur/<name>:<info>;
 *	3. with a quota, work out the size of the message as stored and
 *	   compare it with the usage from maildirsize;
 *	4. write tmp/<name> (O_EXCL, O_NOFOLLOW), CRLF turned into LF,
 *	   fsync it;
 *	5. link it to new/<name>,S=<size>,W=<wire size> (EEXIST: an
 *	   earlier copy won), unlink tmp/<name>, fsync new/;
 *	6. with a quota, append "<size> 1" to maildirsize.
 * A crash anywhere leaves either nothing in new/ or the complete message
 * under its name, which the next attempt finds.
 *
 * The sizes in the name (the Dovecot convention) spare readers a stat
 * and a count: S= is the size of the file, W= its size with every LF
 * sent as CRLF (IMAP's RFC822.SIZE). The unique part, up to the first
 * ',' or ':', is what the duplicate check compares.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "util.h"

#define MD_BUFSIZE	(64 * 1024)	/* read and write buffers */
#define MD_COMP_MAX	255		/* bytes in one path component */
#define MD_DIRFLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define MD_SIZEFILE	"maildirsize"
#define MD_SIZEFILE_MAX	5120		/* larger: recalculate (Maildir++) */
#define MD_ERR_COMP	48		/* bytes of a component in errstr */

struct md_dirs {
	int		 mdfd;		/* the Maildir itself */
	int		 tmpfd;
	int		 newfd;
	int		 curfd;
};

struct md_bufs {
	unsigned char	 in[MD_BUFSIZE];
	unsigned char	 out[MD_BUFSIZE];
};

/* Output of the CRLF -> LF conversion: a file, or only a count. */
struct md_out {
	int		 fd;		/* -1: count only */
	int		 cr;		/* a CR held back: is an LF next? */
	int		 err;		/* errno of the failed write */
	size_t		 len;		/* bytes in buf */
	uint64_t	 total;		/* bytes produced */
	uint64_t	 lfs;		/* of which LFs */
	unsigned char	*buf;
};

struct md_usage {
	int64_t		 bytes;
	int64_t		 msgs;
};

static _Thread_local char md_errbuf[160];	/* per worker thread */

static int	 md_comp_valid(const char *, size_t);
static const char *md_errno_str(const char *, int);
static const char *md_comp_str(const char *, const char *);
static enum maildir_result md_dir_error(int, int, const char *,
		    const char *, const char **);
static int	 md_fsync_dir(int);
static enum maildir_result md_opendir(int, const char *, int, const char *,
		    int *, const char **);
static enum maildir_result md_open_dirs(const struct maildir_delivery *,
		    struct md_dirs *, const char **);
static void	 md_close_dirs(struct md_dirs *);
static int	 md_scan(int, int (*)(int, const char *, void *), void *);
static int	 md_cur_match(int, const char *, void *);
static enum maildir_result md_check_dup(const struct maildir_delivery *,
		    const struct md_dirs *, const char **);
static int	 md_flush(struct md_out *);
static int	 md_put(struct md_out *, const unsigned char *, size_t);
static int	 md_convert(struct md_out *, const unsigned char *, size_t);
static enum maildir_result md_copy(const struct maildir_delivery *,
		    struct md_out *, unsigned char *, const char **);
static int	 md_final_name(char *, size_t, const char *,
		    const struct md_out *);
static enum maildir_result md_write_tmp(const struct maildir_delivery *,
		    int, struct md_bufs *, struct md_out *, const char **);
static enum maildir_result md_store(const struct maildir_delivery *,
		    const struct md_dirs *, struct md_bufs *, uint64_t *,
		    const char **);
static int	 md_parse_u64(const char **, const char *, uint64_t *);
static int	 md_parse_i64(const char **, const char *, int64_t *);
static int	 maildirsize_parse(const char *, size_t, uint64_t *,
		    uint64_t *, int64_t *, int64_t *);
static int	 md_quota_read(int, uint64_t *, uint64_t *,
		    struct md_usage *);
static int	 md_name_size(const char *, int64_t *);
static int	 md_sum_entry(int, const char *, void *);
static int	 md_quota_recalc(const struct md_dirs *, struct md_usage *);
static int	 md_quota_header(char *, size_t, uint64_t, uint64_t);
static int	 md_quota_write(int, int, const char *, uint64_t, uint64_t,
		    int64_t, int64_t);
static int	 md_quota_rewrite(const struct maildir_delivery *,
		    const struct md_dirs *, const struct md_usage *);
static enum maildir_result md_quota_check(const struct maildir_delivery *,
		    const struct md_dirs *, uint64_t, const char **);
static void	 md_quota_add(int, int64_t, int64_t);

int
maildir_name_valid(const char *name)
{
	size_t	 i;

	if (name == NULL || name[0] == '\0')
		return 0;
	/* Maildir readers skip names that start with a dot. */
	if (name[0] == '.')
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		if (i >= MAILDIR_MAX_NAME)
			return 0;
		if ((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '.' || name[i] == '_' || name[i] == '-')
			continue;
		return 0;
	}
	return 1;
}

static int
md_comp_valid(const char *comp, size_t len)
{
	size_t	 i;

	if (len == 0 || len > MD_COMP_MAX)
		return 0;
	if ((len == 1 && comp[0] == '.') ||
	    (len == 2 && comp[0] == '.' && comp[1] == '.'))
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)comp[i] < 0x20 || comp[i] == 0x7f)
			return 0;
	return 1;
}

int
maildir_path_valid(const char *path)
{
	const char	*comp, *slash;
	size_t		 len;

	if (path == NULL)
		return 0;
	len = strnlen(path, MAILDIR_MAX_PATH + 1);
	if (len == 0 || len > MAILDIR_MAX_PATH)
		return 0;
	/* An absolute path has an empty first component. */
	for (comp = path;; comp = slash + 1) {
		slash = strchr(comp, '/');
		len = slash != NULL ? (size_t)(slash - comp) : strlen(comp);
		if (!md_comp_valid(comp, len))
			return 0;
		if (slash == NULL)
			return 1;
	}
}

/*
 * Error strings: static text, or md_errbuf holding static text with
 * strerror() or a component shown with anything but printable ASCII
 * replaced by '?'.
 */
static const char *
md_errno_str(const char *what, int e)
{
	if (e == ENOSPC || e == EDQUOT)
		return "mail store is full";
	if (osms_snprintf(md_errbuf, sizeof(md_errbuf), "%s: %s", what,
	    strerror(e)) == -1)
		return what;
	return md_errbuf;
}

static const char *
md_comp_str(const char *what, const char *comp)
{
	char	 safe[MD_ERR_COMP + 4];
	size_t	 i;

	for (i = 0; i < MD_ERR_COMP && comp[i] != '\0'; i++)
		safe[i] = (comp[i] > 0x20 && comp[i] < 0x7f) ? comp[i] : '?';
	safe[i] = '\0';
	if (comp[i] != '\0')
		(void)osms_strlcat(safe, "...", sizeof(safe));
	if (osms_snprintf(md_errbuf, sizeof(md_errbuf), "%s \"%s\"", what,
	    safe) == -1)
		return what;
	return md_errbuf;
}

/*
 * A directory could not be opened or made. Anything the path or the
 * Maildir's owner did (a link, a file, nothing there without create) is
 * permanent; anything the administrator can fix (permissions, space,
 * I/O) is temporary, so the mail stays queued meanwhile.
 */
static enum maildir_result
md_dir_error(int e, int dirfd, const char *comp, const char *missing,
    const char **errstr)
{
	struct stat	 st;

	switch (e) {
	case ELOOP:
		*errstr = md_comp_str("symbolic link at", comp);
		return MAILDIR_PERMFAIL;
	case ENOTDIR:
		/* O_DIRECTORY|O_NOFOLLOW on a link fails with ENOTDIR. */
		if (fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			*errstr = md_comp_str("symbolic link at", comp);
		else
			*errstr = md_comp_str("not a directory:", comp);
		return MAILDIR_PERMFAIL;
	case ENOENT:
		if (missing != NULL)
			*errstr = missing;
		else
			*errstr = md_comp_str("no such directory:", comp);
		return MAILDIR_PERMFAIL;
	case ENAMETOOLONG:
		*errstr = "Maildir path too long";
		return MAILDIR_PERMFAIL;
	case ENOSPC:
	case EDQUOT:
		*errstr = "mail store is full";
		return MAILDIR_TEMPFAIL;
	default:
		*errstr = md_comp_str(e == EACCES || e == EPERM ?
		    "permission denied on" : "cannot open directory", comp);
		return MAILDIR_TEMPFAIL;
	}
}

/* fsync a directory; a file system that cannot (EINVAL) is let be. */
static int
md_fsync_dir(int fd)
{
	if (fsync(fd) == -1 && errno != EINVAL)
		return -1;
	return 0;
}

/*
 * Open comp below dirfd as a directory, never through a link. With
 * create, make it first if missing; its parent is fsync'd so that the
 * new entry, and what is later delivered below it, survives a crash.
 */
static enum maildir_result
md_opendir(int dirfd, const char *comp, int create, const char *missing,
    int *fdp, const char **errstr)
{
	int	 fd;

	*fdp = -1;
	fd = openat(dirfd, comp, MD_DIRFLAGS);
	if (fd == -1 && errno == ENOENT && create) {
		if (mkdirat(dirfd, comp, 0700) == 0) {
			if (md_fsync_dir(dirfd) == -1) {
				*errstr = md_errno_str("cannot sync a "
				    "directory", errno);
				return MAILDIR_TEMPFAIL;
			}
		} else if (errno != EEXIST)
			/* EEXIST: made by a concurrent delivery. */
			return md_dir_error(errno, dirfd, comp, missing,
			    errstr);
		fd = openat(dirfd, comp, MD_DIRFLAGS);
	}
	if (fd == -1)
		return md_dir_error(errno, dirfd, comp, missing, errstr);
	*fdp = fd;
	return MAILDIR_OK;
}

static enum maildir_result
md_open_dirs(const struct maildir_delivery *d, struct md_dirs *dirs,
    const char **errstr)
{
	char			 buf[MAILDIR_MAX_PATH + 1];
	char			*comp, *slash;
	enum maildir_result	 r;
	int			 fd, next;

	if (osms_strlcpy(buf, d->path, sizeof(buf)) >= sizeof(buf)) {
		*errstr = "Maildir path too long";
		return MAILDIR_PERMFAIL;
	}
	fd = d->rootfd;
	for (comp = buf; comp != NULL; comp = slash) {
		if ((slash = strchr(comp, '/')) != NULL)
			*slash++ = '\0';
		r = md_opendir(fd, comp, d->create, NULL, &next, errstr);
		if (fd != d->rootfd)
			(void)close(fd);
		if (r != MAILDIR_OK)
			return r;
		fd = next;
	}
	dirs->mdfd = fd;

	if ((r = md_opendir(dirs->mdfd, "tmp", d->create,
	    "not a Maildir (no tmp/)", &dirs->tmpfd, errstr)) != MAILDIR_OK)
		return r;
	if ((r = md_opendir(dirs->mdfd, "new", d->create,
	    "not a Maildir (no new/)", &dirs->newfd, errstr)) != MAILDIR_OK)
		return r;
	return md_opendir(dirs->mdfd, "cur", d->create,
	    "not a Maildir (no cur/)", &dirs->curfd, errstr);
}

static void
md_close_dirs(struct md_dirs *dirs)
{
	/* Read-only directories: close cannot lose anything. */
	if (dirs->curfd != -1)
		(void)close(dirs->curfd);
	if (dirs->newfd != -1)
		(void)close(dirs->newfd);
	if (dirs->tmpfd != -1)
		(void)close(dirs->tmpfd);
	if (dirs->mdfd != -1)
		(void)close(dirs->mdfd);
	dirs->curfd = dirs->newfd = dirs->tmpfd = dirs->mdfd = -1;
}

/*
 * Call fn for every entry of the directory dirfd but "." and "..". It
 * returns 0 to go on, 1 to stop, -1 (errno set) on error; so does
 * md_scan. The directory is read through a descriptor of its own, so
 * that dirfd's offset stays.
 */
static int
md_scan(int dirfd, int (*fn)(int, const char *, void *), void *arg)
{
	DIR		*dp;
	struct dirent	*de;
	int		 fd, ret = 0, e = 0;

	if ((fd = openat(dirfd, ".", MD_DIRFLAGS)) == -1)
		return -1;
	if ((dp = fdopendir(fd)) == NULL) {
		e = errno;
		(void)close(fd);
		errno = e;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dp)) == NULL) {
			if (errno != 0) {
				e = errno;
				ret = -1;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((ret = fn(dirfd, de->d_name, arg)) != 0) {
			e = errno;
			break;
		}
	}
	(void)closedir(dp);
	errno = e;
	return ret;
}

/*
 * An earlier copy is <name>, or <name>,S=...,W=... as delivered now,
 * either of them with the ":2,<flags>" a reader adds in cur/.
 */
static int
md_cur_match(int dirfd, const char *ent, void *arg)
{
	const char	*name = arg;
	size_t		 len = strlen(name);

	(void)dirfd;
	if (strncmp(ent, name, len) == 0 &&
	    (ent[len] == '\0' || ent[len] == ':' || ent[len] == ','))
		return 1;
	return 0;
}

static enum maildir_result
md_check_dup(const struct maildir_delivery *d, const struct md_dirs *dirs,
    const char **errstr)
{
	struct stat	 st;
	char		 name[MAILDIR_MAX_NAME + 1];
	int		 ret;

	/*
	 * new/ before cur/: a copy not in new/ now was moved to cur/
	 * before, so the scan that starts after this finds it. Without
	 * check_dup only the bare name is looked up here; a copy named
	 * with its sizes is found when the link into new/ fails.
	 */
	if (fstatat(dirs->newfd, d->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return MAILDIR_DUPLICATE;
	if (errno != ENOENT) {
		*errstr = md_errno_str("cannot look in new/", errno);
		return MAILDIR_TEMPFAIL;
	}
	if (!d->check_dup)
		return MAILDIR_OK;
	(void)osms_strlcpy(name, d->name, sizeof(name));
	if ((ret = md_scan(dirs->newfd, md_cur_match, name)) == -1) {
		*errstr = md_errno_str("cannot read new/", errno);
		return MAILDIR_TEMPFAIL;
	}
	if (ret == 1)
		return MAILDIR_DUPLICATE;
	if ((ret = md_scan(dirs->curfd, md_cur_match, name)) == -1) {
		*errstr = md_errno_str("cannot read cur/", errno);
		return MAILDIR_TEMPFAIL;
	}
	return ret == 1 ? MAILDIR_DUPLICATE : MAILDIR_OK;
}

static int
md_flush(struct md_out *o)
{
	if (o->fd != -1 && o->len > 0 &&
	    write_all(o->fd, o->buf, o->len) == -1) {
		o->err = errno;
		return -1;
	}
	o->len = 0;
	return 0;
}

static int
md_put(struct md_out *o, const unsigned char *p, size_t len)
{
	const unsigned char	*lf, *end = p + len;
	size_t			 n;

	o->total += len;
	for (lf = p; lf < end && (lf = memchr(lf, '\n',
	    (size_t)(end - lf))) != NULL; lf++)
		o->lfs++;
	if (o->fd == -1)
		return 0;
	while (len > 0) {
		if (o->len == MD_BUFSIZE && md_flush(o) == -1)
			return -1;
		n = MD_BUFSIZE - o->len;
		if (n > len)
			n = len;
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Copy a chunk, dropping each CR that comes right before an LF. A CR at
 * the end of the chunk is held back until the next byte is known; the
 * caller writes a CR still held at the very end.
 */
static int
md_convert(struct md_out *o, const unsigned char *in, size_t len)
{
	const unsigned char	*cr;
	size_t			 i = 0, at;

	if (len == 0)
		return 0;
	if (o->cr) {
		o->cr = 0;
		if (in[0] != '\n' &&
		    md_put(o, (const unsigned char *)"\r", 1) == -1)
			return -1;
	}
	while (i < len) {
		if ((cr = memchr(in + i, '\r', len - i)) == NULL)
			return md_put(o, in + i, len - i);
		at = (size_t)(cr - in);
		if (md_put(o, in + i, at - i) == -1)
			return -1;
		if (at + 1 == len) {
			o->cr = 1;
			return 0;
		}
		if (in[at + 1] != '\n' &&
		    md_put(o, (const unsigned char *)"\r", 1) == -1)
			return -1;
		i = at + 1;
	}
	return 0;
}

/*
 * The prepended lines, then the message from offset 0, as one stream
 * (so a CR ending the prepend and an LF starting the message make one
 * LF). With o->fd == -1, only counts.
 */
static enum maildir_result
md_copy(const struct maildir_delivery *d, struct md_out *o,
    unsigned char *in, const char **errstr)
{
	off_t	 off = 0;
	ssize_t	 n;

	o->cr = 0;
	o->len = 0;
	o->total = 0;
	o->lfs = 0;
	if (d->prepend != NULL && md_convert(o,
	    (const unsigned char *)d->prepend, strlen(d->prepend)) == -1)
		goto fail_write;
	for (;;) {
		if ((n = pread(d->msgfd, in, MD_BUFSIZE, off)) == -1) {
			if (errno == EINTR)
				continue;
			*errstr = md_errno_str("cannot read the message",
			    errno);
			return MAILDIR_TEMPFAIL;
		}
		if (n == 0)
			break;
		if (md_convert(o, in, (size_t)n) == -1)
			goto fail_write;
		off += n;
	}
	if (o->cr) {
		o->cr = 0;
		if (md_put(o, (const unsigned char *)"\r", 1) == -1)
			goto fail_write;
	}
	if (md_flush(o) == -1)
		goto fail_write;
	return MAILDIR_OK;

 fail_write:
	*errstr = md_errno_str("cannot write to tmp/", o->err);
	return MAILDIR_TEMPFAIL;
}

/* The name in new/: "<name>,S=<size>,W=<size with CRLF line ends>". */
static int
md_final_name(char *buf, size_t size, const char *name,
    const struct md_out *o)
{
	return osms_snprintf(buf, size, "%s,S=%" PRIu64 ",W=%" PRIu64, name,
	    o->total, o->total + o->lfs);
}

/*
 * Step 4: tmp/<name> from the message, CRLF turned into LF, fsync'd; the
 * counts of what was written in *o. Nothing is left on failure.
 */
static enum maildir_result
md_write_tmp(const struct maildir_delivery *d, int tmpfd, struct md_bufs *b,
    struct md_out *o, const char **errstr)
{
	enum maildir_result	 r;
	int			 fd, retried = 0;

	for (;;) {
		fd = openat(tmpfd, d->name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST || retried) {
			*errstr = md_errno_str("cannot create a file in tmp/",
			    errno);
			return MAILDIR_TEMPFAIL;
		}
		/*
		 * Left by an attempt that crashed, or planted (a link, a
		 * FIFO): remove the entry itself, whatever it is, and
		 * try once more. A directory cannot be removed this way.
		 */
		retried = 1;
		if (unlinkat(tmpfd, d->name, 0) == -1 && errno != ENOENT) {
			*errstr = md_errno_str("cannot remove a stale file "
			    "in tmp/", errno);
			return MAILDIR_TEMPFAIL;
		}
	}

	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->buf = b->out;
	r = md_copy(d, o, b->in, errstr);
	if (r == MAILDIR_OK && fsync(fd) == -1) {
		*errstr = md_errno_str("cannot sync the file in tmp/", errno);
		r = MAILDIR_TEMPFAIL;
	}
	/* Some file systems report write errors only at close. */
	if (close(fd) == -1 && r == MAILDIR_OK) {
		*errstr = md_errno_str("cannot close the file in tmp/",
		    errno);
		r = MAILDIR_TEMPFAIL;
	}
	if (r != MAILDIR_OK)
		(void)unlinkat(tmpfd, d->name, 0);
	return r;
}

/*
 * Steps 4 and 5: tmp/<name>, then new/<name>,S=<size>,W=<wire size>.
 * Nothing is left in tmp/ unless the message is already in new/.
 */
static enum maildir_result
md_store(const struct maildir_delivery *d, const struct md_dirs *dirs,
    struct md_bufs *b, uint64_t *written, const char **errstr)
{
	char			 final[MAILDIR_MAX_NAME + 48];
	struct md_out		 o;
	enum maildir_result	 r;

	if ((r = md_write_tmp(d, dirs->tmpfd, b, &o, errstr)) != MAILDIR_OK)
		return r;
	if (md_final_name(final, sizeof(final), d->name, &o) == -1) {
		*errstr = "unique name too long";
		r = MAILDIR_PERMFAIL;
		goto fail;
	}

	/* Unlike rename, link never replaces an earlier copy. */
	if (linkat(dirs->tmpfd, d->name, dirs->newfd, final, 0) == -1) {
		if (errno == EEXIST)
			r = MAILDIR_DUPLICATE;
		else {
			*errstr = md_errno_str("cannot link into new/", errno);
			r = MAILDIR_TEMPFAIL;
		}
		goto fail;
	}
	/*
	 * The message is in new/ now. Should the unlink fail, the name
	 * left in tmp/ is the same file; the next attempt under this name
	 * or a reader's clean-up of tmp/ removes it.
	 */
	(void)unlinkat(dirs->tmpfd, d->name, 0);
	if (md_fsync_dir(dirs->newfd) == -1) {
		/*
		 * The entry may not survive a crash: have the caller try
		 * again, which finds it (DUPLICATE) if it did.
		 */
		*errstr = md_errno_str("cannot sync new/", errno);
		return MAILDIR_TEMPFAIL;
	}
	*written = o.total;
	return MAILDIR_OK;

 fail:
	/* Our own file, never linked: nothing half-written stays. */
	(void)unlinkat(dirs->tmpfd, d->name, 0);
	return r;
}

/*
 * maildirsize (Maildir++ quota): a first line "<bytes>S,<count>C" (each
 * part optional, in any order), then lines of two integers, a byte and
 * a message count, either possibly negative, whose sums are the usage.
 * Blanks and tabs may pad the numbers; every line ends in LF.
 */
static int
md_parse_u64(const char **pp, const char *end, uint64_t *v)
{
	const char	*p = *pp;
	uint64_t	 n = 0;
	unsigned int	 dig;

	if (p == end || *p < '0' || *p > '9')
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		dig = (unsigned int)(*p - '0');
		if (n > (UINT64_MAX - dig) / 10)
			return -1;
		n = n * 10 + dig;
	}
	*pp = p;
	*v = n;
	return 0;
}

static int
md_parse_i64(const char **pp, const char *end, int64_t *v)
{
	const char	*p = *pp;
	uint64_t	 n;
	int		 neg = 0;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (md_parse_u64(&p, end, &n) == -1 || n > INT64_MAX)
		return -1;
	*pp = p;
	*v = neg ? -(int64_t)n : (int64_t)n;
	return 0;
}

/*
 * Returns 0 with the limits of the first line (0 when absent) and the
 * usage, or -1 when anything is off: bad syntax, no usage line, a line
 * without its LF (a torn append), an overflow, a negative total.
 */
static int
maildirsize_parse(const char *buf, size_t len, uint64_t *lbytes,
    uint64_t *lmsgs, int64_t *bytes, int64_t *msgs)
{
	const char	*p = buf, *end = buf + len;
	uint64_t	 v;
	int64_t		 b, m, sb = 0, sm = 0;
	int		 seen_s = 0, seen_c = 0, lines = 0;

	*lbytes = *lmsgs = 0;
	for (;;) {
		if (md_parse_u64(&p, end, &v) == -1 || p == end)
			return -1;
		if (*p == 'S' && !seen_s) {
			seen_s = 1;
			*lbytes = v;
		} else if (*p == 'C' && !seen_c) {
			seen_c = 1;
			*lmsgs = v;
		} else
			return -1;
		if (++p == end)
			return -1;
		if (*p != ',')
			break;
		p++;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p++ != '\n')
		return -1;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (md_parse_i64(&p, end, &b) == -1)
			return -1;
		if (p == end || (*p != ' ' && *p != '\t'))
			return -1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (md_parse_i64(&p, end, &m) == -1)
			return -1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end || *p++ != '\n')
			return -1;
		if (__builtin_add_overflow(sb, b, &sb) ||
		    __builtin_add_overflow(sm, m, &sm))
			return -1;
		lines++;
	}
	if (lines == 0 || sb < 0 || sm < 0)
		return -1;
	*bytes = sb;
	*msgs = sm;
	return 0;
}

/* 0 and the file's limits and usage, or -1: recalculate. */
static int
md_quota_read(int mdfd, uint64_t *lbytes, uint64_t *lmsgs,
    struct md_usage *u)
{
	char		 buf[MD_SIZEFILE_MAX + 1];
	struct stat	 st;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	/* O_NONBLOCK: a FIFO planted here must not hang the delivery. */
	fd = openat(mdfd, MD_SIZEFILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MD_SIZEFILE_MAX) {
		(void)close(fd);
		return -1;
	}
	while (len < sizeof(buf)) {
		if ((n = read(fd, buf + len, sizeof(buf) - len)) == -1) {
			if (errno == EINTR)
				continue;
			(void)close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	if (len > MD_SIZEFILE_MAX)
		return -1;
	return maildirsize_parse(buf, len, lbytes, lmsgs, &u->bytes,
	    &u->msgs);
}

/* The ",S=<size>" of a name, before the ":<info>"; -1 if none. */
static int
md_name_size(const char *ent, int64_t *size)
{
	const char	*p, *end;
	uint64_t	 v;

	if ((end = strchr(ent, ':')) == NULL)
		end = ent + strlen(ent);
	for (p = ent; p + 3 <= end; p++) {
		if (p[0] != ',' || p[1] != 'S' || p[2] != '=')
			continue;
		p += 3;
		if (md_parse_u64(&p, end, &v) == -1 || v > INT64_MAX ||
		    (p != end && *p != ','))
			return -1;
		*size = (int64_t)v;
		return 0;
	}
	return -1;
}

static int
md_sum_entry(int dirfd, const char *ent, void *arg)
{
	struct md_usage	*u = arg;
	struct stat	 st;
	int64_t		 size;

	/* Readers skip dot files; so does the count. */
	if (ent[0] == '.')
		return 0;
	if (md_name_size(ent, &size) == -1) {
		if (fstatat(dirfd, ent, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			/* Moved to cur/ or expunged meanwhile. */
			if (errno == ENOENT)
				return 0;
			return -1;
		}
		if (!S_ISREG(st.st_mode))
			return 0;
		size = st.st_size;
	}
	if (__builtin_add_overflow(u->bytes, size, &u->bytes) ||
	    __builtin_add_overflow(u->msgs, 1, &u->msgs)) {
		errno = EOVERFLOW;
		return -1;
	}
	return 0;
}

/*
 * Usage from the messages themselves: every entry of new/ and cur/
 * that does not start with a dot, sized by its ",S=" or by fstatat.
 *
 * Maildir++ quota covers the whole tree, folders (".Name/") included,
 * and keeps maildirsize at the top. This counts only the Maildir being
 * delivered to, and does not descend into its folders: folders are
 * counted as deliveries add to maildirsize and removals subtract, and
 * Dovecot's recalculation brings them back in when it next runs.
 */
static int
md_quota_recalc(const struct md_dirs *dirs, struct md_usage *u)
{
	u->bytes = u->msgs = 0;
	if (md_scan(dirs->newfd, md_sum_entry, u) == -1 ||
	    md_scan(dirs->curfd, md_sum_entry, u) == -1)
		return -1;
	return 0;
}

static int
md_quota_header(char *buf, size_t size, uint64_t qbytes, uint64_t qmsgs)
{
	if (qbytes > 0 && qmsgs > 0)
		return osms_snprintf(buf, size, "%" PRIu64 "S,%" PRIu64 "C\n",
		    qbytes, qmsgs);
	if (qbytes > 0)
		return osms_snprintf(buf, size, "%" PRIu64 "S\n", qbytes);
	return osms_snprintf(buf, size, "%" PRIu64 "C\n", qmsgs);
}

/*
 * Write a fresh maildirsize as tmpname in tmpfd and rename it over the
 * one in mdfd (which may be a link or a FIFO: rename replaces the
 * entry). Returns -1 on failure, which only means another
 * recalculation next time.
 */
static int
md_quota_write(int mdfd, int tmpfd, const char *tmpname, uint64_t qbytes,
    uint64_t qmsgs, int64_t bytes, int64_t msgs)
{
	char	 buf[128];
	int	 fd, n, m, retried = 0;

	if ((n = md_quota_header(buf, sizeof(buf), qbytes, qmsgs)) == -1 ||
	    (m = osms_snprintf(buf + n, sizeof(buf) - (size_t)n,
	    "%" PRId64 " %" PRId64 "\n", bytes, msgs)) == -1)
		return -1;
	for (;;) {
		fd = openat(tmpfd, tmpname, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST || retried ||
		    unlinkat(tmpfd, tmpname, 0) == -1)
			return -1;
		retried = 1;
	}
	if (write_all(fd, buf, (size_t)n + (size_t)m) == -1 ||
	    fsync(fd) == -1) {
		(void)close(fd);
		goto fail;
	}
	if (close(fd) == -1)
		goto fail;
	if (renameat(tmpfd, tmpname, mdfd, MD_SIZEFILE) == -1)
		goto fail;
	return 0;

 fail:
	(void)unlinkat(tmpfd, tmpname, 0);
	return -1;
}

/* The name in tmp/ holds a ',' after the unique name: no message's. */
static int
md_quota_rewrite(const struct maildir_delivery *d,
    const struct md_dirs *dirs, const struct md_usage *u)
{
	char	 tmpname[MAILDIR_MAX_NAME + sizeof(",maildirsize")];

	if (osms_snprintf(tmpname, sizeof(tmpname), "%s,maildirsize",
	    d->name) == -1)
		return -1;
	return md_quota_write(dirs->mdfd, dirs->tmpfd, tmpname,
	    d->quota_bytes, d->quota_messages, u->bytes, u->msgs);
}

/* Step 3: would a message of size bytes go over the quota? */
static enum maildir_result
md_quota_check(const struct maildir_delivery *d, const struct md_dirs *dirs,
    uint64_t size, const char **errstr)
{
	struct md_usage	 u;
	uint64_t	 lbytes, lmsgs;

	if (md_quota_read(dirs->mdfd, &lbytes, &lmsgs, &u) == -1 ||
	    lbytes != d->quota_bytes || lmsgs != d->quota_messages) {
		/* Missing, unreadable, malformed, too long, or limits
		 * that changed: count again. */
		if (md_quota_recalc(dirs, &u) == -1) {
			*errstr = md_errno_str("cannot count the Maildir's "
			    "usage", errno);
			return MAILDIR_TEMPFAIL;
		}
		/* A failure only costs a recalculation next time. */
		(void)md_quota_rewrite(d, dirs, &u);
	}
	if (d->quota_bytes > 0 && ((uint64_t)u.bytes > d->quota_bytes ||
	    size > d->quota_bytes - (uint64_t)u.bytes)) {
		*errstr = "mailbox is over its quota (size)";
		return MAILDIR_OVERQUOTA;
	}
	if (d->quota_messages > 0 && (uint64_t)u.msgs >= d->quota_messages) {
		*errstr = "mailbox is over its quota (messages)";
		return MAILDIR_OVERQUOTA;
	}
	return MAILDIR_OK;
}

/*
 * Step 6, after the message is safe in new/: one write with O_APPEND, so
 * concurrent deliveries do not interleave. Should it fail, the file is
 * removed so that the next delivery recalculates instead of trusting a
 * count without this message. A missing file is left missing: the next
 * recalculation counts this message.
 */
static void
md_quota_add(int mdfd, int64_t bytes, int64_t msgs)
{
	char		 line[48];
	struct stat	 st;
	ssize_t		 n;
	int		 fd, len;

	fd = openat(mdfd, MD_SIZEFILE, O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT)
			(void)unlinkat(mdfd, MD_SIZEFILE, 0);
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		(void)unlinkat(mdfd, MD_SIZEFILE, 0);
		return;
	}
	if ((len = osms_snprintf(line, sizeof(line), "%" PRId64 " %" PRId64
	    "\n", bytes, msgs)) == -1) {
		(void)close(fd);
		return;
	}
	n = write(fd, line, (size_t)len);
	if (close(fd) == -1 || n != len)
		(void)unlinkat(mdfd, MD_SIZEFILE, 0);
}

enum maildir_result
maildir_deliver(const struct maildir_delivery *d, uint64_t *written,
    const char **errstr)
{
	struct md_dirs		 dirs = { -1, -1, -1, -1 };
	struct md_bufs		*b = NULL;
	struct md_out		 count;
	struct stat		 st;
	char			 final[MAILDIR_MAX_NAME + 48];
	const char		*unused;
	enum maildir_result	 r;
	uint64_t		 total = 0;
	int			 quota;

	if (errstr == NULL)
		errstr = &unused;
	*errstr = NULL;
	if (written != NULL)
		*written = 0;
	if (d == NULL || d->rootfd < 0 || d->msgfd < 0) {
		/* The caller's bug: keep the mail queued. */
		*errstr = "invalid delivery request";
		return MAILDIR_TEMPFAIL;
	}
	if (!maildir_path_valid(d->path)) {
		*errstr = "invalid Maildir path";
		return MAILDIR_PERMFAIL;
	}
	if (!maildir_name_valid(d->name)) {
		*errstr = "invalid unique name";
		return MAILDIR_PERMFAIL;
	}

	if ((r = md_open_dirs(d, &dirs, errstr)) != MAILDIR_OK)
		goto done;
	if ((r = md_check_dup(d, &dirs, errstr)) != MAILDIR_OK) {
		/*
		 * A crash between link and unlink leaves tmp/<name>
		 * beside the delivered copy: tidy it.
		 */
		if (r == MAILDIR_DUPLICATE)
			(void)unlinkat(dirs.tmpfd, d->name, 0);
		goto done;
	}
	if ((b = malloc(sizeof(*b))) == NULL) {
		*errstr = "out of memory";
		r = MAILDIR_TEMPFAIL;
		goto done;
	}

	quota = d->quota_bytes > 0 || d->quota_messages > 0;
	if (quota) {
		/* A counting pass gives the size as stored. */
		memset(&count, 0, sizeof(count));
		count.fd = -1;
		if ((r = md_copy(d, &count, b->in, errstr)) != MAILDIR_OK)
			goto done;
		/* The final name is known: a duplicate is not over quota. */
		if (md_final_name(final, sizeof(final), d->name, &count) !=
		    -1 && fstatat(dirs.newfd, final, &st,
		    AT_SYMLINK_NOFOLLOW) == 0) {
			r = MAILDIR_DUPLICATE;
			goto done;
		}
		if ((r = md_quota_check(d, &dirs, count.total, errstr)) !=
		    MAILDIR_OK)
			goto done;
	}

	if ((r = md_store(d, &dirs, b, &total, errstr)) != MAILDIR_OK)
		goto done;
	if (quota)
		md_quota_add(dirs.mdfd, total > INT64_MAX ? INT64_MAX :
		    (int64_t)total, 1);
	if (written != NULL)
		*written = total;

 done:
	free(b);
	md_close_dirs(&dirs);
	return r;
}

/*
 * regress/fuzz/fuzz_maildirsize.c includes this file, renaming
 * maildir_deliver and the validity checks, and is linked with the
 * library's copy too: the exported helpers below are left out of that
 * copy so that each is defined once.
 */
#ifndef maildir_deliver

int
maildir_quota_read(int mdfd, uint64_t *qbytes, uint64_t *qmsgs,
    int64_t *bytes, int64_t *msgs)
{
	struct md_usage	 u;

	if (md_quota_read(mdfd, qbytes, qmsgs, &u) == -1)
		return -1;
	*bytes = u.bytes;
	*msgs = u.msgs;
	return 0;
}

int
maildir_quota_write(int mdfd, int tmpfd, const char *tmpname,
    uint64_t qbytes, uint64_t qmsgs, int64_t bytes, int64_t msgs)
{
	if (bytes < 0 || msgs < 0 || tmpname == NULL ||
	    strchr(tmpname, '/') != NULL) {
		errno = EINVAL;
		return -1;
	}
	return md_quota_write(mdfd, tmpfd, tmpname, qbytes, qmsgs, bytes,
	    msgs);
}

void
maildir_quota_add(int mdfd, int64_t bytes, int64_t msgs)
{
	md_quota_add(mdfd, bytes, msgs);
}

enum maildir_result
maildir_write_tmp(int tmpfd, const char *name, int msgfd, uint64_t *size,
    uint64_t *wire_size, const char **errstr)
{
	struct maildir_delivery	 d;
	struct md_bufs		*b;
	struct md_out		 o;
	enum maildir_result	 r;
	const char		*unused;

	if (errstr == NULL)
		errstr = &unused;
	*errstr = NULL;
	*size = *wire_size = 0;
	if (tmpfd < 0 || msgfd < 0) {
		*errstr = "invalid request";
		return MAILDIR_TEMPFAIL;
	}
	if (!maildir_name_valid(name)) {
		*errstr = "invalid unique name";
		return MAILDIR_PERMFAIL;
	}
	memset(&d, 0, sizeof(d));
	d.msgfd = msgfd;
	d.name = name;
	if ((b = malloc(sizeof(*b))) == NULL) {
		*errstr = "out of memory";
		return MAILDIR_TEMPFAIL;
	}
	if ((r = md_write_tmp(&d, tmpfd, b, &o, errstr)) == MAILDIR_OK) {
		*size = o.total;
		*wire_size = o.total + o.lfs;
	}
	free(b);
	return r;
}

#endif
