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

#define OSMS_IMSG_VERSION	21

#define R_CTL	(R(ROLE_CLIENT) | R(ROLE_CONTROL))	/* request path */
#define R_CTLR	(R(ROLE_PARENT) | R(ROLE_CONTROL) | R(ROLE_QUEUE) | \
	    R(ROLE_AUTHD))				/* reply path */
#define R_NET	(R(ROLE_SMTPD) | R(ROLE_IMAPD))

#define OSMS_IMSG_LIST(X)						\
/* start-up and supervision */						\
X(IMSG_HELLO, R_CHILDREN, R(ROLE_PARENT), "u",				\
    "version: a child announces itself after exec")			\
X(IMSG_CONF_START, R(ROLE_PARENT), R_CHILDREN, "uuuuss",		\
    "generation, verbose, uid, gid, jail, hostname: a slice begins")	\
X(IMSG_CONF_LISTENER, R(ROLE_PARENT), R_NET, "fuuusus",		\
    "socket, proto, tls, flags, addr, port, pki: a socket to serve")	\
X(IMSG_CONF_SMTPD, R(ROLE_PARENT), R(ROLE_SMTPD), "Uuuuuuuuu",		\
    "max message size, max recipients, max line, timeout, sender"	\
    " check, max messages per user and hour; per client address: max"	\
    " sessions, connections and recipients a minute")			\
X(IMSG_CONF_QUEUE, R(ROLE_PARENT), R(ROLE_QUEUE), "uuuuu",		\
    "seconds before a \"delayed\" DSN (0: never), seconds a message"	\
    " may wait, longest wait between tries, connections per"		\
    " destination, gateway (cryptod encrypts users' mail)")		\
X(IMSG_CONF_RELAY, R(ROLE_PARENT), R(ROLE_QUEUE), "ssuuss",		\
    "domain (\"\": every other), host (\"\": by MX), port, tls, auth"	\
    " user, password: how mail for a domain leaves")			\
X(IMSG_CONF_MTA, R(ROLE_PARENT), R(ROLE_MTA), "su",			\
    "resolver (\"\": from resolv.conf), timeout: the SMTP client")	\
X(IMSG_CONF_MTA_FILE, R(ROLE_PARENT), R(ROLE_MTA) | R(ROLE_CHECKD),	\
    "fu", "file, kind (enum mta_file): CA certificates (mta), DNSSEC"	\
    " trust anchor or resolv.conf, opened by the parent")		\
X(IMSG_CONF_SRS, R(ROLE_PARENT), R(ROLE_QUEUE) | R(ROLE_AUTHD), "sd",	\
    "domain, secret: rewrite forwarded senders (queue), take back"	\
    " bounces (authd)")							\
X(IMSG_CONF_CRYPTOD, R(ROLE_PARENT), R(ROLE_CRYPTOD), "sss",		\
    "certificate store: the gateway's keys and trust; the hostname"	\
    " that names its Authentication-Results; the policy-table (\"\""	\
    " none)")								\
X(IMSG_CONF_CRYPT_MASTER, R(ROLE_PARENT), R(ROLE_CRYPTOD), "f",	\
    "the master-key file, opened by the parent: its first line"		\
    " decrypts the store's private keys")				\
X(IMSG_CONF_CRYPT_RULE, R(ROLE_PARENT), R(ROLE_CRYPTOD), "su",		\
    "rule (policy.h, written out), its line: the gateway's policy,"	\
    " in order")							\
X(IMSG_CONF_DKIM, R(ROLE_PARENT), R(ROLE_CRYPTOD), "fss",		\
    "key file (PEM), domain, selector: a DKIM signing key")		\
X(IMSG_CONF_SMTPD_SCAN, R(ROLE_PARENT), R(ROLE_SMTPD), "uuuuuu",	\
    "enable, timeout, action, submission action, unscannable, on"	\
    " failure: what becomes of scanned mail (enum scan_action,"	\
    " scan_fallback)")							\
X(IMSG_CONF_SMTPD_CHECK, R(ROLE_PARENT), R(ROLE_SMTPD), "uuuuu",	\
    "enable, timeout, on failure (enum scan_fallback), greylist,"	\
    " dnsbl (0: none, 1: block, 2: score): sender checks of mail from"	\
    " outside")								\
