/*
 * The spool (spool.h): the queue role's files, below its chroot.
 *
 * Every call works on the directory descriptors with *at() and relative
 * names, O_NOFOLLOW and O_CLOEXEC. The queue role is the only writer.
 *
 * Commit, and what a crash leaves at each step (what recovery does):
 *
 *	1. fsync tmp/ID			tmp/ID			discarded
 *	2. write, fsync tmp/ID.env	tmp/ID, tmp/ID.env	discarded
 *	3. rename to queue/ID.msg	queue/ID.msg, tmp/ID.env discarded
 *	4. rename to queue/ID.env	both in queue/		committed
 *	5. fsync queue/			both in queue/		committed
 *
 * Only after 5 is SPOOL_OK returned, so the client hears 250 only for a
 * message that recovery will find. A crash between 4 and 5 may lose the
 * renames or keep them: either way the client had no 250 yet. Renames
 * into queue/ never replace a file (RENAME_NOREPLACE), so a queue id
 * that comes up twice cannot overwrite a committed message.
 *
 * When commit fails it puts things back as they were: tmp/ID.env is
 * removed, the content is renamed back to tmp/ID if it had moved, so the
 * caller may try spool_commit() again or drop it with spool_abort(). If
 * the role dies first, recovery removes tmp/ID.
 *
 * *errstr points to a literal or to a static buffer that the next spool
 * call may overwrite.
 */
#include <sys/stat.h>
#include <sys/random.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#define NAME_ENV	".env"
#define NAME_MSG	".msg"
#define NAME_NEW	".new"		/* tmp/: a rewritten content */
#define NAME_UPD	".upd"
#define SPOOL_NAMELEN	(QUEUE_ID_LEN + 5)	/* "ID.env" + NUL */
#define CORRUPT_TRIES	1000

enum read_result {
	READ_OK,
	READ_NOENT,
	READ_IO,		/* an I/O error: try again later */
	READ_BAD,		/* not a regular file, too large */
};

/* Names read from a directory. */
struct names {
	char	**v;
	size_t	 n;
};

static _Thread_local char spool_errbuf[256];	/* per worker thread */

static void	 set_err(const char **, const char *);
static enum spool_result errno_result(int);
static enum spool_result sys_err(const char **, const char *, const char *);
static void	 mkname(char *, const char *, const char *);
static int	 name_parse(const char *, char *, int *);
static int	 rename_noreplace(int, const char *, int, const char *);
static int	 exists_at(int, const char *);
static enum read_result read_file(int, const char *, uint8_t **, size_t *,
		    int *);
static enum spool_result write_tmp(struct spool *, const char *,
		    const uint8_t *, size_t, const char **);
static enum spool_result load_env(struct spool *, const char *,
		    struct envelope *, const char **);
static int	 names_read(int, struct names *, const char **);
static void	 names_free(struct names *);
static int	 names_cmp(const void *, const void *);
static int	 move_corrupt(struct spool *, const char *, const char *,
		    char *, size_t);
static void	 recover_tmp(struct spool *, struct spool_stats *);
static void	 recover_env(struct spool *, const char *, spool_recover_cb,
		    void *, struct spool_stats *);
static void	 recover_msg(struct spool *, const char *,
		    struct spool_stats *);
static void	 recover_other(struct spool *, const char *,
		    struct spool_stats *);

static void
set_err(const char **errstr, const char *s)
{
	if (errstr != NULL)
		*errstr = s;
}

static enum spool_result
errno_result(int e)
{
	return e == ENOSPC || e == EDQUOT ? SPOOL_NOSPACE : SPOOL_TEMPFAIL;
}

/* "what name: strerror" from errno; NOSPACE or TEMPFAIL. */
static enum spool_result
sys_err(const char **errstr, const char *what, const char *name)
{
	int	 e = errno;

	(void)snprintf(spool_errbuf, sizeof(spool_errbuf), "%s %s: %s", what,
	    name, strerror(e));
	set_err(errstr, spool_errbuf);
	errno = e;
	return errno_result(e);
}

/* id and a suffix into a buffer of SPOOL_NAMELEN. */
static void
mkname(char *buf, const char *id, const char *suffix)
{
	memcpy(buf, id, QUEUE_ID_LEN);
	memcpy(buf + QUEUE_ID_LEN, suffix, 5);	/* with its NUL */
}

