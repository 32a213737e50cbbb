/*
 * The spool (lib/mail/spool.c): commit, load, update, remove, and
 * recovery from every state a crash can leave, in a mkdtemp directory.
 * The disk-full cases mount a small tmpfs and need root; they are
 * skipped, with a "# SKIP" line, when the mount fails.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "spool.h"
#include "test.h"
#include "util.h"

#define ID_A	"aaaaaaaaaaaaaaaa"
#define ID_B	"bbbbbbbbbbbbbbbb"
#define ID_C	"cccccccccccccccc"
#define ID_D	"dddddddddddddddd"
#define ID_E	"eeeeeeeeeeeeeeee"
#define ID_F	"ffffffffffffffff"
#define ID_G	"0000000000000001"
#define ID_H	"0000000000000002"
#define ID_I	"0000000000000003"
#define ID_J	"0000000000000004"
#define ID_K	"0000000000000005"

static char	 root[64];
static int	 rootfd = -1;

/* What a recovery or walk callback saw. */
struct seen {
	char		 ids[4096][QUEUE_ID_LEN + 1];
	size_t		 n;
	int		 dup;
	int		 bad;
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(struct spool *sp)
{
	const char	*err;

	(void)osms_strlcpy(root, "/tmp/test-spool.XXXXXX", sizeof(root));
	if (mkdtemp(root) == NULL)
		return -1;
	if ((rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (spool_open(sp, rootfd, &err) != SPOOL_OK) {
		(void)printf("# spool_open: %s\n", err);
		return -1;
	}
	return 0;
}

static void
teardown(struct spool *sp)
{
	spool_close(sp);
	if (rootfd != -1)
		(void)close(rootfd);
	rootfd = -1;
	(void)nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n;
}

static int
count_entries(int dirfd)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, n = 0;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	(void)closedir(d);
	return n;
}

static int
has(int dirfd, const char *name)
{
	struct stat	 st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int
has2(int dirfd, const char *id, const char *suffix)
{
	char	 name[64];

	(void)osms_snprintf(name, sizeof(name), "%s%s", id, suffix);
	return has(dirfd, name);
}

static int
put_file(int dirfd, const char *name, const void *p, size_t len)
{
	int	 fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return -1;
	if (len > 0 && write(fd, p, len) != (ssize_t)len) {
		(void)close(fd);
		return -1;
	}
	return close(fd);
}

static void
make_env(struct envelope *env, const char *id, uint64_t size)
{
	struct env_rcpt	 rc;
	struct env_dest	 d;

	envelope_init(env);
	(void)osms_strlcpy(env->id, id, sizeof(env->id));
	env->created = 1700000000;
	(void)osms_strlcpy(env->sender, "alice@example.test",
	    sizeof(env->sender));
	(void)osms_strlcpy(env->client, "192.0.2.7", sizeof(env->client));
	env->size = size;
	memset(&rc, 0, sizeof(rc));
	(void)osms_strlcpy(rc.address, "bob@example.test", sizeof(rc.address));
	(void)envelope_add_rcpt(env, &rc);
	memset(&d, 0, sizeof(d));
	d.kind = DEST_MAILBOX;
	(void)osms_strlcpy(d.address, "bob@example.test", sizeof(d.address));
	(void)osms_strlcpy(d.mailbox, "example.test/bob", sizeof(d.mailbox));
	(void)envelope_add_dest(env, &d);
}

/* queue/ID.env (or any name in any dir) holding env's encoding. */
static int
put_env(int dirfd, const char *name, const struct envelope *env)
{
	uint8_t	*b;
	size_t	 l;
	int	 r;

	if (envelope_encode(env, &b, &l) == -1)
		return -1;
	r = put_file(dirfd, name, b, l);
	free(b);
	return r;
}

/* Content of len bytes, a pattern derived from the id. */
static void
content(const char *id, char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		buf[i] = i % 64 == 63 ? '\n' : id[i % QUEUE_ID_LEN];
}

/* A message received and committed through the API, as the role does. */
static enum spool_result
receive(struct spool *sp, char *id, size_t len, const char **err)
{
	struct envelope		 env;
	enum spool_result	 r;
	char			*buf;
	int			 fd;

	if ((r = spool_create(sp, id, &fd, err)) != SPOOL_OK)
		return r;
	buf = xmalloc(len + 1);
	content(id, buf, len);
	if (len > 0 && write(fd, buf, len) != (ssize_t)len) {
		*err = "write";
		free(buf);
		(void)close(fd);
		return SPOOL_TEMPFAIL;
	}
	free(buf);
	(void)close(fd);
	make_env(&env, id, len);
	r = spool_commit(sp, &env, err);
	envelope_clear(&env);
	return r;
}

static void
seen_cb(struct envelope *env, void *arg)
{
	struct seen	*s = arg;
	size_t		 i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], env->id) == 0)
			s->dup++;
	if (s->n < nitems(s->ids))
		(void)osms_strlcpy(s->ids[s->n++], env->id,
		    sizeof(s->ids[0]));
	if (env->nrcpts != 1 ||
	    strcmp(env->rcpts[0].address, "bob@example.test") != 0)
		s->bad++;
	envelope_clear(env);
}

