/*
 * Content checks: the stages a message passes between the end of DATA
 * and the commit, so that a check can refuse before the client hears
 * 250. Each stage starts, and reports once through check_next(); stages
 * that ask another role report when the answer comes.
 *
 * The sender checks (mail from outside only): the queue opens the
 * content read-only, checkd checks SPF, DKIM and DMARC on it as it came,
 * and answers with what the policy makes of them (accept, to Junk, or
 * refuse) and the methods of an Authentication-Results field, which
 * cryptod writes into the message with its own results.
 *
 * The S/MIME gateway: the queue opens the content read-only and a new
 * file for it; cryptod decrypts mail from outside with a key of a
 * recipient's, verifies a signature and records what it did in a
 * header field, or signs a user's mail with the user's certificate;
 * the new content replaces the old, so the virus scan after it sees
 * the plaintext (decrypt-then-scan).
 *
 * The virus scan: the queue opens the received content read-only for
 * it (smtpd holds only a write descriptor), scand scans it, and the
 * policy (conf.h: scan_action, scan_fallback) turns the verdict into a
 * reply: 550 5.7.1 for a virus (or quarantine, or a header), 451 4.7.1
 * when no scan could be made, unless the policy accepts that. An
 * infected message is refused here, never bounced later. A run lives
 * on the heap, tied to its session, and ends with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "log.h"
#include "proc.h"
#include "smtp.h"
#include "util.h"

struct check_run {
	struct smtp_session	*session;
	uint64_t		 sid;		/* the session's id */
	char			 msgid[QUEUE_ID_LEN + 1];
	check_done_cb		 done;
	size_t			 stage;
	struct event		*timer;
	int			 srcfd;		/* smime: the content */
	struct check_result	 res;		/* what the stages add */
	char			 authres[2048];	/* checkd's A-R methods */
	uint32_t		 from_verified;	/* DMARC pass */
	char			 fields[1024];	/* checkd's: the spam score */
};

typedef void (*check_stage_fn)(struct check_run *);

static void	 check_sender(struct check_run *);
static void	 check_smime(struct check_run *);
static void	 check_scan(struct check_run *);
static void	 check_next(struct check_run *, const struct check_result *);

#define STAGE_SENDER	0
#define STAGE_SMIME	1
#define STAGE_VIRUS	2
static const struct {
	const char	*name;
	check_stage_fn	 start;
} stages[] = {
	[STAGE_SENDER] = { "sender", check_sender },
	[STAGE_SMIME] = { "smime", check_smime },
	[STAGE_VIRUS] = { "virus", check_scan },
};

static void
run_free(struct check_run *run)
{
	if (run->timer != NULL)
		event_free(run->timer);
	if (run->srcfd != -1)
		(void)close(run->srcfd);
	free(run);
}

/* A stage finished: stop at the first refusal, else run the next one. */
static void
check_next(struct check_run *run, const struct check_result *res)
{
	struct smtp_session	*s = run->session;
	check_done_cb		 done = run->done;
	struct check_result	 out;

	if (run->timer != NULL) {
		event_free(run->timer);
		run->timer = NULL;
	}
	if (res->verdict != CHECK_ACCEPT) {
		log_info("check %s: message %s refused: %d %s %s",
		    stages[run->stage].name, run->msgid, res->code,
		    res->status, res->text);
		out = *res;
	} else if (++run->stage < nitems(stages)) {
		stages[run->stage].start(run);
		return;
	} else
		out = run->res;
	smtp_session_set_check(s, NULL);
	run_free(run);
	done(s, &out);
}

void
smtp_check_run(struct smtp_session *s, const char *msgid, check_done_cb done)
{
	struct check_run	*run = xcalloc(1, sizeof(*run));

	run->session = s;
	(void)osms_strlcpy(run->msgid, msgid, sizeof(run->msgid));
	run->done = done;
	run->srcfd = -1;
	run->res.verdict = CHECK_ACCEPT;
	smtp_session_set_check(s, run);
	stages[0].start(run);
}

void
smtp_check_cancel(struct check_run *run)
{
	run_free(run);
}

/*
 * The virus scan.
 */

static void
refuse(struct check_result *r, enum check_verdict v, int code,
    const char *status, const char *fmt, const char *arg)
{
	r->verdict = v;
	r->code = code;
	(void)osms_strlcpy(r->status, status, sizeof(r->status));
	(void)snprintf(r->text, sizeof(r->text), fmt, arg);
}

