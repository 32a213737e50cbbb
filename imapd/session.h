/*
 * A user's mail session (osms-session): started by the parent after an
 * IMAP or POP3 login, chrooted into that user's Maildir, running as the
 * mail store's user. The login process in front of it keeps TLS; the
 * stream on descriptor 4 is the client's plaintext.
 */
#ifndef IMAPD_SESSION_H
#define IMAPD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define SESSION_STREAM_FD	4

struct session_info {
	char		 user[256];
	char		 client[64];
	char		 tag[128];	/* IMAP: the login command's tag */
	int		 tls;
	uint64_t	 quota_bytes;	/* 0: none */
	uint64_t	 quota_messages;
	unsigned	 timeout;	/* idle seconds */
};

/*
 * session.c: the session ends (exit) once its protocol is done; the
 * protocol's cleanup (writing caches, closing the folder) runs first,
 * whatever the way out (LOGOUT, a timeout, SIGTERM, the client gone).
 */
_Noreturn void	 session_exit(int status);
void		 session_on_exit(void (*)(void));

/*
 * munmap a message file mapping, and log if the file shrank while it
 * was mapped (its missing pages were read as spaces).
 */
void		 session_unmap(void *, size_t, const char *what);

/* pop3_session.c, imap_session.c: serve the stream on fd. */
void	 pop3_session_start(int fd, const struct session_info *);
void	 imap_session_start(int fd, const struct session_info *);

#endif
