/*
 * Maildir delivery (lib/mail/maildir.c), in a mkdtemp directory:
 *	root/		the mail store, whose descriptor is rootfd
 *	outside/	where planted links point; must stay empty
 * Hostile cases first: paths, links, planted files; then contents,
 * exactly-once, quota, failures. Every case checks that no descriptor
 * leaks. The permission cases run in a child that drops to uid 65534
 * (the tests run as root, which ignores modes).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "test.h"
#include "util.h"

#define NOBODY		65534
#define BIG		(64 * 1024)	/* maildir.c's buffer size */

static char	 topdir[] = "/tmp/test-maildir.XXXXXX";
static char	 rootdir[64];
static char	 outdir[64];
static int	 rootfd = -1;
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

/* Empty a directory, whatever the modes inside. */
static void
empty_dir(const char *dir)
{
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1) {
		perror(dir);
		exit(2);
	}
}

static int
chown_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, NOBODY, NOBODY) == -1 ? -1 : 0;
}

static void
begin(const char *name)
{
	test_begin(name);
	empty_dir(rootdir);
	empty_dir(outdir);
	(void)alarm(30);	/* a FIFO opened by mistake hangs */
	fds_before = fd_count();
}

static void
end(void)
{
	test_assert(fd_count() == fds_before);
	test_end();
}

/* A message file holding len bytes, offset left at 0. */
static int
msg_fd(const void *msg, size_t len)
{
	int	 fd;

	if ((fd = open(topdir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600)) == -1 ||
	    (len > 0 && write(fd, msg, len) != (ssize_t)len) ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		perror("msg_fd");
		exit(2);
	}
	return fd;
}

static void
md_init(struct maildir_delivery *d, const char *path, const char *name)
{
	memset(d, 0, sizeof(*d));
	d->rootfd = rootfd;
	d->path = path;
	d->name = name;
	d->create = 1;
	d->msgfd = -1;
}

static enum maildir_result
run_len(struct maildir_delivery *d, const void *msg, size_t len,
    uint64_t *written)
{
	enum maildir_result	 r;
	const char		*e = NULL;
	uint64_t		 w = 12345;

	d->msgfd = msg_fd(msg, len);
	r = maildir_deliver(d, &w, &e);
	(void)close(d->msgfd);
	d->msgfd = -1;
	if (r == MAILDIR_OK || r == MAILDIR_DUPLICATE)
		test_assert(r == MAILDIR_DUPLICATE || e == NULL);
	else
		test_assert(e != NULL && *e != '\0' && !str_has_ctl(e));
	if (r != MAILDIR_OK)
		test_assert(w == 0);
	if (written != NULL)
		*written = w;
	return r;
}

static enum maildir_result
run(struct maildir_delivery *d, const char *msg)
{
	return run_len(d, msg, strlen(msg), NULL);
}

/* The last errstr, for cases that check its text. */
static enum maildir_result
run_err(struct maildir_delivery *d, const char *msg, const char **e)
{
	enum maildir_result	 r;

	d->msgfd = msg_fd(msg, strlen(msg));
	r = maildir_deliver(d, NULL, e);
	(void)close(d->msgfd);
	d->msgfd = -1;
	return r;
}

static void
mkdir_root(const char *rel)
{
	if (mkdirat(rootfd, rel, 0700) == -1) {
		perror(rel);
		exit(2);
	}
}

static void
make_maildir(const char *rel)
{
	char	 p[PATH_MAX];

	mkdir_root(rel);
	(void)snprintf(p, sizeof(p), "%s/tmp", rel);
	mkdir_root(p);
	(void)snprintf(p, sizeof(p), "%s/new", rel);
	mkdir_root(p);
	(void)snprintf(p, sizeof(p), "%s/cur", rel);
	mkdir_root(p);
}

static void
put_str(const char *rel, const char *s)
{
	test_put_file(rootfd, rel, s, strlen(s));
}

/*
 * The message delivered as name into root/dir: the one entry
 * "<name>,S=<size>,W=<wire size>" there, whose sizes must be those of
 * its content (W= counting every LF as CRLF). Its path, or "" (which
 * no test_file_is(rootfd, ) matches) if there is no such entry, several, or sizes
 * that are off. Four results live at once.
 */
static const char *
delivered(const char *dir, const char *name)
{
	static char	 paths[4][PATH_MAX];
	static int	 next;
	char		*p = paths[next++ % 4], *buf, *end;
	DIR		*dp;
	struct dirent	*de;
	size_t		 nlen = strlen(name), len, i, lfs;
	unsigned long long s = 0, w = 0;
	int		 fd, found = 0;

	p[0] = '\0';
	if ((fd = openat(rootfd, dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dp = fdopendir(fd)) == NULL)
		exit(2);
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, name, nlen) != 0 ||
		    strncmp(de->d_name + nlen, ",S=", 3) != 0)
			continue;
		s = strtoull(de->d_name + nlen + 3, &end, 10);
		if (strncmp(end, ",W=", 3) != 0)
			continue;
		w = strtoull(end + 3, &end, 10);
		if (*end != '\0')
			continue;
		found++;
		(void)snprintf(p, PATH_MAX, "%s/%s", dir, de->d_name);
	}
	(void)closedir(dp);
	if (found != 1) {
		(void)printf("# %s/%s: %d entries\n", dir, name, found);
		p[0] = '\0';
		return p;
	}
	if ((buf = test_get_file(rootfd, p, &len)) == NULL)
		exit(2);
	for (i = lfs = 0; i < len; i++)
		if (buf[i] == '\n')
			lfs++;
	free(buf);
	if (s != len || w != len + lfs) {
		(void)printf("# %s: %zu bytes, %zu LFs\n", p, len, lfs);
		p[0] = '\0';
	}
	return p;
}

