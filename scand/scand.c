/*
 * scand: virus scanning with libclamav, before the final reply to DATA.
 *
 * User _osmsscan, chrooted to the signature databases (so it can load
 * them again), its temporary files in their osms-tmp/; no secrets, no
 * network. Peers: parent, smtpd (scan requests). Input: hostile
 * content, handed over as a descriptor, scanned by libclamav on worker
 * threads (scan.c).
 *
 * The engine is loaded after the chroot, and again when the databases
 * change or on reload: a new engine is compiled beside the old one and
 * then swapped in; scans hold a reference to the engine they started
 * with. Requests that come while no engine is loaded yet wait for it.
 */
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <clamav.h>
#include <event2/event.h>

#include "channel.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "scan.h"
#include "util.h"
#include "workq.h"

#define SCAND_DB_DIR	"/"		/* after the chroot */
#define SCAND_TMP_DIR	"/osms-tmp"
#define SCAND_CHECK_SEC	10		/* look for new databases */
#define SCAND_MAX_WAIT	10000		/* requests waiting for an engine */

struct scan_job {
	TAILQ_ENTRY(scan_job)	 entry;
	uint64_t		 reqid;
	enum osms_role		 from;
	char			 tag[64];	/* echoed: the request's id */
	int			 fd;
	struct scan_engine	*engine;
	enum scan_verdict	 verdict;
	char			 virus[SCAN_MAX_VIRUS];
	char			 scanner[64];
	uint64_t		 scanned;
};
TAILQ_HEAD(scan_jobs, scan_job);

struct load_job {
	struct scan_limits	 limits;
	struct scan_engine	*engine;
	char			 err[256];
};

static struct scan_engine	*engine;	/* the current one */
static struct scan_limits	 limits;
static unsigned			 workers = 2;
static struct scan_jobs		 waiting = TAILQ_HEAD_INITIALIZER(waiting);
static unsigned			 nwaiting, nscanning;
static int			 loading, load_again, load_failed;
/* A look at the databases came while loading: look again after. */
static int			 check_again;
static struct cl_stat		 dbstat;
static int			 have_dbstat;
static struct event		*check_ev;
static time_t			 loaded_at;
static unsigned long		 nscanned, ninfected;

static void	 engine_reload(void);
static void	 check_databases(evutil_socket_t, short, void *);

static void
reply(const struct scan_job *j)
{
	struct channel	*ch = proc_peer(j->from);
	struct msg	 m;

	if (ch == NULL)
		return;
	msg_init(&m, IMSG_SCAN_RESULT, j->reqid);
	msg_add_u32(&m, j->verdict);
	msg_add_str(&m, j->virus);
	msg_add_str(&m, j->scanner);
	msg_add_str(&m, j->tag);
	(void)channel_send(ch, &m);
}

static void
scan_work(void *arg)
{
	struct scan_job	*j = arg;

	j->verdict = scan_fd(j->engine, j->fd, j->virus, sizeof(j->virus),
	    &j->scanned);
}

static void
scan_done(void *arg)
{
	struct scan_job	*j = arg;

	nscanning--;
	nscanned++;
	(void)osms_strlcpy(j->scanner, scan_engine_version(j->engine),
	    sizeof(j->scanner));
	scan_engine_unref(j->engine);
	(void)close(j->fd);
	if (j->verdict == SCAN_VIRUS)
		ninfected++;
	log_debug("scand: request %llu: verdict %d %s (%llu bytes)",
	    (unsigned long long)j->reqid, j->verdict, j->virus,
	    (unsigned long long)j->scanned);
	reply(j);
	free(j);
}

static void
scan_start(struct scan_job *j)
{
	scan_engine_ref(engine);
	j->engine = engine;
	nscanning++;
	workq_push(scan_work, scan_done, j);
}

/* No engine, for good: the caller decides (fail closed or open). */
static void
scan_refuse(struct scan_job *j, const char *why)
{
	(void)close(j->fd);
	j->verdict = SCAN_ERROR;
	(void)osms_strlcpy(j->virus, why, sizeof(j->virus));
	reply(j);
	free(j);
}

static void
scan_request(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct scan_job		*j;
	char			 tag[64];
	int			 fd;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, tag, sizeof(tag));
	fd = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || fd == -1 || str_has_ctl(tag)) {
		if (fd != -1)
			(void)close(fd);
		channel_bad_message(ch, imsg, "bad scan request");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->reqid = imsg->hdr.id;
	j->from = ch->remote;
	(void)osms_strlcpy(j->tag, tag, sizeof(j->tag));
	j->fd = fd;
	if (engine != NULL)
		scan_start(j);
	else if (load_failed)
		scan_refuse(j, "the signature databases did not load");
	else if (nwaiting >= SCAND_MAX_WAIT)
		scan_refuse(j, "too many scans waiting");
	else {
		TAILQ_INSERT_TAIL(&waiting, j, entry);
		nwaiting++;
	}
}