X(IMSG_CONF_CHECKD, R(ROLE_PARENT), R(ROLE_CHECKD),			\
    "uuuuuuussusuuuuuusssusu", "spf, dkim, dmarc on; what a failing"	\
    " DMARC reject and quarantine policy and an SPF fail do (enum"	\
    " ar_action); workers; resolver (\"\": resolv.conf), public suffix"	\
    " list; spam engine (enum spam_engine_kind), its address (\"\":"	\
    " no spam scoring), the reject and junk scores,"			\
    " on failure (enum scan_fallback), timeout; greylist on, its delay,"	\
    " exempt networks, domains exempt when SPF passes; DNS block and"	\
    " allow lists with weights, the score that blocks; trusted ARC"	\
    " sealers; the greylist in the directory's database")		\
X(IMSG_CONF_SCAND, R(ROLE_PARENT), R(ROLE_SCAND), "uUUuu",		\
    "workers, max scan size, max file size, max files, max recursion")	\
X(IMSG_CONF_IMAPD, R(ROLE_PARENT), R(ROLE_IMAPD), "u",		\
    "seconds a client has to log in")					\
X(IMSG_CONF_CONTROL, R(ROLE_PARENT), R(ROLE_CONTROL), "f",		\
    "socket: the listening control socket")				\
X(IMSG_CONF_PKI_CERT, R(ROLE_PARENT), R_NET | R(ROLE_KEYD), "fs",	\
    "file, name: a pki's certificate chain (PEM), opened by the parent") \
X(IMSG_CONF_PKI_KEY, R(ROLE_PARENT), R(ROLE_KEYD), "fs",		\
    "file, name: a pki's private key (PEM), opened by the parent; only"	\
    " keyd holds keys")							\
X(IMSG_CONF_TABLE_FILE, R(ROLE_PARENT), R(ROLE_AUTHD), "fss",		\
    "file, name, path: a file table, opened by the parent")		\
X(IMSG_CONF_TABLE_PG, R(ROLE_PARENT), R(ROLE_AUTHD),			\
    "sssssssssssssssssssssss", "name, conninfo, then the 21 queries of"	\
    " enum table_query: a PostgreSQL table")				\
X(IMSG_CONF_DOMAIN, R(ROLE_PARENT), R(ROLE_AUTHD), "sss",		\
    "name (\"*\": a table's domains), users table, aliases table")	\
X(IMSG_CONF_AUTHD, R(ROLE_PARENT), R(ROLE_AUTHD), "u",		\
    "failed authentications before a client or account is refused")	\
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
/* the directory: recipients and their final destinations */		\
X(IMSG_AUTH_RCPT, R(ROLE_SMTPD) | R(ROLE_QUEUE), R(ROLE_AUTHD), "us",	\
    "flags, address: may it receive mail here? expand its aliases")	\
X(IMSG_AUTH_RCPT_DEST, R(ROLE_AUTHD), R(ROLE_SMTPD) | R(ROLE_QUEUE),	\
    "ussUU", "kind, address, mailbox, quota bytes, quota messages:"	\
    " one final destination")						\
X(IMSG_AUTH_RCPT_END, R(ROLE_AUTHD), R(ROLE_SMTPD) | R(ROLE_QUEUE),	\
    "us", "result, text: the answer is complete")			\
/* authentication, relayed by the network roles */			\
X(IMSG_AUTH_SASL_START, R_NET, R(ROLE_AUTHD), "ssuud",		\
    "mechanism, client address, service, has initial response,"	\
    " initial response (decoded)")					\
X(IMSG_AUTH_SASL_STEP, R_NET, R(ROLE_AUTHD), "d",			\
    "the client's next response (decoded)")				\
X(IMSG_AUTH_SASL_ABORT, R_NET, R(ROLE_AUTHD), "",			\
    "the client cancelled, or left")					\
X(IMSG_AUTH_SASL_CHALLENGE, R(ROLE_AUTHD), R_NET, "d",		\
    "the server's next challenge (to encode)")				\
X(IMSG_AUTH_SASL_RESULT, R(ROLE_AUTHD), R_NET, "usss",		\
    "result, user, text, login token (IMAP/POP3 only): the exchange"	\
    " is over")							\
