/*
 * Internals shared by the osmsd.conf grammar (parse.y) and conf.c; not
 * for other modules, which use conf.h only.
 *
 * parse.y lexes and parses and fills the structs; conf.c holds the value
 * checks the grammar calls, the checks across statements that run after
 * the parse (duplicates, references), the error list, and the dump.
 */
#ifndef OSMS_CONF_PRIVATE_H
#define OSMS_CONF_PRIVATE_H

#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>


#include "conf.h"

#define CONF_MAX_ERRORS		1000	/* then the parse stops */
#define CONF_MACRO_DEPTH	16	/* macros inside macros */
#define CONF_MAX_EXPANSION	CONF_MAX_FILE	/* all $macros */
#define CONF_MAX_USER		31	/* login name length */
#define CONF_MAX_DOMAIN		253
#define CONF_MIN_MESSAGE_SIZE	1024ULL
#define CONF_MAX_MESSAGE_SIZE	(2ULL * 1024 * 1024 * 1024)
#define CONF_MIN_RECIPIENTS	1
#define CONF_MAX_RECIPIENTS	100000
#define CONF_MIN_LINE		1000
#define CONF_MAX_LINE		1000000
#define CONF_MIN_TIMEOUT	1
#define CONF_MAX_TIMEOUT	3600

struct conf_msg;

/*
 * The errors of one parse. They are kept (with their line) and printed
 * sorted by line when the parse ends, so that the checks made after the
 * parse appear among the others in file order. Line 0 is the command
 * line (-D) or the file as a whole.
 */
struct conf_report {
	const char	*name;
	FILE		*errfp;		/* NULL: count only */
	size_t		 nerrors;
	struct conf_msg	*msgs;
	size_t		 nmsgs;
	size_t		 msgcap;
};

void		 conf_error(struct conf_report *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/* 1 once CONF_MAX_ERRORS errors are in: the parse should stop. */
int		 conf_report_full(const struct conf_report *);

/* s double-quoted for a message: escaped, control bytes as \xNN,
 * shortened to fit; returns buf. */
const char	*conf_quote(char *, size_t, const char *);

/* Value checks: NULL if s is fine, else why it is not. */
const char	*conf_check_path(const char *);
const char	*conf_check_name(const char *);
const char	*conf_check_conninfo(const char *);
const char	*conf_check_hostname(const char *);
const char	*conf_check_domain(const char *);	/* in lower case */
const char	*conf_check_domains(const char *);	/* a list of them */
const char	*conf_check_dnsbl(const char *);	/* LIST:WEIGHT ... */
const char	*conf_check_user(const char *);
const char	*conf_check_address(const char *);

/* Numbers: 0 and the value in *out, or -1. */
int		 conf_parse_number(const char *, long long, long long,
		    long long *);
int		 conf_parse_size(const char *, uint64_t *);
int		 conf_parse_duration(const char *, uint32_t *);
int		 conf_parse_period(const char *, uint32_t, uint32_t *);

/* parse.y: lex and parse buf into conf; errors go to rep. */
void		 conf_parse_grammar(struct osms_conf *,
		    struct conf_report *, const char *, size_t, char *const *);

#endif
