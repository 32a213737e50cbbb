/*
 * scanbench: scan a corpus of messages with N threads and print totals,
 * either with osms's in-process scanning (scand/scan.c on libclamav) or
 * by handing each message to clamd over its local socket.
 *
 *	scanbench -d DBDIR [-t threads] [-T tmpdir] [-a] path ...
 *	scanbench -c SOCKET [-S] [-t threads] [-a] path ...
 *
 * A path is a message, or a directory whose regular files are messages
 * (not recursive, taken in name order). Each thread takes the next
 * message, opens it and then, on the clock:
 *
 *	-d	scan_fd() on the shared engine, as scand does;
 *	-c	connects to clamd, sends "zFILDES" and passes the descriptor
 *		(SCM_RIGHTS), reads the verdict; with -S each thread keeps
 *		one IDSESSION connection for all its messages instead.
 *
 * Either way the scanner reads the same open file: nothing is copied
 * through a socket. The clock for the totals runs from the moment every
 * thread is ready until the last one is done; engine loading is not in
 * it. Per-message times (open file to verdict) give the latencies.
 *
 * Output: a line for each message that is not clean ("PATH: VIRUS
 * name", "PATH: UNSCANNABLE why", "PATH: ERROR why"), with -a a line for
 * every message ("PATH: CLEAN ms"), then one line of totals:
 *
 *	total files=N bytes=N seconds=S msgs_per_s=R mb_per_s=R
 *	    infected=N unscannable=N errors=N lat_median_ms=L lat_p90_ms=L
 *	    lat_max_ms=L
 *
 * (one line; MB is 10^6 bytes). The engine gets osms's default limits
 * (lib/mail/conf.h). Exit 0 when every message was scanned
 * (clean, infected or unscannable), 1 when a scan failed, 2 on a usage
 * or set-up error.
 *
 * Built with -DSCANBENCH_NO_OSMS it has only the clamd client, for a
 * tree where scand/scan.c does not exist yet.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SCANBENCH_NO_OSMS
#include "conf.h"	/* osms's default limits, SCAND_MAX_* */
#include "scan.h"
#endif

#define VERDICT_MAX	256

enum result {
	R_CLEAN,
	R_VIRUS,
	R_UNSCANNABLE,
	R_ERROR,
};

static const char *result_names[] = {
	"CLEAN", "VIRUS", "UNSCANNABLE", "ERROR",
};

struct item {
	char		*path;
	uint64_t	 size;
	enum result	 result;
	double		 ms;
	char		 what[VERDICT_MAX];
};

static struct item	*items;
static size_t		 nitems, items_cap;
static atomic_size_t	 next_item;

static const char	*clamd_path;
static int		 clamd_session;
#ifndef SCANBENCH_NO_OSMS
static struct scan_engine *engine;
#endif

static pthread_mutex_t	 start_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 start_cv = PTHREAD_COND_INITIALIZER;
static int		 nready, go;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("scanbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
add_item(const char *path, uint64_t size)
{
	if (nitems == items_cap) {
		items_cap = items_cap ? items_cap * 2 : 1024;
		items = realloc(items, items_cap * sizeof(*items));
		if (items == NULL)
			die("out of memory");
	}
	memset(&items[nitems], 0, sizeof(items[nitems]));
	if ((items[nitems].path = strdup(path)) == NULL)
		die("out of memory");
	items[nitems].size = size;
	nitems++;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
add_path(const char *path)
{
	struct stat	 st;
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL, full[PATH_MAX];
	size_t		 n = 0, cap = 0, i;

	if (stat(path, &st) == -1)
		die("%s: %s", path, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		add_item(path, (uint64_t)st.st_size);
		return;
	}
	if (!S_ISDIR(st.st_mode))
		die("%s: not a file or directory", path);
	if ((d = opendir(path)) == NULL)
		die("%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((names = realloc(names, cap * sizeof(*names))) == NULL)
				die("out of memory");
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			die("out of memory");
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", path,
		    names[i]) >= sizeof(full))
			die("%s/%s: path too long", path, names[i]);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
			add_item(full, (uint64_t)st.st_size);
		free(names[i]);
	}
	free(names);
}

/* -- clamd's protocol: z-commands, replies ending in NUL. */

static int
clamd_connect(char *err, size_t errsize)
{
	struct sockaddr_un	 sun;
	int			 s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(clamd_path) >= sizeof(sun.sun_path)) {
		snprintf(err, errsize, "socket path too long");
		return -1;
	}
	memcpy(sun.sun_path, clamd_path, strlen(clamd_path));
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errsize, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errsize, "connect %s: %s", clamd_path,
		    strerror(errno));
		close(s);
		return -1;
	}
	return s;
}