/* No verdict (scand down, slow, without signatures): the policy says. */
void
smtp_check_failed(struct check_run *run, const char *why)
{
	struct check_result	 res;

	memset(&res, 0, sizeof(res));
	if (run->stage == STAGE_SENDER) {
		log_warnx("check sender: message %s not checked: %s",
		    run->msgid, why);
		if (smtp_checks.on_failure == SCAN_ACCEPT) {
			res.verdict = CHECK_ACCEPT;
			(void)snprintf(run->res.checks, sizeof(run->res.checks),
			    "not checked (%.60s)", why);
		} else
			refuse(&res, CHECK_TEMPFAIL, 451, "4.7.1", "%s",
			    "The sender checks are not available; try again"
			    " later");
		check_next(run, &res);
		return;
	}
	if (run->stage == STAGE_SMIME) {
		log_warnx("check smime: message %s: %s", run->msgid, why);
		refuse(&res, CHECK_TEMPFAIL, 451, "4.7.1", "%s",
		    "The encryption gateway is not available; try again"
		    " later");
		check_next(run, &res);
		return;
	}
	log_warnx("check virus: message %s not scanned: %s", run->msgid, why);
	if (smtp_scan.on_failure == SCAN_ACCEPT) {
		res.verdict = CHECK_ACCEPT;
		(void)snprintf(run->res.scanner, sizeof(run->res.scanner),
		    "not scanned (%.40s)", why);
	} else
		refuse(&res, CHECK_TEMPFAIL, 451, "4.7.1", "%s",
		    "Virus scanner not available; try again later");
	check_next(run, &res);
}

void
smtp_check_peer_down(struct check_run *run, enum osms_role role)
{
	if (role == ROLE_QUEUE)
		smtp_check_failed(run, "the queue went away");
	else if (role == ROLE_CRYPTOD && run->stage == STAGE_SMIME)
		smtp_check_failed(run, "cryptod went away");
	else if (role == ROLE_SCAND && run->stage == STAGE_VIRUS)
		smtp_check_failed(run, "scand went away");
	else if (role == ROLE_CHECKD && run->stage == STAGE_SENDER)
		smtp_check_failed(run, "checkd went away");
}

static void
stage_timeout(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	smtp_check_failed(arg, "the answer took too long");
}

/* Ask the queue for the content (IMSG_QUEUE_OPENED comes back). */
static void
open_content(struct check_run *run)
{
	struct timeval	 tv = { (time_t)(run->stage == STAGE_SENDER ?
			    smtp_checks.timeout : smtp_scan.timeout), 0 };
	struct msg	 m;

	msg_init(&m, IMSG_QUEUE_OPEN, smtp_session_id(run->session));
	msg_add_str(&m, run->msgid);
	if (smtp_peer_send(ROLE_QUEUE, &m) == -1) {
		smtp_check_failed(run, "the queue is not available");
		return;
	}
	if ((run->timer = evtimer_new(osms_evbase, stage_timeout, run)) ==
	    NULL || evtimer_add(run->timer, &tv) == -1)
		fatalx("check: timer");
}

static void
skip(struct check_run *run)
{
	struct check_result	 res;

	memset(&res, 0, sizeof(res));
	res.verdict = CHECK_ACCEPT;
	check_next(run, &res);
}

/* Mail from outside: is its sender who it says? */
static void
check_sender(struct check_run *run)
{
	if (!smtp_checks.enable || smtp_session_user(run->session)[0] != '\0') {
		skip(run);
		return;
	}
	if (proc_peer(ROLE_CHECKD) == NULL) {
		smtp_check_failed(run, "checkd is not running");
		return;
	}
	open_content(run);
}

/* Every message passes the gateway: from outside to be decrypted and
 * verified, from users to be signed. */
static void
check_smime(struct check_run *run)
{
	if (proc_peer(ROLE_CRYPTOD) == NULL) {
		/* cryptod is restarting: passing the message on would skip
		 * the removal of forged verdict fields, the decryption
		 * before the scan and the policy. */
		smtp_check_failed(run, "cryptod is not running");
		return;
	}
	open_content(run);
}

static void
check_scan(struct check_run *run)
{
	if (!smtp_scan.enable) {
		skip(run);
		return;
	}
	open_content(run);
}