static int
seen_has(const struct seen *s, const char *id)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return 1;
	return 0;
}

static void
test_open(void)
{
	struct spool	 sp, sp2;
	struct stat	 st;
	const char	*err;
	int		 fds;

	test_begin("spool: open makes tmp/ queue/ corrupt/ 0700, reopens");
	fds = count_fds();
	test_assert(setup(&sp) == 0);
	test_assert(fstatat(rootfd, "tmp", &st, 0) == 0 &&
	    S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
	test_assert(fstatat(rootfd, "queue", &st, 0) == 0 &&
	    (st.st_mode & 07777) == 0700);
	test_assert(fstatat(rootfd, "corrupt", &st, 0) == 0 &&
	    (st.st_mode & 07777) == 0700);
	test_assert(spool_open(&sp2, rootfd, &err) == SPOOL_OK);
	test_assert(sp2.rootfd != rootfd && sp2.rootfd != -1);
	test_assert(fcntl(sp2.queuefd, F_GETFD) & FD_CLOEXEC);
	spool_close(&sp2);
	test_assert(sp2.queuefd == -1);
	/* queue is a symbolic link: refused. */
	test_assert(mkdirat(rootfd, "elsewhere", 0700) == 0);
	test_assert(unlinkat(rootfd, "corrupt", AT_REMOVEDIR) == 0);
	test_assert(symlinkat("elsewhere", rootfd, "corrupt") == 0);
	test_assert(spool_open(&sp2, rootfd, &err) == SPOOL_TEMPFAIL);
	test_assert(sp2.rootfd == -1 && sp2.tmpfd == -1);
	teardown(&sp);
	test_assert(count_fds() == fds);
	test_end();
}

static void
test_ids(void)
{
	static char	 ids[1000][QUEUE_ID_LEN + 1];
	size_t		 i, j;
	int		 ok = 1;

	test_begin("spool: new ids are valid and do not repeat");
	for (i = 0; i < nitems(ids); i++) {
		spool_new_id(ids[i]);
		if (!queue_id_valid(ids[i]))
			ok = 0;
		for (j = 0; j < i; j++)
			if (strcmp(ids[i], ids[j]) == 0)
				ok = 0;
	}
	test_assert(ok);
	test_end();
}

/* The gateway's rewrite: tmp/ID.new replaces tmp/ID, or goes. */
static void
test_rewrite(void)
{
	struct spool	 sp;
	char		 id[QUEUE_ID_LEN + 1], got[16];
	const char	*err;
	int		 fd;

	test_begin("spool: a rewrite replaces the content, or is dropped");
	test_assert(setup(&sp) == 0);
	test_assert(spool_create(&sp, id, &fd, &err) == SPOOL_OK);
	test_assert(write(fd, "old", 3) == 3 && close(fd) == 0);
	test_assert(spool_rewrite_open(&sp, id, &fd, &err) == SPOOL_OK);
	test_assert((fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY);
	test_assert(write(fd, "new!", 4) == 4 && close(fd) == 0);
	test_assert(has2(sp.tmpfd, id, ".new"));
	test_assert(spool_rewrite_end(&sp, id, 1, &err) == SPOOL_OK);
	test_assert(!has2(sp.tmpfd, id, ".new"));
	test_assert(spool_open_tmp(&sp, id, &fd, &err) == SPOOL_OK);
	memset(got, 0, sizeof(got));
	test_assert(read(fd, got, sizeof(got)) == 4 &&
	    memcmp(got, "new!", 4) == 0);
	(void)close(fd);
	/* Dropped: the content stays. */
	test_assert(spool_rewrite_open(&sp, id, &fd, &err) == SPOOL_OK);
	test_assert(write(fd, "other", 5) == 5 && close(fd) == 0);
	test_assert(spool_rewrite_end(&sp, id, 0, &err) == SPOOL_OK);
	test_assert(spool_open_tmp(&sp, id, &fd, &err) == SPOOL_OK);
	test_assert(read(fd, got, sizeof(got)) == 4);
	(void)close(fd);
	/* An abort takes a rewrite in progress with it. */
	test_assert(spool_rewrite_open(&sp, id, &fd, &err) == SPOOL_OK);
	(void)close(fd);
	spool_abort(&sp, id);
	test_assert(count_entries(sp.tmpfd) == 0);
	test_assert(spool_rewrite_open(&sp, "../../etc/passwd", &fd, &err) ==
	    SPOOL_NOTFOUND && fd == -1);
	teardown(&sp);
	test_end();
}

static void
test_cycle(void)
{
	struct spool	 sp;
	struct envelope	 env, back;
	struct stat	 st;
	char		 id[QUEUE_ID_LEN + 1], buf[5000], got[5000];
	const char	*err;
	int		 fd, fd2;

	test_begin("spool: create, commit, load, update, remove");
	test_assert(setup(&sp) == 0);
	test_assert(spool_create(&sp, id, &fd, &err) == SPOOL_OK);
	test_assert(queue_id_valid(id) && fd >= 0);
	test_assert(fstatat(sp.tmpfd, id, &st, 0) == 0 &&
	    (st.st_mode & 07777) == 0600);
	test_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	content(id, buf, sizeof(buf));
	test_assert(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	test_assert(close(fd) == 0);
	test_assert(spool_open_tmp(&sp, id, &fd, &err) == SPOOL_OK);
	test_assert(read(fd, got, sizeof(got)) == (ssize_t)sizeof(got));
	test_assert(memcmp(buf, got, sizeof(buf)) == 0);
	(void)close(fd);

	make_env(&env, id, sizeof(buf));
	env.requiretls = 1;
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_OK);
	test_assert(count_entries(sp.tmpfd) == 0);
	test_assert(count_entries(sp.queuefd) == 2);
	test_assert(has2(sp.queuefd, id, ".msg") && has2(sp.queuefd, id,
	    ".env"));
	test_assert(spool_open_tmp(&sp, id, &fd, &err) == SPOOL_NOTFOUND &&
	    fd == -1);

	test_assert(spool_open_content(&sp, id, &fd, &err) == SPOOL_OK);
	memset(got, 0, sizeof(got));
	test_assert(read(fd, got, sizeof(got)) == (ssize_t)sizeof(got));
	test_assert(memcmp(buf, got, sizeof(buf)) == 0);
	test_assert((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
	test_assert(write(fd, "x", 1) == -1);
	(void)close(fd);

	test_assert(spool_load(&sp, id, &back, &err) == SPOOL_OK);
	test_assert(strcmp(back.id, id) == 0 && back.size == sizeof(buf) &&
	    back.requiretls == 1 && back.ndests == 1 &&
	    back.dests[0].state == DEST_PENDING);
	envelope_clear(&back);

	env.dests[0].state = DEST_DONE;
	env.dests[0].attempts = 2;
	test_assert(spool_update(&sp, &env, &err) == SPOOL_OK);
	test_assert(count_entries(sp.tmpfd) == 0);
	test_assert(count_entries(sp.queuefd) == 2);
	test_assert(spool_load(&sp, id, &back, &err) == SPOOL_OK);
	test_assert(back.dests[0].state == DEST_DONE &&
	    back.dests[0].attempts == 2);
	envelope_clear(&back);

	/* A reader keeps its descriptor across the removal. */
	test_assert(spool_open_content(&sp, id, &fd2, &err) == SPOOL_OK);
	test_assert(spool_remove(&sp, id, &err) == SPOOL_OK);
	test_assert(count_entries(sp.queuefd) == 0);
	test_assert(read(fd2, got, 10) == 10);
	(void)close(fd2);
	test_assert(spool_remove(&sp, id, &err) == SPOOL_NOTFOUND);
	test_assert(spool_load(&sp, id, &back, &err) == SPOOL_NOTFOUND);
	test_assert(back.nrcpts == 0 && back.rcpts == NULL);
	test_assert(spool_open_content(&sp, id, &fd, &err) ==
	    SPOOL_NOTFOUND && fd == -1);
	/* An update never commits a message that is not there. */
	test_assert(spool_update(&sp, &env, &err) == SPOOL_NOTFOUND);
	test_assert(count_entries(sp.queuefd) == 0);
	test_assert(count_entries(sp.tmpfd) == 0);

	/* Invalid ids are refused everywhere. */
	test_assert(spool_load(&sp, "../../etc/passwd", &back, &err) ==
	    SPOOL_NOTFOUND);
	test_assert(spool_remove(&sp, "AAAAAAAAAAAAAAAA", &err) ==
	    SPOOL_NOTFOUND);
	test_assert(spool_open_content(&sp, "", &fd, &err) ==
	    SPOOL_NOTFOUND);
	test_assert(spool_open_tmp(&sp, "..", &fd, &err) == SPOOL_NOTFOUND);
	spool_abort(&sp, "../x");
	envelope_clear(&env);
	teardown(&sp);
	test_end();
}

static void
test_commit_refused(void)
{
	struct spool	 sp;
	struct envelope	 env;
	char		 id[QUEUE_ID_LEN + 1], id2[QUEUE_ID_LEN + 1];
	const char	*err = NULL;
	int		 fd;

	test_begin("spool: commit refuses a size mismatch and bad envelopes");
	test_assert(setup(&sp) == 0);
	test_assert(spool_create(&sp, id, &fd, &err) == SPOOL_OK);
	test_assert(write(fd, "hello\r\n", 7) == 7);

	make_env(&env, id, 8);
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_TEMPFAIL);
	test_assert(err != NULL && strcmp(err, "content size changed") == 0);
	test_assert(count_entries(sp.queuefd) == 0);
	test_assert(count_entries(sp.tmpfd) == 1 && has(sp.tmpfd, id));

	/* A field the encoder refuses. */
	env.size = 7;
	env.rcpts[0].address[3] = '\n';
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_TEMPFAIL);
	test_assert(count_entries(sp.queuefd) == 0);
	test_assert(count_entries(sp.tmpfd) == 1);
	env.rcpts[0].address[3] = '@';
	(void)osms_strlcpy(env.id, "not-an-id", sizeof(env.id));
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_TEMPFAIL);
	(void)osms_strlcpy(env.id, id, sizeof(env.id));

	/* The content grows after the check: still refused. */
	test_assert(write(fd, "x", 1) == 1);
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_TEMPFAIL);
	test_assert(ftruncate(fd, 7) == 0);
	(void)close(fd);

	/* tmp/ID was kept: a retry commits. */
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_OK);
	test_assert(count_entries(sp.tmpfd) == 0);
	test_assert(count_entries(sp.queuefd) == 2);

	/* A commit with no content in tmp/. */
	spool_new_id(id2);
	(void)osms_strlcpy(env.id, id2, sizeof(env.id));
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_TEMPFAIL);
	test_assert(count_entries(sp.queuefd) == 2);
	test_assert(count_entries(sp.tmpfd) == 0);

	/* tmp/ID a symbolic link: not followed. */
	test_assert(symlinkat("../queue", sp.tmpfd, id2) == 0);
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_TEMPFAIL);
	test_assert(unlinkat(sp.tmpfd, id2, 0) == 0);
	envelope_clear(&env);
	teardown(&sp);
	test_end();
}

