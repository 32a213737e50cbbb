/*
 * The role table. Links are symmetric; every child also talks to the
 * parent, which is not listed. The single-threaded network roles have a
 * cap on their memory (megabytes of address space).
 */
#include <string.h>

#include "role.h"
#include "util.h"

static const struct role_info roles[ROLE_COUNT] = {
	[ROLE_PARENT] = { "parent", NULL, "root", JAIL_NONE, 1, 0 },
	[ROLE_CONTROL] = { "control", "osms-control", "_osms", JAIL_EMPTY, 0,
	    R(ROLE_QUEUE) | R(ROLE_AUTHD), 0, 256 },
	[ROLE_SMTPD] = { "smtpd", "osms-smtpd", "_osms", JAIL_EMPTY, 0,
	    R(ROLE_QUEUE) | R(ROLE_AUTHD) | R(ROLE_CRYPTOD) | R(ROLE_SCAND) |
	    R(ROLE_CHECKD) | R(ROLE_KEYD), 0, 1024 },
	[ROLE_QUEUE] = { "queue", "osms-queue", "_osmsq", JAIL_SPOOL, 0,
	    R(ROLE_CONTROL) | R(ROLE_SMTPD) | R(ROLE_DELIVERY) | R(ROLE_MTA) |
	    R(ROLE_AUTHD) | R(ROLE_CRYPTOD) | R(ROLE_SCAND) },
	/* Not dumpable: sessions share its user and must not ptrace it. */
	[ROLE_DELIVERY] = { "delivery", "osms-delivery", "vmail",
	    JAIL_MAILSTORE, 1, R(ROLE_QUEUE) | R(ROLE_AUTHD) },
	/* Network-facing: a smarthost password reaches it per message. Its
	 * resolver's threads reserve memory a cap would have to allow for. */
	[ROLE_MTA] = { "mta", "osms-mta", "_osmsmta", JAIL_EMPTY, 0,
	    R(ROLE_QUEUE) },
	/* TLS in front of every logged-in session: room for many. */
	[ROLE_IMAPD] = { "imapd", "osms-imapd", "_osms", JAIL_EMPTY, 0,
	    R(ROLE_AUTHD) | R(ROLE_KEYD), 0, 2048 },
	[ROLE_AUTHD] = { "authd", "osms-authd", "_osmsauth", JAIL_NONE, 1,
	    R(ROLE_CONTROL) | R(ROLE_SMTPD) | R(ROLE_QUEUE) |
	    R(ROLE_DELIVERY) | R(ROLE_IMAPD) | R(ROLE_CRYPTOD) |
	    R(ROLE_CHECKD) },
	/* Its audit trail goes to the database through authd, which holds
	 * the database password. */
	[ROLE_CRYPTOD] = { "cryptod", "osms-cryptod", "_osmscrypt", JAIL_NONE,
	    1, R(ROLE_SMTPD) | R(ROLE_QUEUE) | R(ROLE_AUTHD) },
	/* In its databases, to load them again; temporary files go in
	 * their osms-tmp/, its own. */
	[ROLE_SCAND] = { "scand", "osms-scand", "_osmsscan", JAIL_SCAN, 0,
	    R(ROLE_SMTPD) | R(ROLE_QUEUE) },
	/* Network access through its resolver only; no secrets. Its
	 * directory holds the greylist. */
	[ROLE_CHECKD] = { "checkd", "osms-checkd", "_osmscheck", JAIL_CHECK, 0,
	    R(ROLE_SMTPD) | R(ROLE_AUTHD) },
	/* The TLS private keys: it signs handshakes for the network roles,
	 * which hold only the certificates (OpenSMTPD's crypto agent). */
	[ROLE_KEYD] = { "keyd", "osms-keyd", "_osmskey", JAIL_EMPTY, 1,
	    R(ROLE_SMTPD) | R(ROLE_IMAPD), 0, 256 },
	[ROLE_CLIENT] = { "client", NULL, NULL, JAIL_NONE, 0, 0, 0 },
	/* One per login, chrooted into the user's own Maildir; no peers. */
	[ROLE_SESSION] = { "session", "osms-session", "vmail", JAIL_MAILSTORE,
	    1, 0, 1 },
};

const struct role_info *
role_info(enum osms_role r)
{
	if ((unsigned)r >= ROLE_COUNT)
		return NULL;
	return &roles[r];
}

const char *
role_name(enum osms_role r)
{
	if ((unsigned)r >= ROLE_COUNT)
		return "?";
	return roles[r].name;
}

int
role_from_name(const char *name)
{
	int	 r;

	for (r = 0; r < ROLE_COUNT; r++)
		if (strcmp(roles[r].name, name) == 0)
			return r;
	return -1;
}

int
role_linked(enum osms_role a, enum osms_role b)
{
	if ((unsigned)a >= ROLE_COUNT || (unsigned)b >= ROLE_COUNT)
		return 0;
	return (roles[a].links & R(b)) != 0;
}
