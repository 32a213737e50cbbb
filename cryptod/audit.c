/*
 * cryptod: the audit trail. Every decision of the gateway (what left
 * encrypted and with which certificate, what was refused and by which
 * rule, what came in decrypted or signed) is one line appended to
 * audit.log in the certificate store, as well as to the log, so that an
 * auditor can tell later what happened to a message and why
 * (osmsctl audit reads it). The file is only ever appended to; each line
 * is one write(2). Each line goes to authd as well, which adds it to the
 * directory's database when it is PostgreSQL (authd/audit.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certstore.h"
#include "conf.h"
#include "cryptod.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "util.h"

#define AUDIT_MAX_LINE	1024

static int	 fd = -1;

/* (Re)open the store's audit.log, with each configuration. */
void
audit_open(void)
{
	char	 path[CONF_MAX_PATH + 16];

	if (fd != -1)
		(void)close(fd);
	fd = -1;
	if (!store_enabled())
		return;
	(void)snprintf(path, sizeof(path), "%s/audit.log", store_dir());
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		log_warn("cryptod: %s", path);
}

void
audit(const char *id, const char *fmt, ...)
{
	char		 line[AUDIT_MAX_LINE], at[32], *p;
	struct tm	 tm;
	time_t		 t = time(NULL);
	va_list		 ap;
	size_t		 n, stamp, text;
	struct channel	*ch;
	struct msg	 m;

	if (gmtime_r(&t, &tm) == NULL)
		return;
	n = stamp = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	(void)snprintf(line + n, sizeof(line) - n, "%s ", id[0] ? id : "-");
	n = text = strlen(line);
	va_start(ap, fmt);
	(void)vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	/* Addresses and reasons are other people's words: one line. */
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	log_info("cryptod: %s", line + stamp);
	if ((ch = proc_peer(ROLE_AUTHD)) != NULL) {
		(void)snprintf(at, sizeof(at), "%.*s", (int)(stamp - 1), line);
		msg_init(&m, IMSG_AUTH_AUDIT, 0);
		msg_add_str(&m, at);
		msg_add_str(&m, id[0] ? id : "-");
		msg_add_str(&m, line + text);
		(void)channel_send(ch, &m);
	}
	(void)osms_strlcat(line, "\n", sizeof(line));
	if (fd != -1 && write(fd, line, strlen(line)) == -1)
		log_warn("cryptod: audit.log");
}