static void
test_no_replace(void)
{
	struct spool	 sp;
	struct envelope	 env;
	char		 id[QUEUE_ID_LEN + 1], got[16];
	const char	*err;
	int		 fd;

	test_begin("spool: a commit never replaces a committed message");
	test_assert(setup(&sp) == 0);
	test_assert(receive(&sp, id, 100, &err) == SPOOL_OK);
	/* The same id again in tmp/, as if random ids had collided. */
	test_assert(put_file(sp.tmpfd, id, "other", 5) == 0);
	make_env(&env, id, 5);
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_TEMPFAIL);
	test_assert(spool_open_content(&sp, id, &fd, &err) == SPOOL_OK);
	test_assert(read(fd, got, sizeof(got)) == (ssize_t)sizeof(got));
	(void)close(fd);
	test_assert(memcmp(got, id, sizeof(got)) == 0);
	/* What failed was put back: tmp/ID is there, tmp/ID.env is not. */
	test_assert(has(sp.tmpfd, id) && count_entries(sp.tmpfd) == 1);
	spool_abort(&sp, id);
	test_assert(count_entries(sp.tmpfd) == 0);
	test_assert(count_entries(sp.queuefd) == 2);
	envelope_clear(&env);
	teardown(&sp);
	test_end();
}

/*
 * The states a commit leaves on disk after each of its steps, built by
 * hand; recovery must discard all but the last.
 */