void
smtp_check_opened(struct check_run *run, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct msg		 m;
	char			 id[QUEUE_ID_LEN + 1], sender[ADDR_MAX_TEXT];
	char			 rcpts[4096];
	int			 fd;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	fd = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || fd == -1) {
		if (fd != -1)
			(void)close(fd);
		smtp_check_failed(run, "the queue sent no content");
		return;
	}
	if (strcmp(id, run->msgid) != 0) {
		(void)close(fd);	/* for an earlier message: late */
		return;
	}
	if (run->stage == STAGE_SENDER) {
		smtp_session_addresses(run->session, sender, sizeof(sender),
		    rcpts, sizeof(rcpts));
		msg_init(&m, IMSG_CHECK_REQ, smtp_session_id(run->session));
		msg_add_str(&m, run->msgid);
		msg_add_str(&m, smtp_session_client(run->session));
		msg_add_str(&m, smtp_session_helo(run->session));
		msg_add_str(&m, sender);
		msg_add_str(&m, rcpts);
		msg_add_s64(&m, smtp_session_dnsbl_score(run->session));
		msg_add_fd(&m, fd);
		if (smtp_peer_send(ROLE_CHECKD, &m) == -1)
			smtp_check_failed(run, "checkd is not available");
		return;
	}
	if (run->stage == STAGE_SMIME) {
		/* Then a file for the new content. */
		run->srcfd = fd;
		msg_init(&m, IMSG_QUEUE_REWRITE, smtp_session_id(run->session));
		msg_add_str(&m, run->msgid);
		if (smtp_peer_send(ROLE_QUEUE, &m) == -1)
			smtp_check_failed(run, "the queue is not available");
		return;
	}
	msg_init(&m, IMSG_SCAN_REQ, smtp_session_id(run->session));
	msg_add_str(&m, run->msgid);
	msg_add_fd(&m, fd);
	if (smtp_peer_send(ROLE_SCAND, &m) == -1)
		smtp_check_failed(run, "scand is not available");
}

void
smtp_check_scanned(struct check_run *run, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct check_result	 res;
	uint32_t		 verdict, action;
	char			 virus[128], scanner[64], tag[64];

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &verdict);
	(void)msg_get_str(&r, virus, sizeof(virus));
	(void)msg_get_str(&r, scanner, sizeof(scanner));
	(void)msg_get_str(&r, tag, sizeof(tag));
	if (msg_end(&r) == -1 || verdict > SCAN_ERROR ||
	    str_has_ctl(virus) || str_has_ctl(scanner))
		fatalx("bad IMSG_SCAN_RESULT from scand");
	/* The verdict on an earlier message of the session (it timed
	 * out) must not decide this one. */
	if (strcmp(tag, run->msgid) != 0)
		return;
	if (verdict == SCAN_ERROR) {
		smtp_check_failed(run, virus);
		return;
	}
	memset(&res, 0, sizeof(res));
	res.verdict = CHECK_ACCEPT;
	(void)snprintf(run->res.scanner, sizeof(run->res.scanner),
	    "osms with %.50s", scanner);
	if (verdict == SCAN_UNSCANNABLE) {
		log_info("check virus: message %s unscannable: %s", run->msgid,
		    virus);
		if (smtp_scan.unscannable == SCAN_ACCEPT)
			(void)snprintf(run->res.scanner,
			    sizeof(run->res.scanner), "not scanned (%.40s)",
			    virus);
		else
			refuse(&res, CHECK_TEMPFAIL, 451, "4.7.1", "The message"
			    " could not be scanned (%s); try again later",
			    virus);
	} else if (verdict == SCAN_CLEAN)
		log_info("check virus: message %s clean (%s)", run->msgid,
		    scanner);
	else if (verdict == SCAN_VIRUS) {
		action = smtp_session_user(run->session)[0] != '\0' ?
		    smtp_scan.submission_action : smtp_scan.action;
		log_info("check virus: message %s infected: %s (%s)",
		    run->msgid, virus, conf_scan_action_name(action));
		if (action == SCAN_REJECT)
			refuse(&res, CHECK_REJECT, 550, "5.7.1", "Virus found:"
			    " %s", virus);
		else {
			(void)osms_strlcpy(run->res.virus, virus,
			    sizeof(run->res.virus));
			run->res.quarantine = action == SCAN_QUARANTINE;
		}
	}
	check_next(run, &res);
}

/*
 * The gateway's answers.
 */

void
smtp_check_rewriting(struct check_run *run, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct msg		 m;
	char			 id[QUEUE_ID_LEN + 1], sender[ADDR_MAX_TEXT];
	char			 rcpts[4096], leaving[4096];
	int			 fd;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, id, sizeof(id));
	fd = imsg_take_fd(imsg);
	if (msg_end(&r) == -1 || fd == -1 || run->stage != STAGE_SMIME ||
	    run->srcfd == -1 || strcmp(id, run->msgid) != 0) {
		if (fd != -1)
			(void)close(fd);
		return;		/* late, or not asked for */
	}
	smtp_session_addresses(run->session, sender, sizeof(sender), rcpts,
	    sizeof(rcpts));
	smtp_session_leaving(run->session, leaving, sizeof(leaving));
	msg_init(&m, IMSG_CRYPT_SOURCE, smtp_session_id(run->session));
	msg_add_str(&m, run->msgid);
	msg_add_fd(&m, run->srcfd);
	run->srcfd = -1;
	if (smtp_peer_send(ROLE_CRYPTOD, &m) == -1) {
		(void)close(fd);
		smtp_check_failed(run, "cryptod is not available");
		return;
	}
	msg_init(&m, IMSG_CRYPT_PROCESS, smtp_session_id(run->session));
	msg_add_str(&m, run->msgid);
	msg_add_str(&m, sender);
	msg_add_str(&m, rcpts);
	msg_add_str(&m, leaving);
	msg_add_u32(&m, smtp_session_user(run->session)[0] != '\0');
	msg_add_str(&m, run->authres);
	msg_add_u32(&m, run->from_verified);
	msg_add_str(&m, run->fields);
	msg_add_fd(&m, fd);
	if (smtp_peer_send(ROLE_CRYPTOD, &m) == -1)
		smtp_check_failed(run, "cryptod is not available");
}