X(IMSG_AUTH_SENDER, R(ROLE_SMTPD), R(ROLE_AUTHD), "ss",		\
    "user, sender: may this user send as this address?")		\
X(IMSG_AUTH_SENDER_RESULT, R(ROLE_AUTHD), R(ROLE_SMTPD), "u",		\
    "1 if the sender is the user's, 0 if not, 2 if unknown now")	\
X(IMSG_AUTH_AUDIT, R(ROLE_CRYPTOD), R(ROLE_AUTHD), "sss",		\
    "time, message, decision: a line of the gateway's audit trail,"	\
    " for the directory's PostgreSQL database")				\
X(IMSG_AUTH_GW_LOOKUP, R(ROLE_CRYPTOD), R(ROLE_AUTHD), "uss",		\
    "kind (enum gw_lookup), table, key: what the directory says of an"	\
    " address or domain for the gateway's policy")			\
X(IMSG_AUTH_GW_ANSWER, R(ROLE_AUTHD), R(ROLE_CRYPTOD), "us",		\
    "found (enum gw_answer), value: the answer to a GW_LOOKUP")	\
X(IMSG_AUTH_STORE_SINCE, R(ROLE_CRYPTOD), R(ROLE_AUTHD), "U",		\
    "version: the certificate store's rows changed after it, from the"	\
    " directory's database")						\
X(IMSG_AUTH_STORE_ROW, R(ROLE_AUTHD), R(ROLE_CRYPTOD), "sduU",		\
    "name, data, removed, version: one changed file of the store")	\
X(IMSG_AUTH_STORE_END, R(ROLE_AUTHD), R(ROLE_CRYPTOD), "uuU",		\
    "status (enum store_sync), more, last version: the rows are all"	\
    " sent (more: a full batch, ask again after the last version)")	\
X(IMSG_AUTH_STORE_PUT, R(ROLE_CRYPTOD), R(ROLE_AUTHD), "sdu",		\
    "name, data, removed: a file of the store changed here, for the"	\
    " database")							\
/* IMAP/POP3 login -> parent -> authd: a mail session for a token */	\
X(IMSG_IMAP_LOGIN, R(ROLE_IMAPD), R(ROLE_PARENT), "fsussu",		\
    "client stream, login token, proto, client address, IMAP tag,"	\
    " tls: start the user's mail session on this stream")		\
X(IMSG_IMAP_LOGIN_RESULT, R(ROLE_PARENT), R(ROLE_IMAPD), "us",	\
    "ok, text: the session runs (it answers the login), or why not")	\
X(IMSG_AUTH_REDEEM, R(ROLE_PARENT), R(ROLE_AUTHD), "s",		\
    "login token: who logged in with it? (once, within seconds)")	\
X(IMSG_AUTH_REDEEMED, R(ROLE_AUTHD), R(ROLE_PARENT), "usuUUs",	\
    "ok, user, service, quota bytes, quota messages, Maildir"		\
    " (relative to the mail store)")					\
X(IMSG_SESSION_START, R(ROLE_PARENT), R(ROLE_SESSION), "uuusssssuUUuu", \
    "proto, uid, gid, mail store, Maildir, user, client, IMAP tag,"	\
    " tls, quota bytes, quota messages, verbose, idle timeout: serve"	\
    " the stream on descriptor 4")					\
/* smtpd -> queue: a message from creation to commit */		\
X(IMSG_QUEUE_CREATE, R(ROLE_SMTPD), R(ROLE_QUEUE), "",			\
    "a new message: answered by IMSG_QUEUE_CREATED or _RESULT")	\
X(IMSG_QUEUE_CREATED, R(ROLE_QUEUE), R(ROLE_SMTPD), "fs",		\
    "content file (write only to it), id: the message exists")		\
X(IMSG_QUEUE_ENV, R(ROLE_SMTPD), R(ROLE_QUEUE), "ssssssuuuusUssuus",	\
    "id, sender, helo, client, tls, auth, body, ret, smtputf8,"	\
    " requiretls, envid, size, scanner, virus, quarantine, junk (to"	\
    " the recipients' Junk folders), checks (checkd's verdicts, for"	\
    " the log): the envelope")						\
