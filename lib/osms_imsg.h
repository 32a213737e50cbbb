/*
 * The message catalogue: every message that crosses between osms
 * processes, one line each. Reading this list tells the whole protocol.
 *
 *	X(type, senders, receivers, layout, "fields: purpose")
 *
 * The layout is the payload's shape, one letter a field: u = u32,
 * U = u64, S = s64, s = string, d = data, f = a descriptor rides along.
 * Every received message is checked against its line (sender, receiver
 * and layout) before it is dispatched; a role that receives a message
 * it should not treats the sender as broken. Handlers then read the
 * fields with msg_get_*() in order and end with msg_end().
 *
 * Bump OSMS_IMSG_VERSION on any change to a line.
 */
#ifndef OSMS_IMSG_H
#define OSMS_IMSG_H

#include <stdint.h>

#include "role.h"

#define OSMS_IMSG_VERSION	1

#define R_CTL	(R(ROLE_CLIENT) | R(ROLE_CONTROL))	/* request path */
#define R_CTLR	(R(ROLE_PARENT) | R(ROLE_CONTROL))	/* reply path */
#define R_NET	(R(ROLE_SMTPD) | R(ROLE_IMAPD))

#define OSMS_IMSG_LIST(X)						\
/* start-up and supervision */						\
X(IMSG_HELLO, R_CHILDREN, R(ROLE_PARENT), "u",				\
    "version: a child announces itself after exec")			\
X(IMSG_CONF_START, R(ROLE_PARENT), R_CHILDREN, "uuuuss",		\
    "generation, verbose, uid, gid, jail, hostname: a slice begins")	\
X(IMSG_CONF_LISTENER, R(ROLE_PARENT), R_NET, "fuuusus",		\
    "socket, proto, tls, flags, addr, port, pki: a socket to serve")	\
X(IMSG_CONF_SMTPD, R(ROLE_PARENT), R(ROLE_SMTPD), "Uuuu",		\
    "max message size, max recipients, max line, timeout")		\
X(IMSG_CONF_CONTROL, R(ROLE_PARENT), R(ROLE_CONTROL), "f",		\
    "socket: the listening control socket")				\
X(IMSG_CONF_END, R(ROLE_PARENT), R_CHILDREN, "",			\
    "the slice is complete: apply it")					\
X(IMSG_PEER, R(ROLE_PARENT), R_CHILDREN, "fu",			\
    "socket, role: a fresh channel to a linked role")			\
X(IMSG_READY, R_CHILDREN, R(ROLE_PARENT), "",				\
    "sandbox entered, serving")					\
X(IMSG_PEER_BAD, R_CHILDREN, R(ROLE_PARENT), "u",			\
    "role: that linked role sent garbage; the parent kills it")	\
X(IMSG_PING, R_ANY, R_ANY, "",						\
    "are you alive? answered by IMSG_PONG with the same id")		\
X(IMSG_PONG, R_ANY, R_ANY, "s",					\
    "state: alive, and what it is doing")				\
X(IMSG_LOG_VERBOSE, R(ROLE_PARENT), R_CHILDREN, "u",			\
    "level: change the log level")					\
/* osmsctl -> control -> parent, and the answers back */		\
X(IMSG_CTL_STATUS, R_CTL, R(ROLE_CONTROL) | R(ROLE_PARENT), "u",	\
    "version: list the processes")					\
X(IMSG_CTL_STATUS_ROLE, R_CTLR, R(ROLE_CONTROL) | R(ROLE_CLIENT),	\
    "uuSuss", "role, pid, started, restarts, state, info: a status row") \
X(IMSG_CTL_RELOAD, R_CTL, R(ROLE_CONTROL) | R(ROLE_PARENT), "u",	\
    "version: re-read the configuration")				\
X(IMSG_CTL_STOP, R_CTL, R(ROLE_CONTROL) | R(ROLE_PARENT), "u",		\
    "version: stop every osms process")				\
X(IMSG_CTL_LOG_VERBOSE, R_CTL, R(ROLE_CONTROL) | R(ROLE_PARENT), "uu",	\
    "version, level: log verbose or brief")				\
X(IMSG_CTL_RESULT, R_CTLR, R(ROLE_CONTROL) | R(ROLE_CLIENT), "us",	\
    "ok, text: ends the answer to any osmsctl request")

enum osms_imsg_type {
	IMSG_NONE,
#define OSMS_IMSG_ENUM(name, from, to, layout, purpose)	name,
	OSMS_IMSG_LIST(OSMS_IMSG_ENUM)
#undef OSMS_IMSG_ENUM
	IMSG_TYPE_COUNT
};

/* Values of IMSG_CONF_LISTENER's proto and tls fields. */
enum listen_proto { PROTO_SMTP, PROTO_SUBMISSION, PROTO_IMAP, PROTO_POP3 };
enum listen_tls { TLS_NONE, TLS_STARTTLS, TLS_STARTTLS_REQUIRE, TLS_IMPLICIT };
#define LISTEN_AUTH	0x01	/* AUTH offered on this listener */

const char	*imsg_type_name(uint32_t);
const char	*imsg_type_purpose(uint32_t);
/* The payload layout letters, NULL for an unknown type. */
const char	*imsg_type_layout(uint32_t);
/* 1 if "from" may send this type to "to". */
int		 imsg_allowed(uint32_t, enum osms_role, enum osms_role);

#endif