/* Entries in root/rel, or -1 if it cannot be opened as a directory. */
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
	return entries_at(rootfd, rel);
}

static int
outside_empty(void)
{
	return entries_at(AT_FDCWD, outdir) == 0;
}

static int
is_regular(const char *rel)
{
	struct stat	 st;

	return fstatat(rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode);
}

/* Plant a symbolic link at root/rel pointing to outside/target. */
static void
plant_link(const char *rel, const char *target)
{
	char	 to[PATH_MAX];

	if (osms_snprintf(to, sizeof(to), "%s/%s", outdir, target) == -1 ||
	    symlinkat(to, rootfd, rel) == -1) {
		perror(rel);
		exit(2);
	}
}

/* CRLF -> LF, byte by byte: the reference for the buffered version. */
static size_t
ref_convert(const unsigned char *in, size_t len, unsigned char *out)
{
	size_t	 i, o = 0;

	for (i = 0; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			continue;
		out[o++] = in[i];
	}
	return o;
}

/*
 * Run d in a child as uid/gid 65534 (the store is chowned to it first);
 * return the result, or -1 if the child failed otherwise. With fsize,
 * the child may write no file larger than that.
 */
static int
run_as_nobody(struct maildir_delivery *d, const char *msg, rlim_t fsize)
{
	struct rlimit	 rl;
	pid_t		 pid;
	int		 status;

	if (geteuid() == 0 &&
	    nftw(rootdir, chown_entry, 16, FTW_PHYS) == -1) {
		perror("chown");
		exit(2);
	}
	d->msgfd = msg_fd(msg, strlen(msg));
	(void)fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		if (geteuid() == 0) {
			gid_t	 g = NOBODY;

			if (setgroups(1, &g) == -1 ||
			    setresgid(NOBODY, NOBODY, NOBODY) == -1 ||
			    setresuid(NOBODY, NOBODY, NOBODY) == -1)
				_exit(100);
		}
		if (fsize > 0) {
			rl.rlim_cur = rl.rlim_max = fsize;
			if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR ||
			    setrlimit(RLIMIT_FSIZE, &rl) == -1)
				_exit(101);
		}
		_exit((int)maildir_deliver(d, NULL, NULL));
	}
	(void)close(d->msgfd);
	d->msgfd = -1;
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) >= 100 ? -1 : WEXITSTATUS(status);
}

/* ---- hostile paths and names ---- */

static void
test_path_valid(void)
{
	char			 comp[300], path[MAILDIR_MAX_PATH + 10];
	struct maildir_delivery	 d;
	const char		*bad[] = {
		"", "/", "/abs/alice", "..", ".", "../alice",
		"example.test/..", "example.test/../../etc",
		"a/./b", "./a", "a//b", "a/", "a\nb", "a\rb", "a\tb",
		"a/b\x7f", "a/\x1b[31m", "a/b\x01",
	};
	size_t			 i;

	begin("maildir: hostile paths are refused, nothing is made");
	test_assert(!maildir_path_valid(NULL));
	for (i = 0; i < nitems(bad); i++) {
		test_assert(!maildir_path_valid(bad[i]));
		md_init(&d, bad[i], "msg1");
		test_assert(run(&d, "x\r\n") == MAILDIR_PERMFAIL);
	}

	/* 255 bytes in a component pass, 256 do not. */
	memset(comp, 'a', 255);
	comp[255] = '\0';
	(void)snprintf(path, sizeof(path), "d/%s", comp);
	test_assert(maildir_path_valid(path));
	memset(comp, 'a', 256);
	comp[256] = '\0';
	(void)snprintf(path, sizeof(path), "d/%s", comp);
	test_assert(!maildir_path_valid(path));
	md_init(&d, path, "msg1");
	test_assert(run(&d, "x") == MAILDIR_PERMFAIL);

	/* MAILDIR_MAX_PATH bytes pass, one more does not. */
	memset(path, 'a', MAILDIR_MAX_PATH);
	for (i = 200; i < MAILDIR_MAX_PATH; i += 200)
		path[i] = '/';
	path[MAILDIR_MAX_PATH] = '\0';
	test_assert(maildir_path_valid(path));
	path[MAILDIR_MAX_PATH] = 'a';
	path[MAILDIR_MAX_PATH + 1] = '\0';
	test_assert(!maildir_path_valid(path));
	md_init(&d, path, "msg1");
	test_assert(run(&d, "x") == MAILDIR_PERMFAIL);

	/* Acceptable, if odd: folders, dots inside, 8-bit bytes. */
	test_assert(maildir_path_valid("example.test/alice"));
	test_assert(maildir_path_valid("example.test/alice/.Lists"));
	test_assert(maildir_path_valid("a/.../b"));
	test_assert(maildir_path_valid("d/j\xc3\xb6rg"));

	test_assert(entries(".") == 0);
	end();
}

static void
test_name_valid(void)
{
	char			 name[MAILDIR_MAX_NAME + 2];
	struct maildir_delivery	 d;
	const char		*bad[] = {
		"", ".", "..", ".hidden", "a:2,S", "a/b", "../x", "a b",
		"a\nb", "a,S=1", "a;b", "\xc3\xa9",
	};
	size_t			 i;

	begin("maildir: bad unique names are refused");
	test_assert(!maildir_name_valid(NULL));
	for (i = 0; i < nitems(bad); i++) {
		test_assert(!maildir_name_valid(bad[i]));
		md_init(&d, "d/u", bad[i]);
		test_assert(run(&d, "x") == MAILDIR_PERMFAIL);
	}
	memset(name, 'n', MAILDIR_MAX_NAME);
	name[MAILDIR_MAX_NAME] = '\0';
	test_assert(maildir_name_valid(name));
	name[MAILDIR_MAX_NAME] = 'n';
	name[MAILDIR_MAX_NAME + 1] = '\0';
	test_assert(!maildir_name_valid(name));
	test_assert(maildir_name_valid("1715000000.Q4a3f.alice-example.test"));
	test_assert(maildir_name_valid("a_b-c.d"));
	test_assert(entries(".") == 0);

	/* Not a request at all. */
	test_assert(maildir_deliver(NULL, NULL, NULL) == MAILDIR_TEMPFAIL);
	md_init(&d, "d/u", "m");
	d.rootfd = -1;
	test_assert(run(&d, "x") == MAILDIR_TEMPFAIL);
	end();
}