X(IMSG_QUEUE_RCPT, R(ROLE_SMTPD), R(ROLE_QUEUE), "sssu",		\
    "id, address, orcpt, notify: a recipient as given")		\
X(IMSG_QUEUE_DEST, R(ROLE_SMTPD), R(ROLE_QUEUE), "suussUU",		\
    "id, rcpt index, kind, address, mailbox, quota bytes, quota"	\
    " messages: a final destination")					\
X(IMSG_QUEUE_COMMIT, R(ROLE_SMTPD), R(ROLE_QUEUE), "s",		\
    "id: make it durable; answered by IMSG_QUEUE_RESULT")		\
X(IMSG_QUEUE_OPEN, R(ROLE_SMTPD), R(ROLE_QUEUE), "s",			\
    "id: the received content, read only, to scan it")			\
X(IMSG_QUEUE_OPENED, R(ROLE_QUEUE), R(ROLE_SMTPD), "fs",		\
    "content (read only), id (a failure is an IMSG_QUEUE_RESULT)")	\
X(IMSG_QUEUE_REWRITE, R(ROLE_SMTPD), R(ROLE_QUEUE), "s",		\
    "id: a file for the message's new content (the gateway's)")	\
X(IMSG_QUEUE_REWRITING, R(ROLE_QUEUE), R(ROLE_SMTPD), "fs",		\
    "new content (write only), id")					\
X(IMSG_QUEUE_REWRITTEN, R(ROLE_SMTPD), R(ROLE_QUEUE), "su",		\
    "id, keep: the new content replaces the old (1) or is dropped")	\
X(IMSG_QUEUE_ABORT, R(ROLE_SMTPD), R(ROLE_QUEUE), "s",			\
    "id: forget the uncommitted message")				\
X(IMSG_QUEUE_RESULT, R(ROLE_QUEUE), R(ROLE_SMTPD), "uss",		\
    "result, id, text: how a create or commit went")			\
/* smtpd -> scand: a virus scan */					\
X(IMSG_SCAN_REQ, R(ROLE_SMTPD), R(ROLE_SCAND), "fs",			\
    "content, tag (the queue id): scan it")				\
X(IMSG_SCAN_RESULT, R(ROLE_SCAND), R(ROLE_SMTPD), "usss",		\
    "verdict (enum scan_verdict), virus or why, scanner, tag")		\
/* smtpd -> checkd, sender authentication */				\
X(IMSG_DNSBL_REQ, R(ROLE_SMTPD), R(ROLE_CHECKD), "s",			\
    "client address: its score on the DNS block and allow lists")	\
X(IMSG_DNSBL_RESULT, R(ROLE_CHECKD), R(ROLE_SMTPD), "uSs",		\
    "blocked, score, the lists that name it (for the reply and log)")	\
X(IMSG_GREY_DB_REQ, R(ROLE_CHECKD), R(ROLE_AUTHD), "ssuuuu",		\
    "triplet key, network key (checkd's hashes), delay, retry window,"	\
    " lifetime (seconds), passes that whitelist: the greylist in the"	\
    " directory's database")						\
X(IMSG_GREY_DB_RESULT, R(ROLE_AUTHD), R(ROLE_CHECKD), "uu",		\
    "answered (0: no database now), seconds still to wait")		\
X(IMSG_GREY_REQ, R(ROLE_SMTPD), R(ROLE_CHECKD), "ssss",		\
    "client address, HELO, MAIL FROM, RCPT TO: greylist the triplet?")	\
X(IMSG_GREY_RESULT, R(ROLE_CHECKD), R(ROLE_SMTPD), "sus",		\
    "RCPT TO, seconds left to wait (0: it passes), why, for the log")	\
X(IMSG_CHECK_REQ, R(ROLE_SMTPD), R(ROLE_CHECKD), "fsssssS",		\
    "content, tag (the queue id), client address, HELO, MAIL FROM,"	\
    " recipients (a comma list), the client's DNS list score (to add"	\
    " to the spam score): check SPF, DKIM, DMARC; score it")		\
