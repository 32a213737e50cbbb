/*
 * Logging (log.c): one line per entry, control bytes masked, levels.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "test.h"

/* Everything logged while fn runs, as written to stderr. */
static char *
capture(void (*fn)(void))
{
	static char	 buf[8192];
	FILE		*tmp = tmpfile();
	size_t		 n;
	int		 saved = dup(STDERR_FILENO);

	if (tmp == NULL || saved == -1)
		abort();
	(void)fflush(stderr);
	(void)dup2(fileno(tmp), STDERR_FILENO);
	fn();
	(void)fflush(stderr);
	(void)dup2(saved, STDERR_FILENO);
	(void)close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	(void)fclose(tmp);
	return buf;
}

static void
log_hostile(void)
{
	log_info("client said %s", "HELO x\r\nMAIL FROM:<a>\x1b[2J");
}

static void
log_levels(void)
{
	log_setverbose(LOG_BRIEF);
	log_debug("hidden debug");
	log_trace("hidden trace");
	log_setverbose(LOG_VERBOSE);
	log_debug("shown debug");
	log_trace("hidden trace 2");
	log_setverbose(LOG_TRACE);
	log_trace("shown trace");
	log_setverbose(LOG_BRIEF);
}

static void
log_errno(void)
{
	FILE	*f = fopen("/nonexistent/x", "r");

	if (f == NULL)
		log_warn("open %s", "/nonexistent/x");
	else
		(void)fclose(f);
}

static void
test_one_line(void)
{
	char	*out;

	test_begin("log: an entry is one line, control bytes masked");
	out = capture(log_hostile);
	test_assert(strstr(out, "unit[") != NULL);
	test_assert(strstr(out, "client said HELO x??MAIL FROM:<a>?[2J\n") !=
	    NULL);
	test_assert(strchr(out, '\n') == out + strlen(out) - 1);
	test_assert(strchr(out, '\r') == NULL && strchr(out, 0x1b) == NULL);
	test_end();
}

static void
test_levels(void)
{
	char	*out;

	test_begin("log: debug and trace only when asked for");
	out = capture(log_levels);
	test_assert(strstr(out, "hidden") == NULL);
	test_assert(strstr(out, "shown debug") != NULL);
	test_assert(strstr(out, "shown trace") != NULL);
	test_end();
}

static void
test_errno(void)
{
	char	*out;

	test_begin("log: log_warn adds the error");
	out = capture(log_errno);
	test_assert(strstr(out, "open /nonexistent/x: No such file or"
	    " directory") != NULL);
	test_end();
}

int
main(void)
{
	log_init(1, LOG_MAIL);
	log_procinit("unit");
	test_assert(strcmp(log_procname(), "unit") == 0);
	test_one_line();
	test_levels();
	test_errno();
	return test_exit();
}