/* A link as the domain, the user, tmp/, new/ or cur/. */
static void
test_symlink_dirs(void)
{
	struct maildir_delivery	 d;
	const char		*e;
	const char		*cases[][2] = {
		/* link to plant, after making these Maildirs */
		{ "dom", NULL },
		{ "dom/alice", "" },
		{ "dom/alice/tmp", "dom/alice" },
		{ "dom/alice/new", "dom/alice" },
		{ "dom/alice/cur", "dom/alice" },
	};
	char			 p[64];
	size_t			 i;
	int			 create;

	begin("maildir: a link anywhere in the path is refused (I2)");
	for (i = 0; i < nitems(cases); i++) {
		for (create = 0; create <= 1; create++) {
			empty_dir(rootdir);
			empty_dir(outdir);
			if (cases[i][1] != NULL)
				mkdir_root("dom");
			if (cases[i][1] != NULL && cases[i][1][0] != '\0') {
				mkdir_root(cases[i][1]);
				(void)snprintf(p, sizeof(p), "%s/tmp",
				    cases[i][1]);
				if (strcmp(p, cases[i][0]) != 0)
					mkdir_root(p);
				(void)snprintf(p, sizeof(p), "%s/new",
				    cases[i][1]);
				if (strcmp(p, cases[i][0]) != 0)
					mkdir_root(p);
				(void)snprintf(p, sizeof(p), "%s/cur",
				    cases[i][1]);
				if (strcmp(p, cases[i][0]) != 0)
					mkdir_root(p);
			}
			/* To the directory outside, which must stay empty. */
			plant_link(cases[i][0], "");
			md_init(&d, "dom/alice", "msg1");
			d.create = create;
			e = NULL;
			test_assert(run_err(&d, "Subject: x\r\n\r\nhi\r\n",
			    &e) == MAILDIR_PERMFAIL);
			test_assert(e != NULL &&
			    strstr(e, "symbolic link") != NULL);
			test_assert(outside_empty());
			if (cases[i][1] != NULL && cases[i][1][0] != '\0')
				test_assert(entries("dom/alice/tmp") <= 0);
		}
	}
	/* The same with a dangling link: nothing is made at its target. */
	empty_dir(rootdir);
	mkdir_root("dom");
	plant_link("dom/alice", "nonexistent");
	md_init(&d, "dom/alice", "msg1");
	test_assert(run(&d, "x") == MAILDIR_PERMFAIL);
	test_assert(outside_empty());
	end();
}