X(IMSG_CHECK_RESULT, R(ROLE_CHECKD), R(ROLE_SMTPD), "susssus",		\
    "tag, action (enum ar_action, or CHECK_ACTION_ERROR), why, the"	\
    " Authentication-Results methods, a summary for the log, From"	\
    " verified (DMARC pass), header fields to add (the spam score)")	\
/* smtpd, imapd <-> keyd: a TLS handshake's signature */		\
X(IMSG_KEY_SIGN, R_NET, R(ROLE_KEYD), "duud",				\
    "key id (SHA-256 of the public key), operation (TLS_SIGN_*), RSA"	\
    " padding, input: sign with a pki's private key")			\
X(IMSG_KEY_SIGNED, R(ROLE_KEYD), R_NET, "d",				\
    "the signature, empty if it cannot be made")			\
/* queue -> delivery */							\
X(IMSG_DELIVERY_REQ, R(ROLE_QUEUE), R(ROLE_DELIVERY), "fusssssUUs",	\
    "content, flags, id, sender, address, mailbox, unique name,"	\
    " quota bytes, quota messages, header fields to add: deliver one"	\
    " copy")								\
X(IMSG_DELIVERY_RESULT, R(ROLE_DELIVERY), R(ROLE_QUEUE), "uUs",	\
    "result, bytes written, text: how the delivery went")		\
/* queue -> mta: one SMTP transaction to one destination */		\
X(IMSG_MTA_MSG, R(ROLE_QUEUE), R(ROLE_MTA), "fsssuuuuUs",		\
    "content, id, sender, envid, ret, body, smtputf8, requiretls,"	\
    " size, header fields to put in front: a message to send")		\
X(IMSG_MTA_ROUTE, R(ROLE_QUEUE), R(ROLE_MTA), "ssuuss",		\
    "domain, host (\"\": by MX), port, tls, auth user, password:"	\
    " where it goes")							\
X(IMSG_MTA_RCPT, R(ROLE_QUEUE), R(ROLE_MTA), "ussu",			\
    "dest index, address, orcpt, notify: a recipient")			\
X(IMSG_MTA_SEND, R(ROLE_QUEUE), R(ROLE_MTA), "",			\
    "the request is complete: send it")				\
X(IMSG_MTA_RESULT, R(ROLE_MTA), R(ROLE_QUEUE), "uuss",		\
    "dest index, result (enum mta_result), reply, relay (host,"	\
    " address, TLS): one recipient's answer")				\
X(IMSG_MTA_DONE, R(ROLE_MTA), R(ROLE_QUEUE), "",			\
    "the transaction is over: every answer is sent")			\
/* smtpd -> cryptod: the S/MIME gateway, before the virus scan */	\
X(IMSG_CRYPT_SOURCE, R(ROLE_SMTPD) | R(ROLE_QUEUE), R(ROLE_CRYPTOD),	\
    "fs", "content (read only), tag: the message for the next PROCESS"	\
    " or ENCRYPT of the same id")					\
X(IMSG_CRYPT_PROCESS, R(ROLE_SMTPD), R(ROLE_CRYPTOD), "fssssusus",	\
    "new content (write only), tag, sender, recipients, those that"	\
    " leave (comma lists), outbound, checkd's Authentication-Results"	\
    " methods, From verified, checkd's fields: decrypt, verify, record"	\
    " (from outside); sign (users'); refuse what the policy forbids")	\
X(IMSG_CRYPT_DONE, R(ROLE_CRYPTOD), R(ROLE_SMTPD), "uUsss",		\
    "rewritten, new size, what was done, tag, refusal (\"\" or the"	\
    " text of a 550 5.7.1)")						\
/* queue -> cryptod: DKIM, and S/MIME as users' mail leaves */		\
X(IMSG_CRYPT_ENCRYPT, R(ROLE_QUEUE), R(ROLE_CRYPTOD), "fssd",		\
    "copy (write only), tag, sender, recipients (each NUL-terminated):"	\
    " encrypt"								\
    " for the first recipient and those that share its certificate")	\
X(IMSG_CRYPT_ENCRYPTED, R(ROLE_CRYPTOD), R(ROLE_QUEUE), "uuUsss",	\
    "rewritten, send (enum crypt_send), size, included (a 1 or 0 per"	\
    " recipient), what was done, DKIM-Signature field of the copy")	\