static int
send_all(int s, const void *p, size_t len)
{
	const char	*c = p;
	ssize_t		 n;

	while (len > 0) {
		if ((n = send(s, c, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* "zFILDES\0", then one byte with the descriptor, as clamdscan does. */
static int
send_fildes(int s, int fd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	union {
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	} u;
	char		 dummy = 0;

	if (send_all(s, "zFILDES", 8) == -1)
		return -1;
	memset(&msg, 0, sizeof(msg));
	memset(&u, 0, sizeof(u));
	iov.iov_base = &dummy;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	for (;;) {
		if (sendmsg(s, &msg, MSG_NOSIGNAL) == 1)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* One reply, up to its NUL; 0, or -1 on EOF or error. */
static int
read_reply(int s, char *buf, size_t size)
{
	size_t	 len = 0;
	ssize_t	 n;
	char	 c;

	for (;;) {
		if ((n = recv(s, &c, 1, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return -1;
		if (c == '\0')
			break;
		if (len + 1 < size)
			buf[len++] = c;
	}
	buf[len] = '\0';
	return 0;
}

/*
 * "fd[10]: OK", "fd[10]: Name FOUND", "fd[10]: why ERROR"; in a session
 * with "N: " in front. A limit hit with AlertExceedsMax comes as a
 * Heuristics.Limits.Exceeded "virus": that is unscannable, as for osms.
 */
static enum result
parse_reply(char *reply, char *what, size_t size)
{
	char	*p, *end;
	size_t	 len;

	p = reply;
	if (clamd_session && (end = strstr(p, ": ")) != NULL &&
	    strncmp(p, "fd[", 3) != 0)
		p = end + 2;
	if ((end = strstr(p, ": ")) != NULL)
		p = end + 2;
	len = strlen(p);
	if (strcmp(p, "OK") == 0) {
		what[0] = '\0';
		return R_CLEAN;
	}
	if (len > 6 && strcmp(p + len - 6, " FOUND") == 0) {
		p[len - 6] = '\0';
		snprintf(what, size, "%.*s", (int)(size - 1), p);
		if (strncmp(p, "Heuristics.Limits.Exceeded", 26) == 0)
			return R_UNSCANNABLE;
		return R_VIRUS;
	}
	snprintf(what, size, "%.*s", (int)(size - 1), reply);
	return R_ERROR;
}

static void
clamd_fail(struct item *it, const char *what)
{
	snprintf(it->what, sizeof(it->what), "clamd: %s: %s", what,
	    errno ? strerror(errno) : "connection closed");
	it->result = R_ERROR;
}

static void
scan_clamd(int *sess, int fd, struct item *it)
{
	char	 reply[VERDICT_MAX];
	int	 s;

	if (clamd_session && *sess == -1) {
		if ((*sess = clamd_connect(it->what, sizeof(it->what))) == -1) {
			it->result = R_ERROR;
			return;
		}
		if (send_all(*sess, "zIDSESSION", 11) == -1) {
			clamd_fail(it, "IDSESSION");
			close(*sess);
			*sess = -1;
			return;
		}
	}
	if (clamd_session)
		s = *sess;
	else if ((s = clamd_connect(it->what, sizeof(it->what))) == -1) {
		it->result = R_ERROR;
		return;
	}
	if (send_fildes(s, fd) == -1)
		clamd_fail(it, "FILDES");
	else if (read_reply(s, reply, sizeof(reply)) == -1)
		clamd_fail(it, "reply");
	else
		it->result = parse_reply(reply, it->what, sizeof(it->what));
	if (!clamd_session || it->result == R_ERROR) {
		close(s);
		if (clamd_session)
			*sess = -1;
	}
}

#ifndef SCANBENCH_NO_OSMS
static void
scan_osms(int fd, struct item *it)
{
	uint64_t	 scanned = 0;

	switch (scan_fd(engine, fd, it->what, sizeof(it->what), &scanned)) {
	case SCAN_CLEAN:
		it->result = R_CLEAN;
		it->what[0] = '\0';
		break;
	case SCAN_VIRUS:
		it->result = R_VIRUS;
		break;
	case SCAN_UNSCANNABLE:
		it->result = R_UNSCANNABLE;
		break;
	default:
		it->result = R_ERROR;
		break;
	}
}
#endif

static void *
worker(void *arg)
{
	struct item	*it;
	size_t		 i;
	double		 t0;
	int		 fd, sess = -1;

	(void)arg;
	pthread_mutex_lock(&start_mtx);
	nready++;
	pthread_cond_broadcast(&start_cv);
	while (!go)
		pthread_cond_wait(&start_cv, &start_mtx);
	pthread_mutex_unlock(&start_mtx);

	while ((i = atomic_fetch_add(&next_item, 1)) < nitems) {
		it = &items[i];
		if ((fd = open(it->path, O_RDONLY | O_CLOEXEC)) == -1) {
			it->result = R_ERROR;
			snprintf(it->what, sizeof(it->what), "open: %s",
			    strerror(errno));
			continue;
		}
		t0 = now();
		errno = 0;
		if (clamd_path != NULL)
			scan_clamd(&sess, fd, it);
#ifndef SCANBENCH_NO_OSMS
		else
			scan_osms(fd, it);
#endif
		it->ms = (now() - t0) * 1000.0;
		close(fd);
	}
	if (sess != -1) {
		(void)send_all(sess, "zEND", 5);
		close(sess);
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-th quantile (0..1) of sorted v, nearest rank. */
static double
quantile(const double *v, size_t n, double p)
{
	size_t	 k;

	if (n == 0)
		return 0.0;
	k = (size_t)(p * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: scanbench -d dbdir [-t threads] [-T tmpdir] [-a] path ...\n"
	    "       scanbench -c socket [-S] [-t threads] [-a] path ...\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char	*dbdir = NULL, *tmpdir = "/tmp";
	pthread_t	*tids;
	double		 t0, t1, secs, *lat;
	uint64_t	 bytes = 0;
	size_t		 i, nlat = 0, count[4] = { 0 };
	long		 threads = 0;
	int		 ch, all = 0, e;
	char		*ep;

	while ((ch = getopt(argc, argv, "ac:d:St:T:")) != -1) {
		switch (ch) {
		case 'a':
			all = 1;
			break;
		case 'c':
			clamd_path = optarg;
			break;
		case 'd':
			dbdir = optarg;
			break;
		case 'S':
			clamd_session = 1;
			break;
		case 't':
			errno = 0;
			threads = strtol(optarg, &ep, 10);
			if (errno || *ep || threads < 1 || threads > 256)
				die("-t %s: 1 to 256 threads", optarg);
			break;
		case 'T':
			tmpdir = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 || (dbdir == NULL) == (clamd_path == NULL))
		usage();
	if (threads == 0) {
		threads = sysconf(_SC_NPROCESSORS_ONLN);
		if (threads < 1)
			threads = 1;
	}
	for (i = 0; i < (size_t)argc; i++)
		add_path(argv[i]);
	if (nitems == 0)
		die("no messages");

	if (dbdir != NULL) {
#ifdef SCANBENCH_NO_OSMS
		(void)tmpdir;
		die("osms: scanning module not built yet (no scand/scan.c)");
#else
		struct scan_limits lim = {
			/* osms's defaults (scand's block in osmsd.conf). */
			.max_scansize = SCAND_MAX_SCANSIZE,
			.max_filesize = SCAND_MAX_FILESIZE,
			.max_files = SCAND_MAX_FILES,
			.max_recursion = SCAND_MAX_RECURSION,
		};
		char	 err[256];

		if (scan_init(err, sizeof(err)) == -1)
			die("scan_init: %s", err);
		t0 = now();
		engine = scan_engine_load(dbdir, &lim, tmpdir, err,
		    sizeof(err));
		if (engine == NULL)
			die("%s: %s", dbdir, err);
		printf("engine signatures=%u version=%s load_seconds=%.3f\n",
		    scan_engine_signatures(engine),
		    scan_engine_version(engine), now() - t0);
#endif
	}

	if ((tids = calloc((size_t)threads, sizeof(*tids))) == NULL)
		die("out of memory");
	for (i = 0; i < (size_t)threads; i++)
		if ((e = pthread_create(&tids[i], NULL, worker, NULL)) != 0)
			die("pthread_create: %s", strerror(e));
	pthread_mutex_lock(&start_mtx);
	while (nready < threads)
		pthread_cond_wait(&start_cv, &start_mtx);
	t0 = now();
	go = 1;
	pthread_cond_broadcast(&start_cv);
	pthread_mutex_unlock(&start_mtx);
	for (i = 0; i < (size_t)threads; i++)
		pthread_join(tids[i], NULL);
	t1 = now();
	secs = t1 - t0;

	if ((lat = calloc(nitems, sizeof(*lat))) == NULL)
		die("out of memory");
	for (i = 0; i < nitems; i++) {
		struct item *it = &items[i];

		bytes += it->size;
		count[it->result]++;
		if (it->result != R_ERROR)
			lat[nlat++] = it->ms;
		if (it->result != R_CLEAN)
			printf("%s: %s %s\n", it->path,
			    result_names[it->result], it->what);
		else if (all)
			printf("%s: CLEAN %.3f\n", it->path, it->ms);
	}
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("total files=%zu bytes=%" PRIu64 " seconds=%.4f "
	    "msgs_per_s=%.2f mb_per_s=%.3f infected=%zu unscannable=%zu "
	    "errors=%zu lat_median_ms=%.3f lat_p90_ms=%.3f lat_max_ms=%.3f\n",
	    nitems, bytes, secs, (double)nitems / secs,
	    (double)bytes / 1e6 / secs, count[R_VIRUS], count[R_UNSCANNABLE],
	    count[R_ERROR], quantile(lat, nlat, 0.5), quantile(lat, nlat, 0.9),
	    nlat ? lat[nlat - 1] : 0.0);
#ifndef SCANBENCH_NO_OSMS
	if (engine != NULL)
		scan_engine_unref(engine);
#endif
	for (i = 0; i < nitems; i++)
		free(items[i].path);
	free(items);
	free(lat);
	free(tids);
	return count[R_ERROR] ? 1 : 0;
}