/*
 * Loading and reloading.
 */

static void
load_work(void *arg)
{
	struct load_job	*l = arg;

	l->engine = scan_engine_load(SCAND_DB_DIR, &l->limits, SCAND_TMP_DIR,
	    l->err, sizeof(l->err));
}

static void
load_done(void *arg)
{
	struct load_job	*l = arg;
	struct scan_job	*j;

	loading = 0;
	if (l->engine == NULL) {
		log_warnx("scand: the signature databases did not load: %s%s",
		    l->err, engine != NULL ? "; the old ones stay" : "");
		if (engine == NULL)
			load_failed = 1;
	} else {
		scan_engine_unref(engine);	/* scans keep their own */
		engine = l->engine;
		load_failed = 0;
		loaded_at = time(NULL);
		log_info("scand: %s loaded, %u signatures",
		    scan_engine_version(engine),
		    scan_engine_signatures(engine));
	}
	free(l);
	while ((j = TAILQ_FIRST(&waiting)) != NULL) {
		TAILQ_REMOVE(&waiting, j, entry);
		nwaiting--;
		if (engine != NULL)
			scan_start(j);
		else
			scan_refuse(j, "the signature databases did not load");
	}
	if (load_again) {
		load_again = 0;
		engine_reload();
	} else if (check_again) {
		check_again = 0;
		check_databases(-1, 0, NULL);
	}
}

static void
engine_reload(void)
{
	struct load_job	*l;

	if (loading) {
		load_again = 1;		/* after the one running */
		return;
	}
	if (have_dbstat)
		(void)cl_statfree(&dbstat);
	have_dbstat = cl_statinidir(SCAND_DB_DIR, &dbstat) == CL_SUCCESS;
	l = xcalloc(1, sizeof(*l));
	l->limits = limits;
	loading = 1;
	workq_push(load_work, load_done, l);
}

/* Every few seconds: have the databases changed (freshclam)? */
static void
check_databases(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (loading) {
		/* Not skipped: a file added during the load would wait a
		 * whole period more. */
		check_again = 1;
		return;
	}
	if (have_dbstat && cl_statchkdir(&dbstat) == 1) {
		log_info("scand: the signature databases changed; reloading");
		engine_reload();
	}
}

/*
 * The role.
 */

static void
scand_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 n;

	if (imsg->hdr.type != IMSG_CONF_SCAND)
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &n);
	(void)msg_get_u64(&r, &limits.max_scansize);
	(void)msg_get_u64(&r, &limits.max_filesize);
	(void)msg_get_u32(&r, &limits.max_files);
	(void)msg_get_u32(&r, &limits.max_recursion);
	if (msg_end(&r) == -1 || n == 0 || n > 64)
		fatalx("bad IMSG_CONF_SCAND");
	workers = n;		/* at start-up only: the pool is made once */
}

static void
scand_conf_end(int reload)
{
	/* At start-up the engine is loaded once sandboxed (ready). */
	if (reload)
		engine_reload();
}

static void
scand_setup(void)
{
	char	 err[256];

	if (scan_init(err, sizeof(err)) == -1)
		fatalx("scand: %s", err);
	log_debug("libclamav %s", cl_retver());
}

static void
scand_ready(void)
{
	struct timeval	 tv = { SCAND_CHECK_SEC, 0 };

	/* One worker more, so a reload does not hold up scans. */
	workq_init((int)workers + 1);
	engine_reload();
	if ((check_ev = event_new(osms_evbase, -1, EV_PERSIST,
	    check_databases, NULL)) == NULL || event_add(check_ev, &tv) == -1)
		fatalx("scand: timer");
}

static void
scand_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_SCAN_REQ:
		scan_request(ch, imsg);
		break;
	default:
		channel_bad_message(ch, imsg, "unexpected message");
		break;
	}
}

static void
scand_state(char *buf, size_t size)
{
	struct tm	 tm;
	char		 when[16] = "-";

	if (loaded_at != 0 && localtime_r(&loaded_at, &tm) != NULL)
		(void)strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (engine == NULL)
		(void)snprintf(buf, size, "%s; %u waiting", load_failed ?
		    "no signatures (the databases did not load)" :
		    "loading the signatures", nwaiting);
	else
		(void)snprintf(buf, size, "%s, %u signatures, loaded %s; %u"
		    " scanning, %lu scanned, %lu infected",
		    scan_engine_version(engine),
		    scan_engine_signatures(engine), when, nscanning, nscanned,
		    ninfected);
}

static const struct proc_ops scand_ops = {
	.role = ROLE_SCAND,
	.conf = scand_conf,
	.conf_end = scand_conf_end,
	.setup = scand_setup,
	.ready = scand_ready,
	.dispatch_peer = scand_dispatch_peer,
	.state = scand_state,
};

int
main(int argc, char **argv)
{
	proc_main(&scand_ops, argc, argv);
}