static void
test_recover_steps(void)
{
	struct spool		 sp;
	struct spool_stats	 st;
	struct envelope		 env;
	struct seen		*seen;
	char			 buf[300];
	const char		*err;
	int			 step;

	test_begin("spool: recovery after a crash at each step of commit");
	seen = xcalloc(1, sizeof(*seen));
	content(ID_A, buf, sizeof(buf));
	make_env(&env, ID_A, sizeof(buf));
	for (step = 0; step <= 5; step++) {
		test_assert(setup(&sp) == 0);
		memset(seen, 0, sizeof(*seen));
		/* 0: created, part written; 1: written, fsync'd. */
		test_assert(put_file(sp.tmpfd, ID_A, buf,
		    step == 0 ? sizeof(buf) / 2 : sizeof(buf)) == 0);
		/* 2: the envelope written beside it (maybe torn). */
		if (step >= 2)
			test_assert(put_env(sp.tmpfd, ID_A ".env", &env) == 0);
		/* 3: the content renamed into queue/. */
		if (step >= 3)
			test_assert(renameat(sp.tmpfd, ID_A, sp.queuefd,
			    ID_A ".msg") == 0);
		/* 4, 5: the envelope renamed; queue/ fsync'd or not. */
		if (step >= 4)
			test_assert(renameat(sp.tmpfd, ID_A ".env",
			    sp.queuefd, ID_A ".env") == 0);
		test_assert(spool_recover(&sp, seen_cb, seen, &st, &err) ==
		    SPOOL_OK);
		test_assert(count_entries(sp.tmpfd) == 0);
		test_assert(count_entries(sp.corruptfd) == 0);
		test_assert(st.corrupt == 0);
		if (step >= 4) {
			test_assert(st.committed == 1 && seen->n == 1 &&
			    seen->dup == 0 && seen->bad == 0);
			test_assert(st.discarded == 0);
			test_assert(count_entries(sp.queuefd) == 2);
		} else {
			test_assert(st.committed == 0 && seen->n == 0);
			test_assert(st.discarded == (step >= 2 ? 2u : 1u));
			test_assert(count_entries(sp.queuefd) == 0);
		}
		teardown(&sp);
	}
	envelope_clear(&env);
	free(seen);
	test_end();
}

