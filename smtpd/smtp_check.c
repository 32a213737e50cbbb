/*
 * Content checks: the stages a message passes between the end of DATA
 * and the commit, so that a check can refuse before the client hears
 * 250. Each stage starts, and reports once through check_next(); stages
 * that ask another role (scand, cryptod) report when the answer comes.
 *
 * Today there is one stage that accepts everything; virus scanning and
 * the crypto gateway add theirs to the table.
 */
#include <string.h>

#include "log.h"
#include "smtp.h"
#include "util.h"

struct check_run {
	struct smtp_session	*session;
	const char		*msgid;
	check_done_cb		 done;
	size_t			 stage;
};

typedef void (*check_stage_fn)(struct check_run *);

static void	 check_accept(struct check_run *);
static void	 check_next(struct check_run *, const struct check_result *);

static const struct {
	const char	*name;
	check_stage_fn	 start;
} stages[] = {
	{ "accept", check_accept },
};

static void
check_accept(struct check_run *run)
{
	struct check_result	 res;

	memset(&res, 0, sizeof(res));
	res.verdict = CHECK_ACCEPT;
	check_next(run, &res);
}

/* A stage finished: stop at the first refusal, else run the next one. */
static void
check_next(struct check_run *run, const struct check_result *res)
{
	if (res->verdict != CHECK_ACCEPT) {
		log_info("check %s: message %s refused: %d %s %s",
		    stages[run->stage].name, run->msgid, res->code,
		    res->status, res->text);
		run->done(run->session, res);
		return;
	}
	if (++run->stage < nitems(stages)) {
		stages[run->stage].start(run);
		return;
	}
	run->done(run->session, res);
}

void
smtp_check_run(struct smtp_session *s, const char *msgid, check_done_cb done)
{
	/* Synchronous stages only so far: the run lives on the stack. */
	struct check_run	 run;

	run.session = s;
	run.msgid = msgid;
	run.done = done;
	run.stage = 0;
	stages[0].start(&run);
}