/* "<id>.env" (kind 'e') or "<id>.msg" (kind 'm'): 0; anything else -1. */
static int
name_parse(const char *name, char *id, int *kind)
{
	if (strlen(name) != QUEUE_ID_LEN + 4)
		return -1;
	memcpy(id, name, QUEUE_ID_LEN);
	id[QUEUE_ID_LEN] = '\0';
	if (!queue_id_valid(id))
		return -1;
	if (strcmp(name + QUEUE_ID_LEN, NAME_ENV) == 0)
		*kind = 'e';
	else if (strcmp(name + QUEUE_ID_LEN, NAME_MSG) == 0)
		*kind = 'm';
	else
		return -1;
	return 0;
}

/* 1 if name exists (as anything) in dirfd, 0 if not, -1 on error. */
static int
exists_at(int dirfd, const char *name)
{
	struct stat	 st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* rename that fails with EEXIST instead of replacing a file. */
static int
rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* No RENAME_NOREPLACE here; we are the only writer. */
	switch (exists_at(tofd, to)) {
	case 1:
		errno = EEXIST;
		return -1;
	case 0:
		return renameat(fromfd, from, tofd, to);
	default:
		return -1;
	}
}

/*
 * Read a whole regular file of at most ENV_MAX_FILE bytes; *errnum is set
 * for READ_IO. The buffer is malloc'd (never NULL on READ_OK).
 */
static enum read_result
read_file(int dirfd, const char *name, uint8_t **bufp, size_t *lenp,
    int *errnum)
{
	struct stat	 st;
	uint8_t		*buf;
	size_t		 cap, len = 0;
	ssize_t		 n;
	int		 fd;

	*bufp = NULL;
	*lenp = 0;
	*errnum = 0;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1) {
		*errnum = errno;
		if (errno == ENOENT)
			return READ_NOENT;
		/* A symbolic link (ELOOP) is no envelope of ours. */
		return errno == ELOOP ? READ_BAD : READ_IO;
	}
	if (fstat(fd, &st) == -1) {
		*errnum = errno;
		(void)close(fd);
		return READ_IO;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > ENV_MAX_FILE) {
		(void)close(fd);
		return READ_BAD;
	}
	/* One byte more than fstat says, to see the end in one pass. */
	cap = (size_t)st.st_size + 1;
	buf = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap > ENV_MAX_FILE) {
				/* It grew past the limit meanwhile. */
				free(buf);
				(void)close(fd);
				return READ_BAD;
			}
			cap = cap * 2 > (size_t)ENV_MAX_FILE + 1 ?
			    (size_t)ENV_MAX_FILE + 1 : cap * 2;
			buf = xreallocarray(buf, cap, 1);
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			*errnum = errno;
			free(buf);
			(void)close(fd);
			return READ_IO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	*bufp = buf;
	*lenp = len;
	return READ_OK;
}