static void
test_recover_mixed(void)
{
	struct spool		 sp;
	struct spool_stats	 st;
	struct envelope		 env;
	struct seen		*seen;
	char			 gid[QUEUE_ID_LEN + 1], buf[100];
	uint8_t			*b;
	size_t			 l;
	const char		*err;

	test_begin("spool: recovery sorts a damaged spool");
	seen = xcalloc(1, sizeof(*seen));
	test_assert(setup(&sp) == 0);
	content(ID_A, buf, sizeof(buf));

	/* Committed through the API, and by hand. */
	test_assert(receive(&sp, gid, 1234, &err) == SPOOL_OK);
	make_env(&env, ID_H, sizeof(buf));
	test_assert(put_env(sp.queuefd, ID_H ".env", &env) == 0);
	test_assert(put_file(sp.queuefd, ID_H ".msg", buf, sizeof(buf)) == 0);
	envelope_clear(&env);

	/* Uncommitted: tmp/ content, tmp/ pair, msg without env. */
	test_assert(put_file(sp.tmpfd, ID_A, buf, 10) == 0);
	test_assert(put_file(sp.tmpfd, ID_B, buf, sizeof(buf)) == 0);
	make_env(&env, ID_B, sizeof(buf));
	test_assert(put_env(sp.tmpfd, ID_B ".env", &env) == 0);
	envelope_clear(&env);
	test_assert(put_file(sp.queuefd, ID_C ".msg", buf, sizeof(buf)) == 0);
	test_assert(mkdirat(sp.tmpfd, "leftover", 0700) == 0);

	/* Corrupt: env without msg (and a name taken in corrupt/). */
	make_env(&env, ID_D, sizeof(buf));
	test_assert(put_env(sp.queuefd, ID_D ".env", &env) == 0);
	test_assert(put_file(sp.corruptfd, ID_D ".env", "old", 3) == 0);
	envelope_clear(&env);
	/* Content of the wrong size. */
	make_env(&env, ID_E, sizeof(buf) + 1);
	test_assert(put_env(sp.queuefd, ID_E ".env", &env) == 0);
	test_assert(put_file(sp.queuefd, ID_E ".msg", buf, sizeof(buf)) == 0);
	envelope_clear(&env);
	/* Garbage. */
	test_assert(put_file(sp.queuefd, ID_F ".env", "garbage\n", 8) == 0);
	test_assert(put_file(sp.queuefd, ID_F ".msg", buf, sizeof(buf)) == 0);
	/* Torn: half an envelope. */
	make_env(&env, ID_I, sizeof(buf));
	test_assert(envelope_encode(&env, &b, &l) == 0);
	test_assert(put_file(sp.queuefd, ID_I ".env", b, l / 2) == 0);
	test_assert(put_file(sp.queuefd, ID_I ".msg", buf, sizeof(buf)) == 0);
	free(b);
	envelope_clear(&env);
	/* Another message's envelope under this name. */
	make_env(&env, ID_K, sizeof(buf));
	test_assert(put_env(sp.queuefd, ID_J ".env", &env) == 0);
	test_assert(put_file(sp.queuefd, ID_J ".msg", buf, sizeof(buf)) == 0);
	envelope_clear(&env);
	/* A symbolic link as envelope. */
	test_assert(symlinkat("../corrupt/" ID_D ".env", sp.queuefd,
	    ID_K ".env") == 0);
	test_assert(put_file(sp.queuefd, ID_K ".msg", buf, sizeof(buf)) == 0);
	/* Names that are not ours. */
	test_assert(put_file(sp.queuefd, "README", "x", 1) == 0);
	test_assert(put_file(sp.queuefd, "0123.env", "x", 1) == 0);
	test_assert(put_file(sp.queuefd, ID_H ".tmp", "x", 1) == 0);
	test_assert(mkdirat(sp.queuefd, "subdir", 0700) == 0);
	test_assert(put_file(sp.queuefd, "AAAAAAAAAAAAAAAA.env", "x", 1) == 0);

	test_assert(spool_recover(&sp, seen_cb, seen, &st, &err) == SPOOL_OK);
	test_assert(st.committed == 2 && seen->n == 2 && seen->dup == 0 &&
	    seen->bad == 0);
	test_assert(seen_has(seen, gid) && seen_has(seen, ID_H));
	/* tmp/A, tmp/B, tmp/B.env, tmp/leftover, queue/C.msg */
	test_assert(st.discarded == 5);
	/* D E F I J K, and five strays */
	test_assert(st.corrupt == 11);
	test_assert(count_entries(sp.tmpfd) == 0);
	test_assert(count_entries(sp.queuefd) == 4);
	test_assert(has2(sp.queuefd, gid, ".env") &&
	    has2(sp.queuefd, gid, ".msg"));
	test_assert(has(sp.queuefd, ID_H ".env") &&
	    has(sp.queuefd, ID_H ".msg"));
	test_assert(has(sp.corruptfd, ID_D ".env.1"));
	test_assert(has(sp.corruptfd, ID_D ".env"));	/* untouched */
	test_assert(has(sp.corruptfd, ID_E ".env") &&
	    has(sp.corruptfd, ID_E ".msg"));
	test_assert(has(sp.corruptfd, ID_F ".env") &&
	    has(sp.corruptfd, ID_F ".msg"));
	test_assert(has(sp.corruptfd, ID_I ".env") &&
	    has(sp.corruptfd, ID_I ".msg"));
	test_assert(has(sp.corruptfd, ID_J ".env") &&
	    has(sp.corruptfd, ID_J ".msg"));
	test_assert(has(sp.corruptfd, ID_K ".env") &&
	    has(sp.corruptfd, ID_K ".msg"));
	test_assert(has(sp.corruptfd, "README") &&
	    has(sp.corruptfd, "0123.env") && has(sp.corruptfd, "subdir") &&
	    has(sp.corruptfd, ID_H ".tmp") &&
	    has(sp.corruptfd, "AAAAAAAAAAAAAAAA.env"));
	test_assert(!has(sp.corruptfd, ID_C ".msg"));
	test_assert(count_entries(sp.corruptfd) == 17);

	/* Again: nothing left to do, the same two come back. */
	memset(seen, 0, sizeof(*seen));
	test_assert(spool_recover(&sp, seen_cb, seen, &st, &err) == SPOOL_OK);
	test_assert(st.committed == 2 && st.discarded == 0 &&
	    st.corrupt == 0 && seen->n == 2);
	/* A callback-less run and stats-less run are fine too. */
	test_assert(spool_recover(&sp, NULL, NULL, NULL, &err) == SPOOL_OK);
	teardown(&sp);
	free(seen);
	test_end();
}