/* checkd's verdict on the sender. */
void
smtp_check_sender(struct check_run *run, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct check_result	 res;
	uint32_t		 action, verified;
	char			 tag[64], why[200], methods[2048];
	char			 summary[512], fields[1024];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, tag, sizeof(tag));
	(void)msg_get_u32(&r, &action);
	(void)msg_get_str(&r, why, sizeof(why));
	(void)msg_get_str(&r, methods, sizeof(methods));
	(void)msg_get_str(&r, summary, sizeof(summary));
	(void)msg_get_u32(&r, &verified);
	(void)msg_get_str(&r, fields, sizeof(fields));
	if (run->stage != STAGE_SENDER || strcmp(tag, run->msgid) != 0)
		return;		/* late */
	/* Both go into the message: folded lines, whole fields. */
	if (msg_end(&r) == -1 || action > CHECK_ACTION_ERROR ||
	    !folded_text_ok(methods) ||
	    str_has_ctl(why) || str_has_ctl(summary) ||
	    !header_fields_ok(fields)) {
		smtp_check_failed(run, "checkd's answer is malformed");
		return;
	}
	if (action == CHECK_ACTION_ERROR) {
		smtp_check_failed(run, why);
		return;
	}
	memset(&res, 0, sizeof(res));
	res.verdict = CHECK_ACCEPT;
	(void)osms_strlcpy(run->authres, methods, sizeof(run->authres));
	(void)osms_strlcpy(run->fields, fields, sizeof(run->fields));
	run->from_verified = verified != 0;
	(void)snprintf(run->res.checks, sizeof(run->res.checks), "%.480s%s%s",
	    summary, action != AR_ACCEPT ? " -> " : "", action != AR_ACCEPT ?
	    authres_action_name((enum ar_action)action) : "");
	log_info("check sender: message %s: %s", run->msgid,
	    run->res.checks);
	if (action == AR_REJECT)
		refuse(&res, CHECK_REJECT, 550, "5.7.1", "%s", why);
	else if (action == AR_TEMPFAIL)
		refuse(&res, CHECK_TEMPFAIL, 451, "4.7.1", "%s", why);
	else if (action == AR_JUNK)
		run->res.junk = 1;
	check_next(run, &res);
}

void
smtp_check_crypted(struct check_run *run, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct msg		 m;
	struct check_result	 res;
	uint32_t		 rewritten;
	uint64_t		 size;
	char			 what[512], tag[64], refusal[400];
	const char		*p;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &rewritten);
	(void)msg_get_u64(&r, &size);
	(void)msg_get_str(&r, what, sizeof(what));
	(void)msg_get_str(&r, tag, sizeof(tag));
	(void)msg_get_str(&r, refusal, sizeof(refusal));
	if (msg_end(&r) == -1 || str_has_ctl(what) || str_has_ctl(refusal))
		fatalx("bad IMSG_CRYPT_DONE from cryptod");
	if (run->stage != STAGE_SMIME || strcmp(tag, run->msgid) != 0)
		return;		/* late */
	msg_init(&m, IMSG_QUEUE_REWRITTEN, smtp_session_id(run->session));
	msg_add_str(&m, run->msgid);
	msg_add_u32(&m, rewritten != 0 && refusal[0] == '\0');
	if (smtp_peer_send(ROLE_QUEUE, &m) == -1) {
		smtp_check_failed(run, "the queue is not available");
		return;
	}
	if (refusal[0] != '\0') {
		/* The gateway's policy forbids it: the sender hears why.
		 * "4.3.0 text": it cannot tell now (the directory). */
		memset(&res, 0, sizeof(res));
		res.verdict = CHECK_REJECT;
		res.code = 550;
		(void)osms_strlcpy(res.status, "5.7.1", sizeof(res.status));
		p = refusal;
		if (strncmp(refusal, "4.3.0 ", 6) == 0) {
			res.verdict = CHECK_TEMPFAIL;
			res.code = 451;
			(void)osms_strlcpy(res.status, "4.3.0",
			    sizeof(res.status));
			p += 6;
		}
		(void)osms_strlcpy(res.text, p, sizeof(res.text));
		check_next(run, &res);
		return;
	}
	if (rewritten) {
		smtp_session_set_size(run->session, size);
		log_info("check smime: message %s: %s", run->msgid, what);
	}
	skip(run);
}