enum spool_result
spool_open(struct spool *sp, int rootfd, const char **errstr)
{
	static const char	*const dirs[] = { "tmp", "queue", "corrupt" };
	int			*fds[3];
	enum spool_result	 res;
	size_t			 i;
	int			 made = 0;

	sp->rootfd = sp->tmpfd = sp->queuefd = sp->corruptfd = -1;
	fds[0] = &sp->tmpfd;
	fds[1] = &sp->queuefd;
	fds[2] = &sp->corruptfd;
	if ((sp->rootfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) == -1)
		return sys_err(errstr, "dup", "spool root");
	for (i = 0; i < nitems(dirs); i++) {
		if (mkdirat(sp->rootfd, dirs[i], 0700) == 0)
			made = 1;
		else if (errno != EEXIST) {
			res = sys_err(errstr, "mkdir", dirs[i]);
			goto fail;
		}
		*fds[i] = openat(sp->rootfd, dirs[i],
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (*fds[i] == -1) {
			res = sys_err(errstr, "open", dirs[i]);
			goto fail;
		}
	}
	/* New directories must survive a crash as well. */
	if (made && fsync(sp->rootfd) == -1) {
		res = sys_err(errstr, "fsync", "spool root");
		goto fail;
	}
	return SPOOL_OK;
 fail:
	spool_close(sp);
	return res;
}

void
spool_close(struct spool *sp)
{
	if (sp->tmpfd != -1)
		(void)close(sp->tmpfd);
	if (sp->queuefd != -1)
		(void)close(sp->queuefd);
	if (sp->corruptfd != -1)
		(void)close(sp->corruptfd);
	if (sp->rootfd != -1)
		(void)close(sp->rootfd);
	sp->rootfd = sp->tmpfd = sp->queuefd = sp->corruptfd = -1;
}

void
spool_new_id(char id[QUEUE_ID_LEN + 1])
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 r[QUEUE_ID_LEN / 2];
	size_t			 got = 0, i;
	ssize_t			 n;

	while (got < sizeof(r)) {
		n = getrandom(r + got, sizeof(r) - got, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		got += (size_t)n;
	}
	for (i = 0; i < sizeof(r); i++) {
		id[2 * i] = hex[r[i] >> 4];
		id[2 * i + 1] = hex[r[i] & 0x0f];
	}
	id[QUEUE_ID_LEN] = '\0';
}

enum spool_result
spool_create(struct spool *sp, char id[QUEUE_ID_LEN + 1], int *fdp,
    const char **errstr)
{
	char	 envname[SPOOL_NAMELEN], msgname[SPOOL_NAMELEN];
	int	 fd, tries, e1, e2;

	*fdp = -1;
	for (tries = 0; tries < 100; tries++) {
		spool_new_id(id);
		fd = openat(sp->tmpfd, id, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1) {
			if (errno == EEXIST || errno == EINTR)
				continue;
			return sys_err(errstr, "create tmp/", id);
		}
		/* An id already committed would collide at the commit. */
		mkname(envname, id, NAME_ENV);
		mkname(msgname, id, NAME_MSG);
		e1 = exists_at(sp->queuefd, envname);
		e2 = exists_at(sp->queuefd, msgname);
		if (e1 == 0 && e2 == 0) {
			*fdp = fd;
			return SPOOL_OK;
		}
		(void)close(fd);
		(void)unlinkat(sp->tmpfd, id, 0);
		if (e1 == -1 || e2 == -1)
			return sys_err(errstr, "stat queue/", id);
	}
	id[0] = '\0';
	set_err(errstr, "no free queue id");
	return SPOOL_TEMPFAIL;
}

void
spool_abort(struct spool *sp, const char *id)
{
	char	 envname[SPOOL_NAMELEN];

	if (!queue_id_valid(id)) {
		log_warnx("spool abort: invalid queue id");
		return;
	}
	if (unlinkat(sp->tmpfd, id, 0) == -1 && errno != ENOENT)
		log_warn("spool abort id=%s: unlink tmp/%s", id, id);
	mkname(envname, id, NAME_ENV);
	if (unlinkat(sp->tmpfd, envname, 0) == -1 && errno != ENOENT)
		log_warn("spool abort id=%s: unlink tmp/%s", id, envname);
	mkname(envname, id, NAME_NEW);
	if (unlinkat(sp->tmpfd, envname, 0) == -1 && errno != ENOENT)
		log_warn("spool abort id=%s: unlink tmp/%s", id, envname);
}

enum spool_result
spool_rewrite_open(struct spool *sp, const char *id, int *fdp,
    const char **errstr)
{
	char	 name[SPOOL_NAMELEN];

	*fdp = -1;
	if (!queue_id_valid(id)) {
		set_err(errstr, "invalid queue id");
		return SPOOL_NOTFOUND;
	}
	mkname(name, id, NAME_NEW);
	if ((*fdp = openat(sp->tmpfd, name, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return sys_err(errstr, "create tmp/", name);
	return SPOOL_OK;
}

enum spool_result
spool_rewrite_end(struct spool *sp, const char *id, int keep,
    const char **errstr)
{
	char	 name[SPOOL_NAMELEN];

	if (!queue_id_valid(id)) {
		set_err(errstr, "invalid queue id");
		return SPOOL_NOTFOUND;
	}
	mkname(name, id, NAME_NEW);
	if (!keep) {
		if (unlinkat(sp->tmpfd, name, 0) == -1 && errno != ENOENT)
			return sys_err(errstr, "unlink tmp/", name);
		return SPOOL_OK;
	}
	/* The commit fsyncs tmp/ID, which is then the new content. */
	if (renameat(sp->tmpfd, name, sp->tmpfd, id) == -1)
		return sys_err(errstr, "rename tmp/", name);
	return SPOOL_OK;
}

/* Write name in tmp/ and fsync it; on failure it is removed. */
static enum spool_result
write_tmp(struct spool *sp, const char *name, const uint8_t *buf,
    size_t len, const char **errstr)
{
	enum spool_result	 res;
	int			 fd;

	fd = openat(sp->tmpfd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST) {
		/* Left by a failed attempt that could not clean up. */
		if (unlinkat(sp->tmpfd, name, 0) == -1)
			return sys_err(errstr, "unlink tmp/", name);
		fd = openat(sp->tmpfd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd == -1)
		return sys_err(errstr, "create tmp/", name);
	if (write_all(fd, buf, len) == -1) {
		res = sys_err(errstr, "write tmp/", name);
		goto fail;
	}
	if (fsync(fd) == -1) {
		res = sys_err(errstr, "fsync tmp/", name);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		res = sys_err(errstr, "close tmp/", name);
		goto fail;
	}
	return SPOOL_OK;
 fail:
	if (fd != -1)
		(void)close(fd);
	(void)unlinkat(sp->tmpfd, name, 0);
	return res;
}

enum spool_result
spool_commit(struct spool *sp, const struct envelope *env,
    const char **errstr)
{
	char			 envname[SPOOL_NAMELEN], msgname[SPOOL_NAMELEN];
	struct stat		 st;
	enum spool_result	 res;
	uint8_t			*buf = NULL;
	size_t			 len;
	int			 fd;

	if (!queue_id_valid(env->id)) {
		set_err(errstr, "invalid queue id");
		return SPOOL_TEMPFAIL;
	}
	if (envelope_encode(env, &buf, &len) == -1) {
		set_err(errstr, "envelope does not encode (invalid field or "
		    "too large)");
		return SPOOL_TEMPFAIL;
	}
	mkname(envname, env->id, NAME_ENV);
	mkname(msgname, env->id, NAME_MSG);

	/* 1. The content, as it is, on disk. */
	fd = openat(sp->tmpfd, env->id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		res = sys_err(errstr, "open tmp/", env->id);
		goto done;
	}
	if (fstat(fd, &st) == -1) {
		res = sys_err(errstr, "stat tmp/", env->id);
		(void)close(fd);
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (uint64_t)st.st_size != env->size) {
		(void)close(fd);
		set_err(errstr, "content size changed");
		res = SPOOL_TEMPFAIL;
		goto done;
	}
	if (fsync(fd) == -1) {
		res = sys_err(errstr, "fsync tmp/", env->id);
		(void)close(fd);
		goto done;
	}
	if (close(fd) == -1) {
		res = sys_err(errstr, "close tmp/", env->id);
		goto done;
	}

	/* 2. The envelope beside it. */
	if ((res = write_tmp(sp, envname, buf, len, errstr)) != SPOOL_OK)
		goto done;

	/* 3. and 4. Content first: an envelope always finds its content. */
	if (rename_noreplace(sp->tmpfd, env->id, sp->queuefd, msgname) ==
	    -1) {
		res = sys_err(errstr, "rename to queue/", msgname);
		(void)unlinkat(sp->tmpfd, envname, 0);
		goto done;
	}
	if (rename_noreplace(sp->tmpfd, envname, sp->queuefd, envname) ==
	    -1) {
		res = sys_err(errstr, "rename to queue/", envname);
		(void)unlinkat(sp->tmpfd, envname, 0);
		if (renameat(sp->queuefd, msgname, sp->tmpfd, env->id) == -1)
			log_warn("commit id=%s: cannot move content back "
			    "to tmp/", env->id);
		goto done;
	}

	/* 5. The names themselves on disk: now it is committed. */
	if (fsync(sp->queuefd) == -1) {
		res = sys_err(errstr, "fsync", "queue/");
		/* Uncommit, so that 4xx means "not queued" here too. */
		if (unlinkat(sp->queuefd, envname, 0) == -1)
			log_warn("commit id=%s: cannot uncommit after failed "
			    "fsync; it may be delivered twice", env->id);
		else if (renameat(sp->queuefd, msgname, sp->tmpfd,
		    env->id) == -1)
			log_warn("commit id=%s: cannot move content back "
			    "to tmp/", env->id);
		goto done;
	}
	res = SPOOL_OK;
 done:
	free(buf);
	return res;
}

enum spool_result
spool_update(struct spool *sp, const struct envelope *env,
    const char **errstr)
{
	char			 envname[SPOOL_NAMELEN], updname[SPOOL_NAMELEN];
	enum spool_result	 res;
	uint8_t			*buf = NULL;
	size_t			 len;

	if (!queue_id_valid(env->id)) {
		set_err(errstr, "invalid queue id");
		return SPOOL_TEMPFAIL;
	}
	mkname(envname, env->id, NAME_ENV);
	mkname(updname, env->id, NAME_UPD);
	/* Never commit by an update: the message must be in queue/. */
	switch (exists_at(sp->queuefd, envname)) {
	case 0:
		set_err(errstr, "no such message");
		return SPOOL_NOTFOUND;
	case 1:
		break;
	default:
		return sys_err(errstr, "stat queue/", envname);
	}
	if (envelope_encode(env, &buf, &len) == -1) {
		set_err(errstr, "envelope does not encode (invalid field or "
		    "too large)");
		return SPOOL_TEMPFAIL;
	}
	if ((res = write_tmp(sp, updname, buf, len, errstr)) != SPOOL_OK)
		goto done;
	if (renameat(sp->tmpfd, updname, sp->queuefd, envname) == -1) {
		res = sys_err(errstr, "rename to queue/", envname);
		(void)unlinkat(sp->tmpfd, updname, 0);
		goto done;
	}
	if (fsync(sp->queuefd) == -1) {
		/* Old or new, the envelope in queue/ is whole. */
		res = sys_err(errstr, "fsync", "queue/");
		goto done;
	}
	res = SPOOL_OK;
 done:
	free(buf);
	return res;
}

enum spool_result
spool_remove(struct spool *sp, const char *id, const char **errstr)
{
	char	 envname[SPOOL_NAMELEN], msgname[SPOOL_NAMELEN];
	int	 found = 0;

	if (!queue_id_valid(id)) {
		set_err(errstr, "invalid queue id");
		return SPOOL_NOTFOUND;
	}
	mkname(envname, id, NAME_ENV);
	mkname(msgname, id, NAME_MSG);
	if (unlinkat(sp->queuefd, envname, 0) == 0) {
		found = 1;
		if (fsync(sp->queuefd) == -1)
			return sys_err(errstr, "fsync", "queue/");
	} else if (errno != ENOENT)
		return sys_err(errstr, "unlink queue/", envname);
	/* Without its envelope the content is an orphan: no fsync. */
	if (unlinkat(sp->queuefd, msgname, 0) == 0)
		found = 1;
	else if (errno != ENOENT)
		return sys_err(errstr, "unlink queue/", msgname);
	if (!found) {
		set_err(errstr, "no such message");
		return SPOOL_NOTFOUND;
	}
	return SPOOL_OK;
}

/* Read and decode queue/ID.env; READ_* as spool results, nothing moved. */
static enum spool_result
load_env(struct spool *sp, const char *id, struct envelope *env,
    const char **errstr)
{
	char		 envname[SPOOL_NAMELEN];
	uint8_t		*buf;
	size_t		 len;
	const char	*err;
	int		 e, r;

	set_err(errstr, NULL);
	envelope_init(env);
	mkname(envname, id, NAME_ENV);
	switch (read_file(sp->queuefd, envname, &buf, &len, &e)) {
	case READ_OK:
		break;
	case READ_NOENT:
		set_err(errstr, "no such message");
		return SPOOL_NOTFOUND;
	case READ_IO:
		errno = e;
		return sys_err(errstr, "read queue/", envname);
	case READ_BAD:
		set_err(errstr, "not a regular file or too large");
		return SPOOL_CORRUPT;
	}
	r = envelope_decode(buf, len, env, &err);
	free(buf);
	if (r == -1) {
		set_err(errstr, err);
		return SPOOL_CORRUPT;
	}
	if (strcmp(env->id, id) != 0) {
		envelope_clear(env);
		set_err(errstr, "envelope of another queue id");
		return SPOOL_CORRUPT;
	}
	return SPOOL_OK;
}

enum spool_result
spool_load(struct spool *sp, const char *id, struct envelope *env,
    const char **errstr)
{
	char			 envname[SPOOL_NAMELEN], msgname[SPOOL_NAMELEN];
	char			 to[NAME_MAX + 1];
	enum spool_result	 res;
	const char		*err;

	if (!queue_id_valid(id)) {
		envelope_init(env);
		set_err(errstr, "invalid queue id");
		return SPOOL_NOTFOUND;
	}
	res = load_env(sp, id, env, &err);
	set_err(errstr, err);
	if (res != SPOOL_CORRUPT)
		return res;
	/* SPOOL_CORRUPT promises the message is in corrupt/ now. */
	mkname(envname, id, NAME_ENV);
	mkname(msgname, id, NAME_MSG);
	if (move_corrupt(sp, envname, msgname, to, sizeof(to)) == -1)
		log_warn("spool id=%s: corrupt envelope (%s), cannot move "
		    "it to corrupt/", id, err);
	else
		log_warnx("spool id=%s: corrupt envelope (%s), moved to "
		    "corrupt/%s", id, err, to);
	return SPOOL_CORRUPT;
}

enum spool_result
spool_open_content(struct spool *sp, const char *id, int *fdp,
    const char **errstr)
{
	char	 msgname[SPOOL_NAMELEN];

	*fdp = -1;
	if (!queue_id_valid(id)) {
		set_err(errstr, "invalid queue id");
		return SPOOL_NOTFOUND;
	}
	mkname(msgname, id, NAME_MSG);
	if ((*fdp = openat(sp->queuefd, msgname,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			set_err(errstr, "no such message");
			return SPOOL_NOTFOUND;
		}
		return sys_err(errstr, "open queue/", msgname);
	}
	return SPOOL_OK;
}

enum spool_result
spool_scratch(struct spool *sp, int *fdp, const char **errstr)
{
	char	 id[QUEUE_ID_LEN + 1], name[QUEUE_ID_LEN + 8];
	int	 tries;

	for (tries = 0; tries < 100; tries++) {
		spool_new_id(id);
		(void)snprintf(name, sizeof(name), "%s.copy", id);
		if ((*fdp = openat(sp->tmpfd, name, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
			if (errno == EEXIST || errno == EINTR)
				continue;
			return sys_err(errstr, "create tmp/", name);
		}
		if (unlinkat(sp->tmpfd, name, 0) == -1) {
			(void)close(*fdp);
			*fdp = -1;
			return sys_err(errstr, "unlink tmp/", name);
		}
		return SPOOL_OK;
	}
	*fdp = -1;
	set_err(errstr, "no free scratch name");
	return SPOOL_TEMPFAIL;
}

enum spool_result
spool_open_tmp(struct spool *sp, const char *id, int *fdp,
    const char **errstr)
{
	*fdp = -1;
	if (!queue_id_valid(id)) {
		set_err(errstr, "invalid queue id");
		return SPOOL_NOTFOUND;
	}
	if ((*fdp = openat(sp->tmpfd, id,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			set_err(errstr, "no such message");
			return SPOOL_NOTFOUND;
		}
		return sys_err(errstr, "open tmp/", id);
	}
	return SPOOL_OK;
}

static int
names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Every name in dirfd but "." and "..", sorted. Read in full before
 * anything is changed, so that each entry is seen exactly once.
 */
static int
names_read(int dirfd, struct names *nm, const char **errstr)
{
	DIR		*dir;
	struct dirent	*de;
	size_t		 cap = 0;
	int		 fd;

	nm->v = NULL;
	nm->n = 0;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		(void)sys_err(errstr, "open", "directory");
		return -1;
	}
	if ((dir = fdopendir(fd)) == NULL) {
		(void)sys_err(errstr, "fdopendir", "directory");
		(void)close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (nm->n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			nm->v = xreallocarray(nm->v, cap, sizeof(*nm->v));
		}
		nm->v[nm->n++] = xstrdup(de->d_name);
	}
	if (errno != 0) {
		(void)sys_err(errstr, "readdir", "directory");
		(void)closedir(dir);
		names_free(nm);
		return -1;
	}
	(void)closedir(dir);
	if (nm->n > 1)
		qsort(nm->v, nm->n, sizeof(*nm->v), names_cmp);
	return 0;
}

static void
names_free(struct names *nm)
{
	size_t	 i;

	for (i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
	nm->v = NULL;
	nm->n = 0;
}

/*
 * Move queue/name (and queue/pair, if not NULL and present) into
 * corrupt/, under the same names or with the first ".N" suffix free for
 * both. The pair (the content) goes first: should we crash in between,
 * the envelope stays in queue/ and is moved on the next start, where
 * the other order would leave the content to be discarded as an orphan.
 * The name used for the first is put in to.
 */
static int
move_corrupt(struct spool *sp, const char *name, const char *pair,
    char *to, size_t tosize)
{
	char	 pairto[NAME_MAX + 1];
	int	 n, e1, e2, havepair = 0;

	if (pair != NULL) {
		if ((e1 = exists_at(sp->queuefd, pair)) == -1)
			return -1;
		havepair = e1;
	}
	for (n = 0; n < CORRUPT_TRIES; n++) {
		if (n == 0) {
			if (osms_snprintf(to, tosize, "%s", name) == -1 ||
			    (havepair && osms_snprintf(pairto, sizeof(pairto),
			    "%s", pair) == -1)) {
				errno = ENAMETOOLONG;
				return -1;
			}
		} else if (osms_snprintf(to, tosize, "%s.%d", name, n) == -1 ||
		    (havepair && osms_snprintf(pairto, sizeof(pairto),
		    "%s.%d", pair, n) == -1)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if ((e1 = exists_at(sp->corruptfd, to)) == -1)
			return -1;
		e2 = havepair ? exists_at(sp->corruptfd, pairto) : 0;
		if (e2 == -1)
			return -1;
		if (e1 || e2)
			continue;
		if (havepair && rename_noreplace(sp->queuefd, pair,
		    sp->corruptfd, pairto) == -1) {
			if (errno == EEXIST)
				continue;
			if (errno != ENOENT)
				return -1;
		}
		if (rename_noreplace(sp->queuefd, name, sp->corruptfd,
		    to) == -1) {
			if (errno == EEXIST)
				continue;
			return -1;
		}
		return 0;
	}
	errno = EEXIST;
	return -1;
}

/* Empty tmp/: nothing there was committed. */
static void
recover_tmp(struct spool *sp, struct spool_stats *st)
{
	struct names	 nm;
	const char	*err;
	char		 id[QUEUE_ID_LEN + 1];
	size_t		 i;
	int		 r;

	if (names_read(sp->tmpfd, &nm, &err) == -1) {
		log_warnx("recover: tmp/: %s", err);
		return;
	}
	for (i = 0; i < nm.n; i++) {
		memset(id, 0, sizeof(id));
		if (strlen(nm.v[i]) >= QUEUE_ID_LEN)
			memcpy(id, nm.v[i], QUEUE_ID_LEN);
		if (!queue_id_valid(id))
			(void)osms_strlcpy(id, "-", sizeof(id));
		r = unlinkat(sp->tmpfd, nm.v[i], 0);
		if (r == -1 && errno == EISDIR)
			r = unlinkat(sp->tmpfd, nm.v[i], AT_REMOVEDIR);
		if (r == -1) {
			log_warn("recover id=%s: cannot remove tmp/%s", id,
			    nm.v[i]);
			continue;
		}
		st->discarded++;
		log_info("recover id=%s: discarded tmp/%s (uncommitted)", id,
		    nm.v[i]);
	}
	names_free(&nm);
}

/* queue/ID.env: committed, or corrupt. */
static void
recover_env(struct spool *sp, const char *id, spool_recover_cb cb,
    void *arg, struct spool_stats *st)
{
	char			 envname[SPOOL_NAMELEN], msgname[SPOOL_NAMELEN];
	char			 to[NAME_MAX + 1];
	struct envelope		 env;
	struct stat		 sb;
	enum spool_result	 res;
	const char		*err, *why;

	mkname(envname, id, NAME_ENV);
	mkname(msgname, id, NAME_MSG);
	res = load_env(sp, id, &env, &err);
	switch (res) {
	case SPOOL_OK:
		break;
	case SPOOL_CORRUPT:
		why = err;
		goto corrupt;
	case SPOOL_NOTFOUND:
		return;		/* gone meanwhile */
	default:
		/* Not corrupt, unreadable now: leave it for the next start. */
		log_warnx("recover id=%s: %s; left in queue/", id, err);
		return;
	}
	if (fstatat(sp->queuefd, msgname, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT) {
			log_warn("recover id=%s: stat queue/%s; left in queue/",
			    id, msgname);
			envelope_clear(&env);
			return;
		}
		why = "content missing";
	} else if (!S_ISREG(sb.st_mode))
		why = "content not a regular file";
	else if (sb.st_size < 0 || (uint64_t)sb.st_size != env.size)
		why = "content of the wrong size";
	else {
		st->committed++;
		log_debug("recover id=%s: committed", id);
		if (cb != NULL)
			cb(&env, arg);
		else
			envelope_clear(&env);
		return;
	}
	envelope_clear(&env);
 corrupt:
	if (move_corrupt(sp, envname, msgname, to, sizeof(to)) == -1) {
		log_warn("recover id=%s: corrupt (%s), cannot move it to "
		    "corrupt/", id, why);
		return;
	}
	st->corrupt++;
	log_warnx("recover id=%s: corrupt (%s), moved to corrupt/%s", id, why,
	    to);
}

/* queue/ID.msg: an orphan unless its envelope is there. */
static void
recover_msg(struct spool *sp, const char *id, struct spool_stats *st)
{
	char	 envname[SPOOL_NAMELEN], msgname[SPOOL_NAMELEN];
	char	 to[NAME_MAX + 1];
	int	 e;

	mkname(envname, id, NAME_ENV);
	mkname(msgname, id, NAME_MSG);
	if ((e = exists_at(sp->queuefd, envname)) == 1)
		return;		/* committed (or left for next time) */
	if (e == -1) {
		log_warn("recover id=%s: stat queue/%s", id, envname);
		return;
	}
	if (unlinkat(sp->queuefd, msgname, 0) == 0) {
		st->discarded++;
		log_info("recover id=%s: discarded queue/%s (no envelope, "
		    "uncommitted)", id, msgname);
		return;
	}
	if (errno == ENOENT)
		return;		/* moved to corrupt/ with its envelope */
	/* A directory, say: not ours to delete. */
	if (move_corrupt(sp, msgname, NULL, to, sizeof(to)) == -1) {
		log_warn("recover id=%s: cannot remove queue/%s", id, msgname);
		return;
	}
	st->corrupt++;
	log_warnx("recover id=%s: queue/%s cannot be removed, moved to "
	    "corrupt/%s", id, msgname, to);
}

/* Anything else in queue/ is not ours: keep it for a human. */
static void
recover_other(struct spool *sp, const char *name, struct spool_stats *st)
{
	char	 to[NAME_MAX + 1];

	if (move_corrupt(sp, name, NULL, to, sizeof(to)) == -1) {
		log_warn("recover id=-: stray queue/%s, cannot move it to "
		    "corrupt/", name);
		return;
	}
	st->corrupt++;
	log_warnx("recover id=-: stray queue/%s moved to corrupt/%s", name,
	    to);
}

enum spool_result
spool_recover(struct spool *sp, spool_recover_cb cb, void *arg,
    struct spool_stats *stats, const char **errstr)
{
	struct spool_stats	 local;
	struct names		 nm;
	char			 id[QUEUE_ID_LEN + 1];
	size_t			 i;
	int			 kind;

	if (stats == NULL)
		stats = &local;
	memset(stats, 0, sizeof(*stats));

	recover_tmp(sp, stats);
	if (names_read(sp->queuefd, &nm, errstr) == -1)
		return SPOOL_TEMPFAIL;
	/* Envelopes first: each decides the fate of its content. */
	for (i = 0; i < nm.n; i++) {
		if (name_parse(nm.v[i], id, &kind) == -1)
			recover_other(sp, nm.v[i], stats);
		else if (kind == 'e')
			recover_env(sp, id, cb, arg, stats);
	}
	for (i = 0; i < nm.n; i++)
		if (name_parse(nm.v[i], id, &kind) == 0 && kind == 'm')
			recover_msg(sp, id, stats);
	names_free(&nm);

	/* Make the clean-up stick, so a crash does not redo it. */
	if (fsync(sp->queuefd) == -1)
		log_warn("recover: fsync queue/");
	if (stats->corrupt > 0 && fsync(sp->corruptfd) == -1)
		log_warn("recover: fsync corrupt/");
	if (stats->discarded > 0 && fsync(sp->tmpfd) == -1)
		log_warn("recover: fsync tmp/");
	log_info("recover: %u committed, %u discarded, %u corrupt",
	    stats->committed, stats->discarded, stats->corrupt);
	return SPOOL_OK;
}

enum spool_result
spool_walk(struct spool *sp, spool_recover_cb cb, void *arg,
    const char **errstr)
{
	struct names		 nm;
	struct envelope		 env;
	enum spool_result	 res;
	char			 id[QUEUE_ID_LEN + 1];
	const char		*err;
	size_t			 i;
	int			 kind;

	if (names_read(sp->queuefd, &nm, errstr) == -1)
		return SPOOL_TEMPFAIL;
	for (i = 0; i < nm.n; i++) {
		if (name_parse(nm.v[i], id, &kind) == -1 || kind != 'e')
			continue;
		res = load_env(sp, id, &env, &err);
		if (res == SPOOL_NOTFOUND)
			continue;	/* removed meanwhile */
		if (res != SPOOL_OK) {
			log_warnx("walk id=%s: %s; skipped", id, err);
			continue;
		}
		if (cb != NULL)
			cb(&env, arg);
		else
			envelope_clear(&env);
	}
	names_free(&nm);
	return SPOOL_OK;
}
