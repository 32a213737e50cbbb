/*
 * POP3 after the login (RFC 1939, RFC 2449 CAPA, RFC 2449 RESP-CODES),
 * in the user's session process: the INBOX as it was at the login,
 * locked against a second POP3 session. Deletions happen at QUIT (the
 * UPDATE state); retrieved messages are then marked \Seen for IMAP.
 * UIDL is the IMAP UID and UIDVALIDITY, so it never changes.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "mstore.h"
#include "session.h"
#include "util.h"

#define POP3_MAX_LINE		1024	/* commands are short (RFC 2449) */
#define POP3_HIGHWATER		(256 * 1024)
#define POP3_MAX_ERRORS		20

struct pop3 {
	struct io		*io;
	const struct session_info *si;
	struct mstore		*store;
	struct mbox		*mbox;
	size_t			 count;		/* messages at the login */
	unsigned char		*deleted;	/* DELE, per message */
	unsigned char		*retrieved;	/* RETR or TOP done */
	unsigned		 errors;
	int			 quitting;

	/* a RETR or TOP being sent */
	const char		*map;
	size_t			 maplen;
	size_t			 off;		/* next byte to send */
	int			 in_body;
	long			 lines_left;	/* TOP: body lines, -1: all */
	int			 at_bol;
	int			 sending;
};

static struct pop3	 pop;

static void	 pop3_input(struct pop3 *);