static void
test_walk_load_corrupt(void)
{
	struct spool	 sp;
	struct envelope	 env;
	struct seen	*seen;
	char		 id1[QUEUE_ID_LEN + 1], id2[QUEUE_ID_LEN + 1];
	const char	*err;

	test_begin("spool: walk skips bad envelopes; load moves them aside");
	seen = xcalloc(1, sizeof(*seen));
	test_assert(setup(&sp) == 0);
	test_assert(receive(&sp, id1, 10, &err) == SPOOL_OK);
	test_assert(receive(&sp, id2, 20, &err) == SPOOL_OK);
	test_assert(put_file(sp.queuefd, ID_F ".env", "junk", 4) == 0);
	test_assert(put_file(sp.queuefd, ID_F ".msg", "x", 1) == 0);
	test_assert(put_file(sp.queuefd, "stray", "x", 1) == 0);
	test_assert(spool_walk(&sp, seen_cb, seen, &err) == SPOOL_OK);
	test_assert(seen->n == 2 && seen->dup == 0 && seen_has(seen, id1) &&
	    seen_has(seen, id2));
	/* Read-only: nothing moved. */
	test_assert(count_entries(sp.queuefd) == 7);
	test_assert(count_entries(sp.corruptfd) == 0);

	test_assert(spool_load(&sp, ID_F, &env, &err) == SPOOL_CORRUPT);
	test_assert(env.nrcpts == 0 && env.rcpts == NULL);
	test_assert(has(sp.corruptfd, ID_F ".env") &&
	    has(sp.corruptfd, ID_F ".msg"));
	test_assert(count_entries(sp.queuefd) == 5);
	teardown(&sp);
	free(seen);
	test_end();
}