X(IMSG_CRYPT_DKIM_SIGN, R(ROLE_QUEUE), R(ROLE_CRYPTOD), "fs",		\
    "content, sender: sign it if a key of ours fits")			\
X(IMSG_CRYPT_DKIM_SIGNED, R(ROLE_CRYPTOD), R(ROLE_QUEUE), "us",	\
    "signed, DKIM-Signature field (or why not)")			\
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
    "ok, text: ends the answer to any osmsctl request")		\
X(IMSG_CTL_TEXT, R_CTLR, R(ROLE_CONTROL) | R(ROLE_CLIENT), "s",	\
    "line: one line of an answer, printed as it is")			\
/* osmsctl -> control -> queue */					\
X(IMSG_CTL_QUEUE_LIST, R_CTL, R(ROLE_CONTROL) | R(ROLE_QUEUE), "u",	\
    "version: one line per queued message")				\
X(IMSG_CTL_QUEUE_SHOW, R_CTL, R(ROLE_CONTROL) | R(ROLE_QUEUE), "us",	\
    "version, id: a message's envelope and state")			\
X(IMSG_CTL_QUEUE_REMOVE, R_CTL, R(ROLE_CONTROL) | R(ROLE_QUEUE), "us",	\
    "version, id: remove a message without bouncing it")		\
X(IMSG_CTL_QUEUE_FLUSH, R_CTL, R(ROLE_CONTROL) | R(ROLE_QUEUE), "u",	\
    "version: try every pending delivery now")			\
X(IMSG_CTL_QUEUE_SCHEDULE, R_CTL, R(ROLE_CONTROL) | R(ROLE_QUEUE), "us", \
    "version, id: try a message's pending deliveries now")		\
X(IMSG_CTL_QUEUE_EXPIRE, R_CTL, R(ROLE_CONTROL) | R(ROLE_QUEUE), "us",	\
    "version, id: fail a message's pending deliveries, and bounce")	\
/* osmsctl -> control -> authd, and authd -> parent for file tables */	\
X(IMSG_CTL_QUARANTINE, R_CTL, R(ROLE_CONTROL) | R(ROLE_QUEUE), "uus",	\
    "version, operation (enum quarantine_op), id: osmsctl quarantine")	\
X(IMSG_CTL_DIR, R_CTL, R(ROLE_CONTROL) | R(ROLE_AUTHD), "uusss",	\
    "version, operation, up to three arguments: osmsctl domain, user,"	\
    " alias")								\
X(IMSG_PARENT_TABLE_EDIT, R(ROLE_AUTHD), R(ROLE_PARENT), "usss",	\
    "operation, table, key, value: change a line of a file table")	\
X(IMSG_PARENT_TABLE_EDITED, R(ROLE_PARENT), R(ROLE_AUTHD), "us",	\
    "ok, text: the edit is on disk (and the table sent again)")

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

/* IMSG_AUTH_RCPT flags. */
#define LOOKUP_F_POSTMASTER	0x01	/* "<Postmaster>": any local domain's */

/* IMSG_AUTH_RCPT_END results. */
enum lookup_result {
	LOOKUP_OK,		/* at least one destination follows */
	LOOKUP_NOTFOUND,	/* a local domain, but no such user */
	LOOKUP_NOTLOCAL,	/* not a domain of ours */
	LOOKUP_TEMPFAIL,	/* the directory cannot answer now */
	LOOKUP_LOOP,		/* aliases loop or nest too deep */
	LOOKUP_TOOMANY,		/* expands to too many destinations */
};

/* IMSG_CRYPT_ENCRYPTED: how the copy may leave. */
enum crypt_send {
	CRYPT_SEND,			/* as it is, encrypted or not */
	CRYPT_SEND_VERIFIED_TLS,	/* only over verified TLS */
	CRYPT_REFUSE,			/* not at all: its recipients fail */
};

/* IMSG_AUTH_SASL_START: the service a client logs in to. */
enum auth_service {
	AUTH_SERVICE_SMTP = 0x01,
	AUTH_SERVICE_IMAP = 0x02,
	AUTH_SERVICE_POP3 = 0x04,
};
#define AUTH_SERVICE_ALL	(AUTH_SERVICE_SMTP | AUTH_SERVICE_IMAP | \
				 AUTH_SERVICE_POP3)