static void
reply(struct pop3 *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply(struct pop3 *p, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	(void)io_printf(p->io, "%s\r\n", buf);
}

static void
error(struct pop3 *p, const char *text)
{
	reply(p, "-ERR %s", text);
	if (++p->errors >= POP3_MAX_ERRORS) {
		reply(p, "-ERR Too many errors");
		p->quitting = 1;
	}
}

/* "n": a message that exists and is not deleted; -1 if not. */
static long
msgno(struct pop3 *p, const char *arg)
{
	const char	*errstr;
	long long	 n;

	if (arg == NULL || *arg == '\0')
		return -1;
	n = str_to_num(arg, 1, (long long)p->count, &errstr);
	if (errstr != NULL || p->deleted[n - 1])
		return -1;
	return (long)(n - 1);
}

static uint64_t
msg_size(struct pop3 *p, size_t i)
{
	const struct mbox_msg	*m = mbox_msg(p->mbox, i);

	return m != NULL ? m->wire_size : 0;
}

static void
cmd_stat(struct pop3 *p)
{
	uint64_t	 total = 0;
	size_t		 i, n = 0;

	for (i = 0; i < p->count; i++)
		if (!p->deleted[i]) {
			n++;
			total += msg_size(p, i);
		}
	reply(p, "+OK %zu %llu", n, (unsigned long long)total);
}

static void
cmd_list(struct pop3 *p, const char *arg, int uidl)
{
	const struct mbox_msg	*m;
	size_t			 i;
	long			 n;

	if (arg != NULL) {
		if ((n = msgno(p, arg)) == -1) {
			error(p, "No such message");
			return;
		}
		m = mbox_msg(p->mbox, (size_t)n);
		if (uidl)
			reply(p, "+OK %ld %08x%08x", n + 1, m->uid,
			    mbox_uidvalidity(p->mbox));
		else
			reply(p, "+OK %ld %llu", n + 1,
			    (unsigned long long)m->wire_size);
		return;
	}
	reply(p, "+OK %s", uidl ? "Unique-ID listing follows" :
	    "Scan listing follows");
	for (i = 0; i < p->count; i++) {
		if (p->deleted[i])
			continue;
		m = mbox_msg(p->mbox, i);
		if (uidl)
			reply(p, "%zu %08x%08x", i + 1, m->uid,
			    mbox_uidvalidity(p->mbox));
		else
			reply(p, "%zu %llu", i + 1,
			    (unsigned long long)m->wire_size);
	}
	reply(p, ".");
}

/*
 * RETR and TOP: the file's LF line ends go out as CRLF, and a line that
 * starts with '.' gets another (RFC 1939 3). Sent in pieces while the
 * output has room.
 */
static int
send_more(struct pop3 *p)
{
	char	 out[16384 * 2 + 8];
	size_t	 n, start;

	while (p->off < p->maplen && io_queued(p->io) < POP3_HIGHWATER) {
		n = 0;
		while (p->off < p->maplen && n < sizeof(out) - 4) {
			char	 c = p->map[p->off];

			if (p->at_bol) {
				if (p->in_body && p->lines_left == 0) {
					p->off = p->maplen;	/* TOP: done */
					break;
				}
				if (c == '.')
					out[n++] = '.';
				p->at_bol = 0;
			}
			start = p->off++;
			if (c == '\n') {
				if (start == 0 || p->map[start - 1] != '\r')
					out[n++] = '\r';
				out[n++] = '\n';
				p->at_bol = 1;
				if (p->in_body && p->lines_left > 0)
					p->lines_left--;
				/* The blank line ends the header. */
				if (!p->in_body && (start == 0 ||
				    p->map[start - 1] == '\n' ||
				    (start >= 2 && p->map[start - 1] == '\r' &&
				    p->map[start - 2] == '\n')))
					p->in_body = 1;
			} else
				out[n++] = c;
		}
		(void)io_write(p->io, out, n);
	}
	if (p->off < p->maplen)
		return 1;
	if (!p->at_bol)
		(void)io_write(p->io, "\r\n", 2);
	(void)io_write(p->io, ".\r\n", 3);
	session_unmap((void *)(uintptr_t)p->map, p->maplen, "RETR");
	p->map = NULL;
	p->sending = 0;
	return 0;
}

static void
cmd_retr(struct pop3 *p, const char *arg, int top)
{
	const char	*errstr, *sp;
	struct stat	 st;
	long		 n, lines = -1;
	long long	 v;
	int		 fd;
	void		*map;

	if (top) {
		/* "TOP msg n" */
		if (arg == NULL || (sp = strchr(arg, ' ')) == NULL) {
			error(p, "Usage: TOP message lines");
			return;
		}
		v = str_to_num(sp + 1, 0, 1000000000, &errstr);
		if (errstr != NULL) {
			error(p, "Invalid number of lines");
			return;
		}
		lines = (long)v;
		((char *)(uintptr_t)sp)[0] = '\0';
	}
	if ((n = msgno(p, arg)) == -1) {
		error(p, "No such message");
		return;
	}
	if ((fd = mbox_open_message(p->mbox, (size_t)n)) == -1) {
		error(p, errno == ENOENT ? "[SYS/TEMP] The message was"
		    " removed meanwhile" : "[SYS/TEMP] Cannot read the"
		    " message");
		return;
	}
	if (fstat(fd, &st) == -1) {
		(void)close(fd);
		error(p, "[SYS/TEMP] Cannot read the message");
		return;
	}
	map = NULL;
	if (st.st_size > 0 && (map = mmap(NULL, (size_t)st.st_size, PROT_READ,
	    MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		(void)close(fd);
		error(p, "[SYS/TEMP] Cannot read the message");
		return;
	}
	(void)close(fd);
	if (!top)
		reply(p, "+OK %llu octets",
		    (unsigned long long)msg_size(p, (size_t)n));
	else
		reply(p, "+OK Top of message follows");
	p->retrieved[n] = 1;
	p->map = map;
	p->maplen = map != NULL ? (size_t)st.st_size : 0;
	p->off = 0;
	p->in_body = 0;
	p->lines_left = lines;
	p->at_bol = 1;
	p->sending = 1;
	if (p->maplen == 0) {
		p->map = NULL;
		p->sending = 0;
		(void)io_write(p->io, ".\r\n", 3);
		return;
	}
	(void)send_more(p);
}

/* QUIT: the UPDATE state (RFC 1939 6). */
static void
update(struct pop3 *p)
{
	struct mbox_sync	 sy;
	size_t			*idx;
	uint32_t		*uids;
	size_t			 i, nseen = 0, ndel = 0;
	const char		*err;
	int			 ok = 1;

	idx = xreallocarray(NULL, p->count ? p->count : 1, sizeof(*idx));
	uids = xreallocarray(NULL, p->count ? p->count : 1, sizeof(*uids));
	for (i = 0; i < p->count; i++)
		if (p->retrieved[i] && !p->deleted[i])
			idx[nseen++] = i;
	if (nseen > 0 && mbox_store(p->mbox, idx, nseen, MBOX_FLAGS_ADD,
	    MBOX_SEEN, 0, 0, NULL, NULL, &err) == -1)
		log_warnx("session %s: POP3 \\Seen: %s", p->si->user, err);
	for (i = 0; i < p->count; i++)
		if (p->deleted[i]) {
			idx[ndel] = i;
			uids[ndel++] = mbox_msg(p->mbox, i)->uid;
		}
	if (ndel > 0) {
		memset(&sy, 0, sizeof(sy));
		/* Deleted = \Deleted, then expunged by UID: messages a
		 * concurrent IMAP client marked stay. */
		if (mbox_store(p->mbox, idx, ndel, MBOX_FLAGS_ADD,
		    MBOX_DELETED, 0, 0, NULL, NULL, &err) == -1 ||
		    mbox_expunge(p->mbox, uids, ndel, &sy, &err) == -1) {
			log_warnx("session %s: POP3 QUIT: %s", p->si->user,
			    err);
			ok = 0;
		}
		mbox_sync_free(&sy);
	}
	free(idx);
	free(uids);
	if (ok)
		reply(p, "+OK Bye (%zu messages deleted)", ndel);
	else
		reply(p, "-ERR [SYS/TEMP] Some messages could not be"
		    " deleted");
}

static void
command(struct pop3 *p, char *line)
{
	char	*arg;
	long	 n;
	size_t	 i;

	if ((arg = strchr(line, ' ')) != NULL)
		*arg++ = '\0';
	if (strcasecmp(line, "STAT") == 0)
		cmd_stat(p);
	else if (strcasecmp(line, "LIST") == 0)
		cmd_list(p, arg, 0);
	else if (strcasecmp(line, "UIDL") == 0)
		cmd_list(p, arg, 1);
	else if (strcasecmp(line, "RETR") == 0)
		cmd_retr(p, arg, 0);
	else if (strcasecmp(line, "TOP") == 0)
		cmd_retr(p, arg, 1);
	else if (strcasecmp(line, "DELE") == 0) {
		if ((n = msgno(p, arg)) == -1)
			error(p, "No such message");
		else {
			p->deleted[n] = 1;
			reply(p, "+OK Message %ld deleted", n + 1);
		}
	} else if (strcasecmp(line, "RSET") == 0) {
		for (i = 0; i < p->count; i++)
			p->deleted[i] = 0;
		reply(p, "+OK");
	} else if (strcasecmp(line, "NOOP") == 0)
		reply(p, "+OK");
	else if (strcasecmp(line, "QUIT") == 0) {
		update(p);
		p->quitting = 1;
	} else if (strcasecmp(line, "CAPA") == 0) {
		reply(p, "+OK Capability list follows");
		reply(p, "TOP");
		reply(p, "UIDL");
		reply(p, "RESP-CODES");
		reply(p, "PIPELINING");
		reply(p, "IMPLEMENTATION osms");
		reply(p, ".");
	} else if (strcasecmp(line, "USER") == 0 ||
	    strcasecmp(line, "PASS") == 0 || strcasecmp(line, "AUTH") == 0 ||
	    strcasecmp(line, "STLS") == 0)
		error(p, "Already logged in");
	else
		error(p, "Unknown command");
}

static void
pop3_input(struct pop3 *p)
{
	char		*line;
	size_t		 len;
	int		 flags;
	enum io_line	 got;

	while (!p->quitting && !p->sending) {
		got = io_getline(p->io, &line, &len, &flags);
		if (got == IO_LINE_NONE)
			break;
		if (got == IO_LINE_TOOLONG || (flags & (IO_LINE_NUL |
		    IO_LINE_CR))) {
			error(p, "Invalid command line");
			continue;
		}
		command(p, line);
	}
	if (p->quitting) {
		io_pause_read(p->io);
		if (io_queued(p->io) == 0)
			session_exit(0);
	}
}

static void
pop3_io(struct io *io, enum io_event ev, void *arg)
{
	struct pop3	*p = arg;

	(void)io;
	switch (ev) {
	case IO_DATAIN:
		pop3_input(p);
		break;
	case IO_LOWAT:
		if (p->quitting)
			session_exit(0);
		if (p->sending && send_more(p) == 1)
			break;
		pop3_input(p);
		break;
	case IO_TIMEOUT:
		/* RFC 1939 3: no UPDATE state after a timeout. */
		reply(p, "-ERR Idle for too long");
		p->quitting = 1;
		io_pause_read(p->io);
		break;
	default:
		session_exit(0);
	}
}

static void
pop3_cleanup(void)
{
	if (pop.mbox != NULL)
		mbox_close(pop.mbox);
	if (pop.store != NULL)
		mstore_close(pop.store);
	pop.mbox = NULL;
	pop.store = NULL;
}

void
pop3_session_start(int fd, const struct session_info *si)
{
	struct pop3		*p = &pop;
	struct mstore_limits	 lim;
	const char		*err;
	int			 root;

	memset(p, 0, sizeof(*p));
	p->si = si;
	session_on_exit(pop3_cleanup);
	p->io = io_new(fd, POP3_MAX_LINE, pop3_io, p);
	/* RFC 1939 3: an inactivity timer of at least 10 minutes. */
	io_set_timeout(p->io, (int)(si->timeout < 600 ? 600 : si->timeout));
	memset(&lim, 0, sizeof(lim));
	lim.quota_bytes = si->quota_bytes;
	lim.quota_messages = si->quota_messages;
	if ((root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (p->store = mstore_open(root, &lim, &err)) == NULL) {
		log_warnx("session %s: cannot open the mail store: %s",
		    si->user, root == -1 ? strerror(errno) : err);
		reply(p, "-ERR [SYS/TEMP] The mailbox cannot be opened now");
		p->quitting = 1;
		return;
	}
	(void)close(root);
	if (mstore_pop3_lock(p->store) == -1) {
		reply(p, "-ERR [IN-USE] Another POP3 session holds the"
		    " mailbox");
		p->quitting = 1;
		return;
	}
	if ((p->mbox = mbox_open(p->store, "INBOX", 0, &err)) == NULL) {
		log_warnx("session %s: cannot open INBOX: %s", si->user, err);
		reply(p, "-ERR [SYS/TEMP] The mailbox cannot be opened now");
		p->quitting = 1;
		return;
	}
	p->count = mbox_count(p->mbox);
	p->deleted = xcalloc(p->count ? p->count : 1, 1);
	p->retrieved = xcalloc(p->count ? p->count : 1, 1);
	reply(p, "+OK Logged in.");
	log_info("session %s: pop3 from=%s messages=%zu", si->user,
	    si->client, p->count);
}