static void
test_planted_tmp(void)
{
	struct maildir_delivery	 d;
	const char		*victim_rel = "victim";
	int			 outfd;

	begin("maildir: a link, hard link or FIFO at tmp/name is replaced");
	if ((outfd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		exit(2);

	/* A symbolic link to an existing file outside. */
	make_maildir("u");
	test_put_file(outfd, victim_rel, "orig", 4);
	plant_link("u/tmp/m1", victim_rel);
	md_init(&d, "u", "m1");
	test_assert(run(&d, "mail\r\n") == MAILDIR_OK);
	test_assert(test_file_is(rootfd, delivered("u/new", "m1"), "mail\n"));
	test_assert(entries("u/tmp") == 0);
	test_assert(entries_at(outfd, ".") == 1);

	/* A dangling link: its target is not created. */
	plant_link("u/tmp/m2", "created");
	md_init(&d, "u", "m2");
	test_assert(run(&d, "mail\r\n") == MAILDIR_OK);
	test_assert(test_file_is(rootfd, delivered("u/new", "m2"), "mail\n"));
	test_assert(entries_at(outfd, ".") == 1);

	/* A hard link to the file outside (same file system). */
	if (linkat(outfd, victim_rel, rootfd, "u/tmp/m3", 0) == -1)
		exit(2);
	md_init(&d, "u", "m3");
	test_assert(run(&d, "mail\r\n") == MAILDIR_OK);
	test_assert(test_file_is(rootfd, delivered("u/new", "m3"), "mail\n"));
	test_assert(entries("u/tmp") == 0);

	/* A FIFO: O_EXCL never opens it, so no hang. */
	if (mkfifoat(rootfd, "u/tmp/m4", 0600) == -1)
		exit(2);
	md_init(&d, "u", "m4");
	test_assert(run(&d, "mail\r\n") == MAILDIR_OK);
	test_assert(test_file_is(rootfd, delivered("u/new", "m4"), "mail\n"));
	test_assert(entries("u/tmp") == 0);

	/* A stale file from a crash. */
	put_str("u/tmp/m5", "half a mess");
	md_init(&d, "u", "m5");
	test_assert(run(&d, "mail\r\n") == MAILDIR_OK);
	test_assert(test_file_is(rootfd, delivered("u/new", "m5"), "mail\n"));
	test_assert(entries("u/tmp") == 0);

	/* A directory cannot be removed: try again later. */
	mkdir_root("u/tmp/m6");
	md_init(&d, "u", "m6");
	test_assert(run(&d, "mail\r\n") == MAILDIR_TEMPFAIL);
	test_assert(entries("u/new") == 5);

	/* A link planted as new/name is an earlier copy: nothing written
	 * through it. */
	plant_link("u/new/m7", victim_rel);
	md_init(&d, "u", "m7");
	test_assert(run(&d, "mail\r\n") == MAILDIR_DUPLICATE);

	{
		char	*buf;
		size_t	 len;

		buf = test_get_file(outfd, victim_rel, &len);
		test_assert(buf != NULL && len == 4 &&
		    memcmp(buf, "orig", 4) == 0);
		free(buf);
	}
	test_assert(entries_at(outfd, ".") == 1);
	(void)close(outfd);
	end();
}

/* ---- the tree and the contents ---- */

static void
test_create_tree(void)
{
	struct maildir_delivery	 d;
	struct stat		 st;
	const char		*e = NULL;
	const char		*dirs[] = {
		"example.test", "example.test/alice",
		"example.test/alice/.Lists", "example.test/alice/.Lists/tmp",
		"example.test/alice/.Lists/new",
		"example.test/alice/.Lists/cur",
	};
	size_t			 i;

	begin("maildir: delivery makes the whole tree, 0700");
	md_init(&d, "example.test/alice/.Lists", "m1");
	d.create = 0;
	test_assert(run_err(&d, "x", &e) == MAILDIR_PERMFAIL);
	test_assert(e != NULL && strstr(e, "no such directory") != NULL);
	test_assert(entries(".") == 0);

	d.create = 1;
	test_assert(run(&d, "Subject: hi\r\n\r\nbody\r\n") == MAILDIR_OK);
	for (i = 0; i < nitems(dirs); i++) {
		test_assert(fstatat(rootfd, dirs[i], &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
		    (st.st_mode & 07777) == 0700);
	}
	test_assert(test_file_is(rootfd, delivered("example.test/alice/.Lists/new", "m1"),
	    "Subject: hi\n\nbody\n"));
	test_assert(fstatat(rootfd, delivered("example.test/alice/.Lists/new",
	    "m1"), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (st.st_mode & 07777) == 0600);
	/* The parent has no tmp/new/cur: it is not made a Maildir. */
	test_assert(entries("example.test/alice") == 1);

	/* Existing directory, but not a Maildir, without create. */
	mkdir_root("plain");
	md_init(&d, "plain", "m1");
	d.create = 0;
	e = NULL;
	test_assert(run_err(&d, "x", &e) == MAILDIR_PERMFAIL);
	test_assert(e != NULL && strstr(e, "not a Maildir") != NULL);
	test_assert(entries("plain") == 0);
	mkdir_root("plain/tmp");
	mkdir_root("plain/new");
	test_assert(run_err(&d, "x", &e) == MAILDIR_PERMFAIL);
	test_assert(entries("plain/tmp") == 0 && entries("plain/new") == 0);

	/* A regular file in the path. */
	put_str("file", "");
	md_init(&d, "file/u", "m1");
	test_assert(run_err(&d, "x", &e) == MAILDIR_PERMFAIL);
	test_assert(e != NULL && strstr(e, "not a directory") != NULL);
	end();
}

static void
check_content(const char *what, const unsigned char *msg, size_t len,
    const char *prepend)
{
	struct maildir_delivery	 d;
	unsigned char		*in, *want;
	char			*got;
	size_t			 plen, wlen, glen;
	uint64_t		 w = 0;

	plen = prepend != NULL ? strlen(prepend) : 0;
	if ((in = malloc(plen + len + 1)) == NULL ||
	    (want = malloc(plen + len + 1)) == NULL)
		exit(2);
	if (plen > 0)
		memcpy(in, prepend, plen);
	if (len > 0)
		memcpy(in + plen, msg, len);
	wlen = ref_convert(in, plen + len, want);

	md_init(&d, "u", what);
	d.prepend = prepend;
	test_assert(run_len(&d, msg, len, &w) == MAILDIR_OK);
	test_assert(w == wlen);
	got = test_get_file(rootfd, delivered("u/new", what), &glen);
	test_assert(got != NULL && glen == wlen &&
	    (wlen == 0 || memcmp(got, want, wlen) == 0));
	if (got == NULL || glen != wlen)
		(void)printf("# %s: %zu bytes, want %zu\n", what, glen, wlen);
	free(got);
	free(want);
	free(in);
}

static void
test_content(void)
{
	unsigned char	*big;
	size_t		 i, len;
	const char	 bin[] = "a\0b\r\0\r\n\0\xff\r";
	int		 fd;

	begin("maildir: CRLF becomes LF, everything else is kept");
	check_content("simple", (const unsigned char *)"a\r\nb\r\n", 6, NULL);
	check_content("lonecr", (const unsigned char *)"a\rb\r\r\nc\n\r",
	    9, NULL);
	check_content("nofinal", (const unsigned char *)"no newline", 10,
	    NULL);
	check_content("endcr", (const unsigned char *)"x\r\n\r", 4, NULL);
	check_content("empty", (const unsigned char *)"", 0, NULL);
	check_content("binary", (const unsigned char *)bin, sizeof(bin) - 1,
	    NULL);
	check_content("prep", (const unsigned char *)"Subject: s\r\n\r\nb\r\n",
	    17, "Return-Path: <a@b.test>\r\nDelivered-To: c@d.test\r\n");
	check_content("prepempty", (const unsigned char *)"", 0,
	    "Return-Path: <>\r\n");
	/* The prepend and the message are one stream. */
	check_content("prepcr", (const unsigned char *)"\nrest", 5, "X: y\r");
	test_assert(test_file_is(rootfd, delivered("u/new", "prepcr"), "X: y\nrest"));
	test_assert(test_file_is(rootfd, delivered("u/new", "lonecr"), "a\rb\r\nc\n\r"));
	test_assert(test_file_is(rootfd, delivered("u/new", "endcr"), "x\n\r"));
	/* The sizes in the name, worked out by hand once. */
	test_assert(strcmp(delivered("u/new", "simple"),
	    "u/new/simple,S=4,W=6") == 0);
	test_assert(strcmp(delivered("u/new", "empty"),
	    "u/new/empty,S=0,W=0") == 0);
	test_assert(strcmp(delivered("u/new", "lonecr"),
	    "u/new/lonecr,S=8,W=10") == 0);

	/*
	 * Larger than the buffers, with a CRLF split at each 64 KiB read,
	 * a lone CR at a boundary, "\r\r\n" across one, and a CR at the end.
	 */
	len = 4 * BIG + 123;
	if ((big = malloc(len)) == NULL)
		exit(2);
	for (i = 0; i < len; i++)
		big[i] = (i % 71 == 69) ? '\r' : (i % 71 == 70) ? '\n' :
		    (unsigned char)('a' + i % 26);
	big[BIG - 1] = '\r';
	big[BIG] = '\n';
	big[2 * BIG - 1] = '\r';
	big[2 * BIG] = 'x';
	big[3 * BIG - 2] = '\r';
	big[3 * BIG - 1] = '\r';
	big[3 * BIG] = '\n';
	big[4 * BIG - 1] = '\0';
	big[len - 1] = '\r';
	check_content("big", big, len, NULL);
	check_content("bigprep", big, len, "Return-Path: <x@y.test>\r\n");
	/* Exactly one buffer, ending in CR, then CRLF at its end. */
	check_content("onebuf", big, BIG, NULL);
	big[BIG - 2] = '\r';
	big[BIG - 1] = '\n';
	check_content("onebufcrlf", big, BIG, NULL);
	free(big);

	/* The caller's offset does not move; reading starts at 0. */
	{
		struct maildir_delivery	 d;

		fd = msg_fd("0123456789\r\n", 12);
		if (lseek(fd, 5, SEEK_SET) != 5)
			exit(2);
		md_init(&d, "u", "offset");
		d.msgfd = fd;
		test_assert(maildir_deliver(&d, NULL, NULL) == MAILDIR_OK);
		test_assert(lseek(fd, 0, SEEK_CUR) == 5);
		(void)close(fd);
		test_assert(test_file_is(rootfd, delivered("u/new", "offset"),
		    "0123456789\n"));
	}
	test_assert(entries("u/tmp") == 0);
	end();
}

/* ---- exactly once ---- */

static void
test_exactly_once(void)
{
	struct maildir_delivery	 d;
	char			 cur[PATH_MAX];

	begin("maildir: a second delivery under a name is a DUPLICATE");
	md_init(&d, "dom/bob", "Q1.bob");
	test_assert(run(&d, "first\r\n") == MAILDIR_OK);
	/* The same message again: its name, sizes included, is taken. */
	test_assert(run(&d, "first\r\n") == MAILDIR_DUPLICATE);
	/* Other sizes: found by the unique part, with check_dup. */
	d.check_dup = 1;
	test_assert(run(&d, "second\r\n") == MAILDIR_DUPLICATE);
	test_assert(run(&d, "third\r\n") == MAILDIR_DUPLICATE);
	test_assert(entries("dom/bob/new") == 1);
	test_assert(entries("dom/bob/tmp") == 0);
	test_assert(strcmp(delivered("dom/bob/new", "Q1.bob"),
	    "dom/bob/new/Q1.bob,S=6,W=7") == 0);
	test_assert(test_file_is(rootfd, delivered("dom/bob/new", "Q1.bob"), "first\n"));

	/* A reader moved it to cur/ and set flags. */
	if (renameat(rootfd, "dom/bob/new/Q1.bob,S=6,W=7", rootfd,
	    "dom/bob/cur/Q1.bob,S=6,W=7:2,S") == -1)
		exit(2);
	test_assert(run(&d, "fourth\r\n") == MAILDIR_DUPLICATE);
	test_assert(entries("dom/bob/new") == 0);
	test_assert(entries("dom/bob/tmp") == 0);
	/* Without check_dup, cur/ is not looked at (documented cost). */
	d.check_dup = 0;
	test_assert(run(&d, "fifth\r\n") == MAILDIR_OK);
	test_assert(entries("dom/bob/new") == 1);

	/*
	 * cur/ with the bare name of earlier deliveries, with or without
	 * ":2,", or with sizes and no ":2,", counts too; a longer or a
	 * shorter name does not.
	 */
	(void)osms_strlcpy(cur, delivered("dom/bob/new", "Q1.bob"),
	    sizeof(cur));
	if (renameat(rootfd, cur, rootfd, "dom/bob/cur/Q2.bob") == -1)
		exit(2);
	put_str("dom/bob/cur/Q3.bob2:2,S", "x");
	put_str("dom/bob/cur/Q3.bob2,S=1,W=1", "x");
	put_str("dom/bob/cur/Q3.bo", "x");
	put_str("dom/bob/cur/Q5.bob,S=1,W=1", "x");
	put_str("dom/bob/cur/Q6.bob:2,", "x");
	d.check_dup = 1;
	d.name = "Q2.bob";
	test_assert(run(&d, "x") == MAILDIR_DUPLICATE);
	d.name = "Q5.bob";
	test_assert(run(&d, "x") == MAILDIR_DUPLICATE);
	d.name = "Q6.bob";
	test_assert(run(&d, "x") == MAILDIR_DUPLICATE);
	d.name = "Q3.bob";
	test_assert(run(&d, "six\r\n") == MAILDIR_OK);
	test_assert(test_file_is(rootfd, delivered("dom/bob/new", "Q3.bob"), "six\n"));

	/* The bare name in new/ is found without check_dup. */
	put_str("dom/bob/new/Q7.bob", "old\n");
	d.check_dup = 0;
	d.name = "Q7.bob";
	test_assert(run(&d, "new\r\n") == MAILDIR_DUPLICATE);
	/* Other sizes in new/: only with check_dup. */
	put_str("dom/bob/new/Q8.bob,S=99,W=100", "old\n");
	d.name = "Q8.bob";
	d.check_dup = 1;
	test_assert(run(&d, "new\r\n") == MAILDIR_DUPLICATE);
	test_assert(entries("dom/bob/tmp") == 0);

	/* A crash between link and unlink: tmp/ and new/ both hold it. */
	d.check_dup = 0;
	d.name = "Q4.bob";
	test_assert(run(&d, "seven\r\n") == MAILDIR_OK);
	if (linkat(rootfd, delivered("dom/bob/new", "Q4.bob"), rootfd,
	    "dom/bob/tmp/Q4.bob", 0) == -1)
		exit(2);
	test_assert(run(&d, "seven\r\n") == MAILDIR_DUPLICATE);
	test_assert(entries("dom/bob/tmp") == 0);
	test_assert(test_file_is(rootfd, delivered("dom/bob/new", "Q4.bob"), "seven\n"));
	d.check_dup = 1;
	if (linkat(rootfd, delivered("dom/bob/new", "Q4.bob"), rootfd,
	    "dom/bob/tmp/Q4.bob", 0) == -1)
		exit(2);
	test_assert(run(&d, "seven\r\n") == MAILDIR_DUPLICATE);
	test_assert(entries("dom/bob/tmp") == 0);
	test_assert(test_file_is(rootfd, delivered("dom/bob/new", "Q4.bob"), "seven\n"));
	end();
}

/* Several processes make the same tree at once. */
static void
test_concurrent(void)
{
	struct maildir_delivery	 d;
	char			 name[16];
	pid_t			 pid[8];
	int			 i, status, fd;

	begin("maildir: concurrent deliveries making the same tree");
	fd = msg_fd("hello\r\n", 7);
	(void)fflush(stdout);
	for (i = 0; i < 8; i++) {
		if ((pid[i] = fork()) == -1)
			exit(2);
		if (pid[i] == 0) {
			(void)snprintf(name, sizeof(name), "c%d", i);
			md_init(&d, "race.test/carol/.Sub", name);
			d.msgfd = fd;
			d.quota_bytes = 1000;
			_exit((int)maildir_deliver(&d, NULL, NULL));
		}
	}
	for (i = 0; i < 8; i++)
		test_assert(waitpid(pid[i], &status, 0) == pid[i] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == MAILDIR_OK);
	(void)close(fd);
	test_assert(entries("race.test/carol/.Sub/new") == 8);
	test_assert(entries("race.test/carol/.Sub/tmp") == 0);
	end();
}

/* ---- quota ---- */

static void
test_quota_limits(void)
{
	struct maildir_delivery	 d;

	begin("maildir: quota under, exactly at, over (bytes, messages)");
	md_init(&d, "q/u", "m1");
	d.quota_bytes = 18;
	/* 7 bytes on the wire, 6 stored: the stored size counts. */
	test_assert(run(&d, "hello\r\n") == MAILDIR_OK);
	test_assert(test_file_is(rootfd, "q/u/maildirsize", "18S\n0 0\n6 1\n"));
	d.name = "m2";
	test_assert(run(&d, "hello\r\n") == MAILDIR_OK);
	d.name = "m3";
	/* 12 used, 6 more is exactly 18. */
	d.prepend = "h\r\n";
	test_assert(run(&d, "abc\r\n") == MAILDIR_OK);
	test_assert(test_file_is(rootfd, "q/u/maildirsize", "18S\n0 0\n6 1\n6 1\n6 1\n"));
	d.prepend = NULL;
	d.name = "m4";
	test_assert(run(&d, "x") == MAILDIR_OVERQUOTA);
	/* An empty message still fits a size quota. */
	d.name = "m5";
	test_assert(run(&d, "") == MAILDIR_OK);
	test_assert(entries("q/u/new") == 4);
	test_assert(entries("q/u/tmp") == 0);
	test_assert(test_file_is(rootfd, "q/u/maildirsize",
	    "18S\n0 0\n6 1\n6 1\n6 1\n0 1\n"));

	/* Over by messages. */
	md_init(&d, "q/v", "m1");
	d.quota_messages = 2;
	test_assert(run(&d, "a") == MAILDIR_OK);
	d.name = "m2";
	test_assert(run(&d, "b") == MAILDIR_OK);
	d.name = "m3";
	test_assert(run(&d, "c") == MAILDIR_OVERQUOTA);
	test_assert(entries("q/v/new") == 2);
	test_assert(entries("q/v/tmp") == 0);
	test_assert(test_file_is(rootfd, "q/v/maildirsize", "2C\n0 0\n1 1\n1 1\n"));

	/* Both limits; a duplicate is a duplicate, not over quota. */
	md_init(&d, "q/w", "m1");
	d.quota_bytes = 1000;
	d.quota_messages = 1;
	test_assert(run(&d, "abc") == MAILDIR_OK);
	test_assert(run(&d, "abc") == MAILDIR_DUPLICATE);
	d.name = "m2";
	test_assert(run(&d, "abc") == MAILDIR_OVERQUOTA);
	test_assert(test_file_is(rootfd, "q/w/maildirsize", "1000S,1C\n0 0\n3 1\n"));

	/* Over by bytes, with a big message; nothing is written. */
	md_init(&d, "q/x", "m1");
	d.quota_bytes = 10;
	test_assert(run(&d, "0123456789a") == MAILDIR_OVERQUOTA);
	test_assert(entries("q/x/new") == 0 && entries("q/x/tmp") == 0);
	test_assert(test_file_is(rootfd, "q/x/maildirsize", "10S\n0 0\n"));
	end();
}

static void
test_quota_file(void)
{
	struct maildir_delivery	 d;
	const struct {
		const char	*file;
		size_t		 len;		/* 0: strlen */
		uint64_t	 qbytes;
		enum maildir_result result;
		const char	*after;
	} cases[] = {
		/* Kept: the sum of the lines is used. */
		{ "1000S\n500 5\n-200 -2\n  100     1\n", 0, 1000, MAILDIR_OK,
		    "1000S\n500 5\n-200 -2\n  100     1\n6 1\n" },
		{ "405S\n500 5\n-200 -2\n100\t1\n", 0, 405, MAILDIR_OVERQUOTA,
		    NULL },
		{ "406S\n500 5\n-200 -2\n100 1 \n", 0, 406, MAILDIR_OK,
		    "406S\n500 5\n-200 -2\n100 1 \n6 1\n" },
		/* Recalculated: cur/ and new/ hold 130 bytes in 3. */
		{ "garbage\n", 0, 1000, MAILDIR_OK, NULL },
		{ "", 0, 1000, MAILDIR_OK, NULL },
		{ "1000S\n", 0, 1000, MAILDIR_OK, NULL },
		{ "1000S\n5 1", 0, 1000, MAILDIR_OK, NULL },
		{ "1000S\n-5 -1\n", 0, 1000, MAILDIR_OK, NULL },
		{ "1000S\n5 -1\n", 0, 1000, MAILDIR_OK, NULL },
		{ "1000X\n0 0\n", 0, 1000, MAILDIR_OK, NULL },
		{ "1000S,1000S\n0 0\n", 0, 1000, MAILDIR_OK, NULL },
		{ "2000S\n0 0\n", 0, 1000, MAILDIR_OK, NULL },
		{ "1000S,5C\n0 0\n", 0, 1000, MAILDIR_OK, NULL },
		{ "1000S\n0 0\n\n", 0, 1000, MAILDIR_OK, NULL },
		{ "1000S\n0 x\n", 0, 1000, MAILDIR_OK, NULL },
		{ "1000S\n99999999999999999999 0\n", 0, 1000, MAILDIR_OK,
		    NULL },
		{ "1000S\n9223372036854775807 0\n1 0\n", 0, 1000, MAILDIR_OK,
		    NULL },
		{ "1000S\n0 0\0\n", 11, 1000, MAILDIR_OK, NULL },
		/* 130 + 6 > 135: over after recalculation. */
		{ "garbage", 0, 135, MAILDIR_OVERQUOTA, NULL },
	};
	char	 big[6000];
	size_t	 i, n;

	begin("maildir: maildirsize read, or recalculated when off");
	for (i = 0; i < nitems(cases); i++) {
		empty_dir(rootdir);
		make_maildir("u");
		/* 10 + 20 bytes by size, 100 by name (",S="), a dot file
		 * and a directory that do not count. */
		put_str("u/cur/a:2,S", "0123456789");
		put_str("u/cur/b", "01234567890123456789");
		put_str("u/new/c,S=100", "x");
		put_str("u/cur/.hidden", "xxxxxxxxxxxxxxxxxxxxxxxx");
		mkdir_root("u/cur/dir");
		test_put_file(rootfd, "u/maildirsize", cases[i].file,
		    cases[i].len != 0 ? cases[i].len : strlen(cases[i].file));
		md_init(&d, "u", "new1");
		d.create = 0;
		d.quota_bytes = cases[i].qbytes;
		test_assert(run(&d, "hello\n") == cases[i].result);
		if (cases[i].after != NULL)
			test_assert(test_file_is(rootfd, "u/maildirsize", cases[i].after));
		else if (cases[i].result == MAILDIR_OK) {
			char	 want[64];

			(void)snprintf(want, sizeof(want),
			    "%lluS\n130 3\n6 1\n",
			    (unsigned long long)cases[i].qbytes);
			test_assert(test_file_is(rootfd, "u/maildirsize", want));
		}
		test_assert(entries("u/tmp") == 0);
		if (fd_count() != fds_before)
			(void)printf("# case %zu leaks\n", i);
	}

	/* Over 5120 bytes: recalculated even though it parses. */
	empty_dir(rootdir);
	make_maildir("u");
	n = (size_t)snprintf(big, sizeof(big), "1000S\n");
	while (n + 4 < 5200) {
		memcpy(big + n, "0 0\n", 4);
		n += 4;
	}
	test_put_file(rootfd, "u/maildirsize", big, n);
	put_str("u/cur/a", "0123456789");
	md_init(&d, "u", "new1");
	d.quota_bytes = 1000;
	test_assert(run(&d, "hello\n") == MAILDIR_OK);
	test_assert(test_file_is(rootfd, "u/maildirsize", "1000S\n10 1\n6 1\n"));
	end();
}

static void
test_quota_hostile(void)
{
	struct maildir_delivery	 d;
	char			*buf;
	size_t			 len;
	int			 outfd;

	begin("maildir: maildirsize as a link, FIFO or directory (I2)");
	if ((outfd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		exit(2);
	make_maildir("u");
	test_put_file(outfd, "target", "9S\n0 0\n", 7);
	plant_link("u/maildirsize", "target");
	md_init(&d, "u", "m1");
	d.quota_bytes = 1000;
	test_assert(run(&d, "hi\r\n") == MAILDIR_OK);
	buf = test_get_file(outfd, "target", &len);
	test_assert(buf != NULL && len == 7 &&
	    memcmp(buf, "9S\n0 0\n", 7) == 0);
	free(buf);
	test_assert(is_regular("u/maildirsize"));
	test_assert(test_file_is(rootfd, "u/maildirsize", "1000S\n0 0\n3 1\n"));
	test_assert(entries_at(outfd, ".") == 1);

	empty_dir(rootdir);
	make_maildir("u");
	if (mkfifoat(rootfd, "u/maildirsize", 0600) == -1)
		exit(2);
	test_assert(run(&d, "hi\r\n") == MAILDIR_OK);
	test_assert(test_file_is(rootfd, "u/maildirsize", "1000S\n0 0\n3 1\n"));

	/* Cannot be replaced: delivery goes on, counting each time. */
	empty_dir(rootdir);
	make_maildir("u");
	mkdir_root("u/maildirsize");
	put_str("u/cur/a", "0123456789");
	d.quota_bytes = 14;
	test_assert(run(&d, "hi\r\n") == MAILDIR_OK);
	d.name = "m2";
	test_assert(run(&d, "h") == MAILDIR_OK);
	d.name = "m3";
	test_assert(run(&d, "h") == MAILDIR_OVERQUOTA);
	test_assert(entries("u/tmp") == 0);
	test_assert(entries("u/maildirsize") == 0);
	(void)close(outfd);
	end();
}

/* ---- failures ---- */

static void
test_unwritable(void)
{
	struct maildir_delivery	 d;
	char			 big[5000];
	int			 r;

	/*
	 * Permission problems are TEMPFAIL: the administrator fixes them
	 * and the queue delivers later (SECURITY.md, maildir-unwritable).
	 */
	begin("maildir: unwritable new/, tmp/ or Maildir is TEMPFAIL");
	make_maildir("u");
	if (fchmodat(rootfd, "u/new", 0500, 0) == -1)
		exit(2);
	md_init(&d, "u", "m1");
	r = run_as_nobody(&d, "hello\r\n", 0);
	test_assert(r == MAILDIR_TEMPFAIL);
	test_assert(entries("u/tmp") == 0 && entries("u/new") == 0);

	empty_dir(rootdir);
	make_maildir("u");
	if (fchmodat(rootfd, "u/tmp", 0500, 0) == -1)
		exit(2);
	test_assert(run_as_nobody(&d, "hello\r\n", 0) == MAILDIR_TEMPFAIL);
	test_assert(entries("u/new") == 0);

	empty_dir(rootdir);
	make_maildir("u");
	if (fchmodat(rootfd, "u", 0, 0) == -1)
		exit(2);
	test_assert(run_as_nobody(&d, "hello\r\n", 0) == MAILDIR_TEMPFAIL);
	if (fchmodat(rootfd, "u", 0700, 0) == -1)
		exit(2);
	test_assert(entries("u/new") == 0 && entries("u/tmp") == 0);

	/* Cannot make a missing new/. */
	empty_dir(rootdir);
	mkdir_root("u");
	mkdir_root("u/tmp");
	mkdir_root("u/cur");
	if (fchmodat(rootfd, "u", 0500, 0) == -1)
		exit(2);
	test_assert(run_as_nobody(&d, "hello\r\n", 0) == MAILDIR_TEMPFAIL);
	test_assert(entries("u") == 2);

	/* The same when everything is writable: the child delivers. */
	empty_dir(rootdir);
	make_maildir("u");
	test_assert(run_as_nobody(&d, "hello\r\n", 0) == MAILDIR_OK);
	test_assert(test_file_is(rootfd, delivered("u/new", "m1"), "hello\n"));

	/* A write error (EFBIG here, like ENOSPC): nothing is left. */
	empty_dir(rootdir);
	make_maildir("u");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	test_assert(run_as_nobody(&d, big, 1000) == MAILDIR_TEMPFAIL);
	test_assert(entries("u/tmp") == 0 && entries("u/new") == 0);
	end();
}

static void
test_bad_message(void)
{
	struct maildir_delivery	 d;
	const char		*e = NULL;
	int			 p[2];

	begin("maildir: an unreadable message is TEMPFAIL, nothing left");
	if (pipe(p) == -1)
		exit(2);
	md_init(&d, "u", "m1");
	d.msgfd = p[0];
	test_assert(maildir_deliver(&d, NULL, &e) == MAILDIR_TEMPFAIL);
	test_assert(e != NULL && strstr(e, "read") != NULL);
	test_assert(entries("u/tmp") == 0 && entries("u/new") == 0);
	/* The counting pass fails the same way. */
	d.quota_bytes = 100;
	test_assert(maildir_deliver(&d, NULL, &e) == MAILDIR_TEMPFAIL);
	test_assert(entries("u/tmp") == 0 && entries("u/new") == 0);
	(void)close(p[0]);
	(void)close(p[1]);
	end();
}

static void
cleanup(void)
{
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
	(void)snprintf(outdir, sizeof(outdir), "%s/outside", topdir);
	if (mkdir(rootdir, 0700) == -1 || mkdir(outdir, 0700) == -1 ||
	    (rootfd = open(rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		perror(rootdir);
		return 2;
	}

	test_path_valid();
	test_name_valid();
	test_symlink_dirs();
	test_planted_tmp();
	test_quota_hostile();
	test_create_tree();
	test_content();
	test_exactly_once();
	test_concurrent();
	test_quota_limits();
	test_quota_file();
	test_unwritable();
	test_bad_message();

	cleanup();
	return test_exit();
}