/* IMSG_AUTH_SASL_RESULT results. */
enum auth_result {
	AUTH_OK,
	AUTH_FAIL,		/* 535 5.7.8 */
	AUTH_TEMPFAIL,		/* 454 4.7.0: the directory is down */
	AUTH_THROTTLED,		/* 454 4.7.0: too many failures */
};

/* IMSG_CTL_DIR operations; IMSG_PARENT_TABLE_EDIT operations. */
enum dir_op {
	DIR_OP_DOMAIN_ADD, DIR_OP_DOMAIN_DEL, DIR_OP_DOMAIN_LIST,
	DIR_OP_USER_ADD, DIR_OP_USER_DEL, DIR_OP_USER_LIST,
	DIR_OP_USER_PASSWD, DIR_OP_USER_QUOTA,
	DIR_OP_ALIAS_ADD, DIR_OP_ALIAS_DEL, DIR_OP_ALIAS_LIST,
	DIR_OP_AUDIT_LIST,	/* osmsctl audit [TEXT], from the database */
	DIR_OP_GW_LOOKUP,	/* osmsctl policy test: as cryptod asks */
	DIR_OP_COUNT
};

/* IMSG_AUTH_GW_LOOKUP kinds. */
enum gw_lookup {
	GW_LOOKUP_ENTRY,	/* the policy-table's actions for a key */
	GW_LOOKUP_MEMBER,	/* does a rule's table list the key? */
};
/* IMSG_AUTH_GW_ANSWER results. */
enum gw_answer { GW_FOUND, GW_NOTFOUND, GW_TEMPFAIL };

/* IMSG_AUTH_STORE_END status. */
enum store_sync {
	STORE_SYNC_OK,
	STORE_SYNC_NODB,	/* no PostgreSQL directory: the files only */
	STORE_SYNC_TEMPFAIL,	/* the database did not answer */
};
#define STORE_MAX_FILE	30000	/* a store file the database carries */
enum table_edit { TABLE_EDIT_SET, TABLE_EDIT_DEL };

/* IMSG_QUEUE_RESULT results. */
enum queue_result {
	QUEUE_OK,
	QUEUE_TEMPFAIL,		/* 451 4.3.0 */
	QUEUE_NOSPACE,		/* 452 4.3.1 */
};

/* IMSG_MTA_RESULT results. */
enum mta_result {
	MTA_OK,			/* the next hop took it */
	MTA_TEMPFAIL,		/* try again later */
	MTA_PERMFAIL,		/* bounce */
};

/* IMSG_CONF_MTA_FILE kinds. */
enum mta_file { MTA_FILE_CA, MTA_FILE_TRUST_ANCHOR, MTA_FILE_RESOLV_CONF };

/* IMSG_SCAN_RESULT verdicts. */
enum scan_verdict {
	SCAN_CLEAN,
	SCAN_VIRUS,		/* the name of the signature follows */
	SCAN_UNSCANNABLE,	/* a limit was hit, or the data is broken */
	SCAN_ERROR,		/* the scan itself failed */
};

/* IMSG_CONF_CHECKD: which spam engine the address is of. */
enum spam_engine_kind { SPAM_ENGINE_RSPAMD, SPAM_ENGINE_SPAMD };

/* IMSG_CHECK_RESULT: no check was made (smtpd's on-failure decides). */
#define CHECK_ACTION_ERROR	4

/* IMSG_CTL_QUARANTINE operations. */
enum quarantine_op { QUAR_LIST, QUAR_SHOW, QUAR_RELEASE, QUAR_DELETE };

/* IMSG_DELIVERY_REQ flags. */
#define DELIVERY_CHECK_DUP	0x01	/* an earlier attempt may have worked */
#define DELIVERY_JUNK		0x02	/* into the mailbox's Junk folder */

const char	*imsg_type_name(uint32_t);
const char	*imsg_type_purpose(uint32_t);
/* The payload layout letters, NULL for an unknown type. */
const char	*imsg_type_layout(uint32_t);
/* 1 if "from" may send this type to "to". */
int		 imsg_allowed(uint32_t, enum osms_role, enum osms_role);

#endif