/*
 * A real crash: a child commits in a loop and is killed at a random
 * moment. Every id it reported (after SPOOL_OK) must come back once.
 */
static void
test_recover_killed(void)
{
	struct spool		 sp;
	struct spool_stats	 st;
	struct seen		*seen;
	char			 id[QUEUE_ID_LEN + 1];
	char			 (*reported)[QUEUE_ID_LEN + 1];
	const char		*err;
	size_t			 nrep = 0, i;
	ssize_t			 n;
	pid_t			 pid;
	int			 p[2], round, missing = 0;
	struct timespec		 ts;

	test_begin("spool: every commit reported before SIGKILL is recovered");
	seen = xcalloc(1, sizeof(*seen));
	reported = xcalloc(4096, sizeof(*reported));
	test_assert(setup(&sp) == 0);
	for (round = 0; round < 5; round++) {
		test_assert(pipe(p) == 0);
		if ((pid = fork()) == 0) {
			(void)close(p[0]);
			for (i = 0; i < 500; i++) {
				if (receive(&sp, id, 4096, &err) != SPOOL_OK)
					_exit(1);
				if (write(p[1], id, QUEUE_ID_LEN) !=
				    QUEUE_ID_LEN)
					_exit(1);
			}
			for (;;)
				(void)pause();
		}
		(void)close(p[1]);
		ts.tv_sec = 0;
		ts.tv_nsec = 20000000 + round * 7000000;
		(void)nanosleep(&ts, NULL);
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		while (nrep < 4096 &&
		    (n = read(p[0], reported[nrep], QUEUE_ID_LEN)) ==
		    QUEUE_ID_LEN)
			reported[nrep++][QUEUE_ID_LEN] = '\0';
		(void)close(p[0]);
	}
	test_assert(nrep > 0);
	test_assert(spool_recover(&sp, seen_cb, seen, &st, &err) == SPOOL_OK);
	for (i = 0; i < nrep; i++)
		if (!seen_has(seen, reported[i]))
			missing++;
	test_assert(missing == 0);
	test_assert(seen->dup == 0 && seen->bad == 0 && st.corrupt == 0);
	/* At most one commit per round finished but was not reported. */
	test_assert(seen->n >= nrep && seen->n <= nrep + 5);
	test_assert(count_entries(sp.tmpfd) == 0);
	test_assert(count_entries(sp.queuefd) == (int)(2 * seen->n));
	(void)printf("# %zu commits reported, %zu recovered, %u discarded\n",
	    nrep, seen->n, st.discarded);
	teardown(&sp);
	free(reported);
	free(seen);
	test_end();
}

/* Mount a small tmpfs on a fresh directory; -1 (and why) if we cannot. */
static int
mount_small(char *dir, size_t size, const char *opts, const char **why)
{
	(void)osms_strlcpy(dir, "/tmp/test-spool-fs.XXXXXX", size);
	if (mkdtemp(dir) == NULL) {
		*why = "mkdtemp";
		return -1;
	}
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) == -1) {
		*why = strerror(errno);
		(void)rmdir(dir);
		return -1;
	}
	return 0;
}

static void
unmount_small(const char *dir)
{
	(void)umount2(dir, MNT_DETACH);
	(void)rmdir(dir);
}

static void
test_nospace(void)
{
	static const char	 name[] = "spool: disk full gives "
				    "SPOOL_NOSPACE, no partial file in queue/";
	struct spool		 sp;
	struct envelope		 env;
	char			 dir[64], id[QUEUE_ID_LEN + 1], chunk[4096];
	const char		*err, *why;
	int			 dfd, fd, ffd;
	ssize_t			 n;

	if (mount_small(dir, sizeof(dir), "size=256k,mode=0700", &why) ==
	    -1) {
		(void)printf("ok - %s # SKIP cannot mount tmpfs: %s\n", name,
		    why);
		return;
	}
	test_begin(name);
	test_assert((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1);
	test_assert(spool_open(&sp, dfd, &err) == SPOOL_OK);

	/* 100 KB of content fits. */
	test_assert(spool_create(&sp, id, &fd, &err) == SPOOL_OK);
	memset(chunk, 'x', sizeof(chunk));
	for (n = 0; n < 25; n++)
		test_assert(write(fd, chunk, sizeof(chunk)) == sizeof(chunk));
	(void)close(fd);
	/* Fill the rest, so the envelope does not fit. */
	test_assert((ffd = openat(dfd, "filler", O_WRONLY | O_CREAT,
	    0600)) != -1);
	while (write(ffd, chunk, sizeof(chunk)) > 0)
		;
	test_assert(errno == ENOSPC);

	make_env(&env, id, 25 * sizeof(chunk));
	err = NULL;
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_NOSPACE);
	test_assert(err != NULL && strstr(err, "No space") != NULL);
	test_assert(count_entries(sp.queuefd) == 0);
	test_assert(count_entries(sp.tmpfd) == 1 && has(sp.tmpfd, id));

	/* Space again: the retry commits. */
	test_assert(ftruncate(ffd, 0) == 0);
	(void)close(ffd);
	test_assert(spool_commit(&sp, &env, &err) == SPOOL_OK);
	test_assert(count_entries(sp.queuefd) == 2);
	test_assert(count_entries(sp.tmpfd) == 0);

	/* Full again: an update fails, the old envelope stays whole. */
	test_assert((ffd = openat(dfd, "filler", O_WRONLY)) != -1);
	while (write(ffd, chunk, sizeof(chunk)) > 0)
		;
	env.dests[0].state = DEST_DONE;
	test_assert(spool_update(&sp, &env, &err) == SPOOL_NOSPACE);
	test_assert(count_entries(sp.tmpfd) == 0);
	envelope_clear(&env);
	test_assert(spool_load(&sp, id, &env, &err) == SPOOL_OK);
	test_assert(env.dests[0].state == DEST_PENDING);
	envelope_clear(&env);
	(void)close(ffd);

	spool_close(&sp);
	(void)close(dfd);
	unmount_small(dir);

	/* Out of inodes: spool_create itself says NOSPACE. */
	if (mount_small(dir, sizeof(dir), "size=256k,nr_inodes=8,mode=0700",
	    &why) == 0) {
		test_assert((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1);
		test_assert(spool_open(&sp, dfd, &err) == SPOOL_OK);
		while ((n = spool_create(&sp, id, &fd, &err)) == SPOOL_OK)
			(void)close(fd);
		test_assert(n == SPOOL_NOSPACE);
		spool_close(&sp);
		(void)close(dfd);
		unmount_small(dir);
	}
	test_end();
}

/* Every call, failures included, gives back what it opened. */
static void
test_fd_leaks(void)
{
	struct spool		 sp;
	struct spool_stats	 st;
	struct envelope		 env;
	struct seen		*seen;
	char			 id[QUEUE_ID_LEN + 1];
	const char		*err;
	int			 before, fd, i;

	test_begin("spool: no descriptor leaks");
	seen = xcalloc(1, sizeof(*seen));
	test_assert(setup(&sp) == 0);
	before = count_fds();
	for (i = 0; i < 20; i++) {
		test_assert(receive(&sp, id, (size_t)i * 100, &err) ==
		    SPOOL_OK);
		test_assert(spool_load(&sp, id, &env, &err) == SPOOL_OK);
		env.dests[0].attempts++;
		test_assert(spool_update(&sp, &env, &err) == SPOOL_OK);
		env.size++;
		test_assert(put_file(sp.tmpfd, id, "x", 1) == 0);
		test_assert(spool_commit(&sp, &env, &err) != SPOOL_OK);
		spool_abort(&sp, id);
		envelope_clear(&env);
		test_assert(spool_open_content(&sp, id, &fd, &err) ==
		    SPOOL_OK);
		(void)close(fd);
		if (i % 2)
			test_assert(spool_remove(&sp, id, &err) == SPOOL_OK);
	}
	test_assert(put_file(sp.queuefd, ID_F ".env", "junk", 4) == 0);
	test_assert(put_file(sp.tmpfd, ID_A, "junk", 4) == 0);
	test_assert(spool_walk(&sp, seen_cb, seen, &err) == SPOOL_OK);
	test_assert(spool_load(&sp, ID_E, &env, &err) == SPOOL_NOTFOUND);
	test_assert(spool_recover(&sp, seen_cb, seen, &st, &err) == SPOOL_OK);
	test_assert(st.committed == 10 && st.corrupt == 1);
	test_assert(count_fds() == before);
	teardown(&sp);
	free(seen);
	test_end();
}

int
main(void)
{
	int	 fds;

	log_init(1, 0);
	log_procinit("test-spool");
	fds = count_fds();
	test_open();
	test_ids();
	test_cycle();
	test_rewrite();
	test_commit_refused();
	test_no_replace();
	test_recover_steps();
	test_recover_mixed();
	test_walk_load_corrupt();
	test_recover_killed();
	test_nospace();
	test_fd_leaks();
	test_begin("spool: no descriptor left open by the whole run");
	test_assert(count_fds() == fds);
	test_end();
	return test_exit();
}
